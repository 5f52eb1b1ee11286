//! The Redis store on a Redis Cluster: the whole storage conformance kit on a cluster of three
//! masters with a replica each that the test starts on loopback (and stops, whatever happens),
//! each check under a prefix of its own; every store's keys in one slot; a purge that finds
//! them; a master that stops answering is `Unavailable`, and the store works again once it
//! answers; a master that dies is replaced by its replica, and the store finds what it wrote
//! before and works again.
//!
//! Needs the `redis-server` and `redis-cli` binaries (Redis 7); without them the test says so,
//! loudly, and passes.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::store::{ClientStore, TokenStore};
use tessera::testkit;
use tessera::{StoreError, TokenHash};

#[path = "support/own_servers.rs"]
mod own_servers;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;
use own_servers::{kit, panic_message, random_hex, wait_for};
use redis_cluster::Cluster;

/// One test, so that one cluster serves every phase and is stopped at its end (a test binary
/// has no hook after its last test).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_on_three_masters_with_replicas() {
    let Some(cluster) = Cluster::start(7101) else {
        return;
    };
    let mut cluster = cluster;

    // ---- The conformance kit, every check at once, each under its own prefix. Prefixes with
    // the characters a hash tag treats specially get the escaped tag and must work the same.
    let mut running = Vec::new();
    let mut stores = Vec::new();
    for (n, (name, check)) in kit().into_iter().enumerate() {
        let prefix = match n % 4 {
            0 => format!("tessera-test:{}:{name}:{{odd}}:", random_hex(4)),
            1 => format!("}}tessera-test={}:{name}:", random_hex(4)),
            _ => format!("tessera-test:{}:{name}:", random_hex(4)),
        };
        let store = cluster.store(&prefix).await;
        assert!(store.is_cluster());
        stores.push(store.clone());
        running.push((name, tokio::spawn(check(Arc::new(store)))));
    }
    let mut failed = Vec::new();
    for (name, task) in running {
        if let Err(failure) = task.await {
            failed.push(format!("{name}: {}", panic_message(failure)));
        }
    }
    assert!(
        failed.is_empty(),
        "conformance checks failed on the cluster:\n{}",
        failed.join("\n")
    );

    // ---- Each store's keys: all under its key prefix, all in one slot; the stores spread over
    // the masters; a purge removes every key of a store and nothing of the others.
    let mut masters = BTreeSet::new();
    for store in &stores {
        let start = store.key_prefix();
        assert!(start.starts_with('{') && start.ends_with('}'), "{start}");
        let keys: Vec<String> = cluster
            .ports
            .iter()
            .flat_map(|&port| cluster.keys_on(port, start))
            .collect();
        let slots: BTreeSet<u16> = keys.iter().map(|k| cluster.slot_of(k)).collect();
        assert!(slots.len() <= 1, "{start}: keys in slots {slots:?}");
        if let Some(&slot) = slots.iter().next() {
            assert_eq!(slot, cluster.slot_of(start), "{start}");
            masters.insert(cluster.master_of(slot));
        }
    }
    assert!(
        masters.len() >= 2,
        "the stores' slots all fell on one master: {masters:?}"
    );
    for store in &stores {
        store.purge().await.expect("purge");
    }
    // On the masters (replicas follow asynchronously).
    let masters: BTreeSet<usize> = (0..16384u16)
        .step_by(512)
        .map(|slot| cluster.master_of(slot))
        .collect();
    for &master in &masters {
        let left = cluster.keys_on(cluster.ports[master], "{");
        assert!(
            left.is_empty(),
            "{} keys left after purging, such as {:?}",
            left.len(),
            left.first()
        );
    }

    // ---- A master that stops answering: its stores' steps are Unavailable (within the
    // response timeout and the retries), never Backend; they work again once it answers.
    let store = cluster
        .store(&format!("tessera-test:{}:pause:", random_hex(4)))
        .await;
    let client = testkit::new_client(&store).await;
    let master = cluster.master_of(cluster.slot_of(store.key_prefix()));
    cluster.signal(master, "-STOP");
    let asked = Instant::now();
    let refused = store.find_token(&TokenHash::from_bytes([7; 32])).await;
    let waited = asked.elapsed();
    cluster.signal(master, "-CONT");
    // Stopped again, apart: each stop stays under the cluster's node timeout (5 s), so that
    // the replica is not promoted meanwhile.
    cluster.signal(master, "-STOP");
    let unready = store.ping().await;
    cluster.signal(master, "-CONT");
    eprintln!("a stopped master: refused after {waited:?}");
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "a stopped master: {refused:?}"
    );
    assert!(waited < Duration::from_secs(5), "refused after {waited:?}");
    assert!(
        matches!(unready, Err(StoreError::Unavailable(_))),
        "ping with a stopped master: {unready:?}"
    );
    let back = Instant::now();
    loop {
        match store.find_token(&TokenHash::from_bytes([7; 32])).await {
            Ok(found) => {
                assert!(found.is_none());
                break;
            }
            Err(StoreError::Unavailable(_)) if back.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("5 s after the master came back: {other:?}"),
        }
    }
    assert!(
        store.find_client(&client.id).await.unwrap().is_some(),
        "the client stored before the pause"
    );

    // ---- A master that dies: once its replica is promoted, the store finds what it wrote
    // before (replicated first) and works again.
    assert_eq!(
        cluster.master_of(cluster.slot_of(store.key_prefix())),
        master,
        "the stops let the replica take over"
    );
    let replica = cluster.replica_of(master);
    let start = store.key_prefix().to_owned();
    wait_for(
        "the replica has the client",
        Duration::from_secs(10),
        || !cluster.keys_on(cluster.ports[replica], &start).is_empty(),
    );
    cluster.servers.children[master]
        .kill()
        .expect("kill the master");
    cluster.servers.children[master]
        .wait()
        .expect("reap the master");
    let died = Instant::now();
    loop {
        match store.find_client(&client.id).await {
            Ok(found) => {
                assert!(found.is_some(), "the client stored before the failover");
                break;
            }
            Err(StoreError::Unavailable(_)) if died.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(other) => panic!("{:?} after the master died: {other:?}", died.elapsed()),
        }
    }
    eprintln!(
        "failover: the store answered again {:?} after its master died",
        died.elapsed()
    );
    store.ping().await.expect("ready after the failover");
    let since = Instant::now();
    loop {
        match store.revoke_token(&TokenHash::from_bytes([9; 32])).await {
            Ok(found) => {
                assert!(!found);
                break;
            }
            Err(StoreError::Unavailable(e)) if since.elapsed() < Duration::from_secs(30) => {
                eprintln!("script after failover: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("scripts still fail 30 s after the failover: {e}"),
        }
    }
    eprintln!(
        "failover: scripts ran again {:?} after the reads",
        since.elapsed()
    );
    let after = testkit::new_client(&store).await;
    assert!(store.find_client(&after.id).await.unwrap().is_some());
    store.purge().await.expect("purge");
    drop(cluster);
}
