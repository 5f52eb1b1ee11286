//! Redirect URIs: accepted ones are absolute, short, fragment-free, not a dangerous scheme, kept
//! byte-for-byte, and exact matching accepts only the registered text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::{ExactRedirect, RedirectPolicy, RedirectUri};

fuzz_target!(|text: &str| {
    let registered = RedirectUri::parse("https://client.example/cb").expect("fixed");
    let loopback = RedirectUri::parse("http://127.0.0.1/cb").expect("fixed");
    let policy = ExactRedirect::default();
    if let Ok(uri) = RedirectUri::parse(text) {
        assert_eq!(uri.as_str(), text);
        assert!(text.len() <= RedirectUri::MAX_LEN);
        assert!(!text.contains('#'));
        assert!(!matches!(
            url::Url::parse(uri.as_str()).expect("accepted").scheme(),
            "javascript" | "data" | "vbscript" | "file"
        ));
        let json = serde_json::to_string(&uri).expect("serialize");
        let back: RedirectUri = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, uri);
    }
    match policy.resolve(&[registered.clone(), loopback.clone()], Some(text)) {
        Ok(chosen) => {
            // Only a registered URI, or the loopback one with another port (RFC 8252 §7.3).
            if chosen.as_str() != registered.as_str() {
                assert!(chosen.is_loopback_http(), "{text:?} matched {chosen:?}");
                let url = url::Url::parse(chosen.as_str()).expect("accepted");
                assert_eq!(url.path(), "/cb");
                assert_eq!(url.query(), None);
                assert!(url.username().is_empty() && url.password().is_none());
                assert!(matches!(url.host_str(), Some("127.0.0.1")));
            }
        }
        Err(_) => assert_ne!(text, registered.as_str()),
    }
});
