//! Random sequences of ledger operations (manual entries, reversals, period closing, sales and
//! supplier invoices in two currencies, receipts and payments at other rates, cancellations,
//! write-offs) against a model of what the balances must be. After every step: the trial
//! balance balances and equals the model, each posted entry balances, the per-period balances
//! equal a recomputation from the lines, AR and AP open items equal their control accounts, and
//! the balance sheet balances.

use std::collections::{BTreeMap, HashSet};

use meridian::domain::ids::TenantId;
use meridian::store::Access;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

const STEPS: usize = 90;

#[tokio::test]
async fn random_postings_reversals_and_closings_keep_the_books_consistent() {
    for backend in backends() {
        for seed in [5u64, 42] {
            run(backend, seed).await;
        }
    }
}

async fn run(backend: Backend, seed: u64) {
    let app = spawn_app(backend).await;
    let t = app.signup(&format!("Prop {seed}")).await;
    let tenant = TenantId(t.id.parse().unwrap());
    let accounts = app.get("/api/v1/accounts?is_postable=true&limit=200", &t.token).await;
    let code_of: BTreeMap<String, String> = accounts.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a["code"].as_str().unwrap().to_owned()))
        .collect();
    let parties = setup_parties(&app, &t).await;
    let mut docs: Vec<Doc> = Vec::new();
    let mut settled = 0;
    let leaves: Vec<(String, String)> = accounts.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a["code"].as_str().unwrap().to_owned()))
        // The receivable and payable control accounts move only through invoices and payments.
        .filter(|(_, code)| !["1122", "220201", "1405", "1402"].contains(&code.as_str()))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    // Model: account code -> net balance in cents (debit positive).
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    let mut posted: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    let mut reversed: HashSet<String> = HashSet::new();
    let mut closed: HashSet<u32> = HashSet::new();
    for step in 0..STEPS {
        let what = rng.gen_range(0..13);
        let context = format!("{backend:?} seed {seed} step {step} op {what}");
        match what {
            0..=5 => {
                let month = rng.gen_range(1..=6u32);
                let date = format!("2026-{month:02}-{:02}", rng.gen_range(1..=28));
                let n = rng.gen_range(2..=5);
                let mut lines = Vec::new();
                let mut signed = Vec::new();
                let mut balance = 0i64;
                for i in 0..n {
                    let (id, code) = &leaves[rng.gen_range(0..leaves.len())];
                    let cents = if i + 1 == n { -balance } else { rng.gen_range(-500_000..500_000i64) };
                    if cents == 0 {
                        continue;
                    }
                    balance += cents;
                    let amount = format!("{}.{:02}", cents.abs() / 100, cents.abs() % 100);
                    lines.push(if cents > 0 {
                        json!({"account_id": id, "debit": amount})
                    } else {
                        json!({"account_id": id, "credit": amount})
                    });
                    signed.push((code.clone(), cents));
                }
                let body = json!({"entry_date": date, "memo": context, "lines": lines});
                let draft = app.post("/api/v1/journal-entries", &t.token, body).await;
                if lines.len() < 2 {
                    assert_eq!(draft.status, StatusCode::UNPROCESSABLE_ENTITY, "{context}");
                    continue;
                }
                assert_eq!(draft.status, StatusCode::CREATED, "{context}: {:?}", draft.body);
                let id = draft.body["id"].as_str().unwrap().to_owned();
                let post = app
                    .call(Method::POST, &format!("/api/v1/journal-entries/{id}/post"), Some(&t.token), None, &[])
                    .await;
                if closed.contains(&month) {
                    assert_eq!(post.problem(), "period-closed", "{context}");
                    let del = app
                        .call(Method::DELETE, &format!("/api/v1/journal-entries/{id}"), Some(&t.token), None, &[])
                        .await;
                    assert_eq!(del.status, StatusCode::NO_CONTENT, "{context}");
                } else {
                    assert_eq!(post.status, StatusCode::OK, "{context}: {:?}", post.body);
                    for (code, cents) in &signed {
                        *model.entry(code.clone()).or_default() += cents;
                    }
                    posted.push((id, signed));
                }
            }
            6 | 7 if !posted.is_empty() => {
                let (id, signed) = posted[rng.gen_range(0..posted.len())].clone();
                let r = app
                    .post(
                        &format!("/api/v1/journal-entries/{id}/reverse"),
                        &t.token,
                        json!({"entry_date": "2026-06-28"}),
                    )
                    .await;
                if reversed.contains(&id) {
                    assert_eq!(r.status, StatusCode::CONFLICT, "{context}");
                } else if closed.contains(&6) {
                    assert_eq!(r.problem(), "period-closed", "{context}");
                } else {
                    assert_eq!(r.status, StatusCode::CREATED, "{context}: {:?}", r.body);
                    reversed.insert(id);
                    for (code, cents) in signed {
                        *model.entry(code).or_default() -= cents;
                    }
                }
            }
            10 => {
                // An invoice or credit note, sales or supplier, in CNY or USD.
                let (party, side, currency) = parties[rng.gen_range(0..parties.len())].clone();
                let month = rng.gen_range(1..=6u32);
                let date = format!("2026-{month:02}-{:02}", rng.gen_range(1..=28));
                let cents = rng.gen_range(1..2_000_000i64);
                let price = format!("{}.{:02}", cents / 100, cents % 100);
                let path = if side == "receivable" { "sales-invoices" } else { "supplier-invoices" };
                let mut body = json!({"party_id": party, "invoice_date": date, "lines": [
                    {"quantity": format!("{}", rng.gen_range(1..5)), "unit_price": price, "tax_code_id": parties_vat(&app, &t).await}
                ]});
                if side == "payable" {
                    body["lines"][0]["account_id"] = json!(leaf(&code_of, "5602"));
                }
                if currency == "USD" {
                    body["exchange_rate"] = json!(format!("7.{:04}", rng.gen_range(0..10_000)));
                }
                let credit_of =
                    docs.iter().find(|d| d.party == party && !d.is_credit_note && d.open && rng.gen_bool(0.3));
                if let Some(d) = credit_of {
                    body["is_credit_note"] = json!(true);
                    body["credit_note_of"] = json!(d.id);
                }
                let draft = app.post(&format!("/api/v1/{path}"), &t.token, body).await;
                assert_eq!(draft.status, StatusCode::CREATED, "{context}: {:?}", draft.body);
                let id = draft.body["id"].as_str().unwrap().to_owned();
                let post =
                    app.call(Method::POST, &format!("/api/v1/{path}/{id}/post"), Some(&t.token), None, &[]).await;
                if closed.contains(&month) {
                    assert_eq!(post.problem(), "period-closed", "{context}");
                } else {
                    assert_eq!(post.status, StatusCode::OK, "{context}: {:?}", post.body);
                    apply_entry(&app, &t, &code_of, &mut model, &post.body["journal_entry_id"]).await;
                    for a in post.body["allocations"].as_array().unwrap() {
                        apply_entry(&app, &t, &code_of, &mut model, &a["journal_entry_id"]).await;
                    }
                    docs.push(Doc {
                        id,
                        path,
                        party,
                        month,
                        is_credit_note: post.body["is_credit_note"] == true,
                        open: post.body["open_amount"] != "0.00",
                    });
                }
            }
            11 if !docs.is_empty() => {
                // A receipt or payment for part, all or more than an invoice, at its own rate.
                let d = docs[rng.gen_range(0..docs.len())].clone();
                let (_, side, currency) = parties.iter().find(|p| p.0 == d.party).unwrap().clone();
                let path = if side == "receivable" { "receipts" } else { "payments" };
                let inv = app.get(&format!("/api/v1/{}/{}", d.path, d.id), &t.token).await;
                let open = cents_of(inv.body["open_amount"].as_str().unwrap());
                let month = rng.gen_range(d.month..=6);
                let date = format!("2026-{month:02}-28");
                let pay = rng.gen_range(1..=open.max(1) + 5_000);
                let allocate = if d.is_credit_note || open == 0 { 0 } else { pay.min(open) };
                let mut body = json!({"party_id": d.party, "payment_date": date, "amount": money(pay)});
                if allocate > 0 {
                    body["allocations"] = json!([{"invoice_id": d.id, "amount": money(allocate)}]);
                }
                if currency == "USD" {
                    body["exchange_rate"] = json!(format!("7.{:04}", rng.gen_range(0..10_000)));
                }
                let r = app.post(&format!("/api/v1/{path}"), &t.token, body).await;
                if closed.contains(&month) {
                    assert_eq!(r.problem(), "period-closed", "{context}");
                } else {
                    assert_eq!(r.status, StatusCode::CREATED, "{context}: {:?}", r.body);
                    settled += 1;
                    apply_entry(&app, &t, &code_of, &mut model, &r.body["journal_entry_id"]).await;
                    for a in r.body["allocations"].as_array().unwrap() {
                        apply_entry(&app, &t, &code_of, &mut model, &a["journal_entry_id"]).await;
                    }
                }
            }
            12 if !docs.is_empty() => {
                // Cancel an untouched document, or write off what is left of an invoice.
                let d = docs[rng.gen_range(0..docs.len())].clone();
                let inv = app.get(&format!("/api/v1/{}/{}", d.path, d.id), &t.token).await;
                let untouched = inv.body["open_amount"] == inv.body["gross_total"] && inv.body["status"] == "posted";
                if untouched && rng.gen_bool(0.5) {
                    let r = app.post(&format!("/api/v1/{}/{}/cancel", d.path, d.id), &t.token, json!({})).await;
                    if closed.contains(&d.month) {
                        assert_eq!(r.problem(), "period-closed", "{context}");
                    } else {
                        assert_eq!(r.status, StatusCode::OK, "{context}: {:?}", r.body);
                        let original = r.body["journal_entry_id"].as_str().unwrap();
                        let e = app.get(&format!("/api/v1/journal-entries/{original}"), &t.token).await;
                        apply_entry(&app, &t, &code_of, &mut model, &e.body["reversed_by"]).await;
                        // A cancelled invoice takes no credit notes.
                        if let Some(x) = docs.iter_mut().find(|x| x.id == d.id) {
                            x.open = false;
                        }
                    }
                } else if inv.body["status"] == "posted" && !d.is_credit_note && inv.body["open_amount"] != "0.00" {
                    let r = app
                        .post(
                            &format!("/api/v1/{}/{}/write-off", d.path, d.id),
                            &t.token,
                            json!({"date": "2026-06-28"}),
                        )
                        .await;
                    if closed.contains(&6) {
                        assert_eq!(r.problem(), "period-closed", "{context}");
                    } else {
                        assert_eq!(r.status, StatusCode::CREATED, "{context}: {:?}", r.body);
                        apply_entry(&app, &t, &code_of, &mut model, &r.body["journal_entry_id"]).await;
                    }
                }
            }
            _ => {
                let month = rng.gen_range(1..=6u32);
                let action = if closed.contains(&month) { "reopen" } else { "close" };
                let r = app
                    .call(
                        Method::POST,
                        &format!("/api/v1/fiscal-periods/2026{month:02}/{action}"),
                        Some(&t.token),
                        None,
                        &[],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{context}: {:?}", r.body);
                if action == "close" {
                    closed.insert(month)
                } else {
                    closed.remove(&month)
                };
            }
        }
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &t.token).await;
        assert_eq!(tb.body["totals"]["balanced"], true, "{context}");
        for (code, cents) in &model {
            let line = tb.body["lines"].as_array().unwrap().iter().find(|l| l["code"] == *code);
            let shown = line.map(|l| {
                let d = cents_of(l["closing_debit"].as_str().unwrap());
                d - cents_of(l["closing_credit"].as_str().unwrap())
            });
            assert_eq!(shown.unwrap_or(0), *cents, "{context}: account {code}");
        }
        let tx = app.state.store.begin(tenant, Access::Read).await.unwrap();
        let mut violations = meridian::store::ledger::invariant_violations(&tx).await.unwrap();
        violations.extend(meridian::app::receivables::control_violations(&tx).await.unwrap());
        tx.commit().await.unwrap();
        assert!(violations.is_empty(), "{context}: {violations:?}");
        let bs = app.get("/api/v1/reports/balance-sheet?as_of=2026-12-31", &t.token).await;
        assert_eq!(bs.body["balanced"], true, "{context}: {:?}", bs.body);
    }
    assert!(
        docs.len() >= 3 && settled >= 2,
        "seed {seed} exercised too little: {} documents, {settled} payments",
        docs.len()
    );
}

#[derive(Clone)]
struct Doc {
    id: String,
    path: &'static str,
    party: String,
    month: u32,
    is_credit_note: bool,
    open: bool,
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn leaf(code_of: &BTreeMap<String, String>, code: &str) -> String {
    code_of.iter().find(|(_, c)| *c == code).unwrap().0.clone()
}

async fn parties_vat(app: &TestApp, t: &Tenant) -> String {
    let codes = app.get("/api/v1/tax-codes", &t.token).await;
    codes.body.as_array().unwrap().iter().find(|c| c["code"] == "VAT13").unwrap()["id"].as_str().unwrap().to_owned()
}

/// (party id, side, currency): a CNY and a USD customer, a CNY and a USD supplier.
async fn setup_parties(app: &TestApp, t: &Tenant) -> Vec<(String, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (path, side, code, currency) in [
        ("customers", "receivable", "C1", "CNY"),
        ("customers", "receivable", "C2", "USD"),
        ("suppliers", "payable", "S1", "CNY"),
        ("suppliers", "payable", "S2", "USD"),
    ] {
        let mut body = json!({"code": code, "name": format!("Party {code}")});
        if currency != "CNY" {
            body["currency"] = json!(currency);
        }
        let p = app.post(&format!("/api/v1/{path}"), &t.token, body).await;
        assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
        out.push((p.body["id"].as_str().unwrap().to_owned(), side, currency));
    }
    out
}

/// Adds a posted entry's lines to the model (no-op for a null id).
async fn apply_entry(
    app: &TestApp,
    t: &Tenant,
    code_of: &BTreeMap<String, String>,
    model: &mut BTreeMap<String, i64>,
    id: &serde_json::Value,
) {
    let Some(id) = id.as_str() else { return };
    let e = app.get(&format!("/api/v1/journal-entries/{id}"), &t.token).await;
    assert_eq!(e.body["status"].as_str().map(|s| s != "draft"), Some(true), "{:?}", e.body);
    for l in e.body["lines"].as_array().unwrap() {
        let code = code_of[l["account_id"].as_str().unwrap()].clone();
        *model.entry(code).or_default() +=
            cents_of(l["debit"].as_str().unwrap()) - cents_of(l["credit"].as_str().unwrap());
    }
}

fn cents_of(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}
