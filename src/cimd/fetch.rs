//! The default fetcher (feature `cimd-fetch`): reqwest over rustls (aws-lc-rs, webpki roots).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;

use super::{ClientMetadataFetcher, FetchError, FetchPolicy, FetchedDocument};

/// Fetches client ID metadata documents over `https`, safely against server-side request
/// forgery:
///
/// - the host is resolved, and only addresses [`FetchPolicy::permits_address`] allows are
///   kept; the connection goes to those very addresses (the resolver hands them to the HTTP
///   client), so a DNS answer that changes between the check and the connection (rebinding)
///   changes nothing. A host written as an IP address is checked the same way, after the `url`
///   crate has read it (`2130706433`, `0177.0.0.1`, `0x7f.1` and `[::ffff:127.0.0.1]` are all
///   loopback);
/// - no proxy from the environment, no cookies, no redirects (a 3xx is [`FetchError::Redirect`]);
/// - the body is read up to [`FetchPolicy::max_bytes`] and the whole fetch bounded by
///   [`FetchPolicy::timeout`];
/// - `Cache-Control: max-age` (or `no-store`, `no-cache`) is reported for the provider's cache.
#[derive(Debug)]
pub struct HttpMetadataFetcher {
    strict: reqwest::Client,
    loopback: OnceLock<Result<reqwest::Client, String>>,
}

/// The resolver that keeps only the addresses the policy permits.
#[derive(Debug, Clone)]
struct CheckedResolver {
    policy: FetchPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> = resolved
                .filter(|addr| policy.permits_address(addr.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

fn client(allow_loopback: bool) -> Result<reqwest::Client, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let resolver = CheckedResolver {
        policy: FetchPolicy {
            max_bytes: 0,
            timeout: Duration::ZERO,
            allow_loopback,
        },
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!allow_loopback)
        .dns_resolver(Arc::new(resolver))
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// `max-age` from `Cache-Control`: zero for `no-store` and `no-cache`.
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => {
                age = value
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs)
            }
            _ => {}
        }
    }
    age
}

impl HttpMetadataFetcher {
    /// A fetcher with its own connection pool.
    pub fn new() -> Result<Self, FetchError> {
        Ok(Self {
            strict: client(false).map_err(FetchError::Network)?,
            loopback: OnceLock::new(),
        })
    }

    async fn get(&self, url: &str, policy: &FetchPolicy) -> Result<FetchedDocument, FetchError> {
        let parsed = url::Url::parse(url).map_err(|_| FetchError::Refused("not a URL".into()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if policy.allows_loopback() => {}
            _ => return Err(FetchError::Refused("only https is fetched".into())),
        }
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(FetchError::Refused("the URL has no host".into())),
        };
        if let Some(ip) = literal
            && !policy.permits_address(ip)
        {
            return Err(FetchError::Refused(format!("{ip} is not a public address")));
        }
        let client = if policy.allows_loopback() {
            self.loopback
                .get_or_init(|| client(true))
                .as_ref()
                .map_err(|e| FetchError::Network(e.clone()))?
        } else {
            &self.strict
        };
        let mut response = client
            .get(parsed)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(FetchError::Redirect);
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        if response
            .content_length()
            .is_some_and(|len| len > policy.max_bytes() as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > policy.max_bytes() {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let document = FetchedDocument::new(body);
        Ok(match max_age {
            Some(age) => document.with_max_age(age),
            None => document,
        })
    }
}

fn network(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    // The chain names the cause (a refused address, a TLS failure) without the URL.
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    FetchError::Network(text)
}

#[async_trait]
impl ClientMetadataFetcher for HttpMetadataFetcher {
    async fn fetch(&self, url: &str, policy: &FetchPolicy) -> Result<FetchedDocument, FetchError> {
        tokio::time::timeout(policy.timeout(), self.get(url, policy))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("Max-Age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("max-age=300, no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=-1"), None);
    }
}
