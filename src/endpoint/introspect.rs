//! Token introspection (RFC 7662).

use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::Response;
use crate::store::{Confirmation, TokenType};

impl Provider {
    /// The introspection endpoint. The caller must authenticate as a client; it learns about its
    /// own tokens, and, as a resource server's client ([`crate::Resource::introspected_by`]),
    /// about the tokens whose audience names that resource (RFC 7662 §2.1). Anything else
    /// (unknown, expired, revoked, foreign) is `{"active": false}` and nothing more. The
    /// answer carries `aud`: one resource as a string, several as an array (RFC 7662 §2.2).
    pub async fn introspect(&self, request: &FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        let token = match params.require("token") {
            Ok(token) => token,
            Err(error) => return self.token_error(&error),
        };
        let inactive = Response::json(200, &serde_json::json!({"active": false}));
        let Some(hash) = super::revoke::issued_token_hash(self.config(), token) else {
            return inactive;
        };
        let record = match self.cx().store().find_token(&hash).await {
            Ok(Some(record)) => record,
            Ok(None) => return inactive,
            Err(error) => return self.token_error(&error.into()),
        };
        let config = self.config();
        let for_its_resource = || {
            record.audience.iter().any(|a| {
                config
                    .resource(a)
                    .and_then(|r| r.introspector.as_ref())
                    .is_some_and(|c| *c == client.id)
            })
        };
        if (record.client_id != client.id && !for_its_resource()) || record.is_expired(self.now()) {
            return inactive;
        }
        let mut body = serde_json::Map::new();
        body.insert("active".into(), true.into());
        body.insert("scope".into(), record.scopes.to_string().into());
        body.insert("client_id".into(), record.client_id.as_str().into());
        if let Some(user) = &record.user {
            // The `sub` the token's client knows (a pairwise one, OIDC Core §8.1), so that a
            // resource server sees the same `sub` in a JWT and here; `username` would undo
            // a pairwise `sub`, so it is given for a public one only.
            #[cfg(feature = "jose")]
            let sub = match crate::subject::subject_for_id(self.cx(), &record.client_id, user).await
            {
                Ok(sub) => sub,
                Err(error) => return self.token_error(&error),
            };
            #[cfg(not(feature = "jose"))]
            let sub = user.as_str().to_owned();
            if sub == user.as_str() {
                body.insert("username".into(), user.as_str().into());
            }
            body.insert("sub".into(), sub.into());
        }
        body.insert(
            "token_type".into(),
            match (record.token_type, &record.confirmation) {
                (TokenType::Access, Some(Confirmation::Jkt(_))) => "DPoP",
                (TokenType::Access, _) => "Bearer",
                _ => "refresh_token",
            }
            .into(),
        );
        match record.audience.as_slice() {
            [] => {}
            [one] => {
                body.insert("aud".into(), one.as_str().into());
            }
            many => {
                body.insert("aud".into(), many.to_vec().into());
            }
        }
        // RFC 7800 §3.1, RFC 9449 §6.2: the key the token is bound to.
        match &record.confirmation {
            Some(Confirmation::Jkt(jkt)) => {
                body.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
            }
            Some(Confirmation::X5tS256(thumbprint)) => {
                body.insert("cnf".into(), serde_json::json!({ "x5t#S256": thumbprint }));
            }
            _ => {}
        }
        body.insert("iat".into(), record.issued_at.unix_timestamp().into());
        if let Some(exp) = record.expires_at {
            body.insert("exp".into(), exp.unix_timestamp().into());
        }
        body.insert("iss".into(), self.config().issuer().into());
        Response::json(200, &serde_json::Value::Object(body))
    }
}
