//! tessera in one screen, without HTTP: register a client, run an authorization-code flow with
//! PKCE, validate the access token as a resource server would, refresh it, and revoke it.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::error::Error;
use std::sync::Arc;

use tessera::store::MemoryStore;
use tessera::{
    AuthorizeError, BearerRequest, ClientRegistration, Config, FormRequest, Params, Provider,
    ScopeSet, UserId, pkce_s256_challenge,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // 1. A provider with two scopes, in memory.
    let config = Config::builder("https://auth.example.com")
        .scopes(ScopeSet::parse("profile email")?)
        .build()?;
    let provider = Provider::builder(config, Arc::new(MemoryStore::new())).build();

    // 2. An application registers (its secret is shown once; only its hash is stored).
    let app = provider
        .register_client(ClientRegistration::new(
            "Photo printer",
            "https://printer.example/cb",
        ))
        .await?;
    let secret = app.secret.ok_or("confidential clients get a secret")?;
    println!("registered client {}", app.client.id);

    // 3. The application sends the user to the authorization endpoint with a PKCE challenge.
    let verifier = "the-application-keeps-this-verifier-secret-0123456789";
    let query = format!(
        "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fprinter.example%2Fcb&scope=profile&state=af0ifjsldkj&code_challenge={}&code_challenge_method=S256",
        app.client.id,
        pkce_s256_challenge(verifier)
    );
    let pending = match provider
        .authorize(&Params::from_query(&query, &Default::default())?)
        .await
    {
        Ok(pending) => pending,
        Err(AuthorizeError::Untrusted(error)) => {
            return Err(format!("show the user: {error}").into());
        }
        Err(other) => return Err(format!("redirect the error: {other:?}").into()),
    };
    println!(
        "consent screen: {} asks for `{}`",
        pending.client().name,
        pending.scopes()
    );

    // 4. The logged-in user allows it; the browser goes back to the application with a code.
    let granted = pending.scopes().clone();
    let redirect = pending
        .approve(&provider, UserId::new("alice"), &granted)
        .await;
    // (This program plays the application too: it reads the code off the redirect.)
    let location = url::Url::parse(redirect.location())?;
    println!("302 to {}", location.origin().ascii_serialization());
    let code = location
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .ok_or("no code")?;

    // 5. The application redeems the code at the token endpoint (HTTP Basic authentication).
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Fprinter.example%2Fcb&code_verifier={verifier}"
    );
    let basic = basic_auth(app.client.id.as_str(), secret.secret());
    let response = provider
        .token(&FormRequest::new(body).with_authorization(Some(&basic)))
        .await;
    let tokens: serde_json::Value = serde_json::from_slice(&response.body)?;
    println!(
        "token response {}: expires_in={}",
        response.status, tokens["expires_in"]
    );

    // 6. A resource server validates the access token and checks the scope.
    let access = tokens["access_token"].as_str().ok_or("access token")?;
    let header = format!("Bearer {access}");
    let principal = provider
        .validate_bearer(
            &BearerRequest::header(&header),
            &ScopeSet::parse("profile")?,
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
    println!(
        "API call by {:?} through {}",
        principal.user(),
        principal.client_id()
    );

    // 7. Later, the application refreshes: the refresh token rotates.
    let refresh = tokens["refresh_token"].as_str().ok_or("refresh token")?;
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let refreshed = provider
        .token(&FormRequest::new(body).with_authorization(Some(&basic)))
        .await;
    println!("refresh: {}", refreshed.status);

    // 8. The user signs out of the application, which revokes its refresh token: the whole
    //    grant goes, so the access token stops working too.
    let refreshed: serde_json::Value = serde_json::from_slice(&refreshed.body)?;
    let new_refresh = refreshed["refresh_token"]
        .as_str()
        .ok_or("rotated")?
        .to_owned();
    let revoke = FormRequest::new(format!("token={new_refresh}")).with_authorization(Some(&basic));
    println!("revoke: {}", provider.revoke(&revoke).await.status);
    let after = provider
        .validate_bearer(&BearerRequest::header(&header), &ScopeSet::new())
        .await;
    println!(
        "the old access token now gets {}",
        after.map(|_| 200).unwrap_or_else(|e| e.status())
    );
    Ok(())
}

fn basic_auth(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}
