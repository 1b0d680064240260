//! Row-level security holds through a pooled connection: tenant A's
//! transaction never sees tenant B's rows, and the tenant setting of one
//! transaction never leaks into the next one on the same connection.

use smez_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
use smez_store::{Location, Migration, Store};

const TENANT_TABLE: &[Migration] = &[Migration::new(
    1,
    "clips",
    "CREATE TABLE clips (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, title TEXT NOT NULL);
ALTER TABLE clips ENABLE ROW LEVEL SECURITY;
ALTER TABLE clips FORCE ROW LEVEL SECURITY;
CREATE POLICY clips_tenant ON clips
    USING (workspace_id = NULLIF(current_setting('app.workspace_id', true), ''))
    WITH CHECK (workspace_id = NULLIF(current_setting('app.workspace_id', true), ''));
",
)];

async fn titles(store: &Store, workspace: Option<&str>) -> Vec<String> {
    let rows = match workspace {
        Some(ws) => {
            let txn = store.begin_in_workspace(ws).await.unwrap();
            let rows = txn
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT title FROM clips ORDER BY title",
                ))
                .await
                .unwrap();
            txn.commit().await.unwrap();
            rows
        }
        None => store
            .connection()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT title FROM clips ORDER BY title",
            ))
            .await
            .unwrap(),
    };
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

#[tokio::test]
async fn tenants_are_walled_off_through_the_pool() {
    let admin_url = crate::postgres_url();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let schema = format!("smez_test_rls_{id}");
    let role = format!("smez_test_app_{id}");
    // Migrate as the owner; the app connects as a role that owns nothing and
    // cannot bypass RLS (a superuser always would).
    let owner = Store::open(
        &Location::Postgres {
            url: admin_url.clone(),
            schema: schema.clone(),
        },
        1,
        "rls",
        TENANT_TABLE,
    )
    .await
    .unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"),
        format!("GRANT USAGE ON SCHEMA \"{schema}\" TO {role}"),
        format!("GRANT SELECT, INSERT ON \"{schema}\".clips TO {role}"),
        format!("GRANT SELECT ON \"{schema}\".smez_migrations TO {role}"),
    ] {
        owner.connection().execute_unprepared(&sql).await.unwrap();
    }
    let app_url = with_user(&admin_url, &role);
    // One connection in the pool: every transaction below reuses it. Opening
    // (as every service start does) works for a role with no DDL rights,
    // since the owner already applied everything.
    let app = Store::open(
        &Location::Postgres {
            url: app_url,
            schema: schema.clone(),
        },
        1,
        "rls",
        TENANT_TABLE,
    )
    .await
    .unwrap();

    for (ws, title) in [("ws-a", "a1"), ("ws-a", "a2"), ("ws-b", "b1")] {
        let txn = app.begin_in_workspace(ws).await.unwrap();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO clips (id, workspace_id, title) VALUES ($1, $2, $3)",
            [title.into(), ws.into(), title.into()],
        ))
        .await
        .unwrap();
        txn.commit().await.unwrap();
    }
    assert_eq!(titles(&app, Some("ws-a")).await, ["a1", "a2"]);
    assert_eq!(titles(&app, Some("ws-b")).await, ["b1"]);
    assert!(
        titles(&app, None).await.is_empty(),
        "no tenant set: no rows, even on a reused connection"
    );

    // Writing into another tenant's workspace is refused by the policy.
    let txn = app.begin_in_workspace("ws-a").await.unwrap();
    let sneaky = txn
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO clips (id, workspace_id, title) VALUES ('x', 'ws-b', 'planted')",
            [],
        ))
        .await;
    assert!(sneaky.is_err(), "RLS WITH CHECK refuses rows for another workspace");
    txn.rollback().await.unwrap();
    assert_eq!(
        titles(&owner, None).await.len(),
        3,
        "the owner sees all three (and nothing planted)"
    );

    app.close().await.unwrap();
    owner
        .connection()
        .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    owner
        .connection()
        .execute_unprepared(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
    owner.close().await.unwrap();
}

/// The same URL with another user (trust auth here; in production the role has a password).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}
