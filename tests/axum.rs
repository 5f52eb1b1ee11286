//! The `axum` feature over HTTP: each request goes through an axum router (`oneshot`), as a
//! server would hand it on. Bounded form bodies (413, an unreadable body's own error), the
//! extractors' values and rejections, the untrusted page, the bearer guard's challenges and its
//! layer, and the router's paths against the metadata's URLs.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tessera::axum::{Bearer, BearerLayer, RequiredScopes, Routes};
use tessera::danger::Danger;
use tessera::store::MemoryStore;
use tessera::{
    AuthMethod, AuthorizeError, ClientRegistration, Config, ConfigBuilder, Endpoints, FormRequest,
    GrantType, Limits, PendingAuthorization, Principal, Provider, ScopeSet, UserId,
};
use tower::ServiceExt as _;

const VERIFIER: &str = "a-pkce-verifier-for-the-axum-tests-0123456789";

fn provider(config: ConfigBuilder) -> Provider {
    Provider::builder(config.build().unwrap(), Arc::new(MemoryStore::new())).build()
}

/// Every grant, open registration, two scopes.
fn full(issuer: &str) -> ConfigBuilder {
    Config::builder(issuer)
        .scopes(ScopeSet::parse("whoami other").unwrap())
        .grant_types(GrantType::ALL)
        .danger(Danger::new().open_registration())
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map_or("", |value| value.to_str().unwrap())
    }
}

async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn form_post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.into())
        .unwrap()
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A body that hands out its chunks one by one, with no length known in advance; an `Err`
/// chunk breaks it off, and after the last one it may stay pending forever.
struct Chunks {
    chunks: VecDeque<Result<Bytes, std::io::Error>>,
    then_pending: bool,
}

impl Chunks {
    fn body(chunks: Vec<Result<&'static [u8], &'static str>>, then_pending: bool) -> Body {
        let chunks = chunks
            .into_iter()
            .map(|chunk| chunk.map(Bytes::from_static).map_err(std::io::Error::other))
            .collect();
        Body::new(Self {
            chunks,
            then_pending,
        })
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match self.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(chunk.map(http_body::Frame::data))),
            None if self.then_pending => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_bytes = 1024;
    limits
}

// ---------------------------------------------------------------------------------------------
// Form bodies

#[tokio::test]
async fn an_oversized_form_body_gets_413() {
    let provider = provider(full("https://auth.example.com").limits(small_limits()));
    let router: Router = tessera::axum::router(&provider);
    let big = format!("grant_type=client_credentials&x={}", "a".repeat(2000));
    let answer = call(&router, form_post("/token", big.clone())).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["error"], "invalid_request");
    assert_eq!(
        answer.json()["error_description"],
        "the request body is larger than 1024 bytes"
    );
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");

    // No declared length: refused once the bytes read pass the limit.
    let leaked: &'static str = Box::leak(big.into_boxed_str());
    let chunks = leaked.as_bytes().chunks(100).map(Ok).collect();
    let answer = call(&router, form_post("/token", Chunks::body(chunks, false))).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // The same limit holds for the registration endpoint's JSON.
    let registration = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!(
            r#"{{"client_name":"{}","redirect_uris":["https://c.example/cb"]}}"#,
            "n".repeat(2000)
        )))
        .unwrap();
    assert_eq!(
        call(&router, registration).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_arrives() {
    let provider = provider(full("https://auth.example.com").limits(small_limits()));
    let router: Router = tessera::axum::router(&provider);
    let request = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, "99999999999")
        // A body that never comes: reading it would hang the test.
        .body(Chunks::body(vec![Ok(b"grant_type=")], true))
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), call(&router, request))
        .await
        .expect("answered without reading the body");
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_body_that_breaks_off_is_its_own_error_not_an_empty_form() {
    let provider = provider(full("https://auth.example.com"));
    let router: Router = tessera::axum::router(&provider);
    let broken = Chunks::body(vec![Ok(b"grant_type=client_"), Err("reset")], false);
    let answer = call(&router, form_post("/token", broken)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");
    assert_eq!(
        answer.json()["error_description"],
        "the request body could not be read"
    );
    assert!(!answer.text().contains("grant_type"), "{}", answer.text());

    // An empty body that was read whole is an empty form: the provider names what is missing.
    let answer = call(&router, form_post("/token", Body::empty())).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");
    assert!(answer.text().contains("grant_type"), "{}", answer.text());
}

#[tokio::test]
async fn form_requests_carry_the_header_the_query_and_the_source() {
    async fn echo(request: FormRequest) -> String {
        format!(
            "{}|{}|{}|{}",
            String::from_utf8_lossy(&request.body),
            request.authorization.as_deref().unwrap_or("-"),
            request.query.as_deref().unwrap_or("-"),
            request.source.as_deref().unwrap_or("-"),
        )
    }
    let provider = provider(full("https://auth.example.com"));
    let router = Router::new()
        .route("/echo", post(echo))
        .with_state(provider);
    for (peer, source) in [
        (None, "-"),
        (Some("192.0.2.7:40000"), "192.0.2.7"),
        (
            Some("[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:40000"),
            "2001:db8:1:2::/64",
        ),
        (Some("[::ffff:198.51.100.9]:40000"), "198.51.100.9"),
    ] {
        let mut request = Request::post("/echo?x=1")
            .header(header::AUTHORIZATION, "Basic YTpi")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap();
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let answer = call(&router, request).await;
        assert_eq!(
            answer.text(),
            format!("grant_type=client_credentials|Basic YTpi|x=1|{source}")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The authorization endpoint

/// The signed-in user, for these tests: named by a header (a real host reads its session).
fn user_of(headers: &HeaderMap) -> Option<UserId> {
    headers
        .get("x-test-user")
        .and_then(|value| value.to_str().ok())
        .map(UserId::new)
}

async fn authorize(
    State(provider): State<Provider>,
    headers: HeaderMap,
    request: Result<PendingAuthorization, AuthorizeError>,
) -> Response {
    match (user_of(&headers), request) {
        (_, Err(AuthorizeError::Untrusted(error))) => error.into_response(),
        (None, Err(refused)) => refused.into_response(),
        (None, Ok(_)) => "login page".into_response(),
        (Some(user), Err(refused)) => refused.after_login(&user).into_response(),
        (Some(user), Ok(pending)) => {
            let scopes = pending.scopes().clone();
            pending
                .approve(&provider, user, &scopes)
                .await
                .into_response()
        }
    }
}

async fn authorization_router() -> (Router, String) {
    let provider = provider(full("https://auth.example.com"));
    let client = provider
        .register_client(
            ClientRegistration::new("app", "https://app.example/cb")
                .with_auth_method(AuthMethod::None),
        )
        .await
        .unwrap();
    let router = Routes::new(&provider)
        .authorization(get(authorize))
        .into_router()
        .with_state(provider);
    (router, client.client.id.as_str().to_owned())
}

fn authorize_query(client_id: &str, scope: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client_id}&scope={scope}&state=st\
         &code_challenge={}&code_challenge_method=S256",
        tessera::pkce_s256_challenge(VERIFIER)
    )
}

fn assert_error_page(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert!(answer.headers.get(header::LOCATION).is_none());
    assert_eq!(
        answer.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(answer.header(header::X_FRAME_OPTIONS), "DENY");
    assert!(
        answer
            .header(header::CONTENT_SECURITY_POLICY)
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(answer.header(header::CACHE_CONTROL), "no-store");
}

#[tokio::test]
async fn an_untrusted_request_is_a_400_page_that_escapes_a_hostile_description() {
    let (router, client_id) = authorization_router().await;
    let answer = call(&router, get_request("/authorize?client_id=nobody")).await;
    assert_error_page(&answer, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("invalid_request"));
    assert!(answer.text().contains("unknown client_id"));

    // A parameter name is echoed in the description of a repeated parameter: markup in it
    // arrives escaped.
    let hostile = "%3Cscript%3Ealert('x')%3C/script%3E";
    let answer = call(
        &router,
        get_request(&format!(
            "/authorize?client_id={client_id}&{hostile}=1&{hostile}=2"
        )),
    )
    .await;
    assert_error_page(&answer, StatusCode::BAD_REQUEST);
    let page = answer.text();
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;"),
        "{page}"
    );
}

#[tokio::test]
async fn a_redirectable_error_waits_for_the_user() {
    let (router, client_id) = authorization_router().await;
    let bad_scope = authorize_query(&client_id, "nonexistent");
    // The rejection as it is, with no user: a page, never the redirect.
    let answer = call(&router, get_request(&bad_scope)).await;
    assert_error_page(&answer, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("invalid_scope"), "{}", answer.text());
    assert!(!answer.text().contains("app.example"));
    // Signed in: the error goes to the client, with state and iss.
    let mut request = get_request(&bad_scope);
    request
        .headers_mut()
        .insert("x-test-user", "alice".parse().unwrap());
    let answer = call(&router, request).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let location = url::Url::parse(answer.header(header::LOCATION)).unwrap();
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(location.host_str(), Some("app.example"));
    assert_eq!(param("error").as_deref(), Some("invalid_scope"));
    assert_eq!(param("state").as_deref(), Some("st"));
    assert_eq!(param("iss").as_deref(), Some("https://auth.example.com"));
}

#[tokio::test]
async fn a_valid_request_is_extracted_and_approved_with_a_code() {
    let (router, client_id) = authorization_router().await;
    let query = authorize_query(&client_id, "whoami");
    assert_eq!(
        call(&router, get_request(&query)).await.text(),
        "login page"
    );
    let mut request = get_request(&query);
    request
        .headers_mut()
        .insert("x-test-user", "alice".parse().unwrap());
    let answer = call(&router, request).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let location = url::Url::parse(answer.header(header::LOCATION)).unwrap();
    let code = location
        .query_pairs()
        .find(|(n, _)| n == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    // And the router's token endpoint redeems it.
    let answer = call(
        &router,
        form_post(
            "/token",
            format!(
                "grant_type=authorization_code&code={code}&client_id={client_id}\
                 &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={VERIFIER}"
            ),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.json()["access_token"].is_string());
}

// ---------------------------------------------------------------------------------------------
// Protected resources

struct Whoami;
impl RequiredScopes for Whoami {
    const SCOPES: &'static str = "whoami";
}

/// A confidential client-credentials client and two tokens: one with `whoami`, one without;
/// and the client's `Authorization` header.
async fn tokens(router: &Router, provider: &Provider) -> (String, String, String) {
    let client = provider
        .register_client(
            ClientRegistration::new("machine", "https://m.example/cb")
                .with_grant_types(vec![GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    let auth = basic(
        client.client.id.as_str(),
        client.secret.as_ref().unwrap().secret(),
    );
    let mut tokens = Vec::new();
    for scope in ["whoami", "other"] {
        let mut request = form_post(
            "/token",
            format!("grant_type=client_credentials&scope={scope}"),
        );
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, auth.parse().unwrap());
        let answer = call(router, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        tokens.push(answer.json()["access_token"].as_str().unwrap().to_owned());
    }
    (tokens.remove(0), tokens.remove(0), auth)
}

fn with_token(mut request: Request<Body>, token: &str) -> Request<Body> {
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    request
}

async fn describe(principal: Principal) -> String {
    format!("client {}", principal.client_id())
}

#[tokio::test]
async fn the_bearer_guard_answers_with_rfc6750_challenges() {
    let provider = provider(full("https://auth.example.com"));
    let router: Router = tessera::axum::router::<Provider>(&provider)
        .route("/any", get(describe))
        .route(
            "/whoami",
            get(|bearer: Bearer<Whoami>| async move { describe(bearer.into_principal()).await }),
        )
        .with_state(provider.clone());
    let (whoami, other, auth) = tokens(&router, &provider).await;

    // No token: 401 and a bare challenge.
    let answer = call(&router, get_request("/whoami")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header(header::WWW_AUTHENTICATE),
        "Bearer realm=\"tessera\""
    );
    // A token that is not one: 401 invalid_token.
    let answer = call(&router, with_token(get_request("/whoami"), "not-a-token")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .header(header::WWW_AUTHENTICATE)
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(answer.json()["error"], "invalid_token");
    // A valid token without the scope: 403 insufficient_scope naming it.
    let answer = call(&router, with_token(get_request("/whoami"), &other)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.header(header::WWW_AUTHENTICATE);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.ends_with("scope=\"whoami\""), "{challenge}");
    // Any valid token at /any; the scoped one at /whoami.
    let answer = call(&router, with_token(get_request("/any"), &other)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text().starts_with("client "));
    let answer = call(&router, with_token(get_request("/whoami"), &whoami)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    // Revoked at the router's revocation endpoint: 401 again.
    let mut revoke = form_post("/revoke", format!("token={whoami}"));
    revoke
        .headers_mut()
        .insert(header::AUTHORIZATION, auth.parse().unwrap());
    assert_eq!(call(&router, revoke).await.status, StatusCode::OK);
    let answer = call(&router, with_token(get_request("/whoami"), &whoami)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_token");
    assert_eq!(
        call(&router, with_token(get_request("/any"), ""))
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "an empty Bearer credential is a malformed request"
    );
}

#[tokio::test]
async fn the_layer_puts_the_principal_into_the_request_extensions() {
    let provider = provider(full("https://auth.example.com"));
    let whoami_scope = ScopeSet::parse("whoami").unwrap();
    let protected = Router::new()
        .route(
            "/api/me",
            get(|Extension(principal): Extension<Principal>| async move {
                format!("scopes {}", principal.scopes())
            })
            .post(
                |Extension(principal): Extension<Principal>, body: String| async move {
                    format!("client {} body {body}", principal.client_id())
                },
            ),
        )
        .route(
            "/api/strict",
            get(|bearer: Bearer<Whoami>| async move { format!("client {}", bearer.client_id()) }),
        )
        .route("/api/principal", get(describe))
        .route_layer(BearerLayer::new(&provider));
    let scoped = Router::new()
        .route("/api/scoped", get(describe))
        .route_layer(BearerLayer::new(&provider).require(whoami_scope));
    let router: Router = tessera::axum::router::<Provider>(&provider)
        .merge(protected)
        .merge(scoped)
        .with_state(provider.clone());
    let (whoami, other, _) = tokens(&router, &provider).await;

    let answer = call(&router, get_request("/api/me")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .header(header::WWW_AUTHENTICATE)
            .starts_with("Bearer ")
    );
    let answer = call(&router, with_token(get_request("/api/me"), &whoami)).await;
    assert_eq!(answer.text(), "scopes whoami");
    // The layer's principal reaches the extractors too, which check their own scopes on it.
    let answer = call(&router, with_token(get_request("/api/principal"), &other)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = call(&router, with_token(get_request("/api/strict"), &other)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = call(&router, with_token(get_request("/api/strict"), &whoami)).await;
    assert_eq!(answer.status, StatusCode::OK);
    // The layer's own scopes.
    let answer = call(&router, with_token(get_request("/api/scoped"), &other)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer
            .header(header::WWW_AUTHENTICATE)
            .contains("insufficient_scope")
    );
    let answer = call(&router, with_token(get_request("/api/scoped"), &whoami)).await;
    assert_eq!(answer.status, StatusCode::OK);
    // A token in a form body (RFC 6750 §2.2): the layer reads it, and hands the body on.
    let answer = call(
        &router,
        form_post("/api/me", format!("access_token={whoami}&x=1")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(
        answer
            .text()
            .ends_with(&format!("body access_token={whoami}&x=1"))
    );
    // With a header token, a form body passes unread, whatever its size.
    let upload = format!("x={}", "a".repeat(64 * 1024));
    let answer = call(
        &router,
        with_token(form_post("/api/me", upload.clone()), &whoami),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text().ends_with(&upload));
    // Without one, a form body is read for a token up to the limit.
    let answer = call(&router, form_post("/api/me", upload)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Not a form: the body is not read for a token.
    let json = Request::post("/api/me")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!("access_token={whoami}")))
        .unwrap();
    assert_eq!(call(&router, json).await.status, StatusCode::UNAUTHORIZED);
    // An unknown path stays a 404 (route_layer).
    assert_eq!(
        call(&router, get_request("/api/nothing")).await.status,
        StatusCode::NOT_FOUND
    );
}

// ---------------------------------------------------------------------------------------------
// The router

/// Sends a request to the path of each URL the metadata advertises, and checks that the
/// endpoint there answers as that endpoint (never 404 or 405).
async fn check_every_advertised_url(router: &Router, metadata_path: &str, issuer: &str) -> Value {
    let answer = call(router, get_request(metadata_path)).await;
    assert_eq!(answer.status, StatusCode::OK, "{metadata_path}");
    let metadata = answer.json();
    assert_eq!(metadata["issuer"], issuer);
    let path_of = |field: &str| {
        let url = metadata[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}"));
        assert!(url.starts_with(issuer), "{url}");
        url::Url::parse(url).unwrap().path().to_owned()
    };
    // The form endpoints refuse an anonymous empty request in their own words.
    for field in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "device_authorization_endpoint",
    ] {
        let answer = call(router, form_post(&path_of(field), Body::empty())).await;
        assert!(
            answer.status == StatusCode::BAD_REQUEST || answer.status == StatusCode::UNAUTHORIZED,
            "{field}: {}",
            answer.status
        );
        assert!(answer.json()["error"].is_string(), "{field}");
        assert_eq!(
            call(router, get_request(&path_of(field))).await.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{field} answers POST only"
        );
    }
    // The host's authorization page.
    let answer = call(router, get_request(&path_of("authorization_endpoint"))).await;
    assert_eq!(answer.text(), "the host's authorization page");
    // Registration, then the client's configuration at registration_client_uri.
    let registration = Request::post(path_of("registration_endpoint"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({
                "client_name": "device",
                "redirect_uris": ["https://d.example/cb"],
                "token_endpoint_auth_method": "none",
                "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
            })
            .to_string(),
        ))
        .unwrap();
    let answer = call(router, registration).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let registered = answer.json();
    let configuration_uri = registered["registration_client_uri"].as_str().unwrap();
    assert!(configuration_uri.starts_with(metadata["registration_endpoint"].as_str().unwrap()));
    let configuration_path = url::Url::parse(configuration_uri)
        .unwrap()
        .path()
        .to_owned();
    let token = registered["registration_access_token"].as_str().unwrap();
    let read = with_token(get_request(&configuration_path), token);
    let answer = call(router, read).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["client_id"], registered["client_id"]);
    // The device flow's verification_uri: the host's page.
    let client_id = registered["client_id"].as_str().unwrap();
    let answer = call(
        router,
        form_post(
            &path_of("device_authorization_endpoint"),
            format!("client_id={client_id}"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let verification = answer.json()["verification_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verification.starts_with(issuer));
    let verification_path = url::Url::parse(&verification).unwrap().path().to_owned();
    assert_eq!(
        call(router, get_request(&verification_path)).await.text(),
        "the host's device page"
    );
    // Deleting the client (RFC 7592).
    let delete = Request::builder()
        .method(Method::DELETE)
        .uri(&configuration_path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(router, delete).await.status, StatusCode::NO_CONTENT);
    metadata
}

fn with_host_pages(provider: &Provider) -> Router {
    Routes::new(provider)
        .authorization(get(|| async { "the host's authorization page" }))
        .device_verification(get(|| async { "the host's device page" }))
        .into_router()
        .with_state(())
}

#[tokio::test]
async fn the_router_serves_every_endpoint_at_the_url_the_metadata_advertises() {
    let issuer = "https://auth.example.com";
    let router = with_host_pages(&provider(full(issuer)));
    let metadata =
        check_every_advertised_url(&router, "/.well-known/oauth-authorization-server", issuer)
            .await;
    assert_eq!(metadata["token_endpoint"], "https://auth.example.com/token");
}

#[tokio::test]
async fn a_custom_endpoints_config_moves_the_routes_with_the_metadata() {
    let issuer = "https://auth.example.com";
    let endpoints = Endpoints::default()
        .with_authorization("/oauth2/v1/authorize")
        .with_token("/oauth2/v1/token")
        .with_revocation(Some("/oauth2/v1/revoke"))
        .with_introspection(Some("/oauth2/v1/introspect"))
        .with_registration(Some("/oauth2/v1/clients"))
        .with_device_authorization(Some("/oauth2/v1/device"))
        .with_device_verification("/activate");
    let router = with_host_pages(&provider(full(issuer).endpoints(endpoints)));
    let metadata =
        check_every_advertised_url(&router, "/.well-known/oauth-authorization-server", issuer)
            .await;
    assert_eq!(
        metadata["token_endpoint"],
        "https://auth.example.com/oauth2/v1/token"
    );
    // The default paths are not served.
    for path in [
        "/token",
        "/revoke",
        "/introspect",
        "/register",
        "/device_authorization",
    ] {
        assert_eq!(
            call(&router, form_post(path, Body::empty())).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_issuer_with_a_path_gets_the_path_inserted_metadata_url() {
    let issuer = "https://auth.example.com/tenants/acme";
    let router = with_host_pages(&provider(full(issuer)));
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    let metadata = check_every_advertised_url(
        &router,
        "/.well-known/oauth-authorization-server/tenants/acme",
        issuer,
    )
    .await;
    assert_eq!(
        metadata["token_endpoint"],
        "https://auth.example.com/tenants/acme/token"
    );
    // The root document would belong to another issuer, `https://auth.example.com`.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/tenants/acme/.well-known/oauth-authorization-server",
        "/token",
    ] {
        assert_eq!(
            call(&router, get_request(path)).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn endpoints_the_config_leaves_out_are_not_mounted() {
    let issuer = "https://auth.example.com";
    // Revocation and introspection removed; registration closed (the default); no device
    // grant (the default).
    let config = Config::builder(issuer).endpoints(
        Endpoints::default()
            .with_revocation(None)
            .with_introspection(None),
    );
    let router = with_host_pages(&provider(config));
    let answer = call(
        &router,
        get_request("/.well-known/oauth-authorization-server"),
    )
    .await;
    let metadata = answer.json();
    for field in [
        "revocation_endpoint",
        "introspection_endpoint",
        "registration_endpoint",
        "device_authorization_endpoint",
    ] {
        assert!(metadata.get(field).is_none(), "{field} advertised");
    }
    for path in [
        "/revoke",
        "/introspect",
        "/register",
        "/device_authorization",
    ] {
        assert_eq!(
            call(&router, form_post(path, Body::empty())).await.status,
            StatusCode::NOT_FOUND,
            "{path} mounted"
        );
    }
    assert_eq!(
        call(&router, get_request("/register/some-client"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Without the device grant the host's device page is not mounted either.
    assert_eq!(
        call(&router, get_request("/device")).await.status,
        StatusCode::NOT_FOUND
    );
    // What is advertised is served.
    let token = call(&router, form_post("/token", Body::empty())).await;
    assert_eq!(token.status, StatusCode::BAD_REQUEST);
    let page = call(&router, get_request("/authorize")).await;
    assert_eq!(page.text(), "the host's authorization page");
}

fn preflight(path: &str, origin: &str, method: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,dpop",
        )
        .body(Body::empty())
        .unwrap()
}

fn from_origin(mut request: Request<Body>, origin: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert(header::ORIGIN, origin.parse().unwrap());
    request
}

#[tokio::test]
async fn browser_clients_may_call_the_token_and_metadata_endpoints_from_any_origin_by_default() {
    let provider = provider(full("https://auth.example.com"));
    let router: Router = tessera::axum::router(&provider);
    let origin = "https://spa.example.net";

    let answer = call(&router, preflight("/token", origin, "POST")).await;
    assert!(answer.status.is_success(), "preflight: {}", answer.status);
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let allowed = answer
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS)
        .to_ascii_lowercase();
    for name in ["authorization", "content-type", "dpop"] {
        assert!(allowed.contains(name), "{name} not in {allowed}");
    }
    assert!(
        answer
            .header(header::ACCESS_CONTROL_ALLOW_METHODS)
            .contains("POST")
    );
    // Credentials are never allowed: no cookie rides along with a script's request.
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), "");

    // The actual requests: a token error and the metadata document, both readable.
    let refused = call(
        &router,
        from_origin(form_post("/token", "grant_type=client_credentials"), origin),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        refused.text()
    );
    assert_eq!(refused.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let exposed = refused
        .header(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .to_ascii_lowercase();
    for name in ["www-authenticate", "dpop-nonce", "retry-after"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }
    let metadata = call(
        &router,
        from_origin(
            get_request("/.well-known/oauth-authorization-server"),
            origin,
        ),
    )
    .await;
    assert_eq!(metadata.status, StatusCode::OK);
    assert_eq!(metadata.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    for path in ["/revoke", "/register", "/par", "/device_authorization"] {
        let answer = call(&router, preflight(path, origin, "POST")).await;
        assert_eq!(
            answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "*",
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_introspection_endpoint_never_answers_scripts_of_other_origins() {
    let provider = provider(full("https://auth.example.com"));
    let router: Router = tessera::axum::router(&provider);
    let path = provider.config().endpoints().introspection.clone().unwrap();
    let answer = call(&router, preflight(&path, "https://spa.example.net", "POST")).await;
    assert_eq!(
        answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "",
        "{path}"
    );
    let answer = call(
        &router,
        from_origin(form_post(&path, "token=x"), "https://spa.example.net"),
    )
    .await;
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "");
}

#[tokio::test]
async fn a_listed_origin_policy_answers_only_those_origins_and_disabled_answers_none() {
    use tessera::axum::Cors;

    let provider = provider(full("https://auth.example.com"));
    let cors = Cors::origins(["https://spa.example.net"]).unwrap();
    let router: Router = Routes::new(&provider).cors(cors).into_router();
    let listed = call(
        &router,
        preflight("/token", "https://spa.example.net", "POST"),
    )
    .await;
    assert_eq!(
        listed.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://spa.example.net"
    );
    assert!(
        listed
            .header(header::VARY)
            .to_ascii_lowercase()
            .contains("origin")
    );
    let other = call(&router, preflight("/token", "https://evil.example", "POST")).await;
    assert_eq!(other.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "");

    let router: Router = Routes::new(&provider).cors(Cors::disabled()).into_router();
    let answer = call(
        &router,
        preflight("/token", "https://spa.example.net", "POST"),
    )
    .await;
    assert_eq!(answer.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), "");
    // Without CORS an OPTIONS request is just a method the endpoint does not serve.
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}
