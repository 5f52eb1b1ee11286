//! A small bounded load against the example server for the fault tests
//! (tests/example_server_cluster.rs, tests/example_server_pgbouncer.rs; each includes this
//! file with `#[path]`): [`WORKERS`] clients alternating client-credentials token requests and
//! `/api/me` calls with a token issued before (a valid client-credentials token: 403
//! `insufficient_scope` there, never 401), every answer kept with when it was sent, and the
//! questions the tests ask of them: did both kinds succeed since, how many 503s between,
//! is every answer a success or a well-formed 503.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Concurrent clients of the load, each sending one request at a time with a pause between.
pub(crate) const WORKERS: usize = 4;
pub(crate) const PAUSE_BETWEEN: Duration = Duration::from_millis(20);
/// Longer than any answer may take: a request without an answer by then is a failure.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `POST /token`, `grant_type=client_credentials`: 200 when it works.
    Token,
    /// `GET /api/me` with the token issued before the load: 403 when it works.
    Me,
}

impl Kind {
    pub(crate) fn success(self) -> StatusCode {
        match self {
            Kind::Token => StatusCode::OK,
            Kind::Me => StatusCode::FORBIDDEN,
        }
    }
}

/// One answer of the load (or its absence: `status` `None`).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) kind: Kind,
    pub(crate) sent: Instant,
    pub(crate) done: Instant,
    pub(crate) status: Option<StatusCode>,
    /// The JSON body's `error`.
    pub(crate) error: Option<String>,
    pub(crate) retry_after: bool,
    /// A token request's access token.
    pub(crate) access: Option<String>,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        self.status == Some(self.kind.success())
    }

    pub(crate) fn unavailable(&self) -> bool {
        self.status == Some(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// What is wrong with it, if anything: only success, or a well-formed 503, is right.
    pub(crate) fn wrong(&self) -> Option<String> {
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

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Sends one request of `kind` and notes its answer.
pub(crate) async fn ask(
    api: &reqwest::Client,
    base: &str,
    auth: &str,
    access: &str,
    kind: Kind,
) -> Answer {
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
pub(crate) struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub(crate) fn start(base: &str, auth: &str, access: &str) -> Self {
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
    pub(crate) fn both_succeeded_since(&self, since: Instant) -> bool {
        let answers = self.answers.lock().unwrap();
        [Kind::Token, Kind::Me].iter().all(|&kind| {
            answers
                .iter()
                .any(|a| a.kind == kind && a.sent >= since && a.ok())
        })
    }

    /// Waits until [`Load::both_succeeded_since`] `since`, at most `within` after `since`;
    /// returns how long after `since` that was.
    pub(crate) async fn recovered(&self, what: &str, since: Instant, within: Duration) -> Duration {
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
    pub(crate) fn unavailable_between(&self, from: Instant, to: Instant) -> usize {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.sent >= from && a.sent < to && a.unavailable())
            .count()
    }

    /// The access tokens issued by answers received before `before`.
    pub(crate) fn issued_before(&self, before: Instant) -> Vec<String> {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.done < before)
            .filter_map(|a| a.access.clone())
            .collect()
    }

    /// Stops the workers (each finishes its request) and returns every answer.
    pub(crate) async fn stop(self) -> Vec<Answer> {
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

/// The opening of every fault scenario against the example server at `base`: a registered
/// client-credentials client, a first token that validates at
/// `/api/me` while an unknown one is 401, and the load running and succeeding.
pub(crate) async fn started(base: &str) -> (reqwest::Client, String, Load) {
    let api = http();
    let auth = register(&api, base).await;
    let first = ask(&api, base, &auth, "", Kind::Token).await;
    assert!(first.ok(), "{first:?}");
    let access = first.access.expect("an access token");
    let me = ask(&api, base, &auth, &access, Kind::Me).await;
    assert!(
        me.ok(),
        "a valid client-credentials token at /api/me: {me:?}"
    );
    let unknown = ask(&api, base, &auth, "not-a-token", Kind::Me).await;
    assert_eq!(
        unknown.status,
        Some(StatusCode::UNAUTHORIZED),
        "{unknown:?}"
    );
    let load = Load::start(base, &auth, &access);
    load.recovered("before any fault", Instant::now(), Duration::from_secs(5))
        .await;
    (api, access, load)
}

/// Asserts that every answer of a finished load either succeeded or was a well-formed 503
/// (`temporarily_unavailable`, `Retry-After`), and says how many were 503s.
pub(crate) fn assert_well_formed(answers: &[Answer]) {
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
}

/// Asserts that nothing was lost: `access` and every token in `issued` (more than ten) still
/// validate at `/api/me` (403: valid, without `whoami`) after the fault `what`.
pub(crate) async fn assert_none_lost(
    api: &reqwest::Client,
    base: &str,
    access: &str,
    issued: &[String],
    what: &str,
) {
    assert!(
        issued.len() > 10,
        "the load issued tokens: {}",
        issued.len()
    );
    for token in std::iter::once(access).chain(issued.iter().map(String::as_str)) {
        assert_eq!(
            validate(api, base, token).await,
            Some(StatusCode::FORBIDDEN),
            "a token issued before the {what} (of {})",
            issued.len()
        );
    }
}

/// `/api/me` with `access`, retrying 503s for up to 5 s: its final status.
pub(crate) async fn validate(
    api: &reqwest::Client,
    base: &str,
    access: &str,
) -> Option<StatusCode> {
    let start = Instant::now();
    loop {
        let answer = ask(api, base, "", access, Kind::Me).await;
        if !answer.unavailable() || start.elapsed() > Duration::from_secs(5) {
            return answer.status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Registers a client-credentials client at `base`: its HTTP Basic `authorization` value.
pub(crate) async fn register(api: &reqwest::Client, base: &str) -> String {
    let registered = api
        .post(format!("{base}/register"))
        .json(&json!({
            "client_name": "Fault load",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let doc: Value = registered.json().await.expect("json");
    basic(
        doc["client_id"].as_str().expect("client_id"),
        doc["client_secret"].as_str().expect("client_secret"),
    )
}
