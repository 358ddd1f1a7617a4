//! What the admin portal reads and sets beyond the other modules: the caller's permissions and
//! subscription, the seats and plugin slots in use, the sales summary and top products, the
//! trace of one sales order, and document numbering.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::crm::{created, id, ok};
use crate::harness::*;
use crate::stock::{item, post_doc, receipt, warehouse};

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> Answer {
    app.call(Method::PUT, path, Some(token), Some(body), &[]).await
}

#[tokio::test]
async fn the_summary_and_the_trace_of_an_order_add_up_and_follow_permissions() {
    on_each_backend(async |app| {
        app.clock.set("2026-03-20T10:00:00Z".parse().unwrap());
        let t = app.signup_with("Summary Co", "generic", "CNY").await;
        let owner = t.token.clone();
        let (_, sales) = app.user_with_role(&t, "rep@summary.test", "sales").await;
        let wh = warehouse(&app, &t, "WH-1", false).await;
        let desk =
            item(&app, &t, json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        let chair =
            item(&app, &t, json!({"sku": "CHAIR", "name": "Chair", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        post_doc(
            &app,
            &t,
            receipt(
                &wh,
                "2026-02-01",
                json!([
            {"item_id": desk, "quantity": "10", "unit_cost": "100.00"},
            {"item_id": chair, "quantity": "10", "unit_cost": "50.00"}]),
            ),
        )
        .await;
        let c1 = id(&created(&app, &owner, "/api/v1/customers", json!({"code": "C1", "name": "Oak & Co"})).await);

        // February: 2 desks at 300 (cost 200). March: 3 desks at 300 and 4 chairs at 100 (cost 500).
        let sell = async |date: &str, lines: Value| {
            let so = created(
                &app,
                &owner,
                "/api/v1/sales-orders",
                json!({"customer_id": c1, "order_date": date, "lines": lines.clone()}),
            )
            .await;
            let so = id(&so);
            ok(&app, &owner, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
            let lines: Vec<Value> = lines
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, l)| json!({"order_id": so, "line_no": i + 1, "quantity": l["quantity"]}))
                .collect();
            let dn =
                created(&app, &owner, "/api/v1/deliveries", json!({"customer_id": c1, "date": date, "lines": lines}))
                    .await;
            let inv = created(
                &app,
                &owner,
                "/api/v1/sales-invoices/from-deliveries",
                json!({"delivery_ids": [id(&dn)], "invoice_date": date}),
            )
            .await;
            (so, inv)
        };
        sell("2026-02-10", json!([{"item_id": desk, "quantity": "2", "unit_price": "300.00"}])).await;
        let (so2, inv2) = sell(
            "2026-03-05",
            json!([
            {"item_id": desk, "quantity": "3", "unit_price": "300.00"},
            {"item_id": chair, "quantity": "4", "unit_price": "100.00"}]),
        )
        .await;
        created(
            &app,
            &owner,
            "/api/v1/receipts",
            json!({"customer_id": c1, "payment_date": "2026-03-06", "amount": "500.00",
            "allocations": [{"invoice_id": id(&inv2), "amount": "500.00"}]}),
        )
        .await;

        let s = app.get("/api/v1/reports/sales-summary?as_of=2026-03-20", &sales).await;
        assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
        let b = &s.body;
        let figures = |p: &Value| (p["revenue"].clone(), p["cost"].clone(), p["margin"].clone(), p["invoices"].clone());
        assert_eq!(figures(&b["this_month"]), (json!("1300.00"), json!("500.00"), json!("800.00"), json!(1)));
        assert_eq!(figures(&b["last_month"]), (json!("600.00"), json!("200.00"), json!("400.00"), json!(1)));
        assert_eq!(
            (b["this_month"]["from"].as_str(), b["last_month"]["to"].as_str()),
            (Some("2026-03-01"), Some("2026-02-28"))
        );
        assert_eq!(b["last_month_to_date"]["to"], "2026-02-20");
        assert_eq!(b["change_percent"], "1.1667", "1,300 against 600 by the same day last month");
        let daily = b["daily"].as_array().unwrap();
        assert_eq!(daily.len(), 28);
        assert_eq!(
            (daily[4]["this_month"].as_str(), daily[9]["last_month"].as_str()),
            (Some("1300.00"), Some("600.00"))
        );
        let top = |key: &str| -> Vec<(String, String, String)> {
            b[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["sku"].as_str().unwrap().to_owned(),
                        p["revenue"].as_str().unwrap().to_owned(),
                        p["margin"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            top("top_by_revenue"),
            vec![("DESK".into(), "900.00".into(), "600.00".into()), ("CHAIR".into(), "400.00".into(), "200.00".into())]
        );
        assert_eq!(top("top_by_margin")[0].0, "DESK");
        assert_eq!(b["top_by_revenue"][0]["margin_percent"], "0.6667");
        let early = app.get("/api/v1/reports/sales-summary?as_of=2026-02-09", &owner).await;
        assert_eq!(
            (early.body["this_month"]["revenue"].as_str(), early.body["top_by_revenue"].as_array().map(Vec::len)),
            (Some("0.00"), Some(0))
        );
        let bad = app.get("/api/v1/reports/sales-summary?as_of=March", &owner).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);

        // Made to order: a production order for the order, late once its due date passed.
        let bom = created(
            &app,
            &owner,
            "/api/v1/boms",
            json!({"item_id": desk, "revision": "A",
            "lines": [{"component_id": chair, "quantity": "1"}]}),
        )
        .await;
        ok(&app, &owner, &format!("/api/v1/boms/{}/activate", id(&bom)), json!({})).await;
        let mo = created(
            &app,
            &owner,
            "/api/v1/production-orders",
            json!({"item_id": desk, "quantity": "1", "due_date": "2026-03-10", "sales_order_id": so2}),
        )
        .await;

        let tr = app.get(&format!("/api/v1/sales-orders/{so2}/trace"), &owner).await;
        assert_eq!(tr.status, StatusCode::OK, "{:?}", tr.body);
        let v = &tr.body;
        assert_eq!(
            (v["order"]["customer_name"].as_str(), v["order"]["progress"].as_str()),
            (Some("Oak & Co"), Some("invoiced"))
        );
        assert_eq!(
            (v["revenue"].as_str(), v["cost_of_goods"].as_str(), v["margin"].as_str(), v["margin_percent"].as_str()),
            (Some("1300.00"), Some("500.00"), Some("800.00"), Some("0.6154"))
        );
        assert_eq!(
            (v["deliveries"].as_array().unwrap().len(), v["invoices"][0]["open_amount"].as_str()),
            (1, Some("800.00"))
        );
        assert_eq!(v["payments"][0]["amount"], "500.00");
        assert_eq!(v["lines"][1]["sku"], "CHAIR");
        let pos = v["production_orders"].as_array().unwrap();
        assert_eq!(
            (pos.len(), pos[0]["number"].as_str(), pos[0]["late"].as_bool()),
            (1, mo["number"].as_str(), Some(true))
        );
        assert_eq!(v["purchases"], json!([]));
        let whats: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|e| e["what"].as_str().unwrap()).collect();
        assert_eq!(&whats[..3], &["ordered", "delivered", "invoiced"], "{whats:?}");
        // The sales rep sees the order, not production or purchasing.
        let rep = app.get(&format!("/api/v1/sales-orders/{so2}/trace"), &sales).await;
        assert_eq!((rep.body["production_orders"].is_null(), rep.body["purchases"].is_null()), (true, true));
        assert_eq!(rep.body["margin"], "800.00");
        let missing = app.get(&format!("/api/v1/sales-orders/{}/trace", uuid::Uuid::now_v7()), &owner).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        // What a client needs to draw its menus and banner.
        let me = app.get("/api/v1/me", &sales).await;
        let perms: Vec<&str> = me.body["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert!(perms.contains(&"sales:write") && perms.contains(&"inventory:read"), "{perms:?}");
        assert!(!perms.contains(&"admin:read") && !perms.contains(&"production:read"), "{perms:?}");
        assert_eq!(
            (me.body["email"].as_str(), me.body["tenant"]["slug"].as_str()),
            (Some("rep@summary.test"), Some(t.slug.as_str()))
        );
        assert_eq!(
            (me.body["subscription"]["status"].as_str(), me.body["subscription"]["read_only"].as_bool()),
            (Some("trial"), Some(false))
        );
        let tenant = app.get("/api/v1/tenant", &owner).await;
        assert_eq!(
            (tenant.body["usage"]["seats_used"].as_u64(), tenant.body["usage"]["plugins_enabled"].as_u64()),
            (Some(2), Some(0))
        );
    })
    .await;
}

#[tokio::test]
async fn document_numbering_is_the_tenants_and_never_repeats_a_number() {
    on_each_backend(async |app| {
        let t = app.signup_with("Numbers Co", "generic", "CNY").await;
        let owner = t.token.clone();
        let (_, sales) = app.user_with_role(&t, "rep@numbers.test", "sales").await;
        let wh = warehouse(&app, &t, "WH-1", true).await;
        let desk =
            item(&app, &t, json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        let c1 = id(&created(&app, &owner, "/api/v1/customers", json!({"code": "C1", "name": "Buyer"})).await);
        let order = async || {
            created(
                &app,
                &owner,
                "/api/v1/sales-orders",
                json!({"customer_id": c1, "order_date": "2026-03-01",
                "lines": [{"item_id": desk, "quantity": "1", "unit_price": "10.00"}]}),
            )
            .await["number"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(order().await, "SO-000001");
        let list = app.get("/api/v1/numbering", &owner).await;
        assert_eq!(list.status, StatusCode::OK);
        let row =
            |b: &Value, key: &str| b["data"].as_array().unwrap().iter().find(|r| r["key"] == key).cloned().unwrap();
        let so = row(&list.body, "sales_order");
        assert_eq!(
            (so["prefix"].as_str(), so["padding"].as_i64(), so["next_value"].as_i64(), so["example"].as_str()),
            (Some("SO"), Some(6), Some(2), Some("SO-000002"))
        );
        assert_eq!(row(&list.body, "delivery")["next_value"], 1, "a kind never used starts at 1");

        // Bad input: every field says why, and nothing changes.
        let audit = app.audit_count(&owner).await;
        let bad = put(
            &app,
            &owner,
            "/api/v1/numbering/sales_order",
            json!({"prefix": "so-1", "padding": 0, "next_value": 0}),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        assert_eq!(bad.fields(), vec!["prefix", "padding", "next_value"]);
        let taken = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"prefix": "SQ"})).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(taken.body["errors"][0]["message"].as_str().unwrap().contains("sales quotations"), "{:?}", taken.body);
        let back = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"next_value": 1})).await;
        assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(back.body["errors"][0]["message"].as_str().unwrap().contains("at least 2"), "{:?}", back.body);
        let huge = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"next_value": i64::MAX})).await;
        assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY, "no overflow for the next order: {:?}", huge.body);
        assert_eq!(
            put(&app, &owner, "/api/v1/numbering/invoices", json!({"prefix": "INV"})).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            put(&app, &sales, "/api/v1/numbering/sales_order", json!({"prefix": "XS"})).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(app.audit_count(&owner).await, audit);
        assert_eq!(row(&app.get("/api/v1/numbering", &owner).await.body, "sales_order")["example"], "SO-000002");

        // Quotations move to QT and on to QX; orders may take neither SQ nor QT, under which
        // quotations were numbered.
        let status =
            async |key: &str, body: Value| put(&app, &owner, &format!("/api/v1/numbering/{key}"), body).await.status;
        assert_eq!(status("quotation", json!({"prefix": "QT"})).await, StatusCode::OK);
        assert_eq!(status("sales_order", json!({"prefix": "SQ"})).await, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(status("quotation", json!({"prefix": "QX"})).await, StatusCode::OK);
        let former = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"prefix": "QT"})).await;
        assert_eq!(former.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", former.body);
        assert!(
            former.body["errors"][0]["message"].as_str().unwrap().contains("sales quotations"),
            "{:?}",
            former.body
        );
        let audit = app.audit_count(&owner).await;

        let set =
            put(&app, &owner, "/api/v1/numbering/sales_order", json!({"prefix": "XS", "padding": 4, "next_value": 10}))
                .await;
        assert_eq!((set.status, set.body["example"].as_str()), (StatusCode::OK, Some("XS-0010")), "{:?}", set.body);
        assert_eq!(app.audit_count(&owner).await, audit + 1);
        assert_eq!(order().await, "XS-0010");
        assert_eq!(order().await, "XS-0011");
        // Only the next number: prefix and digits stay.
        let jump = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"next_value": 20})).await;
        assert_eq!(jump.body["example"], "XS-0020", "{:?}", jump.body);
        // Back to the built-in prefix and digits; the count goes on.
        let reset = put(&app, &owner, "/api/v1/numbering/sales_order", json!({"prefix": null, "padding": null})).await;
        assert_eq!(reset.body["example"], "SO-000020");
        assert_eq!(order().await, "SO-000020");
        // XS is now the orders' former prefix: quotations may not take it.
        assert_eq!(status("quotation", json!({"prefix": "XS"})).await, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}
