//! Replays every request of AppHarbor's OAuth v2 documentation (seed 004) against the
//! `appharbor` example over HTTP: the authorization link, the form-encoded token response,
//! `Authorization: BEARER` and `?access_token=` at the API, and revocation answered with 401.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod dialect_common;
#[path = "../examples/appharbor.rs"]
mod example;

use dialect_common::{Registered, enc, form, param};

type Harbor = Registered;

async fn server() -> Harbor {
    dialect_common::start_registered(|base| async move { example::app(&base).await.unwrap() }).await
}

impl Harbor {
    /// GET /user/authorizations/new?client_id=:client_id&redirect_uri=:redirect_uri&state=...,
    /// allowed: the callback URL.
    async fn authorize(&self, state: &str) -> String {
        let path = format!(
            "/user/authorizations/new?client_id={}&redirect_uri={}&state={state}",
            self.id,
            enc(example::CALLBACK)
        );
        let page = self.browser.open_signed_in(&path).await;
        self.browser.decide(page, "allow").await
    }

    /// POST https://appharbor.com/tokens with client_id, client_secret and code.
    async fn tokens(&self, code: &str, secret: &str) -> (u16, String, String) {
        let response = self
            .browser
            .post_form(
                "/tokens",
                form(&[
                    ("client_id", &self.id),
                    ("client_secret", secret),
                    ("code", code),
                ]),
            )
            .await;
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, content_type, response.text().await.unwrap())
    }

    async fn token(&self) -> String {
        let callback = self.authorize("s").await;
        let code = param(&callback, "code").unwrap();
        let (status, _, body) = self.tokens(&code, &self.secret.clone()).await;
        assert_eq!(status, 200, "{body}");
        pairs(&body)[0].1.clone()
    }

    async fn applications(&self, header: Option<&str>, query: &str) -> u16 {
        let mut request = self
            .browser
            .http
            .get(self.browser.url(&format!("/applications{query}")));
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

fn pairs(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn authorization_workflow_as_documented() {
    let harbor = server().await;
    let callback = harbor.authorize("opaque").await;
    // http://example.com/?code=:code, and the state passed back.
    assert!(
        callback.starts_with("http://example.com/?code="),
        "{callback}"
    );
    assert_eq!(param(&callback, "state").as_deref(), Some("opaque"));
    let code = param(&callback, "code").unwrap();

    let (status, content_type, body) = harbor.tokens(&code, &harbor.secret.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    // "access_token=:access_token&token_type=:token_type"
    let fields = pairs(&body);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["access_token", "token_type"], "{body}");
    assert!(body.starts_with("access_token="));
    let token = fields[0].1.clone();

    // Authorization: BEARER :access_token (scheme in any case), or ?access_token=.
    for header in [format!("BEARER {token}"), format!("Bearer {token}")] {
        assert_eq!(harbor.applications(Some(&header), "").await, 200);
    }
    assert_eq!(
        harbor
            .applications(None, &format!("?access_token={token}"))
            .await,
        200
    );
    assert_eq!(harbor.applications(None, "").await, 401);
}

#[tokio::test]
async fn token_errors_are_form_encoded() {
    let harbor = server().await;
    let callback = harbor.authorize("s").await;
    let code = param(&callback, "code").unwrap();
    let (status, content_type, body) = harbor.tokens(&code, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    assert_eq!(pairs(&body)[0], ("error".into(), "invalid_client".into()));
    let (status, _, body) = harbor.tokens("nonsense", &harbor.secret.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(pairs(&body)[0], ("error".into(), "invalid_grant".into()));
    // The code survived the failed attempts; it then works exactly once.
    let (status, _, _) = harbor.tokens(&code, &harbor.secret.clone()).await;
    assert_eq!(status, 200);
    let (status, _, _) = harbor.tokens(&code, &harbor.secret.clone()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn redirect_uri_must_match_the_callback() {
    let harbor = server().await;
    for uri in [
        "http://example.com/other",
        "https://evil.example/",
        "https://example.com/",
        "http://example.com/#x",
    ] {
        let response = harbor
            .browser
            .get(&format!(
                "/user/authorizations/new?client_id={}&redirect_uri={}",
                harbor.id,
                enc(uri)
            ))
            .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
    }
    // "redirect_uri: Must match the Callback URL": it is required, so its omission is an error
    // page too, not a redirect to the registered callback.
    let response = harbor
        .browser
        .get(&format!("/user/authorizations/new?client_id={}", harbor.id))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn revoked_tokens_get_401() {
    let harbor = server().await;
    let token = harbor.token().await;
    let header = format!("BEARER {token}");
    assert_eq!(harbor.applications(Some(&header), "").await, 200);
    let html = harbor.browser.apps("/user/authorizations").await;
    assert!(html.contains("AppHarbor Example Client"), "{html}");
    harbor
        .browser
        .revoke("/user/authorizations", &harbor.id)
        .await;
    assert_eq!(harbor.applications(Some(&header), "").await, 401);
}

/// Finding C7: `/login?next=/%09/evil.example/login` ended at `Location: /\t/evil.example/login`,
/// which browsers resolve off-site. Every hostile spelling now continues to `/`.
#[tokio::test]
async fn c7_login_next_cannot_leave_the_origin() {
    let browser = server().await.browser;
    browser
        .assert_login_next_stays_local("/user/authorizations")
        .await;
}

/// Finding C9: anonymous pages keep no session on the server; after a flood of them, signing in
/// and the code flow still work.
#[tokio::test]
async fn c9_anonymous_requests_cannot_fill_the_session_table() {
    let harbor = server().await;
    harbor
        .browser
        .assert_anonymous_pages_keep_no_session(&["/login?next=/", "/user/authorizations"])
        .await;
    assert!(!harbor.token().await.is_empty());
}
