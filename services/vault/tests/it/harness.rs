use std::collections::HashMap;

use smez_kit::Settings;
use smez_kit::config::Sources;
use smez_proto::vault::v1::vault_service_client::VaultServiceClient;
use smez_service::sandbox::Sandbox;
use smez_store::Location;
use smez_store::sea_orm::ConnectionTrait;

pub type Client = VaultServiceClient<smez_kit::grpc::Transport>;

pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The role the vault runs as on PostgreSQL: it owns nothing and cannot
/// bypass row-level security, as in production.
const APP_ROLE: &str = "smez_it_vault_app";

/// A vault with its own database and keys.
pub struct Vault {
    pub sandbox: Sandbox,
    location: Location,
    dir: std::path::PathBuf,
    /// Sees every row (the schema owner on PostgreSQL): tests inspect and
    /// tamper with the tables behind the vault's back through it.
    inspector: smez_store::sea_orm::DatabaseConnection,
}

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Vault {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, &[]).await
    }

    pub async fn start_with(db: Db, extra: &[(&str, &str)]) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("smez-vault-{id}"));
        let mut env: HashMap<String, String> = HashMap::from([
            ("SMEZ_DATA_DIR".into(), dir.display().to_string()),
            ("SMEZ_VAULT__ROOT_KEY".into(), smez_vault::generate_root_key()),
            (
                "SMEZ_INTERNAL_AUTH__SIGNING_KEY".into(),
                smez_kit::identity::generate_key().signing_key,
            ),
        ]);
        for (key, value) in extra {
            env.insert((*key).to_owned(), (*value).to_owned());
        }
        let settings = Settings::load(&Sources {
            file: None,
            env: Some(env),
            overrides: vec![],
        })
        .unwrap();
        let location = match db {
            Db::Sqlite => Location::SqliteFile(dir.join("vault.sqlite")),
            Db::Postgres => {
                ensure_app_role().await;
                Location::Postgres {
                    url: app_role_url(),
                    owner_url: Some(postgres_url()),
                    schema: format!("smez_test_vault_{id}"),
                }
            }
        };
        let sandbox = Sandbox::start(smez_vault::definition(), settings, &location)
            .await
            .unwrap();
        let inspector = match &location {
            Location::Postgres { schema, .. } => {
                let mut options = smez_store::sea_orm::ConnectOptions::new(postgres_url());
                options.max_connections(1).set_schema_search_path(schema.clone());
                smez_store::sea_orm::Database::connect(options).await.unwrap()
            }
            Location::SqliteFile(_) => sandbox.store.connection().clone(),
        };
        Self {
            sandbox,
            location,
            dir,
            inspector,
        }
    }

    /// A client that calls as `caller`.
    pub fn client(&self, caller: &'static str) -> Client {
        VaultServiceClient::new(self.sandbox.transport_as(caller, "vault"))
    }

    pub async fn sql(&self, sql: &str) {
        self.inspector.execute_unprepared(sql).await.unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let conn = &self.inspector;
        let row = conn
            .query_one_raw(smez_store::sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    pub async fn stop(self) {
        let location = self.location.clone();
        self.sandbox.stop().await;
        if let Location::Postgres { schema, .. } = &location {
            let db = smez_store::sea_orm::Database::connect(postgres_url()).await.unwrap();
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn app_role_url() -> String {
    let url = postgres_url();
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{APP_ROLE}@{host}")
}

async fn ensure_app_role() {
    let db = smez_store::sea_orm::Database::connect(postgres_url()).await.unwrap();
    db.execute_unprepared(&format!(
        "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
         EXCEPTION WHEN duplicate_object THEN NULL; WHEN unique_violation THEN NULL; END $$"
    ))
    .await
    .unwrap();
}

pub fn code(result: Result<impl std::fmt::Debug, tonic::Status>) -> tonic::Code {
    result.expect_err("the call must fail").code()
}

/// Runs an async test body on both databases.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::harness::Db::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::harness::Db::Postgres).await; })*
        }
    };
}
