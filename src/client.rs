//! Clients: identifiers, types, grant types, the stored record and how a client authenticates.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ErrorCode, OAuthError};
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;
use crate::secret::{SecretHash, TokenHash};
use crate::shared_str::SharedStr;

/// A client identifier (RFC 6749 §2.2): 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "SharedStr")]
pub struct ClientId(SharedStr);

impl ClientId {
    /// The longest client ID accepted.
    pub const MAX_LEN: usize = 255;

    /// Validates a client ID.
    pub fn new(id: impl Into<String>) -> Result<Self, OAuthError> {
        let id = id.into();
        if id.is_empty()
            || id.len() > Self::MAX_LEN
            || !id.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(OAuthError::invalid_request(
                "client_id must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(id.into()))
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for ClientId {
    type Error = OAuthError;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> Self {
        id.0.as_str().to_owned()
    }
}

impl From<ClientId> for SharedStr {
    fn from(id: ClientId) -> Self {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The resource owner a grant acts for, as the host application identifies its users.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(SharedStr);

impl UserId {
    /// Wraps the host's user identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into().into())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::exhaustive_enums)] // RFC 6749 §2.1 defines exactly these two
pub enum ClientType {
    /// A server-side application that authenticates with a secret.
    Confidential,
    /// A native or browser application that cannot keep a secret; PKCE protects its codes.
    Public,
}

/// A grant type, with its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    #[serde(rename = "authorization_code")]
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    #[serde(rename = "refresh_token")]
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4).
    #[serde(rename = "client_credentials")]
    ClientCredentials,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// Every grant type tessera implements.
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
        Self::TokenExchange,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// HTTP Basic with the form-encoded client ID and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
    /// No authentication: a public client.
    None,
    /// A JWT signed with a key of the client's registered `jwks` (RFC 7523 §2.2, OpenID
    /// Connect Core §9). The client has no secret.
    PrivateKeyJwt,
    /// A JWT signed with HS256 keyed by the client's secret (RFC 7523 §2.2, OpenID Connect
    /// Core §9). Offered only with
    /// [`ProviderBuilder::client_secret_jwt_key`](crate::ProviderBuilder::client_secret_jwt_key):
    /// the secret is derived from that key, never stored (its stored form is
    /// [`SecretHash::Derived`]).
    ClientSecretJwt,
    /// Mutual TLS with a certificate from a PKI (RFC 8705 §2.1): the host's TLS layer
    /// validated its chain, and the certificate matches the one subject value the client
    /// registered (`tls_client_auth_subject_dn`, `_san_dns`, `_san_uri`, `_san_ip` or
    /// `_san_email`, [`ClientMetadata`]). The client has no secret.
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate (RFC 8705 §2.2): the certificate's public key
    /// is one of the client's registered `jwks`. The client has no secret.
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::ClientSecretBasic,
            Self::ClientSecretPost,
            Self::None,
            Self::PrivateKeyJwt,
            Self::ClientSecretJwt,
            Self::TlsClientAuth,
            Self::SelfSignedTlsClientAuth,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
    }

    /// Whether a client of this method authenticates with a secret (then it has one).
    pub const fn uses_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }
}

/// A registered client, as stores keep it. The secret is only ever a [`SecretHash`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Client {
    /// The client's identifier.
    pub id: ClientId,
    /// The name shown on consent screens and in the user's list of applications.
    pub name: String,
    /// The application's home page.
    pub homepage: Option<String>,
    /// Registered redirect URIs, matched by the provider's [`crate::RedirectPolicy`].
    pub redirect_uris: Vec<RedirectUri>,
    /// The grant types this client may use; `authorization_code` implies `refresh_token`.
    pub grant_types: Vec<GrantType>,
    /// The scopes this client may be granted; `None` means any scope the provider offers.
    pub scopes: Option<ScopeSet>,
    /// Confidential or public.
    pub client_type: ClientType,
    /// How the client authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// The hash of the client's secret (confidential clients).
    #[serde(with = "secret_hash_serde")]
    pub secret: Option<SecretHash>,
    /// The hash of the RFC 7592 registration access token, for dynamically registered clients.
    pub registration_token: Option<TokenHash>,
    /// When the client was registered.
    #[serde(with = "time::serde::timestamp")]
    pub created_at: OffsetDateTime,
    /// Further registration metadata (RFC 7591 §2: `logo_uri`, `contacts`, ...).
    #[serde(default)]
    pub metadata: ClientMetadata,
    /// Whether the client is described by its client ID metadata document (its ID is the
    /// document's URL): the provider refreshes it from the document and refuses it when the
    /// document is gone (see [`crate::cimd`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub metadata_document: bool,
    /// For a client registered by itself (RFC 7591, or a client ID metadata document) and not
    /// yet used: when it expires unless it is used first ([`crate::ConfigBuilder::unused_client_expiry`]).
    /// From then on it is treated as unknown, and [`crate::Provider::sweep`] removes it. The
    /// provider clears the mark (once, [`crate::store::ClientStore::touch_client`]) at the
    /// client's first authorization or token. `None`: the client never expires this way.
    /// Unrelated to RFC 7591's `client_secret_expires_at`, which is about the secret.
    #[serde(
        default,
        with = "time::serde::timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub unused_until: Option<OffsetDateTime>,
}

impl Client {
    /// A client with no redirect URIs, the `authorization_code` grant, any scope, and (for a
    /// confidential one) no secret yet: add one with [`Client::with_secret`].
    pub fn new(
        id: ClientId,
        name: impl Into<String>,
        client_type: ClientType,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            homepage: None,
            redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: None,
            client_type,
            auth_method: match client_type {
                ClientType::Confidential => AuthMethod::ClientSecretBasic,
                ClientType::Public => AuthMethod::None,
            },
            secret: None,
            registration_token: None,
            created_at,
            metadata: ClientMetadata::default(),
            metadata_document: false,
            unused_until: None,
        }
    }

    /// Whether the client has expired unused at `now` ([`Client::unused_until`] has come):
    /// the provider then treats it as unknown.
    pub fn is_expired_unused(&self, now: OffsetDateTime) -> bool {
        self.unused_until.is_some_and(|at| now >= at)
    }

    /// The same client, expiring at `at` unless it is used first (see [`Client::unused_until`]).
    pub fn with_unused_until(mut self, at: OffsetDateTime) -> Self {
        self.unused_until = Some(at);
        self
    }

    /// The host of the client's metadata document, for a consent page to show who is asking
    /// (`None` unless [`Client::metadata_document`]).
    pub fn metadata_document_host(&self) -> Option<String> {
        if !self.metadata_document {
            return None;
        }
        url::Url::parse(self.id.as_str())
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
    }

    /// Sets the redirect URIs.
    pub fn with_redirect_uris(mut self, uris: Vec<RedirectUri>) -> Self {
        self.redirect_uris = uris;
        self
    }

    /// Sets the allowed grant types.
    pub fn with_grant_types(mut self, grants: Vec<GrantType>) -> Self {
        self.grant_types = grants;
        self
    }

    /// Restricts the scopes the client may be granted.
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Sets the secret hash.
    pub fn with_secret(mut self, secret: SecretHash) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Sets the home page.
    pub fn with_homepage(mut self, homepage: impl Into<String>) -> Self {
        self.homepage = Some(homepage.into());
        self
    }

    /// Sets the token endpoint authentication method.
    pub fn with_auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// Whether the client may use `grant` (`authorization_code` implies `refresh_token`).
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
            || (grant == GrantType::RefreshToken
                && self.grant_types.contains(&GrantType::AuthorizationCode))
    }

    /// Whether the client is public.
    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }

    /// `unauthorized_client` unless the client may use `grant`.
    pub fn check_grant(&self, grant: GrantType) -> Result<(), OAuthError> {
        if self.allows_grant(grant) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client is not allowed the {} grant", grant.as_str()),
            ))
        }
    }
}

/// Registration metadata kept with a client as given (RFC 7591 §2), checked at registration:
/// the URLs are `https` URLs, the strings display safely.
///
/// Stored as a JSON object with these members, so a record written with fewer of them reads
/// back with the rest empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// `logo_uri`: the client's logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `tos_uri`: the client's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`: the client's privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `contacts`: people responsible for the client (usually e-mail addresses).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// `software_id`: the client software's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`: the client software's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `application_type` (OpenID Connect Dynamic Client Registration §2), if the client gave
    /// one: it decides which redirect URIs it may register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
    /// `id_token_signed_response_alg` (OpenID Connect Dynamic Registration §2): the algorithm
    /// of the client's ID tokens (`RS256`, the default, `ES256`, `EdDSA` or `PS256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// `userinfo_signed_response_alg` (OpenID Connect Dynamic Registration §2, Core §5.3.2):
    /// the userinfo endpoint answers this client with a JWT (`application/jwt`, with `iss`
    /// and `aud`) signed with this algorithm (`RS256`, `ES256`, `EdDSA` or `PS256`); `None`: plain JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// `subject_type` (OpenID Connect Dynamic Registration §2, Core §8): `pairwise` gives the
    /// client its own `sub` for each user (see [`SubjectType`](crate::SubjectType)); `None`
    /// is `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<crate::SubjectType>,
    /// `post_logout_redirect_uris` (OpenID Connect RP-Initiated Logout 1.0 §3.1): where
    /// [`Provider::end_session`](crate::Provider::end_session) may send the browser, matched
    /// exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0 §2.2): where the host
    /// POSTs the logout tokens of [`Provider::backchannel_logout`](crate::Provider::backchannel_logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `require_pushed_authorization_requests` (RFC 9126 §6): the client's authorization
    /// requests are refused unless pushed first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): the client's token requests are refused
    /// without a DPoP proof, so that each of its tokens is bound to a key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// `jwks` (RFC 7591 §2): the client's public keys, by value; a
    /// [`AuthMethod::PrivateKeyJwt`] client signs its assertions with one of them. Checked at
    /// registration: public keys only, each of an algorithm tessera verifies.
    #[cfg(feature = "jose")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<crate::jose::JwkSet>,
    /// `token_endpoint_auth_signing_alg` (RFC 7591 §2): the only algorithm the client's
    /// assertions may use (`RS256`, `ES256`, `EdDSA` or `PS256`); without it, the algorithm of the key
    /// the assertion names. `HS256`, and only that, for a [`AuthMethod::ClientSecretJwt`]
    /// client (registration sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    /// `request_object_signing_alg` (RFC 9101 §10.5, OpenID Connect Dynamic Registration §2):
    /// the only algorithm the client's request objects may use (`RS256`, `ES256`, `EdDSA` or
    /// `PS256`); without it, the algorithm of the key of its `jwks` the object names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    /// `require_signed_request_object` (RFC 9101 §10.5): the client's authorization requests
    /// are refused unless they come in a request object (the `request` parameter, at the
    /// authorization endpoint or pushed), signed with a key of its `jwks`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_request_object: bool,
    /// `tls_client_auth_subject_dn` (RFC 8705 §2.1.2): a [`AuthMethod::TlsClientAuth`]
    /// client's certificate subject DN, in the RFC 4514 form of
    /// [`crate::ClientCertificate::subject_dn`], compared exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth_san_dns`: a `dNSName` the certificate must carry (compared without
    /// regard to ASCII case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth_san_uri`: a `uniformResourceIdentifier` the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth_san_ip`: an `iPAddress` the certificate must carry (IPv4 dotted or
    /// IPv6 text, compared as addresses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth_san_email`: an `rfc822Name` the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4): the client's access
    /// tokens (and a public client's refresh tokens) are bound to the certificate it presents
    /// at the token endpoint.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

/// The kind of application a client is (OpenID Connect Dynamic Client Registration §2,
/// RFC 8252), which bounds its redirect URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApplicationType {
    /// A web application: `https` redirect URIs on a host other than a loopback one only.
    Web,
    /// A native application (RFC 8252): private-use schemes, `http` on a loopback address, or
    /// claimed `https` URLs.
    Native,
}

impl ApplicationType {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Web, Self::Native]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

impl ClientMetadata {
    /// Sets `tls_client_auth_subject_dn` (RFC 4514 form, see
    /// [`crate::ClientCertificate::subject_dn`]).
    pub fn with_tls_client_auth_subject_dn(mut self, dn: impl Into<String>) -> Self {
        self.tls_client_auth_subject_dn = Some(dn.into());
        self
    }

    /// Sets `tls_client_auth_san_dns`.
    pub fn with_tls_client_auth_san_dns(mut self, name: impl Into<String>) -> Self {
        self.tls_client_auth_san_dns = Some(name.into());
        self
    }

    /// Sets `tls_client_auth_san_uri`.
    pub fn with_tls_client_auth_san_uri(mut self, uri: impl Into<String>) -> Self {
        self.tls_client_auth_san_uri = Some(uri.into());
        self
    }

    /// Sets `tls_client_auth_san_ip`.
    pub fn with_tls_client_auth_san_ip(mut self, ip: impl Into<String>) -> Self {
        self.tls_client_auth_san_ip = Some(ip.into());
        self
    }

    /// Sets `tls_client_auth_san_email`.
    pub fn with_tls_client_auth_san_email(mut self, email: impl Into<String>) -> Self {
        self.tls_client_auth_san_email = Some(email.into());
        self
    }

    /// Sets `tls_client_certificate_bound_access_tokens`.
    pub fn with_tls_client_certificate_bound_access_tokens(mut self, bound: bool) -> Self {
        self.tls_client_certificate_bound_access_tokens = bound;
        self
    }

    /// Sets `require_pushed_authorization_requests`.
    pub fn with_require_pushed_authorization_requests(mut self, required: bool) -> Self {
        self.require_pushed_authorization_requests = required;
        self
    }

    /// Sets `dpop_bound_access_tokens`.
    pub fn with_dpop_bound_access_tokens(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens = required;
        self
    }

    /// Sets `id_token_signed_response_alg`.
    pub fn with_id_token_signed_response_alg(mut self, alg: impl Into<String>) -> Self {
        self.id_token_signed_response_alg = Some(alg.into());
        self
    }

    /// Sets `userinfo_signed_response_alg`.
    pub fn with_userinfo_signed_response_alg(mut self, alg: impl Into<String>) -> Self {
        self.userinfo_signed_response_alg = Some(alg.into());
        self
    }

    /// Sets `subject_type`.
    pub fn with_subject_type(mut self, subject_type: crate::SubjectType) -> Self {
        self.subject_type = Some(subject_type);
        self
    }

    /// Sets `backchannel_logout_uri`.
    pub fn with_backchannel_logout_uri(mut self, uri: impl Into<String>) -> Self {
        self.backchannel_logout_uri = Some(uri.into());
        self
    }

    /// Sets `post_logout_redirect_uris`.
    pub fn with_post_logout_redirect_uris(mut self, uris: Vec<String>) -> Self {
        self.post_logout_redirect_uris = uris;
        self
    }

    /// Sets `jwks`, the client's public keys.
    #[cfg(feature = "jose")]
    pub fn with_jwks(mut self, jwks: crate::jose::JwkSet) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Sets `token_endpoint_auth_signing_alg`.
    pub fn with_token_endpoint_auth_signing_alg(mut self, alg: impl Into<String>) -> Self {
        self.token_endpoint_auth_signing_alg = Some(alg.into());
        self
    }

    /// Sets `request_object_signing_alg`.
    pub fn with_request_object_signing_alg(mut self, alg: impl Into<String>) -> Self {
        self.request_object_signing_alg = Some(alg.into());
        self
    }

    /// Sets `require_signed_request_object`.
    pub fn with_require_signed_request_object(mut self, required: bool) -> Self {
        self.require_signed_request_object = required;
        self
    }

    /// Sets `logo_uri`.
    pub fn with_logo_uri(mut self, uri: impl Into<String>) -> Self {
        self.logo_uri = Some(uri.into());
        self
    }

    /// Sets `tos_uri`.
    pub fn with_tos_uri(mut self, uri: impl Into<String>) -> Self {
        self.tos_uri = Some(uri.into());
        self
    }

    /// Sets `policy_uri`.
    pub fn with_policy_uri(mut self, uri: impl Into<String>) -> Self {
        self.policy_uri = Some(uri.into());
        self
    }

    /// Sets `contacts`.
    pub fn with_contacts(mut self, contacts: Vec<String>) -> Self {
        self.contacts = contacts;
        self
    }

    /// Sets `application_type`.
    pub fn with_application_type(mut self, application_type: ApplicationType) -> Self {
        self.application_type = Some(application_type);
        self
    }

    /// Sets `software_id` and `software_version`.
    pub fn with_software(mut self, id: impl Into<String>, version: Option<&str>) -> Self {
        self.software_id = Some(id.into());
        self.software_version = version.map(str::to_owned);
        self
    }
}

mod secret_hash_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secret::SecretHash;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<SecretHash>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(hash) => s.serialize_some(&hash.encode()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SecretHash>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => SecretHash::decode(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("unknown secret hash format")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_bounded_visible_ascii() {
        assert!(ClientId::new("abcdef").is_ok());
        for bad in ["", "a b", "a\u{0}", "é", &"x".repeat(256)] {
            assert!(ClientId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorization_code_implies_refresh() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let id = ClientId::new("c").unwrap_or_else(|_| unreachable!());
        let client = Client::new(id, "C", ClientType::Public, now);
        assert!(client.allows_grant(GrantType::RefreshToken));
        assert!(!client.allows_grant(GrantType::ClientCredentials));
        let error = client
            .check_grant(GrantType::ClientCredentials)
            .expect_err("not allowed");
        assert_eq!(error.code, ErrorCode::UnauthorizedClient);
        assert_eq!(client.auth_method, AuthMethod::None);
    }

    #[test]
    fn grant_types_round_trip() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
            let json = serde_json::to_string(&grant).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", grant.as_str()));
        }
        assert_eq!(GrantType::parse("password"), None);
    }

    #[test]
    fn client_serde_round_trip_keeps_only_the_hash() {
        let id = ClientId::new("c").unwrap_or_else(|_| unreachable!());
        let secret = crate::ClientSecret::new("tsr_cs_super_secret");
        let client = Client::new(
            id,
            "C",
            ClientType::Confidential,
            OffsetDateTime::UNIX_EPOCH,
        )
        .with_secret(SecretHash::fast(&secret));
        let json = serde_json::to_string(&client).unwrap_or_default();
        assert!(!json.contains("super_secret"));
        let back: Client = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, client);
    }
}
