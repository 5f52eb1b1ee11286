//! A client's signing key pair for JWT client assertions and request objects: tessera
//! generates it and publishes its public JWK; an independent JWS implementation
//! (`jsonwebtoken`) signs with it, so that what tessera verifies is not only its own output.
//! And the JWT client assertion (RFC 7523 §2.2) around it: good claims, the form that carries
//! one, the refusal every failed check answers.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tessera::jose::{Algorithm, SigningKey};
use tessera::testkit::ResponseExt;
use tessera::{FormRequest, Provider, Response};

/// A client's key pair: ours generates and publishes it, theirs signs.
pub struct Key {
    pub alg: Algorithm,
    pub public: Value,
    pub kid: String,
    encoding: jsonwebtoken::EncodingKey,
}

impl Key {
    pub fn generate(alg: Algorithm) -> Self {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let encoding = match alg {
            Algorithm::Rs256 | Algorithm::Ps256 => {
                jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            }
            Algorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .unwrap();
        Self {
            alg,
            public: serde_json::to_value(key.public_jwk()).unwrap(),
            kid: key.kid().to_owned(),
            encoding,
        }
    }

    fn their_alg(&self) -> jsonwebtoken::Algorithm {
        match self.alg {
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
            _ => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// The claims signed with header `{alg, typ, kid}`.
    pub fn sign_typed(&self, claims: &Value, typ: Option<&str>) -> String {
        self.sign_as(claims, typ, &self.kid)
    }

    /// The claims signed with this key under another key's `kid` (a forgery).
    pub fn sign_as(&self, claims: &Value, typ: Option<&str>, kid: &str) -> String {
        let mut header = jsonwebtoken::Header::new(self.their_alg());
        header.typ = typ.map(str::to_owned);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(claims, Some("JWT"))
    }
}

/// The JWK Set of the keys' public halves.
pub fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>() })
}

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The issuer of tests/common's provider: an assertion's good `aud`.
pub const ISSUER: &str = "https://auth.example.com";

/// A change to good claims.
pub type Change = Box<dyn Fn(&mut Value)>;

static JTI: AtomicU64 = AtomicU64::new(0);

/// Good assertion claims for `client_id` at `now`: a fresh `jti`, one minute of life, `aud`
/// the issuer.
pub fn claims(client_id: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 60,
        "jti": format!("jti-{}", JTI.fetch_add(1, Ordering::Relaxed)),
    })
}

/// Changes to good claims at `now` that every JWT client assertion method refuses: a name,
/// the change, and a word the refusal's description contains.
pub fn claim_cases(now: i64) -> Vec<(&'static str, Change, &'static str)> {
    let t = now;
    vec![
        (
            "wrong aud",
            Box::new(|c| c["aud"] = json!("https://other.example")),
            "aud",
        ),
        (
            "several audiences",
            Box::new(|c| c["aud"] = json!([ISSUER, "https://other.example"])),
            "aud",
        ),
        (
            "iss is not sub",
            Box::new(|c| c["iss"] = json!("someone-else")),
            "iss",
        ),
        (
            "expired",
            Box::new(move |c| c["exp"] = json!(t - 61)),
            "expired",
        ),
        (
            "too long-lived",
            Box::new(move |c| c["exp"] = json!(t + 3600)),
            "too long",
        ),
        (
            "no jti",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("jti"))),
            "jti",
        ),
        (
            "nbf ahead",
            Box::new(move |c| c["nbf"] = json!(t + 120)),
            "not valid yet",
        ),
    ]
}

/// The form `body` with the JWT client assertion `assertion` added.
pub fn with_assertion(body: &str, assertion: &str) -> FormRequest {
    let kind: String = url::form_urlencoded::byte_serialize(ASSERTION_TYPE.as_bytes()).collect();
    FormRequest::new(format!(
        "{body}&client_assertion_type={kind}&client_assertion={assertion}"
    ))
}

/// A client credentials grant authenticated by `assertion`.
pub async fn client_credentials(provider: &Provider, assertion: &str) -> Response {
    provider
        .token(&with_assertion("grant_type=client_credentials", assertion))
        .await
}

/// Asserts a 401 `invalid_client`, and returns its description.
pub fn refused(response: &Response) -> String {
    assert_eq!(
        response.status,
        401,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json_body().unwrap();
    assert_eq!(body["error"], "invalid_client");
    body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
