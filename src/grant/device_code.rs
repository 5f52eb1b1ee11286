//! The device authorization grant (RFC 8628), for devices without a browser.
//!
//! The device asks [`Provider::device_authorization`] for a device code and a short user code;
//! the user enters the user code on the host's verification page, which resolves it with
//! [`Provider::device_verification`] to a [`PendingDeviceAuthorization`] that the logged-in user
//! approves or denies; meanwhile the device polls the token endpoint.

use std::fmt;

use crate::audit::AuditEvent;
use crate::client::{Client, GrantType, UserId};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::issue::FamilyDeadline;
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::secret::{DeviceCode, TokenHash, TokenKind};
use crate::store::{
    Consent, DevicePoll, DeviceRecord, DeviceRedemption, DeviceStatus, Grant, GrantId,
};

/// The user code alphabet: consonants only (RFC 8628 §6.1), no vowels to spell words, no
/// look-alikes. 20 letters.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Normalises a user code as typed: case, dashes and spaces do not matter.
fn normalize(user_code: &str) -> Option<String> {
    let code: String = user_code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!code.is_empty() && code.len() <= 32 && code.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(code)
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
        let granted = scopes.intersection(&self.record.scopes);
        let now = provider.now();
        let grant = Grant::new(
            GrantId::generate(provider.entropy()),
            self.client.id.clone(),
            Some(user.clone()),
            granted.clone(),
            GrantType::DeviceCode,
            now,
        );
        let store = provider.store();
        let decided = store
            .decide_device(
                &self.record.user_code_hash,
                DeviceStatus::Approved { grant },
            )
            .await?;
        if decided {
            store
                .save_consent(&Consent::new(
                    user.clone(),
                    self.client.id.clone(),
                    granted,
                    now,
                ))
                .await?;
            provider.audit(AuditEvent::ConsentGranted {
                user,
                client_id: self.client.id.clone(),
            });
        }
        Ok(decided)
    }

    /// The user denied it.
    pub async fn deny(self, provider: &Provider) -> Result<bool, StoreError> {
        provider
            .store()
            .decide_device(&self.record.user_code_hash, DeviceStatus::Denied)
            .await
    }
}

impl Provider {
    /// The device authorization endpoint (RFC 8628 §3.1, §3.2).
    pub async fn device_authorization(&self, request: &crate::FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        match self.start_device(&client, &params).await {
            Ok(response) => response,
            Err(error) => self.token_error(&error),
        }
    }

    async fn start_device(&self, client: &Client, params: &Params) -> Result<Response, OAuthError> {
        if !self.config().grant_enabled(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the device grant is disabled",
            ));
        }
        client.check_grant(GrantType::DeviceCode)?;
        let scopes = self.requested_scopes(client, params.get("scope"))?;
        let config = &self.config().device;
        let now = self.now();
        for _ in 0..8 {
            let (device_code, device_code_hash) = DeviceCode::generate_hashed(self.entropy());
            let user_code = self.user_code(config.user_code_len);
            let record = DeviceRecord::new(
                device_code_hash,
                TokenHash::of(&user_code),
                client.id.clone(),
                scopes.clone(),
                now + config.code_ttl,
                config.interval,
            );
            match self.store().insert_device(&record).await {
                Ok(()) => {
                    let shown = format!(
                        "{}-{}",
                        &user_code[..user_code.len() / 2],
                        &user_code[user_code.len() / 2..]
                    );
                    let verification = self
                        .config()
                        .endpoint_url(&self.config().endpoints.device_verification);
                    let complete = format!("{verification}?user_code={shown}");
                    let body = serde_json::json!({
                        "device_code": device_code.secret(),
                        "user_code": shown,
                        "verification_uri": verification,
                        "verification_uri_complete": complete,
                        "expires_in": config.code_ttl.whole_seconds(),
                        "interval": config.interval,
                    });
                    return Ok(Response::json(200, &body));
                }
                // A user code collision: draw another.
                Err(StoreError::Conflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "could not allocate a user code; try again",
        ))
    }

    fn user_code(&self, len: usize) -> String {
        let mut bytes = vec![0u8; len.max(2)];
        self.entropy().fill(&mut bytes);
        // 256 is not a multiple of 20: reject the top values so every letter is equally likely.
        let mut out = String::with_capacity(bytes.len());
        let mut i = 0;
        while out.len() < len.max(2) {
            let byte = if i < bytes.len() {
                bytes[i]
            } else {
                let mut one = [0u8; 1];
                self.entropy().fill(&mut one);
                one[0]
            };
            i += 1;
            if byte < 240 {
                out.push(char::from(ALPHABET[usize::from(byte % 20)]));
            }
        }
        out
    }

    /// Resolves a user code typed on the verification page. `attempt_key` identifies who is
    /// typing (a session ID or client IP): after ten wrong codes in fifteen minutes (by default;
    /// see [`crate::ProviderBuilder::device_attempts`]), that key gets `slow_down` whatever it
    /// enters.
    pub async fn device_verification(
        &self,
        user_code: &str,
        attempt_key: &str,
    ) -> Result<PendingDeviceAuthorization, OAuthError> {
        let now = self.now();
        let limiter = &self.inner.device_guesses;
        if !limiter.allowed(attempt_key, now).await {
            self.audit(AuditEvent::RateLimited {
                limit: crate::audit::RateLimit::DeviceUserCode,
            });
            return Err(OAuthError::new(
                ErrorCode::SlowDown,
                "too many wrong codes; wait and try again",
            ));
        }
        let wrong = || {
            OAuthError::new(
                ErrorCode::InvalidGrant,
                "that code is not valid, or has expired or been used",
            )
        };
        let Some(code) = normalize(user_code) else {
            limiter.failed(attempt_key, now).await;
            return Err(wrong());
        };
        let record = self
            .store()
            .find_device_by_user_code(&TokenHash::of(&code))
            .await?;
        let record = match record {
            Some(r) if r.status == DeviceStatus::Pending && now < r.expires_at => r,
            _ => {
                limiter.failed(attempt_key, now).await;
                return Err(wrong());
            }
        };
        let client = self.client(&record.client_id).await?.ok_or_else(wrong)?;
        Ok(PendingDeviceAuthorization { record, client })
    }

    /// grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4, §3.5).
    pub(crate) async fn poll_device(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Response, OAuthError> {
        client.check_grant(GrantType::DeviceCode)?;
        let presented = params.require("device_code")?;
        let invalid =
            || OAuthError::invalid_grant("the device code is invalid or was already used");
        if !TokenKind::DeviceCode.is_well_formed(presented) {
            return Err(invalid());
        }
        let hash = DeviceCode::new(presented).hash();
        let now = self.now();
        let record = match self.store().poll_device(&hash, now).await? {
            DevicePoll::Polled(record) => record,
            DevicePoll::SlowDown(record) if record.client_id == client.id => {
                return Err(OAuthError::new(
                    ErrorCode::SlowDown,
                    format!(
                        "polling too fast: wait {} seconds between requests",
                        record.interval
                    ),
                ));
            }
            _ => return Err(invalid()),
        };
        if record.client_id != client.id {
            return Err(invalid());
        }
        if now >= record.expires_at {
            return Err(OAuthError::new(
                ErrorCode::ExpiredToken,
                "the device code has expired",
            ));
        }
        match record.status {
            DeviceStatus::Pending => Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the user has not decided yet",
            )),
            DeviceStatus::Denied => Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            )),
            DeviceStatus::Approved { grant } => {
                let with_refresh = client.allows_grant(GrantType::RefreshToken)
                    && self.config().grant_enabled(GrantType::RefreshToken);
                let minted = self.mint(
                    client,
                    &grant,
                    grant.scopes.clone(),
                    with_refresh,
                    FamilyDeadline::New,
                );
                // One atomic step: of concurrent polls that saw the approval, one gets tokens.
                match self.store().redeem_device(&hash, &minted.records).await? {
                    DeviceRedemption::Redeemed => Ok(self.token_response(&minted.response)),
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_normalise() {
        assert_eq!(normalize("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(
            normalize("ABCD-EFGH"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalize(""), None);
        assert_eq!(normalize(&"B".repeat(100)), None);
    }
}
