//! Shared set-up for the benchmarks: a provider over the memory store holding 50,000 live access
//! tokens, one confidential client, and a way to drive the store's futures without a runtime.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use std::collections::HashMap;
use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tessera::store::{Family, Grant, GrantId, MemoryStore, TokenRecord, TokenStore, TokenType};
use tessera::testkit::{RedirectExt as _, ResponseExt as _};
use tessera::{
    AccessToken, ClientId, ClientRegistration, Config, FormRequest, GrantType, OsEntropy, Params,
    Provider, ScopeSet, UserId,
};

/// How many live tokens the store holds, like the floor's map.
pub const LIVE_TOKENS: usize = 50_000;
pub const REDIRECT: &str = "https://client.example/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Short runs: the machine is shared, and ratios are what matters. Command-line flags
/// (`--warm-up-time`, `--measurement-time`) still override these.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args()
}

/// Runs a future to completion on this thread. The memory store never waits, so this is one
/// poll: no runtime, no scheduler, nothing measured but the library.
pub fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// A provider with the system clock and the OS CSPRNG (the production defaults), its store,
/// and one confidential client allowed every grant the benches use.
pub struct Bench {
    pub provider: Provider,
    pub store: Arc<MemoryStore>,
    pub client_id: String,
    pub secret: String,
    /// `Basic base64(client_id:secret)`.
    pub basic: String,
}

pub fn bench() -> Bench {
    let config = Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read write offline_access").unwrap())
        .grant_types(GrantType::ALL)
        .danger(tessera::danger::Danger::new().open_registration())
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config, store.clone()).build();
    let registered = run(provider.register_client(
        ClientRegistration::new("Bench", REDIRECT).with_grant_types(vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ]),
    ))
    .unwrap();
    let client_id = registered.client.id.as_str().to_owned();
    let secret = registered.secret.unwrap().into_secret();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    Bench {
        provider,
        store,
        client_id,
        secret,
        basic,
    }
}

impl Bench {
    /// Fills the store with `count` live access tokens (scope `read write`, one hour), each in
    /// its own grant, and returns the first few tokens' values.
    pub fn fill(&self, count: usize) -> Vec<String> {
        self.fill_keeping(count, 16)
    }

    /// Like [`Bench::fill`], returning every token's value.
    pub fn fill_all(&self, count: usize) -> Vec<String> {
        self.fill_keeping(count, count)
    }

    fn fill_keeping(&self, count: usize, keep: usize) -> Vec<String> {
        let now = self.provider.now();
        let scopes = ScopeSet::parse("read write").unwrap();
        let client = ClientId::new(self.client_id.clone()).unwrap();
        let mut kept = Vec::new();
        for i in 0..count {
            let token = AccessToken::generate(&OsEntropy);
            let grant = Grant::new(
                GrantId::generate(&OsEntropy),
                client.clone(),
                Some(UserId::new(format!("user{i}"))),
                scopes.clone(),
                GrantType::AuthorizationCode,
                now,
            );
            let record = TokenRecord::new(
                token.hash(),
                TokenType::Access,
                &grant,
                scopes.clone(),
                now,
                Some(now + time::Duration::hours(1)),
                None,
            );
            run(self.store.issue_tokens(Family::New(&grant), &[record])).unwrap();
            if kept.len() < keep {
                kept.push(token.into_secret());
            }
        }
        kept
    }

    /// A token request with this body, authenticated with HTTP Basic.
    pub fn form(&self, body: String) -> FormRequest {
        FormRequest::new(body.into_bytes()).with_authorization(Some(&self.basic))
    }

    /// The authorization request's query.
    pub fn authorize_query(&self) -> String {
        format!(
            "response_type=code&client_id={}&redirect_uri={}&scope=read+write+offline_access&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256",
            self.client_id,
            urlencode(REDIRECT)
        )
    }

    /// One whole code flow: returns the token response body.
    pub fn tokens(&self) -> serde_json::Value {
        let params = Params::from_query(&self.authorize_query(), &Default::default()).unwrap();
        let pending = run(self.provider.authorize(&params)).unwrap();
        let scopes = pending.scopes().clone();
        let redirect = run(pending.approve(&self.provider, UserId::new("alice"), &scopes));
        let code = redirect.param("code").unwrap();
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(REDIRECT)
        );
        let response = run(self.provider.token(&self.form(body)));
        assert_eq!(response.status, 200);
        response.json_body().unwrap()
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Benches `routine` as `name` in `group`, timing `iters` iterations in chunks of at most
/// `chunk`, each chunk on a fresh state from `setup` (given the chunk's length; not timed), so
/// that the store of a writing bench stays bounded (at most `chunk` iterations' records) however
/// many iterations criterion asks for.
pub fn bench_in_chunks<S>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    chunk: u64,
    mut setup: impl FnMut(u64) -> S,
    mut routine: impl FnMut(&mut S, u64),
) {
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(chunk);
                let mut state = setup(n);
                let start = std::time::Instant::now();
                for i in 0..n {
                    routine(&mut state, i);
                }
                total += start.elapsed();
                drop(state);
                done += n;
            }
            total
        })
    });
}

/// The value of a string field in a JSON body, found without parsing (the benches' client side
/// should cost next to nothing).
pub fn field<'a>(body: &'a [u8], name: &str) -> &'a str {
    let text = std::str::from_utf8(body).unwrap();
    let key = format!("\"{name}\":\"");
    let start = text.find(&key).unwrap() + key.len();
    let end = start + text[start..].find('"').unwrap();
    &text[start..end]
}

/// Floor (a), as `floor_mint` in `group`: 32 bytes from the CSPRNG, SHA-256, insert into a
/// `HashMap<[u8; 32], u64>`. The map stays between 0 and 50,000 entries, so it never
/// reallocates and never grows past the size of floor (b)'s.
pub fn floor_mint(group: &mut BenchmarkGroup<'_, WallTime>) {
    let mut minted: HashMap<[u8; 32], u64> = HashMap::with_capacity(LIVE_TOKENS);
    let mut n = 0u64;
    group.bench_function("floor_mint", |b| {
        b.iter(|| {
            let mut random = [0u8; 32];
            rand::rng().fill_bytes(&mut random);
            let hash: [u8; 32] = Sha256::digest(random).into();
            if minted.len() >= LIVE_TOKENS {
                minted.clear();
            }
            n += 1;
            minted.insert(hash, n);
        })
    });
}

/// Floor (b)'s data: 50,000 random 43-character tokens and a map from each one's SHA-256 to
/// its index.
pub fn floor_map() -> (Vec<String>, HashMap<[u8; 32], u64>) {
    let tokens: Vec<String> = (0..LIVE_TOKENS)
        .map(|_| {
            let mut random = [0u8; 32];
            rand::rng().fill_bytes(&mut random);
            URL_SAFE_NO_PAD.encode(random)
        })
        .collect();
    let map = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (Sha256::digest(t.as_bytes()).into(), i as u64))
        .collect();
    (tokens, map)
}

/// One floor (b) check: SHA-256 of `token`, then a lookup in `map`.
pub fn floor_check_one(map: &HashMap<[u8; 32], u64>, token: &str) -> Option<u64> {
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    map.get(&hash).copied()
}

/// Floor (b), as `floor_check` in `group`: SHA-256 of a 43-character token and a lookup in a
/// map of 50,000 entries.
pub fn floor_check(group: &mut BenchmarkGroup<'_, WallTime>) {
    let (tokens, map) = floor_map();
    let presented = tokens[tokens.len() / 2].clone();
    assert_eq!(presented.len(), 43);
    group.bench_function("floor_check", |b| {
        b.iter(|| floor_check_one(&map, black_box(&presented)))
    });
}
