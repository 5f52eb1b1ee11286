//! Which client a request names: a stored client, or one a client ID metadata document
//! describes ([`crate::cimd`]), fetched through the host's fetcher, checked like a
//! registration, cached and stored. The authorization and token endpoints call this, never
//! the store directly, for a client ID they were sent.

use crate::cimd::{
    ClientMetadataDocuments, FetchPolicy, ResolveError, document_url, names_a_document, refused,
};
use crate::client::{AuthMethod, Client, ClientId, GrantType};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::provider::Provider;

impl Provider {
    /// The client a request names: a stored client, or (with client ID metadata documents
    /// enabled) the client a document URL names, fetched, checked and stored.
    pub(crate) async fn resolve_client(
        &self,
        id: &ClientId,
    ) -> Result<Option<Client>, ResolveError> {
        let stored = self.cx().store().find_client(id).await?;
        // The clock is read only for a client that can expire unused (most cannot).
        let expired = stored
            .as_ref()
            .is_some_and(|c| c.unused_until.is_some() && c.is_expired_unused(self.now()));
        if let Some(client) = &stored
            && !client.metadata_document
        {
            return Ok(if expired { None } else { stored });
        }
        // On the heap: the document path's state (clients, the URL, the fetch) would
        // otherwise make every client lookup's future, and each one awaiting it, kilobytes
        // larger, copied on every move.
        Box::pin(self.resolve_document(id, stored, expired)).await
    }

    /// [`Provider::resolve_client`] past a stored client that is not a document's: the client
    /// a document URL names (`stored`: what the store has for it).
    async fn resolve_document(
        &self,
        id: &ClientId,
        mut stored: Option<Client>,
        expired: bool,
    ) -> Result<Option<Client>, ResolveError> {
        let now = self.now();
        let Some(documents) = self.cx().client_metadata_documents() else {
            // A document's client with documents switched off: nothing vouches for it now.
            return Ok(None);
        };
        if !names_a_document(id.as_str()) {
            return Ok(stored.filter(|_| !expired));
        }
        let allow_loopback = self.config().danger.loopback_client_metadata;
        let url = document_url(id.as_str(), allow_loopback).map_err(refused)?;
        let document = match documents.cached_client(url.as_str(), now) {
            Some(client) => client,
            None => {
                let policy =
                    FetchPolicy::new(ClientMetadataDocuments::MAX_BYTES, documents.timeout);
                let policy = if allow_loopback {
                    policy.with_loopback()
                } else {
                    policy
                };
                let fetched = documents
                    .fetcher
                    .fetch(url.as_str(), &policy)
                    .await
                    .map_err(refused)?;
                let client = self
                    .client_from_document(id, &fetched.body)
                    .map_err(|e| refused(e.description.as_deref().unwrap_or("invalid metadata")))?;
                let ttl = documents.ttl(fetched.max_age);
                let expires_at = now + time::Duration::try_from(ttl).unwrap_or(time::Duration::DAY);
                documents.remember(url.as_str(), client.clone(), expires_at, now);
                client
            }
        };
        let store = self.cx().store();
        if expired {
            // Stored once and never used: it starts again as a new client (what it left, a
            // pending device authorization at most, goes with the old record).
            store.delete_client(id).await?;
            stored = None;
        }
        match stored {
            None => {
                // Counted from now, not from when the document was cached.
                let fresh = Client {
                    unused_until: self
                        .config()
                        .unused_client_expiry()
                        .map(|d| now.saturating_add(d)),
                    ..document
                };
                match store.insert_client(&fresh).await {
                    Ok(()) => {
                        self.cx().audit(crate::AuditEvent::ClientRegistered {
                            client_id: fresh.id.clone(),
                        });
                        Ok(Some(fresh))
                    }
                    // Another request stored it first (or an old deletion is being reaped).
                    Err(StoreError::Conflict) => {
                        Ok(self.client(id).await?.filter(|c| c.metadata_document))
                    }
                    Err(other) => Err(other.into()),
                }
            }
            Some(stored) => {
                let mut current = document;
                current.created_at = stored.created_at;
                current.unused_until = stored.unused_until;
                if current != stored {
                    store.update_client(&current).await?;
                }
                Ok(Some(current))
            }
        }
    }

    /// The client a document describes, checked like a registration (names, URLs, redirect
    /// URIs) and then by the draft's rules: `client_id` equal to the URL, no shared secret,
    /// only the authorization code and refresh token grants.
    pub(crate) fn client_from_document(
        &self,
        id: &ClientId,
        body: &[u8],
    ) -> Result<Client, OAuthError> {
        let invalid = |why: String| OAuthError::new(ErrorCode::InvalidClientMetadata, why);
        if body.len() > ClientMetadataDocuments::MAX_BYTES {
            return Err(invalid("the document is larger than 64 KiB".into()));
        }
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| invalid("the document is not JSON".into()))?;
        let serde_json::Value::Object(mut object) = value else {
            return Err(invalid("the document is not a JSON object".into()));
        };
        match object.get("client_id") {
            Some(serde_json::Value::String(doc_id)) if doc_id == id.as_str() => {}
            Some(serde_json::Value::String(_)) => {
                return Err(invalid(
                    "the document's client_id differs from its URL".into(),
                ));
            }
            _ => return Err(invalid("the document has no client_id".into())),
        }
        for secret in ["client_secret", "client_secret_expires_at"] {
            if object.contains_key(secret) {
                return Err(invalid(format!("the document must not have {secret}")));
            }
        }
        let method = match object.get("token_endpoint_auth_method") {
            None => AuthMethod::None,
            Some(serde_json::Value::String(method)) if method == "none" => AuthMethod::None,
            // The keys are in the document's `jwks`, checked as a registration's are.
            #[cfg(feature = "jose")]
            Some(serde_json::Value::String(method)) if method == "private_key_jwt" => {
                AuthMethod::PrivateKeyJwt
            }
            #[cfg(not(feature = "jose"))]
            Some(serde_json::Value::String(method)) if method == "private_key_jwt" => {
                return Err(invalid(
                    "token_endpoint_auth_method private_key_jwt is not supported by this server; use none".into(),
                ));
            }
            Some(serde_json::Value::String(method)) if method.starts_with("client_secret") => {
                return Err(invalid(format!(
                    "token_endpoint_auth_method {} needs a shared secret, which a metadata document cannot have",
                    crate::params::printable(method)
                )));
            }
            Some(_) => return Err(invalid("unsupported token_endpoint_auth_method".into())),
        };
        // The rest is a registration's metadata, checked the same way. The authentication
        // method is read above: a document's client is public, or proves itself with a key
        // of its `jwks` (never a secret).
        object.remove("token_endpoint_auth_method");
        object.remove("client_id");
        let mut registration = self.registration_from_value(serde_json::Value::Object(object))?;
        registration.auth_method = method;
        if let Some(other) = registration
            .grant_types
            .iter()
            .find(|g| !matches!(g, GrantType::AuthorizationCode | GrantType::RefreshToken))
        {
            return Err(invalid(format!(
                "the {} grant is not available to a metadata document's client",
                other.as_str()
            )));
        }
        let mut client = self.build_client(id.clone(), &registration)?;
        client.metadata_document = true;
        Ok(client)
    }
}
