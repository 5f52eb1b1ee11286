//! Provider configuration: lifetimes, policies, enabled grants, endpoints and wire dialect,
//! built and validated once by [`ConfigBuilder::build`].
//!
//! Every default follows RFC 9700 (the OAuth 2.0 Security BCP). Settings that weaken one are
//! not here: they are reached through [`crate::danger::Danger`].

use time::Duration;

use crate::client::{Client, ClientId, GrantType};
use crate::danger::Danger;
use crate::error::ErrorCode;
use crate::expiry::ExpiryPolicy;
use crate::jwt_access::AccessTokenFormat;
use crate::params::Limits;
use crate::profile::SecurityProfile;
use crate::resource::{self, Resource};
use crate::response::BodyFormat;
use crate::scope::{Scope, ScopeSet};

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
///
/// [`ConfigBuilder::build`] checks that every path starts with `/`, has no query, fragment,
/// space or braces and no segment starting with `:` or `*` (which routers read as captures),
/// is not under `/.well-known/`, and differs from every other: so a router can serve each
/// endpoint exactly where the metadata says it is (the `axum` feature's router does).
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
    /// The dynamic registration endpoint (default `/register`; advertised only when the
    /// registration policy lets anyone reach it).
    pub registration: Option<String>,
    /// The device authorization endpoint (default `/device_authorization`; advertised only
    /// when the device grant is enabled).
    pub device_authorization: Option<String>,
    /// The page where users enter a device's user code (default `/device`).
    pub device_verification: String,
    /// The JWK Set of the provider's public keys (default `/jwks`; advertised as `jwks_uri`
    /// only when the provider has signing keys).
    pub jwks: Option<String>,
    /// The OpenID Connect userinfo endpoint (default `/userinfo`; advertised only when the
    /// provider speaks OpenID Connect).
    pub userinfo: Option<String>,
    /// The host's RP-initiated logout page (default `/end_session`; advertised as
    /// `end_session_endpoint` when the provider speaks OpenID Connect: serve it with
    /// [`Provider::end_session`](crate::Provider::end_session)).
    pub end_session: Option<String>,
    /// The pushed authorization request endpoint (RFC 9126; default `/par`; advertised with
    /// the authorization code grant enabled).
    pub pushed_authorization: Option<String>,
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
            jwks: Some("/jwks".into()),
            userinfo: Some("/userinfo".into()),
            end_session: Some("/end_session".into()),
            pushed_authorization: Some("/par".into()),
        }
    }
}

impl Endpoints {
    /// Sets the authorization endpoint's path.
    pub fn with_authorization(mut self, path: impl Into<String>) -> Self {
        self.authorization = path.into();
        self
    }

    /// Sets the token endpoint's path.
    pub fn with_token(mut self, path: impl Into<String>) -> Self {
        self.token = path.into();
        self
    }

    /// Sets (or, with `None`, removes) the revocation endpoint's path.
    pub fn with_revocation(mut self, path: Option<&str>) -> Self {
        self.revocation = path.map(str::to_owned);
        self
    }

    /// Sets (or removes) the introspection endpoint's path.
    pub fn with_introspection(mut self, path: Option<&str>) -> Self {
        self.introspection = path.map(str::to_owned);
        self
    }

    /// Sets (or removes) the registration endpoint's path.
    pub fn with_registration(mut self, path: Option<&str>) -> Self {
        self.registration = path.map(str::to_owned);
        self
    }

    /// Sets (or removes) the device authorization endpoint's path.
    pub fn with_device_authorization(mut self, path: Option<&str>) -> Self {
        self.device_authorization = path.map(str::to_owned);
        self
    }

    /// Sets the device verification page's path.
    pub fn with_device_verification(mut self, path: impl Into<String>) -> Self {
        self.device_verification = path.into();
        self
    }

    /// Sets (or removes) the JWK Set's path.
    pub fn with_jwks(mut self, path: Option<&str>) -> Self {
        self.jwks = path.map(str::to_owned);
        self
    }

    /// Sets (or removes) the userinfo endpoint's path.
    pub fn with_userinfo(mut self, path: Option<&str>) -> Self {
        self.userinfo = path.map(str::to_owned);
        self
    }

    /// Sets (or removes) the RP-initiated logout page's path.
    pub fn with_end_session(mut self, path: Option<&str>) -> Self {
        self.end_session = path.map(str::to_owned);
        self
    }

    /// Sets the pushed authorization request endpoint's path, or leaves it out.
    pub fn with_pushed_authorization(mut self, path: Option<&str>) -> Self {
        self.pushed_authorization = path.map(str::to_owned);
        self
    }

    fn paths(&self) -> impl Iterator<Item = &str> {
        [Some(&self.authorization), Some(&self.token)]
            .into_iter()
            .chain([
                self.revocation.as_ref(),
                self.introspection.as_ref(),
                self.registration.as_ref(),
                self.device_authorization.as_ref(),
                Some(&self.device_verification),
                self.jwks.as_ref(),
                self.userinfo.as_ref(),
                self.end_session.as_ref(),
                self.pushed_authorization.as_ref(),
            ])
            .flatten()
            .map(String::as_str)
    }
}

/// The RFC 8705 §5 `mtls_endpoint_aliases`: the absolute URLs at which the host serves
/// endpoints on a listener that asks for client certificates, for clients that authenticate
/// with one or bind their tokens to one, while the others keep the plain URLs. Advertised in
/// the metadata (RFC 8414 and OpenID Connect discovery, the one document) with the endpoints
/// the provider serves; [`ConfigBuilder::build`] refuses an alias of an endpoint the
/// configuration does not have, and one that is not an `https` URL (`http` only on a loopback
/// host) with a host and no query, fragment or user information, in canonical form.
///
/// The alias is the same endpoint: the host mounts the same tessera call at both URLs and
/// hands it the certificate ([`crate::FormRequest::with_client_certificate`]). A client
/// assertion's `aud` is still the issuer (or the token endpoint URL), never an alias
/// (draft-ietf-oauth-rfc7523bis restricts it to the issuer).
///
/// ```
/// use tessera::{Config, MtlsEndpointAliases};
/// let config = Config::builder("https://auth.example.com")
///     .mtls_endpoint_aliases(
///         MtlsEndpointAliases::default().with_token("https://mtls.auth.example.com/token"),
///     )
///     .build()?;
/// assert!(config.mtls_endpoint_aliases().is_some());
/// assert!(Config::builder("https://auth.example.com")
///     .mtls_endpoint_aliases(MtlsEndpointAliases::default().with_token("http://mtls.example/token"))
///     .build()
///     .is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtlsEndpointAliases {
    /// `token_endpoint`.
    pub token: Option<String>,
    /// `revocation_endpoint`.
    pub revocation: Option<String>,
    /// `introspection_endpoint`.
    pub introspection: Option<String>,
    /// `pushed_authorization_request_endpoint` (RFC 9126).
    pub pushed_authorization: Option<String>,
    /// `userinfo_endpoint` (advertised when the provider speaks OpenID Connect).
    pub userinfo: Option<String>,
    /// `device_authorization_endpoint` (advertised with the device grant).
    pub device_authorization: Option<String>,
}

impl MtlsEndpointAliases {
    /// Sets the token endpoint's alias.
    pub fn with_token(mut self, url: impl Into<String>) -> Self {
        self.token = Some(url.into());
        self
    }

    /// Sets the revocation endpoint's alias.
    pub fn with_revocation(mut self, url: impl Into<String>) -> Self {
        self.revocation = Some(url.into());
        self
    }

    /// Sets the introspection endpoint's alias.
    pub fn with_introspection(mut self, url: impl Into<String>) -> Self {
        self.introspection = Some(url.into());
        self
    }

    /// Sets the pushed authorization request endpoint's alias.
    pub fn with_pushed_authorization(mut self, url: impl Into<String>) -> Self {
        self.pushed_authorization = Some(url.into());
        self
    }

    /// Sets the userinfo endpoint's alias.
    pub fn with_userinfo(mut self, url: impl Into<String>) -> Self {
        self.userinfo = Some(url.into());
        self
    }

    /// Sets the device authorization endpoint's alias.
    pub fn with_device_authorization(mut self, url: impl Into<String>) -> Self {
        self.device_authorization = Some(url.into());
        self
    }

    /// Each alias with the metadata name of its endpoint and the configured path of that
    /// endpoint (`None`: the configuration has no such endpoint).
    pub(crate) fn entries<'a>(
        &'a self,
        endpoints: &'a Endpoints,
    ) -> [(&'static str, Option<&'a str>, Option<&'a str>); 6] {
        [
            (
                "token_endpoint",
                self.token.as_deref(),
                Some(endpoints.token.as_str()),
            ),
            (
                "revocation_endpoint",
                self.revocation.as_deref(),
                endpoints.revocation.as_deref(),
            ),
            (
                "introspection_endpoint",
                self.introspection.as_deref(),
                endpoints.introspection.as_deref(),
            ),
            (
                "pushed_authorization_request_endpoint",
                self.pushed_authorization.as_deref(),
                endpoints.pushed_authorization.as_deref(),
            ),
            (
                "userinfo_endpoint",
                self.userinfo.as_deref(),
                endpoints.userinfo.as_deref(),
            ),
            (
                "device_authorization_endpoint",
                self.device_authorization.as_deref(),
                endpoints.device_authorization.as_deref(),
            ),
        ]
    }
}

/// Who may use dynamic client registration (RFC 7591). Open registration is a weakening and
/// lives in [`crate::danger::Danger::open_registration`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationPolicy {
    /// The endpoint is off; only the host's typed API registers clients (the default).
    Closed,
    /// A bearer initial access token must accompany the request; the hashes of accepted ones.
    InitialAccessToken(Vec<crate::secret::TokenHash>),
}

/// The wire shape of the endpoints, for providers whose documented protocol predates or departs
/// from RFC 6749 (the seed dialects; see DIALECTS.md in the repository). The default is RFC 6749
/// exactly, and every setting is opt-in. Built with the `with_*` methods.
///
/// ```
/// use tessera::{BodyFormat, Dialect, ErrorCode};
/// let dialect = Dialect::default()
///     .with_token_format(BodyFormat::Form)
///     .with_renamed_error(ErrorCode::AccessDenied, ErrorCode::Custom("refused".into()));
/// assert_eq!(dialect.token_format(), BodyFormat::Form);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub(crate) token_format: BodyFormat,
    pub(crate) default_grant_type: Option<GrantType>,
    pub(crate) token_fields: Option<Vec<String>>,
    pub(crate) renamed_errors: Vec<(ErrorCode, ErrorCode)>,
    pub(crate) collapsed_token_error: Option<ErrorCode>,
    pub(crate) token_params_in_query: bool,
    pub(crate) grant_type_aliases: Vec<(String, GrantType)>,
    pub(crate) param_aliases: Vec<(String, String)>,
    pub(crate) default_subject_token_type: Option<String>,
    pub(crate) response_type_optional: bool,
    pub(crate) token_redirect_uri_optional: bool,
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
    /// The body format of token responses and errors (AppHarbor answers form-encoded).
    pub fn with_token_format(mut self, format: BodyFormat) -> Self {
        self.token_format = format;
        self
    }

    /// The grant type assumed when a token request has no `grant_type` (PhoneGap Build sends
    /// none). Without it, a missing `grant_type` is `invalid_request`.
    pub fn with_default_grant_type(mut self, grant: GrantType) -> Self {
        self.default_grant_type = Some(grant);
        self
    }

    /// Send only these fields of a successful token response (PhoneGap Build's response is
    /// `{"access_token": ...}` alone).
    pub fn with_token_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.token_fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Rename an error code on the wire, at every endpoint.
    pub fn with_renamed_error(mut self, from: ErrorCode, to: ErrorCode) -> Self {
        self.renamed_errors.push((from, to));
        self
    }

    /// Send every token endpoint error as this code with no description (PhoneGap Build's
    /// `{"error": "invalid request"}`). The HTTP status is kept.
    pub fn with_collapsed_token_error(mut self, code: ErrorCode) -> Self {
        self.collapsed_token_error = Some(code);
        self
    }

    /// Read token endpoint parameters from the query string as well as the body (PhoneGap
    /// Build puts them in the query of a POST). The host passes both to
    /// [`crate::FormRequest`]; without this, query parameters are ignored.
    pub fn with_token_params_in_query(mut self) -> Self {
        self.token_params_in_query = true;
        self
    }

    /// Accept another name for a `grant_type` at the token endpoint (Phabricator documents
    /// `grant_type=token` for the authorization code grant). The RFC names keep working.
    pub fn with_grant_type_alias(mut self, alias: impl Into<String>, grant: GrantType) -> Self {
        self.grant_type_aliases.push((alias.into(), grant));
        self
    }

    /// Read a parameter of the form endpoints (token, revocation, introspection, device
    /// authorization) under another name (PhoneGap Build's non-web flow sends the subject token
    /// as `auth_token`). A request carrying both names is `invalid_request`.
    pub fn with_param_alias(mut self, wire: impl Into<String>, rfc: impl Into<String>) -> Self {
        self.param_aliases.push((wire.into(), rfc.into()));
        self
    }

    /// The `subject_token_type` assumed when a token-exchange request has none (PhoneGap
    /// Build's personal auth tokens are untyped on the wire). Without it, it is required.
    pub fn with_default_subject_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.default_subject_token_type = Some(token_type.into());
        self
    }

    /// Take a missing `response_type` at the authorization endpoint as `code` (PhoneGap Build
    /// sends only `client_id`). Any other value is still refused.
    pub fn with_response_type_optional(mut self) -> Self {
        self.response_type_optional = true;
        self
    }

    /// Let a token request omit the `redirect_uri` its authorization request carried (AppHarbor
    /// documents none at its token endpoint). If the token request names one, it must still
    /// equal the authorization request's. RFC 6749 §4.1.3 requires it; the code stays bound to
    /// its client and, by default here, to PKCE.
    pub fn with_token_redirect_uri_optional(mut self) -> Self {
        self.token_redirect_uri_optional = true;
        self
    }

    /// The body format of token responses and errors.
    pub fn token_format(&self) -> BodyFormat {
        self.token_format
    }

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

/// Device authorization grant settings (RFC 8628). Its lifetime is
/// [`Lifetimes::device_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceConfig {
    /// The minimum polling interval, seconds (default 5).
    pub interval: u32,
    /// Characters in a user code, not counting the dash (default 8, from a 20-letter alphabet:
    /// about 34.6 bits; at least 8).
    pub user_code_len: usize,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self {
            interval: 5,
            user_code_len: 8,
        }
    }
}

impl DeviceConfig {
    /// Sets the minimum polling interval in seconds (at least 1).
    pub fn with_interval(mut self, seconds: u32) -> Self {
        self.interval = seconds;
        self
    }

    /// Sets the user code length (at least 8).
    pub fn with_user_code_len(mut self, len: usize) -> Self {
        self.user_code_len = len;
        self
    }
}

/// Every lifetime in one place. The defaults: codes 60 s, access tokens 1 hour, refresh tokens
/// 30 days, refresh families 90 days, device codes 10 minutes, pushed requests 60 s.
///
/// It is also the default [`ExpiryPolicy`]; a host that needs lifetimes per client plugs its own
/// into [`crate::ProviderBuilder::expiry`]. Whatever the policy says, a token never outlives its
/// family, and only a grant a user gave (and can revoke) may hold tokens that never expire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lifetimes {
    /// How long an authorization code may be redeemed (at most 10 minutes, RFC 6749 §4.1.2).
    pub code: Duration,
    /// Access token lifetime.
    pub access_token: Duration,
    /// Refresh token lifetime from its issue (each rotation starts a new one).
    pub refresh_token: Duration,
    /// A refresh family's absolute lifetime from the original grant; rotation never extends it.
    pub refresh_family: Duration,
    /// How long a device code and its user code live (RFC 8628).
    pub device_code: Duration,
    /// How long a pushed authorization request's `request_uri` may be used (RFC 9126 §2.2;
    /// default 60 s, at most 10 minutes): until the user approves, since the host's login and
    /// consent pages validate the request again.
    pub pushed_request: Duration,
    pub(crate) never_expiring_scope: Option<Scope>,
    pub(crate) never_expire: bool,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            code: Duration::seconds(60),
            access_token: Duration::hours(1),
            refresh_token: Duration::days(30),
            refresh_family: Duration::days(90),
            device_code: Duration::minutes(10),
            pushed_request: Duration::seconds(60),
            never_expiring_scope: None,
            never_expire: false,
        }
    }
}

impl Lifetimes {
    /// Sets the authorization code lifetime.
    pub fn with_code(mut self, ttl: Duration) -> Self {
        self.code = ttl;
        self
    }

    /// Sets the access token lifetime.
    pub fn with_access_token(mut self, ttl: Duration) -> Self {
        self.access_token = ttl;
        self
    }

    /// Sets the refresh token lifetime.
    pub fn with_refresh_token(mut self, ttl: Duration) -> Self {
        self.refresh_token = ttl;
        self
    }

    /// Sets the refresh family's absolute lifetime.
    pub fn with_refresh_family(mut self, ttl: Duration) -> Self {
        self.refresh_family = ttl;
        self
    }

    /// Sets the device code lifetime.
    pub fn with_device_code(mut self, ttl: Duration) -> Self {
        self.device_code = ttl;
        self
    }

    /// Sets the lifetime of pushed authorization requests.
    pub fn with_pushed_request(mut self, ttl: Duration) -> Self {
        self.pushed_request = ttl;
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

impl ExpiryPolicy for Lifetimes {
    fn access_token(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.access_token)
    }

    fn refresh_token(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.refresh_token)
    }

    fn refresh_family(&self, _client: &Client, scopes: &ScopeSet) -> Option<Duration> {
        (!self.forever(scopes)).then_some(self.refresh_family)
    }
}

/// Why a configuration was refused by [`ConfigBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The issuer is not an identifier RFC 8414 §2 allows.
    #[error("the issuer is refused: {0}")]
    Issuer(&'static str),
    /// A setting is out of range or contradicts another.
    #[error("the configuration is refused: {0}")]
    Setting(&'static str),
    /// A resource server's identifier or settings are refused (RFC 8707 §2).
    #[error("a resource is refused: {0}")]
    Resource(&'static str),
    /// A setting contradicts the configuration's [`SecurityProfile`].
    #[error("the security profile is contradicted: {0}")]
    Profile(&'static str),
}

/// Provider configuration, validated. Build it with [`Config::builder`].
///
/// ```
/// use tessera::{Config, GrantType, Lifetimes, ScopeSet};
/// let config = Config::builder("https://auth.example.com")
///     .scopes(ScopeSet::parse("whoami offline_access")?)
///     .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
///     .lifetimes(Lifetimes::default().with_code(time::Duration::seconds(30)))
///     .build()?;
/// assert_eq!(config.issuer(), "https://auth.example.com");
/// assert_eq!(config.endpoint_url("/token"), "https://auth.example.com/token");
/// assert!(Config::builder("http://auth.example.com").build().is_err(), "https only off loopback");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) issuer: String,
    pub(crate) scopes: ScopeSet,
    pub(crate) default_scopes: ScopeSet,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) pkce: PkceRequirement,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) refresh_grace: Option<Duration>,
    pub(crate) grant_types: Vec<GrantType>,
    pub(crate) bearer_in_form: bool,
    pub(crate) realm: String,
    pub(crate) limits: Limits,
    pub(crate) endpoints: Endpoints,
    pub(crate) registration: RegistrationPolicy,
    pub(crate) dialect: Dialect,
    pub(crate) device: DeviceConfig,
    pub(crate) exchange_trust: Vec<(ClientId, ClientId)>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) danger: Danger,
    pub(crate) access_token_format: AccessTokenFormat,
    pub(crate) require_pushed_requests: bool,
    pub(crate) require_signed_request_objects: bool,
    pub(crate) certificate_bound_access_tokens: bool,
    pub(crate) mtls_aliases: Option<MtlsEndpointAliases>,
    pub(crate) unused_client_expiry: Option<Duration>,
    pub(crate) profile: Option<SecurityProfile>,
}

/// Assembles and validates a [`Config`]; see [`Config::builder`].
#[derive(Debug, Clone)]
#[must_use = "call .build() to get a Config"]
pub struct ConfigBuilder {
    config: Config,
}

impl Config {
    /// Starts a configuration with secure defaults for the provider at `issuer`: an `https`
    /// URL (or `http` on a loopback host, for development) with no query, fragment or trailing
    /// slash (RFC 8414 §2). The defaults: the authorization code and refresh token grants only,
    /// no scopes offered, PKCE for every client, rotating refresh tokens, closed registration.
    pub fn builder(issuer: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                issuer: issuer.into(),
                scopes: ScopeSet::new(),
                default_scopes: ScopeSet::new(),
                lifetimes: Lifetimes::default(),
                pkce: PkceRequirement::AllClients,
                rotate_refresh_tokens: true,
                refresh_grace: None,
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                bearer_in_form: true,
                realm: "tessera".into(),
                limits: Limits::default(),
                endpoints: Endpoints::default(),
                registration: RegistrationPolicy::Closed,
                dialect: Dialect::default(),
                device: DeviceConfig::default(),
                exchange_trust: Vec::new(),
                resources: Vec::new(),
                danger: Danger::default(),
                access_token_format: AccessTokenFormat::Opaque,
                require_pushed_requests: false,
                require_signed_request_objects: false,
                certificate_bound_access_tokens: false,
                mtls_aliases: None,
                unused_client_expiry: Some(Config::DEFAULT_UNUSED_CLIENT_EXPIRY),
                profile: None,
            },
        }
    }

    /// How long a self-registered client may go unused before it expires, by default
    /// (see [`ConfigBuilder::unused_client_expiry`]).
    pub const DEFAULT_UNUSED_CLIENT_EXPIRY: Duration = Duration::hours(24);

    /// How long a self-registered client may go unused before it expires; `None`: never.
    pub fn unused_client_expiry(&self) -> Option<Duration> {
        self.unused_client_expiry
    }

    /// The issuer identifier, as written in metadata and `iss` (RFC 8414 §2, RFC 9207).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// An absolute URL for an endpoint path.
    pub fn endpoint_url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The scopes the provider offers. No scope is granted that is not here.
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The scopes granted when a request names none.
    pub fn default_scopes(&self) -> &ScopeSet {
        &self.default_scopes
    }

    /// Every lifetime.
    pub fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    /// Who must use PKCE.
    pub fn pkce(&self) -> PkceRequirement {
        self.pkce
    }

    /// The grant types enabled at this provider.
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// Whether the provider has `grant` enabled.
    pub fn grant_enabled(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The `realm` of `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Bounds on request size.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The RFC 8705 §5 mTLS endpoint aliases, if set.
    pub fn mtls_endpoint_aliases(&self) -> Option<&MtlsEndpointAliases> {
        self.mtls_aliases.as_ref()
    }

    /// Endpoint paths.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The wire dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// Device flow settings.
    pub fn device(&self) -> &DeviceConfig {
        &self.device
    }

    /// Whether dynamic registration is open to anyone (only through
    /// [`crate::danger::Danger::open_registration`]).
    pub fn registration_open(&self) -> bool {
        self.danger.open_registration
    }

    /// The registration policy for requests that are not open.
    pub fn registration(&self) -> &RegistrationPolicy {
        &self.registration
    }

    /// The weakened defaults this configuration opted into.
    pub fn danger(&self) -> &Danger {
        &self.danger
    }

    /// Whether `actor` may exchange access tokens issued to `subject` (itself, or a configured
    /// trust; see [`ConfigBuilder::trust_exchange`]).
    pub fn exchange_trusted(&self, subject: &ClientId, actor: &ClientId) -> bool {
        subject == actor
            || self
                .exchange_trust
                .iter()
                .any(|(s, a)| s == subject && a == actor)
    }

    /// The registered resource servers (RFC 8707), in registration order.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// The registered resource with identifier `id` (compared exactly), if any.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// The audience of a token requested without `resource`: every resource registered
    /// [`Resource::included_by_default`] (empty if none is).
    pub fn default_audience(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter(|r| r.by_default)
            .map(|r| r.id.clone())
            .collect()
    }

    /// Whether every client that presents a TLS client certificate gets certificate-bound
    /// tokens (RFC 8705 §3), not only those that registered
    /// `tls_client_certificate_bound_access_tokens`.
    pub fn certificate_bound_access_tokens(&self) -> bool {
        self.certificate_bound_access_tokens
    }

    /// Whether every authorization request must be pushed first (RFC 9126 §5).
    pub fn pushed_requests_required(&self) -> bool {
        self.require_pushed_requests
    }

    /// Whether every authorization request must come in a signed request object (RFC 9101
    /// §10.5, `require_signed_request_object`).
    pub fn signed_request_objects_required(&self) -> bool {
        self.require_signed_request_objects
    }

    /// Whether authorization responses carry `iss` (RFC 9207; always, unless
    /// [`crate::danger::Danger::omit_iss_parameter`]).
    pub fn iss_parameter(&self) -> bool {
        !self.danger.omit_iss
    }

    /// The security profile the configuration follows, if any.
    pub fn security_profile(&self) -> Option<SecurityProfile> {
        self.profile
    }

    /// The provider-wide format of access tokens (opaque unless set); a resource registered
    /// [`Resource::with_jwt_access_tokens`] gets JWTs either way.
    pub fn access_token_format(&self) -> AccessTokenFormat {
        self.access_token_format
    }

    /// Whether a token for `audience` is a JWT (RFC 9068): the provider's format is
    /// [`AccessTokenFormat::Jwt`], or a resource of the audience asks for JWTs.
    pub(crate) fn jwt_for(&self, audience: &[String]) -> bool {
        self.access_token_format == AccessTokenFormat::Jwt
            || audience
                .iter()
                .any(|id| self.resource(id).is_some_and(|r| r.jwt_access_tokens))
    }

    /// Whether any access token may be a JWT: then a presented JWT is looked up like an opaque
    /// token (bearer validation, introspection, revocation), else refused unread.
    pub(crate) fn any_jwt_access_tokens(&self) -> bool {
        self.access_token_format == AccessTokenFormat::Jwt
            || self.resources.iter().any(|r| r.jwt_access_tokens)
    }
}

impl ConfigBuilder {
    /// Sets the scopes offered. No configured scope means no scope is ever granted.
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.config.scopes = scopes;
        self
    }

    /// Sets the scopes granted when a request names none (a subset of the offered ones).
    pub fn default_scopes(mut self, scopes: ScopeSet) -> Self {
        self.config.default_scopes = scopes;
        self
    }

    /// Sets the enabled grant types, exactly: nothing is enabled implicitly, so a grant type
    /// added to the crate never turns on by itself.
    pub fn grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        let mut list: Vec<GrantType> = Vec::new();
        for grant in grants {
            if !list.contains(&grant) {
                list.push(grant);
            }
        }
        self.config.grant_types = list;
        self
    }

    /// Sets every lifetime.
    pub fn lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        let (scope, forever) = (
            self.config.lifetimes.never_expiring_scope.take(),
            self.config.lifetimes.never_expire,
        );
        self.config.lifetimes = Lifetimes {
            never_expiring_scope: scope,
            never_expire: forever,
            ..lifetimes
        };
        self
    }

    /// Sets who must use PKCE.
    pub fn pkce(mut self, pkce: PkceRequirement) -> Self {
        self.config.pkce = pkce;
        self
    }

    /// Whether refresh tokens of confidential clients rotate on every use (default true,
    /// RFC 9700 §4.14.2). Public clients' refresh tokens always rotate: RFC 9700 requires
    /// rotation or sender-constraint for them.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.config.rotate_refresh_tokens = rotate;
        self
    }

    /// Answer a replay of a just-rotated refresh token with the same successor for this long
    /// (default none: every replay is reuse, and revokes the family).
    pub fn refresh_grace(mut self, window: Option<Duration>) -> Self {
        self.config.refresh_grace = window;
        self
    }

    /// Accept the access token in a form body (RFC 6750 §2.2; default true).
    pub fn bearer_in_form(mut self, accept: bool) -> Self {
        self.config.bearer_in_form = accept;
        self
    }

    /// Requires every authorization request to be pushed first (RFC 9126 §5; default false):
    /// one without a `request_uri` is refused with `invalid_request`. A client can require it
    /// for itself with `require_pushed_authorization_requests` (RFC 9126 §6).
    pub fn require_pushed_authorization_requests(mut self, required: bool) -> Self {
        self.config.require_pushed_requests = required;
        self
    }

    /// Requires every authorization request to come in a request object signed with a key of
    /// the client's `jwks` (RFC 9101 §10.5; default false): the `request` parameter, at the
    /// authorization endpoint or pushed. A plain request (or a plain push) is refused with
    /// `invalid_request`; advertised as `require_signed_request_object`. A client can require
    /// it for itself with `require_signed_request_object`. Needs feature `jose`.
    pub fn require_signed_request_objects(mut self, required: bool) -> Self {
        self.config.require_signed_request_objects = required;
        self
    }

    /// Binds the tokens of every client that presents a TLS client certificate at the token
    /// endpoint to that certificate (RFC 8705 §3: `cnf` `x5t#S256`; default false: only the
    /// tokens of clients that registered `tls_client_certificate_bound_access_tokens`). A
    /// request with a DPoP proof is bound to the proof's key instead. Turn it on only where the
    /// resource servers see the client's certificate.
    pub fn certificate_bound_access_tokens(mut self, bound: bool) -> Self {
        self.config.certificate_bound_access_tokens = bound;
        self
    }

    /// Sets the `realm` of `WWW-Authenticate` challenges (default `tessera`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.config.realm = realm.into();
        self
    }

    /// Sets the request size bounds.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Sets the endpoint paths.
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.config.endpoints = endpoints;
        self
    }

    /// Sets the mTLS endpoint aliases (RFC 8705 §5), advertised as `mtls_endpoint_aliases`:
    /// see [`MtlsEndpointAliases`].
    pub fn mtls_endpoint_aliases(mut self, aliases: MtlsEndpointAliases) -> Self {
        self.config.mtls_aliases = Some(aliases);
        self
    }

    /// Sets the registration policy (default closed).
    pub fn registration(mut self, policy: RegistrationPolicy) -> Self {
        self.config.registration = policy;
        self
    }

    /// Sets the wire dialect.
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.config.dialect = dialect;
        self
    }

    /// Sets the device flow settings.
    pub fn device(mut self, device: DeviceConfig) -> Self {
        self.config.device = device;
        self
    }

    /// Lets `actor` exchange access tokens issued to `subject` (RFC 8693 §5: the server decides
    /// who may exchange what). Without a trust, a client may exchange only tokens issued to
    /// itself (to narrow them), and tokens a host [`crate::SubjectTokenValidator`] vouches for.
    /// The issued token joins the subject token's grant: revoking either revokes both, and it
    /// never outlives the subject token.
    pub fn trust_exchange(mut self, subject: ClientId, actor: ClientId) -> Self {
        if !self
            .config
            .exchange_trust
            .contains(&(subject.clone(), actor.clone()))
        {
            self.config.exchange_trust.push((subject, actor));
        }
        self
    }

    /// Registers a resource server tokens may be issued for (RFC 8707); see [`Resource`].
    /// Registering an identifier again replaces the earlier registration.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.config.resources.retain(|r| r.id != resource.id);
        self.config.resources.push(resource);
        self
    }

    /// Issues access tokens in `format`: [`AccessTokenFormat::Jwt`] makes every access token
    /// an RFC 9068 JWT signed with the provider's keys
    /// ([`ProviderBuilder::signing_keys`](crate::ProviderBuilder::signing_keys)), which
    /// resource servers elsewhere can verify offline; see [`crate::jwt_access`].
    pub fn access_token_format(mut self, format: AccessTokenFormat) -> Self {
        self.config.access_token_format = format;
        self
    }

    /// How long a client that registered itself (the RFC 7591 endpoint, or a client ID
    /// metadata document) may go unused before it expires (default 24 hours,
    /// [`Config::DEFAULT_UNUSED_CLIENT_EXPIRY`]; `None`: never). Self-registered clients pile
    /// up (an MCP client registers on every install); one that never obtained an
    /// authorization or a token in this time is then treated as unknown (`invalid_client`)
    /// and removed by [`crate::Provider::sweep`]. Its first authorization or token makes it
    /// permanent. Clients the host registers ([`crate::Provider::register_client`]) expire
    /// only if asked ([`crate::ClientRegistration::with_unused_expiry`]). This is not RFC
    /// 7591's `client_secret_expires_at`, which is about the secret and stays 0.
    pub fn unused_client_expiry(mut self, expiry: Option<Duration>) -> Self {
        self.config.unused_client_expiry = expiry;
        self
    }

    /// Follows a security profile: turns on what it requires now (so call it first, then
    /// adjust what the profile leaves open), and makes [`ConfigBuilder::build`] refuse any later
    /// setting that contradicts it. See [`SecurityProfile`].
    ///
    /// ```
    /// use tessera::{Config, ConfigError, ScopeSet, SecurityProfile};
    /// let fapi = Config::builder("https://bank.example.com")
    ///     .security_profile(SecurityProfile::Fapi2)
    ///     .scopes(ScopeSet::parse("accounts")?);
    /// let config = fapi.clone().build()?;
    /// assert!(config.pushed_requests_required());
    /// assert!(config.lifetimes().code <= time::Duration::seconds(60));
    /// // Turning pushed requests back off contradicts the profile.
    /// assert!(matches!(
    ///     fapi.require_pushed_authorization_requests(false).build(),
    ///     Err(ConfigError::Profile(_))
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn security_profile(mut self, profile: SecurityProfile) -> Self {
        profile.apply(&mut self.config);
        self.config.profile = Some(profile);
        self
    }

    /// Opts into weakened defaults; see [`crate::danger`].
    pub fn danger(mut self, danger: Danger) -> Self {
        self.config.lifetimes.never_expire = danger.never_expire;
        self.config
            .lifetimes
            .never_expiring_scope
            .clone_from(&danger.never_expiring_scope);
        self.config.danger = danger;
        self
    }

    /// Checks the configuration and returns it.
    pub fn build(self) -> Result<Config, ConfigError> {
        let config = self.config;
        check_issuer(&config.issuer)?;
        let setting = |ok: bool, why: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Setting(why))
            }
        };
        setting(
            config.default_scopes.is_subset(&config.scopes),
            "default_scopes must be offered scopes",
        )?;
        let l = &config.lifetimes;
        let positive = |d: Duration| d > Duration::ZERO;
        setting(
            positive(l.code) && l.code <= Duration::minutes(10),
            "the code lifetime must be positive and at most 10 minutes (RFC 6749 §4.1.2)",
        )?;
        setting(
            positive(l.access_token)
                && positive(l.refresh_token)
                && positive(l.refresh_family)
                && positive(l.device_code),
            "every lifetime must be positive",
        )?;
        setting(
            !config.require_pushed_requests || config.endpoints.pushed_authorization.is_some(),
            "requiring pushed authorization requests needs the pushed authorization request endpoint",
        )?;
        setting(
            !config.require_signed_request_objects || cfg!(feature = "jose"),
            "requiring signed request objects needs feature jose",
        )?;
        setting(
            positive(l.pushed_request) && l.pushed_request <= Duration::minutes(10),
            "the pushed request lifetime must be positive and at most 10 minutes",
        )?;
        setting(
            config
                .refresh_grace
                .is_none_or(|g| positive(g) && g <= Duration::minutes(5)),
            "the refresh grace window must be positive and at most 5 minutes",
        )?;
        setting(
            config.unused_client_expiry.is_none_or(positive),
            "the unused client expiry must be positive",
        )?;
        setting(
            config.device.interval >= 1,
            "the device polling interval must be at least 1 second",
        )?;
        setting(
            config.device.user_code_len >= 8 && config.device.user_code_len <= 32,
            "device user codes must have 8 to 32 characters",
        )?;
        setting(
            config.endpoints.paths().all(|p| {
                p.starts_with('/') && !p.contains(['?', '#']) && !p.contains(char::is_whitespace)
            }),
            "endpoint paths must start with '/' and have no query, fragment or space",
        )?;
        // Routers read `{..}`, `:name` and `*name` as captures (axum refuses to mount the
        // last two), so such a path could not be served where the metadata says it is.
        let issuer_path = url::Url::parse(&config.issuer)
            .map(|url| url.path().to_owned())
            .unwrap_or_default();
        setting(
            config
                .endpoints
                .paths()
                .chain([issuer_path.as_str()])
                .all(|p| {
                    !p.contains(['{', '}']) && !p.split('/').any(|s| s.starts_with([':', '*']))
                }),
            "the issuer's and endpoints' paths must have no braces and no segment starting with ':' or '*'",
        )?;
        setting(
            config
                .endpoints
                .paths()
                .all(|p| p != "/.well-known" && !p.starts_with("/.well-known/")),
            "endpoint paths must not be under /.well-known/ (RFC 8615), where the metadata is",
        )?;
        let mut paths: Vec<&str> = config.endpoints.paths().collect();
        paths.sort_unstable();
        setting(
            paths.windows(2).all(|pair| pair[0] != pair[1]),
            "two endpoints have the same path",
        )?;
        setting(
            config
                .dialect
                .default_grant_type
                .is_none_or(|g| config.grant_enabled(g)),
            "the dialect's default grant type must be enabled",
        )?;
        setting(
            config
                .dialect
                .grant_type_aliases
                .iter()
                .all(|(_, g)| config.grant_enabled(*g)),
            "a dialect grant type alias names a disabled grant",
        )?;
        setting(
            !config.grant_enabled(GrantType::RefreshToken)
                || config.grant_enabled(GrantType::AuthorizationCode)
                || config.grant_enabled(GrantType::DeviceCode),
            "the refresh_token grant needs the authorization_code or device grant to issue refresh tokens",
        )?;
        if let Some(aliases) = &config.mtls_aliases {
            for (_, alias, path) in aliases.entries(&config.endpoints) {
                let Some(alias) = alias else { continue };
                setting(
                    path.is_some(),
                    "an mTLS endpoint alias names an endpoint the configuration does not have",
                )?;
                check_absolute_url(alias).map_err(|_| {
                    ConfigError::Setting(
                        "an mTLS endpoint alias must be an https URL (http only on a loopback host) with a host, no query, fragment or user information, in canonical form",
                    )
                })?;
            }
        }
        if let Some(profile) = config.profile {
            profile.check(&config)?;
        }
        for registered in &config.resources {
            resource::check_id(&registered.id)?;
            if registered
                .scopes
                .as_ref()
                .is_some_and(|s| !s.is_subset(&config.scopes))
            {
                return Err(ConfigError::Resource(
                    "a resource's scopes must be offered scopes",
                ));
            }
        }
        Ok(config)
    }
}

/// An absolute endpoint URL, by the rules of the issuer (RFC 8414 §2) but for the trailing
/// slash: `https` (or `http` on a loopback host), a host, no query, fragment or user info, in
/// canonical form.
fn check_absolute_url(text: &str) -> Result<(), ConfigError> {
    check_url(text, false)
}

/// An issuer identifier: `https` (or `http` on a loopback host), a host, an optional path, no
/// query, fragment, user info or trailing slash (RFC 8414 §2).
fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    check_url(issuer, true)
}

fn check_url(issuer: &str, is_issuer: bool) -> Result<(), ConfigError> {
    let refuse = ConfigError::Issuer;
    let url = url::Url::parse(issuer).map_err(|_| refuse("not an absolute URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(refuse("it has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(refuse("http is allowed only on a loopback host; use https")),
        _ => return Err(refuse("the scheme must be https")),
    }
    if issuer.contains('?') || issuer.contains('#') {
        return Err(refuse("it must have no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("it must have no user information"));
    }
    if is_issuer && issuer.ends_with('/') {
        return Err(refuse(
            "it must not end with '/' (the identifier is compared exactly)",
        ));
    }
    // The text is what clients compare; it must be the URL's own serialisation (no
    // upper-case host, default port or dot segments that the URL parser would rewrite).
    let canonical = url.as_str();
    let canonical = if url.path() == "/" {
        canonical.trim_end_matches('/')
    } else {
        canonical
    };
    if canonical != issuer {
        return Err(refuse(
            "it must be written in canonical form (lower-case host, no default port, no dot segments)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_follow_rfc8414() {
        for good in [
            "https://auth.example.com",
            "https://auth.example.com/tenant/a",
            "https://auth.example.com:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:3000",
        ] {
            assert!(Config::builder(good).build().is_ok(), "{good}");
        }
        for bad in [
            "http://auth.example.com",
            "ftp://auth.example.com",
            "https://auth.example.com?x=1",
            "https://auth.example.com#frag",
            "https://auth.example.com/",
            "https://user@auth.example.com",
            "https://AUTH.example.com",
            "https://auth.example.com:443",
            "https://auth.example.com/a/../b",
            "auth.example.com",
            "",
        ] {
            assert!(
                matches!(Config::builder(bad).build(), Err(ConfigError::Issuer(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let base = || Config::builder("https://a.example");
        let scopes = ScopeSet::parse("a b").unwrap_or_default();
        assert!(
            base()
                .default_scopes(ScopeSet::parse("a").unwrap_or_default())
                .build()
                .is_err(),
            "defaults must be offered"
        );
        assert!(
            base()
                .scopes(scopes.clone())
                .default_scopes(ScopeSet::parse("a").unwrap_or_default())
                .build()
                .is_ok()
        );
        assert!(
            base()
                .lifetimes(Lifetimes::default().with_code(Duration::minutes(11)))
                .build()
                .is_err()
        );
        assert!(
            base()
                .lifetimes(Lifetimes::default().with_access_token(Duration::ZERO))
                .build()
                .is_err()
        );
        assert!(
            base()
                .device(DeviceConfig::default().with_user_code_len(6))
                .build()
                .is_err()
        );
        assert!(
            base()
                .endpoints(Endpoints::default().with_token("token"))
                .build()
                .is_err()
        );
        for (endpoints, why) in [
            (
                Endpoints::default().with_revocation(Some("/token")),
                "two endpoints at one path",
            ),
            (
                Endpoints::default().with_token("/oauth/:token"),
                "a router capture",
            ),
            (
                Endpoints::default().with_token("/*token"),
                "a router wildcard",
            ),
            (Endpoints::default().with_token("/{token}"), "braces"),
            (
                Endpoints::default().with_token("/.well-known/token"),
                "the well-known space",
            ),
        ] {
            assert!(base().endpoints(endpoints).build().is_err(), "{why}");
        }
        assert!(
            Config::builder("https://a.example/:tenant")
                .build()
                .is_err(),
            "an issuer path no router can mount"
        );
        assert!(
            base()
                .endpoints(Endpoints::default().with_token("/oauth/token:v2"))
                .build()
                .is_ok(),
            "a colon inside a segment is plain text"
        );
        assert!(
            base()
                .dialect(Dialect::default().with_default_grant_type(GrantType::ClientCredentials))
                .build()
                .is_err(),
            "a default grant type that is not enabled"
        );
        assert!(
            base()
                .grant_types([GrantType::RefreshToken])
                .build()
                .is_err()
        );
    }

    #[test]
    fn the_default_grant_set_is_explicit_and_small() {
        let config = Config::builder("https://a.example").build();
        let config = config.unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            config.grant_types(),
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert!(!config.registration_open());
        assert!(config.iss_parameter());
        assert!(config.scopes().is_empty());
    }
}
