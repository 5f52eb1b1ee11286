//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700), one test per
//! rule, through the public API only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::{
    AuthorizeError, ClientRegistration, ErrorCode, FormRequest, GrantType, PkceRequirement,
    RedirectUri, ScopeSet,
};

fn authorize_query(client: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope=read&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT)
    )
}

async fn untrusted(h: &Harness, query: &str) -> tessera::UntrustedRequest {
    match h.provider.authorize(&params(query)).await {
        Err(AuthorizeError::Untrusted(error)) => error,
        Err(AuthorizeError::Redirect(r)) => panic!("redirected: {:?}", r.error()),
        Ok(_) => panic!("accepted {query}"),
        Err(other) => panic!("{other:?}"),
    }
}

async fn redirected_error(h: &Harness, query: &str) -> tessera::Redirect {
    match h.provider.authorize(&params(query)).await {
        Err(AuthorizeError::Redirect(redirect)) => redirect.after_login(&user()),
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_client_is_shown_not_redirected() {
    let h = harness();
    let error = untrusted(&h, &authorize_query("nobody", "")).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest);
    assert_eq!(error.status(), 400);
    let error = untrusted(&h, "response_type=code").await;
    assert!(error.description.contains("client_id"));
}

#[tokio::test]
async fn open_redirect_attempts_are_shown_not_redirected() {
    let h = harness();
    let client = h.confidential().await;
    for attack in [
        "https://client.example/cb/extra",
        "https://client.example:8443/cb",
        "https://client.example/cb#frag",
        "https://client.example@evil.example/cb",
        "https://evil.example/cb",
        "https://client.example.evil.example/cb",
        "http://client.example/cb",
        "https://client.example/cb?x=1",
        "javascript:alert(1)",
        "not a uri",
    ] {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            urlencode(attack)
        );
        let error = untrusted(&h, &query).await;
        assert_eq!(error.code, ErrorCode::InvalidRequest, "{attack}");
    }
}

#[tokio::test]
async fn missing_redirect_uri_uses_the_single_registration_or_is_shown() {
    let h = harness();
    let one = h.confidential().await;
    let query = format!(
        "response_type=code&client_id={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
        one.id
    );
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    assert_eq!(pending.redirect_uri().as_str(), REDIRECT);

    let two = h
        .register(
            ClientRegistration::new("Two", REDIRECT)
                .with_redirect_uris(vec![REDIRECT.into(), "https://client.example/other".into()]),
        )
        .await;
    let query = format!(
        "response_type=code&client_id={}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        two.id
    );
    untrusted(&h, &query).await;
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_trusted_are_redirected_with_state_and_iss() {
    let h = harness();
    let client = h.confidential().await;
    let cases = [
        (
            authorize_query(&client.id, "").replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            authorize_query(&client.id, "").replace("response_type=code&", ""),
            "invalid_request",
        ),
        (
            authorize_query(&client.id, "").replace("scope=read", "scope=admin"),
            "invalid_scope",
        ),
        (
            authorize_query(&client.id, "").replace("scope=read", "scope=bad%22scope"),
            "invalid_scope",
        ),
        (
            authorize_query(&client.id, "").replace(
                &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                "",
            ),
            "invalid_request",
        ),
        (
            authorize_query(&client.id, "").replace("S256", "plain"),
            "invalid_request",
        ),
        (
            authorize_query(&client.id, "").replace(CHALLENGE, "tooshort"),
            "invalid_request",
        ),
    ];
    for (query, code) in cases {
        let redirect = redirected_error(&h, &query).await;
        assert!(redirect.location().starts_with(REDIRECT), "{query}");
        assert_eq!(redirect.param("error").as_deref(), Some(code), "{query}");
        assert_eq!(redirect.param("state").as_deref(), Some("s1"), "{query}");
        assert_eq!(
            redirect.param("iss").as_deref(),
            Some("https://auth.example.com")
        );
        assert!(redirect.param("code").is_none());
    }
}

#[tokio::test]
async fn a_client_not_allowed_the_code_grant_is_told_at_its_redirect() {
    let h = harness();
    let client = h
        .register(
            ClientRegistration::new("M2M", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await;
    let redirect = redirected_error(&h, &authorize_query(&client.id, "")).await;
    assert_eq!(
        redirect.param("error").as_deref(),
        Some("unauthorized_client")
    );
}

#[tokio::test]
async fn state_is_echoed_unchanged_and_iss_is_present() {
    let h = harness();
    let client = h.confidential().await;
    let odd_state = "a b&c=d/é";
    let query = authorize_query(&client.id, "")
        .replace("state=s1", &format!("state={}", urlencode(odd_state)));
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    let scopes = pending.scopes().clone();
    let redirect = pending.approve(&h.provider, user(), &scopes).await;
    assert_eq!(redirect.param("state").as_deref(), Some(odd_state));
    assert_eq!(
        redirect.param("iss").as_deref(),
        Some("https://auth.example.com")
    );
    let response = redirect.to_response();
    assert_eq!(response.status, 302);
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
}

#[tokio::test]
async fn denial_redirects_access_denied() {
    let h = harness();
    let client = h.confidential().await;
    let pending = h
        .provider
        .authorize(&params(&authorize_query(&client.id, "")))
        .await
        .unwrap();
    let redirect = pending.deny(&h.provider);
    assert_eq!(redirect.param("error").as_deref(), Some("access_denied"));
    assert_eq!(redirect.param("state").as_deref(), Some("s1"));
    assert!(redirect.param("code").is_none());
}

#[tokio::test]
async fn fewer_scopes_than_asked_may_be_granted_and_the_response_says_so() {
    let h = harness();
    let client = h.confidential().await;
    let query = authorize_query(&client.id, "").replace("scope=read", "scope=read%20write");
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    let redirect = pending
        .approve(&h.provider, user(), &ScopeSet::parse("read admin").unwrap())
        .await;
    let code = redirect.param("code").unwrap();
    let body = h.exchange_code(&client, &code).await.json_body().unwrap();
    assert_eq!(
        body["scope"], "read",
        "only requested and granted scopes survive"
    );
}

#[tokio::test]
async fn consent_is_remembered_per_user_and_client() {
    let h = harness();
    let client = h.confidential().await;
    let pending = h
        .provider
        .authorize(&params(&authorize_query(&client.id, "")))
        .await
        .unwrap();
    assert!(!pending.consent_covers(&h.provider, &user()).await.unwrap());
    let _ = pending
        .approve(&h.provider, user(), &ScopeSet::parse("read").unwrap())
        .await;
    let again = h
        .provider
        .authorize(&params(&authorize_query(&client.id, "")))
        .await
        .unwrap();
    assert!(again.consent_covers(&h.provider, &user()).await.unwrap());
    assert!(
        !again
            .consent_covers(&h.provider, &tessera::UserId::new("bob"))
            .await
            .unwrap()
    );
    let wider = authorize_query(&client.id, "").replace("scope=read", "scope=read%20write");
    let wider = h.provider.authorize(&params(&wider)).await.unwrap();
    assert!(
        !wider.consent_covers(&h.provider, &user()).await.unwrap(),
        "a new scope needs consent"
    );
}

#[tokio::test]
async fn token_response_has_the_rfc_fields_and_no_store() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let response = h.exchange_code(&client, &code).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("pragma"), Some("no-cache"));
    let body = response.json_body().unwrap();
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("tsr_at_")
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("tsr_rt_")
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn client_secret_post_and_public_none_authenticate() {
    let h = harness();
    let client = h
        .register(
            ClientRegistration::new("Posting", REDIRECT)
                .with_auth_method(tessera::AuthMethod::ClientSecretPost),
        )
        .await;
    let code = h.code(&client, "read").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}&client_secret={}",
        urlencode(REDIRECT),
        client.id,
        client.secret.as_deref().unwrap()
    );
    let response = h.provider.token(&FormRequest::new(body)).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );

    let public = h.public().await;
    let tokens = h.tokens(&public, "read").await;
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn failed_client_authentication_is_401_with_a_basic_challenge_when_basic_was_used() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("wrong".into()),
    };
    let response = h.exchange_code(&wrong, &code).await;
    assert_eq!(response.status, 401);
    assert_eq!(error_of(&response), "invalid_client");
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );

    // Post credentials: 401, no Basic challenge.
    let body = format!(
        "grant_type=authorization_code&code={code}&client_id={}&client_secret=wrong",
        client.id
    );
    let response = h.provider.token(&FormRequest::new(body)).await;
    assert_eq!(response.status, 401);
    assert!(response.header("www-authenticate").is_none());

    // A confidential client may not skip authentication.
    let body = format!(
        "grant_type=authorization_code&code={code}&client_id={}",
        client.id
    );
    assert_eq!(
        error_of(&h.provider.token(&FormRequest::new(body)).await),
        "invalid_client"
    );

    // The code was not spent by the failed attempts.
    assert_eq!(h.exchange_code(&client, &code).await.status, 200);
}

#[tokio::test]
async fn two_authentication_methods_at_once_is_invalid_request() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&client_secret={}",
        client.secret.as_deref().unwrap()
    );
    let request = FormRequest::new(body).with_authorization(Some(&client.basic()));
    let response = h.provider.token(&request).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_request");
}

#[tokio::test]
async fn replay_is_invalid_grant_and_revokes_the_tokens_already_issued() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let first = h.exchange_code(&client, &code).await.json_body().unwrap();
    let access = first["access_token"].as_str().unwrap();
    let header = format!("Bearer {access}");
    assert!(
        h.provider
            .validate_bearer(&tessera::BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_ok()
    );

    let replay = h.exchange_code(&client, &code).await;
    assert_eq!(replay.status, 400);
    assert_eq!(error_of(&replay), "invalid_grant");
    assert!(
        h.provider
            .validate_bearer(&tessera::BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_err()
    );
    let refresh = first["refresh_token"].as_str().unwrap();
    let response = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
    assert_eq!(
        error_of(&response),
        "invalid_grant",
        "the refresh token died with the grant"
    );
}

#[tokio::test]
async fn a_code_of_another_client_is_invalid_grant() {
    let h = harness();
    let owner = h.confidential().await;
    let thief = h.confidential().await;
    let code = h.code(&owner, "read").await;
    let response = h.exchange_code(&thief, &code).await;
    assert_eq!(error_of(&response), "invalid_grant");
}

#[tokio::test]
async fn an_expired_code_is_invalid_grant() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    h.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        error_of(&h.exchange_code(&client, &code).await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn redirect_uri_must_repeat_the_authorization_requests() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let mismatch = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode("https://client.example/other")
    );
    assert_eq!(
        error_of(&h.token(&client, &mismatch).await),
        "invalid_grant"
    );

    let code = h.code(&client, "read").await;
    let missing = format!("grant_type=authorization_code&code={code}&code_verifier={VERIFIER}");
    assert_eq!(
        error_of(&h.token(&client, &missing).await),
        "invalid_grant",
        "given at authorize: required at token"
    );
}

#[tokio::test]
async fn pkce_wrong_missing_and_downgrade() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let wrong = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={}",
        urlencode(REDIRECT),
        "x".repeat(43)
    );
    assert_eq!(error_of(&h.token(&client, &wrong).await), "invalid_grant");

    let code = h.code(&client, "read").await;
    let missing = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        urlencode(REDIRECT)
    );
    let response = h.token(&client, &missing).await;
    assert_eq!(
        (response.status, error_of(&response).as_str()),
        (400, "invalid_grant")
    );

    // A code issued without a challenge (confidential client, PKCE optional) must not be
    // redeemed with a verifier: that is a downgrade/injection signal (RFC 9700 §4.8.2).
    let h = harness_with(
        builder()
            .pkce(PkceRequirement::PublicClients)
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read",
        client.id,
        urlencode(REDIRECT)
    );
    let code = h.approve_code(&query).await;
    let with_verifier = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(REDIRECT)
    );
    assert_eq!(
        error_of(&h.token(&client, &with_verifier).await),
        "invalid_grant"
    );

    // Public clients always need PKCE.
    let public = h.public().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=q",
        public.id,
        urlencode(REDIRECT)
    );
    let redirect = redirected_error(&h, &query).await;
    assert_eq!(redirect.param("error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn plain_pkce_only_through_danger() {
    let h = harness_with(
        builder()
            .danger(Danger::new().open_registration().allow_plain_pkce())
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={VERIFIER}&code_challenge_method=plain",
        client.id,
        urlencode(REDIRECT)
    );
    let code = h.approve_code(&query).await;
    assert_eq!(h.exchange_code(&client, &code).await.status, 200);
    assert_eq!(
        h.provider.metadata_response().json_body().unwrap()["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
}

#[tokio::test]
async fn malformed_and_unknown_codes_are_invalid_grant() {
    let h = harness();
    let client = h.confidential().await;
    for code in [
        "",
        "abc",
        "tsr_ac_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "%00%ff",
    ] {
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(REDIRECT)
        );
        let response = h.token(&client, &body).await;
        assert_eq!(response.status, 400, "{code}");
        let expected = if code.is_empty() {
            "invalid_request"
        } else {
            "invalid_grant"
        };
        assert_eq!(error_of(&response), expected, "{code}");
    }
}

#[tokio::test]
async fn grant_type_errors() {
    let h = harness();
    let client = h.confidential().await;
    assert_eq!(
        error_of(&h.token(&client, "code=x").await),
        "invalid_request"
    );
    assert_eq!(
        error_of(
            &h.token(&client, "grant_type=password&username=a&password=b")
                .await
        ),
        "unsupported_grant_type"
    );
    assert_eq!(
        error_of(
            &h.token(
                &client,
                "grant_type=authorization_code&grant_type=refresh_token"
            )
            .await
        ),
        "invalid_request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_redemptions_yield_at_most_one_token_and_none_live() {
    let h = Arc::new(harness());
    let client = Arc::new(h.confidential().await);
    let code = h.code(&client, "read").await;
    assert!(concurrent_redemptions(&h, &client, &code, 100).await <= 1);
}

#[tokio::test]
async fn codes_are_stored_only_hashed() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let debug = format!("{:?}", h.store);
    assert!(
        !debug.contains(&code),
        "the store's contents mention the plaintext code"
    );
    assert!(!debug.contains(client.secret.as_deref().unwrap()));
}

#[test]
fn loopback_redirects_match_any_port() {
    let registered = vec![RedirectUri::parse("http://127.0.0.1/cb").unwrap()];
    let policy = tessera::ExactRedirect::default();
    use tessera::RedirectPolicy;
    assert!(
        policy
            .resolve(&registered, Some("http://127.0.0.1:49152/cb"))
            .is_ok()
    );
    assert!(
        policy
            .resolve(&registered, Some("http://127.0.0.1:49152/cb2"))
            .is_err()
    );
}
