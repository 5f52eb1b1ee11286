//! Scaffolding for the tests that start servers of their own on loopback and run the storage
//! conformance kit through them: tests/store_redis_cluster.rs, tests/store_redis_sentinel.rs
//! and tests/store_pgbouncer.rs (each includes this file with `#[path]`). A temp directory and
//! the processes started in it, killed and removed on drop (so a failing, panicking test still
//! cleans up); free loopback ports; waiting until a server answers; `redis-cli`; the kit's
//! checks in one list.
#![allow(dead_code)]

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera::store::Storage;
use tessera::testkit;
use tessera::{Entropy, OsEntropy};

/// `bytes` random bytes in lower-case hex (names of temp directories, prefixes, schemas).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsEntropy.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `binary --version` runs and succeeds: whether the binary is installed.
pub(crate) fn installed(binary: &str) -> bool {
    Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `port` is free on loopback (nothing listens there now).
pub(crate) fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The first of the `tries` bases `first`, `first + stride`, `first + 2 * stride`, ... from
/// which `len` ports in a row are all `free`.
pub(crate) fn free_ports(
    first: u16,
    stride: u16,
    tries: u16,
    len: u16,
    free: impl Fn(u16) -> bool,
) -> Option<u16> {
    (0..tries)
        .map(|n| first + stride * n)
        .find(|&base| (base..base + len).all(&free))
}

/// Asks `done` every 100 ms until it says yes; panics (`what: not within ...`) once `within`
/// has passed.
pub(crate) fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `redis-cli -h 127.0.0.1 -p PORT ARGS...`: its output, or `None` if it could not run or
/// failed.
pub(crate) fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts `command` in the background with stdin and stdout closed and stderr to `stderr`.
pub(crate) fn start(command: &mut Command, stderr: Stdio) -> Child {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", command.get_program()))
}

/// Server processes and the temp directory they run in. Drop kills them all (SIGKILL, which
/// ends a SIGSTOPped one too) and removes the directory, so a failing (panicking) test still
/// cleans up.
pub(crate) struct Servers {
    /// The temp directory, for configurations, data and logs.
    pub(crate) dir: PathBuf,
    /// The processes, in the order they were started.
    pub(crate) children: Vec<Child>,
}

impl Servers {
    /// A new, empty temp directory `tessera-NAME-RANDOM`, no processes yet.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", random_hex(6)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            dir,
            children: Vec::new(),
        }
    }

    /// Starts `command` as [`start`] does, as the next of `children`.
    pub(crate) fn spawn(&mut self, command: &mut Command, stderr: Stdio) {
        self.children.push(start(command, stderr));
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One conformance check, on a store it may share with nothing else.
pub(crate) type Check = fn(Arc<dyn Storage>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! checks {
    ($($name:literal => $check:expr;)*) => {
        vec![$(($name, (|store| Box::pin($check(store))) as Check)),*]
    };
}

/// The whole conformance kit by name, sizes included, as tests/store_redis.rs and
/// tests/store_postgres.rs run it (there one test a check).
pub(crate) fn kit() -> Vec<(&'static str, Check)> {
    checks! {
        "clients" => testkit::clients;
        "update_keeps_secret" => testkit::update_keeps_secret;
        "registration_token_swap" => testkit::registration_token_swap;
        "bounded_delete" => |store| testkit::bounded_delete(store, 20_000);
        "client_checked_on_issue" => testkit::client_checked_on_issue;
        "codes" => testkit::codes;
        "tokens" => testkit::tokens;
        "rotation" => testkit::rotation;
        "grants" => testkit::grants;
        "revocation_tombstone" => testkit::revocation_tombstone;
        "consents" => testkit::consents;
        "large_consent" => testkit::large_consent;
        "devices" => testkit::devices;
        "sweep" => testkit::sweep;
        "sweep_backlog" => |store| testkit::sweep_backlog(store, 300);
        "ping" => testkit::ping;
        "retired_refresh_survives_sweep" => testkit::retired_refresh_survives_sweep;
        "code_replay" => testkit::code_replay;
        "replays" => testkit::replays;
        "unused_clients" => testkit::unused_clients;
        "replay_race" => |store| testkit::replay_race(store, 64);
        "code_race" => |store| testkit::code_race(store, 100);
        "code_replay_race" => |store| testkit::code_replay_race(store, 50);
        "code_redemption_atomic" => |store| testkit::code_redemption_atomic(store, 20);
        "rotation_race" => |store| testkit::rotation_race(store, 50);
        "device_redemption_race" => |store| testkit::device_redemption_race(store, 20);
        "model" => |store: Arc<dyn Storage>| async move {
            for seed in 0..4 {
                testkit::model(Arc::clone(&store), seed, 40).await;
            }
        };
        "run_all" => testkit::run_all;
    }
}

/// What a failed check's panic said (a check that panics with a non-string: `a panic`).
pub(crate) fn panic_message(failure: tokio::task::JoinError) -> String {
    failure
        .into_panic()
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_else(|_| "a panic".to_owned())
}
