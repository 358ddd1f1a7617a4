//! Sign-up and sessions.

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, request_meta};
use super::problem::Problem;
use super::views::SessionView;
use crate::app::{AppState, sessions, signup as signups};
use crate::error::AppError;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "ACME Trading Co., Ltd.")]
    pub company_name: String,
    /// The handle staff type at login; derived from the name when absent.
    pub slug: Option<String>,
    pub admin_email: String,
    pub admin_name: Option<String>,
    /// At least 10 characters.
    pub admin_password: String,
    /// cn_small_business (小企业会计准则) or generic
    #[schema(example = "cn_small_business")]
    pub accounting_template: String,
    /// ISO 4217
    #[schema(example = "CNY")]
    pub base_currency: String,
}

/// Sign a company up: a tenant on a 15-day trial of every module, with its owner.
#[utoipa::path(
    tag = "auth", operation_id = "signup", request_body = SignupRequest,
    responses((status = 201, body = SessionView), (status = 422, body = Problem))
)]
#[post("/signup")]
pub async fn signup(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<SignupRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = signups::SignupInput {
        company_name: b.company_name,
        slug: b.slug,
        admin_email: b.admin_email,
        admin_name: b.admin_name,
        admin_password: b.admin_password,
        accounting_template: b.accounting_template,
        base_currency: b.base_currency,
        source_ip: request_meta(&req).source_ip,
    };
    let session = signups::signup(&app, input).await?;
    Ok(HttpResponse::Created().insert_header(("Location", "/api/v1/tenant")).json(SessionView::new(session, app.now())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The company handle (slug) given at sign-up.
    #[schema(example = "demo")]
    pub tenant: String,
    pub email: String,
    pub password: String,
}

/// Log in with email and password.
#[utoipa::path(
    tag = "auth", operation_id = "login", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 401, body = Problem), (status = 429, body = Problem))
)]
#[post("/auth/login")]
pub async fn login(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = sessions::LoginInput {
        tenant: b.tenant,
        email: b.email,
        password: b.password,
        source_ip: request_meta(&req).source_ip,
    };
    let session = sessions::login(&app, input).await?;
    Ok(HttpResponse::Ok().json(SessionView::new(session, app.now())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trade a refresh token for a new pair. Each refresh token works once; reusing one signs out
/// every session descended from the same login.
#[utoipa::path(
    tag = "auth", operation_id = "refresh_session", request_body = RefreshRequest,
    responses((status = 200, body = SessionView), (status = 401, body = Problem))
)]
#[post("/auth/refresh")]
pub async fn refresh_session(
    app: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<HttpResponse, AppError> {
    let session = sessions::refresh(&app, &body.0.refresh_token).await?;
    Ok(HttpResponse::Ok().json(SessionView::new(session, app.now())))
}

/// Log out: the refresh token and its family stop working.
#[utoipa::path(
    tag = "auth", operation_id = "logout", request_body = RefreshRequest,
    responses((status = 204))
)]
#[post("/auth/logout")]
pub async fn logout(app: web::Data<AppState>, body: ApiJson<RefreshRequest>) -> Result<HttpResponse, AppError> {
    sessions::logout(&app, &body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}
