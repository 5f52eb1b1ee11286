//! DPoP (RFC 9449): every proof check of §4.3 refuses what it must; the token endpoint binds
//! tokens to the proof's key, refuses replays, demands nonces when configured; introspection
//! shows the binding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;
use tessera::FormRequest;
use tessera::dpop::{DpopError, DpopPolicy, ProofRequest};
use tessera::jose::Algorithm;
use tessera::store::MemoryStore;
use tessera::testkit::{DpopKey, ManualClock, SeededEntropy, ath};

const TOKEN_URL: &str = "https://auth.example.com/token";
const NOW: i64 = 1_893_456_000; // 2030-01-01, the harness clock

fn check(proof: &str) -> Result<tessera::dpop::VerifiedProof, DpopError> {
    DpopPolicy::new().verify(&ProofRequest::new(proof, "POST", TOKEN_URL), NOW)
}

fn claims() -> serde_json::Value {
    json!({"jti": "j-1", "htm": "POST", "htu": TOKEN_URL, "iat": NOW})
}

fn refused(result: Result<tessera::dpop::VerifiedProof, DpopError>, needle: &str) {
    match result {
        Err(DpopError::Invalid(why)) => assert!(why.contains(needle), "{why} lacks {needle}"),
        other => panic!("expected invalid_dpop_proof ({needle}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_proof_of_each_algorithm_passes_and_names_its_key() {
    for alg in Algorithm::ALL {
        let key = DpopKey::generate(alg);
        let proof = key.sign(&key.header(), &claims()).await;
        let verified = check(&proof).unwrap();
        assert_eq!(verified.jkt(), key.jkt());
        assert_eq!(verified.jti(), "j-1");
    }
}

#[tokio::test]
async fn each_check_of_section_4_3_refuses() {
    let key = DpopKey::generate(Algorithm::Es256);
    let good = key.header();
    // 1-2: not one well-formed JWS.
    refused(check("a.b"), "compact JWS");
    refused(check(""), "compact JWS");
    // 4: typ.
    let mut h = good.clone();
    h["typ"] = "JWT".into();
    refused(check(&key.sign(&h, &claims()).await), "typ");
    h.as_object_mut().unwrap().remove("typ");
    refused(check(&key.sign(&h, &claims()).await), "typ");
    // 5: alg none and symmetric algs.
    let mut h = good.clone();
    h["alg"] = "none".into();
    refused(check(&key.sign(&h, &claims()).await), "alg");
    h["alg"] = "HS256".into();
    refused(check(&key.sign(&h, &claims()).await), "alg");
    // ... and an alg the policy does not accept.
    let proof = key.sign(&good, &claims()).await;
    let rsa_only = DpopPolicy::new().algorithms(&[Algorithm::Rs256]);
    refused(
        rsa_only.verify(&ProofRequest::new(&proof, "POST", TOKEN_URL), NOW),
        "alg",
    );
    // 6: the jwk header: absent, private, or another key's.
    let mut h = good.clone();
    h.as_object_mut().unwrap().remove("jwk");
    refused(check(&key.sign(&h, &claims()).await), "jwk");
    let mut h = good.clone();
    h["jwk"]["d"] = "AAAA".into();
    refused(check(&key.sign(&h, &claims()).await), "jwk");
    let mut h = good.clone();
    h["jwk"] = DpopKey::generate(Algorithm::Es256).public_jwk();
    refused(check(&key.sign(&h, &claims()).await), "signature");
    // 7: a tampered signature.
    let mut proof = key.sign(&good, &claims()).await;
    let last = proof.pop().unwrap();
    proof.push(if last == 'A' { 'B' } else { 'A' });
    assert!(check(&proof).is_err());
    // Missing claims.
    for name in ["jti", "htm", "htu", "iat"] {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(name);
        refused(check(&key.sign(&good, &c).await), "lacks");
    }
    // 8: htm.
    let mut c = claims();
    c["htm"] = "GET".into();
    refused(check(&key.sign(&good, &c).await), "htm");
    c["htm"] = "post".into();
    refused(check(&key.sign(&good, &c).await), "htm");
    // 9: htu.
    for htu in [
        "https://auth.example.com/other",
        "https://evil.example/token",
        "http://auth.example.com/token",
        "https://auth.example.com:8443/token",
        "not a url",
    ] {
        let mut c = claims();
        c["htu"] = htu.into();
        refused(check(&key.sign(&good, &c).await), "htu");
    }
    // 11: iat too old, or in the future.
    let mut c = claims();
    c["iat"] = (NOW - 301).into();
    refused(check(&key.sign(&good, &c).await), "old");
    c["iat"] = (NOW + 61).into();
    refused(check(&key.sign(&good, &c).await), "future");
    c["iat"] = "now".into();
    refused(check(&key.sign(&good, &c).await), "type");
    // jti empty or huge.
    let mut c = claims();
    c["jti"] = "".into();
    refused(check(&key.sign(&good, &c).await), "jti");
    c["jti"] = "x".repeat(300).into();
    refused(check(&key.sign(&good, &c).await), "jti");
}

#[tokio::test]
async fn htu_is_compared_after_normalisation_without_query_and_fragment() {
    let key = DpopKey::generate(Algorithm::Es256);
    for htu in [
        "https://auth.example.com/token?x=1",
        "https://auth.example.com/token#frag",
        "HTTPS://Auth.Example.COM:443/token",
        "https://auth.example.com/a/../token",
    ] {
        let mut c = claims();
        c["htu"] = htu.into();
        assert!(check(&key.sign(&key.header(), &c).await).is_ok(), "{htu}");
    }
}

#[tokio::test]
async fn ath_must_be_the_hash_of_the_access_token_at_a_resource() {
    let key = DpopKey::generate(Algorithm::Es256);
    let url = "https://api.example/me";
    let at = "tsr_at_example";
    let at_resource = |proof: &str| {
        DpopPolicy::new().verify(
            &ProofRequest::new(proof, "GET", url).with_access_token(at),
            NOW,
        )
    };
    let good = key.proof("GET", url, NOW, Some(at), None).await;
    assert!(at_resource(&good).is_ok());
    let none = key.proof("GET", url, NOW, None, None).await;
    refused(at_resource(&none), "ath");
    let other = key.proof("GET", url, NOW, Some("another"), None).await;
    refused(at_resource(&other), "ath");
    assert_eq!(ath(at).len(), 43);
}

#[tokio::test]
async fn nonces_are_required_and_rotate_by_period() {
    let policy = DpopPolicy::new().with_nonces(&[9u8; 32]).unwrap();
    let key = DpopKey::generate(Algorithm::Es256);
    let verify =
        |proof: &str, now| policy.verify(&ProofRequest::new(proof, "POST", TOKEN_URL), now);
    let without = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    assert_eq!(verify(&without, NOW), Err(DpopError::UseNonce));
    let nonce = policy.nonce(NOW).unwrap();
    let with = key.proof("POST", TOKEN_URL, NOW, None, Some(&nonce)).await;
    assert!(verify(&with, NOW).is_ok());
    // Still good in the next period, not in the one after.
    let later = NOW + 300;
    let proof = key
        .proof("POST", TOKEN_URL, later, None, Some(&nonce))
        .await;
    assert!(verify(&proof, later).is_ok());
    let much_later = NOW + 600;
    let proof = key
        .proof("POST", TOKEN_URL, much_later, None, Some(&nonce))
        .await;
    assert_eq!(verify(&proof, much_later), Err(DpopError::UseNonce));
    assert_ne!(policy.nonce(much_later).unwrap(), nonce);
    // Another secret's nonce, and garbage, are refused.
    let other = DpopPolicy::new().with_nonces(&[8u8; 32]).unwrap();
    let foreign = other.nonce(NOW).unwrap();
    let proof = key
        .proof("POST", TOKEN_URL, NOW, None, Some(&foreign))
        .await;
    assert_eq!(verify(&proof, NOW), Err(DpopError::UseNonce));
    let proof = key
        .proof("POST", TOKEN_URL, NOW, None, Some("garbage"))
        .await;
    assert_eq!(verify(&proof, NOW), Err(DpopError::UseNonce));
    assert!(DpopPolicy::new().with_nonces(&[1u8; 16]).is_err());
}

async fn dpop_token(
    h: &Harness,
    client: &TestClient,
    body: &str,
    proof: &str,
) -> tessera::Response {
    let request = FormRequest::new(body.as_bytes().to_vec()).with_dpop(Some(proof));
    let request = match client.secret {
        Some(_) => request.with_authorization(Some(&client.basic())),
        None => request,
    };
    h.provider.token(&request).await
}

fn introspect_body(h: &Harness, client: &TestClient, token: &str) -> FormRequest {
    let _ = h;
    FormRequest::new(format!("token={token}").into_bytes())
        .with_authorization(Some(&client.basic()))
}

#[tokio::test]
async fn a_token_request_with_a_proof_gets_a_bound_dpop_token_and_a_replay_is_refused() {
    let h = harness();
    let client = h.confidential().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let body = "grant_type=client_credentials&scope=read";
    let response = dpop_token(&h, &client, body, &proof).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let tokens = response.json_body().unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    // Introspection shows the binding.
    let at = tokens["access_token"].as_str().unwrap();
    let info = h
        .provider
        .introspect(&introspect_body(&h, &client, at))
        .await
        .json_body()
        .unwrap();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], key.jkt());
    // The same proof again: a replay.
    let replay = dpop_token(&h, &client, body, &proof).await;
    assert_eq!(replay.status, 400);
    assert_eq!(error_of(&replay), "invalid_dpop_proof");
    // A proof for another endpoint.
    let wrong = key
        .proof("POST", "https://auth.example.com/revoke", NOW, None, None)
        .await;
    assert_eq!(
        error_of(&dpop_token(&h, &client, body, &wrong).await),
        "invalid_dpop_proof"
    );
    // Without a proof: a bearer token, no cnf.
    let plain = h.token(&client, body).await.json_body().unwrap();
    assert_eq!(plain["token_type"], "Bearer");
    let at = plain["access_token"].as_str().unwrap();
    let info = h
        .provider
        .introspect(&introspect_body(&h, &client, at))
        .await
        .json_body()
        .unwrap();
    assert_eq!(info["token_type"], "Bearer");
    assert!(info.get("cnf").is_none());
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_the_key() {
    let h = harness();
    let client = h.public().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let code = h.code(&client, "read offline_access").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        urlencode(REDIRECT),
        client.id
    );
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let response = dpop_token(&h, &client, &body, &proof).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let tokens = response.json_body().unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={}",
        client.id
    );
    // Without a proof, and with another key's: refused.
    let bare = h.token(&client, &body).await;
    assert_eq!(error_of(&bare), "invalid_dpop_proof");
    let thief = DpopKey::generate(Algorithm::Es256);
    let stolen = thief.proof("POST", TOKEN_URL, NOW, None, None).await;
    assert_eq!(
        error_of(&dpop_token(&h, &client, &body, &stolen).await),
        "invalid_dpop_proof"
    );
    // With the key: a new bound pair.
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let response = dpop_token(&h, &client, &body, &proof).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let next = response.json_body().unwrap();
    assert_eq!(next["token_type"], "DPoP");
}

#[tokio::test]
async fn with_nonces_the_token_endpoint_answers_use_dpop_nonce_with_a_nonce() {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(42)))
        .dpop(DpopPolicy::new().with_nonces(&[5u8; 32]).unwrap())
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let client = h.confidential().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let body = "grant_type=client_credentials&scope=read";
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let response = dpop_token(&h, &client, body, &proof).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "use_dpop_nonce");
    let nonce = response
        .header("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_owned();
    let proof = key.proof("POST", TOKEN_URL, NOW, None, Some(&nonce)).await;
    let response = dpop_token(&h, &client, body, &proof).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert!(
        metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_the_key() {
    let h = harness();
    let client = h.public().await;
    let key = DpopKey::generate(Algorithm::Es256);
    let query = |jkt: &str| {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256&dpop_jkt={jkt}",
            client.id,
            urlencode(REDIRECT)
        )
    };
    let redeem = |code: String| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
            urlencode(REDIRECT),
            client.id
        )
    };
    // Without a proof, and with another key's: refused (and the code is spent).
    let code = h.approve_code(&query(&key.jkt())).await;
    assert_eq!(
        error_of(&h.token(&client, &redeem(code)).await),
        "invalid_dpop_proof"
    );
    let code = h.approve_code(&query(&key.jkt())).await;
    let other = DpopKey::generate(Algorithm::Es256);
    let proof = other.proof("POST", TOKEN_URL, NOW, None, None).await;
    let response = dpop_token(&h, &client, &redeem(code), &proof).await;
    assert_eq!(error_of(&response), "invalid_dpop_proof");
    // With the key: tokens bound to it.
    let code = h.approve_code(&query(&key.jkt())).await;
    let proof = key.proof("POST", TOKEN_URL, NOW, None, None).await;
    let response = dpop_token(&h, &client, &redeem(code), &proof).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json_body().unwrap()["token_type"], "DPoP");
    // A malformed dpop_jkt is refused at the authorization endpoint.
    match h.provider.authorize(&params(&query("short"))).await {
        Err(tessera::AuthorizeError::Redirect(redirect)) => {
            assert_eq!(redirect.error().code.as_str(), "invalid_request");
        }
        other => panic!(
            "expected an invalid_request redirect, got {:?}",
            other.is_ok()
        ),
    }
}

const API: &str = "https://auth.example.com/api/me";

async fn bound_token(h: &Harness, key: &DpopKey, nonce: Option<&str>) -> String {
    let client = h.confidential().await;
    let proof = key.proof("POST", TOKEN_URL, NOW, None, nonce).await;
    let response = dpop_token(
        h,
        &client,
        "grant_type=client_credentials&scope=read",
        &proof,
    )
    .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn at_resource(
    h: &Harness,
    authorization: &str,
    proof: Option<&str>,
) -> Result<tessera::Principal, tessera::BearerError> {
    let request = tessera::BearerRequest::header(authorization).with_dpop(proof, "GET", API);
    h.provider
        .validate_bearer(&request, &tessera::ScopeSet::parse("read").unwrap())
        .await
}

#[tokio::test]
async fn a_resource_accepts_a_bound_token_only_with_a_fresh_proof_by_its_key() {
    let h = harness();
    let key = DpopKey::generate(Algorithm::Es256);
    let at = bound_token(&h, &key, None).await;
    let dpop = format!("DPoP {at}");
    let proof = key.proof("GET", API, NOW, Some(&at), None).await;
    assert!(at_resource(&h, &dpop, Some(&proof)).await.is_ok());
    // The same proof again: a replay.
    let error = at_resource(&h, &dpop, Some(&proof)).await.unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::InvalidDpopProof));
    assert_eq!(error.status(), 401);
    let challenge = error.challenge("api");
    assert!(
        challenge.starts_with("DPoP realm=\"api\", algs=\""),
        "{challenge}"
    );
    assert!(challenge.contains("ES256") && challenge.contains("error=\"invalid_dpop_proof\""));
    // As a Bearer token: refused with a DPoP challenge.
    let error = at_resource(&h, &format!("Bearer {at}"), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::InvalidToken));
    assert_eq!(error.status(), 401);
    assert!(error.challenge("api").starts_with("DPoP "));
    // Without a proof, with another key's, without ath, for another URL or method.
    let error = at_resource(&h, &dpop, None).await.unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::InvalidDpopProof));
    let other = DpopKey::generate(Algorithm::Es256);
    let foreign = other.proof("GET", API, NOW, Some(&at), None).await;
    let error = at_resource(&h, &dpop, Some(&foreign)).await.unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::InvalidDpopProof));
    for proof in [
        key.proof("GET", API, NOW, None, None).await,
        key.proof(
            "GET",
            "https://auth.example.com/other",
            NOW,
            Some(&at),
            None,
        )
        .await,
        key.proof("POST", API, NOW, Some(&at), None).await,
    ] {
        let error = at_resource(&h, &dpop, Some(&proof)).await.unwrap_err();
        assert_eq!(error.code, Some(tessera::ErrorCode::InvalidDpopProof));
    }
    // A bearer token sent with the DPoP scheme is refused; as Bearer it works.
    let client = h.confidential().await;
    let plain = h
        .token(&client, "grant_type=client_credentials&scope=read")
        .await;
    let plain = plain.json_body().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = key.proof("GET", API, NOW, Some(&plain), None).await;
    let error = at_resource(&h, &format!("DPoP {plain}"), Some(&proof))
        .await
        .unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::InvalidToken));
    assert!(
        at_resource(&h, &format!("Bearer {plain}"), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn with_nonces_a_resource_answers_use_dpop_nonce_with_a_nonce() {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let policy = DpopPolicy::new().with_nonces(&[5u8; 32]).unwrap();
    let nonce = policy.nonce(NOW).unwrap();
    let provider = tessera::Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(42)))
        .dpop(policy)
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let key = DpopKey::generate(Algorithm::Es256);
    let at = bound_token(&h, &key, Some(&nonce)).await;
    let dpop = format!("DPoP {at}");
    let proof = key.proof("GET", API, NOW, Some(&at), None).await;
    let error = at_resource(&h, &dpop, Some(&proof)).await.unwrap_err();
    assert_eq!(error.code, Some(tessera::ErrorCode::UseDpopNonce));
    assert_eq!(error.status(), 401);
    assert!(error.challenge("api").contains("error=\"use_dpop_nonce\""));
    let response = error.to_response(&h.provider);
    assert_eq!(response.header("dpop-nonce"), Some(nonce.as_str()));
    let proof = key.proof("GET", API, NOW, Some(&at), Some(&nonce)).await;
    assert!(at_resource(&h, &dpop, Some(&proof)).await.is_ok());
}
