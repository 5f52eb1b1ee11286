//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself.

use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
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
        let scopes = self.requested_scopes(client, params.get("scope"))?;
        let grant = Grant::new(
            GrantId::generate(self.entropy()),
            client.id.clone(),
            None,
            scopes.clone(),
            GrantType::ClientCredentials,
            self.now(),
        );
        let issued = self.issue(client, &grant, scopes, false, true).await?;
        Ok(self.token_response(&issued))
    }
}
