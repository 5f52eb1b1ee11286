//! Parameter maps from a query string or form body: bounded, duplicate-rejecting, and
//! `to_query` round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::{ErrorCode, Limits, Params};
use tessera_fuzz::assert_description;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match Params::from_form(data, &limits) {
        Ok(params) => {
            assert!(data.len() <= limits.max_bytes);
            let count = params.iter().count();
            assert!(count <= limits.max_params);
            for (name, value) in params.iter() {
                assert!(value.len() <= limits.max_value_len);
                assert!(!value.is_empty());
                assert_eq!(params.get(name), Some(value));
            }
            // Round trip: re-encoding and parsing gives the same map.
            let again = Params::from_query(&params.to_query(), &limits).expect("round trip");
            assert_eq!(again, params);
        }
        Err(error) => {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_description(error.description.as_deref().expect("described"));
        }
    }
    // Pairs a framework decoded: the same bounds.
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs = text.split('&').filter_map(|p| p.split_once('='));
        if let Err(error) = Params::from_pairs(pairs, &limits) {
            assert_eq!(error.code, ErrorCode::InvalidRequest);
            assert_description(error.description.as_deref().expect("described"));
        }
    }
});
