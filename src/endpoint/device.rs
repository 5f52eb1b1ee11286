//! The device flow's endpoints (RFC 8628): the device authorization endpoint the device
//! calls, and the verification the host's page runs when a signed-in user types a user code.
//!
//! The device asks [`Provider::device_authorization`] for a device code and a short user code;
//! the user enters the user code on the host's verification page, which resolves it with
//! [`Provider::device_verification`] to a [`PendingDeviceAuthorization`] that the signed-in
//! user approves or denies; meanwhile the device polls the token endpoint.

use std::fmt;

use crate::client::{Client, UserId};
use crate::endpoint::form::FormRequest;
use crate::error::{OAuthError, StoreError};
use crate::grant::device_code;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::store::DeviceRecord;

/// Who is typing a device user code: the signed-in user and, if the host knows it, where the
/// request came from (the peer address, or the /64 prefix of an IPv6 one).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DeviceAttempt<'a> {
    /// The signed-in user.
    pub user: &'a UserId,
    /// The request's source.
    pub source: Option<&'a str>,
}

impl<'a> DeviceAttempt<'a> {
    /// An attempt by `user`.
    pub fn new(user: &'a UserId) -> Self {
        Self { user, source: None }
    }

    /// The attempt came from `source`.
    pub fn from_source(self, source: &'a str) -> Self {
        Self {
            source: Some(source),
            ..self
        }
    }

    /// The limiter keys: per user, per source, and the global one.
    fn keys(&self) -> [Option<String>; 3] {
        [
            Some(format!("device user:{}", self.user)),
            self.source.map(|source| format!("device source:{source}")),
            Some("device *".to_owned()),
        ]
    }
}

/// A device authorization the user is looking at, waiting for their decision.
#[must_use = "a device authorization must be approved or denied"]
pub struct PendingDeviceAuthorization {
    record: DeviceRecord,
    client: Client,
}

impl fmt::Debug for PendingDeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingDeviceAuthorization")
            .field("client", &self.client.id)
            .field("scopes", &self.record.scopes)
            .finish_non_exhaustive()
    }
}

impl PendingDeviceAuthorization {
    /// The client asking.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &ScopeSet {
        &self.record.scopes
    }

    /// The user allowed it with `scopes` (the asked ones or fewer). Returns `false` if the
    /// authorization was decided meanwhile.
    pub async fn approve(
        self,
        provider: &Provider,
        user: UserId,
        scopes: &ScopeSet,
    ) -> Result<bool, StoreError> {
        device_code::approve(provider.cx(), &self.record, &self.client, user, scopes).await
    }

    /// The user denied it. Returns `false` if the authorization was decided meanwhile.
    pub async fn deny(self, provider: &Provider) -> Result<bool, StoreError> {
        device_code::deny(provider.cx(), &self.record).await
    }
}

impl Provider {
    /// The device authorization endpoint (RFC 8628 §3.1, §3.2).
    pub async fn device_authorization(&self, request: &FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        let cx = self.cx();
        if params.contains("resource") {
            // The device authorization is stored without an audience: a `resource` here would
            // be dropped, so it is refused instead (the token request may name resources).
            return self.token_error(&crate::OAuthError::new(
                crate::ErrorCode::InvalidTarget,
                "send `resource` with the token request, not the device authorization request",
            ));
        }
        match device_code::start(cx, &client, params.get("scope")).await {
            Ok(started) => {
                let config = cx.config();
                let verification = config.endpoint_url(&config.endpoints.device_verification);
                let complete = format!("{verification}?user_code={}", started.user_code);
                let body = serde_json::json!({
                    "device_code": started.device_code.secret(),
                    "user_code": started.user_code,
                    "verification_uri": verification,
                    "verification_uri_complete": complete,
                    "expires_in": config.lifetimes.device_code.whole_seconds(),
                    "interval": config.device.interval,
                });
                Response::json(200, &body)
            }
            Err(error) => self.token_error(&error),
        }
    }

    /// Resolves a user code typed on the verification page by a signed-in user.
    ///
    /// Wrong codes are limited per user and per source of the [`DeviceAttempt`] (10 each per
    /// 15 minutes by default; see [`crate::ProviderBuilder::device_attempts`]) and globally
    /// (1000 per 15 minutes, [`crate::ProviderBuilder::device_global_attempts`]), as RFC 8628
    /// §5.1 asks: new sessions or new accounts from one source do not buy new guesses. Past a
    /// limit the answer is `slow_down` whatever is typed.
    pub async fn device_verification(
        &self,
        user_code: &str,
        attempt: &DeviceAttempt<'_>,
    ) -> Result<PendingDeviceAuthorization, OAuthError> {
        let (record, client) = device_code::resolve(self.cx(), user_code, attempt.keys()).await?;
        Ok(PendingDeviceAuthorization { record, client })
    }
}
