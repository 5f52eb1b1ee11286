//! Token lifetimes as a policy that may depend on the client and the granted scopes.

use std::fmt;

use time::Duration;

use crate::client::Client;
use crate::scope::ScopeSet;

/// Decides how long tokens live. `None` means the token never expires.
///
/// The default is the configuration's [`crate::Lifetimes`]. Whatever a policy answers, the
/// issuance step caps it: no token outlives its family, and tokens of a grant no user gave
/// (client credentials) always expire.
pub trait ExpiryPolicy: Send + Sync + fmt::Debug {
    /// The access token lifetime for `client` with `scopes` granted.
    fn access_token(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
    /// How long a refresh token lives from its issue (each rotation starts a new one).
    fn refresh_token(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
    /// The absolute lifetime of a refresh token family from the original grant; rotation never
    /// extends a family past it.
    fn refresh_family(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
}
