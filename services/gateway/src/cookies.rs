//! The gateway's cookies. All are `Path=/`, `SameSite=Lax` (Lax, not
//! Strict: the OAuth provider's redirect back to Smez is a cross-site
//! navigation that must carry the session) and, in production, `Secure` with
//! the `__Host-` prefix (so no subdomain can set or shadow them). Session
//! cookies are `HttpOnly`; the CSRF cookie is readable by the page, which
//! echoes it in the `X-CSRF-Token` header (double submit).

use http::HeaderMap;
use http::header::{COOKIE, HeaderValue, SET_COOKIE};
use smez_kit::config::Environment;

#[derive(Clone, Debug)]
pub(crate) struct CookieNames {
    pub access: String,
    pub refresh: String,
    pub workspace: String,
    pub csrf: String,
    /// Binds an OAuth connect to the browser that started it.
    pub oauth_browser: String,
    secure: bool,
}

impl CookieNames {
    pub fn for_environment(environment: Environment) -> Self {
        let secure = environment == Environment::Production;
        let prefix = if secure { "__Host-" } else { "" };
        Self {
            access: format!("{prefix}smez_access"),
            refresh: format!("{prefix}smez_refresh"),
            workspace: format!("{prefix}smez_workspace"),
            csrf: format!("{prefix}smez_csrf"),
            oauth_browser: format!("{prefix}smez_oauth_browser"),
            secure,
        }
    }

    /// A `Set-Cookie` value; `http_only` false only for the CSRF cookie.
    pub fn set(&self, name: &str, value: &str, max_age_secs: i64, http_only: bool) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/; Max-Age={max_age_secs}; SameSite=Lax");
        if http_only {
            cookie.push_str("; HttpOnly");
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie).expect("cookie values are base64url or ids")
    }

    /// A `Set-Cookie` that removes `name`.
    pub fn clear(&self, name: &str, http_only: bool) -> HeaderValue {
        self.set(name, "", 0, http_only)
    }

    /// Removes every session cookie (logout, account deletion).
    pub fn clear_all(&self, headers: &mut HeaderMap) {
        for (name, http_only) in [
            (&self.access, true),
            (&self.refresh, true),
            (&self.workspace, true),
            (&self.csrf, false),
        ] {
            headers.append(SET_COOKIE, self.clear(name, http_only));
        }
    }
}

/// A random cookie value (the CSRF token, the OAuth browser binding): 192 bits, base64url.
pub(crate) fn random_value() -> String {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system RNG works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_cookies_are_host_prefixed_and_secure() {
        let names = CookieNames::for_environment(Environment::Production);
        let cookie = names.set(&names.access, "abc", 900, true);
        assert_eq!(
            cookie.to_str().unwrap(),
            "__Host-smez_access=abc; Path=/; Max-Age=900; SameSite=Lax; HttpOnly; Secure"
        );
        let dev = CookieNames::for_environment(Environment::Development);
        assert!(
            !dev.set(&dev.access, "abc", 900, true)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; smez_access=tok; b=2"));
        assert_eq!(read(&headers, "smez_access"), Some("tok"));
        assert_eq!(read(&headers, "missing"), None);
    }
}
