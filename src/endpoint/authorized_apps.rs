//! The end user's view of the applications acting for them, and revoking one.

use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::client::{ClientId, UserId};
use crate::error::StoreError;
use crate::provider::Provider;
use crate::scope::ScopeSet;

/// One application a user has authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizedApp {
    /// The client.
    pub client_id: ClientId,
    /// Its name.
    pub name: String,
    /// Its home page.
    pub homepage: Option<String>,
    /// Every scope the user granted it.
    pub scopes: ScopeSet,
    /// When the user first authorized it.
    pub granted_at: OffsetDateTime,
    /// When it last obtained tokens.
    pub last_used_at: OffsetDateTime,
}

impl Provider {
    /// The applications `user` has authorized, most recently used first.
    pub async fn authorized_apps(&self, user: &UserId) -> Result<Vec<AuthorizedApp>, StoreError> {
        let store = self.cx().store();
        let mut apps = Vec::new();
        for consent in store.list_consents(user).await? {
            // A consent whose client was deleted is skipped (the store deletes it too).
            if let Some(client) = store.find_client(&consent.client_id).await? {
                apps.push(AuthorizedApp {
                    client_id: client.id,
                    name: client.name,
                    homepage: client.homepage,
                    scopes: consent.scopes,
                    granted_at: consent.granted_at,
                    last_used_at: consent.last_used_at,
                });
            }
        }
        apps.sort_by(|a, b| {
            b.last_used_at
                .cmp(&a.last_used_at)
                .then_with(|| a.client_id.cmp(&b.client_id))
        });
        Ok(apps)
    }

    /// Withdraws `client`'s access for `user`: the consent and every token go, and any later use
    /// of those tokens is refused. Returns whether there was anything to revoke.
    pub async fn revoke_app(&self, user: &UserId, client: &ClientId) -> Result<bool, StoreError> {
        let store = self.cx().store();
        let consent = store.revoke_consent(user, client).await?;
        let grants = store.revoke_user_grants(user, client).await?;
        if consent || grants > 0 {
            self.cx().audit(AuditEvent::ConsentWithdrawn {
                user: user.clone(),
                client_id: client.clone(),
            });
        }
        Ok(consent || grants > 0)
    }
}
