//! Token introspection (RFC 7662).

use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::{Response, json_i64, json_scope, json_string};
use crate::scope::ScopeSet;
use crate::store::TokenType;

/// The answer for an active token, its members in the order they have always been written.
/// A typed value borrowed from the record: no map, no owned keys or values. Written by
/// [`Active::to_json_bytes`], byte for byte what `serde_json` writes for it (tested).
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

impl Active<'_> {
    fn to_json_bytes(&self) -> Vec<u8> {
        let mut json = Vec::with_capacity(256);
        json.extend_from_slice(br#"{"active":"#);
        json.extend_from_slice(if self.active { b"true" } else { b"false" });
        json.extend_from_slice(br#","scope":"#);
        json_scope(&mut json, self.scope);
        json.extend_from_slice(br#","client_id":"#);
        json_string(&mut json, self.client_id);
        if let Some(username) = self.username {
            json.extend_from_slice(br#","username":"#);
            json_string(&mut json, username);
        }
        if let Some(sub) = self.sub {
            json.extend_from_slice(br#","sub":"#);
            json_string(&mut json, sub);
        }
        json.extend_from_slice(br#","token_type":"#);
        json_string(&mut json, self.token_type);
        json.extend_from_slice(br#","iat":"#);
        json_i64(&mut json, self.iat);
        if let Some(exp) = self.exp {
            json.extend_from_slice(br#","exp":"#);
            json_i64(&mut json, exp);
        }
        json.extend_from_slice(br#","iss":"#);
        json_string(&mut json, self.iss);
        json.push(b'}');
        json
    }
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
        Response::json_bytes(200, body.to_json_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_writer_writes_what_serde_json_writes() {
        let scopes = ScopeSet::parse("read write").unwrap_or_default();
        let empty = ScopeSet::new();
        for (scope, user, exp, iss) in [
            (
                &scopes,
                Some("alice"),
                Some(1_700_003_600),
                "https://auth.example.com",
            ),
            (&empty, None, None, "https://a.example/t\"q\\"),
            (&scopes, Some("b\u{1}ob é"), Some(-5), "https://a.example"),
        ] {
            let body = Active {
                active: true,
                scope,
                client_id: "client-1",
                username: user,
                sub: user,
                token_type: "Bearer",
                iat: 1_700_000_000,
                exp,
                iss,
            };
            assert_eq!(serde_json::to_vec(&body).ok(), Some(body.to_json_bytes()));
        }
    }
}
