//! The PostgreSQL store through PgBouncer in transaction mode: the whole storage conformance
//! kit, each check in a schema of its own behind a PgBouncer database entry of its own (two
//! server connections shared by the store's pool), migrations through the bouncer too; and two
//! stores (two pools) through the bouncer racing to redeem one code: exactly one wins.
//!
//! Needs `TESSERA_TEST_POSTGRES_URL` (a server that lets its user in without a password, as
//! the local test server does) and Debian's `pgbouncer` binary, which the test starts itself on
//! a free loopback port from 6433 and stops at its end, whatever happens. Without either it
//! says so and passes (loudly, in .ci/run, for a missing binary).
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tessera::store::{
    CodeRecord, CodeRedemption, CodeStore, Grant, GrantId, Insertion, PgStore, TokenRecord,
    TokenStore, TokenType,
};
use tessera::testkit;
use tessera::{Entropy, GrantType, OsEntropy, ScopeSet, TokenHash, UserId};
use time::{Duration, OffsetDateTime};

#[path = "support/own_servers.rs"]
mod own_servers;
#[path = "support/pgbouncer.rs"]
mod pgbouncer;
use own_servers::{kit, panic_message, random_hex};
use pgbouncer::Bouncer;

/// Kit checks run at once (each with its own database entry, so its own server connections).
const PARALLEL: usize = 4;

/// A store at `url` (the bouncer's) in transaction-pooling mode, migrated through the bouncer.
async fn pooled(url: &str) -> PgStore {
    let store = PgStore::connect(url)
        .await
        .expect("connect through pgbouncer")
        .with_transaction_pooling(true);
    store.migrate().await.expect("migrate through pgbouncer");
    store
}

/// Two stores, each with its own pool through the bouncer, race to redeem one code: exactly one
/// redemption wins, every other is a replay.
async fn two_stores_race_for_one_code(a: Arc<PgStore>, b: Arc<PgStore>) {
    let client = testkit::new_client(&*a).await;
    let now = OffsetDateTime::now_utc();
    for round in 0..5 {
        let grant = Grant::new(
            GrantId::new(random_hex(8)),
            client.id.clone(),
            Some(UserId::new("alice")),
            ScopeSet::parse("read").unwrap(),
            GrantType::AuthorizationCode,
            now,
        );
        let mut hash = [0u8; 32];
        OsEntropy.fill(&mut hash);
        let code = TokenHash::from_bytes(hash);
        let record = CodeRecord::new(code, grant.clone(), None, None, now + Duration::minutes(1));
        let inserted = if round % 2 == 0 { &a } else { &b }
            .insert_code(&record)
            .await
            .unwrap();
        assert_eq!(inserted, Insertion::Stored);
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let grant = grant.clone();
                tokio::spawn(async move {
                    let mut hash = [0u8; 32];
                    OsEntropy.fill(&mut hash);
                    let token = TokenRecord::new(
                        TokenHash::from_bytes(hash),
                        TokenType::Access,
                        &grant,
                        grant.scopes.clone(),
                        now,
                        Some(now + Duration::hours(1)),
                        None,
                    );
                    let outcome = store.redeem_code(&code, std::slice::from_ref(&token)).await;
                    (outcome, token)
                })
            })
            .collect();
        let mut won = 0;
        let mut tokens = Vec::new();
        for task in tasks {
            let (outcome, token) = task.await.expect("a redemption task");
            match outcome.expect("redeem_code through pgbouncer") {
                CodeRedemption::Redeemed => won += 1,
                CodeRedemption::Replayed(id) => assert_eq!(id, grant.id),
                other => panic!("a concurrent redemption of a live code: {other:?}"),
            }
            tokens.push(token);
        }
        assert_eq!(won, 1, "round {round}: exactly one of 16 redemptions wins");
        // The replays revoked the grant: the winner's token is gone too, on both stores.
        for token in &tokens {
            assert!(a.find_token(&token.hash).await.unwrap().is_none());
            assert!(b.find_token(&token.hash).await.unwrap().is_none());
        }
    }
}

/// One test, so that one bouncer serves every phase and is stopped at its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_through_pgbouncer_in_transaction_mode() {
    let Some(url) = pgbouncer::url_or_skip() else {
        return;
    };
    let server = PgConnectOptions::from_str(&url).expect("a PostgreSQL URL");
    let tag = random_hex(4);
    let mut entries: Vec<(String, String)> = kit()
        .iter()
        .enumerate()
        .map(|(n, _)| (format!("kit_{n}"), format!("tessera_pgb_{tag}_{n}")))
        .collect();
    entries.push(("race".to_owned(), format!("tessera_pgb_{tag}_race")));

    // The schemas, created and dropped on a direct connection.
    let direct = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone())
        .await
        .expect("connect to PostgreSQL directly");
    for (_, schema) in &entries {
        sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(&direct)
            .await
            .expect("create a test schema");
    }
    let bouncer = Bouncer::start(&server, &entries);
    let user = server.get_username().to_owned();

    let run = {
        let bouncer_url = |entry: &str| bouncer.url(entry, &user);
        let kit_urls: Vec<String> = (0..kit().len())
            .map(|n| bouncer_url(&format!("kit_{n}")))
            .collect();
        let race_url = bouncer_url("race");
        tokio::spawn(async move {
            // ---- The conformance kit, PARALLEL checks at a time, each in its own schema.
            let mut failed = Vec::new();
            let checks: Vec<_> = kit().into_iter().zip(kit_urls).collect();
            for batch in checks.chunks(PARALLEL) {
                let mut running = Vec::new();
                for ((name, check), url) in batch {
                    let store = pooled(url).await;
                    running.push((*name, tokio::spawn(check(Arc::new(store)))));
                }
                for (name, task) in running {
                    if let Err(failure) = task.await {
                        failed.push(format!("{name}: {}", panic_message(failure)));
                    }
                }
            }
            assert!(
                failed.is_empty(),
                "conformance checks failed through pgbouncer:\n{}",
                failed.join("\n")
            );

            // ---- Two pools through the bouncer, one code: exactly one redemption wins. A
            // second migration, concurrent with nothing, finds the schema current.
            let a = pooled(&race_url).await;
            let b = pooled(&race_url).await;
            two_stores_race_for_one_code(Arc::new(a), Arc::new(b)).await;
        })
    };
    let mut outcome = run.await;
    let log = bouncer.log();
    drop(bouncer);
    if outcome.is_ok() {
        // The tables went where the bouncer's search_path put them.
        let check = tokio::spawn({
            let direct = direct.clone();
            let schemas: Vec<String> = entries.iter().map(|(_, s)| s.clone()).collect();
            async move {
                for schema in schemas {
                    let tables: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM information_schema.tables \
                         WHERE table_schema = $1 AND table_name LIKE 'tessera\\_%'",
                    )
                    .bind(&schema)
                    .fetch_one(&direct)
                    .await
                    .expect("count the tables");
                    assert!(tables >= 8, "{schema} holds {tables} tessera tables");
                }
            }
        });
        outcome = check.await;
    }
    for (_, schema) in &entries {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&direct)
            .await;
    }
    direct.close().await;
    if let Err(failure) = outcome {
        eprintln!("pgbouncer's log:\n{log}");
        std::panic::resume_unwind(failure.into_panic());
    }
}
