//! The whole life of a token through the public API, in one test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tessera::{BearerRequest, FormRequest, ScopeSet};

#[tokio::test]
async fn code_flow_bearer_refresh_revoke() {
    let h = harness();
    let client = h.confidential().await;
    let tokens = h.tokens(&client, "read").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let header = format!("Bearer {access}");
    let principal = h
        .provider
        .validate_bearer(
            &BearerRequest::header(&header),
            &ScopeSet::parse("read").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(principal.user().map(|u| u.as_str()), Some("alice"));

    let refreshed = h
        .token(
            &client,
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
    assert_eq!(
        refreshed.status,
        200,
        "{}",
        String::from_utf8_lossy(&refreshed.body)
    );

    let revoke = FormRequest::new(format!("token={access}").into_bytes())
        .with_authorization(Some(&client.basic()));
    assert_eq!(h.provider.revoke(&revoke).await.status, 200);
    let error = h
        .provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await
        .unwrap_err();
    assert_eq!(error.status(), 401);
}
