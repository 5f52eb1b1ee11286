//! Secret values and their hashes.
//!
//! Every secret tessera hands out (client secrets, authorization codes, access and refresh
//! tokens, device codes, registration access tokens) is a type made by one macro: its `Debug`
//! prints `Name(redacted)`, it has no `Display`, `PartialEq`, `Hash` or `Serialize`, reading its
//! value is a method named [`secret`](AccessToken::secret), and comparing two of them is done in
//! constant time. Stores never see one: they see its [`TokenHash`].
//!
//! # Token format
//! Generated secrets look like `tsr_at_` + 43 characters + 6 characters:
//!
//! * a prefix naming the kind (`tsr_ac_` code, `tsr_at_` access token, `tsr_rt_` refresh
//!   token, `tsr_cs_` client secret, `tsr_dc_` device code, `tsr_ra_` registration access
//!   token), so that secret scanners recognise a leaked one and a token presented in the wrong
//!   place is refused;
//! * 32 bytes (256 bits) from the provider's CSPRNG, base64url without padding;
//! * a CRC-32 of everything before it, base64url, so that a mistyped or forged string is refused
//!   without a storage lookup. The checksum is not a security control; the 256 random bits are.
//!
//! # Token hash
//! A store knows a generated secret by [`TokenHash::of`] it: the SHA-256 of its first 50
//! characters (prefix and random part, everything before the checksum). The checksum is derived
//! from those 50 characters, so leaving it out loses nothing, and 50 bytes fit one SHA-256 block
//! where the whole 56 would need two. Any other value (a user code, an imported secret, a string
//! that merely looks like a token but fails its checksum) is hashed whole.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::entropy::Entropy;

const RANDOM_BYTES: usize = 32;
const BODY_LEN: usize = 43;
const CHECK_LEN: usize = 6;

/// Which bytes may appear in base64url text: one table load per byte on the hot path.
static BASE64URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        byte += 1;
    }
    table
};

/// The kind of a generated secret, which fixes its prefix.
///
/// # Token format
/// Generated secrets look like `tsr_at_` + 43 characters + 6 characters: a prefix naming the
/// kind (so secret scanners recognise a leaked one and a token presented in the wrong place is
/// refused), 32 bytes (256 bits) from the provider's CSPRNG in base64url without padding, and a
/// CRC-32 of everything before it in base64url, so that a mistyped or forged string is refused
/// without a storage lookup. The checksum is not a security control; the 256 random bits are.
///
/// Stores know a generated secret by its [`TokenHash`]: the SHA-256 of its first 50 characters
/// (everything before the checksum, which is derived from them), one SHA-256 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// An authorization code, `tsr_ac_`.
    AuthorizationCode,
    /// An access token, `tsr_at_`.
    AccessToken,
    /// A refresh token, `tsr_rt_`.
    RefreshToken,
    /// A generated client secret, `tsr_cs_`.
    ClientSecret,
    /// A device code (RFC 8628), `tsr_dc_`.
    DeviceCode,
    /// A registration access token (RFC 7592), `tsr_ra_`.
    RegistrationAccessToken,
}

impl TokenKind {
    /// The prefix every generated secret of this kind starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "tsr_ac_",
            Self::AccessToken => "tsr_at_",
            Self::RefreshToken => "tsr_rt_",
            Self::ClientSecret => "tsr_cs_",
            Self::DeviceCode => "tsr_dc_",
            Self::RegistrationAccessToken => "tsr_ra_",
        }
    }

    /// The length of every generated secret (56 characters).
    pub const LEN: usize = 7 + BODY_LEN + CHECK_LEN;

    /// Draws a new secret string of this kind from `entropy`.
    pub fn generate(self, entropy: &dyn Entropy) -> String {
        let mut random = [0u8; RANDOM_BYTES];
        entropy.fill(&mut random);
        self.format(&random)
    }

    /// The secret string of this kind whose 256-bit body is `body` (drawn at random, or a
    /// keyed hash: a `client_secret_jwt` client's derived secret).
    pub(crate) fn format(self, body: &[u8; RANDOM_BYTES]) -> String {
        let mut out = String::with_capacity(Self::LEN);
        out.push_str(self.prefix());
        URL_SAFE_NO_PAD.encode_string(body, &mut out);
        // `check_chars` is `URL_SAFE_NO_PAD.encode` of the checksum (a unit test compares them).
        for c in check_chars(crc32fast::hash(out.as_bytes())) {
            out.push(char::from(c));
        }
        out
    }

    /// Whether `value` has this kind's prefix, length, alphabet and a correct checksum.
    /// Costs a CRC-32 of 50 bytes: no hash, no allocation, no storage.
    pub fn is_well_formed(self, value: &str) -> bool {
        let bytes = value.as_bytes();
        if bytes.len() != Self::LEN || !value.starts_with(self.prefix()) {
            return false;
        }
        let (signed, check) = bytes.split_at(Self::LEN - CHECK_LEN);
        // The checksum first: a forged or mistyped token fails it and skips the alphabet scan.
        check_chars(crc32fast::hash(signed)) == *check
            && bytes[7..].iter().all(|b| BASE64URL[usize::from(*b)])
    }
}

/// The base64url text (no padding) of a checksum's four big-endian bytes: six characters of six
/// bits each, the last with two zero bits. The same as `URL_SAFE_NO_PAD.encode`, without the
/// general encoder's length arithmetic on the path that refuses malformed tokens (a unit test
/// compares the two).
fn check_chars(crc: u32) -> [u8; CHECK_LEN] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = u64::from(crc) << 4;
    std::array::from_fn(|i| ALPHABET[((bits >> (30 - 6 * i)) & 63) as usize])
}

/// Lower-case hex of `bytes`, in one allocation (not one `format!` per byte).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

/// The part of a generated secret its [`TokenHash`] covers: everything before the checksum, when
/// `value` has the generated shape (56 bytes, `tsr_` prefix, the checksum of the rest). The
/// checksum is derived from this part, so hashing only it loses no information.
fn hashed_part(value: &str) -> Option<&[u8]> {
    let bytes = value.as_bytes();
    if bytes.len() != TokenKind::LEN || !bytes.starts_with(b"tsr_") || bytes[6] != b'_' {
        return None;
    }
    let (signed, check) = bytes.split_at(TokenKind::LEN - CHECK_LEN);
    (check_chars(crc32fast::hash(signed)) == *check).then_some(signed)
}

/// The SHA-256 of a secret: the only form in which stores keep codes and tokens.
///
/// For a generated secret (the [token format](TokenKind)) it is the SHA-256 of the 50 characters
/// before the checksum, one SHA-256 block instead of two; for any other value, of the whole
/// value. The checksum is derived from those 50 characters, so leaving it out loses nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a secret's text: a generated secret without its checksum, anything else whole.
    /// Every producer and consumer of stored hashes goes through here (the secret types'
    /// `hash` methods call it), so they all agree.
    pub fn of(secret: &str) -> Self {
        match hashed_part(secret) {
            Some(part) => Self::digest(part),
            None => Self::digest(secret.as_bytes()),
        }
    }

    /// [`TokenHash::of`] for a value already known to be well-formed (its checksum checked),
    /// skipping the second checksum on the hot path.
    pub(crate) fn of_well_formed(secret: &str) -> Self {
        debug_assert!(hashed_part(secret).is_some());
        Self::digest(&secret.as_bytes()[..TokenKind::LEN - CHECK_LEN])
    }

    fn digest(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Rebuilds a hash read back from storage.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Compares two hashes in time independent of where they differ (for hashes of
    /// presented secrets checked against stored ones).
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The 32 bytes, for storage.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, for key-value stores.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses the output of [`TokenHash::to_hex`].
    pub fn from_hex(hex: &str) -> Option<Self> {
        // Hex digits only: `from_str_radix` alone would also take a sign (`+f`).
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nothing of the value: the hashes of short secrets (device user codes, about 35 bits)
        // could be inverted by brute force from a log line.
        f.write_str("TokenHash(..)")
    }
}

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident, $kind:expr) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value received from a client or read from configuration.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// Draws a new value from `entropy` in the documented [token format](TokenKind).
            pub fn generate(entropy: &dyn Entropy) -> Self {
                Self($kind.generate(entropy))
            }

            /// [`Self::generate`] with [`Self::hash`]: a value just generated is well-formed by
            /// construction, so its checksum is not computed a second time (token issuance).
            pub(crate) fn generate_hashed(entropy: &dyn Entropy) -> (Self, TokenHash) {
                let value = $kind.generate(entropy);
                let hash = TokenHash::of_well_formed(&value);
                (Self(value), hash)
            }

            /// The secret value itself.
            ///
            /// # Security
            /// Whoever reads this can act as its holder. Send it only to its owner, over TLS;
            /// never log it, store it (store [`Self::hash`]) or put it in a URL.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Consumes the wrapper, returning the value. The same warning as [`Self::secret`].
            pub fn into_secret(self) -> String {
                self.0
            }

            /// The hash under which stores know this secret.
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }

            /// Whether the value has this kind's generated format (prefix, length, checksum).
            pub fn is_well_formed(&self) -> bool {
                $kind.is_well_formed(&self.0)
            }

            /// Compares two values in time independent of where they differ.
            pub fn ct_eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(redacted)"))
            }
        }
    };
}

secret_type!(
    /// A client secret (RFC 6749 §2.3.1), generated or imported.
    ClientSecret,
    TokenKind::ClientSecret
);
secret_type!(
    /// An authorization code (RFC 6749 §4.1.2). Single use: redeeming it takes it by value.
    AuthorizationCode,
    TokenKind::AuthorizationCode
);
secret_type!(
    /// A bearer access token (RFC 6750).
    AccessToken,
    TokenKind::AccessToken
);
secret_type!(
    /// A refresh token (RFC 6749 §6).
    RefreshToken,
    TokenKind::RefreshToken
);
secret_type!(
    /// A device code (RFC 8628 §3.2), held by the polling device.
    DeviceCode,
    TokenKind::DeviceCode
);
secret_type!(
    /// A registration access token (RFC 7592 §3), for the client configuration endpoint.
    RegistrationAccessToken,
    TokenKind::RegistrationAccessToken
);

/// How a client secret is kept: the only form in which stores see one.
///
/// Generated secrets carry 256 random bits, so a fast SHA-256 compared in constant time is as
/// strong as any password hash and costs microseconds per token request. A secret imported from
/// another system has unknown entropy (PhoneGap Build's documented example secret is `123456`),
/// so it is kept with Argon2id, which costs tens of milliseconds per check by design.
///
/// A `client_secret_jwt` client's secret is derived, never drawn: HMAC-SHA256 of the
/// provider's client secret key over the client ID and a random salt ([`SecretHash::Derived`]
/// keeps the salt next to the hash, so that a rotation changes both in one store write). The
/// provider recomputes it to check the client's HS256 assertions; nothing stored lets anyone
/// compute it without the key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretHash {
    /// SHA-256 of a generated, high-entropy secret.
    Sha256(TokenHash),
    /// An Argon2id PHC string of an imported secret of unknown entropy.
    Argon2(String),
    /// A derived `client_secret_jwt` secret (see
    /// [`ProviderBuilder::client_secret_jwt_key`](crate::ProviderBuilder::client_secret_jwt_key)):
    /// the random, non-secret salt it was derived with, and the SHA-256 of the secret (as for
    /// [`SecretHash::Sha256`]), which tells which of the provider's keys derived it.
    Derived {
        /// The salt the secret was derived with; a rotation draws a new one.
        salt: [u8; 16],
        /// [`TokenHash::of`] the derived secret.
        hash: TokenHash,
    },
}

/// The length of a [`SecretHash::Derived`] salt, in bytes.
pub(crate) const DERIVED_SALT_LEN: usize = 16;

impl SecretHash {
    /// The hash of a generated secret.
    pub fn fast(secret: &ClientSecret) -> Self {
        Self::Sha256(secret.hash())
    }

    /// The slow hash of an imported secret of unknown entropy.
    pub fn slow(secret: &ClientSecret, entropy: &dyn Entropy) -> Self {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let mut salt = [0u8; 16];
        entropy.fill(&mut salt);
        let encoded = SaltString::encode_b64(&salt)
            .ok()
            .and_then(|salt| {
                argon2::Argon2::default()
                    .hash_password(secret.secret().as_bytes(), &salt)
                    .ok()
                    .map(|hash| hash.to_string())
            })
            // Hashing only fails for parameters out of range; the defaults are in range. If it
            // ever did, an unverifiable hash locks the client out instead of letting anyone in.
            .unwrap_or_default();
        Self::Argon2(encoded)
    }

    /// Whether `presented` is the secret this hash was made from. Constant time in the
    /// presented value for the fast form; Argon2 verification for the slow one.
    pub fn verify(&self, presented: &ClientSecret) -> bool {
        match self {
            Self::Sha256(expected) | Self::Derived { hash: expected, .. } => {
                presented.hash().ct_eq(expected)
            }
            Self::Argon2(phc) => {
                use argon2::password_hash::{PasswordHash, PasswordVerifier};
                PasswordHash::new(phc).is_ok_and(|parsed| {
                    argon2::Argon2::default()
                        .verify_password(presented.secret().as_bytes(), &parsed)
                        .is_ok()
                })
            }
        }
    }

    /// Whether this is the slow form kept for an imported secret.
    pub fn is_slow(&self) -> bool {
        matches!(self, Self::Argon2(_))
    }

    /// One text column's worth: `sha256:<hex>`, the Argon2 PHC string, or
    /// `derived:<salt hex>:<hex>`.
    pub fn encode(&self) -> String {
        match self {
            Self::Sha256(hash) => format!("sha256:{}", hash.to_hex()),
            Self::Argon2(phc) => phc.clone(),
            Self::Derived { salt, hash } => format!("derived:{}:{}", hex(salt), hash.to_hex()),
        }
    }

    /// Parses the output of [`SecretHash::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        if let Some(hex) = text.strip_prefix("sha256:") {
            TokenHash::from_hex(hex).map(Self::Sha256)
        } else if let Some(rest) = text.strip_prefix("derived:") {
            let (salt_hex, hash_hex) = rest.split_once(':')?;
            if salt_hex.len() != 2 * DERIVED_SALT_LEN
                || !salt_hex.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return None;
            }
            let mut salt = [0u8; DERIVED_SALT_LEN];
            for (i, byte) in salt.iter_mut().enumerate() {
                *byte = u8::from_str_radix(salt_hex.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            let hash = TokenHash::from_hex(hash_hex)?;
            Some(Self::Derived { salt, hash })
        } else if text.starts_with("$argon2") {
            Some(Self::Argon2(text.to_owned()))
        } else {
            None
        }
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256(_) => f.write_str("SecretHash::Sha256(..)"),
            Self::Argon2(_) => f.write_str("SecretHash::Argon2(..)"),
            Self::Derived { .. } => f.write_str("SecretHash::Derived(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::{OsEntropy, SeededEntropy};

    #[test]
    fn generated_tokens_have_the_documented_format() {
        let token = AccessToken::generate(&OsEntropy);
        assert_eq!(token.secret().len(), TokenKind::LEN);
        assert!(token.secret().starts_with("tsr_at_"));
        assert!(token.is_well_formed());
        assert!(!TokenKind::RefreshToken.is_well_formed(token.secret()));
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let token = RefreshToken::generate(&SeededEntropy::new(1)).into_secret();
        for position in [7, 20, TokenKind::LEN - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap_or_default();
            assert!(
                !TokenKind::RefreshToken.is_well_formed(&changed),
                "{position}"
            );
        }
        assert!(!TokenKind::RefreshToken.is_well_formed(""));
        assert!(!TokenKind::RefreshToken.is_well_formed(&format!("{token}x")));
        assert!(!TokenKind::RefreshToken.is_well_formed("tsr_rt_ünïcödé"));
    }

    #[test]
    fn check_chars_match_the_base64_crate() {
        let mut crc = 0x0123_4567u32;
        for special in [0, 1, u32::MAX, 0x8000_0000, 0xFBFF_FFFF] {
            assert_eq!(
                check_chars(special).to_vec(),
                URL_SAFE_NO_PAD.encode(special.to_be_bytes()).into_bytes()
            );
        }
        for _ in 0..10_000 {
            crc = crc.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15);
            assert_eq!(
                check_chars(crc).to_vec(),
                URL_SAFE_NO_PAD.encode(crc.to_be_bytes()).into_bytes()
            );
        }
    }

    #[test]
    fn generate_hashed_gives_the_hash_that_hash_gives() {
        let entropy = SeededEntropy::new(11);
        for _ in 0..32 {
            let (token, hash) = AccessToken::generate_hashed(&entropy);
            assert_eq!(hash, token.hash());
            let (code, hash) = AuthorizationCode::generate_hashed(&entropy);
            assert_eq!(hash, code.hash());
            let (secret, hash) = ClientSecret::generate_hashed(&entropy);
            assert_eq!(SecretHash::Sha256(hash), SecretHash::fast(&secret));
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let token = AccessToken::generate(&OsEntropy);
        let printed = format!("{token:?} {:?}", ClientSecret::new("hunter2"));
        assert!(!printed.contains(token.secret()));
        assert!(!printed.contains("hunter2"));
        assert_eq!(format!("{token:?}"), "AccessToken(redacted)");
    }

    #[test]
    fn hashes_round_trip_through_hex() {
        let hash = TokenHash::of("abc");
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn generated_secrets_hash_without_their_checksum() {
        let token = AccessToken::generate(&SeededEntropy::new(7));
        let text = token.secret();
        let expected: [u8; 32] = Sha256::digest(&text.as_bytes()[..50]).into();
        assert_eq!(token.hash().as_bytes(), &expected);
        assert_eq!(TokenHash::of(text), token.hash());
        assert_eq!(TokenHash::of_well_formed(text), token.hash());
        let whole: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_ne!(token.hash().as_bytes(), &whole);
        // Every kind, and the client secret's stored form, use the same rule.
        let secret = ClientSecret::generate(&SeededEntropy::new(8));
        let expected: [u8; 32] = Sha256::digest(&secret.secret().as_bytes()[..50]).into();
        assert_eq!(
            SecretHash::fast(&secret),
            SecretHash::Sha256(TokenHash::from_bytes(expected))
        );

        // The same 50 characters with a wrong checksum are not the token: hashed whole.
        let mut forged = text.as_bytes().to_vec();
        forged[55] = if forged[55] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap_or_default();
        let whole: [u8; 32] = Sha256::digest(forged.as_bytes()).into();
        assert_eq!(TokenHash::of(&forged).as_bytes(), &whole);
        assert_ne!(TokenHash::of(&forged), token.hash());
        // Values of other shapes are hashed whole.
        let user_code: [u8; 32] = Sha256::digest(b"WDJB-MJHT").into();
        assert_eq!(TokenHash::of("WDJB-MJHT").as_bytes(), &user_code);
    }

    #[test]
    fn constant_time_equality() {
        assert!(ClientSecret::new("a").ct_eq(&ClientSecret::new("a")));
        assert!(!ClientSecret::new("a").ct_eq(&ClientSecret::new("b")));
        assert!(!ClientSecret::new("a").ct_eq(&ClientSecret::new("ab")));
    }

    #[test]
    fn fast_and_slow_secret_hashes_verify_and_round_trip() {
        let generated = ClientSecret::generate(&OsEntropy);
        let fast = SecretHash::fast(&generated);
        assert!(fast.verify(&generated));
        assert!(!fast.verify(&ClientSecret::new("123456")));
        assert_eq!(SecretHash::decode(&fast.encode()), Some(fast.clone()));

        let imported = ClientSecret::new("123456");
        let slow = SecretHash::slow(&imported, &OsEntropy);
        assert!(slow.is_slow() && !fast.is_slow());
        assert!(slow.verify(&imported));
        assert!(!slow.verify(&ClientSecret::new("1234567")));
        assert_eq!(SecretHash::decode(&slow.encode()), Some(slow.clone()));
        assert!(!format!("{slow:?}").contains("argon2id$"));
        assert_eq!(SecretHash::decode("md5:abc"), None);
    }

    #[test]
    fn derived_secret_hashes_verify_and_round_trip() {
        let secret = ClientSecret::new(TokenKind::ClientSecret.format(&[9; 32]));
        assert!(secret.is_well_formed());
        let derived = SecretHash::Derived {
            salt: [0xab; DERIVED_SALT_LEN],
            hash: secret.hash(),
        };
        assert!(derived.verify(&secret));
        assert!(!derived.verify(&ClientSecret::new("123456")));
        let text = derived.encode();
        assert_eq!(
            text,
            format!("derived:{}:{}", "ab".repeat(16), secret.hash().to_hex())
        );
        assert_eq!(SecretHash::decode(&text), Some(derived.clone()));
        assert_eq!(format!("{derived:?}"), "SecretHash::Derived(..)");
        for bad in [
            "derived:",
            "derived:ab:00",
            &format!("derived:{}:{}", "zz".repeat(16), secret.hash().to_hex()),
            &format!("derived:{}", "ab".repeat(16)),
            &format!("derived:{}:{}", "+a".repeat(16), secret.hash().to_hex()),
        ] {
            assert_eq!(SecretHash::decode(bad), None, "{bad}");
        }
    }
}
