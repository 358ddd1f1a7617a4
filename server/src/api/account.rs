//! The tenant's account and its audit trail.

use actix_web::{HttpResponse, get, patch, put, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{AdminRead, AdminWrite, ApiJson, AuditRead, Authorized, IfMatch, etag, page, paginate};
use super::problem::Problem;
use super::views::{AuditEventView, ListResponse, TenantView};
use crate::app::{AppState, audit, tenant};
use crate::error::AppError;
use crate::store::audit::AuditFilter;

/// The tenant: settings, subscription status and entitlements.
#[utoipa::path(tag = "tenant", operation_id = "get_tenant", responses((status = 200, body = TenantView)))]
#[get("/tenant")]
pub async fn get_tenant(app: web::Data<AppState>, auth: Authorized<AdminRead>) -> Result<HttpResponse, AppError> {
    let view = TenantView::from(tenant::get(&app, auth.tenant_id()).await?);
    Ok(HttpResponse::Ok().insert_header(etag(view.version)).json(view))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    pub name: Option<String>,
}

/// Change the tenant's settings (If-Match required).
#[utoipa::path(tag = "tenant", operation_id = "update_tenant", request_body = UpdateTenantRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = TenantView), (status = 412, body = Problem)))]
#[patch("/tenant")]
pub async fn update_tenant(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    if_match: IfMatch,
    body: ApiJson<UpdateTenantRequest>,
) -> Result<HttpResponse, AppError> {
    let view = TenantView::from(tenant::update_settings(&app, &auth.ctx(), if_match.0, body.0.name).await?);
    Ok(HttpResponse::Ok().insert_header(etag(view.version)).json(view))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// 1-200, default 50
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// The user or API key that acted.
    pub actor_id: Option<Uuid>,
    /// e.g. `user.create`
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// Events at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail, newest first.
#[utoipa::path(tag = "audit", operation_id = "list_audit_events", params(AuditQuery),
    responses((status = 200, body = ListResponse<AuditEventView>), (status = 403, body = Problem)))]
#[get("/audit-events")]
pub async fn list_audit_events(
    app: web::Data<AppState>,
    auth: Authorized<AuditRead>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let filter = AuditFilter {
        actor_id: q.actor_id,
        action: q.action,
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        from: q.from,
        to: q.to,
    };
    let (rows, next_cursor) = paginate(audit::list(&app, auth.tenant_id(), &page, &filter).await?, &page, |e| e.id.0);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(AuditEventView::from).collect(), next_cursor }))
}

#[derive(serde::Serialize, ToSchema)]
pub struct NumberingView {
    /// The sequence, e.g. `sales_order`.
    pub key: &'static str,
    pub label: &'static str,
    pub prefix: String,
    pub default_prefix: &'static str,
    /// Digits after the dash (zero-padded).
    pub padding: i32,
    pub next_value: i64,
    /// The number the next document gets, e.g. `SO-000042`.
    pub example: String,
}

impl From<tenant::Numbering> for NumberingView {
    fn from(n: tenant::Numbering) -> Self {
        Self {
            key: n.kind.key,
            label: n.kind.label,
            prefix: n.effective_prefix().to_owned(),
            default_prefix: n.kind.prefix,
            padding: n.effective_padding(),
            next_value: n.next_value,
            example: n.example(),
        }
    }
}

/// How each kind of document is numbered.
#[utoipa::path(tag = "tenant", operation_id = "list_numbering", responses((status = 200, body = ListResponse<NumberingView>)))]
#[get("/numbering")]
pub async fn list_numbering(app: web::Data<AppState>, auth: Authorized<AdminRead>) -> Result<HttpResponse, AppError> {
    let data: Vec<NumberingView> =
        tenant::list_numbering(&app, auth.tenant_id()).await?.into_iter().map(NumberingView::from).collect();
    Ok(HttpResponse::Ok().json(ListResponse { data, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberingRequest {
    /// 1-10 capital letters and digits, starting with a letter; null for the built-in one;
    /// omit to keep it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub prefix: Option<Option<String>>,
    /// 1-12 digits; null for the built-in 6; omit to keep it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>)]
    pub padding: Option<Option<i32>>,
    /// The next number, up to 10^12; never below the current one. Omit to keep it.
    pub next_value: Option<i64>,
}

/// A field that is there, null or not: `Some(None)` for null (absent fields stay `None`
/// through `#[serde(default)]`).
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Set a kind's prefix, digits and next number; documents already numbered keep theirs.
#[utoipa::path(tag = "tenant", operation_id = "set_numbering", request_body = NumberingRequest,
    responses((status = 200, body = NumberingView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[put("/numbering/{key}")]
pub async fn set_numbering(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    key: web::Path<String>,
    body: ApiJson<NumberingRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = tenant::NumberingInput { prefix: b.prefix, padding: b.padding, next_value: b.next_value };
    let n = tenant::set_numbering(&app, &auth.ctx(), &key, input).await?;
    Ok(HttpResponse::Ok().json(NumberingView::from(n)))
}
