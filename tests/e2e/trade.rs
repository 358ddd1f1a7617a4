//! Sales and purchasing through the API, for a small company: purchase requests approved and
//! merged into a purchase order with the supplier proposed from the price lists, partial goods
//! receipts within the over-receipt tolerance, a three-way matched supplier invoice with a
//! price variance, a held one released, a return to the supplier with its credit note; a
//! quotation priced by group and quantity break with a discount, accepted and confirmed
//! against the credit limit, delivered in two parts, billed, partly returned and credited,
//! partly paid; a foreign-currency order; and every bad input that must write nothing.
//! The books are checked to the cent at the end.

use meridian::domain::ids::TenantId;
use meridian::store::Access;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::stock::{item, level, warehouse};

/// An account's closing balance in the trial balance, debit positive, as a string with 2 places.
fn bal(tb: &Value, code: &str) -> String {
    let Some(l) = tb["lines"].as_array().unwrap().iter().find(|l| l["code"] == code) else {
        return "0.00".into();
    };
    let d: f64 = l["closing_debit"].as_str().unwrap_or("0").parse().unwrap();
    let c: f64 = l["closing_credit"].as_str().unwrap_or("0").parse().unwrap();
    format!("{:.2}", d - c)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, token, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{path}: {:?}", a.body);
    a.body
}

async fn act(app: &TestApp, token: &str, path: &str, body: Value) -> Answer {
    app.call(Method::POST, path, Some(token), Some(body), &[]).await
}

async fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = act(app, token, path, body).await;
    assert!(a.status.is_success(), "{path}: {} {:?}", a.status, a.body);
    a.body
}

async fn count(app: &TestApp, token: &str, path: &str) -> usize {
    let a = app.get(path, token).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn order_to_cash_and_procure_to_pay_land_in_the_books_to_the_cent() {
    on_each_backend(async |app| {
        let t = app.signup_with("Trade Co", "generic", "CNY").await;
        let owner = t.token.clone();
        let (_, buyer) = app.user_with_role(&t, "buyer@trade-co.test", "purchasing").await;
        let codes = app.get("/api/v1/tax-codes", &owner).await;
        let list = if codes.body.is_array() { &codes.body } else { &codes.body["data"] };
        let vat13 = list.as_array().unwrap().iter().find(|c| c["code"] == "VAT13").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let wh = warehouse(&app, &t, "WH-1", false).await;
        let chair = item(&app, &t, json!({"sku": "CHAIR", "name": "Chair", "base_unit": "pcs", "default_warehouse_id": wh})).await;
        let desk = item(
            &app,
            &t,
            json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "valuation_method": "fifo", "default_warehouse_id": wh}),
        )
        .await;
        let install =
            item(&app, &t, json!({"sku": "INSTALL", "name": "Installation", "base_unit": "h", "item_type": "service"})).await;
        let s1 = id(&created(&app, &owner, "/api/v1/suppliers", json!({"code": "S1", "name": "Fast Parts"})).await);
        let s2 = id(&created(&app, &owner, "/api/v1/suppliers", json!({"code": "S2", "name": "Slow Parts"})).await);
        let c1 = id(&created(
            &app,
            &owner,
            "/api/v1/customers",
            json!({"code": "C1", "name": "Trade Buyer", "group": "trade", "credit_limit": "10000.00",
                   "tags": ["High Value"], "contacts": [{"name": "Li Wei", "role": "buyer", "phone": "+86 21 5555"}]}),
        )
        .await);
        let c2 = id(&created(&app, &owner, "/api/v1/customers", json!({"code": "C2", "name": "Pacific", "currency": "USD"})).await);
        let cust = app.get(&format!("/api/v1/customers/{c1}"), &owner).await;
        assert_eq!(cust.body["tags"], json!(["high value"]));
        assert_eq!(cust.body["contacts"][0]["name"], "Li Wei");
        assert_eq!(count(&app, &owner, "/api/v1/customers?tag=high%20value").await, 1);
        assert_eq!(count(&app, &owner, "/api/v1/customers?group=trade").await, 1);
        for (rate, date) in [("7.000000", "2026-03-01"), ("7.200000", "2026-03-20")] {
            created(&app, &owner, "/api/v1/exchange-rates", json!({"currency": "USD", "rate_date": date, "rate": rate}))
                .await;
        }
        for body in [
            json!({"side": "purchase", "code": "PL-S1", "name": "S1", "party_id": s1, "items": [
                {"item_id": chair, "unit_price": "100.00", "lead_time_days": 5},
                {"item_id": desk, "unit_price": "300.00", "lead_time_days": 10}]}),
            json!({"side": "purchase", "code": "PL-S2", "name": "S2", "party_id": s2, "items": [
                {"item_id": chair, "unit_price": "95.00", "lead_time_days": 20}]}),
            json!({"side": "sales", "code": "RETAIL", "name": "Retail", "items": [
                {"item_id": chair, "unit_price": "200.00"}, {"item_id": desk, "unit_price": "500.00"},
                {"item_id": install, "unit_price": "80.00"}]}),
            json!({"side": "sales", "code": "TRADE", "name": "Trade", "party_group": "trade", "items": [
                {"item_id": chair, "unit_price": "190.00"}, {"item_id": chair, "min_quantity": "10", "unit_price": "180.00"}]}),
            json!({"side": "sales", "code": "RETAIL-USD", "name": "Retail USD", "currency": "USD", "items": [
                {"item_id": desk, "unit_price": "70.00"}]}),
        ] {
            created(&app, &owner, "/api/v1/price-lists", body).await;
        }
        let s = app
            .call(
                Method::PUT,
                "/api/v1/trade-settings",
                Some(&owner),
                Some(json!({"overdue_block_days": null, "over_receipt_tolerance": "0.10",
                            "price_tolerance": "0.02", "quantity_tolerance": "0"})),
                &[("If-Match", "\"0\"")],
            )
            .await;
        assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);

        // ------------------------------------------------------------ procure to pay
        let pr1 = created(&app, &buyer, "/api/v1/purchase-requests",
            json!({"item_id": chair, "quantity": "20", "needed_by": "2026-03-08"})).await;
        let pr2 = created(&app, &buyer, "/api/v1/purchase-requests",
            json!({"item_id": desk, "quantity": "5", "needed_by": "2026-03-20"})).await;
        assert_eq!(pr1["number"], "PR-000001");
        for pr in [&pr1, &pr2] {
            ok(&app, &buyer, &format!("/api/v1/purchase-requests/{}/submit", id(pr)), json!({})).await;
        }
        // The requester may not approve their own request (and the purchasing role cannot).
        let own = act(&app, &buyer, &format!("/api/v1/purchase-requests/{}/approve", id(&pr1)), json!({})).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);
        for pr in [&pr1, &pr2] {
            ok(&app, &owner, &format!("/api/v1/purchase-requests/{}/approve", id(pr)), json!({"note": "ok"})).await;
        }
        let pos = created(&app, &buyer, "/api/v1/purchase-orders/from-requests",
            json!({"request_ids": [id(&pr1), id(&pr2)], "order_date": "2026-03-01"})).await;
        let pos = pos.as_array().unwrap();
        assert_eq!(pos.len(), 1, "both requests go to S1 on one order: {pos:?}");
        let po1 = &pos[0];
        assert_eq!(po1["party_id"], s1.as_str());
        assert_eq!(po1["net_total"], "3500.00");
        let why = po1["lines"][0]["price_rule"].as_str().unwrap();
        assert!(why.contains("S1 on PL-S1: cheapest that arrives by 2026-03-08"), "{why}");
        assert_eq!(po1["lines"][0]["expected_date"], "2026-03-06");
        let po1 = id(po1);
        ok(&app, &owner, &format!("/api/v1/purchase-orders/{po1}/approve"), json!({})).await;
        let pr = app.get(&format!("/api/v1/purchase-requests/{}", id(&pr1)), &owner).await;
        assert_eq!((pr.body["status"].as_str(), pr.body["order_id"].as_str()), (Some("ordered"), Some(po1.as_str())));

        let grn1 = created(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": "2026-03-05",
            "lines": [{"order_id": po1, "line_no": 1, "quantity": "12"}, {"order_id": po1, "line_no": 2, "quantity": "5"}]})).await;
        assert_eq!((grn1["number"].as_str(), grn1["value"].as_str()), (Some("GRN-000001"), Some("2700.00")));
        // 12 + 11 = 23 is beyond the 10 % tolerance on 20 (22): refused, nothing received.
        let over = act(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": "2026-03-06",
            "lines": [{"order_id": po1, "line_no": 1, "quantity": "11"}]})).await;
        assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", over.body);
        assert!(over.body["errors"][0]["message"].as_str().unwrap().contains("tolerance (10%) allows 22"), "{:?}", over.body);
        assert_eq!(count(&app, &owner, "/api/v1/goods-receipts").await, 1);
        let grn2 = created(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": "2026-03-07",
            "lines": [{"order_id": po1, "line_no": 1, "quantity": "8"}]})).await;

        // Matched: the desk is 2 % above the order price, within tolerance; the 30.00 goes to
        // purchase price variance, GRNI is cleared at what was received.
        let pi1 = created(&app, &owner, "/api/v1/supplier-invoices/from-receipts", json!({
            "supplier_id": s1, "invoice_date": "2026-03-08", "reference": "S1-77", "lines": [
                {"receipt_id": id(&grn1), "line_no": 1, "quantity": "12", "unit_price": "100.00", "tax_code_id": vat13},
                {"receipt_id": id(&grn1), "line_no": 2, "quantity": "5", "unit_price": "306.00", "tax_code_id": vat13},
                {"receipt_id": id(&grn2), "line_no": 1, "quantity": "8", "unit_price": "100.00", "tax_code_id": vat13}]})).await;
        assert_eq!((pi1["gross_total"].as_str(), pi1["hold_reason"].as_null()), (Some("3988.90"), Some(())));
        // Two chairs go back; they were billed, so a supplier credit note comes with them.
        let rtv = created(&app, &owner, &format!("/api/v1/goods-receipts/{}/returns", id(&grn2)),
            json!({"date": "2026-03-09", "reason": "scratched", "credit_reference": "S1-CN-3",
                   "lines": [{"line_no": 1, "quantity": "2"}]})).await;
        assert_eq!((rtv["number"].as_str(), rtv["value"].as_str()), (Some("RTV-000001"), Some("200.00")));
        assert_eq!(rtv["credit_note"]["gross_total"], "226.00");

        // A second order by hand, billed 10 % over its price: held with the reason.
        let po2 = created(&app, &buyer, "/api/v1/purchase-orders", json!({"supplier_id": s1, "order_date": "2026-03-10",
            "lines": [{"item_id": chair, "quantity": "10"}]})).await;
        assert_eq!(po2["lines"][0]["unit_price"], "100.0000", "priced from S1's list");
        let po2 = id(&po2);
        ok(&app, &owner, &format!("/api/v1/purchase-orders/{po2}/approve"), json!({})).await;
        let grn3 = created(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": "2026-03-12",
            "lines": [{"order_id": po2, "line_no": 1, "quantity": "10"}]})).await;
        ok(&app, &owner, &format!("/api/v1/purchase-orders/{po2}/close"), json!({})).await;
        let closed = act(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": "2026-03-13",
            "lines": [{"order_id": po2, "line_no": 1, "quantity": "1"}]})).await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "receiving against a closed order: {:?}", closed.body);
        assert!(closed.body["detail"].as_str().unwrap().contains("closed"), "{:?}", closed.body);
        assert_eq!(count(&app, &owner, "/api/v1/goods-receipts?kind=delivery").await, 3);
        let pi2 = created(&app, &owner, "/api/v1/supplier-invoices/from-receipts", json!({
            "supplier_id": s1, "invoice_date": "2026-03-13", "reference": "S1-80", "lines": [
                {"receipt_id": id(&grn3), "line_no": 1, "quantity": "10", "unit_price": "110.00", "tax_code_id": vat13}]})).await;
        let hold = pi2["hold_reason"].as_str().unwrap();
        assert!(hold.contains("price 110 is 10 above the order's 100 (10%) (tolerance 2%)"), "{hold}");
        let pay_held = act(&app, &owner, "/api/v1/payments", json!({"supplier_id": s1, "payment_date": "2026-03-20",
            "amount": "1243.00", "allocations": [{"invoice_id": id(&pi2), "amount": "1243.00"}]})).await;
        assert_eq!(pay_held.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", pay_held.body);
        assert!(pay_held.body["errors"][0]["message"].as_str().unwrap().contains("is held"), "{:?}", pay_held.body);
        let no_note = act(&app, &owner, &format!("/api/v1/supplier-invoices/{}/release", id(&pi2)), json!({})).await;
        assert_eq!(no_note.status, StatusCode::UNPROCESSABLE_ENTITY);
        ok(&app, &owner, &format!("/api/v1/supplier-invoices/{}/release", id(&pi2)), json!({"note": "agreed surcharge"})).await;
        for (inv, amount) in [(&pi1, "3988.90"), (&pi2, "1243.00")] {
            created(&app, &owner, "/api/v1/payments", json!({"supplier_id": s1, "payment_date": "2026-03-20",
                "amount": amount, "allocations": [{"invoice_id": id(inv), "amount": amount}]})).await;
        }

        // ------------------------------------------------------------ order to cash
        // Ten chairs reach the trade group's break (180.00); 50.00 off the line.
        let sq = created(&app, &owner, "/api/v1/sales-orders", json!({"customer_id": c1, "kind": "quotation",
            "order_date": "2026-03-15", "valid_until": "2026-03-31", "lines": [
                {"item_id": chair, "quantity": "10", "discount_amount": "50.00", "tax_code_id": vat13},
                {"item_id": install, "quantity": "1", "tax_code_id": vat13}]})).await;
        assert_eq!(sq["number"], "SQ-000001");
        assert_eq!(sq["lines"][0]["unit_price"], "180.0000");
        assert_eq!(sq["lines"][0]["price_rule"], "price list TRADE (for the party's group), from 10 units: 180");
        assert_eq!(sq["lines"][1]["price_rule"], "price list RETAIL (for everyone): 80");
        assert_eq!(sq["gross_total"], "2067.90");
        let so1 = created(&app, &owner, &format!("/api/v1/sales-orders/{}/accept", id(&sq)), json!({"order_date": "2026-03-20"})).await;
        let so1 = id(&so1);
        ok(&app, &owner, &format!("/api/v1/sales-orders/{so1}/confirm"), json!({})).await;
        assert_eq!(level(&app, &t, &chair, &wh).await["reserved"], "10.0000");

        // Over the limit: 2,067.90 open on orders + 11,300.00 = 13,367.90 against 10,000.00.
        let big = created(&app, &owner, "/api/v1/sales-orders", json!({"customer_id": c1, "order_date": "2026-03-20",
            "lines": [{"item_id": desk, "quantity": "20", "tax_code_id": vat13}]})).await;
        let refused = act(&app, &owner, &format!("/api/v1/sales-orders/{}/confirm", id(&big)), json!({})).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
        assert_eq!(refused.body["rule"], "credit_limit");
        let detail = refused.body["detail"].as_str().unwrap();
        assert!(detail.contains("exceeded by 3367.90") && detail.contains("open orders 2067.90"), "{detail}");
        let still = app.get(&format!("/api/v1/sales-orders/{}", id(&big)), &owner).await;
        assert_eq!((still.body["status"].as_str(), still.body["lines"][0]["reservation_id"].as_null()), (Some("draft"), Some(())));
        // A confirmed order's lines are fixed.
        let so_now = app.get(&format!("/api/v1/sales-orders/{so1}"), &owner).await;
        let etag = so_now.header("etag").unwrap().to_owned();
        let edit = app.patch(&format!("/api/v1/sales-orders/{so1}"), &owner, &etag, json!({"customer_id": c1,
            "order_date": "2026-03-20", "lines": [{"item_id": chair, "quantity": "1"}]})).await;
        assert_eq!(edit.status, StatusCode::CONFLICT, "{:?}", edit.body);
        assert!(edit.body["detail"].as_str().unwrap().contains("confirmed"), "{:?}", edit.body);

        let dn1 = created(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c1, "date": "2026-03-21",
            "lines": [{"order_id": so1, "line_no": 1, "quantity": "6"}]})).await;
        assert_eq!((dn1["number"].as_str(), dn1["value"].as_str()), (Some("DN-000001"), Some("600.00")));
        let too_many = act(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c1, "date": "2026-03-21",
            "lines": [{"order_id": so1, "line_no": 1, "quantity": "5"}]})).await;
        assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(too_many.body["errors"][0]["message"].as_str().unwrap().contains("more than the 4 still to deliver"), "{:?}", too_many.body);
        assert_eq!(count(&app, &owner, "/api/v1/deliveries").await, 1);
        let part = app.get(&format!("/api/v1/sales-orders/{so1}"), &owner).await;
        assert_eq!((part.body["progress"].as_str(), part.body["lines"][0]["backorder"].as_str()), (Some("partly_delivered"), Some("4.0000")));

        let si1 = created(&app, &owner, "/api/v1/sales-invoices/from-deliveries",
            json!({"delivery_ids": [id(&dn1)], "invoice_date": "2026-03-21"})).await;
        assert_eq!((si1["net_total"].as_str(), si1["gross_total"].as_str()), (Some("1050.00"), Some("1186.50")));
        assert_eq!(si1["lines"][0]["discount"], "30.00", "6 of 10 chairs carry 30.00 of the 50.00 off");
        let invoices_before = count(&app, &owner, "/api/v1/sales-invoices").await;
        let again = act(&app, &owner, "/api/v1/sales-invoices/from-deliveries",
            json!({"delivery_ids": [id(&dn1)], "invoice_date": "2026-03-21"})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "invoicing what is not delivered: {:?}", again.body);
        assert_eq!(count(&app, &owner, "/api/v1/sales-invoices").await, invoices_before);
        let si2 = created(&app, &owner, &format!("/api/v1/sales-orders/{so1}/invoice"), json!({"invoice_date": "2026-03-21"})).await;
        assert_eq!(si2["gross_total"], "90.40");
        let dn2 = created(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c1, "date": "2026-03-22",
            "lines": [{"order_id": so1, "line_no": 1, "quantity": "4"}]})).await;
        let si3 = created(&app, &owner, "/api/v1/sales-invoices/from-deliveries",
            json!({"delivery_ids": [id(&dn2)], "invoice_date": "2026-03-22"})).await;
        assert_eq!((si3["net_total"].as_str(), si3["gross_total"].as_str()), (Some("700.00"), Some("791.00")));
        // One chair of the first delivery comes back: at the 100.00 it left with, and credited.
        let rma = created(&app, &owner, &format!("/api/v1/deliveries/{}/returns", id(&dn1)),
            json!({"date": "2026-03-23", "reason": "wrong colour", "lines": [{"line_no": 1, "quantity": "1"}]})).await;
        assert_eq!((rma["number"].as_str(), rma["value"].as_str()), (Some("RMA-000001"), Some("100.00")));
        assert_eq!(rma["credit_note"]["gross_total"], "197.75");
        assert_eq!(rma["credit_note"]["credit_note_of"], id(&si1).as_str());
        let si1_now = app.get(&format!("/api/v1/sales-invoices/{}", id(&si1)), &owner).await;
        assert_eq!(si1_now.body["open_amount"], "988.75");
        // Partly paid: 500.00 of the first invoice and the services in full.
        created(&app, &owner, "/api/v1/receipts", json!({"customer_id": c1, "payment_date": "2026-03-25", "amount": "590.40",
            "allocations": [{"invoice_id": id(&si1), "amount": "500.00"}, {"invoice_id": id(&si2), "amount": "90.40"}]})).await;
        let so = app.get(&format!("/api/v1/sales-orders/{so1}"), &owner).await;
        assert_eq!(so.body["progress"], "invoiced");
        assert_eq!((so.body["delivery_status"].as_str(), so.body["billing_status"].as_str()), (Some("delivered"), Some("invoiced")));
        assert_eq!((so.body["revenue"].as_str(), so.body["cost_of_goods"].as_str(), so.body["margin"].as_str()),
            (Some("1655.00"), Some("900.00"), Some("755.00")));
        assert_eq!(so.body["shipments"].as_array().unwrap().len(), 3);
        assert_eq!(so.body["invoices"].as_array().unwrap().len(), 4);
        assert_eq!(so.body["payments"].as_array().unwrap().len(), 3, "two receipts and the credit note");

        // A US customer: 2 desks at 70.00 USD, FIFO cost 300.00 each, billed at 7.20.
        let so3 = created(&app, &owner, "/api/v1/sales-orders", json!({"customer_id": c2, "order_date": "2026-03-20",
            "lines": [{"item_id": desk, "quantity": "2", "tax_code_id": vat13}]})).await;
        assert_eq!((so3["currency"].as_str(), so3["gross_total"].as_str()), (Some("USD"), Some("158.20")));
        let so3 = id(&so3);
        ok(&app, &owner, &format!("/api/v1/sales-orders/{so3}/confirm"), json!({})).await;
        let dn3 = created(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c2, "date": "2026-03-24",
            "lines": [{"order_id": so3, "line_no": 1, "quantity": "2"}]})).await;
        assert_eq!(dn3["value"], "600.00");
        let wrong = created(&app, &owner, "/api/v1/sales-invoices/from-deliveries",
            json!({"delivery_ids": [id(&dn3)], "invoice_date": "2026-03-24"})).await;
        ok(&app, &owner, &format!("/api/v1/sales-invoices/{}/cancel", id(&wrong)), json!({})).await;
        let paid_cancelled = act(&app, &owner, "/api/v1/receipts", json!({"customer_id": c2, "payment_date": "2026-03-25",
            "amount": "10.00", "allocations": [{"invoice_id": id(&wrong), "amount": "10.00"}]})).await;
        assert_eq!(paid_cancelled.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", paid_cancelled.body);
        assert_eq!(count(&app, &owner, &format!("/api/v1/receipts?customer_id={c2}")).await, 0, "no receipt written");
        let usd = created(&app, &owner, "/api/v1/sales-invoices/from-deliveries",
            json!({"delivery_ids": [id(&dn3)], "invoice_date": "2026-03-24"})).await;
        assert_eq!((usd["gross_total"].as_str(), usd["gross_base"].as_str()), (Some("158.20"), Some("1139.04")));

        // ------------------------------------------------------------ the books
        let c = level(&app, &t, &chair, &wh).await;
        assert_eq!((c["on_hand"].as_str(), c["value"].as_str(), c["reserved"].as_str()), (Some("19.0000"), Some("1900.00"), Some("0.0000")));
        let d = level(&app, &t, &desk, &wh).await;
        assert_eq!((d["on_hand"].as_str(), d["value"].as_str()), (Some("3.0000"), Some("900.00")));
        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-03-31", &owner).await;
        assert_eq!(tb.status, StatusCode::OK);
        assert_eq!(tb.body["totals"]["balanced"], true);
        let expect = [
            ("120010", "2800.00", "inventory"),
            ("2010", "0.00", "goods received not invoiced"),
            ("1100", "2418.79", "receivables: 488.75 + 791.00 + 1,139.04"),
            ("2000", "226.00", "payables: the supplier's open credit note"),
            ("4000", "-2663.00", "revenue"),
            ("5000", "1500.00", "cost of goods sold"),
            ("5050", "130.00", "purchase price variance"),
            ("1150", "575.90", "VAT input"),
            ("2100", "-346.19", "VAT output"),
            ("1010", "-4641.50", "bank"),
        ];
        for (code, want, what) in expect {
            assert_eq!(bal(&tb.body, code), want, "{what} ({code})");
        }
        let v = app.get("/api/v1/reports/stock-valuation?as_of=2026-03-31", &owner).await;
        assert_eq!(v.body["total_value"], v.body["ledger_inventory"]);

        // Supplier performance: 2 of 3 promised receipts on time, 130.00 over 4,300.00 ordered.
        let perf = app.get(&format!("/api/v1/reports/supplier-performance?from=2026-03-01&to=2026-03-31&supplier_id={s1}"), &owner).await;
        assert_eq!(perf.status, StatusCode::OK, "{:?}", perf.body);
        let p = &perf.body[0];
        assert_eq!((p["orders"].as_u64(), p["receipts"].as_u64(), p["on_time"].as_u64()), (Some(2), Some(3), Some(2)));
        assert_eq!((p["price_variance"].as_str(), p["price_variance_rate"].as_str()), (Some("130.00"), Some("0.0302")));
        assert_eq!(p["average_lead_days"], "4.0");

        // Overdue invoices block new orders once the tenant says so.
        let s = app.get("/api/v1/trade-settings", &owner).await;
        let etag = s.header("etag").unwrap().to_owned();
        let put = app.call(Method::PUT, "/api/v1/trade-settings", Some(&owner), Some(json!({"overdue_block_days": 10,
            "over_receipt_tolerance": "0.10", "price_tolerance": "0.02", "quantity_tolerance": "0"})), &[("If-Match", &etag)]).await;
        assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
        let late = created(&app, &owner, "/api/v1/sales-orders", json!({"customer_id": c1, "order_date": "2026-06-30",
            "lines": [{"item_id": chair, "quantity": "1"}]})).await;
        let blocked = act(&app, &owner, &format!("/api/v1/sales-orders/{}/confirm", id(&late)), json!({})).await;
        assert_eq!((blocked.status, blocked.body["rule"].as_str()), (StatusCode::CONFLICT, Some("overdue")), "{:?}", blocked.body);
        let why = blocked.body["detail"].as_str().unwrap();
        assert!(why.contains("invoice SI-000001 is ") && why.contains(" days overdue with 488.75 open"), "{why}");
        assert!(why.contains("orders are blocked after 10 days"), "{why}");

        // Every entry balances, balances equal their lines, vouchers are numbered 1..n per
        // period, and the sub-ledgers equal their control accounts.
        let tx = app.state.store.begin(TenantId(t.id.parse().unwrap()), Access::Read).await.unwrap();
        let mut violations = meridian::store::ledger::invariant_violations(&tx).await.unwrap();
        violations.extend(meridian::app::receivables::control_violations(&tx).await.unwrap());
        tx.commit().await.unwrap();
        assert!(violations.is_empty(), "{violations:?}");
    })
    .await;
}

#[tokio::test]
async fn short_stock_refuses_or_backorders_and_cancelling_releases_the_reservation() {
    on_each_backend(async |app| {
        let t = app.signup_with("Short Co", "generic", "CNY").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let lamp =
            item(&app, &t, json!({"sku": "LAMP", "name": "Lamp", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        let c = id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C", "name": "C"})).await);
        crate::stock::post_doc(
            &app,
            &t,
            crate::stock::receipt(&wh, "2026-03-01", json!([{"item_id": lamp, "quantity": "3", "unit_cost": "10"}])),
        )
        .await;
        let so = id(&created(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": c, "order_date": "2026-03-02",
            "lines": [{"item_id": lamp, "quantity": "5", "unit_price": "20.00"}]}),
        )
        .await);
        let short = act(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
        assert_eq!(short.status, StatusCode::CONFLICT);
        assert_eq!(short.body["errors"][0]["field"], "lines[0].quantity");
        assert!(
            short.body["errors"][0]["message"].as_str().unwrap().contains("3 of LAMP available, 5 ordered: short by 2"),
            "{:?}",
            short.body
        );
        assert_eq!(level(&app, &t, &lamp, &wh).await["reserved"], "0.0000", "nothing reserved");
        let so_v = app.get(&format!("/api/v1/sales-orders/{so}"), &t.token).await;
        assert_eq!(so_v.body["lines"][0]["price_rule"], "entered by hand (no price list applies)");
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({"backorder": true})).await;
        assert_eq!(level(&app, &t, &lamp, &wh).await["reserved"], "3.0000", "what there is is reserved");
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{so}/cancel"), json!({"reason": "customer changed mind"}))
            .await;
        assert_eq!(level(&app, &t, &lamp, &wh).await["reserved"], "0.0000", "cancelling releases it");
        let again = act(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        // Bad order input is reported field by field and writes nothing.
        let before = count(&app, &t.token, "/api/v1/sales-orders").await;
        let bad = act(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": c, "order_date": "2026-03-02",
            "discount_percent": "1.5", "lines": [{"item_id": lamp, "quantity": "-1"},
            {"item_id": lamp, "quantity": "1", "discount_amount": "30.00", "unit_price": "20.00"}]}),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields = bad.fields();
        for f in ["discount_percent", "lines[0].quantity", "lines[0].unit_price", "lines[1].discount_amount"] {
            assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
        }
        assert_eq!(count(&app, &t.token, "/api/v1/sales-orders").await, before);
        // Another tenant's order is not there.
        let other = app.signup("Other Trade").await;
        let peek = app.get(&format!("/api/v1/sales-orders/{so}"), &other.token).await;
        assert_eq!(peek.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn an_order_billed_in_parts_adds_up_to_the_order_and_a_quotation_can_be_cancelled() {
    on_each_backend(async |app| {
        let t = app.signup_with("Parts Co", "generic", "CNY").await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let pen =
            item(&app, &t, json!({"sku": "PEN", "name": "Pen", "base_unit": "pcs", "default_warehouse_id": wh})).await;
        let c = id(&created(
            &app,
            &t.token,
            "/api/v1/customers",
            json!({"code": "C", "name": "C", "credit_limit": "1000.00"}),
        )
        .await);
        crate::stock::post_doc(
            &app,
            &t,
            crate::stock::receipt(&wh, "2026-03-01", json!([{"item_id": pen, "quantity": "3", "unit_cost": "10"}])),
        )
        .await;
        let so = id(&created(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": c, "order_date": "2026-03-02",
            "lines": [{"item_id": pen, "quantity": "3", "unit_price": "33.3333"}]}),
        )
        .await);
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
        let mut nets = Vec::new();
        for day in ["03", "04", "05"] {
            let dn = created(
                &app,
                &t.token,
                "/api/v1/deliveries",
                json!({"customer_id": c, "date": format!("2026-03-{day}"),
                "lines": [{"order_id": so, "line_no": 1, "quantity": "1"}]}),
            )
            .await;
            let inv = created(
                &app,
                &t.token,
                "/api/v1/sales-invoices/from-deliveries",
                json!({"delivery_ids": [id(&dn)], "invoice_date": format!("2026-03-{day}")}),
            )
            .await;
            nets.push(inv["net_total"].as_str().unwrap().to_owned());
        }
        assert_eq!(nets, ["33.33", "33.34", "33.33"], "each part is its cumulative share: 33.33, 66.67, 100.00");
        let o = app.get(&format!("/api/v1/sales-orders/{so}"), &t.token).await;
        assert_eq!(
            (o.body["gross_total"].as_str(), o.body["invoiced_gross"].as_str()),
            (Some("100.00"), Some("100.00"))
        );
        assert_eq!(o.body["open_base"], "0.00", "nothing left counts against credit");

        let q = id(&created(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": c, "kind": "quotation",
            "order_date": "2026-03-02", "lines": [{"item_id": pen, "quantity": "1", "unit_price": "5.00"}]}),
        )
        .await);
        let cancelled = ok(&app, &t.token, &format!("/api/v1/sales-orders/{q}/cancel"), json!({})).await;
        assert_eq!(cancelled["status"], "cancelled");
        let confirm = act(&app, &t.token, &format!("/api/v1/sales-orders/{q}/confirm"), json!({})).await;
        assert_eq!(confirm.status, StatusCode::CONFLICT, "a quotation is accepted, not confirmed");
    })
    .await;
}

/// One delivery may ship an order line in parts from two warehouses: the part leaving from the
/// reserved warehouse consumes the reservation, the part from elsewhere releases as much of it;
/// the rest stays reserved and the next delivery consumes it.
#[tokio::test]
async fn a_line_delivered_in_parts_from_two_warehouses_consumes_and_releases_its_reservation() {
    on_each_backend(async |app| {
        let t = app.signup_with("Parts Co", "generic", "CNY").await;
        let main = warehouse(&app, &t, "MAIN", false).await;
        let east = warehouse(&app, &t, "EAST", false).await;
        let desk =
            item(&app, &t, json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "default_warehouse_id": main}))
                .await;
        let c = id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C", "name": "C"})).await);
        for wh in [&main, &east] {
            crate::stock::post_doc(
                &app,
                &t,
                crate::stock::receipt(
                    wh,
                    "2026-03-01",
                    json!([{"item_id": desk, "quantity": "20", "unit_cost": "10"}]),
                ),
            )
            .await;
        }
        let so = id(&created(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": c, "order_date": "2026-03-02",
                   "lines": [{"item_id": desk, "quantity": "10", "unit_price": "30.00"}]}),
        )
        .await);
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
        assert_eq!(level(&app, &t, &desk, &main).await["reserved"], "10.0000");
        let first = ok(
            &app,
            &t.token,
            "/api/v1/deliveries",
            json!({"customer_id": c, "date": "2026-03-03", "lines": [
                {"order_id": so, "line_no": 1, "quantity": "4"},
                {"order_id": so, "line_no": 1, "quantity": "3", "warehouse_id": east}]}),
        )
        .await;
        assert_eq!(first["lines"].as_array().unwrap().len(), 2, "{first:?}");
        let (m, e) = (level(&app, &t, &desk, &main).await, level(&app, &t, &desk, &east).await);
        assert_eq!((m["on_hand"].as_str(), m["reserved"].as_str()), (Some("16.0000"), Some("3.0000")));
        assert_eq!((e["on_hand"].as_str(), e["reserved"].as_str()), (Some("17.0000"), Some("0.0000")));
        let r = app.get(&format!("/api/v1/stock-reservations?item_id={desk}"), &t.token).await;
        let r = &r.body["data"][0];
        assert_eq!((r["open_quantity"].as_str(), r["status"].as_str()), (Some("3.0000"), Some("open")), "{r:?}");
        ok(
            &app,
            &t.token,
            "/api/v1/deliveries",
            json!({"customer_id": c, "date": "2026-03-04", "lines": [{"order_id": so, "line_no": 1, "quantity": "3"}]}),
        )
        .await;
        assert_eq!(level(&app, &t, &desk, &main).await["reserved"], "0.0000");
        let r = app.get(&format!("/api/v1/stock-reservations?item_id={desk}"), &t.token).await;
        let r = &r.body["data"][0];
        assert_eq!((r["open_quantity"].as_str(), r["status"].as_str()), (Some("0.0000"), Some("consumed")), "{r:?}");
        let o = app.get(&format!("/api/v1/sales-orders/{so}"), &t.token).await;
        assert_eq!(
            (o.body["lines"][0]["shipped"].as_str(), o.body["lines"][0]["cost"].as_str()),
            (Some("10.0000"), Some("100.00")),
            "{:?}",
            o.body
        );
    })
    .await;
}
