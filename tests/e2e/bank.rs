//! Bank accounts: a CSV statement with a saved mapping, duplicate-proof re-import, suggested and
//! automatic matches, rules that post bank charges, and the reconciliation report.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;
use crate::ledger::{entry, id_of, post_entry};

const STATEMENT: &str = "招商银行 账户交易明细\n账号: 6225****1234\n交易日期,收入,支出,摘要,流水号,对方户名\n\
2026/03/20,\"1,130.00\",,货款,RC-000001,杭州零售\n\
2026/03/23,,500.00,付款,PY-000001,深圳配件\n\
2026/03/25,,35.50,手续费,,\n\
2026/03/31,12.30,,利息,,\n";

#[tokio::test]
async fn a_statement_is_imported_matched_and_reconciled() {
    on_each_backend(async |app| {
        let t = app.signup("Bank Co").await;
        let (bank, capital, charges) =
            (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await, id_of(&app, &t, "5603").await);
        post_entry(&app, &t.token, entry("2026-02-01", &[(&bank, "10000.00", ""), (&capital, "", "10000.00")])).await;
        let customer = app.post("/api/v1/customers", &t.token, json!({"code": "C-1", "name": "杭州零售"})).await.body["id"].clone();
        let supplier = app.post("/api/v1/suppliers", &t.token, json!({"code": "S-1", "name": "深圳配件"})).await.body["id"].clone();
        let receipt = app.post("/api/v1/receipts", &t.token, json!({"party_id": customer, "payment_date": "2026-03-20", "amount": "1130.00"})).await;
        assert_eq!(receipt.body["number"], "RC-000001");
        let payment = app.post("/api/v1/payments", &t.token, json!({"party_id": supplier, "payment_date": "2026-03-22", "amount": "500.00"})).await;
        assert_eq!(payment.status, StatusCode::CREATED, "{:?}", payment.body);
        let cheque = app.post("/api/v1/payments", &t.token, json!({"party_id": supplier, "payment_date": "2026-03-30", "amount": "80.00", "reference": "cheque 0042"})).await;

        let account = app.post("/api/v1/bank-accounts", &t.token, json!({"name": "招商银行 基本户", "account_id": bank,
            "opening_date": "2026-02-28", "opening_balance": "10000.00"})).await;
        assert_eq!(account.status, StatusCode::CREATED, "{:?}", account.body);
        let id = account.body["id"].as_str().unwrap().to_owned();
        let mapping = json!({"date": "交易日期", "date_format": "%Y/%m/%d", "money_in": "收入", "money_out": "支出",
            "description": "摘要", "reference": "流水号", "counterparty": "对方户名", "skip_rows": 2});
        let saved = app.call(reqwest::Method::PUT, &format!("/api/v1/bank-accounts/{id}/statement-mapping"), Some(&t.token),
            Some(mapping), &[("If-Match", "\"1\"")]).await;
        assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);

        // A bad file names every bad cell and imports nothing.
        let bad = app.post(&format!("/api/v1/bank-accounts/{id}/statements"), &t.token,
            json!({"csv": STATEMENT.replace("2026/03/25", "25.03.2026").replace("12.30", "12.3x")})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.fields(), ["csv[row 6].date", "csv[row 7].money_in"]);
        assert!(app.get(&format!("/api/v1/bank-accounts/{id}/statement-lines"), &t.token).await.body.as_array().unwrap().is_empty());

        let imported = app.post(&format!("/api/v1/bank-accounts/{id}/statements"), &t.token, json!({"csv": STATEMENT})).await;
        assert_eq!(imported.status, StatusCode::CREATED, "{:?}", imported.body);
        assert_eq!((imported.body["imported"].as_u64(), imported.body["duplicates"].as_u64()), (Some(4), Some(0)));
        assert_eq!(imported.body["lines"][1]["amount"], "-500.00");
        let again = app.post(&format!("/api/v1/bank-accounts/{id}/statements"), &t.token, json!({"csv": STATEMENT})).await;
        assert_eq!((again.body["imported"].as_u64(), again.body["duplicates"].as_u64()), (Some(0), Some(4)));

        let first = imported.body["lines"][0]["id"].as_str().unwrap().to_owned();
        let s = app.get(&format!("/api/v1/bank-statement-lines/{first}/suggestions"), &t.token).await;
        assert_eq!(s.body[0]["entry_id"], receipt.body["journal_entry_id"]);
        assert!(s.body[0]["score"].as_u64().unwrap() >= 80, "{:?}", s.body);

        let rule = app.post("/api/v1/bank-rules", &t.token, json!({"name": "Bank charges", "contains": "手续费", "direction": "out", "account_id": charges})).await;
        assert_eq!(rule.status, StatusCode::CREATED, "{:?}", rule.body);
        let auto = app.post(&format!("/api/v1/bank-accounts/{id}/auto-reconcile"), &t.token, json!({})).await;
        assert_eq!(auto.status, StatusCode::OK, "{:?}", auto.body);
        assert_eq!(auto.body, json!({"matched": 2, "posted_by_rules": 1, "left": 1}));

        let rec = app.get(&format!("/api/v1/reports/bank-reconciliation?bank_account_id={id}&as_of=2026-03-31"), &t.token).await;
        assert_eq!(rec.status, StatusCode::OK, "{:?}", rec.body);
        assert_eq!(rec.body["statement_balance"], "10606.80");
        assert_eq!(rec.body["ledger_balance"], "10514.50", "10000 + 1130 - 500 - 80 - 35.50");
        assert_eq!(rec.body["outstanding"].as_array().unwrap().len(), 1, "the cheque has not cleared");
        assert_eq!(rec.body["outstanding"][0]["entry_id"], cheque.body["journal_entry_id"]);
        assert_eq!(rec.body["unrecorded"][0]["amount"], "12.30", "interest not yet booked");
        assert_eq!(rec.body["adjusted_ledger_balance"], "10606.80");
        assert_eq!(rec.body["reconciled"], true);

        // Book the interest, then match it by hand; a wrong amount is refused.
        let interest = post_entry(&app, &t.token, entry("2026-03-31", &[(&bank, "12.30", ""), (&charges, "", "12.30")])).await;
        let last = imported.body["lines"][3]["id"].as_str().unwrap().to_owned();
        let wrong = app.post(&format!("/api/v1/bank-statement-lines/{last}/match"), &t.token, json!({"entry_id": cheque.body["journal_entry_id"]})).await;
        assert_eq!(wrong.fields(), ["entry_id"]);
        let ok = app.post(&format!("/api/v1/bank-statement-lines/{last}/match"), &t.token, json!({"entry_id": interest["id"]})).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        let rec = app.get(&format!("/api/v1/reports/bank-reconciliation?bank_account_id={id}&as_of=2026-03-31"), &t.token).await;
        assert!(rec.body["unrecorded"].as_array().unwrap().is_empty());
        assert_eq!(rec.body["ledger_balance"], "10526.80");
        assert_eq!(rec.body["reconciled"], true);
        let twice = app.post(&format!("/api/v1/bank-statement-lines/{last}/match"), &t.token, json!({"entry_id": interest["id"]})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
    })
    .await;
}
