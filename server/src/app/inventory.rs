//! Inventory use cases: warehouses, bins, items (with CSV import), the stock closing date,
//! stock documents (receipts, issues, transfers, stocktakes, landed costs), reservations, and
//! the stock queries and reports. Movements go through [`super::stock_posting`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::{document_entry, mapped, mapping, post_document_entry};
use super::stock_posting::{self as engine, Movement, Source, qty};
use super::{AppState, Change, Ctx, record, stale};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{Dimensions, EntryLine, minor_unit_digits};
use crate::domain::stock::{self as rules, Method};
use crate::domain::tax::{round, share_out};
use crate::domain::validate;
use crate::error::{AppError, AppResult, FieldError};
use crate::store::stock::{
    self as store, Batch, Bin, DocumentFilter, HistoryFilter, Item, ItemFilter, LedgerEntry, LevelFilter, Reservation,
    ReservationFilter, StockDocument, StockLine, StockSettings, Warehouse,
};
use crate::store::{Access, Page, TenantTx, tenants};

pub const DOCUMENT_LINES_MAX: usize = 1000;
pub const IMPORT_ROWS_MAX: usize = 20_000;

fn errs(errors: Vec<FieldError>) -> AppResult<()> {
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

// ================================================================ settings

pub async fn settings(app: &AppState, tenant: TenantId) -> AppResult<StockSettings> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = store::settings(&tx).await?;
    tx.commit().await?;
    Ok(s)
}

/// Sets (or clears) the stock closing date. Moving it back reopens days for movements.
pub async fn set_closing_date(
    app: &AppState,
    ctx: &Ctx,
    expected_version: i64,
    closing_date: Option<NaiveDate>,
) -> AppResult<StockSettings> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut s = store::settings(&tx).await?;
    if s.version != expected_version {
        return Err(stale("stock settings", s.version));
    }
    let before = serde_json::json!({ "closing_date": s.closing_date });
    s.closing_date = closing_date;
    s.updated_at = now;
    s.version += 1;
    if !store::save_settings(&tx, &s).await? {
        return Err(stale("stock settings", s.version - 1));
    }
    let after = serde_json::json!({ "closing_date": s.closing_date });
    record(&tx, ctx, now, Change::new("stock_settings.update", "stock_settings", None, Some(before), Some(after)))
        .await?;
    tx.commit().await?;
    Ok(s)
}

// ================================================================ warehouses and bins

#[derive(Clone, Debug, Default)]
pub struct WarehouseInput {
    pub code: Option<String>,
    pub name: Option<String>,
    pub address: Option<Option<String>>,
    pub allow_negative: Option<bool>,
    pub is_active: Option<bool>,
}

fn warehouse_json(w: &Warehouse) -> serde_json::Value {
    serde_json::json!({"code": w.code, "name": w.name, "address": w.address,
        "allow_negative": w.allow_negative, "is_active": w.is_active})
}

fn apply_warehouse(w: &mut Warehouse, input: WarehouseInput) -> AppResult<()> {
    let mut e = Vec::new();
    if let Some(c) = input.code {
        match validate::name(&c, 32) {
            Ok(c) if !c.contains(char::is_whitespace) => w.code = c,
            Ok(_) => e.push(FieldError::new("code", "must not contain spaces")),
            Err(m) => e.push(FieldError::new("code", m)),
        }
    }
    if let Some(n) = input.name {
        match validate::name(&n, 200) {
            Ok(n) => w.name = n,
            Err(m) => e.push(FieldError::new("name", m)),
        }
    }
    if let Some(a) = input.address {
        w.address = a.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
    }
    if let Some(n) = input.allow_negative {
        w.allow_negative = n;
    }
    if let Some(a) = input.is_active {
        w.is_active = a;
    }
    errs(e)
}

pub async fn create_warehouse(app: &AppState, ctx: &Ctx, input: WarehouseInput) -> AppResult<Warehouse> {
    let mut e = Vec::new();
    if input.code.is_none() {
        e.push(FieldError::new("code", "is required"));
    }
    if input.name.is_none() {
        e.push(FieldError::new("name", "is required"));
    }
    errs(e)?;
    let now = app.now();
    let mut w = Warehouse {
        id: Uuid::now_v7(),
        code: String::new(),
        name: String::new(),
        address: None,
        allow_negative: false,
        is_active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_warehouse(&mut w, input)?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    store::insert_warehouse(&tx, &w).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("warehouse.create", "warehouse", Some(w.id.to_string()), None, Some(warehouse_json(&w))),
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

pub async fn update_warehouse(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    expected_version: i64,
    input: WarehouseInput,
) -> AppResult<Warehouse> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut w = store::get_warehouse(&tx, id).await?.ok_or(AppError::NotFound { entity: "warehouse" })?;
    if w.version != expected_version {
        return Err(stale("warehouse", w.version));
    }
    let before = w.clone();
    apply_warehouse(&mut w, input)?;
    w.updated_at = now;
    w.version += 1;
    if !store::save_warehouse(&tx, &w).await? {
        return Err(stale("warehouse", before.version));
    }
    // Saved first: the row lock waits for postings in flight there, so the check sees them.
    if before.allow_negative && !w.allow_negative {
        let negative = store::levels(&tx, &LevelFilter { warehouse_id: Some(id), ..Default::default() })
            .await?
            .into_iter()
            .filter(|l| l.quantity < Decimal::ZERO)
            .count();
        if negative > 0 {
            return Err(AppError::Conflict(format!(
                "{negative} items are below zero in {}; receive or adjust them before refusing negative stock",
                w.code
            )));
        }
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "warehouse.update",
            "warehouse",
            Some(id.to_string()),
            Some(warehouse_json(&before)),
            Some(warehouse_json(&w)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

/// Deletes a warehouse nothing refers to (with its bins); one that held stock is deactivated instead.
pub async fn delete_warehouse(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let w = store::get_warehouse(&tx, id).await?.ok_or(AppError::NotFound { entity: "warehouse" })?;
    if let Some(why) = store::warehouse_in_use(&tx, id).await? {
        return Err(AppError::Conflict(format!(
            "warehouse {} cannot be deleted: {why}; deactivate it instead",
            w.code
        )));
    }
    store::delete_warehouse(&tx, id).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("warehouse.delete", "warehouse", Some(id.to_string()), Some(warehouse_json(&w)), None),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get_warehouse(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Warehouse> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let w = store::get_warehouse(&tx, id).await?.ok_or(AppError::NotFound { entity: "warehouse" })?;
    tx.commit().await?;
    Ok(w)
}

pub async fn list_warehouses(app: &AppState, tenant: TenantId) -> AppResult<Vec<Warehouse>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_warehouses(&tx).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn create_bin(
    app: &AppState,
    ctx: &Ctx,
    warehouse: Uuid,
    code: String,
    name: Option<String>,
) -> AppResult<Bin> {
    let mut e = Vec::new();
    let code = match validate::name(&code, 32) {
        Ok(c) => c,
        Err(m) => {
            e.push(FieldError::new("code", m));
            String::new()
        }
    };
    let name = match name.map(|n| validate::name(&n, 200)).transpose() {
        Ok(n) => n.unwrap_or_else(|| code.clone()),
        Err(m) => {
            e.push(FieldError::new("name", m));
            String::new()
        }
    };
    errs(e)?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    store::get_warehouse(&tx, warehouse).await?.ok_or(AppError::NotFound { entity: "warehouse" })?;
    let b = Bin { id: Uuid::now_v7(), warehouse_id: warehouse, code, name, is_active: true, created_at: now };
    store::insert_bin(&tx, &b).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bin.create",
            "bin",
            Some(b.id.to_string()),
            None,
            Some(serde_json::json!({"warehouse_id": warehouse, "code": b.code})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn list_bins(app: &AppState, tenant: TenantId, warehouse: Uuid) -> AppResult<Vec<Bin>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    store::get_warehouse(&tx, warehouse).await?.ok_or(AppError::NotFound { entity: "warehouse" })?;
    let list = store::bins_of(&tx, Some(warehouse)).await?;
    tx.commit().await?;
    Ok(list)
}

// ================================================================ items

/// Fields of an item as given; `None` leaves a field as it is (on create: its default).
#[derive(Clone, Debug, Default)]
pub struct ItemInput {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub item_type: Option<String>,
    pub category: Option<Option<String>>,
    pub base_unit: Option<String>,
    pub units: Option<Vec<(String, Decimal)>>,
    pub barcode: Option<Option<String>>,
    pub batch_tracked: Option<bool>,
    pub shelf_life_days: Option<Option<i32>>,
    pub safety_stock: Option<Decimal>,
    pub reorder_point: Option<Decimal>,
    pub reorder_quantity: Option<Decimal>,
    pub max_stock: Option<Option<Decimal>>,
    pub default_warehouse_id: Option<Option<Uuid>>,
    pub standard_cost: Option<Decimal>,
    pub valuation_method: Option<String>,
    pub purchase_unit: Option<Option<String>>,
    pub sales_unit: Option<Option<String>>,
    pub weight: Option<Option<Decimal>>,
    pub is_active: Option<bool>,
}

pub fn item_json(i: &Item) -> serde_json::Value {
    serde_json::json!({
        "sku": i.sku, "name": i.name, "item_type": i.item_type, "category": i.category,
        "base_unit": i.base_unit, "units": i.units.iter().map(|(u, f)| serde_json::json!({"unit": u, "factor": f.to_string()})).collect::<Vec<_>>(),
        "barcode": i.barcode, "batch_tracked": i.batch_tracked, "shelf_life_days": i.shelf_life_days,
        "safety_stock": i.safety_stock.to_string(), "reorder_point": i.reorder_point.to_string(),
        "reorder_quantity": i.reorder_quantity.to_string(), "max_stock": i.max_stock.map(|m| m.to_string()),
        "default_warehouse_id": i.default_warehouse_id, "standard_cost": i.standard_cost.to_string(),
        "valuation_method": i.valuation_method.as_str(), "purchase_unit": i.purchase_unit,
        "sales_unit": i.sales_unit, "weight": i.weight.map(|w| w.to_string()), "is_active": i.is_active,
    })
}

fn blank_item(now: DateTime<Utc>) -> Item {
    Item {
        id: Uuid::now_v7(),
        sku: String::new(),
        name: String::new(),
        item_type: "stocked".into(),
        category: None,
        base_unit: "pcs".into(),
        units: Vec::new(),
        barcode: None,
        batch_tracked: false,
        shelf_life_days: None,
        safety_stock: Decimal::ZERO,
        reorder_point: Decimal::ZERO,
        reorder_quantity: Decimal::ZERO,
        max_stock: None,
        default_warehouse_id: None,
        standard_cost: Decimal::ZERO,
        valuation_method: Method::MovingAverage,
        purchase_unit: None,
        sales_unit: None,
        weight: None,
        is_active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn text(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Applies the input to the item and checks the whole item; field errors carry `prefix`.
fn apply_item(i: &mut Item, input: ItemInput, prefix: &str) -> Vec<FieldError> {
    let f = |name: &str| format!("{prefix}{name}");
    let mut e = Vec::new();
    if let Some(s) = input.sku {
        match validate::name(&s, 64) {
            Ok(s) if !s.contains(char::is_whitespace) => i.sku = s,
            Ok(_) => e.push(FieldError::new(f("sku"), "must not contain spaces")),
            Err(m) => e.push(FieldError::new(f("sku"), m)),
        }
    }
    if let Some(n) = input.name {
        match validate::name(&n, 200) {
            Ok(n) => i.name = n,
            Err(m) => e.push(FieldError::new(f("name"), m)),
        }
    }
    if let Some(t) = input.item_type {
        if rules::ITEM_TYPES.contains(&t.as_str()) {
            i.item_type = t;
        } else {
            e.push(FieldError::new(f("item_type"), format!("must be one of {}", rules::ITEM_TYPES.join(", "))));
        }
    }
    if let Some(c) = input.category {
        i.category = text(c);
    }
    if let Some(u) = input.base_unit {
        match validate::name(&u, 16) {
            Ok(u) => i.base_unit = u,
            Err(m) => e.push(FieldError::new(f("base_unit"), m)),
        }
    }
    if let Some(units) = input.units {
        let mut seen = HashSet::new();
        for (n, (unit, factor)) in units.iter().enumerate() {
            let unit = unit.trim();
            if unit.is_empty() || unit.chars().count() > 16 {
                e.push(FieldError::new(f(&format!("units[{n}].unit")), "must be 1 to 16 characters"));
            } else if !seen.insert(unit.to_owned()) {
                e.push(FieldError::new(f(&format!("units[{n}].unit")), format!("{unit} is listed twice")));
            }
            if *factor <= Decimal::ZERO {
                e.push(FieldError::new(f(&format!("units[{n}].factor")), "must be positive"));
            } else if factor.normalize().scale() > 6 {
                e.push(FieldError::new(f(&format!("units[{n}].factor")), "has more than 6 decimal places"));
            }
        }
        i.units = units.into_iter().map(|(u, f)| (u.trim().to_owned(), f.normalize())).collect();
    }
    if i.units.iter().any(|(u, _)| *u == i.base_unit) {
        e.push(FieldError::new(f("units"), format!("{} is the base unit; list only other units", i.base_unit)));
    }
    if let Some(b) = input.barcode {
        i.barcode = text(b);
    }
    if let Some(b) = input.batch_tracked {
        i.batch_tracked = b;
    }
    if let Some(s) = input.shelf_life_days {
        match s {
            Some(d) if d <= 0 => e.push(FieldError::new(f("shelf_life_days"), "must be positive")),
            _ => i.shelf_life_days = s,
        }
    }
    for (name, value, slot) in [
        ("safety_stock", input.safety_stock, &mut i.safety_stock),
        ("reorder_point", input.reorder_point, &mut i.reorder_point),
        ("reorder_quantity", input.reorder_quantity, &mut i.reorder_quantity),
    ] {
        if let Some(v) = value {
            if v < Decimal::ZERO {
                e.push(FieldError::new(f(name), "must not be negative"));
            } else {
                *slot = v;
            }
        }
    }
    if let Some(m) = input.max_stock {
        if m.is_some_and(|m| m < Decimal::ZERO) {
            e.push(FieldError::new(f("max_stock"), "must not be negative"));
        } else {
            i.max_stock = m;
        }
    }
    if let Some(m) = i.max_stock
        && m < i.reorder_point.max(i.safety_stock)
    {
        e.push(FieldError::new(f("max_stock"), "must be at least the reorder point and the safety stock"));
    }
    if let Some(w) = input.default_warehouse_id {
        i.default_warehouse_id = w;
    }
    if let Some(c) = input.standard_cost {
        if c < Decimal::ZERO {
            e.push(FieldError::new(f("standard_cost"), "must not be negative"));
        } else {
            i.standard_cost = c;
        }
    }
    if let Some(m) = input.valuation_method {
        match Method::parse(&m) {
            Some(m) => i.valuation_method = m,
            None => e.push(FieldError::new(f("valuation_method"), "must be moving_average or fifo")),
        }
    }
    if let Some(u) = input.purchase_unit {
        i.purchase_unit = text(u);
    }
    if let Some(u) = input.sales_unit {
        i.sales_unit = text(u);
    }
    for (name, unit) in [("purchase_unit", &i.purchase_unit), ("sales_unit", &i.sales_unit)] {
        if let Some(u) = unit
            && i.factor(u).is_none()
        {
            e.push(FieldError::new(f(name), format!("{u} is neither the base unit nor one of the item's units")));
        }
    }
    if let Some(w) = input.weight {
        if w.is_some_and(|w| w < Decimal::ZERO) {
            e.push(FieldError::new(f("weight"), "must not be negative"));
        } else {
            i.weight = w;
        }
    }
    if let Some(a) = input.is_active {
        i.is_active = a;
    }
    if i.item_type == "service" && i.batch_tracked {
        e.push(FieldError::new(f("batch_tracked"), "a service item holds no stock"));
    }
    if i.sku.is_empty() && !e.iter().any(|x| x.field == f("sku")) {
        e.push(FieldError::new(f("sku"), "is required"));
    }
    if i.name.is_empty() && !e.iter().any(|x| x.field == f("name")) {
        e.push(FieldError::new(f("name"), "is required"));
    }
    e
}

async fn check_default_warehouse(tx: &TenantTx<'_>, i: &Item) -> AppResult<()> {
    if let Some(w) = i.default_warehouse_id
        && store::get_warehouse(tx, w).await?.is_none()
    {
        return Err(AppError::field("default_warehouse_id", "no such warehouse"));
    }
    Ok(())
}

pub async fn create_item(app: &AppState, ctx: &Ctx, input: ItemInput) -> AppResult<Item> {
    let now = app.now();
    let mut i = blank_item(now);
    errs(apply_item(&mut i, input, ""))?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    check_default_warehouse(&tx, &i).await?;
    store::insert_item(&tx, &i).await?;
    record(&tx, ctx, now, Change::new("item.create", "item", Some(i.id.to_string()), None, Some(item_json(&i))))
        .await?;
    tx.commit().await?;
    Ok(i)
}

pub async fn update_item(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    expected_version: i64,
    input: ItemInput,
) -> AppResult<Item> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut i = store::get_item(&tx, id).await?.ok_or(AppError::NotFound { entity: "item" })?;
    if i.version != expected_version {
        return Err(stale("item", i.version));
    }
    let before = i.clone();
    errs(apply_item(&mut i, input, ""))?;
    check_default_warehouse(&tx, &i).await?;
    i.updated_at = now;
    i.version += 1;
    if !store::save_item(&tx, &i).await? {
        return Err(stale("item", before.version));
    }
    // Saved first: the row lock makes this wait for postings of the item in flight, so the check
    // below sees their movements.
    refuse_fixed_changes(&tx, &before, &i).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("item.update", "item", Some(id.to_string()), Some(item_json(&before)), Some(item_json(&i))),
    )
    .await?;
    tx.commit().await?;
    Ok(i)
}

/// Refuses changes that would misvalue stock already moved: method, base unit, batch tracking,
/// turning a stocked item into a service (or back), and removing or changing a unit conversion.
async fn refuse_fixed_changes(tx: &TenantTx<'_>, before: &Item, i: &Item) -> AppResult<()> {
    let fixed_once_moved = [
        ("valuation_method", before.valuation_method != i.valuation_method),
        ("base_unit", before.base_unit != i.base_unit),
        ("batch_tracked", before.batch_tracked != i.batch_tracked),
        ("item_type", before.item_type != i.item_type && (i.item_type == "service" || before.item_type == "service")),
    ];
    let changed: Vec<&str> = fixed_once_moved.iter().filter(|(_, c)| *c).map(|(f, _)| *f).collect();
    let removed_units: Vec<&String> = before
        .units
        .iter()
        .filter(|(u, f)| !i.units.iter().any(|(u2, f2)| u2 == u && f2 == f))
        .map(|(u, _)| u)
        .collect();
    if (!changed.is_empty() || !removed_units.is_empty()) && store::item_has_movements(tx, i.id).await? {
        let what = changed
            .iter()
            .map(|c| c.to_string())
            .chain(removed_units.iter().map(|u| format!("unit {u}")))
            .collect::<Vec<_>>();
        return Err(AppError::Conflict(format!(
            "item {} has stock movements; {} can no longer change",
            i.sku,
            what.join(", ")
        )));
    }
    Ok(())
}

/// Deletes an item nothing refers to; one that has moved or was invoiced is deactivated instead.
pub async fn delete_item(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let i = store::get_item(&tx, id).await?.ok_or(AppError::NotFound { entity: "item" })?;
    // Under the planning lock: an MRP run in progress may be about to suggest this item.
    crate::store::production::lock_planning(&tx).await?;
    if let Some(why) = store::item_in_use(&tx, id).await? {
        return Err(AppError::Conflict(format!("item {} cannot be deleted: {why}; deactivate it instead", i.sku)));
    }
    store::delete_item(&tx, id).await?;
    record(&tx, ctx, now, Change::new("item.delete", "item", Some(id.to_string()), Some(item_json(&i)), None)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get_item(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Item> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let i = store::get_item(&tx, id).await?.ok_or(AppError::NotFound { entity: "item" })?;
    tx.commit().await?;
    Ok(i)
}

pub async fn list_items(app: &AppState, tenant: TenantId, f: &ItemFilter, page: &Page) -> AppResult<Vec<Item>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_items(&tx, f, page).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn batches(app: &AppState, tenant: TenantId, item: Uuid) -> AppResult<Vec<(Batch, Decimal)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    store::get_item(&tx, item).await?.ok_or(AppError::NotFound { entity: "item" })?;
    let list = store::batches_of(&tx, item).await?;
    let mut on_hand: HashMap<Uuid, Decimal> = HashMap::new();
    for (_, _, b, q) in store::all_batch_levels(&tx, &LevelFilter { item_id: Some(item), ..Default::default() }).await?
    {
        *on_hand.entry(b).or_default() += q;
    }
    tx.commit().await?;
    Ok(list
        .into_iter()
        .map(|b| {
            let q = on_hand.get(&b.id).copied().unwrap_or_default();
            (b, q)
        })
        .collect())
}

// ---------------------------------------------------------------- CSV import

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportResult {
    pub items_created: usize,
    pub items_updated: usize,
    pub opening_receipt: Option<StockDocument>,
}

const IMPORT_COLUMNS: &[&str] = &[
    "sku",
    "name",
    "item_type",
    "category",
    "base_unit",
    "units",
    "barcode",
    "batch_tracked",
    "shelf_life_days",
    "safety_stock",
    "reorder_point",
    "reorder_quantity",
    "max_stock",
    "default_warehouse",
    "standard_cost",
    "valuation_method",
    "purchase_unit",
    "sales_unit",
    "weight",
    "opening_quantity",
    "opening_unit_cost",
    "opening_warehouse",
    "lot_number",
    "expiry_date",
];

/// Imports items (new SKUs are created, known ones updated) and, where rows give an opening
/// quantity, one opening goods receipt dated `opening_date`. All or nothing: any error in any
/// row writes nothing and every error is returned as `csv[row N].column`.
pub async fn import_items(
    app: &AppState,
    ctx: &Ctx,
    csv_text: &str,
    opening_date: Option<NaiveDate>,
) -> AppResult<ImportResult> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::field("csv", format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut e = Vec::new();
    for h in &headers {
        if !IMPORT_COLUMNS.contains(&h.as_str()) {
            e.push(FieldError::new(
                format!("csv.header.{h}"),
                format!("unknown column; known: {}", IMPORT_COLUMNS.join(", ")),
            ));
        }
    }
    if !headers.iter().any(|h| h == "sku") {
        e.push(FieldError::new("csv.header", "the sku column is required"));
    }
    errs(e)?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let warehouses: HashMap<String, Warehouse> =
        store::list_warehouses(&tx).await?.into_iter().map(|w| (w.code.clone(), w)).collect();
    let mut rows: Vec<(usize, HashMap<String, String>)> = Vec::new();
    let mut e = Vec::new();
    for (n, rec) in reader.records().enumerate() {
        let row = n + 2;
        match rec {
            Ok(r) => rows.push((row, headers.iter().cloned().zip(r.iter().map(str::to_owned)).collect())),
            Err(err) => e.push(FieldError::new(format!("csv[row {row}]"), err.to_string())),
        }
        if rows.len() > IMPORT_ROWS_MAX {
            return Err(AppError::field("csv", format!("at most {IMPORT_ROWS_MAX} rows per import")));
        }
    }
    if rows.is_empty() && e.is_empty() {
        return Err(AppError::field("csv", "has no rows"));
    }
    let skus: Vec<String> = rows.iter().filter_map(|(_, r)| r.get("sku").cloned()).collect();
    let existing = store::items_by_sku(&tx, &skus).await?;
    let now = app.now();
    let mut seen = HashSet::new();
    let mut items: Vec<(bool, Item, Item)> = Vec::new();
    let mut opening: Vec<OpeningRow> = Vec::new();
    for (row, r) in &rows {
        let at = |c: &str| format!("csv[row {row}].{c}");
        let get = |c: &str| r.get(c).map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut input = ItemInput::default();
        let sku = get("sku").unwrap_or_default();
        if !sku.is_empty() && !seen.insert(sku.clone()) {
            e.push(FieldError::new(at("sku"), format!("{sku} appears in more than one row")));
        }
        input.sku = Some(sku.clone());
        input.name = get("name");
        input.item_type = get("item_type");
        if r.contains_key("category") {
            input.category = Some(get("category"));
        }
        input.base_unit = get("base_unit");
        if let Some(units) = get("units") {
            // "box=12; g=0.001"
            let mut list = Vec::new();
            for part in units.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                match part.split_once('=').map(|(u, f)| (u.trim(), f.trim().parse::<Decimal>())) {
                    Some((u, Ok(f))) => list.push((u.to_owned(), f)),
                    _ => {
                        e.push(FieldError::new(at("units"), format!("{part}: write units as unit=factor; unit=factor")))
                    }
                }
            }
            input.units = Some(list);
        }
        if r.contains_key("barcode") {
            input.barcode = Some(get("barcode"));
        }
        if let Some(b) = get("batch_tracked") {
            match b.to_lowercase().as_str() {
                "true" | "yes" | "1" | "y" => input.batch_tracked = Some(true),
                "false" | "no" | "0" | "n" => input.batch_tracked = Some(false),
                _ => e.push(FieldError::new(at("batch_tracked"), "must be true or false")),
            }
        }
        if let Some(d) = get("shelf_life_days") {
            match d.parse::<i32>() {
                Ok(d) => input.shelf_life_days = Some(Some(d)),
                Err(_) => e.push(FieldError::new(at("shelf_life_days"), "must be a whole number of days")),
            }
        }
        let mut dec = |c: &str, scale: u32| -> Option<Decimal> {
            let v = get(c)?;
            match v.parse::<Decimal>() {
                Ok(d) if d.normalize().scale() <= scale => Some(d),
                Ok(_) => {
                    e.push(FieldError::new(at(c), format!("has more than {scale} decimal places")));
                    None
                }
                Err(_) => {
                    e.push(FieldError::new(at(c), format!("{v} is not a number")));
                    None
                }
            }
        };
        input.safety_stock = dec("safety_stock", 4);
        input.reorder_point = dec("reorder_point", 4);
        input.reorder_quantity = dec("reorder_quantity", 4);
        input.max_stock = dec("max_stock", 4).map(Some);
        input.standard_cost = dec("standard_cost", 4);
        input.weight = dec("weight", 4).map(Some);
        let opening_quantity = dec("opening_quantity", 4);
        let opening_cost = dec("opening_unit_cost", 4);
        input.valuation_method = get("valuation_method");
        if r.contains_key("purchase_unit") {
            input.purchase_unit = Some(get("purchase_unit"));
        }
        if r.contains_key("sales_unit") {
            input.sales_unit = Some(get("sales_unit"));
        }
        if let Some(code) = get("default_warehouse") {
            match warehouses.get(&code) {
                Some(w) => input.default_warehouse_id = Some(Some(w.id)),
                None => e.push(FieldError::new(at("default_warehouse"), format!("no warehouse with code {code}"))),
            }
        }
        let (is_new, mut item) = match existing.get(&sku) {
            Some(i) => (false, i.clone()),
            None => (true, blank_item(now)),
        };
        let before = item.clone();
        e.extend(apply_item(&mut item, input, &format!("csv[row {row}].")));
        if let Some(q) = opening_quantity.filter(|q| !q.is_zero()) {
            if q < Decimal::ZERO {
                e.push(FieldError::new(at("opening_quantity"), "must not be negative"));
            }
            let wh = get("opening_warehouse").or_else(|| get("default_warehouse"));
            let wh = match wh {
                Some(code) => match warehouses.get(&code) {
                    Some(w) => Some(w.id),
                    None => {
                        e.push(FieldError::new(at("opening_warehouse"), format!("no warehouse with code {code}")));
                        None
                    }
                },
                None => {
                    e.push(FieldError::new(at("opening_warehouse"), "is required with an opening quantity"));
                    None
                }
            };
            let cost = opening_cost.or(Some(item.standard_cost)).unwrap_or_default();
            let lot = get("lot_number");
            let expiry = match get("expiry_date").map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d")) {
                Some(Ok(d)) => Some(d),
                Some(Err(_)) => {
                    e.push(FieldError::new(at("expiry_date"), "must be a date like 2027-06-30"));
                    None
                }
                None => None,
            };
            if item.batch_tracked && lot.is_none() {
                e.push(FieldError::new(at("lot_number"), "is required for a batch-tracked item's opening stock"));
            }
            if !item.batch_tracked && lot.is_some() {
                e.push(FieldError::new(at("lot_number"), format!("item {} is not batch tracked", item.sku)));
            }
            if !rules::is_stocked(&item.item_type) {
                e.push(FieldError::new(at("opening_quantity"), "a service item holds no stock"));
            }
            if let Some(w) = wh {
                opening.push((*row, item.clone(), w, q, cost, lot, expiry));
            }
        }
        items.push((is_new, before, item));
    }
    if !opening.is_empty() && opening_date.is_none() {
        e.push(FieldError::new("opening_date", "is required when rows carry an opening quantity"));
    }
    errs(e)?;
    let mut result = ImportResult::default();
    for (is_new, before, item) in &mut items {
        if *is_new {
            store::insert_item(&tx, item).await?;
            record(
                &tx,
                ctx,
                now,
                Change::new("item.create", "item", Some(item.id.to_string()), None, Some(item_json(item))),
            )
            .await?;
            result.items_created += 1;
        } else if before != item {
            item.updated_at = now;
            item.version += 1;
            if !store::save_item(&tx, item).await? {
                return Err(stale("item", before.version));
            }
            refuse_fixed_changes(&tx, before, item).await?;
            record(
                &tx,
                ctx,
                now,
                Change::new(
                    "item.update",
                    "item",
                    Some(item.id.to_string()),
                    Some(item_json(before)),
                    Some(item_json(item)),
                ),
            )
            .await?;
            result.items_updated += 1;
        }
    }
    if let (false, Some(date)) = (opening.is_empty(), opening_date) {
        // One opening receipt per warehouse would also do; one document keeps the import whole.
        let mut by_wh: BTreeMap<Uuid, Vec<LineInput>> = BTreeMap::new();
        for (row, item, wh, q, cost, lot, expiry) in opening {
            by_wh.entry(wh).or_default().push(LineInput {
                item_id: Some(item.id),
                quantity: Some(q),
                unit_cost: Some(cost),
                lot_number: lot,
                expiry_date: expiry,
                source_row: Some(row),
                ..Default::default()
            });
        }
        for (wh, lines) in by_wh {
            let input = DocumentInput {
                kind: Some("receipt".into()),
                date: Some(date),
                warehouse_id: Some(wh),
                purpose: Some("opening".into()),
                memo: Some("Opening stock (import)".into()),
                lines: Some(lines),
                ..Default::default()
            };
            let (doc, lines) = build_document(&tx, now, Some(ctx.principal.actor_uuid()), input).await?;
            store::insert_document(&tx, &doc, &lines).await?;
            let posted = post_loaded(&tx, ctx, doc, lines, now).await?;
            result.opening_receipt = Some(posted.0);
        }
    }
    tx.commit().await?;
    Ok(result)
}

/// One row's opening stock: CSV row, item, warehouse, quantity, unit cost, lot, expiry.
type OpeningRow = (usize, Item, Uuid, Decimal, Decimal, Option<String>, Option<NaiveDate>);

// ================================================================ documents

pub const KINDS: &[&str] = &["receipt", "issue", "transfer", "stocktake", "landed_cost"];

#[derive(Clone, Debug, Default)]
pub struct LineInput {
    pub item_id: Option<Uuid>,
    pub sku: Option<String>,
    pub quantity: Option<Decimal>,
    pub unit: Option<String>,
    pub unit_cost: Option<Decimal>,
    pub lot_number: Option<String>,
    pub production_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
    pub bin_id: Option<Uuid>,
    pub to_bin_id: Option<Uuid>,
    /// For errors of imported rows: the CSV row.
    pub source_row: Option<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct DocumentInput {
    pub kind: Option<String>,
    pub date: Option<NaiveDate>,
    pub warehouse_id: Option<Uuid>,
    pub to_warehouse_id: Option<Uuid>,
    pub purpose: Option<String>,
    pub reason: Option<String>,
    pub memo: Option<String>,
    pub counter_account_id: Option<Uuid>,
    /// Landed cost: how to share `amount` out, and over which receipts.
    pub basis: Option<String>,
    pub amount: Option<Decimal>,
    pub receipt_ids: Option<Vec<Uuid>>,
    pub lines: Option<Vec<LineInput>>,
}

pub fn document_json(d: &StockDocument, lines: &[StockLine]) -> serde_json::Value {
    serde_json::json!({
        "kind": d.kind, "number": d.number, "status": d.status, "date": d.doc_date.to_string(),
        "warehouse_id": d.warehouse_id, "to_warehouse_id": d.to_warehouse_id, "purpose": d.purpose,
        "reason": d.reason, "memo": d.memo, "basis": d.basis,
        "lines": lines.iter().map(|l| serde_json::json!({
            "item_id": l.item_id, "unit": l.unit, "unit_quantity": l.unit_quantity.to_string(),
            "quantity": l.quantity.to_string(), "unit_cost": l.unit_cost.map(|c| c.to_string()),
            "lot_number": l.lot_number, "counted_quantity": l.counted_quantity.map(|c| c.to_string()),
            "amount": l.amount.map(|a| a.to_string()),
        })).collect::<Vec<_>>(),
    })
}

fn line_field(l: &LineInput, n: usize, field: &str) -> String {
    match l.source_row {
        Some(row) => format!("csv[row {row}].{}", if field == "quantity" { "opening_quantity" } else { field }),
        None => format!("lines[{n}].{field}"),
    }
}

/// Checks a document's input against the tenant's items and warehouses and builds the draft.
async fn build_document(
    tx: &TenantTx<'_>,
    now: DateTime<Utc>,
    created_by: Option<Uuid>,
    input: DocumentInput,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let mut doc = StockDocument {
        id: Uuid::now_v7(),
        kind: String::new(),
        number: None,
        status: "draft".into(),
        doc_date: now.date_naive(),
        warehouse_id: None,
        to_warehouse_id: None,
        purpose: None,
        reason: None,
        memo: String::new(),
        basis: None,
        counter_account_id: None,
        shipped_date: None,
        received_date: None,
        frozen_at: None,
        source_type: None,
        source_id: None,
        journal_entry_id: None,
        created_by,
        posted_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let lines = fill_document(tx, &mut doc, input, true).await?;
    Ok((doc, lines))
}

/// Applies input to a draft (all of it on create) and returns its checked lines.
async fn fill_document(
    tx: &TenantTx<'_>,
    doc: &mut StockDocument,
    input: DocumentInput,
    creating: bool,
) -> AppResult<Vec<StockLine>> {
    let mut e = Vec::new();
    if creating {
        match input.kind.as_deref() {
            Some(k) if KINDS.contains(&k) => doc.kind = k.to_owned(),
            Some(_) => e.push(FieldError::new("kind", format!("must be one of {}", KINDS.join(", ")))),
            None => e.push(FieldError::new("kind", "is required")),
        }
    } else if input.kind.as_deref().is_some_and(|k| k != doc.kind) {
        e.push(FieldError::new("kind", "cannot change; create another document"));
    }
    errs(e)?;
    let mut e = Vec::new();
    if let Some(d) = input.date {
        doc.doc_date = d;
    }
    if let Some(w) = input.warehouse_id {
        doc.warehouse_id = Some(w);
    }
    if let Some(w) = input.to_warehouse_id {
        doc.to_warehouse_id = Some(w);
    }
    if let Some(m) = input.memo.clone() {
        doc.memo = m.trim().chars().take(500).collect();
    }
    if let Some(a) = input.counter_account_id {
        doc.counter_account_id = Some(a);
    }
    let kind = doc.kind.clone();
    match kind.as_str() {
        "receipt" => {
            let p = input.purpose.clone().or(doc.purpose.clone()).unwrap_or_else(|| "miscellaneous".into());
            if p != "opening" && p != "miscellaneous" {
                e.push(FieldError::new("purpose", "must be opening or miscellaneous"));
            }
            doc.purpose = Some(p);
        }
        "issue" => {
            if let Some(r) = input.reason.clone() {
                doc.reason = Some(r.trim().to_owned()).filter(|r| !r.is_empty());
            }
            if doc.reason.is_none() {
                e.push(FieldError::new("reason", "say why the goods leave (sample, scrap, internal use...)"));
            }
        }
        "landed_cost" => {
            let b = input.basis.clone().or(doc.basis.clone()).unwrap_or_else(|| "value".into());
            if !["quantity", "value", "weight"].contains(&b.as_str()) {
                e.push(FieldError::new("basis", "must be quantity, value or weight"));
            }
            doc.basis = Some(b);
        }
        _ => {}
    }
    let warehouses: HashMap<Uuid, Warehouse> =
        store::list_warehouses(tx).await?.into_iter().map(|w| (w.id, w)).collect();
    let needs_wh = kind != "landed_cost";
    match doc.warehouse_id {
        Some(w) if !warehouses.contains_key(&w) => e.push(FieldError::new("warehouse_id", "no such warehouse")),
        Some(w) if !warehouses[&w].is_active => {
            e.push(FieldError::new("warehouse_id", format!("warehouse {} is inactive", warehouses[&w].code)))
        }
        None if needs_wh => e.push(FieldError::new("warehouse_id", "is required")),
        _ => {}
    }
    if kind == "transfer" {
        match doc.to_warehouse_id {
            None => e.push(FieldError::new("to_warehouse_id", "is required")),
            Some(w) if !warehouses.contains_key(&w) => e.push(FieldError::new("to_warehouse_id", "no such warehouse")),
            Some(w) if Some(w) == doc.warehouse_id => e.push(FieldError::new(
                "to_warehouse_id",
                "must differ from warehouse_id: a transfer moves goods between two warehouses",
            )),
            Some(w) if !warehouses[&w].is_active => {
                e.push(FieldError::new("to_warehouse_id", format!("warehouse {} is inactive", warehouses[&w].code)))
            }
            _ => {}
        }
    }
    if let Some(a) = doc.counter_account_id {
        let facts = crate::store::ledger::account_facts(tx, &[a]).await?;
        let m = mapping(tx).await?;
        let stock_account = ["inventory", "goods_in_transit"].iter().any(|p| m.get(*p) == Some(&a));
        match facts.get(&a) {
            None => e.push(FieldError::new("counter_account_id", "no such account")),
            Some(_) if stock_account => e.push(FieldError::new(
                "counter_account_id",
                "is the inventory or goods-in-transit account itself; name the account on the other side",
            )),
            Some(f) if !f.is_postable || !f.is_active => {
                e.push(FieldError::new("counter_account_id", "is not a postable (active leaf) account"))
            }
            _ => {}
        }
    }
    if kind == "landed_cost" {
        let lines = landed_cost_lines(tx, doc, &input, &mut e).await?;
        errs(e)?;
        return Ok(lines);
    }
    let Some(inputs) = input.lines else {
        errs(e)?;
        return if creating && kind != "stocktake" {
            Err(AppError::field("lines", "at least one line is required"))
        } else {
            Ok(Vec::new())
        };
    };
    if inputs.is_empty() && kind != "stocktake" {
        e.push(FieldError::new("lines", "at least one line is required"));
    }
    if inputs.len() > DOCUMENT_LINES_MAX {
        return Err(AppError::field("lines", format!("at most {DOCUMENT_LINES_MAX} lines per document")));
    }
    let ids: Vec<Uuid> = inputs.iter().filter_map(|l| l.item_id).collect();
    let skus: Vec<String> = inputs.iter().filter_map(|l| l.sku.clone()).collect();
    let mut items = store::get_items(tx, &ids).await?;
    let by_sku = store::items_by_sku(tx, &skus).await?;
    items.extend(by_sku.values().map(|i| (i.id, i.clone())));
    let bin_ids: Vec<Uuid> = inputs.iter().flat_map(|l| [l.bin_id, l.to_bin_id]).flatten().collect();
    let bins = store::get_bins(tx, &bin_ids).await?;
    let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    let mut lines = Vec::new();
    for (n, l) in inputs.into_iter().enumerate() {
        let f = |field: &str| line_field(&l, n, field);
        let item = match (l.item_id, &l.sku) {
            (Some(id), _) => items.get(&id),
            (None, Some(sku)) => by_sku.get(sku),
            (None, None) => {
                e.push(FieldError::new(f("item_id"), "is required"));
                continue;
            }
        };
        let Some(item) = item else {
            e.push(FieldError::new(f("item_id"), "no such item"));
            continue;
        };
        if !rules::is_stocked(&item.item_type) {
            e.push(FieldError::new(f("item_id"), format!("{} is a service item and holds no stock", item.sku)));
            continue;
        }
        if !item.is_active && kind != "stocktake" {
            e.push(FieldError::new(f("item_id"), format!("{} is inactive", item.sku)));
        }
        let unit = l.unit.clone().map(|u| u.trim().to_owned()).unwrap_or_else(|| item.base_unit.clone());
        let Some(factor) = item.factor(&unit) else {
            let known: Vec<&str> =
                std::iter::once(item.base_unit.as_str()).chain(item.units.iter().map(|(u, _)| u.as_str())).collect();
            e.push(FieldError::new(
                f("unit"),
                format!("{} has no conversion for {unit}; known units: {}", item.sku, known.join(", ")),
            ));
            continue;
        };
        let unit_quantity = l.quantity.unwrap_or_default();
        let quantity = if kind == "stocktake" {
            Decimal::ZERO
        } else {
            match (l.quantity, rules::to_base(unit_quantity, factor)) {
                (None, _) => {
                    e.push(FieldError::new(f("quantity"), "is required"));
                    continue;
                }
                (Some(q), _) if q <= Decimal::ZERO => {
                    e.push(FieldError::new(f("quantity"), "must be positive"));
                    continue;
                }
                (_, Err(m)) => {
                    e.push(FieldError::new(f("quantity"), m));
                    continue;
                }
                (_, Ok(q)) => q,
            }
        };
        let lot = l.lot_number.clone().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if lot.is_some() && !item.batch_tracked {
            e.push(FieldError::new(f("lot_number"), format!("{} is not batch tracked", item.sku)));
        }
        if kind == "receipt" && item.batch_tracked && lot.is_none() {
            e.push(FieldError::new(f("lot_number"), format!("{} is batch tracked; give the lot received", item.sku)));
        }
        let batch_id = match &lot {
            Some(lot) if kind != "receipt" => match store::batch_by_lot(tx, item.id, lot).await? {
                Some(b) => Some(b.id),
                None => {
                    e.push(FieldError::new(f("lot_number"), format!("{} has no lot {lot}", item.sku)));
                    None
                }
            },
            _ => None,
        };
        let unit_cost = match (kind.as_str(), l.unit_cost) {
            ("receipt", Some(c)) if c < Decimal::ZERO => {
                e.push(FieldError::new(f("unit_cost"), "must not be negative"));
                None
            }
            ("receipt", Some(c)) => Some(c),
            ("receipt", None) => Some(item.standard_cost * factor).map(|c| round(c, 4)),
            (_, Some(_)) => {
                e.push(FieldError::new(
                    f("unit_cost"),
                    "only receipts take a cost; issues are valued by the item's method",
                ));
                None
            }
            _ => None,
        };
        let _ = digits;
        for (field, bin, wh) in
            [("bin_id", l.bin_id, doc.warehouse_id), ("to_bin_id", l.to_bin_id, doc.to_warehouse_id)]
        {
            if let Some(b) = bin {
                match bins.get(&b) {
                    Some(b) if Some(b.warehouse_id) == wh => {}
                    Some(b) => e.push(FieldError::new(f(field), format!("bin {} is in another warehouse", b.code))),
                    None => e.push(FieldError::new(f(field), "no such bin")),
                }
            }
        }
        lines.push(StockLine {
            line_no: lines.len() as i32 + 1,
            item_id: item.id,
            unit,
            unit_quantity,
            quantity,
            unit_cost,
            batch_id,
            lot_number: lot,
            production_date: l.production_date,
            expiry_date: l.expiry_date,
            bin_id: l.bin_id,
            to_bin_id: l.to_bin_id,
            book_quantity: None,
            counted_quantity: None,
            target_entry_id: None,
            amount: None,
        });
    }
    errs(e)?;
    Ok(lines)
}

/// The receipts' incoming entries a landed cost lands on, each with its share of `amount`.
async fn landed_cost_lines(
    tx: &TenantTx<'_>,
    doc: &StockDocument,
    input: &DocumentInput,
    e: &mut Vec<FieldError>,
) -> AppResult<Vec<StockLine>> {
    let Some(amount) = input.amount else {
        e.push(FieldError::new("amount", "is required: the freight, duty or other charge to share out"));
        return Ok(Vec::new());
    };
    if amount <= Decimal::ZERO {
        e.push(FieldError::new("amount", "must be positive"));
    }
    let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    if amount.normalize().scale() > digits {
        e.push(FieldError::new("amount", format!("has more than {digits} decimal places")));
    }
    let receipts = input.receipt_ids.clone().unwrap_or_default();
    if receipts.is_empty() {
        e.push(FieldError::new("receipt_ids", "name the receipts the charge belongs to"));
    }
    let mut targets: Vec<LedgerEntry> = Vec::new();
    for (n, r) in receipts.iter().enumerate() {
        match store::get_document(tx, *r).await? {
            Some((d, _)) if d.status == "posted" && (d.kind == "receipt" || d.kind == "purchase_receipt") => {
                targets.extend(
                    store::entries_of_document(tx, d.id)
                        .await?
                        .into_iter()
                        .filter(|x| x.quantity > Decimal::ZERO && x.adjusts_entry_id.is_none()),
                );
            }
            Some(d) => e.push(FieldError::new(
                format!("receipt_ids[{n}]"),
                format!("{} is a {} ({}), not a posted receipt", d.0.number.unwrap_or_default(), d.0.kind, d.0.status),
            )),
            None => e.push(FieldError::new(format!("receipt_ids[{n}]"), "no such receipt")),
        }
    }
    if !e.is_empty() || targets.is_empty() {
        return Ok(Vec::new());
    }
    let items = store::get_items(tx, &targets.iter().map(|t| t.item_id).collect::<Vec<_>>()).await?;
    let basis = doc.basis.clone().unwrap_or_default();
    let mut weights = Vec::new();
    for t in &targets {
        weights.push(match basis.as_str() {
            "quantity" => t.quantity,
            "weight" => {
                let w = items.get(&t.item_id).and_then(|i| i.weight);
                if w.is_none() {
                    let sku = items.get(&t.item_id).map(|i| i.sku.clone()).unwrap_or_default();
                    e.push(FieldError::new(
                        "basis",
                        format!("item {sku} has no weight; share by quantity or value, or set its weight"),
                    ));
                }
                t.quantity * w.unwrap_or_default()
            }
            _ => t.value,
        });
    }
    let shares = share_out(amount, &weights, digits);
    Ok(targets
        .iter()
        .zip(shares)
        .enumerate()
        .map(|(n, (t, share))| StockLine {
            line_no: n as i32 + 1,
            item_id: t.item_id,
            unit: items.get(&t.item_id).map(|i| i.base_unit.clone()).unwrap_or_default(),
            unit_quantity: t.quantity,
            quantity: t.quantity,
            unit_cost: None,
            batch_id: t.batch_id,
            lot_number: None,
            production_date: None,
            expiry_date: None,
            bin_id: None,
            to_bin_id: None,
            book_quantity: None,
            counted_quantity: None,
            target_entry_id: Some(t.id),
            amount: Some(share),
        })
        .collect())
}

pub async fn create_document(
    app: &AppState,
    ctx: &Ctx,
    input: DocumentInput,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut doc, mut lines) = build_document(&tx, now, Some(ctx.principal.actor_uuid()), input).await?;
    if doc.kind == "stocktake" {
        lines = freeze_sheet(&tx, &doc, lines).await?;
        doc.status = "counting".into();
        doc.frozen_at = Some(now);
    }
    store::insert_document(&tx, &doc, &lines).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "stock_document.create",
            "stock_document",
            Some(doc.id.to_string()),
            None,
            Some(document_json(&doc, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((doc, lines))
}

/// A stocktake's count sheet: the lines asked for (or every item with a level in the
/// warehouse), one per batch for batch-tracked items, each with the book quantity now.
async fn freeze_sheet(tx: &TenantTx<'_>, doc: &StockDocument, asked: Vec<StockLine>) -> AppResult<Vec<StockLine>> {
    let wh = doc.warehouse_id.unwrap_or_default();
    // Book quantities at the end of the sheet's date: the differences post on that date.
    let mut book: HashMap<(Uuid, Option<Uuid>), Decimal> = HashMap::new();
    for (item, _, batch, q, _) in store::ledger_sums(tx, Some(doc.doc_date), None, Some(wh), true).await? {
        *book.entry((item, batch)).or_default() += q;
    }
    let item_ids: Vec<Uuid> = if asked.is_empty() {
        let mut ids: Vec<Uuid> = book.iter().filter(|(_, q)| !q.is_zero()).map(|((i, _), _)| *i).collect();
        ids.sort();
        ids.dedup();
        ids
    } else {
        let mut seen = HashSet::new();
        asked.iter().map(|l| l.item_id).filter(|i| seen.insert(*i)).collect()
    };
    let open = open_counts(tx, wh).await?;
    if let Some(taken) = item_ids.iter().find(|i| open.contains(i)) {
        let sku = store::get_item(tx, *taken).await?.map(|i| i.sku).unwrap_or_default();
        return Err(AppError::Conflict(format!(
            "item {sku} is already on a count sheet of this warehouse that is being counted; post or delete that one first"
        )));
    }
    let items = store::get_items(tx, &item_ids).await?;
    let mut lines = Vec::new();
    for id in item_ids {
        let Some(item) = items.get(&id) else { continue };
        if item.batch_tracked {
            let mut rows: Vec<(Uuid, Decimal)> = book
                .iter()
                .filter_map(|((i, b), q)| (*i == id && !q.is_zero()).then_some((*b)?).map(|b| (b, *q)))
                .collect();
            let batches = store::get_batches(tx, &rows.iter().map(|r| r.0).collect::<Vec<_>>()).await?;
            rows.sort_by_key(|(b, _)| batches.get(b).map(|b| b.lot_number.clone()));
            for (b, q) in rows {
                lines.push(sheet_line(lines.len(), item, Some(b), batches.get(&b).map(|b| b.lot_number.clone()), q));
            }
        } else {
            let q = book.get(&(id, None)).copied().unwrap_or_default();
            lines.push(sheet_line(lines.len(), item, None, None, q));
        }
    }
    Ok(lines)
}

/// Items on count sheets of a warehouse that are still being counted.
async fn open_counts(tx: &TenantTx<'_>, warehouse: Uuid) -> AppResult<HashSet<Uuid>> {
    let f = DocumentFilter {
        kind: Some("stocktake".into()),
        status: Some("counting".into()),
        warehouse_id: Some(warehouse),
        ..Default::default()
    };
    let mut out = HashSet::new();
    for d in store::list_documents(tx, &f, &Page { limit: 1000, after: None }).await? {
        if let Some((_, lines)) = store::get_document(tx, d.id).await? {
            out.extend(lines.iter().map(|l| l.item_id));
        }
    }
    Ok(out)
}

fn sheet_line(n: usize, item: &Item, batch: Option<Uuid>, lot: Option<String>, book: Decimal) -> StockLine {
    StockLine {
        line_no: n as i32 + 1,
        item_id: item.id,
        unit: item.base_unit.clone(),
        unit_quantity: Decimal::ZERO,
        quantity: Decimal::ZERO,
        unit_cost: None,
        batch_id: batch,
        lot_number: lot,
        production_date: None,
        expiry_date: None,
        bin_id: None,
        to_bin_id: None,
        book_quantity: Some(book),
        counted_quantity: None,
        target_entry_id: None,
        amount: None,
    }
}

fn not_editable(d: &StockDocument, action: &'static str) -> AppError {
    AppError::InvalidState { entity: "stock document", state: d.status.clone(), action }
}

pub async fn update_document(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    expected_version: i64,
    input: DocumentInput,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut doc, old_lines) =
        store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    if doc.status != "draft" {
        return Err(not_editable(&doc, "edited"));
    }
    if doc.version != expected_version {
        return Err(stale("stock document", doc.version));
    }
    let before = document_json(&doc, &old_lines);
    let replace = input.lines.is_some() || doc.kind == "landed_cost";
    let lines = fill_document(&tx, &mut doc, input, false).await?;
    let lines = if replace { lines } else { old_lines };
    doc.updated_at = now;
    doc.version += 1;
    if !store::save_document(&tx, &doc).await? {
        return Err(stale("stock document", expected_version));
    }
    if replace {
        store::delete_lines(&tx, id).await?;
        store::insert_lines(&tx, id, &lines).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "stock_document.update",
            "stock_document",
            Some(id.to_string()),
            Some(before),
            Some(document_json(&doc, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((doc, lines))
}

pub async fn delete_document(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (doc, lines) = store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    if doc.status != "draft" && doc.status != "counting" {
        return Err(not_editable(&doc, "deleted"));
    }
    store::delete_document(&tx, id).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "stock_document.delete",
            "stock_document",
            Some(id.to_string()),
            Some(document_json(&doc, &lines)),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records counts on a stocktake sheet. Every counted item must be on the sheet.
pub async fn record_counts(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    counts: Vec<(Uuid, Option<String>, Decimal)>,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut doc, mut lines) =
        store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    if doc.kind != "stocktake" {
        return Err(AppError::Conflict(format!(
            "{} is a {}, not a stocktake",
            doc.number.clone().unwrap_or_default(),
            doc.kind
        )));
    }
    if doc.status != "counting" {
        return Err(not_editable(&doc, "counted"));
    }
    let before = document_json(&doc, &lines);
    let items = store::get_items(&tx, &counts.iter().map(|c| c.0).collect::<Vec<_>>()).await?;
    let mut e = Vec::new();
    for (n, (item, lot, counted)) in counts.into_iter().enumerate() {
        if counted < Decimal::ZERO {
            e.push(FieldError::new(format!("lines[{n}].counted_quantity"), "must not be negative"));
            continue;
        }
        if lot.is_none() && items.get(&item).is_some_and(|i| i.batch_tracked) {
            e.push(FieldError::new(format!("lines[{n}].lot_number"), "the item is batch tracked: count each lot"));
            continue;
        }
        let slot = lines.iter_mut().find(|l| l.item_id == item && (lot.is_none() || l.lot_number == lot));
        match slot {
            Some(l) => {
                l.counted_quantity = Some(counted);
                l.quantity = counted;
                l.unit_quantity = counted;
            }
            None => {
                let name = items.get(&item).map(|i| i.sku.clone()).unwrap_or_else(|| item.to_string());
                let what = lot.map(|l| format!("{name} lot {l}")).unwrap_or(name);
                e.push(FieldError::new(format!("lines[{n}].item_id"), format!("{what} is not on this count sheet")));
            }
        }
    }
    errs(e)?;
    store::delete_lines(&tx, id).await?;
    store::insert_lines(&tx, id, &lines).await?;
    save_recorded(&tx, ctx, now, &mut doc, &lines, "stocktake.count", before).await?;
    tx.commit().await?;
    Ok((doc, lines))
}

pub async fn get_document(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let d = store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    tx.commit().await?;
    Ok(d)
}

pub async fn document_entries(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Vec<LedgerEntry>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    let list = store::entries_of_document(&tx, id).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn list_documents(
    app: &AppState,
    tenant: TenantId,
    f: &DocumentFilter,
    page: &Page,
) -> AppResult<Vec<StockDocument>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_documents(&tx, f, page).await?;
    tx.commit().await?;
    Ok(list)
}

fn prefix(kind: &str) -> &'static str {
    match kind {
        "receipt" => "GR",
        "issue" => "GI",
        "transfer" => "TR",
        "stocktake" => "ST",
        _ => "LC",
    }
}

/// Posts a draft: receipts, issues and landed costs in full; a transfer shipped and received
/// on its date; a stocktake's differences as gains and losses at its freeze date.
pub async fn post_document(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (doc, lines) = store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    let out = post_loaded(&tx, ctx, doc, lines, now).await?;
    tx.commit().await?;
    Ok(out)
}

async fn post_loaded(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    mut doc: StockDocument,
    mut lines: Vec<StockLine>,
    now: DateTime<Utc>,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let expected = if doc.kind == "stocktake" { "counting" } else { "draft" };
    if doc.status != expected {
        return Err(not_editable(&doc, "posted"));
    }
    let before = document_json(&doc, &lines);
    let lines_before = lines.clone();
    let m = mapping(tx).await?;
    let source_type = format!("stock_{}", doc.kind);
    let memo = memo_of(&doc);
    let source = Source {
        document_id: doc.id,
        date: doc.doc_date,
        source_type: &source_type,
        memo,
        created_by: doc.created_by,
        numbering: Some((format!("stock_{}", doc.kind), prefix(&doc.kind))),
    };
    match doc.kind.as_str() {
        "receipt" => {
            ensure_batches(tx, &mut lines, now).await?;
            let purpose =
                if doc.purpose.as_deref() == Some("opening") { "opening_balance" } else { "stock_adjustment_gain" };
            let counter = match doc.counter_account_id {
                Some(a) => a,
                None => mapped(&m, purpose)?,
            };
            let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
            let moves: Vec<Movement> = lines
                .iter()
                .map(|l| Movement {
                    item_id: l.item_id,
                    warehouse_id: doc.warehouse_id.unwrap_or_default(),
                    bin_id: l.bin_id,
                    batch_id: l.batch_id,
                    kind: "receipt",
                    quantity: l.quantity,
                    value: Some(round(l.unit_quantity * l.unit_cost.unwrap_or_default(), digits)),
                    counter_account_id: counter,
                    line_no: Some(l.line_no),
                    pair_index: None,
                    pair_entry_id: None,
                    layer_entry_id: None,
                    field: format!("lines[{}].quantity", l.line_no - 1),
                })
                .collect();
            let posted = engine::post_movements(tx, &source, &moves, now).await?;
            doc.number = posted.number;
            doc.journal_entry_id = posted.journal_entry_ids.first().copied();
            doc.status = "posted".into();
        }
        "issue" => {
            let counter = match doc.counter_account_id {
                Some(a) => a,
                None => mapped(&m, "stock_issue_expense")?,
            };
            let moves = outgoing(tx, &doc, &lines, doc.warehouse_id.unwrap_or_default(), "issue", counter).await?;
            let posted = engine::post_movements(tx, &source, &moves, now).await?;
            doc.number = posted.number;
            doc.journal_entry_id = posted.journal_entry_ids.first().copied();
            doc.status = "posted".into();
        }
        "transfer" => {
            let transit = mapped(&m, "goods_in_transit")?;
            let mut moves =
                outgoing(tx, &doc, &lines, doc.warehouse_id.unwrap_or_default(), "transfer_out", transit).await?;
            let outs = moves.len();
            for i in 0..outs {
                let o = moves[i].clone();
                let to_bin = lines.iter().find(|l| Some(l.line_no) == o.line_no).and_then(|l| l.to_bin_id);
                moves.push(Movement {
                    warehouse_id: doc.to_warehouse_id.unwrap_or_default(),
                    bin_id: to_bin,
                    kind: "transfer_in",
                    quantity: -o.quantity,
                    value: None,
                    pair_index: Some(i),
                    ..o
                });
            }
            let posted = engine::post_movements(tx, &source, &moves, now).await?;
            doc.number = posted.number;
            doc.journal_entry_id = posted.journal_entry_ids.first().copied();
            doc.shipped_date = Some(doc.doc_date);
            doc.received_date = Some(doc.doc_date);
            doc.status = "posted".into();
        }
        "stocktake" => {
            let uncounted: Vec<String> =
                lines.iter().filter(|l| l.counted_quantity.is_none()).map(|l| format!("line {}", l.line_no)).collect();
            if !uncounted.is_empty() {
                return Err(AppError::field(
                    "lines",
                    format!(
                        "{} not counted yet: count every line (enter the book quantity where nothing differs)",
                        uncounted.join(", ")
                    ),
                ));
            }
            let wh = doc.warehouse_id.unwrap_or_default();
            let items = store::get_items(tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
            let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
            let mut moves = Vec::new();
            for l in &lines {
                let diff = l.counted_quantity.unwrap_or_default() - l.book_quantity.unwrap_or_default();
                if diff.is_zero() {
                    continue;
                }
                let item = items.get(&l.item_id).ok_or(AppError::NotFound { entity: "item" })?;
                let value = if diff > Decimal::ZERO {
                    let level = store::levels(tx, &LevelFilter { item_id: Some(l.item_id), warehouse_id: Some(wh) })
                        .await?
                        .pop();
                    let unit = match level {
                        Some(l) if l.quantity > Decimal::ZERO => {
                            store::valuation(tx, &l, item.valuation_method, digits).await?.unit_cost()
                        }
                        Some(l) if !l.last_unit_cost.is_zero() => l.last_unit_cost,
                        _ => item.standard_cost,
                    };
                    Some(round(diff * unit, digits))
                } else {
                    None
                };
                moves.push(Movement {
                    item_id: l.item_id,
                    warehouse_id: wh,
                    bin_id: l.bin_id,
                    batch_id: l.batch_id,
                    kind: if diff > Decimal::ZERO { "count_gain" } else { "count_loss" },
                    quantity: diff,
                    value,
                    counter_account_id: mapped(
                        &m,
                        if diff > Decimal::ZERO { "stock_adjustment_gain" } else { "stock_adjustment_loss" },
                    )?,
                    line_no: Some(l.line_no),
                    pair_index: None,
                    pair_entry_id: None,
                    layer_entry_id: None,
                    field: format!("lines[{}].counted_quantity", l.line_no - 1),
                });
            }
            let posted = engine::post_movements(tx, &source, &moves, now).await?;
            doc.number = posted.number;
            doc.journal_entry_id = posted.journal_entry_ids.first().copied();
            doc.status = "posted".into();
        }
        "landed_cost" => {
            let credit = match doc.counter_account_id {
                Some(a) => a,
                None => mapped(&m, "landed_cost_clearing")?,
            };
            let cogs = mapped(&m, "cost_of_goods_sold")?;
            let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
            let targets =
                store::get_entries(tx, &lines.iter().filter_map(|l| l.target_entry_id).collect::<Vec<_>>()).await?;
            let items = store::get_items(tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
            let mut moves = Vec::new();
            let mut expensed: Vec<(Uuid, Decimal)> = Vec::new();
            for l in &lines {
                let share = l.amount.unwrap_or_default();
                let target = l
                    .target_entry_id
                    .and_then(|t| targets.get(&t))
                    .ok_or(AppError::NotFound { entity: "receipt entry" })?;
                let item = items.get(&target.item_id).ok_or(AppError::NotFound { entity: "item" })?;
                let on_hand = match item.valuation_method {
                    Method::Fifo => store::layer_of(tx, target.id).await?.map(|(q, _)| q).unwrap_or_default(),
                    Method::MovingAverage => store::levels(
                        tx,
                        &LevelFilter { item_id: Some(target.item_id), warehouse_id: Some(target.warehouse_id) },
                    )
                    .await?
                    .pop()
                    .map(|l| l.quantity.max(Decimal::ZERO).min(target.quantity))
                    .unwrap_or_default(),
                };
                let kept =
                    if on_hand >= target.quantity { share } else { round(share * on_hand / target.quantity, digits) };
                if !kept.is_zero() {
                    moves.push(Movement {
                        item_id: target.item_id,
                        warehouse_id: target.warehouse_id,
                        bin_id: target.bin_id,
                        batch_id: None,
                        kind: "landed_cost",
                        quantity: Decimal::ZERO,
                        value: Some(kept),
                        counter_account_id: credit,
                        line_no: Some(l.line_no),
                        pair_index: None,
                        pair_entry_id: None,
                        layer_entry_id: Some(target.id),
                        field: format!("lines[{}]", l.line_no - 1),
                    });
                }
                if share != kept {
                    expensed.push((target.item_id, share - kept));
                }
            }
            let posted = engine::post_movements(tx, &source, &moves, now).await?;
            doc.number = posted.number;
            doc.journal_entry_id = posted.journal_entry_ids.first().copied();
            if !expensed.is_empty() {
                // What has already left stock was sold or used: its share goes to cost of sales.
                let memo = format!("{} {}", doc.number.clone().unwrap_or_default(), source.memo);
                let mut lines_gl = Vec::new();
                for (item, v) in &expensed {
                    let dims = Dimensions { item_id: Some(*item), ..Default::default() };
                    lines_gl.push(EntryLine::base(cogs, *v, Decimal::ZERO, format!("{memo} (sold)"), dims.clone()));
                    lines_gl.push(EntryLine::base(credit, Decimal::ZERO, *v, memo.clone(), dims));
                }
                let base = tenants::current(tx).await?.base_currency;
                let entry = document_entry(
                    doc.doc_date,
                    memo,
                    &base,
                    Decimal::ONE,
                    &lines_gl,
                    &source_type,
                    doc.id,
                    doc.created_by,
                    now,
                );
                let posted = post_document_entry(tx, entry, &lines_gl, now).await?;
                doc.journal_entry_id = doc.journal_entry_id.or(Some(posted.id));
            }
            doc.status = "posted".into();
        }
        other => return Err(AppError::Conflict(format!("{other} documents are posted by their own module"))),
    }
    doc.posted_at = Some(now);
    if lines != lines_before {
        // Receipts link their lines to the batches they created.
        store::delete_lines(tx, doc.id).await?;
        store::insert_lines(tx, doc.id, &lines).await?;
    }
    save_recorded(tx, ctx, now, &mut doc, &lines, "stock_document.post", before).await?;
    Ok((doc, lines))
}

fn memo_of(doc: &StockDocument) -> String {
    let number = doc.number.clone().unwrap_or_default();
    let what = match (doc.kind.as_str(), doc.purpose.as_deref()) {
        ("receipt", Some("opening")) => "Opening stock",
        ("receipt", _) => "Goods receipt",
        ("issue", _) => "Goods issue",
        ("transfer", _) => "Transfer",
        ("stocktake", _) => "Stocktake",
        _ => "Landed cost",
    };
    let extra = if doc.memo.is_empty() { doc.reason.clone().unwrap_or_default() } else { doc.memo.clone() };
    format!("{number} {what} {extra}").trim().to_owned()
}

/// Creates the batches a receipt names (lot, production and expiry dates; expiry from the
/// item's shelf life when not given) and links the lines to them.
async fn ensure_batches(tx: &TenantTx<'_>, lines: &mut [StockLine], now: DateTime<Utc>) -> AppResult<()> {
    let items = store::get_items(tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
    for l in lines.iter_mut() {
        let Some(lot) = l.lot_number.clone() else { continue };
        let batch = match store::batch_by_lot(tx, l.item_id, &lot).await? {
            Some(b) => b,
            None => {
                let shelf = items.get(&l.item_id).and_then(|i| i.shelf_life_days);
                let expiry = l.expiry_date.or_else(|| Some(l.production_date? + Duration::days(i64::from(shelf?))));
                let b = Batch {
                    id: Uuid::now_v7(),
                    item_id: l.item_id,
                    lot_number: lot,
                    production_date: l.production_date,
                    expiry_date: expiry,
                    created_at: now,
                };
                store::insert_batch(tx, &b).await?;
                b
            }
        };
        l.batch_id = Some(batch.id);
    }
    Ok(())
}

/// Outgoing movements for lines: a line naming no lot of a batch-tracked item is split over
/// its batches first-expiry-first-out.
async fn outgoing(
    tx: &TenantTx<'_>,
    doc: &StockDocument,
    lines: &[StockLine],
    warehouse: Uuid,
    kind: &'static str,
    counter: Uuid,
) -> AppResult<Vec<Movement>> {
    let items = store::get_items(tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
    let warehouses: HashMap<Uuid, Warehouse> =
        store::list_warehouses(tx).await?.into_iter().map(|w| (w.id, w)).collect();
    let mut moves = Vec::new();
    for l in lines {
        let item = items.get(&l.item_id).ok_or(AppError::NotFound { entity: "item" })?;
        let field = format!("lines[{}].quantity", l.line_no - 1);
        let base = Movement {
            item_id: l.item_id,
            warehouse_id: warehouse,
            bin_id: l.bin_id,
            batch_id: l.batch_id,
            kind,
            quantity: -l.quantity,
            value: None,
            counter_account_id: counter,
            line_no: Some(l.line_no),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: field.clone(),
        };
        if !item.batch_tracked || l.batch_id.is_some() {
            moves.push(base);
            continue;
        }
        let have = store::batch_levels(tx, l.item_id, warehouse).await?;
        let batches = store::get_batches(tx, &have.keys().copied().collect::<Vec<_>>()).await?;
        let pool: Vec<(Uuid, Option<NaiveDate>, String, Decimal)> = have
            .iter()
            .filter_map(|(b, q)| batches.get(b).map(|x| (*b, x.expiry_date, x.lot_number.clone(), *q)))
            .collect();
        match rules::fefo(&pool, l.quantity) {
            Ok(picks) => {
                for (b, q) in picks {
                    moves.push(Movement { batch_id: Some(b), quantity: -q, ..base.clone() });
                }
            }
            Err(total) => {
                let wh = warehouses.get(&warehouse).map(|w| w.code.clone()).unwrap_or_default();
                return Err(AppError::InsufficientStock {
                    detail: format!(
                        "Item {} has {} {} in batches in {wh}, {} requested",
                        item.sku,
                        qty(total),
                        item.base_unit,
                        qty(l.quantity)
                    ),
                    errors: vec![FieldError::new(field, format!("only {} available", qty(total)))],
                });
            }
        }
    }
    let _ = doc;
    Ok(moves)
}

/// Saves a document's new state (its version moves on by one) and audits the change.
async fn save_recorded(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    now: DateTime<Utc>,
    doc: &mut StockDocument,
    lines: &[StockLine],
    action: &str,
    before: serde_json::Value,
) -> AppResult<()> {
    doc.updated_at = now;
    doc.version += 1;
    if !store::save_document(tx, doc).await? {
        return Err(stale("stock document", doc.version - 1));
    }
    let after = document_json(doc, lines);
    record(tx, ctx, now, Change::new(action, "stock_document", Some(doc.id.to_string()), Some(before), Some(after)))
        .await
}

/// Ships a draft transfer: the goods leave the sending warehouse into transit on `date`.
pub async fn ship_transfer(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    date: Option<NaiveDate>,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut doc, lines) =
        store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    if doc.kind != "transfer" {
        return Err(AppError::Conflict("only transfers are shipped".into()));
    }
    if doc.status != "draft" {
        return Err(not_editable(&doc, "shipped"));
    }
    let before = document_json(&doc, &lines);
    let date = date.unwrap_or(doc.doc_date);
    let transit = mapped(&mapping(&tx).await?, "goods_in_transit")?;
    let moves = outgoing(&tx, &doc, &lines, doc.warehouse_id.unwrap_or_default(), "transfer_out", transit).await?;
    let memo = memo_of(&doc);
    let source = Source {
        document_id: doc.id,
        date,
        source_type: "stock_transfer",
        memo,
        created_by: doc.created_by,
        numbering: Some(("stock_transfer".into(), "TR")),
    };
    let posted = engine::post_movements(&tx, &source, &moves, now).await?;
    doc.number = posted.number;
    doc.journal_entry_id = posted.journal_entry_ids.first().copied();
    doc.shipped_date = Some(date);
    doc.status = "in_transit".into();
    save_recorded(&tx, ctx, now, &mut doc, &lines, "stock_transfer.ship", before).await?;
    tx.commit().await?;
    Ok((doc, lines))
}

/// Receives a transfer in transit into the receiving warehouse on `date` (not before it was
/// shipped), at the value it left with.
pub async fn receive_transfer(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    date: Option<NaiveDate>,
) -> AppResult<(StockDocument, Vec<StockLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut doc, lines) =
        store::get_document(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock document" })?;
    if doc.kind != "transfer" {
        return Err(AppError::Conflict("only transfers are received".into()));
    }
    if doc.status != "in_transit" {
        return Err(not_editable(&doc, "received"));
    }
    let shipped = doc.shipped_date.unwrap_or(doc.doc_date);
    let date = date.unwrap_or(now.date_naive().max(shipped));
    if date < shipped {
        return Err(AppError::field("date", format!("cannot be before the shipping date {shipped}")));
    }
    let before = document_json(&doc, &lines);
    let outs: Vec<LedgerEntry> =
        store::entries_of_document(&tx, id).await?.into_iter().filter(|e| e.kind == "transfer_out").collect();
    let moves: Vec<Movement> = outs
        .iter()
        .map(|o| {
            let line = lines.iter().find(|l| Some(l.line_no) == o.line_no);
            Movement {
                item_id: o.item_id,
                warehouse_id: doc.to_warehouse_id.unwrap_or_default(),
                bin_id: line.and_then(|l| l.to_bin_id),
                batch_id: o.batch_id,
                kind: "transfer_in",
                quantity: -o.quantity,
                value: None,
                counter_account_id: o.counter_account_id,
                line_no: o.line_no,
                pair_index: None,
                pair_entry_id: Some(o.id),
                layer_entry_id: None,
                field: format!("lines[{}].quantity", o.line_no.unwrap_or(1) - 1),
            }
        })
        .collect();
    let memo = memo_of(&doc);
    let source = Source {
        document_id: doc.id,
        date,
        source_type: "stock_transfer",
        memo,
        created_by: doc.created_by,
        numbering: None,
    };
    engine::post_movements(&tx, &source, &moves, now).await?;
    doc.received_date = Some(date);
    doc.status = "posted".into();
    doc.posted_at = Some(now);
    save_recorded(&tx, ctx, now, &mut doc, &lines, "stock_transfer.receive", before).await?;
    tx.commit().await?;
    Ok((doc, lines))
}

// ================================================================ reservations

/// A reservation asked for by hand or by another module.
#[derive(Clone, Debug)]
pub struct NewReservation {
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub source_type: String,
    pub source_id: String,
    pub memo: String,
}

pub async fn reserve(app: &AppState, ctx: &Ctx, n: NewReservation) -> AppResult<Reservation> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let r = reserve_in(&tx, n.item_id, n.warehouse_id, n.quantity, &n.source_type, &n.source_id, &n.memo, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "stock_reservation.create",
            "stock_reservation",
            Some(r.id.to_string()),
            None,
            Some(reservation_json(&r)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub fn reservation_json(r: &Reservation) -> serde_json::Value {
    serde_json::json!({"item_id": r.item_id, "warehouse_id": r.warehouse_id, "quantity": r.quantity.to_string(),
        "open_quantity": r.open_quantity.to_string(), "source_type": r.source_type, "source_id": r.source_id,
        "status": r.status})
}

/// Reserves stock inside the caller's transaction (sales orders and production orders call
/// this): the guarded update refuses more than is available.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn reserve_in(
    tx: &TenantTx<'_>,
    item_id: Uuid,
    warehouse_id: Uuid,
    quantity: Decimal,
    source_type: &str,
    source_id: &str,
    memo: &str,
    now: DateTime<Utc>,
) -> AppResult<Reservation> {
    if quantity <= Decimal::ZERO {
        return Err(AppError::field("quantity", "must be positive"));
    }
    if quantity.normalize().scale() > 4 {
        return Err(AppError::field("quantity", "has more than 4 decimal places"));
    }
    let item = store::get_item(tx, item_id).await?.ok_or_else(|| AppError::field("item_id", "no such item"))?;
    if !rules::is_stocked(&item.item_type) {
        return Err(AppError::field("item_id", format!("{} is a service item and holds no stock", item.sku)));
    }
    let wh = store::get_warehouse(tx, warehouse_id)
        .await?
        .ok_or_else(|| AppError::field("warehouse_id", "no such warehouse"))?;
    let level = store::lock_levels(tx, &[(item_id, warehouse_id)])
        .await?
        .remove(&(item_id, warehouse_id))
        .ok_or_else(|| AppError::internal("stock level not locked"))?;
    let available = level.quantity - level.reserved;
    if available < quantity {
        return Err(AppError::InsufficientStock {
            detail: format!(
                "Item {} has {} {} available in {}, {} requested",
                item.sku,
                qty(available),
                item.base_unit,
                wh.code,
                qty(quantity)
            ),
            errors: vec![FieldError::new("quantity", format!("only {} available", qty(available)))],
        });
    }
    let want = Want { item_id, warehouse_id, quantity, source_id: source_id.to_owned(), memo: memo.to_owned() };
    let items = HashMap::from([(item.id, item)]);
    reserve_many_in(tx, &items, source_type, vec![want], now)
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("no reservation made"))
}

/// One reservation of [`reserve_many_in`]: what, where, how much, for which source line.
pub(crate) struct Want {
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub source_id: String,
    pub memo: String,
}

/// Reserves several lines for one source in the caller's transaction, for a caller that has
/// locked the levels (`lock_levels`) and checked that the stock is there, with the stocked
/// items it read: one guarded update of the levels and one insert, whatever the line count.
pub(crate) async fn reserve_many_in(
    tx: &TenantTx<'_>,
    items: &HashMap<Uuid, Item>,
    source_type: &str,
    wants: Vec<Want>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Reservation>> {
    let mut deltas: HashMap<(Uuid, Uuid), Decimal> = HashMap::new();
    for w in &wants {
        let item = items.get(&w.item_id).ok_or_else(|| AppError::internal("reserved item not read"))?;
        if w.quantity <= Decimal::ZERO || !rules::is_stocked(&item.item_type) {
            return Err(AppError::internal("reservation of nothing or of a service"));
        }
        *deltas.entry((w.item_id, w.warehouse_id)).or_default() += w.quantity;
    }
    if !store::reserve_many(tx, &deltas).await? {
        return Err(AppError::InsufficientStock {
            detail: "the stock to reserve is no longer available".into(),
            errors: Vec::new(),
        });
    }
    let rs: Vec<Reservation> = wants
        .into_iter()
        .map(|w| Reservation {
            id: Uuid::now_v7(),
            item_id: w.item_id,
            warehouse_id: w.warehouse_id,
            quantity: w.quantity,
            open_quantity: w.quantity,
            source_type: source_type.to_owned(),
            source_id: w.source_id,
            status: "open".into(),
            memo: w.memo,
            created_at: now,
            updated_at: now,
            version: 1,
        })
        .collect();
    store::insert_reservations(tx, &rs).await?;
    let reserved: HashMap<Uuid, Item> =
        items.iter().filter(|(id, _)| rs.iter().any(|r| r.item_id == **id)).map(|(k, v)| (*k, v.clone())).collect();
    super::events::stock_watch(tx, &reserved, now).await?;
    Ok(rs)
}

/// Releases parts of several open reservations at once (`(reservation, quantity, consumed)`),
/// for a caller that has locked their levels: what [`release_in`] does for one, in a fixed
/// number of statements.
pub(crate) async fn release_many_in(
    tx: &TenantTx<'_>,
    releases: &mut [(Reservation, Decimal, bool)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut deltas: HashMap<(Uuid, Uuid), Decimal> = HashMap::new();
    for (r, q, consumed) in releases.iter_mut() {
        if r.status != "open" {
            return Err(AppError::InvalidState {
                entity: "stock reservation",
                state: r.status.clone(),
                action: "released",
            });
        }
        if *q <= Decimal::ZERO || *q > r.open_quantity {
            return Err(AppError::field(
                "quantity",
                format!("must be positive and at most the open {}", qty(r.open_quantity)),
            ));
        }
        *deltas.entry((r.item_id, r.warehouse_id)).or_default() -= *q;
        r.open_quantity -= *q;
        if r.open_quantity.is_zero() {
            r.status = if *consumed { "consumed".into() } else { "released".into() };
        }
        r.updated_at = now;
        r.version += 1;
    }
    if releases.is_empty() {
        return Ok(());
    }
    store::reserve_many(tx, &deltas).await?;
    let saved: Vec<&Reservation> = releases.iter().map(|(r, _, _)| r).collect();
    if !store::save_reservations(tx, &saved).await? {
        return Err(stale("stock reservation", saved.first().map(|r| r.version - 1).unwrap_or_default()));
    }
    // A release (not a consumption) makes stock available again.
    let freed: Vec<Uuid> = releases.iter().filter(|(_, _, consumed)| !consumed).map(|(r, _, _)| r.item_id).collect();
    if !freed.is_empty() {
        let items = store::get_items(tx, &freed).await?;
        super::events::stock_watch(tx, &items, now).await?;
    }
    Ok(())
}

/// Releases what is left of a reservation (`consumed` when stock left against it).
pub(crate) async fn release_in(
    tx: &TenantTx<'_>,
    r: &mut Reservation,
    quantity: Option<Decimal>,
    consumed: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    store::lock_levels(tx, &[(r.item_id, r.warehouse_id)]).await?;
    let q = quantity.unwrap_or(r.open_quantity);
    let mut one = [(r.clone(), q, consumed)];
    release_many_in(tx, &mut one, now).await?;
    let [(released, _, _)] = one;
    *r = released;
    Ok(())
}

pub async fn release(app: &AppState, ctx: &Ctx, id: Uuid, quantity: Option<Decimal>) -> AppResult<Reservation> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut r = store::get_reservation(&tx, id).await?.ok_or(AppError::NotFound { entity: "stock reservation" })?;
    let before = reservation_json(&r);
    release_in(&tx, &mut r, quantity, false, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "stock_reservation.release",
            "stock_reservation",
            Some(id.to_string()),
            Some(before),
            Some(reservation_json(&r)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list_reservations(
    app: &AppState,
    tenant: TenantId,
    f: &ReservationFilter,
    page: &Page,
) -> AppResult<Vec<Reservation>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_reservations(&tx, f, page).await?;
    tx.commit().await?;
    Ok(list)
}

// ================================================================ queries and reports

/// (item, warehouse, batch, quantity, value)
type LevelRow = (Uuid, Uuid, Option<Uuid>, Decimal, Option<Decimal>);

/// Stock of one item in one warehouse (and batch), now or as of a date.
#[derive(Clone, Debug)]
pub struct StockRow {
    pub item: Item,
    pub warehouse: Warehouse,
    pub batch: Option<Batch>,
    pub on_hand: Decimal,
    /// Reservations are current; as of a past date they are shown as they are now.
    pub reserved: Decimal,
    pub value: Option<Decimal>,
}

pub async fn stock_levels(
    app: &AppState,
    tenant: TenantId,
    item: Option<Uuid>,
    warehouse: Option<Uuid>,
    as_of: Option<NaiveDate>,
    by_batch: bool,
) -> AppResult<Vec<StockRow>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let f = LevelFilter { item_id: item, warehouse_id: warehouse };
    let current = store::levels(&tx, &f).await?;
    let reserved: HashMap<(Uuid, Uuid), Decimal> =
        current.iter().map(|l| ((l.item_id, l.warehouse_id), l.reserved)).collect();
    // (item, warehouse, batch) -> (quantity, value)
    let mut rows: Vec<LevelRow> = match (as_of, by_batch) {
        (None, false) => current.iter().map(|l| (l.item_id, l.warehouse_id, None, l.quantity, Some(l.value))).collect(),
        (None, true) => store::all_batch_levels(&tx, &f)
            .await?
            .into_iter()
            .map(|(i, w, b, q)| (i, w, Some(b), q, None))
            .chain(
                current
                    .iter()
                    .filter(|l| !l.quantity.is_zero())
                    .map(|l| (l.item_id, l.warehouse_id, None, l.quantity, Some(l.value))),
            )
            .collect(),
        (Some(d), b) => store::ledger_sums(&tx, Some(d), item, warehouse, b)
            .await?
            .into_iter()
            .map(|(i, w, batch, q, v)| (i, w, batch, q, if b { None } else { Some(v) }))
            .collect(),
    };
    if by_batch {
        // Batch-tracked items show their batches; others their whole level.
        let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        let items = store::get_items(&tx, &ids).await?;
        rows.retain(|r| items.get(&r.0).is_some_and(|i| i.batch_tracked == r.2.is_some()));
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect::<HashSet<_>>().into_iter().collect();
    let items = store::get_items(&tx, &ids).await?;
    let whs: HashMap<Uuid, Warehouse> = store::list_warehouses(&tx).await?.into_iter().map(|w| (w.id, w)).collect();
    let batches = store::get_batches(&tx, &rows.iter().filter_map(|r| r.2).collect::<Vec<_>>()).await?;
    tx.commit().await?;
    let mut out: Vec<StockRow> = rows
        .into_iter()
        .filter(|r| as_of.is_none() || !r.3.is_zero() || reserved.get(&(r.0, r.1)).is_some_and(|q| !q.is_zero()))
        .filter_map(|(i, w, b, q, v)| {
            Some(StockRow {
                item: items.get(&i)?.clone(),
                warehouse: whs.get(&w)?.clone(),
                batch: b.and_then(|b| batches.get(&b).cloned()),
                on_hand: q,
                reserved: if b.is_none() { reserved.get(&(i, w)).copied().unwrap_or_default() } else { Decimal::ZERO },
                value: v,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.item.sku.as_str(), a.warehouse.code.as_str(), a.batch.as_ref().map(|b| b.lot_number.as_str())).cmp(&(
            b.item.sku.as_str(),
            b.warehouse.code.as_str(),
            b.batch.as_ref().map(|b| b.lot_number.as_str()),
        ))
    });
    Ok(out)
}

pub async fn ledger_history(
    app: &AppState,
    tenant: TenantId,
    f: &HistoryFilter,
    after: Option<(NaiveDate, Uuid)>,
    limit: u64,
) -> AppResult<Vec<LedgerEntry>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::history(&tx, f, after, limit).await?;
    tx.commit().await?;
    Ok(list)
}

#[derive(Clone, Debug)]
pub struct ValuationRow {
    pub item: Item,
    pub warehouse: Warehouse,
    pub quantity: Decimal,
    pub value: Decimal,
}

#[derive(Clone, Debug)]
pub struct ValuationReport {
    pub as_of: NaiveDate,
    pub rows: Vec<ValuationRow>,
    pub total_value: Decimal,
    /// The inventory account's balance in the books on the same date.
    pub ledger_inventory: Decimal,
    /// Value shipped on transfers and not yet received, and the transit account's balance.
    pub in_transit: Decimal,
    pub ledger_in_transit: Decimal,
}

pub async fn valuation(app: &AppState, tenant: TenantId, as_of: NaiveDate) -> AppResult<ValuationReport> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let sums = store::ledger_sums(&tx, Some(as_of), None, None, false).await?;
    let items = store::get_items(&tx, &sums.iter().map(|s| s.0).collect::<Vec<_>>()).await?;
    let whs: HashMap<Uuid, Warehouse> = store::list_warehouses(&tx).await?.into_iter().map(|w| (w.id, w)).collect();
    let m = mapping(&tx).await?;
    let balances =
        super::ledger::range_sums(&tx, NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(), as_of).await?;
    let balance = |purpose: &str| m.get(purpose).and_then(|a| balances.get(a)).map(|(d, c)| d - c).unwrap_or_default();
    let ledger_inventory = balance("inventory");
    let ledger_in_transit = balance("goods_in_transit");
    let in_transit = in_transit_value(&tx, m.get("goods_in_transit").copied(), as_of).await?;
    tx.commit().await?;
    let mut rows: Vec<ValuationRow> = sums
        .into_iter()
        .filter(|s| !s.3.is_zero() || !s.4.is_zero())
        .filter_map(|(i, w, _, q, v)| {
            Some(ValuationRow { item: items.get(&i)?.clone(), warehouse: whs.get(&w)?.clone(), quantity: q, value: v })
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.item.sku.as_str(), a.warehouse.code.as_str()).cmp(&(b.item.sku.as_str(), b.warehouse.code.as_str()))
    });
    let total_value = rows.iter().map(|r| r.value).sum();
    Ok(ValuationReport { as_of, rows, total_value, ledger_inventory, in_transit, ledger_in_transit })
}

/// Value of transfers shipped on or before `as_of` and not received by then: what the stock
/// ledger's transfer entries (and their revaluations) moved against the transit account.
async fn in_transit_value(tx: &TenantTx<'_>, transit: Option<Uuid>, as_of: NaiveDate) -> AppResult<Decimal> {
    match transit {
        Some(account) => Ok(Decimal::ZERO - store::value_against(tx, account, as_of).await?),
        None => Ok(Decimal::ZERO),
    }
}

#[derive(Clone, Debug)]
pub struct LowStock {
    pub row: store::LowStockRow,
    pub available: Decimal,
    pub suggested: Decimal,
}

pub async fn low_stock(
    app: &AppState,
    tenant: TenantId,
    after_sku: Option<&str>,
    limit: u64,
) -> AppResult<Vec<LowStock>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rows = store::low_stock(&tx, after_sku, limit).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let available = r.on_hand - r.reserved;
            let suggested =
                rules::suggested_order(available, r.safety_stock, r.reorder_point, r.reorder_quantity, r.max_stock);
            LowStock { row: r, available, suggested }
        })
        .collect())
}

#[derive(Clone, Debug)]
pub struct SlowRow {
    pub item: Item,
    pub on_hand: Decimal,
    pub value: Decimal,
    pub last_movement: Option<NaiveDate>,
    pub days_without_movement: Option<i64>,
    /// On hand divided by the average daily quantity issued over the window; none when
    /// nothing was issued.
    pub days_of_supply: Option<Decimal>,
    pub over_max: bool,
}

/// Items with stock that is above its maximum or has not moved for `idle_days`, with days of
/// supply from the issues of the last `window_days`.
pub async fn overstock(
    app: &AppState,
    tenant: TenantId,
    as_of: NaiveDate,
    idle_days: i64,
    window_days: i64,
) -> AppResult<Vec<SlowRow>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let levels = store::levels(&tx, &LevelFilter::default()).await?;
    let issued = store::issued_between(&tx, as_of - Duration::days(window_days - 1), as_of).await?;
    let mut per_item: HashMap<Uuid, (Decimal, Decimal, Option<NaiveDate>)> = HashMap::new();
    for l in levels {
        let e = per_item.entry(l.item_id).or_default();
        e.0 += l.quantity;
        e.1 += l.value;
        e.2 = e.2.max(l.last_date);
    }
    per_item.retain(|_, v| v.0 > Decimal::ZERO);
    let items = store::get_items(&tx, &per_item.keys().copied().collect::<Vec<_>>()).await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for (id, (q, v, last)) in per_item {
        let Some(item) = items.get(&id) else { continue };
        let idle = last.map(|d| (as_of - d).num_days());
        let daily = issued.get(&id).copied().unwrap_or_default() / Decimal::from(window_days.max(1));
        let days_of_supply = (!daily.is_zero()).then(|| (q / daily).round_dp(1));
        let over_max = item.max_stock.is_some_and(|m| q > m);
        let idle_long = idle.is_none_or(|d| d >= idle_days);
        if over_max || idle_long {
            out.push(SlowRow {
                item: item.clone(),
                on_hand: q,
                value: v,
                last_movement: last,
                days_without_movement: idle,
                days_of_supply,
                over_max,
            });
        }
    }
    out.sort_by(|a, b| a.item.sku.cmp(&b.item.sku));
    Ok(out)
}

pub async fn expiring(
    app: &AppState,
    tenant: TenantId,
    until: NaiveDate,
) -> AppResult<Vec<(Batch, Item, Warehouse, Decimal)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rows = store::expiring_batches(&tx, until).await?;
    let items = store::get_items(&tx, &rows.iter().map(|r| r.0.item_id).collect::<Vec<_>>()).await?;
    let whs: HashMap<Uuid, Warehouse> = store::list_warehouses(&tx).await?.into_iter().map(|w| (w.id, w)).collect();
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|(b, w, q)| {
            let item = items.get(&b.item_id)?.clone();
            let wh = whs.get(&w)?.clone();
            Some((b, item, wh, q))
        })
        .collect())
}

/// What the stock tables must hold, recomputed from the ledger: levels and batch levels equal
/// the sums of their entries, reserved equals open reservations, no quantity below zero where
/// the warehouse forbids it, layers sum to their level, and the stock value equals the
/// inventory account (and goods in transit the transit account).
pub async fn invariant_violations(tx: &TenantTx<'_>) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    let levels = store::levels(tx, &LevelFilter::default()).await?;
    let sums: HashMap<(Uuid, Uuid), (Decimal, Decimal)> = store::ledger_sums(tx, None, None, None, false)
        .await?
        .into_iter()
        .map(|(i, w, _, q, v)| ((i, w), (q, v)))
        .collect();
    let reserved = store::open_reserved(tx).await?;
    let whs: HashMap<Uuid, Warehouse> = store::list_warehouses(tx).await?.into_iter().map(|w| (w.id, w)).collect();
    let items = store::get_items(tx, &levels.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
    let digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    let mut total = Decimal::ZERO;
    for l in &levels {
        let (q, v) = sums.get(&(l.item_id, l.warehouse_id)).copied().unwrap_or_default();
        total += v;
        if (q, v) != (l.quantity, l.value) {
            out.push(format!(
                "level {}/{} holds {}/{}, ledger sums {q}/{v}",
                l.item_id, l.warehouse_id, l.quantity, l.value
            ));
        }
        if l.quantity.is_zero() && !l.value.is_zero() {
            out.push(format!("level {}/{} has value {} at zero quantity", l.item_id, l.warehouse_id, l.value));
        }
        if l.quantity < Decimal::ZERO && !whs.get(&l.warehouse_id).is_some_and(|w| w.allow_negative) {
            out.push(format!("level {}/{} is negative ({})", l.item_id, l.warehouse_id, l.quantity));
        }
        let r = reserved.get(&(l.item_id, l.warehouse_id)).copied().unwrap_or_default();
        if r != l.reserved {
            out.push(format!("level {}/{} reserves {}, open reservations {r}", l.item_id, l.warehouse_id, l.reserved));
        }
        if let Some(item) = items.get(&l.item_id)
            && item.valuation_method == Method::Fifo
            && l.quantity > Decimal::ZERO
        {
            let state = store::valuation(tx, l, Method::Fifo, digits).await?;
            let (lq, lv) =
                state.layers.iter().fold((Decimal::ZERO, Decimal::ZERO), |(q, v), x| (q + x.quantity, v + x.value));
            if (lq, lv) != (l.quantity, l.value) {
                out.push(format!(
                    "FIFO layers of {}/{} sum to {lq}/{lv}, level {}/{}",
                    l.item_id, l.warehouse_id, l.quantity, l.value
                ));
            }
        }
    }
    let batch_sums: HashMap<(Uuid, Uuid, Uuid), Decimal> = store::ledger_sums(tx, None, None, None, true)
        .await?
        .into_iter()
        .filter_map(|(i, w, b, q, _)| Some(((i, w, b?), q)))
        .collect();
    for (i, w, b, q) in store::all_batch_levels(tx, &LevelFilter::default()).await? {
        let s = batch_sums.get(&(i, w, b)).copied().unwrap_or_default();
        if s != q {
            out.push(format!("batch level {i}/{w}/{b} holds {q}, ledger sums {s}"));
        }
        if q < Decimal::ZERO && !whs.get(&w).is_some_and(|w| w.allow_negative) {
            out.push(format!("batch {b} is negative in {w}"));
        }
    }
    let m = mapping(tx).await?;
    let balances = super::ledger::range_sums(
        tx,
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default(),
    )
    .await?;
    let inventory = m.get("inventory").and_then(|a| balances.get(a)).map(|(d, c)| d - c).unwrap_or_default();
    if inventory != total {
        out.push(format!("stock value {total} differs from the inventory account {inventory}"));
    }
    Ok(out)
}
