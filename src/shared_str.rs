//! Immutable text behind one reference count, for identifiers that are cloned on every
//! request: a client or user ID is copied into each grant, code, token record and consent, so
//! cloning one must not copy (or allocate) its text.

use std::fmt;
use std::sync::Arc;

/// An immutable, cheaply cloned string. Compares, hashes, orders, prints and serialises as the
/// plain string it holds.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SharedStr(Arc<str>);

impl SharedStr {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SharedStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <std::borrow::Cow<'de, str>>::deserialize(d).map(|text| Self(text.as_ref().into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_string_it_holds() {
        let shared = SharedStr::from("client-1");
        let copy = shared.clone();
        assert!(Arc::ptr_eq(&shared.0, &copy.0), "a clone shares the text");
        assert_eq!(format!("{shared:?}"), format!("{:?}", "client-1"));
        assert_eq!(shared.to_string(), "client-1");
        let json = serde_json::to_string(&shared).unwrap_or_default();
        assert_eq!(json, "\"client-1\"");
        let back: Option<SharedStr> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(shared));
        assert!(SharedStr::from("a") < SharedStr::from("b"));
    }
}
