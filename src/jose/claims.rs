//! The registered JWT claims (RFC 7519 §4.1): building them and checking them.

use serde::{Deserialize, Serialize};
use time::Duration;

/// `aud` (RFC 7519 §4.1.3): one audience as a string, or several as an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(clippy::exhaustive_enums)] // RFC 7519 §4.1.3 allows exactly these two forms
pub enum Audience {
    /// A single audience, serialised as a string.
    One(String),
    /// Several audiences, serialised as an array.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of these.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(one) => one == audience,
            Self::Many(many) => many.iter().any(|a| a == audience),
        }
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Self::One(audience.to_owned())
    }
}

impl From<String> for Audience {
    fn from(audience: String) -> Self {
        Self::One(audience)
    }
}

/// The registered claims of a JWT. Times are whole seconds since the Unix epoch (as
/// [`Clock::unix_now`](crate::Clock::unix_now)); a fractional, string or out-of-range time
/// fails to parse. Unknown claims are ignored when parsing, so a token's own claims can be
/// read with this and with the caller's type, or this can be `#[serde(flatten)]`ed into it.
///
/// ```
/// use tessera::jose::{ClaimsError, ClaimsValidation, RegisteredClaims};
///
/// let claims = RegisteredClaims::new()
///     .issuer("https://as.example")
///     .subject("alice")
///     .audience("api")
///     .issued_at(1_000)
///     .expires_at(1_300);
/// let check = ClaimsValidation::new(1_100).issuer("https://as.example").audience("api");
/// assert_eq!(claims.validate(&check), Ok(()));
/// let later = ClaimsValidation::new(1_300).issuer("https://as.example").audience("api");
/// assert_eq!(claims.validate(&later), Err(ClaimsError::Expired));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RegisteredClaims {
    /// `iss`: who issued the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `sub`: whom the token is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `aud`: for whom the token is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// `exp`: the token is refused at and after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `nbf`: the token is refused before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// `iat`: when the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `jti`: the token's unique identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl RegisteredClaims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `iss`.
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// Sets `sub`.
    #[must_use]
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// Sets `aud`.
    #[must_use]
    pub fn audience(mut self, aud: impl Into<Audience>) -> Self {
        self.aud = Some(aud.into());
        self
    }

    /// Sets `exp`.
    #[must_use]
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.exp = Some(exp);
        self
    }

    /// Sets `nbf`.
    #[must_use]
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.nbf = Some(nbf);
        self
    }

    /// Sets `iat`.
    #[must_use]
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Sets `jti`.
    #[must_use]
    pub fn jwt_id(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Checks the claims against `check` (RFC 7519 §4.1), in this order:
    /// * `iss` is the expected issuer, if one is set;
    /// * `aud` contains the expected audience; a token with an `aud` is refused when no
    ///   audience is expected (RFC 7519 §4.1.3: a recipient not named must refuse it);
    /// * `exp` is present (unless [`without_exp`](ClaimsValidation::without_exp)) and
    ///   `now < exp + leeway`;
    /// * `nbf`, if present, `nbf <= now + leeway`;
    /// * with [`max_age`](ClaimsValidation::max_age), `iat` is present, not after
    ///   `now + leeway` and not before `now - max_age - leeway`.
    ///
    /// Arithmetic saturates, so no time, however odd, panics or wraps.
    pub fn validate(&self, check: &ClaimsValidation) -> Result<(), ClaimsError> {
        if let Some(expected) = &check.issuer {
            match &self.iss {
                Some(iss) if iss == expected => {}
                _ => return Err(ClaimsError::WrongIssuer),
            }
        }
        match (&check.audience, &self.aud) {
            (Some(expected), Some(aud)) if aud.contains(expected) => {}
            (None, None) => {}
            _ => return Err(ClaimsError::WrongAudience),
        }
        let now = check.now;
        let leeway = check.leeway;
        match self.exp {
            Some(exp) if now >= exp.saturating_add(leeway) => return Err(ClaimsError::Expired),
            Some(_) => {}
            None if check.require_exp => return Err(ClaimsError::Missing("exp")),
            None => {}
        }
        if self.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(ClaimsError::NotYetValid);
        }
        if let Some(max_age) = check.max_age {
            let iat = self.iat.ok_or(ClaimsError::Missing("iat"))?;
            if iat > now.saturating_add(leeway) {
                return Err(ClaimsError::NotYetValid);
            }
            if iat < now.saturating_sub(max_age).saturating_sub(leeway) {
                return Err(ClaimsError::TooOld);
            }
        }
        Ok(())
    }
}

/// What [`RegisteredClaims::validate`] requires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimsValidation {
    now: i64,
    leeway: i64,
    issuer: Option<String>,
    audience: Option<String>,
    require_exp: bool,
    max_age: Option<i64>,
}

impl ClaimsValidation {
    /// Checks at `now` (seconds since the Unix epoch): `exp` required, no leeway, no issuer
    /// or audience expected.
    pub fn new(now: i64) -> Self {
        Self {
            now,
            leeway: 0,
            issuer: None,
            audience: None,
            require_exp: true,
            max_age: None,
        }
    }

    /// Allows clocks to differ by `skew` (whole seconds; negative counts as zero) in every
    /// time comparison. A minute or two is usual for tokens from other hosts.
    #[must_use]
    pub fn leeway(mut self, skew: Duration) -> Self {
        self.leeway = skew.whole_seconds().max(0);
        self
    }

    /// Requires `iss` to be `issuer`.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to contain `audience`.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Accepts a token without `exp`, for tokens that carry only `iat` (DPoP proofs, RFC 9449
    /// §4.2): pair it with [`max_age`](Self::max_age).
    #[must_use]
    pub fn without_exp(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// Requires `iat`, no later than now and no older than `age` (plus leeway).
    #[must_use]
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age.whole_seconds().max(0));
        self
    }
}

/// Why registered claims were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// A required claim is absent.
    #[error("the {0} claim is missing")]
    Missing(&'static str),
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not name the expected audience, or names one where none is expected.
    #[error("wrong audience")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` (or `iat`) is in the future.
    #[error("the token is not yet valid")]
    NotYetValid,
    /// `iat` is older than the maximum age.
    #[error("the token is too old")]
    TooOld,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(now: i64) -> ClaimsValidation {
        ClaimsValidation::new(now)
    }

    #[test]
    fn expiry_and_not_before_with_leeway() {
        let claims = RegisteredClaims::new().not_before(100).expires_at(200);
        assert_eq!(claims.validate(&check(99)), Err(ClaimsError::NotYetValid));
        assert_eq!(claims.validate(&check(100)), Ok(()));
        assert_eq!(claims.validate(&check(199)), Ok(()));
        assert_eq!(claims.validate(&check(200)), Err(ClaimsError::Expired));
        let skew = Duration::seconds(30);
        assert_eq!(claims.validate(&check(70).leeway(skew)), Ok(()));
        assert_eq!(claims.validate(&check(229).leeway(skew)), Ok(()));
        assert_eq!(
            claims.validate(&check(230).leeway(skew)),
            Err(ClaimsError::Expired)
        );
        assert_eq!(
            RegisteredClaims::new().validate(&check(0)),
            Err(ClaimsError::Missing("exp"))
        );
        assert_eq!(
            RegisteredClaims::new().validate(&check(0).without_exp()),
            Ok(())
        );
    }

    #[test]
    fn issuer_and_audience() {
        let claims = RegisteredClaims::new()
            .issuer("https://as")
            .audience(Audience::Many(vec!["a".into(), "b".into()]))
            .expires_at(10);
        assert_eq!(
            claims.validate(&check(0).issuer("https://as").audience("b")),
            Ok(())
        );
        assert_eq!(
            claims.validate(&check(0).issuer("https://other").audience("b")),
            Err(ClaimsError::WrongIssuer)
        );
        assert_eq!(
            claims.validate(&check(0).audience("c")),
            Err(ClaimsError::WrongAudience)
        );
        // An audience in the token, none expected: refused (RFC 7519 §4.1.3).
        assert_eq!(claims.validate(&check(0)), Err(ClaimsError::WrongAudience));
        // An audience expected, none in the token.
        let bare = RegisteredClaims::new().expires_at(10);
        assert_eq!(
            bare.validate(&check(0).audience("a")),
            Err(ClaimsError::WrongAudience)
        );
        assert_eq!(
            bare.validate(&check(0).issuer("x")),
            Err(ClaimsError::WrongIssuer)
        );
    }

    #[test]
    fn max_age_for_proofs_without_exp() {
        let proof = RegisteredClaims::new().issued_at(1_000);
        let window = |now| check(now).without_exp().max_age(Duration::seconds(60));
        assert_eq!(proof.validate(&window(1_000)), Ok(()));
        assert_eq!(proof.validate(&window(1_060)), Ok(()));
        assert_eq!(proof.validate(&window(1_061)), Err(ClaimsError::TooOld));
        assert_eq!(proof.validate(&window(999)), Err(ClaimsError::NotYetValid));
        assert_eq!(
            RegisteredClaims::new().validate(&window(0)),
            Err(ClaimsError::Missing("iat"))
        );
    }

    #[test]
    fn extreme_times_saturate() {
        for (exp, now) in [
            (i64::MAX, i64::MIN),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MAX),
        ] {
            let claims = RegisteredClaims::new()
                .expires_at(exp)
                .not_before(exp)
                .issued_at(exp);
            let v = check(now).leeway(Duration::MAX).max_age(Duration::MAX);
            let _ = claims.validate(&v);
            let _ = claims.validate(&check(now));
        }
    }

    #[test]
    fn times_are_integers_and_aud_is_string_or_array() {
        let parse = |text: &str| serde_json::from_str::<RegisteredClaims>(text);
        assert_eq!(parse(r#"{"exp":5,"x":1}"#).unwrap().exp, Some(5));
        assert!(parse(r#"{"exp":5.5}"#).is_err());
        assert!(parse(r#"{"exp":"5"}"#).is_err());
        assert!(parse(r#"{"exp":1e3}"#).is_err());
        assert!(parse(r#"{"exp":99999999999999999999}"#).is_err());
        assert_eq!(
            parse(r#"{"aud":"a"}"#).unwrap().aud,
            Some(Audience::One("a".into()))
        );
        assert_eq!(
            parse(r#"{"aud":["a","b"]}"#).unwrap().aud,
            Some(Audience::Many(vec!["a".into(), "b".into()]))
        );
        assert!(parse(r#"{"aud":5}"#).is_err());
        assert_eq!(
            serde_json::to_string(&RegisteredClaims::new().subject("s").audience("a")).unwrap(),
            r#"{"sub":"s","aud":"a"}"#
        );
    }
}
