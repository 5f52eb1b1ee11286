//! Property tests over the grant state machines: random sequences of authorize, decide, redeem,
//! refresh, revoke, validate and time passing, checked against a model of what must never
//! happen. 64 cases of up to 40 steps each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use proptest::prelude::*;
use tessera::{AuthorizeError, BearerRequest, FormRequest, ScopeSet};
use time::{Duration, OffsetDateTime};

const SCOPES: [&str; 3] = ["read", "write", "offline_access"];

/// Every error code a grant may answer with.
const RFC_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "temporarily_unavailable",
    "invalid_token",
    "insufficient_scope",
];

#[derive(Debug, Clone)]
enum Op {
    /// Authorize asking for `ask` (a mask over SCOPES) and approve `grant` of it, or deny.
    Authorize { ask: u8, grant: u8, deny: bool },
    /// Redeem the i-th code (modulo how many exist), possibly with a wrong verifier.
    Redeem { code: usize, wrong_verifier: bool },
    /// Refresh the i-th refresh token, optionally asking for a scope mask.
    Refresh { token: usize, scope: Option<u8> },
    /// Revoke the i-th access or refresh token.
    Revoke { token: usize, refresh: bool },
    /// Validate the i-th access token.
    Validate { token: usize },
    /// Let time pass.
    Wait { seconds: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u8..8, 0u8..8, prop::bool::weighted(0.15))
            .prop_map(|(ask, grant, deny)| Op::Authorize { ask, grant, deny }),
        3 => (any::<usize>(), prop::bool::weighted(0.15))
            .prop_map(|(code, wrong_verifier)| Op::Redeem { code, wrong_verifier }),
        3 => (any::<usize>(), prop::option::weighted(0.3, 0u8..8))
            .prop_map(|(token, scope)| Op::Refresh { token, scope }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(token, refresh)| Op::Revoke { token, refresh }),
        3 => any::<usize>().prop_map(|token| Op::Validate { token }),
        1 => prop_oneof![1i64..120, 3000i64..5000].prop_map(|seconds| Op::Wait { seconds }),
    ]
}

fn mask(bits: u8) -> ScopeSet {
    ScopeSet::from_tokens(
        SCOPES
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, s)| *s),
    )
    .unwrap()
}

struct Code {
    code: String,
    family: usize,
    redeemed: bool,
}

struct Access {
    token: String,
    family: usize,
    expires_at: Option<OffsetDateTime>,
    revoked: bool,
}

struct Refresh {
    token: String,
    family: usize,
    used: bool,
}

struct Family {
    approved: ScopeSet,
    revoked: bool,
}

#[derive(Default)]
struct Model {
    codes: Vec<Code>,
    access: Vec<Access>,
    refresh: Vec<Refresh>,
    families: Vec<Family>,
}

fn error_code(response: &tessera::Response) -> String {
    let code = error_of(response);
    assert!(
        RFC_CODES.contains(&code.as_str()),
        "unexpected error {code:?}"
    );
    code
}

impl Model {
    fn record_tokens(&mut self, family: usize, body: &serde_json::Value, now: OffsetDateTime) {
        let granted = ScopeSet::parse(body["scope"].as_str().unwrap_or("")).unwrap();
        assert!(
            granted.is_subset(&self.families[family].approved),
            "scope widened: {granted} beyond {}",
            self.families[family].approved
        );
        self.access.push(Access {
            token: body["access_token"].as_str().unwrap().to_owned(),
            family,
            expires_at: body["expires_in"]
                .as_i64()
                .map(|s| now + Duration::seconds(s)),
            revoked: false,
        });
        if let Some(refresh) = body["refresh_token"].as_str() {
            self.refresh.push(Refresh {
                token: refresh.to_owned(),
                family,
                used: false,
            });
        }
    }
}

async fn run(ops: Vec<Op>) {
    let h = harness();
    let client = h.confidential().await;
    let mut model = Model::default();
    for op in ops {
        let now = h.provider.now();
        match op {
            Op::Authorize { ask, grant, deny } => {
                let query = format!(
                    "response_type=code&client_id={}&redirect_uri={}&scope={}&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
                    client.id,
                    urlencode(REDIRECT),
                    urlencode(&mask(ask).to_string())
                );
                let pending = match h.provider.authorize(&params(&query)).await {
                    Ok(pending) => pending,
                    Err(AuthorizeError::Redirect(r)) => panic!("{:?}", r.error()),
                    Err(other) => panic!("{other:?}"),
                };
                if deny {
                    let redirect = pending.deny(&h.provider);
                    assert_eq!(redirect.param("error").as_deref(), Some("access_denied"));
                    assert!(redirect.param("code").is_none());
                    continue;
                }
                let approved = mask(grant);
                let redirect = pending.approve(&h.provider, user(), &approved).await;
                assert_eq!(redirect.param("state").as_deref(), Some("s"));
                let code = redirect.param("code").expect("a code");
                // What the user approved, narrowed to what was asked: never more.
                model.families.push(Family {
                    approved: approved.intersection(&mask(ask)),
                    revoked: false,
                });
                model.codes.push(Code {
                    code,
                    family: model.families.len() - 1,
                    redeemed: false,
                });
            }
            Op::Redeem {
                code,
                wrong_verifier,
            } => {
                if model.codes.is_empty() {
                    continue;
                }
                let i = code % model.codes.len();
                let verifier = if wrong_verifier {
                    "x".repeat(43)
                } else {
                    VERIFIER.to_owned()
                };
                let body = format!(
                    "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
                    model.codes[i].code,
                    urlencode(REDIRECT)
                );
                let response = h.token(&client, &body).await;
                let entry = &mut model.codes[i];
                let family = entry.family;
                if response.status == 200 {
                    assert!(!entry.redeemed, "a code was redeemed twice");
                    assert!(!wrong_verifier, "a wrong PKCE verifier was accepted");
                    entry.redeemed = true;
                    model.record_tokens(family, &response.json_body().unwrap(), now);
                } else {
                    error_code(&response);
                    if entry.redeemed {
                        // RFC 6749 §4.1.2: a replayed code revokes what it issued.
                        model.families[family].revoked = true;
                    }
                    // Any failed presentation spends the code too.
                    entry.redeemed = true;
                }
            }
            Op::Refresh { token, scope } => {
                if model.refresh.is_empty() {
                    continue;
                }
                let i = token % model.refresh.len();
                let mut body = format!(
                    "grant_type=refresh_token&refresh_token={}",
                    model.refresh[i].token
                );
                if let Some(bits) = scope {
                    body.push_str(&format!("&scope={}", urlencode(&mask(bits).to_string())));
                }
                let response = h.token(&client, &body).await;
                let family = model.refresh[i].family;
                if response.status == 200 {
                    assert!(
                        !model.refresh[i].used,
                        "a rotated refresh token worked again"
                    );
                    assert!(
                        !model.families[family].revoked,
                        "a revoked family refreshed"
                    );
                    model.refresh[i].used = true;
                    model.record_tokens(family, &response.json_body().unwrap(), now);
                } else {
                    let code = error_code(&response);
                    if model.refresh[i].used {
                        // RFC 9700 §4.14.2: reuse of a rotated token revokes the family.
                        model.families[family].revoked = true;
                    }
                    if code == "invalid_scope" {
                        assert!(!mask(scope.unwrap()).is_subset(&model.families[family].approved));
                    }
                }
            }
            Op::Revoke { token, refresh } => {
                let (value, family) = match refresh {
                    true if !model.refresh.is_empty() => {
                        let r = &model.refresh[token % model.refresh.len()];
                        (r.token.clone(), Some(r.family))
                    }
                    false if !model.access.is_empty() => {
                        let i = token % model.access.len();
                        model.access[i].revoked = true;
                        (model.access[i].token.clone(), None)
                    }
                    _ => continue,
                };
                let request = FormRequest::new(format!("token={value}").into_bytes())
                    .with_authorization(Some(&client.basic()));
                assert_eq!(h.provider.revoke(&request).await.status, 200);
                if let Some(family) = family {
                    // RFC 7009 §2.1: revoking a refresh token revokes its grant.
                    model.families[family].revoked = true;
                }
            }
            Op::Validate { token } => {
                if model.access.is_empty() {
                    continue;
                }
                let access = &model.access[token % model.access.len()];
                let header = format!("Bearer {}", access.token);
                let result = h
                    .provider
                    .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
                    .await;
                let expired = access.expires_at.is_some_and(|at| now >= at);
                match result {
                    Ok(principal) => {
                        assert!(!expired, "an expired token validated");
                        assert!(!access.revoked, "a revoked token validated");
                        assert!(
                            !model.families[access.family].revoked,
                            "a token of a revoked family validated"
                        );
                        assert!(
                            principal
                                .scopes()
                                .is_subset(&model.families[access.family].approved)
                        );
                    }
                    Err(error) => {
                        assert_eq!(error.code, Some(tessera::ErrorCode::InvalidToken));
                    }
                }
            }
            Op::Wait { seconds } => h.clock.advance(Duration::seconds(seconds)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn grant_state_machines_keep_their_invariants(ops in prop::collection::vec(op(), 1..40)) {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(run(ops));
    }
}
