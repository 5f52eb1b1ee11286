//! The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636).
//!
//! At the authorization endpoint: [`Provider::authorize`] turns request parameters into a
//! [`PendingAuthorization`] (or an error, typed by whether it may be redirected); the host shows
//! it to its logged-in user and resolves it with [`PendingAuthorization::approve`] or
//! [`PendingAuthorization::deny`], each giving the [`Redirect`] to send. At the token endpoint,
//! the code is redeemed exactly once.

use std::fmt;

use crate::audit::AuditEvent;
use crate::client::{Client, GrantType, UserId};
use crate::config::PkceRequirement;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::issue::{FamilyDeadline, TokenResponse};
use crate::grant::pkce;
use crate::params::Params;
use crate::provider::Provider;
use crate::redirect::{RedirectError, RedirectUri};
use crate::response::{Redirect, Response};
use crate::scope::ScopeSet;
use crate::secret::{AuthorizationCode, TokenKind};
use crate::store::{CodeRecord, CodeRedemption, Consent, Grant, GrantId, Insertion, PkceChallenge};

/// An authorization request error that must be shown to the user and never redirected: the
/// client or its redirect URI could not be trusted (RFC 6749 §4.1.2.1). It has no URI to send
/// anywhere, by construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
#[non_exhaustive]
pub struct UntrustedRequest {
    /// The error code (`invalid_request`, `unauthorized_client` or `server_error`).
    pub code: ErrorCode,
    /// What is wrong, for the user (and the client's developer) to read.
    pub description: String,
}

impl UntrustedRequest {
    fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    /// The HTTP status to show it with (400, or 500 for a storage fault).
    pub fn status(&self) -> u16 {
        if self.code == ErrorCode::ServerError {
            500
        } else {
            400
        }
    }
}

/// Why an authorization request failed.
#[derive(Debug)]
#[must_use = "the error must be shown to the user or its redirect sent"]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show this to the user on the provider's own page; do not redirect.
    Untrusted(UntrustedRequest),
    /// The redirect URI is verified: send the client this error response.
    Redirect(Redirect),
}

/// A validated authorization request waiting for the user's decision.
///
/// Carry it (or the original query, to be parsed again) through the host's login and consent
/// pages; then resolve it by value.
#[must_use = "an authorization request must be approved or denied"]
pub struct PendingAuthorization {
    client: Client,
    redirect_uri: RedirectUri,
    redirect_uri_given: Option<String>,
    scopes: ScopeSet,
    state: Option<String>,
    pkce: Option<PkceChallenge>,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("client", &self.client.id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// The client asking (its name is what the consent screen shows).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Where the response will go.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The client's `state`, echoed in the response.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    fn redirect(&self, provider: &Provider, params: &[(&str, &str)]) -> Redirect {
        redirect_to(
            self.redirect_uri.url().clone(),
            self.state.as_deref(),
            provider,
            params,
        )
    }

    fn error_redirect(&self, provider: &Provider, error: &OAuthError) -> Redirect {
        let code = provider.config().dialect.rename(&error.code);
        match &error.description {
            Some(description) => self.redirect(
                provider,
                &[("error", code.as_str()), ("error_description", description)],
            ),
            None => self.redirect(provider, &[("error", code.as_str())]),
        }
    }

    /// Whether `user` already granted this client every scope asked for, so the consent screen
    /// may be skipped (the host decides; Phabricator documents skipping).
    pub async fn consent_covers(
        &self,
        provider: &Provider,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        let consent = provider.store().find_consent(user, &self.client.id).await?;
        Ok(consent.is_some_and(|c| self.scopes.is_subset(&c.scopes)))
    }

    /// The user allowed the request, granting `scopes` (the requested ones or fewer; anything
    /// not requested is dropped). Stores the code and the consent and returns the redirect
    /// carrying the code. A storage fault becomes a `server_error` redirect.
    pub async fn approve(self, provider: &Provider, user: UserId, scopes: &ScopeSet) -> Redirect {
        let mut this = self;
        // Everything asked for was granted (the usual case): the intersection is the asked set
        // itself, so take it instead of building a copy.
        let granted = if this.scopes.is_subset(scopes) {
            std::mem::take(&mut this.scopes)
        } else {
            scopes.intersection(&this.scopes)
        };
        let now = provider.now();
        let (code, code_hash) = AuthorizationCode::generate_hashed(provider.entropy());
        let grant = Grant::new(
            GrantId::generate(provider.entropy()),
            this.client.id.clone(),
            Some(user.clone()),
            granted.clone(),
            GrantType::AuthorizationCode,
            now,
        );
        let record = CodeRecord::new(
            code_hash,
            grant,
            this.redirect_uri_given.take(),
            this.pkce.take(),
            now + provider.config().code_ttl,
        );
        let store = provider.store();
        let stored = async {
            // The code and its grant; a client deleted meanwhile gets no code.
            if store.insert_code(&record).await? == Insertion::ClientUnknown {
                return Ok(false);
            }
            store
                .save_consent(&Consent::new(
                    user.clone(),
                    this.client.id.clone(),
                    granted,
                    now,
                ))
                .await?;
            Ok::<bool, StoreError>(true)
        };
        match stored.await {
            Ok(true) => {
                provider.audit(AuditEvent::ConsentGranted {
                    user,
                    client_id: this.client.id,
                });
                // The pending request ends here: its parsed URI is moved, not cloned.
                redirect_to(
                    this.redirect_uri.into_url(),
                    this.state.as_deref(),
                    provider,
                    &[("code", code.secret())],
                )
            }
            Ok(false) | Err(_) => this.error_redirect(provider, &OAuthError::server_error()),
        }
    }

    /// The user denied the request: `access_denied` (or the dialect's renaming of it).
    pub fn deny(self, provider: &Provider) -> Redirect {
        self.error_redirect(
            provider,
            &OAuthError::new(
                ErrorCode::AccessDenied,
                "the resource owner denied the request",
            ),
        )
    }
}

/// The redirect to `base` carrying `params`, then `state` (if any) and `iss` (if configured).
fn redirect_to(
    base: url::Url,
    state: Option<&str>,
    provider: &Provider,
    params: &[(&str, &str)],
) -> Redirect {
    let config = provider.config();
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 2);
    all.extend_from_slice(params);
    if let Some(state) = state {
        all.push(("state", state));
    }
    if config.iss_parameter {
        all.push(("iss", config.issuer_str()));
    }
    Redirect::new(base, &all)
}

impl Provider {
    /// Validates an authorization request (RFC 6749 §4.1.1), from the query of a GET or the
    /// form of a POST.
    ///
    /// Order matters: first the client and redirect URI (failures are [`AuthorizeError::Untrusted`]
    /// and must be shown, never redirected), then everything else (failures are redirected to
    /// the now-verified URI with `error`, `state` and `iss`).
    pub async fn authorize(&self, params: &Params) -> Result<PendingAuthorization, AuthorizeError> {
        let untrusted = |code, description: &str| {
            AuthorizeError::Untrusted(UntrustedRequest::new(code, description))
        };
        let client_id = params
            .get("client_id")
            .ok_or_else(|| untrusted(ErrorCode::InvalidRequest, "the request has no client_id"))?;
        let client_id = crate::ClientId::new(client_id)
            .map_err(|_| untrusted(ErrorCode::InvalidRequest, "malformed client_id"))?;
        let client = self
            .client(&client_id)
            .await
            .map_err(|_| {
                untrusted(
                    ErrorCode::ServerError,
                    "the authorization server met an internal error",
                )
            })?
            .ok_or_else(|| untrusted(ErrorCode::InvalidRequest, "unknown client_id"))?;
        let requested = params.get("redirect_uri");
        let redirect_uri = self.inner.redirects.resolve(&client.redirect_uris, requested).map_err(|e| {
            let description = match e {
                RedirectError::Missing => "the redirect_uri is missing and the client does not have exactly one registered",
                RedirectError::Malformed(_) => "the redirect_uri is malformed",
                RedirectError::NotRegistered => "the redirect_uri is not registered for this client",
                RedirectError::Refused(reason) => reason,
            };
            untrusted(ErrorCode::InvalidRequest, description)
        })?;

        let mut pending = PendingAuthorization {
            client,
            redirect_uri,
            redirect_uri_given: requested.map(str::to_owned),
            scopes: ScopeSet::new(),
            state: params.get("state").map(str::to_owned),
            pkce: None,
        };
        match self.check_authorization(params, &pending) {
            Ok((scopes, pkce)) => {
                pending.scopes = scopes;
                pending.pkce = pkce;
                Ok(pending)
            }
            Err(error) => Err(AuthorizeError::Redirect(
                pending.error_redirect(self, &error),
            )),
        }
    }

    /// The checks after the redirect URI is trusted.
    fn check_authorization(
        &self,
        params: &Params,
        pending: &PendingAuthorization,
    ) -> Result<(ScopeSet, Option<PkceChallenge>), OAuthError> {
        let config = self.config();
        let response_type = params
            .get("response_type")
            .or(config.dialect.response_type_optional.then_some("code"));
        match response_type {
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
            None => {
                return Err(OAuthError::invalid_request(
                    "missing parameter `response_type`",
                ));
            }
        }
        if !config.grant_enabled(GrantType::AuthorizationCode) {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "the authorization code grant is disabled",
            ));
        }
        pending.client.check_grant(GrantType::AuthorizationCode)?;
        let scopes = self.requested_scopes(&pending.client, params.get("scope"))?;
        let pkce = pkce::parse_challenge(
            params.get("code_challenge"),
            params.get("code_challenge_method"),
            config.allows_plain_pkce(),
        )?;
        let required = pending.client.is_public() || config.pkce == PkceRequirement::AllClients;
        if pkce.is_none() && required {
            return Err(OAuthError::invalid_request(
                "code_challenge is required (PKCE, RFC 7636)",
            ));
        }
        Ok((scopes, pkce))
    }

    /// The scopes a request names (or the defaults), checked against what the provider offers
    /// and the client may have.
    pub(crate) fn requested_scopes(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<ScopeSet, OAuthError> {
        let config = self.config();
        let requested = match scope {
            Some(text) => ScopeSet::parse(text)?,
            None => match &client.scopes {
                Some(allowed) if config.default_scopes.is_empty() => allowed.clone(),
                _ => config.default_scopes.clone(),
            },
        };
        if !config.scopes.is_empty() && !requested.is_subset(&config.scopes) {
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

    /// grant_type=authorization_code (RFC 6749 §4.1.3).
    pub(crate) async fn redeem_code(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Response, OAuthError> {
        client.check_grant(GrantType::AuthorizationCode)?;
        let code = params.require("code")?;
        if !TokenKind::AuthorizationCode.is_well_formed(code) {
            return Err(OAuthError::invalid_grant(
                "the code is invalid, expired or already used",
            ));
        }
        let code = AuthorizationCode::new(code);
        let hash = code.hash();
        let store = self.store();
        let invalid = || OAuthError::invalid_grant("the code is invalid, expired or already used");
        let record = store.find_code(&hash).await?.ok_or_else(invalid)?;
        let now = self.now();
        let checked = self.check_code(client, &record, params, now);
        // Every presentation of a code spends it, in one atomic step with storing the tokens
        // (none if a check failed): a failed presentation burns the code, a replay revokes
        // its grant whatever it presents, and a store fault spends nothing.
        let minted = checked.is_ok().then(|| {
            let with_refresh = client.allows_grant(GrantType::RefreshToken)
                && self.config().grant_enabled(GrantType::RefreshToken);
            self.mint(
                client,
                &record.grant,
                record.grant.scopes.clone(),
                with_refresh,
                FamilyDeadline::New,
            )
        });
        let records = minted.as_ref().map_or(&[][..], |m| &m.records[..]);
        match store.redeem_code(&hash, records).await? {
            CodeRedemption::Redeemed => {}
            CodeRedemption::Replayed(grant_id) => {
                // RFC 6749 §4.1.2: the store revoked every token issued from the code.
                self.audit(AuditEvent::CodeReplayed { grant_id });
                return Err(invalid());
            }
            _ => return Err(invalid()),
        }
        checked?;
        let minted = minted.ok_or_else(invalid)?;
        if let Some(user) = &record.grant.user {
            store.touch_consent(user, &client.id, now).await?;
        }
        Ok(self.token_response(&minted.response))
    }

    /// The checks a token request must pass to redeem `record`: its client, its expiry, the
    /// repeated redirect URI and PKCE (RFC 6749 §4.1.3, RFC 7636 §4.6).
    fn check_code(
        &self,
        client: &Client,
        record: &CodeRecord,
        params: &Params,
        now: time::OffsetDateTime,
    ) -> Result<(), OAuthError> {
        if record.grant.client_id != client.id || now >= record.expires_at {
            return Err(OAuthError::invalid_grant(
                "the code is invalid, expired or already used",
            ));
        }
        let redirect_ok = match (&record.redirect_uri, params.get("redirect_uri")) {
            (Some(given), Some(repeated)) => given == repeated,
            (Some(_), None) => self.config().dialect.token_redirect_uri_optional,
            (None, None) => true,
            (None, Some(repeated)) => client.redirect_uris.iter().any(|r| r.as_str() == repeated),
        };
        if !redirect_ok {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        pkce::verify(record.pkce.as_ref(), params.get("code_verifier"))
    }

    /// Renders a successful token response in the configured dialect.
    pub(crate) fn token_response(&self, issued: &TokenResponse) -> Response {
        let dialect = &self.config().dialect;
        if dialect.token_fields.is_none()
            && dialect.token_format == crate::response::BodyFormat::Json
        {
            // Nothing to filter or re-encode: serialise straight from the fields.
            return Response::json_bytes(200, issued.to_json_bytes());
        }
        self.render_token_body(issued.to_json())
    }

    /// Renders a successful token response body in the configured dialect.
    pub(crate) fn render_token_body(&self, mut body: serde_json::Value) -> Response {
        let dialect = &self.config().dialect;
        if let (Some(fields), serde_json::Value::Object(map)) = (&dialect.token_fields, &mut body) {
            map.retain(|name, _| fields.iter().any(|f| f == name));
        }
        Response::encoded(dialect.token_format, 200, &body)
    }
}
