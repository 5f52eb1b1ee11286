//! Authorization server metadata (RFC 8414), built from what is really configured.

use crate::client::GrantType;
use crate::config::RegistrationPolicy;
use crate::provider::Provider;
use crate::response::Response;

/// The endpoints a provider serves, as paths below its issuer: what the metadata advertises,
/// and so what a router mounts (`None`: neither advertised nor served).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Advertised<'a> {
    pub(crate) authorization: &'a str,
    pub(crate) token: &'a str,
    pub(crate) revocation: Option<&'a str>,
    pub(crate) introspection: Option<&'a str>,
    /// Only when someone may register: open, or with an initial access token.
    pub(crate) registration: Option<&'a str>,
    /// Only with the device grant enabled.
    pub(crate) device_authorization: Option<&'a str>,
    /// The page of the device flow's `verification_uri`, with the device authorization endpoint
    /// only. (Read by the `axum` feature's router, which mounts the host's page there.)
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) device_verification: Option<&'a str>,
}

impl Provider {
    /// The endpoints this provider, as configured, serves.
    pub(crate) fn advertised(&self) -> Advertised<'_> {
        let config = self.config();
        let endpoints = &config.endpoints;
        let registration_reachable =
            config.registration_open() || config.registration != RegistrationPolicy::Closed;
        let device = config.grant_enabled(GrantType::DeviceCode);
        let device_authorization = endpoints.device_authorization.as_deref().filter(|_| device);
        Advertised {
            authorization: &endpoints.authorization,
            token: &endpoints.token,
            revocation: endpoints.revocation.as_deref(),
            introspection: endpoints.introspection.as_deref(),
            registration: endpoints
                .registration
                .as_deref()
                .filter(|_| registration_reachable),
            device_authorization,
            // Handed out only by the device authorization endpoint.
            device_verification: device_authorization
                .map(|_| endpoints.device_verification.as_str()),
        }
    }

    /// The metadata document: every endpoint, grant type, authentication method, PKCE method and
    /// scope listed is one that this provider, as configured, actually serves.
    pub(crate) fn metadata(&self) -> serde_json::Value {
        let config = self.config();
        let endpoints = self.advertised();
        let enabled = |g: GrantType| config.grant_enabled(g);
        let mut doc = serde_json::Map::new();
        let mut put = |name: &str, value: serde_json::Value| {
            doc.insert(name.to_owned(), value);
        };
        put("issuer", config.issuer().into());
        put(
            "authorization_endpoint",
            config.endpoint_url(endpoints.authorization).into(),
        );
        put(
            "token_endpoint",
            config.endpoint_url(endpoints.token).into(),
        );
        if let Some(path) = endpoints.revocation {
            put("revocation_endpoint", config.endpoint_url(path).into());
            put("revocation_endpoint_auth_methods_supported", auth_methods());
        }
        if let Some(path) = endpoints.introspection {
            put("introspection_endpoint", config.endpoint_url(path).into());
            put(
                "introspection_endpoint_auth_methods_supported",
                auth_methods(),
            );
        }
        if let Some(path) = endpoints.registration {
            put("registration_endpoint", config.endpoint_url(path).into());
        }
        if let Some(path) = endpoints.device_authorization {
            put(
                "device_authorization_endpoint",
                config.endpoint_url(path).into(),
            );
        }
        let code = enabled(GrantType::AuthorizationCode);
        put(
            "response_types_supported",
            if code {
                serde_json::json!(["code"])
            } else {
                serde_json::json!([])
            },
        );
        put("response_modes_supported", serde_json::json!(["query"]));
        let grants: Vec<&str> = config.grant_types.iter().map(|g| g.as_str()).collect();
        put("grant_types_supported", grants.into());
        let pkce: Vec<&str> = if config.danger.plain_pkce {
            vec!["S256", "plain"]
        } else {
            vec!["S256"]
        };
        put("code_challenge_methods_supported", pkce.into());
        put("token_endpoint_auth_methods_supported", auth_methods());
        if !config.scopes.is_empty() {
            let scopes: Vec<&str> = config.scopes.iter().map(|s| s.as_str()).collect();
            put("scopes_supported", scopes.into());
        }
        put(
            "authorization_response_iss_parameter_supported",
            config.iss_parameter().into(),
        );
        if self.cx().client_metadata_documents().is_some() {
            put("client_id_metadata_document_supported", true.into());
        }
        // RFC 9449 §5.1.
        #[cfg(feature = "jose")]
        if let Some(policy) = self.cx().dpop() {
            put(
                "dpop_signing_alg_values_supported",
                policy.algorithm_names().into(),
            );
        }
        serde_json::Value::Object(doc)
    }

    /// The metadata document as a response, for `/.well-known/oauth-authorization-server`.
    pub fn metadata_response(&self) -> Response {
        let mut response = Response::json(200, &self.metadata());
        // Public and the same for everyone: caching is fine (RFC 8414 sets no rule).
        response.headers.retain(|(name, _)| *name == "content-type");
        response.with_header("cache-control", "public, max-age=300")
    }
}

fn auth_methods() -> serde_json::Value {
    serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
}
