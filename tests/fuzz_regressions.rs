//! Inputs the fuzz targets in `fuzz/` found (or that their invariants showed reachable), kept
//! as regression tests. Each names the target and the invariant it broke.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use tessera::{ErrorCode, Limits, OAuthError, Params, ScopeSet, TokenHash};

/// RFC 6749 §5.2: `error_description` is `1*( %x20-21 / %x23-5B / %x5D-7E )`.
fn assert_description(description: &str) {
    assert!(
        !description.is_empty()
            && description.bytes().all(|b| b == 0x20
                || b == 0x21
                || (0x23..=0x5B).contains(&b)
                || (0x5D..=0x7E).contains(&b)),
        "error_description outside the RFC 6749 charset: {description:?}"
    );
}

fn assert_error_description(error: &OAuthError) {
    assert_description(error.description.as_deref().expect("a description"));
}

// fuzz target `scope`: the description of an invalid character held `§` (non-ASCII). The
// crash input was a single line feed.
#[test]
fn scope_error_description_is_ascii() {
    for input in ["\n", "\"", "a\\b", "é", "a\u{0}b", "\t"] {
        let error = ScopeSet::parse(input).expect_err(input);
        assert_eq!(error.code, ErrorCode::InvalidScope);
        assert_error_description(&error);
    }
}

// fuzz target `params`: a repeated or oversized parameter whose name holds `"` or `\` echoed
// them into the description.
#[test]
fn parameter_names_echoed_in_descriptions_are_quoted_safely() {
    for query in ["a\"b=1&a\"b=2", "x%5C=1&x%5C=2", "%22%22=1&%22%22=2"] {
        let error = Params::from_query(query, &Limits::default()).expect_err(query);
        assert_eq!(error.code, ErrorCode::InvalidRequest);
        assert_error_description(&error);
    }
    let long = format!("a\"\\b={}", "x".repeat(5000));
    let error = Params::from_query(&long, &Limits::default()).expect_err("too long");
    assert_error_description(&error);
}

// fuzz target `register`: serde_json's message quotes the offending input (`"`, non-ASCII,
// control characters) and was copied into the description; the response_types message held
// `"` itself; an unknown grant type was echoed raw.
#[tokio::test]
async fn registration_errors_do_not_echo_raw_input() {
    let h = harness();
    for body in [
        &br#"{"redirect_uris": "not a list \" \\ \u00e9"}"#[..],
        br#"{"redirect_uris": ["https://a.example/cb"], "client_name": 5}"#,
        br#"{"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}"#,
        br#"{"redirect_uris": ["https://a.example/cb"], "grant_types": ["x\"\\\u00e9\n"]}"#,
        b"{\xff}",
        b"",
        b"[[[[[[[[[[",
    ] {
        let response = h.provider.register(body, None).await;
        assert_eq!(response.status, 400, "{}", String::from_utf8_lossy(body));
        let json = response.json_body().unwrap();
        assert_eq!(json["error"], "invalid_client_metadata");
        assert_description(json["error_description"].as_str().unwrap());
    }
}

// fuzz target `token_formats`: `from_hex` accepted a sign (`u8::from_str_radix("+f")`), so a
// non-canonical text decoded and did not round-trip.
#[test]
fn token_hash_hex_is_canonical() {
    let signed = "+f".repeat(32);
    assert_eq!(TokenHash::from_hex(&signed), None);
    let hash = TokenHash::of("x");
    assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
    assert_eq!(
        TokenHash::from_hex(&hash.to_hex().to_ascii_uppercase()),
        Some(hash)
    );
}

// Invariant of every endpoint target: no description in any token-endpoint error leaves the
// charset, whatever the parameters.
#[tokio::test]
async fn token_endpoint_errors_stay_in_the_charset() {
    let h = harness();
    let client = h.confidential().await;
    for body in [
        "grant_type=%22",
        "grant_type=client_credentials&scope=%C3%A9",
        "grant_type=client_credentials&scope=a%22b",
        "grant_type=refresh_token&refresh_token=%5C",
        "grant_type=authorization_code&code=x&code=y",
        "grant_type=client_credentials&%22=1&%22=2",
    ] {
        let response = h.token(&client, body).await;
        assert!(response.status >= 400 && response.status < 500, "{body}");
        let json = response.json_body().unwrap();
        assert_description(json["error_description"].as_str().unwrap());
    }
}
