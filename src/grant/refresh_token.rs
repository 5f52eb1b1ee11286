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
use crate::error::OAuthError;
use crate::grant::issue::FamilyDeadline;
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::secret::{RefreshToken, TokenHash, TokenKind};
use crate::store::{Grant, RefreshLookup, RetiredRefresh, Rotation, TokenRecord};

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

impl Provider {
    fn seal(&self, token: &RefreshToken, body: &serde_json::Value) -> Option<Vec<u8>> {
        let mut nonce = [0u8; 12];
        self.entropy().fill(&mut nonce);
        let sealed = sealing_key(token)
            .encrypt(Nonce::from_slice(&nonce), body.to_string().as_bytes())
            .ok()?;
        Some(nonce.iter().copied().chain(sealed).collect())
    }

    fn unseal(token: &RefreshToken, sealed: &[u8]) -> Option<serde_json::Value> {
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let plain = sealing_key(token)
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// A retired token came back: the grace window's answer, or theft.
    async fn reused(
        &self,
        client: &Client,
        token: &RefreshToken,
        retired: RetiredRefresh,
    ) -> Result<Response, OAuthError> {
        let now = self.now();
        if retired.record.client_id == client.id
            && let (Some(window), Some(sealed)) =
                (self.config().refresh_grace, &retired.sealed_successor)
            && now - retired.retired_at <= window
            && let Some(body) = Self::unseal(token, sealed)
        {
            return Ok(self.render_token_body(body));
        }
        let grant_id = retired.record.grant_id.clone();
        self.store().revoke_grant(&grant_id).await?;
        self.audit(AuditEvent::RefreshReused {
            grant_id,
            client_id: retired.record.client_id,
        });
        Err(invalid())
    }

    /// grant_type=refresh_token.
    pub(crate) async fn refresh(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Response, OAuthError> {
        client.check_grant(GrantType::RefreshToken)?;
        let presented = params.require("refresh_token")?;
        if !TokenKind::RefreshToken.is_well_formed(presented) {
            return Err(invalid());
        }
        let token = RefreshToken::new(presented);
        // Hashed once, for both the lookup and the rotation (well-formed: no second checksum).
        let hash = TokenHash::of_well_formed(presented);
        let store = self.store();
        let record = match store.find_refresh(&hash).await? {
            RefreshLookup::Active(record) => record,
            RefreshLookup::Retired(retired) => return self.reused(client, &token, retired).await,
            _ => return Err(invalid()),
        };
        let now = self.now();
        // A token bound to another client is refused without revoking anything: the caller
        // proved only that it holds a token, not that it is its client.
        if record.client_id != client.id || record.is_expired(now) {
            return Err(invalid());
        }
        let asked = match params.get("scope") {
            Some(text) => {
                let asked = ScopeSet::parse(text)?;
                if !asked.is_subset(&record.scopes) {
                    return Err(OAuthError::invalid_scope(
                        "the requested scope exceeds the original grant",
                    ));
                }
                Some(asked)
            }
            None => None,
        };
        let family_expires_at = record.family_expires_at;
        // The record is not needed any more: its fields move into the grant, not cloned.
        let grant = grant_of(record);
        let scopes = match asked {
            Some(asked) => asked,
            None => grant.scopes.clone(),
        };
        if !self.config().rotate_refresh_tokens {
            // The grant is stored: the tokens join it unless it was revoked meanwhile.
            let issued = self.issue(client, &grant, scopes, false, false).await?;
            self.touch(&grant, now).await?;
            return Ok(self.token_response(&issued));
        }
        let minted = self.mint(
            client,
            &grant,
            scopes,
            true,
            FamilyDeadline::Inherited(family_expires_at),
        );
        let sealed = match self.config().refresh_grace {
            Some(_) => self.seal(&token, &minted.response.to_json()),
            None => None,
        };
        match store
            .rotate_refresh(&hash, &minted.records, sealed, now)
            .await?
        {
            Rotation::Rotated => {
                self.touch(&grant, now).await?;
                Ok(self.token_response(&minted.response))
            }
            Rotation::AlreadyRetired(retired) => self.reused(client, &token, retired).await,
            _ => Err(invalid()),
        }
    }

    async fn touch(&self, grant: &Grant, now: time::OffsetDateTime) -> Result<(), OAuthError> {
        if let Some(user) = &grant.user {
            self.store()
                .touch_consent(user, &grant.client_id, now)
                .await?;
        }
        Ok(())
    }
}

/// The grant record a refresh token belongs to (it exists already; stores keep it as is).
fn grant_of(record: TokenRecord) -> Grant {
    Grant::new(
        record.grant_id,
        record.client_id,
        record.user,
        record.scopes,
        GrantType::RefreshToken,
        record.issued_at,
    )
}
