//! Phabricator's OAuth Server, rebuilt on tessera exactly as "Using the Phabricator OAuth
//! Server" describes it (`../shared/seeds/003_*.txt`; see DIALECTS.md for the mapping).
//!
//! ```sh
//! cargo run --example phabricator -- --addr 127.0.0.1:8080
//! # prints client_id=..., client_secret=..., redirect_uri=...
//! open 'http://127.0.0.1:8080/oauthserver/auth/?client_id=ID&response_type=code&scope=whoami&state=xyz'
//! curl 'http://127.0.0.1:8080/oauthserver/token/?client_id=ID&client_secret=SECRET&code=CODE&grant_type=authorization_code'
//! curl 'http://127.0.0.1:8080/api/user.whoami?access_token=TOKEN'
//! ```
//!
//! Routes: `GET|POST /oauthserver/auth/`, `GET|POST /oauthserver/token/`,
//! `GET /api/user.whoami`, and `GET /oauthserver/clientauthorization/`, where the user sees and
//! revokes authorized applications.

#![allow(unreachable_pub)]

#[path = "dialect_support/mod.rs"]
mod dialect_support;

use std::error::Error;
use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dialect_support::{Buffered, Ui, UiConfig};
use tessera::store::MemoryStore;
use tessera::{Config, Dialect, GrantType, PkceRequirement, Provider, Scope, ScopeSet, danger};

/// The registered callback of the client created at start. Overrides may change its path and
/// add query parameters, but must keep `tenant=7`.
pub const CALLBACK: &str = "https://client.example/oauth/phabricator?tenant=7";

/// The provider's configuration: the two documented scopes (`whoami` by default), PKCE only
/// for public clients (the document's confidential clients send none), the code grant only,
/// `grant_type=token` as the document spells it, and token requests readable from a GET's query.
pub fn config(issuer: &str) -> Result<Config, Box<dyn Error>> {
    let dialect = Dialect::default()
        .with_grant_type_alias("token", GrantType::AuthorizationCode)
        .with_token_params_in_query();
    Ok(Config::builder(issuer)
        .scopes(ScopeSet::parse("whoami offline_access")?)
        .default_scopes(ScopeSet::parse("whoami")?)
        .pkce(PkceRequirement::PublicClients)
        .grant_types([GrantType::AuthorizationCode])
        .dialect(dialect)
        .danger(
            danger::Danger::new()
                // `offline_access`: "the token never expires".
                .never_expire_with_scope(Scope::new("offline_access")?)
                // API calls carry `?access_token=`.
                .bearer_in_query(),
        )
        .build()?)
}

/// The router and the client registered at start, with its one-time secret.
pub async fn app(issuer: &str) -> Result<(Router, String, String), Box<dyn Error>> {
    let provider = Provider::builder(config(issuer)?, Arc::new(MemoryStore::new()))
        .redirect_policy(Arc::new(danger::SameDomainRedirect))
        .build();
    let (client_id, secret) = dialect_support::register_confidential(
        &provider,
        "Phabricator Example Client",
        CALLBACK,
        "https://client.example/",
    )
    .await?;
    let ui = Ui::new(
        provider,
        UiConfig {
            title: "Phabricator",
            apps_path: "/oauthserver/clientauthorization/",
            skip_granted_consent: true,
        },
    )?;
    let router = Router::new()
        .route("/oauthserver/auth/", get(authorize).post(authorize))
        .route(
            "/oauthserver/token/",
            get(dialect_support::token_handler).post(dialect_support::token_handler),
        )
        .route("/api/user.whoami", get(whoami))
        .with_state(ui.clone())
        .merge(ui.routes());
    Ok((router, client_id, secret))
}

async fn authorize(State(ui): State<Ui>, Buffered(request): Buffered) -> Response {
    ui.authorize_request(
        "/oauthserver/auth/",
        request.headers(),
        request.method(),
        request.uri().query(),
        request.body(),
    )
    .await
}

/// Conduit's `user.whoami`, in Conduit's result envelope; needs the `whoami` scope.
async fn whoami(State(ui): State<Ui>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let Ok(required) = ScopeSet::parse("whoami") else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    ui.resource(&headers, query.as_deref(), &required, |principal| {
        let user = principal.user().map(|u| u.as_str().to_owned());
        serde_json::json!({
            "result": { "userName": user, "realName": "Demo User" },
            "error_code": null,
            "error_info": null,
        })
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
