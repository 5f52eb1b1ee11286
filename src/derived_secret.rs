//! Derived client secrets, for `client_secret_jwt` (RFC 7523 §2.2, OpenID Connect Core §9).
//!
//! A `client_secret_jwt` client signs its assertions with HS256 keyed by its secret, so the
//! provider must have the secret itself at verification, while tessera stores secrets only as
//! hashes. So the secret is never stored: it is derived from a provider key `K` that the host
//! keeps like a signing key ([`ProviderBuilder::client_secret_jwt_key`]):
//!
//! ```text
//! body   = HMAC-SHA256(K, "tessera client_secret_jwt v1" ‖ len(client_id) as u64 BE ‖ client_id ‖ salt)
//! secret = "tsr_cs_" ‖ base64url(body) ‖ checksum          (the generated secret format)
//! ```
//!
//! `salt` is 16 random bytes, not secret, drawn at registration and at every rotation. The
//! client record keeps, in its one secret field, [`SecretHash::Derived`]: the salt and the
//! SHA-256 of the secret, exactly as for a generated secret. Nothing stored lets anyone compute
//! the secret without `K`; the salt and the hash change together in the store's one atomic
//! secret write ([`ClientStore::set_client_secret`]), which a metadata update never touches,
//! so a rotation (a new salt) invalidates the old secret at once and no race brings it back.
//! The client ID's length goes first, so that no client ID and salt pair can be shifted into
//! another.
//!
//! At verification the provider recomputes the secret with `K`, checks it against the stored
//! hash (in constant time), and verifies the HS256 signature with aws-lc-rs's HMAC (constant
//! time). Rotating `K` changes every derived secret: give the old key as
//! [`ProviderBuilder::client_secret_jwt_previous_key`] while clients move to secrets rotated
//! under the new one (the stored hash says which of the two keys derived a secret).
//!
//! [`ProviderBuilder::client_secret_jwt_key`]: crate::ProviderBuilder::client_secret_jwt_key
//! [`ProviderBuilder::client_secret_jwt_previous_key`]: crate::ProviderBuilder::client_secret_jwt_previous_key
//! [`ClientStore::set_client_secret`]: crate::store::ClientStore::set_client_secret

use crate::client::ClientId;
use crate::entropy::Entropy;
use crate::secret::{ClientSecret, DERIVED_SALT_LEN, SecretHash, TokenKind};

/// Separates derived client secrets from any other use of the key.
const CONTEXT: &[u8] = b"tessera client_secret_jwt v1";

/// The keys `client_secret_jwt` secrets are derived with: the current one, and optionally the
/// one before it, still accepted for secrets derived before a key rotation.
pub(crate) struct SecretKeys {
    current: aws_lc_rs::hmac::Key,
    previous: Option<aws_lc_rs::hmac::Key>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKeys(redacted)")
    }
}

fn key(secret: &[u8; 32]) -> aws_lc_rs::hmac::Key {
    aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret)
}

fn derive(key: &aws_lc_rs::hmac::Key, client: &ClientId, salt: &[u8]) -> ClientSecret {
    let mut context = aws_lc_rs::hmac::Context::with_key(key);
    context.update(CONTEXT);
    context.update(&(client.as_str().len() as u64).to_be_bytes());
    context.update(client.as_str().as_bytes());
    context.update(salt);
    let tag = context.sign();
    let mut body = [0u8; 32];
    body.copy_from_slice(tag.as_ref());
    ClientSecret::new(TokenKind::ClientSecret.format(&body))
}

impl SecretKeys {
    pub(crate) fn new(current: &[u8; 32]) -> Self {
        Self {
            current: key(current),
            previous: None,
        }
    }

    pub(crate) fn with_previous(mut self, previous: &[u8; 32]) -> Self {
        self.previous = Some(key(previous));
        self
    }

    /// A new secret for `client` under the current key, with a fresh salt: the secret (to show
    /// once) and what the store keeps.
    pub(crate) fn issue(
        &self,
        client: &ClientId,
        entropy: &dyn Entropy,
    ) -> (ClientSecret, SecretHash) {
        let mut salt = [0u8; DERIVED_SALT_LEN];
        entropy.fill(&mut salt);
        let secret = derive(&self.current, client, &salt);
        let hash = secret.hash();
        (secret, SecretHash::Derived { salt, hash })
    }

    /// The secret of `client` whose stored form is `stored`: derived again with the current key
    /// or else the previous one, whichever gives the stored hash. `None` if `stored` is not a
    /// derived secret or neither key derived it (the key was changed without keeping the old
    /// one as previous, or the record was altered).
    pub(crate) fn secret_of(&self, client: &ClientId, stored: &SecretHash) -> Option<ClientSecret> {
        let SecretHash::Derived { salt, hash } = stored else {
            return None;
        };
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|key| derive(key, client, salt))
            .find(|secret| secret.hash().ct_eq(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    fn id(text: &str) -> ClientId {
        ClientId::new(text).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn secrets_are_keyed_salted_and_per_client() {
        let keys = SecretKeys::new(&[7; 32]);
        let entropy = SeededEntropy::new(1);
        let (secret, stored) = keys.issue(&id("a"), &entropy);
        assert!(secret.is_well_formed(), "the generated format");
        assert!(stored.verify(&secret));
        let again = keys
            .secret_of(&id("a"), &stored)
            .map(ClientSecret::into_secret);
        assert_eq!(again.as_deref(), Some(secret.secret()));
        // Another client, another key or another salt: another secret.
        assert!(keys.secret_of(&id("b"), &stored).is_none());
        assert!(
            SecretKeys::new(&[8; 32])
                .secret_of(&id("a"), &stored)
                .is_none()
        );
        let (rotated, _) = keys.issue(&id("a"), &entropy);
        assert!(!rotated.ct_eq(&secret));
        // Nothing of the secret in the stored form or in Debug.
        assert!(!stored.encode().contains(&secret.secret()[7..50]));
        assert_eq!(format!("{keys:?}"), "SecretKeys(redacted)");
        assert!(
            keys.secret_of(&id("a"), &SecretHash::fast(&secret))
                .is_none()
        );
    }

    #[test]
    fn the_previous_key_still_gives_the_secrets_it_derived() {
        let old = SecretKeys::new(&[1; 32]);
        let (secret, stored) = old.issue(&id("c"), &SeededEntropy::new(2));
        let rotated = SecretKeys::new(&[2; 32]).with_previous(&[1; 32]);
        let again = rotated
            .secret_of(&id("c"), &stored)
            .map(ClientSecret::into_secret);
        assert_eq!(again.as_deref(), Some(secret.secret()));
        assert!(
            SecretKeys::new(&[2; 32])
                .secret_of(&id("c"), &stored)
                .is_none()
        );
    }

    #[test]
    fn derivation_known_answer() {
        // Computed independently (Python's hmac, base64 and zlib.crc32): HMAC-SHA256 with key
        // 32 × 0x01 over the context, the 8-byte length 1, "x" and 16 × 0x02, in the
        // generated secret format.
        let secret = derive(&key(&[1; 32]), &id("x"), &[2; 16]);
        assert_eq!(
            secret.secret(),
            "tsr_cs_wPzdtYqWI5CSvp7JVSN7V0tNCciHrpGXmOKFPEFGdqUzCbw0Q"
        );
    }
}
