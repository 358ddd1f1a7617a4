//! Plugin hooks: what a validator costs.
//!
//! 1. The hook call alone: the credit-guard example plugin asked about a 10-line sales order,
//!    each call a fresh store from the pre-instantiated component (pooling allocator, fuel and
//!    epoch budget, memory cap) — median and p99 over many calls. Target: under 50 µs and
//!    250 µs.
//! 2. Sales-order confirmation through the HTTP API by 16 clients, without and with the
//!    plugin enabled, in alternating rounds; the ratio of the medians. Target: at least 95 %.
//!    On PostgreSQL when `MERIDIAN_BENCH_DATABASE_URL` is set (a scratch database, dropped at
//!    the end), otherwise on SQLite.
//!
//! `cargo bench -p meridian-server --bench plugins` (env: BENCH_CALLS, BENCH_CONFIRMS,
//! BENCH_ROUNDS, BENCH_CLIENTS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../../tests/e2e/plugin_build.rs"]
#[allow(dead_code)]
mod plugin_build;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::Histogram;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::plugins::runtime::{self, Budget, CallData, Capability, Document, DocumentLine, Party, WitDecimal};
use meridian::startup::Application;
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator";
const LINES: usize = 10;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let component = plugin_build::component("credit-guard");
    hook_call(&component);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        match std::env::var("MERIDIAN_BENCH_DATABASE_URL").ok() {
            Some(url) => {
                use sea_orm::ConnectionTrait;
                let name = format!("meridian_bench_plugins_{}", std::process::id());
                let admin = sea_orm::Database::connect(&url).await.unwrap();
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                let mut scratch = url::Url::parse(&url).unwrap();
                scratch.set_path(&format!("/{name}"));
                let dir = tempfile::tempdir().unwrap();
                confirmations(Config::for_dev(dir.path().to_path_buf(), scratch.to_string()), "PostgreSQL", &component)
                    .await;
                admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
                confirmations(Config::for_dev(dir.path().to_path_buf(), url), "SQLite", &component).await;
            }
        }
    });
}

fn dec(units: i64, scale: u8) -> WitDecimal {
    WitDecimal { units, scale }
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// The validator alone, on one thread, as the server calls it.
fn hook_call(component: &[u8]) {
    let rt = runtime::runtime().unwrap();
    let prepared = rt.load(component).unwrap();
    let party = Party {
        id: "0193a1c0-0000-7000-8000-000000000001".into(),
        code: "C001".into(),
        name: "Customer One".into(),
        kind: "customer".into(),
        group: Some("retail".into()),
        tags: vec!["vip".into(), "north".into()],
        currency: "CNY".into(),
        credit_limit: Some(dec(10_000_000, 2)),
        active: true,
    };
    let lines: Vec<DocumentLine> = (0..LINES)
        .map(|i| DocumentLine {
            line_no: u32::try_from(i + 1).unwrap(),
            item_id: Some(format!("0193a1c0-0000-7000-8000-0000000001{i:02}")),
            sku: Some(format!("SKU-{i:04}")),
            account: None,
            description: format!("Item {i}"),
            quantity: dec(2, 0),
            unit_price: dec(2500, 2),
            discount: dec(0, 2),
            net: dec(5000, 2),
        })
        .collect();
    let doc = Document {
        kind: "sales-order".into(),
        id: "0193a1c0-0000-7000-8000-000000000099".into(),
        number: Some("SO-000001".into()),
        party: Some(party),
        currency: "CNY".into(),
        date: "2026-03-15".into(),
        memo: String::new(),
        net_total: dec(50_000, 2),
        tax_total: dec(6_500, 2),
        gross_total: dec(56_500, 2),
        lines,
    };
    let data = CallData {
        plugin: "credit-guard".into(),
        grants: [Capability::Log].into_iter().collect(),
        settings: [("tag".to_owned(), "watch".to_owned()), ("limit".to_owned(), "5000".to_owned())].into(),
        ..CallData::default()
    };
    let budget = Budget::SYNC;
    let hook = runtime::Hook::BeforeSalesOrderConfirm;
    for _ in 0..500 {
        let o = rt.validate(&prepared, data.clone(), budget, hook, &doc);
        assert!(matches!(o.result, Ok(Ok(()))), "{:?}", o.result);
    }
    let calls = env_u64("BENCH_CALLS", 20_000);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut fuel = 0;
    let started = Instant::now();
    for _ in 0..calls {
        let t = Instant::now();
        let o = rt.validate(&prepared, data.clone(), budget, hook, &doc);
        h.record(t.elapsed().as_nanos() as u64).unwrap();
        fuel = o.fuel_used;
        assert!(o.result.is_ok());
    }
    println!(
        "validator hook, credit-guard on a {LINES}-line order ({calls} calls, fresh store each, {:.0} calls/s):",
        calls as f64 / started.elapsed().as_secs_f64()
    );
    println!(
        "  p50 {:.1} µs   p90 {:.1} µs   p99 {:.1} µs   max {:.1} µs   fuel {fuel}",
        us(&h, 0.5),
        us(&h, 0.9),
        us(&h, 0.99),
        h.max() as f64 / 1000.0
    );
}

async fn send(c: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let r = c.post(&url).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

/// Confirms `orders` with `clients` concurrent clients; returns confirmations per second.
async fn confirm_all(c: &reqwest::Client, base: &str, token: &str, orders: Vec<String>, clients: usize) -> f64 {
    let orders = Arc::new(orders);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, base, token, orders, next) =
            (c.clone(), base.to_owned(), token.to_owned(), orders.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = orders.get(n) else { break };
                send(&c, format!("{base}/api/v1/sales-orders/{id}/confirm"), &token, json!({})).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    orders.len() as f64 / started.elapsed().as_secs_f64()
}

async fn confirmations(mut config: Config, backend: &str, component: &[u8]) {
    config.operator_token = Some(OPERATOR.into());
    config.workers = Some(2);
    config.db_max_connections = 24;
    let app = Application::build(config, Arc::new(SystemClock)).await.unwrap();
    let (port, _state) = app.spawn();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let s = send(
        &c,
        format!("{base}/api/v1/signup"),
        "",
        json!({"company_name": "Plugin Bench", "admin_email": "owner@plugin-bench.test", "admin_password": "benchmark-password",
               "accounting_template": "cn_small_business", "base_currency": "CNY"}),
    )
    .await;
    let tenant = s["tenant_id"].as_str().unwrap().to_owned();
    let token = s["access_token"].as_str().unwrap().to_owned();
    c.post(format!("{base}/operator/v1/tenants/{tenant}/plan"))
        .bearer_auth(OPERATOR)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .await
        .unwrap();
    let wh = send(&c, format!("{base}/api/v1/warehouses"), &token, json!({"code": "WH", "name": "Bench"})).await;
    let wh = wh["id"].as_str().unwrap().to_owned();
    let clients = env_u64("BENCH_CLIENTS", 16) as usize;
    // Each client's orders use their own ten items, as a sales desk per product line.
    let mut items = Vec::new();
    for i in 0..clients * LINES {
        let it = send(
            &c,
            format!("{base}/api/v1/items"),
            &token,
            json!({"sku": format!("PB-{i:04}"), "name": format!("Item {i}"), "base_unit": "pcs", "default_warehouse_id": wh}),
        )
        .await;
        items.push(it["id"].as_str().unwrap().to_owned());
    }
    let lines: Vec<Value> =
        items.iter().map(|i| json!({"item_id": i, "quantity": "1000000", "unit_cost": "10.00"})).collect();
    let d = send(
        &c,
        format!("{base}/api/v1/stock-documents"),
        &token,
        json!({"kind": "receipt", "warehouse_id": wh, "date": "2026-03-01", "lines": lines}),
    )
    .await;
    send(&c, format!("{base}/api/v1/stock-documents/{}/post", d["id"].as_str().unwrap()), &token, json!({})).await;
    let mut customers = Vec::new();
    for k in 0..clients {
        let p = send(
            &c,
            format!("{base}/api/v1/customers"),
            &token,
            // No credit limit: the credit check sums a customer's open orders, which grow
            // round by round here (nothing is delivered) and would drift the figures.
            json!({"code": format!("C{k:03}"), "name": format!("Customer {k}"), "tags": ["north"]}),
        )
        .await;
        customers.push(p["id"].as_str().unwrap().to_owned());
    }
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/credit-guard/manifest.json")).unwrap(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(component);
    send(&c, format!("{base}/api/v1/plugins"), &token, json!({"manifest": manifest, "component": b64})).await;

    let per_round = env_u64("BENCH_CONFIRMS", 500) as usize;
    let rounds = env_u64("BENCH_ROUNDS", 4);
    println!(
        "sales-order confirmation, {LINES}-line orders, {clients} clients, {per_round} per round, {rounds} rounds each ({backend}):"
    );
    let (mut without, mut with) = (Vec::new(), Vec::new());
    // Without, with, with, without, ...: a slow drift (tables growing) weighs on both alike.
    for round in 0..rounds * 2 {
        let plugin_on = matches!(round % 4, 1 | 2);
        let path = if plugin_on { "enable" } else { "disable" };
        let body = if plugin_on { json!({"capabilities": ["log"]}) } else { json!({}) };
        send(&c, format!("{base}/api/v1/plugins/credit-guard/{path}"), &token, body).await;
        let mut orders = Vec::with_capacity(per_round);
        for n in 0..per_round {
            let k = n % clients;
            let lines: Vec<Value> = (0..LINES)
                .map(|j| json!({"item_id": items[k * LINES + j], "quantity": "2", "unit_price": "25.00"}))
                .collect();
            let so = send(
                &c,
                format!("{base}/api/v1/sales-orders"),
                &token,
                json!({"customer_id": customers[k], "order_date": "2026-03-15", "lines": lines}),
            )
            .await;
            orders.push(so["id"].as_str().unwrap().to_owned());
        }
        // Let the invocation log of the last round drain before timing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rate = confirm_all(&c, &base, &token, orders, clients).await;
        println!(
            "  round {}: {:<14} {rate:.1} confirmations/s",
            round + 1,
            if plugin_on { "with plugin" } else { "without plugin" }
        );
        if plugin_on { with.push(rate) } else { without.push(rate) }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    println!("  median without {a:.1}/s, with {b:.1}/s: with/without = {:.1} %", b / a * 100.0);
    let invocations: Value = c
        .get(format!("{base}/api/v1/plugins/credit-guard/invocations?limit=200"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut durations: Vec<i64> =
        invocations["data"].as_array().unwrap().iter().filter_map(|i| i["duration_us"].as_i64()).collect();
    durations.sort_unstable();
    if !durations.is_empty() {
        println!(
            "  in the server: {} logged calls, duration p50 {} µs, p99 {} µs (outcomes all ok: {})",
            durations.len(),
            durations[durations.len() / 2],
            durations[durations.len() * 99 / 100],
            invocations["data"].as_array().unwrap().iter().all(|i| i["outcome"] == "ok")
        );
    }
}
