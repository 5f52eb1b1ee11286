//! The standard endpoints as an axum router, mounted where the metadata advertises them.

use std::collections::BTreeSet;

use ::axum::Router;
use ::axum::extract::{Path, Request, State};
use ::axum::response::{IntoResponse, Response as AxumResponse};
use ::axum::routing::{MethodRouter, get, post};

use super::body::{authorization, read_bounded};
use super::cors::Cors;
use crate::config::Config;
use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::Response;

/// The standard endpoints of `provider` (see [`Routes`]), with no page of the host's: for a
/// provider without the authorization code and device flows, or one whose pages the host
/// mounts itself.
///
/// ```
/// # use std::sync::Arc;
/// # use tessera::{store::MemoryStore, Config, Provider};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::builder("https://auth.example.com").build()?;
/// let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();
/// let app: axum::Router = tessera::axum::router(&provider);
/// # let _ = app;
/// # Ok(()) }
/// ```
pub fn router<S>(provider: &Provider) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Routes::new(provider).into_router()
}

/// A router of a provider's endpoints, each mounted at exactly the path of the URL its metadata
/// advertises (the issuer's own path included), so the two cannot disagree; an endpoint the
/// configuration leaves out, or does not serve, is not mounted.
///
/// | endpoint | method | path |
/// |---|---|---|
/// | metadata (RFC 8414) | GET | `/.well-known/oauth-authorization-server`, with the issuer's path appended for an issuer that has one (RFC 8414 §3.1) |
/// | protected resource metadata (RFC 9728) | GET | `/.well-known/oauth-protected-resource` followed by the resource's path, for each [registered resource](crate::Resource) at the issuer's origin ([`Provider::resource_metadata`](crate::Provider::resource_metadata)) |
/// | OpenID Connect Discovery 1.0 | GET | the issuer's path, then `/.well-known/openid-configuration`, once the provider speaks OpenID Connect (see [`crate::oidc`]) |
/// | JWK Set | GET | [`Endpoints::jwks`](crate::Endpoints::jwks), with signing keys |
/// | userinfo (OIDC Core §5.3) | GET, POST | [`Endpoints::userinfo`](crate::Endpoints::userinfo), once the provider speaks OpenID Connect |
/// | token | POST | [`Endpoints::token`](crate::Endpoints::token) |
/// | revocation (RFC 7009) | POST | [`Endpoints::revocation`](crate::Endpoints::revocation) |
/// | introspection (RFC 7662) | POST | [`Endpoints::introspection`](crate::Endpoints::introspection) |
/// | registration (RFC 7591) | POST | [`Endpoints::registration`](crate::Endpoints::registration), when the [registration policy](crate::RegistrationPolicy) lets anyone reach it |
/// | client configuration (RFC 7592) | GET, PUT, DELETE | the registration path, `/`, the client ID |
/// | device authorization (RFC 8628) | POST | [`Endpoints::device_authorization`](crate::Endpoints::device_authorization), with the device grant enabled |
/// | pushed authorization requests (RFC 9126) | POST | [`Endpoints::pushed_authorization`](crate::Endpoints::pushed_authorization), with the authorization code grant enabled |
/// | authorization (the host's page) | the host's | [`Endpoints::authorization`](crate::Endpoints::authorization), see [`Routes::authorization`] |
/// | device verification (the host's page) | the host's | [`Endpoints::device_verification`](crate::Endpoints::device_verification), see [`Routes::device_verification`] |
/// | RP-initiated logout (the host's page) | the host's | [`Endpoints::end_session`](crate::Endpoints::end_session), see [`Routes::end_session`] |
///
/// Form bodies are read up to the provider's [`Limits::max_bytes`](crate::Limits::max_bytes),
/// registration bodies too; a larger one gets `413`. Serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` so that client authentication is
/// limited per source ([`FormRequest::source`]). Merge it at the root of the application (its
/// paths are absolute); other methods get `405`.
///
/// ```
/// use std::sync::Arc;
/// use axum::{response::IntoResponse, routing::get, Router};
/// use tessera::{store::MemoryStore, AuthorizeError, Config, PendingAuthorization, Provider};
///
/// async fn authorize(request: Result<PendingAuthorization, AuthorizeError>) -> impl IntoResponse {
///     // Your login and consent pages: see the PendingAuthorization extractor.
/// #   let _ = request;
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::builder("https://auth.example.com/tenant").build()?;
/// let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();
/// // /.well-known/oauth-authorization-server/tenant, /tenant/token, /tenant/authorize, ...
/// let app: Router = tessera::axum::Routes::new(&provider)
///     .authorization(get(authorize))
///     .into_router()
///     .with_state(provider);
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "call .into_router() to get the router"]
pub struct Routes<S = ()> {
    provider: Provider,
    authorization: Option<MethodRouter<S>>,
    device_verification: Option<MethodRouter<S>>,
    end_session: Option<MethodRouter<S>>,
    cors: Cors,
}

impl<S> Routes<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// The standard endpoints of `provider`; the host's pages are added with the methods
    /// below.
    pub fn new(provider: &Provider) -> Self {
        Self {
            provider: provider.clone(),
            authorization: None,
            device_verification: None,
            end_session: None,
            cors: Cors::default(),
        }
    }

    /// Which web origins' scripts may call the endpoints browser-based clients use (the
    /// metadata documents, the JWK Set, token, revocation, userinfo, registration and device
    /// authorization): any origin unless set, never the introspection endpoint. See [`Cors`].
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// Mounts the host's authorization endpoint (its login and consent pages, typically a
    /// `get(..).post(..)` taking the [`PendingAuthorization`](crate::PendingAuthorization)
    /// extractor) at the advertised `authorization_endpoint`.
    pub fn authorization(mut self, route: MethodRouter<S>) -> Self {
        self.authorization = Some(route);
        self
    }

    /// Mounts the host's device verification page (where users type a device's user code,
    /// then sign in and consent) at the `verification_uri` the device authorization endpoint
    /// hands out; not mounted when the provider serves no device authorization.
    pub fn device_verification(mut self, route: MethodRouter<S>) -> Self {
        self.device_verification = Some(route);
        self
    }

    /// Mounts the host's RP-initiated logout page (which ends the host's session for the user
    /// [`Provider::end_session`](crate::Provider::end_session) names, then sends its redirect)
    /// at the advertised `end_session_endpoint`; not mounted unless the provider speaks
    /// OpenID Connect.
    pub fn end_session(mut self, route: MethodRouter<S>) -> Self {
        self.end_session = Some(route);
        self
    }

    /// The router.
    pub fn into_router(self) -> Router<S> {
        let provider = self.provider;
        let config = provider.config();
        let served = provider.advertised();
        let mut mounted = Mounted::default();

        let mut standard = Router::<Provider>::new();
        let cors = self.cors.layer();
        // Every endpoint below but introspection is one a browser-based client may call.
        let open = |route: MethodRouter<Provider>| match &cors {
            Some(layer) => route.layer(layer.clone()),
            None => route,
        };
        let mut add = |router: Router<Provider>, path: Option<String>, route| match path {
            Some(path) if mounted.claim(&path) => router.route(&path, route),
            _ => router,
        };
        standard = add(standard, Some(metadata_path(config)), open(get(metadata)));
        for path in resource_metadata_paths(config) {
            let served = path.clone();
            let handler = move |State(provider): State<Provider>| async move {
                provider
                    .protected_resource_metadata(&served)
                    .unwrap_or_else(|| Response::json(404, &serde_json::json!({})))
            };
            standard = add(standard, Some(path), open(get(handler)));
        }
        if provider.cx().openid() {
            standard = add(
                standard,
                Some(openid_configuration_path(config)),
                open(get(openid_configuration)),
            );
        }
        if let Some(path) = served.jwks {
            standard = add(standard, route_path(config, path), open(get(jwks)));
        }
        #[cfg(feature = "jose")]
        if let Some(path) = served.userinfo {
            standard = add(
                standard,
                route_path(config, path),
                open(get(userinfo).post(userinfo)),
            );
        }
        standard = add(
            standard,
            route_path(config, served.token),
            open(post(token)),
        );
        for (path, handler) in [
            (served.revocation, open(post(revoke))),
            // For resource servers only: no CORS.
            (served.introspection, post(introspect)),
            (
                served.device_authorization,
                open(post(device_authorization)),
            ),
            (
                served.pushed_authorization,
                open(post(pushed_authorization)),
            ),
        ] {
            if let Some(path) = path {
                standard = add(standard, route_path(config, path), handler);
            }
        }
        if let Some(path) = served.registration.and_then(|p| route_path(config, p)) {
            let configuration = format!("{path}/{{client_id}}");
            standard = add(standard, Some(path), open(post(register)));
            let methods = get(client_configuration)
                .put(client_configuration)
                .delete(client_configuration);
            standard = add(standard, Some(configuration), open(methods));
        }
        let mut router: Router<S> = standard.with_state(provider.clone());
        for (path, route) in [
            (Some(served.authorization), self.authorization),
            (served.device_verification, self.device_verification),
            (served.end_session, self.end_session),
        ] {
            let path = path.and_then(|p| route_path(config, p));
            if let (Some(path), Some(route)) = (path, route)
                && mounted.claim(&path)
            {
                router = router.route(&path, route);
            }
        }
        router
    }
}

/// The paths mounted so far: a second claim of one is refused (and logged) instead of the
/// panic axum's router raises. [`Config`] refuses endpoints that share a path, so this only
/// guards the impossible.
#[derive(Default)]
struct Mounted(BTreeSet<String>);

impl Mounted {
    fn claim(&mut self, path: &str) -> bool {
        let fresh = self.0.insert(path.to_owned());
        if !fresh {
            tracing::error!(target: "tessera::axum", path, "two endpoints at one path; the second is not mounted");
        }
        fresh
    }
}

/// The path of the URL the metadata advertises for the endpoint at `path` (the issuer's path,
/// then the endpoint's, percent-encoded as a client sends it).
fn route_path(config: &Config, path: &str) -> Option<String> {
    match url::Url::parse(&config.endpoint_url(path)) {
        Ok(url) => Some(url.path().to_owned()),
        Err(error) => {
            tracing::error!(target: "tessera::axum", path, %error, "an endpoint URL does not parse; not mounted");
            None
        }
    }
}

/// The metadata paths (RFC 9728 §3.1) of the registered resources at the issuer's origin whose
/// identifiers have no query.
fn resource_metadata_paths(config: &Config) -> Vec<String> {
    let Ok(issuer) = url::Url::parse(config.issuer()) else {
        return Vec::new();
    };
    config
        .resources()
        .iter()
        .filter_map(|r| url::Url::parse(r.id()).ok())
        .filter(|url| url.origin() == issuer.origin() && url.query().is_none())
        .filter_map(|url| crate::protected_resource_metadata_path(url.as_str()))
        .collect()
}

/// `/.well-known/oauth-authorization-server`, followed by the issuer's path if it has one
/// (RFC 8414 §3.1).
fn metadata_path(config: &Config) -> String {
    let issuer_path = url::Url::parse(config.issuer())
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("/.well-known/oauth-authorization-server{issuer_path}")
}

/// The issuer, then `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4: the
/// issuer's path comes first, unlike RFC 8414's).
fn openid_configuration_path(config: &Config) -> String {
    let issuer_path = url::Url::parse(config.issuer())
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{issuer_path}/.well-known/openid-configuration")
}

async fn metadata(State(provider): State<Provider>) -> Response {
    provider.metadata_response()
}

async fn openid_configuration(State(provider): State<Provider>) -> Response {
    provider.openid_configuration_response()
}

async fn jwks(State(provider): State<Provider>) -> Response {
    provider.jwks_response()
}

/// GET or POST: the token in the `Authorization` header, the query (if the configuration
/// allows it there) or a form body (RFC 6750 §2.2: only with the form content type); a
/// DPoP-bound token with its `DPoP` proof (RFC 9449 §7).
#[cfg(feature = "jose")]
async fn userinfo(State(provider): State<Provider>, request: Request) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let limit = provider.config().limits().max_bytes;
    let form = parts
        .headers
        .get(::axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(';').next().is_some_and(|media| {
                media
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let body = match read_bounded(&parts.headers, body, limit).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    // A DPoP-bound token comes with a proof naming the advertised URL (RFC 9449 §7.1).
    let dpop = crate::http::dpop_header(&parts.headers);
    let url = provider
        .config()
        .endpoints()
        .userinfo
        .as_deref()
        .map(|path| provider.config().endpoint_url(path))
        .unwrap_or_default();
    let request = crate::BearerRequest::new(
        authorization(&parts.headers),
        parts.uri.query(),
        (form && parts.method == ::axum::http::Method::POST).then_some(body.as_slice()),
    )
    .with_dpop(dpop.as_deref(), parts.method.as_str(), &url)
    .with_client_certificate(parts.extensions.get::<crate::ClientCertificate>());
    provider.userinfo(&request).await.into_response()
}

async fn token(State(provider): State<Provider>, request: FormRequest) -> Response {
    provider.token(&request).await
}

async fn revoke(State(provider): State<Provider>, request: FormRequest) -> Response {
    provider.revoke(&request).await
}

async fn introspect(State(provider): State<Provider>, request: FormRequest) -> Response {
    provider.introspect(&request).await
}

async fn device_authorization(State(provider): State<Provider>, request: FormRequest) -> Response {
    provider.device_authorization(&request).await
}

async fn pushed_authorization(State(provider): State<Provider>, request: FormRequest) -> Response {
    provider.pushed_authorization(&request).await
}

async fn register(State(provider): State<Provider>, request: Request) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let limit = provider.config().limits().max_bytes;
    match read_bounded(&parts.headers, body, limit).await {
        Ok(body) => provider
            .register(&body, authorization(&parts.headers))
            .await
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn client_configuration(
    State(provider): State<Provider>,
    Path(client_id): Path<String>,
    request: Request,
) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let limit = provider.config().limits().max_bytes;
    match read_bounded(&parts.headers, body, limit).await {
        Ok(body) => provider
            .client_configuration(
                parts.method.as_str(),
                &client_id,
                authorization(&parts.headers),
                &body,
            )
            .await
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}
