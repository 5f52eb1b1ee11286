//! OpenID Connect extras through the public API. Pairwise subject identifiers (Core 1.0
//! §8.1): the registration rules, discovery, and one pairwise `sub` in the ID token,
//! userinfo, a JWT access token, introspection, back-channel logout tokens and
//! `id_token_hint` checks, the same on two instances given the same key. Signed userinfo
//! responses (§5.3.2). The JWT access token algorithm setting (RFC 9068).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::jose::{Algorithm, JwkSet, KeySchedule, KeySet, SigningKey, Typ, UnverifiedJws};
use tessera::store::MemoryStore;
use tessera::testkit::{ManualClock, SeededEntropy};
use tessera::{
    AccessTokenFormat, BearerRequest, ClientMetadata, ClientRegistration, FormRequest, Provider,
    ScopeSet, SubjectType, UserId,
};

const SECRET: [u8; 32] = [42; 32];
static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(11);
const BYE: &str = "https://client.example/bye";

fn keys() -> KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let rs = SigningKey::generate(Algorithm::Rs256)
            .unwrap()
            .with_kid("rs-1")
            .unwrap();
        KeySet::builder(time::Duration::hours(1))
            .key(rs, KeySchedule::always())
            .build()
            .unwrap()
    })
    .clone()
}

/// A provider with JWT access tokens, pairwise subjects when `pairwise`, over `store`.
fn harness_over(store: Arc<MemoryStore>, pairwise: Option<&[u8; 32]>) -> Harness {
    let config = builder()
        .scopes(ScopeSet::parse("openid profile email read").unwrap())
        .access_token_format(AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let mut provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        // Instances sharing a store must not draw the same codes.
        .entropy(Arc::new(SeededEntropy::new(
            SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )))
        .signing_keys(keys());
    if let Some(secret) = pairwise {
        provider = provider.pairwise_subjects(secret);
    }
    Harness {
        provider: provider.build(),
        clock,
        store,
    }
}

fn pairwise_harness() -> Harness {
    harness_over(Arc::new(MemoryStore::new()), Some(&SECRET))
}

fn pairwise(redirect: &str) -> ClientRegistration {
    ClientRegistration::new("Pairwise", redirect).with_metadata(
        ClientMetadata::default()
            .with_subject_type(SubjectType::Pairwise)
            .with_post_logout_redirect_uris(vec![BYE.into()])
            .with_backchannel_logout_uri("https://client.example/bcl"),
    )
}

fn verify(h: &Harness, token: &str, typ: &Typ) -> serde_json::Value {
    let jwks =
        JwkSet::parse(std::str::from_utf8(&h.provider.jwks_response().body).unwrap()).unwrap();
    UnverifiedJws::parse(token)
        .unwrap()
        .verify_with_set(&jwks, typ)
        .unwrap()
        .claims()
        .unwrap()
}

/// The code flow for `client` at `redirect` as alice: the token response.
async fn tokens_at(h: &Harness, client: &TestClient, redirect: &str) -> serde_json::Value {
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid+email&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(redirect)
    );
    let code = h.approve_code(&query).await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(redirect)
    );
    let response = h.token(client, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

/// The `sub` of the ID token `client` gets for alice.
async fn id_token_sub(h: &Harness, client: &TestClient, redirect: &str) -> String {
    let body = tokens_at(h, client, redirect).await;
    let claims = verify(h, body["id_token"].as_str().unwrap(), &Typ::JWT);
    claims["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn discovery_lists_pairwise_only_when_enabled() {
    let doc = |h: &Harness| -> serde_json::Value {
        h.provider
            .openid_configuration_response()
            .json_body()
            .unwrap()
    };
    let public = harness_over(Arc::new(MemoryStore::new()), None);
    assert_eq!(
        doc(&public)["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc(&pairwise_harness())["subject_types_supported"],
        serde_json::json!(["public", "pairwise"])
    );
}

#[tokio::test]
async fn registration_refuses_pairwise_it_cannot_serve() {
    let public = harness_over(Arc::new(MemoryStore::new()), None);
    let refused = public.provider.register_client(pairwise(REDIRECT)).await;
    let error = refused.expect_err("no pairwise key: refused").to_string();
    assert!(error.contains("pairwise"), "{error}");

    let h = pairwise_harness();
    let two_hosts = pairwise(REDIRECT)
        .with_redirect_uris(vec![REDIRECT.into(), "https://other.example/cb".into()]);
    assert!(h.provider.register_client(two_hosts).await.is_err());
    let one_host = pairwise(REDIRECT)
        .with_redirect_uris(vec![REDIRECT.into(), "https://client.example/cb2".into()]);
    let registered = h.provider.register_client(one_host).await.unwrap();
    assert_eq!(
        registered.client.metadata.subject_type,
        Some(SubjectType::Pairwise)
    );

    // Dynamic registration (the wire): subject_type is echoed; sector_identifier_uri and
    // unknown subject types are invalid_client_metadata.
    let register = |extra: &str| {
        format!(
            r#"{{"client_name":"RP","redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"{extra}}}"#
        )
    };
    let accepted = h
        .provider
        .register(register(r#","subject_type":"pairwise""#).as_bytes(), None)
        .await;
    assert_eq!(
        accepted.status,
        201,
        "{}",
        String::from_utf8_lossy(&accepted.body)
    );
    let body: serde_json::Value = accepted.json_body().unwrap();
    assert_eq!(body["subject_type"], "pairwise");
    for refused in [
        r#","subject_type":"pairwise","sector_identifier_uri":"https://client.example/sector.json""#,
        r#","subject_type":"secret""#,
        r#","subject_type":1"#,
        r#","subject_type":"pairwise","redirect_uris":["https://a.example/cb","https://b.example/cb"]"#,
    ] {
        let body = register(refused);
        let answer = h.provider.register(body.as_bytes(), None).await;
        assert_eq!(answer.status, 400, "{refused}");
        let error: serde_json::Value = answer.json_body().unwrap();
        assert_eq!(error["error"], "invalid_client_metadata", "{refused}");
    }
    // Without the key, over the wire too.
    let answer = public
        .provider
        .register(register(r#","subject_type":"pairwise""#).as_bytes(), None)
        .await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn a_pairwise_client_sees_one_sub_everywhere_and_never_the_user_id() {
    let h = pairwise_harness();
    let client = h.register(pairwise(REDIRECT)).await;
    let body = tokens_at(&h, &client, REDIRECT).await;
    let id_token = body["id_token"].as_str().unwrap();
    let sub = verify(&h, id_token, &Typ::JWT)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(sub, "alice");
    assert_eq!(sub.len(), 43, "{sub}");

    // The JWT access token (the client can read it) carries the same sub.
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(verify(&h, access, &Typ::AT_JWT)["sub"], sub.as_str());

    // Userinfo.
    let header = format!("Bearer {access}");
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 200);
    let info: serde_json::Value = response.json_body().unwrap();
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["email"], serde_json::Value::Null, "no claims source");

    // Introspection: the same sub, and no username to undo it.
    let form = FormRequest::new(format!("token={}", urlencode(access)).into_bytes())
        .with_authorization(Some(&client.basic()));
    let introspected: serde_json::Value = h.provider.introspect(&form).await.json_body().unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], sub.as_str());
    assert!(introspected.get("username").is_none(), "{introspected}");

    // The provider's own resources still see the user.
    let principal = h
        .provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .unwrap();
    assert_eq!(principal.user(), Some(&user()));

    // Back-channel logout tokens.
    let notices = h.provider.backchannel_logout(&user()).await.unwrap();
    assert_eq!(notices.len(), 1);
    let logout = verify(&h, &notices[0].logout_token, &Typ::LOGOUT_JWT);
    assert_eq!(logout["sub"], sub.as_str());

    // RP-initiated logout: the hint names alice, though its sub is not her ID.
    let ended = h
        .provider
        .end_session(&params(&format!(
            "id_token_hint={id_token}&post_logout_redirect_uri={}",
            urlencode(BYE)
        )))
        .await
        .unwrap();
    assert_eq!(ended.user, None);
    assert!(ended.hint_names(&h.provider, &user()));
    assert!(!ended.hint_names(&h.provider, &UserId::new("bob")));
    assert!(ended.redirect.is_some());

    // id_token_hint at the authorization endpoint.
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&prompt=none&id_token_hint={id_token}&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    assert_eq!(pending.id_token_hint_user(&h.provider), None);
    assert!(pending.id_token_hint_names(&h.provider, &user()));
    assert!(!pending.id_token_hint_names(&h.provider, &UserId::new("bob")));
}

#[tokio::test]
async fn subs_differ_by_sector_and_not_within_one() {
    let h = pairwise_harness();
    let other_redirect = "https://other.example/cb";
    let a = h.register(pairwise(REDIRECT)).await;
    let same_sector = h
        .register(pairwise("https://client.example/elsewhere"))
        .await;
    let other_sector = h.register(pairwise(other_redirect)).await;
    let public = h.confidential().await;

    let sub_a = id_token_sub(&h, &a, REDIRECT).await;
    let sub_same = id_token_sub(&h, &same_sector, "https://client.example/elsewhere").await;
    let sub_other = id_token_sub(&h, &other_sector, other_redirect).await;
    let sub_public = id_token_sub(&h, &public, REDIRECT).await;
    assert_eq!(sub_a, sub_same, "one sector, one sub");
    assert_ne!(sub_a, sub_other);
    assert_eq!(sub_public, "alice");

    // A public client's hint still gives the user, and names her.
    let body = tokens_at(&h, &public, REDIRECT).await;
    let hint = body["id_token"].as_str().unwrap();
    let ended = h
        .provider
        .end_session(&params(&format!("id_token_hint={hint}")))
        .await
        .unwrap();
    assert_eq!(ended.user, Some(user()));
    assert!(ended.hint_names(&h.provider, &user()));
}

#[tokio::test]
async fn two_instances_with_one_key_agree_and_another_key_does_not() {
    let store = Arc::new(MemoryStore::new());
    let first = harness_over(store.clone(), Some(&SECRET));
    let second = harness_over(store.clone(), Some(&SECRET));
    let client = first.register(pairwise(REDIRECT)).await;
    let sub = id_token_sub(&first, &client, REDIRECT).await;
    assert_eq!(id_token_sub(&second, &client, REDIRECT).await, sub);
    let rekeyed = harness_over(store.clone(), Some(&[1; 32]));
    assert_ne!(id_token_sub(&rekeyed, &client, REDIRECT).await, sub);

    // An instance without the key can't tell a pairwise client its sub: a server error,
    // not the user ID.
    let unkeyed = harness_over(store, None);
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let code = unkeyed.approve_code(&query).await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(REDIRECT)
    );
    let response = unkeyed.token(&client, &body).await;
    assert_eq!(response.status, 500);
    assert!(!String::from_utf8_lossy(&response.body).contains("alice"));
}

#[tokio::test]
async fn a_client_may_ask_for_signed_userinfo_responses() {
    let h = pairwise_harness();
    let doc: serde_json::Value = h
        .provider
        .openid_configuration_response()
        .json_body()
        .unwrap();
    assert_eq!(
        doc["userinfo_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    let client = h
        .register(
            ClientRegistration::new("Signed", REDIRECT).with_metadata(
                ClientMetadata::default().with_userinfo_signed_response_alg("RS256"),
            ),
        )
        .await;
    let body = tokens_at(&h, &client, REDIRECT).await;
    let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/jwt"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let jwt = String::from_utf8(response.body.clone()).unwrap();
    let claims = verify(&h, &jwt, &Typ::JWT);
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iat"], h.provider.now().unix_timestamp());

    // An algorithm the server does not sign with is refused at registration.
    for alg in ["ES256", "none", "HS256"] {
        let refused =
            h.provider
                .register_client(ClientRegistration::new("S", REDIRECT).with_metadata(
                    ClientMetadata::default().with_userinfo_signed_response_alg(alg),
                ))
                .await;
        assert!(refused.is_err(), "{alg}");
    }
    let register = |alg: &str| {
        format!(
            r#"{{"client_name":"RP","redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none","userinfo_signed_response_alg":{alg}}}"#
        )
    };
    let accepted = h
        .provider
        .register(register(r#""RS256""#).as_bytes(), None)
        .await;
    assert_eq!(accepted.status, 201);
    let echoed: serde_json::Value = accepted.json_body().unwrap();
    assert_eq!(echoed["userinfo_signed_response_alg"], "RS256");
    for bad in [r#""none""#, "7"] {
        let answer = h.provider.register(register(bad).as_bytes(), None).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn the_jwt_access_token_algorithm_is_a_setting() {
    let rs = SigningKey::generate(Algorithm::Rs256)
        .unwrap()
        .with_kid("rs")
        .unwrap();
    let es = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("es")
        .unwrap();
    let keys = KeySet::builder(time::Duration::hours(1))
        .key(rs, KeySchedule::always())
        .key(es, KeySchedule::always())
        .build()
        .unwrap();
    let config = builder()
        .scopes(ScopeSet::parse("read").unwrap())
        .access_token_format(AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let with = |alg: Option<Algorithm>| {
        let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
        let store = Arc::new(MemoryStore::new());
        let mut provider = Provider::builder(config.clone(), store.clone())
            .clock(Arc::new(clock.clone()))
            .signing_keys(keys.clone());
        if let Some(alg) = alg {
            provider = provider.jwt_access_token_algorithm(alg);
        }
        Harness {
            provider: provider.build(),
            clock,
            store,
        }
    };
    for (setting, expected) in [
        (None, Algorithm::Rs256),
        (Some(Algorithm::Es256), Algorithm::Es256),
        (Some(Algorithm::Rs256), Algorithm::Rs256),
    ] {
        let h = with(setting);
        let client = h.confidential().await;
        let body = h.tokens(&client, "read").await;
        let token = body["access_token"].as_str().unwrap();
        let parsed = UnverifiedJws::parse(token).unwrap();
        assert_eq!(parsed.header().algorithm(), expected, "{setting:?}");
        verify(&h, token, &Typ::AT_JWT);
    }
    // An algorithm without an active key: a logged server error, no token.
    let h = with(Some(Algorithm::EdDsa));
    let client = h.confidential().await;
    let code = h.code(&client, "read").await;
    let response = h.exchange_code(&client, &code).await;
    assert_eq!(response.status, 500);
    assert!(!String::from_utf8_lossy(&response.body).contains("access_token"));
}

/// Authorization requests of the OpenID Foundation's Basic OP plan that must just work: each
/// returns a code whose ID token verifies (`oidcc-ensure-other-scope-order-succeeds`,
/// `oidcc-display-page`, `oidcc-display-popup`, `oidcc-login-hint`, `oidcc-ui-locales`,
/// `oidcc-claims-locales`, `oidcc-ensure-request-with-acr-values-succeeds`,
/// `oidcc-ensure-request-with-unknown-parameter-succeeds`, `oidcc-scope-all`), and the
/// hints reach the host's page.
#[tokio::test]
async fn basic_op_plan_requests_that_must_succeed() {
    let h = pairwise_harness();
    let client = h.confidential().await;
    for (scope, extra) in [
        ("email openid", ""),
        ("openid", "&display=page"),
        ("openid", "&display=popup"),
        ("openid", "&login_hint=alice%40example.com"),
        ("openid", "&ui_locales=se+en"),
        ("openid", "&claims_locales=se+en"),
        ("openid", "&acr_values=1+2"),
        ("openid", "&extra_param=foo"),
        ("openid profile email", ""),
    ] {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope={}&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
            client.id,
            urlencode(REDIRECT),
            urlencode(scope)
        );
        let pending = h.provider.authorize(&params(&query)).await;
        let pending = pending.unwrap_or_else(|_| panic!("{scope} {extra}: refused"));
        if extra.starts_with("&login_hint") {
            assert_eq!(pending.login_hint(), Some("alice@example.com"));
        }
        if extra.starts_with("&ui_locales") {
            assert_eq!(pending.ui_locales(), Some("se en"));
        }
        if extra.starts_with("&acr_values") {
            assert_eq!(pending.acr_values(), Some("1 2"));
        }
        let scopes = pending.scopes().clone();
        assert!(scopes.contains("openid"), "{scope}");
        let code = pending
            .approve(&h.provider, user(), &scopes)
            .await
            .param("code")
            .unwrap_or_else(|| panic!("{scope} {extra}: no code"));
        let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
        let claims = verify(&h, body["id_token"].as_str().unwrap(), &Typ::JWT);
        assert_eq!(claims["nonce"], "n", "{scope} {extra}");
    }
}

/// `oidcc-response-type-missing`: without `response_type`, the error goes back to the
/// registered redirect URI (the client and URI are known), with `state`.
#[tokio::test]
async fn a_missing_response_type_is_an_error_at_the_redirect_uri() {
    let h = pairwise_harness();
    let client = h.confidential().await;
    let query = format!(
        "client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let refused = h
        .provider
        .authorize(&params(&query))
        .await
        .expect_err("refused");
    let redirect = refused
        .after_login(&user())
        .unwrap_or_else(|_| panic!("not redirected"));
    assert!(redirect.location().starts_with(REDIRECT));
    let error = redirect.param("error").unwrap();
    assert!(
        error == "invalid_request" || error == "unsupported_response_type",
        "{error}"
    );
    assert_eq!(redirect.param("state").as_deref(), Some("s"));
    assert!(redirect.param("code").is_none());
}

/// `oidcc-ensure-redirect-uri-in-authorization-request`: an OpenID Connect request without
/// `redirect_uri` is shown, never redirected, even for a client with one registered URI
/// (OIDC Core §3.1.2.1); a plain OAuth request may still omit it.
#[tokio::test]
async fn an_openid_request_without_redirect_uri_is_shown_not_redirected() {
    let h = pairwise_harness();
    let client = h.confidential().await;
    let query = |scope: &str| {
        format!(
            "response_type=code&client_id={}&scope={scope}&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id
        )
    };
    match h.provider.authorize(&params(&query("openid+email"))).await {
        Err(tessera::AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code.as_str(), "invalid_request");
        }
        other => panic!("not shown: {other:?}"),
    }
    let pending = h.provider.authorize(&params(&query("read"))).await.unwrap();
    assert_eq!(pending.redirect_uri().as_str(), REDIRECT);
}
