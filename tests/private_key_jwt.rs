//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3): clients register `jwks` by
//! value, and authenticate at the token, introspection and revocation endpoints with
//! assertions signed by an independent implementation (`jsonwebtoken`); every check refuses
//! with 401 `invalid_client`, and a `jti` is accepted once across instances sharing a store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/client_key.rs"]
mod client_key;
mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use client_key::{
    ASSERTION_TYPE, Change, ISSUER, Key, claim_cases, claims, client_credentials, jwks, refused,
    with_assertion,
};
use common::{Harness, REDIRECT, error_of, harness, urlencode};
use serde_json::{Value, json};
use tessera::jose::Algorithm;
use tessera::testkit::{ResponseExt, SeededEntropy};
use tessera::{FormRequest, Provider};

const TOKEN_ENDPOINT: &str = "https://auth.example.com/token";

fn now(h: &Harness) -> i64 {
    h.provider.now().unix_timestamp()
}

/// Registers a `private_key_jwt` client through dynamic registration; returns its ID.
async fn register(provider: &Provider, jwks: Value, extra: Value) -> String {
    let mut body = json!({
        "client_name": "Signer",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "private_key_jwt",
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
    assert!(doc.get("client_secret").is_none(), "no secret: {doc}");
    assert_eq!(doc["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(
        doc["jwks"], body["jwks"],
        "the keys are echoed as registered"
    );
    doc["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_algorithm_authenticates_at_token_introspection_and_revocation() {
    for alg in Algorithm::ALL {
        let h = harness();
        let key = Key::generate(alg);
        let id = register(&h.provider, jwks(&[&key]), json!({})).await;

        let response = client_credentials(&h.provider, &key.sign(&claims(&id, now(&h)))).await;
        assert_eq!(
            response.status,
            200,
            "{alg}: {}",
            String::from_utf8_lossy(&response.body)
        );
        let token = response.json_body().unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        let introspect = |assertion: String| {
            let body = format!("token={token}");
            let provider = h.provider.clone();
            async move {
                provider
                    .introspect(&with_assertion(&body, &assertion))
                    .await
            }
        };
        let active = introspect(key.sign(&claims(&id, now(&h)))).await;
        assert_eq!(active.status, 200, "{alg}");
        let active = active.json_body().unwrap();
        assert_eq!(active["active"], true, "{alg}");
        assert_eq!(active["client_id"], id.as_str());

        let revoke = h
            .provider
            .revoke(&with_assertion(
                &format!("token={token}"),
                &key.sign(&claims(&id, now(&h))),
            ))
            .await;
        assert_eq!(revoke.status, 200, "{alg}");
        let gone = introspect(key.sign(&claims(&id, now(&h)))).await;
        assert_eq!(gone.json_body().unwrap()["active"], false, "{alg}");

        // Introspection refuses a bad assertion as the token endpoint does.
        let bad = introspect(key.sign(&json!({"sub": id, "iss": "someone"}))).await;
        refused(&bad);
    }
}

#[tokio::test]
async fn the_audience_may_be_the_issuer_or_the_token_endpoint_and_typ_may_say_what_it_is() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let id = register(&h.provider, jwks(&[&key]), json!({})).await;
    let t = now(&h);
    let mut accepted = Vec::new();
    for aud in [json!(ISSUER), json!(TOKEN_ENDPOINT), json!([ISSUER])] {
        let mut c = claims(&id, t);
        c["aud"] = aud;
        accepted.push(key.sign(&c));
    }
    accepted.push(key.sign_typed(&claims(&id, t), None));
    accepted.push(key.sign_typed(&claims(&id, t), Some("client-authentication+jwt")));
    let mut with_id = claims(&id, t);
    with_id["nbf"] = json!(t);
    accepted.push(key.sign(&with_id));
    for (i, assertion) in accepted.iter().enumerate() {
        let response = client_credentials(&h.provider, assertion).await;
        assert_eq!(
            response.status,
            200,
            "case {i}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    // A matching client_id parameter is fine too.
    let body = format!("grant_type=client_credentials&client_id={}", urlencode(&id));
    let response = h
        .provider
        .token(&with_assertion(&body, &key.sign(&claims(&id, t))))
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn each_claim_check_refuses_and_says_which_claim() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let id = register(&h.provider, jwks(&[&key]), json!({})).await;
    let t = now(&h);
    let mut cases = claim_cases(t);
    let more: Vec<(&str, Change, &str)> = vec![
        (
            "another endpoint as aud",
            Box::new(|c| c["aud"] = json!("https://auth.example.com/introspect")),
            "aud",
        ),
        (
            "no aud",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("aud"))),
            "aud",
        ),
        (
            "no iss",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))),
            "iss",
        ),
        (
            "no exp",
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            "exp",
        ),
        ("empty jti", Box::new(|c| c["jti"] = json!("")), "jti"),
        (
            "iat ahead",
            Box::new(move |c| c["iat"] = json!(t + 120)),
            "not valid yet",
        ),
        (
            "exp a string",
            Box::new(move |c| c["exp"] = json!((t + 60).to_string())),
            "types",
        ),
    ];
    cases.extend(more);
    for (name, change, needle) in cases {
        let mut c = claims(&id, t);
        change(&mut c);
        let description = refused(&client_credentials(&h.provider, &key.sign(&c)).await);
        assert!(description.contains(needle), "{name}: {description}");
    }
    // Within the leeway an expired assertion still passes (clocks differ).
    let mut late = claims(&id, t);
    late["exp"] = json!(t - 30);
    assert_eq!(
        client_credentials(&h.provider, &key.sign(&late))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_jti_is_accepted_once_even_at_another_instance_sharing_the_store() {
    let h = harness();
    let key = Key::generate(Algorithm::EdDsa);
    let id = register(&h.provider, jwks(&[&key]), json!({})).await;
    let assertion = key.sign(&claims(&id, now(&h)));
    assert_eq!(
        client_credentials(&h.provider, &assertion).await.status,
        200
    );
    let description = refused(&client_credentials(&h.provider, &assertion).await);
    assert!(description.contains("used before"), "{description}");

    // Another instance on the same store: the first use there is still a replay.
    let second = Provider::builder(common::config(), h.store.clone())
        .clock(Arc::new(h.clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(7)))
        .build();
    let fresh = key.sign(&claims(&id, now(&h)));
    assert_eq!(client_credentials(&second, &fresh).await.status, 200);
    refused(&client_credentials(&h.provider, &fresh).await);
    refused(&client_credentials(&second, &assertion).await);

    // Another jti of the same client is a new assertion.
    let other = key.sign(&claims(&id, now(&h)));
    assert_eq!(client_credentials(&h.provider, &other).await.status, 200);
}

#[tokio::test]
async fn a_replay_stays_refused_until_the_assertion_expires() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let id = register(&h.provider, jwks(&[&key]), json!({})).await;
    let assertion = key.sign(&claims(&id, now(&h)));
    assert_eq!(
        client_credentials(&h.provider, &assertion).await.status,
        200
    );
    // Just inside exp plus the leeway: still remembered.
    h.clock.advance(time::Duration::seconds(60 + 59));
    let description = refused(&client_credentials(&h.provider, &assertion).await);
    assert!(description.contains("used before"), "{description}");
    // Past it: refused as expired, whatever the store remembers.
    h.clock.advance(time::Duration::seconds(2));
    let description = refused(&client_credentials(&h.provider, &assertion).await);
    assert!(description.contains("expired"), "{description}");
}

/// A JWS with this header and claims and a signature of garbage (the checks refuse it before
/// any signature is looked at).
fn forged(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

#[tokio::test]
async fn keys_algorithms_and_the_request_are_checked_before_any_claim() {
    let h = harness();
    let es = Key::generate(Algorithm::Es256);
    let rs = Key::generate(Algorithm::Rs256);
    let id = register(
        &h.provider,
        jwks(&[&es, &rs]),
        json!({"token_endpoint_auth_signing_alg": "ES256"}),
    )
    .await;
    let t = now(&h);
    assert_eq!(
        client_credentials(&h.provider, &es.sign(&claims(&id, t)))
            .await
            .status,
        200
    );

    // Signature failures and what the client did not register read alike.
    let generic = "client authentication failed";
    // RS256 is a key of the client, but not its registered algorithm.
    assert_eq!(
        refused(&client_credentials(&h.provider, &rs.sign(&claims(&id, t))).await),
        generic
    );
    // A key the client never registered, under the kid of one it did.
    let mut stranger = Key::generate(Algorithm::Es256);
    stranger.kid = es.kid.clone();
    assert_eq!(
        refused(&client_credentials(&h.provider, &stranger.sign(&claims(&id, t))).await),
        generic
    );
    // An unknown client.
    assert_eq!(
        refused(&client_credentials(&h.provider, &es.sign(&claims("nobody", t))).await),
        generic
    );

    // alg none and an unsupported alg are refused as such; HS256 (client_secret_jwt's) from
    // a private_key_jwt client reads as any failed authentication.
    let c = claims(&id, t);
    for header in [json!({"alg": "none"}), json!({"alg": "HS384"})] {
        let description = refused(&client_credentials(&h.provider, &forged(header, &c)).await);
        assert!(description.contains("alg"), "{description}");
    }
    assert_eq!(
        refused(&client_credentials(&h.provider, &forged(json!({"alg": "HS256"}), &c)).await),
        generic
    );
    let crit = json!({"alg": "ES256", "kid": es.kid, "crit": ["exp"], "exp": 1});
    let description = refused(&client_credentials(&h.provider, &forged(crit, &c)).await);
    assert!(description.contains("crit"), "{description}");
    // A typ of another kind of token.
    let description = refused(
        &client_credentials(&h.provider, &es.sign_typed(&claims(&id, t), Some("at+jwt"))).await,
    );
    assert!(description.contains("typ"), "{description}");
    // Not a JWS at all.
    refused(&client_credentials(&h.provider, "not-a-jws").await);

    // The assertion type must be exactly the JWT bearer one.
    let assertion = es.sign(&claims(&id, t));
    for kind in [
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "jwt",
        "",
    ] {
        let request = FormRequest::new(format!(
            "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
            urlencode(kind)
        ));
        let description = refused(&h.provider.token(&request).await);
        assert!(
            description.contains("client_assertion_type"),
            "{kind}: {description}"
        );
    }
    let request = FormRequest::new(format!(
        "grant_type=client_credentials&client_assertion={assertion}"
    ));
    refused(&h.provider.token(&request).await);
    let request = FormRequest::new(format!(
        "grant_type=client_credentials&client_assertion_type={}",
        urlencode(ASSERTION_TYPE)
    ));
    refused(&h.provider.token(&request).await);

    // A client_id that is not the assertion's sub.
    let request = with_assertion(
        "grant_type=client_credentials&client_id=someone",
        &es.sign(&claims(&id, t)),
    );
    let description = refused(&h.provider.token(&request).await);
    assert!(description.contains("client_id"), "{description}");

    // An assertion with a secret or Basic as well: two methods.
    let request = with_assertion(
        "grant_type=client_credentials&client_secret=x",
        &es.sign(&claims(&id, t)),
    );
    let description = refused(&h.provider.token(&request).await);
    assert!(description.contains("another method"), "{description}");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:x"))
    );
    let request = with_assertion("grant_type=client_credentials", &es.sign(&claims(&id, t)))
        .with_authorization(Some(&basic));
    refused(&h.provider.token(&request).await);

    // The private_key_jwt client cannot pass as a public one by naming itself.
    let request = FormRequest::new(format!("grant_type=client_credentials&client_id={id}"));
    refused(&h.provider.token(&request).await);
}

#[tokio::test]
async fn a_client_of_another_method_cannot_use_an_assertion() {
    let h = harness();
    let client = h.confidential().await;
    let key = Key::generate(Algorithm::Es256);
    let description =
        refused(&client_credentials(&h.provider, &key.sign(&claims(&client.id, now(&h)))).await);
    assert_eq!(description, "client authentication failed");
}

#[tokio::test]
async fn registration_refuses_keys_that_cannot_or_must_not_be_registered() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let mut private = key.public.clone();
    private["d"] = json!("AAAA");
    let mut encryption = key.public.clone();
    encryption["use"] = json!("enc");
    let base = |extra: Value| {
        let mut body = json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        body
    };
    let cases = [
        (
            "a private key",
            base(json!({"jwks": {"keys": [private]}})),
            "private member",
        ),
        (
            "an empty set",
            base(json!({"jwks": {"keys": []}})),
            "no keys",
        ),
        ("no jwks", base(json!({})), "jwks"),
        (
            "jwks not a set",
            base(json!({"jwks": [key.public.clone()]})),
            "JWK Set",
        ),
        (
            "an encryption key",
            base(json!({"jwks": {"keys": [encryption]}})),
            "cannot verify",
        ),
        (
            "jwks_uri",
            base(json!({"jwks_uri": "https://client.example/jwks"})),
            "jwks_uri",
        ),
        (
            "alg none",
            base(json!({"jwks": jwks(&[&key]), "token_endpoint_auth_signing_alg": "none"})),
            "token_endpoint_auth_signing_alg",
        ),
        (
            "an HMAC alg",
            base(json!({"jwks": jwks(&[&key]), "token_endpoint_auth_signing_alg": "HS256"})),
            "token_endpoint_auth_signing_alg",
        ),
        (
            "an alg no key has",
            base(json!({"jwks": jwks(&[&key]), "token_endpoint_auth_signing_alg": "RS256"})),
            "no key",
        ),
        (
            "client_secret_jwt",
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"}),
            "no client_secret_jwt key",
        ),
    ];
    for (name, body, needle) in cases {
        let response = h.provider.register(body.to_string().as_bytes(), None).await;
        assert_eq!(response.status, 400, "{name}");
        assert_eq!(error_of(&response), "invalid_client_metadata", "{name}");
        let description = response.json_body().unwrap()["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(description.contains(needle), "{name}: {description}");
    }
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt_and_its_algorithms() {
    let h = harness();
    let doc = h.provider.metadata_response().json_body().unwrap();
    for endpoint in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let methods = doc[format!("{endpoint}_auth_methods_supported")]
            .as_array()
            .unwrap();
        assert!(methods.contains(&json!("private_key_jwt")), "{endpoint}");
        assert!(!methods.contains(&json!("client_secret_jwt")), "{endpoint}");
        assert_eq!(
            doc[format!("{endpoint}_auth_signing_alg_values_supported")],
            json!(["RS256", "ES256", "EdDSA", "PS256"]),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn a_host_registered_client_with_keys_authenticates_too() {
    let h = harness();
    let key = Key::generate(Algorithm::Rs256);
    let set = tessera::jose::JwkSet::parse(&jwks(&[&key]).to_string()).unwrap();
    let registered = h
        .provider
        .register_client(
            tessera::ClientRegistration::new("Host", REDIRECT)
                .with_auth_method(tessera::AuthMethod::PrivateKeyJwt)
                .with_grant_types(vec![tessera::GrantType::ClientCredentials])
                .with_metadata(tessera::ClientMetadata::default().with_jwks(set)),
        )
        .await
        .unwrap();
    assert!(registered.secret.is_none());
    assert!(registered.client.secret.is_none());
    let id = registered.client.id.as_str().to_owned();
    assert_eq!(
        client_credentials(&h.provider, &key.sign(&claims(&id, now(&h))))
            .await
            .status,
        200
    );
    assert!(
        h.provider
            .rotate_client_secret(&registered.client.id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_device_authorization_endpoint_takes_assertions_too() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let id = register(
        &h.provider,
        jwks(&[&key]),
        json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
    )
    .await;
    let assertion = key.sign(&claims(&id, now(&h)));
    let start = h
        .provider
        .device_authorization(&with_assertion("scope=read", &assertion))
        .await;
    assert_eq!(
        start.status,
        200,
        "{}",
        String::from_utf8_lossy(&start.body)
    );
    assert!(start.json_body().unwrap()["device_code"].is_string());
    refused(
        &h.provider
            .device_authorization(&with_assertion("scope=read", &assertion))
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_uses_of_one_assertion_exactly_one_is_accepted() {
    let h = harness();
    let key = Key::generate(Algorithm::Es256);
    let id = register(&h.provider, jwks(&[&key]), json!({})).await;
    let assertion = key.sign(&claims(&id, now(&h)));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (provider, assertion) = (h.provider.clone(), assertion.clone());
            tokio::spawn(async move { client_credentials(&provider, &assertion).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        15,
        "{statuses:?}"
    );
}
