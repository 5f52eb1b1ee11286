//! Keys, JWKs and compact JWS: the signing layer under OpenID Connect ID tokens, JWT access
//! tokens (RFC 9068) and DPoP proofs (RFC 9449). Behind the `jose` feature (on by default).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera::jose::{
//!     Algorithm, ClaimsValidation, KeySchedule, KeySet, RegisteredClaims, SigningKey, Typ,
//!     UnverifiedJws,
//! };
//! use time::Duration;
//!
//! // Every provider instance builds the same key set from the same keys.
//! let rs256 = SigningKey::generate(Algorithm::Rs256)?;
//! let keys = KeySet::builder(Duration::hours(1))
//!     .key(rs256, KeySchedule::always())
//!     .build()?;
//! let now = 1_767_225_600;
//!
//! // Sign a JWT access token...
//! let claims = RegisteredClaims::new()
//!     .issuer("https://as.example")
//!     .subject("alice")
//!     .audience("https://api.example")
//!     .issued_at(now)
//!     .expires_at(now + 300);
//! let payload = serde_json::to_vec(&claims)?;
//! let token = keys.sign(Algorithm::Rs256, &Typ::AT_JWT, &payload, now).await?;
//!
//! // ...publish the public keys...
//! let jwks = serde_json::to_string(&keys.jwks(now))?;
//!
//! // ...and verify it as a resource server would: signature, alg, typ, then claims.
//! let jwks = tessera::jose::JwkSet::parse(&jwks)?;
//! let verified = UnverifiedJws::parse(&token)?.verify_with_set(&jwks, &Typ::AT_JWT)?;
//! let claims: RegisteredClaims = verified.claims()?;
//! let check = ClaimsValidation::new(now + 10)
//!     .issuer("https://as.example")
//!     .audience("https://api.example")
//!     .leeway(Duration::seconds(30));
//! claims.validate(&check)?;
//!
//! // A token of another type is refused, whatever its signature.
//! assert!(UnverifiedJws::parse(&token)?.verify_with_set(&jwks, &Typ::DPOP_JWT).is_err());
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # What is supported
//! * **Compact JWS** (RFC 7515 §7.1), signed and verified, with `RS256` and `PS256` (RSA
//!   2048 to 8192 bits; a key is one or the other, `PS256` only if its JWK says so),
//!   `ES256` (P-256) and `EdDSA` (Ed25519): [`Algorithm`].
//! * **Verification returns only checked values.** [`UnverifiedJws::parse`] refuses, before
//!   any key is looked at: more than [`MAX_JWS_LEN`] bytes; anything but three strict
//!   base64url parts (no padding, no whitespace, canonical trailing bits); a header that is
//!   not one JSON object or repeats a member name; `alg: none` and every algorithm not
//!   above; `crit`; `jku` and `x5u`; `b64`, `zip`, `enc`. Verifying then requires the
//!   caller's key, whose one algorithm must be the token's `alg` (so an RSA public key can
//!   never be used as an HMAC secret, nor an ES256 key for anything else), and the caller's
//!   [`Typ`] (RFC 8725 §3.11), before the signature. Only a [`VerifiedJws`] gives the payload.
//! * **JWK** (RFC 7517, 7518 §6, 8037): public JWK export and validated parsing ([`Jwk`],
//!   [`JwkSet`]); no private member is ever accepted where a public key is expected; RFC
//!   7638 thumbprints ([`Jwk::thumbprint`]), DPoP's `jkt`.
//! * **Signing keys** ([`SigningKey`]): generated, or loaded from PKCS#8 PEM/DER or a private
//!   JWK; redacted `Debug`, no `Serialize`, every buffer of private material zeroized.
//! * **A [`Signer`] trait** so that keys can live in a KMS or HSM, and a [`KeySet`] with
//!   rotation (next, active, retired) computed from timestamps, the same on every instance.
//! * **Registered claims** ([`RegisteredClaims`], [`ClaimsValidation`]): `iss`, `sub`, `aud`,
//!   `exp`, `nbf`, `iat`, `jti`, integer times, a leeway, saturating arithmetic.
//!
//! # What is not, and why
//! * **JWE, the JWS JSON serialisations, unencoded payloads (RFC 7797), `crit` extensions**:
//!   none of OpenID Connect, RFC 9068 or DPoP needs them, and each is attack surface.
//! * **HMAC (`HS256`...)**: shared-secret tokens would give every verifier the power to mint;
//!   and an HMAC verifier next to an RSA one is the classic algorithm-confusion attack. The
//!   one exception is inside the provider: `client_secret_jwt` assertions (HS256 keyed by a
//!   client secret the provider derives, see
//!   [`ProviderBuilder::client_secret_jwt_key`](crate::ProviderBuilder::client_secret_jwt_key))
//!   are parsed by a separate, crate-private type that no public verifier, request object,
//!   DPoP proof or ID token path uses, and only for a client registered with that method.
//! * **ES384, ES512, PS384, PS512, Ed448, secp256k1**: not needed by the protocols above;
//!   adding one is an [`Algorithm`] variant and its key type.
//! * **Keys from `jku`, `x5u` or `x5c`**: a token never chooses where its key comes from. The
//!   only key taken from a token is DPoP's `jwk`, through the explicitly named
//!   [`UnverifiedJws::verify_with_embedded_jwk`].
//! * **Fractional NumericDates**: times are whole seconds everywhere in tessera.
//! * **RFC 9864 fully-specified algorithm names** (`Ed25519` for `EdDSA`): not yet.
//!
//! # Why aws-lc-rs
//! The signatures come from [aws-lc-rs](https://docs.rs/aws-lc-rs), chosen over *ring*:
//!
//! | | *ring* 0.17.14 | aws-lc-rs 1.19 (aws-lc-sys 0.47) |
//! | --- | --- | --- |
//! | clean build, debug, of a crate using it (2 cores, shared) | 13.5 s | 110 s |
//! | clean build, release | 24 s | 216 s |
//! | `target/` after the debug build | 49 MB | 103 MB |
//! | generates RSA keys | no | yes |
//! | RS256, ES256, EdDSA; P-384, P-521, PS256 | yes | yes |
//! | build needs | a C compiler | a C compiler (no CMake, Go or NASM on Linux x86-64) |
//! | maintenance | the rustls team and its author (briefly declared unmaintained in February 2025, RUSTSEC-2025-0007, withdrawn) | AWS, releases every few weeks; rustls' default provider; FIPS variant |
//!
//! The build cost is aws-lc's C, about a minute and a half of the two cores once per clean
//! build (the measurements: `cargo build` of a scratch crate signing with each, load
//! average 4 to 5 from other builds on the machine). What decides is that the example
//! server, and any host without a key-management process, must generate an RS256 key at
//! start, and *ring* cannot generate RSA keys; the only pure-Rust alternative, the `rsa`
//! crate, has an unfixed timing side channel (RUSTSEC-2023-0071). `--no-default-features`
//! leaves aws-lc out entirely.
//!
//! Key generation and ECDSA nonces use aws-lc's own DRBG, seeded from the operating system,
//! not the provider's [`Entropy`](crate::Entropy): aws-lc-rs ignores any generator passed
//! in. RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic.

mod alg;
mod base64url;
mod claims;
mod header;
mod json;
pub(crate) mod jwk;
mod jwk_set;
mod jws;
mod key;
mod key_set;
mod pem;
mod signer;
mod typ;

pub use alg::Algorithm;
pub use claims::{Audience, ClaimsError, ClaimsValidation, RegisteredClaims};
pub use header::Header;
pub use jwk::{Jwk, JwkError, MAX_JWK_LEN, MAX_KID_LEN};
pub use jwk_set::JwkSet;
pub(crate) use jws::{Hs256Jws, verified_claims};
pub use jws::{JwsError, MAX_JWS_LEN, UnverifiedJws, VerifiedJws, sign, sign_claims};
pub use key::{KeyError, MAX_SIGNING_KID_LEN, SigningKey};
pub use key_set::{KeySchedule, KeySet, KeySetBuilder, KeySetError, KeyState};
pub use signer::{SignError, Signer};
pub use typ::Typ;
