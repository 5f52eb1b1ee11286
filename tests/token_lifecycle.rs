//! The token lifecycle: bearer validation (RFC 6750), expiry policies, refresh rotation and
//! reuse detection (RFC 9700 §4.14), the grace window, revocation (RFC 7009), introspection
//! (RFC 7662), the user's authorized applications, and sweeping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use tessera::{BearerRequest, ErrorCode, FormRequest, Provider, ScopeSet};
use time::Duration;

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap()
}

async fn validate(
    provider: &Provider,
    header: &str,
    required: &str,
) -> Result<tessera::Principal, tessera::BearerError> {
    provider
        .validate_bearer(&BearerRequest::header(header), &scopes(required))
        .await
}

// ---- Resource servers -------------------------------------------------------------------

#[tokio::test]
async fn bearer_from_header_query_and_form_with_any_scheme_case() {
    let h = with_query_tokens();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read write").await;
    let access = tokens["access_token"].as_str().unwrap();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let principal = validate(&h.provider, &format!("{scheme} {access}"), "read")
            .await
            .unwrap();
        assert_eq!(principal.client_id().as_str(), client.id);
        assert_eq!(principal.scopes(), &scopes("read write"));
        assert_eq!(principal.user().unwrap().as_str(), "alice");
        assert_eq!(
            principal.expires_at(),
            Some(h.provider.now() + Duration::hours(1))
        );
    }
    let query = format!("x=1&access_token={access}");
    assert!(
        h.provider
            .validate_bearer(
                &BearerRequest::new(None, Some(&query), None),
                &ScopeSet::new()
            )
            .await
            .is_ok()
    );
    let form = format!("access_token={access}");
    assert!(
        h.provider
            .validate_bearer(
                &BearerRequest::new(None, None, Some(form.as_bytes())),
                &ScopeSet::new()
            )
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_query_method_is_off_unless_danger_allows_it() {
    let h = harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let query = format!("access_token={access}");
    let error = h
        .provider
        .validate_bearer(
            &BearerRequest::new(None, Some(&query), None),
            &ScopeSet::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.code, None,
        "the query is ignored: no token was presented"
    );
}

#[tokio::test]
async fn www_authenticate_forms_of_rfc6750_section_3() {
    let h = with_query_tokens();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // No token: a bare challenge.
    let none = h
        .provider
        .validate_bearer(&BearerRequest::default(), &ScopeSet::new())
        .await
        .unwrap_err();
    let response = none.to_response(&h.provider);
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some("Bearer realm=\"tessera\"")
    );

    // Invalid token.
    let bad = validate(&h.provider, "Bearer tsr_at_nope", "")
        .await
        .unwrap_err();
    let response = bad.to_response(&h.provider);
    assert_eq!(response.status, 401);
    assert_eq!(
        response.header("www-authenticate"),
        Some(
            "Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"the access token is invalid, expired or revoked\""
        )
    );

    // Insufficient scope: 403 naming the scope needed.
    let scope = validate(&h.provider, &format!("Bearer {access}"), "whoami")
        .await
        .unwrap_err();
    let response = scope.to_response(&h.provider);
    assert_eq!(response.status, 403);
    assert_eq!(
        response.header("www-authenticate"),
        Some(
            "Bearer realm=\"tessera\", error=\"insufficient_scope\", error_description=\"the access token lacks a required scope\", scope=\"whoami\""
        )
    );

    // Two methods at once: 400 invalid_request.
    let header = format!("Bearer {access}");
    let query = format!("access_token={access}");
    let twice = h
        .provider
        .validate_bearer(
            &BearerRequest::new(Some(&header), Some(&query), None),
            &ScopeSet::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code, Some(ErrorCode::InvalidRequest));
    assert_eq!(twice.status(), 400);
    let empty = validate(&h.provider, "Bearer ", "").await.unwrap_err();
    assert_eq!(empty.status(), 400);
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let h = harness();
    let client = h.confidential().await;
    let refresh = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        validate(&h.provider, &format!("Bearer {refresh}"), "")
            .await
            .is_err()
    );
}

// ---- Expiry -----------------------------------------------------------------------------

#[tokio::test]
async fn access_tokens_expire_with_the_clock() {
    let h = harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = format!("Bearer {access}");
    h.clock.advance(Duration::minutes(59));
    assert!(validate(&h.provider, &header, "").await.is_ok());
    h.clock.advance(Duration::minutes(1));
    assert_eq!(
        validate(&h.provider, &header, "").await.unwrap_err().code,
        Some(ErrorCode::InvalidToken)
    );
}

#[tokio::test]
async fn a_scope_can_make_tokens_never_expire() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let config = builder()
        .danger(
            tessera::danger::Danger::new()
                .open_registration()
                .never_expire_with_scope(tessera::Scope::new("offline_access").unwrap()),
        )
        .build()
        .unwrap();
    let provider = Provider::builder(config, Arc::new(tessera::store::MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .build();
    let h = Harness {
        provider,
        clock,
        store: Arc::new(tessera::store::MemoryStore::new()),
    };
    let client = h.confidential().await;
    let offline = h.tokens(&client, "read offline_access").await;
    assert!(offline.get("expires_in").is_none(), "{offline}");
    let online = h.tokens(&client, "read").await;
    assert_eq!(online["expires_in"], 3600);
    h.clock.advance(Duration::days(3650));
    let header = format!("Bearer {}", offline["access_token"].as_str().unwrap());
    assert!(
        validate(&h.provider, &header, "").await.is_ok(),
        "offline_access works indefinitely"
    );
    let header = format!("Bearer {}", online["access_token"].as_str().unwrap());
    assert!(validate(&h.provider, &header, "").await.is_err());
}

#[tokio::test]
async fn refresh_tokens_expire_and_families_have_an_absolute_lifetime() {
    let clock = tessera::testkit::ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let config = builder()
        .lifetimes(
            tessera::Lifetimes::default()
                .with_refresh_token(Duration::days(10))
                .with_refresh_family(Duration::days(15)),
        )
        .build()
        .unwrap();
    let provider = Provider::builder(config, Arc::new(tessera::store::MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .build();
    let h = Harness {
        provider,
        clock,
        store: Arc::new(tessera::store::MemoryStore::new()),
    };
    let client = h.confidential().await;
    let mut refresh = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Day 9: rotate (the new one would live to day 19, but the family ends on day 15).
    h.clock.advance(Duration::days(9));
    let body = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await
        .json_body()
        .unwrap();
    refresh = body["refresh_token"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::days(6));
    let response = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
    assert_eq!(
        error_of(&response),
        "invalid_grant",
        "day 15: the family is over"
    );

    // An idle refresh token dies after its own lifetime.
    let idle = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clock.advance(Duration::days(10));
    let response = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={idle}"),
        )
        .await;
    assert_eq!(error_of(&response), "invalid_grant");
}

// ---- Refresh ----------------------------------------------------------------------------

async fn refresh(h: &Harness, client: &TestClient, token: &str, extra: &str) -> tessera::Response {
    h.token(
        client,
        &format!("grant_type=refresh_token&refresh_token={token}{extra}"),
    )
    .await
}

#[tokio::test]
async fn rotation_issues_a_new_pair_and_retires_the_old_token() {
    let h = harness();
    let client = h.confidential().await;
    let first = h.tokens(&client, "read write").await;
    let old = first["refresh_token"].as_str().unwrap();
    let next = refresh(&h, &client, old, "").await.json_body().unwrap();
    let new = next["refresh_token"].as_str().unwrap();
    assert_ne!(old, new);
    assert_ne!(first["access_token"], next["access_token"]);
    assert_eq!(next["scope"], "read write");
    assert_eq!(
        refresh(&h, &client, new, "").await.status,
        200,
        "the successor works"
    );
}

#[tokio::test]
async fn reuse_of_a_retired_token_revokes_the_whole_family() {
    let h = harness();
    let client = h.confidential().await;
    let first = h.tokens(&client, "read").await;
    let old = first["refresh_token"].as_str().unwrap();
    let next = refresh(&h, &client, old, "").await.json_body().unwrap();
    let reuse = refresh(&h, &client, old, "").await;
    assert_eq!(
        (reuse.status, error_of(&reuse).as_str()),
        (400, "invalid_grant")
    );
    // Everything descended from the grant is dead: both access tokens and the successor.
    for access in [&first["access_token"], &next["access_token"]] {
        assert!(
            validate(
                &h.provider,
                &format!("Bearer {}", access.as_str().unwrap()),
                ""
            )
            .await
            .is_err()
        );
    }
    let successor = refresh(&h, &client, next["refresh_token"].as_str().unwrap(), "").await;
    assert_eq!(error_of(&successor), "invalid_grant");
}

#[tokio::test]
async fn scope_may_narrow_but_never_widen() {
    let h = harness();
    let client = h.confidential().await;
    let token = h.tokens(&client, "read write").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let wide = refresh(&h, &client, &token, "&scope=read%20whoami").await;
    assert_eq!(error_of(&wide), "invalid_scope");
    let narrow = refresh(&h, &client, &token, "&scope=read")
        .await
        .json_body()
        .unwrap();
    assert_eq!(narrow["scope"], "read");
    // The successor still carries the original grant, so it can ask for `write` again.
    let again = refresh(
        &h,
        &client,
        narrow["refresh_token"].as_str().unwrap(),
        "&scope=write",
    )
    .await;
    assert_eq!(again.json_body().unwrap()["scope"], "write");
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client() {
    let h = harness();
    let owner = h.confidential().await;
    let other = h.confidential().await;
    let token = h.tokens(&owner, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        error_of(&refresh(&h, &other, &token, "").await),
        "invalid_grant"
    );
    assert_eq!(
        refresh(&h, &owner, &token, "").await.status,
        200,
        "the failed attempt did not burn it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refresh_of_one_token_has_exactly_one_winner() {
    let h = Arc::new(harness());
    let client = Arc::new(h.confidential().await);
    let token = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, client, token) = (h.clone(), client.clone(), token.clone());
            tokio::spawn(async move { refresh(&h, &client, &token, "").await.status })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() == 200 {
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "without a grace window, one wins and the rest are reuse"
    );
}

#[tokio::test]
async fn rotation_can_be_switched_off() {
    let h = harness_with(builder().rotate_refresh_tokens(false).build().unwrap());
    let client = h.confidential().await;
    let token = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        let body = refresh(&h, &client, &token, "").await.json_body().unwrap();
        assert!(body.get("refresh_token").is_none());
        assert!(body["access_token"].is_string());
    }
}

#[tokio::test]
async fn the_grace_window_replays_the_same_successor_then_counts_as_reuse() {
    let h = harness_with(
        builder()
            .refresh_grace(Some(Duration::seconds(30)))
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let old = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = refresh(&h, &client, &old, "").await.json_body().unwrap();
    h.clock.advance(Duration::seconds(10));
    let replay = refresh(&h, &client, &old, "").await.json_body().unwrap();
    assert_eq!(
        first, replay,
        "the lost response is delivered again, not a new pair"
    );
    assert!(
        validate(
            &h.provider,
            &format!("Bearer {}", first["access_token"].as_str().unwrap()),
            ""
        )
        .await
        .is_ok()
    );

    // Another client presenting it inside the window is still theft.
    let other = h.confidential().await;
    assert_eq!(
        error_of(&refresh(&h, &other, &old, "").await),
        "invalid_grant"
    );
    assert!(
        validate(
            &h.provider,
            &format!("Bearer {}", first["access_token"].as_str().unwrap()),
            ""
        )
        .await
        .is_err()
    );

    // Outside the window: reuse.
    let old = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = refresh(&h, &client, &old, "").await.json_body().unwrap();
    h.clock.advance(Duration::seconds(31));
    assert_eq!(
        error_of(&refresh(&h, &client, &old, "").await),
        "invalid_grant"
    );
    assert_eq!(
        error_of(&refresh(&h, &client, next["refresh_token"].as_str().unwrap(), "").await),
        "invalid_grant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_grace_window_concurrent_refreshes_all_get_the_same_pair() {
    let h = Arc::new(harness_with(
        builder()
            .refresh_grace(Some(Duration::seconds(30)))
            .build()
            .unwrap(),
    ));
    let client = Arc::new(h.confidential().await);
    let token = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (h, client, token) = (h.clone(), client.clone(), token.clone());
            tokio::spawn(async move { refresh(&h, &client, &token, "").await.json_body().unwrap() })
        })
        .collect();
    let mut bodies = Vec::new();
    for task in tasks {
        bodies.push(task.await.unwrap());
    }
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "every caller sees the winner's response"
    );
    assert!(bodies[0]["refresh_token"].is_string());
}

#[tokio::test]
async fn the_sealed_successor_is_not_readable_from_storage() {
    let h = harness_with(
        builder()
            .refresh_grace(Some(Duration::seconds(30)))
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let old = h.tokens(&client, "read").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = refresh(&h, &client, &old, "").await.json_body().unwrap();
    let dump = format!("{:?}", h.store);
    assert!(!dump.contains(next["refresh_token"].as_str().unwrap()));
    assert!(!dump.contains(next["access_token"].as_str().unwrap()));
}

// ---- Revocation and introspection -------------------------------------------------------

fn form(client: &TestClient, body: &str) -> FormRequest {
    FormRequest::new(body.as_bytes().to_vec()).with_authorization(Some(&client.basic()))
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let response = h
        .provider
        .revoke(&form(
            &client,
            &format!("token={refresh_token}&token_type_hint=refresh_token"),
        ))
        .await;
    assert_eq!(response.status, 200);
    assert!(
        validate(
            &h.provider,
            &format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
            ""
        )
        .await
        .is_err()
    );
    assert_eq!(
        error_of(&refresh(&h, &client, refresh_token, "").await),
        "invalid_grant"
    );
}

#[tokio::test]
// Changed by the security review (C1): every token of a family dies with it, whichever is
// revoked (RFC 7009 §2.1 allows it), so a token exchanged from this one dies too.
async fn revoking_an_access_token_revokes_its_family() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        h.provider
            .revoke(&form(
                &client,
                &format!("token={access}&token_type_hint=unknown_hint")
            ))
            .await
            .status,
        200
    );
    assert!(
        validate(&h.provider, &format!("Bearer {access}"), "")
            .await
            .is_err()
    );
    assert_eq!(
        error_of(&refresh(&h, &client, tokens["refresh_token"].as_str().unwrap(), "").await),
        "invalid_grant"
    );
}

#[tokio::test]
async fn unknown_or_foreign_tokens_answer_200_and_stay_valid() {
    let h = harness();
    let owner = h.confidential().await;
    let other = h.confidential().await;
    let access = h.tokens(&owner, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for token in [access.as_str(), "garbage", "tsr_at_unknown"] {
        assert_eq!(
            h.provider
                .revoke(&form(&other, &format!("token={token}")))
                .await
                .status,
            200
        );
    }
    assert!(
        validate(&h.provider, &format!("Bearer {access}"), "")
            .await
            .is_ok(),
        "another client cannot revoke it"
    );
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_a_token() {
    let h = harness();
    let client = h.confidential().await;
    let access = h.tokens(&client, "read").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = h
        .provider
        .revoke(&FormRequest::new(format!("token={access}").into_bytes()))
        .await;
    assert_eq!(
        (response.status, error_of(&response).as_str()),
        (401, "invalid_client")
    );
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("nope".into()),
    };
    assert_eq!(
        h.provider
            .revoke(&form(&wrong, &format!("token={access}")))
            .await
            .status,
        401
    );
    assert_eq!(
        error_of(&h.provider.revoke(&form(&client, "")).await),
        "invalid_request"
    );
    assert!(
        validate(&h.provider, &format!("Bearer {access}"), "")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn introspection_of_own_active_tokens_only() {
    let h = harness();
    let client = h.confidential().await;
    let other = h.confidential().await;
    let tokens = h.tokens(&client, "read write").await;
    let access = tokens["access_token"].as_str().unwrap();
    let body = h
        .provider
        .introspect(&form(&client, &format!("token={access}")))
        .await
        .json_body()
        .unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["client_id"], client.id.as_str());
    assert_eq!(body["username"], "alice");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["token_type"], "Bearer");
    let now = h.provider.now().unix_timestamp();
    assert_eq!(body["iat"], now);
    assert_eq!(body["exp"], now + 3600);

    let foreign = h
        .provider
        .introspect(&form(&other, &format!("token={access}")))
        .await
        .json_body()
        .unwrap();
    assert_eq!(foreign, serde_json::json!({"active": false}));
    let unknown = h
        .provider
        .introspect(&form(&client, "token=nope"))
        .await
        .json_body()
        .unwrap();
    assert_eq!(unknown, serde_json::json!({"active": false}));
    h.clock.advance(Duration::hours(2));
    let expired = h
        .provider
        .introspect(&form(&client, &format!("token={access}")))
        .await
        .json_body()
        .unwrap();
    assert_eq!(expired, serde_json::json!({"active": false}));
    let unauthenticated = h
        .provider
        .introspect(&FormRequest::new(format!("token={access}").into_bytes()))
        .await;
    assert_eq!(unauthenticated.status, 401);
}

// A value tessera never issues is never looked up: the stored hash of a token covers its
// characters before the checksum, so without this check the token minus its checksum (or any
// other altered form) would be a second name for it at revocation and introspection.
#[tokio::test]
async fn revocation_and_introspection_only_know_well_formed_tokens() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    for kind in ["access_token", "refresh_token"] {
        let token = tokens[kind].as_str().unwrap();
        let altered = [
            token[..token.len() - 6].to_owned(),
            format!("{token}x"),
            token.to_uppercase(),
        ];
        for value in &altered {
            let body = h
                .provider
                .introspect(&form(&client, &format!("token={}", urlencode(value))))
                .await
                .json_body()
                .unwrap();
            assert_eq!(
                body,
                serde_json::json!({"active": false}),
                "{kind}: {value}"
            );
            let revoked = h
                .provider
                .revoke(&form(&client, &format!("token={}", urlencode(value))))
                .await;
            assert_eq!(revoked.status, 200, "{kind}: {value}");
        }
    }
    // Nothing was revoked by the altered values.
    let access = tokens["access_token"].as_str().unwrap();
    let body = h
        .provider
        .introspect(&form(&client, &format!("token={access}")))
        .await
        .json_body()
        .unwrap();
    assert_eq!(body["active"], true);
    let refreshed = h
        .token(
            &client,
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                tokens["refresh_token"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(refreshed.status, 200);
}

// ---- The user's authorized applications --------------------------------------------------

#[tokio::test]
async fn users_list_and_revoke_their_applications() {
    let h = harness();
    let first = h.confidential().await;
    let second = h.confidential().await;
    let tokens = h.tokens(&first, "read").await;
    h.clock.advance(Duration::minutes(5));
    h.tokens(&second, "write").await;
    let apps = h.provider.authorized_apps(&user()).await.unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(
        apps[0].client_id.as_str(),
        second.id,
        "most recently used first"
    );
    assert_eq!(apps[0].scopes, scopes("write"));
    assert_eq!(apps[1].name, "Confidential");
    assert_eq!(
        apps[1].granted_at + Duration::minutes(5),
        apps[0].granted_at
    );

    // Using a refresh token updates last_used_at.
    h.clock.advance(Duration::minutes(5));
    let refreshed = refresh(&h, &first, tokens["refresh_token"].as_str().unwrap(), "")
        .await
        .json_body()
        .unwrap();
    let apps = h.provider.authorized_apps(&user()).await.unwrap();
    assert_eq!(apps[0].client_id.as_str(), first.id);

    let first_id = tessera::ClientId::new(first.id.clone()).unwrap();
    assert!(h.provider.revoke_app(&user(), &first_id).await.unwrap());
    assert!(!h.provider.revoke_app(&user(), &first_id).await.unwrap());
    for access in [&tokens["access_token"], &refreshed["access_token"]] {
        let error = validate(
            &h.provider,
            &format!("Bearer {}", access.as_str().unwrap()),
            "",
        )
        .await
        .unwrap_err();
        assert_eq!(error.status(), 401);
    }
    assert_eq!(
        error_of(&refresh(&h, &first, refreshed["refresh_token"].as_str().unwrap(), "").await),
        "invalid_grant"
    );
    let apps = h.provider.authorized_apps(&user()).await.unwrap();
    assert_eq!(apps.len(), 1);
    // After revocation consent is asked again.
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&code_challenge={CHALLENGE}&code_challenge_method=S256",
        first.id,
        urlencode(REDIRECT)
    );
    let pending = h.provider.authorize(&params(&query)).await.unwrap();
    assert!(!pending.consent_covers(&h.provider, &user()).await.unwrap());
}

// ---- Bounded growth ---------------------------------------------------------------------

#[tokio::test]
async fn sweep_catches_up_in_bounded_batches() {
    let h = harness();
    let client = h.confidential().await;
    let mut live = Vec::new();
    for _ in 0..5 {
        h.tokens(&client, "read").await;
    }
    let _unused_code = h.code(&client, "read").await;
    // Access tokens expire after an hour; refresh tokens live on.
    h.clock.advance(Duration::hours(2));
    live.push(h.tokens(&client, "read").await);
    // Batches of two, but one call loops until the backlog is gone: five expired access tokens,
    // and six codes: five spent ones (kept until expiry so a replay is recognised) and one
    // never redeemed.
    assert_eq!(h.provider.sweep(2).await.unwrap(), 5 + 6);
    assert_eq!(h.provider.sweep(2).await.unwrap(), 0, "nothing left behind");
    let header = format!("Bearer {}", live[0]["access_token"].as_str().unwrap());
    assert!(validate(&h.provider, &header, "").await.is_ok());
}

/// A token is refused from its `expires_at` on, and the sweep at that very second removes it
/// (stored times are whole seconds: a sweep that kept it until the next second would leave a
/// second's issuance expired).
#[tokio::test]
async fn a_token_is_swept_in_the_second_it_expires() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    let lifetime = tokens["expires_in"].as_i64().expect("expires_in");
    let header = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    h.clock.advance(Duration::seconds(lifetime - 1));
    // The spent code (expired after 60 s) goes; the access token is live.
    h.provider.sweep(10).await.unwrap();
    assert_eq!(h.provider.sweep(10).await.unwrap(), 0);
    assert!(validate(&h.provider, &header, "").await.is_ok());
    h.clock.advance(Duration::seconds(1));
    assert_eq!(
        validate(&h.provider, &header, "")
            .await
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(h.provider.sweep(10).await.unwrap(), 1, "the expired token");
}

/// The test provider, also accepting `?access_token=` (RFC 6750 §2.3, through danger).
fn with_query_tokens() -> Harness {
    harness_with(
        builder()
            .danger(Danger::new().open_registration().bearer_in_query())
            .build()
            .unwrap(),
    )
}
