//! Security profiles: presets that turn on what a profile requires, and refuse at
//! [`ConfigBuilder::build`](crate::ConfigBuilder::build) any setting that contradicts it. One so
//! far: the FAPI 2.0 Security Profile (OpenID Foundation, final, February 2025).
//!
//! What the preset does, clause by clause, and the test of each: the
//! [guide's FAPI 2.0 page](crate::guide::fapi2).

use time::Duration;

use crate::client::{AuthMethod, Client, GrantType};
use crate::config::{Config, ConfigError, PkceRequirement};
use crate::danger::Danger;
use crate::error::{ErrorCode, OAuthError};

/// A security profile a [`Config`] follows; see [`crate::ConfigBuilder::security_profile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProfile {
    /// The FAPI 2.0 Security Profile. The preset requires pushed authorization requests and
    /// PKCE (S256) for every client, caps the code lifetime at 60 seconds, keeps the grants to
    /// `authorization_code`, `refresh_token` and `client_credentials`, and turns refresh
    /// rotation off (FAPI 2.0 §5.3.2.1 discourages it). At run time: clients authenticate with
    /// `private_key_jwt` (their assertions naming the issuer alone as `aud`) or mTLS
    /// (`tls_client_auth`, `self_signed_tls_client_auth`), every token is sender-constrained
    /// (a DPoP proof, or the client's certificate: a request with neither is refused), pushed
    /// requests carry `redirect_uri`, RS256 is refused and ID tokens default to ES256 (§5.4).
    Fapi2,
}

/// FAPI 2.0 §5.3.2.2: authorization codes live at most 60 seconds.
pub(crate) const FAPI2_CODE_LIFETIME: Duration = Duration::seconds(60);

/// The grants the FAPI 2.0 Security Profile covers.
const FAPI2_GRANTS: [GrantType; 3] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
];

impl SecurityProfile {
    /// Turns on what the profile requires.
    pub(crate) fn apply(self, config: &mut Config) {
        match self {
            Self::Fapi2 => {
                config.require_pushed_requests = true;
                config.pkce = PkceRequirement::AllClients;
                config.lifetimes.code = config.lifetimes.code.min(FAPI2_CODE_LIFETIME);
                config.grant_types.retain(|g| FAPI2_GRANTS.contains(g));
                config.rotate_refresh_tokens = false;
            }
        }
    }

    /// Refuses a configuration that contradicts the profile (settings changed after
    /// [`SecurityProfile::apply`]).
    pub(crate) fn check(self, config: &Config) -> Result<(), ConfigError> {
        let require = |ok: bool, why: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Profile(why))
            }
        };
        match self {
            Self::Fapi2 => {
                require(
                    config.require_pushed_requests
                        && config.endpoints.pushed_authorization.is_some(),
                    "FAPI 2.0 requires pushed authorization requests (§5.3.2.2)",
                )?;
                require(
                    config.pkce == PkceRequirement::AllClients,
                    "FAPI 2.0 requires PKCE for every client (§5.3.2.2)",
                )?;
                require(
                    config.lifetimes.code <= FAPI2_CODE_LIFETIME,
                    "FAPI 2.0 allows authorization codes of at most 60 seconds (§5.3.2.2)",
                )?;
                require(
                    config.grant_types.iter().all(|g| FAPI2_GRANTS.contains(g)),
                    "FAPI 2.0 covers the authorization_code, refresh_token and client_credentials grants only",
                )?;
                require(
                    config.danger == Danger::default(),
                    "FAPI 2.0 allows no weakened default (tessera::danger)",
                )?;
                require(
                    !config.rotate_refresh_tokens || config.refresh_grace.is_some(),
                    "FAPI 2.0 allows refresh rotation only if a retry with the previous token succeeds (§5.3.2.1): set a refresh grace window, or turn rotation off",
                )?;
            }
        }
        Ok(())
    }
}

impl Config {
    /// Whether the configuration follows the FAPI 2.0 Security Profile.
    pub(crate) fn fapi2(&self) -> bool {
        self.profile == Some(SecurityProfile::Fapi2)
    }

    /// The client authentication methods the profile allows at the token and PAR endpoints;
    /// `None`: every method.
    pub(crate) fn allowed_auth_methods(&self) -> Option<&'static [AuthMethod]> {
        self.fapi2().then_some(&[
            AuthMethod::PrivateKeyJwt,
            AuthMethod::TlsClientAuth,
            AuthMethod::SelfSignedTlsClientAuth,
        ])
    }

    /// Refuses, at the token and PAR endpoints, a client the profile does not serve: FAPI 2.0
    /// §5.3.2.1 serves confidential clients authenticated by `private_key_jwt` or mTLS only.
    pub(crate) fn check_profile_client(&self, client: &Client) -> Result<(), OAuthError> {
        match self.allowed_auth_methods() {
            Some(allowed) if !allowed.contains(&client.auth_method) => Err(OAuthError::new(
                ErrorCode::InvalidClient,
                "this server follows FAPI 2.0: clients authenticate with private_key_jwt or mTLS",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the profile lets `alg` sign or verify anything (FAPI 2.0 §5.4: PS256, ES256
    /// and EdDSA; never RS256).
    #[cfg(feature = "jose")]
    pub(crate) fn profile_allows(&self, alg: crate::jose::Algorithm) -> bool {
        !(self.fapi2() && alg == crate::jose::Algorithm::Rs256)
    }
}
