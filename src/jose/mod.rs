//! Keys, JWKs and compact JWS: the signing layer under OpenID Connect ID tokens, JWT access
//! tokens (RFC 9068) and DPoP proofs (RFC 9449). Behind the `jose` feature (on by default).
//!
//! This first part: algorithms, public JWKs and JWK Sets with RFC 7638 thumbprints.

// Helpers used by the signing and JWS parts that follow.
#![allow(dead_code)]

mod alg;
mod base64url;
mod json;
mod jwk;
mod jwk_set;

pub use alg::Algorithm;
pub use jwk::{Jwk, JwkError, MAX_JWK_LEN, MAX_KID_LEN};
pub use jwk_set::JwkSet;
