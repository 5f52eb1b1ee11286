//! JWT access tokens (RFC 9068): the format a provider issues its access tokens in, and the
//! check a resource server in another process runs to accept one offline.
//!
//! Opaque tokens are the default. With [`AccessTokenFormat::Jwt`]
//! ([`ConfigBuilder::access_token_format`](crate::ConfigBuilder::access_token_format)), or for
//! the tokens of a resource registered [`Resource::with_jwt_access_tokens`](crate::Resource::with_jwt_access_tokens),
//! every access token, whatever the grant, is a JWS signed with the provider's keys: header
//! `typ: at+jwt`, `alg` and `kid` of the signing key (the algorithm of
//! [`ProviderBuilder::jwt_access_token_algorithm`](crate::ProviderBuilder::jwt_access_token_algorithm),
//! else RS256 when the key set has an active RS256 key); claims `iss`, `sub` (the user, as
//! the client knows it: pairwise for a pairwise client, see [`SubjectType`](crate::SubjectType);
//! or the client for client credentials, RFC 9068 §2.2), `aud` (the token's resources; the issuer when it has none), `client_id`, `scope`,
//! `iat`, `exp`, `jti`, and `auth_time`, `acr`, `amr` when the host said how the user
//! authenticated, `cnf` when the token is sender-constrained (DPoP's `jkt`).
//!
//! The provider keeps a record of each JWT exactly as of an opaque token (under the hash of
//! the whole JWT), so at the provider nothing changes: its own resources
//! ([`Provider::validate_bearer`](crate::Provider::validate_bearer)), introspection,
//! revocation and expiry work from the record, and revoking a token or its grant kills it
//! there at once. A resource server that verifies JWTs offline cannot see a revocation: to
//! it a revoked JWT stays valid until its `exp`, so keep access token lifetimes short, or have
//! such servers introspect. A JWT's lifetime is also capped by the key set's
//! [`max_token_lifetime`](crate::jose::KeySet::max_token_lifetime), so that a retired key
//! stays published while tokens it signed are valid.
//!
//! # Verifying at a resource server (feature `jose`)
//! [`JwtAccessVerifier`] runs every check of RFC 9068 §4 but the authorization decision: the
//! `alg` is on an allowlist and is the key's, `typ` is `at+jwt` (or `application/at+jwt`),
//! the signature verifies with the issuer's published key that `kid` names, `iss` is the
//! issuer, `aud` names this resource, `exp`, `nbf` and `iat` hold with a small leeway, and
//! every claim RFC 9068 §2.2 requires is there. It is sans-IO: fetching the issuer's JWK Set
//! (`jwks_uri` from its metadata) and refreshing it is the host's job; fetch again when a
//! token names an unknown `kid`, at most every few minutes, since a key is published before
//! it signs anything. With the `jwks-fetch` feature, `tessera::jwks_cache::JwksCache` does
//! exactly that ([`JwtAccessVerifier::verify_with_keys`] takes its keys).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera::jose::JwkSet;
//! use tessera::jwt_access::{JwtAccessError, JwtAccessVerifier};
//!
//! // The JSON the host fetched from the issuer's jwks_uri.
//! # let keys = tessera::jose::KeySet::builder(time::Duration::hours(1))
//! #     .key(tessera::jose::SigningKey::generate(tessera::jose::Algorithm::Es256)?, tessera::jose::KeySchedule::always())
//! #     .build()?;
//! # let jwks_json = serde_json::to_string(&keys.jwks(0))?;
//! let jwks = JwkSet::parse(&jwks_json)?;
//! let verifier = JwtAccessVerifier::new(jwks, "https://auth.example.com", "https://api.example.com/");
//! let now = 1_767_225_600; // seconds since the Unix epoch, from the host's clock
//! match verifier.verify("not-a-jwt", now) {
//!     Ok(principal) => println!("{} for {}", principal.subject(), principal.client_id()),
//!     Err(refused) => assert!(matches!(refused, JwtAccessError::Jws(_))),
//! }
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```

#[cfg(feature = "jose")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "jose")]
use crate::jose::{
    Algorithm, Audience, ClaimsError, ClaimsValidation, JwkSet, JwsError, RegisteredClaims, Typ,
    UnverifiedJws,
};
#[cfg(feature = "jose")]
use crate::scope::ScopeSet;

/// The format of the access tokens a provider issues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessTokenFormat {
    /// Random `tsr_at_` strings that mean nothing without the provider's store (the default).
    #[default]
    Opaque,
    /// RFC 9068 JWTs signed with the provider's keys, verifiable offline (feature `jose`; the
    /// provider needs signing keys, or token requests fail with `server_error`).
    Jwt,
}

/// Whether `token` has the shape of a compact JWS this provider could have issued: three
/// non-empty base64url parts, at most [`MAX_JWT_LEN`] bytes. A cheap filter before the one
/// hash and store lookup; the store decides.
pub(crate) fn is_jws_shaped(token: &str) -> bool {
    token.len() <= MAX_JWT_LEN
        && token.split('.').count() == 3
        && token.split('.').all(|part| !part.is_empty())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The longest JWT access token looked up: 8 KiB, far more than the provider writes (an RS256
/// token with a few resources is under 1 KiB).
pub(crate) const MAX_JWT_LEN: usize = 8 * 1024;

/// The claims of a JWT access token, as written and as read (RFC 9068 §2.2).
#[cfg(feature = "jose")]
#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: Audience,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    iat: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cnf: Option<Cnf>,
}

/// `cnf` (RFC 7800): the key a sender-constrained token is bound to.
#[cfg(feature = "jose")]
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cnf {
    /// RFC 9449 §6.1: the DPoP key's thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jkt: Option<String>,
    /// RFC 8705 §3.1: the client certificate's thumbprint.
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<String>,
}

/// Signs the JWT for the access token `record` of `issue` (its expiry already set).
#[cfg(feature = "jose")]
pub(crate) async fn sign(
    cx: &crate::provider::Context,
    issue: &crate::grant::issue::Issue<'_>,
    record: &crate::store::TokenRecord,
) -> Result<String, crate::error::OAuthError> {
    use crate::error::OAuthError;
    use crate::store::Confirmation;

    let Some(keys) = cx.keys() else {
        tracing::error!(target: "tessera::jwt_access", "JWT access tokens are configured, but the provider has no signing keys");
        return Err(OAuthError::server_error());
    };
    let now = cx.unix_now();
    let alg = if let Some(chosen) = cx.jwt_access_alg() {
        chosen
    } else if keys.signer(Algorithm::Rs256, now).is_some() {
        Algorithm::Rs256
    } else {
        keys.algorithms(now)
            .first()
            .copied()
            .unwrap_or(Algorithm::Rs256)
    };
    let Some(signer) = keys.signer(alg, now) else {
        tracing::error!(target: "tessera::jwt_access", %alg, "no active signing key for JWT access tokens' algorithm");
        return Err(OAuthError::server_error());
    };
    let config = cx.config();
    let grant = issue.grant;
    let Some(exp) = record.expires_at else {
        // `mint` gives every JWT an end; a token without one is never signed.
        tracing::error!(target: "tessera::jwt_access", "a JWT access token without an expiry");
        return Err(OAuthError::server_error());
    };
    let aud = match record.audience.as_slice() {
        // RFC 9068 §3: without a resource, a default audience; the provider's own.
        [] => Audience::One(config.issuer().to_owned()),
        [one] => Audience::One(one.clone()),
        many => Audience::Many(many.to_vec()),
    };
    let mut jti = [0u8; 16];
    cx.entropy().fill(&mut jti);
    let authentication = grant
        .authentication
        .as_ref()
        .or(issue.id_token.and_then(|plan| plan.authentication));
    let cnf = record
        .confirmation
        .as_ref()
        .map(|confirmation| match confirmation {
            Confirmation::Jkt(jkt) => Cnf {
                jkt: Some(jkt.clone()),
                ..Cnf::default()
            },
            Confirmation::X5tS256(x5t) => Cnf {
                x5t_s256: Some(x5t.clone()),
                ..Cnf::default()
            },
        });
    let claims = AccessClaims {
        iss: config.issuer().to_owned(),
        // RFC 9068 §2.2: a client acting for itself is its own subject.
        // A pairwise client's own `sub` (OIDC Core §8.1): the client can read its tokens.
        sub: match &grant.user {
            None => grant.client_id.as_str().to_owned(),
            Some(user) => crate::subject::subject_for(cx, issue.client, user)?,
        },
        aud,
        client_id: grant.client_id.as_str().to_owned(),
        scope: (!record.scopes.is_empty()).then(|| record.scopes.to_string()),
        iat: record.issued_at.unix_timestamp(),
        exp: exp.unix_timestamp(),
        nbf: None,
        jti: base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, jti),
        auth_time: authentication.map(|a| a.auth_time.unix_timestamp()),
        acr: authentication.and_then(|a| a.acr.clone()),
        amr: authentication.map(|a| a.amr.clone()).unwrap_or_default(),
        cnf,
    };
    crate::jose::sign_claims(signer.as_ref(), &Typ::AT_JWT, &claims)
        .await
        .map_err(|error| {
            tracing::error!(target: "tessera::jwt_access", %error, "signing a JWT access token failed");
            OAuthError::server_error()
        })
}

/// Why a JWT access token was refused by [`JwtAccessVerifier::verify`]. Answer every one
/// with `401 invalid_token` ([`JwtAccessError::to_bearer_error`]).
#[cfg(feature = "jose")]
#[cfg_attr(docsrs, doc(cfg(feature = "jose")))]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtAccessError {
    /// The token is not a compact JWS this verifier accepts: malformed, `alg: none`, wrong
    /// `typ`, no published key for its `kid` and `alg`, or a bad signature.
    #[error("{0}")]
    Jws(JwsError),
    /// Its `alg` is a supported one, but not on the verifier's allowlist.
    #[error("the token's alg is not allowed")]
    AlgorithmNotAllowed,
    /// The payload lacks a claim RFC 9068 §2.2 requires, or has one of the wrong type.
    #[error("invalid claims: {0}")]
    Malformed(String),
    /// `iss`, `aud`, `exp`, `nbf` or `iat` refused it.
    #[error("{0}")]
    Claims(ClaimsError),
}

#[cfg(feature = "jose")]
impl JwtAccessError {
    /// The `401 invalid_token` refusal to send (RFC 6750 §3.1), the same whatever the reason,
    /// so that a client learns nothing about the checks.
    pub fn to_bearer_error(&self) -> crate::BearerError {
        crate::BearerError::new(
            crate::ErrorCode::InvalidToken,
            "the access token is invalid, expired or not meant for this resource",
        )
    }
}

/// Verifies RFC 9068 JWT access tokens at a resource server, offline, against the issuer's
/// JWK Set. See the [module documentation](self) for the checks and for fetching the set.
#[cfg(feature = "jose")]
#[cfg_attr(docsrs, doc(cfg(feature = "jose")))]
#[derive(Debug, Clone)]
pub struct JwtAccessVerifier {
    keys: JwkSet,
    issuer: String,
    resource: String,
    algorithms: Vec<Algorithm>,
    leeway: time::Duration,
}

#[cfg(feature = "jose")]
impl JwtAccessVerifier {
    /// The default leeway for clock differences: 60 seconds.
    pub const DEFAULT_LEEWAY: time::Duration = time::Duration::seconds(60);

    /// A verifier for tokens that `issuer` (its issuer identifier, exactly as in its metadata)
    /// issued for the resource `resource` (its identifier, RFC 8707), signed by a key of
    /// `keys`. Every algorithm tessera implements is allowed (RS256, ES256, EdDSA, PS256; never
    /// `none` nor HMAC); a token's algorithm must also be its key's.
    pub fn new(keys: JwkSet, issuer: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            resource: resource.into(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Self::DEFAULT_LEEWAY,
        }
    }

    /// Allows only these algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Allows clocks to differ by `leeway` (default [`Self::DEFAULT_LEEWAY`]).
    #[must_use]
    pub fn with_leeway(mut self, leeway: time::Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Replaces the key set (after the host fetched the issuer's `jwks_uri` again).
    #[must_use]
    pub fn with_keys(mut self, keys: JwkSet) -> Self {
        self.keys = keys;
        self
    }

    /// Verifies `token` at `now` (seconds since the Unix epoch) and returns who it is for; a
    /// token over 8 KiB is refused unread. Whether its scopes allow the request is the
    /// caller's decision
    /// ([`JwtPrincipal::scopes`]); so is the DPoP proof of a sender-constrained token
    /// ([`JwtPrincipal::dpop_jkt`], RFC 9449 §7) and the client certificate of a
    /// certificate-bound one ([`JwtPrincipal::accepts_certificate`], RFC 8705 §3).
    pub fn verify(&self, token: &str, now: i64) -> Result<JwtPrincipal, JwtAccessError> {
        self.verify_with_keys(&self.keys, token, now)
    }

    /// [`JwtAccessVerifier::verify`] with `keys` instead of the verifier's own: for a key set
    /// that is kept elsewhere and refreshed, such as a
    /// [`JwksCache`](crate::jwks_cache::JwksCache)'s.
    pub fn verify_with_keys(
        &self,
        keys: &JwkSet,
        token: &str,
        now: i64,
    ) -> Result<JwtPrincipal, JwtAccessError> {
        let parsed =
            UnverifiedJws::parse_with_limit(token, MAX_JWT_LEN).map_err(JwtAccessError::Jws)?;
        if !self.algorithms.contains(&parsed.header().algorithm()) {
            return Err(JwtAccessError::AlgorithmNotAllowed);
        }
        let verified = parsed
            .verify_with_set(keys, &Typ::AT_JWT)
            .map_err(JwtAccessError::Jws)?;
        let claims: AccessClaims = verified.claims().map_err(|error| match error {
            JwsError::Claims(why) => JwtAccessError::Malformed(why),
            other => JwtAccessError::Jws(other),
        })?;
        let mut registered = RegisteredClaims::new()
            .issuer(claims.iss.clone())
            .subject(claims.sub.clone())
            .audience(claims.aud.clone())
            .issued_at(claims.iat)
            .expires_at(claims.exp)
            .jwt_id(claims.jti.clone());
        if let Some(nbf) = claims.nbf {
            registered = registered.not_before(nbf);
        }
        let check = ClaimsValidation::new(now)
            .issuer(self.issuer.clone())
            .audience(self.resource.clone())
            .leeway(self.leeway);
        registered
            .validate(&check)
            .map_err(JwtAccessError::Claims)?;
        // A token issued in the future (beyond the leeway) is refused (RFC 9068 §4 leaves
        // `iat` to the resource; RFC 7519 §4.1.6).
        if claims.iat > now.saturating_add(self.leeway.whole_seconds().max(0)) {
            return Err(JwtAccessError::Claims(ClaimsError::NotYetValid));
        }
        let scopes = match claims.scope.as_deref() {
            Some(text) => ScopeSet::parse(text)
                .map_err(|_| JwtAccessError::Malformed("the scope claim is not a scope".into()))?,
            None => ScopeSet::new(),
        };
        let audience = match claims.aud {
            Audience::One(one) => vec![one],
            Audience::Many(many) => many,
        };
        Ok(JwtPrincipal {
            issuer: claims.iss,
            subject: claims.sub,
            client_id: claims.client_id,
            scopes,
            audience,
            issued_at: claims.iat,
            expires_at: claims.exp,
            jwt_id: claims.jti,
            auth_time: claims.auth_time,
            acr: claims.acr,
            amr: claims.amr,
            jkt: claims.cnf.as_ref().and_then(|cnf| cnf.jkt.clone()),
            x5t_s256: claims.cnf.and_then(|cnf| cnf.x5t_s256),
        })
    }
}

/// The holder of a JWT access token that [`JwtAccessVerifier::verify`] accepted.
#[cfg(feature = "jose")]
#[cfg_attr(docsrs, doc(cfg(feature = "jose")))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtPrincipal {
    issuer: String,
    subject: String,
    client_id: String,
    scopes: ScopeSet,
    audience: Vec<String>,
    issued_at: i64,
    expires_at: i64,
    jwt_id: String,
    auth_time: Option<i64>,
    acr: Option<String>,
    amr: Vec<String>,
    jkt: Option<String>,
    x5t_s256: Option<String>,
}

#[cfg(feature = "jose")]
impl JwtPrincipal {
    /// `iss`: the issuer (the one the verifier expects).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the user, or, for a client acting for itself (client credentials), the client's
    /// own identifier (RFC 9068 §2.2; compare with [`client_id`](Self::client_id)).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `client_id`: the client the token was issued to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `scope`: the scopes the token carries (empty without the claim).
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// `aud`: the resources the token is for (this one among them).
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// `iat`, seconds since the Unix epoch.
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `jti`: the token's unique identifier.
    pub fn jwt_id(&self) -> &str {
        &self.jwt_id
    }

    /// `auth_time`: when the user authenticated, if the issuer said.
    pub fn auth_time(&self) -> Option<i64> {
        self.auth_time
    }

    /// `acr`: the authentication context class satisfied, if the issuer said.
    pub fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }

    /// `amr`: the authentication methods used (empty if the issuer did not say).
    pub fn amr(&self) -> &[String] {
        &self.amr
    }

    /// `cnf.jkt`: the thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1). A
    /// token with one must come as `Authorization: DPoP` with a proof by that key
    /// ([`crate::dpop`]); refuse it as a bearer token.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    /// `cnf.x5t#S256`: the thumbprint of the client certificate the token is bound to
    /// (RFC 8705 §3.1): accept it only over a TLS connection with that certificate.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// RFC 8705 §3: whether a request that came with `certificate` (the client certificate
    /// of its TLS connection, `None` without one) passes the token's certificate binding: a
    /// token bound to a certificate only with that certificate (compared in constant time),
    /// any other token always (a DPoP-bound one still needs its proof).
    ///
    /// ```
    /// # fn check(principal: &tessera::jwt_access::JwtPrincipal, cert: Option<&tessera::ClientCertificate>) {
    /// if !principal.accepts_certificate(cert) {
    ///     // 401 invalid_token: the token is bound to another certificate, or to one not presented.
    /// }
    /// # }
    /// ```
    pub fn accepts_certificate(&self, certificate: Option<&crate::ClientCertificate>) -> bool {
        match (&self.x5t_s256, certificate) {
            (None, _) => true,
            (Some(bound), Some(certificate)) => bool::from(subtle::ConstantTimeEq::ct_eq(
                bound.as_bytes(),
                certificate.thumbprint().as_bytes(),
            )),
            (Some(_), None) => false,
        }
    }

    /// Whether the token is sender-constrained (`cnf`): it must not be accepted as a plain
    /// bearer token.
    pub fn is_sender_constrained(&self) -> bool {
        self.jkt.is_some() || self.x5t_s256.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jws_shapes_pass_the_filter() {
        assert!(is_jws_shaped("eyJh.eyJi.c2ln"));
        for bad in [
            "", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a.b.c=", "a.b c.d", "tsr_at_x",
        ] {
            assert!(!is_jws_shaped(bad), "{bad}");
        }
        let long = format!("a.{}.c", "b".repeat(MAX_JWT_LEN));
        assert!(!is_jws_shaped(&long));
    }
}
