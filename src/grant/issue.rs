//! Minting and storing access and refresh tokens: the step every grant ends with.

use time::OffsetDateTime;

use crate::client::Client;
use crate::error::OAuthError;
use crate::provider::Provider;
use crate::scope::ScopeSet;
use crate::secret::{AccessToken, RefreshToken};
use crate::store::{Family, Grant, IssueOutcome, TokenRecord, TokenType};

/// A successful token response (RFC 6749 §5.1), holding the plaintext tokens until they are
/// sent.
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
}

impl TokenResponse {
    /// The RFC 6749 §5.1 JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("access_token".into(), self.access_token.secret().into());
        body.insert("token_type".into(), "Bearer".into());
        if let Some(expires_in) = self.expires_in {
            body.insert("expires_in".into(), expires_in.into());
        }
        if let Some(refresh) = &self.refresh_token {
            body.insert("refresh_token".into(), refresh.secret().into());
        }
        if !self.scope.is_empty() {
            body.insert("scope".into(), self.scope.to_string().into());
        }
        serde_json::Value::Object(body)
    }

    /// The bytes of [`TokenResponse::to_json`], serialised straight from the fields (no
    /// intermediate map): the same members in the same order.
    pub(crate) fn to_json_bytes(&self) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            access_token: &'a str,
            token_type: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            expires_in: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            refresh_token: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            scope: Option<&'a ScopeSet>,
        }
        let body = Body {
            access_token: self.access_token.secret(),
            token_type: "Bearer",
            expires_in: self.expires_in,
            refresh_token: self.refresh_token.as_ref().map(RefreshToken::secret),
            scope: (!self.scope.is_empty()).then_some(&self.scope),
        };
        // Room for three tokens and a few scopes: the body is written without growing.
        let mut json = Vec::with_capacity(256);
        // Strings and integers only: serialising cannot fail.
        match serde_json::to_writer(&mut json, &body) {
            Ok(()) => json,
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    #[test]
    fn direct_bytes_match_the_json_value() {
        let entropy = SeededEntropy::new(3);
        for (expires_in, refresh, scope) in [
            (Some(3600), true, "read write"),
            (None, false, ""),
            (Some(0), false, "read"),
            (None, true, ""),
        ] {
            let response = TokenResponse {
                access_token: AccessToken::generate(&entropy),
                expires_in,
                refresh_token: refresh.then(|| RefreshToken::generate(&entropy)),
                scope: ScopeSet::parse(scope).unwrap_or_default(),
            };
            assert_eq!(
                response.to_json_bytes(),
                serde_json::to_vec(&response.to_json()).unwrap_or_default()
            );
        }
    }
}

/// Freshly minted tokens and the records that stores will keep of them.
pub(crate) struct Minted {
    pub(crate) response: TokenResponse,
    pub(crate) records: Vec<TokenRecord>,
}

/// When a new refresh token's family ends: inherited on rotation, fresh for a new grant.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FamilyDeadline {
    New,
    Inherited(Option<OffsetDateTime>),
}

impl Provider {
    /// Mints an access token (and optionally a refresh token) for `grant`, without storing.
    pub(crate) fn mint(
        &self,
        client: &Client,
        grant: &Grant,
        access_scopes: ScopeSet,
        with_refresh: bool,
        deadline: FamilyDeadline,
    ) -> Minted {
        let now = self.now();
        let expiry = &self.inner.expiry;
        let access_ttl = expiry.access_token(client, &access_scopes);
        let (access, access_hash) = AccessToken::generate_hashed(self.entropy());
        let mut records = Vec::with_capacity(2);
        records.push(TokenRecord::new(
            access_hash,
            TokenType::Access,
            grant,
            access_scopes.clone(),
            now,
            access_ttl.map(|ttl| now + ttl),
            None,
        ));
        let refresh = with_refresh.then(|| {
            let family_expires_at = match deadline {
                FamilyDeadline::New => expiry
                    .refresh_family(client, &grant.scopes)
                    .map(|ttl| now + ttl),
                FamilyDeadline::Inherited(at) => at,
            };
            let own = expiry
                .refresh_token(client, &grant.scopes)
                .map(|ttl| now + ttl);
            let expires_at = match (own, family_expires_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let (token, hash) = RefreshToken::generate_hashed(self.entropy());
            records.push(TokenRecord::new(
                hash,
                TokenType::Refresh,
                grant,
                grant.scopes.clone(),
                now,
                expires_at,
                family_expires_at,
            ));
            token
        });
        Minted {
            response: TokenResponse {
                access_token: access,
                expires_in: access_ttl.map(|ttl| ttl.whole_seconds()),
                refresh_token: refresh,
                scope: access_scopes,
            },
            records,
        }
    }

    /// Mints and stores tokens for a grant: a new one (`new`), created with them, or an
    /// existing one, which must still be active.
    pub(crate) async fn issue(
        &self,
        client: &Client,
        grant: &Grant,
        access_scopes: ScopeSet,
        with_refresh: bool,
        new: bool,
    ) -> Result<TokenResponse, OAuthError> {
        let minted = self.mint(
            client,
            grant,
            access_scopes,
            with_refresh,
            FamilyDeadline::New,
        );
        let family = if new {
            Family::New(grant)
        } else {
            Family::Existing(&grant.id)
        };
        match self.store().issue_tokens(family, &minted.records).await? {
            IssueOutcome::Stored => Ok(minted.response),
            // Revoked (or its client deleted) meanwhile: nothing was stored.
            IssueOutcome::GrantRevoked => Err(OAuthError::invalid_grant("the grant was revoked")),
            IssueOutcome::ClientUnknown => {
                Err(OAuthError::invalid_grant("the client no longer exists"))
            }
        }
    }
}
