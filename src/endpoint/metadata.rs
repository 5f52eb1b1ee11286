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
    /// Only with signing keys.
    pub(crate) jwks: Option<&'a str>,
    /// Only when the provider speaks OpenID Connect.
    #[cfg_attr(not(feature = "jose"), allow(dead_code))]
    pub(crate) userinfo: Option<&'a str>,
    /// The host's logout page, when the provider speaks OpenID Connect.
    #[cfg_attr(not(any(feature = "jose", feature = "axum")), allow(dead_code))]
    pub(crate) end_session: Option<&'a str>,
    /// The pushed authorization request endpoint (RFC 9126), with the code grant enabled.
    pub(crate) pushed_authorization: Option<&'a str>,
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
            jwks: endpoints.jwks.as_deref().filter(|_| self.has_keys()),
            userinfo: endpoints.userinfo.as_deref().filter(|_| self.cx().openid()),
            end_session: endpoints
                .end_session
                .as_deref()
                .filter(|_| self.cx().openid()),
            pushed_authorization: endpoints
                .pushed_authorization
                .as_deref()
                .filter(|_| config.grant_enabled(GrantType::AuthorizationCode)),
        }
    }

    /// Whether the provider has signing keys.
    fn has_keys(&self) -> bool {
        #[cfg(feature = "jose")]
        return self.cx().keys().is_some();
        #[cfg(not(feature = "jose"))]
        false
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
        let hmac = self.cx().offers_client_secret_jwt();
        if let Some(path) = endpoints.revocation {
            put("revocation_endpoint", config.endpoint_url(path).into());
            put(
                "revocation_endpoint_auth_methods_supported",
                auth_methods(hmac),
            );
            put_assertion_algs(config, hmac, &mut put, "revocation_endpoint");
        }
        if let Some(path) = endpoints.introspection {
            put("introspection_endpoint", config.endpoint_url(path).into());
            put(
                "introspection_endpoint_auth_methods_supported",
                auth_methods(hmac),
            );
            put_assertion_algs(config, hmac, &mut put, "introspection_endpoint");
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
        match config.allowed_auth_methods() {
            Some(allowed) => {
                let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                put("token_endpoint_auth_methods_supported", names.into());
            }
            None => put("token_endpoint_auth_methods_supported", auth_methods(hmac)),
        }
        put_assertion_algs(config, hmac, &mut put, "token_endpoint");
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
        // RFC 8705 §3.3: tokens are bound to the client certificate of clients that ask.
        put("tls_client_certificate_bound_access_tokens", true.into());
        // RFC 8705 §5: the host's mTLS listener, for the endpoints advertised here.
        if let Some(aliases) = config.mtls_endpoint_aliases() {
            let served = [
                Some(endpoints.token),
                endpoints.revocation,
                endpoints.introspection,
                endpoints.pushed_authorization,
                endpoints.userinfo,
                endpoints.device_authorization,
            ];
            let listed: serde_json::Map<String, serde_json::Value> = aliases
                .entries(&config.endpoints)
                .into_iter()
                .zip(served)
                .filter_map(|((name, alias, _), served)| {
                    served.and(alias).map(|url| (name.to_owned(), url.into()))
                })
                .collect();
            if !listed.is_empty() {
                put("mtls_endpoint_aliases", listed.into());
            }
        }
        // RFC 9126 §5.
        if let Some(path) = endpoints.pushed_authorization {
            put(
                "pushed_authorization_request_endpoint",
                config.endpoint_url(path).into(),
            );
        }
        put(
            "require_pushed_authorization_requests",
            config.pushed_requests_required().into(),
        );
        // RFC 9101 §10.5 and OpenID Connect Discovery §3: request objects by value (and
        // pushed); `request_uri` only for this server's own pushed requests, which
        // `pushed_authorization_request_endpoint` announces, never fetched from a URL, so
        // `request_uri_parameter_supported` (whose absence means true) is false.
        #[cfg(feature = "jose")]
        {
            put("request_parameter_supported", true.into());
            let algs: Vec<&str> = crate::jose::Algorithm::ALL
                .iter()
                .map(|alg| alg.as_str())
                .collect();
            put("request_object_signing_alg_values_supported", algs.into());
            if config.signed_request_objects_required() {
                put("require_signed_request_object", true.into());
            }
        }
        #[cfg(not(feature = "jose"))]
        put("request_parameter_supported", false.into());
        put("request_uri_parameter_supported", false.into());
        if let Some(path) = endpoints.jwks {
            put("jwks_uri", config.endpoint_url(path).into());
        }
        #[cfg(feature = "jose")]
        if self.cx().openid() {
            self.openid_metadata(&mut doc, endpoints);
        }
        serde_json::Value::Object(doc)
    }

    /// The OpenID Connect Discovery 1.0 §3 members, added to the RFC 8414 document: the one
    /// document is served at both well-known URLs, so the two cannot disagree.
    #[cfg(feature = "jose")]
    fn openid_metadata(
        &self,
        doc: &mut serde_json::Map<String, serde_json::Value>,
        endpoints: Advertised<'_>,
    ) {
        let config = self.config();
        let mut put = |name: &str, value: serde_json::Value| {
            doc.insert(name.to_owned(), value);
        };
        if let Some(path) = endpoints.userinfo {
            put("userinfo_endpoint", config.endpoint_url(path).into());
        }
        if let Some(path) = endpoints.end_session {
            put("end_session_endpoint", config.endpoint_url(path).into());
        }
        // Back-channel logout 1.0 §2.1: logout tokens for `backchannel_logout_uri`, no `sid`.
        put("backchannel_logout_supported", true.into());
        put("backchannel_logout_session_supported", false.into());
        // OIDC Core §8: pairwise only with the host's pairwise key.
        let subject_types = if self.cx().pairwise_key().is_some() {
            serde_json::json!(["public", "pairwise"])
        } else {
            serde_json::json!(["public"])
        };
        put("subject_types_supported", subject_types);
        let now = self.cx().unix_now();
        let algs: Vec<&str> = self
            .cx()
            .keys()
            .map(|keys| keys.algorithms(now))
            .unwrap_or_default()
            .into_iter()
            .filter(|alg| config.profile_allows(*alg))
            .map(|alg| alg.as_str())
            .collect();
        // OIDC Core §5.3.2: a client may ask for signed userinfo responses, in any of them.
        put("userinfo_signing_alg_values_supported", algs.clone().into());
        put("id_token_signing_alg_values_supported", algs.into());
        let mut claims = vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
        ];
        for (scope, released) in crate::oidc::SCOPE_CLAIMS {
            if config.scopes.contains(scope) {
                claims.extend_from_slice(released);
            }
        }
        put("claims_supported", claims.into());
        put("claims_parameter_supported", true.into());
        put(
            "prompt_values_supported",
            serde_json::json!(["none", "login", "consent", "select_account"]),
        );
        put("claim_types_supported", serde_json::json!(["normal"]));
    }

    /// The OpenID Connect Discovery document, for `/.well-known/openid-configuration`: the
    /// same document as [`Provider::metadata_response`] (with the OpenID members once the
    /// provider speaks OpenID Connect).
    pub fn openid_configuration_response(&self) -> Response {
        self.metadata_response()
    }

    /// The JWK Set (RFC 7517 §5) to serve at `jwks_uri`: the public keys of every next,
    /// active and retired signing key, each with `kid`, `use: sig` and `alg`; cacheable until
    /// the key set next changes (at most five minutes). Empty without signing keys.
    pub fn jwks_response(&self) -> Response {
        #[cfg(feature = "jose")]
        let (body, max_age) = match self.cx().keys() {
            Some(keys) => {
                let now = self.cx().unix_now();
                let until = keys
                    .next_change(now)
                    .map_or(300, |at| (at - now).clamp(0, 300));
                (
                    serde_json::to_value(keys.jwks(now)).unwrap_or_default(),
                    until,
                )
            }
            None => (serde_json::json!({ "keys": [] }), 300),
        };
        #[cfg(not(feature = "jose"))]
        let (body, max_age) = (serde_json::json!({ "keys": [] }), 300);
        let mut response = Response::json(200, &body);
        response.headers.retain(|(name, _)| *name == "content-type");
        response.with_header("cache-control", format!("public, max-age={max_age}"))
    }

    /// The metadata document as a response, for `/.well-known/oauth-authorization-server`.
    pub fn metadata_response(&self) -> Response {
        let mut response = Response::json(200, &self.metadata());
        // Public and the same for everyone: caching is fine (RFC 8414 sets no rule).
        response.headers.retain(|(name, _)| *name == "content-type");
        response.with_header("cache-control", "public, max-age=300")
    }
}

/// The client authentication methods; `client_secret_jwt` when `hmac` (the provider has its
/// key).
fn auth_methods(hmac: bool) -> serde_json::Value {
    #[cfg(feature = "jose")]
    let mut methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "none",
        "private_key_jwt",
        "tls_client_auth",
        "self_signed_tls_client_auth",
    ];
    #[cfg(not(feature = "jose"))]
    let mut methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "none",
        "tls_client_auth",
    ];
    if hmac {
        methods.push("client_secret_jwt");
    }
    methods.into()
}

/// `{endpoint}_auth_signing_alg_values_supported` (RFC 8414 §2): what `private_key_jwt`
/// assertions may be signed with, and HS256 for `client_secret_jwt` ones when `hmac`.
fn put_assertion_algs(
    config: &crate::Config,
    hmac: bool,
    put: &mut impl FnMut(&str, serde_json::Value),
    endpoint: &str,
) {
    #[cfg(feature = "jose")]
    {
        let mut algs: Vec<&str> = crate::jose::Algorithm::ALL
            .iter()
            .filter(|alg| config.profile_allows(**alg))
            .map(|alg| alg.as_str())
            .collect();
        if hmac {
            algs.push("HS256");
        }
        put(
            &format!("{endpoint}_auth_signing_alg_values_supported"),
            algs.into(),
        );
    }
    #[cfg(not(feature = "jose"))]
    let _ = (config, hmac, put, endpoint);
}
