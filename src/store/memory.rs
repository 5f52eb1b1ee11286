//! The in-memory backend: every store trait on maps behind locks, for tests, examples and
//! single-process hosts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceStatus, DeviceStore, Grant, GrantId, RefreshLookup, RetiredRefresh,
    Rotation, TokenRecord, TokenStore,
};
use crate::client::{Client, ClientId, UserId};
use crate::error::StoreError;
use crate::secret::TokenHash;

// Two concurrent lookups contend only when their tokens share a shard (the read lock's word
// is written by both): with 256, that is one pair in 256.
const SHARDS: usize = 256;

/// Every store trait in memory. Nothing survives the process.
///
/// Tokens live in 256 shards chosen by hash, each on its own cache line, so that
/// concurrent bearer validations take different read locks without sharing a line; operations
/// that touch several records take their locks in one fixed order (clients, codes, barred, grants,
/// token shards in index order, consents, devices), so they are atomic and cannot deadlock.
/// Writes lock only the token shards they touch.
#[derive(Debug, Default)]
pub struct MemoryStore {
    clients: RwLock<HashMap<ClientId, Client>>,
    codes: Mutex<HashMap<TokenHash, (CodeRecord, bool), DigestKeyed>>,
    /// Grants barred by a replay of their code, with the code's `expires_at` (kept until then).
    barred: Mutex<HashMap<GrantId, OffsetDateTime>>,
    grants: Mutex<HashMap<GrantId, (Grant, TokenSet)>>,
    shards: TokenShards,
    consents: RwLock<HashMap<(UserId, ClientId), Consent>>,
    devices: Mutex<Devices>,
}

/// The token shards, each behind its own lock.
#[derive(Debug)]
struct TokenShards([Padded<RwLock<Shard>>; SHARDS]);

impl Default for TokenShards {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Padded::default()))
    }
}

impl std::ops::Index<usize> for TokenShards {
    type Output = Padded<RwLock<Shard>>;
    fn index(&self, i: usize) -> &Self::Output {
        &self.0[i]
    }
}

/// One cache line (two, on CPUs that fetch lines in pairs) per shard: without it, a reader
/// taking one shard's lock invalidates its neighbours' lock word in the other cores' caches.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Debug, Default)]
struct Shard {
    live: HashMap<TokenHash, Arc<TokenRecord>, DigestKeyed>,
    retired: HashMap<TokenHash, RetiredRefresh, DigestKeyed>,
}

/// Hashes [`TokenHash`] keys by their first eight bytes, XORed with a random per-map key.
///
/// A `TokenHash` is already a SHA-256 digest, of a random token the server generated, so its
/// bytes are uniformly distributed; SipHash over its 32 bytes would cost more than the rest of
/// the lookup and add nothing. Presented tokens are attacker-chosen, but a lookup never inserts,
/// so it cannot build the long probe chains that hash flooding needs, and the stored keys are
/// the server's own random digests.
#[derive(Debug, Clone, Copy)]
struct DigestKeyed(u64);

/// The hashes of a grant's tokens (the server's own digests, like the shards' keys).
type TokenSet = HashSet<TokenHash, DigestKeyed>;

impl Default for DigestKeyed {
    fn default() -> Self {
        use std::hash::BuildHasher as _;
        Self(std::collections::hash_map::RandomState::new().hash_one(0u64))
    }
}

impl std::hash::BuildHasher for DigestKeyed {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(self.0)
    }
}

/// See [`DigestKeyed`]. Any other key type still hashes correctly (all of its bytes are folded
/// in), only without SipHash's resistance to chosen keys, so the maps keyed by it hold only
/// `TokenHash` keys.
#[derive(Debug, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        // A digest's first eight bytes are as random as all 32: one word is enough.
        if let Some(word) = chunks.next() {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            self.0 ^= u64::from_le_bytes(eight);
            if bytes.len() >= 32 {
                return;
            }
        }
        for word in chunks.by_ref() {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            self.0 = self.0.rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ u64::from_le_bytes(eight);
        }
        for byte in chunks.remainder() {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_usize(&mut self, _length: usize) {
        // The length prefix of the 32-byte array: the same for every key.
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Default)]
struct Devices {
    by_device: HashMap<TokenHash, DeviceRecord>,
    by_user_code: HashMap<TokenHash, TokenHash>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn shard_of(hash: &TokenHash) -> usize {
    usize::from(hash.as_bytes()[31]) % SHARDS
}

/// Write-locked token shards, locked in index order: all of them, or only those some hashes
/// fall in (kept sorted by index, so a write touching two shards holds two guards, not an
/// array of all 256).
struct Shards<'a>(Vec<(usize, RwLockWriteGuard<'a, Shard>)>);

impl Shards<'_> {
    /// The shard of `hash`, if this set locked it (callers lock every shard they ask for).
    fn of(&mut self, hash: &TokenHash) -> Option<&mut Shard> {
        let at = self.position(hash)?;
        self.0.get_mut(at).map(|(_, guard)| &mut **guard)
    }

    fn position(&self, hash: &TokenHash) -> Option<usize> {
        let index = shard_of(hash);
        self.0.binary_search_by_key(&index, |(i, _)| *i).ok()
    }

    fn remove(&mut self, hash: &TokenHash) -> bool {
        let Some(shard) = self.of(hash) else {
            return false;
        };
        let live = shard.live.remove(hash).is_some();
        let retired = shard.retired.remove(hash).is_some();
        live || retired
    }

    fn contains(&self, hash: &TokenHash) -> bool {
        self.position(hash)
            .and_then(|at| self.0.get(at))
            .is_some_and(|(_, shard)| {
                shard.live.contains_key(hash) || shard.retired.contains_key(hash)
            })
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn all_shards(&self) -> Shards<'_> {
        Shards((0..SHARDS).map(|i| (i, write(&self.shards[i].0))).collect())
    }

    /// The shards `hashes` fall in, write-locked in index order.
    fn shards_of<'h>(&self, hashes: impl IntoIterator<Item = &'h TokenHash>) -> Shards<'_> {
        let mut wanted: Vec<usize> = hashes.into_iter().map(shard_of).collect();
        wanted.sort_unstable();
        wanted.dedup();
        Shards(
            wanted
                .into_iter()
                .map(|i| (i, write(&self.shards[i].0)))
                .collect(),
        )
    }

    /// Removes grants (and their tokens) chosen by `doomed`; the caller holds the grants lock.
    fn remove_grants(
        &self,
        grants: &mut HashMap<GrantId, (Grant, TokenSet)>,
        doomed: impl Fn(&Grant) -> bool,
    ) -> (u64, u64) {
        let ids: Vec<GrantId> = grants
            .iter()
            .filter(|(_, (grant, _))| doomed(grant))
            .map(|(id, _)| id.clone())
            .collect();
        let mut shards = self.shards_of(
            ids.iter()
                .filter_map(|id| grants.get(id))
                .flat_map(|(_, hashes)| hashes.iter()),
        );
        let mut tokens = 0;
        for id in &ids {
            if let Some((_, hashes)) = grants.remove(id) {
                for hash in hashes {
                    tokens += u64::from(shards.remove(&hash));
                }
            }
        }
        (ids.len() as u64, tokens)
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut clients = write(&self.clients);
        if clients.contains_key(&client.id) {
            return Err(StoreError::Conflict);
        }
        clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(read(&self.clients).get(id).cloned())
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        match clients.get_mut(&client.id) {
            Some(stored) => {
                *stored = client.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        let mut codes = lock(&self.codes);
        let mut grants = lock(&self.grants);
        if clients.remove(id).is_none() {
            return Ok(false);
        }
        codes.retain(|_, (code, _)| code.grant.client_id != *id);
        self.remove_grants(&mut grants, |grant| grant.client_id == *id);
        write(&self.consents).retain(|(_, client), _| client != id);
        let mut devices = lock(&self.devices);
        let Devices {
            by_device,
            by_user_code,
        } = &mut *devices;
        by_device.retain(|_, record| record.client_id != *id);
        by_user_code.retain(|_, device| by_device.contains_key(device));
        Ok(true)
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        let mut codes = lock(&self.codes);
        if codes.contains_key(&code.hash) {
            return Err(StoreError::Conflict);
        }
        codes.insert(code.hash, (code.clone(), false));
        Ok(())
    }

    async fn take_code(&self, hash: &TokenHash) -> Result<CodeRedemption, StoreError> {
        let mut codes = lock(&self.codes);
        Ok(match codes.get_mut(hash) {
            None => CodeRedemption::Unknown,
            Some((code, true)) => {
                // Barred under the codes lock: an `issue_tokens` for the grant either already
                // stored its tokens (the caller's `revoke_grant` removes them) or sees the bar.
                lock(&self.barred).insert(code.grant.id.clone(), code.expires_at);
                CodeRedemption::Replayed(code.grant.id.clone())
            }
            Some((code, spent)) => {
                *spent = true;
                CodeRedemption::Redeemed(code.clone())
            }
        })
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut codes = lock(&self.codes);
        let doomed: Vec<TokenHash> = codes
            .iter()
            .filter(|(_, (code, _))| code.expires_at < now)
            .map(|(hash, _)| *hash)
            .take(limit)
            .collect();
        for hash in &doomed {
            codes.remove(hash);
        }
        let mut barred = lock(&self.barred);
        let lifted: Vec<GrantId> = barred
            .iter()
            .filter(|(_, expires_at)| **expires_at < now)
            .map(|(grant, _)| grant.clone())
            .take(limit)
            .collect();
        for grant in &lifted {
            barred.remove(grant);
        }
        Ok(doomed.len() as u64)
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn issue_tokens(&self, grant: &Grant, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        // Held until the tokens are stored, so that a bar cannot land between check and write.
        let barred = lock(&self.barred);
        if barred.contains_key(&grant.id) {
            return Err(StoreError::GrantRevoked);
        }
        let mut grants = lock(&self.grants);
        let mut shards = self.shards_of(tokens.iter().map(|token| &token.hash));
        let (_, hashes) = grants
            .entry(grant.id.clone())
            .or_insert_with(|| (grant.clone(), TokenSet::default()));
        for token in tokens {
            hashes.insert(token.hash);
            if let Some(shard) = shards.of(&token.hash) {
                shard.live.insert(token.hash, Arc::new(token.clone()));
            }
        }
        Ok(())
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(read(&self.shards[shard_of(hash)].0).live.get(hash).cloned())
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let shard = read(&self.shards[shard_of(hash)].0);
        Ok(match (shard.live.get(hash), shard.retired.get(hash)) {
            (Some(live), _) if live.token_type == super::TokenType::Refresh => {
                RefreshLookup::Active(TokenRecord::clone(live))
            }
            (_, Some(retired)) => RefreshLookup::Retired(retired.clone()),
            _ => RefreshLookup::Unknown,
        })
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        let mut grants = lock(&self.grants);
        let mut shards =
            self.shards_of(std::iter::once(old).chain(new.iter().map(|token| &token.hash)));
        let Some(shard) = shards.of(old) else {
            return Ok(Rotation::Unknown);
        };
        if let Some(retired) = shard.retired.get(old) {
            return Ok(Rotation::AlreadyRetired(retired.clone()));
        }
        if !shard
            .live
            .get(old)
            .is_some_and(|record| record.token_type == super::TokenType::Refresh)
        {
            return Ok(Rotation::Unknown);
        }
        let Some(record) = shard.live.remove(old) else {
            return Ok(Rotation::Unknown);
        };
        // Nobody else holds a refresh token's record, so this moves it instead of copying.
        let record = Arc::try_unwrap(record).unwrap_or_else(|shared| TokenRecord::clone(&shared));
        let grant_hashes = grants.get_mut(&record.grant_id);
        shard.retired.insert(
            *old,
            RetiredRefresh {
                record,
                retired_at: now,
                sealed_successor,
            },
        );
        if let Some((_, hashes)) = grant_hashes {
            for token in new {
                hashes.insert(token.hash);
            }
        }
        for token in new {
            if let Some(shard) = shards.of(&token.hash) {
                shard.live.insert(token.hash, Arc::new(token.clone()));
            }
        }
        Ok(Rotation::Rotated)
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut grants = lock(&self.grants);
        let mut shards = self.shards_of([hash]);
        let Some(record) = shards.of(hash).and_then(|shard| shard.live.remove(hash)) else {
            return Ok(false);
        };
        if let Some((_, hashes)) = grants.get_mut(&record.grant_id) {
            hashes.remove(hash);
        }
        Ok(true)
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        let mut grants = lock(&self.grants);
        Ok(self.remove_grants(&mut grants, |g| g.id == *grant).1)
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        let mut grants = lock(&self.grants);
        Ok(self
            .remove_grants(&mut grants, |g| {
                g.user.as_ref() == Some(user) && g.client_id == *client
            })
            .0)
    }

    async fn list_user_grants(&self, user: &UserId) -> Result<Vec<Grant>, StoreError> {
        let grants = lock(&self.grants);
        let mut list: Vec<Grant> = grants
            .values()
            .filter(|(g, _)| g.user.as_ref() == Some(user))
            .map(|(g, _)| g.clone())
            .collect();
        list.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(list)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut grants = lock(&self.grants);
        let mut shards = self.all_shards();
        let mut removed = 0u64;
        for (_, shard) in shards.0.iter_mut() {
            let expired = |r: &TokenRecord| r.expires_at.is_some_and(|at| at < now);
            let live: Vec<TokenHash> = shard
                .live
                .iter()
                .filter(|(_, r)| expired(r))
                .map(|(h, _)| *h)
                .collect();
            let retired: Vec<TokenHash> = shard
                .retired
                .iter()
                .filter(|(_, r)| expired(&r.record))
                .map(|(h, _)| *h)
                .collect();
            for hash in live.into_iter().chain(retired) {
                if removed as usize >= limit {
                    break;
                }
                shard.live.remove(&hash);
                shard.retired.remove(&hash);
                removed += 1;
            }
        }
        grants.retain(|_, (_, hashes)| {
            hashes.retain(|h| shards.contains(h));
            !hashes.is_empty()
        });
        Ok(removed)
    }
}

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        Ok(read(&self.consents)
            .get(&(user.clone(), client.clone()))
            .cloned())
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut consents = write(&self.consents);
        let key = (consent.user.clone(), consent.client_id.clone());
        match consents.get_mut(&key) {
            Some(existing) => {
                existing.scopes = existing.scopes.union(&consent.scopes);
                existing.last_used_at = consent.last_used_at;
            }
            None => {
                consents.insert(key, consent.clone());
            }
        }
        Ok(())
    }

    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if let Some(consent) = write(&self.consents).get_mut(&(user.clone(), client.clone())) {
            consent.last_used_at = at;
        }
        Ok(())
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        Ok(read(&self.consents)
            .values()
            .filter(|c| c.user == *user)
            .cloned()
            .collect())
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        Ok(write(&self.consents)
            .remove(&(user.clone(), client.clone()))
            .is_some())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        let mut devices = lock(&self.devices);
        if devices.by_device.contains_key(&record.device_hash)
            || devices.by_user_code.contains_key(&record.user_code_hash)
        {
            return Err(StoreError::Conflict);
        }
        devices
            .by_user_code
            .insert(record.user_code_hash, record.device_hash);
        devices.by_device.insert(record.device_hash, record.clone());
        Ok(())
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let devices = lock(&self.devices);
        Ok(devices
            .by_user_code
            .get(user_code)
            .and_then(|device| devices.by_device.get(device))
            .cloned())
    }

    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        let mut devices = lock(&self.devices);
        let Some(device) = devices.by_user_code.get(user_code).copied() else {
            return Ok(false);
        };
        match devices.by_device.get_mut(&device) {
            Some(record) if record.status == DeviceStatus::Pending => {
                record.status = status;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        let mut devices = lock(&self.devices);
        let Some(record) = devices.by_device.get_mut(device) else {
            return Ok(DevicePoll::Unknown);
        };
        let too_fast = record
            .last_poll_at
            .is_some_and(|last| now < last + time::Duration::seconds(i64::from(record.interval)));
        let before = record.clone();
        record.last_poll_at = Some(now);
        if too_fast {
            record.interval = record.interval.saturating_add(5);
            return Ok(DevicePoll::SlowDown(record.clone()));
        }
        if matches!(record.status, DeviceStatus::Approved { .. }) {
            record.status = DeviceStatus::Redeemed;
        }
        Ok(DevicePoll::Polled(before))
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut devices = lock(&self.devices);
        let doomed: Vec<(TokenHash, TokenHash)> = devices
            .by_device
            .values()
            .filter(|r| r.expires_at < now)
            .map(|r| (r.device_hash, r.user_code_hash))
            .take(limit)
            .collect();
        for (device, user_code) in &doomed {
            devices.by_device.remove(device);
            devices.by_user_code.remove(user_code);
        }
        Ok(doomed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::hash::BuildHasher as _;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::client::GrantType;
    use crate::entropy::SeededEntropy;
    use crate::scope::ScopeSet;
    use crate::secret::TokenKind;
    use crate::store::TokenType;

    /// The memory store never waits: one poll finishes every call.
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the memory store never waits"),
        }
    }

    #[test]
    fn digest_keys_hash_apart_and_differ_between_maps() {
        let keyed = DigestKeyed::default();
        let hashes: HashSet<u64> = (0..1000)
            .map(|i| keyed.hash_one(TokenHash::of(&i.to_string())))
            .collect();
        assert_eq!(hashes.len(), 1000);
        let key = TokenHash::of("x");
        assert_eq!(keyed.hash_one(key), keyed.hash_one(key));
        assert_ne!(keyed.hash_one(key), DigestKeyed::default().hash_one(key));
    }

    #[test]
    fn tokens_in_every_shard_are_issued_rotated_and_revoked() {
        let store = MemoryStore::new();
        let entropy = SeededEntropy::new(3);
        let at = OffsetDateTime::UNIX_EPOCH;
        let grant = Grant::new(
            GrantId::generate(&entropy),
            ClientId::new("c").unwrap_or_else(|_| unreachable!()),
            None,
            ScopeSet::new(),
            GrantType::AuthorizationCode,
            at,
        );
        let record = |kind: TokenType| {
            let token = TokenKind::RefreshToken.generate(&entropy);
            TokenRecord::new(
                TokenHash::of(&token),
                kind,
                &grant,
                ScopeSet::new(),
                at,
                None,
                None,
            )
        };
        let records: Vec<TokenRecord> = (0..4096).map(|_| record(TokenType::Refresh)).collect();
        let shards: HashSet<usize> = records.iter().map(|r| shard_of(&r.hash)).collect();
        assert_eq!(shards.len(), SHARDS, "4096 random tokens cover every shard");
        now(store.issue_tokens(&grant, &records)).unwrap_or_else(|_| unreachable!());
        for r in &records {
            assert!(now(store.find_token(&r.hash)).is_ok_and(|found| found.is_some()));
        }
        let successor = record(TokenType::Refresh);
        let rotated =
            now(store.rotate_refresh(&records[0].hash, std::slice::from_ref(&successor), None, at));
        assert!(matches!(rotated, Ok(Rotation::Rotated)));
        assert!(matches!(
            now(store.find_refresh(&records[0].hash)),
            Ok(RefreshLookup::Retired(_))
        ));
        assert!(now(store.revoke_token(&records[1].hash)).is_ok_and(|removed| removed));
        assert!(now(store.revoke_token(&records[1].hash)).is_ok_and(|removed| !removed));
        // The live originals less the two rotated or revoked, the successor and the retired one.
        let expected = records.len() as u64;
        assert!(now(store.revoke_grant(&grant.id)).is_ok_and(|n| n == expected));
        assert!(now(store.find_token(&successor.hash)).is_ok_and(|found| found.is_none()));
    }
}
