//! The provider: configuration, storage, clock and randomness, with one method per endpoint.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditSink, TracingAudit};
use crate::client::{Client, ClientId};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::entropy::{Entropy, OsEntropy};
use crate::error::{OAuthError, StoreError};
use crate::expiry::ExpiryPolicy;
use crate::redirect::{ExactRedirect, RedirectPolicy};
use crate::response::Response;
use crate::store::Storage;

/// An OAuth 2.x authorization server. Cheap to clone (everything is behind `Arc`); share one
/// across request handlers. Several providers (in one process or many) may share one store.
///
/// ```
/// use std::sync::Arc;
/// use tessera::{Config, Provider, store::MemoryStore};
///
/// let config = Config::builder("https://auth.example.com").build()?;
/// let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();
/// assert_eq!(provider.config().issuer(), "https://auth.example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Provider {
    cx: Arc<Context>,
}

/// What a provider decides with: its configuration, storage, clock, randomness and policies.
/// Endpoints hand it to the grants; its fields are reached only through the methods below.
#[derive(Debug)]
pub(crate) struct Context {
    config: Config,
    store: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    redirects: Arc<dyn RedirectPolicy>,
    expiry: Arc<dyn ExpiryPolicy>,
    audit: Arc<dyn AuditSink>,
    subject_tokens: Option<Arc<dyn crate::SubjectTokenValidator>>,
    device_guesses: Arc<dyn crate::AttemptLimiter>,
    device_global: Arc<dyn crate::AttemptLimiter>,
    client_attempts: Arc<dyn crate::AttemptLimiter>,
    offload: Arc<dyn crate::Offload>,
    machine_issuance: Arc<dyn crate::AttemptLimiter>,
    client_metadata_documents: Option<Arc<crate::cimd::ClientMetadataDocuments>>,
    /// Set by [`ProviderBuilder::build`] at the latest.
    pushed_key: Option<crate::pushed::PushedKey>,
    #[cfg(feature = "jose")]
    dpop: Option<crate::dpop::DpopPolicy>,
    #[cfg(feature = "jose")]
    keys: Option<crate::jose::KeySet>,
    #[cfg(feature = "jose")]
    claims: Option<Arc<dyn crate::oidc::ClaimsSource>>,
    #[cfg(feature = "jose")]
    pairwise: Option<crate::subject::PairwiseKey>,
    #[cfg(feature = "jose")]
    client_secret_keys: Option<crate::derived_secret::SecretKeys>,
    #[cfg(feature = "jose")]
    jwt_access_alg: Option<crate::jose::Algorithm>,
}

impl Context {
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn store(&self) -> &dyn Storage {
        &*self.store
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn unix_now(&self) -> i64 {
        self.clock.unix_now()
    }

    /// The client with `id`, unless it is unknown or expired unused ([`Client::unused_until`]):
    /// every endpoint looks clients up through here.
    pub(crate) async fn client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        // The clock is read only for a client that can expire unused (most cannot).
        Ok(self.store.find_client(id).await?.filter(|client| {
            client.unused_until.is_none() || !client.is_expired_unused(self.now())
        }))
    }

    /// Records the client's first use (an authorization, a token): its expiry mark goes, in
    /// one store write per client ever (a client without the mark costs nothing).
    pub(crate) async fn mark_used(&self, client: &Client) -> Result<(), StoreError> {
        if client.unused_until.is_some() {
            self.store.touch_client(&client.id).await?;
        }
        Ok(())
    }

    pub(crate) fn entropy(&self) -> &dyn Entropy {
        &*self.entropy
    }

    pub(crate) fn redirects(&self) -> &dyn RedirectPolicy {
        &*self.redirects
    }

    pub(crate) fn expiry(&self) -> &dyn ExpiryPolicy {
        &*self.expiry
    }

    pub(crate) fn audit(&self, event: AuditEvent) {
        self.audit.record(&event);
    }

    pub(crate) fn subject_tokens(&self) -> Option<&dyn crate::SubjectTokenValidator> {
        self.subject_tokens.as_deref()
    }

    /// Wrong device user codes, per user and per source.
    pub(crate) fn device_guesses(&self) -> &dyn crate::AttemptLimiter {
        &*self.device_guesses
    }

    /// Wrong device user codes, all together.
    pub(crate) fn device_global(&self) -> &dyn crate::AttemptLimiter {
        &*self.device_global
    }

    /// Client secrets and host-validated subject tokens, per client and source.
    pub(crate) fn client_attempts(&self) -> &dyn crate::AttemptLimiter {
        &*self.client_attempts
    }

    pub(crate) fn offload(&self) -> &dyn crate::Offload {
        &*self.offload
    }

    /// Client ID metadata document support, if installed.
    pub(crate) fn client_metadata_documents(
        &self,
    ) -> Option<&crate::cimd::ClientMetadataDocuments> {
        self.client_metadata_documents.as_deref()
    }

    /// What a client makes the provider store without a user, per client.
    pub(crate) fn machine_issuance(&self) -> &dyn crate::AttemptLimiter {
        &*self.machine_issuance
    }

    /// The key pushed authorization requests are sealed under.
    pub(crate) fn pushed_key(&self) -> Option<&crate::pushed::PushedKey> {
        self.pushed_key.as_ref()
    }

    /// How DPoP proofs are checked; `None`: DPoP is off.
    #[cfg(feature = "jose")]
    pub(crate) fn dpop(&self) -> Option<&crate::dpop::DpopPolicy> {
        self.dpop.as_ref()
    }

    /// The keys that sign ID tokens, if any.
    #[cfg(feature = "jose")]
    pub(crate) fn keys(&self) -> Option<&crate::jose::KeySet> {
        self.keys.as_ref()
    }

    /// The host's users' claims, if it supplies them.
    #[cfg(feature = "jose")]
    pub(crate) fn claims_source(&self) -> Option<&dyn crate::oidc::ClaimsSource> {
        self.claims.as_deref()
    }

    /// The key pairwise subjects are derived with, if the host enabled them.
    #[cfg(feature = "jose")]
    pub(crate) fn pairwise_key(&self) -> Option<&crate::subject::PairwiseKey> {
        self.pairwise.as_ref()
    }

    /// The keys `client_secret_jwt` secrets are derived with, if the host enabled the method.
    #[cfg(feature = "jose")]
    pub(crate) fn client_secret_keys(&self) -> Option<&crate::derived_secret::SecretKeys> {
        self.client_secret_keys.as_ref()
    }

    /// Whether `client_secret_jwt` is offered: the host gave its key, and no profile forbids
    /// symmetric client authentication (FAPI 2.0 §5.3.2.1).
    pub(crate) fn offers_client_secret_jwt(&self) -> bool {
        #[cfg(feature = "jose")]
        return self.client_secret_keys.is_some()
            && self
                .config
                .allowed_auth_methods()
                .is_none_or(|allowed| allowed.contains(&crate::AuthMethod::ClientSecretJwt));
        #[cfg(not(feature = "jose"))]
        false
    }

    /// The algorithm JWT access tokens must be signed with, if the host chose one.
    #[cfg(feature = "jose")]
    pub(crate) fn jwt_access_alg(&self) -> Option<crate::jose::Algorithm> {
        self.jwt_access_alg
    }

    /// Whether the provider speaks OpenID Connect: it has signing keys and offers `openid`.
    pub(crate) fn openid(&self) -> bool {
        #[cfg(feature = "jose")]
        let keys = self.keys.is_some();
        #[cfg(not(feature = "jose"))]
        let keys = false;
        keys && self.config.scopes.contains(crate::grant::openid::OPENID)
    }
}

/// Assembles a [`Provider`].
#[derive(Debug)]
#[must_use = "call .build() to get a Provider"]
pub struct ProviderBuilder {
    inner: Context,
}

impl ProviderBuilder {
    /// Sets the clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.inner.clock = clock;
        self
    }

    /// Sets the random source (default: the operating system's CSPRNG).
    pub fn entropy(mut self, entropy: Arc<dyn Entropy>) -> Self {
        self.inner.entropy = entropy;
        self
    }

    /// Sets the redirect URI policy (default: [`ExactRedirect`]).
    pub fn redirect_policy(mut self, policy: Arc<dyn RedirectPolicy>) -> Self {
        self.inner.redirects = policy;
        self
    }

    /// Sets the token lifetime policy (default: the configuration's [`crate::Lifetimes`]).
    pub fn expiry(mut self, policy: Arc<dyn ExpiryPolicy>) -> Self {
        self.inner.expiry = policy;
        self
    }

    /// Sets where security events go (default: `tracing`).
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.inner.audit = sink;
        self
    }

    /// Sets the validator of token-exchange subject tokens (RFC 8693). Without one, token
    /// exchange accepts only this provider's own access tokens.
    pub fn subject_tokens(mut self, validator: Arc<dyn crate::SubjectTokenValidator>) -> Self {
        self.inner.subject_tokens = Some(validator);
        self
    }

    /// Sets the limiter of wrong client secrets, keyed by client and source (see
    /// [`crate::FormRequest::source`]; default: 20 failures per client and source per 15
    /// minutes, then `invalid_client` for that source until the window ends). Share one
    /// limiter between providers that serve the same clients.
    pub fn client_attempts(mut self, limiter: Arc<dyn crate::AttemptLimiter>) -> Self {
        self.inner.client_attempts = limiter;
        self
    }

    /// Sets the limiter of wrong device user codes, consulted per user and per source of a
    /// [`crate::DeviceAttempt`] (default: 10 per user and 10 per source per 15 minutes; then
    /// `slow_down`).
    pub fn device_attempts(mut self, limiter: Arc<dyn crate::AttemptLimiter>) -> Self {
        self.inner.device_guesses = limiter;
        self
    }

    /// Sets the global cap on wrong device user codes, whoever types them (default: 1000 per
    /// 15 minutes, after which everyone gets `slow_down` until the window ends). With user
    /// codes of about 35 bits and a few hundred pending at once, it keeps a distributed
    /// guesser's odds negligible (RFC 8628 §5.1); raise it with the number of pending
    /// authorizations you expect.
    pub fn device_global_attempts(mut self, limiter: Arc<dyn crate::AttemptLimiter>) -> Self {
        self.inner.device_global = limiter;
        self
    }

    /// Sets the per-client limit on what a client can make the provider store without a user:
    /// client-credentials tokens and device authorizations, each counted per client (default:
    /// 600 of each per client per minute; then 429 `temporarily_unavailable` with
    /// `Retry-After`). Every attempt counts: a client should reuse its token until it expires.
    pub fn machine_issuance(mut self, limiter: Arc<dyn crate::AttemptLimiter>) -> Self {
        self.inner.machine_issuance = limiter;
        self
    }

    /// Sets where Argon2 checks of imported client secrets run (default: tokio's blocking pool
    /// with the `tokio` feature, in place without it).
    pub fn offload(mut self, offload: Arc<dyn crate::Offload>) -> Self {
        self.inner.offload = offload;
        self
    }

    /// Enables client ID metadata documents ([`crate::cimd`]): a `client_id` that is an
    /// `https` URL not in the store is fetched with `documents`' fetcher, checked, and stored.
    /// The metadata then advertises `client_id_metadata_document_supported: true`.
    pub fn client_metadata_documents(
        mut self,
        documents: crate::cimd::ClientMetadataDocuments,
    ) -> Self {
        self.inner.client_metadata_documents = Some(Arc::new(documents));
        self
    }

    /// Sets the secret that seals pushed authorization requests (RFC 9126) into their
    /// `request_uri`. Give every instance of one provider the same secret (32 random bytes,
    /// kept like a signing key), so that a request pushed to one is usable at all; by default
    /// each provider draws its own at [`ProviderBuilder::build`], and a `request_uri` works
    /// only at the instance that issued it.
    pub fn pushed_requests_secret(mut self, secret: &[u8; 32]) -> Self {
        self.inner.pushed_key = Some(crate::pushed::PushedKey::new(secret));
        self
    }

    /// Sets how DPoP proofs (RFC 9449) are checked (default: [`DpopPolicy::new`], every
    /// algorithm, no nonces).
    ///
    /// [`DpopPolicy::new`]: crate::dpop::DpopPolicy::new
    #[cfg(feature = "jose")]
    pub fn dpop(mut self, policy: crate::dpop::DpopPolicy) -> Self {
        self.inner.dpop = Some(policy);
        self
    }

    /// Turns DPoP off: `DPoP` headers are ignored and every token is a bearer token.
    #[cfg(feature = "jose")]
    pub fn without_dpop(mut self) -> Self {
        self.inner.dpop = None;
        self
    }

    /// Sets the keys that sign ID tokens and are published at the JWKS endpoint. With them,
    /// and the `openid` scope offered ([`crate::ConfigBuilder::scopes`]), the provider speaks
    /// OpenID Connect (see [`crate::oidc`]). Every instance of one provider must be given the
    /// same key set (built from the same keys and schedules: see
    /// [`KeySet`](crate::jose::KeySet)), whose `max_token_lifetime` covers
    /// [`ID_TOKEN_LIFETIME`](crate::oidc::ID_TOKEN_LIFETIME). ID tokens are signed with RS256
    /// unless a client registered `id_token_signed_response_alg`, so include an RS256 key.
    #[cfg(feature = "jose")]
    pub fn signing_keys(mut self, keys: crate::jose::KeySet) -> Self {
        self.inner.keys = Some(keys);
        self
    }

    /// Sets where users' claims come from (ID tokens and the userinfo endpoint). Without a
    /// source, both carry `sub` only.
    #[cfg(feature = "jose")]
    pub fn claims_source(mut self, source: Arc<dyn crate::oidc::ClaimsSource>) -> Self {
        self.inner.claims = Some(source);
        self
    }

    /// Enables pairwise subject identifiers (OpenID Connect Core §8.1): clients registered
    /// with `subject_type` `pairwise` are told, as `sub`, a keyed hash of their sector (the
    /// host of their redirect URIs) and the user ID, instead of the user ID (see
    /// [`SubjectType`](crate::SubjectType)). Give every instance of one provider the same
    /// secret (32 random bytes, kept like a signing key, never rotated: a new one changes
    /// every pairwise `sub`). Without it, registering a pairwise client is refused and
    /// discovery lists `subject_types_supported` `["public"]` only.
    #[cfg(feature = "jose")]
    pub fn pairwise_subjects(mut self, secret: &[u8; 32]) -> Self {
        self.inner.pairwise = Some(crate::subject::PairwiseKey::new(secret));
        self
    }

    /// Enables `client_secret_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core
    /// §9): clients sign their assertions with HS256 keyed by their client secret. tessera
    /// stores no secret, so such a client's secret is derived from this key, the client ID
    /// and a random salt kept with the client, and recomputed at each assertion (see
    /// [`SecretHash::Derived`](crate::SecretHash::Derived)). Give every instance of one
    /// provider the same secret (32 random bytes, kept like a signing key). Changing it
    /// changes every `client_secret_jwt` secret: keep the old one as
    /// [`ProviderBuilder::client_secret_jwt_previous_key`] until the clients' secrets are
    /// rotated ([`Provider::rotate_client_secret`]). Without it, `client_secret_jwt` is not
    /// advertised and registering such a client is refused (`invalid_client_metadata`); the
    /// FAPI 2.0 preset never offers it (symmetric client authentication).
    #[cfg(feature = "jose")]
    pub fn client_secret_jwt_key(mut self, secret: &[u8; 32]) -> Self {
        self.inner.client_secret_keys = Some(crate::derived_secret::SecretKeys::new(secret));
        self
    }

    /// The key `client_secret_jwt` secrets were derived with before the one of
    /// [`ProviderBuilder::client_secret_jwt_key`] (call that first): secrets derived with it
    /// keep working, and new and rotated secrets are derived with the current key. Without a
    /// current key it does nothing.
    #[cfg(feature = "jose")]
    pub fn client_secret_jwt_previous_key(mut self, secret: &[u8; 32]) -> Self {
        self.inner.client_secret_keys = self
            .inner
            .client_secret_keys
            .take()
            .map(|keys| keys.with_previous(secret));
        self
    }

    /// Sets the algorithm JWT access tokens (RFC 9068) are signed with: `RS256`, `ES256`,
    /// `EdDSA` or `PS256`, which the key set must have an active key for (else token requests for JWTs
    /// fail with `server_error`, logged). By default RS256 (RFC 9068 §2.1), or the key set's
    /// first algorithm when it has no RS256 key. Resource servers' verifiers must allow it
    /// ([`JwtAccessVerifier`](crate::jwt_access::JwtAccessVerifier) allows every algorithm
    /// tessera signs with unless told otherwise).
    #[cfg(feature = "jose")]
    pub fn jwt_access_token_algorithm(mut self, alg: crate::jose::Algorithm) -> Self {
        self.inner.jwt_access_alg = Some(alg);
        self
    }

    /// The provider.
    pub fn build(mut self) -> Provider {
        if self.inner.pushed_key.is_none() {
            let key = crate::pushed::PushedKey::random(&*self.inner.entropy);
            self.inner.pushed_key = Some(key);
        }
        let offers_openid = self
            .inner
            .config
            .scopes
            .contains(crate::grant::openid::OPENID);
        #[cfg(feature = "jose")]
        let has_keys = self.inner.keys.is_some();
        #[cfg(not(feature = "jose"))]
        let has_keys = false;
        if self.inner.config.any_jwt_access_tokens() && !has_keys {
            tracing::warn!(target: "tessera::jwt_access", "JWT access tokens are configured but there are no signing keys: token requests for them fail");
        }
        #[cfg(feature = "jose")]
        if self.inner.config.fapi2() {
            // FAPI 2.0 §5.4: no RS256 proofs either.
            let config = &self.inner.config;
            match self.inner.dpop.take() {
                Some(policy) => {
                    let allowed: Vec<_> = crate::jose::Algorithm::ALL
                        .into_iter()
                        .filter(|alg| {
                            config.profile_allows(*alg)
                                && policy.algorithm_names().contains(&alg.as_str())
                        })
                        .collect();
                    self.inner.dpop = Some(policy.algorithms(&allowed));
                }
                None => {
                    tracing::error!(target: "tessera::profile", "FAPI 2.0 requires sender-constrained tokens but DPoP is off: every token request is refused");
                }
            }
        }
        #[cfg(not(feature = "jose"))]
        if self.inner.config.fapi2() {
            tracing::error!(target: "tessera::profile", "FAPI 2.0 requires DPoP (feature `jose`): every token request is refused");
        }
        if offers_openid && !self.inner.openid() {
            tracing::warn!(target: "tessera::oidc", "the openid scope is offered but there are no signing keys: token requests for it fail");
        }
        Provider {
            cx: Arc::new(self.inner),
        }
    }
}

impl Provider {
    /// Starts building a provider with `config` over `store`.
    pub fn builder(config: Config, store: Arc<dyn Storage>) -> ProviderBuilder {
        let expiry = Arc::new(config.lifetimes.clone());
        ProviderBuilder {
            inner: Context {
                config,
                store,
                clock: Arc::new(SystemClock),
                entropy: Arc::new(OsEntropy),
                redirects: Arc::new(ExactRedirect::default()),
                expiry,
                audit: Arc::new(TracingAudit),
                subject_tokens: None,
                device_guesses: Arc::new(crate::MemoryAttemptLimiter::new(
                    10,
                    time::Duration::minutes(15),
                )),
                device_global: Arc::new(crate::MemoryAttemptLimiter::new(
                    1000,
                    time::Duration::minutes(15),
                )),
                client_attempts: Arc::new(crate::MemoryAttemptLimiter::new(
                    20,
                    time::Duration::minutes(15),
                )),
                offload: crate::offload::default_offload(),
                machine_issuance: Arc::new(crate::MemoryAttemptLimiter::new(
                    600,
                    time::Duration::minutes(1),
                )),
                client_metadata_documents: None,
                pushed_key: None,
                #[cfg(feature = "jose")]
                dpop: Some(crate::dpop::DpopPolicy::new()),
                #[cfg(feature = "jose")]
                keys: None,
                #[cfg(feature = "jose")]
                claims: None,
                #[cfg(feature = "jose")]
                pairwise: None,
                #[cfg(feature = "jose")]
                client_secret_keys: None,
                #[cfg(feature = "jose")]
                jwt_access_alg: None,
            },
        }
    }

    /// What the provider decides with, for the endpoints and the grants they run.
    pub(crate) fn cx(&self) -> &Context {
        &self.cx
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cx.config
    }

    /// The current time by the provider's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.cx.now()
    }

    /// The client with `id`, if registered and not expired unused (see
    /// [`Client::unused_until`]).
    pub async fn client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.cx.client(id).await
    }

    /// Whether the provider can serve now: its store answers ([`TokenStore::ping`]). For a
    /// readiness probe: `Err` ([`StoreError::Unavailable`] while the store cannot be reached)
    /// means requests that need the store are being answered 503 `temporarily_unavailable`.
    /// Not logged here: the error is the caller's.
    ///
    /// [`TokenStore::ping`]: crate::store::TokenStore::ping
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.cx.store.ping().await
    }

    /// Renders a token-endpoint error in the configured dialect.
    pub(crate) fn token_error(&self, error: &OAuthError) -> Response {
        crate::endpoint::render::token_error(&self.cx.config.dialect, error)
    }

    /// The most batches [`Provider::sweep`] runs per kind of record in one call.
    pub const MAX_SWEEP_BATCHES: usize = 1000;

    /// Removes expired codes, tokens, device authorizations, one-time values and clients that
    /// expired unused ([`Client::unused_until`], with all they left) in batches of `batch` records
    /// (each one short store step, so other requests go on meanwhile), kind by kind, until a
    /// batch comes back short (the backlog is gone) or [`Provider::MAX_SWEEP_BATCHES`] batches
    /// ran. Returns how many records went. Call it on a schedule often enough that one call
    /// catches up with what the provider creates between calls: creation is bounded per client
    /// ([`ProviderBuilder::machine_issuance`]), so a call every few seconds keeps any store
    /// small.
    ///
    /// A code, token or device authorization is expired once `now >= expires_at`
    /// ([`TokenRecord::is_expired`]), and stores sweep those whose `expires_at` is before the
    /// instant they are given. Stored times are whole seconds, so while the clock reads whole
    /// seconds (as [`SystemClock`] does) the stores are given the next second: a record goes
    /// in the very sweep that finds it expired, not a second later (at 300 tokens a second,
    /// 300 records fewer left expired). With a finer clock they are given `now`. One-time
    /// values and unused clients are swept at `now`.
    ///
    /// [`TokenRecord::is_expired`]: crate::store::TokenRecord::is_expired
    pub async fn sweep(&self, batch: usize) -> Result<u64, StoreError> {
        let batch = batch.max(1);
        let store = self.cx.store();
        let mut total = 0;
        for kind in 0..5 {
            for _ in 0..Self::MAX_SWEEP_BATCHES {
                let now = self.now();
                // Before `expired` is `expires_at <= now` for whole-second times.
                let expired = if now.nanosecond() == 0 {
                    now + time::Duration::SECOND
                } else {
                    now
                };
                let removed = match kind {
                    0 => store.sweep_codes(expired, batch).await?,
                    1 => store.sweep_tokens(expired, batch).await?,
                    2 => store.sweep_devices(expired, batch).await?,
                    3 => store.sweep_replays(now, batch).await?,
                    _ => store.sweep_clients(now, batch).await?,
                };
                total += removed;
                if removed < batch as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }
}
