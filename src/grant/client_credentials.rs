//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself.

use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::grant::issue::{self, Commit, Issue, Issued, Refresh, Sender, TokenResponse};
use crate::grant::{requested_audience, requested_scopes};
use crate::limiter::Attempt;
use crate::provider::Context;
use crate::scope::ScopeSet;
use crate::store::{Grant, GrantId};

/// grant_type=client_credentials: an access token, never a refresh token (RFC 6749 §4.4.3).
pub(crate) async fn issue(
    cx: &Context,
    client: &Client,
    scope: Option<&str>,
    resources: &[&str],
    sender: Sender<'_>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use the client_credentials grant",
        ));
    }
    client.check_grant(GrantType::ClientCredentials)?;
    if let Attempt::Refused { retry_after } = cx
        .machine_issuance()
        .attempt(&format!("client_credentials:{}", client.id), cx.now())
        .await
    {
        return Err(OAuthError::rate_limited(
            "too many tokens issued to this client; reuse a token until it expires",
            retry_after.whole_seconds().unsigned_abs(),
        ));
    }
    let scopes = match scope {
        Some(scope) => requested_scopes(cx, client, Some(scope))?,
        None => without_offline_access(requested_scopes(cx, client, None)?)?,
    };
    let audience = requested_audience(cx, resources, &scopes)?;
    let grant = Grant::new(
        GrantId::generate(cx.entropy()),
        client.id.clone(),
        None,
        scopes.clone(),
        GrantType::ClientCredentials,
        cx.now(),
    )
    .with_audience(audience.clone());
    let plan = Issue {
        client,
        grant: &grant,
        scopes,
        audience,
        refresh: Refresh::No,
        not_after: None,
        issued_token_type: None,
        sender,
        id_token: None,
        claims: None,
    };
    match issue::issue(cx, plan, Commit::NewGrant).await? {
        Issued::Tokens(tokens) => Ok(tokens),
        _ => Err(OAuthError::server_error()),
    }
}

/// The default scope of a client acting for itself never includes `offline_access`: it means
/// "while the user is away", and there is no user here.
fn without_offline_access(scopes: ScopeSet) -> Result<ScopeSet, OAuthError> {
    if !scopes.contains("offline_access") {
        return Ok(scopes);
    }
    ScopeSet::from_tokens(
        scopes
            .iter()
            .map(|s| s.as_str())
            .filter(|s| *s != "offline_access"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scope_leaves_offline_access_out() {
        let all = ScopeSet::parse("read offline_access write").unwrap_or_default();
        assert_eq!(
            without_offline_access(all).ok(),
            ScopeSet::parse("read write").ok()
        );
        let none = ScopeSet::parse("offline_access").unwrap_or_default();
        assert_eq!(without_offline_access(none).ok(), Some(ScopeSet::new()));
    }
}
