//! The Redis backend: every store trait on one standalone Redis (or Valkey) server, a Redis
//! Cluster or a primary found through Redis Sentinel, shared by any number of provider
//! processes.
//!
//! Each atomic step is one round trip: a single command where one suffices, otherwise a Lua
//! script (`redis::Script`, loaded once per connection and run by hash) that Redis executes
//! atomically. Redis runs one script at a time and nothing else meanwhile, so no script does
//! work that grows with the data: deleting a client, revoking grants and sweeping run as a
//! first script that marks what goes, then scripts of at most 500 records each, with other
//! clients' commands served between them. Records are `serde_json`; keys and values hold only
//! hashes of secrets, never a secret.
//!
//! # Key layout
//! Every key starts with the store's prefix `P` (default `tessera:`, see
//! [`RedisStore::with_prefix`]), so several hosts or test runs can share one Redis. `{hex}` is
//! a [`TokenHash`] as 64 lower-case hex digits. Each key has one variable part, at its end
//! (`ucgrants` has two, kept apart by the client ID's length).
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P client.v2:{id}` | hash | `rec` the [`Client`], `secret` its encoded secret hash, `regtok` its registration token hash and `unused` its [`Client::unused_until`] (unix seconds or empty) (the stored ones: `rec`'s copies are ignored) |
//! | `P client.gone:{id}` | string | the mark of a deleted client still being reaped (its ID stays taken) |
//! | `P code:{hex}` | hash | `rec` the [`CodeRecord`], `grant` its grant ID, `spent` `0`/`1` |
//! | `P grant.v2:{id}` | hash | `rec` the [`Grant`](super::Grant), `client`, `user` (`+` and the user ID, or empty), `revoked` `1` (the tombstone), `code` the hash of the code it was stored with and `device` the `{device hex}:{user code hex}` of its approval, while those are kept |
//! | `P grant.tokens:{id}` | set | hashes of the family's tokens, live and retired |
//! | `P token.v2:{hex}` | hash | `rec` a live [`TokenRecord`], `grant` and `client` its IDs |
//! | `P retired.v2:{hex}` | hash | `rec` a [`RetiredRefresh`], `grant` and `client` |
//! | `P ucgrants:{n}:{client}:{user}` | set | active grant IDs the user gave the client (`n` the client ID's length) |
//! | `P user.consents:{user}` | hash | client ID → the [`Consent`] |
//! | `P device:{hex}` | hash | `rec` the [`DeviceRecord`] as inserted, and its changing fields `interval`, `last` (unix seconds or empty), `status` (a [`DeviceStatus`]) |
//! | `P device.grant:{hex}` | string | the ID of the grant a device authorization was approved with (kept after redemption) |
//! | `P usercode:{hex}` | string | the device hash of a user code hash |
//! | `P client.grants:{id}` | set | the client's grant IDs, active or revoked |
//! | `P client.consents:{id}` | set | users who consented to the client |
//! | `P client.devices:{id}` | set | `{device hex}:{user code hex}` of the client's devices |
//! | `P exp.codes` | sorted set | `{hex}:{grant id}` by `expires_at` |
//! | `P exp.tokens` | sorted set | `{hex}:{grant id}` by the token's own `expires_at` (tokens that expire, live or retired) |
//! | `P exp.devices` | sorted set | `{device hex}:{user code hex}:{client id}` by `expires_at` |
//! | `P exp.clients` | sorted set | IDs of clients with an `unused` mark, by it (`sweep_clients`) |
//! | `P reap.grants` | set | revoked grants with tokens left to remove (an interrupted revocation) |
//! | `P reap.clients` | set | deleted clients with records left to remove (an interrupted deletion) |
//! | `P grants.orphan` | set | grants created with no token, for the sweep |
//! | `P once:{hex}` | string | a one-time value seen ([`ReplayStore`], `{hex}` a [`ReplayKey`]), value its `expires_at` (unix seconds), with a Redis expiry then (no sweep needed) |
//!
//! A lookup checks, in the same script, that the token's grant is not revoked and its client
//! still exists: revoking a grant or deleting a client takes effect in the first step, before
//! any record is removed. A grant is kept while a token, code or device authorization names it
//! (it is the tombstone of a revoked one), and forgotten by the step that removes the last.
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
//! record or not); grants and their indexes go only through it. Run it on a schedule.
//!
//! # Requirements and limits
//! Redis 6 or later (tested with 7.0), or a compatible server: standalone, a single primary,
//! a Redis Cluster or a primary behind Redis Sentinel (see below). [`RedisStore::connect`] refuses a URL whose scheme is not a
//! Redis one, gives up after 5 seconds when the server cannot be reached, and keeps the `redis`
//! crate's 500 ms response timeout; build the connection manager yourself and use
//! [`RedisStore::from_connection`] to change that. Connection failures, timeouts and a server
//! that answers `BUSY`, `LOADING`, `TRYAGAIN`, `MASTERDOWN`, `CLUSTERDOWN` or `READONLY` (a
//! primary demoted to a replica) are [`StoreError::Unavailable`]; anything else is [`StoreError::Backend`].
//!
//! # Redis Cluster
//! [`RedisStore::connect_cluster`] (or [`RedisStore::from_cluster_connection`]) talks to a
//! Redis Cluster. A cluster runs a script only if every key it touches is in one hash slot,
//! and a lookup touches the token's, its grant's and its client's keys, found from one another,
//! so no per-record hash tag could keep each script in one slot. Instead the prefix becomes a
//! hash tag: a cluster store's keys all start with `{P}` instead of `P` (`{tessera:}code:…`;
//! [`RedisStore::key_prefix`] says what they start with), so every key of one store is in one
//! slot, every script is atomic as on one server, and the global indexes (`exp.*`, `reap.*`)
//! work unchanged. A prefix that is empty or holds `{`, `}` or `=` is tagged as `{=` and its
//! bytes in hex `}` instead, so that the tag is never cut short or empty. Each script declares
//! that tag as its one key, which routes it to the master serving the slot; a script a node
//! lacks (`NOSCRIPT`) is loaded on that master only, not on every master (so one master down
//! does not stop the others' stores), and sent again at most twice if the node still lacks it
//! (just after a failover; a script not found did not run).
//!
//! What a cluster buys is therefore failover (the `redis` crate's cluster client follows a
//! replica promoted in place of a failed master: in this crate's tests, with
//! `cluster-node-timeout 5000`, the store answers again about 8 s after its master is killed,
//! each step meanwhile [`StoreError::Unavailable`]) and the protocol that managed
//! services in cluster mode require, not more throughput for one store: one prefix's load is
//! one master's. Replication is asynchronous: a failover can lose the last steps the old
//! master acknowledged (a code's redemption, a revocation), as with any Redis replica. Stores with different
//! prefixes (tenants, say) hash to different slots and so spread over the masters. Reads go to
//! masters only, so a revocation is seen at once. [`RedisStore::purge`] on a cluster scans
//! only the node of the store's slot, and the readiness check ([`TokenStore::ping`]) asks that
//! node only (a key-routed `EXISTS`).
//!
//! # Redis Sentinel
//! [`RedisStore::connect_sentinel`] (or [`RedisStore::from_sentinel_client`]) asks the
//! sentinels for the primary of a named service (through the `redis` crate's Sentinel client,
//! which checks that the address it gets answers as a primary) and talks to it as to one
//! server: same key layout, same scripts. The crate's connection manager reconnects only to
//! the address it was built with, so the store keeps its own watch: it asks the sentinels for
//! the primary once a second in the background, and at once (at most every 200 ms) when a
//! step fails in a way a failover explains (a refused, dropped or timed-out connection,
//! `READONLY` from a demoted primary, `MASTERDOWN`); that step answers
//! [`StoreError::Unavailable`] at once (it may have run, so it is not sent again). When the
//! primary moved, the steps after the switch go to the new one, which gets the scripts on
//! first use (`NOSCRIPT`, then `SCRIPT LOAD`). The watch ends with the last clone of the
//! store. Reads go to the primary only, so a revocation holds at once. Replication is
//! asynchronous: a failover may lose the last steps the old primary acknowledged, as with any
//! Redis replica; after a switchover (`SENTINEL FAILOVER`) the old primary accepts writes
//! until the sentinels demote it (up to about ten seconds), and what is written there in that
//! time is lost, which the once-a-second watch keeps to about a second for this store. In this
//! crate's tests (three sentinels, `down-after-milliseconds 1000`) the store answers again on
//! the promoted replica about 2.5 s after its primary is killed, with what was replicated,
//! and writes to the new primary 1 to 2 s after a switchover promoted it.
//!
//! The records whose layout changed with the grant tombstones (clients, grants, tokens) are
//! kept under new names (`.v2`): what an earlier build wrote under a prefix is ignored (its
//! tokens no longer validate, its clients are unknown) rather than misread, and stays as dead
//! keys until the prefix is purged ([`RedisStore::purge`]) or Redis expires them.

use std::fmt;
use std::sync::{Arc, LazyLock};

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use ::redis::sentinel::{SentinelClient, SentinelServerType};
use ::redis::{
    Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, ScriptInvocation, Value,
};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};

use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, GrantId, Insertion,
    IssueOutcome, RefreshLookup, ReplayKey, ReplayStore, RetiredRefresh, Rotation, TokenRecord,
    TokenStore, TokenType,
};
use crate::client::{Client, ClientId, UserId};
use crate::error::StoreError;
use crate::secret::{SecretHash, TokenHash};

/// The default key prefix.
const DEFAULT_PREFIX: &str = "tessera:";
/// The default time a record outlives its `expires_at` in Redis.
const DEFAULT_GRACE: Duration = Duration::minutes(1);
/// How many times a compare-and-set update of a consent is retried under contention.
const CAS_ATTEMPTS: usize = 64;
/// The most records one script removes or marks: the longest any other command waits.
const BATCH: usize = 500;
/// How long [`RedisStore::connect`] waits for the server.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a command waits for its reply (the `redis` crate's default for one server).
const RESPONSE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);
/// How many times a script is sent to a cluster that keeps answering `NOSCRIPT`.
const NOSCRIPT_ATTEMPTS: usize = 3;
/// How many times the cluster client retries a command (redirections, lost connections).
const CLUSTER_RETRIES: u32 = 2;

/// The script `redis/<name>.lua`, after the prelude.
macro_rules! script {
    ($name:ident) => {
        Script::new(concat!(
            include_str!("redis/prelude.lua"),
            include_str!(concat!("redis/", stringify!($name), ".lua"))
        ))
    };
}

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        /// The Lua scripts, hashed once per process.
        struct Scripts {
            $($name: Script,)*
        }

        static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
            $($name: script!($name),)*
        });

        #[cfg(test)]
        fn every_script() -> Vec<&'static Script> {
            vec![$(&SCRIPTS.$name),*]
        }
    };
}

scripts!(
    remember_once,
    insert_client,
    update_client,
    set_client_secret,
    swap_registration_token,
    delete_client,
    reap_client,
    touch_client,
    sweep_clients,
    insert_code,
    redeem_code,
    sweep_codes,
    issue_tokens,
    find_token,
    find_refresh,
    rotate_refresh,
    revoke_token,
    revoke_grant,
    revoke_user_grants,
    sweep_tokens,
    save_consent,
    revoke_consent,
    insert_device,
    find_device,
    decide_device,
    poll_device,
    redeem_device,
    sweep_devices,
    purge_step,
);

/// Every store trait on Redis, for hosts that run several provider processes.
///
/// Cloning is cheap: clones share one multiplexed connection, which reconnects by itself
/// after a failure (the failed call returns [`StoreError::Unavailable`]).
///
/// # Redis Cluster
/// [`RedisStore::connect_cluster`] works on a Redis Cluster. A cluster runs a script only on
/// keys of one hash slot, and a token lookup reads the token's, its grant's and its client's
/// keys; so a cluster store's prefix becomes a hash tag: its keys all start with `{P}` instead
/// of `P` (`{tessera:}code:…`, see [`RedisStore::key_prefix`]), live in one slot, and every
/// step is as atomic as on one server. A prefix that is empty or holds `{`, `}` or `=` is
/// tagged `{=` and its bytes in hex `}`. One store's load is thus one master's; stores under
/// different prefixes spread over the masters. Reads go to masters only (a revocation holds at
/// once); replication is asynchronous, so a failover may lose the last steps the old master
/// acknowledged. The single-server layout has no hash tag.
///
/// # Redis Sentinel
/// [`RedisStore::connect_sentinel`] finds the primary through Redis Sentinel and follows it
/// when it fails over: the sentinels are asked once a second, and at once when a step fails
/// as a failover would make it (that step answers [`StoreError::Unavailable`]); the steps
/// after a switch go to the new primary. The key layout is the single server's. See the
/// module documentation.
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
    conn: Conn,
    prefix: Arc<str>,
    /// What every key starts with: the prefix, or in a cluster the prefix as a hash tag.
    keys: Arc<str>,
    grace: Option<Duration>,
}

/// The connection the store talks through: one server (or primary), a cluster, or the
/// primary Redis Sentinel names.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

/// The primary that Redis Sentinel names: a connection manager to it, replaced by one to the
/// primary the sentinels name next. The sentinels are asked once a second in the background,
/// and at once (at most every [`SENTINEL_LOOKUP_INTERVAL`]) when a reply says the current
/// primary may be gone (a refused, dropped or timed-out connection, `READONLY` from a demoted
/// primary, `MASTERDOWN`). The step that saw the failure still fails
/// ([`StoreError::Unavailable`]: it may have run, so it is not sent again) and answers at
/// once; the steps after the switch go to the new primary. Clones share the current
/// connection.
#[derive(Clone)]
struct SentinelConn {
    shared: Arc<SentinelShared>,
}

struct SentinelShared {
    /// The current primary's connection.
    current: std::sync::RwLock<Primary>,
    /// Asks the sentinels, one lookup at a time.
    lookup: tokio::sync::Mutex<SentinelLookup>,
}

/// A primary's connection, its address and how many primaries came before it.
#[derive(Clone)]
struct Primary {
    generation: u64,
    address: String,
    conn: ConnectionManager,
}

struct SentinelLookup {
    client: SentinelClient,
    /// When the sentinels were last asked after a failure.
    last: Option<std::time::Instant>,
}

/// How often, at most, a failing store asks the sentinels for the primary again.
const SENTINEL_LOOKUP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// How often a store asks the sentinels for the primary while nothing fails: after a
/// switchover the old primary accepts writes until the sentinels demote it (up to about ten
/// seconds), and this bounds how long the store keeps writing there.
const SENTINEL_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The connection manager settings of [`RedisStore::connect`], for one server or a primary.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_number_of_retries(1)
}

/// The primary the sentinels name (the `redis` crate checks that it answers as a primary),
/// and its address, within [`CONNECT_TIMEOUT`].
async fn sentinel_lookup(client: &mut SentinelClient) -> Result<::redis::Client, StoreError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.async_get_client()).await {
        Ok(found) => found.map_err(error),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no Redis primary through Sentinel within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// A connection manager to the primary `client` reaches, within [`CONNECT_TIMEOUT`].
async fn primary_connection(
    client: ::redis::Client,
    generation: u64,
) -> Result<Primary, StoreError> {
    let address = client.get_connection_info().addr().to_string();
    let connect = ConnectionManager::new_with_config(client, manager_config());
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(conn) => Ok(Primary {
            generation,
            address,
            conn: conn.map_err(error)?,
        }),
        Err(_) => Err(StoreError::Unavailable(format!(
            "the Redis primary did not answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Whether a failure may mean the primary changed: the sentinels are asked again.
fn may_have_failed_over(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.code(), Some("READONLY" | "MASTERDOWN"))
}

impl SentinelConn {
    /// Connects to the primary `client` names and starts watching the sentinels.
    async fn connect(mut client: SentinelClient) -> Result<Self, StoreError> {
        let primary = primary_connection(sentinel_lookup(&mut client).await?, 0).await?;
        let conn = Self {
            shared: Arc::new(SentinelShared {
                current: std::sync::RwLock::new(primary),
                lookup: tokio::sync::Mutex::new(SentinelLookup { client, last: None }),
            }),
        };
        let watched = Arc::downgrade(&conn.shared);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SENTINEL_WATCH_INTERVAL).await;
                // Ends once every clone of the store is gone.
                let Some(shared) = watched.upgrade() else {
                    return;
                };
                SentinelConn { shared }.follow(None).await;
            }
        });
        Ok(conn)
    }

    fn current(&self) -> Primary {
        match self.shared.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// [`SentinelConn::follow`] in the background: the step that failed answers at once.
    fn follow_later(&self, seen: u64) {
        let conn = self.clone();
        tokio::spawn(async move { conn.follow(Some(seen)).await });
    }

    /// Asks the sentinels for the primary and switches to it if it moved. After a failure on
    /// the connection of generation `failed`, not if another caller switched meanwhile or
    /// asked just before.
    async fn follow(&self, failed: Option<u64>) {
        let mut lookup = self.shared.lookup.lock().await;
        if let Some(seen) = failed {
            if self.current().generation != seen
                || lookup
                    .last
                    .is_some_and(|last| last.elapsed() < SENTINEL_LOOKUP_INTERVAL)
            {
                return;
            }
            lookup.last = Some(std::time::Instant::now());
        }
        let current = self.current();
        let switched = match sentinel_lookup(&mut lookup.client).await {
            // Where it was: its connection manager reconnects by itself.
            Ok(client) if client.get_connection_info().addr().to_string() == current.address => {
                return;
            }
            Ok(client) => primary_connection(client, current.generation + 1).await,
            Err(e) => Err(e),
        };
        match switched {
            Ok(primary) => {
                tracing::info!(
                    target: "tessera::store",
                    "Redis Sentinel: the primary moved from {} to {}",
                    current.address,
                    primary.address
                );
                let mut slot = match self.shared.current.write() {
                    Ok(slot) => slot,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *slot = primary;
            }
            // Logged only after a failure: a watch that finds no primary repeats every second.
            Err(e) if failed.is_some() => {
                tracing::warn!(target: "tessera::store", "Redis Sentinel: no primary yet: {e}");
            }
            Err(_) => {}
        }
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let Primary {
                generation,
                mut conn,
                ..
            } = self.current();
            let reply = conn.req_packed_command(cmd).await;
            if let Err(e) = &reply
                && may_have_failed_over(e)
            {
                self.follow_later(generation);
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let Primary {
                generation,
                mut conn,
                ..
            } = self.current();
            let reply = conn.req_packed_commands(pipeline, offset, count).await;
            if let Err(e) = &reply
                && may_have_failed_over(e)
            {
                self.follow_later(generation);
            }
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.current().conn.get_db()
    }
}

impl Conn {
    fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Sentinel(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Sentinel(conn) => conn.get_db(),
        }
    }
}

/// A cluster connection that loads scripts on the master of one slot only. A script is run by
/// hash; the first time a node lacks it (`NOSCRIPT`: a new node, a promoted replica, a
/// restart) the `redis` crate loads it with `SCRIPT LOAD`, which it sends to every master and
/// which fails while any master is down. Sent to the master of the store's slot, where the
/// script runs, it needs only that master.
struct SlotRouted<'k> {
    conn: ClusterConnection,
    key: &'k str,
}

fn is_script_load(cmd: &Cmd) -> bool {
    let mut args = cmd.args_iter();
    let word = |arg: Option<::redis::Arg<&[u8]>>, expected: &[u8]| matches!(arg, Some(::redis::Arg::Simple(word)) if word.eq_ignore_ascii_case(expected));
    word(args.next(), b"SCRIPT") && word(args.next(), b"LOAD")
}

impl ConnectionLike for SlotRouted<'_> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if is_script_load(cmd) {
            let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                Route::with_key(self.key.as_bytes(), SlotAddr::Master),
            ));
            return Box::pin(self.conn.route_command(cmd.clone(), routing));
        }
        self.conn.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.conn.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

/// The start of every key of a store with `prefix`. On one server, the prefix itself. In a
/// cluster, the prefix as a hash tag (`{tessera:}`), so that all of a store's keys are in one
/// slot; a prefix that is empty or holds `{`, `}` or `=` (which would end the tag early, leave
/// it empty or collide with this escape) becomes `{=` and its bytes in hex `}`.
fn key_start(prefix: &str, cluster: bool) -> String {
    if !cluster {
        return prefix.to_owned();
    }
    if !prefix.is_empty() && !prefix.contains(['{', '}', '=']) {
        return format!("{{{prefix}}}");
    }
    let mut out = String::from("{=");
    for b in prefix.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out.push('}');
    out
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
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`;
    /// `rediss://` needs one of the `redis` crate's TLS features; `redis+unix://` and
    /// `unix://` name a socket), with the default prefix `tessera:`.
    ///
    /// Fails at once with [`StoreError::Backend`] for a URL that is not a Redis URL, and
    /// within about 5 seconds with [`StoreError::Unavailable`] (naming the cause) when the
    /// server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        check_scheme(url)?;
        let client = ::redis::Client::open(url).map_err(|e| {
            StoreError::backend(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid Redis URL: {}", e.category()),
            ))
        })?;
        let conn = ConnectionManager::new_with_config(client, manager_config())
            .await
            .map_err(|e| match error(e) {
                StoreError::Unavailable(cause) => {
                    StoreError::Unavailable(format!("cannot connect to Redis: {cause}"))
                }
                other => other,
            })?;
        Ok(Self::from_connection(conn))
    }

    /// Uses a connection manager the host built (for custom timeouts, TLS or retries), with
    /// the default prefix `tessera:`.
    pub fn from_connection(conn: ConnectionManager) -> Self {
        Self::with_conn(Conn::Single(conn))
    }

    /// Connects to a Redis Cluster through any of its `nodes` (`redis://host:port` URLs,
    /// the same credentials for all; the client learns the rest of the cluster from them),
    /// with the default prefix `tessera:`. See [Redis Cluster](RedisStore#redis-cluster) for the
    /// key layout and what a cluster buys.
    ///
    /// Fails at once with [`StoreError::Backend`] for no node or a URL that is not a Redis
    /// URL, and with [`StoreError::Unavailable`] (naming the cause) when no node can be
    /// reached within about 5 seconds or the cluster is down. Each command times out after
    /// 500 ms and is retried at most twice (after a `MOVED`, `ASK`, `TRYAGAIN` or a lost
    /// connection); build the connection yourself and use
    /// [`RedisStore::from_cluster_connection`] to change that.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tessera::StoreError> {
    /// use tessera::store::RedisStore;
    ///
    /// let store = RedisStore::connect_cluster(&[
    ///     "redis://10.0.0.1:6379",
    ///     "redis://10.0.0.2:6379",
    ///     "redis://10.0.0.3:6379",
    /// ])
    /// .await?
    /// .with_prefix("myapp:oauth:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster(nodes: &[&str]) -> Result<Self, StoreError> {
        let invalid = |message: String| {
            StoreError::backend(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                message,
            ))
        };
        if nodes.is_empty() {
            return Err(invalid("no Redis Cluster node given".to_owned()));
        }
        for node in nodes {
            check_scheme(node)?;
        }
        let client = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(CLUSTER_RETRIES)
            .build()
            .map_err(|e| invalid(format!("invalid Redis Cluster node URL: {}", e.category())))?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| match error(e) {
                StoreError::Unavailable(cause) => {
                    StoreError::Unavailable(format!("cannot connect to the Redis Cluster: {cause}"))
                }
                other => other,
            })?;
        Ok(Self::from_cluster_connection(conn))
    }

    /// Connects to the primary that the Redis Sentinels at `sentinels` (`redis://host:port`
    /// URLs, with the sentinels' credentials if any) know as `service` (the name in their
    /// `sentinel monitor` line), with the default prefix `tessera:`. The primary is reached
    /// without credentials, on database 0; for credentials, TLS or another database build a
    /// [`SentinelClient`] and use [`RedisStore::from_sentinel_client`]. See
    /// [Redis Sentinel](RedisStore#redis-sentinel) for what a failover does.
    ///
    /// Fails at once with [`StoreError::Backend`] for no sentinel or a URL that is not a
    /// Redis URL, and with [`StoreError::Unavailable`] (naming the cause) when no sentinel
    /// names a primary that answers as one within about 5 seconds.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tessera::StoreError> {
    /// use tessera::store::RedisStore;
    ///
    /// let store = RedisStore::connect_sentinel(
    ///     &["redis://10.0.0.1:26379", "redis://10.0.0.2:26379", "redis://10.0.0.3:26379"],
    ///     "mymaster",
    /// )
    /// .await?
    /// .with_prefix("myapp:oauth:");
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_sentinel(sentinels: &[&str], service: &str) -> Result<Self, StoreError> {
        let invalid = |message: String| {
            StoreError::backend(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                message,
            ))
        };
        if sentinels.is_empty() {
            return Err(invalid("no Redis Sentinel given".to_owned()));
        }
        for sentinel in sentinels {
            check_scheme(sentinel)?;
        }
        let client = SentinelClient::build(
            sentinels.to_vec(),
            service.to_owned(),
            None,
            SentinelServerType::Master,
        )
        .map_err(|e| invalid(format!("invalid Redis Sentinel URL: {}", e.category())))?;
        Self::from_sentinel_client(client).await
    }

    /// Uses a Sentinel client the host built (for credentials, TLS or a database on the
    /// primary: `redis::sentinel::SentinelClientBuilder`), which must ask for the primary
    /// (`SentinelServerType::Master`), with the default prefix `tessera:`. Connects to the
    /// primary it names, as [`RedisStore::connect_sentinel`] does.
    pub async fn from_sentinel_client(client: SentinelClient) -> Result<Self, StoreError> {
        let conn = SentinelConn::connect(client).await.map_err(|e| match e {
            StoreError::Unavailable(cause) => StoreError::Unavailable(format!(
                "cannot connect to the Redis primary through Sentinel: {cause}"
            )),
            other => other,
        })?;
        Ok(Self::with_conn(Conn::Sentinel(conn)))
    }

    /// Uses a cluster connection the host built (for custom timeouts, TLS, retries or reads
    /// from replicas, which this store never asks for), with the default prefix `tessera:`.
    pub fn from_cluster_connection(conn: ClusterConnection) -> Self {
        Self::with_conn(Conn::Cluster(conn))
    }

    fn with_conn(conn: Conn) -> Self {
        let keys = Arc::from(key_start(DEFAULT_PREFIX, conn.is_cluster()));
        Self {
            conn,
            prefix: Arc::from(DEFAULT_PREFIX),
            keys,
            grace: Some(DEFAULT_GRACE),
        }
    }

    /// Whether the store talks to a Redis Cluster ([`RedisStore::connect_cluster`]).
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Puts every key under `prefix` instead of `tessera:`. Stores with different prefixes
    /// share nothing; provider processes that must see each other's records use the same one.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.keys = Arc::from(key_start(&prefix, self.conn.is_cluster()));
        self.prefix = Arc::from(prefix);
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

    /// The key prefix, as given to [`RedisStore::with_prefix`].
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What every key of this store starts with: the prefix on one server, the prefix as a
    /// hash tag in a cluster (`{tessera:}`; see [Redis Cluster](RedisStore#redis-cluster)).
    pub fn key_prefix(&self) -> &str {
        &self.keys
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
        let pattern = format!("{}*", glob_escape(&self.keys));
        if self.conn.is_cluster() {
            return self.purge_slot(&pattern).await;
        }
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

    /// [`RedisStore::purge`] in a cluster: the store's keys are all in one slot, so a script
    /// routed there scans that node and unlinks them, a `SCAN` step per call.
    async fn purge_slot(&self, pattern: &str) -> Result<u64, StoreError> {
        let mut cursor = String::from("0");
        let mut removed = 0u64;
        loop {
            let mut invocation = self.invoke(&SCRIPTS.purge_step);
            invocation.arg(&cursor).arg(pattern);
            let (next, n): (String, u64) = self.run(&invocation).await?;
            removed += n;
            if next == "0" {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.keys)
    }

    /// A script invocation with the key prefix as its first argument. In a cluster the key
    /// prefix (a hash tag of the store's slot) is also its one declared key, which routes the
    /// script to the node that serves the slot of every key it builds.
    fn invoke(&self, script: &'static Script) -> ScriptInvocation<'static> {
        let mut invocation = script.prepare_invoke();
        if self.conn.is_cluster() {
            invocation.key(&*self.keys);
        }
        invocation.arg(&*self.keys);
        invocation
    }

    async fn run<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        match &self.conn {
            Conn::Single(conn) => invocation.invoke_async(&mut conn.clone()).await,
            Conn::Sentinel(conn) => invocation.invoke_async(&mut conn.clone()).await,
            Conn::Cluster(conn) => {
                let mut routed = SlotRouted {
                    conn: conn.clone(),
                    key: &self.keys,
                };
                // Just after a failover the script may be loaded on one node and run on
                // another (`NOSCRIPT` again). A script that was not found did not run, so
                // running it again is safe.
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match invocation.invoke_async(&mut routed).await {
                        Err(e)
                            if attempts < NOSCRIPT_ATTEMPTS
                                && e.kind()
                                    == ::redis::ErrorKind::Server(
                                        ::redis::ServerErrorKind::NoScript,
                                    ) => {}
                        done => break done,
                    }
                }
            }
        }
        .map_err(error)
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

    /// Runs `script` with `args` (after the prefix), then the tokens' four arguments each.
    async fn run_with_tokens<T: FromRedisValue>(
        &self,
        script: &'static Script,
        args: &[&str],
        tokens: &[TokenRecord],
    ) -> Result<T, StoreError> {
        let mut invocation = self.invoke(script);
        for arg in args {
            invocation.arg(*arg);
        }
        self.token_args(&mut invocation, tokens)?;
        self.run(&invocation).await
    }

    /// Finishes a revocation: removes the grant's tokens, [`BATCH`] per script, and forgets
    /// it if nothing names it any more. Returns how many tokens went.
    async fn reap_grant(&self, grant: &str) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let mut invocation = self.invoke(&SCRIPTS.revoke_grant);
            invocation.arg(grant).arg(BATCH);
            let (batch, done): (u64, i64) = self.run(&invocation).await?;
            removed += batch;
            if done == 1 {
                return Ok(removed);
            }
        }
    }

    /// Runs a sweep script in batches of at most [`BATCH`] until `limit` records went or one
    /// batch came short.
    async fn sweep(
        &self,
        script: &'static Script,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let mut invocation = self.invoke(script);
            invocation.arg(now.unix_timestamp()).arg(budget);
            let batch: u64 = self.run(&invocation).await?;
            removed += batch;
            if (batch as usize) < budget {
                break;
            }
        }
        Ok(removed)
    }
}

/// Refuses a URL whose scheme is not one the `redis` crate connects with. The message names
/// the scheme only, never the rest of the URL (it may hold a password).
fn check_scheme(url: &str) -> Result<(), StoreError> {
    let invalid = |message: String| {
        StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ))
    };
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("redis" | "rediss" | "valkey" | "valkeys" | "redis+unix" | "valkey+unix" | "unix") => {
            Ok(())
        }
        Some(other)
            if !other.is_empty()
                && other.len() <= 32
                && other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            Err(invalid(format!(
                "unsupported URL scheme `{other}`: a Redis URL starts with redis://, rediss:// \
                 or redis+unix://"
            )))
        }
        _ => Err(invalid(
            "not a Redis URL: expected redis://host:port".to_owned(),
        )),
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

/// I/O failures (refused, dropped, timed out) and a server that is busy (a long script),
/// loading its data or failing over are `Unavailable`; anything else `Backend`.
fn error(e: RedisError) -> StoreError {
    let busy = matches!(
        e.code(),
        Some("BUSY" | "LOADING" | "TRYAGAIN" | "MASTERDOWN" | "CLUSTERDOWN" | "READONLY")
    );
    if busy
        || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
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

/// The `user` argument of the scripts: empty, or `+` and the user ID.
fn user_arg(user: Option<&UserId>) -> String {
    user.map(|user| format!("+{}", user.as_str()))
        .unwrap_or_default()
}

#[async_trait]
impl ClientStore for RedisStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.insert_client);
        invocation
            .arg(client.id.as_str())
            .arg(encode(client)?)
            .arg(
                client
                    .secret
                    .as_ref()
                    .map(SecretHash::encode)
                    .unwrap_or_default(),
            )
            .arg(
                client
                    .registration_token
                    .map(|hash| hash.to_hex())
                    .unwrap_or_default(),
            )
            .arg(
                client
                    .unused_until
                    .map(|at| at.unix_timestamp().to_string())
                    .unwrap_or_default(),
            );
        let stored: i64 = self.run(&invocation).await?;
        match stored {
            1 => Ok(()),
            _ => Err(StoreError::Conflict),
        }
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        const WHAT: &str = "client";
        let (record, secret, token, unused): (
            Option<Vec<u8>>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = self
            .query(
                ::redis::cmd("HMGET")
                    .arg(self.key("client.v2", id.as_str()))
                    .arg("rec")
                    .arg("secret")
                    .arg("regtok")
                    .arg("unused"),
            )
            .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let mut client: Client = decode(WHAT, &record)?;
        client.secret = match secret.as_deref() {
            None | Some("") => None,
            Some(text) => Some(SecretHash::decode(text).ok_or_else(|| corrupt(WHAT))?),
        };
        client.registration_token = match token.as_deref() {
            None | Some("") => None,
            Some(hex) => Some(TokenHash::from_hex(hex).ok_or_else(|| corrupt(WHAT))?),
        };
        client.unused_until = match unused.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                text.parse()
                    .ok()
                    .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())
                    .ok_or_else(|| corrupt(WHAT))?,
            ),
        };
        Ok(Some(client))
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.update_client);
        invocation.arg(client.id.as_str()).arg(encode(client)?);
        let updated: i64 = self.run(&invocation).await?;
        Ok(updated == 1)
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.set_client_secret);
        invocation.arg(id.as_str()).arg(secret.encode());
        let updated: i64 = self.run(&invocation).await?;
        Ok(updated == 1)
    }

    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.swap_registration_token);
        invocation
            .arg(id.as_str())
            .arg(old.to_hex())
            .arg(new.to_hex());
        let swapped: i64 = self.run(&invocation).await?;
        Ok(swapped == 1)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.delete_client);
        invocation.arg(id.as_str());
        let marked: i64 = self.run(&invocation).await?;
        if marked < 0 {
            return Ok(false);
        }
        loop {
            let mut invocation = self.invoke(&SCRIPTS.reap_client);
            invocation.arg(id.as_str()).arg(BATCH);
            let (_, done): (u64, i64) = self.run(&invocation).await?;
            if done == 1 {
                return Ok(marked == 1);
            }
        }
    }

    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.touch_client);
        invocation.arg(id.as_str());
        let touched: i64 = self.run(&invocation).await?;
        Ok(touched == 1)
    }

    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let mut invocation = self.invoke(&SCRIPTS.sweep_clients);
            invocation.arg(now.unix_timestamp()).arg(budget);
            let doomed: Vec<String> = self.run(&invocation).await?;
            for id in &doomed {
                loop {
                    let mut invocation = self.invoke(&SCRIPTS.reap_client);
                    invocation.arg(id.as_str()).arg(BATCH);
                    let (_, done): (u64, i64) = self.run(&invocation).await?;
                    if done == 1 {
                        break;
                    }
                }
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
impl CodeStore for RedisStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        let grant = &code.grant;
        let mut invocation = self.invoke(&SCRIPTS.insert_code);
        invocation
            .arg(code.hash.to_hex())
            .arg(encode(code)?)
            .arg(grant.id.as_str())
            .arg(encode(grant)?)
            .arg(grant.client_id.as_str())
            .arg(user_arg(grant.user.as_ref()))
            .arg(code.expires_at.unix_timestamp())
            .arg(self.expire_at(Some(code.expires_at)));
        let stored: i64 = self.run(&invocation).await?;
        match stored {
            1 => Ok(Insertion::Stored),
            2 => Ok(Insertion::ClientUnknown),
            _ => Err(StoreError::Conflict),
        }
    }

    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        let found: Option<Vec<u8>> = self
            .query(
                ::redis::cmd("HGET")
                    .arg(self.key("code", &hash.to_hex()))
                    .arg("rec"),
            )
            .await?;
        found.map(|bytes| decode("code", &bytes)).transpose()
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        const WHAT: &str = "code";
        let reply: Vec<Value> = self
            .run_with_tokens(&SCRIPTS.redeem_code, &[&hash.to_hex()], tokens)
            .await?;
        match tag(&reply, WHAT)? {
            0 => Ok(CodeRedemption::Unknown),
            1 => Ok(CodeRedemption::Redeemed),
            2 => {
                let id =
                    std::str::from_utf8(bytes_at(&reply, 1, WHAT)?).map_err(|_| corrupt(WHAT))?;
                // The grant is revoked; its tokens go before this call returns.
                self.reap_grant(id).await?;
                Ok(CodeRedemption::Replayed(GrantId::new(id)))
            }
            3 => Ok(CodeRedemption::GrantRevoked),
            _ => Err(corrupt(WHAT)),
        }
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep(&SCRIPTS.sweep_codes, now, limit).await
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        if self.conn.is_cluster() {
            // `PING` would go to every master; the store needs the one serving its slot, and
            // a key-routed command reaches it (or answers `CLUSTERDOWN`).
            let _exists: i64 = self.query(::redis::cmd("EXISTS").arg(&*self.keys)).await?;
            return Ok(());
        }
        let _pong: String = self.query(&::redis::cmd("PING")).await?;
        Ok(())
    }

    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        let (mode, grant_json, client, user) = match family {
            Family::New(grant) => (
                "new",
                encode(grant)?,
                grant.client_id.as_str(),
                user_arg(grant.user.as_ref()),
            ),
            Family::Existing(_) => ("old", String::new(), "", String::new()),
        };
        let stored: i64 = self
            .run_with_tokens(
                &SCRIPTS.issue_tokens,
                &[mode, family.id().as_str(), &grant_json, client, &user],
                tokens,
            )
            .await?;
        match stored {
            0 => Err(StoreError::Conflict),
            1 => Ok(IssueOutcome::Stored),
            2 => Ok(IssueOutcome::GrantRevoked),
            3 => Ok(IssueOutcome::ClientUnknown),
            _ => Err(corrupt("grant")),
        }
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        let mut invocation = self.invoke(&SCRIPTS.find_token);
        invocation.arg(hash.to_hex());
        let found: Option<Vec<u8>> = self.run(&invocation).await?;
        found
            .map(|bytes| decode("token", &bytes).map(Arc::new))
            .transpose()
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        const WHAT: &str = "refresh token";
        let mut invocation = self.invoke(&SCRIPTS.find_refresh);
        invocation.arg(hash.to_hex());
        let reply: Vec<Value> = self.run(&invocation).await?;
        match tag(&reply, WHAT)? {
            1 => {
                let record: TokenRecord = decode(WHAT, bytes_at(&reply, 1, WHAT)?)?;
                Ok(if record.token_type == TokenType::Refresh {
                    RefreshLookup::Active(record)
                } else {
                    RefreshLookup::Unknown
                })
            }
            2 => Ok(RefreshLookup::Retired(decode(
                WHAT,
                bytes_at(&reply, 1, WHAT)?,
            )?)),
            _ => Ok(RefreshLookup::Unknown),
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
        let reply: Vec<Value> = self
            .run_with_tokens(
                &SCRIPTS.rotate_refresh,
                &[
                    &old.to_hex(),
                    &now.unix_timestamp().to_string(),
                    &encode(&sealed_successor)?,
                ],
                new,
            )
            .await?;
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
        // The first script marks the grant revoked; every one removes up to BATCH tokens.
        self.reap_grant(grant.as_str()).await
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        const WHAT: &str = "revoked grants";
        let mut revoked = Vec::new();
        loop {
            let mut invocation = self.invoke(&SCRIPTS.revoke_user_grants);
            invocation
                .arg(client.as_str())
                .arg(user.as_str())
                .arg(BATCH);
            let reply: Vec<Value> = self.run(&invocation).await?;
            let taken = tag(&reply, WHAT)?;
            for n in 1..reply.len() {
                let id =
                    std::str::from_utf8(bytes_at(&reply, n, WHAT)?).map_err(|_| corrupt(WHAT))?;
                revoked.push(id.to_owned());
            }
            if taken < BATCH as i64 {
                break;
            }
        }
        for grant in &revoked {
            self.reap_grant(grant).await?;
        }
        Ok(revoked.len() as u64)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep(&SCRIPTS.sweep_tokens, now, limit).await
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
        match &status {
            DeviceStatus::Approved { grant } => {
                invocation
                    .arg("approve")
                    .arg(grant.id.as_str())
                    .arg(encode(grant)?)
                    .arg(grant.client_id.as_str())
                    .arg(user_arg(grant.user.as_ref()));
            }
            DeviceStatus::Denied => {
                invocation.arg("deny");
            }
            _ => return Ok(false),
        }
        let applied: i64 = self.run(&invocation).await?;
        match applied {
            2 => Err(StoreError::Conflict),
            applied => Ok(applied == 1),
        }
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        const WHAT: &str = "device poll";
        let mut invocation = self.invoke(&SCRIPTS.poll_device);
        invocation.arg(device.to_hex()).arg(now.unix_timestamp());
        let reply: Vec<Value> = self.run(&invocation).await?;
        match tag(&reply, WHAT)? {
            0 => Ok(DevicePoll::Unknown),
            1 => Ok(DevicePoll::Polled(device_from(&reply, 1)?)),
            2 => Ok(DevicePoll::SlowDown(device_from(&reply, 1)?)),
            _ => Err(corrupt(WHAT)),
        }
    }

    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        let redeemed: i64 = self
            .run_with_tokens(
                &SCRIPTS.redeem_device,
                &[&device.to_hex(), &encode(&DeviceStatus::Redeemed)?],
                tokens,
            )
            .await?;
        match redeemed {
            0 => Ok(DeviceRedemption::Unknown),
            1 => Ok(DeviceRedemption::Redeemed),
            2 => Ok(DeviceRedemption::AlreadyRedeemed),
            3 => Ok(DeviceRedemption::GrantRevoked),
            4 => Ok(DeviceRedemption::NotApproved),
            _ => Err(corrupt("device redemption")),
        }
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep(&SCRIPTS.sweep_devices, now, limit).await
    }
}

#[async_trait]
impl ReplayStore for RedisStore {
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // A relative expiry: the provider's clock decides, whatever the Redis server's says.
        // (At least 1 ms: an entry expiring already still answers for a live one.)
        let ttl = (expires_at - now).whole_milliseconds().max(1);
        let ttl = u64::try_from(ttl).unwrap_or(u64::MAX);
        let mut invocation = self.invoke(&SCRIPTS.remember_once);
        invocation
            .arg(key.to_hex())
            .arg(now.unix_timestamp())
            .arg(expires_at.unix_timestamp())
            .arg(ttl);
        let first: i64 = self.run(&invocation).await?;
        Ok(first == 1)
    }

    async fn sweep_replays(&self, _now: OffsetDateTime, _limit: usize) -> Result<u64, StoreError> {
        // Every entry carries its own Redis expiry.
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_keys_start_with_a_hash_tag_that_is_never_empty_or_cut_short() {
        assert_eq!(key_start("tessera:", false), "tessera:");
        assert_eq!(key_start("a{b}", false), "a{b}");
        assert_eq!(key_start("tessera:", true), "{tessera:}");
        // `{`, `}` and `=` (and the empty prefix) are escaped: the tag is the hex.
        assert_eq!(key_start("a}b", true), "{=617d62}");
        assert_eq!(key_start("{x}", true), "{=7b787d}");
        assert_eq!(key_start("=61", true), "{=3d3631}");
        assert_eq!(key_start("", true), "{=}");
        // Distinct prefixes, distinct starts; each is `{`, a tag with no `}`, then `}`.
        let prefixes = ["a", "=61", "a}", "}a", "", "{", "}", "a=b", "61"];
        let starts: std::collections::BTreeSet<String> =
            prefixes.iter().map(|p| key_start(p, true)).collect();
        assert_eq!(starts.len(), prefixes.len());
        for start in &starts {
            let tag = &start[1..start.len() - 1];
            assert!(start.starts_with('{') && start.ends_with('}'), "{start}");
            assert!(!tag.is_empty() && !tag.contains(['{', '}']), "{start}");
        }
    }

    #[test]
    fn only_script_load_is_routed_to_the_slot() {
        assert!(is_script_load(
            ::redis::cmd("SCRIPT").arg("LOAD").arg("return 1")
        ));
        assert!(is_script_load(
            ::redis::cmd("script").arg("load").arg("return 1")
        ));
        assert!(!is_script_load(::redis::cmd("SCRIPT").arg("FLUSH")));
        assert!(!is_script_load(::redis::cmd("EVALSHA").arg("abc").arg(0)));
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("a*b?c[d]e\\f:"), "a\\*b\\?c\\[d\\]e\\\\f:");
        assert_eq!(glob_escape("tessera:"), "tessera:");
    }

    #[test]
    fn scripts_are_built_from_distinct_bodies() {
        // The prelude and each body are joined at compile time; a hash per script proves
        // they were built, and distinct hashes that no two bodies are the same file.
        let hashes: Vec<&str> = every_script().iter().map(|s| s.get_hash()).collect();
        let distinct: std::collections::HashSet<&str> = hashes.iter().copied().collect();
        assert_eq!(distinct.len(), hashes.len());
        assert_eq!(hashes.len(), 29);
    }

    #[test]
    fn busy_loading_and_failing_over_servers_are_unavailable() {
        for code in ["BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"] {
            let reply = format!("-{code} the server cannot answer now\r\n");
            let parsed =
                ::redis::parse_redis_value(reply.as_bytes()).and_then(Value::extract_error);
            let Err(e) = parsed else {
                panic!("{code} parses as an error");
            };
            assert!(matches!(error(e), StoreError::Unavailable(_)), "{code}");
        }
        let busy = ::redis::make_extension_error("BUSY".into(), None);
        assert!(matches!(error(busy), StoreError::Unavailable(_)));
        for code in ["ERR", "WRONGTYPE", "NOPERM"] {
            let reply = format!("-{code} no\r\n");
            let parsed =
                ::redis::parse_redis_value(reply.as_bytes()).and_then(Value::extract_error);
            let Err(e) = parsed else {
                panic!("{code} parses as an error");
            };
            assert!(matches!(error(e), StoreError::Backend(_)), "{code}");
        }
    }

    #[test]
    fn only_redis_schemes_are_accepted_and_the_url_is_never_echoed() {
        for good in [
            "redis://127.0.0.1:6379",
            "rediss://h",
            "redis+unix:///tmp/r.sock",
            "unix:///tmp/r.sock",
        ] {
            assert!(check_scheme(good).is_ok(), "{good}");
        }
        for bad in [
            "redi://u:hunter2@h",
            "postgres://u:hunter2@h",
            "u:hunter2@h",
            "http://u:hunter2@h",
            "",
        ] {
            let Err(e) = check_scheme(bad) else {
                panic!("{bad} is refused");
            };
            assert!(matches!(e, StoreError::Backend(_)), "{bad}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{bad}: {e}");
        }
    }
}
