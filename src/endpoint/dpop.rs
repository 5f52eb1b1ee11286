//! DPoP (RFC 9449) at the provider's endpoints: proofs checked with the shared replay cache,
//! and the `DPoP-Nonce` header.

use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::Response;

#[cfg(feature = "jose")]
use crate::dpop::{DpopError, ProofRequest, VerifiedProof};
#[cfg(feature = "jose")]
use crate::error::OAuthError;

impl Provider {
    /// Verifies a DPoP proof (RFC 9449 §4.3): every check of
    /// [`DpopPolicy::verify`](crate::dpop::DpopPolicy::verify), then the `jti` replay check in
    /// the store every instance shares, so a proof is accepted once whatever instance sees it.
    /// Refused with [`DpopError::Invalid`] when DPoP is off.
    #[cfg(feature = "jose")]
    pub async fn verify_dpop(
        &self,
        request: &ProofRequest<'_>,
    ) -> Result<VerifiedProof, DpopError> {
        let Some(policy) = self.cx().dpop() else {
            return Err(DpopError::Invalid("DPoP is not supported here".into()));
        };
        let now = self.cx().unix_now();
        let proof = policy.verify(request, now)?;
        let first = self
            .cx()
            .store()
            .remember(&proof.replay_key(), self.now(), proof.replay_expires_at())
            .await
            .map_err(|_| DpopError::Unavailable)?;
        if first {
            Ok(proof)
        } else {
            Err(DpopError::Replayed)
        }
    }

    /// The nonce a client must put in its next DPoP proof, when the provider requires them.
    #[cfg(feature = "jose")]
    pub fn dpop_nonce(&self) -> Option<String> {
        self.cx().dpop()?.nonce(self.cx().unix_now())
    }

    /// The token request's proof, if it has one: the key thumbprint its tokens are bound to,
    /// or the error response (with a `DPoP-Nonce` header when a nonce is wanted).
    pub(crate) async fn token_request_proof(
        &self,
        request: &FormRequest,
    ) -> Result<Option<String>, Response> {
        self.form_request_proof(request, &self.config().endpoints.token)
            .await
    }

    /// [`Provider::token_request_proof`] for the form endpoint at `path` (the token endpoint,
    /// or the pushed authorization request endpoint, RFC 9449 §10.1).
    pub(crate) async fn form_request_proof(
        &self,
        request: &FormRequest,
        path: &str,
    ) -> Result<Option<String>, Response> {
        #[cfg(feature = "jose")]
        if let (Some(proof), Some(_)) = (&request.dpop, self.cx().dpop()) {
            let url = self.config().endpoint_url(path);
            let check = ProofRequest::new(proof, "POST", &url);
            return match self.verify_dpop(&check).await {
                Ok(proof) => Ok(Some(proof.jkt().to_owned())),
                Err(error) => {
                    let refusal = OAuthError::new(error.code(), error.description());
                    Err(self.with_dpop_nonce(self.token_error(&refusal)))
                }
            };
        }
        #[cfg(not(feature = "jose"))]
        let _ = (request, path);
        Ok(None)
    }

    /// Adds the current `DPoP-Nonce` header when nonces are required (RFC 9449 §8.2).
    pub(crate) fn with_dpop_nonce(&self, response: Response) -> Response {
        #[cfg(feature = "jose")]
        if let Some(nonce) = self.dpop_nonce() {
            return response.with_header("dpop-nonce", nonce);
        }
        response
    }
}
