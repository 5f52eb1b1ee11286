//! A resource server's check of a bearer token, with the memory store holding 50,000 live
//! access tokens: a valid token with a required scope (`bearer_validate/valid`), a token whose
//! checksum is wrong (`bearer_validate/malformed`), and throughput on one and two threads
//! (`bearer_validate/threads_1`, `bearer_validate/threads_2`: one iteration is one validation
//! on each thread, so the scaling is `2 × threads_1 / threads_2`).
//!
//! The machine is shared: when other processes keep both cores busy, two threads cannot run two
//! at a time and the wall-clock scaling says nothing about the library. `cpu_1` and `cpu_2` time
//! the same work in CPU time on each thread (`CLOCK_THREAD_CPUTIME_ID`), the longest thread
//! counting: what the wall clock would show with a core per thread. Contention (lock words and
//! reference counts bouncing between cores) still shows there, as more CPU time per validation.
//! `floor_threads_1` and `floor_threads_2` run floor (b) the same way, as the control: how far
//! two threads with nothing shared scale on this machine at all.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::{BearerRequest, ScopeSet};

mod common;

/// This thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`).
fn cpu_time() -> Option<Duration> {
    cpu_time::ThreadTime::try_now()
        .ok()
        .map(|t| t.as_duration())
}

/// `iters` calls of `work(thread, i)` on each of `threads` threads started together; the wall
/// time, or with `cpu`, the longest CPU time of one thread.
fn parallel(work: &(dyn Fn(usize, u64) + Sync), threads: usize, iters: u64, cpu: bool) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let start = cpu_time();
                    for i in 0..iters {
                        work(t, i);
                    }
                    start
                        .zip(cpu_time())
                        .map(|(start, end)| end.saturating_sub(start))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let cpu_times: Vec<Option<Duration>> =
            workers.into_iter().map(|w| w.join().unwrap()).collect();
        let wall = start.elapsed();
        if cpu {
            cpu_times
                .into_iter()
                .map(|t| t.unwrap_or(wall))
                .max()
                .unwrap_or(wall)
        } else {
            wall
        }
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
    common::floor_check(&mut group);
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
    // Each thread cycles through its own eight tokens, as different users would.
    let validate = |t: usize, i: u64| {
        let request = BearerRequest::header(&headers[t * 8 + i as usize % 8]);
        let principal = common::run(provider.validate_bearer(black_box(&request), &required));
        black_box(principal.is_ok());
    };
    // The control: floor (b) itself on one and two threads (a read-only map, no lock, nothing
    // shared written), which shows how far this machine's two vCPUs scale at all.
    let (floor_tokens, floor_map) = common::floor_map();
    let floor = |t: usize, i: u64| {
        black_box(common::floor_check_one(
            &floor_map,
            black_box(&floor_tokens[t * 8 + i as usize % 8]),
        ));
    };
    for (name, threads, cpu) in [
        ("threads_1", 1, false),
        ("threads_2", 2, false),
        ("cpu_1", 1, true),
        ("cpu_2", 2, true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| parallel(&validate, threads, iters, cpu))
        });
    }
    for (name, threads) in [("floor_threads_1", 1), ("floor_threads_2", 2)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| parallel(&floor, threads, iters, false))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bearer_validate
}
criterion_main!(benches);
