//! Strict base64url (RFC 7515 §2, RFC 4648 §5): no padding, no whitespace, no other
//! alphabet, and canonical trailing bits, so every byte string has exactly one encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes `text`, or `None` if it is not canonical unpadded base64url.
///
/// The `base64` crate's `URL_SAFE_NO_PAD` engine refuses padding (`RequireNone`), any byte
/// outside the URL-safe alphabet (whitespace included) and non-zero trailing bits.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Encodes `bytes` as unpadded base64url.
pub(crate) fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the unpadded base64url of `bytes` to `out`.
pub(crate) fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_unpadded_base64url_decodes() {
        assert_eq!(decode("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode(""), Some(vec![]));
        for bad in [
            "AQ==", "AQ=", "+/8", "A QAB", "AQAB\n", " AQAB", "AQ\tAB", "A", "AR", "-_9", "é",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        assert_eq!(encode([0xfb, 0xff]), "-_8");
    }
}
