//! A Redis Cluster on loopback for the tests that need one (tests/store_redis_cluster.rs,
//! tests/example_server_cluster.rs; each includes this file with `#[path]`, next to
//! `support/own_servers.rs` as the crate's `own_servers` module): six `redis-server` processes,
//! three masters with a replica each, started in a temp directory and killed on drop, and the
//! questions the tests ask it (which master serves a slot, its replica, the keys on a node).
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::Duration;

use tessera::store::RedisStore;

use crate::own_servers::{self, Servers, installed, redis_cli, wait_for};

/// Six `redis-server` processes in cluster mode, three masters with a replica each, in a temp
/// directory. Dropping `servers` kills them (a stopped, SIGSTOPped, one too) and removes the
/// directory, so a failing (panicking) test still cleans up.
pub(crate) struct Cluster {
    /// The nodes' ports, in the order the processes were started.
    pub(crate) ports: Vec<u16>,
    /// The processes (`children` in the order of `ports`) and their directory.
    pub(crate) servers: Servers,
}

/// Whether `port` and its cluster bus port (`port + 10000`) are free on loopback.
fn free(port: u16) -> bool {
    own_servers::port_free(port) && own_servers::port_free(port + 10_000)
}

impl Cluster {
    /// Starts the cluster on the first six free ports in a row from `first` (`first` to
    /// `first + 5`, else from `first + 10`, ...: each test file its own range, 7101.. for the
    /// store's, 7301.. for the example server's), or `None` (skip, said loudly) without the
    /// Redis binaries.
    pub(crate) fn start(first: u16) -> Option<Self> {
        if !installed("redis-server") || !installed("redis-cli") {
            eprintln!(
                "\n!!! SKIPPED: redis-server or redis-cli is not installed, so the Redis \
                 Cluster tests did not run !!!\n"
            );
            return None;
        }
        let base = own_servers::free_ports(first, 10, 20, 6, free)
            .unwrap_or_else(|| panic!("six free ports (and bus ports) from {first}"));
        let mut cluster = Self {
            ports: (base..base + 6).collect(),
            servers: Servers::new("cluster"),
        };
        for &port in &cluster.ports.clone() {
            let conf = cluster.servers.dir.join(format!("{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\nprotected-mode no\ncluster-enabled yes\n\
                     cluster-config-file nodes-{port}.conf\ncluster-node-timeout 5000\n\
                     dir {dir}\nsave \"\"\nappendonly no\nlogfile {dir}/{port}.log\n",
                    dir = cluster.servers.dir.display()
                ),
            )
            .expect("write a config");
            cluster
                .servers
                .spawn(Command::new("redis-server").arg(&conf), Stdio::null());
        }
        for &port in &cluster.ports {
            wait_for("redis-server answers", Duration::from_secs(10), || {
                redis_cli(port, &["ping"]).is_some_and(|r| r.trim() == "PONG")
            });
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(created.success(), "redis-cli --cluster create failed");
        for &port in &cluster.ports {
            wait_for("cluster_state:ok", Duration::from_secs(20), || {
                redis_cli(port, &["cluster", "info"])
                    .is_some_and(|r| r.contains("cluster_state:ok"))
            });
        }
        Some(cluster)
    }

    /// `redis-cli ARGS...` on the first node that answers (a killed one does not).
    fn ask(&self, args: &[&str]) -> Option<String> {
        self.ports.iter().find_map(|&port| redis_cli(port, args))
    }

    pub(crate) fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    pub(crate) async fn store(&self, prefix: &str) -> RedisStore {
        let urls = self.urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        RedisStore::connect_cluster(&urls)
            .await
            .expect("connect to the cluster")
            .with_prefix(prefix)
    }

    /// The keys on the node at `port` that start with `start` (a literal, not a pattern).
    pub(crate) fn keys_on(&self, port: u16, start: &str) -> Vec<String> {
        let all = redis_cli(port, &["--scan"]).expect("scan a node");
        all.lines()
            .filter(|k| k.starts_with(start))
            .map(str::to_owned)
            .collect()
    }

    pub(crate) fn slot_of(&self, key: &str) -> u16 {
        self.ask(&["cluster", "keyslot", key])
            .expect("cluster keyslot")
            .trim()
            .parse()
            .expect("a slot")
    }

    /// The index (into `ports` and `servers`) of the master serving `slot`.
    pub(crate) fn master_of(&self, slot: u16) -> usize {
        // `CLUSTER NODES`: `id addr flags master ping pong epoch state slot-ranges...`.
        let nodes = self.ask(&["cluster", "nodes"]).expect("cluster nodes");
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port: u16 = fields[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("a node port");
            for range in &fields[8..] {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) else {
                    continue;
                };
                if (lo..=hi).contains(&slot) {
                    return self.ports.iter().position(|&p| p == port).expect("ours");
                }
            }
        }
        panic!("no master serves slot {slot}");
    }

    /// The index of the replica of the master at index `master`.
    pub(crate) fn replica_of(&self, master: usize) -> usize {
        let nodes = self.ask(&["cluster", "nodes"]).expect("cluster nodes");
        let port_of = |addr: &str| -> u16 {
            addr.split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("a node port")
        };
        let lines: Vec<Vec<&str>> = nodes
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let id = lines
            .iter()
            .find(|f| port_of(f[1]) == self.ports[master])
            .expect("the master's line")[0];
        let replica = lines
            .iter()
            .find(|f| f[3] == id)
            .expect("a replica of the master");
        let port = port_of(replica[1]);
        self.ports.iter().position(|&p| p == port).expect("ours")
    }

    pub(crate) fn signal(&self, server: usize, signal: &str) {
        let pid = self.servers.children[server].id().to_string();
        let status = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {pid}");
    }
}
