//! Approvals through the API: one engine behind purchase orders, sales orders with a discount,
//! manual journal entries, production changes after release and expense claims. Multi-step
//! flows with conditions, the requester's manager, all-of steps, delegation, rejection and
//! resubmission, with the documents' states and the ledger checked at each step; and deciding
//! twice, deciding someone else's step and editing a frozen document, which write nothing.

use meridian::domain::ids::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::crm::{created, id, ok};
use crate::harness::*;
use crate::stock::{item, post_doc, receipt, warehouse};

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let a = app.get(path, token).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body
}

async fn events(app: &TestApp, t: &Tenant) -> i64 {
    let tenant = TenantId(t.id.parse().unwrap());
    app.state.store.count_rows_unfiltered(Some(tenant), "outbox_events").await.unwrap()
}

async fn inbox(app: &TestApp, token: &str) -> (u64, u64, u64) {
    let c = get(app, token, "/api/v1/approval-inbox").await;
    (c["waiting"].as_u64().unwrap(), c["submitted_pending"].as_u64().unwrap(), c["decided"].as_u64().unwrap())
}

/// The one request waiting for this user (in their own name or a delegator's).
async fn waiting(app: &TestApp, token: &str) -> Value {
    let l = get(app, token, "/api/v1/approval-requests?box=waiting").await;
    let data = l["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{l:?}");
    data[0].clone()
}

async fn decide(
    app: &TestApp,
    token: &str,
    request: &str,
    verb: &str,
    comment: Option<&str>,
) -> crate::harness::Answer {
    let body = comment.map_or(json!({}), |c| json!({"comment": c}));
    app.post(&format!("/api/v1/approval-requests/{request}/{verb}"), token, body).await
}

async fn position(app: &TestApp, t: &Tenant, user: &str, manager: Option<&str>, department: &str) {
    let a = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{user}/position"),
            Some(&t.token),
            Some(json!({"manager_id": manager, "department": department})),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

#[tokio::test]
async fn a_purchase_order_climbs_a_two_step_flow_through_rejection_delegation_and_resubmission() {
    on_each_backend(async |app| {
        let t = app.signup("Flow Co").await;
        let (buyer, buyer_t) = app.user_with_role(&t, "buyer@flow.test", "purchasing").await;
        let (boss, boss_t) = app.user_with_role(&t, "boss@flow.test", "purchasing").await;
        let (f1, f1_t) = app.user_with_role(&t, "f1@flow.test", "accountant").await;
        let (f2, f2_t) = app.user_with_role(&t, "f2@flow.test", "accountant").await;
        let (deputy, deputy_t) = app.user_with_role(&t, "deputy@flow.test", "accountant").await;
        position(&app, &t, &buyer, Some(&boss), "ops").await;

        // A manager cannot report to their own report.
        let cycle = app
            .call(
                Method::PUT,
                &format!("/api/v1/users/{boss}/position"),
                Some(&t.token),
                Some(json!({"manager_id": buyer})),
                &[],
            )
            .await;
        assert_eq!((cycle.status, cycle.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["manager_id".to_owned()]));

        // Ops purchases: under 1,000 approved at once; the buyer's manager; from 5,000 both
        // finance people as well.
        let flow = json!({"document_kind": "purchase_order", "name": "Ops buying",
            "when": {"departments": ["ops"]}, "auto_approve_below": "1000",
            "steps": [
                {"name": "manager", "quorum": "any_of", "approvers": [{"manager": true}]},
                {"name": "finance", "quorum": "all_of", "approvers": [{"user_id": f1}, {"user_id": f2}],
                 "when": {"min_amount": "5000"}}]});
        let refused = app.post("/api/v1/approval-flows", &buyer_t, flow.clone()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "flows are the admin's");
        let bad = app
            .post(
                "/api/v1/approval-flows",
                &t.token,
                json!({"document_kind": "purchase_order", "name": "Bad",
                "when": {"discount_above": "0.1"},
                "steps": [{"name": "x", "quorum": "most_of", "approvers": [{"user_id": buyer, "manager": true}]}]}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields = bad.fields();
        fields.sort();
        assert_eq!(fields, ["steps[0].approvers[0]", "steps[0].quorum"]);
        let bad = app
            .post(
                "/api/v1/approval-flows",
                &t.token,
                json!({"document_kind": "purchase_order", "name": "Bad",
                "when": {"discount_above": "0.1"}, "steps": []}),
            )
            .await;
        let mut fields = bad.fields();
        fields.sort();
        assert_eq!(fields, ["steps", "when.discount_above"], "{:?}", bad.body);
        assert!(get(&app, &t.token, "/api/v1/approval-flows").await["data"].as_array().unwrap().is_empty());
        created(&app, &t.token, "/api/v1/approval-flows", flow).await;

        let supplier = id(&created(&app, &t.token, "/api/v1/suppliers", json!({"code": "S1", "name": "Parts"})).await);
        let wh = warehouse(&app, &t, "WH", false).await;
        let part =
            item(&app, &t, json!({"sku": "PART", "name": "Part", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        let po = |qty: &str| {
            json!({"supplier_id": supplier, "order_date": today(),
            "lines": [{"item_id": part, "quantity": qty, "unit_price": "100.00"}]})
        };

        // 500: approved at once, the request on record.
        let small = id(&created(&app, &buyer_t, "/api/v1/purchase-orders", po("5")).await);
        let s = ok(&app, &buyer_t, &format!("/api/v1/purchase-orders/{small}/submit"), json!({})).await;
        assert_eq!(s["status"], "confirmed");
        let mine = get(&app, &buyer_t, "/api/v1/approval-requests?box=submitted").await;
        assert_eq!(mine["data"][0]["status"], "approved");
        assert!(mine["data"][0]["comment"].as_str().unwrap().contains("automatically"));

        // 6,000: the owner may not approve it directly; submitted, it is frozen.
        let big = id(&created(&app, &buyer_t, "/api/v1/purchase-orders", po("60")).await);
        let direct = app.post(&format!("/api/v1/purchase-orders/{big}/approve"), &t.token, json!({})).await;
        assert_eq!(direct.status, StatusCode::CONFLICT, "{:?}", direct.body);
        let before = events(&app, &t).await;
        let s = ok(&app, &buyer_t, &format!("/api/v1/purchase-orders/{big}/submit"), json!({})).await;
        assert_eq!(s["status"], "submitted");
        assert_eq!(events(&app, &t).await, before + 1, "one approval.requested for the manager");
        let audit = app.audit_count(&t.token).await;
        let edit = app.patch(&format!("/api/v1/purchase-orders/{big}"), &buyer_t, "\"2\"", po("70")).await;
        assert_eq!(edit.status, StatusCode::CONFLICT, "a submitted order is frozen: {:?}", edit.body);
        let again = app.post(&format!("/api/v1/purchase-orders/{big}/submit"), &buyer_t, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        let cancel = app.post(&format!("/api/v1/purchase-orders/{big}/cancel"), &buyer_t, json!({})).await;
        assert_eq!(cancel.status, StatusCode::CONFLICT);
        assert_eq!(app.audit_count(&t.token).await, audit, "refusals wrote nothing");
        assert_eq!(inbox(&app, &boss_t).await, (1, 0, 0));
        assert_eq!(inbox(&app, &buyer_t).await, (0, 1, 0));
        assert_eq!(inbox(&app, &f1_t).await, (0, 0, 0), "finance waits for the manager");
        let req = waiting(&app, &boss_t).await;
        assert_eq!(
            (req["document_number"].as_str(), req["amount"].as_str()),
            (s["number"].as_str(), Some("6000.0000"))
        );
        assert_eq!(req["current_step"], "manager");
        let r = id(&req);

        // Nobody decides their own request or someone else's step.
        let own = decide(&app, &buyer_t, &r, "approve", None).await;
        assert_eq!(own.status, StatusCode::FORBIDDEN, "{:?}", own.body);
        let early = decide(&app, &f1_t, &r, "approve", None).await;
        assert_eq!(early.status, StatusCode::FORBIDDEN, "not yet finance's step");
        let no_reason = decide(&app, &boss_t, &r, "reject", None).await;
        assert_eq!(
            (no_reason.status, no_reason.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["comment".to_owned()])
        );
        assert_eq!(app.audit_count(&t.token).await, audit, "refusals wrote nothing");

        // The manager approves: finance's all-of step opens, one task each.
        let before = events(&app, &t).await;
        let a = decide(&app, &boss_t, &r, "approve", Some("needed for the spring run")).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!((a.body["status"].as_str(), a.body["current_step"].as_str()), (Some("pending"), Some("finance")));
        assert_eq!(events(&app, &t).await, before + 2);
        assert_eq!(inbox(&app, &boss_t).await, (0, 0, 1));
        let twice = decide(&app, &boss_t, &r, "approve", None).await;
        assert_eq!(twice.status, StatusCode::FORBIDDEN, "the manager's step is over: {:?}", twice.body);

        // f2 is away today and lets the deputy decide for them.
        let away = json!({"to_user_id": deputy, "starts_on": today(), "ends_on": today(), "reason": "trade fair"});
        assert_eq!(app.post("/api/v1/approval-delegations", &f2_t, away).await.status, StatusCode::CREATED);
        assert_eq!(inbox(&app, &deputy_t).await.0, 1, "the deputy sees f2's task");
        let d = decide(&app, &deputy_t, &r, "approve", None).await;
        assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
        let fin = &d.body["steps"][1];
        let f2_task = fin["tasks"].as_array().unwrap().iter().find(|x| x["approver"]["id"] == f2.as_str()).unwrap();
        assert_eq!(
            (f2_task["status"].as_str(), f2_task["decided_by"]["id"].as_str()),
            (Some("approved"), Some(deputy.as_str()))
        );
        let twice = decide(&app, &f2_t, &r, "approve", None).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "f2's approval is in already: {:?}", twice.body);

        // f1 rejects: the order is a draft again, free to change.
        let rej = decide(&app, &f1_t, &r, "reject", Some("split it across two months")).await;
        assert_eq!((rej.status, rej.body["status"].as_str()), (StatusCode::OK, Some("rejected")));
        assert_eq!(rej.body["comment"], "split it across two months");
        let order = get(&app, &buyer_t, &format!("/api/v1/purchase-orders/{big}")).await;
        assert_eq!(order["status"], "draft");
        let late = decide(&app, &f2_t, &r, "approve", None).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "a settled request takes no decision");

        // Changed and resubmitted: a new request runs the whole flow again.
        let edited = app
            .patch(&format!("/api/v1/purchase-orders/{big}"), &buyer_t, order["version"].to_string().as_str(), po("55"))
            .await;
        assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
        ok(&app, &buyer_t, &format!("/api/v1/purchase-orders/{big}/submit"), json!({})).await;
        let r2 = id(&waiting(&app, &boss_t).await);
        assert_ne!(r2, r);
        assert_eq!(decide(&app, &boss_t, &r2, "approve", None).await.status, StatusCode::OK);
        assert_eq!(decide(&app, &f1_t, &r2, "approve", None).await.status, StatusCode::OK);
        let order = get(&app, &buyer_t, &format!("/api/v1/purchase-orders/{big}")).await;
        assert_eq!(order["status"], "submitted", "all-of: f2's approval still missing");
        let last = decide(&app, &f2_t, &r2, "approve", None).await;
        assert_eq!((last.status, last.body["status"].as_str()), (StatusCode::OK, Some("approved")));
        let order = get(&app, &buyer_t, &format!("/api/v1/purchase-orders/{big}")).await;
        assert_eq!(order["status"], "confirmed", "approved, it can be received");
        let history = get(&app, &buyer_t, &format!("/api/v1/approval-requests?box=submitted&document_id={big}")).await;
        let states: Vec<&str> =
            history["data"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
        assert_eq!(states, ["approved", "rejected"]);
        let all = app.get("/api/v1/approval-requests?box=all", &buyer_t).await;
        assert_eq!(all.status, StatusCode::FORBIDDEN, "everyone's requests need approvals approve");
        let audit = get(&app, &t.token, "/api/v1/audit-events?limit=200").await;
        let rejection =
            audit["data"].as_array().unwrap().iter().find(|e| e["action"] == "approval_request.reject").unwrap();
        assert_eq!(rejection["after"]["decision"]["comment"], "split it across two months");
    })
    .await;
}

#[tokio::test]
async fn expense_claims_post_when_approved_and_payments_clear_what_the_employee_is_owed() {
    on_each_backend(async |app| {
        let t = app.signup("Claims Co").await;
        let (emp, emp_t) = app.user_with_role(&t, "emp@claims.test", "sales").await;
        let (boss, boss_t) = app.user_with_role(&t, "boss@claims.test", "sales").await;
        position(&app, &t, &emp, Some(&boss), "sales").await;
        let claim = |amount: &str| json!({"claim_date": today(), "description": "Customer visit, Shanghai",
            "lines": [
                {"category": "travel", "description": "Train", "expense_date": today(), "amount": amount, "tax": "90.00",
                 "receipt_ref": "FP-001", "department": "sales", "project": "SH-2026"},
                {"category": "meals", "description": "Dinner", "expense_date": today(), "amount": "200.00"}]});

        // Bad lines write nothing.
        let audit = app.audit_count(&t.token).await;
        let bad = app.post("/api/v1/expense-claims", &emp_t, json!({"claim_date": today(), "description": "x",
            "lines": [{"category": "yachts", "description": "", "expense_date": "2099-01-01", "amount": "10.00", "tax": "10.00"}]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields = bad.fields();
        fields.sort();
        assert_eq!(fields, ["lines[0].category", "lines[0].description", "lines[0].expense_date", "lines[0].tax"]);
        let other = app.post("/api/v1/expense-claims", &emp_t, json!({"employee_id": boss, "claim_date": today(),
            "description": "x", "lines": []})).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "filing for someone else takes finance write");
        assert_eq!(app.audit_count(&t.token).await, audit);

        let c = created(&app, &emp_t, "/api/v1/expense-claims", claim("1090.00")).await;
        assert_eq!((c["total"].as_str(), c["tax_total"].as_str()), (Some("1290.0000"), Some("90.0000")));
        let c = id(&c);
        let none = app.post(&format!("/api/v1/expense-claims/{c}/submit"), &emp_t, json!({})).await;
        assert_eq!(none.status, StatusCode::CONFLICT, "no flow covers claims yet: {:?}", none.body);
        created(&app, &t.token, "/api/v1/approval-flows", json!({"document_kind": "expense_claim", "name": "Claims",
            "steps": [{"name": "manager", "quorum": "any_of", "approvers": [{"manager": true}]}]})).await;
        let s = ok(&app, &emp_t, &format!("/api/v1/expense-claims/{c}/submit"), json!({})).await;
        assert_eq!(s["status"], "submitted");
        let frozen = app
            .call(Method::PUT, &format!("/api/v1/expense-claims/{c}"), Some(&emp_t), Some(claim("990.00")),
                &[("if-match", &format!("\"{}\"", s["version"]))])
            .await;
        assert_eq!(frozen.status, StatusCode::CONFLICT, "{:?}", frozen.body);

        // Returned for a change, changed, resubmitted, approved: posted on the approval date.
        let r = id(&waiting(&app, &boss_t).await);
        let back = decide(&app, &boss_t, &r, "return", Some("the train was 990")).await;
        assert_eq!(back.body["status"], "returned");
        let draft = get(&app, &emp_t, &format!("/api/v1/expense-claims/{c}")).await;
        assert_eq!((draft["status"].as_str(), draft["entry_id"].as_null()), (Some("draft"), Some(())));
        let fixed = app
            .call(Method::PUT, &format!("/api/v1/expense-claims/{c}"), Some(&emp_t), Some(claim("990.00")),
                &[("if-match", &format!("\"{}\"", draft["version"]))])
            .await;
        assert_eq!(fixed.status, StatusCode::OK, "{:?}", fixed.body);
        ok(&app, &emp_t, &format!("/api/v1/expense-claims/{c}/submit"), json!({})).await;
        let r = id(&waiting(&app, &boss_t).await);
        assert_eq!(decide(&app, &emp_t, &r, "approve", None).await.status, StatusCode::FORBIDDEN, "not one's own");
        assert_eq!(decide(&app, &boss_t, &r, "approve", None).await.status, StatusCode::OK);
        let approved = get(&app, &emp_t, &format!("/api/v1/expense-claims/{c}")).await;
        assert_eq!((approved["status"].as_str(), approved["outstanding"].as_str()), (Some("approved"), Some("1190.0000")));
        let tb = get(&app, &t.token, "/api/v1/reports/trial-balance?as_of=2099-12-31").await;
        let line = |code: &str, side: &str| {
            tb["lines"].as_array().unwrap().iter().find(|l| l["code"] == code).map(|l| l[side].as_str().unwrap().to_owned())
        };
        assert_eq!(line("5602", "closing_debit").as_deref(), Some("1100.00"), "900 train net + 200 dinner");
        assert_eq!(line("22210101", "closing_debit").as_deref(), Some("90.00"));
        assert_eq!(line("2241", "closing_credit").as_deref(), Some("1190.00"));

        // Paid in two parts; more than owed is refused.
        let audit = app.audit_count(&t.token).await;
        let pay = async |token: &str, body: Value| app.post(&format!("/api/v1/expense-claims/{c}/payments"), token, body).await;
        assert_eq!(pay(&emp_t, json!({"payment_date": today()})).await.status, StatusCode::FORBIDDEN);
        let over = pay(&t.token, json!({"payment_date": today(), "amount": "1190.01"})).await;
        assert_eq!((over.status, over.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["amount".to_owned()]));
        assert_eq!(app.audit_count(&t.token).await, audit);
        let part = pay(&t.token, json!({"payment_date": today(), "amount": "500.00", "reference": "TT-1"})).await;
        assert_eq!((part.status, part.body["outstanding"].as_str()), (StatusCode::OK, Some("690.0000")));
        let rest = pay(&t.token, json!({"payment_date": today()})).await;
        assert_eq!(rest.status, StatusCode::OK, "{:?}", rest.body);
        assert_eq!((rest.body["status"].as_str(), rest.body["outstanding"].as_str()), (Some("paid"), Some("0.0000")));
        assert_eq!(rest.body["payments"].as_array().unwrap().len(), 2);
        let tb = get(&app, &t.token, "/api/v1/reports/trial-balance?as_of=2099-12-31").await;
        let bank = tb["lines"].as_array().unwrap().iter().find(|l| l["code"] == "1002").unwrap().clone();
        assert_eq!(bank["closing_credit"], "1190.00");
        assert!(tb["lines"].as_array().unwrap().iter().all(|l| l["code"] != "2241"
            || (l["closing_debit"] == "0.00" && l["closing_credit"] == "0.00")), "the payable is cleared");
        let again = pay(&t.token, json!({"payment_date": today()})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "a paid claim takes no payment");

        // The boss sees the claim only through the request; the list shows own claims only.
        let theirs = get(&app, &boss_t, "/api/v1/expense-claims").await;
        assert!(theirs["data"].as_array().unwrap().is_empty());
        assert_eq!(app.get(&format!("/api/v1/expense-claims/{c}"), &boss_t).await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn discounts_journal_entries_and_production_changes_wait_for_their_approvers() {
    on_each_backend(async |app| {
        let t = app.signup("Gate Co").await;
        let (_, seller_t) = app.user_with_role(&t, "seller@gate.test", "sales").await;
        let (_, clerk_t) = app.user_with_role(&t, "clerk@gate.test", "accountant").await;
        let (_, planner_t) = app.user_with_role(&t, "planner@gate.test", "production").await;
        let (cfo, cfo_t) = app.user_with_role(&t, "cfo@gate.test", "accountant").await;
        let owner = t.owner_id.clone();
        for (kind, when, who) in [
            ("sales_order", json!({"discount_above": "0.10"}), json!({"user_id": owner})),
            ("journal_entry", json!({"min_amount": "10000"}), json!({"user_id": cfo})),
            ("production_change", json!({}), json!({"user_id": owner})),
        ] {
            created(&app, &t.token, "/api/v1/approval-flows", json!({"document_kind": kind, "name": kind, "when": when,
                "steps": [{"name": "approval", "quorum": "any_of", "approvers": [who]}]})).await;
        }

        // Sales: 15 % off needs the owner's yes before it can be confirmed; 5 % does not.
        let customer = id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C1", "name": "Buyer"})).await);
        let wh = warehouse(&app, &t, "WH", false).await;
        let desk = item(&app, &t, json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "default_warehouse_id": wh})).await;
        post_doc(&app, &t, receipt(&wh, &today(), json!([{"item_id": desk, "quantity": "10", "unit_cost": "100"}]))).await;
        let so = |pct: &str| json!({"customer_id": customer, "order_date": today(),
            "lines": [{"item_id": desk, "quantity": "1", "unit_price": "300.00", "discount_percent": pct}]});
        let plain = id(&created(&app, &seller_t, "/api/v1/sales-orders", so("0.05")).await);
        let c = ok(&app, &seller_t, &format!("/api/v1/sales-orders/{plain}/confirm"), json!({})).await;
        assert_eq!(c["status"], "confirmed");
        let deep = id(&created(&app, &seller_t, "/api/v1/sales-orders", so("0.15")).await);
        let refused = app.post(&format!("/api/v1/sales-orders/{deep}/confirm"), &seller_t, json!({})).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
        assert!(refused.body["detail"].as_str().unwrap().contains("submit it"));
        let s = ok(&app, &seller_t, &format!("/api/v1/sales-orders/{deep}/submit"), json!({})).await;
        assert_eq!(s["status"], "submitted");
        let r = waiting(&app, &t.token).await;
        assert!(r["summary"].as_str().unwrap().contains("discount 15.00 %"), "{r:?}");
        assert_eq!(decide(&app, &t.token, &id(&r), "approve", None).await.status, StatusCode::OK);
        let s = get(&app, &seller_t, &format!("/api/v1/sales-orders/{deep}")).await;
        assert_eq!(s["status"], "approved");
        let c = ok(&app, &seller_t, &format!("/api/v1/sales-orders/{deep}/confirm"), json!({})).await;
        assert_eq!(c["status"], "confirmed", "approved, it confirms with the usual checks");

        // Journal entries: 20,000 waits for the CFO and is posted by the approval; frozen meanwhile.
        let bank = crate::ledger::id_of(&app, &t, "1002").await;
        let capital = crate::ledger::id_of(&app, &t, "3001").await;
        let draft = |amount: &str| json!({"entry_date": today(), "memo": "capital injection",
            "lines": [{"account_id": bank, "debit": amount}, {"account_id": capital, "credit": amount}]});
        let je = created(&app, &clerk_t, "/api/v1/journal-entries", draft("20000.00")).await;
        let je_id = id(&je);
        let direct = app.post(&format!("/api/v1/journal-entries/{je_id}/post"), &clerk_t, json!({})).await;
        assert_eq!(direct.status, StatusCode::CONFLICT, "{:?}", direct.body);
        let sub = ok(&app, &clerk_t, &format!("/api/v1/journal-entries/{je_id}/submit"), json!({})).await;
        assert_eq!(sub["status"], "draft");
        let edit = app.patch(&format!("/api/v1/journal-entries/{je_id}"), &clerk_t, "\"1\"", draft("25000.00")).await;
        assert_eq!(edit.status, StatusCode::CONFLICT, "frozen while waiting: {:?}", edit.body);
        let del = app.call(Method::DELETE, &format!("/api/v1/journal-entries/{je_id}"), Some(&clerk_t), None, &[]).await;
        assert_eq!(del.status, StatusCode::CONFLICT);
        let r = id(&waiting(&app, &cfo_t).await);
        assert_eq!(decide(&app, &cfo_t, &r, "approve", None).await.status, StatusCode::OK);
        let posted = get(&app, &clerk_t, &format!("/api/v1/journal-entries/{je_id}")).await;
        assert_eq!(posted["status"], "posted");
        let tb = get(&app, &t.token, "/api/v1/reports/trial-balance?as_of=2099-12-31").await;
        let cap = tb["lines"].as_array().unwrap().iter().find(|l| l["code"] == "3001").unwrap().clone();
        assert_eq!(cap["closing_credit"], "20000.00");
        // A small entry posts directly; submitting it is pointless and said so.
        let small = id(&created(&app, &clerk_t, "/api/v1/journal-entries", draft("50.00")).await);
        let pointless = app.post(&format!("/api/v1/journal-entries/{small}/submit"), &clerk_t, json!({})).await;
        assert_eq!(pointless.status, StatusCode::CONFLICT);
        assert_eq!(ok(&app, &clerk_t, &format!("/api/v1/journal-entries/{small}/post"), json!({})).await["status"], "posted");

        // Production: a planned order changes at once; once released the change waits.
        let mk = |sku: &str| json!({"sku": sku, "name": sku, "base_unit": "pcs", "item_type": "manufactured", "default_warehouse_id": wh});
        let stool = item(&app, &t, mk("STOOL")).await;
        let leg = item(&app, &t, mk("LEG")).await;
        post_doc(&app, &t, receipt(&wh, &today(), json!([{"item_id": leg, "quantity": "100", "unit_cost": "5"}]))).await;
        let bom = created(&app, &t.token, "/api/v1/boms", json!({"item_id": stool, "revision": "1",
            "lines": [{"component_id": leg, "quantity": "3"}]})).await;
        ok(&app, &t.token, &format!("/api/v1/boms/{}/activate", id(&bom)), json!({})).await;
        let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(10)).to_string();
        let mo = id(&created(&app, &planner_t, "/api/v1/production-orders", json!({"item_id": stool, "quantity": "2", "due_date": due})).await);
        let changes_path = format!("/api/v1/production-orders/{mo}/changes");
        let change = |body: Value| app.post(&changes_path, &planner_t, body);
        let ch = change(json!({"quantity": "4", "reason": "bigger batch"})).await;
        assert_eq!((ch.status, ch.body["status"].as_str()), (StatusCode::CREATED, Some("applied")));
        let o = get(&app, &planner_t, &format!("/api/v1/production-orders/{mo}")).await;
        assert_eq!((o["quantity"].as_str(), o["components"][0]["required"].as_str()), (Some("4.0000"), Some("12.0000")));
        ok(&app, &planner_t, &format!("/api/v1/production-orders/{mo}/release"), json!({})).await;
        let audit = app.audit_count(&t.token).await;
        let bad = change(json!({"quantity": "0", "reason": ""})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.audit_count(&t.token).await, audit);
        let ch = change(json!({"quantity": "6", "reason": "the customer wants 6"})).await;
        assert_eq!((ch.status, ch.body["status"].as_str()), (StatusCode::CREATED, Some("pending")));
        let second = change(json!({"due_date": today(), "reason": "sooner"})).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "one pending change at a time");
        let o = get(&app, &planner_t, &format!("/api/v1/production-orders/{mo}")).await;
        assert_eq!(o["quantity"], "4.0000", "not before it is approved");
        let r = id(&waiting(&app, &t.token).await);
        let rej = decide(&app, &t.token, &r, "reject", Some("no capacity")).await;
        assert_eq!(rej.status, StatusCode::OK);
        let changes = get(&app, &planner_t, &format!("/api/v1/production-orders/{mo}/changes")).await;
        let states: Vec<&str> = changes["data"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
        assert_eq!(states, ["rejected", "applied"]);
        change(json!({"quantity": "5", "reason": "compromise"})).await;
        let r = id(&waiting(&app, &t.token).await);
        assert_eq!(decide(&app, &t.token, &r, "approve", None).await.status, StatusCode::OK);
        let o = get(&app, &planner_t, &format!("/api/v1/production-orders/{mo}")).await;
        assert_eq!((o["quantity"].as_str(), o["components"][0]["required"].as_str()), (Some("5.0000"), Some("15.0000")));
        let level = crate::stock::level(&app, &t, &leg, &wh).await;
        assert_eq!(level["reserved"], "15.0000", "the reservation follows the new requirement");
    })
    .await;
}

#[tokio::test]
async fn purchase_requests_from_one_supplier_wait_for_the_owner_and_may_be_resubmitted_after_rejection() {
    on_each_backend(async |app| {
        let t = app.signup("Request Co").await;
        let (_, buyer_t) = app.user_with_role(&t, "buyer@request.test", "purchasing").await;
        let watched = id(&created(&app, &t.token, "/api/v1/suppliers", json!({"code": "S1", "name": "Watched"})).await);
        let other = id(&created(&app, &t.token, "/api/v1/suppliers", json!({"code": "S2", "name": "Other"})).await);
        created(
            &app,
            &t.token,
            "/api/v1/approval-flows",
            json!({"document_kind": "purchase_request",
            "name": "Watched supplier", "when": {"supplier_ids": [watched]},
            "steps": [{"name": "owner", "quorum": "any_of", "approvers": [{"user_id": t.owner_id}]}]}),
        )
        .await;
        let wh = warehouse(&app, &t, "WH", false).await;
        let part = item(
            &app,
            &t,
            json!({"sku": "PART", "name": "Part", "base_unit": "pcs", "default_warehouse_id": wh,
            "standard_cost": "12.50"}),
        )
        .await;
        let pr =
            |supplier: &str| json!({"item_id": part, "quantity": "40", "needed_by": today(), "supplier_id": supplier});

        // Another supplier: no flow applies, the request is approved by hand as before.
        let plain = id(&created(&app, &buyer_t, "/api/v1/purchase-requests", pr(&other)).await);
        assert_eq!(
            ok(&app, &buyer_t, &format!("/api/v1/purchase-requests/{plain}/submit"), json!({})).await["status"],
            "submitted"
        );
        assert_eq!(inbox(&app, &t.token).await.0, 0);
        assert_eq!(
            ok(&app, &t.token, &format!("/api/v1/purchase-requests/{plain}/approve"), json!({})).await["status"],
            "approved"
        );

        // The watched supplier: through the owner's inbox, valued at the standard cost.
        let pr1 = id(&created(&app, &buyer_t, "/api/v1/purchase-requests", pr(&watched)).await);
        ok(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}/submit"), json!({})).await;
        let r = waiting(&app, &t.token).await;
        assert_eq!(r["amount"], "500.0000");
        let audit = app.audit_count(&t.token).await;
        let direct = app.post(&format!("/api/v1/purchase-requests/{pr1}/approve"), &t.token, json!({})).await;
        assert_eq!(direct.status, StatusCode::CONFLICT, "decided in its request: {:?}", direct.body);
        let cancel = app.post(&format!("/api/v1/purchase-requests/{pr1}/cancel"), &buyer_t, json!({})).await;
        assert_eq!(cancel.status, StatusCode::CONFLICT, "withdraw first: {:?}", cancel.body);
        assert_eq!(app.audit_count(&t.token).await, audit);
        let rej = decide(&app, &t.token, &id(&r), "reject", Some("use the framework contract")).await;
        assert_eq!(rej.status, StatusCode::OK);
        let got = get(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}")).await;
        assert_eq!(
            (got["status"].as_str(), got["decision_note"].as_str()),
            (Some("rejected"), Some("use the framework contract"))
        );

        // Resubmitted, then withdrawn by the buyer, then resubmitted and approved.
        ok(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}/submit"), json!({})).await;
        let r = id(&waiting(&app, &t.token).await);
        assert_eq!(
            app.post(&format!("/api/v1/approval-requests/{r}/withdraw"), &t.token, json!({})).await.status,
            StatusCode::FORBIDDEN,
            "only the requester withdraws"
        );
        let w = ok(&app, &buyer_t, &format!("/api/v1/approval-requests/{r}/withdraw"), json!({})).await;
        assert_eq!(w["status"], "withdrawn");
        assert_eq!(get(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}")).await["status"], "draft");
        ok(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}/submit"), json!({})).await;
        let r = id(&waiting(&app, &t.token).await);
        assert_eq!(decide(&app, &t.token, &r, "approve", None).await.status, StatusCode::OK);
        assert_eq!(get(&app, &buyer_t, &format!("/api/v1/purchase-requests/{pr1}")).await["status"], "approved");
        let history = get(&app, &buyer_t, &format!("/api/v1/approval-requests?box=submitted&document_id={pr1}")).await;
        let states: Vec<&str> =
            history["data"].as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
        assert_eq!(states, ["approved", "withdrawn", "rejected"]);
    })
    .await;
}
