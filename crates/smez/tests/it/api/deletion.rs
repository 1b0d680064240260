//! Account deletion reaches every service: nothing of the user is left.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::{PASSWORD, Shape, Stack, email};
use crate::on_both_shapes;
use crate::process::SERVICES;

on_both_shapes!(a_deleted_account_leaves_nothing_behind);
async fn a_deleted_account_leaves_nothing_behind(stack: &Stack) {
    // Leaver owns one workspace alone and is an editor in Stayer's.
    let mut leaver = stack.browser();
    let leaver_email = email("leaver");
    leaver.signup(&leaver_email, "Leaver").await.expect(201);
    let leaver_id = leaver.call(Method::GET, "/v1/me", None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = leaver
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Mine alone"})))
        .await
        .expect(201);
    let own_id = own.body["id"].as_str().unwrap().to_owned();
    leaver
        .call(
            Method::POST,
            &format!("/v1/workspaces/{own_id}/invitations"),
            Some(json!({"email": email("pending"), "role": "viewer"})),
        )
        .await
        .expect(201);

    let mut stayer = stack.mobile();
    stayer.signup(&email("stayer"), "Stayer").await.expect(201);
    let shared = stayer
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Shared"})))
        .await
        .expect(201);
    let shared_id = shared.body["id"].as_str().unwrap().to_owned();
    let invitation = stayer
        .call(
            Method::POST,
            &format!("/v1/workspaces/{shared_id}/invitations"),
            Some(json!({"email": leaver_email, "role": "viewer"})),
        )
        .await
        .expect(201);
    let token = invitation.body["token"].as_str().unwrap();
    leaver
        .call(Method::POST, &format!("/v1/invitations/{token}/accept"), None)
        .await
        .expect(200);
    stayer
        .call(
            Method::PATCH,
            &format!("/v1/workspaces/{shared_id}/members/{leaver_id}"),
            Some(json!({"role": "editor"})),
        )
        .await
        .expect(200);
    // An invitation to the leaver's email, never accepted, in a third workspace.
    let mut third = stack.mobile();
    third.signup(&email("third"), "Third").await.expect(201);
    let elsewhere = third
        .call(Method::POST, "/v1/workspaces", Some(json!({"name": "Elsewhere"})))
        .await
        .expect(201);
    let elsewhere_id = elsewhere.body["id"].as_str().unwrap().to_owned();
    third
        .call(
            Method::POST,
            &format!("/v1/workspaces/{elsewhere_id}/invitations"),
            Some(json!({"email": leaver_email, "role": "viewer"})),
        )
        .await
        .expect(201);
    assert!(
        !occurrences(stack, &leaver_id).await.is_empty(),
        "the scan finds the user before"
    );
    assert!(!occurrences(stack, &leaver_email).await.is_empty(), "and the email");

    // The password is required; then the account goes.
    leaver
        .call(Method::DELETE, "/v1/me", Some(json!({"password": "not it at all"})))
        .await
        .expect(422);
    let deleted = leaver
        .call(Method::DELETE, "/v1/me", Some(json!({"password": PASSWORD})))
        .await
        .expect(202);
    assert!(deleted.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
    leaver.call(Method::GET, "/v1/me", None).await.expect(401);
    stack.mobile().login(&leaver_email, PASSWORD).await.expect(401);

    // Every service confirms; then no table of any service mentions the user.
    let started = Instant::now();
    loop {
        let left = occurrences(stack, &leaver_id).await;
        let email_left = occurrences(stack, &leaver_email).await;
        let waiting = pending_purges(stack).await;
        if left.is_empty() && email_left.is_empty() && waiting == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still there after 30 s: {left:?} {email_left:?}, {waiting} purge(s) pending\n{}",
            stack.smez.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The shared workspace lives on without them; the solely owned one is gone.
    let members = stayer
        .call(Method::GET, &format!("/v1/workspaces/{shared_id}/members"), None)
        .await
        .expect(200);
    assert_eq!(members.body["members"].as_array().unwrap().len(), 1);
    let workspace_rows = stack
        .rows(
            "workspace",
            &format!("SELECT workspace_id FROM workspaces WHERE workspace_id = '{own_id}'"),
        )
        .await;
    assert!(workspace_rows.is_empty());
}

/// `table.column` of every service database whose text contains `needle`.
async fn occurrences(stack: &Stack, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (service, _) in SERVICES {
        let columns_sql = match stack.shape {
            Shape::Sqlite => "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                              WHERE m.type = 'table'"
                .to_owned(),
            Shape::Postgres => format!(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = '{}'",
                stack.schema(service)
            ),
        };
        for column in stack.rows(service, &columns_sql).await {
            let (table, column) = (column[0].clone().unwrap(), column[1].clone().unwrap());
            let count = stack
                .rows(
                    service,
                    &format!("SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) LIKE '%{needle}%'"),
                )
                .await;
            if count[0][0].as_deref() != Some("0") {
                found.push(format!("{service}.{table}.{column}"));
            }
        }
    }
    found
}

async fn pending_purges(stack: &Stack) -> usize {
    let mut pending = 0;
    for service in ["auth", "workspace"] {
        pending += stack
            .rows(service, "SELECT subject_id FROM smez_purge_requests")
            .await
            .len();
    }
    pending
}
