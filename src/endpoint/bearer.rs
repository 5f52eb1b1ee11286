//! Bearer token validation for resource servers (RFC 6750): the hottest path in the library.
//!
//! One format check (no storage for a malformed token), one SHA-256, one store lookup.

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::client::{ClientId, UserId};
use crate::error::ErrorCode;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::secret::{TokenHash, TokenKind};
use crate::store::{GrantId, TokenRecord, TokenType};

/// Where a resource request may carry its token, as the host received it.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct BearerRequest<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// An `application/x-www-form-urlencoded` body (RFC 6750 §2.2).
    pub form: Option<&'a [u8]>,
}

impl<'a> BearerRequest<'a> {
    /// A request with these parts.
    pub fn new(
        authorization: Option<&'a str>,
        query: Option<&'a str>,
        form: Option<&'a [u8]>,
    ) -> Self {
        Self {
            authorization,
            query,
            form,
        }
    }

    /// A request with only an `Authorization` header.
    pub fn header(authorization: &'a str) -> Self {
        Self {
            authorization: Some(authorization),
            query: None,
            form: None,
        }
    }
}

/// The holder of a valid access token: who, for which client, with which scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    record: Arc<TokenRecord>,
}

impl Principal {
    /// The user the token acts for (`None` for client credentials).
    pub fn user(&self) -> Option<&UserId> {
        self.record.user.as_ref()
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> &ClientId {
        &self.record.client_id
    }

    /// The scopes the token carries.
    pub fn scopes(&self) -> &ScopeSet {
        &self.record.scopes
    }

    /// When the token expires (`None`: never).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.record.expires_at
    }

    /// The grant the token belongs to.
    pub fn grant_id(&self) -> &GrantId {
        &self.record.grant_id
    }
}

/// Why a resource request was refused; renders the RFC 6750 §3 challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerError {
    /// The error code; `None` when the request had no token at all (a bare challenge).
    pub code: Option<ErrorCode>,
    /// The `error_description`.
    pub description: Option<&'static str>,
    /// The scope the resource needs (for `insufficient_scope`).
    pub scope: Option<String>,
}

impl BearerError {
    fn new(code: ErrorCode, description: &'static str) -> Self {
        Self {
            code: Some(code),
            description: Some(description),
            scope: None,
        }
    }

    /// `insufficient_scope` naming `required` (403), for a host that refuses a valid token on
    /// grounds of its own, such as a user-only resource reached with a client-credentials token.
    ///
    /// ```
    /// let needed = tessera::ScopeSet::parse("whoami")?;
    /// let refusal = tessera::BearerError::insufficient_scope(&needed);
    /// assert_eq!(refusal.status(), 403);
    /// assert!(refusal.challenge("x").contains(r#"error="insufficient_scope", "#));
    /// assert!(refusal.challenge("x").ends_with(r#"scope="whoami""#));
    /// # Ok::<(), tessera::OAuthError>(())
    /// ```
    pub fn insufficient_scope(required: &ScopeSet) -> Self {
        Self {
            code: Some(ErrorCode::InsufficientScope),
            description: Some("the access token lacks a required scope"),
            scope: Some(required.to_string()),
        }
    }

    /// 400 (`invalid_request`), 401 (no token, `invalid_token`), 403 (`insufficient_scope`) or
    /// 500 (`server_error`, a storage fault).
    pub fn status(&self) -> u16 {
        match &self.code {
            Some(ErrorCode::InvalidRequest) => 400,
            Some(ErrorCode::InsufficientScope) => 403,
            Some(ErrorCode::ServerError) => 500,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` header value.
    pub fn challenge(&self, realm: &str) -> String {
        let mut value = format!("Bearer realm=\"{realm}\"");
        if let Some(code) = &self.code {
            value.push_str(&format!(", error=\"{code}\""));
        }
        if let Some(description) = self.description {
            value.push_str(&format!(", error_description=\"{description}\""));
        }
        if let Some(scope) = &self.scope {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        value
    }

    /// The complete response: status, challenge, and a JSON body repeating the error.
    pub fn to_response(&self, provider: &Provider) -> Response {
        let mut body = serde_json::Map::new();
        if let Some(code) = &self.code {
            body.insert(
                "error".into(),
                provider.config().dialect.rename(code).as_str().into(),
            );
        }
        if let Some(description) = self.description {
            body.insert("error_description".into(), description.into());
        }
        Response::json(self.status(), &serde_json::Value::Object(body))
            .with_header("www-authenticate", self.challenge(&provider.config().realm))
    }
}

/// Finds `access_token` in a form-encoded string; `Err` if it is there twice.
fn find_param(encoded: &[u8]) -> Result<Option<String>, ()> {
    let mut found = None;
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if name == "access_token" {
            if found.is_some() {
                return Err(());
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

impl Provider {
    /// Extracts the token from wherever the configuration allows.
    /// A header token is borrowed, not copied: the hot path allocates nothing before the store.
    fn bearer_token<'r>(
        &self,
        request: &BearerRequest<'r>,
    ) -> Result<Option<Cow<'r, str>>, BearerError> {
        let config = self.config();
        let multiple = || {
            BearerError::new(
                ErrorCode::InvalidRequest,
                "the token was sent in more than one way",
            )
        };
        let mut token = None;
        if let Some(header) = request.authorization {
            // The usual `Bearer <token>` needs no trimming or searching: borrow the token.
            // Same result as the general parse below, which handles everything else.
            // Only ASCII at the token's ends: anything else takes the general path.
            if let (Some(scheme), Some(value)) = (header.as_bytes().first_chunk(), header.get(7..))
                && is_bearer_scheme(scheme)
                && value.as_bytes().first().is_some_and(u8::is_ascii_graphic)
                && value.as_bytes().last().is_some_and(u8::is_ascii_graphic)
            {
                token = Some(Cow::Borrowed(value));
            }
        }
        if token.is_none()
            && let Some(header) = request.authorization
        {
            let (scheme, value) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
            // RFC 6750 §2.1 + RFC 9110 §11.1: the scheme is case-insensitive (AppHarbor: `BEARER`).
            if scheme.eq_ignore_ascii_case("bearer") {
                let value = value.trim();
                if value.is_empty() {
                    return Err(BearerError::new(
                        ErrorCode::InvalidRequest,
                        "the Authorization header has no token",
                    ));
                }
                token = Some(Cow::Borrowed(value));
            }
        }
        if config.danger.bearer_in_query
            && let Some(query) = request.query
        {
            let found = find_param(query.as_bytes()).map_err(|()| multiple())?;
            if found.is_some() {
                if token.is_some() {
                    return Err(multiple());
                }
                token = found.map(Cow::Owned);
            }
        }
        if config.bearer_in_form
            && let Some(form) = request.form
        {
            let found = find_param(form).map_err(|()| multiple())?;
            if found.is_some() {
                if token.is_some() {
                    return Err(multiple());
                }
                token = found.map(Cow::Owned);
            }
        }
        Ok(token)
    }

    /// Validates the access token of a resource request and checks that it carries every scope
    /// in `required` (RFC 6750). A malformed token is refused without a storage lookup.
    pub async fn validate_bearer(
        &self,
        request: &BearerRequest<'_>,
        required: &ScopeSet,
    ) -> Result<Principal, BearerError> {
        let Some(token) = self.bearer_token(request)? else {
            return Err(BearerError {
                code: None,
                description: None,
                scope: None,
            });
        };
        let invalid = || {
            BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        if !TokenKind::AccessToken.is_well_formed(&token) {
            return Err(invalid());
        }
        let record = self
            .store()
            .find_token(&TokenHash::of_well_formed(&token))
            .await
            .map_err(|_| {
                BearerError::new(
                    ErrorCode::ServerError,
                    "the authorization server met an internal error",
                )
            })?
            .ok_or_else(invalid)?;
        if record.token_type != TokenType::Access || record.is_expired_at_unix(self.unix_now()) {
            return Err(invalid());
        }
        if !required.is_subset(&record.scopes) {
            return Err(BearerError::insufficient_scope(required));
        }
        Ok(Principal { record })
    }
}

/// Whether `scheme` is `Bearer ` in any letter case. OR-ing 0x20 into a byte maps exactly the
/// two cases of a letter to one value, so the six letters compare in one word; the space must
/// be a space.
fn is_bearer_scheme(scheme: &[u8; 7]) -> bool {
    let mut word = [0u8; 8];
    word[..7].copy_from_slice(scheme);
    u64::from_le_bytes(word) | 0x0000_2020_2020_2020 == u64::from_le_bytes(*b"bearer \0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_word_compare_is_eq_ignore_ascii_case() {
        let reference = |s: &[u8; 7]| s.eq_ignore_ascii_case(b"bearer ");
        for base in [*b"Bearer ", *b"bEARER ", *b"BEARER ", *b"xxxxxxx"] {
            for at in 0..7 {
                for byte in 0..=255u8 {
                    let mut scheme = base;
                    scheme[at] = byte;
                    assert_eq!(is_bearer_scheme(&scheme), reference(&scheme), "{scheme:?}");
                }
            }
        }
    }
}
