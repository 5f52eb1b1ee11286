//! Guides: documentation only, no code. Start with [`integrating`].

pub mod integrating {
    //! # Embedding tessera in a web application
    //!
    //! tessera never sees your HTTP framework. Each endpoint is one async method on
    //! [`Provider`](crate::Provider) that takes what the request carried and returns a value
    //! to send:
    //!
    //! | route | call | returns |
    //! |---|---|---|
    //! | `GET/POST /authorize` | [`Provider::authorize`](crate::Provider::authorize) with the query or form as [`Params`](crate::Params) | a [`PendingAuthorization`](crate::PendingAuthorization), or an [`AuthorizeError`](crate::AuthorizeError) |
    //! | `POST /token` | [`Provider::token`](crate::Provider::token) with a [`FormRequest`](crate::FormRequest) | [`Response`](crate::Response) |
    //! | `POST /revoke` | [`Provider::revoke`](crate::Provider::revoke) | [`Response`](crate::Response) |
    //! | `POST /introspect` | [`Provider::introspect`](crate::Provider::introspect) | [`Response`](crate::Response) |
    //! | `POST /device_authorization` | [`Provider::device_authorization`](crate::Provider::device_authorization) | [`Response`](crate::Response) |
    //! | `POST /register` | [`Provider::register`](crate::Provider::register) with the JSON body | [`Response`](crate::Response) |
    //! | `GET /.well-known/oauth-authorization-server` | [`Provider::metadata_response`](crate::Provider::metadata_response) | [`Response`](crate::Response) |
    //! | any API route | [`Provider::validate_bearer`](crate::Provider::validate_bearer) with a [`BearerRequest`](crate::BearerRequest) | a [`Principal`](crate::Principal) or a [`BearerError`](crate::BearerError) that renders its challenge |
    //!
    //! On axum, the `axum` feature (`tessera::axum`) is this table: its router mounts every
    //! endpoint but the authorization endpoint at the paths the metadata advertises, and its
    //! extractors (`FormRequest`, `PendingAuthorization`, `Principal`) and `BearerLayer` do the
    //! rest; the README's "Embedding tessera in your own app" is a complete provider on it.
    //!
    //! ## The authorization endpoint is yours to render
    //! Your application owns login and consent. The usual shape:
    //!
    //! 1. Parse the query and call `authorize`. On `AuthorizeError::Untrusted`, show an error
    //!    page (400): the client or redirect URI could not be verified, so nothing may be sent
    //!    there. On `AuthorizeError::Redirect`, hold it: its 302 is only handed out, by
    //!    [`AuthorizeError::after_login`](crate::AuthorizeError::after_login), for a signed-in
    //!    user (RFC 9700 §4.11.2).
    //! 2. If nobody is logged in, send the browser to your login page, carrying the original
    //!    query; come back and call `authorize` again (it is cheap and keeps no state).
    //! 3. If [`PendingAuthorization::consent_covers`](crate::PendingAuthorization::consent_covers)
    //!    says the user already granted these scopes, approve at once; otherwise render a consent
    //!    page (with your CSRF token) and, on its POST, call `authorize` again with the carried
    //!    query and then `approve` or `deny`.
    //!
    //! ## What the host must do
    //! Serve everything over TLS; authenticate users; protect your login and consent forms with
    //! CSRF tokens and `X-Frame-Options: DENY` / `frame-ancestors 'none'`; rate-limit at the edge;
    //! call [`Provider::sweep`](crate::Provider::sweep) on a schedule.
}

pub mod writing_a_store {
    //! # Writing a storage backend
    //!
    //! Implement the six traits of [`crate::store`] for one type; it is then a
    //! [`Storage`](crate::store::Storage). Read each method's `# Contract`: the ones that
    //! matter for security are atomicity under concurrency —
    //! [`redeem_code`](crate::store::CodeStore::redeem_code),
    //! [`redeem_device`](crate::store::DeviceStore::redeem_device) and
    //! [`rotate_refresh`](crate::store::TokenStore::rotate_refresh) must let exactly one of many
    //! concurrent callers win, across processes, each spending and storing in one step, and
    //! [`revoke_grant`](crate::store::TokenStore::revoke_grant) must leave a tombstone that
    //! every later step respects (a revoked grant never comes back) and no token of the family
    //! visible once it returns. Work that grows with the data
    //! ([`delete_client`](crate::store::ClientStore::delete_client), revocations, sweeps) marks
    //! first and then removes in bounded batches, so one call never holds the store.
    //!
    //! Then prove it: with the `testkit` feature, one line runs every check (contracts, races
    //! of many tasks, random operation sequences against a model):
    //!
    //! ```ignore
    //! tessera::store_conformance_tests!(async { std::sync::Arc::new(MyStore::connect().await) });
    //! ```
    //!
    //! Records implement `Serialize`/`Deserialize`, so a key-value store can keep them as JSON.
    //! Times are whole seconds; stores never see a secret, only [`TokenHash`](crate::TokenHash).
}

pub mod defaults {
    //! # Why each default is what it is
    //!
    //! | default | why |
    //! |---|---|
    //! | PKCE S256 required for every client | RFC 9700 §2.1.1: stops code injection and interception for confidential clients too. `plain` only through [`danger`](crate::danger). |
    //! | exact redirect URI matching, loopback ports excepted | RFC 9700 §4.1.3 and RFC 8252 §7.3. Pattern matching has a long history of open redirects. |
    //! | codes live 60 s and are single-use; a replay revokes the grant | RFC 6749 §4.1.2. |
    //! | refresh tokens rotate; reuse revokes the family | RFC 9700 §4.14.2: the only way to detect a stolen refresh token of a public client. |
    //! | no refresh grace window | a window weakens reuse detection; enable it only for clients that lose responses, and its successor is kept sealed. |
    //! | access tokens 1 h, refresh 30 d, families 90 d | short-lived bearer tokens bound the damage of a leak. |
    //! | `iss` in authorization responses | RFC 9207: defeats mix-up attacks for clients talking to several servers. |
    //! | secrets stored as hashes; generated ones SHA-256 (of the 50 characters before the checksum: one block), imported ones Argon2id | a 256-bit random secret needs no slow hash; a human-chosen one does. |
    //! | tokens accepted in the query string | off: RFC 6750 §2.3 discourages it and RFC 9700 §4.3.2 forbids it; every seed provider documents it, so their examples opt in with `Danger::bearer_in_query`. |
}

pub mod threat_model {
    //! # Threat model
    //!
    //! tessera assumes an attacker who controls clients (registers their own, steals or
    //! replays codes and tokens, forges requests, sends arbitrary bytes) and may read the
    //! database but not the host's memory or TLS traffic. Against that it guarantees: no
    //! plaintext secret in storage; codes redeemed at most once; a reused refresh token kills its
    //! family; no error about an untrusted redirect URI is ever redirected; bad input is
    //! answered with an RFC error, never a panic or a 5xx. See SECURITY.md in the repository for
    //! the full list and for what the host must provide.
}
