//! The Redis store: the storage conformance kit, the key layout's bookkeeping, and several
//! providers sharing one Redis.
//!
//! Needs a Redis at `TESSERA_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`); each test skips
//! with a note when it is unset. Every test works under its own random key prefix, so tests run
//! in parallel and beside other users of the server, and purges its keys when done.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[path = "support/assertion_replay.rs"]
mod assertion_replay;

use std::future::Future;
use std::sync::Arc;

use common::{CHALLENGE, REDIRECT, VERIFIER, config, error_of, params, urlencode, user};
use redis::AsyncCommands;
use tessera::store::{
    ClientStore, CodeRecord, CodeStore, Consent, ConsentStore, DeviceRecord, DeviceStatus,
    DeviceStore, Family, Grant, GrantId, Insertion, IssueOutcome, RedisStore, Storage, TokenRecord,
    TokenStore, TokenType,
};
use tessera::testkit::ManualClock;
use tessera::testkit::{self, RedirectExt, ResponseExt};
use tessera::{
    AuthMethod, BearerRequest, ClientRegistration, Entropy, FormRequest, GrantType, OsEntropy,
    Provider, ScopeSet, TokenHash, UserId,
};
use time::{Duration, OffsetDateTime};

fn url() -> Option<String> {
    match std::env::var("TESSERA_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("TESSERA_TEST_REDIS_URL is not set: skipping the Redis store tests");
            None
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsEntropy.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A store under a fresh random prefix, or `None` (skip) without a Redis.
async fn store() -> Option<RedisStore> {
    let url = url()?;
    let store = RedisStore::connect(&url)
        .await
        .expect("connect to TESSERA_TEST_REDIS_URL");
    Some(store.with_prefix(format!("tessera-test:{}:", random_hex(8))))
}

/// A plain connection for looking at the keys behind the store's back.
async fn raw() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url().expect("url")).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Every key under the store's prefix.
async fn keys(store: &RedisStore) -> Vec<String> {
    let mut conn = raw().await;
    let mut keys: Vec<String> = conn.keys(format!("{}*", store.prefix())).await.unwrap();
    keys.sort();
    keys
}

/// Runs `body` on a fresh store (in a task, so that a failure still purges), then purges.
async fn with_store<F, Fut>(body: F)
where
    F: FnOnce(RedisStore) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(store) = store().await else { return };
    let outcome = tokio::spawn(body(store.clone())).await;
    store.purge().await.expect("purge");
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

fn shared(store: RedisStore) -> Arc<dyn Storage> {
    Arc::new(store)
}

// ---- The conformance kit, one test per check -------------------------------------------------

macro_rules! conformance {
    ($($name:ident => $check:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                with_store(|store| $check(shared(store))).await;
            }
        )*
    };
}

conformance! {
    kit_clients => testkit::clients;
    kit_update_keeps_secret => testkit::update_keeps_secret;
    kit_registration_token_swap => testkit::registration_token_swap;
    kit_bounded_delete => |store| testkit::bounded_delete(store, 20_000);
    kit_client_checked_on_issue => testkit::client_checked_on_issue;
    kit_codes => testkit::codes;
    kit_tokens => testkit::tokens;
    kit_rotation => testkit::rotation;
    kit_grants => testkit::grants;
    kit_revocation_tombstone => testkit::revocation_tombstone;
    kit_consents => testkit::consents;
    kit_large_consent => testkit::large_consent;
    kit_devices => testkit::devices;
    kit_sweep => testkit::sweep;
    kit_sweep_backlog => |store| testkit::sweep_backlog(store, 300);
    kit_ping => testkit::ping;
    kit_retired_refresh_survives_sweep => testkit::retired_refresh_survives_sweep;
    kit_code_replay => testkit::code_replay;
    kit_replays => testkit::replays;
    kit_unused_clients => testkit::unused_clients;
    kit_replay_race => |store| testkit::replay_race(store, 64);
    kit_code_race => |store| testkit::code_race(store, 100);
    kit_code_replay_race => |store| testkit::code_replay_race(store, 50);
    kit_code_redemption_atomic => |store| testkit::code_redemption_atomic(store, 20);
    kit_rotation_race => |store| testkit::rotation_race(store, 50);
    kit_device_redemption_race => |store| testkit::device_redemption_race(store, 20);
    kit_model => |store: Arc<dyn Storage>| async move {
        for seed in 0..4 {
            testkit::model(Arc::clone(&store), seed, 40).await;
        }
    };
    kit_all_checks_share_one_store => testkit::run_all;
}

// ---- The key layout's bookkeeping ------------------------------------------------------------

fn hash() -> TokenHash {
    let mut bytes = [0u8; 32];
    OsEntropy.fill(&mut bytes);
    TokenHash::from_bytes(bytes)
}

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap()
}

fn grant_of(client: &tessera::Client, user: &str, at: OffsetDateTime) -> Grant {
    Grant::new(
        GrantId::new(random_hex(8)),
        client.id.clone(),
        Some(UserId::new(user)),
        scopes("read"),
        GrantType::AuthorizationCode,
        at,
    )
}

fn token_of(
    grant: &Grant,
    kind: TokenType,
    at: OffsetDateTime,
    expires: Option<OffsetDateTime>,
) -> TokenRecord {
    TokenRecord::new(hash(), kind, grant, grant.scopes.clone(), at, expires, None)
}

/// Stores one of everything for a client: a grant with a live, a retired and a never-expiring
/// token, a code (with its own grant), a consent, a pending and an approved device
/// authorization.
async fn populate(store: &RedisStore, at: OffsetDateTime) -> tessera::Client {
    let client = testkit::new_client(store).await;
    let grant = grant_of(&client, "u:1", at);
    let access = token_of(&grant, TokenType::Access, at, Some(at + Duration::hours(1)));
    let refresh = token_of(&grant, TokenType::Refresh, at, Some(at + Duration::days(1)));
    let forever = token_of(&grant, TokenType::Access, at, None);
    assert_eq!(
        store
            .issue_tokens(Family::New(&grant), &[access, refresh.clone(), forever])
            .await
            .unwrap(),
        IssueOutcome::Stored
    );
    let next = token_of(&grant, TokenType::Refresh, at, Some(at + Duration::days(1)));
    store
        .rotate_refresh(&refresh.hash, &[next], Some(vec![7]), at)
        .await
        .unwrap();
    let code = CodeRecord::new(
        hash(),
        grant_of(&client, "u:1", at),
        None,
        None,
        at + Duration::minutes(1),
    );
    assert_eq!(store.insert_code(&code).await.unwrap(), Insertion::Stored);
    store
        .save_consent(&Consent::new(
            UserId::new("u:1"),
            client.id.clone(),
            scopes("read"),
            at,
        ))
        .await
        .unwrap();
    for approve in [false, true] {
        let device = DeviceRecord::new(
            hash(),
            hash(),
            client.id.clone(),
            scopes("read"),
            at + Duration::minutes(10),
            5,
        );
        store.insert_device(&device).await.unwrap();
        if approve {
            let mut approved = grant_of(&client, "u:1", at);
            approved.grant_type = GrantType::DeviceCode;
            assert!(
                store
                    .decide_device(
                        &device.user_code_hash,
                        DeviceStatus::Approved { grant: approved }
                    )
                    .await
                    .unwrap()
            );
        }
    }
    client
}

#[tokio::test]
async fn deleting_a_client_leaves_no_key_behind() {
    with_store(|store| async move {
        let client = populate(&store, OffsetDateTime::now_utc()).await;
        assert!(
            keys(&store).await.len() > 10,
            "records and their indexes are stored: {:?}",
            keys(&store).await
        );
        assert!(store.delete_client(&client.id).await.unwrap());
        assert_eq!(keys(&store).await, Vec::<String>::new());
    })
    .await;
}

#[tokio::test]
async fn sweeping_everything_leaves_only_the_client_and_its_consent() {
    with_store(|store| async move {
        let long_ago = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
        let client = populate(&store, long_ago).await;
        let grant = grant_of(&client, "u:2", long_ago);
        let token = token_of(&grant, TokenType::Access, long_ago, Some(long_ago));
        store
            .issue_tokens(Family::New(&grant), std::slice::from_ref(&token))
            .await
            .unwrap();
        assert!(store.revoke_token(&token.hash).await.unwrap());
        let now = long_ago + Duration::days(30);
        while store.sweep_codes(now, 1).await.unwrap() > 0 {}
        while store.sweep_devices(now, 1).await.unwrap() > 0 {}
        while store.sweep_tokens(now, 1).await.unwrap() > 0 {}
        // The never-expiring token keeps its grant (and the grant's indexes) alive.
        let prefix = store.prefix().to_owned();
        let mut left: Vec<String> = keys(&store)
            .await
            .into_iter()
            .map(|k| k[prefix.len()..].split(':').next().unwrap().to_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "client.consents",
                "client.grants",
                "client.v2",
                "grant.tokens",
                "grant.v2",
                "token.v2",
                "ucgrants",
                "user.consents",
            ],
            "{:?}",
            keys(&store).await
        );
        // The emptied grant went with its last token; the code's and the device's with
        // their sweeps; the other is still active.
        assert_eq!(
            store
                .issue_tokens(Family::Existing(&grant.id), &[])
                .await
                .unwrap(),
            IssueOutcome::GrantRevoked
        );
    })
    .await;
}

/// A deletion interrupted after its first step (the mark) leaves no token of the client valid,
/// keeps its ID taken, and is finished by the sweep, key for key.
#[tokio::test]
async fn an_interrupted_deletion_is_finished_by_the_sweep() {
    with_store(|store| async move {
        let client = populate(&store, OffsetDateTime::now_utc()).await;
        let grant = grant_of(&client, "u:3", OffsetDateTime::now_utc());
        let token = token_of(&grant, TokenType::Access, OffsetDateTime::now_utc(), None);
        store
            .issue_tokens(Family::New(&grant), std::slice::from_ref(&token))
            .await
            .unwrap();
        // The first step of delete_client (delete_client.lua), and then a crash.
        let mut conn = raw().await;
        let prefix = store.prefix().to_owned();
        let id = client.id.as_str();
        let _: () = redis::pipe()
            .del(format!("{prefix}client.v2:{id}"))
            .set(format!("{prefix}client.gone:{id}"), "1")
            .sadd(format!("{prefix}reap.clients"), id)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(store.find_token(&token.hash).await.unwrap(), None);
        assert!(matches!(
            store.insert_client(&client).await,
            Err(tessera::StoreError::Conflict)
        ));
        let long_ago = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
        while store.sweep_tokens(long_ago, 3).await.unwrap() >= 3 {}
        assert_eq!(keys(&store).await, Vec::<String>::new());
        store
            .insert_client(&client)
            .await
            .expect("the ID is free once reaped");
    })
    .await;
}

#[tokio::test]
async fn records_expire_in_redis_after_their_grace_unless_already_past() {
    with_store(|store| async move {
        let store = store.with_expiry_grace(Some(Duration::minutes(5)));
        let client = testkit::new_client(&store).await;
        let now = OffsetDateTime::now_utc();
        let grant = grant_of(&client, "u", now);
        let soon = token_of(
            &grant,
            TokenType::Refresh,
            now,
            Some(now + Duration::hours(1)),
        );
        let past = token_of(
            &grant,
            TokenType::Access,
            now,
            Some(now - Duration::hours(1)),
        );
        let never = token_of(&grant, TokenType::Access, now, None);
        store
            .issue_tokens(
                Family::New(&grant),
                &[soon.clone(), past.clone(), never.clone()],
            )
            .await
            .unwrap();
        let mut conn = raw().await;
        let ttl =
            |hash: &TokenHash, kind: &str| format!("{}{kind}:{}", store.prefix(), hash.to_hex());
        let soon_ttl: i64 = conn.ttl(ttl(&soon.hash, "token.v2")).await.unwrap();
        assert!(
            (3600 + 300 - 10..=3600 + 300).contains(&soon_ttl),
            "expires_at + grace, found {soon_ttl}"
        );
        let past_ttl: i64 = conn.ttl(ttl(&past.hash, "token.v2")).await.unwrap();
        assert_eq!(past_ttl, -1, "already past: left to the sweep");
        let never_ttl: i64 = conn.ttl(ttl(&never.hash, "token.v2")).await.unwrap();
        assert_eq!(never_ttl, -1);
        // A retired token keeps the live one's remaining lifetime.
        store
            .rotate_refresh(&soon.hash, &[], None, now)
            .await
            .unwrap();
        let retired_ttl: i64 = conn.ttl(ttl(&soon.hash, "retired.v2")).await.unwrap();
        assert!(
            (soon_ttl - 10..=soon_ttl).contains(&retired_ttl),
            "{retired_ttl}"
        );

        let untimed = store.clone().with_expiry_grace(None);
        let late = token_of(
            &grant,
            TokenType::Access,
            now,
            Some(now + Duration::hours(1)),
        );
        untimed
            .issue_tokens(Family::Existing(&grant.id), std::slice::from_ref(&late))
            .await
            .unwrap();
        let late_ttl: i64 = conn.ttl(ttl(&late.hash, "token.v2")).await.unwrap();
        assert_eq!(late_ttl, -1, "no Redis expiry without a grace");
    })
    .await;
}

#[tokio::test]
async fn stores_under_different_prefixes_share_nothing() {
    with_store(|store| async move {
        let client = testkit::new_client(&store).await;
        let other = store
            .clone()
            .with_prefix(format!("{}other:", store.prefix()));
        assert_eq!(other.find_client(&client.id).await.unwrap(), None);
        testkit::new_client(&other).await;
        assert_eq!(other.purge().await.unwrap(), 1);
        assert!(store.find_client(&client.id).await.unwrap().is_some());
        assert!(
            RedisStore::connect(&url().unwrap())
                .await
                .unwrap()
                .with_prefix("")
                .purge()
                .await
                .is_err(),
            "an empty prefix is never purged"
        );
    })
    .await;
}

#[tokio::test]
async fn a_corrupt_record_is_an_error_not_a_panic() {
    with_store(|store| async move {
        let mut conn = raw().await;
        let client = testkit::new_client(&store).await;
        let grant = grant_of(&client, "u", OffsetDateTime::now_utc());
        let token = token_of(&grant, TokenType::Access, OffsetDateTime::now_utc(), None);
        store
            .issue_tokens(Family::New(&grant), std::slice::from_ref(&token))
            .await
            .unwrap();
        let _: () = conn
            .hset(
                format!("{}token.v2:{}", store.prefix(), token.hash.to_hex()),
                "rec",
                "{not json",
            )
            .await
            .unwrap();
        assert!(matches!(
            store.find_token(&token.hash).await,
            Err(tessera::StoreError::Corrupt(_))
        ));
        let device = hash();
        let _: () = conn
            .set(
                format!("{}usercode:{}", store.prefix(), device.to_hex()),
                "x",
            )
            .await
            .unwrap();
        assert_eq!(store.find_device_by_user_code(&device).await.unwrap(), None);
        assert!(
            !store
                .decide_device(&device, DeviceStatus::Denied)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable() {
    // Port 1 on the loopback refuses connections.
    let started = std::time::Instant::now();
    let outcome = RedisStore::connect("redis://u:hunter2@127.0.0.1:1").await;
    assert!(
        matches!(&outcome, Err(tessera::StoreError::Unavailable(cause)) if !cause.contains("hunter2")),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a refused port fails fast ({:?})",
        started.elapsed()
    );
    // A misspelled scheme is refused before any connection, naming the scheme only.
    let error = RedisStore::connect("redsi://u:hunter2@127.0.0.1:6379")
        .await
        .expect_err("a misspelled scheme");
    assert!(matches!(error, tessera::StoreError::Backend(_)), "{error}");
    assert!(error.to_string().contains("`redsi`"), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

// ---- Several providers sharing one Redis ---------------------------------------------------

/// Two providers, each with its own connection, over the same prefix.
async fn two_providers(store: &RedisStore) -> (Provider, Provider) {
    let (a, b, _) = two_providers_with_clock(store).await;
    (a, b)
}

/// Two providers sharing a manual clock that starts at the wall clock's time.
async fn two_providers_with_clock(store: &RedisStore) -> (Provider, Provider, ManualClock) {
    let other = RedisStore::connect(&url().unwrap())
        .await
        .unwrap()
        .with_prefix(store.prefix());
    let clock = ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    (
        Provider::builder(config(), Arc::new(store.clone()))
            .clock(Arc::new(clock.clone()))
            .build(),
        Provider::builder(config(), Arc::new(other))
            .clock(Arc::new(clock.clone()))
            .build(),
        clock,
    )
}

async fn public_client(provider: &Provider) -> String {
    let registered = provider
        .register_client(
            ClientRegistration::new("Public", REDIRECT)
                .with_auth_method(AuthMethod::None)
                .with_grant_types(vec![GrantType::AuthorizationCode]),
        )
        .await
        .unwrap();
    registered.client.id.as_str().to_owned()
}

async fn new_code(provider: &Provider, client: &str) -> String {
    let query = format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        urlencode(REDIRECT)
    );
    let pending = provider.authorize(&params(&query)).await.expect("valid");
    let scopes = pending.scopes().clone();
    let redirect = pending.approve(provider, user(), &scopes).await;
    redirect.param("code").expect("a code")
}

async fn redeem(provider: &Provider, client: &str, code: &str) -> tessera::Response {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={client}",
        urlencode(REDIRECT)
    );
    provider.token(&FormRequest::new(body)).await
}

async fn bearer_ok(provider: &Provider, access: &str) -> bool {
    provider
        .validate_bearer(
            &BearerRequest::header(&format!("Bearer {access}")),
            &ScopeSet::new(),
        )
        .await
        .is_ok()
}

#[tokio::test]
async fn a_code_issued_by_one_provider_is_redeemed_by_another_and_revocation_is_shared() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        let client = public_client(&a).await;
        let code = new_code(&a, &client).await;
        let response = redeem(&b, &client, &code).await;
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let access = response.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(bearer_ok(&a, &access).await);
        assert!(bearer_ok(&b, &access).await);
        // A replay on the first provider is refused.
        let replay = redeem(&a, &client, &code).await;
        assert_eq!(error_of(&replay), "invalid_grant");

        // Revoked on one, refused by the other.
        let revoked = a
            .revoke(&FormRequest::new(format!(
                "token={access}&client_id={client}"
            )))
            .await;
        assert_eq!(revoked.status, 200);
        assert!(!bearer_ok(&b, &access).await);
        assert!(!bearer_ok(&a, &access).await);

        // A client deleted through one is gone for the other.
        let second = new_code(&b, &client).await;
        let id = tessera::ClientId::new(client.clone()).unwrap();
        assert!(b.delete_client(&id).await.unwrap());
        assert!(a.client(&id).await.unwrap().is_none());
        assert_eq!(
            error_of(&redeem(&a, &client, &second).await),
            "invalid_client"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_redemptions_across_providers_at_most_one_wins_and_none_stays_live() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        let client = public_client(&a).await;
        for _ in 0..3 {
            let code = new_code(&a, &client).await;
            let attempts: Vec<_> = (0..24)
                .map(|i| {
                    let provider = if i % 2 == 0 { a.clone() } else { b.clone() };
                    let (client, code) = (client.clone(), code.clone());
                    tokio::spawn(async move { redeem(&provider, &client, &code).await })
                })
                .collect();
            // At most one gets tokens; the others are replays, so none stays live (RFC 9700
            // §4.5): a replay before the winner stored its tokens makes the winner fail too.
            let mut won = Vec::new();
            for attempt in attempts {
                let response = attempt.await.unwrap();
                match response.status {
                    200 => won.push(response.json_body().unwrap()),
                    _ => assert_eq!(error_of(&response), "invalid_grant"),
                }
            }
            assert!(
                won.len() <= 1,
                "at most one of 24 concurrent redemptions wins"
            );
            for tokens in won {
                let access = tokens["access_token"].as_str().unwrap();
                assert!(!bearer_ok(&a, access).await && !bearer_ok(&b, access).await);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_refreshes_across_providers_exactly_one_wins() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        let client = public_client(&a).await;
        let code = new_code(&a, &client).await;
        let response = redeem(&b, &client, &code).await;
        assert_eq!(response.status, 200);
        let refresh = response.json_body().unwrap()["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned();
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let provider = if i % 2 == 0 { a.clone() } else { b.clone() };
                let body =
                    format!("grant_type=refresh_token&refresh_token={refresh}&client_id={client}");
                tokio::spawn(async move { provider.token(&FormRequest::new(body)).await })
            })
            .collect();
        let mut won = 0;
        for attempt in attempts {
            let response = attempt.await.unwrap();
            match response.status {
                200 => won += 1,
                _ => assert_eq!(error_of(&response), "invalid_grant"),
            }
        }
        assert_eq!(
            won, 1,
            "exactly one of 16 concurrent refreshes rotates the token"
        );
    })
    .await;
}

#[test]
fn the_redis_store_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    fn is_clone_sync<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
    is_clone_sync::<RedisStore>();
    is_send(&RedisStore::connect("redis://127.0.0.1:1"));
    async fn purge(store: RedisStore) {
        is_send(&store.purge());
    }
    is_send(&purge);
}

/// Every key and value under the store's prefix, as text.
async fn dump(store: &RedisStore) -> String {
    let mut conn = raw().await;
    let mut out = String::new();
    for key in keys(store).await {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let values: Vec<String> = match kind.as_str() {
            "string" => vec![conn.get(&key).await.unwrap()],
            "hash" => conn.hvals(&key).await.unwrap(),
            "set" => conn.smembers(&key).await.unwrap(),
            "zset" => conn.zrange(&key, 0, -1).await.unwrap(),
            other => panic!("unexpected key type {other} at {key}"),
        };
        out.push_str(&key);
        out.push('\n');
        for value in values {
            out.push_str(&value);
            out.push('\n');
        }
    }
    out
}

#[tokio::test]
async fn no_secret_is_ever_written_to_redis() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        let registered = a
            .register_client(
                ClientRegistration::new("Confidential", REDIRECT)
                    .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::DeviceCode]),
            )
            .await
            .unwrap();
        let client = common::TestClient {
            id: registered.client.id.as_str().to_owned(),
            secret: registered.secret.map(|s| s.secret().to_owned()),
        };
        let basic = client.basic();
        let code = new_code(&a, &client.id).await;
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(REDIRECT)
        );
        let response = b
            .token(&FormRequest::new(body).with_authorization(Some(&basic)))
            .await;
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        let tokens = response.json_body().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let response = a
            .token(
                &FormRequest::new(format!("grant_type=refresh_token&refresh_token={refresh}"))
                    .with_authorization(Some(&basic)),
            )
            .await;
        assert_eq!(response.status, 200);
        let rotated = response.json_body().unwrap();
        let device = b
            .device_authorization(&FormRequest::new("scope=read").with_authorization(Some(&basic)))
            .await;
        assert_eq!(
            device.status,
            200,
            "{}",
            String::from_utf8_lossy(&device.body)
        );
        let device = device.json_body().unwrap();

        let stored = dump(&store).await;
        assert!(
            stored.contains(&TokenHash::of(&refresh).to_hex()),
            "hashes are stored"
        );
        let mut secrets = vec![code, refresh, client.secret.clone().unwrap()];
        for field in ["access_token", "refresh_token"] {
            secrets.push(tokens[field].as_str().unwrap().to_owned());
            secrets.push(rotated[field].as_str().unwrap().to_owned());
        }
        secrets.push(device["device_code"].as_str().unwrap().to_owned());
        let user_code = device["user_code"].as_str().unwrap().to_owned();
        secrets.push(user_code.replace('-', ""));
        secrets.push(user_code);
        for secret in &secrets {
            assert!(!secret.is_empty());
            assert!(
                !stored.contains(secret.as_str()),
                "a secret was written to Redis"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_device_flow_spans_providers_and_polls_are_counted_across_them() {
    with_store(|store| async move {
        let (a, b, clock) = two_providers_with_clock(&store).await;
        let registered = a
            .register_client(
                ClientRegistration::new("TV", REDIRECT)
                    .with_auth_method(AuthMethod::None)
                    .with_grant_types(vec![GrantType::DeviceCode]),
            )
            .await
            .unwrap();
        let client = registered.client.id.as_str().to_owned();
        let start = a
            .device_authorization(&FormRequest::new(format!("client_id={client}&scope=read")))
            .await;
        assert_eq!(start.status, 200, "{}", String::from_utf8_lossy(&start.body));
        let start = start.json_body().unwrap();
        let device_code = start["device_code"].as_str().unwrap().to_owned();
        let interval = start["interval"].as_i64().unwrap_or(5);
        let poll = |provider: Provider| {
            let body = format!(
                "grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code={device_code}&client_id={client}"
            );
            async move { provider.token(&FormRequest::new(body)).await }
        };
        assert_eq!(error_of(&poll(a.clone()).await), "authorization_pending");
        // The poll through A counts for B: polling again at once is too fast.
        assert_eq!(error_of(&poll(b.clone()).await), "slow_down");

        let pending = b
            .device_verification(start["user_code"].as_str().unwrap(), &tessera::DeviceAttempt::new(&tessera::UserId::new("k")))
            .await
            .unwrap();
        assert!(pending.approve(&b, user(), &scopes("read")).await.unwrap());
        clock.advance(Duration::seconds(interval + 5 + 1));
        let granted = poll(a.clone()).await;
        assert_eq!(granted.status, 200, "{}", String::from_utf8_lossy(&granted.body));
        clock.advance(Duration::seconds(60));
        assert_eq!(
            error_of(&poll(b.clone()).await),
            "invalid_grant",
            "tokens are handed out once"
        );
        let apps = a.authorized_apps(&user()).await.unwrap();
        assert!(apps.iter().any(|app| app.client_id == registered.client.id));
    })
    .await;
}

#[tokio::test]
async fn a_dpop_proof_used_at_one_provider_is_refused_at_another() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        let client = public_client(&a).await;
        let key = testkit::DpopKey::generate(tessera::jose::Algorithm::Es256);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let proof = key
            .proof("POST", "https://auth.example.com/token", now, None, None)
            .await;
        let body = |code: &str| {
            format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={client}",
                urlencode(REDIRECT)
            )
        };
        let first = new_code(&a, &client).await;
        let response = a
            .token(&FormRequest::new(body(&first)).with_dpop(Some(&proof)))
            .await;
        assert_eq!(response.status, 200);
        assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
        let second = new_code(&b, &client).await;
        let replay = b
            .token(&FormRequest::new(body(&second)).with_dpop(Some(&proof)))
            .await;
        assert_eq!(replay.status, 400);
        assert_eq!(error_of(&replay), "invalid_dpop_proof");
    })
    .await;
}

#[tokio::test]
async fn a_client_assertion_used_at_one_provider_is_refused_at_another() {
    with_store(|store| async move {
        let (a, b) = two_providers(&store).await;
        assertion_replay::assertion_replay_across(&a, &b).await;
    })
    .await;
}
