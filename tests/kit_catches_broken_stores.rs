//! The conformance kit catches stores that break its contracts. Each flaw below is a wrapper
//! around `MemoryStore` that breaks one contract the way a real store could; the kit check for
//! that contract must fail (panic), with a message naming the store method it caught. The
//! unbroken wrapper passes every check, so each failure comes from its flaw.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tessera::store::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, GrantId, Insertion,
    IssueOutcome, MemoryStore, RefreshLookup, ReplayKey, ReplayStore, Rotation, Storage,
    TokenRecord, TokenStore,
};
use tessera::testkit;
use tessera::{Client, ClientId, ScopeSet, SecretHash, StoreError, TokenHash, UserId};
use time::OffsetDateTime;

/// One broken contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// Nothing broken: the control.
    None,
    /// `sweep_tokens` also removes retired refresh tokens before their own expiry (which
    /// silently disables refresh-reuse detection).
    EarlyRetiredSweep,
    /// `issue_tokens(Existing)` stores into a revoked grant.
    IssueIntoRevoked,
    /// `issue_tokens` does not check that the client exists.
    NoClientCheck,
    /// `revoke_user_grants` revokes only grants that have tokens, missing codes not yet
    /// redeemed and approved devices not yet polled.
    RevokeSkipsPending,
    /// `redeem_code` spends the code in one step and stores the tokens in another.
    NonAtomicRedemption,
    /// `delete_client` holds the whole store while it deletes.
    OneStepDelete,
    /// `swap_registration_token` replaces whatever is stored.
    SwapWithoutCompare,
    /// `update_client` writes the secret of the record it is given.
    UpdateWritesSecret,
    /// Stored consents are read back through the request parser and its scope limit.
    RequestLimitOnRead,
    /// `remember` finds every value new (a replay cache that keeps nothing).
    ReplayForgets,
    /// `sweep_clients` also removes clients whose expiry mark was cleared (it ignores
    /// `touch_client`).
    SweepIgnoresTouch,
    /// `find_token` reads tokens back without their OpenID Connect fields (`claims`,
    /// `authentication`), as a store that never wrote them would.
    DropsOpenIdFields,
    /// `sweep_tokens` gives up after [`GIVE_UP_AFTER`] tokens per sweeping time and then
    /// reports nothing more due (a scan that never wraps round): fine for a small backlog,
    /// never catching up with a large one.
    SweepGivesUp,
}

/// How many tokens the [`Flaw::SweepGivesUp`] store removes per sweeping time.
const GIVE_UP_AFTER: u64 = 64;

#[derive(Debug)]
struct Broken {
    inner: MemoryStore,
    flaw: Flaw,
    /// Tokens the flawed issuance stored beside the inner store.
    extra: Mutex<HashMap<TokenHash, Arc<TokenRecord>>>,
    /// Refresh tokens rotation retired, and those the flawed sweep removed.
    retired: Mutex<Vec<TokenHash>>,
    swept: Mutex<HashSet<TokenHash>>,
    /// Grants that received tokens, by user and client.
    with_tokens: Mutex<HashMap<(UserId, ClientId), HashSet<GrantId>>>,
    /// Held exclusively by the flawed deletion, shared by lookups.
    whole: tokio::sync::RwLock<()>,
    /// Tokens swept per sweeping time (unix seconds).
    swept_at: Mutex<HashMap<i64, u64>>,
}

impl Broken {
    fn new(flaw: Flaw) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(),
            flaw,
            extra: Mutex::default(),
            retired: Mutex::default(),
            swept: Mutex::default(),
            with_tokens: Mutex::default(),
            whole: tokio::sync::RwLock::new(()),
            swept_at: Mutex::default(),
        })
    }

    fn remember(&self, tokens: &[TokenRecord]) {
        let mut with_tokens = self.with_tokens.lock().unwrap();
        for token in tokens {
            if let Some(user) = &token.user {
                with_tokens
                    .entry((user.clone(), token.client_id.clone()))
                    .or_default()
                    .insert(token.grant_id.clone());
            }
        }
    }

    fn store_beside(&self, tokens: &[TokenRecord]) {
        let mut extra = self.extra.lock().unwrap();
        for token in tokens {
            extra.insert(token.hash, Arc::new(token.clone()));
        }
    }

    fn swept(&self, hash: &TokenHash) -> bool {
        self.swept.lock().unwrap().contains(hash)
    }

    fn read_back(&self, consent: Consent) -> Result<Consent, StoreError> {
        if self.flaw == Flaw::RequestLimitOnRead {
            ScopeSet::parse(&consent.scopes.to_string())
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        Ok(consent)
    }
}

#[async_trait]
impl ClientStore for Broken {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        self.inner.insert_client(client).await
    }
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let _shared = self.whole.read().await;
        self.inner.find_client(id).await
    }
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let updated = self.inner.update_client(client).await?;
        if self.flaw == Flaw::UpdateWritesSecret
            && updated
            && let Some(secret) = &client.secret
        {
            self.inner.set_client_secret(&client.id, secret).await?;
        }
        Ok(updated)
    }
    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        self.inner.set_client_secret(id, secret).await
    }
    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        if self.flaw == Flaw::SwapWithoutCompare {
            let stored = self
                .inner
                .find_client(id)
                .await?
                .and_then(|c| c.registration_token);
            return match stored {
                Some(stored) => self.inner.swap_registration_token(id, &stored, new).await,
                None => Ok(false),
            };
        }
        self.inner.swap_registration_token(id, old, new).await
    }
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        if self.flaw == Flaw::OneStepDelete {
            let _exclusive = self.whole.write().await;
            return self.inner.delete_client(id).await;
        }
        self.inner.delete_client(id).await
    }

    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        if self.flaw == Flaw::SweepIgnoresTouch {
            // Answers as if it cleared the mark, and keeps it for the sweep.
            return Ok(self.inner.find_client(id).await?.is_some());
        }
        self.inner.touch_client(id).await
    }

    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_clients(now, limit).await
    }
}

#[async_trait]
impl CodeStore for Broken {
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        self.inner.insert_code(code).await
    }
    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        self.inner.find_code(hash).await
    }
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        if self.flaw == Flaw::NonAtomicRedemption {
            let Some(code) = self.inner.find_code(hash).await? else {
                return Ok(CodeRedemption::Unknown);
            };
            let spent = self.inner.redeem_code(hash, &[]).await?;
            if spent != CodeRedemption::Redeemed {
                return Ok(spent);
            }
            // The second step, some time after the first.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let stored = self
                .inner
                .issue_tokens(Family::Existing(&code.grant.id), tokens)
                .await?;
            return Ok(match stored {
                IssueOutcome::Stored => CodeRedemption::Redeemed,
                _ => CodeRedemption::GrantRevoked,
            });
        }
        let outcome = self.inner.redeem_code(hash, tokens).await?;
        if outcome == CodeRedemption::Redeemed {
            self.remember(tokens);
        }
        Ok(outcome)
    }
    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_codes(now, limit).await
    }
}

#[async_trait]
impl TokenStore for Broken {
    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        let outcome = self.inner.issue_tokens(family, tokens).await?;
        let flawed = match (self.flaw, outcome) {
            (Flaw::IssueIntoRevoked, IssueOutcome::GrantRevoked)
                if matches!(family, Family::Existing(_)) =>
            {
                true
            }
            (Flaw::NoClientCheck, IssueOutcome::ClientUnknown) => true,
            _ => false,
        };
        if flawed {
            self.store_beside(tokens);
            return Ok(IssueOutcome::Stored);
        }
        if outcome == IssueOutcome::Stored {
            self.remember(tokens);
        }
        Ok(outcome)
    }
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        let _shared = self.whole.read().await;
        let found = match self.inner.find_token(hash).await? {
            Some(found) => Some(found),
            None => self.extra.lock().unwrap().get(hash).cloned(),
        };
        if self.flaw == Flaw::DropsOpenIdFields {
            return Ok(found.map(|record| {
                let mut record = TokenRecord::clone(&record);
                record.claims = None;
                record.authentication = None;
                Arc::new(record)
            }));
        }
        Ok(found)
    }
    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        if self.swept(hash) {
            return Ok(RefreshLookup::Unknown);
        }
        self.inner.find_refresh(hash).await
    }
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        if self.swept(old) {
            return Ok(Rotation::Unknown);
        }
        let rotation = self
            .inner
            .rotate_refresh(old, new, sealed_successor, now)
            .await?;
        if rotation == Rotation::Rotated {
            self.retired.lock().unwrap().push(*old);
            self.remember(new);
        }
        Ok(rotation)
    }
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        self.inner.revoke_token(hash).await
    }
    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        self.inner.revoke_grant(grant).await
    }
    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        if self.flaw == Flaw::RevokeSkipsPending {
            let grants = self
                .with_tokens
                .lock()
                .unwrap()
                .remove(&(user.clone(), client.clone()))
                .unwrap_or_default();
            for grant in &grants {
                self.inner.revoke_grant(grant).await?;
            }
            return Ok(grants.len() as u64);
        }
        self.inner.revoke_user_grants(user, client).await
    }
    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        if self.flaw == Flaw::SweepGivesUp {
            let done = *self
                .swept_at
                .lock()
                .unwrap()
                .get(&now.unix_timestamp())
                .unwrap_or(&0);
            let budget = (limit as u64).min(GIVE_UP_AFTER.saturating_sub(done));
            if budget == 0 {
                return Ok(0);
            }
            let removed = self.inner.sweep_tokens(now, budget as usize).await?;
            *self
                .swept_at
                .lock()
                .unwrap()
                .entry(now.unix_timestamp())
                .or_default() += removed;
            return Ok(removed);
        }
        let removed = self.inner.sweep_tokens(now, limit).await?;
        if self.flaw == Flaw::EarlyRetiredSweep {
            let retired = std::mem::take(&mut *self.retired.lock().unwrap());
            self.swept.lock().unwrap().extend(retired);
        }
        Ok(removed)
    }
}

#[async_trait]
impl ConsentStore for Broken {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        self.inner
            .find_consent(user, client)
            .await?
            .map(|c| self.read_back(c))
            .transpose()
    }
    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.inner.save_consent(consent).await
    }
    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.inner.touch_consent(user, client, at).await
    }
    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        self.inner
            .list_consents(user)
            .await?
            .into_iter()
            .map(|c| self.read_back(c))
            .collect()
    }
    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        self.inner.revoke_consent(user, client).await
    }
}

#[async_trait]
impl ReplayStore for Broken {
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let first = self.inner.remember(key, now, expires_at).await?;
        Ok(first || self.flaw == Flaw::ReplayForgets)
    }
    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_replays(now, limit).await
    }
}

#[async_trait]
impl DeviceStore for Broken {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        self.inner.insert_device(record).await
    }
    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.inner.find_device_by_user_code(user_code).await
    }
    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        self.inner.decide_device(user_code, status).await
    }
    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        self.inner.poll_device(device, now).await
    }
    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        let outcome = self.inner.redeem_device(device, tokens).await?;
        if outcome == DeviceRedemption::Redeemed {
            self.remember(tokens);
        }
        Ok(outcome)
    }
    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_devices(now, limit).await
    }
}

/// Runs `check` on a store with `flaw` and returns its panic message; fails if it passed.
async fn failure<F, Fut>(flaw: Flaw, check: F) -> String
where
    F: FnOnce(Arc<dyn Storage>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store: Arc<dyn Storage> = Broken::new(flaw);
    let outcome = tokio::spawn(check(store)).await;
    let error = match outcome {
        Ok(()) => panic!("the kit passed a store with the flaw {flaw:?}"),
        Err(error) => error,
    };
    assert!(error.is_panic(), "the check was cancelled, not failed");
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Asserts that `check` fails on `flaw`, naming `method` first in its message.
async fn caught<F, Fut>(flaw: Flaw, check: F, method: &str)
where
    F: FnOnce(Arc<dyn Storage>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let message = failure(flaw, check).await;
    assert!(
        message.starts_with(&format!("{method}: ")),
        "the failure for {flaw:?} names {method}: {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unbroken_wrapper_passes_every_check() {
    testkit::run_all(Broken::new(Flaw::None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_that_removes_retired_refresh_tokens_early_is_caught() {
    caught(
        Flaw::EarlyRetiredSweep,
        testkit::retired_refresh_survives_sweep,
        "sweep_tokens",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_into_a_revoked_grant_is_caught() {
    caught(
        Flaw::IssueIntoRevoked,
        testkit::revocation_tombstone,
        "issue_tokens",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuing_without_checking_the_client_is_caught() {
    caught(
        Flaw::NoClientCheck,
        testkit::client_checked_on_issue,
        "issue_tokens",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_users_grants_but_not_pending_ones_is_caught() {
    caught(
        Flaw::RevokeSkipsPending,
        testkit::revocation_tombstone,
        "revoke_user_grants",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_redemption_in_two_steps_is_caught() {
    caught(
        Flaw::NonAtomicRedemption,
        |store| testkit::code_redemption_atomic(store, 20),
        "redeem_code",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_that_holds_the_store_is_caught() {
    caught(
        Flaw::OneStepDelete,
        |store| testkit::bounded_delete(store, 20_000),
        "delete_client",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_token_swap_without_compare_is_caught() {
    caught(
        Flaw::SwapWithoutCompare,
        testkit::registration_token_swap,
        "swap_registration_token",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_writes_the_secret_back_is_caught() {
    caught(
        Flaw::UpdateWritesSecret,
        testkit::update_keeps_secret,
        "update_client",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_stored_scopes_with_the_request_limit_is_caught() {
    caught(
        Flaw::RequestLimitOnRead,
        testkit::large_consent,
        "find_consent",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_cache_that_forgets_is_caught() {
    caught(Flaw::ReplayForgets, testkit::replays, "remember").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_that_removes_touched_clients_is_caught() {
    caught(
        Flaw::SweepIgnoresTouch,
        testkit::unused_clients,
        "touch_client",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_forgets_the_openid_fields_of_tokens_is_caught() {
    caught(Flaw::DropsOpenIdFields, testkit::tokens, "find_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_that_never_catches_up_with_a_backlog_is_caught() {
    // The small backlog of the `sweep` check does not show it ...
    testkit::sweep(Broken::new(Flaw::SweepGivesUp)).await;
    // ... a backlog many batches deep does.
    caught(
        Flaw::SweepGivesUp,
        |store| testkit::sweep_backlog(store, 300),
        "sweep_tokens",
    )
    .await;
}
