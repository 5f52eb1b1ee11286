//! Security events for the host to log or alert on. They never carry a secret.

use std::fmt;

use crate::client::{ClientId, UserId};
use crate::store::GrantId;

/// Something security-relevant happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A client failed to authenticate.
    ClientAuthFailed {
        /// The client ID it claimed, if it named a valid one.
        client_id: Option<ClientId>,
    },
    /// A spent authorization code was presented again; its grant was revoked.
    CodeReplayed {
        /// The grant whose tokens were revoked.
        grant_id: GrantId,
    },
    /// A retired refresh token was presented again; its whole family was revoked.
    RefreshReused {
        /// The revoked family.
        grant_id: GrantId,
        /// The client the token was issued to.
        client_id: ClientId,
    },
    /// A client revoked a token (RFC 7009).
    TokenRevoked {
        /// The client that asked.
        client_id: ClientId,
    },
    /// A user granted a client access.
    ConsentGranted {
        /// The user.
        user: UserId,
        /// The client.
        client_id: ClientId,
    },
    /// A user withdrew a client's access.
    ConsentWithdrawn {
        /// The user.
        user: UserId,
        /// The client.
        client_id: ClientId,
    },
    /// A client was registered (dynamically, through the typed API, or imported).
    ClientRegistered {
        /// The new client.
        client_id: ClientId,
    },
    /// A client's registered metadata was replaced (RFC 7592 `PUT`).
    ClientUpdated {
        /// The client.
        client_id: ClientId,
    },
    /// A client's secret was replaced.
    ClientSecretRotated {
        /// The client.
        client_id: ClientId,
    },
    /// A client was deleted, with everything issued to it.
    ClientDeleted {
        /// The client.
        client_id: ClientId,
    },
    /// An attempt was refused because its key made too many wrong guesses.
    RateLimited {
        /// What was being guessed.
        limit: RateLimit,
    },
}

/// What a rate limit protects, in [`AuditEvent::RateLimited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimit {
    /// Device flow user codes typed on the verification page (RFC 8628 §5.1).
    DeviceUserCode,
    /// A confidential client's secret (RFC 6819 §5.1.4.2.3), keyed by client and source.
    ClientSecret,
    /// Token-exchange subject tokens a host validator checks, keyed by client and source.
    SubjectToken,
}

/// Receives audit events. The default sink only emits `tracing` events.
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Called once per event, synchronously: keep it cheap (send to a channel).
    fn record(&self, event: &AuditEvent);
}

/// Emits each event as a `tracing` warning or info event, target `tessera::audit`.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::exhaustive_structs)] // a unit struct: nothing to add
pub struct TracingAudit;

impl AuditSink for TracingAudit {
    fn record(&self, event: &AuditEvent) {
        match event {
            AuditEvent::CodeReplayed { .. }
            | AuditEvent::RefreshReused { .. }
            | AuditEvent::ClientAuthFailed { .. }
            | AuditEvent::RateLimited { .. } => {
                tracing::warn!(target: "tessera::audit", ?event, "security event");
            }
            _ => tracing::info!(target: "tessera::audit", ?event, "security event"),
        }
    }
}
