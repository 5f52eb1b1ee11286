//! JWK Sets (RFC 7517 §5): the document at a `jwks_uri`, a client's registered `jwks`.

use serde::ser::SerializeMap;
use serde_json::Value;

use super::alg::Algorithm;
use super::json;
use super::jwk::{Jwk, JwkError};

/// A set of public keys with distinct `kid`s.
///
/// [`JwkSet::parse`] follows RFC 7517 §5: a key of a type, curve, algorithm or use this
/// crate does not support (an encryption key, a P-384 key) is skipped, not an error; a key
/// carrying private members, a malformed key, or two keys with one `kid` refuse the whole
/// set. Serialising gives `{"keys":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    /// The most keys a set may hold.
    pub const MAX_KEYS: usize = 64;
    /// The longest JWK Set text [`JwkSet::parse`] reads.
    pub const MAX_LEN: usize = 64 * 1024;

    /// A set of `keys`, refused if two share a `kid` or there are more than
    /// [`Self::MAX_KEYS`].
    pub fn new(keys: Vec<Jwk>) -> Result<Self, JwkError> {
        if keys.len() > Self::MAX_KEYS {
            return Err(JwkError::TooManyKeys);
        }
        for (i, key) in keys.iter().enumerate() {
            if key.kid().is_some() && keys[..i].iter().any(|k| k.kid() == key.kid()) {
                return Err(JwkError::DuplicateKid);
            }
        }
        Ok(Self { keys })
    }

    /// Parses a JWK Set from JSON text (at most [`Self::MAX_LEN`] bytes; duplicate member
    /// names refused at every depth).
    pub fn parse(text: &str) -> Result<Self, JwkError> {
        if text.len() > Self::MAX_LEN {
            return Err(JwkError::TooLong);
        }
        let members = json::parse_object(text.as_bytes())
            .map_err(|error| JwkError::Json(error.to_string()))?;
        Self::from_value(&Value::Object(members))
    }

    /// Validates a JWK Set already parsed into a JSON value.
    pub(crate) fn from_value(value: &Value) -> Result<Self, JwkError> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwkError::Malformed("keys"))?;
        if keys.len() > Self::MAX_KEYS {
            return Err(JwkError::TooManyKeys);
        }
        let mut usable = Vec::with_capacity(keys.len());
        for key in keys {
            match Jwk::from_value(key) {
                Ok(key) => usable.push(key),
                Err(error) if error.is_skippable() => {}
                Err(error) => return Err(error),
            }
        }
        Self::new(usable)
    }

    /// The keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a token with header `kid` and `alg` names: the key with that `kid`, or, for a
    /// token without `kid`, the only key of that algorithm. `None` if there is no such key,
    /// if the key with that `kid` is for another algorithm, or if a token without `kid`
    /// could be for several keys.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Jwk> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|key| key.kid() == Some(kid))
                .filter(|key| key.algorithm() == alg),
            None => {
                let mut of_alg = self.keys.iter().filter(|key| key.algorithm() == alg);
                let only = of_alg.next()?;
                of_alg.next().is_none().then_some(only)
            }
        }
    }
}

impl serde::Serialize for JwkSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("keys", &self.keys)?;
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for JwkSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = json::deserialize_strict(d)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn ed(kid: &str) -> String {
        format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"{kid}"}}"#)
    }

    #[test]
    fn unsupported_keys_are_skipped_and_dangerous_ones_refuse_the_set() {
        let text = format!(
            r#"{{"keys":[{},{{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}},{{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}}]}}"#,
            ed("a")
        );
        let set = JwkSet::parse(&text).unwrap();
        assert_eq!(set.keys().len(), 1);
        let private = format!(
            r#"{{"keys":[{},{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","d":"AA"}}]}}"#,
            ed("a")
        );
        assert_eq!(JwkSet::parse(&private), Err(JwkError::PrivateMember("d")));
        let twice = format!(r#"{{"keys":[{},{}]}}"#, ed("a"), ed("a"));
        assert_eq!(JwkSet::parse(&twice), Err(JwkError::DuplicateKid));
        let malformed = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"short"}]}"#;
        assert_eq!(JwkSet::parse(malformed), Err(JwkError::Malformed("x")));
        assert_eq!(
            JwkSet::parse(r#"{"keys":{}}"#),
            Err(JwkError::Malformed("keys"))
        );
    }

    #[test]
    fn find_by_kid_and_algorithm() {
        let set = JwkSet::parse(&format!(r#"{{"keys":[{},{}]}}"#, ed("a"), ed("b"))).unwrap();
        assert_eq!(
            set.find(Some("b"), Algorithm::EdDsa).unwrap().kid(),
            Some("b")
        );
        assert!(set.find(Some("b"), Algorithm::Es256).is_none());
        assert!(set.find(Some("c"), Algorithm::EdDsa).is_none());
        // Without kid: ambiguous between two keys of the algorithm.
        assert!(set.find(None, Algorithm::EdDsa).is_none());
        let one = JwkSet::parse(&format!(r#"{{"keys":[{}]}}"#, ed("a"))).unwrap();
        assert!(one.find(None, Algorithm::EdDsa).is_some());
        let text = serde_json::to_string(&one).unwrap();
        assert_eq!(JwkSet::parse(&text).unwrap(), one);
    }
}
