//! Drives the real `examples/server.rs` binary over HTTP as a black box, as any OAuth client or
//! browser would: everything the contract in the example's documentation promises.
//!
//! One server process serves the whole black-box walk (started on port 0, its address read from
//! the `listening on` line), so the suite stays quick.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use url::Url;

#[path = "support/cargo_env.rs"]
mod cargo_env;
#[cfg(feature = "redis")]
#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/hostile_next.rs"]
mod hostile_next;
#[path = "support/listening_server.rs"]
mod listening_server;

const VERIFIER: &str = "a-pkce-verifier-for-the-black-box-test-0123456789";
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Builds the example once per test run (a no-op when it is fresh) and returns its path.
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| cargo_env::build_example("server"))
        .clone()
}

/// The PhoneGap Build dialect example's binary, built as [`example_binary`] is.
fn phonegap_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| cargo_env::build_example("phonegap_build"))
        .clone()
}

/// A running server and its base URL; killed when dropped.
struct Server {
    _child: Child,
    base: String,
}

async fn start(extra: &[&str]) -> Server {
    let (child, base) = listening_server::spawn_listening(&example_binary(), extra).await;
    Server {
        _child: child,
        base,
    }
}

/// An HTTP client that does not follow redirects; `browser` ones keep cookies.
fn client(browser: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(browser)
        .build()
        .expect("client")
}

fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn challenge() -> String {
    tessera::pkce_s256_challenge(VERIFIER)
}

/// The `value` of the input named `name` (only used for values with no HTML escapes in them:
/// CSRF tokens, which are base64url).
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn location(headers: &HeaderMap) -> Url {
    let text = headers
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ascii location");
    Url::parse(text).expect("absolute location")
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

fn assert_invalid_grant(status: StatusCode, body: &Value) {
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

fn assert_frame_protected(headers: &HeaderMap) {
    assert_eq!(headers["x-frame-options"], "DENY");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

struct Registered {
    id: String,
    secret: Option<String>,
    /// The RFC 7592 `registration_client_uri` and registration access token.
    configuration: (String, String),
}

impl Registered {
    fn auth(&self) -> String {
        basic(&self.id, self.secret.as_deref().unwrap_or(""))
    }
}

struct Walk {
    base: String,
    meta: Value,
    api: reqwest::Client,
}

impl Walk {
    fn url(&self, field: &str) -> String {
        self.meta[field]
            .as_str()
            .unwrap_or_else(|| panic!("metadata has {field}"))
            .to_owned()
    }

    async fn register(&self, body: Value) -> Registered {
        let response = self
            .api
            .post(self.url("registration_endpoint"))
            .json(&body)
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), StatusCode::CREATED);
        let doc: Value = response.json().await.expect("json");
        Registered {
            id: doc["client_id"].as_str().expect("client_id").to_owned(),
            secret: doc["client_secret"].as_str().map(str::to_owned),
            configuration: (
                doc["registration_client_uri"]
                    .as_str()
                    .expect("uri")
                    .to_owned(),
                doc["registration_access_token"]
                    .as_str()
                    .expect("token")
                    .to_owned(),
            ),
        }
    }

    async fn confidential(&self, extra: Value) -> Registered {
        let mut body = json!({"client_name": "Black box app", "redirect_uris": [REDIRECT]});
        if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
            map.extend(extra);
        }
        self.register(body).await
    }

    fn authorize_url(&self, client: &Registered, scope: &str, pkce: bool) -> String {
        let mut url = Url::parse(&self.url("authorization_endpoint")).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", scope)
            .append_pair("state", "st-123");
        if pkce {
            url.query_pairs_mut()
                .append_pair("code_challenge", &challenge())
                .append_pair("code_challenge_method", "S256");
        }
        url.to_string()
    }

    /// Logs `browser` in through the login form on `page` (its HTML), continuing to `next`
    /// (what the form's hidden `next` holds, in an equivalent encoding); returns the response
    /// to the login POST.
    async fn log_in(&self, browser: &reqwest::Client, page: &str, next: &str) -> reqwest::Response {
        assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
        assert!(page.contains("name=\"next\""));
        let csrf = input_value(page, "csrf").expect("login form has a CSRF token");
        browser
            .post(format!("{}/login", self.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("next", next),
                ("username", "demo"),
                ("password", "demo"),
            ])
            .send()
            .await
            .expect("login")
    }

    /// Runs the browser side to a code: login if asked, consent if asked, `decision`.
    async fn browser_flow(
        &self,
        browser: &reqwest::Client,
        authorize: &str,
        decision: &str,
    ) -> (Url, bool) {
        let mut response = browser.get(authorize).send().await.expect("authorize");
        let mut consent_shown = false;
        for _ in 0..4 {
            if response.status() == StatusCode::FOUND {
                let to = location(response.headers());
                if to.as_str().starts_with(REDIRECT) {
                    return (to, consent_shown);
                }
            }
            if response.status() == StatusCode::SEE_OTHER {
                let to = response.headers()[LOCATION]
                    .to_str()
                    .expect("loc")
                    .to_owned();
                response = browser
                    .get(format!("{}{to}", self.base))
                    .send()
                    .await
                    .expect("follow");
                continue;
            }
            assert_eq!(response.status(), StatusCode::OK);
            assert_frame_protected(response.headers());
            let page = response.text().await.expect("html");
            if page.contains("name=\"password\"") {
                let next = format!(
                    "/authorize?{}",
                    Url::parse(authorize).expect("url").query().unwrap_or("")
                );
                response = self.log_in(browser, &page, &next).await;
                assert_eq!(response.status(), StatusCode::SEE_OTHER, "login succeeds");
            } else {
                assert!(page.contains("name=\"decision\" value=\"allow\""));
                assert!(page.contains("name=\"decision\" value=\"deny\""));
                consent_shown = true;
                let csrf = input_value(&page, "csrf").expect("consent CSRF");
                let request = Url::parse(authorize)
                    .expect("url")
                    .query()
                    .unwrap_or("")
                    .to_owned();
                // The consent form's hidden `request` is the validated authorization query.
                response = browser
                    .post(format!("{}/consent", self.base))
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("request", request.as_str()),
                        ("decision", decision),
                    ])
                    .send()
                    .await
                    .expect("consent");
            }
        }
        panic!("the authorization flow did not end in a redirect");
    }

    async fn token(&self, auth: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut request = self.api.post(self.url("token_endpoint")).form(form);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("token");
        let status = response.status();
        (status, response.json().await.expect("token json"))
    }

    async fn code_tokens(&self, client: &Registered, code: &str) -> Value {
        let secret = client.secret.as_deref();
        let auth = secret.map(|_| client.auth());
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        if secret.is_none() {
            form.push(("client_id", &client.id));
        }
        let (status, body) = self.token(auth.as_deref(), &form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Runs the browser flow at `authorize` to an allowed code and redeems it for `client`.
    async fn allowed_tokens(
        &self,
        browser: &reqwest::Client,
        client: &Registered,
        authorize: &str,
    ) -> Value {
        let (back, _) = self.browser_flow(browser, authorize, "allow").await;
        self.code_tokens(client, &query_param(&back, "code").expect("code"))
            .await
    }

    async fn me(&self, token: &str) -> (StatusCode, HeaderMap, String) {
        let response = self
            .api
            .get(format!("{}/api/me", self.base))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("api");
        (
            response.status(),
            response.headers().clone(),
            response.text().await.expect("body"),
        )
    }

    async fn endpoint(&self, field: &str, auth: Option<&str>, form: &[(&str, &str)]) -> Value {
        let mut request = self.api.post(self.url(field)).form(form);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("post");
        assert!(response.status().is_success() || response.status().is_client_error());
        let status = response.status();
        let body = response.text().await.expect("body");
        let mut value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.insert("_status".into(), status.as_u16().into());
        } else {
            value = json!({"_status": status.as_u16()});
        }
        value
    }
}

/// Reads the metadata document (checking what the contract promises in it).
async fn discover(server: &Server) -> Walk {
    let api = client(false);

    // Discovery (RFC 8414).
    let meta: Value = api
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["issuer"], server.base.as_str());
    assert!(!server.base.ends_with('/'));
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
        "device_authorization_endpoint",
    ] {
        assert!(meta[field].as_str().is_some(), "{field}");
    }
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    for grant in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        assert!(
            meta["grant_types_supported"]
                .as_array()
                .expect("grants")
                .contains(&json!(grant))
        );
    }
    for scope in ["whoami", "offline_access"] {
        assert!(
            meta["scopes_supported"]
                .as_array()
                .expect("scopes")
                .contains(&json!(scope))
        );
    }
    Walk {
        base: server.base.clone(),
        meta,
        api,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_honours_its_contract() {
    walk_the_contract(&[]).await;
}

/// The same walk with the PostgreSQL store (`--features postgres` and
/// `TESSERA_TEST_POSTGRES_URL`, as `.ci/run` sets them; skipped otherwise).
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_postgres() {
    let Ok(url) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        eprintln!("TESSERA_TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    walk_the_contract(&["--database-url", &url]).await;
}

/// The same walk with the SQLite store (`--features sqlite`; needs nothing running), on a
/// fresh database file removed afterwards.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_sqlite() {
    let mut run = [0u8; 8];
    rand::Rng::fill(&mut rand::rng(), &mut run);
    let path = std::env::temp_dir().join(format!(
        "tessera-example-test-{:016x}.db",
        u64::from_be_bytes(run)
    ));
    let url = format!("sqlite://{}", path.display());
    // Removes the database and its WAL files, whether or not the walk passed.
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = self.0.as_os_str().to_owned();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
    let _remove = Remove(path);
    walk_the_contract(&["--database-url", &url]).await;
}

/// The same walk with the Redis store (`--features redis` and `TESSERA_TEST_REDIS_URL`), under
/// a key prefix of its own (a Redis shared with other runs, or other versions, may hold
/// anything under the default one), purged afterwards.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_holds_on_redis() {
    let Ok(url) = std::env::var("TESSERA_TEST_REDIS_URL") else {
        eprintln!("TESSERA_TEST_REDIS_URL is not set: skipped");
        return;
    };
    let mut run = [0u8; 8];
    rand::Rng::fill(&mut rand::rng(), &mut run);
    let prefix = format!("tessera:example-test:{}:", u64::from_be_bytes(run));
    walk_the_contract(&["--database-url", &url, "--redis-prefix", &prefix]).await;
    let store = tessera::store::RedisStore::connect(&url)
        .await
        .expect("redis")
        .with_prefix(prefix);
    store.purge().await.expect("purge");
}

/// `/healthz` is a readiness check: 503 with `Retry-After` while the store cannot be reached
/// (Redis behind a proxy of the test's, its connections dropped and refused), and the protocol
/// endpoints answer 503 `temporarily_unavailable` meanwhile; 200 again within 5 s of the store
/// coming back.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_follows_the_store() {
    use std::net::ToSocketAddrs as _;

    let Ok(url) = std::env::var("TESSERA_TEST_REDIS_URL") else {
        eprintln!("TESSERA_TEST_REDIS_URL is not set: skipped");
        return;
    };
    let parsed = Url::parse(&url).expect("a Redis URL");
    let upstream = (
        parsed.host_str().expect("a host"),
        parsed.port().unwrap_or(6379),
    )
        .to_socket_addrs()
        .expect("resolve")
        .next()
        .expect("an address");
    let proxy = fault_proxy::FaultProxy::start(upstream).await;
    let mut through = parsed.clone();
    through.set_port(Some(proxy.addr().port())).expect("a port");
    through.set_host(Some("127.0.0.1")).expect("a host");
    let mut run = [0u8; 8];
    rand::Rng::fill(&mut rand::rng(), &mut run);
    let prefix = format!("tessera:example-health:{}:", u64::from_be_bytes(run));
    let server = start(&[
        "--database-url",
        through.as_str(),
        "--redis-prefix",
        &prefix,
    ])
    .await;
    let http = client(false);
    let health = || async {
        http.get(format!("{}/healthz", server.base))
            .send()
            .await
            .expect("healthz")
    };
    assert_eq!(health().await.status(), StatusCode::OK);

    proxy.set(fault_proxy::Mode::Down);
    let down = health().await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(down.headers().contains_key("retry-after"));
    let token = http
        .post(format!("{}/token", server.base))
        .header("authorization", basic("some-client", "some-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(token.headers().contains_key("retry-after"));
    let body: Value = token.json().await.expect("a JSON error");
    assert_eq!(body["error"], "temporarily_unavailable");

    proxy.set(fault_proxy::Mode::Pass);
    let back = std::time::Instant::now();
    while health().await.status() != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not ready 5 s after"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let store = tessera::store::RedisStore::connect(&url)
        .await
        .expect("redis")
        .with_prefix(prefix);
    store.purge().await.expect("purge");
}

async fn walk_the_contract(flags: &[&str]) {
    let server = start(flags).await;
    let walk = discover(&server).await;

    // The readiness route (the HTTP floor of benches/http_load.rs), up with the store.
    let health = walk
        .api
        .get(format!("{}/healthz", walk.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.expect("body"), "ok");

    let app = walk.confidential(json!({})).await;
    let other = walk.confidential(json!({})).await;

    // RFC 7592: the client reads its registration with its registration access token.
    let (uri, token) = &app.configuration;
    let read = walk
        .api
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), StatusCode::OK);
    let doc: Value = read.json().await.expect("json");
    assert_eq!(doc["client_id"], app.id.as_str());
    assert!(doc.get("client_secret").is_none());
    let read = walk
        .api
        .get(uri)
        .bearer_auth(&other.configuration.1)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);

    // Login and consent, then the code goes back with state and iss.
    let browser = client(true);
    let authorize = walk.authorize_url(&app, "whoami", true);
    let (back, consent_shown) = walk.browser_flow(&browser, &authorize, "allow").await;
    assert!(consent_shown);
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str())
    );
    let code = query_param(&back, "code").expect("code");

    // A code issued with a challenge, redeemed without the verifier: invalid_grant.
    let (status, body) = walk
        .token(
            Some(&app.auth()),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_invalid_grant(status, &body);

    // The second try is refused too (the code was consumed by the first); get a new one: the
    // consent is remembered, so no consent page this time.
    let (back, consent_shown) = walk.browser_flow(&browser, &authorize, "allow").await;
    assert!(!consent_shown, "consent is remembered");
    let tokens = walk
        .code_tokens(&app, &query_param(&back, "code").expect("code"))
        .await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert!(tokens["expires_in"].as_i64().is_some_and(|s| s > 0));

    // A new browser (no session) logs in, and the consent page is still skipped.
    let (_, consent_shown) = walk.browser_flow(&client(true), &authorize, "allow").await;
    assert!(!consent_shown);

    // /api/me: header (any case), query; refusals with challenges.
    let (status, _, body) = walk.me(&access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["username"],
        "demo"
    );
    let lower = walk
        .api
        .get(format!("{}/api/me", server.base))
        .header("authorization", format!("bearer {access}"))
        .send()
        .await
        .expect("api");
    assert_eq!(lower.status(), StatusCode::OK);
    let query = walk
        .api
        .get(format!("{}/api/me?access_token={access}", server.base))
        .send()
        .await
        .expect("api");
    assert_eq!(query.status(), StatusCode::OK);
    let none = walk
        .api
        .get(format!("{}/api/me", server.base))
        .send()
        .await
        .expect("api");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .expect("h")
            .starts_with("Bearer")
    );
    let (status, headers, _) = walk.me("tsr_at_not-a-real-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key("www-authenticate"));

    // Introspection and revocation need client authentication and see only own tokens.
    let intro = walk
        .endpoint("introspection_endpoint", None, &[("token", &access)])
        .await;
    assert_eq!(intro["_status"], 401);
    let intro = walk
        .endpoint(
            "introspection_endpoint",
            Some(&other.auth()),
            &[("token", &access)],
        )
        .await;
    assert_eq!(intro["active"], false);
    let intro = walk
        .endpoint(
            "introspection_endpoint",
            Some(&app.auth()),
            &[("token", &access)],
        )
        .await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], app.id.as_str());
    let revoked = walk
        .endpoint("revocation_endpoint", None, &[("token", &access)])
        .await;
    assert_eq!(revoked["_status"], 401);
    let revoked = walk
        .endpoint(
            "revocation_endpoint",
            Some(&other.auth()),
            &[("token", &access)],
        )
        .await;
    assert_eq!(revoked["_status"], 200);
    assert_eq!(
        walk.me(&access).await.0,
        StatusCode::OK,
        "others cannot revoke it"
    );

    // Refresh rotates; replaying the old refresh token revokes the whole grant.
    let (status, rotated) = walk
        .token(
            Some(&app.auth()),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_refresh = rotated["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    let new_access = rotated["access_token"].as_str().expect("access").to_owned();
    assert_ne!(new_refresh, refresh);
    assert_eq!(walk.me(&new_access).await.0, StatusCode::OK);
    let (status, reuse) = walk
        .token(
            Some(&app.auth()),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, after) = walk
        .token(
            Some(&app.auth()),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &new_refresh),
            ],
        )
        .await;
    assert_eq!(
        (status, after["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(walk.me(&new_access).await.0, StatusCode::UNAUTHORIZED);

    // Revocation by the owner.
    let tokens = walk.allowed_tokens(&browser, &app, &authorize).await;
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let revoked = walk
        .endpoint(
            "revocation_endpoint",
            Some(&app.auth()),
            &[("token", &access)],
        )
        .await;
    assert_eq!(revoked["_status"], 200);
    assert_eq!(walk.me(&access).await.0, StatusCode::UNAUTHORIZED);
    let intro = walk
        .endpoint(
            "introspection_endpoint",
            Some(&app.auth()),
            &[("token", &access)],
        )
        .await;
    assert_eq!(intro["active"], false);

    // Deny: access_denied goes back with state and iss.
    let (back, shown) = walk
        .browser_flow(
            &browser,
            &walk.authorize_url(&other, "whoami", true),
            "deny",
        )
        .await;
    assert!(shown);
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str())
    );

    // offline_access: no expires_in, on the code response and the refresh response.
    let tokens = walk
        .allowed_tokens(
            &browser,
            &app,
            &walk.authorize_url(&app, "whoami offline_access", true),
        )
        .await;
    assert!(tokens.get("expires_in").is_none(), "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let (_, refreshed) = walk
        .token(
            Some(&app.auth()),
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("r"),
                ),
            ],
        )
        .await;
    assert!(refreshed["access_token"].is_string() && refreshed.get("expires_in").is_none());
    let offline_access = refreshed["access_token"].as_str().expect("a").to_owned();

    // The authorized applications page lists the app; revoking it there ends its tokens.
    let apps = browser
        .get(format!("{}/apps", server.base))
        .send()
        .await
        .expect("apps");
    assert_frame_protected(apps.headers());
    let page = apps.text().await.expect("html");
    assert!(page.contains(&app.id), "the app is listed: {page}");
    let csrf = input_value(&page, "csrf").expect("csrf");
    let forged = browser
        .post(format!("{}/apps/revoke", server.base))
        .form(&[("client_id", app.id.as_str())])
        .send()
        .await
        .expect("forged");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(walk.me(&offline_access).await.0, StatusCode::OK);
    let revoke = browser
        .post(format!("{}/apps/revoke", server.base))
        .form(&[("csrf", csrf.as_str()), ("client_id", app.id.as_str())])
        .send()
        .await
        .expect("revoke app");
    assert_eq!(revoke.status(), StatusCode::SEE_OTHER);
    assert_eq!(walk.me(&offline_access).await.0, StatusCode::UNAUTHORIZED);
    // ... and the consent went with it: the consent page is shown again.
    let (_, shown) = walk.browser_flow(&browser, &authorize, "allow").await;
    assert!(shown);

    // CSRF: a forged login or consent POST (no token, or another session's) is refused.
    let attacker = client(true);
    let forged = attacker
        .post(format!("{}/login", server.base))
        .form(&[
            ("username", "demo"),
            ("password", "demo"),
            ("next", "/apps"),
        ])
        .send()
        .await
        .expect("forged login");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get("set-cookie").is_none());
    let request = Url::parse(&walk.authorize_url(&other, "whoami", true))
        .expect("url")
        .query()
        .unwrap_or("")
        .to_owned();
    let forged = browser
        .post(format!("{}/consent", server.base))
        .form(&[
            ("csrf", "not-the-token"),
            ("request", request.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("forged consent");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get(LOCATION).is_none());

    // Untrusted requests: a 400 page naming the error, never a redirect.
    let evil = "https://evil.example/cb";
    for query in [
        format!(
            "response_type=code&client_id={}&redirect_uri={evil}&state=x",
            app.id
        ),
        format!(
            "response_type=code&client_id={}&redirect_uri=not%20a%20uri",
            app.id
        ),
        "response_type=code&client_id=unknown-client&redirect_uri=http://127.0.0.1:9/cb".into(),
        format!("response_type=code&client_id={}&client_id=x", app.id),
        // Even with a single registered URI, the request must name it.
        format!(
            "response_type=code&client_id={}&state=x&scope=whoami",
            app.id
        ),
    ] {
        let response = browser
            .get(format!("{}/authorize?{query}", server.base))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(response.headers().get(LOCATION).is_none());
        let page = response.text().await.expect("html");
        assert!(
            page.contains("invalid_request") || page.contains("unauthorized_client"),
            "{page}"
        );
        assert!(!page.contains("evil.example/cb?"));
    }

    // Oversized requests: 413, 414, 431 (or 400), never 5xx.
    let big = "a".repeat(2 * 1024 * 1024);
    let body = walk
        .api
        .post(walk.url("token_endpoint"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&x={big}"))
        .send()
        .await;
    if let Ok(response) = body {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // A declared length over the limit is answered at once, before any body arrives.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut raw = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    raw.write_all(
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\r\ngrant_type=",
    )
    .await
    .expect("write");
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), raw.read_exact(&mut head))
        .await
        .expect("answered without the body")
        .expect("read");
    assert_eq!(&head, b"HTTP/1.1 413");
    let long = walk
        .api
        .get(format!("{}/authorize?x={}", server.base, &big[..20_000]))
        .send()
        .await
        .expect("long uri");
    assert_eq!(long.status(), StatusCode::URI_TOO_LONG);
    let header = walk
        .api
        .get(format!("{}/api/me", server.base))
        .header("x-filler", &big[..20_000])
        .send()
        .await
        .expect("big header");
    assert_eq!(header.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let huge_form = walk
        .api
        .post(format!("{}/login", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big[..60_000].to_owned())
        .send()
        .await
        .expect("big form");
    assert!(
        huge_form.status().is_client_error(),
        "{}",
        huge_form.status()
    );

    // A client may use only its registered grants.
    let (status, body) = walk
        .token(Some(&app.auth()), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );

    // Client credentials: a token with no user; /api/me answers insufficient_scope.
    let service = walk
        .register(json!({
            "client_name": "Service",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
        }))
        .await;
    let (status, body) = walk
        .token(
            Some(&service.auth()),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, _) = walk
        .me(body["access_token"].as_str().expect("cc token"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("h")
            .contains("insufficient_scope")
    );

    // A public client must use PKCE; the code then needs the verifier.
    let public = walk
        .register(json!({
            "client_name": "Native app",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    assert!(public.secret.is_none());
    let (back, _) = walk
        .browser_flow(
            &browser,
            &walk.authorize_url(&public, "whoami", false),
            "allow",
        )
        .await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str())
    );
    let (back, _) = walk
        .browser_flow(
            &browser,
            &walk.authorize_url(&public, "whoami", true),
            "allow",
        )
        .await;
    let code = query_param(&back, "code").expect("code");
    let (status, body) = walk
        .token(
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &public.id),
            ],
        )
        .await;
    assert_invalid_grant(status, &body);
    let tokens = walk
        .allowed_tokens(
            &browser,
            &public,
            &walk.authorize_url(&public, "whoami", true),
        )
        .await;
    assert_eq!(
        walk.me(tokens["access_token"].as_str().expect("a")).await.0,
        StatusCode::OK
    );

    // Device flow (RFC 8628), end to end through the verification page.
    let tv = walk
        .register(json!({
            "client_name": "Living room TV",
            "redirect_uris": [],
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let started = walk
        .endpoint(
            "device_authorization_endpoint",
            None,
            &[("client_id", &tv.id), ("scope", "whoami")],
        )
        .await;
    assert_eq!(started["_status"], 200, "{started}");
    let device_code = started["device_code"]
        .as_str()
        .expect("device_code")
        .to_owned();
    let user_code = started["user_code"].as_str().expect("user_code").to_owned();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", device_code.as_str()),
        ("client_id", tv.id.as_str()),
    ];
    let (status, pending) = walk.token(None, &poll).await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );
    let phone = client(true);
    let form = phone
        .get(started["verification_uri"].as_str().expect("uri"))
        .send()
        .await
        .expect("verification page");
    assert_eq!(form.status(), StatusCode::OK);
    assert_frame_protected(form.headers());
    let page = form.text().await.expect("html");
    assert!(page.contains("name=\"user_code\""));
    let csrf = input_value(&page, "csrf").expect("csrf");
    let forged = phone
        .post(format!("{}/device", server.base))
        .form(&[("user_code", user_code.as_str())])
        .send()
        .await
        .expect("forged device");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let login = phone
        .post(format!("{}/device", server.base))
        .form(&[("csrf", csrf.as_str()), ("user_code", user_code.as_str())])
        .send()
        .await
        .expect("code entered");
    let page = login.text().await.expect("html");
    let next = format!("/device?user_code={user_code}");
    let logged_in = walk.log_in(&phone, &page, &next).await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let next = logged_in.headers()[LOCATION]
        .to_str()
        .expect("loc")
        .to_owned();
    let consent = phone
        .get(format!("{}{next}", server.base))
        .send()
        .await
        .expect("device consent page");
    assert_frame_protected(consent.headers());
    let page = consent.text().await.expect("html");
    assert!(page.contains("Living room TV") && page.contains("value=\"allow\""));
    let csrf = input_value(&page, "csrf").expect("csrf");
    let done = phone
        .post(format!("{}/device/consent", server.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("user_code", user_code.as_str()),
            ("decision", "allow"),
        ])
        .send()
        .await
        .expect("device decision");
    assert_eq!(done.status(), StatusCode::OK);
    // A device waits `interval` seconds between polls (RFC 8628 §3.5).
    let interval = started["interval"].as_u64().expect("interval");
    tokio::time::sleep(Duration::from_secs(interval + 1)).await;
    let (status, tokens) = walk.token(None, &poll).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        walk.me(tokens["access_token"].as_str().expect("a")).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_flags_shorten_lifetimes_and_rate_limits() {
    let server = start(&[
        "--access-token-ttl",
        "2",
        "--code-ttl",
        "2",
        "--rate-limit",
        "4",
    ])
    .await;
    let walk = discover(&server).await;
    let app = walk.confidential(json!({})).await;
    let browser = client(true);
    let authorize = walk.authorize_url(&app, "whoami", true);

    // A code not redeemed within --code-ttl is refused.
    let (back, _) = walk.browser_flow(&browser, &authorize, "allow").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = walk
        .token(
            Some(&app.auth()),
            &[
                ("grant_type", "authorization_code"),
                ("code", &query_param(&back, "code").expect("code")),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_invalid_grant(status, &body);

    // An access token lives --access-token-ttl seconds; then /api/me answers 401.
    let tokens = walk.allowed_tokens(&browser, &app, &authorize).await;
    assert_eq!(tokens["expires_in"], 2);
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    assert_eq!(walk.me(&access).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, headers, _) = walk.me(&access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("h")
            .contains("invalid_token")
    );

    // Registrations past --rate-limit per minute get 429 with Retry-After (one was used).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = walk
            .api
            .post(walk.url("registration_endpoint"))
            .json(&json!({"client_name": "x", "redirect_uris": [REDIRECT]}))
            .send()
            .await
            .expect("register");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .expect("h")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 429]);
}

#[tokio::test]
async fn database_urls_fail_clearly_without_printing_secrets() {
    // Without the adapters compiled in, their schemes are a clear start-up error; with them,
    // an unreachable database is. An unknown scheme always is.
    let postgres = if cfg!(feature = "postgres") {
        // Compiled in: nothing listens on port 1, so connecting fails.
        "--database-url: "
    } else {
        "adapter not compiled in"
    };
    let redis = if cfg!(feature = "redis") {
        "--database-url: "
    } else {
        "adapter not compiled in"
    };
    let sqlite = if cfg!(feature = "sqlite") {
        "--database-url: "
    } else {
        "adapter not compiled in"
    };
    for (url, expected) in [
        ("postgres://user:hunter2@127.0.0.1:1/db", postgres),
        ("redis://:hunter2@127.0.0.1:1", redis),
        ("mysql://user:hunter2@127.0.0.1/db", "unsupported scheme"),
        // A directory that does not exist cannot hold the database file.
        ("sqlite:///tessera-no-such-directory/x/tessera.db", sqlite),
    ] {
        let output = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0", "--database-url", url])
            .output()
            .await
            .expect("runs");
        assert!(!output.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the URL's password is never printed"
        );
        assert!(output.stdout.is_empty(), "it never claims to listen");
    }
}

/// The sweep and lifetime flags refuse what they cannot mean, naming themselves, with exit
/// code 2; in range they start the server.
#[tokio::test]
async fn sweep_flags_are_checked() {
    for (flags, expected) in [
        (["--sweep-interval", "0"], "--sweep-interval takes seconds"),
        (
            ["--sweep-interval", "NaN"],
            "--sweep-interval takes seconds",
        ),
        (
            ["--sweep-interval", "3601"],
            "--sweep-interval takes seconds",
        ),
        (["--sweep-batch", "0"], "--sweep-batch takes a number"),
        (["--sweep-batch", "many"], "--sweep-batch takes a number"),
        (
            ["--refresh-token-ttl", "-1"],
            "--refresh-token-ttl takes a positive",
        ),
    ] {
        let output = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .output()
            .await
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "it never claims to listen");
    }
    let server = start(&[
        "--sweep-interval",
        "0.25",
        "--sweep-batch",
        "1",
        "--refresh-token-ttl",
        "5",
    ])
    .await;
    let health = client(false)
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
}

/// The store flags `--redis-cluster` and `--postgres-transaction-pooling` refuse what they
/// cannot mean (exit 2, naming the flag, echoing no URL); an unreachable cluster is a start-up
/// error naming `--redis-cluster` that prints no password.
#[tokio::test]
async fn store_flags_are_checked() {
    let pg = "postgres://user:hunter2@127.0.0.1:1/db";
    let cases: [(&[&str], &str); 7] = [
        (&["--redis-cluster"], "--redis-cluster needs a value"),
        (
            &["--redis-cluster", "http://user:hunter2@127.0.0.1:1"],
            "--redis-cluster takes a redis:// or rediss:// URL",
        ),
        (
            &["--redis-cluster", "127.0.0.1:7000"],
            "--redis-cluster takes a redis:// or rediss:// URL",
        ),
        (
            &[
                "--redis-cluster",
                "redis://:hunter2@127.0.0.1:1",
                "--database-url",
                "redis://:hunter2@127.0.0.1:1",
            ],
            "--redis-cluster and --database-url each name a store",
        ),
        (
            &["--postgres-transaction-pooling"],
            "--postgres-transaction-pooling needs a postgres:// --database-url",
        ),
        (
            &[
                "--postgres-transaction-pooling",
                "--database-url",
                "redis://:hunter2@127.0.0.1:1",
            ],
            "--postgres-transaction-pooling needs a postgres:// --database-url",
        ),
        (
            &[
                "--postgres-transaction-pooling",
                "--database-url",
                pg,
                "--postgres-schema",
                "other",
            ],
            "--postgres-transaction-pooling does not take --postgres-schema",
        ),
    ];
    for (flags, expected) in cases {
        let output = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .output()
            .await
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "it never claims to listen");
    }
    // Well-formed but nothing listens on port 1: a start-up failure (exit 1), not a usage one.
    let output = Command::new(example_binary())
        .args(["--addr", "127.0.0.1:0"])
        .args(["--redis-cluster", "redis://:hunter2@127.0.0.1:1"])
        .args(["--redis-cluster", "redis://:hunter2@127.0.0.1:2"])
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = if cfg!(feature = "redis") {
        "--redis-cluster: "
    } else {
        "adapter not compiled in"
    };
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(output.stdout.is_empty(), "it never claims to listen");
    // The same through a pooler's (unreachable) address: --database-url names the failure.
    let output = Command::new(example_binary())
        .args(["--addr", "127.0.0.1:0", "--postgres-transaction-pooling"])
        .args(["--database-url", pg])
        .output()
        .await
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--database-url: "), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// The CSRF token of the first form on `path` (the login form for a browser not signed in).
async fn form_csrf(browser: &reqwest::Client, base: &str, path: &str) -> String {
    let page = browser
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    input_value(&page, "csrf").unwrap_or_else(|| panic!("a form on {path}: {page}"))
}

/// Finding C7: a login's `next` may only name a path on this server; every spelling a browser
/// could read as another origin continues to `/` instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c7_login_next_cannot_leave_the_origin() {
    let server = start(&[]).await;
    let browser = client(true);
    let local =
        "/authorize?response_type=code&client_id=x&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb";
    let mut kept = Vec::new();
    for next in hostile_next::HOSTILE.iter().copied().chain([local]) {
        let csrf = form_csrf(&browser, &server.base, "/apps").await;
        let response = browser
            .post(format!("{}/login", server.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("next", next),
                ("username", "demo"),
                ("password", "demo"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        let to = response.headers()[LOCATION]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            hostile_next::same_origin(&server.base, &to),
            "{next:?} led to {to:?}"
        );
        if next == local {
            assert_eq!(to, local);
        } else if to != "/" {
            kept.push((next, to));
        }
    }
    assert!(kept.is_empty(), "hostile `next` values kept: {kept:?}");
}

/// Finding C9: every cookieless GET of a page with a form made a server-side session, so a
/// flood filled the table and every new visitor got 429 for hours. Anonymous pages now keep no
/// state on the server; sessions exist only once signed in, and a full table (here
/// `--max-sessions 4`) makes room by ending the oldest instead of refusing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c9_anonymous_requests_cannot_fill_the_session_table() {
    let server = start(&["--max-sessions", "4"]).await;
    let walk = discover(&server).await;
    let app = walk.confidential(json!({})).await;
    let authorize = walk.authorize_url(&app, "whoami", true);

    // A flood of cookieless GETs from one source: every page is served, none makes a session.
    let mut tasks = Vec::new();
    for task in 0..8 {
        let urls = [
            format!("{}/device", server.base),
            format!("{}/device?user_code=BCDF-GHJK", server.base),
            format!("{}/apps", server.base),
            authorize.clone(),
        ];
        tasks.push(tokio::spawn(async move {
            let api = client(false);
            for n in 0..250 {
                let response = api
                    .get(&urls[(task + n) % urls.len()])
                    .send()
                    .await
                    .expect("get");
                assert_eq!(response.status(), StatusCode::OK);
                for cookie in response.headers().get_all("set-cookie") {
                    let cookie = cookie.to_str().expect("ascii");
                    assert!(
                        !cookie.starts_with("tessera_session="),
                        "an anonymous GET made a session: {cookie}"
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("flood task");
    }

    // A logged-in flow still works, start to finish.
    let browser = client(true);
    let tokens = walk.allowed_tokens(&browser, &app, &authorize).await;
    assert_eq!(
        walk.me(tokens["access_token"].as_str().expect("access"))
            .await
            .0,
        StatusCode::OK
    );

    // More logins than the table holds: each one succeeds; the oldest sessions make room.
    let browsers: Vec<reqwest::Client> = (0..6).map(|_| client(true)).collect();
    for browser in &browsers {
        let csrf = form_csrf(browser, &server.base, "/apps").await;
        let response = browser
            .post(format!("{}/login", server.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("next", "/apps"),
                ("username", "demo"),
                ("password", "demo"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let signed_in = |page: &str| page.contains("Applications you authorized");
    let apps = |browser: &reqwest::Client| {
        let request = browser.get(format!("{}/apps", server.base)).send();
        async move { request.await.expect("apps").text().await.expect("html") }
    };
    assert!(
        !signed_in(&apps(&browser).await),
        "the oldest session made room"
    );
    assert!(!signed_in(&apps(&browsers[0]).await));
    for browser in &browsers[2..] {
        assert!(signed_in(&apps(browser).await), "the newest sessions live");
    }
}

/// A device authorization for a new public device client.
async fn start_device(walk: &Walk) -> Value {
    let tv = walk
        .register(json!({
            "client_name": "Living room TV",
            "redirect_uris": [],
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let started = walk
        .endpoint(
            "device_authorization_endpoint",
            None,
            &[("client_id", &tv.id), ("scope", "whoami")],
        )
        .await;
    assert_eq!(started["_status"], 200, "{started}");
    started
}

/// POSTs `user_code` to the verification page with the CSRF token of its form; the page.
async fn enter_device_code(browser: &reqwest::Client, base: &str, user_code: &str) -> String {
    let csrf = form_csrf(browser, base, "/device").await;
    browser
        .post(format!("{base}/device"))
        .form(&[("csrf", csrf.as_str()), ("user_code", user_code)])
        .send()
        .await
        .expect("code entered")
        .text()
        .await
        .expect("html")
}

/// Finding C8: wrong user codes were limited per session, and a fresh login is a fresh session:
/// 30 logins gave 300 guesses. However many times one source logs in, its wrong codes stay
/// within one budget (10 per 15 minutes), then every answer is "too many".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c8_device_code_guesses_are_limited_per_source() {
    let server = start(&[]).await;
    let walk = discover(&server).await;
    let (mut wrong, mut refused) = (0, 0);
    let mut count = |page: &str| {
        if page.contains("too many wrong codes") {
            refused += 1;
        } else {
            assert!(page.contains("not valid"), "{page}");
            wrong += 1;
        }
    };
    for login in 0..4 {
        // A fresh browser: a code typed before signing in is checked right after it ...
        let phone = client(true);
        let guess = |n: usize| {
            let letters = b"BCDFGHJKLMNPQRSTVWXZ";
            let pick = |i: usize| char::from(letters[i % letters.len()]);
            format!("{}{}XX-XXXX", pick(login), pick(n))
        };
        let page = enter_device_code(&phone, &server.base, &guess(0)).await;
        let next = format!("/device?user_code={}", guess(0));
        let logged_in = walk.log_in(&phone, &page, &next).await;
        assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
        let to = logged_in.headers()[LOCATION]
            .to_str()
            .expect("loc")
            .to_owned();
        let page = phone
            .get(format!("{}{to}", server.base))
            .send()
            .await
            .expect("after login")
            .text()
            .await
            .expect("html");
        count(&page);
        // ... and the signed-in user keeps guessing.
        for n in 1..6 {
            count(&enter_device_code(&phone, &server.base, &guess(n)).await);
        }
    }
    assert!(wrong <= 10, "{wrong} wrong codes checked from one source");
    assert_eq!(wrong + refused, 24);
}

/// The device consent page (RFC 8628 §5.4, remote phishing): it is shown only for a code the
/// user typed into the verification form, never straight from a link, and it tells the user to
/// go on only with a device in hand, naming the client and the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_consent_needs_a_typed_code_and_warns_of_phishing() {
    let server = start(&[]).await;
    let walk = discover(&server).await;
    let started = start_device(&walk).await;
    let user_code = started["user_code"].as_str().expect("user_code").to_owned();
    let complete = started["verification_uri_complete"]
        .as_str()
        .expect("complete")
        .to_owned();

    // A signed-in user following a link with the code sees the code form, filled in, and no
    // consent; the same for a link that tries to look like the continuation after a login.
    let victim = client(true);
    let csrf = form_csrf(&victim, &server.base, "/apps").await;
    let logged_in = victim
        .post(format!("{}/login", server.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("next", "/apps"),
            ("username", "demo"),
            ("password", "demo"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    for link in [
        complete.clone(),
        format!("{}/device?user_code={user_code}&typed=1", server.base),
    ] {
        let page = victim
            .get(&link)
            .send()
            .await
            .expect("link")
            .text()
            .await
            .expect("html");
        assert!(page.contains("name=\"user_code\""), "{page}");
        assert!(
            page.contains(&user_code),
            "the code is shown to check: {page}"
        );
        assert!(
            !page.contains("value=\"allow\""),
            "consent from a link: {page}"
        );
    }

    // Typed (or checked and sent) through the form: the consent page, with the warning.
    let page = enter_device_code(&victim, &server.base, &user_code).await;
    assert!(page.contains("value=\"allow\""), "{page}");
    assert!(
        page.contains("Living room TV") && page.contains(&user_code),
        "{page}"
    );
    assert!(
        page.contains("device you have in hand"),
        "the remote-phishing warning: {page}"
    );
}

/// Starts `binary`, sends SIGTERM while a request to `path` is in flight (its body half sent),
/// then checks that the request is answered with `status`, no new connection is accepted, and
/// the process exits 0.
#[cfg(unix)]
async fn sigterm_during_a_request(binary: &std::path::Path, path: &str, status: &str) {
    let (mut child, base) = listening_server::spawn_listening(binary, &[]).await;
    let address = base.trim_start_matches("http://").to_owned();
    let mut raw = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let body = b"grant_type=client_credentials&client_id=nobody";
    raw.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write head");
    raw.write_all(&body[..10]).await.expect("write some body");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The request in flight is answered ...
    raw.write_all(&body[10..]).await.expect("write the rest");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{answer}"
    );
    // ... no new connection is accepted, and the process exits 0.
    assert!(tokio::net::TcpStream::connect(&address).await.is_err());
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the deadline")
        .expect("wait");
    assert!(exit.success(), "{exit}");
}

/// SIGTERM: the server stops accepting, answers the request in flight, and exits 0; so does a
/// dialect example (they share `support::serve`).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    sigterm_during_a_request(&example_binary(), "/token", "401").await;
    sigterm_during_a_request(&phonegap_binary(), "/authorize/token", "40").await;
}

/// Wrong client secrets count per client and source (the library's limiter; the example passes
/// each request's source): 20 from 127.0.0.2 lock that source out, not the client's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_client_secrets_slow_only_their_source() {
    let server = start(&[]).await;
    let walk = discover(&server).await;
    let service = walk
        .register(json!({
            "client_name": "Service",
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
        }))
        .await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let token = |client: &reqwest::Client, auth: String| {
        let request = client
            .post(walk.url("token_endpoint"))
            .header("authorization", auth)
            .form(&[("grant_type", "client_credentials")])
            .send();
        async move { request.await.expect("token").status() }
    };
    for _ in 0..21 {
        let wrong = basic(&service.id, "not-the-secret");
        assert_eq!(token(&elsewhere, wrong).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        token(&elsewhere, service.auth()).await,
        StatusCode::UNAUTHORIZED,
        "that source is locked out"
    );
    assert_eq!(token(&walk.api, service.auth()).await, StatusCode::OK);
}

/// The contract's "Resource servers" section: `/api/me` is the resource `ISSUER/api/me` with
/// its RFC 9728 document, `--resource-server` registers another resource and prints its
/// introspection client, and audiences are kept apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_servers_and_protected_resource_metadata() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    const RS: &str = "http://files.test:9000/api";
    let mut child = Command::new(example_binary())
        .args(["--addr", "127.0.0.1:0", "--resource-server", RS])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut announced = None;
    let base = loop {
        let line = lines.next_line().await.expect("stdout").expect("a line");
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.trim().to_owned();
        }
        if line.starts_with("resource_server=") {
            announced = Some(line);
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let announced = announced.expect("the resource server line comes before listening");
    let field = |name: &str| {
        announced
            .split(' ')
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {announced}"))
            .to_owned()
    };
    assert_eq!(field("resource_server"), RS);
    let rs_auth = basic(&field("client_id"), &field("client_secret"));
    let server = Server {
        _child: child,
        base: base.clone(),
    };
    let walk = discover(&server).await;
    let own = format!("{base}/api/me");

    // The RFC 9728 document, and the 401 that points at it.
    let document: Value = walk
        .api
        .get(format!(
            "{base}/.well-known/oauth-protected-resource/api/me"
        ))
        .send()
        .await
        .expect("prm")
        .json()
        .await
        .expect("json");
    assert_eq!(document["resource"], own.as_str());
    assert_eq!(document["authorization_servers"], json!([base.as_str()]));
    assert!(
        document["scopes_supported"]
            .as_array()
            .expect("scopes")
            .contains(&json!("whoami"))
    );
    assert!(
        document["bearer_methods_supported"]
            .as_array()
            .expect("methods")
            .contains(&json!("header"))
    );
    let response = walk.api.get(&own).send().await.expect("api");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{base}/.well-known/oauth-protected-resource/api/me""#
        )),
        "{challenge}"
    );

    // A token for the other resource is refused at /api/me; one without resource is not.
    let client = walk
        .confidential(json!({"grant_types": ["client_credentials"]}))
        .await;
    let auth = client.auth();
    let (status, body) = walk
        .token(
            Some(&auth),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "whoami"),
                ("resource", "https://unknown.test/"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    let (status, body) = walk
        .token(
            Some(&auth),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "whoami"),
                ("resource", RS),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let for_rs = body["access_token"].as_str().expect("token").to_owned();
    let (status, headers, _) = walk.me(&for_rs).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .expect("ascii")
            .contains(r#"error="invalid_token""#)
    );
    let (status, body) = walk
        .token(
            Some(&auth),
            &[("grant_type", "client_credentials"), ("scope", "whoami")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let default = body["access_token"].as_str().expect("token").to_owned();
    // Valid here (a client-credentials token then meets the user-only rule: 403).
    assert_eq!(walk.me(&default).await.0, StatusCode::FORBIDDEN);

    // The resource server's client introspects its tokens, and only those.
    let seen = walk
        .endpoint(
            "introspection_endpoint",
            Some(&rs_auth),
            &[("token", &for_rs)],
        )
        .await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], RS);
    let unseen = walk
        .endpoint(
            "introspection_endpoint",
            Some(&rs_auth),
            &[("token", &default)],
        )
        .await;
    assert_eq!(unseen["active"], false, "{unseen}");
}

/// CONTRACT.md, "Sender-constrained tokens": DPoP with `--dpop-nonce`, at the token endpoint,
/// at `/api/me` and at the userinfo endpoint (a DPoP-bound token is usable there with a proof,
/// found by oauth4webapi in tests/oauth4webapi/flow.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_binds_tokens_and_demands_nonces_with_the_flag() {
    let server = start(&["--dpop-nonce"]).await;
    let walk = discover(&server).await;
    assert!(
        walk.meta["dpop_signing_alg_values_supported"]
            .as_array()
            .expect("dpop algs")
            .contains(&json!("ES256"))
    );
    let app = walk
        .register(json!({
            "client_name": "DPoP app", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let key = tessera::testkit::DpopKey::generate(tessera::jose::Algorithm::Es256);
    let token_url = walk.url("token_endpoint");
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    let browser = client(true);
    let authorize = walk.authorize_url(&app, "openid whoami offline_access", true);
    let (back, _) = walk.browser_flow(&browser, &authorize, "allow").await;
    let code = query_param(&back, "code").expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", app.id.as_str()),
    ];
    let send = |proof: String| {
        walk.api
            .post(&token_url)
            .header("dpop", proof)
            .form(&form)
            .send()
    };
    // Without a nonce: 400 use_dpop_nonce and a nonce.
    let response = send(key.proof("POST", &token_url, now(), None, None).await)
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .expect("nonce")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "use_dpop_nonce");
    // With it: a DPoP token.
    let proof = key
        .proof("POST", &token_url, now(), None, Some(&nonce))
        .await;
    let response = send(proof.clone()).await.expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.expect("json");
    assert_eq!(tokens["token_type"], "DPoP");
    let at = tokens["access_token"].as_str().expect("at").to_owned();
    // The proof again: a replay (the code is spent too, but the proof is refused first).
    let replay: Value = send(proof)
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    assert_eq!(replay["error"], "invalid_dpop_proof");
    // As a Bearer token: 401 invalid_token.
    let (status, _, body) = walk.me(&at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_token"), "{body}");
    // As DPoP with a fresh proof: 200.
    let me_url = format!("{}/api/me", walk.base);
    let me = |proof: String| {
        walk.api
            .get(&me_url)
            .header("authorization", format!("DPoP {at}"))
            .header("dpop", proof)
            .send()
    };
    let proof = key
        .proof("GET", &me_url, now(), Some(&at), Some(&nonce))
        .await;
    let response = me(proof.clone()).await.expect("api");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["username"], "demo");
    // Replayed: 401 with a DPoP challenge.
    let response = me(proof).await.expect("api");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    // Without the nonce: 401 use_dpop_nonce with a nonce.
    let proof = key.proof("GET", &me_url, now(), Some(&at), None).await;
    let response = me(proof).await.expect("api");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("dpop-nonce"));
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text");
    assert!(
        challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    // The userinfo endpoint is a resource too (RFC 9449 §7): GET and POST with a proof naming
    // the advertised URL answer the user's claims; as a Bearer token, 401.
    let userinfo_url = walk.url("userinfo_endpoint");
    for method in ["GET", "POST"] {
        let proof = key
            .proof(method, &userinfo_url, now(), Some(&at), Some(&nonce))
            .await;
        let request = match method {
            "GET" => walk.api.get(&userinfo_url),
            _ => walk.api.post(&userinfo_url),
        };
        let response = request
            .header("authorization", format!("DPoP {at}"))
            .header("dpop", proof)
            .send()
            .await
            .expect("userinfo");
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let claims: Value = response.json().await.expect("json");
        assert!(claims["sub"].is_string(), "{claims}");
    }
    let response = walk
        .api
        .get(&userinfo_url)
        .bearer_auth(&at)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A proof for another URL: refused.
    let proof = key
        .proof("GET", &me_url, now(), Some(&at), Some(&nonce))
        .await;
    let response = walk
        .api
        .get(&userinfo_url)
        .header("authorization", format!("DPoP {at}"))
        .header("dpop", proof)
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("text");
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
}

/// CONTRACT.md, OpenID Connect: `--access-token-format jwt` issues RFC 9068 access tokens,
/// verifiable with `jwks_uri` (by tessera's resource-server verifier and by `jsonwebtoken`),
/// accepted at `/api/me`, active at introspection until revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_access_tokens_with_the_flag() {
    let server = start(&["--access-token-format", "jwt"]).await;
    let walk = discover(&server).await;
    let app = walk.confidential(json!({})).await;
    let browser = client(true);
    let authorize = walk.authorize_url(&app, "whoami", true);
    let tokens = walk.allowed_tokens(&browser, &app, &authorize).await;
    let at = tokens["access_token"].as_str().expect("at").to_owned();
    let jwks_text = walk
        .api
        .get(walk.url("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .text()
        .await
        .expect("text");
    let api = format!("{}/api/me", walk.base);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let jwks = tessera::jose::JwkSet::parse(&jwks_text).expect("a JWK Set");
    let principal = tessera::jwt_access::JwtAccessVerifier::new(jwks, walk.base.as_str(), &api)
        .verify(&at, now)
        .expect("a valid RFC 9068 token for /api/me");
    assert_eq!(principal.client_id(), app.id);
    assert!(principal.scopes().contains("whoami"));
    // The same with an independent implementation, claim by claim.
    let header = jsonwebtoken::decode_header(&at).expect("a JWS header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let their_jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks_text).expect("jwks");
    let jwk = their_jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("the kid is published");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[walk.base.as_str()]);
    validation.set_audience(&[api.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(
        &at,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key"),
        &validation,
    )
    .expect("verifies")
    .claims;
    assert_eq!(claims["iss"], walk.base.as_str());
    assert_eq!(claims["aud"], api.as_str());
    assert_eq!(claims["client_id"], app.id.as_str());
    assert_eq!(claims["scope"], "whoami");
    assert!(claims["sub"].is_string() && claims["jti"].is_string());
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert!((iat - now).abs() < 60 && exp > iat);
    // The provider's own resource accepts it; introspection knows it.
    let (status, _, body) = walk.me(&at).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let auth = app.auth();
    let active = walk
        .endpoint("introspection_endpoint", Some(&auth), &[("token", &at)])
        .await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["sub"], claims["sub"]);
    // Revoked: inactive, and refused at /api/me.
    let revoked = walk
        .endpoint("revocation_endpoint", Some(&auth), &[("token", &at)])
        .await;
    assert_eq!(revoked["_status"], 200);
    let inactive = walk
        .endpoint("introspection_endpoint", Some(&auth), &[("token", &at)])
        .await;
    assert_eq!(inactive["active"], false);
    let (status, _, _) = walk.me(&at).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The ID token's claims, verified with the keys at `jwks_uri` only.
async fn verified_id_token(walk: &Walk, id_token: &str) -> Value {
    let jwks = walk
        .api
        .get(walk.url("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .text()
        .await
        .expect("text");
    let jwks = tessera::jose::JwkSet::parse(&jwks).expect("a JWK Set");
    tessera::jose::UnverifiedJws::parse(id_token)
        .expect("a JWS")
        .verify_with_set(&jwks, &tessera::jose::Typ::JWT)
        .expect("signed by a published key")
        .claims()
        .expect("claims")
}

/// The OpenID Connect section of the contract: discovery, the JWK Set, ID tokens and
/// userinfo for the demo user, `prompt`, `max_age`, and the nonce in place of PKCE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_server_speaks_openid_connect() {
    let server = start(&[]).await;
    let mut walk = discover(&server).await;
    let oidc: Value = walk
        .api
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "registration_endpoint",
    ] {
        assert_eq!(oidc[field], walk.meta[field], "{field}");
    }
    assert!(oidc["userinfo_endpoint"].is_string() && oidc["jwks_uri"].is_string());
    assert!(oidc["end_session_endpoint"].is_string());
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    let algs = oidc["id_token_signing_alg_values_supported"]
        .as_array()
        .expect("algs");
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("ES256")));
    for scope in ["openid", "profile", "email"] {
        assert!(
            oidc["scopes_supported"]
                .as_array()
                .expect("scopes")
                .contains(&json!(scope))
        );
    }
    for claim in [
        "sub",
        "preferred_username",
        "name",
        "email",
        "email_verified",
    ] {
        assert!(
            oidc["claims_supported"]
                .as_array()
                .expect("claims")
                .contains(&json!(claim))
        );
    }
    walk.meta = oidc;
    let jwks: Value = walk
        .api
        .get(walk.url("jwks_uri"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    let kty: Vec<&str> = keys.iter().filter_map(|k| k["kty"].as_str()).collect();
    assert!(kty.contains(&"RSA") && kty.contains(&"EC"));
    let mut kids: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).collect();
    kids.dedup();
    assert_eq!(kids.len(), keys.len());
    assert!(keys.iter().all(|k| k.get("d").is_none()));

    // The code flow with openid, profile, email and a nonce.
    let browser = client(true);
    let stranger = client(true);
    let app = walk.confidential(json!({})).await;
    let signed_in_before = time::OffsetDateTime::now_utc().unix_timestamp();
    let authorize = format!(
        "{}&nonce=n-42",
        walk.authorize_url(&app, "openid profile email", true)
    );
    let tokens = walk.allowed_tokens(&browser, &app, &authorize).await;
    let claims = verified_id_token(&walk, tokens["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["iss"], server.base.as_str());
    assert_eq!(claims["sub"], "demo");
    assert_eq!(claims["aud"], app.id.as_str());
    assert_eq!(claims["nonce"], "n-42");
    let auth_time = claims["auth_time"].as_i64().expect("auth_time");
    assert!(auth_time >= signed_in_before - 1);
    assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
    assert_eq!(claims["preferred_username"], "demo");
    assert_eq!(claims["name"], "Demo User");
    assert_eq!(claims["email"], "demo@example.com");
    assert_eq!(claims["email_verified"], true);

    // Userinfo, GET and POST: the same claims.
    let access = tokens["access_token"].as_str().expect("access token");
    let get: Value = walk
        .api
        .get(walk.url("userinfo_endpoint"))
        .bearer_auth(access)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let post: Value = walk
        .api
        .post(walk.url("userinfo_endpoint"))
        .bearer_auth(access)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(get, post);
    assert_eq!(get["sub"], "demo");
    assert_eq!(get["name"], "Demo User");
    assert_eq!(get["email_verified"], true);

    // prompt=none: silent with a session and consent; login_required without a session.
    let silent = format!("{authorize}&prompt=none");
    let response = browser.get(&silent).send().await.expect("silent");
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(response.headers());
    assert!(back.as_str().starts_with(REDIRECT));
    assert!(query_param(&back, "code").is_some(), "{back}");
    let response = stranger.get(&silent).send().await.expect("silent");
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(response.headers());
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(server.base.as_str())
    );

    // prompt=login and max_age=0 show the login form despite the session, and the new
    // login is the ID token's auth_time.
    for extra in ["&prompt=login", "&max_age=0"] {
        let page = browser
            .get(format!("{authorize}{extra}"))
            .send()
            .await
            .expect("authorize")
            .text()
            .await
            .expect("html");
        assert!(page.contains("name=\"password\""), "{extra}: no login form");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let tokens = walk
        .allowed_tokens(&browser, &app, &format!("{authorize}&max_age=0"))
        .await;
    let claims = verified_id_token(&walk, tokens["id_token"].as_str().expect("id_token")).await;
    assert!(claims["auth_time"].as_i64().expect("auth_time") > auth_time);

    // A confidential client sending a nonce with openid may omit PKCE.
    let (back, _) = walk
        .browser_flow(
            &browser,
            &format!("{}&nonce=n-43", walk.authorize_url(&app, "openid", false)),
            "allow",
        )
        .await;
    let code = query_param(&back, "code").expect("a code without PKCE");
    let (status, body) = walk
        .token(
            Some(&app.auth()),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verified_id_token(&walk, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["nonce"], "n-43");

    // RP-initiated logout: an unregistered post_logout_redirect_uri is a page, not a
    // redirect; a registered one ends the session and redirects at once with state.
    let bye = "http://127.0.0.1:9/bye";
    let leaver = walk
        .confidential(json!({"post_logout_redirect_uris": [bye]}))
        .await;
    let tokens = walk
        .allowed_tokens(
            &browser,
            &leaver,
            &walk.authorize_url(&leaver, "openid", true),
        )
        .await;
    let hint = tokens["id_token"].as_str().expect("id_token");
    let mut logout = Url::parse(&walk.url("end_session_endpoint")).expect("end_session_endpoint");
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere")
        .append_pair("state", "s9");
    let response = browser.get(logout.as_str()).send().await.expect("logout");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    logout
        .query_pairs_mut()
        .clear()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", bye)
        .append_pair("state", "s9");
    let response = browser.get(logout.as_str()).send().await.expect("logout");
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(response.headers());
    assert!(back.as_str().starts_with(bye), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s9"));
    // The session is gone: a silent request now needs a login.
    let response = browser.get(&silent).send().await.expect("silent");
    let back = location(response.headers());
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
}

impl Walk {
    /// Pushes `form` for `app` to the pushed authorization request endpoint (RFC 9126 §2).
    async fn push(&self, app: &Registered, form: &[(&str, &str)]) -> reqwest::Response {
        self.api
            .post(self.url("pushed_authorization_request_endpoint"))
            .header("authorization", app.auth())
            .form(form)
            .send()
            .await
            .expect("par")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_authorization_requests_and_the_require_par_flag() {
    for flags in [&[][..], &["--require-par"][..]] {
        let required = !flags.is_empty();
        let server = start(flags).await;
        let walk = discover(&server).await;
        assert_eq!(walk.meta["require_pushed_authorization_requests"], required);
        let app = walk.confidential(json!({})).await;
        let browser = client(true);
        let challenge = challenge();
        let pushed = [
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "whoami"),
            ("state", "st-par"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        // Push (RFC 9126 §2), then send the browser with the request_uri only.
        let response = walk.push(&app, &pushed).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("par json");
        let request_uri = body["request_uri"].as_str().expect("request_uri");
        assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
        assert!(body["expires_in"].as_i64().expect("expires_in") > 0);
        let mut by_reference = Url::parse(&walk.url("authorization_endpoint")).expect("url");
        by_reference
            .query_pairs_mut()
            .append_pair("client_id", &app.id)
            .append_pair("request_uri", request_uri);
        let (back, _) = walk
            .browser_flow(&browser, by_reference.as_str(), "allow")
            .await;
        assert_eq!(query_param(&back, "state").as_deref(), Some("st-par"));
        let tokens = walk
            .code_tokens(&app, &query_param(&back, "code").expect("code"))
            .await;
        assert!(tokens["access_token"].is_string());
        // Used once: the second time, no code but invalid_request_uri.
        let (again, _) = walk
            .browser_flow(&browser, by_reference.as_str(), "allow")
            .await;
        assert_eq!(query_param(&again, "code"), None);
        assert_eq!(
            query_param(&again, "error").as_deref(),
            Some("invalid_request_uri")
        );
        // A pushed request with its own request_uri is refused as JSON.
        let mut nested = pushed.to_vec();
        nested.push(("request_uri", request_uri));
        let response = walk.push(&app, &nested).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.expect("error json");
        assert_eq!(body["error"], "invalid_request");
        // A plain request: refused with --require-par (never a code), served without it.
        let plain = walk.authorize_url(&app, "whoami", true);
        let (back, _) = walk.browser_flow(&browser, &plain, "allow").await;
        if required {
            assert_eq!(query_param(&back, "code"), None);
            assert_eq!(
                query_param(&back, "error").as_deref(),
                Some("invalid_request")
            );
        } else {
            assert!(query_param(&back, "code").is_some());
        }
        // prompt=login in a pushed request: the new login satisfies it (no login loop), though
        // the parameter stays sealed in the request_uri.
        let mut fresh = pushed.to_vec();
        fresh.push(("prompt", "login"));
        let response = walk.push(&app, &fresh).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("par json");
        let mut by_reference = Url::parse(&walk.url("authorization_endpoint")).expect("url");
        by_reference
            .query_pairs_mut()
            .append_pair("client_id", &app.id)
            .append_pair("request_uri", body["request_uri"].as_str().expect("uri"));
        let (back, _) = walk
            .browser_flow(&browser, by_reference.as_str(), "allow")
            .await;
        assert!(query_param(&back, "code").is_some(), "{back}");
    }
}

/// CONTRACT.md, "Sender-constrained tokens": `private_key_jwt` for a client registered with
/// `jwks` through dynamic registration; the assertion's `aud` may be the token endpoint URL;
/// a replayed `jti` is refused. Signed by jsonwebtoken, not by tessera.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_clients_register_jwks_and_assertions_are_single_use() {
    let server = start(&[]).await;
    let walk = discover(&server).await;
    for doc in [
        walk.meta.clone(),
        walk.api
            .get(format!("{}/.well-known/openid-configuration", server.base))
            .send()
            .await
            .expect("discovery")
            .json::<Value>()
            .await
            .expect("json"),
    ] {
        assert!(
            doc["token_endpoint_auth_methods_supported"]
                .as_array()
                .expect("methods")
                .contains(&json!("private_key_jwt")),
            "{doc}"
        );
        assert!(
            doc["token_endpoint_auth_signing_alg_values_supported"]
                .as_array()
                .expect("algs")
                .contains(&json!("ES256"))
        );
    }
    let key = tessera::jose::SigningKey::generate(tessera::jose::Algorithm::Es256).expect("key");
    let encoding =
        jsonwebtoken::EncodingKey::from_ec_pem(key.to_pkcs8_pem().expect("pem").as_bytes())
            .expect("their key");
    let app = walk
        .register(json!({
            "client_name": "Signed service",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.public_jwk()]},
        }))
        .await;
    assert!(
        app.secret.is_none(),
        "a private_key_jwt client gets no secret"
    );
    let token_url = walk.url("token_endpoint");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sign = |aud: &str, jti: &str| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(key.kid().to_owned());
        let claims = json!({
            "iss": app.id, "sub": app.id, "aud": aud,
            "iat": now, "exp": now + 60, "jti": jti,
        });
        jsonwebtoken::encode(&header, &claims, &encoding).expect("sign")
    };
    let with = |assertion: &str| {
        [
            ("grant_type", "client_credentials".to_owned()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", assertion.to_owned()),
        ]
    };
    let assertion = sign(&token_url, "contract-1");
    let form = with(&assertion);
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = walk.token(None, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    // The same assertion again: its jti was used.
    let (status, body) = walk.token(None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "{body}"
    );
    // The issuer as aud works as well, with a fresh jti.
    let issuer = walk.meta["issuer"].as_str().expect("issuer").to_owned();
    let fresh = with(&sign(&issuer, "contract-2"));
    let fresh: Vec<(&str, &str)> = fresh.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = walk.token(None, &fresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
