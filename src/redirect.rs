//! Redirect URIs (RFC 6749 §3.1.2) and the policies that match a requested one against a
//! client's registrations.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// An absolute URI without a fragment, kept exactly as written (matching compares the text)
/// together with its parsed form.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri {
    text: String,
    #[serde(skip)]
    url: Url,
}

/// Why a redirect URI was refused. Errors of this type are shown to the user, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    /// The request named no redirect URI and the client has none or several registered.
    #[error("the request has no redirect_uri and the client does not have exactly one registered")]
    Missing,
    /// The value is not an absolute URI, is too long, or has a fragment.
    #[error("the redirect_uri is malformed: {0}")]
    Malformed(&'static str),
    /// The value is not one the client registered.
    #[error("the redirect_uri is not registered for this client")]
    NotRegistered,
    /// A policy that accepts URIs other than the registered ones refused this one, for the
    /// reason given (see [`crate::danger::SameDomainRedirect`]).
    #[error("the redirect_uri is refused: {0}")]
    Refused(&'static str),
}

impl RedirectUri {
    /// The longest redirect URI accepted, in bytes.
    pub const MAX_LEN: usize = 2048;

    /// The parameters an authorization response (success or error, RFC 6749 §4.1.2 and
    /// §4.1.2.1, RFC 9207, OpenID Connect Core §3) adds to a redirect URI.
    pub const RESPONSE_PARAMS: &'static [&'static str] = &[
        "code",
        "state",
        "iss",
        "error",
        "error_description",
        "error_uri",
        "id_token",
        "access_token",
        "token_type",
        "expires_in",
        "session_state",
    ];

    /// Parses an absolute URI without a fragment (RFC 6749 §3.1.2).
    pub fn parse(text: &str) -> Result<Self, RedirectError> {
        if text.len() > Self::MAX_LEN {
            return Err(RedirectError::Malformed("longer than 2048 bytes"));
        }
        if text.contains('#') {
            return Err(RedirectError::Malformed("a fragment is not allowed"));
        }
        if text
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_control())
        {
            return Err(RedirectError::Malformed(
                "white space or control characters",
            ));
        }
        let url = Url::parse(text).map_err(|_| RedirectError::Malformed("not an absolute URI"))?;
        if url.cannot_be_a_base() && url.scheme() != "urn" {
            // `mailto:x`, `javascript:alert(1)`: not something a browser can be sent back to.
            return Err(RedirectError::Malformed("not a hierarchical URI"));
        }
        if matches!(url.scheme(), "javascript" | "data" | "vbscript" | "file") {
            return Err(RedirectError::Malformed("scheme not allowed"));
        }
        Ok(Self {
            text: text.to_owned(),
            url,
        })
    }

    /// The text as registered or requested.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where the URI points, as a consent page shows it: the host with a non-default port
    /// (`client.example`, `127.0.0.1:8080`); `None` for a URI without a host (`com.example:/cb`).
    pub fn authority(&self) -> Option<String> {
        let host = self.url.host_str()?;
        Some(match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    }

    /// The parsed URI.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The parsed URI, owned (no clone when the `RedirectUri` is not needed any more).
    pub(crate) fn into_url(self) -> Url {
        self.url
    }

    /// Whether the URI's query already names a parameter that an authorization response adds
    /// ([`RedirectUri::RESPONSE_PARAMS`]). Such a URI would carry its author's `code` or `iss`
    /// ahead of the real one (RFC 6749 §3.1.2, RFC 9207), so it is refused wherever it comes
    /// from: registration, or a request under any redirect policy.
    pub fn carries_response_params(&self) -> bool {
        self.url
            .query_pairs()
            .any(|(name, _)| Self::RESPONSE_PARAMS.contains(&name.as_ref()))
    }

    /// Whether this is an `http` URI on a loopback IP literal (`127.0.0.1` or `[::1]`), the kind
    /// of redirect a native app listens on (RFC 8252 §7.3).
    pub fn is_loopback_http(&self) -> bool {
        self.url.scheme() == "http"
            && matches!(
                self.url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            )
            || self.url.scheme() == "http"
                && matches!(self.url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
    }

    /// Whether `self` equals `registered` but for the port, both being loopback `http` URIs.
    ///
    /// Compared as written, not as parsed: a URL parser rewrites `127.1` to `127.0.0.1` and
    /// removes `/x/../`, and RFC 8252 §7.3 lets only the port vary.
    fn matches_loopback(&self, registered: &RedirectUri) -> bool {
        match (split_loopback(&self.text), split_loopback(&registered.text)) {
            (Some(asked), Some(known)) => asked == known,
            _ => false,
        }
    }
}

/// The host and everything after the port of an `http` URI on a loopback IP literal, as
/// written: `http://127.0.0.1:5000/cb?x` gives `("127.0.0.1", "/cb?x")`. `None` for anything
/// else, including user info and a port that is not 1 to 5 digits.
fn split_loopback(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("http://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|host| authority.starts_with(host))?;
    match &authority[host.len()..] {
        "" => {}
        port => {
            let digits = port.strip_prefix(':')?;
            if digits.is_empty()
                || digits.len() > 5
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || digits.parse::<u32>().ok()? > 65535
            {
                return None;
            }
        }
    }
    Some((host, tail))
}

impl TryFrom<String> for RedirectUri {
    type Error = RedirectError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RedirectUri> for String {
    fn from(uri: RedirectUri) -> Self {
        uri.text
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.text).finish()
    }
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Chooses where an authorization response goes, from a client's registered redirect URIs and
/// the `redirect_uri` parameter of the request (if any).
///
/// A provider may plug its own (the Phabricator dialect accepts same-host overrides). Whatever
/// it returns is trusted: errors and codes will be sent there.
pub trait RedirectPolicy: Send + Sync + fmt::Debug {
    /// The redirect URI to use, or why none may be used.
    fn resolve(
        &self,
        registered: &[RedirectUri],
        requested: Option<&str>,
    ) -> Result<RedirectUri, RedirectError>;
}

/// The default policy: the requested URI must equal a registered one character for character
/// (RFC 9700 §4.1.3), except that the port of an `http://127.0.0.1` or `http://[::1]`
/// registration may differ (RFC 8252 §7.3, which RFC 9700 keeps). An omitted `redirect_uri` is
/// allowed only when the client registered exactly one, unless `require_redirect_uri` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExactRedirect {
    /// Allow any port for loopback registrations (default true).
    pub loopback_any_port: bool,
    /// Refuse a request without `redirect_uri` even when the client registered only one
    /// (default false). The refusal is [`RedirectError::Missing`], shown to the user, never
    /// redirected.
    pub require_redirect_uri: bool,
}

impl Default for ExactRedirect {
    fn default() -> Self {
        Self {
            loopback_any_port: true,
            require_redirect_uri: false,
        }
    }
}

impl ExactRedirect {
    /// Exact matching with no loopback port exception.
    pub fn strict() -> Self {
        Self {
            loopback_any_port: false,
            ..Self::default()
        }
    }

    /// The default matching, with `redirect_uri` required in every authorization request.
    pub fn requiring_redirect_uri() -> Self {
        Self {
            require_redirect_uri: true,
            ..Self::default()
        }
    }
}

impl RedirectPolicy for ExactRedirect {
    fn resolve(
        &self,
        registered: &[RedirectUri],
        requested: Option<&str>,
    ) -> Result<RedirectUri, RedirectError> {
        let Some(requested) = requested else {
            return match registered {
                [only] if !self.require_redirect_uri => Ok(only.clone()),
                _ => Err(RedirectError::Missing),
            };
        };
        // The usual case, a registered URI byte for byte: it was parsed when it was registered
        // (by the same `RedirectUri::parse`), so it is not parsed again.
        if let Some(same) = registered.iter().find(|r| r.text == requested) {
            return Ok(same.clone());
        }
        let requested = RedirectUri::parse(requested)?;
        let found = registered.iter().any(|r| {
            r.text == requested.text || (self.loopback_any_port && requested.matches_loopback(r))
        });
        if found {
            Ok(requested)
        } else {
            Err(RedirectError::NotRegistered)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .filter_map(|u| RedirectUri::parse(u).ok())
            .collect()
    }

    #[test]
    fn parse_refuses_fragments_relative_and_dangerous_uris() {
        for bad in [
            "https://a.example/cb#frag",
            "https://a.example/cb#",
            "/relative",
            "a.example/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "mailto:a@b.example",
            "https://a.example/c b",
            "",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
        assert!(RedirectUri::parse(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
        for good in [
            "https://a.example/cb?x=1",
            "com.example.app:/oauth",
            "http://127.0.0.1:8080/cb",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn exact_matching_refuses_every_variation() {
        let registered = uris(&["https://client.example/cb", "https://client.example/other"]);
        let policy = ExactRedirect::default();
        assert!(
            policy
                .resolve(&registered, Some("https://client.example/cb"))
                .is_ok()
        );
        for attack in [
            "https://client.example/cb/extra",
            "https://client.example/cb?x=1",
            "https://client.example:8443/cb",
            "https://client.example/CB",
            "https://CLIENT.example/cb",
            "https://client.example.evil.example/cb",
            "https://evil.example@client.example/cb",
            "https://client.example@evil.example/cb",
            "http://client.example/cb",
            "https://client.example/cb/",
            "https://client.example/%63b",
        ] {
            assert!(
                policy.resolve(&registered, Some(attack)).is_err(),
                "{attack}"
            );
        }
        assert_eq!(
            policy.resolve(&registered, None),
            Err(RedirectError::Missing)
        );
        assert_eq!(
            policy.resolve(&registered, Some("https://client.example/cb#x")),
            Err(RedirectError::Malformed("a fragment is not allowed"))
        );
    }

    #[test]
    fn omitted_redirect_uses_the_only_registration() {
        let registered = uris(&["https://client.example/cb"]);
        let chosen = ExactRedirect::default().resolve(&registered, None);
        assert_eq!(
            chosen.map(|u| u.as_str().to_owned()).ok().as_deref(),
            Some("https://client.example/cb")
        );
        assert_eq!(
            ExactRedirect::default().resolve(&[], None),
            Err(RedirectError::Missing)
        );
        let required = ExactRedirect::requiring_redirect_uri();
        assert_eq!(
            required.resolve(&registered, None),
            Err(RedirectError::Missing)
        );
        assert!(
            required
                .resolve(&registered, Some("https://client.example/cb"))
                .is_ok()
        );
        assert!(required.loopback_any_port, "only the omission rule changes");
    }

    #[test]
    fn loopback_registrations_accept_any_port_only() {
        let registered = uris(&["http://127.0.0.1/cb", "http://[::1]:1000/cb"]);
        let policy = ExactRedirect::default();
        assert!(
            policy
                .resolve(&registered, Some("http://127.0.0.1:51004/cb"))
                .is_ok()
        );
        assert!(
            policy
                .resolve(&registered, Some("http://[::1]:3/cb"))
                .is_ok()
        );
        assert!(
            policy
                .resolve(&registered, Some("http://127.0.0.1:51004/other"))
                .is_err()
        );
        assert!(
            policy
                .resolve(&registered, Some("http://localhost:51004/cb"))
                .is_err()
        );
        assert!(
            policy
                .resolve(&registered, Some("https://127.0.0.1:51004/cb"))
                .is_err()
        );
        assert!(
            policy
                .resolve(&registered, Some("http://u@127.0.0.1:5/cb"))
                .is_err()
        );
        assert!(
            ExactRedirect::strict()
                .resolve(&registered, Some("http://127.0.0.1:51004/cb"))
                .is_err()
        );
    }
}
