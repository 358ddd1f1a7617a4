//! Balance sheet and income statement in the template's layout, and the year-end close.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::harness::*;
use crate::ledger::{entry, id_of, line, post_entry};

fn amount<'a>(statement: &'a Value, key: &str) -> &'a str {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == key)
        .unwrap_or_else(|| panic!("no line {key}"))["amount"]
        .as_str()
        .unwrap()
}

#[tokio::test]
async fn statements_follow_the_template_and_the_year_end_close_carries_profit_to_retained_earnings() {
    on_each_backend(async |app| {
        let t = app.signup("Statements Co").await;
        let mut ids = std::collections::HashMap::new();
        for code in ["1002", "1403", "1601", "1602", "3001", "3104", "22210102", "5001", "5401", "5602"] {
            ids.insert(code, id_of(&app, &t, code).await);
        }
        let a = |c: &str| ids[c].clone();
        let post = async |date: &str, lines: &[(&str, &str, &str)]| {
            let lines: Vec<(String, &str, &str)> = lines.iter().map(|(c, d, cr)| (a(c), *d, *cr)).collect();
            let refs: Vec<(&str, &str, &str)> = lines.iter().map(|(x, d, c)| (x.as_str(), *d, *c)).collect();
            post_entry(&app, &t.token, entry(date, &refs)).await
        };
        post("2025-12-01", &[("1002", "50000.00", ""), ("3001", "", "50000.00")]).await;
        post("2026-01-10", &[("1403", "2000.00", ""), ("1002", "", "2000.00")]).await;
        post("2026-02-15", &[("1002", "1130.00", ""), ("5001", "", "1000.00"), ("22210102", "", "130.00")]).await;
        post("2026-02-15", &[("5401", "600.00", ""), ("1403", "", "600.00")]).await;
        post("2026-03-01", &[("1601", "3000.00", ""), ("1002", "", "3000.00")]).await;
        post("2026-03-31", &[("5602", "250.00", ""), ("1602", "", "50.00"), ("1002", "", "200.00")]).await;

        let bs = app.get("/api/v1/reports/balance-sheet?as_of=2026-12-31", &t.token).await;
        assert_eq!(bs.status, StatusCode::OK, "{:?}", bs.body);
        assert_eq!(bs.body["title"], "资产负债表");
        assert_eq!(bs.body["balanced"], true);
        assert_eq!(amount(&bs.body, "cash"), "45930.00");
        assert_eq!(amount(&bs.body, "inventories"), "1400.00");
        assert_eq!(amount(&bs.body, "depreciation"), "50.00");
        assert_eq!(amount(&bs.body, "fixed_assets"), "2950.00");
        assert_eq!(amount(&bs.body, "total_assets"), "50280.00");
        assert_eq!(amount(&bs.body, "taxes"), "130.00");
        assert_eq!(amount(&bs.body, "current_profit"), "150.00");
        assert_eq!(amount(&bs.body, "total_liabilities_and_equity"), "50280.00");
        let opening = bs.body["lines"].as_array().unwrap().iter().find(|l| l["key"] == "cash").unwrap();
        assert_eq!(opening["comparison"], "50000.00", "start-of-year column");

        let is = app.get("/api/v1/reports/income-statement?from=2026-02-01&to=2026-02-28", &t.token).await;
        assert_eq!(is.status, StatusCode::OK, "{:?}", is.body);
        assert_eq!(is.body["title"], "利润表");
        assert_eq!(amount(&is.body, "revenue"), "1000.00");
        assert_eq!(amount(&is.body, "cost_of_sales"), "600.00");
        assert_eq!(amount(&is.body, "net_profit"), "400.00");
        let q1 = app.get("/api/v1/reports/income-statement?from=2026-01-01&to=2026-03-31", &t.token).await;
        assert_eq!(amount(&q1.body, "administrative"), "250.00");
        assert_eq!(amount(&q1.body, "net_profit"), "150.00");

        let bal = app
            .get(
                &format!("/api/v1/reports/account-balances?account_id={}&from=2026-01-01&to=2026-03-31", a("1002")),
                &t.token,
            )
            .await;
        assert_eq!(bal.status, StatusCode::OK, "{:?}", bal.body);
        let months: Vec<(i64, &str, &str, &str, &str)> = bal.body["periods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["period"].as_i64().unwrap(),
                    p["opening"].as_str().unwrap(),
                    p["debit"].as_str().unwrap(),
                    p["credit"].as_str().unwrap(),
                    p["closing"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            months,
            vec![
                (202601, "50000.00", "0.00", "2000.00", "48000.00"),
                (202602, "48000.00", "1130.00", "0.00", "49130.00"),
                (202603, "49130.00", "0.00", "3200.00", "45930.00"),
            ]
        );

        // The general ledger pages with a cursor; each page knows the balance it starts from.
        let gl = |cursor: &str| {
            format!(
                "/api/v1/reports/general-ledger?account_id={}&from=2026-01-01&to=2026-12-31&limit=2{cursor}",
                a("1002")
            )
        };
        let page1 = app.get(&gl(""), &t.token).await;
        assert_eq!(page1.status, StatusCode::OK, "{:?}", page1.body);
        assert_eq!(
            (page1.body["opening"].as_str(), page1.body["closing"].as_str()),
            (Some("50000.00"), Some("49130.00"))
        );
        let next = page1.body["next_cursor"].as_str().unwrap().to_owned();
        let page2 = app.get(&gl(&format!("&cursor={next}")), &t.token).await;
        assert_eq!(page2.body["page_opening"], "49130.00");
        let balances: Vec<&str> =
            page2.body["lines"].as_array().unwrap().iter().map(|l| l["balance"].as_str().unwrap()).collect();
        assert_eq!(balances, ["46130.00", "45930.00"]);
        assert!(page2.body["next_cursor"].is_null());
        let bad_cursor = app.get(&gl("&cursor=nonsense"), &t.token).await;
        assert_eq!(bad_cursor.fields(), ["cursor"]);

        // Only someone with finance:approve closes a year.
        let (_, viewer) = app.user_with_role(&t, "v@statements.test", "viewer").await;
        let denied = app.call(Method::POST, "/api/v1/fiscal-years/2026/close", Some(&viewer), None, &[]).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);

        let closed = app.call(Method::POST, "/api/v1/fiscal-years/2026/close", Some(&t.token), None, &[]).await;
        assert_eq!(closed.status, StatusCode::OK, "{:?}", closed.body);
        assert_eq!(closed.body["net_profit"], "150.00");
        assert_eq!(closed.body["closing_entry"]["entry_date"], "2026-12-31");
        assert_eq!(closed.body["closing_entry"]["source_type"], "year_end_close");
        assert_eq!(closed.body["periods_closed"].as_array().unwrap().len(), 12);
        let closing_lines = closed.body["closing_entry"]["lines"].as_array().unwrap();
        assert!(closing_lines.iter().any(|l| l["account_id"] == a("3104") && l["credit"] == "150.00"));

        let tb = app.get("/api/v1/reports/trial-balance?as_of=2026-12-31", &t.token).await;
        assert_eq!(line(&tb.body, "5001").unwrap()["closing_credit"], "0.00");
        assert_eq!(line(&tb.body, "3104").unwrap()["closing_credit"], "150.00");
        assert_eq!(tb.body["totals"]["balanced"], true);
        let after = app.get("/api/v1/reports/balance-sheet?as_of=2026-12-31", &t.token).await;
        assert_eq!(amount(&after.body, "current_profit"), "0.00");
        assert_eq!(amount(&after.body, "undistributed_profit"), "150.00");
        assert_eq!(amount(&after.body, "total_assets"), "50280.00");
        assert_eq!(after.body["balanced"], true);
        let year = app.get("/api/v1/reports/income-statement?from=2026-01-01&to=2026-12-31", &t.token).await;
        assert_eq!(amount(&year.body, "net_profit"), "150.00", "a closed year still shows its profit");

        // Next year opens with the profit in retained earnings.
        let next = app.get("/api/v1/reports/balance-sheet?as_of=2027-01-31", &t.token).await;
        let re = next.body["lines"].as_array().unwrap().iter().find(|l| l["key"] == "undistributed_profit").unwrap();
        assert_eq!(re["comparison"], "150.00");

        let audit_before = app.audit_count(&t.token).await;
        let again = app.call(Method::POST, "/api/v1/fiscal-years/2026/close", Some(&t.token), None, &[]).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
        let late = app
            .post(
                "/api/v1/journal-entries",
                &t.token,
                entry("2026-06-01", &[(&a("1002"), "1.00", ""), (&a("5001"), "", "1.00")]),
            )
            .await;
        let late_id = late.body["id"].as_str().unwrap().to_owned();
        let refused =
            app.call(Method::POST, &format!("/api/v1/journal-entries/{late_id}/post"), Some(&t.token), None, &[]).await;
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.problem(), "period-closed");
        assert_eq!(app.audit_count(&t.token).await, audit_before + 1, "only the draft was recorded");
    })
    .await;
}

#[tokio::test]
async fn the_generic_chart_has_an_english_balance_sheet_that_balances() {
    on_each_backend(async |app| {
        let t = app.signup_with("Plain Statements", "generic", "USD").await;
        let (bank, capital, sales, extra) = (
            id_of(&app, &t, "1010").await,
            id_of(&app, &t, "3000").await,
            id_of(&app, &t, "4000").await,
            id_of(&app, &t, "6100").await,
        );
        post_entry(&app, &t.token, entry("2026-05-01", &[(&bank, "900.00", ""), (&capital, "", "900.00")])).await;
        post_entry(&app, &t.token, entry("2026-05-02", &[(&bank, "300.00", ""), (&sales, "", "300.00")])).await;
        post_entry(&app, &t.token, entry("2026-05-03", &[(&extra, "45.50", ""), (&bank, "", "45.50")])).await;
        let bs = app.get("/api/v1/reports/balance-sheet?as_of=2026-05-31", &t.token).await;
        assert_eq!(bs.body["title"], "Balance sheet");
        assert_eq!(bs.body["balanced"], true);
        assert_eq!(amount(&bs.body, "total_assets"), "1154.50");
        assert_eq!(amount(&bs.body, "current_profit"), "254.50");
        let csv = app
            .client
            .get(format!("{}/api/v1/reports/income-statement?from=2026-05-01&to=2026-05-31&format=csv", app.base))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(csv.lines().any(|l| l == "net_profit,Net profit,Net profit,254.50,254.50"), "{csv}");
        let bad = app.get("/api/v1/reports/income-statement?from=2026-06-01&to=2026-05-01", &t.token).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.fields(), ["from"]);
    })
    .await;
}
