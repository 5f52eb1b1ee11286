//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): [`Provider::end_session`]
//! checks a logout request; the host ends its session for the user and sends the
//! [`EndSession::redirect`], if there is one, at once.

use crate::client::{Client, ClientId, UserId};
use crate::endpoint::authorize::UntrustedRequest;
use crate::error::ErrorCode;
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Redirect;

/// A checked logout request: whom the client says is signing out, and where to send the
/// browser once the host has ended that user's session.
#[derive(Debug)]
#[must_use = "end the user's session, then send the redirect"]
#[non_exhaustive]
pub struct EndSession {
    /// The `sub` of the `id_token_hint`: the user to sign out. End the session only if it
    /// is this user's (a hint for another user is no reason to sign anyone out). `None`
    /// for a hint to a pairwise client, whose `sub` is not a user ID: ask
    /// [`EndSession::hint_names`] instead, which answers for every client.
    pub user: Option<UserId>,
    /// The client asking, from the hint's `aud` or `client_id`.
    pub client_id: Option<ClientId>,
    /// The `post_logout_redirect_uri`, exactly as registered, with `state`; `None`: show the
    /// host's own "signed out" page.
    pub redirect: Option<Redirect>,
    /// The hint's `sub`, and the client it was issued to when that is a pairwise one.
    hint: Option<(String, Option<Client>)>,
}

impl EndSession {
    /// Whether the `id_token_hint` names `user` (the user of the host's session), for public
    /// and pairwise clients alike (OIDC Core §8.1). `false` without a hint.
    pub fn hint_names(&self, provider: &Provider, user: &UserId) -> bool {
        match &self.hint {
            None => false,
            Some((sub, None)) => sub == user.as_str(),
            Some((sub, Some(client))) => {
                crate::subject::is_subject(provider.cx(), client, sub, user)
            }
        }
    }
}

fn refused(description: &str) -> UntrustedRequest {
    UntrustedRequest::new(ErrorCode::InvalidRequest, description)
}

impl Provider {
    /// Checks a logout request from the query of a GET or the form of a POST:
    /// `id_token_hint` (an ID token this provider signed, expired or not; its `iss` must be
    /// the issuer), `client_id` (if given with a hint, one of its audiences),
    /// `post_logout_redirect_uri` (matched exactly against the client's registered
    /// `post_logout_redirect_uris`; the client must be named by the hint or `client_id`) and
    /// `state`. Every refusal is shown, never redirected. No confirmation page is asked for:
    /// the hint proves the client holds the user's ID token.
    pub async fn end_session(&self, params: &Params) -> Result<EndSession, UntrustedRequest> {
        let cx = self.cx();
        let mut user = None;
        let mut hint_sub = None;
        let mut audience = None;
        if let Some(hint) = params.get("id_token_hint") {
            let claims = crate::oidc::verify_hint(cx, hint).ok_or_else(|| {
                refused("the id_token_hint is not an ID token this server issued")
            })?;
            hint_sub.clone_from(&claims.sub);
            user = claims.sub.map(UserId::new);
            audience = claims.aud;
        }
        let named = match params.get("client_id") {
            Some(id) => {
                let id = ClientId::new(id).map_err(|_| refused("malformed client_id"))?;
                if audience
                    .as_ref()
                    .is_some_and(|aud| !aud.contains(id.as_str()))
                {
                    return Err(refused("the client_id is not the id_token_hint's audience"));
                }
                Some(id)
            }
            None => match audience {
                Some(crate::jose::Audience::One(id)) => ClientId::new(id).ok(),
                Some(_) => {
                    return Err(refused(
                        "the id_token_hint has several audiences: send client_id",
                    ));
                }
                None => None,
            },
        };
        // A pairwise client's `sub` is no user ID (OIDC Core §8.1).
        let mut hint = hint_sub.map(|sub| (sub, None));
        if let (Some((_, pairwise)), Some(id), Some(_)) =
            (hint.as_mut(), named.as_ref(), cx.pairwise_key())
        {
            let client = self.client(id).await.map_err(|_| {
                UntrustedRequest::new(
                    ErrorCode::ServerError,
                    "the authorization server met an internal error",
                )
            })?;
            if let Some(client) = client
                && client.metadata.subject_type == Some(crate::SubjectType::Pairwise)
            {
                user = None;
                *pairwise = Some(client);
            }
        }
        let redirect = match params.get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let id = named.as_ref().ok_or_else(|| {
                    refused("post_logout_redirect_uri needs an id_token_hint or a client_id")
                })?;
                let client = self
                    .client(id)
                    .await
                    .map_err(|_| {
                        UntrustedRequest::new(
                            ErrorCode::ServerError,
                            "the authorization server met an internal error",
                        )
                    })?
                    .ok_or_else(|| refused("unknown client_id"))?;
                if !client
                    .metadata
                    .post_logout_redirect_uris
                    .iter()
                    .any(|registered| registered == uri)
                {
                    return Err(refused(
                        "the post_logout_redirect_uri is not registered for this client",
                    ));
                }
                let base = url::Url::parse(uri)
                    .map_err(|_| refused("the post_logout_redirect_uri is malformed"))?;
                let state = params.get("state");
                Some(Redirect::new(
                    base,
                    &state.map(|s| ("state", s)).into_iter().collect::<Vec<_>>(),
                ))
            }
        };
        Ok(EndSession {
            user,
            client_id: named,
            redirect,
            hint,
        })
    }
}
