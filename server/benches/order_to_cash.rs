//! Order-to-cash load on PostgreSQL (`MERIDIAN_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres), in a scratch database dropped at the end.
//! Many clients run full cycles through the HTTP API: create a 5-line sales order, confirm it
//! (credit check, stock check, reservations), deliver it (stock and cost of goods sold),
//! invoice the delivery (receivable, revenue, output VAT) and receive the payment. Prints
//! cycles per second, the CPU a cycle costs in this process and in a local PostgreSQL (from
//! /proc on Linux), and p50/p99 of each step.
//!
//! `cargo bench -p meridian-server --bench order_to_cash` (env: BENCH_CYCLES, BENCH_CLIENTS,
//! BENCH_ITEMS, BENCH_KEEP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::startup::Application;
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator";
const STEPS: [&str; 5] = ["create order", "confirm", "deliver", "invoice", "receive payment"];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time in clock ticks (USER_HZ, 100 per second on Linux) of each process whose name is
/// `comm`, or of this process for `None`, read from /proc; empty where there is no /proc.
fn cpu_ticks(comm: Option<&str>) -> std::collections::HashMap<u32, u64> {
    let ticks = |stat: &str| -> Option<u64> {
        // Fields after the command name: state is the first, utime the 12th, stime the 13th.
        let f: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    };
    let mut out = std::collections::HashMap::new();
    let Some(comm) = comm else {
        if let Some(t) = std::fs::read_to_string("/proc/self/stat").ok().as_deref().and_then(ticks) {
            out.insert(std::process::id(), t);
        }
        return out;
    };
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == comm)
            && let Some(t) = std::fs::read_to_string(entry.path().join("stat")).ok().as_deref().and_then(ticks)
        {
            out.insert(pid, t);
        }
    }
    out
}

/// Milliseconds of CPU spent between two snapshots, per cycle. A process that ended in between
/// is not counted; one that started counts from zero.
fn cpu_ms_per_cycle(
    before: &std::collections::HashMap<u32, u64>,
    after: &std::collections::HashMap<u32, u64>,
    cycles: u64,
) -> f64 {
    let ticks: u64 = after.iter().map(|(pid, t)| t.saturating_sub(before.get(pid).copied().unwrap_or(0))).sum();
    ticks as f64 * 10.0 / cycles as f64
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let Some(url) = std::env::var("MERIDIAN_BENCH_DATABASE_URL").ok() else {
        println!("order_to_cash: set MERIDIAN_BENCH_DATABASE_URL to a PostgreSQL server; the target is measured there");
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

async fn send(c: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let r = c.post(&url).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

async fn bench(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_dev(dir.path().to_path_buf(), url);
    config.operator_token = Some(OPERATOR.into());
    config.workers = Some(2);
    config.db_max_connections = 24;
    let app = Application::build(config, Arc::new(SystemClock)).await.unwrap();
    let (port, state) = app.spawn();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let s = send(
        &c,
        format!("{base}/api/v1/signup"),
        "",
        json!({"company_name": "O2C Bench", "admin_email": "owner@o2c-bench.test", "admin_password": "benchmark-password",
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
    let codes: Value =
        c.get(format!("{base}/api/v1/tax-codes")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let list = if codes.is_array() { codes.clone() } else { codes["data"].clone() };
    let vat =
        list.as_array().unwrap().iter().find(|c| c["code"] == "VAT13").unwrap()["id"].as_str().unwrap().to_owned();
    let wh = send(&c, format!("{base}/api/v1/warehouses"), &token, json!({"code": "WH", "name": "Bench"})).await;
    let wh = wh["id"].as_str().unwrap().to_owned();

    // Items with plenty of opening stock, received through the API so the books hold it.
    let n_items = env_u64("BENCH_ITEMS", 200);
    let mut items = Vec::new();
    for i in 0..n_items {
        let it = send(
            &c,
            format!("{base}/api/v1/items"),
            &token,
            json!({"sku": format!("O2C-{i:04}"), "name": format!("Item {i}"), "base_unit": "pcs", "default_warehouse_id": wh}),
        )
        .await;
        items.push(it["id"].as_str().unwrap().to_owned());
    }
    for chunk in items.chunks(100) {
        let lines: Vec<Value> =
            chunk.iter().map(|i| json!({"item_id": i, "quantity": "1000000", "unit_cost": "10.00"})).collect();
        let d = send(
            &c,
            format!("{base}/api/v1/stock-documents"),
            &token,
            json!({"kind": "receipt", "warehouse_id": wh, "date": "2026-03-01", "lines": lines}),
        )
        .await;
        send(&c, format!("{base}/api/v1/stock-documents/{}/post", d["id"].as_str().unwrap()), &token, json!({})).await;
    }
    let clients = env_u64("BENCH_CLIENTS", 16);
    let mut customers = Vec::new();
    for k in 0..clients {
        let p = send(
            &c,
            format!("{base}/api/v1/customers"),
            &token,
            json!({"code": format!("C{k:03}"), "name": format!("Customer {k}"), "credit_limit": "1000000000.00"}),
        )
        .await;
        customers.push(p["id"].as_str().unwrap().to_owned());
    }

    let cycles = env_u64("BENCH_CYCLES", 2000);
    println!("order to cash: {cycles} cycles of a 5-line order by {clients} clients, {n_items} items");
    let next = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients as usize).build().unwrap();
    let items = Arc::new(items);
    let (own_before, pg_before) = (cpu_ticks(None), cpu_ticks(Some("postgres")));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let (c, base, token, vat, items, next) =
            (client.clone(), base.clone(), token.clone(), vat.clone(), items.clone(), next.clone());
        let customer = customers[k as usize].clone();
        tasks.push(tokio::spawn(async move {
            let mut h: Vec<Histogram<u64>> = (0..STEPS.len()).map(|_| Histogram::<u64>::new(3).unwrap()).collect();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= cycles {
                    break;
                }
                // Each client works on its own five items, as a sales desk per product line.
                let lines: Vec<Value> = (0..5)
                    .map(|j| {
                        let item = &items[((k * 5 + j) % items.len() as u64) as usize];
                        json!({"item_id": item, "quantity": "2", "unit_price": "25.00", "tax_code_id": vat})
                    })
                    .collect();
                let mut t = Instant::now();
                let lap = |h: &mut Vec<Histogram<u64>>, step: usize, t: &mut Instant| {
                    h[step].record(t.elapsed().as_micros() as u64).unwrap();
                    *t = Instant::now();
                };
                let so = send(
                    &c,
                    format!("{base}/api/v1/sales-orders"),
                    &token,
                    json!({"customer_id": customer, "order_date": "2026-03-15", "lines": lines}),
                )
                .await;
                lap(&mut h, 0, &mut t);
                let id = so["id"].as_str().unwrap();
                send(&c, format!("{base}/api/v1/sales-orders/{id}/confirm"), &token, json!({})).await;
                lap(&mut h, 1, &mut t);
                let dl: Vec<Value> = (1..=5).map(|l| json!({"order_id": id, "line_no": l, "quantity": "2"})).collect();
                let dn = send(
                    &c,
                    format!("{base}/api/v1/deliveries"),
                    &token,
                    json!({"customer_id": customer, "date": "2026-03-15", "lines": dl}),
                )
                .await;
                lap(&mut h, 2, &mut t);
                let inv = send(
                    &c,
                    format!("{base}/api/v1/sales-invoices/from-deliveries"),
                    &token,
                    json!({"delivery_ids": [dn["id"]], "invoice_date": "2026-03-15"}),
                )
                .await;
                lap(&mut h, 3, &mut t);
                let gross = inv["gross_total"].as_str().unwrap();
                send(
                    &c,
                    format!("{base}/api/v1/receipts"),
                    &token,
                    json!({"customer_id": customer, "payment_date": "2026-03-15", "amount": gross,
                           "allocations": [{"invoice_id": inv["id"], "amount": gross}]}),
                )
                .await;
                lap(&mut h, 4, &mut t);
            }
            h
        }));
    }
    let mut all: Vec<Histogram<u64>> = (0..STEPS.len()).map(|_| Histogram::<u64>::new(3).unwrap()).collect();
    for t in tasks {
        for (a, h) in all.iter_mut().zip(t.await.unwrap()) {
            a.add(h).unwrap();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let (own, pg) = (
        cpu_ms_per_cycle(&own_before, &cpu_ticks(None), cycles),
        cpu_ms_per_cycle(&pg_before, &cpu_ticks(Some("postgres")), cycles),
    );
    println!(
        "  {cycles} cycles in {secs:.1}s: {:.1} cycles/s ({:.0} requests/s)",
        cycles as f64 / secs,
        cycles as f64 * 5.0 / secs
    );
    // What a cycle costs in CPU, whatever the waits: the figure that bounds cycles/s on this
    // machine (cores × 1000 ms / CPU ms per cycle). PostgreSQL is counted, every database of the
    // server, only when it runs on this machine.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if pg_before.is_empty() || own + pg <= 0.0 {
        println!(
            "  CPU per cycle: {own:.1} ms in this process (server and clients); PostgreSQL is not on this machine"
        );
    } else {
        println!(
            "  CPU per cycle: {own:.1} ms in this process (server and clients), {pg:.1} ms in PostgreSQL; \
             {cores} cores bound the rate at {:.0} cycles/s",
            cores as f64 * 1000.0 / (own + pg)
        );
    }
    for (name, h) in STEPS.iter().zip(all.iter()) {
        println!("  {name:<16} p50 {:>7.1} ms   p99 {:>7.1} ms", ms(h, 0.5), ms(h, 0.99));
    }
    let tb: Value = c
        .get(format!("{base}/api/v1/reports/trial-balance?as_of=2026-03-31"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!("  trial balance balanced: {}", tb["totals"]["balanced"]);
    let tenant = meridian::domain::ids::TenantId(tenant.parse().unwrap());
    let tx = state.store.begin(tenant, meridian::store::Access::Read).await.unwrap();
    let mut violations = meridian::store::ledger::invariant_violations(&tx).await.unwrap();
    violations.extend(meridian::app::receivables::control_violations(&tx).await.unwrap());
    tx.commit().await.unwrap();
    println!("  ledger invariants (numbering, balances, sub-ledgers): {} violations", violations.len());
    assert!(violations.is_empty(), "{violations:?}");
}
