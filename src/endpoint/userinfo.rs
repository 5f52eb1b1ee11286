//! The OpenID Connect userinfo endpoint (OIDC Core 1.0 §5.3): the claims of the user an
//! access token with scope `openid` acts for, over GET and POST with the bearer rules of
//! RFC 6750.

use crate::endpoint::bearer::{BearerError, BearerRequest};
use crate::error::ErrorCode;
use crate::grant::openid::{ClaimsMember, OPENID};
use crate::jose::{Algorithm, Typ};
use crate::oidc::{ClaimsRequest, ClaimsTarget, add_claims, released};
use crate::provider::Provider;
use crate::response::Response;
use crate::scope::ScopeSet;

impl Provider {
    /// The userinfo endpoint (OIDC Core §5.3), for GET and POST alike: the access token (in
    /// the `Authorization` header, or wherever [`Provider::validate_bearer`] accepts it) must
    /// be valid and carry `openid` (else 401 `invalid_token` or 403 `insufficient_scope`,
    /// with the RFC 6750 challenge); a DPoP-bound token comes with its proof, naming the
    /// advertised userinfo URL ([`BearerRequest::with_dpop`]; the `axum` router passes the
    /// `DPoP` header on). The answer is `sub` and the claims its scopes release, with those
    /// the `userinfo` member of the authorization request's `claims` parameter names (OIDC
    /// Core §5.5; kept with the grant's tokens, refreshed ones too), from the
    /// [`ClaimsSource`](crate::oidc::ClaimsSource), as JSON; or, for a client that
    /// registered `userinfo_signed_response_alg`, as a JWT signed with that algorithm
    /// (`application/jwt`, with `iss`, `aud` the client and `iat`; OIDC Core §5.3.2). `sub`
    /// is the one the client knows (pairwise for a pairwise client; see
    /// [`SubjectType`](crate::SubjectType)).
    pub async fn userinfo(&self, request: &BearerRequest<'_>) -> Response {
        let openid = ScopeSet::from_tokens([OPENID]).unwrap_or_default();
        let principal = match self.validate_bearer(request, &openid).await {
            Ok(principal) => principal,
            Err(refusal) => return refusal.to_response(self),
        };
        // A token without a user (client credentials) has no one to describe.
        let Some(user) = principal.user() else {
            return BearerError::insufficient_scope(&openid).to_response(self);
        };
        // The scopes' claims, and those the `claims` request's `userinfo` member names
        // (OIDC Core §5.5), which the token carries from its authorization.
        let names = released(
            principal.scopes(),
            principal.claims_request(),
            ClaimsMember::UserInfo,
        );
        let internal = || {
            BearerError::new(
                ErrorCode::ServerError,
                "the authorization server met an internal error",
            )
            .to_response(self)
        };
        let cx = self.cx();
        // The client decides the `sub` (pairwise, OIDC Core §8.1) and the format (§5.3.2).
        let client = match cx.client(principal.client_id()).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return BearerError::new(
                    ErrorCode::InvalidToken,
                    "the access token's client no longer exists",
                )
                .to_response(self);
            }
            Err(error) => {
                tracing::error!(target: "tessera::oidc", %error, "reading the token's client failed");
                return internal();
            }
        };
        let Ok(sub) = crate::subject::subject_for(cx, &client, user) else {
            return internal();
        };
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), sub.into());
        let asked = ClaimsRequest {
            user,
            client_id: principal.client_id(),
            scopes: principal.scopes(),
            names: &names,
            target: ClaimsTarget::UserInfo,
        };
        match add_claims(self.cx(), &asked, &mut claims).await {
            Ok(true) => match client.metadata.userinfo_signed_response_alg.as_deref() {
                None => Response::json(200, &serde_json::Value::Object(claims)),
                Some(alg) => match signed(cx, &client, alg, claims).await {
                    Some(jwt) => Response {
                        status: 200,
                        headers: vec![
                            ("content-type", "application/jwt".into()),
                            ("cache-control", "no-store".into()),
                            ("pragma", "no-cache".into()),
                        ],
                        body: jwt.into_bytes(),
                    },
                    None => internal(),
                },
            },
            Ok(false) => BearerError::new(
                ErrorCode::InvalidToken,
                "the access token's user no longer exists",
            )
            .to_response(self),
            Err(error) => {
                tracing::error!(target: "tessera::oidc", %error, "the claims source failed");
                internal()
            }
        }
    }
}

/// The userinfo claims as a JWT (OIDC Core §5.3.2) signed with `alg`, with `iss` and `aud`
/// (the client) added. `None`: no active key for `alg`, or the signer failed (logged).
async fn signed(
    cx: &crate::provider::Context,
    client: &crate::client::Client,
    alg: &str,
    mut claims: serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let now = cx.unix_now();
    let signer = Algorithm::from_name(alg).and_then(|alg| cx.keys()?.signer(alg, now));
    let Some(signer) = signer else {
        tracing::error!(target: "tessera::oidc", alg, "no active signing key for the client's userinfo_signed_response_alg");
        return None;
    };
    claims.insert("iss".into(), cx.config().issuer().into());
    claims.insert("aud".into(), client.id.as_str().into());
    claims.insert("iat".into(), now.into());
    crate::jose::sign_claims(signer.as_ref(), &Typ::JWT, &claims)
        .await
        .map_err(|error| {
            tracing::error!(target: "tessera::oidc", %error, "signing a userinfo response failed");
        })
        .ok()
}
