//! The physical floor of a provider's work, against which every other bench is a ratio:
//! (a) `floor/mint`: 32 bytes from the CSPRNG, SHA-256, insert into a `HashMap<[u8; 32], u64>`;
//! (b) `floor/check`: SHA-256 of a 43-character token and a lookup in a map of 50,000 entries.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngCore;
use sha2::{Digest, Sha256};

mod common;

fn token43() -> String {
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    URL_SAFE_NO_PAD.encode(random)
}

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    // The map stays between 0 and 50,000 entries, so it never reallocates and never grows
    // past the size the check below uses.
    let mut minted: HashMap<[u8; 32], u64> = HashMap::with_capacity(common::LIVE_TOKENS);
    let mut n = 0u64;
    group.bench_function("mint", |b| {
        b.iter(|| {
            let mut random = [0u8; 32];
            rand::rng().fill_bytes(&mut random);
            let hash: [u8; 32] = Sha256::digest(random).into();
            if minted.len() >= common::LIVE_TOKENS {
                minted.clear();
            }
            n += 1;
            minted.insert(hash, n);
        })
    });

    let tokens: Vec<String> = (0..common::LIVE_TOKENS).map(|_| token43()).collect();
    let map: HashMap<[u8; 32], u64> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (Sha256::digest(t.as_bytes()).into(), i as u64))
        .collect();
    let presented = tokens[tokens.len() / 2].clone();
    assert_eq!(presented.len(), 43);
    group.bench_function("check", |b| {
        b.iter(|| {
            let hash: [u8; 32] = Sha256::digest(black_box(&presented).as_bytes()).into();
            map.get(&hash).copied()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = floor
}
criterion_main!(benches);
