//! The authorization request (RFC 6749 §4.1.1): untrusted errors are never redirected,
//! redirected errors go only to a registered URI with `state` and `iss`, and accepted requests
//! never widen scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::testkit::RedirectExt as _;
use tessera::{AuthorizeError, Limits, Params, ScopeSet};
use tessera_fuzz::{REDIRECT, assert_error, block_on, expand, world};

fuzz_target!(|text: &str| {
    let world = world();
    let provider = &world.provider;
    let query = expand(world, text);
    let Ok(params) = Params::from_query(&query, &Limits::default()) else {
        return;
    };
    match block_on(provider.authorize(&params)) {
        Ok(pending) => {
            let offered = ScopeSet::parse("read write offline_access").expect("fixed");
            assert!(pending.scopes().is_subset(&offered));
            assert_eq!(pending.redirect_uri().as_str(), REDIRECT);
            assert_eq!(pending.state(), params.get("state"));
            let redirect = pending.deny(provider);
            assert_eq!(redirect.param("error").as_deref(), Some("access_denied"));
            assert_eq!(redirect.param("state").as_deref(), params.get("state"));
            assert!(redirect.param("code").is_none());
        }
        Err(AuthorizeError::Untrusted(error)) => {
            // A client or redirect URI that cannot be trusted, or a `request` / `request_uri`
            // that cannot be (RFC 9101 §6.2, RFC 9126 §4), never a store fault: the world's
            // memory store has none.
            assert!(
                matches!(
                    error.code.as_str(),
                    "invalid_request"
                        | "unauthorized_client"
                        | "invalid_request_uri"
                        | "invalid_request_object"
                        | "request_not_supported"
                        | "request_uri_not_supported"
                ),
                "{error:?}"
            );
            assert_eq!(error.status(), 400);
            assert_error(error.code.as_str(), Some(&error.description));
        }
        Err(AuthorizeError::Redirect(held)) => {
            // Redirected only for a signed-in user (RFC 9700 §4.11.2).
            let redirect = held.after_login(&tessera::UserId::new("alice"));
            let location = redirect.location();
            assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
            let code = redirect.param("error").expect("error");
            assert_error(&code, redirect.param("error_description").as_deref());
            assert_eq!(redirect.param("state").as_deref(), params.get("state"));
            assert_eq!(
                redirect.param("iss").as_deref(),
                Some("https://auth.example.com")
            );
            assert!(redirect.param("code").is_none());
            // Parameters from the request never inject into the response's own fields.
            let response = redirect.to_response();
            assert_eq!(response.status, 302);
            assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        }
        Err(_) => unreachable!("AuthorizeError has two variants"),
    }
});
