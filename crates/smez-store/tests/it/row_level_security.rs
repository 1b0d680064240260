//! Row-level security holds through a pooled connection: tenant A's
//! transaction never sees tenant B's rows, and the tenant setting of one
//! transaction never leaks into the next one on the same connection. The
//! table declares no policy itself: having a `workspace_id` column is enough.

use smez_store::sea_orm::{ConnectionTrait, DbBackend, Statement};
use smez_store::{Location, Migration, Scope, Store};

const TENANT_TABLE: &[Migration] = &[Migration::new(
    1,
    "clips",
    "CREATE TABLE clips (id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL, title TEXT NOT NULL)",
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
    let admin = smez_store::sea_orm::Database::connect(admin_url.as_str())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
        .await
        .unwrap();
    // The owner migrates and grants; the app connects as a role that owns
    // nothing and cannot bypass RLS (a superuser always would). One
    // connection in the pool: every transaction below reuses it.
    let location = Location::Postgres {
        url: with_user(&admin_url, &role),
        owner_url: Some(admin_url.clone()),
        schema: schema.clone(),
    };
    let app = Store::open(&location, 1, "rls", TENANT_TABLE).await.unwrap();
    assert_eq!(
        app.runtime_role_problem().await.unwrap(),
        None,
        "RLS binds the runtime role"
    );
    // Opening again (every service start) needs no DDL right: all is in place.
    Store::open(
        &Location::Postgres {
            url: with_user(&admin_url, &role),
            owner_url: None,
            schema: schema.clone(),
        },
        1,
        "rls",
        TENANT_TABLE,
    )
    .await
    .unwrap()
    .close()
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
    // Nor can A's transaction touch B's rows.
    let touched = app
        .execute_scoped(
            Scope::Workspace("ws-a"),
            "UPDATE clips SET title = 'mine' WHERE id = 'b1'",
            [],
        )
        .await
        .unwrap();
    assert_eq!(touched, 0);
    let cross = app
        .query_scoped(Scope::CrossTenant, "SELECT title FROM clips ORDER BY title", [])
        .await
        .unwrap();
    assert_eq!(
        cross.len(),
        3,
        "a declared cross-tenant transaction sees all three (and nothing planted)"
    );

    // Purging a workspace drops its rows and only its rows.
    let txn = app.begin_cross_tenant().await.unwrap();
    assert_eq!(Store::purge_workspace(&txn, "ws-a").await.unwrap(), 2);
    txn.commit().await.unwrap();
    assert_eq!(titles(&app, Some("ws-b")).await, ["b1"]);

    app.close().await.unwrap();
    admin
        .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP OWNED BY {role}"))
        .await
        .unwrap();
    admin.execute_unprepared(&format!("DROP ROLE {role}")).await.unwrap();
    admin.close().await.unwrap();
}

/// The same URL with another user (trust auth here; in production the role has a password).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}
