//! Pushed authorization requests (RFC 9126): the endpoint authenticates and validates as the
//! authorization endpoint would, the `request_uri` works once, for its client, within its
//! lifetime, on every instance given the same secret; "PAR required" per provider and client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::jose::Algorithm;
use tessera::store::MemoryStore;
use tessera::testkit::{DpopKey, ManualClock, SeededEntropy};
use tessera::{
    AuthMethod, AuthorizeError, ClientMetadata, ClientRegistration, FormRequest, GrantType,
    Lifetimes, PendingAuthorization, Provider, Response,
};

const PAR_URL: &str = "https://auth.example.com/par";
const NOW: i64 = 1_893_456_000; // 2030-01-01, the harness clock

fn request_body(extra: &str) -> String {
    format!(
        "response_type=code&redirect_uri={}&scope=read&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT)
    )
}

/// Pushes `body` for `client` (Basic for a confidential one, `client_id` for a public one).
async fn push_to(provider: &Provider, client: &TestClient, body: &str) -> Response {
    let request = match client.secret {
        Some(_) => {
            FormRequest::new(body.as_bytes().to_vec()).with_authorization(Some(&client.basic()))
        }
        None => FormRequest::new(format!("client_id={}&{body}", client.id).into_bytes()),
    };
    provider.pushed_authorization(&request).await
}

async fn push(h: &Harness, client: &TestClient, body: &str) -> Response {
    push_to(&h.provider, client, body).await
}

/// Pushes a valid request and returns its `request_uri`.
async fn pushed(h: &Harness, client: &TestClient) -> String {
    let response = push(h, client, &request_body("")).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body = response.json_body().unwrap();
    assert_eq!(body["expires_in"], 60);
    body["request_uri"].as_str().unwrap().to_owned()
}

fn by_reference(client: &TestClient, request_uri: &str) -> String {
    format!(
        "client_id={}&request_uri={}",
        client.id,
        urlencode(request_uri)
    )
}

async fn authorize(
    provider: &Provider,
    query: &str,
) -> Result<PendingAuthorization, AuthorizeError> {
    provider.authorize(&params(query)).await
}

async fn approve(h: &Harness, pending: PendingAuthorization) -> tessera::Redirect {
    let scopes = pending.scopes().clone();
    pending.approve(&h.provider, user(), &scopes).await
}

fn assert_json_error(response: &Response, code: &str) {
    assert_eq!(
        error_of(response),
        code,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.status, 400);
    assert!(response.header("location").is_none());
}

#[tokio::test]
async fn a_pushed_request_is_authorized_by_reference_and_its_code_redeemed() {
    let h = harness();
    let client = h.confidential().await;
    let request_uri = pushed(&h, &client).await;
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(request_uri.len() < 2048);
    // Parameters in the query besides client_id and request_uri are ignored (RFC 9126 §4).
    let query = format!(
        "{}&scope=write&state=other&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
        by_reference(&client, &request_uri)
    );
    let pending = authorize(&h.provider, &query).await.unwrap();
    assert!(pending.is_pushed());
    assert_eq!(pending.scopes().to_string(), "read");
    assert_eq!(pending.state(), Some("s1"));
    assert_eq!(pending.redirect_uri().as_str(), REDIRECT);
    let redirect = approve(&h, pending).await;
    assert!(redirect.location().starts_with(REDIRECT));
    let code = redirect.param("code").unwrap();
    let response = h.exchange_code(&client, &code).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json_body().unwrap()["scope"], "read");
}

#[tokio::test]
async fn public_clients_push_with_their_client_id_and_bad_credentials_are_refused() {
    let h = harness();
    let public = h.public().await;
    let request_uri = pushed(&h, &public).await;
    let pending = authorize(&h.provider, &by_reference(&public, &request_uri))
        .await
        .unwrap();
    let code = approve(&h, pending).await.param("code").unwrap();
    assert_eq!(h.exchange_code(&public, &code).await.status, 200);

    let confidential = h.confidential().await;
    let wrong = TestClient {
        id: confidential.id.clone(),
        secret: Some("wrong".into()),
    };
    let response = push(&h, &wrong, &request_body("")).await;
    assert_eq!(response.status, 401);
    assert_eq!(error_of(&response), "invalid_client");
    // A confidential client naming itself without its secret is not authenticated.
    let response = h
        .provider
        .pushed_authorization(&FormRequest::new(
            format!("client_id={}&{}", confidential.id, request_body("")).into_bytes(),
        ))
        .await;
    assert_eq!(error_of(&response), "invalid_client");
}

#[tokio::test]
async fn pushed_requests_are_validated_as_at_the_authorization_endpoint() {
    let h = harness();
    let client = h.confidential().await;
    let public = h.public().await;
    // The redirect URI: exact match against the client's, refused at push time (as JSON).
    for bad in [
        "https://client.example/cb/extra",
        "https://evil.example/cb",
        "not a uri",
    ] {
        let body = format!(
            "response_type=code&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
            urlencode(bad)
        );
        assert_json_error(&push(&h, &client, &body).await, "invalid_request");
    }
    // A request_uri inside a pushed request (RFC 9126 §2.1).
    let body = request_body("&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax");
    assert_json_error(&push(&h, &client, &body).await, "invalid_request");
    // Scope, response type, PKCE, resource, dpop_jkt, OpenID parameters.
    assert_json_error(
        &push(
            &h,
            &client,
            &request_body("").replace("scope=read", "scope=admin"),
        )
        .await,
        "invalid_scope",
    );
    assert_json_error(
        &push(
            &h,
            &client,
            &request_body("").replace("response_type=code", "response_type=token"),
        )
        .await,
        "unsupported_response_type",
    );
    let no_pkce = format!(
        "response_type=code&redirect_uri={}&scope=read",
        urlencode(REDIRECT)
    );
    assert_json_error(&push(&h, &public, &no_pkce).await, "invalid_request");
    assert_json_error(
        &push(&h, &client, &request_body("").replace("S256", "plain")).await,
        "invalid_request",
    );
    assert_json_error(
        &push(
            &h,
            &client,
            &request_body("&resource=https%3A%2F%2Funknown.example"),
        )
        .await,
        "invalid_target",
    );
    assert_json_error(
        &push(&h, &client, &request_body("&dpop_jkt=short")).await,
        "invalid_request",
    );
    assert_json_error(
        &push(&h, &client, &request_body("&max_age=soon")).await,
        "invalid_request",
    );
    // Too large to seal into a short request_uri.
    let body = request_body(&format!("&nonce={}", "n".repeat(1200)));
    assert_json_error(&push(&h, &client, &body).await, "invalid_request");
}

#[tokio::test]
async fn a_request_uri_is_used_once() {
    let h = harness();
    let client = h.confidential().await;
    let request_uri = pushed(&h, &client).await;
    let query = by_reference(&client, &request_uri);
    // The host's login and consent pages validate the request again: that is not a use.
    let first = authorize(&h.provider, &query).await.unwrap();
    let second = authorize(&h.provider, &query).await.unwrap();
    assert!(approve(&h, first).await.param("code").is_some());
    let refused = approve(&h, second).await;
    assert!(refused.location().starts_with(REDIRECT));
    assert_eq!(
        refused.param("error").as_deref(),
        Some("invalid_request_uri")
    );
    assert_eq!(refused.param("state").as_deref(), Some("s1"));
    assert!(refused.param("code").is_none());
    let third = authorize(&h.provider, &query).await.unwrap();
    assert!(approve(&h, third).await.param("code").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_one_request_uri_give_exactly_one_code() {
    let h = Arc::new(harness());
    let client = h.confidential().await;
    for _ in 0..5 {
        let request_uri = pushed(&h, &client).await;
        let query = by_reference(&client, &request_uri);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let pending = authorize(&h.provider, &query).await.unwrap();
            let h = h.clone();
            tasks.push(tokio::spawn(async move { approve(&h, pending).await }));
        }
        let mut codes = 0;
        for task in tasks {
            let redirect = task.await.unwrap();
            match redirect.param("code") {
                Some(_) => codes += 1,
                None => assert_eq!(
                    redirect.param("error").as_deref(),
                    Some("invalid_request_uri")
                ),
            }
        }
        assert_eq!(codes, 1);
    }
}

#[tokio::test]
async fn an_expired_request_uri_is_refused_at_the_pushed_redirect_uri() {
    let h = harness_with(
        builder()
            .lifetimes(Lifetimes::default().with_pushed_request(time::Duration::seconds(30)))
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let response = push(&h, &client, &request_body("")).await;
    let body = response.json_body().unwrap();
    assert_eq!(body["expires_in"], 30);
    let query = by_reference(&client, body["request_uri"].as_str().unwrap());
    // Validated within its lifetime, approved after it: refused too.
    let pending = authorize(&h.provider, &query).await.unwrap();
    h.clock.advance(time::Duration::seconds(30));
    let refused = approve(&h, pending).await;
    assert_eq!(
        refused.param("error").as_deref(),
        Some("invalid_request_uri")
    );
    match authorize(&h.provider, &query).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_request_uri");
            let redirect = redirect.after_login(&user());
            assert!(redirect.location().starts_with(REDIRECT));
            assert_eq!(redirect.param("state").as_deref(), Some("s1"));
        }
        other => panic!("expected an invalid_request_uri redirect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_uri_belongs_to_its_client_and_this_server() {
    let h = harness();
    let client = h.confidential().await;
    let other = h.confidential().await;
    let request_uri = pushed(&h, &client).await;
    let untrusted = |result: Result<PendingAuthorization, AuthorizeError>| match result {
        Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code.as_str(), "invalid_request_uri");
            assert_eq!(error.status(), 400);
        }
        other => panic!("expected a 400 page, got {other:?}"),
    };
    untrusted(authorize(&h.provider, &by_reference(&other, &request_uri)).await);
    let mut tampered = request_uri.clone();
    tampered.insert(
        40,
        if tampered.as_bytes()[40] == b'A' {
            'B'
        } else {
            'A'
        },
    );
    tampered.remove(41);
    untrusted(authorize(&h.provider, &by_reference(&client, &tampered)).await);
    // A request_uri that is not a pushed request's URN is never fetched (RFC 9101 §6.2).
    match authorize(
        &h.provider,
        &by_reference(&client, "https://evil.example/r"),
    )
    .await
    {
        Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code.as_str(), "request_uri_not_supported");
            assert_eq!(error.status(), 400);
        }
        other => panic!("expected a 400 page, got {other:?}"),
    }
    // Another provider with its own (default, random) secret cannot open it.
    let elsewhere = Provider::builder(config(), h.store.clone())
        .clock(Arc::new(h.clock.clone()))
        .build();
    untrusted(authorize(&elsewhere, &by_reference(&client, &request_uri)).await);
}

#[tokio::test]
async fn instances_given_one_secret_share_pushed_requests_and_their_single_use() {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let instance = |seed| {
        Provider::builder(config(), store.clone())
            .clock(Arc::new(clock.clone()))
            .entropy(Arc::new(SeededEntropy::new(seed)))
            .pushed_requests_secret(&[7; 32])
            .build()
    };
    let (a, b) = (instance(1), instance(2));
    let h = Harness {
        provider: a.clone(),
        clock: clock.clone(),
        store: store.clone(),
    };
    let client = h.confidential().await;
    let request_uri = pushed(&h, &client).await;
    let query = by_reference(&client, &request_uri);
    let at_a = authorize(&a, &query).await.unwrap();
    let at_b = authorize(&b, &query).await.unwrap();
    let scopes = at_b.scopes().clone();
    assert!(
        at_b.approve(&b, user(), &scopes)
            .await
            .param("code")
            .is_some()
    );
    let scopes = at_a.scopes().clone();
    let refused = at_a.approve(&a, user(), &scopes).await;
    assert_eq!(
        refused.param("error").as_deref(),
        Some("invalid_request_uri")
    );
}

#[tokio::test]
async fn when_the_provider_requires_par_a_plain_request_gets_no_code() {
    let h = harness_with(
        builder()
            .require_pushed_authorization_requests(true)
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let plain = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    match authorize(&h.provider, &plain).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            let redirect = redirect.after_login(&user());
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_request"));
            assert!(redirect.param("code").is_none());
        }
        other => panic!("expected an invalid_request redirect, got {other:?}"),
    }
    // With an unregistered redirect URI: the page, not a redirect.
    let evil = plain.replace("client.example", "evil.example");
    assert!(matches!(
        authorize(&h.provider, &evil).await,
        Err(AuthorizeError::Untrusted(_))
    ));
    // Pushed: fine.
    let request_uri = pushed(&h, &client).await;
    let pending = authorize(&h.provider, &by_reference(&client, &request_uri))
        .await
        .unwrap();
    assert!(approve(&h, pending).await.param("code").is_some());
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(metadata["require_pushed_authorization_requests"], true);
    assert_eq!(metadata["pushed_authorization_request_endpoint"], PAR_URL);
}

#[tokio::test]
async fn a_client_can_require_par_for_itself() {
    let h = harness();
    let strict = h
        .register(
            ClientRegistration::new("Strict", REDIRECT)
                .with_auth_method(AuthMethod::None)
                .with_grant_types(vec![GrantType::AuthorizationCode])
                .with_metadata(
                    ClientMetadata::default().with_require_pushed_authorization_requests(true),
                ),
        )
        .await;
    let relaxed = h.public().await;
    let plain = |client: &TestClient| {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            urlencode(REDIRECT)
        )
    };
    match authorize(&h.provider, &plain(&strict)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_request");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(authorize(&h.provider, &plain(&relaxed)).await.is_ok());
    let request_uri = pushed(&h, &strict).await;
    assert!(
        authorize(&h.provider, &by_reference(&strict, &request_uri))
            .await
            .is_ok()
    );
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(metadata["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn dynamic_registration_accepts_require_pushed_authorization_requests() {
    let h = harness();
    let body = serde_json::json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "require_pushed_authorization_requests": true,
    });
    let response = h.provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let registered = response.json_body().unwrap();
    assert_eq!(registered["require_pushed_authorization_requests"], true);
    let id = registered["client_id"].as_str().unwrap();
    let client = h
        .provider
        .client(&tessera::ClientId::new(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(client.metadata.require_pushed_authorization_requests);
    let wrong = serde_json::json!({
        "redirect_uris": [REDIRECT],
        "require_pushed_authorization_requests": "yes",
    });
    let response = h
        .provider
        .register(wrong.to_string().as_bytes(), None)
        .await;
    assert_eq!(error_of(&response), "invalid_client_metadata");
}

#[tokio::test]
async fn a_dpop_proof_at_the_par_endpoint_binds_the_code() {
    let h = harness();
    let client = h.public().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let pushed_with = |proof: String, extra: &str| {
        FormRequest::new(format!("client_id={}&{}", client.id, request_body(extra)).into_bytes())
            .with_dpop(Some(&proof))
    };
    // A proof and a dpop_jkt of another key.
    let other = DpopKey::generate(Algorithm::Es256);
    let proof = key.proof("POST", PAR_URL, NOW, None, None).await;
    let response = h
        .provider
        .pushed_authorization(&pushed_with(proof, &format!("&dpop_jkt={}", other.jkt())))
        .await;
    assert_json_error(&response, "invalid_dpop_proof");
    // A proof for the token endpoint is not one for this one.
    let proof = key
        .proof("POST", "https://auth.example.com/token", NOW, None, None)
        .await;
    let response = h
        .provider
        .pushed_authorization(&pushed_with(proof, ""))
        .await;
    assert_json_error(&response, "invalid_dpop_proof");
    // The proof alone binds the code: redeemed without a proof, it is refused.
    let proof = key.proof("POST", PAR_URL, NOW, None, None).await;
    let response = h
        .provider
        .pushed_authorization(&pushed_with(proof, ""))
        .await;
    assert_eq!(response.status, 201);
    let request_uri = response.json_body().unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = authorize(&h.provider, &by_reference(&client, &request_uri))
        .await
        .unwrap();
    let code = approve(&h, pending).await.param("code").unwrap();
    assert_eq!(
        error_of(&h.exchange_code(&client, &code).await),
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn the_endpoint_is_advertised_and_can_be_left_out() {
    let h = harness();
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(metadata["pushed_authorization_request_endpoint"], PAR_URL);
    assert_eq!(metadata["require_pushed_authorization_requests"], false);

    let without = harness_with(
        builder()
            .endpoints(tessera::Endpoints::default().with_pushed_authorization(None))
            .build()
            .unwrap(),
    );
    let metadata = without.provider.metadata_response().json_body().unwrap();
    assert!(
        metadata
            .get("pushed_authorization_request_endpoint")
            .is_none()
    );
    let client = without.confidential().await;
    assert_json_error(
        &push(&without, &client, &request_body("")).await,
        "invalid_request",
    );
    // Requiring PAR without the endpoint is a contradiction.
    assert!(
        builder()
            .endpoints(tessera::Endpoints::default().with_pushed_authorization(None))
            .require_pushed_authorization_requests(true)
            .build()
            .is_err()
    );
}

/// `prompt=login` and `max_age=0` in a pushed request: a login since the push satisfies them
/// (the host cannot drop them from a sealed request as it does from a query after the login),
/// a session from before the push does not, and a plain request knows no push time.
#[tokio::test]
async fn a_login_after_the_push_satisfies_prompt_login_and_max_age_zero() {
    let h = harness();
    let client = h.confidential().await;
    let before = h.provider.now() - time::Duration::minutes(5);
    let response = push(&h, &client, &request_body("&prompt=login&max_age=0")).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let request_uri = response.json_body().unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clock.advance(time::Duration::seconds(10));
    let pending = authorize(&h.provider, &by_reference(&client, &request_uri))
        .await
        .unwrap();
    assert!(pending.prompt().login);
    assert_eq!(
        pending.pushed_at(),
        Some(h.provider.now() - time::Duration::seconds(10))
    );
    assert!(
        !pending.fresh_login(Some(before)),
        "a session from before the push"
    );
    assert!(pending.needs_login(Some(before), &h.provider));
    assert!(!pending.fresh_login(None));
    assert!(pending.needs_login(None, &h.provider));
    let just_now = h.provider.now();
    assert!(pending.fresh_login(Some(just_now)));
    assert!(
        !pending.needs_login(Some(just_now), &h.provider),
        "max_age=0 met by the new login"
    );
    assert!(approve(&h, pending).await.param("code").is_some());

    let plain = format!(
        "client_id={}&{}",
        client.id,
        request_body("&prompt=login&max_age=0")
    );
    let pending = authorize(&h.provider, &plain).await.unwrap();
    assert_eq!(pending.pushed_at(), None);
    assert!(!pending.fresh_login(Some(just_now)));
    assert!(pending.needs_login(Some(just_now), &h.provider));
}
