//! The endpoints: thin layers that parse a request, run a grant or a lookup, and respond.

pub(crate) mod authorized_apps;
pub(crate) mod bearer;
pub(crate) mod introspect;
pub(crate) mod metadata;
pub(crate) mod register;
pub(crate) mod revoke;
pub(crate) mod token;
