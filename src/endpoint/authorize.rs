//! The authorization endpoint (RFC 6749 §4.1.1, §4.1.2): [`Provider::authorize`] turns request
//! parameters into a [`PendingAuthorization`] (or an error, typed by whether it may be
//! redirected); the host shows it to its signed-in user and resolves it with
//! [`PendingAuthorization::approve`] or [`PendingAuthorization::deny`], each giving the
//! [`Redirect`] to send. The grant's decisions are in `grant::authorization_code`.

use std::borrow::Cow;
use std::fmt;

use time::OffsetDateTime;

use crate::cimd::ResolveError;
use crate::client::{Client, UserId};
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::authorization_code::{self, Asked, AuthorizationRequest};
use crate::grant::openid::{Interaction, OpenIdParams, Prompt};
use crate::params::Params;
use crate::provider::{Context, Provider};
use crate::redirect::{RedirectError, RedirectUri};
use crate::response::Redirect;
use crate::scope::ScopeSet;
use crate::store::{Authentication, ReplayKey};

/// `invalid_request_uri` (RFC 9126 §4 names it; RFC 9101 §7 registers it).
pub(crate) fn invalid_request_uri(description: &'static str) -> OAuthError {
    OAuthError::new(
        ErrorCode::Custom(Cow::Borrowed("invalid_request_uri")),
        description,
    )
}

/// `request_uri_not_supported` (OpenID Connect Core §3.1.2.6, RFC 9101 §6.2): a
/// `request_uri` that is not one of this server's pushed requests; request objects are never
/// fetched from a URL.
pub(crate) fn request_uri_not_supported() -> UntrustedRequest {
    UntrustedRequest::new(
        ErrorCode::Custom(Cow::Borrowed("request_uri_not_supported")),
        "request_uri must be one this server issued for a pushed request (RFC 9126); request objects are not fetched from URLs: send them by value in request",
    )
}

/// The single use of a request object with a `jti` (RFC 9101): remembered in the replay store
/// when the request is used, until the object expires.
#[derive(Debug)]
pub(crate) struct OnceUse {
    pub(crate) key: ReplayKey,
    pub(crate) until: OffsetDateTime,
}

/// A request that was pushed first (RFC 9126): approving it uses it up.
#[derive(Debug)]
pub(crate) struct PushedUse {
    key: ReplayKey,
    pushed_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

/// An authorization request error that must be shown to the user and never redirected: the
/// client or its redirect URI could not be trusted (RFC 6749 §4.1.2.1). It has no URI to send
/// anywhere, by construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
#[non_exhaustive]
pub struct UntrustedRequest {
    /// The error code (`invalid_request`, `invalid_request_uri`, `invalid_request_object`,
    /// `request_uri_not_supported`, `unauthorized_client`, `temporarily_unavailable` or
    /// `server_error`).
    pub code: ErrorCode,
    /// What is wrong, for the user (and the client's developer) to read.
    pub description: String,
    /// Seconds to wait before retrying (`Retry-After`): set when the store is unavailable.
    pub retry_after: Option<u64>,
}

impl UntrustedRequest {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// A storage fault met before the client was trusted (logged once, by the conversion to
    /// [`OAuthError`]).
    pub(crate) fn store(error: StoreError) -> Self {
        let error = OAuthError::from(error);
        Self {
            retry_after: error.retry_after,
            ..Self::new(
                error.code,
                error.description.unwrap_or_default().into_owned(),
            )
        }
    }

    /// The HTTP status to show it with: the code's ([`ErrorCode::status`]; 400 for a bad
    /// request, 503 while the store is unavailable, 500 for another storage fault).
    pub fn status(&self) -> u16 {
        self.code.status()
    }
}

/// Why an authorization request failed.
#[derive(Debug)]
#[must_use = "the error must be shown to the user or its redirect sent"]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show this to the user on the provider's own page; do not redirect.
    Untrusted(UntrustedRequest),
    /// The redirect URI is verified: once the user has signed in, send the client this error
    /// response.
    Redirect(ErrorRedirect),
}

impl AuthorizeError {
    /// What to send once `user` has signed in: the redirect of an [`AuthorizeError::Redirect`]
    /// ([`ErrorRedirect::after_login`]), or the error page of an [`AuthorizeError::Untrusted`],
    /// which is never redirected.
    ///
    /// ```
    /// # use tessera::{AuthorizeError, UserId};
    /// fn after_login(refused: AuthorizeError, user: &UserId) -> String {
    ///     match refused.after_login(user) {
    ///         Ok(redirect) => format!("302 to {}", redirect.location()),
    ///         Err(untrusted) => format!("{} page: {untrusted}", untrusted.status()),
    ///     }
    /// }
    /// ```
    pub fn after_login(self, user: &UserId) -> Result<Redirect, UntrustedRequest> {
        match self {
            Self::Untrusted(error) => Err(error),
            Self::Redirect(redirect) => Ok(redirect.after_login(user)),
        }
    }
}

/// An authorization error bound for a verified redirect URI, held until the user has signed
/// in.
///
/// A registered redirect URI is not a trusted one: anyone may register a client (dynamic
/// registration) with a redirect URI of their choosing, and a request made broken on purpose
/// (an unknown scope, a missing PKCE challenge) would bounce the user's browser off this
/// server's trusted URL onto theirs, an open redirector for phishing. RFC 9700 §4.11.2: the
/// authorization server "MUST always authenticate the user first ... before redirecting the
/// user". So the redirect is only handed out for a signed-in user: show the login page first
/// (then validate the request again), or show [`ErrorRedirect::error`] on a page of your own.
#[must_use = "show the user the login page, then send the redirect; or show the error"]
pub struct ErrorRedirect {
    redirect: Redirect,
    error: OAuthError,
}

impl fmt::Debug for ErrorRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRedirect")
            .field("error", &self.error.code)
            .finish_non_exhaustive()
    }
}

impl ErrorRedirect {
    /// The error the client will receive (in the provider's terms, before any dialect
    /// renaming), for a page that explains it.
    pub fn error(&self) -> &OAuthError {
        &self.error
    }

    /// The redirect to send, once `user` has signed in.
    pub fn after_login(self, user: &UserId) -> Redirect {
        // The user is the proof the host has to show, not an input: the redirect is the same
        // for everyone.
        let _ = user;
        self.redirect
    }
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
    state: Option<String>,
    asked: Asked,
    pushed: Option<PushedUse>,
    request_object: Option<OnceUse>,
    from_request_object: bool,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("client", &self.client.id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.asked.scopes)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// The client asking (its name is what the consent screen shows).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// For a client described by its client ID metadata document ([`crate::cimd`]), the host
    /// serving the document: show it on the consent screen, since the name is the client's
    /// own claim and the host is the one thing about it that is verified.
    pub fn metadata_document_host(&self) -> Option<String> {
        self.client.metadata_document_host()
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &ScopeSet {
        &self.asked.scopes
    }

    /// The resources the tokens will be valid at (RFC 8707): those the request names, or the
    /// default audience ([`crate::Config::default_audience`]).
    pub fn audience(&self) -> &[String] {
        &self.asked.audience
    }

    /// Where the response will go.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// Whether the request came in a signed request object (RFC 9101) sent by value in
    /// `request` (a pushed one, even from a request object, is [`is_pushed`](Self::is_pushed)).
    pub fn is_request_object(&self) -> bool {
        self.from_request_object
    }

    /// Whether the request was pushed first (RFC 9126) and named here by its `request_uri`.
    pub fn is_pushed(&self) -> bool {
        self.pushed.is_some()
    }

    /// When a pushed request was pushed (RFC 9126); `None` for a request sent in the query.
    pub fn pushed_at(&self) -> Option<time::OffsetDateTime> {
        self.pushed.as_ref().map(|pushed| pushed.pushed_at)
    }

    /// Whether a user who authenticated at `auth_time` signed in after this request was
    /// made, which satisfies `prompt=login` and `max_age=0`. Known only for a pushed request
    /// (its parameters cannot be dropped from the query after the login, as a host does for a
    /// plain one, so without this its login page would ask forever); `false` otherwise.
    pub fn fresh_login(&self, auth_time: Option<time::OffsetDateTime>) -> bool {
        match (self.pushed_at(), auth_time) {
            (Some(pushed_at), Some(auth_time)) => auth_time >= pushed_at,
            _ => false,
        }
    }

    /// The client's `state`, echoed in the response.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// Whether `user` already granted this client every scope asked for, so the consent screen
    /// may be skipped (the host decides; Phabricator documents skipping).
    pub async fn consent_covers(
        &self,
        provider: &Provider,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        let consent = provider
            .cx()
            .store()
            .find_consent(user, &self.client.id)
            .await?;
        Ok(consent.is_some_and(|c| self.asked.scopes.is_subset(&c.scopes)))
    }

    /// Whether this is an OpenID Connect request (its scope has `openid`).
    pub fn is_openid(&self) -> bool {
        self.asked.openid.openid
    }

    /// The `prompt` parameter (OIDC Core §3.1.2.1): with [`Prompt::none`] show no page
    /// (approve at once, or answer with [`PendingAuthorization::interaction_required`]); with
    /// [`Prompt::login`] sign the user in again; with [`Prompt::consent`] ask again.
    pub fn prompt(&self) -> Prompt {
        self.asked.openid.prompt
    }

    /// `max_age` (OIDC Core §3.1.2.1): the longest time since the user last actively
    /// authenticated that the client accepts; sign them in again if it has passed (see
    /// [`PendingAuthorization::needs_login`]), and approve with
    /// [`PendingAuthorization::approve_authenticated`] so the ID token has `auth_time`.
    pub fn max_age(&self) -> Option<time::Duration> {
        self.asked.openid.max_age.map(time::Duration::seconds)
    }

    /// Whether the user must sign in (again) before approving: no one is signed in
    /// (`auth_time` is `None`), or more than `max_age` whole seconds have passed since
    /// `auth_time` (`max_age=0`: always, as OIDC Core §3.1.2.1 makes it `prompt=login`).
    /// `prompt=login` and `max_age` are satisfied by the login they cause: once the user has
    /// signed in, continue with the request without them (else the page asks again); a pushed
    /// request, whose parameters cannot be dropped, counts a login since it was pushed
    /// ([`PendingAuthorization::fresh_login`]).
    pub fn needs_login(
        &self,
        auth_time: Option<time::OffsetDateTime>,
        provider: &Provider,
    ) -> bool {
        let Some(auth_time) = auth_time else {
            return true;
        };
        let elapsed = provider.now().unix_timestamp() - auth_time.unix_timestamp();
        let fresh = self.fresh_login(Some(auth_time));
        self.asked
            .openid
            .max_age
            .is_some_and(|age| (age == 0 && !fresh) || elapsed > age)
    }

    /// `login_hint`: the user the client thinks will sign in (an e-mail address, a name).
    pub fn login_hint(&self) -> Option<&str> {
        self.asked.openid.login_hint.as_deref()
    }

    /// `id_token_hint`: an ID token this provider issued earlier, as the client sent it (not
    /// verified here), hinting at the signed-in user.
    pub fn id_token_hint(&self) -> Option<&str> {
        self.asked.openid.id_token_hint.as_deref()
    }

    /// The user an `id_token_hint` names, if it is an ID token this provider issued to this
    /// client (signature, `iss` and `aud` checked; expired ones accepted, OIDC Core
    /// §3.1.2.1). With `prompt=none`, a signed-in user other than this one should get
    /// [`Interaction::Login`]. `None` for a pairwise client, whose `sub` is no user ID (OIDC
    /// Core §8.1): ask [`PendingAuthorization::id_token_hint_names`], which answers for
    /// every client.
    #[cfg(feature = "jose")]
    pub fn id_token_hint_user(&self, provider: &Provider) -> Option<UserId> {
        if self.client.metadata.subject_type == Some(crate::SubjectType::Pairwise) {
            return None;
        }
        self.id_token_hint_sub(provider).map(UserId::new)
    }

    /// Whether the `id_token_hint` (checked as for [`PendingAuthorization::id_token_hint_user`])
    /// names `user`, for public and pairwise clients alike. `false` without a valid hint.
    #[cfg(feature = "jose")]
    pub fn id_token_hint_names(&self, provider: &Provider, user: &UserId) -> bool {
        self.id_token_hint_sub(provider)
            .is_some_and(|sub| crate::subject::is_subject(provider.cx(), &self.client, &sub, user))
    }

    /// The `sub` of a valid `id_token_hint` to this client.
    #[cfg(feature = "jose")]
    fn id_token_hint_sub(&self, provider: &Provider) -> Option<String> {
        let claims = crate::oidc::verify_hint(provider.cx(), self.id_token_hint()?)?;
        if !claims.aud?.contains(self.client.id.as_str()) {
            return None;
        }
        claims.sub
    }

    /// `ui_locales`: the user's preferred languages for the pages, space-separated BCP 47 tags.
    pub fn ui_locales(&self) -> Option<&str> {
        self.asked.openid.ui_locales.as_deref()
    }

    /// `acr_values`: the authentication context classes requested, space-separated.
    pub fn acr_values(&self) -> Option<&str> {
        self.asked.openid.acr_values.as_deref()
    }

    /// The `nonce` the ID token will carry.
    pub fn nonce(&self) -> Option<&str> {
        self.asked.openid.nonce.as_deref()
    }

    /// The request cannot be answered without a page the client forbade with `prompt=none`
    /// (OIDC Core §3.1.2.6): the error redirect (`login_required`, `consent_required`, ...).
    /// The redirect URI is a registered one, verified; this is the one error redirected
    /// without the user signing in, as OpenID Connect requires.
    pub fn interaction_required(self, provider: &Provider, needed: Interaction) -> Redirect {
        error_redirect(
            provider.cx(),
            self.redirect_uri.into_url(),
            self.state.as_deref(),
            &needed.error(),
        )
    }

    /// The user allowed the request, granting `scopes` (the requested ones or fewer; anything
    /// not requested is dropped). Stores the code and the consent and returns the redirect
    /// carrying the code. A pushed request (RFC 9126) is used up here, once on every instance
    /// sharing the store: approving it again, or after its lifetime, redirects
    /// `invalid_request_uri` instead. A storage fault is logged and becomes a
    /// `temporarily_unavailable`
    /// redirect while the store is unavailable, else a `server_error` one (RFC 6749 §4.1.2.1;
    /// the redirect URI is verified by then).
    /// For an OpenID Connect request, prefer
    /// [`PendingAuthorization::approve_authenticated`]: without it the ID token has no
    /// `auth_time`.
    pub async fn approve(self, provider: &Provider, user: UserId, scopes: &ScopeSet) -> Redirect {
        self.approve_as(provider, user, scopes, None).await
    }

    /// [`PendingAuthorization::approve`], saying how and when the user authenticated: the ID
    /// token's `auth_time`, `acr` and `amr` (OIDC Core §2). Honouring `max_age` is the
    /// host's, before this ([`PendingAuthorization::needs_login`]); the relying party checks
    /// `auth_time` against it too.
    pub async fn approve_authenticated(
        self,
        provider: &Provider,
        user: UserId,
        scopes: &ScopeSet,
        authentication: Authentication,
    ) -> Redirect {
        self.approve_as(provider, user, scopes, Some(authentication))
            .await
    }

    async fn approve_as(
        self,
        provider: &Provider,
        user: UserId,
        scopes: &ScopeSet,
        authentication: Option<Authentication>,
    ) -> Redirect {
        let cx = provider.cx();
        let Self {
            client,
            redirect_uri,
            redirect_uri_given,
            state,
            asked,
            pushed,
            request_object,
            from_request_object: _,
        } = self;
        // A request object with a `jti` is used once (RFC 9101 §10.8 and the replay advice of
        // RFC 9700): here, when approved, not when first read, so that a host may read the
        // request again after its login page. Its redirect URI came from the verified object.
        if let Some(once) = request_object {
            let now = cx.now();
            let used_up = if now >= once.until {
                Some(OAuthError::new(
                    ErrorCode::InvalidRequestObject,
                    "the request object has expired (exp)",
                ))
            } else {
                match cx.store().remember(&once.key, now, once.until).await {
                    Ok(true) => None,
                    Ok(false) => Some(OAuthError::new(
                        ErrorCode::InvalidRequestObject,
                        "the request object was used before (its jti)",
                    )),
                    Err(error) => Some(OAuthError::from(error)),
                }
            };
            if let Some(error) = used_up {
                return error_redirect(cx, redirect_uri.into_url(), state.as_deref(), &error);
            }
        }
        if let Some(pushed) = pushed {
            let now = cx.now();
            let used_up = if now >= pushed.expires_at {
                Some(invalid_request_uri("the request_uri has expired"))
            } else {
                match cx
                    .store()
                    .remember(&pushed.key, now, pushed.expires_at)
                    .await
                {
                    Ok(true) => None,
                    Ok(false) => Some(invalid_request_uri("the request_uri was already used")),
                    Err(error) => Some(OAuthError::from(error)),
                }
            };
            if let Some(error) = used_up {
                return error_redirect(cx, redirect_uri.into_url(), state.as_deref(), &error);
            }
        }
        let approved = authorization_code::approve(
            cx,
            &client,
            user,
            asked,
            scopes,
            redirect_uri_given,
            authentication,
        );
        match approved.await {
            // The pending request ends here: its parsed URI is moved, not cloned.
            Ok(Some(code)) => redirect_to(
                cx,
                redirect_uri.into_url(),
                state.as_deref(),
                &[("code", code.secret())],
            ),
            // The client was deleted while the user looked at the consent page.
            Ok(None) => error_redirect(
                cx,
                redirect_uri.into_url(),
                state.as_deref(),
                &OAuthError::server_error(),
            ),
            Err(error) => error_redirect(
                cx,
                redirect_uri.into_url(),
                state.as_deref(),
                &OAuthError::from(error),
            ),
        }
    }

    /// The user denied the request: `access_denied` (or the dialect's renaming of it).
    pub fn deny(self, provider: &Provider) -> Redirect {
        error_redirect(
            provider.cx(),
            self.redirect_uri.into_url(),
            self.state.as_deref(),
            &OAuthError::new(
                ErrorCode::AccessDenied,
                "the resource owner denied the request",
            ),
        )
    }
}

/// The redirect to `base` carrying `params`, then `state` (if any) and `iss` (if configured).
fn redirect_to(
    cx: &Context,
    base: url::Url,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> Redirect {
    let config = cx.config();
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(params.len() + 2);
    all.extend_from_slice(params);
    if let Some(state) = state {
        all.push(("state", state));
    }
    if config.iss_parameter() {
        all.push(("iss", config.issuer()));
    }
    Redirect::new(base, &all)
}

/// An error response in the dialect's vocabulary (RFC 6749 §4.1.2.1).
fn error_redirect(
    cx: &Context,
    base: url::Url,
    state: Option<&str>,
    error: &OAuthError,
) -> Redirect {
    let code = cx.config().dialect.rename(&error.code);
    match &error.description {
        Some(description) => redirect_to(
            cx,
            base,
            state,
            &[("error", code.as_str()), ("error_description", description)],
        ),
        None => redirect_to(cx, base, state, &[("error", code.as_str())]),
    }
}

/// Why a plain request is refused where signed request objects are required.
pub(crate) const SIGNED_REQUIRED: &str = "authorization requests must come in a signed request object (RFC 9101): send the request parameter";

/// Whether `client`'s authorization requests must come in signed request objects: the
/// provider's [`crate::ConfigBuilder::require_signed_request_objects`] or the client's
/// `require_signed_request_object` (RFC 9101 §10.5).
pub(crate) fn signed_requests_required(cx: &Context, client: &Client) -> bool {
    cx.config().signed_request_objects_required() || client.metadata.require_signed_request_object
}

/// A refusal shown as a page, never redirected.
fn untrusted_of(error: OAuthError) -> UntrustedRequest {
    UntrustedRequest::new(
        error.code,
        error.description.unwrap_or_default().into_owned(),
    )
}

impl Provider {
    /// Validates an authorization request (RFC 6749 §4.1.1), from the query of a GET or the
    /// form of a POST.
    ///
    /// Order matters: first the client and redirect URI (failures are [`AuthorizeError::Untrusted`]
    /// and must be shown, never redirected), then everything else (failures are redirected to
    /// the now-verified URI with `error`, `state` and `iss`, once the user has signed in).
    ///
    /// With `request_uri` (RFC 9126 §4), the request is the one the client pushed to
    /// [`Provider::pushed_authorization`], checked again, and the query's other parameters
    /// (but `client_id`) are ignored: another client's, a tampered or a foreign `request_uri`
    /// is an [`AuthorizeError::Untrusted`] `invalid_request_uri`, an expired one redirected so.
    /// A `request_uri` that is not one of this server's pushed requests is
    /// `request_uri_not_supported` (request objects are never fetched from URLs).
    ///
    /// With `request` (RFC 9101, feature `jose`), the request is the request object's claims,
    /// and only those (RFC 9101 §5; the query's `client_id` must be the object's): a compact
    /// JWS signed with a key of the client's `jwks` (RS256, ES256, EdDSA or PS256, and its
    /// `request_object_signing_alg` if registered), `typ` absent or `oauth-authz-req+jwt`,
    /// `iss` and `client_id` the client's ID, `aud` the issuer, `exp` at most 60 minutes
    /// ahead, `nbf` and `iat` at most 60 minutes old. An invalid object is an
    /// [`AuthorizeError::Untrusted`] `invalid_request_object`, never redirected (its
    /// `redirect_uri` is not trusted until it is verified); `request` with `request_uri` is
    /// `invalid_request`. A request object with a `jti` is used up when approved, on every
    /// instance sharing the store.
    ///
    /// Without `request_uri`, a provider or client requiring pushed requests refuses with
    /// `invalid_request`; without `request` or `request_uri`, so does one requiring signed
    /// request objects ([`crate::ConfigBuilder::require_signed_request_objects`]).
    pub async fn authorize(&self, params: &Params) -> Result<PendingAuthorization, AuthorizeError> {
        let cx = self.cx();
        let untrusted = |code, description: &str| {
            AuthorizeError::Untrusted(UntrustedRequest::new(code, description))
        };
        let client_id = params
            .get("client_id")
            .ok_or_else(|| untrusted(ErrorCode::InvalidRequest, "the request has no client_id"))?;
        let client_id = crate::ClientId::new(client_id)
            .map_err(|_| untrusted(ErrorCode::InvalidRequest, "malformed client_id"))?;
        let client = match self.resolve_client(&client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(untrusted(ErrorCode::InvalidRequest, "unknown client_id")),
            Err(ResolveError::Document(why)) => {
                return Err(untrusted(ErrorCode::InvalidRequest, &why));
            }
            Err(ResolveError::Store(error)) => {
                return Err(AuthorizeError::Untrusted(UntrustedRequest::store(error)));
            }
        };
        if params.contains("request") && params.contains("request_uri") {
            return Err(untrusted(
                ErrorCode::InvalidRequest,
                "request and request_uri must not be sent together (RFC 9101 §5)",
            ));
        }
        if let Some(request_uri) = params.get("request_uri") {
            if !request_uri.starts_with(crate::pushed::REQUEST_URI_PREFIX) {
                return Err(AuthorizeError::Untrusted(request_uri_not_supported()));
            }
            return self.authorize_pushed(client, request_uri);
        }
        let pushed_required = cx.config().pushed_requests_required()
            || client.metadata.require_pushed_authorization_requests;
        let push_first = || {
            OAuthError::invalid_request(
                "authorization requests must be pushed first (RFC 9126): send them to the pushed authorization request endpoint",
            )
        };
        #[cfg(feature = "jose")]
        if let Some(jwt) = params.get("request") {
            // Nothing in an unverified object is trusted, its redirect_uri least of all: every
            // refusal here is a page, never a redirect.
            let object = crate::endpoint::request_object::verify(cx, &client, jwt)
                .map_err(|error| AuthorizeError::Untrusted(untrusted_of(error)))?;
            // RFC 9101 §5: only the object's parameters are used.
            let mut pending = self.check_request(
                client,
                &object.params,
                None,
                pushed_required.then(push_first),
            )?;
            pending.request_object = object.once;
            pending.from_request_object = true;
            return Ok(pending);
        }
        let refusal = if pushed_required {
            Some(push_first())
        } else if signed_requests_required(cx, &client) {
            Some(OAuthError::invalid_request(SIGNED_REQUIRED))
        } else {
            None
        };
        self.check_request(client, params, None, refusal)
    }

    /// The authorization request a `request_uri` names (RFC 9126 §4): the parameters the
    /// client pushed, and only those (the query's others are ignored).
    fn authorize_pushed(
        &self,
        client: Client,
        request_uri: &str,
    ) -> Result<PendingAuthorization, AuthorizeError> {
        let cx = self.cx();
        let untrusted = |description: &'static str| {
            AuthorizeError::Untrusted(untrusted_of(invalid_request_uri(description)))
        };
        // A request_uri from another client is not its to use (RFC 9126 §4), nor to redirect.
        let Some(pushed) = cx
            .pushed_key()
            .and_then(|key| key.open(request_uri))
            .filter(|pushed| pushed.client_id == client.id.as_str())
        else {
            return Err(untrusted(
                "the request_uri is not one this server issued to this client",
            ));
        };
        let params = Params::from_pairs(
            pushed.params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            &cx.config().limits,
        )
        .map_err(|_| untrusted("the pushed request cannot be read"))?;
        let expires_at = OffsetDateTime::from_unix_timestamp(pushed.expires_at)
            .map_err(|_| untrusted("the pushed request cannot be read"))?;
        // Expired: refused at the redirect URI the client pushed, once it is verified again.
        let refusal =
            (cx.now() >= expires_at).then(|| invalid_request_uri("the request_uri has expired"));
        let pushed_at = OffsetDateTime::from_unix_timestamp(pushed.pushed_at)
            .map_err(|_| untrusted("the pushed request cannot be read"))?;
        let pushed = PushedUse {
            key: pushed.replay_key(),
            pushed_at,
            expires_at,
        };
        self.check_request(client, &params, Some(pushed), refusal)
    }

    /// The checks of an authorization request from `client` (resolved): its redirect URI,
    /// then the rest, or `refusal` (redirected to the verified URI) if there is one.
    pub(crate) fn check_request(
        &self,
        client: Client,
        params: &Params,
        pushed: Option<PushedUse>,
        refusal: Option<OAuthError>,
    ) -> Result<PendingAuthorization, AuthorizeError> {
        let cx = self.cx();
        let untrusted = |code, description: &str| {
            AuthorizeError::Untrusted(UntrustedRequest::new(code, description))
        };
        let requested = params.get("redirect_uri");
        let redirect_uri = cx.redirects().resolve(&client.redirect_uris, requested).map_err(|e| {
            let description = match e {
                RedirectError::Missing => "the redirect_uri is missing and the client does not have exactly one registered",
                RedirectError::Malformed(_) => "the redirect_uri is malformed",
                RedirectError::NotRegistered => "the redirect_uri is not registered for this client",
                RedirectError::Refused(reason) => reason,
            };
            untrusted(ErrorCode::InvalidRequest, description)
        })?;
        // OIDC Core §3.1.2.1: an OpenID Connect request names its redirect URI, always.
        let openid = params
            .get("scope")
            .is_some_and(|scope| scope.split(' ').any(|v| v == crate::grant::openid::OPENID));
        if openid && requested.is_none() {
            return Err(untrusted(
                ErrorCode::InvalidRequest,
                "an OpenID Connect request must send its redirect_uri",
            ));
        }
        // Whatever the policy let through: no planted `code`, `state` or `iss` (C6).
        if redirect_uri.carries_response_params() {
            return Err(untrusted(
                ErrorCode::InvalidRequest,
                "the redirect_uri must not carry a parameter the authorization response adds",
            ));
        }
        let dialect = &cx.config().dialect;
        let resources: Vec<&str> = params.get_all("resource").collect();
        let request = AuthorizationRequest {
            response_type: params
                .get("response_type")
                .or(dialect.response_type_optional.then_some("code")),
            scope: params.get("scope"),
            code_challenge: params.get("code_challenge"),
            code_challenge_method: params.get("code_challenge_method"),
            resources: &resources,
            dpop_jkt: params.get("dpop_jkt"),
            openid: OpenIdParams {
                nonce: params.get("nonce"),
                claims: params.get("claims"),
                prompt: params.get("prompt"),
                max_age: params.get("max_age"),
                login_hint: params.get("login_hint"),
                id_token_hint: params.get("id_token_hint"),
                ui_locales: params.get("ui_locales"),
                acr_values: params.get("acr_values"),
                request: params.contains("request"),
            },
        };
        let state = params.get("state");
        let checked = match refusal {
            Some(error) => Err(error),
            None => authorization_code::check(cx, &client, &request),
        };
        match checked {
            Ok(asked) => Ok(PendingAuthorization {
                client,
                redirect_uri,
                redirect_uri_given: requested.map(str::to_owned),
                state: state.map(str::to_owned),
                asked,
                pushed,
                request_object: None,
                from_request_object: false,
            }),
            Err(error) => Err(AuthorizeError::Redirect(ErrorRedirect {
                redirect: error_redirect(cx, redirect_uri.into_url(), state, &error),
                error,
            })),
        }
    }
}
