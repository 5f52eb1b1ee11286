//! Resource servers: the registry of the resources tokens may be issued for (RFC 8707), and the
//! protected resource metadata document each one publishes (RFC 9728).
//!
//! A resource is named by its identifier, an absolute URI without a fragment (RFC 8707 §2). A
//! token requested with `resource` carries the named resources as its audience, and a resource
//! that validates tokens ([`crate::BearerRequest::for_resource`]) refuses a token whose audience
//! does not name it. A token requested without `resource` gets the *default audience*: every
//! resource registered [`Resource::included_by_default`] (the provider's own resources).

use crate::client::ClientId;
use crate::config::ConfigError;
use crate::response::Response;
use crate::scope::ScopeSet;

/// The well-known path prefix of protected resource metadata (RFC 9728 §3).
pub const PROTECTED_RESOURCE_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// A resource server tokens may be issued for (RFC 8707), registered with
/// [`crate::ConfigBuilder::resource`].
///
/// ```
/// use tessera::{ClientId, Config, Resource, ScopeSet};
/// let config = Config::builder("https://auth.example.com")
///     .scopes(ScopeSet::parse("whoami files:read")?)
///     // The provider's own API: in the audience of a token requested without `resource`.
///     .resource(Resource::new("https://auth.example.com/api/me").included_by_default())
///     // Another service, which introspects its tokens with the client `files-rs`.
///     .resource(
///         Resource::new("https://files.example.com/")
///             .with_scopes(ScopeSet::parse("files:read")?)
///             .introspected_by(ClientId::new("files-rs")?),
///     )
///     .build()?;
/// assert!(config.resource("https://files.example.com/").is_some());
/// assert!(Config::builder("https://auth.example.com")
///     .resource(Resource::new("https://files.example.com/#top"))
///     .build()
///     .is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub(crate) id: String,
    pub(crate) scopes: Option<ScopeSet>,
    pub(crate) by_default: bool,
    pub(crate) introspector: Option<ClientId>,
    pub(crate) jwt_access_tokens: bool,
}

impl Resource {
    /// The resource identified by `id`: accepting any scope the provider offers, not in the
    /// default audience, introspected by no one but each token's own client.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            scopes: None,
            by_default: false,
            introspector: None,
            jwt_access_tokens: false,
        }
    }

    /// The resource accepts only these scopes: a request naming it (and no other resource that
    /// accepts the scope) may not ask for any other, except `offline_access` and `openid`,
    /// which concern the authorization server. They must be offered scopes.
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// The resource is in the default audience: the audience of a token requested without
    /// `resource` (typically the provider's own resources).
    pub fn included_by_default(mut self) -> Self {
        self.by_default = true;
        self
    }

    /// The registered client `client` (a confidential client the host registers for the
    /// resource server; its secret is kept only as a hash) may introspect every token whose
    /// audience names this resource (RFC 7662 §2.1), and only those besides its own.
    pub fn introspected_by(mut self, client: ClientId) -> Self {
        self.introspector = Some(client);
        self
    }

    /// Access tokens whose audience names this resource are RFC 9068 JWTs, whatever the
    /// provider's [`crate::AccessTokenFormat`]: for a resource server that verifies tokens
    /// offline ([`crate::jwt_access`]). The provider needs signing keys.
    pub fn with_jwt_access_tokens(mut self) -> Self {
        self.jwt_access_tokens = true;
        self
    }

    /// Whether the resource's access tokens are JWTs ([`Resource::with_jwt_access_tokens`]).
    pub fn has_jwt_access_tokens(&self) -> bool {
        self.jwt_access_tokens
    }

    /// The identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scopes the resource accepts (`None`: any offered scope).
    pub fn scopes(&self) -> Option<&ScopeSet> {
        self.scopes.as_ref()
    }

    /// Whether the resource is in the default audience.
    pub fn is_default(&self) -> bool {
        self.by_default
    }

    /// The client that may introspect the resource's tokens, if any.
    pub fn introspector(&self) -> Option<&ClientId> {
        self.introspector.as_ref()
    }

    /// Whether the resource accepts `scope`.
    pub(crate) fn accepts(&self, scope: &str) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(scope))
    }

    /// The URL of its protected resource metadata (RFC 9728 §3.1).
    pub fn metadata_url(&self) -> String {
        metadata_url(&self.id).unwrap_or_default()
    }
}

/// Refuses an identifier that is not an absolute URI without a fragment (RFC 8707 §2).
pub(crate) fn check_id(id: &str) -> Result<(), ConfigError> {
    let refuse = ConfigError::Resource;
    if id.contains('#') {
        return Err(refuse("a resource identifier must have no fragment"));
    }
    if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(refuse("a resource identifier must have no space"));
    }
    let url =
        url::Url::parse(id).map_err(|_| refuse("a resource identifier must be an absolute URI"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "a resource identifier must have no user information",
        ));
    }
    Ok(())
}

/// The well-known path of the metadata of resource `id` (RFC 9728 §3.1): the well-known prefix
/// followed by the identifier's path (a lone `/` dropped) and query. `None` if `id` is not an
/// absolute URL with a host.
///
/// ```
/// assert_eq!(
///     tessera::protected_resource_metadata_path("https://api.example.com/v1/me").as_deref(),
///     Some("/.well-known/oauth-protected-resource/v1/me")
/// );
/// assert_eq!(
///     tessera::protected_resource_metadata_path("https://api.example.com/").as_deref(),
///     Some("/.well-known/oauth-protected-resource")
/// );
/// ```
pub fn protected_resource_metadata_path(id: &str) -> Option<String> {
    let url = url::Url::parse(id).ok()?;
    url.host_str()?;
    let mut path = String::from(PROTECTED_RESOURCE_WELL_KNOWN);
    let own = url.path();
    if own != "/" {
        path.push_str(own);
    }
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

/// The URL of the metadata of resource `id` (RFC 9728 §3.1), for the `resource_metadata`
/// parameter of a challenge ([`crate::BearerError::with_resource_metadata`]).
pub(crate) fn metadata_url(id: &str) -> Option<String> {
    let url = url::Url::parse(id).ok()?;
    let path = protected_resource_metadata_path(id)?;
    Some(format!("{}{path}", url.origin().ascii_serialization()))
}

/// The protected resource metadata document (RFC 9728 §2). Start from
/// [`crate::Provider::resource_metadata`] for a registered resource (filled from the
/// configuration) or from [`ResourceMetadata::new`].
///
/// ```
/// let document = tessera::ResourceMetadata::new("https://api.example.com/")
///     .with_authorization_server("https://auth.example.com")
///     .with_scopes(&tessera::ScopeSet::parse("read")?)
///     .with_bearer_methods(["header"])
///     .with_documentation("https://api.example.com/docs");
/// let json = document.to_json_string();
/// assert!(json.contains(r#""resource":"https://api.example.com/""#));
/// assert!(json.contains(r#""authorization_servers":["https://auth.example.com"]"#));
/// assert_eq!(document.to_response().status, 200);
/// # Ok::<(), tessera::OAuthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Option<Vec<String>>,
    bearer_methods_supported: Option<Vec<String>>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    resource_policy_uri: Option<String>,
    resource_tos_uri: Option<String>,
}

impl ResourceMetadata {
    /// The document of the resource `resource` (its identifier), with nothing else yet.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
        }
    }

    /// Adds an authorization server (its issuer identifier) to `authorization_servers`.
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// Sets `scopes_supported`.
    pub fn with_scopes(mut self, scopes: &ScopeSet) -> Self {
        self.scopes_supported = Some(scopes.iter().map(|s| s.as_str().to_owned()).collect());
        self
    }

    /// Sets `bearer_methods_supported` (`header`, `body`, `query`; RFC 9728 §2).
    pub fn with_bearer_methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bearer_methods_supported = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `resource_name`, for people.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation`: a URL of documentation for developers.
    pub fn with_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Sets `resource_policy_uri`.
    pub fn with_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_policy_uri = Some(url.into());
        self
    }

    /// Sets `resource_tos_uri`.
    pub fn with_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_tos_uri = Some(url.into());
        self
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    fn to_value(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("resource".into(), self.resource.as_str().into());
        if !self.authorization_servers.is_empty() {
            body.insert(
                "authorization_servers".into(),
                self.authorization_servers.clone().into(),
            );
        }
        let lists = [
            ("scopes_supported", &self.scopes_supported),
            ("bearer_methods_supported", &self.bearer_methods_supported),
        ];
        for (name, list) in lists {
            if let Some(list) = list {
                body.insert(name.into(), list.clone().into());
            }
        }
        let texts = [
            ("resource_name", &self.resource_name),
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ];
        for (name, text) in texts {
            if let Some(text) = text {
                body.insert(name.into(), text.as_str().into());
            }
        }
        serde_json::Value::Object(body)
    }

    /// The JSON document.
    pub fn to_json_string(&self) -> String {
        self.to_value().to_string()
    }

    /// The `200 application/json` response serving the document.
    pub fn to_response(&self) -> Response {
        Response::json(200, &self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_absolute_uris_without_fragments() {
        for good in [
            "https://api.example.com/",
            "https://api.example.com",
            "http://127.0.0.1:8080/mcp",
            "https://api.example.com/v1?tenant=a",
            "urn:example:resource",
        ] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/api/me",
            "api.example.com",
            "https://api.example.com/#x",
            "https://api.example.com/a b",
            "https://user:pw@api.example.com/",
        ] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_metadata_url_inserts_the_well_known_prefix_before_the_path() {
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/mcp").as_deref(),
            Some("http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            metadata_url("https://api.example.com").as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            metadata_url("https://api.example.com/v1?t=a").as_deref(),
            Some("https://api.example.com/.well-known/oauth-protected-resource/v1?t=a")
        );
        assert_eq!(metadata_url("urn:example:resource"), None);
    }
}
