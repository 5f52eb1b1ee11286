//! A client's signing key pair for JWT client assertions and request objects: tessera
//! generates it and publishes its public JWK; an independent JWS implementation
//! (`jsonwebtoken`) signs with it, so that what tessera verifies is not only its own output.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use serde_json::{Value, json};
use tessera::jose::{Algorithm, SigningKey};

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
