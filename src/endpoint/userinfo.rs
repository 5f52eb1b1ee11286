//! The OpenID Connect userinfo endpoint (OIDC Core 1.0 §5.3): the claims of the user an
//! access token with scope `openid` acts for, over GET and POST with the bearer rules of
//! RFC 6750.

use crate::endpoint::bearer::{BearerError, BearerRequest};
use crate::error::ErrorCode;
use crate::grant::openid::{ClaimsMember, OPENID};
use crate::oidc::{ClaimsRequest, ClaimsTarget, add_claims, released};
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;

impl Provider {
    /// The userinfo endpoint (OIDC Core §5.3), for GET and POST alike: the access token (in
    /// the `Authorization` header, or wherever [`Provider::validate_bearer`] accepts it) must
    /// be valid and carry `openid` (else 401 `invalid_token` or 403 `insufficient_scope`,
    /// with the RFC 6750 challenge); a DPoP-bound token comes with its proof, naming the
    /// advertised userinfo URL ([`BearerRequest::with_dpop`]; the `axum` router passes the
    /// `DPoP` header on). The answer is `sub` and the claims its scopes release, from the
    /// [`ClaimsSource`](crate::oidc::ClaimsSource), as JSON.
    pub async fn userinfo(&self, request: &BearerRequest<'_>) -> Response {
        let openid = ScopeSet::from_tokens([OPENID]).unwrap_or_default();
        let principal = match self.validate_bearer(request, &openid).await {
            Ok(principal) => principal,
            Err(refusal) => return refusal.to_response(self),
        };
        // A token without a user (client credentials) has no one to describe.
        let Some(user) = principal.user() else {
            return BearerError::insufficient_scope(&openid).to_response(self);
        };
        let names = released(principal.scopes(), None, ClaimsMember::UserInfo);
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), user.as_str().into());
        let asked = ClaimsRequest {
            user,
            client_id: principal.client_id(),
            scopes: principal.scopes(),
            names: &names,
            target: ClaimsTarget::UserInfo,
        };
        match add_claims(self.cx(), &asked, &mut claims).await {
            Ok(true) => Response::json(200, &serde_json::Value::Object(claims)),
            Ok(false) => BearerError::new(
                ErrorCode::InvalidToken,
                "the access token's user no longer exists",
            )
            .to_response(self),
            Err(error) => {
                tracing::error!(target: "tessera::oidc", %error, "the claims source failed");
                BearerError::new(
                    ErrorCode::ServerError,
                    "the authorization server met an internal error",
                )
                .to_response(self)
            }
        }
    }
}
