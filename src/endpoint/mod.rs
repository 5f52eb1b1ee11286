//! The endpoints: thin layers that parse a request, run a grant or a lookup, and respond.

pub(crate) mod authorization_header;
pub(crate) mod authorized_apps;
pub(crate) mod bearer;
pub(crate) mod client_auth;
pub(crate) mod form;
pub(crate) mod introspect;
pub(crate) mod metadata;
pub(crate) mod register;
pub(crate) mod revoke;
pub(crate) mod token;
