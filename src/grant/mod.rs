//! One module per grant; each ends by minting tokens through [`issue`].

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod issue;
pub(crate) mod pkce;
pub(crate) mod refresh_token;
pub(crate) mod token_exchange;
