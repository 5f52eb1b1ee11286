//! Client credentials (RFC 6749 §4.4), device authorization (RFC 8628) and token exchange
//! (RFC 8693): success and every documented error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use tessera::{
    BearerRequest, ClientRegistration, ErrorCode, FormRequest, GrantType, Provider, ScopeSet,
    StoreError, SubjectTokenValidator, UserId,
};
use time::Duration;

const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const PERSONAL_TYPE: &str = "urn:example:personal-token";

// ---- Client credentials -----------------------------------------------------------------

#[tokio::test]
async fn client_credentials_issues_an_access_token_without_refresh() {
    let h = harness();
    let client = h.confidential().await;
    let response = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    assert_eq!(response.status, 200);
    let body = response.json_body().unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "read");
    let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let principal = h
        .provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .unwrap();
    assert!(principal.user().is_none(), "the client acts for itself");
}

#[tokio::test]
async fn client_credentials_scopes_are_limited_to_the_client() {
    let h = harness();
    let client = h
        .register(
            ClientRegistration::new("Limited", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_scopes(ScopeSet::parse("read").unwrap()),
        )
        .await;
    assert_eq!(
        error_of(
            &h.token(&client, "grant_type=client_credentials&scope=write")
                .await
        ),
        "invalid_scope"
    );
    assert_eq!(
        error_of(
            &h.token(&client, "grant_type=client_credentials&scope=nope")
                .await
        ),
        "invalid_scope"
    );
    let body = h
        .token(&client, "grant_type=client_credentials")
        .await
        .json_body()
        .unwrap();
    assert_eq!(
        body["scope"], "read",
        "no scope asked: the client's allowed scopes"
    );
}

#[tokio::test]
async fn client_credentials_is_refused_to_public_and_unpermitted_clients() {
    let h = harness();
    let public = h.public().await;
    let response = h
        .token(
            &public,
            &format!("grant_type=client_credentials&client_id={}", public.id),
        )
        .await;
    assert_eq!(error_of(&response), "unauthorized_client");
    let web_only = h.register(ClientRegistration::new("Web", REDIRECT)).await;
    assert_eq!(
        error_of(&h.token(&web_only, "grant_type=client_credentials").await),
        "unauthorized_client"
    );
    let h = harness_with(
        builder()
            .grant_types([GrantType::AuthorizationCode])
            .build()
            .unwrap(),
    );
    let client = h.register(ClientRegistration::new("Web", REDIRECT)).await;
    assert_eq!(
        error_of(&h.token(&client, "grant_type=client_credentials").await),
        "unsupported_grant_type"
    );
}

// ---- Device authorization ---------------------------------------------------------------

async fn start_device(h: &Harness, client: &TestClient, scope: &str) -> serde_json::Value {
    let mut body = format!("scope={scope}");
    if client.secret.is_none() {
        body.push_str(&format!("&client_id={}", client.id));
    }
    let request = FormRequest::new(body.into_bytes());
    let request = if client.secret.is_some() {
        request.with_authorization(Some(&client.basic()))
    } else {
        request
    };
    let response = h.provider.device_authorization(&request).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

async fn poll(h: &Harness, client: &TestClient, device_code: &str) -> tessera::Response {
    let mut body = format!("grant_type={DEVICE}&device_code={device_code}");
    if client.secret.is_none() {
        body.push_str(&format!("&client_id={}", client.id));
    }
    h.token(client, &body).await
}

#[tokio::test]
async fn device_flow_pending_approval_tokens_exactly_once() {
    let h = harness();
    let client = h.public().await;
    let start = start_device(&h, &client, "read").await;
    let user_code = start["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(start["verification_uri"], "https://auth.example.com/device");
    assert_eq!(
        start["verification_uri_complete"],
        format!("https://auth.example.com/device?user_code={user_code}")
    );
    assert_eq!(start["expires_in"], 600);
    assert_eq!(start["interval"], 5);
    let device_code = start["device_code"].as_str().unwrap();

    assert_eq!(
        error_of(&poll(&h, &client, device_code).await),
        "authorization_pending"
    );
    // Case and dash do not matter on input.
    let typed = user_code.replace('-', "").to_lowercase();
    let pending = h
        .provider
        .device_verification(
            &typed,
            &tessera::DeviceAttempt::new(&tessera::UserId::new("session-1")),
        )
        .await
        .unwrap();
    assert_eq!(pending.scopes(), &ScopeSet::parse("read").unwrap());
    assert_eq!(pending.client().name, "Public");
    assert!(
        pending
            .approve(&h.provider, user(), &ScopeSet::parse("read").unwrap())
            .await
            .unwrap()
    );

    h.clock.advance(Duration::seconds(5));
    let tokens = poll(&h, &client, device_code).await;
    assert_eq!(
        tokens.status,
        200,
        "{}",
        String::from_utf8_lossy(&tokens.body)
    );
    let body = tokens.json_body().unwrap();
    assert!(body["refresh_token"].is_string());
    h.clock.advance(Duration::seconds(5));
    assert_eq!(
        error_of(&poll(&h, &client, device_code).await),
        "invalid_grant",
        "tokens are delivered once"
    );
    assert_eq!(h.provider.authorized_apps(&user()).await.unwrap().len(), 1);
    // A decided code cannot be entered again.
    assert!(
        h.provider
            .device_verification(
                user_code,
                &tessera::DeviceAttempt::new(&tessera::UserId::new("session-1"))
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn device_polling_too_fast_is_slow_down() {
    let h = harness();
    let client = h.confidential().await;
    let start = start_device(&h, &client, "read").await;
    let device_code = start["device_code"].as_str().unwrap();
    assert_eq!(
        error_of(&poll(&h, &client, device_code).await),
        "authorization_pending"
    );
    h.clock.advance(Duration::seconds(2));
    let fast = poll(&h, &client, device_code).await;
    assert_eq!(error_of(&fast), "slow_down");
    // The interval is now 10 seconds.
    h.clock.advance(Duration::seconds(6));
    assert_eq!(error_of(&poll(&h, &client, device_code).await), "slow_down");
    h.clock.advance(Duration::seconds(16));
    assert_eq!(
        error_of(&poll(&h, &client, device_code).await),
        "authorization_pending"
    );
}

#[tokio::test]
async fn device_denial_and_expiry() {
    let h = harness();
    let client = h.confidential().await;
    let start = start_device(&h, &client, "read").await;
    let pending = h
        .provider
        .device_verification(
            start["user_code"].as_str().unwrap(),
            &tessera::DeviceAttempt::new(&tessera::UserId::new("k")),
        )
        .await
        .unwrap();
    assert!(pending.deny(&h.provider).await.unwrap());
    assert_eq!(
        error_of(&poll(&h, &client, start["device_code"].as_str().unwrap()).await),
        "access_denied"
    );

    let start = start_device(&h, &client, "read").await;
    h.clock.advance(Duration::minutes(11));
    assert_eq!(
        error_of(&poll(&h, &client, start["device_code"].as_str().unwrap()).await),
        "expired_token"
    );
    assert!(
        h.provider
            .device_verification(
                start["user_code"].as_str().unwrap(),
                &tessera::DeviceAttempt::new(&tessera::UserId::new("k"))
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn device_codes_are_bound_to_their_client_and_malformed_ones_refused() {
    let h = harness();
    let owner = h.confidential().await;
    let other = h.confidential().await;
    let start = start_device(&h, &owner, "read").await;
    assert_eq!(
        error_of(&poll(&h, &other, start["device_code"].as_str().unwrap()).await),
        "invalid_grant"
    );
    assert_eq!(
        error_of(&poll(&h, &owner, "tsr_dc_garbage").await),
        "invalid_grant"
    );
    assert_eq!(
        error_of(&h.token(&owner, &format!("grant_type={DEVICE}")).await),
        "invalid_request"
    );
}

#[tokio::test]
async fn wrong_user_codes_are_rate_limited_per_attempt_key() {
    let h = harness();
    let client = h.confidential().await;
    let start = start_device(&h, &client, "read").await;
    for _ in 0..10 {
        let error = h
            .provider
            .device_verification(
                "BCDF-GHJK",
                &tessera::DeviceAttempt::new(&tessera::UserId::new("attacker")),
            )
            .await
            .unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidGrant);
    }
    let blocked = h
        .provider
        .device_verification(
            start["user_code"].as_str().unwrap(),
            &tessera::DeviceAttempt::new(&tessera::UserId::new("attacker")),
        )
        .await
        .unwrap_err();
    assert_eq!(
        blocked.code,
        ErrorCode::SlowDown,
        "even the right code is refused once locked out"
    );
    assert!(
        h.provider
            .device_verification(
                start["user_code"].as_str().unwrap(),
                &tessera::DeviceAttempt::new(&tessera::UserId::new("someone-else"))
            )
            .await
            .is_ok()
    );
    h.clock.advance(Duration::minutes(16));
    let fresh = start_device(&h, &client, "read").await;
    assert!(
        h.provider
            .device_verification(
                fresh["user_code"].as_str().unwrap(),
                &tessera::DeviceAttempt::new(&tessera::UserId::new("attacker"))
            )
            .await
            .is_ok(),
        "the window is over"
    );
    assert_eq!(
        h.provider
            .device_verification(
                "AEIOU",
                &tessera::DeviceAttempt::new(&tessera::UserId::new("x"))
            )
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidGrant
    );
}

#[tokio::test]
async fn device_grant_needs_permission() {
    let h = harness();
    let web = h.register(ClientRegistration::new("Web", REDIRECT)).await;
    let request = FormRequest::new(b"scope=read".to_vec()).with_authorization(Some(&web.basic()));
    let response = h.provider.device_authorization(&request).await;
    assert_eq!(error_of(&response), "unauthorized_client");
    let unauthenticated = h
        .provider
        .device_authorization(&FormRequest::new(b"scope=read".to_vec()))
        .await;
    assert_eq!(unauthenticated.status, 401);
}

// ---- Token exchange ---------------------------------------------------------------------

/// Personal tokens as a host might keep them: `789hij` stands for alice until revoked.
#[derive(Debug, Default)]
struct PersonalTokens {
    revoked: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl SubjectTokenValidator for PersonalTokens {
    async fn validate(
        &self,
        token_type: &str,
        token: &str,
    ) -> Result<Option<tessera::SubjectToken>, StoreError> {
        let revoked = self.revoked.load(std::sync::atomic::Ordering::SeqCst);
        Ok(
            (token_type == PERSONAL_TYPE && token == "789hij" && !revoked)
                .then(|| tessera::SubjectToken::new(UserId::new("alice"))),
        )
    }
}

fn exchange_harness() -> (Harness, Arc<PersonalTokens>) {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let personal = Arc::new(PersonalTokens::default());
    let provider = Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .subject_tokens(personal.clone())
        .build();
    (
        Harness {
            provider,
            clock,
            store,
        },
        personal,
    )
}

#[tokio::test]
async fn a_personal_token_is_exchanged_for_an_access_token() {
    let (h, personal) = exchange_harness();
    let client = h.confidential().await;
    let body = format!(
        "grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}&scope=read"
    );
    let response = h.token(&client, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let tokens = response.json_body().unwrap();
    assert_eq!(tokens["issued_token_type"], ACCESS_TYPE);
    assert!(tokens.get("refresh_token").is_none());
    let header = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let principal = h
        .provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .unwrap();
    assert_eq!(principal.user().unwrap().as_str(), "alice");
    // Exchanging saves no consent (security review C1): the user's next visit to the
    // client's authorization page still asks.
    assert!(
        h.provider
            .authorized_apps(&user())
            .await
            .unwrap()
            .is_empty()
    );

    personal
        .revoked
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        error_of(&h.token(&client, &body).await),
        "invalid_grant",
        "a revoked subject token"
    );
}

#[tokio::test]
async fn exchange_errors() {
    let (h, _) = exchange_harness();
    let client = h.confidential().await;
    let cases = [
        (
            format!("grant_type={EXCHANGE}&subject_token=wrong&subject_token_type={PERSONAL_TYPE}"),
            "invalid_grant",
        ),
        (
            format!("grant_type={EXCHANGE}&subject_token_type={PERSONAL_TYPE}"),
            "invalid_request",
        ),
        (
            format!("grant_type={EXCHANGE}&subject_token=789hij"),
            "invalid_request",
        ),
        (
            format!(
                "grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}&requested_token_type=urn:x"
            ),
            "invalid_request",
        ),
        (
            format!(
                "grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}&audience=https://other.example"
            ),
            "invalid_target",
        ),
        (
            format!(
                "grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}&scope=admin"
            ),
            "invalid_scope",
        ),
    ];
    for (body, code) in cases {
        assert_eq!(error_of(&h.token(&client, &body).await), code, "{body}");
    }
    let public = h.public().await;
    let body = format!(
        "grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}&client_id={}",
        public.id
    );
    assert_eq!(
        error_of(&h.token(&public, &body).await),
        "unauthorized_client"
    );
}

#[tokio::test]
async fn own_access_tokens_can_be_exchanged_down_but_not_up() {
    let h = harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read write").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let narrow = format!(
        "grant_type={EXCHANGE}&subject_token={access}&subject_token_type={ACCESS_TYPE}&scope=read"
    );
    assert_eq!(
        h.token(&client, &narrow).await.json_body().unwrap()["scope"],
        "read"
    );
    let wide = format!(
        "grant_type={EXCHANGE}&subject_token={access}&subject_token_type={ACCESS_TYPE}&scope=whoami"
    );
    assert_eq!(error_of(&h.token(&client, &wide).await), "invalid_scope");
    // No validator configured: other token types are unsupported.
    let other =
        format!("grant_type={EXCHANGE}&subject_token=789hij&subject_token_type={PERSONAL_TYPE}");
    assert_eq!(error_of(&h.token(&client, &other).await), "invalid_request");
    // A revoked subject token is refused.
    let revoke = FormRequest::new(format!("token={access}").into_bytes())
        .with_authorization(Some(&client.basic()));
    h.provider.revoke(&revoke).await;
    assert_eq!(error_of(&h.token(&client, &narrow).await), "invalid_grant");
}
