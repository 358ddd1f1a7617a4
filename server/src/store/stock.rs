//! Inventory rows: warehouses, bins, items with their unit conversions, batches, stock
//! documents, the append-only stock ledger, and the balances kept from it in the posting
//! transaction (levels per item and warehouse with the valuation state, batch levels, FIFO
//! layers), reservations and the stock closing date.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::entities::{
    batches, bins, item_units, items, stock_batch_levels, stock_document_lines, stock_documents, stock_layers,
    stock_ledger, stock_levels, stock_reservations, stock_settings, warehouses,
};
use super::scaled::{from_scaled, money_from_db, money_to_db, rate_from_db, rate_to_db, to_scaled};
use super::{Page, TenantTx, conflict_on_unique, date_str, is_unique_violation, parse_date};
use crate::domain::stock::{Layer, Method, Valuation};
use crate::error::{AppError, AppResult};

pub fn qty_to_db(q: Decimal) -> AppResult<i64> {
    to_scaled(q, 4)
}

pub fn qty_from_db(q: i64) -> Decimal {
    from_scaled(q, 4)
}

fn opt_date(s: Option<String>) -> AppResult<Option<NaiveDate>> {
    s.as_deref().map(parse_date).transpose()
}

/// Whether the query finds any row (it reads at most one).
async fn exists<E: EntityTrait>(tx: &TenantTx<'_>, q: sea_orm::Select<E>) -> AppResult<bool> {
    Ok(q.limit(1).one(tx.conn()).await?.is_some())
}

// ---------------------------------------------------------------- settings

#[derive(Clone, Debug, PartialEq)]
pub struct StockSettings {
    /// Nothing dated on or before it may move stock.
    pub closing_date: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn settings(tx: &TenantTx<'_>) -> AppResult<StockSettings> {
    let row = stock_settings::Entity::find()
        .filter(stock_settings::Column::TenantId.eq(tx.tenant().0))
        .one(tx.conn())
        .await?;
    Ok(match row {
        Some(m) => {
            StockSettings { closing_date: opt_date(m.closing_date)?, updated_at: m.updated_at, version: m.version }
        }
        None => StockSettings { closing_date: None, updated_at: DateTime::<Utc>::UNIX_EPOCH, version: 0 },
    })
}

/// Saves the settings if they are still at `s.version - 1` (0: never saved).
pub async fn save_settings(tx: &TenantTx<'_>, s: &StockSettings) -> AppResult<bool> {
    use stock_settings::Column as C;
    if s.version == 1 {
        let am = stock_settings::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            closing_date: Set(s.closing_date.map(date_str)),
            updated_at: Set(s.updated_at),
            version: Set(1),
        };
        let n = stock_settings::Entity::insert(am)
            .on_conflict(OnConflict::column(C::TenantId).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
        return Ok(n == 1);
    }
    let r = stock_settings::Entity::update_many()
        .col_expr(C::ClosingDate, Expr::value(s.closing_date.map(date_str)))
        .col_expr(C::UpdatedAt, Expr::value(s.updated_at))
        .col_expr(C::Version, Expr::value(s.version))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Version.eq(s.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

// ---------------------------------------------------------------- warehouses and bins

#[derive(Clone, Debug, PartialEq)]
pub struct Warehouse {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub address: Option<String>,
    pub allow_negative: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn warehouse_from(m: warehouses::Model) -> Warehouse {
    Warehouse {
        id: m.id,
        code: m.code,
        name: m.name,
        address: m.address,
        allow_negative: m.allow_negative,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

fn warehouse_am(tx: &TenantTx<'_>, w: &Warehouse) -> warehouses::ActiveModel {
    warehouses::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(w.id),
        code: Set(w.code.clone()),
        name: Set(w.name.clone()),
        address: Set(w.address.clone()),
        allow_negative: Set(w.allow_negative),
        is_active: Set(w.is_active),
        created_at: Set(w.created_at),
        updated_at: Set(w.updated_at),
        version: Set(w.version),
    }
}

pub async fn insert_warehouse(tx: &TenantTx<'_>, w: &Warehouse) -> AppResult<()> {
    let r = warehouses::Entity::insert(warehouse_am(tx, w)).exec_without_returning(tx.conn()).await;
    conflict_on_unique(r, || format!("a warehouse with code {} exists", w.code)).map(|_| ())
}

pub async fn save_warehouse(tx: &TenantTx<'_>, w: &Warehouse) -> AppResult<bool> {
    let mut am = warehouse_am(tx, w);
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = warehouses::Entity::update_many()
        .set(am)
        .filter(warehouses::Column::TenantId.eq(tx.tenant().0))
        .filter(warehouses::Column::Id.eq(w.id))
        .filter(warehouses::Column::Version.eq(w.version - 1))
        .exec(tx.conn())
        .await;
    Ok(conflict_on_unique(r, || format!("a warehouse with code {} exists", w.code))?.rows_affected == 1)
}

pub async fn get_warehouse(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Warehouse>> {
    Ok(warehouses::Entity::find()
        .filter(warehouses::Column::TenantId.eq(tx.tenant().0))
        .filter(warehouses::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(warehouse_from))
}

pub async fn list_warehouses(tx: &TenantTx<'_>) -> AppResult<Vec<Warehouse>> {
    Ok(warehouses::Entity::find()
        .filter(warehouses::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(warehouses::Column::Code)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(warehouse_from)
        .collect())
}

#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    pub id: Uuid,
    pub warehouse_id: Uuid,
    pub code: String,
    pub name: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

fn bin_from(m: bins::Model) -> Bin {
    Bin {
        id: m.id,
        warehouse_id: m.warehouse_id,
        code: m.code,
        name: m.name,
        is_active: m.is_active,
        created_at: m.created_at,
    }
}

pub async fn insert_bin(tx: &TenantTx<'_>, b: &Bin) -> AppResult<()> {
    let am = bins::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(b.id),
        warehouse_id: Set(b.warehouse_id),
        code: Set(b.code.clone()),
        name: Set(b.name.clone()),
        is_active: Set(b.is_active),
        created_at: Set(b.created_at),
    };
    let r = bins::Entity::insert(am).exec_without_returning(tx.conn()).await;
    conflict_on_unique(r, || format!("the warehouse already has a bin {}", b.code)).map(|_| ())
}

pub async fn bins_of(tx: &TenantTx<'_>, warehouse: Option<Uuid>) -> AppResult<Vec<Bin>> {
    let mut q = bins::Entity::find().filter(bins::Column::TenantId.eq(tx.tenant().0));
    if let Some(w) = warehouse {
        q = q.filter(bins::Column::WarehouseId.eq(w));
    }
    Ok(q.order_by_asc(bins::Column::Code).all(tx.conn()).await?.into_iter().map(bin_from).collect())
}

pub async fn get_bins(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Bin>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(bins::Entity::find()
        .filter(bins::Column::TenantId.eq(tx.tenant().0))
        .filter(bins::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.id, bin_from(m)))
        .collect())
}

// ---------------------------------------------------------------- items

#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub item_type: String,
    pub category: Option<String>,
    pub base_unit: String,
    /// Other units and how many base units one of them is (box = 12, g = 0.001).
    pub units: Vec<(String, Decimal)>,
    pub barcode: Option<String>,
    pub batch_tracked: bool,
    pub shelf_life_days: Option<i32>,
    pub safety_stock: Decimal,
    pub reorder_point: Decimal,
    pub reorder_quantity: Decimal,
    pub max_stock: Option<Decimal>,
    pub default_warehouse_id: Option<Uuid>,
    pub standard_cost: Decimal,
    pub valuation_method: Method,
    pub purchase_unit: Option<String>,
    pub sales_unit: Option<String>,
    /// Weight of one base unit (kg), for landed costs shared by weight.
    pub weight: Option<Decimal>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Item {
    /// Base units in one `unit`, if the item knows it.
    pub fn factor(&self, unit: &str) -> Option<Decimal> {
        if unit == self.base_unit {
            return Some(Decimal::ONE);
        }
        self.units.iter().find(|(u, _)| u == unit).map(|(_, f)| *f)
    }
}

fn item_from(m: items::Model, units: Vec<(String, Decimal)>) -> AppResult<Item> {
    Ok(Item {
        id: m.id,
        sku: m.sku,
        name: m.name,
        item_type: m.item_type,
        category: m.category,
        base_unit: m.base_unit,
        units,
        barcode: m.barcode,
        batch_tracked: m.batch_tracked,
        shelf_life_days: m.shelf_life_days,
        safety_stock: qty_from_db(m.safety_stock),
        reorder_point: qty_from_db(m.reorder_point),
        reorder_quantity: qty_from_db(m.reorder_quantity),
        max_stock: m.max_stock.map(qty_from_db),
        default_warehouse_id: m.default_warehouse_id,
        standard_cost: money_from_db(m.standard_cost),
        valuation_method: Method::parse(&m.valuation_method)
            .ok_or_else(|| AppError::internal(format!("stored valuation method {}", m.valuation_method)))?,
        purchase_unit: m.purchase_unit,
        sales_unit: m.sales_unit,
        weight: m.weight.map(qty_from_db),
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn item_am(tx: &TenantTx<'_>, i: &Item) -> AppResult<items::ActiveModel> {
    Ok(items::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(i.id),
        sku: Set(i.sku.clone()),
        name: Set(i.name.clone()),
        item_type: Set(i.item_type.clone()),
        category: Set(i.category.clone()),
        base_unit: Set(i.base_unit.clone()),
        barcode: Set(i.barcode.clone()),
        batch_tracked: Set(i.batch_tracked),
        shelf_life_days: Set(i.shelf_life_days),
        safety_stock: Set(qty_to_db(i.safety_stock)?),
        reorder_point: Set(qty_to_db(i.reorder_point)?),
        reorder_quantity: Set(qty_to_db(i.reorder_quantity)?),
        max_stock: Set(i.max_stock.map(qty_to_db).transpose()?),
        default_warehouse_id: Set(i.default_warehouse_id),
        standard_cost: Set(money_to_db(i.standard_cost)?),
        valuation_method: Set(i.valuation_method.as_str().to_owned()),
        purchase_unit: Set(i.purchase_unit.clone()),
        sales_unit: Set(i.sales_unit.clone()),
        weight: Set(i.weight.map(qty_to_db).transpose()?),
        is_active: Set(i.is_active),
        created_at: Set(i.created_at),
        updated_at: Set(i.updated_at),
        version: Set(i.version),
    })
}

fn item_conflict(e: &sea_orm::DbErr, i: &Item) -> Option<AppError> {
    if !is_unique_violation(e) {
        return None;
    }
    let text = e.to_string();
    Some(AppError::Validation(vec![if text.contains("barcode") {
        crate::error::FieldError::new(
            "barcode",
            format!("{} is another item's barcode", i.barcode.as_deref().unwrap_or("")),
        )
    } else {
        crate::error::FieldError::new("sku", format!("an item with SKU {} exists", i.sku))
    }]))
}

async fn insert_units(tx: &TenantTx<'_>, i: &Item) -> AppResult<()> {
    for (unit, factor) in &i.units {
        let am = item_units::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            item_id: Set(i.id),
            unit: Set(unit.clone()),
            factor: Set(rate_to_db(*factor)?),
        };
        item_units::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert_item(tx: &TenantTx<'_>, i: &Item) -> AppResult<()> {
    if let Err(e) = items::Entity::insert(item_am(tx, i)?).exec_without_returning(tx.conn()).await {
        return Err(item_conflict(&e, i).unwrap_or_else(|| e.into()));
    }
    insert_units(tx, i).await
}

pub async fn save_item(tx: &TenantTx<'_>, i: &Item) -> AppResult<bool> {
    let mut am = item_am(tx, i)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = items::Entity::update_many()
        .set(am)
        .filter(items::Column::TenantId.eq(tx.tenant().0))
        .filter(items::Column::Id.eq(i.id))
        .filter(items::Column::Version.eq(i.version - 1))
        .exec(tx.conn())
        .await;
    let r = match r {
        Ok(r) => r,
        Err(e) => return Err(item_conflict(&e, i).unwrap_or_else(|| e.into())),
    };
    if r.rows_affected != 1 {
        return Ok(false);
    }
    item_units::Entity::delete_many()
        .filter(item_units::Column::TenantId.eq(tx.tenant().0))
        .filter(item_units::Column::ItemId.eq(i.id))
        .exec(tx.conn())
        .await?;
    insert_units(tx, i).await?;
    Ok(true)
}

async fn with_units(tx: &TenantTx<'_>, rows: Vec<items::Model>) -> AppResult<Vec<Item>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut units: HashMap<Uuid, Vec<(String, Decimal)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for u in item_units::Entity::find()
            .filter(item_units::Column::TenantId.eq(tx.tenant().0))
            .filter(item_units::Column::ItemId.is_in(chunk.iter().copied()))
            .order_by_asc(item_units::Column::Unit)
            .all(tx.conn())
            .await?
        {
            units.entry(u.item_id).or_default().push((u.unit, rate_from_db(u.factor)));
        }
    }
    rows.into_iter()
        .map(|m| {
            let u = units.remove(&m.id).unwrap_or_default();
            item_from(m, u)
        })
        .collect()
}

pub async fn get_item(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Item>> {
    let rows = items::Entity::find()
        .filter(items::Column::TenantId.eq(tx.tenant().0))
        .filter(items::Column::Id.eq(id))
        .all(tx.conn())
        .await?;
    Ok(with_units(tx, rows).await?.pop())
}

/// Items and warehouses a posting relies on, read under `FOR SHARE` (PostgreSQL): a change of
/// an item's method or a warehouse's negative-stock flag waits for the posting, and the posting
/// waits for such a change, so neither decides on what the other is about to change. Returns
/// what it read, keyed by id.
pub async fn share_lock_master_data(
    tx: &TenantTx<'_>,
    items: &[Uuid],
    warehouses: &[Uuid],
) -> AppResult<(HashMap<Uuid, Item>, HashMap<Uuid, Warehouse>)> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    let mut locked_items = HashMap::new();
    for chunk in items.chunks(500) {
        let rows = items::Entity::find()
            .filter(items::Column::TenantId.eq(tx.tenant().0))
            .filter(items::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(items::Column::Id)
            .lock_shared()
            .all(tx.conn())
            .await?;
        locked_items.extend(with_units(tx, rows).await?.into_iter().map(|i| (i.id, i)));
    }
    let mut whs = warehouses.to_vec();
    whs.sort();
    whs.dedup();
    let locked_whs = warehouses::Entity::find()
        .filter(warehouses::Column::TenantId.eq(tx.tenant().0))
        .filter(warehouses::Column::Id.is_in(whs))
        .order_by_asc(warehouses::Column::Id)
        .lock_shared()
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| {
            let w = warehouse_from(m);
            (w.id, w)
        })
        .collect();
    Ok((locked_items, locked_whs))
}

pub async fn get_items(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Item>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = items::Entity::find()
            .filter(items::Column::TenantId.eq(tx.tenant().0))
            .filter(items::Column::Id.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?;
        out.extend(with_units(tx, rows).await?.into_iter().map(|i| (i.id, i)));
    }
    Ok(out)
}

pub async fn items_by_sku(tx: &TenantTx<'_>, skus: &[String]) -> AppResult<HashMap<String, Item>> {
    let mut out = HashMap::new();
    for chunk in skus.chunks(500) {
        let rows = items::Entity::find()
            .filter(items::Column::TenantId.eq(tx.tenant().0))
            .filter(items::Column::Sku.is_in(chunk.iter().cloned()))
            .all(tx.conn())
            .await?;
        out.extend(with_units(tx, rows).await?.into_iter().map(|i| (i.sku.clone(), i)));
    }
    Ok(out)
}

#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub item_type: Option<String>,
    pub active: Option<bool>,
    pub barcode: Option<String>,
}

pub async fn list_items(tx: &TenantTx<'_>, f: &ItemFilter, page: &Page) -> AppResult<Vec<Item>> {
    use items::Column as C;
    let mut q = items::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.q {
        let like = format!("%{}%", s.replace('%', "\\%"));
        q = q.filter(Expr::col(C::Sku).like(like.clone()).or(Expr::col(C::Name).like(like)));
    }
    if let Some(c) = &f.category {
        q = q.filter(C::Category.eq(c.clone()));
    }
    if let Some(t) = &f.item_type {
        q = q.filter(C::ItemType.eq(t.clone()));
    }
    if let Some(a) = f.active {
        q = q.filter(C::IsActive.eq(a));
    }
    if let Some(b) = &f.barcode {
        q = q.filter(C::Barcode.eq(b.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.gt(after));
    }
    let rows = q.order_by_asc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?;
    with_units(tx, rows).await
}

/// Whether anything has ever moved the item (its method and base unit are then fixed).
pub async fn item_has_movements(tx: &TenantTx<'_>, item: Uuid) -> AppResult<bool> {
    exists(
        tx,
        stock_ledger::Entity::find()
            .filter(stock_ledger::Column::TenantId.eq(tx.tenant().0))
            .filter(stock_ledger::Column::ItemId.eq(item)),
    )
    .await
}

// ---------------------------------------------------------------- batches

#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub id: Uuid,
    pub item_id: Uuid,
    pub lot_number: String,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

fn batch_from(m: batches::Model) -> AppResult<Batch> {
    Ok(Batch {
        id: m.id,
        item_id: m.item_id,
        lot_number: m.lot_number,
        production_date: opt_date(m.production_date)?,
        expiry_date: opt_date(m.expiry_date)?,
        created_at: m.created_at,
    })
}

pub async fn insert_batch(tx: &TenantTx<'_>, b: &Batch) -> AppResult<()> {
    let am = batches::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(b.id),
        item_id: Set(b.item_id),
        lot_number: Set(b.lot_number.clone()),
        production_date: Set(b.production_date.map(date_str)),
        expiry_date: Set(b.expiry_date.map(date_str)),
        created_at: Set(b.created_at),
    };
    let r = batches::Entity::insert(am).exec_without_returning(tx.conn()).await;
    conflict_on_unique(r, || format!("lot {} exists for the item", b.lot_number)).map(|_| ())
}

pub async fn batch_by_lot(tx: &TenantTx<'_>, item: Uuid, lot: &str) -> AppResult<Option<Batch>> {
    batches::Entity::find()
        .filter(batches::Column::TenantId.eq(tx.tenant().0))
        .filter(batches::Column::ItemId.eq(item))
        .filter(batches::Column::LotNumber.eq(lot))
        .one(tx.conn())
        .await?
        .map(batch_from)
        .transpose()
}

pub async fn get_batches(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Batch>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    batches::Entity::find()
        .filter(batches::Column::TenantId.eq(tx.tenant().0))
        .filter(batches::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| batch_from(m).map(|b| (b.id, b)))
        .collect()
}

pub async fn batches_of(tx: &TenantTx<'_>, item: Uuid) -> AppResult<Vec<Batch>> {
    batches::Entity::find()
        .filter(batches::Column::TenantId.eq(tx.tenant().0))
        .filter(batches::Column::ItemId.eq(item))
        .order_by_asc(batches::Column::LotNumber)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(batch_from)
        .collect()
}

/// Batches with stock on hand that expire on or before `until`, earliest first.
pub async fn expiring_batches(tx: &TenantTx<'_>, until: NaiveDate) -> AppResult<Vec<(Batch, Uuid, Decimal)>> {
    let rows = batches::Entity::find()
        .filter(batches::Column::TenantId.eq(tx.tenant().0))
        .filter(batches::Column::ExpiryDate.lte(date_str(until)))
        .order_by_asc(batches::Column::ExpiryDate)
        .all(tx.conn())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|b| b.id).collect();
    let mut levels: HashMap<Uuid, Vec<(Uuid, Decimal)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for l in stock_batch_levels::Entity::find()
            .filter(stock_batch_levels::Column::TenantId.eq(tx.tenant().0))
            .filter(stock_batch_levels::Column::BatchId.is_in(chunk.iter().copied()))
            .filter(stock_batch_levels::Column::Quantity.gt(0))
            .all(tx.conn())
            .await?
        {
            levels.entry(l.batch_id).or_default().push((l.warehouse_id, qty_from_db(l.quantity)));
        }
    }
    let mut out = Vec::new();
    for m in rows {
        let b = batch_from(m)?;
        for (wh, q) in levels.remove(&b.id).unwrap_or_default() {
            out.push((b.clone(), wh, q));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- documents

#[derive(Clone, Debug, PartialEq)]
pub struct StockDocument {
    pub id: Uuid,
    /// receipt | issue | transfer | stocktake | landed_cost (and other modules' kinds).
    pub kind: String,
    pub number: Option<String>,
    /// draft | posted | in_transit | frozen | cancelled
    pub status: String,
    pub doc_date: NaiveDate,
    pub warehouse_id: Option<Uuid>,
    pub to_warehouse_id: Option<Uuid>,
    /// receipt: opening | miscellaneous
    pub purpose: Option<String>,
    pub reason: Option<String>,
    pub memo: String,
    /// landed cost: quantity | value | weight
    pub basis: Option<String>,
    pub counter_account_id: Option<Uuid>,
    pub shipped_date: Option<NaiveDate>,
    pub received_date: Option<NaiveDate>,
    pub frozen_at: Option<DateTime<Utc>>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub journal_entry_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub posted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StockLine {
    pub line_no: i32,
    pub item_id: Uuid,
    pub unit: String,
    pub unit_quantity: Decimal,
    /// In the item's base unit.
    pub quantity: Decimal,
    pub unit_cost: Option<Decimal>,
    pub batch_id: Option<Uuid>,
    pub lot_number: Option<String>,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub bin_id: Option<Uuid>,
    pub to_bin_id: Option<Uuid>,
    /// Stocktake: the book quantity when the sheet was frozen, and what was counted.
    pub book_quantity: Option<Decimal>,
    pub counted_quantity: Option<Decimal>,
    /// Landed cost: the receipt entry it lands on and its share of the charges.
    pub target_entry_id: Option<Uuid>,
    pub amount: Option<Decimal>,
}

fn doc_from(m: stock_documents::Model) -> AppResult<StockDocument> {
    Ok(StockDocument {
        id: m.id,
        kind: m.kind,
        number: m.number,
        status: m.status,
        doc_date: parse_date(&m.doc_date)?,
        warehouse_id: m.warehouse_id,
        to_warehouse_id: m.to_warehouse_id,
        purpose: m.purpose,
        reason: m.reason,
        memo: m.memo,
        basis: m.basis,
        counter_account_id: m.counter_account_id,
        shipped_date: opt_date(m.shipped_date)?,
        received_date: opt_date(m.received_date)?,
        frozen_at: m.frozen_at,
        source_type: m.source_type,
        source_id: m.source_id,
        journal_entry_id: m.journal_entry_id,
        created_by: m.created_by,
        posted_at: m.posted_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn doc_am(tx: &TenantTx<'_>, d: &StockDocument) -> stock_documents::ActiveModel {
    stock_documents::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(d.id),
        kind: Set(d.kind.clone()),
        number: Set(d.number.clone()),
        status: Set(d.status.clone()),
        doc_date: Set(date_str(d.doc_date)),
        warehouse_id: Set(d.warehouse_id),
        to_warehouse_id: Set(d.to_warehouse_id),
        purpose: Set(d.purpose.clone()),
        reason: Set(d.reason.clone()),
        memo: Set(d.memo.clone()),
        basis: Set(d.basis.clone()),
        counter_account_id: Set(d.counter_account_id),
        shipped_date: Set(d.shipped_date.map(date_str)),
        received_date: Set(d.received_date.map(date_str)),
        frozen_at: Set(d.frozen_at),
        source_type: Set(d.source_type.clone()),
        source_id: Set(d.source_id.clone()),
        journal_entry_id: Set(d.journal_entry_id),
        created_by: Set(d.created_by),
        posted_at: Set(d.posted_at),
        created_at: Set(d.created_at),
        updated_at: Set(d.updated_at),
        version: Set(d.version),
    }
}

fn line_from(m: stock_document_lines::Model) -> AppResult<StockLine> {
    Ok(StockLine {
        line_no: m.line_no,
        item_id: m.item_id,
        unit: m.unit,
        unit_quantity: qty_from_db(m.unit_quantity),
        quantity: qty_from_db(m.quantity),
        unit_cost: m.unit_cost.map(money_from_db),
        batch_id: m.batch_id,
        lot_number: m.lot_number,
        production_date: opt_date(m.production_date)?,
        expiry_date: opt_date(m.expiry_date)?,
        bin_id: m.bin_id,
        to_bin_id: m.to_bin_id,
        book_quantity: m.book_quantity.map(qty_from_db),
        counted_quantity: m.counted_quantity.map(qty_from_db),
        target_entry_id: m.target_entry_id,
        amount: m.amount.map(money_from_db),
    })
}

pub async fn insert_lines(tx: &TenantTx<'_>, doc: Uuid, lines: &[StockLine]) -> AppResult<()> {
    let mut models = Vec::with_capacity(lines.len());
    for l in lines {
        models.push(stock_document_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            document_id: Set(doc),
            line_no: Set(l.line_no),
            item_id: Set(l.item_id),
            unit: Set(l.unit.clone()),
            unit_quantity: Set(qty_to_db(l.unit_quantity)?),
            quantity: Set(qty_to_db(l.quantity)?),
            unit_cost: Set(l.unit_cost.map(money_to_db).transpose()?),
            batch_id: Set(l.batch_id),
            lot_number: Set(l.lot_number.clone()),
            production_date: Set(l.production_date.map(date_str)),
            expiry_date: Set(l.expiry_date.map(date_str)),
            bin_id: Set(l.bin_id),
            to_bin_id: Set(l.to_bin_id),
            book_quantity: Set(l.book_quantity.map(qty_to_db).transpose()?),
            counted_quantity: Set(l.counted_quantity.map(qty_to_db).transpose()?),
            target_entry_id: Set(l.target_entry_id),
            amount: Set(l.amount.map(money_to_db).transpose()?),
        });
    }
    for chunk in models.chunks(200) {
        stock_document_lines::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn delete_lines(tx: &TenantTx<'_>, doc: Uuid) -> AppResult<()> {
    stock_document_lines::Entity::delete_many()
        .filter(stock_document_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_document_lines::Column::DocumentId.eq(doc))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn insert_document(tx: &TenantTx<'_>, d: &StockDocument, lines: &[StockLine]) -> AppResult<()> {
    stock_documents::Entity::insert(doc_am(tx, d)).exec_without_returning(tx.conn()).await?;
    insert_lines(tx, d.id, lines).await
}

/// Saves the document if it is still at `d.version - 1`.
pub async fn save_document(tx: &TenantTx<'_>, d: &StockDocument) -> AppResult<bool> {
    let mut am = doc_am(tx, d);
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = stock_documents::Entity::update_many()
        .set(am)
        .filter(stock_documents::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_documents::Column::Id.eq(d.id))
        .filter(stock_documents::Column::Version.eq(d.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn delete_document(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    delete_lines(tx, id).await?;
    stock_documents::Entity::delete_many()
        .filter(stock_documents::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_documents::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn get_document(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<(StockDocument, Vec<StockLine>)>> {
    let Some(m) = stock_documents::Entity::find()
        .filter(stock_documents::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_documents::Column::Id.eq(id))
        .one(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let lines = stock_document_lines::Entity::find()
        .filter(stock_document_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_document_lines::Column::DocumentId.eq(id))
        .order_by_asc(stock_document_lines::Column::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(line_from)
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Some((doc_from(m)?, lines)))
}

#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

pub async fn list_documents(tx: &TenantTx<'_>, f: &DocumentFilter, page: &Page) -> AppResult<Vec<StockDocument>> {
    use stock_documents::Column as C;
    let mut q = stock_documents::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(k) = &f.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(w) = f.warehouse_id {
        q = q.filter(C::WarehouseId.eq(w).or(C::ToWarehouseId.eq(w)));
    }
    if let Some(d) = f.from {
        q = q.filter(C::DocDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(C::DocDate.lte(date_str(d)));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(doc_from).collect()
}

// ---------------------------------------------------------------- the stock ledger

#[derive(Clone, Debug, PartialEq)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub entry_date: NaiveDate,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub bin_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
    /// receipt, issue, transfer_out, transfer_in, count_gain, count_loss, landed_cost,
    /// revaluation, drain, and the kinds other modules post (delivery, purchase_receipt...).
    pub kind: String,
    /// Signed: positive in, negative out; zero for value-only entries.
    pub quantity: Decimal,
    /// Signed value in the base currency.
    pub value: Decimal,
    /// The account on the other side of the inventory account.
    pub counter_account_id: Uuid,
    pub document_id: Uuid,
    pub line_no: Option<i32>,
    /// A revaluation or drain names the movement it corrects.
    pub adjusts_entry_id: Option<Uuid>,
    /// A landed cost names the receipt whose FIFO layer it lands on.
    pub layer_entry_id: Option<Uuid>,
    /// A transfer in names the transfer out it takes its value from.
    pub pair_entry_id: Option<Uuid>,
    pub journal_entry_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn entry_from(m: stock_ledger::Model) -> AppResult<LedgerEntry> {
    Ok(LedgerEntry {
        id: m.id,
        entry_date: parse_date(&m.entry_date)?,
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        bin_id: m.bin_id,
        batch_id: m.batch_id,
        kind: m.kind,
        quantity: qty_from_db(m.quantity),
        value: money_from_db(m.value),
        counter_account_id: m.counter_account_id,
        document_id: m.document_id,
        line_no: m.line_no,
        adjusts_entry_id: m.adjusts_entry_id,
        layer_entry_id: m.layer_entry_id,
        pair_entry_id: m.pair_entry_id,
        journal_entry_id: m.journal_entry_id,
        created_at: m.created_at,
    })
}

pub async fn insert_entries(tx: &TenantTx<'_>, entries: &[LedgerEntry]) -> AppResult<()> {
    let mut models = Vec::with_capacity(entries.len());
    for e in entries {
        models.push(stock_ledger::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            id: Set(e.id),
            entry_date: Set(date_str(e.entry_date)),
            item_id: Set(e.item_id),
            warehouse_id: Set(e.warehouse_id),
            bin_id: Set(e.bin_id),
            batch_id: Set(e.batch_id),
            kind: Set(e.kind.clone()),
            quantity: Set(qty_to_db(e.quantity)?),
            value: Set(money_to_db(e.value)?),
            counter_account_id: Set(e.counter_account_id),
            document_id: Set(e.document_id),
            line_no: Set(e.line_no),
            adjusts_entry_id: Set(e.adjusts_entry_id),
            layer_entry_id: Set(e.layer_entry_id),
            pair_entry_id: Set(e.pair_entry_id),
            journal_entry_id: Set(e.journal_entry_id),
            created_at: Set(e.created_at),
        });
    }
    for chunk in models.chunks(200) {
        stock_ledger::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

/// Every entry of one item in one warehouse, in valuation order (date, then id: ids are
/// time-ordered, so same-day entries keep the order they were posted in).
pub async fn entries_of(tx: &TenantTx<'_>, item: Uuid, warehouse: Uuid) -> AppResult<Vec<LedgerEntry>> {
    use stock_ledger::Column as C;
    stock_ledger::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(item))
        .filter(C::WarehouseId.eq(warehouse))
        .order_by_asc(C::EntryDate)
        .order_by_asc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(entry_from)
        .collect()
}

pub async fn entries_of_document(tx: &TenantTx<'_>, doc: Uuid) -> AppResult<Vec<LedgerEntry>> {
    use stock_ledger::Column as C;
    stock_ledger::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::DocumentId.eq(doc))
        .order_by_asc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(entry_from)
        .collect()
}

pub async fn get_entries(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, LedgerEntry>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    stock_ledger::Entity::find()
        .filter(stock_ledger::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_ledger::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| entry_from(m).map(|e| (e.id, e)))
        .collect()
}

/// The transfer-in entries that take their value from the given transfer-out entries.
pub async fn paired_entries(tx: &TenantTx<'_>, outs: &[Uuid]) -> AppResult<Vec<LedgerEntry>> {
    if outs.is_empty() {
        return Ok(Vec::new());
    }
    stock_ledger::Entity::find()
        .filter(stock_ledger::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_ledger::Column::PairEntryId.is_in(outs.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(entry_from)
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub item_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Entries in date order after the cursor `(date, id)`.
pub async fn history(
    tx: &TenantTx<'_>,
    f: &HistoryFilter,
    after: Option<(NaiveDate, Uuid)>,
    limit: u64,
) -> AppResult<Vec<LedgerEntry>> {
    use stock_ledger::Column as C;
    let mut q = stock_ledger::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(w) = f.warehouse_id {
        q = q.filter(C::WarehouseId.eq(w));
    }
    if let Some(d) = f.from {
        q = q.filter(C::EntryDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(C::EntryDate.lte(date_str(d)));
    }
    if let Some((d, id)) = after {
        let d = date_str(d);
        q = q.filter(
            Expr::col(C::EntryDate).gt(d.clone()).or(Expr::col(C::EntryDate).eq(d).and(Expr::col(C::Id).gt(id))),
        );
    }
    q.order_by_asc(C::EntryDate)
        .order_by_asc(C::Id)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(entry_from)
        .collect()
}

/// Quantity and value summed from the ledger, per item and warehouse (and batch when
/// `by_batch`), for entries dated on or before `as_of`.
pub async fn ledger_sums(
    tx: &TenantTx<'_>,
    as_of: Option<NaiveDate>,
    item: Option<Uuid>,
    warehouse: Option<Uuid>,
    by_batch: bool,
) -> AppResult<Vec<(Uuid, Uuid, Option<Uuid>, Decimal, Decimal)>> {
    use stock_ledger::Column as C;
    let mut stmt = Query::select();
    stmt.column(C::ItemId)
        .column(C::WarehouseId)
        .expr_as(Expr::col(C::Quantity).sum().cast_as("BIGINT"), "quantity")
        .expr_as(Expr::col(C::Value).sum().cast_as("BIGINT"), "value")
        .from(stock_ledger::Entity)
        .and_where(Expr::col(C::TenantId).eq(tx.tenant().0));
    if by_batch {
        stmt.column(C::BatchId).group_by_col(C::BatchId);
    }
    if let Some(d) = as_of {
        stmt.and_where(Expr::col(C::EntryDate).lte(date_str(d)));
    }
    if let Some(i) = item {
        stmt.and_where(Expr::col(C::ItemId).eq(i));
    }
    if let Some(w) = warehouse {
        stmt.and_where(Expr::col(C::WarehouseId).eq(w));
    }
    stmt.group_by_col(C::ItemId).group_by_col(C::WarehouseId);
    let rows = tx.conn().query_all(&stmt).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<Uuid>("", "item_id")?,
                r.try_get::<Uuid>("", "warehouse_id")?,
                if by_batch { r.try_get::<Option<Uuid>>("", "batch_id")? } else { None },
                qty_from_db(r.try_get::<i64>("", "quantity")?),
                money_from_db(r.try_get::<i64>("", "value")?),
            ))
        })
        .collect()
}

/// Quantity issued (out of stock, not transfers) per item over `from..=to`.
pub async fn issued_between(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<HashMap<Uuid, Decimal>> {
    use stock_ledger::Column as C;
    let stmt = Query::select()
        .column(C::ItemId)
        .expr_as(Expr::col(C::Quantity).sum().cast_as("BIGINT"), "quantity")
        .from(stock_ledger::Entity)
        .and_where(Expr::col(C::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(C::EntryDate).between(date_str(from), date_str(to)))
        .and_where(Expr::col(C::Quantity).lt(0))
        .and_where(Expr::col(C::Kind).ne("transfer_out"))
        .group_by_col(C::ItemId)
        .to_owned();
    let rows = tx.conn().query_all(&stmt).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<Uuid>("", "item_id")?, -qty_from_db(r.try_get::<i64>("", "quantity")?))))
        .collect()
}

// ---------------------------------------------------------------- levels and layers

#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub value: Decimal,
    pub reserved: Decimal,
    pub last_unit_cost: Decimal,
    pub last_date: Option<NaiveDate>,
}

fn level_from(m: stock_levels::Model) -> AppResult<Level> {
    Ok(Level {
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        value: money_from_db(m.value),
        reserved: qty_from_db(m.reserved),
        last_unit_cost: money_from_db(m.last_unit_cost),
        last_date: opt_date(m.last_date)?,
    })
}

/// Locks (PostgreSQL: `FOR UPDATE`) the levels of the given item/warehouse pairs, creating
/// missing ones at zero. Pairs are taken in sorted order so concurrent documents touching the
/// same existing pairs never wait on each other in a cycle; a pair's first movement inserts its
/// level while holding the others, and the rare deadlock that can make is retried (40P01).
pub async fn lock_levels(tx: &TenantTx<'_>, pairs: &[(Uuid, Uuid)]) -> AppResult<HashMap<(Uuid, Uuid), Level>> {
    use stock_levels::Column as C;
    let mut sorted = pairs.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.is_empty() {
        return Ok(HashMap::new());
    }
    // Nearly always every level exists: one locking read. A pair's first movement creates its
    // level (a concurrent creator waits on the insert), then the read runs again.
    let out = select_levels_for_update(tx, &sorted).await?;
    if out.len() == sorted.len() {
        return Ok(out);
    }
    let models: Vec<stock_levels::ActiveModel> = sorted
        .iter()
        .filter(|p| !out.contains_key(p))
        .map(|(item, wh)| stock_levels::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            item_id: Set(*item),
            warehouse_id: Set(*wh),
            quantity: Set(0),
            value: Set(0),
            reserved: Set(0),
            last_unit_cost: Set(0),
            last_date: Set(None),
        })
        .collect();
    for chunk in models.chunks(200) {
        stock_levels::Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::columns([C::TenantId, C::ItemId, C::WarehouseId]).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
    }
    let out = select_levels_for_update(tx, &sorted).await?;
    if out.len() != sorted.len() {
        return Err(AppError::internal("stock level vanished"));
    }
    Ok(out)
}

/// The existing levels of sorted `pairs`, locked. One statement per 500 items; PostgreSQL takes
/// the row locks in the ORDER BY order. Rows of other pairs in the same items and warehouses
/// come along (usually none: one warehouse).
async fn select_levels_for_update(
    tx: &TenantTx<'_>,
    sorted: &[(Uuid, Uuid)],
) -> AppResult<HashMap<(Uuid, Uuid), Level>> {
    use stock_levels::Column as C;
    let items: Vec<Uuid> = sorted.iter().map(|p| p.0).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let whs: Vec<Uuid> = sorted.iter().map(|p| p.1).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut out = HashMap::new();
    for chunk in items.chunks(500) {
        for m in stock_levels::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::ItemId.is_in(chunk.iter().copied()))
            .filter(C::WarehouseId.is_in(whs.iter().copied()))
            .order_by_asc(C::ItemId)
            .order_by_asc(C::WarehouseId)
            .lock_exclusive()
            .all(tx.conn())
            .await?
        {
            let l = level_from(m)?;
            if sorted.binary_search(&(l.item_id, l.warehouse_id)).is_ok() {
                out.insert((l.item_id, l.warehouse_id), l);
            }
        }
    }
    Ok(out)
}

/// Saves the quantity, value, last unit cost and last date of several levels in one statement
/// per 500.
pub async fn save_levels(tx: &TenantTx<'_>, levels: &[&Level]) -> AppResult<()> {
    for chunk in levels.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into()];
        for l in chunk {
            values.extend([
                l.item_id.into(),
                l.warehouse_id.into(),
                qty_to_db(l.quantity)?.into(),
                money_to_db(l.value)?.into(),
                money_to_db(l.last_unit_cost)?.into(),
                l.last_date.map(date_str).into(),
            ]);
        }
        super::update_from_values(
            tx,
            "stock_levels",
            "quantity = v.column3, value = v.column4, last_unit_cost = v.column5, last_date = v.column6",
            "stock_levels.item_id = v.column1 AND stock_levels.warehouse_id = v.column2",
            6,
            values,
        )
        .await?;
    }
    Ok(())
}

pub async fn save_level(tx: &TenantTx<'_>, l: &Level) -> AppResult<()> {
    use stock_levels::Column as C;
    stock_levels::Entity::update_many()
        .col_expr(C::Quantity, Expr::value(qty_to_db(l.quantity)?))
        .col_expr(C::Value, Expr::value(money_to_db(l.value)?))
        .col_expr(C::LastUnitCost, Expr::value(money_to_db(l.last_unit_cost)?))
        .col_expr(C::LastDate, Expr::value(l.last_date.map(date_str)))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(l.item_id))
        .filter(C::WarehouseId.eq(l.warehouse_id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct LevelFilter {
    pub item_id: Option<Uuid>,
    pub warehouse_id: Option<Uuid>,
}

pub async fn levels(tx: &TenantTx<'_>, f: &LevelFilter) -> AppResult<Vec<Level>> {
    use stock_levels::Column as C;
    let mut q = stock_levels::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(w) = f.warehouse_id {
        q = q.filter(C::WarehouseId.eq(w));
    }
    q.order_by_asc(C::ItemId).order_by_asc(C::WarehouseId).all(tx.conn()).await?.into_iter().map(level_from).collect()
}

/// The stock levels of some items, all warehouses.
pub async fn levels_of_items(tx: &TenantTx<'_>, items: &[Uuid]) -> AppResult<Vec<Level>> {
    use stock_levels::Column as C;
    let mut out = Vec::new();
    for chunk in items.chunks(500) {
        let rows = stock_levels::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::ItemId.is_in(chunk.iter().copied()))
            .order_by_asc(C::ItemId)
            .order_by_asc(C::WarehouseId)
            .all(tx.conn())
            .await?;
        for m in rows {
            out.push(level_from(m)?);
        }
    }
    Ok(out)
}

/// Adds `delta` to a batch's quantity in a warehouse (creating the row).
pub async fn add_batch_quantity(
    tx: &TenantTx<'_>,
    item: Uuid,
    warehouse: Uuid,
    batch: Uuid,
    delta: Decimal,
) -> AppResult<()> {
    use stock_batch_levels::Column as C;
    let d = qty_to_db(delta)?;
    let am = stock_batch_levels::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        item_id: Set(item),
        warehouse_id: Set(warehouse),
        batch_id: Set(batch),
        quantity: Set(d),
    };
    stock_batch_levels::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([C::TenantId, C::ItemId, C::WarehouseId, C::BatchId])
                .value(C::Quantity, Expr::col((stock_batch_levels::Entity, C::Quantity)).add(d))
                .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

/// Batch quantities of an item in a warehouse.
pub async fn batch_levels(tx: &TenantTx<'_>, item: Uuid, warehouse: Uuid) -> AppResult<HashMap<Uuid, Decimal>> {
    use stock_batch_levels::Column as C;
    Ok(stock_batch_levels::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(item))
        .filter(C::WarehouseId.eq(warehouse))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.batch_id, qty_from_db(m.quantity)))
        .collect())
}

pub async fn all_batch_levels(tx: &TenantTx<'_>, f: &LevelFilter) -> AppResult<Vec<(Uuid, Uuid, Uuid, Decimal)>> {
    use stock_batch_levels::Column as C;
    let mut q = stock_batch_levels::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(w) = f.warehouse_id {
        q = q.filter(C::WarehouseId.eq(w));
    }
    Ok(q.all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.item_id, m.warehouse_id, m.batch_id, qty_from_db(m.quantity)))
        .collect())
}

/// The valuation state of a pair from its level row and (FIFO) its layers.
pub async fn valuation(tx: &TenantTx<'_>, level: &Level, method: Method, digits: u32) -> AppResult<Valuation> {
    use stock_layers::Column as C;
    let mut layers = VecDeque::new();
    if method == Method::Fifo {
        for m in stock_layers::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::ItemId.eq(level.item_id))
            .filter(C::WarehouseId.eq(level.warehouse_id))
            .order_by_asc(C::Position)
            .all(tx.conn())
            .await?
        {
            layers.push_back(Layer {
                entry: m.entry_id,
                quantity: qty_from_db(m.quantity),
                value: money_from_db(m.value),
            });
        }
    }
    Ok(Valuation {
        method,
        digits,
        quantity: level.quantity,
        value: level.value,
        last_unit_cost: level.last_unit_cost,
        layers,
    })
}

/// Makes a pair's stored FIFO layers equal the state's. The usual change (the oldest layers
/// consumed, the front one cut, new ones at the end) touches only those rows; any other
/// change (a replay after back-dating) rewrites the pair's layers.
pub async fn save_layers(tx: &TenantTx<'_>, item: Uuid, warehouse: Uuid, state: &Valuation) -> AppResult<()> {
    use stock_layers::Column as C;
    let old: Vec<stock_layers::Model> = stock_layers::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(item))
        .filter(C::WarehouseId.eq(warehouse))
        .order_by_asc(C::Position)
        .all(tx.conn())
        .await?;
    let kept: Vec<&Layer> = state.layers.iter().filter(|l| old.iter().any(|o| o.entry_id == l.entry)).collect();
    let old_kept: Vec<Uuid> =
        old.iter().filter(|o| kept.iter().any(|l| l.entry == o.entry_id)).map(|o| o.entry_id).collect();
    let appended_only = kept.len() == old_kept.len()
        && kept.iter().zip(&old_kept).all(|(l, o)| l.entry == *o)
        && state.layers.iter().take(kept.len()).zip(&kept).all(|(a, b)| a.entry == b.entry);
    let mut next_position = old.iter().map(|o| o.position + 1).max().unwrap_or(0);
    let fresh: Vec<&Layer> = if appended_only {
        let gone: Vec<Uuid> = old.iter().filter(|o| !old_kept.contains(&o.entry_id)).map(|o| o.entry_id).collect();
        if !gone.is_empty() {
            stock_layers::Entity::delete_many()
                .filter(C::TenantId.eq(tx.tenant().0))
                .filter(C::EntryId.is_in(gone))
                .exec(tx.conn())
                .await?;
        }
        for l in &kept {
            let Some(o) = old.iter().find(|o| o.entry_id == l.entry) else { continue };
            let (q, v) = (qty_to_db(l.quantity)?, money_to_db(l.value)?);
            if (o.quantity, o.value) != (q, v) {
                stock_layers::Entity::update_many()
                    .col_expr(C::Quantity, Expr::value(q))
                    .col_expr(C::Value, Expr::value(v))
                    .filter(C::TenantId.eq(tx.tenant().0))
                    .filter(C::EntryId.eq(l.entry))
                    .exec(tx.conn())
                    .await?;
            }
        }
        state.layers.iter().skip(kept.len()).collect()
    } else {
        stock_layers::Entity::delete_many()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::ItemId.eq(item))
            .filter(C::WarehouseId.eq(warehouse))
            .exec(tx.conn())
            .await?;
        next_position = 0;
        state.layers.iter().collect()
    };
    let mut models = Vec::new();
    for l in fresh {
        models.push(stock_layers::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            entry_id: Set(l.entry),
            item_id: Set(item),
            warehouse_id: Set(warehouse),
            position: Set(next_position),
            quantity: Set(qty_to_db(l.quantity)?),
            value: Set(money_to_db(l.value)?),
        });
        next_position += 1;
    }
    for chunk in models.chunks(200) {
        stock_layers::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

/// What is left of a receipt's FIFO layer, if anything.
pub async fn layer_of(tx: &TenantTx<'_>, entry: Uuid) -> AppResult<Option<(Decimal, Decimal)>> {
    Ok(stock_layers::Entity::find()
        .filter(stock_layers::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_layers::Column::EntryId.eq(entry))
        .one(tx.conn())
        .await?
        .map(|m| (qty_from_db(m.quantity), money_from_db(m.value))))
}

// ---------------------------------------------------------------- reservations

#[derive(Clone, Debug, PartialEq)]
pub struct Reservation {
    pub id: Uuid,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub open_quantity: Decimal,
    pub source_type: String,
    pub source_id: String,
    /// open | released | consumed
    pub status: String,
    pub memo: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn reservation_from(m: stock_reservations::Model) -> Reservation {
    Reservation {
        id: m.id,
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        open_quantity: qty_from_db(m.open_quantity),
        source_type: m.source_type,
        source_id: m.source_id,
        status: m.status,
        memo: m.memo,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

fn reservation_am(tx: &TenantTx<'_>, r: &Reservation) -> AppResult<stock_reservations::ActiveModel> {
    Ok(stock_reservations::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(r.id),
        item_id: Set(r.item_id),
        warehouse_id: Set(r.warehouse_id),
        quantity: Set(qty_to_db(r.quantity)?),
        open_quantity: Set(qty_to_db(r.open_quantity)?),
        source_type: Set(r.source_type.clone()),
        source_id: Set(r.source_id.clone()),
        status: Set(r.status.clone()),
        memo: Set(r.memo.clone()),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        version: Set(r.version),
    })
}

pub async fn insert_reservation(tx: &TenantTx<'_>, r: &Reservation) -> AppResult<()> {
    stock_reservations::Entity::insert(reservation_am(tx, r)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn insert_reservations(tx: &TenantTx<'_>, rs: &[Reservation]) -> AppResult<()> {
    let models = rs.iter().map(|r| reservation_am(tx, r)).collect::<AppResult<Vec<_>>>()?;
    for chunk in models.chunks(200) {
        stock_reservations::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

/// Saves the open quantity and status of reservations whose version was bumped by one;
/// `false` when one of them had changed meanwhile.
pub async fn save_reservations(tx: &TenantTx<'_>, rs: &[&Reservation]) -> AppResult<bool> {
    let mut saved = 0;
    for chunk in rs.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into()];
        for r in chunk {
            values.extend([
                r.id.into(),
                qty_to_db(r.open_quantity)?.into(),
                r.status.clone().into(),
                r.updated_at.into(),
                r.version.into(),
                (r.version - 1).into(),
            ]);
        }
        saved += super::update_from_values(
            tx,
            "stock_reservations",
            "open_quantity = v.column2, status = v.column3, updated_at = v.column4, version = v.column5",
            "stock_reservations.id = v.column1 AND stock_reservations.version = v.column6",
            6,
            values,
        )
        .await?;
    }
    Ok(saved == rs.len() as u64)
}

pub async fn get_reservations(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, Reservation>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for m in stock_reservations::Entity::find()
            .filter(stock_reservations::Column::TenantId.eq(tx.tenant().0))
            .filter(stock_reservations::Column::Id.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?
        {
            let r = reservation_from(m);
            out.insert(r.id, r);
        }
    }
    Ok(out)
}

pub async fn get_reservation(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Reservation>> {
    Ok(stock_reservations::Entity::find()
        .filter(stock_reservations::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_reservations::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(reservation_from))
}

#[derive(Clone, Debug, Default)]
pub struct ReservationFilter {
    pub item_id: Option<Uuid>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub status: Option<String>,
}

pub async fn list_reservations(tx: &TenantTx<'_>, f: &ReservationFilter, page: &Page) -> AppResult<Vec<Reservation>> {
    use stock_reservations::Column as C;
    let mut q = stock_reservations::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(s) = &f.source_type {
        q = q.filter(C::SourceType.eq(s.clone()));
    }
    if let Some(s) = &f.source_id {
        q = q.filter(C::SourceId.eq(s.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.gt(after));
    }
    Ok(q.order_by_asc(C::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(reservation_from)
        .collect())
}

/// Adds to the reserved quantity of several levels at once, each pair once. A positive delta
/// only lands where that much is available (`quantity - reserved >= delta`): the guarded
/// update is the check, so two reservations of the last units cannot both succeed. `false`
/// when a pair lacked it (the caller then fails the transaction).
pub async fn reserve_many(tx: &TenantTx<'_>, deltas: &HashMap<(Uuid, Uuid), Decimal>) -> AppResult<bool> {
    let mut pairs: Vec<(&(Uuid, Uuid), &Decimal)> = deltas.iter().filter(|(_, d)| !d.is_zero()).collect();
    pairs.sort_by_key(|(p, _)| **p);
    let mut updated = 0;
    for chunk in pairs.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into()];
        for ((item, wh), d) in chunk {
            let d = qty_to_db(**d)?;
            values.extend([(*item).into(), (*wh).into(), d.into()]);
        }
        updated += super::update_from_values(
            tx,
            "stock_levels",
            "reserved = stock_levels.reserved + v.column3",
            "stock_levels.item_id = v.column1 AND stock_levels.warehouse_id = v.column2 \
             AND (v.column3 <= 0 OR stock_levels.quantity - stock_levels.reserved >= v.column3)",
            3,
            values,
        )
        .await?;
    }
    Ok(updated == pairs.len() as u64)
}

/// Sum of open reservations per pair, for the invariant check.
pub async fn open_reserved(tx: &TenantTx<'_>) -> AppResult<HashMap<(Uuid, Uuid), Decimal>> {
    let mut out: HashMap<(Uuid, Uuid), Decimal> = HashMap::new();
    for r in stock_reservations::Entity::find()
        .filter(stock_reservations::Column::TenantId.eq(tx.tenant().0))
        .filter(stock_reservations::Column::Status.eq("open"))
        .all(tx.conn())
        .await?
    {
        *out.entry((r.item_id, r.warehouse_id)).or_default() += qty_from_db(r.open_quantity);
    }
    Ok(out)
}

// ---------------------------------------------------------------- reports

/// An item whose available quantity (on hand less reserved, over all warehouses) is below its
/// safety stock or reorder point.
#[derive(Clone, Debug, PartialEq)]
pub struct LowStockRow {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub on_hand: Decimal,
    pub reserved: Decimal,
    pub safety_stock: Decimal,
    pub reorder_point: Decimal,
    pub reorder_quantity: Decimal,
    pub max_stock: Option<Decimal>,
}

/// Low-stock items in SKU order after `after_sku`, at most `limit`. One indexed pass: the item
/// rows that have a level set, joined to their summed stock levels.
pub async fn low_stock(tx: &TenantTx<'_>, after_sku: Option<&str>, limit: u64) -> AppResult<Vec<LowStockRow>> {
    let backend = tx.conn().get_database_backend();
    // Both backends take numbered parameters; SQLite spells them `?N`.
    let (p1, p2, p3) = match backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?1", "?2", "?3"),
    };
    // Items are walked in SKU order through the (tenant_id, sku) index; each one's available
    // quantity is one probe of the stock-level primary key, and the walk stops at `limit` hits.
    // A tenth of items low: a page of 200 reads ~2,000 items, not all of them.
    let sql = format!(
        "SELECT x.*,
                CAST(COALESCE((SELECT SUM(l.quantity) FROM stock_levels l
                               WHERE l.tenant_id = x.tenant_id AND l.item_id = x.item_id), 0) AS BIGINT) AS on_hand,
                CAST(COALESCE((SELECT SUM(l.reserved) FROM stock_levels l
                               WHERE l.tenant_id = x.tenant_id AND l.item_id = x.item_id), 0) AS BIGINT) AS reserved
         FROM (SELECT i.tenant_id, i.id AS item_id, i.sku, i.name, i.safety_stock, i.reorder_point,
                      i.reorder_quantity, i.max_stock
               FROM items i
               WHERE i.tenant_id = {p1} AND i.is_active = {p2} AND i.item_type <> 'service'
                 AND (i.safety_stock > 0 OR i.reorder_point > 0) AND i.sku > {p3}
                 AND COALESCE((SELECT SUM(l.quantity - l.reserved) FROM stock_levels l
                               WHERE l.tenant_id = i.tenant_id AND l.item_id = i.id), 0)
                     < CASE WHEN i.safety_stock > i.reorder_point THEN i.safety_stock ELSE i.reorder_point END
               ORDER BY i.sku
               LIMIT {limit}) x
         ORDER BY x.sku"
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [tx.tenant().0.into(), true.into(), after_sku.unwrap_or("").to_owned().into()],
    );
    let rows = tx.conn().query_all_raw(stmt).await?;
    rows.iter()
        .map(|r| {
            Ok(LowStockRow {
                item_id: r.try_get("", "item_id")?,
                sku: r.try_get("", "sku")?,
                name: r.try_get("", "name")?,
                on_hand: qty_from_db(r.try_get("", "on_hand")?),
                reserved: qty_from_db(r.try_get("", "reserved")?),
                safety_stock: qty_from_db(r.try_get("", "safety_stock")?),
                reorder_point: qty_from_db(r.try_get("", "reorder_point")?),
                reorder_quantity: qty_from_db(r.try_get("", "reorder_quantity")?),
                max_stock: r.try_get::<Option<i64>>("", "max_stock")?.map(qty_from_db),
            })
        })
        .collect()
}

/// The revaluations and drains that correct the given entries.
pub async fn adjustments_of(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        for m in stock_ledger::Entity::find()
            .filter(stock_ledger::Column::TenantId.eq(tx.tenant().0))
            .filter(stock_ledger::Column::AdjustsEntryId.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?
        {
            out.push(entry_from(m)?);
        }
    }
    Ok(out)
}

/// Whether the tenant has any stock ledger entry.
pub async fn any_movements(tx: &TenantTx<'_>) -> AppResult<bool> {
    exists(tx, stock_ledger::Entity::find().filter(stock_ledger::Column::TenantId.eq(tx.tenant().0))).await
}

/// The stock value moved against one counter account by entries dated on or before `as_of`.
pub async fn value_against(tx: &TenantTx<'_>, account: Uuid, as_of: NaiveDate) -> AppResult<Decimal> {
    use stock_ledger::Column as C;
    let stmt = Query::select()
        .expr_as(Expr::col(C::Value).sum().cast_as("BIGINT"), "value")
        .from(stock_ledger::Entity)
        .and_where(Expr::col(C::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(C::CounterAccountId).eq(account))
        .and_where(Expr::col(C::EntryDate).lte(date_str(as_of)))
        .to_owned();
    let row = tx.conn().query_one(&stmt).await?;
    Ok(row.and_then(|r| r.try_get::<Option<i64>>("", "value").ok().flatten()).map(money_from_db).unwrap_or_default())
}

/// What still refers to an item, if anything (stock, documents, batches, invoices, journal lines).
pub async fn item_in_use(tx: &TenantTx<'_>, item: Uuid) -> AppResult<Option<&'static str>> {
    use super::entities::{invoice_lines, journal_lines};
    let t = tx.tenant().0;
    if exists(
        tx,
        stock_levels::Entity::find()
            .filter(stock_levels::Column::TenantId.eq(t))
            .filter(stock_levels::Column::ItemId.eq(item)),
    )
    .await?
    {
        return Ok(Some("it has stock levels or reservations"));
    }
    if exists(
        tx,
        stock_document_lines::Entity::find()
            .filter(stock_document_lines::Column::TenantId.eq(t))
            .filter(stock_document_lines::Column::ItemId.eq(item)),
    )
    .await?
    {
        return Ok(Some("stock documents name it"));
    }
    if exists(
        tx,
        batches::Entity::find().filter(batches::Column::TenantId.eq(t)).filter(batches::Column::ItemId.eq(item)),
    )
    .await?
    {
        return Ok(Some("it has batches"));
    }
    if exists(
        tx,
        invoice_lines::Entity::find()
            .filter(invoice_lines::Column::TenantId.eq(t))
            .filter(invoice_lines::Column::ItemId.eq(item)),
    )
    .await?
    {
        return Ok(Some("invoices name it"));
    }
    if exists(
        tx,
        journal_lines::Entity::find()
            .filter(journal_lines::Column::TenantId.eq(t))
            .filter(journal_lines::Column::ItemId.eq(item)),
    )
    .await?
    {
        return Ok(Some("journal lines carry it"));
    }
    super::production::item_in_use(tx, item).await
}

/// Deletes an unused item and its unit conversions.
pub async fn delete_item(tx: &TenantTx<'_>, item: Uuid) -> AppResult<()> {
    super::production::forget_item(tx, item).await?;
    item_units::Entity::delete_many()
        .filter(item_units::Column::TenantId.eq(tx.tenant().0))
        .filter(item_units::Column::ItemId.eq(item))
        .exec(tx.conn())
        .await?;
    items::Entity::delete_many()
        .filter(items::Column::TenantId.eq(tx.tenant().0))
        .filter(items::Column::Id.eq(item))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// What still refers to a warehouse, if anything.
pub async fn warehouse_in_use(tx: &TenantTx<'_>, wh: Uuid) -> AppResult<Option<&'static str>> {
    let t = tx.tenant().0;
    if exists(
        tx,
        stock_levels::Entity::find()
            .filter(stock_levels::Column::TenantId.eq(t))
            .filter(stock_levels::Column::WarehouseId.eq(wh)),
    )
    .await?
    {
        return Ok(Some("it has held stock or reservations"));
    }
    if exists(
        tx,
        stock_documents::Entity::find()
            .filter(stock_documents::Column::TenantId.eq(t))
            .filter(stock_documents::Column::WarehouseId.eq(wh).or(stock_documents::Column::ToWarehouseId.eq(wh))),
    )
    .await?
    {
        return Ok(Some("stock documents name it"));
    }
    if exists(
        tx,
        items::Entity::find().filter(items::Column::TenantId.eq(t)).filter(items::Column::DefaultWarehouseId.eq(wh)),
    )
    .await?
    {
        return Ok(Some("it is an item's default warehouse"));
    }
    super::production::warehouse_in_use(tx, wh).await
}

/// Deletes an unused warehouse and its bins.
pub async fn delete_warehouse(tx: &TenantTx<'_>, wh: Uuid) -> AppResult<()> {
    bins::Entity::delete_many()
        .filter(bins::Column::TenantId.eq(tx.tenant().0))
        .filter(bins::Column::WarehouseId.eq(wh))
        .exec(tx.conn())
        .await?;
    warehouses::Entity::delete_many()
        .filter(warehouses::Column::TenantId.eq(tx.tenant().0))
        .filter(warehouses::Column::Id.eq(wh))
        .exec(tx.conn())
        .await?;
    Ok(())
}
