//! The [`PendingAuthorization`] extractor.

use ::axum::extract::{FromRef, FromRequestParts};
use ::axum::http::request::Parts;

use crate::endpoint::authorize::{AuthorizeError, PendingAuthorization, UntrustedRequest};
use crate::params::Params;
use crate::provider::Provider;

/// The authorization request in the query string (RFC 6749 §4.1.1), validated by
/// [`Provider::authorize`]. A query that does not parse (a repeated or oversized parameter)
/// is an [`AuthorizeError::Untrusted`] `invalid_request`.
///
/// The rejection, an [`AuthorizeError`], answers as an HTML error page whatever it holds: an
/// error bound for the client's redirect URI is only sent there through
/// [`AuthorizeError::after_login`] (or [`crate::ErrorRedirect::after_login`]), which takes the
/// signed-in user, because that redirect must wait until the user has signed in (RFC 9700
/// §4.11.2: otherwise any registered URI is an open redirector). So take it as a `Result`:
///
/// ```
/// use axum::{http::HeaderMap, response::{IntoResponse, Redirect, Response}};
/// use tessera::{AuthorizeError, PendingAuthorization, UserId};
///
/// # fn signed_in(_: &HeaderMap) -> Option<UserId> { None }
/// # fn consent_page(_: &PendingAuthorization) -> Response { Response::default() }
/// async fn authorize(
///     headers: HeaderMap,
///     request: Result<PendingAuthorization, AuthorizeError>,
/// ) -> Response {
///     match (signed_in(&headers), request) {
///         // Shown, never redirected: the client or its redirect URI is not trusted.
///         (_, Err(AuthorizeError::Untrusted(error))) => error.into_response(),
///         // Your login page first, which comes back here.
///         (None, _) => Redirect::to("/login").into_response(),
///         (Some(user), Err(refused)) => refused.after_login(&user).into_response(),
///         (Some(_), Ok(pending)) => consent_page(&pending),
///     }
/// }
/// ```
///
/// A consent form without an `action` posts back to the same URL, query and all, so the POST
/// handler takes this extractor too, and the request is validated again.
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S> FromRequestParts<S> for PendingAuthorization
where
    Provider: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthorizeError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let provider = Provider::from_ref(state);
        let query = parts.uri.query().unwrap_or_default();
        let params = Params::from_query(query, provider.config().limits()).map_err(|error| {
            let description = error.description.unwrap_or_default();
            AuthorizeError::Untrusted(UntrustedRequest::new(error.code, description))
        })?;
        provider.authorize(&params).await
    }
}
