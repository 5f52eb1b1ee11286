//! Bearer extraction (RFC 6750 §2) from header, query and form: refusals are RFC 6750 errors
//! with a quotable challenge; acceptance means the one live token with the required scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::{BearerRequest, ErrorCode, ScopeSet};
use tessera_fuzz::{assert_description, block_on, expand, world};

fuzz_target!(|text: &str| {
    let world = world();
    let provider = &world.provider;
    let text = expand(world, text);
    let mut parts = text.splitn(3, '\n');
    let header = parts.next().filter(|h| !h.is_empty());
    let query = parts.next();
    let form = parts.next().map(str::as_bytes);
    let request = BearerRequest::new(header, query, form);
    let required = ScopeSet::parse("read").expect("fixed");
    match block_on(provider.validate_bearer(&request, &required)) {
        Ok(principal) => {
            assert_eq!(principal.client_id().as_str(), world.confidential_id);
            assert!(required.is_subset(principal.scopes()));
            assert!(text.contains(&world.access_token));
        }
        Err(error) => {
            assert!(matches!(error.status(), 400 | 401 | 403), "{error:?}");
            if let Some(code) = &error.code {
                assert!(matches!(
                    code,
                    ErrorCode::InvalidRequest
                        | ErrorCode::InvalidToken
                        | ErrorCode::InsufficientScope
                ));
            }
            if let Some(description) = error.description {
                assert_description(description);
            }
            let challenge = error.challenge("tessera");
            assert!(challenge.starts_with("Bearer realm=\"tessera\""));
            assert_eq!(challenge.matches('"').count() % 2, 0, "{challenge}");
            let response = error.to_response(provider);
            assert!(response.header("www-authenticate").is_some());
        }
    }
});
