//! The storage conformance kit and multi-instance checks against PostgreSQL.
//!
//! Needs `TESSERA_TEST_POSTGRES_URL` (for example `postgres://postgres@127.0.0.1:5432/test`);
//! without it every test passes after saying it was skipped. Each test works in a schema of
//! its own with a random name, dropped when it ends.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/assertion_replay.rs"]
mod assertion_replay;

use std::future::Future;
use std::sync::Arc;

use tessera::store::{PgStore, Storage};
use tessera::testkit::{self, RedirectExt, ResponseExt};
use tessera::{
    BearerRequest, ClientRegistration, Config, Entropy, FormRequest, GrantType, Limits, OsEntropy,
    Params, Provider, Response, ScopeSet, UserId,
};

const URL_VAR: &str = "TESSERA_TEST_POSTGRES_URL";
const REDIRECT: &str = "https://client.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn database_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {URL_VAR} is not set");
            None
        }
    }
}

fn random_schema() -> String {
    let mut bytes = [0u8; 8];
    OsEntropy.fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tessera_test_{hex}")
}

/// A migrated store in `schema`.
async fn store_in(url: &str, schema: &str) -> PgStore {
    let store = PgStore::connect_in_schema(url, schema)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// Runs `check` with `instances` stores (separate pools) sharing one fresh schema, then drops
/// the schema whether or not the check panicked.
async fn with_schema<F, Fut>(instances: usize, check: F)
where
    F: FnOnce(Vec<Arc<PgStore>>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = database_url() else { return };
    let schema = random_schema();
    let mut stores = Vec::new();
    for _ in 0..instances {
        stores.push(Arc::new(store_in(&url, &schema).await));
    }
    let pools: Vec<_> = stores.iter().map(|s| s.pool().clone()).collect();
    let outcome = tokio::spawn(check(stores)).await;
    let dropped = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pools[0])
        .await;
    for pool in pools {
        pool.close().await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
    dropped.expect("drop the test schema");
}

/// One conformance check against one fresh store.
macro_rules! conformance {
    ($($name:ident: $store:ident => $check:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            with_schema(1, |mut stores| async move {
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
    replays: store => testkit::replays(store);
    unused_clients: store => testkit::unused_clients(store);
    replay_race: store => testkit::replay_race(store, 64);
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
    ping: store => testkit::ping(store);
    retired_refresh_survives_sweep: store => testkit::retired_refresh_survives_sweep(store);
    model: store => async move {
        for seed in 0..4 {
            testkit::model(Arc::clone(&store), seed, 40).await;
        }
    };
    all_checks_share_one_store: store => testkit::run_all(store);
}

/// Races between two stores with separate pools, as two processes would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_races_across_two_pools() {
    with_schema(2, |stores| async move {
        let [a, b]: [Arc<PgStore>; 2] = stores.try_into().expect("two stores");
        let a: Arc<dyn Storage> = a;
        let b: Arc<dyn Storage> = b;
        // The kit races one store against itself; interleave two by checking through each.
        testkit::code_race(Arc::clone(&a), 50).await;
        testkit::code_race(Arc::clone(&b), 50).await;
        testkit::rotation_race(a, 25).await;
        testkit::rotation_race(b, 25).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_concurrent() {
    with_schema(1, |stores| async move {
        let store = &stores[0];
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let store = PgStore::clone(store);
                tokio::spawn(async move { store.migrate().await })
            })
            .collect();
        for run in runs {
            run.await.expect("task").expect("migrate again");
        }
        let versions: Vec<i32> =
            sqlx::query_scalar("SELECT version FROM tessera_schema_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .expect("versions");
        assert_eq!(versions, vec![1, 2, 3, 4, 5, 7]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_hashes_are_stored() {
    with_schema(2, |stores| async move {
        let (a, _) = providers(&stores);
        let client = register(&a).await;
        let code = new_code(&a, &client).await;
        let body: serde_json::Value = exchange(&a, &client, &code).await.json_body().unwrap();
        let dump: String = sqlx::query_scalar(
            "SELECT string_agg(t::text, ' ') FROM (\
               SELECT row_to_json(c)::text AS t FROM tessera_clients c \
               UNION ALL SELECT row_to_json(k)::text FROM tessera_codes k \
               UNION ALL SELECT row_to_json(o)::text FROM tessera_tokens o) rows",
        )
        .fetch_one(stores[0].pool())
        .await
        .expect("dump");
        let secrets = [
            client.secret.as_str(),
            code.as_str(),
            body["access_token"].as_str().unwrap(),
            body["refresh_token"].as_str().unwrap(),
        ];
        for secret in secrets {
            assert!(!dump.contains(secret), "a secret is stored in clear");
        }
        assert!(dump.contains("sha256:"), "the client secret hash is stored");
    })
    .await;
}

#[test]
fn public_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let _ = |store: PgStore| {
        is_send(&PgStore::connect("postgres://x"));
        is_send(&PgStore::connect_in_schema("postgres://x", "s"));
        is_send(&store.migrate());
    };
}

/// A misspelled scheme is refused before any connection, and a refused port at once (not
/// after the pool's 30 s), each error naming its cause and never the password.
#[tokio::test]
async fn connecting_fails_fast_and_names_the_cause() {
    use tessera::StoreError;
    let started = std::time::Instant::now();
    let error = PgStore::connect("postgress://u:hunter2@127.0.0.1:5432/test")
        .await
        .expect_err("a misspelled scheme");
    assert!(matches!(error, StoreError::Backend(_)), "{error}");
    assert!(error.to_string().contains("`postgress`"), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
    let error = PgStore::connect_in_schema("postgress://u:hunter2@127.0.0.1/test", "ok")
        .await
        .expect_err("a misspelled scheme");
    assert!(error.to_string().contains("`postgress`"), "{error}");
    // Port 1 on the loopback refuses connections.
    let error = PgStore::connect("postgres://u:hunter2@127.0.0.1:1/test")
        .await
        .expect_err("a refused port");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
    assert!(
        error.to_string().to_lowercase().contains("refused"),
        "the cause is named: {error}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a refused port fails at once, not after a pool timeout ({:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_urls_and_schema_names_are_refused() {
    let Some(url) = database_url() else { return };
    assert!(PgStore::connect("not a url").await.is_err());
    assert!(PgStore::connect_in_schema("mysql://x", "ok").await.is_err());
    for bad in [
        "",
        "Upper",
        "1abc",
        "a-b",
        "a\"b",
        "a;drop",
        &"x".repeat(64),
    ] {
        assert!(
            PgStore::connect_in_schema(&url, bad).await.is_err(),
            "{bad:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Two providers on one database

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

/// Two providers, each over its own store (own pool), sharing one schema.
fn providers(stores: &[Arc<PgStore>]) -> (Provider, Provider) {
    let a: Arc<dyn Storage> = stores[0].clone();
    let b: Arc<dyn Storage> = stores[1].clone();
    (
        Provider::builder(config(), a).build(),
        Provider::builder(config(), b).build(),
    )
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

fn form(client: &TestClient, body: String) -> FormRequest {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", client.id, client.secret));
    FormRequest::new(body.into_bytes()).with_authorization(Some(&format!("Basic {basic}")))
}

async fn exchange(provider: &Provider, client: &TestClient, code: &str) -> Response {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(code),
        urlencode(REDIRECT)
    );
    provider.token(&form(client, body)).await
}

async fn bearer_ok(provider: &Provider, access: &str) -> bool {
    let header = format!("Bearer {access}");
    provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .is_ok()
}

fn error_of(response: &Response) -> String {
    response
        .json_body()
        .and_then(|b| b["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_providers_share_codes_tokens_and_revocations() {
    with_schema(2, |stores| async move {
        let (a, b) = providers(&stores);
        let client = register(&a).await;

        // A code issued by one instance is redeemed by the other.
        let code = new_code(&a, &client).await;
        let response = exchange(&b, &client, &code).await;
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let body = response.json_body().unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        assert!(bearer_ok(&a, &access).await, "A sees B's token");
        assert!(bearer_ok(&b, &access).await);

        // Replaying the code at the first instance is refused, and (RFC 6749 §4.1.2) revokes
        // what the code gave.
        let replay = exchange(&a, &client, &code).await;
        assert_eq!(error_of(&replay), "invalid_grant");
        assert!(!bearer_ok(&b, &access).await, "a replay revokes the family");

        // A fresh family; rotated on one instance, revoked on the other.
        let code = new_code(&a, &client).await;
        let body = exchange(&a, &client, &code).await.json_body().unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        let refresh2 = body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(refresh, refresh2);
        let rotated = b
            .token(&form(
                &client,
                format!(
                    "grant_type=refresh_token&refresh_token={}",
                    urlencode(&refresh2)
                ),
            ))
            .await;
        assert_eq!(
            rotated.status,
            200,
            "{}",
            String::from_utf8_lossy(&rotated.body)
        );
        let rotated = rotated.json_body().unwrap();
        let access2 = rotated["access_token"].as_str().unwrap().to_owned();
        let refresh3 = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert!(bearer_ok(&a, &access2).await);

        let revoked = b
            .revoke(&form(&client, format!("token={}", urlencode(&refresh3))))
            .await;
        assert_eq!(revoked.status, 200);
        for token in [&access, &access2] {
            assert!(!bearer_ok(&a, token).await, "A sees B's revocation");
        }
        let after = a
            .token(&form(
                &client,
                format!(
                    "grant_type=refresh_token&refresh_token={}",
                    urlencode(&refresh3)
                ),
            ))
            .await;
        assert_eq!(error_of(&after), "invalid_grant");

        // Deleting the client on one instance leaves nothing behind for the other.
        let code = new_code(&a, &client).await;
        let body = exchange(&b, &client, &code).await.json_body().unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        let id = tessera::ClientId::new(client.id.clone()).unwrap();
        assert!(a.delete_client(&id).await.unwrap());
        assert!(!bearer_ok(&b, &access).await);
        for table in [
            "tessera_grants",
            "tessera_tokens",
            "tessera_codes",
            "tessera_consents",
            "tessera_devices",
        ] {
            let left: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {table} WHERE client_id = $1"
            ))
            .bind(&client.id)
            .fetch_one(stores[0].pool())
            .await
            .unwrap();
            assert_eq!(left, 0, "{table} keeps rows of a deleted client");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redemptions_across_two_providers_leave_no_live_token() {
    with_schema(2, |stores| async move {
        let (a, b) = providers(&stores);
        let client = Arc::new(register(&a).await);
        for round in 0..3 {
            let code = new_code(if round % 2 == 0 { &a } else { &b }, &client).await;
            let tasks: Vec<_> = (0..16)
                .map(|i| {
                    let provider = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let client = Arc::clone(&client);
                    let code = code.clone();
                    tokio::spawn(async move { exchange(&provider, &client, &code).await })
                })
                .collect();
            // At most one gets tokens; the others are replays, so none stays live (RFC 9700
            // §4.5): a replay before the winner stored its tokens makes the winner fail too.
            let mut winners = Vec::new();
            for task in tasks {
                let response = task.await.expect("task");
                match response.status {
                    200 => winners.push(response.json_body().unwrap()),
                    _ => assert_eq!(error_of(&response), "invalid_grant"),
                }
            }
            assert!(
                winners.len() <= 1,
                "at most one of 16 redemptions wins (round {round})"
            );
            for tokens in winners {
                let access = tokens["access_token"].as_str().unwrap();
                assert!(!bearer_ok(&a, access).await && !bearer_ok(&b, access).await);
            }
        }
    })
    .await;
}

async fn count(store: &PgStore, sql: &str, grant: &str) -> i64 {
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

    with_schema(1, |stores| async move {
        let store = &stores[0];
        let grants = "SELECT count(*) FROM tessera_grants WHERE id = $1";
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
        let tokens = "SELECT count(*) FROM tessera_tokens WHERE grant_id = $1";
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

    with_schema(2, |stores| async move {
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
                sqlx::query_scalar("SELECT count(*) FROM tessera_tokens WHERE grant_id = $1")
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

/// Migration 3 carries what versions 1 and 2 stored: codes get their grants (a spent code's
/// missing grant stored revoked), version 2's bars become tombstones, an approved device gets
/// its grant, and each still redeems (or is refused) as it would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_3_carries_the_records_of_earlier_versions() {
    use tessera::store::{
        CodeRedemption, CodeStore, DeviceRedemption, DeviceStore, Family, Grant, GrantId,
        IssueOutcome, TokenRecord, TokenStore, TokenType,
    };
    use tessera::{ClientId, TokenHash};

    let Some(url) = database_url() else { return };
    let schema = random_schema();
    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .expect("connect");
    let pool = store.pool().clone();
    // Versions 1 and 2 as an earlier build applied them.
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(include_str!(
        "../src/store/postgres/migrations/0001_initial.sql"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql(include_str!(
        "../src/store/postgres/migrations/0002_barred_grants.sql"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE tessera_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO tessera_schema_migrations (version, name) VALUES (1, 'initial'), \
         (2, 'barred_grants');",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    // A client as version 2 stored it.
    let client = tessera::Client::new(
        ClientId::new(format!("client-{schema}")).unwrap(),
        "Test client",
        tessera::ClientType::Confidential,
        time::OffsetDateTime::now_utc(),
    );
    sqlx::query("INSERT INTO tessera_clients (id, record, created_at) VALUES ($1, $2, $3)")
        .bind(client.id.as_str())
        .bind(sqlx::types::Json(&client))
        .bind(client.created_at)
        .execute(&pool)
        .await
        .unwrap();
    let hash = |name: &str| TokenHash::of(&format!("{}-{name}", client.id));
    let code = |name: &str, grant: &str, spent: bool| {
        let (pool, client, hash) = (pool.clone(), client.id.clone(), hash(name));
        let grant = grant.to_owned();
        async move {
            sqlx::query(
                "INSERT INTO tessera_codes (hash, grant_id, client_id, user_id, scopes, \
                 grant_type, grant_created_at, redirect_uri, expires_at, spent) VALUES \
                 ($1, $2, $3, 'u', 'read', 'authorization_code', now(), NULL, \
                 now() + interval '1 hour', $4)",
            )
            .bind(hash.as_bytes().as_slice())
            .bind(grant)
            .bind(client.as_str())
            .bind(spent)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    let live = format!("{}-live", client.id);
    let barred = format!("{}-barred", client.id);
    let spent = format!("{}-spent", client.id);
    code("live", &live, false).await;
    code("barred", &barred, true).await;
    code("spent", &spent, true).await;
    sqlx::query("INSERT INTO tessera_barred_grants (grant_id, expires_at) VALUES ($1, now())")
        .bind(&barred)
        .execute(&pool)
        .await
        .unwrap();
    let approved = format!("{}-approved", client.id);
    let grant = serde_json::json!({
        "id": approved, "client_id": client.id.as_str(), "user": "u", "scopes": "read",
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "created_at": 1_900_000_000,
    });
    sqlx::query(
        "INSERT INTO tessera_devices (device_hash, user_code_hash, client_id, scopes, expires_at, \
         poll_interval, last_poll_at, status, approved_grant) VALUES \
         ($1, $2, $3, 'read', now() + interval '1 hour', 5, NULL, 'approved', $4)",
    )
    .bind(hash("device").as_bytes().as_slice())
    .bind(hash("user-code").as_bytes().as_slice())
    .bind(client.id.as_str())
    .bind(sqlx::types::Json(&grant))
    .execute(&pool)
    .await
    .unwrap();

    store.migrate().await.expect("migrate to version 3");

    let grant_of = |id: &str| {
        Grant::new(
            GrantId::new(id),
            ClientId::new(client.id.as_str()).unwrap(),
            Some(UserId::new("u")),
            ScopeSet::parse("read").unwrap(),
            GrantType::AuthorizationCode,
            time::OffsetDateTime::now_utc(),
        )
    };
    let tokens = |id: &str| {
        vec![TokenRecord::new(
            TokenHash::of(&format!("{id}-token")),
            TokenType::Access,
            &grant_of(id),
            ScopeSet::parse("read").unwrap(),
            time::OffsetDateTime::now_utc(),
            None,
            None,
        )]
    };
    assert_eq!(
        store
            .redeem_code(&hash("live"), &tokens(&live))
            .await
            .unwrap(),
        CodeRedemption::Redeemed,
        "a live code of version 2 redeems"
    );
    assert!(
        store
            .find_token(&tokens(&live)[0].hash)
            .await
            .unwrap()
            .is_some()
    );
    for grant in [&barred, &spent] {
        assert_eq!(
            store
                .issue_tokens(Family::Existing(&GrantId::new(grant.as_str())), &[])
                .await
                .unwrap(),
            IssueOutcome::GrantRevoked,
            "a barred or spent code's grant is a tombstone"
        );
    }
    assert_eq!(
        store.redeem_code(&hash("barred"), &[]).await.unwrap(),
        CodeRedemption::Replayed(GrantId::new(barred.as_str()))
    );
    assert_eq!(
        store
            .redeem_device(&hash("device"), &tokens(&approved))
            .await
            .unwrap(),
        DeviceRedemption::Redeemed,
        "an approval of version 2 redeems"
    );
    let dropped = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
    pool.close().await;
    dropped.expect("drop the test schema");
}

/// Migration 7 carries the clients of earlier versions: read back with no expiry mark, never
/// swept as unused; a client stored after it with a mark is swept once due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_7_carries_the_records_of_earlier_versions() {
    use tessera::ClientId;
    use tessera::store::ClientStore;
    use time::{Duration, OffsetDateTime};

    let Some(url) = database_url() else { return };
    let schema = random_schema();
    let store = PgStore::connect_in_schema(&url, &schema)
        .await
        .expect("connect");
    let pool = store.pool().clone();
    // Versions 1 to 5 as an earlier build applied them.
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        include_str!("../src/store/postgres/migrations/0001_initial.sql"),
        include_str!("../src/store/postgres/migrations/0002_barred_grants.sql"),
        include_str!("../src/store/postgres/migrations/0003_tombstones.sql"),
        include_str!("../src/store/postgres/migrations/0004_extensions.sql"),
        include_str!("../src/store/postgres/migrations/0005_replay_keys.sql"),
    ] {
        sqlx::raw_sql(sql).execute(&mut *conn).await.unwrap();
    }
    sqlx::raw_sql(
        "CREATE TABLE tessera_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO tessera_schema_migrations (version, name) VALUES (1, 'initial'), \
         (2, 'barred_grants'), (3, 'tombstones'), (4, 'extensions'), (5, 'replay_keys');",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let old = tessera::Client::new(
        ClientId::new(format!("old-{schema}")).unwrap(),
        "Old client",
        tessera::ClientType::Public,
        now,
    );
    sqlx::query("INSERT INTO tessera_clients (id, record, created_at) VALUES ($1, $2, $3)")
        .bind(old.id.as_str())
        .bind(sqlx::types::Json(&old))
        .bind(old.created_at)
        .execute(&pool)
        .await
        .unwrap();

    store.migrate().await.expect("migrate to version 7");

    assert_eq!(store.find_client(&old.id).await.unwrap(), Some(old.clone()));
    let fresh = tessera::Client::new(
        ClientId::new(format!("new-{schema}")).unwrap(),
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
    let dropped = sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await;
    pool.close().await;
    dropped.expect("drop the test schema");
}

/// A deletion interrupted after its first step (the mark) leaves no token of the client valid,
/// keeps its ID taken, and is finished by the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_deletion_is_finished_by_the_sweep() {
    use tessera::store::{ClientStore, Family, Grant, GrantId, TokenRecord, TokenStore, TokenType};
    use tessera::{ClientId, StoreError, TokenHash};
    use time::OffsetDateTime;

    with_schema(1, |stores| async move {
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
        sqlx::query("UPDATE tessera_grants SET revoked_at = now() WHERE id = $1")
            .bind(revoked.id.as_str())
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.find_token(&orphan.hash).await.unwrap(), None);
        // The first step of delete_client, and then a crash.
        sqlx::query("UPDATE tessera_clients SET deleted_at = now() WHERE id = $1")
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
                sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {column} = $1"))
                    .bind(client.id.as_str())
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(left, 0, "{table} keeps rows of the deleted client");
        }
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM tessera_grants WHERE client_id = $1")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dpop_proof_used_at_one_provider_is_refused_at_another() {
    with_schema(2, |stores| async move {
        let (a, b) = providers(&stores);
        let client = register(&a).await;
        let key = testkit::DpopKey::generate(tessera::jose::Algorithm::Es256);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let proof = key
            .proof("POST", "https://auth.example.com/token", now, None, None)
            .await;
        let body = |code: &str| {
            format!(
                "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
                urlencode(code),
                urlencode(REDIRECT)
            )
        };
        let first = new_code(&a, &client).await;
        let response = a
            .token(&form(&client, body(&first)).with_dpop(Some(&proof)))
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
        let second = new_code(&b, &client).await;
        let replay = b
            .token(&form(&client, body(&second)).with_dpop(Some(&proof)))
            .await;
        assert_eq!(replay.status, 400);
        let error = replay.json_body().unwrap()["error"].clone();
        assert_eq!(error, "invalid_dpop_proof");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_assertion_used_at_one_provider_is_refused_at_another() {
    with_schema(2, |stores| async move {
        let (a, b) = providers(&stores);
        assertion_replay::assertion_replay_across(&a, &b).await;
    })
    .await;
}
