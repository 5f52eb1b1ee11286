//! Token revocation (RFC 7009).

use crate::audit::AuditEvent;
use crate::config::Config;
use crate::endpoint::form::FormRequest;
use crate::error::OAuthError;
use crate::provider::Provider;
use crate::response::Response;
use crate::secret::{TokenHash, TokenKind};
use crate::store::RefreshLookup;

/// The stored hash of a presented access or refresh token, or `None` for a value tessera never
/// issues, which is then never looked up (revocation and introspection answer it as unknown
/// without touching storage, as bearer validation does). A JWT access token (RFC 9068) is
/// looked up by the hash of the whole JWT, when the provider issues them.
pub(crate) fn issued_token_hash(config: &Config, token: &str) -> Option<TokenHash> {
    if TokenKind::AccessToken.is_well_formed(token) || TokenKind::RefreshToken.is_well_formed(token)
    {
        return Some(TokenHash::of_well_formed(token));
    }
    (config.any_jwt_access_tokens() && crate::jwt_access::is_jws_shaped(token))
        .then(|| TokenHash::of(token))
}

impl Provider {
    /// The revocation endpoint. The client must authenticate; it may revoke only its own tokens.
    /// Revoking any token revokes its whole grant family (RFC 7009 §2.1): every access and
    /// refresh token of it, including tokens exchanged from it (RFC 8693). Unknown, foreign or
    /// malformed tokens get the same `200` as revoked ones, so nothing is revealed; the
    /// `token_type_hint` is not needed and is ignored.
    pub async fn revoke(&self, request: &FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        let token = match params.require("token") {
            Ok(token) => token,
            Err(error) => return self.token_error(&error),
        };
        let done = Response::json(200, &serde_json::json!({}));
        let Some(hash) = issued_token_hash(self.config(), token) else {
            return done;
        };
        let store = self.cx().store();
        let outcome: Result<(), OAuthError> = async {
            if let Some(record) = store.find_token(&hash).await? {
                if record.client_id == client.id {
                    // The whole family goes, whichever token is presented (RFC 7009 §2.1
                    // allows it): a family shared by token exchange dies together, and a
                    // client that revokes its access token at sign-out leaves no refresh
                    // token behind.
                    store.revoke_grant(&record.grant_id).await?;
                    self.cx().audit(AuditEvent::TokenRevoked {
                        client_id: client.id.clone(),
                    });
                }
            } else if let RefreshLookup::Retired(retired) = store.find_refresh(&hash).await?
                && retired.record.client_id == client.id
            {
                store.revoke_grant(&retired.record.grant_id).await?;
                self.cx().audit(AuditEvent::TokenRevoked {
                    client_id: client.id.clone(),
                });
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => done,
            // RFC 7009 §2.2.1: a server that cannot revoke now answers 503, whatever the
            // fault (logged once, by the conversion of `?` above).
            Err(_) => self.token_error(&OAuthError {
                retry_after: Some(OAuthError::UNAVAILABLE_RETRY_AFTER),
                ..OAuthError::new(
                    crate::ErrorCode::TemporarilyUnavailable,
                    "the token could not be revoked now; try again",
                )
            }),
        }
    }
}
