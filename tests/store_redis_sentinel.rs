//! The Redis store behind Redis Sentinel: a primary, a replica and three sentinels the test
//! starts on loopback (and stops, whatever happens). The whole storage conformance kit runs
//! through the sentinels, each check under a prefix of its own; then the primary is killed, and
//! the store finds the promoted replica through the sentinels, with the records it wrote
//! before (replicated first), and works again; the old primary comes back as a replica, and
//! after a switchover (`SENTINEL FAILOVER`) the store writes to it again.
//!
//! Needs the `redis-server` and `redis-cli` binaries (Redis 7); without them the test says so,
//! loudly, and passes.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::store::{ClientStore, RedisStore, TokenStore};
use tessera::testkit;
use tessera::{Client, ClientId, ClientType, StoreError, TokenHash};
use time::OffsetDateTime;

#[path = "support/own_servers.rs"]
mod own_servers;
use own_servers::{Servers, installed, kit, panic_message, random_hex, redis_cli, wait_for};

/// The name the sentinels monitor the primary under.
const SERVICE: &str = "tessera-test";

/// A primary (`ports[0]`), its replica (`ports[1]`) and three sentinels (`ports[2..5]`), the
/// processes in that order, in a temp directory. Dropping `servers` kills them all and removes
/// the directory, so a failing (panicking) test still cleans up.
struct Group {
    ports: Vec<u16>,
    servers: Servers,
}

impl Group {
    /// Starts the group on the first five free ports in a row from 7201, or `None` (skip)
    /// without the Redis binaries.
    fn start() -> Option<Self> {
        if !installed("redis-server") || !installed("redis-cli") {
            eprintln!(
                "\n!!! SKIPPED: redis-server or redis-cli is not installed, so the Redis \
                 Sentinel tests did not run !!!\n"
            );
            return None;
        }
        let base = own_servers::free_ports(7201, 10, 20, 5, own_servers::port_free)
            .expect("five free ports from 7201");
        let mut group = Self {
            ports: (base..base + 5).collect(),
            servers: Servers::new("sentinel"),
        };
        let primary = group.ports[0];
        for (n, &port) in group.ports.clone().iter().enumerate() {
            let dir = group.servers.dir.display().to_string();
            let mut conf = format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\n\
                 logfile {dir}/{port}.log\n"
            );
            match n {
                0 => conf.push_str("save \"\"\nappendonly no\n"),
                1 => conf.push_str(&format!(
                    "save \"\"\nappendonly no\nreplicaof 127.0.0.1 {primary}\n"
                )),
                _ => conf.push_str(&format!(
                    "sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n\
                     sentinel down-after-milliseconds {SERVICE} 1000\n\
                     sentinel failover-timeout {SERVICE} 10000\n\
                     sentinel parallel-syncs {SERVICE} 1\n"
                )),
            }
            let path = group.servers.dir.join(format!("{port}.conf"));
            std::fs::write(&path, conf).expect("write a config");
            let mut command = Command::new("redis-server");
            command.arg(&path);
            if n >= 2 {
                command.arg("--sentinel");
            }
            group.servers.spawn(&mut command, Stdio::null());
        }
        for &port in &group.ports {
            wait_for("redis-server answers", Duration::from_secs(10), || {
                redis_cli(port, &["ping"]).is_some_and(|r| r.trim() == "PONG")
            });
        }
        wait_for("the replica is in sync", Duration::from_secs(20), || {
            redis_cli(group.ports[1], &["info", "replication"])
                .is_some_and(|r| r.contains("master_link_status:up"))
        });
        // Each sentinel knows the replica and the two other sentinels (a failover needs a
        // quorum of two, and the sentinels find each other through the primary).
        for &sentinel in &group.ports[2..] {
            wait_for(
                "the sentinels know each other",
                Duration::from_secs(30),
                || {
                    let master =
                        redis_cli(sentinel, &["sentinel", "master", SERVICE]).unwrap_or_default();
                    let lines: Vec<&str> = master.lines().collect();
                    let field = |name: &str| {
                        lines
                            .iter()
                            .position(|l| *l == name)
                            .and_then(|i| lines.get(i + 1))
                            .map(|v| v.trim().to_owned())
                    };
                    field("num-other-sentinels").as_deref() == Some("2")
                        && field("num-slaves").as_deref() == Some("1")
                },
            );
        }
        Some(group)
    }

    fn sentinel_urls(&self) -> Vec<String> {
        self.ports[2..]
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    async fn store(&self, prefix: &str) -> RedisStore {
        let urls = self.sentinel_urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        RedisStore::connect_sentinel(&urls, SERVICE)
            .await
            .expect("connect through the sentinels")
            .with_prefix(prefix)
    }
}

/// A client record with a fresh ID.
fn client_record() -> Client {
    let id = ClientId::new(format!("client-{}", random_hex(8))).unwrap();
    Client::new(
        id,
        "Sentinel test client",
        ClientType::Public,
        OffsetDateTime::now_utc(),
    )
}

/// One test, so that one group serves every phase and is stopped at its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_behind_sentinel_follows_a_failover() {
    let Some(mut group) = Group::start() else {
        return;
    };

    // ---- The constructor's future is Send (a host may connect inside a spawned task).
    fn is_send<T: Send>(_: &T) {}
    let connecting = RedisStore::connect_sentinel(&[], SERVICE);
    is_send(&connecting);
    drop(connecting);

    // ---- Bad input is refused before any connection.
    assert!(matches!(
        RedisStore::connect_sentinel(&[], SERVICE).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        RedisStore::connect_sentinel(&["http://127.0.0.1:1"], SERVICE).await,
        Err(StoreError::Backend(_))
    ));

    // ---- The conformance kit, every check at once, each under its own prefix.
    let mut running = Vec::new();
    for (name, check) in kit() {
        let store = group
            .store(&format!("tessera-test:{}:{name}:", random_hex(4)))
            .await;
        assert!(!store.is_cluster());
        running.push((name, store.clone(), tokio::spawn(check(Arc::new(store)))));
    }
    let mut failed = Vec::new();
    for (name, store, task) in running {
        match task.await {
            Ok(()) => {
                store.purge().await.expect("purge");
            }
            Err(failure) => failed.push(format!("{name}: {}", panic_message(failure))),
        }
    }
    assert!(
        failed.is_empty(),
        "conformance checks failed behind Sentinel:\n{}",
        failed.join("\n")
    );

    // ---- The primary dies: once the sentinels promote the replica, the store finds it, with
    // what it wrote before (replicated first), and works again.
    let store = group
        .store(&format!("tessera-test:{}:failover:", random_hex(4)))
        .await;
    let client = testkit::new_client(&store).await;
    let acknowledged = redis_cli(group.ports[0], &["wait", "1", "5000"]).expect("WAIT");
    assert_eq!(acknowledged.trim(), "1", "the replica has the client");
    let early = store.clone();
    group.servers.children[0].kill().expect("kill the primary");
    group.servers.children[0].wait().expect("reap the primary");
    let died = Instant::now();
    let mut unavailable = 0;
    loop {
        match store.find_client(&client.id).await {
            Ok(found) => {
                assert!(found.is_some(), "the client stored before the failover");
                break;
            }
            Err(StoreError::Unavailable(_)) if died.elapsed() < Duration::from_secs(15) => {
                unavailable += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("{:?} after the primary died: {other:?}", died.elapsed()),
        }
    }
    let recovered = died.elapsed();
    eprintln!(
        "failover: the store answered again {recovered:?} after its primary died \
         ({unavailable} steps Unavailable meanwhile)"
    );
    assert!(unavailable > 0, "no step noticed the primary had died");
    let role = redis_cli(group.ports[1], &["role"]).expect("ROLE");
    assert!(
        role.starts_with("master"),
        "the replica was promoted: {role}"
    );
    store.ping().await.expect("ready after the failover");
    // Scripts (loaded on the new primary on first use) and writes work too.
    loop {
        match store.revoke_token(&TokenHash::from_bytes([9; 32])).await {
            Ok(found) => {
                assert!(!found);
                break;
            }
            Err(StoreError::Unavailable(e)) if died.elapsed() < Duration::from_secs(15) => {
                eprintln!("script after failover: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("scripts still fail 15 s after the primary died: {e}"),
        }
    }
    let after = testkit::new_client(&store).await;
    assert!(store.find_client(&after.id).await.unwrap().is_some());
    assert!(store.find_client(&client.id).await.unwrap().is_some());
    // A clone made before the failover shares the new primary.
    assert!(early.find_client(&after.id).await.unwrap().is_some());
    testkit::tokens(Arc::new(store.clone())).await;

    // ---- The old primary comes back (the sentinels make it a replica), then a switchover
    // (`SENTINEL FAILOVER`) makes it the primary again while the current one lives on as a
    // replica: the store leaves the demoted node (its connections are closed, its writes
    // refused `READONLY`) for the new primary, with its records.
    let path = group.servers.dir.join(format!("{}.conf", group.ports[0]));
    group.servers.children[0] =
        own_servers::start(Command::new("redis-server").arg(&path), Stdio::null());
    wait_for(
        "the old primary is a replica in sync",
        Duration::from_secs(30),
        || {
            redis_cli(group.ports[0], &["info", "replication"])
                .is_some_and(|r| r.contains("role:slave") && r.contains("master_link_status:up"))
        },
    );
    let acknowledged = redis_cli(group.ports[1], &["wait", "1", "5000"]).expect("WAIT");
    assert_eq!(acknowledged.trim(), "1", "the old primary has the records");
    // The sentinels must know the replica before they can promote it.
    wait_for(
        "a sentinel accepts the switchover",
        Duration::from_secs(30),
        || {
            redis_cli(group.ports[2], &["sentinel", "failover", SERVICE])
                .is_some_and(|r| r.trim() == "OK")
        },
    );
    let switched = Instant::now();
    wait_for(
        "the old primary is the primary again",
        Duration::from_secs(15),
        || redis_cli(group.ports[0], &["role"]).is_some_and(|r| r.starts_with("master")),
    );
    let promoted = switched.elapsed();
    // Writes reach the node that is primary now, within 5 s: the old primary accepts writes
    // until the sentinels demote it (up to about 10 s later), so the store must not wait for
    // a failure to notice the switch.
    let mut unavailable = 0;
    let written = loop {
        let candidate = client_record();
        match store.insert_client(&candidate).await {
            Ok(()) => {
                let key = format!("{}client.v2:{}", store.key_prefix(), candidate.id.as_str());
                let on_primary = redis_cli(group.ports[0], &["exists", &key]).expect("EXISTS");
                if on_primary.trim() == "1" {
                    break candidate.id;
                }
            }
            Err(StoreError::Unavailable(_)) => unavailable += 1,
            Err(other) => panic!("{:?} after the switchover: {other:?}", switched.elapsed()),
        }
        assert!(
            switched.elapsed() - promoted < Duration::from_secs(5),
            "writes do not reach the primary 5 s after the switchover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "switchover: the old primary was promoted {promoted:?} after SENTINEL FAILOVER, \
         and writes reached it {:?} after that ({unavailable} steps Unavailable meanwhile)",
        switched.elapsed() - promoted
    );
    assert!(store.find_client(&written).await.unwrap().is_some());
    assert!(store.find_client(&client.id).await.unwrap().is_some());
    assert!(store.find_client(&after.id).await.unwrap().is_some());
    store.purge().await.expect("purge");
    drop(group);
}
