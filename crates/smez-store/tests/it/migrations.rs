use smez_store::sea_orm::{ConnectionTrait, TransactionTrait};
use smez_store::{Migration, Store};

use crate::{locations, remove};

const OWN: &[Migration] = &[
    Migration::new(
        1,
        "notes",
        "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);",
    ),
    Migration::new(
        2,
        "notes_author",
        "-- two statements in one file\nALTER TABLE notes ADD COLUMN author TEXT;\nCREATE INDEX notes_author ON notes (author);\n",
    ),
];

#[tokio::test]
async fn migrations_apply_once_in_order_on_both_backends() {
    for location in locations() {
        let store = Store::open(&location, 2, "notes", OWN)
            .await
            .expect("opens and migrates");
        assert_eq!(store.schema_version().await.unwrap(), 1002, "{location:?}");
        store
            .connection()
            .execute_unprepared("INSERT INTO notes (id, body, author) VALUES ('n1', 'hello', 'ana')")
            .await
            .unwrap();
        assert_eq!(store.migrate(OWN).await.unwrap(), 0, "nothing pending the second time");
        store.close().await.unwrap();
        // Reopening (as at every start) keeps data and applies nothing.
        let again = Store::open(&location, 2, "notes", OWN).await.unwrap();
        assert_eq!(again.migrate(OWN).await.unwrap(), 0);
        again.close().await.unwrap();
        remove(&location).await;
    }
}

#[tokio::test]
async fn an_edited_migration_stops_the_service_with_its_name() {
    for location in locations() {
        Store::open(&location, 1, "notes", OWN)
            .await
            .unwrap()
            .close()
            .await
            .unwrap();
        let edited = [
            OWN[0],
            Migration::new(2, "notes_author", "ALTER TABLE notes ADD COLUMN editor TEXT;"),
        ];
        let error = Store::open(&location, 1, "notes", &edited)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("1002 (notes_author) was changed"), "{error}");
        remove(&location).await;
    }
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_half_applied() {
    for location in locations() {
        let broken = [
            OWN[0],
            Migration::new(2, "half", "CREATE TABLE half_done (x TEXT);\nTHIS IS NOT SQL;\n"),
        ];
        let error = Store::open(&location, 1, "notes", &broken)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("1002 (half) failed"), "{error}");
        let store = Store::connect(&location, 1, "notes").await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            1001,
            "{location:?}: the good one stays applied"
        );
        let leftover = store.connection().execute_unprepared("SELECT * FROM half_done").await;
        if matches!(location, smez_store::Location::Postgres { .. }) {
            // PostgreSQL DDL is transactional: the whole file rolled back.
            assert!(leftover.is_err(), "half_done must not exist");
        }
        store.close().await.unwrap();
        remove(&location).await;
    }
}

#[tokio::test]
async fn the_inbox_recognises_a_message_handled_before() {
    for location in locations() {
        let store = Store::open(&location, 2, "worker", &[]).await.unwrap();
        let txn = store.connection().begin().await.unwrap();
        assert!(
            Store::record_handled(&txn, "render-worker", "job-1", "render.run")
                .await
                .unwrap()
        );
        txn.commit().await.unwrap();
        let txn = store.connection().begin().await.unwrap();
        assert!(
            !Store::record_handled(&txn, "render-worker", "job-1", "render.run")
                .await
                .unwrap(),
            "a redelivery is recognised"
        );
        assert!(
            Store::record_handled(&txn, "dashboard", "job-1", "render.run")
                .await
                .unwrap(),
            "another consumer of the same message handles its own copy"
        );
        assert!(
            Store::record_handled(&txn, "render-worker", "job-2", "render.run")
                .await
                .unwrap()
        );
        txn.rollback().await.unwrap();
        let txn = store.connection().begin().await.unwrap();
        assert!(
            Store::record_handled(&txn, "render-worker", "job-2", "render.run")
                .await
                .unwrap(),
            "a rolled-back handler did not count as handled"
        );
        txn.commit().await.unwrap();
        store.close().await.unwrap();
        remove(&location).await;
    }
}

#[tokio::test]
async fn each_service_gets_its_own_postgres_schema() {
    let url = crate::postgres_url();
    let prefix = format!("smez_test_{}_", uuid::Uuid::new_v4().simple());
    let settings = smez_kit::config::DatabaseSettings {
        url: url.clone(),
        owner_url: String::new(),
        max_connections: 2,
        schema_prefix: prefix.clone(),
    };
    let own = [Migration::new(1, "only_in_auth", "CREATE TABLE only_in_auth (x TEXT);")];
    let auth_location = smez_store::Location::for_service(&settings, std::path::Path::new("."), "auth");
    let media_location = smez_store::Location::for_service(&settings, std::path::Path::new("."), "media");
    let auth = Store::open(&auth_location, 2, "auth", &own).await.unwrap();
    let media = Store::open(&media_location, 2, "media", &[]).await.unwrap();
    auth.connection()
        .execute_unprepared("SELECT * FROM only_in_auth")
        .await
        .unwrap();
    assert!(
        media
            .connection()
            .execute_unprepared("SELECT * FROM only_in_auth")
            .await
            .is_err(),
        "media cannot see auth's tables"
    );
    assert_eq!(
        (
            auth.schema_version().await.unwrap(),
            media.schema_version().await.unwrap()
        ),
        (1001, smez_store::COMMON_MIGRATIONS.len() as i64),
        "auth has its own migration on top of the common ones; media only the common ones"
    );
    auth.close().await.unwrap();
    media.close().await.unwrap();
    remove(&auth_location).await;
    remove(&media_location).await;
}

#[tokio::test]
async fn processes_starting_together_on_a_fresh_postgres_schema_take_turns() {
    let location = smez_store::Location::Postgres {
        url: crate::postgres_url(),
        owner_url: None,
        schema: format!("smez_test_race_{}", uuid::Uuid::new_v4().simple()),
    };
    let opens = (0..4).map(|_| Store::open(&location, 1, "race", OWN));
    for store in futures_util::future::join_all(opens).await {
        let store = store.expect("every process starts");
        assert_eq!(store.schema_version().await.unwrap(), 1002);
        store.close().await.unwrap();
    }
    remove(&location).await;
}
