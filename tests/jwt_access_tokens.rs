//! JWT access tokens (RFC 9068): the header and claims of every grant's token, exactly;
//! signatures checked by an independent implementation (`jsonwebtoken`) against the
//! published JWK Set; every refusal of the resource-server verifier; and, at the provider,
//! bearer validation, introspection, revocation, grant-family revocation and expiry working on
//! JWTs as on opaque tokens.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use tessera::jose::{
    Algorithm, ClaimsError, JwkSet, JwsError, KeySchedule, KeySet, SigningKey, Typ,
};
use tessera::jwt_access::{JwtAccessError, JwtAccessVerifier};
use tessera::store::{Authentication, MemoryStore};
use tessera::testkit::{DpopKey, ManualClock, SeededEntropy};
use tessera::{
    AccessTokenFormat, BearerRequest, FormRequest, Provider, Resource, ScopeSet, TokenKind,
};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://auth.example.com/api/me";
const FILES: &str = "https://files.example.com/";
const TOKEN_URL: &str = "https://auth.example.com/token";
const NOW: i64 = 1_893_456_000; // 2030-01-01, the harness clock

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
        KeySet::builder(time::Duration::hours(2))
            .key(rs, KeySchedule::always())
            .key(es, KeySchedule::always())
            .build()
            .unwrap()
    })
    .clone()
}

/// A provider whose access tokens are JWTs (or not: `format`), with the default resource
/// `API` and another, `FILES`, registered `files` as given.
fn jwt_harness(format: AccessTokenFormat, files: Resource) -> Harness {
    let config = builder()
        .scopes(ScopeSet::parse("openid read write whoami offline_access").unwrap())
        .resource(Resource::new(API).included_by_default())
        .resource(files)
        .access_token_format(format)
        .build()
        .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(9)))
        .signing_keys(keys())
        .build();
    Harness {
        provider,
        clock,
        store,
    }
}

fn harness() -> Harness {
    jwt_harness(AccessTokenFormat::Jwt, Resource::new(FILES))
}

fn jwks(h: &Harness) -> JwkSet {
    JwkSet::parse(std::str::from_utf8(&h.provider.jwks_response().body).unwrap()).unwrap()
}

fn part(token: &str, index: usize) -> Value {
    let text = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
}

/// The claims, verified by jsonwebtoken with the key the published JWK Set has for the
/// token's `kid`, requiring `aud`.
fn their_claims(h: &Harness, token: &str, aud: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(&h.provider.jwks_response().body).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[aud]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

fn verifier(h: &Harness, resource: &str) -> JwtAccessVerifier {
    JwtAccessVerifier::new(jwks(h), ISSUER, resource)
}

/// A code flow for alice with `scope`, authenticated with `pwd` a minute ago; the token
/// response.
async fn code_tokens(h: &Harness, client: &TestClient, scope: &str) -> Value {
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope={}&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT),
        urlencode(scope)
    );
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    let scopes = pending.scopes().clone();
    let authentication = Authentication::new(h.provider.now() - time::Duration::minutes(1))
        .with_acr("urn:example:pwd")
        .with_amr(vec!["pwd".into()]);
    let code = pending
        .approve_authenticated(&h.provider, user(), &scopes, authentication)
        .await
        .param("code")
        .unwrap();
    let response = h.exchange_code(client, &code).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

fn authed(client: &TestClient, body: String) -> FormRequest {
    FormRequest::new(body.into_bytes()).with_authorization(Some(&client.basic()))
}

async fn introspect(h: &Harness, client: &TestClient, token: &str) -> Value {
    h.provider
        .introspect(&authed(client, format!("token={}", urlencode(token))))
        .await
        .json_body()
        .unwrap()
}

async fn revoke(h: &Harness, client: &TestClient, token: &str) {
    let response = h
        .provider
        .revoke(&authed(client, format!("token={}", urlencode(token))))
        .await;
    assert_eq!(response.status, 200);
}

async fn at_api(h: &Harness, token: &str) -> Result<tessera::Principal, tessera::BearerError> {
    let header = format!("Bearer {token}");
    h.provider
        .validate_bearer(
            &BearerRequest::header(&header).for_resource(API),
            &ScopeSet::parse("read").unwrap(),
        )
        .await
}

#[tokio::test]
async fn the_code_flow_gives_an_rfc_9068_token_with_exactly_these_header_and_claims() {
    let h = harness();
    let client = h.confidential().await;
    let body = code_tokens(&h, &client, "read whoami").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert!(!token.starts_with("tsr_"));
    assert_eq!(
        part(token, 0),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "rs-1"})
    );
    let claims = part(token, 1);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert_eq!(jti.len(), 22, "128 random bits, base64url");
    assert_eq!(
        claims,
        json!({
            "iss": ISSUER,
            "sub": "alice",
            "aud": API,
            "client_id": client.id,
            "scope": "read whoami",
            "iat": NOW,
            "exp": NOW + 3600,
            "jti": jti,
            "auth_time": NOW - 60,
            "acr": "urn:example:pwd",
            "amr": ["pwd"],
        })
    );
    // An independent implementation verifies the signature with the published key.
    assert_eq!(their_claims(&h, token, API), claims);
    // So does the resource-server helper, and it gives the typed principal.
    let principal = verifier(&h, API).verify(token, NOW + 5).unwrap();
    assert_eq!(principal.issuer(), ISSUER);
    assert_eq!(principal.subject(), "alice");
    assert_eq!(principal.client_id(), client.id);
    assert_eq!(principal.scopes(), &ScopeSet::parse("read whoami").unwrap());
    assert_eq!(principal.audience(), [API]);
    assert_eq!(principal.issued_at(), NOW);
    assert_eq!(principal.expires_at(), NOW + 3600);
    assert_eq!(principal.jwt_id(), jti);
    assert_eq!(principal.auth_time(), Some(NOW - 60));
    assert_eq!(principal.acr(), Some("urn:example:pwd"));
    assert_eq!(principal.amr(), ["pwd"]);
    assert!(!principal.is_sender_constrained());
    // Every token gets its own jti.
    let again = code_tokens(&h, &client, "read").await;
    let other = part(again["access_token"].as_str().unwrap(), 1);
    assert_ne!(other["jti"], jti);
}

#[tokio::test]
async fn client_credentials_name_the_client_as_subject_and_the_requested_resource_as_audience() {
    let h = harness();
    let client = h.confidential().await;
    let response = h
        .provider
        .token(&authed(
            &client,
            format!(
                "grant_type=client_credentials&scope=read&resource={}",
                urlencode(FILES)
            ),
        ))
        .await;
    assert_eq!(response.status, 200);
    let body = response.json_body().unwrap();
    let token = body["access_token"].as_str().unwrap();
    let claims = their_claims(&h, token, FILES);
    let jti = claims["jti"].clone();
    assert_eq!(
        claims,
        json!({
            "iss": ISSUER,
            "sub": client.id,
            "aud": FILES,
            "client_id": client.id,
            "scope": "read",
            "iat": NOW,
            "exp": NOW + 3600,
            "jti": jti,
        })
    );
    let principal = verifier(&h, FILES).verify(token, NOW).unwrap();
    assert_eq!(principal.subject(), principal.client_id());
    assert_eq!(principal.auth_time(), None);
    // Not for the provider's own API.
    assert!(matches!(
        verifier(&h, API).verify(token, NOW),
        Err(JwtAccessError::Claims(ClaimsError::WrongAudience))
    ));
    assert!(at_api(&h, token).await.is_err());
    // Two resources: `aud` is an array.
    let response = h
        .provider
        .token(&authed(
            &client,
            format!(
                "grant_type=client_credentials&scope=read&resource={}&resource={}",
                urlencode(FILES),
                urlencode(API)
            ),
        ))
        .await;
    let token = response.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(part(&token, 1)["aud"], json!([FILES, API]));
    assert!(verifier(&h, FILES).verify(&token, NOW).is_ok());
    assert!(verifier(&h, API).verify(&token, NOW).is_ok());
}

#[tokio::test]
async fn refreshed_and_exchanged_tokens_are_jwts_too() {
    let h = harness();
    let client = h.confidential().await;
    let body = code_tokens(&h, &client, "read offline_access").await;
    let refresh = body["refresh_token"].as_str().unwrap();
    assert!(
        TokenKind::RefreshToken.is_well_formed(refresh),
        "refresh tokens stay opaque"
    );
    h.clock.advance(time::Duration::minutes(5));
    let response = h
        .provider
        .token(&authed(
            &client,
            format!("grant_type=refresh_token&refresh_token={refresh}"),
        ))
        .await;
    assert_eq!(response.status, 200);
    let refreshed = response.json_body().unwrap();
    let token = refreshed["access_token"].as_str().unwrap();
    let claims = their_claims(&h, token, API);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iat"], NOW + 300);
    assert_eq!(claims["scope"], "offline_access read");
    // The original authentication, kept with the refresh token.
    assert_eq!(claims["auth_time"], NOW - 60);
    assert_eq!(claims["acr"], "urn:example:pwd");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(at_api(&h, token).await.is_ok());
    // Token exchange: a JWT subject token is one of ours, found by its hash.
    let response = h
        .provider
        .token(&authed(
            &client,
            format!(
                "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={token}&subject_token_type=urn:ietf:params:oauth:token-type:access_token&scope=read"
            ),
        ))
        .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let exchanged = response.json_body().unwrap();
    let exchanged = exchanged["access_token"].as_str().unwrap();
    assert_eq!(their_claims(&h, exchanged, API)["sub"], "alice");
    // One family: revoking the exchanged token kills the one it came from.
    revoke(&h, &client, exchanged).await;
    assert!(at_api(&h, token).await.is_err());
}

#[tokio::test]
async fn the_provider_validates_introspects_and_revokes_a_jwt_like_an_opaque_token() {
    let h = harness();
    let client = h.confidential().await;
    let body = code_tokens(&h, &client, "read").await;
    let token = body["access_token"].as_str().unwrap();
    let principal = at_api(&h, token).await.unwrap();
    assert_eq!(principal.user().map(|u| u.as_str()), Some("alice"));
    assert_eq!(principal.audience(), [API]);
    // A JWT with one character changed is not a token the store knows.
    let mut tampered = token.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(at_api(&h, &tampered).await.is_err());
    let active = introspect(&h, &client, token).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["sub"], "alice");
    assert_eq!(active["client_id"], client.id.as_str());
    assert_eq!(active["scope"], "read");
    assert_eq!(active["exp"], NOW + 3600);
    assert_eq!(introspect(&h, &client, &tampered).await["active"], false);
    revoke(&h, &client, token).await;
    assert_eq!(introspect(&h, &client, token).await["active"], false);
    let refused = at_api(&h, token).await.unwrap_err();
    assert_eq!(refused.code, Some(tessera::ErrorCode::InvalidToken));
    // Offline, a revoked JWT still verifies until it expires: the documented limit.
    assert!(verifier(&h, API).verify(token, NOW).is_ok());
}

#[tokio::test]
async fn a_revoked_grant_family_and_expiry_end_the_jwt_at_the_provider() {
    let h = harness();
    let client = h.confidential().await;
    // The user revokes the app: the family goes, its JWT with it.
    let body = code_tokens(&h, &client, "read offline_access").await;
    let token = body["access_token"].as_str().unwrap();
    assert!(at_api(&h, token).await.is_ok());
    let revoked = h
        .provider
        .revoke_app(&user(), &tessera::ClientId::new(client.id.clone()).unwrap())
        .await
        .unwrap();
    assert!(revoked);
    assert!(at_api(&h, token).await.is_err());
    assert_eq!(introspect(&h, &client, token).await["active"], false);
    // Revoking the refresh token ends the family's JWT access token too.
    let body = code_tokens(&h, &client, "read offline_access").await;
    let token = body["access_token"].as_str().unwrap();
    revoke(&h, &client, body["refresh_token"].as_str().unwrap()).await;
    assert!(at_api(&h, token).await.is_err());
    // Expiry: the record's end is the JWT's `exp`.
    let body = code_tokens(&h, &client, "read").await;
    let token = body["access_token"].as_str().unwrap();
    h.clock.advance(time::Duration::seconds(3599));
    assert!(at_api(&h, token).await.is_ok());
    h.clock.advance(time::Duration::seconds(1));
    assert!(at_api(&h, token).await.is_err());
    assert_eq!(introspect(&h, &client, token).await["active"], false);
}

#[tokio::test]
async fn a_dpop_bound_jwt_carries_cnf_jkt_and_needs_its_proof_at_the_provider() {
    let h = harness();
    let client = h.confidential().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let request =
        authed(&client, "grant_type=client_credentials&scope=read".into()).with_dpop(Some(&proof));
    let response = h.provider.token(&request).await;
    assert_eq!(response.status, 200);
    let body = response.json_body().unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(part(token, 1)["cnf"], json!({"jkt": key.jkt()}));
    let principal = verifier(&h, API).verify(token, NOW).unwrap();
    assert_eq!(principal.dpop_jkt(), Some(key.jkt().as_str()));
    assert!(principal.is_sender_constrained());
    assert_eq!(
        introspect(&h, &client, token).await["cnf"]["jkt"],
        key.jkt()
    );
    // At the provider: refused as a bearer token, accepted with a proof naming it.
    assert!(at_api(&h, token).await.is_err());
    let proof = key.proof("GET", API, NOW, Some(token), None).await;
    let header = format!("DPoP {token}");
    let request = BearerRequest::header(&header)
        .with_dpop(Some(&proof), "GET", API)
        .for_resource(API);
    assert!(
        h.provider
            .validate_bearer(&request, &ScopeSet::parse("read").unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn opaque_stays_the_default_and_a_resource_can_opt_in_alone() {
    let h = jwt_harness(
        AccessTokenFormat::Opaque,
        Resource::new(FILES).with_jwt_access_tokens(),
    );
    let client = h.confidential().await;
    let cc = |resource: Option<&str>| {
        let mut body = "grant_type=client_credentials&scope=read".to_owned();
        if let Some(resource) = resource {
            body.push_str(&format!("&resource={}", urlencode(resource)));
        }
        authed(&client, body)
    };
    let opaque = h.provider.token(&cc(None)).await.json_body().unwrap();
    let opaque = opaque["access_token"].as_str().unwrap();
    assert!(TokenKind::AccessToken.is_well_formed(opaque));
    let jwt = h
        .provider
        .token(&cc(Some(FILES)))
        .await
        .json_body()
        .unwrap();
    let jwt = jwt["access_token"].as_str().unwrap();
    assert_eq!(their_claims(&h, jwt, FILES)["aud"], FILES);
    assert_eq!(introspect(&h, &client, jwt).await["active"], true);
    assert_eq!(introspect(&h, &client, opaque).await["active"], true);
    // A provider that never issues JWTs refuses one unread.
    let plain = jwt_harness(AccessTokenFormat::Opaque, Resource::new(FILES));
    assert!(at_api(&plain, jwt).await.is_err());
    let plain_client = plain.confidential().await;
    assert_eq!(
        introspect(&plain, &plain_client, jwt).await["active"],
        false
    );
}

#[tokio::test]
async fn without_a_default_resource_the_audience_is_the_issuer() {
    let config = builder()
        .scopes(ScopeSet::parse("read").unwrap())
        .access_token_format(AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let h = Harness {
        provider: Provider::builder(config, Arc::new(MemoryStore::new()))
            .clock(Arc::new(ManualClock::new(
                time::macros::datetime!(2030-01-01 00:00 UTC),
            )))
            .signing_keys(keys())
            .build(),
        clock: ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC)),
        store: Arc::new(MemoryStore::new()),
    };
    let client = h.confidential().await;
    let body = h
        .provider
        .token(&authed(
            &client,
            "grant_type=client_credentials&scope=read".into(),
        ))
        .await
        .json_body()
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(their_claims(&h, token, ISSUER)["aud"], ISSUER);
}

#[tokio::test]
async fn a_jwt_never_outlives_the_key_sets_token_lifetime() {
    // Access tokens of 3 hours, offline_access ones never expiring: the key set keeps a
    // retired key published for 2 hours, so no JWT lives longer.
    let config = builder()
        .scopes(ScopeSet::parse("read offline_access").unwrap())
        .resource(Resource::new(API).included_by_default())
        .lifetimes(tessera::Lifetimes::default().with_access_token(time::Duration::hours(3)))
        .danger(
            Danger::new()
                .open_registration()
                .never_expire_with_scope(tessera::Scope::new("offline_access").unwrap()),
        )
        .access_token_format(AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let h = Harness {
        provider: Provider::builder(config, store.clone())
            .clock(Arc::new(clock.clone()))
            .signing_keys(keys())
            .build(),
        clock,
        store,
    };
    let client = h.confidential().await;
    for scope in ["read", "read offline_access"] {
        let body = code_tokens(&h, &client, scope).await;
        assert_eq!(body["expires_in"], 7200, "{scope}");
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(part(token, 1)["exp"], NOW + 7200, "{scope}");
        assert_eq!(introspect(&h, &client, token).await["exp"], NOW + 7200);
    }
}

#[tokio::test]
async fn without_signing_keys_a_jwt_provider_issues_nothing() {
    let config = builder()
        .scopes(ScopeSet::parse("read").unwrap())
        .access_token_format(AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let h = harness_with(config);
    let client = h.confidential().await;
    let response = h
        .provider
        .token(&authed(
            &client,
            "grant_type=client_credentials&scope=read".into(),
        ))
        .await;
    assert_eq!(response.status, 500);
    assert_eq!(error_of(&response), "server_error");
}

// ---------------------------------------------------------------------------------------
// The resource-server helper's refusals
// ---------------------------------------------------------------------------------------

async fn issued(h: &Harness) -> String {
    let client = h.confidential().await;
    let body = h
        .provider
        .token(&authed(
            &client,
            "grant_type=client_credentials&scope=read".into(),
        ))
        .await
        .json_body()
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// `claims` signed by the provider's own RS256 key with `typ`.
async fn signed(typ: &Typ, claims: &Value) -> String {
    keys()
        .sign(Algorithm::Rs256, typ, claims.to_string().as_bytes(), NOW)
        .await
        .unwrap()
}

fn good_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": API, "client_id": "c1", "scope": "read",
        "iat": NOW, "exp": NOW + 300, "jti": "j1",
    })
}

#[tokio::test]
async fn the_verifier_refuses_every_token_it_must() {
    let h = harness();
    let token = issued(&h).await;
    let check = verifier(&h, API);
    assert!(check.verify(&token, NOW).is_ok());
    assert!(
        check
            .verify(&signed(&Typ::AT_JWT, &good_claims()).await, NOW)
            .is_ok()
    );
    // `application/at+jwt` is the same type (RFC 9068 §4).
    let long = Typ::new("application/at+jwt").unwrap();
    assert!(
        check
            .verify(&signed(&long, &good_claims()).await, NOW)
            .is_ok()
    );

    // Wrong typ: an ID token (`JWT`), or a DPoP proof type, with valid claims otherwise.
    for typ in [Typ::JWT, Typ::DPOP_JWT] {
        assert_eq!(
            check.verify(&signed(&typ, &good_claims()).await, NOW),
            Err(JwtAccessError::Jws(JwsError::WrongType)),
            "{typ:?}"
        );
    }
    // Wrong audience, wrong issuer.
    assert_eq!(
        verifier(&h, FILES).verify(&token, NOW),
        Err(JwtAccessError::Claims(ClaimsError::WrongAudience))
    );
    assert_eq!(
        JwtAccessVerifier::new(jwks(&h), "https://evil.example", API).verify(&token, NOW),
        Err(JwtAccessError::Claims(ClaimsError::WrongIssuer))
    );
    // Expired: within the 60 s leeway it passes, then not; a zero leeway is exact.
    assert!(check.verify(&token, NOW + 3600 + 59).is_ok());
    assert_eq!(
        check.verify(&token, NOW + 3600 + 60),
        Err(JwtAccessError::Claims(ClaimsError::Expired))
    );
    assert_eq!(
        check
            .clone()
            .with_leeway(time::Duration::ZERO)
            .verify(&token, NOW + 3600),
        Err(JwtAccessError::Claims(ClaimsError::Expired))
    );
    // Not yet valid: `nbf` or `iat` in the future beyond the leeway.
    let mut future = good_claims();
    future["nbf"] = (NOW + 120).into();
    assert_eq!(
        check.verify(&signed(&Typ::AT_JWT, &future).await, NOW),
        Err(JwtAccessError::Claims(ClaimsError::NotYetValid))
    );
    let mut future = good_claims();
    future["iat"] = (NOW + 120).into();
    assert_eq!(
        check.verify(&signed(&Typ::AT_JWT, &future).await, NOW),
        Err(JwtAccessError::Claims(ClaimsError::NotYetValid))
    );
    // alg none, with the real claims and no signature.
    let payload = token.split('.').nth(1).unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    for unsigned in [
        format!("{none_header}.{payload}."),
        format!("{none_header}.{payload}.c2ln"),
    ] {
        assert_eq!(
            check.verify(&unsigned, NOW),
            Err(JwtAccessError::Jws(JwsError::AlgNone)),
            "{unsigned}"
        );
    }
    // HS256 with the public key as secret: never.
    let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt","kid":"rs-1"}"#);
    assert_eq!(
        check.verify(&format!("{hs_header}.{payload}.c2ln"), NOW),
        Err(JwtAccessError::Jws(JwsError::UnsupportedAlgorithm))
    );
    // An unknown kid: the JWK Set of another issuer.
    let stranger = KeySet::builder(time::Duration::hours(1))
        .key(
            SigningKey::generate(Algorithm::Rs256)
                .unwrap()
                .with_kid("rs-2")
                .unwrap(),
            KeySchedule::always(),
        )
        .build()
        .unwrap();
    assert_eq!(
        check
            .clone()
            .with_keys(stranger.jwks(NOW))
            .verify(&token, NOW),
        Err(JwtAccessError::Jws(JwsError::UnknownKey))
    );
    // A tampered payload: another subject, same signature.
    let mut claims = part(&token, 1);
    claims["sub"] = "mallory".into();
    let mut pieces: Vec<String> = token.split('.').map(str::to_owned).collect();
    pieces[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_eq!(
        check.verify(&pieces.join("."), NOW),
        Err(JwtAccessError::Jws(JwsError::Signature))
    );
    // An algorithm off the allowlist, even with a valid signature.
    assert_eq!(
        check
            .clone()
            .with_algorithms([Algorithm::Es256])
            .verify(&token, NOW),
        Err(JwtAccessError::AlgorithmNotAllowed)
    );
    // A claim RFC 9068 §2.2 requires is missing, or of the wrong type.
    for missing in ["client_id", "jti", "sub", "iat", "exp", "aud", "iss"] {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(missing);
        assert!(
            matches!(
                check.verify(&signed(&Typ::AT_JWT, &claims).await, NOW),
                Err(JwtAccessError::Malformed(_))
            ),
            "{missing}"
        );
    }
    let mut claims = good_claims();
    claims["exp"] = "tomorrow".into();
    assert!(matches!(
        check.verify(&signed(&Typ::AT_JWT, &claims).await, NOW),
        Err(JwtAccessError::Malformed(_))
    ));
    // Garbage of every shape is refused, never a panic.
    for junk in ["", "a.b", "a.b.c", "tsr_at_x", &"x".repeat(20_000)] {
        assert!(check.verify(junk, NOW).is_err(), "{junk}");
    }
    // Every refusal is the same 401 invalid_token to the client.
    let refusal = check.verify("a.b.c", NOW).unwrap_err().to_bearer_error();
    assert_eq!(refusal.status(), 401);
    assert_eq!(refusal.code, Some(tessera::ErrorCode::InvalidToken));
}
