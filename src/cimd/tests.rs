use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::client::ClientId;
use crate::config::Config;
use crate::provider::Provider;
use crate::store::MemoryStore;

fn policy(allow_loopback: bool) -> FetchPolicy {
    FetchPolicy {
        max_bytes: ClientMetadataDocuments::MAX_BYTES,
        timeout: Duration::from_secs(5),
        allow_loopback,
    }
}

/// The address a URL's host names, as the `url` crate reads it (the fetcher's first step).
fn literal(url: &str) -> IpAddr {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        other => panic!("{url}: {other:?}"),
    }
}

#[test]
fn every_spelling_of_a_non_public_address_is_refused() {
    let strict = policy(false);
    for url in [
        "https://127.0.0.1/c",
        "https://2130706433/c", // decimal
        "https://0177.0.0.1/c", // octal
        "https://0x7f.0.0.1/c", // hex
        "https://0x7f000001/c", // hex, one number
        "https://127.1/c",      // short form
        "https://[::1]/c",
        "https://[::ffff:127.0.0.1]/c", // IPv4-mapped
        "https://[::ffff:7f00:1]/c",
        "https://[::127.0.0.1]/c", // IPv4-compatible
        "https://[::ffff:10.0.0.1]/c",
        "https://[::ffff:8.8.8.8]/c", // mapped, even when public: never connect to one
        "https://[64:ff9b::a00:1]/c", // NAT64
        "https://[2002:7f00:1::]/c",  // 6to4
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/c", // Teredo
        "https://0.0.0.0/c",
        "https://0/c",
        "https://[::]/c",
        "https://10.1.2.3/c",
        "https://012.1.2.3/c", // octal 10.x
        "https://172.16.0.1/c",
        "https://172.31.255.255/c",
        "https://192.168.1.1/c",
        "https://3232235777/c",      // decimal 192.168.1.1
        "https://169.254.169.254/c", // cloud metadata
        "https://0xa9fea9fe/c",
        "https://[fe80::1]/c",
        "https://[fc00::1]/c",
        "https://[fd12:3456::1]/c",
        "https://[fec0::1]/c",
        "https://100.64.0.1/c", // CGNAT
        "https://100.127.255.254/c",
        "https://192.0.0.8/c",
        "https://192.0.2.1/c", // documentation
        "https://198.51.100.7/c",
        "https://203.0.113.9/c",
        "https://[2001:db8::1]/c",
        "https://[3fff::1]/c",
        "https://198.18.0.1/c", // benchmarking
        "https://224.0.0.1/c",  // multicast
        "https://[ff02::1]/c",
        "https://240.0.0.1/c", // reserved
        "https://255.255.255.255/c",
    ] {
        let ip = literal(url);
        assert!(!strict.permits_address(ip), "{url} ({ip}) must be refused");
    }
    for url in [
        "https://8.8.8.8/c",
        "https://1.1.1.1/c",
        "https://[2606:4700:4700::1111]/c",
    ] {
        assert!(strict.permits_address(literal(url)), "{url} is public");
    }
    // The danger switch lets loopback through, and nothing else.
    let loopback = policy(true);
    assert!(loopback.permits_address(literal("https://127.0.0.1/c")));
    assert!(loopback.permits_address(literal("https://[::1]/c")));
    for url in [
        "https://10.0.0.1/c",
        "https://169.254.169.254/c",
        "https://[::ffff:127.0.0.1]/c",
    ] {
        assert!(!loopback.permits_address(literal(url)), "{url}");
    }
}

#[test]
fn document_urls_must_be_https_and_in_normal_form() {
    assert!(document_url("https://app.example/client.json", false).is_ok());
    assert!(document_url("https://app.example:8443/oauth/client?v=1", false).is_ok());
    for bad in [
        "http://app.example/client.json",
        "http://127.0.0.1:8080/client.json",
        "https://app.example/",
        "https://app.example",
        "https://user:pw@app.example/c",
        "https://app.example/c#frag",
        "https://app.example/a/../c",
        "https://app.example/./c",
        "https://APP.example/c",
        "https://app.example:443/c",
        "https://2130706433/c",
        "ftp://app.example/c",
        "not a url",
    ] {
        assert!(document_url(bad, false).is_err(), "{bad}");
    }
    // With the danger switch, http on a loopback address only.
    assert!(document_url("http://127.0.0.1:8080/client.json", true).is_ok());
    assert!(document_url("http://app.example/client.json", true).is_err());
    assert!(document_url("http://localhost:8080/client.json", true).is_err());
}

#[derive(Debug)]
struct Serve {
    body: Mutex<serde_json::Value>,
    max_age: Option<Duration>,
    fetches: AtomicUsize,
}

#[async_trait]
impl ClientMetadataFetcher for Serve {
    async fn fetch(&self, url: &str, _: &FetchPolicy) -> Result<FetchedDocument, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mut doc = self.body.lock().map(|b| b.clone()).unwrap_or_default();
        if doc.get("client_id") == Some(&serde_json::Value::Null) {
            doc["client_id"] = url.into();
        }
        let doc = FetchedDocument::new(doc.to_string().into_bytes());
        Ok(match self.max_age {
            Some(age) => doc.with_max_age(age),
            None => doc,
        })
    }
}

fn serve(doc: serde_json::Value) -> Arc<Serve> {
    Arc::new(Serve {
        body: Mutex::new(doc),
        max_age: None,
        fetches: AtomicUsize::new(0),
    })
}

fn good_doc() -> serde_json::Value {
    serde_json::json!({
        "client_id": null,
        "client_name": "Example Agent",
        "redirect_uris": ["https://agent.example/cb"],
        "token_endpoint_auth_method": "none",
    })
}

fn provider(
    fetcher: Arc<Serve>,
    documents: impl FnOnce(ClientMetadataDocuments) -> ClientMetadataDocuments,
) -> Provider {
    let config = Config::builder("https://auth.example.com")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    Provider::builder(config, Arc::new(MemoryStore::new()))
        .client_metadata_documents(documents(ClientMetadataDocuments::new(fetcher)))
        .build()
}

fn id(text: &str) -> ClientId {
    ClientId::new(text).unwrap_or_else(|e| panic!("{e}"))
}

async fn refusal(provider: &Provider, client: &str) -> String {
    match provider.resolve_client(&id(client)).await {
        Err(ResolveError::Document(why)) => why,
        other => panic!("{client}: {other:?}"),
    }
}

#[tokio::test]
async fn a_document_becomes_a_stored_public_client() {
    let fetcher = serve(good_doc());
    let provider = provider(fetcher.clone(), |d| d);
    let url = "https://agent.example/client.json";
    let client = provider
        .resolve_client(&id(url))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("resolved"));
    assert!(client.metadata_document && client.is_public());
    assert_eq!(client.name, "Example Agent");
    assert_eq!(
        client.metadata_document_host().as_deref(),
        Some("agent.example")
    );
    let stored = provider.client(&id(url)).await.unwrap_or_default();
    assert_eq!(stored.map(|c| c.id), Some(id(url)));
    // Cached: the second resolution fetches nothing.
    assert!(provider.resolve_client(&id(url)).await.is_ok());
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), 1);
    let metadata = provider.metadata();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
}

/// A document is bounded by its own 64 KiB limit, not by the registration request's (16 KiB by
/// default): the document's metadata is checked without being written out and read again.
#[tokio::test]
async fn a_document_over_the_request_limit_but_within_its_own_is_accepted() {
    let mut doc = good_doc();
    let uris: Vec<String> = (0..12)
        .map(|i| format!("https://agent.example/cb/{i}/{}", "p".repeat(1800)))
        .collect();
    doc["redirect_uris"] = serde_json::json!(uris);
    assert!(doc.to_string().len() > crate::Limits::default().max_bytes);
    let provider = provider(serve(doc), |d| d);
    let url = "https://agent.example/client.json";
    let client = provider
        .resolve_client(&id(url))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(client.redirect_uris.len(), 12);
}

#[tokio::test]
async fn documents_that_break_the_rules_are_refused() {
    let url = "https://agent.example/client.json";
    let cases = [
        (
            serde_json::json!({"client_id": "https://other.example/client.json", "redirect_uris": ["https://agent.example/cb"]}),
            "differs from its URL",
        ),
        (
            serde_json::json!({"redirect_uris": ["https://agent.example/cb"]}),
            "no client_id",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
            "shared secret",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "token_endpoint_auth_method": "client_secret_post"}),
            "shared secret",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "token_endpoint_auth_method": "client_secret_jwt"}),
            "shared secret",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "client_secret": "s"}),
            "client_secret",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "grant_types": ["client_credentials"]}),
            "grant",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["http://agent.example/cb"]}),
            "redirect URI refused",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb#x"]}),
            "redirect URI refused",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": []}),
            "needs redirect_uris",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "client_name": "Goo\u{202e}elgoog"}),
            "bidirectional",
        ),
        (
            serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "logo_uri": "javascript:alert(1)"}),
            "logo_uri",
        ),
        (
            serde_json::json!(["not", "an", "object"]),
            "not a JSON object",
        ),
    ];
    for (doc, expected) in cases {
        let provider = provider(serve(doc.clone()), |d| d);
        let why = refusal(&provider, url).await;
        assert!(why.contains(expected), "{doc}: {why}");
        assert!(
            provider
                .client(&id(url))
                .await
                .unwrap_or_default()
                .is_none()
        );
    }
    let big = serde_json::json!({"client_id": null, "redirect_uris": ["https://agent.example/cb"], "client_name": "x".repeat(70 * 1024)});
    let provider = provider(serve(big), |d| d);
    assert!(refusal(&provider, url).await.contains("64 KiB"));
}

#[tokio::test]
async fn malformed_document_urls_are_refused_before_any_fetch() {
    let fetcher = serve(good_doc());
    let provider = provider(fetcher.clone(), |d| d);
    for bad in [
        "http://agent.example/client.json",
        "https://agent.example/a/../c",
        "HTTPS://agent.example/c",
    ] {
        assert!(
            refusal(&provider, bad).await.contains("client_id URL"),
            "{bad}"
        );
    }
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), 0);
    // A client ID that is no URL is looked up in the store as always.
    assert!(matches!(
        provider.resolve_client(&id("plain-id")).await,
        Ok(None)
    ));
}

#[tokio::test]
async fn the_cache_never_holds_more_than_its_capacity() {
    let fetcher = serve(good_doc());
    let provider = provider(fetcher.clone(), |d| d.with_cache_entries(3));
    for n in 0..10 {
        let url = format!("https://agent.example/client-{n}.json");
        assert!(matches!(
            provider.resolve_client(&id(&url)).await,
            Ok(Some(_))
        ));
        let cached = provider
            .cx()
            .client_metadata_documents()
            .map_or(0, |d| d.cached());
        assert!(cached <= 3, "{cached} cached");
    }
    // The most recently used stay: resolving the last one again fetches nothing.
    let before = fetcher.fetches.load(Ordering::SeqCst);
    assert!(
        provider
            .resolve_client(&id("https://agent.example/client-9.json"))
            .await
            .is_ok()
    );
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), before);
    assert!(
        provider
            .resolve_client(&id("https://agent.example/client-0.json"))
            .await
            .is_ok()
    );
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn an_expired_document_is_fetched_again_and_the_client_updated() {
    let fetcher = serve(good_doc());
    let provider = provider(fetcher.clone(), |d| {
        d.with_cache_lifetime(Duration::ZERO, Duration::ZERO)
    });
    let url = "https://agent.example/client.json";
    assert!(provider.resolve_client(&id(url)).await.is_ok());
    if let Ok(mut body) = fetcher.body.lock() {
        body["client_name"] = "Renamed Agent".into();
    }
    let client = provider.resolve_client(&id(url)).await.ok().flatten();
    assert_eq!(client.map(|c| c.name).as_deref(), Some("Renamed Agent"));
    let stored = provider.client(&id(url)).await.ok().flatten();
    assert_eq!(stored.map(|c| c.name).as_deref(), Some("Renamed Agent"));
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), 2);
    // And a document gone bad refuses the stored client.
    if let Ok(mut body) = fetcher.body.lock() {
        body["token_endpoint_auth_method"] = "client_secret_basic".into();
    }
    assert!(refusal(&provider, url).await.contains("shared secret"));
}

#[tokio::test]
async fn a_host_registered_client_with_a_url_id_is_never_fetched() {
    let fetcher = serve(good_doc());
    let provider = provider(fetcher.clone(), |d| d);
    let url = "https://agent.example/client.json";
    let client = Client::new(
        id(url),
        "Host's own",
        crate::ClientType::Public,
        provider.now(),
    );
    assert!(provider.cx().store().insert_client(&client).await.is_ok());
    let resolved = provider.resolve_client(&id(url)).await.ok().flatten();
    assert_eq!(resolved.map(|c| c.name).as_deref(), Some("Host's own"));
    assert_eq!(fetcher.fetches.load(Ordering::SeqCst), 0);
}

/// CONTRACT: a document's client may authenticate with `private_key_jwt` and its `jwks`.
#[cfg(feature = "jose")]
#[tokio::test]
async fn a_document_with_jwks_makes_a_private_key_jwt_client() {
    use crate::jose::{Algorithm, SigningKey, Typ, sign_claims};
    let key = SigningKey::generate(Algorithm::Es256).unwrap_or_else(|e| panic!("{e}"));
    let mut doc = good_doc();
    doc["token_endpoint_auth_method"] = "private_key_jwt".into();
    doc["jwks"] = serde_json::json!({ "keys": [key.public_jwk()] });
    let provider = provider(serve(doc), |d| d);
    let url = "https://agent.example/client.json";
    let client = provider
        .resolve_client(&id(url))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .unwrap_or_else(|| panic!("resolved"));
    assert_eq!(client.auth_method, crate::AuthMethod::PrivateKeyJwt);
    assert!(!client.is_public() && client.secret.is_none());
    assert_eq!(client.metadata.jwks.map(|k| k.keys().len()), Some(1));

    let now = provider.now().unix_timestamp();
    let claims = serde_json::json!({
        "iss": url, "sub": url, "aud": "https://auth.example.com",
        "exp": now + 60, "jti": "doc-1",
    });
    let assertion = sign_claims(&key, &Typ::JWT, &claims)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = |assertion: &str| {
        format!(
            "token=unknown&client_assertion_type={}&client_assertion={assertion}",
            "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        )
    };
    let introspection = provider
        .introspect(&crate::FormRequest::new(body(&assertion)))
        .await;
    assert_eq!(introspection.status, 200);
    // Public client style (client_id alone) is refused for it.
    let bare = provider
        .introspect(&crate::FormRequest::new(format!(
            "token=unknown&client_id={url}"
        )))
        .await;
    assert_eq!(bare.status, 401);
    let replay = provider
        .introspect(&crate::FormRequest::new(body(&assertion)))
        .await;
    assert_eq!(replay.status, 401);
}

#[cfg(feature = "jose")]
#[tokio::test]
async fn a_private_key_jwt_document_without_keys_is_refused() {
    let mut doc = good_doc();
    doc["token_endpoint_auth_method"] = "private_key_jwt".into();
    let provider = provider(serve(doc), |d| d);
    let why = refusal(&provider, "https://agent.example/client.json").await;
    assert!(why.contains("jwks"), "{why}");
}

#[tokio::test]
async fn a_document_client_never_used_expires_and_is_stored_anew() {
    let fetcher = serve(good_doc());
    let start =
        time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap_or_else(|e| panic!("{e}"));
    let clock = crate::clock::ManualClock::new(start);
    let config = Config::builder("https://auth.example.com")
        .unused_client_expiry(Some(time::Duration::hours(1)))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = Provider::builder(config, Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .client_metadata_documents(ClientMetadataDocuments::new(fetcher.clone()))
        .build();
    let url = "https://agent.example/client.json";
    let unused_until = |client: Option<Client>| client.and_then(|c| c.unused_until);
    let first = provider.resolve_client(&id(url)).await.ok().flatten();
    assert_eq!(unused_until(first), Some(start + time::Duration::hours(1)));

    clock.advance(time::Duration::hours(2));
    assert!(
        provider.client(&id(url)).await.ok().flatten().is_none(),
        "expired unused: unknown to a lookup"
    );
    // Its document still vouches for it: it is stored again as new, its time counted from
    // now (not from when the document was cached).
    let again = provider.resolve_client(&id(url)).await.ok().flatten();
    let renewed = Some(start + time::Duration::hours(3));
    assert_eq!(unused_until(again.clone()), renewed);
    let stored = provider
        .cx()
        .store()
        .find_client(&id(url))
        .await
        .ok()
        .flatten();
    assert_eq!(unused_until(stored), renewed);

    // Once used it stays, and a later refresh from the document does not mark it again.
    if let Some(client) = &again {
        assert!(provider.cx().mark_used(client).await.is_ok());
    }
    clock.advance(time::Duration::days(3));
    let kept = provider.resolve_client(&id(url)).await.ok().flatten();
    assert!(kept.is_some());
    assert_eq!(unused_until(kept), None);
}
