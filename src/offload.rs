//! Where CPU-heavy work runs: Argon2 verification of an imported client secret takes tens of
//! milliseconds by design, too long to hold an async worker thread.

use std::fmt;

/// A job that answers yes or no (a secret verification).
pub type Job = Box<dyn FnOnce() -> bool + Send + 'static>;

/// Runs CPU-heavy jobs where the host wants them. The provider sends it only Argon2
/// verifications of imported client secrets; generated secrets are checked in microseconds,
/// in place.
#[async_trait::async_trait]
pub trait Offload: Send + Sync + fmt::Debug {
    /// Runs `job` and returns its answer.
    async fn run(&self, job: Job) -> bool;
}

/// Runs jobs in place, on the calling task: the default without the `tokio` feature.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct Inline;

#[async_trait::async_trait]
impl Offload for Inline {
    async fn run(&self, job: Job) -> bool {
        job()
    }
}

/// Runs jobs on tokio's blocking thread pool (`spawn_blocking`), or in place when called
/// outside a tokio runtime: the default with the `tokio` feature.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct TokioBlocking;

#[cfg(feature = "tokio")]
#[async_trait::async_trait]
impl Offload for TokioBlocking {
    async fn run(&self, job: Job) -> bool {
        match tokio::runtime::Handle::try_current() {
            // A job that panicked answers no: the secret is refused, never accepted.
            Ok(handle) => handle.spawn_blocking(job).await.unwrap_or(false),
            Err(_) => job(),
        }
    }
}

/// The default offload for this build.
pub(crate) fn default_offload() -> std::sync::Arc<dyn Offload> {
    #[cfg(feature = "tokio")]
    {
        std::sync::Arc::new(TokioBlocking)
    }
    #[cfg(not(feature = "tokio"))]
    {
        std::sync::Arc::new(Inline)
    }
}
