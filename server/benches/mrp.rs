//! MRP benchmark. A generated catalogue of 100,000 items in seven levels (bills six levels
//! deep: 10,000 finished goods, sub-assemblies down to 5,000 bought materials, three components
//! a bill), half the items holding some stock, sub-assemblies and materials planned in 14-day
//! periods, and 50,000 open sales order lines over 60 days.
//!
//! 1. The computation alone (`domain::mrp::plan` on the catalogue in memory): median and p99.
//! 2. A full run through the API on PostgreSQL (`MERIDIAN_BENCH_DATABASE_URL`, in a scratch
//!    database dropped at the end): `POST /api/v1/mrp-runs` loads, nets and writes the
//!    suggestions; median and p99 of the wall time, with the run's own load/compute/write split.
//! 3. The process's peak resident memory (VmHWM) after the API runs: the server runs in this
//!    process, so that is the server's peak with the catalogue loaded.
//!
//! `cargo bench -p meridian-server --bench mrp` (env: BENCH_RUNS, default 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use meridian::domain::bom::{Bill, IssueMethod, Line};
use meridian::domain::mrp::{self, Demand, LotPolicy, LotSizing, Peg, PegKind, PlanItem, Replenish};
use meridian::store::Access;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

const ITEMS: u64 = 100_000;
const DEMANDS: u64 = 50_000;
/// First item number of each level (1-based), and one past the last.
const LEVELS: [u64; 8] = [1, 10_001, 30_001, 50_001, 70_001, 85_001, 95_001, 100_001];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn level_of(g: u64) -> usize {
    LEVELS.iter().rposition(|lo| g >= *lo).unwrap()
}

/// Item `g`'s j-th component (j = 1..3), in the level below.
fn component(g: u64, j: u64) -> u64 {
    let l = level_of(g);
    let (lo, hi) = (LEVELS[l + 1], LEVELS[l + 2]);
    lo + (g * 7 + j * 13) % (hi - lo)
}

fn item_id(g: u64) -> Uuid {
    Uuid::from_u128(u128::from(g))
}

fn stock_of(g: u64) -> u64 {
    if g.is_multiple_of(2) { 20 } else { 0 }
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn main() {
    let runs = env_u64("BENCH_RUNS", 5) as usize;
    let today = chrono::Utc::now().date_naive();
    let url = std::env::var("MERIDIAN_BENCH_DATABASE_URL").ok();
    match &url {
        Some(url) => {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(common::with_scratch_database(url, async |scratch| through_the_api(scratch, runs).await));
            println!(
                "peak resident memory of the process (server in-process) after the API runs: {:.0} MiB",
                peak_rss_mib()
            );
        }
        None => {
            println!("mrp: set MERIDIAN_BENCH_DATABASE_URL to a PostgreSQL server for the full run through the API")
        }
    }
    compute_only(today, runs.max(5));
}

/// The catalogue in memory, as `app::mrp::run` would hand it to the netting.
fn compute_only(today: NaiveDate, runs: usize) {
    let mut items = HashMap::with_capacity(ITEMS as usize);
    let mut bills = HashMap::new();
    for g in 1..=ITEMS {
        let made = g < LEVELS[6];
        items.insert(
            item_id(g),
            PlanItem {
                id: item_id(g),
                sku: format!("I{g:06}"),
                on_hand: Decimal::from(stock_of(g)),
                safety_stock: Decimal::ZERO,
                lead_time_days: 2,
                lot: LotSizing {
                    policy: if g < LEVELS[1] { LotPolicy::LotForLot } else { LotPolicy::FixedPeriod { days: 14 } },
                    minimum: Decimal::ZERO,
                    multiple: Decimal::ZERO,
                },
                replenish: if made { Replenish::Make } else { Replenish::Buy { has_supplier: true } },
            },
        );
        if made {
            let lines = (1..=3)
                .map(|j| Line {
                    component: item_id(component(g, j)),
                    quantity: Decimal::from(j),
                    scrap: Decimal::ZERO,
                    issue: IssueMethod::Kit,
                    phantom: false,
                    byproduct: false,
                })
                .collect();
            bills.insert(
                item_id(g),
                Bill { id: Uuid::from_u128(u128::from(g) << 64), item: item_id(g), output: Decimal::ONE, lines },
            );
        }
    }
    let demands: Vec<Demand> = (0..DEMANDS)
        .map(|n| Demand {
            item: item_id(1 + (n * 7919) % (LEVELS[1] - 1)),
            date: today + Days::new(1 + n % 60),
            quantity: Decimal::from(1 + n % 5),
            peg: Peg {
                kind: PegKind::SalesOrder,
                id: Uuid::from_u128(u128::from(n / 5) + (1 << 100)),
                line: Some((n % 5) as i32 + 1),
                number: format!("SO-{:06}", n / 5),
            },
        })
        .collect();
    let mut times = Vec::new();
    let mut planned = 0;
    for _ in 0..runs {
        let input = mrp::Input {
            today,
            items: &items,
            bills: &bills,
            demands: demands.clone(),
            supplies: Vec::new(),
            move_tolerance_days: 7,
        };
        let s = Instant::now();
        let plan = mrp::plan(input);
        times.push(s.elapsed().as_secs_f64() * 1000.0);
        planned = plan.planned.len();
    }
    let (p50, p99) = quantiles(times);
    println!(
        "MRP computation alone: {ITEMS} items, bills 6 levels deep, {DEMANDS} demand lines -> {planned} planned orders: median {p50:.0} ms, p99 {p99:.0} ms ({runs} runs)"
    );
}

async fn through_the_api(url: String, runs: usize) {
    let owner_url = url.clone();
    let b = common::start(url, "MRP Bench").await;
    let (state, tenant) = (&b.state, b.tenant);
    let post = |path: &'static str, body: Value| b.post(path, body);
    let wh = post("/api/v1/warehouses", json!({"code": "WH", "name": "Bench warehouse"})).await;
    let wh = wh["id"].as_str().unwrap().to_owned();
    let customer = post("/api/v1/customers", json!({"code": "C1", "name": "Bench customer"})).await;
    let customer = customer["id"].as_str().unwrap().to_owned();
    let supplier = post("/api/v1/suppliers", json!({"code": "S1", "name": "Bench supplier"})).await;
    let supplier = supplier["id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let t = tenant.0;
    let [l1, l6, end] = [LEVELS[1], LEVELS[6], LEVELS[7]];
    // The components of item g, as SQL over the level table.
    let tx = state.store.begin(tenant, Access::Write).await.unwrap();
    tx.run_fixture_sql(&format!(
        "CREATE TEMP TABLE bench_levels (lvl int, lo bigint, hi bigint) ON COMMIT DROP;
         INSERT INTO bench_levels VALUES (0, 1, 10001), (1, 10001, 30001), (2, 30001, 50001), (3, 50001, 70001),
             (4, 70001, 85001), (5, 85001, 95001), (6, 95001, 100001);
         INSERT INTO items (tenant_id, id, sku, name, item_type, category, base_unit, batch_tracked, safety_stock,
             reorder_point, reorder_quantity, standard_cost, valuation_method, is_active, default_warehouse_id,
             created_at, updated_at, version)
         SELECT '{t}', lpad(to_hex(g), 32, '0')::uuid, 'I' || lpad(g::text, 6, '0'), 'Item ' || g,
             CASE WHEN g < {l6} THEN 'manufactured' ELSE 'purchased' END, 'bench', 'pcs', false,
             0, 0, 0, 50000, 'moving_average', true, '{wh}', now(), now(), 1
         FROM generate_series(1, {ITEMS}) g;
         INSERT INTO stock_levels (tenant_id, item_id, warehouse_id, quantity, value, reserved, last_unit_cost, last_date)
         SELECT '{t}', lpad(to_hex(g), 32, '0')::uuid, '{wh}', 200000, 1000000, 0, 50000, '2026-01-01'
         FROM generate_series(2, {ITEMS}, 2) g;
         INSERT INTO item_planning (tenant_id, item_id, lead_time_days, lot_policy, lot_period_days, lot_minimum, lot_multiple, updated_at, version)
         SELECT '{t}', lpad(to_hex(g), 32, '0')::uuid, 2, CASE WHEN g < {l1} THEN 'lot_for_lot' ELSE 'fixed_period' END,
             CASE WHEN g < {l1} THEN 0 ELSE 14 END, 0, 0, now(), 1
         FROM generate_series(1, {ITEMS}) g;
         INSERT INTO boms (tenant_id, id, item_id, revision, status, output_quantity, memo, created_at, updated_at, version)
         SELECT '{t}', ('00000000000000020000' || lpad(to_hex(g), 12, '0'))::uuid, lpad(to_hex(g), 32, '0')::uuid,
             'A', 'active', 10000, '', now(), now(), 1
         FROM generate_series(1, {l6} - 1) g;
         INSERT INTO bom_lines (tenant_id, bom_id, line_no, component_id, quantity, scrap, issue_method, phantom, byproduct)
         SELECT '{t}', ('00000000000000020000' || lpad(to_hex(g), 12, '0'))::uuid, j,
             lpad(to_hex(n.lo + (g * 7 + j * 13) % (n.hi - n.lo)), 32, '0')::uuid, 10000 * j, 0, 'kit', false, false
         FROM generate_series(1, {l6} - 1) g CROSS JOIN generate_series(1, 3) j
         JOIN bench_levels l ON g >= l.lo AND g < l.hi JOIN bench_levels n ON n.lvl = l.lvl + 1;
         INSERT INTO trade_orders (tenant_id, id, side, kind, number, party_id, status, order_date, expected_date, currency,
             exchange_rate, tax_inclusive, net_total, tax_total, gross_total, gross_base, memo, created_at, updated_at, version)
         SELECT '{t}', ('00000000000000030000' || lpad(to_hex(o), 12, '0'))::uuid, 'sales', 'order', 'SO-' || lpad(o::text, 6, '0'),
             '{customer}', 'confirmed', to_char(current_date, 'YYYY-MM-DD'), NULL, 'CNY', 1000000, false, 0, 0, 0, 0, '', now(), now(), 1
         FROM generate_series(0, {DEMANDS} / 5 - 1) o;
         INSERT INTO trade_order_lines (tenant_id, order_id, line_no, item_id, description, warehouse_id, quantity, unit_price,
             net, tax, gross, price_rule, expected_date)
         SELECT '{t}', ('00000000000000030000' || lpad(to_hex(n / 5), 12, '0'))::uuid, (n % 5) + 1,
             lpad(to_hex(1 + (n * 7919) % ({l1} - 1)), 32, '0')::uuid, '', '{wh}', 10000 * (1 + n % 5), 0, 0, 0, 0, '',
             to_char(current_date + (1 + n % 60)::int, 'YYYY-MM-DD')
         FROM generate_series(0, {DEMANDS} - 1) n;"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Price lists hold at most 2,000 entries: the materials go on three.
    let materials: Vec<u64> = (l6..end).collect();
    for (n, chunk) in materials.chunks(2000).enumerate() {
        let offers: Vec<Value> =
            chunk.iter().map(|g| json!({"item_id": item_id(*g), "unit_price": "5.00", "lead_time_days": 3})).collect();
        post(
            "/api/v1/price-lists",
            json!({"side": "purchase", "code": format!("PL-S1-{n}"), "name": "S1", "party_id": supplier, "items": offers}),
        )
        .await;
    }
    {
        use sea_orm::ConnectionTrait;
        let owner = sea_orm::Database::connect(&owner_url).await.unwrap();
        owner
            .execute_unprepared(
                "VACUUM ANALYZE items, stock_levels, item_planning, boms, bom_lines, trade_orders, trade_order_lines",
            )
            .await
            .unwrap();
    }
    println!(
        "seeded {ITEMS} items, {} bills, {DEMANDS} sales order lines in {:.1}s",
        l6 - 1,
        started.elapsed().as_secs_f64()
    );

    let mut walls = Vec::new();
    let mut last = Value::Null;
    for _ in 0..runs {
        let s = Instant::now();
        last = post("/api/v1/mrp-runs", json!({})).await;
        walls.push(s.elapsed().as_secs_f64() * 1000.0);
        let f = &last["figures"];
        println!(
            "  run {}: {:.0} ms wall; load {} ms, compute {} ms, write {} ms; {} suggestions, {} exceptions, {} superseded",
            last["number"].as_str().unwrap_or_default(),
            walls.last().unwrap(),
            f["load_ms"],
            f["compute_ms"],
            f["write_ms"],
            f["suggestions"],
            f["exceptions"],
            f["superseded"]
        );
    }
    let (p50, p99) = quantiles(walls);
    println!(
        "MRP full run through the API on PostgreSQL ({} demands, {} suggestions written): median {p50:.0} ms, p99 {p99:.0} ms ({runs} runs)",
        last["figures"]["demands"], last["figures"]["suggestions"]
    );
}
