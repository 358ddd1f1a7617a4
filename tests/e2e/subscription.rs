//! Trials, plans and the read-only state, with a clock the tests move.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn after_the_trial_writes_answer_402_reads_work_and_a_plan_reopens_writes() {
    on_each_backend(async |app| {
        let t = app.signup("Trial Co").await;
        app.advance(Duration::days(12) + Duration::hours(1));
        let soon = app.get("/api/v1/tenant", &t.token).await;
        assert_eq!(soon.status, StatusCode::UNAUTHORIZED, "the old access token expired meanwhile");
        let fresh = app.login(&t.slug, &t.email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let soon = app.get("/api/v1/tenant", &fresh).await;
        assert_eq!(soon.body["subscription"]["trial_ending_soon"], true);
        assert_eq!(soon.body["subscription"]["trial_days_left"], 3);

        app.advance(Duration::days(3));
        let token = app.login(&t.slug, &t.email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let read = app.get("/api/v1/tenant", &token).await;
        assert_eq!(read.status, StatusCode::OK, "reads keep working");
        assert_eq!(read.body["subscription"]["status"], "expired");
        assert_eq!(read.body["subscription"]["read_only"], true);
        let audit_before = app.audit_count(&token).await;
        let write = app.post("/api/v1/roles", &token, json!({"name": "Late", "permissions": []})).await;
        assert_eq!(write.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(write.problem(), "subscription-ended");
        assert!(write.body["detail"].as_str().unwrap().contains("choose a plan"));
        assert_eq!(app.get("/api/v1/users", &token).await.status, StatusCode::OK);
        assert_eq!(app.audit_count(&token).await, audit_before, "the refused write left no trace");

        let plan = app
            .operator(Method::POST, &format!("/operator/v1/tenants/{}/plan", t.id), Some(json!({"plan": "business"})))
            .await;
        assert_eq!(plan.status, StatusCode::OK, "{:?}", plan.body);
        assert_eq!(plan.body["subscription"]["status"], "active");
        let write = app.post("/api/v1/roles", &token, json!({"name": "Late", "permissions": []})).await;
        assert_eq!(write.status, StatusCode::CREATED, "a plan keeps everything and reopens writes");
        let audit = app.get("/api/v1/audit-events?action=tenant.plan_set", &token).await;
        assert_eq!(audit.body["data"][0]["actor_kind"], "operator");
    })
    .await;
}

#[tokio::test]
async fn the_operator_extends_trials_and_lists_tenants_with_its_own_credential() {
    on_each_backend(async |app| {
        let t = app.signup("Extend Co").await;
        assert_eq!(
            app.call(Method::GET, "/operator/v1/tenants", Some(&t.token), None, &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
        // Other tests' tenants share the database: walk the pages.
        let (mut cursor, mut found) = (String::new(), false);
        loop {
            let list =
                app.operator(Method::GET, &format!("/operator/v1/tenants?limit=200&cursor={cursor}"), None).await;
            found |= list.body["data"].as_array().unwrap().iter().any(|x| x["id"] == json!(t.id));
            match list.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
        }
        assert!(found, "the operator's list names the new tenant");
        let path = format!("/operator/v1/tenants/{}/trial", t.id);
        let earlier = app.operator(Method::POST, &path, Some(json!({"trial_ends_at": Utc::now()}))).await;
        assert_eq!(earlier.fields(), ["trial_ends_at"]);
        let later = (meridian::clock::Clock::now(&app.clock) + Duration::days(30)).to_rfc3339();
        let ok = app.operator(Method::POST, &path, Some(json!({"trial_ends_at": later}))).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.body["subscription"]["trial_days_left"], 30);
        app.advance(Duration::days(20));
        let token = app.login(&t.slug, &t.email, PASSWORD).await.body["access_token"].as_str().unwrap().to_owned();
        let write = app.post("/api/v1/roles", &token, json!({"name": "Extended", "permissions": []})).await;
        assert_eq!(write.status, StatusCode::CREATED);
        let bad_plan = app
            .operator(Method::POST, &format!("/operator/v1/tenants/{}/plan", t.id), Some(json!({"plan": "gold"})))
            .await;
        assert_eq!(bad_plan.fields(), ["plan"]);
        let missing = app
            .operator(
                Method::POST,
                &format!("/operator/v1/tenants/{}/plan", uuid::Uuid::now_v7()),
                Some(json!({"plan": "starter"})),
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn the_plan_limits_active_users() {
    on_each_backend(async |app| {
        let t = app.signup("Seats Co").await;
        app.operator(Method::POST, &format!("/operator/v1/tenants/{}/plan", t.id), Some(json!({"plan": "starter"})))
            .await;
        for i in 1..5 {
            let a = app
                .post(
                    "/api/v1/users",
                    &t.token,
                    json!({"email": format!("u{i}@seats.test"), "display_name": "U", "password": PASSWORD}),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED);
        }
        let sixth = app
            .post(
                "/api/v1/users",
                &t.token,
                json!({"email": "u5@seats.test", "display_name": "U", "password": PASSWORD}),
            )
            .await;
        assert_eq!(sixth.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(sixth.problem(), "plan-limit-reached");
        assert_eq!(app.get("/api/v1/users?q=u5", &t.token).await.body["data"].as_array().unwrap().len(), 0);
    })
    .await;
}
