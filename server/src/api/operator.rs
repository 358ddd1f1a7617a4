//! Operator endpoints, authenticated by the operator credential from configuration.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::ListQuery;
use super::extract::{page, paginate, request_meta};
use super::problem::Problem;
use super::views::{ListResponse, TenantView};
use crate::app::{AppState, operator};
use crate::domain::ids::TenantId;
use crate::domain::subscription::Plan;
use crate::error::AppError;

/// Proof that the caller presented the operator credential.
pub struct Operator;

impl FromRequest for Operator {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req.app_data::<web::Data<AppState>>().and_then(|a| a.config.operator_token.clone());
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        std::future::ready(match (expected, given) {
            (None, _) => {
                Err(AppError::Unauthenticated("operator access is not configured (MERIDIAN_OPERATOR_TOKEN)".into()))
            }
            (Some(e), Some(g)) if bool::from(e.as_bytes().ct_eq(g.as_bytes())) => Ok(Operator),
            _ => Err(AppError::Unauthenticated("the operator credential is missing or wrong".into())),
        })
    }
}

/// All tenants.
#[utoipa::path(tag = "operator", operation_id = "list_tenants", params(ListQuery),
    responses((status = 200, body = ListResponse<TenantView>), (status = 401, body = Problem)))]
#[get("/tenants")]
pub async fn list_tenants(
    app: web::Data<AppState>,
    _: Operator,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let (rows, next_cursor) = paginate(operator::list(&app, &page).await?, &page, |v| v.tenant.id.0);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(TenantView::from).collect(), next_cursor }))
}

/// One tenant.
#[utoipa::path(tag = "operator", operation_id = "get_operator_tenant", responses((status = 200, body = TenantView), (status = 404, body = Problem)))]
#[get("/tenants/{id}")]
pub async fn get_operator_tenant(
    app: web::Data<AppState>,
    _: Operator,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(TenantView::from(operator::get(&app, TenantId(*id)).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    /// starter, business or enterprise; null ends the plan.
    pub plan: Option<String>,
}

/// Set (or end) a tenant's plan. A plan reopens writes for a tenant whose trial ended.
#[utoipa::path(tag = "operator", operation_id = "set_tenant_plan", request_body = SetPlanRequest,
    responses((status = 200, body = TenantView), (status = 422, body = Problem)))]
#[post("/tenants/{id}/plan")]
pub async fn set_tenant_plan(
    app: web::Data<AppState>,
    _: Operator,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: super::extract::ApiJson<SetPlanRequest>,
) -> Result<HttpResponse, AppError> {
    let plan = match body.0.plan.as_deref() {
        None => None,
        Some(p) => {
            Some(Plan::parse(p).ok_or_else(|| AppError::field("plan", "must be starter, business or enterprise"))?)
        }
    };
    let view =
        operator::change(&app, TenantId(*id), operator::Change::Plan(plan), request_meta(&req).source_ip).await?;
    Ok(HttpResponse::Ok().json(TenantView::from(view)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrialRequest {
    /// The new end of the trial; must be later than the current one.
    pub trial_ends_at: DateTime<Utc>,
}

/// Extend a tenant's trial.
#[utoipa::path(tag = "operator", operation_id = "extend_tenant_trial", request_body = ExtendTrialRequest,
    responses((status = 200, body = TenantView), (status = 422, body = Problem)))]
#[post("/tenants/{id}/trial")]
pub async fn extend_tenant_trial(
    app: web::Data<AppState>,
    _: Operator,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: super::extract::ApiJson<ExtendTrialRequest>,
) -> Result<HttpResponse, AppError> {
    let change = operator::Change::TrialEndsAt(body.0.trial_ends_at);
    let view = operator::change(&app, TenantId(*id), change, request_meta(&req).source_ip).await?;
    Ok(HttpResponse::Ok().json(TenantView::from(view)))
}
