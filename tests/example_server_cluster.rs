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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[path = "support/cargo_env.rs"]
mod cargo_env;
#[path = "support/listening_server.rs"]
mod listening_server;
#[path = "support/own_servers.rs"]
mod own_servers;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;

use own_servers::{random_hex, wait_for};
use redis_cluster::Cluster;

/// Concurrent clients of the load, each sending one request at a time with a pause between.
const WORKERS: usize = 4;
const PAUSE_BETWEEN: Duration = Duration::from_millis(20);
/// Longer than any answer may take: a request without an answer by then is a failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `POST /token`, `grant_type=client_credentials`: 200 when it works.
    Token,
    /// `GET /api/me` with the token issued before the load: 403 when it works.
    Me,
}

impl Kind {
    fn success(self) -> StatusCode {
        match self {
            Kind::Token => StatusCode::OK,
            Kind::Me => StatusCode::FORBIDDEN,
        }
    }
}

/// One answer of the load (or its absence: `status` `None`).
#[derive(Debug)]
struct Answer {
    kind: Kind,
    sent: Instant,
    done: Instant,
    status: Option<StatusCode>,
    /// The JSON body's `error`.
    error: Option<String>,
    retry_after: bool,
    /// A token request's access token.
    access: Option<String>,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status == Some(self.kind.success())
    }

    fn unavailable(&self) -> bool {
        self.status == Some(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// What is wrong with it, if anything: only success, or a well-formed 503, is right.
    fn wrong(&self) -> Option<String> {
        if self.ok()
            || (self.unavailable()
                && self.error.as_deref() == Some("temporarily_unavailable")
                && self.retry_after)
        {
            return None;
        }
        Some(format!(
            "{:?}: {:?} error={:?} retry_after={}",
            self.kind, self.status, self.error, self.retry_after
        ))
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Sends one request of `kind` and notes its answer.
async fn ask(api: &reqwest::Client, base: &str, auth: &str, access: &str, kind: Kind) -> Answer {
    let sent = Instant::now();
    let request = match kind {
        Kind::Token => api
            .post(format!("{base}/token"))
            .header("authorization", auth)
            .form(&[("grant_type", "client_credentials")]),
        Kind::Me => api.get(format!("{base}/api/me")).bearer_auth(access),
    };
    let mut answer = Answer {
        kind,
        sent,
        done: sent,
        status: None,
        error: None,
        retry_after: false,
        access: None,
    };
    if let Ok(response) = request.send().await {
        answer.status = Some(response.status());
        answer.retry_after = response.headers().contains_key("retry-after");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        answer.error = body["error"].as_str().map(str::to_owned);
        answer.access = body["access_token"].as_str().map(str::to_owned);
    }
    answer.done = Instant::now();
    answer
}

/// The load: [`WORKERS`] tasks alternating token requests and `/api/me` calls until stopped.
struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, auth: &str, access: &str) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|_| {
                let (answers, stop) = (Arc::clone(&answers), Arc::clone(&stop));
                let (base, auth, access) = (base.to_owned(), auth.to_owned(), access.to_owned());
                tokio::spawn(async move {
                    let api = http();
                    while !stop.load(Ordering::Relaxed) {
                        for kind in [Kind::Token, Kind::Me] {
                            let answer = ask(&api, &base, &auth, &access, kind).await;
                            answers.lock().unwrap().push(answer);
                            tokio::time::sleep(PAUSE_BETWEEN).await;
                        }
                    }
                })
            })
            .collect();
        Self {
            answers,
            stop,
            workers,
        }
    }

    /// Whether some request of each kind sent at `since` or later succeeded.
    fn both_succeeded_since(&self, since: Instant) -> bool {
        let answers = self.answers.lock().unwrap();
        [Kind::Token, Kind::Me].iter().all(|&kind| {
            answers
                .iter()
                .any(|a| a.kind == kind && a.sent >= since && a.ok())
        })
    }

    /// Waits until [`Load::both_succeeded_since`] `since`, at most `within` after `since`;
    /// returns how long after `since` that was.
    async fn recovered(&self, what: &str, since: Instant, within: Duration) -> Duration {
        loop {
            if self.both_succeeded_since(since) {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < within,
                "{what}: no success of both kinds within {within:?}; last answers: {:?}",
                self.answers
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many answers sent in `from..to` were 503s.
    fn unavailable_between(&self, from: Instant, to: Instant) -> usize {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.sent >= from && a.sent < to && a.unavailable())
            .count()
    }

    /// The access tokens issued by answers received before `before`.
    fn issued_before(&self, before: Instant) -> Vec<String> {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.done < before)
            .filter_map(|a| a.access.clone())
            .collect()
    }

    /// Stops the workers (each finishes its request) and returns every answer.
    async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.expect("a load worker panicked");
        }
        Arc::try_unwrap(self.answers)
            .expect("workers are done")
            .into_inner()
            .unwrap()
    }
}

/// `/api/me` with `access`, retrying 503s for up to 5 s: its final status.
async fn validate(api: &reqwest::Client, base: &str, access: &str) -> Option<StatusCode> {
    let start = Instant::now();
    loop {
        let answer = ask(api, base, "", access, Kind::Me).await;
        if !answer.unavailable() || start.elapsed() > Duration::from_secs(5) {
            return answer.status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

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
    let api = http();
    let registered = api
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "Cluster load",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let doc: Value = registered.json().await.expect("json");
    let auth = basic(
        doc["client_id"].as_str().expect("client_id"),
        doc["client_secret"].as_str().expect("client_secret"),
    );
    let first = ask(&api, &base, &auth, "", Kind::Token).await;
    assert!(first.ok(), "{first:?}");
    let access = first.access.expect("an access token");
    let me = ask(&api, &base, &auth, &access, Kind::Me).await;
    assert!(
        me.ok(),
        "a valid client-credentials token at /api/me: {me:?}"
    );
    let unknown = ask(&api, &base, &auth, "not-a-token", Kind::Me).await;
    assert_eq!(
        unknown.status,
        Some(StatusCode::UNAUTHORIZED),
        "{unknown:?}"
    );

    let load = Load::start(&base, &auth, &access);
    let started = Instant::now();
    load.recovered("before any fault", started, Duration::from_secs(5))
        .await;

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
    let wrong: Vec<String> = answers.iter().filter_map(Answer::wrong).collect();
    assert!(
        wrong.is_empty(),
        "{} of {} answers neither succeeded nor were a well-formed 503, such as {:?}",
        wrong.len(),
        answers.len(),
        &wrong[..wrong.len().min(10)]
    );
    eprintln!(
        "{} answers: {} x 503, the rest succeeded",
        answers.len(),
        answers.iter().filter(|a| a.unavailable()).count()
    );

    // ---- Nothing lost: the first token and every token issued before the snapshot validate.
    assert!(
        issued.len() > 10,
        "the load issued tokens: {}",
        issued.len()
    );
    for token in std::iter::once(&access).chain(&issued) {
        assert_eq!(
            validate(&api, &base, token).await,
            Some(StatusCode::FORBIDDEN),
            "a token issued before the kill (of {})",
            issued.len()
        );
    }
}
