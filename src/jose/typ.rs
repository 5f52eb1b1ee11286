//! The `typ` a verifier expects (RFC 7515 §4.1.9, RFC 8725 §3.11 explicit typing).

use std::borrow::Cow;

/// The media type a verifier requires in a token's `typ` header, so that a token minted for
/// one purpose (an access token, `at+jwt`) is never accepted for another (a DPoP proof,
/// `dpop+jwt`), per RFC 8725 §3.11.
///
/// Matching follows RFC 7515 §4.1.9: a value without a `/` is read as if `application/`
/// were prepended, and media types compare case-insensitively, so `at+jwt`, `AT+JWT` and
/// `application/at+jwt` are one type. Signing writes the short form given here.
///
/// ```
/// use tessera::jose::Typ;
///
/// assert!(Typ::AT_JWT.matches(Some("application/AT+JWT")));
/// assert!(!Typ::AT_JWT.matches(Some("JWT")));
/// assert!(!Typ::AT_JWT.matches(None));
/// assert!(Typ::JWT.or_absent().matches(None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Typ {
    name: Cow<'static, str>,
    absent_ok: bool,
}

/// The longest `typ` accepted.
const MAX_TYP_LEN: usize = 127;

impl Typ {
    /// `JWT` (RFC 7519 §5.1): OpenID Connect ID tokens.
    pub const JWT: Self = Self::from_static("JWT");
    /// `at+jwt` (RFC 9068 §2.1): JWT access tokens.
    pub const AT_JWT: Self = Self::from_static("at+jwt");
    /// `dpop+jwt` (RFC 9449 §4.2): DPoP proofs.
    pub const DPOP_JWT: Self = Self::from_static("dpop+jwt");
    /// `logout+jwt` (OpenID Connect Back-Channel Logout 1.0 §2.4): logout tokens.
    pub const LOGOUT_JWT: Self = Self::from_static("logout+jwt");
    /// `oauth-authz-req+jwt` (RFC 9101 §4): request objects.
    pub const AUTHZ_REQ_JWT: Self = Self::from_static("oauth-authz-req+jwt");
    /// `client-authentication+jwt` (draft-ietf-oauth-rfc7523bis §4): JWT client assertions
    /// that say what they are.
    pub const CLIENT_AUTH_JWT: Self = Self::from_static("client-authentication+jwt");
    /// `token-introspection+jwt` (RFC 9701 §5): signed introspection responses.
    pub const INTROSPECTION_JWT: Self = Self::from_static("token-introspection+jwt");

    const fn from_static(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            absent_ok: false,
        }
    }

    /// A `typ` of the caller's choosing, such as `secevent+jwt`. An `application/` prefix is
    /// dropped (RFC 7515 §4.1.9 recommends omitting it). `None` unless the value is 1 to 127
    /// visible ASCII characters.
    pub fn new(name: &str) -> Option<Self> {
        let name = strip_application(name);
        let valid = !name.is_empty()
            && name.len() <= MAX_TYP_LEN
            && name.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Self {
            name: Cow::Owned(name.to_owned()),
            absent_ok: false,
        })
    }

    /// The same type, also accepting a token with no `typ` at all.
    ///
    /// Only for tokens defined before explicit typing whose senders commonly omit `typ`: JWT
    /// client assertions (RFC 7523), whose `aud` and `iss` keep them apart, or request
    /// objects from older clients. Never for tokens tessera mints itself.
    #[must_use]
    pub fn or_absent(mut self) -> Self {
        self.absent_ok = true;
        self
    }

    /// The short form written into tokens this crate signs.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Whether a token's `typ` header (`None` when absent) is this type.
    pub fn matches(&self, typ: Option<&str>) -> bool {
        match typ {
            None => self.absent_ok,
            Some(typ) => {
                let expected_full = self.name.contains('/');
                let (given, given_full) = match strip_application_checked(typ) {
                    Some(rest) => (rest, false),
                    None => (typ, typ.contains('/')),
                };
                given_full == expected_full && given.eq_ignore_ascii_case(&self.name)
            }
        }
    }
}

/// `name` without a leading `application/` (any case).
fn strip_application(name: &str) -> &str {
    strip_application_checked(name).unwrap_or(name)
}

/// The rest after a leading `application/` (any case), if `name` has one.
fn strip_application_checked(name: &str) -> Option<&str> {
    const PREFIX: &str = "application/";
    let head = name.get(..PREFIX.len())?;
    head.eq_ignore_ascii_case(PREFIX)
        .then(|| &name[PREFIX.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_matching_follows_rfc_7515_4_1_9() {
        let at = Typ::AT_JWT;
        for same in [
            "at+jwt",
            "AT+JWT",
            "At+Jwt",
            "application/at+jwt",
            "APPLICATION/at+JWT",
        ] {
            assert!(at.matches(Some(same)), "{same}");
        }
        for other in [
            "jwt",
            "dpop+jwt",
            "at+jwt ",
            "text/at+jwt",
            "application/application/at+jwt",
            "",
            "application/",
        ] {
            assert!(!at.matches(Some(other)), "{other}");
        }
        assert!(!at.matches(None));
        assert!(at.clone().or_absent().matches(None));
        assert!(Typ::JWT.matches(Some("jwt")));
    }

    #[test]
    fn custom_types_are_validated_and_shortened() {
        let t = Typ::new("application/secevent+jwt").unwrap();
        assert_eq!(t.as_str(), "secevent+jwt");
        assert!(t.matches(Some("secevent+jwt")));
        assert!(Typ::new("").is_none());
        assert!(Typ::new("application/").is_none());
        assert!(Typ::new("a b").is_none());
        assert!(Typ::new(&"x".repeat(128)).is_none());
        // A full media type with its own slash keeps it and matches only itself.
        let full = Typ::new("text/plain").unwrap();
        assert!(full.matches(Some("TEXT/PLAIN")));
        assert!(!full.matches(Some("plain")));
    }
}
