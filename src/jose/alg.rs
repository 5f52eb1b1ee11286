//! The signature algorithms of the JOSE layer (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaParameters, VerificationAlgorithm,
};

/// A JWS signature algorithm this crate signs and verifies with.
///
/// Each key has exactly one algorithm, so a key fixes the only algorithm it verifies: a
/// P-256 key `ES256`, an Ed25519 key `EdDSA`, an RSA key `RS256`, or `PS256` if its JWK says
/// `"alg":"PS256"` (an RSA key never verifies both). `none` and the HMAC algorithms are not
/// algorithms of this type, so no token can ask for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), the algorithm every OpenID Connect
    /// provider must offer. Keys of 2048 to 8192 bits.
    Rs256,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4); the signature is `R || S`, 64 bytes.
    Es256,
    /// EdDSA on Ed25519 (RFC 8037 §3.1); Ed448 is not supported.
    EdDsa,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256, salt of 32 bytes (RFC 7518 §3.5), which
    /// FAPI 2.0 accepts where it refuses RS256. RSA keys of 2048 to 8192 bits whose JWK says
    /// `"alg":"PS256"`.
    Ps256,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Rs256, Self::Es256, Self::EdDsa, Self::Ps256];

    /// The `alg` value (RFC 7518 §3.1), case-sensitive.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Ps256 => "PS256",
        }
    }

    /// The algorithm named `name`, exactly (JOSE names are case-sensitive); `None` for
    /// `none`, the HMAC algorithms and everything else not supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    /// The JWK `kty` of the keys of this algorithm (RFC 7518 §6.1, RFC 8037 §2).
    pub const fn key_type(self) -> &'static str {
        match self {
            Self::Rs256 | Self::Ps256 => "RSA",
            Self::Es256 => "EC",
            Self::EdDsa => "OKP",
        }
    }

    /// The length of a signature, where it is fixed (`None` for RSA, whose signatures are as
    /// long as the modulus).
    pub(crate) const fn signature_len(self) -> Option<usize> {
        match self {
            Self::Rs256 | Self::Ps256 => None,
            Self::Es256 | Self::EdDsa => Some(64),
        }
    }

    /// The aws-lc-rs verification parameters.
    pub(crate) fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Rs256 => &RSA_PKCS1_2048_8192_SHA256,
            Self::Es256 => &ECDSA_P256_SHA256_FIXED,
            Self::EdDsa => &ED25519,
            Self::Ps256 => &RSA_PSS_2048_8192_SHA256,
        }
    }

    /// The aws-lc-rs RSA verification parameters, for the RSA algorithms.
    pub(crate) fn rsa_verification(self) -> Option<&'static RsaParameters> {
        match self {
            Self::Rs256 => Some(&RSA_PKCS1_2048_8192_SHA256),
            Self::Ps256 => Some(&RSA_PSS_2048_8192_SHA256),
            Self::Es256 | Self::EdDsa => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_none_is_not_an_algorithm() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.as_str()), Some(alg));
        }
        for name in [
            "none", "None", "HS256", "rs256", "RS384", "PS384", "ps256", "Ed25519", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }
}
