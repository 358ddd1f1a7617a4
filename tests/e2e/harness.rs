//! `spawn_app` and friends: a fresh server per test, a fresh tenant per scenario.

use std::sync::Arc;

use chrono::{Duration, Utc};
use meridian::clock::ManualClock;
use meridian::config::Config;
use meridian::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

pub const OPERATOR_TOKEN: &str = "operator-test-credential";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub state: actix_web::web::Data<meridian::app::AppState>,
    pub data_dir: tempfile::TempDir,
}

/// The PostgreSQL server URL for tests (a maintenance database such as `/postgres`), if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("MERIDIAN_TEST_DATABASE_URL").ok().filter(|s| !s.is_empty())
}

pub fn redis_url() -> Option<String> {
    std::env::var("MERIDIAN_TEST_REDIS_URL").ok().filter(|s| !s.is_empty())
}

/// One fresh PostgreSQL database per test run; tests isolate by tenant inside it.
async fn postgres_database() -> String {
    static DB: OnceCell<String> = OnceCell::const_new();
    DB.get_or_init(|| async {
        let admin = postgres_url().unwrap();
        let name = format!("meridian_test_{}_{}", std::process::id(), Utc::now().timestamp_millis());
        let conn = sea_orm::Database::connect(&admin).await.expect("connect to MERIDIAN_TEST_DATABASE_URL");
        use sea_orm::ConnectionTrait;
        drop_stale_databases(&conn).await;
        conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        conn.close().await.unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        url.to_string()
    })
    .await
    .clone()
}

/// Drops test databases of runs that started more than an hour ago (their names carry the
/// start time), so the server does not fill up with them.
async fn drop_stale_databases(conn: &sea_orm::DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT datname::text AS name FROM pg_database WHERE datname LIKE 'meridian\\_test\\_%'",
        ))
        .await
        .unwrap_or_default();
    let hour_ago = Utc::now().timestamp_millis() - 3_600_000;
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "name") else { continue };
        let started: Option<i64> = name.rsplit('_').next().and_then(|m| m.parse().ok());
        if started.is_some_and(|ms| ms < hour_ago) {
            let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        b.push(Backend::Postgres);
    }
    b
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, |_| {}).await
}

pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("MERIDIAN_TEST_LOG").is_some() {
        // The server's logs (RUST_LOG filters), e.g. to see what a 500 was.
        meridian::telemetry::init();
    }
    let data_dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", data_dir.path().join("test.db").display()),
        Backend::Postgres => postgres_database().await,
    };
    let mut config = Config::for_dev(data_dir.path().to_path_buf(), url);
    config.operator_token = Some(OPERATOR_TOKEN.into());
    config.workers = Some(1);
    config.db_max_connections = 4;
    // Test servers share one PostgreSQL database, each with its own manual clock: a dispatcher
    // would pick up other tests' events and judge their due times by its own clock. The tests
    // of event handlers turn it on (one at a time: they live in one test function).
    config.dispatch_events = false;
    tweak(&mut config);
    let clock = ManualClock::new(Utc::now());
    let app = Application::build(config, Arc::new(clock.clone())).await.expect("server starts");
    let (port, state) = app.spawn();
    TestApp { base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new(), clock, state, data_dir }
}

/// Runs a scenario on every configured backend, each on a fresh server.
pub async fn on_each_backend<F>(scenario: F)
where
    F: AsyncFn(TestApp),
{
    for backend in backends() {
        scenario(spawn_app(backend).await).await;
    }
}

/// The same, on servers configured by `tweak`.
pub async fn on_each_backend_with<F>(tweak: impl Fn(&mut Config), scenario: F)
where
    F: AsyncFn(TestApp),
{
    for backend in backends() {
        scenario(spawn_with(backend, &tweak).await).await;
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem's type slug, e.g. `validation-failed`.
    pub fn problem(&self) -> &str {
        self.body["type"].as_str().unwrap_or("").trim_start_matches("https://meridian.dev/problems/")
    }

    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// A signed-up tenant and its owner's session.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub owner_id: String,
    pub token: String,
    pub refresh: String,
    pub email: String,
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Answer { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None, &[]).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, token: &str, etag: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(token), Some(body), &[("if-match", etag)]).await
    }

    pub async fn operator(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, Some(OPERATOR_TOKEN), body, &[]).await
    }

    pub async fn signup(&self, company: &str) -> Tenant {
        self.signup_with(company, "cn_small_business", "CNY").await
    }

    pub async fn signup_with(&self, company: &str, template: &str, currency: &str) -> Tenant {
        let email = format!("owner@{}.test", company.to_lowercase().replace(' ', "-"));
        let a = self
            .call(
                Method::POST,
                "/api/v1/signup",
                None,
                Some(json!({
                    "company_name": company, "admin_email": email, "admin_password": PASSWORD,
                    "accounting_template": template, "base_currency": currency
                })),
                &[],
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        Tenant {
            id: a.body["tenant_id"].as_str().unwrap().into(),
            slug: a.body["tenant_slug"].as_str().unwrap().into(),
            owner_id: a.body["user_id"].as_str().unwrap().into(),
            token: a.body["access_token"].as_str().unwrap().into(),
            refresh: a.body["refresh_token"].as_str().unwrap().into(),
            email,
        }
    }

    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Answer {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"tenant": slug, "email": email, "password": password})),
            &[],
        )
        .await
    }

    /// The id of a tenant's role by name.
    pub async fn role_id(&self, t: &Tenant, name: &str) -> String {
        let a = self.get("/api/v1/roles?limit=200", &t.token).await;
        a.body["data"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["id"].as_str().unwrap().into()
    }

    /// Creates a user with one built-in role and returns (user id, access token).
    pub async fn user_with_role(&self, t: &Tenant, email: &str, role: &str) -> (String, String) {
        let role_id = self.role_id(t, role).await;
        let a = self
            .post(
                "/api/v1/users",
                &t.token,
                json!({"email": email, "display_name": email, "password": PASSWORD, "role_ids": [role_id]}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        let login = self.login(&t.slug, email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
        (a.body["id"].as_str().unwrap().into(), login.body["access_token"].as_str().unwrap().into())
    }

    pub async fn audit_count(&self, token: &str) -> usize {
        self.get("/api/v1/audit-events?limit=200", token).await.body["data"].as_array().unwrap().len()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}
