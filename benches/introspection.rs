//! One introspection request (RFC 7662) for a live access token, HTTP Basic client
//! authentication, with the store holding 50,000 live tokens.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

use tessera::testkit::ResponseExt as _;

fn introspection(c: &mut Criterion) {
    let bench = common::bench();
    let tokens = bench.fill(common::LIVE_TOKENS);
    let request = bench.form(format!("token={}", tokens[0]));
    let check = common::run(bench.provider.introspect(&request));
    assert_eq!(check.json_body().unwrap()["active"], true);
    let mut group = c.benchmark_group("introspection");
    common::floor_check(&mut group);
    group.bench_function("request", |b| {
        b.iter(|| common::run(bench.provider.introspect(black_box(&request))))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = introspection
}
criterion_main!(benches);
