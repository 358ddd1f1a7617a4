//! The platform around the API: OpenAPI and docs, health, metrics, body rules, Redis
//! degradation, and the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[test]
fn the_checked_in_openapi_document_is_current() {
    let current = meridian::api::openapi().to_pretty_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored.trim_end() == current.trim_end(),
        "openapi/openapi.json is stale: run `cargo run -p meridian-server -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_operation_has_a_verb_noun_id_a_tag_and_documents_its_answers() {
    let doc = serde_json::to_value(meridian::api::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/users/{id}"));
    assert!(paths.contains_key("/operator/v1/tenants/{id}/trial"));
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["tags"].is_array(), "{method} {path}");
            assert!(!op["responses"].as_object().unwrap().is_empty(), "{method} {path}");
        }
    }
    assert_eq!(doc["openapi"], "3.1.0");
}

#[tokio::test]
async fn docs_are_served_with_their_assets_and_no_internet() {
    let app = spawn_app(Backend::Sqlite).await;
    let page = app.client.get(format!("{}/docs/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "no asset comes from the internet");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let r = app.client.get(format!("{}/docs/{asset}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert!(r.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let doc: serde_json::Value =
        app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc, serde_json::to_value(meridian::api::openapi()).unwrap());
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    on_each_backend(async |app| {
        let h = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
        assert_eq!(h.status(), StatusCode::OK);
        let r = app.call(Method::GET, "/readyz", None, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["database"], "ok");
        assert_eq!(r.body["redis"], "not_configured");
        let m = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
        assert!(m.contains("meridian_http_requests_total"), "{m}");
        assert!(m.contains("route=\"/readyz\""));
        let echoed = app.call(Method::GET, "/healthz", None, None, &[("x-request-id", "trace-me-123")]).await;
        assert_eq!(echoed.header("x-request-id"), Some("trace-me-123"));
    })
    .await;
}

#[tokio::test]
async fn malformed_oversized_and_mistyped_bodies_are_refused_and_write_nothing() {
    let app = spawn_with(Backend::Sqlite, |c| c.body_limit_bytes = 4096).await;
    let t = app.signup("Body Co").await;
    let roles_before = app.get("/api/v1/roles", &t.token).await.body["data"].as_array().unwrap().len();
    let url = format!("{}/api/v1/roles", app.base);
    let send = |body: Vec<u8>, ct: &'static str| {
        let app = &app;
        let url = url.clone();
        let token = t.token.clone();
        async move {
            let r = app.client.post(url).bearer_auth(token).header("content-type", ct).body(body).send().await.unwrap();
            let status = r.status();
            let ct = r.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
            let v: serde_json::Value = r.json().await.unwrap();
            (status, ct, v)
        }
    };
    let (s, ct, v) = send(b"{\"name\": ".to_vec(), "application/json").await;
    assert_eq!(
        (s, v["type"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "https://meridian.dev/problems/malformed-request")
    );
    assert_eq!(ct, "application/problem+json");
    let big = json!({"name": "x".repeat(5000), "permissions": []}).to_string().into_bytes();
    let (s, _, _) = send(big, "application/json").await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _, _) = send(b"name=x".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _, v) = send(br#"{"name": 5, "permissions": []}"#.to_vec(), "application/json").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "name");
    let (s, _, v) = send(br#"{"name": "ok", "permissions": [1]}"#.to_vec(), "application/json").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["field"], "permissions[0]");
    assert_eq!(app.get("/api/v1/roles", &t.token).await.body["data"].as_array().unwrap().len(), roles_before);
    let unknown_path = app.get("/api/v1/nothing-here", &t.token).await;
    assert_eq!(unknown_path.problem(), "not-found");
    let bad_id = app.get("/api/v1/users/not-a-uuid", &t.token).await;
    assert_eq!(bad_id.status, StatusCode::NOT_FOUND);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Redis of our own, so stopping it disturbs no other test.
struct OwnRedis {
    child: std::process::Child,
    url: String,
}

impl OwnRedis {
    fn start() -> Option<Self> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        std::thread::sleep(Duration::from_millis(300));
        Some(Self { child, url: format!("redis://127.0.0.1:{port}") })
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_redis_stopped_mid_run_the_server_keeps_answering_and_limiting() {
    let Some(mut redis) = OwnRedis::start() else {
        assert!(redis_url().is_none(), "redis-server must be installed where Redis tests are asked for");
        return;
    };
    let url = redis.url.clone();
    let app = spawn_with(Backend::Sqlite, |c| {
        c.redis_url = Some(url);
        c.principal_rate_per_minute = 30;
    })
    .await;
    let t = app.signup("Redis Co").await;
    let r = app.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(r.body["redis"], "ok");
    for _ in 0..10 {
        assert_eq!(app.get("/api/v1/users", &t.token).await.status, StatusCode::OK);
    }
    assert!(app.state.limiter.redis_healthy());
    redis.child.kill().unwrap();
    redis.child.wait().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(app.get("/api/v1/users", &t.token).await.status);
    }
    assert!(!app.state.limiter.redis_healthy(), "the limiter noticed Redis is gone");
    assert_eq!(statuses[0], StatusCode::OK, "the first request after the outage is served");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS));
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "the in-process limiter took over: {statuses:?}");
    let r = app.call(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "readiness depends on the database only");
    assert_eq!(r.body["redis"], "down");
}

#[tokio::test]
async fn redis_backed_limits_are_shared_by_every_node() {
    let Some(url) = redis_url() else { return };
    let limit = 20;
    let tweak = |c: &mut meridian::config::Config| {
        c.redis_url = Some(url.clone());
        c.principal_rate_per_minute = limit;
    };
    let node_a = spawn_with(Backend::Sqlite, tweak).await;
    let t = node_a.signup("Shared Limit Co").await;
    // A second node over the same database file sees the same tenant and the same counters.
    let db = format!("sqlite://{}?mode=rwc", node_a.data_dir.path().join("test.db").display());
    let keys = node_a.data_dir.path().to_path_buf();
    let node_b = spawn_with(Backend::Sqlite, |c| {
        tweak(c);
        c.database_url = db;
        c.data_dir = keys;
    })
    .await;
    let mut limited = 0;
    for i in 0..limit {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        if node.get("/api/v1/roles", &t.token).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert_eq!(limited, 0);
    assert_eq!(node_b.get("/api/v1/roles", &t.token).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn the_binary_serves_a_demo_tenant_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("serve")
        .current_dir(dir.path())
        .env("MERIDIAN_BIND", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the server prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Meridian is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let login_line = lines.next().unwrap().unwrap() + &lines.next().unwrap().unwrap();
    assert!(login_line.contains("\"tenant\": \"demo\""), "{login_line}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let client = reqwest::Client::new();
        let login: serde_json::Value = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&json!({"tenant": "demo", "email": meridian::app::demo::DEMO_EMAIL, "password": meridian::app::demo::DEMO_PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"].as_str().unwrap_or_default().to_owned();
        let users: serde_json::Value = client.get(format!("{url}/api/v1/users")).bearer_auth(&token).send().await?.json().await?;
        let books: serde_json::Value =
            client.get(format!("{url}/api/v1/reports/trial-balance")).bearer_auth(&token).send().await?.json().await?;
        let drafts: serde_json::Value =
            client.get(format!("{url}/api/v1/journal-entries?status=draft")).bearer_auth(&token).send().await?.json().await?;
        let plugins: serde_json::Value =
            client.get(format!("{url}/api/v1/plugins")).bearer_auth(&token).send().await?.json().await?;
        let boms: serde_json::Value =
            client.get(format!("{url}/api/v1/boms?status=active")).bearer_auth(&token).send().await?.json().await?;
        let production: serde_json::Value =
            client.get(format!("{url}/api/v1/production-orders")).bearer_auth(&token).send().await?.json().await?;
        let funnel: serde_json::Value =
            client.get(format!("{url}/api/v1/reports/sales-funnel")).bearer_auth(&token).send().await?.json().await?;
        let leads: serde_json::Value =
            client.get(format!("{url}/api/v1/leads")).bearer_auth(&token).send().await?.json().await?;
        let tickets: serde_json::Value =
            client.get(format!("{url}/api/v1/tickets")).bearer_auth(&token).send().await?.json().await?;
        let inbox: serde_json::Value =
            client.get(format!("{url}/api/v1/approval-requests")).bearer_auth(&token).send().await?.json().await?;
        Ok::<_, reqwest::Error>((users, books, drafts, plugins, boms, production, funnel, leads, (tickets, inbox)))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (users, books, drafts, plugins, boms, production, funnel, leads, (tickets, inbox)) = result.unwrap();
    let waiting: Vec<&str> =
        inbox["data"].as_array().unwrap().iter().filter_map(|r| r["document_kind"].as_str()).collect();
    assert_eq!(waiting, vec!["expense_claim"], "the sales rep's trip waits for the owner: {inbox}");
    let ticket_states: Vec<&str> =
        tickets["data"].as_array().unwrap().iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(ticket_states, vec!["open", "closed", "in_progress"], "the demo company serves customers: {tickets}");
    let statuses: Vec<&str> = leads["data"].as_array().unwrap().iter().filter_map(|l| l["status"].as_str()).collect();
    assert_eq!(statuses, vec!["lost", "contacted", "new"], "the demo company has leads: {leads}");
    assert_eq!(
        (funnel["open_count"].as_i64(), funnel["open_amount"].as_str()),
        (Some(1), Some("48000.00")),
        "one opportunity in negotiation: {funnel}"
    );
    assert_eq!(boms["data"].as_array().unwrap().len(), 2, "the desk and its phantom fitting kit: {boms}");
    let states: Vec<&str> =
        production["data"].as_array().unwrap().iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(states, vec!["planned", "in_progress"], "the demo company makes desks: {production}");
    assert_eq!(
        (
            plugins["data"][0]["name"].as_str(),
            plugins["data"][0]["enabled"].as_bool(),
            plugins["data"][0]["settings"]["tag"].as_str()
        ),
        (Some("credit-guard"), Some(true), Some("high value")),
        "the demo company runs an example plugin: {plugins}"
    );
    assert!(users["data"].as_array().unwrap().len() >= 6, "the demo company has staff: {users}");
    assert!(books["lines"].as_array().unwrap().len() >= 8, "the demo company has books: {books}");
    assert_eq!(books["totals"]["balanced"], true);
    assert_eq!(drafts["data"].as_array().unwrap().len(), 1, "one entry waits as a draft");
    assert!(dir.path().join("data/meridian.db").exists(), "SQLite lives in ./data/");
}
