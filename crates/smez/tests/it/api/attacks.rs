//! What an attacker tries: forged and tampered access tokens, cross-site
//! requests, reaching into another workspace, acting above one's role.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Stack, email};
use crate::on_both_shapes;

fn part(value: &Value) -> String {
    B64URL.encode(serde_json::to_vec(value).unwrap())
}

fn decode(segment: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(segment).unwrap()).unwrap()
}

on_both_shapes!(forged_and_tampered_tokens_are_refused);
async fn forged_and_tampered_tokens_are_refused(stack: &Stack) {
    let mut phone = stack.mobile();
    phone.signup(&email("target"), "Target").await.expect(201);
    let genuine = phone.access.clone().unwrap();
    let segments: Vec<&str> = genuine.split('.').collect();
    let header = decode(segments[0]);
    let mut claims = decode(segments[1]);
    let kid = header["kid"].as_str().unwrap().to_owned();

    // The JWKS the gateway publishes: the Ed25519 public key.
    let jwks = stack.get("/v1/.well-known/jwks.json").await.expect(200).body;
    let public = B64URL.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid);

    let unsigned = format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        segments[1]
    );
    let hs256 = {
        let signing_input = format!(
            "{}.{}",
            part(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})),
            segments[1]
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public);
        let tag = ring::hmac::sign(&key, signing_input.as_bytes());
        format!("{signing_input}.{}", B64URL.encode(tag.as_ref()))
    };
    // Signed with the real key, but expired well beyond the leeway.
    let key_file = stack.dir.join("data/keys/auth-access-token.key");
    let real_key = std::fs::read_to_string(&key_file).expect("the development signing key");
    let expired = {
        let now = chrono::Utc::now().timestamp();
        claims["iat"] = json!(now - 7200);
        claims["exp"] = json!(now - 3600);
        sign_with(real_key.trim(), &kid, &claims)
    };
    // A valid signature by a key the gateway does not know.
    let stranger =
        smez_kit::access_token::AccessTokenSigner::new(&[smez_kit::identity::generate_key().signing_key], "smez", 900)
            .unwrap()
            .mint(claims["sub"].as_str().unwrap(), "s")
            .0;
    let mut flipped = genuine.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let one_byte_changed = String::from_utf8(flipped).unwrap();
    let other_payload = {
        let mut altered = decode(segments[1]);
        altered["sub"] = json!("someone-else");
        format!("{}.{}.{}", segments[0], part(&altered), segments[2])
    };

    for (what, token) in [
        ("alg none", unsigned),
        ("HS256 keyed with the public key", hs256),
        ("expired", expired),
        ("unknown kid", stranger),
        ("one byte of the signature changed", one_byte_changed),
        ("claims changed", other_payload),
    ] {
        let mut forger = stack.mobile();
        forger.access = Some(token);
        let reply = forger.call(Method::GET, "/v1/me", None).await;
        assert_eq!(reply.status, 401, "{what}: {:?}", reply.body);
        assert_eq!(reply.code(), "unauthenticated", "{what}");
    }
    phone.call(Method::GET, "/v1/me", None).await.expect(200);
}

fn sign_with(pkcs8_b64: &str, kid: &str, claims: &Value) -> String {
    use base64::engine::general_purpose::STANDARD;
    let der = STANDARD.decode(pkcs8_b64).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).unwrap()
}

on_both_shapes!(cross_site_and_cross_workspace_requests_are_refused);
async fn cross_site_and_cross_workspace_requests_are_refused(stack: &Stack) {
    let mut alice = stack.browser();
    alice.signup(&email("alice"), "Alice").await.expect(201);
    // Cookies without the CSRF header: refused before anything happens.
    let forged = alice
        .call_without_csrf(Method::POST, "/v1/workspaces", Some(json!({"name": "Forged"})))
        .await
        .expect(403);
    assert!(forged.body["detail"].as_str().unwrap().contains("cross-site"));
    // With the CSRF header but from another origin (alone, or after an allowed one): refused.
    for origins in [
        vec!["https://evil.example"],
        vec![super::ORIGIN, "https://evil.example"],
    ] {
        alice.origins = origins.into_iter().map(String::from).collect();
        let evil = alice
            .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Evil"})))
            .await
            .expect(403);
        assert!(evil.body["detail"].as_str().unwrap().contains("origin"));
    }
    alice.origins = vec![super::ORIGIN.to_owned()];
    let listed = alice.call(Method::GET, "/v1/workspaces", None).await.expect(200);
    assert_eq!(
        listed.body["workspaces"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let a = alice
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Alice's"})))
        .await
        .expect(201);
    let a_id = a.body["id"].as_str().unwrap().to_owned();

    let mut bob = stack.mobile();
    bob.signup(&email("bob"), "Bob").await.expect(201);
    let b = bob
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Bob's"})))
        .await
        .expect(201);
    let b_id = b.body["id"].as_str().unwrap().to_owned();

    // Alice is a member of A only: B's members answer 404, like a workspace that does not exist.
    let probe = alice
        .call(Method::GET, &format!("/v1/workspaces/{b_id}/members"), None)
        .await
        .expect(404);
    let missing = alice
        .call(
            Method::GET,
            &format!("/v1/workspaces/{}/members", uuid::Uuid::now_v7()),
            None,
        )
        .await
        .expect(404);
    assert_eq!(probe.body["detail"], missing.body["detail"], "no hint that B exists");
    alice
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{b_id}"),
            Some(json!({"name": "mine now"})),
        )
        .await
        .expect(404);

    // A viewer cannot invite.
    let mut viewer = stack.mobile();
    let viewer_email = email("viewer");
    viewer.signup(&viewer_email, "Viewer").await.expect(201);
    let invitation = alice
        .call(
            Method::POST,
            &format!("/v1/workspaces/{a_id}/invitations"),
            Some(json!({"email": viewer_email, "role": "viewer"})),
        )
        .await
        .expect(201);
    let token = invitation.body["token"].as_str().unwrap();
    viewer
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(200);
    let denied = viewer
        .call(
            Method::POST,
            &format!("/v1/workspaces/{a_id}/invitations"),
            Some(json!({"email": email("friend"), "role": "editor"})),
        )
        .await
        .expect(403);
    assert_eq!(denied.code(), "permission_denied");
    // The refusal is in the workspace's security events, with address and agent.
    let events = alice
        .call(Method::GET, &format!("/v1/workspaces/{a_id}/security-events"), None)
        .await
        .expect(200);
    let failures: Vec<&Value> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "authz_fail")
        .collect();
    assert_eq!(failures.len(), 1, "{:?}", events.body);
    assert_eq!(failures[0]["ip"], "127.0.0.1");
    assert_eq!(failures[0]["user_agent"], "smez-it-mobile");
    // Alice's probe of B is recorded under Alice: an outsider cannot write into B's log.
    let b_events = bob
        .call(Method::GET, &format!("/v1/workspaces/{b_id}/security-events"), None)
        .await
        .expect(200);
    assert!(
        !b_events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "authz_fail"),
        "{:?}",
        b_events.body
    );
    let probes = stack
        .rows(
            "auth",
            &format!("SELECT user_id FROM security_events WHERE event = 'authz_fail' AND workspace_id IS NULL AND detail LIKE '%{b_id}%'"),
        )
        .await;
    assert_eq!(
        probes.len(),
        2,
        "both probes (read, rename) are in the prober's own record"
    );
    // The viewer may not read them.
    viewer
        .call(Method::GET, &format!("/v1/workspaces/{a_id}/security-events"), None)
        .await
        .expect(403);
}
