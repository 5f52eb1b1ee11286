//! Randomness, injected: every secret is drawn from an [`Entropy`] the provider holds.

use std::fmt;
#[cfg(any(test, feature = "testkit"))]
use std::sync::Mutex;

use rand::RngCore;
#[cfg(any(test, feature = "testkit"))]
use rand::SeedableRng;

/// A cryptographically secure random source.
///
/// # Contract
/// Implementations used outside tests must be CSPRNGs seeded from the operating system:
/// every token, code and secret tessera issues is only as unguessable as these bytes.
pub trait Entropy: Send + Sync + fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The default source: the thread-local CSPRNG of `rand` (ChaCha12, reseeded from the
/// operating system). No lock is shared between threads.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

#[cfg(any(test, feature = "testkit"))]
/// A deterministic source for tests: the same seed yields the same tokens.
///
/// # Security
/// Never use it in production: anyone who knows the seed knows every secret.
#[derive(Debug)]
pub struct SeededEntropy {
    rng: Mutex<rand::rngs::StdRng>,
}

#[cfg(any(test, feature = "testkit"))]
impl SeededEntropy {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_entropy_is_repeatable_and_os_entropy_is_not() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        SeededEntropy::new(7).fill(&mut a);
        SeededEntropy::new(7).fill(&mut b);
        assert_eq!(a, b);
        OsEntropy.fill(&mut a);
        OsEntropy.fill(&mut b);
        assert_ne!(a, b);
    }
}
