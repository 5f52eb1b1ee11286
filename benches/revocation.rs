//! One revocation request (RFC 7009) of a live access token, HTTP Basic client authentication.
//! Each iteration revokes a different token, minted beforehand outside the timing.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn revocation(c: &mut Criterion) {
    let bench = common::bench();
    bench.fill(common::LIVE_TOKENS);
    let mut group = c.benchmark_group("revocation");
    common::floor_mint(&mut group);
    common::bench_in_chunks(
        &mut group,
        "request",
        10_000,
        |n| {
            let requests: Vec<_> = bench
                .fill_all(n as usize)
                .into_iter()
                .map(|token| bench.form(format!("token={token}")))
                .collect();
            requests
        },
        |requests, i| {
            let response = common::run(bench.provider.revoke(black_box(&requests[i as usize])));
            assert_eq!(response.status, 200);
            black_box(response);
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = revocation
}
criterion_main!(benches);
