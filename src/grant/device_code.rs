//! The device authorization grant (RFC 8628): starting an authorization, resolving the user
//! code someone typed, the user's decision, and the device's polls. The endpoints are in
//! `endpoint::device`.

use crate::audit::AuditEvent;
use crate::client::{Client, GrantType, UserId};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::authorization_code::remember_consent;
use crate::grant::issue::{
    self, Commit, IdTokenPlan, Issue, Issued, Refresh, Sender, TokenResponse,
};
use crate::grant::{narrowed_audience, requested_scopes};
use crate::limiter::{Attempt, AttemptLimiter};
use crate::provider::Context;
use crate::scope::ScopeSet;
use crate::secret::{DeviceCode, TokenHash, TokenKind};
use crate::store::{DevicePoll, DeviceRecord, DeviceStatus, Grant, GrantId};

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

/// A started device authorization: what the device is told.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) device_code: DeviceCode,
    /// As shown to the user: two halves joined by a dash.
    pub(crate) user_code: String,
}

/// Starts a device authorization for `client` (RFC 8628 §3.1, §3.2).
pub(crate) async fn start(
    cx: &Context,
    client: &Client,
    scope: Option<&str>,
) -> Result<Started, OAuthError> {
    if !cx.config().grant_enabled(GrantType::DeviceCode) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "the device grant is disabled",
        ));
    }
    client.check_grant(GrantType::DeviceCode)?;
    // A public client needs only its ID here: bound what one client can make anyone store.
    if let Attempt::Refused { retry_after } = cx
        .machine_issuance()
        .attempt(&format!("device_authorization:{}", client.id), cx.now())
        .await
    {
        return Err(OAuthError::rate_limited(
            "too many device authorizations for this client; try again later",
            retry_after.whole_seconds().unsigned_abs(),
        ));
    }
    let scopes = requested_scopes(cx, client, scope)?;
    let config = cx.config();
    let now = cx.now();
    for _ in 0..8 {
        let (device_code, device_code_hash) = DeviceCode::generate_hashed(cx.entropy());
        let user_code = user_code(cx, config.device.user_code_len);
        let record = DeviceRecord::new(
            device_code_hash,
            TokenHash::of(&user_code),
            client.id.clone(),
            scopes.clone(),
            now + config.lifetimes.device_code,
            config.device.interval,
        );
        match cx.store().insert_device(&record).await {
            Ok(()) => {
                let (first, second) = user_code.split_at(user_code.len() / 2);
                return Ok(Started {
                    device_code,
                    user_code: format!("{first}-{second}"),
                });
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

/// A user code of `len` letters, each equally likely.
fn user_code(cx: &Context, len: usize) -> String {
    let len = len.max(2);
    let mut bytes = vec![0u8; len];
    cx.entropy().fill(&mut bytes);
    // 256 is not a multiple of 20: reject the top values so every letter is equally likely.
    let mut out = String::with_capacity(len);
    let mut i = 0;
    while out.len() < len {
        let byte = if i < bytes.len() {
            bytes[i]
        } else {
            let mut one = [0u8; 1];
            cx.entropy().fill(&mut one);
            one[0]
        };
        i += 1;
        if byte < 240 {
            out.push(char::from(ALPHABET[usize::from(byte % 20)]));
        }
    }
    out
}

/// Resolves a user code typed by someone whose attempt counts under `keys` (per user, per
/// source, global): the pending authorization and its client, or why not.
pub(crate) async fn resolve(
    cx: &Context,
    user_code: &str,
    keys: [Option<String>; 3],
) -> Result<(DeviceRecord, Client), OAuthError> {
    let now = cx.now();
    let limiters: [&dyn AttemptLimiter; 3] =
        [cx.device_guesses(), cx.device_guesses(), cx.device_global()];
    let mut counted: Vec<(&dyn AttemptLimiter, &str)> = Vec::with_capacity(keys.len());
    for (limiter, key) in limiters.into_iter().zip(&keys) {
        let Some(key) = key else { continue };
        if let Attempt::Refused { .. } = limiter.attempt(key, now).await {
            // Give back what this attempt took from the other budgets: it was not tried.
            for (limiter, key) in &counted {
                limiter.succeeded(key, now).await;
            }
            cx.audit(AuditEvent::RateLimited {
                limit: crate::audit::RateLimit::DeviceUserCode,
            });
            return Err(OAuthError::new(
                ErrorCode::SlowDown,
                "too many wrong codes; wait and try again",
            ));
        }
        counted.push((limiter, key.as_str()));
    }
    let wrong = || {
        OAuthError::new(
            ErrorCode::InvalidGrant,
            "that code is not valid, or has expired or been used",
        )
    };
    let Some(code) = normalize(user_code) else {
        return Err(wrong());
    };
    let record = cx
        .store()
        .find_device_by_user_code(&TokenHash::of(&code))
        .await?;
    let record = match record {
        Some(r) if r.status == DeviceStatus::Pending && now < r.expires_at => r,
        _ => return Err(wrong()),
    };
    let client = cx.client(&record.client_id).await?.ok_or_else(wrong)?;
    for (limiter, key) in &counted {
        limiter.succeeded(key, now).await;
    }
    Ok((record, client))
}

/// The user allowed it with `scopes` (the asked ones or fewer). `false` if it was decided
/// meanwhile.
pub(crate) async fn approve(
    cx: &Context,
    record: &DeviceRecord,
    client: &Client,
    user: UserId,
    scopes: &ScopeSet,
) -> Result<bool, StoreError> {
    let granted = scopes.intersection(&record.scopes);
    let now = cx.now();
    let grant = Grant::new(
        GrantId::generate(cx.entropy()),
        client.id.clone(),
        Some(user.clone()),
        granted.clone(),
        GrantType::DeviceCode,
        now,
    )
    // The device authorization request cannot name resources: the default audience, which the
    // token request may narrow.
    .with_audience(cx.config().default_audience());
    cx.mark_used(client).await?;
    let decided = cx
        .store()
        .decide_device(&record.user_code_hash, DeviceStatus::Approved { grant })
        .await?;
    if decided {
        remember_consent(cx, &user, client, granted, now).await?;
    }
    Ok(decided)
}

/// The user denied it. `false` if it was decided meanwhile.
pub(crate) async fn deny(cx: &Context, record: &DeviceRecord) -> Result<bool, StoreError> {
    cx.store()
        .decide_device(&record.user_code_hash, DeviceStatus::Denied)
        .await
}

/// grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4, §3.5).
pub(crate) async fn poll(
    cx: &Context,
    client: &Client,
    device_code: &str,
    resources: &[&str],
    sender: Sender<'_>,
) -> Result<TokenResponse, OAuthError> {
    client.check_grant(GrantType::DeviceCode)?;
    let invalid = || OAuthError::invalid_grant("the device code is invalid or was already used");
    if !TokenKind::DeviceCode.is_well_formed(device_code) {
        return Err(invalid());
    }
    let hash = DeviceCode::new(device_code).hash();
    let now = cx.now();
    let record = match cx.store().poll_device(&hash, now).await? {
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
            let refresh = if client.allows_grant(GrantType::RefreshToken)
                && cx.config().grant_enabled(GrantType::RefreshToken)
            {
                Refresh::NewFamily
            } else {
                Refresh::No
            };
            let audience = narrowed_audience(cx, &grant.audience, resources, &grant.scopes)?;
            let plan = Issue {
                client,
                grant: &grant,
                scopes: grant.scopes.clone(),
                audience,
                refresh,
                not_after: None,
                issued_token_type: None,
                sender,
                // A device grant with `openid` gets an ID token too (no nonce: the device
                // authorization request has none).
                id_token: grant
                    .scopes
                    .contains(crate::grant::openid::OPENID)
                    .then(IdTokenPlan::default),
                claims: None,
            };
            // One atomic step: of concurrent polls that saw the approval, one gets tokens.
            match issue::issue(cx, plan, Commit::RedeemDevice(&hash)).await? {
                Issued::Tokens(tokens) => Ok(tokens),
                _ => Err(invalid()),
            }
        }
        _ => Err(invalid()),
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
