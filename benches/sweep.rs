//! How fast `Provider::sweep` deletes expired tokens, per store: rows per second (criterion's
//! throughput, one iteration sweeping [`ROWS`] expired access tokens in grants of
//! [`PER_GRANT`], batches of 1000 as the example server uses). On the memory store and SQLite
//! (a fresh file in the temporary directory) always; on PostgreSQL and Redis when
//! `TESSERA_TEST_POSTGRES_URL` / `TESSERA_TEST_REDIS_URL` are set (schema
//! `tessera_bench_sweep`, dropped after; key prefix `tessera_bench_sweep:`, purged after).
//! Needs `--features postgres,redis,sqlite,testkit`: `cargo bench --all-features --bench sweep`.
//!
//! The expired tokens are stored before each iteration, outside the timing, by the store's
//! own `issue_tokens`; the provider's clock (a `ManualClock`, a year ahead so that Redis's own
//! expiry never runs first) then moves past their expiry and one `sweep` is timed. A provider
//! keeps up when its store's rate is well above its issuance rate (300 tokens/s in issue 23's
//! soak).
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use rand::RngCore as _;
use tessera::store::{
    Family, Grant, GrantId, IssueOutcome, MemoryStore, PgStore, RedisStore, SqliteStore, Storage,
    TokenRecord, TokenType,
};
use tessera::testkit::ManualClock;
use tessera::{ClientId, ClientRegistration, Config, GrantType, Provider, ScopeSet, TokenHash};
use tokio::runtime::Runtime;

/// Expired tokens swept per iteration.
const ROWS: usize = 2_000;
/// Tokens per grant (a refresh family's rotations, say); each grant's last token takes the
/// grant with it.
const PER_GRANT: usize = 10;
/// The batch `Provider::sweep` is called with.
const BATCH: usize = 1_000;

fn random_hash() -> TokenHash {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    TokenHash::from_bytes(bytes)
}

/// Stores [`ROWS`] access tokens expiring a second from the clock's now, for `client`.
async fn expired_tokens(store: &dyn Storage, clock: &ManualClock, client: &ClientId) {
    let now = tessera::Clock::now(clock);
    let scopes = ScopeSet::parse("read").unwrap();
    for _ in 0..ROWS / PER_GRANT {
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let grant = Grant::new(
            GrantId::new(id),
            client.clone(),
            None,
            scopes.clone(),
            GrantType::ClientCredentials,
            now,
        );
        let tokens: Vec<TokenRecord> = (0..PER_GRANT)
            .map(|_| {
                TokenRecord::new(
                    random_hash(),
                    TokenType::Access,
                    &grant,
                    scopes.clone(),
                    now,
                    Some(now + time::Duration::SECOND),
                    None,
                )
            })
            .collect();
        let stored = store.issue_tokens(Family::New(&grant), &tokens).await;
        assert_eq!(stored.unwrap(), IssueOutcome::Stored);
    }
}

fn sweep_rate(c: &mut Criterion, rt: &Runtime, name: &str, store: Arc<dyn Storage>) {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc() + time::Duration::days(365));
    let config = Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read").unwrap())
        .grant_types(vec![GrantType::ClientCredentials])
        .build()
        .unwrap();
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let client = rt
        .block_on(
            provider.register_client(
                ClientRegistration::new("Sweep bench", "https://client.example/cb")
                    .with_grant_types(vec![GrantType::ClientCredentials]),
            ),
        )
        .unwrap()
        .client
        .id;
    let mut group = c.benchmark_group("sweep");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                rt.block_on(expired_tokens(&*store, &clock, &client));
                clock.advance(time::Duration::seconds(2));
                let started = Instant::now();
                let removed = rt.block_on(provider.sweep(BATCH)).unwrap();
                timed += started.elapsed();
                assert_eq!(removed, ROWS as u64, "every expired token swept");
            }
            timed
        })
    });
    group.finish();
}

fn url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{var} is not set: skipping its sweep benchmark");
            None
        }
    }
}

fn sweeps(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    sweep_rate(c, &rt, "memory", Arc::new(MemoryStore::new()));

    let path = std::env::temp_dir().join(format!("tessera-sweep-{}.db", std::process::id()));
    let sqlite = rt.block_on(async {
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    });
    sweep_rate(c, &rt, "sqlite", Arc::new(sqlite.clone()));
    rt.block_on(sqlite.close());
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }

    if let Some(url) = url("TESSERA_TEST_POSTGRES_URL") {
        let schema = "tessera_bench_sweep";
        let store = rt.block_on(async {
            let store = PgStore::connect_in_schema(&url, schema).await.unwrap();
            store.migrate().await.unwrap();
            store
        });
        sweep_rate(c, &rt, "postgres", Arc::new(store.clone()));
        rt.block_on(async {
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(store.pool())
                .await
                .unwrap();
            store.pool().close().await;
        });
    }
    if let Some(url) = url("TESSERA_TEST_REDIS_URL") {
        let store = rt
            .block_on(RedisStore::connect(&url))
            .unwrap()
            .with_prefix("tessera_bench_sweep:");
        let store = Arc::new(store);
        sweep_rate(c, &rt, "redis", store.clone());
        rt.block_on(store.purge()).unwrap();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    targets = sweeps
}
criterion_main!(benches);
