//! Private signing keys: supplied by the host (PKCS#8 PEM or DER, a private JWK) or generated.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::alg::Algorithm;
use super::jwk::{self, Jwk, JwkError, MAX_JWK_LEN, Material, PRIVATE_MEMBERS};
use super::signer::SignError;
use super::{base64url, json, pem};

/// The longest `kid` a signing key may have.
pub const MAX_SIGNING_KID_LEN: usize = 64;

/// Why a signing key could not be loaded, generated or exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not one well-formed PEM block.
    #[error("not a PEM private key: {0}")]
    Pem(&'static str),
    /// A PEM block of another kind, such as `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY`
    /// (SEC 1) or `ENCRYPTED PRIVATE KEY`. Convert it with
    /// `openssl pkcs8 -topk8 -nocrypt -in key.pem`.
    #[error(
        "PEM label {0:?}: expected an unencrypted PKCS#8 \"PRIVATE KEY\" (convert with `openssl pkcs8 -topk8 -nocrypt`)"
    )]
    UnsupportedPem(String),
    /// The DER is not an unencrypted PKCS#8 RSA (2048 to 8192 bits), P-256 or Ed25519 key, or
    /// the key is invalid.
    #[error("not a supported or valid PKCS#8 private key")]
    Rejected,
    /// A private JWK that is malformed, of an unsupported type, or whose private members do
    /// not fit its public ones.
    #[error("invalid private JWK: {0}")]
    Jwk(#[from] JwkError),
    /// A `kid` that is empty, longer than [`MAX_SIGNING_KID_LEN`], or not visible ASCII.
    #[error("a kid must be 1 to 64 visible ASCII characters")]
    Kid,
    /// The cryptographic library failed to generate or export a key.
    #[error("key generation or export failed")]
    Crypto,
}

/// The key pair itself.
enum Pair {
    Rsa(RsaKeyPair),
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key that signs with one [`Algorithm`], and its public [`Jwk`].
///
/// # Security
/// The private key never leaves this value except through
/// [`to_pkcs8_pem`](Self::to_pkcs8_pem): `Debug` prints only the `kid` and algorithm, there
/// is no `Display`, `Serialize` or `Clone`. Every buffer this crate holds private material
/// in (PEM text, DER, JWK members) is zeroized when dropped; the key pair lives in aws-lc,
/// whose `OPENSSL_free` clears memory before freeing it.
///
/// ```
/// use tessera::jose::{Algorithm, SigningKey};
///
/// let key = SigningKey::generate(Algorithm::Es256)?.with_kid("2026-01")?;
/// assert_eq!(key.kid(), "2026-01");
/// let again = SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem()?)?;
/// assert_eq!(again.public_jwk().thumbprint(), key.public_jwk().thumbprint());
/// assert_eq!(format!("{key:?}"), r#"SigningKey { kid: "2026-01", alg: Es256, private: "redacted" }"#);
/// # Ok::<(), tessera::jose::KeyError>(())
/// ```
pub struct SigningKey {
    kid: String,
    pair: Pair,
    public: Jwk,
}

impl SigningKey {
    /// Generates a new key: RSA 2048 bits for `RS256` and `PS256`, P-256 for `ES256`,
    /// Ed25519 for `EdDSA`. Its `kid` is its RFC 7638 thumbprint until
    /// [`with_kid`](Self::with_kid).
    ///
    /// The randomness comes from aws-lc's own DRBG, seeded by the operating system, not from
    /// the provider's [`Entropy`](crate::Entropy): aws-lc-rs ignores any generator passed in.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let pair = match alg {
            Algorithm::Rs256 | Algorithm::Ps256 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?)
            }
            Algorithm::Es256 => Pair::Es256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Crypto)?,
            ),
            Algorithm::EdDsa => {
                Pair::Ed25519(Ed25519KeyPair::generate().map_err(|_| KeyError::Crypto)?)
            }
        };
        Self::from_pair(pair, None, Some(alg))
    }

    /// Loads an unencrypted PKCS#8 key from PEM (`-----BEGIN PRIVATE KEY-----`), as written by
    /// `openssl genpkey` or [`to_pkcs8_pem`](Self::to_pkcs8_pem). The algorithm follows from
    /// the key: RSA signs `RS256` (make it a `PS256` key with
    /// [`with_algorithm`](Self::with_algorithm); PKCS#8 does not say), P-256 `ES256`,
    /// Ed25519 `EdDSA`.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_pkcs8_der(&pem::decode(pem)?)
    }

    /// Loads an unencrypted PKCS#8 key (v1 or v2) from DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            Pair::Ed25519(pair)
        } else if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            Pair::Es256(pair)
        } else if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            Pair::Rsa(pair)
        } else {
            return Err(KeyError::Rejected);
        };
        Self::from_pair(pair, None, None).map_err(|_| KeyError::Rejected)
    }

    /// Loads a private JWK (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2): RSA with all of `d`, `p`,
    /// `q`, `dp`, `dq`, `qi` (no `oth`), EC P-256 or OKP Ed25519 with `d`. The private members
    /// must fit the public ones; `alg`, `use` and `key_ops` are checked as for a public
    /// [`Jwk`] (`key_ops`, if present, must allow `sign`). Its `kid` is the JWK's, or the
    /// thumbprint.
    pub fn from_jwk(text: &str) -> Result<Self, KeyError> {
        if text.len() > MAX_JWK_LEN {
            return Err(JwkError::TooLong.into());
        }
        let mut members = json::parse_object(text.as_bytes())
            .map_err(|error| JwkError::Json(error.to_string()))?;
        let private = Private::take(&mut members)?;
        let (kid, material, alg) = jwk::public_members(&members, "sign")?;
        let pair = match &material {
            Material::Rsa { n, e } => {
                let part = |name| private.bytes(name);
                let components = KeyPairComponents {
                    public_key: RsaPublicKeyComponents { n, e },
                    d: part("d")?,
                    p: part("p")?,
                    q: part("q")?,
                    dP: part("dp")?,
                    dQ: part("dq")?,
                    qInv: part("qi")?,
                };
                private.only(&["d", "p", "q", "dp", "dq", "qi"])?;
                Pair::Rsa(
                    RsaKeyPair::from_components(&components)
                        .map_err(|_| JwkError::InvalidPrivateKey)?,
                )
            }
            Material::P256 { x, y } => {
                private.only(&["d"])?;
                let d = private.bytes("d")?;
                if d.len() != 32 {
                    return Err(JwkError::Malformed("d").into());
                }
                let mut point = [0u8; 65];
                point[0] = 4;
                point[1..33].copy_from_slice(x);
                point[33..].copy_from_slice(y);
                Pair::Es256(
                    EcdsaKeyPair::from_private_key_and_public_key(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        &d,
                        &point,
                    )
                    .map_err(|_| JwkError::InvalidPrivateKey)?,
                )
            }
            Material::Ed25519 { x } => {
                private.only(&["d"])?;
                let d = private.bytes("d")?;
                if d.len() != 32 {
                    return Err(JwkError::Malformed("d").into());
                }
                Pair::Ed25519(
                    Ed25519KeyPair::from_seed_and_public_key(&d, x)
                        .map_err(|_| JwkError::InvalidPrivateKey)?,
                )
            }
        };
        let key = Self::from_pair(pair, kid, Some(alg))?;
        // The library derived the public key from the private one; it must be the JWK's.
        if key.public.material() != &material {
            return Err(JwkError::InvalidPrivateKey.into());
        }
        Ok(key)
    }

    /// The same key under another `kid`: 1 to [`MAX_SIGNING_KID_LEN`] visible ASCII
    /// characters.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.public = self.public.with_kid(kid.clone());
        self.kid = kid;
        Ok(self)
    }

    /// The same key signing with `alg`, which must be an algorithm of its type: an RSA key
    /// signs `RS256` or `PS256` (loaded from PKCS#8, it is `RS256` until told otherwise).
    /// Its `kid` stays the same; the published JWK names the new algorithm.
    pub fn with_algorithm(mut self, alg: Algorithm) -> Result<Self, KeyError> {
        if alg != self.algorithm() {
            let kid = self.public.kid().map(str::to_owned);
            self.public = Jwk::new(kid, self.public.material().clone(), alg)?;
        }
        Ok(self)
    }

    /// The key ID, written into every token's header and the key's JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The public key, with this key's `kid`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The private key as unencrypted PKCS#8 PEM, to persist a generated key and give every
    /// provider instance the same one.
    ///
    /// # Security
    /// Whoever reads this can sign tokens every relying party accepts. Write it only to a
    /// secret store or a file readable by the provider alone; never log it.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        // Each of these documents zeroizes its buffer when dropped.
        let pem = match &self.pair {
            Pair::Rsa(pair) => {
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Crypto)?;
                pem::encode(der.as_ref())
            }
            Pair::Es256(pair) => {
                pem::encode(pair.to_pkcs8v1().map_err(|_| KeyError::Crypto)?.as_ref())
            }
            Pair::Ed25519(pair) => {
                pem::encode(pair.to_pkcs8v1().map_err(|_| KeyError::Crypto)?.as_ref())
            }
        };
        Ok(pem)
    }

    /// Signs `message` (the JWS signing input) with this key's algorithm.
    pub(crate) fn sign_now(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                // PSS draws its 32-byte salt from aws-lc's DRBG (RFC 7518 §3.5).
                let padding = if self.algorithm() == Algorithm::Ps256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                pair.sign(padding, &SystemRandom::new(), message, &mut signature)
                    .map_err(|_| SignError::Failed)?;
                Ok(signature)
            }
            Pair::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| SignError::Failed),
            Pair::Ed25519(pair) => pair
                .try_sign(message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| SignError::Failed),
        }
    }

    /// The key of `pair`, signing with `alg` (`None`: the default of its type).
    fn from_pair(
        pair: Pair,
        kid: Option<String>,
        alg: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        let material = match &pair {
            Pair::Rsa(pair) => {
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                Material::Rsa {
                    n: components.n,
                    e: components.e,
                }
            }
            Pair::Es256(pair) => {
                let point = pair.public_key().as_ref();
                let (x, y) = match point {
                    [4, coordinates @ ..] if coordinates.len() == 64 => coordinates.split_at(32),
                    _ => return Err(KeyError::Crypto),
                };
                Material::P256 {
                    x: x.try_into().map_err(|_| KeyError::Crypto)?,
                    y: y.try_into().map_err(|_| KeyError::Crypto)?,
                }
            }
            Pair::Ed25519(pair) => Material::Ed25519 {
                x: pair
                    .public_key()
                    .as_ref()
                    .try_into()
                    .map_err(|_| KeyError::Crypto)?,
            },
        };
        let alg = alg.unwrap_or_else(|| material.default_algorithm());
        let public = Jwk::new(None, material, alg)?;
        let kid = match kid {
            Some(kid) => kid,
            None => public.thumbprint(),
        };
        let public = public.with_kid(kid.clone());
        Ok(Self { kid, pair, public })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm())
            .field("private", &"redacted")
            .finish()
    }
}

/// Checks a signing key's `kid`.
fn check_kid(kid: &str) -> Result<(), KeyError> {
    let valid = !kid.is_empty()
        && kid.len() <= MAX_SIGNING_KID_LEN
        && kid.bytes().all(|b| b.is_ascii_graphic());
    valid.then_some(()).ok_or(KeyError::Kid)
}

/// The private members of a JWK, taken out of the parsed object so that each is zeroized.
struct Private {
    members: Vec<(&'static str, Zeroizing<String>)>,
}

impl Private {
    fn take(members: &mut Map<String, Value>) -> Result<Self, JwkError> {
        let mut taken = Vec::new();
        for name in PRIVATE_MEMBERS {
            match members.remove(name) {
                None => {}
                Some(Value::String(value)) => taken.push((name, Zeroizing::new(value))),
                Some(_) => return Err(JwkError::Malformed(name)),
            }
        }
        Ok(Self { members: taken })
    }

    /// A required member's bytes.
    fn bytes(&self, name: &'static str) -> Result<Zeroizing<Vec<u8>>, JwkError> {
        self.members
            .iter()
            .find(|(member, _)| *member == name)
            .and_then(|(_, value)| base64url::decode(value))
            .map(Zeroizing::new)
            .ok_or(JwkError::Malformed(name))
    }

    /// Refuses private members other than `allowed` (a symmetric `k`, multi-prime `oth`, RSA
    /// members on an EC key).
    fn only(&self, allowed: &[&str]) -> Result<(), JwkError> {
        match self
            .members
            .iter()
            .find(|(name, _)| !allowed.contains(name))
        {
            Some((name, _)) => Err(JwkError::Malformed(name)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pkcs8_pem_and_sign() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.kid(), key.public_jwk().thumbprint());
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            // PKCS#8 does not say PS256: the host says so again.
            let again = SigningKey::from_pkcs8_pem(&pem)
                .unwrap()
                .with_algorithm(alg)
                .unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
            let signature = again.sign_now(b"message").unwrap();
            assert!(key.public_jwk().verify(b"message", &signature));
            assert!(!key.public_jwk().verify(b"messagE", &signature));
        }
    }

    #[test]
    fn an_rsa_key_signs_and_verifies_one_of_rs256_and_ps256() {
        let rs = SigningKey::generate(Algorithm::Rs256).unwrap();
        let ps = SigningKey::from_pkcs8_pem(&rs.to_pkcs8_pem().unwrap())
            .unwrap()
            .with_algorithm(Algorithm::Ps256)
            .unwrap();
        assert_eq!(ps.algorithm(), Algorithm::Ps256);
        assert_eq!(ps.public_jwk().thumbprint(), rs.public_jwk().thumbprint());
        let pss = ps.sign_now(b"message").unwrap();
        let pkcs1 = rs.sign_now(b"message").unwrap();
        assert!(ps.public_jwk().verify(b"message", &pss));
        assert!(rs.public_jwk().verify(b"message", &pkcs1));
        // The same RSA key never verifies the other padding.
        assert!(!rs.public_jwk().verify(b"message", &pss));
        assert!(!ps.public_jwk().verify(b"message", &pkcs1));
        // PSS is randomised (a fresh salt), PKCS#1 v1.5 is not.
        assert_ne!(ps.sign_now(b"message").unwrap(), pss);
        assert_eq!(rs.sign_now(b"message").unwrap(), pkcs1);
        // No other algorithm for an RSA key, and no PS256 for an EC one.
        assert!(rs.with_algorithm(Algorithm::Es256).is_err());
        let ec = SigningKey::generate(Algorithm::Es256).unwrap();
        assert!(ec.with_algorithm(Algorithm::Ps256).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let debug = format!("{key:?}");
        assert!(debug.contains("redacted"));
        let pem = key.to_pkcs8_pem().unwrap();
        let body = pem.lines().nth(1).unwrap();
        assert!(!debug.contains(&body[10..30]));
    }

    #[test]
    fn kids_are_checked() {
        let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let key = key.with_kid("k-1").unwrap();
        assert_eq!(key.public_jwk().kid(), Some("k-1"));
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            let key = SigningKey::generate(Algorithm::EdDsa).unwrap();
            assert_eq!(key.with_kid(bad).unwrap_err(), KeyError::Kid, "{bad:?}");
        }
    }

    #[test]
    fn private_jwks_must_be_consistent() {
        // RFC 8037 Appendix A.1.
        let good = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let key = SigningKey::from_jwk(good).unwrap();
        assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
        let wrong_x = good.replace("11qYAYKx", "21qYAYKx");
        assert!(SigningKey::from_jwk(&wrong_x).is_err());
        let with_k = good.replace(r#""d":"#, r#""k":"AA","d":"#);
        assert_eq!(
            SigningKey::from_jwk(&with_k).unwrap_err(),
            KeyError::Jwk(JwkError::Malformed("k"))
        );
        let no_d =
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(
            SigningKey::from_jwk(no_d).unwrap_err(),
            KeyError::Jwk(JwkError::Malformed("d"))
        );
        let verify_only = good.replace(r#""d":"#, r#""key_ops":["verify"],"d":"#);
        assert_eq!(
            SigningKey::from_jwk(&verify_only).unwrap_err(),
            KeyError::Jwk(JwkError::NotForSignatures)
        );
    }

    #[test]
    fn pkcs8_garbage_is_rejected() {
        assert_eq!(
            SigningKey::from_pkcs8_der(b"").unwrap_err(),
            KeyError::Rejected
        );
        assert_eq!(
            SigningKey::from_pkcs8_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err(),
            KeyError::Rejected
        );
    }
}
