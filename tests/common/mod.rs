//! A deterministic provider for flow tests: manual clock, seeded randomness, memory store.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;

use base64::Engine as _;
pub use tessera::danger::Danger;
use tessera::store::MemoryStore;
use tessera::testkit::{ManualClock, SeededEntropy};
pub use tessera::testkit::{RedirectExt, ResponseExt};
use tessera::{
    AuthMethod, ClientRegistration, Config, ConfigBuilder, FormRequest, GrantType, Params,
    Provider, Response, ScopeSet, UserId,
};

pub const REDIRECT: &str = "https://client.example/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct Harness {
    pub provider: Provider,
    pub clock: ManualClock,
    pub store: Arc<MemoryStore>,
}

pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestClient {
    pub fn basic(&self) -> String {
        let creds = format!("{}:{}", self.id, self.secret.as_deref().unwrap_or(""));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(creds)
        )
    }
}

/// The test configuration before it is built: every grant, four scopes, open registration.
pub fn builder() -> ConfigBuilder {
    Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("read write whoami offline_access").unwrap())
        .grant_types(GrantType::ALL)
        .danger(Danger::new().open_registration())
}

/// The test configuration, built.
pub fn config() -> Config {
    builder().build().unwrap()
}

pub fn harness() -> Harness {
    harness_with(config())
}

pub fn harness_with(config: Config) -> Harness {
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(MemoryStore::new());
    let provider = Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(42)))
        .build();
    Harness {
        provider,
        clock,
        store,
    }
}

pub fn params(query: &str) -> Params {
    Params::from_query(query, &tessera::Limits::default()).unwrap()
}

pub fn user() -> UserId {
    UserId::new("alice")
}

impl Harness {
    pub async fn confidential(&self) -> TestClient {
        self.register(
            ClientRegistration::new("Confidential", REDIRECT).with_grant_types(vec![
                GrantType::AuthorizationCode,
                GrantType::ClientCredentials,
                GrantType::TokenExchange,
                GrantType::DeviceCode,
            ]),
        )
        .await
    }

    pub async fn public(&self) -> TestClient {
        self.register(
            ClientRegistration::new("Public", REDIRECT)
                .with_auth_method(AuthMethod::None)
                .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::DeviceCode]),
        )
        .await
    }

    pub async fn register(&self, registration: ClientRegistration) -> TestClient {
        let registered = self.provider.register_client(registration).await.unwrap();
        TestClient {
            id: registered.client.id.as_str().to_owned(),
            secret: registered.secret.map(|s| s.into_secret()),
        }
    }

    /// Runs the authorization endpoint and approves with the requested scopes; returns the code.
    pub async fn code(&self, client: &TestClient, scope: &str) -> String {
        let query = format!(
            "response_type=code&client_id={}&redirect_uri={}&scope={}&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256",
            client.id,
            urlencode(REDIRECT),
            urlencode(scope)
        );
        let pending = self
            .provider
            .authorize(&params(&query))
            .await
            .expect("valid request");
        let scopes = pending.scopes().clone();
        let redirect = pending.approve(&self.provider, user(), &scopes).await;
        assert_eq!(redirect.param("state").as_deref(), Some("xyz"));
        redirect.param("code").expect("a code")
    }

    /// Authorizes the raw `query` (which must be valid), approves every scope it asks for as
    /// [`user`], and returns the code from the redirect.
    pub async fn approve_code(&self, query: &str) -> String {
        let pending = self.provider.authorize(&params(query)).await.unwrap();
        let scopes = pending.scopes().clone();
        pending
            .approve(&self.provider, user(), &scopes)
            .await
            .param("code")
            .unwrap()
    }

    pub async fn token(&self, client: &TestClient, body: &str) -> Response {
        let request = FormRequest::new(body.as_bytes().to_vec());
        let request = match client.secret {
            Some(_) => request.with_authorization(Some(&client.basic())),
            None => request,
        };
        self.provider.token(&request).await
    }

    pub async fn exchange_code(&self, client: &TestClient, code: &str) -> Response {
        let mut body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
            urlencode(REDIRECT)
        );
        if client.secret.is_none() {
            body.push_str(&format!("&client_id={}", client.id));
        }
        self.token(client, &body).await
    }

    /// A full flow: returns the token response JSON.
    pub async fn tokens(&self, client: &TestClient, scope: &str) -> serde_json::Value {
        let code = self.code(client, scope).await;
        let response = self.exchange_code(client, &code).await;
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        response.json_body().unwrap()
    }
}

/// Redeems `code` from `tasks` concurrent tasks; returns how many got 200 (the others must get
/// 400). At most one can; when there were other attempts (replays), no token a winner got may
/// still validate afterwards (RFC 6749 §4.1.2, RFC 9700 §4.5): a replay before the winner stored
/// its tokens makes the winner fail too, so 0 winners is a correct outcome.
pub async fn concurrent_redemptions(
    h: &Arc<Harness>,
    client: &Arc<TestClient>,
    code: &str,
    tasks: usize,
) -> usize {
    let attempts = tasks;
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            let (h, client, code) = (h.clone(), client.clone(), code.to_owned());
            tokio::spawn(async move { h.exchange_code(&client, &code).await })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            200 => won.push(response.json_body().unwrap()),
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    // Only once every attempt is done: a replay may still be in flight when the winner answers.
    if attempts > 1 {
        for body in &won {
            let header = format!("Bearer {}", body["access_token"].as_str().unwrap());
            assert!(
                h.provider
                    .validate_bearer(&tessera::BearerRequest::header(&header), &ScopeSet::new())
                    .await
                    .is_err(),
                "a token of a replayed code is live"
            );
        }
    }
    won.len()
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn error_of(response: &Response) -> String {
    response
        .json_body()
        .and_then(|b| b["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}
