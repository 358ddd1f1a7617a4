//! What the PostgreSQL benchmarks share: a scratch database for the run, and the server
//! started in this process on it with one tenant on the enterprise plan.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use meridian::app::AppState;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::domain::ids::TenantId;
use meridian::startup::Application;
use serde_json::{Value, json};

pub const OPERATOR: &str = "bench-operator";

/// Runs `work` with the URL of a scratch database made from `url` for it and dropped after.
pub async fn with_scratch_database<F, Fut>(url: &str, work: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use sea_orm::ConnectionTrait;
    let name = format!("meridian_bench_{}", std::process::id());
    let admin = sea_orm::Database::connect(url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut scratch = url::Url::parse(url).unwrap();
    scratch.set_path(&format!("/{name}"));
    work(scratch.to_string()).await;
    admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
}

/// The server on `url` and a tenant on the enterprise plan signed up through the API.
pub struct Bench {
    pub base: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub tenant: TenantId,
    pub token: String,
    /// Keeps the server's data directory for the run.
    _dir: tempfile::TempDir,
}

pub async fn start(url: String, company: &str) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_dev(dir.path().to_path_buf(), url);
    config.operator_token = Some(OPERATOR.into());
    config.workers = Some(2);
    config.db_max_connections = 8;
    config.dispatch_events = false;
    let app = Application::build(config, Arc::new(SystemClock)).await.unwrap();
    let (port, state) = app.spawn();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let slug = company.to_lowercase().replace(' ', "-");
    let s: Value = client
        .post(format!("{base}/api/v1/signup"))
        .json(&json!({"company_name": company, "admin_email": format!("owner@{slug}.test"),
                      "admin_password": "benchmark-password", "accounting_template": "cn_small_business", "base_currency": "CNY"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = TenantId(s["tenant_id"].as_str().unwrap().parse().unwrap());
    let token = s["access_token"].as_str().unwrap().to_owned();
    client
        .post(format!("{base}/operator/v1/tenants/{}/plan", tenant.0))
        .bearer_auth(OPERATOR)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .await
        .unwrap();
    Bench { base, client, state, tenant, token, _dir: dir }
}

impl Bench {
    /// A request that must succeed; its JSON answer.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }
}
