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
    let pools: Vec<_> = stores.iter().map(|s| s.pool().clone()).collect();
    let outcome = tokio::spawn(check(stores)).await;
    for pool in pools {
        pool.close().await;
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
    retired_refresh_survives_sweep: store => testkit::retired_refresh_survives_sweep(store);
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
    assert_eq!(versions, vec![1]);
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
    a.pool().close().await;
    b.pool().close().await;
    // The data outlives the pool: a new store on the file finds the schema and its records.
    let store = store_on(&url).await;
    let client = testkit::new_client(&store).await;
    store.pool().close().await;
    let store = store_on(&url).await;
    assert!(store.find_client(&client.id).await.unwrap().is_some());
    store.pool().close().await;
    remove_database(&path);
}

/// Every lookup and batch is served by an index: no query plan scans a table.
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
