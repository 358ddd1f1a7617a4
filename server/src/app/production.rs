//! Production: bills of material (revisions, validity, activation with cycle and overlap
//! checks, explosion, where-used, cost roll-up), item planning data and forecasts, and the
//! production settings. Production orders live in `app::manufacturing`, MRP in `app::mrp`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::{AppState, Change, Ctx, record, stale};
use crate::domain::bom::{self as rules, Bill, IssueMethod, Overhead};
use crate::domain::ids::TenantId;
use crate::domain::stock::is_stocked;
use crate::error::{AppError, AppResult, Fields};
use crate::store::production::{self as store, Bom, BomFilter, BomLine, Forecast, Planning, ProductionSettings};
use crate::store::stock::{self as stock_store, Item};
use crate::store::{Access, Page, TenantTx};

pub(crate) fn q4(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A quantity a person typed: positive, at most 4 places.
pub(crate) fn check_quantity(f: &mut Fields, field: &str, q: Decimal) {
    if q <= Decimal::ZERO {
        f.push(field, "must be positive");
    } else if q.normalize().scale() > 4 {
        f.push(field, "has more than 4 decimal places");
    }
}

// ================================================================ settings

pub async fn settings(app: &AppState, tenant: TenantId) -> AppResult<ProductionSettings> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = store::settings(&tx).await?;
    tx.commit().await?;
    Ok(s)
}

pub struct SettingsInput {
    pub overhead_rate: Option<Decimal>,
    pub overhead_per_unit: Option<Decimal>,
    pub move_tolerance_days: Option<i32>,
}

fn settings_json(s: &ProductionSettings) -> serde_json::Value {
    serde_json::json!({"overhead_rate": s.overhead_rate.to_string(), "overhead_per_unit": s.overhead_per_unit.to_string(),
        "move_tolerance_days": s.move_tolerance_days})
}

pub async fn update_settings(
    app: &AppState,
    ctx: &Ctx,
    expected_version: i64,
    input: SettingsInput,
) -> AppResult<ProductionSettings> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut s = store::settings(&tx).await?;
    if s.version != expected_version {
        return Err(stale("production settings", s.version));
    }
    let before = settings_json(&s);
    let mut f = Fields::new();
    if let Some(r) = input.overhead_rate {
        if r < Decimal::ZERO || r > Decimal::from(10) {
            f.push("overhead_rate", "must be between 0 and 10 (a fraction of material cost: 0.1 is 10 %)");
        } else if r.normalize().scale() > 6 {
            f.push("overhead_rate", "has more than 6 decimal places");
        }
        s.overhead_rate = r;
    }
    if let Some(p) = input.overhead_per_unit {
        if p < Decimal::ZERO {
            f.push("overhead_per_unit", "must not be negative");
        } else if p.normalize().scale() > 4 {
            f.push("overhead_per_unit", "has more than 4 decimal places");
        }
        s.overhead_per_unit = p;
    }
    if let Some(d) = input.move_tolerance_days {
        if !(0..=365).contains(&d) {
            f.push("move_tolerance_days", "must be between 0 and 365");
        }
        s.move_tolerance_days = d;
    }
    f.finish()?;
    s.updated_at = now;
    s.version += 1;
    if !store::save_settings(&tx, &s).await? {
        return Err(stale("production settings", expected_version));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("production_settings.update", "production_settings", None, Some(before), Some(settings_json(&s))),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

// ================================================================ item planning

pub struct PlanningInput {
    pub lead_time_days: Option<i32>,
    pub lot_policy: Option<String>,
    pub lot_period_days: Option<i32>,
    pub lot_minimum: Option<Decimal>,
    pub lot_multiple: Option<Decimal>,
}

fn planning_json(p: &Planning) -> serde_json::Value {
    serde_json::json!({"lead_time_days": p.lead_time_days, "lot_policy": p.lot_policy, "lot_period_days": p.lot_period_days,
        "lot_minimum": p.lot_minimum.to_string(), "lot_multiple": p.lot_multiple.to_string()})
}

async fn planned_item(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Item> {
    stock_store::get_item(tx, id).await?.ok_or(AppError::NotFound { entity: "item" })
}

pub async fn planning(app: &AppState, tenant: TenantId, item: Uuid) -> AppResult<Planning> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    planned_item(&tx, item).await?;
    let p = store::get_planning(&tx, item).await?;
    tx.commit().await?;
    Ok(p)
}

pub async fn update_planning(
    app: &AppState,
    ctx: &Ctx,
    item: Uuid,
    expected_version: i64,
    input: PlanningInput,
) -> AppResult<Planning> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    planned_item(&tx, item).await?;
    let mut p = store::get_planning(&tx, item).await?;
    if p.version != expected_version {
        return Err(stale("item planning", p.version));
    }
    let before = planning_json(&p);
    let mut f = Fields::new();
    if let Some(d) = input.lead_time_days {
        if !(0..=3650).contains(&d) {
            f.push("lead_time_days", "must be between 0 and 3650");
        }
        p.lead_time_days = d;
    }
    if let Some(policy) = input.lot_policy {
        if !matches!(policy.as_str(), "lot_for_lot" | "fixed_period") {
            f.push("lot_policy", "must be lot_for_lot or fixed_period");
        }
        p.lot_policy = policy;
    }
    if let Some(d) = input.lot_period_days {
        if !(0..=366).contains(&d) {
            f.push("lot_period_days", "must be between 0 and 366");
        }
        p.lot_period_days = d;
    }
    if p.lot_policy == "fixed_period" && p.lot_period_days < 1 {
        f.push("lot_period_days", "must be at least 1 for the fixed_period policy");
    }
    for (field, value, target) in [
        ("lot_minimum", input.lot_minimum, &mut p.lot_minimum),
        ("lot_multiple", input.lot_multiple, &mut p.lot_multiple),
    ] {
        if let Some(v) = value {
            if v < Decimal::ZERO {
                f.push(field, "must not be negative");
            } else if v.normalize().scale() > 4 {
                f.push(field, "has more than 4 decimal places");
            }
            *target = v;
        }
    }
    f.finish()?;
    p.updated_at = now;
    p.version += 1;
    if !store::save_planning(&tx, &p).await? {
        return Err(stale("item planning", expected_version));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("item_planning.update", "item", Some(item.to_string()), Some(before), Some(planning_json(&p))),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

// ================================================================ bills of material

pub struct BomLineInput {
    pub component_id: Uuid,
    pub quantity: Decimal,
    /// 5 means 5 %.
    pub scrap_percent: Option<Decimal>,
    pub issue_method: Option<String>,
    pub phantom: Option<bool>,
    pub byproduct: Option<bool>,
}

pub struct BomInput {
    pub item_id: Uuid,
    pub revision: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub output_quantity: Option<Decimal>,
    pub memo: Option<String>,
    pub lines: Vec<BomLineInput>,
}

pub fn bom_json(b: &Bom, lines: &[BomLine]) -> serde_json::Value {
    serde_json::json!({
        "item_id": b.item_id, "revision": b.revision, "status": b.status, "valid_from": b.valid_from,
        "valid_to": b.valid_to, "output_quantity": b.output_quantity.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({"component_id": l.component_id, "quantity": l.quantity.to_string(),
            "scrap": l.scrap.to_string(), "issue_method": l.issue_method.as_str(), "phantom": l.phantom, "byproduct": l.byproduct}))
            .collect::<Vec<_>>(),
    })
}

/// The bill as the pure rules see it.
pub(crate) fn bill(b: &Bom, lines: &[BomLine]) -> Bill {
    Bill {
        id: b.id,
        item: b.item_id,
        output: b.output_quantity,
        lines: lines
            .iter()
            .map(|l| rules::Line {
                component: l.component_id,
                quantity: l.quantity,
                scrap: l.scrap,
                issue: l.issue_method,
                phantom: l.phantom,
                byproduct: l.byproduct,
            })
            .collect(),
    }
}

/// Checks a bill's input and turns it into the header and lines (`b` carries the id, status
/// and version). Components and the item must exist, be active and hold stock; a component
/// that would make the bill contain itself at any depth is refused with the cycle named.
async fn build_bom(tx: &TenantTx<'_>, b: &mut Bom, input: BomInput) -> AppResult<Vec<BomLine>> {
    let mut f = Fields::new();
    let mut ids: Vec<Uuid> = input.lines.iter().map(|l| l.component_id).collect();
    ids.push(input.item_id);
    let items = stock_store::get_items(tx, &ids).await?;
    match items.get(&input.item_id) {
        None => f.push("item_id", "no such item"),
        Some(i) if !i.is_active => f.push("item_id", format!("item {} is inactive", i.sku)),
        Some(i) if !is_stocked(&i.item_type) => {
            f.push("item_id", format!("{} is a service item and is not made", i.sku))
        }
        Some(_) => {}
    }
    let revision = input.revision.trim().to_owned();
    if revision.is_empty() || revision.chars().count() > 20 {
        f.push("revision", "must be 1 to 20 characters");
    }
    if let (Some(a), Some(z)) = (input.valid_from, input.valid_to)
        && z < a
    {
        f.push("valid_to", "must not be before valid_from");
    }
    let output = input.output_quantity.unwrap_or(Decimal::ONE);
    check_quantity(&mut f, "output_quantity", output);
    let memo = input.memo.map(|m| m.trim().to_owned()).unwrap_or_default();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    if input.lines.is_empty() {
        f.push("lines", "a bill needs at least one line");
    }
    if input.lines.len() > 500 {
        f.push("lines", "a bill has at most 500 lines");
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.into_iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        match items.get(&l.component_id) {
            None => f.push(at("component_id"), "no such item"),
            Some(c) if !c.is_active => f.push(at("component_id"), format!("item {} is inactive", c.sku)),
            Some(c) if !is_stocked(&c.item_type) => {
                f.push(at("component_id"), format!("{} is a service item and holds no stock", c.sku))
            }
            Some(_) => {}
        }
        check_quantity(&mut f, &at("quantity"), l.quantity);
        let percent = l.scrap_percent.unwrap_or_default();
        if percent < Decimal::ZERO {
            f.push(at("scrap_percent"), "must not be negative");
        } else if percent > Decimal::from(1000) {
            f.push(at("scrap_percent"), "must be at most 1000");
        } else if percent.normalize().scale() > 4 {
            f.push(at("scrap_percent"), "has more than 4 decimal places");
        }
        let issue = match l.issue_method.as_deref() {
            None => Some(IssueMethod::Kit),
            Some(s) => IssueMethod::parse(s),
        };
        if issue.is_none() {
            f.push(at("issue_method"), "must be kit or backflush");
        }
        let (phantom, byproduct) = (l.phantom.unwrap_or(false), l.byproduct.unwrap_or(false));
        if phantom && byproduct {
            f.push(at("byproduct"), "a phantom component cannot also be a by-product");
        }
        lines.push(BomLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            component_id: l.component_id,
            quantity: l.quantity,
            scrap: percent / Decimal::ONE_HUNDRED,
            issue_method: issue.unwrap_or(IssueMethod::Kit),
            phantom,
            byproduct,
        });
    }
    f.finish()?;
    // Cycles: against every bill that is or may become active (drafts too), this one replaced;
    // bills are checked one at a time per tenant, so two saves cannot close a cycle between them.
    store::lock_planning(tx).await?;
    let mut uses: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (other, ls) in store::bills(tx, &["draft", "active"]).await? {
        if other.id != b.id {
            uses.entry(other.item_id).or_default().extend(ls.iter().filter(|l| !l.byproduct).map(|l| l.component_id));
        }
    }
    let components: Vec<Uuid> = lines.iter().filter(|l| !l.byproduct).map(|l| l.component_id).collect();
    if let Some(cycle) = rules::find_cycle(&uses, input.item_id, &components) {
        let named = stock_store::get_items(tx, &cycle).await?;
        let path = cycle
            .iter()
            .map(|id| named.get(id).map(|i| i.sku.clone()).unwrap_or_else(|| id.to_string()))
            .collect::<Vec<_>>()
            .join(" → ");
        let first = cycle.get(1).copied().unwrap_or(input.item_id);
        let i = lines.iter().position(|l| l.component_id == first).unwrap_or(0);
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            format!("lines[{i}].component_id"),
            format!("the bill would contain itself: {path}"),
        )]));
    }
    b.item_id = input.item_id;
    b.revision = revision;
    b.valid_from = input.valid_from;
    b.valid_to = input.valid_to;
    b.output_quantity = output;
    b.memo = memo;
    Ok(lines)
}

pub async fn create_bom(app: &AppState, ctx: &Ctx, input: BomInput) -> AppResult<(Bom, Vec<BomLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut b = Bom {
        id: Uuid::now_v7(),
        item_id: input.item_id,
        revision: String::new(),
        status: "draft".into(),
        valid_from: None,
        valid_to: None,
        output_quantity: Decimal::ONE,
        memo: String::new(),
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let lines = build_bom(&tx, &mut b, input).await?;
    store::insert_bom(&tx, &b, &lines).await?;
    record(&tx, ctx, now, Change::new("bom.create", "bom", Some(b.id.to_string()), None, Some(bom_json(&b, &lines))))
        .await?;
    tx.commit().await?;
    Ok((b, lines))
}

async fn load_bom(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<(Bom, Vec<BomLine>)> {
    store::get_bom(tx, id, lock).await?.ok_or(AppError::NotFound { entity: "bill of material" })
}

/// Replaces a draft bill (its item stays).
pub async fn update_bom(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    expected_version: i64,
    input: BomInput,
) -> AppResult<(Bom, Vec<BomLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut b, old) = load_bom(&tx, id, true).await?;
    if b.version != expected_version {
        return Err(stale("bill of material", b.version));
    }
    if b.status != "draft" {
        return Err(AppError::InvalidState {
            entity: "bill of material",
            state: b.status,
            action: "edited (make a new revision)",
        });
    }
    if input.item_id != b.item_id {
        return Err(AppError::field("item_id", "a bill's item cannot change; make a bill for the other item"));
    }
    let before = bom_json(&b, &old);
    let lines = build_bom(&tx, &mut b, input).await?;
    b.updated_at = now;
    b.version += 1;
    if !store::save_bom(&tx, &b).await? {
        return Err(stale("bill of material", expected_version));
    }
    store::replace_bom_lines(&tx, b.id, &lines).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("bom.update", "bom", Some(id.to_string()), Some(before), Some(bom_json(&b, &lines))),
    )
    .await?;
    tx.commit().await?;
    Ok((b, lines))
}

pub async fn delete_bom(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (b, lines) = load_bom(&tx, id, true).await?;
    if b.status != "draft" {
        return Err(AppError::InvalidState {
            entity: "bill of material",
            state: b.status,
            action: "deleted (archive it)",
        });
    }
    store::delete_bom(&tx, id).await?;
    record(&tx, ctx, now, Change::new("bom.delete", "bom", Some(id.to_string()), Some(bom_json(&b, &lines)), None))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// `activate` (a draft or archived bill, whose validity must not overlap another active
/// revision of the item, and which must not close a cycle with the active bills) or `archive`.
pub async fn bom_action(app: &AppState, ctx: &Ctx, id: Uuid, action: &str) -> AppResult<(Bom, Vec<BomLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut b, lines) = load_bom(&tx, id, true).await?;
    let before = bom_json(&b, &lines);
    match action {
        "activate" => {
            if b.status == "active" {
                return Err(AppError::InvalidState {
                    entity: "bill of material",
                    state: b.status,
                    action: "activated",
                });
            }
            store::lock_planning(&tx).await?;
            let all = store::bills(&tx, &["active"]).await?;
            for (other, _) in all.iter().filter(|(o, _)| o.item_id == b.item_id && o.id != b.id) {
                let starts_before_end = other.valid_from.is_none_or(|f| b.valid_to.is_none_or(|t| f <= t));
                let ends_after_start = other.valid_to.is_none_or(|t| b.valid_from.is_none_or(|f| f <= t));
                if starts_before_end && ends_after_start {
                    return Err(AppError::Conflict(format!(
                        "revision {} of this item is active ({}), which overlaps this one ({}): archive it, or give the revisions validity dates that do not overlap",
                        other.revision,
                        validity(other),
                        validity(&b)
                    )));
                }
            }
            let mut uses: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
            for (o, ls) in &all {
                uses.entry(o.item_id).or_default().extend(ls.iter().filter(|l| !l.byproduct).map(|l| l.component_id));
            }
            let components: Vec<Uuid> = lines.iter().filter(|l| !l.byproduct).map(|l| l.component_id).collect();
            if let Some(cycle) = rules::find_cycle(&uses, b.item_id, &components) {
                let named = stock_store::get_items(&tx, &cycle).await?;
                let path = cycle
                    .iter()
                    .map(|id| named.get(id).map(|i| i.sku.clone()).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" → ");
                return Err(AppError::Conflict(format!("the bill would contain itself: {path}")));
            }
            b.status = "active".into();
        }
        _ => {
            if b.status == "archived" {
                return Err(AppError::InvalidState { entity: "bill of material", state: b.status, action: "archived" });
            }
            b.status = "archived".into();
        }
    }
    b.updated_at = now;
    b.version += 1;
    if !store::save_bom(&tx, &b).await? {
        return Err(stale("bill of material", b.version - 1));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            if action == "activate" { "bom.activate" } else { "bom.archive" },
            "bom",
            Some(id.to_string()),
            Some(before),
            Some(bom_json(&b, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((b, lines))
}

fn validity(b: &Bom) -> String {
    match (b.valid_from, b.valid_to) {
        (None, None) => "without end dates".into(),
        (Some(f), None) => format!("from {f}"),
        (None, Some(t)) => format!("until {t}"),
        (Some(f), Some(t)) => format!("from {f} to {t}"),
    }
}

pub async fn get_bom(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(Bom, Vec<BomLine>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let b = load_bom(&tx, id, false).await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn list_boms(app: &AppState, tenant: TenantId, f: &BomFilter, page: &Page) -> AppResult<Vec<Bom>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let b = store::list_boms(&tx, f, page).await?;
    tx.commit().await?;
    Ok(b)
}

/// The active bills valid on `date`, one per item (by item), as the rules see them.
pub(crate) async fn effective_bills(tx: &TenantTx<'_>, date: NaiveDate) -> AppResult<HashMap<Uuid, Bill>> {
    let mut out = HashMap::new();
    for (b, lines) in store::bills(tx, &["active"]).await? {
        if b.valid_on(date) {
            out.insert(b.item_id, bill(&b, &lines));
        }
    }
    Ok(out)
}

/// The unit cost a roll-up uses for a component: its average cost over the warehouses where it
/// is on hand, else its last unit cost, else its standard cost.
pub(crate) async fn unit_costs(tx: &TenantTx<'_>, items: &[Uuid]) -> AppResult<HashMap<Uuid, Decimal>> {
    let levels = stock_store::levels_of_items(tx, items).await?;
    let standard = stock_store::get_items(tx, items).await?;
    let mut sums: HashMap<Uuid, (Decimal, Decimal, Decimal)> = HashMap::new();
    for l in levels {
        let e = sums.entry(l.item_id).or_default();
        e.0 += l.quantity;
        e.1 += l.value;
        if !l.last_unit_cost.is_zero() {
            e.2 = l.last_unit_cost;
        }
    }
    Ok(items
        .iter()
        .map(|id| {
            let cost = match sums.get(id) {
                Some((q, v, _)) if *q > Decimal::ZERO => *v / *q,
                Some((_, _, last)) if !last.is_zero() => *last,
                _ => standard.get(id).map(|i| i.standard_cost).unwrap_or_default(),
            };
            (*id, cost)
        })
        .collect())
}

pub struct ExplodedRow {
    pub row: rules::Row,
    pub sku: String,
    pub name: String,
    pub unit: String,
}

/// The bill exploded for `quantity` units with the sub-assemblies' bills valid on `date`.
pub async fn explosion(
    app: &AppState,
    tenant: TenantId,
    id: Uuid,
    quantity: Decimal,
    date: NaiveDate,
) -> AppResult<(Bom, Vec<ExplodedRow>)> {
    let mut f = Fields::new();
    check_quantity(&mut f, "quantity", quantity);
    f.finish()?;
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (b, lines) = load_bom(&tx, id, false).await?;
    let bills = effective_bills(&tx, date).await?;
    let root = bill(&b, &lines);
    let rows = rules::explode(&|item| bills.get(&item).filter(|x| x.item != b.item_id), &root, quantity)
        .map_err(|cycle| AppError::Conflict(format!("the bills form a cycle through {} items", cycle.len())))?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.item).collect();
    let items = stock_store::get_items(&tx, &ids).await?;
    tx.commit().await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            let i = items.get(&row.item);
            ExplodedRow {
                sku: i.map(|i| i.sku.clone()).unwrap_or_default(),
                name: i.map(|i| i.name.clone()).unwrap_or_default(),
                unit: i.map(|i| i.base_unit.clone()).unwrap_or_default(),
                row,
            }
        })
        .collect();
    Ok((b, rows))
}

pub struct RollUp {
    pub bom: Bom,
    pub material: Decimal,
    pub overhead: Decimal,
    pub unit_cost: Decimal,
    /// (component, sku, quantity per unit, unit cost, extended, by-product)
    pub lines: Vec<(Uuid, String, Decimal, Decimal, Decimal, bool)>,
    pub standard_cost: Decimal,
}

/// One unit's cost by the bill: components at their current cost (sub-assemblies rolled up
/// through their own bills valid on `date`), plus the tenant's overhead rates. Money is shown
/// to 4 places.
pub async fn cost_rollup(app: &AppState, tenant: TenantId, id: Uuid, date: NaiveDate) -> AppResult<RollUp> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (b, lines) = load_bom(&tx, id, false).await?;
    let bills = effective_bills(&tx, date).await?;
    let settings = store::settings(&tx).await?;
    let root = bill(&b, &lines);
    // Every item any level can reach.
    let mut seen: std::collections::HashSet<Uuid> = std::collections::HashSet::from([b.item_id]);
    let mut frontier: Vec<&Bill> = vec![&root];
    while let Some(x) = frontier.pop() {
        for l in &x.lines {
            if seen.insert(l.component)
                && let Some(sub) = bills.get(&l.component)
            {
                frontier.push(sub);
            }
        }
    }
    let reach: Vec<Uuid> = seen.into_iter().collect();
    let costs = unit_costs(&tx, &reach).await?;
    let items = stock_store::get_items(&tx, &reach).await?;
    tx.commit().await?;
    let overhead = Overhead { rate: settings.overhead_rate, per_unit: settings.overhead_per_unit };
    let rolled = rules::roll_up(
        &|item| bills.get(&item).filter(|x| x.item != b.item_id),
        &root,
        &|item| costs.get(&item).copied().unwrap_or_default(),
        overhead,
        0,
    );
    let r4 = |d: Decimal| d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero);
    let line_flags: Vec<bool> = root.lines.iter().map(|l| l.byproduct).collect();
    Ok(RollUp {
        material: r4(rolled.material),
        overhead: r4(rolled.overhead),
        unit_cost: r4(rolled.unit_cost),
        lines: rolled
            .lines
            .iter()
            .zip(line_flags)
            .map(|((c, q, u, e), by)| {
                (*c, items.get(c).map(|i| i.sku.clone()).unwrap_or_default(), q.normalize(), r4(*u), r4(*e), by)
            })
            .collect(),
        standard_cost: items.get(&b.item_id).map(|i| i.standard_cost).unwrap_or_default(),
        bom: b,
    })
}

/// (level, bill, parent item, parent sku, revision, status) of every bill, draft and active,
/// that uses the item, directly or (with `indirect`) through sub-assemblies.
pub async fn where_used(
    app: &AppState,
    tenant: TenantId,
    item: Uuid,
    indirect: bool,
) -> AppResult<Vec<(u32, Bom, String, Decimal)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    planned_item(&tx, item).await?;
    let all = store::bills(&tx, &["draft", "active"]).await?;
    let bills: Vec<Bill> = all.iter().map(|(b, l)| bill(b, l)).collect();
    let found = rules::where_used(&bills, item, indirect);
    let parents: Vec<Uuid> = found.iter().map(|(_, _, p)| *p).collect();
    let items = stock_store::get_items(&tx, &parents).await?;
    tx.commit().await?;
    let by_id: HashMap<Uuid, &(Bom, Vec<BomLine>)> = all.iter().map(|x| (x.0.id, x)).collect();
    let mut out = Vec::new();
    for (level, bill_id, parent) in found {
        if let Some((b, lines)) = by_id.get(&bill_id) {
            // Quantity of the item per output unit on a direct line (0 when used lower down).
            let per: Decimal = if level == 1 {
                lines.iter().filter(|l| l.component_id == item).map(|l| l.quantity / b.output_quantity).sum()
            } else {
                Decimal::ZERO
            };
            out.push((
                level,
                b.clone(),
                items.get(&parent).map(|i| i.sku.clone()).unwrap_or_default(),
                per.normalize(),
            ));
        }
    }
    Ok(out)
}

// ================================================================ forecasts

pub struct ForecastInput {
    pub item_id: Uuid,
    pub due_date: NaiveDate,
    pub quantity: Decimal,
    pub memo: Option<String>,
}

pub async fn create_forecast(app: &AppState, ctx: &Ctx, input: ForecastInput) -> AppResult<Forecast> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    match stock_store::get_item(&tx, input.item_id).await? {
        None => f.push("item_id", "no such item"),
        Some(i) if !i.is_active => f.push("item_id", format!("item {} is inactive", i.sku)),
        Some(i) if !is_stocked(&i.item_type) => f.push("item_id", format!("{} is a service item", i.sku)),
        Some(_) => {}
    }
    check_quantity(&mut f, "quantity", input.quantity);
    let memo = input.memo.map(|m| m.trim().to_owned()).unwrap_or_default();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    f.finish()?;
    let fc = Forecast {
        id: Uuid::now_v7(),
        item_id: input.item_id,
        due_date: input.due_date,
        quantity: input.quantity,
        memo,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
    };
    store::insert_forecast(&tx, &fc).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "forecast.create",
            "forecast",
            Some(fc.id.to_string()),
            None,
            Some(serde_json::json!({"item_id": fc.item_id, "due_date": fc.due_date, "quantity": fc.quantity.to_string()})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(fc)
}

pub async fn delete_forecast(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let fc = store::get_forecast(&tx, id).await?.ok_or(AppError::NotFound { entity: "forecast" })?;
    store::delete_forecast(&tx, id).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "forecast.delete",
            "forecast",
            Some(id.to_string()),
            Some(serde_json::json!({"item_id": fc.item_id, "due_date": fc.due_date, "quantity": fc.quantity.to_string()})),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_forecasts(app: &AppState, tenant: TenantId, item: Option<Uuid>) -> AppResult<Vec<Forecast>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let f = store::forecasts(&tx, item, None).await?;
    tx.commit().await?;
    Ok(f)
}

/// Today in the tenant's books (UTC dates, like every document date).
pub(crate) fn today(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive()
}
