//! Protected resources: the [`Principal`] and [`Bearer`] extractors, and [`BearerLayer`].

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequestParts, Request};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, header};
use ::axum::response::{IntoResponse, Response as AxumResponse};

use super::body::{authorization, read_bounded};
use crate::endpoint::bearer::{BearerError, BearerRequest, Principal};
use crate::error::ErrorCode;
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;

/// A refused resource request: the RFC 6750 §3 challenge of its [`BearerError`], rendered by
/// [`BearerError::to_response`] (401 with `WWW-Authenticate: Bearer ...` for a missing,
/// invalid, expired or revoked token, 403 `insufficient_scope` for a token without the
/// required scopes, 503 `temporarily_unavailable` with `Retry-After` while the store cannot be
/// reached).
#[derive(Debug, Clone)]
pub struct BearerRejection {
    error: BearerError,
    response: Response,
}

impl BearerRejection {
    fn new(provider: &Provider, error: BearerError) -> Self {
        let response = error.to_response(provider);
        Self { error, response }
    }

    /// Why the request was refused.
    pub fn error(&self) -> &BearerError {
        &self.error
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for BearerRejection {
    fn into_response(self) -> AxumResponse {
        self.response.into_response()
    }
}

/// The principal of a request that [`BearerLayer`] let through, or else the request's bearer
/// token validated here: from the `Authorization` header, or the query where the
/// configuration allows it, requiring [`RequiredScopes::SCOPES`] of `R`.
async fn guard(
    parts: &Parts,
    provider: &Provider,
    required: &ScopeSet,
) -> Result<Principal, BearerRejection> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        if required.is_subset(principal.scopes()) {
            return Ok(principal.clone());
        }
        let refusal = BearerError::insufficient_scope(required);
        return Err(BearerRejection::new(provider, refusal));
    }
    let dpop = crate::http::dpop_header(&parts.headers);
    let url = resource_url(provider, parts);
    let mut request = BearerRequest::new(authorization(&parts.headers), parts.uri.query(), None)
        .with_dpop(dpop.as_deref(), parts.method.as_str(), &url)
        .with_client_certificate(parts.extensions.get::<crate::ClientCertificate>());
    // A handler at a registered resource's URL is that resource (RFC 8707 §2).
    let registered = provider.config().resource(&url).is_some();
    if registered {
        request = request.for_resource(&url);
    }
    let principal = provider
        .validate_bearer(&request, required)
        .await
        .map_err(|error| BearerRejection::new(provider, error))?;
    if !registered && !serves_default_audience(provider, principal.audience()) {
        let refusal = BearerError::new(
            crate::ErrorCode::InvalidToken,
            "the access token is not meant for this resource",
        );
        return Err(BearerRejection::new(provider, refusal));
    }
    Ok(principal)
}

/// Whether a token with `audience` is valid at one of the provider's own handlers that is no
/// registered resource: a token requested without `resource` (the default audience, or none
/// from before resources were registered) is; one narrowed to other resources only is not.
fn serves_default_audience(provider: &Provider, audience: &[String]) -> bool {
    audience.is_empty()
        || provider
            .config()
            .resources()
            .iter()
            .any(|r| r.by_default && audience.contains(&r.id))
}

/// The URL a DPoP proof must name (`htu`) for this request: the issuer's origin and the
/// request's path. The resource is served at the provider's origin (where the router puts
/// it); a host serving resources elsewhere calls
/// [`BearerRequest::with_dpop`] with its own URL.
fn resource_url(provider: &Provider, parts: &Parts) -> String {
    let issuer = provider.config().issuer();
    let origin = url::Url::parse(issuer)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|_| issuer.to_owned());
    format!("{origin}{}", parts.uri.path())
}

/// The holder of a valid access token, with any scopes.
///
/// Behind a [`BearerLayer`], the principal the layer validated (with the layer's scopes);
/// otherwise the token is read from the `Authorization` header (or, where the configuration
/// allows it, the query) and validated. A token in a form body is seen only by the layer,
/// which may read the body. To require scopes, use [`Bearer`] or the layer.
///
/// The audience is checked too (RFC 8707): at the URL of a [registered
/// resource](crate::Resource) (the issuer's origin and the request's path) the token must name
/// that resource; at any other handler it must be valid at the provider's own resources (the
/// default audience, or none), so a token narrowed to another service is refused with
/// `invalid_token`.
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S> FromRequestParts<S> for Principal
where
    Provider: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        guard(parts, &Provider::from_ref(state), &ScopeSet::new()).await
    }
}

/// The scopes a protected handler requires, as a type for [`Bearer`].
///
/// ```
/// struct Whoami;
/// impl tessera::axum::RequiredScopes for Whoami {
///     const SCOPES: &'static str = "whoami";
/// }
/// ```
pub trait RequiredScopes: Send + Sync + 'static {
    /// The scopes, space-separated (RFC 6749 §3.3). One that does not parse refuses every
    /// request with a 500 `server_error` (and an error in the log).
    const SCOPES: &'static str;
}

/// No particular scope: any valid token.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct AnyScope;

impl RequiredScopes for AnyScope {
    const SCOPES: &'static str = "";
}

/// A valid access token carrying every scope of `R`: a handler argument that refuses the
/// request, with the RFC 6750 challenge, unless it has one (401) with those scopes (403). It
/// dereferences to its [`Principal`].
///
/// ```
/// use tessera::axum::{Bearer, RequiredScopes};
///
/// struct Whoami;
/// impl RequiredScopes for Whoami {
///     const SCOPES: &'static str = "whoami";
/// }
///
/// async fn me(bearer: Bearer<Whoami>) -> String {
///     format!("{:?}", bearer.user())
/// }
/// # let _ = axum::routing::get::<_, _, tessera::Provider>(me);
/// ```
///
/// Behind a [`BearerLayer`], the layer's principal is checked for `R`'s scopes, with no second
/// lookup.
pub struct Bearer<R: RequiredScopes = AnyScope> {
    principal: Principal,
    scopes: PhantomData<fn() -> R>,
}

impl<R: RequiredScopes> Bearer<R> {
    /// The token's holder.
    pub fn into_principal(self) -> Principal {
        self.principal
    }
}

impl<R: RequiredScopes> Deref for Bearer<R> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl<R: RequiredScopes> fmt::Debug for Bearer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("scopes", &R::SCOPES)
            .field("principal", &self.principal)
            .finish()
    }
}

impl<R: RequiredScopes> Clone for Bearer<R> {
    fn clone(&self) -> Self {
        Self {
            principal: self.principal.clone(),
            scopes: PhantomData,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S, R> FromRequestParts<S> for Bearer<R>
where
    Provider: FromRef<S>,
    S: Send + Sync,
    R: RequiredScopes,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let provider = Provider::from_ref(state);
        let required = ScopeSet::parse(R::SCOPES).map_err(|_| {
            tracing::error!(
                target: "tessera::axum",
                scopes = R::SCOPES,
                "RequiredScopes::SCOPES does not parse; refusing the request"
            );
            let fault = BearerError::new(
                ErrorCode::ServerError,
                "the authorization server met an internal error",
            );
            BearerRejection::new(&provider, fault)
        })?;
        let principal = guard(parts, &provider, &required).await?;
        Ok(Self {
            principal,
            scopes: PhantomData,
        })
    }
}

/// A [`tower` layer](tower_layer::Layer) for protected routes: a request passes only with a
/// valid access token carrying the required scopes, and its [`Principal`] then waits in the
/// request's extensions (for the [`Principal`] extractor, or `Extension<Principal>`). Any
/// other request is answered with the RFC 6750 challenge (401, or 403 `insufficient_scope`;
/// 503 with `Retry-After` while the store cannot be reached).
///
/// The token may be in the `Authorization` header, in an
/// `application/x-www-form-urlencoded` body (RFC 6750 §2.2), or in the query where the
/// configuration allows it
/// ([`Danger::bearer_in_query`](crate::danger::Danger::bearer_in_query)). The layer reads a
/// form body only for a request without an `Authorization` header (and only where the
/// configuration accepts [form tokens](crate::ConfigBuilder::bearer_in_form)): it then reads
/// it whole, up to [`Limits::max_bytes`](crate::Limits::max_bytes) (past that, `413`), and
/// hands it on. Any other body passes unread.
///
/// Add it with `route_layer`, so that an unknown path stays a 404:
///
/// ```
/// use axum::{routing::get, Router};
/// use tessera::{axum::BearerLayer, Principal, Provider, ScopeSet};
///
/// async fn me(principal: Principal) -> String {
///     format!("{:?}", principal.user())
/// }
///
/// # fn routes(provider: Provider) -> Result<Router, tessera::OAuthError> {
/// let api = Router::new()
///     .route("/api/me", get(me))
///     .route_layer(BearerLayer::new(&provider).require(ScopeSet::parse("whoami")?))
///     .with_state(provider);
/// # Ok(api) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a layer protects nothing until it is added to a router"]
pub struct BearerLayer {
    provider: Provider,
    required: ScopeSet,
    resource: Option<Arc<str>>,
}

impl BearerLayer {
    /// A layer that lets any valid access token through.
    pub fn new(provider: &Provider) -> Self {
        Self {
            provider: provider.clone(),
            required: ScopeSet::new(),
            resource: None,
        }
    }

    /// The routes are the resource `id` (its registered identifier, RFC 8707): a token whose
    /// audience does not name it is refused ([`BearerRequest::for_resource`]), and every
    /// challenge carries the resource's metadata URL (`resource_metadata`, RFC 9728 §5.1) if
    /// it is registered. [`Bearer`] and [`Principal`] extractors behind the layer get the
    /// principal it checked.
    pub fn for_resource(mut self, id: impl Into<String>) -> Self {
        self.resource = Some(Arc::from(id.into()));
        self
    }

    /// Requires every scope of `scopes` as well (added to any required already).
    pub fn require(mut self, scopes: ScopeSet) -> Self {
        self.required = self.required.union(&scopes);
        self
    }
}

impl<Inner> tower_layer::Layer<Inner> for BearerLayer {
    type Service = BearerService<Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        BearerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of a [`BearerLayer`] around `Inner`.
#[derive(Debug, Clone)]
pub struct BearerService<Inner> {
    inner: Inner,
    layer: BearerLayer,
}

/// Whether a request's body is a form (RFC 6750 §2.2 requires this content type).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .get(..33)
                .is_some_and(|t| t.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        })
}

impl<Inner> tower_service::Service<Request> for BearerService<Inner>
where
    Inner: tower_service::Service<Request> + Clone + Send + 'static,
    Inner::Response: IntoResponse,
    Inner::Future: Send + 'static,
{
    type Response = AxumResponse;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<AxumResponse, Inner::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was made ready goes with this request (tower's usual swap).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let BearerLayer {
            provider,
            required,
            resource,
        } = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let form_token = provider.config().bearer_in_form
                && is_form(&parts.headers)
                && !parts.headers.contains_key(header::AUTHORIZATION);
            let (body, form) = if form_token {
                let limit = provider.config().limits().max_bytes;
                match read_bounded(&parts.headers, body, limit).await {
                    Ok(bytes) => (None, Some(bytes)),
                    Err(rejection) => return Ok(rejection.into_response()),
                }
            } else {
                (Some(body), None)
            };
            let validated = {
                let dpop = crate::http::dpop_header(&parts.headers);
                let url = resource_url(&provider, &parts);
                let mut request = BearerRequest::new(
                    authorization(&parts.headers),
                    parts.uri.query(),
                    form.as_deref(),
                )
                .with_dpop(dpop.as_deref(), parts.method.as_str(), &url)
                .with_client_certificate(parts.extensions.get::<crate::ClientCertificate>());
                if let Some(id) = resource.as_deref() {
                    request = request.for_resource(id);
                }
                provider.validate_bearer(&request, &required).await
            };
            let principal = match validated {
                Ok(principal) => principal,
                Err(mut error) => {
                    if let Some(url) = resource
                        .as_deref()
                        .and_then(|id| provider.resource_metadata_url(id))
                    {
                        error = error.with_resource_metadata(url);
                    }
                    return Ok(BearerRejection::new(&provider, error).into_response());
                }
            };
            parts.extensions.insert(principal);
            let body = body.unwrap_or_else(|| Body::from(form.unwrap_or_default()));
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(response.into_response())
        })
    }
}

// `Infallible` is what axum's routes need as the error; checked here so a change of the
// bounds above that loses it fails to compile.
const _: fn() = || {
    fn routable<T: tower_service::Service<Request, Error = Infallible>>() {}
    routable::<BearerService<::axum::routing::Route>>();
};
