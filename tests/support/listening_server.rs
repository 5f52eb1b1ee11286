//! Starts a server binary that prints the example-server contract's `listening on URL` line,
//! and returns the child with that URL. Shared by tests/example_server.rs and
//! benches/http_load.rs (each includes this file with `#[path]`).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Runs `binary --addr 127.0.0.1:0 <extra>` with `RUST_LOG=warn` and waits (up to a minute)
/// for its `listening on` line. The child is killed when dropped.
pub(crate) async fn spawn_listening(binary: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        // Per-request `info` lines would only slow tests and benchmarks down.
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(at) = line.find("listening on ") {
                return line[at + "listening on ".len()..].trim().to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server listens within a minute");
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}
