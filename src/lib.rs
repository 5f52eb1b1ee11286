#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audit;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod cimd;
mod client;
mod clock;
mod config;
pub mod danger;
#[cfg(feature = "jose")]
mod derived_secret;
#[cfg(feature = "jose")]
#[cfg_attr(docsrs, doc(cfg(feature = "jose")))]
pub mod dpop;
mod endpoint;
mod entropy;
mod error;
mod expiry;
mod grant;
pub mod guide;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "testkit")]
mod inspect;
#[cfg(feature = "jose")]
#[cfg_attr(docsrs, doc(cfg(feature = "jose")))]
pub mod jose;
#[cfg(feature = "jwks-fetch")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks-fetch")))]
pub mod jwks_cache;
pub mod jwt_access;
mod limiter;
pub mod mtls;
mod offload;
#[cfg(feature = "jose")]
pub mod oidc;
mod params;
mod profile;
mod provider;
mod pushed;
mod redirect;
mod resource;
mod response;
mod scope;
mod secret;
mod shared_str;
pub mod store;
mod subject;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

/// The attribute every storage trait implementation needs: the store traits are
/// `#[async_trait]` traits, so `impl ClientStore for MyStore` takes `#[tessera::async_trait]`
/// (re-exported so a host's store needs no extra dependency, and stays on the same version).
pub use async_trait::async_trait;

pub use audit::{AuditEvent, AuditSink, RateLimit, TracingAudit};
pub use client::{
    ApplicationType, AuthMethod, Client, ClientId, ClientMetadata, ClientType, GrantType, UserId,
};
pub use clock::{Clock, SystemClock};
pub use config::{
    Config, ConfigBuilder, ConfigError, DeviceConfig, Dialect, Endpoints, Lifetimes,
    MtlsEndpointAliases, PkceRequirement, RegistrationPolicy,
};
pub use endpoint::authorize::{
    AuthorizeError, ErrorRedirect, PendingAuthorization, UntrustedRequest,
};
pub use endpoint::authorized_apps::AuthorizedApp;
#[cfg(feature = "jose")]
pub use endpoint::backchannel_logout::{LogoutError, LogoutNotice};
pub use endpoint::bearer::{BearerError, BearerRequest, DpopChallenge, DpopParts, Principal};
pub use endpoint::device::{DeviceAttempt, PendingDeviceAuthorization};
#[cfg(feature = "jose")]
pub use endpoint::end_session::EndSession;
pub use endpoint::form::FormRequest;
pub use endpoint::register::{ClientRegistration, RegisteredClient};
pub use entropy::{Entropy, OsEntropy};
pub use error::{AdminError, ErrorCode, OAuthError, StoreError};
pub use expiry::ExpiryPolicy;
pub use grant::issue::{ACCESS_TOKEN_TYPE, IdToken, TokenResponse};
pub use grant::openid::{Interaction, Prompt};
pub use grant::pkce::pkce_s256_challenge;
pub use grant::token_exchange::{SubjectToken, SubjectTokenValidator};
pub use jwt_access::AccessTokenFormat;
pub use limiter::{Attempt, AttemptLimiter, MemoryAttemptLimiter};
pub use mtls::{CertificateError, ClientCertificate};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use offload::TokioBlocking;
pub use offload::{Inline, Job, Offload};
pub use params::{Limits, Params};
pub use profile::SecurityProfile;
pub use provider::{Provider, ProviderBuilder};
pub use redirect::{ExactRedirect, RedirectError, RedirectPolicy, RedirectUri};
pub use resource::{
    PROTECTED_RESOURCE_WELL_KNOWN, Resource, ResourceMetadata, protected_resource_metadata_path,
};
pub use response::{BodyFormat, Redirect, Response};
pub use scope::{Scope, ScopeSet};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, DeviceCode, RefreshToken,
    RegistrationAccessToken, SecretHash, TokenHash, TokenKind,
};
pub use subject::SubjectType;
