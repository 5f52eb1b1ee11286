//! Dynamic registration (RFC 7591) with arbitrary JSON: either a 201 whose document holds only
//! acceptable redirect URIs, or an RFC 7591 error with a well-formed description.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::RedirectUri;
use tessera::testkit::ResponseExt as _;
use tessera_fuzz::{assert_error_body, block_on, world};

fuzz_target!(|data: &[u8]| {
    let world = world();
    let response = block_on(world.provider.register(data, None));
    match response.status {
        201 => {
            let doc = response.json_body().expect("JSON document");
            assert!(doc["client_id"].is_string());
            for uri in doc["redirect_uris"].as_array().into_iter().flatten() {
                let uri = RedirectUri::parse(uri.as_str().expect("string")).expect("valid");
                let url = url::Url::parse(uri.as_str()).expect("accepted");
                assert!(url.username().is_empty() && url.password().is_none());
                if url.scheme() == "http" {
                    assert!(
                        uri.is_loopback_http() || url.host_str() == Some("localhost"),
                        "{uri:?}"
                    );
                }
            }
        }
        400 => {
            assert_error_body(&response);
            let body = response.json_body().expect("JSON");
            let code = body["error"].as_str().expect("code");
            assert!(
                matches!(code, "invalid_client_metadata" | "invalid_redirect_uri"),
                "{code}"
            );
        }
        other => panic!("status {other}"),
    }
});
