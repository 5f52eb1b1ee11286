//! The storage conformance kit: the checks every [`Storage`] backend must pass, ours or a
//! host's, run with one macro call.
//!
//! ```ignore
//! tessera::store_conformance_tests!(async { std::sync::Arc::new(MyStore::connect().await) });
//! ```
//!
//! expands to one `#[tokio::test]` per check. Each check uses fresh random identifiers, so the
//! checks may run concurrently against one shared database. The race checks spawn tasks on a
//! multi-threaded runtime so that they truly run at once.
//!
//! The checks panic with a message on failure: they are test code.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub use crate::inspect::{RedirectExt, ResponseExt};

use std::collections::HashMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::client::{Client, ClientId, ClientType, GrantType, UserId};
use crate::entropy::{Entropy, OsEntropy};
use crate::error::StoreError;
use crate::redirect::RedirectUri;
use crate::scope::ScopeSet;
use crate::secret::{SecretHash, TokenHash};
use crate::store::{
    CodeRecord, CodeRedemption, Consent, DevicePoll, DeviceRecord, DeviceStatus, Grant, GrantId,
    PkceChallenge, PkceMethod, RefreshLookup, Rotation, Storage, TokenRecord, TokenType,
};

/// The time the checks treat as "now": fixed, in whole seconds, after any sweep check's records.
pub fn base_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn unique(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    OsEntropy.fill(&mut bytes);
    format!(
        "{prefix}-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn random_hash() -> TokenHash {
    let mut bytes = [0u8; 32];
    OsEntropy.fill(&mut bytes);
    TokenHash::from_bytes(bytes)
}

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).expect("valid scopes")
}

/// A confidential client with a random ID, stored.
pub async fn new_client(store: &dyn Storage) -> Client {
    let id = ClientId::new(unique("client")).expect("valid id");
    let client = Client::new(id, "Test client", ClientType::Confidential, base_time())
        .with_redirect_uris(vec![
            RedirectUri::parse("https://client.example/cb").expect("uri"),
        ])
        .with_secret(SecretHash::Sha256(random_hash()))
        .with_grant_types(vec![
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
        ]);
    store.insert_client(&client).await.expect("insert client");
    client
}

fn new_grant(client: &Client, user: Option<&UserId>) -> Grant {
    Grant::new(
        GrantId::new(unique("grant")),
        client.id.clone(),
        user.cloned(),
        scopes("read write"),
        GrantType::AuthorizationCode,
        base_time(),
    )
}

fn token(grant: &Grant, token_type: TokenType, expires_at: Option<OffsetDateTime>) -> TokenRecord {
    TokenRecord::new(
        random_hash(),
        token_type,
        grant,
        grant.scopes.clone(),
        base_time(),
        expires_at,
        None,
    )
}

fn code_for(grant: &Grant, expires_at: OffsetDateTime) -> CodeRecord {
    CodeRecord::new(
        random_hash(),
        grant.clone(),
        Some("https://client.example/cb".into()),
        Some(PkceChallenge::new(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            PkceMethod::S256,
        )),
        expires_at,
    )
}

/// Clients: insert, conflict, find, update, delete.
pub async fn clients(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    assert_eq!(
        store.find_client(&client.id).await.unwrap(),
        Some(client.clone())
    );
    assert!(matches!(
        store.insert_client(&client).await,
        Err(StoreError::Conflict)
    ));
    let mut changed = client.clone();
    changed.name = "Renamed".into();
    changed.scopes = Some(scopes("a b"));
    changed
        .metadata
        .insert("contacts".into(), serde_json::json!(["a@example.com"]));
    assert!(store.update_client(&changed).await.unwrap());
    assert_eq!(store.find_client(&client.id).await.unwrap(), Some(changed));
    assert!(store.delete_client(&client.id).await.unwrap());
    assert_eq!(store.find_client(&client.id).await.unwrap(), None);
    assert!(!store.delete_client(&client.id).await.unwrap());
    let ghost = Client::new(
        ClientId::new(unique("ghost")).unwrap(),
        "G",
        ClientType::Public,
        base_time(),
    );
    assert!(!store.update_client(&ghost).await.unwrap());
}

/// Codes: stored with every field, taken once, then reported as replayed.
pub async fn codes(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    store.insert_code(&code).await.unwrap();
    assert!(matches!(
        store.insert_code(&code).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Redeemed(code.clone())
    );
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Replayed(grant.id.clone())
    );
    assert_eq!(
        store.take_code(&random_hash()).await.unwrap(),
        CodeRedemption::Unknown
    );
}

/// `tasks` concurrent redemptions of one code: exactly one wins.
pub async fn code_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    store.insert_code(&code).await.unwrap();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(&store);
            let hash = code.hash;
            tokio::spawn(async move { store.take_code(&hash).await })
        })
        .collect();
    let mut redeemed = 0;
    for handle in handles {
        match handle.await.expect("task").expect("store") {
            CodeRedemption::Redeemed(_) => redeemed += 1,
            CodeRedemption::Replayed(id) => assert_eq!(id, grant.id),
            CodeRedemption::Unknown => panic!("a live code was reported unknown"),
        }
    }
    assert_eq!(
        redeemed, 1,
        "exactly one of {tasks} concurrent redemptions must win"
    );
}

/// A replayed code's grant ends with no live token, whichever came first (RFC 9700 §4.5):
/// a replay between the winner's `take_code` and its `issue_tokens` bars the grant, so the
/// `issue_tokens` stores nothing and fails with [`StoreError::GrantRevoked`]; a replay after
/// it is finished by `revoke_grant`. The bar outlives a sweep that its code survives.
pub async fn code_replay(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));

    // Replay before issue: take_code, take_code (replay), revoke_grant, then issue_tokens.
    let grant = new_grant(&client, Some(&user));
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    store.insert_code(&code).await.unwrap();
    assert!(matches!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Replayed(grant.id.clone())
    );
    assert_eq!(store.revoke_grant(&grant.id).await.unwrap(), 0);
    let access = token(&grant, TokenType::Access, None);
    let refresh = token(&grant, TokenType::Refresh, None);
    let both = [access.clone(), refresh.clone()];
    assert!(
        matches!(
            store.issue_tokens(&grant, &both).await,
            Err(StoreError::GrantRevoked)
        ),
        "issue_tokens for a grant whose code was replayed must fail with GrantRevoked"
    );
    assert_eq!(store.find_token(&access.hash).await.unwrap(), None);
    assert_eq!(store.find_token(&refresh.hash).await.unwrap(), None);
    assert_eq!(
        store.find_refresh(&refresh.hash).await.unwrap(),
        RefreshLookup::Unknown
    );
    assert!(
        !store
            .list_user_grants(&user)
            .await
            .unwrap()
            .iter()
            .any(|g| g.id == grant.id),
        "a barred grant must not be created"
    );
    // A second replay changes nothing, and a sweep before the code's expiry keeps the bar
    // (while sweeping an expired one: a replayed code from long ago).
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Replayed(grant.id.clone())
    );
    let long_ago = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
    let old_grant = new_grant(&client, Some(&user));
    let old_code = code_for(&old_grant, long_ago);
    store.insert_code(&old_code).await.unwrap();
    for _ in 0..2 {
        store.take_code(&old_code.hash).await.unwrap();
    }
    while store
        .sweep_codes(long_ago + Duration::days(1), 100)
        .await
        .unwrap()
        > 0
    {}
    assert!(matches!(
        store.issue_tokens(&grant, &both).await,
        Err(StoreError::GrantRevoked)
    ));
    assert_eq!(store.find_token(&access.hash).await.unwrap(), None);

    // Replay after issue: revoke_grant removes the tokens already stored.
    let grant = new_grant(&client, Some(&user));
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    store.insert_code(&code).await.unwrap();
    assert!(matches!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    let access = token(&grant, TokenType::Access, None);
    let refresh = token(&grant, TokenType::Refresh, None);
    store
        .issue_tokens(&grant, &[access.clone(), refresh.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Replayed(grant.id.clone())
    );
    assert_eq!(store.revoke_grant(&grant.id).await.unwrap(), 2);
    assert_eq!(store.find_token(&access.hash).await.unwrap(), None);
    assert_eq!(
        store.find_refresh(&refresh.hash).await.unwrap(),
        RefreshLookup::Unknown
    );
    // Later tokens for it are refused too.
    assert!(matches!(
        store
            .issue_tokens(&grant, &[token(&grant, TokenType::Access, None)])
            .await,
        Err(StoreError::GrantRevoked)
    ));
}

/// `rounds` races of one redemption (`take_code` then `issue_tokens`) against one replay
/// (`take_code` then `revoke_grant`) of the same code: whatever the interleaving, no token of
/// the code is live afterwards, and the winner either stored its tokens (later revoked) or was
/// told [`StoreError::GrantRevoked`].
pub async fn code_replay_race(store: Arc<dyn Storage>, rounds: usize) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    for _ in 0..rounds {
        let grant = new_grant(&client, Some(&user));
        let code = code_for(&grant, base_time() + Duration::seconds(60));
        store.insert_code(&code).await.unwrap();
        let access = token(&grant, TokenType::Access, None);
        let refresh = token(&grant, TokenType::Refresh, None);
        let tokens = vec![access.clone(), refresh.clone()];
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                let (hash, grant, tokens) = (code.hash, grant.clone(), tokens.clone());
                tokio::spawn(async move {
                    match store.take_code(&hash).await.unwrap() {
                        CodeRedemption::Redeemed(_) => {
                            match store.issue_tokens(&grant, &tokens).await {
                                Ok(()) | Err(StoreError::GrantRevoked) => {}
                                Err(other) => panic!("issue_tokens failed: {other}"),
                            }
                            true
                        }
                        CodeRedemption::Replayed(id) => {
                            store.revoke_grant(&id).await.unwrap();
                            false
                        }
                        CodeRedemption::Unknown => panic!("a live code was reported unknown"),
                    }
                })
            })
            .collect();
        let mut winners = 0;
        for handle in handles {
            winners += usize::from(handle.await.expect("task"));
        }
        assert_eq!(winners, 1, "exactly one of two redemptions must win");
        assert_eq!(
            store.find_token(&access.hash).await.unwrap(),
            None,
            "an access token of a replayed code is live"
        );
        assert_eq!(
            store.find_refresh(&refresh.hash).await.unwrap(),
            RefreshLookup::Unknown,
            "a refresh token of a replayed code is live"
        );
    }
}

/// Tokens: issue, find, expiry fields, single revocation.
pub async fn tokens(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let access = token(
        &grant,
        TokenType::Access,
        Some(base_time() + Duration::hours(1)),
    );
    let mut refresh = token(&grant, TokenType::Refresh, None);
    refresh.family_expires_at = Some(base_time() + Duration::days(90));
    store
        .issue_tokens(&grant, &[access.clone(), refresh.clone()])
        .await
        .unwrap();
    assert_eq!(
        store.find_token(&access.hash).await.unwrap().as_deref(),
        Some(&access)
    );
    assert_eq!(
        store.find_token(&refresh.hash).await.unwrap().as_deref(),
        Some(&refresh)
    );
    assert_eq!(
        store.find_refresh(&refresh.hash).await.unwrap(),
        RefreshLookup::Active(refresh.clone())
    );
    assert_eq!(
        store.find_refresh(&access.hash).await.unwrap(),
        RefreshLookup::Unknown
    );
    assert_eq!(store.find_token(&random_hash()).await.unwrap(), None);
    assert!(store.revoke_token(&access.hash).await.unwrap());
    assert!(!store.revoke_token(&access.hash).await.unwrap());
    assert_eq!(store.find_token(&access.hash).await.unwrap(), None);
    assert!(store.find_token(&refresh.hash).await.unwrap().is_some());
}

/// Rotation retires the old refresh token, keeps the successor sealed, and refuses a second
/// rotation; revoking the grant removes everything.
pub async fn rotation(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let first = token(
        &grant,
        TokenType::Refresh,
        Some(base_time() + Duration::days(30)),
    );
    store
        .issue_tokens(&grant, std::slice::from_ref(&first))
        .await
        .unwrap();
    let next_access = token(
        &grant,
        TokenType::Access,
        Some(base_time() + Duration::hours(1)),
    );
    let next_refresh = token(
        &grant,
        TokenType::Refresh,
        Some(base_time() + Duration::days(30)),
    );
    let now = base_time() + Duration::seconds(10);
    let sealed = Some(vec![1u8, 2, 3, 0, 255]);
    let rotated = store
        .rotate_refresh(
            &first.hash,
            &[next_access.clone(), next_refresh.clone()],
            sealed.clone(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(rotated, Rotation::Rotated);
    assert_eq!(
        store.find_token(&first.hash).await.unwrap(),
        None,
        "a retired token is not live"
    );
    match store.find_refresh(&first.hash).await.unwrap() {
        RefreshLookup::Retired(retired) => {
            assert_eq!(retired.record, first);
            assert_eq!(retired.retired_at, now);
            assert_eq!(retired.sealed_successor, sealed);
        }
        other => panic!("expected a retired token, found {other:?}"),
    }
    let again = store
        .rotate_refresh(&first.hash, &[], None, now)
        .await
        .unwrap();
    assert!(matches!(again, Rotation::AlreadyRetired(ref r) if r.sealed_successor == sealed));
    assert_eq!(
        store
            .rotate_refresh(&random_hash(), &[], None, now)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        store
            .rotate_refresh(&next_access.hash, &[], None, now)
            .await
            .unwrap(),
        Rotation::Unknown,
        "an access token cannot be rotated"
    );
    assert!(store.find_token(&next_access.hash).await.unwrap().is_some());
    assert!(store.revoke_grant(&grant.id).await.unwrap() >= 2);
    for hash in [first.hash, next_access.hash, next_refresh.hash] {
        assert_eq!(store.find_token(&hash).await.unwrap(), None);
        assert_eq!(
            store.find_refresh(&hash).await.unwrap(),
            RefreshLookup::Unknown
        );
    }
}

/// `tasks` concurrent rotations of one refresh token: exactly one wins, the losers store
/// nothing.
pub async fn rotation_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let first = token(&grant, TokenType::Refresh, None);
    store
        .issue_tokens(&grant, std::slice::from_ref(&first))
        .await
        .unwrap();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let store = Arc::clone(&store);
            let successor = token(&grant, TokenType::Refresh, None);
            let hash = first.hash;
            tokio::spawn(async move {
                let outcome = store
                    .rotate_refresh(
                        &hash,
                        std::slice::from_ref(&successor),
                        Some(vec![i as u8]),
                        base_time(),
                    )
                    .await;
                (successor.hash, outcome)
            })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        let (successor, outcome) = handle.await.expect("task");
        match outcome.expect("store") {
            Rotation::Rotated => {
                winners += 1;
                assert!(store.find_token(&successor).await.unwrap().is_some());
            }
            Rotation::AlreadyRetired(_) => {
                assert_eq!(
                    store.find_token(&successor).await.unwrap(),
                    None,
                    "a loser stored its tokens"
                );
            }
            Rotation::Unknown => panic!("a live refresh token was reported unknown"),
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one of {tasks} concurrent rotations must win"
    );
}

/// Grants: listed per user, revoked per user and client, cascade on client deletion.
pub async fn grants(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let other_client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let mut older = new_grant(&client, Some(&user));
    older.created_at = base_time() - Duration::days(1);
    let newer = new_grant(&other_client, Some(&user));
    let older_token = token(&older, TokenType::Access, None);
    let newer_token = token(&newer, TokenType::Access, None);
    store
        .issue_tokens(&older, std::slice::from_ref(&older_token))
        .await
        .unwrap();
    store
        .issue_tokens(&newer, std::slice::from_ref(&newer_token))
        .await
        .unwrap();
    let listed = store.list_user_grants(&user).await.unwrap();
    assert_eq!(listed, vec![newer.clone(), older.clone()]);
    assert_eq!(
        store.revoke_user_grants(&user, &client.id).await.unwrap(),
        1
    );
    assert_eq!(store.find_token(&older_token.hash).await.unwrap(), None);
    assert!(store.find_token(&newer_token.hash).await.unwrap().is_some());
    assert_eq!(
        store.list_user_grants(&user).await.unwrap(),
        vec![newer.clone()]
    );

    // Deleting a client leaves nothing of it behind.
    let code = code_for(&newer, base_time() + Duration::seconds(60));
    store.insert_code(&code).await.unwrap();
    store
        .save_consent(&Consent::new(
            user.clone(),
            other_client.id.clone(),
            scopes("read"),
            base_time(),
        ))
        .await
        .unwrap();
    let device = DeviceRecord::new(
        random_hash(),
        random_hash(),
        other_client.id.clone(),
        scopes("read"),
        base_time() + Duration::minutes(10),
        5,
    );
    store.insert_device(&device).await.unwrap();
    assert!(store.delete_client(&other_client.id).await.unwrap());
    assert_eq!(store.find_token(&newer_token.hash).await.unwrap(), None);
    assert_eq!(
        store.take_code(&code.hash).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert_eq!(
        store.find_consent(&user, &other_client.id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .find_device_by_user_code(&device.user_code_hash)
            .await
            .unwrap(),
        None
    );
    assert!(store.list_user_grants(&user).await.unwrap().is_empty());
}

/// Consents: saved, merged as a union, touched, listed, revoked.
pub async fn consents(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    assert_eq!(store.find_consent(&user, &client.id).await.unwrap(), None);
    let first = Consent::new(user.clone(), client.id.clone(), scopes("read"), base_time());
    store.save_consent(&first).await.unwrap();
    let mut second = Consent::new(
        user.clone(),
        client.id.clone(),
        scopes("write"),
        base_time() + Duration::hours(1),
    );
    second.last_used_at = base_time() + Duration::hours(1);
    store.save_consent(&second).await.unwrap();
    let merged = store
        .find_consent(&user, &client.id)
        .await
        .unwrap()
        .expect("consent");
    assert_eq!(merged.scopes, scopes("read write"));
    assert_eq!(merged.granted_at, base_time());
    assert_eq!(merged.last_used_at, base_time() + Duration::hours(1));
    store
        .touch_consent(&user, &client.id, base_time() + Duration::hours(2))
        .await
        .unwrap();
    let touched = store
        .find_consent(&user, &client.id)
        .await
        .unwrap()
        .expect("consent");
    assert_eq!(touched.last_used_at, base_time() + Duration::hours(2));
    assert_eq!(store.list_consents(&user).await.unwrap(), vec![touched]);
    assert!(store.revoke_consent(&user, &client.id).await.unwrap());
    assert!(!store.revoke_consent(&user, &client.id).await.unwrap());
    assert!(store.list_consents(&user).await.unwrap().is_empty());
    // Touching a consent that does not exist creates nothing.
    store
        .touch_consent(&user, &client.id, base_time())
        .await
        .unwrap();
    assert_eq!(store.find_consent(&user, &client.id).await.unwrap(), None);
}

/// Device authorizations: insert, conflict, decide once, poll with slow_down, redeem once.
pub async fn devices(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let record = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        scopes("read"),
        base_time() + Duration::minutes(10),
        5,
    );
    store.insert_device(&record).await.unwrap();
    let mut clash = record.clone();
    clash.device_hash = random_hash();
    assert!(
        matches!(store.insert_device(&clash).await, Err(StoreError::Conflict)),
        "user code in use"
    );
    assert_eq!(
        store
            .find_device_by_user_code(&record.user_code_hash)
            .await
            .unwrap(),
        Some(record.clone())
    );

    let t0 = base_time();
    let DevicePoll::Polled(first) = store.poll_device(&record.device_hash, t0).await.unwrap()
    else {
        panic!("first poll is never too fast");
    };
    assert_eq!(first.status, DeviceStatus::Pending);
    assert_eq!(
        first.last_poll_at, None,
        "a poll returns the record as it was before the call"
    );
    let DevicePoll::SlowDown(slowed) = store
        .poll_device(&record.device_hash, t0 + Duration::seconds(2))
        .await
        .unwrap()
    else {
        panic!("a poll 2 s after the last with interval 5 is too fast");
    };
    assert_eq!(slowed.interval, 10);
    // The too-fast poll counts as the last poll: the interval now runs from it.
    assert!(matches!(
        store
            .poll_device(&record.device_hash, t0 + Duration::seconds(11))
            .await
            .unwrap(),
        DevicePoll::SlowDown(_)
    ));
    let DevicePoll::Polled(before) = store
        .poll_device(&record.device_hash, t0 + Duration::seconds(40))
        .await
        .unwrap()
    else {
        panic!("a poll after the raised interval");
    };
    assert_eq!(
        (before.interval, before.last_poll_at),
        (15, Some(t0 + Duration::seconds(11))),
        "the record before this poll: two slow-downs, the last at 11 s"
    );

    let user = UserId::new(unique("user"));
    let grant = Grant::new(
        GrantId::new(unique("grant")),
        client.id.clone(),
        Some(user),
        scopes("read"),
        GrantType::DeviceCode,
        t0,
    );
    let approved = DeviceStatus::Approved {
        grant: grant.clone(),
    };
    assert!(
        store
            .decide_device(&record.user_code_hash, approved.clone())
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_device(&record.user_code_hash, DeviceStatus::Denied)
            .await
            .unwrap(),
        "decided once"
    );
    assert!(
        !store
            .decide_device(&random_hash(), DeviceStatus::Denied)
            .await
            .unwrap()
    );
    let DevicePoll::Polled(seen) = store
        .poll_device(&record.device_hash, t0 + Duration::seconds(100))
        .await
        .unwrap()
    else {
        panic!("poll after the interval");
    };
    assert_eq!(seen.status, approved);
    let DevicePoll::Polled(after) = store
        .poll_device(&record.device_hash, t0 + Duration::seconds(200))
        .await
        .unwrap()
    else {
        panic!("poll after the interval");
    };
    assert_eq!(after.status, DeviceStatus::Redeemed);
    assert_eq!(
        store.poll_device(&random_hash(), t0).await.unwrap(),
        DevicePoll::Unknown
    );
}

/// `tasks` concurrent polls of an approved device authorization: exactly one sees it approved.
pub async fn device_poll_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let record = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        scopes("read"),
        base_time() + Duration::minutes(10),
        0,
    );
    store.insert_device(&record).await.unwrap();
    let grant = Grant::new(
        GrantId::new(unique("grant")),
        client.id.clone(),
        Some(UserId::new("u")),
        scopes("read"),
        GrantType::DeviceCode,
        base_time(),
    );
    assert!(
        store
            .decide_device(&record.user_code_hash, DeviceStatus::Approved { grant })
            .await
            .unwrap()
    );
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let store = Arc::clone(&store);
            let hash = record.device_hash;
            tokio::spawn(async move {
                store
                    .poll_device(&hash, base_time() + Duration::seconds(i as i64))
                    .await
            })
        })
        .collect();
    let mut approved = 0;
    for handle in handles {
        if let DevicePoll::Polled(DeviceRecord {
            status: DeviceStatus::Approved { .. },
            ..
        }) = handle.await.expect("task").expect("store")
        {
            approved += 1;
        }
    }
    assert_eq!(approved, 1, "exactly one poll may collect an approval");
}

/// Sweeping removes expired codes, tokens (live and retired) and device authorizations in
/// bounded batches, and nothing live.
pub async fn sweep(store: Arc<dyn Storage>) {
    // Records in the distant past, so that a concurrent check's records are never expired at
    // this check's `now`.
    let long_ago = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
    let now = long_ago + Duration::days(1);
    let client = new_client(&*store).await;
    let mut grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    grant.created_at = long_ago;
    let expired: Vec<TokenRecord> = (0..5)
        .map(|_| token(&grant, TokenType::Access, Some(long_ago)))
        .collect();
    let live = token(&grant, TokenType::Access, Some(now + Duration::days(1)));
    let forever = token(&grant, TokenType::Access, None);
    let refresh = token(
        &grant,
        TokenType::Refresh,
        Some(long_ago + Duration::seconds(1)),
    );
    let mut all = expired.clone();
    all.extend([live.clone(), forever.clone(), refresh.clone()]);
    store.issue_tokens(&grant, &all).await.unwrap();
    assert_eq!(
        store
            .rotate_refresh(&refresh.hash, &[], None, long_ago)
            .await
            .unwrap(),
        Rotation::Rotated
    );
    let old_code = code_for(&grant, long_ago);
    let fresh_code = code_for(&grant, now + Duration::seconds(60));
    store.insert_code(&old_code).await.unwrap();
    store.insert_code(&fresh_code).await.unwrap();
    let old_device = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        scopes("read"),
        long_ago,
        5,
    );
    store.insert_device(&old_device).await.unwrap();

    let mut swept = 0;
    loop {
        let batch = store.sweep_tokens(now, 2).await.unwrap();
        assert!(batch <= 2, "a batch is bounded by its limit");
        if batch == 0 {
            break;
        }
        swept += batch;
    }
    assert!(
        swept >= 6,
        "five expired access tokens and one retired refresh token, swept {swept}"
    );
    for token in &expired {
        assert_eq!(store.find_token(&token.hash).await.unwrap(), None);
    }
    assert_eq!(
        store.find_refresh(&refresh.hash).await.unwrap(),
        RefreshLookup::Unknown
    );
    assert!(store.find_token(&live.hash).await.unwrap().is_some());
    assert!(store.find_token(&forever.hash).await.unwrap().is_some());
    while store.sweep_codes(now, 100).await.unwrap() > 0 {}
    assert_eq!(
        store.take_code(&old_code.hash).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(matches!(
        store.take_code(&fresh_code.hash).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    while store.sweep_devices(now, 100).await.unwrap() > 0 {}
    assert_eq!(
        store
            .find_device_by_user_code(&old_device.user_code_hash)
            .await
            .unwrap(),
        None
    );
}

/// A random sequence of token operations checked against a plain map of what should be live.
pub async fn model(store: Arc<dyn Storage>, seed: u64, steps: usize) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let mut grants: Vec<Grant> = Vec::new();
    // What the model says: each live token with its grant; retired refresh tokens.
    let mut live: HashMap<TokenHash, (GrantId, TokenType)> = HashMap::new();
    let mut retired: HashMap<TokenHash, GrantId> = HashMap::new();
    for _ in 0..steps {
        match rng.random_range(0..5) {
            0 => {
                let grant = new_grant(&client, Some(&user));
                let a = token(&grant, TokenType::Access, None);
                let r = token(&grant, TokenType::Refresh, None);
                store
                    .issue_tokens(&grant, &[a.clone(), r.clone()])
                    .await
                    .unwrap();
                live.insert(a.hash, (grant.id.clone(), TokenType::Access));
                live.insert(r.hash, (grant.id.clone(), TokenType::Refresh));
                grants.push(grant);
            }
            1 if !live.is_empty() => {
                let hashes: Vec<_> = live
                    .iter()
                    .filter(|(_, (_, t))| *t == TokenType::Refresh)
                    .map(|(h, g)| (*h, g.0.clone()))
                    .collect();
                if let Some((old, grant_id)) = hashes
                    .get(rng.random_range(0..hashes.len().max(1)))
                    .cloned()
                {
                    let grant = grants.iter().find(|g| g.id == grant_id).unwrap().clone();
                    let next = token(&grant, TokenType::Refresh, None);
                    assert_eq!(
                        store
                            .rotate_refresh(&old, std::slice::from_ref(&next), None, base_time())
                            .await
                            .unwrap(),
                        Rotation::Rotated
                    );
                    live.remove(&old);
                    retired.insert(old, grant_id.clone());
                    live.insert(next.hash, (grant_id, TokenType::Refresh));
                }
            }
            2 if !live.is_empty() => {
                let hashes: Vec<_> = live.keys().copied().collect();
                let hash = hashes[rng.random_range(0..hashes.len())];
                assert!(store.revoke_token(&hash).await.unwrap());
                live.remove(&hash);
            }
            3 if !grants.is_empty() => {
                let grant = grants.remove(rng.random_range(0..grants.len()));
                store.revoke_grant(&grant.id).await.unwrap();
                live.retain(|_, (g, _)| *g != grant.id);
                retired.retain(|_, g| *g != grant.id);
            }
            _ => {
                let hash = random_hash();
                assert_eq!(store.find_token(&hash).await.unwrap(), None);
            }
        }
        for (hash, (grant, token_type)) in &live {
            let found = store
                .find_token(hash)
                .await
                .unwrap()
                .expect("a live token is found");
            assert_eq!((&found.grant_id, found.token_type), (grant, *token_type));
        }
        for hash in retired.keys() {
            assert!(matches!(
                store.find_refresh(hash).await.unwrap(),
                RefreshLookup::Retired(_)
            ));
            assert_eq!(store.find_token(hash).await.unwrap(), None);
        }
    }
}

/// Every check, one after another.
pub async fn run_all(store: Arc<dyn Storage>) {
    clients(Arc::clone(&store)).await;
    codes(Arc::clone(&store)).await;
    code_race(Arc::clone(&store), 64).await;
    code_replay(Arc::clone(&store)).await;
    code_replay_race(Arc::clone(&store), 16).await;
    tokens(Arc::clone(&store)).await;
    rotation(Arc::clone(&store)).await;
    rotation_race(Arc::clone(&store), 32).await;
    grants(Arc::clone(&store)).await;
    consents(Arc::clone(&store)).await;
    devices(Arc::clone(&store)).await;
    device_poll_race(Arc::clone(&store), 16).await;
    sweep(Arc::clone(&store)).await;
    model(store, 7, 60).await;
}

/// Expands to one `#[tokio::test]` per conformance check, each calling `$make` (an expression
/// evaluating to a future of `Arc<S>` where `S: Storage`) for its store.
///
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            clients, codes, code_replay, tokens, rotation, grants, consents, devices, sweep);
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn code_race() {
            $crate::testkit::code_race($make.await, 100).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn code_replay_race() {
            $crate::testkit::code_replay_race($make.await, 50).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn rotation_race() {
            $crate::testkit::rotation_race($make.await, 50).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn device_poll_race() {
            $crate::testkit::device_poll_race($make.await, 20).await;
        }
        #[tokio::test]
        async fn model() {
            for seed in 0..4 {
                $crate::testkit::model($make.await, seed, 40).await;
            }
        }
    };
    (@each $make:expr; $($check:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::testkit::$check($make.await).await;
            }
        )*
    };
}
