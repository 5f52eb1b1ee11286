//! A complete OAuth 2.x provider on axum: every tessera endpoint over HTTP, a demo user (`demo`
//! / `demo`) with login and consent pages, the device flow's verification page, the user's list
//! of authorized applications, and a protected resource at `/api/me` (scope `whoami`).
//!
//! Run it with:
//!
//! ```sh
//! cargo run --release --example server -- --addr 127.0.0.1:8080
//! ```
//!
//! It prints `listening on http://127.0.0.1:8080` once it accepts connections; the issuer is
//! that URL. Flags: `--addr HOST:PORT` (port 0 picks a free one), `--issuer URL` (default:
//! `http://` and the bound address), `--database-url postgres://...|redis://...|sqlite://PATH`
//! (default: in memory), `--redis-cluster redis://HOST:PORT` (repeatable, instead of
//! `--database-url`: seed nodes of a Redis Cluster; the store's keys share one slot),
//! `--redis-prefix PREFIX` (Redis key prefix, default `tessera:example:`),
//! `--postgres-schema NAME` (PostgreSQL schema, default `tessera`),
//! `--postgres-transaction-pooling` (the `postgres://` URL is a pooler such as PgBouncer in
//! transaction mode: every statement runs in a transaction; takes no `--postgres-schema`, the
//! role's or the pooler's `search_path` decides, and the pooler must ignore the
//! `extra_float_digits` startup parameter),
//! `--access-token-ttl SECONDS` (default 3600), `--refresh-token-ttl SECONDS` (default 30
//! days), `--code-ttl SECONDS` (default 60), `--sweep-interval SECONDS` (how often expired
//! records are swept, decimals allowed, default 1; timed 50 ms past each multiple of it by
//! the wall clock) and `--sweep-batch N` (records per sweep step, default 1000; one sweep
//! repeats steps until the backlog is gone),
//! `--rate-limit PER_MINUTE` (registrations, logins and new sessions from one IP address or
//! IPv6 /64; default 2000), `--max-sessions N` (signed-in sessions at once, default 100000; a
//! new one then ends the oldest, and one source holds at most 1000 of them; anonymous visitors
//! have none), `--client-metadata-documents` (accept client ID metadata documents: a
//! `client_id` that is an https URL), `--danger-allow-loopback-client-metadata` (the same, and
//! documents may come from `http://127.0.0.1:PORT`, for tests),
//! `--resource-server URL` (repeatable: registers another resource, printing its
//! introspection client's `resource_server=URL client_id=... client_secret=...` before the
//! listening line), `--require-par` (authorization requests must be pushed to `/par` first,
//! RFC 9126). `/api/me` is the resource `ISSUER/api/me` (RFC 8707; tokens for another
//! resource are refused there), its metadata at `/.well-known/oauth-protected-resource/api/me`
//! (RFC 9728).
//! `GET /healthz` is a readiness check: 200 `ok` while the store answers (`Provider::ready`),
//! 503 with `Retry-After` while it does not (the HTTP floor of `benches/http_load.rs`, on the
//! memory store). While the store is down the protocol endpoints answer 503
//! `temporarily_unavailable` with `Retry-After` too.
//! `RUST_LOG` sets the log filter (default `info`); no secret is ever logged. SIGTERM or SIGINT
//! stops it: no new connections, the requests in flight get up to 10 seconds, then exit 0.
//!
//! The protocol endpoints are the `axum` feature's router (`tessera::axum::Routes`), mounted at
//! the metadata's URLs, with this example's authorization and device pages added to it and a
//! `BearerLayer` in front of `/api/me`. The pages, sessions, CSRF tokens and rate limits are in
//! `support/`, for other examples to reuse.

// An early `Err(Response)` is how axum handlers refuse; boxing every one would only add noise.
#![allow(clippy::result_large_err)]

pub(crate) mod support;

use std::error::Error;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use minijinja::context;
use subtle::ConstantTimeEq as _;
use tessera::axum::{BearerLayer, Routes};
use tessera::jose::{Algorithm, KeySchedule, KeySet, SigningKey};
use tessera::oidc::{ClaimsRequest, ClaimsSource, UserClaims};
use tessera::store::{Authentication, MemoryStore, Storage};
use tessera::{
    AuthorizeError, BearerError, ClientId, Config, DeviceAttempt, ExactRedirect, GrantType,
    Interaction, Lifetimes, PendingAuthorization, PendingDeviceAuthorization, PkceRequirement,
    Principal, Provider, Resource, Scope, ScopeSet, StoreError, UserId, danger::Danger,
};
use tessera::{ClientSecret, OsEntropy, SecretHash};

use support::{
    Buffered, Pages, RateLimiter, Receipt, Session, SessionLimits, Sessions, Source, Visitor,
    plain, safe_next, see_other, with_cookie,
};

/// The one user of this example.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo";

/// The scopes offered, with what the consent page says about each.
const SCOPES: &[(&str, &str)] = &[
    ("openid", "sign you in to it"),
    ("profile", "see your name and username"),
    ("email", "see your e-mail address"),
    ("whoami", "see your username"),
    (
        "offline_access",
        "keep access until you revoke it (its tokens never expire)",
    ),
];

#[derive(Debug)]
pub(crate) struct Args {
    addr: String,
    issuer: Option<String>,
    database_url: Option<String>,
    redis_prefix: String,
    /// Seed nodes of a Redis Cluster (`--redis-cluster`, repeatable).
    redis_cluster: Vec<String>,
    /// `None` unless `--postgres-schema` is given (then `tessera`).
    postgres_schema: Option<String>,
    postgres_transaction_pooling: bool,
    access_token_ttl: i64,
    refresh_token_ttl: Option<i64>,
    code_ttl: i64,
    sweep_interval: Duration,
    sweep_batch: usize,
    rate_limit: u32,
    max_sessions: usize,
    client_metadata: bool,
    loopback_client_metadata: bool,
    resource_servers: Vec<String>,
    dpop_nonce: bool,
    jwt_access_tokens: bool,
    require_par: bool,
}

impl Args {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            addr: "127.0.0.1:8080".into(),
            issuer: None,
            database_url: None,
            redis_prefix: "tessera:example:".into(),
            redis_cluster: Vec::new(),
            postgres_schema: None,
            postgres_transaction_pooling: false,
            access_token_ttl: 3600,
            refresh_token_ttl: None,
            code_ttl: 60,
            sweep_interval: Duration::from_secs(1),
            sweep_batch: 1000,
            rate_limit: 2_000,
            max_sessions: 100_000,
            client_metadata: false,
            loopback_client_metadata: false,
            resource_servers: Vec::new(),
            dpop_nonce: false,
            jwt_access_tokens: false,
            require_par: false,
        };
        let seconds = |flag: &str, value: String| -> Result<i64, String> {
            value
                .parse::<i64>()
                .ok()
                .filter(|s| (1..=10 * 365 * 86_400).contains(s))
                .ok_or_else(|| format!("{flag} takes a positive number of seconds"))
        };
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--addr" => parsed.addr = value()?,
                "--issuer" => parsed.issuer = Some(value()?),
                "--database-url" => parsed.database_url = Some(value()?),
                "--redis-prefix" => {
                    parsed.redis_prefix = value()?;
                    if parsed.redis_prefix.is_empty() {
                        return Err("--redis-prefix takes a non-empty key prefix".into());
                    }
                }
                "--redis-cluster" => {
                    let node = value()?;
                    // Only the scheme is looked at here (the client parses the rest); the
                    // value is never echoed: it may carry a password.
                    let scheme = node.split_once("://").map(|(scheme, _)| scheme);
                    if !matches!(scheme, Some("redis" | "rediss")) {
                        return Err("--redis-cluster takes a redis:// or rediss:// URL of a \
                            cluster node"
                            .into());
                    }
                    parsed.redis_cluster.push(node);
                }
                "--postgres-schema" => parsed.postgres_schema = Some(value()?),
                "--postgres-transaction-pooling" => parsed.postgres_transaction_pooling = true,
                "--access-token-ttl" => parsed.access_token_ttl = seconds(&flag, value()?)?,
                "--refresh-token-ttl" => {
                    parsed.refresh_token_ttl = Some(seconds(&flag, value()?)?);
                }
                "--code-ttl" => parsed.code_ttl = seconds(&flag, value()?)?,
                "--sweep-interval" => {
                    // Decimal seconds, from 10 ms to an hour.
                    parsed.sweep_interval = value()?
                        .parse::<f64>()
                        .ok()
                        .filter(|s| (0.01..=3600.0).contains(s))
                        .map(Duration::from_secs_f64)
                        .ok_or("--sweep-interval takes seconds from 0.01 to 3600")?;
                }
                "--sweep-batch" => {
                    parsed.sweep_batch = value()?
                        .parse()
                        .ok()
                        .filter(|n| (1..=100_000).contains(n))
                        .ok_or("--sweep-batch takes a number of records from 1 to 100000")?;
                }
                "--rate-limit" => {
                    parsed.rate_limit = value()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--rate-limit takes a positive number per minute")?;
                }
                "--max-sessions" => {
                    parsed.max_sessions = value()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--max-sessions takes a positive number")?;
                }
                "--client-metadata-documents" => parsed.client_metadata = true,
                "--danger-allow-loopback-client-metadata" => {
                    parsed.client_metadata = true;
                    parsed.loopback_client_metadata = true;
                }
                "--resource-server" => parsed.resource_servers.push(value()?),
                "--dpop-nonce" => parsed.dpop_nonce = true,
                "--access-token-format" => {
                    parsed.jwt_access_tokens = match value()?.as_str() {
                        "jwt" => true,
                        "opaque" => false,
                        _ => return Err("--access-token-format takes opaque or jwt".into()),
                    };
                }
                "--require-par" => parsed.require_par = true,
                "-h" | "--help" => {
                    return Err("usage: server [--addr HOST:PORT] [--issuer URL] \
                        [--database-url postgres://...|redis://...|sqlite://PATH] \
                        [--redis-cluster redis://HOST:PORT]... [--redis-prefix PREFIX] \
                        [--postgres-schema NAME] [--postgres-transaction-pooling] \
                        [--access-token-ttl SECONDS] [--refresh-token-ttl SECONDS] \
                        [--code-ttl SECONDS] [--sweep-interval SECONDS] [--sweep-batch N] \
                        [--rate-limit PER_MINUTE] [--max-sessions N] \
                        [--client-metadata-documents] [--danger-allow-loopback-client-metadata] \
                        [--resource-server URL]... [--dpop-nonce] [--require-par] \
                        [--access-token-format opaque|jwt]"
                        .into());
                }
                other => return Err(format!("unknown argument `{other}` (try --help)")),
            }
        }
        if !parsed.redis_cluster.is_empty() && parsed.database_url.is_some() {
            return Err(
                "--redis-cluster and --database-url each name a store: give one of them".into(),
            );
        }
        if parsed.postgres_transaction_pooling {
            let postgres = parsed.database_url.as_deref().is_some_and(|url| {
                url.starts_with("postgres://") || url.starts_with("postgresql://")
            });
            if !postgres {
                return Err(
                    "--postgres-transaction-pooling needs a postgres:// --database-url \
                     (the pooler's address)"
                        .into(),
                );
            }
            if parsed.postgres_schema.is_some() {
                return Err(
                    "--postgres-transaction-pooling does not take --postgres-schema: \
                     a pooler forwards no schema, so set the role's search_path \
                     (or the pooler's connect_query) instead"
                        .into(),
                );
            }
        }
        Ok(parsed)
    }
}

/// The storage named by `--database-url` or `--redis-cluster` (memory when there is none).
/// The URL itself is never echoed in an error: it may carry a password.
///
/// PostgreSQL tables live in the schema `--postgres-schema` (default `tessera`), created and
/// migrated at start-up; with `--postgres-transaction-pooling` (a pooler such as PgBouncer in
/// transaction mode) they live wherever the role's or the pooler's `search_path` puts them,
/// migrated through the pooler. A SQLite file (`sqlite://PATH`, or `sqlite::memory:`) is
/// created if missing and migrated; Redis keys start with `--redis-prefix` (default
/// `tessera:example:`), on one server or, with `--redis-cluster`, in one slot of a cluster.
/// (The examples always have the `postgres`, `sqlite` and `redis` features: Cargo.toml's
/// dev-dependency on tessera turns them on.)
async fn open_store(args: &Args) -> Result<Arc<dyn Storage>, String> {
    #[cfg(feature = "redis")]
    if !args.redis_cluster.is_empty() {
        let nodes: Vec<&str> = args.redis_cluster.iter().map(String::as_str).collect();
        let store = tessera::store::RedisStore::connect_cluster(&nodes)
            .await
            .map_err(|error| format!("--redis-cluster: {error}"))?
            .with_prefix(&args.redis_prefix);
        return Ok(Arc::new(store));
    }
    #[cfg(not(feature = "redis"))]
    if !args.redis_cluster.is_empty() {
        return Err("--redis-cluster: the redis adapter not compiled in".into());
    }
    let url = args.database_url.as_deref();
    let redis_prefix = args.redis_prefix.as_str();
    let scheme = url.map(|u| u.split_once("://").map_or(u, |(scheme, _)| scheme));
    let url = url.unwrap_or_default();
    let failed = |error: tessera::StoreError| format!("--database-url: {error}");
    match scheme {
        None | Some("memory") => Ok(Arc::new(MemoryStore::new())),
        #[cfg(feature = "postgres")]
        Some("postgres" | "postgresql") => {
            let store = if args.postgres_transaction_pooling {
                // No schema option: a pooler forwards none (see `with_transaction_pooling`).
                tessera::store::PgStore::connect(url)
                    .await
                    .map_err(failed)?
                    .with_transaction_pooling(true)
            } else {
                let schema = args.postgres_schema.as_deref().unwrap_or("tessera");
                tessera::store::PgStore::connect_in_schema(url, schema)
                    .await
                    .map_err(failed)?
            };
            store.migrate().await.map_err(failed)?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "sqlite")]
        Some(scheme) if scheme == "sqlite" || scheme.starts_with("sqlite:") => {
            let store = tessera::store::SqliteStore::connect(url)
                .await
                .map_err(failed)?;
            store.migrate().await.map_err(failed)?;
            Ok(Arc::new(store))
        }
        #[cfg(feature = "redis")]
        Some("redis" | "rediss") => {
            let store = tessera::store::RedisStore::connect(url)
                .await
                .map_err(failed)?
                .with_prefix(redis_prefix);
            Ok(Arc::new(store))
        }
        // Reached only in a build without the adapters' features.
        #[allow(unreachable_patterns)]
        Some(scheme @ ("postgres" | "postgresql" | "redis" | "rediss" | "sqlite")) => Err(format!(
            "--database-url: the {scheme} adapter not compiled in (build with --features postgres,redis,sqlite)"
        )),
        Some(_) => Err(
            "--database-url: unsupported scheme (use postgres://, redis:// or sqlite://)".into(),
        ),
    }
}

/// Everything a handler needs.
#[derive(Debug, Clone)]
struct App {
    provider: Provider,
    pages: Arc<Pages>,
    sessions: Sessions,
    limits: RateLimiter,
    /// The path of the advertised registration endpoint, whose POSTs are rate-limited.
    registration_path: Option<String>,
}

/// The `axum` feature's extractors (and `Principal`) find the provider here.
impl FromRef<App> for Provider {
    fn from_ref(app: &App) -> Provider {
        app.provider.clone()
    }
}

/// A random identifier: 16 bytes, hex.
fn hex_id() -> String {
    let mut bytes = [0u8; 16];
    tessera::Entropy::fill(&OsEntropy, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The scope `/api/me` requires.
fn whoami() -> ScopeSet {
    ScopeSet::from_tokens(["whoami"]).unwrap_or_default()
}

fn router(app: App) -> Router {
    // Token, revocation, introspection, metadata, registration and client configuration,
    // device authorization: at the metadata's URLs, with this example's pages at theirs.
    let oauth = Routes::new(&app.provider)
        .authorization(get(authorize))
        .device_verification(get(device_page).post(device_code_entered))
        .end_session(get(end_session))
        .into_router()
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limit_registrations,
        ));
    // Tokens for another resource are refused here; the 401 names this resource's metadata
    // (served by `Routes` at /.well-known/oauth-protected-resource/api/me).
    let me = get(me).post(me).route_layer(
        BearerLayer::new(&app.provider)
            .require(whoami())
            .for_resource(app.provider.config().endpoint_url("/api/me")),
    );
    oauth
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/login", post(login))
        .route("/consent", post(consent))
        .route("/device/consent", post(device_consent))
        .route("/apps", get(apps))
        .route("/apps/revoke", post(revoke_app))
        .route("/logout", post(logout))
        .route("/api/me", me)
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .layer(axum::middleware::from_fn(support::guard_and_log))
        .with_state(app)
}

// ---------------------------------------------------------------------------------------------
// The protocol endpoints' additions: a rate limit and the protected resource.

/// Open registration is rate-limited per source (`--rate-limit` per minute; then 429).
async fn limit_registrations(
    State(app): State<App>,
    Source(source): Source,
    request: Request,
    next: Next,
) -> Response {
    let registering = request.method() == Method::POST
        && app.registration_path.as_deref() == Some(request.uri().path());
    if registering && let Err(refused) = app.limits.check(source, "register") {
        return refused;
    }
    next.run(request).await
}

/// The protected resource: who the token acts for. The `BearerLayer` in front of it already
/// refused any request without a valid token carrying `whoami` (401 or 403, RFC 6750).
async fn me(State(app): State<App>, principal: Principal) -> Response {
    match principal.user() {
        Some(user) => Json(serde_json::json!({
            "username": user.as_str(),
            "client_id": principal.client_id().as_str(),
            "scope": principal.scopes().to_string(),
        }))
        .into_response(),
        // A client-credentials token names no user: there is no one to describe.
        None => BearerError::insufficient_scope(&whoami())
            .to_response(&app.provider)
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// The authorization endpoint and its pages.

/// GET /authorize: the request validated by tessera's extractor; then log in, then consent
/// (skipped when already granted).
async fn authorize(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    request: Result<PendingAuthorization, AuthorizeError>,
) -> Response {
    let request = match request {
        // The client or its redirect URI cannot be trusted: a 400 page, never a redirect.
        Err(AuthorizeError::Untrusted(error)) => return error.into_response(),
        request => request,
    };
    // The query re-encoded (form_urlencoded): the login's `next`, the consent form's `request`.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(url::form_urlencoded::parse(
            query.unwrap_or_default().as_bytes(),
        ))
        .finish();
    let visitor = app.sessions.visitor(&headers);
    let page = match (visitor.session.as_ref(), request) {
        // prompt=none: no page at all (OIDC Core §3.1.2.6), to the verified redirect URI.
        (None, Ok(pending)) if pending.prompt().none => pending
            .interaction_required(&app.provider, Interaction::Login)
            .into_response(),
        // Signed in first, even for an error: only then may it be redirected (RFC 9700
        // §4.11.2), so a client's redirect URI is never an open redirector. `prompt=login`
        // and a passed `max_age` sign the user in again (the login page then drops them from
        // the request it returns to: the new login satisfies both).
        (session, request)
            if session.is_none()
                || request.as_ref().is_ok_and(|pending| {
                    let auth_time = session.map(|s| s.auth_time);
                    !pending.prompt().none
                        && ((pending.prompt().login && !pending.fresh_login(auth_time))
                            || pending.needs_login(auth_time, &app.provider))
                }) =>
        {
            let client = request.as_ref().ok().map(|p| p.client().name.clone());
            app.login_page(
                &visitor.csrf,
                &format!("/authorize?{query}"),
                client.as_deref(),
                false,
            )
        }
        (Some(session), Err(refused)) => refused.after_login(&session.user).into_response(),
        (Some(session), Ok(pending)) => {
            let user = &session.user;
            let covered = !pending.prompt().consent
                && pending
                    .consent_covers(&app.provider, user)
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "consent lookup failed; asking again");
                        false
                    });
            // An id_token_hint for someone else: not this session's user to answer for.
            let other_user = pending
                .id_token_hint_user(&app.provider)
                .is_some_and(|hinted| hinted != *user);
            if pending.prompt().none
                && (other_user || pending.needs_login(Some(session.auth_time), &app.provider))
            {
                pending
                    .interaction_required(&app.provider, Interaction::Login)
                    .into_response()
            } else if covered {
                let scopes = pending.scopes().clone();
                pending
                    .approve_authenticated(
                        &app.provider,
                        user.clone(),
                        &scopes,
                        authentication(session),
                    )
                    .await
                    .into_response()
            } else if pending.prompt().none {
                pending
                    .interaction_required(&app.provider, Interaction::Consent)
                    .into_response()
            } else {
                app.consent_page(&visitor.csrf, user, &pending, &query)
            }
        }
        (None, _) => unreachable_login(),
    };
    with_cookie(page, visitor.cookie)
}

/// GET /end_session: RP-initiated logout. A checked request ends the session (if it is the
/// hinted user's) and redirects at once to the registered `post_logout_redirect_uri`.
async fn end_session(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let limits = app.provider.config().limits();
    let params = match tessera::Params::from_query(query.as_deref().unwrap_or(""), limits) {
        Ok(params) => params,
        Err(_) => return app.bad_form("the logout request could not be read"),
    };
    let ended = match app.provider.end_session(&params).await {
        Ok(ended) => ended,
        Err(untrusted) => return untrusted.into_response(),
    };
    let visitor = app.sessions.visitor(&headers);
    let cookie = match &visitor.session {
        Some(session) if ended.user.as_ref().is_none_or(|user| *user == session.user) => {
            tracing::info!(user = session.user.as_str(), "logged out by the client");
            app.sessions.destroy(session)
        }
        _ => None,
    };
    let page = match ended.redirect {
        Some(redirect) => redirect.into_response(),
        None => plain(StatusCode::OK, "You are signed out."),
    };
    with_cookie(page, cookie)
}

/// How the session's user signed in: the ID token's `auth_time` and `amr`.
fn authentication(session: &Session) -> Authentication {
    Authentication::new(session.auth_time).with_amr(vec!["pwd".into()])
}

/// The guard above sends every anonymous request to the login page; this is never reached.
fn unreachable_login() -> Response {
    plain(StatusCode::INTERNAL_SERVER_ERROR, "not signed in")
}

/// The `next` of a login that returns to `/authorize`: a fresh login satisfies `prompt=login`
/// and `max_age`, so both are dropped (else the page would ask again, forever).
fn after_fresh_login(next: &str) -> String {
    let Some(query) = next.strip_prefix("/authorize?") else {
        return next.to_owned();
    };
    let mut kept = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "max_age" => {}
            "prompt" => {
                let rest: Vec<&str> = value
                    .split(' ')
                    .filter(|v| *v != "login" && !v.is_empty())
                    .collect();
                if !rest.is_empty() {
                    kept.append_pair("prompt", &rest.join(" "));
                }
            }
            _ => {
                kept.append_pair(&name, &value);
            }
        }
    }
    format!("/authorize?{}", kept.finish())
}

/// POST /consent: the user's decision on a request shown by [`authorize`], whose query comes
/// back in the form's `request` and is validated again.
async fn consent(State(app): State<App>, request: Buffered) -> Response {
    let (form, session, user) = match app.logged_in_form(&request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let limits = app.provider.config().limits();
    let params = match tessera::Params::from_query(form.get("request").unwrap_or(""), limits) {
        Ok(params) => params,
        Err(_) => return app.bad_form("the authorization request could not be read"),
    };
    let pending = match app.provider.authorize(&params).await {
        Ok(pending) => pending,
        Err(refused) => return refused.after_login(&user).into_response(),
    };
    let redirect = match form.get("decision") {
        Some("allow") => {
            let scopes = pending.scopes().clone();
            pending
                .approve_authenticated(&app.provider, user, &scopes, authentication(&session))
                .await
        }
        Some("deny") => pending.deny(&app.provider),
        _ => return app.bad_form("decision must be allow or deny"),
    };
    redirect.into_response()
}

/// POST /login: the demo user's password check; a new session on success.
async fn login(State(app): State<App>, Source(source): Source, request: Buffered) -> Response {
    if let Err(refused) = app.limits.check(source, "login") {
        return refused;
    }
    let (form, visitor) = match app.csrf_checked_form(&request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let next = safe_next(form.get("next"));
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let good = username.as_bytes().ct_eq(DEMO_USER.as_bytes())
        & password.as_bytes().ct_eq(DEMO_PASSWORD.as_bytes());
    if !bool::from(good) {
        tracing::info!("login failed");
        let mut page = app.login_page(&visitor.csrf, next, None, true);
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let headers = request.0.headers();
    let cookie = match app.sessions.create(headers, UserId::new(DEMO_USER), source) {
        Ok((_, cookie)) => cookie,
        Err(refused) => return refused,
    };
    tracing::info!(user = DEMO_USER, "logged in");
    with_cookie(see_other(&after_fresh_login(next)), Some(cookie))
}

/// POST /logout.
async fn logout(State(app): State<App>, request: Buffered) -> Response {
    match app.csrf_checked_form(&request) {
        Ok((
            _,
            Visitor {
                session: Some(session),
                ..
            },
        )) => with_cookie(see_other("/"), app.sessions.destroy(&session)),
        Ok(_) => see_other("/"),
        Err(refused) => refused,
    }
}

/// Readiness: 200 `ok` while the store answers, 503 with `Retry-After` while it does not.
async fn healthz(State(app): State<App>) -> Response {
    match app.provider.ready().await {
        Ok(()) => "ok".into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the store does not answer");
            let wait = tessera::OAuthError::UNAVAILABLE_RETRY_AFTER.to_string();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, wait)],
                "store unavailable",
            )
                .into_response()
        }
    }
}

async fn index(State(app): State<App>) -> Response {
    let issuer = app.provider.config().issuer();
    app.pages
        .render(StatusCode::OK, "index.html", context! { issuer => issuer })
}

// ---------------------------------------------------------------------------------------------
// The device flow's verification page (RFC 8628 §3.3).

/// The receipt cookie of a code entered on the verification form before signing in.
const DEVICE_RECEIPT: Receipt = Receipt {
    cookie: "tessera_device_code",
    path: "/device",
    ttl: Duration::from_secs(10 * 60),
};

/// GET /device: the code form, filled in from `?user_code=` (the `verification_uri_complete`)
/// for the user to check against the device and send. A link never leads to the consent page
/// (RFC 8628 §5.4, remote phishing): only a code sent through the form does, at once when
/// signed in, or here after the login it led to (the browser then holds its receipt).
async fn device_page(
    State(app): State<App>,
    Source(source): Source,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let visitor = app.sessions.visitor(&headers);
    let limits = app.provider.config().limits();
    let params = tessera::Params::from_query(query.as_deref().unwrap_or(""), limits);
    let code = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("user_code"))
        .unwrap_or("")
        .to_owned();
    let page = match &visitor.session {
        Some(session)
            if !code.is_empty() && app.sessions.has_receipt(&headers, &DEVICE_RECEIPT, &code) =>
        {
            app.device_consent_page(session, source, &code).await
        }
        _ => app.device_form(&visitor.csrf, &code, None),
    };
    with_cookie(page, visitor.cookie)
}

/// POST /device: a code was entered. Signed in, it is checked and the consent page shown;
/// otherwise the login page, which continues to [`device_page`] with the code and its receipt.
/// Codes are only ever checked for a signed-in user, so guesses count against that user and
/// the request's source, however many sessions they come from.
async fn device_code_entered(
    State(app): State<App>,
    Source(source): Source,
    request: Buffered,
) -> Response {
    let (form, visitor) = match app.csrf_checked_form(&request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let code = form.get("user_code").unwrap_or("");
    match &visitor.session {
        Some(session) => app.device_consent_page(session, source, code).await,
        None => {
            let next = format!("/device?{}", query_of(&[("user_code", code)]));
            let page = app.login_page(&visitor.csrf, &next, None, false);
            with_cookie(page, app.sessions.receipt(&DEVICE_RECEIPT, code))
        }
    }
}

/// POST /device/consent: the user's decision on a device.
async fn device_consent(
    State(app): State<App>,
    Source(source): Source,
    request: Buffered,
) -> Response {
    let (form, session, user) = match app.logged_in_form(&request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let code = form.get("user_code").unwrap_or("");
    let pending = match app.device_verification(code, &user, source).await {
        Ok(pending) => pending,
        Err(error) => {
            let text = error.description.unwrap_or_default();
            return app.device_form(&session.csrf, code, Some(&text));
        }
    };
    let (decided, title, text) = match form.get("decision") {
        Some("allow") => {
            let scopes = pending.scopes().clone();
            (
                pending.approve(&app.provider, user, &scopes).await,
                "Device connected",
                "You can return to your device.",
            )
        }
        Some("deny") => (
            pending.deny(&app.provider).await,
            "Request denied",
            "The device was not given access.",
        ),
        _ => return app.bad_form("decision must be allow or deny"),
    };
    match decided {
        Ok(true) => app.pages.render(
            StatusCode::OK,
            "message.html",
            context! { title => title, text => text },
        ),
        Ok(false) => app.device_form(&session.csrf, "", Some("That code was already used.")),
        Err(error) => {
            tracing::error!(%error, "device decision failed");
            app.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again",
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The user's authorized applications.

async fn apps(State(app): State<App>, headers: HeaderMap) -> Response {
    let visitor = app.sessions.visitor(&headers);
    let page = match visitor.user() {
        None => app.login_page(&visitor.csrf, "/apps", None, false),
        Some(user) => match app.provider.authorized_apps(user).await {
            Ok(list) => {
                let list: Vec<_> = list
                    .iter()
                    .map(|a| {
                        context! {
                            client_id => a.client_id.as_str(),
                            name => a.name,
                            scopes => a.scopes.to_string(),
                            granted_at => a.granted_at.date().to_string(),
                            last_used_at => a.last_used_at.date().to_string(),
                        }
                    })
                    .collect();
                app.pages.render(
                    StatusCode::OK,
                    "apps.html",
                    context! { user => user.as_str(), csrf => visitor.csrf, apps => list },
                )
            }
            Err(error) => {
                tracing::error!(%error, "authorized apps lookup failed");
                app.pages.error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "try again",
                )
            }
        },
    };
    with_cookie(page, visitor.cookie)
}

async fn revoke_app(State(app): State<App>, request: Buffered) -> Response {
    let (form, _session, user) = match app.logged_in_form(&request) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(client) = form.get("client_id").and_then(|id| ClientId::new(id).ok()) else {
        return app.bad_form("missing client_id");
    };
    match app.provider.revoke_app(&user, &client).await {
        Ok(_) => see_other("/apps"),
        Err(error) => {
            tracing::error!(%error, "revoking an application failed");
            app.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "try again",
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the handlers above.

impl App {
    /// The POSTed form, refused (403) unless it carries the CSRF token of the session or of the
    /// anonymous visitor.
    fn csrf_checked_form(
        &self,
        request: &Buffered,
    ) -> Result<(tessera::Params, Visitor), Response> {
        let form = tessera::Params::from_form(request.body(), self.provider.config().limits())
            .map_err(|_| self.bad_form("the form could not be read"))?;
        match self.sessions.check(request.0.headers(), form.get("csrf")) {
            Some(visitor) => Ok((form, visitor)),
            None => {
                tracing::warn!("form refused: missing or wrong CSRF token");
                Err(self.pages.error(
                    StatusCode::FORBIDDEN,
                    "invalid_request",
                    "This form has expired or did not come from this site. Go back and try again.",
                ))
            }
        }
    }

    /// As [`App::csrf_checked_form`], and the session must be logged in.
    fn logged_in_form(
        &self,
        request: &Buffered,
    ) -> Result<(tessera::Params, Session, UserId), Response> {
        let (form, visitor) = self.csrf_checked_form(request)?;
        match visitor.session {
            Some(session) => {
                let user = session.user.clone();
                Ok((form, session, user))
            }
            None => {
                Err(self
                    .pages
                    .error(StatusCode::FORBIDDEN, "login_required", "Sign in first."))
            }
        }
    }

    fn bad_form(&self, text: &str) -> Response {
        self.pages
            .error(StatusCode::BAD_REQUEST, "invalid_request", text)
    }

    fn login_page(
        &self,
        csrf: &str,
        next: &str,
        client_name: Option<&str>,
        failed: bool,
    ) -> Response {
        self.pages.render(
            StatusCode::OK,
            "login.html",
            context! { csrf => csrf, next => next, client_name => client_name, failed => failed },
        )
    }

    fn consent_page(
        &self,
        csrf: &str,
        user: &UserId,
        pending: &PendingAuthorization,
        query: &str,
    ) -> Response {
        let client = pending.client();
        self.pages.render(
            StatusCode::OK,
            "consent.html",
            context! {
                csrf => csrf,
                user => user.as_str(),
                client_name => client.name,
                homepage => client.homepage,
                redirect_host => pending.redirect_uri().authority(),
                document_host => pending.metadata_document_host(),
                scopes => scope_list(pending.scopes()),
                action => "/consent",
                hidden => vec![("request", query)],
            },
        )
    }

    fn device_form(&self, csrf: &str, code: &str, error: Option<&str>) -> Response {
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        self.pages.render(
            status,
            "device.html",
            context! { csrf => csrf, user_code => code, error => error },
        )
    }

    /// Resolves a user code typed by `user`, signed in, from `source`: wrong codes are limited
    /// per user, per source and in all (RFC 8628 §5.1), so new sessions buy no new guesses.
    async fn device_verification(
        &self,
        code: &str,
        user: &UserId,
        source: IpAddr,
    ) -> Result<PendingDeviceAuthorization, tessera::OAuthError> {
        let source = source.to_string();
        let attempt = DeviceAttempt::new(user).from_source(&source);
        self.provider.device_verification(code, &attempt).await
    }

    /// The consent page for a user code the signed-in user typed, with the warning against
    /// remote phishing (RFC 8628 §5.4); the code form again if the code is wrong.
    async fn device_consent_page(&self, session: &Session, source: IpAddr, code: &str) -> Response {
        match self.device_verification(code, &session.user, source).await {
            Ok(pending) => self.pages.render(
                StatusCode::OK,
                "consent.html",
                context! {
                    csrf => session.csrf,
                    user => session.user.as_str(),
                    client_name => pending.client().name,
                    homepage => pending.client().homepage,
                    scopes => scope_list(pending.scopes()),
                    user_code => code,
                    action => "/device/consent",
                    hidden => vec![("user_code", code)],
                },
            ),
            Err(error) => {
                let text = error.description.unwrap_or_default();
                self.device_form(&session.csrf, code, Some(&text))
            }
        }
    }
}

/// The consent page's lines for `scopes`.
fn scope_list(scopes: &ScopeSet) -> Vec<minijinja::Value> {
    scopes
        .iter()
        .map(|scope| {
            let text = SCOPES
                .iter()
                .find(|(name, _)| *name == scope.as_str())
                .map_or("", |(_, text)| *text);
            context! { name => scope.as_str(), text => text }
        })
        .collect()
}

fn query_of(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The demo user's claims (OpenID Connect): its `sub` is the username, stable across logins.
#[derive(Debug)]
struct DemoClaims;

#[tessera::async_trait]
impl ClaimsSource for DemoClaims {
    async fn claims(&self, request: &ClaimsRequest<'_>) -> Result<Option<UserClaims>, StoreError> {
        Ok((request.user.as_str() == DEMO_USER).then(|| {
            UserClaims::new()
                .with_string("preferred_username", DEMO_USER)
                .with_string("name", "Demo User")
                .with_string("email", "demo@example.com")
                .with_bool("email_verified", true)
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up.

/// What an example built on this one adds (examples/mcp_server.rs): resources of its own at
/// these paths of the issuer, in the default audience like `/api/me`, and a function of the
/// provider and this server's router returning the router to serve.
#[derive(Default)]
pub(crate) struct Extension {
    pub(crate) resource_paths: Vec<&'static str>,
    pub(crate) wrap: Option<fn(&Provider, Router) -> Router>,
}

async fn run(args: Args) -> Result<(), Box<dyn Error>> {
    run_with(args, Extension::default()).await
}

pub(crate) async fn run_with(args: Args, extension: Extension) -> Result<(), Box<dyn Error>> {
    let store = open_store(&args).await?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    let local = listener.local_addr()?;
    let issuer = args.issuer.unwrap_or_else(|| format!("http://{local}"));

    let scopes = ScopeSet::from_tokens(SCOPES.iter().map(|(name, _)| *name))?;
    let mut danger = Danger::new()
        // The contract: anyone may register a client (rate-limited per address here).
        .open_registration()
        // The contract: `/api/me?access_token=` works.
        .bearer_in_query()
        // `offline_access` tokens never expire: users revoke them on the /apps page.
        .never_expire_with_scope(Scope::new("offline_access")?);
    if args.loopback_client_metadata {
        // Tests serve client ID metadata documents from 127.0.0.1.
        danger = danger.allow_loopback_client_metadata();
    }
    // The provider's own resource, in the audience of tokens requested without `resource`,
    // and each `--resource-server` with a client that may introspect its tokens.
    let mut resources = vec![Resource::new(format!("{issuer}/api/me")).included_by_default()];
    for path in &extension.resource_paths {
        resources.push(Resource::new(format!("{issuer}{path}")).included_by_default());
    }
    let mut announced = Vec::new();
    for url in &args.resource_servers {
        let id = ClientId::new(format!("rs_{}", hex_id()))?;
        let secret = ClientSecret::generate(&OsEntropy);
        let client = tessera::Client::new(
            id.clone(),
            format!("resource server {url}"),
            tessera::ClientType::Confidential,
            time::OffsetDateTime::now_utc(),
        )
        .with_grant_types(Vec::new())
        .with_secret(SecretHash::slow(&secret, &OsEntropy));
        store.insert_client(&client).await?;
        resources.push(Resource::new(url.as_str()).introspected_by(id.clone()));
        announced.push(format!(
            "resource_server={url} client_id={id} client_secret={}",
            secret.secret()
        ));
    }
    let mut config = Config::builder(issuer.as_str());
    for resource in resources {
        config = config.resource(resource);
    }
    let config = config
        .scopes(scopes)
        .grant_types(GrantType::ALL)
        // PKCE is required of public clients and enforced for anyone who sends a challenge.
        .pkce(PkceRequirement::PublicClients)
        .lifetimes({
            let lifetimes = Lifetimes::default()
                .with_code(time::Duration::seconds(args.code_ttl))
                .with_access_token(time::Duration::seconds(args.access_token_ttl));
            match args.refresh_token_ttl {
                Some(ttl) => lifetimes.with_refresh_token(time::Duration::seconds(ttl)),
                None => lifetimes,
            }
        })
        .danger(danger)
        // `--access-token-format jwt`: RFC 9068 access tokens, verifiable with jwks_uri.
        .access_token_format(if args.jwt_access_tokens {
            tessera::AccessTokenFormat::Jwt
        } else {
            tessera::AccessTokenFormat::Opaque
        })
        // `--require-par`: authorization requests must be pushed first (RFC 9126).
        .require_pushed_authorization_requests(args.require_par)
        .build()?;
    // OpenID Connect: keys generated at start (so ID tokens do not survive a restart; a real
    // provider loads the same keys into every instance), an RS256 and an ES256 one.
    // A retired key stays published as long as the longest token it signs may live.
    let keys = KeySet::builder(time::Duration::seconds(args.access_token_ttl.max(3600)))
        .key(
            SigningKey::generate(Algorithm::Rs256)?,
            KeySchedule::always(),
        )
        .key(
            SigningKey::generate(Algorithm::Es256)?,
            KeySchedule::always(),
        )
        .build()?;
    let mut dpop = tessera::dpop::DpopPolicy::new();
    if args.dpop_nonce {
        // `--dpop-nonce`: proofs must carry a server nonce (RFC 9449 §8, §9). Several
        // instances would share this secret; one process makes its own.
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
        dpop = dpop.with_nonces(&secret)?;
    }
    let mut provider = Provider::builder(config, store)
        .redirect_policy(Arc::new(ExactRedirect::requiring_redirect_uri()))
        .dpop(dpop)
        .signing_keys(keys)
        .claims_source(Arc::new(DemoClaims));
    if args.client_metadata {
        // Client ID metadata documents, fetched with the SSRF-guarded default fetcher (at
        // most 64 KiB, within 5 s, no redirects).
        let fetcher = tessera::cimd::HttpMetadataFetcher::new()?;
        provider = provider.client_metadata_documents(tessera::cimd::ClientMetadataDocuments::new(
            Arc::new(fetcher),
        ));
    }
    let provider = provider.build();
    let registration_path = provider
        .config()
        .endpoints()
        .registration
        .as_deref()
        .and_then(|path| url::Url::parse(&provider.config().endpoint_url(path)).ok())
        .map(|url| url.path().to_owned());

    let app = App {
        provider: provider.clone(),
        registration_path,
        pages: Arc::new(Pages::new()?),
        sessions: Sessions::new(SessionLimits::new(
            args.max_sessions,
            args.rate_limit,
            issuer.starts_with("https:"),
        )),
        // Generous enough for a test suite registering and logging in hundreds of times.
        limits: RateLimiter::new(args.rate_limit, Duration::from_secs(60)),
    };

    let served = router(app);
    let served = match extension.wrap {
        Some(wrap) => wrap(&provider, served),
        None => served,
    };

    tokio::spawn(sweeper(provider, args.sweep_interval, args.sweep_batch));

    // Installed before the first connection is accepted: SIGTERM or SIGINT then stops the
    // server gracefully, never at once.
    let signal = support::shutdown_signal()?;
    tracing::info!(%issuer, "starting");
    for line in announced {
        println!("{line}");
    }
    println!("listening on {issuer}");
    support::serve(listener, served, signal).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Removes expired codes, tokens, device authorizations and one-time values every `interval`
/// (`--sweep-interval`, default 1 s), in batches of `batch` (`--sweep-batch`, default 1000)
/// until a batch comes back short: one call drains the backlog it finds (up to
/// `Provider::MAX_SWEEP_BATCHES` batches per kind, a million records with the defaults).
///
/// Stored times are whole seconds, so records expire a whole second's worth at a time, on the
/// second. The sweeps are therefore timed by the wall clock, 50 ms after each multiple of
/// `interval` (each second, with the default): each second's expired records go within about
/// 50 ms of expiring, and expired records never number more than one interval's issuance. A
/// sweep that overruns its slot delays the next one rather than bunching them.
async fn sweeper(provider: Provider, interval: Duration, batch: usize) {
    const OFFSET: Duration = Duration::from_millis(50);
    loop {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let period = interval.as_nanos().max(1);
        let phase = (since_epoch.saturating_sub(OFFSET).as_nanos() % period) as u64;
        let wait = Duration::from_nanos(period as u64 - phase);
        tokio::time::sleep(wait).await;
        match provider.sweep(batch).await {
            Ok(removed) => tracing::debug!(removed, "swept"),
            Err(error) => tracing::warn!(%error, "sweep failed"),
        }
    }
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
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
