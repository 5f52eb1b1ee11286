//! Keys, JWKs and compact JWS: the signing layer under OpenID Connect ID tokens, JWT access
//! tokens (RFC 9068) and DPoP proofs (RFC 9449). Behind the `jose` feature (on by default).
//!
//! So far: algorithms, public JWKs and JWK Sets with RFC 7638 thumbprints, signing keys, the
//! `Signer` trait, compact JWS signing and verification, and the registered JWT claims.

mod alg;
mod base64url;
mod claims;
mod header;
mod json;
mod jwk;
mod jwk_set;
mod jws;
mod key;
mod pem;
mod signer;
mod typ;

pub use alg::Algorithm;
pub use claims::{Audience, ClaimsError, ClaimsValidation, RegisteredClaims};
pub use header::Header;
pub use jwk::{Jwk, JwkError, MAX_JWK_LEN, MAX_KID_LEN};
pub use jwk_set::JwkSet;
pub use jws::{JwsError, MAX_JWS_LEN, UnverifiedJws, VerifiedJws, sign, sign_claims};
pub use key::{KeyError, MAX_SIGNING_KID_LEN, SigningKey};
pub use signer::{SignError, Signer};
pub use typ::Typ;
