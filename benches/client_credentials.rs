//! One client credentials token request (HTTP Basic, a scope), from the form body to the JSON
//! response.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn client_credentials(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_credentials");
    common::floor_mint(&mut group);
    common::bench_in_chunks(
        &mut group,
        "request",
        20_000,
        |_| {
            let bench = common::bench();
            let request = bench.form("grant_type=client_credentials&scope=read".into());
            (bench, request)
        },
        |(bench, request), _| {
            let response = common::run(bench.provider.token(black_box(request)));
            assert_eq!(response.status, 200);
            black_box(response);
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = client_credentials
}
criterion_main!(benches);
