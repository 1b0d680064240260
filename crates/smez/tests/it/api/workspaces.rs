//! Workspaces, roles, invitations, and row-level security on PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_ROLE, Shape, Stack, email};
use crate::on_both_shapes;

fn id(reply: &Value) -> String {
    reply["id"].as_str().unwrap().to_owned()
}

on_both_shapes!(a_workspace_lives_through_its_members);
async fn a_workspace_lives_through_its_members(stack: &Stack) {
    let mut owner = stack.browser();
    owner.signup(&email("owner"), "Owner").await.expect(201);
    let weird = "Q3 <b>launch</b>'; DELETE FROM workspaces;--";
    let created = owner
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": weird})))
        .await
        .expect(201);
    assert_eq!(created.body["name"], weird);
    assert_eq!(created.body["role"], "owner");
    let ws = id(&created.body);

    // Activating sets an HttpOnly workspace cookie that /v1/me resolves.
    let activated = owner
        .call(Method::POST, &format!("/v1/workspaces/{ws}/activate"), None)
        .await
        .expect(200);
    assert!(
        activated
            .set_cookies()
            .iter()
            .any(|c| c.starts_with("smez_workspace=") && c.contains("HttpOnly"))
    );
    let me = owner.call(Method::GET, "/v1/me", None).await.expect(200);
    assert_eq!(me.body["active_workspace"]["id"], ws);

    let renamed = owner
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{ws}"),
            Some(json!({"name": "Launch"})),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Launch");

    // Invite an editor; the invitation is single use and bound to the email.
    let mut editor = stack.mobile();
    let editor_email = email("editor");
    editor.signup(&editor_email, "Editor").await.expect(201);
    let editor_id = editor.call(Method::GET, "/v1/me", None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invitation = owner
        .call(
            Method::POST,
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(json!({"email": editor_email.to_uppercase(), "role": "editor"})),
        )
        .await
        .expect(201);
    let token = invitation.body["token"].as_str().unwrap().to_owned();
    let mut stranger = stack.mobile();
    stranger.signup(&email("stranger"), "Stranger").await.expect(201);
    stranger
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(403);
    let joined = editor
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(200);
    assert_eq!(joined.body["role"], "editor");
    editor
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(404);
    let bad_role = owner
        .call(
            Method::POST,
            &format!("/v1/workspaces/{ws}/invitations"),
            Some(json!({"email": email("x"), "role": "owner"})),
        )
        .await
        .expect(422);
    assert_eq!(bad_role.body["field"], "role");

    let members = owner
        .call(Method::GET, &format!("/v1/workspaces/{ws}/members"), None)
        .await
        .expect(200);
    let list = members.body["members"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().any(|m| m["email"] == editor_email && m["role"] == "editor"));

    // The editor may not manage members; the owner may promote.
    editor
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{ws}/members/{editor_id}"),
            Some(json!({"role": "admin"})),
        )
        .await
        .expect(403);
    owner
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{ws}/members/{editor_id}"),
            Some(json!({"role": "admin"})),
        )
        .await
        .expect(200);
    editor
        .call(Method::GET, &format!("/v1/workspaces/{ws}/security-events"), None)
        .await
        .expect(200);

    // The last owner can neither leave nor be demoted.
    let owner_id = me.body["user"]["id"].as_str().unwrap().to_owned();
    let leave = owner
        .call(Method::DELETE, &format!("/v1/workspaces/{ws}/members/me"), None)
        .await
        .expect(409);
    assert!(
        leave.body["detail"].as_str().unwrap().contains("owner"),
        "{:?}",
        leave.body
    );
    owner
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{ws}/members/{owner_id}"),
            Some(json!({"role": "viewer"})),
        )
        .await
        .expect(409);
    // An admin cannot delete the workspace or touch the owner.
    editor
        .call(Method::DELETE, &format!("/v1/workspaces/{ws}"), None)
        .await
        .expect(403);
    editor
        .call(Method::DELETE, &format!("/v1/workspaces/{ws}/members/{owner_id}"), None)
        .await
        .expect(403);

    // Transfer: the admin becomes owner, the owner admin; now the former owner may leave.
    let transferred = owner
        .call(
            Method::POST,
            &format!("/v1/workspaces/{ws}/transfer"),
            Some(json!({"new_owner_id": editor_id})),
        )
        .await
        .expect(200);
    assert_eq!(transferred.body["role"], "admin");
    owner
        .call(Method::DELETE, &format!("/v1/workspaces/{ws}/members/me"), None)
        .await
        .expect(204);
    owner
        .call(Method::GET, &format!("/v1/workspaces/{ws}/members"), None)
        .await
        .expect(404);
    let events = editor
        .call(Method::GET, &format!("/v1/workspaces/{ws}/security-events"), None)
        .await
        .expect(200);
    let names: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "member_role_changed",
        "invitation_created",
        "invitation_accepted",
        "workspace_ownership_transferred",
        "member_left",
        "authz_fail",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    // The new owner deletes it: gone for everyone.
    editor
        .call(Method::DELETE, &format!("/v1/workspaces/{ws}"), None)
        .await
        .expect(204);
    editor
        .call(Method::GET, &format!("/v1/workspaces/{ws}/members"), None)
        .await
        .expect(404);
    let listed = editor.call(Method::GET, "/v1/workspaces", None).await.expect(200);
    assert!(listed.body["workspaces"].as_array().unwrap().is_empty());

    if stack.shape == Shape::Postgres {
        row_level_security_binds_every_workspace_table(stack).await;
    }
}

/// Every table with a `workspace_id` in every service schema has forced RLS
/// with the tenant policy, and the runtime role owns nothing and bypasses nothing.
async fn row_level_security_binds_every_workspace_table(stack: &Stack) {
    let prefix = stack.schema("");
    let unsecured = stack
        .rows(
            "auth",
            &format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE starts_with(n.nspname, '{prefix}') AND c.relkind = 'r' \
                 AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id') \
                 AND NOT (c.relrowsecurity AND c.relforcerowsecurity \
                          AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))"
            ),
        )
        .await;
    assert!(unsecured.is_empty(), "tables without forced RLS: {unsecured:?}");
    let secured = stack
        .rows(
            "auth",
            &format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE starts_with(n.nspname, '{prefix}') AND c.relkind = 'r' AND c.relforcerowsecurity"
            ),
        )
        .await;
    let secured: i64 = secured[0][0].as_deref().unwrap().parse().unwrap();
    assert!(secured >= 5, "auth, workspace and vault tables are secured: {secured}");
    let role = stack
        .rows(
            "auth",
            &format!("SELECT rolsuper::text, rolbypassrls::text FROM pg_roles WHERE rolname = '{APP_ROLE}'"),
        )
        .await;
    assert_eq!(role[0], vec![Some("false".into()), Some("false".into())]);
    let owned = stack
        .rows(
            "auth",
            &format!(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE starts_with(n.nspname, '{prefix}') AND pg_get_userbyid(c.relowner) = '{APP_ROLE}'"
            ),
        )
        .await;
    assert_eq!(owned[0][0].as_deref(), Some("0"), "the runtime role owns no table");
}
