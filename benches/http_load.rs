//! End-to-end HTTP load on the example server (issue 10): requests per second and p50/p99
//! latency over loopback for `GET /api/me` with a valid `whoami` bearer token, for the token
//! endpoint (`client_credentials`, HTTP Basic), and for `GET /healthz` (a handler that only
//! answers "ok": the HTTP floor of the same server, router and middleware).
//!
//! Not criterion: a plain `main` on tokio and reqwest. It builds the release example server
//! (`cargo build --release --example server`, a no-op when fresh), starts it as a child process
//! on `127.0.0.1:0`, reads the `listening on` line, prepares a token (the authorization-code
//! flow through the HTML login and consent forms, as `tests/example_server.rs` does), then runs
//! each scenario with many concurrent keep-alive connections and prints a table. The child is
//! killed at the end (and on any panic, by `kill_on_drop`).
//!
//! ```sh
//! cargo bench --bench http_load
//! HTTP_LOAD_SECONDS=10 HTTP_LOAD_CONNECTIONS=128 cargo bench --bench http_load
//! ```
//!
//! `cargo test` never runs it (bench targets are not test targets), and a run without
//! `--bench` (`cargo test --all-targets`) only prints how to run it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use tokio::process::Child;
use url::Url;

#[path = "../tests/support/listening_server.rs"]
mod listening_server;

const VERIFIER: &str = "a-pkce-verifier-for-the-http-load-benchmark-0123456789";
const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// Requests in the warm-up before each measured run are not counted.
const WARM_UP: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("http_load: a load benchmark; run it with `cargo bench --bench http_load`");
        return ExitCode::SUCCESS;
    }
    let seconds = env_number("HTTP_LOAD_SECONDS", 5);
    let connections = env_number("HTTP_LOAD_CONNECTIONS", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench(Duration::from_secs(seconds), connections as usize));
    ExitCode::SUCCESS
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{name} must be a positive integer")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------------
// The server.

/// Builds the release example server (a no-op when it is fresh) and returns its path.
fn build_server() -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable path");
    // target/release/deps/http_load-<hash> -> target/release -> target
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target directory");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--example", "server"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example server failed");
    target_dir
        .join("release")
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

/// Starts the server on a free loopback port; returns the child and its base URL.
async fn start_server() -> (Child, String) {
    listening_server::spawn_listening(&build_server(), &[]).await
}

// ---------------------------------------------------------------------------------------------
// Setup: a client-credentials client and a `whoami` user token.

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The `value` of the input named `name` (CSRF tokens: base64url, no HTML escapes).
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn no_redirects(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(cookies)
        .build()
        .expect("client")
}

/// Registers a confidential client; returns its `Authorization: Basic` header value.
async fn register(api: &reqwest::Client, endpoint: &str, body: Value) -> (String, String) {
    let response = api
        .post(endpoint)
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), StatusCode::CREATED, "registration");
    let doc: Value = response.json().await.expect("registration json");
    let id = doc["client_id"].as_str().expect("client_id").to_owned();
    let secret = doc["client_secret"].as_str().expect("client_secret");
    let auth = basic(&id, secret);
    (id, auth)
}

/// Logs `demo` in and consents through the HTML forms; returns a `whoami` access token.
async fn user_token(base: &str, meta: &Value) -> String {
    let field = |name: &str| meta[name].as_str().expect("metadata field").to_owned();
    let api = no_redirects(false);
    let (client_id, auth) = register(
        &api,
        &field("registration_endpoint"),
        json!({"client_name": "HTTP load", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let mut authorize = Url::parse(&field("authorization_endpoint")).expect("url");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "whoami")
        .append_pair("state", "load")
        .append_pair("code_challenge", &tessera::pkce_s256_challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    let query = authorize.query().unwrap_or("").to_owned();

    let browser = no_redirects(true);
    let mut response = browser
        .get(authorize.as_str())
        .send()
        .await
        .expect("authorize");
    let mut code = None;
    for _ in 0..6 {
        let status = response.status();
        if status.is_redirection() {
            let to = response.headers()[LOCATION].to_str().expect("location");
            if to.starts_with(REDIRECT) {
                let to = Url::parse(to).expect("redirect url");
                code = to
                    .query_pairs()
                    .find(|(n, _)| n == "code")
                    .map(|(_, v)| v.into_owned());
                break;
            }
            let to = format!("{base}{to}");
            response = browser.get(to).send().await.expect("follow");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "authorization page");
        let page = response.text().await.expect("html");
        let csrf = input_value(&page, "csrf").expect("the form has a CSRF token");
        response = if page.contains("name=\"password\"") {
            let next = format!("/authorize?{query}");
            browser
                .post(format!("{base}/login"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("next", next.as_str()),
                    ("username", "demo"),
                    ("password", "demo"),
                ])
                .send()
                .await
                .expect("login")
        } else {
            browser
                .post(format!("{base}/consent"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("request", query.as_str()),
                    ("decision", "allow"),
                ])
                .send()
                .await
                .expect("consent")
        };
    }
    let code = code.expect("the authorization flow ends in a redirect with a code");
    let response = api
        .post(field("token_endpoint"))
        .header("authorization", auth)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK, "code exchange");
    let body: Value = response.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Load.

/// One request kind: what is sent, and the status every answer must have.
#[derive(Clone)]
enum Scenario {
    Get { url: String, bearer: Option<String> },
    Token { url: String, auth: String },
}

impl Scenario {
    async fn send(&self, client: &reqwest::Client) -> bool {
        let request = match self {
            Scenario::Get { url, bearer } => {
                let request = client.get(url);
                match bearer {
                    Some(token) => request.header("authorization", format!("Bearer {token}")),
                    None => request,
                }
            }
            Scenario::Token { url, auth } => client
                .post(url)
                .header("authorization", auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
        };
        match request.send().await {
            Ok(response) => {
                let ok = response.status() == StatusCode::OK;
                // Read the whole body, so the connection is reused and the work is counted.
                response.bytes().await.is_ok() && ok
            }
            Err(_) => false,
        }
    }
}

struct Measured {
    /// Latencies of the successful requests, microseconds, sorted.
    latencies: Vec<u32>,
    errors: u64,
    elapsed: Duration,
}

impl Measured {
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-quantile latency in milliseconds (nearest rank).
    fn quantile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies[rank]) / 1000.0
    }
}

/// `connections` tasks, each with its own client (one keep-alive connection), send requests
/// back to back for `duration`.
async fn measure(scenario: &Scenario, clients: &[reqwest::Client], duration: Duration) -> Measured {
    let started = Instant::now();
    let deadline = started + duration;
    let scenario = Arc::new(scenario.clone());
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let scenario = Arc::clone(&scenario);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(4096);
                let mut errors = 0_u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    if scenario.send(&client).await {
                        let micros = sent.elapsed().as_micros();
                        latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mine, failed) = task.await.expect("load task");
        latencies.extend(mine);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Measured {
        latencies,
        errors,
        elapsed,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

async fn bench(duration: Duration, connections: usize) {
    let (mut child, base) = start_server().await;
    let api = no_redirects(false);
    let meta: Value = api
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery json");
    let token_url = meta["token_endpoint"].as_str().expect("token_endpoint");
    let registration = meta["registration_endpoint"].as_str().expect("endpoint");
    let (_, cc_auth) = register(
        &api,
        registration,
        json!({"client_name": "HTTP load (machine)", "grant_types": ["client_credentials"]}),
    )
    .await;
    let access_token = user_token(&base, &meta).await;

    let floor = Scenario::Get {
        url: format!("{base}/healthz"),
        bearer: None,
    };
    let scenarios = [
        ("GET /healthz (floor)", floor.clone()),
        (
            "GET /api/me (Bearer, whoami)",
            Scenario::Get {
                url: format!("{base}/api/me"),
                bearer: Some(access_token),
            },
        ),
        (
            "POST /token (client_credentials)",
            Scenario::Token {
                url: token_url.to_owned(),
                auth: cc_auth,
            },
        ),
        ("GET /healthz (floor, again)", floor),
    ];
    // Every scenario must answer 200 before it is timed.
    let probe = no_redirects(false);
    for (name, scenario) in &scenarios {
        assert!(scenario.send(&probe).await, "{name} does not answer 200");
    }

    let clients: Vec<_> = (0..connections)
        .map(|_| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client")
        })
        .collect();
    println!(
        "http_load: {connections} connections, {} s per scenario after {} s warm-up, server {base}",
        duration.as_secs(),
        WARM_UP.as_secs()
    );
    let mut results = Vec::new();
    for (name, scenario) in &scenarios {
        let _ = measure(scenario, &clients, WARM_UP).await;
        let load = load_average();
        let measured = measure(scenario, &clients, duration).await;
        results.push((*name, measured, load));
    }
    child.kill().await.expect("stop the server");

    let floors: Vec<f64> = results
        .iter()
        .filter(|(name, _, _)| name.starts_with("GET /healthz"))
        .map(|(_, m, _)| m.rps())
        .collect();
    let floor_rps = floors.iter().sum::<f64>() / floors.len() as f64;
    println!();
    println!(
        "| scenario | requests | errors | req/s | p50 ms | p99 ms | req/s vs floor | load avg |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, m, load) in &results {
        println!(
            "| {name} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {load} |",
            m.latencies.len(),
            m.errors,
            m.rps(),
            m.quantile_ms(0.50),
            m.quantile_ms(0.99),
            m.rps() / floor_rps,
        );
    }
    println!();
    println!("floor = mean req/s of the two /healthz runs ({floor_rps:.0})");
    let failed: u64 = results.iter().map(|(_, m, _)| m.errors).sum();
    assert_eq!(failed, 0, "some requests did not answer 200");
}
