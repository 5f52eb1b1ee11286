//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a `client_id`
//! that is an `https` URL names a JSON document the client hosts, holding its metadata. The
//! provider has no record of such a client until it first asks; it then fetches the document,
//! checks it, and keeps the client.
//!
//! The core stays sans-IO: fetching is the [`ClientMetadataFetcher`]'s job, installed with
//! [`crate::ProviderBuilder::client_metadata_documents`]. With the `cimd-fetch` feature,
//! [`HttpMetadataFetcher`] is a default one that refuses private, loopback, link-local and
//! other non-public addresses (in any spelling), pins the address it checked, follows no
//! redirects, and bounds size and time.
//!
//! ```
//! use std::sync::Arc;
//! use tessera::cimd::{ClientMetadataDocuments, ClientMetadataFetcher, FetchError, FetchPolicy, FetchedDocument};
//! use tessera::{Config, Provider, store::MemoryStore};
//!
//! #[derive(Debug)]
//! struct Fixed;
//! #[tessera::async_trait]
//! impl ClientMetadataFetcher for Fixed {
//!     async fn fetch(&self, url: &str, _: &FetchPolicy) -> Result<FetchedDocument, FetchError> {
//!         let doc = serde_json::json!({
//!             "client_id": url, "client_name": "Example", "token_endpoint_auth_method": "none",
//!             "redirect_uris": ["https://app.example/cb"],
//!         });
//!         Ok(FetchedDocument::new(doc.to_string().into_bytes()))
//!     }
//! }
//!
//! let config = Config::builder("https://auth.example.com").build()?;
//! let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
//!     .client_metadata_documents(ClientMetadataDocuments::new(Arc::new(Fixed)))
//!     .build();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where the client lives
//! A resolved client is kept in the store, like a registered one: its grants, codes, tokens
//! and consents refer to it there (the PostgreSQL schema enforces it), and the user's list of
//! authorized applications names it. The document itself, once fetched and checked, is kept
//! in a bounded in-process cache for as long as its `Cache-Control: max-age` says (clamped to
//! [`ClientMetadataDocuments::with_cache_lifetime`]'s bounds): within that time a request
//! costs no fetch; after it, the next request fetches again and the stored client is updated
//! from the new document. A document that can no longer be fetched, or no longer passes the
//! checks, refuses its client like an unknown `client_id`.

#[cfg(feature = "cimd-fetch")]
mod fetch;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

#[cfg(feature = "cimd-fetch")]
#[cfg_attr(docsrs, doc(cfg(feature = "cimd-fetch")))]
pub use fetch::HttpMetadataFetcher;

use crate::client::Client;
use crate::error::StoreError;

/// What a fetcher must honour for one fetch; the provider sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchPolicy {
    max_bytes: usize,
    timeout: Duration,
    allow_loopback: bool,
}

impl FetchPolicy {
    /// A policy: at most `max_bytes`, within `timeout`, public addresses only.
    pub fn new(max_bytes: usize, timeout: Duration) -> Self {
        Self {
            max_bytes,
            timeout,
            allow_loopback: false,
        }
    }

    /// Also allows loopback addresses and plain `http` (what
    /// [`crate::danger::Danger::allow_loopback_client_metadata`] sets).
    pub fn with_loopback(mut self) -> Self {
        self.allow_loopback = true;
        self
    }

    /// The largest document accepted, in bytes (the body, after any decoding).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The most the whole fetch may take: resolution, connection, TLS and body.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether loopback addresses and plain `http` are allowed
    /// ([`crate::danger::Danger::allow_loopback_client_metadata`], for tests).
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// Whether the fetcher may connect to `ip`: only public unicast addresses, never a private,
    /// loopback (unless [`FetchPolicy::allows_loopback`]), link-local, multicast, unspecified,
    /// shared (CGNAT), documentation, benchmarking or reserved one, nor an IPv6 address that
    /// embeds an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo).
    pub fn permits_address(&self, ip: IpAddr) -> bool {
        public_address(ip) || (self.allow_loopback && ip.is_loopback())
    }
}

/// Whether `ip` is a public unicast address.
fn public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => public_v4(ip),
        IpAddr::V6(ip) => public_v6(ip),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), RFC 6598
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Global unicast is 2000::/3; everything else (loopback, unspecified, IPv4-mapped and
    // -compatible, NAT64 64:ff9b::/96, discard, unique local, link-local, site-local,
    // multicast) is outside it.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    let ietf = s[0] == 0x2001 && s[1] < 0x0200; // IETF protocol assignments, Teredo included
    let documentation = (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xfff0) == 0x3ff0;
    let six_to_four = s[0] == 0x2002; // embeds an IPv4 address
    !(ietf || documentation || six_to_four)
}

/// A fetched document: its body and how long the fetcher was told it may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedDocument {
    /// The body (a JSON object).
    pub body: Vec<u8>,
    /// The lifetime the response allowed (`Cache-Control: max-age`; zero for `no-store` or
    /// `no-cache`), if it said.
    pub max_age: Option<Duration>,
}

impl FetchedDocument {
    /// A document with no caching information.
    pub fn new(body: Vec<u8>) -> Self {
        Self {
            body,
            max_age: None,
        }
    }

    /// Sets the lifetime the response allowed.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL or the address it resolves to is not one the policy lets the fetcher reach
    /// (not `https`, a non-public address, ...).
    #[error("the document's address is refused: {0}")]
    Refused(String),
    /// The body is larger than [`FetchPolicy::max_bytes`].
    #[error("the document is larger than the limit")]
    TooLarge,
    /// The fetch took longer than [`FetchPolicy::timeout`].
    #[error("fetching the document timed out")]
    Timeout,
    /// The server answered with a redirect, which is never followed.
    #[error("the document's URL redirects, and redirects are not followed")]
    Redirect,
    /// The server answered with another status than 200.
    #[error("the document's server answered with status {0}")]
    Status(u16),
    /// The connection failed (resolution, TCP, TLS, HTTP).
    #[error("fetching the document failed: {0}")]
    Network(String),
}

/// Fetches client ID metadata documents. Implement it to fetch through the host's own HTTP
/// stack, or use [`HttpMetadataFetcher`] (feature `cimd-fetch`). An implementation must honour
/// the [`FetchPolicy`]: connect only to addresses it permits (checked after resolution, on the
/// address actually connected to), follow no redirects, and stop at its size and time bounds.
#[async_trait]
pub trait ClientMetadataFetcher: Send + Sync + std::fmt::Debug {
    /// Fetches the document at `url` (an `https` URL the provider has checked the form of).
    async fn fetch(&self, url: &str, policy: &FetchPolicy) -> Result<FetchedDocument, FetchError>;
}

/// Client ID metadata document support: the fetcher and the cache of checked documents.
/// Install it with [`crate::ProviderBuilder::client_metadata_documents`]; the metadata then
/// advertises `client_id_metadata_document_supported: true`.
#[derive(Debug)]
#[must_use]
pub struct ClientMetadataDocuments {
    pub(crate) fetcher: Arc<dyn ClientMetadataFetcher>,
    capacity: usize,
    min_ttl: Duration,
    max_ttl: Duration,
    pub(crate) timeout: Duration,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    client: Client,
    expires_at: OffsetDateTime,
    used: u64,
}

impl ClientMetadataDocuments {
    /// The largest document accepted: 64 KiB.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Documents fetched with `fetcher`; at most 1000 cached, each for its `max-age` within 1
    /// minute to 1 day; fetches bounded to 5 seconds.
    pub fn new(fetcher: Arc<dyn ClientMetadataFetcher>) -> Self {
        Self {
            fetcher,
            capacity: 1000,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(5),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Sets the most documents cached at once (at least 1); the least recently used goes first.
    pub fn with_cache_entries(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Sets how long a document stays cached: its `max-age`, but at least `min` (also when it
    /// gave none, or said `no-store`) and at most `max`.
    pub fn with_cache_lifetime(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max.max(min);
        self
    }

    /// Sets the most one fetch may take (default 5 seconds).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many documents are cached now (never more than the capacity).
    pub fn cached(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn cached_client(&self, url: &str, now: OffsetDateTime) -> Option<Client> {
        let mut cache = self.lock();
        cache.tick += 1;
        let tick = cache.tick;
        match cache.entries.get_mut(url) {
            Some(entry) if entry.expires_at > now => {
                entry.used = tick;
                Some(entry.client.clone())
            }
            Some(_) => {
                cache.entries.remove(url);
                None
            }
            None => None,
        }
    }

    pub(crate) fn remember(
        &self,
        url: &str,
        client: Client,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        let mut cache = self.lock();
        cache.tick += 1;
        let tick = cache.tick;
        if !cache.entries.contains_key(url) && cache.entries.len() >= self.capacity {
            cache.entries.retain(|_, e| e.expires_at > now);
            while cache.entries.len() >= self.capacity {
                let Some(oldest) = cache
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.used)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                cache.entries.remove(&oldest);
            }
        }
        cache.entries.insert(
            url.to_owned(),
            Entry {
                client,
                expires_at,
                used: tick,
            },
        );
    }

    pub(crate) fn ttl(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(Duration::ZERO)
            .clamp(self.min_ttl, self.max_ttl)
    }
}

/// Why a client could not be resolved.
#[derive(Debug)]
pub(crate) enum ResolveError {
    /// The store failed.
    Store(StoreError),
    /// The client ID names a document that could not be fetched or was refused.
    Document(String),
}

impl From<StoreError> for ResolveError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Whether `id` has the form of a client ID metadata document URL, and the URL if so:
/// `https` (or `http` on a loopback host when `allow_loopback`), with a host, no user
/// information or fragment, and written exactly as its parsed form (so no dot segments, no
/// default port, no upper-case host: the document's `client_id` must equal it exactly).
pub(crate) fn document_url(id: &str, allow_loopback: bool) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(id).map_err(|_| "the client_id is not a URL")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                _ => false,
            };
            if !loopback {
                return Err("a client_id URL must be https");
            }
        }
        _ => return Err("a client_id URL must be https"),
    }
    if url.host().is_none() {
        return Err("a client_id URL must have a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a client_id URL must not have user information");
    }
    if url.fragment().is_some() {
        return Err("a client_id URL must not have a fragment");
    }
    if url.path() == "/" {
        return Err("a client_id URL must have a path");
    }
    if url.as_str() != id {
        return Err(
            "a client_id URL must be in normal form (no dot segments, default port or upper-case host)",
        );
    }
    Ok(url)
}

/// Whether a client ID is meant as a document URL (then it is resolved as one, or refused).
pub(crate) fn names_a_document(id: &str) -> bool {
    let lower = |prefix: &str| {
        id.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    lower("https://") || lower("http://")
}

pub(crate) fn refused(why: impl std::fmt::Display) -> ResolveError {
    ResolveError::Document(format!("the client ID metadata document is refused: {why}"))
}

#[cfg(test)]
mod tests;
