//! Token revocation (RFC 7009).

use crate::audit::AuditEvent;
use crate::endpoint::token::FormRequest;
use crate::error::OAuthError;
use crate::provider::Provider;
use crate::response::Response;
use crate::secret::TokenHash;
use crate::store::{RefreshLookup, TokenType};

impl Provider {
    /// The revocation endpoint. The client must authenticate; it may revoke only its own tokens.
    /// Revoking a refresh token revokes its whole grant (RFC 7009 §2.1). Unknown, foreign or
    /// malformed tokens get the same `200` as revoked ones, so nothing is revealed; the
    /// `token_type_hint` is not needed and is ignored.
    pub async fn revoke(&self, request: &FormRequest) -> Response {
        let params = match self.form_params(request) {
            Ok(params) => params,
            Err(error) => return self.token_error(&error),
        };
        let client = match self
            .authenticate_request(&params, request.authorization.as_deref())
            .await
        {
            Ok(client) => client,
            Err(failure) => return failure.into_response(self),
        };
        let token = match params.require("token") {
            Ok(token) => token,
            Err(error) => return self.token_error(&error),
        };
        let done = Response::json(200, &serde_json::json!({}));
        let hash = TokenHash::of(token);
        let store = self.store();
        let outcome: Result<(), OAuthError> = async {
            if let Some(record) = store.find_token(&hash).await? {
                if record.client_id == client.id {
                    match record.token_type {
                        TokenType::Refresh => drop(store.revoke_grant(&record.grant_id).await?),
                        _ => drop(store.revoke_token(&hash).await?),
                    }
                    self.audit(AuditEvent::TokenRevoked {
                        client_id: client.id.clone(),
                    });
                }
            } else if let RefreshLookup::Retired(retired) = store.find_refresh(&hash).await?
                && retired.record.client_id == client.id
            {
                store.revoke_grant(&retired.record.grant_id).await?;
                self.audit(AuditEvent::TokenRevoked {
                    client_id: client.id.clone(),
                });
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => done,
            // RFC 7009 §2.2.1: a server that cannot revoke now answers 503.
            Err(_) => self.token_error(&OAuthError::new(
                crate::ErrorCode::TemporarilyUnavailable,
                "the token could not be revoked now; try again",
            )),
        }
    }
}
