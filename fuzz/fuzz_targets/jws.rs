//! Compact JWS and JWK parsing (`tessera::jose`): no input panics; no token verifies except
//! the one the fixed key signed (the RFC 8037 Appendix A.4 vector, which is the seed); a
//! parsed JWK serialises to a JWK that parses back equal with the same thumbprint; the
//! header of every parsed token passed the refusals (no `none`, `crit`, `jku`, `x5u`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera::jose::{Jwk, JwkSet, SigningKey, Typ, UnverifiedJws};

/// RFC 8037 Appendix A.1.
const KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// RFC 8037 Appendix A.4.
const SIGNED: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn key() -> &'static Jwk {
    static KEY_JWK: OnceLock<Jwk> = OnceLock::new();
    KEY_JWK.get_or_init(|| SigningKey::from_jwk(KEY).expect("fixed").public_jwk().clone())
}

fuzz_target!(|text: &str| {
    if let Ok(token) = UnverifiedJws::parse(text) {
        let header = token.header();
        for refused in ["crit", "jku", "x5u", "b64", "zip", "enc"] {
            assert!(!header.contains(refused), "{refused} passed");
        }
        let verified = token.verify(key(), &Typ::JWT.or_absent());
        if verified.is_ok() {
            assert_eq!(text, SIGNED, "a token the key never signed verified");
        }
    }
    if let Ok(jwk) = Jwk::parse(text) {
        let wire = serde_json::to_string(&jwk).expect("serialize");
        let back = Jwk::parse(&wire).expect("an exported JWK parses");
        assert_eq!(back, jwk);
        assert_eq!(back.thumbprint(), jwk.thumbprint());
        assert!(!wire.contains("\"d\""));
    }
    if let Ok(set) = JwkSet::parse(text) {
        let wire = serde_json::to_string(&set).expect("serialize");
        assert_eq!(JwkSet::parse(&wire).expect("an exported set parses"), set);
    }
    let _ = SigningKey::from_jwk(text);
});
