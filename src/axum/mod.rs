//! axum integration (feature `axum`): tessera's values as axum responses and extractors, a
//! bearer-token layer, and a router of the standard endpoints.
//!
//! Only tessera can implement axum's traits for its own types, so this module does, and a host
//! on axum writes no glue:
//!
//! | tessera value | in axum |
//! |---|---|
//! | [`Response`](crate::Response), [`Redirect`](crate::Redirect) | [`IntoResponse`](::axum::response::IntoResponse) |
//! | [`UntrustedRequest`](crate::UntrustedRequest), [`AuthorizeError`](crate::AuthorizeError) | [`IntoResponse`](::axum::response::IntoResponse): a minimal HTML error page, never a redirect |
//! | [`FormRequest`](crate::FormRequest) | an extractor: the body, bounded by [`Limits::max_bytes`](crate::Limits::max_bytes), the `Authorization` header, the query, the peer's [source](crate::FormRequest::source) and the [`ClientCertificate`](crate::ClientCertificate) extension a TLS layer inserted ([`BodyRejection`]) |
//! | [`PendingAuthorization`](crate::PendingAuthorization) | an extractor: the authorization request in the query, validated ([`AuthorizeError`](crate::AuthorizeError)) |
//! | [`Principal`](crate::Principal) | an extractor: a valid bearer token, or the one [`BearerLayer`] checked ([`BearerRejection`]) |
//! | [`Bearer<R>`](Bearer) | an extractor: a valid bearer token carrying the [`RequiredScopes`] of `R` |
//!
//! Every extractor finds the [`Provider`](crate::Provider) in the router's state through
//! [`FromRef`](::axum::extract::FromRef): a state that is the provider itself works as it is,
//! and an application state needs `impl FromRef<AppState> for Provider`.
//!
//! [`router`] serves the token, revocation, introspection, metadata, registration (with
//! RFC 7592's client configuration) and device authorization endpoints at exactly the paths
//! the provider's metadata advertises; [`Routes`] adds the host's own authorization and device
//! verification pages at theirs. Serve it with
//! [`into_make_service_with_connect_info::<SocketAddr>`](::axum::Router::into_make_service_with_connect_info)
//! so that client authentication is limited per source.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use tessera::axum::{BearerLayer, Routes};
//! use tessera::{store::MemoryStore, Config, Principal, Provider, ScopeSet};
//!
//! async fn me(principal: Principal) -> String {
//!     format!("token of {}", principal.client_id())
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::builder("https://auth.example.com")
//!     .scopes(ScopeSet::parse("whoami")?)
//!     .build()?;
//! let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();
//! let app: Router = Routes::new(&provider)
//!     .into_router()
//!     // 401 or 403, with the RFC 6750 challenge, unless the token carries `whoami`.
//!     .route("/api/me", get(me).route_layer(BearerLayer::new(&provider).require(ScopeSet::parse("whoami")?)))
//!     .with_state(provider);
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! Merge the router at the root of your application (not under [`Router::nest`](::axum::Router::nest)):
//! its paths are the advertised URLs' paths, the issuer's own path included.

mod authorize;
mod bearer;
mod body;
mod cors;
mod page;
mod router;

pub use bearer::{AnyScope, Bearer, BearerLayer, BearerRejection, BearerService, RequiredScopes};
pub use body::BodyRejection;
pub use cors::{Cors, InvalidOrigin};
pub use router::{Routes, router};
