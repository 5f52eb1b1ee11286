//! The `Authorization` request header (RFC 9110 §11.6.2), parsed once for every endpoint that
//! reads it: client authentication (Basic), resource requests and registration management
//! (Bearer).

/// A header split into its scheme and credentials. The scheme is compared case-insensitively
/// (RFC 9110 §11.1; AppHarbor documents `BEARER`); surrounding white space is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthorizationHeader<'a> {
    scheme: &'a str,
    credentials: &'a str,
}

impl<'a> AuthorizationHeader<'a> {
    pub(crate) fn parse(header: &'a str) -> Self {
        let header = header.trim();
        let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
        Self {
            scheme,
            credentials: credentials.trim(),
        }
    }

    /// Whether the scheme is `scheme`, in any letter case.
    pub(crate) fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// What follows the scheme, trimmed (empty if nothing does).
    pub(crate) fn credentials(&self) -> &'a str {
        self.credentials
    }

    /// The token of a `Bearer` header; `Some("")` for a Bearer header without one, `None` for
    /// another scheme.
    pub(crate) fn bearer(header: &'a str) -> Option<&'a str> {
        // The usual `Bearer <token>` needs no trimming or searching: borrow the token at once.
        // Only ASCII at the token's ends takes this path; everything else the general one,
        // which gives the same answer for these.
        if let (Some(scheme), Some(value)) = (header.as_bytes().first_chunk(), header.get(7..))
            && is_bearer_scheme(scheme)
            && value.as_bytes().first().is_some_and(u8::is_ascii_graphic)
            && value.as_bytes().last().is_some_and(u8::is_ascii_graphic)
        {
            return Some(value);
        }
        let parsed = Self::parse(header);
        parsed.is("bearer").then_some(parsed.credentials)
    }
}

/// Whether `scheme` is `Bearer ` in any letter case. OR-ing 0x20 into a byte maps exactly the
/// two cases of a letter to one value, so the six letters compare in one word; the space must
/// be a space.
fn is_bearer_scheme(scheme: &[u8; 7]) -> bool {
    let mut word = [0u8; 8];
    word[..7].copy_from_slice(scheme);
    u64::from_le_bytes(word) | 0x0000_2020_2020_2020 == u64::from_le_bytes(*b"bearer \0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_word_compare_is_eq_ignore_ascii_case() {
        let reference = |s: &[u8; 7]| s.eq_ignore_ascii_case(b"bearer ");
        for base in [*b"Bearer ", *b"bEARER ", *b"BEARER ", *b"xxxxxxx"] {
            for at in 0..7 {
                for byte in 0..=255u8 {
                    let mut scheme = base;
                    scheme[at] = byte;
                    assert_eq!(is_bearer_scheme(&scheme), reference(&scheme), "{scheme:?}");
                }
            }
        }
    }

    #[test]
    fn schemes_are_case_insensitive_and_trimmed() {
        assert_eq!(AuthorizationHeader::bearer("Bearer abc"), Some("abc"));
        assert_eq!(AuthorizationHeader::bearer("  BEARER   abc  "), Some("abc"));
        assert_eq!(AuthorizationHeader::bearer("bearer"), Some(""));
        assert_eq!(AuthorizationHeader::bearer("Basic abc"), None);
        assert_eq!(AuthorizationHeader::bearer("Bearerabc"), None);
        let basic = AuthorizationHeader::parse(" basic  dXNlcjpwdw== ");
        assert!(basic.is("Basic"));
        assert_eq!(basic.credentials(), "dXNlcjpwdw==");
        // The fast path agrees with the general one wherever it applies.
        for header in [
            "Bearer a",
            "bEaReR tsr_at_x",
            "BEARER  x ",
            "Bearer é",
            "Bearer\tx",
        ] {
            let general = {
                let parsed = AuthorizationHeader::parse(header);
                parsed.is("bearer").then_some(parsed.credentials())
            };
            assert_eq!(AuthorizationHeader::bearer(header), general, "{header:?}");
        }
    }
}
