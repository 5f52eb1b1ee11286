//! The attack suite: the threats of RFC 6819 (OAuth 2.0 Threat Model) and RFC 9700 (OAuth 2.0
//! Security Best Current Practice), one test each, named by section, run against a provider
//! with the default configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use common::*;
use tessera::{
    AuthorizeError, BearerRequest, ClientRegistration, ErrorCode, FormRequest, Limits, Params,
    PkceRequirement, ScopeSet,
};

fn authorize_query(client_id: &str, redirect: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&scope=read&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        urlencode(redirect)
    )
}

async fn authorize(
    h: &Harness,
    query: &str,
) -> Result<tessera::PendingAuthorization, AuthorizeError> {
    let params = Params::from_query(query, &Limits::default()).unwrap();
    h.provider.authorize(&params).await
}

// RFC 9700 §4.1 (insufficient redirect URI validation), §4.11 (open redirection), §2.1 (exact
// string matching); RFC 6819 §4.2.4 (open redirector): a redirect URI that is not exactly a
// registered one is refused on the provider's own page, never followed, whatever the trick.
#[tokio::test]
async fn open_redirect_is_refused_without_redirecting() {
    let h = harness();
    let client = h.confidential().await;
    for evil in [
        "https://attacker.example/cb",
        "https://client.example.attacker.example/cb",
        "https://client.example/cb/../../attacker",
        "https://client.example/cb/",
        "https://client.example/cb?next=https://attacker.example",
        "https://client.example/cbx",
        "https://client.example@attacker.example/cb",
        "https://attacker.example@client.example/cb",
        "https://CLIENT.example/cb",
        "http://client.example/cb",
        "https://client.example:443/cb",
        "https://client.example/%63b",
        "https://client.example/cb#frag",
        "javascript:alert(1)//https://client.example/cb",
        "//attacker.example/cb",
    ] {
        match authorize(&h, &authorize_query(&client.id, evil, "")).await {
            Err(AuthorizeError::Untrusted(error)) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest, "{evil}");
            }
            Err(AuthorizeError::Redirect(r)) => panic!("{evil} redirected: {:?}", r.error()),
            Ok(_) => panic!("{evil} accepted"),
            Err(other) => panic!("{other:?}"),
        }
    }
    // Even with every other parameter wrong too, the redirect URI is checked first.
    let query = format!(
        "client_id={}&redirect_uri={}&response_type=token&scope=%22",
        client.id,
        urlencode("https://attacker.example/cb")
    );
    assert!(matches!(
        authorize(&h, &query).await,
        Err(AuthorizeError::Untrusted(_))
    ));
    // An unknown client has no trusted URI at all.
    assert!(matches!(
        authorize(&h, &authorize_query("nobody", REDIRECT, "")).await,
        Err(AuthorizeError::Untrusted(_))
    ));
}

// RFC 9700 §4.5 (authorization code injection), RFC 6819 §4.4.1.7: a code bound
// to one client, redirect URI and PKCE challenge is worthless with anything else.
#[tokio::test]
async fn code_injection_fails_for_another_client_uri_or_verifier() {
    let h = harness();
    let victim = h.confidential().await;
    let attacker = h.confidential().await;
    // The attacker's own client cannot redeem the victim's code.
    let code = h.code(&victim, "read").await;
    let response = h.exchange_code(&attacker, &code).await;
    assert_eq!(error_of(&response), "invalid_grant");
    // Another redirect URI than the one the code was issued to.
    let code = h.code(&victim, "read").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        urlencode("https://client.example/other")
    );
    assert_eq!(error_of(&h.token(&victim, &body).await), "invalid_grant");
    // The code injected into the victim's session, redeemed with the victim's own verifier
    // (which does not match the attacker's challenge).
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={}&code_challenge_method=S256",
        victim.id,
        urlencode(REDIRECT),
        tessera::pkce_s256_challenge(&"a".repeat(43))
    );
    let injected = h.approve_code(&query).await;
    let response = h.exchange_code(&victim, &injected).await;
    assert_eq!(error_of(&response), "invalid_grant");
}

// RFC 6749 §4.1.2 and §10.5, RFC 6819 §4.4.1.1 and §5.1.5.4: a code is
// single-use; a replay fails and revokes the tokens the first redemption issued.
#[tokio::test]
async fn code_replay_fails_and_revokes_the_first_tokens() {
    let h = harness();
    let client = h.confidential().await;
    let code = h.code(&client, "read offline_access").await;
    let first = h.exchange_code(&client, &code).await;
    assert_eq!(first.status, 200);
    let tokens = first.json_body().unwrap();
    let replay = h.exchange_code(&client, &code).await;
    assert_eq!(error_of(&replay), "invalid_grant");
    let header = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_err()
    );
    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        tokens["refresh_token"].as_str().unwrap()
    );
    assert_eq!(error_of(&h.token(&client, &refresh).await), "invalid_grant");
}

// RFC 6749 §4.1.2 and RFC 9700 §4.5: concurrent redemption of one code (a race between the client
// and an attacker who stole it) - at most one gets tokens, and since the code was also replayed,
// none of them stays live (a replay before the winner stored its tokens makes it fail).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_code_redemption_has_at_most_one_winner_and_no_live_token() {
    let h = std::sync::Arc::new(harness());
    let client = std::sync::Arc::new(h.confidential().await);
    for _ in 0..5 {
        let code = h.code(&client, "read").await;
        assert!(concurrent_redemptions(&h, &client, &code, 8).await <= 1);
    }
}

// RFC 9700 §4.8 (PKCE downgrade) and §2.1.1, RFC 7636 §7.2: no challenge, a `plain` challenge,
// or a verifier for a code that had no challenge - all refused.
#[tokio::test]
async fn pkce_downgrade_is_refused() {
    let h = harness();
    let client = h.public().await;
    let base = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s",
        client.id,
        urlencode(REDIRECT)
    );
    for extra in [
        String::new(),
        format!("&code_challenge={VERIFIER}&code_challenge_method=plain"),
        format!("&code_challenge={VERIFIER}"),
        format!("&code_challenge={CHALLENGE}&code_challenge_method=S512"),
        "&code_challenge_method=S256".to_owned(),
    ] {
        match authorize(&h, &format!("{base}{extra}")).await {
            Err(AuthorizeError::Redirect(r)) => {
                let r = r.after_login(&user());
                assert_eq!(
                    r.param("error").as_deref(),
                    Some("invalid_request"),
                    "{extra}"
                );
                assert!(r.param("code").is_none());
            }
            other => panic!("{extra}: {:?}", other.map(|p| p.scopes().clone())),
        }
    }
    // Where PKCE is optional (confidential clients, PublicClients), a code issued without a
    // challenge cannot be redeemed with a verifier (the downgrade signature, RFC 9700 §4.8.2).
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
    assert_eq!(
        error_of(&h.exchange_code(&client, &code).await),
        "invalid_grant"
    );
}

// RFC 9700 §4.14 (refresh token protection), RFC 6819 §5.2.2.3 (refresh token rotation):
// a stolen refresh token used after the client rotated it revokes the whole family - the
// attacker's and the client's tokens alike; another client cannot use it at all.
#[tokio::test]
async fn refresh_token_theft_and_reuse_revokes_the_family() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read offline_access").await;
    let stolen = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Another client holding the stolen token gets nothing, and revokes nothing.
    let thief = h.confidential().await;
    let body = format!("grant_type=refresh_token&refresh_token={stolen}");
    assert_eq!(error_of(&h.token(&thief, &body).await), "invalid_grant");
    // The legitimate client rotates.
    let rotated = h.token(&client, &body).await;
    assert_eq!(rotated.status, 200);
    let rotated = rotated.json_body().unwrap();
    // The attacker replays the stolen (now retired) token: refused, and the family dies.
    assert_eq!(error_of(&h.token(&client, &body).await), "invalid_grant");
    let successor = format!(
        "grant_type=refresh_token&refresh_token={}",
        rotated["refresh_token"].as_str().unwrap()
    );
    assert_eq!(
        error_of(&h.token(&client, &successor).await),
        "invalid_grant"
    );
    let header = format!("Bearer {}", rotated["access_token"].as_str().unwrap());
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
            .await
            .is_err()
    );
}

// RFC 9700 §4.14, RFC 6749 §6: refreshing never widens the scope of the grant.
#[tokio::test]
async fn refresh_cannot_widen_scope() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read offline_access").await;
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&scope=read%20write",
        tokens["refresh_token"].as_str().unwrap()
    );
    assert_eq!(error_of(&h.token(&client, &body).await), "invalid_scope");
}

// RFC 6819 §5.2.3 (client authentication), RFC 6749 §2.3.1, §5.2 and §10.1 (client
// impersonation): a wrong
// secret, an unknown client, a public client posing as confidential - all the same
// `invalid_client`, which does not reveal which part of the credential was wrong.
#[tokio::test]
async fn client_impersonation_fails_without_revealing_why() {
    let h = harness();
    let client = h.confidential().await;
    let public = h.public().await;
    let attempts = [
        TestClient {
            id: client.id.clone(),
            secret: Some("guess".into()),
        },
        TestClient {
            id: "no-such-client".into(),
            secret: Some("guess".into()),
        },
        TestClient {
            id: public.id.clone(),
            secret: Some("guess".into()),
        },
        TestClient {
            id: client.id.clone(),
            secret: Some(format!("{}x", client.secret.as_deref().unwrap())),
        },
    ];
    let mut descriptions = Vec::new();
    for attempt in &attempts {
        let response = h.token(attempt, "grant_type=client_credentials").await;
        assert_eq!(response.status, 401);
        assert!(
            response
                .header("www-authenticate")
                .unwrap()
                .starts_with("Basic")
        );
        let body = response.json_body().unwrap();
        assert_eq!(body["error"], "invalid_client");
        descriptions.push(body["error_description"].clone());
    }
    assert!(
        descriptions.windows(2).all(|w| w[0] == w[1]),
        "{descriptions:?}"
    );
    // A confidential client cannot skip authentication by naming itself.
    let unauthenticated = TestClient {
        id: client.id.clone(),
        secret: None,
    };
    let body = format!("grant_type=client_credentials&client_id={}", client.id);
    assert_eq!(
        error_of(&h.token(&unauthenticated, &body).await),
        "invalid_client"
    );
}

// RFC 9700 §4.4 (mix-up attacks) and RFC 9207: every authorization response, success or error,
// names the issuer; metadata says so.
#[tokio::test]
async fn mix_up_defence_iss_on_every_authorization_response() {
    let h = harness();
    let client = h.confidential().await;
    let pending = authorize(&h, &authorize_query(&client.id, REDIRECT, ""))
        .await
        .unwrap();
    let scopes = pending.scopes().clone();
    let success = pending.approve(&h.provider, user(), &scopes).await;
    assert_eq!(
        success.param("iss").as_deref(),
        Some("https://auth.example.com")
    );
    let pending = authorize(&h, &authorize_query(&client.id, REDIRECT, ""))
        .await
        .unwrap();
    let denied = pending.deny(&h.provider);
    assert_eq!(
        denied.param("iss").as_deref(),
        Some("https://auth.example.com")
    );
    let bogus = authorize_query(&client.id, REDIRECT, "").replace("scope=read", "scope=bogus");
    match authorize(&h, &bogus).await {
        Err(AuthorizeError::Redirect(r)) => {
            let r = r.after_login(&user());
            assert_eq!(r.param("iss").as_deref(), Some("https://auth.example.com"))
        }
        _ => panic!("expected a redirected error"),
    }
    let metadata = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(metadata["issuer"], "https://auth.example.com");
}

// RFC 9700 §4.7 (CSRF), RFC 6819 §4.4.1.8 and §5.3.5, RFC 6749 §10.12: `state` comes back
// byte for byte on success and on error, and PKCE binds the code to the client's session.
#[tokio::test]
async fn csrf_state_round_trips_exactly() {
    let h = harness();
    let client = h.confidential().await;
    for state in ["xyz", "a b&c=d", "ünï", "%2F%3F", "\"><script>"] {
        let extra = format!("&state2=&x={}", urlencode(state));
        let query = authorize_query(&client.id, REDIRECT, &extra)
            .replace("state=xyz", &format!("state={}", urlencode(state)));
        let pending = authorize(&h, &query).await.unwrap();
        assert_eq!(pending.state(), Some(state));
        let scopes = pending.scopes().clone();
        let redirect = pending.approve(&h.provider, user(), &scopes).await;
        assert_eq!(redirect.param("state").as_deref(), Some(state));
        let query = query.replace("response_type=code", "response_type=token");
        match authorize(&h, &query).await {
            Err(AuthorizeError::Redirect(r)) => {
                let r = r.after_login(&user());
                assert_eq!(r.param("state").as_deref(), Some(state));
                assert_eq!(
                    r.param("error").as_deref(),
                    Some("unsupported_response_type")
                );
            }
            _ => panic!("expected a redirected error"),
        }
    }
}

// RFC 9700 §4.2 (credential leakage via Referer) and §4.3 (browser history), RFC 6750 §5.3,
// RFC 6749 §10.3: only a code travels in the Location, never a token; the
// redirect forbids Referer and caching; token responses are no-store; the implicit grant is off.
#[tokio::test]
async fn no_token_leaks_through_location_or_referer() {
    let h = harness();
    let client = h.confidential().await;
    let pending = authorize(&h, &authorize_query(&client.id, REDIRECT, ""))
        .await
        .unwrap();
    let scopes = pending.scopes().clone();
    let response = pending
        .approve(&h.provider, user(), &scopes)
        .await
        .to_response();
    assert_eq!(response.status, 302);
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let location = response.header("location").unwrap();
    assert!(location.contains("code=tsr_ac_"));
    assert!(!location.contains("access_token") && !location.contains("tsr_at_"));
    assert!(!location.contains('#'));
    let tokens = h.token(&client, "grant_type=client_credentials").await;
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    assert_eq!(tokens.header("pragma"), Some("no-cache"));
    // Hosts that turn query tokens off (RFC 6750 §2.3 discourages them) are obeyed.
    let h = harness_with(config());
    let client = h.confidential().await;
    let access = h
        .token(&client, "grant_type=client_credentials")
        .await
        .json_body()
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = format!("access_token={access}");
    let refused = h
        .provider
        .validate_bearer(
            &BearerRequest::new(None, Some(&query), None),
            &ScopeSet::new(),
        )
        .await
        .expect_err("query tokens are off");
    assert_eq!(refused.code, None, "no token was seen at all");
}

// RFC 6819 §4.4.1.11 (denial of service exhausting resources): every size bound answers a described 400, quickly.
#[tokio::test]
async fn oversized_input_is_bounded_with_clear_errors() {
    let h = harness();
    let client = h.confidential().await;
    let limits = Limits::default();
    let cases = [
        (
            format!(
                "grant_type=client_credentials&pad={}",
                "x".repeat(limits.max_bytes)
            ),
            "bytes",
        ),
        (
            (0..=limits.max_params)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join("&"),
            "parameters",
        ),
        (
            format!(
                "grant_type=client_credentials&x={}",
                "x".repeat(limits.max_value_len + 1)
            ),
            "longer",
        ),
    ];
    for (body, needle) in cases {
        let started = Instant::now();
        let response = h.token(&client, &body).await;
        assert!(started.elapsed().as_secs() < 2);
        assert_eq!(response.status, 400);
        let json = response.json_body().unwrap();
        assert_eq!(json["error"], "invalid_request");
        assert!(
            json["error_description"].as_str().unwrap().contains(needle),
            "{json}"
        );
    }
    // Scope count and scope token length.
    let many = (0..=ScopeSet::MAX_SCOPES)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let body = format!("grant_type=client_credentials&scope={}", urlencode(&many));
    let json = h.token(&client, &body).await.json_body().unwrap();
    assert_eq!(json["error"], "invalid_scope");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("too many")
    );
    let long = format!("grant_type=client_credentials&scope={}", "s".repeat(200));
    assert_eq!(error_of(&h.token(&client, &long).await), "invalid_scope");
    // Redirect URI length: refused before any lookup, at authorization and registration.
    let long_uri = format!(
        "https://client.example/{}",
        "a".repeat(tessera::RedirectUri::MAX_LEN)
    );
    assert!(matches!(
        authorize(&h, &authorize_query(&client.id, &long_uri, "")).await,
        Err(AuthorizeError::Untrusted(_))
    ));
    let registration = ClientRegistration::new("Long", long_uri);
    let error = h
        .provider
        .register_client(registration)
        .await
        .expect_err("long uri");
    assert!(
        matches!(error, tessera::AdminError::InvalidRedirectUri(_)),
        "{error}"
    );
    // Registration body size and redirect URI count.
    let body = format!(
        r#"{{"redirect_uris":["https://a.example/cb"],"client_name":"{}"}}"#,
        "n".repeat(limits.max_bytes)
    );
    let response = h.provider.register(body.as_bytes(), None).await;
    assert_eq!(response.status, 400);
    let json = response.json_body().unwrap();
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{json}"
    );
    let uris = (0..=tessera::ClientRegistration::MAX_REDIRECT_URIS)
        .map(|i| format!("\"https://a.example/{i}\""))
        .collect::<Vec<_>>()
        .join(",");
    let response = h
        .provider
        .register(format!(r#"{{"redirect_uris":[{uris}]}}"#).as_bytes(), None)
        .await;
    assert_eq!(error_of(&response), "invalid_client_metadata");
    // An RFC 7592 update is bounded before it is parsed, like a registration.
    let doc = h
        .provider
        .register(br#"{"redirect_uris":["https://a.example/cb"]}"#, None)
        .await
        .json_body()
        .unwrap();
    let id = doc["client_id"].as_str().unwrap();
    let bearer = format!(
        "Bearer {}",
        doc["registration_access_token"].as_str().unwrap()
    );
    // Not even JSON: refused for its size, before a parser ever sees it.
    let huge = "[".repeat(limits.max_bytes + 1);
    let response = h
        .provider
        .client_configuration("PUT", id, Some(&bearer), huge.as_bytes())
        .await;
    assert_eq!(response.status, 400);
    let json = response.json_body().unwrap();
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{json}"
    );
}

// RFC 6749 §5.2 (the error vocabulary) and RFC 6819 §4.4.1.11: malformed input of every kind is a 4xx with
// an RFC error, never a panic or a 5xx.
#[tokio::test]
async fn malformed_input_is_a_client_error() {
    let h = harness();
    let client = h.confidential().await;
    let bodies: [&[u8]; 9] = [
        b"\xff\xfe\xfd",
        b"grant_type=%FF",
        b"grant_type=client_credentials&grant_type=client_credentials",
        b"=&=&=",
        b"grant_type=authorization_code&code=%00",
        b"grant_type=refresh_token&refresh_token=tsr_rt_",
        b"grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=x",
        b"grant_type=urn:ietf:params:oauth:grant-type:token-exchange",
        b"%%%%",
    ];
    for body in bodies {
        let request = FormRequest::new(body.to_vec()).with_authorization(Some(&client.basic()));
        let response = h.provider.token(&request).await;
        assert!((400..500).contains(&response.status), "{body:?}");
        assert!(!error_of(&response).is_empty());
    }
    for header in [
        "Basic",
        "Basic =",
        "Basic Og==",
        "Basic !!!!",
        "Bearer x",
        "Basic \u{0}",
    ] {
        let request = FormRequest::new(b"grant_type=client_credentials".to_vec())
            .with_authorization(Some(header));
        let response = h.provider.token(&request).await;
        assert!((400..500).contains(&response.status), "{header}");
    }
    for header in [
        "Bearer",
        "Bearer  ",
        "Bearer a b",
        "Bearer tsr_at_\u{0}",
        "Basic abc",
    ] {
        let result = h
            .provider
            .validate_bearer(&BearerRequest::header(header), &ScopeSet::new())
            .await;
        let error = result.expect_err(header);
        assert!(error.status() < 500);
    }
}

// RFC 6819 §4.4.1.11 (denial of service): the cost of a request is linear in its size. The
// worst shapes (many tiny or repeated parameters, many spaces in a scope) take about as long
// per byte at 16 KiB as at 1 KiB.
#[tokio::test]
async fn no_input_is_superlinear() {
    let h = harness();
    let client = h.confidential().await;
    let shapes: [fn(usize) -> String; 3] = [
        |n| "&".repeat(n),
        |n| format!("scope={}", "%20".repeat(n / 3)),
        |n| {
            format!(
                "scope={}&grant_type=client_credentials",
                "a+".repeat(n / 2 - 40)
            )
        },
    ];
    for shape in shapes {
        let time = |n: usize| {
            let body = shape(n);
            let request =
                FormRequest::new(body.into_bytes()).with_authorization(Some(&client.basic()));
            let provider = h.provider.clone();
            async move {
                // The fastest of several rounds: robust against a busy machine.
                let mut best = std::time::Duration::MAX;
                for _ in 0..5 {
                    let started = Instant::now();
                    for _ in 0..10 {
                        let _ = provider.token(&request).await;
                    }
                    best = best.min(started.elapsed());
                }
                best
            }
        };
        let small = time(1000).await;
        let large = time(16_000).await;
        // 16x the input; allow 64x for noise on a shared machine, far below quadratic (256x).
        assert!(
            large <= small * 64 + std::time::Duration::from_millis(50),
            "{small:?} vs {large:?}"
        );
    }
}

// RFC 6819 §4.4.1.3 / §5.1.4.2.3 (online guessing, lock accounts) and RFC 8628 §5.1: wrong
// client secrets are bounded per client and window; once over, even the right secret waits
// (so the answer reveals nothing about the guess); a public client cannot be locked out.
#[tokio::test]
async fn client_secret_guessing_is_bounded() {
    let h = harness();
    let client = h.confidential().await;
    let guess = TestClient {
        id: client.id.clone(),
        secret: Some("guess".into()),
    };
    for _ in 0..20 {
        let json = h
            .token(&guess, "grant_type=client_credentials")
            .await
            .json_body()
            .unwrap();
        assert_eq!(json["error_description"], "client authentication failed");
    }
    for attempt in [&guess, &client] {
        let response = h.token(attempt, "grant_type=client_credentials").await;
        assert_eq!(response.status, 401);
        let json = response.json_body().unwrap();
        assert_eq!(json["error"], "invalid_client");
        assert!(
            json["error_description"]
                .as_str()
                .unwrap()
                .contains("too many")
        );
    }
    h.clock.advance(time::Duration::minutes(16));
    assert_eq!(
        h.token(&client, "grant_type=client_credentials")
            .await
            .status,
        200
    );

    // A public client has no secret to guess: wrong "secrets" never lock it.
    let public = h.public().await;
    let fake = TestClient {
        id: public.id.clone(),
        secret: Some("guess".into()),
    };
    for _ in 0..25 {
        assert_eq!(
            h.token(&fake, "grant_type=client_credentials").await.status,
            401
        );
    }
    let tokens = h.tokens(&public, "read").await;
    assert!(tokens["access_token"].is_string());
}

// The limiter is pluggable (a shared store for several processes): the provider consults the
// one it is given.
#[tokio::test]
async fn a_host_limiter_is_consulted() {
    #[derive(Debug)]
    struct Never;
    #[async_trait::async_trait]
    impl tessera::AttemptLimiter for Never {
        async fn attempt(&self, _: &str, _: time::OffsetDateTime) -> tessera::Attempt {
            tessera::Attempt::Refused {
                retry_after: time::Duration::minutes(1),
            }
        }
        async fn succeeded(&self, _: &str, _: time::OffsetDateTime) {}
    }
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = std::sync::Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config(), store.clone())
        .clock(std::sync::Arc::new(clock.clone()))
        .client_attempts(std::sync::Arc::new(Never))
        .device_attempts(std::sync::Arc::new(Never))
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let client = h.confidential().await;
    let response = h.token(&client, "grant_type=client_credentials").await;
    assert_eq!(error_of(&response), "invalid_client");
    let error = h
        .provider
        .device_verification(
            "BCDF-GHJK",
            &tessera::DeviceAttempt::new(&tessera::UserId::new("k")),
        )
        .await
        .expect_err("limited");
    assert_eq!(error.code, ErrorCode::SlowDown);
}

/// A memory store that, once armed, holds the next `redeem_code` after the inner store has
/// redeemed (spent the code and stored the tokens) until released, and records the token
/// hashes every redemption was asked to store.
#[derive(Debug)]
struct PausingStore {
    inner: std::sync::Arc<tessera::store::MemoryStore>,
    armed: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
    issued: std::sync::Mutex<Vec<tessera::TokenHash>>,
}

mod pausing {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use async_trait::async_trait;
    use tessera::store::{
        ClientStore, CodeRecord, CodeRedemption, CodeStore, Consent, ConsentStore, DevicePoll,
        DeviceRecord, DeviceRedemption, DeviceStatus, DeviceStore, Family, GrantId, Insertion,
        IssueOutcome, RefreshLookup, ReplayKey, ReplayStore, Rotation, TokenRecord, TokenStore,
    };
    use tessera::{Client, ClientId, SecretHash, StoreError, TokenHash, UserId};
    use time::OffsetDateTime;

    use super::PausingStore;

    #[async_trait]
    impl ClientStore for PausingStore {
        async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
            self.inner.insert_client(client).await
        }
        async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
            self.inner.find_client(id).await
        }
        async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
            self.inner.update_client(client).await
        }
        async fn set_client_secret(
            &self,
            id: &ClientId,
            secret: &SecretHash,
        ) -> Result<bool, StoreError> {
            self.inner.set_client_secret(id, secret).await
        }
        async fn swap_registration_token(
            &self,
            id: &ClientId,
            old: &TokenHash,
            new: &TokenHash,
        ) -> Result<bool, StoreError> {
            self.inner.swap_registration_token(id, old, new).await
        }
        async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
            self.inner.delete_client(id).await
        }
        async fn touch_client(&self, id: &ClientId) -> Result<bool, StoreError> {
            self.inner.touch_client(id).await
        }
        async fn sweep_clients(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.inner.sweep_clients(now, limit).await
        }
    }

    #[async_trait]
    impl CodeStore for PausingStore {
        async fn insert_code(&self, code: &CodeRecord) -> Result<Insertion, StoreError> {
            self.inner.insert_code(code).await
        }
        async fn find_code(&self, hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
            self.inner.find_code(hash).await
        }
        async fn redeem_code(
            &self,
            hash: &TokenHash,
            tokens: &[TokenRecord],
        ) -> Result<CodeRedemption, StoreError> {
            self.issued
                .lock()
                .unwrap()
                .extend(tokens.iter().map(|t| t.hash));
            let outcome = self.inner.redeem_code(hash, tokens).await;
            if self.armed.swap(false, Ordering::SeqCst) {
                // Register before signalling, so the release cannot be missed.
                let released = self.release.notified();
                self.reached.notify_one();
                released.await;
            }
            outcome
        }
        async fn sweep_codes(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
            self.inner.sweep_codes(now, limit).await
        }
    }

    #[async_trait]
    impl TokenStore for PausingStore {
        async fn issue_tokens(
            &self,
            family: Family<'_>,
            tokens: &[TokenRecord],
        ) -> Result<IssueOutcome, StoreError> {
            self.inner.issue_tokens(family, tokens).await
        }
        async fn find_token(
            &self,
            hash: &TokenHash,
        ) -> Result<Option<Arc<TokenRecord>>, StoreError> {
            self.inner.find_token(hash).await
        }
        async fn find_refresh(&self, hash: &TokenHash) -> Result<RefreshLookup, StoreError> {
            self.inner.find_refresh(hash).await
        }
        async fn rotate_refresh(
            &self,
            old: &TokenHash,
            new: &[TokenRecord],
            sealed_successor: Option<Vec<u8>>,
            now: OffsetDateTime,
        ) -> Result<Rotation, StoreError> {
            self.inner
                .rotate_refresh(old, new, sealed_successor, now)
                .await
        }
        async fn revoke_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
            self.inner.revoke_token(hash).await
        }
        async fn revoke_grant(&self, grant: &GrantId) -> Result<u64, StoreError> {
            self.inner.revoke_grant(grant).await
        }
        async fn revoke_user_grants(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<u64, StoreError> {
            self.inner.revoke_user_grants(user, client).await
        }
        async fn sweep_tokens(&self, now: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
            self.inner.sweep_tokens(now, limit).await
        }
    }

    #[async_trait]
    impl ConsentStore for PausingStore {
        async fn find_consent(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<Option<Consent>, StoreError> {
            self.inner.find_consent(user, client).await
        }
        async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
            self.inner.save_consent(consent).await
        }
        async fn touch_consent(
            &self,
            user: &UserId,
            client: &ClientId,
            at: OffsetDateTime,
        ) -> Result<(), StoreError> {
            self.inner.touch_consent(user, client, at).await
        }
        async fn list_consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
            self.inner.list_consents(user).await
        }
        async fn revoke_consent(
            &self,
            user: &UserId,
            client: &ClientId,
        ) -> Result<bool, StoreError> {
            self.inner.revoke_consent(user, client).await
        }
    }

    #[async_trait]
    impl ReplayStore for PausingStore {
        async fn remember(
            &self,
            key: &ReplayKey,
            now: OffsetDateTime,
            expires_at: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            self.inner.remember(key, now, expires_at).await
        }
        async fn sweep_replays(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.inner.sweep_replays(now, limit).await
        }
    }

    #[async_trait]
    impl DeviceStore for PausingStore {
        async fn insert_device(&self, record: &DeviceRecord) -> Result<(), StoreError> {
            self.inner.insert_device(record).await
        }
        async fn find_device_by_user_code(
            &self,
            user_code: &TokenHash,
        ) -> Result<Option<DeviceRecord>, StoreError> {
            self.inner.find_device_by_user_code(user_code).await
        }
        async fn decide_device(
            &self,
            user_code: &TokenHash,
            status: DeviceStatus,
        ) -> Result<bool, StoreError> {
            self.inner.decide_device(user_code, status).await
        }
        async fn poll_device(
            &self,
            device: &TokenHash,
            now: OffsetDateTime,
        ) -> Result<DevicePoll, StoreError> {
            self.inner.poll_device(device, now).await
        }
        async fn redeem_device(
            &self,
            device: &TokenHash,
            tokens: &[TokenRecord],
        ) -> Result<DeviceRedemption, StoreError> {
            self.inner.redeem_device(device, tokens).await
        }
        async fn sweep_devices(
            &self,
            now: OffsetDateTime,
            limit: usize,
        ) -> Result<u64, StoreError> {
            self.inner.sweep_devices(now, limit).await
        }
    }
}

// RFC 9700 §4.5 and RFC 6749 §4.1.2: a replay that lands right after the legitimate redemption
// (the code spent and its tokens stored, in one atomic step) but before the redemption's
// answer reaches its client. The replay is refused with `invalid_grant` and revokes the grant
// in its own step, so the tokens the first redemption is about to hand out never validate.
// (There is no longer a moment between spending the code and storing its tokens for a replay
// to fall into: `redeem_code` does both at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_replay_right_after_redemption_leaves_no_live_token() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use tessera::store::TokenStore;

    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let memory = Arc::new(tessera::store::MemoryStore::new());
    let pausing = Arc::new(PausingStore {
        inner: memory.clone(),
        armed: false.into(),
        reached: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
        issued: std::sync::Mutex::new(Vec::new()),
    });
    let provider = tessera::Provider::builder(config(), pausing.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(tessera::testkit::SeededEntropy::new(7)))
        .build();
    let h = Arc::new(Harness {
        provider,
        clock,
        store: memory,
    });
    let client = Arc::new(h.confidential().await);
    let code = h.code(&client, "read offline_access").await;

    pausing.armed.store(true, Ordering::SeqCst);
    let reached = pausing.reached.notified();
    let first = {
        let (h, client, code) = (h.clone(), client.clone(), code.clone());
        tokio::spawn(async move { h.exchange_code(&client, &code).await })
    };
    // The first redemption has spent the code and stored its tokens, and not yet answered.
    reached.await;
    let replay = h.exchange_code(&client, &code).await;
    assert_eq!(error_of(&replay), "invalid_grant");
    pausing.release.notify_one();
    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "the first redemption won the code");

    let issued = pausing.issued.lock().unwrap().clone();
    assert_eq!(
        issued.len(),
        4,
        "each redemption minted an access and a refresh token"
    );
    for hash in &issued {
        assert_eq!(pausing.find_token(hash).await.unwrap(), None);
        assert_eq!(
            pausing.find_refresh(hash).await.unwrap(),
            tessera::store::RefreshLookup::Unknown
        );
    }
    let body = first.json_body().unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert!(
        h.provider
            .validate_bearer(
                &tessera::BearerRequest::header(&format!("Bearer {access}")),
                &tessera::ScopeSet::new()
            )
            .await
            .is_err(),
        "the first redemption's access token was revoked by the replay"
    );
    // And the code stays spent.
    assert_eq!(
        error_of(&h.exchange_code(&client, &code).await),
        "invalid_grant"
    );
}
