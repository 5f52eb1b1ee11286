//! tessera's response values as axum responses, and the HTML page of an authorization error
//! that must not be redirected.

use ::axum::body::Body;
use ::axum::http::{HeaderValue, StatusCode, header};
use ::axum::response::{IntoResponse, Response as AxumResponse};

use crate::endpoint::authorize::{AuthorizeError, UntrustedRequest};
use crate::response::{Redirect, Response};

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for Response {
    /// The status, headers and body, as the `http` bridge converts them.
    fn into_response(self) -> AxumResponse {
        ::axum::http::Response::<Vec<u8>>::from(self).map(Body::from)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for Redirect {
    /// [`Redirect::to_response`]: `302 Found`, no-store, no referrer.
    fn into_response(self) -> AxumResponse {
        self.to_response().into_response()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for UntrustedRequest {
    /// A minimal HTML page naming the error, with its status ([`UntrustedRequest::status`]:
    /// 400, 503 with `Retry-After` while the store is unavailable, or 500 for another storage
    /// fault): the code and description escaped, and headers that forbid framing
    /// (`X-Frame-Options: DENY`, CSP `frame-ancestors 'none'`), caching and sniffing.
    fn into_response(self) -> AxumResponse {
        let mut page = error_page(self.status(), self.code.as_str(), &self.description);
        if let Some(seconds) = self.retry_after {
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        page
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for AuthorizeError {
    /// The HTML error page, whatever the error: an untrusted request's as
    /// [`UntrustedRequest`]'s, and a redirectable error's too, never its redirect. That one
    /// goes to the client only through [`AuthorizeError::after_login`] or
    /// [`crate::ErrorRedirect::after_login`], with the signed-in user (RFC 9700 §4.11.2), so an
    /// extractor rejection sent as it is can never bounce a visitor to a registered URI.
    fn into_response(self) -> AxumResponse {
        match self {
            Self::Untrusted(error) => error.into_response(),
            Self::Redirect(redirect) => {
                let error = redirect.error();
                let description = error.description.as_deref().unwrap_or_default();
                error_page(error.status(), error.code.as_str(), description)
            }
        }
    }
}

/// The page: every interpolated text escaped (`html-escape`, never by hand).
pub(crate) fn error_page(status: u16, code: &str, description: &str) -> AxumResponse {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Authorization error</title></head>\n<body><h1>This authorization request \
         cannot be completed</h1>\n<p><code>{}</code></p>\n<p>{}</p>\n</body></html>\n",
        html_escape::encode_safe(code),
        html_escape::encode_safe(description),
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    async fn text(response: AxumResponse) -> String {
        let bytes = ::axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn the_untrusted_page_escapes_code_and_description() {
        let hostile = UntrustedRequest::new(
            ErrorCode::Custom("<b>code</b>".into()),
            "\"><script>alert('x')</script>&",
        );
        let response = hostile.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
        let page = text(response).await;
        assert!(
            !page.contains("<script>") && !page.contains("<b>"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;&amp;"));
        assert!(page.contains("&quot;&gt;"), "{page}");
    }

    #[tokio::test]
    async fn a_storage_fault_is_a_500_page() {
        let fault = UntrustedRequest::new(ErrorCode::ServerError, "try again");
        let response = fault.into_response();
        assert_eq!(response.status(), 500);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn an_unavailable_store_is_a_503_page_with_retry_after() {
        let fault =
            UntrustedRequest::store(crate::StoreError::Unavailable("connection refused".into()));
        let response = fault.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let page = text(response).await;
        assert!(page.contains("temporarily_unavailable"), "{page}");
        assert!(!page.contains("connection refused"), "{page}");
    }
}
