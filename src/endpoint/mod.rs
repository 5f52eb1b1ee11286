//! The endpoints own the wire: they parse requests (the dialect applied on the way in),
//! authenticate clients, run a grant or a lookup, and render every answer and error (the
//! dialect applied on the way out, in `render`).

pub(crate) mod authorization_header;
pub(crate) mod authorize;
pub(crate) mod authorized_apps;
#[cfg(feature = "jose")]
pub(crate) mod backchannel_logout;
pub(crate) mod bearer;
#[cfg(feature = "jose")]
pub(crate) mod client_assertion;
pub(crate) mod client_auth;
pub(crate) mod client_document;
pub(crate) mod device;
pub(crate) mod dpop;
#[cfg(feature = "jose")]
pub(crate) mod end_session;
pub(crate) mod form;
pub(crate) mod introspect;
pub(crate) mod metadata;
pub(crate) mod par;
pub(crate) mod register;
pub(crate) mod render;
#[cfg(feature = "jose")]
pub(crate) mod request_object;
pub(crate) mod resource_metadata;
pub(crate) mod revoke;
pub(crate) mod token;
#[cfg(feature = "jose")]
pub(crate) mod userinfo;
