//! PKCE (RFC 7636): challenges at the authorization endpoint, verifiers at the token endpoint.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::OAuthError;
use serde::{Deserialize, Serialize};

/// A PKCE code challenge (RFC 7636 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PkceChallenge {
    /// The challenge text as sent by the client.
    pub challenge: String,
    /// The transformation.
    pub method: PkceMethod,
}

impl PkceChallenge {
    /// A challenge record.
    pub fn new(challenge: impl Into<String>, method: PkceMethod) -> Self {
        Self {
            challenge: challenge.into(),
            method,
        }
    }
}

/// A PKCE transformation (RFC 7636 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PkceMethod {
    /// `S256`: BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: the verifier itself. Refused unless enabled through [`crate::danger`].
    #[serde(rename = "plain")]
    Plain,
}

impl PkceMethod {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// Whether `text` is 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1, §4.2).
fn well_formed(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Parses `code_challenge` and `code_challenge_method` from an authorization request.
/// A missing method means `plain` (RFC 7636 §4.3), which is refused unless allowed.
pub(crate) fn parse_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    allow_plain: bool,
) -> Result<Option<PkceChallenge>, OAuthError> {
    let Some(challenge) = challenge else {
        return match method {
            Some(_) => Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            )),
            None => Ok(None),
        };
    };
    let method = match method {
        Some("S256") => PkceMethod::S256,
        Some("plain") | None if allow_plain => PkceMethod::Plain,
        Some("plain") | None => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method",
            ));
        }
    };
    if method == PkceMethod::S256 && (challenge.len() != 43 || !well_formed(challenge)) {
        return Err(OAuthError::invalid_request(
            "code_challenge is not a BASE64URL SHA-256 digest",
        ));
    }
    if method == PkceMethod::Plain && !well_formed(challenge) {
        return Err(OAuthError::invalid_request(
            "code_challenge must be 43 to 128 unreserved characters",
        ));
    }
    Ok(Some(PkceChallenge::new(challenge, method)))
}

/// Checks a `code_verifier` against the stored challenge (RFC 7636 §4.6). Any mismatch, and a
/// verifier sent for a code issued without a challenge (RFC 9700 §4.8.2), is `invalid_grant`.
pub(crate) fn verify(
    challenge: Option<&PkceChallenge>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent for a code issued without code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(challenge), Some(verifier)) => {
            if !well_formed(verifier) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            // The S256 challenge written on the stack: 32 digest bytes are 43 characters.
            let mut encoded = [0u8; 43];
            let derived: &[u8] = match challenge.method {
                PkceMethod::S256 => {
                    let digest = Sha256::digest(verifier.as_bytes());
                    match URL_SAFE_NO_PAD.encode_slice(digest, &mut encoded) {
                        Ok(len) => encoded.get(..len).unwrap_or_default(),
                        // Cannot happen (43 is exactly enough); then nothing matches.
                        Err(_) => &[],
                    }
                }
                PkceMethod::Plain => verifier.as_bytes(),
            };
            if !derived.is_empty() && bool::from(derived.ct_eq(challenge.challenge.as_bytes())) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match code_challenge",
                ))
            }
        }
    }
}

/// The S256 challenge for a verifier (for clients and tests).
///
/// ```
/// // RFC 7636 Appendix B.
/// assert_eq!(
///     tessera::pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/// );
/// ```
pub fn pkce_s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        let challenge = parse_challenge(Some(CHALLENGE), Some("S256"), false)
            .ok()
            .flatten();
        assert!(verify(challenge.as_ref(), Some(VERIFIER)).is_ok());
        assert!(verify(challenge.as_ref(), Some(&VERIFIER.replace('d', "e"))).is_err());
        // A stored challenge one character longer or shorter matches nothing.
        for stored in [format!("{CHALLENGE}A"), CHALLENGE[..42].to_owned()] {
            let challenge = PkceChallenge::new(stored, PkceMethod::S256);
            assert!(verify(Some(&challenge), Some(VERIFIER)).is_err());
        }
    }

    #[test]
    fn plain_is_refused_unless_allowed() {
        assert!(parse_challenge(Some(VERIFIER), Some("plain"), false).is_err());
        assert!(parse_challenge(Some(VERIFIER), None, false).is_err());
        let plain = parse_challenge(Some(VERIFIER), None, true).ok().flatten();
        assert!(verify(plain.as_ref(), Some(VERIFIER)).is_ok());
        assert!(verify(plain.as_ref(), Some(&VERIFIER.replace('d', "e"))).is_err());
        assert!(parse_challenge(Some(CHALLENGE), Some("S512"), true).is_err());
    }

    #[test]
    fn verifier_length_and_charset() {
        let challenge = PkceChallenge::new(CHALLENGE, PkceMethod::S256);
        for bad in ["short", &"a".repeat(129), &format!("{}+", &VERIFIER[..43])] {
            assert!(verify(Some(&challenge), Some(bad)).is_err(), "{bad}");
        }
        assert!(verify(None, Some(VERIFIER)).is_err());
        assert!(verify(Some(&challenge), None).is_err());
        assert!(verify(None, None).is_ok());
    }
}
