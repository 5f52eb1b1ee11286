//! Provider configuration: lifetimes, policies, enabled grants, endpoints and wire dialect.
//!
//! Every default follows RFC 9700 (the OAuth 2.0 Security BCP). Settings that weaken one are
//! not fields here: they are reached through [`crate::danger`].

use time::Duration;
use url::Url;

use crate::client::GrantType;
use crate::error::ErrorCode;
use crate::params::Limits;
use crate::response::BodyFormat;
use crate::scope::ScopeSet;

/// Who must use PKCE (RFC 7636) at the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PkceRequirement {
    /// Every client (the default, RFC 9700 §2.1.1).
    AllClients,
    /// Public clients only; confidential clients may still send a challenge, which is then
    /// enforced.
    PublicClients,
}

/// Paths of the endpoints, relative to the issuer, as advertised in server metadata. `None`
/// leaves an endpoint out of the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The authorization endpoint (default `/authorize`).
    pub authorization: String,
    /// The token endpoint (default `/token`).
    pub token: String,
    /// The revocation endpoint (default `/revoke`).
    pub revocation: Option<String>,
    /// The introspection endpoint (default `/introspect`).
    pub introspection: Option<String>,
    /// The dynamic registration endpoint (default `/register`).
    pub registration: Option<String>,
    /// The device authorization endpoint (default `/device_authorization`).
    pub device_authorization: Option<String>,
    /// The page where users enter a device's user code (default `/device`).
    pub device_verification: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            authorization: "/authorize".into(),
            token: "/token".into(),
            revocation: Some("/revoke".into()),
            introspection: Some("/introspect".into()),
            registration: Some("/register".into()),
            device_authorization: Some("/device_authorization".into()),
            device_verification: "/device".into(),
        }
    }
}

/// How dynamic client registration (RFC 7591) is open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationPolicy {
    /// Anyone may register a client.
    Open,
    /// A bearer initial access token must accompany the request; the hashes of accepted ones.
    InitialAccessToken(Vec<crate::secret::TokenHash>),
    /// The endpoint is off; only the host's typed API registers clients.
    Closed,
}

/// The wire shape of the endpoints, for providers whose documented protocol predates or departs
/// from RFC 6749 (the seed dialects; see DIALECTS.md in the repository). The default is RFC 6749
/// exactly, and every field is opt-in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dialect {
    /// The body format of token responses and errors (AppHarbor answers form-encoded).
    pub token_format: BodyFormat,
    /// The grant type assumed when a token request has no `grant_type` (PhoneGap Build sends
    /// none). `None`: a missing `grant_type` is `invalid_request`.
    pub default_grant_type: Option<GrantType>,
    /// If set, only these fields of a successful token response are sent (PhoneGap Build's
    /// response is `{"access_token": ...}` alone).
    pub token_fields: Option<Vec<String>>,
    /// Error codes renamed on the wire, at every endpoint.
    pub renamed_errors: Vec<(ErrorCode, ErrorCode)>,
    /// If set, every token endpoint error is sent as this code with no description (PhoneGap
    /// Build's `{"error": "invalid request"}`). The HTTP status is kept.
    pub collapsed_token_error: Option<ErrorCode>,
    /// Read token endpoint parameters from the query string as well as the body (PhoneGap
    /// Build puts them in the query of a POST). The host passes both to
    /// [`crate::FormRequest`]; without this, query parameters are ignored.
    pub token_params_in_query: bool,
    /// Other names accepted for a `grant_type` at the token endpoint (Phabricator documents
    /// `grant_type=token` for the authorization code grant). The RFC names keep working.
    pub grant_type_aliases: Vec<(String, GrantType)>,
    /// Parameters of the form endpoints (token, revocation, introspection, device authorization)
    /// read under another name: `(wire name, RFC name)` (PhoneGap Build's non-web flow sends the
    /// subject token as `auth_token`). A request carrying both names is `invalid_request`.
    pub param_aliases: Vec<(String, String)>,
    /// The `subject_token_type` assumed when a token-exchange request has none (PhoneGap
    /// Build's personal auth tokens are untyped on the wire). `None`: it is required.
    pub default_subject_token_type: Option<String>,
    /// Take a missing `response_type` at the authorization endpoint as `code` (PhoneGap Build
    /// sends only `client_id`). Any other value is still refused.
    pub response_type_optional: bool,
    /// Let a token request omit the `redirect_uri` its authorization request carried (AppHarbor
    /// documents none at its token endpoint). If the token request names one, it must still
    /// equal the authorization request's. RFC 6749 §4.1.3 requires it; the code stays bound to
    /// its client and, by default here, to PKCE.
    pub token_redirect_uri_optional: bool,
}

impl Default for Dialect {
    fn default() -> Self {
        Self {
            token_format: BodyFormat::Json,
            default_grant_type: None,
            token_fields: None,
            renamed_errors: Vec::new(),
            collapsed_token_error: None,
            token_params_in_query: false,
            grant_type_aliases: Vec::new(),
            param_aliases: Vec::new(),
            default_subject_token_type: None,
            response_type_optional: false,
            token_redirect_uri_optional: false,
        }
    }
}

impl Dialect {
    /// The wire code for `code` after renaming.
    pub fn rename(&self, code: &ErrorCode) -> ErrorCode {
        self.renamed_errors
            .iter()
            .find(|(from, _)| from == code)
            .map(|(_, to)| to.clone())
            .unwrap_or_else(|| code.clone())
    }

    /// The grant type a token request's `grant_type` names: an RFC name or an alias.
    pub fn grant_type(&self, name: &str) -> Option<GrantType> {
        GrantType::parse(name).or_else(|| {
            self.grant_type_aliases
                .iter()
                .find(|(alias, _)| alias == name)
                .map(|(_, grant)| *grant)
        })
    }
}

/// Device authorization grant settings (RFC 8628).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// How long a device code and user code live (default 10 minutes).
    pub code_ttl: Duration,
    /// The minimum polling interval, seconds (default 5).
    pub interval: u32,
    /// Characters in a user code, not counting the dash (default 8, from a 20-letter alphabet:
    /// about 34.6 bits).
    pub user_code_len: usize,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            code_ttl: Duration::minutes(10),
            interval: 5,
            user_code_len: 8,
        }
    }
}

/// Provider configuration. Build it with [`Config::new`] and the `with_*` methods.
///
/// ```
/// use tessera::{Config, ScopeSet};
/// let config = Config::new("https://auth.example.com")?
///     .with_scopes(ScopeSet::parse("whoami offline_access")?)
///     .with_code_ttl(time::Duration::seconds(30));
/// assert_eq!(config.issuer().as_str(), "https://auth.example.com/");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    pub(crate) issuer: Url,
    pub(crate) issuer_text: String,
    /// Send `iss` in authorization responses (RFC 9207; default true).
    pub iss_parameter: bool,
    /// The scopes the provider offers.
    pub scopes: ScopeSet,
    /// The scopes granted when a request names none (default: none, so the request must).
    pub default_scopes: ScopeSet,
    /// How long an authorization code may be redeemed (default 60 s).
    pub code_ttl: Duration,
    /// Who must use PKCE.
    pub pkce: PkceRequirement,
    pub(crate) allow_plain_pkce: bool,
    pub(crate) allow_http_redirects: bool,
    /// Rotate refresh tokens on every use (default true, RFC 9700 §4.14.2).
    pub rotate_refresh_tokens: bool,
    /// Answer a replay of a just-rotated refresh token with the same successor for this long
    /// (default none: every replay is reuse).
    pub refresh_grace: Option<Duration>,
    /// The grant types enabled at this provider.
    pub grant_types: Vec<GrantType>,
    /// Accept the access token in the `access_token` query parameter (RFC 6750 §2.3; default
    /// true for compatibility with providers that document it, which all three seeds do).
    pub bearer_in_query: bool,
    /// Accept the access token in a form body (RFC 6750 §2.2; default true).
    pub bearer_in_form: bool,
    /// The `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Bounds on request size.
    pub limits: Limits,
    /// Endpoint paths.
    pub endpoints: Endpoints,
    /// Dynamic registration policy (default open).
    pub registration: RegistrationPolicy,
    /// The token endpoint's wire dialect.
    pub dialect: Dialect,
    /// Device flow settings.
    pub device: DeviceConfig,
}

impl Config {
    /// A configuration with secure defaults for the provider at `issuer` (an `https` URL, or
    /// `http` on a loopback host for development).
    pub fn new(issuer: &str) -> Result<Self, url::ParseError> {
        let issuer_text = issuer.trim_end_matches('/').to_owned();
        let issuer = Url::parse(issuer)?;
        Ok(Self {
            issuer,
            issuer_text,
            iss_parameter: true,
            scopes: ScopeSet::new(),
            default_scopes: ScopeSet::new(),
            code_ttl: Duration::seconds(60),
            pkce: PkceRequirement::AllClients,
            allow_plain_pkce: false,
            allow_http_redirects: false,
            rotate_refresh_tokens: true,
            refresh_grace: None,
            grant_types: GrantType::ALL.to_vec(),
            bearer_in_query: true,
            bearer_in_form: true,
            realm: "tessera".into(),
            limits: Limits::default(),
            endpoints: Endpoints::default(),
            registration: RegistrationPolicy::Open,
            dialect: Dialect::default(),
            device: DeviceConfig::default(),
        })
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &Url {
        &self.issuer
    }

    /// The issuer as written in metadata and `iss` (no trailing slash).
    pub fn issuer_str(&self) -> &str {
        &self.issuer_text
    }

    /// An absolute URL for an endpoint path.
    pub fn endpoint_url(&self, path: &str) -> String {
        format!("{}{}", self.issuer_text, path)
    }

    /// Sets the scopes offered.
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = scopes;
        self
    }

    /// Sets the scopes granted when a request names none.
    pub fn with_default_scopes(mut self, scopes: ScopeSet) -> Self {
        self.default_scopes = scopes;
        self
    }

    /// Sets the authorization code lifetime.
    pub fn with_code_ttl(mut self, ttl: Duration) -> Self {
        self.code_ttl = ttl;
        self
    }

    /// Sets who must use PKCE.
    pub fn with_pkce(mut self, pkce: PkceRequirement) -> Self {
        self.pkce = pkce;
        self
    }

    /// Sets the enabled grant types.
    pub fn with_grant_types(mut self, grants: Vec<GrantType>) -> Self {
        self.grant_types = grants;
        self
    }

    /// Sets the refresh grace window (see [`Config::refresh_grace`]).
    pub fn with_refresh_grace(mut self, window: Option<Duration>) -> Self {
        self.refresh_grace = window;
        self
    }

    /// Sets the endpoint paths.
    pub fn with_endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// Sets the registration policy.
    pub fn with_registration(mut self, policy: RegistrationPolicy) -> Self {
        self.registration = policy;
        self
    }

    /// Sets the token endpoint dialect.
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Whether the provider has `grant` enabled.
    pub fn grant_enabled(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether plain `http` redirect URIs on non-loopback hosts may be registered (only through
    /// [`crate::danger::allow_http_redirects`]).
    pub fn allows_http_redirects(&self) -> bool {
        self.allow_http_redirects
    }

    /// Whether plain PKCE is accepted (only through [`crate::danger::allow_plain_pkce`]).
    pub fn allows_plain_pkce(&self) -> bool {
        self.allow_plain_pkce
    }
}
