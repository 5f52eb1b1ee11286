//! The record fields that no query filters or joins on, kept by the SQL stores as one JSON
//! document per row (the `ext` column). Writing borrows the record (no copy on the issuance
//! path); reading yields owned values applied back onto the record.

use serde::{Deserialize, Serialize};

use super::{Authentication, CodeRecord, Confirmation, Grant, TokenRecord};

/// A grant's `ext`.
#[derive(Serialize)]
pub(super) struct GrantExt<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    audience: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<&'a Authentication>,
}

impl<'a> GrantExt<'a> {
    pub(super) fn of(grant: &'a Grant) -> Self {
        Self {
            audience: &grant.audience,
            authentication: grant.authentication.as_ref(),
        }
    }
}

/// A grant's `ext`, read back.
#[derive(Default, Deserialize)]
pub(super) struct StoredGrantExt {
    #[serde(default)]
    audience: Vec<String>,
    #[serde(default)]
    authentication: Option<Authentication>,
}

impl StoredGrantExt {
    pub(super) fn apply(self, mut grant: Grant) -> Grant {
        grant.audience = self.audience;
        grant.authentication = self.authentication;
        grant
    }
}

/// A code's `ext`: its own fields, and its grant's.
#[derive(Serialize)]
pub(super) struct CodeExt<'a> {
    grant: GrantExt<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<&'a str>,
}

impl<'a> CodeExt<'a> {
    pub(super) fn of(code: &'a CodeRecord) -> Self {
        Self {
            grant: GrantExt::of(&code.grant),
            nonce: code.nonce.as_deref(),
            dpop_jkt: code.dpop_jkt.as_deref(),
            claims: code.claims.as_deref(),
        }
    }
}

/// A code's `ext`, read back.
#[derive(Default, Deserialize)]
pub(super) struct StoredCodeExt {
    #[serde(default)]
    grant: StoredGrantExt,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    dpop_jkt: Option<String>,
    #[serde(default)]
    claims: Option<String>,
}

impl StoredCodeExt {
    /// The grant with its fields, for the code record to be built around.
    pub(super) fn apply_grant(&mut self, grant: Grant) -> Grant {
        std::mem::take(&mut self.grant).apply(grant)
    }

    pub(super) fn apply(self, mut code: CodeRecord) -> CodeRecord {
        code.nonce = self.nonce;
        code.dpop_jkt = self.dpop_jkt;
        code.claims = self.claims;
        code
    }
}

/// A token's `ext`.
#[derive(Serialize)]
pub(super) struct TokenExt<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    audience: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation: Option<&'a Confirmation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<&'a Authentication>,
}

impl<'a> TokenExt<'a> {
    pub(super) fn of(token: &'a TokenRecord) -> Self {
        Self {
            audience: &token.audience,
            confirmation: token.confirmation.as_ref(),
            claims: token.claims.as_deref(),
            authentication: token.authentication.as_ref(),
        }
    }
}

/// A token's `ext`, read back.
#[derive(Default, Deserialize)]
pub(super) struct StoredTokenExt {
    #[serde(default)]
    pub(super) audience: Vec<String>,
    #[serde(default)]
    pub(super) confirmation: Option<Confirmation>,
    #[serde(default)]
    pub(super) claims: Option<String>,
    #[serde(default)]
    pub(super) authentication: Option<Authentication>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientId, GrantType};
    use crate::scope::ScopeSet;
    use crate::secret::TokenHash;
    use crate::store::{GrantId, TokenType};
    use time::OffsetDateTime;

    #[test]
    fn what_is_written_reads_back_and_an_empty_document_is_empty() {
        let at = OffsetDateTime::from_unix_timestamp(1_900_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let bare = Grant::new(
            GrantId::new("g"),
            ClientId::new("c").unwrap_or_else(|_| unreachable!()),
            None,
            ScopeSet::new(),
            GrantType::ClientCredentials,
            at,
        );
        assert_eq!(
            serde_json::to_string(&GrantExt::of(&bare)).ok().as_deref(),
            Some("{}")
        );
        let grant = bare
            .clone()
            .with_audience(vec!["https://api.example/".into()])
            .with_authentication(Authentication::new(at).with_amr(vec!["pwd".into()]));
        let code = CodeRecord::new(TokenHash::of("x"), grant.clone(), None, None, at)
            .with_nonce("n")
            .with_dpop_jkt("j")
            .with_claims("{}");
        let text = serde_json::to_string(&CodeExt::of(&code)).unwrap_or_default();
        let mut back: StoredCodeExt = serde_json::from_str(&text).unwrap_or_default();
        let rebuilt_grant = back.apply_grant(bare);
        let rebuilt = back.apply(CodeRecord::new(
            TokenHash::of("x"),
            rebuilt_grant,
            None,
            None,
            at,
        ));
        assert_eq!(rebuilt, code);
        let token = TokenRecord::new(
            TokenHash::of("t"),
            TokenType::Access,
            &grant,
            ScopeSet::new(),
            at,
            None,
            None,
        )
        .with_confirmation(Confirmation::Jkt("k".into()))
        .with_claims(r#"{"userinfo":{"name":null}}"#)
        .with_authentication(Authentication::new(at).with_acr("a"));
        let text = serde_json::to_string(&TokenExt::of(&token)).unwrap_or_default();
        let back: StoredTokenExt = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(
            (
                back.audience,
                back.confirmation,
                back.claims,
                back.authentication
            ),
            (
                token.audience,
                token.confirmation,
                token.claims,
                token.authentication
            )
        );
        // A row written before these fields existed reads back without them.
        let old: StoredTokenExt = serde_json::from_str(r#"{"audience":["x"]}"#).unwrap_or_default();
        assert!(old.claims.is_none() && old.authentication.is_none());
        assert_eq!(old.audience, ["x"]);
    }
}
