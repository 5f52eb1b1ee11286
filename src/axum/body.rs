//! Request bodies, read whole and bounded, and the [`FormRequest`] extractor.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;

use ::axum::body::Body;
use ::axum::extract::{ConnectInfo, FromRef, FromRequest, Request};
use ::axum::http::{Extensions, HeaderMap, header};
use ::axum::response::{IntoResponse, Response as AxumResponse};
use http_body::Body as _;

use crate::endpoint::form::FormRequest;
use crate::error::OAuthError;
use crate::provider::Provider;

/// Why a request body was not read: the rejection of the [`FormRequest`] extractor, and of the
/// router's registration endpoints. Answered as an RFC 6749 §5.2 JSON error
/// (`invalid_request`), with no-store headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyRejection {
    /// The body, declared or as read, is longer than the provider's
    /// [`Limits::max_bytes`](crate::Limits::max_bytes): `413 Payload Too Large`, answered
    /// before the rest of the body is read.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read (the connection failed or the body stream broke off):
    /// `400 Bad Request`. It is never taken for an empty body, which would be answered with a
    /// misleading "missing `grant_type`".
    #[error("the request body could not be read")]
    Unreadable,
}

impl BodyRejection {
    /// The HTTP status: 413 or 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Unreadable => 400,
        }
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for BodyRejection {
    fn into_response(self) -> AxumResponse {
        let mut response = OAuthError::invalid_request(self.to_string()).to_response();
        response.status = self.status();
        response.into_response()
    }
}

/// Reads `body` whole, refusing more than `limit` bytes: at once for a declared length over
/// it, else as soon as the bytes read pass it.
pub(crate) async fn read_bounded(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Vec<u8>, BodyRejection> {
    let too_large = BodyRejection::TooLarge { limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let at_least = body.size_hint().lower();
    if declared.is_some_and(|length| length > limit as u64) || at_least > limit as u64 {
        return Err(too_large);
    }
    let expected = usize::try_from(declared.unwrap_or(at_least)).unwrap_or(limit);
    let mut bytes = Vec::with_capacity(expected.min(limit));
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyRejection::Unreadable)?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - bytes.len() {
                return Err(too_large);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The `Authorization` header, if it is text.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// The request's [source](FormRequest::source), when the router is served with
/// `ConnectInfo<SocketAddr>`: the peer's IPv4 address (an IPv4-mapped IPv6 one included), or
/// the /64 prefix of its IPv6 address, which one host usually holds whole.
pub(crate) fn source(extensions: &Extensions) -> Option<String> {
    let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(match peer.ip() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX));
                format!("{prefix}/64")
            }
        },
    })
}

/// A POST to the token, revocation, introspection or device authorization endpoint: the body,
/// read whole up to the provider's [`Limits::max_bytes`](crate::Limits::max_bytes) (past it,
/// `413`), the `Authorization` and `DPoP` headers, the query string, and the peer address as the
/// [source](FormRequest::source) when the router is served with `ConnectInfo<SocketAddr>`.
///
/// ```
/// use axum::{routing::post, Router};
/// use tessera::{FormRequest, Provider, Response};
///
/// async fn token(provider: axum::extract::State<Provider>, request: FormRequest) -> Response {
///     provider.token(&request).await
/// }
/// # fn routes(provider: Provider) -> Router {
/// Router::new().route("/token", post(token)).with_state(provider)
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S> FromRequest<S> for FormRequest
where
    Provider: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = Provider::from_ref(state).config().limits().max_bytes;
        let (parts, body) = request.into_parts();
        let body = read_bounded(&parts.headers, body, limit).await?;
        Ok(FormRequest::new(body)
            .with_authorization(authorization(&parts.headers))
            .with_dpop(crate::http::dpop_header(&parts.headers).as_deref())
            .with_query(parts.uri.query())
            .with_source(source(&parts.extensions).as_deref())
            .with_client_certificate(parts.extensions.get::<crate::ClientCertificate>().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str) -> Extensions {
        let mut extensions = Extensions::new();
        if let Ok(addr) = addr.parse::<SocketAddr>() {
            extensions.insert(ConnectInfo(addr));
        }
        extensions
    }

    #[test]
    fn sources_are_ipv4_addresses_or_ipv6_prefixes() {
        assert_eq!(source(&peer("192.0.2.7:443")).as_deref(), Some("192.0.2.7"));
        assert_eq!(
            source(&peer("[2001:db8:1:2:3:4:5:6]:443")).as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            source(&peer("[::ffff:192.0.2.7]:443")).as_deref(),
            Some("192.0.2.7")
        );
        assert_eq!(source(&Extensions::new()), None);
    }
}
