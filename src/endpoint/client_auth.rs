//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3): HTTP Basic, body parameters, a JWT assertion (`private_key_jwt` and
//! `client_secret_jwt`, in `client_assertion.rs`), the TLS client certificate (RFC 8705 §2: `tls_client_auth`,
//! `self_signed_tls_client_auth`), or none for public clients.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::audit::{AuditEvent, RateLimit};
use crate::cimd::ResolveError;
use crate::client::{AuthMethod, Client, ClientId};
use crate::endpoint::authorization_header::AuthorizationHeader;
use crate::error::{ErrorCode, OAuthError};
use crate::limiter::Attempt;
use crate::params::Params;
use crate::provider::Provider;
use crate::response::Response;
use crate::secret::ClientSecret;

/// The credentials a request presented, before they are checked.
#[derive(Debug)]
pub(crate) enum Credentials {
    Basic {
        id: ClientId,
        secret: ClientSecret,
    },
    Post {
        id: ClientId,
        secret: ClientSecret,
    },
    None {
        id: ClientId,
    },
    #[cfg(feature = "jose")]
    Assertion(Box<crate::endpoint::client_assertion::Assertion>),
    /// A `client_id` and no secret, over a TLS connection with a client certificate
    /// (RFC 8705 §2): a `tls_client_auth` or `self_signed_tls_client_auth` client, or a
    /// public client binding its tokens to the certificate.
    Certificate {
        id: ClientId,
        certificate: crate::mtls::ClientCertificate,
    },
}

/// Why client authentication failed: an OAuth error, plus whether the client tried Basic (then
/// the 401 carries a `WWW-Authenticate: Basic` challenge, RFC 6749 §5.2).
#[derive(Debug)]
pub(crate) struct AuthFailure {
    pub(crate) error: OAuthError,
    pub(crate) basic: bool,
}

impl From<OAuthError> for AuthFailure {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic: false,
        }
    }
}

impl AuthFailure {
    pub(crate) fn into_response(self, provider: &Provider) -> Response {
        let response = provider.token_error(&self.error);
        if self.basic && self.error.code == ErrorCode::InvalidClient {
            let realm = &provider.config().realm;
            response.with_header("www-authenticate", format!("Basic realm=\"{realm}\""))
        } else {
            response
        }
    }
}

fn invalid_client(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, description)
}

/// Decodes one form-encoded half of a Basic credential (RFC 6749 §2.3.1).
fn form_decode(text: &str) -> Option<String> {
    // Generated IDs and secrets have neither `+` nor `%`: then there is nothing to decode.
    if !text.as_bytes().contains(&b'+') && !text.as_bytes().contains(&b'%') {
        return Some(text.to_owned());
    }
    let plus_as_space: std::borrow::Cow<'_, str> = if text.contains('+') {
        text.replace('+', " ").into()
    } else {
        text.into()
    };
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Reads the credentials from the `Authorization` header and the parameters.
pub(crate) fn credentials(
    params: &Params,
    authorization: Option<&str>,
) -> Result<Credentials, AuthFailure> {
    if params.contains("client_assertion") || params.contains("client_assertion_type") {
        return assertion_credentials(params, authorization);
    }
    if let Some(header) = authorization.map(AuthorizationHeader::parse)
        && header.is("basic")
    {
        let basic = |description| AuthFailure {
            error: invalid_client(description),
            basic: true,
        };
        if params.contains("client_secret") {
            return Err(OAuthError::invalid_request(
                "the client authenticated with both HTTP Basic and client_secret",
            )
            .into());
        }
        // Decoded on the stack; only credentials longer than the buffer take the heap.
        let mut buffer = [0u8; 384];
        let on_heap;
        let bytes: &[u8] = match STANDARD.decode_slice(header.credentials(), &mut buffer) {
            Ok(len) => buffer.get(..len).unwrap_or_default(),
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                on_heap = STANDARD
                    .decode(header.credentials())
                    .map_err(|_| basic("malformed HTTP Basic credentials"))?;
                &on_heap
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                return Err(basic("malformed HTTP Basic credentials"));
            }
        };
        let decoded =
            std::str::from_utf8(bytes).map_err(|_| basic("malformed HTTP Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| basic("malformed HTTP Basic credentials"))?;
        let id = form_decode(id).ok_or_else(|| basic("malformed HTTP Basic credentials"))?;
        let secret =
            form_decode(secret).ok_or_else(|| basic("malformed HTTP Basic credentials"))?;
        let id = ClientId::new(id).map_err(|_| basic("malformed client_id"))?;
        if params
            .get("client_id")
            .is_some_and(|body_id| body_id != id.as_str())
        {
            return Err(OAuthError::invalid_request(
                "client_id differs from the HTTP Basic credentials",
            )
            .into());
        }
        return Ok(Credentials::Basic {
            id,
            secret: ClientSecret::new(secret),
        });
    }
    let id = params.get("client_id").ok_or_else(|| {
        AuthFailure::from(invalid_client("no client authentication was included"))
    })?;
    let id =
        ClientId::new(id).map_err(|_| AuthFailure::from(invalid_client("malformed client_id")))?;
    Ok(match params.get("client_secret") {
        Some(secret) => Credentials::Post {
            id,
            secret: ClientSecret::new(secret),
        },
        None => Credentials::None { id },
    })
}

/// The credentials of a request with `client_assertion` or `client_assertion_type` (RFC 7521
/// §4.2, RFC 7523 §2.2): exactly the JWT bearer type, an assertion, and no other method.
fn assertion_credentials(
    params: &Params,
    authorization: Option<&str>,
) -> Result<Credentials, AuthFailure> {
    let basic = authorization
        .map(AuthorizationHeader::parse)
        .is_some_and(|header| header.is("basic"));
    if basic || params.contains("client_secret") {
        return Err(invalid_client(
            "the client authenticated with a client_assertion and another method; use one",
        )
        .into());
    }
    #[cfg(feature = "jose")]
    {
        use crate::endpoint::client_assertion::{ASSERTION_TYPE, Assertion};
        if params.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(invalid_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .into());
        }
        let assertion = params
            .get("client_assertion")
            .ok_or_else(|| AuthFailure::from(invalid_client("client_assertion is missing")))?;
        Assertion::parse(assertion, params.get("client_id"))
            .map(|assertion| Credentials::Assertion(Box::new(assertion)))
    }
    #[cfg(not(feature = "jose"))]
    Err(invalid_client("client assertions are not supported by this server").into())
}

/// The limiter key of client authentication: the client and where the request came from, so
/// that wrong secrets from one source slow only that source (RFC 6819 §5.1.4.2.3).
fn attempt_key(id: &ClientId, source: Option<&str>) -> String {
    // `client:{id}` and ` source:{source}`, concatenated without the formatting machinery.
    let mut key = String::with_capacity(7 + id.as_str().len() + source.map_or(0, |s| 8 + s.len()));
    key.push_str("client:");
    key.push_str(id.as_str());
    if let Some(source) = source {
        key.push_str(" source:");
        key.push_str(source);
    }
    key
}

impl Provider {
    /// Checks credentials against the stored client. Every failure reads the same to the caller
    /// ("client authentication failed"), whichever part was wrong: an unknown client, a wrong
    /// secret, or a method the client did not register (RFC 7591 §2: a `client_secret_basic`
    /// client may not authenticate with `client_secret_post`).
    pub(crate) async fn authenticate(
        &self,
        credentials: Credentials,
        source: Option<&str>,
    ) -> Result<Client, AuthFailure> {
        let (id, secret, method) = match credentials {
            // These two on the heap: their state would make every client authentication's
            // future, and each one awaiting it, kilobytes larger, copied on every move.
            #[cfg(feature = "jose")]
            Credentials::Assertion(assertion) => {
                return Box::pin(self.authenticate_assertion(*assertion)).await;
            }
            Credentials::Certificate { id, certificate } => {
                return Box::pin(self.authenticate_certificate(id, &certificate)).await;
            }
            Credentials::Basic { id, secret } => (id, Some(secret), AuthMethod::ClientSecretBasic),
            Credentials::Post { id, secret } => (id, Some(secret), AuthMethod::ClientSecretPost),
            Credentials::None { id } => (id, None, AuthMethod::None),
        };
        let basic = method == AuthMethod::ClientSecretBasic;
        let failed = |provider: &Provider, id: &ClientId| {
            provider.cx().audit(AuditEvent::ClientAuthFailed {
                client_id: Some(id.clone()),
            });
            AuthFailure {
                error: invalid_client("client authentication failed"),
                basic,
            }
        };
        let client = match self.resolve_client(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(failed(self, &id)),
            Err(ResolveError::Store(e)) => return Err(AuthFailure::from(OAuthError::from(e))),
            Err(ResolveError::Document(why)) => {
                self.cx().audit(AuditEvent::ClientAuthFailed {
                    client_id: Some(id.clone()),
                });
                return Err(AuthFailure {
                    error: OAuthError::new(ErrorCode::InvalidClient, why),
                    basic,
                });
            }
        };
        if client.auth_method != method {
            return Err(failed(self, &id));
        }
        let (Some(presented), Some(stored)) = (secret, client.secret.clone()) else {
            // A public client identifies itself and proves nothing; PKCE protects its codes.
            // Nothing to guess, so no limiter: limiting it would only let anyone lock it out.
            return if method == AuthMethod::None && client.is_public() {
                Ok(client)
            } else {
                Err(failed(self, &id))
            };
        };
        let key = attempt_key(&id, source);
        let attempts = &self.cx().client_attempts();
        let attempted_at = self.now();
        if let Attempt::Refused { .. } = attempts.attempt(&key, attempted_at).await {
            self.cx().audit(AuditEvent::RateLimited {
                limit: RateLimit::ClientSecret,
            });
            return Err(AuthFailure {
                error: invalid_client(
                    "too many failed authentication attempts for this client; try again later",
                ),
                basic,
            });
        }
        let slow = stored.is_slow();
        let ok = if slow {
            // Argon2 by design takes tens of milliseconds: not on an async worker thread.
            self.cx()
                .offload()
                .run(Box::new(move || stored.verify(&presented)))
                .await
        } else {
            stored.verify(&presented)
        };
        if ok {
            // A SHA-256 check takes nanoseconds: it succeeded when it was attempted.
            let now = if slow { self.now() } else { attempted_at };
            attempts.succeeded(&key, now).await;
            Ok(client)
        } else {
            Err(failed(self, &id))
        }
    }

    /// RFC 8705 §2: a client authenticating with the certificate of its TLS connection. A
    /// `tls_client_auth` client's certificate carries its one registered subject value (the
    /// host's TLS layer validated the chain); a `self_signed_tls_client_auth` client's has a
    /// key of its `jwks`; a public client (`none`) only identifies itself, as without a
    /// certificate. Nothing here is guessable, so no limiter.
    async fn authenticate_certificate(
        &self,
        id: ClientId,
        certificate: &crate::mtls::ClientCertificate,
    ) -> Result<Client, AuthFailure> {
        let failed = |provider: &Provider| {
            provider.cx().audit(AuditEvent::ClientAuthFailed {
                client_id: Some(id.clone()),
            });
            AuthFailure::from(invalid_client("client authentication failed"))
        };
        let client = match self.resolve_client(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(failed(self)),
            Err(ResolveError::Store(e)) => return Err(AuthFailure::from(OAuthError::from(e))),
            Err(ResolveError::Document(why)) => {
                self.cx().audit(AuditEvent::ClientAuthFailed {
                    client_id: Some(id.clone()),
                });
                return Err(AuthFailure::from(OAuthError::new(
                    ErrorCode::InvalidClient,
                    why,
                )));
            }
        };
        let matched = match client.auth_method {
            AuthMethod::None => client.is_public(),
            AuthMethod::TlsClientAuth => certificate.matches_registered_subject(&client.metadata),
            #[cfg(feature = "jose")]
            AuthMethod::SelfSignedTlsClientAuth => client
                .metadata
                .jwks
                .as_ref()
                .is_some_and(|jwks| certificate.matches_jwks(jwks)),
            _ => false,
        };
        if matched {
            Ok(client)
        } else {
            Err(failed(self))
        }
    }

    /// Reads and checks a request's client credentials.
    pub(crate) async fn authenticate_request(
        &self,
        params: &Params,
        request: &crate::FormRequest,
    ) -> Result<Client, AuthFailure> {
        let presented = credentials(params, request.authorization.as_deref())?;
        let credentials = match (presented, &request.client_certificate) {
            (Credentials::None { id }, Some(certificate)) => Credentials::Certificate {
                id,
                certificate: certificate.clone(),
            },
            (credentials, _) => credentials,
        };
        self.authenticate(credentials, request.source.as_deref())
            .await
    }

    /// The opening of every endpoint that is not a grant but needs client credentials
    /// (revocation, introspection, device authorization): parse the form, authenticate the
    /// client. `Err` is the response to send as it is.
    pub(crate) async fn authenticated_form(
        &self,
        request: &crate::FormRequest,
    ) -> Result<(Params, Client), Response> {
        let params = self
            .form_params(request)
            .map_err(|error| self.token_error(&error))?;
        let client = self
            .authenticate_request(&params, request)
            .await
            .map_err(|failure| failure.into_response(self))?;
        Ok((params, client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Limits;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let params = Params::new();
        let header = basic("my%2Bclient", "p%3Aw+d");
        match credentials(&params, Some(&header)) {
            Ok(Credentials::Basic { id, secret }) => {
                assert_eq!(id.as_str(), "my+client");
                assert_eq!(secret.secret(), "p:w d");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn long_basic_credentials_are_decoded_too() {
        let long = "s".repeat(1000);
        match credentials(&Params::new(), Some(&basic("client", &long))) {
            Ok(Credentials::Basic { id, secret }) => {
                assert_eq!(id.as_str(), "client");
                assert_eq!(secret.secret(), long);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_methods_at_once_is_invalid_request() {
        let params = Params::from_query("client_secret=x", &Limits::default()).unwrap_or_default();
        let error = credentials(&params, Some(&basic("a", "b"))).expect_err("two methods");
        assert_eq!(error.error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for header in [
            "Basic !!!",
            "Basic",
            &format!("Basic {}", STANDARD.encode("no-colon")),
        ] {
            let error = credentials(&Params::new(), Some(header)).expect_err(header);
            assert_eq!(error.error.code, ErrorCode::InvalidClient);
            assert!(error.basic);
        }
    }
}
