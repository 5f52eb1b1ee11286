//! tessera's side of the side-by-side figures with oxide-auth 0.6.1 and oauth-as 1.0.1 (the
//! harnesses in `../shared/bench-peers/`, run together by its `run.sh`): the same figure lines
//! (`NAME VALUE UNIT` on stdout), the same work and the same method as those harnesses. Each
//! figure is a warm-up pass of a tenth of the iterations, then `REPS` timed passes with
//! `std::time::Instant`, the median printed; per-pass samples go to stderr.
//!
//! What tessera does in each figure that oauth-as's core figures leave out: the authorization
//! request is read from its parameters (`Params::from_pairs`), the token and introspection
//! requests are form bodies with `Authorization: Basic` (form parsing, Basic decoding), every
//! answer is a JSON body, and every token is kept as its SHA-256 hash (checksummed tokens, hashed
//! at rest), the client secret as the SHA-256 of a generated secret.
//!
//! Knobs (environment, all optional, as in the peers): `FLOW_ITERS` (50,000), `VALIDATE_ITERS`
//! (200,000), `FLOOR_ITERS` (200,000), `REPS` (5). `STORE_SIZES=1` times only bearer
//! validation on stores of 1,000, 50,000 and 1,000,000 live tokens.
//!
//! `cargo bench --bench peers`; `../shared/bench-peers/run.sh` runs it interleaved with the peers.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use rand::RngCore;
use sha2::{Digest, Sha256};
use tessera::store::TokenStore as _;
use tessera::{
    BearerRequest, ClientSecret, FormRequest, Params, ScopeSet, SecretHash, TokenHash, UserId,
};

mod common;

use common::{Bench, run};

/// The resource owner who approves every request, as in the peers.
const OWNER: &str = "owner-1";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Prints `name median unit` exactly as the peers do (no decimals from 100 up).
fn report(name: &str, samples: Vec<f64>, unit: &str) {
    eprintln!(
        "# {name} samples: {:?}",
        samples
            .iter()
            .map(|x| (x * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    let m = median(samples);
    if m >= 100.0 {
        println!("{name} {m:.0} {unit}");
    } else {
        println!("{name} {m:.2} {unit}");
    }
}

/// Warm-up pass (n/10) then `reps` timed passes of `n` calls; ns/op per pass.
fn ns_per_op(reps: usize, n: usize, mut f: impl FnMut()) -> Vec<f64> {
    let mut samples = Vec::new();
    for rep in 0..=reps {
        let iters = if rep == 0 { n / 10 } else { n };
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        let ns = t.elapsed().as_nanos() as f64 / iters as f64;
        if rep > 0 {
            samples.push(ns);
        }
    }
    samples
}

/// What the client sends and reads, fixed once.
struct Fixed {
    redirect: String,
    required: ScopeSet,
}

impl Fixed {
    fn new() -> Self {
        Self {
            redirect: common::urlencode(common::REDIRECT),
            required: ScopeSet::parse("read").unwrap(),
        }
    }
}

/// The value of `name` in a URL's query, cut out by string search (the client's side).
fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    let query = &url[url.find('?').unwrap() + 1..];
    let start = query
        .split('&')
        .find(|pair| {
            pair.len() > name.len() && pair.starts_with(name) && pair[name.len()..].starts_with('=')
        })
        .unwrap();
    &start[name.len() + 1..]
}

/// The token request of the flow's second leg, with HTTP Basic client authentication.
fn code_request(bench: &Bench, fx: &Fixed, code: &str, verifier: &str) -> FormRequest {
    bench.form(format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}",
        fx.redirect
    ))
}

/// One complete authorization-code + PKCE (S256) exchange for a confidential client: the
/// authorization request read from its parameters and validated, approved by the owner (code
/// stored), the redirect `Location` built and the code read from it, the token request (form
/// body, HTTP Basic) answered with a JSON access and refresh token. Returns the JSON body.
#[inline(never)] // a symbol of its own, for callgrind
fn one_flow(bench: &Bench, fx: &Fixed) -> Vec<u8> {
    let provider = &bench.provider;
    let params = Params::from_pairs(
        [
            ("response_type", "code"),
            ("client_id", bench.client_id.as_str()),
            ("redirect_uri", common::REDIRECT),
            ("scope", "read write"),
            ("state", "xyz"),
            ("code_challenge", common::CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
        &Default::default(),
    )
    .unwrap();
    let pending = run(provider.authorize(&params)).unwrap();
    let scopes = pending.scopes().clone();
    let redirect = run(pending.approve(provider, UserId::new(OWNER), &scopes));
    let code = query_value(black_box(redirect.location()), "code");
    let response = run(provider.token(&code_request(bench, fx, code, common::VERIFIER)));
    assert_eq!(response.status, 200);
    response.body
}

/// `grant_type=refresh_token` with HTTP Basic; the JSON body.
#[inline(never)] // a symbol of its own, for callgrind
fn refresh_once(bench: &Bench, refresh_token: &str) -> (u16, Vec<u8>) {
    let request = bench.form(format!(
        "grant_type=refresh_token&refresh_token={refresh_token}"
    ));
    let response = run(bench.provider.token(&request));
    (response.status, response.body)
}

/// A resource server in the same process: `Authorization: Bearer <t>` checked (format,
/// checksum, hash, store read, expiry, revocation) and scope `read` required.
#[inline(never)] // a symbol of its own, for callgrind
fn bearer_check(bench: &Bench, fx: &Fixed, header: &str) -> bool {
    bearer_check_inline(bench, fx, header)
}

/// [`bearer_check`] for the tokens that must fail, a symbol of its own so that callgrind counts
/// the valid and the malformed checks apart.
#[inline(never)]
fn bearer_refused(bench: &Bench, fx: &Fixed, header: &str) -> bool {
    !bearer_check_inline(bench, fx, header)
}

#[inline(always)]
fn bearer_check_inline(bench: &Bench, fx: &Fixed, header: &str) -> bool {
    run(bench
        .provider
        .validate_bearer(&BearerRequest::header(header), &fx.required))
    .is_ok()
}

#[inline(never)] // a symbol of its own, for callgrind
fn introspect(bench: &Bench, request: &FormRequest) -> Vec<u8> {
    let response = run(bench.provider.introspect(request));
    assert_eq!(response.status, 200);
    response.body
}

fn json_has(body: &[u8], needle: &str) -> bool {
    std::str::from_utf8(body).unwrap().contains(needle)
}

/// The checks the peers make before timing: the flow answers access and refresh token with
/// scope `read write` for an hour; a wrong verifier and a wrong secret are refused; a valid
/// bearer token passes and an unknown one does not; introspection answers `active`; refresh
/// rotates and the spent refresh token is refused.
fn sanity(fx: &Fixed) {
    let bench = common::bench();
    let body = one_flow(&bench, fx);
    assert!(json_has(&body, "\"expires_in\":3600"), "{body:?}");
    assert!(json_has(&body, "\"scope\":\"read write\""));
    let access = common::field(&body, "access_token").to_owned();
    let refresh = common::field(&body, "refresh_token").to_owned();
    assert!(bearer_check(&bench, fx, &format!("Bearer {access}")));
    assert!(bearer_refused(&bench, fx, "Bearer nope"));
    let principal = run(bench.provider.validate_bearer(
        &BearerRequest::header(&format!("Bearer {access}")),
        &fx.required,
    ))
    .unwrap();
    assert_eq!(principal.user().map(|u| u.as_str()), Some(OWNER));
    let ir = introspect(&bench, &bench.form(format!("token={access}")));
    assert!(json_has(&ir, "\"active\":true"));
    let ir = introspect(&bench, &bench.form("token=nope".to_owned()));
    assert!(json_has(&ir, "\"active\":false"));
    // Tokens are kept as their hash: the store finds the hash, never the value.
    assert!(
        run(bench.store.find_token(&TokenHash::of(&access)))
            .unwrap()
            .is_some()
    );
    // A wrong PKCE verifier and a wrong client secret are refused.
    let params = Params::from_query(&bench.authorize_query(), &Default::default()).unwrap();
    for wrong_secret in [false, true] {
        let pending = run(bench.provider.authorize(&params)).unwrap();
        let scopes = pending.scopes().clone();
        let redirect = run(pending.approve(&bench.provider, UserId::new(OWNER), &scopes));
        let code = query_value(redirect.location(), "code");
        let request = if wrong_secret {
            FormRequest::new(format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={}",
                fx.redirect,
                common::VERIFIER
            ))
            .with_authorization(Some(&format!(
                "Basic {}",
                base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    format!("{}:not-the-secret", bench.client_id)
                )
            )))
        } else {
            code_request(
                &bench,
                fx,
                code,
                "wrong-verifier-wrong-verifier-wrong-verifier-xx",
            )
        };
        assert_ne!(run(bench.provider.token(&request)).status, 200);
    }
    // Refresh rotates: the new refresh token differs, the spent one is refused.
    let (status, r1) = refresh_once(&bench, &refresh);
    assert_eq!(status, 200);
    assert_ne!(common::field(&r1, "refresh_token"), refresh);
    assert_ne!(refresh_once(&bench, &refresh).0, 200);
    eprintln!(
        "# sanity: ok (flow, PKCE reject, wrong-secret reject, bearer accept/reject, introspection, refresh rotation)"
    );
}

fn floor(reps: usize, floor_iters: usize) {
    // Physical floor, the peers' code: 32 random bytes (thread-local CSPRNG) + SHA-256 + insert
    // into HashMap<[u8;32],u64> (fresh map per pass, no pre-reservation).
    let mut samples = Vec::new();
    for rep in 0..=reps {
        let mut map: HashMap<[u8; 32], u64> = HashMap::new();
        let mut rng = rand::rng();
        let n = if rep == 0 {
            floor_iters / 10
        } else {
            floor_iters
        };
        let t = Instant::now();
        for i in 0..n {
            let mut raw = [0u8; 32];
            rng.fill_bytes(&mut raw);
            let digest: [u8; 32] = Sha256::digest(raw).into();
            map.insert(digest, i as u64);
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        black_box(&map);
        if rep > 0 {
            samples.push(ns);
        }
    }
    report("floor_rand32_sha256_hashmap_insert", samples, "ns/op");
}

fn main() {
    // `cargo bench` passes `--bench`; the harness takes no arguments.
    let reps = env_usize("REPS", 5);
    let flow_iters = env_usize("FLOW_ITERS", 50_000);
    let val_iters = env_usize("VALIDATE_ITERS", 200_000);
    let floor_iters = env_usize("FLOOR_ITERS", 200_000);
    let fx = Fixed::new();
    sanity(&fx);

    // `STORE_SIZES=1`: only bearer validation at 1k, 50k and 1M live tokens (issue 22's flat
    // cost in store size), the same method; the store is filled outside the timing.
    if std::env::var_os("STORE_SIZES").is_some() {
        for size in [1_000, 50_000, 1_000_000] {
            let bench = common::bench();
            let tokens = bench.fill(size);
            let header = format!("Bearer {}", tokens[0]);
            assert!(bearer_check(&bench, &fx, &header));
            let s = ns_per_op(reps, val_iters, || {
                black_box(bearer_check(&bench, &fx, black_box(&header)));
            });
            report(&format!("bearer_validate_store_{size}"), s, "ns/op");
        }
        return;
    }

    // (a) the whole code + PKCE flow, fresh provider and store per pass.
    let mut samples = Vec::new();
    let mut last = None;
    for rep in 0..=reps {
        let bench = common::bench();
        let n = if rep == 0 {
            flow_iters / 10
        } else {
            flow_iters
        };
        let t = Instant::now();
        for _ in 0..n {
            black_box(one_flow(&bench, &fx));
        }
        let s = t.elapsed().as_secs_f64();
        if rep > 0 {
            samples.push(n as f64 / s);
        }
        last = Some(bench);
    }
    report(
        "authcode_pkce_flow_sha256secret",
        samples.clone(),
        "flows/s",
    );
    report(
        "authcode_pkce_flow_sha256secret_latency",
        samples.iter().map(|x| 1e9 / x).collect(),
        "ns/flow",
    );

    // (b) bearer validation against the store the last pass of (a) filled (~50k live access
    //     tokens, as many refresh tokens and redeemed codes).
    let bench = last.take().unwrap();
    let body = one_flow(&bench, &fx);
    let access = common::field(&body, "access_token").to_owned();
    let header = format!("Bearer {access}");
    let s = ns_per_op(reps, val_iters, || {
        black_box(bearer_check(&bench, &fx, black_box(&header)));
    });
    report("bearer_validate", s, "ns/op");

    // tessera only: a malformed token (right prefix and length, one character changed, so the
    // checksum fails) refused without a store read.
    let mut bad = header.clone().into_bytes();
    let last_char = bad.len() - 10;
    bad[last_char] = if bad[last_char] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(bearer_refused(&bench, &fx, &bad));
    let s = ns_per_op(reps, val_iters, || {
        black_box(bearer_refused(&bench, &fx, black_box(&bad)));
    });
    report("bearer_validate_malformed", s, "ns/op");

    // (b') RFC 7662 introspection as the token's own client: form body, HTTP Basic, client
    //      authenticated, the token read, the JSON answer.
    let request = bench.form(format!("token={access}"));
    let s = ns_per_op(reps, val_iters, || {
        black_box(introspect(&bench, black_box(&request)));
    });
    report("introspection_response_rfc7662", s, "ns/op");

    // (b'') the store read alone: `MemoryStore::find_token` of the token's hash.
    let hash = TokenHash::of(&access);
    let s = ns_per_op(reps, val_iters, || {
        black_box(run(bench.store.find_token(black_box(&hash))).unwrap());
    });
    report("memorystore_find_token_primitive", s, "ns/op");
    drop(bench);

    // (c) refresh with rotation, chained, fresh provider and store per pass.
    let mut samples = Vec::new();
    for rep in 0..=reps {
        let bench = common::bench();
        let body = one_flow(&bench, &fx);
        let mut rt = common::field(&body, "refresh_token").to_owned();
        let n = if rep == 0 {
            flow_iters / 10
        } else {
            flow_iters
        };
        let t = Instant::now();
        for _ in 0..n {
            let (status, body) = refresh_once(&bench, &rt);
            assert_eq!(status, 200);
            rt = common::field(&body, "refresh_token").to_owned();
        }
        let s = t.elapsed().as_secs_f64();
        if rep > 0 {
            samples.push(n as f64 / s);
        }
    }
    report("refresh_grant_sha256secret", samples, "refreshes/s");

    // The client-secret check alone, as the token endpoint does it per request: SHA-256 of the
    // presented secret compared in constant time with the stored hash (no hex step).
    let secret = ClientSecret::new(common::bench().secret);
    let stored = SecretHash::fast(&secret);
    let s = ns_per_op(reps, floor_iters, || {
        assert!(black_box(&stored).verify(black_box(&secret)));
    });
    report("client_secret_verify_sha256hex", s, "ns/op");

    // The executor: one poll of a ready future (every figure pays it per call).
    let s = ns_per_op(reps, floor_iters, || {
        black_box(run(async { black_box(1u8) }));
    });
    report("block_on_baseline", s, "ns/op");

    // Included in (a): what the client side builds per flow (the token request's body and
    // `FormRequest`, the code cut from a `Location`).
    let location = format!("{}?code={}&state=xyz", common::REDIRECT, "A".repeat(50));
    let bench = common::bench();
    let s = ns_per_op(reps, floor_iters, || {
        let code = query_value(black_box(&location), "code");
        black_box(code_request(&bench, &fx, code, common::VERIFIER));
    });
    report("harness_request_build_per_flow", s, "ns/op");

    floor(reps, floor_iters);
}
