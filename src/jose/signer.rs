//! The `Signer` trait: a named key that signs, locally or in a KMS or HSM.

use std::fmt;

use async_trait::async_trait;

use super::alg::Algorithm;
use super::jwk::Jwk;
use super::key::SigningKey;

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The local cryptographic library failed to sign.
    #[error("signing failed")]
    Failed,
    /// A remote signer failed (unreachable, refused, throttled).
    #[error("the signing backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// The signer returned a signature of the wrong length for its algorithm (a KMS that
    /// returns DER-encoded ECDSA signatures, say: JWS wants `R || S`, RFC 7518 §3.4).
    #[error("the signer returned a signature of the wrong length for {0}")]
    MalformedSignature(Algorithm),
    /// The signer's `key_id`, `algorithm` and `public_jwk` disagree.
    #[error("the signer's kid, algorithm and public JWK disagree")]
    InconsistentSigner,
    /// No key of the key set signs with this algorithm now.
    #[error("no active key for {0}")]
    NoActiveKey(Algorithm),
    /// The claims could not be serialised to JSON.
    #[error("the claims could not be serialised: {0}")]
    Claims(String),
}

/// A key that signs JWS signing inputs: a local [`SigningKey`], or a key held in a KMS or
/// HSM behind an implementation of this trait.
///
/// # Contract
/// * [`key_id`](Self::key_id), [`algorithm`](Self::algorithm) and
///   [`public_jwk`](Self::public_jwk) never change and agree: the JWK has that `kid` and
///   that algorithm. Signing ([`jws::sign`](super::sign)) and key sets check this.
/// * [`sign`](Self::sign) returns the JWS signature of `message` (RFC 7518 §3): for `RS256`
///   the PKCS#1 v1.5 signature over SHA-256, as long as the modulus; for `ES256` the 64-byte
///   `R || S` (not DER: convert a KMS's DER output); for `EdDSA` the 64-byte Ed25519
///   signature. It hashes `message` itself.
/// * Implementations must be cheap to call concurrently; the returned future is `Send`.
#[async_trait]
pub trait Signer: Send + Sync + fmt::Debug {
    /// The key ID, written into every token's header.
    fn key_id(&self) -> &str;

    /// The one algorithm this key signs with.
    fn algorithm(&self) -> Algorithm;

    /// The public key, for the JWK Set.
    fn public_jwk(&self) -> &Jwk;

    /// Signs `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
}

#[async_trait]
impl Signer for SigningKey {
    fn key_id(&self) -> &str {
        self.kid()
    }

    fn algorithm(&self) -> Algorithm {
        SigningKey::algorithm(self)
    }

    fn public_jwk(&self) -> &Jwk {
        SigningKey::public_jwk(self)
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_now(message)
    }
}

/// Whether `signer`'s three descriptions agree.
pub(crate) fn is_consistent(signer: &dyn Signer) -> bool {
    let jwk = signer.public_jwk();
    jwk.kid() == Some(signer.key_id()) && jwk.algorithm() == signer.algorithm()
}
