//! Production through the API: a three-level bike from a sales order through MRP (lot sizing,
//! pegging), accepted suggestions, purchasing and receipts, kit analysis and alerts, a frame
//! order with a kit-issued and a backflushed component, a bike order completed in two parts at
//! standard cost with an extra issue and a return, close with its variance, delivery and
//! payment; a second MRP run that proposes nothing; every bad input that must write nothing.
//! The books are checked to the cent at the end.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::stock::{item, level, post_doc, receipt, warehouse};

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

async fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, token, body).await;
    assert!(a.status.is_success(), "{path}: {} {:?}", a.status, a.body);
    a.body
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let a = app.get(path, token).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.call(Method::PUT, path, Some(token), Some(body), &[("If-Match", "\"0\"")]).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body
}

/// A date `n` days from the server's today (the test clock starts at the real time).
fn day(n: u64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Days::new(n)).to_string()
}

fn by_item<'a>(rows: &'a Value, item: &str) -> &'a Value {
    rows.as_array().unwrap().iter().find(|r| r["item_id"] == item).unwrap_or_else(|| panic!("{item} in {rows:?}"))
}

#[tokio::test]
async fn a_three_level_product_goes_from_sales_order_through_mrp_and_production_into_the_books() {
    on_each_backend(async |app| {
        let t = app.signup_with("Bikes Co", "generic", "CNY").await;
        let owner = t.token.clone();
        let codes = get(&app, &owner, "/api/v1/tax-codes").await;
        let list = if codes.is_array() { codes.clone() } else { codes["data"].clone() };
        let vat13 = id(list.as_array().unwrap().iter().find(|c| c["code"] == "VAT13").unwrap());
        let wh = warehouse(&app, &t, "WH-1", false).await;
        let mk = |sku: &str, kind: &str, std: &str| {
            json!({"sku": sku, "name": sku, "base_unit": "pcs", "item_type": kind, "standard_cost": std, "default_warehouse_id": wh})
        };
        let bike = item(&app, &t, mk("BIKE", "manufactured", "130.00")).await;
        let frame = item(&app, &t, mk("FRAME", "manufactured", "0")).await;
        let wheel = item(&app, &t, mk("WHEEL", "purchased", "0")).await;
        let screw = item(&app, &t, mk("SCREW", "purchased", "0")).await;
        let tube = item(&app, &t, mk("TUBE", "purchased", "0")).await;
        let paint = item(&app, &t, mk("PAINT", "purchased", "0")).await;
        post_doc(&app, &t, receipt(&wh, &day(0), json!([{"item_id": screw, "quantity": "100", "unit_cost": "0.50"}]))).await;
        let s1 = id(&created(&app, &owner, "/api/v1/suppliers", json!({"code": "S1", "name": "Parts Ltd"})).await);
        let c1 = id(&created(&app, &owner, "/api/v1/customers", json!({"code": "C1", "name": "Cycle Shop"})).await);
        created(&app, &owner, "/api/v1/price-lists", json!({"side": "purchase", "code": "PL-S1", "name": "S1", "party_id": s1,
            "items": [{"item_id": wheel, "unit_price": "40.00", "lead_time_days": 5},
                      {"item_id": tube, "unit_price": "15.00", "lead_time_days": 3},
                      {"item_id": paint, "unit_price": "8.00", "lead_time_days": 2},
                      {"item_id": screw, "unit_price": "0.50", "lead_time_days": 1}]})).await;
        created(&app, &owner, "/api/v1/price-lists", json!({"side": "sales", "code": "RETAIL", "name": "Retail",
            "items": [{"item_id": bike, "unit_price": "500.00"}]})).await;
        put(&app, &owner, "/api/v1/production-settings", json!({"overhead_rate": "0.1", "overhead_per_unit": "2.00"})).await;
        put(&app, &owner, &format!("/api/v1/items/{bike}/planning"), json!({"lead_time_days": 3})).await;
        put(&app, &owner, &format!("/api/v1/items/{frame}/planning"), json!({"lead_time_days": 2})).await;
        put(&app, &owner, &format!("/api/v1/items/{wheel}/planning"), json!({"lot_multiple": "8"})).await;
        put(&app, &owner, &format!("/api/v1/items/{tube}/planning"), json!({"lot_minimum": "25"})).await;

        // ------------------------------------------------------------ bills of material
        let frame_bom = created(&app, &owner, "/api/v1/boms", json!({"item_id": frame, "revision": "A", "lines": [
            {"component_id": tube, "quantity": "2"},
            {"component_id": paint, "quantity": "0.5", "issue_method": "backflush"}]})).await;
        let bike_bom = created(&app, &owner, "/api/v1/boms", json!({"item_id": bike, "revision": "A", "lines": [
            {"component_id": frame, "quantity": "1"},
            {"component_id": wheel, "quantity": "2"},
            {"component_id": screw, "quantity": "4", "scrap_percent": "10", "issue_method": "backflush"}]})).await;
        assert_eq!((bike_bom["status"].as_str(), bike_bom["lines"][2]["scrap_percent"].as_str()), (Some("draft"), Some("10.0000")));
        for b in [&frame_bom, &bike_bom] {
            ok(&app, &owner, &format!("/api/v1/boms/{}/activate", id(b)), json!({})).await;
        }
        // A tube made of bikes would contain itself: refused with the cycle named, nothing written.
        let boms_before = get(&app, &owner, "/api/v1/boms").await["data"].as_array().unwrap().len();
        let cycle = app.post("/api/v1/boms", &owner, json!({"item_id": tube, "revision": "A",
            "lines": [{"component_id": bike, "quantity": "1"}]})).await;
        assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", cycle.body);
        assert_eq!(cycle.body["errors"][0]["field"], "lines[0].component_id");
        assert_eq!(cycle.body["errors"][0]["message"], "the bill would contain itself: TUBE → BIKE → FRAME → TUBE");
        let negative = app.post("/api/v1/boms", &owner, json!({"item_id": wheel, "revision": "A",
            "lines": [{"component_id": screw, "quantity": "1", "scrap_percent": "-1"}]})).await;
        assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", negative.body);
        assert_eq!(negative.body["errors"][0]["field"], "lines[0].scrap_percent");
        assert_eq!(get(&app, &owner, "/api/v1/boms").await["data"].as_array().unwrap().len(), boms_before);
        // A second revision valid at the same time cannot be active beside the first.
        let rev_b = created(&app, &owner, "/api/v1/boms", json!({"item_id": frame, "revision": "B", "lines": [
            {"component_id": tube, "quantity": "3"}]})).await;
        let overlap = app.post(&format!("/api/v1/boms/{}/activate", id(&rev_b)), &owner, json!({})).await;
        assert_eq!(overlap.status, StatusCode::CONFLICT, "{:?}", overlap.body);
        assert!(overlap.body["detail"].as_str().unwrap().contains("Revision A of this item is active (without end dates), which overlaps this one (without end dates)"), "{:?}", overlap.body);
        assert_eq!(get(&app, &owner, &format!("/api/v1/boms/{}", id(&rev_b))).await["status"], "draft");

        let ex = get(&app, &owner, &format!("/api/v1/boms/{}/explosion?quantity=10", id(&bike_bom))).await;
        let rows: Vec<(u64, &str, &str)> = ex["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["level"].as_u64().unwrap(), r["sku"].as_str().unwrap(), r["quantity"].as_str().unwrap()))
            .collect();
        assert_eq!(rows, vec![(1, "FRAME", "10.0000"), (2, "TUBE", "20.0000"), (2, "PAINT", "5.0000"),
            (1, "WHEEL", "20.0000"), (1, "SCREW", "44.0000")]);
        let used = get(&app, &owner, &format!("/api/v1/items/{tube}/where-used")).await;
        let used: Vec<(u64, &str)> = used["data"].as_array().unwrap().iter()
            .map(|r| (r["level"].as_u64().unwrap(), r["parent_sku"].as_str().unwrap())).collect();
        assert!(used.contains(&(1, "FRAME")) && used.contains(&(2, "BIKE")), "{used:?}");
        // Screws at 0.50 with 10 % scrap, tubes and paint at their standard (none yet: 0), plus
        // 10 % overhead and 2.00 a unit, at each level.
        let roll = get(&app, &owner, &format!("/api/v1/boms/{}/cost-rollup", id(&bike_bom))).await;
        assert_eq!((roll["material"].as_str(), roll["overhead"].as_str(), roll["unit_cost"].as_str()),
            (Some("4.2000"), Some("2.4200"), Some("6.6200")), "{roll:?}");

        // ------------------------------------------------------------ demand, MRP
        let so = created(&app, &owner, "/api/v1/sales-orders", json!({"customer_id": c1, "order_date": day(0),
            "expected_date": day(20), "lines": [{"item_id": bike, "quantity": "10", "tax_code_id": vat13}]})).await;
        let so = id(&so);
        ok(&app, &owner, &format!("/api/v1/sales-orders/{so}/confirm"), json!({"backorder": true})).await;
        let kit = get(&app, &owner, &format!("/api/v1/sales-orders/{so}/kit")).await;
        assert_eq!((kit["can_start"].as_bool(), kit["lines"][0]["short"].as_str()), (Some(false), Some("10.0000")));
        let parts: Vec<(&str, &str)> = kit["lines"][0]["components"].as_array().unwrap().iter()
            .map(|c| (c["sku"].as_str().unwrap(), c["short"].as_str().unwrap())).collect();
        assert_eq!(parts, vec![("FRAME", "10.0000"), ("WHEEL", "20.0000"), ("SCREW", "0.0000")]);

        let run = created(&app, &owner, "/api/v1/mrp-runs", json!({})).await;
        assert_eq!(run["figures"]["suggestions"], 5, "{run:?}");
        assert_eq!(run["exceptions"], json!([]), "{run:?}");
        let sugg = get(&app, &owner, &format!("/api/v1/mrp-suggestions?run_id={}", id(&run))).await["data"].clone();
        let plan: Vec<(&str, &str, &str, &str, &str)> = [&bike, &frame, &wheel, &tube, &paint]
            .iter()
            .map(|i| {
                let s = by_item(&sugg, i);
                (s["kind"].as_str().unwrap(), s["quantity"].as_str().unwrap(), s["due_date"].as_str().unwrap(),
                 s["start_date"].as_str().unwrap(), s["status"].as_str().unwrap())
            })
            .collect();
        assert_eq!(plan, vec![
            ("production", "10.0000", day(20).as_str(), day(17).as_str(), "open"),
            ("production", "10.0000", day(17).as_str(), day(15).as_str(), "open"),
            ("purchase", "24.0000", day(17).as_str(), day(12).as_str(), "open"),
            ("purchase", "25.0000", day(15).as_str(), day(12).as_str(), "open"),
            ("purchase", "5.0000", day(15).as_str(), day(13).as_str(), "open"),
        ]);
        assert_eq!(by_item(&sugg, &bike)["pegging"][0]["source"], "sales_order");
        assert_eq!(by_item(&sugg, &bike)["pegging"][0]["id"], so.as_str());
        assert_eq!(by_item(&sugg, &tube)["pegging"][0]["source"], "planned");
        assert_eq!(by_item(&sugg, &tube)["pegging"][0]["id"], by_item(&sugg, &frame)["id"]);
        assert_eq!(by_item(&sugg, &wheel)["supplier_id"], s1.as_str());
        // A second run replaces the first's open suggestions with the same plan.
        let run2 = created(&app, &owner, "/api/v1/mrp-runs", json!({})).await;
        assert_eq!((run2["figures"]["suggestions"].as_u64(), run2["figures"]["superseded"].as_u64()), (Some(5), Some(5)));
        let old = app.post(&format!("/api/v1/mrp-suggestions/{}/accept", id(by_item(&sugg, &bike))), &owner, json!({})).await;
        assert_eq!(old.status, StatusCode::NOT_FOUND, "a replaced suggestion: {:?}", old.body);
        let sugg = get(&app, &owner, &format!("/api/v1/mrp-suggestions?run_id={}", id(&run2))).await["data"].clone();
        let ids: Vec<String> = sugg.as_array().unwrap().iter().map(id).collect();
        let accepted = ok(&app, &owner, "/api/v1/mrp-suggestions/accept", json!({"ids": ids})).await["data"].clone();
        assert_eq!(accepted.as_array().unwrap().len(), 5);
        let doc = |item: &str| {
            let sid = id(by_item(&sugg, item));
            accepted.as_array().unwrap().iter().find(|a| a["suggestion_id"] == sid.as_str()).unwrap()["document_id"]
                .as_str().unwrap().to_owned()
        };
        let (mo_bike, mo_frame) = (doc(&bike), doc(&frame));
        let bike_mo = get(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}")).await;
        assert_eq!((bike_mo["status"].as_str(), bike_mo["sales_order_id"].as_str()), (Some("planned"), Some(so.as_str())));
        let frame_mo = get(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}")).await;
        assert_eq!(frame_mo["sales_order_id"], so.as_str(), "pegged through the bike's planned order");
        let again = created(&app, &owner, "/api/v1/mrp-runs", json!({})).await;
        assert_eq!(again["figures"]["suggestions"], 0, "accepted suggestions are supply now: {again:?}");
        assert_eq!(again["exceptions"], json!([]), "{again:?}");

        // ------------------------------------------------------------ purchasing
        let requests: Vec<String> = [&wheel, &tube, &paint].iter().map(|i| doc(i)).collect();
        for r in &requests {
            let pr = get(&app, &owner, &format!("/api/v1/purchase-requests/{r}")).await;
            assert_eq!((pr["status"].as_str(), pr["source"].as_str()), (Some("submitted"), Some("mrp")));
            ok(&app, &owner, &format!("/api/v1/purchase-requests/{r}/approve"), json!({})).await;
        }
        let pos = created(&app, &owner, "/api/v1/purchase-orders/from-requests", json!({"request_ids": requests, "order_date": day(0)})).await;
        let po = id(&pos[0]);
        assert_eq!(pos[0]["net_total"], "1375.00");
        ok(&app, &owner, &format!("/api/v1/purchase-orders/{po}/approve"), json!({})).await;

        // The frame order released before the parts arrive: nothing to reserve, short of tubes,
        // with the purchase order named as the next supply.
        ok(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/release"), json!({})).await;
        let kit = get(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/kit")).await;
        assert_eq!((kit["can_start"].as_bool(), kit["can_make_now"].as_str()), (Some(false), Some("0.0000")));
        assert_eq!((kit["lines"][0]["sku"].as_str(), kit["lines"][0]["short"].as_str()), (Some("TUBE"), Some("20.0000")));
        assert_eq!(kit["lines"][0]["next_supply"]["kind"], "purchase_order");
        assert_eq!(kit["lines"][0]["next_supply"]["date"], day(3));
        let alerts = get(&app, &owner, "/api/v1/reports/production-alerts").await;
        let frame_alert = alerts["data"].as_array().unwrap().iter().find(|a| a["id"] == mo_frame.as_str()).unwrap();
        assert_eq!(frame_alert["reasons"], json!(["short_of_material"]));

        let lines: Vec<Value> = (1..=3).map(|n| json!({"order_id": po, "line_no": n, "quantity": pos[0]["lines"][n - 1]["quantity"]})).collect();
        let grn = created(&app, &owner, "/api/v1/goods-receipts", json!({"supplier_id": s1, "date": day(1), "lines": lines})).await;
        let inv_lines: Vec<Value> = (1..=3).map(|n| json!({"receipt_id": id(&grn), "line_no": n,
            "quantity": grn["lines"][n - 1]["quantity"], "unit_price": pos[0]["lines"][n - 1]["unit_price"], "tax_code_id": vat13})).collect();
        let pi = created(&app, &owner, "/api/v1/supplier-invoices/from-receipts", json!({"supplier_id": s1,
            "invoice_date": day(1), "reference": "S1-1", "lines": inv_lines})).await;
        assert_eq!(pi["gross_total"], "1553.75");
        created(&app, &owner, "/api/v1/payments", json!({"supplier_id": s1, "payment_date": day(2), "amount": "1553.75",
            "allocations": [{"invoice_id": id(&pi), "amount": "1553.75"}]})).await;
        let kit = get(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/kit")).await;
        assert_eq!((kit["can_start"].as_bool(), kit["can_make_now"].as_str()), (Some(true), Some("10.0000")));

        // ------------------------------------------------------------ the frames
        let f = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/issue"), json!({"date": day(2)})).await;
        assert_eq!(f["status"], "in_progress");
        assert_eq!((f["components"][0]["issued"].as_str(), f["components"][0]["cost"].as_str()), (Some("20.0000"), Some("300.0000")));
        assert_eq!(f["components"][1]["issued"], "0.0000", "paint is backflushed");
        // Completing more than the order is refused; nothing moves.
        let docs_before = get(&app, &owner, "/api/v1/stock-documents?limit=200").await["data"].as_array().unwrap().len();
        let over = app.post(&format!("/api/v1/production-orders/{mo_frame}/complete"), &owner, json!({"quantity": "11", "date": day(3)})).await;
        assert_eq!(over.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", over.body);
        assert_eq!(over.body["errors"][0]["message"], "only 10 of 10 left to complete (0 completed)");
        assert_eq!(get(&app, &owner, "/api/v1/stock-documents?limit=200").await["data"].as_array().unwrap().len(), docs_before);
        assert_eq!(level(&app, &t, &paint, &wh).await["on_hand"], "5.0000");
        let f = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/complete"), json!({"quantity": "10", "date": day(3)})).await;
        // Material 20 × 15.00 + 5 × 8.00 = 340.00; overhead 10 % and 2.00 × 10 = 54.00.
        assert_eq!((f["status"].as_str(), f["cost"]["material"].as_str(), f["cost"]["overhead"].as_str(), f["cost"]["wip"].as_str()),
            (Some("completed"), Some("340.0000"), Some("54.0000"), Some("0.0000")));
        assert_eq!(level(&app, &t, &frame, &wh).await["value"], "394.00");
        let f = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_frame}/close"), json!({"date": day(3)})).await;
        assert_eq!((f["status"].as_str(), f["cost"]["variance"].as_str()), (Some("closed"), Some("0.0000")));
        let closed = app.post(&format!("/api/v1/production-orders/{mo_frame}/issue"), &owner, json!({"date": day(3),
            "lines": [{"line_no": 1, "quantity": "1"}]})).await;
        assert_eq!(closed.status, StatusCode::CONFLICT, "issuing to a closed order: {:?}", closed.body);
        assert!(closed.body["detail"].as_str().unwrap().contains("closed"), "{:?}", closed.body);
        assert_eq!(level(&app, &t, &tube, &wh).await["on_hand"], "5.0000");

        // ------------------------------------------------------------ the bikes
        let b = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/release"), json!({})).await;
        assert!(b["components"].as_array().unwrap().iter().all(|c| c["reservation_id"].is_string()), "{b:?}");
        assert_eq!(level(&app, &t, &screw, &wh).await["reserved"], "44.0000");
        ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/issue"), json!({"date": day(4)})).await;
        // One wheel too many, and back.
        ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/issue"), json!({"date": day(4),
            "lines": [{"line_no": 2, "quantity": "1"}]})).await;
        let b = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/return"), json!({"date": day(4),
            "lines": [{"line_no": 2, "quantity": "1"}]})).await;
        assert_eq!((b["components"][1]["issued"].as_str(), b["components"][1]["cost"].as_str()), (Some("20.0000"), Some("800.0000")));
        let b = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/complete"), json!({"quantity": "6", "date": day(5)})).await;
        // Screws backflushed for 6: 26.4 at 0.50; overhead 2.00 × 6 + 10 % of 1,207.20.
        assert_eq!((b["components"][2]["issued"].as_str(), b["cost"]["overhead"].as_str(), b["cost"]["completed_value"].as_str()),
            (Some("26.4000"), Some("132.7200"), Some("780.0000")));
        let b = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/complete"), json!({"quantity": "4", "date": day(6)})).await;
        assert_eq!((b["status"].as_str(), b["components"][2]["issued"].as_str(), b["cost"]["material"].as_str(),
            b["cost"]["overhead"].as_str(), b["cost"]["wip"].as_str()),
            (Some("completed"), Some("44.0000"), Some("1216.0000"), Some("141.6000"), Some("57.6000")));
        let b = ok(&app, &owner, &format!("/api/v1/production-orders/{mo_bike}/close"), json!({"date": day(6)})).await;
        assert_eq!((b["cost"]["variance"].as_str(), b["cost"]["actual_unit_cost"].as_str(), b["cost"]["standard"].as_str()),
            (Some("57.6000"), Some("135.7600"), Some("1300.0000")));
        assert_eq!(level(&app, &t, &screw, &wh).await["reserved"], "0.0000");
        let bikes = level(&app, &t, &bike, &wh).await;
        assert_eq!((bikes["on_hand"].as_str(), bikes["value"].as_str()), (Some("10.0000"), Some("1300.00")));

        // ------------------------------------------------------------ delivery and cash
        let dn = created(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c1, "date": day(7),
            "lines": [{"order_id": so, "line_no": 1, "quantity": "10"}]})).await;
        assert_eq!(dn["value"], "1300.00");
        let si = created(&app, &owner, "/api/v1/sales-invoices/from-deliveries", json!({"delivery_ids": [id(&dn)], "invoice_date": day(7)})).await;
        assert_eq!(si["gross_total"], "5650.00");
        created(&app, &owner, "/api/v1/receipts", json!({"customer_id": c1, "payment_date": day(7), "amount": "5650.00",
            "allocations": [{"invoice_id": id(&si), "amount": "5650.00"}]})).await;
        let last = created(&app, &owner, "/api/v1/mrp-runs", json!({})).await;
        assert_eq!(last["figures"]["suggestions"], 0, "{last:?}");

        let tb = get(&app, &owner, &format!("/api/v1/reports/trial-balance?as_of={}", day(40))).await;
        let figures: Vec<(&str, String)> = ["120010", "1230", "1150", "2100", "1100", "2000", "2010", "4000", "5000", "5110"]
            .into_iter()
            .map(|c| (c, bal(&tb, c)))
            .collect();
        assert_eq!(figures, vec![
            ("120010", "263.00".into()),  // screws 56 × 0.50, wheels 4 × 40, tubes 5 × 15
            ("1230", "0.00".into()),      // WIP empty once both orders are closed
            ("1150", "178.75".into()),    // VAT on 1,375.00 of parts
            ("2100", "-650.00".into()),   // VAT on 5,000.00 of bikes
            ("1100", "0.00".into()),
            ("2000", "0.00".into()),
            ("2010", "0.00".into()),      // GRNI cleared by the invoice
            ("4000", "-5000.00".into()),
            ("5000", "1357.60".into()),   // bikes at standard 1,300.00 and the 57.60 variance
            ("5110", "-195.60".into()),   // overhead absorbed: 54.00 + 141.60
        ], "{tb:?}");
        assert_eq!(tb["total_debit"], tb["total_credit"]);
    })
    .await;
}

#[tokio::test]
async fn production_orders_refuse_what_does_not_make_sense_and_stay_in_their_tenant() {
    on_each_backend(async |app| {
        let t = app.signup_with("Shop A", "generic", "CNY").await;
        let other = app.signup_with("Shop B", "generic", "CNY").await;
        let wh = warehouse(&app, &t, "WH-1", false).await;
        let mk = |sku: &str| json!({"sku": sku, "name": sku, "base_unit": "pcs", "item_type": "manufactured", "default_warehouse_id": wh});
        let stool = item(&app, &t, mk("STOOL")).await;
        let leg = item(&app, &t, mk("LEG")).await;
        let no_bill = app.post("/api/v1/production-orders", &t.token, json!({"item_id": stool, "quantity": "1", "due_date": day(5)})).await;
        assert_eq!(no_bill.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", no_bill.body);
        assert!(no_bill.body["errors"][0]["message"].as_str().unwrap().contains("STOOL has no active bill of material"), "{:?}", no_bill.body);
        let bom = created(&app, &t.token, "/api/v1/boms", json!({"item_id": stool, "revision": "1",
            "lines": [{"component_id": leg, "quantity": "3"}]})).await;
        ok(&app, &t.token, &format!("/api/v1/boms/{}/activate", id(&bom)), json!({})).await;
        let edit = app.call(Method::PATCH, &format!("/api/v1/boms/{}", id(&bom)), Some(&t.token),
            Some(json!({"item_id": stool, "revision": "1", "lines": [{"component_id": leg, "quantity": "4"}]})), &[("If-Match", "\"2\"")]).await;
        assert_eq!(edit.status, StatusCode::CONFLICT, "an active bill is not edited: {:?}", edit.body);
        let mo = created(&app, &t.token, "/api/v1/production-orders", json!({"item_id": stool, "quantity": "2", "due_date": day(5)})).await;
        assert_eq!((mo["components"][0]["required"].as_str(), mo["status"].as_str()), (Some("6.0000"), Some("planned")));
        let mo = id(&mo);
        let early = app.post(&format!("/api/v1/production-orders/{mo}/issue"), &t.token, json!({})).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "issuing before release: {:?}", early.body);
        let early = app.post(&format!("/api/v1/production-orders/{mo}/complete"), &t.token, json!({"quantity": "1"})).await;
        assert_eq!(early.status, StatusCode::CONFLICT, "{:?}", early.body);
        // Short of legs: the kit issue is refused with the shortage, nothing issued.
        ok(&app, &t.token, &format!("/api/v1/production-orders/{mo}/release"), json!({})).await;
        let short = app.post(&format!("/api/v1/production-orders/{mo}/issue"), &t.token, json!({})).await;
        assert_eq!(short.status, StatusCode::CONFLICT, "{:?}", short.body);
        assert_eq!(short.body["type"], "https://meridian.dev/problems/insufficient-stock");
        let now = get(&app, &t.token, &format!("/api/v1/production-orders/{mo}")).await;
        assert_eq!((now["status"].as_str(), now["components"][0]["issued"].as_str()), (Some("released"), Some("0.0000")));
        let negative = app.post(&format!("/api/v1/production-orders/{mo}/return"), &t.token,
            json!({"lines": [{"line_no": 1, "quantity": "1"}]})).await;
        assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY, "returning more than issued: {:?}", negative.body);
        assert_eq!(negative.body["errors"][0]["message"], "only 0 issued");
        // With legs in stock the kit goes out; two return lines of the same component count
        // together: 4 + 4 of 6 issued is refused on the second line, nothing comes back.
        post_doc(&app, &t, receipt(&wh, &day(0), json!([{"item_id": leg, "quantity": "6", "unit_cost": "10.00"}]))).await;
        ok(&app, &t.token, &format!("/api/v1/production-orders/{mo}/issue"), json!({})).await;
        let twice = app.post(&format!("/api/v1/production-orders/{mo}/return"), &t.token,
            json!({"lines": [{"line_no": 1, "quantity": "4"}, {"line_no": 1, "quantity": "4"}]})).await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", twice.body);
        assert_eq!((twice.body["errors"][0]["field"].as_str(), twice.body["errors"][0]["message"].as_str()),
            (Some("lines[1].quantity"), Some("only 2 issued")));
        assert_eq!(level(&app, &t, &leg, &wh).await["on_hand"], "0.0000");
        let back = ok(&app, &t.token, &format!("/api/v1/production-orders/{mo}/return"),
            json!({"lines": [{"line_no": 1, "quantity": "4"}, {"line_no": 1, "quantity": "2"}]})).await;
        assert_eq!((back["components"][0]["issued"].as_str(), back["cost"]["material"].as_str()), (Some("0.0000"), Some("0.0000")));
        assert_eq!(level(&app, &t, &leg, &wh).await["value"], "60.00");
        // Another tenant sees nothing of it.
        assert_eq!(app.get(&format!("/api/v1/production-orders/{mo}"), &other.token).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.post(&format!("/api/v1/production-orders/{mo}/cancel"), &other.token, json!({})).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/api/v1/boms/{}", id(&bom)), &other.token).await.status, StatusCode::NOT_FOUND);
        let cancelled = ok(&app, &t.token, &format!("/api/v1/production-orders/{mo}/cancel"), json!({})).await;
        assert_eq!(cancelled["status"], "cancelled");
        // MRP with a made item and no bill, and a bought one with no supplier: exceptions.
        let bolt = item(&app, &t, json!({"sku": "BOLT", "name": "Bolt", "base_unit": "pcs", "item_type": "purchased",
            "default_warehouse_id": wh, "safety_stock": "10"})).await;
        let _ = bolt;
        let run = created(&app, &t.token, "/api/v1/mrp-runs", json!({})).await;
        let kinds: Vec<(&str, &str)> = run["exceptions"].as_array().unwrap().iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["sku"].as_str().unwrap())).collect();
        assert_eq!(kinds, vec![("no_supplier", "BOLT")], "{run:?}");
        let bad = app.post("/api/v1/mrp-runs", &t.token, json!({"item_ids": [other.id]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        // A run for one item leaves the other items' open suggestions alone.
        let scoped = created(&app, &t.token, "/api/v1/mrp-runs", json!({"item_ids": [stool]})).await;
        assert_eq!((scoped["figures"]["suggestions"].as_u64(), scoped["figures"]["superseded"].as_u64()), (Some(0), Some(0)));
        let open = get(&app, &t.token, "/api/v1/mrp-suggestions?status=open").await["data"].clone();
        assert_eq!(open.as_array().unwrap().len(), 1, "{open:?}");
        let sid = id(&open[0]);
        let twice = app.post("/api/v1/mrp-suggestions/accept", &t.token, json!({"ids": [sid, sid]})).await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", twice.body);
        assert_eq!(twice.body["errors"][0]["field"], "ids[1]");
        assert_eq!(get(&app, &t.token, "/api/v1/purchase-requests").await["data"].as_array().unwrap().len(), 0);
    })
    .await;
}
