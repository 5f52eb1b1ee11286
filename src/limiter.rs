//! Bounding guesses: a limiter counts attempts per key and refuses a key that failed too often
//! within a window. The provider consults one on client authentication (keyed by client and
//! source) and one on device user-code entry (keyed by user and by source, under a global cap).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// What a limiter decided about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a refused attempt must not go ahead"]
#[allow(clippy::exhaustive_enums)] // an attempt goes ahead or it does not
pub enum Attempt {
    /// Go ahead; report the outcome with [`AttemptLimiter::succeeded`] (a failure needs no
    /// report: the attempt already counted).
    Allowed,
    /// Too many failures lately; try again after this long.
    Refused {
        /// How long until the key's window ends.
        retry_after: Duration,
    },
}

/// Counts attempts per key (RFC 6819 §5.1.4.2.3, RFC 8628 §5.1). Implement it over a shared
/// store when several processes serve one provider; [`MemoryAttemptLimiter`] serves one process.
///
/// # Contract
/// [`AttemptLimiter::attempt`] checks and counts in one atomic step: of any number of concurrent
/// attempts for one key, no more than the budget are allowed before some of them report
/// success. [`AttemptLimiter::succeeded`] takes the attempt back, so that only failures (and
/// attempts still in flight) use up a key's budget.
#[async_trait::async_trait]
pub trait AttemptLimiter: Send + Sync + std::fmt::Debug {
    /// Counts an attempt by `key` at `now` and says whether it may go ahead.
    async fn attempt(&self, key: &str, now: OffsetDateTime) -> Attempt;

    /// The attempt `key` made (and was allowed) succeeded: it no longer counts.
    async fn succeeded(&self, key: &str, now: OffsetDateTime);
}

/// An in-memory [`AttemptLimiter`]: at most `max_failures` counted attempts per key in a fixed
/// window that starts at the key's first counted attempt.
///
/// Memory is bounded: at most [`MemoryAttemptLimiter::MAX_KEYS`] keys are tracked; when full,
/// finished windows are dropped, and a new key that still finds no room is let through
/// untracked. Refusing it instead would let anyone with enough addresses lock every client
/// out; the guesses it lets through are worthless against generated secrets (256 bits), and
/// the provider's global cap bounds device user-code guesses. Hosts keying by IPv6 address
/// should pass the /64 prefix as the source.
///
/// ```
/// use tessera::{Attempt, AttemptLimiter, MemoryAttemptLimiter};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let limiter = MemoryAttemptLimiter::new(2, time::Duration::minutes(15));
/// let now = time::OffsetDateTime::UNIX_EPOCH;
/// assert_eq!(limiter.attempt("client-a", now).await, Attempt::Allowed); // fails: counted
/// assert_eq!(limiter.attempt("client-a", now).await, Attempt::Allowed);
/// limiter.succeeded("client-a", now).await; // this one succeeded: given back
/// assert_eq!(limiter.attempt("client-a", now).await, Attempt::Allowed); // fails: counted
/// assert!(matches!(limiter.attempt("client-a", now).await, Attempt::Refused { .. }));
/// assert_eq!(limiter.attempt("client-b", now).await, Attempt::Allowed);
/// let later = now + time::Duration::minutes(16);
/// assert_eq!(limiter.attempt("client-a", later).await, Attempt::Allowed);
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryAttemptLimiter {
    max_failures: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
}

impl MemoryAttemptLimiter {
    /// The most keys tracked at once.
    pub const MAX_KEYS: usize = 100_000;

    /// A limiter allowing `max_failures` failures per key per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, OffsetDateTime)>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl AttemptLimiter for MemoryAttemptLimiter {
    async fn attempt(&self, key: &str, now: OffsetDateTime) -> Attempt {
        let window = self.window;
        let mut counts = self.lock();
        // One lookup for a tracked key; a new one (the usual case: a success gives its attempt
        // back and drops the key) is inserted with its first attempt counted.
        let Some(entry) = counts.get_mut(key) else {
            if counts.len() >= Self::MAX_KEYS {
                counts.retain(|_, (_, since)| now - *since <= window);
                if counts.len() >= Self::MAX_KEYS {
                    return Attempt::Allowed;
                }
            }
            if self.max_failures == 0 {
                counts.insert(key.to_owned(), (0, now));
                return Attempt::Refused {
                    retry_after: window.max(Duration::seconds(1)),
                };
            }
            counts.insert(key.to_owned(), (1, now));
            return Attempt::Allowed;
        };
        if now - entry.1 > window {
            *entry = (0, now);
        }
        if entry.0 >= self.max_failures {
            let retry_after = (entry.1 + window - now).max(Duration::seconds(1));
            return Attempt::Refused { retry_after };
        }
        entry.0 += 1;
        Attempt::Allowed
    }

    async fn succeeded(&self, key: &str, _now: OffsetDateTime) {
        let mut counts = self.lock();
        // One lookup when the key goes (its last counted attempt succeeded), two otherwise.
        if let Some((key, (count, since))) = counts.remove_entry(key)
            && count > 1
        {
            counts.insert(key, (count - 1, since));
        }
    }
}
