//! Keys, JWKs and compact JWS: the signing layer under OpenID Connect ID tokens, JWT access
//! tokens (RFC 9068) and DPoP proofs (RFC 9449). Behind the `jose` feature (on by default).
//!
//! So far: algorithms, public JWKs and JWK Sets with RFC 7638 thumbprints, signing keys and
//! the `Signer` trait.

// Helpers used by the JWS part that follows.
#![allow(dead_code)]

mod alg;
mod base64url;
mod json;
mod jwk;
mod jwk_set;
mod key;
mod pem;
mod signer;

pub use alg::Algorithm;
pub use jwk::{Jwk, JwkError, MAX_JWK_LEN, MAX_KID_LEN};
pub use jwk_set::JwkSet;
pub use key::{KeyError, MAX_SIGNING_KID_LEN, SigningKey};
pub use signer::{SignError, Signer};
