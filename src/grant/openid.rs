//! The OpenID Connect parameters of an authorization request (OIDC Core 1.0 §3.1.2.1): what
//! they ask of the host (`prompt`, `max_age`, hints), what is stored with the code (`nonce`,
//! the `claims` request), and the checks whose failures are redirected. No cryptography here:
//! ID tokens are signed in `crate::oidc` (feature `jose`).

use std::borrow::Cow;

use crate::error::{ErrorCode, OAuthError};

/// The `openid` scope value (OIDC Core §3.1.2.1): a request with it is an OpenID Connect one.
pub(crate) const OPENID: &str = "openid";

/// The longest `nonce` accepted (characters); longer ones are `invalid_request`.
pub(crate) const MAX_NONCE_LEN: usize = 512;

/// The most claims a `claims` request may name, over both of its members.
pub(crate) const MAX_REQUESTED_CLAIMS: usize = 64;

/// The longest `claims` request accepted (bytes of JSON text), whatever the request
/// parameter limits: it is stored with the code and with every token of the grant.
pub(crate) const MAX_CLAIMS_REQUEST_LEN: usize = 4 * 1024;

/// The `prompt` parameter (OIDC Core §3.1.2.1): what the client asks the host's pages to do.
/// The host reads it through [`crate::PendingAuthorization::prompt`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prompt {
    /// `none`: show no page at all; answer at once, or with `login_required`,
    /// `consent_required` or `interaction_required`.
    pub none: bool,
    /// `login`: authenticate the user again, even with a session.
    pub login: bool,
    /// `consent`: ask for consent again, even if it was given before.
    pub consent: bool,
    /// `select_account`: let the user choose among their accounts.
    pub select_account: bool,
}

impl Prompt {
    /// Parses a space-separated `prompt` value; `none` with any other value, or an unknown
    /// value, is `invalid_request`.
    pub(crate) fn parse(text: Option<&str>) -> Result<Self, OAuthError> {
        let mut prompt = Self::default();
        let Some(text) = text else {
            return Ok(prompt);
        };
        for value in text.split(' ').filter(|v| !v.is_empty()) {
            let flag = match value {
                "none" => &mut prompt.none,
                "login" => &mut prompt.login,
                "consent" => &mut prompt.consent,
                "select_account" => &mut prompt.select_account,
                _ => {
                    return Err(OAuthError::invalid_request(
                        "prompt has a value other than none, login, consent and select_account",
                    ));
                }
            };
            *flag = true;
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with another value",
            ));
        }
        Ok(prompt)
    }
}

/// Why a `prompt=none` request cannot be answered without a page (OIDC Core §3.1.2.6), for
/// [`crate::PendingAuthorization::interaction_required`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interaction {
    /// `login_required`: no user is signed in (or `max_age` demands a new login).
    Login,
    /// `consent_required`: the user has not consented to this client and these scopes.
    Consent,
    /// `account_selection_required`: several accounts are signed in and none is chosen.
    AccountSelection,
    /// `interaction_required`: some other page would be needed.
    Other,
}

impl Interaction {
    /// The error code sent to the client.
    pub fn code(self) -> ErrorCode {
        ErrorCode::Custom(Cow::Borrowed(match self {
            Self::Login => "login_required",
            Self::Consent => "consent_required",
            Self::AccountSelection => "account_selection_required",
            Self::Other => "interaction_required",
        }))
    }

    pub(crate) fn error(self) -> OAuthError {
        let description = match self {
            Self::Login => "the user must sign in, and prompt=none forbids asking",
            Self::Consent => "the user must consent, and prompt=none forbids asking",
            Self::AccountSelection => {
                "the user must choose an account, and prompt=none forbids asking"
            }
            Self::Other => "the user must interact, and prompt=none forbids asking",
        };
        OAuthError::new(self.code(), description)
    }
}

/// The OpenID Connect parameters of a valid authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OpenIdAsk {
    /// Whether the scope has `openid`.
    pub(crate) openid: bool,
    pub(crate) nonce: Option<String>,
    /// The `claims` request, checked, as the client sent it (stored with the code).
    pub(crate) claims: Option<String>,
    pub(crate) prompt: Prompt,
    /// `max_age` in seconds.
    pub(crate) max_age: Option<i64>,
    pub(crate) login_hint: Option<String>,
    pub(crate) id_token_hint: Option<String>,
    pub(crate) ui_locales: Option<String>,
    pub(crate) acr_values: Option<String>,
}

/// The OpenID Connect parameters as the endpoint read them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OpenIdParams<'a> {
    pub(crate) nonce: Option<&'a str>,
    pub(crate) claims: Option<&'a str>,
    pub(crate) prompt: Option<&'a str>,
    pub(crate) max_age: Option<&'a str>,
    pub(crate) login_hint: Option<&'a str>,
    pub(crate) id_token_hint: Option<&'a str>,
    pub(crate) ui_locales: Option<&'a str>,
    pub(crate) acr_values: Option<&'a str>,
    pub(crate) request: bool,
}

/// Checks the OpenID Connect parameters of a request whose scope `openid` says whether it is
/// an OpenID Connect one. `prompt` is checked either way (OAuth clients send it too).
pub(crate) fn check(openid: bool, params: &OpenIdParams<'_>) -> Result<OpenIdAsk, OAuthError> {
    // OIDC Core §6: an OP without request objects says so. (`request_uri` is left to PAR,
    // RFC 9126, which resolves it before this.)
    if openid && params.request {
        return Err(OAuthError::new(
            ErrorCode::Custom(Cow::Borrowed("request_not_supported")),
            "request objects are not supported",
        ));
    }
    // A plain OAuth request's `prompt` is read where it means something, and ignored where
    // it does not: only OpenID Connect defines its values.
    let prompt = match Prompt::parse(params.prompt) {
        Ok(prompt) => prompt,
        Err(_) if !openid => Prompt::default(),
        Err(error) => return Err(error),
    };
    let max_age = params
        .max_age
        .map(|text| {
            text.parse::<u32>()
                .map(i64::from)
                .map_err(|_| OAuthError::invalid_request("max_age must be a non-negative integer"))
        })
        .transpose()?;
    if let Some(nonce) = params.nonce
        && nonce.chars().count() > MAX_NONCE_LEN
    {
        return Err(OAuthError::invalid_request("the nonce is too long"));
    }
    let claims = params
        .claims
        .map(|text| check_claims_request(text).map(|()| text.to_owned()))
        .transpose()?;
    let owned = |v: Option<&str>| v.map(str::to_owned);
    Ok(OpenIdAsk {
        openid,
        nonce: owned(params.nonce),
        claims,
        prompt,
        max_age,
        login_hint: owned(params.login_hint),
        id_token_hint: owned(params.id_token_hint),
        ui_locales: owned(params.ui_locales),
        acr_values: owned(params.acr_values),
    })
}

/// The member of a `claims` request for one place claims are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimsMember {
    IdToken,
    UserInfo,
}

impl ClaimsMember {
    fn name(self) -> &'static str {
        match self {
            Self::IdToken => "id_token",
            Self::UserInfo => "userinfo",
        }
    }
}

/// Checks a `claims` request (OIDC Core §5.5): a JSON object whose `userinfo` and `id_token`
/// members, if present, are objects mapping claim names to `null` or an object whose
/// `essential` is a boolean, `values` an array; other members are ignored.
pub(crate) fn check_claims_request(text: &str) -> Result<(), OAuthError> {
    let invalid = |why: &str| OAuthError::invalid_request(format!("the claims parameter {why}"));
    if text.len() > MAX_CLAIMS_REQUEST_LEN {
        return Err(invalid("is longer than 4096 bytes"));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| invalid("is not valid JSON"))?;
    let object = value
        .as_object()
        .ok_or_else(|| invalid("is not a JSON object"))?;
    let mut count = 0;
    for member in [ClaimsMember::IdToken, ClaimsMember::UserInfo] {
        let Some(requested) = object.get(member.name()) else {
            continue;
        };
        let requested = requested
            .as_object()
            .ok_or_else(|| invalid("has a userinfo or id_token member that is not an object"))?;
        for (name, request) in requested {
            count += 1;
            if name.is_empty() || count > MAX_REQUESTED_CLAIMS {
                return Err(invalid("names an empty claim or too many claims"));
            }
            match request {
                serde_json::Value::Null => {}
                serde_json::Value::Object(request) => {
                    if request.get("essential").is_some_and(|e| !e.is_boolean()) {
                        return Err(invalid("has an essential member that is not a boolean"));
                    }
                    if request.get("values").is_some_and(|v| !v.is_array()) {
                        return Err(invalid("has a values member that is not an array"));
                    }
                }
                _ => return Err(invalid("requests a claim with neither null nor an object")),
            }
        }
    }
    Ok(())
}

/// The claim names a (checked) `claims` request asks for in `member`.
#[cfg_attr(not(feature = "jose"), allow(dead_code))]
pub(crate) fn requested_claims(text: Option<&str>, member: ClaimsMember) -> Vec<String> {
    let Some(value) = text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) else {
        return Vec::new();
    };
    value
        .get(member.name())
        .and_then(serde_json::Value::as_object)
        .map(|claims| claims.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_values_are_checked() {
        let parsed = Prompt::parse(Some("login consent")).unwrap_or_default();
        assert!(parsed.login && parsed.consent && !parsed.none);
        assert!(Prompt::parse(Some("none")).is_ok_and(|p| p.none));
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("sometimes")).is_err());
        assert_eq!(Prompt::parse(None).ok(), Some(Prompt::default()));
    }

    #[test]
    fn claims_requests_are_checked() {
        assert!(
            check_claims_request(
                r#"{"id_token":{"email":null,"acr":{"essential":true,"values":["x"]}}}"#
            )
            .is_ok()
        );
        assert!(check_claims_request(r#"{"userinfo":{"name":null},"other":1}"#).is_ok());
        for bad in [
            "not json",
            "[]",
            r#"{"id_token":[]}"#,
            r#"{"userinfo":{"name":1}}"#,
            r#"{"userinfo":{"name":{"essential":"yes"}}}"#,
            r#"{"userinfo":{"name":{"values":"a"}}}"#,
        ] {
            assert!(check_claims_request(bad).is_err(), "{bad}");
        }
        // Stored with every token of the grant: bounded whatever the parameter limits.
        let padding = " ".repeat(MAX_CLAIMS_REQUEST_LEN);
        let long = format!(r#"{{"userinfo":{{"name":null}}{padding}}}"#);
        let refused = check_claims_request(&long)
            .err()
            .and_then(|e| e.description);
        assert!(
            refused.as_deref().is_some_and(|d| d.contains("4096 bytes")),
            "{refused:?}"
        );
        let names = requested_claims(
            Some(r#"{"id_token":{"email":null}}"#),
            ClaimsMember::IdToken,
        );
        assert_eq!(names, ["email"]);
        assert!(
            requested_claims(
                Some(r#"{"id_token":{"email":null}}"#),
                ClaimsMember::UserInfo
            )
            .is_empty()
        );
    }

    #[test]
    fn max_age_and_request_objects() {
        let params = OpenIdParams {
            max_age: Some("-1"),
            ..Default::default()
        };
        assert!(check(true, &params).is_err());
        let params = OpenIdParams {
            max_age: Some("0"),
            ..Default::default()
        };
        assert_eq!(check(true, &params).ok().and_then(|a| a.max_age), Some(0));
        let params = OpenIdParams {
            request: true,
            ..Default::default()
        };
        let refused = check(true, &params)
            .err()
            .map(|e| e.code.as_str().to_owned());
        assert_eq!(refused.as_deref(), Some("request_not_supported"));
    }
}
