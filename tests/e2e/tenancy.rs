//! Tenant isolation: every endpoint tried across tenants, row-level security, the schema rules.

use meridian::domain::ids::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn tenant_b_cannot_read_or_change_anything_of_tenant_a() {
    on_each_backend(async |app| {
        let a = app.signup("Alpha Co").await;
        let b = app.signup("Beta Co").await;
        let user = app
            .post(
                "/api/v1/users",
                &a.token,
                json!({"email": "u@alpha.test", "display_name": "U", "password": PASSWORD}),
            )
            .await;
        let user_id = user.body["id"].as_str().unwrap().to_owned();
        let role =
            app.post("/api/v1/roles", &a.token, json!({"name": "Alpha clerk", "permissions": ["sales:read"]})).await;
        let role_id = role.body["id"].as_str().unwrap().to_owned();
        let admin = app.role_id(&a, "admin").await;
        let key = app.post("/api/v1/api-keys", &a.token, json!({"name": "alpha", "role_ids": [admin]})).await;
        let key_id = key.body["id"].as_str().unwrap().to_owned();
        let key_secret = key.body["secret"].as_str().unwrap().to_owned();
        let audit_a = app.audit_count(&a.token).await;

        let attempts = [
            (Method::GET, format!("/api/v1/users/{user_id}"), None),
            (Method::PATCH, format!("/api/v1/users/{user_id}"), Some(json!({"display_name": "pwned"}))),
            (Method::GET, format!("/api/v1/users/{}", a.owner_id), None),
            (Method::GET, format!("/api/v1/roles/{role_id}"), None),
            (Method::PATCH, format!("/api/v1/roles/{role_id}"), Some(json!({"name": "pwned", "permissions": []}))),
            (Method::DELETE, format!("/api/v1/roles/{role_id}"), None),
            (Method::GET, format!("/api/v1/api-keys/{key_id}"), None),
            (Method::POST, format!("/api/v1/api-keys/{key_id}/revoke"), None),
        ];
        for (method, path, body) in attempts {
            let r = app.call(method.clone(), &path, Some(&b.token), body, &[("if-match", "\"1\"")]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {:?}", r.body);
            assert_eq!(r.problem(), "not-found");
        }
        // B granting A's role to B's user: the role does not exist for B.
        let grant = app
            .post(
                "/api/v1/users",
                &b.token,
                json!({"email": "x@beta.test", "display_name": "X", "password": PASSWORD, "role_ids": [role_id]}),
            )
            .await;
        assert_eq!(grant.fields(), ["role_ids[0]"]);
        // Lists show only one's own.
        let users_b = app.get("/api/v1/users?limit=200", &b.token).await;
        assert!(!users_b.body.to_string().contains("alpha.test"));
        let audit_b = app.get("/api/v1/audit-events?limit=200", &b.token).await;
        assert!(!audit_b.body.to_string().contains("alpha"));
        assert_eq!(app.get("/api/v1/tenant", &b.token).await.body["name"], "Beta Co");
        // A's key is A's only: it reads A's users, not B's.
        let via_key = app.get(&format!("/api/v1/users/{}", b.owner_id), &key_secret).await;
        assert_eq!(via_key.status, StatusCode::NOT_FOUND);
        // Nothing of A changed.
        assert_eq!(app.get(&format!("/api/v1/users/{user_id}"), &a.token).await.body["display_name"], "U");
        assert_eq!(app.get(&format!("/api/v1/api-keys/{key_id}"), &a.token).await.body["status"], "active");
        assert_eq!(app.audit_count(&a.token).await, audit_a);
    })
    .await;
}

#[tokio::test]
async fn on_postgres_an_unfiltered_query_sees_only_the_scoped_tenant() {
    if postgres_url().is_none() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let a = app.signup("Rls Alpha").await;
    let b = app.signup("Rls Beta").await;
    app.post("/api/v1/users", &a.token, json!({"email": "second@rls.test", "display_name": "S", "password": PASSWORD}))
        .await;
    let store = &app.state.store;
    for table in ["users", "roles", "user_roles", "audit_events", "refresh_tokens"] {
        assert_eq!(
            store.count_rows_unfiltered(None, table).await.unwrap(),
            0,
            "{table} without a tenant shows nothing"
        );
    }
    let a_id = TenantId(a.id.parse().unwrap());
    let b_id = TenantId(b.id.parse().unwrap());
    assert_eq!(store.count_rows_unfiltered(Some(a_id), "users").await.unwrap(), 2);
    assert_eq!(store.count_rows_unfiltered(Some(b_id), "users").await.unwrap(), 1);
    assert_eq!(store.count_rows_unfiltered(Some(b_id), "roles").await.unwrap(), 8);
}

#[tokio::test]
async fn every_tenant_table_is_keyed_and_isolated_by_tenant() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let report = app.state.store.tenant_table_report().await.unwrap();
        assert!(report.len() >= 9, "{backend:?}: {report:?}");
        for t in report {
            assert!(t.tenant_id_first, "{backend:?} {}: tenant_id must be the first column", t.table);
            assert!(t.primary_key_starts_with_tenant, "{backend:?} {}: primary key must start with tenant_id", t.table);
            assert!(
                t.foreign_keys_without_tenant.is_empty(),
                "{backend:?} {}: {:?}",
                t.table,
                t.foreign_keys_without_tenant
            );
            if backend == Backend::Postgres {
                assert_eq!(t.rls_forced_with_policy, Some(true), "{}: forced RLS with a policy", t.table);
            }
        }
    }
}

#[tokio::test]
async fn the_audit_trail_cannot_be_altered() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let a = app.signup("Append Co").await;
        let tenant = TenantId(a.id.parse().unwrap());
        assert!(app.state.store.count_rows_unfiltered(Some(tenant), "audit_events").await.unwrap() >= 1);
        let err = app.state.store.try_tamper_audit(tenant).await;
        assert!(err.is_err(), "{backend:?}: updating audit rows must fail");
    }
}
