//! The service desk through the API: tickets against their response and resolution targets
//! (the resolution clock stopping while the customer is awaited or the ticket stands resolved),
//! notes, status actions, surveys after a delivery and a ticket, the service-desk and
//! satisfaction reports, customer 360; and the input that must write nothing.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::crm::{created, id, ok};
use crate::harness::*;
use crate::stock::{item, post_doc, receipt, warehouse};

fn at(v: &Value, field: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v[field].as_str().unwrap_or_else(|| panic!("{field} in {v}"))).unwrap().to_utc()
}

fn minutes(v: &Value, from: &str, to: &str) -> i64 {
    (at(v, to) - at(v, from)).num_minutes()
}

async fn numbers(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let a = app.get(path, token).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {:?}", a.body);
    a.body["data"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn tickets_run_against_their_targets_and_customers_rate_the_service() {
    on_each_backend(async |app| {
        let t = app.signup("Desk Co").await;
        let (agent, agent_token) = app.user_with_role(&t, "agent@desk.test", "sales").await;
        let today = Utc::now().date_naive().to_string();

        // Targets: the defaults, then the tenant's own (a manager's job).
        let slas = app.get("/api/v1/ticket-slas", &t.token).await;
        let urgent = slas.body["data"].as_array().unwrap().iter().find(|s| s["priority"] == "urgent").unwrap().clone();
        assert_eq!((urgent["response_minutes"].as_i64(), urgent["resolution_minutes"].as_i64()), (Some(60), Some(480)));
        let put = async |token: &str, body: Value| {
            app.call(Method::PUT, "/api/v1/ticket-slas", Some(token), Some(body), &[]).await
        };
        let targets = json!({"targets": [
            {"priority": "urgent", "response_minutes": 30, "resolution_minutes": 240},
            {"priority": "high", "response_minutes": 120, "resolution_minutes": 960},
            {"priority": "normal", "response_minutes": 240, "resolution_minutes": 1440},
            {"priority": "low", "response_minutes": 1440, "resolution_minutes": 4320}]});
        assert_eq!(put(&agent_token, targets.clone()).await.status, StatusCode::FORBIDDEN, "sales may not set targets");
        let bad = put(
            &t.token,
            json!({"targets": [
            {"priority": "urgent", "response_minutes": 300, "resolution_minutes": 240},
            {"priority": "urgent", "response_minutes": 0, "resolution_minutes": 240}]}),
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields = bad.fields();
        fields.sort();
        fields.dedup();
        assert_eq!(
            fields,
            ["targets", "targets[0].response_minutes", "targets[1].priority", "targets[1].response_minutes"]
        );
        assert_eq!(put(&t.token, targets).await.status, StatusCode::OK);

        // A customer with a delivered order.
        let customer =
            id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C-DESK", "name": "Desk Buyer"})).await);
        let stranger =
            id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C-OTHER", "name": "Other"})).await);
        let wh = warehouse(&app, &t, "WH", false).await;
        let desk =
            item(&app, &t, json!({"sku": "DESK", "name": "Desk", "base_unit": "pcs", "default_warehouse_id": wh}))
                .await;
        post_doc(&app, &t, receipt(&wh, &today, json!([{"item_id": desk, "quantity": "5", "unit_cost": "100"}]))).await;
        let so = id(&created(
            &app,
            &t.token,
            "/api/v1/sales-orders",
            json!({"customer_id": customer, "order_date": today,
            "lines": [{"item_id": desk, "quantity": "2", "unit_price": "300.00"}]}),
        )
        .await);
        ok(&app, &t.token, &format!("/api/v1/sales-orders/{so}/confirm"), json!({})).await;
        let dn = id(&created(
            &app,
            &t.token,
            "/api/v1/deliveries",
            json!({"customer_id": customer, "date": today,
            "lines": [{"order_id": so, "line_no": 1, "quantity": "2"}]}),
        )
        .await);

        // Three tickets at once: urgent about the order, a low one, a high one nobody has taken.
        let wrong_order = app
            .post("/api/v1/tickets", &t.token, json!({"customer_id": stranger, "order_id": so, "subject": "?"}))
            .await;
        assert_eq!(
            (wrong_order.status, wrong_order.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["order_id".to_owned()])
        );
        let urgent = created(
            &app,
            &agent_token,
            "/api/v1/tickets",
            json!({"customer_id": customer, "order_id": so,
            "item_id": desk, "subject": "Desk wobbles", "description": "Left leg\nloose", "priority": "urgent"}),
        )
        .await;
        assert!(urgent["number"].as_str().unwrap().starts_with("TK-"), "{urgent}");
        assert_eq!(
            (urgent["status"].as_str(), urgent["description"].as_str()),
            (Some("open"), Some("Left leg\nloose"))
        );
        assert_eq!(
            (minutes(&urgent, "created_at", "response_due_at"), minutes(&urgent, "created_at", "resolution_due_at")),
            (30, 240)
        );
        let u = format!("/api/v1/tickets/{}", id(&urgent));
        let low = created(
            &app,
            &t.token,
            "/api/v1/tickets",
            json!({"customer_id": customer, "subject": "Invoice copy", "priority": "low"}),
        )
        .await;
        let high = created(
            &app,
            &t.token,
            "/api/v1/tickets",
            json!({"customer_id": customer, "subject": "Missing screws", "priority": "high"}),
        )
        .await;
        assert_eq!(minutes(&high, "created_at", "response_due_at"), 120);
        let no_subject = app
            .post("/api/v1/tickets", &t.token, json!({"customer_id": customer, "subject": " ", "priority": "asap"}))
            .await;
        let mut f = no_subject.fields();
        f.sort();
        assert_eq!(
            (no_subject.status, f),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["priority".to_owned(), "subject".to_owned()])
        );
        assert_eq!(numbers(&app, &t.token, "/api/v1/tickets").await.len(), 3, "nothing written by the refused tickets");

        // An internal note is not an answer.
        let noted = created(
            &app,
            &agent_token,
            &format!("{u}/notes"),
            json!({"visibility": "internal", "body": "Check the batch"}),
        )
        .await;
        assert!(noted["first_response_at"].is_null());
        assert_eq!(noted["notes"].as_array().unwrap().len(), 1);

        // 45 minutes on, nobody has answered: the response target is breached, for the urgent one only.
        app.advance(Duration::minutes(45));
        let relogin = async |email: &str| {
            app.login(&t.slug, email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned()
        };
        let agent_token = relogin("agent@desk.test").await;
        let t = Tenant { token: relogin(&t.email).await, ..t.clone() };
        let now = app.get(&u, &t.token).await;
        assert_eq!(
            (now.body["response_breached"].as_bool(), now.body["resolution_breached"].as_bool()),
            (Some(true), Some(false))
        );
        assert_eq!(
            numbers(&app, &t.token, "/api/v1/tickets?breached=true").await,
            [urgent["number"].as_str().unwrap()]
        );
        let answered = created(
            &app,
            &agent_token,
            &format!("{u}/notes"),
            json!({"visibility": "customer", "body": "A new leg is on its way"}),
        )
        .await;
        assert_eq!(minutes(&answered, "created_at", "first_response_at"), 45);
        assert_eq!(answered["response_breached"], true, "answered late is still late");

        // Started (the agent takes it), then waiting on the customer for ten hours: the
        // resolution clock stands still, and the wait moves the target out.
        let started = ok(&app, &agent_token, &format!("{u}/start"), json!({})).await;
        assert_eq!(
            (started["status"].as_str(), started["assignee_id"].as_str()),
            (Some("in_progress"), Some(agent.as_str()))
        );
        let waiting = ok(&app, &agent_token, &format!("{u}/wait"), json!({})).await;
        assert_eq!(waiting["status"], "waiting");
        let twice = app.post(&format!("{u}/wait"), &agent_token, json!({})).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert!(twice.body["detail"].as_str().unwrap().contains("waiting"), "{:?}", twice.body);
        app.advance(Duration::minutes(600));
        let agent_token = relogin("agent@desk.test").await;
        let t = Tenant { token: relogin(&t.email).await, ..t.clone() };
        let still = app.get(&u, &t.token).await;
        assert_eq!(still.body["resolution_breached"], false, "the clock stopped at 45 of 240 minutes");
        let resumed = ok(&app, &agent_token, &format!("{u}/start"), json!({})).await;
        assert_eq!(minutes(&resumed, "created_at", "resolution_due_at"), 240 + 600);
        assert!(resumed["waiting_since"].is_null());
        let resolved = ok(&app, &agent_token, &format!("{u}/resolve"), json!({})).await;
        assert_eq!(
            (resolved["status"].as_str(), resolved["resolution_breached"].as_bool()),
            (Some("resolved"), Some(false))
        );

        // The customer says no: reopened an hour later, the hour it stood resolved not counted.
        app.advance(Duration::minutes(60));
        let agent_token = relogin("agent@desk.test").await;
        let t = Tenant { token: relogin(&t.email).await, ..t.clone() };
        let reopened = ok(&app, &agent_token, &format!("{u}/reopen"), json!({})).await;
        assert_eq!(
            (reopened["status"].as_str(), minutes(&reopened, "created_at", "resolution_due_at")),
            (Some("open"), 240 + 600 + 60)
        );
        assert!(reopened["resolved_at"].is_null());
        let again = app.post(&format!("{u}/reopen"), &agent_token, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "an open ticket is not reopened");
        ok(&app, &agent_token, &format!("{u}/resolve"), json!({"note": "Leg replaced on site"})).await;
        let closed = ok(&app, &agent_token, &format!("{u}/close"), json!({})).await;
        assert_eq!(closed["status"], "closed");
        let full = app.get(&u, &t.token).await;
        let visible: Vec<&str> =
            full.body["notes"].as_array().unwrap().iter().map(|n| n["visibility"].as_str().unwrap()).collect();
        assert_eq!(visible, ["internal", "customer", "customer"]);
        // Closed is final: no notes, no edits, no moves.
        let etag = full.header("etag").unwrap().to_owned();
        for (status, answer) in [
            (
                StatusCode::CONFLICT,
                app.post(&format!("{u}/notes"), &t.token, json!({"visibility": "internal", "body": "x"})).await,
            ),
            (StatusCode::CONFLICT, app.patch(&u, &t.token, &etag, json!({"subject": "Renamed"})).await),
            (StatusCode::CONFLICT, app.post(&format!("{u}/start"), &t.token, json!({})).await),
        ] {
            assert_eq!(answer.status, status, "{:?}", answer.body);
        }
        assert_eq!(app.get(&u, &t.token).await.body, full.body, "nothing written to the closed ticket");

        // The low one was a duplicate: closing it unresolved needs a reason.
        let l = format!("/api/v1/tickets/{}", id(&low));
        let why = app.post(&format!("{l}/close"), &t.token, json!({})).await;
        assert_eq!((why.status, why.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()]));
        let resolve_silently = app.post(&format!("{l}/resolve"), &t.token, json!({})).await;
        assert_eq!(
            (resolve_silently.status, resolve_silently.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["note".to_owned()])
        );
        let dup = ok(&app, &t.token, &format!("{l}/close"), json!({"reason": "duplicate of the wobble"})).await;
        assert_eq!(
            (dup["close_reason"].as_str(), dup["response_breached"].as_bool()),
            (Some("duplicate of the wobble"), Some(false))
        );

        // The high one: raised to urgent, its targets follow; assigned by PATCH.
        let h = format!("/api/v1/tickets/{}", id(&high));
        let hv = app.get(&h, &t.token).await;
        let raised = app
            .patch(&h, &t.token, hv.header("etag").unwrap(), json!({"priority": "urgent", "assignee_id": agent}))
            .await;
        assert_eq!(raised.status, StatusCode::OK, "{:?}", raised.body);
        assert_eq!(
            (minutes(&raised.body, "created_at", "response_due_at"), raised.body["assignee_id"].as_str()),
            (30, Some(agent.as_str()))
        );
        let stale = app.patch(&h, &t.token, hv.header("etag").unwrap(), json!({"priority": "low"})).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        let moved = app.patch(&h, &t.token, raised.header("etag").unwrap(), json!({"customer_id": stranger})).await;
        assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Surveys: after the delivery and after the closed ticket; one each, 1 to 5.
        let surveys_before = app.get("/api/v1/surveys", &t.token).await.body["data"].as_array().unwrap().len();
        for score in [0, 6] {
            let out = app.post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&urgent), "score": score})).await;
            assert_eq!((out.status, out.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["score".to_owned()]));
        }
        let both = app
            .post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&urgent), "shipment_id": dn, "score": 3}))
            .await;
        assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
        let open_one = app.post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&high), "score": 3})).await;
        assert_eq!(open_one.status, StatusCode::CONFLICT, "a ticket still being worked is not rated");
        assert_eq!(
            app.get("/api/v1/surveys", &t.token).await.body["data"].as_array().unwrap().len(),
            surveys_before,
            "nothing written"
        );
        let rated = created(
            &app,
            &t.token,
            "/api/v1/surveys",
            json!({"ticket_id": id(&urgent), "score": 5, "comment": "Fast fix"}),
        )
        .await;
        assert_eq!(rated["customer_id"].as_str(), Some(customer.as_str()));
        let repeat = app.post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&urgent), "score": 1})).await;
        assert_eq!(repeat.status, StatusCode::CONFLICT);
        created(&app, &t.token, "/api/v1/surveys", json!({"shipment_id": dn, "score": 4})).await;

        // The service-desk report: per period, and the backlog now.
        let desk_report = app.get("/api/v1/reports/service-desk?period=week", &t.token).await;
        assert_eq!(desk_report.status, StatusCode::OK, "{:?}", desk_report.body);
        let periods = desk_report.body["periods"].as_array().unwrap();
        let sum = |k: &str| periods.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
        assert_eq!((sum("opened"), sum("resolved"), sum("closed")), (3, 1, 2), "the duplicate is closed, not resolved");
        let opened = periods.iter().find(|p| p["opened"] == 3).unwrap();
        // The urgent one answered late but resolved in time; the high one, raised to urgent, is
        // past both of its new targets.
        assert_eq!((opened["response_breached"].as_i64(), opened["resolution_breached"].as_i64()), (Some(2), Some(1)));
        assert_eq!(opened["average_first_response_minutes"], "45.00");
        let done = periods.iter().find(|p| p["resolved"] == 1).unwrap();
        assert_eq!(done["average_resolution_minutes"], "45.00", "705 minutes open less 660 waiting or resolved");
        let rated_period = periods.iter().find(|p| p["satisfaction"]["responses"] == 1).unwrap();
        assert_eq!(rated_period["satisfaction"]["average"], "5.00", "after tickets only");
        let backlog = &desk_report.body["backlog"];
        assert_eq!(
            (backlog["active"].as_i64(), backlog["unassigned"].as_i64(), backlog["breached"].as_i64()),
            (Some(1), Some(0), Some(1))
        );
        assert_eq!(backlog["by_priority"], json!([{"key": "urgent", "count": 1}]));

        // Satisfaction: all answers, after deliveries and after tickets.
        let sat = app.get("/api/v1/reports/satisfaction?period=day", &t.token).await;
        assert_eq!(sat.status, StatusCode::OK, "{:?}", sat.body);
        let total = &sat.body["total"];
        assert_eq!((total["all"]["responses"].as_i64(), total["all"]["average"].as_str()), (Some(2), Some("4.50")));
        assert_eq!(total["all"]["by_score"], json!([0, 0, 0, 1, 1]));
        assert_eq!(
            (total["after_deliveries"]["average"].as_str(), total["after_tickets"]["average"].as_str()),
            (Some("4.00"), Some("5.00"))
        );
        let per_day: i64 =
            sat.body["periods"].as_array().unwrap().iter().map(|p| p["all"]["responses"].as_i64().unwrap()).sum();
        assert_eq!(per_day, 2);
        let mine = app.get(&format!("/api/v1/reports/satisfaction?customer_id={stranger}"), &t.token).await;
        assert_eq!(mine.body["total"]["all"]["responses"], 0);
        for bad in ["period=quarter", "from=2026-12-01&to=2026-11-01", "period=day&from=2020-01-01&to=2026-01-01"] {
            let a = app.get(&format!("/api/v1/reports/satisfaction?{bad}"), &t.token).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }

        // Customer 360 shows the open ticket and the customer's satisfaction.
        let c360 = app.get(&format!("/api/v1/customers/{customer}/360"), &t.token).await;
        assert_eq!(c360.status, StatusCode::OK, "{:?}", c360.body);
        let open: Vec<&str> =
            c360.body["open_tickets"].as_array().unwrap().iter().map(|t| t["subject"].as_str().unwrap()).collect();
        assert_eq!(open, ["Missing screws"]);
        assert_eq!(
            (c360.body["survey_responses"].as_i64(), c360.body["satisfaction"].as_str()),
            (Some(2), Some("4.50"))
        );
        assert_eq!(numbers(&app, &t.token, "/api/v1/tickets?status=active").await, [high["number"].as_str().unwrap()]);
        assert_eq!(numbers(&app, &t.token, "/api/v1/tickets?q=screw").await, [high["number"].as_str().unwrap()]);

        // Another tenant cannot open a ticket for this customer, nor see one; a viewer cannot write.
        let other = app.signup("Other Desk").await;
        let audit_before = app.audit_count(&other.token).await;
        let foreign =
            app.post("/api/v1/tickets", &other.token, json!({"customer_id": customer, "subject": "peek"})).await;
        assert_eq!(
            (foreign.status, foreign.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["customer_id".to_owned()])
        );
        assert!(numbers(&app, &other.token, "/api/v1/tickets").await.is_empty(), "nothing written");
        assert_eq!(app.audit_count(&other.token).await, audit_before);
        assert_eq!(app.get(&u, &other.token).await.status, StatusCode::NOT_FOUND);
        let foreign_survey = app.post("/api/v1/surveys", &other.token, json!({"shipment_id": dn, "score": 5})).await;
        assert_eq!(
            (foreign_survey.status, foreign_survey.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["shipment_id".to_owned()])
        );
        let (_, viewer) = app.user_with_role(&t, "viewer@desk.test", "viewer").await;
        let denied = app.post("/api/v1/tickets", &viewer, json!({"customer_id": customer, "subject": "V"})).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert_eq!(app.get("/api/v1/tickets", &viewer).await.status, StatusCode::OK, "a viewer reads");
    })
    .await;
}

#[tokio::test]
async fn a_wait_stops_the_resolution_clock_and_a_judged_target_stays_judged() {
    on_each_backend(async |app| {
        let t = app.signup("Clock Co").await;
        let customer = id(&created(&app, &t.token, "/api/v1/customers", json!({"code": "C-1", "name": "One"})).await);
        // Defaults: urgent answers in 60 minutes and resolves in 480.
        let open = async |subject: &str| {
            let tk = created(
                &app,
                &t.token,
                "/api/v1/tickets",
                json!({"customer_id": customer, "subject": subject, "priority": "urgent"}),
            )
            .await;
            created(
                &app,
                &t.token,
                &format!("/api/v1/tickets/{}/notes", id(&tk)),
                json!({"visibility": "customer", "body": "On it"}),
            )
            .await;
            tk
        };
        let early = open("Waits before its due time").await;
        let late = open("Waits after its due time").await;
        let lowered = created(
            &app,
            &t.token,
            "/api/v1/tickets",
            json!({"customer_id": customer, "subject": "Nobody answers", "priority": "urgent"}),
        )
        .await;
        let misplaced =
            app.post(&format!("/api/v1/tickets/{}/start", id(&early)), &t.token, json!({"note": "x"})).await;
        assert_eq!((misplaced.status, misplaced.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["note".to_owned()]));
        let reason = app.post(&format!("/api/v1/tickets/{}/wait", id(&early)), &t.token, json!({"reason": "x"})).await;
        assert_eq!((reason.status, reason.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()]));
        let asked = ok(
            &app,
            &t.token,
            &format!("/api/v1/tickets/{}/wait", id(&early)),
            json!({"note": "Which floor is it on?"}),
        )
        .await;
        assert_eq!(asked["status"], "waiting");

        // Ten hours on: the one waiting since before its due time is on time; the other went
        // past due at 480 minutes and then began to wait, which does not excuse it.
        app.advance(Duration::hours(10));
        let t = Tenant {
            token: app.login(&t.slug, &t.email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned(),
            ..t.clone()
        };
        let waited = ok(&app, &t.token, &format!("/api/v1/tickets/{}/wait", id(&late)), json!({})).await;
        assert_eq!(waited["resolution_breached"], true);
        assert_eq!(
            app.get(&format!("/api/v1/tickets/{}", id(&early)), &t.token).await.body["resolution_breached"],
            false
        );
        let mut breached = numbers(&app, &t.token, "/api/v1/tickets?breached=true").await;
        breached.sort();
        let mut expected =
            vec![late["number"].as_str().unwrap().to_owned(), lowered["number"].as_str().unwrap().to_owned()];
        expected.sort();
        assert_eq!(breached, expected, "the list filter judges as each ticket does");

        // Lowering the priority of a ticket already past its targets: the response still due is
        // set again from the new priority; a breach that was judged stays.
        let got = app.get(&format!("/api/v1/tickets/{}", id(&lowered)), &t.token).await;
        let low = app
            .patch(
                &format!("/api/v1/tickets/{}", id(&lowered)),
                &t.token,
                got.header("etag").unwrap(),
                json!({"priority": "low"}),
            )
            .await;
        assert_eq!(low.status, StatusCode::OK, "{:?}", low.body);
        assert_eq!(
            (minutes(&low.body, "created_at", "response_due_at"), low.body["response_breached"].as_bool()),
            (1440, Some(false))
        );
        let answered = created(
            &app,
            &t.token,
            &format!("/api/v1/tickets/{}/notes", id(&lowered)),
            json!({"visibility": "customer", "body": "Sorry"}),
        )
        .await;
        let etag =
            app.get(&format!("/api/v1/tickets/{}", id(&lowered)), &t.token).await.header("etag").unwrap().to_owned();
        assert_eq!(answered["response_breached"], false);
        let urgent_again = app
            .patch(&format!("/api/v1/tickets/{}", id(&lowered)), &t.token, &etag, json!({"priority": "urgent"}))
            .await;
        assert_eq!(
            minutes(&urgent_again.body, "created_at", "response_due_at"),
            1440,
            "the answer was judged against its target then"
        );

        // A ticket closed as a duplicate has nothing to rate; another tenant's ticket is not there.
        let dup =
            ok(&app, &t.token, &format!("/api/v1/tickets/{}/close", id(&late)), json!({"reason": "duplicate"})).await;
        assert_eq!(dup["status"], "closed");
        let rate = app.post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&late), "score": 3})).await;
        assert_eq!((rate.status, rate.fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["ticket_id".to_owned()]));
        let resolved = ok(&app, &t.token, &format!("/api/v1/tickets/{}/resolve", id(&early)), json!({})).await;
        let before = (at(&resolved, "resolved_at") - Duration::minutes(5)).to_rfc3339();
        let early_answer = app
            .post("/api/v1/surveys", &t.token, json!({"ticket_id": id(&early), "score": 3, "responded_at": before}))
            .await;
        assert_eq!(
            (early_answer.status, early_answer.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["responded_at".to_owned()])
        );
        let other = app.signup("Other Clock").await;
        let foreign = app.post("/api/v1/surveys", &other.token, json!({"ticket_id": id(&early), "score": 5})).await;
        assert_eq!(
            (foreign.status, foreign.fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["ticket_id".to_owned()])
        );
        assert_eq!(app.get("/api/v1/surveys", &t.token).await.body["data"], json!([]), "nothing written");
    })
    .await;
}
