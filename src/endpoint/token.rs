//! The token endpoint (RFC 6749 §3.2): client authentication, then the grant named by
//! `grant_type`.

use crate::client::GrantType;
use crate::error::{ErrorCode, OAuthError};
use crate::provider::Provider;
use crate::response::Response;

use crate::endpoint::form::FormRequest;

impl Provider {
    /// The token endpoint. Always answers: a token response, or an error in the RFC 6749 §5.2
    /// form (in the configured dialect) with its status and, for a failed Basic
    /// authentication, a `WWW-Authenticate` challenge.
    pub async fn token(&self, request: &FormRequest) -> Response {
        let params = match self.form_params(request) {
            Ok(params) => params,
            Err(error) => return self.token_error(&error),
        };
        let config = self.config();
        let grant = match params
            .get("grant_type")
            .or(config.dialect.default_grant_type.map(GrantType::as_str))
        {
            None => {
                return self.token_error(&OAuthError::invalid_request(
                    "missing parameter `grant_type`",
                ));
            }
            Some(name) => match config
                .dialect
                .grant_type(name)
                .filter(|g| config.grant_enabled(*g))
            {
                Some(grant) => grant,
                None => {
                    return self.token_error(&OAuthError::new(
                        ErrorCode::UnsupportedGrantType,
                        "the grant_type is not supported by this server",
                    ));
                }
            },
        };
        let client = match self.authenticate_request(&params, request).await {
            Ok(client) => client,
            Err(failure) => return failure.into_response(self),
        };
        let outcome = match grant {
            GrantType::AuthorizationCode => self.redeem_code(&client, &params).await,
            GrantType::RefreshToken => self.refresh(&client, &params).await,
            GrantType::ClientCredentials => self.client_credentials(&client, &params).await,
            GrantType::DeviceCode => self.poll_device(&client, &params).await,
            GrantType::TokenExchange => self.exchange(&client, &params).await,
        };
        outcome.unwrap_or_else(|error| self.token_error(&error))
    }
}
