//! Storage: the traits a backend implements, the records it keeps, and the in-memory backend.
//!
//! Every method is one atomic step. A backend is correct when the `# Contract` of each method
//! holds with many provider instances sharing it concurrently; [`crate::testkit`] checks that.
//! Stores never see a secret, only its [`TokenHash`]. Times are whole seconds, UTC.
//!
//! A backend implements all five traits; [`Storage`] names the bundle a
//! [`crate::Provider`] holds as `Arc<dyn Storage>`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::{Client, ClientId, GrantType, UserId};
use crate::error::StoreError;
use crate::scope::ScopeSet;
use crate::secret::TokenHash;
use crate::shared_str::SharedStr;

#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;

/// The identifier of a grant: one authorization of a client (by a user, or by itself), from
/// which a family of tokens descends. Revoking it revokes every token of the family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(SharedStr);

impl GrantId {
    /// Wraps a stored identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into())
    }

    /// A fresh random identifier (128 bits, hex).
    pub fn generate(entropy: &dyn crate::Entropy) -> Self {
        let mut bytes = [0u8; 16];
        entropy.fill(&mut bytes);
        Self(crate::secret::hex(&bytes).into())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A grant: the family record every token of one authorization belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Grant {
    /// The family identifier.
    pub id: GrantId,
    /// The client the grant was given to.
    pub client_id: ClientId,
    /// The user who gave it; `None` for a client acting for itself (client credentials).
    pub user: Option<UserId>,
    /// The scopes granted.
    pub scopes: ScopeSet,
    /// The grant type that created it.
    pub grant_type: GrantType,
    /// When it was created.
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
}

impl Grant {
    /// A new grant record.
    pub fn new(
        id: GrantId,
        client_id: ClientId,
        user: Option<UserId>,
        scopes: ScopeSet,
        grant_type: GrantType,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            client_id,
            user,
            scopes,
            grant_type,
            created_at,
        }
    }
}

/// A PKCE code challenge (RFC 7636 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PkceChallenge {
    /// The challenge text as sent by the client.
    pub challenge: String,
    /// The transformation.
    pub method: PkceMethod,
}

impl PkceChallenge {
    /// A challenge record.
    pub fn new(challenge: impl Into<String>, method: PkceMethod) -> Self {
        Self {
            challenge: challenge.into(),
            method,
        }
    }
}

/// A PKCE transformation (RFC 7636 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PkceMethod {
    /// `S256`: BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: the verifier itself. Refused unless enabled through [`crate::danger`].
    #[serde(rename = "plain")]
    Plain,
}

impl PkceMethod {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CodeRecord {
    /// The hash of the code.
    pub hash: TokenHash,
    /// The grant the code's tokens will belong to (not yet stored as a [`Grant`]).
    pub grant: Grant,
    /// The `redirect_uri` parameter of the authorization request, if it had one; the token
    /// request must then repeat it exactly (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// The PKCE challenge, if one was sent.
    pub pkce: Option<PkceChallenge>,
    /// When the code stops being redeemable.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

impl CodeRecord {
    /// A code record.
    pub fn new(
        hash: TokenHash,
        grant: Grant,
        redirect_uri: Option<String>,
        pkce: Option<PkceChallenge>,
        expires_at: OffsetDateTime,
    ) -> Self {
        Self {
            hash,
            grant,
            redirect_uri,
            pkce,
            expires_at,
        }
    }
}

/// What taking a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeRedemption {
    /// The code was live and is now spent; this caller is the only one to get it.
    Redeemed(CodeRecord),
    /// The code was already spent: a replay. The grant its tokens joined is named so that the
    /// caller can revoke them (RFC 6749 §4.1.2).
    Replayed(GrantId),
    /// No such code (never issued, or swept after expiry).
    Unknown,
}

/// Whether a token is an access or a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenType {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
}

/// An access or refresh token, as stored: everything a resource server needs in one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenRecord {
    /// The hash of the token.
    pub hash: TokenHash,
    /// Access or refresh.
    pub token_type: TokenType,
    /// The grant (family) the token belongs to.
    pub grant_id: GrantId,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The user it acts for, if any.
    pub user: Option<UserId>,
    /// The scopes it carries.
    pub scopes: ScopeSet,
    /// When it was issued.
    #[serde(with = "time::serde::timestamp")]
    pub issued_at: OffsetDateTime,
    /// When it stops being valid; `None` never.
    #[serde(with = "time::serde::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// For refresh tokens: the family's absolute deadline, which rotation never extends.
    #[serde(with = "time::serde::timestamp::option", default)]
    pub family_expires_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    /// A token record.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        hash: TokenHash,
        token_type: TokenType,
        grant: &Grant,
        scopes: ScopeSet,
        issued_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
        family_expires_at: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            hash,
            token_type,
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            user: grant.user.clone(),
            scopes,
            issued_at,
            expires_at,
            family_expires_at,
        }
    }

    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Whether the token has expired at `now`, in whole seconds since the Unix epoch (as
    /// [`crate::Clock::unix_now`] gives it).
    pub fn is_expired_at_unix(&self, now: i64) -> bool {
        // Rounded up, so that a whole-second `now` agrees with `is_expired` to the nanosecond.
        self.expires_at
            .is_some_and(|at| now >= at.unix_timestamp() + i64::from(at.nanosecond() > 0))
    }
}

/// A refresh token that rotation retired: kept until its own expiry so that a reuse is
/// recognised as theft, or answered from the grace window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetiredRefresh {
    /// The retired token's record as it was when live.
    pub record: TokenRecord,
    /// When it was retired.
    #[serde(with = "time::serde::timestamp")]
    pub retired_at: OffsetDateTime,
    /// The successor token response, sealed under a key only the retired token's holder can
    /// derive (present only when a grace window is configured).
    pub sealed_successor: Option<Vec<u8>>,
}

/// What looking up a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshLookup {
    /// A live refresh token (it may have expired: the caller checks `expires_at`).
    Active(TokenRecord),
    /// A refresh token rotation retired.
    Retired(RetiredRefresh),
    /// No such refresh token.
    Unknown,
}

/// What an attempt to rotate a refresh token did.
// Returned once per refresh grant and matched at once: boxing the retired record would cost an
// allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The old token was live: it is retired and the new tokens are stored.
    Rotated,
    /// The old token had already been retired (by a concurrent rotation or earlier use);
    /// nothing was stored.
    AlreadyRetired(RetiredRefresh),
    /// The old token is not known (revoked or never issued); nothing was stored.
    Unknown,
}

/// What a user allowed a client: remembered so consent is not asked twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Consent {
    /// The user.
    pub user: UserId,
    /// The client.
    pub client_id: ClientId,
    /// Every scope the user has granted the client.
    pub scopes: ScopeSet,
    /// When consent was first given.
    #[serde(with = "time::serde::timestamp")]
    pub granted_at: OffsetDateTime,
    /// When the client last obtained tokens with it.
    #[serde(with = "time::serde::timestamp")]
    pub last_used_at: OffsetDateTime,
}

impl Consent {
    /// A consent record.
    pub fn new(
        user: UserId,
        client_id: ClientId,
        scopes: ScopeSet,
        granted_at: OffsetDateTime,
    ) -> Self {
        Self {
            user,
            client_id,
            scopes,
            granted_at,
            last_used_at: granted_at,
        }
    }
}

/// The state of a device authorization (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeviceStatus {
    /// The user has not decided.
    Pending,
    /// The user allowed it; the device will receive tokens of this grant on its next poll.
    Approved {
        /// The grant the tokens will belong to.
        grant: Grant,
    },
    /// The user denied it.
    Denied,
    /// The device received its tokens.
    Redeemed,
}

/// A device authorization, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceRecord {
    /// The hash of the device code.
    pub device_hash: TokenHash,
    /// The hash of the normalised user code.
    pub user_code_hash: TokenHash,
    /// The client that asked.
    pub client_id: ClientId,
    /// The scopes it asked for.
    pub scopes: ScopeSet,
    /// When both codes stop working.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The minimum seconds between polls.
    pub interval: u32,
    /// When the device last polled.
    #[serde(with = "time::serde::timestamp::option")]
    pub last_poll_at: Option<OffsetDateTime>,
    /// Where the authorization stands.
    pub status: DeviceStatus,
}

impl DeviceRecord {
    /// A new, pending device authorization.
    pub fn new(
        device_hash: TokenHash,
        user_code_hash: TokenHash,
        client_id: ClientId,
        scopes: ScopeSet,
        expires_at: OffsetDateTime,
        interval: u32,
    ) -> Self {
        Self {
            device_hash,
            user_code_hash,
            client_id,
            scopes,
            expires_at,
            interval,
            last_poll_at: None,
            status: DeviceStatus::Pending,
        }
    }
}

/// What one poll of the token endpoint found (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevicePoll {
    /// The device polled before `interval` seconds had passed since its last poll; the
    /// stored interval has been raised by 5 seconds.
    SlowDown(DeviceRecord),
    /// The record as it stood before this poll. If its status is `Approved`, this caller is
    /// the only one that will ever see it so: the store now holds `Redeemed`.
    Polled(DeviceRecord),
    /// No such device code.
    Unknown,
}

/// Clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client.
    ///
    /// # Contract
    /// Fails with [`StoreError::Conflict`] if the ID is taken, leaving the existing client as it
    /// was.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;

    /// The client with this ID.
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;

    /// Replaces a stored client's record. Returns `false` if there is no such client.
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError>;

    /// Deletes a client.
    ///
    /// # Contract
    /// Atomically removes the client and everything that refers to it: its codes, grants,
    /// tokens (live and retired), consents and device authorizations. Returns `false` if there
    /// was no such client.
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code.
    ///
    /// # Contract
    /// [`StoreError::Conflict`] if a code with the same hash exists.
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError>;

    /// Spends a code.
    ///
    /// # Contract
    /// Atomic: of any number of concurrent calls with one hash, across processes, at most one
    /// ever returns [`CodeRedemption::Redeemed`]; later calls return
    /// [`CodeRedemption::Replayed`] for as long as the code record is kept (at least until its
    /// `expires_at`). Expiry is not checked here: the caller compares `expires_at` with its
    /// clock. Returning `Unknown` for a spent code is safe only after `expires_at`.
    ///
    /// A call that returns [`CodeRedemption::Replayed`] also bars the code's grant, in the same
    /// atomic step: from then on (the bar is kept at least until the code's `expires_at`)
    /// [`TokenStore::issue_tokens`] for that grant ID stores nothing and fails with
    /// [`StoreError::GrantRevoked`], in any process. A redemption whose tokens were already
    /// stored is finished by the caller's [`TokenStore::revoke_grant`]; one still between
    /// `take_code` and `issue_tokens` never gets its tokens (RFC 9700 §4.5).
    async fn take_code(&self, hash: &TokenHash) -> Result<CodeRedemption, StoreError>;

    /// Removes up to `limit` codes whose `expires_at` is before `now`; returns how many. Grant
    /// bars left by replays (see [`CodeStore::take_code`]) past their code's `expires_at` go
    /// too (up to `limit` of them, not counted).
    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Grants, access tokens and refresh tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores the tokens of a grant, creating the grant record if it does not exist yet.
    ///
    /// # Contract
    /// All or nothing: either every token and the grant are stored, or none. Every record in
    /// `tokens` has `grant_id == grant.id`. If the grant ID is barred because its code was
    /// replayed ([`CodeStore::take_code`] returned [`CodeRedemption::Replayed`]), nothing is
    /// stored and the call fails with [`StoreError::GrantRevoked`]. The check and the writes
    /// are one atomic step against `take_code`'s bar, across processes: either the bar comes
    /// first and nothing is stored, or the tokens are stored first and a `revoke_grant` after
    /// the bar finds (and removes) them.
    async fn issue_tokens(&self, grant: &Grant, tokens: &[TokenRecord]) -> Result<(), StoreError>;

    /// A live access or refresh token by hash (expired ones may be returned; the caller
    /// checks). The hot path of every API request: one lookup.
    ///
    /// Returned behind an `Arc` so that a backend keeping records in memory can answer without
    /// copying one.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError>;

    /// A refresh token by hash, live or retired.
    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError>;

    /// Retires the live refresh token `old` and stores `new` in its family.
    ///
    /// # Contract
    /// Atomic compare-and-swap: of any number of concurrent calls with one `old`, across
    /// processes, exactly one returns [`Rotation::Rotated`] and stores its `new`; the others
    /// store nothing and return [`Rotation::AlreadyRetired`] with the winner's retired record
    /// (including the winner's `sealed_successor`). The retired record is kept at least until
    /// the old token's `expires_at` (forever if it had none, until its grant is revoked).
    /// `retired_at` is set to `now`.
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// Revokes one token (access or refresh). Returns whether it existed.
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError>;

    /// Revokes a grant and every token of its family, live and retired.
    ///
    /// # Contract
    /// Atomic: after it returns, no token of the family is found by `find_token` or
    /// `find_refresh`, in any process. Returns how many tokens were removed. Together with the
    /// bar [`CodeStore::take_code`] leaves on a replay, a replayed code ends with no live
    /// token whichever way the replay and the redemption interleave.
    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError>;

    /// Revokes every grant (and token) `user` gave `client`. Returns how many grants.
    async fn revoke_user_grants(&self, user: &UserId, client: &ClientId)
    -> Result<u64, StoreError>;

    /// The grants a user has given, newest first.
    async fn list_user_grants(&self, user: &UserId) -> Result<Vec<Grant>, StoreError>;

    /// Removes up to `limit` tokens (live or retired) whose `expires_at` is before `now`, and
    /// grants left with no token; returns how many records went.
    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Consents.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// What `user` has granted `client`.
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError>;

    /// Records that `user` granted `client` `consent.scopes`.
    ///
    /// # Contract
    /// If consent exists, its scopes become the union of the old and the new, `granted_at`
    /// is kept and `last_used_at` set from `consent`; otherwise `consent` is stored as given.
    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError>;

    /// Sets `last_used_at` of an existing consent; does nothing if there is none.
    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Every consent `user` has given, in no particular order.
    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError>;

    /// Withdraws consent. Returns whether there was any.
    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError>;
}

/// Device authorizations (RFC 8628).
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new device authorization.
    ///
    /// # Contract
    /// [`StoreError::Conflict`] if the device code hash or the user code hash is in use by a
    /// record that has not been swept, so the caller can draw another user code.
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError>;

    /// The device authorization with this user code hash.
    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError>;

    /// Records the user's decision: `status` is `Approved` or `Denied`.
    ///
    /// # Contract
    /// Applies only if the record is still `Pending`; returns whether it did.
    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError>;

    /// One poll by the device.
    ///
    /// # Contract
    /// Atomic. If the record's `last_poll_at` is set and `now` is earlier than
    /// `last_poll_at + interval`, raises `interval` by 5, sets `last_poll_at = now` and returns
    /// [`DevicePoll::SlowDown`] without touching the status. Otherwise sets `last_poll_at = now`,
    /// and if the status is `Approved`, sets it to `Redeemed`; returns the record as it was
    /// before the call. Of concurrent polls at most one ever sees `Approved`.
    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError>;

    /// Removes up to `limit` device authorizations whose `expires_at` is before `now`.
    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Everything a [`crate::Provider`] needs from a backend. Implemented for every type that
/// implements the five store traits.
pub trait Storage:
    ClientStore + CodeStore + TokenStore + ConsentStore + DeviceStore + std::fmt::Debug
{
}

impl<T> Storage for T where
    T: ClientStore + CodeStore + TokenStore + ConsentStore + DeviceStore + std::fmt::Debug
{
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;

    #[test]
    fn unix_expiry_check_agrees_with_the_calendar_one() {
        let epoch = OffsetDateTime::UNIX_EPOCH;
        let grant = Grant::new(
            GrantId::new("g"),
            ClientId::new("c").unwrap_or_else(|_| unreachable!()),
            None,
            ScopeSet::new(),
            GrantType::ClientCredentials,
            epoch,
        );
        for at_ns in [
            None,
            Some(0),
            Some(999_999_999),
            Some(1_000_000_000),
            Some(1_500_000_000),
        ] {
            let expires_at =
                at_ns.map(|ns| epoch + time::Duration::nanoseconds(100_000_000_000 + ns));
            let record = TokenRecord::new(
                TokenHash::of("t"),
                TokenType::Access,
                &grant,
                ScopeSet::new(),
                epoch,
                expires_at,
                None,
            );
            for now in 98..=103 {
                assert_eq!(
                    record.is_expired_at_unix(now),
                    record.is_expired(epoch + time::Duration::seconds(now)),
                    "expires {expires_at:?}, now {now}"
                );
            }
        }
    }
}
