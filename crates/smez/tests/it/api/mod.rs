//! The REST API through the gateway with a real HTTP client, on both
//! storage shapes: `serve all` on SQLite, and `serve all` on PostgreSQL with
//! a runtime role that owns nothing (so row-level security binds it).

mod accounts;
mod attacks;
mod deletion;
mod edit_plans;
mod integrations;
mod media;
mod posts;
mod renders;
mod workspaces;

use std::collections::HashMap;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};
use smez_store::sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::process::{Smez, postgres_url, temp_dir};

/// The origin the gateway trusts in these tests (its default public origin
/// is replaced by this one).
pub const ORIGIN: &str = "https://app.smez.test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Sqlite,
    Postgres,
}

/// The role the PostgreSQL shape runs as: it owns nothing and cannot bypass RLS.
pub const APP_ROLE: &str = "smez_it_app";

/// `postgres_url()` with the user replaced by the runtime role.
pub fn app_role_url() -> String {
    let url = postgres_url();
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{APP_ROLE}@{host}")
}

/// A `smez serve all` and what a test needs to look inside it.
pub struct Stack {
    pub smez: Smez,
    pub shape: Shape,
    pub dir: PathBuf,
    schema_prefix: String,
    http: reqwest::Client,
    env: HashMap<String, String>,
}

impl Stack {
    pub async fn start(shape: Shape, extra_env: &[(&str, &str)]) -> Self {
        let dir = temp_dir("api");
        let schema_prefix = format!("smez_api_{}_", uuid::Uuid::new_v4().simple());
        let mut env: HashMap<String, String> = HashMap::from([
            ("SMEZ_DATA_DIR".into(), dir.join("data").display().to_string()),
            ("SMEZ_GATEWAY__PUBLIC_ORIGIN".into(), ORIGIN.into()),
            // The throttling tests count failures; the stricter credential-route
            // limit per address would otherwise answer first.
            ("SMEZ_GATEWAY__AUTH_RATE_LIMIT_PER_IP_PER_MINUTE".into(), "1000".into()),
            ("SMEZ_WORKSPACE__PURGE_RETRY_SECS".into(), "1".into()),
        ]);
        if shape == Shape::Postgres {
            ensure_app_role().await;
            env.insert("SMEZ_DATABASE__URL".into(), app_role_url());
            env.insert("SMEZ_DATABASE__OWNER_URL".into(), postgres_url());
            env.insert("SMEZ_DATABASE__SCHEMA_PREFIX".into(), schema_prefix.clone());
            env.insert("SMEZ_DATABASE__MAX_CONNECTIONS".into(), "3".into());
        }
        for (key, value) in extra_env {
            env.insert((*key).into(), (*value).into());
        }
        let mut smez = Smez::start("all", &["serve", "all"], &env, &dir);
        smez.wait_ready().await;
        Self {
            smez,
            shape,
            dir,
            schema_prefix,
            http: crate::process::http(),
            env,
        }
    }

    /// Another process, `smez serve <target>`, on this stack's database, bus
    /// and data folder, reaching the stack's services over gRPC.
    pub async fn start_more(&self, name: &str, target: &str) -> Smez {
        let mut env = self.env.clone();
        for service in smez_kit::config::SERVICES {
            env.insert(
                format!("SMEZ_SERVICES__{}", service.to_uppercase()),
                self.smez.grpc_endpoint(),
            );
        }
        let mut more = Smez::start(name, &["serve", target], &env, &self.dir);
        more.wait_ready().await;
        more
    }

    /// Kills the process outright (as a lost machine would) and starts it
    /// again on the same data; it listens on new ports.
    pub async fn crash_and_restart(&mut self) {
        self.smez.kill();
        self.smez = Smez::start("all-again", &["serve", "all"], &self.env, &self.dir);
        self.smez.wait_ready().await;
    }

    /// A connection to `service`'s own database as its owner (tests look
    /// past row-level security on purpose).
    pub async fn db(&self, service: &str) -> DatabaseConnection {
        match self.shape {
            Shape::Sqlite => {
                let path = self.dir.join("data/db").join(format!("{service}.sqlite"));
                Database::connect(format!("sqlite://{}?mode=ro", path.display()))
                    .await
                    .unwrap()
            }
            Shape::Postgres => {
                let mut options = smez_store::sea_orm::ConnectOptions::new(postgres_url());
                options.max_connections(1).set_schema_search_path(self.schema(service));
                Database::connect(options).await.unwrap()
            }
        }
    }

    /// Runs one statement in `service`'s database as its owner (a test
    /// reaching past the API on purpose, e.g. to age a row).
    pub async fn execute(&self, service: &str, sql: &str) -> u64 {
        let db = match self.shape {
            Shape::Sqlite => {
                let path = self.dir.join("data/db").join(format!("{service}.sqlite"));
                Database::connect(format!("sqlite://{}?mode=rw", path.display()))
                    .await
                    .unwrap()
            }
            Shape::Postgres => self.db(service).await,
        };
        let affected = db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected();
        db.close().await.unwrap();
        affected
    }

    pub fn schema(&self, service: &str) -> String {
        format!("{}{service}", self.schema_prefix)
    }

    /// Rows of `sql` (no parameters) in `service`'s database, as strings.
    pub async fn rows(&self, service: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let db = self.db(service).await;
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let width = rows.first().map_or(0, |r| r.column_names().len());
        let out = rows
            .iter()
            .map(|row| (0..width).map(|i| text_at(row, i)).collect())
            .collect();
        db.close().await.unwrap();
        out
    }

    pub async fn stop(self) {
        let Self {
            mut smez,
            shape,
            schema_prefix,
            ..
        } = self;
        smez.terminate();
        if shape == Shape::Postgres {
            drop_schemas(&schema_prefix).await;
        }
    }

    pub fn browser(&self) -> Browser {
        Browser {
            base: self.smez.url(""),
            http: self.http.clone(),
            cookies: HashMap::new(),
            origins: vec![ORIGIN.to_owned()],
            seen: Vec::new(),
        }
    }

    pub fn mobile(&self) -> Mobile {
        Mobile {
            base: self.smez.url(""),
            http: self.http.clone(),
            access: None,
            refresh: None,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(self.http.get(self.smez.url(path)).send().await.unwrap()).await
    }
}

fn text_at(row: &smez_store::sea_orm::QueryResult, index: usize) -> Option<String> {
    row.try_get_by_index::<Option<String>>(index)
        .ok()
        .flatten()
        .or_else(|| {
            row.try_get_by_index::<Option<i64>>(index)
                .ok()
                .flatten()
                .map(|n| n.to_string())
        })
        .or_else(|| {
            row.try_get_by_index::<Option<bool>>(index)
                .ok()
                .flatten()
                .map(|b| b.to_string())
        })
}

pub async fn ensure_app_role() {
    let db = Database::connect(postgres_url()).await.unwrap();
    db.execute_unprepared(&format!(
        "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
         EXCEPTION WHEN duplicate_object THEN NULL; WHEN unique_violation THEN NULL; END $$"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
}

pub async fn drop_schemas(prefix: &str) {
    let db = Database::connect(postgres_url()).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
            [prefix.into()],
        ))
        .await
        .unwrap();
    for row in rows {
        let schema: String = row.try_get_by_index(0).unwrap();
        db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }
    db.close().await.unwrap();
}

/// An HTTP answer, with the body parsed when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, headers, body }
    }

    /// Every `Set-Cookie` line.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{:?}", self.body);
        self
    }

    /// The stable error code of a problem+json answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A web client: cookies, and the CSRF header a page would send.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: HashMap<String, String>,
    /// The `Origin` headers it sends (a page of the web app sends one: ORIGIN).
    pub origins: Vec<String>,
    /// Every answer the gateway gave it (headers and body), for "this
    /// secret never reached the browser" checks.
    pub seen: Vec<String>,
}

impl Browser {
    /// A request with this browser's cookies, `Origin` and CSRF header.
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, body, true).await
    }

    /// The same without the CSRF header (what a forged cross-site request looks like).
    pub async fn call_without_csrf(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(method, path, body, false).await
    }

    async fn send(&mut self, method: Method, path: &str, body: Option<Value>, csrf: bool) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("user-agent", "smez-it-browser");
        for origin in &self.origins {
            request = request.header("origin", origin);
        }
        request = self.with_cookies(request);
        if csrf && let Some(token) = self.cookies.get("smez_csrf") {
            request = request.header("x-csrf-token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        self.remember(&reply);
        reply
    }

    fn with_cookies(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if self.cookies.is_empty() {
            return request;
        }
        let line = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        request.header("cookie", line)
    }

    fn remember(&mut self, reply: &Reply) {
        self.seen.push(format!("{:?} {}", reply.headers, reply.body));
        for line in reply.set_cookies() {
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || line.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// A top-level navigation to `url`, following redirects one hop at a
    /// time as a browser does: [`ORIGIN`] is this stack's gateway (it sends
    /// the cookies there, and only there); other hosts (the platform
    /// simulators) are reached as they are. Returns the URL of every hop
    /// and the last answer.
    pub async fn navigate(&mut self, url: &str) -> (Vec<String>, Reply) {
        let http = crate::process::http_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut hops = vec![url.to_owned()];
        let mut current = url.to_owned();
        for _ in 0..10 {
            let request = match current.strip_prefix(ORIGIN) {
                Some(path) => self.with_cookies(http.get(format!("{}{path}", self.base))),
                None => http.get(&current),
            };
            let reply = Reply::from(request.header("user-agent", "smez-it-browser").send().await.unwrap()).await;
            if current.starts_with(ORIGIN) {
                self.remember(&reply);
            }
            let Some(location) = reply.headers.get(reqwest::header::LOCATION) else {
                return (hops, reply);
            };
            let next = reqwest::Url::parse(&current)
                .unwrap()
                .join(location.to_str().unwrap())
                .unwrap()
                .to_string();
            hops.push(next.clone());
            current = next;
        }
        panic!("more than 10 redirects: {hops:?}");
    }

    pub async fn signup(&mut self, email: &str, name: &str) -> Reply {
        self.call(Method::POST, "/v1/auth/signup", Some(signup_body(email, name)))
            .await
    }
}

pub fn signup_body(email: &str, name: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "display_name": name,
        "date_of_birth": "1990-04-21",
    })
}

pub const PASSWORD: &str = "correct horse battery";

/// A mobile client: Bearer tokens, refresh token in the body.
pub struct Mobile {
    base: String,
    http: reqwest::Client,
    pub access: Option<String>,
    pub refresh: Option<String>,
}

impl Mobile {
    pub async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-smez-client", "mobile")
            .header("user-agent", "smez-it-mobile");
        if let Some(token) = &self.access {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        if let Some(token) = reply.body.get("access_token").and_then(Value::as_str) {
            self.access = Some(token.to_owned());
        }
        if let Some(token) = reply.body.get("refresh_token").and_then(Value::as_str) {
            self.refresh = Some(token.to_owned());
        }
        reply
    }

    pub async fn signup(&mut self, email: &str, name: &str) -> Reply {
        self.call(Method::POST, "/v1/auth/signup", Some(signup_body(email, name)))
            .await
    }

    pub async fn login(&mut self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": email, "password": password})),
        )
        .await
    }
}

/// A unique email for one test run.
pub fn email(who: &str) -> String {
    format!("{who}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Runs `scenario` once per storage shape, each on its own stack.
#[macro_export]
macro_rules! on_both_shapes {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let stack = $crate::api::Stack::start($crate::api::Shape::Sqlite, &[]).await;
                super::$name(&stack).await;
                stack.stop().await;
            }

            #[tokio::test]
            async fn postgres() {
                let stack = $crate::api::Stack::start($crate::api::Shape::Postgres, &[]).await;
                super::$name(&stack).await;
                stack.stop().await;
            }
        }
    };
}
