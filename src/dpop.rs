//! DPoP (RFC 9449): proof verification, sans-IO, and stateless server nonces.
//!
//! A DPoP proof is a JWS (`typ: dpop+jwt`) signed by a key the client holds, whose public half
//! is in the proof's `jwk` header; it names the request it was made for (`htm`, `htu`), when
//! (`iat`), a unique `jti` and, at a resource, the access token it goes with (`ath`). Tokens
//! issued with a proof are bound to the key's RFC 7638 thumbprint (`cnf.jkt`).
//!
//! [`DpopPolicy::verify`] makes every check of RFC 9449 §4.3 that needs no storage; the
//! provider ([`crate::Provider::verify_dpop`]) adds the `jti` replay check through the
//! [`ReplayStore`](crate::store::ReplayStore) every instance shares, so a proof is accepted
//! once across all of them.
//!
//! # Nonces
//! [`DpopPolicy::with_nonces`] makes the server require a nonce it issued (RFC 9449 §8, §9).
//! Nonces are stateless: `base64url(period || HMAC-SHA-256(secret, period)[..16])` where
//! `period` is the current time bucket; a nonce of the current or the previous bucket is
//! accepted. Every instance given the same secret issues and accepts the same nonces, with no
//! storage. A nonce is not single-use (the `jti` is): it proves the proof is recent by the
//! server's clock, which is what RFC 9449 §8 asks of it.
//!
//! ```
//! use tessera::dpop::{DpopPolicy, ProofRequest};
//!
//! let policy = DpopPolicy::new();
//! let refused = policy.verify(&ProofRequest::new("not.a.jws", "POST", "https://as.example/token"), 0);
//! assert_eq!(refused.unwrap_err().code().as_str(), "invalid_dpop_proof");
//! ```

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::error::ErrorCode;
use crate::jose::{Algorithm, JwsError, Typ, UnverifiedJws};
use crate::store::ReplayKey;

/// The longest `jti` accepted (RFC 9449 does not bound it; a UUID is 36 characters).
pub const MAX_JTI_LEN: usize = 256;
/// The longest `DPoP` header value accepted: a proof with an 8192-bit RSA key fits.
pub const MAX_PROOF_LEN: usize = 8 * 1024;

/// How a provider checks DPoP proofs: the algorithms it accepts, how old a proof may be, and
/// whether it requires server nonces.
///
/// ```
/// use tessera::dpop::DpopPolicy;
/// use tessera::jose::Algorithm;
/// use time::Duration;
///
/// let policy = DpopPolicy::new()
///     .algorithms(&[Algorithm::Es256])
///     .max_age(Duration::seconds(60))
///     .with_nonces(&[7u8; 32])?;
/// assert_eq!(policy.algorithm_names(), vec!["ES256"]);
/// assert!(policy.requires_nonce());
/// # Ok::<(), tessera::dpop::DpopConfigError>(())
/// ```
#[derive(Clone)]
pub struct DpopPolicy {
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    leeway: Duration,
    nonces: Option<Nonces>,
}

#[derive(Clone)]
struct Nonces {
    key: aws_lc_rs::hmac::Key,
    period: i64,
}

impl std::fmt::Debug for DpopPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopPolicy")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("nonce_period", &self.nonces.as_ref().map(|n| n.period))
            .finish()
    }
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// A DPoP setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopConfigError {
    /// The nonce secret is shorter than 32 bytes.
    #[error("the DPoP nonce secret must be at least 32 bytes")]
    ShortSecret,
    /// The nonce period is not between 10 seconds and one day.
    #[error("the DPoP nonce period must be between 10 seconds and one day")]
    NoncePeriod,
}

impl DpopPolicy {
    /// Every algorithm of [`Algorithm::ALL`] (all asymmetric), proofs up to five minutes old
    /// (and up to one minute ahead of the clock), no nonces.
    pub fn new() -> Self {
        Self {
            algorithms: Algorithm::ALL.to_vec(),
            max_age: Duration::minutes(5),
            leeway: Duration::minutes(1),
            nonces: None,
        }
    }

    /// Accepts only these algorithms (an empty list accepts none: DPoP is then refused).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Refuses proofs whose `iat` is more than `age` in the past (at least one second).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age.max(Duration::seconds(1));
        self
    }

    /// Accepts proofs whose `iat` is up to `leeway` in the future (clock skew).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.max(Duration::ZERO);
        self
    }

    /// Requires server nonces, made and checked with `secret` (at least 32 bytes; give every
    /// instance the same one), in five-minute periods.
    pub fn with_nonces(mut self, secret: &[u8]) -> Result<Self, DpopConfigError> {
        if secret.len() < 32 {
            return Err(DpopConfigError::ShortSecret);
        }
        self.nonces = Some(Nonces {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            period: 300,
        });
        Ok(self)
    }

    /// The length of a nonce period (default five minutes; 10 seconds to one day): a nonce is
    /// accepted during its period and the next.
    pub fn nonce_period(mut self, period: Duration) -> Result<Self, DpopConfigError> {
        let seconds = period.whole_seconds();
        if !(10..=86_400).contains(&seconds) {
            return Err(DpopConfigError::NoncePeriod);
        }
        if let Some(nonces) = &mut self.nonces {
            nonces.period = seconds;
        }
        Ok(self)
    }

    /// Whether proofs must carry a server nonce.
    pub fn requires_nonce(&self) -> bool {
        self.nonces.is_some()
    }

    /// The accepted algorithms' names, for `dpop_signing_alg_values_supported` and the
    /// `algs` of a `WWW-Authenticate: DPoP` challenge.
    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.algorithms.iter().map(|alg| alg.as_str()).collect()
    }

    /// The nonce to hand out at `now` (unix seconds), in a `DPoP-Nonce` header; `None`
    /// without nonces.
    pub fn nonce(&self, now: i64) -> Option<String> {
        let nonces = self.nonces.as_ref()?;
        Some(nonces.make(now.div_euclid(nonces.period)))
    }

    /// Every check of RFC 9449 §4.3 but the `jti` replay check (which needs the shared store:
    /// [`crate::Provider::verify_dpop`] does both). `now` is unix seconds.
    pub fn verify(&self, request: &ProofRequest<'_>, now: i64) -> Result<VerifiedProof, DpopError> {
        if request.proof.len() > MAX_PROOF_LEN {
            return Err(DpopError::invalid("the DPoP proof is too long"));
        }
        // §4.3 steps 2-4: one well-formed JWT, with typ dpop+jwt, an allowed asymmetric alg
        // and a public jwk.
        let jws = UnverifiedJws::parse(request.proof).map_err(jws_error)?;
        if !self.algorithms.contains(&jws.header().algorithm()) {
            return Err(DpopError::invalid("the DPoP proof's alg is not accepted"));
        }
        let jkt = match jws.header().jwk() {
            Some(jwk) => jwk.thumbprint(),
            None => return Err(DpopError::invalid("the DPoP proof has no jwk header")),
        };
        // §4.3 steps 5-7: the signature by that jwk.
        let verified = jws
            .verify_with_embedded_jwk(&Typ::DPOP_JWT)
            .map_err(jws_error)?;
        let claims: ProofClaims = verified.claims().map_err(|_| {
            DpopError::invalid(
                "the DPoP proof lacks jti, htm, htu or iat, or has a claim of the wrong type",
            )
        })?;
        if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
            return Err(DpopError::invalid(
                "the DPoP proof's jti is empty or too long",
            ));
        }
        // §4.3 step 8: htm.
        if claims.htm != request.method {
            return Err(DpopError::invalid(
                "the DPoP proof's htm is not the request's method",
            ));
        }
        // §4.3 step 9: htu, normalised, without query and fragment.
        if !same_target(&claims.htu, request.url) {
            return Err(DpopError::invalid(
                "the DPoP proof's htu is not the request's URL",
            ));
        }
        // §4.3 step 11: a recent iat (the nonce, step 10, comes after: a stale proof is
        // refused as such, not answered with a nonce).
        if claims.iat < now.saturating_sub(self.max_age.whole_seconds()) {
            return Err(DpopError::invalid("the DPoP proof is too old (iat)"));
        }
        if claims.iat > now.saturating_add(self.leeway.whole_seconds()) {
            return Err(DpopError::invalid("the DPoP proof's iat is in the future"));
        }
        // §4.3 step 10: the server's nonce.
        if let Some(nonces) = &self.nonces {
            let fresh = claims
                .nonce
                .as_deref()
                .is_some_and(|nonce| nonces.accepts(nonce, now));
            if !fresh {
                return Err(DpopError::UseNonce);
            }
        }
        // §4.3 step 12: ath at resources; none expected at the authorization server.
        match (request.access_token, claims.ath.as_deref()) {
            (Some(token), Some(ath)) => {
                let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
                if !bool::from(expected.as_bytes().ct_eq(ath.as_bytes())) {
                    return Err(DpopError::invalid(
                        "the DPoP proof's ath is not the hash of the access token",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(DpopError::invalid(
                    "the DPoP proof has no ath for the access token",
                ));
            }
            (None, _) => {}
        }
        let expires_at = claims
            .iat
            .saturating_add(self.max_age.whole_seconds())
            .saturating_add(1);
        Ok(VerifiedProof {
            jkt,
            jti: claims.jti,
            iat: claims.iat,
            expires_at,
        })
    }
}

impl Nonces {
    fn tag(&self, bucket: i64) -> [u8; 16] {
        let mut input = b"tessera dpop nonce v1\0".to_vec();
        input.extend_from_slice(&bucket.to_be_bytes());
        let tag = aws_lc_rs::hmac::sign(&self.key, &input);
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.as_ref()[..16]);
        out
    }

    fn make(&self, bucket: i64) -> String {
        let mut bytes = bucket.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.tag(bucket));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn accepts(&self, nonce: &str, now: i64) -> bool {
        if nonce.len() != 32 {
            return false;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some((bucket, tag)) = bytes.split_first_chunk::<8>() else {
            return false;
        };
        let bucket = i64::from_be_bytes(*bucket);
        let current = now.div_euclid(self.period);
        (bucket == current || bucket == current - 1)
            && bool::from(self.tag(bucket).as_slice().ct_eq(tag))
    }
}

/// The claims of a proof (RFC 9449 §4.2); others are ignored.
#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Whether `htu` names the same resource as the request URL, per RFC 9449 §4.3: both parsed
/// (which applies RFC 3986 syntax- and scheme-based normalisation: case of scheme and host,
/// default ports, dot segments, percent-encoding), compared without query and fragment.
fn same_target(htu: &str, request_url: &str) -> bool {
    let (Ok(claimed), Ok(actual)) = (url::Url::parse(htu), url::Url::parse(request_url)) else {
        return false;
    };
    if claimed.cannot_be_a_base() || !matches!(claimed.scheme(), "http" | "https") {
        return false;
    }
    claimed.scheme() == actual.scheme()
        && claimed.host() == actual.host()
        && claimed.port_or_known_default() == actual.port_or_known_default()
        && claimed.path() == actual.path()
        && claimed.username().is_empty()
        && claimed.password().is_none()
}

fn jws_error(error: JwsError) -> DpopError {
    DpopError::invalid(match error {
        JwsError::TooLong => "the DPoP proof is too long",
        JwsError::Malformed | JwsError::Base64(_) => "the DPoP proof is not a compact JWS",
        JwsError::AlgNone | JwsError::UnsupportedAlgorithm => {
            "the DPoP proof's alg is not accepted"
        }
        JwsError::EmbeddedJwk(_) => "the DPoP proof's jwk is not a valid public key",
        JwsError::MissingEmbeddedJwk => "the DPoP proof has no jwk header",
        JwsError::WrongType => "the DPoP proof's typ is not dpop+jwt",
        JwsError::AlgorithmMismatch => "the DPoP proof's alg is not its jwk's algorithm",
        JwsError::Signature => "the DPoP proof's signature does not verify with its jwk",
        JwsError::Claims(_) => "the DPoP proof's claims are not one JSON object",
        _ => "the DPoP proof's header is invalid",
    })
}

/// The request a proof must have been made for, as the host received it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ProofRequest<'a> {
    /// The `DPoP` header's value.
    pub proof: &'a str,
    /// The HTTP method (`POST`, `GET`, ...), as sent.
    pub method: &'a str,
    /// The absolute URL the request was sent to, as the client addressed it (query and
    /// fragment are ignored).
    pub url: &'a str,
    /// At a resource: the access token presented with the proof (its hash must be `ath`).
    pub access_token: Option<&'a str>,
}

impl<'a> ProofRequest<'a> {
    /// A proof for a request to the authorization server (no access token).
    pub fn new(proof: &'a str, method: &'a str, url: &'a str) -> Self {
        Self {
            proof,
            method,
            url,
            access_token: None,
        }
    }

    /// The same, at a resource, with the access token that came with the proof.
    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }
}

/// A proof that passed every check: the key it proves possession of, and its `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    jkt: String,
    jti: String,
    iat: i64,
    expires_at: i64,
}

impl VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key: the `cnf.jkt` a token is bound to.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof's `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The proof's `iat`, unix seconds.
    pub fn issued_at(&self) -> i64 {
        self.iat
    }

    /// The key the replay cache remembers this proof under (its key and `jti`).
    pub fn replay_key(&self) -> ReplayKey {
        ReplayKey::new("dpop", &[&self.jkt, &self.jti])
    }

    /// Until when the replay cache must remember it: when its `iat` stops being accepted.
    pub fn replay_expires_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// `invalid_dpop_proof`: a check of RFC 9449 §4.3 failed.
    #[error("invalid_dpop_proof: {0}")]
    Invalid(Cow<'static, str>),
    /// `use_dpop_nonce`: the proof lacks a current server nonce (RFC 9449 §8).
    #[error("use_dpop_nonce: the DPoP proof must carry the server's current nonce")]
    UseNonce,
    /// `invalid_dpop_proof`: the proof was used before (its `jti`).
    #[error("invalid_dpop_proof: the DPoP proof was used before")]
    Replayed,
    /// The replay cache failed: the proof cannot be accepted now.
    #[error("the DPoP replay cache is unavailable")]
    Unavailable,
}

impl DpopError {
    fn invalid(description: &'static str) -> Self {
        Self::Invalid(Cow::Borrowed(description))
    }

    /// The wire code: `invalid_dpop_proof`, `use_dpop_nonce` or `temporarily_unavailable`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) | Self::Replayed => ErrorCode::InvalidDpopProof,
            Self::UseNonce => ErrorCode::UseDpopNonce,
            Self::Unavailable => ErrorCode::TemporarilyUnavailable,
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> Cow<'static, str> {
        match self {
            Self::Invalid(description) => description.clone(),
            Self::UseNonce => "the DPoP proof must carry the server's current nonce".into(),
            Self::Replayed => "the DPoP proof was used before".into(),
            Self::Unavailable => "the DPoP replay cache is unavailable; retry".into(),
        }
    }
}
