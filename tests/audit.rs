//! Audit events: each security-relevant outcome reaches the sink as a typed event, and no
//! event's Debug form (which `TracingAudit` logs) carries a secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use tessera::store::MemoryStore;
use tessera::testkit::{ManualClock, SeededEntropy};
use tessera::{AuditEvent, AuditSink, ClientId, FormRequest, Provider, RateLimit, ScopeSet};

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<AuditEvent>>);

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn take(&self) -> Vec<AuditEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn audited() -> (Harness, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config(), store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(42)))
        .audit(recorder.clone())
        .build();
    (
        Harness {
            provider,
            clock,
            store,
        },
        recorder,
    )
}

/// No secret (or any long token-shaped string) appears in an event's Debug form.
fn assert_no_secret(events: &[AuditEvent], secrets: &[&str]) {
    for event in events {
        let debug = format!("{event:?}");
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(!debug.contains(secret), "{debug} leaks a secret");
        }
        assert!(!debug.contains("tsr_"), "{debug} carries a token");
    }
}

#[tokio::test]
async fn client_authentication_failure_names_the_client_not_the_secret() {
    let (h, audit) = audited();
    let client = h.confidential().await;
    audit.take();
    let wrong = TestClient {
        id: client.id.clone(),
        secret: Some("hunter2-wrong-secret".into()),
    };
    let response = h.token(&wrong, "grant_type=client_credentials").await;
    assert_eq!(response.status, 401);
    let events = audit.take();
    assert_eq!(
        events,
        vec![AuditEvent::ClientAuthFailed {
            client_id: Some(ClientId::new(client.id.clone()).unwrap())
        }]
    );
    assert_no_secret(
        &events,
        &["hunter2-wrong-secret", client.secret.as_deref().unwrap()],
    );
}

#[tokio::test]
async fn code_replay_and_refresh_reuse_and_revocation() {
    let (h, audit) = audited();
    let client = h.confidential().await;
    let code = h.code(&client, "read offline_access").await;
    let first = h.exchange_code(&client, &code).await;
    assert_eq!(first.status, 200);
    let tokens = first.json_body().unwrap();
    audit.take();
    assert_eq!(h.exchange_code(&client, &code).await.status, 400);
    let events = audit.take();
    assert!(matches!(
        events.as_slice(),
        [AuditEvent::CodeReplayed { .. }]
    ));
    assert_no_secret(&events, &[&code]);

    // A fresh flow for the refresh reuse (the replay above revoked the first family).
    let tokens2 = h.tokens(&client, "read offline_access").await;
    let refresh = tokens2["refresh_token"].as_str().unwrap();
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    assert_eq!(h.token(&client, &body).await.status, 200);
    audit.take();
    assert_eq!(h.token(&client, &body).await.status, 400);
    let events = audit.take();
    match events.as_slice() {
        [AuditEvent::RefreshReused { client_id, .. }] => assert_eq!(client_id.as_str(), client.id),
        other => panic!("{other:?}"),
    }
    assert_no_secret(&events, &[refresh]);

    // The first family was revoked by the replay: its access token is gone already.
    let stale = tokens["access_token"].as_str().unwrap();
    let request = FormRequest::new(format!("token={stale}").into_bytes())
        .with_authorization(Some(&client.basic()));
    assert_eq!(h.provider.revoke(&request).await.status, 200);
    assert!(audit.take().is_empty(), "nothing was revoked");
    let tokens3 = h.tokens(&client, "read").await;
    audit.take();
    let access = tokens3["access_token"].as_str().unwrap();
    let request = FormRequest::new(format!("token={access}").into_bytes())
        .with_authorization(Some(&client.basic()));
    assert_eq!(h.provider.revoke(&request).await.status, 200);
    let events = audit.take();
    assert!(matches!(
        events.as_slice(),
        [AuditEvent::TokenRevoked { .. }]
    ));
    assert_no_secret(&events, &[access, client.secret.as_deref().unwrap()]);
}

#[tokio::test]
async fn registration_changes_are_audited() {
    let (h, audit) = audited();
    let response = h
        .provider
        .register(
            br#"{"redirect_uris":["https://client.example/cb"],"client_name":"Dyn"}"#,
            None,
        )
        .await;
    assert_eq!(response.status, 201);
    let doc = response.json_body().unwrap();
    let id = doc["client_id"].as_str().unwrap().to_owned();
    let secret = doc["client_secret"].as_str().unwrap().to_owned();
    let token = doc["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = ClientId::new(id.clone()).unwrap();
    assert_eq!(
        audit.take(),
        vec![AuditEvent::ClientRegistered {
            client_id: client_id.clone()
        }]
    );

    let put = format!(
        r#"{{"client_id":"{id}","redirect_uris":["https://client.example/other"],"client_name":"Renamed"}}"#
    );
    let bearer = format!("Bearer {token}");
    let response = h
        .provider
        .client_configuration("PUT", &id, Some(&bearer), put.as_bytes())
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        audit.take(),
        vec![AuditEvent::ClientUpdated {
            client_id: client_id.clone()
        }]
    );

    let rotated = h.provider.rotate_client_secret(&client_id).await.unwrap();
    let events = audit.take();
    assert_eq!(
        events,
        vec![AuditEvent::ClientSecretRotated {
            client_id: client_id.clone()
        }]
    );
    assert_no_secret(&events, &[&secret, rotated.secret(), &token]);

    assert!(h.provider.delete_client(&client_id).await.unwrap());
    assert_eq!(
        audit.take(),
        vec![AuditEvent::ClientDeleted {
            client_id: client_id.clone()
        }]
    );
    // Deleting nothing is not an event.
    assert!(!h.provider.delete_client(&client_id).await.unwrap());
    assert!(audit.take().is_empty());
}

#[tokio::test]
async fn consent_granted_and_withdrawn() {
    let (h, audit) = audited();
    let client = h.confidential().await;
    audit.take();
    let _ = h.code(&client, "read").await;
    let events = audit.take();
    assert!(
        matches!(events.as_slice(), [AuditEvent::ConsentGranted { user, .. }] if user.as_str() == "alice"),
        "{events:?}"
    );
    let id = ClientId::new(client.id.clone()).unwrap();
    assert!(h.provider.revoke_app(&user(), &id).await.unwrap());
    assert!(matches!(
        audit.take().as_slice(),
        [AuditEvent::ConsentWithdrawn { .. }]
    ));
}

#[tokio::test]
async fn device_code_guessing_hits_the_rate_limit() {
    let (h, audit) = audited();
    let mut limited = false;
    for _ in 0..12 {
        let error = h
            .provider
            .device_verification(
                "BCDF-GHJK",
                &tessera::DeviceAttempt::new(&tessera::UserId::new("attacker-session")),
            )
            .await
            .expect_err("no such code");
        if error.code == tessera::ErrorCode::SlowDown {
            limited = true;
        }
    }
    assert!(limited);
    let events = audit.take();
    assert!(events.contains(&AuditEvent::RateLimited {
        limit: RateLimit::DeviceUserCode
    }));
    assert_no_secret(&events, &["BCDF-GHJK", "BCDFGHJK", "attacker-session"]);
    let _ = ScopeSet::new();
}

#[tokio::test]
async fn client_secret_guessing_hits_the_rate_limit() {
    let (h, audit) = audited();
    let client = h.confidential().await;
    let guess = TestClient {
        id: client.id.clone(),
        secret: Some("guess-number-n".into()),
    };
    for _ in 0..21 {
        h.token(&guess, "grant_type=client_credentials").await;
    }
    let events = audit.take();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AuditEvent::ClientAuthFailed { .. }))
            .count(),
        20
    );
    assert_eq!(
        events.last(),
        Some(&AuditEvent::RateLimited {
            limit: RateLimit::ClientSecret
        })
    );
    assert_no_secret(
        &events,
        &["guess-number-n", client.secret.as_deref().unwrap()],
    );
}
