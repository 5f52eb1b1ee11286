//! The `http` crate bridge (feature `http`): build tessera's request values from an
//! `http::Request` and turn a [`Response`] into an `http::Response`, so that any framework built
//! on `http` (axum, hyper, warp, actix via its compat types) wires an endpoint in a line or two.
//!
//! ```
//! # #[cfg(feature = "http")] {
//! let request = http::Request::post("/token?x=1")
//!     .header("authorization", "Basic YTpi")
//!     .body(b"grant_type=client_credentials".to_vec())
//!     .unwrap();
//! let form = tessera::FormRequest::from_http(&request);
//! assert_eq!(form.authorization.as_deref(), Some("Basic YTpi"));
//! assert_eq!(form.query.as_deref(), Some("x=1"));
//! # }
//! ```
//!
//! For mutual TLS (RFC 8705), the host's TLS layer inserts the certificate the client presented
//! as a request extension, a [`crate::ClientCertificate`]: `request.extensions_mut().insert(cert)`.
//! [`FormRequest::from_http`] and [`BearerRequest::from_http`] read it from there, and so do the
//! axum extractors and bearer guard.

use crate::endpoint::bearer::BearerRequest;
use crate::endpoint::form::FormRequest;
use crate::response::Response;

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl From<Response> for http::Response<Vec<u8>> {
    fn from(response: Response) -> Self {
        let mut out = http::Response::new(response.body);
        *out.status_mut() = http::StatusCode::from_u16(response.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in response.headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                out.headers_mut().append(name, value);
            }
        }
        out
    }
}

fn authorization(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The `DPoP` header: `None` if absent; two or more headers, or one that is not text, give an
/// empty value, which no proof is (RFC 9449 §4.3 step 1: exactly one header).
pub(crate) fn dpop_header(headers: &http::HeaderMap) -> Option<String> {
    let mut values = headers.get_all("dpop").iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(String::new());
    }
    Some(first.to_str().unwrap_or_default().to_owned())
}

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl FormRequest {
    /// The body, query string, `Authorization` and `DPoP` headers of an `http` request, and
    /// the [`crate::ClientCertificate`] extension the host's TLS layer inserted (mutual TLS).
    pub fn from_http<B: AsRef<[u8]>>(request: &http::Request<B>) -> Self {
        FormRequest::new(request.body().as_ref().to_vec())
            .with_query(request.uri().query())
            .with_authorization(authorization(request.headers()))
            .with_dpop(dpop_header(request.headers()).as_deref())
            .with_client_certificate(
                request
                    .extensions()
                    .get::<crate::ClientCertificate>()
                    .cloned(),
            )
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
impl<'a> BearerRequest<'a> {
    /// The `Authorization` header and query string of an `http` request, and its body as a form
    /// if it is one (RFC 6750 §2.2 requires the form content type), and the
    /// [`crate::ClientCertificate`] extension the host's TLS layer inserted (mutual TLS).
    pub fn from_http<B: AsRef<[u8]>>(request: &'a http::Request<B>) -> Self {
        let is_form = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        BearerRequest::new(
            authorization(request.headers()),
            request.uri().query(),
            is_form.then(|| request.body().as_ref()),
        )
        .with_client_certificate(request.extensions().get::<crate::ClientCertificate>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_convert_with_status_and_headers() {
        let response = Response::json(401, &serde_json::json!({"error": "invalid_client"}))
            .with_header("www-authenticate", "Basic realm=\"x\"");
        let converted: http::Response<Vec<u8>> = response.into();
        assert_eq!(converted.status(), 401);
        assert_eq!(converted.headers()["www-authenticate"], "Basic realm=\"x\"");
        assert_eq!(converted.headers()["cache-control"], "no-store");
        assert_eq!(converted.body(), br#"{"error":"invalid_client"}"#);
    }

    #[test]
    fn bearer_requests_read_the_form_body_only_with_the_form_content_type() {
        let request = http::Request::post("/api?access_token=q")
            .header("content-type", "application/json")
            .body(b"access_token=b".to_vec())
            .unwrap_or_default();
        let bearer = BearerRequest::from_http(&request);
        assert_eq!(bearer.query, Some("access_token=q"));
        assert!(bearer.form.is_none());
    }
}
