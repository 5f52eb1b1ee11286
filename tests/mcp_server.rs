//! Drives the real `examples/mcp_server.rs` binary over HTTP as a black box: the contract's MCP
//! lines (the protected resource metadata of `/mcp`, its 401 challenge, its audience check),
//! then a real MCP client, the official Rust SDK's (`rmcp`), which finds the authorization
//! server from the challenge, registers, signs the demo user in (its browser step played here
//! by submitting the login and consent forms), and calls the `whoami` tool over Streamable HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, WWW_AUTHENTICATE};
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::process::Child;
use url::Url;

#[path = "support/cargo_env.rs"]
mod cargo_env;
#[path = "support/listening_server.rs"]
mod listening_server;

/// The MCP client's redirect URI: never contacted, the test reads the redirect's `Location`.
const REDIRECT: &str = "http://127.0.0.1:9/callback";
/// Another resource server (`--resource-server`), whose tokens `/mcp` must refuse.
const OTHER_RESOURCE: &str = "https://files.example/";

/// Builds the example once per test run (a no-op when it is fresh) and returns its path.
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable path");
            // target/<profile>/deps/mcp_server-<hash> -> target/<profile>
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("target profile directory")
                .to_path_buf();
            let target_dir = profile_dir.parent().expect("target directory");
            // The test's own features, so the library built for it is reused.
            let features: Vec<&str> = [
                ("memory", cfg!(feature = "memory")),
                ("jose", cfg!(feature = "jose")),
                ("http", cfg!(feature = "http")),
                ("testkit", cfg!(feature = "testkit")),
                ("tokio", cfg!(feature = "tokio")),
                ("postgres", cfg!(feature = "postgres")),
                ("sqlite", cfg!(feature = "sqlite")),
                ("redis", cfg!(feature = "redis")),
                ("axum", true),
                ("cimd-fetch", cfg!(feature = "cimd-fetch")),
            ]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
            let mut build = std::process::Command::new(env!("CARGO"));
            build
                .args(["build", "--quiet", "--example", "mcp_server", "--features"])
                .arg(features.join(","))
                .arg("--target-dir")
                .arg(target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            cargo_env::strip_test_env(&mut build);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            assert!(
                build.status().expect("cargo runs").success(),
                "build failed"
            );
            profile_dir
                .join("examples")
                .join(format!("mcp_server{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// A running example and its issuer; killed when dropped.
struct Server {
    _child: Child,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    async fn start_with(extra: &[&str]) -> Self {
        let mut flags = vec!["--resource-server", OTHER_RESOURCE];
        flags.extend_from_slice(extra);
        let (child, base) = listening_server::spawn_listening(&example_binary(), &flags).await;
        Self {
            _child: child,
            base,
            http: client(false),
        }
    }

    fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.expect("json")
    }

    /// A client-credentials token of a new confidential client, for `resource` if given.
    async fn token(&self, resource: Option<&str>) -> String {
        let registered = self
            .http
            .post(format!("{}/register", self.base))
            .json(&json!({
                "client_name": "mcp audience test",
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_post",
                "scope": "whoami",
            }))
            .send()
            .await
            .expect("register");
        assert_eq!(registered.status(), StatusCode::CREATED);
        let registered: Value = registered.json().await.expect("json");
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("scope", "whoami"),
            ("client_id", registered["client_id"].as_str().expect("id")),
            (
                "client_secret",
                registered["client_secret"].as_str().expect("secret"),
            ),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .form(&form)
            .send()
            .await
            .expect("token");
        assert_eq!(response.status(), StatusCode::OK, "token for {resource:?}");
        let body: Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_owned()
    }

    /// An MCP `initialize` POSTed to `/mcp` (revision 2025-11-25), with `token` if given.
    async fn initialize(&self, token: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.mcp())
            .header("accept", "application/json, text/event-stream")
            .json(&json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "black-box test", "version": "1"},
                },
            }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("POST /mcp")
    }
}

/// An HTTP client that does not follow redirects; a `browser` one keeps cookies.
fn client(browser: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(browser)
        .build()
        .expect("client")
}

fn challenge(headers: &HeaderMap) -> String {
    headers
        .get(WWW_AUTHENTICATE)
        .expect("a WWW-Authenticate challenge")
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The JSON-RPC result of an MCP response: a JSON body, or the `data` of an SSE event.
async fn json_rpc_result(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("body");
    let message = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .find(|data| data.contains("\"result\""))
        .unwrap_or(text.as_str());
    let value: Value = serde_json::from_str(message).expect("a JSON-RPC message");
    value["result"].clone()
}

/// The `value` of the input named `name` (only for values without HTML escapes: CSRF tokens).
fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The browser's part: opens `authorize`, signs `demo` in, allows, and returns the redirect to
/// the client's redirect URI.
async fn sign_in_and_allow(base: &str, authorize: &str) -> Url {
    let browser = client(true);
    let query = Url::parse(authorize)
        .expect("url")
        .query()
        .unwrap_or("")
        .to_owned();
    let mut response = browser.get(authorize).send().await.expect("authorize");
    for _ in 0..4 {
        let status = response.status();
        if status.is_redirection() {
            let to = response.headers()[LOCATION].to_str().expect("ascii");
            if to.starts_with(REDIRECT) {
                return Url::parse(to).expect("absolute redirect");
            }
            assert_eq!(status, StatusCode::SEE_OTHER);
            response = browser
                .get(format!("{base}{to}"))
                .send()
                .await
                .expect("follow");
            continue;
        }
        assert_eq!(status, StatusCode::OK);
        let page = response.text().await.expect("html");
        let csrf = input_value(&page, "csrf").expect("a CSRF token");
        response = if page.contains("name=\"password\"") {
            let next = format!("/authorize?{query}");
            browser
                .post(format!("{base}/login"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("next", next.as_str()),
                    ("username", "demo"),
                    ("password", "demo"),
                ])
                .send()
                .await
                .expect("login")
        } else {
            assert!(page.contains("name=\"decision\" value=\"allow\""), "{page}");
            browser
                .post(format!("{base}/consent"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("request", query.as_str()),
                    ("decision", "allow"),
                ])
                .send()
                .await
                .expect("consent")
        };
    }
    panic!("the authorization flow did not end in a redirect");
}

#[tokio::test]
async fn the_mcp_resource_publishes_its_metadata() {
    let server = Server::start().await;
    let document = server
        .get_json("/.well-known/oauth-protected-resource/mcp")
        .await;
    assert_eq!(document["resource"], json!(server.mcp()));
    assert_eq!(document["authorization_servers"], json!([server.base]));
    let scopes = document["scopes_supported"].as_array().expect("scopes");
    assert!(scopes.contains(&json!("whoami")), "{document}");
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));

    // The authorization server beside it: registration and client ID metadata documents.
    let metadata = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(metadata["issuer"], json!(server.base));
    assert_eq!(
        metadata["client_id_metadata_document_supported"],
        json!(true)
    );
    assert!(metadata["registration_endpoint"].is_string());
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    // The example server's own resource is still there.
    let me = server
        .get_json("/.well-known/oauth-protected-resource/api/me")
        .await;
    assert_eq!(me["resource"], json!(format!("{}/api/me", server.base)));
}

#[tokio::test]
async fn unauthenticated_mcp_requests_are_challenged() {
    let server = Server::start().await;
    let response = server.initialize(None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(response.headers());
    assert!(header.starts_with("Bearer "), "{header}");
    let expected = format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        server.base
    );
    assert!(header.contains(&expected), "{header}");

    let response = server.initialize(Some("not-a-token")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(response.headers());
    assert!(header.contains("error=\"invalid_token\""), "{header}");
    assert!(header.contains(&expected), "{header}");

    // A token in the query is refused even when valid: MCP sends it in the header.
    let token = server.token(None).await;
    let response = server
        .http
        .post(format!("{}?access_token={token}", server.mcp()))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn mcp_accepts_only_tokens_whose_audience_names_it() {
    let server = Server::start().await;
    let api_me = format!("{}/api/me", server.base);
    for other in [OTHER_RESOURCE, api_me.as_str()] {
        let token = server.token(Some(other)).await;
        let response = server.initialize(Some(&token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "for {other}");
        let header = challenge(response.headers());
        assert!(header.contains("error=\"invalid_token\""), "{header}");
    }

    // For `/mcp` itself, and with no `resource` (the default audience includes `/mcp`): the
    // MCP server answers, negotiating revision 2025-11-25.
    let mcp = server.mcp();
    for resource in [Some(mcp.as_str()), None] {
        let token = server.token(resource).await;
        let response = server.initialize(Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK, "for {resource:?}");
        let result = json_rpc_result(response).await;
        assert_eq!(result["protocolVersion"], json!("2025-11-25"), "{result}");
        assert!(result["capabilities"]["tools"].is_object(), "{result}");
    }

    // A token for `/mcp` is no good at `/api/me`.
    let token = server.token(Some(&mcp)).await;
    let response = server
        .http
        .get(&api_me)
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET /api/me");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(response.headers());
    assert!(header.contains("error=\"invalid_token\""), "{header}");
}

#[tokio::test]
async fn an_mcp_client_signs_in_and_calls_whoami() {
    let server = Server::start().await;
    let mcp = server.mcp();
    let hello = || ClientConfig::default().with_protocol_version(ProtocolVersion::V_2025_11_25);

    // Unauthenticated, the connection fails with the server's challenge.
    let refused = hello()
        .serve(StreamableHttpClientTransport::from_uri(mcp.as_str()))
        .await
        .expect_err("no token, no session");
    let www_authenticate = refused
        .auth_challenge()
        .expect("a 401 challenge")
        .to_owned();

    // The SDK's OAuth: protected resource metadata, authorization server metadata, dynamic
    // registration, PKCE, the authorization URL.
    let mut oauth = OAuthState::new(mcp.as_str(), None)
        .await
        .expect("oauth state");
    oauth
        .start_authorization(
            AuthorizationRequest::new(REDIRECT)
                .with_client_name("rmcp black-box test")
                .with_challenge(www_authenticate),
        )
        .await
        .expect("discovery and registration");
    let authorize = oauth.get_authorization_url().await.expect("url");
    let url = Url::parse(&authorize).expect("url");
    assert!(authorize.starts_with(&format!("{}/authorize?", server.base)));
    let param = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("resource").as_deref(), Some(mcp.as_str()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));

    let redirect = sign_in_and_allow(&server.base, &authorize).await;
    let back = |name: &str| {
        redirect
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    let code = back("code").expect("a code");
    let state = back("state").expect("the state");
    assert_eq!(back("iss").as_deref(), Some(server.base.as_str()));
    oauth
        .handle_callback_with_issuer(&code, &state, back("iss").as_deref())
        .await
        .expect("the token exchange");

    // Connected with the token: the tool list, then `whoami`.
    let manager = oauth.into_authorization_manager().expect("authorized");
    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(rmcp_reqwest::Client::new(), manager),
        StreamableHttpClientTransportConfig::with_uri(mcp.as_str()),
    );
    let session = hello().serve(transport).await.expect("an MCP session");
    assert_eq!(
        session
            .peer_info()
            .map(|info| info.protocol_version.clone()),
        Some(ProtocolVersion::V_2025_11_25)
    );
    let tools = session.peer().list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|tool| tool.name == "whoami"), "{tools:?}");
    let result = session
        .peer()
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("tools/call");
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect();
    assert_eq!(text, ["demo"]);
    session.cancel().await.expect("closed");
}

/// Serves a client ID metadata document for a public client at `http://127.0.0.1:PORT/agent.json`
/// and returns that URL, its `client_id`.
async fn metadata_document() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/agent.json", listener.local_addr().expect("addr"));
    let document = json!({
        "client_id": url,
        "client_name": "MCP agent",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
    });
    let app = axum::Router::new().route(
        "/agent.json",
        axum::routing::get(move || async move { axum::Json(document) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn an_mcp_client_named_by_its_metadata_document_calls_whoami() {
    let server = Server::start_with(&["--danger-allow-loopback-client-metadata"]).await;
    let client_id = metadata_document().await;
    let mcp = server.mcp();
    let verifier = "an-mcp-agent-pkce-verifier-0123456789-abcdefghijklmnop";
    let authorize = Url::parse_with_params(
        &format!("{}/authorize", server.base),
        [
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "whoami"),
            ("state", "agent-state"),
            ("code_challenge", &tessera::pkce_s256_challenge(verifier)),
            ("code_challenge_method", "S256"),
            ("resource", mcp.as_str()),
        ],
    )
    .expect("url");
    let redirect = sign_in_and_allow(&server.base, authorize.as_str()).await;
    let code = redirect
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .expect("a code");
    let response = server
        .http
        .post(format!("{}/token", server.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id.as_str()),
            ("code_verifier", verifier),
            ("resource", mcp.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("a token");

    // The MCP client with that token, negotiating the SDK's newest revision.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(mcp.as_str()).auth_header(token),
    );
    let session = ClientConfig::default()
        .serve(transport)
        .await
        .expect("an MCP session");
    let result = session
        .peer()
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("tools/call");
    let text: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect();
    assert_eq!(text, ["demo"]);
    session.cancel().await.expect("closed");
}
