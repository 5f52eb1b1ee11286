//! A browser for the dialect example servers: real HTTP with a cookie jar, redirects not
//! followed (the tests read each `Location`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::future::Future;

use axum::Router;

#[path = "../support/hostile_next.rs"]
mod hostile_next;

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
}

/// Binds a loopback port, builds the example's router for that issuer, and serves it.
pub async fn start<F, Fut>(build: F) -> Browser
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Router>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = build(base.clone()).await;
    // With the peer address, as the examples' own `serve` does (rate limits and session quotas
    // are per source).
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    Browser {
        base,
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// An example server started with [`start_registered`], and the client it registered at start.
pub struct Registered {
    pub browser: Browser,
    pub id: String,
    pub secret: String,
}

/// Like [`start`], for examples whose `app` also returns the registered client's id and secret.
pub async fn start_registered<F, Fut>(build: F) -> Registered
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = (Router, String, String)>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let browser = start(|base| async move {
        let (router, id, secret) = build(base).await;
        tx.send((id, secret)).unwrap();
        router
    })
    .await;
    let (id, secret) = rx.await.unwrap();
    Registered {
        browser,
        id,
        secret,
    }
}

/// `text` percent-encoded for a query string.
pub fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Reverses the HTML escaping minijinja applies to attribute values.
fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    unescape(&html[start..end])
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location ({})", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, body: String) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Opens `path` (an authorization request); if sent to the login page, signs in as
    /// demo/demo and opens it again. Returns the final response (consent page or redirect).
    pub async fn open_signed_in(&self, path: &str) -> reqwest::Response {
        let first = self.get(path).await;
        if first.status() != 303 {
            return first;
        }
        let login_path = location(&first);
        assert!(login_path.starts_with("/login?next="), "{login_path}");
        let page = self.get(&login_path).await.text().await.unwrap();
        let signed_in = self
            .post_form(
                "/login",
                form(&[
                    ("username", "demo"),
                    ("password", "demo"),
                    ("csrf", &hidden(&page, "csrf")),
                    ("next", &hidden(&page, "next")),
                ]),
            )
            .await;
        assert_eq!(signed_in.status(), 303);
        let back = location(&signed_in);
        assert_eq!(back, path, "login returns to the authorization request");
        self.get(&back).await
    }

    /// Answers the consent page `page` with `decision` ("allow" or "deny"); returns the
    /// redirect to the client.
    pub async fn decide(&self, page: reqwest::Response, decision: &str) -> String {
        assert_eq!(page.status(), 200, "a consent page");
        let html = page.text().await.unwrap();
        let response = self
            .post_form(
                "/consent",
                form(&[
                    ("csrf", &hidden(&html, "csrf")),
                    ("request", &hidden(&html, "request")),
                    ("decision", decision),
                ]),
            )
            .await;
        assert_eq!(response.status(), 302);
        location(&response)
    }

    /// The applications page's HTML.
    pub async fn apps(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Presses "Revoke" for `client_id` on the applications page at `path`.
    pub async fn revoke(&self, path: &str, client_id: &str) {
        let html = self.apps(path).await;
        let action = format!("{}/revoke", path.trim_end_matches('/'));
        let response = self
            .post_form(
                &action,
                form(&[("csrf", &hidden(&html, "csrf")), ("client_id", client_id)]),
            )
            .await;
        assert_eq!(response.status(), 303);
        assert!(!self.apps(path).await.contains(client_id));
    }

    /// Finding C7: whatever `next` the login page is given, in its query or in the form, the
    /// login continues on this origin (to `/` for every hostile spelling), and `local` is kept.
    pub async fn assert_login_next_stays_local(&self, local: &str) {
        let mut kept = Vec::new();
        for next in hostile_next::HOSTILE.iter().copied().chain([local]) {
            let page = self.get(&format!("/login?next={}", enc(next))).await;
            assert_eq!(page.status(), 200, "{next:?}");
            let html = page.text().await.unwrap();
            let shown = hidden(&html, "next");
            let signed_in = self
                .post_form(
                    "/login",
                    form(&[
                        ("username", "demo"),
                        ("password", "demo"),
                        ("csrf", &hidden(&html, "csrf")),
                        ("next", next),
                    ]),
                )
                .await;
            assert_eq!(signed_in.status(), 303, "{next:?}");
            let to = location(&signed_in);
            assert!(
                hostile_next::same_origin(&self.base, &to),
                "{next:?} led to {to:?}"
            );
            if next == local {
                assert_eq!((shown.as_str(), to.as_str()), (local, local));
            } else if to != "/" || shown != "/" {
                kept.push((next, shown, to));
            }
        }
        assert!(kept.is_empty(), "hostile `next` values kept: {kept:?}");
    }

    /// Finding C9: cookieless GETs of pages with forms (`paths`) made a server-side session
    /// each, until the table was full and everyone got 429. Now they keep nothing on the server:
    /// a flood sets no session cookie and leaves the pages, and signing in, working.
    pub async fn assert_anonymous_pages_keep_no_session(&self, paths: &[&str]) {
        let anonymous = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        for n in 0..600 {
            let path = paths[n % paths.len()];
            let response = anonymous.get(self.url(path)).send().await.unwrap();
            assert!(
                response.status().is_success() || response.status().is_redirection(),
                "{path}: {}",
                response.status()
            );
            for cookie in response.headers().get_all("set-cookie") {
                let cookie = cookie.to_str().unwrap();
                assert!(
                    !cookie.starts_with("tessera_session="),
                    "{path} made a session: {cookie}"
                );
            }
        }
    }
}
