//! Production: settings (overhead rates), item planning data, bills of material (explosion,
//! cost roll-up, where-used), forecasts, MRP runs and suggestions, production orders (release,
//! issue, return, complete, close, cancel), kit availability and alerts.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    ApiJson, Authorized, IfMatch, ProductionApprove, ProductionRead, ProductionWrite, SalesRead, etag, page, paginate,
};
use super::problem::Problem;
use super::views::ListResponse;
use crate::app::manufacturing::{self as orders, Kit, KitLine};
use crate::app::{AppState, mrp, production as app};
use crate::domain::decimal::{Money, Quantity, Rate};
use crate::error::AppError;
use crate::store::production::{
    Bom, BomFilter, BomLine, Component, Forecast, OrderFilter, Planning, ProductionChange, ProductionOrder,
    ProductionSettings, Run, Suggestion, SuggestionFilter,
};
use crate::store::retrying;

fn q4(d: Decimal) -> String {
    format!("{d:.4}")
}

// ================================================================ settings

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionSettingsBody {
    /// Overhead absorbed as a fraction of the material cost issued: 0.1 is 10 %.
    #[schema(value_type = Option<String>, example = "0.100000")]
    pub overhead_rate: Option<Rate>,
    /// Overhead absorbed per unit completed.
    #[schema(value_type = Option<String>, example = "2.5000")]
    pub overhead_per_unit: Option<Money>,
    /// MRP proposes moving a supply out when it is first needed more than this many days after it arrives.
    pub move_tolerance_days: Option<i32>,
}

fn settings_response(s: ProductionSettings) -> HttpResponse {
    HttpResponse::Ok().insert_header(etag(s.version)).json(serde_json::json!({
        "overhead_rate": format!("{:.6}", s.overhead_rate),
        "overhead_per_unit": q4(s.overhead_per_unit),
        "move_tolerance_days": s.move_tolerance_days,
        "version": s.version,
    }))
}

/// Overhead rates and MRP tolerances.
#[utoipa::path(tag = "production", operation_id = "get_production_settings", responses((status = 200, body = ProductionSettingsBody)))]
#[get("/production-settings")]
pub async fn get_production_settings(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
) -> Result<HttpResponse, AppError> {
    Ok(settings_response(app::settings(&app, auth.tenant_id()).await?))
}

/// Set overhead rates and MRP tolerances (production:approve; If-Match, "0" the first time).
#[utoipa::path(tag = "production", operation_id = "set_production_settings", request_body = ProductionSettingsBody,
    responses((status = 200, body = ProductionSettingsBody), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/production-settings")]
pub async fn set_production_settings(
    app: web::Data<AppState>,
    auth: Authorized<ProductionApprove>,
    if_match: IfMatch,
    body: ApiJson<ProductionSettingsBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::SettingsInput {
        overhead_rate: b.overhead_rate.map(Rate::value),
        overhead_per_unit: b.overhead_per_unit.map(Money::value),
        move_tolerance_days: b.move_tolerance_days,
    };
    Ok(settings_response(app::update_settings(&app, &auth.ctx(), if_match.0, input).await?))
}

// ================================================================ item planning

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanningBody {
    /// Days from ordering (buy) or starting (make) to having it.
    pub lead_time_days: Option<i32>,
    /// lot_for_lot | fixed_period
    pub lot_policy: Option<String>,
    /// fixed_period: one planned order covers the needs of this many days.
    pub lot_period_days: Option<i32>,
    /// No planned order below this quantity.
    #[schema(value_type = Option<String>, example = "100")]
    pub lot_minimum: Option<Quantity>,
    /// Planned orders are rounded up to a multiple of this.
    #[schema(value_type = Option<String>, example = "25")]
    pub lot_multiple: Option<Quantity>,
}

fn planning_response(p: Planning) -> HttpResponse {
    HttpResponse::Ok().insert_header(etag(p.version)).json(serde_json::json!({
        "item_id": p.item_id, "lead_time_days": p.lead_time_days, "lot_policy": p.lot_policy,
        "lot_period_days": p.lot_period_days, "lot_minimum": q4(p.lot_minimum), "lot_multiple": q4(p.lot_multiple),
        "version": p.version,
    }))
}

/// An item's planning data (lead time, lot sizing).
#[utoipa::path(tag = "production", operation_id = "get_item_planning", responses((status = 200, body = PlanningBody), (status = 404, body = Problem)))]
#[get("/items/{id}/planning")]
pub async fn get_item_planning(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(planning_response(app::planning(&app, auth.tenant_id(), *id).await?))
}

/// Set an item's planning data (If-Match, "0" the first time).
#[utoipa::path(tag = "production", operation_id = "set_item_planning", request_body = PlanningBody,
    responses((status = 200, body = PlanningBody), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/items/{id}/planning")]
pub async fn set_item_planning(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PlanningBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::PlanningInput {
        lead_time_days: b.lead_time_days,
        lot_policy: b.lot_policy,
        lot_period_days: b.lot_period_days,
        lot_minimum: b.lot_minimum.map(Quantity::value),
        lot_multiple: b.lot_multiple.map(Quantity::value),
    };
    Ok(planning_response(app::update_planning(&app, &auth.ctx(), *id, if_match.0, input).await?))
}

// ================================================================ bills of material

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BomLineRequest {
    pub component_id: Uuid,
    /// Per `output_quantity` units of the parent.
    #[schema(value_type = String, example = "2")]
    pub quantity: Quantity,
    /// Extra consumed as scrap, in percent: "5" is 5 %.
    #[schema(value_type = Option<String>, example = "2.5")]
    pub scrap_percent: Option<Rate>,
    /// kit (issued as a kit, the default) | backflush (consumed at completion)
    pub issue_method: Option<String>,
    /// Never stocked: its own bill's components are used in its place.
    pub phantom: Option<bool>,
    /// Comes out of production (received at standard cost) rather than going in.
    pub byproduct: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BomRequest {
    pub item_id: Uuid,
    /// The revision label, unique per item ("A", "2026-11").
    pub revision: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// The lines are for this many units of the item (default 1).
    #[schema(value_type = Option<String>, example = "1")]
    pub output_quantity: Option<Quantity>,
    pub memo: Option<String>,
    pub lines: Vec<BomLineRequest>,
}

impl From<BomRequest> for app::BomInput {
    fn from(b: BomRequest) -> Self {
        app::BomInput {
            item_id: b.item_id,
            revision: b.revision,
            valid_from: b.valid_from,
            valid_to: b.valid_to,
            output_quantity: b.output_quantity.map(Quantity::value),
            memo: b.memo,
            lines: b
                .lines
                .into_iter()
                .map(|l| app::BomLineInput {
                    component_id: l.component_id,
                    quantity: l.quantity.value(),
                    scrap_percent: l.scrap_percent.map(Rate::value),
                    issue_method: l.issue_method,
                    phantom: l.phantom,
                    byproduct: l.byproduct,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BomLineView {
    pub line_no: i32,
    pub component_id: Uuid,
    #[schema(example = "2.0000")]
    pub quantity: String,
    #[schema(example = "2.5000")]
    pub scrap_percent: String,
    pub issue_method: String,
    pub phantom: bool,
    pub byproduct: bool,
}

#[derive(Serialize, ToSchema)]
pub struct BomView {
    pub id: Uuid,
    pub item_id: Uuid,
    pub revision: String,
    /// draft | active | archived
    pub status: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub output_quantity: String,
    pub memo: String,
    pub lines: Vec<BomLineView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn bom_view(b: Bom, lines: Vec<BomLine>) -> BomView {
    BomView {
        id: b.id,
        item_id: b.item_id,
        revision: b.revision,
        status: b.status,
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        output_quantity: q4(b.output_quantity),
        memo: b.memo,
        lines: lines
            .into_iter()
            .map(|l| BomLineView {
                line_no: l.line_no,
                component_id: l.component_id,
                quantity: q4(l.quantity),
                scrap_percent: q4(l.scrap * Decimal::ONE_HUNDRED),
                issue_method: l.issue_method.as_str().into(),
                phantom: l.phantom,
                byproduct: l.byproduct,
            })
            .collect(),
        created_at: b.created_at,
        updated_at: b.updated_at,
        version: b.version,
    }
}

fn bom_response(status: StatusCode, (b, lines): (Bom, Vec<BomLine>)) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    r.insert_header(etag(b.version));
    if status == StatusCode::CREATED {
        r.insert_header(("Location", format!("/api/v1/boms/{}", b.id)));
    }
    r.json(bom_view(b, lines))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BomQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub item_id: Option<Uuid>,
    /// draft | active | archived
    pub status: Option<String>,
}

/// Bills of material (headers), newest first.
#[utoipa::path(tag = "production", operation_id = "list_boms", params(BomQuery), responses((status = 200, body = ListResponse<BomView>)))]
#[get("/boms")]
pub async fn list_boms(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<BomQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows =
        app::list_boms(&app, auth.tenant_id(), &BomFilter { item_id: q.item_id, status: q.status }, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |b| b.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|b| bom_view(b, Vec::new())).collect(), next_cursor }))
}

/// Add a bill of material (a draft). A component that would make the bill contain itself at any
/// depth is a 422 naming the cycle.
#[utoipa::path(tag = "production", operation_id = "create_bom", request_body = BomRequest,
    responses((status = 201, body = BomView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/boms")]
pub async fn create_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    body: ApiJson<BomRequest>,
) -> Result<HttpResponse, AppError> {
    Ok(bom_response(StatusCode::CREATED, app::create_bom(&app, &auth.ctx(), body.0.into()).await?))
}

#[utoipa::path(tag = "production", operation_id = "get_bom", responses((status = 200, body = BomView), (status = 404, body = Problem)))]
#[get("/boms/{id}")]
pub async fn get_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(bom_response(StatusCode::OK, app::get_bom(&app, auth.tenant_id(), *id).await?))
}

/// Replace a draft bill (If-Match). Active bills are not edited: make a new revision.
#[utoipa::path(tag = "production", operation_id = "update_bom", request_body = BomRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = BomView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/boms/{id}")]
pub async fn update_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<BomRequest>,
) -> Result<HttpResponse, AppError> {
    Ok(bom_response(StatusCode::OK, app::update_bom(&app, &auth.ctx(), *id, if_match.0, body.0.into()).await?))
}

/// Delete a draft bill.
#[utoipa::path(tag = "production", operation_id = "delete_bom", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/boms/{id}")]
pub async fn delete_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_bom(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Make a bill the one in use (its validity must not overlap another active revision of the item).
#[utoipa::path(tag = "production", operation_id = "activate_bom", responses((status = 200, body = BomView), (status = 409, body = Problem)))]
#[post("/boms/{id}/activate")]
pub async fn activate_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(bom_response(StatusCode::OK, app::bom_action(&app, &auth.ctx(), *id, "activate").await?))
}

/// Retire a bill.
#[utoipa::path(tag = "production", operation_id = "archive_bom", responses((status = 200, body = BomView), (status = 409, body = Problem)))]
#[post("/boms/{id}/archive")]
pub async fn archive_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(bom_response(StatusCode::OK, app::bom_action(&app, &auth.ctx(), *id, "archive").await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExplosionQuery {
    /// Units of the bill's item to explode for (default the bill's output quantity).
    #[param(value_type = Option<String>)]
    pub quantity: Option<String>,
    /// Sub-assemblies use their bills valid on this date (default today).
    pub date: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct ExplosionRow {
    /// 1 for the bill's own lines.
    pub level: u32,
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub parent_id: Uuid,
    pub per_parent: String,
    pub scrap_percent: String,
    /// For the quantity asked, scrap included, rounded up at 4 places.
    pub quantity: String,
    pub issue_method: String,
    pub phantom: bool,
    pub byproduct: bool,
    /// The bill the row explodes through, when it has one.
    pub bom_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ExplosionView {
    pub bom_id: Uuid,
    pub item_id: Uuid,
    pub quantity: String,
    pub rows: Vec<ExplosionRow>,
}

fn parse_quantity(s: Option<&str>, field: &str) -> Result<Option<Decimal>, AppError> {
    s.map(|s| Quantity::parse(s).map(Quantity::value).map_err(|m| AppError::field(field, m))).transpose()
}

/// The bill exploded level by level for a quantity (indented: each row's level and parent).
#[utoipa::path(tag = "production", operation_id = "explode_bom", params(ExplosionQuery),
    responses((status = 200, body = ExplosionView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/boms/{id}/explosion")]
pub async fn explode_bom(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
    query: web::Query<ExplosionQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let (b, _) = app::get_bom(&app, auth.tenant_id(), *id).await?;
    let quantity = parse_quantity(q.quantity.as_deref(), "quantity")?.unwrap_or(b.output_quantity);
    let date = q.date.unwrap_or_else(|| app.now().date_naive());
    let (b, rows) = app::explosion(&app, auth.tenant_id(), *id, quantity, date).await?;
    Ok(HttpResponse::Ok().json(ExplosionView {
        bom_id: b.id,
        item_id: b.item_id,
        quantity: q4(quantity),
        rows: rows
            .into_iter()
            .map(|r| ExplosionRow {
                level: r.row.level,
                item_id: r.row.item,
                sku: r.sku,
                name: r.name,
                unit: r.unit,
                parent_id: r.row.parent,
                per_parent: q4(r.row.per_parent.round_dp(4)),
                scrap_percent: q4(r.row.scrap * Decimal::ONE_HUNDRED),
                quantity: q4(r.row.quantity),
                issue_method: r.row.issue.as_str().into(),
                phantom: r.row.phantom,
                byproduct: r.row.byproduct,
                bom_id: r.row.bill,
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DateQuery {
    pub date: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct RollUpLine {
    pub component_id: Uuid,
    pub sku: String,
    /// Per unit of the bill's item, scrap included.
    pub quantity: String,
    pub unit_cost: String,
    /// Negative for a by-product (a credit).
    pub amount: String,
    pub byproduct: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RollUpView {
    pub bom_id: Uuid,
    pub item_id: Uuid,
    /// Per unit of the item.
    pub material: String,
    pub overhead: String,
    pub unit_cost: String,
    /// The item's standard cost, to compare.
    pub standard_cost: String,
    pub lines: Vec<RollUpLine>,
}

/// One unit's cost by the bill: components at their current average cost (sub-assemblies
/// rolled up through their bills), by-products credited, plus the overhead rates.
#[utoipa::path(tag = "production", operation_id = "bom_cost_rollup", params(DateQuery),
    responses((status = 200, body = RollUpView), (status = 404, body = Problem)))]
#[get("/boms/{id}/cost-rollup")]
pub async fn bom_cost_rollup(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
    query: web::Query<DateQuery>,
) -> Result<HttpResponse, AppError> {
    let date = query.date.unwrap_or_else(|| app.now().date_naive());
    let r = app::cost_rollup(&app, auth.tenant_id(), *id, date).await?;
    Ok(HttpResponse::Ok().json(RollUpView {
        bom_id: r.bom.id,
        item_id: r.bom.item_id,
        material: q4(r.material),
        overhead: q4(r.overhead),
        unit_cost: q4(r.unit_cost),
        standard_cost: q4(r.standard_cost),
        lines: r
            .lines
            .into_iter()
            .map(|(c, sku, q, u, e, by)| RollUpLine {
                component_id: c,
                sku,
                quantity: q4(q),
                unit_cost: q4(u),
                amount: q4(if by { -e } else { e }),
                byproduct: by,
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WhereUsedQuery {
    /// Also the bills above those that use it directly (default true).
    pub indirect: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct WhereUsedRow {
    /// 1: the bill lists the item itself.
    pub level: u32,
    pub bom_id: Uuid,
    pub revision: String,
    pub status: String,
    pub parent_id: Uuid,
    pub parent_sku: String,
    /// On a direct line: quantity of the item per unit of the parent.
    pub quantity_per: String,
}

/// Where an item is used, directly and through sub-assemblies (draft and active bills).
#[utoipa::path(tag = "production", operation_id = "item_where_used", params(WhereUsedQuery),
    responses((status = 200, body = Vec<WhereUsedRow>), (status = 404, body = Problem)))]
#[get("/items/{id}/where-used")]
pub async fn item_where_used(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
    query: web::Query<WhereUsedQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = app::where_used(&app, auth.tenant_id(), *id, query.indirect.unwrap_or(true)).await?;
    let data: Vec<WhereUsedRow> = rows
        .into_iter()
        .map(|(level, b, sku, per)| WhereUsedRow {
            level,
            bom_id: b.id,
            revision: b.revision,
            status: b.status,
            parent_id: b.item_id,
            parent_sku: sku,
            quantity_per: q4(per),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": data, "next_cursor": null })))
}

// ================================================================ forecasts

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastRequest {
    pub item_id: Uuid,
    pub due_date: NaiveDate,
    #[schema(value_type = String, example = "100")]
    pub quantity: Quantity,
    pub memo: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ForecastView {
    pub id: Uuid,
    pub item_id: Uuid,
    pub due_date: NaiveDate,
    pub quantity: String,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

fn forecast_view(f: Forecast) -> ForecastView {
    ForecastView {
        id: f.id,
        item_id: f.item_id,
        due_date: f.due_date,
        quantity: q4(f.quantity),
        memo: f.memo,
        created_at: f.created_at,
    }
}

/// Add a forecast: independent demand MRP plans for, less the sales orders of the same item
/// due in the same month (forecast consumption).
#[utoipa::path(tag = "production", operation_id = "create_forecast", request_body = ForecastRequest,
    responses((status = 201, body = ForecastView), (status = 422, body = Problem)))]
#[post("/forecasts")]
pub async fn create_forecast(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    body: ApiJson<ForecastRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let f = app::create_forecast(
        &app,
        &auth.ctx(),
        app::ForecastInput { item_id: b.item_id, due_date: b.due_date, quantity: b.quantity.value(), memo: b.memo },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/forecasts/{}", f.id)))
        .json(forecast_view(f)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ForecastQuery {
    pub item_id: Option<Uuid>,
}

/// Forecasts in date order (all of them, or one item's).
#[utoipa::path(tag = "production", operation_id = "list_forecasts", params(ForecastQuery), responses((status = 200, body = ListResponse<ForecastView>)))]
#[get("/forecasts")]
pub async fn list_forecasts(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<ForecastQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = app::list_forecasts(&app, auth.tenant_id(), query.item_id).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(forecast_view).collect(), next_cursor: None }))
}

#[utoipa::path(tag = "production", operation_id = "delete_forecast", responses((status = 204), (status = 404, body = Problem)))]
#[delete("/forecasts/{id}")]
pub async fn delete_forecast(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_forecast(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ================================================================ production orders

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionOrderRequest {
    pub item_id: Uuid,
    /// Default: the item's active bill valid on the start date.
    pub bom_id: Option<Uuid>,
    #[schema(value_type = String, example = "10")]
    pub quantity: Quantity,
    /// Where components are issued from and finished goods received (default: the item's).
    pub warehouse_id: Option<Uuid>,
    /// Default: the due date less the item's lead time.
    pub start_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub sales_order_id: Option<Uuid>,
    pub memo: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ComponentView {
    pub line_no: i32,
    pub component_id: Uuid,
    /// For the whole order quantity, scrap included.
    pub required: String,
    pub issue_method: String,
    pub byproduct: bool,
    /// Issued less returned (received, for a by-product).
    pub issued: String,
    /// The value issued less returned.
    pub cost: String,
    pub reservation_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct CostSheet {
    pub material: String,
    pub overhead: String,
    /// Material and overhead less by-products: what the order has cost.
    pub total: String,
    /// Moved to finished goods by completions.
    pub completed_value: String,
    /// Still in WIP.
    pub wip: String,
    /// Standard cost of what was completed.
    pub standard: String,
    /// Posted to the production variance account on close (debit positive).
    pub variance: String,
    /// Material and overhead per unit completed.
    pub actual_unit_cost: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductionOrderView {
    pub id: Uuid,
    pub number: String,
    /// planned | released | in_progress | completed | closed | cancelled
    pub status: String,
    pub item_id: Uuid,
    pub bom_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: String,
    pub completed: String,
    pub start_date: NaiveDate,
    pub due_date: NaiveDate,
    pub sales_order_id: Option<Uuid>,
    pub suggestion_id: Option<Uuid>,
    pub memo: String,
    pub components: Vec<ComponentView>,
    pub cost: CostSheet,
    pub released_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn order_view(o: ProductionOrder, cs: Vec<Component>, standard_cost: Option<Decimal>) -> ProductionOrderView {
    let byproducts: Decimal = cs.iter().filter(|c| c.byproduct).map(|c| -c.cost).sum();
    let total = o.material_cost + o.overhead_cost - byproducts;
    ProductionOrderView {
        cost: CostSheet {
            material: q4(o.material_cost),
            overhead: q4(o.overhead_cost),
            total: q4(total),
            completed_value: q4(o.completed_value - byproducts),
            wip: q4(o.wip()),
            standard: q4(standard_cost.unwrap_or_default() * o.completed),
            variance: q4(o.variance),
            actual_unit_cost: (!o.completed.is_zero()).then(|| q4((total / o.completed).round_dp(4))),
        },
        id: o.id,
        number: o.number,
        status: o.status,
        item_id: o.item_id,
        bom_id: o.bom_id,
        warehouse_id: o.warehouse_id,
        quantity: q4(o.quantity),
        completed: q4(o.completed),
        start_date: o.start_date,
        due_date: o.due_date,
        sales_order_id: o.sales_order_id,
        suggestion_id: o.suggestion_id,
        memo: o.memo,
        components: cs
            .into_iter()
            .map(|c| ComponentView {
                line_no: c.line_no,
                component_id: c.component_id,
                required: q4(c.required),
                issue_method: c.issue_method.as_str().into(),
                byproduct: c.byproduct,
                issued: q4(c.issued),
                cost: q4(c.cost),
                reservation_id: c.reservation_id,
            })
            .collect(),
        released_at: o.released_at,
        closed_at: o.closed_at,
        created_at: o.created_at,
        updated_at: o.updated_at,
        version: o.version,
    }
}

async fn order_response(
    app: &AppState,
    status: StatusCode,
    tenant: crate::domain::ids::TenantId,
    (o, cs): (ProductionOrder, Vec<Component>),
) -> Result<HttpResponse, AppError> {
    let standard = crate::app::inventory::get_item(app, tenant, o.item_id).await.ok().map(|i| i.standard_cost);
    let mut r = HttpResponse::build(status);
    r.insert_header(etag(o.version));
    if status == StatusCode::CREATED {
        r.insert_header(("Location", format!("/api/v1/production-orders/{}", o.id)));
    }
    Ok(r.json(order_view(o, cs, standard)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProductionOrderQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub item_id: Option<Uuid>,
    pub sales_order_id: Option<Uuid>,
}

/// Production orders, newest first.
#[utoipa::path(tag = "production", operation_id = "list_production_orders", params(ProductionOrderQuery),
    responses((status = 200, body = ListResponse<ProductionOrderView>)))]
#[get("/production-orders")]
pub async fn list_production_orders(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<ProductionOrderQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = OrderFilter { status: q.status, item_id: q.item_id, sales_order_id: q.sales_order_id, open: false };
    let rows = orders::list_orders(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |o| o.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|o| order_view(o, Vec::new(), None)).collect(), next_cursor }))
}

/// Plan a production order; its components come from the bill for the quantity.
#[utoipa::path(tag = "production", operation_id = "create_production_order", request_body = ProductionOrderRequest,
    responses((status = 201, body = ProductionOrderView), (status = 422, body = Problem)))]
#[post("/production-orders")]
pub async fn create_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    body: ApiJson<ProductionOrderRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = orders::OrderInput {
        item_id: b.item_id,
        bom_id: b.bom_id,
        quantity: b.quantity.value(),
        warehouse_id: b.warehouse_id,
        start_date: b.start_date,
        due_date: b.due_date,
        sales_order_id: b.sales_order_id,
        memo: b.memo,
    };
    let o = orders::create_order(&app, &auth.ctx(), input).await?;
    order_response(&app, StatusCode::CREATED, auth.tenant_id(), o).await
}

/// A production order with its components and cost sheet.
#[utoipa::path(tag = "production", operation_id = "get_production_order",
    responses((status = 200, body = ProductionOrderView), (status = 404, body = Problem)))]
#[get("/production-orders/{id}")]
pub async fn get_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let o = orders::get_order(&app, auth.tenant_id(), *id).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

/// Release: reserves what is on hand of each component (a shortage shows in the kit analysis).
#[utoipa::path(tag = "production", operation_id = "release_production_order",
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem)))]
#[post("/production-orders/{id}/release")]
pub async fn release_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| orders::order_action(&app, &ctx, *id, "release")).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// The new quantity (not below what was completed); components follow in proportion.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Quantity>,
    pub due_date: Option<NaiveDate>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    pub id: Uuid,
    pub number: String,
    pub order_id: Uuid,
    pub quantity: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub reason: String,
    /// pending (waiting for approval) | applied | rejected | returned | withdrawn
    pub status: String,
    /// The approval request it went through, if any.
    pub approval_request_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

fn change_view(c: ProductionChange, request: Option<Uuid>) -> ChangeView {
    ChangeView {
        id: c.id,
        number: c.number,
        order_id: c.order_id,
        quantity: c.quantity.map(q4),
        due_date: c.due_date,
        reason: c.reason,
        status: c.status,
        approval_request_id: request,
        created_at: c.created_at,
        decided_at: c.decided_at,
    }
}

/// Change an open order's quantity or due date. A planned order changes at once; after release
/// the change goes through the tenant's production-change approval flows and applies when
/// approved (at once when no flow covers it).
#[utoipa::path(tag = "production", operation_id = "change_production_order", request_body = ChangeBody,
    responses((status = 201, body = ChangeView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/production-orders/{id}/changes")]
pub async fn change_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ChangeBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    let (c, r) = retrying(|| {
        orders::request_change(
            &app,
            &ctx,
            *id,
            orders::ChangeInput {
                quantity: b.quantity.map(Quantity::value),
                due_date: b.due_date,
                reason: b.reason.clone(),
            },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(change_view(c, r.map(|r| r.id))))
}

/// An order's changes, the latest first.
#[utoipa::path(tag = "production", operation_id = "list_production_order_changes",
    responses((status = 200, body = ListResponse<ChangeView>)))]
#[get("/production-orders/{id}/changes")]
pub async fn list_production_order_changes(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let l = orders::changes(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: l.into_iter().map(|c| change_view(c, None)).collect(), next_cursor: None }))
}

/// Cancel an order with nothing completed and nothing left issued; its reservations are released.
#[utoipa::path(tag = "production", operation_id = "cancel_production_order",
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem)))]
#[post("/production-orders/{id}/cancel")]
pub async fn cancel_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| orders::order_action(&app, &ctx, *id, "cancel")).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueLineRequest {
    /// A component line of the order...
    pub line_no: Option<i32>,
    /// ...or an item (an extra component the bill does not list).
    pub component_id: Option<Uuid>,
    #[schema(value_type = String, example = "2")]
    pub quantity: Quantity,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub date: Option<NaiveDate>,
    /// Empty or absent: the kit (what is left of every kit component's requirement).
    #[serde(default)]
    pub lines: Vec<IssueLineRequest>,
}

impl From<IssueRequest> for orders::IssueInput {
    fn from(b: IssueRequest) -> Self {
        orders::IssueInput {
            date: b.date,
            lines: b
                .lines
                .into_iter()
                .map(|l| orders::IssueLine {
                    line_no: l.line_no,
                    component_id: l.component_id,
                    quantity: l.quantity.value(),
                })
                .collect(),
        }
    }
}

/// Issue components into WIP: the kit, or named lines (extra issues too).
#[utoipa::path(tag = "production", operation_id = "issue_production_order", request_body = IssueRequest,
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/production-orders/{id}/issue")]
pub async fn issue_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<IssueRequest>,
) -> Result<HttpResponse, AppError> {
    let input: orders::IssueInput = body.0.into();
    let ctx = auth.ctx();
    let o = retrying(|| orders::issue(&app, &ctx, *id, input.clone())).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

/// Give issued components back to stock at the cost they left with.
#[utoipa::path(tag = "production", operation_id = "return_production_components", request_body = IssueRequest,
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/production-orders/{id}/return")]
pub async fn return_production_components(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<IssueRequest>,
) -> Result<HttpResponse, AppError> {
    let input: orders::IssueInput = body.0.into();
    let ctx = auth.ctx();
    let o = retrying(|| orders::return_components(&app, &ctx, *id, input.clone())).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    pub date: Option<NaiveDate>,
    #[schema(value_type = String, example = "5")]
    pub quantity: Quantity,
}

/// Report a completion (partial or final): backflush, overhead, by-products, finished goods in.
#[utoipa::path(tag = "production", operation_id = "complete_production_order", request_body = CompleteRequest,
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/production-orders/{id}/complete")]
pub async fn complete_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<CompleteRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = orders::CompleteInput { date: b.date, quantity: b.quantity.value() };
    let ctx = auth.ctx();
    let o = retrying(|| orders::complete(&app, &ctx, *id, input.clone())).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub date: Option<NaiveDate>,
}

/// Close: the rest of the overhead, then what is left in WIP goes to the variance account.
#[utoipa::path(tag = "production", operation_id = "close_production_order", request_body = CloseRequest,
    responses((status = 200, body = ProductionOrderView), (status = 409, body = Problem)))]
#[post("/production-orders/{id}/close")]
pub async fn close_production_order(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
    body: Option<ApiJson<CloseRequest>>,
) -> Result<HttpResponse, AppError> {
    let date = body.and_then(|b| b.0.date);
    let ctx = auth.ctx();
    let o = retrying(|| orders::close(&app, &ctx, *id, date)).await?;
    order_response(&app, StatusCode::OK, auth.tenant_id(), o).await
}

// ================================================================ kit availability, alerts

#[derive(Serialize, ToSchema)]
pub struct NextSupplyView {
    /// purchase_order | production_order | purchase_request
    pub kind: String,
    pub number: String,
    pub date: NaiveDate,
    pub quantity: String,
}

#[derive(Serialize, ToSchema)]
pub struct KitLineView {
    pub line_no: i32,
    pub item_id: Uuid,
    pub sku: String,
    pub needed: String,
    pub available: String,
    pub short: String,
    /// When more arrives, for a short line.
    pub next_supply: Option<NextSupplyView>,
    /// A short made item's components for the shortfall.
    #[schema(no_recursion)]
    pub components: Vec<KitLineView>,
}

#[derive(Serialize, ToSchema)]
pub struct KitView {
    pub lines: Vec<KitLineView>,
    /// Production orders: how many can be made now from what is issued and available.
    pub can_make_now: Option<String>,
    /// Nothing is short.
    pub can_start: bool,
}

fn kit_line(l: KitLine) -> KitLineView {
    KitLineView {
        line_no: l.line_no,
        item_id: l.item_id,
        sku: l.sku,
        needed: q4(l.needed),
        available: q4(l.available),
        short: q4(l.short),
        next_supply: l.next_supply.map(|n| NextSupplyView {
            kind: n.kind.into(),
            number: n.number,
            date: n.date,
            quantity: q4(n.quantity),
        }),
        components: l.components.into_iter().map(kit_line).collect(),
    }
}

fn kit_view(k: Kit) -> KitView {
    KitView {
        lines: k.lines.into_iter().map(kit_line).collect(),
        can_make_now: k.can_make_now.map(q4),
        can_start: k.can_start,
    }
}

/// Kit availability (齐套分析) of a production order: per component needed, available, short,
/// when supply arrives; how many can be made now; whether it can start.
#[utoipa::path(tag = "production", operation_id = "production_order_kit",
    responses((status = 200, body = KitView), (status = 404, body = Problem)))]
#[get("/production-orders/{id}/kit")]
pub async fn production_order_kit(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (_, kit) = orders::order_kit(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().json(kit_view(kit)))
}

/// Kit availability of a sales order: per open line, and for a short made item its components.
#[utoipa::path(tag = "production", operation_id = "sales_order_kit",
    responses((status = 200, body = KitView), (status = 404, body = Problem)))]
#[get("/sales-orders/{id}/kit")]
pub async fn sales_order_kit(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(kit_view(orders::sales_order_kit(&app, auth.tenant_id(), *id).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    pub as_of: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductionAlert {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub item_id: Uuid,
    pub due_date: NaiveDate,
    pub quantity: String,
    pub completed: String,
    /// late | short_of_material
    pub reasons: Vec<String>,
    pub kit: KitView,
}

/// Open production orders late against their due date or (released) short of material.
#[utoipa::path(tag = "production", operation_id = "production_alerts", params(AlertQuery),
    responses((status = 200, body = ListResponse<ProductionAlert>)))]
#[get("/reports/production-alerts")]
pub async fn production_alerts(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<AlertQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = orders::alerts(&app, auth.tenant_id(), query.as_of).await?;
    let data: Vec<ProductionAlert> = rows
        .into_iter()
        .map(|(o, why, kit)| ProductionAlert {
            id: o.id,
            number: o.number,
            status: o.status,
            item_id: o.item_id,
            due_date: o.due_date,
            quantity: q4(o.quantity),
            completed: q4(o.completed),
            reasons: why.into_iter().map(String::from).collect(),
            kit: kit_view(kit),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListResponse { data, next_cursor: None }))
}

// ================================================================ MRP

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MrpRunRequest {
    /// Plan only these items (and what their bills need); default every item.
    pub item_ids: Option<Vec<Uuid>>,
    /// Demand and supply up to this date (default: 180 days from today).
    pub horizon: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct MrpRunView {
    pub id: Uuid,
    pub number: String,
    pub run_by: Option<Uuid>,
    pub parameters: serde_json::Value,
    /// Counts and timings: items planned, demands, supplies, suggestions, exceptions, milliseconds.
    pub figures: serde_json::Value,
    /// Late supply to expedite, supply to cancel or move, items with no supplier or no bill.
    pub exceptions: serde_json::Value,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

fn run_view(r: Run) -> MrpRunView {
    MrpRunView {
        id: r.id,
        number: r.number,
        run_by: r.run_by,
        parameters: r.parameters,
        figures: r.figures,
        exceptions: r.exceptions,
        started_at: r.started_at,
        finished_at: r.finished_at,
    }
}

/// Run MRP over the tenant (or a set of items): nets demand against supply level by level and
/// proposes purchase requests and production orders, pegged to their demand. The run's
/// suggestions replace the open ones of earlier runs (of the same items, for a run of chosen
/// items); accepted ones stay.
#[utoipa::path(tag = "production", operation_id = "run_mrp", request_body = MrpRunRequest,
    responses((status = 201, body = MrpRunView), (status = 422, body = Problem)))]
#[post("/mrp-runs")]
pub async fn run_mrp(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    body: Option<ApiJson<MrpRunRequest>>,
) -> Result<HttpResponse, AppError> {
    let b = body.map(|b| b.0).unwrap_or_default();
    let r = mrp::run(&app, &auth.ctx(), mrp::RunInput { items: b.item_ids, horizon: b.horizon }).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/mrp-runs/{}", r.id))).json(run_view(r)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// MRP runs, newest first.
#[utoipa::path(tag = "production", operation_id = "list_mrp_runs", params(PageQuery), responses((status = 200, body = ListResponse<MrpRunView>)))]
#[get("/mrp-runs")]
pub async fn list_mrp_runs(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page(query.limit, query.cursor.as_deref())?;
    let rows = mrp::list_runs(&app, auth.tenant_id(), &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |r| r.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(run_view).collect(), next_cursor }))
}

#[utoipa::path(tag = "production", operation_id = "get_mrp_run", responses((status = 200, body = MrpRunView), (status = 404, body = Problem)))]
#[get("/mrp-runs/{id}")]
pub async fn get_mrp_run(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(run_view(mrp::get_run(&app, auth.tenant_id(), *id).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct SuggestionView {
    pub id: Uuid,
    pub run_id: Uuid,
    /// purchase | production
    pub kind: String,
    pub item_id: Uuid,
    pub warehouse_id: Option<Uuid>,
    pub quantity: String,
    pub due_date: NaiveDate,
    /// Order or start by (due date less lead time).
    pub start_date: NaiveDate,
    /// The start date has passed: the due date cannot be met.
    pub late: bool,
    /// The item's low-level code.
    pub level: i32,
    pub supplier_id: Option<Uuid>,
    pub bom_id: Option<Uuid>,
    /// The demand it serves: [{source, id, number, line, quantity}].
    pub pegging: serde_json::Value,
    /// open | accepted (a later run replaces the open ones)
    pub status: String,
    /// The purchase request or production order made from it.
    pub document_id: Option<Uuid>,
}

fn suggestion_view(s: Suggestion) -> SuggestionView {
    SuggestionView {
        id: s.id,
        run_id: s.run_id,
        kind: s.kind,
        item_id: s.item_id,
        warehouse_id: s.warehouse_id,
        quantity: q4(s.quantity),
        due_date: s.due_date,
        start_date: s.start_date,
        late: s.late,
        level: s.level,
        supplier_id: s.supplier_id,
        bom_id: s.bom_id,
        pegging: s.pegging,
        status: s.status,
        document_id: s.document_id,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SuggestionQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub run_id: Option<Uuid>,
    /// open | accepted
    pub status: Option<String>,
    /// purchase | production
    pub kind: Option<String>,
    pub item_id: Option<Uuid>,
}

/// MRP suggestions in the order the run made them (level by level).
#[utoipa::path(tag = "production", operation_id = "list_mrp_suggestions", params(SuggestionQuery),
    responses((status = 200, body = ListResponse<SuggestionView>)))]
#[get("/mrp-suggestions")]
pub async fn list_mrp_suggestions(
    app: web::Data<AppState>,
    auth: Authorized<ProductionRead>,
    query: web::Query<SuggestionQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = SuggestionFilter { run_id: q.run_id, status: q.status, kind: q.kind, item_id: q.item_id };
    let rows = mrp::list_suggestions(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |s| s.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(suggestion_view).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// The open suggestions to accept (at most 1000).
    pub ids: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptedView {
    pub suggestion_id: Uuid,
    /// purchase_request | production_order
    pub document_type: String,
    pub document_id: Uuid,
    pub number: String,
}

/// Accept open suggestions in one go: purchase suggestions become submitted purchase requests,
/// production suggestions planned production orders. All or nothing.
#[utoipa::path(tag = "production", operation_id = "accept_mrp_suggestions", request_body = AcceptRequest,
    responses((status = 200, body = ListResponse<AcceptedView>), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/mrp-suggestions/accept")]
pub async fn accept_mrp_suggestions(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    body: ApiJson<AcceptRequest>,
) -> Result<HttpResponse, AppError> {
    let done = mrp::accept(&app, &auth.ctx(), &body.0.ids).await?;
    let data: Vec<AcceptedView> = done
        .into_iter()
        .map(|(s, kind, doc, number)| AcceptedView {
            suggestion_id: s,
            document_type: kind.into(),
            document_id: doc,
            number,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ListResponse { data, next_cursor: None }))
}

/// Accept one open suggestion.
#[utoipa::path(tag = "production", operation_id = "accept_mrp_suggestion",
    responses((status = 200, body = AcceptedView), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/mrp-suggestions/{id}/accept")]
pub async fn accept_mrp_suggestion(
    app: web::Data<AppState>,
    auth: Authorized<ProductionWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let mut done = mrp::accept(&app, &auth.ctx(), &[*id]).await?;
    let (s, kind, doc, number) = done.pop().ok_or_else(|| AppError::internal("nothing accepted"))?;
    Ok(HttpResponse::Ok().json(AcceptedView { suggestion_id: s, document_type: kind.into(), document_id: doc, number }))
}
