//! The one-time-use cache: DPoP proof `jti`s (RFC 9449 §11.1) and client assertion `jti`s
//! (RFC 7523 §3), shared by every provider instance through the store.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::StoreError;

/// The key of a one-time value: a SHA-256 over a domain tag and the value's parts, so the
/// store never sees the values themselves and values of different uses never collide.
///
/// ```
/// use tessera::store::ReplayKey;
///
/// let a = ReplayKey::new("dpop", &["thumbprint", "jti-1"]);
/// assert_eq!(a, ReplayKey::new("dpop", &["thumbprint", "jti-1"]));
/// assert_ne!(a, ReplayKey::new("dpop", &["thumbprint", "jti-2"]));
/// // Parts are length-prefixed: ("ab", "c") is not ("a", "bc").
/// assert_ne!(ReplayKey::new("x", &["ab", "c"]), ReplayKey::new("x", &["a", "bc"]));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// The key of the value made of `parts`, used for `domain`.
    pub fn new(domain: &str, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in std::iter::once(&domain).chain(parts) {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// Rebuilds a key read back from storage.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes, for storage.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, for stores keyed by text.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplayKey({}..)", &self.to_hex()[..8])
    }
}

/// Remembers one-time values until they expire, so that a value used once is refused on
/// every provider instance sharing the store.
///
/// Entries are bounded by expiry: the caller sets `expires_at` from the value's own age
/// limit (a DPoP proof's `iat` plus the accepted window, a client assertion's `exp` plus the
/// leeway), never from anything later, and [`sweep_replays`](Self::sweep_replays) removes the
/// expired ones.
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records `key` until `expires_at` if it is not already recorded.
    ///
    /// # Contract
    /// One atomic step: `Ok(true)` when `key` was absent (or its entry had expired by `now`)
    /// and is now recorded until `expires_at`; `Ok(false)` when an unexpired entry exists (a
    /// replay), which is left as it was. Of any number of concurrent calls with one key, on
    /// any instances, exactly one gets `Ok(true)`. An entry need not be kept past
    /// `expires_at`. A store that cannot record (full, unreachable) returns an error, never
    /// `Ok(true)` without recording.
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes up to `limit` entries that expired before `now`; returns how many went.
    /// Stores whose entries expire by themselves (Redis) may return 0.
    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}
