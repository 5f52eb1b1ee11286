//! The PostgreSQL backend: every store trait on one database (see [`PgStore`]).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Executor, Postgres, Row, Transaction};
use time::OffsetDateTime;

use super::{
    ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
    DeviceRecord, DeviceStatus, DeviceStore, Grant, GrantId, PkceChallenge, PkceMethod,
    RefreshLookup, RetiredRefresh, Rotation, TokenRecord, TokenStore, TokenType,
};
use crate::client::{Client, ClientId, GrantType, UserId};
use crate::error::StoreError;
use crate::scope::ScopeSet;
use crate::secret::TokenHash;

/// The embedded schema migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "barred_grants",
        include_str!("migrations/0002_barred_grants.sql"),
    ),
];

/// The first key of the advisory lock `migrate` holds; the second is the schema's hash.
const MIGRATION_LOCK: i32 = 0x7e55_e7a0;

/// The first key of the per-grant advisory lock that `take_code` (barring a replayed code's
/// grant) and `issue_tokens` hold; the second is the hash of the grant ID. A hash collision
/// only makes two grants wait for each other.
const GRANT_LOCK: i32 = 0x7e55_e7a1;

/// Takes the grant's transaction-scoped advisory lock.
async fn lock_grant(tx: &mut Transaction<'_, Postgres>, grant: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(GRANT_LOCK)
        .bind(grant)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Every store trait on PostgreSQL, through a [`sqlx`] connection pool, shared safely by any
/// number of provider processes. Cloning is cheap and shares the pool.
///
/// ```no_run
/// # async fn run() -> Result<(), tessera::StoreError> {
/// use std::sync::Arc;
/// use tessera::store::PgStore;
///
/// let store = PgStore::connect("postgres://tessera@127.0.0.1/tessera").await?;
/// store.migrate().await?;
/// let store = Arc::new(store); // give it to `Provider::builder`
/// # let _ = store; Ok(()) }
/// ```
///
/// Queries are built at run time ([`sqlx::query`](fn@sqlx::query)); nothing needs a database
/// at compile time. [`PgStore::migrate`] applies the embedded, versioned schema inside one transaction under a
/// transaction-scoped advisory lock, so several processes may call it at start-up at once. The
/// applied versions are recorded in `tessera_schema_migrations`.
///
/// # Schema
///
/// All tables live in the connection's current schema (the first of `search_path`); use
/// [`PgStore::connect_in_schema`] to give tessera a schema of its own. Codes, tokens and device
/// and user codes are stored only as their [`crate::TokenHash`] (a SHA-256; `bytea`, 32 bytes,
/// checked); a client secret
/// only as its encoded [`crate::SecretHash`] inside the client record. No column ever holds a
/// secret. Times are `timestamptz`, identifiers `text COLLATE "C"` (byte order, as in Rust).
///
/// | table | key | holds |
/// | --- | --- | --- |
/// | `tessera_clients` | `id` | the [`Client`] record as JSON (`record`) |
/// | `tessera_grants` | `id` | one grant per token family; `client_id` → clients |
/// | `tessera_codes` | `hash` | authorization codes with their pending grant and a `spent` flag; `client_id` → clients |
/// | `tessera_tokens` | `hash` | access and refresh tokens; `retired_at` is `NULL` while live and set when rotation retires a refresh token (with its `sealed_successor`); `grant_id` → grants |
/// | `tessera_consents` | `(user_id, client_id)` | consents; `client_id` → clients |
/// | `tessera_devices` | `device_hash` | device authorizations, the approved grant as JSON; `client_id` → clients |
/// | `tessera_barred_grants` | `grant_id` | grants barred by a replay of their code, with the code's `expires_at` (version 2; no foreign key: a bar may name a grant that was never stored) |
///
/// Every foreign key is `ON DELETE CASCADE`: deleting a client removes its codes, grants, the
/// grants' tokens (live and retired), consents and device authorizations in the same
/// statement; deleting a grant removes its tokens (a token reaches its client through its
/// grant). The keys also mean that a code, consent or device authorization for an unknown
/// client, or a token whose grant is gone, is refused with [`StoreError::Backend`]: a token
/// issued into a family revoked a moment before is not stored.
///
/// Indexes, each named with the queries it serves (primary keys serve every lookup by hash
/// or ID: `find_token`, `find_refresh`, `take_code`, `rotate_refresh`, `revoke_token`,
/// `poll_device`, `find_client`, the consent methods):
///
/// | index | columns | serves |
/// | --- | --- | --- |
/// | `tessera_grants_user_idx` | `(user_id, created_at DESC, id)` where `user_id` is set | `list_user_grants` (already in its order) |
/// | `tessera_grants_client_idx` | `(client_id, user_id)` | `revoke_user_grants`, the cascade from clients |
/// | `tessera_codes_expires_idx` | `(expires_at)` | `sweep_codes` |
/// | `tessera_codes_client_idx` | `(client_id)` | the cascade from clients |
/// | `tessera_tokens_grant_idx` | `(grant_id)` | `revoke_grant`, the cascade from grants, the empty-grant check of `sweep_tokens` and `revoke_token` |
/// | `tessera_tokens_expires_idx` | `(expires_at)` where set | `sweep_tokens` |
/// | `tessera_consents_client_idx` | `(client_id)` | the cascade from clients (`list_consents` uses the primary key's leading `user_id`) |
/// | `tessera_devices_user_code_idx` | `(user_code_hash)`, unique | `find_device_by_user_code`, `decide_device`, user-code uniqueness |
/// | `tessera_devices_expires_idx` | `(expires_at)` | `sweep_devices` |
/// | `tessera_devices_client_idx` | `(client_id)` | the cascade from clients |
/// | `tessera_barred_grants_expires_idx` | `(expires_at)` | `sweep_codes` |
///
/// # Atomicity
///
/// Transactions run at `READ COMMITTED`, with explicit row locks where a step reads before it
/// writes; every step that locks a grant and tokens locks the grant first, so concurrent
/// rotations and revocations of a family queue up instead of deadlocking.
///
/// - `take_code` is `UPDATE … SET spent = true WHERE hash = $1 AND NOT spent RETURNING …`: a
///   concurrent redemption waits for the row and re-checks `spent`, so exactly one wins; the
///   losers then read the spent row and report a replay, after inserting the grant's row in
///   `tessera_barred_grants` under the grant's transaction-scoped advisory lock.
/// - `issue_tokens` takes the same advisory lock first, then checks `tessera_barred_grants`
///   (a fresh `READ COMMITTED` snapshot) before inserting: a bar either committed before (and
///   nothing is stored) or waits for the issue to commit (and the replayer's `revoke_grant`
///   then finds the tokens).
/// - `rotate_refresh` locks the grant (`FOR KEY SHARE`), retires the old token with
///   `UPDATE … WHERE hash = $1 AND retired_at IS NULL`, and inserts the successors in the same
///   transaction; a loser's update waits for the winner, then matches nothing, and the loser
///   returns the winner's retired record, read after the winner committed.
/// - `revoke_grant` locks the grant `FOR UPDATE` (which waits for, and then blocks, every
///   rotation of the family), deletes its tokens, then the grant. `revoke_user_grants` and
///   `delete_client` are single cascading `DELETE`s.
/// - `poll_device` reads the record `FOR UPDATE` and writes it back in one transaction.
/// - `save_consent` is one `INSERT … ON CONFLICT DO UPDATE` that unions the scopes in SQL.
///
/// # Sweeping
///
/// `sweep_codes`, `sweep_tokens` and `sweep_devices` delete at most `limit` rows chosen through
/// the `expires_at` indexes (`ORDER BY expires_at LIMIT $n FOR UPDATE SKIP LOCKED`, so
/// concurrent sweepers share the work). `sweep_tokens` then removes the grants its batch left
/// with no token, and counts only tokens, so a batch never exceeds `limit`. `revoke_token`
/// also removes a grant whose last token it revoked, so no scan for empty grants is needed.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl fmt::Debug for PgStore {
    // The pool's options can hold a password: only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/database`). Does not
    /// migrate: call [`PgStore::migrate`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(unavailable)?;
        Self::connect_with(options).await
    }

    /// Connects a pool with explicit connection options (for example a `search_path`).
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Ok(Self::from_pool(pool))
    }

    /// Connects a pool to `url` whose connections use the schema `schema`, creating it if
    /// needed. `schema` must be 1 to 63 lower-case ASCII letters, digits and underscores, not
    /// starting with a digit. Does not migrate: call [`PgStore::migrate`].
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(StoreError::Unavailable(format!(
                "invalid schema name {schema:?}"
            )));
        }
        let options = PgConnectOptions::from_str(url).map_err(unavailable)?;
        let setup = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(unavailable)?;
        // The name is validated above: only [a-z0-9_], so quoting it is enough.
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&setup)
            .await;
        setup.close().await;
        match created {
            Ok(_) => {}
            // Two processes creating the schema at once: the loser sees a unique violation
            // on the catalog, and the schema exists.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
            Err(e) => return Err(db(e)),
        }
        Self::connect_with(options.options([("search_path", schema)])).await
    }

    /// Uses an existing pool. Does not migrate: call [`PgStore::migrate`].
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for the host's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or upgrades the schema to the version this build knows. Idempotent and safe to
    /// call from several processes at once: it runs in one transaction holding an advisory
    /// lock keyed on the current schema. Versions newer than this build's are left alone.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS tessera_schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )",
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let applied: Vec<i32> = sqlx::query_scalar("SELECT version FROM tessera_schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            // A plain string runs as a simple query: several statements at once.
            Executor::execute(&mut *tx, *sql).await.map_err(db)?;
            sqlx::query("INSERT INTO tessera_schema_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and decoding

fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => unavailable(error),
        _ => StoreError::backend(error),
    }
}

fn corrupt(what: &str, error: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(|e| corrupt(column, e))
}

fn hash_from(row: &PgRow, column: &str) -> Result<TokenHash, StoreError> {
    let bytes: Vec<u8> = get(row, column)?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{column}: not 32 bytes")))?;
    Ok(TokenHash::from_bytes(bytes))
}

fn client_id_from(row: &PgRow, column: &str) -> Result<ClientId, StoreError> {
    ClientId::new(get::<String>(row, column)?).map_err(|e| corrupt(column, e))
}

fn user_from(row: &PgRow, column: &str) -> Result<Option<UserId>, StoreError> {
    Ok(get::<Option<String>>(row, column)?.map(UserId::new))
}

/// Scopes are stored in their wire form. Decoded without [`ScopeSet::parse`]'s request limit:
/// a consent's union may exceed it.
fn scopes_from(row: &PgRow, column: &str) -> Result<ScopeSet, StoreError> {
    let text: String = get(row, column)?;
    ScopeSet::from_tokens(text.split(' ').filter(|t| !t.is_empty())).map_err(|e| corrupt(column, e))
}

fn grant_type_from(row: &PgRow, column: &str) -> Result<GrantType, StoreError> {
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

// ---------------------------------------------------------------------------------------------
// Row mappings

const GRANT_COLUMNS: &str = "id, client_id, user_id, scopes, grant_type, created_at";

fn grant_from(row: &PgRow) -> Result<Grant, StoreError> {
    Ok(Grant::new(
        GrantId::new(get::<String>(row, "id")?),
        client_id_from(row, "client_id")?,
        user_from(row, "user_id")?,
        scopes_from(row, "scopes")?,
        grant_type_from(row, "grant_type")?,
        get(row, "created_at")?,
    ))
}

const CODE_COLUMNS: &str = "hash, grant_id, client_id, user_id, scopes, grant_type, \
    grant_created_at, redirect_uri, pkce_challenge, pkce_method, expires_at";

fn code_from(row: &PgRow) -> Result<CodeRecord, StoreError> {
    let grant = Grant::new(
        GrantId::new(get::<String>(row, "grant_id")?),
        client_id_from(row, "client_id")?,
        user_from(row, "user_id")?,
        scopes_from(row, "scopes")?,
        grant_type_from(row, "grant_type")?,
        get(row, "grant_created_at")?,
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
    Ok(CodeRecord::new(
        hash_from(row, "hash")?,
        grant,
        get(row, "redirect_uri")?,
        pkce,
        get(row, "expires_at")?,
    ))
}

const TOKEN_COLUMNS: &str = "hash, token_type, grant_id, client_id, user_id, scopes, issued_at, \
    expires_at, family_expires_at, retired_at, sealed_successor";

fn token_from(row: &PgRow) -> Result<TokenRecord, StoreError> {
    let token_type = match get::<String>(row, "token_type")?.as_str() {
        "access" => TokenType::Access,
        "refresh" => TokenType::Refresh,
        other => return Err(corrupt("token_type", format!("unknown {other:?}"))),
    };
    Ok(TokenRecord {
        hash: hash_from(row, "hash")?,
        token_type,
        grant_id: GrantId::new(get::<String>(row, "grant_id")?),
        client_id: client_id_from(row, "client_id")?,
        user: user_from(row, "user_id")?,
        scopes: scopes_from(row, "scopes")?,
        issued_at: get(row, "issued_at")?,
        expires_at: get(row, "expires_at")?,
        family_expires_at: get(row, "family_expires_at")?,
    })
}

/// A token row as a refresh lookup: live, or retired with its successor.
fn refresh_from(row: &PgRow) -> Result<RefreshLookup, StoreError> {
    let record = token_from(row)?;
    Ok(match get::<Option<OffsetDateTime>>(row, "retired_at")? {
        None => RefreshLookup::Active(record),
        Some(retired_at) => RefreshLookup::Retired(RetiredRefresh {
            record,
            retired_at,
            sealed_successor: get(row, "sealed_successor")?,
        }),
    })
}

const CONSENT_COLUMNS: &str = "user_id, client_id, scopes, granted_at, last_used_at";

fn consent_from(row: &PgRow) -> Result<Consent, StoreError> {
    Ok(Consent {
        user: UserId::new(get::<String>(row, "user_id")?),
        client_id: client_id_from(row, "client_id")?,
        scopes: scopes_from(row, "scopes")?,
        granted_at: get(row, "granted_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

const DEVICE_COLUMNS: &str = "device_hash, user_code_hash, client_id, scopes, expires_at, \
    poll_interval, last_poll_at, status, approved_grant";

fn device_from(row: &PgRow) -> Result<DeviceRecord, StoreError> {
    let status = match get::<String>(row, "status")?.as_str() {
        "pending" => DeviceStatus::Pending,
        "denied" => DeviceStatus::Denied,
        "redeemed" => DeviceStatus::Redeemed,
        "approved" => match get::<Option<Json<Grant>>>(row, "approved_grant")? {
            Some(Json(grant)) => DeviceStatus::Approved { grant },
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
        expires_at: get(row, "expires_at")?,
        interval,
        last_poll_at: get(row, "last_poll_at")?,
        status,
    })
}

/// The `status` and `approved_grant` columns of a device status.
fn device_status_columns(status: &DeviceStatus) -> (&'static str, Option<Json<&Grant>>) {
    match status {
        DeviceStatus::Pending => ("pending", None),
        DeviceStatus::Approved { grant } => ("approved", Some(Json(grant))),
        DeviceStatus::Denied => ("denied", None),
        DeviceStatus::Redeemed => ("redeemed", None),
    }
}

async fn insert_token(
    tx: &mut Transaction<'_, Postgres>,
    token: &TokenRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tessera_tokens (hash, token_type, grant_id, client_id, user_id, scopes, \
         issued_at, expires_at, family_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(bytes(&token.hash))
    .bind(token_type_name(token.token_type))
    .bind(token.grant_id.as_str())
    .bind(token.client_id.as_str())
    .bind(token.user.as_ref().map(UserId::as_str))
    .bind(token.scopes.to_string())
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(token.family_expires_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The traits

#[async_trait]
impl ClientStore for PgStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO tessera_clients (id, record, created_at) VALUES ($1, $2, $3)")
            .bind(client.id.as_str())
            .bind(Json(client))
            .bind(client.created_at)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query("SELECT record FROM tessera_clients WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|row| get::<Json<Client>>(&row, "record").map(|Json(client)| client))
            .transpose()
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE tessera_clients SET record = $2, created_at = $3 WHERE id = $1")
                .bind(client.id.as_str())
                .bind(Json(client))
                .bind(client.created_at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        // One statement: the foreign keys cascade to codes, grants (and so tokens), consents
        // and device authorizations.
        let done = sqlx::query("DELETE FROM tessera_clients WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl CodeStore for PgStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<(), StoreError> {
        let grant = &code.grant;
        sqlx::query(
            "INSERT INTO tessera_codes (hash, grant_id, client_id, user_id, scopes, grant_type, \
             grant_created_at, redirect_uri, pkce_challenge, pkce_method, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(bytes(&code.hash))
        .bind(grant.id.as_str())
        .bind(grant.client_id.as_str())
        .bind(grant.user.as_ref().map(UserId::as_str))
        .bind(grant.scopes.to_string())
        .bind(grant.grant_type.as_str())
        .bind(grant.created_at)
        .bind(code.redirect_uri.as_deref())
        .bind(code.pkce.as_ref().map(|p| p.challenge.as_str()))
        .bind(code.pkce.as_ref().map(|p| p.method.as_str()))
        .bind(code.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn take_code(&self, hash: &TokenHash) -> Result<CodeRedemption, StoreError> {
        // A concurrent caller's UPDATE waits on the row lock, then re-checks `NOT spent` on the
        // committed row and matches nothing: exactly one caller gets the record.
        let taken = sqlx::query(&format!(
            "UPDATE tessera_codes SET spent = true WHERE hash = $1 AND NOT spent \
             RETURNING {CODE_COLUMNS}"
        ))
        .bind(bytes(hash))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(row) = taken {
            return Ok(CodeRedemption::Redeemed(code_from(&row)?));
        }
        let spent: Option<(String, OffsetDateTime)> =
            sqlx::query_as("SELECT grant_id, expires_at FROM tessera_codes WHERE hash = $1")
                .bind(bytes(hash))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        let Some((grant, expires_at)) = spent else {
            return Ok(CodeRedemption::Unknown);
        };
        // A replay: bar the grant under its lock. An `issue_tokens` holding the lock commits
        // first (and the caller's `revoke_grant` then finds its tokens); one that comes later
        // sees the bar and stores nothing.
        let mut tx = self.pool.begin().await.map_err(db)?;
        lock_grant(&mut tx, &grant).await?;
        sqlx::query(
            "INSERT INTO tessera_barred_grants (grant_id, expires_at) VALUES ($1, $2) \
             ON CONFLICT (grant_id) DO UPDATE \
             SET expires_at = greatest(tessera_barred_grants.expires_at, excluded.expires_at)",
        )
        .bind(&grant)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(CodeRedemption::Replayed(GrantId::new(grant)))
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM tessera_codes WHERE hash IN (SELECT hash FROM tessera_codes \
             WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(limit_of(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        sqlx::query(
            "DELETE FROM tessera_barred_grants WHERE grant_id IN (SELECT grant_id \
             FROM tessera_barred_grants WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 \
             FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(limit_of(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn issue_tokens(&self, grant: &Grant, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Under the grant's lock, a bar is either committed (and seen by this statement's fresh
        // snapshot: READ COMMITTED) or waits for this transaction to commit.
        lock_grant(&mut tx, grant.id.as_str()).await?;
        let barred: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM tessera_barred_grants WHERE grant_id = $1")
                .bind(grant.id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if barred.is_some() {
            return Err(StoreError::GrantRevoked);
        }
        sqlx::query(&format!(
            "INSERT INTO tessera_grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO NOTHING"
        ))
        .bind(grant.id.as_str())
        .bind(grant.client_id.as_str())
        .bind(grant.user.as_ref().map(UserId::as_str))
        .bind(grant.scopes.to_string())
        .bind(grant.grant_type.as_str())
        .bind(grant.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for token in tokens {
            insert_token(&mut tx, token).await?;
        }
        tx.commit().await.map_err(db)
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tessera_tokens WHERE hash = $1 AND retired_at IS NULL"
        ))
        .bind(bytes(hash))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|row| token_from(&row).map(Arc::new)).transpose()
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tessera_tokens WHERE hash = $1 AND token_type = 'refresh'"
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let grant: Option<String> =
            sqlx::query_scalar("SELECT grant_id FROM tessera_tokens WHERE hash = $1")
                .bind(bytes(old))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let Some(grant) = grant else {
            return Ok(Rotation::Unknown);
        };
        // Grant before token, as every step locks: a concurrent revocation of the family
        // either finishes first (and the update below finds nothing) or waits for this one.
        let family = sqlx::query("SELECT 1 FROM tessera_grants WHERE id = $1 FOR KEY SHARE")
            .bind(&grant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if family.is_none() {
            // Revoked since the read above: its tokens went with it.
            return Ok(Rotation::Unknown);
        }
        let retired = sqlx::query(
            "UPDATE tessera_tokens SET retired_at = $2, sealed_successor = $3 \
             WHERE hash = $1 AND retired_at IS NULL AND token_type = 'refresh'",
        )
        .bind(bytes(old))
        .bind(now)
        .bind(sealed_successor)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if retired.rows_affected() == 1 {
            for token in new {
                insert_token(&mut tx, token).await?;
            }
            tx.commit().await.map_err(db)?;
            return Ok(Rotation::Rotated);
        }
        // Lost the race, or not a live refresh token. This statement sees every commit made
        // before it, so the winner's retired record.
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tessera_tokens WHERE hash = $1 AND token_type = 'refresh'"
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
        let mut tx = self.pool.begin().await.map_err(db)?;
        let grant: Option<String> = sqlx::query_scalar(
            "SELECT grant_id FROM tessera_tokens WHERE hash = $1 AND retired_at IS NULL",
        )
        .bind(bytes(hash))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(grant) = grant else {
            return Ok(false);
        };
        let family = sqlx::query("SELECT 1 FROM tessera_grants WHERE id = $1 FOR UPDATE")
            .bind(&grant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if family.is_none() {
            // Revoked since the read above: the token went with its grant.
            return Ok(false);
        }
        let removed =
            sqlx::query("DELETE FROM tessera_tokens WHERE hash = $1 AND retired_at IS NULL")
                .bind(bytes(hash))
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        // The grant is locked: no token can join it before this transaction ends.
        sqlx::query(
            "DELETE FROM tessera_grants g WHERE g.id = $1 \
             AND NOT EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id)",
        )
        .bind(&grant)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(removed > 0)
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Waits for rotations in flight, then keeps new tokens out until the grant is gone.
        // Without a grant row there is no token (each token's foreign key needs one), and the
        // lock must come first: deleting tokens before holding it could deadlock.
        let family = sqlx::query("SELECT 1 FROM tessera_grants WHERE id = $1 FOR UPDATE")
            .bind(grant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if family.is_none() {
            return Ok(0);
        }
        let tokens = sqlx::query("DELETE FROM tessera_tokens WHERE grant_id = $1")
            .bind(grant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        sqlx::query("DELETE FROM tessera_grants WHERE id = $1")
            .bind(grant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(tokens)
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        // One statement; the tokens go by cascade.
        let done = sqlx::query("DELETE FROM tessera_grants WHERE client_id = $2 AND user_id = $1")
            .bind(user.as_str())
            .bind(client.as_str())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_user_grants(&self, user: &UserId) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM tessera_grants WHERE user_id = $1 \
             ORDER BY created_at DESC, id"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(grant_from).collect()
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let grants: Vec<String> = sqlx::query_scalar(
            "DELETE FROM tessera_tokens WHERE hash IN (SELECT hash FROM tessera_tokens \
             WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING grant_id",
        )
        .bind(now)
        .bind(limit_of(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let removed = grants.len() as u64;
        let mut grants = grants;
        grants.sort_unstable();
        grants.dedup();
        if !grants.is_empty() {
            // A second transaction, holding no token lock: lock the grants (in one order, so
            // sweepers cannot deadlock each other), then drop those left empty.
            let mut tx = self.pool.begin().await.map_err(db)?;
            sqlx::query("SELECT 1 FROM tessera_grants WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&grants)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query(
                "DELETE FROM tessera_grants g WHERE g.id = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id)",
            )
            .bind(&grants)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
        }
        Ok(removed)
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONSENT_COLUMNS} FROM tessera_consents WHERE user_id = $1 AND client_id = $2"
        ))
        .bind(user.as_str())
        .bind(client.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(consent_from).transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        // The union of the stored and the new scopes, computed under the row lock the upsert
        // holds, kept sorted in byte order like a `ScopeSet`.
        sqlx::query(&format!(
            "INSERT INTO tessera_consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET \
             scopes = array_to_string(ARRAY(\
                SELECT s COLLATE \"C\" FROM unnest(string_to_array(\
                    tessera_consents.scopes || ' ' || EXCLUDED.scopes, ' ')) AS s \
                WHERE s <> '' GROUP BY 1 ORDER BY 1), ' '), \
             last_used_at = EXCLUDED.last_used_at"
        ))
        .bind(consent.user.as_str())
        .bind(consent.client_id.as_str())
        .bind(consent.scopes.to_string())
        .bind(consent.granted_at)
        .bind(consent.last_used_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tessera_consents SET last_used_at = $3 WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user.as_str())
        .bind(client.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CONSENT_COLUMNS} FROM tessera_consents WHERE user_id = $1"
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(consent_from).collect()
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM tessera_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user.as_str())
                .bind(client.as_str())
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        let (status, grant) = device_status_columns(&record.status);
        sqlx::query(&format!(
            "INSERT INTO tessera_devices ({DEVICE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(bytes(&record.device_hash))
        .bind(bytes(&record.user_code_hash))
        .bind(record.client_id.as_str())
        .bind(record.scopes.to_string())
        .bind(record.expires_at)
        .bind(i64::from(record.interval))
        .bind(record.last_poll_at)
        .bind(status)
        .bind(grant)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM tessera_devices WHERE user_code_hash = $1"
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
        let (status, grant) = device_status_columns(&status);
        let done = sqlx::query(
            "UPDATE tessera_devices SET status = $2, approved_grant = $3 \
             WHERE user_code_hash = $1 AND status = 'pending'",
        )
        .bind(bytes(user_code))
        .bind(status)
        .bind(grant)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM tessera_devices WHERE device_hash = $1 FOR UPDATE"
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
        } else if matches!(after.status, DeviceStatus::Approved { .. }) {
            after.status = DeviceStatus::Redeemed;
        }
        let (status, grant) = device_status_columns(&after.status);
        sqlx::query(
            "UPDATE tessera_devices SET last_poll_at = $2, poll_interval = $3, status = $4, \
             approved_grant = $5 WHERE device_hash = $1",
        )
        .bind(bytes(device))
        .bind(now)
        .bind(i64::from(after.interval))
        .bind(status)
        .bind(grant)
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

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM tessera_devices WHERE device_hash IN (SELECT device_hash \
             FROM tessera_devices WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 \
             FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(limit_of(limit))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}
