//! Compact JWS (RFC 7515 §7.1): signing, and verification that returns only checked values.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::alg::Algorithm;
use super::header::{Header, Hs256Header};
use super::jwk::{Jwk, JwkError, Material};
use super::jwk_set::JwkSet;
use super::signer::{self, SignError, Signer};
use super::typ::Typ;
use super::{base64url, json};

/// The longest compact JWS [`UnverifiedJws::parse`] reads: 16 KiB, a DPoP proof with an
/// 8192-bit RSA key in its header and an ID token with a few hundred claims fit.
pub const MAX_JWS_LEN: usize = 16 * 1024;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Longer than the size limit.
    #[error("the token is too long")]
    TooLong,
    /// Not three dot-separated parts (JWE has five; the JWS JSON serialisation is not read).
    #[error("not a compact JWS")]
    Malformed,
    /// A part is not strict base64url: padding, whitespace or other characters.
    #[error("the {0} is not unpadded base64url")]
    Base64(&'static str),
    /// The header is not one JSON object without duplicate member names, lacks `alg`, or
    /// has a member of the wrong JSON type.
    #[error("invalid JOSE header: {0}")]
    Header(&'static str),
    /// `alg: none`: an unsecured JWS is never accepted (RFC 8725 §3.2).
    #[error("alg none is refused")]
    AlgNone,
    /// An `alg` this crate does not implement (HMAC, PS256, ES384, ...).
    #[error("unsupported alg")]
    UnsupportedAlgorithm,
    /// A `crit` header: no extension is understood, so every critical one is refused.
    #[error("crit is refused")]
    Critical,
    /// `jku` or `x5u`: keys are never fetched from a URL the token names.
    #[error("the {0} header is refused: keys are never fetched from a token's URL")]
    KeyUrl(&'static str),
    /// `b64` (unencoded payload), `zip` or `enc` (JWE).
    #[error("the {0} header is not supported")]
    UnsupportedHeader(&'static str),
    /// The header's `jwk` is not a valid public JWK (or carries private members).
    #[error("invalid jwk header: {0}")]
    EmbeddedJwk(JwkError),
    /// No `jwk` header where the key must be in the token (DPoP).
    #[error("no jwk header")]
    MissingEmbeddedJwk,
    /// The token's `typ` is not the one the verifier requires.
    #[error("wrong typ")]
    WrongType,
    /// The token's `alg` is not the algorithm of the key verifying it.
    #[error("the alg is not the key's algorithm")]
    AlgorithmMismatch,
    /// No key of the set fits the token's `kid` and `alg`.
    #[error("no key for this token")]
    UnknownKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    Signature,
    /// The payload is not the JSON the caller asked for.
    #[error("invalid claims: {0}")]
    Claims(String),
}

/// A compact JWS whose structure and header passed every check that needs no key, and
/// whose signature is not yet verified.
///
/// Verify it with [`verify`](Self::verify) (one key), [`verify_with_set`](Self::verify_with_set)
/// (the key its `kid` names in a set) or [`verify_with_embedded_jwk`](Self::verify_with_embedded_jwk)
/// (DPoP): each consumes it and gives a [`VerifiedJws`], the only way to the payload.
#[derive(Debug, Clone)]
#[must_use = "an unverified token proves nothing until verified"]
pub struct UnverifiedJws {
    header: Header,
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl UnverifiedJws {
    /// Parses a compact JWS of at most [`MAX_JWS_LEN`] bytes.
    pub fn parse(token: &str) -> Result<Self, JwsError> {
        Self::parse_with_limit(token, MAX_JWS_LEN)
    }

    /// [`parse`](Self::parse) with another size limit.
    pub fn parse_with_limit(token: &str, max_len: usize) -> Result<Self, JwsError> {
        let parts = Parts::split(token, max_len)?;
        Ok(Self {
            header: Header::parse(&parts.header)?,
            signing_input: parts.signing_input,
            payload: parts.payload,
            signature: parts.signature,
        })
    }

    /// The checked but unauthenticated header: read its `kid` to choose a key.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload parsed as a JSON object into `T`, **before the signature is checked**: only
    /// to find the key to verify with (a client assertion's `sub` names the client whose keys
    /// verify it, RFC 7523 §3). Nothing read here may be trusted until a verification passes.
    pub(crate) fn unverified_claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        claims_of(&self.payload)
    }

    /// Verifies the token with `key`, requiring `typ`: the token's `alg` must be the key's
    /// algorithm, its `typ` must match, and the signature must verify.
    pub fn verify(self, key: &Jwk, typ: &Typ) -> Result<VerifiedJws, JwsError> {
        if self.header.algorithm() != key.algorithm() {
            return Err(JwsError::AlgorithmMismatch);
        }
        if !typ.matches(self.header.typ()) {
            return Err(JwsError::WrongType);
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwsError::Signature);
        }
        Ok(VerifiedJws {
            header: self.header,
            payload: self.payload,
        })
    }

    /// Verifies the token with the key of `keys` that its `kid` names (or, without `kid`,
    /// the set's only key of its algorithm), requiring `typ`.
    pub fn verify_with_set(self, keys: &JwkSet, typ: &Typ) -> Result<VerifiedJws, JwsError> {
        let key = keys
            .find(self.header.kid(), self.header.algorithm())
            .ok_or(JwsError::UnknownKey)?;
        self.verify(key, typ)
    }

    /// Verifies the token with the public key in its own `jwk` header, requiring `typ`:
    /// for DPoP proofs (RFC 9449 §4.3), where possession of that key is what is proved.
    /// Bind the result to the key by comparing [`Jwk::thumbprint`] with the access token's
    /// `cnf.jkt`. Never use this for tokens whose signer must be someone in particular.
    ///
    /// An embedded RSA `jwk` verifies the header's algorithm, `RS256` or `PS256`: the key is
    /// the token's own, so the token says how it signs (RFC 9449 proofs rarely name `alg` in
    /// their `jwk`, which would otherwise make every RSA key `RS256`).
    pub fn verify_with_embedded_jwk(self, typ: &Typ) -> Result<VerifiedJws, JwsError> {
        let key = self
            .header
            .jwk()
            .cloned()
            .ok_or(JwsError::MissingEmbeddedJwk)?;
        let alg = self.header.algorithm();
        let key = if key.algorithm() != alg && key.material().fits(alg) {
            Jwk::new(key.kid().map(str::to_owned), key.material().clone(), alg)
                .map_err(JwsError::EmbeddedJwk)?
        } else {
            key
        };
        self.verify(&key, typ)
    }
}

/// The three decoded parts of a compact JWS and its signing input, before the header is read.
struct Parts {
    signing_input: String,
    header: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Parts {
    fn split(token: &str, max_len: usize) -> Result<Self, JwsError> {
        if token.len() > max_len {
            return Err(JwsError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        Ok(Self {
            // The signing input is `header.payload`, exactly as received (RFC 7515 §5.2).
            signing_input: token[..header.len() + 1 + payload.len()].to_owned(),
            header: base64url::decode(header).ok_or(JwsError::Base64("header"))?,
            payload: base64url::decode(payload).ok_or(JwsError::Base64("payload"))?,
            signature: base64url::decode(signature).ok_or(JwsError::Base64("signature"))?,
        })
    }
}

/// A compact JWS with `alg` `HS256` (RFC 7518 §3.2), structure and header checked as
/// [`UnverifiedJws::parse`] checks them, signature not verified. Crate-private and used for
/// `client_secret_jwt` assertions only: HMAC is refused everywhere else (request objects,
/// DPoP proofs, ID tokens), which parse with [`UnverifiedJws`] and never reach this type.
#[derive(Debug, Clone)]
pub(crate) struct Hs256Jws {
    header: Hs256Header,
    signing_input: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Hs256Jws {
    /// Parses a compact JWS of at most `max_len` bytes whose `alg` is `HS256`.
    pub(crate) fn parse(token: &str, max_len: usize) -> Result<Self, JwsError> {
        let parts = Parts::split(token, max_len)?;
        Ok(Self {
            header: Header::parse_hs256(&parts.header)?,
            signing_input: parts.signing_input,
            payload: parts.payload,
            signature: parts.signature,
        })
    }

    /// The token's `typ`, if any.
    pub(crate) fn typ(&self) -> Option<&str> {
        self.header.typ()
    }

    /// The payload parsed as a JSON object, **before the signature is checked** (see
    /// [`UnverifiedJws::unverified_claims`]).
    pub(crate) fn unverified_claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        claims_of(&self.payload)
    }

    /// Verifies the HMAC-SHA256 tag with `secret` (the key's octets), in constant time
    /// (aws-lc-rs), requiring `typ`; returns the verified payload.
    pub(crate) fn verify(self, secret: &[u8], typ: &Typ) -> Result<Vec<u8>, JwsError> {
        if !typ.matches(self.header.typ()) {
            return Err(JwsError::WrongType);
        }
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        aws_lc_rs::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::Signature)?;
        Ok(self.payload)
    }
}

/// A payload verified by [`Hs256Jws::verify`], read as [`VerifiedJws::claims`] reads one.
pub(crate) fn verified_claims<T: DeserializeOwned>(payload: &[u8]) -> Result<T, JwsError> {
    claims_of(payload)
}

/// A token whose signature verified with the key the caller chose, and whose `alg` and
/// `typ` are the ones the caller required. Its claims are not checked yet: see
/// [`RegisteredClaims::validate`](super::RegisteredClaims::validate).
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, by value.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The payload parsed as a JSON object into `T` (duplicate claim names refused, as in
    /// the header).
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        claims_of(&self.payload)
    }
}

/// A payload read as one JSON object (duplicate member names refused) into `T`.
fn claims_of<T: DeserializeOwned>(payload: &[u8]) -> Result<T, JwsError> {
    let members =
        json::parse_object(payload).map_err(|error| JwsError::Claims(error.to_string()))?;
    serde_json::from_value(serde_json::Value::Object(members))
        .map_err(|error| JwsError::Claims(error.to_string()))
}

/// The header this crate writes: `alg`, `typ`, `kid`, in that order.
#[derive(Serialize)]
struct SignedHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `payload` as a compact JWS with header `{"alg":..,"typ":..,"kid":..}`.
///
/// The signer must be consistent (its `kid` and algorithm are its JWK's) and its signature
/// of the length its algorithm gives; otherwise nothing is returned.
pub async fn sign(signer: &dyn Signer, typ: &Typ, payload: &[u8]) -> Result<String, SignError> {
    if !signer::is_consistent(signer) {
        return Err(SignError::InconsistentSigner);
    }
    let alg = signer.algorithm();
    let header = serde_json::to_vec(&SignedHeader {
        alg: alg.as_str(),
        typ: typ.as_str(),
        kid: signer.key_id(),
    })
    .map_err(|error| SignError::Claims(error.to_string()))?;
    let mut token = base64url::encode(header);
    token.push('.');
    base64url::encode_into(payload, &mut token);
    let signature = signer.sign(token.as_bytes()).await?;
    if signature.len() != signature_len(alg, signer.public_jwk()) {
        return Err(SignError::MalformedSignature(alg));
    }
    token.push('.');
    base64url::encode_into(&signature, &mut token);
    Ok(token)
}

/// Serialises `claims` to JSON and [`sign`]s them.
pub async fn sign_claims<T: Serialize + Sync + ?Sized>(
    signer: &dyn Signer,
    typ: &Typ,
    claims: &T,
) -> Result<String, SignError> {
    let payload =
        serde_json::to_vec(claims).map_err(|error| SignError::Claims(error.to_string()))?;
    sign(signer, typ, &payload).await
}

/// The length of a valid signature by `key`.
fn signature_len(alg: Algorithm, key: &Jwk) -> usize {
    match (alg.signature_len(), key.material()) {
        (Some(len), _) => len,
        (None, Material::Rsa { n, .. }) => n.len(),
        (None, _) => 0,
    }
}
