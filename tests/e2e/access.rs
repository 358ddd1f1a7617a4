//! Users, roles, API keys, permissions, and the write conventions (ETag, idempotency, lists).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn a_viewer_reads_but_cannot_write_and_nothing_is_written() {
    on_each_backend(async |app| {
        let t = app.signup("Viewer Co").await;
        let (_, viewer) = app.user_with_role(&t, "viewer@viewer.test", "viewer").await;
        let audit_before = app.audit_count(&t.token).await;
        let denied = app.post("/api/v1/roles", &viewer, json!({"name": "x", "permissions": []})).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert_eq!(denied.problem(), "forbidden");
        assert!(denied.body["detail"].as_str().unwrap().contains("admin:write"));
        assert_eq!(app.get("/api/v1/users", &viewer).await.status, StatusCode::FORBIDDEN, "viewers do not see admin");
        assert_eq!(app.audit_count(&t.token).await, audit_before);
        let roles = app.get("/api/v1/roles", &t.token).await;
        assert_eq!(roles.body["data"].as_array().unwrap().len(), 8, "only the built-in roles exist");
    })
    .await;
}

#[tokio::test]
async fn custom_roles_are_checked_and_built_in_ones_are_fixed() {
    on_each_backend(async |app| {
        let t = app.signup("Roles Co").await;
        let bad = app
            .post(
                "/api/v1/roles",
                &t.token,
                json!({"name": "Clerk", "permissions": ["sales:read", "sales:fly", "moon:read"]}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.fields(), ["permissions[1]", "permissions[2]"]);
        let ok = app
            .post("/api/v1/roles", &t.token, json!({"name": "Clerk", "permissions": ["sales:read", "sales:write"]}))
            .await;
        assert_eq!(ok.status, StatusCode::CREATED);
        assert_eq!(ok.header("etag"), Some("\"1\""));
        let id = ok.body["id"].as_str().unwrap();
        assert_eq!(ok.header("location").unwrap(), format!("/api/v1/roles/{id}"));
        let dup = app.post("/api/v1/roles", &t.token, json!({"name": "Clerk", "permissions": []})).await;
        assert_eq!(dup.fields(), ["name"]);

        // Assign it, then it cannot be deleted.
        let user = app
            .post(
                "/api/v1/users",
                &t.token,
                json!({"email": "clerk@roles.test", "display_name": "Clerk", "password": PASSWORD, "role_ids": [id]}),
            )
            .await;
        assert_eq!(user.status, StatusCode::CREATED);
        let del = app.call(Method::DELETE, &format!("/api/v1/roles/{id}"), Some(&t.token), None, &[]).await;
        assert_eq!(del.status, StatusCode::CONFLICT);

        let owner = app.role_id(&t, "owner").await;
        let fixed = app
            .patch(&format!("/api/v1/roles/{owner}"), &t.token, "\"1\"", json!({"name": "boss", "permissions": []}))
            .await;
        assert_eq!(fixed.status, StatusCode::CONFLICT);
        assert_eq!(fixed.problem(), "invalid-state");
    })
    .await;
}

#[tokio::test]
async fn edits_need_the_current_etag() {
    on_each_backend(async |app| {
        let t = app.signup("Etag Co").await;
        let path = format!("/api/v1/users/{}", t.owner_id);
        let no_match = app.call(Method::PATCH, &path, Some(&t.token), Some(json!({"display_name": "Boss"})), &[]).await;
        assert_eq!(no_match.status, StatusCode::PRECONDITION_REQUIRED);
        let read = app.get(&path, &t.token).await;
        let etag = read.header("etag").unwrap().to_owned();
        let ok = app.patch(&path, &t.token, &etag, json!({"display_name": "Boss"})).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        assert_eq!(ok.body["display_name"], "Boss");
        let stale = app.patch(&path, &t.token, &etag, json!({"display_name": "Other"})).await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(app.get(&path, &t.token).await.body["display_name"], "Boss");
        let unknown_field = app.patch(&path, &t.token, ok.header("etag").unwrap(), json!({"salary": "1"})).await;
        assert_eq!(unknown_field.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(unknown_field.fields(), ["salary"]);
        let self_off = app.patch(&path, &t.token, ok.header("etag").unwrap(), json!({"is_active": false})).await;
        assert_eq!(self_off.fields(), ["is_active"]);
    })
    .await;
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions() {
    on_each_backend(async |app| {
        let t = app.signup("Leaver Co").await;
        let (id, _) = app.user_with_role(&t, "leaver@leaver.test", "sales").await;
        let login = app.login(&t.slug, "leaver@leaver.test", PASSWORD).await;
        let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/users/{id}");
        let etag = app.get(&path, &t.token).await.header("etag").unwrap().to_owned();
        assert_eq!(app.patch(&path, &t.token, &etag, json!({"is_active": false})).await.status, StatusCode::OK);
        let r =
            app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh})), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&t.slug, "leaver@leaver.test", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_to_roles_and_revocable() {
    on_each_backend(async |app| {
        let t = app.signup("Keys Co").await;
        let viewer = app.role_id(&t, "viewer").await;
        let admin = app.role_id(&t, "admin").await;
        let created = app.post("/api/v1/api-keys", &t.token, json!({"name": "reporting", "role_ids": [admin]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let secret = created.body["secret"].as_str().unwrap().to_owned();
        let id = created.body["id"].as_str().unwrap().to_owned();
        let shown = app.get(&format!("/api/v1/api-keys/{id}"), &t.token).await;
        assert!(shown.body.get("secret").is_none(), "the secret is never shown again");
        assert!(!shown.body.to_string().contains(&secret[40..]));

        assert_eq!(app.get("/api/v1/users", &secret).await.status, StatusCode::OK);
        let made = app.post("/api/v1/roles", &secret, json!({"name": "ByKey", "permissions": ["sales:read"]})).await;
        assert_eq!(made.status, StatusCode::CREATED);
        let audit = app.get("/api/v1/audit-events?action=role.create", &t.token).await;
        assert_eq!(audit.body["data"][0]["actor_kind"], "api_key");
        assert_eq!(audit.body["data"][0]["actor_name"], "reporting");

        let ro = app.post("/api/v1/api-keys", &t.token, json!({"name": "ro", "role_ids": [viewer]})).await;
        let ro_secret = ro.body["secret"].as_str().unwrap();
        assert_eq!(app.get("/api/v1/users", ro_secret).await.status, StatusCode::FORBIDDEN);

        let revoked = app.call(Method::POST, &format!("/api/v1/api-keys/{id}/revoke"), Some(&t.token), None, &[]).await;
        assert_eq!(revoked.status, StatusCode::OK);
        assert_eq!(revoked.body["status"], "revoked");
        let after = app.get("/api/v1/users", &secret).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        let bad = app.get("/api/v1/users", &format!("{}x", &secret[..secret.len() - 1])).await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn nobody_grants_more_than_they_hold() {
    on_each_backend(async |app| {
        let t = app.signup("Escalation Co").await;
        let (_, admin) = app.user_with_role(&t, "admin@escalation.test", "admin").await;
        let owner = app.role_id(&t, "owner").await;
        let a = app
            .post("/api/v1/users", &admin, json!({"email": "x@escalation.test", "display_name": "X", "password": PASSWORD, "role_ids": [owner]}))
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(a.fields(), ["role_ids[0]"]);
        let unknown = app
            .post("/api/v1/users", &t.token, json!({"email": "y@escalation.test", "display_name": "Y", "password": PASSWORD, "role_ids": [uuid::Uuid::now_v7()]}))
            .await;
        assert_eq!(unknown.fields(), ["role_ids[0]"]);
    })
    .await;
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer() {
    on_each_backend(async |app| {
        let t = app.signup("Retry Co").await;
        let body = json!({"email": "once@retry.test", "display_name": "Once", "password": PASSWORD});
        let first = app
            .call(Method::POST, "/api/v1/users", Some(&t.token), Some(body.clone()), &[("idempotency-key", "k-1")])
            .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let second = app
            .call(Method::POST, "/api/v1/users", Some(&t.token), Some(body.clone()), &[("idempotency-key", "k-1")])
            .await;
        assert_eq!(second.status, StatusCode::CREATED);
        assert_eq!(second.body, first.body);
        assert_eq!(second.header("location"), first.header("location"));
        assert_eq!(second.header("idempotent-replayed"), Some("true"));
        let users = app.get("/api/v1/users?q=ONCE", &t.token).await;
        assert_eq!(users.body["data"].as_array().unwrap().len(), 1, "created once");
        let other = json!({"email": "twice@retry.test", "display_name": "Twice", "password": PASSWORD});
        let reused =
            app.call(Method::POST, "/api/v1/users", Some(&t.token), Some(other), &[("idempotency-key", "k-1")]).await;
        assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reused.problem(), "idempotency-key-reused");
        assert_eq!(app.get("/api/v1/users?q=twice", &t.token).await.body["data"].as_array().unwrap().len(), 0);
    })
    .await;
}

#[tokio::test]
async fn lists_page_with_cursors_and_refuse_oversized_pages() {
    on_each_backend(async |app| {
        let t = app.signup("Pages Co").await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/roles?limit=3&cursor={c}"),
                None => "/api/v1/roles?limit=3".into(),
            };
            let page = app.get(&path, &t.token).await;
            assert_eq!(page.status, StatusCode::OK);
            for r in page.body["data"].as_array().unwrap() {
                seen.push(r["name"].as_str().unwrap().to_owned());
            }
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, ["accountant", "admin", "owner", "production", "purchasing", "sales", "viewer", "warehouse"]);
        let big = app.get("/api/v1/roles?limit=500", &t.token).await;
        assert_eq!(big.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(big.fields(), ["limit"]);
        let junk = app.get("/api/v1/roles?cursor=zzz", &t.token).await;
        assert_eq!(junk.fields(), ["cursor"]);
        let unknown = app.get("/api/v1/roles?colour=red", &t.token).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
}

#[tokio::test]
async fn the_audit_trail_records_who_changed_what() {
    on_each_backend(async |app| {
        let t = app.signup("Audit Co").await;
        let created = app
            .post(
                "/api/v1/users",
                &t.token,
                json!({"email": "new@audit.test", "display_name": "New", "password": PASSWORD}),
            )
            .await;
        let id = created.body["id"].as_str().unwrap();
        let path = format!("/api/v1/users/{id}");
        app.patch(&path, &t.token, "\"1\"", json!({"display_name": "Renamed"})).await;
        let trail = app.get(&format!("/api/v1/audit-events?entity_id={id}"), &t.token).await;
        let events = trail.body["data"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["action"], "user.update", "newest first");
        assert_eq!(events[0]["before"]["display_name"], "New");
        assert_eq!(events[0]["after"]["display_name"], "Renamed");
        assert_eq!(events[0]["actor_id"], json!(t.owner_id));
        assert_eq!(events[0]["source_ip"], "127.0.0.1");
        assert!(events[0]["request_id"].is_string());
        assert_eq!(events[1]["action"], "user.create");
        assert!(!events[1].to_string().contains(PASSWORD));
        let (_, sales) = app.user_with_role(&t, "sales@audit.test", "sales").await;
        assert_eq!(app.get("/api/v1/audit-events", &sales).await.status, StatusCode::FORBIDDEN);
    })
    .await;
}

#[tokio::test]
async fn users_see_themselves_and_change_their_own_password() {
    on_each_backend(async |app| {
        let t = app.signup("Self Co").await;
        let (_, sales) = app.user_with_role(&t, "me@self.test", "sales").await;
        let me = app.get("/api/v1/me", &sales).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["email"], "me@self.test");
        assert_eq!(me.body["roles"][0]["name"], "sales");
        let new = "another long password";
        let wrong = app
            .post("/api/v1/me/password", &sales, json!({"current_password": "not it at all", "new_password": new}))
            .await;
        assert_eq!(wrong.fields(), ["current_password"]);
        let short = app
            .post("/api/v1/me/password", &sales, json!({"current_password": PASSWORD, "new_password": "short"}))
            .await;
        assert_eq!(short.fields(), ["new_password"]);
        assert_eq!(app.login(&t.slug, "me@self.test", PASSWORD).await.status, StatusCode::OK, "nothing changed yet");
        let ok =
            app.post("/api/v1/me/password", &sales, json!({"current_password": PASSWORD, "new_password": new})).await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT);
        assert_eq!(app.login(&t.slug, "me@self.test", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login(&t.slug, "me@self.test", new).await.status, StatusCode::OK);
        let trail = app.get("/api/v1/audit-events?action=user.password_change", &t.token).await;
        assert_eq!(trail.body["data"].as_array().unwrap().len(), 1);
        assert!(!trail.body.to_string().contains(new));
    })
    .await;
}
