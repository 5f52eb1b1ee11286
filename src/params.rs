//! Request parameters: owned, duplicate-rejecting and bounded.

use crate::error::OAuthError;

/// Bounds on what one request may carry. Exceeding one is `invalid_request` with a clear
/// description, never a slow request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most bytes of query string or form body read (default 16 KiB).
    pub max_bytes: usize,
    /// The most parameters (default 64).
    pub max_params: usize,
    /// The longest single value (default 4 KiB).
    pub max_value_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024,
            max_params: 64,
            max_value_len: 4 * 1024,
        }
    }
}

/// The parameters that may be given more than once.
const REPEATABLE: [&str; 2] = ["resource", "audience"];

/// The parameters of one request, from its query string, its form body, or both.
///
/// A parameter given twice is `invalid_request` (RFC 6749 §3.1, §3.2), except `resource` and
/// `audience` ([`Params::get_all`]); a parameter with an empty
/// value is treated as absent (RFC 6749 §3.1).
///
/// ```
/// use tessera::{Limits, Params};
/// let params = Params::from_query("client_id=abc&state=&scope=a%20b", &Limits::default())?;
/// assert_eq!(params.get("client_id"), Some("abc"));
/// assert_eq!(params.get("state"), None);
/// assert_eq!(params.get("scope"), Some("a b"));
/// assert!(Params::from_query("a=1&a=2", &Limits::default()).is_err());
/// # Ok::<(), tessera::OAuthError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    // Every decoded name and value, one after another: one growing buffer for the whole
    // request instead of two strings per parameter.
    text: String,
    pairs: Vec<Pair>,
}

/// Where one parameter's name and value lie in `Params::text`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pair {
    name: (usize, usize),
    value: (usize, usize),
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses an `application/x-www-form-urlencoded` query string (without the `?`).
    pub fn from_query(query: &str, limits: &Limits) -> Result<Self, OAuthError> {
        Self::from_form(query.as_bytes(), limits)
    }

    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8], limits: &Limits) -> Result<Self, OAuthError> {
        if body.len() > limits.max_bytes {
            return Err(OAuthError::invalid_request(format!(
                "request parameters exceed {} bytes",
                limits.max_bytes
            )));
        }
        let mut params = Self {
            // Decoding never lengthens the input.
            text: String::with_capacity(body.len()),
            pairs: Vec::with_capacity(8),
        };
        // `form_urlencoded` borrows a name or value with nothing to decode (nearly all).
        for (name, value) in url::form_urlencoded::parse(body) {
            params.push(&name, &value, limits)?;
        }
        Ok(params)
    }

    /// Builds parameters from pairs a framework already decoded (`&str`, `String`, `Cow<str>`
    /// or anything else that reads as a `str`: the pairs are copied into one buffer, never
    /// converted one by one).
    pub fn from_pairs<I, K, V>(pairs: I, limits: &Limits) -> Result<Self, OAuthError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let pairs = pairs.into_iter();
        let mut params = Self {
            // Room for a typical authorization request, so the buffer grows once at most.
            text: String::with_capacity(256),
            pairs: Vec::with_capacity(pairs.size_hint().0.min(limits.max_params)),
        };
        let mut bytes = 0usize;
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            bytes = bytes.saturating_add(name.len() + value.len() + 2);
            if bytes > limits.max_bytes {
                return Err(OAuthError::invalid_request(format!(
                    "request parameters exceed {} bytes",
                    limits.max_bytes
                )));
            }
            params.push(name, value, limits)?;
        }
        Ok(params)
    }

    /// Adds the parameters of `other` (for example a POST's query string to its body, which
    /// some provider dialects read together). A name present in both is `invalid_request`.
    pub fn merge(mut self, other: Params, limits: &Limits) -> Result<Self, OAuthError> {
        for pair in &other.pairs {
            self.push(other.slice(pair.name), other.slice(pair.value), limits)?;
        }
        Ok(self)
    }

    fn slice(&self, (start, end): (usize, usize)) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    // Every pair, empty values included.
    fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .map(|pair| (self.slice(pair.name), self.slice(pair.value)))
    }

    fn push(&mut self, name: &str, value: &str, limits: &Limits) -> Result<(), OAuthError> {
        if value.len() > limits.max_value_len {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{}` is longer than {} bytes",
                printable(name),
                limits.max_value_len
            )));
        }
        if !REPEATABLE.contains(&name)
            && self.pairs.iter().any(|pair| {
                pair.name.1 - pair.name.0 == name.len() && self.slice(pair.name) == name
            })
        {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{}` is repeated",
                printable(name)
            )));
        }
        if self.pairs.len() >= limits.max_params {
            return Err(OAuthError::invalid_request(format!(
                "more than {} request parameters",
                limits.max_params
            )));
        }
        // Empty values are kept so that `a=&a=1` is still a repetition, and read as absent.
        let start = self.text.len();
        self.text.push_str(name);
        let middle = self.text.len();
        self.text.push_str(value);
        self.pairs.push(Pair {
            name: (start, middle),
            value: (middle, self.text.len()),
        });
        Ok(())
    }

    /// Every non-empty value of `name`, in order: several only for the parameters that may be
    /// repeated (`resource`, RFC 8707 §2; `audience`, RFC 8693 §2.1), at most one otherwise.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.all()
            .filter(move |(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v)
    }

    /// The value of `name`, if present and not empty (the first, for a repeatable parameter).
    pub fn get(&self, name: &str) -> Option<&str> {
        let text = self.text.as_bytes();
        self.pairs
            .iter()
            // Lengths first: most names differ in length, and then no bytes are compared (as
            // bytes: a name's bounds need no character-boundary checks to be compared).
            .find(|pair| {
                pair.name.1 - pair.name.0 == name.len()
                    && text.get(pair.name.0..pair.name.1) == Some(name.as_bytes())
            })
            .map(|pair| self.slice(pair.value))
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every (name, value) pair with a value, in request order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.all().filter(|(_, v)| !v.is_empty())
    }

    /// Re-encodes the parameters as a query string (for a host that carries an authorization
    /// request through its login page).
    pub fn to_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.all())
            .finish()
    }
}

// Parameter values may hold secrets (client_secret, code, tokens): Debug names them only.
impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.all().map(|(n, _)| n)).finish()
    }
}

/// A parameter name cut to something safe to echo in a description: the RFC 6749 §5.2
/// `error_description` charset has no `"` or `\`.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\'))
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A form body and the same pairs decoded by a framework read alike, errors included.
        #[test]
        fn form_parsing_agrees_with_form_urlencoded(
            bytes in proptest::collection::vec(proptest::sample::select(
                b"ab=&+%%2F4e0gG\xff\xc3\xa9 ".to_vec()), 0..40)
        ) {
            let limits = Limits::default();
            let ours = Params::from_form(&bytes, &limits);
            let reference = Params::from_pairs(url::form_urlencoded::parse(&bytes), &limits);
            proptest::prop_assert_eq!(ours.as_ref().ok(), reference.as_ref().ok());
            proptest::prop_assert_eq!(
                ours.err().map(|e| e.description),
                reference.err().map(|e| e.description)
            );
        }
    }

    #[test]
    fn form_decoding_edge_cases() {
        let limits = Limits::default();
        for body in [
            "a=%",
            "a=%4",
            "a=%4g",
            "a=%41%42",
            "a=b=c",
            "=x",
            "a",
            "&&a=1&&",
            "a=+%2B+",
            "a=%ff",
            "a=%C3%A9",
            "a=%c3",
            "%61=1",
            "a=1&%61=2",
        ] {
            let ours = Params::from_form(body.as_bytes(), &limits);
            let reference =
                Params::from_pairs(url::form_urlencoded::parse(body.as_bytes()), &limits);
            assert_eq!(ours.as_ref().ok(), reference.as_ref().ok(), "{body}");
            assert_eq!(ours.is_err(), reference.is_err(), "{body}");
        }
    }

    #[test]
    fn duplicates_are_invalid_request_even_when_one_is_empty() {
        for query in ["a=1&a=2", "a=1&a=", "a=&a=1", "a=1&a=1"] {
            let error = Params::from_query(query, &Limits::default()).expect_err(query);
            assert_eq!(error.code, crate::ErrorCode::InvalidRequest);
            assert!(
                error
                    .description
                    .as_deref()
                    .unwrap_or("")
                    .contains("repeated")
            );
        }
    }

    #[test]
    fn oversize_input_is_refused_with_a_description() {
        let limits = Limits {
            max_bytes: 100,
            max_params: 3,
            max_value_len: 10,
        };
        let long = format!("a={}", "x".repeat(200));
        assert!(Params::from_query(&long, &limits).is_err());
        assert!(Params::from_query("a=12345678901", &limits).is_err());
        assert!(Params::from_query("a=1&b=2&c=3&d=4", &limits).is_err());
        assert!(Params::from_query("a=1&b=2&c=3", &limits).is_ok());
        let pairs = (0..10).map(|i| (format!("k{i}"), "v".repeat(9)));
        assert!(Params::from_pairs(pairs, &limits).is_err());
    }

    #[test]
    fn merge_rejects_a_name_in_both() {
        let limits = Limits::default();
        let query = Params::from_query("client_id=a", &limits).unwrap_or_default();
        let body = Params::from_query("client_id=b", &limits).unwrap_or_default();
        assert!(query.clone().merge(body, &limits).is_err());
        let body = Params::from_query("code=c", &limits).unwrap_or_default();
        let merged = query.merge(body, &limits).unwrap_or_default();
        assert_eq!(merged.get("code"), Some("c"));
        assert_eq!(merged.get("client_id"), Some("a"));
    }

    #[test]
    fn decoding_and_debug() {
        let params = Params::from_query(
            "redirect_uri=https%3A%2F%2Fa.example%2Fcb&x=a+b",
            &Limits::default(),
        )
        .unwrap_or_default();
        assert_eq!(params.get("redirect_uri"), Some("https://a.example/cb"));
        assert_eq!(params.get("x"), Some("a b"));
        let secret =
            Params::from_query("client_secret=hunter2", &Limits::default()).unwrap_or_default();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(
            Params::from_query(&params.to_query(), &Limits::default()).ok(),
            Some(params)
        );
    }
}
