//! CRM reports benchmark on PostgreSQL (`MERIDIAN_BENCH_DATABASE_URL`, in a scratch database
//! dropped at the end), through the HTTP API.
//!
//! Data: 1,000,000 opportunities over 100 customers and 10 owners, created over a year: 60 %
//! still open in one of the four open stages, 20 % won, 20 % lost, each with the stage visits
//! that got it there (2.9 million visits) and the running stage totals that agree with them.
//! One customer also has 10,000 sales orders of three lines each, 10,000 posted invoices, 1,000
//! activities, 200 tickets and 100 surveys.
//!
//! Measured (median and p99 of BENCH_RUNS requests each, default 30):
//! 1. `GET /reports/sales-funnel`: the whole tenant, from the running totals.
//! 2. `GET /reports/sales-funnel?owner_id=`: one owner's 100,000 opportunities, counted.
//! 3. `GET /reports/sales-funnel?from=`: every opportunity counted (a window covering them all).
//! 4. `GET /customers/{id}/360` for the customer with 10,000 orders.
//!
//! `cargo bench -p meridian-server --bench crm`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Instant;

use meridian::store::Access;
use serde_json::json;
const OPPORTUNITIES: u64 = 1_000_000;
const ORDERS: u64 = 10_000;
const CUSTOMERS: usize = 100;
const OWNERS: usize = 10;

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let runs = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30usize);
    let Ok(url) = std::env::var("MERIDIAN_BENCH_DATABASE_URL") else {
        println!("crm: set MERIDIAN_BENCH_DATABASE_URL to a PostgreSQL server");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(common::with_scratch_database(&url, async |scratch| through_the_api(scratch, runs).await));
}

async fn through_the_api(url: String, runs: usize) {
    let owner_url = url.clone();
    let b = common::start(url, "CRM Bench").await;
    let (state, tenant) = (&b.state, b.tenant);
    let post = |path: &'static str, body: serde_json::Value| b.post(path, body);
    let get = async |path: String| b.get(&path).await;

    let roles = get("/api/v1/roles?limit=200".into()).await;
    let sales = roles["data"].as_array().unwrap().iter().find(|r| r["name"] == "sales").unwrap()["id"].clone();
    let mut owners = Vec::new();
    for n in 0..OWNERS {
        let u = post(
            "/api/v1/users",
            json!({"email": format!("rep{n}@crm-bench.test"), "display_name": format!("Rep {n}"),
                   "password": "benchmark-password", "role_ids": [sales]}),
        )
        .await;
        owners.push(u["id"].as_str().unwrap().to_owned());
    }
    let mut customers = Vec::new();
    for n in 0..CUSTOMERS {
        let p = post("/api/v1/customers", json!({"code": format!("C{n:03}"), "name": format!("Customer {n}")})).await;
        customers.push(p["id"].as_str().unwrap().to_owned());
    }
    let wh = post("/api/v1/warehouses", json!({"code": "WH", "name": "Bench warehouse"})).await;
    let wh = wh["id"].as_str().unwrap().to_owned();
    let stages = get("/api/v1/pipeline-stages".into()).await;
    let stage = |code: &str| {
        stages["data"].as_array().unwrap().iter().find(|s| s["code"] == code).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let open: Vec<String> = ["prospecting", "qualification", "proposal", "negotiation"].map(stage).to_vec();
    let (won, lost) = (stage("won"), stage("lost"));
    let big = customers[0].clone();
    let owner_array = format!("ARRAY['{}']::uuid[]", owners.join("','"));
    let customer_array = format!("ARRAY['{}']::uuid[]", customers.join("','"));
    let open_array = format!("ARRAY['{}']::uuid[]", open.join("','"));

    let started = Instant::now();
    let t = tenant.0;
    // Opportunity n: k = n % 10 says where it ended: 0-5 open at stage k % 4, 6-7 won after
    // the four open stages, 8-9 lost after two. Visit i entered 2 days after visit i - 1.
    let tx = state.store.begin(tenant, Access::Write).await.unwrap();
    tx.run_fixture_sql(&format!(
        "CREATE TEMP TABLE bench_opps ON COMMIT DROP AS
         SELECT n, n % 10 AS k,
             CASE WHEN n % 10 < 6 THEN (n % 10) % 4 + 1 WHEN n % 10 < 8 THEN 5 ELSE 3 END AS visits,
             now() - make_interval(days => 30 + (n % 365)::int, secs => (n % 86400)::int) AS created
         FROM generate_series(0, {OPPORTUNITIES} - 1) n;
         INSERT INTO opportunities (tenant_id, id, number, name, customer_id, owner_id, source, stage_id, status, probability,
             currency, expected_amount, expected_base, close_date, reason, memo, stage_entered_at, closed_at, created_at,
             updated_at, version)
         SELECT '{t}', ('00000000000000040000' || lpad(to_hex(n), 12, '0'))::uuid, 'OP-' || lpad(n::text, 7, '0'),
             'Deal ' || n, ({customer_array})[n % {CUSTOMERS} + 1], ({owner_array})[(n / 10) % {OWNERS} + 1],
             (ARRAY['website', 'phone', 'referral', 'trade_show'])[n % 4 + 1],
             CASE WHEN k < 6 THEN ({open_array})[k % 4 + 1] WHEN k < 8 THEN '{won}'::uuid ELSE '{lost}'::uuid END,
             CASE WHEN k < 6 THEN 'open' WHEN k < 8 THEN 'won' ELSE 'lost' END,
             CASE WHEN k < 6 THEN (ARRAY[100000, 250000, 500000, 750000])[k % 4 + 1] WHEN k < 8 THEN 1000000 ELSE 0 END,
             'CNY', 10000 * (1000 + n % 9000), 10000 * (1000 + n % 9000), to_char(created + interval '90 days', 'YYYY-MM-DD'),
             CASE WHEN k >= 8 THEN 'price' END, '', created + make_interval(days => 2 * (visits - 1)),
             CASE WHEN k >= 6 THEN created + make_interval(days => 2 * (visits - 1)) END, created, created, 1
         FROM bench_opps;
         INSERT INTO opportunity_stage_visits (tenant_id, opportunity_id, seq, stage_id, entered_at, left_at)
         SELECT '{t}', ('00000000000000040000' || lpad(to_hex(n), 12, '0'))::uuid, i + 1,
             CASE WHEN i < visits - 1 OR k < 6 THEN ({open_array})[i + 1] WHEN k < 8 THEN '{won}'::uuid ELSE '{lost}'::uuid END,
             created + make_interval(days => 2 * i),
             CASE WHEN i < visits - 1 THEN created + make_interval(days => 2 * (i + 1)) END
         FROM bench_opps CROSS JOIN LATERAL generate_series(0, visits - 1) i;
         INSERT INTO items (tenant_id, id, sku, name, item_type, category, base_unit, batch_tracked, safety_stock,
             reorder_point, reorder_quantity, standard_cost, valuation_method, is_active, default_warehouse_id,
             created_at, updated_at, version)
         SELECT '{t}', ('00000000000000050000' || lpad(to_hex(g), 12, '0'))::uuid, 'I' || lpad(g::text, 4, '0'), 'Item ' || g,
             'purchased', 'bench', 'pcs', false, 0, 0, 0, 50000, 'moving_average', true, '{wh}', now(), now(), 1
         FROM generate_series(1, 200) g;
         INSERT INTO trade_orders (tenant_id, id, side, kind, number, party_id, status, order_date, currency,
             exchange_rate, tax_inclusive, net_total, tax_total, gross_total, gross_base, invoiced_gross, open_base, memo,
             created_at, updated_at, version)
         SELECT '{t}', ('00000000000000060000' || lpad(to_hex(o), 12, '0'))::uuid, 'sales', 'order',
             'SO-' || lpad(o::text, 6, '0'), '{big}', CASE WHEN o % 20 = 0 THEN 'confirmed' ELSE 'closed' END,
             to_char(current_date - (o % 1500)::int, 'YYYY-MM-DD'), 'CNY', 1000000, false, 30000000, 3900000, 33900000,
             33900000, CASE WHEN o % 20 = 0 THEN 0 ELSE 33900000 END, CASE WHEN o % 20 = 0 THEN 33900000 ELSE 0 END, '',
             now(), now(), 1
         FROM generate_series(1, {ORDERS}) o;
         INSERT INTO trade_order_lines (tenant_id, order_id, line_no, item_id, description, warehouse_id, quantity,
             unit_price, net, tax, gross, price_rule)
         SELECT '{t}', ('00000000000000060000' || lpad(to_hex(o), 12, '0'))::uuid, j,
             ('00000000000000050000' || lpad(to_hex(1 + (o * 3 + j * 7) % 200), 12, '0'))::uuid, '', '{wh}', 10000,
             1000000, 10000000, 1300000, 11300000, 'list'
         FROM generate_series(1, {ORDERS}) o CROSS JOIN generate_series(1, 3) j;
         INSERT INTO invoices (tenant_id, id, side, is_credit_note, number, party_id, status, invoice_date, due_date,
             currency, exchange_rate, tax_inclusive, memo, net_total, tax_total, gross_total, gross_base, open_amount,
             open_base, created_at, updated_at, version)
         SELECT '{t}', ('00000000000000070000' || lpad(to_hex(o), 12, '0'))::uuid, 'receivable', false,
             'INV-' || lpad(o::text, 6, '0'), '{big}', 'posted', to_char(current_date - (o % 1500)::int, 'YYYY-MM-DD'),
             to_char(current_date - (o % 1500)::int + 30, 'YYYY-MM-DD'), 'CNY', 1000000, false, '', 30000000, 3900000,
             33900000, 33900000, CASE WHEN o % 50 = 0 THEN 33900000 ELSE 0 END, CASE WHEN o % 50 = 0 THEN 33900000 ELSE 0 END,
             now(), now(), 1
         FROM generate_series(1, {ORDERS}) o WHERE o % 20 <> 0;
         INSERT INTO activities (tenant_id, id, kind, subject, key_points, customer_id, owner_id, occurred_at,
             next_follow_up, follow_up_done, created_at)
         SELECT '{t}', ('00000000000000080000' || lpad(to_hex(a), 12, '0'))::uuid, 'call', 'Call ' || a, 'Talked',
             '{big}', ({owner_array})[a % {OWNERS} + 1], now() - make_interval(hours => a),
             to_char(current_date + (a % 30)::int, 'YYYY-MM-DD'), a > 20, now()
         FROM generate_series(1, 1000) a;
         INSERT INTO tickets (tenant_id, id, number, customer_id, subject, description, priority, status,
             response_due_at, resolution_due_at, first_response_at, resolved_at, closed_at, created_at, updated_at, version)
         SELECT '{t}', ('00000000000000090000' || lpad(to_hex(k), 12, '0'))::uuid, 'TK-' || lpad(k::text, 6, '0'), '{big}',
             'Ticket ' || k, '', 'normal', CASE WHEN k % 10 = 0 THEN 'open' ELSE 'closed' END,
             now() - make_interval(days => k) + interval '8 hours', now() - make_interval(days => k) + interval '2 days',
             now() - make_interval(days => k) + interval '1 hour',
             CASE WHEN k % 10 <> 0 THEN now() - make_interval(days => k) + interval '1 day' END,
             CASE WHEN k % 10 <> 0 THEN now() - make_interval(days => k) + interval '1 day' END,
             now() - make_interval(days => k), now(), 1
         FROM generate_series(1, 200) k;
         INSERT INTO surveys (tenant_id, id, customer_id, ticket_id, score, comment, responded_at)
         SELECT '{t}', ('000000000000000a0000' || lpad(to_hex(k), 12, '0'))::uuid, '{big}',
             ('00000000000000090000' || lpad(to_hex(k), 12, '0'))::uuid, 1 + k % 5, '', now() - make_interval(days => k)
         FROM generate_series(1, 200) k WHERE k % 10 <> 0 AND k <= 111;
         UPDATE pipeline_stage_totals t SET open_count = x.open_count, open_amount = x.open_amount
         FROM (SELECT stage_id, COUNT(*) AS open_count, SUM(expected_base) AS open_amount FROM opportunities
               WHERE status = 'open' GROUP BY stage_id) x WHERE t.stage_id = x.stage_id;
         UPDATE pipeline_stage_totals t SET entered = x.entered, advanced = x.advanced, stays = x.stays,
             stay_seconds = x.stay_seconds
         FROM (SELECT v.stage_id, COUNT(*) AS entered,
                   SUM(CASE WHEN n.stage_id IS NOT NULL AND n.stage_id <> '{lost}' THEN 1 ELSE 0 END) AS advanced,
                   SUM(CASE WHEN n.stage_id IS NOT NULL AND v.left_at IS NOT NULL THEN 1 ELSE 0 END) AS stays,
                   COALESCE(SUM(CASE WHEN n.stage_id IS NOT NULL THEN EXTRACT(EPOCH FROM v.left_at - v.entered_at) END), 0)::bigint
                       AS stay_seconds
               FROM opportunity_stage_visits v LEFT JOIN opportunity_stage_visits n ON n.tenant_id = v.tenant_id
                   AND n.opportunity_id = v.opportunity_id AND n.seq = v.seq + 1
               GROUP BY v.stage_id) x WHERE t.stage_id = x.stage_id;"
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    {
        use sea_orm::ConnectionTrait;
        let owner = sea_orm::Database::connect(&owner_url).await.unwrap();
        owner
            .execute_unprepared(
                "VACUUM ANALYZE opportunities, opportunity_stage_visits, pipeline_stage_totals, trade_orders,
                 trade_order_lines, invoices, activities, tickets, surveys",
            )
            .await
            .unwrap();
    }
    println!(
        "seeded {OPPORTUNITIES} opportunities with their stage visits, and a customer with {ORDERS} orders, in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let measure = async |label: &str, path: String| {
        let first = get(path.clone()).await;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let s = Instant::now();
            get(path.clone()).await;
            times.push(s.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99) = quantiles(times);
        println!("{label}: median {p50:.1} ms, p99 {p99:.1} ms ({runs} requests)");
        first
    };
    let whole = measure("sales funnel, whole tenant (running totals)", "/api/v1/reports/sales-funnel".into()).await;
    println!(
        "  open {} opportunities worth {}; prospecting conversion {}",
        whole["open_count"], whole["open_amount"], whole["stages"][0]["conversion"]
    );
    let one = measure(
        "sales funnel, one owner's 100,000 opportunities (counted)",
        format!("/api/v1/reports/sales-funnel?owner_id={}", owners[0]),
    )
    .await;
    println!("  open {} of that owner", one["open_count"]);
    let all = measure(
        "sales funnel, all 1,000,000 opportunities counted (from= covering them all)",
        "/api/v1/reports/sales-funnel?from=2000-01-01".into(),
    )
    .await;
    assert_eq!(all["stages"], whole["stages"], "counted and running totals agree");
    let c360 = measure("customer 360, 10,000 orders", format!("/api/v1/customers/{big}/360")).await;
    println!(
        "  orders by status {}, lifetime value {}, repurchase rate {}, open tickets {}, satisfaction {}",
        c360["orders_by_status"],
        c360["lifetime_value"],
        c360["repurchase_rate"],
        c360["open_tickets"].as_array().map_or(0, Vec::len),
        c360["satisfaction"]
    );
}
