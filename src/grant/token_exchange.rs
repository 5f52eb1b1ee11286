//! Token exchange (RFC 8693): a client trades a subject token for an access token acting for
//! the same user. PhoneGap Build's "non web application flow" is this: the user pastes a
//! personal auth token into an application, which exchanges it.
//!
//! RFC 8693 §5 leaves to the server who may exchange what. Here: a client exchanges only
//! access tokens issued to itself or to a client that trusts it
//! ([`crate::ConfigBuilder::trust_exchange`]), and tokens a host validator vouches for. An
//! exchanged token joins the subject token's grant (revoking either revokes both), never
//! outlives it and always expires; exchanging saves no consent.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::client::{Client, GrantType, UserId};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::issue::{
    self, ACCESS_TOKEN_TYPE, Commit, Issue, Issued, Refresh, Sender, TokenResponse,
};
use crate::grant::{narrowed_audience, requested_audience, requested_scopes};
use crate::limiter::Attempt;
use crate::provider::Context;
use crate::secret::{AccessToken, TokenKind};
use crate::store::{Grant, GrantId, TokenType};

/// What a host's subject token stands for: a user, and when the token stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubjectToken {
    /// The user the token acts for.
    pub user: UserId,
    /// When the subject token expires (`None`: it does not); the issued token never outlives
    /// it.
    pub expires_at: Option<OffsetDateTime>,
}

impl SubjectToken {
    /// A subject token of `user` that does not expire by itself.
    pub fn new(user: UserId) -> Self {
        Self {
            user,
            expires_at: None,
        }
    }

    /// The subject token expires at `at`.
    pub fn expiring_at(self, at: OffsetDateTime) -> Self {
        Self {
            expires_at: Some(at),
            ..self
        }
    }
}

/// Turns a subject token of a host-defined type (a personal token, a session) into the user it
/// stands for. The provider's own access tokens are recognised without one. Wrong tokens are
/// limited per client and source, like client secrets.
#[async_trait]
pub trait SubjectTokenValidator: Send + Sync + fmt::Debug {
    /// What `token` (of `token_type`) stands for; `None` if it is invalid, expired, revoked or
    /// of a type this validator does not handle.
    async fn validate(
        &self,
        token_type: &str,
        token: &str,
    ) -> Result<Option<SubjectToken>, StoreError>;
}

/// A token-exchange request, as the endpoint read it (the dialect's default subject token
/// type applied).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExchangeRequest<'a> {
    pub(crate) subject_token: &'a str,
    pub(crate) subject_token_type: &'a str,
    pub(crate) requested_token_type: Option<&'a str>,
    /// The `resource` and `audience` values (RFC 8693 §2.1), each a registered resource.
    pub(crate) targets: &'a [&'a str],
    /// Whether `actor_token` was given.
    pub(crate) delegated: bool,
    pub(crate) scope: Option<&'a str>,
    /// Where the request came from, for the limiter of host-validated subject tokens.
    pub(crate) source: Option<&'a str>,
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the subject token is invalid, expired or revoked")
}

/// grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693 §2.1).
pub(crate) async fn exchange(
    cx: &Context,
    client: &Client,
    request: ExchangeRequest<'_>,
    sender: Sender<'_>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot exchange tokens",
        ));
    }
    client.check_grant(GrantType::TokenExchange)?;
    if request
        .requested_token_type
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(
            "only access tokens can be requested",
        ));
    }
    if request.delegated {
        return Err(OAuthError::invalid_request(
            "delegation (actor_token) is not supported",
        ));
    }
    let now = cx.now();
    let lifetimes = &cx.config().lifetimes;
    let access = request.subject_token_type == ACCESS_TOKEN_TYPE;
    let local = if access && TokenKind::AccessToken.is_well_formed(request.subject_token) {
        let hash = AccessToken::new(request.subject_token).hash();
        Some(cx.store().find_token(&hash).await?.ok_or_else(invalid)?)
    } else if access
        && cx.config().any_jwt_access_tokens()
        && crate::jwt_access::is_jws_shaped(request.subject_token)
    {
        // One of our JWT access tokens, or another issuer's JWT for the host's validator.
        let hash = AccessToken::new(request.subject_token).hash();
        cx.store().find_token(&hash).await?
    } else {
        None
    };
    if let Some(record) = local {
        // Only the subject token's own client, or one it trusts, may exchange it; to anyone
        // else it reads as invalid, so a stolen token is not even confirmed.
        if record.token_type != TokenType::Access
            || record.is_expired(now)
            || !cx.config().exchange_trusted(&record.client_id, &client.id)
        {
            return Err(invalid());
        }
        let user = record.user.clone().ok_or_else(invalid)?;
        let scopes = requested_scopes(cx, client, request.scope)?;
        if !scopes.is_subset(&record.scopes) {
            return Err(OAuthError::invalid_scope(
                "the requested scope exceeds the subject token's",
            ));
        }
        // Never a resource the subject token was not valid at.
        let audience = narrowed_audience(cx, &record.audience, request.targets, &scopes)?;
        // The issued token joins the subject token's family, under the acting client.
        let grant = Grant::new(
            record.grant_id.clone(),
            client.id.clone(),
            Some(user),
            record.scopes.clone(),
            GrantType::TokenExchange,
            now,
        )
        .with_audience(record.audience.clone());
        let not_after = record
            .expires_at
            .unwrap_or(now + lifetimes.access_token)
            .min(now + lifetimes.access_token);
        return issue_exchanged(
            cx,
            client,
            &grant,
            (scopes, audience),
            not_after,
            Commit::Join,
            sender,
        )
        .await;
    }
    let validator = cx
        .subject_tokens()
        .ok_or_else(|| OAuthError::invalid_request("unsupported subject_token_type"))?;
    let key = match request.source {
        Some(source) => format!("subject_token client:{} source:{source}", client.id),
        None => format!("subject_token client:{}", client.id),
    };
    if let Attempt::Refused { .. } = cx.client_attempts().attempt(&key, now).await {
        cx.audit(crate::AuditEvent::RateLimited {
            limit: crate::audit::RateLimit::SubjectToken,
        });
        return Err(OAuthError::invalid_grant(
            "too many invalid subject tokens; try again later",
        ));
    }
    let subject = validator
        .validate(request.subject_token_type, request.subject_token)
        .await?
        .ok_or_else(invalid)?;
    cx.client_attempts().succeeded(&key, now).await;
    let scopes = requested_scopes(cx, client, request.scope)?;
    let audience = requested_audience(cx, request.targets, &scopes)?;
    let grant = Grant::new(
        GrantId::generate(cx.entropy()),
        client.id.clone(),
        Some(subject.user),
        scopes.clone(),
        GrantType::TokenExchange,
        now,
    )
    .with_audience(audience.clone());
    let not_after = subject
        .expires_at
        .unwrap_or(now + lifetimes.access_token)
        .min(now + lifetimes.access_token);
    issue_exchanged(
        cx,
        client,
        &grant,
        (scopes, audience),
        not_after,
        Commit::NewGrant,
        sender,
    )
    .await
}

async fn issue_exchanged(
    cx: &Context,
    client: &Client,
    grant: &Grant,
    (scopes, audience): (crate::ScopeSet, Vec<String>),
    not_after: OffsetDateTime,
    commit: Commit<'_>,
    sender: Sender<'_>,
) -> Result<TokenResponse, OAuthError> {
    let plan = Issue {
        client,
        grant,
        scopes,
        audience,
        refresh: Refresh::No,
        // Never past the subject token, and never without an end.
        not_after: Some(not_after),
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
        sender,
        id_token: None,
        claims: None,
    };
    match issue::issue(cx, plan, commit).await? {
        Issued::Tokens(tokens) => Ok(tokens),
        _ => Err(invalid()),
    }
}
