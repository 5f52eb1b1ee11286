//! Token lifetimes as a policy that may depend on the client and the granted scopes.

use std::fmt;

use time::Duration;

use crate::client::Client;
use crate::scope::{Scope, ScopeSet};

/// Decides how long tokens live. `None` means the token never expires.
pub trait ExpiryPolicy: Send + Sync + fmt::Debug {
    /// The access token lifetime for `client` with `scopes` granted.
    fn access_token(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
    /// How long a refresh token lives from its issue (each rotation starts a new one).
    fn refresh_token(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
    /// The absolute lifetime of a refresh token family from the original grant; rotation never
    /// extends a family past it.
    fn refresh_family(&self, client: &Client, scopes: &ScopeSet) -> Option<Duration>;
}

/// Fixed lifetimes: access tokens 1 hour, refresh tokens 30 days, families 90 days.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StandardExpiry {
    /// Access token lifetime.
    pub access: Duration,
    /// Refresh token lifetime from issue.
    pub refresh: Duration,
    /// Refresh family absolute lifetime.
    pub family: Duration,
    pub(crate) never_expiring_scope: Option<Scope>,
    pub(crate) never_expire: bool,
}

impl Default for StandardExpiry {
    fn default() -> Self {
        Self {
            access: Duration::hours(1),
            refresh: Duration::days(30),
            family: Duration::days(90),
            never_expiring_scope: None,
            never_expire: false,
        }
    }
}

impl StandardExpiry {
    /// Sets the access token lifetime.
    pub fn with_access(mut self, ttl: Duration) -> Self {
        self.access = ttl;
        self
    }

    /// Sets the refresh token lifetime.
    pub fn with_refresh(mut self, ttl: Duration) -> Self {
        self.refresh = ttl;
        self
    }

    /// Sets the refresh family's absolute lifetime.
    pub fn with_family(mut self, ttl: Duration) -> Self {
        self.family = ttl;
        self
    }

    fn forever(&self, scopes: &ScopeSet) -> bool {
        self.never_expire
            || self
                .never_expiring_scope
                .as_ref()
                .is_some_and(|scope| scopes.contains(scope.as_str()))
    }
}

impl ExpiryPolicy for StandardExpiry {
    fn access_token(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.access)
    }

    fn refresh_token(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.refresh)
    }

    fn refresh_family(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.family)
    }
}
