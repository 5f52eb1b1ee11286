//! A provider's signing keys and their rotation schedule, computed from timestamps.

use std::sync::Arc;

use time::Duration;

use super::alg::Algorithm;
use super::jwk_set::JwkSet;
use super::jws::{self, JwsError, UnverifiedJws, VerifiedJws};
use super::signer::{self, SignError, Signer};
use super::typ::Typ;

/// When a key is published, starts signing and (optionally) stops signing; seconds since
/// the Unix epoch, as [`Clock::unix_now`](crate::Clock::unix_now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchedule {
    publish_at: Option<i64>,
    activate_at: i64,
    retire_at: Option<i64>,
}

impl KeySchedule {
    /// Signs from `activate_at` until a later key of its algorithm activates; published from
    /// the builder's publish lead before.
    pub const fn active_from(activate_at: i64) -> Self {
        Self {
            publish_at: None,
            activate_at,
            retire_at: None,
        }
    }

    /// Active since the beginning of time: a single key, or the first key of a rotation.
    pub const fn always() -> Self {
        Self::active_from(i64::MIN)
    }

    /// Published from `publish_at` instead of the publish lead before activation.
    #[must_use]
    pub const fn published_from(mut self, publish_at: i64) -> Self {
        self.publish_at = Some(publish_at);
        self
    }

    /// Stops signing at `retire_at` even if no later key activates (a key withdrawn early);
    /// it stays published for the token lifetime after that.
    #[must_use]
    pub const fn retired_at(mut self, retire_at: i64) -> Self {
        self.retire_at = Some(retire_at);
        self
    }
}

/// Where a key is in its life at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Not published yet.
    Scheduled,
    /// Published, not yet signing.
    Next,
    /// Published and signing.
    Active,
    /// Published, no longer signing: tokens it signed may still be alive.
    Retired,
    /// No longer published: every token it signed has expired.
    Removed,
}

impl KeyState {
    /// Whether a key in this state is in the JWK Set.
    pub fn is_published(self) -> bool {
        matches!(self, Self::Next | Self::Active | Self::Retired)
    }
}

/// Why a key set could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// No key.
    #[error("a key set needs at least one key")]
    Empty,
    /// More than [`JwkSet::MAX_KEYS`] keys.
    #[error("too many keys")]
    TooManyKeys,
    /// Two keys with one `kid`.
    #[error("two keys have the kid {0:?}")]
    DuplicateKid(String),
    /// A signer whose `kid`, algorithm and public JWK disagree.
    #[error("the signer {0:?} is inconsistent")]
    InconsistentSigner(String),
    /// Two keys of one algorithm activate at the same instant.
    #[error("the key {0:?} activates at the same time as another of its algorithm")]
    SameActivation(String),
    /// `publish_at` after `activate_at`, or `retire_at` not after `activate_at`.
    #[error("the key {0:?} has an impossible schedule")]
    Schedule(String),
}

/// Builds a [`KeySet`].
#[derive(Debug)]
#[must_use]
pub struct KeySetBuilder {
    lifetime: i64,
    publish_lead: i64,
    keys: Vec<(Arc<dyn Signer>, KeySchedule)>,
}

impl KeySetBuilder {
    /// How long before activation a key is published when its schedule does not say
    /// (default one day): at least as long as relying parties cache the JWK Set.
    pub fn publish_lead(mut self, lead: Duration) -> Self {
        self.publish_lead = lead.whole_seconds().max(0);
        self
    }

    /// Adds a local key (or any signer).
    pub fn key(self, key: impl Signer + 'static, schedule: KeySchedule) -> Self {
        self.shared_key(Arc::new(key), schedule)
    }

    /// Adds a shared signer, such as a KMS client.
    pub fn shared_key(mut self, signer: Arc<dyn Signer>, schedule: KeySchedule) -> Self {
        self.keys.push((signer, schedule));
        self
    }

    /// Checks the keys and computes the schedule.
    pub fn build(self) -> Result<KeySet, KeySetError> {
        if self.keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        if self.keys.len() > JwkSet::MAX_KEYS {
            return Err(KeySetError::TooManyKeys);
        }
        for (i, (signer, schedule)) in self.keys.iter().enumerate() {
            let kid = signer.key_id();
            if !signer::is_consistent(signer.as_ref()) {
                return Err(KeySetError::InconsistentSigner(kid.to_owned()));
            }
            if self.keys[..i]
                .iter()
                .any(|(other, _)| other.key_id() == kid)
            {
                return Err(KeySetError::DuplicateKid(kid.to_owned()));
            }
            let alg = signer.algorithm();
            if self.keys[..i].iter().any(|(other, other_schedule)| {
                other.algorithm() == alg && other_schedule.activate_at == schedule.activate_at
            }) {
                return Err(KeySetError::SameActivation(kid.to_owned()));
            }
            let bad_publish = schedule
                .publish_at
                .is_some_and(|at| at > schedule.activate_at);
            let bad_retire = schedule
                .retire_at
                .is_some_and(|at| at <= schedule.activate_at);
            if bad_publish || bad_retire {
                return Err(KeySetError::Schedule(kid.to_owned()));
            }
        }
        let entries = self
            .keys
            .iter()
            .map(|(signer, schedule)| {
                let alg = signer.algorithm();
                let superseded_at = self
                    .keys
                    .iter()
                    .filter(|(other, _)| other.algorithm() == alg)
                    .map(|(_, other)| other.activate_at)
                    .filter(|&at| at > schedule.activate_at)
                    .min();
                let stop_at = match (superseded_at, schedule.retire_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                Entry {
                    signer: Arc::clone(signer),
                    publish_at: schedule
                        .publish_at
                        .unwrap_or(schedule.activate_at.saturating_sub(self.publish_lead)),
                    activate_at: schedule.activate_at,
                    stop_at,
                    remove_at: stop_at.map(|at| at.saturating_add(self.lifetime)),
                }
            })
            .collect();
        Ok(KeySet {
            entries,
            lifetime: self.lifetime,
        })
    }
}

/// One key and its computed schedule.
#[derive(Debug, Clone)]
struct Entry {
    signer: Arc<dyn Signer>,
    publish_at: i64,
    activate_at: i64,
    stop_at: Option<i64>,
    remove_at: Option<i64>,
}

impl Entry {
    fn state(&self, now: i64) -> KeyState {
        if now < self.publish_at {
            KeyState::Scheduled
        } else if now < self.activate_at {
            KeyState::Next
        } else if self.stop_at.is_none_or(|at| now < at) {
            KeyState::Active
        } else if self.remove_at.is_none_or(|at| now < at) {
            KeyState::Retired
        } else {
            KeyState::Removed
        }
    }
}

/// A provider's signing keys with their rotation schedule: which key of each algorithm
/// signs now, and the JWK Set to publish.
///
/// # Why plain data and no storage
/// Every provider instance must agree on which key signs and which keys are published. A key
/// set could live in the database with its private keys encrypted; tessera instead builds a
/// [`KeySet`] on each instance from the same supplied keys (files, a secret manager, a KMS)
/// and the same schedule, and derives each key's state from the time alone. Instances agree
/// as far as their clocks do, without coordination, storage, or private keys at rest in
/// another place; a rotation is a configuration change rolled out ahead of time.
///
/// # States
/// With `lifetime` the longest life of anything signed (plus clock skew), each key is:
///
/// | state | from | until | published | signs |
/// | --- | --- | --- | --- | --- |
/// | [`Scheduled`](KeyState::Scheduled) | | `publish_at` | no | no |
/// | [`Next`](KeyState::Next) | `publish_at` | `activate_at` | yes | no |
/// | [`Active`](KeyState::Active) | `activate_at` | the next key of its algorithm activates, or `retire_at` | yes | yes |
/// | [`Retired`](KeyState::Retired) | then | `lifetime` later: `retire_until` | yes | no |
/// | [`Removed`](KeyState::Removed) | `retire_until` | | no | no |
///
/// `publish_at` defaults to `activate_at` minus the publish lead (a day), so relying
/// parties that cache the JWK Set for up to a day see a key before the first token it signs.
/// Each algorithm rotates on its own: an RS256 and an ES256 key can both be active.
///
/// # Example
/// ```
/// use tessera::jose::{Algorithm, KeySchedule, KeySet, KeyState, SigningKey};
/// use time::Duration;
///
/// let day = 86_400;
/// let old = SigningKey::generate(Algorithm::Es256)?.with_kid("2026-01")?;
/// let new = SigningKey::generate(Algorithm::Es256)?.with_kid("2026-02")?;
/// let keys = KeySet::builder(Duration::hours(1))
///    .key(old, KeySchedule::always())
///    .key(new, KeySchedule::active_from(30 * day))
///    .build()?;
/// // The day before the rotation, the next key is published but does not sign.
/// assert_eq!(keys.state("2026-02", 29 * day), Some(KeyState::Next));
/// assert_eq!(keys.signer(Algorithm::Es256, 29 * day).unwrap().key_id(), "2026-01");
/// assert_eq!(keys.jwks(29 * day).keys().len(), 2);
/// // After it, the old key stays published for the token lifetime, then disappears.
/// assert_eq!(keys.signer(Algorithm::Es256, 30 * day).unwrap().key_id(), "2026-02");
/// assert_eq!(keys.state("2026-01", 30 * day + 3599), Some(KeyState::Retired));
/// assert_eq!(keys.state("2026-01", 30 * day + 3600), Some(KeyState::Removed));
/// assert_eq!(keys.jwks(30 * day + 3600).keys().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeySet {
    entries: Vec<Entry>,
    lifetime: i64,
}

impl KeySet {
    /// A builder; `max_token_lifetime` is the longest lifetime of anything signed, plus the
    /// clock skew relying parties allow: how long a retired key stays published.
    pub fn builder(max_token_lifetime: Duration) -> KeySetBuilder {
        KeySetBuilder {
            lifetime: max_token_lifetime.whole_seconds().max(0),
            publish_lead: 86_400,
            keys: Vec::new(),
        }
    }

    /// The `max_token_lifetime` the set was built with: how long a retired key stays
    /// published. Nothing it signs may live longer (the provider caps JWT access tokens by it).
    pub fn max_token_lifetime(&self) -> Duration {
        Duration::seconds(self.lifetime)
    }

    /// The state of the key `kid` at `now`; `None` for a key not in the set.
    pub fn state(&self, kid: &str, now: i64) -> Option<KeyState> {
        self.entries
            .iter()
            .find(|entry| entry.signer.key_id() == kid)
            .map(|entry| entry.state(now))
    }

    /// The key that signs with `alg` at `now`, if one is active.
    pub fn signer(&self, alg: Algorithm, now: i64) -> Option<&Arc<dyn Signer>> {
        self.entries
            .iter()
            .filter(|entry| entry.signer.algorithm() == alg && entry.state(now) == KeyState::Active)
            .max_by_key(|entry| entry.activate_at)
            .map(|entry| &entry.signer)
    }

    /// The algorithms some key signs with at `now` (for discovery metadata such as
    /// `id_token_signing_alg_values_supported`).
    pub fn algorithms(&self, now: i64) -> Vec<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(|&alg| self.signer(alg, now).is_some())
            .collect()
    }

    /// The JWK Set to publish at `now`: the public keys of every next, active and retired
    /// key, with distinct `kid`s, never anything private.
    pub fn jwks(&self, now: i64) -> JwkSet {
        let keys = self
            .published(now)
            .map(|entry| entry.signer.public_jwk().clone())
            .collect();
        // The builder refused duplicate kids and more than MAX_KEYS keys.
        JwkSet::new(keys).unwrap_or_default()
    }

    /// The next instant after `now` at which some key changes state, if any: the JWK Set
    /// may be cached until then (an HTTP `max-age`).
    pub fn next_change(&self, now: i64) -> Option<i64> {
        self.entries
            .iter()
            .flat_map(|entry| {
                [
                    Some(entry.publish_at),
                    Some(entry.activate_at),
                    entry.stop_at,
                    entry.remove_at,
                ]
            })
            .flatten()
            .filter(|&at| at > now)
            .min()
    }

    /// Signs `payload` with the key active for `alg` at `now` (see [`jws::sign`]).
    pub async fn sign(
        &self,
        alg: Algorithm,
        typ: &Typ,
        payload: &[u8],
        now: i64,
    ) -> Result<String, SignError> {
        let signer = self.signer(alg, now).ok_or(SignError::NoActiveKey(alg))?;
        jws::sign(signer.as_ref(), typ, payload).await
    }

    /// Verifies a token this key set signed: the published key its `kid` names must verify
    /// it, with its algorithm, and its `typ` must be `typ`. Claims are not checked.
    pub fn verify(&self, token: &str, typ: &Typ, now: i64) -> Result<VerifiedJws, JwsError> {
        let token = UnverifiedJws::parse(token)?;
        let kid = token.header().kid().ok_or(JwsError::UnknownKey)?;
        let key = self
            .published(now)
            .find(|entry| entry.signer.key_id() == kid)
            .ok_or(JwsError::UnknownKey)?
            .signer
            .public_jwk()
            .clone();
        token.verify(&key, typ)
    }

    fn published(&self, now: i64) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.state(now).is_published())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;

    fn key(alg: Algorithm, kid: &str) -> SigningKey {
        SigningKey::generate(alg).unwrap().with_kid(kid).unwrap()
    }

    #[test]
    fn rotation_publishes_before_signing_and_keeps_retired_keys_for_the_lifetime() {
        let keys = KeySet::builder(Duration::seconds(100))
            .publish_lead(Duration::seconds(50))
            .key(key(Algorithm::Es256, "a"), KeySchedule::always())
            .key(key(Algorithm::Es256, "b"), KeySchedule::active_from(1_000))
            .key(
                key(Algorithm::Rs256, "r"),
                KeySchedule::active_from(0).retired_at(2_000),
            )
            .build()
            .unwrap();
        let states = |now| ["a", "b", "r"].map(|kid| keys.state(kid, now).unwrap());
        use KeyState::*;
        assert_eq!(states(-51), [Active, Scheduled, Scheduled]);
        assert_eq!(states(-50), [Active, Scheduled, Next]);
        assert_eq!(states(949), [Active, Scheduled, Active]);
        assert_eq!(states(950), [Active, Next, Active]);
        assert_eq!(states(1_000), [Retired, Active, Active]);
        assert_eq!(states(1_099), [Retired, Active, Active]);
        assert_eq!(states(1_100), [Removed, Active, Active]);
        assert_eq!(states(2_000), [Removed, Active, Retired]);
        assert_eq!(states(2_100), [Removed, Active, Removed]);
        assert_eq!(keys.signer(Algorithm::Es256, 999).unwrap().key_id(), "a");
        assert_eq!(keys.signer(Algorithm::Es256, 1_000).unwrap().key_id(), "b");
        assert_eq!(keys.algorithms(1_500), [Algorithm::Rs256, Algorithm::Es256]);
        assert_eq!(keys.algorithms(2_000), [Algorithm::Es256]);
        assert!(keys.signer(Algorithm::EdDsa, 0).is_none());
        let kids = |now| {
            keys.jwks(now)
                .keys()
                .iter()
                .map(|k| k.kid().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(0), ["a", "r"]);
        assert_eq!(kids(960), ["a", "b", "r"]);
        assert_eq!(kids(1_100), ["b", "r"]);
        assert_eq!(kids(2_100), ["b"]);
        assert_eq!(keys.next_change(-51), Some(-50));
        assert_eq!(keys.next_change(0), Some(950));
        assert_eq!(keys.next_change(950), Some(1_000));
        assert_eq!(keys.next_change(2_100), None);
    }

    #[test]
    fn impossible_sets_are_refused() {
        let build = |keys: Vec<(SigningKey, KeySchedule)>| {
            keys.into_iter()
                .fold(KeySet::builder(Duration::hours(1)), |b, (k, s)| b.key(k, s))
                .build()
        };
        assert_eq!(build(vec![]).unwrap_err(), KeySetError::Empty);
        assert_eq!(
            build(vec![
                (key(Algorithm::EdDsa, "a"), KeySchedule::always()),
                (key(Algorithm::Es256, "a"), KeySchedule::always()),
            ])
            .unwrap_err(),
            KeySetError::DuplicateKid("a".into())
        );
        assert_eq!(
            build(vec![
                (key(Algorithm::EdDsa, "a"), KeySchedule::active_from(5)),
                (key(Algorithm::EdDsa, "b"), KeySchedule::active_from(5)),
            ])
            .unwrap_err(),
            KeySetError::SameActivation("b".into())
        );
        assert_eq!(
            build(vec![(
                key(Algorithm::EdDsa, "a"),
                KeySchedule::active_from(5).published_from(6)
            )])
            .unwrap_err(),
            KeySetError::Schedule("a".into())
        );
        assert_eq!(
            build(vec![(
                key(Algorithm::EdDsa, "a"),
                KeySchedule::active_from(5).retired_at(5)
            )])
            .unwrap_err(),
            KeySetError::Schedule("a".into())
        );
    }
}
