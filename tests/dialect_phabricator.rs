//! Replays every request of "Using the Phabricator OAuth Server" (seed 003) against the
//! `phabricator` example over HTTP: GET and POST at /oauthserver/auth/ and /oauthserver/token/
//! with the document's parameter names, the redirect_uri override rules, consent skipped when
//! already granted, the `whoami` and `offline_access` scopes, and `?access_token=` at the API.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod dialect_common;
#[path = "../examples/phabricator.rs"]
mod example;

use dialect_common::{Registered, enc, form, location, param};
use serde_json::Value;

type Phab = Registered;

async fn server() -> Phab {
    dialect_common::start_registered(|base| async move { example::app(&base).await.unwrap() }).await
}

impl Phab {
    fn auth_path(&self, extra: &str) -> String {
        format!(
            "/oauthserver/auth/?client_id={}&response_type=code{extra}",
            self.id
        )
    }

    /// Signs in, allows on the consent page, and returns the callback URL.
    async fn allow(&self, extra: &str) -> String {
        let page = self.browser.open_signed_in(&self.auth_path(extra)).await;
        self.browser.decide(page, "allow").await
    }

    /// The callback URL of an authorization whose scope was already granted (no consent page).
    async fn granted(&self, extra: &str) -> String {
        let response = self.browser.get(&self.auth_path(extra)).await;
        assert_eq!(response.status(), 302, "consent skipped");
        location(&response)
    }

    async fn token_get(&self, code: &str, extra: &str) -> (u16, Value) {
        let path = format!(
            "/oauthserver/token/?client_id={}&client_secret={}&code={code}&grant_type=token{extra}",
            self.id, self.secret
        );
        let response = self.browser.get(&path).await;
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn whoami(&self, token: &str) -> reqwest::Response {
        self.browser
            .get(&format!("/api/user.whoami?access_token={token}"))
            .await
    }
}

#[tokio::test]
async fn authorization_code_grant_as_documented() {
    let phab = server().await;
    let callback = phab.allow("&scope=whoami&state=xyz").await;
    assert!(callback.starts_with(example::CALLBACK), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&callback, "tenant").as_deref(), Some("7"));
    let code = param(&callback, "code").unwrap();

    let (status, body) = phab.token_get(&code, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["expires_in"].as_i64().unwrap() > 0,
        "whoami alone expires"
    );
    let token = body["access_token"].as_str().unwrap();

    // https://phabricator.example.com/api/user.whoami?access_token=...
    let response = phab.whoami(token).await;
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["result"]["userName"], "demo");
    assert_eq!(result["error_code"], Value::Null);

    // An invalid token gets an error saying so.
    let response = phab.whoami("ykc7ly7vtibj334oga4fnfbuvnwz4ocp").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn post_at_both_endpoints_and_the_rfc_grant_type() {
    let phab = server().await;
    // Sign in first through a GET, then authorize with a POST form.
    let _ = phab.allow("&scope=whoami").await;
    let response = phab
        .browser
        .post_form(
            "/oauthserver/auth/",
            form(&[
                ("client_id", &phab.id),
                ("response_type", "code"),
                ("scope", "whoami"),
                ("state", "post"),
            ]),
        )
        .await;
    // Already granted: consent skipped, straight back with a code.
    assert_eq!(response.status(), 302);
    let callback = location(&response);
    assert_eq!(param(&callback, "state").as_deref(), Some("post"));
    let code = param(&callback, "code").unwrap();
    let response = phab
        .browser
        .post_form(
            "/oauthserver/token/",
            form(&[
                ("client_id", &phab.id),
                ("client_secret", &phab.secret),
                ("code", &code),
                ("grant_type", "authorization_code"),
            ]),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn consent_is_skipped_only_when_already_granted() {
    let phab = server().await;
    let _ = phab.allow("&scope=whoami").await;
    let again = phab.browser.get(&phab.auth_path("&scope=whoami")).await;
    assert_eq!(again.status(), 302, "already granted: no consent page");
    assert!(param(&location(&again), "code").is_some());
    // A wider scope asks again.
    let wider = phab
        .browser
        .get(&phab.auth_path(&format!("&scope={}", enc("whoami offline_access"))))
        .await;
    assert_eq!(wider.status(), 200, "consent page for the new scope");
}

#[tokio::test]
async fn offline_access_tokens_never_expire() {
    let phab = server().await;
    let callback = phab
        .allow(&format!("&scope={}", enc("whoami offline_access")))
        .await;
    let code = param(&callback, "code").unwrap();
    let (status, body) = phab.token_get(&code, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("expires_in").is_none(), "{body}");
    assert_eq!(body["scope"], "offline_access whoami");
}

#[tokio::test]
async fn redirect_uri_override_and_its_repetition_at_the_token_endpoint() {
    let phab = server().await;
    let override_uri = "https://client.example/elsewhere?tenant=7&x=1";
    let extra = format!("&redirect_uri={}&scope=whoami", enc(override_uri));
    let callback = phab.allow(&extra).await;
    assert!(callback.starts_with(override_uri), "{callback}");
    let code = param(&callback, "code").unwrap();

    // Omitted, or different: refused; the exact same one: accepted.
    let (status, body) = phab.token_get(&code, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let callback = phab.granted(&extra).await;
    let code = param(&callback, "code").unwrap();
    let other = format!("&redirect_uri={}", enc(example::CALLBACK));
    let (status, body) = phab.token_get(&code, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let callback = phab.granted(&extra).await;
    let code = param(&callback, "code").unwrap();
    let same = format!("&redirect_uri={}", enc(override_uri));
    let (status, body) = phab.token_get(&code, &same).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn suspect_redirect_uris_are_shown_on_the_provider() {
    let phab = server().await;
    for (uri, reason) in [
        ("https://evil.example/oauth/phabricator?tenant=7", "domain"),
        (
            "https://client.example/oauth/phabricator",
            "query parameters",
        ),
        (
            "https://client.example/oauth/phabricator?tenant=8",
            "query parameters",
        ),
        (
            "https://client.example/oauth/phabricator?tenant=7#frag",
            "fragment",
        ),
        ("http://client.example/oauth/phabricator?tenant=7", "scheme"),
        (
            "https://client.example:8443/oauth/phabricator?tenant=7",
            "port",
        ),
    ] {
        let response = phab
            .browser
            .get(&phab.auth_path(&format!("&redirect_uri={}&state=s", enc(uri))))
            .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
        let html = response.text().await.unwrap();
        assert!(html.contains(reason), "{uri}: {html}");
    }
}

#[tokio::test]
async fn other_errors_are_redirected_with_state() {
    let phab = server().await;
    let request = format!(
        "/oauthserver/auth/?client_id={}&response_type=token&state=s",
        phab.id
    );
    // Not before the user has signed in (RFC 9700 §4.11.2): the login page comes first.
    let response = phab.browser.get(&request).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/login?next="));
    let response = phab.browser.open_signed_in(&request).await;
    assert_eq!(response.status(), 302);
    let callback = location(&response);
    assert!(callback.starts_with(example::CALLBACK));
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(param(&callback, "state").as_deref(), Some("s"));
    let response = phab
        .browser
        .get(&phab.auth_path("&scope=admin&state=s"))
        .await;
    assert_eq!(
        param(&location(&response), "error").as_deref(),
        Some("invalid_scope")
    );
    // A bad code at the token endpoint: a descriptive error.
    let (status, body) = phab.token_get("x", "").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn users_revoke_authorizations() {
    let phab = server().await;
    let callback = phab.allow("&scope=whoami").await;
    let code = param(&callback, "code").unwrap();
    let (_, body) = phab.token_get(&code, "").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let path = "/oauthserver/clientauthorization/";
    assert!(
        phab.browser
            .apps(path)
            .await
            .contains("Phabricator Example Client")
    );
    phab.browser.revoke(path, &phab.id).await;
    assert_eq!(phab.whoami(&token).await.status(), 401);
    // Revoked consent: the next authorization asks again.
    let again = phab.browser.get(&phab.auth_path("&scope=whoami")).await;
    assert_eq!(again.status(), 200);
}

/// Finding C7: `/login?next=/%09/evil.example/login` ended at `Location: /\t/evil.example/login`,
/// which browsers resolve off-site. Every hostile spelling now continues to `/`.
#[tokio::test]
async fn c7_login_next_cannot_leave_the_origin() {
    let browser = server().await.browser;
    browser
        .assert_login_next_stays_local("/oauthserver/clientauthorization/")
        .await;
}

/// Finding C9: anonymous pages keep no session on the server; after a flood of them, signing in
/// and the code flow still work.
#[tokio::test]
async fn c9_anonymous_requests_cannot_fill_the_session_table() {
    let phab = server().await;
    phab.browser
        .assert_anonymous_pages_keep_no_session(&[
            "/login?next=/",
            "/oauthserver/clientauthorization/",
        ])
        .await;
    let callback = phab.allow("&scope=whoami").await;
    assert!(param(&callback, "code").is_some());
}
