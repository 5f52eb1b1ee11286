//! Time, injected: the core never reads the operating system's clock directly.

use std::fmt;
#[cfg(any(test, feature = "testkit"))]
use std::sync::{Arc, Mutex};

#[cfg(any(test, feature = "testkit"))]
use time::Duration;
use time::OffsetDateTime;

/// A source of the current time. The [`crate::Provider`] holds one; tests use
/// `testkit::ManualClock`.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, UTC.
    fn now(&self) -> OffsetDateTime;

    /// The current time in whole seconds since the Unix epoch: the same instant as
    /// [`Clock::now`], for comparisons that need no calendar (bearer validation's expiry
    /// check). Override it only with something cheaper that agrees with `now`.
    fn unix_now(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The operating system's clock, read in whole seconds (every stored time is whole seconds,
/// so a record reads back exactly as written from every backend).
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct SystemClock;

impl Clock for SystemClock {
    // One reading of the system clock for both methods, so they cannot disagree.
    fn now(&self) -> OffsetDateTime {
        // Out of range only for a system clock set beyond the year 9999.
        OffsetDateTime::from_unix_timestamp(self.unix_now()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    // The system time without the calendar arithmetic of building an `OffsetDateTime`.
    fn unix_now(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
/// A clock that only moves when told to. Clones share the same time.
///
/// ```
/// use tessera::{Clock, testkit::ManualClock};
/// use time::Duration;
///
/// let clock = ManualClock::new(time::OffsetDateTime::UNIX_EPOCH);
/// let before = clock.now();
/// clock.advance(Duration::seconds(61));
/// assert_eq!(clock.now() - before, Duration::seconds(61));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

#[cfg(any(test, feature = "testkit"))]
impl ManualClock {
    /// A clock standing at `start`. Sub-second precision is dropped so that stored times
    /// round-trip through every store unchanged.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start.replace_nanosecond(0).unwrap_or(start))),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: OffsetDateTime) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = to;
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_unix_now_is_the_same_instant_as_now() {
        let clock = SystemClock;
        let before = clock.now().unix_timestamp();
        let unix = clock.unix_now();
        let after = clock.now().unix_timestamp();
        assert!(
            before <= unix && unix <= after,
            "{before} <= {unix} <= {after}"
        );
        let manual = ManualClock::new(OffsetDateTime::UNIX_EPOCH + Duration::seconds(42));
        assert_eq!(manual.unix_now(), 42);
    }
}
