//! Ledger benchmark on PostgreSQL (`MERIDIAN_BENCH_DATABASE_URL`, e.g.
//! postgres://postgres@127.0.0.1:5432/postgres):
//! 1. the trial balance and the balance sheet over 1,000,000 journal lines in 2,000 accounts
//!    (seeded in bulk by SQL), median and p90 of repeated runs, for whole-month and mid-month
//!    dates;
//! 2. posting throughput of 10-line entries through the HTTP API (create the draft, post it)
//!    with several clients at once: entries/s and p50/p99 of the pair.
//!
//! `cargo bench -p meridian-server --bench ledger_reports` (env: BENCH_LINES, BENCH_ACCOUNTS,
//! BENCH_RUNS, BENCH_SECONDS, BENCH_CLIENTS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hdrhistogram::Histogram;
use meridian::clock::SystemClock;
use meridian::config::Config;
use meridian::domain::ids::TenantId;
use meridian::domain::ledger::AccountType;
use meridian::startup::Application;
use meridian::store::Access;
use meridian::store::ledger::Account;
use serde_json::{Value, json};

const OPERATOR: &str = "bench-operator";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn quantiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[(v.len() * 9) / 10])
}

fn main() {
    let Some(url) = std::env::var("MERIDIAN_BENCH_DATABASE_URL").ok() else {
        println!(
            "ledger_reports: set MERIDIAN_BENCH_DATABASE_URL to a PostgreSQL server; the target is measured there"
        );
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        use sea_orm::ConnectionTrait;
        // A scratch database, dropped at the end: a million lines do not stay behind.
        let name = format!("meridian_bench_{}", std::process::id());
        let admin = sea_orm::Database::connect(&url).await.unwrap();
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        let mut scratch = url::Url::parse(&url).unwrap();
        scratch.set_path(&format!("/{name}"));
        bench(scratch.to_string()).await;
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    });
}

async fn bench(url: String) {
    {
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
        let slug = format!("ledger-bench-{}", uuid::Uuid::now_v7().simple());
        let s: Value = c
            .post(format!("{base}/api/v1/signup"))
            .json(&json!({"company_name": "Ledger Bench", "slug": slug, "admin_email": "owner@ledger-bench.test",
                          "admin_password": "benchmark-password", "accounting_template": "cn_small_business", "base_currency": "CNY"}))
            .send().await.unwrap().json().await.unwrap();
        let tenant = TenantId(s["tenant_id"].as_str().unwrap().parse().unwrap());
        let token = s["access_token"].as_str().unwrap().to_owned();
        c.post(format!("{base}/operator/v1/tenants/{tenant}/plan", tenant = tenant.0))
            .bearer_auth(OPERATOR)
            .json(&json!({"plan": "enterprise"}))
            .send()
            .await
            .unwrap();

        // 2,000 accounts: sub-accounts under the template's leaves of every type.
        let n_accounts = env_u64("BENCH_ACCOUNTS", 2_000) as usize;
        let n_lines = env_u64("BENCH_LINES", 1_000_000);
        let started = Instant::now();
        let tx = state.store.begin(tenant, Access::Write).await.unwrap();
        let now = chrono::Utc::now();
        let kinds = [
            AccountType::Asset,
            AccountType::Liability,
            AccountType::Equity,
            AccountType::Revenue,
            AccountType::Expense,
        ];
        let accounts: Vec<Account> = (0..n_accounts)
            .map(|i| Account {
                id: uuid::Uuid::now_v7(),
                code: format!("9{i:05}"),
                name: format!("Bench account {i}"),
                name_en: None,
                parent_id: None,
                account_type: kinds[i % kinds.len()],
                is_postable: true,
                is_active: true,
                created_at: now,
                updated_at: now,
                version: 1,
            })
            .collect();
        meridian::store::ledger::insert_accounts(&tx, &accounts).await.unwrap();
        let entries = n_lines / 10;
        let t = tenant.0;
        // Entries spread over 2026, ten lines each: five debits, five credits of 100.00.
        let sql = format!(
            "INSERT INTO journal_entries (tenant_id, id, number, entry_date, period_id, status, memo, currency, exchange_rate,
                 total_debit, source_type, created_at, updated_at, version)
             SELECT '{t}', md5('e' || g)::uuid, 'B-' || g, to_char(d, 'YYYY-MM-DD'), to_char(d, 'YYYYMM')::int, 'posted',
                 'bench', 'CNY', 1000000, 5000000, 'manual', now(), now(), 1
             FROM (SELECT g, date '2026-01-01' + (g % 365) AS d FROM generate_series(1, {entries}) g) s;
             INSERT INTO journal_lines (tenant_id, entry_id, line_no, account_id, entry_date, posted, debit, credit,
                 debit_fx, credit_fx, memo)
             SELECT '{t}', md5('e' || g)::uuid, l, (ARRAY[{ids}]::uuid[])[1 + ((g * 7 + l * 13) % {n_accounts})],
                 to_char(date '2026-01-01' + (g % 365), 'YYYY-MM-DD'), true,
                 CASE WHEN l <= 5 THEN 1000000 ELSE 0 END, CASE WHEN l > 5 THEN 1000000 ELSE 0 END,
                 CASE WHEN l <= 5 THEN 1000000 ELSE 0 END, CASE WHEN l > 5 THEN 1000000 ELSE 0 END, ''
             FROM generate_series(1, {entries}) g, generate_series(1, 10) l;
             INSERT INTO account_period_balances (tenant_id, account_id, period_id, debit, credit)
             SELECT '{t}', account_id, (substr(entry_date, 1, 4) || substr(entry_date, 6, 2))::int, sum(debit), sum(credit)
             FROM journal_lines WHERE tenant_id = '{t}' GROUP BY 2, 3;",
            ids = accounts.iter().map(|a| format!("'{}'", a.id)).collect::<Vec<_>>().join(","),
        );
        tx.run_fixture_sql(&sql).await.unwrap();
        tx.commit().await.unwrap();
        // What autovacuum does in a running system: statistics and the visibility map that lets
        // the covering index answer without visiting the table.
        {
            use sea_orm::ConnectionTrait;
            let owner = sea_orm::Database::connect(&owner_url).await.unwrap();
            owner.execute_unprepared("VACUUM ANALYZE journal_lines, account_period_balances, accounts").await.unwrap();
        }
        println!(
            "seeded {n_lines} lines in {entries} entries over {n_accounts} accounts in {:.1}s",
            started.elapsed().as_secs_f64()
        );

        let runs = env_u64("BENCH_RUNS", 30);
        for (label, from, to) in [
            ("trial balance, year to 2026-12-31 (whole months)", None, date(2026, 12, 31)),
            ("trial balance, 2026-03-01..2026-03-31", Some(date(2026, 3, 1)), date(2026, 3, 31)),
            ("trial balance, to 2026-06-15 (half a month from lines)", None, date(2026, 6, 15)),
        ] {
            let mut ms = Vec::new();
            for _ in 0..runs {
                let t0 = Instant::now();
                let tb = meridian::app::ledger::trial_balance(&state, tenant, from, to).await.unwrap();
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                assert!(tb.totals.is_balanced());
            }
            let (p50, p90) = quantiles(ms);
            println!("{label}: median {p50:.1} ms, p90 {p90:.1} ms ({runs} runs)");
        }
        for (label, as_of) in
            [("balance sheet at 2026-12-31", date(2026, 12, 31)), ("balance sheet at 2026-06-15", date(2026, 6, 15))]
        {
            let mut ms = Vec::new();
            for _ in 0..runs {
                let t0 = Instant::now();
                let bs = meridian::app::statements::balance_sheet(&state, tenant, as_of).await.unwrap();
                ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                assert!(bs.balanced);
            }
            let (p50, p90) = quantiles(ms);
            println!("{label}: median {p50:.1} ms, p90 {p90:.1} ms ({runs} runs)");
        }

        // Posting throughput through the API.
        let seconds = env_u64("BENCH_SECONDS", 10);
        let clients = env_u64("BENCH_CLIENTS", 8);
        let lines: Vec<Value> = (0..10)
            .map(|i| {
                let a = &accounts[i * 37 % accounts.len()].id;
                if i < 5 {
                    json!({"account_id": a, "debit": "20.00"})
                } else {
                    json!({"account_id": a, "credit": "20.00"})
                }
            })
            .collect();
        let body = json!({"entry_date": "2026-11-20", "memo": "throughput", "lines": lines});
        let client = reqwest::Client::builder().pool_max_idle_per_host(clients as usize).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, base, token, body) = (client.clone(), base.clone(), token.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let s = Instant::now();
                    let d: Value = client
                        .post(format!("{base}/api/v1/journal-entries"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let id = d["id"].as_str().expect("draft created").to_owned();
                    let r = client
                        .post(format!("{base}/api/v1/journal-entries/{id}/post"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    h.record(s.elapsed().as_micros() as u64).unwrap();
                    n += 1;
                }
                (n, h)
            }));
        }
        let mut total = 0;
        let mut hist = Histogram::<u64>::new(3).unwrap();
        for t in tasks {
            let (n, h) = t.await.unwrap();
            total += n;
            hist.add(h).unwrap();
        }
        let elapsed = t0.elapsed().as_secs_f64();
        println!(
            "posting 10-line entries (create + post), {clients} clients, {seconds}s: {:.0} entries/s, p50 {:.1} ms, p99 {:.1} ms",
            total as f64 / elapsed,
            hist.value_at_quantile(0.5) as f64 / 1000.0,
            hist.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
}
