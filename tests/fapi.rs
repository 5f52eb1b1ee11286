//! The FAPI 2.0 Security Profile preset (`SecurityProfile::Fapi2`): what it turns on, the
//! settings it refuses, and each runtime rule it adds, refused one by one; a whole flow
//! (PAR, `private_key_jwt` signed by an independent JWS implementation, PKCE, DPoP) passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client_key.rs"]
mod client_key;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use client_key::{Key, jwks};
use common::{CHALLENGE, Danger, REDIRECT, VERIFIER, error_of, params, urlencode, user};
use serde_json::{Value, json};
use tessera::jose::{Algorithm, JwkSet};
use tessera::store::MemoryStore;
use tessera::testkit::{DpopKey, ManualClock, RedirectExt, ResponseExt, SeededEntropy};
use tessera::{
    AuthMethod, ClientMetadata, ClientRegistration, Config, ConfigBuilder, ConfigError,
    FormRequest, GrantType, Lifetimes, PkceRequirement, Provider, RegistrationPolicy, Response,
    ScopeSet, SecurityProfile, TokenHash,
};

const ISSUER: &str = "https://bank.example.com";
const TOKEN_URL: &str = "https://bank.example.com/token";
const PAR_URL: &str = "https://bank.example.com/par";
const NOW: i64 = 1_893_456_000; // 2030-01-01, the clock below
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const INITIAL_TOKEN: &str = "initial-access-token-for-tests";

fn fapi() -> ConfigBuilder {
    Config::builder(ISSUER)
        // Longer than the profile allows: the preset must cap it.
        .lifetimes(Lifetimes::default().with_code(time::Duration::minutes(10)))
        .security_profile(SecurityProfile::Fapi2)
        .scopes(ScopeSet::parse("accounts payments").unwrap())
        .grant_types([
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ])
        .registration(RegistrationPolicy::InitialAccessToken(vec![TokenHash::of(
            INITIAL_TOKEN,
        )]))
}

struct Bank {
    provider: Provider,
    clock: ManualClock,
}

fn bank_with(config: Config) -> Bank {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(7)))
        .build();
    Bank { provider, clock }
}

fn bank() -> Bank {
    bank_with(fapi().build().unwrap())
}

/// A registered client and its key.
struct Client {
    id: String,
    key: Key,
}

async fn client_of(bank: &Bank, method: AuthMethod, key: Key) -> Client {
    let metadata =
        ClientMetadata::default().with_jwks(JwkSet::parse(&jwks(&[&key]).to_string()).unwrap());
    let registered = bank
        .provider
        .register_client(
            ClientRegistration::new("Bank app", REDIRECT)
                .with_auth_method(method)
                .with_grant_types(vec![
                    GrantType::AuthorizationCode,
                    GrantType::ClientCredentials,
                ])
                .with_metadata(metadata),
        )
        .await
        .unwrap();
    Client {
        id: registered.client.id.as_str().to_owned(),
        key,
    }
}

async fn signer(bank: &Bank) -> Client {
    client_of(
        bank,
        AuthMethod::PrivateKeyJwt,
        Key::generate(Algorithm::Es256),
    )
    .await
}

static JTI: AtomicU64 = AtomicU64::new(0);

fn now(bank: &Bank) -> i64 {
    bank.provider.now().unix_timestamp()
}

fn assertion_for(bank: &Bank, client: &Client, aud: &str) -> String {
    let now = now(bank);
    client.key.sign(&json!({
        "iss": client.id, "sub": client.id, "aud": aud, "iat": now, "exp": now + 60,
        "jti": format!("a-{}", JTI.fetch_add(1, Ordering::Relaxed)),
    }))
}

/// `body` with a good client assertion appended.
fn authenticated(bank: &Bank, client: &Client, body: &str) -> String {
    format!(
        "{body}&client_assertion_type={}&client_assertion={}",
        urlencode(ASSERTION_TYPE),
        assertion_for(bank, client, ISSUER)
    )
}

fn pushed_body(extra: &str) -> String {
    format!(
        "response_type=code&scope=accounts&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

fn with_redirect() -> String {
    format!("&redirect_uri={}", urlencode(REDIRECT))
}

async fn proof(key: &DpopKey, url: &str, bank: &Bank) -> String {
    key.proof("POST", url, now(bank), None, None).await
}

async fn push(bank: &Bank, body: String, dpop: Option<&str>) -> Response {
    bank.provider
        .pushed_authorization(&FormRequest::new(body.into_bytes()).with_dpop(dpop))
        .await
}

/// PAR, then the user's approval: the redirect back to the client.
async fn authorized(bank: &Bank, client: &Client, dpop: &DpopKey) -> tessera::Redirect {
    let body = authenticated(bank, client, &pushed_body(&with_redirect()));
    let par_proof = proof(dpop, PAR_URL, bank).await;
    let response = push(bank, body, Some(&par_proof)).await;
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
    let query = format!(
        "client_id={}&request_uri={}",
        client.id,
        urlencode(&request_uri)
    );
    let pending = bank.provider.authorize(&params(&query)).await.unwrap();
    let scopes = pending.scopes().clone();
    pending.approve(&bank.provider, user(), &scopes).await
}

fn code_body(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode(REDIRECT)
    )
}

async fn token(bank: &Bank, body: String, dpop: Option<&str>) -> Response {
    bank.provider
        .token(&FormRequest::new(body.into_bytes()).with_dpop(dpop))
        .await
}

fn assert_ok(response: &Response) {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

fn assert_error(response: &Response, status: u16, code: &str) -> String {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(error_of(response), code);
    response.json_body().unwrap()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_preset_turns_on_what_the_profile_requires_and_advertises_it() {
    let config = fapi().build().unwrap();
    assert_eq!(config.security_profile(), Some(SecurityProfile::Fapi2));
    assert!(config.pushed_requests_required());
    assert_eq!(config.pkce(), PkceRequirement::AllClients);
    assert_eq!(config.lifetimes().code, time::Duration::seconds(60));
    assert!(config.iss_parameter());
    // The preset drops grants the profile does not cover.
    let widest = Config::builder(ISSUER)
        .grant_types(GrantType::ALL)
        .security_profile(SecurityProfile::Fapi2)
        .build()
        .unwrap();
    assert!(!widest.grant_enabled(GrantType::DeviceCode));
    assert!(!widest.grant_enabled(GrantType::TokenExchange));
    assert!(widest.grant_enabled(GrantType::AuthorizationCode));

    let doc = bank_with(config)
        .provider
        .metadata_response()
        .json_body()
        .unwrap();
    assert_eq!(doc["require_pushed_authorization_requests"], true);
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!([
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    for member in [
        "token_endpoint_auth_signing_alg_values_supported",
        "dpop_signing_alg_values_supported",
    ] {
        let algs = doc[member].as_array().unwrap();
        assert!(algs.contains(&json!("ES256")), "{member}: {algs:?}");
        assert!(!algs.contains(&json!("RS256")), "{member}: {algs:?}");
    }
}

#[test]
fn settings_that_contradict_the_profile_are_refused() {
    let contradictions: Vec<(&str, ConfigBuilder)> = vec![
        (
            "PAR off",
            fapi().require_pushed_authorization_requests(false),
        ),
        (
            "PKCE for public clients only",
            fapi().pkce(PkceRequirement::PublicClients),
        ),
        (
            "a 5 minute code",
            fapi().lifetimes(Lifetimes::default().with_code(time::Duration::minutes(5))),
        ),
        (
            "the device grant",
            fapi().grant_types([GrantType::AuthorizationCode, GrantType::DeviceCode]),
        ),
        (
            "a weakened default",
            fapi().danger(Danger::new().allow_plain_pkce()),
        ),
        (
            "rotation without a grace window",
            fapi().rotate_refresh_tokens(true),
        ),
    ];
    for (what, builder) in contradictions {
        assert!(
            matches!(builder.build(), Err(ConfigError::Profile(_))),
            "{what} must be refused"
        );
    }
    // What the profile leaves open stays open: rotation with a retry window, a shorter code.
    fapi()
        .rotate_refresh_tokens(true)
        .refresh_grace(Some(time::Duration::seconds(30)))
        .lifetimes(Lifetimes::default().with_code(time::Duration::seconds(20)))
        .build()
        .unwrap();
}

#[tokio::test]
async fn a_pushed_signed_and_sender_constrained_flow_gets_a_dpop_token() {
    let bank = bank();
    let client = signer(&bank).await;
    let dpop = DpopKey::generate(Algorithm::Es256);
    let redirect = authorized(&bank, &client, &dpop).await;
    assert_eq!(redirect.param("iss").as_deref(), Some(ISSUER));
    assert_eq!(redirect.param("state").as_deref(), Some("s1"));
    let code = redirect.param("code").unwrap();

    let token_proof = proof(&dpop, TOKEN_URL, &bank).await;
    let response = token(
        &bank,
        authenticated(&bank, &client, &code_body(&code)),
        Some(&token_proof),
    )
    .await;
    assert_ok(&response);
    let tokens = response.json_body().unwrap();
    assert_eq!(tokens["token_type"], "DPoP");

    // Client credentials, also sender-constrained.
    let cc_proof = proof(&dpop, TOKEN_URL, &bank).await;
    let response = token(
        &bank,
        authenticated(
            &bank,
            &client,
            "grant_type=client_credentials&scope=payments",
        ),
        Some(&cc_proof),
    )
    .await;
    assert_ok(&response);
    assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
}

#[tokio::test]
async fn a_token_request_without_a_dpop_proof_is_refused() {
    let bank = bank();
    let client = signer(&bank).await;
    let dpop = DpopKey::generate(Algorithm::Es256);
    let code = authorized(&bank, &client, &dpop)
        .await
        .param("code")
        .unwrap();
    let response = token(
        &bank,
        authenticated(&bank, &client, &code_body(&code)),
        None,
    )
    .await;
    let why = assert_error(&response, 400, "invalid_dpop_proof");
    assert!(why.contains("DPoP proof"), "{why}");
    let response = token(
        &bank,
        authenticated(&bank, &client, "grant_type=client_credentials"),
        None,
    )
    .await;
    assert_error(&response, 400, "invalid_dpop_proof");
}

#[tokio::test]
async fn clients_that_do_not_use_private_key_jwt_are_refused() {
    let bank = bank();
    // A client with a secret authenticates correctly, and is still refused.
    let registered = bank
        .provider
        .register_client(
            ClientRegistration::new("Secret app", REDIRECT).with_grant_types(vec![
                GrantType::AuthorizationCode,
                GrantType::ClientCredentials,
            ]),
        )
        .await
        .unwrap();
    let id = registered.client.id.as_str().to_owned();
    let secret = registered.secret.unwrap().into_secret();
    let dpop = DpopKey::generate(Algorithm::Es256);
    let registered_post = bank
        .provider
        .register_client(
            ClientRegistration::new("Post app", REDIRECT)
                .with_auth_method(AuthMethod::ClientSecretPost),
        )
        .await
        .unwrap();
    let post_secret = registered_post.secret.unwrap().into_secret();
    let post_body = format!(
        "client_id={}&client_secret={post_secret}&{}",
        registered_post.client.id.as_str(),
        pushed_body(&with_redirect())
    );
    let why = assert_error(&push(&bank, post_body, None).await, 401, "invalid_client");
    assert!(why.contains("FAPI 2.0"), "{why}");
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{id}:{secret}")
        )
    );
    let request = FormRequest::new(pushed_body(&with_redirect()).into_bytes())
        .with_authorization(Some(&basic));
    let response = bank.provider.pushed_authorization(&request).await;
    assert_error(&response, 401, "invalid_client");
    let request = FormRequest::new(b"grant_type=client_credentials".to_vec())
        .with_authorization(Some(&basic))
        .with_dpop(Some(&proof(&dpop, TOKEN_URL, &bank).await));
    assert_error(&bank.provider.token(&request).await, 401, "invalid_client");
    // A public client is no FAPI 2.0 client.
    let public = bank
        .provider
        .register_client(
            ClientRegistration::new("Public app", REDIRECT).with_auth_method(AuthMethod::None),
        )
        .await
        .unwrap();
    let body = format!(
        "client_id={}&{}",
        public.client.id.as_str(),
        pushed_body(&with_redirect())
    );
    assert_error(&push(&bank, body, None).await, 401, "invalid_client");
}

#[tokio::test]
async fn assertions_must_name_the_issuer_alone_and_not_use_rs256() {
    let bank = bank();
    let client = signer(&bank).await;
    let dpop = DpopKey::generate(Algorithm::Es256);
    let body = |assertion: String| {
        format!(
            "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
            urlencode(ASSERTION_TYPE)
        )
    };
    let to_token_endpoint = assertion_for(&bank, &client, TOKEN_URL);
    let response = token(
        &bank,
        body(to_token_endpoint),
        Some(&proof(&dpop, TOKEN_URL, &bank).await),
    )
    .await;
    assert_error(&response, 401, "invalid_client");
    let good = assertion_for(&bank, &client, ISSUER);
    let response = token(
        &bank,
        body(good),
        Some(&proof(&dpop, TOKEN_URL, &bank).await),
    )
    .await;
    assert_ok(&response);

    let rsa = client_of(
        &bank,
        AuthMethod::PrivateKeyJwt,
        Key::generate(Algorithm::Rs256),
    )
    .await;
    let response = token(
        &bank,
        body(assertion_for(&bank, &rsa, ISSUER)),
        Some(&proof(&dpop, TOKEN_URL, &bank).await),
    )
    .await;
    let why = assert_error(&response, 401, "invalid_client");
    assert!(why.contains("ES256"), "{why}");
}

#[tokio::test]
async fn ps256_assertions_are_accepted() {
    // FAPI 2.0 §5.4 names PS256 first: an RSA key registered as PS256 authenticates.
    let bank = bank();
    let dpop = DpopKey::generate(Algorithm::Es256);
    let client = client_of(
        &bank,
        AuthMethod::PrivateKeyJwt,
        Key::generate(Algorithm::Ps256),
    )
    .await;
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        urlencode(ASSERTION_TYPE),
        assertion_for(&bank, &client, ISSUER)
    );
    let response = token(&bank, body, Some(&proof(&dpop, TOKEN_URL, &bank).await)).await;
    assert_ok(&response);
    let doc = bank.provider.metadata_response().json_body().unwrap();
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "PS256"])
    );
}

#[tokio::test]
async fn rs256_dpop_proofs_are_refused() {
    let bank = bank();
    let client = signer(&bank).await;
    let dpop = DpopKey::generate(Algorithm::Rs256);
    let response = token(
        &bank,
        authenticated(&bank, &client, "grant_type=client_credentials"),
        Some(&proof(&dpop, TOKEN_URL, &bank).await),
    )
    .await;
    assert_error(&response, 400, "invalid_dpop_proof");
}

#[tokio::test]
async fn pushed_requests_must_name_the_redirect_uri_and_plain_requests_are_refused() {
    let bank = bank();
    let client = signer(&bank).await;
    let body = authenticated(&bank, &client, &pushed_body(""));
    let why = assert_error(&push(&bank, body, None).await, 400, "invalid_request");
    assert!(why.contains("redirect_uri"), "{why}");

    let plain = format!("client_id={}&{}", client.id, pushed_body(&with_redirect()));
    match bank.provider.authorize(&params(&plain)).await {
        Ok(_) => panic!("a plain authorization request must not proceed"),
        Err(tessera::AuthorizeError::Redirect(redirect)) => {
            let redirect = redirect.after_login(&user());
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_request"));
            assert!(redirect.param("code").is_none());
        }
        Err(other) => panic!("expected an invalid_request redirect, got {other:?}"),
    }
}

#[tokio::test]
async fn codes_live_sixty_seconds() {
    let bank = bank();
    let client = signer(&bank).await;
    let dpop = DpopKey::generate(Algorithm::Es256);
    let code = authorized(&bank, &client, &dpop)
        .await
        .param("code")
        .unwrap();
    bank.clock.advance(time::Duration::seconds(61));
    let response = token(
        &bank,
        authenticated(&bank, &client, &code_body(&code)),
        Some(&proof(&dpop, TOKEN_URL, &bank).await),
    )
    .await;
    assert_error(&response, 400, "invalid_grant");
}

#[tokio::test]
async fn dynamic_registration_refuses_what_the_profile_forbids() {
    let bank = bank();
    let key = Key::generate(Algorithm::Es256);
    let register = |extra: Value| {
        let mut body = json!({
            "client_name": "Fintech",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(&[&key]),
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        let provider = bank.provider.clone();
        async move {
            provider
                .register(
                    body.to_string().as_bytes(),
                    Some(&format!("Bearer {INITIAL_TOKEN}")),
                )
                .await
        }
    };
    let ok = register(json!({})).await;
    assert_eq!(ok.status, 201, "{}", String::from_utf8_lossy(&ok.body));
    for extra in [
        json!({"token_endpoint_auth_method": "client_secret_basic"}),
        json!({"token_endpoint_auth_method": "none"}),
        json!({"id_token_signed_response_alg": "RS256"}),
        json!({"token_endpoint_auth_signing_alg": "RS256"}),
    ] {
        let response = register(extra.clone()).await;
        assert_eq!(response.status, 400, "{extra}");
        assert_eq!(error_of(&response), "invalid_client_metadata", "{extra}");
    }
}

#[tokio::test]
async fn outside_the_profile_a_client_can_require_dpop_for_itself() {
    // RFC 9449 §5.2 `dpop_bound_access_tokens`, on a provider without a profile.
    let h = common::harness();
    let bound = h
        .register(
            ClientRegistration::new("Bound", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_metadata(ClientMetadata::default().with_dpop_bound_access_tokens(true)),
        )
        .await;
    let response = h.token(&bound, "grant_type=client_credentials").await;
    assert_error(&response, 400, "invalid_dpop_proof");
    let dpop = DpopKey::generate(Algorithm::Es256);
    let request = FormRequest::new(b"grant_type=client_credentials".to_vec())
        .with_authorization(Some(&bound.basic()))
        .with_dpop(Some(
            &dpop
                .proof("POST", "https://auth.example.com/token", NOW, None, None)
                .await,
        ));
    let response = h.provider.token(&request).await;
    assert_ok(&response);
    assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
    // Dynamic registration takes the member, and refuses a non-boolean.
    let body =
        json!({"client_name": "X", "redirect_uris": [REDIRECT], "dpop_bound_access_tokens": true});
    let response = h.provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        response.json_body().unwrap()["dpop_bound_access_tokens"],
        true
    );
    let body =
        json!({"client_name": "X", "redirect_uris": [REDIRECT], "dpop_bound_access_tokens": "yes"});
    let response = h.provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(error_of(&response), "invalid_client_metadata");
}

#[tokio::test]
async fn a_pushed_request_object_names_the_redirect_uri_and_rs256_objects_are_refused() {
    let bank = bank();
    let client = signer(&bank).await;
    let object = |key: &Key, client_id: &str| {
        let now = now(&bank);
        key.sign_typed(
            &json!({
                "iss": client_id, "aud": ISSUER, "client_id": client_id,
                "iat": now, "nbf": now, "exp": now + 300,
                "response_type": "code", "redirect_uri": REDIRECT, "scope": "accounts",
                "state": "s1", "code_challenge": CHALLENGE, "code_challenge_method": "S256",
            }),
            Some("oauth-authz-req+jwt"),
        )
    };
    // redirect_uri only inside the signed object: enough for the profile.
    let body = authenticated(
        &bank,
        &client,
        &format!("request={}", object(&client.key, &client.id)),
    );
    let response = push(&bank, body, None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );

    let rsa = client_of(
        &bank,
        AuthMethod::PrivateKeyJwt,
        Key::generate(Algorithm::Rs256),
    )
    .await;
    // Its assertion would be refused for RS256 too: authenticate with a second, ES256 key.
    let both = Key::generate(Algorithm::Es256);
    let two_keys = ClientMetadata::default()
        .with_jwks(JwkSet::parse(&jwks(&[&rsa.key, &both]).to_string()).unwrap());
    let registered = bank
        .provider
        .register_client(
            ClientRegistration::new("Two keys", REDIRECT)
                .with_auth_method(AuthMethod::PrivateKeyJwt)
                .with_metadata(two_keys),
        )
        .await
        .unwrap();
    let id = registered.client.id.as_str().to_owned();
    let signer_of_assertions = Client {
        id: id.clone(),
        key: both,
    };
    let body = authenticated(
        &bank,
        &signer_of_assertions,
        &format!("request={}", object(&rsa.key, &id)),
    );
    let why = assert_error(
        &push(&bank, body, None).await,
        400,
        "invalid_request_object",
    );
    assert!(why.contains("FAPI 2.0"), "{why}");
}

/// A certificate (self-signed: for `tls_client_auth` the host's TLS layer is what validates
/// chains) naming `dns`.
fn certificate(dns: &str) -> tessera::ClientCertificate {
    let params = rcgen::CertificateParams::new(vec![dns.to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.self_signed(&key).unwrap();
    tessera::ClientCertificate::from_der(cert.der().to_vec()).unwrap()
}

#[tokio::test]
async fn an_mtls_client_gets_certificate_bound_tokens_without_dpop() {
    let bank = bank();
    let registered = bank
        .provider
        .register_client(
            ClientRegistration::new("Payments backend", REDIRECT)
                .with_auth_method(AuthMethod::TlsClientAuth)
                .with_grant_types(vec![GrantType::ClientCredentials])
                .with_metadata(
                    ClientMetadata::default().with_tls_client_auth_san_dns("pay.client.example"),
                ),
        )
        .await
        .unwrap();
    let id = registered.client.id.as_str().to_owned();
    let cert = certificate("pay.client.example");
    let request = |cert: Option<tessera::ClientCertificate>| {
        FormRequest::new(format!("grant_type=client_credentials&client_id={id}").into_bytes())
            .with_client_certificate(cert)
    };
    // The certificate is both the authentication and the sender constraint.
    let response = bank.provider.token(&request(Some(cert.clone()))).await;
    assert_ok(&response);
    let access = response.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let introspection = bank
        .provider
        .introspect(
            &FormRequest::new(format!("token={access}&client_id={id}").into_bytes())
                .with_client_certificate(Some(cert.clone())),
        )
        .await
        .json_body()
        .unwrap();
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["cnf"]["x5t#S256"], cert.thumbprint());
    // Without it there is no client, and another client's certificate is not this one's.
    assert_error(
        &bank.provider.token(&request(None)).await,
        401,
        "invalid_client",
    );
    let other = certificate("other.client.example");
    assert_error(
        &bank.provider.token(&request(Some(other))).await,
        401,
        "invalid_client",
    );
}
