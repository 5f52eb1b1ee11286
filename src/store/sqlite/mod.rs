//! The SQLite backend: every store trait on one database file (see [`SqliteStore`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Executor, Row, Sqlite, Transaction};
use time::OffsetDateTime;

use super::ext::{CodeExt, GrantExt, StoredCodeExt, StoredTokenExt, TokenExt};
use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, Grant, GrantId, Insertion,
    IssueOutcome, PkceChallenge, PkceMethod, RefreshLookup, ReplayKey, ReplayStore, RetiredRefresh,
    Rotation, TokenRecord, TokenStore, TokenType,
};
use crate::client::{Client, ClientId, GrantType, UserId};
use crate::error::StoreError;
use crate::scope::ScopeSet;
use crate::secret::{SecretHash, TokenHash};

/// The embedded schema migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "replay_keys",
        include_str!("migrations/0002_replay_keys.sql"),
    ),
    (
        4,
        "unused_clients",
        include_str!("migrations/0004_unused_clients.sql"),
    ),
];

/// The most rows one statement removes when a deletion, revocation or sweep reaps.
const BATCH: usize = 1000;

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a pooled connection (sqlx's default is 30 s).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pool size for a database file: readers run in parallel under WAL, writers queue.
const MAX_CONNECTIONS: u32 = 8;

/// Every store trait on SQLite, through a [`sqlx`] connection pool: a persistent, embedded
/// store for a single process (or several on one machine sharing the file). Cloning is cheap
/// and shares the pool.
///
/// ```no_run
/// # async fn run() -> Result<(), tessera::StoreError> {
/// use std::sync::Arc;
/// use tessera::store::SqliteStore;
///
/// let store = SqliteStore::connect("sqlite://tessera.db").await?;
/// store.migrate().await?;
/// let store = Arc::new(store); // give it to `Provider::builder`
/// # let _ = store; Ok(()) }
/// ```
///
/// [`SqliteStore::connect`] takes `sqlite://PATH` (the file is created if missing; a relative
/// path is relative to the working directory), `sqlite:PATH`, or `sqlite::memory:` (a private
/// in-memory database, gone when the store is dropped). Queries are built at run time; nothing
/// needs a database at compile time. SQLite itself is compiled in (sqlx's bundled build).
/// [`SqliteStore::migrate`] applies the embedded, versioned schema in one `BEGIN IMMEDIATE`
/// transaction, so several processes may call it at once; the applied versions are recorded in
/// `tessera_schema_migrations`.
///
/// Every connection runs with foreign keys on, the WAL journal (readers never wait for the
/// writer) with `synchronous = FULL` (a committed redemption or rotation survives a power
/// loss, so a spent code never comes back to life), and a busy timeout of 10 seconds. A
/// database file is opened with two pools: up to 8 connections for reads, and one for writes,
/// so that this process's writers queue in order instead of polling SQLite's lock (writers in
/// other processes still wait through the busy timeout). An in-memory database has exactly
/// one connection, kept open for the store's lifetime (each SQLite connection to `:memory:`
/// would otherwise see a database of its own, and a shared cache reports lock conflicts that
/// no busy timeout waits for). Requests wait at most 10 seconds for a pooled connection. A busy or locked database (the timeout passed),
/// an I/O failure and a pool timeout are [`StoreError::Unavailable`]; a unique violation is
/// [`StoreError::Conflict`]; anything else [`StoreError::Backend`].
///
/// # Schema
///
/// Codes, tokens and device and user codes are stored only as their [`crate::TokenHash`] (a
/// SHA-256; a 32-byte blob, checked); a client secret only as its encoded [`crate::SecretHash`]
/// inside the client record. No column ever holds a secret. Times are integers (microseconds
/// since the Unix epoch), identifiers text compared byte by byte, records and the fields no
/// query reads (`ext`) JSON text. The tables are those of the PostgreSQL store (`PgStore`):
///
/// | table | key | holds |
/// | --- | --- | --- |
/// | `tessera_clients` | `id` | the [`Client`] record as JSON (`record`); `deleted_at` marks a client being deleted; `unused_until` the record's [`Client::unused_until`], for the sweep |
/// | `tessera_grants` | `id` | one grant per token family, stored when the authorization is given; `revoked_at` is the tombstone; `client_id` → clients |
/// | `tessera_codes` | `hash` | authorization codes with a copy of their grant and a `spent` flag; `grant_id` → grants, `client_id` → clients |
/// | `tessera_tokens` | `hash` | access and refresh tokens; `retired_at` is `NULL` while live and set when rotation retires a refresh token (with its `sealed_successor`); `grant_id` → grants |
/// | `tessera_consents` | `(user_id, client_id)` | consents; `client_id` → clients |
/// | `tessera_devices` | `device_hash` | device authorizations, the approved grant as JSON (`approved_grant`, while approved) and its ID (`grant_id`, kept after redemption); `grant_id` → grants, `client_id` → clients |
///
/// Every foreign key is `ON DELETE CASCADE`, but nothing relies on a cascade to do work that
/// grows with the data: rows are reaped in batches first, and the cascades only catch what a
/// racing step added meanwhile. Every lookup, every batch and every cascade is served by a
/// primary key or an index:
///
/// | index | columns | serves |
/// | --- | --- | --- |
/// | `tessera_clients_deleted_idx` | `(deleted_at)` where set | `sweep_tokens` (deletions left to finish) |
/// | `tessera_clients_unused_idx` | `(unused_until)` where set | `sweep_clients` |
/// | `tessera_grants_client_idx` | `(client_id, user_id)` | `revoke_user_grants`, reaping a deleted client |
/// | `tessera_grants_revoked_idx` | `(revoked_at)` where set | `sweep_tokens` (revocations left to finish) |
/// | `tessera_codes_expires_idx` | `(expires_at)` | `sweep_codes` |
/// | `tessera_codes_client_idx` | `(client_id)` | reaping a deleted client |
/// | `tessera_codes_grant_idx` | `(grant_id)` | whether a grant is left with nothing |
/// | `tessera_tokens_grant_idx` | `(grant_id)` | `revoke_grant`, reaping, whether a grant is left with nothing |
/// | `tessera_tokens_expires_idx` | `(expires_at)` where set | `sweep_tokens` |
/// | `tessera_consents_client_idx` | `(client_id)` | reaping a deleted client (`list_consents` uses the primary key's leading `user_id`) |
/// | `tessera_devices_user_code_idx` | `(user_code_hash)`, unique | `find_device_by_user_code`, `decide_device`, user-code uniqueness |
/// | `tessera_devices_expires_idx` | `(expires_at)` | `sweep_devices` |
/// | `tessera_devices_client_idx` | `(client_id)` | reaping a deleted client |
/// | `tessera_devices_grant_idx` | `(grant_id)` where set | whether a grant is left with nothing |
///
/// # Atomicity
///
/// SQLite runs one writer at a time. Every step that reads before it writes (`redeem_code`,
/// `rotate_refresh`, `issue_tokens`, `insert_code`, `revoke_token`, `update_client`,
/// `save_consent`, `decide_device`, `poll_device`, `redeem_device`, each sweep batch) is one
/// `BEGIN IMMEDIATE` transaction: it takes the write lock before its first read, so no other
/// writer, in this process or another, runs between its check and its act, and of racing
/// calls exactly one sees the record as it was. The other steps are single statements
/// (`swap_registration_token` compares and sets in one `UPDATE`). Readers see the last
/// committed state (WAL snapshots) and never block writers.
///
/// - Lookups (`find_token`, `find_refresh`) join the token to its grant and client and return
///   nothing if the grant is revoked or the client marked deleted: one indexed statement.
/// - A replayed code marks its grant revoked in the transaction that finds it spent; the
///   family's tokens are then reaped in batches.
/// - `revoke_grant` sets `revoked_at` in one statement (the tombstone), then deletes the tokens
///   in batches of 1000, each its own statement, and forgets the grant if no code or device
///   names it. `revoke_user_grants` marks the grants 1000 at a time, then reaps each.
/// - `delete_client` sets `deleted_at` in one statement, then reaps in statements of at most
///   1000 rows (tokens, then grants left empty with their codes and devices, then the client's
///   other devices, codes and consents), and finally deletes the client's row.
///
/// # Sweeping
///
/// `sweep_codes`, `sweep_tokens` and `sweep_devices` delete at most `limit` rows, in
/// transactions of at most 1000 chosen through the `expires_at` indexes, each forgetting the
/// grants its batch left with no token, code or device. Retired refresh tokens are swept by
/// their own `expires_at`, never earlier. `sweep_tokens` also finishes revocations and
/// deletions that were interrupted.
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
#[derive(Clone)]
pub struct SqliteStore {
    /// Reads.
    pool: SqlitePool,
    /// Writes: one connection for a database file, so that this process's writers queue here
    /// (in order, woken at once) instead of polling SQLite's lock; the same pool as `pool` for
    /// an in-memory database or one given to [`SqliteStore::from_pool`].
    writer: SqlitePool,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("writer_connections", &self.writer.size())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens a pool on `url`: `sqlite://PATH` or `sqlite:PATH` (the file is created if
    /// missing), or `sqlite::memory:` (a private in-memory database, one connection). Does
    /// not migrate: call [`SqliteStore::migrate`].
    ///
    /// Fails with [`StoreError::Backend`] for a URL that is not a SQLite URL or a file that
    /// cannot be opened, naming the cause.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (options, in_memory) = parse_url(url)?;
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let opened = |error| match db(error) {
            StoreError::Backend(cause) => {
                StoreError::Backend(format!("cannot open the SQLite database: {cause}").into())
            }
            other => other,
        };
        if in_memory {
            // One connection, never closed while the pool lives: the database lives with it.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(opened)?;
            return Ok(Self::from_pool(pool));
        }
        // The writer first: it creates the file and switches it to WAL.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(opened)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(opened)?;
        Ok(Self { pool, writer })
    }

    /// Uses an existing pool, for reads and writes alike. Does not migrate: call
    /// [`SqliteStore::migrate`]. Its connections must have foreign keys on (sqlx's default)
    /// and should have a busy timeout (sqlx's default is 5 s), the WAL journal and
    /// `synchronous = FULL`; a pool on `:memory:` must keep exactly one connection open.
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            writer: pool.clone(),
            pool,
        }
    }

    /// The pool of readers, for the host's own queries (writes through it work too: they
    /// wait for the write lock like any other connection's).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes both pools, waiting for the connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Creates or upgrades the schema to the version this build knows. Idempotent and safe to
    /// call from several processes at once: it runs in one `BEGIN IMMEDIATE` transaction.
    /// Versions newer than this build's are left alone.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS tessera_schema_migrations (
                version     INTEGER PRIMARY KEY,
                name        TEXT NOT NULL,
                applied_at  INTEGER NOT NULL
            )",
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM tessera_schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            // A plain string runs every statement in it.
            Executor::execute(&mut *tx, *sql).await.map_err(db)?;
            sqlx::query(
                "INSERT INTO tessera_schema_migrations (version, name, applied_at) \
                 VALUES (?1, ?2, ?3)",
            )
            .bind(version)
            .bind(name)
            .bind(micros(OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// A transaction holding the write lock from its start.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

/// Checks the scheme, then parses; says whether the database is in memory. Messages name the
/// scheme only, never the rest of the URL.
fn parse_url(url: &str) -> Result<(SqliteConnectOptions, bool), StoreError> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        return Err(match scheme {
            Some(other)
                if !other.is_empty()
                    && other.len() <= 32
                    && other
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                invalid_input(format!(
                    "unsupported URL scheme `{other}`: a SQLite URL starts with sqlite:// \
                     (or is sqlite::memory:)"
                ))
            }
            _ => invalid_input("not a SQLite URL: expected sqlite://PATH or sqlite::memory:"),
        });
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = path.split_once('?').unwrap_or((path, ""));
    if database.is_empty() && !params.contains("mode=memory") {
        return Err(invalid_input(
            "a SQLite URL names a file (sqlite://PATH) or is sqlite::memory:",
        ));
    }
    let in_memory = database == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| invalid_input(format!("invalid SQLite URL: {e}")))?;
    Ok((options, in_memory))
}

// ---------------------------------------------------------------------------------------------
// Errors and decoding

fn invalid_input(message: impl Into<String>) -> StoreError {
    StoreError::backend(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        message.into(),
    ))
}

/// SQLite's primary result codes for a database another connection holds.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;

/// A busy or locked database, an I/O failure and pool exhaustion are `Unavailable`; a unique
/// violation is `Conflict`; anything else `Backend`.
fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(e)
            if e.code()
                .and_then(|code| code.parse::<i32>().ok())
                // Extended result codes carry the primary one in their low byte.
                .is_some_and(|code| {
                    matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR)
                }) =>
        {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::backend(error),
    }
}

/// A foreign key violation: the client (or grant) a row names was deleted meanwhile.
fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

fn corrupt(what: &str, error: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

/// A time as stored: microseconds since the Unix epoch (every `OffsetDateTime` fits).
fn micros(at: OffsetDateTime) -> i64 {
    let micros = at.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

fn from_micros(column: &str, micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map_err(|e| corrupt(column, e))
}

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(|e| corrupt(column, e))
}

fn time_from(row: &SqliteRow, column: &str) -> Result<OffsetDateTime, StoreError> {
    from_micros(column, get(row, column)?)
}

fn optional_time_from(row: &SqliteRow, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    get::<Option<i64>>(row, column)?
        .map(|at| from_micros(column, at))
        .transpose()
}

fn json_from<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|e| corrupt(column, e))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

fn hash_from(row: &SqliteRow, column: &str) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = get(row, column)?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{column}: not 32 bytes")))?;
    Ok(TokenHash::from_bytes(bytes))
}

fn client_id_from(row: &SqliteRow, column: &str) -> Result<ClientId, StoreError> {
    ClientId::new(get::<String>(row, column)?).map_err(|e| corrupt(column, e))
}

fn user_from(row: &SqliteRow, column: &str) -> Result<Option<UserId>, StoreError> {
    Ok(get::<Option<String>>(row, column)?.map(UserId::new))
}

/// Scopes are stored in their wire form. Decoded without [`ScopeSet::parse`]'s request limit:
/// a consent's union may exceed it.
fn scopes_of(column: &str, text: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::from_tokens(text.split(' ').filter(|t| !t.is_empty())).map_err(|e| corrupt(column, e))
}

fn scopes_from(row: &SqliteRow, column: &str) -> Result<ScopeSet, StoreError> {
    scopes_of(column, &get::<String>(row, column)?)
}

fn grant_type_from(row: &SqliteRow, column: &str) -> Result<GrantType, StoreError> {
    let text: String = get(row, column)?;
    GrantType::parse(&text).ok_or_else(|| corrupt(column, format!("unknown grant type {text:?}")))
}

fn token_type_name(token_type: TokenType) -> &'static str {
    match token_type {
        TokenType::Access => "access",
        TokenType::Refresh => "refresh",
    }
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn bytes(hash: &TokenHash) -> &[u8] {
    hash.as_bytes().as_slice()
}

fn now() -> i64 {
    micros(OffsetDateTime::now_utc())
}

// ---------------------------------------------------------------------------------------------
// Row mappings

const CODE_COLUMNS: &str = "hash, grant_id, client_id, user_id, scopes, grant_type, \
    grant_created_at, redirect_uri, pkce_challenge, pkce_method, expires_at, ext";

fn code_from(row: &SqliteRow) -> Result<CodeRecord, StoreError> {
    let grant = Grant::new(
        GrantId::new(get::<String>(row, "grant_id")?),
        client_id_from(row, "client_id")?,
        user_from(row, "user_id")?,
        scopes_from(row, "scopes")?,
        grant_type_from(row, "grant_type")?,
        time_from(row, "grant_created_at")?,
    );
    let pkce = match (
        get::<Option<String>>(row, "pkce_challenge")?,
        get::<Option<String>>(row, "pkce_method")?,
    ) {
        (Some(challenge), Some(method)) => {
            let method = match method.as_str() {
                "S256" => PkceMethod::S256,
                "plain" => PkceMethod::Plain,
                other => return Err(corrupt("pkce_method", format!("unknown {other:?}"))),
            };
            Some(PkceChallenge::new(challenge, method))
        }
        (None, None) => None,
        _ => return Err(corrupt("pkce_method", "challenge without method")),
    };
    let mut ext: StoredCodeExt = json_from(row, "ext")?;
    let grant = ext.apply_grant(grant);
    let code = CodeRecord::new(
        hash_from(row, "hash")?,
        grant,
        get(row, "redirect_uri")?,
        pkce,
        time_from(row, "expires_at")?,
    );
    Ok(ext.apply(code))
}

const TOKEN_COLUMNS: &str = "hash, token_type, grant_id, client_id, user_id, scopes, issued_at, \
    expires_at, family_expires_at, retired_at, sealed_successor, ext";

/// [`TOKEN_COLUMNS`] of the token table under the alias `t`.
const T_TOKEN_COLUMNS: &str = "t.hash, t.token_type, t.grant_id, t.client_id, t.user_id, \
    t.scopes, t.issued_at, t.expires_at, t.family_expires_at, t.retired_at, t.sealed_successor, \
    t.ext";

/// A token row joined to its grant and client, kept only if the grant is active and the
/// client not deleted: the condition every lookup applies.
const LIVE_FAMILY: &str = "tessera_tokens t JOIN tessera_grants g ON g.id = t.grant_id \
    JOIN tessera_clients c ON c.id = g.client_id \
    WHERE g.revoked_at IS NULL AND c.deleted_at IS NULL";

fn token_from(row: &SqliteRow) -> Result<TokenRecord, StoreError> {
    let token_type = match get::<String>(row, "token_type")?.as_str() {
        "access" => TokenType::Access,
        "refresh" => TokenType::Refresh,
        other => return Err(corrupt("token_type", format!("unknown {other:?}"))),
    };
    let ext: StoredTokenExt = json_from(row, "ext")?;
    Ok(TokenRecord {
        hash: hash_from(row, "hash")?,
        token_type,
        grant_id: GrantId::new(get::<String>(row, "grant_id")?),
        client_id: client_id_from(row, "client_id")?,
        user: user_from(row, "user_id")?,
        scopes: scopes_from(row, "scopes")?,
        issued_at: time_from(row, "issued_at")?,
        expires_at: optional_time_from(row, "expires_at")?,
        family_expires_at: optional_time_from(row, "family_expires_at")?,
        audience: ext.audience,
        confirmation: ext.confirmation,
        claims: ext.claims,
        authentication: ext.authentication,
    })
}

/// A token row as a refresh lookup: live, or retired with its successor.
fn refresh_from(row: &SqliteRow) -> Result<RefreshLookup, StoreError> {
    let record = token_from(row)?;
    Ok(match optional_time_from(row, "retired_at")? {
        None => RefreshLookup::Active(record),
        Some(retired_at) => RefreshLookup::Retired(RetiredRefresh {
            record,
            retired_at,
            sealed_successor: get(row, "sealed_successor")?,
        }),
    })
}

const CONSENT_COLUMNS: &str = "user_id, client_id, scopes, granted_at, last_used_at";

fn consent_from(row: &SqliteRow) -> Result<Consent, StoreError> {
    Ok(Consent {
        user: UserId::new(get::<String>(row, "user_id")?),
        client_id: client_id_from(row, "client_id")?,
        scopes: scopes_from(row, "scopes")?,
        granted_at: time_from(row, "granted_at")?,
        last_used_at: time_from(row, "last_used_at")?,
    })
}

const DEVICE_COLUMNS: &str = "device_hash, user_code_hash, client_id, scopes, expires_at, \
    poll_interval, last_poll_at, status, approved_grant";

fn device_from(row: &SqliteRow) -> Result<DeviceRecord, StoreError> {
    let status = match get::<String>(row, "status")?.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "redeemed" => DeviceStatus::Redeemed,
        "approved" => match get::<Option<String>>(row, "approved_grant")? {
            Some(grant) => DeviceStatus::Approved {
                grant: serde_json::from_str(&grant).map_err(|e| corrupt("approved_grant", e))?,
            },
            None => return Err(corrupt("approved_grant", "missing")),
        },
        other => return Err(corrupt("status", format!("unknown {other:?}"))),
    };
    let interval = u32::try_from(get::<i64>(row, "poll_interval")?)
        .map_err(|e| corrupt("poll_interval", e))?;
    Ok(DeviceRecord {
        device_hash: hash_from(row, "device_hash")?,
        user_code_hash: hash_from(row, "user_code_hash")?,
        client_id: client_id_from(row, "client_id")?,
        scopes: scopes_from(row, "scopes")?,
        expires_at: time_from(row, "expires_at")?,
        interval,
        last_poll_at: optional_time_from(row, "last_poll_at")?,
        status,
    })
}

/// The `status` and `approved_grant` columns of a device status.
fn device_status_columns(
    status: &DeviceStatus,
) -> Result<(&'static str, Option<String>), StoreError> {
    Ok(match status {
        DeviceStatus::Pending => ("pending", None),
        DeviceStatus::Approved { grant } => ("approved", Some(json(grant)?)),
        DeviceStatus::Denied => ("denied", None),
        DeviceStatus::Redeemed => ("redeemed", None),
    })
}

/// Inserts tokens, one prepared statement per row (the transaction is in-process: no round
/// trips).
async fn insert_tokens(
    tx: &mut Transaction<'_, Sqlite>,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    for token in tokens {
        sqlx::query(
            "INSERT INTO tessera_tokens (hash, token_type, grant_id, client_id, user_id, scopes, \
             issued_at, expires_at, family_expires_at, ext) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(bytes(&token.hash))
        .bind(token_type_name(token.token_type))
        .bind(token.grant_id.as_str())
        .bind(token.client_id.as_str())
        .bind(token.user.as_ref().map(UserId::as_str))
        .bind(token.scopes.to_string())
        .bind(micros(token.issued_at))
        .bind(token.expires_at.map(micros))
        .bind(token.family_expires_at.map(micros))
        .bind(json(&TokenExt::of(token))?)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// Inserts a grant, active.
async fn insert_grant(
    tx: &mut Transaction<'_, Sqlite>,
    grant: &Grant,
) -> Result<Result<(), sqlx::Error>, StoreError> {
    let ext = json(&GrantExt::of(grant))?;
    Ok(sqlx::query(
        "INSERT INTO tessera_grants (id, client_id, user_id, scopes, grant_type, created_at, ext) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(grant.id.as_str())
    .bind(grant.client_id.as_str())
    .bind(grant.user.as_ref().map(UserId::as_str))
    .bind(grant.scopes.to_string())
    .bind(grant.grant_type.as_str())
    .bind(micros(grant.created_at))
    .bind(ext)
    .execute(&mut **tx)
    .await
    .map(drop))
}

/// Whether the client exists and is not being deleted.
async fn client_present(
    tx: &mut Transaction<'_, Sqlite>,
    client: &ClientId,
) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM tessera_clients WHERE id = ?1 AND deleted_at IS NULL")
            .bind(client.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    Ok(found.is_some())
}

/// The state of a grant: `None` if unknown, else (active, client present). Read inside a
/// write transaction, it stays true until the transaction ends.
async fn grant_state(
    tx: &mut Transaction<'_, Sqlite>,
    grant: &str,
) -> Result<Option<(bool, bool)>, StoreError> {
    let state: Option<(i64, i64)> = sqlx::query_as(
        "SELECT g.revoked_at IS NULL, c.deleted_at IS NULL FROM tessera_grants g \
         JOIN tessera_clients c ON c.id = g.client_id WHERE g.id = ?1",
    )
    .bind(grant)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(state.map(|(active, present)| (active != 0, present != 0)))
}

/// Forgets the grants among `grants` that no token, code or device authorization names.
async fn forget_grants(
    tx: &mut Transaction<'_, Sqlite>,
    grants: &[String],
) -> Result<(), StoreError> {
    for grant in grants {
        sqlx::query(
            "DELETE FROM tessera_grants WHERE id = ?1 \
             AND NOT EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = ?1) \
             AND NOT EXISTS (SELECT 1 FROM tessera_codes k WHERE k.grant_id = ?1) \
             AND NOT EXISTS (SELECT 1 FROM tessera_devices d WHERE d.grant_id = ?1)",
        )
        .bind(grant)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Deletes up to [`BATCH`] tokens of a grant at a time until none is left; returns how
    /// many went.
    async fn reap_grant(&self, grant: &str) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let batch = self.reap_grant_batch(grant, BATCH).await?;
            removed += batch;
            if batch < BATCH as u64 {
                return Ok(removed);
            }
        }
    }

    /// Deletes up to `limit` tokens of a grant, one statement.
    async fn reap_grant_batch(&self, grant: &str, limit: usize) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM tessera_tokens WHERE hash IN \
             (SELECT hash FROM tessera_tokens WHERE grant_id = ?1 LIMIT ?2)",
        )
        .bind(grant)
        .bind(limit_of(limit))
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected())
    }

    /// Forgets the grants among `grants` that nothing names any more, [`BATCH`] per
    /// transaction.
    async fn forget(&self, grants: &mut Vec<String>) -> Result<(), StoreError> {
        grants.sort_unstable();
        grants.dedup();
        for chunk in grants.chunks(BATCH) {
            let mut tx = self.write().await?;
            forget_grants(&mut tx, chunk).await?;
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }

    /// Marks a grant revoked (the tombstone), then reaps its tokens and forgets it if nothing
    /// names it any more; returns how many tokens went.
    async fn revoke_and_reap(&self, grant: &str) -> Result<u64, StoreError> {
        sqlx::query(
            "UPDATE tessera_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(grant)
        .bind(now())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        let removed = self.reap_grant(grant).await?;
        self.forget(&mut vec![grant.to_owned()]).await?;
        Ok(removed)
    }

    /// One bounded step of reaping a deleted client, at most [`BATCH`] rows per statement;
    /// returns how many rows went and whether the client is completely reaped (its row then
    /// deleted too).
    async fn reap_client(&self, id: &ClientId) -> Result<(u64, bool), StoreError> {
        let run = |sql: &'static str| {
            let pool = self.writer.clone();
            let id = id.as_str().to_owned();
            async move {
                sqlx::query(sql)
                    .bind(id)
                    .bind(limit_of(BATCH))
                    .execute(&pool)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(db)
            }
        };
        let tokens = run(
            "DELETE FROM tessera_tokens WHERE hash IN (SELECT t.hash FROM tessera_grants g \
             JOIN tessera_tokens t ON t.grant_id = g.id WHERE g.client_id = ?1 LIMIT ?2)",
        )
        .await?;
        // Grants left empty, with their code and device authorization (by cascade: one each).
        let grants = run(
            "DELETE FROM tessera_grants WHERE id IN (SELECT g.id FROM tessera_grants g \
             WHERE g.client_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) LIMIT ?2)",
        )
        .await?;
        let mut removed = tokens + grants;
        if tokens == BATCH as u64 || grants == BATCH as u64 {
            return Ok((removed, false));
        }
        let devices = run("DELETE FROM tessera_devices WHERE device_hash IN \
             (SELECT device_hash FROM tessera_devices WHERE client_id = ?1 LIMIT ?2)")
        .await?;
        let codes = run("DELETE FROM tessera_codes WHERE hash IN \
             (SELECT hash FROM tessera_codes WHERE client_id = ?1 LIMIT ?2)")
        .await?;
        let consents = run("DELETE FROM tessera_consents WHERE rowid IN \
             (SELECT rowid FROM tessera_consents WHERE client_id = ?1 LIMIT ?2)")
        .await?;
        removed += devices + codes + consents;
        if devices == BATCH as u64 || codes == BATCH as u64 || consents == BATCH as u64 {
            return Ok((removed, false));
        }
        // Nothing is left but what a step racing the mark may have added: the cascade takes it.
        sqlx::query("DELETE FROM tessera_clients WHERE id = ?1 AND deleted_at IS NOT NULL")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok((removed, true))
    }

    /// Deletes up to `budget` rows chosen by `sql` (which takes `now` and a limit and returns
    /// the grant of each row) and forgets the grants left with nothing, in one transaction;
    /// returns how many rows went.
    async fn sweep_batch(
        &self,
        sql: &str,
        now: OffsetDateTime,
        budget: usize,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let grants: Vec<Option<String>> = sqlx::query_scalar(sql)
            .bind(micros(now))
            .bind(limit_of(budget))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let removed = grants.len() as u64;
        let mut grants: Vec<String> = grants.into_iter().flatten().collect();
        grants.sort_unstable();
        grants.dedup();
        forget_grants(&mut tx, &grants).await?;
        tx.commit().await.map_err(db)?;
        Ok(removed)
    }

    /// Sweeps up to `limit` rows in batches of at most [`BATCH`].
    async fn sweep_rows(
        &self,
        sql: &str,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            let batch = self.sweep_batch(sql, now, budget).await?;
            removed += batch;
            if (batch as usize) < budget {
                break;
            }
        }
        Ok(removed)
    }

    /// Removes up to `budget` records left by interrupted revocations and deletions.
    async fn finish_reaping(&self, budget: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        let revoked: Vec<String> = sqlx::query_scalar(
            "SELECT g.id FROM tessera_grants g WHERE g.revoked_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) LIMIT ?1",
        )
        .bind(limit_of(budget))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        for grant in revoked {
            if removed as usize >= budget {
                return Ok(removed);
            }
            removed += self
                .reap_grant_batch(&grant, budget - removed as usize)
                .await?;
            self.forget(&mut vec![grant]).await?;
        }
        while (removed as usize) < budget {
            let deleted: Option<String> = sqlx::query_scalar(
                "SELECT id FROM tessera_clients WHERE deleted_at IS NOT NULL LIMIT 1",
            )
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
            let Some(id) = deleted else { break };
            let id = ClientId::new(id).map_err(|e| corrupt("tessera_clients.id", e))?;
            let (reaped, done) = self.reap_client(&id).await?;
            removed += reaped;
            if !done && reaped == 0 {
                break;
            }
        }
        Ok(removed)
    }
}

// ---------------------------------------------------------------------------------------------
// The traits

#[async_trait]
impl ClientStore for SqliteStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        // A deleted client keeps its row until reaped: its ID is a Conflict until then.
        sqlx::query(
            "INSERT INTO tessera_clients (id, record, created_at, unused_until) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(client.id.as_str())
        .bind(json(client)?)
        .bind(micros(client.created_at))
        .bind(client.unused_until.map(micros))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row =
            sqlx::query("SELECT record FROM tessera_clients WHERE id = ?1 AND deleted_at IS NULL")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        row.map(|row| json_from(&row, "record")).transpose()
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT record FROM tessera_clients WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(client.id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let stored: Client =
            serde_json::from_str(&stored).map_err(|e| corrupt("tessera_clients.record", e))?;
        // The stored secret, registration token and expiry mark are kept, under the write lock.
        let mut record = client.clone();
        record.secret = stored.secret;
        record.registration_token = stored.registration_token;
        record.unused_until = stored.unused_until;
        sqlx::query("UPDATE tessera_clients SET record = ?2, created_at = ?3 WHERE id = ?1")
            .bind(client.id.as_str())
            .bind(json(&record)?)
            .bind(micros(client.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tessera_clients SET record = json_set(record, '$.secret', ?2) \
             WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(secret.encode())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        // One statement under the write lock: the comparison and the swap cannot interleave.
        let done = sqlx::query(
            "UPDATE tessera_clients \
             SET record = json_set(record, '$.registration_token', ?3) \
             WHERE id = ?1 AND deleted_at IS NULL \
             AND json_extract(record, '$.registration_token') = ?2",
        )
        .bind(id.as_str())
        .bind(old.to_hex())
        .bind(new.to_hex())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        // The mark: from its commit, lookups and issuance refuse the client.
        let marked = sqlx::query(
            "UPDATE tessera_clients SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(now())
        .execute(&self.writer)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !marked {
            // Nothing to delete, or a deletion to finish.
            let pending: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM tessera_clients WHERE id = ?1 AND deleted_at IS NOT NULL",
            )
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
            if pending.is_none() {
                return Ok(false);
            }
        }
        while !self.reap_client(id).await?.1 {}
        Ok(marked)
    }

    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tessera_clients SET unused_until = NULL, \
             record = json_remove(record, '$.unused_until') \
             WHERE id = ?1 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            // The mark, as delete_client's, in one statement under the write lock: a client
            // touched before it stays.
            let doomed: Vec<String> = sqlx::query_scalar(
                "UPDATE tessera_clients SET deleted_at = ?3 WHERE id IN \
                 (SELECT id FROM tessera_clients WHERE unused_until < ?1 \
                 AND deleted_at IS NULL ORDER BY unused_until LIMIT ?2) RETURNING id",
            )
            .bind(micros(now))
            .bind(limit_of(budget))
            .bind(self::now())
            .fetch_all(&self.writer)
            .await
            .map_err(db)?;
            for id in &doomed {
                let id =
                    ClientId::new(id.as_str()).map_err(|e| corrupt("tessera_clients.id", e))?;
                while !self.reap_client(&id).await?.1 {}
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
impl CodeStore for SqliteStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        let grant = &code.grant;
        let ext = json(&CodeExt::of(code))?;
        let mut tx = self.write().await?;
        if !client_present(&mut tx, &grant.client_id).await? {
            return Ok(Insertion::ClientUnknown);
        }
        let mut inserted = insert_grant(&mut tx, grant).await?;
        if inserted.is_ok() {
            inserted = sqlx::query(
                "INSERT INTO tessera_codes (hash, grant_id, client_id, user_id, scopes, \
                 grant_type, grant_created_at, redirect_uri, pkce_challenge, pkce_method, \
                 expires_at, ext) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .bind(bytes(&code.hash))
            .bind(grant.id.as_str())
            .bind(grant.client_id.as_str())
            .bind(grant.user.as_ref().map(UserId::as_str))
            .bind(grant.scopes.to_string())
            .bind(grant.grant_type.as_str())
            .bind(micros(grant.created_at))
            .bind(code.redirect_uri.as_deref())
            .bind(code.pkce.as_ref().map(|p| p.challenge.as_str()))
            .bind(code.pkce.as_ref().map(|p| p.method.as_str()))
            .bind(micros(code.expires_at))
            .bind(ext)
            .execute(&mut *tx)
            .await
            .map(drop);
        }
        match inserted {
            Ok(()) => {}
            Err(e) if is_foreign_key_violation(&e) => return Ok(Insertion::ClientUnknown),
            Err(e) => return Err(db(e)),
        }
        tx.commit().await.map_err(db)?;
        Ok(Insertion::Stored)
    }

    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM tessera_codes WHERE hash = ?1"
        ))
        .bind(bytes(hash))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(code_from).transpose()
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        // The write lock is held from the first read: concurrent redemptions run one after
        // another, and each sees the one before committed.
        let mut tx = self.write().await?;
        let code: Option<(String, i64)> =
            sqlx::query_as("SELECT grant_id, spent FROM tessera_codes WHERE hash = ?1")
                .bind(bytes(hash))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some((grant, spent)) = code else {
            return Ok(CodeRedemption::Unknown);
        };
        if spent != 0 {
            // A replay: the tombstone commits with this step; the tokens are reaped after.
            sqlx::query(
                "UPDATE tessera_grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )
            .bind(&grant)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            self.reap_grant(&grant).await?;
            return Ok(CodeRedemption::Replayed(GrantId::new(grant)));
        }
        if grant_state(&mut tx, &grant).await? != Some((true, true)) {
            return Ok(CodeRedemption::GrantRevoked);
        }
        sqlx::query("UPDATE tessera_codes SET spent = 1 WHERE hash = ?1")
            .bind(bytes(hash))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        insert_tokens(&mut tx, tokens).await?;
        tx.commit().await.map_err(db)?;
        Ok(CodeRedemption::Redeemed)
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep_rows(
            "DELETE FROM tessera_codes WHERE hash IN (SELECT hash FROM tessera_codes \
             WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2) RETURNING grant_id",
            now,
            limit,
        )
        .await
    }
}

#[async_trait]
impl ReplayStore for SqliteStore {
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One statement through the single writer: inserted, or an expired entry taken over,
        // returns the row; a live entry returns none and is left as it was.
        let row: Option<Vec<u8>> = sqlx::query_scalar(
            "INSERT INTO tessera_replay_keys (key, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE tessera_replay_keys.expires_at <= ?3 RETURNING key",
        )
        .bind(key.as_bytes().as_slice())
        .bind(micros(expires_at))
        .bind(micros(now))
        .fetch_optional(&self.writer)
        .await
        .map_err(db)?;
        Ok(row.is_some())
    }

    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep_rows(
            "DELETE FROM tessera_replay_keys WHERE key IN (SELECT key FROM tessera_replay_keys \
             WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2) RETURNING NULL",
            now,
            limit,
        )
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db)
    }

    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        let mut tx = self.write().await?;
        match family {
            Family::New(grant) => {
                if !client_present(&mut tx, &grant.client_id).await? {
                    return Ok(IssueOutcome::ClientUnknown);
                }
                match insert_grant(&mut tx, grant).await? {
                    Ok(()) => {}
                    Err(e) if is_foreign_key_violation(&e) => {
                        return Ok(IssueOutcome::ClientUnknown);
                    }
                    Err(e) => return Err(db(e)),
                }
            }
            Family::Existing(id) => match grant_state(&mut tx, id.as_str()).await? {
                Some((true, true)) => {}
                Some((true, false)) => return Ok(IssueOutcome::ClientUnknown),
                _ => return Ok(IssueOutcome::GrantRevoked),
            },
        }
        insert_tokens(&mut tx, tokens).await?;
        tx.commit().await.map_err(db)?;
        Ok(IssueOutcome::Stored)
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {T_TOKEN_COLUMNS} FROM {LIVE_FAMILY} AND t.hash = ?1 AND t.retired_at IS NULL"
        ))
        .bind(bytes(hash))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| token_from(&row).map(Arc::new)).transpose()
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {T_TOKEN_COLUMNS} FROM {LIVE_FAMILY} AND t.hash = ?1 \
             AND t.token_type = 'refresh'"
        ))
        .bind(bytes(hash))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(row) => refresh_from(&row),
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
        let mut tx = self.write().await?;
        let grant: Option<String> =
            sqlx::query_scalar("SELECT grant_id FROM tessera_tokens WHERE hash = ?1")
                .bind(bytes(old))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some(grant) = grant else {
            return Ok(Rotation::Unknown);
        };
        if grant_state(&mut tx, &grant).await? != Some((true, true)) {
            return Ok(Rotation::Unknown);
        }
        let retired = sqlx::query(
            "UPDATE tessera_tokens SET retired_at = ?2, sealed_successor = ?3 \
             WHERE hash = ?1 AND retired_at IS NULL AND token_type = 'refresh'",
        )
        .bind(bytes(old))
        .bind(micros(now))
        .bind(sealed_successor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if retired.rows_affected() == 1 {
            insert_tokens(&mut tx, new).await?;
            tx.commit().await.map_err(db)?;
            return Ok(Rotation::Rotated);
        }
        // Retired already (by the winner of a race, which committed before this step began),
        // or not a refresh token.
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tessera_tokens WHERE hash = ?1 AND token_type = 'refresh'"
        ))
        .bind(bytes(old))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        tx.rollback().await.map_err(db)?;
        Ok(match row.as_ref().map(refresh_from).transpose()? {
            Some(RefreshLookup::Retired(retired)) => Rotation::AlreadyRetired(retired),
            _ => Rotation::Unknown,
        })
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let grant: Option<String> = sqlx::query_scalar(
            "SELECT grant_id FROM tessera_tokens WHERE hash = ?1 AND retired_at IS NULL",
        )
        .bind(bytes(hash))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(grant) = grant else {
            return Ok(false);
        };
        let active: Option<i64> =
            sqlx::query_scalar("SELECT revoked_at IS NULL FROM tessera_grants WHERE id = ?1")
                .bind(&grant)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some(active) = active else {
            return Ok(false);
        };
        let removed =
            sqlx::query("DELETE FROM tessera_tokens WHERE hash = ?1 AND retired_at IS NULL")
                .bind(bytes(hash))
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        forget_grants(&mut tx, std::slice::from_ref(&grant)).await?;
        tx.commit().await.map_err(db)?;
        Ok(removed > 0 && active != 0)
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        self.revoke_and_reap(grant.as_str()).await
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        let mut revoked: Vec<String> = Vec::new();
        loop {
            let batch: Vec<String> = sqlx::query_scalar(
                "UPDATE tessera_grants SET revoked_at = ?4 WHERE id IN (SELECT id \
                 FROM tessera_grants WHERE client_id = ?2 AND user_id = ?1 \
                 AND revoked_at IS NULL ORDER BY id LIMIT ?3) RETURNING id",
            )
            .bind(user.as_str())
            .bind(client.as_str())
            .bind(limit_of(BATCH))
            .bind(now())
            .fetch_all(&self.writer)
            .await
            .map_err(db)?;
            let done = batch.len() < BATCH;
            revoked.extend(batch);
            if done {
                break;
            }
        }
        for grant in &revoked {
            self.reap_grant(grant).await?;
        }
        let count = revoked.len() as u64;
        self.forget(&mut revoked).await?;
        Ok(count)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        while (removed as usize) < limit {
            let budget = BATCH.min(limit - removed as usize);
            // Live and retired tokens alike, by their own expires_at.
            let mut batch = self
                .sweep_batch(
                    "DELETE FROM tessera_tokens WHERE hash IN (SELECT hash FROM tessera_tokens \
                     WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2) RETURNING grant_id",
                    now,
                    budget,
                )
                .await?;
            if (batch as usize) < budget {
                batch += self.finish_reaping(budget - batch as usize).await?;
            }
            removed += batch;
            if (batch as usize) < budget {
                break;
            }
        }
        Ok(removed)
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONSENT_COLUMNS} FROM tessera_consents WHERE user_id = ?1 AND client_id = ?2"
        ))
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(consent_from).transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT scopes FROM tessera_consents WHERE user_id = ?1 AND client_id = ?2",
        )
        .bind(consent.user.as_str())
        .bind(consent.client_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        match stored {
            // The union of the stored and the new scopes, under the write lock.
            Some(stored) => {
                let scopes = scopes_of("tessera_consents.scopes", &stored)?.union(&consent.scopes);
                sqlx::query(
                    "UPDATE tessera_consents SET scopes = ?3, last_used_at = ?4 \
                     WHERE user_id = ?1 AND client_id = ?2",
                )
                .bind(consent.user.as_str())
                .bind(consent.client_id.as_str())
                .bind(scopes.to_string())
                .bind(micros(consent.last_used_at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
            None => {
                sqlx::query(&format!(
                    "INSERT INTO tessera_consents ({CONSENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
                ))
                .bind(consent.user.as_str())
                .bind(consent.client_id.as_str())
                .bind(consent.scopes.to_string())
                .bind(micros(consent.granted_at))
                .bind(micros(consent.last_used_at))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)
    }

    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tessera_consents SET last_used_at = ?3 WHERE user_id = ?1 AND client_id = ?2",
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(micros(at))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CONSENT_COLUMNS} FROM tessera_consents WHERE user_id = ?1"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(consent_from).collect()
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM tessera_consents WHERE user_id = ?1 AND client_id = ?2")
                .bind(user.as_str())
                .bind(client.as_str())
                .execute(&self.writer)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        let (status, grant) = device_status_columns(&record.status)?;
        sqlx::query(&format!(
            "INSERT INTO tessera_devices ({DEVICE_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ))
        .bind(bytes(&record.device_hash))
        .bind(bytes(&record.user_code_hash))
        .bind(record.client_id.as_str())
        .bind(record.scopes.to_string())
        .bind(micros(record.expires_at))
        .bind(i64::from(record.interval))
        .bind(record.last_poll_at.map(micros))
        .bind(status)
        .bind(grant)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM tessera_devices WHERE user_code_hash = ?1"
        ))
        .bind(bytes(user_code))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(device_from).transpose()
    }

    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        let approved = match &status {
            DeviceStatus::Approved { grant } => Some(grant),
            DeviceStatus::Denied => None,
            _ => return Ok(false),
        };
        let (status_name, approved_grant) = device_status_columns(&status)?;
        let mut tx = self.write().await?;
        let pending: Option<(Vec<u8>, String)> = sqlx::query_as(
            "SELECT device_hash, client_id FROM tessera_devices \
             WHERE user_code_hash = ?1 AND status = 'pending'",
        )
        .bind(bytes(user_code))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((device, client)) = pending else {
            return Ok(false);
        };
        if let Some(grant) = approved {
            if grant.client_id.as_str() != client
                || !client_present(&mut tx, &grant.client_id).await?
            {
                return Ok(false);
            }
            match insert_grant(&mut tx, grant).await? {
                Ok(()) => {}
                Err(e) if is_foreign_key_violation(&e) => return Ok(false),
                Err(e) => return Err(db(e)),
            }
        }
        sqlx::query(
            "UPDATE tessera_devices SET status = ?2, approved_grant = ?3, grant_id = ?4 \
             WHERE device_hash = ?1",
        )
        .bind(&device)
        .bind(status_name)
        .bind(approved_grant)
        .bind(approved.map(|g| g.id.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM tessera_devices WHERE device_hash = ?1"
        ))
        .bind(bytes(device))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else {
            return Ok(DevicePoll::Unknown);
        };
        let before = device_from(&row)?;
        let too_fast = before
            .last_poll_at
            .is_some_and(|last| now < last + time::Duration::seconds(i64::from(before.interval)));
        let mut after = before.clone();
        after.last_poll_at = Some(now);
        if too_fast {
            after.interval = after.interval.saturating_add(5);
        }
        sqlx::query(
            "UPDATE tessera_devices SET last_poll_at = ?2, poll_interval = ?3 \
             WHERE device_hash = ?1",
        )
        .bind(bytes(device))
        .bind(micros(now))
        .bind(i64::from(after.interval))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(if too_fast {
            DevicePoll::SlowDown(after)
        } else {
            DevicePoll::Polled(before)
        })
    }

    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        // The write lock is held from the first read: concurrent redemptions run one after
        // another, and each sees the one before committed.
        let mut tx = self.write().await?;
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, coalesce(grant_id, json_extract(approved_grant, '$.id')) \
             FROM tessera_devices WHERE device_hash = ?1",
        )
        .bind(bytes(device))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some((status, grant)) = row else {
            return Ok(DeviceRedemption::Unknown);
        };
        let grant = match (status.as_str(), grant) {
            ("approved", Some(grant)) => grant,
            ("redeemed", _) => return Ok(DeviceRedemption::AlreadyRedeemed),
            _ => return Ok(DeviceRedemption::NotApproved),
        };
        if grant_state(&mut tx, &grant).await? != Some((true, true)) {
            return Ok(DeviceRedemption::GrantRevoked);
        }
        sqlx::query(
            "UPDATE tessera_devices SET status = 'redeemed', approved_grant = NULL, \
             grant_id = ?2 WHERE device_hash = ?1",
        )
        .bind(bytes(device))
        .bind(&grant)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        insert_tokens(&mut tx, tokens).await?;
        tx.commit().await.map_err(db)?;
        Ok(DeviceRedemption::Redeemed)
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.sweep_rows(
            "DELETE FROM tessera_devices WHERE device_hash IN (SELECT device_hash \
             FROM tessera_devices WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2) \
             RETURNING grant_id",
            now,
            limit,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("sqlite::memory:").is_ok_and(|(_, memory)| memory));
        assert!(parse_url("sqlite://:memory:").is_ok_and(|(_, memory)| memory));
        assert!(parse_url("sqlite://data/tessera.db").is_ok_and(|(_, memory)| !memory));
        assert!(parse_url("sqlite:tessera.db").is_ok_and(|(_, memory)| !memory));
        for bad in ["sqlite://", "sqlite:", "postgres://x", "sqlit://x", "", "x"] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
        let error = parse_url("sqlit://x").err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("`sqlit`")));
    }

    #[test]
    fn times_round_trip_to_the_microsecond() {
        for at in [
            OffsetDateTime::UNIX_EPOCH,
            OffsetDateTime::UNIX_EPOCH - time::Duration::microseconds(1),
            OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_900_000_000),
            time::macros::datetime!(9999-12-31 23:59:59.999_999 UTC),
            time::macros::datetime!(-9999-01-01 0:00 UTC),
        ] {
            assert_eq!(from_micros("t", micros(at)).ok(), Some(at));
        }
    }
}
