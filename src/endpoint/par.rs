//! The pushed authorization request endpoint (RFC 9126): the client authenticates as at the
//! token endpoint and posts its authorization request; the request is validated as
//! [`Provider::authorize`] would, and sealed into the `request_uri` the client then sends the
//! browser to the authorization endpoint with (see `crate::pushed` for why sealed).

use crate::endpoint::authorize::AuthorizeError;
use crate::endpoint::form::FormRequest;
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::provider::Provider;
use crate::pushed::{Pushed, SealError};
use crate::response::Response;

/// The parameters of client authentication, never sealed into a `request_uri`.
const CREDENTIALS: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

const TOO_LARGE: &str = "the pushed request is too large: its parameters must fit in about 1 KiB";

impl Provider {
    /// The pushed authorization request endpoint (RFC 9126 §2). Always answers: 201 with
    /// `request_uri` and `expires_in`, or an error as JSON (RFC 9126 §2.3), never a redirect.
    ///
    /// The client authenticates as at the token endpoint (public clients name themselves with
    /// `client_id`); the request must not carry `request_uri`; a request object in `request`
    /// (RFC 9101, feature `jose`) is verified as at [`Provider::authorize`] (refusals are
    /// `invalid_request_object`) and its parameters, only they, are sealed (its `jti` used up
    /// at once); a `DPoP` proof binds the code
    /// to its key (RFC 9449 §10.1), as `dpop_jkt` does. The request must fit in about 1 KiB
    /// of parameters.
    pub async fn pushed_authorization(&self, request: &FormRequest) -> Response {
        let Some(path) = self.advertised().pushed_authorization else {
            return self.token_error(&OAuthError::invalid_request(
                "pushed authorization requests are not enabled on this server",
            ));
        };
        let params = match self.form_params(request) {
            Ok(params) => params,
            Err(error) => return self.token_error(&error),
        };
        if params.contains("request_uri") {
            return self.token_error(&OAuthError::invalid_request(
                "a pushed authorization request must not carry request_uri (RFC 9126 §2.1)",
            ));
        }
        let client = match self.authenticate_request(&params, request).await {
            Ok(client) => client,
            Err(failure) => return failure.into_response(self),
        };
        if let Err(error) = self.config().check_profile_client(&client) {
            return self.token_error(&error);
        }
        let proof_jkt = match self.form_request_proof(request, path).await {
            Ok(jkt) => jkt,
            Err(response) => return response,
        };
        // A request object (RFC 9101 §5, RFC 9126 §3): its claims are the request, and only
        // they are sealed; its `jti` is used up now.
        let params = match self.pushed_request_object(&client, params).await {
            Ok(params) => params,
            Err(error) => return self.with_dpop_nonce(self.token_error(&error)),
        };
        // FAPI 2.0 §5.3.2.2: the redirect URI is named (in the request object, if any), never implied by the registration.
        if self.config().fapi2() && !params.contains("redirect_uri") {
            return self.token_error(&OAuthError::invalid_request(
                "this server follows FAPI 2.0: a pushed request must carry redirect_uri",
            ));
        }
        let params = match bind_proof(params, proof_jkt, self) {
            Ok(params) => params,
            Err(error) => return self.token_error(&error),
        };
        // The same checks as at the authorization endpoint, with the same errors; here every
        // one is the client's to read, not the user's.
        let refused = match self.check_request(client.clone(), &params, None, None) {
            Ok(_validated) => None,
            Err(AuthorizeError::Untrusted(error)) => {
                Some(OAuthError::new(error.code, error.description))
            }
            Err(AuthorizeError::Redirect(redirect)) => Some(redirect.error().clone()),
        };
        if let Some(error) = refused {
            return self.with_dpop_nonce(self.token_error(&error));
        }
        let response = self.seal_pushed(&client.id, &params);
        self.with_dpop_nonce(response)
    }

    /// The parameters a push asks for: the verified request object's, if it carries
    /// `request`; else the form's, unless signed request objects are required.
    async fn pushed_request_object(
        &self,
        client: &crate::Client,
        params: Params,
    ) -> Result<Params, OAuthError> {
        #[cfg(feature = "jose")]
        if let Some(jwt) = params.get("request") {
            let cx = self.cx();
            let object = crate::endpoint::request_object::verify(cx, client, jwt)?;
            if let Some(once) = object.once {
                let first = cx.store().remember(&once.key, cx.now(), once.until).await?;
                if !first {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidRequestObject,
                        "the request object was used before (its jti)",
                    ));
                }
            }
            return Ok(object.params);
        }
        if crate::endpoint::authorize::signed_requests_required(self.cx(), client) {
            return Err(OAuthError::invalid_request(
                crate::endpoint::authorize::SIGNED_REQUIRED,
            ));
        }
        Ok(params)
    }

    /// The 201 answer carrying the sealed request.
    fn seal_pushed(&self, client_id: &crate::ClientId, params: &Params) -> Response {
        let cx = self.cx();
        let lifetime = cx.config().lifetimes.pushed_request;
        let mut id = [0u8; 16];
        cx.entropy().fill(&mut id);
        let pushed = Pushed {
            client_id: client_id.as_str().to_owned(),
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            pushed_at: cx.unix_now(),
            expires_at: cx.unix_now() + lifetime.whole_seconds(),
            // The credentials stay out of the URL: the client is known by `client_id`.
            params: params
                .iter()
                .filter(|(name, _)| !CREDENTIALS.contains(name))
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        };
        let sealed = cx.pushed_key().map(|key| key.seal(cx.entropy(), &pushed));
        match sealed {
            Some(Ok(request_uri)) => Response::json(
                201,
                &serde_json::json!({
                    "request_uri": request_uri,
                    "expires_in": lifetime.whole_seconds(),
                }),
            ),
            Some(Err(SealError::TooLarge)) => {
                self.token_error(&OAuthError::invalid_request(TOO_LARGE))
            }
            Some(Err(SealError::Cipher)) | None => self.token_error(&OAuthError::server_error()),
        }
    }
}

/// RFC 9449 §10.1: a DPoP proof at the PAR endpoint binds the code to its key, as `dpop_jkt`
/// would; both present must name the same key.
fn bind_proof(
    params: Params,
    proof_jkt: Option<String>,
    provider: &Provider,
) -> Result<Params, OAuthError> {
    let Some(jkt) = proof_jkt else {
        return Ok(params);
    };
    match params.get("dpop_jkt") {
        Some(given) if given == jkt => Ok(params),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "dpop_jkt is not the thumbprint of the DPoP proof's key",
        )),
        None => Params::from_pairs(
            params
                .iter()
                .chain(std::iter::once(("dpop_jkt", jkt.as_str()))),
            &provider.config().limits,
        ),
    }
}
