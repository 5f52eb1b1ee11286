//! tessera: an embeddable OAuth 2.x authorization server.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audit;
mod client;
mod client_auth;
mod clock;
mod config;
pub mod danger;
mod endpoint;
mod entropy;
mod error;
mod expiry;
mod grant;
mod params;
mod provider;
mod redirect;
mod response;
mod scope;
mod secret;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use audit::{AuditEvent, AuditSink, TracingAudit};
pub use client::{AuthMethod, Client, ClientId, ClientType, GrantType, UserId, MAX_CLIENT_ID_LEN};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, DeviceConfig, Dialect, Endpoints, PkceRequirement, RegistrationPolicy};
pub use endpoint::authorized_apps::AuthorizedApp;
pub use endpoint::bearer::{BearerError, BearerRequest, Principal};
pub use endpoint::register::{ClientRegistration, RegisteredClient, MAX_CLIENT_NAME_LEN, MAX_REDIRECT_URIS};
pub use endpoint::token::FormRequest;
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use error::{ErrorCode, OAuthError, StoreError};
pub use expiry::{ExpiryPolicy, StandardExpiry};
pub use grant::authorization_code::{AuthorizeError, PendingAuthorization, UntrustedRequest};
pub use grant::device_code::PendingDeviceAuthorization;
pub use grant::issue::TokenResponse;
pub use grant::pkce::pkce_s256_challenge;
pub use grant::token_exchange::{SubjectTokenValidator, ACCESS_TOKEN_TYPE};
pub use params::{Limits, Params};
pub use provider::{Provider, ProviderBuilder};
pub use redirect::{ExactRedirect, RedirectError, RedirectPolicy, RedirectUri, MAX_REDIRECT_URI_LEN};
pub use response::{BodyFormat, Redirect, Response};
pub use scope::{Scope, ScopeSet, MAX_SCOPES, MAX_SCOPE_LEN};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, DeviceCode, RefreshToken, RegistrationAccessToken, SecretHash,
    TokenHash, TokenKind,
};
