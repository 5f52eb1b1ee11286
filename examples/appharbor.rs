//! AppHarbor's OAuth v2 provider, rebuilt on tessera exactly as its support site describes it
//! (`../shared/seeds/004_*.txt`; see DIALECTS.md for the mapping).
//!
//! ```sh
//! cargo run --example appharbor -- --addr 127.0.0.1:8080
//! # prints client_id=..., client_secret=..., redirect_uri=...
//! open 'http://127.0.0.1:8080/user/authorizations/new?client_id=ID&redirect_uri=http%3A%2F%2Fexample.com%2F'
//! curl -d client_id=ID -d client_secret=SECRET -d code=CODE http://127.0.0.1:8080/tokens
//! curl -H 'Authorization: BEARER TOKEN' http://127.0.0.1:8080/applications
//! ```
//!
//! Routes: `GET /user/authorizations/new`, `POST /tokens`, `GET /applications`, and
//! `GET /user/authorizations`, where the user sees and revokes authorized applications.

#![allow(unreachable_pub)]

#[path = "dialect_support/mod.rs"]
mod dialect_support;

use std::error::Error;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{get, post};
use dialect_support::{Ui, UiConfig};
use tessera::store::MemoryStore;
use tessera::{
    BodyFormat, Config, Dialect, ExactRedirect, GrantType, PkceRequirement, Provider, ScopeSet,
    danger,
};

/// The callback URL of the client registered at start: the document's own `http://example.com/`
/// (registrable only through `danger::allow_http_redirects`).
pub const CALLBACK: &str = "http://example.com/";

/// The provider's configuration: the code grant only, PKCE only for public clients (the
/// document's confidential clients send none), and the token endpoint's dialect: no
/// `grant_type`, no `redirect_uri`, a form-encoded `access_token=...&token_type=...` answer.
pub fn config(issuer: &str) -> Result<Config, Box<dyn Error>> {
    let dialect = Dialect::default()
        .with_token_format(BodyFormat::Form)
        .with_default_grant_type(GrantType::AuthorizationCode)
        .with_token_redirect_uri_optional()
        // The authorization link carries no response_type: AppHarbor only has the code flow.
        .with_response_type_optional()
        .with_token_fields(["access_token", "token_type"]);
    Ok(Config::builder(issuer)
        .pkce(PkceRequirement::PublicClients)
        .grant_types([GrantType::AuthorizationCode])
        .dialect(dialect)
        .danger(
            danger::Danger::new()
                // The callback gets `http://example.com/?code=:code` (and `state`), as documented.
                .omit_iss_parameter()
                // The document's callbacks are plain http on a public host.
                .allow_http_redirects()
                // "Tokens issued by AppHarbor do not expire but the user has the option of
                // revoking them."
                .never_expire()
                // `?access_token=` is one of the documented ways.
                .bearer_in_query(),
        )
        .build()?)
}

/// The router and the client registered at start, with its one-time secret.
pub async fn app(issuer: &str) -> Result<(Router, String, String), Box<dyn Error>> {
    let provider = Provider::builder(config(issuer)?, Arc::new(MemoryStore::new()))
        // "redirect_uri: Must match the Callback URL": required, then matched exactly.
        .redirect_policy(Arc::new(ExactRedirect::requiring_redirect_uri()))
        .build();
    let (client_id, secret) = dialect_support::register_confidential(
        &provider,
        "AppHarbor Example Client",
        CALLBACK,
        "https://example.com/",
    )
    .await?;
    let ui = Ui::new(
        provider,
        UiConfig {
            title: "AppHarbor",
            apps_path: "/user/authorizations",
            skip_granted_consent: false,
        },
    )?;
    let router = Router::new()
        .route("/user/authorizations/new", get(authorize))
        .route("/tokens", post(dialect_support::token_handler))
        .route("/applications", get(applications))
        .with_state(ui.clone())
        .merge(ui.routes());
    Ok((router, client_id, secret))
}

async fn authorize(
    State(ui): State<Ui>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    ui.authorize_request(
        "/user/authorizations/new",
        &headers,
        &Method::GET,
        query.as_deref(),
        &[],
    )
    .await
}

/// The protected API: the user's applications (an empty list in this demo).
async fn applications(
    State(ui): State<Ui>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    ui.resource(&headers, query.as_deref(), &ScopeSet::new(), |_| {
        serde_json::json!([])
    })
    .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (listener, issuer) = dialect_support::bind_from_args().await?;
    let (app, client_id, secret) = app(&issuer).await?;
    dialect_support::print_client(&client_id, &secret, CALLBACK);
    dialect_support::serve(listener, app).await
}
