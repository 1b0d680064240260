//! What the platforms' OAuth 2.0 flows share: the consent-page URL and the
//! token-endpoint forms.

use crate::{Endpoints, ErrorClass, Platform, PlatformError};

/// The consent-page URL: `page` with the platform's `params`, plus a PKCE
/// S256 challenge when the caller has one (only platforms that support PKCE
/// pass it).
pub fn authorize_url(
    platform: Platform,
    page: &str,
    params: &[(&str, &str)],
    pkce_challenge: Option<&str>,
) -> Result<String, PlatformError> {
    let mut url = url::Url::parse(page)
        .map_err(|e| PlatformError::new(platform, ErrorClass::Permanent, format!("authorize URL: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(params);
        if let Some(challenge) = pkce_challenge {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}

/// The form of an authorization-code grant (RFC 6749 §4.1.3), with the PKCE
/// verifier (RFC 7636) when there is one. `id_param` is what the platform
/// calls the client id (`client_id`; TikTok's `client_key`).
pub fn code_grant<'a>(
    id_param: &'static str,
    endpoints: &'a Endpoints,
    code: &'a str,
    redirect_uri: &'a str,
    pkce_verifier: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        (id_param, endpoints.client_id.as_str()),
        ("client_secret", endpoints.client_secret.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(verifier) = pkce_verifier {
        form.push(("code_verifier", verifier));
    }
    form
}

/// The form of a refresh-token grant (RFC 6749 §6).
pub fn refresh_grant<'a>(
    id_param: &'static str,
    endpoints: &'a Endpoints,
    refresh_token: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        (id_param, endpoints.client_id.as_str()),
        ("client_secret", endpoints.client_secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]
}
