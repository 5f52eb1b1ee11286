//! The JOSE layer (`tessera::jose`): known-answer vectors for every algorithm, every refusal,
//! tokens cross-checked against an independent implementation (`jsonwebtoken`) in both
//! directions, a DPoP-style proof, a KMS-style signer, and properties on arbitrary input.
#![cfg(feature = "jose")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use tessera::jose::{
    self, Algorithm, Audience, ClaimsError, ClaimsValidation, Jwk, JwkError, JwkSet, JwsError,
    KeySchedule, KeySet, MAX_JWS_LEN, RegisteredClaims, SignError, Signer, SigningKey, Typ,
    UnverifiedJws,
};
use time::Duration;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7515 Appendix A.1's payload, used by A.2 and A.3.
const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 Appendix A.2.1: the RSA key.
const RFC7515_RSA: &str = r#"{"kty":"RSA",
 "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
 "e":"AQAB",
 "d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
 "p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
 "q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
 "dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
 "dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
 "qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"
}"#;

/// RFC 7515 Appendix A.2.1: the signature, deterministic (RSASSA-PKCS1-v1_5).
const RFC7515_RS256_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

/// RFC 7515 Appendix A.3.1: the P-256 key (public part) and private `d`.
const RFC7515_EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const RFC7515_EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC7515_EC_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
/// RFC 7515 Appendix A.3.1: the complete ES256 token.
const RFC7515_ES256_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 8037 Appendix A.1: the Ed25519 key.
const RFC8037_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// RFC 8037 Appendix A.4: the signed token, deterministic (Ed25519).
const RFC8037_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// The RFC vectors carry no `typ`; a verifier of such tokens has to say so explicitly.
fn untyped() -> Typ {
    Typ::JWT.or_absent()
}

fn rfc7515_payload() -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(RFC7515_PAYLOAD).unwrap()
}

// ---------------------------------------------------------------------------------------
// Known answers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rfc7515_a2_rs256_signature_byte_for_byte() {
    let key = SigningKey::from_jwk(RFC7515_RSA).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Rs256);
    let input = format!("{}.{RFC7515_PAYLOAD}", b64(r#"{"alg":"RS256"}"#));
    assert_eq!(input.split('.').next(), Some("eyJhbGciOiJSUzI1NiJ9"));
    let signature = Signer::sign(&key, input.as_bytes()).await.unwrap();
    assert_eq!(b64(&signature), RFC7515_RS256_SIGNATURE);

    // The public half verifies the published token, and only with the token's alg.
    let token = format!("{input}.{RFC7515_RS256_SIGNATURE}");
    let public = key.public_jwk().clone();
    let verified = UnverifiedJws::parse(&token)
        .unwrap()
        .verify(&public, &untyped())
        .unwrap();
    assert_eq!(verified.payload(), rfc7515_payload());
    assert_eq!(verified.header().algorithm(), Algorithm::Rs256);
    let payload: serde_json::Value = verified.claims().unwrap();
    assert_eq!(payload["iss"], "joe");
}

#[test]
fn rfc7515_a3_es256_token_verifies() {
    let public = Jwk::parse(&format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{RFC7515_EC_X}","y":"{RFC7515_EC_Y}"}}"#
    ))
    .unwrap();
    let verified = UnverifiedJws::parse(RFC7515_ES256_TOKEN)
        .unwrap()
        .verify(&public, &untyped())
        .unwrap();
    assert_eq!(verified.payload(), rfc7515_payload());

    // The same token with one signature byte changed does not verify.
    let mut tampered = RFC7515_ES256_TOKEN.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'Q' { 'g' } else { 'Q' });
    assert_eq!(
        UnverifiedJws::parse(&tampered)
            .unwrap()
            .verify(&public, &untyped())
            .unwrap_err(),
        JwsError::Signature
    );
}

#[tokio::test]
async fn rfc7515_a3_private_key_signs_tokens_its_public_key_verifies() {
    let private = SigningKey::from_jwk(&format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{RFC7515_EC_X}","y":"{RFC7515_EC_Y}","d":"{RFC7515_EC_D}"}}"#
    ))
    .unwrap();
    let token = jose::sign(&private, &Typ::JWT, b"{}").await.unwrap();
    let public = Jwk::parse(&format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{RFC7515_EC_X}","y":"{RFC7515_EC_Y}"}}"#
    ))
    .unwrap();
    UnverifiedJws::parse(&token)
        .unwrap()
        .verify(&public, &Typ::JWT)
        .unwrap();
}

#[tokio::test]
async fn rfc8037_a4_a5_ed25519_sign_and_verify() {
    let key = SigningKey::from_jwk(RFC8037_KEY).unwrap();
    // RFC 8037 Appendix A.3: the thumbprint, which is also the default kid.
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let (input, signature) = RFC8037_TOKEN.rsplit_once('.').unwrap();
    assert_eq!(
        input.split('.').next(),
        Some(b64(r#"{"alg":"EdDSA"}"#).as_str())
    );
    // A.4: signing is deterministic.
    let signed = Signer::sign(&key, input.as_bytes()).await.unwrap();
    assert_eq!(b64(&signed), signature);
    // A.5: verification.
    let verified = UnverifiedJws::parse(RFC8037_TOKEN)
        .unwrap()
        .verify(key.public_jwk(), &untyped())
        .unwrap();
    assert_eq!(verified.payload(), b"Example of Ed25519 signing");
}

#[test]
fn rfc7638_3_1_thumbprint() {
    let jwk = Jwk::parse(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

// ---------------------------------------------------------------------------------------
// Refusals: each token below is signed by a real key, so only the named defect refuses it.
// ---------------------------------------------------------------------------------------

/// A token with `header` (raw JSON) and `payload`, signed by `key` over exactly those bytes.
async fn forge(key: &SigningKey, header: &str, payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = Signer::sign(key, input.as_bytes()).await.unwrap();
    format!("{input}.{}", b64(signature))
}

fn verify(token: &str, key: &Jwk, typ: &Typ) -> Result<jose::VerifiedJws, JwsError> {
    UnverifiedJws::parse(token)?.verify(key, typ)
}

fn es256() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

#[tokio::test]
async fn a_well_formed_token_verifies_so_the_refusals_below_are_meaningful() {
    let key = es256();
    let token = forge(&key, r#"{"alg":"ES256","typ":"at+jwt"}"#, b"{}").await;
    verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap();
}

#[tokio::test]
async fn alg_none_is_refused_in_any_case_with_or_without_signature() {
    let key = es256();
    for alg in ["none", "None", "NONE"] {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#));
        for signature in ["", "AAAA"] {
            let token = format!("{header}.{}.{signature}", b64("{}"));
            assert_eq!(
                verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
                JwsError::AlgNone
            );
        }
    }
}

#[tokio::test]
async fn a_key_verifies_only_its_own_algorithm() {
    let ec = es256();
    let rsa = SigningKey::from_jwk(RFC7515_RSA).unwrap();
    let ed = SigningKey::from_jwk(RFC8037_KEY).unwrap();
    let token = forge(&ec, r#"{"alg":"ES256","typ":"at+jwt"}"#, b"{}").await;
    for other in [&rsa, &ed] {
        assert_eq!(
            verify(&token, other.public_jwk(), &Typ::AT_JWT).unwrap_err(),
            JwsError::AlgorithmMismatch
        );
    }
    // A token claiming RS256 but signed by the EC key, presented to the EC key.
    let lying = forge(&ec, r#"{"alg":"RS256","typ":"at+jwt"}"#, b"{}").await;
    assert_eq!(
        verify(&lying, ec.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
    // The classic confusion: HS256 "signed" with the RSA public key's bytes as the secret.
    let hs = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"HS256","typ":"at+jwt"}"#),
        b64("{}"),
        b64([0u8; 32])
    );
    assert_eq!(
        verify(&hs, rsa.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::UnsupportedAlgorithm
    );
    for alg in ["PS384", "RS512", "ES384", "Ed25519", "rs256", "ps256"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#);
        let token = forge(&ec, &header, b"{}").await;
        assert_eq!(
            verify(&token, ec.public_jwk(), &Typ::AT_JWT).unwrap_err(),
            JwsError::UnsupportedAlgorithm,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn the_typ_must_be_the_one_the_verifier_requires() {
    let key = es256();
    for (header, accepted) in [
        (r#"{"alg":"ES256","typ":"at+jwt"}"#, true),
        (r#"{"alg":"ES256","typ":"AT+JWT"}"#, true),
        (r#"{"alg":"ES256","typ":"application/at+jwt"}"#, true),
        (r#"{"alg":"ES256","typ":"JWT"}"#, false),
        (r#"{"alg":"ES256","typ":"dpop+jwt"}"#, false),
        (r#"{"alg":"ES256","typ":"text/at+jwt"}"#, false),
        (r#"{"alg":"ES256"}"#, false),
    ] {
        let token = forge(&key, header, b"{}").await;
        let result = verify(&token, key.public_jwk(), &Typ::AT_JWT);
        if accepted {
            result.unwrap();
        } else {
            assert_eq!(result.unwrap_err(), JwsError::WrongType, "{header}");
        }
    }
    let token = forge(&key, r#"{"alg":"ES256","typ":7}"#, b"{}").await;
    assert!(matches!(
        verify(&token, key.public_jwk(), &Typ::AT_JWT),
        Err(JwsError::Header(_))
    ));
}

#[tokio::test]
async fn crit_jku_x5u_b64_zip_enc_are_refused_and_x5c_is_ignored() {
    let key = es256();
    for (extra, error) in [
        (r#""crit":["exp"],"exp":1"#, JwsError::Critical),
        (r#""crit":[]"#, JwsError::Critical),
        (
            r#""jku":"https://attacker.example/jwks""#,
            JwsError::KeyUrl("jku"),
        ),
        (
            r#""x5u":"https://attacker.example/cert""#,
            JwsError::KeyUrl("x5u"),
        ),
        (r#""b64":false"#, JwsError::UnsupportedHeader("b64")),
        (r#""zip":"DEF""#, JwsError::UnsupportedHeader("zip")),
        (r#""enc":"A128GCM""#, JwsError::UnsupportedHeader("enc")),
    ] {
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt",{extra}}}"#);
        let token = forge(&key, &header, b"{}").await;
        assert_eq!(
            verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
            error,
            "{extra}"
        );
    }
    // x5c naming another key changes nothing: the caller's key decides.
    let header = r#"{"alg":"ES256","typ":"at+jwt","x5c":["MIIBIjANBgkq"]}"#;
    let token = forge(&key, header, b"{}").await;
    verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap();
    let other = es256();
    assert_eq!(
        verify(&token, other.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Signature
    );
}

#[tokio::test]
async fn strict_base64url_in_every_part() {
    let key = es256();
    let token = forge(&key, r#"{"alg":"ES256","typ":"at+jwt"}"#, b"{\"a\":1}").await;
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let plus = format!("+{}", &s[1..]);
    for (bad, part) in [
        (format!("{h}=.{p}.{s}"), "header"),
        (format!(" {h}.{p}.{s}"), "header"),
        (format!("{h}.{p}==.{s}"), "payload"),
        (format!("{h}.{p}\n.{s}"), "payload"),
        (format!("{h}.{p}.{s}="), "signature"),
        (format!("{h}.{p}.{plus}"), "signature"),
        (format!("{h}.{p}.{s} "), "signature"),
    ] {
        let result = verify(&bad, key.public_jwk(), &Typ::AT_JWT);
        assert_eq!(result.unwrap_err(), JwsError::Base64(part), "{bad}");
    }
    for malformed in [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}."),
        format!("{h}.{p}.{s}.{s}.{s}"),
        String::new(),
        "...".to_owned(),
    ] {
        let result = verify(&malformed, key.public_jwk(), &Typ::AT_JWT);
        assert!(
            matches!(
                result,
                Err(JwsError::Malformed | JwsError::Base64(_) | JwsError::Header(_))
            ),
            "{malformed}: {result:?}"
        );
    }
    assert_eq!(
        verify(&format!("{h}.{p}"), key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Malformed
    );
}

#[tokio::test]
async fn duplicate_header_members_are_refused_even_when_escaped() {
    let key = es256();
    for header in [
        r#"{"alg":"ES256","typ":"at+jwt","alg":"ES256"}"#,
        r#"{"alg":"none","typ":"at+jwt","alg":"ES256"}"#,
        r#"{"alg":"ES256","typ":"JWT","t\u0079p":"at+jwt"}"#,
        r#"{"alg":"ES256","typ":"at+jwt","jwk":{"kty":"OKP","kty":"OKP"}}"#,
    ] {
        let token = forge(&key, header, b"{}").await;
        assert_eq!(
            verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
            JwsError::Header("duplicate member name"),
            "{header}"
        );
    }
    for header in [
        r#"[]"#,
        r#""alg""#,
        r#"{"typ":"at+jwt"}"#,
        r#"{"alg":256}"#,
        "{",
    ] {
        let token = forge(&key, header, b"{}").await;
        assert!(
            matches!(
                verify(&token, key.public_jwk(), &Typ::AT_JWT),
                Err(JwsError::Header(_))
            ),
            "{header}"
        );
    }
}

#[tokio::test]
async fn duplicate_claims_are_refused() {
    let key = es256();
    let token = forge(
        &key,
        r#"{"alg":"ES256","typ":"at+jwt"}"#,
        br#"{"sub":"a","sub":"b"}"#,
    )
    .await;
    let verified = verify(&token, key.public_jwk(), &Typ::AT_JWT).unwrap();
    assert!(matches!(
        verified.claims::<RegisteredClaims>(),
        Err(JwsError::Claims(_))
    ));
}

#[tokio::test]
async fn oversized_tokens_are_refused_before_anything_is_decoded() {
    let key = es256();
    let big = vec![b'a'; MAX_JWS_LEN];
    let token = forge(&key, r#"{"alg":"ES256","typ":"at+jwt"}"#, &big).await;
    assert!(token.len() > MAX_JWS_LEN);
    assert_eq!(UnverifiedJws::parse(&token).unwrap_err(), JwsError::TooLong);
    assert!(UnverifiedJws::parse_with_limit(&token, token.len()).is_ok());
    assert_eq!(
        UnverifiedJws::parse(&"a".repeat(MAX_JWS_LEN + 1)).unwrap_err(),
        JwsError::TooLong
    );
}

#[tokio::test]
async fn a_signature_by_another_key_or_over_other_bytes_fails() {
    let key = es256();
    let other = es256();
    let token = forge(&key, r#"{"alg":"ES256","typ":"at+jwt"}"#, b"{}").await;
    assert_eq!(
        verify(&token, other.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Signature
    );
    // Swap the payload for another, keep the signature.
    let (h, rest) = token.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let swapped = format!("{h}.{}.{s}", b64(r#"{"admin":true}"#));
    assert_eq!(
        verify(&swapped, key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Signature
    );
    // A truncated signature.
    let short = format!("{h}.{}.{}", rest.split_once('.').unwrap().0, &s[..40]);
    assert_eq!(
        verify(&short, key.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Signature
    );
}

#[test]
fn private_members_are_refused_in_a_public_jwk_and_in_a_header() {
    let public = r#""kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo""#;
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let jwk = format!(r#"{{{public},"{member}":"AQAB"}}"#);
        assert_eq!(
            Jwk::parse(&jwk).unwrap_err(),
            JwkError::PrivateMember(match member {
                "d" => "d",
                "p" => "p",
                "q" => "q",
                "dp" => "dp",
                "dq" => "dq",
                "qi" => "qi",
                _ => "k",
            })
        );
        let set = format!(r#"{{"keys":[{jwk}]}}"#);
        assert!(matches!(
            JwkSet::parse(&set),
            Err(JwkError::PrivateMember(_))
        ));
        // A DPoP proof carrying its private key.
        let header = format!(r#"{{"alg":"EdDSA","typ":"dpop+jwt","jwk":{jwk}}}"#);
        let token = format!("{}.{}.{}", b64(header), b64("{}"), b64([0u8; 64]));
        assert!(matches!(
            UnverifiedJws::parse(&token),
            Err(JwsError::EmbeddedJwk(JwkError::PrivateMember(_)))
        ));
    }
    // The RFC 8037 private key, given where a public key is expected.
    assert_eq!(
        Jwk::parse(RFC8037_KEY).unwrap_err(),
        JwkError::PrivateMember("d")
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_claims_are_refused() {
    let keys = KeySet::builder(Duration::hours(1))
        .key(es256().with_kid("k").unwrap(), KeySchedule::always())
        .build()
        .unwrap();
    let now = 1_800_000_000;
    let claims = RegisteredClaims::new()
        .issuer("https://as.example")
        .audience("https://api.example")
        .not_before(now)
        .issued_at(now)
        .expires_at(now + 60);
    let token = keys
        .sign(
            Algorithm::Es256,
            &Typ::AT_JWT,
            &serde_json::to_vec(&claims).unwrap(),
            now,
        )
        .await
        .unwrap();
    let read = |at: i64| {
        let claims: RegisteredClaims = keys
            .verify(&token, &Typ::AT_JWT, at)
            .unwrap()
            .claims()
            .unwrap();
        claims.validate(
            &ClaimsValidation::new(at)
                .issuer("https://as.example")
                .audience("https://api.example")
                .leeway(Duration::seconds(5)),
        )
    };
    assert_eq!(read(now), Ok(()));
    assert_eq!(read(now - 5), Ok(()));
    assert_eq!(read(now - 6), Err(ClaimsError::NotYetValid));
    assert_eq!(read(now + 64), Ok(()));
    assert_eq!(read(now + 65), Err(ClaimsError::Expired));
}

// ---------------------------------------------------------------------------------------
// Key sets, DPoP-style proofs, remote signers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_key_set_signs_with_the_active_key_and_verifies_with_published_ones() {
    let old = es256().with_kid("old").unwrap();
    let new = es256().with_kid("new").unwrap();
    let rsa = SigningKey::generate(Algorithm::Rs256).unwrap();
    let keys = KeySet::builder(Duration::seconds(600))
        .key(old, KeySchedule::always())
        .key(new, KeySchedule::active_from(10_000))
        .key(rsa, KeySchedule::always())
        .build()
        .unwrap();
    let before = keys
        .sign(Algorithm::Es256, &Typ::JWT, b"{}", 9_999)
        .await
        .unwrap();
    let after = keys
        .sign(Algorithm::Es256, &Typ::JWT, b"{}", 10_000)
        .await
        .unwrap();
    assert_eq!(
        UnverifiedJws::parse(&before).unwrap().header().kid(),
        Some("old")
    );
    assert_eq!(
        UnverifiedJws::parse(&after).unwrap().header().kid(),
        Some("new")
    );
    // Tokens of the old key verify until it is removed, 600 s after it stopped signing.
    keys.verify(&before, &Typ::JWT, 10_599).unwrap();
    assert_eq!(
        keys.verify(&before, &Typ::JWT, 10_600).unwrap_err(),
        JwsError::UnknownKey
    );
    // The JWKS a relying party fetches verifies both, and holds nothing private.
    let jwks = serde_json::to_string(&keys.jwks(10_000)).unwrap();
    for private in ["\"d\"", "\"p\"", "\"q\""] {
        assert!(!jwks.contains(private));
    }
    let set = JwkSet::parse(&jwks).unwrap();
    assert_eq!(set.keys().len(), 3);
    for token in [&before, &after] {
        UnverifiedJws::parse(token)
            .unwrap()
            .verify_with_set(&set, &Typ::JWT)
            .unwrap();
    }
    let value: serde_json::Value = serde_json::from_str(&jwks).unwrap();
    for key in value["keys"].as_array().unwrap() {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].is_string() && key["alg"].is_string());
    }
    assert!(matches!(
        keys.sign(Algorithm::EdDsa, &Typ::JWT, b"{}", 0).await,
        Err(SignError::NoActiveKey(Algorithm::EdDsa))
    ));
}

#[tokio::test]
async fn a_dpop_style_proof_verifies_with_its_embedded_key_and_binds_by_thumbprint() {
    // The client's key and proof (RFC 9449 §4.2).
    let client = SigningKey::generate(Algorithm::Es256).unwrap();
    let jwk = serde_json::to_string(client.public_jwk()).unwrap();
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
    let now = 1_800_000_000;
    let claims = format!(
        r#"{{"jti":"e1j3V_bKic8-LAEB","htm":"POST","htu":"https://as.example/token","iat":{now}}}"#
    );
    let proof = forge(&client, &header, claims.as_bytes()).await;

    let unverified = UnverifiedJws::parse(&proof).unwrap();
    let jkt = unverified.header().jwk().unwrap().thumbprint();
    let verified = unverified.verify_with_embedded_jwk(&Typ::DPOP_JWT).unwrap();
    assert_eq!(jkt, client.public_jwk().thumbprint());
    let registered: RegisteredClaims = verified.claims().unwrap();
    let window = ClaimsValidation::new(now + 30)
        .without_exp()
        .max_age(Duration::seconds(60));
    assert_eq!(registered.validate(&window), Ok(()));
    #[derive(Deserialize)]
    struct Dpop {
        htm: String,
        htu: String,
    }
    let dpop: Dpop = verified.claims().unwrap();
    assert_eq!(
        (dpop.htm.as_str(), dpop.htu.as_str()),
        ("POST", "https://as.example/token")
    );

    // Without a jwk, or as the wrong type, or with an access token's typ: refused.
    let bare = forge(
        &client,
        r#"{"typ":"dpop+jwt","alg":"ES256"}"#,
        claims.as_bytes(),
    )
    .await;
    assert_eq!(
        UnverifiedJws::parse(&bare)
            .unwrap()
            .verify_with_embedded_jwk(&Typ::DPOP_JWT)
            .unwrap_err(),
        JwsError::MissingEmbeddedJwk
    );
    assert_eq!(
        UnverifiedJws::parse(&proof)
            .unwrap()
            .verify_with_embedded_jwk(&Typ::AT_JWT)
            .unwrap_err(),
        JwsError::WrongType
    );
    // A proof whose embedded key is not the signer's.
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let forged = forge(&other, &header, claims.as_bytes()).await;
    assert_eq!(
        UnverifiedJws::parse(&forged)
            .unwrap()
            .verify_with_embedded_jwk(&Typ::DPOP_JWT)
            .unwrap_err(),
        JwsError::Signature
    );
}

/// A signer standing in for a KMS: the key lives elsewhere, signing is a remote call.
#[derive(Debug)]
struct RemoteSigner {
    key: SigningKey,
    /// Return DER-sized garbage, like a KMS whose ECDSA output was not converted.
    der_output: bool,
}

#[async_trait]
impl Signer for RemoteSigner {
    fn key_id(&self) -> &str {
        self.key.kid()
    }
    fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }
    fn public_jwk(&self) -> &Jwk {
        self.key.public_jwk()
    }
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        tokio::task::yield_now().await;
        if self.der_output {
            return Ok(vec![0x30; 71]);
        }
        Signer::sign(&self.key, message).await
    }
}

#[tokio::test]
async fn remote_signers_plug_in_and_malformed_signatures_are_caught() {
    let remote: Arc<dyn Signer> = Arc::new(RemoteSigner {
        key: es256(),
        der_output: false,
    });
    let keys = KeySet::builder(Duration::hours(1))
        .shared_key(Arc::clone(&remote), KeySchedule::always())
        .build()
        .unwrap();
    let token = keys
        .sign(Algorithm::Es256, &Typ::LOGOUT_JWT, b"{}", 0)
        .await
        .unwrap();
    keys.verify(&token, &Typ::LOGOUT_JWT, 0).unwrap();
    let broken = RemoteSigner {
        key: es256(),
        der_output: true,
    };
    assert!(matches!(
        jose::sign(&broken, &Typ::JWT, b"{}").await,
        Err(SignError::MalformedSignature(Algorithm::Es256))
    ));
}

#[test]
fn public_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let key = es256();
    let keys = KeySet::builder(Duration::hours(1)).build();
    let claims = RegisteredClaims::new();
    is_send(&jose::sign(&key, &Typ::JWT, b""));
    is_send(&jose::sign_claims(&key, &Typ::JWT, &claims));
    is_send(&Signer::sign(&key, b""));
    if let Ok(keys) = keys {
        is_send(&keys.sign(Algorithm::Es256, &Typ::JWT, b"", 0));
    }
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<SigningKey>();
    is_send_sync::<KeySet>();
    is_send_sync::<Jwk>();
    is_send_sync::<JwkSet>();
    is_send_sync::<UnverifiedJws>();
}

// ---------------------------------------------------------------------------------------
// An independent implementation: jsonwebtoken (aws-lc backend, its own JOSE and JWK code)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    scope: String,
}

fn access_claims() -> AccessClaims {
    let now = tessera::Clock::unix_now(&tessera::SystemClock);
    AccessClaims {
        iss: "https://as.example".into(),
        sub: "alice".into(),
        aud: "https://api.example".into(),
        exp: now + 300,
        iat: now,
        scope: "read write".into(),
    }
}

fn their_algorithm(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
        _ => jsonwebtoken::Algorithm::EdDSA,
    }
}

fn their_validation(alg: Algorithm) -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(their_algorithm(alg));
    validation.set_issuer(&["https://as.example"]);
    validation.set_audience(&["https://api.example"]);
    validation
}

#[tokio::test]
async fn tokens_we_sign_verify_with_jsonwebtoken_through_our_published_jwk() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg)
            .unwrap()
            .with_kid(format!("k-{alg}"))
            .unwrap();
        let claims = access_claims();
        let token = jose::sign_claims(&key, &Typ::AT_JWT, &claims)
            .await
            .unwrap();
        // Their JWK parser reads our exported JWK.
        let jwk_text = serde_json::to_string(key.public_jwk()).unwrap();
        let their_jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&jwk_text).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&their_jwk).unwrap();
        let data = jsonwebtoken::decode::<AccessClaims>(&token, &decoding, &their_validation(alg))
            .unwrap();
        assert_eq!(data.claims, claims);
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(data.header.alg, their_algorithm(alg));
    }
}

#[test]
fn tokens_jsonwebtoken_signs_verify_with_us() {
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let encoding = match alg {
            Algorithm::Rs256 | Algorithm::Ps256 => {
                jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            }
            Algorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut header = jsonwebtoken::Header::new(their_algorithm(alg));
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().to_owned());
        let claims = access_claims();
        let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();

        let set = JwkSet::new(vec![key.public_jwk().clone()]).unwrap();
        let verified = UnverifiedJws::parse(&token)
            .unwrap()
            .verify_with_set(&set, &Typ::AT_JWT)
            .unwrap();
        assert_eq!(verified.claims::<AccessClaims>().unwrap(), claims);
        let registered: RegisteredClaims = verified.claims().unwrap();
        let check = ClaimsValidation::new(claims.iat)
            .issuer("https://as.example")
            .audience("https://api.example");
        assert_eq!(registered.validate(&check), Ok(()));
        assert_eq!(
            registered.aud,
            Some(Audience::One("https://api.example".into()))
        );
        // Their "JWT" typ is not our access-token type.
        let mut plain = jsonwebtoken::Header::new(their_algorithm(alg));
        plain.kid = Some(key.kid().to_owned());
        let token = jsonwebtoken::encode(&plain, &claims, &encoding).unwrap();
        assert_eq!(
            UnverifiedJws::parse(&token)
                .unwrap()
                .verify_with_set(&set, &Typ::AT_JWT)
                .unwrap_err(),
            JwsError::WrongType
        );
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

fn fixed_key() -> &'static SigningKey {
    use std::sync::OnceLock;
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_jwk(RFC8037_KEY).unwrap())
}

fn fixed_token() -> &'static str {
    RFC8037_TOKEN
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn verification_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(token) = UnverifiedJws::parse(&text) {
            let _ = token.header().kid();
            prop_assert!(token.verify(fixed_key().public_jwk(), &untyped()).is_err());
        }
        let _ = Jwk::parse(&text);
        let _ = JwkSet::parse(&text);
        let _ = SigningKey::from_jwk(&text);
        let _ = SigningKey::from_pkcs8_pem(&text);
        let _ = SigningKey::from_pkcs8_der(&bytes);
    }

    #[test]
    fn verification_never_panics_on_token_shaped_text(
        text in "[A-Za-z0-9_=+/ -]{0,40}\\.[A-Za-z0-9_=-]{0,40}\\.[A-Za-z0-9_-]{0,90}"
    ) {
        if let Ok(token) = UnverifiedJws::parse(&text) {
            prop_assert!(token.verify(fixed_key().public_jwk(), &untyped()).is_err());
        }
    }

    #[test]
    fn arbitrary_headers_never_panic(header in "\\{(\"[a-z0-9]{1,4}\":(\"[A-Za-z0-9+/]{0,8}\"|[0-9]{1,3}|null|\\[\\]|\\{\\}),?){0,6}\\}") {
        let token = format!("{}.{}.{}", b64(&header), b64("{}"), b64([0u8; 64]));
        if let Ok(token) = UnverifiedJws::parse(&token) {
            prop_assert!(token.verify(fixed_key().public_jwk(), &untyped()).is_err());
        }
    }

    #[test]
    fn a_changed_character_never_verifies(position in 0usize..200, replacement in "[A-Za-z0-9_.=-]") {
        let token = fixed_token();
        let position = position % token.len();
        let mut changed = token.to_owned();
        changed.replace_range(position..=position, &replacement);
        prop_assume!(changed != token);
        let result = UnverifiedJws::parse(&changed)
            .and_then(|t| t.verify(fixed_key().public_jwk(), &untyped()));
        prop_assert!(result.is_err(), "{changed}");
    }

    #[test]
    fn claims_validation_never_panics(
        exp in proptest::option::of(any::<i64>()),
        nbf in proptest::option::of(any::<i64>()),
        iat in proptest::option::of(any::<i64>()),
        now in any::<i64>(),
        leeway in any::<i64>(),
        max_age in proptest::option::of(any::<i64>()),
    ) {
        let mut claims = RegisteredClaims::new();
        claims.exp = exp;
        claims.nbf = nbf;
        claims.iat = iat;
        let mut check = ClaimsValidation::new(now).leeway(Duration::seconds(leeway));
        if let Some(age) = max_age {
            check = check.max_age(Duration::seconds(age));
        }
        let _ = claims.validate(&check);
        let _ = claims.validate(&check.without_exp());
    }

    #[test]
    fn exported_jwks_parse_back_equal(seed in any::<u8>()) {
        let alg = Algorithm::ALL[usize::from(seed) % 2 + 1];
        let key = SigningKey::generate(alg).unwrap();
        let text = serde_json::to_string(key.public_jwk()).unwrap();
        let back = Jwk::parse(&text).unwrap();
        prop_assert_eq!(&back, key.public_jwk());
        prop_assert_eq!(back.thumbprint(), key.public_jwk().thumbprint());
    }
}

#[tokio::test]
async fn ps256_round_trips_with_jsonwebtoken_and_never_passes_for_rs256() {
    // RFC 7515 Appendix A.2's RSA key, once as RS256 (its JWK has no alg) and once as PS256.
    let rs = SigningKey::from_jwk(RFC7515_RSA).unwrap();
    let pem = rs.to_pkcs8_pem().unwrap();
    let ps = SigningKey::from_pkcs8_pem(&pem)
        .unwrap()
        .with_algorithm(Algorithm::Ps256)
        .unwrap()
        .with_kid("ps")
        .unwrap();
    assert_eq!(rs.algorithm(), Algorithm::Rs256);
    let published = serde_json::to_value(ps.public_jwk()).unwrap();
    assert_eq!(published["alg"], "PS256");
    assert_eq!(published["kty"], "RSA");

    // Theirs signs PS256, ours verifies it with the published JWK (and only with it).
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("ps".into());
    let claims = access_claims();
    let theirs = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
    let set = JwkSet::new(vec![Jwk::parse(&published.to_string()).unwrap()]).unwrap();
    let verified = UnverifiedJws::parse(&theirs)
        .unwrap()
        .verify_with_set(&set, &Typ::AT_JWT)
        .unwrap();
    assert_eq!(verified.claims::<AccessClaims>().unwrap(), claims);
    assert_eq!(verified.header().algorithm(), Algorithm::Ps256);
    // The same RSA key as an RS256 JWK does not verify a PS256 token, nor the other way.
    assert_eq!(
        verify(&theirs, rs.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
    let pkcs1 = jose::sign_claims(&rs, &Typ::AT_JWT, &claims).await.unwrap();
    assert_eq!(
        verify(&pkcs1, ps.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
    // A PKCS#1 v1.5 signature relabelled PS256 fails the PSS check.
    let relabelled = {
        let parts: Vec<&str> = pkcs1.split('.').collect();
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"PS256","typ":"at+jwt","kid":"ps"}"#),
            parts[1],
            parts[2]
        )
    };
    assert_eq!(
        verify(&relabelled, ps.public_jwk(), &Typ::AT_JWT).unwrap_err(),
        JwsError::Signature
    );

    // Ours signs PS256 (a fresh salt each time), theirs verifies it from our JWK.
    let ours = jose::sign_claims(&ps, &Typ::AT_JWT, &claims).await.unwrap();
    assert_ne!(
        ours,
        jose::sign_claims(&ps, &Typ::AT_JWT, &claims).await.unwrap()
    );
    let their_jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(published).unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&their_jwk).unwrap();
    let data =
        jsonwebtoken::decode::<AccessClaims>(&ours, &decoding, &their_validation(Algorithm::Ps256))
            .unwrap();
    assert_eq!(data.claims, claims);
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::PS256);
}

#[tokio::test]
async fn an_embedded_rsa_jwk_without_alg_verifies_the_headers_ps256() {
    // A DPoP-style proof whose jwk names no alg (as RFC 9449 clients send them), signed PS256.
    let key = SigningKey::generate(Algorithm::Ps256).unwrap();
    let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"PS256","jwk":{jwk}}}"#);
    let proof = forge(&key, &header, b"{}").await;
    let unverified = UnverifiedJws::parse(&proof).unwrap();
    assert_eq!(
        unverified.header().jwk().unwrap().algorithm(),
        Algorithm::Rs256
    );
    let verified = unverified.verify_with_embedded_jwk(&Typ::DPOP_JWT).unwrap();
    assert_eq!(verified.header().algorithm(), Algorithm::Ps256);
    // Relabelled RS256, the PSS signature fails: the header's algorithm is checked for real.
    let relabelled = {
        let parts: Vec<&str> = proof.split('.').collect();
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{jwk}}}"#);
        format!("{}.{}.{}", b64(header), parts[1], parts[2])
    };
    assert_eq!(
        UnverifiedJws::parse(&relabelled)
            .unwrap()
            .verify_with_embedded_jwk(&Typ::DPOP_JWT)
            .unwrap_err(),
        JwsError::Signature
    );
    // An embedded EC key never becomes an RSA one.
    let ec = es256();
    let ec_jwk = serde_json::to_string(ec.public_jwk()).unwrap();
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"PS256","jwk":{ec_jwk}}}"#);
    let token = forge(&key, &header, b"{}").await;
    assert_eq!(
        UnverifiedJws::parse(&token)
            .unwrap()
            .verify_with_embedded_jwk(&Typ::DPOP_JWT)
            .unwrap_err(),
        JwsError::AlgorithmMismatch
    );
}
