//! Load benchmark: the real server on a loopback port, driven by `wrk` (Debian package `wrk`)
//! on the same machine, so the figures include the load generator's cost. Without wrk it falls
//! back to an in-process reqwest client, which itself takes most of a core. Prints requests/s
//! and p50/p99 latency for an authenticated single-object read and a small authenticated
//! write, on SQLite and, when `MERIDIAN_BENCH_DATABASE_URL` names a PostgreSQL server (e.g.
//! postgres://postgres@127.0.0.1:5432/postgres), on PostgreSQL too.
//!
//! `cargo bench -p meridian-server --bench http_load` (env: BENCH_SECONDS, BENCH_CONNECTIONS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::startup::Application;
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Target {
    base: String,
    token: String,
    user_id: String,
}

async fn start(database_url: String, dir: &std::path::Path) -> Target {
    let mut config = Config::for_dev(dir.to_path_buf(), database_url);
    config.operator_token = Some(OPERATOR.into());
    config.workers = Some(2);
    config.db_max_connections = 16;
    let app = Application::build(config, Arc::new(SystemClock)).await.unwrap();
    let (port, _) = app.spawn();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let slug = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let s: Value = c
        .post(format!("{base}/api/v1/signup"))
        .json(&json!({"company_name": "Bench Co", "slug": slug, "admin_email": "owner@bench.test",
                      "admin_password": "benchmark-password", "accounting_template": "generic", "base_currency": "USD"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = s["tenant_id"].as_str().unwrap();
    // The enterprise plan's tenant rate leaves room for the benchmark's load.
    c.post(format!("{base}/operator/v1/tenants/{tenant}/plan"))
        .bearer_auth(OPERATOR)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .await
        .unwrap();
    Target {
        base,
        token: s["access_token"].as_str().unwrap().to_owned(),
        user_id: s["user_id"].as_str().unwrap().to_owned(),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
}

async fn run(t: &Target, op: Op, seconds: u64, connections: u64) -> (f64, Histogram<u64>, u64) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections as usize).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    let started = Instant::now();
    for worker in 0..connections {
        let client = client.clone();
        let url_read = format!("{}/api/v1/users/{}", t.base, t.user_id);
        let url_write = format!("{}/api/v1/roles", t.base);
        let token = t.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut errors = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let res = match op {
                    Op::Read => client.get(&url_read).bearer_auth(&token).send().await,
                    Op::Write => {
                        n += 1;
                        client
                            .post(&url_write)
                            .bearer_auth(&token)
                            .json(&json!({"name": format!("r-{worker}-{n}"), "permissions": ["sales:read"]}))
                            .send()
                            .await
                    }
                };
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        h.record(t0.elapsed().as_micros() as u64).unwrap();
                    }
                    _ => errors += 1,
                }
            }
            (h, errors)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut errors = 0;
    for task in tasks {
        let (h, e) = task.await.unwrap();
        all.add(h).unwrap();
        errors += e;
    }
    let rps = all.len() as f64 / started.elapsed().as_secs_f64();
    (rps, all, errors)
}

/// Runs wrk and reads back (req/s, p50 ms, p99 ms, non-2xx count); None when wrk is missing.
fn run_wrk(t: &Target, op: Op, seconds: u64, connections: u64) -> Option<(f64, f64, f64, u64)> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("load.lua");
    let (url, lua) = match op {
        Op::Read => (format!("{}/api/v1/users/{}", t.base, t.user_id), String::new()),
        Op::Write => (
            format!("{}/api/v1/roles", t.base),
            format!(
                r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local run = "{}"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"name":"r-' .. run .. '-' .. n .. '","permissions":["sales:read"]}}')
end
"#,
                uuid::Uuid::now_v7().simple()
            ),
        ),
    };
    std::fs::write(&script, lua).ok()?;
    let out = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(&script)
        .args(["-H", &format!("Authorization: Bearer {}", t.token), &url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ms = |v: &str| -> f64 {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "s" => n * 1000.0,
            _ => n,
        }
    };
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()));
    let rps = field("Requests/sec:")?.parse().ok()?;
    let non_2xx = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    Some((rps, ms(&field("50%")?), ms(&field("99%")?), non_2xx))
}

fn report(backend: &str, name: &str, (rps, h, errors): (f64, Histogram<u64>, u64)) {
    println!(
        "{backend:<10} {name:<34} {rps:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {errors} errors)",
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.len()
    );
}

fn main() {
    let seconds = env_u64("BENCH_SECONDS", 10);
    let connections = env_u64("BENCH_CONNECTIONS", 32);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut bench_db = None;
        let mut targets = vec![(
            "sqlite",
            start(format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), dir.path()).await,
        )];
        if let Ok(admin) = std::env::var("MERIDIAN_BENCH_DATABASE_URL") {
            let name = format!("meridian_bench_{}", std::process::id());
            let conn = sea_orm::Database::connect(&admin).await.unwrap();
            use sea_orm::ConnectionTrait;
            conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            targets.push(("postgres", start(url.to_string(), dir.path()).await));
            bench_db = Some((conn, name));
        }
        let wrk = std::process::Command::new("wrk").arg("--version").output().is_ok();
        let tool = if wrk { "wrk" } else { "reqwest (install wrk for figures that spend less on the client)" };
        println!("{seconds} s per run, {connections} keep-alive connections, load from {tool}, server and client on this machine");
        for (backend, t) in &targets {
            for (op, name) in [(Op::Read, "GET /api/v1/users/{id}"), (Op::Write, "POST /api/v1/roles")] {
                // Warm up connections and caches.
                run(t, Op::Read, 1, connections).await;
                match wrk.then(|| run_wrk(t, op, seconds, connections)).flatten() {
                    Some((rps, p50, p99, bad)) => println!(
                        "{backend:<10} {name:<34} {rps:>9.0} req/s   p50 {p50:>6.2} ms   p99 {p99:>6.2} ms   ({bad} non-2xx)"
                    ),
                    None => report(backend, name, run(t, op, seconds, connections).await),
                }
            }
        }
        if let Some((conn, name)) = bench_db {
            use sea_orm::ConnectionTrait;
            let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    });
}
