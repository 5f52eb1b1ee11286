//! Every public future is `Send`, so providers work on multi-threaded runtimes and inside
//! `tokio::spawn`. A compile-time check: this file fails to build if one is not.
#![allow(clippy::unwrap_used, dead_code)]

use tessera::{
    BearerRequest, FormRequest, Params, PendingAuthorization, Provider, ScopeSet, UserId,
};

fn is_send<T: Send>(_: &T) {}

async fn every_endpoint(
    provider: Provider,
    pending: PendingAuthorization,
    device: tessera::PendingDeviceAuthorization,
    params: Params,
) {
    let form = FormRequest::default();
    let user = UserId::new("u");
    let scopes = ScopeSet::new();
    is_send(&provider.authorize(&params));
    is_send(&provider.token(&form));
    is_send(&provider.revoke(&form));
    is_send(&provider.introspect(&form));
    is_send(&provider.device_authorization(&form));
    is_send(&provider.pushed_authorization(&form));
    is_send(&provider.device_verification(
        "BCDF-GHJK",
        &tessera::DeviceAttempt::new(&tessera::UserId::new("k")),
    ));
    is_send(&provider.validate_bearer(&BearerRequest::default(), &scopes));
    is_send(&provider.register(b"{}", None));
    is_send(&provider.client_configuration("GET", "c", None, b""));
    is_send(&provider.authorized_apps(&user));
    is_send(&provider.revoke_app(&user, &tessera::ClientId::new("c").unwrap()));
    is_send(&provider.sweep(10));
    is_send(&pending.consent_covers(&provider, &user));
    is_send(&pending.approve(&provider, user.clone(), &scopes));
    // The host's admin API and the device decisions.
    let id = tessera::ClientId::new("c").unwrap();
    is_send(&provider.client(&id));
    is_send(&provider.register_client(tessera::ClientRegistration::new(
        "n",
        "https://a.example/cb",
    )));
    is_send(&provider.import_client(
        id.clone(),
        None,
        tessera::ClientRegistration::new("n", "https://a.example/cb"),
    ));
    is_send(&provider.rotate_client_secret(&id));
    is_send(&provider.delete_client(&id));
    is_send(&device.approve(&provider, user, &scopes));
}

/// OpenID Connect's futures: the approval with an authentication, userinfo.
async fn openid_connect(provider: Provider, pending: PendingAuthorization) {
    let scopes = ScopeSet::new();
    is_send(&provider.userinfo(&BearerRequest::default()));
    let signed_in = tessera::store::Authentication::new(provider.now());
    is_send(&pending.approve_authenticated(&provider, UserId::new("u"), &scopes, signed_in));
}

async fn device_deny(provider: Provider, device: tessera::PendingDeviceAuthorization) {
    is_send(&device.deny(&provider));
}

/// The `axum` feature's extractors (with the provider as the state, and with an application
/// state the provider is found in) and the bearer layer's service.
#[cfg(feature = "axum")]
mod axum_futures {
    use super::*;
    use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
    use axum::http::request::Parts;
    use tessera::axum::{AnyScope, Bearer, BearerLayer};
    use tower::{Layer as _, Service as _};

    #[derive(Clone)]
    struct AppState {
        provider: Provider,
    }

    impl FromRef<AppState> for Provider {
        fn from_ref(state: &AppState) -> Provider {
            state.provider.clone()
        }
    }

    async fn extractors<S: Send + Sync>(state: S, request: Request, parts: &mut Parts)
    where
        Provider: FromRef<S>,
    {
        is_send(&FormRequest::from_request(request, &state));
        is_send(&PendingAuthorization::from_request_parts(parts, &state));
        is_send(&tessera::Principal::from_request_parts(parts, &state));
        is_send(&Bearer::<AnyScope>::from_request_parts(parts, &state));
    }

    async fn with_states(provider: Provider, request: Request, other: Request, parts: &mut Parts) {
        is_send(&extractors(provider.clone(), request, parts));
        is_send(&extractors(
            AppState {
                provider: provider.clone(),
            },
            other,
            parts,
        ));
        let mut service = BearerLayer::new(&provider).layer(axum::Router::new());
        is_send(&service.call(Request::default()));
    }
}

#[test]
fn provider_is_send_sync_and_clone() {
    fn assert<T: Send + Sync + Clone + 'static>() {}
    assert::<Provider>();
}

#[tokio::test]
async fn the_quickstart_example_runs() {
    // The example is compiled by `cargo test`; running its main here keeps it honest.
    let status = std::process::Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "quickstart"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(stdout.contains("refresh: 200"), "{stdout}");
    assert!(
        stdout.contains("the old access token now gets 401"),
        "{stdout}"
    );
}
