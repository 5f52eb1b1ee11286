//! The error model: the wire vocabulary ([`ErrorCode`]), the error a client sees
//! ([`OAuthError`]) and storage faults ([`StoreError`]), which clients only ever see as
//! `temporarily_unavailable` (HTTP 503 with `Retry-After`, for [`StoreError::Unavailable`]) or
//! `server_error` (HTTP 500, anything else), never with the fault's cause.

use std::borrow::Cow;
use std::fmt;

use crate::response::Response;

/// An OAuth error code, as it appears in the `error` field on the wire.
///
/// Covers every code registered by RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1,
/// RFC 7591 §3.2.2, RFC 8628 §3.5, RFC 8693 §2.2.2, RFC 9449 and RFC 9101 §6.2. [`ErrorCode::Custom`] carries codes a
/// provider dialect invents (PhoneGap Build's `authorization_refused`, for example).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated, malformed or unsupported.
    InvalidRequest,
    /// `invalid_client`: client authentication failed (RFC 6749 §5.2).
    InvalidClient,
    /// `invalid_grant`: the code, refresh token or credentials are invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant or response type.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the grant type is not supported by the provider.
    UnsupportedGrantType,
    /// `unsupported_response_type`: the response type is not supported.
    UnsupportedResponseType,
    /// `invalid_scope`: the requested scope is invalid, unknown or exceeds what was granted.
    InvalidScope,
    /// `access_denied`: the resource owner or provider denied the request.
    AccessDenied,
    /// `server_error`: the provider met an unexpected condition (a storage fault).
    ServerError,
    /// `temporarily_unavailable`: the provider is overloaded or under maintenance.
    TemporarilyUnavailable,
    /// `invalid_token`: the bearer token is missing its mark: expired, revoked or malformed
    /// (RFC 6750 §3.1).
    InvalidToken,
    /// `insufficient_scope`: the bearer token lacks the scope the resource needs (RFC 6750 §3.1).
    InsufficientScope,
    /// `unsupported_token_type`: the provider cannot revoke this token type (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// `invalid_redirect_uri`: a registered redirect URI is invalid (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// `invalid_client_metadata`: a registration metadata field is invalid (RFC 7591 §3.2.2).
    InvalidClientMetadata,
    /// `invalid_software_statement` (RFC 7591 §3.2.2).
    InvalidSoftwareStatement,
    /// `unapproved_software_statement` (RFC 7591 §3.2.2).
    UnapprovedSoftwareStatement,
    /// `authorization_pending`: the device flow's user has not decided yet (RFC 8628 §3.5).
    AuthorizationPending,
    /// `slow_down`: the device client polls too fast (RFC 8628 §3.5).
    SlowDown,
    /// `expired_token`: the device code expired (RFC 8628 §3.5).
    ExpiredToken,
    /// `invalid_target`: the token-exchange target is unacceptable (RFC 8693 §2.2.2).
    InvalidTarget,
    /// `invalid_dpop_proof` (RFC 9449 §5, §7.1): a DPoP proof is missing or invalid.
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8, §9): the DPoP proof must carry the server's nonce.
    UseDpopNonce,
    /// `invalid_request_object` (RFC 9101 §6.2, OpenID Connect Core §3.1.2.6): the `request`
    /// parameter's request object is invalid (signature, key, algorithm or claims).
    InvalidRequestObject,
    /// A code outside the registered vocabulary, spelled as given.
    Custom(Cow<'static, str>),
}

impl ErrorCode {
    /// The code as it is written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::Custom(code) => code,
        }
    }

    /// The HTTP status this code is answered with by the token-style endpoints.
    ///
    /// `invalid_client` and `invalid_token` are 401, `insufficient_scope` 403,
    /// `server_error` 500, `temporarily_unavailable` 503 and everything else 400
    /// (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

// One wire code, one value: `Custom("invalid_grant")` is `InvalidGrant`.
impl PartialEq for ErrorCode {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ErrorCode {}

impl std::hash::Hash for ErrorCode {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a client is told about: the RFC 6749 §5.2 triple.
///
/// Render it with [`OAuthError::to_response`] (a JSON body with `Cache-Control: no-store`) or put
/// it on an authorization response redirect (the provider does that).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {}", description.as_deref().unwrap_or("(no description)"))]
#[non_exhaustive]
pub struct OAuthError {
    /// The wire code.
    pub code: ErrorCode,
    /// A human-readable explanation for the client's developer (ASCII, no secrets).
    pub description: Option<Cow<'static, str>>,
    /// A page documenting the error.
    pub uri: Option<String>,
    /// For a refusal that time cures (a rate limit): seconds to wait, sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Whether the refusal is a rate limit (HTTP 429) rather than what `code` says.
    pub(crate) too_many: bool,
}

impl OAuthError {
    /// An error with a code and a description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            uri: None,
            retry_after: None,
            too_many: false,
        }
    }

    /// An error with a code only.
    pub fn bare(code: ErrorCode) -> Self {
        Self {
            code,
            description: None,
            uri: None,
            retry_after: None,
            too_many: false,
        }
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant` with a description.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_scope` with a description.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    /// A rate limit: `temporarily_unavailable` with HTTP 429 and `Retry-After` (RFC 6585 §4).
    pub fn rate_limited(description: impl Into<Cow<'static, str>>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            too_many: true,
            ..Self::new(ErrorCode::TemporarilyUnavailable, description)
        }
    }

    /// The HTTP status to send it with: the code's, or 429 for a rate limit.
    pub fn status(&self) -> u16 {
        if self.too_many {
            429
        } else {
            self.code.status()
        }
    }

    /// `server_error` for a storage fault; the fault itself is not described to the client.
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "the authorization server met an internal error",
        )
    }

    /// The seconds a client is told to wait (`Retry-After`) when the store is unavailable.
    pub const UNAVAILABLE_RETRY_AFTER: u64 = 2;

    /// `temporarily_unavailable` with HTTP 503 and `Retry-After`
    /// ([`OAuthError::UNAVAILABLE_RETRY_AFTER`] seconds): what a [`StoreError::Unavailable`]
    /// becomes. The fault itself is not described to the client.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(Self::UNAVAILABLE_RETRY_AFTER),
            ..Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the authorization server is temporarily unavailable; try again shortly",
            )
        }
    }

    /// The JSON body of RFC 6749 §5.2.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.code.as_str().into());
        if let Some(description) = &self.description {
            body.insert("error_description".into(), description.as_ref().into());
        }
        if let Some(uri) = &self.uri {
            body.insert("error_uri".into(), uri.as_str().into());
        }
        serde_json::Value::Object(body)
    }

    /// The complete response of a token-style endpoint: status from [`OAuthError::status`], a
    /// JSON body, the no-store headers and `Retry-After` when there is one.
    pub fn to_response(&self) -> Response {
        self.with_retry_after(Response::json(self.status(), &self.to_json()))
    }

    /// `response` with this error's `Retry-After`, if it has one.
    pub(crate) fn with_retry_after(&self, response: Response) -> Response {
        match self.retry_after {
            Some(seconds) => response.with_header("retry-after", seconds.to_string()),
            None => response,
        }
    }
}

impl From<StoreError> for OAuthError {
    /// What the client is told of a storage fault: [`OAuthError::unavailable`] for
    /// [`StoreError::Unavailable`], [`OAuthError::server_error`] for anything else. This is
    /// where a fault the provider answers becomes the client's error, so it is logged here,
    /// once: a `tracing` warning (`Unavailable`) or error (anything else), target
    /// `tessera::store`, with the fault's cause (which never holds a token, code or secret:
    /// stores see only hashes, and the adapters' messages name none).
    fn from(error: StoreError) -> Self {
        error.log();
        if error.is_unavailable() {
            Self::unavailable()
        } else {
            Self::server_error()
        }
    }
}

/// A storage fault. Clients see it as `temporarily_unavailable` (503, for
/// [`StoreError::Unavailable`]) or `server_error` (500), never its cause; the provider logs it
/// where it answers it (see [`OAuthError`]'s `From<StoreError>`). What a provider method returns
/// to the host as a `StoreError` is the host's to log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same key already exists (for example a client ID taken).
    #[error("a record with this key already exists")]
    Conflict,
    /// The backend cannot be reached or refused the operation for now.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Any other backend fault, with its source.
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record could not be decoded (a schema or version mismatch).
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    /// Whether the fault is transient: the backend cannot be reached or is busy now
    /// ([`StoreError::Unavailable`]), so the same request may succeed if retried.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Logs the fault as the provider answers it: a warning for `Unavailable`, an error for
    /// anything else, with the cause (and its sources).
    pub(crate) fn log(&self) {
        let mut cause = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(next) = source {
            cause.push_str(": ");
            cause.push_str(&next.to_string());
            source = next.source();
        }
        if self.is_unavailable() {
            tracing::warn!(target: "tessera::store", %cause, "store unavailable; answered 503 temporarily_unavailable");
        } else {
            tracing::error!(target: "tessera::store", %cause, "store fault; answered 500 server_error");
        }
    }
}

/// Why the host's own client administration ([`crate::Provider::register_client`],
/// [`crate::Provider::import_client`], [`crate::Provider::rotate_client_secret`]) refused: a
/// refusal for the host, not a wire error for a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The registration's metadata is not acceptable (the reason says which field and why).
    #[error("invalid client metadata: {0}")]
    InvalidMetadata(String),
    /// A redirect URI is not acceptable (the reason says which and why).
    #[error("invalid redirect URI: {0}")]
    InvalidRedirectUri(String),
    /// No client has this ID (or it is being deleted).
    #[error("no such client")]
    UnknownClient,
    /// A client with this ID already exists.
    #[error("a client with this ID already exists")]
    ClientExists,
    /// The operation needs a confidential client (a public client has no secret).
    #[error("a public client has no secret")]
    PublicClient,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// A metadata refusal from the checks shared with the registration endpoint.
    pub(crate) fn from_registration(error: OAuthError) -> Self {
        let reason = error.description.map(String::from).unwrap_or_default();
        match error.code {
            ErrorCode::InvalidRedirectUri => Self::InvalidRedirectUri(reason),
            _ => Self::InvalidMetadata(reason),
        }
    }
}

impl From<AdminError> for OAuthError {
    /// The registration endpoint's answer (RFC 7591 §3.2.2) for the same refusal.
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::InvalidRedirectUri(description) => {
                Self::new(ErrorCode::InvalidRedirectUri, description)
            }
            AdminError::Store(error) => error.into(),
            AdminError::InvalidMetadata(description) => {
                Self::new(ErrorCode::InvalidClientMetadata, description)
            }
            other => Self::new(ErrorCode::InvalidClientMetadata, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_rfc_spelling_and_status() {
        let cases = [
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::InvalidClient, "invalid_client", 401),
            (ErrorCode::InvalidGrant, "invalid_grant", 400),
            (ErrorCode::UnauthorizedClient, "unauthorized_client", 400),
            (
                ErrorCode::UnsupportedGrantType,
                "unsupported_grant_type",
                400,
            ),
            (
                ErrorCode::UnsupportedResponseType,
                "unsupported_response_type",
                400,
            ),
            (ErrorCode::InvalidScope, "invalid_scope", 400),
            (ErrorCode::AccessDenied, "access_denied", 400),
            (ErrorCode::ServerError, "server_error", 500),
            (
                ErrorCode::TemporarilyUnavailable,
                "temporarily_unavailable",
                503,
            ),
            (ErrorCode::InvalidToken, "invalid_token", 401),
            (ErrorCode::InsufficientScope, "insufficient_scope", 403),
            (
                ErrorCode::UnsupportedTokenType,
                "unsupported_token_type",
                400,
            ),
            (ErrorCode::InvalidRedirectUri, "invalid_redirect_uri", 400),
            (
                ErrorCode::InvalidClientMetadata,
                "invalid_client_metadata",
                400,
            ),
            (
                ErrorCode::InvalidSoftwareStatement,
                "invalid_software_statement",
                400,
            ),
            (
                ErrorCode::UnapprovedSoftwareStatement,
                "unapproved_software_statement",
                400,
            ),
            (
                ErrorCode::AuthorizationPending,
                "authorization_pending",
                400,
            ),
            (ErrorCode::SlowDown, "slow_down", 400),
            (ErrorCode::ExpiredToken, "expired_token", 400),
            (ErrorCode::InvalidTarget, "invalid_target", 400),
        ];
        for (code, wire, status) in cases {
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.status(), status, "{wire}");
        }
        assert_eq!(
            ErrorCode::Custom("authorization_refused".into()).as_str(),
            "authorization_refused"
        );
        // One wire code has one value, however it was spelled in Rust.
        assert_eq!(
            ErrorCode::Custom("invalid_grant".into()),
            ErrorCode::InvalidGrant
        );
        assert_ne!(
            ErrorCode::Custom("invalid grant".into()),
            ErrorCode::InvalidGrant
        );
    }

    #[test]
    fn json_body_has_only_present_fields() {
        let body = OAuthError::bare(ErrorCode::InvalidGrant).to_json();
        assert_eq!(body, serde_json::json!({"error": "invalid_grant"}));
        let body = OAuthError::invalid_request("missing code").to_json();
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_request", "error_description": "missing code"})
        );
    }

    #[test]
    fn an_unavailable_store_is_a_503_with_retry_after_and_no_cause() {
        let error: OAuthError = StoreError::Unavailable("db password is hunter2".into()).into();
        assert_eq!(error.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(error.status(), 503);
        assert!(!error.to_json().to_string().contains("hunter2"));
        let response = error.to_response();
        assert_eq!(response.status, 503);
        assert_eq!(
            response.header("retry-after"),
            Some(OAuthError::UNAVAILABLE_RETRY_AFTER.to_string().as_str())
        );
        assert!(!String::from_utf8_lossy(&response.body).contains("hunter2"));
    }

    /// Everything `tracing` writes while `f` runs, formatted.
    fn logged(f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink(Arc::default());
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = sink.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn each_answered_store_fault_is_logged_once_with_its_cause() {
        let log = logged(|| {
            let _ = OAuthError::from(StoreError::Unavailable("connection refused".into()));
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(
            log.contains("WARN") && log.contains("tessera::store"),
            "{log}"
        );
        assert!(log.contains("connection refused"), "{log}");

        let log = logged(|| {
            let _ = OAuthError::from(StoreError::backend(std::io::Error::other("disk full")));
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("ERROR") && log.contains("disk full"), "{log}");
    }

    #[test]
    fn other_store_faults_are_a_500_without_retry_after() {
        let faults = [
            StoreError::Corrupt("client hunter2".into()),
            StoreError::backend(std::io::Error::other("hunter2")),
            StoreError::Conflict,
        ];
        for fault in faults {
            let error = OAuthError::from(fault);
            assert_eq!(error.code, ErrorCode::ServerError);
            assert_eq!(error.status(), 500);
            assert_eq!(error.retry_after, None);
            assert!(!error.to_json().to_string().contains("hunter2"));
            assert_eq!(error.to_response().header("retry-after"), None);
        }
    }
}
