//! What any example server needs around tessera that tessera does not do: the host's page
//! forms read whole, request sources, browser sessions (bounded, for signed-in users only),
//! CSRF tokens (signed, stateless for anonymous visitors), the check of a login's `next`, HTML
//! pages, request-size guards, rate limits and request logging. Nothing here knows about
//! OAuth: the protocol endpoints, their bodies and responses are the `axum` feature's
//! (`tessera::axum`), and `server.rs` holds the pages.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use tessera::{Entropy as _, OsEntropy, TokenHash, UserId};

/// The largest page form read (login, consent, device and other host forms): larger ones get
/// 413. (The protocol endpoints read theirs up to the provider's `Limits::max_bytes`.)
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The longest request target (path and query): longer ones get 414.
pub(crate) const MAX_URI: usize = 8 * 1024;
/// The most header bytes (names and values): more get 431.
pub(crate) const MAX_HEADERS: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// Requests and responses

/// A page form's request read whole (body bounded by [`MAX_BODY`]): its headers (the session
/// cookie) and its body (the form).
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
    /// The body.
    pub(crate) fn body(&self) -> &[u8] {
        self.0.body()
    }
}

/// A plain-text response.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], text).into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Where a request came from, for rate limits, session quotas and guess budgets: the peer's
/// IPv4 address, or the /64 prefix of its IPv6 address (one host usually holds a whole /64).
/// A router served without connect info (`into_make_service_with_connect_info`) puts every
/// request in one source, `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(pub(crate) IpAddr);

/// The [`Source`] of a peer address.
pub(crate) fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |peer| peer.0.ip());
        Ok(Self(source_of(ip)))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
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
/// The anonymous visitor's CSRF cookie: a random nonce, never stored on the server.
const CSRF_COOKIE: &str = "tessera_csrf";

/// A signed-in browser session.
#[derive(Clone)]
pub(crate) struct Session {
    id: String,
    /// The token every form of this session must send back in `csrf`.
    pub(crate) csrf: String,
    /// The signed-in user.
    pub(crate) user: UserId,
    /// When the user signed in (OpenID Connect's `auth_time`).
    pub(crate) auth_time: time::OffsetDateTime,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Whoever is at the browser: a signed-in [`Session`], or an anonymous visitor, of whom the
/// server keeps nothing.
#[derive(Debug)]
pub(crate) struct Visitor {
    /// The session, when signed in.
    pub(crate) session: Option<Session>,
    /// The CSRF token for the page's forms: the session's, or for an anonymous visitor one
    /// derived from the nonce in its `tessera_csrf` cookie (a signed double-submit token).
    pub(crate) csrf: String,
    /// The `Set-Cookie` header that gives a new anonymous visitor its CSRF cookie.
    pub(crate) cookie: Option<HeaderValue>,
}

impl Visitor {
    /// The signed-in user.
    pub(crate) fn user(&self) -> Option<&UserId> {
        self.session.as_ref().map(|s| &s.user)
    }
}

/// A signed cookie saying that this browser sent a value through one of the site's forms
/// (CSRF-checked) lately: a page reached later by a plain GET can tell a value the user entered
/// from one a link carries. The cookie holds the time and a MAC, never the value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Receipt {
    /// The cookie's name.
    pub(crate) cookie: &'static str,
    /// The cookie's path: the pages that read it.
    pub(crate) path: &'static str,
    /// How long it is good for.
    pub(crate) ttl: Duration,
}

/// How many sessions live, how long, and how fast one source may start them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    /// A session ends this long after its last use.
    pub(crate) ttl: Duration,
    /// The most sessions at once: a new one then ends the oldest.
    pub(crate) max: usize,
    /// The most sessions of one source (see [`source_of`]): a new one then ends that source's
    /// oldest, so one source cannot push everyone else's sessions out.
    pub(crate) per_source: usize,
    /// The most sessions one source may start per minute; then 429.
    pub(crate) per_minute: u32,
    /// Mark the cookies `Secure` (set it when the issuer is `https`).
    pub(crate) secure: bool,
}

impl SessionLimits {
    /// 12 hours from last use, at most `max` sessions and 1 000 per source, `per_minute` new
    /// ones per source.
    pub(crate) fn new(max: usize, per_minute: u32, secure: bool) -> Self {
        Self {
            ttl: Duration::from_secs(12 * 3600),
            max: max.max(1),
            per_source: max.clamp(1, 1_000),
            per_minute,
            secure,
        }
    }
}

struct Stored {
    csrf: String,
    user: UserId,
    auth_time: time::OffsetDateTime,
    expires: Instant,
    source: IpAddr,
    /// The order of creation.
    seq: u64,
}

/// The live sessions, keyed by the SHA-256 of their ID, and indexes of their order of creation,
/// overall and per source.
#[derive(Default)]
struct Table {
    live: HashMap<TokenHash, Stored>,
    order: BTreeMap<u64, TokenHash>,
    by_source: HashMap<IpAddr, BTreeSet<u64>>,
    next_seq: u64,
    swept: Option<Instant>,
}

impl Table {
    fn remove(&mut self, key: &TokenHash) {
        let Some(stored) = self.live.remove(key) else {
            return;
        };
        self.order.remove(&stored.seq);
        if let Some(seqs) = self.by_source.get_mut(&stored.source) {
            seqs.remove(&stored.seq);
            if seqs.is_empty() {
                self.by_source.remove(&stored.source);
            }
        }
    }

    fn remove_seq(&mut self, seq: Option<u64>) {
        if let Some(key) = seq.and_then(|seq| self.order.get(&seq).copied()) {
            self.remove(&key);
        }
    }

    /// Makes room for one more session of `source`: ends its oldest when it has its share,
    /// then, when the table is full, the expired ones (at most once a minute) or else the
    /// oldest of all.
    fn make_room(&mut self, source: IpAddr, limits: &SessionLimits, now: Instant) {
        if let Some(seqs) = self.by_source.get(&source)
            && seqs.len() >= limits.per_source
        {
            let oldest = seqs.first().copied();
            self.remove_seq(oldest);
        }
        if self.live.len() < limits.max {
            return;
        }
        if self
            .swept
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60))
        {
            self.swept = Some(now);
            let expired: Vec<TokenHash> = self
                .live
                .iter()
                .filter(|(_, s)| s.expires <= now)
                .map(|(key, _)| *key)
                .collect();
            for key in &expired {
                self.remove(key);
            }
        }
        while self.live.len() >= limits.max {
            let oldest = self.order.keys().next().copied();
            if oldest.is_none() {
                break;
            }
            self.remove_seq(oldest);
        }
    }
}

/// Server-side sessions of signed-in users, keyed by the SHA-256 of the random session ID in
/// the cookie; anonymous visitors get none (their CSRF tokens are signed, see [`Visitor`]).
/// The table is bounded: see [`SessionLimits`].
#[derive(Clone)]
pub(crate) struct Sessions {
    inner: Arc<Mutex<Table>>,
    limits: SessionLimits,
    starts: RateLimiter,
    /// The key of the CSRF tokens and signed cookies; random per process.
    key: Arc<Hmac<Sha256>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsEntropy.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The values of the cookies named `name` in the request (a browser may send several, set
/// for different paths), in the order sent.
fn cookie_values<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = String> + 'h {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| Cookie::split_parse(text).flatten())
        .filter(move |cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// The value of the first cookie named `name` in the request, if any.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_values(headers, name).next()
}

/// Whole seconds since the Unix epoch (0 if the clock is before it).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    /// Sessions within `limits`.
    pub(crate) fn new(limits: SessionLimits) -> Self {
        let mut key = hmac::digest::Key::<Hmac<Sha256>>::default();
        OsEntropy.fill(&mut key);
        Self {
            inner: Arc::default(),
            limits,
            starts: RateLimiter::new(limits.per_minute, Duration::from_secs(60)),
            key: Arc::new(<Hmac<Sha256> as hmac::digest::KeyInit>::new(&key)),
        }
    }

    /// A MAC of `parts` (each length-prefixed) for `purpose`, base64url.
    fn sign(&self, purpose: &str, parts: &[&[u8]]) -> String {
        let mut mac = (*self.key).clone();
        for part in std::iter::once(purpose.as_bytes()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn cookie(&self, name: &'static str, value: String, path: &'static str) -> Cookie<'static> {
        Cookie::build((name, value))
            .path(path)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.limits.secure)
            .build()
    }

    /// The signed-in session named by the request's cookie, if it exists and is live.
    pub(crate) fn get(&self, headers: &HeaderMap) -> Option<Session> {
        let now = Instant::now();
        let mut table = self.inner.lock().ok()?;
        for id in cookie_values(headers, COOKIE) {
            let key = TokenHash::of(&id);
            match table.live.get_mut(&key) {
                Some(stored) if stored.expires > now => {
                    stored.expires = now + self.limits.ttl;
                    return Some(Session {
                        id,
                        csrf: stored.csrf.clone(),
                        user: stored.user.clone(),
                        auth_time: stored.auth_time,
                    });
                }
                Some(_) => table.remove(&key),
                None => {}
            }
        }
        None
    }

    /// Who is at the browser, with the CSRF token for the page's forms. Stores nothing: an
    /// anonymous visitor's token is derived from the nonce of its CSRF cookie, which is set
    /// (in [`Visitor::cookie`]) when the request has none.
    pub(crate) fn visitor(&self, headers: &HeaderMap) -> Visitor {
        if let Some(session) = self.get(headers) {
            let csrf = session.csrf.clone();
            return Visitor {
                session: Some(session),
                csrf,
                cookie: None,
            };
        }
        let (nonce, cookie) = match self.csrf_nonce(headers) {
            Some(nonce) => (nonce, None),
            None => {
                let nonce = random_token();
                let cookie = self.cookie(CSRF_COOKIE, nonce.clone(), "/");
                (nonce, HeaderValue::from_str(&cookie.to_string()).ok())
            }
        };
        Visitor {
            session: None,
            csrf: self.sign("csrf", &[nonce.as_bytes()]),
            cookie,
        }
    }

    /// The request's CSRF nonce, if it has a well-formed one.
    fn csrf_nonce(&self, headers: &HeaderMap) -> Option<String> {
        cookie_value(headers, CSRF_COOKIE)
            .filter(|nonce| URL_SAFE_NO_PAD.decode(nonce).is_ok_and(|b| b.len() == 32))
    }

    /// The visitor that sent a form whose `csrf` is `presented`, if that is the token of the
    /// request's session or of its anonymous visitor (constant-time comparisons).
    pub(crate) fn check(&self, headers: &HeaderMap, presented: Option<&str>) -> Option<Visitor> {
        let presented = presented?;
        if let Some(session) = self.get(headers)
            && constant_time_eq(presented, &session.csrf)
        {
            let csrf = session.csrf.clone();
            return Some(Visitor {
                session: Some(session),
                csrf,
                cookie: None,
            });
        }
        let csrf = self.sign("csrf", &[self.csrf_nonce(headers)?.as_bytes()]);
        constant_time_eq(presented, &csrf).then_some(Visitor {
            session: None,
            csrf,
            cookie: None,
        })
    }

    /// A new session for `user`, signed in from `source`: it replaces the request's session
    /// (against fixation) and comes with the `Set-Cookie` header to send. A full table makes
    /// room (see [`SessionLimits`]); a source starting sessions too fast gets 429.
    pub(crate) fn create(
        &self,
        headers: &HeaderMap,
        user: UserId,
        source: IpAddr,
    ) -> Result<(Session, HeaderValue), Response> {
        self.starts.check(source, "session")?;
        if let Some(old) = self.get(headers) {
            self.destroy(&old);
        }
        let session = Session {
            id: random_token(),
            csrf: random_token(),
            user,
            auth_time: time::OffsetDateTime::now_utc(),
        };
        let cookie = self.cookie(COOKIE, session.id.clone(), "/");
        let header = HeaderValue::from_str(&cookie.to_string())
            .map_err(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "no session cookie"))?;
        let now = Instant::now();
        let Ok(mut table) = self.inner.lock() else {
            return Err(plain(StatusCode::SERVICE_UNAVAILABLE, "try again"));
        };
        table.make_room(source, &self.limits, now);
        let seq = table.next_seq;
        table.next_seq += 1;
        let key = TokenHash::of(&session.id);
        table.order.insert(seq, key);
        table.by_source.entry(source).or_default().insert(seq);
        table.live.insert(
            key,
            Stored {
                csrf: session.csrf.clone(),
                user: session.user.clone(),
                auth_time: session.auth_time,
                expires: now + self.limits.ttl,
                source,
                seq,
            },
        );
        Ok((session, header))
    }

    /// The `Set-Cookie` header of a `receipt` for `value` (see [`Receipt`]).
    pub(crate) fn receipt(&self, receipt: &Receipt, value: &str) -> Option<HeaderValue> {
        let issued = unix_now().to_string();
        let mac = self.sign(receipt.cookie, &[issued.as_bytes(), value.as_bytes()]);
        let mut cookie = self.cookie(receipt.cookie, format!("{issued}.{mac}"), receipt.path);
        let max_age = i64::try_from(receipt.ttl.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(cookie::time::Duration::seconds(max_age));
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    /// Whether the request carries a live `receipt` for `value`.
    pub(crate) fn has_receipt(&self, headers: &HeaderMap, receipt: &Receipt, value: &str) -> bool {
        let Some(text) = cookie_value(headers, receipt.cookie) else {
            return false;
        };
        let Some((issued, mac)) = text.split_once('.') else {
            return false;
        };
        let fresh = issued
            .parse::<u64>()
            .is_ok_and(|at| unix_now().saturating_sub(at) <= receipt.ttl.as_secs());
        let expected = self.sign(receipt.cookie, &[issued.as_bytes(), value.as_bytes()]);
        fresh && constant_time_eq(mac, &expected)
    }

    /// Ends `session`, returning the header that clears the cookie.
    pub(crate) fn destroy(&self, session: &Session) -> Option<HeaderValue> {
        if let Ok(mut table) = self.inner.lock() {
            table.remove(&TokenHash::of(&session.id));
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

/// Where a login (or any page taking a `next`) may continue: `next` itself if it is a path on
/// this server, `/` otherwise. The one check of every example, against open redirects.
///
/// Allowed: text that starts with a single `/`, in visible ASCII only, without a backslash,
/// and whose path (before `?` or `#`), percent-decoded as often as it decodes (up to four
/// times), holds no `//`, no backslash, no control character and no white space. Browsers drop
/// tabs and newlines, read `\` as `/`, and some hosts decode once more before redirecting, so
/// each of `//evil`, `/\evil`, `/\t/evil`, `/%09/evil` or `/%252F/evil` could otherwise
/// reach another origin. As a last guard, `next` resolved as a browser resolves it (WHATWG URL
/// parsing) must keep this server's origin.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if is_local_path(path) => path,
        _ => "/",
    }
}

fn is_local_path(next: &str) -> bool {
    if !next.starts_with('/')
        || next.len() > MAX_URI
        || !next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    {
        return false;
    }
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let mut text = std::borrow::Cow::Borrowed(path);
    let mut decoded_fully = false;
    for _ in 0..4 {
        if text.contains("//")
            || text.contains('\\')
            || text.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return false;
        }
        let Ok(decoded) = percent_encoding::percent_decode_str(&text).decode_utf8() else {
            return false;
        };
        if decoded == text {
            decoded_fully = true;
            break;
        }
        text = std::borrow::Cow::Owned(decoded.into_owned());
    }
    let Ok(origin) = url::Url::parse("http://origin.invalid/") else {
        return false;
    };
    decoded_fully
        && origin
            .join(next)
            .is_ok_and(|resolved| resolved.origin() == origin.origin())
}

/// A `303 See Other` to a path on this server (pass any `next` through [`safe_next`] first).
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

// ---------------------------------------------------------------------------------------------
// Serving and shutting down

/// How long the requests in flight may take to finish once a shutdown signal came.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// A future that resolves on the first SIGTERM or SIGINT (Ctrl-C where there are no Unix
/// signals). The handlers are installed by this call: make it before accepting connections, so
/// that no signal finds the process with the default action (exit at once).
pub(crate) fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C: shutting down");
        })
    }
}

/// Serves `router` on `listener`, with each request's peer address (see [`Source`]), until
/// `signal` resolves; then stops accepting, lets the requests in flight finish for up to
/// [`SHUTDOWN_DEADLINE`], and returns (closing whatever is still open).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        signal.await;
        let _ = stopping_tx.send(true);
    });
    let deadline = async move {
        if stopping.wait_for(|stopping| *stopping).await.is_err() {
            // The server ended without a signal: no deadline to keep.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
    };
    tokio::select! {
        served = server.into_future() => served,
        () = deadline => {
            tracing::warn!("requests still in flight at the shutdown deadline: closed");
            Ok(())
        }
    }
}
