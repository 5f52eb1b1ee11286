//! tessera: an embeddable OAuth 2.x authorization server.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod clock;
mod entropy;
mod error;
mod params;
mod redirect;
mod response;
mod scope;
mod secret;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use client::{AuthMethod, Client, ClientId, ClientType, GrantType, UserId, MAX_CLIENT_ID_LEN};
pub use clock::{Clock, ManualClock, SystemClock};
pub use entropy::{Entropy, OsEntropy, SeededEntropy};
pub use error::{ErrorCode, OAuthError, StoreError};
pub use params::{Limits, Params};
pub use redirect::{ExactRedirect, RedirectError, RedirectPolicy, RedirectUri, MAX_REDIRECT_URI_LEN};
pub use response::{BodyFormat, Redirect, Response};
pub use scope::{Scope, ScopeSet, MAX_SCOPES, MAX_SCOPE_LEN};
pub use secret::{
    AccessToken, AuthorizationCode, ClientSecret, DeviceCode, RefreshToken, RegistrationAccessToken, SecretHash,
    TokenHash, TokenKind,
};
