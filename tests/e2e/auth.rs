//! Sign-up, sessions, and what bad credentials get.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn signup_gives_a_trial_tenant_whose_owner_can_log_in_and_refresh() {
    on_each_backend(async |app| {
        let t = app.signup("Acme Trading").await;
        let tenant = app.get("/api/v1/tenant", &t.token).await;
        assert_eq!(tenant.status, StatusCode::OK);
        assert_eq!(tenant.body["subscription"]["status"], "trial");
        assert_eq!(tenant.body["subscription"]["trial_days_left"], 15);
        assert_eq!(tenant.body["base_currency"], "CNY");
        assert_eq!(tenant.body["accounting_template"], "cn_small_business");
        assert!(tenant.body["entitlements"]["modules"].as_array().unwrap().contains(&json!("production")));

        let login = app.login(&t.slug, &t.email.to_uppercase(), PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "emails are case-insensitive: {:?}", login.body);
        let refreshed =
            app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": t.refresh})), &[]).await;
        assert_eq!(refreshed.status, StatusCode::OK);
        assert_ne!(refreshed.body["refresh_token"], json!(t.refresh), "refresh tokens rotate");
        let token = refreshed.body["access_token"].as_str().unwrap();
        assert_eq!(app.get("/api/v1/users", token).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_family() {
    on_each_backend(async |app| {
        let t = app.signup("Replay Co").await;
        let refresh = |tok: String| {
            let app = &app;
            async move {
                app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": tok})), &[]).await
            }
        };
        let first = refresh(t.refresh.clone()).await;
        assert_eq!(first.status, StatusCode::OK);
        let child = first.body["refresh_token"].as_str().unwrap().to_owned();
        let replay = refresh(t.refresh.clone()).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert!(replay.body["detail"].as_str().unwrap().contains("already used"));
        let child_after = refresh(child).await;
        assert_eq!(child_after.status, StatusCode::UNAUTHORIZED, "the stolen family is dead");
        // A fresh login is a new family and works.
        let login = app.login(&t.slug, &t.email, PASSWORD).await;
        assert_eq!(refresh(login.body["refresh_token"].as_str().unwrap().into()).await.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn logout_ends_the_refresh_family() {
    on_each_backend(async |app| {
        let t = app.signup("Logout Co").await;
        let out =
            app.call(Method::POST, "/api/v1/auth/logout", None, Some(json!({"refresh_token": t.refresh})), &[]).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        let again =
            app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": t.refresh})), &[]).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer_and_failures_are_limited() {
    on_each_backend(async |app| {
        let t = app.signup("Guarded Co").await;
        let wrong = app.login(&t.slug, &t.email, "not the password").await;
        let unknown = app.login(&t.slug, "nobody@guarded.test", "not the password").await;
        let no_tenant = app.login("no-such-tenant", &t.email, PASSWORD).await;
        for a in [&wrong, &unknown, &no_tenant] {
            assert_eq!(a.status, StatusCode::UNAUTHORIZED);
            assert_eq!(a.problem(), "invalid-credentials");
            assert_eq!(a.body["detail"], wrong.body["detail"]);
        }
        for _ in 0..4 {
            app.login(&t.slug, &t.email, "still wrong").await;
        }
        let limited = app.login(&t.slug, &t.email, PASSWORD).await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "five failures lock the account for a while");
        assert!(limited.header("retry-after").is_some());
    })
    .await;
}

#[tokio::test]
async fn signup_with_bad_fields_names_each_and_creates_nothing() {
    on_each_backend(async |app| {
        let a = app
            .call(
                Method::POST,
                "/api/v1/signup",
                None,
                Some(json!({"company_name": " ", "admin_email": "nope", "admin_password": "short",
                            "accounting_template": "martian", "base_currency": "yuan"})),
                &[],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields = a.fields();
        fields.sort();
        assert_eq!(fields, ["accounting_template", "admin_email", "admin_password", "base_currency", "company_name"]);
        assert_eq!(a.header("content-type"), Some("application/problem+json"));
        assert!(a.body["request_id"].is_string());
        assert_eq!(a.body["instance"], "/api/v1/signup");
        // Other tests sign tenants up in the same database meanwhile, so look for this one
        // rather than counting: it would be the only tenant with a blank name.
        let list = app.operator(Method::GET, "/operator/v1/tenants?limit=200", None).await;
        let names: Vec<&str> =
            list.body["data"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
        assert!(names.iter().all(|n| !n.trim().is_empty()), "{names:?}");
    })
    .await;
}

fn forge(claims: serde_json::Value, header: jsonwebtoken::Header, key: &jsonwebtoken::EncodingKey) -> String {
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_get_401_and_write_nothing() {
    on_each_backend(async |app| {
        let t = app.signup("Token Co").await;
        let users_before = app.get("/api/v1/users", &t.token).await.body["data"].as_array().unwrap().len();
        let body = json!({"email": "mallory@token.test", "display_name": "M", "password": PASSWORD});
        let parts: Vec<&str> = t.token.split('.').collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        let kid = header["kid"].as_str().unwrap().to_owned();

        // Payload tampered (more permissions), signature kept.
        claims["pm"] = json!(u64::MAX);
        let tampered = format!("{}.{}.{}", parts[0], b64.encode(claims.to_string()), parts[2]);
        // alg none.
        let none = format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), parts[1]);
        // HS256 keyed with something public.
        let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs.kid = Some(kid.clone());
        let hs256 = forge(claims.clone(), hs, &jsonwebtoken::EncodingKey::from_secret(kid.as_bytes()));
        // Signed with the real key but for another audience / issuer.
        let pem = std::fs::read(app.data_dir.path().join("keys/access-token-ed25519.pem")).unwrap();
        let real = jsonwebtoken::EncodingKey::from_ed_pem(&pem).unwrap();
        let mut ed = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        ed.kid = Some(kid);
        let mut wrong_aud = claims.clone();
        wrong_aud["aud"] = json!("someone-else");
        let mut wrong_iss = claims.clone();
        wrong_iss["iss"] = json!("evil");
        let mut no_sub = claims.clone();
        no_sub.as_object_mut().unwrap().remove("sub");
        let forged = [
            tampered,
            none,
            hs256,
            forge(wrong_aud, ed.clone(), &real),
            forge(wrong_iss, ed.clone(), &real),
            forge(no_sub, ed, &real),
            "garbage".to_owned(),
        ];
        for token in &forged {
            let a = app.post("/api/v1/users", token, body.clone()).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{token}: {:?}", a.body);
            assert_eq!(a.problem(), "unauthenticated");
        }
        let none_at_all = app.call(Method::POST, "/api/v1/users", None, Some(body.clone()), &[]).await;
        assert_eq!(none_at_all.status, StatusCode::UNAUTHORIZED);

        app.advance(Duration::minutes(16));
        let expired = app.post("/api/v1/users", &t.token, body).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert!(expired.body["detail"].as_str().unwrap().contains("expired"));
        app.advance(Duration::minutes(-16));
        let users_after = app.get("/api/v1/users", &t.token).await.body["data"].as_array().unwrap().len();
        assert_eq!(users_after, users_before);
    })
    .await;
}
