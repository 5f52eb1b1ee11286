//! `JwksCache` (feature `jwks-fetch`) against a JWK Set endpoint of the test's own on
//! loopback: fetched once while fresh, `Cache-Control` honoured within bounds, an unknown
//! `kid` fetched again at most once per interval, a failed fetch answered with the last set
//! (or 503 without one), and oversized, malformed or redirected answers refused. Tokens are
//! signed by an independent JWS implementation (`jsonwebtoken`).
#![cfg(feature = "jwks-fetch")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client_key.rs"]
mod client_key;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use client_key::{Key, jwks};
use serde_json::{Value, json};
use tessera::jose::{Algorithm, JwkSet, JwsError};
use tessera::jwks_cache::{CachedVerifyError, JwksCache, JwksFetchError};
use tessera::jwt_access::{JwtAccessError, JwtAccessVerifier};

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://api.example.com/";

/// A status, headers and a body.
type Answer = (StatusCode, Vec<(&'static str, String)>, String);

/// What the endpoint answers, and how often it was asked.
#[derive(Clone)]
struct Endpoint {
    answer: Arc<Mutex<Answer>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

impl Endpoint {
    async fn start() -> Self {
        let answer: Arc<Mutex<Answer>> =
            Arc::new(Mutex::new((StatusCode::OK, Vec::new(), String::new())));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (a, f) = (answer.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (a, f) = (a.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let (status, headers, body) = a.lock().unwrap().clone();
                    let mut map = HeaderMap::new();
                    for (name, value) in headers {
                        map.insert(name, HeaderValue::from_str(&value).unwrap());
                    }
                    (status, map, body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            answer,
            fetches,
            url,
        }
    }

    fn serve(&self, status: StatusCode, headers: Vec<(&'static str, String)>, body: String) {
        *self.answer.lock().unwrap() = (status, headers, body);
    }

    fn serve_keys(&self, keys: &[&Key], cache_control: Option<&str>) {
        let headers = cache_control
            .map(|value| vec![("cache-control", value.to_owned())])
            .unwrap_or_default();
        self.serve(StatusCode::OK, headers, jwks(keys).to_string());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn token(key: &Key, sub: &str) -> String {
    let now = now();
    key.sign_typed(
        &json!({
            "iss": ISSUER, "sub": sub, "aud": RESOURCE, "client_id": "app", "scope": "read",
            "iat": now, "exp": now + 300, "jti": format!("j-{sub}"),
        }),
        Some("at+jwt"),
    )
}

fn verifier() -> JwtAccessVerifier {
    JwtAccessVerifier::new(JwkSet::parse(r#"{"keys":[]}"#).unwrap(), ISSUER, RESOURCE)
}

#[tokio::test]
async fn a_fresh_set_is_fetched_once_and_shared() {
    let endpoint = Endpoint::start().await;
    let key = Key::generate(Algorithm::Es256);
    endpoint.serve_keys(&[&key], Some("max-age=600"));
    let cache = Arc::new(JwksCache::new(&endpoint.url).unwrap());
    let verifier = verifier();
    let principal = cache
        .verify(&verifier, &token(&key, "alice"), now())
        .await
        .unwrap();
    assert_eq!(principal.subject(), "alice");
    // Concurrent callers, and later ones, share that one fetch.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (cache, verifier, token) = (
                cache.clone(),
                verifier.clone(),
                token(&key, &format!("u{i}")),
            );
            tokio::spawn(async move { cache.verify(&verifier, &token, now()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(endpoint.fetches(), 1);
    // A token the set refuses for another reason than its kid fetches nothing.
    let foreign = Key::generate(Algorithm::Es256);
    let mut forged = token(&foreign, "mallory");
    forged.replace_range(
        ..forged.find('.').unwrap(),
        token(&key, "x").split('.').next().unwrap(),
    );
    assert!(cache.verify(&verifier, &forged, now()).await.is_err());
    assert_eq!(endpoint.fetches(), 1);
}

#[tokio::test]
async fn cache_control_decides_how_long_within_the_bounds() {
    let endpoint = Endpoint::start().await;
    let key = Key::generate(Algorithm::Es256);
    endpoint.serve_keys(&[&key], Some("max-age=0"));
    let bounded = JwksCache::new(&endpoint.url)
        .unwrap()
        .with_age_bounds(Duration::ZERO, Duration::from_secs(3600));
    for _ in 0..3 {
        bounded.keys().await.unwrap();
    }
    assert_eq!(endpoint.fetches(), 3, "max-age=0: every call fetches");
    // The default lower bound (30 s) keeps it anyway.
    let default = JwksCache::new(&endpoint.url).unwrap();
    for _ in 0..3 {
        default.keys().await.unwrap();
    }
    assert_eq!(endpoint.fetches(), 4);
    // An upper bound of one second caps a year's max-age.
    endpoint.serve_keys(&[&key], Some("max-age=31536000"));
    let capped = JwksCache::new(&endpoint.url)
        .unwrap()
        .with_age_bounds(Duration::ZERO, Duration::from_secs(1));
    capped.keys().await.unwrap();
    capped.keys().await.unwrap();
    assert_eq!(endpoint.fetches(), 5);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    capped.keys().await.unwrap();
    assert_eq!(endpoint.fetches(), 6);
}

#[tokio::test]
async fn an_unknown_kid_fetches_again_at_most_once_per_interval() {
    let endpoint = Endpoint::start().await;
    let (old, new) = (
        Key::generate(Algorithm::Es256),
        Key::generate(Algorithm::EdDsa),
    );
    endpoint.serve_keys(&[&old], Some("max-age=600"));
    let cache = JwksCache::new(&endpoint.url).unwrap();
    let verifier = verifier();
    cache
        .verify(&verifier, &token(&old, "a"), now())
        .await
        .unwrap();
    assert_eq!(endpoint.fetches(), 1);
    // The issuer publishes its next key: a token of it makes the cache fetch the new set.
    endpoint.serve_keys(&[&old, &new], Some("max-age=600"));
    let cache = cache.with_refetch_interval(Duration::ZERO);
    cache
        .verify(&verifier, &token(&new, "b"), now())
        .await
        .unwrap();
    assert_eq!(endpoint.fetches(), 2);

    // Strangers' kids: the set was fetched within the interval, so none fetches it again.
    let strangers = JwksCache::new(&endpoint.url).unwrap();
    endpoint.serve_keys(&[&old], Some("max-age=600"));
    strangers.keys().await.unwrap();
    let before = endpoint.fetches();
    for i in 0..5 {
        let stranger = Key::generate(Algorithm::Es256);
        let refused = strangers
            .verify(&verifier, &token(&stranger, &format!("s{i}")), now())
            .await;
        assert_eq!(
            refused.unwrap_err(),
            CachedVerifyError::Token(JwtAccessError::Jws(JwsError::UnknownKey))
        );
    }
    assert_eq!(endpoint.fetches(), before, "no fetch for five unknown kids");
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_set_and_without_one_is_a_503() {
    let endpoint = Endpoint::start().await;
    let key = Key::generate(Algorithm::Es256);
    endpoint.serve_keys(&[&key], Some("max-age=0"));
    let cache = JwksCache::new(&endpoint.url)
        .unwrap()
        .with_age_bounds(Duration::ZERO, Duration::from_secs(60));
    let verifier = verifier();
    cache
        .verify(&verifier, &token(&key, "a"), now())
        .await
        .unwrap();
    endpoint.serve(StatusCode::INTERNAL_SERVER_ERROR, vec![], "down".into());
    cache
        .verify(&verifier, &token(&key, "b"), now())
        .await
        .unwrap();
    assert_eq!(endpoint.fetches(), 2);
    // The failure holds fetching back for the refetch interval.
    cache
        .verify(&verifier, &token(&key, "c"), now())
        .await
        .unwrap();
    assert_eq!(endpoint.fetches(), 2);

    let empty = JwksCache::new(&endpoint.url).unwrap();
    let refused = empty
        .verify(&verifier, &token(&key, "d"), now())
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        CachedVerifyError::Keys(JwksFetchError::Status(500))
    );
    assert_eq!(refused.to_bearer_error().status(), 503);
    // A refused token, by contrast, is a 401.
    let other = Key::generate(Algorithm::Es256);
    endpoint.serve_keys(&[&key], None);
    let fine = JwksCache::new(&endpoint.url).unwrap();
    let refused = fine
        .verify(&verifier, &token(&other, "e"), now())
        .await
        .unwrap_err();
    assert_eq!(refused.to_bearer_error().status(), 401);
}

#[tokio::test]
async fn oversized_malformed_private_and_redirected_sets_are_refused() {
    let endpoint = Endpoint::start().await;
    let fetch = |endpoint: &Endpoint| {
        let cache = JwksCache::new(&endpoint.url).unwrap();
        async move { cache.keys().await.map(|_| ()) }
    };
    endpoint.serve(
        StatusCode::OK,
        vec![],
        format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(70_000)),
    );
    assert_eq!(fetch(&endpoint).await, Err(JwksFetchError::TooLarge));
    endpoint.serve(StatusCode::OK, vec![], "{not json".into());
    assert!(matches!(
        fetch(&endpoint).await,
        Err(JwksFetchError::Malformed(_))
    ));
    let key = Key::generate(Algorithm::Es256);
    let mut private: Value = key.public.clone();
    private["d"] = "c2VjcmV0".into();
    endpoint.serve(
        StatusCode::OK,
        vec![],
        json!({"keys": [private]}).to_string(),
    );
    assert!(matches!(
        fetch(&endpoint).await,
        Err(JwksFetchError::Malformed(_))
    ));
    endpoint.serve(
        StatusCode::FOUND,
        vec![("location", "http://127.0.0.1:1/elsewhere".into())],
        String::new(),
    );
    assert_eq!(fetch(&endpoint).await, Err(JwksFetchError::Status(302)));
    let closed = JwksCache::new("http://127.0.0.1:1/jwks").unwrap();
    assert!(matches!(
        closed.keys().await,
        Err(JwksFetchError::Unreachable(_))
    ));
}
