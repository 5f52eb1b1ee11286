//! A skeleton for your own storage backend, checked by the conformance kit.
//!
//! `MyStore` implements the six storage traits that make a [`Storage`]. Each method here
//! hands its work to a [`MemoryStore`] so that the skeleton runs and passes the kit as it
//! stands; replace each body with your database's statements, keeping the contract written
//! above it (the full text is on each trait method's rustdoc, under `# Contract`). Then run
//!
//! ```text
//! cargo run --example custom_store --features testkit
//! ```
//!
//! and, in your own crate, one test per kit check with
//! `tessera::store_conformance_tests!(async { Arc::new(MyStore::connect().await) });`.
//!
//! The rules every method shares: the store sees only hashes (`TokenHash`, `SecretHash`),
//! never a secret; times are whole seconds, UTC; a step the contract calls atomic must be one
//! transaction (or one script) even with many provider processes sharing the database; and no
//! single step may do work that grows with the data (delete and revoke in bounded batches).
//! Report a database that is down or timing out as `StoreError::Unavailable`, a uniqueness
//! violation as `StoreError::Conflict`, and a row you cannot decode as `StoreError::Corrupt`.

use std::sync::Arc;

use tessera::async_trait;
use tessera::store::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, GrantId, Insertion,
    IssueOutcome, MemoryStore, RefreshLookup, ReplayKey, ReplayStore, Rotation, Storage,
    TokenRecord, TokenStore,
};
use tessera::{Client, ClientId, SecretHash, StoreError, TokenHash, UserId};
use time::OffsetDateTime;

/// Your backend. Hold your connection pool here.
#[derive(Debug, Default)]
struct MyStore {
    inner: MemoryStore,
}

#[async_trait]
impl ClientStore for MyStore {
    // A client ID in use is a `Conflict`.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        self.inner.insert_client(client).await
    }

    // `None` once `delete_client` has begun (a deleted-but-not-yet-reaped client is gone).
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.inner.find_client(id).await
    }

    // Atomic; replaces every field but `secret`, `registration_token` and `unused_until`, which
    // stay as stored whatever `client` holds (so an update racing a secret rotation never
    // writes it back).
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        self.inner.update_client(client).await
    }

    // Atomic; replaces only the secret hash.
    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        self.inner.set_client_secret(id, secret).await
    }

    // Compare-and-swap: `new` is stored only if the stored hash equals `old`
    // (`UPDATE ... WHERE id = $1 AND registration_token = $2`); at most one of racing swaps wins.
    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        self.inner.swap_registration_token(id, old, new).await
    }

    // Mark the client deleted in one step (from then on nothing of it is found or issued
    // into), then remove its codes, grants, tokens, consents and devices in bounded batches.
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        self.inner.delete_client(id).await
    }

    // Clears `unused_until` in one step (`UPDATE ... SET unused_until = NULL`); keep the mark
    // in an indexed column so that `sweep_clients` never scans every client.
    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        self.inner.touch_client(id).await
    }

    // Deletes, as `delete_client` does, at most `limit` clients whose `unused_until` is before
    // `now`, found through that index; the mark is re-checked in the step that marks each
    // deleted, so a client touched meanwhile stays. Returns how many clients went.
    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_clients(now, limit).await
    }
}

#[async_trait]
impl CodeStore for MyStore {
    // Stores the code and its grant together, after checking (in the same step) that the
    // client exists; a hash or grant ID in use is a `Conflict`.
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        self.inner.insert_code(code).await
    }

    // Live or spent (a spent code is kept until its `expires_at`, to recognise a replay).
    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        self.inner.find_code(hash).await
    }

    // One atomic step: spend the code and store its tokens; a second redemption is a replay
    // that revokes the grant. Under concurrency exactly one caller gets `Redeemed`.
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        self.inner.redeem_code(hash, tokens).await
    }

    // Removes at most `limit` codes whose `expires_at` is before `now`; returns how many.
    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_codes(now, limit).await
    }
}

#[async_trait]
impl TokenStore for MyStore {
    // All or nothing. `Family::New` creates the grant with its tokens (`Conflict` if the ID is
    // taken); `Family::Existing` needs the grant active (else `GrantRevoked`). Either way the
    // client must exist, checked in the same step (else `ClientUnknown`).
    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        self.inner.issue_tokens(family, tokens).await
    }

    // The hot path: one indexed lookup. Never a token of a revoked grant or deleted client.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        self.inner.find_token(hash).await
    }

    // Live or retired (with its sealed successor); nothing of a revoked grant.
    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        self.inner.find_refresh(hash).await
    }

    // Atomic: retire `old` (keeping it until its own expiry) and store `new`; of racing
    // rotations one wins and the others get `AlreadyRetired` with the winner's record.
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        self.inner
            .rotate_refresh(old, new, sealed_successor, now)
            .await
    }

    // Removes one live token; `false` if there was none (a retired refresh token is not live).
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        self.inner.revoke_token(hash).await
    }

    // A tombstone first (nothing is stored into the grant again), then every token of the
    // family, live and retired, removed in bounded batches; returns how many tokens.
    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        self.inner.revoke_grant(grant).await
    }

    // As `revoke_grant` for every active grant `user` gave `client`, including codes not yet
    // redeemed and approved devices not yet polled; returns how many grants.
    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        self.inner.revoke_user_grants(user, client).await
    }

    // At most `limit` expired tokens (a retired refresh token only after its own expiry) and
    // leftovers of interrupted revocations; a return below `limit` means caught up.
    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_tokens(now, limit).await
    }
}

#[async_trait]
impl ConsentStore for MyStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        self.inner.find_consent(user, client).await
    }

    // Replaces the user's consent to the client (any number of scopes reads back whole).
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
        self.inner.list_consents(user).await
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        self.inner.revoke_consent(user, client).await
    }
}

#[async_trait]
impl DeviceStore for MyStore {
    // A device or user-code hash in use is a `Conflict`.
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        self.inner.insert_device(record).await
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.inner.find_device_by_user_code(user_code).await
    }

    // Atomic: only a pending record changes; an approval stores its grant in the same step.
    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        self.inner.decide_device(user_code, status).await
    }

    // Atomic: a poll sooner than `interval` after the last raises the interval by 5 and is
    // `SlowDown`; the status never changes here.
    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        self.inner.poll_device(device, now).await
    }

    // Atomic: an approved record becomes redeemed and its tokens are stored; one caller wins.
    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        self.inner.redeem_device(device, tokens).await
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_devices(now, limit).await
    }
}

#[async_trait]
impl ReplayStore for MyStore {
    // Atomic insert-if-absent (`INSERT ... ON CONFLICT DO NOTHING`, `SET NX`): `true` only for
    // the first caller of a key not yet expired at `now`, across every process; so a DPoP
    // proof is used once. An expired entry may be taken over.
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.remember(key, now, expires_at).await
    }

    // Removes at most `limit` entries whose `expires_at` has passed.
    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.inner.sweep_replays(now, limit).await
    }
}

#[tokio::main]
async fn main() {
    let store: Arc<dyn Storage> = Arc::new(MyStore::default());
    tessera::testkit::run_all(store).await;
    println!("MyStore passed the conformance kit");
}
