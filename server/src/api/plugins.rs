//! `/plugins`: upload versions, enable with granted capabilities, disable, roll back, settings,
//! recent invocations. Needs plugins:read to look and plugins:write to change.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, Authorized, PluginsRead, PluginsWrite, page, paginate};
use super::problem::Problem;
use super::views::ListResponse;
use crate::app::{AppState, plugins as app};
use crate::error::AppError;
use crate::store::retrying;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// The plugin's manifest.json: name, version, sdk, description, hooks, events,
    /// capabilities, settings.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// The component (built for wasm32-wasip2 against SDK 1.x), base64-encoded.
    pub component: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    /// Capabilities granted; each must be one the manifest asks for.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version to make active; the previous one when absent.
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// Values for settings the manifest declares, as strings.
    pub settings: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct PluginVersionView {
    pub version: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub sdk: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

/// A plugin as the tenant has it.
#[derive(Serialize, ToSchema)]
pub struct PluginView {
    pub name: String,
    pub enabled: bool,
    pub active_version: String,
    pub previous_version: Option<String>,
    pub description: Option<String>,
    pub hooks: Vec<String>,
    pub requested_capabilities: Vec<String>,
    pub granted_capabilities: Vec<String>,
    pub settings: BTreeMap<String, String>,
    #[schema(value_type = Vec<Object>)]
    pub declared_settings: serde_json::Value,
    pub consecutive_failures: i32,
    /// Why it is disabled: by the tenant, or after repeated failures (with the last one).
    pub disabled_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub versions: Vec<PluginVersionView>,
}

#[derive(Serialize, ToSchema)]
pub struct InvocationView {
    pub id: Uuid,
    pub plugin: String,
    pub version: String,
    pub hook: String,
    /// The document it was asked about, e.g. `sales-order SO-000012`.
    pub subject: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_us: i64,
    /// Instructions used.
    pub fuel: i64,
    /// ok, vetoed or failed
    pub outcome: String,
    /// The veto's message or the failure.
    pub error: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub logs: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
pub struct InvocationQuery {
    /// ok, vetoed or failed
    pub outcome: Option<String>,
    /// At most this many, newest first (default 50, at most 200).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Cuts a page of JSON rows (each with an `id`) into the list answer.
fn list_answer(rows: Vec<serde_json::Value>, page: &crate::store::Page) -> serde_json::Value {
    let (rows, next_cursor) =
        paginate(rows, page, |r| r["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default());
    serde_json::json!({"data": rows, "next_cursor": next_cursor})
}

/// Upload a plugin version: the manifest is checked, the component compiled and checked for
/// its imports (SDK 1.x only) and exports. It becomes the active version; a new plugin starts
/// disabled.
#[utoipa::path(tag = "plugins", operation_id = "upload_plugin", request_body = UploadRequest,
    responses((status = 201, body = PluginView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/plugins")]
pub async fn upload_plugin(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    body: ApiJson<UploadRequest>,
) -> Result<HttpResponse, AppError> {
    let input = app::UploadInput { manifest: body.0.manifest, component: body.0.component };
    let out = app::upload(&app, &auth.ctx(), input).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(out))
}

/// Every plugin the tenant uploaded (all on one page: `next_cursor` is always null).
#[utoipa::path(tag = "plugins", operation_id = "list_plugins", responses((status = 200, body = ListResponse<PluginView>)))]
#[get("/plugins")]
pub async fn list_plugins(app: web::Data<AppState>, auth: Authorized<PluginsRead>) -> Result<HttpResponse, AppError> {
    let data = app::list(&app, &auth.ctx()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data, "next_cursor": null})))
}

#[utoipa::path(tag = "plugins", operation_id = "get_plugin", responses((status = 200, body = PluginView), (status = 404, body = Problem)))]
#[get("/plugins/{name}")]
pub async fn get_plugin(
    app: web::Data<AppState>,
    auth: Authorized<PluginsRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(app::get(&app, &auth.ctx(), &name).await?))
}

/// Enable the active version with the capabilities granted (a plan's plugin slots count the
/// enabled plugins).
#[utoipa::path(tag = "plugins", operation_id = "enable_plugin", request_body = EnableRequest,
    responses((status = 200, body = PluginView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/plugins/{name}/enable")]
pub async fn enable_plugin(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    name: web::Path<String>,
    body: ApiJson<EnableRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let caps = body.0.capabilities;
    let out = retrying(|| app::enable(&app, &ctx, &name, app::EnableInput { capabilities: caps.clone() })).await?;
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(tag = "plugins", operation_id = "disable_plugin",
    responses((status = 200, body = PluginView), (status = 404, body = Problem)))]
#[post("/plugins/{name}/disable")]
pub async fn disable_plugin(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    Ok(HttpResponse::Ok().json(retrying(|| app::disable(&app, &ctx, &name)).await?))
}

/// Make an earlier version active again (the previous one unless `version` names one).
#[utoipa::path(tag = "plugins", operation_id = "rollback_plugin", request_body = RollbackRequest,
    responses((status = 200, body = PluginView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/plugins/{name}/rollback")]
pub async fn rollback_plugin(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    name: web::Path<String>,
    body: ApiJson<RollbackRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let version = body.0.version;
    let out = retrying(|| app::rollback(&app, &ctx, &name, app::RollbackInput { version: version.clone() })).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Replace the plugin's settings (keys the manifest declares; decimals where it says so).
#[utoipa::path(tag = "plugins", operation_id = "set_plugin_settings", request_body = SettingsRequest,
    responses((status = 200, body = PluginView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[put("/plugins/{name}/settings")]
pub async fn set_plugin_settings(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    name: web::Path<String>,
    body: ApiJson<SettingsRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let settings: serde_json::Map<String, serde_json::Value> =
        body.0.settings.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    let out = retrying(|| app::set_settings(&app, &ctx, &name, settings.clone())).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// Recent invocations of the plugin, newest first: hook, document, duration, fuel, outcome,
/// error and what it logged.
#[utoipa::path(tag = "plugins", operation_id = "plugin_invocations", params(InvocationQuery),
    responses((status = 200, body = ListResponse<InvocationView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/plugins/{name}/invocations")]
pub async fn plugin_invocations(
    app: web::Data<AppState>,
    auth: Authorized<PluginsRead>,
    name: web::Path<String>,
    q: web::Query<InvocationQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = app::invocations(&app, &auth.ctx(), &name, q.outcome.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(list_answer(rows, &page)))
}

/// One event handed (or to be handed) to the plugin.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    /// e.g. stock.below-safety, sales-order.confirmed
    pub kind: Option<String>,
    /// The item, document or party the event is about.
    pub subject_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub occurred_at: Option<DateTime<Utc>>,
    /// pending (waiting or retrying), done, or dead (the dead-letter list)
    pub status: String,
    /// Tries so far.
    pub attempts: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// pending, done or dead
    pub status: Option<String>,
    /// At most this many, newest first (default 50, at most 200).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The plugin's event deliveries, newest first; `status=dead` is its dead-letter list.
#[utoipa::path(tag = "plugins", operation_id = "plugin_events", params(DeliveryQuery),
    responses((status = 200, body = ListResponse<DeliveryView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/plugins/{name}/events")]
pub async fn plugin_events(
    app: web::Data<AppState>,
    auth: Authorized<PluginsRead>,
    name: web::Path<String>,
    q: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = crate::app::events::deliveries(&app, &auth.ctx(), &name, q.status.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(list_answer(rows, &page)))
}

/// Send a dead-letter delivery again (its tries start over).
#[utoipa::path(tag = "plugins", operation_id = "retry_plugin_event",
    responses((status = 200, body = DeliveryView), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/plugins/{name}/events/{id}/retry")]
pub async fn retry_plugin_event(
    app: web::Data<AppState>,
    auth: Authorized<PluginsWrite>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, AppError> {
    let (name, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(crate::app::events::retry(&app, &auth.ctx(), &name, id).await?))
}
