//! Inventory: warehouses and bins, items (with CSV import), batches, stock documents,
//! reservations, stock levels, the stock ledger and the stock reports.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    ApiJson, Authorized, IfMatch, InventoryApprove, InventoryRead, InventoryWrite, etag, page, paginate,
};
use super::ledger::{amount, double_option};
use super::problem::Problem;
use super::views::{ListResponse, csv_field, csv_response, wants_csv};
use crate::app::{AppState, inventory as app};
use crate::domain::decimal::{Money, Quantity, Rate};
use crate::error::AppError;
use crate::store::retrying;
use crate::store::stock::{
    Batch, Bin, DocumentFilter, HistoryFilter, Item, ItemFilter, LedgerEntry, Reservation, ReservationFilter,
    StockDocument, StockLine, StockSettings, Warehouse,
};

fn q(d: Decimal) -> String {
    format!("{:.4}", d)
}

// ================================================================ warehouses and bins

#[derive(Serialize, ToSchema)]
pub struct WarehouseView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub address: Option<String>,
    /// Whether stock here may go below zero (off by default).
    pub allow_negative: bool,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Warehouse> for WarehouseView {
    fn from(w: Warehouse) -> Self {
        Self {
            id: w.id,
            code: w.code,
            name: w.name,
            address: w.address,
            allow_negative: w.allow_negative,
            is_active: w.is_active,
            version: w.version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

fn warehouse_response(status: StatusCode, w: Warehouse) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/warehouses/{}", w.id)))
        .insert_header(etag(w.version))
        .json(WarehouseView::from(w))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseRequest {
    #[schema(example = "WH-MAIN")]
    pub code: Option<String>,
    #[schema(example = "Main warehouse")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    pub allow_negative: Option<bool>,
    pub is_active: Option<bool>,
}

impl From<WarehouseRequest> for app::WarehouseInput {
    fn from(b: WarehouseRequest) -> Self {
        Self {
            code: b.code,
            name: b.name,
            address: b.address,
            allow_negative: b.allow_negative,
            is_active: b.is_active,
        }
    }
}

/// Warehouses.
#[utoipa::path(tag = "inventory", operation_id = "list_warehouses", responses((status = 200, body = Vec<WarehouseView>)))]
#[get("/warehouses")]
pub async fn list_warehouses(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
) -> Result<HttpResponse, AppError> {
    let list = app::list_warehouses(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(WarehouseView::from).collect::<Vec<_>>()))
}

/// Add a warehouse.
#[utoipa::path(tag = "inventory", operation_id = "create_warehouse", request_body = WarehouseRequest,
    responses((status = 201, body = WarehouseView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/warehouses")]
pub async fn create_warehouse(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    body: ApiJson<WarehouseRequest>,
) -> Result<HttpResponse, AppError> {
    let w = app::create_warehouse(&app, &auth.ctx(), body.0.into()).await?;
    Ok(warehouse_response(StatusCode::CREATED, w))
}

#[utoipa::path(tag = "inventory", operation_id = "get_warehouse", responses((status = 200, body = WarehouseView), (status = 404, body = Problem)))]
#[get("/warehouses/{id}")]
pub async fn get_warehouse(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(warehouse_response(StatusCode::OK, app::get_warehouse(&app, auth.tenant_id(), *id).await?))
}

/// Change a warehouse (If-Match required). Refusing negative stock is refused while items are
/// below zero there.
#[utoipa::path(tag = "inventory", operation_id = "update_warehouse", request_body = WarehouseRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = WarehouseView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[patch("/warehouses/{id}")]
pub async fn update_warehouse(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<WarehouseRequest>,
) -> Result<HttpResponse, AppError> {
    let w = app::update_warehouse(&app, &auth.ctx(), *id, if_match.0, body.0.into()).await?;
    Ok(warehouse_response(StatusCode::OK, w))
}

/// Delete a warehouse nothing refers to (its bins go with it); otherwise 409.
#[utoipa::path(tag = "inventory", operation_id = "delete_warehouse", responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/warehouses/{id}")]
pub async fn delete_warehouse(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_warehouse(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct BinView {
    pub id: Uuid,
    pub warehouse_id: Uuid,
    pub code: String,
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Bin> for BinView {
    fn from(b: Bin) -> Self {
        Self {
            id: b.id,
            warehouse_id: b.warehouse_id,
            code: b.code,
            name: b.name,
            is_active: b.is_active,
            created_at: b.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BinRequest {
    #[schema(example = "A-01-03")]
    pub code: String,
    pub name: Option<String>,
}

/// The bins (locations) of a warehouse.
#[utoipa::path(tag = "inventory", operation_id = "list_bins", responses((status = 200, body = Vec<BinView>), (status = 404, body = Problem)))]
#[get("/warehouses/{id}/bins")]
pub async fn list_bins(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let list = app::list_bins(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(BinView::from).collect::<Vec<_>>()))
}

/// Add a bin to a warehouse.
#[utoipa::path(tag = "inventory", operation_id = "create_bin", request_body = BinRequest,
    responses((status = 201, body = BinView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/warehouses/{id}/bins")]
pub async fn create_bin(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<BinRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let bin = app::create_bin(&app, &auth.ctx(), *id, b.code, b.name).await?;
    Ok(HttpResponse::Created().json(BinView::from(bin)))
}

// ================================================================ items

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitConversion {
    #[schema(example = "box")]
    pub unit: String,
    /// Base units in one of this unit: 12 for a box of 12, 0.001 for grams of an item kept in kg.
    #[schema(value_type = String, example = "12")]
    pub factor: Rate,
}

#[derive(Serialize, ToSchema)]
pub struct ItemView {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    /// stocked, service, manufactured, purchased, or both (manufactured and purchased).
    pub item_type: String,
    pub category: Option<String>,
    pub base_unit: String,
    pub units: Vec<UnitConversion>,
    pub barcode: Option<String>,
    pub batch_tracked: bool,
    pub shelf_life_days: Option<i32>,
    pub safety_stock: String,
    pub reorder_point: String,
    pub reorder_quantity: String,
    pub max_stock: Option<String>,
    pub default_warehouse_id: Option<Uuid>,
    pub standard_cost: String,
    /// moving_average or fifo.
    pub valuation_method: String,
    pub purchase_unit: Option<String>,
    pub sales_unit: Option<String>,
    /// Weight of one base unit, for landed costs shared by weight.
    pub weight: Option<String>,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Item> for ItemView {
    fn from(i: Item) -> Self {
        Self {
            id: i.id,
            sku: i.sku,
            name: i.name,
            item_type: i.item_type,
            category: i.category,
            base_unit: i.base_unit,
            units: i
                .units
                .into_iter()
                .filter_map(|(unit, f)| Rate::parse(&f.to_string()).ok().map(|factor| UnitConversion { unit, factor }))
                .collect(),
            barcode: i.barcode,
            batch_tracked: i.batch_tracked,
            shelf_life_days: i.shelf_life_days,
            safety_stock: q(i.safety_stock),
            reorder_point: q(i.reorder_point),
            reorder_quantity: q(i.reorder_quantity),
            max_stock: i.max_stock.map(q),
            default_warehouse_id: i.default_warehouse_id,
            standard_cost: format!("{:.4}", i.standard_cost),
            valuation_method: i.valuation_method.as_str().to_owned(),
            purchase_unit: i.purchase_unit,
            sales_unit: i.sales_unit,
            weight: i.weight.map(q),
            is_active: i.is_active,
            version: i.version,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

fn item_response(status: StatusCode, i: Item) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/items/{}", i.id)))
        .insert_header(etag(i.version))
        .json(ItemView::from(i))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    #[schema(example = "SKU-100")]
    pub sku: Option<String>,
    pub name: Option<String>,
    pub item_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    #[schema(example = "pcs")]
    pub base_unit: Option<String>,
    pub units: Option<Vec<UnitConversion>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub barcode: Option<Option<String>>,
    pub batch_tracked: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub shelf_life_days: Option<Option<i32>>,
    #[schema(value_type = Option<String>)]
    pub safety_stock: Option<Quantity>,
    #[schema(value_type = Option<String>)]
    pub reorder_point: Option<Quantity>,
    #[schema(value_type = Option<String>)]
    pub reorder_quantity: Option<Quantity>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub max_stock: Option<Option<Quantity>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub default_warehouse_id: Option<Option<Uuid>>,
    #[schema(value_type = Option<String>)]
    pub standard_cost: Option<Money>,
    pub valuation_method: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub purchase_unit: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sales_unit: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub weight: Option<Option<Quantity>>,
    pub is_active: Option<bool>,
}

impl From<ItemRequest> for app::ItemInput {
    fn from(b: ItemRequest) -> Self {
        Self {
            sku: b.sku,
            name: b.name,
            item_type: b.item_type,
            category: b.category,
            base_unit: b.base_unit,
            units: b.units.map(|u| u.into_iter().map(|c| (c.unit, c.factor.value())).collect()),
            barcode: b.barcode,
            batch_tracked: b.batch_tracked,
            shelf_life_days: b.shelf_life_days,
            safety_stock: b.safety_stock.map(Quantity::value),
            reorder_point: b.reorder_point.map(Quantity::value),
            reorder_quantity: b.reorder_quantity.map(Quantity::value),
            max_stock: b.max_stock.map(|m| m.map(Quantity::value)),
            default_warehouse_id: b.default_warehouse_id,
            standard_cost: b.standard_cost.map(Money::value),
            valuation_method: b.valuation_method,
            purchase_unit: b.purchase_unit,
            sales_unit: b.sales_unit,
            weight: b.weight.map(|w| w.map(Quantity::value)),
            is_active: b.is_active,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Searches SKU and name.
    pub q: Option<String>,
    pub category: Option<String>,
    pub item_type: Option<String>,
    pub is_active: Option<bool>,
    pub barcode: Option<String>,
}

/// Items.
#[utoipa::path(tag = "inventory", operation_id = "list_items", params(ItemQuery), responses((status = 200, body = ListResponse<ItemView>)))]
#[get("/items")]
pub async fn list_items(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<ItemQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = page(query.limit, query.cursor.as_deref())?;
    let f = ItemFilter {
        q: query.q,
        category: query.category,
        item_type: query.item_type,
        active: query.is_active,
        barcode: query.barcode,
    };
    let rows = app::list_items(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |i| i.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(ItemView::from).collect(), next_cursor }))
}

/// Add an item.
#[utoipa::path(tag = "inventory", operation_id = "create_item", request_body = ItemRequest,
    responses((status = 201, body = ItemView), (status = 422, body = Problem)))]
#[post("/items")]
pub async fn create_item(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    body: ApiJson<ItemRequest>,
) -> Result<HttpResponse, AppError> {
    let i = app::create_item(&app, &auth.ctx(), body.0.into()).await?;
    Ok(item_response(StatusCode::CREATED, i))
}

#[utoipa::path(tag = "inventory", operation_id = "get_item", responses((status = 200, body = ItemView), (status = 404, body = Problem)))]
#[get("/items/{id}")]
pub async fn get_item(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(item_response(StatusCode::OK, app::get_item(&app, auth.tenant_id(), *id).await?))
}

/// Change an item (If-Match required). Valuation method, base unit, batch tracking and
/// existing unit conversions are fixed once the item has moved.
#[utoipa::path(tag = "inventory", operation_id = "update_item", request_body = ItemRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = ItemView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/items/{id}")]
pub async fn update_item(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ItemRequest>,
) -> Result<HttpResponse, AppError> {
    let i = app::update_item(&app, &auth.ctx(), *id, if_match.0, body.0.into()).await?;
    Ok(item_response(StatusCode::OK, i))
}

/// Delete an item nothing refers to (no stock, documents, batches, invoices); otherwise 409.
#[utoipa::path(tag = "inventory", operation_id = "delete_item", responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[delete("/items/{id}")]
pub async fn delete_item(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_item(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct BatchView {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_number: String,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    /// Over all warehouses.
    pub on_hand: String,
    pub created_at: DateTime<Utc>,
}

fn batch_view(b: Batch, on_hand: Decimal) -> BatchView {
    BatchView {
        id: b.id,
        item_id: b.item_id,
        lot_number: b.lot_number,
        production_date: b.production_date,
        expiry_date: b.expiry_date,
        on_hand: q(on_hand),
        created_at: b.created_at,
    }
}

/// The batches (lots) of an item with what is on hand of each.
#[utoipa::path(tag = "inventory", operation_id = "list_item_batches", responses((status = 200, body = Vec<BatchView>), (status = 404, body = Problem)))]
#[get("/items/{id}/batches")]
pub async fn list_item_batches(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let list = app::batches(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(|(b, q)| batch_view(b, q)).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemImportRequest {
    /// CSV with a header row. Columns: sku, name, item_type, category, base_unit, units
    /// (`box=12; g=0.001`), barcode, batch_tracked, shelf_life_days, safety_stock,
    /// reorder_point, reorder_quantity, max_stock, default_warehouse (code), standard_cost,
    /// valuation_method, purchase_unit, sales_unit, weight, opening_quantity,
    /// opening_unit_cost, opening_warehouse (code), lot_number, expiry_date.
    pub csv: String,
    /// The date of the opening receipt; required when rows carry an opening quantity.
    pub opening_date: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemImportView {
    pub items_created: usize,
    pub items_updated: usize,
    /// The opening goods receipt posted for the rows' opening quantities, if any.
    pub opening_receipt_id: Option<Uuid>,
    pub opening_receipt_number: Option<String>,
}

/// Import items and opening stock from CSV: new SKUs are created, known ones updated. All or
/// nothing: any bad cell fails the import with every problem named (`csv[row 7].base_unit`).
#[utoipa::path(tag = "inventory", operation_id = "import_items", request_body = ItemImportRequest,
    responses((status = 200, body = ItemImportView), (status = 422, body = Problem)))]
#[post("/items/import")]
pub async fn import_items(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    body: ApiJson<ItemImportRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = app::import_items(&app, &auth.ctx(), &b.csv, b.opening_date).await?;
    Ok(HttpResponse::Ok().json(ItemImportView {
        items_created: r.items_created,
        items_updated: r.items_updated,
        opening_receipt_id: r.opening_receipt.as_ref().map(|d| d.id),
        opening_receipt_number: r.opening_receipt.and_then(|d| d.number),
    }))
}

// ================================================================ settings

#[derive(Serialize, ToSchema)]
pub struct StockSettingsView {
    /// Nothing dated on or before it may move stock.
    pub closing_date: Option<NaiveDate>,
    pub version: i64,
}

impl From<StockSettings> for StockSettingsView {
    fn from(s: StockSettings) -> Self {
        Self { closing_date: s.closing_date, version: s.version }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockSettingsRequest {
    /// null reopens every date.
    pub closing_date: Option<NaiveDate>,
}

#[utoipa::path(tag = "inventory", operation_id = "get_stock_settings", responses((status = 200, body = StockSettingsView)))]
#[get("/stock-settings")]
pub async fn get_stock_settings(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
) -> Result<HttpResponse, AppError> {
    let s = app::settings(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().insert_header(etag(s.version)).json(StockSettingsView::from(s)))
}

/// Set the stock closing date (inventory:approve, If-Match required; `"0"` before the first save).
#[utoipa::path(tag = "inventory", operation_id = "set_stock_settings", request_body = StockSettingsRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = StockSettingsView), (status = 412, body = Problem)))]
#[put("/stock-settings")]
pub async fn set_stock_settings(
    app: web::Data<AppState>,
    auth: Authorized<InventoryApprove>,
    if_match: IfMatch,
    body: ApiJson<StockSettingsRequest>,
) -> Result<HttpResponse, AppError> {
    let s = app::set_closing_date(&app, &auth.ctx(), if_match.0, body.0.closing_date).await?;
    Ok(HttpResponse::Ok().insert_header(etag(s.version)).json(StockSettingsView::from(s)))
}

// ================================================================ documents

#[derive(Serialize, ToSchema)]
pub struct StockLineView {
    pub line_no: i32,
    pub item_id: Uuid,
    /// The unit the quantity was entered in, and that quantity.
    pub unit: String,
    pub unit_quantity: String,
    /// In the item's base unit.
    pub quantity: String,
    /// Receipts: cost per entered unit.
    pub unit_cost: Option<String>,
    pub batch_id: Option<Uuid>,
    pub lot_number: Option<String>,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub bin_id: Option<Uuid>,
    pub to_bin_id: Option<Uuid>,
    /// Stocktake: book quantity when the sheet was frozen, and the count.
    pub book_quantity: Option<String>,
    pub counted_quantity: Option<String>,
    /// Stocktake: counted less book.
    pub difference: Option<String>,
    /// Landed cost: the receipt entry it lands on and its share.
    pub target_entry_id: Option<Uuid>,
    pub amount: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StockDocumentView {
    pub id: Uuid,
    /// receipt, issue, transfer, stocktake or landed_cost.
    pub kind: String,
    pub number: Option<String>,
    /// draft, counting (stocktake), in_transit (transfer), posted.
    pub status: String,
    pub date: NaiveDate,
    pub warehouse_id: Option<Uuid>,
    pub to_warehouse_id: Option<Uuid>,
    pub purpose: Option<String>,
    pub reason: Option<String>,
    pub memo: String,
    pub basis: Option<String>,
    pub counter_account_id: Option<Uuid>,
    pub shipped_date: Option<NaiveDate>,
    pub received_date: Option<NaiveDate>,
    pub frozen_at: Option<DateTime<Utc>>,
    pub journal_entry_id: Option<Uuid>,
    pub posted_at: Option<DateTime<Utc>>,
    pub lines: Vec<StockLineView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn document_view(d: StockDocument, lines: Vec<StockLine>, currency: &str) -> StockDocumentView {
    StockDocumentView {
        id: d.id,
        kind: d.kind,
        number: d.number,
        status: d.status,
        date: d.doc_date,
        warehouse_id: d.warehouse_id,
        to_warehouse_id: d.to_warehouse_id,
        purpose: d.purpose,
        reason: d.reason,
        memo: d.memo,
        basis: d.basis,
        counter_account_id: d.counter_account_id,
        shipped_date: d.shipped_date,
        received_date: d.received_date,
        frozen_at: d.frozen_at,
        journal_entry_id: d.journal_entry_id,
        posted_at: d.posted_at,
        lines: lines
            .into_iter()
            .map(|l| StockLineView {
                line_no: l.line_no,
                item_id: l.item_id,
                unit: l.unit,
                unit_quantity: q(l.unit_quantity),
                quantity: q(l.quantity),
                unit_cost: l.unit_cost.map(|c| format!("{c:.4}")),
                batch_id: l.batch_id,
                lot_number: l.lot_number,
                production_date: l.production_date,
                expiry_date: l.expiry_date,
                bin_id: l.bin_id,
                to_bin_id: l.to_bin_id,
                difference: match (l.counted_quantity, l.book_quantity) {
                    (Some(c), Some(b)) => Some(q(c - b)),
                    _ => None,
                },
                book_quantity: l.book_quantity.map(q),
                counted_quantity: l.counted_quantity.map(q),
                target_entry_id: l.target_entry_id,
                amount: l.amount.map(|a| amount(a, currency)),
            })
            .collect(),
        version: d.version,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

fn document_response(status: StatusCode, (d, lines): (StockDocument, Vec<StockLine>), currency: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/stock-documents/{}", d.id)))
        .insert_header(etag(d.version))
        .json(document_view(d, lines, currency))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockLineRequest {
    /// The item, by id or by SKU.
    pub item_id: Option<Uuid>,
    pub sku: Option<String>,
    /// In `unit` (default: the item's base unit).
    #[schema(value_type = Option<String>, example = "12")]
    pub quantity: Option<Quantity>,
    #[schema(example = "box")]
    pub unit: Option<String>,
    /// Receipts: cost per `unit` (default: the item's standard cost).
    #[schema(value_type = Option<String>, example = "8.5000")]
    pub unit_cost: Option<Money>,
    /// Required on receipts of batch-tracked items; on issues and transfers it picks the lot
    /// (default: earliest expiry first).
    pub lot_number: Option<String>,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub bin_id: Option<Uuid>,
    /// Transfers: the bin in the receiving warehouse.
    pub to_bin_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockDocumentRequest {
    /// receipt, issue, transfer, stocktake or landed_cost (on create).
    pub kind: Option<String>,
    pub date: Option<NaiveDate>,
    pub warehouse_id: Option<Uuid>,
    /// Transfers: the receiving warehouse.
    pub to_warehouse_id: Option<Uuid>,
    /// Receipts: opening or miscellaneous.
    pub purpose: Option<String>,
    /// Issues: why the goods leave.
    pub reason: Option<String>,
    pub memo: Option<String>,
    /// The account against inventory (default by purpose: opening balance, stock gains,
    /// issue expense, landed-cost clearing).
    pub counter_account_id: Option<Uuid>,
    /// Landed costs: quantity, value or weight.
    pub basis: Option<String>,
    /// Landed costs: the charge to share out.
    #[schema(value_type = Option<String>, example = "300.00")]
    pub amount: Option<Money>,
    /// Landed costs: the posted receipts it belongs to.
    pub receipt_ids: Option<Vec<Uuid>>,
    /// Stocktakes: the items to count (default: every item with stock in the warehouse).
    pub lines: Option<Vec<StockLineRequest>>,
}

impl From<StockDocumentRequest> for app::DocumentInput {
    fn from(b: StockDocumentRequest) -> Self {
        Self {
            kind: b.kind,
            date: b.date,
            warehouse_id: b.warehouse_id,
            to_warehouse_id: b.to_warehouse_id,
            purpose: b.purpose,
            reason: b.reason,
            memo: b.memo,
            counter_account_id: b.counter_account_id,
            basis: b.basis,
            amount: b.amount.map(Money::value),
            receipt_ids: b.receipt_ids,
            lines: b.lines.map(|l| {
                l.into_iter()
                    .map(|l| app::LineInput {
                        item_id: l.item_id,
                        sku: l.sku,
                        quantity: l.quantity.map(Quantity::value),
                        unit: l.unit,
                        unit_cost: l.unit_cost.map(Money::value),
                        lot_number: l.lot_number,
                        production_date: l.production_date,
                        expiry_date: l.expiry_date,
                        bin_id: l.bin_id,
                        to_bin_id: l.to_bin_id,
                        source_row: None,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Stock documents, newest first.
#[utoipa::path(tag = "inventory", operation_id = "list_stock_documents", params(DocumentQuery),
    responses((status = 200, body = ListResponse<StockDocumentView>)))]
#[get("/stock-documents")]
pub async fn list_stock_documents(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<DocumentQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = page(query.limit, query.cursor.as_deref())?;
    let f = DocumentFilter {
        kind: query.kind,
        status: query.status,
        warehouse_id: query.warehouse_id,
        from: query.from,
        to: query.to,
    };
    let rows = app::list_documents(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |d| d.id);
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(ListResponse {
        data: rows.into_iter().map(|d| document_view(d, Vec::new(), &cur)).collect(),
        next_cursor,
    }))
}

/// Create a stock document as a draft. A stocktake is frozen at once: its count sheet holds
/// the book quantities of this moment.
#[utoipa::path(tag = "inventory", operation_id = "create_stock_document", request_body = StockDocumentRequest,
    responses((status = 201, body = StockDocumentView), (status = 422, body = Problem)))]
#[post("/stock-documents")]
pub async fn create_stock_document(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    body: ApiJson<StockDocumentRequest>,
) -> Result<HttpResponse, AppError> {
    let d = app::create_document(&app, &auth.ctx(), body.0.into()).await?;
    Ok(document_response(StatusCode::CREATED, d, &auth.tenant.base_currency))
}

#[utoipa::path(tag = "inventory", operation_id = "get_stock_document", responses((status = 200, body = StockDocumentView), (status = 404, body = Problem)))]
#[get("/stock-documents/{id}")]
pub async fn get_stock_document(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let d = app::get_document(&app, auth.tenant_id(), *id).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

/// Change a draft (If-Match required); lines, when given, replace all lines. A posted
/// document answers 409.
#[utoipa::path(tag = "inventory", operation_id = "update_stock_document", request_body = StockDocumentRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = StockDocumentView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/stock-documents/{id}")]
pub async fn update_stock_document(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<StockDocumentRequest>,
) -> Result<HttpResponse, AppError> {
    let d = app::update_document(&app, &auth.ctx(), *id, if_match.0, body.0.into()).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

/// Delete a draft (or a stocktake still counting).
#[utoipa::path(tag = "inventory", operation_id = "delete_stock_document", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/stock-documents/{id}")]
pub async fn delete_stock_document(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_document(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Post: receipts, issues and landed costs in full; a transfer shipped and received on its
/// date; a stocktake's differences as gains and losses dated when the sheet was frozen.
#[utoipa::path(tag = "inventory", operation_id = "post_stock_document",
    responses((status = 200, body = StockDocumentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/stock-documents/{id}/post")]
pub async fn post_stock_document(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    // Back-dated postings that revalue across transfers can meet in a deadlock; run them again.
    let d = retrying(|| app::post_document(&app, &ctx, *id)).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TransferStepRequest {
    /// Default: the document date (ship) or today (receive).
    pub date: Option<NaiveDate>,
}

/// Ship a draft transfer: the goods leave into transit.
#[utoipa::path(tag = "inventory", operation_id = "ship_transfer", request_body = TransferStepRequest,
    responses((status = 200, body = StockDocumentView), (status = 409, body = Problem)))]
#[post("/stock-documents/{id}/ship")]
pub async fn ship_transfer(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TransferStepRequest>,
) -> Result<HttpResponse, AppError> {
    let date = body.0.date;
    let ctx = auth.ctx();
    let d = retrying(|| app::ship_transfer(&app, &ctx, *id, date)).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

/// Receive a transfer in transit, at the value it left with.
#[utoipa::path(tag = "inventory", operation_id = "receive_transfer", request_body = TransferStepRequest,
    responses((status = 200, body = StockDocumentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/stock-documents/{id}/receive")]
pub async fn receive_transfer(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TransferStepRequest>,
) -> Result<HttpResponse, AppError> {
    let date = body.0.date;
    let ctx = auth.ctx();
    let d = retrying(|| app::receive_transfer(&app, &ctx, *id, date)).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountLine {
    pub item_id: Uuid,
    /// For batch-tracked items: which lot was counted.
    pub lot_number: Option<String>,
    #[schema(value_type = String, example = "9")]
    pub counted_quantity: Quantity,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountsRequest {
    pub lines: Vec<CountLine>,
}

/// Record counts on a stocktake sheet; an item not on the sheet is refused.
#[utoipa::path(tag = "inventory", operation_id = "record_stock_counts", request_body = CountsRequest,
    responses((status = 200, body = StockDocumentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/stock-documents/{id}/counts")]
pub async fn record_counts(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<CountsRequest>,
) -> Result<HttpResponse, AppError> {
    let counts = body.0.lines.into_iter().map(|c| (c.item_id, c.lot_number, c.counted_quantity.value())).collect();
    let d = app::record_counts(&app, &auth.ctx(), *id, counts).await?;
    Ok(document_response(StatusCode::OK, d, &auth.tenant.base_currency))
}

#[derive(Serialize, ToSchema)]
pub struct StockEntryView {
    pub id: Uuid,
    pub date: NaiveDate,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub bin_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
    /// receipt, issue, transfer_out, transfer_in, count_gain, count_loss, landed_cost,
    /// revaluation (of `adjusts_entry_id` after a back-dated movement), drain (value left when
    /// quantity reached zero).
    pub kind: String,
    /// Signed: positive in, negative out.
    pub quantity: String,
    /// Signed value in the base currency.
    pub value: String,
    pub counter_account_id: Uuid,
    pub document_id: Uuid,
    pub line_no: Option<i32>,
    pub adjusts_entry_id: Option<Uuid>,
    pub pair_entry_id: Option<Uuid>,
    pub journal_entry_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn entry_view(e: LedgerEntry, currency: &str) -> StockEntryView {
    StockEntryView {
        id: e.id,
        date: e.entry_date,
        item_id: e.item_id,
        warehouse_id: e.warehouse_id,
        bin_id: e.bin_id,
        batch_id: e.batch_id,
        kind: e.kind,
        quantity: q(e.quantity),
        value: amount(e.value, currency),
        counter_account_id: e.counter_account_id,
        document_id: e.document_id,
        line_no: e.line_no,
        adjusts_entry_id: e.adjusts_entry_id,
        pair_entry_id: e.pair_entry_id,
        journal_entry_id: e.journal_entry_id,
        created_at: e.created_at,
    }
}

/// The stock ledger entries a document made (and the revaluations it caused).
#[utoipa::path(tag = "inventory", operation_id = "list_stock_document_entries", responses((status = 200, body = Vec<StockEntryView>), (status = 404, body = Problem)))]
#[get("/stock-documents/{id}/entries")]
pub async fn document_entries(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let list = app::document_entries(&app, auth.tenant_id(), *id).await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(list.into_iter().map(|e| entry_view(e, &cur)).collect::<Vec<_>>()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    pub item_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

fn ledger_cursor(e: &LedgerEntry) -> String {
    let mut bytes = e.entry_date.to_string().into_bytes();
    bytes.extend_from_slice(e.id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_ledger_cursor(c: &str) -> Result<(NaiveDate, Uuid), AppError> {
    let bad = || AppError::field("cursor", "is not a cursor this server gave");
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    if bytes.len() != 26 {
        return Err(bad());
    }
    let date = std::str::from_utf8(&bytes[..10])
        .ok()
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .ok_or_else(bad)?;
    let id = Uuid::from_slice(&bytes[10..]).map_err(|_| bad())?;
    Ok((date, id))
}

/// Stock ledger history in date order (per item, warehouse, date range), paged.
#[utoipa::path(tag = "inventory", operation_id = "list_stock_ledger", params(LedgerQuery),
    responses((status = 200, body = ListResponse<StockEntryView>)))]
#[get("/stock-ledger")]
pub async fn stock_ledger(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let limit = page(query.limit, None)?.limit;
    let after = query.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_ledger_cursor).transpose()?;
    let f = HistoryFilter { item_id: query.item_id, warehouse_id: query.warehouse_id, from: query.from, to: query.to };
    let mut rows = app::ledger_history(&app, auth.tenant_id(), &f, after, limit + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(ledger_cursor)
    } else {
        None
    };
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|e| entry_view(e, &cur)).collect(), next_cursor }))
}

// ================================================================ reservations

#[derive(Serialize, ToSchema)]
pub struct ReservationView {
    pub id: Uuid,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: String,
    /// What is still reserved.
    pub open_quantity: String,
    /// The document that holds it (e.g. sales_order and its id).
    pub source_type: String,
    pub source_id: String,
    /// open, released or consumed.
    pub status: String,
    pub memo: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Reservation> for ReservationView {
    fn from(r: Reservation) -> Self {
        Self {
            id: r.id,
            item_id: r.item_id,
            warehouse_id: r.warehouse_id,
            quantity: q(r.quantity),
            open_quantity: q(r.open_quantity),
            source_type: r.source_type,
            source_id: r.source_id,
            status: r.status,
            memo: r.memo,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReservationRequest {
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    #[schema(value_type = String, example = "5")]
    pub quantity: Quantity,
    #[schema(example = "manual")]
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub memo: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReservationQuery {
    pub item_id: Option<Uuid>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[utoipa::path(tag = "inventory", operation_id = "list_stock_reservations", params(ReservationQuery),
    responses((status = 200, body = ListResponse<ReservationView>)))]
#[get("/stock-reservations")]
pub async fn list_reservations(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<ReservationQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let page = page(query.limit, query.cursor.as_deref())?;
    let f = ReservationFilter {
        item_id: query.item_id,
        source_type: query.source_type,
        source_id: query.source_id,
        status: query.status,
    };
    let rows = app::list_reservations(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |r| r.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(ReservationView::from).collect(), next_cursor }))
}

/// Reserve available stock (on hand less reserved). More than is available answers 409
/// insufficient-stock. Sales and production orders reserve through their own confirmation.
#[utoipa::path(tag = "inventory", operation_id = "create_stock_reservation", request_body = ReservationRequest,
    responses((status = 201, body = ReservationView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/stock-reservations")]
pub async fn create_reservation(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    body: ApiJson<ReservationRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = app::reserve(
        &app,
        &auth.ctx(),
        app::NewReservation {
            item_id: b.item_id,
            warehouse_id: b.warehouse_id,
            quantity: b.quantity.value(),
            source_type: b.source_type.unwrap_or_else(|| "manual".into()),
            source_id: b.source_id.unwrap_or_default(),
            memo: b.memo.unwrap_or_default(),
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/stock-reservations/{}", r.id)))
        .json(ReservationView::from(r)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Default: all that is still open.
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Quantity>,
}

/// Release a reservation (or part of it).
#[utoipa::path(tag = "inventory", operation_id = "release_stock_reservation", request_body = ReleaseRequest,
    responses((status = 200, body = ReservationView), (status = 409, body = Problem)))]
#[post("/stock-reservations/{id}/release")]
pub async fn release_reservation(
    app: web::Data<AppState>,
    auth: Authorized<InventoryWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReleaseRequest>,
) -> Result<HttpResponse, AppError> {
    let quantity = body.0.quantity.map(Quantity::value);
    let r = app::release(&app, &auth.ctx(), *id, quantity).await?;
    Ok(HttpResponse::Ok().json(ReservationView::from(r)))
}

// ================================================================ stock levels and reports

#[derive(Serialize, ToSchema)]
pub struct StockLevelView {
    pub item_id: Uuid,
    pub sku: String,
    pub item_name: String,
    pub base_unit: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub batch_id: Option<Uuid>,
    pub lot_number: Option<String>,
    pub expiry_date: Option<NaiveDate>,
    pub on_hand: String,
    /// Current reservations (also when `as_of` is given).
    pub reserved: String,
    pub available: String,
    /// Stock value (per item and warehouse; not per batch).
    pub value: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LevelQuery {
    pub item_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    /// On hand at the end of this day (from the stock ledger); default now.
    pub as_of: Option<NaiveDate>,
    /// One row per batch for batch-tracked items.
    pub by_batch: Option<bool>,
}

/// On hand, reserved and available by item, warehouse and (optionally) batch, now or as of a date.
#[utoipa::path(tag = "inventory", operation_id = "list_stock_levels", params(LevelQuery),
    responses((status = 200, body = Vec<StockLevelView>)))]
#[get("/stock-levels")]
pub async fn stock_levels(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<LevelQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let rows = app::stock_levels(
        &app,
        auth.tenant_id(),
        query.item_id,
        query.warehouse_id,
        query.as_of,
        query.by_batch.unwrap_or(false),
    )
    .await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|r| StockLevelView {
                item_id: r.item.id,
                sku: r.item.sku,
                item_name: r.item.name,
                base_unit: r.item.base_unit,
                warehouse_id: r.warehouse.id,
                warehouse_code: r.warehouse.code,
                batch_id: r.batch.as_ref().map(|b| b.id),
                lot_number: r.batch.as_ref().map(|b| b.lot_number.clone()),
                expiry_date: r.batch.as_ref().and_then(|b| b.expiry_date),
                on_hand: q(r.on_hand),
                reserved: q(r.reserved),
                available: q(r.on_hand - r.reserved),
                value: r.value.map(|v| amount(v, &cur)),
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ValuationRowView {
    pub item_id: Uuid,
    pub sku: String,
    pub item_name: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub valuation_method: String,
    pub quantity: String,
    pub average_cost: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct ValuationView {
    pub as_of: NaiveDate,
    pub currency: String,
    pub rows: Vec<ValuationRowView>,
    pub total_value: String,
    /// The inventory account's balance in the books on the same day; equals `total_value`.
    pub ledger_inventory: String,
    pub in_transit: String,
    pub ledger_in_transit: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    pub as_of: Option<NaiveDate>,
    /// csv for a spreadsheet.
    pub format: Option<String>,
}

/// Stock valuation (quantity, average cost, value per item and warehouse) beside the
/// inventory account in the books.
#[utoipa::path(tag = "inventory", operation_id = "stock_valuation", params(AsOfQuery),
    responses((status = 200, body = ValuationView)))]
#[get("/reports/stock-valuation")]
pub async fn stock_valuation(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let csv = wants_csv(query.format.as_deref())?;
    let as_of = query.as_of.unwrap_or_else(|| app.now().date_naive());
    let r = app::valuation(&app, auth.tenant_id(), as_of).await?;
    let cur = auth.tenant.base_currency.clone();
    let rows: Vec<ValuationRowView> = r
        .rows
        .into_iter()
        .map(|row| ValuationRowView {
            item_id: row.item.id,
            sku: row.item.sku,
            item_name: row.item.name,
            warehouse_id: row.warehouse.id,
            warehouse_code: row.warehouse.code,
            valuation_method: row.item.valuation_method.as_str().to_owned(),
            quantity: q(row.quantity),
            average_cost: if row.quantity.is_zero() {
                "0.0000".into()
            } else {
                format!("{:.4}", (row.value / row.quantity).round_dp(4))
            },
            value: amount(row.value, &cur),
        })
        .collect();
    if csv {
        let mut body = String::from("sku,item,warehouse,method,quantity,average_cost,value\n");
        for r in &rows {
            body.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                csv_field(&r.sku),
                csv_field(&r.item_name),
                csv_field(&r.warehouse_code),
                r.valuation_method,
                r.quantity,
                r.average_cost,
                r.value
            ));
        }
        return Ok(csv_response(&format!("stock-valuation-{as_of}.csv"), body));
    }
    Ok(HttpResponse::Ok().json(ValuationView {
        as_of,
        rows,
        total_value: amount(r.total_value, &cur),
        ledger_inventory: amount(r.ledger_inventory, &cur),
        in_transit: amount(r.in_transit, &cur),
        ledger_in_transit: amount(r.ledger_in_transit, &cur),
        currency: cur,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LowStockView {
    pub item_id: Uuid,
    pub sku: String,
    pub item_name: String,
    pub on_hand: String,
    pub reserved: String,
    pub available: String,
    pub safety_stock: String,
    pub reorder_point: String,
    /// Up to the maximum stock (or the reorder level), in multiples of the reorder quantity.
    pub suggested_order: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LowStockQuery {
    /// At most 1000; default 200.
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Items whose available quantity (all warehouses) is below their safety stock or reorder
/// point, in SKU order, with a suggested order quantity.
#[utoipa::path(tag = "inventory", operation_id = "low_stock", params(LowStockQuery),
    responses((status = 200, body = ListResponse<LowStockView>)))]
#[get("/reports/low-stock")]
pub async fn low_stock(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<LowStockQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(200);
    if limit == 0 || limit > 1000 {
        return Err(AppError::field("limit", "must be between 1 and 1000"));
    }
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AppError::field("cursor", "is not a cursor this server gave"))?,
        ),
        None => None,
    };
    let mut rows = app::low_stock(&app, auth.tenant_id(), after.as_deref(), limit + 1).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| URL_SAFE_NO_PAD.encode(r.row.sku.as_bytes()))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ListResponse {
        data: rows
            .into_iter()
            .map(|r| LowStockView {
                item_id: r.row.item_id,
                sku: r.row.sku,
                item_name: r.row.name,
                on_hand: q(r.row.on_hand),
                reserved: q(r.row.reserved),
                available: q(r.available),
                safety_stock: q(r.row.safety_stock),
                reorder_point: q(r.row.reorder_point),
                suggested_order: q(r.suggested),
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct OverstockView {
    pub item_id: Uuid,
    pub sku: String,
    pub item_name: String,
    pub on_hand: String,
    pub max_stock: Option<String>,
    pub value: String,
    pub last_movement: Option<NaiveDate>,
    pub days_without_movement: Option<i64>,
    /// On hand over the average daily issue of the window; null when nothing was issued.
    pub days_of_supply: Option<String>,
    pub over_max: bool,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OverstockQuery {
    pub as_of: Option<NaiveDate>,
    /// No movement for this many days makes an item slow-moving (default 90).
    pub idle_days: Option<i64>,
    /// Days of issues that days of supply averages over (default 90).
    pub window_days: Option<i64>,
}

/// Overstock and slow-moving items: above their maximum stock or without movement for
/// `idle_days`, with days of supply.
#[utoipa::path(tag = "inventory", operation_id = "overstock", params(OverstockQuery),
    responses((status = 200, body = Vec<OverstockView>)))]
#[get("/reports/overstock")]
pub async fn overstock(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<OverstockQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let idle = query.idle_days.unwrap_or(90);
    let window = query.window_days.unwrap_or(90);
    if !(1..=3650).contains(&idle) {
        return Err(AppError::field("idle_days", "must be between 1 and 3650"));
    }
    if !(1..=3650).contains(&window) {
        return Err(AppError::field("window_days", "must be between 1 and 3650"));
    }
    let as_of = query.as_of.unwrap_or_else(|| app.now().date_naive());
    let rows = app::overstock(&app, auth.tenant_id(), as_of, idle, window).await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|r| OverstockView {
                item_id: r.item.id,
                sku: r.item.sku,
                item_name: r.item.name,
                on_hand: q(r.on_hand),
                max_stock: r.item.max_stock.map(q),
                value: amount(r.value, &cur),
                last_movement: r.last_movement,
                days_without_movement: r.days_without_movement,
                days_of_supply: r.days_of_supply.map(|d| d.to_string()),
                over_max: r.over_max,
            })
            .collect::<Vec<_>>(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct ExpiringView {
    pub batch_id: Uuid,
    pub lot_number: String,
    pub item_id: Uuid,
    pub sku: String,
    pub warehouse_id: Uuid,
    pub warehouse_code: String,
    pub expiry_date: Option<NaiveDate>,
    pub days_left: Option<i64>,
    pub on_hand: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExpiringQuery {
    /// Batches expiring within this many days (default 30); already expired ones are listed too.
    pub days: Option<i64>,
    pub as_of: Option<NaiveDate>,
}

/// Batches with stock that expire within N days.
#[utoipa::path(tag = "inventory", operation_id = "expiring_batches", params(ExpiringQuery),
    responses((status = 200, body = Vec<ExpiringView>)))]
#[get("/reports/expiring-batches")]
pub async fn expiring_batches(
    app: web::Data<AppState>,
    auth: Authorized<InventoryRead>,
    query: web::Query<ExpiringQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let days = query.days.unwrap_or(30);
    if !(0..=3650).contains(&days) {
        return Err(AppError::field("days", "must be between 0 and 3650"));
    }
    let as_of = query.as_of.unwrap_or_else(|| app.now().date_naive());
    let rows = app::expiring(&app, auth.tenant_id(), as_of + chrono::Duration::days(days)).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|(b, item, wh, on_hand)| ExpiringView {
                batch_id: b.id,
                days_left: b.expiry_date.map(|d| (d - as_of).num_days()),
                lot_number: b.lot_number,
                item_id: item.id,
                sku: item.sku,
                warehouse_id: wh.id,
                warehouse_code: wh.code,
                expiry_date: b.expiry_date,
                on_hand: q(on_hand),
            })
            .collect::<Vec<_>>(),
    ))
}
