//! Which web origins may call the provider's endpoints from scripts (CORS), for browser-based
//! clients: single-page apps and agents running in a page.

use ::axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS policy of the endpoints a browser-based client calls from a script: the metadata
/// documents (RFC 8414, RFC 9728, OpenID Connect Discovery) and the JWK Set, the token,
/// revocation, userinfo, registration, client configuration and device authorization endpoints.
/// The introspection endpoint is for resource servers, never for browsers, and gets no CORS
/// headers under any policy; the authorization endpoint is a page the browser navigates to.
///
/// [`Cors::any_origin`] is the default, as in other providers: none of these endpoints relies
/// on the browser's ambient credentials (credentials are never allowed, so no cookie or cached
/// HTTP authentication rides along), and a script can send nothing a non-browser client could
/// not. Preflights allow the `Authorization`, `Content-Type` and `DPoP` request headers and are
/// cached for 10 minutes; `WWW-Authenticate`, `DPoP-Nonce` and `Retry-After` are readable by the
/// script.
///
/// ```
/// # use std::sync::Arc;
/// # use tessera::{store::MemoryStore, Config, Provider};
/// use tessera::axum::{Cors, Routes};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let config = Config::builder("https://auth.example.com").build()?;
/// # let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();
/// let cors = Cors::origins(["https://app.example.com", "http://localhost:5173"])?;
/// let app: axum::Router = Routes::new(&provider).cors(cors).into_router();
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    origins: Origins,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    Off,
    Any,
    Listed(Vec<String>),
}

/// An origin given to [`Cors::origins`] that is not `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin:?} is not a web origin (scheme://host[:port], no path, query or fragment)")]
pub struct InvalidOrigin {
    origin: String,
}

impl InvalidOrigin {
    /// The origin as given.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl Default for Cors {
    fn default() -> Self {
        Self::any_origin()
    }
}

impl Cors {
    /// Scripts of any origin may call the endpoints (the default).
    pub fn any_origin() -> Self {
        Self {
            origins: Origins::Any,
        }
    }

    /// Only scripts of these origins (`https://app.example.com`, `http://localhost:5173`) may
    /// call the endpoints; the comparison is exact, on the origin's serialization.
    pub fn origins<I, O>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let mut listed = Vec::new();
        for origin in origins {
            let given = origin.as_ref();
            let invalid = || InvalidOrigin {
                origin: given.to_owned(),
            };
            let url = url::Url::parse(given).map_err(|_| invalid())?;
            // The URL parser gives `https://host` the path `/`; anything more is not an origin.
            if !matches!(url.scheme(), "http" | "https")
                || url.path() != "/"
                || url.query().is_some()
                || url.fragment().is_some()
                || !url.username().is_empty()
                || url.password().is_some()
            {
                return Err(invalid());
            }
            let serialized = url.origin().ascii_serialization();
            if !listed.contains(&serialized) {
                listed.push(serialized);
            }
        }
        Ok(Self {
            origins: Origins::Listed(listed),
        })
    }

    /// No CORS headers: only same-origin scripts (and non-browser clients) may call.
    pub fn disabled() -> Self {
        Self {
            origins: Origins::Off,
        }
    }

    /// The layer for one endpoint, `None` when disabled.
    pub(super) fn layer(&self) -> Option<CorsLayer> {
        let allow = match &self.origins {
            Origins::Off => return None,
            Origins::Any => AllowOrigin::any(),
            Origins::Listed(origins) => AllowOrigin::list(
                origins
                    .iter()
                    .filter_map(|origin| HeaderValue::from_str(origin).ok()),
            ),
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("dpop"),
                ])
                .expose_headers([
                    header::WWW_AUTHENTICATE,
                    header::RETRY_AFTER,
                    HeaderName::from_static("dpop-nonce"),
                ])
                .max_age(std::time::Duration::from_secs(600)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        let cors = Cors::origins([
            "https://App.example.com:443",
            "http://localhost:5173/",
            "https://app.example.com",
        ])
        .unwrap();
        assert_eq!(
            cors.origins,
            Origins::Listed(vec![
                "https://app.example.com".to_owned(),
                "http://localhost:5173".to_owned()
            ])
        );
        for bad in [
            "app.example.com",
            "https://app.example.com/path",
            "https://app.example.com?q=1",
            "https://app.example.com/#f",
            "ftp://app.example.com",
            "https://user@app.example.com",
            "*",
            "",
        ] {
            let refused = Cors::origins([bad]).unwrap_err();
            assert_eq!(refused.origin(), bad);
        }
    }
}
