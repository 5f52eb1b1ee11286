//! The `request_uri` of a pushed authorization request (RFC 9126): the pushed parameters
//! themselves, sealed (ChaCha20-Poly1305) under a key every provider instance shares.
//!
//! Why sealed and not stored: a stored pushed request would be a new record in every store
//! (memory, PostgreSQL, Redis, SQLite, migrations, the conformance kit) for something that
//! lives a minute. Sealed, the `request_uri` carries the request to whichever instance the
//! browser reaches, and nothing is written until it is used: its single use goes through the
//! one-time cache every instance already shares ([`ReplayStore`](crate::store::ReplayStore)),
//! keyed by the request's random ID and kept no longer than the request lives. The price is
//! length: the sealed parameters are bounded ([`MAX_PUSHED_BYTES`]) so that the
//! `request_uri` stays under about 1.6 KiB, and the authorization URL well under 2 KiB.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

use crate::entropy::Entropy;
use crate::store::ReplayKey;

/// The prefix RFC 9126 §2.2 gives `request_uri` values.
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The most bytes the sealed request (its parameters, client ID and envelope, as JSON) may
/// take: the `request_uri` is then at most about 1600 characters.
pub(crate) const MAX_PUSHED_BYTES: usize = 1152;

/// The longest `request_uri` that can have come from here.
const MAX_REQUEST_URI_LEN: usize =
    REQUEST_URI_PREFIX.len() + (MAX_PUSHED_BYTES + 12 + 16).div_ceil(3) * 4;

/// Binds the ciphertext to its use: a value sealed for something else never opens here.
const AAD: &[u8] = b"tessera pushed authorization request v1";

/// The key pushed requests are sealed under.
pub(crate) struct PushedKey(ChaCha20Poly1305);

impl std::fmt::Debug for PushedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushedKey(redacted)")
    }
}

/// A pushed request, as sealed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Pushed {
    /// The client that pushed it.
    #[serde(rename = "c")]
    pub(crate) client_id: String,
    /// Its random ID: the key of its single use.
    #[serde(rename = "i")]
    pub(crate) id: String,
    /// When (unix seconds) it was pushed: a login since then is a fresh one.
    #[serde(rename = "t")]
    pub(crate) pushed_at: i64,
    /// Until when (unix seconds) it may be used.
    #[serde(rename = "e")]
    pub(crate) expires_at: i64,
    /// The authorization request's parameters, in order.
    #[serde(rename = "p")]
    pub(crate) params: Vec<(String, String)>,
}

impl Pushed {
    /// The one-time cache's key of this request.
    pub(crate) fn replay_key(&self) -> ReplayKey {
        ReplayKey::new("par", &[&self.id])
    }
}

/// Why a pushed request could not be sealed.
#[derive(Debug)]
pub(crate) enum SealError {
    /// Its parameters take more than [`MAX_PUSHED_BYTES`].
    TooLarge,
    /// The cipher refused (it does not, for inputs this small).
    Cipher,
}

impl PushedKey {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        Self(ChaCha20Poly1305::new(Key::from_slice(secret)))
    }

    /// A key drawn from `entropy`: good for one instance only.
    pub(crate) fn random(entropy: &dyn Entropy) -> Self {
        let mut secret = [0u8; 32];
        entropy.fill(&mut secret);
        Self::new(&secret)
    }

    /// The `request_uri` carrying `pushed`.
    pub(crate) fn seal(&self, entropy: &dyn Entropy, pushed: &Pushed) -> Result<String, SealError> {
        let plain = serde_json::to_vec(pushed).map_err(|_| SealError::Cipher)?;
        if plain.len() > MAX_PUSHED_BYTES {
            return Err(SealError::TooLarge);
        }
        let mut nonce = [0u8; 12];
        entropy.fill(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: AAD,
                },
            )
            .map_err(|_| SealError::Cipher)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let mut uri = String::with_capacity(MAX_REQUEST_URI_LEN);
        uri.push_str(REQUEST_URI_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&bytes, &mut uri);
        Ok(uri)
    }

    /// The request a `request_uri` carries, if it was sealed under this key (expiry is the
    /// caller's to check).
    pub(crate) fn open(&self, request_uri: &str) -> Option<Pushed> {
        if request_uri.len() > MAX_REQUEST_URI_LEN {
            return None;
        }
        let encoded = request_uri.strip_prefix(REQUEST_URI_PREFIX)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: AAD,
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(value: &str) -> Pushed {
        Pushed {
            client_id: "client".into(),
            id: "id-1".into(),
            pushed_at: 0,
            expires_at: 60,
            params: vec![("scope".into(), value.into())],
        }
    }

    #[test]
    fn sealed_requests_open_under_their_key_only() {
        let key = PushedKey::new(&[1; 32]);
        let uri = key
            .seal(&crate::OsEntropy, &pushed("read"))
            .unwrap_or_default();
        assert!(uri.starts_with(REQUEST_URI_PREFIX));
        let opened = key.open(&uri).map(|p| p.params);
        assert_eq!(opened, Some(vec![("scope".into(), "read".into())]));
        assert!(PushedKey::new(&[2; 32]).open(&uri).is_none());
        // One character changed: the tag no longer matches.
        let mut tampered = uri.clone();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.pop();
        tampered.push_str(last);
        assert!(key.open(&tampered).is_none());
        assert!(key.open("urn:ietf:params:oauth:request_uri:").is_none());
        assert!(key.open(&"x".repeat(5000)).is_none());
    }

    #[test]
    fn the_largest_sealed_request_stays_well_under_2_kib() {
        let key = PushedKey::new(&[1; 32]);
        let overhead = serde_json::to_vec(&pushed("")).map_or(0, |v| v.len());
        let largest = pushed(&"s".repeat(MAX_PUSHED_BYTES - overhead));
        let uri = key.seal(&crate::OsEntropy, &largest).unwrap_or_default();
        assert!(
            uri.len() <= MAX_REQUEST_URI_LEN && uri.len() < 1700,
            "{}",
            uri.len()
        );
        assert!(key.open(&uri).is_some());
        let too_large = pushed(&"s".repeat(MAX_PUSHED_BYTES - overhead + 1));
        assert!(matches!(
            key.seal(&crate::OsEntropy, &too_large),
            Err(SealError::TooLarge)
        ));
    }
}
