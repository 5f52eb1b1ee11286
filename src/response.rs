//! Response values: what an endpoint answers, for any framework to send.

use url::Url;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFormat {
    /// `application/json` (the RFC 6749 default).
    Json,
    /// `application/x-www-form-urlencoded` (AppHarbor's token response).
    Form,
}

/// Appends `text` `application/x-www-form-urlencoded` (the `form_urlencoded` crate's
/// `byte_serialize`, the encoding `Url::query_pairs_mut` uses).
fn form_encode(out: &mut String, text: &str) {
    out.extend(url::form_urlencoded::byte_serialize(text.as_bytes()));
}

/// Whether `serde_json` writes `text` as it is: no control character, quote or backslash.
fn needs_no_escape(text: &str) -> bool {
    // Every byte looked at, no early exit: the loop is vectorised, a token or URL checked many
    // bytes at a time.
    !text.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// Appends `text` as a JSON string, exactly as `serde_json` writes it: copied as it is when
/// there is nothing to escape (every token, identifier and URL the provider writes).
pub(crate) fn json_string(json: &mut Vec<u8>, text: &str) {
    if needs_no_escape(text) {
        json.push(b'"');
        json.extend_from_slice(text.as_bytes());
        json.push(b'"');
    } else {
        // Writing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *json, text);
    }
}

/// Appends `n` as a JSON number (its decimal digits, as `serde_json` writes an integer).
pub(crate) fn json_i64(json: &mut Vec<u8>, n: i64) {
    json.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `scopes` as one space-separated JSON string, as `serde_json` writes its `Display`.
pub(crate) fn json_scope(json: &mut Vec<u8>, scopes: &crate::scope::ScopeSet) {
    if scopes.iter().all(|s| needs_no_escape(s.as_str())) {
        json.push(b'"');
        for (i, scope) in scopes.iter().enumerate() {
            if i > 0 {
                json.push(b' ');
            }
            json.extend_from_slice(scope.as_str().as_bytes());
        }
        json.push(b'"');
    } else {
        json_string(json, &scopes.to_string());
    }
}

/// An HTTP response: status, headers and body. Turn it into a framework's own response in a few
/// lines, or with the `http` feature's `From` conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with the no-store headers of RFC 6749 §5.1.
    pub(crate) fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
                ("pragma", "no-cache".into()),
            ],
            // Straight into bytes: `to_string` would go through `fmt` and an adapter per write.
            // Serialising a `Value` cannot fail (its map keys are strings).
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// A JSON response with the no-store headers, from an already serialised body.
    pub(crate) fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
                ("pragma", "no-cache".into()),
            ],
            body,
        }
    }

    /// A form-encoded response with the no-store headers. Values are encoded in order;
    /// nested JSON values are written as their JSON text.
    pub(crate) fn form(status: u16, body: &serde_json::Value) -> Self {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        if let serde_json::Value::Object(map) = body {
            for (name, value) in map {
                match value {
                    serde_json::Value::String(s) => serializer.append_pair(name, s),
                    serde_json::Value::Null => continue,
                    other => serializer.append_pair(name, &other.to_string()),
                };
            }
        }
        Self {
            status,
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("cache-control", "no-store".into()),
                ("pragma", "no-cache".into()),
            ],
            body: serializer.finish().into_bytes(),
        }
    }

    /// A body in the given format.
    pub(crate) fn encoded(format: BodyFormat, status: u16, body: &serde_json::Value) -> Self {
        match format {
            BodyFormat::Json => Self::json(status, body),
            BodyFormat::Form => Self::form(status, body),
        }
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A redirect to a URI the provider has verified (a client's registered redirect URI), with the
/// authorization response's parameters in its query.
///
/// Only the authorization endpoint's trusted paths can build one, so an error about an
/// untrusted redirect URI can never end up in a `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a redirect does nothing until it is sent"]
pub struct Redirect {
    // The serialised URL: built once, sent as it is.
    location: String,
}

impl Redirect {
    /// `base` with `params` appended to its query: the text `Url::query_pairs_mut` and
    /// `append_pair` write (a test compares them), written straight onto the serialisation
    /// instead of through the `url` crate's serialiser.
    pub(crate) fn new(base: Url, params: &[(&str, &str)]) -> Self {
        if base.fragment().is_some() {
            // Never from a registered redirect URI (they refuse fragments): the general path.
            return Self {
                location: Self::through_url(base, params),
            };
        }
        let needs_separator = base.query().is_some_and(|query| !query.is_empty());
        let has_query = base.query().is_some();
        let mut location = String::from(base);
        if params.is_empty() {
            return Self { location };
        }
        let room: usize = params.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
        location.reserve(room + room / 2);
        if !has_query {
            location.push('?');
        }
        for (i, (name, value)) in params.iter().enumerate() {
            if i > 0 || needs_separator {
                location.push('&');
            }
            form_encode(&mut location, name);
            location.push('=');
            form_encode(&mut location, value);
        }
        Self { location }
    }

    fn through_url(base: Url, params: &[(&str, &str)]) -> String {
        let mut location = base;
        if !params.is_empty() {
            let mut query = location.query_pairs_mut();
            for (name, value) in params {
                query.append_pair(name, value);
            }
        }
        location.into()
    }

    /// The `Location` to send.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The value of one parameter of the location.
    #[cfg(any(test, feature = "testkit"))]
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        Url::parse(&self.location)
            .ok()?
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// A `302 Found` with this location and the no-store headers.
    pub fn to_response(&self) -> Response {
        Response {
            status: 302,
            headers: vec![
                ("location", self.location.clone()),
                ("cache-control", "no-store".into()),
                // RFC 9700 §4.2.4: don't let the code leak through Referer from the next page.
                ("referrer-policy", "no-referrer".into()),
            ],
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_nothing_to_escape_are_what_serde_json_copies_as_they_are() {
        let mut texts: Vec<String> = (0u32..0x300)
            .filter_map(char::from_u32)
            .map(|c| format!("abc{c}def"))
            .collect();
        texts.extend(
            [
                "",
                "\"",
                "\\",
                "\u{7f}",
                "\u{2028}",
                "tk_AbC-_0123456789",
                "é\u{1}",
            ]
            .map(String::from),
        );
        for text in texts {
            let quoted = serde_json::to_vec(&text).unwrap_or_default();
            let copied = [b"\"", text.as_bytes(), b"\""].concat();
            assert_eq!(needs_no_escape(&text), quoted == copied, "{text:?}");
            let mut ours = Vec::new();
            json_string(&mut ours, &text);
            assert_eq!(ours, quoted, "{text:?}");
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        for n in [0, 1, -1, 9, 10, 3600, -5, 1_700_000_000, i64::MAX, i64::MIN] {
            let mut json = Vec::new();
            json_i64(&mut json, n);
            assert_eq!(serde_json::to_vec(&n).ok(), Some(json), "{n}");
        }
    }

    #[test]
    fn the_direct_redirect_writes_what_the_url_crate_writes() {
        for base in [
            "https://client.example/cb",
            "https://client.example/cb?",
            "https://client.example/cb?keep=1",
            "https://client.example:8443/p/a%20th?x=%41&y",
            "http://127.0.0.1:5000/",
            "com.example.app:/oauth",
            "urn:ietf:wg:oauth:2.0:oob",
            "https://client.example/cb#frag",
        ] {
            let base = Url::parse(base).unwrap_or_else(|_| unreachable!());
            for params in [
                &[][..],
                &[
                    ("code", "tsr_ac_AZaz09-_"),
                    ("state", "a b&c=d+e%f/g?é☃*.~!"),
                ][..],
                &[("iss", "https://auth.example.com/t?x=1")][..],
            ] {
                assert_eq!(
                    Redirect::new(base.clone(), params).location,
                    Redirect::through_url(base.clone(), params),
                    "{base} {params:?}"
                );
            }
        }
    }

    #[test]
    fn redirect_appends_parameters_to_an_existing_query() {
        let base =
            Url::parse("https://client.example/cb?keep=1").unwrap_or_else(|_| unreachable!());
        let redirect = Redirect::new(base.clone(), &[("code", "a b&c"), ("state", "xyz")]);
        assert_eq!(redirect.param("keep").as_deref(), Some("1"));
        assert_eq!(redirect.param("code").as_deref(), Some("a b&c"));
        let response = redirect.to_response();
        assert_eq!(response.status, 302);
        assert!(
            response
                .header("location")
                .unwrap_or("")
                .starts_with("https://client.example/cb?keep=1&code=a+b%26c")
        );
    }

    #[test]
    fn form_and_json_bodies_carry_no_store() {
        let body = serde_json::json!({"access_token": "x y", "token_type": "bearer"});
        let form = Response::form(200, &body);
        assert_eq!(
            String::from_utf8_lossy(&form.body),
            "access_token=x+y&token_type=bearer"
        );
        let json = Response::json(200, &body);
        for response in [form, json] {
            assert_eq!(response.header("cache-control"), Some("no-store"));
            assert_eq!(response.header("pragma"), Some("no-cache"));
        }
    }
}
