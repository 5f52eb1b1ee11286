//! The PostgreSQL backend: every store trait on one database (see [`PgStore`]).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::types::Json;
use sqlx::{Connection, Executor, FromRow, Postgres, Row, Transaction};
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
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "barred_grants",
        include_str!("migrations/0002_barred_grants.sql"),
    ),
    (
        3,
        "tombstones",
        include_str!("migrations/0003_tombstones.sql"),
    ),
    (
        4,
        "extensions",
        include_str!("migrations/0004_extensions.sql"),
    ),
    (
        5,
        "replay_keys",
        include_str!("migrations/0005_replay_keys.sql"),
    ),
    (
        7,
        "unused_clients",
        include_str!("migrations/0007_unused_clients.sql"),
    ),
];

/// The first key of the advisory lock `migrate` holds; the second is the schema's hash.
const MIGRATION_LOCK: i32 = 0x7e55_e7a0;

/// The most rows one statement removes when a deletion, revocation or sweep reaps.
const BATCH: usize = 1000;

/// How long [`PgStore::connect`] waits for the server to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a pooled connection (sqlx's default is 30 s).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The start of an `Unavailable` cause for a transaction the server rolled back (a deadlock
/// or serialization failure): it committed nothing, so the operation may run again.
const ROLLED_BACK: &str = "PostgreSQL rolled the transaction back: ";

/// How often an operation the server rolled back is run again before its error is returned.
const ROLLBACK_RETRIES: usize = 3;

/// How long one store operation may take by default before it is given up as
/// [`StoreError::Unavailable`]: a paused or partitioned server never answers, and sqlx has no
/// read timeout of its own.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

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
/// at compile time. [`PgStore::migrate`] applies the embedded, versioned schema inside one
/// transaction under a transaction-scoped advisory lock, so several processes may call it at
/// start-up at once. The applied versions are recorded in `tessera_schema_migrations`.
///
/// [`PgStore::connect`] fails fast, naming the cause: a URL whose scheme is not `postgres` or
/// `postgresql` is refused before any connection, and one connection is tried first, within
/// 5 seconds, so that a refused port or a wrong password is reported as such instead of the
/// pool's "timed out" 30 seconds later. Requests then wait at most 10 seconds for a pooled
/// connection. Connection failures, pool timeouts, a server shutting down, starting or out of
/// connections, and a serialization failure or deadlock the server rolled back are
/// [`StoreError::Unavailable`] (the provider answers them 503 `temporarily_unavailable`);
/// anything else is [`StoreError::Backend`].
///
/// Through PgBouncer in transaction mode (or another transaction pooler), set
/// [`PgStore::with_transaction_pooling`].
///
/// # Schema
///
/// All tables live in the connection's current schema (the first of `search_path`); use
/// [`PgStore::connect_in_schema`] to give tessera a schema of its own. Codes, tokens and device
/// and user codes are stored only as their [`crate::TokenHash`] (a SHA-256; `bytea`, 32 bytes,
/// checked); a client secret only as its encoded [`crate::SecretHash`] inside the client
/// record. No column ever holds a secret. Times are `timestamptz`, identifiers
/// `text COLLATE "C"` (byte order, as in Rust).
///
/// | table | key | holds |
/// | --- | --- | --- |
/// | `tessera_clients` | `id` | the [`Client`] record as JSON (`record`); `deleted_at` marks a client being deleted; `unused_until` the record's [`Client::unused_until`], for the sweep |
/// | `tessera_grants` | `id` | one grant per token family, stored when the authorization is given; `revoked_at` is the tombstone; `client_id` → clients |
/// | `tessera_codes` | `hash` | authorization codes with a copy of their grant and a `spent` flag; `grant_id` → grants, `client_id` → clients |
/// | `tessera_tokens` | `hash` | access and refresh tokens; `retired_at` is `NULL` while live and set when rotation retires a refresh token (with its `sealed_successor`); `grant_id` → grants |
/// | `tessera_consents` | `(user_id, client_id)` | consents; `client_id` → clients |
/// | `tessera_devices` | `device_hash` | device authorizations, the approved grant as JSON (`approved_grant`, while approved) and its ID (`grant_id`, kept after redemption); `grant_id` → grants, `client_id` → clients |
/// | `tessera_replay_keys` | `key` | one-time values seen ([`ReplayStore`]: DPoP proof `jti`s), a [`ReplayKey`] and its `expires_at`; `remember` is one `INSERT .. ON CONFLICT DO UPDATE .. WHERE expired` |
///
/// Every foreign key is `ON DELETE CASCADE`, but nothing relies on a cascade to do work that
/// grows with the data: rows are reaped in batches first (see *Atomicity*), and the cascades
/// only catch a row a racing transaction inserted meanwhile.
///
/// Indexes, each named with the queries it serves (primary keys serve every lookup by hash
/// or ID: `find_token`, `find_refresh`, `find_code`, `redeem_code`, `rotate_refresh`,
/// `revoke_token`, `poll_device`, `redeem_device`, `find_client`, the consent methods):
///
/// | index | columns | serves |
/// | --- | --- | --- |
/// | `tessera_clients_deleted_idx` | `(deleted_at)` where set | `sweep_tokens` (deletions left to finish) |
/// | `tessera_clients_unused_idx` | `(unused_until)` where set | `sweep_clients` |
/// | `tessera_grants_client_idx` | `(client_id, user_id)` | `revoke_user_grants`, reaping a deleted client |
/// | `tessera_grants_revoked_idx` | `(revoked_at)` where set | `sweep_tokens` (revocations left to finish) |
/// | `tessera_codes_expires_idx` | `(expires_at)` | `sweep_codes` |
/// | `tessera_codes_client_idx` | `(client_id)` | the cascade from clients |
/// | `tessera_codes_grant_idx` | `(grant_id)` | whether a grant is left with nothing |
/// | `tessera_tokens_grant_idx` | `(grant_id)` | `revoke_grant`, reaping, whether a grant is left with nothing |
/// | `tessera_tokens_expires_idx` | `(expires_at)` where set | `sweep_tokens` |
/// | `tessera_consents_client_idx` | `(client_id)` | reaping a deleted client (`list_consents` uses the primary key's leading `user_id`) |
/// | `tessera_devices_user_code_idx` | `(user_code_hash)`, unique | `find_device_by_user_code`, `decide_device`, user-code uniqueness |
/// | `tessera_replay_keys_expires_idx` | `(expires_at)` | `sweep_replays` |
/// | `tessera_devices_expires_idx` | `(expires_at)` | `sweep_devices` |
/// | `tessera_devices_client_idx` | `(client_id)` | reaping a deleted client |
/// | `tessera_devices_grant_idx` | `(grant_id)` where set | whether a grant is left with nothing |
///
/// # Atomicity
///
/// Transactions run at `READ COMMITTED`, with explicit row locks where a step reads before it
/// writes. Every step that stores tokens into a grant holds the grant's row `FOR SHARE`, and
/// every step that revokes or forgets a grant updates or locks it `FOR UPDATE`, so the two
/// queue up on the grant's row; locks are taken code or device first, then grant.
///
/// - Lookups (`find_token`, `find_refresh`) join the token to its grant and client and return
///   nothing if the grant is revoked or the client marked deleted: one indexed statement.
/// - `insert_code` and `decide_device` insert the grant with the code or approval in one
///   transaction; `issue_tokens` inserts a new grant with its tokens, or locks the existing
///   grant `FOR SHARE` and checks it is active. The client is checked in the same transaction;
///   a client marked meanwhile by a concurrent delete still gets these rows reaped (its final
///   `DELETE` cascades to whatever a racing transaction added).
/// - `redeem_code` locks the code `FOR UPDATE` (concurrent redemptions queue on it, so one
///   wins), checks the grant under `FOR SHARE`, marks the code spent and inserts the tokens,
///   all in one transaction; a spent code marks its grant revoked in the same transaction.
///   `redeem_device` works the same way on the device row.
/// - `rotate_refresh` locks the grant `FOR SHARE`, retires the old token with
///   `UPDATE … WHERE hash = $1 AND retired_at IS NULL`, and inserts the successors; a loser's
///   update waits for the winner, then matches nothing, and returns the winner's retired
///   record.
/// - `revoke_grant` sets `revoked_at` in one statement (the tombstone, waiting for issuers
///   holding the row), then deletes the tokens in batches of 1000 and forgets the grant if no
///   code or device names it. `revoke_user_grants` marks the grants 1000 at a time
///   (`FOR UPDATE`, in ID order), then reaps each.
/// - `delete_client` sets `deleted_at` in one statement, then reaps in batches of at most 1000
///   rows per statement (tokens, then grants left empty with their codes and devices, then
///   the client's other devices and consents), and finally deletes the client's row.
/// - `save_consent` is one `INSERT … ON CONFLICT DO UPDATE` that unions the scopes in SQL.
///
/// # Sweeping
///
/// `sweep_codes`, `sweep_tokens` and `sweep_devices` delete at most `limit` rows, in statements
/// of at most 1000 chosen through the `expires_at` indexes (`ORDER BY expires_at LIMIT $n FOR
/// UPDATE SKIP LOCKED`, so concurrent sweepers share the work). Each then forgets the grants
/// its batch left with no token, code or device (locking them first, in ID order). Retired
/// refresh tokens are swept by their own `expires_at`, never earlier. `sweep_tokens` also
/// finishes revocations and deletions that were interrupted.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    operation_timeout: Duration,
    /// Whether a transaction pooler (PgBouncer in `pool_mode = transaction`) stands between
    /// the pool and the server: see [`PgStore::with_transaction_pooling`].
    transaction_pooling: bool,
}

/// The connection one step of a store operation runs its statements on: a connection from
/// the pool, or a transaction. Statements are built through it ([`Session::query`] and its
/// siblings) so that they are prepared as the server link allows.
struct Session {
    link: Link,
    /// Whether statements are prepared once per connection and kept (sqlx's named,
    /// cached statements) or prepared unnamed for each run.
    persistent: bool,
}

enum Link {
    Connection(PoolConnection<Postgres>),
    Transaction(Transaction<'static, Postgres>),
}

impl Deref for Session {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match &self.link {
            Link::Connection(connection) => connection,
            Link::Transaction(transaction) => transaction,
        }
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match &mut self.link {
            Link::Connection(connection) => connection,
            Link::Transaction(transaction) => transaction,
        }
    }
}

impl Session {
    fn query<'q>(&self, sql: &'q str) -> Query<'q, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.persistent)
    }

    fn query_scalar<'q, O>(&self, sql: &'q str) -> QueryScalar<'q, Postgres, O, PgArguments>
    where
        (O,): for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_scalar(sql).persistent(self.persistent)
    }

    fn query_as<'q, O>(&self, sql: &'q str) -> QueryAs<'q, Postgres, O, PgArguments>
    where
        O: for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_as(sql).persistent(self.persistent)
    }

    /// Ends the step: commits its transaction, or returns the connection to the pool.
    async fn commit(self) -> Result<(), StoreError> {
        match self.link {
            Link::Connection(_) => Ok(()),
            Link::Transaction(transaction) => transaction.commit().await.map_err(db),
        }
    }

    /// Rolls the step's transaction back (a connection from the pool has nothing to undo).
    async fn rollback(self) -> Result<(), StoreError> {
        match self.link {
            Link::Connection(_) => Ok(()),
            Link::Transaction(transaction) => transaction.rollback().await.map_err(db),
        }
    }
}

impl fmt::Debug for PgStore {
    // The pool's options can hold a password: only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("operation_timeout", &self.operation_timeout)
            .field("transaction_pooling", &self.transaction_pooling)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects a pool to `url` (`postgres://user:password@host:port/database`). Does not
    /// migrate: call [`PgStore::migrate`].
    ///
    /// Fails at once with [`StoreError::Backend`] for a URL that is not a PostgreSQL URL, and
    /// within 5 seconds with [`StoreError::Unavailable`] (naming the cause) when the server
    /// cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(parse_url(url)?).await
    }

    /// Connects a pool with explicit connection options (for example a `search_path`),
    /// trying one connection first as [`PgStore::connect`] does.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        probe(&options).await?;
        let pool = PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
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
            return Err(invalid_input(format!("invalid schema name {schema:?}")));
        }
        let options = parse_url(url)?;
        probe(&options).await?;
        let setup = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
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
        Self {
            pool,
            operation_timeout: OPERATION_TIMEOUT,
            transaction_pooling: false,
        }
    }

    /// Whether the store talks to PostgreSQL through a transaction pooler, such as PgBouncer
    /// with `pool_mode = transaction`, which may hand each transaction, and each statement
    /// outside one, to a different server connection. Off unless set; set it for such a
    /// pooler and only for one: it costs round trips.
    ///
    /// When set, no statement is prepared as a named, cached statement (a server connection
    /// that did not prepare it would not know it), and every statement runs inside an
    /// explicit transaction, even one that runs alone: sqlx prepares an unnamed statement
    /// and runs it in two exchanges, which a pooler may otherwise send to two different
    /// server connections. A lone statement then takes three more round trips (`BEGIN`, its
    /// own prepare, `COMMIT`): counted with `strace`, a token lookup makes 6 socket writes
    /// instead of 3, issuing tokens 10 instead of 7.
    /// [`PgStore::migrate`] runs through the pooler too (one transaction, a
    /// transaction-scoped advisory lock: no session state).
    ///
    /// Schema and startup parameters are the pooler's to set, not the connection's: PgBouncer
    /// forwards no `options` startup parameter, so [`PgStore::connect_in_schema`] cannot
    /// work through it; give the role a `search_path` instead (`ALTER ROLE tessera SET
    /// search_path = tessera`), or set one in the pooler's database entry. sqlx sends
    /// `extra_float_digits`, which PgBouncer refuses unless told to ignore it
    /// (`ignore_startup_parameters = extra_float_digits`), or connect with
    /// `PgConnectOptions::extra_float_digits(None)` through [`PgStore::connect_with`].
    /// README's *Running in production* section shows a PgBouncer configuration.
    pub fn with_transaction_pooling(mut self, enabled: bool) -> Self {
        self.transaction_pooling = enabled;
        self
    }

    /// A connection for statements that each stand alone (each is its own implicit
    /// transaction on a direct connection); through a transaction pooler, a transaction.
    async fn session(&self) -> Result<Session, StoreError> {
        if self.transaction_pooling {
            return self.transaction().await;
        }
        let connection = self.pool.acquire().await.map_err(db)?;
        Ok(Session {
            link: Link::Connection(connection),
            persistent: true,
        })
    }

    /// The row, if any, that the statement `sql` (its parameters bound by `bind`) returns, in
    /// a [`session`](Self::session) of its own.
    async fn fetch_optional<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments> + Send,
    ) -> Result<Option<PgRow>, StoreError> {
        let mut conn = self.session().await?;
        let row = bind(conn.query(sql))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        conn.commit().await?;
        Ok(row)
    }

    /// Runs the statement `sql` (its parameters bound by `bind`) in a
    /// [`session`](Self::session) of its own; returns how many rows it affected.
    async fn execute<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments> + Send,
    ) -> Result<u64, StoreError> {
        let mut conn = self.session().await?;
        let done = bind(conn.query(sql))
            .execute(&mut *conn)
            .await
            .map_err(db)?
            .rows_affected();
        conn.commit().await?;
        Ok(done)
    }

    /// A transaction, committed by [`Session::commit`] and rolled back if dropped.
    async fn transaction(&self) -> Result<Session, StoreError> {
        let transaction = self.pool.begin().await.map_err(db)?;
        Ok(Session {
            link: Link::Transaction(transaction),
            persistent: !self.transaction_pooling,
        })
    }

    /// Bounds every store operation (a connection from the pool and all its statements) to
    /// `timeout`, 5 seconds unless set. An operation still waiting then is dropped, its
    /// transaction rolled back by the server, and answered [`StoreError::Unavailable`] (503
    /// `temporarily_unavailable` at the endpoints): a paused or partitioned server would
    /// otherwise hold requests for as long as TCP keeps the connection.
    ///
    /// A timeout cannot tell whether a `COMMIT` already sent was applied: keep it well above
    /// the slowest healthy operation (sweeps delete at most 1000 rows per statement).
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Runs one store operation within the operation timeout, running it again (at most
    /// [`ROLLBACK_RETRIES`] times, within the same timeout) when the server rolled a statement
    /// back for a deadlock or a serialization failure: that transaction committed nothing, and
    /// every operation here is safe to run again from its start (a one-transaction step, or
    /// idempotent steps: a mark set once, deletions of what is left; such an operation may then
    /// report that a concurrent attempt's first step already did the work). Concurrent
    /// rotations and revocations of one family then all succeed instead of answering 503.
    async fn bounded<T, F, Fut>(&self, mut operation: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, StoreError>> + Send,
    {
        let attempts = async {
            let mut retries = 0;
            loop {
                match operation().await {
                    Err(StoreError::Unavailable(cause))
                        if cause.starts_with(ROLLED_BACK) && retries < ROLLBACK_RETRIES =>
                    {
                        retries += 1;
                    }
                    done => return done,
                }
            }
        };
        match tokio::time::timeout(self.operation_timeout, attempts).await {
            Ok(done) => done,
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not answer within {} ms",
                self.operation_timeout.as_millis()
            ))),
        }
    }

    /// The pool, for the host's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or upgrades the schema to the version this build knows. Idempotent and safe to
    /// call from several processes at once: it runs in one transaction holding an advisory
    /// lock keyed on the current schema. Versions newer than this build's are left alone.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.transaction().await?;
        tx.query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.query(
            "CREATE TABLE IF NOT EXISTS tessera_schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )",
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let applied: Vec<i32> = tx
            .query_scalar("SELECT version FROM tessera_schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            // A plain string runs as a simple query: several statements at once.
            Executor::execute(&mut *tx, *sql).await.map_err(db)?;
            tx.query("INSERT INTO tessera_schema_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await
    }
}

/// Checks the scheme, then parses. Messages name the scheme only, never the rest of the URL
/// (it may hold a password).
fn parse_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some("postgres" | "postgresql") => {}
        Some(other)
            if !other.is_empty()
                && other.len() <= 32
                && other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            return Err(invalid_input(format!(
                "unsupported URL scheme `{other}`: a PostgreSQL URL starts with postgres:// or \
                 postgresql://"
            )));
        }
        _ => {
            return Err(invalid_input(
                "not a PostgreSQL URL: expected postgres://user@host/database",
            ));
        }
    }
    PgConnectOptions::from_str(url)
        .map_err(|e| invalid_input(format!("invalid PostgreSQL URL: {e}")))
}

/// One connection, within [`CONNECT_TIMEOUT`]: the pool would retry a refused connection
/// until its own timeout and then report only that it timed out.
async fn probe(options: &PgConnectOptions) -> Result<(), StoreError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => {
            // Only a probe: a failure to close it politely changes nothing.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(match db(error) {
            StoreError::Unavailable(cause) => {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {cause}"))
            }
            other => other,
        }),
        Err(_) => Err(StoreError::Unavailable(format!(
            "cannot connect to PostgreSQL: no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and decoding

fn invalid_input(message: impl Into<String>) -> StoreError {
    StoreError::backend(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        message.into(),
    ))
}

/// Connection failures, pool timeouts and a server going away or out of connections are
/// `Unavailable`; a unique violation is `Conflict`; anything else `Backend`.
fn db(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict,
        // Rolled back by the server, so nothing was committed: `bounded` tries it again.
        sqlx::Error::Database(e)
            if e.code()
                .is_some_and(|code| matches!(&*code, "40001" | "40P01")) =>
        {
            StoreError::Unavailable(format!("{ROLLED_BACK}{error}"))
        }
        sqlx::Error::Database(e) if e.code().is_some_and(|code| is_transient_sqlstate(&code)) => {
            StoreError::Unavailable(error.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::backend(error),
    }
}

/// SQLSTATEs of a server that cannot serve now but may soon: connection exceptions (class
/// `08`), too many connections (`53300`), an administrator's or a crash's shutdown, or a
/// server still starting (`57P01` to `57P03`), and a serialization failure or deadlock the
/// server rolled back (`40001`, `40P01`: nothing was committed).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "53300" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
        )
}

/// A foreign key violation: the client (or grant) a row names was deleted meanwhile.
fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_foreign_key_violation())
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

const GRANT_COLUMNS: &str = "id, client_id, user_id, scopes, grant_type, created_at, ext";

const CODE_COLUMNS: &str = "hash, grant_id, client_id, user_id, scopes, grant_type, \
    grant_created_at, redirect_uri, pkce_challenge, pkce_method, expires_at, ext";

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
    let Json(mut ext) = get::<Json<StoredCodeExt>>(row, "ext")?;
    let grant = ext.apply_grant(grant);
    let code = CodeRecord::new(
        hash_from(row, "hash")?,
        grant,
        get(row, "redirect_uri")?,
        pkce,
        get(row, "expires_at")?,
    );
    Ok(ext.apply(code))
}

const TOKEN_COLUMNS: &str = "hash, token_type, grant_id, client_id, user_id, scopes, issued_at, \
    expires_at, family_expires_at, retired_at, sealed_successor, ext";

fn token_from(row: &PgRow) -> Result<TokenRecord, StoreError> {
    let token_type = match get::<String>(row, "token_type")?.as_str() {
        "access" => TokenType::Access,
        "refresh" => TokenType::Refresh,
        other => return Err(corrupt("token_type", format!("unknown {other:?}"))),
    };
    let Json(ext) = get::<Json<StoredTokenExt>>(row, "ext")?;
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
        audience: ext.audience,
        confirmation: ext.confirmation,
        claims: ext.claims,
        authentication: ext.authentication,
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

/// [`TOKEN_COLUMNS`] of the token table under the alias `t`.
const T_TOKEN_COLUMNS: &str = "t.hash, t.token_type, t.grant_id, t.client_id, t.user_id, \
    t.scopes, t.issued_at, t.expires_at, t.family_expires_at, t.retired_at, t.sealed_successor, \
    t.ext";

/// A token row joined to its grant and client, kept only if the grant is active and the
/// client not deleted: the condition every lookup applies.
const LIVE_FAMILY: &str = "tessera_tokens t JOIN tessera_grants g ON g.id = t.grant_id \
    JOIN tessera_clients c ON c.id = g.client_id \
    WHERE g.revoked_at IS NULL AND c.deleted_at IS NULL";

/// Inserts tokens in one statement.
async fn insert_tokens(tx: &mut Session, tokens: &[TokenRecord]) -> Result<(), StoreError> {
    if tokens.is_empty() {
        return Ok(());
    }
    let hashes: Vec<Vec<u8>> = tokens.iter().map(|t| bytes(&t.hash).to_vec()).collect();
    let types: Vec<&str> = tokens
        .iter()
        .map(|t| token_type_name(t.token_type))
        .collect();
    let grants: Vec<&str> = tokens.iter().map(|t| t.grant_id.as_str()).collect();
    let clients: Vec<&str> = tokens.iter().map(|t| t.client_id.as_str()).collect();
    let users: Vec<Option<&str>> = tokens
        .iter()
        .map(|t| t.user.as_ref().map(UserId::as_str))
        .collect();
    let scopes: Vec<String> = tokens.iter().map(|t| t.scopes.to_string()).collect();
    let issued: Vec<OffsetDateTime> = tokens.iter().map(|t| t.issued_at).collect();
    let expires: Vec<Option<OffsetDateTime>> = tokens.iter().map(|t| t.expires_at).collect();
    let family: Vec<Option<OffsetDateTime>> = tokens.iter().map(|t| t.family_expires_at).collect();
    let ext: Vec<Json<TokenExt>> = tokens.iter().map(|t| Json(TokenExt::of(t))).collect();
    tx.query(
        "INSERT INTO tessera_tokens (hash, token_type, grant_id, client_id, user_id, scopes, \
         issued_at, expires_at, family_expires_at, ext) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::jsonb[])",
    )
    .bind(hashes)
    .bind(types)
    .bind(grants)
    .bind(clients)
    .bind(users)
    .bind(scopes)
    .bind(issued)
    .bind(expires)
    .bind(family)
    .bind(ext)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Inserts a grant, active.
async fn insert_grant(tx: &mut Session, grant: &Grant) -> Result<(), sqlx::Error> {
    tx.query(&format!(
        "INSERT INTO tessera_grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(grant.id.as_str())
    .bind(grant.client_id.as_str())
    .bind(grant.user.as_ref().map(UserId::as_str))
    .bind(grant.scopes.to_string())
    .bind(grant.grant_type.as_str())
    .bind(grant.created_at)
    .bind(Json(GrantExt::of(grant)))
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// Whether the client exists and is not being deleted (a plain read: see *Atomicity*).
async fn client_present(tx: &mut Session, client: &ClientId) -> Result<bool, StoreError> {
    let found: Option<i32> = tx
        .query_scalar("SELECT 1 FROM tessera_clients WHERE id = $1 AND deleted_at IS NULL")
        .bind(client.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(found.is_some())
}

/// The state of a grant, its row locked `FOR SHARE` so that no revocation or forgetting can
/// pass the caller's insertions: `None` if unknown, else (active, client present).
async fn lock_grant_shared(
    tx: &mut Session,
    grant: &str,
) -> Result<Option<(bool, bool)>, StoreError> {
    tx.query_as(
        "SELECT g.revoked_at IS NULL, c.deleted_at IS NULL FROM tessera_grants g \
         JOIN tessera_clients c ON c.id = g.client_id WHERE g.id = $1 FOR SHARE OF g",
    )
    .bind(grant)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)
}

impl PgStore {
    /// Deletes up to [`BATCH`] tokens of a grant at a time until none is left; returns how
    /// many went.
    async fn reap_grant(&self, grant: &str) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let batch = self
                .execute(
                    "DELETE FROM tessera_tokens WHERE hash IN \
                 (SELECT hash FROM tessera_tokens WHERE grant_id = $1 LIMIT $2)",
                    |q| q.bind(grant).bind(limit_of(BATCH)),
                )
                .await?;
            removed += batch;
            if batch < BATCH as u64 {
                return Ok(removed);
            }
        }
    }

    /// Marks a grant revoked (the tombstone), then reaps its tokens and forgets it if nothing
    /// names it any more; returns how many tokens went.
    async fn revoke_and_reap(&self, grant: &str) -> Result<u64, StoreError> {
        self.execute(
            "UPDATE tessera_grants SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            |q| q.bind(grant),
        )
        .await?;
        let removed = self.reap_grant(grant).await?;
        self.forget_grants(vec![grant.to_owned()]).await?;
        Ok(removed)
    }

    /// Forgets the grants among `grants` that no token, code or device authorization names.
    /// The grants are locked first (in ID order, so concurrent callers cannot deadlock), and
    /// checked by a statement that starts after the locks: an issuer that held one has
    /// committed, and its tokens are seen.
    async fn forget_grants(&self, mut grants: Vec<String>) -> Result<(), StoreError> {
        grants.sort_unstable();
        grants.dedup();
        if grants.is_empty() {
            return Ok(());
        }
        let mut tx = self.transaction().await?;
        tx.query("SELECT 1 FROM tessera_grants WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&grants)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.query(
            "DELETE FROM tessera_grants g WHERE g.id = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) \
             AND NOT EXISTS (SELECT 1 FROM tessera_codes k WHERE k.grant_id = g.id) \
             AND NOT EXISTS (SELECT 1 FROM tessera_devices d WHERE d.grant_id = g.id)",
        )
        .bind(&grants)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await
    }

    /// One bounded step of reaping a deleted client, at most [`BATCH`] rows per statement;
    /// returns how many rows went and whether the client is completely reaped (its row then
    /// deleted too).
    async fn reap_client(&self, id: &ClientId) -> Result<(u64, bool), StoreError> {
        let run = |sql: &'static str| async move {
            self.execute(sql, |q| q.bind(id.as_str()).bind(limit_of(BATCH)))
                .await
        };
        let tokens = run(
            "DELETE FROM tessera_tokens WHERE hash IN (SELECT t.hash FROM tessera_grants g \
             JOIN tessera_tokens t ON t.grant_id = g.id WHERE g.client_id = $1 LIMIT $2)",
        )
        .await?;
        // Grants left empty, with their code and device authorization (by cascade: one each).
        let grants = run(
            "DELETE FROM tessera_grants WHERE id IN (SELECT g.id FROM tessera_grants g \
             WHERE g.client_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) LIMIT $2)",
        )
        .await?;
        let mut removed = tokens + grants;
        if tokens == BATCH as u64 || grants == BATCH as u64 {
            return Ok((removed, false));
        }
        let devices = run("DELETE FROM tessera_devices WHERE device_hash IN \
             (SELECT device_hash FROM tessera_devices WHERE client_id = $1 LIMIT $2)")
        .await?;
        let codes = run("DELETE FROM tessera_codes WHERE hash IN \
             (SELECT hash FROM tessera_codes WHERE client_id = $1 LIMIT $2)")
        .await?;
        let consents = run(
            "DELETE FROM tessera_consents WHERE (user_id, client_id) IN \
             (SELECT user_id, client_id FROM tessera_consents WHERE client_id = $1 LIMIT $2)",
        )
        .await?;
        removed += devices + codes + consents;
        if devices == BATCH as u64 || codes == BATCH as u64 || consents == BATCH as u64 {
            return Ok((removed, false));
        }
        // Nothing is left but what a transaction racing the mark may have added: the cascade
        // takes it.
        self.execute(
            "DELETE FROM tessera_clients WHERE id = $1 AND deleted_at IS NOT NULL",
            |q| q.bind(id.as_str()),
        )
        .await?;
        Ok((removed, true))
    }

    /// Deletes up to `budget` rows chosen by `sql` (which takes `now` and a limit and returns
    /// the grant of each row), then forgets the grants left with nothing; returns how many
    /// rows went.
    async fn sweep_batch(
        &self,
        sql: &str,
        now: OffsetDateTime,
        budget: usize,
    ) -> Result<u64, StoreError> {
        let mut conn = self.session().await?;
        let grants: Vec<Option<String>> = conn
            .query_scalar(sql)
            .bind(now)
            .bind(limit_of(budget))
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
        conn.commit().await?;
        let removed = grants.len() as u64;
        self.forget_grants(grants.into_iter().flatten().collect())
            .await?;
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
        let mut conn = self.session().await?;
        let revoked: Vec<String> = conn
            .query_scalar(
                "SELECT g.id FROM tessera_grants g WHERE g.revoked_at IS NOT NULL \
             AND EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) LIMIT $1",
            )
            .bind(limit_of(budget))
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
        conn.commit().await?;
        for grant in revoked {
            if removed as usize >= budget {
                return Ok(removed);
            }
            removed += self
                .execute(
                    "DELETE FROM tessera_tokens WHERE hash IN \
                 (SELECT hash FROM tessera_tokens WHERE grant_id = $1 LIMIT $2)",
                    |q| q.bind(&grant).bind(limit_of(budget - removed as usize)),
                )
                .await?;
            self.forget_grants(vec![grant]).await?;
        }
        while (removed as usize) < budget {
            let mut conn = self.session().await?;
            let deleted: Option<String> = conn
                .query_scalar("SELECT id FROM tessera_clients WHERE deleted_at IS NOT NULL LIMIT 1")
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
            conn.commit().await?;
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
impl ClientStore for PgStore {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        self.bounded(move || async move {
            // A deleted client keeps its row until reaped: its ID is a Conflict until then.
            self.execute(
                "INSERT INTO tessera_clients (id, record, created_at, unused_until) \
                 VALUES ($1, $2, $3, $4)",
                |q| {
                    q.bind(client.id.as_str())
                        .bind(Json(client))
                        .bind(client.created_at)
                        .bind(client.unused_until)
                },
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    "SELECT record FROM tessera_clients WHERE id = $1 AND deleted_at IS NULL",
                    |q| q.bind(id.as_str()),
                )
                .await?;
            row.map(|row| get::<Json<Client>>(&row, "record").map(|Json(client)| client))
                .transpose()
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            // One statement: the stored secret, registration token and expiry mark are copied
            // over the new record's under the row lock.
            let done = self
                .execute(
                    "UPDATE tessera_clients SET record = $2::jsonb || jsonb_build_object(\
                 'secret', record->'secret', 'registration_token', record->'registration_token', \
                 'unused_until', record->'unused_until'), \
                 created_at = $3 WHERE id = $1 AND deleted_at IS NULL",
                    |q| {
                        q.bind(client.id.as_str())
                            .bind(Json(client))
                            .bind(client.created_at)
                    },
                )
                .await?;
            Ok(done > 0)
        })
        .await
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret: &SecretHash,
    ) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            let done = self
                .execute(
                    "UPDATE tessera_clients SET record = jsonb_set(record, '{secret}', to_jsonb($2::text)) \
                 WHERE id = $1 AND deleted_at IS NULL",
                    |q| q.bind(id.as_str()).bind(secret.encode()),
                )
                .await?;
            Ok(done > 0)
        })
        .await
    }

    async fn swap_registration_token(
        &self,
        id: &ClientId,
        old: &TokenHash,
        new: &TokenHash,
    ) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            // The comparison is re-checked on the row's latest version under its lock.
            let done = self
                .execute(
                    "UPDATE tessera_clients \
                 SET record = jsonb_set(record, '{registration_token}', to_jsonb($3::text)) \
                 WHERE id = $1 AND deleted_at IS NULL AND record->>'registration_token' = $2",
                    |q| q.bind(id.as_str()).bind(old.to_hex()).bind(new.to_hex()),
                )
                .await?;
            Ok(done > 0)
        })
        .await
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            // The mark: from its commit, lookups and issuance refuse the client.
            let marked = self
                .execute(
                    "UPDATE tessera_clients SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
                    |q| q.bind(id.as_str()),
                )
                .await?
                > 0;
            if !marked {
                // Nothing to delete, or a deletion to finish.
                let mut conn = self.session().await?;
                let pending: Option<i32> = conn.query_scalar(
                    "SELECT 1 FROM tessera_clients WHERE id = $1 AND deleted_at IS NOT NULL",
                )
                .bind(id.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
                conn.commit().await?;
                if pending.is_none() {
                    return Ok(false);
                }
            }
            while !self.reap_client(id).await?.1 {}
            Ok(marked)
        })
        .await
    }

    async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            let done = self
                .execute(
                    "UPDATE tessera_clients SET unused_until = NULL, record = record - 'unused_until' \
                 WHERE id = $1 AND deleted_at IS NULL",
                    |q| q.bind(id.as_str()),
                )
                .await?;
            Ok(done > 0)
        })
        .await
    }

    async fn sweep_clients(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            let mut removed = 0u64;
            while (removed as usize) < limit {
                let budget = BATCH.min(limit - removed as usize);
                // The mark, as delete_client's; the outer condition is re-checked on each
                // row's latest version, so a client touched meanwhile stays.
                let mut conn = self.session().await?;
                let doomed: Vec<String> = conn
                    .query_scalar(
                        "UPDATE tessera_clients SET deleted_at = now() WHERE id IN \
                     (SELECT id FROM tessera_clients WHERE unused_until < $1 \
                     AND deleted_at IS NULL ORDER BY unused_until LIMIT $2 \
                     FOR UPDATE SKIP LOCKED) \
                     AND unused_until < $1 AND deleted_at IS NULL RETURNING id",
                    )
                    .bind(now)
                    .bind(limit_of(budget))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?;
                conn.commit().await?;
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
        })
        .await
    }
}

#[async_trait]
impl CodeStore for PgStore {
    async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
        self.bounded(move || async move {
            let grant = &code.grant;
            let mut tx = self.transaction().await?;
            if !client_present(&mut tx, &grant.client_id).await? {
                return Ok(Insertion::ClientUnknown);
            }
            let inserted = async {
                insert_grant(&mut tx, grant).await?;
                tx.query(
                    "INSERT INTO tessera_codes (hash, grant_id, client_id, user_id, scopes, \
                     grant_type, grant_created_at, redirect_uri, pkce_challenge, pkce_method, \
                     expires_at, ext) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
                .bind(Json(CodeExt::of(code)))
                .execute(&mut *tx)
                .await
            }
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if is_foreign_key_violation(&e) => return Ok(Insertion::ClientUnknown),
                Err(e) => return Err(db(e)),
            }
            tx.commit().await?;
            Ok(Insertion::Stored)
        })
        .await
    }

    async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    &format!("SELECT {CODE_COLUMNS} FROM tessera_codes WHERE hash = $1"),
                    |q| q.bind(bytes(hash)),
                )
                .await?;
            row.as_ref().map(code_from).transpose()
        })
        .await
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<CodeRedemption, StoreError> {
        self.bounded(move || async move {
            let mut tx = self.transaction().await?;
            // Concurrent redemptions of one code queue here; each sees the one before committed.
            let code: Option<(String, bool)> = tx
                .query_as("SELECT grant_id, spent FROM tessera_codes WHERE hash = $1 FOR UPDATE")
                .bind(bytes(hash))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            let Some((grant, spent)) = code else {
                return Ok(CodeRedemption::Unknown);
            };
            if spent {
                // A replay: the tombstone commits with this step; the tokens are reaped after.
                tx.query(
                    "UPDATE tessera_grants SET revoked_at = now() \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(&grant)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await?;
                self.reap_grant(&grant).await?;
                return Ok(CodeRedemption::Replayed(GrantId::new(grant)));
            }
            if lock_grant_shared(&mut tx, &grant).await? != Some((true, true)) {
                return Ok(CodeRedemption::GrantRevoked);
            }
            tx.query("UPDATE tessera_codes SET spent = true WHERE hash = $1")
                .bind(bytes(hash))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            insert_tokens(&mut tx, tokens).await?;
            tx.commit().await?;
            Ok(CodeRedemption::Redeemed)
        })
        .await
    }

    async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            self.sweep_rows(
                "DELETE FROM tessera_codes WHERE hash IN (SELECT hash FROM tessera_codes \
                 WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
                 RETURNING grant_id",
                now,
                limit,
            )
            .await
        })
        .await
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.bounded(move || async move {
            let mut conn = self.session().await?;
            conn.query("SELECT 1")
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            conn.commit().await
        })
        .await
    }

    async fn issue_tokens(
        &self,
        family: Family<'_>,
        tokens: &[TokenRecord],
    ) -> Result<IssueOutcome, StoreError> {
        self.bounded(move || async move {
            let mut tx = self.transaction().await?;
            match family {
                Family::New(grant) => {
                    if !client_present(&mut tx, &grant.client_id).await? {
                        return Ok(IssueOutcome::ClientUnknown);
                    }
                    match insert_grant(&mut tx, grant).await {
                        Ok(()) => {}
                        Err(e) if is_foreign_key_violation(&e) => {
                            return Ok(IssueOutcome::ClientUnknown);
                        }
                        Err(e) => return Err(db(e)),
                    }
                }
                Family::Existing(id) => match lock_grant_shared(&mut tx, id.as_str()).await? {
                    Some((true, true)) => {}
                    Some((true, false)) => return Ok(IssueOutcome::ClientUnknown),
                    _ => return Ok(IssueOutcome::GrantRevoked),
                },
            }
            insert_tokens(&mut tx, tokens).await?;
            tx.commit().await?;
            Ok(IssueOutcome::Stored)
        })
        .await
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<Arc<TokenRecord>>, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    &format!(
                        "SELECT {T_TOKEN_COLUMNS} FROM {LIVE_FAMILY} AND t.hash = $1 \
                         AND t.retired_at IS NULL"
                    ),
                    |q| q.bind(bytes(hash)),
                )
                .await?;
            row.map(|row| token_from(&row).map(Arc::new)).transpose()
        })
        .await
    }

    async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    &format!(
                        "SELECT {T_TOKEN_COLUMNS} FROM {LIVE_FAMILY} AND t.hash = $1 \
                         AND t.token_type = 'refresh'"
                    ),
                    |q| q.bind(bytes(hash)),
                )
                .await?;
            match row {
                Some(row) => refresh_from(&row),
                None => Ok(RefreshLookup::Unknown),
            }
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        new: &[TokenRecord],
        sealed_successor: Option<Vec<u8>>,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        self.bounded(move || {
            let sealed_successor = sealed_successor.clone();
            async move {
            let mut tx = self.transaction().await?;
            let grant: Option<String> =
                tx.query_scalar("SELECT grant_id FROM tessera_tokens WHERE hash = $1")
                    .bind(bytes(old))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            let Some(grant) = grant else {
                return Ok(Rotation::Unknown);
            };
            // Grant before token, as every step locks: a concurrent revocation of the family
            // either finishes its mark first (and this finds it revoked) or waits for this one.
            if lock_grant_shared(&mut tx, &grant).await? != Some((true, true)) {
                return Ok(Rotation::Unknown);
            }
            let retired = tx.query(
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
                insert_tokens(&mut tx, new).await?;
                tx.commit().await?;
                return Ok(Rotation::Rotated);
            }
            // Lost the race, or not a live refresh token. This statement sees every commit made
            // before it, so the winner's retired record.
            let row = tx.query(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tessera_tokens WHERE hash = $1 AND token_type = 'refresh'"
            ))
            .bind(bytes(old))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            tx.rollback().await?;
            Ok(match row.as_ref().map(refresh_from).transpose()? {
                Some(RefreshLookup::Retired(retired)) => Rotation::AlreadyRetired(retired),
                _ => Rotation::Unknown,
            })
            }
        })
        .await
    }

    async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            let mut tx = self.transaction().await?;
            let grant: Option<String> = tx
                .query_scalar(
                    "SELECT grant_id FROM tessera_tokens WHERE hash = $1 AND retired_at IS NULL",
                )
                .bind(bytes(hash))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            let Some(grant) = grant else {
                return Ok(false);
            };
            let active: Option<bool> = tx
                .query_scalar(
                    "SELECT revoked_at IS NULL FROM tessera_grants WHERE id = $1 FOR UPDATE",
                )
                .bind(&grant)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            let Some(active) = active else {
                // Forgotten since the read above: the token went with its grant.
                return Ok(false);
            };
            let removed = tx
                .query("DELETE FROM tessera_tokens WHERE hash = $1 AND retired_at IS NULL")
                .bind(bytes(hash))
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
            // The grant is locked: nothing can join it before this transaction ends.
            tx.query(
                "DELETE FROM tessera_grants g WHERE g.id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM tessera_tokens t WHERE t.grant_id = g.id) \
                 AND NOT EXISTS (SELECT 1 FROM tessera_codes k WHERE k.grant_id = g.id) \
                 AND NOT EXISTS (SELECT 1 FROM tessera_devices d WHERE d.grant_id = g.id)",
            )
            .bind(&grant)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await?;
            Ok(removed > 0 && active)
        })
        .await
    }

    async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
        self.bounded(move || async move { self.revoke_and_reap(grant.as_str()).await })
            .await
    }

    async fn revoke_user_grants(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            let mut revoked: Vec<String> = Vec::new();
            loop {
                let mut conn = self.session().await?;
                let batch: Vec<String> = conn
                    .query_scalar(
                        "UPDATE tessera_grants SET revoked_at = now() WHERE id IN (SELECT id \
                     FROM tessera_grants WHERE client_id = $2 AND user_id = $1 \
                     AND revoked_at IS NULL ORDER BY id LIMIT $3 FOR UPDATE) RETURNING id",
                    )
                    .bind(user.as_str())
                    .bind(client.as_str())
                    .bind(limit_of(BATCH))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db)?;
                conn.commit().await?;
                let done = batch.len() < BATCH;
                revoked.extend(batch);
                if done {
                    break;
                }
            }
            for grant in &revoked {
                self.reap_grant(grant).await?;
            }
            for chunk in revoked.chunks(BATCH) {
                self.forget_grants(chunk.to_vec()).await?;
            }
            Ok(revoked.len() as u64)
        })
        .await
    }

    async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            let mut removed = 0u64;
            while (removed as usize) < limit {
                let budget = BATCH.min(limit - removed as usize);
                // Live and retired tokens alike, by their own expires_at.
                let mut batch = self
                    .sweep_batch(
                        "DELETE FROM tessera_tokens WHERE hash IN (SELECT hash FROM tessera_tokens \
                         WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
                         RETURNING grant_id",
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
        })
        .await
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn find_consent(
        &self,
        user: &UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    &format!(
                        "SELECT {CONSENT_COLUMNS} FROM tessera_consents \
                         WHERE user_id = $1 AND client_id = $2"
                    ),
                    |q| q.bind(user.as_str()).bind(client.as_str()),
                )
                .await?;
            row.as_ref().map(consent_from).transpose()
        })
        .await
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.bounded(move || async move {
            // The union of the stored and the new scopes, computed under the row lock the upsert
            // holds, kept sorted in byte order like a `ScopeSet`.
            self.execute(
                &format!(
                    "INSERT INTO tessera_consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET \
                 scopes = array_to_string(ARRAY(\
                    SELECT s COLLATE \"C\" FROM unnest(string_to_array(\
                        tessera_consents.scopes || ' ' || EXCLUDED.scopes, ' ')) AS s \
                    WHERE s <> '' GROUP BY 1 ORDER BY 1), ' '), \
                 last_used_at = EXCLUDED.last_used_at"
                ),
                |q| {
                    q.bind(consent.user.as_str())
                        .bind(consent.client_id.as_str())
                        .bind(consent.scopes.to_string())
                        .bind(consent.granted_at)
                        .bind(consent.last_used_at)
                },
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn touch_consent(
        &self,
        user: &UserId,
        client: &ClientId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.bounded(move || async move {
            self.execute(
                "UPDATE tessera_consents SET last_used_at = $3 WHERE user_id = $1 AND client_id = $2",
                |q| q.bind(user.as_str()).bind(client.as_str()).bind(at),
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
        self.bounded(move || async move {
            let mut conn = self.session().await?;
            let rows = conn
                .query(&format!(
                    "SELECT {CONSENT_COLUMNS} FROM tessera_consents WHERE user_id = $1"
                ))
                .bind(user.as_str())
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
            conn.commit().await?;
            rows.iter().map(consent_from).collect()
        })
        .await
    }

    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            let done = self
                .execute(
                    "DELETE FROM tessera_consents WHERE user_id = $1 AND client_id = $2",
                    |q| q.bind(user.as_str()).bind(client.as_str()),
                )
                .await?;
            Ok(done > 0)
        })
        .await
    }
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
        self.bounded(move || async move {
            let (status, grant) = device_status_columns(&record.status);
            self.execute(
                &format!(
                    "INSERT INTO tessera_devices ({DEVICE_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                |q| {
                    q.bind(bytes(&record.device_hash))
                        .bind(bytes(&record.user_code_hash))
                        .bind(record.client_id.as_str())
                        .bind(record.scopes.to_string())
                        .bind(record.expires_at)
                        .bind(i64::from(record.interval))
                        .bind(record.last_poll_at)
                        .bind(status)
                        .bind(grant)
                },
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn find_device_by_user_code(
        &self,
        user_code: &TokenHash,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.bounded(move || async move {
            let row = self
                .fetch_optional(
                    &format!(
                        "SELECT {DEVICE_COLUMNS} FROM tessera_devices WHERE user_code_hash = $1"
                    ),
                    |q| q.bind(bytes(user_code)),
                )
                .await?;
            row.as_ref().map(device_from).transpose()
        })
        .await
    }

    async fn decide_device(
        &self,
        user_code: &TokenHash,
        status: DeviceStatus,
    ) -> Result<bool, StoreError> {
        self.bounded(move || {
            let status = status.clone();
            async move {
                let approved = match &status {
                    DeviceStatus::Approved { grant } => Some(grant),
                    DeviceStatus::Denied => None,
                    _ => return Ok(false),
                };
                let mut tx = self.transaction().await?;
                let pending: Option<(Vec<u8>, String)> = tx
                    .query_as(
                        "SELECT device_hash, client_id FROM tessera_devices \
                 WHERE user_code_hash = $1 AND status = 'pending' FOR UPDATE",
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
                    match insert_grant(&mut tx, grant).await {
                        Ok(()) => {}
                        Err(e) if is_foreign_key_violation(&e) => return Ok(false),
                        Err(e) => return Err(db(e)),
                    }
                }
                let (status, grant) = device_status_columns(&status);
                tx.query(
                    "UPDATE tessera_devices SET status = $2, approved_grant = $3, grant_id = $4 \
                 WHERE device_hash = $1",
                )
                .bind(&device)
                .bind(status)
                .bind(grant)
                .bind(approved.map(|g| g.id.as_str()))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await?;
                Ok(true)
            }
        })
        .await
    }

    async fn poll_device(
        &self,
        device: &TokenHash,
        now: OffsetDateTime,
    ) -> Result<DevicePoll, StoreError> {
        self.bounded(move || async move {
            let mut tx = self.transaction().await?;
            let row = tx
                .query(&format!(
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
            let too_fast = before.last_poll_at.is_some_and(|last| {
                now < last + time::Duration::seconds(i64::from(before.interval))
            });
            let mut after = before.clone();
            after.last_poll_at = Some(now);
            if too_fast {
                after.interval = after.interval.saturating_add(5);
            }
            tx.query(
                "UPDATE tessera_devices SET last_poll_at = $2, poll_interval = $3 \
                 WHERE device_hash = $1",
            )
            .bind(bytes(device))
            .bind(now)
            .bind(i64::from(after.interval))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await?;
            Ok(if too_fast {
                DevicePoll::SlowDown(after)
            } else {
                DevicePoll::Polled(before)
            })
        })
        .await
    }

    async fn redeem_device(
        &self,
        device: &TokenHash,
        tokens: &[TokenRecord],
    ) -> Result<DeviceRedemption, StoreError> {
        self.bounded(move || async move {
            let mut tx = self.transaction().await?;
            // Concurrent redemptions queue on the row; each sees the one before committed.
            let row: Option<(String, Option<String>)> = tx
                .query_as(
                    "SELECT status, coalesce(grant_id, approved_grant->>'id') FROM tessera_devices \
                 WHERE device_hash = $1 FOR UPDATE",
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
            if lock_grant_shared(&mut tx, &grant).await? != Some((true, true)) {
                return Ok(DeviceRedemption::GrantRevoked);
            }
            tx.query(
                "UPDATE tessera_devices SET status = 'redeemed', approved_grant = NULL, \
                 grant_id = $2 WHERE device_hash = $1",
            )
            .bind(bytes(device))
            .bind(&grant)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            insert_tokens(&mut tx, tokens).await?;
            tx.commit().await?;
            Ok(DeviceRedemption::Redeemed)
        })
        .await
    }

    async fn sweep_devices(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            self.sweep_rows(
                "DELETE FROM tessera_devices WHERE device_hash IN (SELECT device_hash \
                 FROM tessera_devices WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) RETURNING grant_id",
                now,
                limit,
            )
            .await
        })
        .await
    }
}

#[async_trait]
impl ReplayStore for PgStore {
    async fn remember(
        &self,
        key: &ReplayKey,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.bounded(move || async move {
            // Inserted, or an expired entry taken over: a row comes back. A live entry: none.
            let row = self
                .fetch_optional(
                    "INSERT INTO tessera_replay_keys (key, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                     WHERE tessera_replay_keys.expires_at <= $3 RETURNING key",
                    |q| q.bind(key.as_bytes().as_slice()).bind(expires_at).bind(now),
                )
                .await?;
            Ok(row.is_some())
        })
        .await
    }

    async fn sweep_replays(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.bounded(move || async move {
            let mut removed = 0u64;
            while (removed as usize) < limit {
                let budget = BATCH.min(limit - removed as usize);
                let batch = self
                    .execute(
                        "DELETE FROM tessera_replay_keys WHERE key IN (SELECT key FROM \
                     tessera_replay_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 \
                     FOR UPDATE SKIP LOCKED)",
                        |q| q.bind(now).bind(limit_of(budget)),
                    )
                    .await?;
                removed += batch;
                if (batch as usize) < budget {
                    break;
                }
            }
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_cannot_serve_now_is_unavailable() {
        for code in [
            "08000", "08001", "08003", "08004", "08006", "08P01", "53300", "57P01", "57P02",
            "57P03", "40001", "40P01",
        ] {
            assert!(is_transient_sqlstate(code), "{code}");
        }
        for code in [
            "23505", "23503", "42P01", "42703", "22P02", "XX000", "57014",
        ] {
            assert!(!is_transient_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn dropped_connections_and_pool_timeouts_are_unavailable() {
        let dropped = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for error in [
            sqlx::Error::Io(dropped),
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(db(error).is_unavailable());
        }
        for error in [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol("unexpected message".into()),
            sqlx::Error::ColumnNotFound("hash".into()),
        ] {
            assert!(matches!(db(error), StoreError::Backend(_)));
        }
    }
}
