//! The external security review's library findings, one test each, named after the finding
//! (C1 ... C19 and the "also" list). Each performs the attack against the library with its
//! default configuration and asserts the defence. The example-server findings (C7, C8's pages,
//! C9, C16) are tested over HTTP in tests/example_server.rs and the dialect tests; the
//! store-level ones (C2, C3, C11, C13, the tombstone) in the conformance kit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::{
    AuthMethod, AuthorizeError, ClientRegistration, DeviceAttempt, ErrorCode, FormRequest,
    GrantType, ScopeSet, UserId,
};

fn authorize_query(client_id: &str, extra: &str) -> String {
    format!(
        "client_id={client_id}&redirect_uri={}&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT)
    )
}

// ---- C5: error redirects to a self-registered URI without any login ----------------------

/// An attacker registers a client whose redirect URI is their phishing page, then links a
/// victim to a broken authorization request: the error must not bounce the browser there
/// before the user has signed in (RFC 9700 §4.11.2).
#[tokio::test]
async fn c5_error_redirect_needs_a_signed_in_user() {
    let h = harness();
    let body = serde_json::json!({
        "client_name": "Totally legit",
        "redirect_uris": ["https://evil.example/phish"],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    let registered = h.provider.register(body.as_bytes(), None).await;
    assert_eq!(registered.status, 201);
    let id = registered.json_body().unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for broken in ["response_type=token", "response_type=code&scope=nonsense"] {
        let query = format!(
            "client_id={id}&redirect_uri={}&{broken}",
            urlencode("https://evil.example/phish")
        );
        let outcome = h.provider.authorize(&params(&query)).await;
        let Err(AuthorizeError::Redirect(held)) = outcome else {
            panic!("{broken}: expected an error held for the redirect URI, got {outcome:?}");
        };
        // The only way to a Location is through a signed-in user.
        let code = held.error().code.clone();
        let redirect = held.after_login(&user());
        assert!(
            redirect
                .location()
                .starts_with("https://evil.example/phish")
        );
        assert_eq!(redirect.param("error").as_deref(), Some(code.as_str()));
    }
}

// ---- C8: device user-code guesses, per user and per source, globally capped ----------------

#[tokio::test]
async fn c8_device_guesses_are_limited_per_user_per_source_and_globally() {
    let h = harness();
    let guess = |user: &'static str, source: &'static str| {
        let provider = h.provider.clone();
        async move {
            let user = UserId::new(user);
            provider
                .device_verification("BCDF-GHJK", &DeviceAttempt::new(&user).from_source(source))
                .await
                .unwrap_err()
                .code
        }
    };
    // Fresh accounts from one source do not buy new guesses: the source's budget is 10.
    let mut wrong = 0;
    for i in 0..30 {
        let user: &'static str = Box::leak(format!("fresh-{i}").into_boxed_str());
        match guess(user, "198.51.100.7").await {
            ErrorCode::InvalidGrant => wrong += 1,
            ErrorCode::SlowDown => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        wrong, 10,
        "one source gets 10 guesses, however many accounts it uses"
    );
    // One account does not buy new guesses by moving between sources either.
    let mut wrong = 0;
    for i in 0..30 {
        let source: &'static str = Box::leak(format!("203.0.113.{i}").into_boxed_str());
        if guess("mallory", source).await == ErrorCode::InvalidGrant {
            wrong += 1;
        }
    }
    assert_eq!(
        wrong, 10,
        "one user gets 10 guesses, from however many sources"
    );
    // Someone else, elsewhere, is not affected.
    assert_eq!(guess("alice", "192.0.2.1").await, ErrorCode::InvalidGrant);
}

#[tokio::test]
async fn c8_device_guesses_have_a_global_cap() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let provider =
        tessera::Provider::builder(config(), Arc::new(tessera::store::MemoryStore::new()))
            .clock(Arc::new(clock))
            .device_global_attempts(Arc::new(tessera::MemoryAttemptLimiter::new(
                25,
                time::Duration::minutes(15),
            )))
            .build();
    let mut wrong = 0;
    // Many users from many sources: the global cap bounds them all together.
    for i in 0..100 {
        let user = UserId::new(format!("user-{i}"));
        let source = format!("source-{i}");
        let attempt = DeviceAttempt::new(&user).from_source(&source);
        match provider.device_verification("BCDF-GHJK", &attempt).await {
            Err(e) if e.code == ErrorCode::InvalidGrant => wrong += 1,
            Err(e) => assert_eq!(e.code, ErrorCode::SlowDown),
            Ok(_) => panic!("a made-up code matched"),
        }
    }
    assert_eq!(wrong, 25);
}

// ---- C10: anyone can lock out a confidential client -----------------------------------------

fn basic_form(client: &TestClient, secret: &str, source: &str) -> FormRequest {
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some(secret.to_owned()),
    };
    FormRequest::new(b"grant_type=client_credentials".to_vec())
        .with_authorization(Some(&wrong.basic()))
        .with_source(Some(source))
}

/// Twenty wrong secrets from an attacker's address must not lock the client out of its own
/// address (RFC 6819 §5.1.4.2.3: the attacker slows only itself).
#[tokio::test]
async fn c10_wrong_secrets_from_a_stranger_do_not_lock_out_the_client() {
    let h = harness();
    let client = h.confidential().await;
    for _ in 0..50 {
        let response = h
            .provider
            .token(&basic_form(&client, "wrong", "198.51.100.66"))
            .await;
        assert_eq!(error_of(&response), "invalid_client");
    }
    let secret = client.secret.clone().unwrap();
    let own = h
        .provider
        .token(&basic_form(&client, &secret, "192.0.2.10"))
        .await;
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
    // The attacker's source is limited: even the right secret from there waits.
    let attacker = h
        .provider
        .token(&basic_form(&client, &secret, "198.51.100.66"))
        .await;
    assert_eq!(error_of(&attacker), "invalid_client");
}

/// A parallel burst of wrong secrets is counted before any is checked: no more than the budget
/// are ever tried.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c10_a_parallel_burst_does_not_exceed_the_budget() {
    #[derive(Debug, Default)]
    struct Counting(std::sync::atomic::AtomicUsize);
    impl tessera::AuditSink for Counting {
        fn record(&self, event: &tessera::AuditEvent) {
            if matches!(event, tessera::AuditEvent::ClientAuthFailed { .. }) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
    let audit = Arc::new(Counting::default());
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .audit(audit.clone())
        .build();
    let h = Arc::new(Harness {
        provider,
        clock: tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC)),
        store,
    });
    let client = Arc::new(h.confidential().await);
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (h, client) = (h.clone(), client.clone());
            tokio::spawn(async move {
                h.provider
                    .token(&basic_form(&client, "wrong", "198.51.100.66"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(error_of(&task.await.unwrap()), "invalid_client");
    }
    // Only attempts that were allowed through to the secret check fail as "authentication
    // failed"; the rest were refused by the limiter before any check.
    assert_eq!(audit.0.load(std::sync::atomic::Ordering::SeqCst), 20);
}

// ---- C17: the registered token_endpoint_auth_method is enforced ----------------------------

#[tokio::test]
async fn c17_a_basic_client_cannot_authenticate_with_post() {
    let h = harness();
    let client = h.confidential().await; // registered client_secret_basic
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id,
        client.secret.as_deref().unwrap()
    );
    let response = h.provider.token(&FormRequest::new(body.clone())).await;
    assert_eq!(error_of(&response), "invalid_client");
    // And the other way round.
    let post = h
        .register(
            ClientRegistration::new("Posting", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_auth_method(AuthMethod::ClientSecretPost),
        )
        .await;
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        post.id,
        post.secret.as_deref().unwrap()
    );
    assert_eq!(h.provider.token(&FormRequest::new(body)).await.status, 200);
    let basic = FormRequest::new(b"grant_type=client_credentials".to_vec())
        .with_authorization(Some(&post.basic()));
    assert_eq!(error_of(&h.provider.token(&basic).await), "invalid_client");
}

// ---- Also: TokenHash's Debug printed 32 bits of an unsalted hash ---------------------------

#[test]
fn also_token_hash_debug_prints_nothing_of_the_hash() {
    let hash = tessera::TokenHash::of("BCDFGHJK");
    let printed = format!("{hash:?}");
    let hex = hash.to_hex();
    for window in 0..hex.len() - 4 {
        assert!(
            !printed.contains(&hex[window..window + 4]),
            "{printed} shows part of {hex}"
        );
    }
}

// ---- Also: defaults that weaken security belong under danger ------------------------------

#[tokio::test]
async fn also_query_tokens_and_open_registration_are_off_by_default() {
    let config = tessera::Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read").unwrap())
        .build()
        .unwrap();
    let provider =
        tessera::Provider::builder(config, Arc::new(tessera::store::MemoryStore::new())).build();
    let body = serde_json::json!({"redirect_uris": [REDIRECT]}).to_string();
    let refused = provider.register(body.as_bytes(), None).await;
    assert_eq!(refused.status, 400, "open registration is off");
    assert!(
        provider
            .metadata_response()
            .json_body()
            .unwrap()
            .get("registration_endpoint")
            .is_none()
    );
    assert!(!provider.config().danger().accepts_bearer_in_query());
    assert_eq!(
        provider.config().grant_types(),
        [GrantType::AuthorizationCode, GrantType::RefreshToken],
        "no grant type is on unless named"
    );
}

#[tokio::test]
async fn also_error_redirects_keep_their_error_for_a_page() {
    let h = harness();
    let client = h.confidential().await;
    let query = authorize_query(&client.id, "&response_type=code&scope=nope");
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(held)) => {
            assert_eq!(held.error().code, ErrorCode::InvalidScope)
        }
        other => panic!("{other:?}"),
    }
}

// ---- C1 (registration part): token exchange is not self-registrable -------------------------

#[tokio::test]
async fn c1_token_exchange_cannot_be_self_registered() {
    let h = harness();
    let body = serde_json::json!({
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "urn:ietf:params:oauth:grant-type:token-exchange"],
    })
    .to_string();
    let response = h.provider.register(body.as_bytes(), None).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_client_metadata");
    // The grant is off unless the host names it.
    let provider = tessera::Provider::builder(
        tessera::Config::builder("https://auth.example.com")
            .build()
            .unwrap(),
        Arc::new(tessera::store::MemoryStore::new()),
    )
    .build();
    assert!(!provider.config().grant_enabled(GrantType::TokenExchange));
}

// ---- C6: a redirect URI may not plant response parameters ----------------------------------

#[tokio::test]
async fn c6_redirect_uris_cannot_carry_code_or_iss() {
    let h = harness();
    for planted in [
        "https://client.example/cb?code=ATTACKER",
        "https://client.example/cb?iss=https://evil.example",
        "https://client.example/cb?x=1&state=forged",
        "https://client.example/cb?error=access_denied",
    ] {
        let body = serde_json::json!({"redirect_uris": [planted]}).to_string();
        let response = h.provider.register(body.as_bytes(), None).await;
        assert_eq!(error_of(&response), "invalid_redirect_uri", "{planted}");
    }
    // A policy that accepts URIs other than the registered ones (Phabricator's same-domain
    // rule) cannot be used to plant them either.
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .redirect_policy(Arc::new(tessera::danger::SameDomainRedirect))
        .build();
    let h = Harness {
        provider,
        clock: tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC)),
        store,
    };
    let client = h.confidential().await;
    for planted in [
        "https://client.example/cb?code=ATTACKER&iss=https://evil.example",
        "https://client.example/other?state=x",
    ] {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            urlencode(planted)
        );
        match h.provider.authorize(&params(&query)).await {
            Err(AuthorizeError::Untrusted(error)) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest, "{planted}")
            }
            other => panic!("{planted}: {other:?}"),
        }
    }
    // Other query parameters are fine.
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode("https://client.example/other?tab=2")
    );
    assert!(h.provider.authorize(&params(&query)).await.is_ok());
}

// ---- C14: no configured scopes means no scopes --------------------------------------------

#[tokio::test]
async fn c14_a_provider_without_scopes_grants_none() {
    let h = harness_with(
        tessera::Config::builder("https://auth.example.com")
            .grant_types(GrantType::ALL)
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT),
        urlencode("admin billing:write")
    );
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(held)) => {
            assert_eq!(held.error().code, ErrorCode::InvalidScope)
        }
        other => panic!("{other:?}"),
    }
    let response = h
        .token(&client, "grant_type=client_credentials&scope=admin")
        .await;
    assert_eq!(error_of(&response), "invalid_scope");
    // Asking for nothing still works, and grants nothing.
    let response = h.token(&client, "grant_type=client_credentials").await;
    assert_eq!(response.status, 200);
    assert!(response.json_body().unwrap().get("scope").is_none());
}

// ---- C18: registration metadata is checked ---------------------------------------------

#[tokio::test]
async fn c18_deceptive_or_dangerous_metadata_is_refused() {
    let h = harness();
    let base = || serde_json::json!({"redirect_uris": [REDIRECT]});
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("client_name", "".into()),
        ("client_name", "   ".into()),
        ("client_name", "Goo\u{202E}elgoog".into()),
        ("client_name", "Bank\u{200B}of\u{200B}Trust".into()),
        ("client_name", "Ho\u{2066}me".into()),
        ("client_name", "ab\u{0007}".into()),
        ("logo_uri", "javascript:alert(1)".into()),
        (
            "policy_uri",
            "data:text/html,<script>alert(1)</script>".into(),
        ),
        ("tos_uri", 42.into()),
        ("tos_uri", "http://tos.example/terms".into()),
        ("client_uri", "https://user:pw@client.example/".into()),
        ("contacts", "admin@client.example".into()),
        ("contacts", serde_json::json!([1, 2])),
        ("software_id", serde_json::json!({"nested": true})),
    ];
    for (field, value) in cases {
        let mut body = base();
        body[field] = value.clone();
        let response = h.provider.register(body.to_string().as_bytes(), None).await;
        assert_eq!(
            (response.status, error_of(&response).as_str()),
            (400, "invalid_client_metadata"),
            "{field}: {value}"
        );
    }
    let mut body = base();
    body["client_name"] = "Café Photos".into();
    body["logo_uri"] = "https://client.example/logo.png".into();
    body["contacts"] = serde_json::json!(["ops@client.example"]);
    let response = h.provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let doc = response.json_body().unwrap();
    assert_eq!(doc["client_name"], "Café Photos");
    assert_eq!(doc["logo_uri"], "https://client.example/logo.png");
}

// ---- C19: loopback redirect matching is textual but for the port ---------------------------

#[tokio::test]
async fn c19_loopback_matching_lets_only_the_port_vary() {
    let h = harness();
    let client = h
        .register(
            ClientRegistration::new("Native", "http://127.0.0.1/loop")
                .with_auth_method(AuthMethod::None),
        )
        .await;
    let ask = |uri: &str| {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            urlencode(uri)
        )
    };
    for refused in [
        "http://127.1:5/loop",
        "http://127.0.0.1:5/x/../loop",
        "http://127.0.0.1:5/./loop",
        "http://0x7f.0.0.1:5/loop",
        "http://127.0.0.1:5/LOOP",
        "http://127.0.0.1:5/loop/",
        "http://127.0.0.1:05x/loop",
        "http://localhost:5/loop",
    ] {
        match h.provider.authorize(&params(&ask(refused))).await {
            Err(AuthorizeError::Untrusted(_)) => {}
            other => panic!("{refused} accepted: {other:?}"),
        }
    }
    for accepted in [
        "http://127.0.0.1:5/loop",
        "http://127.0.0.1:61234/loop",
        "http://127.0.0.1/loop",
    ] {
        assert!(
            h.provider.authorize(&params(&ask(accepted))).await.is_ok(),
            "{accepted}"
        );
    }
}

// ---- C4: unbounded growth by anyone -----------------------------------------------------

/// A client acting for itself never gets a token that never expires, whatever the policy: only
/// a grant a user gave (and can revoke) may.
#[tokio::test]
async fn c4_client_credentials_tokens_always_expire() {
    let h = harness_with(
        builder()
            .danger(
                Danger::new()
                    .open_registration()
                    .never_expire_with_scope(tessera::Scope::new("offline_access").unwrap()),
            )
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    for body in [
        "grant_type=client_credentials&scope=offline_access",
        "grant_type=client_credentials&scope=read%20offline_access",
    ] {
        let tokens = h.token(&client, body).await.json_body().unwrap();
        assert_eq!(tokens["expires_in"], 3600, "{body}: {tokens}");
    }
    // With no scope asked for, the default leaves `offline_access` out.
    let registered = h
        .register(
            ClientRegistration::new("Machine", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_scopes(ScopeSet::parse("read offline_access").unwrap()),
        )
        .await;
    let tokens = h
        .token(&registered, "grant_type=client_credentials")
        .await
        .json_body()
        .unwrap();
    assert_eq!(tokens["scope"], "read", "{tokens}");
    // A user's grant still may never expire.
    let user_tokens = h.tokens(&client, "read offline_access").await;
    assert!(user_tokens.get("expires_in").is_none(), "{user_tokens}");
}

/// One client cannot make the provider store tokens or device authorizations without bound.
#[tokio::test]
async fn c4_machine_issuance_is_limited_per_client() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .machine_issuance(Arc::new(tessera::MemoryAttemptLimiter::new(
            5,
            time::Duration::minutes(1),
        )))
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let client = h.confidential().await;
    let other = h.confidential().await;
    for _ in 0..5 {
        assert_eq!(
            h.token(&client, "grant_type=client_credentials")
                .await
                .status,
            200
        );
    }
    let refused = h.token(&client, "grant_type=client_credentials").await;
    assert_eq!(refused.status, 429);
    assert_eq!(error_of(&refused), "temporarily_unavailable");
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another client is not affected; the client itself is again after the window.
    assert_eq!(
        h.token(&other, "grant_type=client_credentials")
            .await
            .status,
        200
    );
    h.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        h.token(&client, "grant_type=client_credentials")
            .await
            .status,
        200
    );
    // Device authorizations: a public client needs only its ID, so the same bound applies.
    let public = h.public().await;
    let start = || FormRequest::new(format!("client_id={}&scope=read", public.id).into_bytes());
    for _ in 0..5 {
        assert_eq!(h.provider.device_authorization(&start()).await.status, 200);
    }
    let refused = h.provider.device_authorization(&start()).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
}

/// The sweep keeps up: one call removes every expired record, however many, in bounded
/// batches.
#[tokio::test]
async fn c4_one_sweep_drains_the_backlog() {
    let h = harness();
    let client = h.confidential().await;
    for _ in 0..250 {
        assert_eq!(
            h.token(&client, "grant_type=client_credentials")
                .await
                .status,
            200
        );
    }
    h.clock.advance(time::Duration::hours(2));
    assert_eq!(h.provider.sweep(16).await.unwrap(), 250);
    assert_eq!(h.provider.sweep(16).await.unwrap(), 0);
}

// ---- C1: token exchange mints unrevocable tokens from anyone's token ----------------------

fn exchange_body(subject: &str, extra: &str) -> String {
    format!(
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={subject}&subject_token_type=urn:ietf:params:oauth:token-type:access_token{extra}"
    )
}

async fn exchanger(h: &Harness, name: &str) -> TestClient {
    h.register(
        ClientRegistration::new(name, REDIRECT)
            .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::TokenExchange]),
    )
    .await
}

async fn live(h: &Harness, token: &str) -> bool {
    let header = format!("Bearer {token}");
    h.provider
        .validate_bearer(&tessera::BearerRequest::header(&header), &ScopeSet::new())
        .await
        .is_ok()
}

/// Client B, holding an access token issued to client A, cannot exchange it: the server
/// decides who may exchange what (RFC 8693 §5), and by default that is A alone.
#[tokio::test]
async fn c1_a_client_cannot_exchange_another_clients_token() {
    let h = harness();
    let a = exchanger(&h, "A").await;
    let b = exchanger(&h, "B").await;
    let access = h.tokens(&a, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = h.token(&b, &exchange_body(&access, "")).await;
    assert_eq!(error_of(&refused), "invalid_grant");
    // A itself may (to narrow its own token).
    let own = h.token(&a, &exchange_body(&access, "&scope=read")).await;
    assert_eq!(own.status, 200, "{}", String::from_utf8_lossy(&own.body));
}

/// With an explicit trust, B may exchange A's token; the result joins A's grant family:
/// revoking either revokes both, and it dies with the family.
#[tokio::test]
async fn c1_an_exchanged_token_joins_and_dies_with_the_subject_family() {
    let store = Arc::new(tessera::store::MemoryStore::new());
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    // Register first (IDs are generated), then build the provider that trusts the pair.
    let setup = tessera::Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let setup = Harness {
        provider: setup,
        clock: clock.clone(),
        store: store.clone(),
    };
    let a = exchanger(&setup, "A").await;
    let b = exchanger(&setup, "B").await;
    let trusted = builder()
        .trust_exchange(
            tessera::ClientId::new(a.id.clone()).unwrap(),
            tessera::ClientId::new(b.id.clone()).unwrap(),
        )
        .build()
        .unwrap();
    let provider = tessera::Provider::builder(trusted, store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    for revoked_by_b in [false, true] {
        let tokens = h.tokens(&a, "read").await;
        let a_access = tokens["access_token"].as_str().unwrap().to_owned();
        let a_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let exchanged = h.token(&b, &exchange_body(&a_access, "")).await;
        assert_eq!(
            exchanged.status,
            200,
            "{}",
            String::from_utf8_lossy(&exchanged.body)
        );
        let b_access = exchanged.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(live(&h, &b_access).await);
        let (who, token) = if revoked_by_b {
            (&b, b_access.clone())
        } else {
            (&a, a_access.clone())
        };
        let revoke = FormRequest::new(format!("token={token}").into_bytes())
            .with_authorization(Some(&who.basic()));
        assert_eq!(h.provider.revoke(&revoke).await.status, 200);
        assert!(
            !live(&h, &b_access).await,
            "exchanged token outlived a revocation"
        );
        assert!(!live(&h, &a_access).await);
        let refresh = h
            .token(
                &a,
                &format!("grant_type=refresh_token&refresh_token={a_refresh}"),
            )
            .await;
        assert_eq!(error_of(&refresh), "invalid_grant", "the family is gone");
    }
    // A's refresh-token reuse revokes A's family, and the exchanged token with it.
    let tokens = h.tokens(&a, "read").await;
    let a_access = tokens["access_token"].as_str().unwrap().to_owned();
    let a_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let b_access = h
        .token(&b, &exchange_body(&a_access, ""))
        .await
        .json_body()
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!("grant_type=refresh_token&refresh_token={a_refresh}");
    assert_eq!(h.token(&a, &body).await.status, 200);
    assert_eq!(
        error_of(&h.token(&a, &body).await),
        "invalid_grant",
        "reuse"
    );
    assert!(
        !live(&h, &b_access).await,
        "reuse revokes the exchanged token too"
    );
    // The user revoking A at their apps page ends it as well.
    let a_access = h.tokens(&a, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_access = h
        .token(&b, &exchange_body(&a_access, ""))
        .await
        .json_body()
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let a_id = tessera::ClientId::new(a.id.clone()).unwrap();
    assert!(h.provider.revoke_app(&user(), &a_id).await.unwrap());
    assert!(!live(&h, &b_access).await);
}

/// An exchanged token never outlives the subject token, even down a chain of exchanges, and
/// always expires, even from a never-expiring `offline_access` subject.
#[tokio::test]
async fn c1_exchanged_tokens_never_outlive_the_subject() {
    let h = harness_with(
        builder()
            .danger(
                Danger::new()
                    .open_registration()
                    .never_expire_with_scope(tessera::Scope::new("offline_access").unwrap()),
            )
            .build()
            .unwrap(),
    );
    let a = exchanger(&h, "A").await;
    let forever = h.tokens(&a, "read offline_access").await;
    assert!(forever.get("expires_in").is_none());
    let subject = forever["access_token"].as_str().unwrap();
    let exchanged = h
        .token(&a, &exchange_body(subject, ""))
        .await
        .json_body()
        .unwrap();
    assert_eq!(exchanged["expires_in"], 3600, "{exchanged}");
    // Chained: each step is capped by the one before.
    h.clock.advance(time::Duration::minutes(50));
    let first = exchanged["access_token"].as_str().unwrap();
    let second = h
        .token(&a, &exchange_body(first, ""))
        .await
        .json_body()
        .unwrap();
    assert_eq!(second["expires_in"], 600, "{second}");
    h.clock.advance(time::Duration::minutes(11));
    assert!(!live(&h, second["access_token"].as_str().unwrap()).await);
    assert!(live(&h, subject).await, "the subject itself lives on");
}

/// Exchanging saves no consent: the user's next visit to the client's authorization page
/// still shows the consent screen.
#[tokio::test]
async fn c1_exchange_saves_no_consent() {
    let h = harness();
    let a = exchanger(&h, "A").await;
    let b = h
        .register(
            ClientRegistration::new("B", REDIRECT)
                .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::TokenExchange]),
        )
        .await;
    let access = h.tokens(&a, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = h.token(&a, &exchange_body(&access, "")).await;
    let _ = h.token(&b, &exchange_body(&access, "")).await;
    let apps = h.provider.authorized_apps(&user()).await.unwrap();
    assert_eq!(apps.len(), 1, "only A, which the user authorized: {apps:?}");
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
        b.id,
        urlencode(REDIRECT)
    );
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    assert!(!pending.consent_covers(&h.provider, &user()).await.unwrap());
}

/// C15: wrong host subject tokens are limited per client and source, like client secrets.
#[tokio::test]
async fn c15_host_subject_tokens_are_rate_limited() {
    #[derive(Debug)]
    struct Personal;
    #[tessera::async_trait]
    impl tessera::SubjectTokenValidator for Personal {
        async fn validate(
            &self,
            _: &str,
            token: &str,
        ) -> Result<Option<tessera::SubjectToken>, tessera::StoreError> {
            Ok((token == "right").then(|| tessera::SubjectToken::new(UserId::new("alice"))))
        }
    }
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .subject_tokens(Arc::new(Personal))
        .build();
    let h = Harness {
        provider,
        clock: tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC)),
        store,
    };
    let client = exchanger(&h, "Exchanger").await;
    let body = |token: &str| {
        format!(
            "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={token}&subject_token_type=urn:example:personal"
        )
    };
    let from = |token: &str, source: &str| {
        FormRequest::new(body(token).into_bytes())
            .with_authorization(Some(&client.basic()))
            .with_source(Some(source))
    };
    for _ in 0..1000 {
        let _ = h.provider.token(&from("wrong", "198.51.100.1")).await;
    }
    let after = h.provider.token(&from("right", "198.51.100.1")).await;
    assert_eq!(
        error_of(&after),
        "invalid_grant",
        "the guesser's source is limited"
    );
    let elsewhere = h.provider.token(&from("right", "192.0.2.7")).await;
    assert_eq!(
        elsewhere.status,
        200,
        "{}",
        String::from_utf8_lossy(&elsewhere.body)
    );
}
