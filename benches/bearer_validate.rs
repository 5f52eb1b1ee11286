//! A resource server's check of a bearer token, with the memory store holding 50,000 live
//! access tokens: a valid token with a required scope (`bearer_validate/valid`), a token whose
//! checksum is wrong (`bearer_validate/malformed`), and throughput on one and two threads
//! (`bearer_validate/threads_1`, `bearer_validate/threads_2`: one iteration is one validation
//! on each thread, so the scaling is `2 × threads_1 / threads_2`).
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{BearerRequest, Provider, ScopeSet};

mod common;

/// `iters` validations on each of `threads` threads started together; the wall time.
fn parallel(
    provider: &Provider,
    headers: &[String],
    required: &ScopeSet,
    threads: usize,
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                // Each thread cycles through its own eight tokens, as different users would.
                let mine = &headers[t * 8..t * 8 + 8];
                scope.spawn(move || {
                    barrier.wait();
                    for i in 0..iters {
                        let request = BearerRequest::header(&mine[i as usize % 8]);
                        let principal =
                            common::run(provider.validate_bearer(black_box(&request), required));
                        black_box(principal.is_ok());
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            worker.join().unwrap();
        }
        start.elapsed()
    })
}

fn bearer_validate(c: &mut Criterion) {
    let bench = common::bench();
    let tokens = bench.fill(common::LIVE_TOKENS);
    let provider = &bench.provider;
    let required = ScopeSet::parse("read").unwrap();
    let headers: Vec<String> = tokens.iter().map(|t| format!("Bearer {t}")).collect();
    let valid = headers[0].clone();
    assert!(
        common::run(provider.validate_bearer(&BearerRequest::header(&valid), &required)).is_ok()
    );
    // Right prefix and length, one character changed: refused by the checksum.
    let mut malformed = valid.clone().into_bytes();
    let at = "Bearer tsr_at_".len() + 10;
    malformed[at] = if malformed[at] == b'A' { b'B' } else { b'A' };
    let malformed = String::from_utf8(malformed).unwrap();
    assert!(
        common::run(provider.validate_bearer(&BearerRequest::header(&malformed), &required))
            .is_err()
    );

    let mut group = c.benchmark_group("bearer_validate");
    group.bench_function("valid", |b| {
        b.iter(|| {
            common::run(
                provider.validate_bearer(&BearerRequest::header(black_box(&valid)), &required),
            )
        })
    });
    group.bench_function("malformed", |b| {
        b.iter(|| {
            common::run(
                provider.validate_bearer(&BearerRequest::header(black_box(&malformed)), &required),
            )
        })
    });
    group.bench_function("threads_1", |b| {
        b.iter_custom(|iters| parallel(provider, &headers, &required, 1, iters))
    });
    group.bench_function("threads_2", |b| {
        b.iter_custom(|iters| parallel(provider, &headers, &required, 2, iters))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bearer_validate
}
criterion_main!(benches);
