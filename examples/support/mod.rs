//! Glue between axum and tessera that any example server can reuse: request and response
//! conversion, browser sessions, CSRF tokens, HTML pages, request-size guards, rate limits and
//! request logging. Nothing here knows about OAuth; `server.rs` holds the endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq as _;
use tessera::{BearerRequest, Entropy as _, FormRequest, OsEntropy, TokenHash, UserId};

/// The largest request body read (form and JSON endpoints): larger ones get 413.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The longest request target (path and query): longer ones get 414.
pub(crate) const MAX_URI: usize = 8 * 1024;
/// The most header bytes (names and values): more get 431.
pub(crate) const MAX_HEADERS: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Requests and responses

/// A request read whole (body bounded by [`MAX_BODY`]), from which tessera's request values are
/// built with the `http` bridge.
#[derive(Debug)]
pub(crate) struct Buffered(pub(crate) axum::http::Request<Bytes>);

impl<S: Send + Sync> FromRequest<S> for Buffered {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        // A declared length over the limit is refused at once, without waiting for the body.
        let declared = header_str(request.headers(), header::CONTENT_LENGTH)
            .and_then(|length| length.parse::<u64>().ok());
        if declared.is_some_and(|length| length > MAX_BODY as u64) {
            return Err(too_large());
        }
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| too_large())?;
        Ok(Self(axum::http::Request::from_parts(parts, bytes)))
    }
}

impl Buffered {
    /// The token/revocation/introspection/device endpoint request.
    pub(crate) fn form(&self) -> FormRequest {
        FormRequest::from_http(&self.0)
    }

    /// The resource request's token locations.
    pub(crate) fn bearer(&self) -> BearerRequest<'_> {
        BearerRequest::from_http(&self.0)
    }

    /// The `Authorization` header.
    pub(crate) fn authorization(&self) -> Option<&str> {
        header_str(self.0.headers(), header::AUTHORIZATION)
    }

    /// The body.
    pub(crate) fn body(&self) -> &[u8] {
        self.0.body()
    }
}

/// Sends a tessera response through axum.
pub(crate) fn send(response: tessera::Response) -> Response {
    axum::http::Response::<Vec<u8>>::from(response).map(Body::from)
}

/// A plain-text response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], text).into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------------------------
// Pages

/// HTML templates, auto-escaped (every name ends in `.html`).
#[derive(Debug)]
pub(crate) struct Pages {
    env: minijinja::Environment<'static>,
}

impl Pages {
    /// The templates in `examples/support/templates`.
    pub(crate) fn new() -> Result<Self, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("error.html", include_str!("templates/error.html")),
            ("login.html", include_str!("templates/login.html")),
            ("consent.html", include_str!("templates/consent.html")),
            ("device.html", include_str!("templates/device.html")),
            ("message.html", include_str!("templates/message.html")),
            ("apps.html", include_str!("templates/apps.html")),
            ("index.html", include_str!("templates/index.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Renders `name` with `context` as a page that no one may frame or cache.
    pub(crate) fn render(
        &self,
        status: StatusCode,
        name: &str,
        context: minijinja::Value,
    ) -> Response {
        let body = self.env.get_template(name).and_then(|t| t.render(context));
        page(status, name, body)
    }

    /// An error page naming `code`.
    pub(crate) fn error(&self, status: StatusCode, code: &str, description: &str) -> Response {
        self.render(
            status,
            "error.html",
            minijinja::context! { code => code, description => description },
        )
    }
}

/// A rendered page (of template `name`) that no one may frame or cache, or a 500 if rendering
/// failed.
pub(crate) fn page(
    status: StatusCode,
    name: &str,
    rendered: Result<String, minijinja::Error>,
) -> Response {
    match rendered {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
                (header::REFERRER_POLICY, "no-referrer"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(template = name, %error, "template failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "page failed to render")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions and CSRF

const COOKIE: &str = "tessera_session";

/// A browser session: who is logged in and the anti-CSRF token its forms carry.
#[derive(Clone)]
pub(crate) struct Session {
    id: String,
    /// The token every form of this session must send back in `csrf`.
    pub(crate) csrf: String,
    /// The logged-in user.
    pub(crate) user: Option<UserId>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub(crate) fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.csrf.as_bytes())))
    }

    /// A key for per-session counters (the device code guess limiter): the SHA-256 of the
    /// session ID, never the ID itself. Device codes are only checked for logged-in sessions,
    /// and logins are rate limited, so a new session per guess is no way around the limiter.
    pub(crate) fn attempt_key(&self) -> String {
        TokenHash::of(&self.id).to_hex()
    }
}

struct Stored {
    csrf: String,
    user: Option<UserId>,
    expires: Instant,
}

/// Server-side sessions, keyed by the SHA-256 of the random session ID in the cookie.
#[derive(Clone)]
pub(crate) struct Sessions {
    inner: Arc<Mutex<HashMap<TokenHash, Stored>>>,
    ttl: Duration,
    max: usize,
    secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish()
    }
}

fn random_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    OsEntropy.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// Sessions that live `ttl` from their last use; at most `max` at once. `secure` marks the
    /// cookie `Secure` (set it when the issuer is `https`).
    pub(crate) fn new(ttl: Duration, max: usize, secure: bool) -> Self {
        Self {
            inner: Arc::default(),
            ttl,
            max,
            secure,
        }
    }

    /// The session named by the request's cookie, if it exists and is live.
    pub(crate) fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.inner.lock().ok()?;
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                if cookie.name() != COOKIE {
                    continue;
                }
                let key = TokenHash::of(cookie.value());
                if let Some(stored) = map.get_mut(&key)
                    && stored.expires > now
                {
                    stored.expires = now + self.ttl;
                    return Some(Session {
                        id: cookie.value().to_owned(),
                        csrf: stored.csrf.clone(),
                        user: stored.user.clone(),
                    });
                }
            }
        }
        None
    }

    /// The request's session, or a new anonymous one with the `Set-Cookie` header to send.
    /// `None` when the table is full (the caller answers 429).
    pub(crate) fn get_or_create(
        &self,
        headers: &HeaderMap,
    ) -> Option<(Session, Option<HeaderValue>)> {
        match self.get(headers) {
            Some(session) => Some((session, None)),
            None => self.create(None),
        }
    }

    /// A new session for `user` (a login replaces the session, against fixation), with the
    /// `Set-Cookie` header to send.
    pub(crate) fn create(&self, user: Option<UserId>) -> Option<(Session, Option<HeaderValue>)> {
        let now = Instant::now();
        let mut map = self.inner.lock().ok()?;
        if map.len() >= self.max {
            map.retain(|_, s| s.expires > now);
            if map.len() >= self.max {
                return None;
            }
        }
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            user,
        };
        map.insert(
            TokenHash::of(&session.id),
            Stored {
                csrf: session.csrf.clone(),
                user: session.user.clone(),
                expires: now + self.ttl,
            },
        );
        let cookie = Cookie::build((COOKIE, session.id.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .build();
        let header = HeaderValue::from_str(&cookie.to_string()).ok();
        Some((session, header))
    }

    /// Ends `session`, returning the header that clears the cookie.
    pub(crate) fn destroy(&self, session: &Session) -> Option<HeaderValue> {
        if let Ok(mut map) = self.inner.lock() {
            map.remove(&TokenHash::of(&session.id));
        }
        let cookie = Cookie::build((COOKIE, ""))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::ZERO)
            .build();
        HeaderValue::from_str(&cookie.to_string()).ok()
    }
}

/// Adds a `Set-Cookie` header, if any, to a response.
pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A `303 See Other` to a path on this server.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, value)],
            Body::empty(),
        )
            .into_response(),
        Err(_) => plain(StatusCode::BAD_REQUEST, "bad location"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limits

/// When a key's window started and how many requests it has counted.
type Window = (Instant, u32);

/// A fixed-window counter per key (an IP address and a bucket name).
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    inner: Arc<Mutex<HashMap<(IpAddr, &'static str), Window>>>,
    limit: u32,
    window: Duration,
}

impl RateLimiter {
    /// At most `limit` requests per `window` for each key.
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            inner: Arc::default(),
            limit,
            window,
        }
    }

    /// Counts one request; `Err(429 with Retry-After)` once the key is over its limit.
    pub(crate) fn check(&self, ip: IpAddr, bucket: &'static str) -> Result<(), Response> {
        let now = Instant::now();
        let Ok(mut map) = self.inner.lock() else {
            return Ok(());
        };
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = map.entry((ip, bucket)).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= self.limit {
            return Ok(());
        }
        let retry = self
            .window
            .saturating_sub(now.duration_since(entry.0))
            .as_secs()
            .max(1);
        tracing::warn!(%ip, bucket, "rate limited");
        Err((
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::RETRY_AFTER, retry.to_string()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            "too many requests; try again later",
        )
            .into_response())
    }
}

// ---------------------------------------------------------------------------------------------
// Middleware

/// Refuses an oversized request target (414) or header block (431) before any handler runs,
/// and logs every request by method, path and status: never the query string, headers or body,
/// which carry codes, tokens and passwords.
pub(crate) async fn guard_and_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();
    let uri_len = request.uri().to_string().len();
    let header_len: usize = request
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    let response = if uri_len > MAX_URI {
        plain(StatusCode::URI_TOO_LONG, "request target too long")
    } else if header_len > MAX_HEADERS {
        plain(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large",
        )
    } else {
        next.run(request).await
    };
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
