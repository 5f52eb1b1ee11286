//! Client registration: the host's typed API (its admin pages), import of existing clients,
//! dynamic registration (RFC 7591) and client configuration (RFC 7592).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::audit::AuditEvent;
use crate::client::{
    ApplicationType, AuthMethod, Client, ClientId, ClientMetadata, ClientType, GrantType,
};
use crate::config::RegistrationPolicy;
use crate::endpoint::authorization_header::AuthorizationHeader;
use crate::error::{AdminError, ErrorCode, OAuthError, StoreError};
use crate::provider::Provider;
use crate::redirect::RedirectUri;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::secret::{ClientSecret, RegistrationAccessToken, SecretHash, TokenHash};

/// What to register: the metadata of RFC 7591 §2 that tessera acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientRegistration {
    /// The name users see.
    pub name: String,
    /// The application's home page.
    pub homepage: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types (default `authorization_code`).
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may be granted (`None`: any offered).
    pub scopes: Option<ScopeSet>,
    /// Token endpoint authentication; [`AuthMethod::None`] makes a public client.
    pub auth_method: AuthMethod,
    /// Other metadata kept as given (contacts, logo_uri, ...), checked at registration.
    pub metadata: ClientMetadata,
    /// How long the client may go unused before it expires ([`Client::unused_until`]):
    /// `None` (the default for clients the host registers) never. Self-registration sets it
    /// from [`crate::ConfigBuilder::unused_client_expiry`].
    pub unused_expiry: Option<time::Duration>,
}

impl ClientRegistration {
    /// The longest client name accepted, in characters.
    pub const MAX_NAME_LEN: usize = 200;
    /// The most redirect URIs one client may register.
    pub const MAX_REDIRECT_URIS: usize = 20;

    /// A confidential web client with one redirect URI.
    pub fn new(name: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            homepage: None,
            redirect_uris: vec![redirect_uri.into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: None,
            auth_method: AuthMethod::ClientSecretBasic,
            metadata: ClientMetadata::default(),
            unused_expiry: None,
        }
    }

    /// Makes the client expire if it is not used within `expiry` of its registration (see
    /// [`Client::unused_until`]).
    pub fn with_unused_expiry(mut self, expiry: time::Duration) -> Self {
        self.unused_expiry = Some(expiry);
        self
    }

    /// Sets the home page.
    pub fn with_homepage(mut self, url: impl Into<String>) -> Self {
        self.homepage = Some(url.into());
        self
    }

    /// Sets the other metadata kept with the client (checked at registration).
    pub fn with_metadata(mut self, metadata: ClientMetadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the grant types.
    pub fn with_grant_types(mut self, grants: Vec<GrantType>) -> Self {
        self.grant_types = grants;
        self
    }

    /// Sets the allowed scopes.
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Sets the authentication method ([`AuthMethod::None`] for a public client).
    pub fn with_auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = method;
        self
    }

    /// Sets the redirect URIs.
    pub fn with_redirect_uris(mut self, uris: Vec<String>) -> Self {
        self.redirect_uris = uris;
        self
    }
}

/// A client just registered. The secret and registration token are here once: only their
/// hashes are stored, so they can never be read back.
#[derive(Debug)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// The stored record.
    pub client: Client,
    /// The client secret (confidential clients).
    pub secret: Option<ClientSecret>,
    /// The RFC 7592 registration access token (dynamically registered clients).
    pub registration_token: Option<RegistrationAccessToken>,
}

fn metadata_error(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

/// Checks one redirect URI for registration: absolute, no fragment, and `https`, `http` on a
/// loopback host (any host with [`crate::danger::allow_http_redirects`]), or a private-use
/// scheme for native apps (RFC 8252 §7).
fn registrable_redirect(text: &str, allow_http: bool) -> Result<RedirectUri, OAuthError> {
    let invalid = |why: &str| {
        OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!("redirect URI refused: {why}"),
        )
    };
    let uri = RedirectUri::parse(text).map_err(|e| invalid(&e.to_string()))?;
    let url = uri.url();
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
                || uri.is_loopback_http();
            if !loopback && !allow_http {
                return Err(invalid(
                    "http is allowed only for loopback hosts; use https",
                ));
            }
        }
        _ if url.host().is_some() && url.scheme().len() < 3 => {
            return Err(invalid("unknown scheme"));
        }
        _ => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("user information is not allowed"));
    }
    if uri.carries_response_params() {
        return Err(invalid(
            "the query must not name a parameter the authorization response adds (code, state, iss, error, ...)",
        ));
    }
    Ok(uri)
}

/// Characters that render as nothing, or reorder what follows: bidirectional controls and
/// overrides, zero-width and other invisible format characters, Hangul fillers and tag
/// characters. A client name carrying one can pass for another on a consent page ("Goo\u{202E}
/// elgoog" or a name padded with zero-width spaces).
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

/// A display string of the client's metadata: trimmed, not blank, bounded, and free of
/// characters that let it pose as another (RFC 7591 §5 warns of consent-page spoofing).
fn display_text(field: &str, value: &str, max: usize) -> Result<String, OAuthError> {
    let text = value.trim();
    if text.is_empty() {
        return Err(metadata_error(format!("{field} is blank")));
    }
    if text.chars().count() > max {
        return Err(metadata_error(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if text.chars().any(is_deceptive) {
        return Err(metadata_error(format!(
            "{field} has control, bidirectional or invisible characters"
        )));
    }
    Ok(text.to_owned())
}

/// A URL of the client's metadata (`client_uri`, `logo_uri`, `tos_uri`, `policy_uri`): an
/// absolute `https` URL with a host and no user info (`http` only on a loopback host, or
/// anywhere with [`crate::danger::Danger::allow_http_redirects`]); never `javascript:`,
/// `data:` or anything a browser would run or render inline.
fn metadata_url(field: &str, value: &str, allow_http: bool) -> Result<String, OAuthError> {
    let refuse = || {
        metadata_error(format!(
            "{field} must be an absolute https URL with a host and no user information"
        ))
    };
    if value.len() > RedirectUri::MAX_LEN
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(refuse());
    }
    let url = url::Url::parse(value).map_err(|_| refuse())?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(refuse()),
    };
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => loopback || allow_http,
        _ => false,
    };
    if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse());
    }
    Ok(value.to_owned())
}

/// Checks the kept RFC 7591 §2 fields: URLs are URLs, display strings display safely, lists
/// are bounded.
fn checked_metadata(
    metadata: &ClientMetadata,
    allow_http: bool,
) -> Result<ClientMetadata, OAuthError> {
    let url = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| metadata_url(name, text, allow_http))
            .transpose()
    };
    let text = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| display_text(name, text, ClientRegistration::MAX_NAME_LEN))
            .transpose()
    };
    if metadata.contacts.len() > 10 {
        return Err(metadata_error("contacts has more than 10 entries"));
    }
    if metadata.post_logout_redirect_uris.len() > 10 {
        return Err(metadata_error(
            "post_logout_redirect_uris has more than 10 entries",
        ));
    }
    let post_logout_redirect_uris = metadata
        .post_logout_redirect_uris
        .iter()
        .map(|uri| {
            if uri.contains('#') {
                return Err(metadata_error(
                    "a post_logout_redirect_uri must not have a fragment",
                ));
            }
            metadata_url("a post_logout_redirect_uri", uri, allow_http)
        })
        .collect::<Result<_, _>>()?;
    let backchannel_logout_uri = match metadata.backchannel_logout_uri.as_deref() {
        Some(uri) if uri.contains('#') => {
            return Err(metadata_error(
                "the backchannel_logout_uri must not have a fragment",
            ));
        }
        Some(uri) => Some(metadata_url("the backchannel_logout_uri", uri, allow_http)?),
        None => None,
    };
    let token_endpoint_auth_signing_alg = match metadata.token_endpoint_auth_signing_alg.as_deref()
    {
        None => None,
        // HS256 only for a client_secret_jwt client: `check_assertion_keys` checks the method.
        Some(alg @ ("RS256" | "ES256" | "EdDSA" | "PS256" | "HS256")) => Some(alg.to_owned()),
        Some(_) => {
            return Err(metadata_error(
                "token_endpoint_auth_signing_alg must be RS256, ES256, EdDSA or PS256 (HS256 for client_secret_jwt)",
            ));
        }
    };
    let request_object_signing_alg = match metadata.request_object_signing_alg.as_deref() {
        None => None,
        Some(alg @ ("RS256" | "ES256" | "EdDSA" | "PS256")) => Some(alg.to_owned()),
        Some(_) => {
            return Err(metadata_error(
                "request_object_signing_alg must be RS256, ES256, EdDSA or PS256 (unsigned request objects are refused)",
            ));
        }
    };
    let subject = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|text| display_text(name, text, 1024))
            .transpose()
    };
    let tls_client_auth_san_ip = match metadata.tls_client_auth_san_ip.as_deref() {
        None => None,
        Some(ip) => Some(
            ip.parse::<std::net::IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| {
                    metadata_error("tls_client_auth_san_ip must be an IPv4 or IPv6 address")
                })?,
        ),
    };
    Ok(ClientMetadata {
        #[cfg(feature = "jose")]
        jwks: metadata.jwks.clone(),
        tls_client_auth_subject_dn: subject(
            "tls_client_auth_subject_dn",
            &metadata.tls_client_auth_subject_dn,
        )?,
        tls_client_auth_san_dns: subject(
            "tls_client_auth_san_dns",
            &metadata.tls_client_auth_san_dns,
        )?,
        tls_client_auth_san_uri: subject(
            "tls_client_auth_san_uri",
            &metadata.tls_client_auth_san_uri,
        )?,
        tls_client_auth_san_ip,
        tls_client_auth_san_email: subject(
            "tls_client_auth_san_email",
            &metadata.tls_client_auth_san_email,
        )?,
        tls_client_certificate_bound_access_tokens: metadata
            .tls_client_certificate_bound_access_tokens,
        token_endpoint_auth_signing_alg,
        request_object_signing_alg,
        require_signed_request_object: metadata.require_signed_request_object,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        logo_uri: url("logo_uri", &metadata.logo_uri)?,
        tos_uri: url("tos_uri", &metadata.tos_uri)?,
        policy_uri: url("policy_uri", &metadata.policy_uri)?,
        contacts: metadata
            .contacts
            .iter()
            .map(|c| display_text("a contact", c, 320))
            .collect::<Result<_, _>>()?,
        software_id: text("software_id", &metadata.software_id)?,
        software_version: text("software_version", &metadata.software_version)?,
        application_type: metadata.application_type,
        subject_type: metadata.subject_type,
        userinfo_signed_response_alg: match metadata.userinfo_signed_response_alg.as_deref() {
            None => None,
            Some(alg @ ("RS256" | "ES256" | "EdDSA" | "PS256")) => Some(alg.to_owned()),
            Some(_) => {
                return Err(metadata_error(
                    "userinfo_signed_response_alg must be RS256, ES256, EdDSA or PS256",
                ));
            }
        },
        require_pushed_authorization_requests: metadata.require_pushed_authorization_requests,
        dpop_bound_access_tokens: metadata.dpop_bound_access_tokens,
        id_token_signed_response_alg: match metadata.id_token_signed_response_alg.as_deref() {
            None => None,
            Some(alg @ ("RS256" | "ES256" | "EdDSA" | "PS256")) => Some(alg.to_owned()),
            Some(_) => {
                return Err(metadata_error(
                    "id_token_signed_response_alg must be RS256, ES256, EdDSA or PS256",
                ));
            }
        },
    })
}

/// The redirect rules of an `application_type` (OpenID Connect Dynamic Client Registration
/// §2, RFC 8252 §7): a web client uses `https` on a host other than a loopback one; a native
/// one a private-use scheme, `http` on a loopback address, or a claimed `https` URL.
fn application_redirect(kind: ApplicationType, uri: &RedirectUri) -> Result<(), OAuthError> {
    let url = uri.url();
    let loopback_host = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let refused = |why: &str| {
        Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            format!("redirect URI refused: {why}"),
        ))
    };
    match kind {
        ApplicationType::Web if url.scheme() != "https" => {
            refused("a web application's redirect URIs must be https")
        }
        ApplicationType::Web if loopback_host => {
            refused("a web application's redirect URIs must not be on a loopback host")
        }
        ApplicationType::Native if url.scheme() == "http" && !uri.is_loopback_http() => {
            refused("a native application may use http only on a loopback address")
        }
        _ => Ok(()),
    }
}

/// The kept fields of a registration request, read with their types checked: a field of the
/// wrong type is `invalid_client_metadata`, never silently dropped.
fn metadata_of(
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<ClientMetadata, OAuthError> {
    let string = |name: &str| -> Result<Option<String>, OAuthError> {
        match extra.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(metadata_error(format!("{name} must be a string"))),
        }
    };
    let contacts = match extra.get("contacts") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| metadata_error("contacts must be an array of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(metadata_error("contacts must be an array of strings")),
    };
    let application_type = string("application_type")?
        .map(|name| {
            ApplicationType::parse(&name)
                .ok_or_else(|| metadata_error("application_type must be web or native"))
        })
        .transpose()?;
    let post_logout_redirect_uris = match extra.get("post_logout_redirect_uris") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|uri| {
                uri.as_str().map(str::to_owned).ok_or_else(|| {
                    metadata_error("post_logout_redirect_uris must be an array of strings")
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(metadata_error(
                "post_logout_redirect_uris must be an array of strings",
            ));
        }
    };
    // Sessions (`sid`) are not tracked: a client that needs them cannot be served.
    match extra.get("backchannel_logout_session_required") {
        None | Some(serde_json::Value::Null | serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => {
            return Err(metadata_error(
                "backchannel_logout_session_required is not supported: logout tokens carry no sid",
            ));
        }
        Some(_) => {
            return Err(metadata_error(
                "backchannel_logout_session_required must be a boolean",
            ));
        }
    }
    // OIDC Core §8.1: the sector would come from a document fetched from the client; the
    // sector here is always the host of the redirect URIs.
    if extra
        .get("sector_identifier_uri")
        .is_some_and(|v| !v.is_null())
    {
        return Err(metadata_error(
            "sector_identifier_uri is not supported by this server; a pairwise client's sector is the host of its redirect_uris",
        ));
    }
    let subject_type = string("subject_type")?
        .map(|name| {
            crate::SubjectType::parse(&name)
                .ok_or_else(|| metadata_error("subject_type must be public or pairwise"))
        })
        .transpose()?;
    if extra.get("jwks_uri").is_some_and(|v| !v.is_null()) {
        return Err(metadata_error(
            "jwks_uri is not supported by this server; register the public keys by value in jwks",
        ));
    }
    #[cfg(feature = "jose")]
    let jwks = match extra.get("jwks") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(registered_jwks(value)?),
    };
    #[cfg(not(feature = "jose"))]
    if extra.get("jwks").is_some_and(|v| !v.is_null()) {
        return Err(metadata_error("jwks is not supported by this server"));
    }
    Ok(ClientMetadata {
        #[cfg(feature = "jose")]
        jwks,
        token_endpoint_auth_signing_alg: string("token_endpoint_auth_signing_alg")?,
        request_object_signing_alg: string("request_object_signing_alg")?,
        require_signed_request_object: match extra.get("require_signed_request_object") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(required)) => *required,
            Some(_) => {
                return Err(metadata_error(
                    "require_signed_request_object must be a boolean",
                ));
            }
        },
        post_logout_redirect_uris,
        backchannel_logout_uri: string("backchannel_logout_uri")?,
        logo_uri: string("logo_uri")?,
        tos_uri: string("tos_uri")?,
        policy_uri: string("policy_uri")?,
        contacts,
        software_id: string("software_id")?,
        software_version: string("software_version")?,
        application_type,
        subject_type,
        userinfo_signed_response_alg: string("userinfo_signed_response_alg")?,
        id_token_signed_response_alg: string("id_token_signed_response_alg")?,
        tls_client_auth_subject_dn: string("tls_client_auth_subject_dn")?,
        tls_client_auth_san_dns: string("tls_client_auth_san_dns")?,
        tls_client_auth_san_uri: string("tls_client_auth_san_uri")?,
        tls_client_auth_san_ip: string("tls_client_auth_san_ip")?,
        tls_client_auth_san_email: string("tls_client_auth_san_email")?,
        tls_client_certificate_bound_access_tokens: match extra
            .get("tls_client_certificate_bound_access_tokens")
        {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(bound)) => *bound,
            Some(_) => {
                return Err(metadata_error(
                    "tls_client_certificate_bound_access_tokens must be a boolean",
                ));
            }
        },
        require_pushed_authorization_requests: match extra
            .get("require_pushed_authorization_requests")
        {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(required)) => *required,
            Some(_) => {
                return Err(metadata_error(
                    "require_pushed_authorization_requests must be a boolean",
                ));
            }
        },
        dpop_bound_access_tokens: match extra.get("dpop_bound_access_tokens") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(required)) => *required,
            Some(_) => {
                return Err(metadata_error("dpop_bound_access_tokens must be a boolean"));
            }
        },
    })
}

/// A client's `jwks` (RFC 7591 §2): a JWK Set of 1 to 64 public signing keys, every one of
/// them usable here (a key this server would skip is refused, so that the client learns now
/// rather than at its first assertion), none with a private member.
#[cfg(feature = "jose")]
fn registered_jwks(value: &serde_json::Value) -> Result<crate::jose::JwkSet, OAuthError> {
    use crate::jose::{JwkError, JwkSet};
    let listed = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| metadata_error("jwks must be a JWK Set: an object with a keys array"))?;
    let set = JwkSet::from_value(value).map_err(|error| match error {
        JwkError::PrivateMember(member) => metadata_error(format!(
            "jwks has a key with the private member {member}; register public keys only"
        )),
        JwkError::DuplicateKid => metadata_error("jwks has two keys with the same kid"),
        JwkError::TooManyKeys => metadata_error("jwks has more than 64 keys"),
        _ => metadata_error("jwks has a malformed key"),
    })?;
    if set.keys().len() != listed {
        return Err(metadata_error(
            "jwks has a key this server cannot verify with: RS256 and PS256 (RSA 2048 to 8192 bits), ES256 (P-256) and EdDSA (Ed25519) signature keys only",
        ));
    }
    if set.is_empty() {
        return Err(metadata_error("jwks has no keys"));
    }
    Ok(set)
}

/// RFC 8705 §2.1.2: a `tls_client_auth` client registers exactly one subject value, and
/// only such a client registers any; a `self_signed_tls_client_auth` client (§2.2) its
/// certificates' keys in `jwks`.
fn check_certificate_metadata(
    method: AuthMethod,
    metadata: &ClientMetadata,
) -> Result<(), OAuthError> {
    let any_subject = metadata.tls_client_auth_subject_dn.is_some()
        || metadata.tls_client_auth_san_dns.is_some()
        || metadata.tls_client_auth_san_uri.is_some()
        || metadata.tls_client_auth_san_ip.is_some()
        || metadata.tls_client_auth_san_email.is_some();
    match method {
        AuthMethod::TlsClientAuth => {
            crate::mtls::registered_subject(metadata).map_err(metadata_error)?;
        }
        _ if any_subject => {
            return Err(metadata_error(
                "the tls_client_auth_* subject metadata are for tls_client_auth clients only",
            ));
        }
        AuthMethod::SelfSignedTlsClientAuth => {
            #[cfg(feature = "jose")]
            let keys = metadata.jwks.as_ref().is_some_and(|set| !set.is_empty());
            #[cfg(not(feature = "jose"))]
            let keys = false;
            if !keys {
                return Err(metadata_error(
                    "self_signed_tls_client_auth needs the public keys of the client's certificates in jwks",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn random_id(provider: &Provider) -> String {
    let mut bytes = [0u8; 16];
    provider.cx().entropy().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Provider {
    /// A `private_key_jwt` client needs its keys (RFC 7523 §2.2), and a registered
    /// `token_endpoint_auth_signing_alg` a key of that algorithm; so do a client requiring
    /// signed request objects and a registered `request_object_signing_alg` (RFC 9101 §10.5).
    /// A `client_secret_jwt` client needs the provider's key, and signs with HS256 only;
    /// no other client may name HS256.
    fn check_assertion_keys(
        &self,
        method: AuthMethod,
        metadata: &ClientMetadata,
    ) -> Result<(), OAuthError> {
        let hs256 = metadata.token_endpoint_auth_signing_alg.as_deref() == Some("HS256");
        if method == AuthMethod::ClientSecretJwt {
            if !self.cx().offers_client_secret_jwt() {
                return Err(metadata_error(
                    "client_secret_jwt is not offered by this server (it has no client_secret_jwt key, or its profile refuses symmetric client authentication); use private_key_jwt",
                ));
            }
            if metadata.token_endpoint_auth_signing_alg.is_some() && !hs256 {
                return Err(metadata_error(
                    "a client_secret_jwt client's token_endpoint_auth_signing_alg must be HS256",
                ));
            }
        } else if hs256 {
            return Err(metadata_error(
                "token_endpoint_auth_signing_alg HS256 is for client_secret_jwt clients only; use RS256, ES256, EdDSA or PS256",
            ));
        }
        #[cfg(feature = "jose")]
        {
            let algorithms: Vec<&str> = metadata
                .jwks
                .iter()
                .flat_map(|set| set.keys())
                .map(|key| key.algorithm().as_str())
                .collect();
            if method == AuthMethod::PrivateKeyJwt && algorithms.is_empty() {
                return Err(metadata_error(
                    "private_key_jwt needs the client's public keys in jwks",
                ));
            }
            if let Some(alg) = metadata.token_endpoint_auth_signing_alg.as_deref()
                && method == AuthMethod::PrivateKeyJwt
                && !algorithms.contains(&alg)
            {
                return Err(metadata_error(
                    "token_endpoint_auth_signing_alg names an algorithm no key of jwks has",
                ));
            }
            // Request objects (RFC 9101) are verified with the same keys.
            if metadata.require_signed_request_object && algorithms.is_empty() {
                return Err(metadata_error(
                    "require_signed_request_object needs the client's public keys in jwks",
                ));
            }
            if let Some(alg) = metadata.request_object_signing_alg.as_deref()
                && !algorithms.contains(&alg)
            {
                return Err(metadata_error(
                    "request_object_signing_alg names an algorithm no key of jwks has",
                ));
            }
            Ok(())
        }
        #[cfg(not(feature = "jose"))]
        {
            if method == AuthMethod::PrivateKeyJwt {
                return Err(metadata_error(
                    "private_key_jwt is not supported by this server",
                ));
            }
            if metadata.require_signed_request_object
                || metadata.request_object_signing_alg.is_some()
            {
                return Err(metadata_error(
                    "request objects are not supported by this server",
                ));
            }
            Ok(())
        }
    }

    /// A pairwise client (OIDC Core §8.1) needs the provider's pairwise key and redirect URIs
    /// on one host, its sector.
    fn check_subject_type(
        &self,
        metadata: &ClientMetadata,
        redirect_uris: &[RedirectUri],
    ) -> Result<(), OAuthError> {
        if metadata.subject_type != Some(crate::SubjectType::Pairwise) {
            return Ok(());
        }
        #[cfg(feature = "jose")]
        let enabled = self.cx().pairwise_key().is_some();
        #[cfg(not(feature = "jose"))]
        let enabled = false;
        if !enabled {
            return Err(metadata_error(
                "subject_type pairwise is not supported by this server",
            ));
        }
        if crate::subject::sector(redirect_uris).is_none() {
            return Err(metadata_error(
                "a pairwise client's redirect_uris must all be on one host (sector_identifier_uri is not supported)",
            ));
        }
        Ok(())
    }

    pub(crate) fn build_client(
        &self,
        id: ClientId,
        registration: &ClientRegistration,
    ) -> Result<Client, OAuthError> {
        let config = self.config();
        let allow_http = config.danger.http_redirects;
        // No name at all is allowed (RFC 7591 §2: optional); a name made of nothing, or of
        // characters that disguise it, is not.
        let name = if registration.name.is_empty() {
            String::new()
        } else {
            display_text(
                "client_name",
                &registration.name,
                ClientRegistration::MAX_NAME_LEN,
            )?
        };
        let homepage = registration
            .homepage
            .as_deref()
            .map(|home| metadata_url("client_uri", home, allow_http))
            .transpose()?;
        let metadata = checked_metadata(&registration.metadata, allow_http)?;
        #[cfg(feature = "jose")]
        for alg in [
            metadata.id_token_signed_response_alg.as_deref(),
            metadata.token_endpoint_auth_signing_alg.as_deref(),
            metadata.request_object_signing_alg.as_deref(),
            metadata.userinfo_signed_response_alg.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(crate::jose::Algorithm::from_name)
        {
            if !self.config().profile_allows(alg) {
                return Err(metadata_error(
                    "this server follows FAPI 2.0: RS256 is not allowed; use PS256, ES256 or EdDSA",
                ));
            }
        }
        // An algorithm no key signs with would make every ID token (or signed userinfo
        // response) of the client a 500.
        #[cfg(feature = "jose")]
        for (field, alg) in [
            (
                "id_token_signed_response_alg",
                &metadata.id_token_signed_response_alg,
            ),
            (
                "userinfo_signed_response_alg",
                &metadata.userinfo_signed_response_alg,
            ),
        ] {
            if let (Some(alg), Some(keys)) = (alg.as_deref(), self.cx().keys())
                && !keys
                    .algorithms(self.cx().unix_now())
                    .iter()
                    .any(|signing| signing.as_str() == alg)
            {
                return Err(metadata_error(format!(
                    "{field} names an algorithm this server does not sign with"
                )));
            }
        }
        self.check_assertion_keys(registration.auth_method, &metadata)?;
        check_certificate_metadata(registration.auth_method, &metadata)?;
        if registration.redirect_uris.len() > ClientRegistration::MAX_REDIRECT_URIS {
            return Err(metadata_error("too many redirect_uris"));
        }
        let redirect_uris = registration
            .redirect_uris
            .iter()
            .map(|u| registrable_redirect(u, config.danger.http_redirects))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(kind) = metadata.application_type {
            for uri in &redirect_uris {
                application_redirect(kind, uri)?;
            }
        }
        self.check_subject_type(&metadata, &redirect_uris)?;
        let mut grants = registration.grant_types.clone();
        grants.sort();
        grants.dedup();
        if grants.is_empty() {
            return Err(metadata_error("grant_types is empty"));
        }
        if let Some(disabled) = grants.iter().find(|g| !config.grant_enabled(**g)) {
            return Err(metadata_error(format!(
                "the {} grant is not enabled on this server",
                disabled.as_str()
            )));
        }
        if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidRedirectUri,
                "the authorization_code grant needs redirect_uris",
            ));
        }
        let public = registration.auth_method == AuthMethod::None;
        if public
            && grants
                .iter()
                .any(|g| matches!(g, GrantType::ClientCredentials | GrantType::TokenExchange))
        {
            return Err(metadata_error(
                "a public client cannot use client_credentials or token exchange",
            ));
        }
        if let Some(scopes) = &registration.scopes
            && !scopes.is_subset(&config.scopes)
        {
            return Err(metadata_error(
                "scope names a scope this server does not offer",
            ));
        }
        let client_type = if public {
            ClientType::Public
        } else {
            ClientType::Confidential
        };
        let now = self.now();
        let mut client = Client::new(id, name, client_type, now)
            .with_redirect_uris(redirect_uris)
            .with_grant_types(grants)
            .with_auth_method(registration.auth_method);
        client.homepage = homepage;
        client.scopes = registration.scopes.clone();
        client.metadata = metadata;
        if client.auth_method == AuthMethod::ClientSecretJwt {
            client.metadata.token_endpoint_auth_signing_alg = Some("HS256".to_owned());
        }
        client.unused_until = registration.unused_expiry.map(|d| now.saturating_add(d));
        Ok(client)
    }

    /// Registers a client with a generated ID and (if confidential) a generated secret, shown
    /// once in the result.
    pub async fn register_client(
        &self,
        registration: ClientRegistration,
    ) -> Result<RegisteredClient, AdminError> {
        self.register_inner(registration, false).await
    }

    async fn register_inner(
        &self,
        registration: ClientRegistration,
        with_token: bool,
    ) -> Result<RegisteredClient, AdminError> {
        let id = ClientId::new(random_id(self)).map_err(AdminError::from_registration)?;
        let mut client = self
            .build_client(id, &registration)
            .map_err(AdminError::from_registration)?;
        let (secret, secret_hash) = client
            .auth_method
            .uses_secret()
            .then(|| self.new_secret(&client))
            .transpose()
            .map_err(AdminError::from_registration)?
            .unzip();
        client.secret = secret_hash;
        let (registration_token, token_hash) = with_token
            .then(|| RegistrationAccessToken::generate_hashed(self.cx().entropy()))
            .unzip();
        client.registration_token = token_hash;
        self.cx().store().insert_client(&client).await?;
        self.cx().audit(AuditEvent::ClientRegistered {
            client_id: client.id.clone(),
        });
        Ok(RegisteredClient {
            client,
            secret,
            registration_token,
        })
    }

    /// A new secret for `client`, and the form the store keeps: generated and hashed, or, for
    /// a `client_secret_jwt` client, derived with the provider's key and a fresh salt.
    fn new_secret(&self, client: &Client) -> Result<(ClientSecret, SecretHash), OAuthError> {
        let entropy = self.cx().entropy();
        if client.auth_method != AuthMethod::ClientSecretJwt {
            let (secret, hash) = ClientSecret::generate_hashed(entropy);
            return Ok((secret, SecretHash::Sha256(hash)));
        }
        #[cfg(feature = "jose")]
        if let Some(keys) = self.cx().client_secret_keys() {
            return Ok(keys.issue(&client.id, entropy));
        }
        Err(metadata_error(
            "client_secret_jwt is not offered by this server (it has no client_secret_jwt key)",
        ))
    }

    /// Imports a client from another system with its existing ID and secret. The secret's
    /// entropy is unknown, so it is kept with Argon2id (see [`SecretHash`]).
    pub async fn import_client(
        &self,
        id: ClientId,
        secret: Option<ClientSecret>,
        registration: ClientRegistration,
    ) -> Result<Client, AdminError> {
        let mut client = self
            .build_client(id, &registration)
            .map_err(AdminError::from_registration)?;
        if client.auth_method == AuthMethod::ClientSecretJwt {
            return Err(AdminError::InvalidMetadata(
                "a client_secret_jwt client's secret is derived by the provider and cannot be imported: register it, or import it with another method and move it with a new secret"
                    .into(),
            ));
        }
        client.secret = match (&secret, client.auth_method.uses_secret()) {
            (Some(secret), true) => Some(SecretHash::slow(secret, self.cx().entropy())),
            (None, false) => None,
            _ => {
                return Err(AdminError::InvalidMetadata(
                    "a client authenticating with a secret needs one, and a public or private_key_jwt client must not have one"
                        .into(),
                ));
            }
        };
        self.cx()
            .store()
            .insert_client(&client)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => AdminError::ClientExists,
                other => other.into(),
            })?;
        self.cx().audit(AuditEvent::ClientRegistered {
            client_id: client.id.clone(),
        });
        Ok(client)
    }

    /// Replaces a confidential client's secret with a new generated one, returned once. The old
    /// secret stops working at once. A `client_secret_jwt` client's new secret is derived with
    /// a new salt under the current
    /// [`client_secret_jwt_key`](crate::ProviderBuilder::client_secret_jwt_key).
    pub async fn rotate_client_secret(&self, id: &ClientId) -> Result<ClientSecret, AdminError> {
        let client = self.client(id).await?.ok_or(AdminError::UnknownClient)?;
        if client.is_public() {
            return Err(AdminError::PublicClient);
        }
        if !client.auth_method.uses_secret() {
            return Err(AdminError::InvalidMetadata(
                "the client authenticates with private_key_jwt: it has no secret".into(),
            ));
        }
        let (secret, hash) = self
            .new_secret(&client)
            .map_err(AdminError::from_registration)?;
        if !self.cx().store().set_client_secret(id, &hash).await? {
            return Err(AdminError::UnknownClient);
        }
        self.cx().audit(AuditEvent::ClientSecretRotated {
            client_id: id.clone(),
        });
        Ok(secret)
    }

    /// Deletes a client and everything issued to it.
    pub async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let deleted = self.cx().store().delete_client(id).await?;
        if deleted {
            self.cx().audit(AuditEvent::ClientDeleted {
                client_id: id.clone(),
            });
        }
        Ok(deleted)
    }

    /// The dynamic client registration endpoint (RFC 7591 §3): a JSON body, and the initial
    /// access token in `authorization` if the policy requires one.
    pub async fn register(&self, body: &[u8], authorization: Option<&str>) -> Response {
        match self.register_dynamic(body, authorization).await {
            Ok(response) => response,
            Err(error) => error.to_response(),
        }
    }

    async fn register_dynamic(
        &self,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<Response, OAuthError> {
        match &self.config().registration {
            _ if self.config().registration_open() => {}
            RegistrationPolicy::Closed => {
                return Err(OAuthError::new(
                    ErrorCode::AccessDenied,
                    "dynamic registration is disabled",
                ));
            }
            RegistrationPolicy::InitialAccessToken(accepted) => {
                let token = bearer_value(authorization).ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidToken,
                        "an initial access token is required",
                    )
                })?;
                let hash = TokenHash::of(token);
                // Every accepted token is compared, so the time taken says nothing of which
                // (or whether one) matched.
                let ok = accepted.iter().fold(false, |ok, a| ok | a.ct_eq(&hash));
                if !ok {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidToken,
                        "the initial access token is not valid",
                    ));
                }
            }
        }
        let registration = self.parse_registration(body)?;
        // Exchange reaches other clients' tokens: only a client the host vouches for gets it
        // (RFC 8693 §5), never one that anyone could register (C1).
        if self.config().registration_open()
            && registration.grant_types.contains(&GrantType::TokenExchange)
        {
            return Err(metadata_error(
                "the token-exchange grant cannot be self-registered",
            ));
        }
        let registered = self.register_inner(registration, true).await?;
        let mut doc = self.client_document(&registered.client);
        if let serde_json::Value::Object(map) = &mut doc {
            if let Some(secret) = &registered.secret {
                map.insert("client_secret".into(), secret.secret().into());
                map.insert("client_secret_expires_at".into(), 0.into());
            }
            if let Some(token) = &registered.registration_token {
                map.insert("registration_access_token".into(), token.secret().into());
            }
        }
        Ok(Response::json(201, &doc))
    }

    pub(crate) fn parse_registration(&self, body: &[u8]) -> Result<ClientRegistration, OAuthError> {
        if body.len() > self.config().limits.max_bytes {
            return Err(metadata_error("the registration request is too large"));
        }
        let raw: RawMetadata = serde_json::from_slice(body)
            // serde_json's message quotes the input; only its position is echoed (the
            // description must stay in the RFC 6749 §5.2 charset).
            .map_err(|e| {
                metadata_error(format!(
                    "the body is not valid client metadata (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
        self.registration_from(raw)
    }

    /// The checks of [`Self::parse_registration`] for metadata already parsed (a client ID
    /// metadata document, bounded by its own limit).
    pub(crate) fn registration_from_value(
        &self,
        value: serde_json::Value,
    ) -> Result<ClientRegistration, OAuthError> {
        let raw: RawMetadata = serde_json::from_value(value)
            .map_err(|_| metadata_error("the document is not valid client metadata"))?;
        self.registration_from(raw)
    }

    fn registration_from(&self, raw: RawMetadata) -> Result<ClientRegistration, OAuthError> {
        let auth_method = match raw.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            // The secret is derived with the provider's key: without one, there is none.
            Some("client_secret_jwt") if !self.cx().offers_client_secret_jwt() => {
                return Err(metadata_error(
                    "client_secret_jwt is not offered by this server (it has no client_secret_jwt key, or its profile refuses symmetric client authentication); use private_key_jwt",
                ));
            }
            Some(name) => AuthMethod::parse(name)
                .ok_or_else(|| metadata_error("unsupported token_endpoint_auth_method"))?,
        };
        // A client the token endpoint would refuse is better refused now.
        if let Some(allowed) = self.config().allowed_auth_methods()
            && !allowed.contains(&auth_method)
        {
            return Err(metadata_error(
                "this server follows FAPI 2.0: token_endpoint_auth_method must be private_key_jwt, tls_client_auth or self_signed_tls_client_auth",
            ));
        }
        let grant_types = match raw.grant_types {
            None => vec![GrantType::AuthorizationCode],
            Some(names) => names
                .iter()
                .map(|n| {
                    GrantType::parse(n).ok_or_else(|| {
                        metadata_error(format!(
                            "unsupported grant type `{}`",
                            crate::params::printable(n)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                // `refresh_token` is implied by `authorization_code` (RFC 7591 §2.1 lists it
                // separately; accept both spellings).
                .collect(),
        };
        if let Some(types) = &raw.response_types {
            let wants_code = grant_types.contains(&GrantType::AuthorizationCode);
            let ok = types.iter().all(|t| t == "code") && (types.is_empty() || wants_code);
            if !ok {
                return Err(metadata_error(
                    "response_types must be [code] with the authorization_code grant",
                ));
            }
        }
        let scopes = raw
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| metadata_error("scope is malformed"))?;
        if raw
            .client_name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(metadata_error("client_name is blank"));
        }
        Ok(ClientRegistration {
            name: raw.client_name.unwrap_or_default(),
            homepage: raw.client_uri,
            redirect_uris: raw.redirect_uris.unwrap_or_default(),
            grant_types,
            scopes,
            auth_method,
            metadata: metadata_of(&raw.extra)?,
            // Metadata arrives here only from a client registering itself.
            unused_expiry: self.config().unused_client_expiry(),
        })
    }

    /// The registered metadata of a client, as RFC 7591 §3.2.1 returns it (without secrets).
    pub(crate) fn client_document(&self, client: &Client) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        doc.insert("client_id".into(), client.id.as_str().into());
        doc.insert(
            "client_id_issued_at".into(),
            client.created_at.unix_timestamp().into(),
        );
        doc.insert("client_name".into(), client.name.clone().into());
        if let Some(home) = &client.homepage {
            doc.insert("client_uri".into(), home.clone().into());
        }
        let uris: Vec<&str> = client
            .redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect();
        doc.insert("redirect_uris".into(), uris.into());
        let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        doc.insert("grant_types".into(), grants.into());
        let code = client.grant_types.contains(&GrantType::AuthorizationCode);
        doc.insert(
            "response_types".into(),
            if code {
                serde_json::json!(["code"])
            } else {
                serde_json::json!([])
            },
        );
        doc.insert(
            "token_endpoint_auth_method".into(),
            client.auth_method.as_str().into(),
        );
        if let Some(scopes) = &client.scopes {
            doc.insert("scope".into(), scopes.to_string().into());
        }
        if let Some(path) = &self.config().endpoints.registration {
            doc.insert(
                "registration_client_uri".into(),
                format!("{}/{}", self.config().endpoint_url(path), client.id).into(),
            );
        }
        if let serde_json::Value::Object(kept) =
            serde_json::to_value(&client.metadata).unwrap_or_default()
        {
            for (name, value) in kept {
                doc.entry(name).or_insert(value);
            }
        }
        serde_json::Value::Object(doc)
    }

    /// The client configuration endpoint (RFC 7592): `method` is `GET`, `PUT` or `DELETE` at
    /// the client's `registration_client_uri`, with its registration access token.
    pub async fn client_configuration(
        &self,
        method: &str,
        client_id: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Response {
        let unauthorized = || {
            Response::json(
                401,
                &OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the registration access token is not valid",
                )
                .to_json(),
            )
            .with_header(
                "www-authenticate",
                format!(
                    "Bearer realm=\"{}\", error=\"invalid_token\"",
                    self.config().realm
                ),
            )
        };
        let Ok(id) = ClientId::new(client_id) else {
            return unauthorized();
        };
        let Some(token) = bearer_value(authorization) else {
            return unauthorized();
        };
        let client = match self.client(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return unauthorized(),
            Err(error) => return OAuthError::from(error).to_response(),
        };
        let presented = TokenHash::of(token);
        let valid = client
            .registration_token
            .is_some_and(|stored| stored.ct_eq(&presented));
        if !valid {
            return unauthorized();
        }
        match method {
            "GET" => Response::json(200, &self.client_document(&client)),
            "DELETE" => match self.delete_client(&id).await {
                Ok(_) => Response {
                    status: 204,
                    headers: vec![("cache-control", "no-store".into())],
                    body: Vec::new(),
                },
                Err(error) => OAuthError::from(error).to_response(),
            },
            "PUT" => match self.update_registration(client, &presented, body).await {
                Ok(Some(doc)) => Response::json(200, &doc),
                // Another update with the same token won the swap: this token is spent.
                Ok(None) => unauthorized(),
                Err(error) => error.to_response(),
            },
            _ => Response::json(
                405,
                &OAuthError::invalid_request("use GET, PUT or DELETE").to_json(),
            ),
        }
    }

    /// RFC 7592 §2.2 update. A successful update rotates the registration access token (the
    /// response carries the new one; the presented one stops working), so that a token seen
    /// once — in a log, a proxy — does not manage the client forever. `None`: a concurrent
    /// update with the same token rotated it first.
    async fn update_registration(
        &self,
        stored: Client,
        presented: &TokenHash,
        body: &[u8],
    ) -> Result<Option<serde_json::Value>, OAuthError> {
        // Bounded before any parsing, like a new registration.
        if body.len() > self.config().limits.max_bytes {
            return Err(metadata_error("the registration request is too large"));
        }
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| metadata_error("the body is not JSON"))?;
        if value.get("client_id").and_then(|v| v.as_str()) != Some(stored.id.as_str()) {
            return Err(OAuthError::invalid_request(
                "client_id must be present and match",
            ));
        }
        if value.get("client_secret").is_some() {
            return Err(metadata_error(
                "client_secret cannot be set; rotate it through the provider",
            ));
        }
        let registration = self.parse_registration(body)?;
        if (registration.auth_method == AuthMethod::None) != stored.is_public() {
            return Err(metadata_error(
                "a client cannot change between public and confidential",
            ));
        }
        if registration.auth_method.uses_secret() && stored.secret.is_none() {
            return Err(metadata_error(
                "the client has no secret to authenticate with; keep private_key_jwt",
            ));
        }
        // A derived secret is not a generated one: neither serves the other method.
        if registration.auth_method.uses_secret()
            && stored.auth_method.uses_secret()
            && (registration.auth_method == AuthMethod::ClientSecretJwt)
                != (stored.auth_method == AuthMethod::ClientSecretJwt)
        {
            return Err(metadata_error(
                "a client cannot change to or from client_secret_jwt: its secret is of another kind; register a new client",
            ));
        }
        let mut client = self.build_client(stored.id.clone(), &registration)?;
        // A client that moves to private_key_jwt drops its secret: it no longer proves anything.
        client.secret = stored
            .secret
            .filter(|_| registration.auth_method.uses_secret());
        client.created_at = stored.created_at;
        // The swap comes first: of updates racing with one token, only its winner writes.
        let (token, token_hash) = RegistrationAccessToken::generate_hashed(self.cx().entropy());
        let store = self.cx().store();
        if !store
            .swap_registration_token(&client.id, presented, &token_hash)
            .await?
        {
            return Ok(None);
        }
        client.registration_token = Some(token_hash);
        let updated = match store.update_client(&client).await {
            Ok(updated) => updated,
            Err(error) => {
                // Nothing was written and the caller never sees the new token: put the
                // presented one back so that it can retry (best effort; a failure here leaves
                // the client managed by the host alone).
                let _ = store
                    .swap_registration_token(&client.id, &token_hash, presented)
                    .await;
                return Err(error.into());
            }
        };
        if !updated {
            return Err(OAuthError::new(
                ErrorCode::InvalidToken,
                "the client no longer exists",
            ));
        }
        self.cx().audit(AuditEvent::ClientUpdated {
            client_id: client.id.clone(),
        });
        let mut doc = self.client_document(&client);
        if let serde_json::Value::Object(map) = &mut doc {
            map.insert("registration_access_token".into(), token.secret().into());
        }
        Ok(Some(doc))
    }
}

#[derive(Deserialize)]
struct RawMetadata {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    scope: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

fn bearer_value(authorization: Option<&str>) -> Option<&str> {
    authorization
        .and_then(AuthorizationHeader::bearer)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_registration_rules() {
        for good in [
            "https://a.example/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth",
        ] {
            assert!(registrable_redirect(good, false).is_ok(), "{good}");
        }
        for bad in [
            "http://a.example/cb",
            "https://a.example/cb#x",
            "https://u:p@a.example/cb",
            "javascript:alert(1)",
            "/cb",
        ] {
            let error = registrable_redirect(bad, false).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
        // danger::allow_http_redirects admits http on any host, and nothing else.
        assert!(registrable_redirect("http://a.example/cb", true).is_ok());
        for bad in ["https://a.example/cb#x", "http://u:p@a.example/cb", "/cb"] {
            assert!(registrable_redirect(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn application_type_bounds_redirect_uris() {
        let uri = |text: &str| registrable_redirect(text, false).unwrap_or_else(|e| panic!("{e}"));
        let web = ApplicationType::Web;
        let native = ApplicationType::Native;
        assert!(application_redirect(web, &uri("https://app.example/cb")).is_ok());
        for bad in [
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "https://localhost/cb",
            "https://127.0.0.1/cb",
            "com.example.app:/oauth",
        ] {
            let error = application_redirect(web, &uri(bad)).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidRedirectUri, "{bad}");
        }
        for good in [
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "com.example.app:/oauth",
            "https://app.example/cb",
        ] {
            assert!(application_redirect(native, &uri(good)).is_ok(), "{good}");
        }
        assert!(application_redirect(native, &uri("http://localhost:3000/cb")).is_err());
        let extra = |value: serde_json::Value| {
            let mut map = serde_json::Map::new();
            map.insert("application_type".into(), value);
            metadata_of(&map)
        };
        assert_eq!(
            extra("native".into())
                .map(|m| m.application_type)
                .ok()
                .flatten(),
            Some(native)
        );
        for bad in [serde_json::json!("desktop"), serde_json::json!(1)] {
            let error = extra(bad).expect_err("refused");
            assert_eq!(error.code, ErrorCode::InvalidClientMetadata);
        }
    }

    #[tokio::test]
    async fn registration_honours_application_type() {
        let config = crate::Config::builder("https://auth.example.com")
            .danger(crate::danger::Danger::new().open_registration())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let provider = Provider::builder(
            config,
            std::sync::Arc::new(crate::store::MemoryStore::new()),
        )
        .build();
        let body = |kind: &str| {
            serde_json::json!({
                "application_type": kind,
                "redirect_uris": ["http://127.0.0.1:4000/cb"],
                "token_endpoint_auth_method": "none",
            })
            .to_string()
        };
        let web = provider.register(body("web").as_bytes(), None).await;
        assert_eq!(web.status, 400);
        let error: serde_json::Value = serde_json::from_slice(&web.body).unwrap_or_default();
        assert_eq!(error["error"], "invalid_redirect_uri");
        let native = provider.register(body("native").as_bytes(), None).await;
        assert_eq!(native.status, 201);
        let doc: serde_json::Value = serde_json::from_slice(&native.body).unwrap_or_default();
        assert_eq!(doc["application_type"], "native");
    }
}
