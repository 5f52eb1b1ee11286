//! JWT-secured authorization requests (RFC 9101): request objects signed by an independent
//! implementation (`jsonwebtoken`) with a key of the client's registered `jwks`, by value at
//! the authorization endpoint and through PAR (RFC 9126); only the object's parameters count
//! (RFC 9101 §5); each verification check refuses with `invalid_request_object`, shown as a
//! page and never redirected to a `redirect_uri` read from an unverified object; a `jti` is
//! used once; "signed request objects required" per provider and per client; the metadata.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client_key.rs"]
mod client_key;
mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use client_key::{Key, jwks};
use common::*;
use serde_json::{Value, json};
use tessera::jose::Algorithm;
use tessera::{AuthorizeError, FormRequest, PendingAuthorization, Provider, Response};

const ISSUER: &str = "https://auth.example.com";
const AUTHZ_TYP: &str = "oauth-authz-req+jwt";

static JTI: AtomicU64 = AtomicU64::new(0);

/// Request objects are signed with `typ: oauth-authz-req+jwt` (RFC 9101 §10.8).
trait SignObject {
    fn sign_object(&self, claims: &Value) -> String;
}

impl SignObject for Key {
    fn sign_object(&self, claims: &Value) -> String {
        self.sign_typed(claims, Some(AUTHZ_TYP))
    }
}

fn now(h: &Harness) -> i64 {
    h.provider.now().unix_timestamp()
}

/// A good request object's claims for `client_id` at `now`.
fn claims(client_id: &str, now: i64) -> Value {
    json!({
        "iss": client_id,
        "aud": ISSUER,
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": format!("jti-{}", JTI.fetch_add(1, Ordering::Relaxed)),
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "read",
        "state": "s1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    })
}

/// Registers a public client with `jwks` (and `extra` metadata) through RFC 7591.
async fn register(provider: &Provider, jwks: Value, extra: Value) -> TestClient {
    let mut body = json!({
        "client_name": "Signer",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none",
        "jwks": jwks,
    });
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    let response = provider.register(body.to_string().as_bytes(), None).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let doc = response.json_body().unwrap();
    TestClient {
        id: doc["client_id"].as_str().unwrap().to_owned(),
        secret: None,
    }
}

fn by_value(client: &TestClient, jwt: &str) -> String {
    format!("client_id={}&request={jwt}", client.id)
}

async fn authorize(h: &Harness, query: &str) -> Result<PendingAuthorization, AuthorizeError> {
    h.provider.authorize(&params(query)).await
}

/// Asserts a 400 page (never a redirect) with `code`; returns its description.
fn page(result: Result<PendingAuthorization, AuthorizeError>, code: &str) -> String {
    match result {
        Err(AuthorizeError::Untrusted(error)) => {
            assert_eq!(error.code.as_str(), code, "{}", error.description);
            assert_eq!(error.status(), 400);
            // Even after a login, there is no redirect to follow.
            let refused = AuthorizeError::Untrusted(error.clone());
            assert!(refused.after_login(&user()).is_err());
            error.description
        }
        other => panic!("expected a {code} page, got {other:?}"),
    }
}

async fn approve(h: &Harness, pending: PendingAuthorization) -> tessera::Redirect {
    let scopes = pending.scopes().clone();
    pending.approve(&h.provider, user(), &scopes).await
}

async fn push(h: &Harness, client: &TestClient, body: &str) -> Response {
    let request = FormRequest::new(format!("client_id={}&{body}", client.id).into_bytes());
    h.provider.pushed_authorization(&request).await
}

#[tokio::test]
async fn each_algorithm_signs_a_request_object_whose_parameters_alone_count() {
    for alg in Algorithm::ALL {
        let h = harness();
        let key = Key::generate(alg);
        let client = register(&h.provider, jwks(&[&key]), json!({})).await;
        let jwt = key.sign_object(&claims(&client.id, now(&h)));
        // RFC 9101 §5: the query's other parameters are ignored, however they differ.
        let query = format!(
            "{}&scope=write&state=other&response_type=token&redirect_uri={}",
            by_value(&client, &jwt),
            urlencode("https://evil.example/cb")
        );
        let pending = authorize(&h, &query).await.unwrap();
        assert!(pending.is_request_object(), "{alg}");
        assert!(!pending.is_pushed());
        assert_eq!(pending.scopes().to_string(), "read", "{alg}");
        assert_eq!(pending.state(), Some("s1"));
        assert_eq!(pending.redirect_uri().as_str(), REDIRECT);
        let redirect = approve(&h, pending).await;
        assert!(redirect.location().starts_with(REDIRECT), "{alg}");
        let code = redirect.param("code").expect("a code");
        let response = h.exchange_code(&client, &code).await;
        assert_eq!(
            response.status,
            200,
            "{alg}: {}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(response.json_body().unwrap()["scope"], "read");
    }
}

#[tokio::test]
async fn a_request_object_without_typ_is_accepted_and_one_of_another_typ_refused() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let untyped = key.sign_typed(&claims(&client.id, now(&h)), None);
    assert!(authorize(&h, &by_value(&client, &untyped)).await.is_ok());
    let full = key.sign_typed(
        &claims(&client.id, now(&h)),
        Some("application/oauth-authz-req+jwt"),
    );
    assert!(authorize(&h, &by_value(&client, &full)).await.is_ok());
    for typ in ["JWT", "at+jwt", "dpop+jwt"] {
        let jwt = key.sign_typed(&claims(&client.id, now(&h)), Some(typ));
        let why = page(
            authorize(&h, &by_value(&client, &jwt)).await,
            "invalid_request_object",
        );
        assert!(why.contains("typ"), "{typ}: {why}");
    }
}

/// Each claim check: a change to good claims, and a word the description must contain.
#[tokio::test]
async fn every_claim_check_refuses_with_invalid_request_object() {
    let h = harness();
    let key = Key::generate(Algorithm::Rs256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let t = now(&h);
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "wrong iss",
            Box::new(|c| c["iss"] = "someone".into()),
            "iss",
        ),
        ("no iss", Box::new(|c| c["iss"] = Value::Null), "iss"),
        (
            "wrong aud",
            Box::new(|c| c["aud"] = "https://other.example".into()),
            "aud",
        ),
        (
            "aud the authorization endpoint",
            Box::new(|c| c["aud"] = "https://auth.example.com/authorize".into()),
            "aud",
        ),
        (
            "wrong client_id",
            Box::new(|c| c["client_id"] = "another-client".into()),
            "client_id",
        ),
        (
            "no client_id",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("client_id");
            }),
            "client_id",
        ),
        (
            "expired",
            Box::new(move |c| {
                c["exp"] = (t - 120).into();
                c["nbf"] = (t - 600).into();
                c["iat"] = (t - 600).into();
            }),
            "expired",
        ),
        (
            "no exp",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "exp",
        ),
        (
            "nbf too old",
            Box::new(move |c| {
                c["nbf"] = (t - 2 * 3600).into();
                c["iat"] = t.into();
            }),
            "too old",
        ),
        (
            "iat too old",
            Box::new(move |c| {
                c["iat"] = (t - 2 * 3600).into();
                c.as_object_mut().unwrap().remove("nbf");
            }),
            "too old",
        ),
        (
            "exp too far",
            Box::new(move |c| c["exp"] = (t + 3 * 3600).into()),
            "too long",
        ),
        (
            "nbf to exp longer than 60 minutes",
            Box::new(move |c| {
                c["nbf"] = (t - 3000).into();
                c["exp"] = (t + 1200).into();
            }),
            "too long",
        ),
        (
            "nbf in the future",
            Box::new(move |c| c["nbf"] = (t + 600).into()),
            "not valid yet",
        ),
        (
            "request_uri inside",
            Box::new(|c| c["request_uri"] = "urn:ietf:params:oauth:request_uri:x".into()),
            "request_uri",
        ),
        (
            "request inside",
            Box::new(|c| c["request"] = "a.b.c".into()),
            "request",
        ),
        (
            "a parameter of the wrong type",
            Box::new(|c| c["scope"] = json!(["read"])),
            "scope",
        ),
        ("an empty jti", Box::new(|c| c["jti"] = "".into()), "jti"),
    ];
    for (name, change, word) in cases {
        let mut object = claims(&client.id, t);
        change(&mut object);
        let jwt = key.sign_object(&object);
        let why = page(
            authorize(&h, &by_value(&client, &jwt)).await,
            "invalid_request_object",
        );
        assert!(why.contains(word), "{name}: {why}");
    }
    // The controls pass: a good object, and one without nbf, iat or jti.
    assert!(
        authorize(
            &h,
            &by_value(&client, &key.sign_object(&claims(&client.id, t)))
        )
        .await
        .is_ok()
    );
    let mut minimal = claims(&client.id, t);
    for claim in ["nbf", "iat", "jti"] {
        minimal.as_object_mut().unwrap().remove(claim);
    }
    assert!(
        authorize(&h, &by_value(&client, &key.sign_object(&minimal)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn keys_and_algorithms_the_client_did_not_register_are_refused() {
    let h = harness();
    let rsa = Key::generate(Algorithm::Rs256);
    let ec = Key::generate(Algorithm::Es256);
    let stranger = Key::generate(Algorithm::Es256);
    let client = register(
        &h.provider,
        jwks(&[&rsa, &ec]),
        json!({"request_object_signing_alg": "ES256"}),
    )
    .await;
    let good = claims(&client.id, now(&h));
    assert!(
        authorize(&h, &by_value(&client, &ec.sign_object(&good)))
            .await
            .is_ok()
    );
    // A registered key, but not of the registered request_object_signing_alg.
    let why = page(
        authorize(&h, &by_value(&client, &rsa.sign_object(&good))).await,
        "invalid_request_object",
    );
    assert!(why.contains("request_object_signing_alg"), "{why}");
    // A key that is not the client's: with its own kid, and with the kid of a registered one.
    let why = page(
        authorize(&h, &by_value(&client, &stranger.sign_object(&good))).await,
        "invalid_request_object",
    );
    assert!(why.contains("no key"), "{why}");
    let forged = stranger.sign_as(&good, Some(AUTHZ_TYP), &ec.kid);
    let why = page(
        authorize(&h, &by_value(&client, &forged)).await,
        "invalid_request_object",
    );
    assert!(why.contains("signature"), "{why}");
    // HMAC, with anything as the secret (the client's public key, say): not accepted.
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(ec.public.to_string().as_bytes()).unwrap(),
    )
    .unwrap();
    let why = page(
        authorize(&h, &by_value(&client, &hmac)).await,
        "invalid_request_object",
    );
    assert!(why.contains("alg"), "{why}");
    // alg none, unsigned.
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": AUTHZ_TYP})),
        encode(&good)
    );
    let why = page(
        authorize(&h, &by_value(&client, &unsigned)).await,
        "invalid_request_object",
    );
    assert!(why.contains("none"), "{why}");
    // An encrypted request object (five parts) is not read.
    let jwe = format!(
        "{}.a.b.c.d",
        encode(&json!({"alg": "RSA-OAEP", "enc": "A256GCM"}))
    );
    let why = page(
        authorize(&h, &by_value(&client, &jwe)).await,
        "invalid_request_object",
    );
    assert!(why.contains("JWE"), "{why}");
    // Garbage.
    page(
        authorize(&h, &by_value(&client, "not-a-jwt")).await,
        "invalid_request_object",
    );
    // A client without jwks cannot send request objects at all.
    let public = h.public().await;
    let why = page(
        authorize(
            &h,
            &by_value(&public, &ec.sign_object(&claims(&public.id, now(&h)))),
        )
        .await,
        "invalid_request_object",
    );
    assert!(why.contains("jwks"), "{why}");
}

#[tokio::test]
async fn an_invalid_request_object_is_never_redirected_to_its_redirect_uri() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let attacker = Key::generate(Algorithm::Es256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    // Unverified, the object's redirect_uri (even a registered one) and the query's are not
    // followed; and a refusal a verified object would redirect (a bad scope) is a page too.
    let mut object = claims(&client.id, now(&h));
    object["scope"] = "no-such-scope".into();
    let jwt = attacker.sign_object(&object);
    let query = format!(
        "{}&redirect_uri={}",
        by_value(&client, &jwt),
        urlencode(REDIRECT)
    );
    page(authorize(&h, &query).await, "invalid_request_object");
    // The same object, verified: now its redirect_uri is the client's own word, and the
    // error goes there once the user has signed in.
    let jwt = key.sign_object(&object);
    match authorize(&h, &by_value(&client, &jwt)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_scope");
            let redirect = redirect.after_login(&user());
            assert!(redirect.location().starts_with(REDIRECT));
            assert_eq!(redirect.param("error").as_deref(), Some("invalid_scope"));
            assert_eq!(redirect.param("state").as_deref(), Some("s1"));
        }
        other => panic!("expected an error redirect, got {other:?}"),
    }
    // A verified object naming a redirect URI the client did not register: a page.
    let mut object = claims(&client.id, now(&h));
    object["redirect_uri"] = "https://evil.example/cb".into();
    page(
        authorize(&h, &by_value(&client, &key.sign_object(&object))).await,
        "invalid_request",
    );
}

#[tokio::test]
async fn a_request_object_with_a_jti_is_used_once_and_may_be_read_again_before() {
    let h = harness();
    let key = Key::generate(Algorithm::EdDsa);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let jwt = key.sign_object(&claims(&client.id, now(&h)));
    // Read twice (the host parses the query again after its login page), approved once.
    let first = authorize(&h, &by_value(&client, &jwt)).await.unwrap();
    let again = authorize(&h, &by_value(&client, &jwt)).await.unwrap();
    let redirect = approve(&h, first).await;
    assert!(redirect.param("code").is_some());
    let replayed = approve(&h, again).await;
    assert!(replayed.location().starts_with(REDIRECT));
    assert!(replayed.param("code").is_none());
    assert_eq!(
        replayed.param("error").as_deref(),
        Some("invalid_request_object")
    );
    // A second instance sharing the store knows the jti too.
    let other = Provider::builder(config(), h.store.clone())
        .clock(std::sync::Arc::new(h.clock.clone()))
        .build();
    let pending = other.authorize(&params(&by_value(&client, &jwt))).await;
    let scopes = tessera::ScopeSet::parse("read").unwrap();
    let replayed = pending.unwrap().approve(&other, user(), &scopes).await;
    assert_eq!(
        replayed.param("error").as_deref(),
        Some("invalid_request_object")
    );
    // Without a jti, an object may be used again (until it expires).
    let mut object = claims(&client.id, now(&h));
    object.as_object_mut().unwrap().remove("jti");
    let jwt = key.sign_object(&object);
    for _ in 0..2 {
        let pending = authorize(&h, &by_value(&client, &jwt)).await.unwrap();
        assert!(approve(&h, pending).await.param("code").is_some());
    }
}

#[tokio::test]
async fn request_with_request_uri_and_foreign_request_uris_are_refused() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let jwt = key.sign_object(&claims(&client.id, now(&h)));
    let both = format!(
        "{}&request_uri={}",
        by_value(&client, &jwt),
        urlencode("urn:ietf:params:oauth:request_uri:abc")
    );
    let why = page(authorize(&h, &both).await, "invalid_request");
    assert!(why.contains("request_uri"), "{why}");
    let foreign = format!(
        "client_id={}&request_uri={}",
        client.id,
        urlencode("https://client.example/request.jwt")
    );
    page(authorize(&h, &foreign).await, "request_uri_not_supported");
}

#[tokio::test]
async fn a_pushed_request_object_is_sealed_and_authorized_by_reference() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let jwt = key.sign_object(&claims(&client.id, now(&h)));
    // Outside the object, the form's parameters are ignored here too.
    let response = push(&h, &client, &format!("request={jwt}&scope=write&state=x")).await;
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
    let pending = authorize(&h, &query).await.unwrap();
    assert!(pending.is_pushed());
    assert_eq!(pending.scopes().to_string(), "read");
    assert_eq!(pending.state(), Some("s1"));
    let code = approve(&h, pending).await.param("code").unwrap();
    assert_eq!(h.exchange_code(&client, &code).await.status, 200);
    // Its jti was used up by the push.
    let again = push(&h, &client, &format!("request={jwt}")).await;
    assert_eq!(again.status, 400);
    assert_eq!(error_of(&again), "invalid_request_object");
    // An invalid object is refused as JSON, never redirected.
    let stranger = Key::generate(Algorithm::Es256);
    let bad = push(
        &h,
        &client,
        &format!(
            "request={}",
            stranger.sign_object(&claims(&client.id, now(&h)))
        ),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(error_of(&bad), "invalid_request_object");
    assert!(bad.header("location").is_none());
    // A pushed object of another client's id: the authenticated client must be the object's.
    let other = register(&h.provider, jwks(&[&key]), json!({})).await;
    let theirs = push(
        &h,
        &other,
        &format!("request={}", key.sign_object(&claims(&client.id, now(&h)))),
    )
    .await;
    assert_eq!(error_of(&theirs), "invalid_request_object");
}

#[tokio::test]
async fn a_provider_requiring_signed_request_objects_refuses_plain_requests() {
    let h = harness_with(
        builder()
            .require_signed_request_objects(true)
            .build()
            .unwrap(),
    );
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(metadata["require_signed_request_object"], true);
    let key = Key::generate(Algorithm::Es256);
    let client = register(&h.provider, jwks(&[&key]), json!({})).await;
    let plain = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s1&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    match authorize(&h, &plain).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_request");
            let why = redirect.error().description.clone().unwrap_or_default();
            assert!(why.contains("signed request object"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let pushed = push(
        &h,
        &client,
        &plain.replace(&format!("client_id={}&", client.id), ""),
    )
    .await;
    assert_eq!(pushed.status, 400);
    assert_eq!(error_of(&pushed), "invalid_request");
    // Signed, by value and pushed: accepted.
    let jwt = key.sign_object(&claims(&client.id, now(&h)));
    assert!(authorize(&h, &by_value(&client, &jwt)).await.is_ok());
    let jwt = key.sign_object(&claims(&client.id, now(&h)));
    assert_eq!(
        push(&h, &client, &format!("request={jwt}")).await.status,
        201
    );
}

#[tokio::test]
async fn a_client_requiring_signed_request_objects_has_its_plain_requests_refused() {
    let h = harness();
    let key = Key::generate(Algorithm::Rs256);
    let strict = register(
        &h.provider,
        jwks(&[&key]),
        json!({"require_signed_request_object": true}),
    )
    .await;
    let relaxed = register(&h.provider, jwks(&[&key]), json!({})).await;
    let plain = |id: &str| {
        format!(
            "response_type=code&client_id={id}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
            urlencode(REDIRECT)
        )
    };
    match authorize(&h, &plain(&strict.id)).await {
        Err(AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_request");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(authorize(&h, &plain(&relaxed.id)).await.is_ok());
    let jwt = key.sign_object(&claims(&strict.id, now(&h)));
    assert!(authorize(&h, &by_value(&strict, &jwt)).await.is_ok());
    // The provider does not advertise a requirement it does not have.
    assert!(
        h.provider
            .metadata_response()
            .json_body()
            .unwrap()
            .get("require_signed_request_object")
            .is_none()
    );
}

#[tokio::test]
async fn registration_checks_and_echoes_the_request_object_metadata() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let body = |extra: Value| {
        let mut body = json!({
            "client_name": "Signer",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "jwks": jwks(&[&key]),
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        body.to_string()
    };
    let response = h
        .provider
        .register(
            body(json!({
                "request_object_signing_alg": "ES256",
                "require_signed_request_object": true,
            }))
            .as_bytes(),
            None,
        )
        .await;
    assert_eq!(response.status, 201);
    let doc = response.json_body().unwrap();
    assert_eq!(doc["request_object_signing_alg"], "ES256");
    assert_eq!(doc["require_signed_request_object"], true);
    for (extra, word) in [
        (json!({"request_object_signing_alg": "none"}), "RS256"),
        (json!({"request_object_signing_alg": "HS256"}), "RS256"),
        (json!({"request_object_signing_alg": "RS256"}), "no key"),
        (json!({"request_object_signing_alg": 7}), "string"),
        (json!({"require_signed_request_object": "yes"}), "boolean"),
        (
            json!({"require_signed_request_object": true, "jwks": null}),
            "jwks",
        ),
    ] {
        let response = h
            .provider
            .register(body(extra.clone()).as_bytes(), None)
            .await;
        assert_eq!(response.status, 400, "{extra}");
        assert_eq!(error_of(&response), "invalid_client_metadata", "{extra}");
        let why = response.json_body().unwrap()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(why.contains(word), "{extra}: {why}");
    }
}

#[tokio::test]
async fn metadata_advertises_request_objects_by_value_only() {
    let h = harness();
    let doc = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(
        doc["request_object_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA", "PS256"])
    );
    assert!(doc.get("require_signed_request_object").is_none());
}
