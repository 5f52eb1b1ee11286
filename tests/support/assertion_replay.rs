//! A check both database suites run: a client assertion's `jti` is single use across two
//! providers over one store.
#![allow(clippy::unwrap_used)]

/// A `private_key_jwt` client registered at `a` (its `jwks` stored and read back by `b`)
/// introspects with an assertion at `a`; the same assertion at `b` is a replay.
pub(crate) async fn assertion_replay_across(a: &tessera::Provider, b: &tessera::Provider) {
    use tessera::jose::{Algorithm, JwkSet, SigningKey, Typ, sign_claims};
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let registered = a
        .register_client(
            tessera::ClientRegistration::new("Signer", "https://client.example/cb")
                .with_auth_method(tessera::AuthMethod::PrivateKeyJwt)
                .with_metadata(
                    tessera::ClientMetadata::default()
                        .with_jwks(JwkSet::new(vec![key.public_jwk().clone()]).unwrap()),
                ),
        )
        .await
        .unwrap();
    let id = registered.client.id.as_str().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": id, "sub": id, "aud": "https://auth.example.com",
        "iat": now, "exp": now + 60, "jti": "shared-1",
    });
    let assertion = sign_claims(&key, &Typ::JWT, &claims).await.unwrap();
    let form = || {
        tessera::FormRequest::new(format!(
            "token=unknown&client_assertion_type={}&client_assertion={assertion}",
            "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        ))
    };
    let first = a.introspect(&form()).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let replay = b.introspect(&form()).await;
    assert_eq!(replay.status, 401);
    let error: serde_json::Value = serde_json::from_slice(&replay.body).unwrap();
    assert_eq!(error["error"], "invalid_client");
}
