//! Token exchange (RFC 8693): a client trades a subject token for an access token acting for
//! the same user. PhoneGap Build's "non web application flow" is this: the user pastes a
//! personal auth token into an application, which exchanges it.

use std::fmt;

use async_trait::async_trait;

use crate::client::{Client, GrantType, UserId};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
use crate::secret::{AccessToken, TokenKind};
use crate::store::{Consent, Grant, GrantId, TokenType};

/// The token type URI of an OAuth access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Turns a subject token of a host-defined type (a personal token, a session) into the user it
/// stands for. The provider's own access tokens are recognised without one.
#[async_trait]
pub trait SubjectTokenValidator: Send + Sync + fmt::Debug {
    /// The user `token` (of `token_type`) stands for; `None` if it is invalid, expired, revoked
    /// or of a type this validator does not handle.
    async fn validate(&self, token_type: &str, token: &str) -> Result<Option<UserId>, StoreError>;
}

impl Provider {
    /// grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2.1).
    pub(crate) async fn exchange(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Response, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "public clients cannot exchange tokens",
            ));
        }
        client.check_grant(GrantType::TokenExchange)?;
        let subject = params.require("subject_token")?;
        let subject_type = match (
            params.get("subject_token_type"),
            &self.config().dialect.default_subject_token_type,
        ) {
            (Some(given), _) => given,
            (None, Some(default)) => default.as_str(),
            (None, None) => params.require("subject_token_type")?,
        };
        if let Some(requested) = params.get("requested_token_type")
            && requested != ACCESS_TOKEN_TYPE
        {
            return Err(OAuthError::invalid_request(
                "only access tokens can be requested",
            ));
        }
        if params.contains("resource") || params.contains("audience") {
            return Err(OAuthError::new(
                ErrorCode::InvalidTarget,
                "this server issues tokens for itself only",
            ));
        }
        if params.contains("actor_token") {
            return Err(OAuthError::invalid_request(
                "delegation (actor_token) is not supported",
            ));
        }
        let invalid =
            || OAuthError::invalid_grant("the subject token is invalid, expired or revoked");
        let now = self.now();
        let (user, ceiling) = if subject_type == ACCESS_TOKEN_TYPE
            && TokenKind::AccessToken.is_well_formed(subject)
        {
            let record = self
                .store()
                .find_token(&AccessToken::new(subject).hash())
                .await?
                .ok_or_else(invalid)?;
            if record.token_type != TokenType::Access || record.is_expired(now) {
                return Err(invalid());
            }
            (
                record.user.clone().ok_or_else(invalid)?,
                Some(record.scopes.clone()),
            )
        } else {
            let validator = self
                .inner
                .subject_tokens
                .as_ref()
                .ok_or_else(|| OAuthError::invalid_request("unsupported subject_token_type"))?;
            (
                validator
                    .validate(subject_type, subject)
                    .await?
                    .ok_or_else(invalid)?,
                None,
            )
        };
        let scopes = self.requested_scopes(client, params.get("scope"))?;
        if let Some(ceiling) = ceiling
            && !scopes.is_subset(&ceiling)
        {
            return Err(OAuthError::invalid_scope(
                "the requested scope exceeds the subject token's",
            ));
        }
        let grant = Grant::new(
            GrantId::generate(self.entropy()),
            client.id.clone(),
            Some(user.clone()),
            scopes.clone(),
            GrantType::TokenExchange,
            now,
        );
        let issued = self
            .issue(client, &grant, scopes.clone(), false, true)
            .await?;
        // Handing an application one's token is consent: list it among the user's apps.
        self.store()
            .save_consent(&Consent::new(user, client.id.clone(), scopes, now))
            .await?;
        let mut body = issued.to_json();
        if let serde_json::Value::Object(map) = &mut body {
            map.insert("issued_token_type".into(), ACCESS_TOKEN_TYPE.into());
        }
        Ok(self.render_token_body(body))
    }
}
