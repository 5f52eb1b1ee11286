//! The grant family: one authorization of a client, from which every token of the family
//! descends and with which it dies (revoking the grant revokes them all).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::{ClientId, GrantType, UserId};
use crate::scope::ScopeSet;
use crate::shared_str::SharedStr;

/// The identifier of a grant: one authorization of a client (by a user, or by itself), from
/// which a family of tokens descends. Revoking it revokes every token of the family.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(SharedStr);

impl GrantId {
    /// Wraps a stored identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into())
    }

    /// A fresh random identifier (128 bits, hex).
    pub fn generate(entropy: &dyn crate::Entropy) -> Self {
        let mut bytes = [0u8; 16];
        entropy.fill(&mut bytes);
        Self(crate::secret::hex(&bytes).into())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A grant: the family record every token of one authorization belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Grant {
    /// The family identifier.
    pub id: GrantId,
    /// The client the grant was given to.
    pub client_id: ClientId,
    /// The user who gave it; `None` for a client acting for itself (client credentials).
    pub user: Option<UserId>,
    /// The scopes granted.
    pub scopes: ScopeSet,
    /// The grant type that created it.
    pub grant_type: GrantType,
    /// When it was created.
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    /// The resource servers (RFC 8707 resource indicators, absolute URIs) the grant's tokens
    /// may be used at; empty for tokens not restricted to named resources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// How and when the user authenticated for this grant (OpenID Connect `auth_time`, `acr`,
    /// `amr`), if the host said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

impl Grant {
    /// A new grant record.
    pub fn new(
        id: GrantId,
        client_id: ClientId,
        user: Option<UserId>,
        scopes: ScopeSet,
        grant_type: GrantType,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            client_id,
            user,
            scopes,
            grant_type,
            created_at,
            audience: Vec::new(),
            authentication: None,
        }
    }

    /// The same grant restricted to these resource servers (RFC 8707).
    pub fn with_audience(mut self, audience: Vec<String>) -> Self {
        self.audience = audience;
        self
    }

    /// The same grant with the user's authentication recorded.
    pub fn with_authentication(mut self, authentication: Authentication) -> Self {
        self.authentication = Some(authentication);
        self
    }
}

/// How and when the user authenticated (OpenID Connect Core §2: `auth_time`, `acr`, `amr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Authentication {
    /// When the user last authenticated actively (not when a session was merely reused).
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    /// The authentication context class reference satisfied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The authentication methods used (RFC 8176 values such as `pwd`, `otp`, `hwk`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Authentication {
    /// An authentication at `auth_time`, with no `acr` or `amr`.
    pub fn new(auth_time: OffsetDateTime) -> Self {
        Self {
            auth_time,
            acr: None,
            amr: Vec::new(),
        }
    }

    /// The same authentication with an `acr`.
    pub fn with_acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// The same authentication with these `amr` values.
    pub fn with_amr(mut self, amr: Vec<String>) -> Self {
        self.amr = amr;
        self
    }
}
