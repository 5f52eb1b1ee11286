//! The storage conformance kit and multi-instance checks against SQLite.
//!
//! Needs nothing running: each test works in a fresh database file of its own under the
//! system's temporary directory, removed when it ends (with its WAL files).
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tessera::store::{ClientStore, SqliteStore, Storage};
use tessera::testkit::{self, RedirectExt, ResponseExt};
use tessera::{
    ClientRegistration, Config, Entropy, FormRequest, GrantType, Limits, OsEntropy, Params,
    Provider, Response, ScopeSet, StoreError, UserId,
};

const REDIRECT: &str = "https://client.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A fresh database path, unique to this test run.
fn random_path() -> PathBuf {
    let mut bytes = [0u8; 8];
    OsEntropy.fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::env::temp_dir().join(format!("tessera-test-{hex}.db"))
}

fn url_of(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Removes the database and its WAL and shared-memory files.
fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// A migrated store on `url`.
async fn store_on(url: &str) -> SqliteStore {
    let store = SqliteStore::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Runs `check` with `instances` stores (separate pools, as separate processes would have)
/// sharing one fresh database file, then removes the file whether or not the check panicked.
async fn with_database<F, Fut>(instances: usize, check: F)
where
    F: FnOnce(Vec<Arc<SqliteStore>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let path = random_path();
    let url = url_of(&path);
    let mut stores = Vec::new();
    for _ in 0..instances {
        stores.push(Arc::new(store_on(&url).await));
    }
    let handles: Vec<SqliteStore> = stores.iter().map(|s| SqliteStore::clone(s)).collect();
    let outcome = tokio::spawn(check(stores)).await;
    for store in handles {
        store.close().await;
    }
    remove_database(&path);
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// One conformance check against one fresh store.
macro_rules! conformance {
    ($($name:ident: $store:ident => $check:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            with_database(1, |mut stores| async move {
                let $store: Arc<dyn Storage> = stores.remove(0);
                $check.await;
            })
            .await;
        }
    )*};
}

conformance! {
    clients: store => testkit::clients(store);
    update_keeps_secret: store => testkit::update_keeps_secret(store);
    registration_token_swap: store => testkit::registration_token_swap(store);
    bounded_delete: store => testkit::bounded_delete(store, 20_000);
    client_checked_on_issue: store => testkit::client_checked_on_issue(store);
    codes: store => testkit::codes(store);
    code_race: store => testkit::code_race(store, 100);
    code_replay: store => testkit::code_replay(store);
    code_replay_race: store => testkit::code_replay_race(store, 50);
    code_redemption_atomic: store => testkit::code_redemption_atomic(store, 20);
    tokens: store => testkit::tokens(store);
    rotation: store => testkit::rotation(store);
    rotation_race: store => testkit::rotation_race(store, 50);
    grants: store => testkit::grants(store);
    revocation_tombstone: store => testkit::revocation_tombstone(store);
    consents: store => testkit::consents(store);
    large_consent: store => testkit::large_consent(store);
    devices: store => testkit::devices(store);
    device_redemption_race: store => testkit::device_redemption_race(store, 20);
    sweep: store => testkit::sweep(store);
    sweep_backlog: store => testkit::sweep_backlog(store, 300);
    retired_refresh_survives_sweep: store => testkit::retired_refresh_survives_sweep(store);
    replays: store => testkit::replays(store);
    unused_clients: store => testkit::unused_clients(store);
    replay_race: store => testkit::replay_race(store, 64);
    ping: store => testkit::ping(store);
    model: store => async move {
        for seed in 0..4 {
            testkit::model(Arc::clone(&store), seed, 40).await;
        }
    };
    all_checks_share_one_store: store => testkit::run_all(store);
}

/// Races between two stores with separate pools on one file, as two processes would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_races_across_two_pools() {
    with_database(2, |stores| async move {
        let [a, b]: [Arc<SqliteStore>; 2] = stores.try_into().expect("two stores");
        let a: Arc<dyn Storage> = a;
        let b: Arc<dyn Storage> = b;
        testkit::code_race(Arc::clone(&a), 50).await;
        testkit::code_race(Arc::clone(&b), 50).await;
        testkit::rotation_race(a, 25).await;
        testkit::rotation_race(b, 25).await;
    })
    .await;
}

/// The whole kit on an in-memory database: one connection, shared by every task.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_database_passes_the_kit() {
    let store = store_on("sqlite::memory:").await;
    assert_eq!(store.pool().size(), 1, "one connection holds the database");
    let other = store_on("sqlite::memory:").await;
    let store: Arc<dyn Storage> = Arc::new(store);
    testkit::run_all(Arc::clone(&store)).await;
    testkit::code_race(Arc::clone(&store), 50).await;
    // Each `sqlite::memory:` store is a database of its own.
    let client = testkit::new_client(&*store).await;
    assert!(other.find_client(&client.id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_concurrent() {
    let path = random_path();
    let url = url_of(&path);
    // Two processes' worth of pools migrating a new file at once, several times each.
    let a = SqliteStore::connect(&url).await.expect("connect");
    let b = SqliteStore::connect(&url).await.expect("connect");
    let runs: Vec<_> = (0..4)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.expect("task").expect("migrate");
    }
    a.migrate().await.expect("migrate again");
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM tessera_schema_migrations ORDER BY version")
            .fetch_all(a.pool())
            .await
            .expect("versions");
    assert_eq!(versions, vec![1, 2, 4]);
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(a.pool())
        .await
        .expect("journal mode");
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(a.pool())
        .await
        .expect("foreign keys");
    assert_eq!(foreign_keys, 1);
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(a.pool())
        .await
        .expect("synchronous");
    assert_eq!(synchronous, 2, "FULL");
    a.close().await;
    b.close().await;
    // The data outlives the pool: a new store on the file finds the schema and its records.
    let store = store_on(&url).await;
    let client = testkit::new_client(&store).await;
    store.close().await;
    let store = store_on(&url).await;
    assert!(store.find_client(&client.id).await.unwrap().is_some());
    store.close().await;
    remove_database(&path);
}

/// Every lookup and batch is served by an index: no query plan scans a table. (The two plans
/// that scan an index scan a partial one, which holds only the revocations and deletions left to
/// finish.)
#[tokio::test]
async fn lookups_use_indexes() {
    let store = store_on("sqlite::memory:").await;
    let queries = [
        "SELECT * FROM tessera_tokens t JOIN tessera_grants g ON g.id = t.grant_id \
         JOIN tessera_clients c ON c.id = g.client_id WHERE t.hash = x'00'",
        "SELECT hash FROM tessera_tokens WHERE grant_id = 'g' LIMIT 10",
        "SELECT hash FROM tessera_tokens WHERE expires_at < 1 ORDER BY expires_at LIMIT 10",
        "SELECT hash FROM tessera_codes WHERE expires_at < 1 ORDER BY expires_at LIMIT 10",
        "SELECT device_hash FROM tessera_devices WHERE expires_at < 1 ORDER BY expires_at LIMIT 10",
        "SELECT * FROM tessera_devices WHERE user_code_hash = x'00'",
        "SELECT id FROM tessera_grants WHERE client_id = 'c' AND user_id = 'u' \
         AND revoked_at IS NULL ORDER BY id LIMIT 10",
        "SELECT g.id FROM tessera_grants g WHERE g.revoked_at IS NOT NULL LIMIT 10",
        "SELECT id FROM tessera_clients WHERE deleted_at IS NOT NULL LIMIT 1",
        "SELECT rowid FROM tessera_consents WHERE client_id = 'c' LIMIT 10",
        "SELECT * FROM tessera_consents WHERE user_id = 'u'",
        "SELECT 1 FROM tessera_devices d WHERE d.grant_id = 'g'",
        "SELECT 1 FROM tessera_codes k WHERE k.grant_id = 'g'",
        "SELECT hash FROM tessera_codes WHERE client_id = 'c' LIMIT 10",
        "SELECT device_hash FROM tessera_devices WHERE client_id = 'c' LIMIT 10",
    ];
    for query in queries {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
                .fetch_all(store.pool())
                .await
                .expect("plan");
        for (_, _, _, step) in &plan {
            assert!(
                !step.starts_with("SCAN") || step.contains("USING"),
                "{query}: {step}"
            );
        }
    }
}

#[test]
fn public_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let _ = |store: SqliteStore| {
        is_send(&SqliteStore::connect("sqlite::memory:"));
        is_send(&store.migrate());
    };
}

#[tokio::test]
async fn bad_urls_are_refused_naming_the_cause() {
    for (url, cause) in [
        ("sqlit://tessera.db", "`sqlit`"),
        ("postgres://u:hunter2@127.0.0.1/db", "`postgres`"),
        ("sqlite://", "names a file"),
        ("not a url", "not a SQLite URL"),
    ] {
        let error = SqliteStore::connect(url).await.expect_err(url);
        assert!(matches!(error, StoreError::Backend(_)), "{error}");
        assert!(error.to_string().contains(cause), "{url}: {error}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
    // A directory that does not exist cannot hold the file.
    let missing = std::env::temp_dir()
        .join("tessera-no-such-dir")
        .join("x")
        .join("db");
    let error = SqliteStore::connect(&url_of(&missing))
        .await
        .expect_err("a missing directory");
    assert!(error.to_string().contains("cannot open"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Providers on one database

struct TestClient {
    id: String,
    secret: String,
}

fn config() -> Config {
    Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read write offline_access").unwrap())
        .grant_types(GrantType::ALL)
        .build()
        .unwrap()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn register(provider: &Provider) -> TestClient {
    let registered = provider
        .register_client(
            ClientRegistration::new("Shared", REDIRECT)
                .with_grant_types(vec![GrantType::AuthorizationCode]),
        )
        .await
        .expect("register");
    TestClient {
        id: registered.client.id.as_str().to_owned(),
        secret: registered
            .secret
            .expect("a confidential client")
            .into_secret(),
    }
}

async fn new_code(provider: &Provider, client: &TestClient) -> String {
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read+offline_access&state=s\
         &code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let params = Params::from_query(&query, &Limits::default()).unwrap();
    let pending = provider.authorize(&params).await.expect("valid request");
    let scopes = pending.scopes().clone();
    let redirect = pending
        .approve(provider, UserId::new("alice"), &scopes)
        .await;
    redirect.param("code").expect("a code")
}

async fn exchange(provider: &Provider, client: &TestClient, code: &str) -> Response {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", client.id, client.secret));
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(code),
        urlencode(REDIRECT)
    );
    let form =
        FormRequest::new(body.into_bytes()).with_authorization(Some(&format!("Basic {basic}")));
    provider.token(&form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_hashes_are_stored() {
    with_database(2, |stores| async move {
        let a = Provider::builder(config(), stores[0].clone() as Arc<dyn Storage>).build();
        let b = Provider::builder(config(), stores[1].clone() as Arc<dyn Storage>).build();
        let client = register(&a).await;
        let code = new_code(&a, &client).await;
        // Redeemed through the other pool.
        let response = exchange(&b, &client, &code).await;
        assert_eq!(response.status, 200, "{:?}", response.json_body());
        let body: serde_json::Value = response.json_body().unwrap();
        // Every column of every row, as text (blobs as upper-case hex).
        let mut dump = String::new();
        for table in [
            "tessera_clients",
            "tessera_grants",
            "tessera_codes",
            "tessera_tokens",
        ] {
            let columns: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(stores[0].pool())
                    .await
                    .expect("columns");
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    format!(
                        "CASE typeof({c}) WHEN 'blob' THEN hex({c}) \
                         ELSE coalesce(CAST({c} AS TEXT), '') END"
                    )
                })
                .collect();
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT {} FROM {table}",
                cells.join(" || ' ' || ")
            ))
            .fetch_all(stores[0].pool())
            .await
            .expect("dump");
            dump.push_str(&rows.join(" "));
        }
        let secrets = [
            client.secret.as_str(),
            code.as_str(),
            body["access_token"].as_str().unwrap(),
            body["refresh_token"].as_str().unwrap(),
        ];
        for secret in secrets {
            assert!(!dump.contains(secret), "a secret is stored in clear");
            let hex: String = secret.bytes().map(|b| format!("{b:02X}")).collect();
            assert!(!dump.contains(&hex), "a secret is stored in a blob");
        }
        assert!(dump.contains("sha256:"), "the client secret hash is stored");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Grants left empty, races through two pools, interrupted deletions

async fn count(store: &SqliteStore, sql: &str, grant: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(grant)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

/// Grants left with no token go: when `revoke_token` removes the last one, and when a sweep
/// batch does; a grant that still has a token stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_grants_are_removed() {
    use tessera::store::{Family, Grant, GrantId, TokenRecord, TokenStore, TokenType};
    use tessera::{ClientId, TokenHash};
    use time::{Duration, OffsetDateTime};

    with_database(1, |stores| async move {
        let store = &stores[0];
        let grants = "SELECT count(*) FROM tessera_grants WHERE id = ?1";
        let client = testkit::new_client(&**store).await;
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let grant_with = |id: &str| {
            Grant::new(
                GrantId::new(id),
                ClientId::new(client.id.as_str()).unwrap(),
                Some(UserId::new("u")),
                ScopeSet::parse("read").unwrap(),
                GrantType::AuthorizationCode,
                now,
            )
        };
        let token = |grant: &Grant, secret: &str, expires_at| {
            TokenRecord::new(
                TokenHash::of(secret),
                TokenType::Access,
                grant,
                grant.scopes.clone(),
                now,
                expires_at,
                None,
            )
        };

        let revoked = grant_with(&format!("{}-revoked", client.id));
        let first = token(&revoked, &format!("{}-a1", client.id), None);
        let second = token(&revoked, &format!("{}-a2", client.id), None);
        store
            .issue_tokens(Family::New(&revoked), &[first.clone(), second.clone()])
            .await
            .unwrap();
        assert!(store.revoke_token(&first.hash).await.unwrap());
        assert_eq!(
            count(store, grants, revoked.id.as_str()).await,
            1,
            "a token is left"
        );
        assert!(store.revoke_token(&second.hash).await.unwrap());
        assert_eq!(count(store, grants, revoked.id.as_str()).await, 0);

        let swept = grant_with(&format!("{}-swept", client.id));
        let kept = grant_with(&format!("{}-kept", client.id));
        let old = Some(now - Duration::days(1));
        store
            .issue_tokens(
                Family::New(&swept),
                &[token(&swept, &format!("{}-s", client.id), old)],
            )
            .await
            .unwrap();
        store
            .issue_tokens(
                Family::New(&kept),
                &[
                    token(&kept, &format!("{}-k1", client.id), old),
                    token(&kept, &format!("{}-k2", client.id), None),
                ],
            )
            .await
            .unwrap();
        let mut removed = 0;
        loop {
            let batch = store.sweep_tokens(now, 1).await.unwrap();
            assert!(batch <= 1);
            if batch == 0 {
                break;
            }
            removed += batch;
        }
        assert_eq!(removed, 2);
        assert_eq!(count(store, grants, swept.id.as_str()).await, 0);
        assert_eq!(count(store, grants, kept.id.as_str()).await, 1);
        let tokens = "SELECT count(*) FROM tessera_tokens WHERE grant_id = ?1";
        assert_eq!(count(store, tokens, kept.id.as_str()).await, 1);
    })
    .await;
}

/// Rotations, single revocations and family revocations of one family at once, through two
/// pools: no step fails (no deadlock), and once they are all done nothing of the family is
/// left, whatever order they ran in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotations_and_revocations_race_without_errors() {
    use tessera::store::{Family, Grant, GrantId, TokenRecord, TokenStore, TokenType};
    use tessera::{ClientId, TokenHash};
    use time::OffsetDateTime;

    with_database(2, |stores| async move {
        let client = testkit::new_client(&*stores[0]).await;
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        for round in 0..5 {
            let grant = Grant::new(
                GrantId::new(format!("{}-{round}", client.id)),
                ClientId::new(client.id.as_str()).unwrap(),
                Some(UserId::new("u")),
                ScopeSet::parse("read").unwrap(),
                GrantType::AuthorizationCode,
                now,
            );
            let token = |secret: String, token_type| {
                TokenRecord::new(
                    TokenHash::of(&secret),
                    token_type,
                    &grant,
                    grant.scopes.clone(),
                    now,
                    None,
                    None,
                )
            };
            let refresh = token(format!("{}-{round}-r", client.id), TokenType::Refresh);
            let access = token(format!("{}-{round}-a", client.id), TokenType::Access);
            stores[0]
                .issue_tokens(Family::New(&grant), &[refresh.clone(), access.clone()])
                .await
                .unwrap();
            let mut tasks = Vec::new();
            for i in 0..24 {
                let store = Arc::clone(&stores[i % 2]);
                let (old, grant_id, access) = (refresh.hash, grant.id.clone(), access.hash);
                let successor = token(format!("{}-{round}-s{i}", client.id), TokenType::Refresh);
                tasks.push(tokio::spawn(async move {
                    match i % 6 {
                        0 => store.revoke_grant(&grant_id).await.map(drop),
                        1 => store.revoke_token(&access).await.map(drop),
                        _ => store
                            .rotate_refresh(&old, &[successor], None, now)
                            .await
                            .map(drop),
                    }
                }));
            }
            for task in tasks {
                task.await.expect("task").expect("no store error");
            }
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM tessera_tokens WHERE grant_id = ?1")
                    .bind(grant.id.as_str())
                    .fetch_one(stores[0].pool())
                    .await
                    .unwrap();
            assert_eq!(
                left, 0,
                "a token of the revoked family is left (round {round})"
            );
        }
    })
    .await;
}

/// A deletion interrupted after its first step (the mark) leaves no token of the client valid,
/// keeps its ID taken, and is finished by the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_deletion_is_finished_by_the_sweep() {
    use tessera::store::{ClientStore, Family, Grant, GrantId, TokenRecord, TokenStore, TokenType};
    use tessera::{ClientId, StoreError, TokenHash};
    use time::OffsetDateTime;

    with_database(1, |stores| async move {
        let store = &stores[0];
        let client = testkit::new_client(&**store).await;
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let mut tokens = Vec::new();
        for i in 0..3 {
            let grant = Grant::new(
                GrantId::new(format!("{}-{i}", client.id)),
                ClientId::new(client.id.as_str()).unwrap(),
                Some(UserId::new("u")),
                ScopeSet::parse("read").unwrap(),
                GrantType::AuthorizationCode,
                now,
            );
            let token = TokenRecord::new(
                TokenHash::of(&format!("{}-{i}", client.id)),
                TokenType::Access,
                &grant,
                grant.scopes.clone(),
                now,
                None,
                None,
            );
            store
                .issue_tokens(Family::New(&grant), std::slice::from_ref(&token))
                .await
                .unwrap();
            tokens.push(token.hash);
        }
        // The first step of revoke_grant on one grant of another client, and then a crash.
        let other = testkit::new_client(&**store).await;
        let revoked = Grant::new(
            GrantId::new(format!("{}-revoked", other.id)),
            ClientId::new(other.id.as_str()).unwrap(),
            None,
            ScopeSet::parse("read").unwrap(),
            GrantType::ClientCredentials,
            now,
        );
        let orphan = TokenRecord::new(
            TokenHash::of(&format!("{}-revoked", other.id)),
            TokenType::Access,
            &revoked,
            revoked.scopes.clone(),
            now,
            None,
            None,
        );
        store
            .issue_tokens(Family::New(&revoked), std::slice::from_ref(&orphan))
            .await
            .unwrap();
        sqlx::query("UPDATE tessera_grants SET revoked_at = 1 WHERE id = ?1")
            .bind(revoked.id.as_str())
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.find_token(&orphan.hash).await.unwrap(), None);
        // The first step of delete_client, and then a crash.
        sqlx::query("UPDATE tessera_clients SET deleted_at = 1 WHERE id = ?1")
            .bind(client.id.as_str())
            .execute(store.pool())
            .await
            .unwrap();
        for hash in &tokens {
            assert_eq!(store.find_token(hash).await.unwrap(), None);
        }
        assert!(store.find_client(&client.id).await.unwrap().is_none());
        assert!(matches!(
            store.insert_client(&client).await,
            Err(StoreError::Conflict)
        ));
        while store.sweep_tokens(now, 2).await.unwrap() >= 2 {}
        for table in ["tessera_tokens", "tessera_grants", "tessera_clients"] {
            let column = if table == "tessera_clients" {
                "id"
            } else {
                "client_id"
            };
            let left: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = ?1"))
                    .bind(client.id.as_str())
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(left, 0, "{table} keeps rows of the deleted client");
        }
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tessera_grants WHERE client_id = ?1")
                .bind(other.id.as_str())
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(
            left, 0,
            "the interrupted revocation's tokens and grant are gone"
        );
        store
            .insert_client(&client)
            .await
            .expect("the ID is free once reaped");
    })
    .await;
}

/// Migration 4 carries the clients of earlier versions: read back with no expiry mark, never
/// swept as unused; a client stored after it with a mark is swept once due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_4_carries_the_records_of_earlier_versions() {
    use tessera::ClientId;
    use tessera::store::ClientStore;
    use time::{Duration, OffsetDateTime};

    let path = random_path();
    let url = url_of(&path);
    let store = SqliteStore::connect(&url).await.expect("connect");
    // Versions 1 and 2 as an earlier build applied them.
    for sql in [
        include_str!("../src/store/sqlite/migrations/0001_initial.sql"),
        include_str!("../src/store/sqlite/migrations/0002_replay_keys.sql"),
        "CREATE TABLE tessera_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at INTEGER NOT NULL DEFAULT 0); \
         INSERT INTO tessera_schema_migrations (version, name) VALUES (1, 'initial'), \
         (2, 'replay_keys');",
    ] {
        sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
    }
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let old = tessera::Client::new(
        ClientId::new("old-client").unwrap(),
        "Old client",
        tessera::ClientType::Public,
        now,
    );
    sqlx::query("INSERT INTO tessera_clients (id, record, created_at) VALUES (?1, ?2, ?3)")
        .bind(old.id.as_str())
        .bind(serde_json::to_string(&old).unwrap())
        .bind(now.unix_timestamp() * 1_000_000)
        .execute(store.pool())
        .await
        .unwrap();

    store.migrate().await.expect("migrate to version 4");

    assert_eq!(store.find_client(&old.id).await.unwrap(), Some(old.clone()));
    let fresh = tessera::Client::new(
        ClientId::new("new-client").unwrap(),
        "New client",
        tessera::ClientType::Public,
        now,
    )
    .with_unused_until(now + Duration::hours(24));
    store.insert_client(&fresh).await.unwrap();
    let far = now + Duration::days(10_000);
    assert_eq!(store.sweep_clients(far, 100).await.unwrap(), 1);
    assert!(store.find_client(&fresh.id).await.unwrap().is_none());
    assert!(store.find_client(&old.id).await.unwrap().is_some());
    store.close().await;
    remove_database(&path);
}
