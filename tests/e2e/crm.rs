//! CRM through the API: leads assigned by rules and de-duplicated, followed up, converted into
//! a customer and an opportunity, moved through the pipeline, quoted, won by the accepted
//! quotation, and the order delivered, billed and paid; and the moves that make no sense.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;
use crate::stock::{item, post_doc, receipt, warehouse};

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn day(n: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(n)).to_string()
}

pub(crate) async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, token, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{path}: {:?}", a.body);
    a.body
}

pub(crate) async fn ok(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let a = app.post(path, token, body).await;
    assert!(a.status.is_success(), "{path}: {} {:?}", a.status, a.body);
    a.body
}

async fn count(app: &TestApp, token: &str, path: &str) -> usize {
    let a = app.get(path, token).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body["data"].as_array().unwrap().len()
}

async fn stage(app: &TestApp, token: &str, code: &str) -> String {
    let s = app.get("/api/v1/pipeline-stages", token).await;
    s.body["data"].as_array().unwrap().iter().find(|s| s["code"] == code).map(id).unwrap()
}

#[tokio::test]
async fn a_lead_becomes_a_customer_an_opportunity_and_a_paid_order() {
    on_each_backend(async |app| {
        let t = app.signup_with("Lead Co", "generic", "CNY").await;
        let (alice, alice_token) = app.user_with_role(&t, "alice@lead.test", "sales").await;
        let (bob, _) = app.user_with_role(&t, "bob@lead.test", "sales").await;

        // Leads in the east go to Alice; the rest take turns.
        let rules = app
            .call(
                reqwest::Method::PUT,
                "/api/v1/lead-assignment-rules",
                Some(&t.token),
                Some(json!({"rules": [
                    {"kind": "region", "match_value": "East", "user_ids": [alice]},
                    {"kind": "round_robin", "user_ids": [alice, bob]}]})),
                &[],
            )
            .await;
        assert_eq!(rules.status, StatusCode::OK, "{:?}", rules.body);
        let l1 = created(&app, &t.token, "/api/v1/leads", json!({"name": "Wang Fang", "company": "Eastern Desks Ltd",
            "phone": "13800138000", "email": "wang@eastern.test", "source": "trade_show", "region": "east", "tags": ["Desks"]})).await;
        assert_eq!((l1["owner_id"].as_str(), l1["status"].as_str()), (Some(alice.as_str()), Some("new")));
        let l2 = created(&app, &t.token, "/api/v1/leads", json!({"name": "Li Lei", "email": "li@north.test", "source": "website"})).await;
        let l3 = created(&app, &t.token, "/api/v1/leads", json!({"name": "Han Mei", "phone": "021 5555 0101", "source": "referral"})).await;
        assert_eq!(l2["owner_id"].as_str(), Some(alice.as_str()), "round robin starts with the first user");
        assert_eq!(l3["owner_id"].as_str(), Some(bob.as_str()), "and hands the next lead to the next");
        assert_eq!(l1["number"], "LD-000001");

        // The same phone written another way is the same lead: refused, nothing written.
        let dup = app.post("/api/v1/leads", &t.token, json!({"name": "F. Wang", "phone": "+86 138-0013-8000", "source": "phone"})).await;
        assert_eq!(dup.status, StatusCode::CONFLICT, "{:?}", dup.body);
        assert!(dup.body["detail"].as_str().unwrap().contains("LD-000001"), "{:?}", dup.body);
        let dup = app.post("/api/v1/leads", &t.token, json!({"name": "L. Lei", "email": " LI@north.test", "source": "phone"})).await;
        assert_eq!(dup.status, StatusCode::CONFLICT, "emails match whatever their case");
        assert_eq!(count(&app, &t.token, "/api/v1/leads").await, 3);
        let bad = app.post("/api/v1/leads", &t.token, json!({"name": "Nobody", "source": "carrier_pigeon"})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.fields(), vec!["source", "email"]);
        assert_eq!(count(&app, &t.token, "/api/v1/leads").await, 3);
        let found = app.get("/api/v1/leads?q=eastern", &t.token).await;
        assert_eq!(found.body["data"].as_array().unwrap().len(), 1);

        // Alice calls Wang Fang and plans to follow up tomorrow.
        let call = created(&app, &alice_token, "/api/v1/activities", json!({"kind": "call", "subject": "First call",
            "key_points": "Needs 20 standing desks before spring; budget about 12,000", "outcome": "interested",
            "lead_id": id(&l1), "next_follow_up": day(1)})).await;
        let lead = app.get(&format!("/api/v1/leads/{}", id(&l1)), &t.token).await;
        assert_eq!(lead.body["status"], "contacted", "a new lead someone talked to is contacted");
        let due = app.get(&format!("/api/v1/follow-ups?as_of={}", day(1)), &alice_token).await;
        assert_eq!(due.body["due_today"].as_array().unwrap().len(), 1);
        let later = app.get(&format!("/api/v1/follow-ups?as_of={}", day(3)), &alice_token).await;
        assert_eq!((later.body["due_today"].as_array().unwrap().len(), later.body["overdue"].as_array().unwrap().len()), (0, 1));

        // Converted: customer, contact and opportunity in one step.
        let conv = created(&app, &alice_token, &format!("/api/v1/leads/{}/convert", id(&l1)), json!({"customer_code": "C-EAST",
            "opportunity": {"name": "Standing desks", "expected_amount": "12000.00", "close_date": day(30)}})).await;
        let customer = id(&conv["customer"]);
        let opp = id(&conv["opportunity"]);
        assert_eq!(conv["lead"]["status"], "converted");
        assert_eq!(conv["customer"]["name"], "Eastern Desks Ltd");
        assert_eq!(conv["customer"]["owner_id"].as_str(), Some(alice.as_str()));
        assert_eq!(conv["customer"]["contacts"][0]["name"], "Wang Fang");
        assert_eq!(conv["opportunity"]["stage_id"].as_str(), Some(stage(&app, &t.token, "prospecting").await.as_str()));
        assert_eq!((conv["opportunity"]["probability"].as_str(), conv["opportunity"]["weighted_base"].as_str()), (Some("0.100000"), Some("1200.0000")));
        let acts = app.get(&format!("/api/v1/activities?customer_id={customer}"), &t.token).await;
        assert_eq!(acts.body["data"][0]["id"], call["id"], "the lead's history came along");
        let again = app.post(&format!("/api/v1/leads/{}/convert", id(&l1)), &t.token, json!({
            "opportunity": {"expected_amount": "1.00", "close_date": day(30)}})).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(count(&app, &t.token, "/api/v1/opportunities").await, 1, "nothing written by the second conversion");

        // A visit is the follow-up: it closes the open reminder.
        created(&app, &alice_token, "/api/v1/activities", json!({"kind": "visit", "subject": "Showroom visit",
            "key_points": "Chose the oak top", "opportunity_id": opp})).await;
        let due = app.get(&format!("/api/v1/follow-ups?as_of={}", day(3)), &alice_token).await;
        assert_eq!(due.body["overdue"].as_array().unwrap().len(), 0);

        // Through the pipeline, two days later: skipping a stage is fine, standing still or closing
        // by a move is not.
        app.advance(chrono::Duration::days(2));
        let relogin = async |email: &str| {
            app.login(&t.slug, email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned()
        };
        let alice_token = relogin("alice@lead.test").await;
        let t = Tenant { token: relogin(&t.email).await, ..t.clone() };
        let proposal = stage(&app, &t.token, "proposal").await;
        let moved = ok(&app, &alice_token, &format!("/api/v1/opportunities/{opp}/move"), json!({"stage_id": proposal})).await;
        assert_eq!(moved["probability"], "0.500000");
        let same = app.post(&format!("/api/v1/opportunities/{opp}/move"), &alice_token, json!({"stage_id": proposal})).await;
        assert_eq!((same.status, same.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["stage_id".to_owned()]));
        let won_stage = stage(&app, &t.token, "won").await;
        let by_move = app.post(&format!("/api/v1/opportunities/{opp}/move"), &alice_token, json!({"stage_id": won_stage})).await;
        assert_eq!(by_move.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(by_move.body["errors"][0]["message"].as_str().unwrap().contains("win or lose"));

        // Quoted, accepted: the opportunity is won by the order.
        let wh = warehouse(&app, &t, "WH", false).await;
        let desk = item(&app, &t, json!({"sku": "DESK", "name": "Standing desk", "base_unit": "pcs", "default_warehouse_id": wh})).await;
        post_doc(&app, &t, receipt(&wh, &day(2), json!([{"item_id": desk, "quantity": "20", "unit_cost": "350"}]))).await;
        let other_customer = id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C-X", "name": "X"})).await);
        let wrong = app.post(&format!("/api/v1/opportunities/{opp}/quotation"), &alice_token, json!({"customer_id": other_customer,
            "order_date": day(2), "lines": [{"item_id": desk, "quantity": "20", "unit_price": "600.00"}]})).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        let quoted = created(&app, &alice_token, &format!("/api/v1/opportunities/{opp}/quotation"), json!({"customer_id": customer,
            "order_date": day(2), "lines": [{"item_id": desk, "quantity": "20", "unit_price": "600.00"}]})).await;
        let q = id(&quoted["quotation"]);
        assert_eq!((quoted["quotation"]["kind"].as_str(), quoted["opportunity"]["quotation_id"].as_str()), (Some("quotation"), Some(q.as_str())));
        let second = app.post(&format!("/api/v1/opportunities/{opp}/quotation"), &alice_token, json!({"customer_id": customer,
            "order_date": day(2), "lines": [{"item_id": desk, "quantity": "1", "unit_price": "600.00"}]})).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "one open quotation per opportunity");
        let so = created(&app, &alice_token, &format!("/api/v1/sales-orders/{q}/accept"), json!({})).await;
        let won = app.get(&format!("/api/v1/opportunities/{opp}"), &t.token).await;
        assert_eq!((won.body["status"].as_str(), won.body["sales_order_id"].as_str()), (Some("won"), Some(id(&so).as_str())));
        assert_eq!(won.body["stage_id"].as_str(), Some(won_stage.as_str()));
        let history: Vec<&str> = won.body["stage_history"].as_array().unwrap().iter().map(|v| v["stage_id"].as_str().unwrap()).collect();
        assert_eq!(history.len(), 3, "prospecting, proposal, won: {history:?}");
        // Deleting the draft order undoes the win exactly; accepting again wins it again.
        let gone = app.call(reqwest::Method::DELETE, &format!("/api/v1/sales-orders/{}", id(&so)), Some(&t.token), None, &[]).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
        let reopened = app.get(&format!("/api/v1/opportunities/{opp}"), &t.token).await;
        assert_eq!((reopened.body["status"].as_str(), reopened.body["stage_id"].as_str()), (Some("open"), Some(proposal.as_str())));
        assert_eq!(reopened.body["stage_history"].as_array().unwrap().len(), 2);
        let so = created(&app, &alice_token, &format!("/api/v1/sales-orders/{q}/accept"), json!({})).await;
        let won = app.get(&format!("/api/v1/opportunities/{opp}"), &t.token).await;
        assert_eq!((won.body["status"].as_str(), won.body["expected_amount"].as_str()), (Some("won"), Some("12000.0000")), "won at the order's net amount");
        let late = app.post(&format!("/api/v1/opportunities/{opp}/move"), &alice_token, json!({"stage_id": proposal})).await;
        assert_eq!(late.status, StatusCode::CONFLICT, "a won opportunity does not move");

        // The order is confirmed, delivered, billed and paid.
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{}/confirm", id(&so)), json!({})).await;
        let dn = created(&app, &t.token, "/api/v1/deliveries", json!({"customer_id": customer, "date": day(2),
            "lines": [{"order_id": id(&so), "line_no": 1, "quantity": "20"}]})).await;
        let inv = created(&app, &t.token, "/api/v1/sales-invoices/from-deliveries", json!({"delivery_ids": [id(&dn)], "invoice_date": day(2)})).await;
        let gross = inv["gross_total"].as_str().unwrap().to_owned();
        created(&app, &t.token, "/api/v1/receipts", json!({"customer_id": customer, "payment_date": day(2), "amount": gross,
            "allocations": [{"invoice_id": id(&inv), "amount": gross}]})).await;
        let paid = app.get(&format!("/api/v1/sales-invoices/{}", id(&inv)), &t.token).await;
        assert_eq!(paid.body["open_amount"], "0.00", "{:?}", paid.body);
        // The customer rates the delivery.
        created(&app, &t.token, "/api/v1/surveys", json!({"shipment_id": id(&dn), "score": 4, "comment": "On time"})).await;
        let sat = app.get("/api/v1/reports/satisfaction", &alice_token).await;
        assert_eq!((sat.body["total"]["after_deliveries"]["responses"].as_i64(), sat.body["total"]["after_deliveries"]["average"].as_str()),
            (Some(1), Some("4.00")), "{:?}", sat.body);

        // Another opportunity stays open in qualification.
        let qualification = stage(&app, &t.token, "qualification").await;
        created(&app, &t.token, "/api/v1/opportunities", json!({"name": "Chairs", "customer_id": other_customer,
            "stage_id": qualification, "expected_amount": "5000.00", "close_date": day(40), "source": "website"})).await;

        // The funnel: from the running totals, and the same counted for Alice alone.
        let funnel = app.get("/api/v1/reports/sales-funnel", &t.token).await;
        assert_eq!(funnel.status, StatusCode::OK, "{:?}", funnel.body);
        let row = |f: &Value, code: &str| f["stages"].as_array().unwrap().iter().find(|s| s["code"] == code).unwrap().clone();
        let p = row(&funnel.body, "prospecting");
        assert_eq!((p["entered"].as_i64(), p["advanced"].as_i64(), p["conversion"].as_str(), p["average_days"].as_str()),
            (Some(1), Some(1), Some("1.0000"), Some("2.00")), "{p}");
        let q = row(&funnel.body, "qualification");
        assert_eq!((q["open_count"].as_i64(), q["open_amount"].as_str(), q["weighted_amount"].as_str()), (Some(1), Some("5000.00"), Some("1250.00")));
        assert_eq!(row(&funnel.body, "won")["entered"], 1);
        assert_eq!(row(&funnel.body, "proposal")["advanced"], 1, "won from proposal");
        assert_eq!((funnel.body["open_count"].as_i64(), funnel.body["open_amount"].as_str()), (Some(1), Some("5000.00")));
        let mine = app.get(&format!("/api/v1/reports/sales-funnel?owner_id={alice}"), &t.token).await;
        for code in ["prospecting", "proposal", "won"] {
            assert_eq!(row(&mine.body, code), row(&funnel.body, code), "counted and running totals agree on {code}");
        }
        assert_eq!(row(&mine.body, "qualification")["open_count"], 0, "the chairs are not Alice's");

        let perf = app.get("/api/v1/reports/crm-performance", &t.token).await;
        assert_eq!(perf.status, StatusCode::OK, "{:?}", perf.body);
        let alice_rate = perf.body["by_owner"].as_array().unwrap().iter().find(|r| r["key"] == alice.as_str()).unwrap();
        assert_eq!((alice_rate["won"].as_i64(), alice_rate["win_rate"].as_str(), alice_rate["won_amount"].as_str()), (Some(1), Some("1.0000"), Some("12000.00")));
        assert_eq!(perf.body["by_source"][0]["key"], "trade_show");

        // The customer as everyone sees it.
        let c360 = app.get(&format!("/api/v1/customers/{customer}/360"), &alice_token).await;
        assert_eq!(c360.status, StatusCode::OK, "{:?}", c360.body);
        let b = &c360.body;
        assert_eq!((b["ar_balance"].as_str(), b["overdue"].as_str(), b["lifetime_value"].as_str()), (Some("0.00"), Some("0.00"), Some(gross.as_str())));
        assert_eq!((b["last_purchase"].as_str(), b["repurchase_rate"].as_str()), (Some(day(2).as_str()), Some("0.0000")));
        assert_eq!(b["last_activity"]["subject"], "Showroom visit");
        assert_eq!(b["recent_activities"].as_array().unwrap().len(), 2);
        assert_eq!((b["open_opportunities"].as_array().unwrap().len(), b["recent_orders"].as_array().unwrap().len()), (0, 1));
        assert_eq!(b["customer"]["code"], "C-EAST");
        assert_eq!((b["survey_responses"].as_i64(), b["satisfaction"].as_str(), b["open_tickets"].as_array().map(Vec::len)),
            (Some(1), Some("4.00"), Some(0)));

        // Segments: one buyer, billed once, not yet a repeat customer.
        let seg = app.get("/api/v1/reports/customer-segments", &t.token).await;
        assert_eq!(seg.status, StatusCode::OK, "{:?}", seg.body);
        assert_eq!((seg.body["buyers"].as_i64(), seg.body["repeat_buyers"].as_i64(), seg.body["repurchase_rate"].as_str()), (Some(1), Some(0), Some("0.0000")));
        let mine = &seg.body["customers"][0];
        assert_eq!((mine["code"].as_str(), mine["frequency"].as_i64(), mine["monetary"].as_str()), (Some("C-EAST"), Some(1), Some(gross.as_str())));
        assert_eq!((mine["r"].as_u64(), mine["segment"].as_str()), (Some(5), Some("champions")), "the only customer is the best on every score");
        let bad = app.get(&format!("/api/v1/reports/customer-segments?from={}&as_of={}", day(5), day(1)), &t.token).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Search by a contact's name and by phone digits written any way.
        let hits = app.get("/api/v1/crm/search?q=wang", &t.token).await;
        let kinds: Vec<&str> = hits.body["data"].as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"contact") && kinds.contains(&"lead"), "{kinds:?}");
        let by_phone = app.get("/api/v1/crm/search?q=138%200013", &t.token).await;
        assert!(by_phone.body["data"].as_array().unwrap().iter().any(|h| h["kind"] == "customer" && h["id"] == customer.as_str()), "{:?}", by_phone.body);
        assert_eq!(app.get("/api/v1/crm/search?q=a", &t.token).await.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Lost leads need a reason; a lost lead is not lost twice; another tenant sees nothing.
        let no_reason = app.post(&format!("/api/v1/leads/{}/lose", id(&l2)), &t.token, json!({})).await;
        assert_eq!((no_reason.status, no_reason.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()]));
        let lost = ok(&app, &t.token, &format!("/api/v1/leads/{}/lose", id(&l2)), json!({"reason": "went with a competitor"})).await;
        assert_eq!(lost["status"], "lost");
        let perf = app.get("/api/v1/reports/crm-performance", &t.token).await;
        assert_eq!((perf.body["leads"].as_i64(), perf.body["leads_converted"].as_i64(), perf.body["lead_conversion_rate"].as_str()),
            (Some(3), Some(1), Some("0.3333")));
        let twice = app.post(&format!("/api/v1/leads/{}/lose", id(&l2)), &t.token, json!({"reason": "again"})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        let other = app.signup("Other CRM").await;
        assert_eq!(app.get(&format!("/api/v1/leads/{}", id(&l3)), &other.token).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/api/v1/opportunities/{opp}"), &other.token).await.status, StatusCode::NOT_FOUND);
        let foreign = app.post("/api/v1/activities", &other.token, json!({"kind": "note", "subject": "peek", "customer_id": customer})).await;
        assert_eq!((foreign.status, foreign.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["customer_id".to_owned()]));
        let (_, viewer) = app.user_with_role(&t, "viewer@lead.test", "viewer").await;
        let denied = app.post("/api/v1/leads", &viewer, json!({"name": "V", "email": "v@v.test"})).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    })
    .await;
}
