//! The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14).
//!
//! Every use retires the presented token and issues a successor. A retired token presented
//! again is taken as theft: the whole family is revoked. Optionally, a replay within a short
//! grace window gets the very same successor response again (for clients that lost it): the
//! successor is kept only sealed (ChaCha20-Poly1305) under a key derived from the retired
//! token, which the store never sees, so the sealed copy is useless to anyone reading storage.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};

use crate::audit::AuditEvent;
use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::grant::issue::{
    self, Commit, IdTokenPlan, Issue, Issued, Refresh, Sender, TokenResponse,
};
use crate::grant::narrowed_audience;
use crate::provider::Context;
use crate::scope::ScopeSet;
use crate::secret::{RefreshToken, TokenHash, TokenKind};
use crate::store::{Confirmation, Grant, RefreshLookup, RetiredRefresh, TokenRecord};

/// A refresh request, as the endpoint read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshRequest<'a> {
    pub(crate) refresh_token: &'a str,
    pub(crate) scope: Option<&'a str>,
    /// The `resource` parameters (RFC 8707): the grant's audience, or fewer.
    pub(crate) resources: &'a [&'a str],
    /// How the request's sender proved itself (DPoP proof, TLS client certificate).
    pub(crate) sender: Sender<'a>,
}

/// RFC 9449 §5: a refresh token bound to a DPoP key is used only with a proof by that key;
/// RFC 8705 §4: one bound to a client certificate only over TLS with that certificate.
fn check_binding(record: &TokenRecord, sender: Sender<'_>) -> Result<(), OAuthError> {
    match &record.confirmation {
        Some(Confirmation::Jkt(bound)) if Some(bound.as_str()) != sender.dpop_jkt => {
            Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "the refresh token is bound to a DPoP key: send a DPoP proof signed by that key",
            ))
        }
        Some(Confirmation::X5tS256(bound)) if Some(bound.as_str()) != sender.certificate => {
            Err(OAuthError::invalid_grant(
                "the refresh token is bound to a client certificate: present it in the TLS handshake",
            ))
        }
        _ => Ok(()),
    }
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

fn sealing_key(token: &RefreshToken) -> ChaCha20Poly1305 {
    let mut hasher = Sha256::new();
    hasher.update(b"tessera refresh grace v1\0");
    hasher.update(token.secret().as_bytes());
    let key: [u8; 32] = hasher.finalize().into();
    ChaCha20Poly1305::new(Key::from_slice(&key))
}

fn seal(cx: &Context, token: &RefreshToken, response: &TokenResponse) -> Option<Vec<u8>> {
    let mut nonce = [0u8; 12];
    cx.entropy().fill(&mut nonce);
    let sealed = sealing_key(token)
        .encrypt(
            Nonce::from_slice(&nonce),
            response.to_json_bytes().as_slice(),
        )
        .ok()?;
    Some(nonce.iter().copied().chain(sealed).collect())
}

fn unseal(token: &RefreshToken, sealed: &[u8]) -> Option<TokenResponse> {
    if sealed.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(12);
    let plain = sealing_key(token)
        .decrypt(Nonce::from_slice(nonce), ciphertext)
        .ok()?;
    TokenResponse::from_json_bytes(&plain)
}

/// A retired token came back: the grace window's answer, or theft.
async fn reused(
    cx: &Context,
    client: &Client,
    token: &RefreshToken,
    retired: RetiredRefresh,
    sender: Sender<'_>,
) -> Result<TokenResponse, OAuthError> {
    let now = cx.now();
    if retired.record.client_id == client.id
        && check_binding(&retired.record, sender).is_ok()
        && let (Some(window), Some(sealed)) = (cx.config().refresh_grace, &retired.sealed_successor)
        && now - retired.retired_at <= window
        && let Some(response) = unseal(token, sealed)
    {
        return Ok(response);
    }
    let grant_id = retired.record.grant_id.clone();
    cx.store().revoke_grant(&grant_id).await?;
    cx.audit(AuditEvent::RefreshReused {
        grant_id,
        client_id: retired.record.client_id,
    });
    Err(invalid())
}

/// grant_type=refresh_token.
pub(crate) async fn refresh(
    cx: &Context,
    client: &Client,
    request: RefreshRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    client.check_grant(GrantType::RefreshToken)?;
    let presented = request.refresh_token;
    if !TokenKind::RefreshToken.is_well_formed(presented) {
        return Err(invalid());
    }
    let token = RefreshToken::new(presented);
    // Hashed once, for both the lookup and the rotation (well-formed: no second checksum).
    let hash = TokenHash::of_well_formed(presented);
    let store = cx.store();
    let record = match store.find_refresh(&hash).await? {
        RefreshLookup::Active(record) => record,
        RefreshLookup::Retired(retired) => {
            return reused(cx, client, &token, retired, request.sender).await;
        }
        _ => return Err(invalid()),
    };
    let now = cx.now();
    // A token bound to another client is refused without revoking anything: the caller
    // proved only that it holds a token, not that it is its client.
    if record.client_id != client.id || record.is_expired(now) {
        return Err(invalid());
    }
    check_binding(&record, request.sender)?;
    let sender = request.sender;
    let scopes = narrowed(&record.scopes, request.scope)?;
    let family_expires_at = record.family_expires_at;
    // The record is not needed any more: its fields move into the grant, not cloned.
    let (grant, claims) = grant_of(record);
    let claims = claims.as_deref();
    let scopes = scopes.unwrap_or_else(|| grant.scopes.clone());
    let audience = narrowed_audience(cx, &grant.audience, request.resources, &scopes)?;
    // OIDC Core §12.2: a refresh of an `openid` grant may return a new ID token, without a
    // nonce, with the `auth_time`, `acr` and `amr` of the original authentication (kept with
    // the refresh token) and the claims the `claims` request asked for.
    let id_token = openid_plan(&scopes, &grant, claims);
    // Public clients' refresh tokens always rotate (RFC 9700 §4.14.2).
    let rotate = cx.config().rotate_refresh_tokens || client.is_public();
    let tokens = if rotate {
        let sealer = |response: &TokenResponse| seal(cx, &token, response);
        let plan = Issue {
            client,
            grant: &grant,
            scopes,
            audience,
            refresh: Refresh::Successor(family_expires_at),
            not_after: None,
            issued_token_type: None,
            sender,
            id_token,
            claims,
        };
        let commit = Commit::Rotate {
            old: &hash,
            seal: cx.config().refresh_grace.map(|_| &sealer as _),
        };
        match issue::issue(cx, plan, commit).await? {
            Issued::Tokens(tokens) => tokens,
            Issued::AlreadyRotated(retired) => {
                return reused(cx, client, &token, *retired, sender).await;
            }
            _ => return Err(invalid()),
        }
    } else {
        let plan = Issue {
            client,
            grant: &grant,
            scopes,
            audience,
            refresh: Refresh::No,
            not_after: None,
            issued_token_type: None,
            sender,
            id_token,
            claims,
        };
        match issue::issue(cx, plan, Commit::Join).await? {
            Issued::Tokens(tokens) => tokens,
            _ => return Err(invalid()),
        }
    };
    if let Some(user) = &grant.user {
        store.touch_consent(user, &grant.client_id, now).await?;
    }
    Ok(tokens)
}

/// The ID token of a refresh whose access token has `scopes`: only with `openid`.
fn openid_plan<'a>(
    scopes: &ScopeSet,
    grant: &'a Grant,
    claims: Option<&'a str>,
) -> Option<IdTokenPlan<'a>> {
    scopes
        .contains(crate::grant::openid::OPENID)
        .then_some(IdTokenPlan {
            nonce: None,
            claims,
            authentication: grant.authentication.as_ref(),
        })
}

/// The scopes a refresh asks for: never more than the grant's (RFC 6749 §6). `None`: the
/// grant's own.
fn narrowed(granted: &ScopeSet, asked: Option<&str>) -> Result<Option<ScopeSet>, OAuthError> {
    let Some(text) = asked else { return Ok(None) };
    let asked = ScopeSet::parse(text)?;
    if asked.is_subset(granted) {
        Ok(Some(asked))
    } else {
        Err(OAuthError::invalid_scope(
            "the requested scope exceeds the original grant",
        ))
    }
}

/// The grant record a refresh token belongs to (it exists already; stores keep it as is),
/// with the user's authentication the token kept, and its `claims` request.
fn grant_of(record: TokenRecord) -> (Grant, Option<String>) {
    let mut grant = Grant::new(
        record.grant_id,
        record.client_id,
        record.user,
        record.scopes,
        GrantType::RefreshToken,
        record.issued_at,
    )
    .with_audience(record.audience);
    grant.authentication = record.authentication;
    (grant, record.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;
    use crate::secret::AccessToken;

    #[test]
    fn a_refresh_never_widens_scope() {
        let granted = ScopeSet::parse("read write").unwrap_or_default();
        assert_eq!(narrowed(&granted, None).ok(), Some(None));
        assert_eq!(
            narrowed(&granted, Some("read")).ok().flatten(),
            ScopeSet::parse("read").ok()
        );
        assert!(narrowed(&granted, Some("read admin")).is_err());
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_retired_token() {
        let entropy = SeededEntropy::new(9);
        let retired = RefreshToken::generate(&entropy);
        let response = TokenResponse {
            access_token: AccessToken::generate(&entropy),
            expires_in: Some(60),
            refresh_token: Some(RefreshToken::generate(&entropy)),
            scope: ScopeSet::parse("read").unwrap_or_default(),
            issued_token_type: None,
            token_type: "DPoP",
            id_token: None,
        };
        let key = sealing_key(&retired);
        let nonce = [7u8; 12];
        let sealed: Vec<u8> = nonce
            .iter()
            .copied()
            .chain(
                key.encrypt(
                    Nonce::from_slice(&nonce),
                    response.to_json_bytes().as_slice(),
                )
                .unwrap_or_default(),
            )
            .collect();
        let opened = unseal(&retired, &sealed).map(|r| r.to_json_bytes());
        assert_eq!(opened, Some(response.to_json_bytes()));
        assert!(unseal(&RefreshToken::generate(&entropy), &sealed).is_none());
        assert!(unseal(&retired, &sealed[..11]).is_none());
    }
}
