//! An MCP server protected by an embedded tessera provider, in one process: the Model Context
//! Protocol's Streamable HTTP transport at `/mcp` (the official Rust SDK, `rmcp`) with one tool,
//! `whoami`, answering the name of the signed-in user the access token acts for; in front of
//! it, everything `examples/server.rs` serves at the same origin (login and consent pages for
//! the demo user `demo` / `demo`, dynamic client registration, client ID metadata documents,
//! metadata, `/api/me`, `--resource-server`), as the MCP authorization specification
//! (revision 2025-11-25) expects of a server and its authorization server.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --release --example mcp_server -- --addr 127.0.0.1:8080
//! ```
//!
//! It prints `listening on http://127.0.0.1:8080` once it accepts connections; the issuer is
//! that URL and the MCP endpoint `http://127.0.0.1:8080/mcp`. It takes every flag of
//! `examples/server.rs`; client ID metadata documents are always accepted here (MCP clients
//! name themselves by such a URL), as with `--client-metadata-documents`.
//!
//! `/mcp` is the resource `ISSUER/mcp` (RFC 8707): it accepts only access tokens whose
//! audience names it, sent in the `Authorization` header (as MCP requires), carrying the scope
//! `whoami`. A token requested without `resource` has the default audience, the provider's own
//! resources, `/mcp` among them. An unauthenticated request gets 401 with a `WWW-Authenticate:
//! Bearer` challenge whose `resource_metadata` is the URL of its protected resource metadata,
//! `/.well-known/oauth-protected-resource/mcp` (RFC 9728), from which an MCP client finds the
//! authorization server, registers (or presents its metadata document) and signs the user in.

#[path = "server.rs"]
// `main`, `run` and the pieces only they use: this example starts the server with `run_with`.
#[allow(dead_code)]
mod server;

use std::process::ExitCode;

use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use tessera::axum::BearerLayer;
use tessera::{Principal, Provider, ScopeSet};
use tower::Layer as _;

/// Where the MCP endpoint is, under the issuer; its resource identifier is the issuer
/// followed by this path.
const MCP_PATH: &str = "/mcp";

/// The MCP server: one tool.
#[derive(Debug, Clone)]
struct Whoami {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Whoami {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// The user the request's access token acts for: the `BearerLayer` in front of the
    /// transport put the validated [`Principal`] in the request's extensions, and rmcp hands
    /// the tool the request's parts.
    #[tool(description = "The name of the signed-in user this client acts for")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = parts
            .extensions
            .get::<Principal>()
            .and_then(|principal| principal.user());
        Ok(match user {
            Some(user) => CallToolResult::success(vec![ContentBlock::text(user.as_str())]),
            // A client-credentials token names no user: there is no one to name.
            None => CallToolResult::error(vec![ContentBlock::text(
                "this access token acts for no user",
            )]),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Whoami {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "tessera-mcp-example",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Call `whoami` for the name of the user who signed in.")
    }
}

/// The scope `/mcp` requires.
fn whoami_scope() -> ScopeSet {
    ScopeSet::from_tokens(["whoami"]).unwrap_or_default()
}

/// The MCP endpoint and its metadata in front of `server` (the example server's router), which
/// answers everything else.
fn mcp_routes(provider: &Provider, server: Router) -> Router {
    let issuer = provider.config().issuer().to_owned();
    let resource = format!("{issuer}{MCP_PATH}");
    // Host validation against DNS rebinding: rmcp's loopback names and the issuer's host,
    // whatever the port.
    let mut hosts = StreamableHttpServerConfig::default().allowed_hosts;
    if let Some(host) = url::Url::parse(&issuer)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
    {
        hosts.push(host);
    }
    let transport = StreamableHttpService::new(
        || Ok(Whoami::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default().with_allowed_hosts(hosts),
    );
    // Only tokens whose audience names `/mcp` and that carry `whoami`; the 401 names the
    // metadata below (RFC 9728 §5.1).
    let bearer = BearerLayer::new(provider)
        .require(whoami_scope())
        .for_resource(resource.as_str());
    let mcp = Router::new()
        .route_service(MCP_PATH, bearer.layer(transport))
        .route_layer(axum::middleware::from_fn(header_tokens_only));
    // The document `Routes` serves for the resource says `query` too (this provider accepts
    // `?access_token=` at `/api/me`); MCP clients send tokens in the header only, so this
    // route, answered first, says so and names `whoami`, the one scope the tool needs.
    let metadata = provider.resource_metadata(&resource).map(|document| {
        document
            .with_bearer_methods(["header"])
            .with_scopes(&whoami_scope())
            .with_name("tessera MCP example")
            .to_response()
    });
    let metadata_path = tessera::protected_resource_metadata_path(&resource).unwrap_or_default();
    Router::new()
        .route(
            &metadata_path,
            get(move || async move {
                match metadata {
                    Some(document) => document.into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .merge(mcp)
        .route_layer(axum::middleware::from_fn(server::support::guard_and_log))
        .fallback_service(server)
}

/// Refuses an access token in the query at `/mcp` (400 `invalid_request`, RFC 6750 §3.1): MCP
/// clients must send it in the `Authorization` header, and a URL is logged and cached where a
/// header is not.
async fn header_tokens_only(request: Request, next: Next) -> Response {
    let in_query = request.uri().query().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
    });
    if !in_query {
        return next.run(request).await;
    }
    let body = serde_json::json!({
        "error": "invalid_request",
        "error_description": "send the access token in the Authorization header",
    });
    let mut response = (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_request""#),
    );
    response
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Client ID metadata documents on, then the command line's flags.
    let flags =
        std::iter::once("--client-metadata-documents".to_owned()).chain(std::env::args().skip(1));
    let args = match server::Args::parse(flags) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let extension = server::Extension {
        resource_paths: vec![MCP_PATH],
        wrap: Some(mcp_routes),
    };
    match server::run_with(args, extension).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
