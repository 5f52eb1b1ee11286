//! Bearer token validation for resource servers (RFC 6750): the hottest path in the library.
//!
//! One format check (no storage for a malformed token), one SHA-256, one store lookup.

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::client::{ClientId, UserId};
use crate::endpoint::authorization_header::AuthorizationHeader;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;
use crate::secret::{TokenHash, TokenKind};
use crate::store::{Confirmation, GrantId, TokenRecord, TokenType};

/// Where a resource request may carry its token, as the host received it.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct BearerRequest<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// An `application/x-www-form-urlencoded` body (RFC 6750 §2.2).
    pub form: Option<&'a [u8]>,
    /// The identifier of the resource validating the token ([`BearerRequest::for_resource`]);
    /// `None`: no audience check.
    pub resource: Option<&'a str>,
    /// The `DPoP` header (RFC 9449 §7), with the request's method and absolute URL, which
    /// the proof must name: see [`BearerRequest::with_dpop`].
    pub dpop: Option<DpopParts<'a>>,
    /// The certificate the client presented in the TLS handshake (RFC 8705 §3): a token
    /// bound to a certificate is accepted only with it.
    pub client_certificate: Option<&'a crate::mtls::ClientCertificate>,
}

/// What a resource request's DPoP proof is checked against.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DpopParts<'a> {
    /// The `DPoP` header's value (the host gives an empty value for two or more headers).
    pub proof: &'a str,
    /// The request's HTTP method.
    pub method: &'a str,
    /// The absolute URL the client sent the request to (query and fragment are ignored).
    pub url: &'a str,
}

impl<'a> BearerRequest<'a> {
    /// A request with these parts.
    pub fn new(
        authorization: Option<&'a str>,
        query: Option<&'a str>,
        form: Option<&'a [u8]>,
    ) -> Self {
        Self {
            authorization,
            query,
            form,
            resource: None,
            dpop: None,
            client_certificate: None,
        }
    }

    /// Adds the request's `DPoP` header, method and absolute URL, for tokens sent as
    /// `Authorization: DPoP <token>` (RFC 9449 §7.1).
    pub fn with_dpop(mut self, proof: Option<&'a str>, method: &'a str, url: &'a str) -> Self {
        self.dpop = proof.map(|proof| DpopParts { proof, method, url });
        self
    }

    /// Adds the certificate the client presented in the TLS handshake, for tokens bound to
    /// it (RFC 8705 §3).
    pub fn with_client_certificate(
        mut self,
        certificate: Option<&'a crate::mtls::ClientCertificate>,
    ) -> Self {
        self.client_certificate = certificate;
        self
    }

    /// The request is made to the resource `resource` (its registered identifier, RFC 8707):
    /// a token whose audience does not name it is refused as `invalid_token`. A token without
    /// an audience (issued before resources were registered) passes only at a resource in the
    /// default audience ([`crate::Resource::included_by_default`]).
    ///
    /// ```
    /// let request = tessera::BearerRequest::header("Bearer tsr_at_x").for_resource("https://api.example/");
    /// assert_eq!(request.resource, Some("https://api.example/"));
    /// ```
    pub fn for_resource(mut self, resource: &'a str) -> Self {
        self.resource = Some(resource);
        self
    }

    /// A request with only an `Authorization` header.
    pub fn header(authorization: &'a str) -> Self {
        Self {
            authorization: Some(authorization),
            query: None,
            form: None,
            resource: None,
            dpop: None,
            client_certificate: None,
        }
    }
}

/// The holder of a valid access token: who, for which client, with which scopes.
#[derive(Debug, Clone)]
pub struct Principal {
    record: Arc<TokenRecord>,
}

impl Principal {
    /// The user the token acts for (`None` for client credentials).
    pub fn user(&self) -> Option<&UserId> {
        self.record.user.as_ref()
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> &ClientId {
        &self.record.client_id
    }

    /// The scopes the token carries.
    pub fn scopes(&self) -> &ScopeSet {
        &self.record.scopes
    }

    /// When the token expires (`None`: never).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.record.expires_at
    }

    /// The grant the token belongs to.
    pub fn grant_id(&self) -> &GrantId {
        &self.record.grant_id
    }

    /// The resources the token is meant for (RFC 8707; empty: not restricted to named
    /// resources).
    pub fn audience(&self) -> &[String] {
        &self.record.audience
    }

    /// The OpenID Connect `claims` request the token carries, for userinfo.
    #[cfg_attr(not(feature = "jose"), allow(dead_code))]
    pub(crate) fn claims_request(&self) -> Option<&str> {
        self.record.claims.as_deref()
    }
}

/// Why a resource request was refused; renders the RFC 6750 §3 challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerError {
    /// The error code; `None` when the request had no token at all (a bare challenge).
    pub code: Option<ErrorCode>,
    /// The `error_description`.
    pub description: Option<&'static str>,
    /// The scope the resource needs (for `insufficient_scope`).
    pub scope: Option<String>,
    /// Seconds to wait before retrying, sent as `Retry-After`: set when the store is
    /// unavailable (`temporarily_unavailable`, 503).
    pub retry_after: Option<u64>,
    /// The URL of the resource's protected resource metadata (RFC 9728 §5.1), sent as the
    /// challenge's `resource_metadata`.
    pub resource_metadata: Option<String>,
    /// For a DPoP request or a DPoP-bound token: the `WWW-Authenticate: DPoP` challenge
    /// (RFC 9449 §7.1) that replaces the Bearer one (boxed: it is rare, and keeps the refusal
    /// small on the validation path).
    pub dpop: Option<Box<DpopChallenge>>,
}

/// The parts of a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopChallenge {
    /// `algs`: the proof algorithms accepted, space-separated.
    pub algs: String,
    /// The `DPoP-Nonce` header to send (RFC 9449 §9), when nonces are on.
    pub nonce: Option<String>,
}

impl BearerError {
    pub(crate) fn new(code: ErrorCode, description: &'static str) -> Self {
        Self {
            code: Some(code),
            description: Some(description),
            scope: None,
            retry_after: None,
            resource_metadata: None,
            dpop: None,
        }
    }

    /// A storage fault met while validating: `temporarily_unavailable` (503, with
    /// `Retry-After`) for [`StoreError::Unavailable`], else `server_error` (500). Logged once,
    /// here, as `From<StoreError> for OAuthError` logs.
    pub(crate) fn store(error: StoreError) -> Self {
        let error = OAuthError::from(error);
        let description = if error.retry_after.is_some() {
            "the authorization server is temporarily unavailable; try again shortly"
        } else {
            "the authorization server met an internal error"
        };
        Self {
            retry_after: error.retry_after,
            ..Self::new(error.code, description)
        }
    }

    /// The challenge names the resource's metadata (RFC 9728 §5.1), so that a client can find
    /// the authorization server: `url` is [`crate::Resource::metadata_url`] or
    /// [`crate::Provider::resource_metadata_url`].
    ///
    /// ```
    /// let needed = tessera::ScopeSet::parse("whoami")?;
    /// let refusal = tessera::BearerError::insufficient_scope(&needed)
    ///     .with_resource_metadata("https://api.example/.well-known/oauth-protected-resource");
    /// assert!(refusal.challenge("x").ends_with(
    ///     r#", resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
    /// ));
    /// # Ok::<(), tessera::OAuthError>(())
    /// ```
    pub fn with_resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// `insufficient_scope` naming `required` (403), for a host that refuses a valid token on
    /// grounds of its own, such as a user-only resource reached with a client-credentials token.
    ///
    /// ```
    /// let needed = tessera::ScopeSet::parse("whoami")?;
    /// let refusal = tessera::BearerError::insufficient_scope(&needed);
    /// assert_eq!(refusal.status(), 403);
    /// assert!(refusal.challenge("x").contains(r#"error="insufficient_scope", "#));
    /// assert!(refusal.challenge("x").ends_with(r#"scope="whoami""#));
    /// # Ok::<(), tessera::OAuthError>(())
    /// ```
    pub fn insufficient_scope(required: &ScopeSet) -> Self {
        Self {
            code: Some(ErrorCode::InsufficientScope),
            description: Some("the access token lacks a required scope"),
            scope: Some(required.to_string()),
            retry_after: None,
            resource_metadata: None,
            dpop: None,
        }
    }

    /// 401 for a request without a token, else the code's status ([`ErrorCode::status`]):
    /// 400 (`invalid_request`), 401 (`invalid_token`), 403 (`insufficient_scope`), 503
    /// (`temporarily_unavailable`: the store is unavailable for now) or 500 (`server_error`,
    /// another storage fault).
    pub fn status(&self) -> u16 {
        match &self.code {
            // RFC 9449 §7.1, §9: at a resource, both DPoP refusals are 401.
            Some(ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce) => 401,
            code => code.as_ref().map_or(401, ErrorCode::status),
        }
    }

    /// The `WWW-Authenticate` header value: a `Bearer` challenge (RFC 6750 §3), or a `DPoP`
    /// one with its `algs` (RFC 9449 §7.1) for DPoP requests and DPoP-bound tokens.
    pub fn challenge(&self, realm: &str) -> String {
        let mut value = match &self.dpop {
            Some(dpop) => format!("DPoP realm=\"{realm}\", algs=\"{}\"", dpop.algs),
            None => format!("Bearer realm=\"{realm}\""),
        };
        if let Some(code) = &self.code {
            value.push_str(&format!(", error=\"{code}\""));
        }
        if let Some(description) = self.description {
            value.push_str(&format!(", error_description=\"{description}\""));
        }
        if let Some(scope) = &self.scope {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        if let Some(url) = &self.resource_metadata {
            // A URL has no quote or backslash unescaped; refuse to break the header if it does.
            let url: String = url.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
            value.push_str(&format!(", resource_metadata=\"{url}\""));
        }
        value
    }

    /// The complete response: status, challenge, a JSON body repeating the error, and
    /// `Retry-After` when there is one.
    pub fn to_response(&self, provider: &Provider) -> Response {
        let mut body = serde_json::Map::new();
        if let Some(code) = &self.code {
            body.insert(
                "error".into(),
                provider.config().dialect.rename(code).as_str().into(),
            );
        }
        if let Some(description) = self.description {
            body.insert("error_description".into(), description.into());
        }
        let response = Response::json(self.status(), &serde_json::Value::Object(body))
            .with_header("www-authenticate", self.challenge(&provider.config().realm));
        let response = match self.retry_after {
            Some(seconds) => response.with_header("retry-after", seconds.to_string()),
            None => response,
        };
        match self.dpop.as_ref().and_then(|dpop| dpop.nonce.as_ref()) {
            Some(nonce) => response.with_header("dpop-nonce", nonce.clone()),
            None => response,
        }
    }
}

/// Finds `access_token` in a form-encoded string; refused if it is there twice.
fn find_param(encoded: &[u8]) -> Result<Option<String>, BearerError> {
    let mut found = None;
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if name == "access_token" {
            if found.is_some() {
                return Err(sent_twice());
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

fn sent_twice() -> BearerError {
    BearerError::new(
        ErrorCode::InvalidRequest,
        "the token was sent in more than one way",
    )
}

impl Provider {
    /// Extracts the token from wherever the configuration allows, and whether it came with
    /// the `DPoP` scheme (the header is parsed once, here). A header token is borrowed, not
    /// copied: the hot path allocates nothing before the store.
    fn bearer_token<'r>(
        &self,
        request: &BearerRequest<'r>,
    ) -> Result<Option<(Cow<'r, str>, bool)>, BearerError> {
        let config = self.config();
        let mut token = None;
        let mut dpop_scheme = false;
        let header_token = request.authorization.and_then(|header| {
            AuthorizationHeader::bearer(header).or_else(|| {
                let token = self.dpop_scheme_token(header);
                dpop_scheme = token.is_some();
                token
            })
        });
        if let Some(value) = header_token {
            if value.is_empty() {
                return Err(BearerError::new(
                    ErrorCode::InvalidRequest,
                    "the Authorization header has no token",
                ));
            }
            token = Some(Cow::Borrowed(value));
        }
        if config.danger.bearer_in_query
            && let Some(query) = request.query
        {
            let found = find_param(query.as_bytes())?;
            if found.is_some() {
                if token.is_some() {
                    return Err(sent_twice());
                }
                token = found.map(Cow::Owned);
            }
        }
        if config.bearer_in_form
            && let Some(form) = request.form
        {
            let found = find_param(form)?;
            if found.is_some() {
                if token.is_some() {
                    return Err(sent_twice());
                }
                token = found.map(Cow::Owned);
            }
        }
        Ok(token.map(|token| (token, dpop_scheme)))
    }

    /// Whether a token with `audience` is valid at `resource`.
    fn audience_admits(&self, audience: &[String], resource: &str) -> bool {
        if audience.is_empty() {
            return self
                .config()
                .resource(resource)
                .is_some_and(|r| r.by_default);
        }
        audience.iter().any(|a| a == resource)
    }

    /// Validates the access token of a resource request and checks that it carries every scope
    /// in `required` (RFC 6750), and, for a request made [`BearerRequest::for_resource`], that
    /// its audience names the resource. A malformed token is refused without a storage lookup.
    pub async fn validate_bearer(
        &self,
        request: &BearerRequest<'_>,
        required: &ScopeSet,
    ) -> Result<Principal, BearerError> {
        let Some((token, dpop_scheme)) = self.bearer_token(request)? else {
            return Err(BearerError {
                code: None,
                description: None,
                scope: None,
                retry_after: None,
                resource_metadata: None,
                dpop: None,
            });
        };
        let invalid = || {
            BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is invalid, expired or revoked",
            )
        };
        let hash = if TokenKind::AccessToken.is_well_formed(&token) {
            TokenHash::of_well_formed(&token)
        } else if self.config().any_jwt_access_tokens() && crate::jwt_access::is_jws_shaped(&token)
        {
            // A JWT access token (RFC 9068) has a record like an opaque one, under the hash
            // of the whole JWT: the record decides, the signature is not checked here.
            TokenHash::of(&token)
        } else {
            return Err(invalid());
        };
        let record = self
            .cx()
            .store()
            .find_token(&hash)
            .await
            .map_err(BearerError::store)?
            .ok_or_else(invalid)?;
        if record.token_type != TokenType::Access || record.is_expired_at_unix(self.cx().unix_now())
        {
            return Err(invalid());
        }
        if let Some(resource) = request.resource
            && !self.audience_admits(&record.audience, resource)
        {
            return Err(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is not meant for this resource",
            ));
        }
        // Most tokens are plain bearer tokens sent as such: nothing more to check.
        if dpop_scheme || record.confirmation.is_some() {
            self.check_sender(request, &token, &record, dpop_scheme)
                .await?;
        }
        if !required.is_subset(&record.scopes) {
            return Err(BearerError::insufficient_scope(required));
        }
        Ok(Principal { record })
    }
}

impl Provider {
    /// The token of an `Authorization: DPoP <token>` header, when DPoP is on (RFC 9449 §7.1).
    fn dpop_scheme_token<'h>(&self, header: &'h str) -> Option<&'h str> {
        #[cfg(feature = "jose")]
        if self.cx().dpop().is_some() {
            let parsed = AuthorizationHeader::parse(header);
            return parsed.is("dpop").then_some(parsed.credentials());
        }
        let _ = header;
        None
    }

    /// RFC 9449 §7: a token bound to a DPoP key is accepted only as `Authorization: DPoP`
    /// with a fresh proof by that key naming this request and the token (`ath`); a bearer
    /// token only as a bearer token.
    async fn check_sender(
        &self,
        request: &BearerRequest<'_>,
        token: &str,
        record: &TokenRecord,
        dpop_scheme: bool,
    ) -> Result<(), BearerError> {
        let bound = match &record.confirmation {
            Some(Confirmation::Jkt(jkt)) => Some(jkt.as_str()),
            Some(Confirmation::X5tS256(x5t)) => {
                return self.check_certificate(request, x5t, dpop_scheme);
            }
            None => None,
        };
        match (bound, dpop_scheme) {
            (None, false) => Ok(()),
            (None, true) => Err(self.dpop_refusal(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is not bound to a DPoP key: send it as a Bearer token",
            ))),
            (Some(_), false) => Err(self.dpop_refusal(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof",
            ))),
            (Some(jkt), true) => self.check_proof(request, token, jkt).await,
        }
    }

    /// RFC 8705 §3: a token bound to a client certificate is accepted only from a client
    /// that presented that certificate in the TLS handshake, as a Bearer token.
    fn check_certificate(
        &self,
        request: &BearerRequest<'_>,
        x5t: &str,
        dpop_scheme: bool,
    ) -> Result<(), BearerError> {
        if dpop_scheme {
            return Err(self.dpop_refusal(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is bound to a client certificate, not a DPoP key: send it as a Bearer token",
            )));
        }
        match request.client_certificate {
            Some(certificate)
                if bool::from(subtle::ConstantTimeEq::ct_eq(
                    certificate.thumbprint().as_bytes(),
                    x5t.as_bytes(),
                )) =>
            {
                Ok(())
            }
            Some(_) => Err(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is bound to another client certificate",
            )),
            None => Err(BearerError::new(
                ErrorCode::InvalidToken,
                "the access token is bound to a client certificate: present it in the TLS handshake",
            )),
        }
    }

    #[cfg(feature = "jose")]
    async fn check_proof(
        &self,
        request: &BearerRequest<'_>,
        token: &str,
        jkt: &str,
    ) -> Result<(), BearerError> {
        let Some(parts) = request.dpop else {
            return Err(self.dpop_refusal(BearerError::new(
                ErrorCode::InvalidDpopProof,
                "the request has no DPoP proof",
            )));
        };
        let check = crate::dpop::ProofRequest::new(parts.proof, parts.method, parts.url)
            .with_access_token(token);
        match self.verify_dpop(&check).await {
            Ok(proof) if proof.jkt() == jkt => Ok(()),
            Ok(_) => Err(self.dpop_refusal(BearerError::new(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof is not signed by the key the access token is bound to",
            ))),
            Err(error) => {
                let description = match &error {
                    crate::dpop::DpopError::Invalid(Cow::Borrowed(why)) => why,
                    crate::dpop::DpopError::Replayed => "the DPoP proof was used before",
                    crate::dpop::DpopError::UseNonce => {
                        "the DPoP proof must carry the server's current nonce"
                    }
                    _ => "the DPoP proof cannot be checked now",
                };
                let mut refusal = BearerError::new(error.code(), description);
                if error.code() == ErrorCode::TemporarilyUnavailable {
                    refusal.code = Some(ErrorCode::ServerError);
                }
                Err(self.dpop_refusal(refusal))
            }
        }
    }

    #[cfg(not(feature = "jose"))]
    async fn check_proof(
        &self,
        _request: &BearerRequest<'_>,
        _token: &str,
        _jkt: &str,
    ) -> Result<(), BearerError> {
        Err(BearerError::new(
            ErrorCode::InvalidToken,
            "the access token is bound to a DPoP key, and DPoP is not supported here",
        ))
    }

    /// A refusal with the DPoP challenge and, when nonces are on, a fresh nonce.
    fn dpop_refusal(&self, refusal: BearerError) -> BearerError {
        #[cfg(feature = "jose")]
        if let Some(policy) = self.cx().dpop() {
            return BearerError {
                dpop: Some(Box::new(DpopChallenge {
                    algs: policy.algorithm_names().join(" "),
                    nonce: self.dpop_nonce(),
                })),
                ..refusal
            };
        }
        refusal
    }
}
