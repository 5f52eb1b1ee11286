//! The one issuance step every token goes through, whatever the grant.
//!
//! A grant decides *what* to issue (an [`Issue`]: the client, the family, the scopes, whether a
//! refresh token comes too, a deadline no token may pass) and *how it is committed* (a
//! [`Commit`]: the store's atomic step that also does the grant's part). This module mints the
//! tokens, applies the lifetime policy and its caps, and commits them. There is no other way to
//! mint a token, so a property every token must have is written here once:
//! - it belongs to a grant family (the [`Grant`] it is issued in), and dies with it;
//! - it never outlives its family's deadline, nor the deadline the grant sets (a token
//!   exchanged from another never outlives it);
//! - only a grant a user gave may hold tokens that never expire;
//! - an access token carries the audience the grant decided (RFC 8707), a refresh token its
//!   grant's.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::client::Client;
use crate::error::OAuthError;
use crate::provider::Context;
use crate::response::{json_i64, json_scope, json_string};
use crate::scope::ScopeSet;
use crate::secret::{AccessToken, RefreshToken, TokenHash};
use crate::store::{
    CodeRedemption, Confirmation, DeviceRedemption, Family, Grant, GrantId, IssueOutcome,
    RetiredRefresh, Rotation, TokenRecord, TokenType,
};

/// The token type URI of an OAuth access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A successful token response (RFC 6749 §5.1), holding the plaintext tokens until they are
/// sent. The endpoint renders it in the provider's dialect.
#[derive(Debug)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds until the access token expires; `None` if it never does.
    pub expires_in: Option<i64>,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<RefreshToken>,
    /// The scopes the access token carries.
    pub scope: ScopeSet,
    /// For token exchange (RFC 8693 §2.2.1): the type of the issued token.
    pub issued_token_type: Option<&'static str>,
    /// `Bearer`, or `DPoP` for a token bound to a DPoP key (RFC 9449 §5).
    pub token_type: &'static str,
    /// The OpenID Connect ID token (OIDC Core §3.1.3.3), for a grant with scope `openid` on
    /// a provider with signing keys.
    pub id_token: Option<IdToken>,
}

/// A signed OpenID Connect ID token (a compact JWS). Its `Debug` is redacted: it carries the
/// user's claims.
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken(String);

impl IdToken {
    /// Wraps a compact JWS.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token, to send.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdToken(..)")
    }
}

/// The `token_type` of a bearer token (RFC 6750 §6.1.1).
pub(crate) const BEARER: &str = "Bearer";
/// The `token_type` of a DPoP-bound token (RFC 9449 §5).
pub(crate) const DPOP: &str = "DPoP";

/// The RFC 6749 §5.1 body, members in the order they are sent.
#[derive(Serialize, Deserialize)]
struct Body<'a> {
    access_token: &'a str,
    token_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
}

impl TokenResponse {
    /// The JSON body, serialised straight from the fields (no intermediate map).
    pub(crate) fn to_json_bytes(&self) -> Vec<u8> {
        // The bytes `serde_json` writes for `Body` (the tests compare them), written directly:
        // a string with nothing to escape, which every token and scope is, is copied as it is.
        // Room for three tokens and a few scopes: the body is written without growing.
        let mut json = Vec::with_capacity(256);
        json.extend_from_slice(br#"{"access_token":"#);
        json_string(&mut json, self.access_token.secret());
        json.extend_from_slice(br#","token_type":"#);
        json_string(&mut json, self.token_type);
        if let Some(expires_in) = self.expires_in {
            json.extend_from_slice(br#","expires_in":"#);
            json_i64(&mut json, expires_in);
        }
        if let Some(refresh) = &self.refresh_token {
            json.extend_from_slice(br#","refresh_token":"#);
            json_string(&mut json, refresh.secret());
        }
        if !self.scope.is_empty() {
            json.extend_from_slice(br#","scope":"#);
            json_scope(&mut json, &self.scope);
        }
        if let Some(kind) = self.issued_token_type {
            json.extend_from_slice(br#","issued_token_type":"#);
            json_string(&mut json, kind);
        }
        if let Some(id_token) = &self.id_token {
            json.extend_from_slice(br#","id_token":"#);
            json_string(&mut json, id_token.as_str());
        }
        json.push(b'}');
        json
    }

    /// The body's members as strings, in order, for dialects that filter or re-encode them.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("access_token", self.access_token.secret().to_owned()),
            ("token_type", self.token_type.to_owned()),
        ];
        if let Some(expires_in) = self.expires_in {
            fields.push(("expires_in", expires_in.to_string()));
        }
        if let Some(refresh) = &self.refresh_token {
            fields.push(("refresh_token", refresh.secret().to_owned()));
        }
        if !self.scope.is_empty() {
            fields.push(("scope", self.scope.to_string()));
        }
        if let Some(kind) = self.issued_token_type {
            fields.push(("issued_token_type", kind.to_owned()));
        }
        if let Some(id_token) = &self.id_token {
            fields.push(("id_token", id_token.as_str().to_owned()));
        }
        fields
    }

    /// Reads back what [`TokenResponse::to_json_bytes`] wrote (the refresh grace window keeps
    /// a sealed copy of a response to answer a replay with it).
    pub(crate) fn from_json_bytes(bytes: &[u8]) -> Option<Self> {
        let body: Body<'_> = serde_json::from_slice(bytes).ok()?;
        Some(Self {
            access_token: AccessToken::new(body.access_token),
            expires_in: body.expires_in,
            refresh_token: body.refresh_token.map(RefreshToken::new),
            scope: match body.scope {
                Some(text) => ScopeSet::parse(text).ok()?,
                None => ScopeSet::new(),
            },
            issued_token_type: match body.issued_token_type {
                Some(ACCESS_TOKEN_TYPE) => Some(ACCESS_TOKEN_TYPE),
                Some(_) => return None,
                None => None,
            },
            token_type: if body.token_type == DPOP {
                DPOP
            } else {
                BEARER
            },
            id_token: body.id_token.map(IdToken::new),
        })
    }
}

/// Whether a refresh token comes with the access token, and how its family's deadline is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// No refresh token.
    No,
    /// The first refresh token of a new grant: its family's deadline starts now.
    NewFamily,
    /// A successor on rotation: the family's deadline stays as it was.
    Successor(Option<OffsetDateTime>),
}

/// What a grant decided to issue.
#[derive(Debug)]
pub(crate) struct Issue<'a> {
    /// The client the tokens go to.
    pub(crate) client: &'a Client,
    /// The family the tokens belong to.
    pub(crate) grant: &'a Grant,
    /// The access token's scopes: the grant's, or fewer.
    pub(crate) scopes: ScopeSet,
    /// The access token's audience: the grant's, or fewer resources (RFC 8707). Refresh
    /// tokens keep the grant's.
    pub(crate) audience: Vec<String>,
    /// Whether a refresh token comes too.
    pub(crate) refresh: Refresh,
    /// A deadline no token of this issue may pass (a subject token's expiry).
    pub(crate) not_after: Option<OffsetDateTime>,
    /// For token exchange: the type of the issued token, echoed in the response.
    pub(crate) issued_token_type: Option<&'static str>,
    /// What the request's sender proved possession of (a DPoP key, RFC 9449 §5; a TLS client
    /// certificate, RFC 8705 §3): the access token is bound to it, and so is a public
    /// client's refresh token (RFC 9449 §5, §8; RFC 8705 §4).
    pub(crate) sender: Sender<'a>,
    /// An ID token comes too (a user's grant with scope `openid`).
    pub(crate) id_token: Option<IdTokenPlan<'a>>,
    /// The OpenID Connect `claims` request of the authorization (OIDC Core §5.5), kept on
    /// every token issued: the access token's for userinfo, the refresh token's for the
    /// tokens of the next refresh.
    pub(crate) claims: Option<&'a str>,
}

/// What a token request's sender proved possession of, for sender-constrained tokens.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sender<'a> {
    /// The RFC 7638 thumbprint of the request's DPoP proof key (RFC 9449 §5).
    pub(crate) dpop_jkt: Option<&'a str>,
    /// The `x5t#S256` of the TLS client certificate the request came with (RFC 8705), whether
    /// or not tokens are bound to it: a bound refresh token is checked against it.
    pub(crate) certificate: Option<&'a str>,
    /// Whether the tokens are bound to that certificate (RFC 8705 §3: the client's
    /// `tls_client_certificate_bound_access_tokens`, or the provider's setting).
    pub(crate) bind_certificate: bool,
}

impl<'a> Sender<'a> {
    /// What a token request by `client` binds its tokens to, given the thumbprints of its
    /// DPoP proof key (`jkt`) and TLS client certificate; refused when the client, the
    /// provider or its profile requires bound tokens and the request binds nothing:
    /// - RFC 8705 §3: a certificate binds the tokens when the client registered
    ///   `tls_client_certificate_bound_access_tokens`, the provider binds every certificate,
    ///   or under FAPI 2.0; a client that registered it and sends neither a certificate nor
    ///   a proof gets `invalid_request`, never a plain bearer token.
    /// - RFC 9449 §5.2: a client that registered `dpop_bound_access_tokens` needs a proof.
    /// - FAPI 2.0 §5.3.2.1: every token is sender-constrained, by DPoP or certificate.
    pub(crate) fn of_request(
        config: &crate::Config,
        client: &Client,
        jkt: Option<&'a str>,
        certificate: Option<&'a str>,
    ) -> Result<Self, OAuthError> {
        let registered_certificate = client.metadata.tls_client_certificate_bound_access_tokens;
        let sender = Self {
            dpop_jkt: jkt,
            certificate,
            bind_certificate: registered_certificate
                || config.certificate_bound_access_tokens
                || config.fapi2(),
        };
        let dpop_required = client.metadata.dpop_bound_access_tokens;
        let bound = if dpop_required {
            jkt.is_some()
        } else {
            sender.is_bound()
        };
        if !bound && (dpop_required || config.fapi2()) {
            return Err(OAuthError::new(
                crate::ErrorCode::InvalidDpopProof,
                "this client's tokens are sender-constrained: the token request needs a DPoP proof (or, under FAPI 2.0, the client's TLS certificate)",
            ));
        }
        if !bound && registered_certificate {
            return Err(OAuthError::invalid_request(
                "the client registered tls_client_certificate_bound_access_tokens: present its certificate in the TLS handshake",
            ));
        }
        Ok(sender)
    }

    /// Whether the issued tokens are bound to anything (what [`Sender::confirmation`] would
    /// return, without allocating it).
    fn is_bound(&self) -> bool {
        self.dpop_jkt.is_some() || (self.certificate.is_some() && self.bind_certificate)
    }

    /// The `cnf` of the issued tokens: the DPoP key when the request had a proof (the client
    /// asked for DPoP explicitly), else the certificate when tokens are bound to it.
    pub(crate) fn confirmation(&self) -> Option<Confirmation> {
        match (self.dpop_jkt, self.certificate) {
            (Some(jkt), _) => Some(Confirmation::Jkt(jkt.to_owned())),
            (None, Some(x5t)) if self.bind_certificate => {
                Some(Confirmation::X5tS256(x5t.to_owned()))
            }
            _ => None,
        }
    }
}

/// What the ID token of an issue says beyond the grant: the authorization request's `nonce`
/// (none on refresh, OIDC Core §12.2), its `claims` request and how the user authenticated
/// (on refresh, both as the refresh token kept them).
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "jose"), allow(dead_code))]
pub(crate) struct IdTokenPlan<'a> {
    pub(crate) nonce: Option<&'a str>,
    pub(crate) claims: Option<&'a str>,
    pub(crate) authentication: Option<&'a crate::store::Authentication>,
}

/// Makes the refresh grace window's sealed copy of a successor response.
pub(crate) type Sealer<'a> = &'a (dyn Fn(&TokenResponse) -> Option<Vec<u8>> + Sync);

/// The atomic store step that commits an [`Issue`] together with the grant's own part.
pub(crate) enum Commit<'a> {
    /// Create the issue's grant with the tokens (client credentials, a host-validated token
    /// exchange).
    NewGrant,
    /// Add the tokens to the issue's grant, which must still be active (a refresh without
    /// rotation, an exchange joining the subject token's family).
    Join,
    /// Spend the authorization code with this hash and store the tokens in its grant.
    RedeemCode(&'a TokenHash),
    /// Flip the approved device authorization with this device-code hash to redeemed and
    /// store the tokens in its grant.
    RedeemDevice(&'a TokenHash),
    /// Retire the refresh token `old` and store its successor in one step; `seal` makes the
    /// grace window's sealed copy of the response, if there is one.
    Rotate {
        old: &'a TokenHash,
        seal: Option<Sealer<'a>>,
    },
}

/// What committing found.
#[derive(Debug)]
pub(crate) enum Issued {
    /// The tokens are stored: send them.
    Tokens(TokenResponse),
    /// A rotation lost to another use of the same refresh token: the retired record of the
    /// winner (the caller decides between the grace window and reuse).
    AlreadyRotated(Box<RetiredRefresh>),
    /// The code was spent already: a replay. The store revoked its grant in the same step.
    Replayed(GrantId),
    /// Nothing was stored: the grant was revoked, its client deleted, the code, device
    /// approval or refresh token is unknown or used up.
    Refused,
}

/// Mints, caps and commits. The only function that makes tokens.
pub(crate) async fn issue(
    cx: &Context,
    issue: Issue<'_>,
    commit: Commit<'_>,
) -> Result<Issued, OAuthError> {
    let jwt = cx.config().jwt_for(&issue.audience);
    let (mut response, mut records) = mint(cx, &issue, jwt);
    // Signed before anything is stored: a token that cannot be signed stores nothing. The
    // JWT replaces the opaque token, its record keyed by the JWT's hash (the ID token's
    // `at_hash` is then the JWT's).
    if jwt && let Some(record) = records.first_mut() {
        let token = access_jwt(cx, &issue, record).await?;
        record.hash = TokenHash::of(&token);
        response.access_token = AccessToken::new(token);
    }
    if let Some(plan) = &issue.id_token {
        response.id_token = id_token(cx, &issue, plan, &response).await?;
    }
    // Before the commit: a client is never left with tokens yet still expiring unused.
    cx.mark_used(issue.client).await?;
    let store = cx.store();
    Ok(match commit {
        Commit::NewGrant | Commit::Join => {
            let family = match commit {
                Commit::NewGrant => Family::New(issue.grant),
                _ => Family::Existing(&issue.grant.id),
            };
            match store.issue_tokens(family, &records).await? {
                IssueOutcome::Stored => Issued::Tokens(response),
                _ => Issued::Refused,
            }
        }
        Commit::RedeemCode(code) => match store.redeem_code(code, &records).await? {
            CodeRedemption::Redeemed => Issued::Tokens(response),
            CodeRedemption::Replayed(grant) => Issued::Replayed(grant),
            _ => Issued::Refused,
        },
        Commit::RedeemDevice(device) => match store.redeem_device(device, &records).await? {
            DeviceRedemption::Redeemed => Issued::Tokens(response),
            _ => Issued::Refused,
        },
        Commit::Rotate { old, seal } => {
            let sealed = seal.and_then(|seal| seal(&response));
            match store
                .rotate_refresh(old, &records, sealed, cx.now())
                .await?
            {
                Rotation::Rotated => Issued::Tokens(response),
                Rotation::AlreadyRetired(retired) => Issued::AlreadyRotated(Box::new(retired)),
                _ => Issued::Refused,
            }
        }
    })
}

/// The ID token of `issue` (`None` for a grant without a user).
#[cfg(feature = "jose")]
async fn id_token(
    cx: &Context,
    issue: &Issue<'_>,
    plan: &IdTokenPlan<'_>,
    response: &TokenResponse,
) -> Result<Option<IdToken>, OAuthError> {
    crate::oidc::id_token(
        cx,
        issue.client,
        issue.grant,
        &issue.scopes,
        plan,
        &response.access_token,
    )
    .await
}

/// Without the `jose` feature nothing can sign: a provider offering `openid` answers
/// `server_error`.
#[cfg(not(feature = "jose"))]
async fn id_token(
    _: &Context,
    _: &Issue<'_>,
    _: &IdTokenPlan<'_>,
    _: &TokenResponse,
) -> Result<Option<IdToken>, OAuthError> {
    tracing::error!(target: "tessera::oidc", "an ID token was asked for, but the jose feature is off");
    Err(OAuthError::server_error())
}

/// The RFC 9068 JWT of the access token `record` (`crate::jwt_access`).
#[cfg(feature = "jose")]
async fn access_jwt(
    cx: &Context,
    issue: &Issue<'_>,
    record: &TokenRecord,
) -> Result<String, OAuthError> {
    crate::jwt_access::sign(cx, issue, record).await
}

/// Without the `jose` feature nothing can sign: a provider configured for JWT access tokens
/// answers `server_error`.
#[cfg(not(feature = "jose"))]
async fn access_jwt(_: &Context, _: &Issue<'_>, _: &TokenRecord) -> Result<String, OAuthError> {
    tracing::error!(target: "tessera::jwt_access", "JWT access tokens are configured, but the jose feature is off");
    Err(OAuthError::server_error())
}

/// The tokens of an issue and the records stores keep of them, with every cap applied. A JWT
/// access token (`jwt`) always has an end, within the key set's token lifetime, so that the
/// key that signed it stays published while it is valid.
fn mint(cx: &Context, issue: &Issue<'_>, jwt: bool) -> (TokenResponse, Vec<TokenRecord>) {
    let now = cx.now();
    let expiry = cx.expiry();
    let client = issue.client;
    let grant = issue.grant;
    let user_grant = grant.user.is_some();
    let lifetimes = &cx.config().lifetimes;
    // Only a grant a user gave, and can see and revoke, may hold tokens that never expire: a
    // client acting for itself gets finite tokens whatever the policy says.
    let access_ttl = match expiry.access_token(client, &issue.scopes) {
        None if !user_grant => Some(lifetimes.access_token),
        ttl => ttl,
    };
    let mut access_expires = access_ttl.map(|ttl| now + ttl);
    if jwt {
        let cap = now + jwt_lifetime_cap(cx).unwrap_or(lifetimes.access_token);
        access_expires = earliest(access_expires, Some(cap));
    }
    access_expires = earliest(access_expires, issue.not_after);
    let (access, access_hash) = AccessToken::generate_hashed(cx.entropy());
    let mut records = Vec::with_capacity(2);
    let refresh = match issue.refresh {
        Refresh::No => None,
        Refresh::NewFamily | Refresh::Successor(_) => {
            let family_expires_at = match issue.refresh {
                Refresh::Successor(at) => at,
                _ => match expiry.refresh_family(client, &grant.scopes) {
                    None if !user_grant => Some(now + lifetimes.refresh_family),
                    ttl => ttl.map(|ttl| now + ttl),
                },
            };
            let family_expires_at = earliest(family_expires_at, issue.not_after);
            // A family that has ended gives no successor; the access token is capped by it.
            let own = match expiry.refresh_token(client, &grant.scopes) {
                None if !user_grant => Some(now + lifetimes.refresh_token),
                ttl => ttl.map(|ttl| now + ttl),
            };
            let expires_at = earliest(own, family_expires_at);
            let (token, hash) = RefreshToken::generate_hashed(cx.entropy());
            let mut record = TokenRecord::new(
                hash,
                TokenType::Refresh,
                grant,
                grant.scopes.clone(),
                now,
                expires_at,
                family_expires_at,
            );
            // A confidential client's refresh token is bound by its authentication already.
            if let (Some(confirmation), true) = (issue.sender.confirmation(), client.is_public()) {
                record = record.with_confirmation(confirmation);
            }
            // What the ID tokens of later refreshes repeat (OIDC Core §12.2).
            record.authentication.clone_from(&grant.authentication);
            record.claims = issue.claims.map(str::to_owned);
            records.push(record);
            Some(token)
        }
    };
    // Access token first: stores that keep the first record for lookups see it at once.
    let mut access_record = TokenRecord::new(
        access_hash,
        TokenType::Access,
        grant,
        issue.scopes.clone(),
        now,
        access_expires,
        None,
    );
    // `new` copied the grant's audience; the access token's may be narrower (reusing the
    // copy's allocation, the common case being the same list).
    access_record.audience.clone_from(&issue.audience);
    if let Some(confirmation) = issue.sender.confirmation() {
        access_record = access_record.with_confirmation(confirmation);
    }
    // The userinfo endpoint reads the `claims` request's `userinfo` member from here.
    access_record.claims = issue.claims.map(str::to_owned);
    records.insert(0, access_record);
    let expires_in = access_expires.map(|at| (at - now).whole_seconds().max(0));
    (
        TokenResponse {
            access_token: access,
            expires_in,
            refresh_token: refresh,
            scope: issue.scopes.clone(),
            issued_token_type: issue.issued_token_type,
            // RFC 8705 §3: a certificate-bound token is still a Bearer token.
            token_type: if issue.sender.dpop_jkt.is_some() {
                DPOP
            } else {
                BEARER
            },
            id_token: None,
        },
        records,
    )
}

/// The longest a JWT access token may live: the key set's token lifetime.
#[cfg(feature = "jose")]
fn jwt_lifetime_cap(cx: &Context) -> Option<time::Duration> {
    cx.keys().map(crate::jose::KeySet::max_token_lifetime)
}

#[cfg(not(feature = "jose"))]
fn jwt_lifetime_cap(_: &Context) -> Option<time::Duration> {
    None
}

/// The earlier of two optional deadlines (`None`: no deadline).
fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn the_body_round_trips_and_keeps_its_member_order() {
        let entropy = SeededEntropy::new(3);
        for (expires_in, refresh, scope, kind, token_type) in [
            (Some(3600), true, "read write", None, BEARER),
            (None, false, "", None, DPOP),
            (Some(0), false, "read", Some(ACCESS_TOKEN_TYPE), BEARER),
            (None, true, "", None, DPOP),
        ] {
            let response = TokenResponse {
                access_token: AccessToken::generate(&entropy),
                expires_in,
                refresh_token: refresh.then(|| RefreshToken::generate(&entropy)),
                scope: ScopeSet::parse(scope).unwrap_or_default(),
                issued_token_type: kind,
                token_type,
                id_token: refresh.then(|| IdToken::new("a.b.c")),
            };
            let bytes = response.to_json_bytes();
            // The direct writer writes what `serde_json` writes for the body.
            let scope = (!response.scope.is_empty()).then(|| response.scope.to_string());
            let body = Body {
                access_token: response.access_token.secret(),
                token_type: response.token_type,
                expires_in: response.expires_in,
                refresh_token: response.refresh_token.as_ref().map(RefreshToken::secret),
                scope: scope.as_deref(),
                issued_token_type: response.issued_token_type,
                id_token: response.id_token.as_ref().map(IdToken::as_str),
            };
            assert_eq!(serde_json::to_vec(&body).ok(), Some(bytes.clone()));
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert!(text.starts_with(r#"{"access_token":"tsr_at_"#), "{text}");
            let back = TokenResponse::from_json_bytes(&bytes).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(back.to_json_bytes(), bytes);
            let names: Vec<_> = response.fields().iter().map(|(n, _)| *n).collect();
            let order: Vec<_> = [
                "access_token",
                "token_type",
                "expires_in",
                "refresh_token",
                "scope",
                "issued_token_type",
                "id_token",
            ]
            .into_iter()
            .filter(|n| names.contains(n))
            .collect();
            assert_eq!(names, order);
        }
    }

    #[test]
    fn earliest_deadline_wins() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let later = t + time::Duration::seconds(5);
        assert_eq!(earliest(Some(t), Some(later)), Some(t));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(earliest(None, None), None);
    }
}
