//! Store tests on SQLite (a temp file) and PostgreSQL (`TEST_POSTGRES_URL`,
//! default the local server; unreachable means failure, never a skip).

mod migrations;
mod row_level_security;

use smez_store::Location;

pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh SQLite file and a fresh PostgreSQL schema.
pub fn locations() -> Vec<Location> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    vec![
        Location::SqliteFile(std::env::temp_dir().join(format!("smez-store-{id}/test.sqlite"))),
        Location::Postgres {
            url: postgres_url(),
            owner_url: None,
            schema: format!("smez_test_{id}"),
        },
    ]
}

/// Drops what a test created.
pub async fn remove(location: &Location) {
    match location {
        Location::SqliteFile(path) => {
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        }
        Location::Postgres { url, schema, .. } => {
            use smez_store::sea_orm::ConnectionTrait;
            let db = smez_store::sea_orm::Database::connect(url.as_str()).await.unwrap();
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .unwrap();
        }
    }
}
