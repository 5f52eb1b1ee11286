//! A strict relying party that no one here wrote, the `openidconnect` crate, against a
//! provider served over loopback HTTP by the `axum` feature's router: discovery, the code
//! flow with PKCE and a nonce, ID token validation (signature from `jwks_uri`, `iss`, `aud`,
//! `exp`, `nonce`, `at_hash`) and UserInfo; a refresh, its ID token and the `claims` request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tessera::jose::{Algorithm, KeySchedule, KeySet, SigningKey};
use tessera::oidc::{ClaimsRequest, ClaimsSource, UserClaims};
use tessera::store::{Authentication, MemoryStore};
use tessera::{
    AuthorizeError, ClientRegistration, Config, PendingAuthorization, Provider, RegisteredClient,
    ScopeSet, StoreError, UserId, async_trait,
};

const REDIRECT: &str = "http://127.0.0.1:9/cb";

#[derive(Debug)]
struct Demo;

#[async_trait]
impl ClaimsSource for Demo {
    async fn claims(&self, _: &ClaimsRequest<'_>) -> Result<Option<UserClaims>, StoreError> {
        Ok(Some(
            UserClaims::new()
                .with_string("preferred_username", "demo")
                .with_string("name", "Demo User")
                .with_string("email", "demo@example.com")
                .with_bool("email_verified", true),
        ))
    }
}

/// The host's authorization endpoint, reduced to a user who is always signed in and
/// always consents.
async fn authorize(
    State(provider): State<Provider>,
    request: Result<PendingAuthorization, AuthorizeError>,
) -> Response {
    match request {
        Ok(pending) => {
            let scopes = pending.scopes().clone();
            let signed_in = Authentication::new(provider.now() - time::Duration::seconds(30))
                .with_amr(vec!["pwd".into()]);
            pending
                .approve_authenticated(&provider, UserId::new("demo-1"), &scopes, signed_in)
                .await
                .into_response()
        }
        Err(AuthorizeError::Untrusted(error)) => error.into_response(),
        Err(other) => panic!("{other:?}"),
    }
}

async fn serve() -> (String, Provider) {
    serve_with(|builder| builder).await
}

async fn serve_with(
    tweak: impl FnOnce(tessera::ProviderBuilder) -> tessera::ProviderBuilder,
) -> (String, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let config = Config::builder(&issuer)
        .scopes(ScopeSet::parse("openid profile email offline_access").unwrap())
        .build()
        .unwrap();
    let rs = SigningKey::generate(Algorithm::Rs256).unwrap();
    let es = SigningKey::generate(Algorithm::Es256).unwrap();
    let keys = KeySet::builder(time::Duration::hours(1))
        .key(rs, KeySchedule::always())
        .key(es, KeySchedule::always())
        .build()
        .unwrap();
    let provider = tweak(
        Provider::builder(config, Arc::new(MemoryStore::new()))
            .signing_keys(keys)
            .claims_source(Arc::new(Demo)),
    )
    .build();
    let app = tessera::axum::Routes::new(&provider)
        .authorization(get(authorize))
        .into_router()
        .with_state(provider.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    (issuer, provider)
}

/// The relying party's HTTP client: redirects are the test's to look at, not to follow.
fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The provider at `issuer` as the relying party discovers it.
async fn discover(issuer: &str, http: &openidconnect::reqwest::Client) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned()).unwrap(), http)
        .await
        .unwrap()
}

/// The relying party as it is once discovery has set its endpoints.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party for the `registered` confidential client, redirecting to `REDIRECT`.
fn rp(metadata: CoreProviderMetadata, registered: RegisteredClient) -> Rp {
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client.id.as_str().to_owned()),
        Some(ClientSecret::new(registered.secret.unwrap().into_secret())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

/// The query parameter `name` of the redirect in `response`'s `Location`.
fn param_of(response: &openidconnect::reqwest::Response, name: &str) -> Option<String> {
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    location
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The token request for `code`, with the PKCE `verifier`.
async fn exchange(
    client: &Rp,
    http: &openidconnect::reqwest::Client,
    code: String,
    verifier: PkceCodeVerifier,
) -> CoreTokenResponse {
    client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_openidconnect_crate_signs_in_and_reads_userinfo() {
    let (issuer, provider) = serve().await;
    let registered = provider
        .register_client(ClientRegistration::new("RP", REDIRECT))
        .await
        .unwrap();
    let http = rp_http();

    // Discovery, then the JWK Set it names.
    let metadata = discover(&issuer, &http).await;
    let client = rp(metadata, registered);

    // The authorization request, with PKCE and a nonce.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302, "{:?}", response.text().await);
    let param = |name: &str| param_of(&response, name);
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(issuer.as_str()));

    // The token request, and the ID token validated by the relying party.
    let tokens = exchange(&client, &http, param("code").unwrap(), verifier).await;
    let id_token = tokens.id_token().expect("an id_token");
    let id_verifier = client.id_token_verifier();
    let claims: &CoreIdTokenClaims = id_token.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), "demo-1");
    assert_eq!(claims.issuer().as_str(), issuer);
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("demo")
    );
    assert_eq!(claims.email().map(|e| e.as_str()), Some("demo@example.com"));
    assert_eq!(claims.email_verified(), Some(true));
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    // A wrong nonce is refused by the relying party.
    assert!(
        id_token
            .claims(&id_verifier, &Nonce::new("other".into()))
            .is_err()
    );

    // UserInfo, for the expected subject.
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), "demo-1");
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Demo User")
    );
    assert_eq!(info.email().map(|e| e.as_str()), Some("demo@example.com"));

    // POST to userinfo with the token in a form body answers the same (RFC 6750 §2.2).
    let userinfo_url = format!("{issuer}/userinfo");
    let posted: serde_json::Value = http
        .post(&userinfo_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={}", tokens.access_token().secret()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["sub"], "demo-1");
    let refused = http.get(&userinfo_url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
}

/// A pairwise client that asked for signed userinfo responses, through the same strict RP:
/// the ID token's `sub` is not the user ID, and the RP verifies the `application/jwt`
/// userinfo response (signature, `iss`, `aud`) and that its `sub` is the ID token's.
#[tokio::test]
async fn the_openidconnect_crate_accepts_pairwise_subjects_and_signed_userinfo() {
    let (issuer, provider) = serve_with(|builder| builder.pairwise_subjects(&[5; 32])).await;
    let registered = provider
        .register_client(
            ClientRegistration::new("RP", REDIRECT).with_metadata(
                tessera::ClientMetadata::default()
                    .with_subject_type(tessera::SubjectType::Pairwise)
                    .with_userinfo_signed_response_alg("RS256"),
            ),
        )
        .await
        .unwrap();
    let http = rp_http();
    let metadata = discover(&issuer, &http).await;
    let subject_types: Vec<String> = metadata
        .subject_types_supported()
        .iter()
        .map(|t| {
            serde_json::to_value(t)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(subject_types, ["public", "pairwise"]);
    let client = rp(metadata, registered);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = param_of(&response, "code").unwrap();
    let tokens = exchange(&client, &http, code, verifier).await;
    let id_verifier = client.id_token_verifier();
    let claims: &CoreIdTokenClaims = tokens
        .id_token()
        .expect("an id_token")
        .claims(&id_verifier, &nonce)
        .unwrap();
    let sub = claims.subject().clone();
    assert_ne!(sub.as_str(), "demo-1");

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .unwrap()
        .require_signed_response(true)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), &sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some("demo@example.com"));
    // A signed response is not taken for another subject.
    let wrong: Result<CoreUserInfoClaims, _> = client
        .user_info(
            tokens.access_token().clone(),
            Some(openidconnect::SubjectIdentifier::new("demo-1".into())),
        )
        .unwrap()
        .request_async(&http)
        .await;
    assert!(wrong.is_err());
}

/// OIDC Core §12.2 and §5.5 through the same strict RP: the ID token of a refresh verifies
/// (signature, `iss`, `aud`, `exp`, `at_hash`) with no `nonce` (the sign-in's nonce is
/// refused), keeps the sign-in's `sub`, `auth_time` and `amr`, and has what the `claims`
/// request's `id_token` member asks for; userinfo with the refreshed access token has what
/// its `userinfo` member asks for (scopes releasing neither).
#[tokio::test]
async fn the_openidconnect_crate_verifies_a_refreshed_id_token_and_its_userinfo() {
    let (issuer, provider) = serve().await;
    let registered = provider
        .register_client(ClientRegistration::new("RP", REDIRECT))
        .await
        .unwrap();
    let http = rp_http();
    let metadata = discover(&issuer, &http).await;
    let client = rp(metadata, registered);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param(
            "claims",
            r#"{"userinfo":{"email":null},"id_token":{"name":{"essential":true}}}"#,
        )
        .set_pkce_challenge(challenge)
        .url();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = param_of(&response, "code").unwrap();
    let tokens = exchange(&client, &http, code, verifier).await;
    let id_verifier = client.id_token_verifier();
    let first: CoreIdTokenClaims = tokens
        .id_token()
        .expect("an id_token")
        .claims(&id_verifier, &nonce)
        .unwrap()
        .clone();
    assert!(first.auth_time().is_some());
    assert!(first.name().is_some());
    assert!(first.email().is_none());

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let id_token = refreshed.id_token().expect("a refreshed id_token");
    let without_nonce = |nonce: Option<&Nonce>| match nonce {
        None => Ok(()),
        Some(_) => Err("a refreshed ID token has a nonce".to_owned()),
    };
    let claims = id_token.claims(&id_verifier, without_nonce).unwrap();
    assert!(id_token.claims(&id_verifier, &nonce).is_err());
    assert_eq!(claims.subject(), first.subject());
    assert_eq!(claims.issuer(), first.issuer());
    assert_eq!(claims.audiences(), first.audiences());
    assert_eq!(claims.auth_time(), first.auth_time());
    assert_eq!(claims.auth_method_refs(), first.auth_method_refs());
    assert!(claims.auth_method_refs().is_some());
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Demo User")
    );
    assert!(claims.email().is_none());
    let expected = AccessTokenHash::from_token(
        refreshed.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));

    let info: CoreUserInfoClaims = client
        .user_info(
            refreshed.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().map(|e| e.as_str()), Some("demo@example.com"));
    assert!(info.name().is_none());
    assert!(info.preferred_username().is_none());
}
