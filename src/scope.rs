//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive, order-insensitive sets.

use std::fmt;
use std::sync::Arc;

use crate::error::OAuthError;

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (printable ASCII except space, `"`
/// and `\`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

impl Scope {
    /// The longest scope token accepted.
    pub const MAX_LEN: usize = 128;

    /// Validates one scope token.
    pub fn new(token: impl Into<String>) -> Result<Self, OAuthError> {
        let token = token.into();
        if token.is_empty() || token.len() > Scope::MAX_LEN {
            return Err(OAuthError::invalid_scope(
                "a scope token is empty or too long",
            ));
        }
        let valid = token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            return Err(OAuthError::invalid_scope(
                "a scope token contains a character outside RFC 6749 section 3.3",
            ));
        }
        Ok(Self(token))
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of scopes. Equal sets compare equal whatever the order they were written in; the
/// wire form lists them sorted, separated by single spaces.
///
/// ```
/// use tessera::ScopeSet;
/// let a = ScopeSet::parse("whoami offline_access")?;
/// let b = ScopeSet::parse("offline_access  whoami")?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "offline_access whoami");
/// assert!(ScopeSet::parse("who\"ami").is_err());
/// # Ok::<(), tessera::OAuthError>(())
/// ```
// Sorted and without duplicates, behind one reference count: sets are cloned into every
// grant, code, token record and response, so a clone must not copy the scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeSet(Arc<[Scope]>);

impl Default for ScopeSet {
    fn default() -> Self {
        Self(Arc::from([]))
    }
}

impl ScopeSet {
    /// The most scopes one request may name; more is `invalid_scope`, not a slow request.
    pub const MAX_SCOPES: usize = 64;

    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited list. Runs of spaces are tolerated; any other whitespace,
    /// an invalid character, or more than [`ScopeSet::MAX_SCOPES`] distinct tokens is `invalid_scope`.
    pub fn parse(text: &str) -> Result<Self, OAuthError> {
        let mut scopes = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            let scope = Scope::new(token)?;
            if scopes.len() >= ScopeSet::MAX_SCOPES {
                // Repetitions do not count; only a new distinct scope can make the set too large.
                sort_unique(&mut scopes);
                if scopes.len() >= ScopeSet::MAX_SCOPES && scopes.binary_search(&scope).is_err() {
                    return Err(OAuthError::invalid_scope("too many scopes requested"));
                }
            }
            scopes.push(scope);
        }
        Ok(Self::from_vec(scopes))
    }

    /// Builds a set from tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = tokens
            .into_iter()
            .map(Scope::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_vec(scopes))
    }

    fn from_vec(mut scopes: Vec<Scope>) -> Self {
        sort_unique(&mut scopes);
        Self(scopes.into())
    }

    /// Whether the set contains `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        // Both sorted: one walk through `other`.
        let mut theirs = other.0.iter();
        self.0
            .iter()
            .all(|mine| theirs.by_ref().find(|t| *t >= mine) == Some(mine))
    }

    /// The scopes of both sets.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        if other.is_subset(self) {
            return self.clone();
        }
        Self::from_vec(self.0.iter().chain(other.0.iter()).cloned().collect())
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        if self.is_subset(other) {
            return self.clone();
        }
        Self(
            self.0
                .iter()
                .filter(|s| other.contains(s.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many scopes the set holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: Scope) {
        if let Err(at) = self.0.binary_search(&scope) {
            let mut scopes = self.0.to_vec();
            scopes.insert(at, scope);
            self.0 = scopes.into();
        }
    }
}

fn sort_unique(scopes: &mut Vec<Scope>) {
    scopes.sort_unstable();
    scopes.dedup();
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

// Stored and sent in its wire form: a space-delimited string.
impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Decodes the wire form as it was stored: every scope is validated, but [`ScopeSet::MAX_SCOPES`] is not
/// applied. It bounds what one request may ask for ([`ScopeSet::parse`]); a stored record may
/// hold more (a consent is the union of every scope a user granted over time), and must read
/// back whatever its size.
impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_tokens(text.split(' ').filter(|t| !t.is_empty()))
            .map_err(serde::de::Error::custom)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn rejects_characters_outside_nqchar() {
        for bad in ["a\"b", "a\\b", "a\tb", "é", "a\u{7f}", "a\nb"] {
            let error = ScopeSet::parse(bad).expect_err(bad);
            assert_eq!(error.code, ErrorCode::InvalidScope, "{bad}");
        }
        assert!(ScopeSet::parse("!#[]~").is_ok());
    }

    #[test]
    fn set_semantics() {
        let read = ScopeSet::parse("read").unwrap_or_default();
        let both = ScopeSet::parse("write read read").unwrap_or_default();
        assert_eq!(both.len(), 2);
        assert!(read.is_subset(&both));
        assert!(!both.is_subset(&read));
        assert_eq!(both.intersection(&read), read);
        assert_eq!(ScopeSet::parse("").unwrap_or_default(), ScopeSet::new());
        assert_eq!(ScopeSet::parse("   ").unwrap_or_default().len(), 0);
    }

    // The sorted-slice set must agree with a BTreeSet on every operation.
    proptest::proptest! {
        #[test]
        fn set_operations_match_btreeset(
            a in proptest::collection::vec("[a-d]{1,2}", 0..8),
            b in proptest::collection::vec("[a-d]{1,2}", 0..8),
        ) {
            use proptest::prop_assert_eq;
            use std::collections::BTreeSet;

            let sa = ScopeSet::parse(&a.join(" ")).unwrap_or_default();
            let sb = ScopeSet::parse(&b.join(" ")).unwrap_or_default();
            let ba: BTreeSet<String> = a.iter().cloned().collect();
            let bb: BTreeSet<String> = b.iter().cloned().collect();
            let listed = |s: &ScopeSet| -> Vec<String> {
                s.iter().map(|x| x.as_str().to_owned()).collect()
            };
            let sorted = |s: BTreeSet<&String>| -> Vec<String> { s.into_iter().cloned().collect() };

            prop_assert_eq!(listed(&sa), sorted(ba.iter().collect()));
            prop_assert_eq!(sa.is_subset(&sb), ba.is_subset(&bb));
            prop_assert_eq!(listed(&sa.union(&sb)), sorted(ba.union(&bb).collect()));
            prop_assert_eq!(
                listed(&sa.intersection(&sb)),
                sorted(ba.intersection(&bb).collect())
            );
            for token in ["a", "b", "ab", "dd", "e"] {
                prop_assert_eq!(sa.contains(token), ba.contains(token));
            }
            let mut inserted = sa.clone();
            for token in &b {
                let scope = Scope::new(token.as_str())
                    .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                inserted.insert(scope);
            }
            prop_assert_eq!(inserted, sa.union(&sb));
        }
    }

    #[test]
    fn stored_sets_decode_past_the_request_limit() {
        let many: ScopeSet = (0..200)
            .map(|i| Scope::new(format!("s{i}")).unwrap_or_else(|_| unreachable!()))
            .collect();
        let json = serde_json::to_string(&many).unwrap_or_default();
        assert!(
            ScopeSet::parse(&many.to_string()).is_err(),
            "a request is bounded"
        );
        let decoded: Result<ScopeSet, _> = serde_json::from_str(&json);
        assert_eq!(decoded.ok(), Some(many));
        // Each scope is still validated.
        assert!(serde_json::from_str::<ScopeSet>("\"a\\\"b\"").is_err());
    }

    #[test]
    fn bounds_count_and_length() {
        let many = (0..=ScopeSet::MAX_SCOPES)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(ScopeSet::parse(&many).is_err());
        // Only distinct scopes count: repetitions of the allowed number still parse.
        let distinct = (0..ScopeSet::MAX_SCOPES)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>();
        let repeated = format!("{0} {0} {0}", distinct.join(" "));
        assert_eq!(
            ScopeSet::parse(&repeated).map(|s| s.len()).ok(),
            Some(ScopeSet::MAX_SCOPES)
        );
        assert_eq!(
            ScopeSet::parse(&"a ".repeat(500)).map(|s| s.len()).ok(),
            Some(1)
        );
        assert!(Scope::new("x".repeat(Scope::MAX_LEN + 1)).is_err());
        assert!(Scope::new("").is_err());
    }
}
