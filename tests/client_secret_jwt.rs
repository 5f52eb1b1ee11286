//! `client_secret_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a
//! client signs its assertions with HS256 keyed by a secret the provider derives from its
//! `client_secret_jwt_key` and never stores. The assertions are signed by an independent
//! implementation (`jsonwebtoken`); every check refuses with 401 `invalid_client`, a `jti` is
//! accepted once across instances sharing a store, and without the key the method is not
//! offered at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client_key.rs"]
mod client_key;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use client_key::{
    ISSUER, Key, claim_cases, claims, client_credentials, jwks, refused, with_assertion,
};
use common::{REDIRECT, error_of};
use serde_json::{Value, json};
use tessera::jose::Algorithm;
use tessera::store::MemoryStore;
use tessera::testkit::{ManualClock, ResponseExt, SeededEntropy};
use tessera::{
    AuthMethod, ClientId, ClientRegistration, Config, FormRequest, GrantType, Provider, Response,
    SecretHash,
};

const KEY: [u8; 32] = [0x5a; 32];
const NEXT_KEY: [u8; 32] = [0xa5; 32];

/// Each provider's own entropy seed.
static SEED: AtomicU64 = AtomicU64::new(0);

struct Setup {
    provider: Provider,
    store: Arc<MemoryStore>,
    clock: ManualClock,
}

fn provider_on(store: Arc<MemoryStore>, clock: &ManualClock, key: Option<&[u8; 32]>) -> Provider {
    let builder = Provider::builder(common::config(), store)
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(
            SEED.fetch_add(1, Ordering::Relaxed),
        )));
    match key {
        Some(key) => builder.client_secret_jwt_key(key).build(),
        None => builder.build(),
    }
}

fn setup() -> Setup {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    Setup {
        provider: provider_on(store.clone(), &clock, Some(&KEY)),
        store,
        clock,
    }
}

impl Setup {
    fn now(&self) -> i64 {
        self.provider.now().unix_timestamp()
    }
}

/// The claims signed by `jsonwebtoken` with HS256 keyed by `secret`.
fn hs256(secret: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Registers a `client_secret_jwt` client through dynamic registration; returns its ID and
/// the secret the response carried, after checking the response.
async fn register(provider: &Provider) -> (String, String) {
    let body = json!({
        "client_name": "Hmac",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_jwt",
    });
    let response = provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let doc = response.json_body().unwrap();
    assert_eq!(doc["token_endpoint_auth_method"], "client_secret_jwt");
    assert_eq!(doc["token_endpoint_auth_signing_alg"], "HS256");
    assert_eq!(doc["client_secret_expires_at"], 0);
    let secret = doc["client_secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("tsr_cs_") && secret.len() == 56,
        "{secret}"
    );
    (doc["client_id"].as_str().unwrap().to_owned(), secret)
}

fn ok(response: &Response) -> Value {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

const GENERIC: &str = "client authentication failed";

#[tokio::test]
async fn an_assertion_signed_by_another_implementation_authenticates() {
    let s = setup();
    let (id, secret) = register(&s.provider).await;
    let token = ok(&client_credentials(&s.provider, &hs256(&secret, &claims(&id, s.now()))).await)
        ["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Introspection and revocation take it too.
    let introspect = |assertion: String| {
        let body = format!("token={token}");
        let provider = s.provider.clone();
        async move {
            provider
                .introspect(&with_assertion(&body, &assertion))
                .await
        }
    };
    let active = ok(&introspect(hs256(&secret, &claims(&id, s.now()))).await);
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id.as_str());
    let revoke = s
        .provider
        .revoke(&with_assertion(
            &format!("token={token}"),
            &hs256(&secret, &claims(&id, s.now())),
        ))
        .await;
    assert_eq!(revoke.status, 200);
    let gone = ok(&introspect(hs256(&secret, &claims(&id, s.now()))).await);
    assert_eq!(gone["active"], false);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_like_any_failed_authentication() {
    let s = setup();
    let (id, secret) = register(&s.provider).await;
    let (_, other_secret) = register(&s.provider).await;
    let t = s.now();
    // Another client's secret, a near miss of this one, and the secret's hash.
    let mut near = secret.clone().into_bytes();
    near[10] = if near[10] == b'A' { b'B' } else { b'A' };
    let near = String::from_utf8(near).unwrap();
    for wrong in [other_secret.as_str(), &near, "tsr_cs_", "x"] {
        let description =
            refused(&client_credentials(&s.provider, &hs256(wrong, &claims(&id, t))).await);
        assert_eq!(description, GENERIC, "{wrong}");
    }
    // A signature of garbage.
    let forged = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
        URL_SAFE_NO_PAD.encode(claims(&id, t).to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 32])
    );
    assert_eq!(
        refused(&client_credentials(&s.provider, &forged).await),
        GENERIC
    );
    // The secret is not a password: HTTP Basic and client_secret_post with it are refused.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let request =
        FormRequest::new("grant_type=client_credentials").with_authorization(Some(&basic));
    refused(&s.provider.token(&request).await);
    let request = FormRequest::new(format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}"
    ));
    refused(&s.provider.token(&request).await);
    // And the right one still works after all that.
    ok(&client_credentials(&s.provider, &hs256(&secret, &claims(&id, t))).await);
}

#[tokio::test]
async fn the_claim_checks_of_private_key_jwt_apply() {
    let s = setup();
    let (id, secret) = register(&s.provider).await;
    let t = s.now();
    let mut cases = claim_cases(t);
    cases.push((
        "an mTLS-style alias as aud",
        Box::new(|c| c["aud"] = json!("https://mtls.auth.example.com/token")),
        "aud",
    ));
    for (name, change, needle) in cases {
        let mut c = claims(&id, t);
        change(&mut c);
        let description = refused(&client_credentials(&s.provider, &hs256(&secret, &c)).await);
        assert!(description.contains(needle), "{name}: {description}");
    }
    // The token endpoint URL as aud is accepted, as for private_key_jwt.
    let mut c = claims(&id, t);
    c["aud"] = json!("https://auth.example.com/token");
    ok(&client_credentials(&s.provider, &hs256(&secret, &c)).await);
}

#[tokio::test]
async fn a_jti_is_accepted_once_across_two_providers_on_one_store() {
    let s = setup();
    let (id, secret) = register(&s.provider).await;
    let second = provider_on(s.store.clone(), &s.clock, Some(&KEY));
    let assertion = hs256(&secret, &claims(&id, s.now()));
    ok(&client_credentials(&s.provider, &assertion).await);
    let description = refused(&client_credentials(&second, &assertion).await);
    assert!(description.contains("used before"), "{description}");
    let description = refused(&client_credentials(&s.provider, &assertion).await);
    assert!(description.contains("used before"), "{description}");
    // The second instance derives the same secret from the shared key.
    ok(&client_credentials(&second, &hs256(&secret, &claims(&id, s.now()))).await);
}

#[tokio::test]
async fn only_hs256_and_only_for_this_client() {
    let s = setup();
    let (id, secret) = register(&s.provider).await;
    let t = s.now();
    // alg none, and an asymmetric assertion from a key of the client's choosing.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims(&id, t).to_string())
    );
    let description = refused(&client_credentials(&s.provider, &none).await);
    assert!(description.contains("alg"), "{description}");
    for alg in [Algorithm::Rs256, Algorithm::Es256] {
        let key = Key::generate(alg);
        assert_eq!(
            refused(&client_credentials(&s.provider, &key.sign(&claims(&id, t))).await),
            GENERIC,
            "{alg}"
        );
    }
    // Other HMAC algorithms are not accepted, even keyed by the right secret.
    for alg in [
        jsonwebtoken::Algorithm::HS384,
        jsonwebtoken::Algorithm::HS512,
    ] {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(alg),
            &claims(&id, t),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap();
        let description = refused(&client_credentials(&s.provider, &token).await);
        assert!(description.contains("alg"), "{alg:?}: {description}");
    }
    // A header the JOSE layer refuses for every token is refused here too.
    let crit = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","crit":["exp"]}"#),
        URL_SAFE_NO_PAD.encode(claims(&id, t).to_string()),
        URL_SAFE_NO_PAD.encode([1u8; 32])
    );
    assert!(refused(&client_credentials(&s.provider, &crit).await).contains("crit"));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let typed = jsonwebtoken::encode(
        &header,
        &claims(&id, t),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(refused(&client_credentials(&s.provider, &typed).await).contains("typ"));
}

#[tokio::test]
async fn clients_of_other_methods_cannot_use_hs256() {
    let s = setup();
    // A private_key_jwt client, whatever it keys the HMAC with (its own public key, say).
    let key = Key::generate(Algorithm::Es256);
    let registered =
        s.provider
            .register_client(
                ClientRegistration::new("Signer", REDIRECT)
                    .with_auth_method(AuthMethod::PrivateKeyJwt)
                    .with_grant_types(vec![GrantType::ClientCredentials])
                    .with_metadata(tessera::ClientMetadata::default().with_jwks(
                        tessera::jose::JwkSet::parse(&jwks(&[&key]).to_string()).unwrap(),
                    )),
            )
            .await
            .unwrap();
    let id = registered.client.id.as_str().to_owned();
    let t = s.now();
    for secret in [key.public.to_string(), "short".to_owned(), "x".repeat(64)] {
        assert_eq!(
            refused(&client_credentials(&s.provider, &hs256(&secret, &claims(&id, t))).await),
            GENERIC
        );
    }
    ok(&client_credentials(&s.provider, &key.sign(&claims(&id, t))).await);
    // A client_secret_basic client keying the HMAC with its real secret.
    let basic = s
        .provider
        .register_client(
            ClientRegistration::new("Basic", REDIRECT)
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    let secret = basic.secret.unwrap().into_secret();
    let id = basic.client.id.as_str();
    assert_eq!(
        refused(&client_credentials(&s.provider, &hs256(&secret, &claims(id, t))).await),
        GENERIC
    );
}

#[tokio::test]
async fn a_rotated_secret_replaces_the_old_one_at_once() {
    let s = setup();
    let (id, old) = register(&s.provider).await;
    let client_id = ClientId::new(id.clone()).unwrap();
    let new = s.provider.rotate_client_secret(&client_id).await.unwrap();
    assert_ne!(new.secret(), old);
    assert!(new.is_well_formed());
    let t = s.now();
    assert_eq!(
        refused(&client_credentials(&s.provider, &hs256(&old, &claims(&id, t))).await),
        GENERIC
    );
    ok(&client_credentials(&s.provider, &hs256(new.secret(), &claims(&id, t))).await);
    // The stored form changed with it: a new salt, a new hash.
    let stored = s.provider.client(&client_id).await.unwrap().unwrap();
    assert!(matches!(stored.secret, Some(SecretHash::Derived { .. })));
    assert!(stored.secret.unwrap().verify(&new));
}

#[tokio::test]
async fn a_new_provider_key_with_the_previous_one_kept_still_verifies_old_secrets() {
    let s = setup();
    let (id, old) = register(&s.provider).await;
    let client_id = ClientId::new(id.clone()).unwrap();
    // The key changed and the old one was not kept: every derived secret stops working.
    let forgot = provider_on(s.store.clone(), &s.clock, Some(&NEXT_KEY));
    assert_eq!(
        refused(&client_credentials(&forgot, &hs256(&old, &claims(&id, s.now()))).await),
        GENERIC
    );
    // Kept as the previous key: old secrets work, and a rotation derives under the new key.
    let rotated = Provider::builder(common::config(), s.store.clone())
        .clock(Arc::new(s.clock.clone()))
        .client_secret_jwt_key(&NEXT_KEY)
        .client_secret_jwt_previous_key(&KEY)
        .build();
    ok(&client_credentials(&rotated, &hs256(&old, &claims(&id, s.now()))).await);
    let new = rotated.rotate_client_secret(&client_id).await.unwrap();
    ok(&client_credentials(&forgot, &hs256(new.secret(), &claims(&id, s.now()))).await);
    assert_eq!(
        refused(
            &client_credentials(&s.provider, &hs256(new.secret(), &claims(&id, s.now()))).await
        ),
        GENERIC,
        "the old key alone does not derive the new secret"
    );
}

#[tokio::test]
async fn without_the_key_the_method_is_not_offered() {
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let plain = provider_on(store.clone(), &clock, None);
    let doc = plain.metadata_response().json_body().unwrap();
    for endpoint in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let methods = doc[format!("{endpoint}_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(!methods.contains(&json!("client_secret_jwt")), "{endpoint}");
        let algs = doc[format!("{endpoint}_auth_signing_alg_values_supported")]
            .as_array()
            .unwrap();
        assert!(!algs.contains(&json!("HS256")), "{endpoint}");
    }
    let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"});
    let response = plain.register(body.to_string().as_bytes(), None).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_client_metadata");
    let host = plain
        .register_client(
            ClientRegistration::new("Hmac", REDIRECT)
                .with_auth_method(AuthMethod::ClientSecretJwt)
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await;
    assert!(host.is_err());

    // A client registered while the key was there, at a provider without it: refused.
    let keyed = provider_on(store.clone(), &clock, Some(&KEY));
    let (id, secret) = register(&keyed).await;
    let now = keyed.now().unix_timestamp();
    ok(&client_credentials(&keyed, &hs256(&secret, &claims(&id, now))).await);
    assert_eq!(
        refused(&client_credentials(&plain, &hs256(&secret, &claims(&id, now))).await),
        GENERIC
    );
}

#[tokio::test]
async fn with_the_key_metadata_lists_the_method_and_hs256() {
    let s = setup();
    let doc = s.provider.metadata_response().json_body().unwrap();
    for endpoint in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let methods = doc[format!("{endpoint}_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(methods.contains(&json!("client_secret_jwt")), "{endpoint}");
        assert!(methods.contains(&json!("private_key_jwt")), "{endpoint}");
        assert_eq!(
            doc[format!("{endpoint}_auth_signing_alg_values_supported")],
            json!(["RS256", "ES256", "EdDSA", "PS256", "HS256"]),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn registration_keeps_hs256_to_client_secret_jwt_clients() {
    let s = setup();
    let cases = [
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}),
            "must be HS256",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_basic", "token_endpoint_auth_signing_alg": "HS256"}),
            "client_secret_jwt clients only",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS512"}),
            "token_endpoint_auth_signing_alg",
        ),
        (
            json!({"token_endpoint_auth_method": "client_secret_jwt", "client_secret": "mine"}),
            "",
        ),
    ];
    for (extra, needle) in cases {
        let mut body = json!({"grant_types": ["client_credentials"]});
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        let response = s.provider.register(body.to_string().as_bytes(), None).await;
        if needle.is_empty() {
            // A client_secret in the request is ignored: the secret is always derived.
            let doc = response.json_body().unwrap();
            assert_eq!(response.status, 201, "{doc}");
            assert_ne!(doc["client_secret"], "mine");
            continue;
        }
        assert_eq!(response.status, 400, "{extra}");
        assert_eq!(error_of(&response), "invalid_client_metadata");
        let description = description_of(&response);
        assert!(description.contains(needle), "{extra}: {description}");
    }
    // An explicit HS256 is fine; a secret cannot be imported for such a client.
    let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256"});
    assert_eq!(
        s.provider
            .register(body.to_string().as_bytes(), None)
            .await
            .status,
        201
    );
    let imported = s
        .provider
        .import_client(
            ClientId::new("imported").unwrap(),
            Some(tessera::ClientSecret::new("123456")),
            ClientRegistration::new("Imported", REDIRECT)
                .with_auth_method(AuthMethod::ClientSecretJwt),
        )
        .await;
    assert!(imported.is_err());
}

#[tokio::test]
async fn client_configuration_cannot_switch_to_or_from_client_secret_jwt() {
    let s = setup();
    let register = |method: &str| {
        let provider = s.provider.clone();
        let body =
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": method});
        async move { ok_created(provider.register(body.to_string().as_bytes(), None).await) }
    };
    for (from, to) in [
        ("client_secret_jwt", "client_secret_basic"),
        ("client_secret_basic", "client_secret_jwt"),
        ("client_secret_post", "client_secret_jwt"),
    ] {
        let doc = register(from).await;
        let id = doc["client_id"].as_str().unwrap();
        let update = json!({"client_id": id, "grant_types": ["client_credentials"], "token_endpoint_auth_method": to});
        let response = put(&s.provider, &doc, &update).await;
        assert_eq!(response.status, 400, "{from} -> {to}");
        let description = description_of(&response);
        assert!(description.contains("client_secret_jwt"), "{description}");
    }
    // Moving to private_key_jwt drops the derived secret, as it drops a generated one.
    let doc = register("client_secret_jwt").await;
    let id = doc["client_id"].as_str().unwrap();
    let secret = doc["client_secret"].as_str().unwrap();
    let key = Key::generate(Algorithm::Es256);
    let update = json!({"client_id": id, "grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks(&[&key])});
    let response = put(&s.provider, &doc, &update).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let t = s.now();
    refused(&client_credentials(&s.provider, &hs256(secret, &claims(id, t))).await);
    ok(&client_credentials(&s.provider, &key.sign(&claims(id, t))).await);
}

/// Replaces the registered client `doc` by `update` (RFC 7592 `PUT`, with the registration
/// access token `doc` carries).
async fn put(provider: &Provider, doc: &Value, update: &Value) -> Response {
    let token = doc["registration_access_token"].as_str().unwrap();
    provider
        .client_configuration(
            "PUT",
            doc["client_id"].as_str().unwrap(),
            Some(&format!("Bearer {token}")),
            update.to_string().as_bytes(),
        )
        .await
}

/// An error response's `error_description` (empty without one).
fn description_of(response: &Response) -> String {
    response.json_body().unwrap()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ok_created(response: Response) -> Value {
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

#[tokio::test]
async fn the_secret_is_in_no_debug_output_and_nowhere_in_the_store() {
    let s = setup();
    let registered = s
        .provider
        .register_client(
            ClientRegistration::new("Hmac", REDIRECT)
                .with_auth_method(AuthMethod::ClientSecretJwt)
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    let secret = registered.secret.as_ref().unwrap().secret().to_owned();
    // The random middle of the secret, which a leak of any encoding would show.
    let body = &secret[7..50];
    assert_eq!(
        registered
            .client
            .metadata
            .token_endpoint_auth_signing_alg
            .as_deref(),
        Some("HS256")
    );
    for printed in [
        format!("{registered:?}"),
        format!("{:?}", s.provider),
        format!("{:?}", s.store),
    ] {
        assert!(!printed.contains(body), "{printed}");
        assert!(!printed.contains(&secret));
    }
    assert!(format!("{:?}", s.provider).contains("SecretKeys(redacted)"));
    let stored = s
        .provider
        .client(&registered.client.id)
        .await
        .unwrap()
        .unwrap();
    let record = serde_json::to_string(&stored).unwrap();
    assert!(!record.contains(body), "{record}");
    assert!(record.contains("\"secret\":\"derived:"), "{record}");
    // What is stored is only the salt and the hash: the hash of the secret, not the secret.
    assert!(
        stored
            .secret
            .as_ref()
            .unwrap()
            .verify(registered.secret.as_ref().unwrap())
    );
    // It works, of course.
    let id = registered.client.id.as_str();
    ok(&client_credentials(&s.provider, &hs256(&secret, &claims(id, s.now()))).await);
}

#[tokio::test]
async fn hmac_stays_refused_for_request_objects() {
    let s = setup();
    let body = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "client_secret_jwt",
        "scope": "read",
    });
    let doc = ok_created(s.provider.register(body.to_string().as_bytes(), None).await);
    let id = doc["client_id"].as_str().unwrap();
    let secret = doc["client_secret"].as_str().unwrap();
    // A request object signed with the client's own secret: HS256 is for assertions only.
    let object = json!({
        "iss": id, "aud": ISSUER, "client_id": id, "response_type": "code",
        "redirect_uri": REDIRECT, "scope": "read", "code_challenge": common::CHALLENGE,
        "code_challenge_method": "S256", "exp": s.now() + 60,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("oauth-authz-req+jwt".into());
    let jwt = jsonwebtoken::encode(
        &header,
        &object,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap();
    let result = s
        .provider
        .authorize(&common::params(&format!("client_id={id}&request={jwt}")))
        .await;
    match result {
        Err(tessera::AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code.as_str(), "invalid_request_object");
            assert!(error.description.contains("alg"), "{}", error.description);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_fapi2_preset_never_offers_it() {
    let config = Config::builder(ISSUER)
        .security_profile(tessera::SecurityProfile::Fapi2)
        .scopes(tessera::ScopeSet::parse("accounts").unwrap())
        .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
        // The profile refuses open registration (a `danger` setting): a token instead.
        .registration(tessera::RegistrationPolicy::InitialAccessToken(vec![
            tessera::TokenHash::of("initial"),
        ]))
        .build()
        .unwrap();
    let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
        .client_secret_jwt_key(&KEY)
        .build();
    let doc = provider.metadata_response().json_body().unwrap();
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(!methods.contains(&json!("client_secret_jwt")));
    let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"});
    let response = provider
        .register(body.to_string().as_bytes(), Some("Bearer initial"))
        .await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_client_metadata");
    fapi_host_only().await;

    // A client_secret_jwt client registered elsewhere on the same store is refused by a FAPI
    // provider, before anything else is looked at.
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let plain = provider_on(store.clone(), &clock, Some(&KEY));
    let (id, secret) = register(&plain).await;
    let fapi = Provider::builder(
        Config::builder(ISSUER)
            .security_profile(tessera::SecurityProfile::Fapi2)
            .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
            .build()
            .unwrap(),
        store,
    )
    .clock(Arc::new(clock))
    .client_secret_jwt_key(&KEY)
    .build();
    let now = fapi.now().unix_timestamp();
    let description = refused(&client_credentials(&fapi, &hs256(&secret, &claims(&id, now))).await);
    assert!(description.contains("FAPI 2.0"), "{description}");
}

async fn fapi_host_only() {
    let config = Config::builder(ISSUER)
        .security_profile(tessera::SecurityProfile::Fapi2)
        .scopes(tessera::ScopeSet::parse("accounts").unwrap())
        .grant_types([GrantType::AuthorizationCode, GrantType::ClientCredentials])
        .build()
        .unwrap();
    let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
        .client_secret_jwt_key(&KEY)
        .build();
    let doc = provider.metadata_response().json_body().unwrap();
    for endpoint in ["token_endpoint", "introspection_endpoint"] {
        let algs = doc[format!("{endpoint}_auth_signing_alg_values_supported")]
            .as_array()
            .unwrap();
        assert!(!algs.contains(&json!("HS256")), "{endpoint}");
        let methods = doc[format!("{endpoint}_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(!methods.contains(&json!("client_secret_jwt")), "{endpoint}");
    }
    let host = provider
        .register_client(
            ClientRegistration::new("Hmac", "https://client.example/cb")
                .with_auth_method(AuthMethod::ClientSecretJwt)
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await;
    assert!(host.is_err());
}
