//! Token introspection (RFC 7662).

use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::store::TokenType;

/// The answer for an active token, its members in the order they have always been written.
/// A typed value borrowed from the record: no map, no owned keys or values.
#[derive(serde::Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a ScopeSet,
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    token_type: &'static str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iss: &'a str,
}

impl Provider {
    /// The introspection endpoint. The caller must authenticate as a client; it learns about its
    /// own tokens only. Anything else (unknown, expired, revoked, foreign) is
    /// `{"active": false}` and nothing more.
    pub async fn introspect(&self, request: &FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        let token = match params.require("token") {
            Ok(token) => token,
            Err(error) => return self.token_error(&error),
        };
        let inactive = || Response::json_bytes(200, br#"{"active":false}"#.to_vec());
        let Some(hash) = super::revoke::issued_token_hash(token) else {
            return inactive();
        };
        let record = match self.cx().store().find_token(&hash).await {
            Ok(Some(record)) => record,
            Ok(None) => return inactive(),
            Err(error) => return self.token_error(&error.into()),
        };
        if record.client_id != client.id || record.is_expired(self.now()) {
            return inactive();
        }
        let user = record.user.as_ref().map(|user| user.as_str());
        let body = Active {
            active: true,
            scope: &record.scopes,
            client_id: record.client_id.as_str(),
            username: user,
            sub: user,
            token_type: match record.token_type {
                TokenType::Access => "Bearer",
                _ => "refresh_token",
            },
            iat: record.issued_at.unix_timestamp(),
            exp: record.expires_at.map(|exp| exp.unix_timestamp()),
            iss: self.config().issuer(),
        };
        // Serialising borrowed strings and integers cannot fail.
        Response::json_bytes(200, serde_json::to_vec(&body).unwrap_or_default())
    }
}
