//! The general ledger through the API: posting, numbering, periods, lock date, reversal,
//! the trial balance, and bad entries that write nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

pub async fn account(app: &TestApp, t: &Tenant, code: &str) -> Value {
    let a = app.get(&format!("/api/v1/accounts?q={code}&limit=200"), &t.token).await;
    a.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == code)
        .unwrap_or_else(|| panic!("no account {code}"))
        .clone()
}

pub async fn id_of(app: &TestApp, t: &Tenant, code: &str) -> String {
    account(app, t, code).await["id"].as_str().unwrap().to_owned()
}

pub fn entry(date: &str, lines: &[(&str, &str, &str)]) -> Value {
    json!({
        "entry_date": date,
        "memo": "test entry",
        "lines": lines.iter().map(|(a, d, c)| {
            let mut l = json!({"account_id": a});
            if !d.is_empty() { l["debit"] = json!(d); }
            if !c.is_empty() { l["credit"] = json!(c); }
            l
        }).collect::<Vec<_>>(),
    })
}

/// Creates and posts an entry; returns the posted entry.
pub async fn post_entry(app: &TestApp, token: &str, body: Value) -> Value {
    let draft = app.post("/api/v1/journal-entries", token, body).await;
    assert_eq!(draft.status, StatusCode::CREATED, "{:?}", draft.body);
    let id = draft.body["id"].as_str().unwrap();
    let posted = app.call(Method::POST, &format!("/api/v1/journal-entries/{id}/post"), Some(token), None, &[]).await;
    assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.body);
    posted.body
}

pub fn line<'a>(tb: &'a Value, code: &str) -> Option<&'a Value> {
    tb["lines"].as_array().unwrap().iter().find(|l| l["code"] == code)
}

#[tokio::test]
async fn posted_entries_are_numbered_gaplessly_and_land_in_the_trial_balance() {
    on_each_backend(async |app| {
        let t = app.signup("Books Co").await;
        let (bank, capital, sales) =
            (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await, id_of(&app, &t, "5001").await);
        let first =
            post_entry(&app, &t.token, entry("2026-03-05", &[(&bank, "100000.00", ""), (&capital, "", "100000.00")]))
                .await;
        assert_eq!(first["number"], "记-2026-03-0001");
        assert_eq!(first["status"], "posted");
        assert_eq!(first["total"], "100000.00");
        let second =
            post_entry(&app, &t.token, entry("2026-03-20", &[(&bank, "1130.50", ""), (&sales, "", "1130.50")])).await;
        assert_eq!(second["number"], "记-2026-03-0002");
        let april = post_entry(&app, &t.token, entry("2026-04-01", &[(&bank, "10", ""), (&sales, "", "10")])).await;
        assert_eq!(april["number"], "记-2026-04-0001", "numbering restarts each period");

        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &t.token).await;
        assert_eq!(tb.status, StatusCode::OK, "{:?}", tb.body);
        assert_eq!(line(&tb.body, "1002").unwrap()["closing_debit"], "101140.50");
        assert_eq!(line(&tb.body, "3001").unwrap()["closing_credit"], "100000.00");
        assert_eq!(line(&tb.body, "5001").unwrap()["closing_credit"], "1140.50");
        assert!(line(&tb.body, "1001").is_none(), "untouched accounts are left out");
        assert_eq!(tb.body["totals"]["balanced"], true);
        assert_eq!(tb.body["totals"]["closing_debit"], "101140.50");

        // A window inside March: the 5 March entry is opening, the 20 March one is movement.
        let window = app.get("/api/v1/reports/trial-balance?from=2026-03-10&to=2026-03-31", &t.token).await;
        let bank_line = line(&window.body, "1002").unwrap();
        assert_eq!(bank_line["opening_debit"], "100000.00");
        assert_eq!(bank_line["debit"], "1130.50");
        assert_eq!(bank_line["closing_debit"], "101130.50");
        assert_eq!(window.body["totals"]["balanced"], true);

        let csv = app
            .client
            .get(format!("{}/api/v1/reports/trial-balance?as_of=2026-12-31&format=csv", app.base))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = csv.text().await.unwrap();
        assert!(text.lines().any(|l| l.starts_with("1002,银行存款,Bank deposits,asset,0,")), "{text}");
        assert!(text.lines().last().unwrap().starts_with("TOTAL,"));
    })
    .await;
}

#[tokio::test]
async fn bad_entries_get_a_clear_problem_and_write_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Strict Books").await;
        let (bank, capital, ap_parent) =
            (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await, id_of(&app, &t, "2202").await);
        let audit_before = app.audit_count(&t.token).await;
        let unbalanced = app
            .post(
                "/api/v1/journal-entries",
                &t.token,
                entry("2026-03-05", &[(&bank, "100.00", ""), (&capital, "", "99.99")]),
            )
            .await;
        assert_eq!(unbalanced.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unbalanced.problem(), "unbalanced-entry");
        assert!(unbalanced.body["detail"].as_str().unwrap().contains("0.01"), "{:?}", unbalanced.body);
        let parent = app
            .post(
                "/api/v1/journal-entries",
                &t.token,
                entry("2026-03-05", &[(&ap_parent, "1", ""), (&capital, "", "1")]),
            )
            .await;
        assert_eq!(parent.fields(), ["lines[0].account_id"]);
        let cents = app
            .post(
                "/api/v1/journal-entries",
                &t.token,
                entry("2026-03-05", &[(&bank, "1.005", ""), (&capital, "", "1.005")]),
            )
            .await;
        assert_eq!(cents.fields(), ["lines[0].debit", "lines[1].credit"]);
        let mut number = entry("2026-03-05", &[(&bank, "1", ""), (&capital, "", "1")]);
        number["lines"][0]["debit"] = json!(1);
        let number = app.post("/api/v1/journal-entries", &t.token, number).await;
        assert_eq!(number.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(number.fields(), ["lines[0].debit"]);
        let unknown = uuid::Uuid::now_v7().to_string();
        let missing = app
            .post("/api/v1/journal-entries", &t.token, entry("2026-03-05", &[(&unknown, "1", ""), (&capital, "", "1")]))
            .await;
        assert_eq!(missing.fields(), ["lines[0].account_id"]);
        let negative = app
            .post("/api/v1/journal-entries", &t.token, entry("2026-03-05", &[(&bank, "-1", ""), (&capital, "-1", "")]))
            .await;
        assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY);
        let other_currency = {
            let mut e = entry("2026-03-05", &[(&bank, "1", ""), (&capital, "", "1")]);
            e["currency"] = json!("USD");
            app.post("/api/v1/journal-entries", &t.token, e).await
        };
        assert_eq!(other_currency.fields(), ["exchange_rate"], "no USD rate on file and none given");
        let control = id_of(&app, &t, "1122").await;
        let to_control = app
            .post("/api/v1/journal-entries", &t.token, entry("2026-03-05", &[(&control, "1", ""), (&capital, "", "1")]))
            .await;
        assert_eq!(to_control.fields(), ["lines[0].account_id"], "receivables move only through invoices");
        assert_eq!(app.get("/api/v1/journal-entries", &t.token).await.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(app.audit_count(&t.token).await, audit_before);
    })
    .await;
}

#[tokio::test]
async fn closed_periods_and_the_hard_lock_date_refuse_postings() {
    on_each_backend(async |app| {
        let t = app.signup("Closing Co").await;
        let (bank, capital) = (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await);
        let draft = app
            .post("/api/v1/journal-entries", &t.token, entry("2026-03-05", &[(&bank, "5", ""), (&capital, "", "5")]))
            .await;
        let id = draft.body["id"].as_str().unwrap().to_owned();
        let close = app.call(Method::POST, "/api/v1/fiscal-periods/202603/close", Some(&t.token), None, &[]).await;
        assert_eq!(close.status, StatusCode::OK);
        assert_eq!(close.body["status"], "closed");
        let refused =
            app.call(Method::POST, &format!("/api/v1/journal-entries/{id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.problem(), "period-closed");
        assert_eq!(app.get(&format!("/api/v1/journal-entries/{id}"), &t.token).await.body["status"], "draft");
        let periods = app.get("/api/v1/fiscal-periods?year=2026", &t.token).await;
        assert_eq!(periods.body.as_array().unwrap().len(), 12);
        assert_eq!(periods.body[2]["status"], "closed");

        let (_, accountant) = app.user_with_role(&t, "acc@closing.test", "accountant").await;
        let reopen_denied =
            app.call(Method::POST, "/api/v1/fiscal-periods/202603/reopen", Some(&accountant), None, &[]).await;
        assert_eq!(reopen_denied.status, StatusCode::FORBIDDEN, "reopening is an admin action");
        let reopen = app.call(Method::POST, "/api/v1/fiscal-periods/202603/reopen", Some(&t.token), None, &[]).await;
        assert_eq!(reopen.status, StatusCode::OK);
        assert_eq!(
            app.get("/api/v1/audit-events?action=period.reopen", &t.token).await.body["data"].as_array().unwrap().len(),
            1
        );

        let settings = app.get("/api/v1/finance-settings", &t.token).await;
        let etag = settings.header("etag").unwrap().to_owned();
        let lock =
            app.patch("/api/v1/finance-settings", &t.token, &etag, json!({"hard_lock_date": "2026-03-31"})).await;
        assert_eq!(lock.status, StatusCode::OK, "{:?}", lock.body);
        let locked =
            app.call(Method::POST, &format!("/api/v1/journal-entries/{id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(locked.problem(), "books-locked");
        app.call(Method::POST, "/api/v1/fiscal-periods/202603/close", Some(&t.token), None, &[]).await;
        let never = app.call(Method::POST, "/api/v1/fiscal-periods/202603/reopen", Some(&t.token), None, &[]).await;
        assert_eq!(never.problem(), "books-locked");
        let back = app
            .patch(
                "/api/v1/finance-settings",
                &t.token,
                lock.header("etag").unwrap(),
                json!({"hard_lock_date": "2026-02-28"}),
            )
            .await;
        assert_eq!(back.fields(), ["hard_lock_date"]);
        // April is still open.
        post_entry(&app, &t.token, entry("2026-04-02", &[(&bank, "5", ""), (&capital, "", "5")])).await;
    })
    .await;
}

#[tokio::test]
async fn a_reversal_mirrors_the_entry_and_posted_entries_never_change() {
    on_each_backend(async |app| {
        let t = app.signup("Undo Co").await;
        let (cash, fees) = (id_of(&app, &t, "1001").await, id_of(&app, &t, "5603").await);
        let posted =
            post_entry(&app, &t.token, entry("2026-05-10", &[(&fees, "80.00", ""), (&cash, "", "80.00")])).await;
        let id = posted["id"].as_str().unwrap();
        let edit = app
            .patch(
                &format!("/api/v1/journal-entries/{id}"),
                &t.token,
                "\"2\"",
                entry("2026-05-10", &[(&fees, "1", ""), (&cash, "", "1")]),
            )
            .await;
        assert_eq!(edit.status, StatusCode::CONFLICT);
        let delete =
            app.call(Method::DELETE, &format!("/api/v1/journal-entries/{id}"), Some(&t.token), None, &[]).await;
        assert_eq!(delete.status, StatusCode::CONFLICT);
        let early = app
            .post(&format!("/api/v1/journal-entries/{id}/reverse"), &t.token, json!({"entry_date": "2026-05-01"}))
            .await;
        assert_eq!(early.fields(), ["entry_date"]);
        let reversal = app.post(&format!("/api/v1/journal-entries/{id}/reverse"), &t.token, json!({})).await;
        assert_eq!(reversal.status, StatusCode::CREATED, "{:?}", reversal.body);
        assert_eq!(reversal.body["reversal_of"], json!(id));
        assert_eq!(reversal.body["lines"][0]["credit"], "80.00");
        assert_eq!(reversal.body["number"], "记-2026-05-0002");
        let original = app.get(&format!("/api/v1/journal-entries/{id}"), &t.token).await;
        assert_eq!(original.body["status"], "reversed");
        assert_eq!(original.body["reversed_by"], reversal.body["id"]);
        let again = app.post(&format!("/api/v1/journal-entries/{id}/reverse"), &t.token, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &t.token).await;
        let fees_line = line(&tb.body, "5603").unwrap();
        assert_eq!((fees_line["debit"].as_str(), fees_line["credit"].as_str()), (Some("80.00"), Some("80.00")));
        assert_eq!(fees_line["closing_debit"], "0.00");
        assert_eq!(fees_line["closing_credit"], "0.00");
    })
    .await;
}

#[tokio::test]
async fn the_chart_grows_and_accounts_in_use_keep_their_nature() {
    on_each_backend(async |app| {
        let t = app.signup("Chart Co").await;
        let bank = account(&app, &t, "1002").await;
        let bank_id = bank["id"].as_str().unwrap();
        let sub = app
            .post(
                "/api/v1/accounts",
                &t.token,
                json!({"code": "100201", "name": "工商银行", "name_en": "ICBC", "parent_id": bank_id}),
            )
            .await;
        assert_eq!(sub.status, StatusCode::CREATED, "{:?}", sub.body);
        assert_eq!(sub.body["account_type"], "asset");
        assert_eq!(account(&app, &t, "1002").await["is_postable"], false, "a parent is no longer postable");
        let wrong_type = app
            .post(
                "/api/v1/accounts",
                &t.token,
                json!({"code": "100202", "name": "x", "parent_id": bank_id, "account_type": "revenue"}),
            )
            .await;
        assert_eq!(wrong_type.fields(), ["account_type"]);
        let dup = app
            .post("/api/v1/accounts", &t.token, json!({"code": "100201", "name": "dup", "parent_id": bank_id}))
            .await;
        assert_eq!(dup.fields(), ["code"]);
        let sub_id = sub.body["id"].as_str().unwrap();
        let capital = id_of(&app, &t, "3001").await;
        post_entry(&app, &t.token, entry("2026-06-01", &[(sub_id, "10", ""), (&capital, "", "10")])).await;
        let del = app.call(Method::DELETE, &format!("/api/v1/accounts/{sub_id}"), Some(&t.token), None, &[]).await;
        assert_eq!(del.status, StatusCode::CONFLICT);
        let retype = app
            .patch(&format!("/api/v1/accounts/{capital}"), &t.token, "\"1\"", json!({"account_type": "liability"}))
            .await;
        assert_eq!(retype.status, StatusCode::CONFLICT);
        let child_of_used =
            app.post("/api/v1/accounts", &t.token, json!({"code": "300101", "name": "x", "parent_id": capital})).await;
        assert_eq!(child_of_used.status, StatusCode::CONFLICT);
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &t.token).await;
        assert_eq!(line(&tb.body, "1002").unwrap()["closing_debit"], "10.00", "a parent sums its sub-accounts");
        assert_eq!(line(&tb.body, "100201").unwrap()["level"], 1);
        assert_eq!(tb.body["totals"]["closing_debit"], "10.00", "totals count leaves only");
        let spare = app
            .post("/api/v1/accounts", &t.token, json!({"code": "6601", "name": "Spare", "account_type": "expense"}))
            .await;
        let spare_id = spare.body["id"].as_str().unwrap();
        let gone = app.call(Method::DELETE, &format!("/api/v1/accounts/{spare_id}"), Some(&t.token), None, &[]).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        let mapped = app
            .patch(
                &format!("/api/v1/accounts/{}", id_of(&app, &t, "5001").await),
                &t.token,
                "\"1\"",
                json!({"is_active": false}),
            )
            .await;
        assert_eq!(mapped.status, StatusCode::CONFLICT, "the revenue account is mapped");
    })
    .await;
}

#[tokio::test]
async fn large_entries_need_approval_and_other_tenants_see_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Approve Co").await;
        let (bank, capital) = (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await);
        let settings = app.get("/api/v1/finance-settings", &t.token).await;
        let set = app
            .patch(
                "/api/v1/finance-settings",
                &t.token,
                settings.header("etag").unwrap(),
                json!({"approval_threshold": "1000.00"}),
            )
            .await;
        assert_eq!(set.body["approval_threshold"], "1000.00");
        assert_eq!(app.get("/api/v1/finance-settings", &t.token).await.body["approval_threshold"], "1000.00");
        let clerk_role = app
            .post(
                "/api/v1/roles",
                &t.token,
                json!({"name": "Bookkeeper", "permissions": ["finance:read", "finance:write"]}),
            )
            .await;
        let role_id = clerk_role.body["id"].as_str().unwrap();
        app.post(
            "/api/v1/users",
            &t.token,
            json!({"email": "bk@approve.test", "display_name": "BK", "password": PASSWORD, "role_ids": [role_id]}),
        )
        .await;
        let clerk =
            app.login(&t.slug, "bk@approve.test", PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let small =
            post_entry(&app, &clerk, entry("2026-07-01", &[(&bank, "1000.00", ""), (&capital, "", "1000.00")])).await;
        assert_eq!(small["status"], "posted");
        let big = app
            .post(
                "/api/v1/journal-entries",
                &clerk,
                entry("2026-07-01", &[(&bank, "1000.01", ""), (&capital, "", "1000.01")]),
            )
            .await;
        let big_id = big.body["id"].as_str().unwrap().to_owned();
        let denied =
            app.call(Method::POST, &format!("/api/v1/journal-entries/{big_id}/post"), Some(&clerk), None, &[]).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        let approved =
            app.call(Method::POST, &format!("/api/v1/journal-entries/{big_id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(approved.status, StatusCode::OK);

        let other = app.signup("Nosy Co").await;
        assert_eq!(
            app.get(&format!("/api/v1/journal-entries/{big_id}"), &other.token).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get(&format!("/api/v1/accounts/{bank}"), &other.token).await.status, StatusCode::NOT_FOUND);
        let other_capital = id_of(&app, &other, "3001").await;
        let foreign = app
            .post(
                "/api/v1/journal-entries",
                &other.token,
                entry("2026-07-01", &[(&bank, "1", ""), (&other_capital, "", "1")]),
            )
            .await;
        assert_eq!(foreign.fields(), ["lines[0].account_id"]);
        let reverse = app.post(&format!("/api/v1/journal-entries/{big_id}/reverse"), &other.token, json!({})).await;
        assert_eq!(reverse.status, StatusCode::NOT_FOUND);
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &other.token).await;
        assert!(tb.body["lines"].as_array().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_generic_chart_numbers_entries_with_je() {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.signup_with("Plain Ltd", "generic", "USD").await;
    let (bank, capital) = (id_of(&app, &t, "1010").await, id_of(&app, &t, "3000").await);
    let e = post_entry(&app, &t.token, entry("2026-08-08", &[(&bank, "12.34", ""), (&capital, "", "12.34")])).await;
    assert_eq!(e["number"], "JE-2026-08-0001");
    assert_eq!(e["currency"], "USD");
    let mappings = app.get("/api/v1/account-mappings", &t.token).await;
    assert!(mappings.body.as_array().unwrap().iter().any(|m| m["purpose"] == "revenue" && m["account_code"] == "4000"));
}
