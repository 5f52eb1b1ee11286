//! Public JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037 §2) and their thumbprints (RFC 7638).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use serde::ser::SerializeMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::alg::Algorithm;
use super::{base64url, json};

/// The longest JWK text [`Jwk::parse`] reads (an 8192-bit RSA key takes under 1.5 KiB).
pub const MAX_JWK_LEN: usize = 8 * 1024;
/// The longest `kid` accepted in a JWK or a JWS header.
pub const MAX_KID_LEN: usize = 256;

/// The members of a JWK that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2,
/// §6.4; RFC 8037 §2).
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK or JWK Set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not one JSON object, or one with a duplicate member name.
    #[error("not a JSON object without duplicate member names: {0}")]
    Json(String),
    /// Longer than the size limit.
    #[error("the JWK or JWK Set is too long")]
    TooLong,
    /// A private or symmetric key member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) where a
    /// public key is expected: the key's owner has leaked it by publishing it.
    #[error("a public JWK must not carry the private member {0:?}")]
    PrivateMember(&'static str),
    /// A key type or curve that is not RSA, EC P-256 or OKP Ed25519.
    #[error("unsupported key type or curve")]
    UnsupportedKey,
    /// An `alg` this crate does not implement.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// An `alg` that is not the algorithm of the key's type.
    #[error("the alg does not fit the key type")]
    AlgorithmMismatch,
    /// `use` is not `sig`, or `key_ops` does not allow verifying (signing, for private keys).
    #[error("the key is not for signatures")]
    NotForSignatures,
    /// A member is missing, of the wrong JSON type, not strict base64url, of the wrong length,
    /// or not a valid key (an EC point off the curve, an RSA modulus with a leading zero).
    #[error("the member {0:?} is missing or malformed")]
    Malformed(&'static str),
    /// An RSA key shorter than 2048 bits or longer than 8192.
    #[error("RSA keys must have 2048 to 8192 bits")]
    KeySize,
    /// Two keys of one set with the same `kid`.
    #[error("two keys with the same kid")]
    DuplicateKid,
    /// A set with more keys than [`JwkSet::MAX_KEYS`](super::JwkSet::MAX_KEYS).
    #[error("too many keys in the set")]
    TooManyKeys,
    /// A private JWK whose private members do not form a key, or do not fit its public
    /// members.
    #[error("the private key is invalid or does not match its public members")]
    InvalidPrivateKey,
}

impl JwkError {
    /// Whether RFC 7517 §5 lets a JWK Set reader skip a key refused for this reason (a key
    /// type, curve, algorithm or use it does not support) rather than refuse the whole set.
    pub(crate) fn is_skippable(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedKey
                | Self::UnsupportedAlgorithm
                | Self::NotForSignatures
                | Self::KeySize
        )
    }
}

/// The key itself: big-endian integers and curve coordinates.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Material {
    /// RSA modulus and public exponent, without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// A P-256 point's coordinates.
    P256 { x: [u8; 32], y: [u8; 32] },
    /// An Ed25519 public key.
    Ed25519 { x: [u8; 32] },
}

impl Material {
    /// The algorithm of a key of this material whose JWK names none: RS256 for RSA.
    pub(crate) fn default_algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa { .. } => Algorithm::Rs256,
            Self::P256 { .. } => Algorithm::Es256,
            Self::Ed25519 { .. } => Algorithm::EdDsa,
        }
    }

    /// Whether a key of this material may be a key of `alg`.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        alg.key_type() == self.default_algorithm().key_type()
    }

    fn parse(&self, alg: Algorithm) -> Result<ParsedPublicKey, JwkError> {
        if !self.fits(alg) {
            return Err(JwkError::AlgorithmMismatch);
        }
        match self {
            Self::Rsa { n, e } => {
                let bits = bit_len(n);
                if !(2048..=8192).contains(&bits) {
                    return Err(JwkError::KeySize);
                }
                let params = alg.rsa_verification().ok_or(JwkError::AlgorithmMismatch)?;
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|_| JwkError::Malformed("e"))
            }
            Self::P256 { x, y } => {
                let mut point = [0u8; 65];
                point[0] = 4;
                point[1..33].copy_from_slice(x);
                point[33..].copy_from_slice(y);
                ParsedPublicKey::new(alg.verification(), point)
                    .map_err(|_| JwkError::Malformed("x"))
            }
            Self::Ed25519 { x } => {
                ParsedPublicKey::new(alg.verification(), x).map_err(|_| JwkError::Malformed("x"))
            }
        }
    }
}

/// A public key as a JWK: RSA (`RS256`), EC P-256 (`ES256`) or OKP Ed25519 (`EdDSA`).
///
/// Parsing validates it: the key type, curve and `alg` agree (a key verifies only one
/// algorithm: `alg` may be left out, and then an RSA key is `RS256`; a `PS256` RSA key says
/// so); `use`, if present, is `sig`, and
/// `key_ops`, if present, allows `verify`; the key members are strict base64url of the right
/// length, EC points are on the curve, RSA moduli have 2048 to 8192 bits; and no private
/// member is present, since a public key is expected. `x5c`, `x5u`, `x5t` and other members
/// are ignored: keys are never fetched or derived from certificates.
///
/// Serialising gives the public JWK with `kty`, `crv`, `kid`, `use: sig`, `alg` and the key
/// members, never anything private.
///
/// ```
/// use tessera::jose::{Algorithm, Jwk};
///
/// // RFC 8037 Appendix A.2.
/// let jwk = Jwk::parse(
///     r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
/// )?;
/// assert_eq!(jwk.algorithm(), Algorithm::EdDsa);
/// // RFC 8037 Appendix A.3.
/// assert_eq!(jwk.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// assert!(Jwk::parse(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#).is_err());
/// # Ok::<(), tessera::jose::JwkError>(())
/// ```
#[derive(Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Algorithm,
    material: Material,
    parsed: Arc<ParsedPublicKey>,
}

impl Jwk {
    /// Parses one public JWK from JSON text (at most [`MAX_JWK_LEN`] bytes; duplicate member
    /// names refused).
    pub fn parse(text: &str) -> Result<Self, JwkError> {
        if text.len() > MAX_JWK_LEN {
            return Err(JwkError::TooLong);
        }
        let members = json::parse_object(text.as_bytes())
            .map_err(|error| JwkError::Json(error.to_string()))?;
        Self::from_members(&members)
    }

    /// Validates a public JWK already parsed into a JSON value (a client's registered
    /// `jwks`, a DPoP proof's `jwk` header).
    pub(crate) fn from_value(value: &Value) -> Result<Self, JwkError> {
        match value {
            Value::Object(members) => Self::from_members(members),
            _ => Err(JwkError::Json("expected a JSON object".to_owned())),
        }
    }

    /// Validates the members of a public JWK.
    pub(crate) fn from_members(members: &Map<String, Value>) -> Result<Self, JwkError> {
        if let Some(name) = PRIVATE_MEMBERS
            .iter()
            .find(|name| members.contains_key(**name))
        {
            return Err(JwkError::PrivateMember(name));
        }
        let (kid, material, alg) = public_members(members, "verify")?;
        Self::new(kid, material, alg)
    }

    /// A key of `alg` from its material, checked by aws-lc-rs.
    pub(crate) fn new(
        kid: Option<String>,
        material: Material,
        alg: Algorithm,
    ) -> Result<Self, JwkError> {
        let parsed = Arc::new(material.parse(alg)?);
        Ok(Self {
            kid,
            alg,
            material,
            parsed,
        })
    }

    /// The key with `kid` as its key ID.
    pub(crate) fn with_kid(mut self, kid: String) -> Self {
        self.kid = Some(kid);
        self
    }

    /// The key ID (`kid`), if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order
    /// without whitespace, base64url. DPoP's `jkt` (RFC 9449 §6.1) is this value.
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.material {
            Material::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                base64url::encode(e),
                base64url::encode(n)
            ),
            Material::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                base64url::encode(x),
                base64url::encode(y)
            ),
            Material::Ed25519 { x } => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                base64url::encode(x)
            ),
        };
        base64url::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Whether `signature` is this key's signature of `message` under its algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }

    /// The key material, for comparing a private key's public part.
    pub(crate) fn material(&self) -> &Material {
        &self.material
    }
}

impl PartialEq for Jwk {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.material == other.material
    }
}

impl Eq for Jwk {}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl serde::Serialize for Jwk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let alg = self.algorithm();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kty", alg.key_type())?;
        match &self.material {
            Material::Rsa { .. } => {}
            Material::P256 { .. } => map.serialize_entry("crv", "P-256")?,
            Material::Ed25519 { .. } => map.serialize_entry("crv", "Ed25519")?,
        }
        if let Some(kid) = &self.kid {
            map.serialize_entry("kid", kid)?;
        }
        map.serialize_entry("use", "sig")?;
        map.serialize_entry("alg", alg.as_str())?;
        match &self.material {
            Material::Rsa { n, e } => {
                map.serialize_entry("n", &base64url::encode(n))?;
                map.serialize_entry("e", &base64url::encode(e))?;
            }
            Material::P256 { x, y } => {
                map.serialize_entry("x", &base64url::encode(x))?;
                map.serialize_entry("y", &base64url::encode(y))?;
            }
            Material::Ed25519 { x } => map.serialize_entry("x", &base64url::encode(x))?,
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Jwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = json::deserialize_strict(d)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// The members every JWK of a supported type shares, public or private: `kty`, `crv`,
/// `alg`, `use`, `key_ops`, `kid`, and the public key members. `operation` is the `key_ops`
/// value the key must allow (`verify` for a public key, `sign` for a private one).
pub(crate) fn public_members(
    members: &Map<String, Value>,
    operation: &str,
) -> Result<(Option<String>, Material, Algorithm), JwkError> {
    let kty = string(members, "kty")?.ok_or(JwkError::Malformed("kty"))?;
    let material = match kty {
        "RSA" => {
            let n = unsigned(members, "n")?;
            let e = unsigned(members, "e")?;
            Material::Rsa { n, e }
        }
        "EC" => {
            if string(members, "crv")?.ok_or(JwkError::Malformed("crv"))? != "P-256" {
                return Err(JwkError::UnsupportedKey);
            }
            Material::P256 {
                x: fixed(members, "x")?,
                y: fixed(members, "y")?,
            }
        }
        "OKP" => {
            if string(members, "crv")?.ok_or(JwkError::Malformed("crv"))? != "Ed25519" {
                return Err(JwkError::UnsupportedKey);
            }
            Material::Ed25519 {
                x: fixed(members, "x")?,
            }
        }
        _ => return Err(JwkError::UnsupportedKey),
    };
    let alg = match string(members, "alg")? {
        Some(alg) => {
            let alg = Algorithm::from_name(alg).ok_or(JwkError::UnsupportedAlgorithm)?;
            if !material.fits(alg) {
                return Err(JwkError::AlgorithmMismatch);
            }
            alg
        }
        None => material.default_algorithm(),
    };
    if string(members, "use")?.is_some_and(|use_| use_ != "sig") {
        return Err(JwkError::NotForSignatures);
    }
    if let Some(ops) = members.get("key_ops") {
        let ops = ops.as_array().ok_or(JwkError::Malformed("key_ops"))?;
        if !ops.iter().all(Value::is_string) {
            return Err(JwkError::Malformed("key_ops"));
        }
        if !ops.iter().any(|op| op.as_str() == Some(operation)) {
            return Err(JwkError::NotForSignatures);
        }
    }
    let kid = match string(members, "kid")? {
        Some(kid) if kid.is_empty() || kid.len() > MAX_KID_LEN => {
            return Err(JwkError::Malformed("kid"));
        }
        kid => kid.map(str::to_owned),
    };
    Ok((kid, material, alg))
}

/// A string member, `None` if absent, an error if present but not a string.
pub(crate) fn string<'a>(
    members: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwkError> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(JwkError::Malformed(name)),
    }
}

/// A required base64url member's bytes.
pub(crate) fn bytes(members: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    string(members, name)?
        .and_then(base64url::decode)
        .ok_or(JwkError::Malformed(name))
}

/// A required Base64urlUInt member (RFC 7518 §2): non-empty, no leading zero byte.
fn unsigned(members: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let value = bytes(members, name)?;
    match value.first() {
        Some(&first) if first != 0 => Ok(value),
        _ => Err(JwkError::Malformed(name)),
    }
}

/// A required 32-byte member (P-256 coordinates are full-length, RFC 7518 §6.2.1.2).
fn fixed(members: &Map<String, Value>, name: &'static str) -> Result<[u8; 32], JwkError> {
    bytes(members, name)?
        .try_into()
        .map_err(|_| JwkError::Malformed(name))
}

/// The number of significant bits in a big-endian integer without leading zero bytes.
fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rsa(extra: &str) -> String {
        format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB"{extra}}}"#)
    }

    #[test]
    fn rfc_7638_thumbprint() {
        let jwk = Jwk::parse(&rsa(r#","alg":"RS256","kid":"2011-04-29""#)).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(jwk.kid(), Some("2011-04-29"));
        assert_eq!(jwk.algorithm(), Algorithm::Rs256);
    }

    #[test]
    fn private_members_are_refused_in_a_public_jwk() {
        for member in PRIVATE_MEMBERS {
            let text = rsa(&format!(r#","{member}":"AQAB""#));
            assert_eq!(
                Jwk::parse(&text),
                Err(JwkError::PrivateMember(member)),
                "{member}"
            );
        }
        let oct = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
        assert_eq!(Jwk::parse(oct), Err(JwkError::PrivateMember("k")));
    }

    #[test]
    fn type_curve_alg_and_use_must_agree() {
        assert_eq!(
            Jwk::parse(&rsa(r#","alg":"ES256""#)),
            Err(JwkError::AlgorithmMismatch)
        );
        assert_eq!(
            Jwk::parse(&rsa(r#","alg":"PS384""#)),
            Err(JwkError::UnsupportedAlgorithm)
        );
        // An RSA key is RS256 unless it says PS256, and then only PS256.
        let pss = Jwk::parse(&rsa(r#","alg":"PS256""#)).unwrap();
        assert_eq!(pss.algorithm(), Algorithm::Ps256);
        assert_eq!(Jwk::parse(&rsa("")).unwrap().algorithm(), Algorithm::Rs256);
        assert_ne!(pss, Jwk::parse(&rsa("")).unwrap());
        assert_eq!(
            serde_json::to_value(&pss).unwrap()["alg"],
            serde_json::json!("PS256")
        );
        assert_eq!(
            Jwk::parse(
                r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"PS256"}"#
            ),
            Err(JwkError::AlgorithmMismatch)
        );
        assert_eq!(
            Jwk::parse(&rsa(r#","alg":"none""#)),
            Err(JwkError::UnsupportedAlgorithm)
        );
        assert_eq!(
            Jwk::parse(&rsa(r#","use":"enc""#)),
            Err(JwkError::NotForSignatures)
        );
        assert_eq!(
            Jwk::parse(&rsa(r#","key_ops":["encrypt"]"#)),
            Err(JwkError::NotForSignatures)
        );
        assert!(Jwk::parse(&rsa(r#","key_ops":["verify"],"use":"sig""#)).is_ok());
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        assert_eq!(
            Jwk::parse(&format!(r#"{{"kty":"OKP","crv":"X25519","x":"{x}"}}"#)),
            Err(JwkError::UnsupportedKey)
        );
        assert_eq!(
            Jwk::parse(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","alg":"ES256"}}"#
            )),
            Err(JwkError::AlgorithmMismatch)
        );
        assert_eq!(
            Jwk::parse(r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#),
            Err(JwkError::UnsupportedKey)
        );
    }

    #[test]
    fn key_members_are_strict() {
        // A leading zero byte on the modulus.
        let padded = format!(r#"{{"kty":"RSA","n":"AA{RFC7638_N}","e":"AQAB"}}"#);
        assert!(Jwk::parse(&padded).is_err());
        // Padding, whitespace, the wrong alphabet.
        for e in ["AQAB=", "AQ AB", "AQ+B"] {
            let text = format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"{e}"}}"#);
            assert_eq!(Jwk::parse(&text), Err(JwkError::Malformed("e")), "{e}");
        }
        // A 1024-bit modulus.
        let short = format!(r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#, &RFC7638_N[..168]);
        assert_eq!(Jwk::parse(&short), Err(JwkError::KeySize));
        // An EC point that is not on the curve.
        let zero = base64url::encode([1u8; 32]);
        let off = format!(r#"{{"kty":"EC","crv":"P-256","x":"{zero}","y":"{zero}"}}"#);
        assert!(Jwk::parse(&off).is_err());
        // Short coordinates, non-string members, duplicate members.
        let short_x = r#"{"kty":"OKP","crv":"Ed25519","x":"AQAB"}"#;
        assert_eq!(Jwk::parse(short_x), Err(JwkError::Malformed("x")));
        assert_eq!(
            Jwk::parse(r#"{"kty":"RSA","n":1,"e":"AQAB"}"#),
            Err(JwkError::Malformed("n"))
        );
        assert!(matches!(
            Jwk::parse(&rsa(r#","e":"AQAB""#)),
            Err(JwkError::Json(_))
        ));
        assert_eq!(
            Jwk::parse(&" ".repeat(MAX_JWK_LEN + 1)),
            Err(JwkError::TooLong)
        );
    }

    #[test]
    fn serialising_gives_the_public_jwk_back() {
        let jwk = Jwk::parse(&rsa(r#","kid":"k1""#)).unwrap();
        let text = serde_json::to_string(&jwk).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"{RFC7638_N}","e":"AQAB"}}"#
            )
        );
        assert_eq!(Jwk::parse(&text).unwrap(), jwk);
        let back: Jwk = serde_json::from_str(&text).unwrap();
        assert_eq!(back, jwk);
    }
}
