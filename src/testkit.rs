//! The storage conformance kit: the checks every [`Storage`] backend must pass, ours or a
//! host's, run with one macro call.
//!
//! ```ignore
//! tessera::store_conformance_tests!(async { std::sync::Arc::new(MyStore::connect().await) });
//! ```
//!
//! expands to one `#[tokio::test]` per check. Each check uses fresh random identifiers, and
//! the checks that sweep keep to eras of their own (records that must survive a sweep expire
//! after every check's sweeping time), so the checks may run concurrently against one shared
//! database. The race checks spawn tasks on a multi-threaded runtime so that they truly run at
//! once.
//!
//! A check fails by panicking with the store method and the contract it broke, for example
//! `revoke_grant: after it returns no token of the family is found`, located at the line of
//! the check that found it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub use crate::clock::ManualClock;
pub use crate::entropy::SeededEntropy;
pub use crate::inspect::{RedirectExt, ResponseExt};

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use time::{Duration, OffsetDateTime};

use crate::client::{Client, ClientId, ClientType, GrantType, UserId};
use crate::entropy::{Entropy, OsEntropy};
use crate::error::StoreError;
use crate::redirect::RedirectUri;
use crate::scope::{Scope, ScopeSet};
use crate::secret::{SecretHash, TokenHash};
use crate::store::{
    Authentication, CodeRecord, CodeRedemption, Confirmation, Consent, DevicePoll, DeviceRecord,
    DeviceRedemption, DeviceStatus, Family, Grant, GrantId, Insertion, IssueOutcome, PkceChallenge,
    PkceMethod, RefreshLookup, ReplayKey, Rotation, Storage, TokenRecord, TokenType,
};

/// The time the checks treat as "now": fixed, in whole seconds, after any sweep check's records.
pub fn base_time() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The era of [`sweep`] and [`code_replay`]: everything they sweep expires in it.
fn long_ago() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The era of [`unused_clients`]: the only check that marks clients, and sweeps them, in it.
fn unused_era() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_200_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The era of [`sweep_backlog`]: before every other era, so its sweeps remove only its own
/// records (the other checks' sweeps, later, may remove its records too: it checks only that
/// they are gone).
fn backlog_era() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(900_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The era of [`retired_refresh_survives_sweep`], after [`long_ago`]'s sweeps, before
/// [`base_time`].
fn retirement_era() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_500_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

// ---------------------------------------------------------------------------------------------
// Failing with the method and the contract

/// The value of a store call, or a failure naming the method.
#[track_caller]
fn ok<T>(result: Result<T, StoreError>, method: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{method}: failed with a store error: {error}"),
    }
}

/// Fails with `method: contract` unless `holds`.
#[track_caller]
fn check(holds: bool, method: &str, contract: &str) {
    if !holds {
        panic!("{method}: {contract}");
    }
}

/// Fails with `method: contract` and both values unless they are equal.
#[track_caller]
fn check_eq<T: PartialEq + fmt::Debug>(found: T, expected: T, method: &str, contract: &str) {
    if found != expected {
        panic!("{method}: {contract}\n   found: {found:?}\nexpected: {expected:?}");
    }
}

/// The value of a lookup that must find something, or a failure with `method: contract`.
#[track_caller]
fn some<T>(found: Option<T>, method: &str, contract: &str) -> T {
    match found {
        Some(value) => value,
        None => panic!("{method}: {contract}"),
    }
}

/// Fails with `method: contract` if `find_token` found the token.
#[track_caller]
fn gone(found: Result<Option<Arc<TokenRecord>>, StoreError>, method: &str, contract: &str) {
    if let Some(record) = ok(found, "find_token") {
        panic!("{method}: {contract}\n   found: {record:?}");
    }
}

/// Fails with `method: contract` unless `find_token` found the token.
#[track_caller]
fn found(
    found: Result<Option<Arc<TokenRecord>>, StoreError>,
    method: &str,
    contract: &str,
) -> Arc<TokenRecord> {
    match ok(found, "find_token") {
        Some(record) => record,
        None => panic!("{method}: {contract}"),
    }
}

/// Fails with `method: contract` unless `find_refresh` found nothing.
#[track_caller]
fn unknown_refresh(found: Result<RefreshLookup, StoreError>, method: &str, contract: &str) {
    let found = ok(found, "find_refresh");
    if found != RefreshLookup::Unknown {
        panic!("{method}: {contract}\n   found: {found:?}");
    }
}

/// The output of a task the check spawned; a panic inside it (a failed check) is passed on.
async fn joined<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match handle.await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("a task of the check was cancelled: {error}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Records

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

/// `n` distinct scopes, `s{first}` to `s{first + n - 1}`: more than a request may carry.
fn many_scopes(first: usize, n: usize) -> ScopeSet {
    (first..first + n)
        .map(|i| Scope::new(format!("s{i}")).expect("valid scope"))
        .collect()
}

/// A confidential client with a random ID, stored.
pub async fn new_client(store: &dyn Storage) -> Client {
    let client = client_record();
    ok(store.insert_client(&client).await, "insert_client");
    client
}

fn client_record() -> Client {
    let id = ClientId::new(unique("client")).expect("valid id");
    Client::new(id, "Test client", ClientType::Confidential, base_time())
        .with_redirect_uris(vec![
            RedirectUri::parse("https://client.example/cb").expect("uri"),
        ])
        .with_secret(SecretHash::Sha256(random_hash()))
        .with_grant_types(vec![
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
        ])
}

/// A grant with every optional field set, so that each check's "stored as given" covers them.
fn new_grant(client: &Client, user: Option<&UserId>) -> Grant {
    Grant::new(
        GrantId::new(unique("grant")),
        client.id.clone(),
        user.cloned(),
        scopes("read write"),
        GrantType::AuthorizationCode,
        base_time(),
    )
    .with_audience(vec![
        "https://api.example/".into(),
        "https://mcp.example/mcp".into(),
    ])
    .with_authentication(
        Authentication::new(base_time() - Duration::seconds(30))
            .with_acr("urn:example:loa:2")
            .with_amr(vec!["pwd".into(), "otp".into()]),
    )
}

/// A token of `grant` with the OpenID Connect fields set as the issuance step sets them: a
/// `claims` request on every token, the grant's authentication on refresh tokens.
fn token(grant: &Grant, token_type: TokenType, expires_at: Option<OffsetDateTime>) -> TokenRecord {
    let record = TokenRecord::new(
        random_hash(),
        token_type,
        grant,
        grant.scopes.clone(),
        base_time(),
        expires_at,
        None,
    )
    .with_claims(CLAIMS_REQUEST);
    match (&grant.authentication, token_type) {
        (Some(authentication), TokenType::Refresh) => {
            record.with_authentication(authentication.clone())
        }
        _ => record,
    }
}

/// A `claims` request (OIDC Core §5.5) with both members, as a code and its tokens keep it.
const CLAIMS_REQUEST: &str = r#"{"userinfo":{"email":{"essential":true},"phone_number":null},"id_token":{"acr":{"values":["urn:example:loa:2"]}}}"#;

/// An access and a refresh token of `grant`, never expiring, the access token bound to a
/// DPoP key and the refresh token to a client certificate (so that the kit's round trips
/// cover both kinds of `confirmation`), the access token for one resource only.
fn pair(grant: &Grant) -> Vec<TokenRecord> {
    let jkt = Confirmation::Jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into());
    let x5t = Confirmation::X5tS256("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".into());
    vec![
        token(grant, TokenType::Access, None)
            .with_audience(vec!["https://api.example/".into()])
            .with_confirmation(jkt),
        token(grant, TokenType::Refresh, None).with_confirmation(x5t),
    ]
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
    .with_nonce("n-0S6_WzA2Mj")
    .with_dpop_jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    .with_claims(CLAIMS_REQUEST)
}

/// A stored code of a fresh grant of `client` for `user`, expiring a minute after
/// [`base_time`].
async fn stored_code(store: &dyn Storage, client: &Client, user: &UserId) -> CodeRecord {
    let code = code_for(
        &new_grant(client, Some(user)),
        base_time() + Duration::seconds(60),
    );
    check_eq(
        ok(store.insert_code(&code).await, "insert_code"),
        Insertion::Stored,
        "insert_code",
        "a code of an existing client is stored",
    );
    code
}

/// Stores a grant with `tokens` (`Family::New`).
async fn issue_new(store: &dyn Storage, grant: &Grant, tokens: &[TokenRecord]) {
    check_eq(
        ok(
            store.issue_tokens(Family::New(grant), tokens).await,
            "issue_tokens",
        ),
        IssueOutcome::Stored,
        "issue_tokens",
        "Family::New with a fresh grant of an existing client stores every token",
    );
}

/// A stored, pending device authorization of `client`, expiring ten minutes after
/// [`base_time`].
async fn stored_device(store: &dyn Storage, client: &Client, interval: u32) -> DeviceRecord {
    let record = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        scopes("read"),
        base_time() + Duration::minutes(10),
        interval,
    );
    ok(store.insert_device(&record).await, "insert_device");
    record
}

fn device_grant(client: &Client, user: &UserId) -> Grant {
    Grant::new(
        GrantId::new(unique("grant")),
        client.id.clone(),
        Some(user.clone()),
        scopes("read"),
        GrantType::DeviceCode,
        base_time(),
    )
    .with_audience(vec!["https://api.example/".into()])
}

/// Approves `device` with a fresh grant for `user`; returns the grant.
async fn approve(
    store: &dyn Storage,
    device: &DeviceRecord,
    client: &Client,
    user: &UserId,
) -> Grant {
    let grant = device_grant(client, user);
    let approved = DeviceStatus::Approved {
        grant: grant.clone(),
    };
    check(
        ok(
            store.decide_device(&device.user_code_hash, approved).await,
            "decide_device",
        ),
        "decide_device",
        "approving a pending authorization of an existing client applies (returns true)",
    );
    grant
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Clients: insert, conflict, find, update, delete, and the ID free again afterwards.
pub async fn clients(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    check_eq(
        ok(store.find_client(&client.id).await, "find_client"),
        Some(client.clone()),
        "find_client",
        "a stored client is found as it was stored",
    );
    check(
        matches!(
            store.insert_client(&client).await,
            Err(StoreError::Conflict)
        ),
        "insert_client",
        "a client ID in use is a Conflict",
    );
    let mut changed = client.clone();
    changed.name = "Renamed".into();
    changed.scopes = Some(scopes("a b"));
    changed.metadata.contacts = vec!["a@example.com".into()];
    check(
        ok(store.update_client(&changed).await, "update_client"),
        "update_client",
        "updating a stored client returns true",
    );
    check_eq(
        ok(store.find_client(&client.id).await, "find_client"),
        Some(changed),
        "update_client",
        "the client's fields are replaced",
    );
    check(
        ok(store.delete_client(&client.id).await, "delete_client"),
        "delete_client",
        "deleting a stored client returns true",
    );
    check_eq(
        ok(store.find_client(&client.id).await, "find_client"),
        None,
        "delete_client",
        "once it returns the client is not found",
    );
    check(
        !ok(store.delete_client(&client.id).await, "delete_client"),
        "delete_client",
        "deleting a client that does not exist returns false",
    );
    check(
        store.insert_client(&client).await.is_ok(),
        "insert_client",
        "an ID is free again once delete_client has returned",
    );
    let ghost = client_record();
    check(
        !ok(store.update_client(&ghost).await, "update_client"),
        "update_client",
        "updating a client that does not exist returns false and stores nothing",
    );
    check_eq(
        ok(store.find_client(&ghost.id).await, "find_client"),
        None,
        "update_client",
        "updating a client that does not exist stores nothing",
    );
    check(
        !ok(
            store
                .set_client_secret(&ghost.id, &SecretHash::Sha256(random_hash()))
                .await,
            "set_client_secret",
        ),
        "set_client_secret",
        "returns false for a client that does not exist",
    );
}

/// `update_client` keeps the stored secret and registration token, whatever the record it is
/// given holds, and `set_client_secret` replaces the secret (here with a `client_secret_jwt`
/// client's derived form, [`SecretHash::Derived`], whose salt must survive the store too).
pub async fn update_keeps_secret(store: Arc<dyn Storage>) {
    let mut client = client_record();
    let registration = random_hash();
    client.registration_token = Some(registration);
    ok(store.insert_client(&client).await, "insert_client");
    let mut salt = [0u8; 16];
    OsEntropy.fill(&mut salt);
    let rotated = SecretHash::Derived {
        salt,
        hash: random_hash(),
    };
    check(
        ok(
            store.set_client_secret(&client.id, &rotated).await,
            "set_client_secret",
        ),
        "set_client_secret",
        "returns true for a stored client",
    );
    let stored = ok(store.find_client(&client.id).await, "find_client");
    check_eq(
        stored.as_ref().and_then(|c| c.secret.clone()),
        Some(rotated.clone()),
        "set_client_secret",
        "the new secret is stored",
    );
    // A metadata update built from a copy read before the rotation.
    let mut stale = client.clone();
    stale.name = "Renamed".into();
    stale.registration_token = None;
    check(
        ok(store.update_client(&stale).await, "update_client"),
        "update_client",
        "updating a stored client returns true",
    );
    let stored = some(
        ok(store.find_client(&client.id).await, "find_client"),
        "update_client",
        "an updated client is still found",
    );
    check_eq(
        stored.name.as_str(),
        "Renamed",
        "update_client",
        "the metadata is replaced",
    );
    check_eq(
        stored.secret.clone(),
        Some(rotated),
        "update_client",
        "the stored secret is kept: an update never writes an old secret back",
    );
    check_eq(
        stored.registration_token,
        Some(registration),
        "update_client",
        "the stored registration token is kept",
    );

    // Updates racing a rotation: whatever the order, the rotated secret stays.
    let last = SecretHash::Sha256(random_hash());
    let mut handles = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        let mut update = client.clone();
        update.name = format!("Update {i}");
        handles.push(tokio::spawn(async move {
            ok(store.update_client(&update).await, "update_client");
        }));
    }
    {
        let store = Arc::clone(&store);
        let (id, last) = (client.id.clone(), last.clone());
        handles.push(tokio::spawn(async move {
            ok(
                store.set_client_secret(&id, &last).await,
                "set_client_secret",
            );
        }));
    }
    for handle in handles {
        joined(handle).await;
    }
    let stored = ok(store.find_client(&client.id).await, "find_client");
    check_eq(
        stored.and_then(|c| c.secret),
        Some(last),
        "update_client",
        "concurrent updates keep a secret set meanwhile",
    );
}

/// `swap_registration_token` is a compare-and-swap.
pub async fn registration_token_swap(store: Arc<dyn Storage>) {
    let mut client = client_record();
    let first = random_hash();
    client.registration_token = Some(first);
    ok(store.insert_client(&client).await, "insert_client");
    let token_of = |client: Option<Client>| client.and_then(|c| c.registration_token);
    let second = random_hash();
    check(
        !ok(
            store
                .swap_registration_token(&client.id, &random_hash(), &second)
                .await,
            "swap_registration_token",
        ),
        "swap_registration_token",
        "a swap from a token that is not the stored one returns false",
    );
    check_eq(
        token_of(ok(store.find_client(&client.id).await, "find_client")),
        Some(first),
        "swap_registration_token",
        "a failed swap changes nothing",
    );
    check(
        ok(
            store
                .swap_registration_token(&client.id, &first, &second)
                .await,
            "swap_registration_token",
        ),
        "swap_registration_token",
        "a swap from the stored token returns true",
    );
    check_eq(
        token_of(ok(store.find_client(&client.id).await, "find_client")),
        Some(second),
        "swap_registration_token",
        "a successful swap stores the new token",
    );
    check(
        !ok(
            store
                .swap_registration_token(&client.id, &first, &random_hash())
                .await,
            "swap_registration_token",
        ),
        "swap_registration_token",
        "a swap from a token already replaced returns false",
    );
    check(
        !ok(
            store
                .swap_registration_token(
                    &ClientId::new(unique("ghost")).expect("id"),
                    &first,
                    &second,
                )
                .await,
            "swap_registration_token",
        ),
        "swap_registration_token",
        "a swap for a client that does not exist returns false",
    );

    // Concurrent swaps from one token: exactly one wins, and its token is stored.
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let (id, next) = (client.id.clone(), random_hash());
            tokio::spawn(async move {
                let won = ok(
                    store.swap_registration_token(&id, &second, &next).await,
                    "swap_registration_token",
                );
                (won, next)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for handle in handles {
        let (won, next) = joined(handle).await;
        if won {
            winners.push(next);
        }
    }
    check_eq(
        winners.len(),
        1,
        "swap_registration_token",
        "of concurrent swaps from one token exactly one succeeds",
    );
    check_eq(
        token_of(ok(store.find_client(&client.id).await, "find_client")),
        winners.first().copied(),
        "swap_registration_token",
        "the winning swap's token is the one stored",
    );
}

/// While `delete_client` of a client with `tokens` tokens runs, other requests are answered
/// between its steps: a lookup of another client's token completes while the deleted client
/// is already gone and its ID still taken (the state between a deletion's first step and its
/// last), so the deletion does not hold the store in one step (C2). There is no wall-clock
/// threshold: a deletion done in one step never shows that state at all. Afterwards nothing
/// of the client is found.
pub async fn bounded_delete(store: Arc<dyn Storage>, tokens: usize) {
    let doomed = new_client(&*store).await;
    let bystander = new_client(&*store).await;
    let bystander_grant = new_grant(&bystander, None);
    let other = token(&bystander_grant, TokenType::Access, None);
    issue_new(&*store, &bystander_grant, std::slice::from_ref(&other)).await;
    let mut sample = Vec::new();
    let per_grant = 100;
    for i in 0..tokens.div_ceil(per_grant) {
        let grant = new_grant(&doomed, Some(&UserId::new(format!("user-{i}"))));
        let family: Vec<TokenRecord> = (0..per_grant.min(tokens - i * per_grant))
            .map(|_| token(&grant, TokenType::Access, None))
            .collect();
        issue_new(&*store, &grant, &family).await;
        sample.extend(family.first().map(|t| t.hash));
    }

    // On a thread of its own, so that a store that never yields still runs beside the lookups;
    // `returned` is set the moment the call returns, on that thread.
    let runtime = tokio::runtime::Handle::current();
    let returned = Arc::new(AtomicBool::new(false));
    let deleting = {
        let (store, id, returned) = (Arc::clone(&store), doomed.id.clone(), Arc::clone(&returned));
        tokio::task::spawn_blocking(move || {
            let deleted = runtime.block_on(store.delete_client(&id));
            returned.store(true, Ordering::SeqCst);
            deleted
        })
    };
    // Mid-deletion, the client is gone but its ID still taken (until the last batch): each
    // round that sees that state completed its lookups while the deletion was under way. A
    // deletion in one step never shows it: its client and its ID go at the same instant.
    let mut during = 0u64;
    let mut reinserted = false;
    while !returned.load(Ordering::SeqCst) {
        let disappeared = ok(store.find_client(&doomed.id).await, "find_client").is_none();
        found(
            store.find_token(&other.hash).await,
            "delete_client",
            "another client's tokens are untouched while a client is deleted",
        );
        if disappeared {
            match store.insert_client(&doomed).await {
                Err(StoreError::Conflict) => during += 1,
                Ok(()) => {
                    // The deletion is complete: the probe took the ID, and gives it back below.
                    reinserted = true;
                    break;
                }
                Err(error) => panic!("insert_client: failed with a store error: {error}"),
            }
        }
        tokio::task::yield_now().await;
    }
    let existed = ok(joined(deleting).await, "delete_client");
    check(
        existed,
        "delete_client",
        "deleting a stored client returns true",
    );
    check(
        during >= 1,
        "delete_client",
        "it works in bounded steps, other requests completing between them: while a client \
         with many tokens was deleted, no lookup saw it gone with its ID still taken (a \
         deleted client's ID stays taken until its records are reaped)",
    );
    if reinserted {
        ok(store.delete_client(&doomed.id).await, "delete_client");
    }
    check_eq(
        ok(store.find_client(&doomed.id).await, "find_client"),
        None,
        "delete_client",
        "once it returns the client is not found",
    );
    for hash in &sample {
        gone(
            store.find_token(hash).await,
            "delete_client",
            "once it returns no token of the client is found",
        );
    }
    found(
        store.find_token(&other.hash).await,
        "delete_client",
        "another client's tokens are untouched",
    );
}

/// Issuance checks, in its atomic step, that the client exists: for an unknown client, for a
/// deleted one, and while one is being deleted (C11).
pub async fn client_checked_on_issue(store: Arc<dyn Storage>) {
    let ghost = client_record();
    let grant = new_grant(&ghost, Some(&UserId::new(unique("user"))));
    let tokens = pair(&grant);
    check_eq(
        ok(
            store.issue_tokens(Family::New(&grant), &tokens).await,
            "issue_tokens",
        ),
        IssueOutcome::ClientUnknown,
        "issue_tokens",
        "Family::New for a client that does not exist is ClientUnknown",
    );
    for t in &tokens {
        gone(
            store.find_token(&t.hash).await,
            "issue_tokens",
            "a ClientUnknown issuance stores nothing",
        );
    }
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    check_eq(
        ok(store.insert_code(&code).await, "insert_code"),
        Insertion::ClientUnknown,
        "insert_code",
        "a code for a client that does not exist is ClientUnknown",
    );
    check_eq(
        ok(store.find_code(&code.hash).await, "find_code"),
        None,
        "insert_code",
        "a ClientUnknown code is not stored",
    );

    // A deleted client: its grants take no more tokens, and no new grant is created.
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let grant = new_grant(&client, Some(&user));
    issue_new(&*store, &grant, &pair(&grant)).await;
    let device = stored_device(&*store, &client, 5).await;
    check(
        ok(store.delete_client(&client.id).await, "delete_client"),
        "delete_client",
        "deleting a stored client returns true",
    );
    let late = pair(&grant);
    let outcome = ok(
        store.issue_tokens(Family::Existing(&grant.id), &late).await,
        "issue_tokens",
    );
    check(
        matches!(
            outcome,
            IssueOutcome::ClientUnknown | IssueOutcome::GrantRevoked
        ),
        "issue_tokens",
        "Family::Existing for a grant of a deleted client stores nothing (ClientUnknown or \
         GrantRevoked)",
    );
    let fresh = new_grant(&client, Some(&user));
    check_eq(
        ok(
            store.issue_tokens(Family::New(&fresh), &pair(&fresh)).await,
            "issue_tokens",
        ),
        IssueOutcome::ClientUnknown,
        "issue_tokens",
        "Family::New for a deleted client is ClientUnknown",
    );
    for t in &late {
        gone(
            store.find_token(&t.hash).await,
            "issue_tokens",
            "nothing is stored for a deleted client",
        );
    }
    check(
        !ok(
            store
                .decide_device(
                    &device.user_code_hash,
                    DeviceStatus::Approved {
                        grant: device_grant(&client, &user),
                    },
                )
                .await,
            "decide_device",
        ),
        "decide_device",
        "an approval for a deleted client does not apply",
    );

    // Issuing while the client is being deleted: whatever was stored goes with the client.
    let client = new_client(&*store).await;
    for _ in 0..4 {
        let grant = new_grant(&client, None);
        let family: Vec<TokenRecord> = (0..100)
            .map(|_| token(&grant, TokenType::Access, None))
            .collect();
        issue_new(&*store, &grant, &family).await;
    }
    let runtime = tokio::runtime::Handle::current();
    let deleting = {
        let (store, id) = (Arc::clone(&store), client.id.clone());
        tokio::task::spawn_blocking(move || runtime.block_on(store.delete_client(&id)))
    };
    let mut stored = Vec::new();
    loop {
        let finished = deleting.is_finished();
        let grant = new_grant(&client, None);
        let record = token(&grant, TokenType::Access, None);
        let outcome = ok(
            store
                .issue_tokens(Family::New(&grant), std::slice::from_ref(&record))
                .await,
            "issue_tokens",
        );
        if outcome == IssueOutcome::Stored {
            check(
                !finished,
                "issue_tokens",
                "Family::New for a deleted client is ClientUnknown",
            );
            stored.push(record.hash);
        }
        if finished {
            break;
        }
        tokio::task::yield_now().await;
    }
    ok(joined(deleting).await, "delete_client");
    for hash in &stored {
        gone(
            store.find_token(hash).await,
            "issue_tokens",
            "tokens issued while their client is being deleted do not survive the deletion",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Codes

/// Codes: stored with their grant, found, redeemed once, then reported as replayed.
pub async fn codes(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let code = stored_code(&*store, &client, &user).await;
    check(
        matches!(store.insert_code(&code).await, Err(StoreError::Conflict)),
        "insert_code",
        "a code hash in use is a Conflict",
    );
    let mut same_grant = code_for(&code.grant, code.expires_at);
    same_grant.redirect_uri = None;
    check(
        matches!(
            store.insert_code(&same_grant).await,
            Err(StoreError::Conflict)
        ),
        "insert_code",
        "a grant ID in use is a Conflict",
    );
    check_eq(
        ok(store.find_code(&code.hash).await, "find_code"),
        Some(code.clone()),
        "find_code",
        "a stored code is found with every field",
    );
    check_eq(
        ok(store.find_code(&random_hash()).await, "find_code"),
        None,
        "find_code",
        "an unknown code is not found",
    );
    let tokens = pair(&code.grant);
    check_eq(
        ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
        CodeRedemption::Redeemed,
        "redeem_code",
        "a live code of an active grant is redeemed",
    );
    for t in &tokens {
        let stored = found(
            store.find_token(&t.hash).await,
            "redeem_code",
            "a redemption stores its tokens in the same step",
        );
        check_eq(
            &*stored,
            t,
            "redeem_code",
            "a redeemed token is stored as given",
        );
    }
    check(
        ok(store.find_code(&code.hash).await, "find_code").is_some(),
        "redeem_code",
        "a spent code is kept (until its expires_at)",
    );
    check_eq(
        ok(
            store.redeem_code(&code.hash, &pair(&code.grant)).await,
            "redeem_code",
        ),
        CodeRedemption::Replayed(code.grant.id.clone()),
        "redeem_code",
        "a spent code is reported as replayed, with its grant",
    );
    check_eq(
        ok(
            store.redeem_code(&random_hash(), &pair(&code.grant)).await,
            "redeem_code",
        ),
        CodeRedemption::Unknown,
        "redeem_code",
        "an unknown code is Unknown",
    );
}

/// `tasks` concurrent redemptions of one code: exactly one wins; the others are replays, which
/// revoke the grant, so no token of the code is left.
pub async fn code_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let code = stored_code(&*store, &client, &UserId::new(unique("user"))).await;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(&store);
            let (hash, tokens) = (code.hash, pair(&code.grant));
            tokio::spawn(async move {
                let outcome = ok(store.redeem_code(&hash, &tokens).await, "redeem_code");
                (outcome, tokens)
            })
        })
        .collect();
    let mut redeemed = 0;
    let mut all = Vec::new();
    for handle in handles {
        let (outcome, tokens) = joined(handle).await;
        match outcome {
            CodeRedemption::Redeemed => redeemed += 1,
            CodeRedemption::Replayed(id) => check_eq(
                id,
                code.grant.id.clone(),
                "redeem_code",
                "a replay names the code's grant",
            ),
            other => panic!(
                "redeem_code: of concurrent redemptions of a live code one is Redeemed and the \
                 others Replayed, found {other:?}"
            ),
        }
        all.extend(tokens);
    }
    check_eq(
        redeemed,
        1,
        "redeem_code",
        "of concurrent redemptions of one code exactly one is Redeemed",
    );
    if tasks > 1 {
        for t in &all {
            gone(
                store.find_token(&t.hash).await,
                "redeem_code",
                "a replay revokes the grant: no token of the code is left",
            );
        }
    }
}

/// A replayed code's grant ends with no live token (RFC 9700 §4.5), revoked in the replay's own
/// step, and takes no more; the spent code outlives a sweep before its expiry.
pub async fn code_replay(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let code = stored_code(&*store, &client, &user).await;
    let tokens = pair(&code.grant);
    check_eq(
        ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
        CodeRedemption::Redeemed,
        "redeem_code",
        "a live code of an active grant is redeemed",
    );
    check_eq(
        ok(store.redeem_code(&code.hash, &[]).await, "redeem_code"),
        CodeRedemption::Replayed(code.grant.id.clone()),
        "redeem_code",
        "a spent code is reported as replayed",
    );
    gone(
        store.find_token(&tokens[0].hash).await,
        "redeem_code",
        "a replay revokes the grant in the same call: its tokens are gone when it returns",
    );
    unknown_refresh(
        store.find_refresh(&tokens[1].hash).await,
        "redeem_code",
        "a replay revokes the grant in the same call: its refresh token is gone when it returns",
    );
    let late = pair(&code.grant);
    check_eq(
        ok(
            store
                .issue_tokens(Family::Existing(&code.grant.id), &late)
                .await,
            "issue_tokens",
        ),
        IssueOutcome::GrantRevoked,
        "issue_tokens",
        "a grant revoked by a replay of its code takes no more tokens",
    );
    gone(
        store.find_token(&late[0].hash).await,
        "issue_tokens",
        "a GrantRevoked issuance stores nothing",
    );
    check_eq(
        ok(
            store
                .rotate_refresh(&tokens[1].hash, &pair(&code.grant), None, base_time())
                .await,
            "rotate_refresh",
        ),
        Rotation::Unknown,
        "rotate_refresh",
        "a refresh token of a revoked grant cannot be rotated",
    );

    // A sweep before the code's expiry keeps it (while sweeping an expired one).
    let old_code = code_for(&new_grant(&client, Some(&user)), long_ago());
    ok(store.insert_code(&old_code).await, "insert_code");
    ok(store.redeem_code(&old_code.hash, &[]).await, "redeem_code");
    while ok(
        store.sweep_codes(long_ago() + Duration::days(1), 100).await,
        "sweep_codes",
    ) >= 100
    {}
    check_eq(
        ok(store.redeem_code(&code.hash, &[]).await, "redeem_code"),
        CodeRedemption::Replayed(code.grant.id.clone()),
        "sweep_codes",
        "a spent code is kept until its expires_at, so that a replay is still recognised",
    );
    check_eq(
        ok(store.find_code(&old_code.hash).await, "find_code"),
        None,
        "sweep_codes",
        "a code past its expires_at is removed",
    );
}

/// `rounds` races of two redemptions of one code: one wins, one is a replay, and no token of
/// the code is live afterwards.
pub async fn code_replay_race(store: Arc<dyn Storage>, rounds: usize) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    for _ in 0..rounds {
        let code = stored_code(&*store, &client, &user).await;
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                let (hash, tokens) = (code.hash, pair(&code.grant));
                tokio::spawn(async move {
                    let outcome = ok(store.redeem_code(&hash, &tokens).await, "redeem_code");
                    (outcome, tokens)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut all = Vec::new();
        for handle in handles {
            let (outcome, tokens) = joined(handle).await;
            outcomes.push(outcome);
            all.extend(tokens);
        }
        outcomes.sort_by_key(|o| matches!(o, CodeRedemption::Replayed(_)));
        check_eq(
            outcomes,
            vec![
                CodeRedemption::Redeemed,
                CodeRedemption::Replayed(code.grant.id.clone()),
            ],
            "redeem_code",
            "of two concurrent redemptions one is Redeemed and the other Replayed",
        );
        for t in &all {
            gone(
                store.find_token(&t.hash).await,
                "redeem_code",
                "whichever way a redemption and a replay interleave, no token of the code is \
                 left",
            );
        }
    }
}

/// Spending a code and storing its tokens is one atomic step: a redemption that lost to a
/// revocation spent nothing and stored nothing, and one that won had stored every token when
/// the revocation came (`rounds` races of `redeem_code` against `revoke_grant`).
pub async fn code_redemption_atomic(store: Arc<dyn Storage>, rounds: usize) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));

    // Revoked before the redemption: nothing stored, nothing spent.
    let code = stored_code(&*store, &client, &user).await;
    ok(store.revoke_grant(&code.grant.id).await, "revoke_grant");
    let tokens = pair(&code.grant);
    for _ in 0..2 {
        check_eq(
            ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
            CodeRedemption::GrantRevoked,
            "redeem_code",
            "a live code whose grant was revoked is GrantRevoked, and stays unspent (not a \
             replay on the next call)",
        );
    }
    for t in &tokens {
        gone(
            store.find_token(&t.hash).await,
            "redeem_code",
            "a GrantRevoked redemption stores nothing",
        );
    }

    for _ in 0..rounds {
        let code = stored_code(&*store, &client, &user).await;
        let tokens = pair(&code.grant);
        let redeeming = {
            let (store, hash, tokens) = (Arc::clone(&store), code.hash, tokens.clone());
            tokio::spawn(async move { ok(store.redeem_code(&hash, &tokens).await, "redeem_code") })
        };
        tokio::task::yield_now().await;
        let revoking = {
            let (store, id) = (Arc::clone(&store), code.grant.id.clone());
            tokio::spawn(async move { ok(store.revoke_grant(&id).await, "revoke_grant") })
        };
        let outcome = joined(redeeming).await;
        let removed = joined(revoking).await;
        match outcome {
            CodeRedemption::Redeemed => check_eq(
                removed,
                tokens.len() as u64,
                "redeem_code",
                "Redeemed means every token was stored in that step: the revocation that \
                 followed removed all of them",
            ),
            CodeRedemption::GrantRevoked => {
                check_eq(
                    removed,
                    0,
                    "redeem_code",
                    "GrantRevoked means nothing was stored",
                );
                check_eq(
                    ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
                    CodeRedemption::GrantRevoked,
                    "redeem_code",
                    "a redemption that lost to a revocation spent nothing (the code is not \
                     replayed)",
                );
            }
            other => panic!(
                "redeem_code: racing revoke_grant, a live code is Redeemed or GrantRevoked, \
                 found {other:?}"
            ),
        }
        for t in &tokens {
            gone(
                store.find_token(&t.hash).await,
                "revoke_grant",
                "after it returns no token of the family is found",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// Tokens: issued into a new or an existing grant, found, revoked one at a time.
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
    issue_new(&*store, &grant, &[access.clone(), refresh.clone()]).await;
    check_eq(
        found(
            store.find_token(&access.hash).await,
            "issue_tokens",
            "issued tokens are found",
        )
        .as_ref(),
        &access,
        "find_token",
        "a token is found as it was stored",
    );
    check_eq(
        found(
            store.find_token(&refresh.hash).await,
            "issue_tokens",
            "issued tokens are found",
        )
        .as_ref(),
        &refresh,
        "find_token",
        "a token is found as it was stored",
    );
    check_eq(
        ok(store.find_refresh(&refresh.hash).await, "find_refresh"),
        RefreshLookup::Active(refresh.clone()),
        "find_refresh",
        "a live refresh token is Active",
    );
    unknown_refresh(
        store.find_refresh(&access.hash).await,
        "find_refresh",
        "an access token is not a refresh token",
    );
    check(
        matches!(
            store.issue_tokens(Family::New(&grant), &[]).await,
            Err(StoreError::Conflict)
        ),
        "issue_tokens",
        "Family::New with a grant ID in use is a Conflict",
    );
    let more = token(&grant, TokenType::Access, None);
    check_eq(
        ok(
            store
                .issue_tokens(Family::Existing(&grant.id), std::slice::from_ref(&more))
                .await,
            "issue_tokens",
        ),
        IssueOutcome::Stored,
        "issue_tokens",
        "Family::Existing with an active grant stores the tokens",
    );
    found(
        store.find_token(&more.hash).await,
        "issue_tokens",
        "issued tokens are found",
    );
    check_eq(
        ok(
            store
                .issue_tokens(Family::Existing(&GrantId::new(unique("grant"))), &[])
                .await,
            "issue_tokens",
        ),
        IssueOutcome::GrantRevoked,
        "issue_tokens",
        "Family::Existing with a grant the store does not know is GrantRevoked",
    );
    gone(
        store.find_token(&random_hash()).await,
        "find_token",
        "an unknown token is not found",
    );
    check(
        ok(store.revoke_token(&access.hash).await, "revoke_token"),
        "revoke_token",
        "revoking a live token returns true",
    );
    check(
        !ok(store.revoke_token(&access.hash).await, "revoke_token"),
        "revoke_token",
        "revoking a token twice returns false the second time",
    );
    gone(
        store.find_token(&access.hash).await,
        "revoke_token",
        "a revoked token is not found",
    );
    found(
        store.find_token(&refresh.hash).await,
        "revoke_token",
        "the other tokens of the family are kept",
    );
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
    issue_new(&*store, &grant, std::slice::from_ref(&first)).await;
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
    let rotated = ok(
        store
            .rotate_refresh(
                &first.hash,
                &[next_access.clone(), next_refresh.clone()],
                sealed.clone(),
                now,
            )
            .await,
        "rotate_refresh",
    );
    check_eq(
        rotated,
        Rotation::Rotated,
        "rotate_refresh",
        "a live refresh token is rotated",
    );
    gone(
        store.find_token(&first.hash).await,
        "rotate_refresh",
        "a retired token is not live",
    );
    match ok(store.find_refresh(&first.hash).await, "find_refresh") {
        RefreshLookup::Retired(retired) => {
            check_eq(
                &retired.record,
                &first,
                "rotate_refresh",
                "the retired record is the token as it was live",
            );
            check_eq(
                retired.retired_at,
                now,
                "rotate_refresh",
                "retired_at is the rotation's now",
            );
            check_eq(
                &retired.sealed_successor,
                &sealed,
                "rotate_refresh",
                "the sealed successor is kept with the retired token",
            );
        }
        other => panic!("rotate_refresh: a rotated token is found as Retired, found {other:?}"),
    }
    for t in [&next_access, &next_refresh] {
        let stored = found(
            store.find_token(&t.hash).await,
            "rotate_refresh",
            "the new tokens are stored",
        );
        check_eq(
            &*stored,
            t,
            "rotate_refresh",
            "a successor is stored as given",
        );
    }
    let again = ok(
        store.rotate_refresh(&first.hash, &[], None, now).await,
        "rotate_refresh",
    );
    check(
        matches!(again, Rotation::AlreadyRetired(ref r) if r.sealed_successor == sealed),
        "rotate_refresh",
        "a second rotation of one token is AlreadyRetired, with the winner's sealed successor",
    );
    check_eq(
        ok(
            store.rotate_refresh(&random_hash(), &[], None, now).await,
            "rotate_refresh",
        ),
        Rotation::Unknown,
        "rotate_refresh",
        "an unknown token is Unknown",
    );
    check_eq(
        ok(
            store
                .rotate_refresh(&next_access.hash, &[], None, now)
                .await,
            "rotate_refresh",
        ),
        Rotation::Unknown,
        "rotate_refresh",
        "an access token cannot be rotated",
    );
    found(
        store.find_token(&next_access.hash).await,
        "rotate_refresh",
        "a refused rotation changes nothing",
    );
    check_eq(
        ok(store.revoke_grant(&grant.id).await, "revoke_grant"),
        3,
        "revoke_grant",
        "returns how many tokens it removed, live and retired",
    );
    for hash in [first.hash, next_access.hash, next_refresh.hash] {
        gone(
            store.find_token(&hash).await,
            "revoke_grant",
            "after it returns no token of the family is found",
        );
        unknown_refresh(
            store.find_refresh(&hash).await,
            "revoke_grant",
            "after it returns no token of the family is found, retired ones included",
        );
    }
}

/// `tasks` concurrent rotations of one refresh token: exactly one wins, the losers store
/// nothing.
pub async fn rotation_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let first = token(&grant, TokenType::Refresh, None);
    issue_new(&*store, &grant, std::slice::from_ref(&first)).await;
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let store = Arc::clone(&store);
            let successor = token(&grant, TokenType::Refresh, None);
            let hash = first.hash;
            tokio::spawn(async move {
                let outcome = ok(
                    store
                        .rotate_refresh(
                            &hash,
                            std::slice::from_ref(&successor),
                            Some(vec![i as u8]),
                            base_time(),
                        )
                        .await,
                    "rotate_refresh",
                );
                (successor.hash, outcome)
            })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        let (successor, outcome) = joined(handle).await;
        match outcome {
            Rotation::Rotated => {
                winners += 1;
                found(
                    store.find_token(&successor).await,
                    "rotate_refresh",
                    "the winner's tokens are stored",
                );
            }
            Rotation::AlreadyRetired(_) => gone(
                store.find_token(&successor).await,
                "rotate_refresh",
                "a losing rotation stores nothing",
            ),
            Rotation::Unknown => {
                panic!("rotate_refresh: a live refresh token was reported Unknown")
            }
        }
    }
    check_eq(
        winners,
        1,
        "rotate_refresh",
        "of concurrent rotations of one token exactly one is Rotated",
    );
}

/// Grants: revoked per user and client; everything of a client goes with it.
pub async fn grants(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let other_client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    let older = new_grant(&client, Some(&user));
    let newer = new_grant(&other_client, Some(&user));
    let stranger = new_grant(&client, Some(&UserId::new(unique("user"))));
    let older_token = token(&older, TokenType::Access, None);
    let newer_token = token(&newer, TokenType::Access, None);
    let stranger_token = token(&stranger, TokenType::Access, None);
    issue_new(&*store, &older, std::slice::from_ref(&older_token)).await;
    issue_new(&*store, &newer, std::slice::from_ref(&newer_token)).await;
    issue_new(&*store, &stranger, std::slice::from_ref(&stranger_token)).await;
    check_eq(
        ok(
            store.revoke_user_grants(&user, &client.id).await,
            "revoke_user_grants",
        ),
        1,
        "revoke_user_grants",
        "returns how many grants it revoked",
    );
    gone(
        store.find_token(&older_token.hash).await,
        "revoke_user_grants",
        "after it returns no token of the revoked grants is found",
    );
    found(
        store.find_token(&newer_token.hash).await,
        "revoke_user_grants",
        "the user's grants to other clients are kept",
    );
    found(
        store.find_token(&stranger_token.hash).await,
        "revoke_user_grants",
        "other users' grants to the client are kept",
    );
    check_eq(
        ok(
            store
                .issue_tokens(Family::Existing(&older.id), &pair(&older))
                .await,
            "issue_tokens",
        ),
        IssueOutcome::GrantRevoked,
        "issue_tokens",
        "a grant revoked by revoke_user_grants takes no more tokens",
    );

    // Deleting a client leaves nothing of it behind.
    let code = stored_code(&*store, &other_client, &user).await;
    ok(
        store
            .save_consent(&Consent::new(
                user.clone(),
                other_client.id.clone(),
                scopes("read"),
                base_time(),
            ))
            .await,
        "save_consent",
    );
    let pending = stored_device(&*store, &other_client, 5).await;
    let approved = stored_device(&*store, &other_client, 5).await;
    approve(&*store, &approved, &other_client, &user).await;
    check(
        ok(store.delete_client(&other_client.id).await, "delete_client"),
        "delete_client",
        "deleting a stored client returns true",
    );
    gone(
        store.find_token(&newer_token.hash).await,
        "delete_client",
        "once it returns no token of the client is found",
    );
    check_eq(
        ok(store.find_code(&code.hash).await, "find_code"),
        None,
        "delete_client",
        "once it returns no code of the client is found",
    );
    check_eq(
        ok(
            store.redeem_code(&code.hash, &pair(&code.grant)).await,
            "redeem_code",
        ),
        CodeRedemption::Unknown,
        "delete_client",
        "once it returns no code of the client can be redeemed",
    );
    check_eq(
        ok(
            store.find_consent(&user, &other_client.id).await,
            "find_consent",
        ),
        None,
        "delete_client",
        "once it returns no consent of the client is found",
    );
    for device in [&pending, &approved] {
        check_eq(
            ok(
                store.find_device_by_user_code(&device.user_code_hash).await,
                "find_device_by_user_code",
            ),
            None,
            "delete_client",
            "once it returns no device authorization of the client is found",
        );
    }
    found(
        store.find_token(&stranger_token.hash).await,
        "delete_client",
        "other clients' tokens are kept",
    );
}

/// Revocation is a tombstone: nothing is issued, redeemed or approved into a revoked grant, and
/// revoking a user's grants to a client covers codes not yet redeemed and approved device
/// authorizations not yet polled (C12).
pub async fn revocation_tombstone(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));

    // issue_tokens(Existing) after revoke_grant.
    let grant = new_grant(&client, Some(&user));
    let first = pair(&grant);
    issue_new(&*store, &grant, &first).await;
    check_eq(
        ok(store.revoke_grant(&grant.id).await, "revoke_grant"),
        2,
        "revoke_grant",
        "returns how many tokens it removed",
    );
    for t in &first {
        gone(
            store.find_token(&t.hash).await,
            "revoke_grant",
            "after it returns no token of the family is found",
        );
    }
    let late = pair(&grant);
    check_eq(
        ok(
            store.issue_tokens(Family::Existing(&grant.id), &late).await,
            "issue_tokens",
        ),
        IssueOutcome::GrantRevoked,
        "issue_tokens",
        "Family::Existing with a revoked grant is GrantRevoked (revocation is a tombstone)",
    );
    for t in &late {
        gone(
            store.find_token(&t.hash).await,
            "issue_tokens",
            "nothing is stored into a revoked grant",
        );
    }

    // A code whose grant was revoked before the redemption.
    let code = stored_code(&*store, &client, &user).await;
    ok(store.revoke_grant(&code.grant.id).await, "revoke_grant");
    let tokens = pair(&code.grant);
    check_eq(
        ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
        CodeRedemption::GrantRevoked,
        "redeem_code",
        "a code whose grant was revoked is GrantRevoked",
    );
    for t in &tokens {
        gone(
            store.find_token(&t.hash).await,
            "redeem_code",
            "nothing is stored into a revoked grant",
        );
    }

    // An approved device authorization whose grant was revoked before the poll.
    let device = stored_device(&*store, &client, 0).await;
    let approved = approve(&*store, &device, &client, &user).await;
    ok(store.revoke_grant(&approved.id).await, "revoke_grant");
    let tokens = pair(&approved);
    check_eq(
        ok(
            store.redeem_device(&device.device_hash, &tokens).await,
            "redeem_device",
        ),
        DeviceRedemption::GrantRevoked,
        "redeem_device",
        "an approval whose grant was revoked is GrantRevoked",
    );
    for t in &tokens {
        gone(
            store.find_token(&t.hash).await,
            "redeem_device",
            "nothing is stored into a revoked grant",
        );
    }

    // revoke_user_grants covers every kind of grant the user gave the client.
    let pending_code = stored_code(&*store, &client, &user).await;
    let device = stored_device(&*store, &client, 0).await;
    let approved = approve(&*store, &device, &client, &user).await;
    let redeemed_code = stored_code(&*store, &client, &user).await;
    let redeemed = pair(&redeemed_code.grant);
    check_eq(
        ok(
            store.redeem_code(&redeemed_code.hash, &redeemed).await,
            "redeem_code",
        ),
        CodeRedemption::Redeemed,
        "redeem_code",
        "a live code of an active grant is redeemed",
    );
    let elsewhere_client = new_client(&*store).await;
    let elsewhere = new_grant(&elsewhere_client, Some(&user));
    let kept = token(&elsewhere, TokenType::Access, None);
    issue_new(&*store, &elsewhere, std::slice::from_ref(&kept)).await;
    check_eq(
        ok(
            store.revoke_user_grants(&user, &client.id).await,
            "revoke_user_grants",
        ),
        3,
        "revoke_user_grants",
        "revokes every active grant the user gave the client (a code not yet redeemed, an \
         approved device not yet polled, a redeemed code) and returns how many",
    );
    let tokens = pair(&pending_code.grant);
    check_eq(
        ok(
            store.redeem_code(&pending_code.hash, &tokens).await,
            "redeem_code",
        ),
        CodeRedemption::GrantRevoked,
        "revoke_user_grants",
        "a code approved before it and redeemed after it is refused (GrantRevoked)",
    );
    gone(
        store.find_token(&tokens[0].hash).await,
        "revoke_user_grants",
        "a code approved before it yields no token after it",
    );
    let tokens = pair(&approved);
    check_eq(
        ok(
            store.redeem_device(&device.device_hash, &tokens).await,
            "redeem_device",
        ),
        DeviceRedemption::GrantRevoked,
        "revoke_user_grants",
        "a device approved before it and polled after it is refused (GrantRevoked)",
    );
    gone(
        store.find_token(&tokens[0].hash).await,
        "revoke_user_grants",
        "a device approved before it yields no token after it",
    );
    for t in &redeemed {
        gone(
            store.find_token(&t.hash).await,
            "revoke_user_grants",
            "after it returns no token of the revoked grants is found",
        );
    }
    found(
        store.find_token(&kept.hash).await,
        "revoke_user_grants",
        "the user's grants to other clients are kept",
    );

    // A refresh without rotation racing the revocation never brings the grant back.
    let grant = new_grant(&client, Some(&user));
    issue_new(&*store, &grant, &pair(&grant)).await;
    let revoking = {
        let (store, id) = (Arc::clone(&store), grant.id.clone());
        tokio::spawn(async move { ok(store.revoke_grant(&id).await, "revoke_grant") })
    };
    let mut stored = Vec::new();
    loop {
        let finished = revoking.is_finished();
        let more = pair(&grant);
        let outcome = ok(
            store.issue_tokens(Family::Existing(&grant.id), &more).await,
            "issue_tokens",
        );
        if outcome == IssueOutcome::Stored {
            check(
                !finished,
                "issue_tokens",
                "Family::Existing with a revoked grant is GrantRevoked (revocation is a \
                 tombstone)",
            );
            stored.extend(more);
        }
        if finished {
            break;
        }
        tokio::task::yield_now().await;
    }
    joined(revoking).await;
    for t in &stored {
        gone(
            store.find_token(&t.hash).await,
            "revoke_grant",
            "tokens issued into the family while it was being revoked do not survive it",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Consents

/// Consents: saved, merged as a union, touched, listed, revoked.
pub async fn consents(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    check_eq(
        ok(store.find_consent(&user, &client.id).await, "find_consent"),
        None,
        "find_consent",
        "no consent before one is saved",
    );
    let first = Consent::new(user.clone(), client.id.clone(), scopes("read"), base_time());
    ok(store.save_consent(&first).await, "save_consent");
    let mut second = Consent::new(
        user.clone(),
        client.id.clone(),
        scopes("write"),
        base_time() + Duration::hours(1),
    );
    second.last_used_at = base_time() + Duration::hours(1);
    ok(store.save_consent(&second).await, "save_consent");
    let merged = some(
        ok(store.find_consent(&user, &client.id).await, "find_consent"),
        "save_consent",
        "a saved consent is found",
    );
    check_eq(
        merged.scopes.clone(),
        scopes("read write"),
        "save_consent",
        "saving again stores the union of the scopes",
    );
    check_eq(
        merged.granted_at,
        base_time(),
        "save_consent",
        "saving again keeps granted_at",
    );
    check_eq(
        merged.last_used_at,
        base_time() + Duration::hours(1),
        "save_consent",
        "saving again sets last_used_at",
    );
    ok(
        store
            .touch_consent(&user, &client.id, base_time() + Duration::hours(2))
            .await,
        "touch_consent",
    );
    let touched = some(
        ok(store.find_consent(&user, &client.id).await, "find_consent"),
        "touch_consent",
        "a touched consent is found",
    );
    check_eq(
        touched.last_used_at,
        base_time() + Duration::hours(2),
        "touch_consent",
        "sets last_used_at",
    );
    check_eq(
        ok(store.list_consents(&user).await, "list_consents"),
        vec![touched],
        "list_consents",
        "lists every consent of the user",
    );
    check(
        ok(
            store.revoke_consent(&user, &client.id).await,
            "revoke_consent",
        ),
        "revoke_consent",
        "withdrawing a consent returns true",
    );
    check(
        !ok(
            store.revoke_consent(&user, &client.id).await,
            "revoke_consent",
        ),
        "revoke_consent",
        "withdrawing a consent twice returns false the second time",
    );
    check(
        ok(store.list_consents(&user).await, "list_consents").is_empty(),
        "revoke_consent",
        "a withdrawn consent is not listed",
    );
    ok(
        store.touch_consent(&user, &client.id, base_time()).await,
        "touch_consent",
    );
    check_eq(
        ok(store.find_consent(&user, &client.id).await, "find_consent"),
        None,
        "touch_consent",
        "touching a consent that does not exist creates nothing",
    );
}

/// Stored records of any number of scopes read back whole: a consent of 200 scopes, and a
/// client, code, token and device authorization of 200 (C13).
pub async fn large_consent(store: Arc<dyn Storage>) {
    let many = many_scopes(0, 200);
    let mut client = client_record();
    client.scopes = Some(many.clone());
    ok(store.insert_client(&client).await, "insert_client");
    check_eq(
        ok(store.find_client(&client.id).await, "find_client").and_then(|c| c.scopes),
        Some(many.clone()),
        "find_client",
        "a client of 200 scopes reads back whole (no request limit on stored records)",
    );
    let user = UserId::new(unique("user"));
    let consent = Consent::new(user.clone(), client.id.clone(), many.clone(), base_time());
    ok(store.save_consent(&consent).await, "save_consent");
    check_eq(
        ok(store.find_consent(&user, &client.id).await, "find_consent"),
        Some(consent.clone()),
        "find_consent",
        "a consent of 200 scopes reads back whole (no request limit on stored records)",
    );
    check_eq(
        ok(store.list_consents(&user).await, "list_consents"),
        vec![consent],
        "list_consents",
        "a consent of 200 scopes is listed whole",
    );
    let more = Consent::new(
        user.clone(),
        client.id.clone(),
        many_scopes(150, 150),
        base_time(),
    );
    ok(store.save_consent(&more).await, "save_consent");
    check_eq(
        ok(store.find_consent(&user, &client.id).await, "find_consent").map(|c| c.scopes),
        Some(many_scopes(0, 300)),
        "save_consent",
        "the union of two large consents is stored whole",
    );

    let mut grant = new_grant(&client, Some(&user));
    grant.scopes = many.clone();
    let code = code_for(&grant, base_time() + Duration::seconds(60));
    ok(store.insert_code(&code).await, "insert_code");
    check_eq(
        ok(store.find_code(&code.hash).await, "find_code"),
        Some(code.clone()),
        "find_code",
        "a code of 200 scopes reads back whole",
    );
    let tokens = pair(&grant);
    check_eq(
        ok(store.redeem_code(&code.hash, &tokens).await, "redeem_code"),
        CodeRedemption::Redeemed,
        "redeem_code",
        "a code of 200 scopes is redeemed",
    );
    check_eq(
        found(
            store.find_token(&tokens[0].hash).await,
            "redeem_code",
            "a redemption stores its tokens",
        )
        .scopes
        .clone(),
        many.clone(),
        "find_token",
        "a token of 200 scopes reads back whole",
    );
    let mut device = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        many.clone(),
        base_time() + Duration::minutes(10),
        5,
    );
    ok(store.insert_device(&device).await, "insert_device");
    let mut approved = device_grant(&client, &user);
    approved.scopes = many.clone();
    device.status = DeviceStatus::Approved { grant: approved };
    check(
        ok(
            store
                .decide_device(&device.user_code_hash, device.status.clone())
                .await,
            "decide_device",
        ),
        "decide_device",
        "approving a pending authorization applies",
    );
    check_eq(
        ok(
            store.find_device_by_user_code(&device.user_code_hash).await,
            "find_device_by_user_code",
        ),
        Some(device),
        "find_device_by_user_code",
        "a device authorization of 200 scopes reads back whole",
    );
}

// ---------------------------------------------------------------------------------------------
// Devices

/// Device authorizations: insert, conflict, polls with slow_down, decided once, redeemed once.
pub async fn devices(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    let record = stored_device(&*store, &client, 5).await;
    let mut clash = record.clone();
    clash.device_hash = random_hash();
    check(
        matches!(store.insert_device(&clash).await, Err(StoreError::Conflict)),
        "insert_device",
        "a user code hash in use is a Conflict",
    );
    check_eq(
        ok(
            store.find_device_by_user_code(&record.user_code_hash).await,
            "find_device_by_user_code",
        ),
        Some(record.clone()),
        "find_device_by_user_code",
        "a stored record is found as stored",
    );

    let t0 = base_time();
    let DevicePoll::Polled(first) = ok(
        store.poll_device(&record.device_hash, t0).await,
        "poll_device",
    ) else {
        panic!("poll_device: the first poll is never too fast");
    };
    check_eq(
        (first.status, first.last_poll_at),
        (DeviceStatus::Pending, None),
        "poll_device",
        "a poll returns the record as it was before the call",
    );
    let DevicePoll::SlowDown(slowed) = ok(
        store
            .poll_device(&record.device_hash, t0 + Duration::seconds(2))
            .await,
        "poll_device",
    ) else {
        panic!("poll_device: a poll 2 s after the last with interval 5 is SlowDown");
    };
    check_eq(
        slowed.interval,
        10,
        "poll_device",
        "a poll that is too fast raises the interval by 5",
    );
    // The too-fast poll counts as the last poll: the interval now runs from it.
    check(
        matches!(
            ok(
                store
                    .poll_device(&record.device_hash, t0 + Duration::seconds(11))
                    .await,
                "poll_device"
            ),
            DevicePoll::SlowDown(_)
        ),
        "poll_device",
        "a slow-down poll counts as the last poll",
    );
    let DevicePoll::Polled(before) = ok(
        store
            .poll_device(&record.device_hash, t0 + Duration::seconds(40))
            .await,
        "poll_device",
    ) else {
        panic!("poll_device: a poll after the raised interval is Polled");
    };
    check_eq(
        (before.interval, before.last_poll_at),
        (15, Some(t0 + Duration::seconds(11))),
        "poll_device",
        "the record before this poll: two slow-downs, the last at 11 s",
    );
    check_eq(
        ok(
            store.redeem_device(&record.device_hash, &[]).await,
            "redeem_device",
        ),
        DeviceRedemption::NotApproved,
        "redeem_device",
        "a pending authorization is NotApproved",
    );

    let user = UserId::new(unique("user"));
    let grant = approve(&*store, &record, &client, &user).await;
    check(
        !ok(
            store
                .decide_device(&record.user_code_hash, DeviceStatus::Denied)
                .await,
            "decide_device",
        ),
        "decide_device",
        "an authorization is decided only once",
    );
    check(
        !ok(
            store
                .decide_device(&random_hash(), DeviceStatus::Denied)
                .await,
            "decide_device",
        ),
        "decide_device",
        "deciding an unknown user code returns false",
    );
    let approved = DeviceStatus::Approved {
        grant: grant.clone(),
    };
    for at in [100, 200] {
        let DevicePoll::Polled(seen) = ok(
            store
                .poll_device(&record.device_hash, t0 + Duration::seconds(at))
                .await,
            "poll_device",
        ) else {
            panic!("poll_device: a poll after the interval is Polled");
        };
        check_eq(
            &seen.status,
            &approved,
            "poll_device",
            "an approved authorization is seen approved by every poll until redeemed (polls \
             never change the status)",
        );
    }
    let tokens = pair(&grant);
    check_eq(
        ok(
            store.redeem_device(&record.device_hash, &tokens).await,
            "redeem_device",
        ),
        DeviceRedemption::Redeemed,
        "redeem_device",
        "an approved authorization of an active grant is redeemed",
    );
    for t in &tokens {
        found(
            store.find_token(&t.hash).await,
            "redeem_device",
            "a redemption stores its tokens in the same step",
        );
    }
    let again = pair(&grant);
    check_eq(
        ok(
            store.redeem_device(&record.device_hash, &again).await,
            "redeem_device",
        ),
        DeviceRedemption::AlreadyRedeemed,
        "redeem_device",
        "a redeemed authorization is AlreadyRedeemed",
    );
    gone(
        store.find_token(&again[0].hash).await,
        "redeem_device",
        "an AlreadyRedeemed call stores nothing",
    );
    let DevicePoll::Polled(after) = ok(
        store
            .poll_device(&record.device_hash, t0 + Duration::seconds(300))
            .await,
        "poll_device",
    ) else {
        panic!("poll_device: a poll after the interval is Polled");
    };
    check_eq(
        after.status,
        DeviceStatus::Redeemed,
        "redeem_device",
        "a redeemed authorization's status is Redeemed",
    );
    check_eq(
        ok(store.poll_device(&random_hash(), t0).await, "poll_device"),
        DevicePoll::Unknown,
        "poll_device",
        "an unknown device code is Unknown",
    );
    check_eq(
        ok(
            store.redeem_device(&random_hash(), &[]).await,
            "redeem_device",
        ),
        DeviceRedemption::Unknown,
        "redeem_device",
        "an unknown device code is Unknown",
    );

    // Denied: never redeemed. An approval's grant ID must be fresh.
    let denied = stored_device(&*store, &client, 5).await;
    check(
        ok(
            store
                .decide_device(&denied.user_code_hash, DeviceStatus::Denied)
                .await,
            "decide_device",
        ),
        "decide_device",
        "denying a pending authorization applies",
    );
    check_eq(
        ok(
            store.redeem_device(&denied.device_hash, &[]).await,
            "redeem_device",
        ),
        DeviceRedemption::NotApproved,
        "redeem_device",
        "a denied authorization is NotApproved",
    );
    let reused = stored_device(&*store, &client, 5).await;
    check(
        matches!(
            store.decide_device(&reused.user_code_hash, approved).await,
            Err(StoreError::Conflict)
        ),
        "decide_device",
        "an approval with a grant ID in use is a Conflict",
    );
}

/// `tasks` concurrent redemptions of one approved device authorization: exactly one stores its
/// tokens.
pub async fn device_redemption_race(store: Arc<dyn Storage>, tasks: usize) {
    let client = new_client(&*store).await;
    let record = stored_device(&*store, &client, 0).await;
    let grant = approve(&*store, &record, &client, &UserId::new(unique("user"))).await;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(&store);
            let (hash, tokens) = (record.device_hash, pair(&grant));
            tokio::spawn(async move {
                let outcome = ok(store.redeem_device(&hash, &tokens).await, "redeem_device");
                (outcome, tokens)
            })
        })
        .collect();
    let mut redeemed = 0;
    for handle in handles {
        let (outcome, tokens) = joined(handle).await;
        match outcome {
            DeviceRedemption::Redeemed => {
                redeemed += 1;
                found(
                    store.find_token(&tokens[0].hash).await,
                    "redeem_device",
                    "the winner's tokens are stored",
                );
            }
            DeviceRedemption::AlreadyRedeemed => gone(
                store.find_token(&tokens[0].hash).await,
                "redeem_device",
                "a losing redemption stores nothing",
            ),
            other => panic!(
                "redeem_device: of concurrent redemptions of an approval one is Redeemed and the \
                 others AlreadyRedeemed, found {other:?}"
            ),
        }
    }
    check_eq(
        redeemed,
        1,
        "redeem_device",
        "of concurrent redemptions of one approval exactly one is Redeemed",
    );
}

// ---------------------------------------------------------------------------------------------
// Readiness

/// A store that serves answers [`TokenStore::ping`](crate::store::TokenStore::ping) with
/// `Ok(())`, again and again, and the ping changes nothing a lookup sees.
pub async fn ping(store: Arc<dyn Storage>) {
    let client = new_client(&*store).await;
    for _ in 0..3 {
        ok(store.ping().await, "ping");
    }
    check(
        ok(store.find_client(&client.id).await, "find_client").is_some(),
        "ping",
        "a ping reads and writes nothing",
    );
}

// ---------------------------------------------------------------------------------------------
// Sweeping

/// Sweeping removes expired codes, tokens (live and retired) and device authorizations in
/// bounded batches, and grants left with nothing; nothing live goes.
pub async fn sweep(store: Arc<dyn Storage>) {
    let now = long_ago() + Duration::days(1);
    let client = new_client(&*store).await;
    let mut grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    grant.created_at = long_ago();
    let expired: Vec<TokenRecord> = (0..5)
        .map(|_| token(&grant, TokenType::Access, Some(long_ago())))
        .collect();
    // Live at every check's sweeping time.
    let live = token(
        &grant,
        TokenType::Access,
        Some(base_time() + Duration::hours(1)),
    );
    let forever = token(&grant, TokenType::Access, None);
    let refresh = token(
        &grant,
        TokenType::Refresh,
        Some(long_ago() + Duration::seconds(1)),
    );
    let mut all = expired.clone();
    all.extend([live.clone(), forever.clone(), refresh.clone()]);
    issue_new(&*store, &grant, &all).await;
    check_eq(
        ok(
            store
                .rotate_refresh(&refresh.hash, &[], None, long_ago())
                .await,
            "rotate_refresh",
        ),
        Rotation::Rotated,
        "rotate_refresh",
        "a live refresh token is rotated",
    );
    let old_code = code_for(&new_grant(&client, None), long_ago());
    let fresh_code = code_for(
        &new_grant(&client, None),
        base_time() + Duration::seconds(60),
    );
    ok(store.insert_code(&old_code).await, "insert_code");
    ok(store.insert_code(&fresh_code).await, "insert_code");
    let old_device = DeviceRecord::new(
        random_hash(),
        random_hash(),
        client.id.clone(),
        scopes("read"),
        long_ago(),
        5,
    );
    ok(store.insert_device(&old_device).await, "insert_device");

    loop {
        let batch = ok(store.sweep_tokens(now, 2).await, "sweep_tokens");
        check(
            batch <= 2,
            "sweep_tokens",
            "a call removes at most `limit` records",
        );
        if batch < 2 {
            break;
        }
    }
    for t in &expired {
        gone(
            store.find_token(&t.hash).await,
            "sweep_tokens",
            "called until it returns less than `limit`, it removes every token expired at `now`",
        );
    }
    unknown_refresh(
        store.find_refresh(&refresh.hash).await,
        "sweep_tokens",
        "a retired refresh token past its own expires_at is removed",
    );
    found(
        store.find_token(&live.hash).await,
        "sweep_tokens",
        "a token not yet expired is kept",
    );
    found(
        store.find_token(&forever.hash).await,
        "sweep_tokens",
        "a token that never expires is kept",
    );
    loop {
        let batch = ok(store.sweep_codes(now, 1).await, "sweep_codes");
        check(
            batch <= 1,
            "sweep_codes",
            "a call removes at most `limit` codes",
        );
        if batch < 1 {
            break;
        }
    }
    check_eq(
        ok(store.find_code(&old_code.hash).await, "find_code"),
        None,
        "sweep_codes",
        "a code past its expires_at is removed",
    );
    check_eq(
        ok(
            store
                .issue_tokens(Family::Existing(&old_code.grant.id), &[])
                .await,
            "issue_tokens",
        ),
        IssueOutcome::GrantRevoked,
        "sweep_codes",
        "a grant left with no token, code or device authorization is forgotten",
    );
    check(
        ok(store.find_code(&fresh_code.hash).await, "find_code").is_some(),
        "sweep_codes",
        "a code not yet expired is kept",
    );
    check_eq(
        ok(
            store
                .redeem_code(&fresh_code.hash, &pair(&fresh_code.grant))
                .await,
            "redeem_code",
        ),
        CodeRedemption::Redeemed,
        "sweep_codes",
        "a code not yet expired stays redeemable",
    );
    loop {
        let batch = ok(store.sweep_devices(now, 1).await, "sweep_devices");
        check(
            batch <= 1,
            "sweep_devices",
            "a call removes at most `limit` device authorizations",
        );
        if batch < 1 {
            break;
        }
    }
    check_eq(
        ok(
            store
                .find_device_by_user_code(&old_device.user_code_hash)
                .await,
            "find_device_by_user_code",
        ),
        None,
        "sweep_devices",
        "a device authorization past its expires_at is removed",
    );
}

/// Repeated sweeps drain a backlog many batches deep, as a host sweeping on a schedule relies
/// on: `expired` tokens spread over many grants, each grant also holding live tokens (expiring
/// later, and never), and a fifth as many expired codes. Called with `limit` until a call
/// returns less, `sweep_tokens` and `sweep_codes` remove every expired record (a short
/// return means nothing more was due, not "some work done"), never more than `limit` a call,
/// and within a bounded number of calls; nothing live goes.
pub async fn sweep_backlog(store: Arc<dyn Storage>, expired: usize) {
    const LIMIT: usize = 16;
    const PER_GRANT: usize = 5;
    let era = backlog_era();
    let now = era + Duration::days(1);
    let client = new_client(&*store).await;
    let mut old = Vec::new();
    let mut live = Vec::new();
    for g in 0..expired.div_ceil(PER_GRANT) {
        let mut grant = new_grant(&client, Some(&UserId::new(unique("user"))));
        grant.created_at = era;
        let mut tokens: Vec<TokenRecord> = (0..PER_GRANT.min(expired - g * PER_GRANT))
            .map(|i| {
                // Expiries spread over the era, interleaved across grants.
                let at = era + Duration::seconds((i * 1000 + g) as i64);
                let kind = if i % 2 == 0 {
                    TokenType::Access
                } else {
                    TokenType::Refresh
                };
                token(&grant, kind, Some(at))
            })
            .collect();
        old.extend(tokens.iter().map(|t| t.hash));
        let keep = [
            token(
                &grant,
                TokenType::Access,
                Some(base_time() + Duration::hours(1)),
            ),
            token(&grant, TokenType::Refresh, None),
        ];
        live.extend(keep.iter().map(|t| t.hash));
        tokens.extend(keep);
        issue_new(&*store, &grant, &tokens).await;
    }
    let mut codes = Vec::new();
    for i in 0..expired / 5 {
        let code = code_for(&new_grant(&client, None), era + Duration::seconds(i as i64));
        ok(store.insert_code(&code).await, "insert_code");
        codes.push(code.hash);
    }
    let fresh_code = code_for(
        &new_grant(&client, None),
        base_time() + Duration::seconds(60),
    );
    ok(store.insert_code(&fresh_code).await, "insert_code");

    // Each sweep may also meet what other checks left; generous, but finite.
    let most_calls = 10 * (expired / LIMIT + 2);
    let mut calls = 0;
    loop {
        let batch = ok(store.sweep_tokens(now, LIMIT).await, "sweep_tokens");
        check(
            batch <= LIMIT as u64,
            "sweep_tokens",
            "a call removes at most `limit` records",
        );
        calls += 1;
        check(
            calls <= most_calls,
            "sweep_tokens",
            "called repeatedly over a backlog, it comes back short once the backlog is gone",
        );
        if batch < LIMIT as u64 {
            break;
        }
    }
    for hash in &old {
        gone(
            store.find_token(hash).await,
            "sweep_tokens",
            "called until it returns less than `limit`, it removes the whole backlog of \
             expired tokens, however many batches deep",
        );
    }
    for hash in &live {
        found(
            store.find_token(hash).await,
            "sweep_tokens",
            "draining a backlog keeps every token not yet expired",
        );
    }
    calls = 0;
    loop {
        let batch = ok(store.sweep_codes(now, LIMIT).await, "sweep_codes");
        check(
            batch <= LIMIT as u64,
            "sweep_codes",
            "a call removes at most `limit` codes",
        );
        calls += 1;
        check(
            calls <= most_calls,
            "sweep_codes",
            "called repeatedly over a backlog, it comes back short once the backlog is gone",
        );
        if batch < LIMIT as u64 {
            break;
        }
    }
    for hash in &codes {
        check_eq(
            ok(store.find_code(hash).await, "find_code"),
            None,
            "sweep_codes",
            "called until it returns less than `limit`, it removes the whole backlog of \
             expired codes",
        );
    }
    check(
        ok(store.find_code(&fresh_code.hash).await, "find_code").is_some(),
        "sweep_codes",
        "draining a backlog keeps every code not yet expired",
    );
}

/// A retired refresh token survives every sweep before its own `expires_at` (without it, a
/// reused token is no longer recognised as theft), and goes after it.
pub async fn retired_refresh_survives_sweep(store: Arc<dyn Storage>) {
    let era = retirement_era();
    let client = new_client(&*store).await;
    let grant = new_grant(&client, Some(&UserId::new(unique("user"))));
    let first = token(&grant, TokenType::Refresh, Some(era + Duration::days(10)));
    let endless = token(&grant, TokenType::Refresh, None);
    issue_new(&*store, &grant, &[first.clone(), endless.clone()]).await;
    let successor = token(&grant, TokenType::Refresh, Some(era + Duration::days(20)));
    for (old, new) in [(&first, vec![successor.clone()]), (&endless, Vec::new())] {
        check_eq(
            ok(
                store.rotate_refresh(&old.hash, &new, None, era).await,
                "rotate_refresh",
            ),
            Rotation::Rotated,
            "rotate_refresh",
            "a live refresh token is rotated",
        );
    }
    let sweep_at = |at: OffsetDateTime| {
        let store = Arc::clone(&store);
        async move { while ok(store.sweep_tokens(at, 100).await, "sweep_tokens") >= 100 {} }
    };
    sweep_at(era + Duration::days(1)).await;
    for old in [&first, &endless] {
        check(
            matches!(
                ok(store.find_refresh(&old.hash).await, "find_refresh"),
                RefreshLookup::Retired(_)
            ),
            "sweep_tokens",
            "a retired refresh token is kept until its own expires_at (refresh-reuse detection \
             depends on it)",
        );
        check(
            matches!(
                ok(
                    store.rotate_refresh(&old.hash, &[], None, era).await,
                    "rotate_refresh"
                ),
                Rotation::AlreadyRetired(_)
            ),
            "sweep_tokens",
            "a retired refresh token is kept until its own expires_at (a second rotation is \
             still AlreadyRetired)",
        );
    }
    sweep_at(era + Duration::days(11)).await;
    unknown_refresh(
        store.find_refresh(&first.hash).await,
        "sweep_tokens",
        "a retired refresh token goes after its own expires_at",
    );
    check(
        matches!(
            ok(store.find_refresh(&endless.hash).await, "find_refresh"),
            RefreshLookup::Retired(_)
        ),
        "sweep_tokens",
        "a retired refresh token without an expiry is kept",
    );
    found(
        store.find_token(&successor.hash).await,
        "sweep_tokens",
        "a token not yet expired is kept",
    );
}

// ---------------------------------------------------------------------------------------------
// The model

/// A random sequence of token operations checked against a plain map of what should be live.
pub async fn model(store: Arc<dyn Storage>, seed: u64, steps: usize) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let client = new_client(&*store).await;
    let user = UserId::new(unique("user"));
    // What the model says: the grants (revoked or not); each live token with its grant;
    // retired refresh tokens.
    let mut grants: Vec<(Grant, bool)> = Vec::new();
    let mut live: HashMap<TokenHash, (GrantId, TokenType)> = HashMap::new();
    let mut retired: HashMap<TokenHash, GrantId> = HashMap::new();
    for _ in 0..steps {
        match rng.random_range(0..7) {
            0 => {
                let grant = new_grant(&client, Some(&user));
                let tokens = pair(&grant);
                issue_new(&*store, &grant, &tokens).await;
                for t in tokens {
                    live.insert(t.hash, (grant.id.clone(), t.token_type));
                }
                grants.push((grant, false));
            }
            1 if !live.is_empty() => {
                let refresh: Vec<_> = live
                    .iter()
                    .filter(|(_, (_, t))| *t == TokenType::Refresh)
                    .map(|(h, g)| (*h, g.0.clone()))
                    .collect();
                if let Some((old, grant_id)) = refresh
                    .get(rng.random_range(0..refresh.len().max(1)))
                    .cloned()
                {
                    let (grant, _) = grants
                        .iter()
                        .find(|(g, _)| g.id == grant_id)
                        .expect("the model holds every grant of its tokens");
                    let next = token(grant, TokenType::Refresh, None);
                    check_eq(
                        ok(
                            store
                                .rotate_refresh(
                                    &old,
                                    std::slice::from_ref(&next),
                                    None,
                                    base_time(),
                                )
                                .await,
                            "rotate_refresh",
                        ),
                        Rotation::Rotated,
                        "rotate_refresh",
                        "a live refresh token is rotated",
                    );
                    live.remove(&old);
                    retired.insert(old, grant_id.clone());
                    live.insert(next.hash, (grant_id, TokenType::Refresh));
                }
            }
            2 if !live.is_empty() => {
                let hashes: Vec<_> = live.keys().copied().collect();
                let hash = hashes[rng.random_range(0..hashes.len())];
                check(
                    ok(store.revoke_token(&hash).await, "revoke_token"),
                    "revoke_token",
                    "revoking a live token returns true",
                );
                live.remove(&hash);
            }
            3 if !grants.is_empty() => {
                let at = rng.random_range(0..grants.len());
                let id = grants[at].0.id.clone();
                let expected = live.values().filter(|(g, _)| *g == id).count()
                    + retired.values().filter(|g| **g == id).count();
                check_eq(
                    ok(store.revoke_grant(&id).await, "revoke_grant"),
                    expected as u64,
                    "revoke_grant",
                    "returns how many tokens it removed, live and retired",
                );
                grants[at].1 = true;
                live.retain(|_, (g, _)| *g != id);
                retired.retain(|_, g| *g != id);
            }
            4 if !grants.is_empty() => {
                // Into an existing grant: stored if active, refused if revoked.
                let (grant, revoked) = grants[rng.random_range(0..grants.len())].clone();
                let has_tokens = live.values().any(|(g, _)| *g == grant.id)
                    || retired.values().any(|g| *g == grant.id);
                let next = token(&grant, TokenType::Access, None);
                let outcome = ok(
                    store
                        .issue_tokens(Family::Existing(&grant.id), std::slice::from_ref(&next))
                        .await,
                    "issue_tokens",
                );
                if revoked {
                    check_eq(
                        outcome,
                        IssueOutcome::GrantRevoked,
                        "issue_tokens",
                        "Family::Existing with a revoked grant is GrantRevoked",
                    );
                } else if has_tokens {
                    check_eq(
                        outcome,
                        IssueOutcome::Stored,
                        "issue_tokens",
                        "Family::Existing with an active grant that has tokens stores them",
                    );
                }
                // An active grant left with no token may have been forgotten: either answer.
                if outcome == IssueOutcome::Stored {
                    live.insert(next.hash, (grant.id.clone(), TokenType::Access));
                }
            }
            _ => gone(
                store.find_token(&random_hash()).await,
                "find_token",
                "an unknown token is not found",
            ),
        }
        for (hash, (grant, token_type)) in &live {
            let found = found(
                store.find_token(hash).await,
                "find_token",
                "a token the model holds live is found",
            );
            check_eq(
                (&found.grant_id, found.token_type),
                (grant, *token_type),
                "find_token",
                "a token is found with its grant and type",
            );
        }
        for hash in retired.keys() {
            check(
                matches!(
                    ok(store.find_refresh(hash).await, "find_refresh"),
                    RefreshLookup::Retired(_)
                ),
                "find_refresh",
                "a refresh token the model holds retired is Retired",
            );
            gone(
                store.find_token(hash).await,
                "find_token",
                "a retired token is not live",
            );
        }
    }
}

/// [`ReplayStore`](crate::store::ReplayStore): a value is new once, refused while its entry
/// lives, new again once it expired; a sweep removes no live entry.
pub async fn replays(store: Arc<dyn Storage>) {
    let now = base_time();
    let key = ReplayKey::new("testkit", &[&unique("jti")]);
    let until = now + Duration::seconds(60);
    check(
        ok(store.remember(&key, now, until).await, "remember"),
        "remember",
        "a value never seen is new",
    );
    check(
        !ok(store.remember(&key, now, until).await, "remember"),
        "remember",
        "a value seen before is refused",
    );
    check(
        !ok(
            store
                .remember(
                    &key,
                    now + Duration::seconds(59),
                    until + Duration::seconds(60),
                )
                .await,
            "remember",
        ),
        "remember",
        "a value is refused until its entry expires, whatever expiry the replay asks for",
    );
    let other = ReplayKey::new("testkit", &[&unique("jti")]);
    check(
        ok(store.remember(&other, now, until).await, "remember"),
        "remember",
        "another value is new",
    );
    // Expired by the caller's clock: new again, and then held until its new expiry.
    let later = until + Duration::seconds(1);
    check(
        ok(
            store
                .remember(&key, later, later + Duration::seconds(60))
                .await,
            "remember",
        ),
        "remember",
        "a value whose entry expired is new again",
    );
    check(
        !ok(
            store
                .remember(&key, later, later + Duration::seconds(60))
                .await,
            "remember",
        ),
        "remember",
        "a value taken over after expiry is held again",
    );
    // A sweep at `later` may remove `other` (expired) but not `key` (held until later + 60).
    ok(store.sweep_replays(later, 10_000).await, "sweep_replays");
    check(
        !ok(
            store
                .remember(&key, later, later + Duration::seconds(60))
                .await,
            "remember",
        ),
        "sweep_replays",
        "a sweep removes no entry that has not expired",
    );
    check(
        ok(
            store
                .remember(&other, later, later + Duration::seconds(60))
                .await,
            "remember",
        ),
        "remember",
        "an expired value is new after a sweep",
    );
}

/// Of `tasks` concurrent [`remember`](crate::store::ReplayStore::remember) calls with one
/// key, exactly one finds it new.
pub async fn replay_race(store: Arc<dyn Storage>, tasks: usize) {
    let now = base_time();
    let key = ReplayKey::new("testkit", &[&unique("race")]);
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                ok(
                    store
                        .remember(&key, now, now + Duration::seconds(600))
                        .await,
                    "remember",
                )
            })
        })
        .collect();
    let mut first = 0;
    for handle in handles {
        if joined(handle).await {
            first += 1;
        }
    }
    check_eq(
        first,
        1,
        "remember",
        "of concurrent calls with one key exactly one finds it new",
    );
}

/// Clients that expire unused: `touch_client` clears the mark (and `update_client` keeps it),
/// and `sweep_clients` removes exactly the clients whose mark is before `now`, with what they
/// left (tokens, grants, consents, device authorizations), at most `limit` per call.
pub async fn unused_clients(store: Arc<dyn Storage>) {
    let era = unused_era();
    let marked = |offset: i64| client_record().with_unused_until(era + Duration::seconds(offset));
    let expired: Vec<Client> = (0..5).map(marked).collect();
    for client in &expired {
        ok(store.insert_client(client).await, "insert_client");
    }
    check_eq(
        ok(store.find_client(&expired[0].id).await, "find_client"),
        Some(expired[0].clone()),
        "insert_client",
        "a client's unused_until is stored as given",
    );
    let touched = marked(1);
    ok(store.insert_client(&touched).await, "insert_client");
    check(
        ok(store.touch_client(&touched.id).await, "touch_client"),
        "touch_client",
        "returns true for a stored client",
    );
    check_eq(
        ok(store.find_client(&touched.id).await, "find_client").map(|c| c.unused_until),
        Some(None),
        "touch_client",
        "the client's unused_until is cleared",
    );
    check(
        ok(store.touch_client(&touched.id).await, "touch_client"),
        "touch_client",
        "touching a client whose mark is clear returns true and changes nothing",
    );
    check(
        !ok(
            store.touch_client(&client_record().id).await,
            "touch_client",
        ),
        "touch_client",
        "returns false for a client that does not exist",
    );
    let later = marked(10_000);
    ok(store.insert_client(&later).await, "insert_client");
    let permanent = new_client(&*store).await;
    // update_client keeps the stored mark, whatever the record it is given holds.
    let mut renamed = expired[1].clone();
    renamed.name = "Renamed".into();
    renamed.unused_until = None;
    ok(store.update_client(&renamed).await, "update_client");
    check_eq(
        ok(store.find_client(&renamed.id).await, "find_client").and_then(|c| c.unused_until),
        expired[1].unused_until,
        "update_client",
        "the stored unused_until is kept",
    );
    let mut unmarked = later.clone();
    unmarked.unused_until = None;
    ok(store.update_client(&unmarked).await, "update_client");
    // What one expired client left, and the same for a client that stays.
    let user = UserId::new(unique("user"));
    let mut leftovers = Vec::new();
    for client in [&expired[0], &touched] {
        let grant = new_grant(client, Some(&user));
        let issued = token(&grant, TokenType::Access, None);
        issue_new(&*store, &grant, std::slice::from_ref(&issued)).await;
        let consent = Consent::new(user.clone(), client.id.clone(), scopes("read"), base_time());
        ok(store.save_consent(&consent).await, "save_consent");
        let device = stored_device(&*store, client, 5).await;
        leftovers.push((issued.hash, device.user_code_hash));
    }

    let now = era + Duration::seconds(100);
    let first = ok(store.sweep_clients(now, 2).await, "sweep_clients");
    check(
        first <= 2,
        "sweep_clients",
        "it removes at most `limit` clients per call",
    );
    check(
        first >= 1,
        "sweep_clients",
        "it removes clients whose unused_until is before now",
    );
    let mut rounds = 0;
    while ok(store.sweep_clients(now, 2).await, "sweep_clients") == 2 {
        rounds += 1;
        check(
            rounds < 10,
            "sweep_clients",
            "a call below `limit` ends the backlog",
        );
    }
    for client in &expired {
        check_eq(
            ok(store.find_client(&client.id).await, "find_client"),
            None,
            "sweep_clients",
            "a client whose unused_until is before now is removed",
        );
    }
    for client in [&touched, &later, &permanent] {
        check(
            ok(store.find_client(&client.id).await, "find_client").is_some(),
            "sweep_clients",
            "a client touched, marked after now, or never marked stays",
        );
    }
    let (doomed_token, doomed_device) = leftovers[0];
    gone(
        store.find_token(&doomed_token).await,
        "sweep_clients",
        "the removed client's tokens go with it",
    );
    check_eq(
        ok(
            store.find_consent(&user, &expired[0].id).await,
            "find_consent",
        ),
        None,
        "sweep_clients",
        "the removed client's consents go with it",
    );
    check_eq(
        ok(
            store.find_device_by_user_code(&doomed_device).await,
            "find_device_by_user_code",
        ),
        None,
        "sweep_clients",
        "the removed client's device authorizations go with it",
    );
    let (kept_token, kept_device) = leftovers[1];
    found(
        store.find_token(&kept_token).await,
        "sweep_clients",
        "another client's tokens are untouched",
    );
    check(
        ok(
            store.find_device_by_user_code(&kept_device).await,
            "find_device_by_user_code",
        )
        .is_some(),
        "sweep_clients",
        "another client's device authorizations are untouched",
    );
    check(
        store.insert_client(&expired[0]).await.is_ok(),
        "sweep_clients",
        "a removed client is completely reaped when it returns (its ID is free)",
    );
    // `later` kept its mark through update_client: it goes once its time has passed.
    ok(
        store
            .sweep_clients(era + Duration::seconds(20_000), 100)
            .await,
        "sweep_clients",
    );
    check_eq(
        ok(store.find_client(&later.id).await, "find_client"),
        None,
        "sweep_clients",
        "a client whose mark update_client kept is removed once it is due",
    );
    for client in [&expired[0], &touched, &permanent] {
        ok(store.delete_client(&client.id).await, "delete_client");
    }
}

/// Every check, one after another, with the sizes the macro uses.
pub async fn run_all(store: Arc<dyn Storage>) {
    ping(Arc::clone(&store)).await;
    clients(Arc::clone(&store)).await;
    update_keeps_secret(Arc::clone(&store)).await;
    registration_token_swap(Arc::clone(&store)).await;
    bounded_delete(Arc::clone(&store), 20_000).await;
    client_checked_on_issue(Arc::clone(&store)).await;
    codes(Arc::clone(&store)).await;
    code_race(Arc::clone(&store), 64).await;
    code_replay(Arc::clone(&store)).await;
    code_replay_race(Arc::clone(&store), 16).await;
    code_redemption_atomic(Arc::clone(&store), 16).await;
    tokens(Arc::clone(&store)).await;
    rotation(Arc::clone(&store)).await;
    rotation_race(Arc::clone(&store), 32).await;
    grants(Arc::clone(&store)).await;
    revocation_tombstone(Arc::clone(&store)).await;
    consents(Arc::clone(&store)).await;
    large_consent(Arc::clone(&store)).await;
    devices(Arc::clone(&store)).await;
    device_redemption_race(Arc::clone(&store), 16).await;
    sweep(Arc::clone(&store)).await;
    sweep_backlog(Arc::clone(&store), 300).await;
    retired_refresh_survives_sweep(Arc::clone(&store)).await;
    replays(Arc::clone(&store)).await;
    replay_race(Arc::clone(&store), 32).await;
    unused_clients(Arc::clone(&store)).await;
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
            clients, update_keeps_secret, registration_token_swap, client_checked_on_issue,
            codes, code_replay, tokens, rotation, grants, revocation_tombstone, consents,
            large_consent, devices, sweep, retired_refresh_survives_sweep, ping, replays,
            unused_clients);
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn replay_race() {
            $crate::testkit::replay_race($make.await, 64).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn sweep_backlog() {
            $crate::testkit::sweep_backlog($make.await, 300).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn bounded_delete() {
            $crate::testkit::bounded_delete($make.await, 20_000).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn code_race() {
            $crate::testkit::code_race($make.await, 100).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn code_replay_race() {
            $crate::testkit::code_replay_race($make.await, 50).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn code_redemption_atomic() {
            $crate::testkit::code_redemption_atomic($make.await, 20).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn rotation_race() {
            $crate::testkit::rotation_race($make.await, 50).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn device_redemption_race() {
            $crate::testkit::device_redemption_race($make.await, 20).await;
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

/// A DPoP client's key, making proofs (RFC 9449 §4.2) for tests, well-formed or not.
#[cfg(feature = "jose")]
#[derive(Debug)]
pub struct DpopKey {
    key: crate::jose::SigningKey,
}

#[cfg(feature = "jose")]
impl DpopKey {
    /// A fresh key of `alg`.
    pub fn generate(alg: crate::jose::Algorithm) -> Self {
        Self {
            key: crate::jose::SigningKey::generate(alg).expect("key generation"),
        }
    }

    /// The RFC 7638 thumbprint of the key: the `jkt` tokens are bound to.
    pub fn jkt(&self) -> String {
        self.key.public_jwk().thumbprint()
    }

    /// The public JWK as JSON.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::to_value(self.key.public_jwk()).expect("a JWK serialises")
    }

    /// A valid proof for `htm` `htu` at `iat`, with a random `jti`, the `ath` of
    /// `access_token` and `nonce` when given.
    pub async fn proof(
        &self,
        htm: &str,
        htu: &str,
        iat: i64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = serde_json::json!({
            "jti": unique("jti"), "htm": htm, "htu": htu, "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = ath(token).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign(&self.header(), &claims).await
    }

    /// The header a valid proof has: `typ`, `alg` and `jwk`.
    pub fn header(&self) -> serde_json::Value {
        serde_json::json!({
            "typ": "dpop+jwt",
            "alg": self.key.algorithm().as_str(),
            "jwk": self.public_jwk(),
        })
    }

    /// Signs any header and claims with the key (for proofs that must fail a check).
    pub async fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = crate::jose::Signer::sign(&self.key, input.as_bytes())
            .await
            .expect("signing");
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        input
    }
}

/// `ath` (RFC 9449 §4.2): base64url SHA-256 of an access token.
#[cfg(feature = "jose")]
pub fn ath(access_token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(access_token.as_bytes()))
}
