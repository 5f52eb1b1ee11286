//! Resource servers: RFC 8707 resource indicators and audiences, audience checks at resources,
//! introspection by resource servers (RFC 7662 §2.1), protected resource metadata (RFC 9728).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tessera::{
    AuthorizeError, BearerRequest, ClientId, Config, ConfigError, FormRequest, Resource, ScopeSet,
};

const OWN: &str = "https://auth.example.com/api/me";
const FILES: &str = "https://files.example.com/";
const MAIL: &str = "https://mail.example.com/v1";

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap()
}

/// Three resources: the provider's own (default audience), a file service accepting `read`
/// and `write` and introspected by `introspector`, a mail service accepting `read` only.
fn resources_harness(introspector: Option<&str>) -> Harness {
    let mut files = Resource::new(FILES).with_scopes(scopes("read write"));
    if let Some(id) = introspector {
        files = files.introspected_by(ClientId::new(id).unwrap());
    }
    harness_with(
        builder()
            .resource(Resource::new(OWN).included_by_default())
            .resource(files)
            .resource(Resource::new(MAIL).with_scopes(scopes("read")))
            .build()
            .unwrap(),
    )
}

fn authorize_query(client: &TestClient, scope: &str, resources: &[&str]) -> String {
    let mut query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT),
        urlencode(scope)
    );
    for resource in resources {
        query.push_str(&format!("&resource={}", urlencode(resource)));
    }
    query
}

/// Runs the code flow naming `resources` at /authorize; returns the token response.
async fn tokens_for(
    h: &Harness,
    client: &TestClient,
    scope: &str,
    resources: &[&str],
) -> serde_json::Value {
    let code = h
        .approve_code(&authorize_query(client, scope, resources))
        .await;
    let response = h.exchange_code(client, &code).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

async fn audience_of(h: &Harness, access: &str) -> Vec<String> {
    h.provider
        .validate_bearer(
            &BearerRequest::header(&format!("Bearer {access}")),
            &ScopeSet::new(),
        )
        .await
        .unwrap()
        .audience()
        .to_vec()
}

async fn valid_at(h: &Harness, access: &str, resource: &str) -> Result<(), tessera::BearerError> {
    let header = format!("Bearer {access}");
    h.provider
        .validate_bearer(
            &BearerRequest::header(&header).for_resource(resource),
            &ScopeSet::new(),
        )
        .await
        .map(|_| ())
}

fn form(client: &TestClient, body: &str) -> FormRequest {
    FormRequest::new(body.as_bytes().to_vec()).with_authorization(Some(&client.basic()))
}

#[test]
fn the_configuration_refuses_bad_resources() {
    for bad in [
        "/api/me",
        "files.example.com",
        "https://files.example.com/#top",
        "",
    ] {
        assert!(
            matches!(
                builder().resource(Resource::new(bad)).build(),
                Err(ConfigError::Resource(_))
            ),
            "{bad:?}"
        );
    }
    let unoffered = builder().resource(Resource::new(FILES).with_scopes(scopes("admin")));
    assert!(matches!(unoffered.build(), Err(ConfigError::Resource(_))));
    let config: Config = builder()
        .resource(Resource::new(OWN).included_by_default())
        .resource(Resource::new(FILES))
        .build()
        .unwrap();
    assert_eq!(config.default_audience(), vec![OWN.to_owned()]);
}

#[tokio::test]
async fn an_unknown_resource_is_invalid_target_redirected_from_authorize() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let query = authorize_query(&client, "read", &["https://unknown.example/"]);
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_target");
            let redirect = redirect.after_login(&user());
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_target"));
            assert_eq!(redirect.param("state").as_deref(), Some("xyz"));
            assert!(redirect.location().starts_with(REDIRECT));
        }
        other => panic!("expected a redirected refusal, got {other:?}"),
    }
    // A fragment is not a registered identifier either.
    let query = authorize_query(&client, "read", &["https://files.example.com/#x"]);
    assert!(matches!(
        h.provider.authorize(&params(&query)).await,
        Err(AuthorizeError::Redirect(_))
    ));
}

#[tokio::test]
async fn an_unknown_resource_is_400_invalid_target_at_the_token_endpoint() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let response = h
        .token(
            &client,
            &format!(
                "grant_type=client_credentials&scope=read&resource={}",
                urlencode("https://unknown.example/")
            ),
        )
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_target");
    // The code flow: a resource at the token request that the grant was not given for.
    let code = h
        .approve_code(&authorize_query(&client, "read", &[FILES]))
        .await;
    let response = h
        .token(
            &client,
            &format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&resource={}",
                urlencode(REDIRECT),
                urlencode(MAIL)
            ),
        )
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_target");
}

#[tokio::test]
async fn a_token_for_one_resource_is_refused_at_another() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let tokens = tokens_for(&h, &client, "read", &[FILES]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(audience_of(&h, access).await, vec![FILES.to_owned()]);
    assert!(valid_at(&h, access, FILES).await.is_ok());
    for other in [MAIL, OWN, "https://unknown.example/"] {
        let refusal = valid_at(&h, access, other).await.unwrap_err();
        assert_eq!(refusal.status(), 401, "{other}");
        assert!(
            refusal.challenge("r").contains(r#"error="invalid_token""#),
            "{other}"
        );
    }
}

#[tokio::test]
async fn a_token_requested_without_resource_is_valid_at_the_own_resources_only() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(audience_of(&h, access).await, vec![OWN.to_owned()]);
    assert!(valid_at(&h, access, OWN).await.is_ok());
    assert!(valid_at(&h, access, FILES).await.is_err());
    // Without a resource to check for, the bearer check is as before.
    assert!(
        h.provider
            .validate_bearer(
                &BearerRequest::header(&format!("Bearer {access}")),
                &scopes("read")
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn several_resources_and_scopes_each_accepted_by_one_of_them() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    // `write` is accepted by the file service only, `read` by both: fine together.
    let tokens = tokens_for(&h, &client, "read write", &[FILES, MAIL, FILES]).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        audience_of(&h, access).await,
        vec![FILES.to_owned(), MAIL.to_owned()]
    );
    assert!(valid_at(&h, access, MAIL).await.is_ok());
    // `write` at the mail service alone is not accepted there.
    let query = authorize_query(&client, "read write", &[MAIL]);
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_scope");
        }
        other => panic!("expected invalid_scope, got {other:?}"),
    }
}

#[tokio::test]
async fn refresh_narrows_the_audience_and_never_widens_it() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let tokens = tokens_for(&h, &client, "read offline_access", &[FILES, MAIL]).await;
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let response = h
        .token(
            &client,
            &format!(
                "grant_type=refresh_token&refresh_token={refresh}&resource={}",
                urlencode(MAIL)
            ),
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let narrowed = response.json_body().unwrap();
    let access = narrowed["access_token"].as_str().unwrap();
    assert_eq!(audience_of(&h, access).await, vec![MAIL.to_owned()]);
    assert!(valid_at(&h, access, FILES).await.is_err());
    // The successor refresh token keeps the grant's whole audience.
    let successor = narrowed["refresh_token"].as_str().unwrap();
    let response = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={successor}"),
        )
        .await;
    assert_eq!(response.status, 200);
    let whole = response.json_body().unwrap();
    let access = whole["access_token"].as_str().unwrap();
    assert_eq!(
        audience_of(&h, access).await,
        vec![FILES.to_owned(), MAIL.to_owned()]
    );
    // A resource the grant was not given for: invalid_target, even the default one.
    let successor = whole["refresh_token"].as_str().unwrap();
    for wider in [OWN, "https://unknown.example/"] {
        let response = h
            .token(
                &client,
                &format!(
                    "grant_type=refresh_token&refresh_token={successor}&resource={}",
                    urlencode(wider)
                ),
            )
            .await;
        assert_eq!(response.status, 400, "{wider}");
        assert_eq!(error_of(&response), "invalid_target", "{wider}");
    }
}

#[tokio::test]
async fn client_credentials_and_token_exchange_honour_resource() {
    let h = resources_harness(None);
    let client = h.confidential().await;
    let response = h
        .token(
            &client,
            &format!(
                "grant_type=client_credentials&scope=read&resource={}&resource={}",
                urlencode(FILES),
                urlencode(MAIL)
            ),
        )
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let access = response.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        audience_of(&h, &access).await,
        vec![FILES.to_owned(), MAIL.to_owned()]
    );
    // Exchanging the token for one of its resources (`resource`) or by `audience`.
    for parameter in ["resource", "audience"] {
        let response = h
            .token(
                &client,
                &format!(
                    "grant_type={}&subject_token={access}&subject_token_type={}&{parameter}={}",
                    urlencode("urn:ietf:params:oauth:grant-type:token-exchange"),
                    urlencode(tessera::ACCESS_TOKEN_TYPE),
                    urlencode(MAIL)
                ),
            )
            .await;
        // A client-credentials token acts for no user: exchange refuses it whatever the
        // target, so exchange a user's token instead below.
        assert_eq!(response.status, 400, "{parameter}");
    }
    let tokens = tokens_for(&h, &client, "read", &[FILES, MAIL]).await;
    let subject = tokens["access_token"].as_str().unwrap();
    for (parameter, target, status) in [
        ("resource", MAIL, 200),
        ("audience", FILES, 200),
        ("resource", OWN, 400),
        ("audience", "https://unknown.example/", 400),
    ] {
        let response = h
            .token(
                &client,
                &format!(
                    "grant_type={}&subject_token={subject}&subject_token_type={}&{parameter}={}",
                    urlencode("urn:ietf:params:oauth:grant-type:token-exchange"),
                    urlencode(tessera::ACCESS_TOKEN_TYPE),
                    urlencode(target)
                ),
            )
            .await;
        assert_eq!(
            response.status,
            status,
            "{parameter} {target}: {}",
            String::from_utf8_lossy(&response.body)
        );
        if status == 200 {
            let access = response.json_body().unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(audience_of(&h, &access).await, vec![target.to_owned()]);
        } else {
            assert_eq!(error_of(&response), "invalid_target");
        }
    }
}

/// Stores the resource server's client `id` with `secret` (a confidential client with no grant:
/// it only introspects).
async fn resource_server_client(h: &Harness, id: &str, secret: &str) -> TestClient {
    use tessera::store::ClientStore as _;
    let hash = tessera::SecretHash::fast(&tessera::ClientSecret::new(secret));
    let client = tessera::Client::new(
        ClientId::new(id).unwrap(),
        "Files RS",
        tessera::ClientType::Confidential,
        h.provider.now(),
    )
    .with_grant_types(Vec::new())
    .with_secret(hash);
    h.store.insert_client(&client).await.unwrap();
    TestClient {
        id: id.to_owned(),
        secret: Some(secret.to_owned()),
    }
}

#[tokio::test]
async fn a_resource_server_introspects_exactly_the_tokens_for_it() {
    let h = resources_harness(Some("files-rs"));
    let rs = resource_server_client(&h, "files-rs", "rs-secret-0123456789abcdef").await;
    let client = h.confidential().await;
    let introspect = |token: String| {
        let request = form(&rs, &format!("token={token}"));
        let provider = &h.provider;
        async move { provider.introspect(&request).await.json_body().unwrap() }
    };
    let files = tokens_for(&h, &client, "read", &[FILES]).await;
    let body = introspect(files["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["aud"], FILES, "one audience: a string");
    assert_eq!(body["client_id"], client.id.as_str());
    let both = tokens_for(&h, &client, "read", &[MAIL, FILES]).await;
    let body = introspect(both["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(body["active"], true);
    assert_eq!(
        body["aud"],
        serde_json::json!([MAIL, FILES]),
        "several: an array"
    );
    // Tokens for another resource, and the default audience: unknown to this RS.
    for other in [
        tokens_for(&h, &client, "read", &[MAIL]).await,
        h.tokens(&client, "read").await,
    ] {
        let body = introspect(other["access_token"].as_str().unwrap().to_owned()).await;
        assert_eq!(body, serde_json::json!({"active": false}));
    }
    // A wrong secret is no resource server.
    let impostor = TestClient {
        id: "files-rs".into(),
        secret: Some("wrong".into()),
    };
    let response = h
        .provider
        .introspect(&form(
            &impostor,
            &format!("token={}", files["access_token"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(response.status, 401);
    // The token's own client still sees its token, with `aud`.
    let body = h
        .provider
        .introspect(&form(
            &client,
            &format!("token={}", files["access_token"].as_str().unwrap()),
        ))
        .await
        .json_body()
        .unwrap();
    assert_eq!(body["aud"], FILES);
}

#[tokio::test]
async fn protected_resource_metadata_and_the_challenge() {
    let h = resources_harness(None);
    let document = h.provider.resource_metadata(OWN).unwrap();
    let json: serde_json::Value = serde_json::from_str(&document.to_json_string()).unwrap();
    assert_eq!(json["resource"], OWN);
    assert_eq!(
        json["authorization_servers"],
        serde_json::json!(["https://auth.example.com"])
    );
    assert_eq!(
        json["scopes_supported"],
        serde_json::json!(["offline_access", "read", "whoami", "write"])
    );
    assert_eq!(
        json["bearer_methods_supported"],
        serde_json::json!(["header", "body"])
    );
    let files: serde_json::Value = serde_json::from_str(
        &h.provider
            .resource_metadata(FILES)
            .unwrap()
            .to_json_string(),
    )
    .unwrap();
    assert_eq!(
        files["scopes_supported"],
        serde_json::json!(["read", "write"])
    );
    assert!(
        h.provider
            .resource_metadata("https://unknown.example/")
            .is_none()
    );
    assert_eq!(
        h.provider.resource_metadata_url(OWN).as_deref(),
        Some("https://auth.example.com/.well-known/oauth-protected-resource/api/me")
    );
    assert_eq!(
        h.provider.resource_metadata_url(FILES).as_deref(),
        Some("https://files.example.com/.well-known/oauth-protected-resource")
    );
    // Served at the issuer's origin for the resources there only.
    let served = h
        .provider
        .protected_resource_metadata("/.well-known/oauth-protected-resource/api/me")
        .unwrap();
    assert_eq!(served.status, 200);
    assert_eq!(served.json_body().unwrap()["resource"], OWN);
    assert!(
        h.provider
            .protected_resource_metadata("/.well-known/oauth-protected-resource")
            .is_none()
    );
    // The challenge names the document.
    let refusal = h
        .provider
        .validate_bearer(
            &BearerRequest::default().for_resource(OWN),
            &ScopeSet::new(),
        )
        .await
        .unwrap_err()
        .with_resource_metadata(h.provider.resource_metadata_url(OWN).unwrap());
    let response = refusal.to_response(&h.provider);
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some(
            r#"Bearer realm="tessera", resource_metadata="https://auth.example.com/.well-known/oauth-protected-resource/api/me""#
        )
    );
}

/// The axum extractors check the audience with no layer: at a registered resource's URL the
/// token must name it; at another handler of the provider's it must be valid at the provider's
/// own resources (the default audience), so a token narrowed to another service is refused.
#[tokio::test]
async fn the_axum_extractors_refuse_a_token_meant_for_another_resource() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tessera::axum::{AnyScope, Bearer};
    use tower::ServiceExt as _;

    async fn me(principal: tessera::Principal) -> String {
        principal.client_id().to_string()
    }
    async fn other(principal: Bearer<AnyScope>) -> String {
        principal.client_id().to_string()
    }

    let h = resources_harness(None);
    let client = h.confidential().await;
    let own = tokens_for(&h, &client, "read", &[]).await;
    let files = tokens_for(&h, &client, "read", &[FILES]).await;
    let router: axum::Router = axum::Router::new()
        .route("/api/me", get(me))
        .route("/api/other", get(other))
        .with_state(h.provider.clone());
    let status = |path: &'static str, token: &serde_json::Value| {
        let router = router.clone();
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        async move {
            let request = Request::get(path)
                .header(header::AUTHORIZATION, bearer)
                .body(Body::empty())
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (response.status(), challenge)
        }
    };
    for path in ["/api/me", "/api/other"] {
        assert_eq!(status(path, &own).await.0, StatusCode::OK, "{path}");
        let (refused, challenge) = status(path, &files).await;
        assert_eq!(refused, StatusCode::UNAUTHORIZED, "{path}");
        assert!(challenge.contains("invalid_token"), "{path}: {challenge}");
    }
}
