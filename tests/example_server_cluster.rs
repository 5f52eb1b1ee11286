//! The example server on a Redis Cluster, store faults seen through HTTP (issue 23): a cluster
//! of three masters with a replica each, started on loopback by the test (ports from 7301),
//! the example server on it (`--redis-cluster`, every node a seed), and a small bounded load of
//! client-credentials token requests and `/api/me` calls with a token issued before the load
//! (a valid client-credentials token: 403 `insufficient_scope` there, never 401).
//!
//! - **A paused master**: the master holding the store's slot is SIGSTOPped for 3 s (under the
//!   cluster's node timeout, so no failover). Every answer is 200 (token) or 403 (`/api/me`),
//!   or 503 with a JSON `error` of `temporarily_unavailable` and `Retry-After`; some are 503;
//!   both kinds succeed again within 5 s of SIGCONT.
//! - **A killed master**: once the replica holds every key the master held (so what was
//!   issued is replicated), the master is SIGKILLed. Answers are 503 (same rules) until its
//!   replica is promoted, both kinds succeed again within 5 s of the promotion, and every
//!   token issued before the kill, the first one included, still validates.
//!
//! Bounded: the scenario gets 60 s after the cluster is up; the cluster and the server are
//! killed whatever happens. Needs the `redis-server` and `redis-cli` binaries (Redis 7);
//! without them the test says so, loudly, and passes.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[path = "support/cargo_env.rs"]
mod cargo_env;
#[path = "support/fault_load.rs"]
mod fault_load;
#[path = "support/listening_server.rs"]
mod listening_server;
#[path = "support/own_servers.rs"]
mod own_servers;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use fault_load::{assert_none_lost, assert_well_formed};
use own_servers::{random_hex, wait_for};
use redis_cluster::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn example_server_survives_a_paused_and_a_killed_cluster_master() {
    let Some(cluster) = Cluster::start(7301) else {
        return;
    };
    let binary = cargo_env::build_example("server");
    tokio::time::timeout(Duration::from_secs(60), scenario(cluster, binary))
        .await
        .expect("the scenario ends within 60 s");
}

async fn scenario(mut cluster: Cluster, binary: std::path::PathBuf) {
    let prefix = format!("tessera-test:{}:http:", random_hex(4));
    // The server's store under the same prefix: only to learn its key prefix (its hash tag).
    let key_prefix = cluster.store(&prefix).await.key_prefix().to_owned();
    let slot = cluster.slot_of(&key_prefix);
    let mut flags = Vec::new();
    for url in cluster.urls() {
        flags.extend(["--redis-cluster".to_owned(), url]);
    }
    flags.extend(["--redis-prefix".to_owned(), prefix]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (_server, base) = listening_server::spawn_listening(&binary, &flags).await;

    // A client-credentials client and a token issued before everything.
    let (api, access, load) = fault_load::started(&base).await;

    // ---- (a) The master of the store's slot paused for 3 s (under cluster-node-timeout).
    let master = cluster.master_of(slot);
    let stopped = Instant::now();
    cluster.signal(master, "-STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.signal(master, "-CONT");
    let resumed = Instant::now();
    let paused_503 = load.unavailable_between(stopped, resumed);
    assert!(paused_503 > 0, "no 503 while the master was stopped");
    let took = load
        .recovered("after SIGCONT", resumed, Duration::from_secs(5))
        .await;
    eprintln!(
        "paused master: {paused_503} x 503 during the pause, both kinds back {took:?} after SIGCONT"
    );
    assert_eq!(
        cluster.master_of(slot),
        master,
        "the pause caused a failover"
    );

    // ---- (b) The master killed, once its replica holds every key it held.
    let replica = cluster.replica_of(master);
    let snapshot = Instant::now();
    let held: BTreeSet<String> = cluster
        .keys_on(cluster.ports[master], &key_prefix)
        .into_iter()
        .collect();
    assert!(!held.is_empty(), "the store's keys are on its master");
    wait_for(
        "the replica has what the master had",
        Duration::from_secs(10),
        || {
            let copied: BTreeSet<String> = cluster
                .keys_on(cluster.ports[replica], &key_prefix)
                .into_iter()
                .collect();
            held.is_subset(&copied)
        },
    );
    let issued = load.issued_before(snapshot);
    cluster.servers.children[master]
        .kill()
        .expect("kill the master");
    cluster.servers.children[master]
        .wait()
        .expect("reap the master");
    let killed = Instant::now();
    while cluster.master_of(slot) != replica {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the replica is not promoted 30 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let promoted = Instant::now();
    let took = load
        .recovered("after the promotion", promoted, Duration::from_secs(5))
        .await;
    let back = Instant::now();
    let killed_503 = load.unavailable_between(killed, back);
    eprintln!(
        "killed master: replica promoted {:?} after SIGKILL, {killed_503} x 503, both kinds \
         back {took:?} after the promotion",
        promoted - killed
    );
    assert!(killed_503 > 0, "no 503 between the kill and the promotion");

    let answers = load.stop().await;
    assert_well_formed(&answers);

    // ---- Nothing lost: the first token and every token issued before the snapshot validate.
    assert_none_lost(&api, &base, &access, &issued, "kill").await;
}
