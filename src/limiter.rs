//! Bounding guesses: a limiter counts failed attempts per key and refuses a key that failed too
//! often within a window. The provider consults one on client authentication (keyed by client
//! ID) and one on device user-code entry (keyed by the host's attempt key).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Counts failed attempts per key (RFC 6819 §5.1.4.2.3, RFC 8628 §5.1). Implement it over a
/// shared store when several processes serve one provider; [`MemoryAttemptLimiter`] serves one
/// process.
#[async_trait::async_trait]
pub trait AttemptLimiter: Send + Sync + std::fmt::Debug {
    /// Whether `key` may make an attempt at `now` (false: it failed too often lately).
    async fn allowed(&self, key: &str, now: OffsetDateTime) -> bool;

    /// Records a failed attempt by `key` at `now`.
    async fn failed(&self, key: &str, now: OffsetDateTime);
}

/// An in-memory [`AttemptLimiter`]: at most `max_failures` failures per key in a fixed window
/// that starts at the key's first failure.
///
/// Memory is bounded: at most [`MemoryAttemptLimiter::MAX_KEYS`] keys are tracked; when full,
/// finished windows are dropped, and keys beyond that are not tracked (the flood is the host's
/// to throttle).
///
/// ```
/// use tessera::{AttemptLimiter, MemoryAttemptLimiter};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = MemoryAttemptLimiter::new(2, time::Duration::minutes(15));
/// let now = time::OffsetDateTime::UNIX_EPOCH;
/// limiter.failed("client-a", now).await;
/// assert!(limiter.allowed("client-a", now).await);
/// limiter.failed("client-a", now).await;
/// assert!(!limiter.allowed("client-a", now).await);
/// assert!(limiter.allowed("client-a", now + time::Duration::minutes(16)).await);
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryAttemptLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
}

impl MemoryAttemptLimiter {
    /// The most keys tracked at once.
    pub const MAX_KEYS: usize = 100_000;

    /// A limiter allowing `max_failures` failures per key per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, OffsetDateTime)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl AttemptLimiter for MemoryAttemptLimiter {
    async fn allowed(&self, key: &str, now: OffsetDateTime) -> bool {
        let mut failures = self.lock();
        match failures.get(key) {
            Some((_, since)) if now - *since > self.window => {
                failures.remove(key);
                true
            }
            Some((count, _)) => *count < self.max_failures,
            None => true,
        }
    }

    async fn failed(&self, key: &str, now: OffsetDateTime) {
        let mut failures = self.lock();
        if !failures.contains_key(key) && failures.len() >= Self::MAX_KEYS {
            let window = self.window;
            failures.retain(|_, (_, since)| now - *since <= window);
            if failures.len() >= Self::MAX_KEYS {
                return;
            }
        }
        let entry = failures.entry(key.to_owned()).or_insert((0, now));
        if now - entry.1 > self.window {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    }
}
