//! Glue shared by the three dialect examples (PhoneGap Build, Phabricator, AppHarbor): the
//! demo user's login page, the consent page and the page listing authorized applications.
//! Sessions and CSRF tokens are the generic ones of `examples/support`, which `server.rs` uses
//! too; tessera's values are axum responses and extractors through the `axum` feature. The
//! dialects' endpoints sit at their documented, non-standard paths, so each example routes
//! them itself rather than through `tessera::axum::Routes`.
//!
//! None of it is OAuth protocol logic: every decision is the provider's. A real host replaces
//! this module with its own accounts, sessions and templates.

#![allow(dead_code, unreachable_pub, clippy::result_large_err)]

// The generic glue `server.rs` uses too; an early `Err(Response)` is how it refuses.
#[allow(clippy::result_large_err)]
#[path = "../support/mod.rs"]
mod support;

/// A request read whole, its body bounded by `support::MAX_BODY` (larger ones get 413), for the
/// authorization endpoints that take a GET's query or a POST's form (Phabricator's; the other
/// dialects read only the query).
#[allow(unused_imports)]
pub(crate) use support::Buffered;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRef, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::{get, post};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tessera::{
    AuthMethod, AuthorizeError, BearerError, BearerRequest, ClientId, ClientRegistration,
    FormRequest, GrantType, Params, Principal, Provider, ScopeSet, UserId,
};

/// The demo account every dialect example has.
pub const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";

/// Where the dialect's pages live and how its consent behaves.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// The provider's display name.
    pub title: &'static str,
    /// The page listing the user's authorized applications.
    pub apps_path: &'static str,
    /// Skip the consent page when the user already granted every requested scope.
    pub skip_granted_consent: bool,
}

/// The state every handler shares.
#[derive(Clone)]
pub struct Ui {
    /// The provider.
    pub provider: Provider,
    config: Arc<UiConfig>,
    sessions: support::Sessions,
    /// Password attempts per source.
    logins: support::RateLimiter,
    /// The dialect's own page (the applications list).
    templates: Arc<minijinja::Environment<'static>>,
    /// support's login, consent and error pages.
    pages: Arc<support::Pages>,
}

/// tessera's extractors (`FormRequest`) find the provider here.
impl FromRef<Ui> for Provider {
    fn from_ref(ui: &Ui) -> Provider {
        ui.provider.clone()
    }
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sessions hold CSRF tokens: never printed.
        f.debug_struct("Ui")
            .field("provider", &self.provider)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const LAYOUT: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1>{% block body %}{% endblock %}</body></html>"#;

const APPS: &str = r#"{% extends "layout.html" %}{% block body %}
<h2>Authorized applications</h2>
{% if apps %}<ul>{% for app in apps %}
<li><span class="app">{{ app.name }}</span> ({{ app.client_id }}){% if app.scopes %}: {{ app.scopes }}{% endif %}
<form method="post" action="{{ action }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="client_id" value="{{ app.client_id }}">
<button type="submit">Revoke</button></form></li>{% endfor %}
</ul>{% else %}<p>No application is authorized.</p>{% endif %}{% endblock %}"#;

impl Ui {
    /// The UI over `provider`; fails only if a template does not parse.
    pub fn new(provider: Provider, config: UiConfig) -> Result<Self, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        // Names ending in `.html` are auto-escaped.
        for (name, source) in [("layout.html", LAYOUT), ("apps.html", APPS)] {
            env.add_template(name, source)?;
        }
        Ok(Self {
            provider,
            config: Arc::new(config),
            // support's sessions, for signed-in users only: 12 hours from last use, at most
            // 100 000 at once and 1 000 per source (a new one then ends the oldest), 1 000 new
            // ones per source and minute.
            sessions: support::Sessions::new(support::SessionLimits::new(100_000, 1_000, false)),
            logins: support::RateLimiter::new(1_000, std::time::Duration::from_secs(60)),
            templates: Arc::new(env),
            pages: Arc::new(support::Pages::new()?),
        })
    }

    fn render(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> AxumResponse {
        let ctx = minijinja::context! { title => self.config.title, ..ctx };
        let rendered = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx));
        support::page(status, name, rendered)
    }

    /// The visitor of a form post whose CSRF token matches.
    fn checked(&self, headers: &HeaderMap, csrf: &str) -> Option<support::Visitor> {
        self.sessions.check(headers, Some(csrf))
    }

    /// The signed-in user of a form post whose CSRF token matches.
    fn signed_in(&self, headers: &HeaderMap, csrf: &str) -> Option<UserId> {
        self.checked(headers, csrf)
            .and_then(|visitor| visitor.session)
            .map(|session| session.user)
    }

    fn login_redirect(&self, next: &str, set_cookie: Option<HeaderValue>) -> AxumResponse {
        let location = format!(
            "/login?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        );
        support::with_cookie(support::see_other(&location), set_cookie)
    }

    fn untrusted(&self, code: &str, description: &str, status: u16) -> AxumResponse {
        self.pages.error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            description,
        )
    }

    /// The authorization endpoint's browser side: validate with the provider (showing untrusted
    /// errors, redirecting the others), make sure the user is logged in, then approve at once if
    /// the dialect skips granted consent, or show the consent page.
    pub async fn authorize(&self, path: &str, headers: &HeaderMap, params: Params) -> AxumResponse {
        let outcome = self.provider.authorize(&params).await;
        if let Err(AuthorizeError::Untrusted(error)) = &outcome {
            return self.untrusted(error.code.as_str(), &error.description, error.status());
        }
        let visitor = self.sessions.visitor(headers);
        let (csrf, set_cookie) = (visitor.csrf, visitor.cookie);
        let request = params.to_query();
        // Signed in first, even for an error: only then may it be redirected (RFC 9700 §4.11.2).
        let Some(user) = visitor.session.map(|session| session.user) else {
            return self.login_redirect(&format!("{path}?{request}"), set_cookie);
        };
        let pending = match outcome {
            Ok(pending) => pending,
            Err(AuthorizeError::Redirect(redirect)) => {
                return redirect.after_login(&user).into_response();
            }
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        };
        if self.config.skip_granted_consent {
            match pending.consent_covers(&self.provider, &user).await {
                Ok(true) => {
                    let scopes = pending.scopes().clone();
                    let redirect = pending.approve(&self.provider, user, &scopes).await;
                    return redirect.into_response();
                }
                Ok(false) => {}
                Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }
        let scopes: Vec<_> = pending
            .scopes()
            .iter()
            .map(|scope| minijinja::context! { name => scope.as_str(), text => "" })
            .collect();
        let ctx = minijinja::context! {
            client_name => pending.client().name.clone(),
            homepage => pending.client().homepage.clone(),
            user => user.as_str(),
            scopes,
            csrf,
            action => "/consent",
            hidden => vec![("request", request)],
        };
        support::with_cookie(
            self.pages.render(StatusCode::OK, "consent.html", ctx),
            set_cookie,
        )
    }

    /// [`Ui::authorize`] for a request as received: the query of a GET, the form of a POST.
    pub async fn authorize_request(
        &self,
        path: &str,
        headers: &HeaderMap,
        method: &Method,
        query: Option<&str>,
        body: &[u8],
    ) -> AxumResponse {
        let limits = self.provider.config().limits();
        let parsed = if method == Method::POST {
            Params::from_form(body, limits)
        } else {
            Params::from_query(query.unwrap_or(""), limits)
        };
        match parsed {
            Ok(params) => self.authorize(path, headers, params).await,
            Err(error) => self.untrusted(
                error.code.as_str(),
                error.description.as_deref().unwrap_or("malformed request"),
                400,
            ),
        }
    }

    /// The user's applications, for the dialect's management page.
    async fn apps_page(&self, headers: &HeaderMap) -> AxumResponse {
        let visitor = self.sessions.visitor(headers);
        let (csrf, set_cookie) = (visitor.csrf, visitor.cookie);
        let Some(user) = visitor.session.map(|session| session.user) else {
            return self.login_redirect(self.config.apps_path, set_cookie);
        };
        let Ok(apps) = self.provider.authorized_apps(&user).await else {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        };
        let apps: Vec<_> = apps
            .iter()
            .map(|app| {
                minijinja::context! {
                    name => app.name.clone(),
                    client_id => app.client_id.as_str().to_owned(),
                    scopes => app.scopes.to_string(),
                }
            })
            .collect();
        let action = format!("{}/revoke", self.config.apps_path.trim_end_matches('/'));
        self.render(
            StatusCode::OK,
            "apps.html",
            minijinja::context! { apps, csrf, action },
        )
    }

    /// Validates a resource request's bearer token (header, query or form, as configured).
    pub async fn bearer(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        scopes: &ScopeSet,
    ) -> Result<Principal, AxumResponse> {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let request = BearerRequest::new(authorization, query, None);
        self.provider
            .validate_bearer(&request, scopes)
            .await
            .map_err(|error: BearerError| error.to_response(&self.provider).into_response())
    }

    /// A protected resource: answers `ok(principal)` as JSON when the bearer token is valid for
    /// `scopes`, the provider's bearer error otherwise.
    pub async fn resource(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        scopes: &ScopeSet,
        ok: impl FnOnce(&Principal) -> serde_json::Value,
    ) -> AxumResponse {
        match self.bearer(headers, query, scopes).await {
            Ok(principal) => axum::Json(ok(&principal)).into_response(),
            Err(response) => response,
        }
    }

    /// The routes every dialect shares: login, consent, and the applications page.
    pub fn routes(self) -> Router {
        let apps = self.config.apps_path;
        let revoke = format!("{}/revoke", apps.trim_end_matches('/'));
        Router::new()
            .route("/login", get(login_page).post(login_submit))
            .route("/consent", post(consent_submit))
            .route(apps, get(apps_handler))
            .route(&revoke, post(revoke_handler))
            // Login, consent and revoke forms: the same 64 KiB bound as every other body.
            .layer(axum::extract::DefaultBodyLimit::max(support::MAX_BODY))
            .with_state(self)
    }
}

/// The token endpoint as a handler, for routers whose state is the [`Ui`] itself: the request
/// (its body read up to the provider's `Limits::max_bytes` by tessera's extractor) goes to the
/// provider as it came, query included, for dialects that read it.
pub async fn token_handler(State(ui): State<Ui>, request: FormRequest) -> tessera::Response {
    ui.provider.token(&request).await
}

/// Registers the example's confidential client (code grant, `client_secret_post`) and returns
/// its id and its one-time secret.
pub async fn register_confidential(
    provider: &Provider,
    name: &str,
    callback: &str,
    homepage: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let registered = provider
        .register_client(
            ClientRegistration::new(name, callback)
                .with_homepage(homepage)
                .with_grant_types(vec![GrantType::AuthorizationCode])
                .with_auth_method(AuthMethod::ClientSecretPost),
        )
        .await?;
    let secret = registered
        .secret
        .ok_or("a confidential client gets a secret")?
        .into_secret();
    Ok((registered.client.id.as_str().to_owned(), secret))
}

/// The answer to a form post without a signed-in session or with a wrong CSRF token.
fn forbidden() -> AxumResponse {
    support::plain(StatusCode::FORBIDDEN, "bad CSRF token or not signed in")
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> AxumResponse {
    let visitor = ui.sessions.visitor(&headers);
    let (csrf, set_cookie) = (visitor.csrf, visitor.cookie);
    let next = support::safe_next(query.next.as_deref()).to_owned();
    let ctx = minijinja::context! { csrf, next, failed => false };
    support::with_cookie(
        ui.pages.render(StatusCode::OK, "login.html", ctx),
        set_cookie,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: String,
}

async fn login_submit(
    State(ui): State<Ui>,
    support::Source(source): support::Source,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> AxumResponse {
    if let Err(refused) = ui.logins.check(source, "login") {
        return refused;
    }
    let Some(visitor) = ui.checked(&headers, &form.csrf) else {
        return (StatusCode::FORBIDDEN, "bad CSRF token").into_response();
    };
    let user_ok = bool::from(form.username.as_bytes().ct_eq(DEMO_USER.as_bytes()));
    let password_ok = bool::from(form.password.as_bytes().ct_eq(DEMO_PASSWORD.as_bytes()));
    if !(user_ok && password_ok) {
        let next = support::safe_next(Some(&form.next));
        let ctx = minijinja::context! { csrf => visitor.csrf, next, failed => true };
        return ui.pages.render(StatusCode::UNAUTHORIZED, "login.html", ctx);
    }
    // A new session id and CSRF token on login (no session fixation).
    let cookie = match ui.sessions.create(&headers, UserId::new(DEMO_USER), source) {
        Ok((_, cookie)) => cookie,
        Err(refused) => return refused,
    };
    support::with_cookie(
        support::see_other(support::safe_next(Some(&form.next))),
        Some(cookie),
    )
}

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    request: String,
    decision: String,
}

async fn consent_submit(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> AxumResponse {
    let Some(user) = ui.signed_in(&headers, &form.csrf) else {
        return forbidden();
    };
    let params = match Params::from_query(&form.request, ui.provider.config().limits()) {
        Ok(params) => params,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    // The request is validated again: the hidden field came back through the browser.
    let pending = match ui.provider.authorize(&params).await {
        Ok(pending) => pending,
        Err(AuthorizeError::Untrusted(error)) => {
            return ui.untrusted(error.code.as_str(), &error.description, error.status());
        }
        Err(AuthorizeError::Redirect(redirect)) => {
            return redirect.after_login(&user).into_response();
        }
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let redirect = if form.decision == "allow" {
        let scopes = pending.scopes().clone();
        pending.approve(&ui.provider, user, &scopes).await
    } else {
        pending.deny(&ui.provider)
    };
    redirect.into_response()
}

async fn apps_handler(State(ui): State<Ui>, headers: HeaderMap) -> AxumResponse {
    ui.apps_page(&headers).await
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    client_id: String,
}

async fn revoke_handler(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> AxumResponse {
    let Some(user) = ui.signed_in(&headers, &form.csrf) else {
        return forbidden();
    };
    let Ok(client) = ClientId::new(form.client_id) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if ui.provider.revoke_app(&user, &client).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    support::see_other(ui.config.apps_path)
}

/// Reads `--addr HOST:PORT` (default `127.0.0.1:0`) from the command line.
pub fn addr_from_args() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            other => {
                if let Some(value) = other.strip_prefix("--addr=") {
                    addr = value.to_owned();
                } else {
                    return Err(format!("unknown argument `{other}` (use --addr HOST:PORT)"));
                }
            }
        }
    }
    addr.parse().map_err(|e| format!("--addr {addr}: {e}"))
}

/// Binds the `--addr` from the command line; returns the listener and its `http://` issuer URL.
pub async fn bind_from_args()
-> Result<(tokio::net::TcpListener, String), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(addr_from_args()?).await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    Ok((listener, issuer))
}

/// Prints the client's credentials in the `key=value` lines the tests and the docs read.
pub fn print_client(client_id: &str, client_secret: &str, redirect_uri: &str) {
    println!("client_id={client_id}");
    println!("client_secret={client_secret}");
    println!("redirect_uri={redirect_uri}");
}

/// Prints the `listening on` line and serves `app` (with each request's peer address, its
/// `support::Source`) until SIGTERM or SIGINT; then the requests in flight get up to 10
/// seconds, and it returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
) -> Result<(), Box<dyn std::error::Error>> {
    let signal = support::shutdown_signal()?;
    println!("listening on http://{}", listener.local_addr()?);
    support::serve(listener, app, signal).await?;
    Ok(())
}
