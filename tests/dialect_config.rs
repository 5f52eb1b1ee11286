//! Each configuration option the seed dialects use, on its own, through the public API: off by
//! default (the RFC behaviour), and what it changes when on. Plus the Phabricator redirect
//! policy (`danger::SameDomainRedirect`) accepting and refusing overrides with reasons.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use tessera::danger::{self, SameDomainRedirect};
use tessera::{
    AuthorizeError, BearerRequest, BodyFormat, Config, Dialect, ErrorCode, FormRequest, GrantType,
    Provider, RedirectError, RedirectPolicy, RedirectUri, Scope, ScopeSet, StoreError,
    SubjectTokenValidator, UserId,
};
use time::Duration;

fn with_dialect(dialect: Dialect) -> Config {
    builder().dialect(dialect).build().unwrap()
}

fn body_text(response: &tessera::Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

fn code_body(code: &str, grant: &str) -> String {
    format!(
        "grant_type={grant}&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(REDIRECT)
    )
}

// ---- response_type_optional ---------------------------------------------------------------

fn authorize_query(extra: &str) -> String {
    format!(
        "client_id={{id}}&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT)
    )
}

#[tokio::test]
async fn missing_response_type_is_refused_unless_optional() {
    let h = harness();
    let client = h.confidential().await;
    let query = authorize_query("").replace("{id}", &client.id);
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            let redirect = redirect.after_login(&user());
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_request"));
        }
        other => panic!("{other:?}"),
    }

    let h = harness_with(with_dialect(
        Dialect::default().with_response_type_optional(),
    ));
    let client = h.confidential().await;
    let query = authorize_query("").replace("{id}", &client.id);
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    let redirect = pending
        .approve(&h.provider, user(), &ScopeSet::parse("read").unwrap())
        .await;
    assert!(redirect.param("code").is_some());
    // Only absence is defaulted: another response_type is still refused.
    let query = authorize_query("&response_type=token").replace("{id}", &client.id);
    match h.provider.authorize(&params(&query)).await {
        Err(AuthorizeError::Redirect(redirect)) => assert_eq!(
            redirect.after_login(&user()).param("error").as_deref(),
            Some("unsupported_response_type")
        ),
        other => panic!("{other:?}"),
    }
}

// ---- grant_type_aliases and default_grant_type ----------------------------------------------

#[tokio::test]
async fn grant_type_aliases_name_a_grant_only_when_configured() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let response = h.token(&client, &code_body(&code, "token")).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "unsupported_grant_type");

    let h = harness_with(with_dialect(
        Dialect::default().with_grant_type_alias("token", GrantType::AuthorizationCode),
    ));
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let response = h.token(&client, &code_body(&code, "token")).await;
    assert_eq!(response.status, 200, "{}", body_text(&response));
    // The RFC name keeps working.
    let code = h.code(&client, "read").await;
    let response = h
        .token(&client, &code_body(&code, "authorization_code"))
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn missing_grant_type_uses_the_default_only_when_configured() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let body = code_body(&code, "x").replace("grant_type=x&", "");
    let response = h.token(&client, &body).await;
    assert_eq!(error_of(&response), "invalid_request");

    let h = harness_with(with_dialect(
        Dialect::default().with_default_grant_type(GrantType::AuthorizationCode),
    ));
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let body = code_body(&code, "x").replace("grant_type=x&", "");
    assert_eq!(h.token(&client, &body).await.status, 200);
}

// ---- token_params_in_query --------------------------------------------------------------

#[tokio::test]
async fn query_parameters_are_read_only_when_configured() {
    for read in [false, true] {
        let h = harness_with(with_dialect(if read {
            Dialect::default().with_token_params_in_query()
        } else {
            Dialect::default()
        }));
        let client = h
            .register(
                tessera::ClientRegistration::new("Posting", REDIRECT)
                    .with_auth_method(tessera::AuthMethod::ClientSecretPost),
            )
            .await;
        let code = h.code(&client, "read").await;
        let query = format!(
            "{}&client_id={}&client_secret={}",
            code_body(&code, "authorization_code"),
            client.id,
            client.secret.as_deref().unwrap()
        );
        let response = h
            .provider
            .token(&FormRequest::new(Vec::new()).with_query(Some(&query)))
            .await;
        if read {
            assert_eq!(response.status, 200, "{}", body_text(&response));
        } else {
            assert_eq!(error_of(&response), "invalid_request");
        }
    }
}

// ---- token_redirect_uri_optional --------------------------------------------------------

#[tokio::test]
async fn redirect_uri_at_the_token_endpoint() {
    for optional in [false, true] {
        let h = harness_with(with_dialect(if optional {
            Dialect::default().with_token_redirect_uri_optional()
        } else {
            Dialect::default()
        }));
        let client = h.confidential().await;
        let code = h.code(&client, "read").await;
        let omitted = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
        let response = h.token(&client, &omitted).await;
        if optional {
            assert_eq!(response.status, 200, "{}", body_text(&response));
        } else {
            assert_eq!(error_of(&response), "invalid_grant");
        }
        // Named, it must still equal the authorization request's.
        let code = h.code(&client, "read").await;
        let other = format!(
            "grant_type=authorization_code&code={code}&code_verifier={VERIFIER}&redirect_uri={}",
            urlencode("https://client.example/other")
        );
        assert_eq!(error_of(&h.token(&client, &other).await), "invalid_grant");
    }
}

// ---- token format, fields and error vocabulary ------------------------------------------

#[tokio::test]
async fn form_encoded_token_responses_with_chosen_fields() {
    let h = harness_with(with_dialect(
        Dialect::default()
            .with_token_format(BodyFormat::Form)
            .with_token_fields(["access_token", "token_type"]),
    ));
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let response = h
        .token(&client, &code_body(&code, "authorization_code"))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let names: Vec<String> = url::form_urlencoded::parse(&response.body)
        .map(|(n, _)| n.into_owned())
        .collect();
    assert_eq!(names, ["access_token", "token_type"]);
    // Errors take the same format.
    let response = h
        .token(&client, &code_body(&code, "authorization_code"))
        .await;
    assert_eq!(response.status, 400);
    assert!(body_text(&response).starts_with("error=invalid_grant"));
}

#[tokio::test]
async fn collapsed_and_renamed_errors() {
    let h = harness_with(with_dialect(
        Dialect::default()
            .with_collapsed_token_error(ErrorCode::Custom("invalid request".into()))
            .with_renamed_error(
                ErrorCode::AccessDenied,
                ErrorCode::Custom("authorization_refused".into()),
            ),
    ));
    let client = h.confidential().await;
    let response = h
        .token(&client, &code_body("bogus", "authorization_code"))
        .await;
    assert_eq!(response.status, 400, "status of the real error is kept");
    assert_eq!(
        response.json_body().unwrap(),
        serde_json::json!({"error": "invalid request"})
    );
    let query = authorize_query("&response_type=code").replace("{id}", &client.id);
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    let redirect = pending.deny(&h.provider);
    assert_eq!(
        redirect.param("error").as_deref(),
        Some("authorization_refused")
    );
}

// ---- param_aliases and default_subject_token_type ----------------------------------------

const PERSONAL: &str = "urn:example:personal-token";

#[derive(Debug)]
struct Personal;

#[async_trait]
impl SubjectTokenValidator for Personal {
    async fn validate(
        &self,
        token_type: &str,
        token: &str,
    ) -> Result<Option<tessera::SubjectToken>, StoreError> {
        Ok((token_type == PERSONAL && token == "789hij")
            .then(|| tessera::SubjectToken::new(UserId::new("alice"))))
    }
}

fn exchange_provider(dialect: Dialect) -> Harness {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = Provider::builder(with_dialect(dialect), store.clone())
        .clock(Arc::new(clock.clone()))
        .subject_tokens(Arc::new(Personal))
        .build();
    Harness {
        provider,
        clock,
        store,
    }
}

#[tokio::test]
async fn aliased_parameters_and_a_default_subject_token_type() {
    // Without the options, PhoneGap's request is incomplete.
    let h = exchange_provider(Dialect::default());
    let client = h.confidential().await;
    let body = "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&auth_token=789hij";
    assert_eq!(error_of(&h.token(&client, body).await), "invalid_request");

    let dialect = Dialect::default()
        .with_param_alias("auth_token", "subject_token")
        .with_default_subject_token_type(PERSONAL);
    let h = exchange_provider(dialect);
    let client = h.confidential().await;
    let response = h.token(&client, body).await;
    assert_eq!(response.status, 200, "{}", body_text(&response));
    let token = response.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let principal = h
        .provider
        .validate_bearer(
            &BearerRequest::header(&format!("Bearer {token}")),
            &ScopeSet::new(),
        )
        .await
        .unwrap();
    assert_eq!(principal.user().map(UserId::as_str), Some("alice"));
    // A wrong personal token, and both names at once.
    let wrong = body.replace("789hij", "000000");
    assert_eq!(error_of(&h.token(&client, &wrong).await), "invalid_grant");
    let both = format!("{body}&subject_token=789hij");
    assert_eq!(error_of(&h.token(&client, &both).await), "invalid_request");
    // An explicit subject_token_type wins over the default.
    let typed = format!("{body}&subject_token_type=urn:other");
    assert_eq!(error_of(&h.token(&client, &typed).await), "invalid_grant");
}

// ---- offline_access: never-expiring tokens through the expiry policy ---------------------

#[tokio::test]
async fn offline_access_tokens_never_expire_others_do() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let config = builder()
        .danger(
            danger::Danger::new()
                .open_registration()
                .never_expire_with_scope(Scope::new("offline_access").unwrap()),
        )
        .build()
        .unwrap();
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let client = h.confidential().await;
    let forever = h.tokens(&client, "whoami offline_access").await;
    assert!(forever.get("expires_in").is_none(), "{forever}");
    let hourly = h.tokens(&client, "whoami").await;
    assert_eq!(hourly["expires_in"], 3600);
    h.clock.advance(Duration::days(3650));
    for (body, valid) in [(forever, true), (hourly, false)] {
        let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
        let result = h
            .provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await;
        assert_eq!(result.is_ok(), valid, "{body}");
    }
}

// ---- danger::SameDomainRedirect (Phabricator) -------------------------------------------

fn registered(list: &[&str]) -> Vec<RedirectUri> {
    list.iter()
        .map(|u| RedirectUri::parse(u).unwrap())
        .collect()
}

#[test]
fn same_domain_redirect_accepts_overrides_on_the_registered_origin() {
    let reg = registered(&["https://app.example/cb?tenant=7&lang=en"]);
    for ok in [
        "https://app.example/cb?tenant=7&lang=en",
        "https://app.example/cb?lang=en&tenant=7",
        "https://app.example/other/path?tenant=7&lang=en&extra=1",
        "https://app.example:443/x?tenant=7&lang=en",
    ] {
        let chosen = SameDomainRedirect.resolve(&reg, Some(ok)).unwrap();
        assert_eq!(chosen.as_str(), ok);
    }
    assert_eq!(
        SameDomainRedirect.resolve(&reg, None).unwrap().as_str(),
        "https://app.example/cb?tenant=7&lang=en"
    );
}

#[test]
fn same_domain_redirect_refuses_with_reasons() {
    let reg = registered(&["https://app.example/cb?tenant=7"]);
    for (bad, reason) in [
        ("https://evil.example/cb?tenant=7", "domain"),
        ("https://app.example.evil.example/cb?tenant=7", "domain"),
        ("https://sub.app.example/cb?tenant=7", "domain"),
        ("http://app.example/cb?tenant=7", "scheme"),
        ("https://app.example:8443/cb?tenant=7", "port"),
        ("https://user@app.example/cb?tenant=7", "user info"),
        ("https://app.example/cb", "query parameters"),
        ("https://app.example/cb?tenant=8", "query parameters"),
        ("https://app.example/cb?tenant=7#x", "fragment"),
    ] {
        match SameDomainRedirect.resolve(&reg, Some(bad)) {
            Err(RedirectError::Refused(why)) => assert!(why.contains(reason), "{bad}: {why}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        SameDomainRedirect.resolve(&reg, Some("javascript:alert(1)")),
        Err(RedirectError::Malformed(_))
    ));
    let two = registered(&["https://a.example/cb", "https://b.example/cb"]);
    assert_eq!(
        SameDomainRedirect.resolve(&two, None),
        Err(RedirectError::Missing)
    );
    assert_eq!(
        SameDomainRedirect.resolve(&[], Some("https://a.example/cb")),
        Err(RedirectError::NotRegistered)
    );
}

#[tokio::test]
async fn same_domain_redirect_plugged_into_the_provider() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .redirect_policy(Arc::new(SameDomainRedirect))
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let client = h.confidential().await;
    let query = |uri: &str| {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&scope=read",
            client.id,
            urlencode(uri)
        )
    };
    let pending = h
        .provider
        .authorize(&params(&query("https://client.example/elsewhere")))
        .await
        .unwrap();
    assert_eq!(
        pending.redirect_uri().as_str(),
        "https://client.example/elsewhere"
    );
    match h
        .provider
        .authorize(&params(&query("https://evil.example/cb")))
        .await
    {
        Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert!(
                error.description.contains("domain"),
                "{}",
                error.description
            );
        }
        other => panic!("{other:?}"),
    }
    // The default policy refuses the same override.
    let h = harness();
    let client = h.confidential().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode("https://client.example/elsewhere")
    );
    assert!(matches!(
        h.provider.authorize(&params(&query)).await,
        Err(AuthorizeError::Untrusted(_))
    ));
}

// ---- importing a client with its existing secret ------------------------------------------

#[tokio::test]
async fn imported_secrets_are_slow_hashed_generated_ones_fast() {
    use tessera::{AuthMethod, ClientId, ClientRegistration, ClientSecret};
    let h = harness_with(with_dialect(
        Dialect::default()
            .with_token_params_in_query()
            .with_default_grant_type(GrantType::AuthorizationCode),
    ));
    let imported = h
        .provider
        .import_client(
            ClientId::new("abcdef").unwrap(),
            Some(ClientSecret::new("123456")),
            ClientRegistration::new("Imported", REDIRECT)
                .with_auth_method(AuthMethod::ClientSecretPost),
        )
        .await
        .unwrap();
    assert!(imported.secret.as_ref().unwrap().is_slow());
    let generated = h
        .provider
        .register_client(ClientRegistration::new("Generated", REDIRECT))
        .await
        .unwrap();
    assert!(!generated.client.secret.as_ref().unwrap().is_slow());
    // The imported secret authenticates; another does not.
    for (secret, status) in [("123456", 200), ("1234567", 401)] {
        let client = TestClient {
            id: "abcdef".into(),
            secret: None,
        };
        let code = h.code(&client, "read").await;
        let query = format!(
            "client_id=abcdef&client_secret={secret}&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(REDIRECT)
        );
        let response = h
            .provider
            .token(&FormRequest::new(Vec::new()).with_query(Some(&query)))
            .await;
        assert_eq!(response.status, status, "{}", body_text(&response));
    }
}
