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
        let rows = a.body.as_array().unwrap().clone();
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
        assert_eq!(list.body, json!([]));
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
