//! Spellings of a login's `next` that a browser could resolve to another origin, for the open
//! redirect regression tests of every example (finding C7). Shared by tests/example_server.rs
//! and tests/dialect_common (each includes this file with `#[path]`).
#![allow(dead_code)]

/// Each of these must be refused as a `next` (the login then continues to `/`).
pub(crate) const HOSTILE: &[&str] = &[
    "//evil.example/login",
    "///evil.example/login",
    "/\t/evil.example/login",
    "/%09/evil.example/login",
    "/\n/evil.example/login",
    "/%0a/evil.example/login",
    "/\r/evil.example/login",
    "/%0D/evil.example/login",
    "/\x0b/evil.example/login",
    "/\0/evil.example/login",
    "/%00/evil.example/login",
    "/\x7f/evil.example/login",
    "/ /evil.example/login",
    "/%20/evil.example/login",
    "/\\evil.example/login",
    "/\\/evil.example/login",
    "\\/evil.example/login",
    "\\\\evil.example/login",
    "/%5cevil.example/login",
    "/%5C/evil.example/login",
    "/%2f/evil.example/login",
    "/%2F%2Fevil.example/login",
    "/%252F/evil.example/login",
    "/%25252F/evil.example/login",
    "/%2525252F/evil.example/login",
    "/%09%2F/evil.example/login",
    "/\u{3000}/evil.example/login",
    "/%E3%80%80/evil.example/login",
    "/\u{200b}/evil.example/login",
    "/\u{85}/evil.example/login",
    "/%C2%85/evil.example/login",
    " //evil.example/login",
    "\t//evil.example/login",
    "\n/evil.example",
    "https://evil.example/login",
    "http:evil.example",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "//user@evil.example",
    "/.//evil.example",
    "/..//evil.example",
    "/apps//evil.example",
    "",
    "?next=//evil.example",
    "#//evil.example",
];

/// Whether `location` (a `Location` header) resolves, as a browser resolves it (the WHATWG URL
/// rules of the `url` crate: tabs and newlines dropped, `\` read as `/`), to `base`'s origin.
pub(crate) fn same_origin(base: &str, location: &str) -> bool {
    let base = url::Url::parse(base).expect("base URL");
    base.join(location)
        .is_ok_and(|resolved| resolved.origin() == base.origin())
}
