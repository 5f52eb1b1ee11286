//! The grants: decisions. Each takes an authenticated client and a typed request and returns
//! a typed outcome (a [`issue::TokenResponse`], or an [`crate::OAuthError`] refusal); none
//! reads the wire or the dialect, and every token is minted by [`issue`].

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod issue;
pub(crate) mod openid;
pub(crate) mod pkce;
pub(crate) mod refresh_token;
pub(crate) mod token_exchange;

use crate::client::Client;
use crate::error::OAuthError;
use crate::provider::Context;
use crate::scope::ScopeSet;

/// The scopes a request names (or the defaults: the client's registered scopes, else the
/// provider's defaults), checked against what the provider offers and the client may have.
/// A provider that offers no scopes grants none.
pub(crate) fn requested_scopes(
    cx: &Context,
    client: &Client,
    scope: Option<&str>,
) -> Result<ScopeSet, OAuthError> {
    let config = cx.config();
    let requested = match scope {
        Some(text) => ScopeSet::parse(text)?,
        None => match &client.scopes {
            Some(allowed) if config.default_scopes.is_empty() => allowed.clone(),
            _ => config.default_scopes.clone(),
        },
    };
    if !requested.is_subset(&config.scopes) {
        return Err(OAuthError::invalid_scope(
            "a requested scope is not offered by this server",
        ));
    }
    if let Some(allowed) = &client.scopes
        && !requested.is_subset(allowed)
    {
        return Err(OAuthError::invalid_scope(
            "a requested scope is not allowed for this client",
        ));
    }
    Ok(requested)
}
