//! Replays every request of PhoneGap Build's OAuth documentation (seed 000) against the
//! `phonegap_build` example over HTTP, with the document's own paths, parameter placement,
//! example client (`abcdef`/`123456`) and personal auth token (`789hij`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod dialect_common;
#[path = "../examples/phonegap_build.rs"]
mod example;

use dialect_common::{Browser, location, param};
use serde_json::{Value, json};

async fn server() -> Browser {
    dialect_common::start(|base| async move { example::app(&base).await.unwrap() }).await
}

/// GET /authorize?client_id=abcdef, signed in, allowed: the code sent to the callback.
async fn web_flow_code(browser: &Browser) -> String {
    let consent = browser.open_signed_in("/authorize?client_id=abcdef").await;
    let callback = browser.decide(consent, "allow").await;
    assert!(callback.starts_with(example::CALLBACK), "{callback}");
    let url = url::Url::parse(&callback).unwrap();
    let names: Vec<String> = url.query_pairs().map(|(n, _)| n.into_owned()).collect();
    assert_eq!(names, ["code"], "only `code` comes back, as documented");
    param(&callback, "code").unwrap()
}

async fn post(browser: &Browser, path_and_query: &str) -> (u16, Value) {
    let response = browser
        .http
        .post(browser.url(path_and_query))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    (status, response.json().await.unwrap())
}

async fn me(browser: &Browser, token: &str) -> reqwest::Response {
    browser
        .get(&format!("/api/v1/me?access_token={token}"))
        .await
}

#[tokio::test]
async fn web_application_flow_as_documented() {
    let browser = server().await;
    let code = web_flow_code(&browser).await;

    // POST https://build.phonegap.com/authorize/token?client_id=abcdef&client_secret=123456&code=a1b2c3
    let (status, body) = post(
        &browser,
        &format!("/authorize/token?client_id=abcdef&client_secret=123456&code={code}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 1, "{{ \"access_token\": ... }} alone: {body}");
    let token = object["access_token"].as_str().unwrap().to_owned();

    // GET https://build.phonegap.com/api/v1/me?access_token=xyz123
    let response = me(&browser, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"username": "demo"})
    );

    // The code is single-use: the documented error, nothing more.
    let (status, body) = post(
        &browser,
        &format!("/authorize/token?client_id=abcdef&client_secret=123456&code={code}"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body, json!({"error": "invalid request"}));
}

#[tokio::test]
async fn token_request_errors_are_invalid_request() {
    let browser = server().await;
    let code = web_flow_code(&browser).await;
    for (query, status) in [
        (
            format!("client_id=abcdef&client_secret=654321&code={code}"),
            401,
        ),
        (
            format!("client_id=zzzzzz&client_secret=123456&code={code}"),
            401,
        ),
        (
            "client_id=abcdef&client_secret=123456&code=a1b2c3".to_owned(),
            400,
        ),
        ("client_id=abcdef&client_secret=123456".to_owned(), 400),
        (format!("client_id=abcdef&code={code}"), 401),
    ] {
        let (got, body) = post(&browser, &format!("/authorize/token?{query}")).await;
        assert_eq!(body, json!({"error": "invalid request"}), "{query}");
        assert_eq!(got, status, "{query}");
    }
    // The failures above did not burn the code.
    let (status, _) = post(
        &browser,
        &format!("/authorize/token?client_id=abcdef&client_secret=123456&code={code}"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deny_redirects_with_authorization_refused() {
    let browser = server().await;
    let consent = browser.open_signed_in("/authorize?client_id=abcdef").await;
    let callback = browser.decide(consent, "deny").await;
    assert!(callback.starts_with(example::CALLBACK), "{callback}");
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("authorization_refused")
    );
    assert_eq!(param(&callback, "code"), None);
}

#[tokio::test]
async fn unknown_client_is_shown_not_redirected() {
    let browser = server().await;
    let response = browser.get("/authorize?client_id=nosuch").await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("unknown client_id"));
}

#[tokio::test]
async fn non_web_application_flow_as_documented() {
    let browser = server().await;
    // POST https://build.phonegap.com/authorize?client_id=abcdef&client_secret=123456&auth_token=789hij
    let (status, body) = post(
        &browser,
        "/authorize?client_id=abcdef&client_secret=123456&auth_token=789hij",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let response = me(&browser, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"username": "demo"})
    );

    // { "error" : "Invalid authentication token." } when the params fail to check out.
    for query in [
        "client_id=abcdef&client_secret=123456&auth_token=000000",
        "client_id=abcdef&client_secret=123456",
        "client_id=abcdef&client_secret=wrong&auth_token=789hij",
        "client_id=nosuch&client_secret=123456&auth_token=789hij",
    ] {
        let (status, body) = post(&browser, &format!("/authorize?{query}")).await;
        assert_eq!(
            body,
            json!({"error": "Invalid authentication token."}),
            "{query}"
        );
        assert!(status == 400 || status == 401, "{query}: {status}");
    }
}

#[tokio::test]
async fn users_see_and_revoke_authorized_applications() {
    let browser = server().await;
    let code = web_flow_code(&browser).await;
    let (_, body) = post(
        &browser,
        &format!("/authorize/token?client_id=abcdef&client_secret=123456&code={code}"),
    )
    .await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (_, exchanged) = post(
        &browser,
        "/authorize?client_id=abcdef&client_secret=123456&auth_token=789hij",
    )
    .await;
    let exchanged = exchanged["access_token"].as_str().unwrap().to_owned();

    let html = browser.apps("/apps").await;
    assert!(html.contains("Example App"), "{html}");
    browser.revoke("/apps", "abcdef").await;
    for token in [token, exchanged] {
        let response = me(&browser, &token).await;
        assert_eq!(response.status(), 401);
    }
}

#[tokio::test]
async fn csrf_token_is_required_for_consent() {
    let browser = server().await;
    let consent = browser.open_signed_in("/authorize?client_id=abcdef").await;
    let html = consent.text().await.unwrap();
    let response = browser
        .post_form(
            "/consent",
            dialect_common::form(&[
                ("csrf", "forged"),
                ("request", &dialect_common::hidden(&html, "request")),
                ("decision", "allow"),
            ]),
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn login_is_csrf_protected_and_pages_cannot_be_framed() {
    let browser = server().await;
    let first = browser.get("/authorize?client_id=abcdef").await;
    let login = browser.get(&location(&first)).await;
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    // support's pages: a strict CSP that also forbids framing.
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let forged = browser
        .post_form(
            "/login",
            dialect_common::form(&[
                ("username", "demo"),
                ("password", "demo"),
                ("csrf", "forged"),
                ("next", "/apps"),
            ]),
        )
        .await;
    assert_eq!(forged.status(), 403);
    // Wrong password: the form again, not signed in.
    let html = login.text().await.unwrap();
    let wrong = browser
        .post_form(
            "/login",
            dialect_common::form(&[
                ("username", "demo"),
                ("password", "nope"),
                ("csrf", &dialect_common::hidden(&html, "csrf")),
                ("next", "/apps"),
            ]),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let apps = browser.get("/apps").await;
    assert_eq!(apps.status(), 303, "still signed out");
    // `next` is a local path only: no open redirect after login.
    let signed_in = browser
        .post_form(
            "/login",
            dialect_common::form(&[
                ("username", "demo"),
                ("password", "demo"),
                ("csrf", &dialect_common::hidden(&html, "csrf")),
                ("next", "//evil.example/"),
            ]),
        )
        .await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(location(&signed_in), "/");
}

/// Bodies over the shared 64 KiB bound of `examples/support` are refused with 413, on the
/// token endpoint and on the login form alike.
#[tokio::test]
async fn oversized_bodies_are_refused() {
    let browser = server().await;
    let big = format!("client_id=abcdef&pad={}", "a".repeat(65 * 1024));
    let token = browser.post_form("/authorize/token", big.clone()).await;
    assert_eq!(token.status(), 413);
    let login = browser.post_form("/login", big).await;
    assert_eq!(login.status(), 413);
    let small = browser
        .post_form("/authorize/token", "client_id=abcdef".to_owned())
        .await;
    assert_ne!(small.status(), 413);
}

/// Finding C7: `/login?next=/%09/evil.example/login` ended at `Location: /\t/evil.example/login`,
/// which browsers resolve off-site. Every hostile spelling now continues to `/`.
#[tokio::test]
async fn c7_login_next_cannot_leave_the_origin() {
    let browser = server().await;
    browser
        .assert_login_next_stays_local("/authorize?client_id=abcdef")
        .await;
}

/// Finding C16: the web flow and the non-web flow are two providers over one client; wrong
/// secrets at one endpoint count against the same budget (20 per 15 minutes) at the other.
#[tokio::test]
async fn c16_one_client_authentication_budget_across_both_flows() {
    let browser = server().await;
    let code = web_flow_code(&browser).await;
    // The budget spent at the web flow's token endpoint ...
    for _ in 0..20 {
        let (status, body) = post(
            &browser,
            &format!("/authorize/token?client_id=abcdef&client_secret=wrong&code={code}"),
        )
        .await;
        assert_eq!((status, body), (401, json!({"error": "invalid request"})));
    }
    // ... is spent at the non-web flow's too: the right secret is refused there now.
    let (status, body) = post(
        &browser,
        "/authorize?client_id=abcdef&client_secret=123456&auth_token=789hij",
    )
    .await;
    assert_eq!(
        (status, body),
        (401, json!({"error": "Invalid authentication token."})),
        "the non-web flow has a budget of its own"
    );
}

/// Finding C9: anonymous pages keep no session on the server; after a flood of them, signing in
/// and the code flow still work.
#[tokio::test]
async fn c9_anonymous_requests_cannot_fill_the_session_table() {
    let browser = server().await;
    browser
        .assert_anonymous_pages_keep_no_session(&[
            "/login?next=/apps",
            "/authorize?client_id=abcdef",
            "/apps",
        ])
        .await;
    let code = web_flow_code(&browser).await;
    let (status, _) = post(
        &browser,
        &format!("/authorize/token?client_id=abcdef&client_secret=123456&code={code}"),
    )
    .await;
    assert_eq!(status, 200);
}
