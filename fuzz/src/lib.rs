//! Shared fixtures and invariant checks for the fuzz targets.
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use tessera::testkit::{ManualClock, SeededEntropy};
use tessera::store::MemoryStore;
use tessera::testkit::{RedirectExt as _, ResponseExt as _};
use tessera::{
    AuthMethod, ClientRegistration, Config, FormRequest, GrantType, MemoryAttemptLimiter, Params, Provider, Response, ScopeSet, UserId,
};

/// Every error code the library may put on the wire (RFC 6749, 6750, 7009, 7591, 8628, 8693).
pub const RFC_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "invalid_token",
    "insufficient_scope",
    "unsupported_token_type",
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
    "authorization_pending",
    "slow_down",
    "expired_token",
    "invalid_target",
    // The OAuth Extensions Error registry's codes tessera answers with: request objects and
    // pushed requests (OIDC Core §3.1.2.6, RFC 9101 §6.2, RFC 9126 §2.3), `prompt`
    // (OIDC Core §3.1.2.6), DPoP (RFC 9449 §12.2).
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "login_required",
    "consent_required",
    "interaction_required",
    "account_selection_required",
    "invalid_dpop_proof",
    "use_dpop_nonce",
];

/// Runs a future that never waits on I/O (the memory store's futures are always ready).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// RFC 6749 §5.2: `error_description` is `1*( %x20-21 / %x23-5B / %x5D-7E )`.
pub fn assert_description(description: &str) {
    assert!(!description.is_empty(), "empty error_description");
    assert!(
        description.bytes().all(|b| b == 0x20
            || b == 0x21
            || (0x23..=0x5B).contains(&b)
            || (0x5D..=0x7E).contains(&b)),
        "error_description outside the RFC 6749 charset: {description:?}"
    );
}

/// An error code is registered and its description (if any) has the RFC charset.
pub fn assert_error(code: &str, description: Option<&str>) {
    assert!(
        RFC_CODES.contains(&code),
        "unregistered error code {code:?}"
    );
    if let Some(description) = description {
        assert_description(description);
    }
}

/// A JSON error body holds a registered code and a well-formed description.
pub fn assert_error_body(response: &Response) {
    let body = response
        .json_body()
        .unwrap_or_else(|| panic!("status {} with a non-JSON body", response.status));
    let code = body["error"].as_str().expect("error field");
    assert_error(code, body["error_description"].as_str());
    assert_eq!(response.header("cache-control"), Some("no-store"));
}

/// A provider with one confidential and one public client, a live access token and a refresh
/// token, shared by every run of a target.
pub struct World {
    /// The provider.
    pub provider: Provider,
    /// Its clock.
    pub clock: ManualClock,
    /// A confidential client's ID.
    pub confidential_id: String,
    /// Its secret.
    pub confidential_secret: String,
    /// A public client's ID.
    pub public_id: String,
    /// An access token of the confidential client, scope `read`.
    pub access_token: String,
    /// A refresh token of the public client.
    pub refresh_token: String,
}

/// The registered redirect URI of both clients.
pub const REDIRECT: &str = "https://client.example/cb";
/// A PKCE verifier and its S256 challenge (RFC 7636 appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The S256 challenge of [`VERIFIER`].
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The shared world.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| block_on(build_world()))
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn build_world() -> World {
    let config = Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read write offline_access").expect("config"))
        .grant_types(GrantType::ALL)
        .danger(tessera::danger::Danger::new().open_registration())
        .build()
        .expect("config");
    let clock =
        ManualClock::new(time::OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("time"));
    let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(7)))
        // The clock never moves: with the default limit, the fuzzer's wrong guesses would lock
        // the confidential client out and hide every grant behind `invalid_client`.
        .client_attempts(Arc::new(MemoryAttemptLimiter::new(
            u32::MAX,
            time::Duration::minutes(1),
        )))
        .build();
    let confidential = provider
        .register_client(
            ClientRegistration::new("Confidential", REDIRECT).with_grant_types(vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::ClientCredentials,
                GrantType::TokenExchange,
                GrantType::DeviceCode,
            ]),
        )
        .await
        .expect("register");
    let public = provider
        .register_client(
            ClientRegistration::new("Public", REDIRECT)
                .with_auth_method(AuthMethod::None)
                .with_grant_types(vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::DeviceCode,
                ]),
        )
        .await
        .expect("register");
    let confidential_id = confidential.client.id.as_str().to_owned();
    let confidential_secret = confidential.secret.expect("secret").into_secret();
    let public_id = public.client.id.as_str().to_owned();
    let basic = basic(&confidential_id, &confidential_secret);
    let response = provider
        .token(
            &FormRequest::new(b"grant_type=client_credentials&scope=read".to_vec())
                .with_authorization(Some(&basic)),
        )
        .await;
    let access_token = response.json_body().expect("json")["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let query = format!(
        "response_type=code&client_id={public_id}&redirect_uri={}&scope=read%20offline_access&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(REDIRECT)
    );
    let pending = provider
        .authorize(&Params::from_query(&query, &Default::default()).expect("params"))
        .await
        .expect("authorize");
    let scopes = pending.scopes().clone();
    let code = pending
        .approve(&provider, UserId::new("alice"), &scopes)
        .await
        .param("code")
        .expect("code");
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={public_id}",
        enc(REDIRECT)
    );
    let response = provider.token(&FormRequest::new(body.into_bytes())).await;
    let refresh_token = response.json_body().expect("json")["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    World {
        provider,
        clock,
        confidential_id,
        confidential_secret,
        public_id,
        access_token,
        refresh_token,
    }
}

/// An HTTP Basic header for `id:secret` (form-encoded halves, RFC 6749 §2.3.1).
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Replaces the placeholders `@C` (confidential client ID), `@P` (public client ID), `@A` (a
/// live access token) and `@R` (a refresh token) so the fuzzer reaches past the lookups.
pub fn expand(world: &World, text: &str) -> String {
    text.replace("@C", &world.confidential_id)
        .replace("@P", &world.public_id)
        .replace("@A", &world.access_token)
        .replace("@R", &world.refresh_token)
}
