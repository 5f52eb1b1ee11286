//! Guides: documentation only, no code. Start with [`integrating`], then [`flows`] and
//! [`issuers_and_metadata`].

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
    //! ## Signed requests (JAR, RFC 9101)
    //! A query with `request` (feature `jose`) is a request object: `authorize` verifies it
    //! with the client's registered `jwks` and uses its claims alone, so carry the whole query
    //! (the JWT included) through the login page as for any request. An invalid object is an
    //! `AuthorizeError::Untrusted` `invalid_request_object`, a page: its `redirect_uri` is not
    //! trusted until the signature is. A `jti` is used once, when the request is approved, so
    //! reading the carried query again is fine. Pushed (`request` sent to the PAR endpoint),
    //! the object's parameters are sealed into the `request_uri` and its `jti` used up at once.
    //!
    //! ## What the host must do
    //! Serve everything over TLS; authenticate users; protect your login and consent forms with
    //! CSRF tokens and `X-Frame-Options: DENY` / `frame-ancestors 'none'`; rate-limit at the edge;
    //! call [`Provider::sweep`](crate::Provider::sweep) on a schedule.
}

pub mod flows {
    //! # The grants, one by one
    //!
    //! A provider offers only the grant types its [`Config`](crate::Config) names
    //! ([`ConfigBuilder::grant_types`](crate::ConfigBuilder::grant_types); default
    //! `authorization_code` and `refresh_token`), and a client only those it registered.
    //! Every token of every grant goes through one issuance step, so the same rules hold
    //! whatever made it: it belongs to a grant family, never outlives it, and dies with it.
    //!
    //! ## Authorization code (RFC 6749 §4.1, RFC 7636)
    //! The flow of the [`integrating`](super::integrating) guide. PKCE S256 is required of every client; the code
    //! lives 60 seconds and is redeemed once (a second redemption revokes everything the code
    //! gave). **`authorization_code` implies `refresh_token`**: a client registered for the
    //! first may always use the second, and every code redemption returns a refresh token.
    //!
    //! ## Refresh tokens and `offline_access` (RFC 6749 §6, RFC 9700 §4.14)
    //! A refresh rotates the refresh token (always for public clients; confidential clients
    //! too unless configured otherwise): the old one is retired, and presenting it again is
    //! treated as theft, revoking the whole family. A refresh may narrow the scopes, never
    //! widen them. Each family has an absolute lifetime from the user's approval
    //! ([`Lifetimes::with_refresh_family`](crate::Lifetimes::with_refresh_family), 90 days by
    //! default) that rotation never extends. `offline_access` is an ordinary scope to tessera:
    //! ask for it if your consent page should say "keeps access while you are away". Tokens
    //! that never expire exist only through
    //! [`Danger::never_expire_with_scope`](crate::danger::Danger::never_expire_with_scope), and
    //! only for grants a user gave (and can revoke at their authorized-apps page).
    //!
    //! ## Client credentials (RFC 6749 §4.4)
    //! A confidential client acting for itself. No refresh token; the access token always has
    //! a finite lifetime; the default scope (none requested) is the client's registered scope
    //! without `offline_access`. Issuance is rate-limited per client
    //! ([`ProviderBuilder::machine_issuance`](crate::ProviderBuilder::machine_issuance): 600 per
    //! minute by default, then 429 with `Retry-After`), so a leaked secret cannot fill the
    //! store.
    //!
    //! ## Device authorization (RFC 8628)
    //! The device calls [`Provider::device_authorization`](crate::Provider::device_authorization)
    //! and shows the user code and your verification page. That page is yours: a signed-in user
    //! types the code, you call [`Provider::device_verification`](crate::Provider::device_verification)
    //! with a [`DeviceAttempt`](crate::DeviceAttempt) naming the user and the request's source
    //! (wrong codes are limited per user, per source and globally), and render a consent page
    //! from the [`PendingDeviceAuthorization`](crate::PendingDeviceAuthorization) that repeats the
    //! code and warns against remote phishing (RFC 8628 §5.4: "only continue if you started
    //! this on a device you have in hand"). A link carrying `?user_code=` may fill the form in,
    //! but never skip it. The device polls the token endpoint and gets `authorization_pending`,
    //! `slow_down` (its interval raised by 5 s), `access_denied`, `expired_token` or its tokens.
    //!
    //! ## Token exchange (RFC 8693)
    //! Off by default, and never self-registrable. A client may exchange only an access token
    //! issued to itself, or one a configured trust
    //! ([`ConfigBuilder::trust_exchange`](crate::ConfigBuilder::trust_exchange)) lets it act on;
    //! the new token joins the subject token's family (revoking either revokes both) and never
    //! outlives it. Subject tokens from elsewhere go through your
    //! [`SubjectTokenValidator`](crate::SubjectTokenValidator), rate-limited like secrets.
}

pub mod issuers_and_metadata {
    //! # Issuers, routes and the metadata document
    //!
    //! The issuer is the provider's name: an `https` URL with no query or fragment (RFC 8414
    //! §2), checked by [`ConfigBuilder::build`](crate::ConfigBuilder::build). It may have a path
    //! (`https://example.com/tenant`), which hosts use to run several providers on one host.
    //!
    //! Endpoint paths ([`Endpoints`](crate::Endpoints)) are relative to the issuer: with issuer
    //! `https://example.com/tenant` and the default token path `/token`, the token endpoint is
    //! `https://example.com/tenant/token`. The metadata document lives where RFC 8414 §3.1 puts
    //! it: `/.well-known/oauth-authorization-server` *followed by* the issuer's path
    //! (`https://example.com/.well-known/oauth-authorization-server/tenant`), not below it.
    //! Clients find everything else there.
    //!
    //! The document advertises only what the provider serves: an optional endpoint
    //! (revocation, introspection, device authorization, registration) appears only if its
    //! path is configured and, for registration, only if registration is open or initial access
    //! tokens are configured; device authorization only if the device grant is enabled. Each
    //! advertised path must be routed; the `axum` feature's router mounts every one at the
    //! advertised path (including the issuer-path rule above), so the two cannot disagree. On
    //! another framework, build your routes from [`Config::endpoints`](crate::Config::endpoints)
    //! and [`Config::endpoint_url`](crate::Config::endpoint_url) rather than repeating paths.
    //!
    //! `iss` is added to every authorization response (RFC 9207) and
    //! `authorization_response_iss_parameter_supported` advertised, so that a client talking to
    //! several providers can tell which one answered.
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
    //! | request objects: compact JWS only, the client's `jwks`, `aud` the issuer, `exp` at most 60 min ahead, `nbf`/`iat` at most 60 min old, `jti` once | RFC 9101 §6 and §10, FAPI 2.0 Message Signing: `alg: none` and keys named by URL are refused, and a captured object is good for at most an hour, once if it has a `jti`. |
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

pub mod fapi2 {
    //! # The FAPI 2.0 Security Profile
    //!
    //! [`ConfigBuilder::security_profile`](crate::ConfigBuilder::security_profile) with
    //! [`SecurityProfile::Fapi2`](crate::SecurityProfile::Fapi2) turns on what the FAPI 2.0
    //! Security Profile (OpenID Foundation, final, February 2025) requires of an authorization
    //! server, and [`ConfigBuilder::build`](crate::ConfigBuilder::build) refuses a later setting
    //! that contradicts it with [`ConfigError::Profile`](crate::ConfigError::Profile). Give the
    //! provider [`ProviderBuilder::signing_keys`](crate::ProviderBuilder::signing_keys) with an
    //! ES256, EdDSA or PS256 key if it speaks OpenID Connect, and keep DPoP on (the default) or hand tessera the clients' TLS certificates (RFC 8705).
    //!
    //! | FAPI 2.0 requirement (Security Profile §5.3.2, §5.4) | tessera | test (`tests/fapi.rs` unless named) |
    //! |---|---|---|
    //! | distribute RFC 8414 metadata | always; the preset lists only what it accepts | `the_preset_turns_on_what_the_profile_requires_and_advertises_it` |
    //! | reject the password grant | tessera has none | — |
    //! | confidential clients only | public clients refused at PAR and token endpoints, and at registration | `clients_that_do_not_use_private_key_jwt_are_refused`, `dynamic_registration_refuses_what_the_profile_forbids` |
    //! | sender-constrained access tokens only (DPoP or mTLS) | every token request needs a DPoP proof or the client's TLS certificate, which then binds the tokens (`cnf.x5t#S256`); `invalid_dpop_proof` with neither | `a_token_request_without_a_dpop_proof_is_refused`, `a_pushed_signed_and_sender_constrained_flow_gets_a_dpop_token`, `an_mtls_client_gets_certificate_bound_tokens_without_dpop`, `tests/mtls.rs` |
    //! | client authentication by `private_key_jwt` or mTLS | `private_key_jwt`, `tls_client_auth` or `self_signed_tls_client_auth` only; `client_secret_jwt` (symmetric) is neither advertised nor registrable even with its key | `clients_that_do_not_use_private_key_jwt_are_refused`, `an_mtls_client_gets_certificate_bound_tokens_without_dpop`, `tests/client_secret_jwt.rs::the_fapi2_preset_never_offers_it` |
    //! | accept only the issuer, as a string, as `aud` of client assertions | the token endpoint URL is refused | `assertions_must_name_the_issuer_alone_and_not_use_rs256` |
    //! | no refresh rotation unless a retry with the previous token succeeds | the preset turns rotation off; rotation needs a grace window | `settings_that_contradict_the_profile_are_refused` |
    //! | no open redirectors | exact redirect URI matching, errors about untrusted redirects never redirected (always) | `tests/attacks.rs` |
    //! | authorization code grant only at the authorization endpoint (`response_type=code`) | the only response type tessera has | `tests/authorization_code.rs` |
    //! | client-authenticated PAR, requests without PAR rejected | PAR required; authentication as at the token endpoint | `pushed_requests_must_name_the_redirect_uri_and_plain_requests_are_refused`, `tests/par.rs` |
    //! | `redirect_uri` required in pushed requests | refused with `invalid_request` without (in the form, or in the request object) | `pushed_requests_must_name_the_redirect_uri_and_plain_requests_are_refused`, `a_pushed_request_object_names_the_redirect_uri_and_rs256_objects_are_refused` |
    //! | PKCE with S256 | required for every client; `plain` would need `tessera::danger`, which the profile refuses | `settings_that_contradict_the_profile_are_refused` |
    //! | `iss` in the authorization response (RFC 9207) | always (omitting it needs `tessera::danger`) | `a_pushed_signed_and_sender_constrained_flow_gets_a_dpop_token` |
    //! | `request_uri` lifetime under 600 s, single use | 60 s by default, at most 10 min (`Lifetimes::pushed_request`); once across instances | `tests/par.rs` |
    //! | authorization codes live at most 60 s, single use | capped at 60 s; a replay revokes the grant | `codes_live_sixty_seconds`, `tests/authorization_code.rs` |
    //! | with DPoP, support `dpop_jkt` | always | `tests/dpop.rs::dpop_jkt_binds_the_code_to_the_key` |
    //! | no HTTP 307 after user credentials | the host's login page: answer its form with 303 | the host's job |
    //! | CSRF protection of the host's pages, user authentication | the host's job | — |
    //! | algorithms PS256, ES256 or EdDSA; RSA keys of 2048 bits or more | RS256 refused for assertions, request objects (JAR), DPoP proofs and registered algorithms; ID tokens default to ES256; RSA keys under 2048 bits are refused by `tessera::jose` anyway; PS256 (an RSA key whose JWK says `"alg":"PS256"`) accepted everywhere | `assertions_must_name_the_issuer_alone_and_not_use_rs256`, `rs256_dpop_proofs_are_refused`, `a_pushed_request_object_names_the_redirect_uri_and_rs256_objects_are_refused`, `ps256_assertions_are_accepted`, `tests/jose.rs::ps256_round_trips_with_jsonwebtoken_and_never_passes_for_rs256` |
    //!
    //! Outside the profile, a client can require sender-constrained tokens for itself with
    //! `dpop_bound_access_tokens` (RFC 9449 §5.2, `ClientMetadata::dpop_bound_access_tokens`):
    //! `outside_the_profile_a_client_can_require_dpop_for_itself`.
}

pub mod openid_certification {
    //! # The OpenID Connect Basic OP test plan, mapped to tessera's tests
    //!
    //! The OpenID Foundation certifies providers with its conformance suite; the "Basic OP"
    //! profile is the `oidcc-basic-certification-test-plan` (code flow, `client_secret_basic`
    //! or `client_secret_post`). tessera has **not** been run through that suite: it is an
    //! online service the network here cannot reach, and it certifies a deployment (your
    //! pages, your users), not a library. This table maps each module of the plan to the
    //! tessera test that exercises the same behaviour (`file::test`, under `tests/` unless
    //! it names a `src/` module), and says what is left to the host. Every test named here
    //! passes in CI.
    //!
    //! | module | tessera test | status |
    //! |---|---|---|
    //! | `oidcc-server` | `openid_connect::the_code_flow_returns_a_verifiable_id_token`, `openid_rp::the_openidconnect_crate_signs_in_and_reads_userinfo` (a strict third-party RP over HTTP) | covered |
    //! | `oidcc-response-type-missing` | `openid_extras::a_missing_response_type_is_an_error_at_the_redirect_uri` | covered (the error is redirected once the host has a signed-in user: [`AuthorizeError::after_login`](crate::AuthorizeError::after_login)) |
    //! | `oidcc-userinfo-get` | `openid_connect::userinfo_returns_the_claims_the_scopes_release`, `openid_rp::the_openidconnect_crate_signs_in_and_reads_userinfo` | covered |
    //! | `oidcc-userinfo-post-header` | `openid_connect::userinfo_returns_the_claims_the_scopes_release` ([`Provider::userinfo`](crate::Provider::userinfo) reads the header whatever the method) | covered; the host routes POST `/userinfo` too (the `axum` router does) |
    //! | `oidcc-userinfo-post-body` | `openid_connect::userinfo_returns_the_claims_the_scopes_release` (`access_token` in the form body) | covered |
    //! | `oidcc-ensure-request-without-nonce-succeeds-for-code-flow` | `openid_connect::pkce_or_a_nonce_for_confidential_clients_and_pkce_always_for_public_ones` | covered with PKCE; a request with neither PKCE nor `nonce` is refused (RFC 9700 §2.1.1), so configure the suite's client to use PKCE |
    //! | `oidcc-scope-profile`, `-email`, `-address`, `-phone` | `oidc::tests::scopes_release_their_claims_and_never_protected_ones` (in `src/oidc.rs`), `openid_connect::userinfo_returns_the_claims_the_scopes_release` | covered; the claims' values come from the host's [`ClaimsSource`](crate::oidc::ClaimsSource) |
    //! | `oidcc-scope-all` | `openid_extras::basic_op_plan_requests_that_must_succeed` | covered (the host supplies the claims) |
    //! | `oidcc-ensure-other-scope-order-succeeds` | `openid_extras::basic_op_plan_requests_that_must_succeed` (`email openid`) | covered |
    //! | `oidcc-display-page`, `oidcc-display-popup` | `openid_extras::basic_op_plan_requests_that_must_succeed` | accepted; how the page looks is the host's |
    //! | `oidcc-prompt-login` | `openid_connect::prompt_none_and_max_age` ([`Prompt::login`](crate::Prompt), [`PendingAuthorization::needs_login`](crate::PendingAuthorization::needs_login)) | covered; re-authenticating the user is the host's |
    //! | `oidcc-prompt-none-not-logged-in` | `openid_connect::prompt_none_and_max_age` (`login_required` through [`Interaction::Login`](crate::Interaction)) | covered; knowing nobody is signed in is the host's |
    //! | `oidcc-prompt-none-logged-in` | `openid_connect::prompt_none_and_max_age` | covered |
    //! | `oidcc-max-age-1`, `oidcc-max-age-10000` | `openid_connect::prompt_none_and_max_age` (`auth_time` in the ID token, a stale login asked again) | covered; the host passes the real login time ([`PendingAuthorization::approve_authenticated`](crate::PendingAuthorization::approve_authenticated)) |
    //! | `oidcc-id-token-hint` | `openid_connect::an_id_token_hint_names_its_user_only_if_it_is_ours_and_for_the_client`, `openid_extras::a_pairwise_client_sees_one_sub_everywhere_and_never_the_user_id` | covered; comparing with the session's user is the host's ([`PendingAuthorization::id_token_hint_names`](crate::PendingAuthorization::id_token_hint_names)) |
    //! | `oidcc-login-hint` | `openid_extras::basic_op_plan_requests_that_must_succeed` ([`PendingAuthorization::login_hint`](crate::PendingAuthorization::login_hint)) | passed to the host, whose login page uses it |
    //! | `oidcc-ui-locales` | `openid_extras::basic_op_plan_requests_that_must_succeed` ([`PendingAuthorization::ui_locales`](crate::PendingAuthorization::ui_locales)) | passed to the host |
    //! | `oidcc-claims-locales` | `openid_extras::basic_op_plan_requests_that_must_succeed` | accepted and ignored (claims come in the host's languages) |
    //! | `oidcc-ensure-request-with-unknown-parameter-succeeds` | `openid_extras::basic_op_plan_requests_that_must_succeed` | covered |
    //! | `oidcc-ensure-request-with-acr-values-succeeds` | `openid_extras::basic_op_plan_requests_that_must_succeed` ([`PendingAuthorization::acr_values`](crate::PendingAuthorization::acr_values)) | covered; the `acr` the host reports goes into the ID token |
    //! | `oidcc-ensure-request-object-with-redirect-uri` | `jar::each_algorithm_signs_a_request_object_whose_parameters_alone_count`, `jar::an_invalid_request_object_is_never_redirected_to_its_redirect_uri` | covered: request objects by value (RFC 9101), signed with the client's `jwks`; only their parameters count, `redirect_uri` included |
    //! | `oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported` | `jar::keys_and_algorithms_the_client_did_not_register_are_refused` | rejected: `alg: none` is refused with `invalid_request_object` (a 400 page, never redirected); discovery's `request_object_signing_alg_values_supported` has no `none` |
    //! | `oidcc-request-uri-unsigned`, `oidcc-request-uri-signed` | none | not supported: `request_uri` is only the PAR one (RFC 9126); discovery says `request_uri_parameter_supported: false` |
    //! | `oidcc-ensure-registered-redirect-uri` | `authorization_code::open_redirect_attempts_are_shown_not_redirected`, `attacks::open_redirect_is_refused_without_redirecting` | covered (shown, never redirected) |
    //! | `oidcc-ensure-redirect-uri-in-authorization-request` | `openid_extras::an_openid_request_without_redirect_uri_is_shown_not_redirected` | covered |
    //! | `oidcc-server-client-secret-post` | `authorization_code::client_secret_post_and_public_none_authenticate` | covered |
    //! | `oidcc-claims-essential` | `openid_connect::the_claims_parameter_is_checked_and_honoured`, `openid_connect::the_userinfo_member_of_the_claims_parameter_is_honoured_and_survives_refreshes`, `openid_connect::signed_userinfo_has_the_claims_the_userinfo_member_asks_for`, `openid_rp::the_openidconnect_crate_verifies_a_refreshed_id_token_and_its_userinfo` | covered: the `id_token` member in ID tokens, the `userinfo` member at userinfo (plain and signed), for the tokens of every refresh too; a claim the host has is released, never invented |
    //! | `oidcc-codereuse` | `authorization_code::replay_is_invalid_grant_and_revokes_the_tokens_already_issued`, `attacks::code_replay_fails_and_revokes_the_first_tokens` | covered (a replay also revokes the first tokens) |
    //! | `oidcc-codereuse-30seconds` | `attacks::code_replay_right_after_redemption_leaves_no_live_token` | covered (a replay is refused whenever it comes, while the code is remembered) |
    //! | `oidcc-ensure-post-request-succeeds` | none in the core: [`Provider::authorize`](crate::Provider::authorize) takes [`Params`](crate::Params), from a query or a form alike | the host routes POST `/authorize` to the same call |
    //! | `oidcc-refresh-token` | `openid_connect::a_refreshed_id_token_keeps_the_original_authentication_and_has_no_nonce`, `openid_connect::without_rotation_a_refreshed_id_token_keeps_the_original_authentication`, `openid_rp::the_openidconnect_crate_verifies_a_refreshed_id_token_and_its_userinfo`, `token_lifecycle::rotation_issues_a_new_pair_and_retires_the_old_token` | covered: the refreshed ID token has no `nonce` and the original `auth_time`, `acr` and `amr` (OIDC Core §12.2) |
    //!
    //! Beyond the plan: pairwise subjects and signed userinfo responses
    //! (`openid_extras::*`), back-channel and RP-initiated logout
    //! (`openid_connect::backchannel_logout_*`, `openid_connect::rp_initiated_logout_*`).
}
