//! The one place the token-style endpoints' answers become responses, in the provider's
//! dialect: successful token responses (RFC 6749 §5.1) and errors (§5.2).

use crate::config::Dialect;
use crate::error::OAuthError;
use crate::grant::issue::TokenResponse;
use crate::response::{BodyFormat, Response};

/// A successful token response, in the dialect's format and fields.
pub(crate) fn tokens(dialect: &Dialect, tokens: &TokenResponse) -> Response {
    if dialect.token_fields.is_none() && dialect.token_format == BodyFormat::Json {
        // Nothing to filter or re-encode: serialise straight from the fields.
        return Response::json_bytes(200, tokens.to_json_bytes());
    }
    let mut body = serde_json::Map::new();
    for (name, value) in tokens.fields() {
        let kept = dialect
            .token_fields
            .as_ref()
            .is_none_or(|fields| fields.iter().any(|f| f == name));
        if kept {
            // `expires_in` stays a number in JSON, as RFC 6749 §5.1 has it.
            let value = match (name, value.parse::<i64>()) {
                ("expires_in", Ok(seconds)) => seconds.into(),
                _ => value.into(),
            };
            body.insert(name.to_owned(), value);
        }
    }
    Response::encoded(dialect.token_format, 200, &serde_json::Value::Object(body))
}

/// An error of the token, revocation, introspection or device authorization endpoint, in the
/// dialect's vocabulary (renamed, or collapsed to one code), with its status and any
/// `Retry-After`.
pub(crate) fn token_error(dialect: &Dialect, error: &OAuthError) -> Response {
    let shown = match &dialect.collapsed_token_error {
        Some(code) => OAuthError::bare(code.clone()),
        None => OAuthError {
            code: dialect.rename(&error.code),
            ..error.clone()
        },
    };
    error.with_retry_after(Response::encoded(
        dialect.token_format,
        error.status(),
        &shown.to_json(),
    ))
}
