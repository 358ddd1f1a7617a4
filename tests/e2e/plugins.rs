//! Plugins through the API: upload, enable with grants, settings, a veto that refuses a
//! confirmation and writes nothing, rollback, invocations, bad input, and hostile plugins that
//! fail only their own tenant's call while another tenant's plugin keeps answering.

use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;
use crate::plugin_build::{component, manifest};
use crate::stock::{item, warehouse};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn upload(app: &TestApp, t: &Tenant, crate_name: &str, folder: &str, version: Option<&str>) -> Answer {
    let mut m = manifest(folder);
    if let Some(v) = version {
        m["version"] = json!(v);
    }
    app.post("/api/v1/plugins", &t.token, json!({"manifest": m, "component": b64(&component(crate_name))})).await
}

async fn enable(app: &TestApp, t: &Tenant, name: &str, caps: Value) -> Answer {
    app.post(&format!("/api/v1/plugins/{name}/enable"), &t.token, json!({"capabilities": caps})).await
}

/// A customer with `tags` and a draft sales order of `quantity` × 100.00 (no tax code) on a
/// stocked item; returns the order id.
async fn order(app: &TestApp, t: &Tenant, code: &str, tags: Value, quantity: &str) -> String {
    let wh = warehouse(app, t, &format!("W{code}"), false).await;
    let it = item(
        app,
        t,
        json!({"sku": format!("SKU{code}"), "name": "Widget", "base_unit": "pcs", "default_warehouse_id": wh}),
    )
    .await;
    crate::stock::post_doc(
        app,
        t,
        crate::stock::receipt(&wh, "2026-03-01", json!([{"item_id": it, "quantity": "100", "unit_cost": "10"}])),
    )
    .await;
    let c = app
        .post("/api/v1/customers", &t.token, json!({"code": code, "name": format!("Customer {code}"), "tags": tags}))
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let so = app
        .post(
            "/api/v1/sales-orders",
            &t.token,
            json!({"customer_id": c.body["id"], "order_date": "2026-03-02",
                   "lines": [{"item_id": it, "quantity": quantity, "unit_price": "100.00"}]}),
        )
        .await;
    assert_eq!(so.status, StatusCode::CREATED, "{:?}", so.body);
    so.body["id"].as_str().unwrap().to_owned()
}

async fn confirm(app: &TestApp, t: &Tenant, so: &str) -> Answer {
    app.call(Method::POST, &format!("/api/v1/sales-orders/{so}/confirm"), Some(&t.token), Some(json!({})), &[]).await
}

/// Waits for the background writer to log at least `n` invocations of `plugin`.
async fn invocations(app: &TestApp, t: &Tenant, plugin: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let a = app.get(&format!("/api/v1/plugins/{plugin}/invocations"), &t.token).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let rows = a.body["data"].as_array().unwrap().clone();
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{plugin}: fewer than {n} invocations logged");
}

#[tokio::test]
async fn a_credit_guard_plugin_vetoes_confirmation_and_rolls_back_cleanly() {
    on_each_backend(async |app| {
        let t = app.signup_with("Guarded Co", "generic", "CNY").await;
        let up = upload(&app, &t, "credit-guard", "credit-guard", None).await;
        assert_eq!(up.status, StatusCode::CREATED, "{:?}", up.body);
        assert_eq!((up.body["enabled"].as_bool(), up.body["active_version"].as_str()), (Some(false), Some("1.0.0")));
        assert_eq!(up.body["versions"][0]["sha256"].as_str().unwrap().len(), 64);

        // Disabled, it does nothing; enabled with its grant and a lower limit, it refuses.
        let big = order(&app, &t, "C1", json!(["watch"]), "12").await;
        let bad_grant = enable(&app, &t, "credit-guard", json!(["read-stock"])).await;
        assert_eq!((bad_grant.status, bad_grant.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["capabilities[0]".to_owned()]));
        let on = enable(&app, &t, "credit-guard", json!(["log"])).await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
        let bad_setting = app
            .call(Method::PUT, "/api/v1/plugins/credit-guard/settings", Some(&t.token),
                  Some(json!({"settings": {"limit": "lots", "colour": "red"}})), &[])
            .await;
        assert_eq!(bad_setting.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad_setting.body);
        let mut fields = bad_setting.fields();
        fields.sort();
        assert_eq!(fields, ["colour", "limit"]);
        let set = app
            .call(Method::PUT, "/api/v1/plugins/credit-guard/settings", Some(&t.token),
                  Some(json!({"settings": {"limit": "1000"}})), &[])
            .await;
        assert_eq!((set.status, &set.body["settings"]["limit"]), (StatusCode::OK, &json!("1000")));

        let audit_before = app.audit_count(&t.token).await;
        let refused = confirm(&app, &t, &big).await;
        assert_eq!((refused.status, refused.problem()), (StatusCode::CONFLICT, "vetoed"), "{:?}", refused.body);
        assert_eq!(
            refused.body["detail"],
            "Refused by credit-guard at before_sales_order_confirm: customers tagged 'watch' need a manager's release for orders above 1000 CNY; this order is 1200.00"
        );
        let still = app.get(&format!("/api/v1/sales-orders/{big}"), &t.token).await;
        assert_eq!(still.body["status"], "draft");
        assert_eq!(app.audit_count(&t.token).await, audit_before, "a vetoed confirmation writes nothing");
        let levels = app.get("/api/v1/stock-reservations", &t.token).await;
        assert_eq!(levels.body["data"].as_array().map(Vec::len), Some(0), "{:?}", levels.body);

        // Untagged customers pass; the log shows both calls, newest first.
        let small = order(&app, &t, "C2", json!([]), "12").await;
        assert_eq!(confirm(&app, &t, &small).await.status, StatusCode::OK);
        let log = invocations(&app, &t, "credit-guard", 2).await;
        assert_eq!((log[0]["outcome"].as_str(), log[1]["outcome"].as_str()), (Some("ok"), Some("vetoed")));
        assert_eq!(log[1]["hook"], "before_sales_order_confirm");
        assert!(log[1]["subject"].as_str().unwrap().starts_with("sales-order SO-"));
        assert!(log[1]["fuel"].as_i64().unwrap() > 0 && log[1]["duration_us"].as_i64().unwrap() > 0);
        assert_eq!(log[1]["logs"][0]["level"], "info");
        // One at a time, newest first, with a cursor to the next page.
        let first = app.get("/api/v1/plugins/credit-guard/invocations?limit=1", &t.token).await;
        assert_eq!(first.body["data"][0]["id"], log[0]["id"]);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/api/v1/plugins/credit-guard/invocations?limit=1&cursor={cursor}"), &t.token).await;
        assert_eq!((&second.body["data"][0]["id"], &second.body["next_cursor"]), (&log[1]["id"], &Value::Null));

        // A second version, then back to the first; a version number is never reused.
        let again = upload(&app, &t, "credit-guard", "credit-guard", None).await;
        assert_eq!((again.status, again.problem()), (StatusCode::CONFLICT, "conflict"), "{:?}", again.body);
        let v2 = upload(&app, &t, "credit-guard", "credit-guard", Some("1.1.0")).await;
        assert_eq!((v2.body["active_version"].as_str(), v2.body["enabled"].as_bool()), (Some("1.1.0"), Some(true)));
        let back = app.post("/api/v1/plugins/credit-guard/rollback", &t.token, json!({})).await;
        assert_eq!((back.status, back.body["active_version"].as_str()), (StatusCode::OK, Some("1.0.0")), "{:?}", back.body);
        assert_eq!(back.body["versions"].as_array().unwrap().len(), 2);

        // Disabled again, the big order goes through.
        let off = app.post("/api/v1/plugins/credit-guard/disable", &t.token, json!({})).await;
        assert_eq!(off.body["enabled"], false);
        assert_eq!(confirm(&app, &t, &big).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn bad_uploads_are_refused_with_the_reason_and_store_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Careful Co").await;
        let mut m = manifest("credit-guard");
        m["name"] = json!("Credit Guard!");
        m["hooks"] = json!(["before_everything"]);
        m["capabilities"] = json!(["read-everything"]);
        let bad = app
            .post("/api/v1/plugins", &t.token, json!({"manifest": m, "component": b64(&component("credit-guard"))}))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.fields(), ["manifest.name", "manifest.hooks[0]", "manifest.capabilities[0]"]);

        let garbage = app
            .post(
                "/api/v1/plugins",
                &t.token,
                json!({"manifest": manifest("credit-guard"), "component": b64(b"\0asm nonsense")}),
            )
            .await;
        assert_eq!(
            (garbage.status, garbage.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["component".to_owned()])
        );
        let v2 = upload(&app, &t, "hostile-sdk-v2", "hostile/sdk-v2", None).await;
        assert_eq!(v2.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v2.body["errors"][0]["message"], "built against SDK 2.0.0; this server runs SDK 1.x");
        let not_b64 = app
            .post("/api/v1/plugins", &t.token, json!({"manifest": manifest("credit-guard"), "component": "%%%"}))
            .await;
        assert_eq!(not_b64.fields(), ["component"]);

        let list = app.get("/api/v1/plugins", &t.token).await;
        assert_eq!(list.body, json!({"data": [], "next_cursor": null}));
        assert_eq!(app.get("/api/v1/plugins/credit-guard", &t.token).await.status, StatusCode::NOT_FOUND);

        // A viewer may look but not upload.
        let (_, viewer) = app.user_with_role(&t, "viewer@careful.test", "viewer").await;
        let denied = app
            .post(
                "/api/v1/plugins",
                &viewer,
                json!({"manifest": manifest("credit-guard"), "component": b64(&component("credit-guard"))}),
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn hostile_plugins_fail_their_own_tenants_calls_while_another_tenant_carries_on() {
    on_each_backend(async |app| {
        let good = app.signup("Good Co").await;
        assert_eq!(upload(&app, &good, "credit-guard", "credit-guard", None).await.status, StatusCode::CREATED);
        assert_eq!(enable(&app, &good, "credit-guard", json!(["log"])).await.status, StatusCode::OK);
        let evil = app.signup("Evil Co").await;
        let victim_customer =
            app.post("/api/v1/customers", &good.token, json!({"code": "SECRET", "name": "Secret Customer"})).await;

        let cases: [(&str, &str, Value, &str); 6] = [
            (
                "hostile-spin",
                "hostile/spin",
                json!([]),
                "used its whole budget of 10000000 instructions and was stopped",
            ),
            ("hostile-memory-bomb", "hostile/memory-bomb", json!([]), "tried to use more than 32 MiB of memory"),
            ("hostile-panic", "hostile/panic", json!([]), "crashed ("),
            (
                "hostile-huge-output",
                "hostile/huge-output",
                json!([]),
                "answered with 1048576 bytes, more than the 4096 allowed",
            ),
            (
                "hostile-ungranted",
                "hostile/ungranted",
                json!(["log"]),
                "called read-customer without the read-customers capability",
            ),
            ("hostile-cross-tenant", "hostile/cross-tenant", json!(["read-customers", "log"]), ""),
        ];
        for (i, (krate, folder, caps, why)) in cases.iter().enumerate() {
            let name = format!("hostile-{}", folder.trim_start_matches("hostile/"));
            assert_eq!(upload(&app, &evil, krate, folder, None).await.status, StatusCode::CREATED);
            if *krate == "hostile-cross-tenant" {
                let target = victim_customer.body["id"].as_str().unwrap();
                let s = app
                    .call(
                        Method::PUT,
                        &format!("/api/v1/plugins/{name}/settings"),
                        Some(&evil.token),
                        Some(json!({"settings": {"target": target}})),
                        &[],
                    )
                    .await;
                assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
            }
            let on = enable(&app, &evil, &name, caps.clone()).await;
            assert_eq!(on.status, StatusCode::OK, "{name}: {:?}", on.body);
            let so = order(&app, &evil, &format!("E{i}"), json!([]), "1").await;
            // The good tenant confirms while the hostile plugin runs.
            let ok_so = order(&app, &good, &format!("G{i}"), json!([]), "1").await;
            let (bad, fine) = tokio::join!(confirm(&app, &evil, &so), confirm(&app, &good, &ok_so));
            assert_eq!(fine.status, StatusCode::OK, "{name}: the other tenant was affected: {:?}", fine.body);
            assert_eq!(bad.status, StatusCode::CONFLICT, "{name}: {:?}", bad.body);
            if *krate == "hostile-cross-tenant" {
                assert_eq!(bad.problem(), "vetoed");
                let detail = bad.body["detail"].as_str().unwrap();
                assert!(detail.contains("refused: no customer ") && !detail.contains("LEAKED"), "{detail}");
            } else {
                assert_eq!(bad.problem(), "plugin-failed", "{name}: {:?}", bad.body);
                let detail = bad.body["detail"].as_str().unwrap();
                assert!(
                    detail.starts_with(&format!("The plugin {name} failed at before_sales_order_confirm and ")),
                    "{detail}"
                );
                assert!(detail.contains(why) && detail.ends_with("; nothing was changed"), "{detail}");
            }
            assert_eq!(app.get(&format!("/api/v1/sales-orders/{so}"), &evil.token).await.body["status"], "draft");
            let failed = invocations(&app, &evil, &name, 1).await;
            assert_eq!(failed[0]["outcome"], if *krate == "hostile-cross-tenant" { "vetoed" } else { "failed" });
            assert_eq!(
                app.post(&format!("/api/v1/plugins/{name}/disable"), &evil.token, json!({})).await.status,
                StatusCode::OK
            );
        }

        // Failing five times in a row disables a plugin, with the reason.
        let on = enable(&app, &evil, "hostile-panic", json!([])).await;
        assert_eq!(on.status, StatusCode::OK);
        let so = order(&app, &evil, "P", json!([]), "1").await;
        for _ in 0..5 {
            assert_eq!(confirm(&app, &evil, &so).await.problem(), "plugin-failed");
        }
        let mut reason = Value::Null;
        for _ in 0..200 {
            let p = app.get("/api/v1/plugins/hostile-panic", &evil.token).await;
            if p.body["enabled"] == false {
                reason = p.body["disabled_reason"].clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(
            reason.as_str().unwrap_or("").starts_with("disabled after 5 failures in a row; the last: crashed"),
            "{reason:?}"
        );
        assert_eq!(confirm(&app, &evil, &so).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn a_journal_guard_refuses_manual_entries_without_a_reason() {
    on_each_backend(async |app| {
        let t = app.signup("Books Co").await;
        assert_eq!(upload(&app, &t, "journal-guard", "journal-guard", None).await.status, StatusCode::CREATED);
        assert_eq!(enable(&app, &t, "journal-guard", json!([])).await.status, StatusCode::OK);
        let (bank, capital) =
            (crate::ledger::id_of(&app, &t, "1002").await, crate::ledger::id_of(&app, &t, "3001").await);
        let draft = |memo: &str| {
            json!({"entry_date": "2026-03-05", "memo": memo, "lines": [
                {"account_id": bank, "debit": "10.00"},
                {"account_id": capital, "credit": "10.00"}]})
        };
        let e = app.post("/api/v1/journal-entries", &t.token, draft("fix")).await;
        assert_eq!(e.status, StatusCode::CREATED, "{:?}", e.body);
        let post = app
            .post(&format!("/api/v1/journal-entries/{}/post", e.body["id"].as_str().unwrap()), &t.token, json!({}))
            .await;
        assert_eq!((post.status, post.problem()), (StatusCode::CONFLICT, "vetoed"), "{:?}", post.body);
        assert!(
            post.body["detail"]
                .as_str()
                .unwrap()
                .ends_with("a manual entry needs a memo of at least 10 characters (memo)")
        );
        let e2 = app.post("/api/v1/journal-entries", &t.token, draft("Reclassify the March rent deposit")).await;
        let posted = app
            .post(&format!("/api/v1/journal-entries/{}/post", e2.body["id"].as_str().unwrap()), &t.token, json!({}))
            .await;
        assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.body);
    })
    .await;
}

/// A stocked item with a sales price list of 100.00 and `on_hand` in stock; returns (item, customer).
async fn priced_item(app: &TestApp, t: &Tenant, code: &str, safety: &str, on_hand: &str) -> (String, String) {
    let wh = warehouse(app, t, &format!("W{code}"), false).await;
    let it = item(
        app,
        t,
        json!({"sku": format!("SKU{code}"), "name": "Gadget", "base_unit": "pcs", "default_warehouse_id": wh,
               "safety_stock": safety}),
    )
    .await;
    crate::stock::post_doc(
        app,
        t,
        crate::stock::receipt(&wh, "2026-03-01", json!([{"item_id": it, "quantity": on_hand, "unit_cost": "10"}])),
    )
    .await;
    let list = app
        .post(
            "/api/v1/price-lists",
            &t.token,
            json!({"side": "sales", "code": format!("PL{code}"), "name": "Retail",
                   "items": [{"item_id": it, "unit_price": "100.00"}]}),
        )
        .await;
    assert_eq!(list.status, StatusCode::CREATED, "{:?}", list.body);
    let c = app.post("/api/v1/customers", &t.token, json!({"code": code, "name": format!("Customer {code}")})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    (it, c.body["id"].as_str().unwrap().to_owned())
}

async fn sales_order(app: &TestApp, t: &Tenant, customer: &str, item: &str, quantity: &str) -> Answer {
    app.post(
        "/api/v1/sales-orders",
        &t.token,
        json!({"customer_id": customer, "order_date": "2026-03-02", "lines": [{"item_id": item, "quantity": quantity}]}),
    )
    .await
}

#[tokio::test]
async fn price_calculators_adjust_lines_and_a_failing_one_falls_back_to_the_list_price() {
    on_each_backend(async |app| {
        let t = app.signup_with("Tiered Co", "generic", "CNY").await;
        let (it, cust) = priced_item(&app, &t, "T1", "0", "500").await;
        assert_eq!(upload(&app, &t, "tiered-pricing", "tiered-pricing", None).await.status, StatusCode::CREATED);

        // Disabled: the list price, no discount.
        let plain = sales_order(&app, &t, &cust, &it, "60").await;
        assert_eq!(plain.status, StatusCode::CREATED, "{:?}", plain.body);
        assert_eq!(
            (plain.body["lines"][0]["unit_price"].as_str(), plain.body["lines"][0]["discount"].as_str()),
            (Some("100.0000"), Some("0.00"))
        );

        assert_eq!(enable(&app, &t, "tiered-pricing", json!([])).await.status, StatusCode::OK);
        let tiered = sales_order(&app, &t, &cust, &it, "60").await;
        assert_eq!(tiered.status, StatusCode::CREATED, "{:?}", tiered.body);
        let line = &tiered.body["lines"][0];
        // 60 × 100.00 at 5 % from 50 units: 300.00 off, 5,700.00 net.
        assert_eq!(
            (line["discount_percent"].as_str(), line["discount"].as_str(), line["net"].as_str()),
            (Some("0.050000"), Some("300.00"), Some("5700.00")),
            "{line:?}"
        );
        let rule = line["price_rule"].as_str().unwrap();
        assert!(rule.ends_with("; tiered-pricing: tiered pricing: 5 % from 50 units"), "{rule}");
        // A price or discount by hand is the user's: the calculator is not asked.
        let by_hand = app
            .post(
                "/api/v1/sales-orders",
                &t.token,
                json!({"customer_id": cust, "order_date": "2026-03-02",
                   "lines": [{"item_id": it, "quantity": "60", "discount_percent": "0.01"}]}),
            )
            .await;
        assert_eq!(by_hand.body["lines"][0]["discount"], "60.00", "{:?}", by_hand.body);
        assert!(!by_hand.body["lines"][0]["price_rule"].as_str().unwrap().contains("tiered"));
        // Settings change the tiers.
        let set = app
            .call(
                Method::PUT,
                "/api/v1/plugins/tiered-pricing/settings",
                Some(&t.token),
                Some(json!({"settings": {"tiers": "10:1.5"}})),
                &[],
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
        let small = sales_order(&app, &t, &cust, &it, "12").await;
        assert_eq!(small.body["lines"][0]["discount"], "18.00", "{:?}", small.body);

        // A calculator that crashes leaves the price alone and says so; the order is made.
        let mut m = manifest("hostile/panic");
        m["hooks"] = json!(["price_line"]);
        let up = app
            .post("/api/v1/plugins", &t.token, json!({"manifest": m, "component": b64(&component("hostile-panic"))}))
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{:?}", up.body);
        assert_eq!(enable(&app, &t, "hostile-panic", json!([])).await.status, StatusCode::OK);
        let fallback = sales_order(&app, &t, &cust, &it, "12").await;
        assert_eq!(fallback.status, StatusCode::CREATED, "{:?}", fallback.body);
        let line = &fallback.body["lines"][0];
        // The list price stands; the tiered calculator after it still gives its 1.5 %.
        assert_eq!(
            (line["unit_price"].as_str(), line["discount"].as_str()),
            (Some("100.0000"), Some("18.00")),
            "{line:?}"
        );
        let rule = line["price_rule"].as_str().unwrap();
        assert!(rule.contains("hostile-panic failed (crashed (it panicked)); price kept"), "{rule}");
        let log = invocations(&app, &t, "hostile-panic", 1).await;
        assert_eq!((log[0]["hook"].as_str(), log[0]["outcome"].as_str()), (Some("price_line"), Some("failed")));
        assert!(rule.ends_with("; tiered-pricing: tiered pricing: 1.5 % from 10 units"), "{rule}");
    })
    .await;
}

/// Waits until the plugin's deliveries in `status` number at least `n`.
async fn deliveries(app: &TestApp, t: &Tenant, plugin: &str, status: &str, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let a = app.get(&format!("/api/v1/plugins/{plugin}/events?status={status}"), &t.token).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        let rows = a.body["data"].as_array().unwrap().clone();
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{plugin}: fewer than {n} {status} deliveries");
}

/// The event-handler scenarios, on servers that dispatch events (one at a time, see the
/// harness).
#[tokio::test]
async fn event_handlers_run_after_commit_retry_and_dead_letter() {
    on_each_backend_with(
        |c| c.dispatch_events = true,
        async |app| {
            an_event_handler_raises_a_purchase_request_when_stock_falls_below_safety(&app).await;
            a_failing_event_handler_retries_with_backoff_then_dead_letters_while_another_tenant_carries_on(&app).await;
        },
    )
    .await;
}

async fn an_event_handler_raises_a_purchase_request_when_stock_falls_below_safety(app: &TestApp) {
    {
        let t = app.signup_with("Reorder Co", "generic", "CNY").await;
        let (it, cust) = priced_item(app, &t, "R1", "50", "60").await;
        assert_eq!(
            upload(app, &t, "reorder-on-low-stock", "reorder-on-low-stock", None).await.status,
            StatusCode::CREATED
        );
        let on =
            enable(app, &t, "reorder-on-low-stock", json!(["read-stock", "create-purchase-requests", "log"])).await;
        assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);

        // Confirming 20 of 60 reserves them: 40 available, below the safety stock of 50.
        let so = sales_order(app, &t, &cust, &it, "20").await;
        assert_eq!(confirm(app, &t, so.body["id"].as_str().unwrap()).await.status, StatusCode::OK);
        let done = deliveries(app, &t, "reorder-on-low-stock", "done", 1).await;
        assert_eq!(
            (done[0]["kind"].as_str(), done[0]["subject_id"].as_str()),
            (Some("stock.below-safety"), Some(it.as_str()))
        );
        assert_eq!((done[0]["payload"]["available"].as_str(), done[0]["attempts"].as_i64()), (Some("40"), Some(1)));
        let prs = app.get("/api/v1/purchase-requests?source=plugin", &t.token).await;
        let prs = prs.body["data"].as_array().unwrap().clone();
        assert_eq!(prs.len(), 1, "{prs:?}");
        // Cover twice the safety stock: 2 × 50 − 40 = 60, submitted for approval.
        assert_eq!(
            (prs[0]["quantity"].as_str(), prs[0]["status"].as_str(), prs[0]["item_id"].as_str()),
            (Some("60.0000"), Some("submitted"), Some(it.as_str()))
        );
        let inv = invocations(app, &t, "reorder-on-low-stock", 1).await;
        assert_eq!((inv[0]["hook"].as_str(), inv[0]["outcome"].as_str()), (Some("handle_events"), Some("ok")));
        assert!(inv[0]["logs"][0]["message"].as_str().unwrap().starts_with("asked for 60 of SKUR1"), "{inv:?}");

        // Still below: no second event, no second request, until it has been back above.
        let so2 = sales_order(app, &t, &cust, &it, "5").await;
        assert_eq!(confirm(app, &t, so2.body["id"].as_str().unwrap()).await.status, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(deliveries(app, &t, "reorder-on-low-stock", "done", 1).await.len(), 1);
        let prs = app.get("/api/v1/purchase-requests?source=plugin", &t.token).await;
        assert_eq!(prs.body["data"].as_array().unwrap().len(), 1);
        let audit = app.get("/api/v1/audit-events?action=purchase_request.create", &t.token).await;
        assert_eq!(audit.body["data"][0]["actor_kind"], "plugin", "{:?}", audit.body);
    }
}

async fn a_failing_event_handler_retries_with_backoff_then_dead_letters_while_another_tenant_carries_on(app: &TestApp) {
    {
        // A healthy tenant whose handler works throughout.
        let good = app.signup_with("Steady Co", "generic", "CNY").await;
        let (good_item, good_cust) = priced_item(app, &good, "G1", "50", "60").await;
        assert_eq!(
            upload(app, &good, "reorder-on-low-stock", "reorder-on-low-stock", None).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            enable(app, &good, "reorder-on-low-stock", json!(["read-stock", "create-purchase-requests", "log"]))
                .await
                .status,
            StatusCode::OK
        );

        let evil = app.signup_with("Crashy Co", "generic", "CNY").await;
        let (it, cust) = priced_item(app, &evil, "E1", "0", "100").await;
        let mut m = manifest("hostile/panic");
        m["hooks"] = json!(["handle_events"]);
        m["events"] = json!(["sales-order.confirmed"]);
        let up = app
            .post("/api/v1/plugins", &evil.token, json!({"manifest": m, "component": b64(&component("hostile-panic"))}))
            .await;
        assert_eq!(up.status, StatusCode::CREATED, "{:?}", up.body);
        assert_eq!(enable(app, &evil, "hostile-panic", json!([])).await.status, StatusCode::OK);

        let so = sales_order(app, &evil, &cust, &it, "1").await;
        let good_so = sales_order(app, &good, &good_cust, &good_item, "20").await;
        // The confirmation itself is not held up by its event handler.
        let (bad, fine) = tokio::join!(
            confirm(app, &evil, so.body["id"].as_str().unwrap()),
            confirm(app, &good, good_so.body["id"].as_str().unwrap())
        );
        assert_eq!((bad.status, fine.status), (StatusCode::OK, StatusCode::OK));
        let first = deliveries(app, &evil, "hostile-panic", "pending", 1).await;
        let mut waited = 0;
        let mut row = first[0].clone();
        while row["attempts"] == 0 && waited < 400 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            waited += 1;
            row = deliveries(app, &evil, "hostile-panic", "pending", 1).await[0].clone();
        }
        assert_eq!(
            (row["kind"].as_str(), row["attempts"].as_i64()),
            (Some("sales-order.confirmed"), Some(1)),
            "{row:?}"
        );
        assert_eq!(row["last_error"], "crashed (it panicked)");
        // Meanwhile the other tenant's handler ran.
        assert_eq!(deliveries(app, &good, "reorder-on-low-stock", "done", 1).await.len(), 1);

        // Each retry waits four times longer: 10 s, 40 s, 160 s, 640 s; the fifth failure is final.
        for (attempts, wait) in [(2, 10), (3, 40), (4, 160)] {
            app.advance(chrono::Duration::seconds(wait));
            let mut r = Value::Null;
            for _ in 0..400 {
                r = app.get("/api/v1/plugins/hostile-panic/events", &evil.token).await.body["data"][0].clone();
                if r["attempts"] == attempts {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert_eq!((r["attempts"].as_i64(), r["status"].as_str()), (Some(attempts), Some("pending")), "{r:?}");
        }
        app.advance(chrono::Duration::seconds(640));
        let dead = deliveries(app, &evil, "hostile-panic", "dead", 1).await;
        assert_eq!(
            (dead[0]["attempts"].as_i64(), dead[0]["last_error"].as_str()),
            (Some(5), Some("crashed (it panicked)"))
        );

        // Five failures in a row also disabled it; sent again, the delivery goes straight back
        // to the dead letters, saying why.
        let mut enabled = Value::Bool(true);
        for _ in 0..200 {
            enabled = app.get("/api/v1/plugins/hostile-panic", &evil.token).await.body["enabled"].clone();
            if enabled == false {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(enabled, false);
        let id = dead[0]["id"].as_str().unwrap();
        let retried =
            app.post(&format!("/api/v1/plugins/hostile-panic/events/{id}/retry"), &evil.token, json!({})).await;
        assert_eq!(
            (retried.status, retried.body["status"].as_str()),
            (StatusCode::OK, Some("pending")),
            "{:?}",
            retried.body
        );
        let again = app.post(&format!("/api/v1/plugins/hostile-panic/events/{id}/retry"), &evil.token, json!({})).await;
        assert_eq!((again.status, again.problem()), (StatusCode::CONFLICT, "invalid-state"), "{:?}", again.body);
        let mut r = Value::Null;
        for _ in 0..400 {
            r = app.get("/api/v1/plugins/hostile-panic/events?status=dead", &evil.token).await.body["data"][0].clone();
            if r["attempts"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(r["attempts"], 1, "{r:?}");
        assert!(r["last_error"].as_str().unwrap().starts_with("the plugin is not enabled"), "{r:?}");

        // Bad requests to the list: a clear 4xx.
        let bad = app.get("/api/v1/plugins/hostile-panic/events?status=lost", &evil.token).await;
        assert_eq!((bad.status, bad.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["status".to_owned()]));
        let none = app.get("/api/v1/plugins/nobody/events", &evil.token).await;
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        // Another tenant cannot see or retry these deliveries.
        let foreign =
            app.post(&format!("/api/v1/plugins/hostile-panic/events/{id}/retry"), &good.token, json!({})).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    }
}
