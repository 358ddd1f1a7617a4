//! Receivables and payables through the API with exact figures: tax per line, partial and
//! over-payment, allocation of what is left, credit notes, write-off, statements, aging,
//! realized exchange differences, and bad input that writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::ledger::{id_of, line};

async fn tax(app: &TestApp, t: &Tenant, code: &str) -> String {
    let codes = app.get("/api/v1/tax-codes", &t.token).await;
    codes.body.as_array().unwrap().iter().find(|c| c["code"] == code).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn party(app: &TestApp, t: &Tenant, path: &str, body: Value) -> String {
    let p = app.post(&format!("/api/v1/{path}"), &t.token, body).await;
    assert_eq!(p.status, StatusCode::CREATED, "{:?}", p.body);
    p.body["id"].as_str().unwrap().to_owned()
}

/// Creates and posts an invoice; returns the posted invoice.
async fn posted(app: &TestApp, t: &Tenant, path: &str, body: Value) -> Value {
    let draft = app.post(&format!("/api/v1/{path}"), &t.token, body).await;
    assert_eq!(draft.status, StatusCode::CREATED, "{:?}", draft.body);
    let id = draft.body["id"].as_str().unwrap();
    let p = app.call(Method::POST, &format!("/api/v1/{path}/{id}/post"), Some(&t.token), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    p.body
}

async fn entry_lines(app: &TestApp, t: &Tenant, id: &Value) -> Vec<(String, String, String)> {
    let e = app.get(&format!("/api/v1/journal-entries/{}", id.as_str().unwrap()), &t.token).await;
    let mut codes = std::collections::HashMap::new();
    let accounts = app.get("/api/v1/accounts?limit=200", &t.token).await;
    for a in accounts.body["data"].as_array().unwrap() {
        codes.insert(a["id"].as_str().unwrap().to_owned(), a["code"].as_str().unwrap().to_owned());
    }
    e.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                codes[l["account_id"].as_str().unwrap()].clone(),
                l["debit"].as_str().unwrap().to_owned(),
                l["credit"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn l(code: &str, debit: &str, credit: &str) -> (String, String, String) {
    (code.into(), debit.into(), credit.into())
}

async fn no_violations(app: &TestApp, t: &Tenant) {
    let tenant = meridian::domain::ids::TenantId(t.id.parse().unwrap());
    let tx = app.state.store.begin(tenant, meridian::store::Access::Read).await.unwrap();
    let v = meridian::app::receivables::control_violations(&tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(v.is_empty(), "{v:?}");
}

#[tokio::test]
async fn order_to_cash_in_the_books_to_the_cent() {
    on_each_backend(async |app| {
        let t = app.signup("Receivables Co").await;
        let vat13 = tax(&app, &t, "VAT13").await;
        let customer =
            party(&app, &t, "customers", json!({"code": "C-100", "name": "Hangzhou Retail", "payment_terms_days": 30}))
                .await;

        let first = posted(
            &app,
            &t,
            "sales-invoices",
            json!({
            "party_id": customer, "invoice_date": "2026-03-10", "reference": "PO-1",
            "lines": [
                {"description": "Chairs", "quantity": "3", "unit_price": "33.33", "tax_code_id": vat13},
                {"description": "Screws", "quantity": "1", "unit_price": "0.10", "tax_code_id": vat13}
            ]}),
        )
        .await;
        assert_eq!(first["number"], "SI-000001");
        assert_eq!(first["due_date"], "2026-04-09");
        assert_eq!(
            (first["net_total"].as_str(), first["tax_total"].as_str(), first["gross_total"].as_str()),
            (Some("100.09"), Some("13.01"), Some("113.10")),
            "13% per line: 13.00 + 0.01"
        );
        assert_eq!(first["settlement"], "open");
        assert_eq!(
            entry_lines(&app, &t, &first["journal_entry_id"]).await,
            vec![
                l("1122", "113.10", "0.00"),
                l("5001", "0.00", "99.99"),
                l("5001", "0.00", "0.10"),
                l("22210102", "0.00", "13.01")
            ]
        );

        // 150.00 received against 113.10: the rest stays on account.
        let receipt = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({
            "party_id": customer, "payment_date": "2026-03-20", "amount": "150.00",
            "allocations": [{"invoice_id": first["id"], "amount": "113.10"}]}),
            )
            .await;
        assert_eq!(receipt.status, StatusCode::CREATED, "{:?}", receipt.body);
        assert_eq!(receipt.body["number"], "RC-000001");
        assert_eq!(receipt.body["unallocated"], "36.90");
        assert_eq!(
            entry_lines(&app, &t, &receipt.body["journal_entry_id"]).await,
            vec![l("1002", "150.00", "0.00"), l("1122", "0.00", "150.00")]
        );
        let settled = app.get(&format!("/api/v1/sales-invoices/{}", first["id"].as_str().unwrap()), &t.token).await;
        assert_eq!(settled.body["settlement"], "settled");
        assert_eq!(settled.body["allocations"][0]["amount"], "113.10");

        let second = posted(
            &app,
            &t,
            "sales-invoices",
            json!({
            "party_id": customer, "invoice_date": "2026-03-25", "due_date": "2026-04-24",
            "lines": [{"quantity": "5", "unit_price": "10.00", "tax_code_id": vat13}]}),
        )
        .await;
        assert_eq!(second["gross_total"], "56.50");
        let rid = receipt.body["id"].as_str().unwrap();
        let alloc = app
            .post(
                &format!("/api/v1/receipts/{rid}/allocate"),
                &t.token,
                json!({
            "allocations": [{"invoice_id": second["id"], "amount": "36.90"}], "date": "2026-03-25"}),
            )
            .await;
        assert_eq!(alloc.status, StatusCode::CREATED, "{:?}", alloc.body);

        // A credit note of the second invoice settles against it when posted.
        let credit = posted(
            &app,
            &t,
            "sales-invoices",
            json!({
            "party_id": customer, "invoice_date": "2026-04-02", "is_credit_note": true, "credit_note_of": second["id"],
            "lines": [{"description": "Returned", "quantity": "1", "unit_price": "10.00", "tax_code_id": vat13}]}),
        )
        .await;
        assert_eq!(credit["number"], "SCN-000001");
        assert_eq!(credit["settlement"], "settled");
        assert_eq!(
            entry_lines(&app, &t, &credit["journal_entry_id"]).await,
            vec![l("1122", "0.00", "11.30"), l("5001", "10.00", "0.00"), l("22210102", "1.30", "0.00")]
        );
        let sid = second["id"].as_str().unwrap();
        let second_now = app.get(&format!("/api/v1/sales-invoices/{sid}"), &t.token).await;
        assert_eq!(second_now.body["open_amount"], "8.30");
        assert_eq!(second_now.body["settlement"], "partly_settled");

        let aging = app.get("/api/v1/reports/ar-aging?as_of=2026-04-30", &t.token).await;
        assert_eq!(aging.status, StatusCode::OK, "{:?}", aging.body);
        let row = &aging.body["rows"][0];
        assert_eq!(
            (row["code"].as_str(), row["1_30"].as_str(), row["current"].as_str(), row["total"].as_str()),
            (Some("C-100"), Some("8.30"), Some("0.00"), Some("8.30")),
            "due 24 April, 6 days late"
        );
        let earlier = app.get("/api/v1/reports/ar-aging?as_of=2026-03-21", &t.token).await;
        assert_eq!(earlier.body["rows"][0]["unapplied"], "36.90", "the overpayment as it stood then");
        assert_eq!(earlier.body["totals"]["total"], "-36.90");

        let wo = app
            .post(
                &format!("/api/v1/sales-invoices/{sid}/write-off"),
                &t.token,
                json!({"date": "2026-05-31", "memo": "uncollectable"}),
            )
            .await;
        assert_eq!(wo.status, StatusCode::CREATED, "{:?}", wo.body);
        assert_eq!(
            entry_lines(&app, &t, &wo.body["journal_entry_id"]).await,
            vec![l("5711", "8.30", "0.00"), l("1122", "0.00", "8.30")]
        );

        let st =
            app.get(&format!("/api/v1/customers/{customer}/statement?from=2026-03-15&to=2026-05-31"), &t.token).await;
        assert_eq!(st.status, StatusCode::OK, "{:?}", st.body);
        assert_eq!(st.body["opening"], "113.10");
        let kinds: Vec<(&str, &str, &str, &str)> = st.body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["kind"].as_str().unwrap(),
                    x["charge"].as_str().unwrap(),
                    x["credit"].as_str().unwrap(),
                    x["balance"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("receipt", "0.00", "150.00", "-36.90"),
                ("invoice", "56.50", "0.00", "19.60"),
                ("credit_note", "0.00", "11.30", "8.30"),
                ("write_off", "0.00", "8.30", "0.00"),
            ]
        );
        assert_eq!(st.body["closing"], "0.00");
        let open = app.get(&format!("/api/v1/customers/{customer}/open-items"), &t.token).await;
        assert!(
            open.body["invoices"].as_array().unwrap().is_empty()
                && open.body["payments"].as_array().unwrap().is_empty()
        );

        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-05-31", &t.token).await;
        assert!(line(&tb.body, "1122").is_none_or(|x| x["closing_debit"] == "0.00" && x["closing_credit"] == "0.00"));
        assert_eq!(line(&tb.body, "5001").unwrap()["closing_credit"], "140.09");
        assert_eq!(line(&tb.body, "22210102").unwrap()["closing_credit"], "18.21");
        no_violations(&app, &t).await;
    })
    .await;
}

#[tokio::test]
async fn settling_in_a_foreign_currency_at_another_rate_posts_the_exchange_difference() {
    on_each_backend(async |app| {
        let t = app.signup("FX Traders").await;
        let zero = tax(&app, &t, "VAT0").await;
        let rate = app.post("/api/v1/exchange-rates", &t.token, json!({"currency": "USD", "rate_date": "2026-01-01", "rate": "7.10"})).await;
        assert_eq!(rate.status, StatusCode::CREATED, "{:?}", rate.body);
        let buyer = party(&app, &t, "customers", json!({"code": "US-1", "name": "Pacific Imports", "currency": "USD"})).await;
        let maker = party(&app, &t, "suppliers", json!({"code": "US-2", "name": "Ohio Tools", "currency": "USD"})).await;
        let expense = id_of(&app, &t, "5602").await;

        let sale = posted(&app, &t, "sales-invoices", json!({"party_id": buyer, "invoice_date": "2026-02-01",
            "lines": [{"quantity": "1", "unit_price": "100.00", "tax_code_id": zero}]})).await;
        assert_eq!((sale["currency"].as_str(), sale["exchange_rate"].as_str(), sale["gross_base"].as_str()),
            (Some("USD"), Some("7.100000"), Some("710.00")));
        let e = app.get(&format!("/api/v1/journal-entries/{}", sale["journal_entry_id"].as_str().unwrap()), &t.token).await;
        assert_eq!((e.body["lines"][0]["debit"].as_str(), e.body["lines"][0]["debit_fx"].as_str()), (Some("710.00"), Some("100.00")));

        let receipt = app.post("/api/v1/receipts", &t.token, json!({"party_id": buyer, "payment_date": "2026-03-01",
            "amount": "100.00", "exchange_rate": "7.25", "allocations": [{"invoice_id": sale["id"], "amount": "100.00"}]})).await;
        assert_eq!(receipt.status, StatusCode::CREATED, "{:?}", receipt.body);
        let a = &receipt.body["allocations"][0];
        assert_eq!((a["invoice_base"].as_str(), a["source_base"].as_str()), (Some("710.00"), Some("725.00")));
        assert_eq!(entry_lines(&app, &t, &a["journal_entry_id"]).await, vec![l("1122", "15.00", "0.00"), l("5603", "0.00", "15.00")]);

        // Paying a supplier fewer yuan than booked is a gain too.
        let bill = posted(&app, &t, "supplier-invoices", json!({"party_id": maker, "invoice_date": "2026-02-01",
            "lines": [{"account_id": expense, "quantity": "2", "unit_price": "100.00"}]})).await;
        assert_eq!(bill["gross_base"], "1420.00");
        let pay = app.post("/api/v1/payments", &t.token, json!({"party_id": maker, "payment_date": "2026-03-05",
            "amount": "200.00", "exchange_rate": "7.00", "allocations": [{"invoice_id": bill["id"], "amount": "200.00"}]})).await;
        assert_eq!(pay.status, StatusCode::CREATED, "{:?}", pay.body);
        assert_eq!(entry_lines(&app, &t, &pay.body["allocations"][0]["journal_entry_id"]).await,
            vec![l("220201", "20.00", "0.00"), l("5603", "0.00", "20.00")]);

        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-03-31", &t.token).await;
        assert_eq!(line(&tb.body, "1002").unwrap()["closing_credit"], "675.00", "725 in, 1400 out");
        assert_eq!(line(&tb.body, "5603").unwrap()["closing_credit"], "35.00");
        assert_eq!(tb.body["totals"]["balanced"], true);
        let st = app.get(&format!("/api/v1/customers/{buyer}/statement?from=2026-01-01&to=2026-03-31"), &t.token).await;
        assert_eq!((st.body["currency"].as_str(), st.body["closing"].as_str()), (Some("USD"), Some("0.00")));
        no_violations(&app, &t).await;

        // A manual entry in dollars: base amounts derived at the rate, balanced in both.
        let (bank, capital) = (id_of(&app, &t, "1002").await, id_of(&app, &t, "3001").await);
        let m = app.post("/api/v1/journal-entries", &t.token, json!({"entry_date": "2026-03-10", "memo": "capital in USD",
            "currency": "USD", "exchange_rate": "7.123456",
            "lines": [{"account_id": bank, "debit": "0.03"}, {"account_id": capital, "credit": "0.01"}, {"account_id": capital, "credit": "0.02"}]})).await;
        assert_eq!(m.status, StatusCode::CREATED, "{:?}", m.body);
        // 0.21 debit against 0.07 + 0.14 = 0.21: no rounding line needed here.
        assert_eq!(m.body["lines"].as_array().unwrap().len(), 3);
        assert_eq!(m.body["total"], "0.21");
    })
    .await;
}

#[tokio::test]
async fn bad_receivables_input_gets_a_clear_problem_and_writes_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Careful Billing").await;
        let vat13 = tax(&app, &t, "VAT13").await;
        let customer = party(&app, &t, "customers", json!({"code": "C-1", "name": "One"})).await;
        let other = party(&app, &t, "customers", json!({"code": "C-2", "name": "Two"})).await;
        let supplier = party(&app, &t, "suppliers", json!({"code": "S-1", "name": "Supplier"})).await;
        let inv = posted(
            &app,
            &t,
            "sales-invoices",
            json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "1", "unit_price": "100.00", "tax_code_id": vat13}]}),
        )
        .await;
        let iid = inv["id"].as_str().unwrap().to_owned();
        let audit_before = app.audit_count(&t.token).await;
        let entries_before =
            app.get("/api/v1/journal-entries?limit=200", &t.token).await.body["data"].as_array().unwrap().len();

        let number = app
            .post(
                "/api/v1/sales-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": 1, "unit_price": "1.00"}]}),
            )
            .await;
        assert_eq!(number.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(number.fields(), ["lines[0].quantity"]);
        let bad_lines = app
            .post(
                "/api/v1/sales-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "0", "unit_price": "1.00", "tax_code_id": "00000000-0000-7000-8000-000000000000"},
                      {"quantity": "1", "unit_price": "-1.00"}]}),
            )
            .await;
        assert_eq!(bad_lines.fields(), ["lines[0].quantity", "lines[0].tax_code_id", "lines[1].unit_price"]);
        let no_account = app
            .post(
                "/api/v1/supplier-invoices",
                &t.token,
                json!({"party_id": supplier, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "1", "unit_price": "1.00"}]}),
            )
            .await;
        assert_eq!(no_account.fields(), ["lines[0].account_id"]);
        let wrong_side = app
            .post(
                "/api/v1/supplier-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "1", "unit_price": "1.00"}]}),
            )
            .await;
        assert_eq!(wrong_side.fields(), ["party_id"], "a customer is not a supplier");

        let too_much = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": customer, "payment_date": "2026-03-20",
            "amount": "500.00", "allocations": [{"invoice_id": iid, "amount": "200.00"}]}),
            )
            .await;
        assert_eq!(too_much.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(too_much.fields(), ["allocations[0].amount"]);
        assert!(too_much.body["detail"].as_str().unwrap().contains("113.00"), "{:?}", too_much.body);
        let foreign = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": other, "payment_date": "2026-03-20",
            "amount": "10.00", "allocations": [{"invoice_id": iid, "amount": "10.00"}]}),
            )
            .await;
        assert_eq!(foreign.fields(), ["allocations[0].invoice_id"]);
        let early = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": customer, "payment_date": "2026-03-01",
            "amount": "10.00", "allocations": [{"invoice_id": iid, "amount": "10.00"}]}),
            )
            .await;
        assert_eq!(early.fields(), ["allocations[0].date"]);
        let cents = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": customer, "payment_date": "2026-03-20", "amount": "1.005"}),
            )
            .await;
        assert_eq!(cents.fields(), ["amount"]);

        let edit = app
            .patch(
                &format!("/api/v1/sales-invoices/{iid}"),
                &t.token,
                "\"2\"",
                json!({"party_id": customer,
            "invoice_date": "2026-03-10", "lines": [{"quantity": "1", "unit_price": "1.00"}]}),
            )
            .await;
        assert_eq!(edit.status, StatusCode::CONFLICT, "posted invoices never change");
        let del = app.call(Method::DELETE, &format!("/api/v1/sales-invoices/{iid}"), Some(&t.token), None, &[]).await;
        assert_eq!(del.status, StatusCode::CONFLICT);
        let again =
            app.call(Method::POST, &format!("/api/v1/sales-invoices/{iid}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let bank = id_of(&app, &t, "1002").await;
        let remap = app
            .call(
                Method::PUT,
                "/api/v1/account-mappings",
                Some(&t.token),
                Some(json!({"accounts_receivable": bank})),
                &[],
            )
            .await;
        assert_eq!(remap.status, StatusCode::CONFLICT, "{:?}", remap.body);

        assert_eq!(app.audit_count(&t.token).await, audit_before, "nothing was recorded");
        assert_eq!(
            app.get("/api/v1/journal-entries?limit=200", &t.token).await.body["data"].as_array().unwrap().len(),
            entries_before
        );
        assert!(app.get("/api/v1/receipts", &t.token).await.body["data"].as_array().unwrap().is_empty());
        assert_eq!(app.get("/api/v1/sales-invoices", &t.token).await.body["data"].as_array().unwrap().len(), 1);

        // Paying a cancelled invoice is refused; cancelling a settled one too.
        let cancel = app.post(&format!("/api/v1/sales-invoices/{iid}/cancel"), &t.token, json!({})).await;
        assert_eq!(cancel.status, StatusCode::OK, "{:?}", cancel.body);
        assert_eq!(cancel.body["status"], "cancelled");
        let pay_cancelled = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": customer, "payment_date": "2026-03-20",
            "amount": "10.00", "allocations": [{"invoice_id": iid, "amount": "10.00"}]}),
            )
            .await;
        assert_eq!(pay_cancelled.fields(), ["allocations[0].invoice_id"]);
        assert!(pay_cancelled.body["detail"].as_str().unwrap().contains("cancelled"));
        let inv2 = posted(
            &app,
            &t,
            "sales-invoices",
            json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "1", "unit_price": "10.00"}]}),
        )
        .await;
        let r = app
            .post(
                "/api/v1/receipts",
                &t.token,
                json!({"party_id": customer, "payment_date": "2026-03-20",
            "amount": "5.00", "allocations": [{"invoice_id": inv2["id"], "amount": "5.00"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let settled_cancel = app
            .post(&format!("/api/v1/sales-invoices/{}/cancel", inv2["id"].as_str().unwrap()), &t.token, json!({}))
            .await;
        assert_eq!(settled_cancel.status, StatusCode::CONFLICT);
        let rid = r.body["id"].as_str().unwrap();
        let cancel_receipt = app.post(&format!("/api/v1/receipts/{rid}/cancel"), &t.token, json!({})).await;
        assert_eq!(cancel_receipt.status, StatusCode::CONFLICT, "an allocated receipt stays");
        no_violations(&app, &t).await;
    })
    .await;
}

#[tokio::test]
async fn document_rounding_and_tax_inclusive_prices() {
    on_each_backend(async |app| {
        let t = app.signup("Rounding Shop").await;
        let vat13 = tax(&app, &t, "VAT13").await;
        let customer = party(&app, &t, "customers", json!({"code": "C-9", "name": "Nine"})).await;
        let lines = json!([
            {"quantity": "1", "unit_price": "0.10", "tax_code_id": vat13},
            {"quantity": "1", "unit_price": "0.10", "tax_code_id": vat13},
            {"quantity": "1", "unit_price": "0.10", "tax_code_id": vat13}]);
        let per_line = app
            .post(
                "/api/v1/sales-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10", "lines": lines}),
            )
            .await;
        assert_eq!(per_line.body["tax_total"], "0.03");
        let settings = app.get("/api/v1/finance-settings", &t.token).await;
        let etag = settings.header("etag").unwrap().to_owned();
        let set = app
            .patch(
                "/api/v1/finance-settings",
                &t.token,
                &etag,
                json!({"tax_rounding": "document", "prices_include_tax": true}),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
        let per_doc = app
            .post(
                "/api/v1/sales-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10", "tax_inclusive": false, "lines": lines}),
            )
            .await;
        assert_eq!(per_doc.body["tax_total"], "0.04", "0.039 rounded once");
        let inclusive = app
            .post(
                "/api/v1/sales-invoices",
                &t.token,
                json!({"party_id": customer, "invoice_date": "2026-03-10",
            "lines": [{"quantity": "1", "unit_price": "113.00", "tax_code_id": vat13}]}),
            )
            .await;
        assert_eq!(
            (
                inclusive.body["net_total"].as_str(),
                inclusive.body["tax_total"].as_str(),
                inclusive.body["gross_total"].as_str()
            ),
            (Some("100.00"), Some("13.00"), Some("113.00"))
        );
    })
    .await;
}
