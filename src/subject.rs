//! Subject identifiers (OpenID Connect Core 1.0 §8): the `sub` a client is told for a user.
//!
//! A `public` client (the default) sees the host's [`UserId`] as `sub`. A `pairwise` client
//! (§8.1) sees a value derived for its *sector*, so that clients of different sectors cannot
//! correlate a user by `sub`: `sub` is `base64url(HMAC-SHA256(key, "tessera pairwise v1" ‖
//! len(sector) ‖ sector ‖ user))`, with the key the host gives every instance of the provider
//! ([`ProviderBuilder::pairwise_subjects`](crate::ProviderBuilder::pairwise_subjects)).
//!
//! The sector is the host of the client's redirect URIs, which registration requires to be a
//! single host for a pairwise client; `sector_identifier_uri` (a document fetched from the
//! client) is not supported and refused at registration. Changing the client's redirect host,
//! or the key, changes every `sub` the client knows.
//!
//! The same pairwise `sub` is written everywhere the client can read one: ID tokens, the
//! userinfo response, JWT access tokens (which a client can decode), token introspection (so
//! a resource server sees the same `sub` whether the token is a JWT or opaque) and
//! back-channel logout tokens; an `id_token_hint` is matched against it. Only the host sees
//! the [`UserId`]: [`ClaimsSource`](crate::oidc::ClaimsSource) requests and
//! [`Principal::user`](crate::Principal::user) keep it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "jose")]
use crate::client::{Client, UserId};

/// A client's `subject_type` (OpenID Connect Dynamic Client Registration §2, Core §8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SubjectType {
    /// Every client sees the same `sub` for a user: the host's user ID (the default).
    #[default]
    Public,
    /// Each sector sees its own `sub` for a user (the provider needs
    /// [`ProviderBuilder::pairwise_subjects`](crate::ProviderBuilder::pairwise_subjects)).
    Pairwise,
}

impl SubjectType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Pairwise => "pairwise",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Public, Self::Pairwise]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// Separates pairwise subjects from any other use of the key.
#[cfg(feature = "jose")]
const CONTEXT: &[u8] = b"tessera pairwise v1";

/// The key pairwise subjects are derived with.
#[cfg(feature = "jose")]
pub(crate) struct PairwiseKey(aws_lc_rs::hmac::Key);

#[cfg(feature = "jose")]
impl std::fmt::Debug for PairwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseKey(redacted)")
    }
}

#[cfg(feature = "jose")]
impl PairwiseKey {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        Self(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            secret,
        ))
    }

    /// The pairwise `sub` of `user` in `sector`. The sector's length goes first, so that no
    /// sector and user pair can be shifted into another.
    pub(crate) fn subject(&self, sector: &str, user: &str) -> String {
        let mut context = aws_lc_rs::hmac::Context::with_key(&self.0);
        context.update(CONTEXT);
        context.update(&(sector.len() as u64).to_be_bytes());
        context.update(sector.as_bytes());
        context.update(user.as_bytes());
        let tag = context.sign();
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            tag.as_ref(),
        )
    }
}

/// The sector of a pairwise client (§8.1): the host of its redirect URIs, lowercased. `None`
/// when they name no host, or several (registration refuses both).
pub(crate) fn sector(redirect_uris: &[crate::RedirectUri]) -> Option<String> {
    let mut hosts = redirect_uris
        .iter()
        .map(|uri| uri.url().host_str().map(str::to_ascii_lowercase));
    let first = hosts.next()??;
    hosts
        .all(|host| host.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// A pairwise client can't be given a `sub`: the provider has no pairwise key, or the
/// client's redirect URIs no longer name one host. Logged where it happens.
#[cfg(feature = "jose")]
#[derive(Debug)]
pub(crate) struct NoSubject;

#[cfg(feature = "jose")]
impl From<NoSubject> for crate::error::OAuthError {
    fn from(_: NoSubject) -> Self {
        crate::error::OAuthError::server_error()
    }
}

/// The `sub` `client` is told for `user`.
#[cfg(feature = "jose")]
pub(crate) fn subject_for(
    cx: &crate::provider::Context,
    client: &Client,
    user: &UserId,
) -> Result<String, NoSubject> {
    if client.metadata.subject_type != Some(SubjectType::Pairwise) {
        return Ok(user.as_str().to_owned());
    }
    let Some(key) = cx.pairwise_key() else {
        tracing::error!(target: "tessera::oidc", client = %client.id.as_str(), "a pairwise client, but the provider has no pairwise_subjects key");
        return Err(NoSubject);
    };
    let Some(sector) = sector(&client.redirect_uris) else {
        tracing::error!(target: "tessera::oidc", client = %client.id.as_str(), "a pairwise client whose redirect URIs do not name one host");
        return Err(NoSubject);
    };
    Ok(key.subject(&sector, user.as_str()))
}

/// The `sub` the client `client_id` is told for `user`; the client is read only when some
/// client may be pairwise. A client that is gone has no `sub` to be told (`server_error`).
#[cfg(feature = "jose")]
pub(crate) async fn subject_for_id(
    cx: &crate::provider::Context,
    client_id: &crate::client::ClientId,
    user: &UserId,
) -> Result<String, crate::error::OAuthError> {
    if cx.pairwise_key().is_none() {
        return Ok(user.as_str().to_owned());
    }
    let Some(client) = cx.client(client_id).await? else {
        tracing::error!(target: "tessera::oidc", client = %client_id.as_str(), "a token of a client that is gone");
        return Err(crate::error::OAuthError::server_error());
    };
    Ok(subject_for(cx, &client, user)?)
}

/// Whether `sub`, as told to `client`, is `user`'s.
#[cfg(feature = "jose")]
pub(crate) fn is_subject(
    cx: &crate::provider::Context,
    client: &Client,
    sub: &str,
    user: &UserId,
) -> bool {
    subject_for(cx, client, user).is_ok_and(|told| told == sub)
}

#[cfg(all(test, feature = "jose"))]
mod tests {
    use super::*;

    #[test]
    fn pairwise_subjects_are_keyed_per_sector() {
        let key = PairwiseKey::new(&[7; 32]);
        let a = key.subject("a.example", "alice");
        assert_eq!(a.len(), 43);
        assert_eq!(a, key.subject("a.example", "alice"));
        assert_ne!(a, key.subject("b.example", "alice"));
        assert_ne!(a, key.subject("a.example", "bob"));
        // The length prefix: moving a character from the sector to the user changes the sub.
        assert_ne!(key.subject("a.exampl", "ealice"), a);
        assert_ne!(PairwiseKey::new(&[8; 32]).subject("a.example", "alice"), a);
        assert_eq!(format!("{key:?}"), "PairwiseKey(redacted)");
    }

    #[test]
    fn pairwise_subject_known_answer() {
        // HMAC-SHA256 with key 0x07 * 32 over "tessera pairwise v1" || be64(9) ||
        // "a.example" || "alice", computed independently with Python's hmac module.
        let key = PairwiseKey::new(&[7; 32]);
        assert_eq!(key.subject("a.example", "alice"), KNOWN);
    }

    const KNOWN: &str = "A7xzrNVXc0KilCsP9YhHoOHvcH3Km5G_yWjoOC5dK08";

    #[test]
    fn sectors_are_one_host() {
        let uri = |u: &str| crate::RedirectUri::parse(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(
            sector(&[
                uri("https://App.example/cb"),
                uri("https://app.example/two")
            ])
            .as_deref(),
            Some("app.example")
        );
        assert_eq!(
            sector(&[uri("https://a.example/cb"), uri("https://b.example/cb")]),
            None
        );
        assert_eq!(sector(&[]), None);
    }
}
