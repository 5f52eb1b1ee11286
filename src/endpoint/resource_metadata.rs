//! Protected resource metadata (RFC 9728) for the registered resources.

use crate::provider::Provider;
use crate::resource::{self, ResourceMetadata};
use crate::response::Response;

impl Provider {
    /// The metadata document of the registered resource `id` (RFC 9728 §2), filled from the
    /// configuration: `resource`, `authorization_servers` (this issuer), `scopes_supported`
    /// (the resource's scopes, or every offered scope) and `bearer_methods_supported` (as
    /// [`Provider::validate_bearer`] accepts tokens). Add to it with the
    /// [`ResourceMetadata`] builder; `None` if `id` is not registered.
    pub fn resource_metadata(&self, id: &str) -> Option<ResourceMetadata> {
        let config = self.config();
        let registered = config.resource(id)?;
        let mut methods = vec!["header"];
        if config.bearer_in_form {
            methods.push("body");
        }
        if config.danger.bearer_in_query {
            methods.push("query");
        }
        Some(
            ResourceMetadata::new(registered.id())
                .with_authorization_server(config.issuer())
                .with_scopes(registered.scopes().unwrap_or(&config.scopes))
                .with_bearer_methods(methods),
        )
    }

    /// The URL of the metadata of the registered resource `id` (RFC 9728 §3.1), for
    /// [`crate::BearerError::with_resource_metadata`]; `None` if `id` is not registered or has
    /// no host.
    pub fn resource_metadata_url(&self, id: &str) -> Option<String> {
        self.config().resource(id)?;
        resource::metadata_url(id)
    }

    /// Serves `GET path` if `path` is the well-known metadata path
    /// ([`crate::protected_resource_metadata_path`]) of a registered resource at the issuer's
    /// origin: for a host that serves its resources' metadata next to the provider.
    pub fn protected_resource_metadata(&self, path: &str) -> Option<Response> {
        let config = self.config();
        let origin = url::Url::parse(config.issuer()).ok()?.origin();
        config
            .resources()
            .iter()
            .find(|r| {
                url::Url::parse(r.id()).is_ok_and(|u| u.origin() == origin)
                    && resource::protected_resource_metadata_path(r.id()).as_deref() == Some(path)
            })
            .and_then(|r| self.resource_metadata(r.id()))
            .map(|document| document.to_response())
    }
}
