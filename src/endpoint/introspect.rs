//! Token introspection (RFC 7662).

use serde::Serialize;

use crate::endpoint::form::FormRequest;
use crate::provider::Provider;
use crate::response::{Response, json_i64, json_scope, json_string};
use crate::scope::ScopeSet;
use crate::store::{Confirmation, TokenRecord, TokenType};

/// The answer for an active token (RFC 7662 §2.2), its members in the order they have always
/// been written. A typed value borrowing the record, written straight into the body by
/// [`Active::to_json`]: no map, no owned keys or values. Its `Serialize` is the definition
/// the writer is tested against.
#[derive(Serialize)]
struct Active<'a> {
    active: bool,
    scope: &'a ScopeSet,
    client_id: &'a str,
    // A public `sub` only: `username` would undo a pairwise one.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Cnf<'a>>,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    iss: &'a str,
}

/// `aud`: one resource as a string, several as an array (RFC 7662 §2.2).
#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// `cnf` (RFC 7800 §3.1, RFC 9449 §6.2, RFC 8705 §3.1): the key the token is bound to, as
/// `{"jkt": …}` or `{"x5t#S256": …}`.
#[derive(Serialize)]
enum Cnf<'a> {
    #[serde(rename = "jkt")]
    Jkt(&'a str),
    #[serde(rename = "x5t#S256")]
    X5tS256(&'a str),
}

impl<'a> Active<'a> {
    /// The answer for `record`, `sub` being the subject its client knows, if it has a user.
    fn of(record: &'a TokenRecord, sub: Option<&'a str>, issuer: &'a str) -> Self {
        let user = record.user.as_ref().map(|user| user.as_str());
        Self {
            active: true,
            scope: &record.scopes,
            client_id: record.client_id.as_str(),
            username: user.filter(|user| sub == Some(*user)),
            sub,
            token_type: match (record.token_type, &record.confirmation) {
                (TokenType::Access, Some(Confirmation::Jkt(_))) => "DPoP",
                (TokenType::Access, _) => "Bearer",
                _ => "refresh_token",
            },
            aud: match record.audience.as_slice() {
                [] => None,
                [one] => Some(Audience::One(one)),
                many => Some(Audience::Many(many)),
            },
            cnf: record.confirmation.as_ref().map(|cnf| match cnf {
                Confirmation::Jkt(jkt) => Cnf::Jkt(jkt),
                Confirmation::X5tS256(thumbprint) => Cnf::X5tS256(thumbprint),
            }),
            iat: record.issued_at.unix_timestamp(),
            exp: record.expires_at.map(|exp| exp.unix_timestamp()),
            iss: issuer,
        }
    }

    /// The JSON body: the bytes `serde_json` writes for this value (the tests compare them),
    /// written directly; a string with nothing to escape, which every identifier, token type,
    /// thumbprint and URL here is, is copied as it is.
    fn to_json(&self) -> Vec<u8> {
        let mut json = Vec::with_capacity(320);
        json.extend_from_slice(if self.active {
            br#"{"active":true"#
        } else {
            br#"{"active":false"#
        });
        json.extend_from_slice(br#","scope":"#);
        json_scope(&mut json, self.scope);
        json.extend_from_slice(br#","client_id":"#);
        json_string(&mut json, self.client_id);
        if let Some(username) = self.username {
            json.extend_from_slice(br#","username":"#);
            json_string(&mut json, username);
        }
        if let Some(sub) = self.sub {
            json.extend_from_slice(br#","sub":"#);
            json_string(&mut json, sub);
        }
        json.extend_from_slice(br#","token_type":"#);
        json_string(&mut json, self.token_type);
        match &self.aud {
            None => {}
            Some(Audience::One(one)) => {
                json.extend_from_slice(br#","aud":"#);
                json_string(&mut json, one);
            }
            Some(Audience::Many(many)) => {
                json.extend_from_slice(br#","aud":["#);
                for (i, aud) in many.iter().enumerate() {
                    if i > 0 {
                        json.push(b',');
                    }
                    json_string(&mut json, aud);
                }
                json.push(b']');
            }
        }
        match &self.cnf {
            None => {}
            Some(Cnf::Jkt(jkt)) => {
                json.extend_from_slice(br#","cnf":{"jkt":"#);
                json_string(&mut json, jkt);
                json.push(b'}');
            }
            Some(Cnf::X5tS256(thumbprint)) => {
                json.extend_from_slice(br#","cnf":{"x5t#S256":"#);
                json_string(&mut json, thumbprint);
                json.push(b'}');
            }
        }
        json.extend_from_slice(br#","iat":"#);
        json_i64(&mut json, self.iat);
        if let Some(exp) = self.exp {
            json.extend_from_slice(br#","exp":"#);
            json_i64(&mut json, exp);
        }
        json.extend_from_slice(br#","iss":"#);
        json_string(&mut json, self.iss);
        json.push(b'}');
        json
    }
}

/// `{"active":false}`: what every token that is not active for the caller gets, and nothing more.
fn inactive() -> Response {
    Response::json_bytes(200, br#"{"active":false}"#.to_vec())
}

impl Provider {
    /// The introspection endpoint. The caller must authenticate as a client; it learns about its
    /// own tokens, and, as a resource server's client ([`crate::Resource::introspected_by`]),
    /// about the tokens whose audience names that resource (RFC 7662 §2.1). Anything else
    /// (unknown, expired, revoked, foreign) is `{"active": false}` and nothing more. The
    /// answer carries `aud`: one resource as a string, several as an array (RFC 7662 §2.2).
    pub async fn introspect(&self, request: &FormRequest) -> Response {
        let (params, client) = match self.authenticated_form(request).await {
            Ok(opened) => opened,
            Err(response) => return response,
        };
        let token = match params.require("token") {
            Ok(token) => token,
            Err(error) => return self.token_error(&error),
        };
        let Some(hash) = super::revoke::issued_token_hash(self.config(), token) else {
            return inactive();
        };
        let record = match self.cx().store().find_token(&hash).await {
            Ok(Some(record)) => record,
            Ok(None) => return inactive(),
            Err(error) => return self.token_error(&error.into()),
        };
        let config = self.config();
        let for_its_resource = || {
            record.audience.iter().any(|a| {
                config
                    .resource(a)
                    .and_then(|r| r.introspector.as_ref())
                    .is_some_and(|c| *c == client.id)
            })
        };
        if (record.client_id != client.id && !for_its_resource())
            || record.is_expired_at_unix(self.cx().unix_now())
        {
            return inactive();
        }
        // The `sub` the token's client knows (a pairwise one, OIDC Core §8.1), so that a
        // resource server sees the same `sub` in a JWT and here.
        let sub = match &record.user {
            #[cfg(feature = "jose")]
            Some(user) => {
                match crate::subject::subject_for_id(self.cx(), &record.client_id, user).await {
                    Ok(sub) => Some(sub),
                    Err(error) => return self.token_error(&error),
                }
            }
            #[cfg(not(feature = "jose"))]
            Some(user) => Some(user.as_str().to_owned()),
            None => None,
        };
        let body = Active::of(&record, sub.as_deref(), config.issuer()).to_json();
        Response::json_bytes(200, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientId, GrantType, UserId};
    use crate::secret::TokenHash;
    use crate::store::{Grant, GrantId};
    use time::OffsetDateTime;

    /// The answer as it was built before the typed value: a `serde_json::Map` filled member by
    /// member (main at 65f9661), kept here as the reference the typed value must match.
    fn reference(record: &TokenRecord, sub: Option<&str>, issuer: &str) -> Vec<u8> {
        let mut body = serde_json::Map::new();
        body.insert("active".into(), true.into());
        body.insert("scope".into(), record.scopes.to_string().into());
        body.insert("client_id".into(), record.client_id.as_str().into());
        if let (Some(user), Some(sub)) = (&record.user, sub) {
            if sub == user.as_str() {
                body.insert("username".into(), user.as_str().into());
            }
            body.insert("sub".into(), sub.into());
        }
        body.insert(
            "token_type".into(),
            match (record.token_type, &record.confirmation) {
                (TokenType::Access, Some(Confirmation::Jkt(_))) => "DPoP",
                (TokenType::Access, _) => "Bearer",
                _ => "refresh_token",
            }
            .into(),
        );
        match record.audience.as_slice() {
            [] => {}
            [one] => {
                body.insert("aud".into(), one.as_str().into());
            }
            many => {
                body.insert("aud".into(), many.to_vec().into());
            }
        }
        match &record.confirmation {
            Some(Confirmation::Jkt(jkt)) => {
                body.insert("cnf".into(), serde_json::json!({ "jkt": jkt }));
            }
            Some(Confirmation::X5tS256(thumbprint)) => {
                body.insert("cnf".into(), serde_json::json!({ "x5t#S256": thumbprint }));
            }
            None => {}
        }
        body.insert("iat".into(), record.issued_at.unix_timestamp().into());
        if let Some(exp) = record.expires_at {
            body.insert("exp".into(), exp.unix_timestamp().into());
        }
        body.insert("iss".into(), issuer.into());
        serde_json::to_vec(&serde_json::Value::Object(body)).unwrap_or_default()
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn the_typed_answer_writes_what_the_map_wrote() {
        let mut cases = 0;
        for (token_type, user, sub) in [
            (TokenType::Access, Some("alice"), Some("alice")),
            // A pairwise `sub`: no `username`.
            (TokenType::Access, Some("alice"), Some("pairwise-4f2a")),
            (
                TokenType::Refresh,
                Some("b\u{1}ob \"é\\"),
                Some("b\u{1}ob \"é\\"),
            ),
            (TokenType::Access, None, None),
        ] {
            for scopes in ["read write", "openid", ""] {
                for audience in [
                    vec![],
                    vec!["https://api.example/".to_owned()],
                    vec!["https://a.example/".to_owned(), "urn:b\"".to_owned()],
                ] {
                    for confirmation in [
                        None,
                        Some(Confirmation::Jkt(
                            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
                        )),
                        Some(Confirmation::X5tS256(
                            "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into(),
                        )),
                    ] {
                        for (issued, expires, issuer) in [
                            (
                                1_700_000_000,
                                Some(1_700_003_600),
                                "https://auth.example.com",
                            ),
                            (0, None, "https://a.example/t\"q\\"),
                            (-5, Some(i64::from(i32::MAX)), "https://a.example"),
                        ] {
                            // Built through the constructors, so that a field the
                            // record gains later takes its default here.
                            let grant = Grant::new(
                                GrantId::new("g"),
                                ClientId::new("client-1")
                                    .unwrap_or_else(|_| unreachable!("a valid client id")),
                                user.map(UserId::new),
                                ScopeSet::parse(scopes).unwrap_or_default(),
                                GrantType::AuthorizationCode,
                                at(issued),
                            );
                            let record = TokenRecord::new(
                                TokenHash::of("t"),
                                token_type,
                                &grant,
                                grant.scopes.clone(),
                                at(issued),
                                expires.map(at),
                                None,
                            )
                            .with_audience(audience.clone());
                            let record = match confirmation.clone() {
                                Some(cnf) => record.with_confirmation(cnf),
                                None => record,
                            };
                            let active = Active::of(&record, sub, issuer);
                            let typed = active.to_json();
                            assert_eq!(
                                String::from_utf8_lossy(&typed),
                                String::from_utf8_lossy(&reference(&record, sub, issuer)),
                            );
                            assert_eq!(serde_json::to_vec(&active).ok(), Some(typed));
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 4 * 3 * 3 * 3 * 3);
    }

    #[test]
    fn inactive_is_the_bare_answer() {
        let response = inactive();
        assert_eq!(response.status, 200);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&response.body).ok(),
            Some(serde_json::json!({"active": false}))
        );
        assert_eq!(
            response.headers,
            Response::json(200, &serde_json::json!({"active": false})).headers
        );
    }
}
