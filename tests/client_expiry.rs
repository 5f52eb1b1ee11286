//! Self-registered clients that are never used expire (issue 19, "Dynamic registration
//! lifecycle"): unknown everywhere once expired, removed with what they left by the sweep; a
//! used client, or one the host registered, stays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tessera::store::{
    ClientStore, Family, Grant, GrantId, IssueOutcome, TokenRecord, TokenStore, TokenType,
};
use tessera::{
    AuthorizeError, ClientId, ClientRegistration, ErrorCode, FormRequest, GrantType, ScopeSet,
    TokenHash, UserId,
};
use time::Duration;

const EVERY_GRANT: &str = r#"["authorization_code", "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code"]"#;

/// Registers through the RFC 7591 endpoint; returns the client and its registration token.
async fn self_registered(h: &Harness) -> (TestClient, String) {
    let body = format!(
        r#"{{"redirect_uris": ["{REDIRECT}"], "grant_types": {EVERY_GRANT}, "scope": "read"}}"#
    );
    let response = h.provider.register(body.as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let doc = response.json_body().unwrap();
    // The secret itself does not expire: RFC 7591's field keeps its own meaning.
    assert_eq!(doc["client_secret_expires_at"], 0);
    (
        TestClient {
            id: doc["client_id"].as_str().unwrap().to_owned(),
            secret: doc["client_secret"].as_str().map(str::to_owned),
        },
        doc["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn id_of(client: &TestClient) -> ClientId {
    ClientId::new(client.id.as_str()).unwrap()
}

async fn mark_of(h: &Harness, client: &TestClient) -> Option<time::OffsetDateTime> {
    h.store
        .find_client(&id_of(client))
        .await
        .unwrap()
        .expect("stored")
        .unused_until
}

fn authenticated(client: &TestClient, body: &str) -> FormRequest {
    FormRequest::new(body.as_bytes().to_vec()).with_authorization(Some(&client.basic()))
}

fn assert_invalid_client(response: &tessera::Response, at: &str) {
    assert_eq!(response.status, 401, "{at}");
    assert_eq!(error_of(response), "invalid_client", "{at}");
}

fn authorize_query(client: &TestClient) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    )
}

/// Stores a grant with one access token for `client` straight into the store (no provider
/// step, so the client stays unused): what a sweep must take with the client.
async fn leftover_token(h: &Harness, client: &TestClient) -> TokenHash {
    let now = h.provider.now();
    let grant = Grant::new(
        GrantId::new(format!("leftover-{}", client.id)),
        id_of(client),
        Some(UserId::new("alice")),
        ScopeSet::parse("read").unwrap(),
        GrantType::ClientCredentials,
        now,
    );
    let hash = TokenHash::of(&format!("leftover-token-{}", client.id));
    let token = TokenRecord::new(
        hash,
        TokenType::Access,
        &grant,
        ScopeSet::parse("read").unwrap(),
        now,
        Some(now + Duration::days(365)),
        None,
    );
    assert_eq!(
        h.store
            .issue_tokens(Family::New(&grant), &[token])
            .await
            .unwrap(),
        IssueOutcome::Stored
    );
    hash
}

#[tokio::test]
async fn an_unused_self_registered_client_expires_and_is_unknown_everywhere() {
    let h = harness();
    let registered_at = h.provider.now();
    let (client, registration_token) = self_registered(&h).await;
    assert_eq!(
        mark_of(&h, &client).await,
        Some(registered_at + tessera::Config::DEFAULT_UNUSED_CLIENT_EXPIRY)
    );

    h.clock.advance(Duration::hours(24) - Duration::seconds(1));
    assert!(h.provider.client(&id_of(&client)).await.unwrap().is_some());
    let configuration = h
        .provider
        .client_configuration(
            "GET",
            &client.id,
            Some(&format!("Bearer {registration_token}")),
            b"",
        )
        .await;
    assert_eq!(
        configuration.status, 200,
        "reading its registration is no use"
    );
    h.clock.advance(Duration::seconds(1));
    assert!(h.provider.client(&id_of(&client)).await.unwrap().is_none());

    let token = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    assert_invalid_client(&token, "token endpoint");
    let introspection = h
        .provider
        .introspect(&authenticated(&client, "token=anything"))
        .await;
    assert_invalid_client(&introspection, "introspection");
    let revocation = h
        .provider
        .revoke(&authenticated(&client, "token=anything"))
        .await;
    assert_invalid_client(&revocation, "revocation");
    let device = h
        .provider
        .device_authorization(&authenticated(&client, "scope=read"))
        .await;
    assert_invalid_client(&device, "device authorization");
    match h
        .provider
        .authorize(&params(&authorize_query(&client)))
        .await
    {
        Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_eq!(error.status(), 400);
        }
        Err(AuthorizeError::Redirect(_)) => panic!("an expired client's error was redirected"),
        Err(other) => panic!("unexpected refusal {other:?}"),
        Ok(_) => panic!("an expired client was authorized"),
    }
    // RFC 7592: as for a deleted client, 401.
    let configuration = h
        .provider
        .client_configuration(
            "GET",
            &client.id,
            Some(&format!("Bearer {registration_token}")),
            b"",
        )
        .await;
    assert_eq!(configuration.status, 401);
    assert!(
        h.store
            .find_client(&id_of(&client))
            .await
            .unwrap()
            .is_some(),
        "nothing on a request path removes it: that is the sweep's work"
    );
}

#[tokio::test]
async fn the_sweep_removes_expired_clients_with_what_they_left() {
    let h = harness();
    let (doomed, _) = self_registered(&h).await;
    let doomed_token = leftover_token(&h, &doomed).await;
    let (used, _) = self_registered(&h).await;
    let used_token = h
        .token(&used, "grant_type=client_credentials&scope=read")
        .await;
    assert_eq!(used_token.status, 200);
    let admin = h.confidential().await;
    let admin_token = leftover_token(&h, &admin).await;

    // Not yet due: the sweep leaves every client.
    h.provider.sweep(100).await.unwrap();
    assert!(h.provider.client(&id_of(&doomed)).await.unwrap().is_some());

    h.clock.advance(Duration::hours(25));
    let removed = h.provider.sweep(100).await.unwrap();
    assert!(removed >= 1, "the expired client counts");
    assert!(
        h.store
            .find_client(&id_of(&doomed))
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.store.find_token(&doomed_token).await.unwrap().is_none());
    assert!(h.provider.client(&id_of(&used)).await.unwrap().is_some());
    assert!(h.provider.client(&id_of(&admin)).await.unwrap().is_some());
    assert!(h.store.find_token(&admin_token).await.unwrap().is_some());
}

#[tokio::test]
async fn a_client_used_once_never_expires() {
    let h = harness();
    let (client, _) = self_registered(&h).await;
    assert!(mark_of(&h, &client).await.is_some());
    let tokens = h.tokens(&client, "read").await;
    assert_eq!(
        mark_of(&h, &client).await,
        None,
        "its first token clears the mark"
    );

    // Well past the 24 hours, within the refresh token's 30 days.
    h.clock.advance(Duration::days(20));
    h.provider.sweep(100).await.unwrap();
    let refresh = h
        .token(
            &client,
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                tokens["refresh_token"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(
        refresh.status,
        200,
        "{}",
        String::from_utf8_lossy(&refresh.body)
    );
    let cc = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    assert_eq!(cc.status, 200);
}

#[tokio::test]
async fn an_approved_authorization_is_a_use_before_its_code_is_redeemed() {
    let h = harness();
    let (client, _) = self_registered(&h).await;
    // Approved 30 s before the client would expire; redeemed 29 s after (within the code's
    // 60 s): the approval made the client permanent, so the token endpoint still knows it.
    h.clock.advance(Duration::hours(24) - Duration::seconds(30));
    let code = h.code(&client, "read").await;
    assert_eq!(mark_of(&h, &client).await, None);
    h.clock.advance(Duration::seconds(59));
    let response = h.exchange_code(&client, &code).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

#[tokio::test]
async fn a_device_approval_is_a_use() {
    let h = harness();
    let (client, _) = self_registered(&h).await;
    let started = h
        .provider
        .device_authorization(&authenticated(&client, "scope=read"))
        .await;
    assert_eq!(started.status, 200, "asking for a device code is allowed");
    assert!(
        mark_of(&h, &client).await.is_some(),
        "asking is not yet a use"
    );
    let body = started.json_body().unwrap();
    let user_code = body["user_code"].as_str().unwrap();
    let alice = user();
    let pending = h
        .provider
        .device_verification(user_code, &tessera::DeviceAttempt::new(&alice))
        .await
        .unwrap();
    let scopes = ScopeSet::parse("read").unwrap();
    assert!(pending.approve(&h.provider, user(), &scopes).await.unwrap());
    assert_eq!(mark_of(&h, &client).await, None);
}

#[tokio::test]
async fn clients_the_host_registers_never_expire_unless_asked() {
    let h = harness();
    let admin = h.confidential().await;
    assert_eq!(mark_of(&h, &admin).await, None);
    let asked = h
        .register(
            ClientRegistration::new("Trial", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_unused_expiry(Duration::hours(1)),
        )
        .await;
    assert_eq!(
        mark_of(&h, &asked).await,
        Some(h.provider.now() + Duration::hours(1))
    );

    h.clock.advance(Duration::days(400));
    assert!(h.provider.client(&id_of(&admin)).await.unwrap().is_some());
    let token = h
        .token(&admin, "grant_type=client_credentials&scope=read")
        .await;
    assert_eq!(token.status, 200);
    let refused = h
        .token(&asked, "grant_type=client_credentials&scope=read")
        .await;
    assert_invalid_client(&refused, "host-registered client asked to expire");
}

#[tokio::test]
async fn the_expiry_is_configurable_and_can_be_switched_off() {
    let h = harness_with(builder().unused_client_expiry(None).build().unwrap());
    let (client, _) = self_registered(&h).await;
    assert_eq!(mark_of(&h, &client).await, None);

    let h = harness_with(
        builder()
            .unused_client_expiry(Some(Duration::minutes(10)))
            .build()
            .unwrap(),
    );
    let (client, _) = self_registered(&h).await;
    assert_eq!(
        mark_of(&h, &client).await,
        Some(h.provider.now() + Duration::minutes(10))
    );
    h.clock.advance(Duration::minutes(10));
    let token = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    assert_invalid_client(&token, "after ten minutes");

    for bad in [Duration::ZERO, Duration::seconds(-1)] {
        assert!(
            builder().unused_client_expiry(Some(bad)).build().is_err(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn an_update_of_the_registration_keeps_the_mark() {
    let h = harness();
    let (client, registration_token) = self_registered(&h).await;
    let mark = mark_of(&h, &client).await;
    h.clock.advance(Duration::hours(1));
    let body = format!(
        r#"{{"client_id": "{}", "client_name": "Renamed", "redirect_uris": ["{REDIRECT}"],
            "grant_types": {EVERY_GRANT}, "scope": "read"}}"#,
        client.id
    );
    let updated = h
        .provider
        .client_configuration(
            "PUT",
            &client.id,
            Some(&format!("Bearer {registration_token}")),
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        updated.status,
        200,
        "{}",
        String::from_utf8_lossy(&updated.body)
    );
    assert_eq!(
        mark_of(&h, &client).await,
        mark,
        "neither renewed nor cleared"
    );
}
