//! Token formats: `is_well_formed` accepts exactly the generated shape, and the hex and
//! stored-hash encodings round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::{ClientId, SecretHash, TokenHash, TokenKind};

const KINDS: [TokenKind; 6] = [
    TokenKind::AuthorizationCode,
    TokenKind::AccessToken,
    TokenKind::RefreshToken,
    TokenKind::ClientSecret,
    TokenKind::DeviceCode,
    TokenKind::RegistrationAccessToken,
];

fuzz_target!(|text: &str| {
    let mut matches = 0;
    for kind in KINDS {
        if kind.is_well_formed(text) {
            matches += 1;
            assert_eq!(text.len(), TokenKind::LEN);
            assert!(text.starts_with(kind.prefix()));
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
    }
    assert!(matches <= 1, "{text:?} is well formed for two kinds");
    if let Some(hash) = TokenHash::from_hex(text) {
        assert_eq!(hash.to_hex(), text.to_ascii_lowercase());
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
    }
    assert_eq!(TokenHash::of(text), TokenHash::of(text));
    if let Some(stored) = SecretHash::decode(text) {
        assert_eq!(SecretHash::decode(&stored.encode()), Some(stored.clone()));
        // (Not verified: a stored PHC string is trusted input and may ask Argon2 for any cost.)
    }
    if let Ok(id) = ClientId::new(text) {
        assert_eq!(id.as_str(), text);
        assert!(!text.is_empty() && text.len() <= tessera::ClientId::MAX_LEN);
    }
});
