//! The in-memory backend: every store trait on indexed maps behind locks, for tests, examples
//! and single-process hosts.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, Grant, GrantId, Insertion,
    IssueOutcome, RefreshLookup, ReplayKey, ReplayStore, RetiredRefresh, Rotation, TokenRecord,
    TokenStore, TokenType,
};
use crate::client::{Client, ClientId, UserId};
use crate::error::StoreError;
use crate::secret::{SecretHash, TokenHash};

// Two concurrent lookups contend only when their tokens share a shard (the read lock's word
// is written by both): with 256, that is one pair in 256.
const SHARDS: usize = 256;

/// The most records one lock hold removes when a deletion, revocation or sweep reaps: the
/// longest any request waits behind one.
const BATCH: usize = 256;

/// Every store trait in memory. Nothing survives the process.
///
/// Tokens live in 256 shards chosen by hash, each on its own cache line, so that concurrent
/// bearer validations take different read locks without sharing a line. Each token carries
/// its grant's liveness (two flags shared by every token of the grant and of the client), so a
/// lookup checks revocation and client deletion without taking any other lock, and revoking a
/// grant or deleting a client takes effect for all of its tokens in one step.
///
/// Grants, codes and device authorizations sit behind one lock, indexed by ID, by user and
/// client, and by client; codes, devices and tokens are also indexed by expiry, so no request
/// and no sweep ever scans the store. Work that grows with the data (deleting a client,
/// revoking a large family, sweeping) marks first and then removes at most 256 records per
/// lock hold. Locks are always taken in one order (clients, the index of clients by
/// `unused_until`, grants, token shards in index order, consents), so operations are atomic
/// and cannot deadlock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    clients: RwLock<HashMap<ClientId, ClientSlot>>,
    /// Clients with an `unused_until` mark, by it (what `sweep_clients` walks); changed only
    /// under the clients' write lock.
    unused: Mutex<BTreeSet<(OffsetDateTime, ClientId)>>,
    state: Mutex<State>,
    shards: TokenShards,
    consents: RwLock<Consents>,
    replays: Mutex<HashMap<ReplayKey, i64>>,
}

/// A client, or the mark of one being deleted (`client` is `None`) until its records are
/// reaped: the ID stays taken meanwhile.
#[derive(Debug)]
struct ClientSlot {
    client: Option<Client>,
    life: Arc<ClientLife>,
}

/// Set once, when the client's deletion begins; shared by every grant of the client.
#[derive(Debug, Default)]
struct ClientLife {
    deleted: AtomicBool,
}

/// Shared by every token of one grant: set once, when the grant is revoked.
#[derive(Debug)]
struct GrantLife {
    revoked: AtomicBool,
    client: Arc<ClientLife>,
}

impl GrantLife {
    fn new(client: Arc<ClientLife>) -> Arc<Self> {
        Arc::new(Self {
            revoked: AtomicBool::new(false),
            client,
        })
    }

    /// Neither revoked nor of a deleted client. The flags are written under the state lock,
    /// before the step that sets them returns.
    fn is_live(&self) -> bool {
        !self.revoked.load(Ordering::Acquire) && !self.client.deleted.load(Ordering::Acquire)
    }
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
    live: HashMap<TokenHash, Live, DigestKeyed>,
    retired: HashMap<TokenHash, Retired, DigestKeyed>,
}

#[derive(Debug)]
struct Live {
    record: Arc<TokenRecord>,
    life: Arc<GrantLife>,
}

#[derive(Debug)]
struct Retired {
    retired: RetiredRefresh,
    life: Arc<GrantLife>,
}

/// Grants, codes, device authorizations and their indexes.
#[derive(Debug, Default)]
struct State {
    grants: HashMap<GrantId, GrantEntry>,
    /// Active grants, by user and client (what `revoke_user_grants` revokes).
    by_user: HashMap<(UserId, ClientId), HashSet<GrantId>>,
    /// Every stored grant, active or revoked, by client (what `delete_client` reaps).
    by_client: HashMap<ClientId, HashSet<GrantId>>,
    codes: HashMap<TokenHash, CodeEntry, DigestKeyed>,
    code_expiry: BTreeSet<(OffsetDateTime, TokenHash)>,
    devices: HashMap<TokenHash, DeviceEntry, DigestKeyed>,
    user_codes: HashMap<TokenHash, TokenHash, DigestKeyed>,
    device_expiry: BTreeSet<(OffsetDateTime, TokenHash)>,
    /// Device authorizations by client (a pending one names no grant yet).
    client_devices: HashMap<ClientId, TokenSet>,
    /// Tokens, live and retired, that expire: by their own `expires_at`.
    token_expiry: BTreeSet<(OffsetDateTime, TokenHash)>,
    /// Revoked grants with tokens left to remove.
    reaping_grants: HashSet<GrantId>,
    /// Deleted clients with records left to remove.
    reaping_clients: HashSet<ClientId>,
}

#[derive(Debug)]
struct GrantEntry {
    grant: Grant,
    life: Arc<GrantLife>,
    /// The family's tokens, live and retired.
    tokens: TokenSet,
    /// The code the grant was stored with, while it is kept.
    code: Option<TokenHash>,
    /// The device authorization the grant was approved with, while it is kept.
    device: Option<TokenHash>,
}

impl GrantEntry {
    fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.code.is_none() && self.device.is_none()
    }
}

#[derive(Debug)]
struct CodeEntry {
    record: CodeRecord,
    spent: bool,
}

#[derive(Debug)]
struct DeviceEntry {
    record: DeviceRecord,
    /// The approved grant, kept after redemption (the record's status then no longer names it).
    grant: Option<GrantId>,
}

/// Consents by user (what the user's app list reads) and the users by client (what deleting
/// a client reaps).
#[derive(Debug, Default)]
struct Consents {
    by_user: HashMap<UserId, HashMap<ClientId, Consent>>,
    by_client: HashMap<ClientId, HashSet<UserId>>,
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

/// Write-locked token shards, locked in index order: only those some hashes fall in (kept
/// sorted by index, so a write touching two shards holds two guards, not an array of all 256).
struct Shards<'a>(Vec<(usize, RwLockWriteGuard<'a, Shard>)>);

impl Shards<'_> {
    /// The shard of `hash`, if this set locked it (callers lock every shard they ask for).
    fn of(&mut self, hash: &TokenHash) -> Option<&mut Shard> {
        let index = shard_of(hash);
        let at = self.0.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        self.0.get_mut(at).map(|(_, guard)| &mut **guard)
    }

    /// Removes a token, live or retired; returns its own expiry if there was one.
    fn remove(&mut self, hash: &TokenHash) -> Option<Option<OffsetDateTime>> {
        let shard = self.of(hash)?;
        if let Some(live) = shard.live.remove(hash) {
            return Some(live.record.expires_at);
        }
        shard
            .retired
            .remove(hash)
            .map(|retired| retired.retired.record.expires_at)
    }

    /// Stores a live token of the grant whose liveness is `life`.
    fn insert(&mut self, token: &TokenRecord, life: &Arc<GrantLife>) {
        if let Some(shard) = self.of(&token.hash) {
            shard.live.insert(
                token.hash,
                Live {
                    record: Arc::new(token.clone()),
                    life: Arc::clone(life),
                },
            );
        }
    }
}

impl MemoryStore {
    /// The most one-time values ([`ReplayStore`]) kept at once: when the cache is full of
    /// unexpired entries, [`ReplayStore::remember`] refuses with
    /// [`StoreError::Unavailable`] rather than grow or forget one (which would let it be
    /// replayed).
    pub const MAX_REPLAY_KEYS: usize = 100_000;

    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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

    /// The liveness of a client that exists and is not being deleted.
    fn client_life(&self, id: &ClientId) -> Option<Arc<ClientLife>> {
        read(&self.clients)
            .get(id)
            .filter(|slot| slot.client.is_some())
            .map(|slot| Arc::clone(&slot.life))
    }

    /// Stores `tokens` into the grant `id`, which the caller checked is stored and live.
    fn store_tokens(&self, state: &mut State, id: &GrantId, tokens: &[TokenRecord]) {
        let State {
            grants,
            token_expiry,
            ..
        } = state;
        let Some(entry) = grants.get_mut(id) else {
            return;
        };
        let mut shards = self.shards_of(tokens.iter().map(|token| &token.hash));
        for token in tokens {
            entry.tokens.insert(token.hash);
            if let Some(at) = token.expires_at {
                token_expiry.insert((at, token.hash));
            }
            shards.insert(token, &entry.life);
        }
    }

    /// Removes up to `budget` tokens of grant `id`; returns how many.
    fn remove_tokens(&self, state: &mut State, id: &GrantId, budget: usize) -> u64 {
        let State {
            grants,
            token_expiry,
            ..
        } = state;
        let Some(entry) = grants.get_mut(id) else {
            return 0;
        };
        let doomed: Vec<TokenHash> = entry.tokens.iter().take(budget).copied().collect();
        let mut shards = self.shards_of(&doomed);
        let mut removed = 0;
        for hash in &doomed {
            entry.tokens.remove(hash);
            if let Some(expires_at) = shards.remove(hash) {
                removed += 1;
                if let Some(at) = expires_at {
                    token_expiry.remove(&(at, *hash));
                }
            }
        }
        removed
    }

    /// Revokes the grant `id` and reaps its tokens, each batch under its own lock hold;
    /// returns how many tokens went.
    fn revoke_and_reap(&self, id: &GrantId) -> u64 {
        let mut removed = 0;
        loop {
            let mut state = lock(&self.state);
            state.revoke(id);
            removed += self.remove_tokens(&mut state, id, BATCH);
            if state
                .grants
                .get(id)
                .is_none_or(|entry| entry.tokens.is_empty())
            {
                state.reaping_grants.remove(id);
                state.forget_if_empty(id);
                return removed;
            }
        }
    }

    /// One bounded step of reaping a deleted client: up to `budget` records (tokens, grants
    /// with their codes and devices, pending devices, consents); the last step also frees the
    /// ID. Returns how many records went and whether the client is completely reaped.
    fn reap_client_step(&self, id: &ClientId, budget: usize) -> (u64, bool) {
        let mut removed = 0u64;
        {
            let mut state = lock(&self.state);
            // One walk of the index per step, not one per record: a set emptied from the
            // front would make every `next()` walk past what went before.
            let grants: Vec<GrantId> = state
                .by_client
                .get(id)
                .map(|grants| grants.iter().take(budget).cloned().collect())
                .unwrap_or_default();
            for grant in &grants {
                if removed as usize >= budget {
                    break;
                }
                removed += self.remove_tokens(&mut state, grant, budget - removed as usize);
                if state
                    .grants
                    .get(grant)
                    .is_some_and(|entry| !entry.tokens.is_empty())
                {
                    break;
                }
                state.drop_grant(grant);
                if let Some(left) = state.by_client.get_mut(id) {
                    left.remove(grant);
                    if left.is_empty() {
                        state.by_client.remove(id);
                    }
                }
                removed += 1;
            }
            let devices: Vec<TokenHash> = state
                .client_devices
                .get(id)
                .map(|devices| {
                    devices
                        .iter()
                        .take(budget.saturating_sub(removed as usize))
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            for device in &devices {
                state.drop_device(device);
                removed += 1;
            }
            if state.by_client.contains_key(id) || state.client_devices.contains_key(id) {
                return (removed, false);
            }
        }
        {
            let mut consents = write(&self.consents);
            let Consents { by_user, by_client } = &mut *consents;
            if let Some(users) = by_client.get_mut(id) {
                let doomed: Vec<UserId> = users
                    .iter()
                    .take(budget.saturating_sub(removed as usize))
                    .cloned()
                    .collect();
                for user in &doomed {
                    users.remove(user);
                    if let Some(of_user) = by_user.get_mut(user) {
                        of_user.remove(id);
                        if of_user.is_empty() {
                            by_user.remove(user);
                        }
                    }
                    removed += 1;
                }
                if !users.is_empty() {
                    return (removed, false);
                }
                by_client.remove(id);
            }
        }
        let mut clients = write(&self.clients);
        let mut state = lock(&self.state);
        if clients.get(id).is_some_and(|slot| slot.client.is_none()) {
            clients.remove(id);
        }
        state.reaping_clients.remove(id);
        (removed, true)
    }

    /// Removes up to `budget` expired tokens; returns how many.
    fn sweep_expired_tokens(&self, state: &mut State, now: OffsetDateTime, budget: usize) -> u64 {
        let due: Vec<(OffsetDateTime, TokenHash)> = state
            .token_expiry
            .iter()
            .take_while(|(at, _)| *at < now)
            .take(budget)
            .copied()
            .collect();
        let mut shards = self.shards_of(due.iter().map(|(_, hash)| hash));
        let mut grants = Vec::with_capacity(due.len());
        for entry in &due {
            state.token_expiry.remove(entry);
            let hash = &entry.1;
            let Some(shard) = shards.of(hash) else {
                continue;
            };
            let grant = match shard.live.remove(hash) {
                Some(live) => live.record.grant_id.clone(),
                None => match shard.retired.remove(hash) {
                    Some(retired) => retired.retired.record.grant_id,
                    None => continue,
                },
            };
            grants.push((grant, *hash));
        }
        drop(shards);
        let removed = grants.len() as u64;
        for (grant, hash) in grants {
            if let Some(entry) = state.grants.get_mut(&grant) {
                entry.tokens.remove(&hash);
            }
            state.forget_if_empty(&grant);
        }
        removed
    }
}

impl State {
    /// Stores a new grant with its indexes.
    fn add_grant(
        &mut self,
        grant: &Grant,
        client: Arc<ClientLife>,
        code: Option<TokenHash>,
        device: Option<TokenHash>,
    ) {
        if let Some(user) = &grant.user {
            self.by_user
                .entry((user.clone(), grant.client_id.clone()))
                .or_default()
                .insert(grant.id.clone());
        }
        self.by_client
            .entry(grant.client_id.clone())
            .or_default()
            .insert(grant.id.clone());
        self.grants.insert(
            grant.id.clone(),
            GrantEntry {
                grant: grant.clone(),
                life: GrantLife::new(client),
                tokens: TokenSet::default(),
                code,
                device,
            },
        );
    }

    /// Marks a grant revoked (the tombstone) and queues its tokens for reaping.
    fn revoke(&mut self, id: &GrantId) -> bool {
        let Some(entry) = self.grants.get(id) else {
            return false;
        };
        if entry.life.revoked.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Some(user) = &entry.grant.user {
            let key = (user.clone(), entry.grant.client_id.clone());
            if let Some(grants) = self.by_user.get_mut(&key) {
                grants.remove(id);
                if grants.is_empty() {
                    self.by_user.remove(&key);
                }
            }
        }
        if !entry.tokens.is_empty() {
            self.reaping_grants.insert(id.clone());
        }
        true
    }

    /// Forgets a grant that no token, code or device authorization names any more.
    fn forget_if_empty(&mut self, id: &GrantId) {
        if self.grants.get(id).is_some_and(GrantEntry::is_empty) {
            self.drop_grant(id);
        }
    }

    /// Removes a grant (whose tokens are gone), its code and device authorization, and its
    /// index entries.
    fn drop_grant(&mut self, id: &GrantId) {
        let Some(entry) = self.grants.remove(id) else {
            return;
        };
        if let Some(code) = entry.code
            && let Some(removed) = self.codes.remove(&code)
        {
            self.code_expiry.remove(&(removed.record.expires_at, code));
        }
        if let Some(device) = entry.device {
            self.drop_device(&device);
        }
        let client = &entry.grant.client_id;
        if let Some(user) = &entry.grant.user {
            let key = (user.clone(), client.clone());
            if let Some(grants) = self.by_user.get_mut(&key) {
                grants.remove(id);
                if grants.is_empty() {
                    self.by_user.remove(&key);
                }
            }
        }
        if let Some(grants) = self.by_client.get_mut(client) {
            grants.remove(id);
            if grants.is_empty() {
                self.by_client.remove(client);
            }
        }
        self.reaping_grants.remove(id);
    }

    /// Removes a device authorization and its index entries; the grant it names no longer
    /// counts it. Returns the grant, if it names one.
    fn drop_device(&mut self, device: &TokenHash) -> Option<GrantId> {
        let entry = self.devices.remove(device)?;
        let record = &entry.record;
        if self.user_codes.get(&record.user_code_hash) == Some(device) {
            self.user_codes.remove(&record.user_code_hash);
        }
        self.device_expiry.remove(&(record.expires_at, *device));
        if let Some(devices) = self.client_devices.get_mut(&record.client_id) {
            devices.remove(device);
            if devices.is_empty() {
                self.client_devices.remove(&record.client_id);
            }
        }
        let grant = entry.grant?;
        if let Some(granted) = self.grants.get_mut(&grant)
            && granted.device == Some(*device)
        {
            granted.device = None;
        }
        Some(grant)
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut clients = write(&self.clients);
        if clients.contains_key(&client.id) {
            return Err(StoreError::Conflict);
        }
        clients.insert(
            client.id.clone(),
            ClientSlot {
                client: Some(client.clone()),
                life: Arc::default(),
            },
        );
        if let Some(at) = client.unused_until {
            lock(&self.unused).insert((at, client.id.clone()));
        }
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        Ok(read(&self.clients)
            .get(id)
            .and_then(|slot| slot.client.clone()))
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        let Some(stored) = clients.get_mut(&client.id).and_then(|s| s.client.as_mut()) else {
            return Ok(false);
        };
        let mut updated = client.clone();
        updated.secret = stored.secret.take();
        updated.registration_token = stored.registration_token;
        updated.unused_until = stored.unused_until;
        *stored = updated;
        Ok(true)
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        let Some(stored) = clients.get_mut(id).and_then(|s| s.client.as_mut()) else {
            return Ok(false);
        };
        stored.secret = Some(secret.clone());
        Ok(true)
    }

    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        match clients.get_mut(id).and_then(|s| s.client.as_mut()) {
            Some(stored) if stored.registration_token.as_ref() == Some(old) => {
                stored.registration_token = Some(*new);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let existed = {
            let mut clients = write(&self.clients);
            let Some(slot) = clients.get_mut(id) else {
                return Ok(false);
            };
            let taken = slot.client.take();
            if let Some(at) = taken.as_ref().and_then(|client| client.unused_until) {
                lock(&self.unused).remove(&(at, id.clone()));
            }
            let existed = taken.is_some();
            // Under the state lock: an issuance checks the flag under it too, so it either
            // comes first (and its grant is reaped below) or sees the mark.
            let mut state = lock(&self.state);
            slot.life.deleted.store(true, Ordering::Release);
            state.reaping_clients.insert(id.clone());
            existed
        };
        while !self.reap_client_step(id, BATCH).1 {}
        Ok(existed)
    }

    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut clients = write(&self.clients);
        let Some(stored) = clients.get_mut(id).and_then(|s| s.client.as_mut()) else {
            return Ok(false);
        };
        if let Some(at) = stored.unused_until.take() {
            lock(&self.unused).remove(&(at, id.clone()));
        }
        Ok(true)
    }

    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            // The mark, for a batch at once: as delete_client's, under the same locks.
            let doomed: Vec<ClientId> = {
                let mut clients = write(&self.clients);
                let mut unused = lock(&self.unused);
                let mut state = lock(&self.state);
                let mut doomed = Vec::new();
                while doomed.len() < budget
                    && let Some((at, _)) = unused.first()
                    && *at < now
                {
                    let Some((_, id)) = unused.pop_first() else {
                        break;
                    };
                    if let Some(slot) = clients.get_mut(&id)
                        && slot.client.take().is_some()
                    {
                        slot.life.deleted.store(true, Ordering::Release);
                        state.reaping_clients.insert(id.clone());
                        doomed.push(id);
                    }
                }
                doomed
            };
            for id in &doomed {
                while !self.reap_client_step(id, BATCH).1 {}
            }
            removed += doomed.len() as u64;
            if doomed.len() < budget {
                break;
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        let Some(client) = self.client_life(&code.grant.client_id) else {
            return Ok(Insertion::ClientUnknown);
        };
        let mut state = lock(&self.state);
        if client.deleted.load(Ordering::Acquire) {
            return Ok(Insertion::ClientUnknown);
        }
        if state.codes.contains_key(&code.hash) || state.grants.contains_key(&code.grant.id) {
            return Err(StoreError::Conflict);
        }
        state.add_grant(&code.grant, client, Some(code.hash), None);
        state.code_expiry.insert((code.expires_at, code.hash));
        state.codes.insert(
            code.hash,
            CodeEntry {
                record: code.clone(),
                spent: false,
            },
        );
        Ok(Insertion::Stored)
    }

    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        Ok(lock(&self.state)
            .codes
            .get(hash)
            .map(|entry| entry.record.clone()))
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        let grant = {
            let mut state = lock(&self.state);
            let Some(code) = state.codes.get(hash) else {
                return Ok(CodeRedemption::Unknown);
            };
            let grant = code.record.grant.id.clone();
            if !code.spent {
                if !state
                    .grants
                    .get(&grant)
                    .is_some_and(|entry| entry.life.is_live())
                {
                    return Ok(CodeRedemption::GrantRevoked);
                }
                if let Some(code) = state.codes.get_mut(hash) {
                    code.spent = true;
                }
                self.store_tokens(&mut state, &grant, tokens);
                return Ok(CodeRedemption::Redeemed);
            }
            // A replay: the tombstone in this step, the tokens reaped below.
            state.revoke(&grant);
            grant
        };
        self.revoke_and_reap(&grant);
        Ok(CodeRedemption::Replayed(grant))
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let mut state = lock(&self.state);
            let due: Vec<(OffsetDateTime, TokenHash)> = state
                .code_expiry
                .iter()
                .take_while(|(at, _)| *at < now)
                .take(budget)
                .copied()
                .collect();
            for entry in &due {
                state.code_expiry.remove(entry);
                let Some(code) = state.codes.remove(&entry.1) else {
                    continue;
                };
                let grant = code.record.grant.id;
                if let Some(granted) = state.grants.get_mut(&grant)
                    && granted.code == Some(entry.1)
                {
                    granted.code = None;
                }
                state.forget_if_empty(&grant);
            }
            removed += due.len() as u64;
            if due.len() < budget {
                break;
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        match family {
            Family::New(grant) => {
                let Some(client) = self.client_life(&grant.client_id) else {
                    return Ok(IssueOutcome::ClientUnknown);
                };
                let mut state = lock(&self.state);
                if client.deleted.load(Ordering::Acquire) {
                    return Ok(IssueOutcome::ClientUnknown);
                }
                if state.grants.contains_key(&grant.id) {
                    return Err(StoreError::Conflict);
                }
                state.add_grant(grant, client, None, None);
                self.store_tokens(&mut state, &grant.id, tokens);
            }
            Family::Existing(id) => {
                let mut state = lock(&self.state);
                let Some(entry) = state.grants.get(id) else {
                    return Ok(IssueOutcome::GrantRevoked);
                };
                if entry.life.revoked.load(Ordering::Acquire) {
                    return Ok(IssueOutcome::GrantRevoked);
                }
                if entry.life.client.deleted.load(Ordering::Acquire) {
                    return Ok(IssueOutcome::ClientUnknown);
                }
                self.store_tokens(&mut state, id, tokens);
            }
        }
        Ok(IssueOutcome::Stored)
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(read(&self.shards[shard_of(hash)].0)
            .live
            .get(hash)
            .filter(|live| live.life.is_live())
            .map(|live| Arc::clone(&live.record)))
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let shard = read(&self.shards[shard_of(hash)].0);
        if let Some(live) = shard.live.get(hash) {
            return Ok(
                if live.record.token_type == TokenType::Refresh && live.life.is_live() {
                    RefreshLookup::Active(TokenRecord::clone(&live.record))
                } else {
                    RefreshLookup::Unknown
                },
            );
        }
        Ok(match shard.retired.get(hash) {
            Some(retired) if retired.life.is_live() => {
                RefreshLookup::Retired(retired.retired.clone())
            }
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
        let mut state = lock(&self.state);
        let State {
            grants,
            token_expiry,
            ..
        } = &mut *state;
        let mut shards =
            self.shards_of(std::iter::once(old).chain(new.iter().map(|token| &token.hash)));
        let Some(shard) = shards.of(old) else {
            return Ok(Rotation::Unknown);
        };
        if let Some(retired) = shard.retired.get(old) {
            return Ok(if retired.life.is_live() {
                Rotation::AlreadyRetired(retired.retired.clone())
            } else {
                Rotation::Unknown
            });
        }
        if !shard
            .live
            .get(old)
            .is_some_and(|live| live.record.token_type == TokenType::Refresh && live.life.is_live())
        {
            return Ok(Rotation::Unknown);
        }
        let Some(Live { record, life }) = shard.live.remove(old) else {
            return Ok(Rotation::Unknown);
        };
        // Nobody else holds a refresh token's record, so this moves it instead of copying.
        let record = Arc::try_unwrap(record).unwrap_or_else(|shared| TokenRecord::clone(&shared));
        let grant = record.grant_id.clone();
        shard.retired.insert(
            *old,
            Retired {
                retired: RetiredRefresh::new(record, now, sealed_successor),
                life: Arc::clone(&life),
            },
        );
        if let Some(entry) = grants.get_mut(&grant) {
            for token in new {
                entry.tokens.insert(token.hash);
            }
        }
        for token in new {
            if let Some(at) = token.expires_at {
                token_expiry.insert((at, token.hash));
            }
            shards.insert(token, &life);
        }
        Ok(Rotation::Rotated)
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut state = lock(&self.state);
        let removed = self
            .shards_of([hash])
            .of(hash)
            .and_then(|shard| shard.live.remove(hash));
        let Some(Live { record, life }) = removed else {
            return Ok(false);
        };
        if let Some(at) = record.expires_at {
            state.token_expiry.remove(&(at, *hash));
        }
        if let Some(entry) = state.grants.get_mut(&record.grant_id) {
            entry.tokens.remove(hash);
        }
        state.forget_if_empty(&record.grant_id);
        Ok(life.is_live())
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        Ok(self.revoke_and_reap(grant))
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        let key = (user.clone(), client.clone());
        let mut revoked = Vec::new();
        loop {
            let mut state = lock(&self.state);
            let batch: Vec<GrantId> = state
                .by_user
                .get(&key)
                .map(|grants| grants.iter().take(BATCH).cloned().collect())
                .unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            for grant in batch {
                // `revoke` takes it out of `by_user`, so the loop ends.
                state.revoke(&grant);
                revoked.push(grant);
            }
        }
        for grant in &revoked {
            self.revoke_and_reap(grant);
        }
        Ok(revoked.len() as u64)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let mut done = {
                let mut state = lock(&self.state);
                let mut done = self.sweep_expired_tokens(&mut state, now, budget);
                while (done as usize) < budget {
                    let Some(grant) = state.reaping_grants.iter().next().cloned() else {
                        break;
                    };
                    done += self.remove_tokens(&mut state, &grant, budget - done as usize);
                    if state
                        .grants
                        .get(&grant)
                        .is_none_or(|entry| entry.tokens.is_empty())
                    {
                        state.reaping_grants.remove(&grant);
                        state.forget_if_empty(&grant);
                    }
                }
                done
            };
            while (done as usize) < budget {
                let Some(client) = lock(&self.state).reaping_clients.iter().next().cloned() else {
                    break;
                };
                let (reaped, finished) = self.reap_client_step(&client, budget - done as usize);
                done += reaped;
                if !finished && reaped == 0 {
                    break;
                }
            }
            removed += done;
            if (done as usize) < budget {
                break;
            }
        }
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
            .by_user
            .get(user)
            .and_then(|of_user| of_user.get(client))
            .cloned())
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut consents = write(&self.consents);
        let Consents { by_user, by_client } = &mut *consents;
        let of_user = by_user.entry(consent.user.clone()).or_default();
        match of_user.get_mut(&consent.client_id) {
            Some(existing) => {
                existing.scopes = existing.scopes.union(&consent.scopes);
                existing.last_used_at = consent.last_used_at;
            }
            None => {
                of_user.insert(consent.client_id.clone(), consent.clone());
                by_client
                    .entry(consent.client_id.clone())
                    .or_default()
                    .insert(consent.user.clone());
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
        if let Some(consent) = write(&self.consents)
            .by_user
            .get_mut(user)
            .and_then(|of_user| of_user.get_mut(client))
        {
            consent.last_used_at = at;
        }
        Ok(())
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        Ok(read(&self.consents)
            .by_user
            .get(user)
            .map(|of_user| of_user.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let mut consents = write(&self.consents);
        let Consents { by_user, by_client } = &mut *consents;
        let Some(of_user) = by_user.get_mut(user) else {
            return Ok(false);
        };
        let removed = of_user.remove(client).is_some();
        if of_user.is_empty() {
            by_user.remove(user);
        }
        if let Some(users) = by_client.get_mut(client) {
            users.remove(user);
            if users.is_empty() {
                by_client.remove(client);
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if state.devices.contains_key(&record.device_hash)
            || state.user_codes.contains_key(&record.user_code_hash)
        {
            return Err(StoreError::Conflict);
        }
        state
            .user_codes
            .insert(record.user_code_hash, record.device_hash);
        state
            .device_expiry
            .insert((record.expires_at, record.device_hash));
        state
            .client_devices
            .entry(record.client_id.clone())
            .or_default()
            .insert(record.device_hash);
        state.devices.insert(
            record.device_hash,
            DeviceEntry {
                record: record.clone(),
                grant: None,
            },
        );
        Ok(())
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let state = lock(&self.state);
        Ok(state
            .user_codes
            .get(user_code)
            .and_then(|device| state.devices.get(device))
            .map(|entry| entry.record.clone()))
    }

    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        let client = match &status {
            DeviceStatus::Approved { grant } => match self.client_life(&grant.client_id) {
                Some(client) => Some(client),
                None => return Ok(false),
            },
            DeviceStatus::Denied => None,
            _ => return Ok(false),
        };
        let mut state = lock(&self.state);
        let Some(device) = state.user_codes.get(user_code).copied() else {
            return Ok(false);
        };
        let Some(entry) = state.devices.get(&device) else {
            return Ok(false);
        };
        if entry.record.status != DeviceStatus::Pending {
            return Ok(false);
        }
        let mut approved = None;
        if let (DeviceStatus::Approved { grant }, Some(client)) = (&status, client) {
            if grant.client_id != entry.record.client_id || client.deleted.load(Ordering::Acquire) {
                return Ok(false);
            }
            if state.grants.contains_key(&grant.id) {
                return Err(StoreError::Conflict);
            }
            state.add_grant(grant, client, None, Some(device));
            approved = Some(grant.id.clone());
        }
        if let Some(entry) = state.devices.get_mut(&device) {
            entry.record.status = status;
            entry.grant = approved;
        }
        Ok(true)
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        let mut state = lock(&self.state);
        let Some(entry) = state.devices.get_mut(device) else {
            return Ok(DevicePoll::Unknown);
        };
        let record = &mut entry.record;
        let too_fast = record
            .last_poll_at
            .is_some_and(|last| now < last + time::Duration::seconds(i64::from(record.interval)));
        let before = record.clone();
        record.last_poll_at = Some(now);
        if too_fast {
            record.interval = record.interval.saturating_add(5);
            return Ok(DevicePoll::SlowDown(record.clone()));
        }
        Ok(DevicePoll::Polled(before))
    }

    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        let mut state = lock(&self.state);
        let Some(entry) = state.devices.get(device) else {
            return Ok(DeviceRedemption::Unknown);
        };
        let grant = match (&entry.record.status, &entry.grant) {
            (DeviceStatus::Approved { .. }, Some(grant)) => grant.clone(),
            (DeviceStatus::Redeemed, _) => return Ok(DeviceRedemption::AlreadyRedeemed),
            _ => return Ok(DeviceRedemption::NotApproved),
        };
        if !state
            .grants
            .get(&grant)
            .is_some_and(|entry| entry.life.is_live())
        {
            return Ok(DeviceRedemption::GrantRevoked);
        }
        if let Some(entry) = state.devices.get_mut(device) {
            entry.record.status = DeviceStatus::Redeemed;
        }
        self.store_tokens(&mut state, &grant, tokens);
        Ok(DeviceRedemption::Redeemed)
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let mut state = lock(&self.state);
            let due: Vec<(OffsetDateTime, TokenHash)> = state
                .device_expiry
                .iter()
                .take_while(|(at, _)| *at < now)
                .take(budget)
                .copied()
                .collect();
            for entry in &due {
                state.device_expiry.remove(entry);
                if let Some(grant) = state.drop_device(&entry.1) {
                    state.forget_if_empty(&grant);
                }
            }
            removed += due.len() as u64;
            if due.len() < budget {
                break;
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = now.unix_timestamp();
        let mut replays = lock(&self.replays);
        if let Some(until) = replays.get_mut(key) {
            if *until > now {
                return Ok(false);
            }
            *until = expires_at.unix_timestamp();
            return Ok(true);
        }
        if replays.len() >= Self::MAX_REPLAY_KEYS {
            // Full: drop what expired (amortised: this runs only when the cache is full).
            replays.retain(|_, until| *until > now);
            if replays.len() >= Self::MAX_REPLAY_KEYS {
                return Err(StoreError::Unavailable(
                    "the one-time value cache is full".into(),
                ));
            }
        }
        replays.insert(*key, expires_at.unix_timestamp());
        Ok(true)
    }

    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let now = now.unix_timestamp();
        let mut replays = lock(&self.replays);
        let expired: Vec<ReplayKey> = replays
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(key, _)| *key)
            .take(limit)
            .collect();
        for key in &expired {
            replays.remove(key);
        }
        Ok(expired.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::hash::BuildHasher as _;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::client::{ClientType, GrantType};
    use crate::entropy::SeededEntropy;
    use crate::scope::ScopeSet;
    use crate::secret::TokenKind;
    use crate::store::{DeviceRecord, TokenType};

    /// The memory store never waits: one poll finishes every call.
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the memory store never waits"),
        }
    }

    fn client(store: &MemoryStore, id: &str) -> ClientId {
        let id = ClientId::new(id).unwrap_or_else(|_| unreachable!());
        let client = Client::new(
            id.clone(),
            "c",
            ClientType::Confidential,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert!(now(store.insert_client(&client)).is_ok());
        id
    }

    fn grant(entropy: &SeededEntropy, client: &ClientId, user: Option<&str>) -> Grant {
        Grant::new(
            GrantId::generate(entropy),
            client.clone(),
            user.map(UserId::new),
            ScopeSet::new(),
            GrantType::AuthorizationCode,
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn token(entropy: &SeededEntropy, grant: &Grant, kind: TokenType) -> TokenRecord {
        let at = OffsetDateTime::UNIX_EPOCH;
        let token = TokenKind::RefreshToken.generate(entropy);
        TokenRecord::new(
            TokenHash::of(&token),
            kind,
            grant,
            ScopeSet::new(),
            at,
            Some(at + time::Duration::days(1)),
            None,
        )
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
        let client = client(&store, "c");
        let grant = grant(&entropy, &client, None);
        let records: Vec<TokenRecord> = (0..4096)
            .map(|_| token(&entropy, &grant, TokenType::Refresh))
            .collect();
        let shards: HashSet<usize> = records.iter().map(|r| shard_of(&r.hash)).collect();
        assert_eq!(shards.len(), SHARDS, "4096 random tokens cover every shard");
        assert!(matches!(
            now(store.issue_tokens(Family::New(&grant), &records)),
            Ok(IssueOutcome::Stored)
        ));
        for r in &records {
            assert!(now(store.find_token(&r.hash)).is_ok_and(|found| found.is_some()));
        }
        let successor = token(&entropy, &grant, TokenType::Refresh);
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

    /// Every index entry goes with its record: after deleting a client and sweeping, nothing
    /// of it is left anywhere, and another client's records are untouched.
    #[test]
    fn deletion_and_sweeps_leave_no_index_entry_behind() {
        let store = MemoryStore::new();
        let entropy = SeededEntropy::new(5);
        let doomed = client(&store, "doomed");
        let kept = client(&store, "kept");
        let mut kept_tokens = Vec::new();
        for (client, user) in [(&doomed, "u1"), (&doomed, "u2"), (&kept, "u1")] {
            // A redeemed code with a rotated refresh token, an approved device, a consent.
            let granted = grant(&entropy, client, Some(user));
            let code = CodeRecord::new(
                TokenHash::of(&TokenKind::AuthorizationCode.generate(&entropy)),
                granted.clone(),
                None,
                None,
                OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(1),
            );
            assert!(matches!(
                now(store.insert_code(&code)),
                Ok(Insertion::Stored)
            ));
            let refresh = token(&entropy, &granted, TokenType::Refresh);
            let tokens = [
                token(&entropy, &granted, TokenType::Access),
                refresh.clone(),
            ];
            assert!(matches!(
                now(store.redeem_code(&code.hash, &tokens)),
                Ok(CodeRedemption::Redeemed)
            ));
            let next = token(&entropy, &granted, TokenType::Refresh);
            let at = OffsetDateTime::UNIX_EPOCH;
            assert!(matches!(
                now(store.rotate_refresh(&refresh.hash, std::slice::from_ref(&next), None, at)),
                Ok(Rotation::Rotated)
            ));
            let device = DeviceRecord::new(
                TokenHash::of(&TokenKind::DeviceCode.generate(&entropy)),
                TokenHash::of(&TokenKind::DeviceCode.generate(&entropy)),
                client.clone(),
                ScopeSet::new(),
                at + time::Duration::minutes(10),
                5,
            );
            assert!(now(store.insert_device(&device)).is_ok());
            let approved = DeviceStatus::Approved {
                grant: grant(&entropy, client, Some(user)),
            };
            assert!(now(store.decide_device(&device.user_code_hash, approved)).is_ok_and(|d| d));
            let consent = Consent::new(UserId::new(user), client.clone(), ScopeSet::new(), at);
            assert!(now(store.save_consent(&consent)).is_ok());
            if client == &kept {
                kept_tokens.extend(tokens.iter().chain([&next]).map(|t| t.hash));
            }
        }
        assert!(now(store.delete_client(&doomed)).is_ok_and(|existed| existed));
        {
            let state = lock(&store.state);
            assert!(state.grants.values().all(|g| g.grant.client_id == kept));
            assert_eq!(state.grants.len(), 2, "the kept client's two grants");
            assert!(!state.by_client.contains_key(&doomed));
            assert!(state.by_user.keys().all(|(_, client)| *client == kept));
            assert!(
                state
                    .codes
                    .values()
                    .all(|c| c.record.grant.client_id == kept)
            );
            assert_eq!(state.code_expiry.len(), state.codes.len());
            assert!(state.devices.values().all(|d| d.record.client_id == kept));
            assert_eq!(state.user_codes.len(), state.devices.len());
            assert_eq!(state.device_expiry.len(), state.devices.len());
            assert!(!state.client_devices.contains_key(&doomed));
            assert!(state.reaping_clients.is_empty() && state.reaping_grants.is_empty());
            let tokens: usize = state.grants.values().map(|g| g.tokens.len()).sum();
            assert_eq!(state.token_expiry.len(), tokens);
        }
        assert!(!read(&store.clients).contains_key(&doomed));
        assert!(!read(&store.consents).by_client.contains_key(&doomed));
        // The access token and the rotated successor (the first refresh token is retired).
        for hash in [kept_tokens[0], kept_tokens[2]] {
            assert!(now(store.find_token(&hash)).is_ok_and(|t| t.is_some()));
        }

        // Sweeping past every expiry leaves nothing at all.
        let later = OffsetDateTime::UNIX_EPOCH + time::Duration::days(2);
        assert!(now(store.sweep_codes(later, 100)).is_ok_and(|n| n == 1));
        assert!(now(store.sweep_devices(later, 100)).is_ok_and(|n| n == 1));
        assert!(now(store.sweep_tokens(later, 100)).is_ok_and(|n| n == 3));
        let state = lock(&store.state);
        assert!(state.grants.is_empty() && state.by_user.is_empty() && state.by_client.is_empty());
        assert!(state.token_expiry.is_empty() && state.code_expiry.is_empty());
        assert!(state.devices.is_empty() && state.client_devices.is_empty());
    }
}
