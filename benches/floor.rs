//! The physical floor of a provider's work, against which every other bench is a ratio:
//! (a) `floor/floor_mint`: 32 bytes from the CSPRNG, SHA-256, insert into a
//! `HashMap<[u8; 32], u64>`; (b) `floor/floor_check`: SHA-256 of a 43-character token and a
//! lookup in a map of 50,000 entries.
//!
//! Every other bench also measures the floor it is compared with (`<group>/floor_mint` or
//! `<group>/floor_check`) right before itself: on a shared machine the load changes within one
//! `cargo bench`, and a ratio means most when its two halves ran seconds apart.
// `criterion_group!` and `criterion_main!` define undocumented public functions.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("floor");
    common::floor_mint(&mut group);
    common::floor_check(&mut group);
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = floor
}
criterion_main!(benches);
