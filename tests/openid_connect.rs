//! OpenID Connect (Core 1.0, Discovery 1.0) through the public API: ID tokens on the code
//! flow and on refresh (keeping the original authentication), the PKCE-or-nonce rule,
//! `prompt` and `max_age`, the `claims` parameter (both members, across refreshes),
//! userinfo, the JWK Set and discovery. The ID tokens are verified with the
//! published JWK Set only, as a relying party would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::jose::{Algorithm, JwkSet, KeySchedule, KeySet, SigningKey, Typ, UnverifiedJws};
use tessera::oidc::{ClaimsRequest, ClaimsSource, UserClaims};
use tessera::store::{Authentication, MemoryStore};
use tessera::testkit::{ManualClock, SeededEntropy};
use tessera::{
    AuthMethod, AuthorizeError, BearerRequest, ClientMetadata, ClientRegistration, Config,
    GrantType, Interaction, Provider, ScopeSet, StoreError, UserId, async_trait,
};

#[derive(Debug)]
struct Directory;

#[async_trait]
impl ClaimsSource for Directory {
    async fn claims(&self, request: &ClaimsRequest<'_>) -> Result<Option<UserClaims>, StoreError> {
        Ok((request.user.as_str() == "alice").then(|| {
            UserClaims::new()
                .with_string("name", "Alice Example")
                .with_string("preferred_username", "alice")
                .with_string("email", "alice@example.com")
                .with_bool("email_verified", true)
                .with_string("phone_number", "+31 20 123 4567")
                // A source cannot forge what the provider writes.
                .with_string("iss", "https://evil.example")
                .with_string("nonce", "forged")
        }))
    }
}

fn keys() -> KeySet {
    static KEYS: std::sync::OnceLock<KeySet> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let rs = SigningKey::generate(Algorithm::Rs256)
            .unwrap()
            .with_kid("rs-1")
            .unwrap();
        let es = SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("es-1")
            .unwrap();
        KeySet::builder(time::Duration::hours(1))
            .key(rs, KeySchedule::always())
            .key(es, KeySchedule::always())
            .build()
            .unwrap()
    })
    .clone()
}

fn oidc_harness() -> Harness {
    oidc_harness_with(|config| config)
}

/// As [`oidc_harness`], with `configure` applied to its configuration.
fn oidc_harness_with(
    configure: impl FnOnce(tessera::ConfigBuilder) -> tessera::ConfigBuilder,
) -> Harness {
    let config = configure(
        builder()
            .scopes(ScopeSet::parse("openid profile email phone read offline_access").unwrap()),
    )
    .build()
    .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(7)))
        .signing_keys(keys())
        .claims_source(Arc::new(Directory))
        .build();
    Harness {
        provider,
        clock,
        store,
    }
}

fn query(client: &TestClient, scope: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&state=st{extra}",
        client.id,
        urlencode(REDIRECT),
        urlencode(scope)
    )
}

const PKCE: &str =
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

/// Approves `query` as alice, authenticated at `auth_time`; returns the redirect.
async fn approve(h: &Harness, query: &str, auth_time: time::OffsetDateTime) -> tessera::Redirect {
    let pending = h.provider.authorize(&params(query)).await.unwrap();
    let scopes = pending.scopes().clone();
    let authentication = Authentication::new(auth_time)
        .with_acr("urn:example:pwd")
        .with_amr(vec!["pwd".into()]);
    pending
        .approve_authenticated(&h.provider, user(), &scopes, authentication)
        .await
}

/// The verified claims of an ID token, checked against the JWK Set the provider publishes.
fn verify(h: &Harness, id_token: &str) -> serde_json::Value {
    let jwks =
        JwkSet::parse(std::str::from_utf8(&h.provider.jwks_response().body).unwrap()).unwrap();
    let verified = UnverifiedJws::parse(id_token)
        .unwrap()
        .verify_with_set(&jwks, &Typ::JWT)
        .unwrap();
    verified.claims().unwrap()
}

#[tokio::test]
async fn the_code_flow_returns_a_verifiable_id_token() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let auth_time = h.provider.now() - time::Duration::minutes(3);
    let code = approve(
        &h,
        &query(
            &client,
            "openid profile email",
            &format!("&nonce=n-0S6{PKCE}"),
        ),
        auth_time,
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let id_token = body["id_token"].as_str().expect("an id_token");
    let header = UnverifiedJws::parse(id_token).unwrap();
    assert_eq!(header.header().algorithm(), Algorithm::Rs256);
    assert_eq!(header.header().kid(), Some("rs-1"));
    let claims = verify(&h, id_token);
    let now = h.provider.now().unix_timestamp();
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 600);
    assert_eq!(claims["auth_time"], auth_time.unix_timestamp());
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["acr"], "urn:example:pwd");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email_verified"], true);
    // Not released by these scopes, and the source's forgeries are ignored.
    assert!(claims.get("phone_number").is_none());
    // at_hash: the left half of SHA-256 of the access token.
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(body["access_token"].as_str().unwrap().as_bytes());
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(claims["at_hash"], expected.as_str());
}

#[tokio::test]
async fn without_openid_there_is_no_id_token() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let body = h.tokens(&client, "read").await;
    assert!(body.get("id_token").is_none());
    // And userinfo refuses the token: 403 insufficient_scope.
    let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 403);
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
}

#[tokio::test]
async fn userinfo_returns_the_claims_the_scopes_release() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let body = h.tokens(&client, "openid email").await;
    let token = body["access_token"].as_str().unwrap();
    let header = format!("Bearer {token}");
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 200);
    let info: serde_json::Value = response.json_body().unwrap();
    assert_eq!(
        info,
        serde_json::json!({"sub": "alice", "email": "alice@example.com", "email_verified": true})
    );
    // POST with the token in a form body (RFC 6750 §2.2) answers the same.
    let form = format!("access_token={token}");
    let response = h
        .provider
        .userinfo(&BearerRequest::new(None, None, Some(form.as_bytes())))
        .await;
    assert_eq!(response.json_body().unwrap(), info);
    // No token, a bad token: 401 with a challenge.
    let response = h.provider.userinfo(&BearerRequest::default()).await;
    assert_eq!(response.status, 401);
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let response = h
        .provider
        .userinfo(&BearerRequest::header("Bearer tsr_at_nope"))
        .await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn the_claims_parameter_is_checked_and_honoured() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let asked = urlencode(r#"{"id_token":{"phone_number":{"essential":true}}}"#);
    let code = approve(
        &h,
        &query(&client, "openid", &format!("&claims={asked}{PKCE}")),
        h.provider.now(),
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let claims = verify(&h, body["id_token"].as_str().unwrap());
    assert_eq!(claims["phone_number"], "+31 20 123 4567");
    assert!(claims.get("email").is_none());
    // Malformed: redirected invalid_request, once the user signed in.
    let bad = urlencode(r#"{"id_token":{"email":1}}"#);
    match h
        .provider
        .authorize(&params(&query(
            &client,
            "openid",
            &format!("&claims={bad}{PKCE}"),
        )))
        .await
    {
        Err(AuthorizeError::Redirect(redirect)) => {
            let redirect = redirect.after_login(&user());
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_request"));
            assert_eq!(redirect.param("state").as_deref(), Some("st"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn pkce_or_a_nonce_for_confidential_clients_and_pkce_always_for_public_ones() {
    let h = oidc_harness();
    let confidential = h.confidential().await;
    // A nonce with openid replaces PKCE for a confidential client...
    let code = approve(
        &h,
        &query(&confidential, "openid", "&nonce=abc"),
        h.provider.now(),
    )
    .await
    .param("code")
    .unwrap();
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        urlencode(REDIRECT)
    );
    let response = h.token(&confidential, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let claims = verify(
        &h,
        response.json_body().unwrap()["id_token"].as_str().unwrap(),
    );
    assert_eq!(claims["nonce"], "abc");
    // ...but not without openid, nor without the nonce, nor for a public client.
    let public = h.public().await;
    for (client, query) in [
        (&confidential, query(&confidential, "read", "&nonce=abc")),
        (&confidential, query(&confidential, "openid", "")),
        (&public, query(&public, "openid", "&nonce=abc")),
    ] {
        let _ = client;
        match h.provider.authorize(&params(&query)).await {
            Err(AuthorizeError::Redirect(redirect)) => {
                assert_eq!(redirect.error().code.as_str(), "invalid_request", "{query}");
            }
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn prompt_none_and_max_age() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let pending = h
        .provider
        .authorize(&params(&query(
            &client,
            "openid",
            &format!("&prompt=none{PKCE}"),
        )))
        .await
        .unwrap();
    assert!(pending.prompt().none);
    let redirect = pending.interaction_required(&h.provider, Interaction::Login);
    assert!(redirect.location().starts_with(REDIRECT));
    assert_eq!(redirect.param("error").as_deref(), Some("login_required"));
    assert_eq!(redirect.param("state").as_deref(), Some("st"));
    assert_eq!(
        redirect.param("iss").as_deref(),
        Some("https://auth.example.com")
    );
    // prompt=none with another value, or an unknown one: invalid_request.
    for bad in ["none%20login", "sometimes"] {
        let refused = h
            .provider
            .authorize(&params(&query(
                &client,
                "openid",
                &format!("&prompt={bad}{PKCE}"),
            )))
            .await;
        assert!(
            matches!(refused, Err(AuthorizeError::Redirect(r)) if r.error().code.as_str() == "invalid_request")
        );
    }
    // max_age: a login older than that must be repeated.
    let q = query(
        &client,
        "openid",
        &format!("&max_age=60&login_hint=alice%40example.com&ui_locales=nl{PKCE}"),
    );
    let pending = h.provider.authorize(&params(&q)).await.unwrap();
    assert_eq!(pending.max_age(), Some(time::Duration::seconds(60)));
    assert_eq!(pending.login_hint(), Some("alice@example.com"));
    assert_eq!(pending.ui_locales(), Some("nl"));
    let old = h.provider.now() - time::Duration::seconds(61);
    assert!(pending.needs_login(Some(old), &h.provider));
    assert!(!pending.needs_login(Some(h.provider.now()), &h.provider));
    // max_age=0 always asks for a login (OIDC Core §3.1.2.1: it is prompt=login).
    let zero = h
        .provider
        .authorize(&params(&query(
            &client,
            "openid",
            &format!("&max_age=0{PKCE}"),
        )))
        .await
        .unwrap();
    assert!(zero.needs_login(Some(h.provider.now()), &h.provider));
    assert!(pending.needs_login(None, &h.provider));
    let fresh = h.provider.now() - time::Duration::seconds(5);
    let code = approve(&h, &q, fresh).await.param("code").unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    assert_eq!(
        verify(&h, body["id_token"].as_str().unwrap())["auth_time"],
        fresh.unix_timestamp()
    );
    // A negative max_age is refused.
    let refused = h
        .provider
        .authorize(&params(&query(
            &client,
            "openid",
            &format!("&max_age=-1{PKCE}"),
        )))
        .await;
    assert!(matches!(refused, Err(AuthorizeError::Redirect(_))));
}

/// `grant_type=refresh_token` with `refresh_token`, and more (`&scope=...`); the answer's
/// body, which must be a success.
async fn refresh(h: &Harness, client: &TestClient, token: &str, extra: &str) -> serde_json::Value {
    let body = format!("grant_type=refresh_token&refresh_token={token}{extra}");
    let response = h.token(client, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

/// The userinfo answer (JSON) for an access token.
async fn userinfo(h: &Harness, access_token: &str) -> serde_json::Value {
    let header = format!("Bearer {access_token}");
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 200);
    response.json_body().unwrap()
}

/// OIDC Core §12.2: a refreshed ID token keeps `iss`, `sub`, `aud` and the original
/// authentication's `auth_time`, `acr` and `amr`; its `iat` is new and it has no `nonce`.
/// Twice, so that the rotated successor keeps the authentication too.
#[tokio::test]
async fn a_refreshed_id_token_keeps_the_original_authentication_and_has_no_nonce() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let auth_time = h.provider.now() - time::Duration::minutes(5);
    let code = approve(
        &h,
        &query(
            &client,
            "openid offline_access",
            &format!("&nonce=n1{PKCE}"),
        ),
        auth_time,
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let first = verify(&h, body["id_token"].as_str().unwrap());
    assert_eq!(first["nonce"], "n1");
    let mut refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        h.clock.advance(time::Duration::minutes(1));
        let refreshed = refresh(&h, &client, &refresh_token, "").await;
        let claims = verify(
            &h,
            refreshed["id_token"]
                .as_str()
                .expect("a refreshed id_token"),
        );
        for kept in ["iss", "sub", "aud", "auth_time", "acr", "amr"] {
            assert_eq!(claims[kept], first[kept], "{kept}");
        }
        assert_eq!(claims["auth_time"], auth_time.unix_timestamp());
        assert_eq!(claims["acr"], "urn:example:pwd");
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert_eq!(claims["iat"], h.provider.now().unix_timestamp());
        assert_ne!(claims["iat"], first["iat"]);
        assert!(claims.get("nonce").is_none());
        let next = refreshed["refresh_token"].as_str().expect("rotated");
        assert_ne!(next, refresh_token);
        refresh_token = next.to_owned();
    }
}

/// Without rotation the refresh token is used again as it is, and keeps the authentication.
#[tokio::test]
async fn without_rotation_a_refreshed_id_token_keeps_the_original_authentication() {
    let h = oidc_harness_with(|config| config.rotate_refresh_tokens(false));
    let client = h.confidential().await;
    let auth_time = h.provider.now() - time::Duration::minutes(2);
    let asked = urlencode(r#"{"userinfo":{"phone_number":null}}"#);
    let code = approve(
        &h,
        &query(
            &client,
            "openid offline_access",
            &format!("&claims={asked}{PKCE}"),
        ),
        auth_time,
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let refresh_token = body["refresh_token"].as_str().unwrap();
    for _ in 0..2 {
        h.clock.advance(time::Duration::minutes(1));
        let refreshed = refresh(&h, &client, refresh_token, "").await;
        assert!(refreshed.get("refresh_token").is_none(), "not rotated");
        let claims = verify(&h, refreshed["id_token"].as_str().unwrap());
        assert_eq!(claims["auth_time"], auth_time.unix_timestamp());
        assert_eq!(claims["acr"], "urn:example:pwd");
        assert!(claims.get("phone_number").is_none());
        let info = userinfo(&h, refreshed["access_token"].as_str().unwrap()).await;
        assert_eq!(info["phone_number"], "+31 20 123 4567");
    }
}

/// OIDC Core §5.5: what the `userinfo` member asks for is at userinfo and not in the ID
/// token, what the `id_token` member asks for the other way round (`essential` and `values`
/// changing nothing), beyond the scopes (here none that release claims); and both hold for
/// the tokens of every refresh, a refresh narrowed to drop `openid` included.
#[tokio::test]
async fn the_userinfo_member_of_the_claims_parameter_is_honoured_and_survives_refreshes() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let asked = urlencode(
        r#"{"userinfo":{"phone_number":null,"name":{"essential":true}},"id_token":{"preferred_username":{"values":["alice"]}}}"#,
    );
    let code = approve(
        &h,
        &query(
            &client,
            "openid offline_access",
            &format!("&claims={asked}{PKCE}"),
        ),
        h.provider.now(),
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let at_userinfo = serde_json::json!({
        "sub": "alice",
        "phone_number": "+31 20 123 4567",
        "name": "Alice Example",
    });
    let check = |id_token: &str| {
        let claims = verify(&h, id_token);
        assert_eq!(claims["preferred_username"], "alice");
        assert!(claims.get("phone_number").is_none());
        assert!(claims.get("name").is_none());
    };
    check(body["id_token"].as_str().unwrap());
    assert_eq!(
        userinfo(&h, body["access_token"].as_str().unwrap()).await,
        at_userinfo
    );
    let mut refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let refreshed = refresh(&h, &client, &refresh_token, "").await;
        check(refreshed["id_token"].as_str().unwrap());
        assert_eq!(
            userinfo(&h, refreshed["access_token"].as_str().unwrap()).await,
            at_userinfo
        );
        refresh_token = refreshed["refresh_token"].as_str().unwrap().to_owned();
    }
    // A refresh without `openid`: no ID token, no userinfo; the next one with the grant's
    // scopes has both again, with what the claims request asked for.
    let narrowed = refresh(&h, &client, &refresh_token, "&scope=offline_access").await;
    assert!(narrowed.get("id_token").is_none());
    let header = format!("Bearer {}", narrowed["access_token"].as_str().unwrap());
    let refused = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(refused.status, 403);
    let again = refresh(&h, &client, narrowed["refresh_token"].as_str().unwrap(), "").await;
    check(again["id_token"].as_str().unwrap());
    assert_eq!(
        userinfo(&h, again["access_token"].as_str().unwrap()).await,
        at_userinfo
    );

    // Without a claims request, the same scopes release nothing beyond `sub`.
    let plain = h.tokens(&client, "openid").await;
    assert_eq!(
        userinfo(&h, plain["access_token"].as_str().unwrap()).await,
        serde_json::json!({"sub": "alice"})
    );
}

/// The `userinfo` member is honoured in signed userinfo responses (OIDC Core §5.3.2) too.
#[tokio::test]
async fn signed_userinfo_has_the_claims_the_userinfo_member_asks_for() {
    let h = oidc_harness();
    let client = h
        .register(
            ClientRegistration::new("Signed", REDIRECT).with_metadata(
                ClientMetadata::default().with_userinfo_signed_response_alg("RS256"),
            ),
        )
        .await;
    let asked = urlencode(r#"{"userinfo":{"email":null},"id_token":{"name":null}}"#);
    let code = approve(
        &h,
        &query(&client, "openid", &format!("&claims={asked}{PKCE}")),
        h.provider.now(),
    )
    .await
    .param("code")
    .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let response = h.provider.userinfo(&BearerRequest::header(&header)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/jwt"));
    let claims = verify(&h, std::str::from_utf8(&response.body).unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims.get("name").is_none());
    assert!(claims.get("email_verified").is_none());
}

#[tokio::test]
async fn a_client_may_register_its_id_token_algorithm() {
    let h = oidc_harness();
    let client = h
        .register(
            ClientRegistration::new("ES", REDIRECT).with_metadata(
                ClientMetadata::default().with_id_token_signed_response_alg("ES256"),
            ),
        )
        .await;
    let code = approve(&h, &query(&client, "openid", PKCE), h.provider.now())
        .await
        .param("code")
        .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(
        UnverifiedJws::parse(id_token).unwrap().header().algorithm(),
        Algorithm::Es256
    );
    assert_eq!(verify(&h, id_token)["sub"], "alice");
    // `none`, or anything unknown, is refused at registration.
    let registered = h
        .provider
        .register_client(
            ClientRegistration::new("None", REDIRECT)
                .with_metadata(ClientMetadata::default().with_id_token_signed_response_alg("none")),
        )
        .await;
    assert!(registered.is_err());
    // EdDSA is a valid name, but no key of this provider signs with it: refused now rather
    // than a server_error at every token request.
    let registered =
        h.provider
            .register_client(ClientRegistration::new("Ed", REDIRECT).with_metadata(
                ClientMetadata::default().with_id_token_signed_response_alg("EdDSA"),
            ))
            .await;
    assert!(
        matches!(registered, Err(tessera::AdminError::InvalidMetadata(_))),
        "{registered:?}"
    );
}

#[tokio::test]
async fn discovery_and_the_jwk_set() {
    let h = oidc_harness();
    let oauth: serde_json::Value = h.provider.metadata_response().json_body().unwrap();
    let oidc: serde_json::Value = h
        .provider
        .openid_configuration_response()
        .json_body()
        .unwrap();
    assert_eq!(oauth, oidc);
    assert_eq!(oidc["issuer"], "https://auth.example.com");
    assert_eq!(oidc["jwks_uri"], "https://auth.example.com/jwks");
    assert_eq!(
        oidc["userinfo_endpoint"],
        "https://auth.example.com/userinfo"
    );
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    assert_eq!(oidc["request_uri_parameter_supported"], false);
    let scopes = oidc["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&"openid".into()));
    let claims = oidc["claims_supported"].as_array().unwrap();
    for claim in [
        "sub",
        "name",
        "preferred_username",
        "email",
        "email_verified",
    ] {
        assert!(claims.contains(&claim.into()), "{claim}");
    }
    let jwks: serde_json::Value = h.provider.jwks_response().json_body().unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string() && key["alg"].is_string());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} published");
        }
    }
    assert!(
        h.provider
            .jwks_response()
            .header("cache-control")
            .unwrap()
            .starts_with("public")
    );
    // Without keys: no OpenID members, no jwks_uri.
    let plain = harness();
    let doc: serde_json::Value = plain.provider.metadata_response().json_body().unwrap();
    assert!(doc.get("jwks_uri").is_none() && doc.get("userinfo_endpoint").is_none());
}

#[tokio::test]
async fn the_openid_scope_without_keys_is_a_server_error_not_a_panic() {
    let config = Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("openid").unwrap())
        .grant_types([GrantType::AuthorizationCode])
        .danger(Danger::new().open_registration())
        .build()
        .unwrap();
    let h = harness_with(config);
    let client = h
        .register(
            ClientRegistration::new("C", REDIRECT).with_auth_method(AuthMethod::ClientSecretBasic),
        )
        .await;
    let code = h.approve_code(&query(&client, "openid", PKCE)).await;
    let response = h.exchange_code(&client, &code).await;
    assert_eq!(response.status, 500);
    assert_eq!(error_of(&response), "server_error");
    let _ = UserId::new("x");
}

#[tokio::test]
async fn rp_initiated_logout_checks_the_hint_and_the_registered_uri() {
    let h = oidc_harness();
    let bye = "https://client.example/bye";
    let client = h
        .register(ClientRegistration::new("L", REDIRECT).with_metadata(
            ClientMetadata::default().with_post_logout_redirect_uris(vec![bye.into()]),
        ))
        .await;
    let code = approve(&h, &query(&client, "openid", PKCE), h.provider.now())
        .await
        .param("code")
        .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let hint = body["id_token"].as_str().unwrap();
    let logout = |extra: &str| params(&format!("id_token_hint={hint}{extra}"));
    let ended = h
        .provider
        .end_session(&logout(&format!(
            "&post_logout_redirect_uri={}&state=s",
            urlencode(bye)
        )))
        .await
        .unwrap();
    assert_eq!(ended.user, Some(user()));
    assert_eq!(
        ended.client_id.as_ref().map(|c| c.as_str()),
        Some(client.id.as_str())
    );
    let redirect = ended.redirect.expect("a redirect");
    assert!(redirect.location().starts_with(bye));
    assert_eq!(redirect.param("state").as_deref(), Some("s"));
    // Without a URI: no redirect (the host shows its own page).
    assert!(
        h.provider
            .end_session(&logout(""))
            .await
            .unwrap()
            .redirect
            .is_none()
    );
    // Refused, never redirected: an unregistered URI, another client_id, a forged or
    // foreign hint, a URI with no client named.
    let other = h.confidential().await;
    for refused in [
        logout(&format!(
            "&post_logout_redirect_uri={}",
            urlencode("https://client.example/bye2")
        )),
        logout(&format!("&client_id={}", other.id)),
        params(&format!("id_token_hint={}", tamper(hint))),
        params(&format!("post_logout_redirect_uri={}", urlencode(bye))),
    ] {
        assert!(
            h.provider.end_session(&refused).await.is_err(),
            "{refused:?}"
        );
    }
    let foreign = oidc_harness_with_other_keys();
    assert!(foreign.provider.end_session(&logout("")).await.is_err());
    // Registration checks the URIs.
    let bad = h
        .provider
        .register_client(
            ClientRegistration::new("B", REDIRECT).with_metadata(
                ClientMetadata::default()
                    .with_post_logout_redirect_uris(vec!["javascript:alert(1)".into()]),
            ),
        )
        .await;
    assert!(bad.is_err());
}

fn oidc_harness_with_other_keys() -> Harness {
    let config = builder()
        .scopes(ScopeSet::parse("openid").unwrap())
        .build()
        .unwrap();
    let keys = KeySet::builder(time::Duration::hours(1))
        .key(
            SigningKey::generate(Algorithm::Es256)
                .unwrap()
                .with_kid("rs-1")
                .unwrap(),
            KeySchedule::always(),
        )
        .build()
        .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .signing_keys(keys)
        .build();
    Harness {
        provider,
        clock,
        store,
    }
}

#[tokio::test]
async fn the_device_flow_returns_an_id_token_with_openid() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let request = tessera::FormRequest::new(b"scope=openid%20email".to_vec())
        .with_authorization(Some(&client.basic()));
    let start: serde_json::Value = h
        .provider
        .device_authorization(&request)
        .await
        .json_body()
        .unwrap();
    let pending = h
        .provider
        .device_verification(
            start["user_code"].as_str().unwrap(),
            &tessera::DeviceAttempt::new(&user()),
        )
        .await
        .unwrap();
    let scopes = pending.scopes().clone();
    assert!(pending.approve(&h.provider, user(), &scopes).await.unwrap());
    h.clock.advance(time::Duration::seconds(5));
    let body = format!(
        "grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code={}",
        start["device_code"].as_str().unwrap()
    );
    let tokens: serde_json::Value = h.token(&client, &body).await.json_body().unwrap();
    let claims = verify(&h, tokens["id_token"].as_str().expect("an id_token"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn an_id_token_hint_names_its_user_only_if_it_is_ours_and_for_the_client() {
    let h = oidc_harness();
    let client = h.confidential().await;
    let code = approve(&h, &query(&client, "openid", PKCE), h.provider.now())
        .await
        .param("code")
        .unwrap();
    let body: serde_json::Value = h.exchange_code(&client, &code).await.json_body().unwrap();
    let hint = body["id_token"].as_str().unwrap();
    // Expired hints still name their user.
    h.clock.advance(time::Duration::hours(1));
    let asked = |client: &TestClient, hint: &str| {
        query(
            client,
            "openid",
            &format!("&prompt=none&id_token_hint={hint}{PKCE}"),
        )
    };
    let pending = h
        .provider
        .authorize(&params(&asked(&client, hint)))
        .await
        .unwrap();
    assert_eq!(pending.id_token_hint(), Some(hint));
    assert_eq!(pending.id_token_hint_user(&h.provider), Some(user()));
    // Another client's request, or a tampered token: no user.
    let other = h.confidential().await;
    let pending = h
        .provider
        .authorize(&params(&asked(&other, hint)))
        .await
        .unwrap();
    assert_eq!(pending.id_token_hint_user(&h.provider), None);
    let tampered = tamper(hint);
    let pending = h
        .provider
        .authorize(&params(&asked(&client, &tampered)))
        .await
        .unwrap();
    assert_eq!(pending.id_token_hint_user(&h.provider), None);
}

/// `token` with its last character changed (so never the same token).
fn tamper(token: &str) -> String {
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    format!("{}{last}", &token[..token.len() - 1])
}

/// Two provider instances given the same keys (the same PEM, the same schedules) over one
/// store agree on the JWK Set at every instant of a rotation: the next key is published before
/// either signs with it, a token one instance signed verifies with the other's JWK Set, and the
/// retired key stays published until every token it signed has expired (the key set's token
/// lifetime), then leaves both sets at once.
#[tokio::test]
async fn a_key_rotation_is_the_same_on_two_instances_sharing_a_store() {
    let start = time::macros::datetime!(2030-01-01 00:00 UTC);
    let switch = start + time::Duration::days(2);
    let old = SigningKey::generate(Algorithm::Rs256)
        .unwrap()
        .with_kid("old")
        .unwrap()
        .to_pkcs8_pem()
        .unwrap();
    let new = SigningKey::generate(Algorithm::Rs256)
        .unwrap()
        .with_kid("new")
        .unwrap()
        .to_pkcs8_pem()
        .unwrap();
    // What each instance's configuration does: read the PEM files, apply the one schedule.
    let key_set = || {
        KeySet::builder(time::Duration::hours(1))
            .publish_lead(time::Duration::days(1))
            .key(
                SigningKey::from_pkcs8_pem(&old)
                    .unwrap()
                    .with_kid("old")
                    .unwrap(),
                KeySchedule::always(),
            )
            .key(
                SigningKey::from_pkcs8_pem(&new)
                    .unwrap()
                    .with_kid("new")
                    .unwrap(),
                KeySchedule::active_from(switch.unix_timestamp()),
            )
            .build()
            .unwrap()
    };
    let store = Arc::new(MemoryStore::new());
    let instance = || {
        let config = builder()
            .scopes(ScopeSet::parse("openid profile").unwrap())
            .build()
            .unwrap();
        let clock = ManualClock::new(start);
        let provider = Provider::builder(config, store.clone())
            .clock(Arc::new(clock.clone()))
            .signing_keys(key_set())
            .claims_source(Arc::new(Directory))
            .build();
        Harness {
            provider,
            clock,
            store: store.clone(),
        }
    };
    async fn id_token_from(h: &Harness, client: &TestClient) -> String {
        let q = query(client, "openid", &format!("&nonce=n{PKCE}"));
        let code = approve(h, &q, h.provider.now())
            .await
            .param("code")
            .unwrap();
        let body: serde_json::Value = h.exchange_code(client, &code).await.json_body().unwrap();
        body["id_token"].as_str().unwrap().to_owned()
    }
    let (a, b) = (instance(), instance());
    let client = a.confidential().await;
    let advance = |by: time::Duration| {
        a.clock.advance(by);
        b.clock.advance(by);
    };
    let kids = |h: &Harness| -> Vec<String> {
        let jwks: serde_json::Value =
            serde_json::from_slice(&h.provider.jwks_response().body).unwrap();
        let mut kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    };
    let kid_of = |token: &str| {
        UnverifiedJws::parse(token)
            .unwrap()
            .header()
            .kid()
            .unwrap()
            .to_owned()
    };

    // Day 0: only the active key is published.
    assert_eq!(kids(&a), ["old"]);
    assert_eq!(kids(&a), kids(&b));
    // Day 1 and a minute: the next key is published, not used.
    advance(time::Duration::days(1) + time::Duration::minutes(1));
    assert_eq!(kids(&a), ["new", "old"]);
    assert_eq!(kids(&a), kids(&b));
    let before = id_token_from(&a, &client).await;
    assert_eq!(kid_of(&before), "old");
    // Day 2: both sign with the new key; each verifies the other's tokens.
    advance(time::Duration::days(1));
    let after = id_token_from(&b, &client).await;
    assert_eq!(kid_of(&after), "new");
    assert_eq!(kid_of(&id_token_from(&a, &client).await), "new");
    assert_eq!(kids(&a), kids(&b));
    assert_eq!(verify(&a, &after)["aud"], client.id.as_str());
    assert_eq!(verify(&b, &before)["aud"], client.id.as_str());
    // An hour after the switch (the key set's token lifetime), the old key is gone from both.
    advance(time::Duration::minutes(58));
    assert_eq!(kids(&a), ["new", "old"]);
    advance(time::Duration::minutes(2));
    assert_eq!(kids(&a), ["new"]);
    assert_eq!(kids(&a), kids(&b));
}

/// Back-channel logout: one logout token per relying party the user signed in to (consent
/// with `openid`) that registered a `backchannel_logout_uri`, verifiable with the JWK Set,
/// typed `logout+jwt`, with the claims §2.4 requires and no `nonce`.
#[tokio::test]
async fn backchannel_logout_signs_one_logout_token_per_relying_party_that_asked() {
    let h = oidc_harness();
    let with_uri = |name: &str, uri: &str| {
        ClientRegistration::new(name, REDIRECT)
            .with_metadata(ClientMetadata::default().with_backchannel_logout_uri(uri))
    };
    let rp = h
        .register(with_uri("RP", "https://rp.example/logout?x=1"))
        .await;
    let plain_oauth = h
        .register(with_uri("API client", "https://api.example/logout"))
        .await;
    let silent = h.confidential().await;
    for (client, scope) in [
        (&rp, "openid profile"),
        (&plain_oauth, "read"),
        (&silent, "openid"),
    ] {
        let code = approve(
            &h,
            &query(client, scope, &format!("&nonce=n{PKCE}")),
            h.provider.now(),
        )
        .await
        .param("code")
        .unwrap();
        assert_eq!(h.exchange_code(client, &code).await.status, 200);
    }

    let notices = h.provider.backchannel_logout(&user()).await.unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let notice = &notices[0];
    assert_eq!(notice.client_id.as_str(), rp.id);
    assert_eq!(notice.uri, "https://rp.example/logout?x=1");
    let body = notice.form_body();
    let sent: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        sent,
        [("logout_token".to_owned(), notice.logout_token.clone())]
    );

    let jwks =
        JwkSet::parse(std::str::from_utf8(&h.provider.jwks_response().body).unwrap()).unwrap();
    let parsed = UnverifiedJws::parse(&notice.logout_token).unwrap();
    assert_eq!(parsed.header().algorithm(), Algorithm::Rs256);
    assert!(
        parsed.verify_with_set(&jwks, &Typ::JWT).is_err(),
        "a logout token is not an ID token"
    );
    let claims: serde_json::Value = UnverifiedJws::parse(&notice.logout_token)
        .unwrap()
        .verify_with_set(&jwks, &Typ::LOGOUT_JWT)
        .unwrap()
        .claims()
        .unwrap();
    let now = h.provider.now().unix_timestamp();
    assert_eq!(claims["iss"], "https://auth.example.com");
    assert_eq!(claims["aud"], rp.id.as_str());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 120);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    assert!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object(),
        "{claims}"
    );
    assert!(claims.get("nonce").is_none(), "§2.4: no nonce");
    let again = h.provider.backchannel_logout(&user()).await.unwrap();
    assert_ne!(
        again[0].logout_token, notice.logout_token,
        "a fresh jti each time"
    );
    // Nobody else signed in: no notices.
    let other = tessera::UserId::new("bob");
    assert!(
        h.provider
            .backchannel_logout(&other)
            .await
            .unwrap()
            .is_empty()
    );

    let doc: serde_json::Value = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], false);
}

#[tokio::test]
async fn backchannel_logout_registration_metadata_is_checked() {
    let h = oidc_harness();
    let register = |extra: &str| {
        format!(
            r#"{{"client_name":"RP","redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none"{extra}}}"#
        )
    };
    let accepted = h
        .provider
        .register(
            register(r#","backchannel_logout_uri":"https://rp.example/bcl""#).as_bytes(),
            None,
        )
        .await;
    assert_eq!(
        accepted.status,
        201,
        "{}",
        String::from_utf8_lossy(&accepted.body)
    );
    let body: serde_json::Value = accepted.json_body().unwrap();
    assert_eq!(body["backchannel_logout_uri"], "https://rp.example/bcl");
    for refused in [
        r#","backchannel_logout_uri":"https://rp.example/bcl#frag""#,
        r#","backchannel_logout_uri":"http://rp.example/bcl""#,
        r#","backchannel_logout_uri":"not a url""#,
        r#","backchannel_logout_uri":7"#,
        r#","backchannel_logout_uri":"https://rp.example/bcl","backchannel_logout_session_required":true"#,
        r#","backchannel_logout_session_required":"yes""#,
    ] {
        let answer = h
            .provider
            .register(register(refused).as_bytes(), None)
            .await;
        assert_eq!(answer.status, 400, "{refused}");
        let error: serde_json::Value = answer.json_body().unwrap();
        assert_eq!(error["error"], "invalid_client_metadata", "{refused}");
    }
}

#[tokio::test]
async fn backchannel_logout_without_signing_keys_is_an_error_for_the_host_not_silence() {
    let h = harness();
    assert!(matches!(
        h.provider.backchannel_logout(&user()).await,
        Err(tessera::LogoutError::NoSigningKey)
    ));
}
