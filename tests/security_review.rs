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
                .as_str()
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
    let clock = tessera::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
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
        clock: tessera::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC)),
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
    assert!(provider.metadata().get("registration_endpoint").is_none());
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
