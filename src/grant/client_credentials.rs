//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself.

use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::limiter::Attempt;
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::store::{Grant, GrantId};

impl Provider {
    /// grant_type=client_credentials: an access token, never a refresh token (RFC 6749 §4.4.3).
    pub(crate) async fn client_credentials(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Response, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "public clients cannot use the client_credentials grant",
            ));
        }
        client.check_grant(GrantType::ClientCredentials)?;
        if let Attempt::Refused { retry_after } = self
            .inner
            .machine_issuance
            .attempt(&format!("client_credentials:{}", client.id), self.now())
            .await
        {
            return Err(OAuthError::rate_limited(
                "too many tokens issued to this client; reuse a token until it expires",
                retry_after.whole_seconds().unsigned_abs(),
            ));
        }
        let scopes = match params.get("scope") {
            Some(scope) => self.requested_scopes(client, Some(scope))?,
            // The default never includes `offline_access`: it means "while the user is away",
            // and there is no user here.
            None => {
                let all = self.requested_scopes(client, None)?;
                ScopeSet::from_tokens(
                    all.iter()
                        .map(|s| s.as_str())
                        .filter(|s| *s != "offline_access"),
                )?
            }
        };
        let grant = Grant::new(
            GrantId::generate(self.entropy()),
            client.id.clone(),
            None,
            scopes.clone(),
            GrantType::ClientCredentials,
            self.now(),
        );
        let issued = self.issue(client, &grant, scopes, false, None).await?;
        Ok(self.token_response(&issued))
    }
}
