//! The token, revocation, introspection and device authorization endpoints: every grant's
//! parameters and HTTP Basic credentials. Answers are a success or an RFC error body, never a
//! 5xx; successes never widen scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::testkit::ResponseExt as _;
use tessera::{FormRequest, ScopeSet};
use tessera_fuzz::{assert_error_body, basic, block_on, expand, world};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let world = world();
    let provider = &world.provider;
    let (header, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&[][..], rest),
    };
    let body = match std::str::from_utf8(body) {
        Ok(text) => expand(world, text).into_bytes(),
        Err(_) => body.to_vec(),
    };
    let header = String::from_utf8_lossy(header).into_owned();
    let authorization = match selector % 4 {
        0 => Some(basic(&world.confidential_id, &world.confidential_secret)),
        1 => None,
        2 => Some(header),
        _ => Some(format!("Basic {header}")),
    };
    let request = FormRequest::new(body).with_authorization(authorization.as_deref());
    let endpoint = (selector / 4) % 4;
    let response = block_on(async {
        match endpoint {
            0 => provider.token(&request).await,
            1 => provider.revoke(&request).await,
            2 => provider.introspect(&request).await,
            _ => provider.device_authorization(&request).await,
        }
    });
    assert!(response.status < 500, "status {}", response.status);
    if response.status >= 400 {
        assert_error_body(&response);
        if response.status == 401 {
            let challenge = response.header("www-authenticate");
            let basic_used = authorization
                .as_deref()
                .is_some_and(|h| h.trim().to_ascii_lowercase().starts_with("basic "));
            if challenge.is_some() {
                assert!(
                    basic_used
                        || authorization
                            .as_deref()
                            .is_some_and(|h| h.trim().eq_ignore_ascii_case("basic"))
                );
            }
        }
        return;
    }
    let body = response.json_body().expect("JSON success");
    if endpoint == 0 {
        assert_eq!(response.status, 200);
        assert!(body["access_token"].is_string(), "{body}");
        let offered = ScopeSet::parse("read write offline_access").expect("fixed");
        if let Some(scope) = body["scope"].as_str() {
            assert!(ScopeSet::parse(scope).expect("scope").is_subset(&offered));
        }
    }
});
