//! Storage: the traits a backend implements, the records it keeps, and the backends (memory,
//! PostgreSQL, SQLite, Redis).
//!
//! A backend is correct when the `# Contract` of each method holds with many provider instances
//! sharing it concurrently; [`crate::testkit`] checks that. Stores never see a secret, only its
//! [`TokenHash`]. Times are whole seconds, UTC.
//!
//! Most methods are one atomic step. Those whose work grows with the data (deleting a client,
//! revoking grants, sweeping) first take effect in one atomic step that marks what goes (so
//! that nothing of it is found or issued into from then on), then remove the records in
//! bounded batches, each its own step: no single step is ever proportional to the data, so one
//! deletion cannot stall every other request.
//!
//! # Grants
//! A [`Grant`] is stored when the authorization is given: with its code
//! ([`CodeStore::insert_code`]), with the user's approval of a device
//! ([`DeviceStore::decide_device`]), or with its first tokens ([`TokenStore::issue_tokens`]
//! with [`Family::New`], for client credentials and token exchange). Tokens join it only
//! through steps that check, atomically, that it is still active and its client still exists:
//! [`CodeStore::redeem_code`], [`DeviceStore::redeem_device`],
//! [`TokenStore::issue_tokens`] with [`Family::Existing`] and [`TokenStore::rotate_refresh`].
//! Revocation is a tombstone those steps respect, so a redemption, a device poll or a refresh
//! racing a revocation can never bring a revoked grant back.
//!
//! A backend implements all six traits; [`Storage`] names the bundle a
//! [`crate::Provider`] holds as `Arc<dyn Storage>`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::{Client, ClientId, UserId};
use crate::error::StoreError;
use crate::scope::ScopeSet;
use crate::secret::{SecretHash, TokenHash};

#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod ext;
mod replay;
pub use replay::{ReplayKey, ReplayStore};
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;

/// The family record, its identifier and the user's authentication live with the grants;
/// stores keep them.
pub use crate::grant::family::{Authentication, Grant, GrantId};
/// PKCE challenges live with PKCE; codes keep them.
pub use crate::grant::pkce::{PkceChallenge, PkceMethod};

/// A proof-of-possession key a token is bound to (the RFC 7800 `cnf` claim): only a client
/// proving possession of that key may use the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Confirmation {
    /// `jkt`: the RFC 7638 thumbprint (base64url SHA-256) of a DPoP key (RFC 9449 §6).
    #[serde(rename = "jkt")]
    Jkt(String),
    /// `x5t#S256`: the base64url SHA-256 of a client certificate's DER (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256")]
    X5tS256(String),
}

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CodeRecord {
    /// The hash of the code.
    pub hash: TokenHash,
    /// The grant the code's tokens will belong to, stored with the code.
    pub grant: Grant,
    /// The `redirect_uri` parameter of the authorization request, if it had one; the token
    /// request must then repeat it exactly (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// The PKCE challenge, if one was sent.
    pub pkce: Option<PkceChallenge>,
    /// When the code stops being redeemable.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The OpenID Connect `nonce` of the authorization request, for the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The `dpop_jkt` of the authorization request (RFC 9449 §10): the code is redeemable only
    /// with a DPoP proof by this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// The OpenID Connect `claims` request parameter (Core §5.5), as the JSON text validated at
    /// the authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
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
            nonce: None,
            dpop_jkt: None,
            claims: None,
        }
    }

    /// The same code with an OpenID Connect `nonce`.
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// The same code bound to a DPoP key thumbprint.
    pub fn with_dpop_jkt(mut self, jkt: impl Into<String>) -> Self {
        self.dpop_jkt = Some(jkt.into());
        self
    }

    /// The same code with an OpenID Connect `claims` request (JSON text).
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }
}

/// What [`CodeStore::insert_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Insertion {
    /// The record (and the grant it names) is stored.
    Stored,
    /// The client it names does not exist (or is being deleted); nothing was stored.
    ClientUnknown,
}

/// What [`CodeStore::redeem_code`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeRedemption {
    /// The code was live and is now spent, and the tokens are stored in its grant; this caller
    /// is the only one ever told so.
    Redeemed,
    /// The code was already spent: a replay. Its grant is now revoked, and every token of the
    /// family is gone (RFC 6749 §4.1.2, RFC 9700 §4.5); nothing was stored.
    Replayed(GrantId),
    /// The code is live but its grant was revoked, or its client deleted, since it was issued;
    /// nothing was stored and the code is left as it was.
    GrantRevoked,
    /// No such code (never issued, or swept after expiry).
    Unknown,
}

/// Which grant family [`TokenStore::issue_tokens`] writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family<'a> {
    /// A grant created by this call, with its tokens (client credentials, token exchange).
    New(&'a Grant),
    /// A grant already stored, which must still be active (a refresh without rotation).
    Existing(&'a GrantId),
}

impl Family<'_> {
    /// The grant's identifier.
    pub fn id(&self) -> &GrantId {
        match self {
            Self::New(grant) => &grant.id,
            Self::Existing(id) => id,
        }
    }
}

/// What [`TokenStore::issue_tokens`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueOutcome {
    /// Every token is stored.
    Stored,
    /// The grant is revoked or not known (forgotten after revocation); nothing was stored.
    GrantRevoked,
    /// The grant's client does not exist (or is being deleted); nothing was stored.
    ClientUnknown,
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
    /// The resource servers the token may be used at (RFC 8707; `aud`); empty for a token
    /// not restricted to named resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The key the token is bound to, if it is sender-constrained (RFC 9449, RFC 8705).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    /// The OpenID Connect `claims` request (Core §5.5) of the authorization the token
    /// descends from, as the JSON text validated at the authorization endpoint (at most
    /// 4 KiB): the userinfo
    /// endpoint releases what its `userinfo` member names, and ID tokens issued at refresh
    /// what its `id_token` member names. Every token of the family carries it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// For a refresh token: how and when the user authenticated for the grant (its
    /// [`Grant::authentication`]), so that an ID token issued at refresh keeps the original
    /// `auth_time`, `acr` and `amr` (OpenID Connect Core §12.2). Rotation carries it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

impl TokenRecord {
    /// A token record, with its grant's audience and no confirmation, `claims` request or
    /// authentication.
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
            audience: grant.audience.clone(),
            confirmation: None,
            claims: None,
            authentication: None,
        }
    }

    /// The same token restricted to these resource servers (by default, its grant's).
    pub fn with_audience(mut self, audience: Vec<String>) -> Self {
        self.audience = audience;
        self
    }

    /// The same token bound to a proof-of-possession key.
    pub fn with_confirmation(mut self, confirmation: Confirmation) -> Self {
        self.confirmation = Some(confirmation);
        self
    }

    /// The same token with an OpenID Connect `claims` request (JSON text).
    pub fn with_claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    /// The same token with the user's authentication recorded (for refresh tokens).
    pub fn with_authentication(mut self, authentication: Authentication) -> Self {
        self.authentication = Some(authentication);
        self
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

impl RetiredRefresh {
    /// A retired refresh token record.
    pub fn new(
        record: TokenRecord,
        retired_at: OffsetDateTime,
        sealed_successor: Option<Vec<u8>>,
    ) -> Self {
        Self {
            record,
            retired_at,
            sealed_successor,
        }
    }
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
    /// The user allowed it; the grant is stored, and the device receives its tokens when it
    /// next polls ([`DeviceStore::redeem_device`]).
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
    /// The record as it stood before this poll. If its status is `Approved`, the caller
    /// collects the tokens with [`DeviceStore::redeem_device`], which only one caller wins.
    Polled(DeviceRecord),
    /// No such device code.
    Unknown,
}

/// What [`DeviceStore::redeem_device`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceRedemption {
    /// The authorization was approved and is now redeemed, and the tokens are stored in its
    /// grant; this caller is the only one ever told so.
    Redeemed,
    /// Another call redeemed it first; nothing was stored.
    AlreadyRedeemed,
    /// The user has not approved it (still pending, or denied); nothing was stored.
    NotApproved,
    /// It was approved, but the grant has been revoked or its client deleted since; nothing
    /// was stored.
    GrantRevoked,
    /// No such device code (never issued, or swept after expiry).
    Unknown,
}

/// Clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client.
    ///
    /// # Contract
    /// Fails with [`StoreError::Conflict`] if the ID is taken, leaving the existing client as it
    /// was. An ID whose client was deleted counts as taken until the deletion has been
    /// completely reaped (see [`ClientStore::delete_client`]), so a new client never inherits
    /// what the old one left.
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;

    /// The client with this ID (`None` once [`ClientStore::delete_client`] has begun).
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;

    /// Replaces a stored client's metadata. Returns `false` if there is no such client.
    ///
    /// # Contract
    /// Atomic. Every field is replaced except the stored `secret`, `registration_token` and
    /// `unused_until`, which are kept as they are whatever `client` holds: a metadata update
    /// racing a secret rotation never writes the old secret back, nor one racing a first use
    /// the expiry mark. Change those with [`ClientStore::set_client_secret`],
    /// [`ClientStore::swap_registration_token`] and [`ClientStore::touch_client`].
    async fn update_client(&self, client: &Client) -> Result<bool, StoreError>;

    /// Replaces a client's secret hash. Returns `false` if there is no such client.
    ///
    /// # Contract
    /// Atomic: a concurrent [`ClientStore::update_client`] keeps this secret.
    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError>;

    /// Replaces a client's registration access token hash, if it is still `old`.
    ///
    /// # Contract
    /// Atomic compare-and-swap: returns `true` and stores `new` only if the stored hash equals
    /// `old`; otherwise (another token, none, no such client) changes nothing and returns
    /// `false`. Of concurrent swaps from one `old`, at most one succeeds.
    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError>;

    /// Deletes a client and everything that refers to it: its codes, grants, tokens (live and
    /// retired), consents and device authorizations. Returns `false` if there was no such
    /// client.
    ///
    /// # Contract
    /// The first atomic step marks the client deleted: from then on, in any process,
    /// [`ClientStore::find_client`] does not return it, issuance for it
    /// ([`TokenStore::issue_tokens`], [`CodeStore::insert_code`],
    /// [`CodeStore::redeem_code`], [`DeviceStore::decide_device`],
    /// [`DeviceStore::redeem_device`], [`TokenStore::rotate_refresh`]) refuses it, and
    /// [`TokenStore::find_token`] and [`TokenStore::find_refresh`] find none of its tokens.
    /// The records are then removed in bounded batches, each its own step, so that deleting a
    /// client with millions of tokens never holds the store: other requests run between the
    /// batches. When the call returns, nothing of the client is left. If it is interrupted
    /// (a crash, a dropped future), the mark stays and the reaping is finished by the next
    /// `delete_client` of the same ID (which then returns `false`) or by
    /// [`TokenStore::sweep_tokens`].
    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError>;

    /// Records a client's first use: clears its [`Client::unused_until`], so that it never
    /// expires unused. Returns `false` if there is no such client (or it is being deleted).
    /// The provider calls it once per client, when it sees the mark set.
    ///
    /// # Contract
    /// Atomic, and ordered with [`ClientStore::sweep_clients`]: a touch either comes first
    /// (and the sweep leaves the client) or finds the client gone (`false`). Clearing a mark
    /// already clear changes nothing.
    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError>;

    /// Removes up to `limit` clients whose [`Client::unused_until`] is before `now`, each as
    /// [`ClientStore::delete_client`] removes one (with its codes, grants, tokens, consents
    /// and device authorizations); returns how many clients went.
    ///
    /// # Contract
    /// The clients are found through an index on the mark (ordered by it), so the work is
    /// bounded by `limit` and what those clients left, never by how many clients are stored.
    /// Each is marked deleted in an atomic step that checks, on its latest state, that its
    /// mark is still set and before `now`: a client touched meanwhile, or one without the
    /// mark, is never removed. A return below `limit` means no more was due at `now`.
    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Authorization codes.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a new code and, in the same atomic step, its `grant` as an active grant: the grant
    /// exists from the moment the user approved, so revoking the user's grants covers a code
    /// not yet redeemed.
    ///
    /// # Contract
    /// All or nothing. [`StoreError::Conflict`] if a code with the same hash or a grant with
    /// the same ID exists; [`Insertion::ClientUnknown`] (nothing stored) if the grant's client
    /// does not exist or is being deleted, checked in the same step.
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError>;

    /// The code with this hash, live or spent (a read: the caller checks the client, the
    /// expiry, the redirect URI and PKCE before redeeming it).
    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError>;

    /// Spends a code and stores its tokens, as one atomic step.
    ///
    /// # Contract
    /// Every record in `tokens` belongs to the code's grant (`grant_id`, `client_id` and
    /// `user` are the grant's). Atomic across processes:
    ///
    /// - A live code whose grant is active and whose client exists is spent and every token
    ///   stored: [`CodeRedemption::Redeemed`]. Of any number of concurrent calls with one hash,
    ///   at most one ever gets it; a store fault leaves the code live and nothing stored.
    /// - An already spent code: [`CodeRedemption::Replayed`], and in the same step the grant is
    ///   revoked as by [`TokenStore::revoke_grant`] (a tombstone; no token of the family is
    ///   found once the call returns). Nothing is stored.
    /// - A live code whose grant was revoked, or whose client was deleted:
    ///   [`CodeRedemption::GrantRevoked`]; nothing is stored and the code is left unspent.
    ///
    /// Expiry is not checked here. Spent codes are kept (to recognise replays) at least until
    /// their `expires_at`; after that `Unknown` is a safe answer.
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError>;

    /// Removes up to `limit` codes (live or spent) whose `expires_at` is before `now`, in
    /// bounded batches; returns how many codes went. A grant left with no token, code or
    /// device authorization by it is forgotten in the same step (not counted).
    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Grants, access tokens and refresh tokens.
///
/// A grant is stored when the authorization is given ([`CodeStore::insert_code`],
/// [`DeviceStore::decide_device`], or [`TokenStore::issue_tokens`] with [`Family::New`]) and is
/// then *active* until revoked. Revocation leaves a *tombstone*: the grant is kept, marked
/// revoked, and nothing is ever stored into it again. A store may forget a grant (active or
/// revoked) once no token, code or device authorization names it; an unknown grant is treated
/// as revoked, so forgetting is safe.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Whether the backend answers now: one cheap round trip (PostgreSQL `SELECT 1`, Redis
    /// `PING`), for a readiness check ([`crate::Provider::ready`]).
    ///
    /// # Contract
    /// `Ok(())` when a request would reach the backend now; [`StoreError::Unavailable`] when
    /// it cannot be reached or is busy. Reads and writes nothing. The default answers `Ok(())`
    /// (right for a store in the provider's memory).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stores tokens into a grant family.
    ///
    /// # Contract
    /// Every record in `tokens` belongs to the family's grant. All or nothing, as one atomic
    /// step across processes:
    ///
    /// - [`Family::New`] creates the grant, active, with the tokens; [`StoreError::Conflict`] if
    ///   a grant with its ID exists (active, revoked, or not yet forgotten).
    /// - [`Family::Existing`] needs an active stored grant: a revoked one, or one the store
    ///   does not know, is [`IssueOutcome::GrantRevoked`]. A revocation is either before the
    ///   call (nothing stored) or after it (and removes these tokens too).
    /// - Either way, the grant's client must exist and not be being deleted, checked in the
    ///   same step: otherwise [`IssueOutcome::ClientUnknown`]. A delete that begins after the
    ///   call removes these tokens with the rest.
    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError>;

    /// A live access or refresh token by hash (expired ones may be returned; the caller
    /// checks). The hot path of every API request: one lookup.
    ///
    /// # Contract
    /// Never returns a token whose grant is revoked or whose client is deleted, even while the
    /// records are still being reaped. Returned behind an `Arc` so that a backend keeping
    /// records in memory can answer without copying one.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError>;

    /// A refresh token by hash, live or retired.
    ///
    /// # Contract
    /// As [`TokenStore::find_token`]: nothing of a revoked grant or a deleted client.
    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError>;

    /// Retires the live refresh token `old` and stores `new` in its family.
    ///
    /// # Contract
    /// Atomic compare-and-swap: of any number of concurrent calls with one `old`, across
    /// processes, exactly one returns [`Rotation::Rotated`] and stores its `new`; the others
    /// store nothing and return [`Rotation::AlreadyRetired`] with the winner's retired record
    /// (including the winner's `sealed_successor`). The retired record is kept at least until
    /// the old token's own `expires_at` (forever if it had none, until its grant is revoked):
    /// a sweep never removes it earlier, or reuse detection would be lost. `retired_at` is set
    /// to `now`. If the grant is revoked or the client deleted, nothing is stored and the
    /// answer is [`Rotation::Unknown`].
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// Revokes one live token (access or refresh). Returns whether it existed.
    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError>;

    /// Revokes a grant: a tombstone, and every token of its family (live and retired) removed.
    ///
    /// # Contract
    /// The first atomic step marks the grant revoked: from then on, in any process, no token of
    /// the family is found and [`TokenStore::issue_tokens`], [`CodeStore::redeem_code`],
    /// [`DeviceStore::redeem_device`] and [`TokenStore::rotate_refresh`] store nothing into
    /// it. The tokens are then removed in bounded batches (resumed by
    /// [`TokenStore::sweep_tokens`] if interrupted). Returns how many tokens were removed: a
    /// redemption that stored its tokens before the mark is counted, one refused after it is
    /// not. The tombstone is kept at least as long as any code or device authorization naming
    /// the grant. Revoking an unknown or already revoked grant removes what may be left and
    /// returns how many.
    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError>;

    /// Revokes every active grant `user` gave `client`, as [`TokenStore::revoke_grant`] does
    /// one: including grants whose code is not yet redeemed and approved device
    /// authorizations not yet polled. Returns how many grants.
    ///
    /// # Contract
    /// Bounded work per atomic step: the grants are marked in batches, then reaped. Every grant
    /// stored before the call is revoked when it returns.
    async fn revoke_user_grants(&self, user: &UserId, client: &ClientId)
    -> Result<u64, StoreError>;

    /// Removes, in bounded batches, up to `limit` records in total: live tokens whose
    /// `expires_at` is before `now`, retired refresh tokens whose own `expires_at` is before
    /// `now`, and records left to reap by an interrupted [`TokenStore::revoke_grant`] or
    /// [`ClientStore::delete_client`]. Returns how many of those it removed; a grant left with
    /// no token, code or device authorization is forgotten in the same step (not counted).
    ///
    /// # Contract
    /// A retired refresh token is never removed before its own `expires_at` (one without an
    /// expiry only with its grant). A return below `limit` means nothing more was due at
    /// `now`: a host calls it (and [`CodeStore::sweep_codes`] and
    /// [`DeviceStore::sweep_devices`]) repeatedly until it returns less than `limit`.
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
    /// A consent of any number of scopes reads back whole (the request limit
    /// [`crate::ScopeSet::MAX_SCOPES`] does not apply to stored records).
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

    /// Records the user's decision: `status` is `Approved` or `Denied` (anything else changes
    /// nothing and returns `false`).
    ///
    /// # Contract
    /// Atomic; applies only if the record is still `Pending`, and returns whether it did.
    /// `Approved { grant }` stores `grant` as an active grant in the same step (the grant's
    /// client is the record's): [`StoreError::Conflict`] if a grant with its ID exists, and
    /// `false` (nothing stored) if the client does not exist or is being deleted.
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
    /// [`DevicePoll::SlowDown`] without touching the status. Otherwise sets `last_poll_at = now`
    /// and returns the record as it was before the call. The status is never changed here:
    /// tokens are collected with [`DeviceStore::redeem_device`].
    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError>;

    /// Flips an approved device authorization to `Redeemed` and stores its tokens, as one
    /// atomic step.
    ///
    /// # Contract
    /// Every record in `tokens` belongs to the approved grant. Atomic across processes: if the
    /// status is `Approved`, the grant active and its client present, the status becomes
    /// `Redeemed` and every token is stored ([`DeviceRedemption::Redeemed`]); of any number of
    /// concurrent calls at most one gets it. Otherwise nothing changes and nothing is stored.
    /// Expiry is not checked here.
    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError>;

    /// Removes up to `limit` device authorizations whose `expires_at` is before `now`, in
    /// bounded batches; returns how many went. A grant left with no token, code or device
    /// authorization by it is forgotten in the same step (not counted).
    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}

/// Everything a [`crate::Provider`] needs from a backend. Implemented for every type that
/// implements the six store traits.
pub trait Storage:
    ClientStore + CodeStore + TokenStore + ConsentStore + DeviceStore + ReplayStore + std::fmt::Debug
{
}

impl<T> Storage for T where
    T: ClientStore
        + CodeStore
        + TokenStore
        + ConsentStore
        + DeviceStore
        + ReplayStore
        + std::fmt::Debug
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
