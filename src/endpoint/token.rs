//! The token endpoint (RFC 6749 §3.2): client authentication, then the grant named by
//! `grant_type`.

use crate::client::{Client, GrantType};
use crate::endpoint::form::FormRequest;
use crate::endpoint::render;
use crate::error::{ErrorCode, OAuthError};
use crate::grant::authorization_code::{self, CodeRequest};
use crate::grant::issue::{Sender, TokenResponse};
use crate::grant::refresh_token::{self, RefreshRequest};
use crate::grant::token_exchange::{self, ExchangeRequest};
use crate::grant::{client_credentials, device_code};
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;

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
        if let Err(error) = config.check_profile_client(&client) {
            return self.token_error(&error);
        }
        // RFC 9449 §5: a DPoP proof binds the tokens to its key.
        let jkt = match self.token_request_proof(request).await {
            Ok(jkt) => jkt,
            Err(response) => return response,
        };
        let certificate = request
            .client_certificate
            .as_ref()
            .map(crate::ClientCertificate::thumbprint);
        let sender = match Sender::of_request(config, &client, jkt.as_deref(), certificate) {
            Ok(sender) => sender,
            Err(error) => return self.with_dpop_nonce(self.token_error(&error)),
        };
        let outcome = self
            .run_grant(grant, &client, &params, request, sender)
            .await;
        let response = match outcome {
            Ok(tokens) => render::tokens(&config.dialect, &tokens),
            Err(error) => self.token_error(&error),
        };
        self.with_dpop_nonce(response)
    }

    /// Reads the grant's typed request from the parameters (the dialect applied) and runs it.
    async fn run_grant(
        &self,
        grant: GrantType,
        client: &Client,
        params: &Params,
        request: &FormRequest,
        sender: Sender<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let cx = self.cx();
        let dialect = &cx.config().dialect;
        let resources: Vec<&str> = params.get_all("resource").collect();
        let resources = resources.as_slice();
        match grant {
            GrantType::AuthorizationCode => {
                let request = CodeRequest {
                    code: params.require("code")?,
                    redirect_uri: params.get("redirect_uri"),
                    redirect_uri_may_be_omitted: dialect.token_redirect_uri_optional,
                    code_verifier: params.get("code_verifier"),
                    resources,
                    sender,
                };
                authorization_code::redeem(cx, client, request).await
            }
            GrantType::RefreshToken => {
                let request = RefreshRequest {
                    refresh_token: params.require("refresh_token")?,
                    scope: params.get("scope"),
                    resources,
                    sender,
                };
                refresh_token::refresh(cx, client, request).await
            }
            GrantType::ClientCredentials => {
                client_credentials::issue(cx, client, params.get("scope"), resources, sender).await
            }
            GrantType::DeviceCode => {
                device_code::poll(
                    cx,
                    client,
                    params.require("device_code")?,
                    resources,
                    sender,
                )
                .await
            }
            GrantType::TokenExchange => {
                // RFC 8693 §2.1: `audience` names resources by logical name; here the names
                // are the registered resource identifiers, under the same rules as `resource`.
                let targets: Vec<&str> = resources
                    .iter()
                    .copied()
                    .chain(params.get_all("audience"))
                    .collect();
                let subject_token_type = match (
                    params.get("subject_token_type"),
                    &dialect.default_subject_token_type,
                ) {
                    (Some(given), _) => given,
                    (None, Some(default)) => default.as_str(),
                    (None, None) => params.require("subject_token_type")?,
                };
                let request = ExchangeRequest {
                    subject_token: params.require("subject_token")?,
                    subject_token_type,
                    requested_token_type: params.get("requested_token_type"),
                    targets: &targets,
                    delegated: params.contains("actor_token"),
                    scope: params.get("scope"),
                    source: request.source.as_deref(),
                };
                token_exchange::exchange(cx, client, request, sender).await
            }
        }
    }
}
