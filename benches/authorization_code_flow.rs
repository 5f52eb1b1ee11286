//! One whole confidential-client authorization code flow with PKCE through the public API:
//! parse the authorization request from its query, validate it, approve it (code and consent
//! stored), build the redirect, read the code from it, parse the token request with HTTP Basic
//! credentials, authenticate the client, redeem the code, issue an access and a refresh token,
//! and serialise the JSON response.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::testkit::RedirectExt as _;
use tessera::{Params, UserId};

mod common;

fn authorization_code_flow(c: &mut Criterion) {
    let mut group = c.benchmark_group("authorization_code_flow");
    common::floor_mint(&mut group);
    let redirect = common::urlencode(common::REDIRECT);
    common::bench_in_chunks(
        &mut group,
        "flow",
        20_000,
        |_| {
            let bench = common::bench();
            let query = bench.authorize_query();
            (bench, query)
        },
        |(bench, query), _| {
            let provider = &bench.provider;
            let params = Params::from_query(black_box(query), &Default::default()).unwrap();
            let pending = common::run(provider.authorize(&params)).unwrap();
            let scopes = pending.scopes().clone();
            let location = common::run(pending.approve(provider, UserId::new("alice"), &scopes));
            let code = location.param("code").unwrap();
            let body = format!(
                "grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={}",
                common::VERIFIER
            );
            let request = bench.form(body);
            let response = common::run(provider.token(&request));
            assert_eq!(response.status, 200);
            black_box(response);
        },
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = authorization_code_flow
}
criterion_main!(benches);
