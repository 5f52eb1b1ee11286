//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), sans-IO: when a user's session
//! ends, [`Provider::backchannel_logout`] signs one logout token for each relying party the user
//! signed in to that registered a `backchannel_logout_uri`; the host POSTs each
//! [`LogoutNotice`] (§2.5: `application/x-www-form-urlencoded`, the token as `logout_token`).

use serde_json::json;

use crate::client::{ClientId, UserId};
use crate::error::StoreError;
use crate::grant::openid::OPENID;
use crate::jose::{Algorithm, Typ};
use crate::provider::Provider;

/// How long a logout token is valid (§2.4 asks for a short `exp`; the RP's clock may lag).
const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// The event member of a logout token (§2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token to send to one relying party: POST [`LogoutNotice::form_body`] to
/// [`LogoutNotice::uri`] with `Content-Type: application/x-www-form-urlencoded`, without
/// following redirects; a 200 or 204 means the relying party logged the user out (§2.8).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogoutNotice {
    /// The relying party.
    pub client_id: ClientId,
    /// Its registered `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token (`typ: logout+jwt`).
    pub logout_token: String,
}

impl LogoutNotice {
    /// The request body: `logout_token=...`, form-encoded.
    pub fn form_body(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &self.logout_token)
            .finish()
    }
}

/// Why no logout tokens could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    /// The provider has no signing keys, or none active for the relying party's algorithm.
    #[error("no signing key for the logout token")]
    NoSigningKey,
    /// Signing failed (a remote signer's error, logged).
    #[error("signing the logout token failed")]
    Signing,
    /// A pairwise relying party's `sub` could not be derived: the provider has no
    /// [`pairwise_subjects`](crate::ProviderBuilder::pairwise_subjects) key, or the client's
    /// redirect URIs no longer name one host (logged).
    #[error("no pairwise subject for the relying party")]
    Subject,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A fresh logout token ID: 128 random bits, hex.
fn jti(entropy: &dyn crate::Entropy) -> String {
    let mut bytes = [0u8; 16];
    entropy.fill(&mut bytes);
    crate::secret::hex(&bytes)
}

impl Provider {
    /// The logout tokens for `user`'s relying parties (§2.4), after the host ended the user's
    /// session with this provider: one for each client the user consented to with `openid`
    /// that registered a `backchannel_logout_uri`, signed with the client's
    /// `id_token_signed_response_alg` (RS256 by default). Each token carries `iss`, `aud` (the
    /// client), `iat`, `exp` (two minutes), a fresh `jti`, `sub` and the back-channel logout
    /// event, and never a `nonce`; sessions (`sid`) are not tracked, so every session of the
    /// user at the relying party ends.
    ///
    /// Sending is the host's job (the core does no I/O): POST each
    /// [`LogoutNotice::form_body`], in parallel and with a timeout, and don't let a slow
    /// relying party hold up the user's logout. Revoking the user's tokens is a separate
    /// decision ([`Provider::revoke_app`](crate::Provider::revoke_app) per client): refresh
    /// tokens given for `offline_access` often outlive a session.
    pub async fn backchannel_logout(
        &self,
        user: &UserId,
    ) -> Result<Vec<LogoutNotice>, LogoutError> {
        let cx = self.cx();
        let keys = cx.keys().ok_or(LogoutError::NoSigningKey)?;
        let consents = cx.store().list_consents(user).await?;
        let now = cx.unix_now();
        let mut notices = Vec::new();
        for consent in consents {
            if !consent.scopes.contains(OPENID) {
                continue;
            }
            let Some(client) = cx.client(&consent.client_id).await? else {
                continue;
            };
            let Some(uri) = client.metadata.backchannel_logout_uri.clone() else {
                continue;
            };
            let alg = client
                .metadata
                .id_token_signed_response_alg
                .as_deref()
                .and_then(Algorithm::from_name)
                .unwrap_or(Algorithm::Rs256);
            let signer = keys.signer(alg, now).ok_or(LogoutError::NoSigningKey)?;
            let sub =
                crate::subject::subject_for(cx, &client, user).map_err(|_| LogoutError::Subject)?;
            let claims = json!({
                "iss": cx.config().issuer(),
                "aud": client.id.as_str(),
                "iat": now,
                "exp": now.saturating_add(LOGOUT_TOKEN_LIFETIME),
                "jti": jti(cx.entropy()),
                "sub": sub,
                "events": { LOGOUT_EVENT: {} },
            });
            let logout_token = crate::jose::sign_claims(signer.as_ref(), &Typ::LOGOUT_JWT, &claims)
                .await
                .map_err(|error| {
                    tracing::error!(target: "tessera::oidc", %error, "signing a logout token failed");
                    LogoutError::Signing
                })?;
            notices.push(LogoutNotice {
                client_id: client.id,
                uri,
                logout_token,
            });
        }
        Ok(notices)
    }
}
