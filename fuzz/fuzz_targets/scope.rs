//! Scope lists: every error is `invalid_scope`, the set is bounded, and Display round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::{ErrorCode, Scope, ScopeSet};
use tessera_fuzz::assert_description;

fuzz_target!(|text: &str| {
    match ScopeSet::parse(text) {
        Ok(set) => {
            assert!(set.len() <= ScopeSet::MAX_SCOPES);
            let wire = set.to_string();
            assert_eq!(ScopeSet::parse(&wire).expect("round trip"), set);
            for scope in set.iter() {
                assert!(scope.as_str().len() <= Scope::MAX_LEN);
                assert!(!scope.as_str().contains(' '));
                assert!(Scope::new(scope.as_str()).is_ok());
            }
            let json = serde_json::to_string(&set).expect("serialize");
            let back: ScopeSet = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, set);
            // Set algebra never widens.
            let other = ScopeSet::parse("read write").expect("fixed");
            assert!(set.intersection(&other).is_subset(&set));
            assert!(set.intersection(&other).is_subset(&other));
            assert!(set.is_subset(&set.union(&other)));
        }
        Err(error) => {
            assert_eq!(error.code, ErrorCode::InvalidScope);
            assert_description(error.description.as_deref().expect("described"));
        }
    }
});
