//! Client registration: the typed API, import, secret rotation, deletion, dynamic registration
//! (RFC 7591), client configuration (RFC 7592) and server metadata (RFC 8414).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tessera::{
    AdminError, AuthMethod, BearerRequest, ClientId, ClientRegistration, ClientSecret, ErrorCode,
    GrantType, OAuthError, RegistrationPolicy, ScopeSet, TokenHash,
};

async fn dcr(h: &Harness, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = h.provider.register(body.to_string().as_bytes(), None).await;
    (response.status, response.json_body().unwrap())
}

/// The registration endpoint's code for an admin refusal (the two share their checks).
trait WireCode {
    fn wire_code(self) -> ErrorCode;
}

impl WireCode for AdminError {
    fn wire_code(self) -> ErrorCode {
        OAuthError::from(self).code
    }
}

#[tokio::test]
async fn typed_registration_generates_an_id_and_a_secret_shown_once() {
    let h = harness();
    let registered = h
        .provider
        .register_client(
            ClientRegistration::new("App", REDIRECT).with_homepage("https://app.example"),
        )
        .await
        .unwrap();
    let secret = registered
        .secret
        .expect("confidential clients get a secret");
    assert!(secret.is_well_formed());
    let stored = h
        .provider
        .client(&registered.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "App");
    assert_eq!(stored.homepage.as_deref(), Some("https://app.example"));
    assert!(
        !stored.secret.as_ref().unwrap().is_slow(),
        "generated secrets use the fast hash"
    );
    assert!(stored.secret.as_ref().unwrap().verify(&secret));
    // The secret is never retrievable again: the stored record and its serialisations hold only
    // the hash.
    assert!(!format!("{stored:?}").contains(secret.secret()));
    assert!(
        !serde_json::to_string(&stored)
            .unwrap()
            .contains(secret.secret())
    );
    let body = serde_json::json!({"redirect_uris": [REDIRECT]}).to_string();
    let dynamic = h.provider.register(body.as_bytes(), None).await;
    let doc = dynamic.json_body().unwrap();
    let token = doc["registration_access_token"].as_str().unwrap();
    let read = h
        .provider
        .client_configuration(
            "GET",
            doc["client_id"].as_str().unwrap(),
            Some(&format!("Bearer {token}")),
            b"",
        )
        .await;
    assert_eq!(read.status, 200);
    assert!(read.json_body().unwrap().get("client_secret").is_none());
}

#[tokio::test]
async fn registration_rules() {
    let h = harness();
    let bad_redirects = [
        "http://app.example/cb",
        "https://app.example/cb#frag",
        "/relative",
        "https://u:p@app.example/cb",
    ];
    for uri in bad_redirects {
        let error = h
            .provider
            .register_client(ClientRegistration::new("App", uri))
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdminError::InvalidRedirectUri(_)),
            "{uri}: {error}"
        );
    }
    for uri in [
        "http://127.0.0.1:9000/cb",
        "http://[::1]/cb",
        "http://localhost/cb",
        "com.example.app:/callback",
    ] {
        assert!(
            h.provider
                .register_client(
                    ClientRegistration::new("Native", uri).with_auth_method(AuthMethod::None)
                )
                .await
                .is_ok(),
            "{uri}"
        );
    }
    let long_name = ClientRegistration::new("x".repeat(201), REDIRECT);
    assert_eq!(
        h.provider
            .register_client(long_name)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
    let bad_home = ClientRegistration::new("App", REDIRECT).with_homepage("javascript:alert(1)");
    assert_eq!(
        h.provider
            .register_client(bad_home)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
    let no_redirect = ClientRegistration::new("App", REDIRECT).with_redirect_uris(vec![]);
    assert_eq!(
        h.provider
            .register_client(no_redirect)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidRedirectUri
    );
    let public_m2m = ClientRegistration::new("App", REDIRECT)
        .with_auth_method(AuthMethod::None)
        .with_grant_types(vec![GrantType::ClientCredentials]);
    assert_eq!(
        h.provider
            .register_client(public_m2m)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
    let foreign_scope =
        ClientRegistration::new("App", REDIRECT).with_scopes(ScopeSet::parse("admin").unwrap());
    assert_eq!(
        h.provider
            .register_client(foreign_scope)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
    let too_many = ClientRegistration::new("App", REDIRECT)
        .with_redirect_uris((0..21).map(|i| format!("https://a.example/{i}")).collect());
    assert_eq!(
        h.provider
            .register_client(too_many)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
}

#[tokio::test]
async fn imported_clients_keep_their_id_and_secret_under_a_slow_hash() {
    let h = harness();
    let id = ClientId::new("abcdef").unwrap();
    let client = h
        .provider
        .import_client(
            id.clone(),
            Some(ClientSecret::new("123456")),
            ClientRegistration::new("PhoneGap app", REDIRECT),
        )
        .await
        .unwrap();
    assert!(client.secret.as_ref().unwrap().is_slow());
    let legacy = TestClient {
        id: "abcdef".into(),
        secret: Some("123456".into()),
    };
    let query = format!(
        "response_type=code&client_id=abcdef&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
        urlencode(REDIRECT)
    );
    let code = h.approve_code(&query).await;
    assert_eq!(h.exchange_code(&legacy, &code).await.status, 200);
    let wrong = TestClient {
        id: "abcdef".into(),
        secret: Some("1234567".into()),
    };
    assert_eq!(
        h.token(&wrong, "grant_type=client_credentials")
            .await
            .status,
        401
    );
    // Importing over an existing ID is refused.
    let again = h
        .provider
        .import_client(
            id,
            Some(ClientSecret::new("x")),
            ClientRegistration::new("Dup", REDIRECT),
        )
        .await;
    assert!(matches!(again.unwrap_err(), AdminError::ClientExists));
}

#[tokio::test]
async fn secret_rotation_invalidates_the_old_secret_at_once() {
    let h = harness();
    let client = h.confidential().await;
    let id = ClientId::new(client.id.clone()).unwrap();
    let new_secret = h.provider.rotate_client_secret(&id).await.unwrap();
    assert_eq!(
        h.token(&client, "grant_type=client_credentials")
            .await
            .status,
        401
    );
    let rotated = TestClient {
        id: client.id.clone(),
        secret: Some(new_secret.secret().to_owned()),
    };
    assert_eq!(
        h.token(&rotated, "grant_type=client_credentials")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn deleting_a_client_revokes_all_its_tokens() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    let id = ClientId::new(client.id.clone()).unwrap();
    assert!(h.provider.delete_client(&id).await.unwrap());
    let header = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_err()
    );
    assert!(
        h.provider
            .authorized_apps(&user())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        h.token(&client, "grant_type=client_credentials")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn dynamic_registration_confidential_and_public() {
    let h = harness();
    let (status, body) = dcr(&h, serde_json::json!({
        "client_name": "Dynamic", "redirect_uris": [REDIRECT], "client_uri": "https://dyn.example",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "scope": "read write", "contacts": ["ops@dyn.example"], "unknown_field": 1,
    }))
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("tsr_cs_")
    );
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["redirect_uris"], serde_json::json!([REDIRECT]));
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["contacts"], serde_json::json!(["ops@dyn.example"]));
    assert!(body.get("unknown_field").is_none());
    assert!(
        body["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("tsr_ra_")
    );
    assert_eq!(
        body["registration_client_uri"],
        format!(
            "https://auth.example.com/register/{}",
            body["client_id"].as_str().unwrap()
        )
    );
    let client = TestClient {
        id: body["client_id"].as_str().unwrap().into(),
        secret: Some(body["client_secret"].as_str().unwrap().into()),
    };
    assert!(h.tokens(&client, "read").await["refresh_token"].is_string());

    let (status, body) = dcr(
        &h,
        serde_json::json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(body.get("client_secret").is_none());
    let public = TestClient {
        id: body["client_id"].as_str().unwrap().into(),
        secret: None,
    };
    assert!(h.tokens(&public, "read").await["access_token"].is_string());
}

#[tokio::test]
async fn dynamic_registration_errors() {
    let h = harness();
    let cases = [
        (
            serde_json::json!({"redirect_uris": ["http://insecure.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://a.example/cb#f"]}),
            "invalid_redirect_uri",
        ),
        (
            serde_json::json!({"redirect_uris": []}),
            "invalid_redirect_uri",
        ),
        (serde_json::json!({}), "invalid_redirect_uri"),
        (
            serde_json::json!({"redirect_uris": [REDIRECT], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": "not-a-list"}),
            "invalid_client_metadata",
        ),
        (
            serde_json::json!({"redirect_uris": [REDIRECT], "scope": "a\"b"}),
            "invalid_client_metadata",
        ),
        (serde_json::json!([1, 2, 3]), "invalid_client_metadata"),
    ];
    for (body, code) in cases {
        let (status, error) = dcr(&h, body.clone()).await;
        assert_eq!(
            (status, error["error"].as_str().unwrap()),
            (400, code),
            "{body}"
        );
        assert!(error["error_description"].is_string());
    }
    let garbage = h.provider.register(b"{not json", None).await;
    assert_eq!(garbage.status, 400);
    let huge = format!("{{\"client_name\": \"{}\"}}", "x".repeat(20_000));
    assert_eq!(h.provider.register(huge.as_bytes(), None).await.status, 400);
}

#[tokio::test]
async fn registration_can_require_an_initial_access_token_or_be_closed() {
    let h = harness_with(
        closed()
            .registration(RegistrationPolicy::InitialAccessToken(vec![TokenHash::of(
                "let-me-in",
            )]))
            .build()
            .unwrap(),
    );
    let body = serde_json::json!({"redirect_uris": [REDIRECT]}).to_string();
    assert_eq!(h.provider.register(body.as_bytes(), None).await.status, 401);
    assert_eq!(
        h.provider
            .register(body.as_bytes(), Some("Bearer wrong"))
            .await
            .status,
        401
    );
    assert_eq!(
        h.provider
            .register(body.as_bytes(), Some("Bearer let-me-in"))
            .await
            .status,
        201
    );

    let h = harness_with(closed().build().unwrap());
    assert_eq!(h.provider.register(body.as_bytes(), None).await.status, 400);
    assert!(
        h.provider
            .metadata_response()
            .json_body()
            .unwrap()
            .get("registration_endpoint")
            .is_none()
    );
}

#[tokio::test]
async fn client_configuration_endpoint_read_update_delete() {
    let h = harness();
    let (_, body) = dcr(
        &h,
        serde_json::json!({"client_name": "Before", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let id = body["client_id"].as_str().unwrap().to_owned();
    let token = format!(
        "Bearer {}",
        body["registration_access_token"].as_str().unwrap()
    );
    let read = h
        .provider
        .client_configuration("GET", &id, Some(&token), b"")
        .await;
    assert_eq!(read.status, 200);
    let read = read.json_body().unwrap();
    assert_eq!(read["client_name"], "Before");
    assert!(read.get("client_secret").is_none(), "never shown again");

    for bad in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let response = h.provider.client_configuration("GET", &id, bad, b"").await;
        assert_eq!(response.status, 401);
        assert!(response.header("www-authenticate").is_some());
    }
    let update = serde_json::json!({"client_id": id, "client_name": "After", "redirect_uris": ["https://client.example/new"]});
    let updated = h
        .provider
        .client_configuration("PUT", &id, Some(&token), update.to_string().as_bytes())
        .await;
    assert_eq!(
        updated.status,
        200,
        "{}",
        String::from_utf8_lossy(&updated.body)
    );
    let updated = updated.json_body().unwrap();
    assert_eq!(updated["client_name"], "After");
    // RFC 7592 §2.2: the update rotated the registration access token.
    let rotated = format!(
        "Bearer {}",
        updated["registration_access_token"]
            .as_str()
            .expect("a new registration access token")
    );
    assert_ne!(rotated, token);
    assert_eq!(
        h.provider
            .client_configuration("GET", &id, Some(&token), b"")
            .await
            .status,
        401,
        "the presented token stops working"
    );
    let token = rotated;
    let mismatch = serde_json::json!({"client_id": "other", "redirect_uris": [REDIRECT]});
    assert_eq!(
        h.provider
            .client_configuration("PUT", &id, Some(&token), mismatch.to_string().as_bytes())
            .await
            .status,
        400
    );
    let to_public = serde_json::json!({"client_id": id, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    assert_eq!(
        h.provider
            .client_configuration("PUT", &id, Some(&token), to_public.to_string().as_bytes())
            .await
            .status,
        400
    );

    assert_eq!(
        h.provider
            .client_configuration("DELETE", &id, Some(&token), b"")
            .await
            .status,
        204
    );
    assert_eq!(
        h.provider
            .client_configuration("GET", &id, Some(&token), b"")
            .await
            .status,
        401
    );
}

/// Of two updates racing with one registration access token, one wins and rotates it; the
/// other is refused and writes nothing.
#[tokio::test]
async fn racing_updates_with_one_registration_token_write_once() {
    let h = harness();
    let (_, body) = dcr(
        &h,
        serde_json::json!({"client_name": "Before", "redirect_uris": [REDIRECT]}),
    )
    .await;
    let id = body["client_id"].as_str().unwrap().to_owned();
    let token = format!(
        "Bearer {}",
        body["registration_access_token"].as_str().unwrap()
    );
    let update = |name: &str| {
        serde_json::json!({"client_id": id, "client_name": name, "redirect_uris": [REDIRECT]})
            .to_string()
    };
    let (first, second) = (update("First"), update("Second"));
    let (a, b) = tokio::join!(
        h.provider
            .client_configuration("PUT", &id, Some(&token), first.as_bytes()),
        h.provider
            .client_configuration("PUT", &id, Some(&token), second.as_bytes()),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401]);
    let winner = if a.status == 200 { a } else { b };
    let winner = winner.json_body().unwrap();
    let current = format!(
        "Bearer {}",
        winner["registration_access_token"].as_str().unwrap()
    );
    let read = h
        .provider
        .client_configuration("GET", &id, Some(&current), b"")
        .await
        .json_body()
        .unwrap();
    assert_eq!(read["client_name"], winner["client_name"]);
}

#[tokio::test]
async fn metadata_reflects_the_configuration() {
    let h = harness();
    let doc = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(doc["issuer"], "https://auth.example.com");
    assert_eq!(
        doc["authorization_endpoint"],
        "https://auth.example.com/authorize"
    );
    assert_eq!(doc["token_endpoint"], "https://auth.example.com/token");
    assert_eq!(
        doc["revocation_endpoint"],
        "https://auth.example.com/revoke"
    );
    assert_eq!(
        doc["introspection_endpoint"],
        "https://auth.example.com/introspect"
    );
    assert_eq!(
        doc["registration_endpoint"],
        "https://auth.example.com/register"
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        "https://auth.example.com/device_authorization"
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "none",
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["offline_access", "read", "whoami", "write"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let grants: Vec<&str> = doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert_eq!(grants.len(), 5);

    // Disable a grant and it disappears, with its endpoint; registration of it is refused.
    let h = harness_with(
        builder()
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .build()
            .unwrap(),
    );
    let doc = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert!(doc.get("device_authorization_endpoint").is_none());
    let m2m = ClientRegistration::new("M2M", REDIRECT)
        .with_grant_types(vec![GrantType::ClientCredentials]);
    assert_eq!(
        h.provider
            .register_client(m2m)
            .await
            .unwrap_err()
            .wire_code(),
        ErrorCode::InvalidClientMetadata
    );
    let response = h.provider.metadata_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
}

// AppHarbor documents `http://example.com/` callbacks: refused by default (RFC 9700 §2.1),
// registrable only through `danger::allow_http_redirects`, and then matched exactly as usual.
#[tokio::test]
async fn plain_http_callbacks_need_the_danger_setting() {
    let refused = harness()
        .provider
        .register_client(ClientRegistration::new("App", "http://example.com/"))
        .await
        .expect_err("http on a public host is refused by default");
    assert!(
        matches!(refused, AdminError::InvalidRedirectUri(_)),
        "{refused}"
    );

    let h = harness_with(
        builder()
            .danger(Danger::new().open_registration().allow_http_redirects())
            .build()
            .unwrap(),
    );
    let app = h
        .provider
        .register_client(ClientRegistration::new("App", "http://example.com/"))
        .await
        .unwrap();
    let (status, body) = dcr(
        &h,
        serde_json::json!({"client_name": "Other", "redirect_uris": ["http://example.com/cb#frag"]}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    let query = format!(
        "response_type=code&client_id={}&redirect_uri=http%3A%2F%2Fexample.com%2Fother&code_challenge={}&code_challenge_method=S256",
        app.client.id,
        tessera::pkce_s256_challenge("a-verifier-of-at-least-43-characters-0123456789")
    );
    let params = tessera::Params::from_query(&query, &Default::default()).unwrap();
    assert!(
        h.provider.authorize(&params).await.is_err(),
        "an unregistered http callback is still refused"
    );
}

/// The test configuration without open registration.
fn closed() -> tessera::ConfigBuilder {
    builder().danger(tessera::danger::Danger::new())
}
