//! One refresh grant with rotation, chained: each iteration presents the refresh token the
//! previous one returned (HTTP Basic client authentication, a new access and refresh token,
//! the old one retired).
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn refresh_rotation(c: &mut Criterion) {
    let mut group = c.benchmark_group("refresh_rotation");
    common::floor_mint(&mut group);
    common::bench_in_chunks(
        &mut group,
        "rotate",
        20_000,
        |_| {
            let bench = common::bench();
            let refresh = bench.tokens()["refresh_token"].as_str().unwrap().to_owned();
            (bench, refresh)
        },
        |(bench, refresh), _| {
            let body = format!("grant_type=refresh_token&refresh_token={refresh}");
            let request = bench.form(body);
            let response = common::run(bench.provider.token(black_box(&request)));
            assert_eq!(response.status, 200);
            *refresh = common::field(&response.body, "refresh_token").to_owned();
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = refresh_rotation
}
criterion_main!(benches);
