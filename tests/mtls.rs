//! Mutual TLS (RFC 8705) with certificates generated here (rcgen): `tls_client_auth` and
//! `self_signed_tls_client_auth` accept and refuse what they must, certificate-bound tokens
//! are accepted at resources only with their certificate, a public client's bound refresh
//! token needs it too, introspection shows `cnf`, registration validates the metadata.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256, PKCS_ED25519, SanType,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tessera::jose::JwkSet;
use tessera::{
    AuthMethod, BearerRequest, ClientCertificate, ClientMetadata, ClientRegistration, ErrorCode,
    FormRequest, GrantType, ScopeSet,
};

/// A CA the host's TLS layer trusts.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        Self {
            issuer: Issuer::new(params, key),
        }
    }

    /// A client certificate `CN={cn},O=Example,C=SE` with every kind of SAN.
    fn issue(&self, cn: &str, dns: &str) -> ClientCertificate {
        self.issue_at(cn, dns, "192.0.2.7")
    }

    /// The same, with the IP address SAN `ip`.
    fn issue_at(&self, cn: &str, dns: &str, ip: &str) -> ClientCertificate {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "SE");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.subject_alt_names = vec![
            SanType::DnsName(dns.try_into().unwrap()),
            SanType::URI(format!("https://{dns}/client").try_into().unwrap()),
            SanType::IpAddress(ip.parse().unwrap()),
            SanType::Rfc822Name(format!("ops@{dns}").try_into().unwrap()),
        ];
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ClientCertificate::from_der(cert.der().to_vec()).unwrap()
    }
}

/// A self-signed certificate and its key as a public JWK.
fn self_signed(alg: &'static rcgen::SignatureAlgorithm) -> (ClientCertificate, serde_json::Value) {
    let mut params = CertificateParams::new(vec!["self.client.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "self-signed client");
    let key = KeyPair::generate_for(alg).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let raw = key.public_key_raw();
    let jwk = if alg == &PKCS_ED25519 {
        json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(raw)})
    } else {
        assert_eq!(raw.len(), 65);
        json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&raw[33..]),
        })
    };
    (
        ClientCertificate::from_der(cert.der().to_vec()).unwrap(),
        jwk,
    )
}

fn jwks(keys: &[serde_json::Value]) -> JwkSet {
    JwkSet::parse(&json!({ "keys": keys }).to_string()).unwrap()
}

async fn register(h: &Harness, method: AuthMethod, metadata: ClientMetadata) -> TestClient {
    h.register(
        ClientRegistration::new("mTLS client", REDIRECT)
            .with_auth_method(method)
            .with_grant_types(vec![
                GrantType::AuthorizationCode,
                GrantType::ClientCredentials,
            ])
            .with_metadata(metadata),
    )
    .await
}

/// A client credentials request naming `client`, over TLS with `cert`.
async fn token_with(
    h: &Harness,
    client: &TestClient,
    cert: Option<&ClientCertificate>,
) -> tessera::Response {
    let body = format!(
        "grant_type=client_credentials&scope=read&client_id={}",
        client.id
    );
    let request = FormRequest::new(body.into_bytes()).with_client_certificate(cert.cloned());
    h.provider.token(&request).await
}

fn ok_json(response: &tessera::Response) -> serde_json::Value {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json_body().unwrap()
}

fn refused_client(response: &tessera::Response) {
    assert_eq!(
        response.status,
        401,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(error_of(response), "invalid_client");
}

async fn validate(
    h: &Harness,
    token: &str,
    cert: Option<&ClientCertificate>,
) -> Result<tessera::Principal, tessera::BearerError> {
    let header = format!("Bearer {token}");
    let request = BearerRequest::header(&header).with_client_certificate(cert);
    h.provider.validate_bearer(&request, &ScopeSet::new()).await
}

#[test]
fn certificates_parse_into_the_rfc_4514_subject_and_their_names() {
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    assert_eq!(cert.subject_dn(), "CN=client-1,O=Example,C=SE");
    assert_eq!(cert.san_dns(), ["client1.example"]);
    assert_eq!(cert.san_uri(), ["https://client1.example/client"]);
    assert_eq!(
        cert.san_ip(),
        ["192.0.2.7".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(cert.san_email(), ["ops@client1.example"]);
    // x5t#S256 is the base64url SHA-256 of the DER (RFC 8705 §3.1).
    assert_eq!(
        cert.thumbprint(),
        URL_SAFE_NO_PAD.encode(Sha256::digest(cert.der()))
    );
    assert!(!format!("{cert:?}").contains(&URL_SAFE_NO_PAD.encode(cert.der())));
    // Garbage, truncation and trailing bytes are refused, never a panic.
    assert!(ClientCertificate::from_der(b"garbage".to_vec()).is_err());
    let der = cert.der();
    assert!(ClientCertificate::from_der(der[..der.len() - 1].to_vec()).is_err());
    let mut trailing = der.to_vec();
    trailing.push(0);
    assert!(ClientCertificate::from_der(trailing).is_err());
}

#[tokio::test]
async fn tls_client_auth_matches_exactly_the_one_registered_subject_value() {
    let h = harness();
    let ca = Ca::new();
    let good = ca.issue("client-1", "client1.example");
    let other = ca.issue_at("client-2", "client2.example", "2001:db8::7");
    let registrations = [
        ClientMetadata::default().with_tls_client_auth_subject_dn("CN=client-1,O=Example,C=SE"),
        ClientMetadata::default().with_tls_client_auth_san_dns("CLIENT1.example"),
        ClientMetadata::default().with_tls_client_auth_san_uri("https://client1.example/client"),
        ClientMetadata::default().with_tls_client_auth_san_ip("192.0.2.7"),
        ClientMetadata::default().with_tls_client_auth_san_email("ops@client1.example"),
    ];
    for metadata in registrations {
        let client = register(&h, AuthMethod::TlsClientAuth, metadata.clone()).await;
        let tokens = ok_json(&token_with(&h, &client, Some(&good)).await);
        assert_eq!(tokens["token_type"], "Bearer");
        // Another certificate of the same CA, or none at all: refused.
        refused_client(&token_with(&h, &client, Some(&other)).await);
        refused_client(&token_with(&h, &client, None).await);
    }
    // IP addresses are compared as addresses, IPv6 included.
    let by_ip = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default().with_tls_client_auth_san_ip("2001:DB8:0::7"),
    )
    .await;
    ok_json(&token_with(&h, &by_ip, Some(&other)).await);
    refused_client(&token_with(&h, &by_ip, Some(&good)).await);
    // A DN differing only in order or spacing does not match: exact RFC 4514 comparison.
    let reordered = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default().with_tls_client_auth_subject_dn("C=SE,O=Example,CN=client-1"),
    )
    .await;
    refused_client(&token_with(&h, &reordered, Some(&good)).await);
}

#[tokio::test]
async fn self_signed_tls_client_auth_matches_a_registered_key() {
    let h = harness();
    for alg in [&PKCS_ECDSA_P256_SHA256, &PKCS_ED25519] {
        let (cert, jwk) = self_signed(alg);
        let (stranger, stranger_jwk) = self_signed(alg);
        let client = register(
            &h,
            AuthMethod::SelfSignedTlsClientAuth,
            ClientMetadata::default().with_jwks(jwks(&[jwk])),
        )
        .await;
        ok_json(&token_with(&h, &client, Some(&cert)).await);
        // An unregistered certificate, or none: refused.
        refused_client(&token_with(&h, &client, Some(&stranger)).await);
        refused_client(&token_with(&h, &client, None).await);
        // A second registered key lets the second certificate in too (rotation).
        let (_, jwk) = self_signed(alg);
        let both = register(
            &h,
            AuthMethod::SelfSignedTlsClientAuth,
            ClientMetadata::default().with_jwks(jwks(&[jwk, stranger_jwk])),
        )
        .await;
        ok_json(&token_with(&h, &both, Some(&stranger)).await);
        refused_client(&token_with(&h, &both, Some(&cert)).await);
    }
}

#[tokio::test]
async fn a_certificate_authenticates_only_clients_of_a_certificate_method() {
    let h = harness();
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    let (self_cert, jwk) = self_signed(&PKCS_ECDSA_P256_SHA256);
    // A secret client presenting a certificate and no secret.
    let secret_client = h.confidential().await;
    refused_client(&token_with(&h, &secret_client, Some(&cert)).await);
    // A self-signed client's certificate where tls_client_auth is registered, and back.
    let pki = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default().with_tls_client_auth_subject_dn("CN=client-1,O=Example,C=SE"),
    )
    .await;
    ok_json(&token_with(&h, &pki, Some(&cert)).await);
    refused_client(&token_with(&h, &pki, Some(&self_cert)).await);
    let self_client = register(
        &h,
        AuthMethod::SelfSignedTlsClientAuth,
        ClientMetadata::default().with_jwks(jwks(&[jwk])),
    )
    .await;
    refused_client(&token_with(&h, &self_client, Some(&cert)).await);
    // A certificate client trying a secret (it has none) over Basic.
    let basic = TestClient {
        id: self_client.id.clone(),
        secret: Some("guess".into()),
    };
    let request = FormRequest::new(b"grant_type=client_credentials".to_vec())
        .with_authorization(Some(&basic.basic()))
        .with_client_certificate(Some(self_cert.clone()));
    refused_client(&h.provider.token(&request).await);
    // An unknown client ID with a good certificate.
    let unknown = TestClient {
        id: "nobody".into(),
        secret: None,
    };
    refused_client(&token_with(&h, &unknown, Some(&self_cert)).await);
}

#[tokio::test]
async fn bound_tokens_are_accepted_only_with_their_certificate() {
    let h = harness();
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    let other = ca.issue("client-1", "client1.example");
    let client = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default()
            .with_tls_client_auth_san_dns("client1.example")
            .with_tls_client_certificate_bound_access_tokens(true),
    )
    .await;
    let tokens = ok_json(&token_with(&h, &client, Some(&cert)).await);
    // RFC 8705 §3: still a Bearer token.
    assert_eq!(tokens["token_type"], "Bearer");
    let at = tokens["access_token"].as_str().unwrap();
    let principal = validate(&h, at, Some(&cert)).await.unwrap();
    assert_eq!(principal.client_id().as_str(), client.id);
    for presented in [Some(&other), None] {
        let refusal = validate(&h, at, presented).await.unwrap_err();
        assert_eq!(refusal.code, Some(ErrorCode::InvalidToken));
        assert_eq!(refusal.status(), 401);
    }
    // Introspection (the client authenticating with its certificate) shows cnf.
    let request = FormRequest::new(format!("token={at}&client_id={}", client.id).into_bytes())
        .with_client_certificate(Some(cert.clone()));
    let info = ok_json(&h.provider.introspect(&request).await);
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["cnf"]["x5t#S256"], cert.thumbprint());
    // Revocation with certificate authentication works too.
    let revoke = FormRequest::new(format!("token={at}&client_id={}", client.id).into_bytes())
        .with_client_certificate(Some(cert.clone()));
    assert_eq!(h.provider.revoke(&revoke).await.status, 200);
    assert!(validate(&h, at, Some(&cert)).await.is_err());
}

#[tokio::test]
async fn tokens_are_plain_bearer_unless_binding_is_asked_for() {
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    let h = harness();
    let client = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default().with_tls_client_auth_san_dns("client1.example"),
    )
    .await;
    let at = ok_json(&token_with(&h, &client, Some(&cert)).await)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(validate(&h, &at, None).await.is_ok());
    // The provider-wide switch binds every client that presents a certificate, a secret
    // client included.
    let h = harness_with(
        builder()
            .certificate_bound_access_tokens(true)
            .build()
            .unwrap(),
    );
    let client = h.confidential().await;
    let request = FormRequest::new(b"grant_type=client_credentials&scope=read".to_vec())
        .with_authorization(Some(&client.basic()))
        .with_client_certificate(Some(cert.clone()));
    let tokens = ok_json(&h.provider.token(&request).await);
    let at = tokens["access_token"].as_str().unwrap();
    assert!(validate(&h, at, Some(&cert)).await.is_ok());
    assert_eq!(
        validate(&h, at, None).await.unwrap_err().code,
        Some(ErrorCode::InvalidToken)
    );
    // Without a certificate, nothing to bind to.
    let plain = ok_json(
        &h.token(&client, "grant_type=client_credentials&scope=read")
            .await,
    );
    assert!(
        validate(&h, plain["access_token"].as_str().unwrap(), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_certificate() {
    let h = harness();
    let (cert, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let (other, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let client = h
        .register(
            ClientRegistration::new("Public mTLS", REDIRECT)
                .with_auth_method(AuthMethod::None)
                .with_metadata(
                    ClientMetadata::default().with_tls_client_certificate_bound_access_tokens(true),
                ),
        )
        .await;
    let code = h.code(&client, "read offline_access").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        urlencode(REDIRECT),
        client.id
    );
    let request = FormRequest::new(body.into_bytes()).with_client_certificate(Some(cert.clone()));
    let tokens = ok_json(&h.provider.token(&request).await);
    let at = tokens["access_token"].as_str().unwrap();
    assert!(validate(&h, at, Some(&cert)).await.is_ok());
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refresh_with = |cert: Option<&ClientCertificate>| {
        FormRequest::new(
            format!(
                "grant_type=refresh_token&refresh_token={refresh}&client_id={}",
                client.id
            )
            .into_bytes(),
        )
        .with_client_certificate(cert.cloned())
    };
    // A client that asked for bound tokens gets none without its certificate.
    let response = h.provider.token(&refresh_with(None)).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_request");
    // Another certificate does not match the refresh token's binding.
    let response = h.provider.token(&refresh_with(Some(&other))).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_grant");
    let renewed = ok_json(&h.provider.token(&refresh_with(Some(&cert))).await);
    let at = renewed["access_token"].as_str().unwrap();
    assert!(validate(&h, at, Some(&cert)).await.is_ok());
    assert!(validate(&h, at, Some(&other)).await.is_err());
}

#[tokio::test]
async fn metadata_advertises_both_methods_and_bound_tokens() {
    let h = harness();
    let doc = h.provider.metadata_response().json_body().unwrap();
    assert_eq!(doc["tls_client_certificate_bound_access_tokens"], true);
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
        assert!(methods.iter().any(|m| m == method), "{method}");
    }
}

#[tokio::test]
async fn registration_validates_the_certificate_metadata() {
    let h = harness();
    let (_, jwk) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let register = |body: serde_json::Value| {
        let provider = &h.provider;
        async move { provider.register(body.to_string().as_bytes(), None).await }
    };
    let base = || {
        json!({
            "redirect_uris": [REDIRECT],
            "grant_types": ["client_credentials"],
        })
    };
    let mut body = base();
    body["token_endpoint_auth_method"] = "tls_client_auth".into();
    body["tls_client_auth_subject_dn"] = "CN=client-1,O=Example,C=SE".into();
    body["tls_client_certificate_bound_access_tokens"] = true.into();
    let created = register(body).await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let created = created.json_body().unwrap();
    assert_eq!(created["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(
        created["tls_client_auth_subject_dn"],
        "CN=client-1,O=Example,C=SE"
    );
    assert_eq!(created["tls_client_certificate_bound_access_tokens"], true);
    assert!(created.get("client_secret").is_none());

    let mut body = base();
    body["token_endpoint_auth_method"] = "self_signed_tls_client_auth".into();
    body["jwks"] = json!({ "keys": [jwk] });
    assert_eq!(register(body).await.status, 201);

    let refusals = [
        // tls_client_auth with no subject value, or two.
        json!({"token_endpoint_auth_method": "tls_client_auth"}),
        json!({"token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_san_dns": "a.example", "tls_client_auth_san_email": "a@a.example"}),
        // A subject value for another method.
        json!({"token_endpoint_auth_method": "client_secret_basic",
               "tls_client_auth_san_dns": "a.example"}),
        // self_signed without keys.
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"}),
        // Malformed values.
        json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "not-an-ip"}),
        json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": 7}),
        json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "a.example",
               "tls_client_certificate_bound_access_tokens": "yes"}),
    ];
    for extra in refusals {
        let mut body = base();
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        let response = register(body.clone()).await;
        assert_eq!(response.status, 400, "{body}");
        assert_eq!(error_of(&response), "invalid_client_metadata", "{body}");
    }
}

#[tokio::test]
async fn the_http_bridge_reads_the_certificate_extension() {
    let h = harness();
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    let client = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default()
            .with_tls_client_auth_san_dns("client1.example")
            .with_tls_client_certificate_bound_access_tokens(true),
    )
    .await;
    let mut request = axum::http::Request::post("/token")
        .body(
            format!("grant_type=client_credentials&client_id={}", client.id)
                .as_bytes()
                .to_vec(),
        )
        .unwrap();
    request.extensions_mut().insert(cert.clone());
    let form = FormRequest::from_http(&request);
    assert_eq!(form.client_certificate.as_ref(), Some(&cert));
    let tokens = ok_json(&h.provider.token(&form).await);
    let mut api = axum::http::Request::get("/api")
        .header(
            "authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .body(Vec::new())
        .unwrap();
    let refused = h
        .provider
        .validate_bearer(&BearerRequest::from_http(&api), &ScopeSet::new())
        .await;
    assert!(refused.is_err());
    api.extensions_mut().insert(cert);
    assert!(
        h.provider
            .validate_bearer(&BearerRequest::from_http(&api), &ScopeSet::new())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn jwt_access_tokens_carry_the_thumbprint_and_the_verifier_checks_it() {
    use std::sync::Arc;
    use tessera::jose::{Algorithm, KeySchedule, KeySet, SigningKey};
    use tessera::jwt_access::JwtAccessVerifier;
    use tessera::testkit::{ManualClock, SeededEntropy};
    const API: &str = "https://auth.example.com/api";
    let key = SigningKey::generate(Algorithm::Es256)
        .unwrap()
        .with_kid("es-1")
        .unwrap();
    let keys = KeySet::builder(time::Duration::hours(2))
        .key(key, KeySchedule::always())
        .build()
        .unwrap();
    let config = builder()
        .resource(tessera::Resource::new(API).included_by_default())
        .access_token_format(tessera::AccessTokenFormat::Jwt)
        .build()
        .unwrap();
    let clock = ManualClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
    let store = Arc::new(tessera::store::MemoryStore::new());
    let provider = tessera::Provider::builder(config, store.clone())
        .clock(Arc::new(clock.clone()))
        .entropy(Arc::new(SeededEntropy::new(5)))
        .signing_keys(keys)
        .build();
    let h = Harness {
        provider,
        clock,
        store,
    };
    let (cert, jwk) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let (other, _) = self_signed(&PKCS_ECDSA_P256_SHA256);
    let client = register(
        &h,
        AuthMethod::SelfSignedTlsClientAuth,
        ClientMetadata::default()
            .with_jwks(jwks(&[jwk]))
            .with_tls_client_certificate_bound_access_tokens(true),
    )
    .await;
    let tokens = ok_json(&token_with(&h, &client, Some(&cert)).await);
    let at = tokens["access_token"].as_str().unwrap();
    let payload = at.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["cnf"]["x5t#S256"], cert.thumbprint());
    let published =
        JwkSet::parse(std::str::from_utf8(&h.provider.jwks_response().body).unwrap()).unwrap();
    let principal = JwtAccessVerifier::new(published, "https://auth.example.com", API)
        .verify(at, 1_893_456_000)
        .unwrap();
    assert!(principal.is_sender_constrained());
    assert_eq!(principal.certificate_thumbprint(), Some(cert.thumbprint()));
    assert!(principal.accepts_certificate(Some(&cert)));
    assert!(!principal.accepts_certificate(Some(&other)));
    assert!(!principal.accepts_certificate(None));
    // And the provider's own check of the same JWT.
    assert!(validate(&h, at, Some(&cert)).await.is_ok());
    assert!(validate(&h, at, None).await.is_err());
}

#[tokio::test]
async fn pushed_authorization_requests_authenticate_with_the_certificate() {
    let h = harness();
    let ca = Ca::new();
    let cert = ca.issue("client-1", "client1.example");
    let client = register(
        &h,
        AuthMethod::TlsClientAuth,
        ClientMetadata::default().with_tls_client_auth_san_dns("client1.example"),
    )
    .await;
    let body = format!(
        "client_id={}&response_type=code&redirect_uri={}&scope=read&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
        client.id,
        urlencode(REDIRECT)
    );
    let push = |cert: Option<&ClientCertificate>| {
        FormRequest::new(body.clone().into_bytes()).with_client_certificate(cert.cloned())
    };
    let pushed = h.provider.pushed_authorization(&push(Some(&cert))).await;
    assert_eq!(
        pushed.status,
        201,
        "{}",
        String::from_utf8_lossy(&pushed.body)
    );
    assert!(pushed.json_body().unwrap()["request_uri"].is_string());
    let other = ca.issue("client-2", "client2.example");
    refused_client(&h.provider.pushed_authorization(&push(Some(&other))).await);
    refused_client(&h.provider.pushed_authorization(&push(None)).await);
}

#[tokio::test]
async fn a_bound_refresh_token_without_the_certificate_is_invalid_grant() {
    // Bound by the provider-wide switch, so the client's own setting does not refuse first.
    let h = harness_with(
        builder()
            .certificate_bound_access_tokens(true)
            .build()
            .unwrap(),
    );
    let (cert, _) = self_signed(&PKCS_ED25519);
    let client = h.public().await;
    let code = h.code(&client, "read offline_access").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        urlencode(REDIRECT),
        client.id
    );
    let request = FormRequest::new(body.into_bytes()).with_client_certificate(Some(cert.clone()));
    let tokens = ok_json(&h.provider.token(&request).await);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={}",
        client.id
    );
    let response = h.token(&client, &body).await;
    assert_eq!(response.status, 400);
    assert_eq!(error_of(&response), "invalid_grant");
    // The binding was checked before anything was spent: with the certificate it still works.
    let request = FormRequest::new(body.into_bytes()).with_client_certificate(Some(cert));
    ok_json(&h.provider.token(&request).await);
}

const ALIAS_HOST: &str = "https://mtls.auth.example.com";

fn all_aliases() -> tessera::MtlsEndpointAliases {
    tessera::MtlsEndpointAliases::default()
        .with_token(format!("{ALIAS_HOST}/token"))
        .with_revocation(format!("{ALIAS_HOST}/revoke"))
        .with_introspection(format!("{ALIAS_HOST}/introspect"))
        .with_pushed_authorization(format!("{ALIAS_HOST}/par"))
        .with_userinfo(format!("{ALIAS_HOST}/userinfo"))
        .with_device_authorization(format!("{ALIAS_HOST}/device_authorization"))
}

fn signing_keys() -> tessera::jose::KeySet {
    use tessera::jose::{Algorithm, KeySchedule, KeySet, SigningKey};
    KeySet::builder(time::Duration::hours(1))
        .key(
            SigningKey::generate(Algorithm::Es256).unwrap(),
            KeySchedule::always(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn mtls_endpoint_aliases_are_advertised_for_the_endpoints_served() {
    let config = builder()
        .scopes(ScopeSet::parse("openid read").unwrap())
        .mtls_endpoint_aliases(all_aliases())
        .build()
        .unwrap();
    let provider = tessera::Provider::builder(
        config.clone(),
        std::sync::Arc::new(tessera::store::MemoryStore::new()),
    )
    .signing_keys(signing_keys())
    .build();
    let doc = provider.metadata_response().json_body().unwrap();
    assert_eq!(
        doc["mtls_endpoint_aliases"],
        json!({
            "token_endpoint": "https://mtls.auth.example.com/token",
            "revocation_endpoint": "https://mtls.auth.example.com/revoke",
            "introspection_endpoint": "https://mtls.auth.example.com/introspect",
            "pushed_authorization_request_endpoint": "https://mtls.auth.example.com/par",
            "userinfo_endpoint": "https://mtls.auth.example.com/userinfo",
            "device_authorization_endpoint": "https://mtls.auth.example.com/device_authorization",
        })
    );
    // The plain endpoints stay as they are, and discovery is the same document.
    assert_eq!(doc["token_endpoint"], "https://auth.example.com/token");
    let discovery = provider
        .openid_configuration_response()
        .json_body()
        .unwrap();
    assert_eq!(
        discovery["mtls_endpoint_aliases"],
        doc["mtls_endpoint_aliases"]
    );

    // Without signing keys there is no userinfo endpoint, so no alias of it; without the
    // device grant, none of the device endpoint.
    let plain = tessera::Provider::builder(
        config,
        std::sync::Arc::new(tessera::store::MemoryStore::new()),
    )
    .build();
    let aliases = plain.metadata_response().json_body().unwrap()["mtls_endpoint_aliases"].clone();
    assert!(aliases.get("userinfo_endpoint").is_none(), "{aliases}");
    assert_eq!(
        aliases["token_endpoint"],
        "https://mtls.auth.example.com/token"
    );
    let no_device = harness_with(
        builder()
            .grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
            .mtls_endpoint_aliases(all_aliases())
            .build()
            .unwrap(),
    );
    let aliases =
        no_device.provider.metadata_response().json_body().unwrap()["mtls_endpoint_aliases"]
            .clone();
    assert!(
        aliases.get("device_authorization_endpoint").is_none(),
        "{aliases}"
    );
    assert!(
        aliases
            .get("pushed_authorization_request_endpoint")
            .is_some()
    );
    // Without aliases, no member at all.
    assert!(
        harness()
            .provider
            .metadata_response()
            .json_body()
            .unwrap()
            .get("mtls_endpoint_aliases")
            .is_none()
    );
}

#[test]
fn mtls_endpoint_aliases_are_checked_like_the_issuer() {
    use tessera::MtlsEndpointAliases;
    let build = |aliases: MtlsEndpointAliases| builder().mtls_endpoint_aliases(aliases).build();
    for bad in [
        "http://mtls.auth.example.com/token",
        "/token",
        "mtls.auth.example.com/token",
        "https://mtls.auth.example.com/token?x=1",
        "https://mtls.auth.example.com/token#f",
        "https://user@mtls.auth.example.com/token",
        "https://MTLS.auth.example.com/token",
        "https://mtls.auth.example.com:443/token",
        "https://mtls.auth.example.com/a/../token",
        "ftp://mtls.auth.example.com/token",
        "",
    ] {
        let error = build(MtlsEndpointAliases::default().with_token(bad));
        assert!(
            matches!(error, Err(tessera::ConfigError::Setting(why)) if why.contains("mTLS")),
            "{bad}: {error:?}"
        );
        let error = build(MtlsEndpointAliases::default().with_userinfo(bad));
        assert!(error.is_err(), "{bad}");
    }
    for good in [
        "https://mtls.auth.example.com/token",
        "https://auth.example.com:8443/token",
        "http://127.0.0.1:8443/token",
    ] {
        assert!(
            build(MtlsEndpointAliases::default().with_token(good)).is_ok(),
            "{good}"
        );
    }
    // An alias of an endpoint the configuration removed.
    let error = builder()
        .endpoints(tessera::Endpoints::default().with_revocation(None))
        .mtls_endpoint_aliases(
            MtlsEndpointAliases::default().with_revocation("https://mtls.auth.example.com/revoke"),
        )
        .build();
    assert!(
        matches!(error, Err(tessera::ConfigError::Setting(why)) if why.contains("does not have")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_client_assertion_naming_the_token_alias_is_refused() {
    use tessera::jose::{Algorithm, SigningKey, Typ, sign_claims};
    let h = harness_with(
        builder()
            .mtls_endpoint_aliases(all_aliases())
            .build()
            .unwrap(),
    );
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let client = register(
        &h,
        AuthMethod::PrivateKeyJwt,
        ClientMetadata::default().with_jwks(JwkSet::new(vec![key.public_jwk().clone()]).unwrap()),
    )
    .await;
    let now = h.provider.now().unix_timestamp();
    let assertion = |aud: &str, jti: &str| {
        let claims = json!({
            "iss": client.id, "sub": client.id, "aud": aud,
            "iat": now, "exp": now + 60, "jti": jti,
        });
        let key = &key;
        async move { sign_claims(key, &Typ::JWT, &claims).await.unwrap() }
    };
    let request = |assertion: String| {
        FormRequest::new(format!(
            "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
            urlencode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        ))
    };
    let alias = assertion("https://mtls.auth.example.com/token", "a").await;
    let response = h.provider.token(&request(alias)).await;
    assert_eq!(response.status, 401);
    let description = response.json_body().unwrap()["error_description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains("aud"), "{description}");
    let issuer = assertion("https://auth.example.com", "b").await;
    assert_eq!(h.provider.token(&request(issuer)).await.status, 200);
}
