//! Request objects (RFC 9101, JWT-secured authorization requests): the `request` parameter of
//! an authorization request, by value at the authorization endpoint or pushed (RFC 9126), a
//! compact JWS signed with a key of the client's registered `jwks`. Once verified, its claims
//! are the request's parameters, and only they (RFC 9101 §5): the query's others are ignored.
//!
//! What is checked, in order, each refusal `invalid_request_object` (RFC 9101 §6.2):
//! - the form: a compact JWS of at most [`MAX_REQUEST_OBJECT_LEN`] bytes (an encrypted one,
//!   JWE, is refused, as are `alg: none`, `crit`, `jku` and `x5u`); `typ` absent or
//!   `oauth-authz-req+jwt` (RFC 9101 §10.8);
//! - the signature: a key of the client's `jwks`, of `alg` RS256, ES256, EdDSA or PS256, and that
//!   alg the client's `request_object_signing_alg` if it registered one;
//! - the claims: `iss` the client ID; `aud` the issuer (alone or among others); `client_id`
//!   the client's ID (the one the query names); `exp` present and not passed; the lifetime
//!   bounds of the FAPI 2.0 Message Signing profile, [`MAX_AGE_SECONDS`]: `exp` at most
//!   60 minutes ahead, `nbf` (if present) at most 60 minutes old and at most 60 minutes
//!   before `exp`, `iat` (if present) at most 60 minutes old; neither in the future (each
//!   with [`LEEWAY_SECONDS`] of clock difference); `jti`, if present, 1 to 256 characters,
//!   used once ([`RequestObject::once`]); no `request` or `request_uri` inside (RFC 9101 §4);
//! - the parameters: each claim a string (numbers and booleans are written as text, a
//!   `claims` object as its JSON, a `resource` array as repeated parameters), all within the
//!   provider's [`Limits`](crate::Limits).
//!
//! Until an object is verified nothing in it is trusted, its `redirect_uri` least of all: the
//! authorization endpoint answers every refusal here as an untrusted request (a 400 page,
//! never a redirect).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::client::Client;
use crate::endpoint::authorize::OnceUse;
use crate::error::{ErrorCode, OAuthError};
use crate::jose::{Algorithm, Audience, JwsError, Typ, UnverifiedJws};
use crate::params::{Params, printable};
use crate::provider::Context;
use crate::store::ReplayKey;

/// The longest request object read: one signed with an 8192-bit RSA key and a few dozen
/// parameters fits. (The `request` value is bounded by [`Limits::max_value_len`]
/// (crate::Limits::max_value_len) too, 4 KiB by default.)
pub(crate) const MAX_REQUEST_OBJECT_LEN: usize = 8 * 1024;
/// The clock difference tolerated in `exp`, `nbf` and `iat`.
pub(crate) const LEEWAY_SECONDS: i64 = 60;
/// How long a request object may live, and how old its `nbf` and `iat` may be: 60 minutes
/// (FAPI 2.0 Message Signing §5.3.1).
pub(crate) const MAX_AGE_SECONDS: i64 = 60 * 60;
/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;
/// The claims of the JWT itself, not parameters of the request.
const JWT_CLAIMS: [&str; 7] = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

/// The `typ` a request object is verified with: `oauth-authz-req+jwt`, or none for clients
/// that predate explicit typing.
fn request_object_typ() -> Typ {
    Typ::AUTHZ_REQ_JWT.or_absent()
}

fn refused(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, description)
}

/// A verified request object: the parameters it carries, and its one use.
#[derive(Debug)]
pub(crate) struct RequestObject {
    /// The authorization request's parameters, from the object's claims.
    pub(crate) params: Params,
    /// Its `jti`, to be remembered once in the replay store, if it has one.
    pub(crate) once: Option<OnceUse>,
}

/// The claims checked, besides the parameters.
#[derive(serde::Deserialize)]
struct ObjectClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// Verifies the request object `jwt` sent by `client` (already resolved from the request's
/// `client_id`, or authenticated at the PAR endpoint).
pub(crate) fn verify(
    cx: &Context,
    client: &Client,
    jwt: &str,
) -> Result<RequestObject, OAuthError> {
    if jwt.len() > MAX_REQUEST_OBJECT_LEN {
        return Err(refused("the request object is too long"));
    }
    if jwt.split('.').count() == 5 {
        return Err(refused(
            "encrypted request objects (JWE) are not supported: send a signed one (compact JWS)",
        ));
    }
    let jws = UnverifiedJws::parse_with_limit(jwt, MAX_REQUEST_OBJECT_LEN).map_err(|error| {
        refused(match error {
            JwsError::AlgNone => "unsigned request objects (alg none) are refused",
            JwsError::UnsupportedAlgorithm => {
                "the request object's alg is not accepted (RS256, ES256, EdDSA or PS256)"
            }
            JwsError::Critical => "the request object has a crit header, which is refused",
            JwsError::KeyUrl(_) => {
                "the request object names a key URL (jku or x5u): keys come from the client's jwks only"
            }
            JwsError::UnsupportedHeader(_) => {
                "the request object has a header that is not supported (b64, zip or enc)"
            }
            _ => "the request object is not a valid compact JWS",
        })
    })?;
    let typ = request_object_typ();
    if !typ.matches(jws.header().typ()) {
        return Err(refused(
            "the request object's typ must be oauth-authz-req+jwt (or absent)",
        ));
    }
    let Some(keys) = client.metadata.jwks.as_ref() else {
        return Err(refused(
            "the client has no registered jwks to verify request objects with",
        ));
    };
    let alg = jws.header().algorithm();
    if !cx.config().profile_allows(alg) {
        return Err(refused(
            "this server follows FAPI 2.0: request objects must be signed with PS256, ES256 or EdDSA",
        ));
    }
    if let Some(registered) = client.metadata.request_object_signing_alg.as_deref()
        && Algorithm::from_name(registered) != Some(alg)
    {
        return Err(refused(
            "the request object's alg is not the client's request_object_signing_alg",
        ));
    }
    let verified = jws.verify_with_set(keys, &typ).map_err(|error| {
        refused(match error {
            JwsError::UnknownKey | JwsError::AlgorithmMismatch => {
                "no key of the client's jwks fits the request object's kid and alg"
            }
            _ => "the request object's signature does not verify",
        })
    })?;
    let members: Map<String, Value> = verified
        .claims()
        .map_err(|_| refused("the request object's payload is not a JSON object"))?;
    let claims: ObjectClaims = serde_json::from_value(Value::Object(members.clone()))
        .map_err(|_| refused("the request object's claims are not of the RFC 7519 types"))?;
    let id = client.id.as_str();
    if claims.iss.as_deref() != Some(id) {
        return Err(refused("the request object's iss must be the client_id"));
    }
    if !claims
        .aud
        .as_ref()
        .is_some_and(|aud| aud.contains(cx.config().issuer()))
    {
        return Err(refused("the request object's aud must be the issuer"));
    }
    if claims.client_id.as_deref() != Some(id) {
        return Err(refused(
            "the request object's client_id must be the request's client_id",
        ));
    }
    let now = cx.unix_now();
    let exp = check_times(&claims, now)?;
    let once = match claims.jti.as_deref() {
        None => None,
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => Some(OnceUse {
            key: ReplayKey::new("request-object", &[id, jti]),
            // Accepted until `exp` plus the leeway: remembered exactly that long.
            until: OffsetDateTime::from_unix_timestamp(
                exp.saturating_add(LEEWAY_SECONDS).saturating_add(1),
            )
            .map_err(|_| refused("the request object's exp is out of range"))?,
        }),
        Some(_) => {
            return Err(refused(
                "the request object's jti must be 1 to 256 characters",
            ));
        }
    };
    let params = params_of(members, &cx.config().limits)?;
    Ok(RequestObject { params, once })
}

/// The time checks; returns `exp`.
fn check_times(claims: &ObjectClaims, now: i64) -> Result<i64, OAuthError> {
    let Some(exp) = claims.exp else {
        return Err(refused("the request object has no exp"));
    };
    if now >= exp.saturating_add(LEEWAY_SECONDS) {
        return Err(refused("the request object has expired (exp)"));
    }
    if exp > now.saturating_add(MAX_AGE_SECONDS + LEEWAY_SECONDS) {
        return Err(refused(
            "the request object is valid for too long: exp must be at most 60 minutes ahead",
        ));
    }
    let ahead = |time: Option<i64>| time.is_some_and(|t| t > now.saturating_add(LEEWAY_SECONDS));
    if ahead(claims.nbf) || ahead(claims.iat) {
        return Err(refused(
            "the request object is not valid yet (nbf or iat in the future)",
        ));
    }
    let old = |time: Option<i64>| {
        time.is_some_and(|t| t < now.saturating_sub(MAX_AGE_SECONDS + LEEWAY_SECONDS))
    };
    if old(claims.nbf) || old(claims.iat) {
        return Err(refused(
            "the request object is too old: nbf and iat must be at most 60 minutes ago",
        ));
    }
    if claims
        .nbf
        .is_some_and(|nbf| exp.saturating_sub(nbf) > MAX_AGE_SECONDS)
    {
        return Err(refused(
            "the request object is valid for too long: exp must be at most 60 minutes after nbf",
        ));
    }
    Ok(exp)
}

/// The request's parameters from the object's claims (the JWT's own claims left out).
fn params_of(members: Map<String, Value>, limits: &crate::Limits) -> Result<Params, OAuthError> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(members.len());
    for (name, value) in members {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        if name == "request" || name == "request_uri" {
            return Err(refused(
                "a request object must not contain request or request_uri (RFC 9101 §4)",
            ));
        }
        match value {
            Value::Null => {}
            Value::String(text) => pairs.push((name, text)),
            Value::Number(number) => pairs.push((name, number.to_string())),
            Value::Bool(flag) => pairs.push((name, flag.to_string())),
            Value::Object(_) if name == "claims" => {
                let text = value.to_string();
                pairs.push((name, text));
            }
            Value::Array(items) if name == "resource" => {
                for item in items {
                    let Value::String(text) = item else {
                        return Err(refused("the request object's resource must be strings"));
                    };
                    pairs.push((name.clone(), text));
                }
            }
            _ => {
                return Err(refused(format!(
                    "the request object's {} is not a string",
                    printable(&name)
                )));
            }
        }
    }
    Params::from_pairs(pairs, limits).map_err(|error| {
        refused(error.description.unwrap_or(std::borrow::Cow::Borrowed(
            "the request object has bad parameters",
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<i64>, nbf: Option<i64>, iat: Option<i64>) -> ObjectClaims {
        ObjectClaims {
            iss: None,
            aud: None,
            client_id: None,
            exp,
            nbf,
            iat,
            jti: None,
        }
    }

    #[test]
    fn time_bounds() {
        let now = 1_000_000;
        assert!(check_times(&claims(Some(now + 60), Some(now), Some(now)), now).is_ok());
        assert!(check_times(&claims(None, None, None), now).is_err());
        assert!(check_times(&claims(Some(now - 61), None, None), now).is_err());
        assert!(check_times(&claims(Some(now + 2 * 3600), None, None), now).is_err());
        assert!(check_times(&claims(Some(now + 60), Some(now + 120), None), now).is_err());
        assert!(check_times(&claims(Some(now + 60), None, Some(now - 2 * 3600)), now).is_err());
        // nbf 50 minutes ago, exp 20 minutes ahead: 70 minutes of life.
        assert!(check_times(&claims(Some(now + 1200), Some(now - 3000), None), now).is_err());
        assert!(check_times(&claims(Some(now + 600), Some(now - 3000), None), now).is_ok());
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(members) => members,
            _ => Map::new(),
        }
    }

    #[test]
    fn parameters_from_claims() {
        let limits = crate::Limits::default();
        let members = object(serde_json::json!({
            "iss": "c", "aud": "x", "exp": 1, "max_age": 30, "scope": "read",
            "claims": {"id_token": {"email": null}}, "resource": ["https://a", "https://b"],
            "nonce": null,
        }));
        let params = params_of(members, &limits).unwrap_or_default();
        assert_eq!(params.get("max_age"), Some("30"));
        assert_eq!(params.get("scope"), Some("read"));
        assert!(params.get("iss").is_none() && params.get("exp").is_none());
        assert_eq!(params.get_all("resource").count(), 2);
        assert!(params.get("claims").is_some_and(|c| c.contains("email")));
        let nested = object(serde_json::json!({"request_uri": "urn:x"}));
        assert!(params_of(nested, &limits).is_err());
        let bad = object(serde_json::json!({"scope": ["a"]}));
        assert!(params_of(bad, &limits).is_err());
    }
}
