//! The Redis backend: every store trait on one standalone Redis (or Valkey) server, shared by
//! any number of provider processes.
//!
//! Each trait method is one round trip: a single command where one suffices, otherwise a Lua
//! script (`redis::Script`, loaded once per connection and run by hash) that Redis executes
//! atomically. Records are `serde_json`; keys and values hold only hashes of secrets, never
//! a secret.
//!
//! # Key layout
//! Every key starts with the store's prefix `P` (default `tessera:`, see
//! [`RedisStore::with_prefix`]), so several hosts or test runs can share one Redis. `{hex}` is
//! a [`TokenHash`] as 64 lower-case hex digits. Each key has one variable part, at its end.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P client:{id}` | string | the [`Client`] |
//! | `P code:{hex}` | hash | `rec` the [`CodeRecord`], `grant` its grant ID, `spent` `0`/`1` |
//! | `P grant:{id}` | string | the [`Grant`] |
//! | `P grant.tokens:{id}` | set | hashes of the family's tokens, live and retired |
//! | `P token:{hex}` | string | a live [`TokenRecord`] |
//! | `P retired:{hex}` | string | a [`RetiredRefresh`] |
//! | `P user.grants:{user}` | set | the user's grant IDs |
//! | `P user.consents:{user}` | hash | client ID → the [`Consent`] |
//! | `P device:{hex}` | hash | `rec` the [`DeviceRecord`] as inserted, and its changing fields `interval`, `last` (unix seconds or empty), `status` (a [`DeviceStatus`]) |
//! | `P usercode:{hex}` | string | the device hash of a user code hash |
//! | `P client.codes:{id}` | set | the client's code hashes |
//! | `P client.grants:{id}` | set | the client's grant IDs |
//! | `P client.consents:{id}` | set | users who consented to the client |
//! | `P client.devices:{id}` | set | `{device hex}:{user code hex}` of the client's devices |
//! | `P exp.codes` | sorted set | `{hex}:{client id}` by `expires_at` |
//! | `P exp.tokens` | sorted set | `{hex}:{grant id}` by `expires_at` (tokens that expire) |
//! | `P exp.devices` | sorted set | `{device hex}:{user code hex}:{client id}` by `expires_at` |
//! | `P barred:{id}` | string | `1`: a grant barred by a replay of its code (kept as long as the code) |
//! | `P exp.barred` | sorted set | barred grant IDs by their code's `expires_at` |
//! | `P grants.orphan` | set | grants that may have no token left, for the sweep |
//!
//! # Expiry
//! Codes, tokens (live and retired) and device authorizations get a Redis expiry at their
//! `expires_at` plus a grace period (default one minute, see
//! [`RedisStore::with_expiry_grace`]), so Redis frees them even if nobody sweeps. This assumes
//! the provider's clock is close to the Redis server's (true of [`crate::SystemClock`]); a
//! record already past that moment when written gets no expiry and waits for the sweep. The
//! sweep (`sweep_*`, or [`crate::Provider::sweep`]) is still the authority: it walks the
//! `exp.*` indexes by the caller's `now`, removes what is left of each record and its index
//! entries, and counts each index entry it clears (whether Redis had already dropped the
//! record or not). Run it on a schedule so the indexes stay small.
//!
//! # Requirements and limits
//! Redis 6 or later (tested with 7.0), or a compatible server, standalone or as a single
//! primary: the scripts build their keys from the prefix, which Redis Cluster does not allow.
//! [`RedisStore::connect`] uses the `redis` crate's connection-manager defaults: a few
//! reconnection attempts with backoff, and a 500 ms response timeout, so keep sweep batches
//! to a few thousand records (a script that times out on the client still finishes on the
//! server). Build the manager yourself and use [`RedisStore::from_connection`] to change them.

use std::fmt;
use std::sync::{Arc, LazyLock};

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, RedisError, Script, ScriptInvocation, Value};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceStatus, DeviceStore, Grant, GrantId, RefreshLookup, RetiredRefresh,
    Rotation, TokenRecord, TokenStore, TokenType,
};
use crate::client::{Client, ClientId, UserId};
use crate::error::StoreError;
use crate::secret::TokenHash;

/// The default key prefix.
const DEFAULT_PREFIX: &str = "tessera:";
/// The default time a record outlives its `expires_at` in Redis.
const DEFAULT_GRACE: Duration = Duration::minutes(1);
/// How many times a compare-and-set update of a consent is retried under contention.
const CAS_ATTEMPTS: usize = 64;
/// The largest batch a sweep asks Redis for in one script.
const MAX_BATCH: usize = u32::MAX as usize;

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("redis/prelude.lua"),
            include_str!(concat!("redis/", $file, ".lua"))
        ))
    };
}

/// The Lua scripts, hashed once per process.
struct Scripts {
    delete_client: Script,
    insert_code: Script,
    take_code: Script,
    sweep_codes: Script,
    issue_tokens: Script,
    rotate_refresh: Script,
    revoke_token: Script,
    revoke_grant: Script,
    revoke_user_grants: Script,
    list_user_grants: Script,
    sweep_tokens: Script,
    save_consent: Script,
    revoke_consent: Script,
    insert_device: Script,
    find_device: Script,
    decide_device: Script,
    poll_device: Script,
    sweep_devices: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    delete_client: script!("delete_client"),
    insert_code: script!("insert_code"),
    take_code: script!("take_code"),
    sweep_codes: script!("sweep_codes"),
    issue_tokens: script!("issue_tokens"),
    rotate_refresh: script!("rotate_refresh"),
    revoke_token: script!("revoke_token"),
    revoke_grant: script!("revoke_grant"),
    revoke_user_grants: script!("revoke_user_grants"),
    list_user_grants: script!("list_user_grants"),
    sweep_tokens: script!("sweep_tokens"),
    save_consent: script!("save_consent"),
    revoke_consent: script!("revoke_consent"),
    insert_device: script!("insert_device"),
    find_device: script!("find_device"),
    decide_device: script!("decide_device"),
    poll_device: script!("poll_device"),
    sweep_devices: script!("sweep_devices"),
});

/// Every store trait on Redis, for hosts that run several provider processes.
///
/// Cloning is cheap: clones share one multiplexed connection, which reconnects by itself
/// after a failure (the failed call returns [`StoreError::Unavailable`]).
///
/// ```no_run
/// # async fn run() -> Result<(), tessera::StoreError> {
/// use std::sync::Arc;
/// use tessera::store::RedisStore;
///
/// let store = RedisStore::connect("redis://127.0.0.1:6379")
///     .await?
///     .with_prefix("myapp:oauth:");
/// let provider = tessera::Provider::builder(
///     tessera::Config::builder("https://auth.example.com").build().expect("issuer"),
///     Arc::new(store),
/// )
/// .build();
/// # let _ = provider;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    grace: Option<Duration>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`; `rediss://`
    /// needs one of the `redis` crate's TLS features), with the default prefix `tessera:`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = ::redis::Client::open(url).map_err(error)?;
        let conn = ConnectionManager::new(client).await.map_err(error)?;
        Ok(Self::from_connection(conn))
    }

    /// Uses a connection manager the host built (for custom timeouts, TLS or retries), with
    /// the default prefix `tessera:`.
    pub fn from_connection(conn: ConnectionManager) -> Self {
        Self {
            conn,
            prefix: Arc::from(DEFAULT_PREFIX),
            grace: Some(DEFAULT_GRACE),
        }
    }

    /// Puts every key under `prefix` instead of `tessera:`. Stores with different prefixes
    /// share nothing; provider processes that must see each other's records use the same one.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long a code, token or device authorization stays in Redis past its
    /// `expires_at` (default one minute, to absorb clock skew between hosts and Redis).
    /// `None` sets no Redis expiry at all: records then go only when swept, which suits a
    /// provider whose clock is not the wall clock (a test clock, say).
    pub fn with_expiry_grace(mut self, grace: Option<Duration>) -> Self {
        self.grace = grace.map(|g| g.max(Duration::ZERO));
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under this store's prefix, in batches (`SCAN` and `UNLINK`); returns
    /// how many went. Meant for tests and for decommissioning a tenant: it is not atomic, so
    /// run it only when no provider is using the prefix. Refuses an empty prefix, which would
    /// empty the whole database.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        if self.prefix.is_empty() {
            return Err(StoreError::backend(std::io::Error::other(
                "refusing to purge with an empty key prefix",
            )));
        }
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(error)?;
            if !keys.is_empty() {
                let n: u64 = ::redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(error)?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// A script invocation with the prefix as its first argument.
    fn invoke(&self, script: &'static Script) -> ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        invocation.arg(&*self.prefix);
        invocation
    }

    async fn run<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(error)
    }

    async fn query<T: FromRedisValue>(&self, cmd: &::redis::Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(error)
    }

    /// The absolute Redis expiry (unix seconds) of a record expiring at `at`; `0` for none.
    fn expire_at(&self, at: Option<OffsetDateTime>) -> i64 {
        match (self.grace, at) {
            (Some(grace), Some(at)) => {
                let until = at.saturating_add(grace);
                if until > OffsetDateTime::now_utc() {
                    until.unix_timestamp()
                } else {
                    0
                }
            }
            _ => 0,
        }
    }

    /// Appends the four arguments per token that the scripts' `store_tokens` reads.
    fn token_args(
        &self,
        invocation: &mut ScriptInvocation<'static>,
        tokens: &[TokenRecord],
    ) -> Result<(), StoreError> {
        for token in tokens {
            invocation
                .arg(token.hash.to_hex())
                .arg(encode(token)?)
                .arg(
                    token
                        .expires_at
                        .map(|at| at.unix_timestamp().to_string())
                        .unwrap_or_default(),
                )
                .arg(self.expire_at(token.expires_at));
        }
        Ok(())
    }
}

/// Escapes the glob characters of a `SCAN MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn error(e: RedisError) -> StoreError {
    if e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
    {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::backend(e)
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected reply from Redis for {what}"))
}

/// The `n`th element of a script's array reply, as bytes.
fn bytes_at<'a>(reply: &'a [Value], n: usize, what: &str) -> Result<&'a [u8], StoreError> {
    match reply.get(n) {
        Some(Value::BulkString(bytes)) => Ok(bytes),
        Some(Value::SimpleString(text)) => Ok(text.as_bytes()),
        _ => Err(corrupt(what)),
    }
}

/// The leading status number of a script's array reply.
fn tag(reply: &[Value], what: &str) -> Result<i64, StoreError> {
    match reply.first() {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(corrupt(what)),
    }
}

/// Rebuilds a device record from its hash fields: record, interval, last poll, status.
fn device_from(fields: &[Value], offset: usize) -> Result<DeviceRecord, StoreError> {
    const WHAT: &str = "device authorization";
    let mut record: DeviceRecord = decode(WHAT, bytes_at(fields, offset, WHAT)?)?;
    let number = |n: usize| -> Result<Option<i64>, StoreError> {
        let text = std::str::from_utf8(bytes_at(fields, n, WHAT)?).map_err(|_| corrupt(WHAT))?;
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| corrupt(WHAT))
    };
    record.interval = number(offset + 1)?
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| corrupt(WHAT))?;
    record.last_poll_at = number(offset + 2)?
        .map(OffsetDateTime::from_unix_timestamp)
        .transpose()
        .map_err(|_| corrupt(WHAT))?;
    record.status = decode(WHAT, bytes_at(fields, offset + 3, WHAT)?)?;
    Ok(record)
}

#[async_trait]
impl ClientStore for RedisStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let set: Option<String> = self
            .query(
                ::redis::cmd("SET")
                    .arg(self.key("client", client.id.as_str()))
                    .arg(encode(client)?)
                    .arg("NX"),
            )
            .await?;
        match set {
            Some(_) => Ok(()),
            None => Err(StoreError::Conflict),
        }
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let found: Option<Vec<u8>> = self
            .query(::redis::cmd("GET").arg(self.key("client", id.as_str())))
            .await?;
        found.map(|bytes| decode("client", &bytes)).transpose()
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let set: Option<String> = self
            .query(
                ::redis::cmd("SET")
                    .arg(self.key("client", client.id.as_str()))
                    .arg(encode(client)?)
                    .arg("XX"),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.delete_client);
        invocation.arg(id.as_str());
        let deleted: i64 = self.run(&invocation).await?;
        Ok(deleted == 1)
    }
}

#[async_trait]
impl CodeStore for RedisStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.insert_code);
        invocation
            .arg(code.hash.to_hex())
            .arg(encode(code)?)
            .arg(code.grant.id.as_str())
            .arg(code.grant.client_id.as_str())
            .arg(code.expires_at.unix_timestamp())
            .arg(self.expire_at(Some(code.expires_at)));
        let stored: i64 = self.run(&invocation).await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn take_code(&self, hash: &TokenHash) -> Result<CodeRedemption, StoreError> {
        const WHAT: &str = "code";
        let mut invocation = self.invoke(&SCRIPTS.take_code);
        invocation.arg(hash.to_hex());
        let reply: Vec<Value> = self.run(&invocation).await?;
        match tag(&reply, WHAT)? {
            0 => Ok(CodeRedemption::Unknown),
            1 => Ok(CodeRedemption::Redeemed(decode(
                WHAT,
                bytes_at(&reply, 1, WHAT)?,
            )?)),
            2 => {
                let id =
                    std::str::from_utf8(bytes_at(&reply, 1, WHAT)?).map_err(|_| corrupt(WHAT))?;
                Ok(CodeRedemption::Replayed(GrantId::new(id)))
            }
            _ => Err(corrupt(WHAT)),
        }
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.sweep_codes);
        invocation
            .arg(now.unix_timestamp())
            .arg(limit.min(MAX_BATCH));
        self.run(&invocation).await
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    async fn issue_tokens(&self, grant: &Grant, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.issue_tokens);
        invocation
            .arg(grant.id.as_str())
            .arg(encode(grant)?)
            .arg(grant.client_id.as_str())
            .arg(
                grant
                    .user
                    .as_ref()
                    .map(|user| format!("+{}", user.as_str()))
                    .unwrap_or_default(),
            );
        self.token_args(&mut invocation, tokens)?;
        let stored: i64 = self.run(&invocation).await?;
        match stored {
            1 => Ok(()),
            2 => Err(StoreError::GrantRevoked),
            _ => Err(corrupt("grant")),
        }
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        let found: Option<Vec<u8>> = self
            .query(::redis::cmd("GET").arg(self.key("token", &hash.to_hex())))
            .await?;
        found
            .map(|bytes| decode("token", &bytes).map(Arc::new))
            .transpose()
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let hex = hash.to_hex();
        let (live, retired): (Option<Vec<u8>>, Option<Vec<u8>>) = self
            .query(
                ::redis::cmd("MGET")
                    .arg(self.key("token", &hex))
                    .arg(self.key("retired", &hex)),
            )
            .await?;
        if let Some(bytes) = live {
            let record: TokenRecord = decode("token", &bytes)?;
            if record.token_type == TokenType::Refresh {
                return Ok(RefreshLookup::Active(record));
            }
        }
        match retired {
            Some(bytes) => Ok(RefreshLookup::Retired(decode("retired token", &bytes)?)),
            None => Ok(RefreshLookup::Unknown),
        }
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        const WHAT: &str = "retired token";
        let mut invocation = self.invoke(&SCRIPTS.rotate_refresh);
        invocation
            .arg(old.to_hex())
            .arg(now.unix_timestamp())
            .arg(encode(&sealed_successor)?);
        self.token_args(&mut invocation, new)?;
        let reply: Vec<Value> = self.run(&invocation).await?;
        match tag(&reply, WHAT)? {
            0 => Ok(Rotation::Unknown),
            1 => Ok(Rotation::Rotated),
            2 => {
                let retired: RetiredRefresh = decode(WHAT, bytes_at(&reply, 1, WHAT)?)?;
                Ok(Rotation::AlreadyRetired(retired))
            }
            _ => Err(corrupt(WHAT)),
        }
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.revoke_token);
        invocation.arg(hash.to_hex());
        let removed: i64 = self.run(&invocation).await?;
        Ok(removed == 1)
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.revoke_grant);
        invocation.arg(grant.as_str());
        self.run(&invocation).await
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.revoke_user_grants);
        invocation.arg(user.as_str()).arg(client.as_str());
        self.run(&invocation).await
    }

    async fn list_user_grants(&self, user: &UserId) -> Result<Vec<Grant>, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.list_user_grants);
        invocation.arg(user.as_str());
        let found: Vec<Vec<u8>> = self.run(&invocation).await?;
        let mut list = found
            .iter()
            .map(|bytes| decode("grant", bytes))
            .collect::<Result<Vec<Grant>, _>>()?;
        list.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(list)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.sweep_tokens);
        invocation
            .arg(now.unix_timestamp())
            .arg(limit.min(MAX_BATCH));
        self.run(&invocation).await
    }
}

impl RedisStore {
    /// Replaces the consent of (`user`, `client`) with what `update` makes of the current one,
    /// by compare-and-set, retrying while concurrent writers interfere.
    async fn update_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        update: impl Fn(Option<Consent>) -> Option<Consent> + Send + Sync,
    ) -> Result<(), StoreError> {
        let hash = self.key("user.consents", user.as_str());
        for _ in 0..CAS_ATTEMPTS {
            let current: Option<String> = self
                .query(::redis::cmd("HGET").arg(&hash).arg(client.as_str()))
                .await?;
            let parsed = current
                .as_deref()
                .map(|json| decode::<Consent>("consent", json.as_bytes()))
                .transpose()?;
            let Some(next) = update(parsed) else {
                return Ok(());
            };
            let mut invocation = self.invoke(&SCRIPTS.save_consent);
            invocation
                .arg(user.as_str())
                .arg(client.as_str())
                .arg(match &current {
                    Some(json) => format!("+{json}"),
                    None => "-".to_owned(),
                })
                .arg(encode(&next)?);
            let stored: i64 = self.run(&invocation).await?;
            if stored == 1 {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "too many concurrent updates of one consent".into(),
        ))
    }
}

#[async_trait]
impl ConsentStore for RedisStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        let found: Option<Vec<u8>> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.key("user.consents", user.as_str()))
                    .arg(client.as_str()),
            )
            .await?;
        found.map(|bytes| decode("consent", &bytes)).transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.update_consent(&consent.user, &consent.client_id, |current| {
            Some(match current {
                Some(mut existing) => {
                    existing.scopes = existing.scopes.union(&consent.scopes);
                    existing.last_used_at = consent.last_used_at;
                    existing
                }
                None => consent.clone(),
            })
        })
        .await
    }

    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.update_consent(user, client, |current| {
            current.map(|mut consent| {
                consent.last_used_at = at;
                consent
            })
        })
        .await
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        let found: Vec<Vec<u8>> = self
            .query(::redis::cmd("HVALS").arg(self.key("user.consents", user.as_str())))
            .await?;
        found.iter().map(|bytes| decode("consent", bytes)).collect()
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.revoke_consent);
        invocation.arg(user.as_str()).arg(client.as_str());
        let removed: i64 = self.run(&invocation).await?;
        Ok(removed == 1)
    }
}

#[async_trait]
impl DeviceStore for RedisStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.insert_device);
        invocation
            .arg(record.device_hash.to_hex())
            .arg(record.user_code_hash.to_hex())
            .arg(record.client_id.as_str())
            .arg(encode(record)?)
            .arg(record.interval)
            .arg(
                record
                    .last_poll_at
                    .map(|at| at.unix_timestamp().to_string())
                    .unwrap_or_default(),
            )
            .arg(encode(&record.status)?)
            .arg(record.expires_at.unix_timestamp())
            .arg(self.expire_at(Some(record.expires_at)));
        let stored: i64 = self.run(&invocation).await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.find_device);
        invocation.arg(user_code.to_hex());
        let reply: Vec<Value> = self.run(&invocation).await?;
        if reply.is_empty() {
            return Ok(None);
        }
        device_from(&reply, 0).map(Some)
    }

    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.decide_device);
        invocation.arg(user_code.to_hex()).arg(encode(&status)?);
        let applied: i64 = self.run(&invocation).await?;
        Ok(applied == 1)
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        const WHAT: &str = "device poll";
        let mut invocation = self.invoke(&SCRIPTS.poll_device);
        invocation
            .arg(device.to_hex())
            .arg(now.unix_timestamp())
            .arg(encode(&DeviceStatus::Redeemed)?);
        let reply: Vec<Value> = self.run(&invocation).await?;
        match tag(&reply, WHAT)? {
            0 => Ok(DevicePoll::Unknown),
            1 => Ok(DevicePoll::Polled(device_from(&reply, 1)?)),
            2 => Ok(DevicePoll::SlowDown(device_from(&reply, 1)?)),
            _ => Err(corrupt(WHAT)),
        }
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.sweep_devices);
        invocation
            .arg(now.unix_timestamp())
            .arg(limit.min(MAX_BATCH));
        self.run(&invocation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?c[d]e\\f:"), "a\\*b\\?c\\[d\\]e\\\\f:");
        assert_eq!(glob_escape("tessera:"), "tessera:");
    }

    #[test]
    fn scripts_are_built_from_distinct_bodies() {
        // The prelude and each body are joined at compile time; a hash per script proves
        // they were built, and distinct hashes that no two bodies are the same file.
        let hashes = [
            SCRIPTS.delete_client.get_hash(),
            SCRIPTS.insert_code.get_hash(),
            SCRIPTS.take_code.get_hash(),
            SCRIPTS.sweep_codes.get_hash(),
            SCRIPTS.issue_tokens.get_hash(),
            SCRIPTS.rotate_refresh.get_hash(),
            SCRIPTS.revoke_token.get_hash(),
            SCRIPTS.revoke_grant.get_hash(),
            SCRIPTS.revoke_user_grants.get_hash(),
            SCRIPTS.list_user_grants.get_hash(),
            SCRIPTS.sweep_tokens.get_hash(),
            SCRIPTS.save_consent.get_hash(),
            SCRIPTS.revoke_consent.get_hash(),
            SCRIPTS.insert_device.get_hash(),
            SCRIPTS.find_device.get_hash(),
            SCRIPTS.decide_device.get_hash(),
            SCRIPTS.poll_device.get_hash(),
            SCRIPTS.sweep_devices.get_hash(),
        ];
        let distinct: std::collections::HashSet<&str> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
    }
}
