//! Inventory benchmark on PostgreSQL (`MERIDIAN_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres), in a scratch database dropped at the end:
//! 1. the low-stock list over 100,000 items (seeded in bulk by SQL, a tenth of them below their
//!    reorder level): first page and the whole list page by page, p50/p99 through the API;
//! 2. on-hand lookup of one item through the API, p50/p99;
//! 3. posting 100,000 stock movements through the API: goods receipts and issues of ten lines
//!    each (create the draft, post it) from several clients: movements/s and p50/p99 per document.
//!
//! `cargo bench -p meridian-server --bench stock` (env: BENCH_ITEMS, BENCH_MOVEMENTS,
//! BENCH_CLIENTS, BENCH_RUNS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::domain::ids::TenantId;
use meridian::startup::Application;
use meridian::store::Access;
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator";
const LINES_PER_DOCUMENT: u64 = 10;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let Some(url) = std::env::var("MERIDIAN_BENCH_DATABASE_URL").ok() else {
        println!("stock: set MERIDIAN_BENCH_DATABASE_URL to a PostgreSQL server; the targets are measured there");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        use sea_orm::ConnectionTrait;
        let name = format!("meridian_bench_{}", std::process::id());
        let admin = sea_orm::Database::connect(&url).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let mut scratch = url::Url::parse(&url).unwrap();
        scratch.set_path(&format!("/{name}"));
        bench(scratch.to_string()).await;
        if std::env::var("BENCH_KEEP").is_ok() {
            println!("kept the scratch database {name}");
        } else {
            admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
        }
    });
}

async fn get(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

async fn bench(url: String) {
    let owner_url = url.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_dev(dir.path().to_path_buf(), url);
    config.operator_token = Some(OPERATOR.into());
    config.workers = Some(2);
    config.db_max_connections = 16;
    let app = Application::build(config, Arc::new(SystemClock)).await.unwrap();
    let (port, state) = app.spawn();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let s: Value = c
        .post(format!("{base}/api/v1/signup"))
        .json(&json!({"company_name": "Stock Bench", "admin_email": "owner@stock-bench.test",
                      "admin_password": "benchmark-password", "accounting_template": "cn_small_business", "base_currency": "CNY"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = TenantId(s["tenant_id"].as_str().unwrap().parse().unwrap());
    let token = s["access_token"].as_str().unwrap().to_owned();
    c.post(format!("{base}/operator/v1/tenants/{}/plan", tenant.0))
        .bearer_auth(OPERATOR)
        .json(&json!({"plan": "enterprise"}))
        .send()
        .await
        .unwrap();
    let wh: Value = c
        .post(format!("{base}/api/v1/warehouses"))
        .bearer_auth(&token)
        .json(&json!({"code": "WH", "name": "Bench warehouse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wh = wh["id"].as_str().unwrap().to_owned();

    // Items: a tenth of them hold 5 units against a safety stock of 10, the rest 50. A
    // thousand more (M-*) start empty and take the posted movements.
    let n_items = env_u64("BENCH_ITEMS", 100_000);
    let started = Instant::now();
    let t = tenant.0;
    let tx = state.store.begin(tenant, Access::Write).await.unwrap();
    tx.run_fixture_sql(&format!(
        "INSERT INTO items (tenant_id, id, sku, name, item_type, category, base_unit, batch_tracked, safety_stock,
             reorder_point, reorder_quantity, standard_cost, valuation_method, is_active, created_at, updated_at, version)
         SELECT '{t}', lpad(to_hex(g), 32, '0')::uuid, 'SKU-' || lpad(g::text, 7, '0'), 'Item ' || g, 'stocked', 'bench', 'pcs', false,
             100000, 150000, 200000, 50000, 'moving_average', true, now(), now(), 1
         FROM generate_series(1, {n_items}) g;
         INSERT INTO stock_levels (tenant_id, item_id, warehouse_id, quantity, value, reserved, last_unit_cost, last_date)
         SELECT '{t}', lpad(to_hex(g), 32, '0')::uuid, '{wh}', CASE WHEN g % 10 = 0 THEN 50000 ELSE 500000 END,
             CASE WHEN g % 10 = 0 THEN 250000 ELSE 2500000 END, 0, 50000, '2026-01-01'
         FROM generate_series(1, {n_items}) g;
         INSERT INTO items (tenant_id, id, sku, name, item_type, category, base_unit, batch_tracked, safety_stock,
             reorder_point, reorder_quantity, standard_cost, valuation_method, is_active, created_at, updated_at, version)
         SELECT '{t}', ('0000000000000001' || lpad(to_hex(g), 16, '0'))::uuid, 'M-' || lpad(g::text, 4, '0'), 'Moving ' || g, 'stocked', 'bench', 'pcs', false,
             0, 0, 0, 50000, CASE WHEN g % 4 = 0 THEN 'fifo' ELSE 'moving_average' END, true, now(), now(), 1
         FROM generate_series(1, 1000) g;"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    {
        use sea_orm::ConnectionTrait;
        let owner = sea_orm::Database::connect(&owner_url).await.unwrap();
        owner.execute_unprepared("VACUUM ANALYZE items, stock_levels").await.unwrap();
    }
    println!("seeded {n_items} items with stock levels in {:.1}s", started.elapsed().as_secs_f64());

    let runs = env_u64("BENCH_RUNS", 50);
    let mut first = Histogram::<u64>::new(3).unwrap();
    let mut count = 0;
    for _ in 0..runs {
        let s = Instant::now();
        let page = get(&c, &format!("{base}/api/v1/reports/low-stock?limit=200"), &token).await;
        first.record(s.elapsed().as_micros() as u64).unwrap();
        count = page["data"].as_array().unwrap().len();
    }
    println!(
        "low-stock list over {n_items} items, first page of {count}: p50 {:.1} ms, p99 {:.1} ms ({runs} runs)",
        ms(&first, 0.5),
        ms(&first, 0.99)
    );
    let mut whole = Histogram::<u64>::new(3).unwrap();
    let mut low = 0;
    for _ in 0..5 {
        let s = Instant::now();
        let mut cursor = String::new();
        low = 0;
        loop {
            let page = get(&c, &format!("{base}/api/v1/reports/low-stock?limit=1000&cursor={cursor}"), &token).await;
            low += page["data"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => break,
            }
        }
        whole.record(s.elapsed().as_micros() as u64).unwrap();
    }
    println!(
        "low-stock list over {n_items} items, all {low} low items in pages of 1000: p50 {:.1} ms, p99 {:.1} ms (5 runs)",
        ms(&whole, 0.5),
        ms(&whole, 0.99)
    );
    let mut one = Histogram::<u64>::new(3).unwrap();
    let item = uuid::Uuid::from_u128(u128::from(n_items / 2 + 1));
    for _ in 0..runs * 4 {
        let s = Instant::now();
        let levels = get(&c, &format!("{base}/api/v1/stock-levels?item_id={item}"), &token).await;
        one.record(s.elapsed().as_micros() as u64).unwrap();
        assert_eq!(levels.as_array().unwrap().len(), 1);
    }
    println!(
        "on-hand lookup of one item: p50 {:.1} ms, p99 {:.1} ms ({} runs)",
        ms(&one, 0.5),
        ms(&one, 0.99),
        runs * 4
    );

    // Movements through the API: each client receives ten items, then issues part of them.
    let movements = env_u64("BENCH_MOVEMENTS", 100_000);
    let clients = env_u64("BENCH_CLIENTS", 8);
    let documents = movements / LINES_PER_DOCUMENT;
    let pairs = documents / 2;
    let next = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients as usize).build().unwrap();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let (client, base, token, wh, next) = (client.clone(), base.clone(), token.clone(), wh.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            loop {
                let pair = next.fetch_add(1, Ordering::Relaxed);
                if pair >= pairs {
                    break;
                }
                if pair > 0 && pair % (pairs / 10).max(1) == 0 {
                    // Throughput so far, to see whether it holds as the ledger grows.
                    println!(
                        "  {} movements posted, {:.0}/s so far",
                        pair * 2 * LINES_PER_DOCUMENT,
                        (pair * 2 * LINES_PER_DOCUMENT) as f64 / t0.elapsed().as_secs_f64()
                    );
                }
                // A receipt of ten items, then an issue of part of them; clients work on their
                // own items, so the figure is posting, not waiting for one another's locks.
                for n in [pair * 2, pair * 2 + 1] {
                    let lines: Vec<Value> = (0..LINES_PER_DOCUMENT)
                        .map(|l| {
                            let item =
                                uuid::Uuid::from_u128((1 << 64) | u128::from(1 + k * 125 + (pair * 7 + l * 13) % 125));
                            if n % 2 == 0 {
                                json!({"item_id": item, "quantity": "10", "unit_cost": format!("{}.{:02}", 5 + n % 7, n % 100)})
                            } else {
                                json!({"item_id": item, "quantity": "3"})
                            }
                        })
                        .collect();
                    // A working year of days, in order: each item's movements stay in date order.
                    let date = (chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                        + chrono::Duration::days((pair * 250 / pairs.max(1)) as i64))
                    .to_string();
                    let body = if n % 2 == 0 {
                        json!({"kind": "receipt", "warehouse_id": wh, "date": date, "lines": lines})
                    } else {
                        json!({"kind": "issue", "reason": "bench", "warehouse_id": wh, "date": date, "lines": lines})
                    };
                    let s = Instant::now();
                    let d: Value = client
                        .post(format!("{base}/api/v1/stock-documents"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let id = d["id"].as_str().unwrap_or_else(|| panic!("draft: {d}")).to_owned();
                    let r = client
                        .post(format!("{base}/api/v1/stock-documents/{id}/post"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    assert!(status.is_success(), "{status}: {}", r.text().await.unwrap_or_default());
                    h.record(s.elapsed().as_micros() as u64).unwrap();
                }
            }
            h
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        hist.add(t.await.unwrap()).unwrap();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    println!(
        "posting {movements} movements in {documents} documents of {LINES_PER_DOCUMENT} lines (create + post), {clients} clients: \
         {:.0} movements/s ({elapsed:.0}s), per document p50 {:.1} ms, p99 {:.1} ms",
        movements as f64 / elapsed,
        ms(&hist, 0.5),
        ms(&hist, 0.99)
    );
}
