//! The storage conformance kit against the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera::store::MemoryStore;

tessera::store_conformance_tests!(async { Arc::new(MemoryStore::new()) });

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_checks_share_one_store() {
    tessera::testkit::run_all(Arc::new(MemoryStore::new())).await;
}
