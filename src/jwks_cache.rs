//! The issuer's JWK Set, fetched and kept, for a resource server in another process that
//! verifies JWT access tokens offline (feature `jwks-fetch`).
//!
//! [`JwtAccessVerifier`] is sans-IO: it checks a token against a key set it is given.
//! [`JwksCache`] is the IO around it: it fetches the issuer's `jwks_uri` (https, or http on a
//! loopback host; no redirects, no proxies, at most 64 KiB, within 5 seconds), keeps the set
//! for as long as the response's `Cache-Control: max-age` says (bounded: 30 seconds to 1 day
//! by default, 5 minutes without one), fetches it once for any number of concurrent callers,
//! and keeps serving the last good set when a later fetch fails. A token whose `kid` the set
//! lacks makes it fetch again (a provider publishes a key before signing with it), at most once
//! a minute whatever strangers send, so unknown `kid`s cannot turn it into a flood against the
//! issuer.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use tessera::jose::JwkSet;
//! use tessera::jwks_cache::JwksCache;
//! use tessera::jwt_access::JwtAccessVerifier;
//!
//! // Built once at start-up and shared by every request.
//! let cache = JwksCache::new("https://auth.example.com/jwks")?;
//! let verifier = JwtAccessVerifier::new(
//!     JwkSet::parse(r#"{"keys":[]}"#)?, // unused: the cache's keys are used
//!     "https://auth.example.com",
//!     "https://api.example.com/",
//! );
//! let now = time::OffsetDateTime::now_utc().unix_timestamp();
//! match cache.verify(&verifier, token, now).await {
//!     Ok(principal) => println!("{} for {}", principal.subject(), principal.client_id()),
//!     // 401 invalid_token, or 503 while the issuer's keys cannot be fetched.
//!     Err(refused) => println!("{}", refused.to_bearer_error().status()),
//! }
//! # Ok(()) }
//! ```

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::ErrorCode;
use crate::jose::{JwkSet, JwsError};
use crate::jwt_access::{JwtAccessError, JwtAccessVerifier, JwtPrincipal};

/// Why the JWK Set could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksFetchError {
    /// The `jwks_uri` is not an absolute `https` URL (or `http` on a loopback host).
    #[error("the jwks_uri is refused: {0}")]
    Uri(&'static str),
    /// No answer: refused, timed out, or the connection failed.
    #[error("the JWK Set could not be fetched: {0}")]
    Unreachable(String),
    /// The endpoint answered with a status other than 200 (redirects are not followed).
    #[error("the JWK Set endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is larger than [`JwkSet::MAX_LEN`].
    #[error("the JWK Set is larger than 64 KiB")]
    TooLarge,
    /// The body is not a JWK Set of public keys.
    #[error("the JWK Set is refused: {0}")]
    Malformed(String),
}

/// Why [`JwksCache::verify`] refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CachedVerifyError {
    /// The token is refused (answer 401 `invalid_token`).
    #[error(transparent)]
    Token(JwtAccessError),
    /// No key set could be had at all (answer 503: the token may well be good).
    #[error(transparent)]
    Keys(JwksFetchError),
}

impl CachedVerifyError {
    /// The refusal to send: 401 `invalid_token` for a refused token, 503
    /// `temporarily_unavailable` when the issuer's keys cannot be fetched.
    pub fn to_bearer_error(&self) -> crate::BearerError {
        match self {
            Self::Token(error) => error.to_bearer_error(),
            Self::Keys(_) => crate::BearerError::new(
                ErrorCode::TemporarilyUnavailable,
                "the issuer's keys cannot be fetched now; try again later",
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct Cached {
    keys: Arc<JwkSet>,
    fetched_at: Instant,
    fresh_for: Duration,
}

/// When the last fetch started, and how it failed if it did.
#[derive(Debug, Default)]
struct Fetching {
    last: Option<Instant>,
    failed: Option<JwksFetchError>,
}

/// An issuer's JWK Set, fetched on first use and kept; see the [module documentation](self).
/// Share one per issuer (it is `Send + Sync`; clone an `Arc` of it).
#[derive(Debug)]
pub struct JwksCache {
    uri: url::Url,
    http: reqwest::Client,
    cached: RwLock<Option<Cached>>,
    // One fetch at a time: concurrent callers of a stale cache wait for it.
    fetching: tokio::sync::Mutex<Fetching>,
    min_age: Duration,
    max_age: Duration,
    refetch_interval: Duration,
}

impl JwksCache {
    /// How long a set is kept when the response says nothing: 5 minutes.
    pub const DEFAULT_AGE: Duration = Duration::from_secs(300);
    /// The default bounds of `Cache-Control: max-age`: 30 seconds to 1 day.
    pub const DEFAULT_AGE_BOUNDS: (Duration, Duration) =
        (Duration::from_secs(30), Duration::from_secs(86_400));
    /// The default least time between fetches caused by unknown `kid`s: 1 minute.
    pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
    /// How long a fetch may take: 5 seconds.
    pub const TIMEOUT: Duration = Duration::from_secs(5);

    /// A cache of the JWK Set at `jwks_uri` (the `jwks_uri` of the issuer's metadata). Fetches
    /// nothing yet.
    pub fn new(jwks_uri: &str) -> Result<Self, JwksFetchError> {
        let uri =
            url::Url::parse(jwks_uri).map_err(|_| JwksFetchError::Uri("not an absolute URL"))?;
        let loopback = match uri.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(JwksFetchError::Uri("it has no host")),
        };
        match uri.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(JwksFetchError::Uri(
                    "it must be https (http only on a loopback host)",
                ));
            }
        }
        if !uri.username().is_empty() || uri.password().is_some() {
            return Err(JwksFetchError::Uri("it must have no user information"));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Self::TIMEOUT)
            .build()
            .map_err(|error| JwksFetchError::Unreachable(error.to_string()))?;
        let (min_age, max_age) = Self::DEFAULT_AGE_BOUNDS;
        Ok(Self {
            uri,
            http,
            cached: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(Fetching::default()),
            min_age,
            max_age,
            refetch_interval: Self::DEFAULT_REFETCH_INTERVAL,
        })
    }

    /// Bounds how long a fetched set is kept, whatever `Cache-Control` says (`min` at most
    /// `max`; default [`Self::DEFAULT_AGE_BOUNDS`]).
    #[must_use]
    pub fn with_age_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_age = min.min(max);
        self.max_age = max;
        self
    }

    /// Sets the least time between fetches caused by tokens with an unknown `kid` (default
    /// [`Self::DEFAULT_REFETCH_INTERVAL`]).
    #[must_use]
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The key set: the kept one while fresh, else fetched again (the kept one, stale, if
    /// that fails). `Err` only when no set was ever fetched.
    pub async fn keys(&self) -> Result<Arc<JwkSet>, JwksFetchError> {
        if let Some(cached) = self.current()
            && cached.fetched_at.elapsed() < cached.fresh_for
        {
            return Ok(cached.keys);
        }
        self.refresh(false).await
    }

    /// Verifies `token` with `verifier`'s checks against the cached set, fetching it again
    /// (at most once per refetch interval) when the token's `kid` is not in it. `now` is
    /// seconds since the Unix epoch.
    pub async fn verify(
        &self,
        verifier: &JwtAccessVerifier,
        token: &str,
        now: i64,
    ) -> Result<JwtPrincipal, CachedVerifyError> {
        let keys = self.keys().await.map_err(CachedVerifyError::Keys)?;
        match verifier.verify_with_keys(&keys, token, now) {
            Err(JwtAccessError::Jws(JwsError::UnknownKey)) => {
                let keys = self.refresh(true).await.map_err(CachedVerifyError::Keys)?;
                verifier
                    .verify_with_keys(&keys, token, now)
                    .map_err(CachedVerifyError::Token)
            }
            done => done.map_err(CachedVerifyError::Token),
        }
    }

    fn current(&self) -> Option<Cached> {
        self.cached.read().ok().and_then(|cached| cached.clone())
    }

    /// Fetches the set, once for every concurrent caller. `unknown_kid`: the caller saw a
    /// `kid` the set lacks, so fetch even a fresh set, unless one was fetched within the
    /// refetch interval. After a failure nothing is fetched for a refetch interval: the last
    /// set (or the failure) is the answer meanwhile, so a down issuer does not queue every
    /// request behind a fetch timing out.
    async fn refresh(&self, unknown_kid: bool) -> Result<Arc<JwkSet>, JwksFetchError> {
        let requested = Instant::now();
        let mut state = self.fetching.lock().await;
        let fetched_since = state.last.is_some_and(|at| at >= requested);
        let recent = state
            .last
            .is_some_and(|at| at.elapsed() < self.refetch_interval);
        match self.current() {
            Some(cached) => {
                let fresh = cached.fetched_at.elapsed() < cached.fresh_for;
                if fetched_since || (unknown_kid && recent) || (!unknown_kid && fresh) {
                    return Ok(cached.keys);
                }
            }
            None => {
                if let Some(error) = &state.failed
                    && (fetched_since || recent)
                {
                    return Err(error.clone());
                }
            }
        }
        state.last = Some(Instant::now());
        match self.fetch().await {
            Ok((keys, fresh_for)) => {
                state.failed = None;
                let keys = Arc::new(keys);
                self.keep(keys.clone(), fresh_for);
                Ok(keys)
            }
            Err(error) => {
                state.failed = Some(error.clone());
                match self.current() {
                    Some(stale) => {
                        tracing::warn!(target: "tessera::jwks_cache", uri = %self.uri, %error, "fetching the JWK Set failed; the last one is kept");
                        self.keep(stale.keys.clone(), self.refetch_interval);
                        Ok(stale.keys)
                    }
                    None => {
                        tracing::warn!(target: "tessera::jwks_cache", uri = %self.uri, %error, "fetching the JWK Set failed");
                        Err(error)
                    }
                }
            }
        }
    }

    fn keep(&self, keys: Arc<JwkSet>, fresh_for: Duration) {
        if let Ok(mut slot) = self.cached.write() {
            *slot = Some(Cached {
                keys,
                fetched_at: Instant::now(),
                fresh_for,
            });
        }
    }

    /// One GET of the set, read to at most [`JwkSet::MAX_LEN`] bytes, and how long to keep it.
    async fn fetch(&self) -> Result<(JwkSet, Duration), JwksFetchError> {
        let unreachable = |error: reqwest::Error| JwksFetchError::Unreachable(error.to_string());
        let mut response = self
            .http
            .get(self.uri.clone())
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(unreachable)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(JwksFetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > JwkSet::MAX_LEN as u64)
        {
            return Err(JwksFetchError::TooLarge);
        }
        let fresh_for = response
            .headers()
            .get("cache-control")
            .and_then(|value| value.to_str().ok())
            .map_or(Self::DEFAULT_AGE, max_age)
            .clamp(self.min_age, self.max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > JwkSet::MAX_LEN {
                return Err(JwksFetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| JwksFetchError::Malformed("the body is not UTF-8".into()))?;
        let keys =
            JwkSet::parse(text).map_err(|error| JwksFetchError::Malformed(error.to_string()))?;
        Ok((keys, fresh_for))
    }
}

/// How long a `Cache-Control` value lets a response be kept: its `max-age` (RFC 9111
/// §5.2.2.1), nothing for `no-store` or `no-cache`, the default without either.
fn max_age(cache_control: &str) -> Duration {
    let mut age = JwksCache::DEFAULT_AGE;
    for directive in cache_control.split(',').map(str::trim) {
        let name = directive.split('=').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Duration::ZERO;
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(seconds) = directive
                .split_once('=')
                .and_then(|(_, v)| v.trim_matches('"').parse::<u64>().ok())
        {
            age = Duration::from_secs(seconds);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_reads_the_directive_and_the_refusals_to_cache() {
        assert_eq!(max_age("public, max-age=600"), Duration::from_secs(600));
        assert_eq!(max_age("MAX-AGE=\"60\""), Duration::from_secs(60));
        assert_eq!(max_age("max-age=60, no-cache"), Duration::ZERO);
        assert_eq!(max_age("no-store"), Duration::ZERO);
        assert_eq!(max_age("private"), JwksCache::DEFAULT_AGE);
        assert_eq!(max_age("max-age=soon"), JwksCache::DEFAULT_AGE);
    }

    #[test]
    fn only_https_or_loopback_http_uris_are_accepted() {
        assert!(JwksCache::new("https://auth.example.com/jwks").is_ok());
        assert!(JwksCache::new("http://127.0.0.1:8080/jwks").is_ok());
        assert!(JwksCache::new("http://[::1]/jwks").is_ok());
        for refused in [
            "http://auth.example.com/jwks",
            "ftp://auth.example.com/jwks",
            "/jwks",
            "https://user:pw@auth.example.com/jwks",
        ] {
            assert!(
                matches!(JwksCache::new(refused), Err(JwksFetchError::Uri(_))),
                "{refused}"
            );
        }
    }
}
