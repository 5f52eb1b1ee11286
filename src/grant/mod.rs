//! The grants: decisions. Each takes an authenticated client and a typed request and returns
//! a typed outcome (a [`issue::TokenResponse`], or an [`crate::OAuthError`] refusal); none
//! reads the wire or the dialect, and every token is minted by [`issue`].

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod family;
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

fn invalid_target(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(crate::error::ErrorCode::InvalidTarget, description)
}

/// The audience of a new grant (RFC 8707 §2): the resources a request names, each registered,
/// or the default audience if it names none. Every scope asked for must be accepted by at least
/// one named resource (a resource that lists no scopes accepts any; `offline_access` and
/// `openid` concern the server and need no resource); the default audience is
/// not checked against scopes (tokens requested without `resource` work as they always did).
pub(crate) fn requested_audience(
    cx: &Context,
    resources: &[&str],
    scopes: &ScopeSet,
) -> Result<Vec<String>, OAuthError> {
    let config = cx.config();
    if resources.is_empty() {
        return Ok(config.default_audience());
    }
    let mut audience: Vec<String> = Vec::with_capacity(resources.len());
    let mut named = Vec::with_capacity(resources.len());
    for id in resources {
        let resource = config
            .resource(id)
            .ok_or_else(|| invalid_target("the resource is unknown to this server"))?;
        if !audience.iter().any(|a| a == id) {
            audience.push((*id).to_owned());
            named.push(resource);
        }
    }
    check_scopes_accepted(&named, scopes)?;
    Ok(audience)
}

/// The audience of a token issued within a grant (a refresh, a code redemption, a device
/// poll, an exchange): the grant's own if the request names no resource, else the named ones,
/// each of which must be in the grant's audience (for a grant without one: the default
/// audience).
pub(crate) fn narrowed_audience(
    cx: &Context,
    granted: &[String],
    resources: &[&str],
    scopes: &ScopeSet,
) -> Result<Vec<String>, OAuthError> {
    if resources.is_empty() {
        return Ok(granted.to_vec());
    }
    // A grant without an audience (given before any resource was in the default audience)
    // counts as the default audience: narrowing never reaches a resource it was not valid at.
    let default;
    let granted = if granted.is_empty() {
        default = cx.config().default_audience();
        &default
    } else {
        granted
    };
    if resources.iter().any(|r| !granted.iter().any(|g| g == r)) {
        return Err(invalid_target(
            "the resource is not one the grant was given for",
        ));
    }
    requested_audience(cx, resources, scopes)
}

/// Scopes about the authorization server itself (a refresh token, an ID token), not about a
/// resource: no resource needs to accept them.
const SERVER_SCOPES: [&str; 2] = ["offline_access", "openid"];

fn check_scopes_accepted(named: &[&crate::Resource], scopes: &ScopeSet) -> Result<(), OAuthError> {
    match scopes
        .iter()
        .filter(|scope| !SERVER_SCOPES.contains(&scope.as_str()))
        .find(|scope| !named.iter().any(|r| r.accepts(scope.as_str())))
    {
        Some(_) => Err(OAuthError::invalid_scope(
            "a requested scope is not accepted by any requested resource",
        )),
        None => Ok(()),
    }
}
