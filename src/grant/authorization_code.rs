//! The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636): what a valid request
//! asks for, what approving stores, and redeeming the code exactly once. The endpoint
//! (`endpoint::authorize`) owns the wire: the client and redirect URI checks, the redirects.

use crate::audit::AuditEvent;
use crate::client::{Client, GrantType, UserId};
use crate::config::PkceRequirement;
use crate::error::{ErrorCode, OAuthError, StoreError};
use crate::grant::issue::{
    self, Commit, IdTokenPlan, Issue, Issued, Refresh, Sender, TokenResponse,
};
use crate::grant::openid::{self, OpenIdAsk, OpenIdParams};
use crate::grant::{narrowed_audience, pkce, requested_audience, requested_scopes};
use crate::provider::Context;
use crate::scope::ScopeSet;
use crate::secret::{AuthorizationCode, TokenKind};
use crate::store::{
    Authentication, CodeRecord, CodeRedemption, Consent, Grant, GrantId, Insertion, PkceChallenge,
};

/// The parameters of an authorization request the grant decides on, as the endpoint read them
/// (the dialect applied: a `response_type` it makes optional arrives as `code`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AuthorizationRequest<'a> {
    pub(crate) response_type: Option<&'a str>,
    pub(crate) scope: Option<&'a str>,
    pub(crate) code_challenge: Option<&'a str>,
    pub(crate) code_challenge_method: Option<&'a str>,
    /// The `resource` parameters (RFC 8707 §2).
    pub(crate) resources: &'a [&'a str],
    /// `dpop_jkt` (RFC 9449 §10): the thumbprint of the key the code is to be bound to.
    pub(crate) dpop_jkt: Option<&'a str>,
    /// The OpenID Connect parameters (`nonce`, `prompt`, `claims`, ...).
    pub(crate) openid: OpenIdParams<'a>,
}

/// What a valid request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asked {
    pub(crate) scopes: ScopeSet,
    pub(crate) pkce: Option<PkceChallenge>,
    /// The grant's audience: the named resources, or the default audience.
    pub(crate) audience: Vec<String>,
    pub(crate) dpop_jkt: Option<String>,
    /// The OpenID Connect part of the request.
    pub(crate) openid: OpenIdAsk,
}

/// A JWK SHA-256 thumbprint (RFC 7638): a 32-byte digest, base64url without padding.
fn is_thumbprint(text: &str) -> bool {
    use base64::Engine as _;
    text.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .is_ok_and(|digest| digest.len() == 32)
}

/// The checks after the redirect URI is trusted (their failures may be redirected).
pub(crate) fn check(
    cx: &Context,
    client: &Client,
    request: &AuthorizationRequest<'_>,
) -> Result<Asked, OAuthError> {
    let config = cx.config();
    match request.response_type {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "missing parameter `response_type`",
            ));
        }
    }
    if !config.grant_enabled(GrantType::AuthorizationCode) {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            "the authorization code grant is disabled",
        ));
    }
    client.check_grant(GrantType::AuthorizationCode)?;
    let scopes = requested_scopes(cx, client, request.scope)?;
    let audience = requested_audience(cx, request.resources, &scopes)?;
    let pkce = pkce::parse_challenge(
        request.code_challenge,
        request.code_challenge_method,
        config.danger.plain_pkce,
    )?;
    let openid = openid::check(scopes.contains(openid::OPENID), &request.openid)?;
    // "PKCE, or nonce for confidential OpenID Connect clients" (the OpenID Basic OP profile):
    // a confidential client's ID token is bound to its request by the nonce; a public client
    // always needs PKCE.
    let nonce_binds = openid.openid && openid.nonce.is_some() && !client.is_public();
    let required =
        client.is_public() || (config.pkce == PkceRequirement::AllClients && !nonce_binds);
    if pkce.is_none() && required {
        return Err(OAuthError::invalid_request(
            if openid.openid && !client.is_public() {
                "code_challenge is required (PKCE, RFC 7636), or a nonce with scope openid"
            } else {
                "code_challenge is required (PKCE, RFC 7636)"
            },
        ));
    }
    if request.dpop_jkt.is_some_and(|jkt| !is_thumbprint(jkt)) {
        return Err(OAuthError::invalid_request(
            "dpop_jkt is not a JWK SHA-256 thumbprint (RFC 7638, 43 base64url characters)",
        ));
    }
    Ok(Asked {
        scopes,
        pkce,
        audience,
        dpop_jkt: request.dpop_jkt.map(str::to_owned),
        openid,
    })
}

/// The user allowed `asked` with `granted` (the asked scopes or fewer): stores the code (bound
/// to the client, the redirect URI as the request gave it, the PKCE challenge, the nonce and
/// claims request) with its grant (and how the user authenticated), and the consent, and
/// returns the code to send (`None`: the client was deleted meanwhile).
pub(crate) async fn approve(
    cx: &Context,
    client: &Client,
    user: UserId,
    asked: Asked,
    granted: &ScopeSet,
    redirect_uri_given: Option<String>,
    authentication: Option<Authentication>,
) -> Result<Option<AuthorizationCode>, StoreError> {
    // Everything asked for was granted (the usual case): take the asked set itself.
    let scopes = if asked.scopes.is_subset(granted) {
        asked.scopes
    } else {
        granted.intersection(&asked.scopes)
    };
    let now = cx.now();
    let (code, code_hash) = AuthorizationCode::generate_hashed(cx.entropy());
    let mut grant = Grant::new(
        GrantId::generate(cx.entropy()),
        client.id.clone(),
        Some(user.clone()),
        scopes.clone(),
        GrantType::AuthorizationCode,
        now,
    )
    .with_audience(asked.audience);
    if let Some(authentication) = authentication {
        grant = grant.with_authentication(authentication);
    }
    let mut record = CodeRecord::new(
        code_hash,
        grant,
        redirect_uri_given,
        asked.pkce,
        now + cx.config().lifetimes.code,
    );
    if let Some(jkt) = asked.dpop_jkt {
        record = record.with_dpop_jkt(jkt);
    }
    if let Some(nonce) = asked.openid.nonce {
        record = record.with_nonce(nonce);
    }
    if let Some(claims) = asked.openid.claims {
        record = record.with_claims(claims);
    }
    cx.mark_used(client).await?;
    let store = cx.store();
    // The code and its grant, stored together; a client deleted meanwhile gets no code.
    if store.insert_code(&record).await? == Insertion::ClientUnknown {
        return Ok(None);
    }
    remember_consent(cx, &user, client, scopes, now).await?;
    Ok(Some(code))
}

/// Records that `user` gave `client` `scopes` at `now`, once they really did: a code approved,
/// a device approved. Nothing else saves consent (token exchange never does).
pub(crate) async fn remember_consent(
    cx: &Context,
    user: &UserId,
    client: &Client,
    scopes: ScopeSet,
    now: time::OffsetDateTime,
) -> Result<(), StoreError> {
    cx.store()
        .save_consent(&Consent::new(user.clone(), client.id.clone(), scopes, now))
        .await?;
    cx.audit(AuditEvent::ConsentGranted {
        user: user.clone(),
        client_id: client.id.clone(),
    });
    Ok(())
}

/// A token request redeeming a code, as the endpoint read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeRequest<'a> {
    pub(crate) code: &'a str,
    pub(crate) redirect_uri: Option<&'a str>,
    /// Whether the request may leave out the `redirect_uri` the authorization request had
    /// (a dialect's choice; RFC 6749 §4.1.3 requires it).
    pub(crate) redirect_uri_may_be_omitted: bool,
    pub(crate) code_verifier: Option<&'a str>,
    /// The `resource` parameters (RFC 8707 §2.2): the grant's audience, or fewer.
    pub(crate) resources: &'a [&'a str],
    /// How the request's sender proved itself (DPoP proof, TLS client certificate).
    pub(crate) sender: Sender<'a>,
}

fn spent() -> OAuthError {
    OAuthError::invalid_grant("the code is invalid, expired or already used")
}

/// grant_type=authorization_code (RFC 6749 §4.1.3).
pub(crate) async fn redeem(
    cx: &Context,
    client: &Client,
    request: CodeRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    client.check_grant(GrantType::AuthorizationCode)?;
    if !TokenKind::AuthorizationCode.is_well_formed(request.code) {
        return Err(spent());
    }
    let hash = AuthorizationCode::new(request.code).hash();
    let store = cx.store();
    let record = store.find_code(&hash).await?.ok_or_else(spent)?;
    let now = cx.now();
    if let Err(refusal) = check_token_request(client, &record, &request, now) {
        // Every presentation spends the code, a failed one too (so a stolen code gets one
        // try, and a replay revokes whatever it presents); nothing is stored for it.
        if let CodeRedemption::Replayed(grant_id) = store.redeem_code(&hash, &[]).await? {
            cx.audit(AuditEvent::CodeReplayed { grant_id });
        }
        return Err(refusal);
    }
    let audience = match narrowed_audience(
        cx,
        &record.grant.audience,
        request.resources,
        &record.grant.scopes,
    ) {
        Ok(audience) => audience,
        Err(refusal) => {
            // Refused like any other failed presentation: the code is spent.
            if let CodeRedemption::Replayed(grant_id) = store.redeem_code(&hash, &[]).await? {
                cx.audit(AuditEvent::CodeReplayed { grant_id });
            }
            return Err(refusal);
        }
    };
    let refresh = if client.allows_grant(GrantType::RefreshToken)
        && cx.config().grant_enabled(GrantType::RefreshToken)
    {
        Refresh::NewFamily
    } else {
        Refresh::No
    };
    let plan = Issue {
        client,
        grant: &record.grant,
        scopes: record.grant.scopes.clone(),
        audience,
        refresh,
        not_after: None,
        issued_token_type: None,
        sender: request.sender,
        id_token: record
            .grant
            .scopes
            .contains(openid::OPENID)
            .then_some(IdTokenPlan {
                nonce: record.nonce.as_deref(),
                claims: record.claims.as_deref(),
                authentication: record.grant.authentication.as_ref(),
            }),
        claims: record.claims.as_deref(),
    };
    let tokens = match issue::issue(cx, plan, Commit::RedeemCode(&hash)).await? {
        Issued::Tokens(tokens) => tokens,
        Issued::Replayed(grant_id) => {
            // RFC 6749 §4.1.2: the store revoked every token issued from the code.
            cx.audit(AuditEvent::CodeReplayed { grant_id });
            return Err(spent());
        }
        _ => return Err(spent()),
    };
    if let Some(user) = &record.grant.user {
        store.touch_consent(user, &client.id, now).await?;
    }
    Ok(tokens)
}

/// The checks a token request must pass to redeem `record`: its client, its expiry, the
/// repeated redirect URI and PKCE (RFC 6749 §4.1.3, RFC 7636 §4.6).
fn check_token_request(
    client: &Client,
    record: &CodeRecord,
    request: &CodeRequest<'_>,
    now: time::OffsetDateTime,
) -> Result<(), OAuthError> {
    if record.grant.client_id != client.id || now >= record.expires_at {
        return Err(spent());
    }
    check_redirect_uri(client, record, request)?;
    pkce::verify(record.pkce.as_ref(), request.code_verifier)?;
    // RFC 9449 §10: a code the authorization request bound with dpop_jkt is redeemed only
    // with a proof by that key.
    match &record.dpop_jkt {
        Some(bound) if Some(bound.as_str()) != request.sender.dpop_jkt => Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "the code is bound to a DPoP key (dpop_jkt): send a DPoP proof signed by that key",
        )),
        _ => Ok(()),
    }
}

/// RFC 6749 §4.1.3: the token request repeats the authorization request's `redirect_uri`.
fn check_redirect_uri(
    client: &Client,
    record: &CodeRecord,
    request: &CodeRequest<'_>,
) -> Result<(), OAuthError> {
    let ok = match (&record.redirect_uri, request.redirect_uri) {
        (Some(given), Some(repeated)) => given == repeated,
        (Some(_), None) => request.redirect_uri_may_be_omitted,
        (None, None) => true,
        (None, Some(repeated)) => client.redirect_uris.iter().any(|r| r.as_str() == repeated),
    };
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientId, ClientType};
    use crate::redirect::RedirectUri;
    use crate::secret::TokenHash;
    use time::OffsetDateTime;

    #[test]
    fn a_thumbprint_is_exactly_a_base64url_sha256_digest() {
        // RFC 7638 §3.1's example thumbprint.
        assert!(is_thumbprint("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        for bad in [
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X", // 42 characters
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs=", // padded
            "NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs", // standard alphabet
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xt", // trailing bits set
        ] {
            assert!(!is_thumbprint(bad), "{bad}");
        }
    }

    fn client() -> Client {
        let id = ClientId::new("c").unwrap_or_else(|_| unreachable!());
        Client::new(
            id,
            "C",
            ClientType::Confidential,
            OffsetDateTime::UNIX_EPOCH,
        )
        .with_redirect_uris(
            RedirectUri::parse("https://c.example/cb")
                .into_iter()
                .collect(),
        )
    }

    fn record(redirect_uri: Option<&str>) -> CodeRecord {
        let client = client();
        let grant = Grant::new(
            GrantId::new("g"),
            client.id,
            None,
            ScopeSet::new(),
            GrantType::AuthorizationCode,
            OffsetDateTime::UNIX_EPOCH,
        );
        CodeRecord::new(
            TokenHash::of("code"),
            grant,
            redirect_uri.map(str::to_owned),
            None,
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    fn request(redirect_uri: Option<&str>, omittable: bool) -> CodeRequest<'_> {
        CodeRequest {
            code: "",
            redirect_uri,
            redirect_uri_may_be_omitted: omittable,
            code_verifier: None,
            resources: &[],
            sender: Sender::default(),
        }
    }

    #[test]
    fn the_redirect_uri_is_repeated_exactly() {
        let client = client();
        let given = record(Some("https://c.example/cb"));
        assert!(
            check_redirect_uri(
                &client,
                &given,
                &request(Some("https://c.example/cb"), false)
            )
            .is_ok()
        );
        assert!(
            check_redirect_uri(
                &client,
                &given,
                &request(Some("https://c.example/cb/"), false)
            )
            .is_err()
        );
        assert!(check_redirect_uri(&client, &given, &request(None, false)).is_err());
        assert!(check_redirect_uri(&client, &given, &request(None, true)).is_ok());
        // Omitted at authorization: the token request may name a registered one, or none.
        let omitted = record(None);
        assert!(check_redirect_uri(&client, &omitted, &request(None, false)).is_ok());
        assert!(
            check_redirect_uri(
                &client,
                &omitted,
                &request(Some("https://c.example/cb"), false)
            )
            .is_ok()
        );
        assert!(
            check_redirect_uri(
                &client,
                &omitted,
                &request(Some("https://evil.example/"), false)
            )
            .is_err()
        );
    }
}
