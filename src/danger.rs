//! Settings that weaken a default. Each is here, named for what it gives up, with the risk
//! spelled out, so that a reader of the host's code sees every one.
//!
//! Every weakened setting of a [`crate::Config`] is one method of [`Danger`], handed to
//! [`crate::ConfigBuilder::danger`]; the one weakened policy object, [`SameDomainRedirect`],
//! is installed with [`crate::ProviderBuilder::redirect_policy`].
//!
//! ```
//! use tessera::{Config, Scope, danger::Danger};
//! let config = Config::builder("https://auth.example.com")
//!     .danger(Danger::new().bearer_in_query().never_expire_with_scope(Scope::new("offline_access")?))
//!     .build()?;
//! assert!(config.danger().accepts_bearer_in_query());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::redirect::{RedirectError, RedirectPolicy, RedirectUri};
use crate::scope::Scope;

/// The weakened defaults a configuration opts into. Nothing is weakened unless a method here
/// says so. Each method's `# Risk` says what it gives up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Danger {
    pub(crate) plain_pkce: bool,
    pub(crate) http_redirects: bool,
    pub(crate) bearer_in_query: bool,
    pub(crate) open_registration: bool,
    pub(crate) omit_iss: bool,
    pub(crate) never_expire: bool,
    pub(crate) never_expiring_scope: Option<Scope>,
    pub(crate) loopback_client_metadata: bool,
}

impl Danger {
    /// Nothing weakened.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept `code_challenge_method=plain` (RFC 7636 §4.2).
    ///
    /// # Risk
    /// A plain challenge is the verifier itself: anyone who sees the authorization request
    /// (browser history, logs, a malicious app on the device) can redeem an intercepted code.
    /// RFC 9700 §2.1.1 says to use S256. Only for clients that cannot compute SHA-256.
    pub fn allow_plain_pkce(mut self) -> Self {
        self.plain_pkce = true;
        self
    }

    /// Let clients register plain `http` redirect URIs on any host, not only loopback ones
    /// (AppHarbor documents `http://example.com/` callbacks; a provider moving onto tessera may
    /// have such clients registered already).
    ///
    /// # Risk
    /// A code sent to an `http` callback crosses the network in clear text, where anyone on the
    /// path can read and redeem it unless the client uses PKCE. RFC 6749 §3.1.2.1 and RFC 9700
    /// §2.1 say to require TLS. Exact matching and every other redirect rule still apply.
    pub fn allow_http_redirects(mut self) -> Self {
        self.http_redirects = true;
        self
    }

    /// Accept the access token in the `access_token` query parameter (RFC 6750 §2.3; every
    /// seed provider documents it).
    ///
    /// # Risk
    /// URLs end up in browser history, server and proxy logs and `Referer` headers, where a
    /// token can be read and replayed. RFC 6750 §2.3 says not to use it unless no other way
    /// works, and RFC 9700 §4.3.2 forbids it for new deployments.
    pub fn bearer_in_query(mut self) -> Self {
        self.bearer_in_query = true;
        self
    }

    /// Let anyone register a client at the registration endpoint, without an initial access
    /// token (RFC 7591 §3 "open registration").
    ///
    /// # Risk
    /// A stranger can create clients at will: with any name and logo (phishing consent pages),
    /// any redirect URI, in any number (the host must rate-limit registration per source).
    /// Names and URLs are checked (no invisible or reordering characters, `https` URLs only),
    /// error redirects wait for a signed-in user, and a self-registered client can never
    /// obtain the token-exchange grant, which reaches other clients' tokens.
    pub fn open_registration(mut self) -> Self {
        self.open_registration = true;
        self
    }

    /// Leave `iss` out of authorization responses (RFC 9207), for dialects whose clients do
    /// not expect it.
    ///
    /// # Risk
    /// `iss` is the mix-up defence (RFC 9700 §4.4): without it a client that talks to several
    /// authorization servers can be tricked into sending one server's code to another.
    pub fn omit_iss_parameter(mut self) -> Self {
        self.omit_iss = true;
        self
    }

    /// Make tokens of user grants never expire (AppHarbor: "tokens do not expire"). Tokens a
    /// client obtains for itself (client credentials) still expire.
    ///
    /// # Risk
    /// A leaked non-expiring token works until someone revokes it. Users must be able to see
    /// and revoke their authorized applications (the provider's `authorized_apps` API), and
    /// hosts should monitor for misuse.
    pub fn never_expire(mut self) -> Self {
        self.never_expire = true;
        self
    }

    /// Make tokens of user grants that include `scope` never expire (Phabricator's
    /// `offline_access`).
    ///
    /// # Risk
    /// As [`Danger::never_expire`], for every token carrying that scope.
    pub fn never_expire_with_scope(mut self, scope: Scope) -> Self {
        self.never_expiring_scope = Some(scope);
        self
    }

    /// Let client ID metadata documents ([`crate::cimd`]) be fetched from loopback addresses,
    /// over `http` or `https` (`http://127.0.0.1:PORT/client.json`), for tests that serve
    /// documents themselves. Private, link-local and other non-public addresses stay refused.
    ///
    /// # Risk
    /// Anyone who can start an authorization makes the provider send requests to services on
    /// its own host (server-side request forgery): admin interfaces, metadata services,
    /// databases speaking HTTP. Never in production.
    pub fn allow_loopback_client_metadata(mut self) -> Self {
        self.loopback_client_metadata = true;
        self
    }

    /// Whether client ID metadata documents may come from loopback addresses.
    pub fn allows_loopback_client_metadata(&self) -> bool {
        self.loopback_client_metadata
    }

    /// Whether plain PKCE is accepted.
    pub fn allows_plain_pkce(&self) -> bool {
        self.plain_pkce
    }

    /// Whether `http` redirect URIs on any host may be registered.
    pub fn allows_http_redirects(&self) -> bool {
        self.http_redirects
    }

    /// Whether the access token is accepted in the query string.
    pub fn accepts_bearer_in_query(&self) -> bool {
        self.bearer_in_query
    }
}

/// A redirect policy that lets a request override the registered redirect URI with another one
/// on the same origin (Phabricator's documented rule): the same scheme, fully-qualified host
/// and port as a registered URI, at least that URI's query parameters with the same values, no
/// fragment and no user info. The path may differ. A URI equal to a registered one is always
/// accepted; an omitted `redirect_uri` uses the client's only registration.
///
/// Plug it in with [`crate::ProviderBuilder::redirect_policy`]. Refusals are
/// [`RedirectError::Refused`] with the reason, and (like every redirect error) are shown to the
/// user, never redirected.
///
/// ```
/// use tessera::{RedirectPolicy, RedirectUri, danger::SameDomainRedirect};
/// let registered = [RedirectUri::parse("https://app.example/cb?tenant=7")?];
/// let policy = SameDomainRedirect;
/// assert!(policy.resolve(&registered, Some("https://app.example/other?tenant=7&x=1")).is_ok());
/// assert!(policy.resolve(&registered, Some("https://app.example/other")).is_err());
/// assert!(policy.resolve(&registered, Some("https://evil.example/cb?tenant=7")).is_err());
/// # Ok::<(), tessera::RedirectError>(())
/// ```
///
/// # Risk
/// Any page on the client's origin can receive codes: an open redirector or a page that leaks
/// its URL (through `Referer` or third-party scripts) anywhere on that origin turns into code
/// theft (RFC 9700 §4.1.1, which requires exact matching). PKCE and confidential clients limit
/// what a stolen code is worth; prefer registering every redirect URI exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct SameDomainRedirect;

impl SameDomainRedirect {
    /// Why `requested` may not stand in for `registered`, if it may not.
    fn check(registered: &RedirectUri, requested: &RedirectUri) -> Result<(), &'static str> {
        let (reg, req) = (registered.url(), requested.url());
        if req.scheme() != reg.scheme() {
            return Err("the redirect_uri must have the registered scheme");
        }
        if req.host_str().is_none() || req.host_str() != reg.host_str() {
            return Err("the redirect_uri must have the registered domain");
        }
        if req.port_or_known_default() != reg.port_or_known_default() {
            return Err("the redirect_uri must have the registered port");
        }
        if !req.username().is_empty() || req.password().is_some() {
            return Err("the redirect_uri must not have user info");
        }
        let present: Vec<_> = req.query_pairs().collect();
        if !reg.query_pairs().all(|pair| present.contains(&pair)) {
            return Err("the redirect_uri must have at least the registered query parameters");
        }
        Ok(())
    }
}

impl RedirectPolicy for SameDomainRedirect {
    fn resolve(
        &self,
        registered: &[RedirectUri],
        requested: Option<&str>,
    ) -> Result<RedirectUri, RedirectError> {
        let Some(requested) = requested else {
            return match registered {
                [only] => Ok(only.clone()),
                _ => Err(RedirectError::Missing),
            };
        };
        if requested.contains('#') {
            return Err(RedirectError::Refused(
                "the redirect_uri must not have a fragment",
            ));
        }
        let requested = RedirectUri::parse(requested)?;
        if registered.iter().any(|r| r.as_str() == requested.as_str()) {
            return Ok(requested);
        }
        let mut reason = RedirectError::NotRegistered;
        for candidate in registered {
            match Self::check(candidate, &requested) {
                Ok(()) => return Ok(requested),
                Err(why) => reason = RedirectError::Refused(why),
            }
        }
        Err(reason)
    }
}
