//! Settings that weaken a default. Each is here, named for what it gives up, with the risk
//! spelled out, so that a reader of the host's code sees every one.

use crate::config::Config;
use crate::expiry::StandardExpiry;
use crate::scope::Scope;

/// Accept `code_challenge_method=plain` (RFC 7636 §4.2).
///
/// # Risk
/// A plain challenge is the verifier itself: anyone who sees the authorization request (browser
/// history, logs, a malicious app on the device) can redeem an intercepted code. RFC 9700 §2.1.1
/// says to use S256. Only for clients that cannot compute SHA-256.
pub fn allow_plain_pkce(config: &mut Config) {
    config.allow_plain_pkce = true;
}

/// Make tokens granted with `scope` never expire (Phabricator's `offline_access`).
///
/// # Risk
/// A leaked non-expiring token works until someone revokes it. Users must be able to see and
/// revoke their authorized applications (the provider's `authorized_apps` API), and hosts should
/// monitor for misuse.
pub fn never_expire_with_scope(expiry: StandardExpiry, scope: Scope) -> StandardExpiry {
    StandardExpiry {
        never_expiring_scope: Some(scope),
        ..expiry
    }
}

/// Make every token never expire (AppHarbor: "tokens do not expire").
///
/// # Risk
/// As [`never_expire_with_scope`], for every token.
pub fn never_expire(expiry: StandardExpiry) -> StandardExpiry {
    StandardExpiry {
        never_expire: true,
        ..expiry
    }
}
