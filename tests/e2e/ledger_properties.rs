//! Random sequences of ledger operations against a model of what the balances must be. After
//! every step: the trial balance balances and equals the model, each posted entry balances,
//! and the per-period balances equal a recomputation from the lines.

use std::collections::{BTreeMap, HashSet};

use meridian::domain::ids::TenantId;
use meridian::store::Access;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

const STEPS: usize = 40;

#[tokio::test]
async fn random_postings_reversals_and_closings_keep_the_books_consistent() {
    for backend in backends() {
        for seed in [7u64, 42] {
            run(backend, seed).await;
        }
    }
}

async fn run(backend: Backend, seed: u64) {
    let app = spawn_app(backend).await;
    let t = app.signup(&format!("Prop {seed}")).await;
    let tenant = TenantId(t.id.parse().unwrap());
    let accounts = app.get("/api/v1/accounts?is_postable=true&limit=200", &t.token).await;
    let leaves: Vec<(String, String)> = accounts.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a["code"].as_str().unwrap().to_owned()))
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    // Model: account code -> net balance in cents (debit positive).
    let mut model: BTreeMap<String, i64> = BTreeMap::new();
    let mut posted: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    let mut reversed: HashSet<String> = HashSet::new();
    let mut closed: HashSet<u32> = HashSet::new();
    for step in 0..STEPS {
        let what = rng.gen_range(0..10);
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
        let violations = meridian::store::ledger::invariant_violations(&tx).await.unwrap();
        tx.commit().await.unwrap();
        assert!(violations.is_empty(), "{context}: {violations:?}");
    }
}

fn cents_of(s: &str) -> i64 {
    let (whole, frac) = s.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}
