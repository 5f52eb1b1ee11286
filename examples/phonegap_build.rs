//! PhoneGap Build's OAuth provider, rebuilt on tessera exactly as its developer documentation
//! describes it (`../shared/seeds/000_*.txt`; see DIALECTS.md for the mapping).
//!
//! ```sh
//! cargo run --example phonegap_build -- --addr 127.0.0.1:8080
//! # the document's own requests:
//! open 'http://127.0.0.1:8080/authorize?client_id=abcdef'          # sign in as demo/demo
//! curl -X POST 'http://127.0.0.1:8080/authorize/token?client_id=abcdef&client_secret=123456&code=CODE'
//! curl -X POST 'http://127.0.0.1:8080/authorize?client_id=abcdef&client_secret=123456&auth_token=789hij'
//! curl 'http://127.0.0.1:8080/api/v1/me?access_token=TOKEN'
//! ```
//!
//! Routes: `GET /authorize` (web flow), `POST /authorize` (non-web flow: a personal auth token
//! exchanged through RFC 8693 token exchange), `POST /authorize/token`, `GET /api/v1/me`, and
//! `GET /apps`, where the user sees and revokes authorized applications.

#![allow(unreachable_pub)]

#[path = "dialect_support/mod.rs"]
mod dialect_support;

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::{get, post};
use dialect_support::{Ui, UiConfig};
use tessera::store::MemoryStore;
use tessera::{
    AttemptLimiter, AuthMethod, ClientId, ClientRegistration, ClientSecret, Config, Dialect,
    ErrorCode, FormRequest, GrantType, MemoryAttemptLimiter, PkceRequirement, Provider, ScopeSet,
    StoreError, SubjectToken, SubjectTokenValidator, TokenHash, UserId, danger::Danger,
};

/// The example client of the document.
pub const CLIENT_ID: &str = "abcdef";
/// Its secret, as the document prints it (imported: kept with a slow hash).
pub const CLIENT_SECRET: &str = "123456";
/// Its registered callback URL.
pub const CALLBACK: &str = "https://client.example/callback";
/// The demo user's personal auth token, as the document prints it.
pub const AUTH_TOKEN: &str = "789hij";
/// The `subject_token_type` the non-web flow's `auth_token` is exchanged as.
pub const AUTH_TOKEN_TYPE: &str = "urn:phonegap-build:params:oauth:token-type:auth_token";

/// The users' personal auth tokens ("in their account settings"), kept as SHA-256 hashes.
#[derive(Debug)]
struct PersonalTokens(Vec<(TokenHash, UserId)>);

#[async_trait]
impl SubjectTokenValidator for PersonalTokens {
    async fn validate(
        &self,
        token_type: &str,
        token: &str,
    ) -> Result<Option<SubjectToken>, StoreError> {
        if token_type != AUTH_TOKEN_TYPE {
            return Ok(None);
        }
        let hash = TokenHash::of(token);
        // Personal tokens do not expire ("Save it."); the exchanged token still does.
        Ok(self
            .0
            .iter()
            .find(|(known, _)| known.ct_eq(&hash))
            .map(|(_, user)| SubjectToken::new(user.clone())))
    }
}

/// The configuration shared by both flows: no PKCE for these confidential clients (the document
/// has none), the code grant and token exchange only, tokens that do not expire ("Save it.").
fn base_config(issuer: &str, dialect: Dialect) -> Result<Config, Box<dyn Error>> {
    Ok(Config::builder(issuer)
        .pkce(PkceRequirement::PublicClients)
        .grant_types([GrantType::AuthorizationCode, GrantType::TokenExchange])
        .dialect(dialect)
        .danger(
            Danger::new()
                // The callback gets `code` (or `error`), nothing the document does not list.
                .omit_iss_parameter()
                // "Save it.": tokens do not expire.
                .never_expire()
                // Every API call carries `?access_token=`.
                .bearer_in_query(),
        )
        .build()?)
}

/// The web flow's wire dialect.
fn web_dialect() -> Dialect {
    Dialect::default()
        // GET /authorize?client_id=abcdef: no response_type, no redirect_uri.
        .with_response_type_optional()
        // Deny: error=authorization_refused.
        .with_renamed_error(
            ErrorCode::AccessDenied,
            ErrorCode::Custom("authorization_refused".into()),
        )
        // POST /authorize/token?client_id&client_secret&code: query parameters, no grant_type.
        .with_token_params_in_query()
        .with_default_grant_type(GrantType::AuthorizationCode)
        // { "access_token": "xyz123" } or { "error": "invalid request" }.
        .with_token_fields(["access_token"])
        .with_collapsed_token_error(ErrorCode::Custom("invalid request".into()))
}

/// The non-web flow's dialect: the same endpoint shape, read as RFC 8693 token exchange.
fn exchange_dialect() -> Dialect {
    Dialect::default()
        .with_token_params_in_query()
        .with_default_grant_type(GrantType::TokenExchange)
        .with_param_alias("auth_token", "subject_token")
        .with_default_subject_token_type(AUTH_TOKEN_TYPE)
        .with_token_fields(["access_token"])
        .with_collapsed_token_error(ErrorCode::Custom("Invalid authentication token.".into()))
}

#[derive(Debug, Clone)]
struct AppState {
    ui: Ui,
    exchange: Provider,
}

/// tessera's `FormRequest` extractor reads its body limit here (both providers have the
/// default limits).
impl FromRef<AppState> for Provider {
    fn from_ref(state: &AppState) -> Provider {
        state.ui.provider.clone()
    }
}

/// The whole provider as a router, with the document's client and personal token imported.
pub async fn app(issuer: &str) -> Result<Router, Box<dyn Error>> {
    let store = Arc::new(MemoryStore::new());
    let tokens = Arc::new(PersonalTokens(vec![(
        TokenHash::of(AUTH_TOKEN),
        UserId::new(dialect_support::DEMO_USER),
    )]));
    // Two providers over one store: one per flow, each with its own error vocabulary. One
    // limiter of wrong client secrets serves both: a client has one budget, whatever the
    // endpoint (the default: 20 failures per 15 minutes).
    let client_attempts: Arc<dyn AttemptLimiter> =
        Arc::new(MemoryAttemptLimiter::new(20, time::Duration::minutes(15)));
    let web = Provider::builder(base_config(issuer, web_dialect())?, store.clone())
        .client_attempts(client_attempts.clone())
        .build();
    let exchange = Provider::builder(base_config(issuer, exchange_dialect())?, store)
        .subject_tokens(tokens)
        .client_attempts(client_attempts)
        .build();
    web.import_client(
        ClientId::new(CLIENT_ID)?,
        Some(ClientSecret::new(CLIENT_SECRET)),
        ClientRegistration::new("Example App", CALLBACK)
            .with_homepage("https://client.example/")
            .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::TokenExchange])
            .with_auth_method(AuthMethod::ClientSecretPost),
    )
    .await?;
    let ui = Ui::new(
        web,
        UiConfig {
            title: "PhoneGap Build",
            apps_path: "/apps",
            skip_granted_consent: false,
        },
    )?;
    let state = AppState {
        ui: ui.clone(),
        exchange,
    };
    Ok(Router::new()
        .route("/authorize", get(authorize).post(non_web_flow))
        .route("/authorize/token", post(token))
        .route("/api/v1/me", get(me))
        .with_state(state)
        .merge(ui.routes()))
}

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    state
        .ui
        .authorize_request("/authorize", &headers, &Method::GET, query.as_deref(), &[])
        .await
}

async fn non_web_flow(State(state): State<AppState>, request: FormRequest) -> tessera::Response {
    state.exchange.token(&request).await
}

async fn token(State(state): State<AppState>, request: FormRequest) -> tessera::Response {
    state.ui.provider.token(&request).await
}

async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    state
        .ui
        .resource(
            &headers,
            query.as_deref(),
            &ScopeSet::new(),
            |principal| serde_json::json!({ "username": principal.user().map(|u| u.as_str()) }),
        )
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (listener, issuer) = dialect_support::bind_from_args().await?;
    let app = app(&issuer).await?;
    dialect_support::print_client(CLIENT_ID, CLIENT_SECRET, CALLBACK);
    dialect_support::serve(listener, app).await
}
