//! PEM (RFC 7468) for unencrypted PKCS#8 private keys, every copy of the key zeroized.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::key::KeyError;

/// The one label accepted: an unencrypted PKCS#8 `PrivateKeyInfo` (RFC 7468 §10).
const LABEL: &str = "PRIVATE KEY";
/// Base64 characters per PEM line (RFC 7468 §2).
const LINE: usize = 64;

/// The DER inside the first PEM block of `text`, which must be labelled `PRIVATE KEY`.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or(KeyError::Pem("no BEGIN line"))?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or(KeyError::Pem("unterminated BEGIN line"))?;
    let label = &rest[..label_end];
    if label != LABEL {
        return Err(KeyError::UnsupportedPem(label.chars().take(40).collect()));
    }
    let body_and_rest = &rest[label_end + "-----".len()..];
    let end_line = format!("-----END {LABEL}-----");
    let body_end = body_and_rest
        .find(&end_line)
        .ok_or(KeyError::Pem("no END line"))?;
    let body = &body_and_rest[..body_end];
    let mut base64 = Zeroizing::new(String::with_capacity(body.len()));
    for c in body.chars() {
        if !c.is_ascii_whitespace() {
            base64.push(c);
        }
    }
    STANDARD
        .decode(base64.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Pem("the body is not base64"))
}

/// `der` as a `PRIVATE KEY` PEM block, lines of 64 characters, ending in a newline.
pub(crate) fn encode(der: &[u8]) -> Zeroizing<String> {
    let encoded_len = der.len().div_ceil(3) * 4;
    let mut base64 = Zeroizing::new(String::with_capacity(encoded_len));
    STANDARD.encode_string(der, &mut base64);
    let header = format!("-----BEGIN {LABEL}-----\n");
    let footer = format!("-----END {LABEL}-----\n");
    let lines = encoded_len.div_ceil(LINE);
    let mut out = Zeroizing::new(String::with_capacity(
        header.len() + encoded_len + lines + footer.len(),
    ));
    out.push_str(&header);
    let mut rest: &str = &base64;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(LINE));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&footer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let der: Vec<u8> = (0..=255).collect();
        let pem = encode(&der);
        assert!(pem.lines().all(|line| line.len() <= 64));
        assert_eq!(&decode(&pem).unwrap()[..], &der[..]);
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(&decode(&format!("comment\n{crlf}")).unwrap()[..], &der[..]);
        assert!(matches!(
            decode(&pem.replace("PRIVATE KEY", "RSA PRIVATE KEY")),
            Err(KeyError::UnsupportedPem(label)) if label == "RSA PRIVATE KEY"
        ));
        assert!(matches!(
            decode(&pem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY")),
            Err(KeyError::UnsupportedPem(_))
        ));
        assert!(decode("").is_err());
        assert!(decode("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n").is_err());
        assert!(decode("-----BEGIN PRIVATE KEY-----\nAAAA\n").is_err());
    }
}
