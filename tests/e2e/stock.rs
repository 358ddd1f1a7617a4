//! Inventory through the API: items with unit conversions, receipts, issues, transfers in two
//! steps, stocktakes, landed costs, batches picked first-expiry-first-out, back-dated movements
//! that revalue what follows, the stock closing date, reservations, the reports, the CSV
//! import, bad input that writes nothing, and fifty clients racing for the last ten units.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::ledger::line;

pub async fn warehouse(app: &TestApp, t: &Tenant, code: &str, allow_negative: bool) -> String {
    let a = app
        .post("/api/v1/warehouses", &t.token, json!({"code": code, "name": code, "allow_negative": allow_negative}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

pub async fn item(app: &TestApp, t: &Tenant, body: Value) -> String {
    let a = app.post("/api/v1/items", &t.token, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

/// Creates and posts a stock document; returns the posted document.
pub async fn post_doc(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let d = app.post("/api/v1/stock-documents", &t.token, body).await;
    assert_eq!(d.status, StatusCode::CREATED, "{:?}", d.body);
    let id = d.body["id"].as_str().unwrap();
    let p = app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&t.token), None, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    p.body
}

/// Creates a document and tries to post it; returns the answer of the post (or the create).
pub async fn try_post(app: &TestApp, t: &Tenant, body: Value) -> Answer {
    let d = app.post("/api/v1/stock-documents", &t.token, body).await;
    if d.status != StatusCode::CREATED {
        return d;
    }
    let id = d.body["id"].as_str().unwrap();
    app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&t.token), None, &[]).await
}

pub fn receipt(wh: &str, date: &str, lines: Value) -> Value {
    json!({"kind": "receipt", "warehouse_id": wh, "date": date, "lines": lines})
}

pub fn issue(wh: &str, date: &str, lines: Value) -> Value {
    json!({"kind": "issue", "warehouse_id": wh, "date": date, "reason": "internal use", "lines": lines})
}

pub async fn level(app: &TestApp, t: &Tenant, item: &str, wh: &str) -> Value {
    let a = app.get(&format!("/api/v1/stock-levels?item_id={item}&warehouse_id={wh}"), &t.token).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body.as_array().unwrap().first().cloned().unwrap_or(json!({"on_hand": "0.0000", "value": "0.00"}))
}

pub async fn valuation(app: &TestApp, t: &Tenant, as_of: &str) -> Value {
    let v = app.get(&format!("/api/v1/reports/stock-valuation?as_of={as_of}"), &t.token).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    assert_eq!(
        v.body["total_value"], v.body["ledger_inventory"],
        "stock value equals the inventory account: {:?}",
        v.body
    );
    assert_eq!(v.body["in_transit"], v.body["ledger_in_transit"], "{:?}", v.body);
    v.body
}

async fn entries(app: &TestApp, t: &Tenant, doc: &Value) -> Vec<Value> {
    let id = doc["id"].as_str().unwrap();
    app.get(&format!("/api/v1/stock-documents/{id}/entries"), &t.token).await.body.as_array().unwrap().clone()
}

#[tokio::test]
async fn receipts_issues_and_transfers_move_quantity_and_value_into_the_books() {
    on_each_backend(async |app| {
        let t = app.signup("Stock Co").await;
        let (a, b) = (warehouse(&app, &t, "WH-A", false).await, warehouse(&app, &t, "WH-B", false).await);
        let widget = item(
            &app,
            &t,
            json!({"sku": "W-1", "name": "Widget", "base_unit": "pcs",
            "units": [{"unit": "box", "factor": "12"}], "sales_unit": "pcs", "purchase_unit": "box"}),
        )
        .await;

        // 2 boxes at 120.00 a box: 24 pieces worth 240.00.
        let r = post_doc(
            &app,
            &t,
            receipt(
                &a,
                "2026-03-01",
                json!([{"item_id": widget, "quantity": "2", "unit": "box", "unit_cost": "120.00"}]),
            ),
        )
        .await;
        assert_eq!(r["number"], "GR-000001");
        assert_eq!(r["lines"][0]["quantity"], "24.0000");
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-03-31", &t.token).await;
        assert_eq!(line(&tb.body, "1405").unwrap()["closing_debit"], "240.00", "receipt posts inventory");
        assert_eq!(line(&tb.body, "5301").unwrap()["closing_credit"], "240.00", "against the miscellaneous gain");

        // A second receipt at another cost moves the average: 24 @ 10 + 6 @ 12 = 312 / 30.
        post_doc(&app, &t, receipt(&a, "2026-03-02", json!([{"item_id": widget, "quantity": "6", "unit_cost": "12"}])))
            .await;
        let i = post_doc(&app, &t, issue(&a, "2026-03-03", json!([{"item_id": widget, "quantity": "10"}]))).await;
        assert_eq!(i["number"], "GI-000001");
        let e = entries(&app, &t, &i).await;
        assert_eq!((e[0]["quantity"].as_str(), e[0]["value"].as_str()), (Some("-10.0000"), Some("-104.00")));
        let l = level(&app, &t, &widget, &a).await;
        assert_eq!((l["on_hand"].as_str(), l["value"].as_str()), (Some("20.0000"), Some("208.00")));

        // Shipped on the 5th, received on the 8th: in transit in between, valued as it left.
        let tr = app
            .post(
                "/api/v1/stock-documents",
                &t.token,
                json!({"kind": "transfer", "warehouse_id": a, "to_warehouse_id": b,
            "date": "2026-03-05", "lines": [{"item_id": widget, "quantity": "5"}]}),
            )
            .await;
        let id = tr.body["id"].as_str().unwrap().to_owned();
        let shipped = app.post(&format!("/api/v1/stock-documents/{id}/ship"), &t.token, json!({})).await;
        assert_eq!(shipped.body["status"], "in_transit", "{:?}", shipped.body);
        let mid = valuation(&app, &t, "2026-03-06").await;
        assert_eq!((mid["total_value"].as_str(), mid["in_transit"].as_str()), (Some("156.00"), Some("52.00")));
        let early =
            app.post(&format!("/api/v1/stock-documents/{id}/receive"), &t.token, json!({"date": "2026-03-04"})).await;
        assert_eq!(early.fields(), ["date"], "not received before it was shipped");
        let received =
            app.post(&format!("/api/v1/stock-documents/{id}/receive"), &t.token, json!({"date": "2026-03-08"})).await;
        assert_eq!(received.body["status"], "posted", "{:?}", received.body);
        let lb = level(&app, &t, &widget, &b).await;
        assert_eq!((lb["on_hand"].as_str(), lb["value"].as_str()), (Some("5.0000"), Some("52.00")));
        let end = valuation(&app, &t, "2026-03-31").await;
        assert_eq!((end["total_value"].as_str(), end["in_transit"].as_str()), (Some("208.00"), Some("0.00")));

        // The whole of WH-B leaves: its value drains to exactly zero.
        post_doc(&app, &t, issue(&b, "2026-03-09", json!([{"item_id": widget, "quantity": "5"}]))).await;
        let lb = level(&app, &t, &widget, &b).await;
        assert_eq!((lb["on_hand"].as_str(), lb["value"].as_str()), (Some("0.0000"), Some("0.00")));

        // As of a past date, from the ledger.
        let then = app.get(&format!("/api/v1/stock-levels?item_id={widget}&as_of=2026-03-02"), &t.token).await;
        assert_eq!(then.body[0]["on_hand"], "30.0000", "{:?}", then.body);
        let history = app.get(&format!("/api/v1/stock-ledger?item_id={widget}&limit=3"), &t.token).await;
        assert_eq!(history.body["data"].as_array().unwrap().len(), 3);
        let cursor = history.body["next_cursor"].as_str().unwrap();
        let rest = app.get(&format!("/api/v1/stock-ledger?item_id={widget}&cursor={cursor}"), &t.token).await;
        assert_eq!(rest.body["data"].as_array().unwrap().len(), 3, "issue, transfer in, issue: {:?}", rest.body);

        // Manual journal lines may not touch the inventory account.
        let inv = crate::ledger::id_of(&app, &t, "1405").await;
        let cash = crate::ledger::id_of(&app, &t, "1001").await;
        let manual = app
            .post(
                "/api/v1/journal-entries",
                &t.token,
                crate::ledger::entry("2026-03-10", &[(&inv, "1.00", ""), (&cash, "", "1.00")]),
            )
            .await;
        assert_eq!(manual.fields(), ["lines[0].account_id"]);
    })
    .await;
}

#[tokio::test]
async fn back_dated_movements_revalue_what_follows_and_the_closing_date_holds() {
    on_each_backend(async |app| {
        let t = app.signup("Backdate Co").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let avg = item(&app, &t, json!({"sku": "AVG", "name": "Average item"})).await;
        let fifo = item(&app, &t, json!({"sku": "FIFO", "name": "FIFO item", "valuation_method": "fifo"})).await;
        for it in [&avg, &fifo] {
            post_doc(&app, &t, receipt(&wh, "2026-01-01", json!([{"item_id": it, "quantity": "10", "unit_cost": "10"}]))).await;
        }
        let out = post_doc(&app, &t, issue(&wh, "2026-01-10", json!([{"item_id": avg, "quantity": "10"}, {"item_id": fifo, "quantity": "5"}]))).await;
        // A receipt dated before the issue: the average the issue took changes, FIFO's does not.
        let late = post_doc(&app, &t, receipt(&wh, "2026-01-05", json!([
            {"item_id": avg, "quantity": "10", "unit_cost": "20"}, {"item_id": fifo, "quantity": "10", "unit_cost": "20"}]))).await;
        let e = entries(&app, &t, &late).await;
        let reval: Vec<&Value> = e.iter().filter(|x| x["kind"] == "revaluation").collect();
        assert_eq!(reval.len(), 1, "{e:?}");
        assert_eq!(reval[0]["value"], "-50.00", "the issue now takes (100 + 200) / 20 x 10 = 150");
        assert_eq!(reval[0]["date"], "2026-01-10");
        assert_eq!(reval[0]["adjusts_entry_id"], entries(&app, &t, &out).await[0]["id"]);
        let l = level(&app, &t, &avg, &wh).await;
        assert_eq!((l["on_hand"].as_str(), l["value"].as_str()), (Some("10.0000"), Some("150.00")));
        let l = level(&app, &t, &fifo, &wh).await;
        assert_eq!((l["on_hand"].as_str(), l["value"].as_str()), (Some("15.0000"), Some("250.00")));
        let v = valuation(&app, &t, "2026-01-31").await;
        assert_eq!(v["total_value"], "400.00");
        assert_eq!(valuation(&app, &t, "2026-01-07").await["total_value"], "600.00", "before the issue: 300 of each");

        // A back-dated issue that would leave a later day short is refused, and writes nothing.
        post_doc(&app, &t, receipt(&wh, "2026-01-20", json!([{"item_id": avg, "quantity": "10", "unit_cost": "15"}]))).await;
        let before = app.get("/api/v1/stock-ledger?limit=200", &t.token).await.body["data"].as_array().unwrap().len();
        // 20 on hand now, but on the 10th only 5 would be left for an issue of 10.
        let short = try_post(&app, &t, issue(&wh, "2026-01-08", json!([{"item_id": avg, "quantity": "15"}]))).await;
        assert_eq!((short.status, short.problem()), (StatusCode::CONFLICT, "insufficient-stock"), "{:?}", short.body);
        assert!(short.body["detail"].as_str().unwrap().contains("2026-01-10"), "{:?}", short.body);
        assert_eq!(app.get("/api/v1/stock-ledger?limit=200", &t.token).await.body["data"].as_array().unwrap().len(), before);

        // Close stock up to 5 January: earlier dates are refused.
        let s = app.get("/api/v1/stock-settings", &t.token).await;
        let etag = s.header("etag").unwrap().to_owned();
        let set = app.call(Method::PUT, "/api/v1/stock-settings", Some(&t.token), Some(json!({"closing_date": "2026-01-05"})), &[("If-Match", &etag)]).await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
        let closed = try_post(&app, &t, receipt(&wh, "2026-01-05", json!([{"item_id": avg, "quantity": "1", "unit_cost": "1"}]))).await;
        assert_eq!((closed.status, closed.problem()), (StatusCode::CONFLICT, "stock-closed"), "{:?}", closed.body);
        post_doc(&app, &t, receipt(&wh, "2026-01-06", json!([{"item_id": avg, "quantity": "1", "unit_cost": "1"}]))).await;
        valuation(&app, &t, "2026-12-31").await;
    })
    .await;
}

#[tokio::test]
async fn stocktakes_landed_costs_and_batches() {
    on_each_backend(async |app| {
        let t = app.signup("Count Co").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let bolt = item(&app, &t, json!({"sku": "BOLT", "name": "Bolt", "weight": "0.5"})).await;
        let nut = item(&app, &t, json!({"sku": "NUT", "name": "Nut", "valuation_method": "fifo", "weight": "0.1"})).await;
        let milk = item(&app, &t, json!({"sku": "MILK", "name": "Milk", "batch_tracked": true, "shelf_life_days": 30})).await;
        let r = post_doc(&app, &t, receipt(&wh, "2026-05-01", json!([
            {"item_id": bolt, "quantity": "100", "unit_cost": "2"},
            {"item_id": nut, "quantity": "100", "unit_cost": "1"}]))).await;

        // Half the bolts leave, then freight of 30.00 shared by value (200 : 100).
        post_doc(&app, &t, issue(&wh, "2026-05-02", json!([{"item_id": bolt, "quantity": "50"}]))).await;
        let lc = post_doc(&app, &t, json!({"kind": "landed_cost", "date": "2026-05-03", "basis": "value", "amount": "30.00",
            "receipt_ids": [r["id"]], "memo": "Freight"})).await;
        assert_eq!(lc["lines"][0]["amount"], "20.00");
        assert_eq!(lc["lines"][1]["amount"], "10.00");
        let l = level(&app, &t, &bolt, &wh).await;
        assert_eq!(l["value"], "110.00", "half the bolts' share stays in stock: 100 + 10");
        assert_eq!(level(&app, &t, &nut, &wh).await["value"], "110.00");
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-05-31", &t.token).await;
        assert_eq!(line(&tb.body, "5401").unwrap()["closing_debit"], "10.00", "the rest goes to cost of sales");
        assert_eq!(line(&tb.body, "220202").unwrap()["closing_credit"], "30.00");

        // Batches: two lots, issued first-expiry-first-out when no lot is named.
        post_doc(&app, &t, receipt(&wh, "2026-05-04", json!([
            {"item_id": milk, "quantity": "10", "unit_cost": "5", "lot_number": "L-LATE", "production_date": "2026-05-04"},
            {"item_id": milk, "quantity": "10", "unit_cost": "5", "lot_number": "L-EARLY", "expiry_date": "2026-05-20"}]))).await;
        let out = post_doc(&app, &t, issue(&wh, "2026-05-05", json!([{"item_id": milk, "quantity": "12"}]))).await;
        assert_eq!(entries(&app, &t, &out).await.len(), 2, "split over two lots");
        let batches = app.get(&format!("/api/v1/items/{milk}/batches"), &t.token).await;
        let by_lot = |lot: &str| batches.body.as_array().unwrap().iter().find(|b| b["lot_number"] == lot).unwrap().clone();
        assert_eq!(by_lot("L-EARLY")["on_hand"], "0.0000");
        assert_eq!(by_lot("L-LATE")["on_hand"], "8.0000");
        assert_eq!(by_lot("L-LATE")["expiry_date"], "2026-06-03", "production date + 30 days of shelf life");
        let exp = app.get("/api/v1/reports/expiring-batches?days=30&as_of=2026-05-10", &t.token).await;
        assert_eq!(exp.body.as_array().unwrap().len(), 1, "{:?}", exp.body);
        assert_eq!(exp.body[0]["lot_number"], "L-LATE");
        assert_eq!(exp.body[0]["days_left"], 24);
        let per_batch = app.get(&format!("/api/v1/stock-levels?item_id={milk}&by_batch=true"), &t.token).await;
        assert_eq!(per_batch.body.as_array().unwrap().len(), 2, "{:?}", per_batch.body);

        // A stocktake frozen now: 45 bolts found (5 lost), 102 nuts (2 found). A receipt after
        // the freeze does not disturb the count.
        let st = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "stocktake", "warehouse_id": wh, "date": "2026-05-06",
            "lines": [{"item_id": bolt}, {"item_id": nut}]})).await;
        assert_eq!(st.status, StatusCode::CREATED, "{:?}", st.body);
        assert_eq!(st.body["status"], "counting");
        assert_eq!(st.body["lines"][0]["book_quantity"], "50.0000");
        let id = st.body["id"].as_str().unwrap().to_owned();
        let stray = app.post(&format!("/api/v1/stock-documents/{id}/counts"), &t.token, json!({"lines": [{"item_id": milk, "lot_number": "L-LATE", "counted_quantity": "1"}]})).await;
        assert_eq!((stray.status, stray.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["lines[0].item_id".to_string()]));
        let uncounted = app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(uncounted.fields(), ["lines"]);
        let counted = app.post(&format!("/api/v1/stock-documents/{id}/counts"), &t.token, json!({"lines": [
            {"item_id": bolt, "counted_quantity": "45"}, {"item_id": nut, "counted_quantity": "102"}]})).await;
        assert_eq!(counted.body["lines"][0]["difference"], "-5.0000", "{:?}", counted.body);
        post_doc(&app, &t, receipt(&wh, "2026-05-07", json!([{"item_id": bolt, "quantity": "10", "unit_cost": "2.2"}]))).await;
        let posted = app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(posted.body["status"], "posted", "{:?}", posted.body);
        assert_eq!(level(&app, &t, &bolt, &wh).await["on_hand"], "55.0000", "45 counted + 10 received after");
        assert_eq!(level(&app, &t, &nut, &wh).await["on_hand"], "102.0000");
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-05-31", &t.token).await;
        assert_eq!(line(&tb.body, "5711").unwrap()["closing_debit"], "11.00", "5 bolts at 2.20 average");
        valuation(&app, &t, "2026-05-31").await;

        let edit = app.patch(&format!("/api/v1/stock-documents/{id}"), &t.token, "\"3\"", json!({"memo": "x"})).await;
        assert_eq!((edit.status, edit.problem()), (StatusCode::CONFLICT, "invalid-state"), "a posted document is not edited");
    })
    .await;
}

#[tokio::test]
async fn bad_stock_input_is_refused_and_writes_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Strict Stock").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let other = warehouse(&app, &t, "WH-2", false).await;
        let plain = item(&app, &t, json!({"sku": "PLAIN", "name": "Plain", "base_unit": "kg", "units": [{"unit": "g", "factor": "0.001"}]})).await;
        post_doc(&app, &t, receipt(&wh, "2026-02-01", json!([{"item_id": plain, "quantity": "3", "unit_cost": "4"}]))).await;
        let docs = || async { app.get("/api/v1/stock-documents?limit=200", &t.token).await.body["data"].as_array().unwrap().len() };
        let (docs_before, audit_before) = (docs().await, app.audit_count(&t.token).await);

        let cases = [
            (issue(&wh, "2026-02-02", json!([{"item_id": plain, "quantity": "5"}])), StatusCode::CONFLICT, "insufficient-stock", vec!["lines[0].quantity"]),
            (issue(&wh, "2026-02-02", json!([{"item_id": plain, "quantity": "1", "unit": "box"}])), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["lines[0].unit"]),
            (issue(&wh, "2026-02-02", json!([{"item_id": plain, "quantity": "0.05", "unit": "g"}])), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["lines[0].quantity"]),
            (receipt(&wh, "2026-02-02", json!([{"item_id": plain, "quantity": "1", "lot_number": "L1"}])), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["lines[0].lot_number"]),
            (json!({"kind": "transfer", "warehouse_id": wh, "to_warehouse_id": wh, "lines": [{"item_id": plain, "quantity": "1"}]}), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["to_warehouse_id"]),
            (json!({"kind": "issue", "warehouse_id": wh, "lines": [{"item_id": plain, "quantity": "1"}]}), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["reason"]),
            (receipt(&wh, "2026-02-02", json!([{"item_id": plain, "quantity": 1}])), StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", vec!["lines[0].quantity"]),
        ];
        for (body, status, problem, fields) in cases {
            let a = try_post(&app, &t, body.clone()).await;
            assert_eq!((a.status, a.problem()), (status, problem), "{body}: {:?}", a.body);
            assert_eq!(a.fields(), fields, "{body}");
            // A refused post leaves its draft; delete it so the counts below compare.
            if a.status == StatusCode::CONFLICT {
                let last = app.get("/api/v1/stock-documents?limit=1", &t.token).await.body["data"][0]["id"].as_str().unwrap().to_owned();
                let del = app.call(Method::DELETE, &format!("/api/v1/stock-documents/{last}"), Some(&t.token), None, &[]).await;
                assert_eq!(del.status, StatusCode::NO_CONTENT);
            }
        }
        assert_eq!(docs().await, docs_before);
        assert_eq!(app.audit_count(&t.token).await, audit_before + 2, "only the draft that was refused at posting, and its deletion");
        let l = level(&app, &t, &plain, &wh).await;
        assert_eq!((l["on_hand"].as_str(), l["value"].as_str()), (Some("3.0000"), Some("12.00")));
        assert!(app.get(&format!("/api/v1/stock-levels?warehouse_id={other}"), &t.token).await.body.as_array().unwrap().is_empty());

        // Grams convert exactly: 1500 g of an item kept in kg is 1.5 kg.
        let g = post_doc(&app, &t, issue(&wh, "2026-02-03", json!([{"item_id": plain, "quantity": "1500", "unit": "g"}]))).await;
        assert_eq!(g["lines"][0]["quantity"], "1.5000");

        // Items: a unit named twice, a sales unit it does not know, a duplicate SKU.
        let bad = app.post("/api/v1/items", &t.token, json!({"sku": "X", "name": "X", "units": [{"unit": "box", "factor": "6"}, {"unit": "box", "factor": "12"}], "sales_unit": "crate"})).await;
        assert_eq!(bad.fields(), ["units[1].unit", "sales_unit"]);
        let dup = app.post("/api/v1/items", &t.token, json!({"sku": "PLAIN", "name": "Again"})).await;
        assert_eq!(dup.fields(), ["sku"]);
        // Unused master data can be deleted; what has moved cannot.
        let spare = item(&app, &t, json!({"sku": "SPARE", "name": "Never used", "units": [{"unit": "box", "factor": "6"}]})).await;
        let gone = app.call(Method::DELETE, &format!("/api/v1/items/{spare}"), Some(&t.token), None, &[]).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
        assert_eq!(app.get(&format!("/api/v1/items/{spare}"), &t.token).await.status, StatusCode::NOT_FOUND);
        let used = app.call(Method::DELETE, &format!("/api/v1/items/{plain}"), Some(&t.token), None, &[]).await;
        assert_eq!(used.status, StatusCode::CONFLICT, "{:?}", used.body);
        let busy = app.call(Method::DELETE, &format!("/api/v1/warehouses/{wh}"), Some(&t.token), None, &[]).await;
        assert_eq!(busy.status, StatusCode::CONFLICT, "{:?}", busy.body);
        let bin = app.post(&format!("/api/v1/warehouses/{other}/bins"), &t.token, json!({"code": "A-1"})).await;
        assert_eq!(bin.status, StatusCode::CREATED);
        let empty = app.call(Method::DELETE, &format!("/api/v1/warehouses/{other}"), Some(&t.token), None, &[]).await;
        assert_eq!(empty.status, StatusCode::NO_CONTENT, "{:?}", empty.body);
        // The method of an item that has moved is fixed.
        let current = app.get(&format!("/api/v1/items/{plain}"), &t.token).await;
        let etag = current.header("etag").unwrap().to_owned();
        let change = app.patch(&format!("/api/v1/items/{plain}"), &t.token, &etag, json!({"valuation_method": "fifo"})).await;
        assert_eq!(change.status, StatusCode::CONFLICT, "{:?}", change.body);
    })
    .await;
}

#[tokio::test]
async fn reservations_hold_stock_back_from_issues() {
    on_each_backend(async |app| {
        let t = app.signup("Reserve Co").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let it = item(&app, &t, json!({"sku": "R-1", "name": "Reserved", "safety_stock": "5", "reorder_point": "8", "reorder_quantity": "10"})).await;
        post_doc(&app, &t, receipt(&wh, "2026-04-01", json!([{"item_id": it, "quantity": "10", "unit_cost": "3"}]))).await;
        let r = app.post("/api/v1/stock-reservations", &t.token, json!({"item_id": it, "warehouse_id": wh, "quantity": "7", "source_type": "sales_order", "source_id": "SO-1"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let l = level(&app, &t, &it, &wh).await;
        assert_eq!((l["reserved"].as_str(), l["available"].as_str()), (Some("7.0000"), Some("3.0000")));
        let too_much = app.post("/api/v1/stock-reservations", &t.token, json!({"item_id": it, "warehouse_id": wh, "quantity": "4"})).await;
        assert_eq!((too_much.status, too_much.problem()), (StatusCode::CONFLICT, "insufficient-stock"));
        let short = try_post(&app, &t, issue(&wh, "2026-04-02", json!([{"item_id": it, "quantity": "4"}]))).await;
        assert_eq!(short.problem(), "insufficient-stock", "reserved stock is not available to issue");

        let low = app.get("/api/v1/reports/low-stock", &t.token).await;
        assert_eq!(low.body["data"][0]["available"], "3.0000", "{:?}", low.body);
        assert_eq!(low.body["data"][0]["suggested_order"], "10.0000", "one lot of 10 lifts 3 above 8");

        let id = r.body["id"].as_str().unwrap();
        let part = app.post(&format!("/api/v1/stock-reservations/{id}/release"), &t.token, json!({"quantity": "2"})).await;
        assert_eq!((part.body["open_quantity"].as_str(), part.body["status"].as_str()), (Some("5.0000"), Some("open")));
        let rest = app.post(&format!("/api/v1/stock-reservations/{id}/release"), &t.token, json!({})).await;
        assert_eq!(rest.body["status"], "released");
        let again = app.post(&format!("/api/v1/stock-reservations/{id}/release"), &t.token, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(level(&app, &t, &it, &wh).await["available"], "10.0000");
        assert!(app.get("/api/v1/reports/low-stock", &t.token).await.body["data"].as_array().unwrap().is_empty());

        // A count loss is booked even when the stock was promised; only one open sheet per item.
        let held = app.post("/api/v1/stock-reservations", &t.token, json!({"item_id": it, "warehouse_id": wh, "quantity": "9"})).await;
        assert_eq!(held.status, StatusCode::CREATED);
        let st = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "stocktake", "warehouse_id": wh, "date": "2026-04-03", "lines": [{"item_id": it}]})).await;
        assert_eq!(st.body["lines"][0]["book_quantity"], "10.0000", "{:?}", st.body);
        let twice = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "stocktake", "warehouse_id": wh, "date": "2026-04-03", "lines": [{"item_id": it}]})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{:?}", twice.body);
        let id = st.body["id"].as_str().unwrap();
        app.post(&format!("/api/v1/stock-documents/{id}/counts"), &t.token, json!({"lines": [{"item_id": it, "counted_quantity": "8"}]})).await;
        let posted = app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(posted.body["status"], "posted", "{:?}", posted.body);
        let l = level(&app, &t, &it, &wh).await;
        assert_eq!((l["on_hand"].as_str(), l["available"].as_str()), (Some("8.0000"), Some("-1.0000")));

        // Slow movers: nothing has moved for 90 days by August.
        let slow = app.get("/api/v1/reports/overstock?as_of=2026-08-01&idle_days=90", &t.token).await;
        assert_eq!(slow.body[0]["sku"], "R-1", "{:?}", slow.body);
        assert_eq!(slow.body[0]["days_without_movement"], 120, "last moved by the count on 3 April");
        assert!(app.get("/api/v1/reports/overstock?as_of=2026-05-01&idle_days=90", &t.token).await.body.as_array().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn items_and_opening_stock_import_all_or_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Import Co").await;
        warehouse(&app, &t, "MAIN", false).await;
        let bad = "sku,name,base_unit,units,valuation_method,opening_quantity,opening_unit_cost,opening_warehouse\n\
                   A-1,Apple,kg,g=0.001,fifo,10,3.5,MAIN\n\
                   A-2,Pear,kg,box=oops,lifo,5,2,NOWHERE\n\
                   A-1,Again,pcs,,,,,\n";
        let a = app.post("/api/v1/items/import", &t.token, json!({"csv": bad, "opening_date": "2026-01-01"})).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
        assert_eq!(a.fields(), ["csv[row 3].units", "csv[row 3].valuation_method", "csv[row 3].opening_warehouse", "csv[row 4].sku"]);
        assert!(app.get("/api/v1/items", &t.token).await.body["data"].as_array().unwrap().is_empty(), "nothing written");

        let good = "sku,name,base_unit,units,valuation_method,opening_quantity,opening_unit_cost,opening_warehouse,safety_stock\n\
                    A-1,Apple,kg,g=0.001,fifo,10,3.5,MAIN,2\n\
                    A-2,Pear,kg,box=12,,5,2,MAIN,\n\
                    A-3,Service fee,,,,,,,\n";
        let a = app.post("/api/v1/items/import", &t.token, json!({"csv": good, "opening_date": "2026-01-01"})).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!((a.body["items_created"].as_u64(), a.body["opening_receipt_number"].as_str()), (Some(3), Some("GR-000001")));
        let v = valuation(&app, &t, "2026-01-01").await;
        assert_eq!(v["total_value"], "45.00");
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-01-31", &t.token).await;
        assert_eq!(line(&tb.body, "3104").unwrap()["closing_credit"], "45.00", "opening stock against the opening balance account");
        let again = app.post("/api/v1/items/import", &t.token, json!({"csv": "sku,name\nA-3,Consulting\n"})).await;
        assert_eq!((again.body["items_created"].as_u64(), again.body["items_updated"].as_u64()), (Some(0), Some(1)));
    })
    .await;
}

#[tokio::test]
async fn fifty_clients_issuing_the_last_ten_units_leave_exactly_zero() {
    for backend in backends() {
        let app = spawn_with(backend, |c| {
            c.workers = Some(4);
            c.db_max_connections = 12;
        })
        .await;
        let t = app.signup("Race Co").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let it = item(&app, &t, json!({"sku": "LAST", "name": "Last ten"})).await;
        post_doc(&app, &t, receipt(&wh, "2026-06-01", json!([{"item_id": it, "quantity": "10", "unit_cost": "7"}])))
            .await;
        let mut drafts = Vec::new();
        for _ in 0..50 {
            let d = app
                .post(
                    "/api/v1/stock-documents",
                    &t.token,
                    issue(&wh, "2026-06-02", json!([{"item_id": it, "quantity": "1"}])),
                )
                .await;
            drafts.push(d.body["id"].as_str().unwrap().to_owned());
        }
        let calls = drafts.iter().map(|id| {
            let (app, token) = (&app, t.token.clone());
            async move {
                app.call(Method::POST, &format!("/api/v1/stock-documents/{id}/post"), Some(&token), None, &[]).await
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        let ok = answers.iter().filter(|a| a.status == StatusCode::OK).count();
        let short =
            answers.iter().filter(|a| a.status == StatusCode::CONFLICT && a.problem() == "insufficient-stock").count();
        assert_eq!((ok, short), (10, 40), "{backend:?}: {:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
        let l = level(&app, &t, &it, &wh).await;
        assert_eq!((l["on_hand"].as_str(), l["value"].as_str()), (Some("0.0000"), Some("0.00")), "{backend:?}");
        valuation(&app, &t, "2026-06-30").await;
    }
}

#[tokio::test]
async fn landed_costs_share_by_weight_or_quantity_and_refuse_what_cannot_be_shared() {
    on_each_backend(async |app| {
        let t = app.signup("Freight Co").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let heavy = item(&app, &t, json!({"sku": "HEAVY", "name": "Heavy", "weight": "2", "valuation_method": "fifo"})).await;
        let light = item(&app, &t, json!({"sku": "LIGHT", "name": "Light", "weight": "1"})).await;
        let bare = item(&app, &t, json!({"sku": "BARE", "name": "No weight"})).await;
        let r = post_doc(&app, &t, receipt(&wh, "2026-07-01", json!([
            {"item_id": heavy, "quantity": "10", "unit_cost": "10"}, {"item_id": light, "quantity": "10", "unit_cost": "10"}]))).await;
        let by_weight = post_doc(&app, &t, json!({"kind": "landed_cost", "date": "2026-07-02", "basis": "weight", "amount": "30.00", "receipt_ids": [r["id"]]})).await;
        assert_eq!((by_weight["lines"][0]["amount"].as_str(), by_weight["lines"][1]["amount"].as_str()), (Some("20.00"), Some("10.00")));
        // Four heavy items leave; a charge by quantity now lands 6/10 of its share on them.
        post_doc(&app, &t, issue(&wh, "2026-07-03", json!([{"item_id": heavy, "quantity": "4"}]))).await;
        post_doc(&app, &t, json!({"kind": "landed_cost", "date": "2026-07-04", "basis": "quantity", "amount": "10.00", "receipt_ids": [r["id"]]})).await;
        assert_eq!(level(&app, &t, &heavy, &wh).await["value"], "75.00", "(100 + 20) x 6/10 + 5 x 6/10");
        assert_eq!(level(&app, &t, &light, &wh).await["value"], "115.00");
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-07-31", &t.token).await;
        assert_eq!(line(&tb.body, "5401").unwrap()["closing_debit"], "2.00", "the share of the four sold");
        valuation(&app, &t, "2026-07-31").await;

        let r2 = post_doc(&app, &t, receipt(&wh, "2026-07-05", json!([{"item_id": bare, "quantity": "1", "unit_cost": "5"}]))).await;
        let refused = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "landed_cost", "date": "2026-07-06", "basis": "weight", "amount": "1.00", "receipt_ids": [r2["id"]]})).await;
        assert_eq!(refused.fields(), ["basis"]);
        let not_receipt = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "landed_cost", "date": "2026-07-06", "amount": "1.00", "receipt_ids": [by_weight["id"]]})).await;
        assert_eq!(not_receipt.fields(), ["receipt_ids[0]"]);
        let inv = crate::ledger::id_of(&app, &t, "1405").await;
        let self_counter = app.post("/api/v1/stock-documents", &t.token, json!({"kind": "receipt", "warehouse_id": wh, "counter_account_id": inv,
            "lines": [{"item_id": bare, "quantity": "1"}]})).await;
        assert_eq!(self_counter.fields(), ["counter_account_id"]);
    })
    .await;
}
