//! The form requests of the token, revocation, introspection and device authorization
//! endpoints: what the host received, and its parameters with the dialect applied.

use crate::error::OAuthError;
use crate::params::Params;
use crate::provider::Provider;

/// A POST to the token, revocation, introspection or device authorization endpoint, as the
/// host received it: what the provider needs and nothing framework-specific.
///
/// ```
/// let request = tessera::FormRequest::new(b"grant_type=client_credentials".to_vec())
///     .with_authorization(Some("Basic YTpi"));
/// assert_eq!(request.authorization.as_deref(), Some("Basic YTpi"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct FormRequest {
    /// The `application/x-www-form-urlencoded` body.
    pub body: Vec<u8>,
    /// The query string, without `?` (read only where the dialect says so).
    pub query: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Where the request came from (the peer address, or the /64 prefix of an IPv6 one), for
    /// the client-authentication limiter: wrong secrets from one source then slow only that
    /// source. Without it, the limiter counts per client, and anyone can slow a client down.
    pub source: Option<String>,
    /// The `DPoP` header (RFC 9449 §4.1): a proof binding the issued tokens to a key. A
    /// request with more than one `DPoP` header must be refused by the host (or given
    /// `Some` of an invalid value, such as the values joined with `,`).
    pub dpop: Option<String>,
    /// The certificate the client presented in the TLS handshake (RFC 8705), as the host's
    /// TLS layer accepted it: it authenticates `tls_client_auth` and
    /// `self_signed_tls_client_auth` clients, and binds the tokens of clients that asked for
    /// certificate-bound tokens.
    pub client_certificate: Option<crate::mtls::ClientCertificate>,
}

impl std::fmt::Debug for FormRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies and headers carry secrets.
        f.debug_struct("FormRequest")
            .field("body_len", &self.body.len())
            .field("has_query", &self.query.is_some())
            .field("has_authorization", &self.authorization.is_some())
            .field("source", &self.source)
            .field("has_dpop", &self.dpop.is_some())
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

impl FormRequest {
    /// A request with this body.
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            query: None,
            authorization: None,
            source: None,
            dpop: None,
            client_certificate: None,
        }
    }

    /// Adds the certificate the client presented in the TLS handshake (see
    /// [`FormRequest::client_certificate`]).
    pub fn with_client_certificate(
        mut self,
        certificate: Option<crate::mtls::ClientCertificate>,
    ) -> Self {
        self.client_certificate = certificate;
        self
    }

    /// Adds the `DPoP` header (see [`FormRequest::dpop`]).
    pub fn with_dpop(mut self, proof: Option<&str>) -> Self {
        self.dpop = proof.map(str::to_owned);
        self
    }

    /// Adds where the request came from (see [`FormRequest::source`]).
    pub fn with_source(mut self, source: Option<&str>) -> Self {
        self.source = source.map(str::to_owned);
        self
    }

    /// Adds the `Authorization` header.
    pub fn with_authorization(mut self, header: Option<&str>) -> Self {
        self.authorization = header.map(str::to_owned);
        self
    }

    /// Adds the query string.
    pub fn with_query(mut self, query: Option<&str>) -> Self {
        self.query = query.map(str::to_owned);
        self
    }
}

impl Provider {
    /// The parameters of a form request: the body, plus the query where the dialect reads it.
    pub(crate) fn form_params(&self, request: &FormRequest) -> Result<Params, OAuthError> {
        let limits = &self.config().limits;
        let dialect = &self.config().dialect;
        let body = Params::from_form(&request.body, limits)?;
        let params = match (&request.query, dialect.token_params_in_query) {
            (Some(query), true) => body.merge(Params::from_query(query, limits)?, limits)?,
            _ => body,
        };
        if dialect.param_aliases.is_empty() {
            return Ok(params);
        }
        // Renamed parameters: a name and its alias both present is a repeated parameter.
        let pairs = params.iter().map(|(name, value)| {
            let renamed = dialect
                .param_aliases
                .iter()
                .find(|(alias, _)| alias == name)
                .map_or(name, |(_, rfc)| rfc.as_str());
            (renamed, value)
        });
        Params::from_pairs(pairs, limits)
    }
}
