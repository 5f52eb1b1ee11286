//! JWT client assertions, `private_key_jwt` and `client_secret_jwt` (RFC 7523 §2.2 and §3,
//! OpenID Connect Core §9, the audience rule of draft-ietf-oauth-rfc7523bis): a client proves
//! who it is with a JWT signed by a key of its registered `jwks`, or with HS256 keyed by its
//! client secret, each `jti` accepted once across every instance through the
//! [`ReplayStore`](crate::store::ReplayStore). Both methods share every claim check.
//!
//! A `client_secret_jwt` secret is derived by the provider, never stored (see
//! `derived_secret.rs`): the provider recomputes it from its key, the client ID and the salt
//! in the stored [`SecretHash::Derived`](crate::SecretHash::Derived), checks it against the
//! stored hash, and verifies the HS256 tag with it. HS256 is accepted only from a client
//! registered with `client_secret_jwt`, and such a client only with HS256: a `private_key_jwt`
//! client's assertion can never be checked as an HMAC, nor the other way round. The audience
//! is the issuer (or the token endpoint URL), never an RFC 8705 mTLS endpoint alias.
//!
//! What a refusal says depends on who could be asking. Checks of the request itself (the
//! assertion type, the JWS structure, `typ`, `client_id` against `sub`) say what is wrong;
//! everything up to a verified signature (an unknown client, one of another method, a key or
//! algorithm it did not register, a bad signature) reads "client authentication failed", as a
//! wrong secret does, so nobody learns how a client authenticates; once the signature is
//! verified the caller holds the client's key, and the claim checks say which claim is wrong.

use serde::Deserialize;

use crate::audit::AuditEvent;
use crate::cimd::ResolveError;
use crate::client::{AuthMethod, Client, ClientId};
use crate::endpoint::client_auth::AuthFailure;
use crate::error::{ErrorCode, OAuthError};
use crate::jose::{Algorithm, Audience, Hs256Jws, JwsError, Typ, UnverifiedJws};
use crate::provider::Provider;
use crate::secret::ClientSecret;
use crate::store::ReplayKey;

/// The one `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest `client_assertion` read: an assertion signed with an 8192-bit RSA key fits.
const MAX_ASSERTION_LEN: usize = 8 * 1024;
/// How far in the future `exp` may be (RFC 7523 §3 leaves it to the server): an assertion
/// is made for one request, so a long-lived one is only good for replaying.
pub(crate) const MAX_LIFETIME_SECONDS: i64 = 300;
/// The clock difference tolerated in `exp`, `nbf` and `iat`.
pub(crate) const LEEWAY_SECONDS: i64 = 60;
/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;

fn invalid_client(description: &'static str) -> AuthFailure {
    AuthFailure::from(OAuthError::new(ErrorCode::InvalidClient, description))
}

/// The claims an assertion is checked on; others are ignored. Read once unverified (only
/// `sub`, to find the client) and again from the verified payload.
#[derive(Deserialize)]
struct AssertionClaims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// The signed token of an assertion: an asymmetric JWS (`private_key_jwt`) or an HS256 one
/// (`client_secret_jwt`).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per request, and `Credentials` boxes the assertion
enum Signed {
    Key(UnverifiedJws),
    Secret(Hs256Jws),
}

impl Signed {
    fn typ(&self) -> Option<&str> {
        match self {
            Self::Key(jws) => jws.header().typ(),
            Self::Secret(jws) => jws.typ(),
        }
    }
}

/// A client assertion whose structure, header and `sub` passed the checks that need no
/// client; its signature is not verified.
#[derive(Debug)]
pub(crate) struct Assertion {
    jws: Signed,
    client_id: ClientId,
}

impl Assertion {
    /// Reads the assertion of a request whose `client_assertion_type` is [`ASSERTION_TYPE`];
    /// `client_id` is the request's `client_id` parameter, if it has one (it must be `sub`).
    pub(crate) fn parse(assertion: &str, client_id: Option<&str>) -> Result<Self, AuthFailure> {
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(invalid_client("the client_assertion is too long"));
        }
        let refused = |error| {
            invalid_client(match error {
                JwsError::AlgNone | JwsError::UnsupportedAlgorithm => {
                    "the client_assertion's alg is not accepted (RS256, ES256, EdDSA or PS256; HS256 for client_secret_jwt)"
                }
                JwsError::Critical => "the client_assertion has a crit header, which is refused",
                _ => "the client_assertion is not a valid compact JWS",
            })
        };
        let jws = match UnverifiedJws::parse_with_limit(assertion, MAX_ASSERTION_LEN) {
            Ok(jws) => Signed::Key(jws),
            // The one place an HMAC is read: whether it may be is decided by the client's
            // method, once the client is known.
            Err(JwsError::UnsupportedAlgorithm) => {
                Signed::Secret(Hs256Jws::parse(assertion, MAX_ASSERTION_LEN).map_err(refused)?)
            }
            Err(error) => return Err(refused(error)),
        };
        if !assertion_typ(jws.typ()).matches(jws.typ()) {
            return Err(invalid_client(
                "the client_assertion's typ must be JWT or client-authentication+jwt",
            ));
        }
        let unverified = match &jws {
            Signed::Key(jws) => jws.unverified_claims(),
            Signed::Secret(jws) => jws.unverified_claims(),
        };
        let claims: AssertionClaims = unverified.map_err(|_| {
            invalid_client(
                "the client_assertion's claims are not a JSON object of the RFC 7519 types",
            )
        })?;
        let sub = claims
            .sub
            .ok_or_else(|| invalid_client("the client_assertion has no sub (the client_id)"))?;
        let sub = ClientId::new(sub)
            .map_err(|_| invalid_client("the client_assertion's sub is not a client_id"))?;
        if client_id.is_some_and(|id| id != sub.as_str()) {
            return Err(invalid_client(
                "client_id differs from the client_assertion's sub",
            ));
        }
        Ok(Self {
            jws,
            client_id: sub,
        })
    }

    /// The client the assertion claims to be.
    pub(crate) fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// Verifies the assertion for `client`: the signature (with a key of its `jwks` and an
    /// algorithm it allows, or with its derived secret), then the claims. `secret` is the
    /// client's secret, for a `client_secret_jwt` client; `audiences` are the values `aud`
    /// may name; `now` is unix seconds.
    fn verify(
        self,
        client: &Client,
        secret: Option<&ClientSecret>,
        audiences: [&str; 2],
        now: i64,
    ) -> Result<Checked, Refusal> {
        let typ = assertion_typ(self.jws.typ());
        let signature_failed = |error| {
            Refusal::Unproven(match error {
                JwsError::UnknownKey => "no key of the client's jwks fits the kid and alg",
                _ => "the signature does not verify",
            })
        };
        let claims: Result<AssertionClaims, JwsError> = match (self.jws, client.auth_method) {
            (Signed::Key(jws), AuthMethod::PrivateKeyJwt) => {
                let Some(keys) = client.metadata.jwks.as_ref() else {
                    return Err(Refusal::Unproven("the client has no jwks"));
                };
                let alg = jws.header().algorithm();
                let allowed = match client.metadata.token_endpoint_auth_signing_alg.as_deref() {
                    Some(registered) => Algorithm::from_name(registered) == Some(alg),
                    None => true,
                };
                if !allowed {
                    return Err(Refusal::Unproven(
                        "the alg is not the client's token_endpoint_auth_signing_alg",
                    ));
                }
                let verified = jws.verify_with_set(keys, &typ).map_err(signature_failed)?;
                verified.claims()
            }
            (Signed::Secret(jws), AuthMethod::ClientSecretJwt) => {
                let Some(secret) = secret else {
                    return Err(Refusal::Unproven("no derived secret for the client"));
                };
                let payload = jws
                    .verify(secret.secret().as_bytes(), &typ)
                    .map_err(signature_failed)?;
                crate::jose::verified_claims(&payload)
            }
            (Signed::Key(_), _) => {
                return Err(Refusal::Unproven("the client does not use private_key_jwt"));
            }
            (Signed::Secret(_), _) => {
                return Err(Refusal::Unproven(
                    "the client does not use client_secret_jwt",
                ));
            }
        };
        // From here on the caller holds the client's key: each refusal says what is wrong.
        let claims = claims.map_err(|_| {
            Refusal::Claims("the client_assertion's claims are not of the RFC 7519 types")
        })?;
        let id = client.id.as_str();
        if claims.iss.as_deref() != Some(id) || claims.sub.as_deref() != Some(id) {
            return Err(Refusal::Claims(
                "the client_assertion's iss and sub must both be the client_id",
            ));
        }
        // rfc7523bis §4: the issuer as the *sole* audience, compared as strings; so that an
        // assertion made for several servers is good at none. The token endpoint URL is still
        // accepted (RFC 7523 §3, and clients not yet updated).
        let sole = match &claims.aud {
            Some(Audience::One(aud)) => Some(aud.as_str()),
            Some(Audience::Many(list)) if list.len() == 1 => list.first().map(String::as_str),
            _ => None,
        };
        if !sole.is_some_and(|aud| audiences.contains(&aud)) {
            return Err(Refusal::Claims(
                "the client_assertion's aud must be the issuer (or the token endpoint URL) alone",
            ));
        }
        let Some(exp) = claims.exp else {
            return Err(Refusal::Claims("the client_assertion has no exp"));
        };
        if now >= exp.saturating_add(LEEWAY_SECONDS) {
            return Err(Refusal::Claims("the client_assertion has expired (exp)"));
        }
        if exp > now.saturating_add(MAX_LIFETIME_SECONDS + LEEWAY_SECONDS) {
            return Err(Refusal::Claims(
                "the client_assertion is valid for too long: exp must be at most 5 minutes ahead",
            ));
        }
        let ahead =
            |time: Option<i64>| time.is_some_and(|t| t > now.saturating_add(LEEWAY_SECONDS));
        if ahead(claims.nbf) || ahead(claims.iat) {
            return Err(Refusal::Claims(
                "the client_assertion is not valid yet (nbf or iat in the future)",
            ));
        }
        let jti = match claims.jti {
            Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti,
            _ => {
                return Err(Refusal::Claims(
                    "the client_assertion needs a jti of 1 to 256 characters",
                ));
            }
        };
        Ok(Checked {
            replay_key: ReplayKey::new("client-assertion", &[id, &jti]),
            // Accepted until `exp` plus the leeway: remembered exactly that long.
            replay_until: exp.saturating_add(LEEWAY_SECONDS).saturating_add(1),
        })
    }
}

/// The `typ` an assertion is verified with: `client-authentication+jwt` if it says so,
/// otherwise `JWT` or none (RFC 7523 assertions predate explicit typing).
fn assertion_typ(typ: Option<&str>) -> Typ {
    if Typ::CLIENT_AUTH_JWT.matches(typ) {
        Typ::CLIENT_AUTH_JWT
    } else {
        Typ::JWT.or_absent()
    }
}

/// An assertion that passed every check but the replay check.
struct Checked {
    replay_key: ReplayKey,
    replay_until: i64,
}

/// Why a verification failed: before the signature verified (said to the caller only as
/// "client authentication failed"), or after.
enum Refusal {
    Unproven(&'static str),
    Claims(&'static str),
}

impl Provider {
    /// Authenticates a client by its assertion: the client it names, the checks of
    /// [`Assertion::verify`], then its `jti` once in the shared replay store.
    pub(crate) async fn authenticate_assertion(
        &self,
        assertion: Assertion,
    ) -> Result<Client, AuthFailure> {
        let id = assertion.client_id().clone();
        let failed = |provider: &Provider, description| {
            provider.cx().audit(AuditEvent::ClientAuthFailed {
                client_id: Some(id.clone()),
            });
            invalid_client(description)
        };
        let client = match self.resolve_client(&id).await {
            Ok(Some(client)) => client,
            Ok(None) => return Err(failed(self, "client authentication failed")),
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
        let config = self.config();
        let token_endpoint = config.endpoint_url(&config.endpoints.token);
        let now = self.cx().unix_now();
        // FAPI 2.0 §5.3.2.1: the issuer alone; FAPI 2.0 §5.4: no RS256.
        let audiences = if config.fapi2() {
            [config.issuer(), config.issuer()]
        } else {
            [config.issuer(), &token_endpoint]
        };
        let allowed = match &assertion.jws {
            Signed::Key(jws) => config.profile_allows(jws.header().algorithm()),
            // FAPI 2.0 §5.3.2.1: no symmetric client authentication.
            Signed::Secret(_) => self.cx().offers_client_secret_jwt(),
        };
        if !allowed && config.fapi2() {
            return Err(failed(
                self,
                "this server follows FAPI 2.0: the client_assertion must be signed with PS256, ES256 or EdDSA",
            ));
        }
        // A client_secret_jwt client's secret, derived again; `None` (the assertion fails
        // as unproven) if the provider has no key or none of its keys derived the stored one.
        let secret = match (&assertion.jws, client.auth_method, &client.secret) {
            (Signed::Secret(_), AuthMethod::ClientSecretJwt, Some(stored)) => {
                let secret = self
                    .cx()
                    .client_secret_keys()
                    .and_then(|keys| keys.secret_of(&client.id, stored));
                if secret.is_none() {
                    tracing::warn!(target: "tessera::client_auth", client_id = %id, "a client_secret_jwt client whose secret no client_secret_jwt key of this provider derives (the key was changed without client_secret_jwt_previous_key, or removed)");
                }
                secret
            }
            _ => None,
        };
        let checked = match assertion.verify(&client, secret.as_ref(), audiences, now) {
            Ok(checked) => checked,
            Err(Refusal::Unproven(why)) => {
                tracing::debug!(client_id = %id, why, "client assertion refused");
                return Err(failed(self, "client authentication failed"));
            }
            Err(Refusal::Claims(why)) => return Err(failed(self, why)),
        };
        let until = time::OffsetDateTime::from_unix_timestamp(checked.replay_until)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let first = self
            .cx()
            .store()
            .remember(&checked.replay_key, self.now(), until)
            .await
            .map_err(|e| AuthFailure::from(OAuthError::from(e)))?;
        if first {
            Ok(client)
        } else {
            Err(failed(
                self,
                "the client_assertion was used before (its jti)",
            ))
        }
    }
}
