//! Client ID metadata documents with the default fetcher (feature `cimd-fetch`) against
//! documents served from 127.0.0.1 by the test itself: bounds, redirects, address checks and a
//! full authorization code flow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tessera::cimd::{
    ClientMetadataDocuments, ClientMetadataFetcher, FetchError, FetchPolicy, HttpMetadataFetcher,
};
use tessera::store::MemoryStore;
use tessera::{AuthorizeError, Config, ErrorCode, FormRequest, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LOOPBACK_REDIRECT: &str = "http://127.0.0.1:9/cb";

/// Serves, on 127.0.0.1: `/client.json` (a valid document naming its own URL), `/other.json`
/// (a document naming another URL), `/big.json` (100 KiB), `/stall.json` (never answers) and
/// `/redirect.json` (302 to `/client.json`). Returns the base URL.
async fn document_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let origin = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let origin = origin.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let json = |id: &str| {
                    serde_json::json!({
                        "client_id": id,
                        "client_name": "Loopback Agent",
                        "redirect_uris": [LOOPBACK_REDIRECT],
                        "token_endpoint_auth_method": "none",
                    })
                    .to_string()
                };
                let (head, body) = match path.as_str() {
                    "/client.json" => (
                        "200 OK\r\ncache-control: max-age=120".to_owned(),
                        json(&format!("{origin}/client.json")),
                    ),
                    "/other.json" => ("200 OK".to_owned(), json("https://elsewhere.example/c")),
                    "/big.json" => ("200 OK".to_owned(), "x".repeat(100 * 1024)),
                    "/redirect.json" => (
                        format!("302 Found\r\nlocation: {origin}/client.json"),
                        String::new(),
                    ),
                    "/stall.json" => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        return;
                    }
                    _ => ("404 Not Found".to_owned(), String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    base
}

fn loopback_policy() -> FetchPolicy {
    FetchPolicy::new(
        ClientMetadataDocuments::MAX_BYTES,
        Duration::from_millis(700),
    )
    .with_loopback()
}

#[tokio::test]
async fn the_fetcher_bounds_size_and_time_and_follows_no_redirect() {
    let base = document_server().await;
    let fetcher = HttpMetadataFetcher::new().unwrap();
    let policy = loopback_policy();
    let ok = fetcher
        .fetch(&format!("{base}/client.json"), &policy)
        .await
        .unwrap();
    assert_eq!(ok.max_age, Some(Duration::from_secs(120)));
    assert!(String::from_utf8_lossy(&ok.body).contains("Loopback Agent"));
    assert_eq!(
        fetcher.fetch(&format!("{base}/big.json"), &policy).await,
        Err(FetchError::TooLarge)
    );
    assert_eq!(
        fetcher.fetch(&format!("{base}/stall.json"), &policy).await,
        Err(FetchError::Timeout)
    );
    assert_eq!(
        fetcher
            .fetch(&format!("{base}/redirect.json"), &policy)
            .await,
        Err(FetchError::Redirect)
    );
    assert_eq!(
        fetcher
            .fetch(&format!("{base}/missing.json"), &policy)
            .await,
        Err(FetchError::Status(404))
    );
}

#[tokio::test]
async fn without_the_danger_switch_loopback_is_refused_however_spelled() {
    let base = document_server().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let fetcher = HttpMetadataFetcher::new().unwrap();
    let strict = FetchPolicy::new(ClientMetadataDocuments::MAX_BYTES, Duration::from_secs(2));
    // http at all: refused.
    assert!(matches!(
        fetcher.fetch(&format!("{base}/client.json"), &strict).await,
        Err(FetchError::Refused(_))
    ));
    for host in [
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
    ] {
        let url = format!("https://{host}:{port}/client.json");
        let result = fetcher.fetch(&url, &strict).await;
        assert!(
            matches!(result, Err(FetchError::Refused(_))),
            "{url}: {result:?}"
        );
    }
    // A name that resolves to loopback: refused by the resolver, before any connection.
    let url = format!("https://localhost:{port}/client.json");
    match fetcher.fetch(&url, &strict).await {
        Err(FetchError::Network(why)) => assert!(why.contains("no public address"), "{why}"),
        other => panic!("{url}: {other:?}"),
    }
}

fn provider_with_documents() -> Provider {
    let config = Config::builder("http://127.0.0.1:8000")
        .scopes(tessera::ScopeSet::parse("read").unwrap())
        .danger(Danger::new().allow_loopback_client_metadata())
        .build()
        .unwrap();
    let documents = ClientMetadataDocuments::new(Arc::new(HttpMetadataFetcher::new().unwrap()))
        .with_timeout(Duration::from_millis(700));
    Provider::builder(config, Arc::new(MemoryStore::new()))
        .client_metadata_documents(documents)
        .build()
}

fn authorize_query(client_id: &str) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        urlencode(client_id),
        urlencode(LOOPBACK_REDIRECT)
    )
}

#[tokio::test]
async fn a_full_code_flow_with_a_metadata_document_client() {
    let base = document_server().await;
    let provider = provider_with_documents();
    let client_id = format!("{base}/client.json");
    let pending = provider
        .authorize(&params(&authorize_query(&client_id)))
        .await
        .unwrap();
    assert_eq!(
        pending.metadata_document_host().as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(pending.client().name, "Loopback Agent");
    let scopes = pending.scopes().clone();
    let redirect = pending.approve(&provider, user(), &scopes).await;
    let code = redirect.param("code").unwrap();
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        urlencode(LOOPBACK_REDIRECT),
        urlencode(&client_id)
    );
    let response = provider.token(&FormRequest::new(body.into_bytes())).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let tokens = response.json_body().unwrap();
    assert!(tokens["access_token"].is_string());
    // The refresh token works for the document's client too.
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&client_id={}",
        tokens["refresh_token"].as_str().unwrap(),
        urlencode(&client_id)
    );
    let response = provider.token(&FormRequest::new(body.into_bytes())).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(
        provider.metadata_response().json_body().unwrap()["client_id_metadata_document_supported"],
        true
    );
}

#[tokio::test]
async fn refused_documents_are_shown_never_redirected() {
    let base = document_server().await;
    let provider = provider_with_documents();
    for (path, expected) in [
        ("/other.json", "differs from its URL"),
        ("/big.json", "larger than the limit"),
        ("/stall.json", "timed out"),
        ("/redirect.json", "redirects"),
    ] {
        let client_id = format!("{base}{path}");
        match provider
            .authorize(&params(&authorize_query(&client_id)))
            .await
        {
            Err(AuthorizeError::Untrusted(error)) => {
                assert_eq!(error.code, ErrorCode::InvalidRequest);
                assert!(
                    error.description.contains(expected),
                    "{path}: {}",
                    error.description
                );
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    // An unregistered redirect URI for a good document: shown, not redirected.
    let query = authorize_query(&format!("{base}/client.json")).replace(
        &urlencode(LOOPBACK_REDIRECT),
        &urlencode("http://127.0.0.1:9/other"),
    );
    assert!(matches!(
        provider.authorize(&params(&query)).await,
        Err(AuthorizeError::Untrusted(_))
    ));
    // At the token endpoint a refused document is 401 invalid_client.
    let body = format!(
        "grant_type=authorization_code&code=x&code_verifier={VERIFIER}&client_id={}",
        urlencode(&format!("{base}/other.json"))
    );
    let response = provider.token(&FormRequest::new(body.into_bytes())).await;
    assert_eq!(response.status, 401);
    assert_eq!(error_of(&response), "invalid_client");
}
