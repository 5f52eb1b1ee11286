//! The token-path benchmarks on the PostgreSQL and Redis stores, when their test URLs are set
//! (`TESSERA_TEST_POSTGRES_URL`, `TESSERA_TEST_REDIS_URL`; without one, its part is skipped),
//! and on the SQLite store (always: a fresh file in the temporary directory, removed after).
//! Needs `--features postgres,redis,sqlite`: `cargo bench --all-features --bench stores`.
//!
//! Each request is a round trip or more to the database, so these report absolute times; the
//! ratio to the in-process floor would only measure the network. PostgreSQL uses the schema
//! `tessera_bench` (created and migrated if missing, kept afterwards); Redis uses the key prefix
//! `tessera_bench:`, purged at the end.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use tessera::store::{PgStore, RedisStore, SqliteStore, Storage};
use tessera::testkit::RedirectExt as _;
use tessera::{
    BearerRequest, ClientRegistration, Config, FormRequest, GrantType, Params, Provider, ScopeSet,
    UserId,
};
use tokio::runtime::Runtime;

mod common;

struct Remote {
    provider: Provider,
    client_id: String,
    basic: String,
}

impl Remote {
    fn new(rt: &Runtime, store: Arc<dyn Storage>) -> Self {
        let config = Config::builder("https://auth.example.com")
            .scopes(ScopeSet::parse("read write offline_access").unwrap())
            .grant_types(GrantType::ALL)
            .danger(tessera::danger::Danger::new().open_registration())
            .build()
            .unwrap();
        let provider = Provider::builder(config, store).build();
        let registered = rt
            .block_on(provider.register_client(
                ClientRegistration::new("Bench", common::REDIRECT).with_grant_types(vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ]),
            ))
            .unwrap();
        let client_id = registered.client.id.as_str().to_owned();
        let credentials = format!("{client_id}:{}", registered.secret.unwrap().secret());
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        );
        Self {
            provider,
            client_id,
            basic,
        }
    }

    fn form(&self, body: String) -> FormRequest {
        FormRequest::new(body.into_bytes()).with_authorization(Some(&self.basic))
    }

    /// One code flow; the access and refresh tokens.
    fn tokens(&self, rt: &Runtime) -> (String, String) {
        let client_id = &self.client_id;
        let query = format!(
            "response_type=code&client_id={client_id}&redirect_uri={}&scope=read+write+offline_access&code_challenge={}&code_challenge_method=S256",
            common::urlencode(common::REDIRECT),
            common::CHALLENGE
        );
        let params = Params::from_query(&query, &Default::default()).unwrap();
        let pending = rt.block_on(self.provider.authorize(&params)).unwrap();
        let scopes = pending.scopes().clone();
        let redirect = rt.block_on(pending.approve(&self.provider, UserId::new("alice"), &scopes));
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
            redirect.param("code").unwrap(),
            common::urlencode(common::REDIRECT),
            common::VERIFIER
        );
        let response = rt.block_on(self.provider.token(&self.form(body)));
        assert_eq!(response.status, 200);
        (
            common::field(&response.body, "access_token").to_owned(),
            common::field(&response.body, "refresh_token").to_owned(),
        )
    }
}

fn token_paths(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Storage>) {
    let remote = Remote::new(rt, store);
    let provider = &remote.provider;
    let (access, refresh) = remote.tokens(rt);
    let header = format!("Bearer {access}");
    let required = ScopeSet::parse("read").unwrap();
    let mut group = c.benchmark_group(format!("store_{name}"));
    group.bench_function("bearer_validate", |b| {
        b.iter(|| {
            let request = BearerRequest::header(black_box(&header));
            assert!(
                rt.block_on(provider.validate_bearer(&request, &required))
                    .is_ok()
            );
        })
    });
    let mut refresh = refresh;
    group.bench_function("refresh_rotation", |b| {
        b.iter(|| {
            let body = format!("grant_type=refresh_token&refresh_token={refresh}");
            let response = rt.block_on(provider.token(&remote.form(body)));
            assert_eq!(response.status, 200);
            refresh = common::field(&response.body, "refresh_token").to_owned();
        })
    });
    let credentials = remote.form("grant_type=client_credentials&scope=read".into());
    group.bench_function("client_credentials", |b| {
        b.iter(|| assert_eq!(rt.block_on(provider.token(&credentials)).status, 200))
    });
    let introspect = remote.form(format!("token={access}"));
    group.bench_function("introspection", |b| {
        b.iter(|| assert_eq!(rt.block_on(provider.introspect(&introspect)).status, 200))
    });
    common::bench_in_chunks(
        &mut group,
        "revocation",
        1_000,
        |n| {
            (0..n)
                .map(|_| {
                    let response = rt.block_on(provider.token(&credentials));
                    let token = common::field(&response.body, "access_token");
                    remote.form(format!("token={token}"))
                })
                .collect::<Vec<_>>()
        },
        |requests, i| {
            let response = rt.block_on(provider.revoke(&requests[i as usize]));
            assert_eq!(response.status, 200);
        },
    );
    group.finish();
}

fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{var} is not set: skipping its store benchmarks");
            None
        }
    }
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(url) = url("TESSERA_TEST_POSTGRES_URL") {
        let store = rt.block_on(async {
            let store = PgStore::connect_in_schema(&url, "tessera_bench")
                .await
                .unwrap();
            store.migrate().await.unwrap();
            store
        });
        token_paths(c, &rt, "postgres", Arc::new(store));
    }
    if let Some(url) = url("TESSERA_TEST_REDIS_URL") {
        let store = rt
            .block_on(RedisStore::connect(&url))
            .unwrap()
            .with_prefix("tessera_bench:");
        let store = Arc::new(store);
        token_paths(c, &rt, "redis", store.clone());
        rt.block_on(store.purge()).unwrap();
    }
    let path = std::env::temp_dir().join(format!("tessera-bench-{}.db", std::process::id()));
    let store = rt.block_on(async {
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    token_paths(c, &rt, "sqlite", Arc::new(store.clone()));
    rt.block_on(store.close());
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

criterion_group! {
    name = benches;
    config = common::criterion()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    targets = stores
}
criterion_main!(benches);
