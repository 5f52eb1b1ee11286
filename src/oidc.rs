//! OpenID Connect (Core 1.0): the user's claims, which the host supplies through a
//! [`ClaimsSource`], and the ID tokens the issuance step signs with the provider's
//! [`KeySet`](crate::jose::KeySet) (feature `jose`).
//!
//! A provider speaks OpenID Connect once it has signing keys
//! ([`ProviderBuilder::signing_keys`](crate::ProviderBuilder::signing_keys)) and offers the
//! `openid` scope: a code redeemed for a grant with `openid` then returns an `id_token`, the
//! userinfo endpoint ([`Provider::userinfo`](crate::Provider::userinfo)) answers, and the
//! metadata document doubles as `/.well-known/openid-configuration`.

use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256, Sha512};

use crate::client::{Client, ClientId, UserId};
use crate::error::{OAuthError, StoreError};
use crate::grant::issue::{IdToken, IdTokenPlan};
use crate::grant::openid::{ClaimsMember, requested_claims};
use crate::jose::{Algorithm, Typ};
use crate::provider::Context;
use crate::scope::ScopeSet;
use crate::secret::AccessToken;
use crate::store::Grant;

/// How long an ID token is valid (`exp - iat`): ten minutes. The key set's
/// `max_token_lifetime` must be at least this long, so that a retired key stays published
/// while tokens it signed are still valid.
pub const ID_TOKEN_LIFETIME: time::Duration = time::Duration::minutes(10);

/// The claims each standard scope releases (OIDC Core §5.4).
pub const SCOPE_CLAIMS: [(&str, &[&str]); 4] = [
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Claims only the provider writes: a [`ClaimsSource`]'s value for one of them is ignored.
pub const PROTECTED_CLAIMS: [&str; 15] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
];

/// The claims a host has about a user (OIDC Core §5.1): names and JSON values. `sub` is
/// always the [`UserId`] (or, for a pairwise client, derived from it: see
/// [`SubjectType`](crate::SubjectType)) and never taken from here; nor is any of [`PROTECTED_CLAIMS`].
///
/// ```
/// use tessera::oidc::UserClaims;
///
/// let claims = UserClaims::new()
///     .with_string("name", "Demo User")
///     .with_string("email", "demo@example.com")
///     .with_bool("email_verified", true)
///     .with_json("address", r#"{"country":"NL"}"#)?;
/// assert_eq!(claims.get_str("name"), Some("Demo User"));
/// assert!(UserClaims::new().with_json("address", "{oops").is_err());
/// # Ok::<(), tessera::oidc::ClaimsError>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct UserClaims {
    members: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for UserClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Personal data: names only.
        f.debug_set().entries(self.members.keys()).finish()
    }
}

/// A claim value that is not valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the claim {0} is not valid JSON")]
pub struct ClaimsError(String);

impl UserClaims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a string claim.
    pub fn with_string(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.members.insert(name.into(), value.into().into());
        self
    }

    /// Sets a boolean claim (`email_verified`, `phone_number_verified`).
    pub fn with_bool(mut self, name: impl Into<String>, value: bool) -> Self {
        self.members.insert(name.into(), value.into());
        self
    }

    /// Sets a number claim (`updated_at`).
    pub fn with_number(mut self, name: impl Into<String>, value: i64) -> Self {
        self.members.insert(name.into(), value.into());
        self
    }

    /// Sets a claim to a JSON value given as text (an `address` object, an array).
    pub fn with_json(mut self, name: impl Into<String>, json: &str) -> Result<Self, ClaimsError> {
        let name = name.into();
        let value = serde_json::from_str(json).map_err(|_| ClaimsError(name.clone()))?;
        self.members.insert(name, value);
        Ok(self)
    }

    /// The string claim `name`, if set and a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.members.get(name).and_then(serde_json::Value::as_str)
    }

    /// Whether a claim `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }
}

/// Where claims are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimsTarget {
    /// Into an ID token.
    IdToken,
    /// Into a userinfo response.
    UserInfo,
}

/// What a [`ClaimsSource`] is asked for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClaimsRequest<'a> {
    /// The user (the `sub`).
    pub user: &'a UserId,
    /// The client that will receive the claims.
    pub client_id: &'a ClientId,
    /// The scopes granted.
    pub scopes: &'a ScopeSet,
    /// The claim names the provider will release (from the scopes and the `claims`
    /// request): the source may return only these, or more (the rest is dropped).
    pub names: &'a [String],
    /// Where the claims go.
    pub target: ClaimsTarget,
}

/// The host's users' claims. Every future it returns is `Send`.
///
/// ```
/// use tessera::{async_trait, StoreError};
/// use tessera::oidc::{ClaimsRequest, ClaimsSource, UserClaims};
///
/// #[derive(Debug)]
/// struct Directory;
///
/// #[async_trait]
/// impl ClaimsSource for Directory {
///     async fn claims(&self, request: &ClaimsRequest<'_>) -> Result<Option<UserClaims>, StoreError> {
///         Ok((request.user.as_str() == "demo").then(|| {
///             UserClaims::new().with_string("preferred_username", "demo")
///         }))
///     }
/// }
/// ```
#[async_trait]
pub trait ClaimsSource: Send + Sync + fmt::Debug {
    /// The claims of `request.user`; `None` if the user no longer exists (the userinfo
    /// endpoint then answers `invalid_token`; an ID token carries `sub` only).
    async fn claims(&self, request: &ClaimsRequest<'_>) -> Result<Option<UserClaims>, StoreError>;
}

/// The claim names released to a holder of `scopes`, plus those the `claims` request asks
/// for in `member`.
pub(crate) fn released(
    scopes: &ScopeSet,
    claims: Option<&str>,
    member: ClaimsMember,
) -> Vec<String> {
    let mut names: Vec<String> = SCOPE_CLAIMS
        .iter()
        .filter(|(scope, _)| scopes.contains(scope))
        .flat_map(|(_, claims)| claims.iter().map(|c| (*c).to_owned()))
        .collect();
    for name in requested_claims(claims, member) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.retain(|name| !PROTECTED_CLAIMS.contains(&name.as_str()));
    names
}

/// Asks the source for `request`'s claims and adds the released ones to `into`. `Ok(false)`:
/// the user no longer exists.
pub(crate) async fn add_claims(
    cx: &Context,
    request: &ClaimsRequest<'_>,
    into: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<bool, StoreError> {
    let Some(source) = cx.claims_source() else {
        return Ok(true);
    };
    if request.names.is_empty() && request.target == ClaimsTarget::IdToken {
        return Ok(true);
    }
    let Some(claims) = source.claims(request).await? else {
        return Ok(false);
    };
    for (name, value) in claims.members {
        if request.names.contains(&name) && !into.contains_key(&name) {
            into.insert(name, value);
        }
    }
    Ok(true)
}

/// The registered claims of an ID token this provider signed (with a published key; `iss`
/// ours), expired or not: an `id_token_hint` (OIDC Core §3.1.2.1). `None` for anything else.
pub(crate) fn verify_hint(cx: &Context, hint: &str) -> Option<crate::jose::RegisteredClaims> {
    let claims: crate::jose::RegisteredClaims = cx
        .keys()?
        .verify(hint, &Typ::JWT, cx.unix_now())
        .and_then(|verified| verified.claims())
        .ok()?;
    (claims.iss.as_deref() == Some(cx.config().issuer())).then_some(claims)
}

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the access token's hash with the ID
/// token's algorithm's hash (SHA-256 for RS256 and ES256, SHA-512 for Ed25519), base64url.
pub(crate) fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::EdDsa => Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The ID token for `grant`'s user, issued to `client` with an access token carrying
/// `scopes` (OIDC Core §2, §3.1.3.6). `None` for a grant without a user.
pub(crate) async fn id_token(
    cx: &Context,
    client: &Client,
    grant: &Grant,
    scopes: &ScopeSet,
    plan: &IdTokenPlan<'_>,
    access: &AccessToken,
) -> Result<Option<IdToken>, OAuthError> {
    let Some(user) = &grant.user else {
        return Ok(None);
    };
    let Some(keys) = cx.keys() else {
        tracing::error!(target: "tessera::oidc", "scope openid granted, but the provider has no signing keys");
        return Err(OAuthError::server_error());
    };
    let alg = client
        .metadata
        .id_token_signed_response_alg
        .as_deref()
        .and_then(Algorithm::from_name)
        // FAPI 2.0 §5.4 allows no RS256.
        .unwrap_or(if cx.config().fapi2() {
            Algorithm::Es256
        } else {
            Algorithm::Rs256
        });
    let now = cx.unix_now();
    let Some(signer) = keys.signer(alg, now) else {
        tracing::error!(target: "tessera::oidc", %alg, "no active signing key for the ID token's algorithm");
        return Err(OAuthError::server_error());
    };
    let mut claims = serde_json::Map::new();
    let config = cx.config();
    claims.insert("iss".into(), config.issuer().into());
    let sub = crate::subject::subject_for(cx, client, user)?;
    claims.insert("sub".into(), sub.into());
    claims.insert("aud".into(), client.id.as_str().into());
    claims.insert(
        "exp".into(),
        now.saturating_add(ID_TOKEN_LIFETIME.whole_seconds()).into(),
    );
    claims.insert("iat".into(), now.into());
    if let Some(authentication) = plan.authentication {
        claims.insert(
            "auth_time".into(),
            authentication.auth_time.unix_timestamp().into(),
        );
        if let Some(acr) = &authentication.acr {
            claims.insert("acr".into(), acr.as_str().into());
        }
        if !authentication.amr.is_empty() {
            claims.insert("amr".into(), authentication.amr.clone().into());
        }
    }
    if let Some(nonce) = plan.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    claims.insert("at_hash".into(), at_hash(alg, access.secret()).into());
    let names = released(scopes, plan.claims, ClaimsMember::IdToken);
    let request = ClaimsRequest {
        user,
        client_id: &client.id,
        scopes,
        names: &names,
        target: ClaimsTarget::IdToken,
    };
    add_claims(cx, &request, &mut claims).await?;
    let token = crate::jose::sign_claims(signer.as_ref(), &Typ::JWT, &claims)
        .await
        .map_err(|error| {
            tracing::error!(target: "tessera::oidc", %error, "signing an ID token failed");
            OAuthError::server_error()
        })?;
    Ok(Some(IdToken::new(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_hash() {
        // Computed independently: `printf %s TOKEN | sha256sum`, the first 16 bytes, base64url.
        assert_eq!(
            at_hash(Algorithm::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNfGJJb"),
            "eViqlgO3DcnklLXVCEh0Cg"
        );
        assert_eq!(
            at_hash(Algorithm::Es256, "jHkWEdUXMU1BwAsC4vtUsZwnNfGJJb"),
            "eViqlgO3DcnklLXVCEh0Cg"
        );
        assert_eq!(at_hash(Algorithm::EdDsa, "x").len(), 43);
    }

    #[test]
    fn scopes_release_their_claims_and_never_protected_ones() {
        let scopes = ScopeSet::parse("openid email").unwrap_or_default();
        let names = released(&scopes, None, ClaimsMember::IdToken);
        assert_eq!(names, ["email", "email_verified"]);
        let asked = r#"{"id_token":{"name":null,"sub":null,"nonce":null},"userinfo":{"phone_number":null}}"#;
        let names = released(&scopes, Some(asked), ClaimsMember::IdToken);
        assert_eq!(names, ["email", "email_verified", "name"]);
        let names = released(&ScopeSet::new(), Some(asked), ClaimsMember::UserInfo);
        assert_eq!(names, ["phone_number"]);
    }
}
