//! Settings that weaken a default. Each is here, named for what it gives up, with the risk
//! spelled out, so that a reader of the host's code sees every one.

use crate::config::Config;
use crate::expiry::StandardExpiry;
use crate::redirect::{RedirectError, RedirectPolicy, RedirectUri};
use crate::scope::Scope;

/// Accept `code_challenge_method=plain` (RFC 7636 §4.2).
///
/// # Risk
/// A plain challenge is the verifier itself: anyone who sees the authorization request (browser
/// history, logs, a malicious app on the device) can redeem an intercepted code. RFC 9700 §2.1.1
/// says to use S256. Only for clients that cannot compute SHA-256.
pub fn allow_plain_pkce(config: &mut Config) {
    config.allow_plain_pkce = true;
}

/// Let clients register plain `http` redirect URIs on any host, not only loopback ones
/// (AppHarbor documents `http://example.com/` callbacks; a provider moving onto tessera may
/// have such clients registered already).
///
/// # Risk
/// A code sent to an `http` callback crosses the network in clear text, where anyone on the
/// path can read and redeem it unless the client uses PKCE. RFC 6749 §3.1.2.1 and RFC 9700
/// §2.1 say to require TLS. Exact matching and every other redirect rule still apply.
pub fn allow_http_redirects(config: &mut Config) {
    config.allow_http_redirects = true;
}

/// Make tokens granted with `scope` never expire (Phabricator's `offline_access`).
///
/// # Risk
/// A leaked non-expiring token works until someone revokes it. Users must be able to see and
/// revoke their authorized applications (the provider's `authorized_apps` API), and hosts should
/// monitor for misuse.
pub fn never_expire_with_scope(expiry: StandardExpiry, scope: Scope) -> StandardExpiry {
    StandardExpiry {
        never_expiring_scope: Some(scope),
        ..expiry
    }
}

/// Make every token never expire (AppHarbor: "tokens do not expire").
///
/// # Risk
/// As [`never_expire_with_scope`], for every token.
pub fn never_expire(expiry: StandardExpiry) -> StandardExpiry {
    StandardExpiry {
        never_expire: true,
        ..expiry
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
