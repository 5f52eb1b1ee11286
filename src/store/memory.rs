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

const SHARDS: usize = 16;

/// Every store trait in memory. Nothing survives the process.
///
/// Tokens live in sixteen shards chosen by hash so that concurrent bearer validations take
/// different read locks; operations that touch several records take their locks in one fixed
/// order (clients, codes, grants, token shards, consents, devices), so they are atomic and
/// cannot deadlock.
#[derive(Debug, Default)]
pub struct MemoryStore {
    clients: RwLock<HashMap<ClientId, Client>>,
    codes: Mutex<HashMap<TokenHash, (CodeRecord, bool)>>,
    grants: Mutex<HashMap<GrantId, (Grant, HashSet<TokenHash>)>>,
    shards: [RwLock<Shard>; SHARDS],
    consents: RwLock<HashMap<(UserId, ClientId), Consent>>,
    devices: Mutex<Devices>,
}

#[derive(Debug, Default)]
struct Shard {
    live: HashMap<TokenHash, Arc<TokenRecord>>,
    retired: HashMap<TokenHash, RetiredRefresh>,
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
    usize::from(hash.as_bytes()[0]) % SHARDS
}

/// All token shards, write-locked in index order.
struct AllShards<'a>(Vec<RwLockWriteGuard<'a, Shard>>);

impl AllShards<'_> {
    fn of(&mut self, hash: &TokenHash) -> &mut Shard {
        &mut self.0[shard_of(hash)]
    }

    fn remove(&mut self, hash: &TokenHash) -> bool {
        let shard = self.of(hash);
        let live = shard.live.remove(hash).is_some();
        let retired = shard.retired.remove(hash).is_some();
        live || retired
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn all_shards(&self) -> AllShards<'_> {
        AllShards(self.shards.iter().map(write).collect())
    }

    /// Removes grants (and their tokens) chosen by `doomed`; the caller holds the grants lock.
    fn remove_grants(
        &self,
        grants: &mut HashMap<GrantId, (Grant, HashSet<TokenHash>)>,
        doomed: impl Fn(&Grant) -> bool,
    ) -> (u64, u64) {
        let ids: Vec<GrantId> = grants
            .iter()
            .filter(|(_, (grant, _))| doomed(grant))
            .map(|(id, _)| id.clone())
            .collect();
        let mut shards = self.all_shards();
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
            Some((code, true)) => CodeRedemption::Replayed(code.grant.id.clone()),
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
        Ok(doomed.len() as u64)
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn issue_tokens(&self, grant: &Grant, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let mut grants = lock(&self.grants);
        let mut shards = self.all_shards();
        let (_, hashes) = grants
            .entry(grant.id.clone())
            .or_insert_with(|| (grant.clone(), HashSet::new()));
        for token in tokens {
            hashes.insert(token.hash);
            shards
                .of(&token.hash)
                .live
                .insert(token.hash, Arc::new(token.clone()));
        }
        Ok(())
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        Ok(read(&self.shards[shard_of(hash)]).live.get(hash).cloned())
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let shard = read(&self.shards[shard_of(hash)]);
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
        let mut shards = self.all_shards();
        let shard = shards.of(old);
        if let Some(retired) = shard.retired.get(old) {
            return Ok(Rotation::AlreadyRetired(retired.clone()));
        }
        let record = match shard.live.get(old) {
            Some(record) if record.token_type == super::TokenType::Refresh => Arc::clone(record),
            _ => return Ok(Rotation::Unknown),
        };
        shard.live.remove(old);
        shard.retired.insert(
            *old,
            RetiredRefresh {
                record: TokenRecord::clone(&record),
                retired_at: now,
                sealed_successor,
            },
        );
        if let Some((_, hashes)) = grants.get_mut(&record.grant_id) {
            for token in new {
                hashes.insert(token.hash);
            }
        }
        for token in new {
            shards
                .of(&token.hash)
                .live
                .insert(token.hash, Arc::new(token.clone()));
        }
        Ok(Rotation::Rotated)
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut grants = lock(&self.grants);
        let mut shards = self.all_shards();
        let grant = shards.of(hash).live.get(hash).map(|r| r.grant_id.clone());
        let removed = shards.of(hash).live.remove(hash).is_some();
        if let Some((_, hashes)) = grant.and_then(|id| grants.get_mut(&id)) {
            hashes.remove(hash);
        }
        Ok(removed)
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
        for shard in shards.0.iter_mut() {
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
            hashes.retain(|h| {
                let shard = &shards.0[shard_of(h)];
                shard.live.contains_key(h) || shard.retired.contains_key(h)
            });
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
