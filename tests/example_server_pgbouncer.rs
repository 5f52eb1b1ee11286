//! The example server on PostgreSQL through PgBouncer in transaction mode
//! (`--postgres-transaction-pooling`, issue 23), store faults seen through HTTP: PgBouncer
//! started on loopback by the test (a free port from 6433) in front of the test server, a
//! schema of the test's own set by the bouncer's `connect_query`, and the small bounded load of
//! `support/fault_load.rs` (client-credentials token requests, `/api/me` with a token issued
//! before: 200 and 403 when they work).
//!
//! - The server migrates through the bouncer (its tables land in the bouncer's schema) and
//!   serves the load with only successes.
//! - **A paused bouncer**: PgBouncer SIGSTOPped for 7 s, longer than the store's 5 s operation
//!   timeout. Every answer is a success or a 503 with a JSON `error` of
//!   `temporarily_unavailable` and `Retry-After` (no other 5xx, no 401 for the valid token);
//!   some are 503; both kinds succeed again within 5 s of SIGCONT, and every token issued
//!   before the pause still validates.
//!
//! Bounded: the scenario gets 60 s; the bouncer and the server are killed and the schema
//! dropped whatever happens. Needs `TESSERA_TEST_POSTGRES_URL` (a server that lets its user in
//! without a password, as the local test server does) and Debian's `pgbouncer`; without either
//! it says so and passes (loudly for a missing binary), as tests/store_pgbouncer.rs does.
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[path = "support/cargo_env.rs"]
mod cargo_env;
#[path = "support/fault_load.rs"]
mod fault_load;
#[path = "support/listening_server.rs"]
mod listening_server;
#[path = "support/own_servers.rs"]
mod own_servers;
#[path = "support/pgbouncer.rs"]
mod pgbouncer;

use fault_load::{assert_none_lost, assert_well_formed};
use own_servers::random_hex;
use pgbouncer::Bouncer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn example_server_through_pgbouncer_survives_a_paused_bouncer() {
    let Some(url) = pgbouncer::url_or_skip() else {
        return;
    };
    let server = PgConnectOptions::from_str(&url).expect("a PostgreSQL URL");
    let schema = format!("tessera_pgbhttp_{}", random_hex(4));
    // The schema, created and dropped on a direct connection.
    let direct = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone())
        .await
        .expect("connect to PostgreSQL directly");
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&direct)
        .await
        .expect("create the test schema");
    let bouncer = Bouncer::start(&server, &[("oauth".to_owned(), schema.clone())]);
    let through = bouncer.url("oauth", server.get_username());
    let pid = bouncer.servers.children[0].id();
    let binary = cargo_env::build_example("server");

    let run = tokio::spawn(async move {
        tokio::time::timeout(Duration::from_secs(60), scenario(binary, through, pid))
            .await
            .expect("the scenario ends within 60 s");
    });
    let mut outcome = run.await;
    let log = bouncer.log();
    drop(bouncer);
    if outcome.is_ok() {
        // The tables went where the bouncer's search_path put them.
        let direct = direct.clone();
        let schema = schema.clone();
        outcome = tokio::spawn(async move {
            let tables: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name LIKE 'tessera\\_%'",
            )
            .bind(&schema)
            .fetch_one(&direct)
            .await
            .expect("count the tables");
            assert!(tables >= 8, "{schema} holds {tables} tessera tables");
        })
        .await;
    }
    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&direct)
        .await;
    direct.close().await;
    if let Err(failure) = outcome {
        eprintln!("pgbouncer's log:\n{log}");
        std::panic::resume_unwind(failure.into_panic());
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

async fn scenario(binary: PathBuf, through: String, bouncer: u32) {
    let flags = ["--database-url", &through, "--postgres-transaction-pooling"];
    let (_server, base) = listening_server::spawn_listening(&binary, &flags).await;

    let (api, access, load) = fault_load::started(&base).await;
    // A second of load, so that there are tokens to find after the fault.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // ---- The bouncer paused past the store's operation timeout.
    let stopped = Instant::now();
    let issued = load.issued_before(stopped);
    signal(bouncer, "-STOP");
    tokio::time::sleep(Duration::from_secs(7)).await;
    signal(bouncer, "-CONT");
    let resumed = Instant::now();
    let paused_503 = load.unavailable_between(stopped, resumed);
    let took = load
        .recovered("after SIGCONT", resumed, Duration::from_secs(5))
        .await;
    eprintln!(
        "paused bouncer: {paused_503} x 503 during the pause, both kinds back {took:?} after \
         SIGCONT"
    );
    assert!(paused_503 > 0, "no 503 while the bouncer was stopped");

    let answers = load.stop().await;
    assert_well_formed(&answers);

    // ---- Nothing lost: the first token and every token issued before the pause validate.
    assert_none_lost(&api, &base, &access, &issued, "pause").await;
}
