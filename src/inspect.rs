//! Reading responses back, for tests and for in-process clients (the quick-start plays both
//! sides): hosts send a [`Response`] or [`Redirect`] as it is and never need these.

use crate::response::{Redirect, Response};

/// Reads a [`Response`]'s body.
pub trait ResponseExt {
    /// The body parsed as JSON.
    fn json_body(&self) -> Option<serde_json::Value>;
}

impl ResponseExt for Response {
    fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Reads a [`Redirect`]'s location.
pub trait RedirectExt {
    /// The value of one parameter of the location (`code`, `state`, `error`, `iss`, ...).
    fn param(&self, name: &str) -> Option<String>;
}

impl RedirectExt for Redirect {
    fn param(&self, name: &str) -> Option<String> {
        Redirect::param(self, name)
    }
}
