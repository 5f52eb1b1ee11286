//! Store faults, answered right: an unavailable store is a 503 `temporarily_unavailable` with
//! `Retry-After` at every endpoint (never a 500, never a 401), any other fault a 500
//! `server_error`; nothing is lost, and a code whose redemption failed stays redeemable.
//!
//! First against a memory store whose every step can be made to fail (no database needed),
//! then, with the `postgres` and `redis` features and `TESSERA_TEST_POSTGRES_URL` /
//! `TESSERA_TEST_REDIS_URL`, against the real servers through a TCP proxy of the test's own
//! (`support/fault_proxy.rs`) that drops, refuses or holds the store's connections. Without the
//! variables those tests pass after saying they were skipped, as the adapter suites do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "support/fault_proxy.rs"]
mod fault_proxy;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use common::*;
use tessera::store::MemoryStore;
use tessera::testkit::{ManualClock, SeededEntropy};
use tessera::{BearerRequest, ErrorCode, FormRequest, Provider, Response, ScopeSet, StoreError};

/// A memory store whose every step fails while `mode` says so: 0 works, 1 is
/// [`StoreError::Unavailable`], 2 a [`StoreError::Backend`] fault. `fail_redemptions` fails
/// the next `redeem_code` before it does anything (a connection dropped before the step ran).
#[derive(Debug)]
struct FaultyStore {
    inner: Arc<MemoryStore>,
    mode: AtomicU8,
    fail_redemptions: AtomicBool,
}

const WORKS: u8 = 0;
const UNAVAILABLE: u8 = 1;
const BROKEN: u8 = 2;

impl FaultyStore {
    fn fault(&self) -> Result<(), StoreError> {
        match self.mode.load(Ordering::SeqCst) {
            WORKS => Ok(()),
            UNAVAILABLE => Err(StoreError::Unavailable("connection refused".into())),
            _ => Err(StoreError::backend(std::io::Error::other(
                "relation missing",
            ))),
        }
    }
}

/// A provider over a [`FaultyStore`], with the harness's clock and randomness.
fn faulty_harness() -> (Harness, Arc<FaultyStore>) {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let inner = Arc::new(MemoryStore::new());
    let faulty = Arc::new(FaultyStore {
        inner: inner.clone(),
        mode: AtomicU8::new(WORKS),
        fail_redemptions: AtomicBool::new(false),
    });
    let provider = Provider::builder(config(), faulty.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(23)))
        .build();
    let h = Harness {
        provider,
        clock,
        store: inner,
    };
    (h, faulty)
}

fn body_of(response: &Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

/// 503, JSON `temporarily_unavailable`, `Retry-After`, and no word of the cause.
fn assert_unavailable(response: &Response, what: &str) {
    assert_eq!(response.status, 503, "{what}: {}", body_of(response));
    assert_eq!(error_of(response), "temporarily_unavailable", "{what}");
    let wait: u64 = response
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap();
    assert!((1..=5).contains(&wait), "{what}: Retry-After {wait}");
    assert!(!body_of(response).contains("refused"), "{what}");
}

fn assert_server_error(response: &Response, what: &str) {
    assert_eq!(response.status, 500, "{what}: {}", body_of(response));
    assert_eq!(error_of(response), "server_error", "{what}");
    assert_eq!(response.header("retry-after"), None, "{what}");
    assert!(!body_of(response).contains("relation"), "{what}");
}

fn with_basic(client: &TestClient, body: &str) -> FormRequest {
    FormRequest::new(body.as_bytes().to_vec()).with_authorization(Some(&client.basic()))
}

fn authorize_query(client: &TestClient) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT),
    )
}

/// Every store-backed answer the provider gives while the store fails as `mode` says.
struct Answers {
    token: Response,
    introspection: Response,
    revocation: Response,
    device_authorization: Response,
    registration: Response,
    configuration: Response,
    bearer: Response,
    bearer_status: u16,
    authorize: tessera::UntrustedRequest,
}

async fn answers(h: &Harness, client: &TestClient, access: &str) -> Answers {
    let p = &h.provider;
    let header = format!("Bearer {access}");
    let refused = p
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .expect_err("no validation without the store");
    let authorize = match p.authorize(&params(&authorize_query(client))).await {
        Err(tessera::AuthorizeError::Untrusted(error)) => error,
        other => panic!("the client cannot be trusted without the store: {other:?}"),
    };
    Answers {
        token: h
            .token(client, "grant_type=client_credentials&scope=read")
            .await,
        introspection: p
            .introspect(&with_basic(client, &format!("token={access}")))
            .await,
        revocation: p
            .revoke(&with_basic(client, &format!("token={access}")))
            .await,
        device_authorization: p
            .device_authorization(&with_basic(client, "scope=read"))
            .await,
        registration: p
            .register(br#"{"redirect_uris":["https://client.example/cb"]}"#, None)
            .await,
        configuration: p
            .client_configuration("GET", &client.id, Some("Bearer x"), b"")
            .await,
        bearer_status: refused.status(),
        bearer: refused.to_response(p),
        authorize,
    }
}

#[tokio::test]
async fn an_unavailable_store_is_a_503_with_retry_after_everywhere_and_nothing_is_lost() {
    let (h, faulty) = faulty_harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read offline_access").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let code = h.code(&client, "read").await;
    assert!(h.provider.ready().await.is_ok());

    faulty.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let answers = answers(&h, &client, &access).await;
    assert_unavailable(&answers.token, "token endpoint");
    assert_unavailable(&answers.introspection, "introspection");
    assert_unavailable(&answers.revocation, "revocation");
    assert_unavailable(&answers.device_authorization, "device authorization");
    assert_unavailable(&answers.registration, "registration");
    assert_unavailable(&answers.configuration, "client configuration");
    assert_eq!(answers.bearer_status, 503);
    assert_unavailable(&answers.bearer, "bearer validation");
    assert_eq!(answers.authorize.status(), 503);
    assert_eq!(answers.authorize.code, ErrorCode::TemporarilyUnavailable);
    assert_eq!(answers.authorize.retry_after, Some(2));
    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        tokens["refresh_token"].as_str().unwrap()
    );
    assert_unavailable(&h.token(&client, &refresh).await, "refresh");
    assert_unavailable(&h.exchange_code(&client, &code).await, "code exchange");
    assert!(matches!(
        h.provider.ready().await,
        Err(StoreError::Unavailable(_))
    ));

    // The store is back: everything issued before the fault still works.
    faulty.mode.store(WORKS, Ordering::SeqCst);
    assert!(h.provider.ready().await.is_ok());
    let header = format!("Bearer {access}");
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_ok(),
        "a token issued before the fault validates after it"
    );
    assert_eq!(h.exchange_code(&client, &code).await.status, 200);
    assert_eq!(h.token(&client, &refresh).await.status, 200);
    let again = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    assert_eq!(again.status, 200, "{}", body_of(&again));
}

#[tokio::test]
async fn any_other_store_fault_is_a_500_server_error_without_retry_after() {
    let (h, faulty) = faulty_harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    faulty.mode.store(BROKEN, Ordering::SeqCst);
    let answers = answers(&h, &client, &access).await;
    assert_server_error(&answers.token, "token endpoint");
    assert_server_error(&answers.introspection, "introspection");
    assert_server_error(&answers.device_authorization, "device authorization");
    assert_server_error(&answers.registration, "registration");
    assert_server_error(&answers.configuration, "client configuration");
    assert_eq!(answers.bearer_status, 500);
    assert_server_error(&answers.bearer, "bearer validation");
    assert_eq!(answers.authorize.status(), 500);
    assert_eq!(answers.authorize.retry_after, None);
    // The client's authentication fails first, as at every endpoint. (A revocation whose
    // own steps fail is a 503 whatever the fault, as RFC 7009 §2.2.1 has it.)
    assert_server_error(&answers.revocation, "revocation");
    assert!(matches!(
        h.provider.ready().await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test]
async fn a_code_whose_redemption_failed_is_redeemed_by_the_retry() {
    let (h, faulty) = faulty_harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    // The store step failed without running (the contract: a fault leaves the code live and
    // nothing stored), so the client's retry with the same verifier is no replay.
    faulty.fail_redemptions.store(true, Ordering::SeqCst);
    assert_unavailable(&h.exchange_code(&client, &code).await, "failed redemption");
    let retried = h.exchange_code(&client, &code).await;
    assert_eq!(retried.status, 200, "{}", body_of(&retried));
    let access = retried.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = format!("Bearer {access}");
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_ok()
    );
    // And it is spent now: a third redemption is the replay it is.
    assert_eq!(
        error_of(&h.exchange_code(&client, &code).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn an_approval_the_store_cannot_keep_redirects_temporarily_unavailable() {
    let (h, faulty) = faulty_harness();
    let client = h.confidential().await;
    let pending = h
        .provider
        .authorize(&params(&authorize_query(&client)))
        .await
        .unwrap();
    let scopes = pending.scopes().clone();
    faulty.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let redirect = pending.approve(&h.provider, user(), &scopes).await;
    assert!(
        redirect.location().starts_with(REDIRECT),
        "{}",
        redirect.location()
    );
    assert_eq!(
        redirect.param("error").as_deref(),
        Some("temporarily_unavailable")
    );
    assert_eq!(redirect.param("state").as_deref(), Some("xyz"));
    assert_eq!(redirect.param("code"), None);
}

#[tokio::test]
async fn the_bearer_layer_and_extractors_answer_503_while_the_store_is_unavailable() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use axum::routing::get;
    use tower::ServiceExt as _;

    let (h, faulty) = faulty_harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    async fn me(principal: tessera::Principal) -> String {
        principal.client_id().as_str().to_owned()
    }
    let layered = axum::Router::new()
        .route("/layer", get(|| async { "ok" }))
        .route_layer(tessera::axum::BearerLayer::new(&h.provider));
    let router = axum::Router::new()
        .route("/extractor", get(me))
        .with_state(h.provider.clone())
        .merge(layered);
    faulty.mode.store(UNAVAILABLE, Ordering::SeqCst);
    for path in ["/layer", "/extractor"] {
        let request = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(response.headers()[header::RETRY_AFTER], "2", "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable", "{path}");
    }
    faulty.mode.store(WORKS, Ordering::SeqCst);
    let request = Request::get("/layer")
        .header(header::AUTHORIZATION, format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(router.oneshot(request).await.unwrap().status(), 200);
}

mod faulty {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use async_trait::async_trait;
    use tessera::store::{
        ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
        DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, GrantId, Insertion,
        IssueOutcome, RefreshLookup, ReplayKey, ReplayStore, Rotation, TokenRecord, TokenStore,
    };
    use tessera::{Client, ClientId, SecretHash, StoreError, TokenHash, UserId};
    use time::OffsetDateTime;

    use super::FaultyStore;

    #[async_trait]
    impl ClientStore for FaultyStore {
        async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
            self.fault()?;
            self.inner.insert_client(client).await
        }
        async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
            self.fault()?;
            self.inner.find_client(id).await
        }
        async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.update_client(client).await
        }
        async fn set_client_secret(
            &self,
            id: &ClientId,
            secret: &SecretHash,
        ) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.set_client_secret(id, secret).await
        }
        async fn swap_registration_token(
            &self,
            id: &ClientId,
            old: &TokenHash,
            new: &TokenHash,
        ) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.swap_registration_token(id, old, new).await
        }
        async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.delete_client(id).await
        }
        async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.touch_client(id).await
        }
        async fn sweep_clients(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.sweep_clients(now, limit).await
        }
    }

    #[async_trait]
    impl CodeStore for FaultyStore {
        async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
            self.fault()?;
            self.inner.insert_code(code).await
        }
        async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
            self.fault()?;
            self.inner.find_code(hash).await
        }
        async fn redeem_code(
            &self,
            hash: &TokenHash,
            tokens: &[TokenRecord],
        ) -> Result<CodeRedemption, StoreError> {
            if self.fail_redemptions.swap(false, Ordering::SeqCst) {
                return Err(StoreError::Unavailable("connection reset by peer".into()));
            }
            self.fault()?;
            self.inner.redeem_code(hash, tokens).await
        }
        async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.sweep_codes(now, limit).await
        }
    }

    #[async_trait]
    impl TokenStore for FaultyStore {
        async fn ping(&self) -> Result<(), StoreError> {
            self.fault()
        }
        async fn issue_tokens(
            &self,
            family: Family<'_>,
            tokens: &[TokenRecord],
        ) -> Result<IssueOutcome, StoreError> {
            self.fault()?;
            self.inner.issue_tokens(family, tokens).await
        }
        async fn find_token(
            &self,
            hash: &TokenHash,
        ) -> Result<Option<Arc<TokenRecord>>, StoreError> {
            self.fault()?;
            self.inner.find_token(hash).await
        }
        async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
            self.fault()?;
            self.inner.find_refresh(hash).await
        }
        async fn rotate_refresh(
            &self,
            old: &TokenHash,
            new: &[TokenRecord],
            sealed_successor: Option<Vec<u8>>,
            now: OffsetDateTime,
        ) -> Result<Rotation, StoreError> {
            self.fault()?;
            self.inner
                .rotate_refresh(old, new, sealed_successor, now)
                .await
        }
        async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.revoke_token(hash).await
        }
        async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.revoke_grant(grant).await
        }
        async fn revoke_user_grants(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.revoke_user_grants(user, client).await
        }
        async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.sweep_tokens(now, limit).await
        }
    }

    #[async_trait]
    impl ConsentStore for FaultyStore {
        async fn find_consent(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<Option<Consent>, StoreError> {
            self.fault()?;
            self.inner.find_consent(user, client).await
        }
        async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
            self.fault()?;
            self.inner.save_consent(consent).await
        }
        async fn touch_consent(
            &self,
            user: &UserId,
            client: &ClientId,
            at: OffsetDateTime,
        ) -> Result<(), StoreError> {
            self.fault()?;
            self.inner.touch_consent(user, client, at).await
        }
        async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
            self.fault()?;
            self.inner.list_consents(user).await
        }
        async fn revoke_consent(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.revoke_consent(user, client).await
        }
    }

    #[async_trait]
    impl ReplayStore for FaultyStore {
        async fn remember(
            &self,
            key: &ReplayKey,
            now: OffsetDateTime,
            expires_at: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.remember(key, now, expires_at).await
        }
        async fn sweep_replays(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.sweep_replays(now, limit).await
        }
    }

    #[async_trait]
    impl DeviceStore for FaultyStore {
        async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
            self.fault()?;
            self.inner.insert_device(record).await
        }
        async fn find_device_by_user_code(
            &self,
            user_code: &TokenHash,
        ) -> Result<Option<DeviceRecord>, StoreError> {
            self.fault()?;
            self.inner.find_device_by_user_code(user_code).await
        }
        async fn decide_device(
            &self,
            user_code: &TokenHash,
            status: DeviceStatus,
        ) -> Result<bool, StoreError> {
            self.fault()?;
            self.inner.decide_device(user_code, status).await
        }
        async fn poll_device(
            &self,
            device: &TokenHash,
            now: OffsetDateTime,
        ) -> Result<DevicePoll, StoreError> {
            self.fault()?;
            self.inner.poll_device(device, now).await
        }
        async fn redeem_device(
            &self,
            device: &TokenHash,
            tokens: &[TokenRecord],
        ) -> Result<DeviceRedemption, StoreError> {
            self.fault()?;
            self.inner.redeem_device(device, tokens).await
        }
        async fn sweep_devices(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.fault()?;
            self.inner.sweep_devices(now, limit).await
        }
    }
}

// ---- Through a fault proxy, against the real servers ----------------------------------------

/// The `host:port` of a `scheme://[user@]host[:port]/...` URL, as a socket address.
#[cfg(any(feature = "postgres", feature = "redis"))]
fn upstream_of(url: &str, default_port: u16) -> std::net::SocketAddr {
    use std::net::ToSocketAddrs as _;
    let parsed = url::Url::parse(url).expect("a database URL");
    let host = parsed.host_str().expect("a host");
    let port = parsed.port().unwrap_or(default_port);
    (host, port)
        .to_socket_addrs()
        .expect("resolve the database host")
        .next()
        .expect("an address")
}

#[cfg(any(feature = "postgres", feature = "redis"))]
fn random_hex() -> String {
    use tessera::Entropy as _;
    let mut bytes = [0u8; 8];
    tessera::OsEntropy.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn client_credentials(h: &Harness, client: &TestClient) -> Response {
    h.token(client, "grant_type=client_credentials&scope=read")
        .await
}

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn bearer(h: &Harness, access: &str) -> Result<tessera::Principal, tessera::BearerError> {
    let header = format!("Bearer {access}");
    h.provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
}

/// The scenario on any store behind `proxy`: tokens and a code from before the fault; while
/// the proxy is `fault`, token requests, bearer checks and the readiness check are refused as
/// unavailable (never a 500); within 5 s of the proxy passing traffic again everything works,
/// and what was issued before still does.
#[cfg(any(feature = "postgres", feature = "redis"))]
async fn survives(h: &Harness, proxy: &fault_proxy::FaultProxy, fault: fault_proxy::Mode) {
    use std::time::{Duration, Instant};

    let client = h.confidential().await;
    let before = client_credentials(h, &client).await;
    assert_eq!(before.status, 200, "{}", body_of(&before));
    let access = before.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = h.code(&client, "read").await;

    proxy.set(fault);
    for round in 0..2 {
        let what = format!("{fault:?} round {round}");
        assert_unavailable(
            &client_credentials(h, &client).await,
            &format!("token, {what}"),
        );
        let refused = bearer(h, &access)
            .await
            .expect_err("no store, no validation");
        assert_eq!(refused.status(), 503, "bearer, {what}");
        assert_unavailable(
            &refused.to_response(&h.provider),
            &format!("bearer, {what}"),
        );
        assert_unavailable(
            &h.exchange_code(&client, &code).await,
            &format!("code exchange, {what}"),
        );
        assert!(
            matches!(h.provider.ready().await, Err(StoreError::Unavailable(_))),
            "ready, {what}"
        );
    }

    proxy.set(fault_proxy::Mode::Pass);
    let back = Instant::now();
    loop {
        let response = client_credentials(h, &client).await;
        if response.status == 200 {
            break;
        }
        assert_unavailable(&response, "token, recovering");
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still refused 5 s after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(h.provider.ready().await.is_ok());
    assert!(
        bearer(h, &access).await.is_ok(),
        "a token from before the fault"
    );
    let redeemed = h.exchange_code(&client, &code).await;
    assert_eq!(redeemed.status, 200, "{}", body_of(&redeemed));
}

/// [`Provider::sweep`] with batches of 16 drains 40 expired codes in one call.
#[cfg(any(feature = "postgres", feature = "redis"))]
async fn sweep_drains_a_backlog(h: &Harness) {
    let client = h.confidential().await;
    for _ in 0..40 {
        h.code(&client, "read").await;
    }
    h.clock.advance(time::Duration::hours(1));
    let swept = h.provider.sweep(16).await.unwrap();
    assert!(swept >= 40, "one sweep removed {swept} of 40 expired codes");
    assert_eq!(
        h.provider.sweep(16).await.unwrap(),
        0,
        "nothing left behind"
    );
}

/// What a scenario on its own task, bounded to 30 s, came to: the caller cleans up first,
/// then [`settle`]s.
#[cfg(any(feature = "postgres", feature = "redis"))]
type Outcome = Result<Result<(), tokio::time::error::Elapsed>, tokio::task::JoinError>;

#[cfg(any(feature = "postgres", feature = "redis"))]
async fn bounded(scenario: impl std::future::Future<Output = ()> + Send + 'static) -> Outcome {
    tokio::spawn(tokio::time::timeout(
        std::time::Duration::from_secs(30),
        scenario,
    ))
    .await
}

/// Fails as the scenario did (its panic, or running past 30 s).
#[cfg(any(feature = "postgres", feature = "redis"))]
fn settle(outcome: Outcome) {
    match outcome {
        Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
        Ok(timed) => timed.expect("the scenario ends within 30 s"),
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::str::FromStr as _;
    use std::time::Duration;

    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use tessera::store::PgStore;

    use super::*;
    use crate::fault_proxy::{FaultProxy, Mode};

    const URL_VAR: &str = "TESSERA_TEST_POSTGRES_URL";

    /// A harness over PostgreSQL through a fresh proxy, in a schema of its own, and a closure
    /// dropping the schema; `None` (skip, loudly) without the URL.
    async fn setup() -> Option<(Harness, FaultProxy, PgStore, String)> {
        let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
            eprintln!("skipped: {URL_VAR} is not set");
            return None;
        };
        let schema = format!("tessera_faults_{}", super::random_hex());
        let direct = PgStore::connect_in_schema(&url, &schema)
            .await
            .expect("connect");
        direct.migrate().await.expect("migrate");
        let proxy = FaultProxy::start(upstream_of(&url, 5432)).await;
        let options = PgConnectOptions::from_str(&url)
            .expect("the URL")
            .host("127.0.0.1")
            .port(proxy.addr().port())
            .options([("search_path", schema.as_str())]);
        // A short wait for a connection, so that each refused request answers within 2 s.
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await
            .expect("connect through the proxy");
        let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
        // A paused server never answers: each operation gives up after 500 ms.
        let store = PgStore::from_pool(pool).with_operation_timeout(Duration::from_millis(500));
        let provider = Provider::builder(config(), Arc::new(store))
            .clock(Arc::new(clock.clone()))
            .build();
        // The harness's memory store is not used: the provider's store is PostgreSQL.
        let h = Harness {
            provider,
            clock,
            store: Arc::new(MemoryStore::new()),
        };
        Some((h, proxy, direct, schema))
    }

    async fn teardown(direct: PgStore, schema: String) {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(direct.pool())
            .await
            .expect("drop the test schema");
        direct.pool().close().await;
    }

    /// Runs `scenario` on a fresh harness, drops the schema whatever happened, then fails if the
    /// scenario did (or took over 30 s).
    async fn run<F, Fut>(scenario: F)
    where
        F: FnOnce(Harness, FaultProxy) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let Some((h, proxy, direct, schema)) = setup().await else {
            return;
        };
        let outcome = super::bounded(scenario(h, proxy)).await;
        teardown(direct, schema).await;
        super::settle(outcome);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_dropped_and_refused_are_503_and_heal() {
        run(|h, proxy| async move { survives(&h, &proxy, Mode::Down).await }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_server_is_503_after_the_operation_timeout_and_heals() {
        run(|h, proxy| async move { survives(&h, &proxy, Mode::Pause).await }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_drains_a_backlog_larger_than_a_batch() {
        run(|h, proxy| async move {
            let _kept = proxy; // the store's way to the server
            sweep_drains_a_backlog(&h).await;
        })
        .await;
    }
}

#[cfg(feature = "redis")]
mod redis {

    use tessera::store::RedisStore;

    use super::*;
    use crate::fault_proxy::{FaultProxy, Mode};

    const URL_VAR: &str = "TESSERA_TEST_REDIS_URL";

    /// A harness over Redis through a fresh proxy, under a random prefix, with a direct store
    /// on the same prefix for the clean-up; `None` (skip, loudly) without the URL.
    async fn setup() -> Option<(Harness, FaultProxy, RedisStore)> {
        let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
            eprintln!("skipped: {URL_VAR} is not set");
            return None;
        };
        let prefix = format!("tessera-faults:{}:", super::random_hex());
        let direct = RedisStore::connect(&url)
            .await
            .expect("connect")
            .with_prefix(prefix.clone());
        let proxy = FaultProxy::start(upstream_of(&url, 6379)).await;
        let mut through = url::Url::parse(&url).expect("the URL");
        through.set_host(Some("127.0.0.1")).expect("a host");
        through.set_port(Some(proxy.addr().port())).expect("a port");
        // No Redis expiry: the provider's clock is not the wall clock.
        let store = RedisStore::connect(through.as_str())
            .await
            .expect("connect through the proxy")
            .with_prefix(prefix)
            .with_expiry_grace(None);
        let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
        let provider = Provider::builder(config(), Arc::new(store))
            .clock(Arc::new(clock.clone()))
            .build();
        // The harness's memory store is not used: the provider's store is Redis.
        let h = Harness {
            provider,
            clock,
            store: Arc::new(MemoryStore::new()),
        };
        Some((h, proxy, direct))
    }

    /// Runs `scenario` on a fresh harness, purges the prefix whatever happened, then fails if
    /// the scenario did (or took over 30 s).
    async fn run<F, Fut>(scenario: F)
    where
        F: FnOnce(Harness, FaultProxy) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let Some((h, proxy, direct)) = setup().await else {
            return;
        };
        let outcome = super::bounded(scenario(h, proxy)).await;
        direct.purge().await.expect("purge the test prefix");
        super::settle(outcome);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_dropped_and_refused_are_503_and_heal() {
        run(|h, proxy| async move { survives(&h, &proxy, Mode::Down).await }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paused_server_is_503_after_the_response_timeout_and_heals() {
        run(|h, proxy| async move { survives(&h, &proxy, Mode::Pause).await }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_drains_a_backlog_larger_than_a_batch() {
        run(|h, proxy| async move {
            let _kept = proxy; // the store's way to the server
            sweep_drains_a_backlog(&h).await;
        })
        .await;
    }
}
