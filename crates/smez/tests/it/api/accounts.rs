//! Sign-up, sessions, refresh rotation, logout, password change, throttling.

use reqwest::Method;
use serde_json::json;

use super::{PASSWORD, Stack, email, signup_body};
use crate::on_both_shapes;

on_both_shapes!(web_sessions_live_in_httponly_cookies);
async fn web_sessions_live_in_httponly_cookies(stack: &Stack) {
    let mut browser = stack.browser();
    let address = email("web");
    let reply = browser.signup(&address, "Web Person").await.expect(201);
    assert_eq!(reply.body["user"]["email"], address);
    assert!(reply.body.get("access_token").is_none(), "web clients never see tokens");
    assert!(reply.body.get("refresh_token").is_none());
    let cookies = reply.set_cookies();
    let cookie = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"))
            .clone()
    };
    for name in ["smez_access", "smez_refresh"] {
        let line = cookie(name);
        assert!(line.contains("HttpOnly"), "{line}");
        assert!(line.contains("SameSite=Lax"), "{line}");
        assert!(line.contains("Path=/"), "{line}");
        assert!(!line.contains("Secure"), "development is plain HTTP: {line}");
    }
    assert!(
        !cookie("smez_csrf").contains("HttpOnly"),
        "the page reads the CSRF cookie"
    );

    let me = browser.call(Method::GET, "/v1/me", None).await.expect(200);
    assert_eq!(me.body["user"]["display_name"], "Web Person");
    assert!(me.body["active_workspace"].is_null());

    // Refresh rotates the cookie; the old refresh token is then dead, and
    // presenting it again revokes the whole session.
    let old_refresh = browser.cookies["smez_refresh"].clone();
    browser.call(Method::POST, "/v1/auth/refresh", None).await.expect(200);
    let new_refresh = browser.cookies["smez_refresh"].clone();
    assert_ne!(old_refresh, new_refresh);

    let access = browser.cookies["smez_access"].clone();
    let mut thief = stack.mobile();
    let stolen = thief
        .call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": old_refresh})),
        )
        .await
        .expect(401);
    assert!(
        stolen.body["detail"].as_str().unwrap().contains("already used"),
        "{:?}",
        stolen.body
    );
    browser.call(Method::POST, "/v1/auth/refresh", None).await.expect(401);
    let events = stack
        .rows(
            "auth",
            "SELECT event FROM security_events WHERE event = 'authn_token_reuse'",
        )
        .await;
    assert_eq!(events.len(), 1);

    // Logout ends the session and clears the cookies.
    let mut browser = stack.browser();
    browser
        .call(
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": address, "password": PASSWORD})),
        )
        .await
        .expect(200);
    let refresh = browser.cookies["smez_refresh"].clone();
    let signed_in = browser.cookies.clone();
    let out = browser.call(Method::POST, "/v1/auth/logout", None).await.expect(204);
    assert!(out.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
    // The access token of the ended session is refused too, not only its refresh token.
    browser.cookies = signed_in;
    browser.call(Method::GET, "/v1/me", None).await.expect(401);
    stack
        .mobile()
        .call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": refresh.clone()})),
        )
        .await
        .expect(401);

    // No token and no password ever reaches the log.
    let log = stack.smez.log();
    assert!(log.contains("smez::http"), "the request log is there");
    for secret in [&old_refresh, &new_refresh, &refresh, &access, &PASSWORD.to_owned()] {
        assert!(!log.contains(secret.as_str()), "a secret in the log");
    }
}

on_both_shapes!(mobile_clients_use_bearer_tokens);
async fn mobile_clients_use_bearer_tokens(stack: &Stack) {
    let mut phone = stack.mobile();
    let address = email("mobile");
    let reply = phone.signup(&address, "Phone Person").await.expect(201);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert!(reply.set_cookies().is_empty(), "mobile answers set no cookies");
    phone.call(Method::GET, "/v1/me", None).await.expect(200);

    let first_refresh = phone.refresh.clone().unwrap();
    phone
        .call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": first_refresh})),
        )
        .await
        .expect(200);
    assert_ne!(phone.refresh.as_deref(), Some(first_refresh.as_str()));

    // A password change signs out every other session.
    let mut laptop = stack.mobile();
    laptop.login(&address, PASSWORD).await.expect(200);
    let changed = phone
        .call(
            Method::POST,
            "/v1/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["revoked_sessions"], 1);
    let laptop_refresh = laptop.refresh.clone().unwrap();
    laptop
        .call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": laptop_refresh})),
        )
        .await
        .expect(401);
    let phone_refresh = phone.refresh.clone().unwrap();
    phone
        .call(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": phone_refresh})),
        )
        .await
        .expect(200);
    // Its access token died with it (the gateway checks that the session lives).
    laptop.call(Method::GET, "/v1/me", None).await.expect(401);
    laptop.login(&address, PASSWORD).await.expect(401);
    laptop.login(&address, "a brand new passphrase").await.expect(200);
}

on_both_shapes!(signup_refuses_what_it_must);
async fn signup_refuses_what_it_must(stack: &Stack) {
    let mut phone = stack.mobile();
    // Under 13 on the day: refused, and nothing is stored.
    let this_year = chrono::Datelike::year(&chrono::Utc::now().date_naive());
    let child = email("child");
    let mut body = signup_body(&child, "Kid");
    body["date_of_birth"] = json!(format!("{}-01-01", this_year - 12));
    let refused = phone
        .call(Method::POST, "/v1/auth/signup", Some(body))
        .await
        .expect(422);
    assert_eq!(refused.body["field"], "date_of_birth");
    assert!(refused.body["detail"].as_str().unwrap().contains("under 13"));
    assert!(
        stack
            .rows("auth", &format!("SELECT user_id FROM users WHERE email = '{child}'"))
            .await
            .is_empty()
    );

    // The same email in another case is the same account.
    let address = email("dup");
    phone.signup(&address, "First").await.expect(201);
    let again = stack
        .mobile()
        .signup(&address.to_uppercase(), "Second")
        .await
        .expect(409);
    assert_eq!(again.body["code"], "already_exists");

    for (field, value, expect_field) in [
        ("password", json!("short"), "password"),
        ("email", json!("not-an-email"), "email"),
        ("display_name", json!("   "), "display_name"),
        ("date_of_birth", json!("21/04/1990"), "date_of_birth"),
    ] {
        let mut body = signup_body(&email("bad"), "Someone");
        body[field] = value;
        let reply = stack
            .mobile()
            .call(Method::POST, "/v1/auth/signup", Some(body))
            .await
            .expect(422);
        assert_eq!(reply.body["field"], expect_field, "{:?}", reply.body);
    }

    // Names full of SQL and HTML are stored and returned verbatim.
    let weird = "Robert'); DROP TABLE users;-- <script>alert('x')</script> \"quoted\"";
    let mut weirdo = stack.mobile();
    let reply = weirdo.signup(&email("weird"), weird).await.expect(201);
    assert_eq!(reply.body["user"]["display_name"], weird);
    let me = weirdo.call(Method::GET, "/v1/me", None).await.expect(200);
    assert_eq!(me.body["user"]["display_name"], weird);
}

on_both_shapes!(the_eleventh_wrong_password_is_locked_out);
async fn the_eleventh_wrong_password_is_locked_out(stack: &Stack) {
    let address = email("victim");
    let mut owner = stack.mobile();
    owner.signup(&address, "Victim").await.expect(201);
    let user_id = owner.call(Method::GET, "/v1/me", None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut attacker = stack.mobile();
    for attempt in 1..=10 {
        let reply = attacker.login(&address, "wrong password!").await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {:?}", reply.body);
    }
    let locked = attacker.login(&address, "wrong password!").await.expect(429);
    assert_eq!(locked.code(), "rate_limited");
    assert!(locked.headers.get("retry-after").is_some());
    // Locked means locked: even the right password waits.
    attacker.login(&address, PASSWORD).await.expect(429);
    let events = stack
        .rows(
            "auth",
            &format!("SELECT event, ip, user_agent FROM security_events WHERE user_id = '{user_id}' ORDER BY id"),
        )
        .await;
    let names: Vec<&str> = events.iter().map(|e| e[0].as_deref().unwrap()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "authn_login_fail").count(),
        10,
        "{names:?}"
    );
    assert!(names.contains(&"authn_login_lock"), "{names:?}");
    assert!(names.contains(&"authn_login_fail_max"), "{names:?}");
    assert!(events.iter().all(|e| e[1].as_deref() == Some("127.0.0.1")));
    assert!(
        events
            .iter()
            .filter(|e| e[0].as_deref() == Some("authn_login_fail"))
            .all(|e| e[2].as_deref() == Some("smez-it-mobile"))
    );
    // Concurrent guesses cannot slip past the limit: each takes a slot first.
    let target = email("raced");
    stack.mobile().signup(&target, "Raced").await.expect(201);
    let guesses = (0..20).map(|_| {
        let target = target.clone();
        let mut guesser = stack.mobile();
        async move { guesser.login(&target, "wrong guess!!").await.status }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 10, "{checked} guesses were checked: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");

    // An unknown email is throttled and answered exactly like a known one.
    let unknown = attacker.login(&email("nobody"), "whatever it is").await.expect(401);
    let wrong = stack.mobile().login(&address.replace("victim", "victim2"), "x").await;
    assert_eq!(unknown.body["detail"], wrong.body["detail"]);
}

#[tokio::test]
async fn production_cookies_are_secure_and_host_prefixed() {
    let internal = smez_kit::identity::generate_key().signing_key;
    let access = smez_kit::identity::generate_key().signing_key;
    let root = smez_vault::generate_root_key();
    let state = smez_publisher::state::generate_key();
    let stack = Stack::start(
        super::Shape::Sqlite,
        &[
            ("SMEZ_ENVIRONMENT", "production"),
            ("SMEZ_INTERNAL_AUTH__SIGNING_KEY", &internal),
            ("SMEZ_AUTH__SIGNING_KEYS", &access),
            ("SMEZ_VAULT__ROOT_KEY", &root),
            ("SMEZ_INTEGRATIONS__STATE_KEY", &state),
        ],
    )
    .await;
    let reply = stack.browser().signup(&email("prod"), "Prod").await.expect(201);
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-smez_"), "{cookie}");
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(cookie.contains("Path=/") && !cookie.contains("Domain="), "{cookie}");
    }
    assert_eq!(
        reply.headers["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    assert_eq!(reply.headers["cache-control"], "no-store");
    stack.stop().await;
}

#[tokio::test]
async fn the_api_describes_itself_in_openapi_3_1() {
    let stack = Stack::start(super::Shape::Sqlite, &[]).await;
    let document = stack.get("/v1/openapi.json").await.expect(200).body;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/signup", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/me", "get"),
        ("/v1/me", "delete"),
        ("/v1/workspaces", "get"),
        ("/v1/workspaces", "post"),
        ("/v1/workspaces/{id}", "patch"),
        ("/v1/workspaces/{id}", "delete"),
        ("/v1/workspaces/{id}/activate", "post"),
        ("/v1/workspaces/{id}/members", "get"),
        ("/v1/workspaces/{id}/members/{user_id}", "patch"),
        ("/v1/workspaces/{id}/members/{user_id}", "delete"),
        ("/v1/workspaces/{id}/invitations", "post"),
        ("/v1/invitations/{token}/accept", "post"),
        ("/v1/workspaces/{id}/security-events", "get"),
        ("/v1/.well-known/jwks.json", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // Unknown routes and methods answer problem+json with a stable code.
    let missing = stack.get("/v1/nothing-here").await.expect(404);
    assert_eq!(missing.code(), "not_found");
    assert_eq!(missing.headers["content-type"], "application/problem+json");
    stack.stop().await;
}

#[tokio::test]
async fn requests_beyond_the_rate_limits_are_told_to_wait() {
    let stack = Stack::start(
        super::Shape::Sqlite,
        &[
            ("SMEZ_GATEWAY__RATE_LIMIT_PER_USER_PER_MINUTE", "5"),
            ("SMEZ_GATEWAY__RATE_LIMIT_PER_IP_PER_MINUTE", "20"),
        ],
    )
    .await;
    let mut phone = stack.mobile();
    phone.signup(&email("busy"), "Busy").await.expect(201);
    for _ in 0..5 {
        phone.call(Method::GET, "/v1/me", None).await.expect(200);
    }
    let limited = phone.call(Method::GET, "/v1/me", None).await.expect(429);
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.body["detail"].as_str().unwrap().contains("account"));
    assert!(limited.headers.get("retry-after").is_some());
    // Another user from the same address still has room, until the address runs out.
    let mut other = stack.mobile();
    other.signup(&email("other"), "Other").await.expect(201);
    other.call(Method::GET, "/v1/me", None).await.expect(200);
    let mut last = 200;
    for _ in 0..20 {
        last = stack.get("/v1/status").await.status;
    }
    assert_eq!(last, 429, "the address limit holds across users");
    stack.stop().await;
}

on_both_shapes!(two_tabs_refreshing_at_once_stay_signed_in);
async fn two_tabs_refreshing_at_once_stay_signed_in(stack: &Stack) {
    let mut first_tab = stack.browser();
    first_tab.signup(&email("tabs"), "Tabs").await.expect(201);
    let mut second_tab = stack.browser();
    second_tab.cookies = first_tab.cookies.clone();
    // The first tab rotates the token; the second, a moment later, still sends the old one.
    first_tab.call(Method::POST, "/v1/auth/refresh", None).await.expect(200);
    let late = second_tab
        .call(Method::POST, "/v1/auth/refresh", None)
        .await
        .expect(401);
    assert!(
        late.body["detail"].as_str().unwrap().contains("just replaced"),
        "{:?}",
        late.body
    );
    // Not taken for theft: the session lives on, and no reuse is recorded.
    first_tab.call(Method::POST, "/v1/auth/refresh", None).await.expect(200);
    first_tab.call(Method::GET, "/v1/me", None).await.expect(200);
    let reuse = stack
        .rows(
            "auth",
            "SELECT event FROM security_events WHERE event = 'authn_token_reuse'",
        )
        .await;
    assert!(reuse.is_empty(), "{reuse:?}");
}
