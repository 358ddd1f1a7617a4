//! Production orders, from planned to closed, and what they do to stock and the books:
//!
//! - **Create** (by hand or from an MRP suggestion): the components are the bill's lines for
//!   the order quantity, scrap included, with phantoms replaced by their own components.
//! - **Release** reserves what is on hand of each component in the order's warehouse (a
//!   shortage does not stop it; the kit analysis and the alert list show it).
//! - **Issue** by kit (配套领料: every kit component, what is left of its requirement) or line
//!   by line (extra issues, components not on the bill); **return** puts components back at
//!   the cost they left with. Issues post inventory to WIP (生产成本) at the moving average.
//! - **Complete** (partial or final): backflushed components (倒冲领料) are consumed by the bill
//!   for the quantity completed, overhead is absorbed at the tenant's rates (WIP against
//!   overhead absorbed), by-products come in at standard cost, and the finished goods come in
//!   at standard cost, or at actual cost (their share of WIP) when the item has none.
//! - **Close** absorbs the rest of the overhead and posts what is left in WIP, the difference
//!   between actual and standard, to the production variance account; open reservations are
//!   released. **Cancel** is for orders nothing was issued to.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::approvals::{Document, Settled, Submission};
use super::inventory::{release_in, reserve_in};
use super::production::{check_quantity, effective_bills, q4, today};
use super::receivables::{document_entry, mapped, mapping, next_number, post_document_entry};
use super::stock_posting::{Movement, Source, post_movements};
use super::{AppState, Change, Ctx, record, stale};
use crate::domain::approvals::Facts;
use crate::domain::bom::{self as rules, Bill, IssueMethod};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{Dimensions, EntryLine, minor_unit_digits};
use crate::domain::stock::is_stocked;
use crate::error::{AppError, AppResult, Fields};
use crate::store::approvals::Request as ApprovalRequest;
use crate::store::production::{self as store, Component, OrderFilter, ProductionChange, ProductionOrder};
use crate::store::stock::{self as stock_store, Item};
use crate::store::trade as trade_store;
use crate::store::{Access, Page, TenantTx, tenants};

const ENTITY: &str = "production order";

pub fn order_json(o: &ProductionOrder, cs: &[Component]) -> serde_json::Value {
    serde_json::json!({
        "number": o.number, "status": o.status, "item_id": o.item_id, "bom_id": o.bom_id, "warehouse_id": o.warehouse_id,
        "quantity": o.quantity.to_string(), "completed": o.completed.to_string(), "start_date": o.start_date,
        "due_date": o.due_date, "sales_order_id": o.sales_order_id, "material_cost": o.material_cost.to_string(),
        "overhead_cost": o.overhead_cost.to_string(), "completed_value": o.completed_value.to_string(),
        "variance": o.variance.to_string(),
        "components": cs.iter().map(|c| serde_json::json!({"line_no": c.line_no, "component_id": c.component_id,
            "required": c.required.to_string(), "issued": c.issued.to_string(), "cost": c.cost.to_string()})).collect::<Vec<_>>(),
    })
}

fn wrong_state(o: &ProductionOrder, action: &'static str) -> AppError {
    AppError::InvalidState { entity: ENTITY, state: o.status.clone(), action }
}

/// The components of `quantity` units by `bill`: one per line, phantoms replaced by their own
/// bill's lines (scaled by the phantom's quantity).
pub(crate) fn components_for(bill: &Bill, bills: &HashMap<Uuid, Bill>, quantity: Decimal) -> Vec<Component> {
    let mut out = Vec::new();
    fn walk(bill: &Bill, bills: &HashMap<Uuid, Bill>, quantity: Decimal, depth: u32, out: &mut Vec<Component>) {
        for l in &bill.lines {
            let needed = rules::required(bill, l, quantity);
            match bills.get(&l.component).filter(|_| l.phantom && depth < 32) {
                Some(sub) => walk(sub, bills, needed, depth + 1, out),
                None => out.push(Component {
                    line_no: 0,
                    component_id: l.component,
                    required: needed,
                    issue_method: l.issue,
                    byproduct: l.byproduct,
                    issued: Decimal::ZERO,
                    cost: Decimal::ZERO,
                    reservation_id: None,
                }),
            }
        }
    }
    walk(bill, bills, quantity, 0, &mut out);
    for (i, c) in out.iter_mut().enumerate() {
        c.line_no = i32::try_from(i + 1).unwrap_or(i32::MAX);
    }
    out
}

// ================================================================ create

pub struct OrderInput {
    pub item_id: Uuid,
    pub bom_id: Option<Uuid>,
    pub quantity: Decimal,
    pub warehouse_id: Option<Uuid>,
    pub start_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub sales_order_id: Option<Uuid>,
    pub memo: Option<String>,
}

/// Makes a planned order in the caller's transaction (MRP's accept calls this too).
/// `bills` caches the effective bills by start date across calls (MRP's accept makes many
/// orders in one transaction and should read the bills once per date, not once per order).
pub(crate) async fn create_order_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    input: OrderInput,
    suggestion_id: Option<Uuid>,
    bills: &mut HashMap<NaiveDate, HashMap<Uuid, Bill>>,
    now: DateTime<Utc>,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let mut f = Fields::new();
    let item = stock_store::get_item(tx, input.item_id).await?;
    match &item {
        None => f.push("item_id", "no such item"),
        Some(i) if !i.is_active => f.push("item_id", format!("item {} is inactive", i.sku)),
        Some(i) if !is_stocked(&i.item_type) => {
            f.push("item_id", format!("{} is a service item and is not made", i.sku))
        }
        Some(_) => {}
    }
    check_quantity(&mut f, "quantity", input.quantity);
    let planning = store::get_planning(tx, input.item_id).await?;
    let start = input.start_date.unwrap_or_else(|| {
        input.due_date.checked_sub_days(Days::new(planning.lead_time_days.max(0) as u64)).unwrap_or(input.due_date)
    });
    if start > input.due_date {
        f.push("start_date", "must not be after due_date");
    }
    let warehouse_id = input.warehouse_id.or(item.as_ref().and_then(|i| i.default_warehouse_id));
    match warehouse_id {
        None => f.push("warehouse_id", "is required (the item has no default warehouse)"),
        Some(w) => match stock_store::get_warehouse(tx, w).await? {
            None => f.push("warehouse_id", "no such warehouse"),
            Some(x) if !x.is_active => f.push("warehouse_id", format!("warehouse {} is inactive", x.code)),
            Some(_) => {}
        },
    }
    if let Some(so) = input.sales_order_id {
        match trade_store::get_order(tx, so).await? {
            Some((o, _)) if o.side == crate::domain::trade::TradeSide::Sales && o.kind == "order" => {}
            _ => f.push("sales_order_id", "no such sales order"),
        }
    }
    let memo = input.memo.map(|m| m.trim().to_owned()).unwrap_or_default();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    f.finish()?;
    if let std::collections::hash_map::Entry::Vacant(e) = bills.entry(start) {
        e.insert(effective_bills(tx, start).await?);
    }
    let bills = bills.get(&start).ok_or_else(|| AppError::internal("bills"))?;
    let bill = match input.bom_id {
        Some(b) => {
            let (h, lines) = store::get_bom(tx, b, false)
                .await?
                .ok_or_else(|| AppError::field("bom_id", "no such bill of material"))?;
            if h.item_id != input.item_id {
                return Err(AppError::field("bom_id", "the bill is for another item"));
            }
            if h.status != "active" {
                return Err(AppError::field("bom_id", format!("revision {} is {}, not active", h.revision, h.status)));
            }
            super::production::bill(&h, &lines)
        }
        None => bills.get(&input.item_id).cloned().ok_or_else(|| {
            AppError::field(
                "bom_id",
                format!(
                    "{} has no active bill of material valid on {start}",
                    item.as_ref().map(|i| i.sku.as_str()).unwrap_or_default()
                ),
            )
        })?,
    };
    let components = components_for(&bill, bills, input.quantity);
    let o = ProductionOrder {
        id: Uuid::now_v7(),
        number: next_number(tx, "production_order", "MO").await?,
        item_id: input.item_id,
        bom_id: bill.id,
        warehouse_id: warehouse_id.ok_or_else(|| AppError::internal("warehouse"))?,
        quantity: input.quantity,
        completed: Decimal::ZERO,
        status: "planned".into(),
        start_date: start,
        due_date: input.due_date,
        sales_order_id: input.sales_order_id,
        suggestion_id,
        material_cost: Decimal::ZERO,
        overhead_cost: Decimal::ZERO,
        overhead_base: Decimal::ZERO,
        completed_value: Decimal::ZERO,
        variance: Decimal::ZERO,
        memo,
        released_at: None,
        closed_at: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store::insert_order(tx, &o, &components).await?;
    record(
        tx,
        ctx,
        now,
        Change::new(
            "production_order.create",
            "production_order",
            Some(o.id.to_string()),
            None,
            Some(order_json(&o, &components)),
        ),
    )
    .await?;
    Ok((o, components))
}

pub async fn create_order(
    app: &AppState,
    ctx: &Ctx,
    input: OrderInput,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let o = create_order_in(&tx, ctx, input, None, &mut HashMap::new(), now).await?;
    tx.commit().await?;
    Ok(o)
}

async fn load(tx: &TenantTx<'_>, id: Uuid) -> AppResult<(ProductionOrder, Vec<Component>)> {
    store::get_order(tx, id, true).await?.ok_or(AppError::NotFound { entity: ENTITY })
}

/// Saves the order, records the action with the order before and after, and commits.
async fn finish(
    tx: TenantTx<'_>,
    ctx: &Ctx,
    mut o: ProductionOrder,
    cs: Vec<Component>,
    action: &str,
    before: serde_json::Value,
    now: DateTime<Utc>,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    save(&tx, &mut o, now).await?;
    let after = order_json(&o, &cs);
    record(&tx, ctx, now, Change::new(action, "production_order", Some(o.id.to_string()), Some(before), Some(after)))
        .await?;
    tx.commit().await?;
    Ok((o, cs))
}

async fn save(tx: &TenantTx<'_>, o: &mut ProductionOrder, now: DateTime<Utc>) -> AppResult<()> {
    o.updated_at = now;
    o.version += 1;
    if !store::save_order(tx, o).await? {
        return Err(stale(ENTITY, o.version - 1));
    }
    Ok(())
}

fn source_id(o: &ProductionOrder, c: &Component) -> String {
    format!("{}:{}", o.id, c.line_no)
}

// ================================================================ release, cancel

/// Reserves what there is of each component's open need in the order's warehouse.
async fn reserve_components(
    tx: &TenantTx<'_>,
    o: &ProductionOrder,
    cs: &mut [Component],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for c in cs.iter_mut().filter(|c| !c.byproduct && c.reservation_id.is_none()) {
        let need = c.required - c.issued;
        if need <= Decimal::ZERO {
            continue;
        }
        let level = stock_store::lock_levels(tx, &[(c.component_id, o.warehouse_id)])
            .await?
            .remove(&(c.component_id, o.warehouse_id));
        let free = level.map(|l| (l.quantity - l.reserved).max(Decimal::ZERO)).unwrap_or_default();
        let take = need.min(free);
        if take <= Decimal::ZERO {
            continue;
        }
        let r = reserve_in(
            tx,
            c.component_id,
            o.warehouse_id,
            take,
            "production_order",
            &source_id(o, c),
            &format!("{} line {}", o.number, c.line_no),
            now,
        )
        .await?;
        c.reservation_id = Some(r.id);
        store::save_component(tx, o.id, c).await?;
    }
    Ok(())
}

async fn release_reservations(
    tx: &TenantTx<'_>,
    o: &ProductionOrder,
    cs: &mut [Component],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for c in cs.iter_mut() {
        if let Some(rid) = c.reservation_id
            && let Some(mut r) = stock_store::get_reservation(tx, rid).await?
            && r.status == "open"
        {
            release_in(tx, &mut r, None, false, now).await?;
        }
        if c.reservation_id.take().is_some() {
            store::save_component(tx, o.id, c).await?;
        }
    }
    Ok(())
}

/// `release` (planned → released, components reserved) or `cancel` (nothing completed and
/// nothing left issued; reservations released).
pub async fn order_action(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &str,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut cs) = load(&tx, id).await?;
    let before = order_json(&o, &cs);
    match action {
        "release" => {
            if o.status != "planned" {
                return Err(wrong_state(&o, "released"));
            }
            reserve_components(&tx, &o, &mut cs, now).await?;
            o.status = "released".into();
            o.released_at = Some(now);
        }
        _ => {
            // In progress only when everything issued came back and nothing was completed.
            if !matches!(o.status.as_str(), "planned" | "released" | "in_progress") || !o.completed.is_zero() {
                return Err(wrong_state(&o, "cancelled"));
            }
            if cs.iter().any(|c| !c.issued.is_zero()) {
                return Err(AppError::Conflict(format!(
                    "{} has components issued; return them first, or close the order",
                    o.number
                )));
            }
            refuse_pending_change(&tx, &o, "cancelled (decide or withdraw the change first)").await?;
            release_reservations(&tx, &o, &mut cs, now).await?;
            o.status = "cancelled".into();
            o.closed_at = Some(now);
        }
    }
    finish(
        tx,
        ctx,
        o,
        cs,
        if action == "release" { "production_order.release" } else { "production_order.cancel" },
        before,
        now,
    )
    .await
}

// ================================================================ changes after release

pub struct ChangeInput {
    pub quantity: Option<Decimal>,
    pub due_date: Option<NaiveDate>,
    pub reason: Option<String>,
}

fn change_json(c: &ProductionChange) -> serde_json::Value {
    serde_json::json!({"number": c.number, "order_id": c.order_id, "quantity": c.quantity.map(|q| q.to_string()),
        "due_date": c.due_date, "reason": c.reason, "status": c.status})
}

const CHANGE: &str = "production change";

/// An order whose change waits for approval is not cancelled or closed under it.
async fn refuse_pending_change(tx: &TenantTx<'_>, o: &ProductionOrder, action: &'static str) -> AppResult<()> {
    if let Some(c) = store::changes_of(tx, o.id).await?.into_iter().find(|c| c.status == "pending") {
        return Err(AppError::InvalidState {
            entity: ENTITY,
            state: format!("{} with change {} waiting for approval", o.number, c.number),
            action,
        });
    }
    Ok(())
}
const CHANGE_KIND: &str = "production_change";

/// The change still holds for the order as it is now: open, not below what was completed,
/// not due before it starts.
fn check_change(o: &ProductionOrder, quantity: Option<Decimal>, due: Option<NaiveDate>) -> AppResult<()> {
    if !matches!(o.status.as_str(), "planned" | "released" | "in_progress") {
        return Err(wrong_state(o, "changed (only open orders are)"));
    }
    let mut f = Fields::new();
    if let Some(q) = quantity {
        check_quantity(&mut f, "quantity", q);
        if q < o.completed {
            f.push("quantity", format!("{} were completed already; the order cannot be smaller", q4(o.completed)));
        }
    }
    if due.is_some_and(|d| d < o.start_date) {
        f.push("due_date", format!("must not be before the order starts ({})", o.start_date));
    }
    f.finish()
}

/// Asks to change an order's quantity or due date. A planned order changes at once; after
/// release the change goes through the tenant's production-change flows (and applies at once
/// when none covers it or it is under the flow's threshold).
pub async fn request_change(
    app: &AppState,
    ctx: &Ctx,
    order: Uuid,
    input: ChangeInput,
) -> AppResult<(ProductionChange, Option<ApprovalRequest>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (o, _) = load(&tx, order).await?;
    if let Some(p) = store::changes_of(&tx, order).await?.into_iter().find(|c| c.status == "pending") {
        return Err(AppError::Conflict(format!("{} already has change {} waiting for approval", o.number, p.number)));
    }
    let mut f = Fields::new();
    let reason = super::receivables::optional(&mut f, "reason", input.reason, 500);
    if reason.is_none() {
        f.push("reason", "say why the order changes");
    }
    let quantity = input.quantity.filter(|q| *q != o.quantity);
    let due_date = input.due_date.filter(|d| *d != o.due_date);
    if quantity.is_none() && due_date.is_none() {
        f.push("quantity", "give a new quantity or due_date (different from the order's)");
    }
    f.finish()?;
    check_change(&o, quantity, due_date)?;
    let mut c = ProductionChange {
        id: Uuid::now_v7(),
        number: next_number(&tx, "production_change", "MOC").await?,
        order_id: order,
        quantity,
        due_date,
        reason: reason.unwrap_or_default(),
        status: "pending".into(),
        requested_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        decided_at: None,
        updated_at: now,
        version: 1,
    };
    store::insert_change(&tx, &c).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "production_change.create",
            "production_change",
            Some(c.id.to_string()),
            None,
            Some(change_json(&c)),
        ),
    )
    .await?;
    let mut request = None;
    let apply_now = if o.status == "planned" {
        true
    } else {
        let item = stock_store::get_item(&tx, o.item_id).await?;
        let sku = item.as_ref().map(|i| i.sku.clone()).unwrap_or_default();
        let value = item.map(|i| i.standard_cost).unwrap_or_default() * quantity.unwrap_or(o.quantity);
        let mut what = Vec::new();
        if let Some(q) = quantity {
            what.push(format!("quantity {} to {}", q4(o.quantity), q4(q)));
        }
        if let Some(d) = due_date {
            what.push(format!("due {} to {d}", o.due_date));
        }
        let doc = Document {
            kind: CHANGE_KIND,
            id: c.id,
            number: c.number.clone(),
            summary: format!("{} ({sku}): {}", o.number, what.join(", ")),
            facts: Facts {
                requester: ctx.principal.actor_uuid(),
                authors: Vec::new(),
                amount: value.round_dp(2),
                department: None,
                supplier: None,
                discount: None,
            },
        };
        match super::approvals::submit_in(&tx, ctx, doc, now).await? {
            Submission::NotRequired => true,
            Submission::AutoApproved(r) => {
                request = Some(r);
                true
            }
            Submission::Pending(r) => {
                request = Some(r);
                false
            }
        }
    };
    if apply_now {
        apply_change(&tx, ctx, &mut c, now).await?;
    }
    tx.commit().await?;
    Ok((c, request))
}

/// Applies an approved change: the quantity scales every component's requirement (what was
/// issued stays issued) and the reservations follow; the due date moves.
async fn apply_change(tx: &TenantTx<'_>, ctx: &Ctx, c: &mut ProductionChange, now: DateTime<Utc>) -> AppResult<()> {
    let (mut o, mut cs) = load(tx, c.order_id).await?;
    check_change(&o, c.quantity, c.due_date)?;
    let before = order_json(&o, &cs);
    if let Some(q) = c.quantity {
        let reserved = o.status != "planned";
        if reserved {
            release_reservations(tx, &o, &mut cs, now).await?;
        }
        for comp in cs.iter_mut() {
            comp.required = (comp.required * q / o.quantity).round_dp_with_strategy(4, RoundingStrategy::AwayFromZero);
            store::save_component(tx, o.id, comp).await?;
        }
        o.quantity = q;
        if reserved {
            reserve_components(tx, &o, &mut cs, now).await?;
        }
    }
    if let Some(d) = c.due_date {
        o.due_date = d;
    }
    save(tx, &mut o, now).await?;
    let mut after = order_json(&o, &cs);
    after["change"] = serde_json::json!({"number": c.number, "reason": c.reason});
    record(
        tx,
        ctx,
        now,
        Change::new("production_order.change", "production_order", Some(o.id.to_string()), Some(before), Some(after)),
    )
    .await?;
    let prior = change_json(c);
    c.status = "applied".into();
    c.decided_at = Some(now);
    c.updated_at = now;
    c.version += 1;
    if !store::save_change(tx, c).await? {
        return Err(stale(CHANGE, c.version - 1));
    }
    record(
        tx,
        ctx,
        now,
        Change::new(
            "production_change.apply",
            "production_change",
            Some(c.id.to_string()),
            Some(prior),
            Some(change_json(c)),
        ),
    )
    .await
}

/// A change's approval ended: applied when approved, else it says how it ended.
pub(crate) async fn change_settled(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut c = store::get_change(tx, a.document_id).await?.ok_or(AppError::NotFound { entity: CHANGE })?;
    if s == Settled::Approved {
        return apply_change(tx, ctx, &mut c, now).await;
    }
    let prior = change_json(&c);
    c.status = match s {
        Settled::Rejected => "rejected",
        Settled::Returned => "returned",
        _ => "withdrawn",
    }
    .into();
    c.decided_at = Some(now);
    c.updated_at = now;
    c.version += 1;
    if !store::save_change(tx, &c).await? {
        return Err(stale(CHANGE, c.version - 1));
    }
    let action = format!("production_change.{}", s.verb());
    record(
        tx,
        ctx,
        now,
        Change::new(&action, "production_change", Some(c.id.to_string()), Some(prior), Some(change_json(&c))),
    )
    .await
}

pub async fn changes(app: &AppState, tenant: TenantId, order: Uuid) -> AppResult<Vec<ProductionChange>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    store::get_order(&tx, order, false).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    let l = store::changes_of(&tx, order).await?;
    tx.commit().await?;
    Ok(l)
}

// ================================================================ issue and return

#[derive(Clone, Debug)]
pub struct IssueLine {
    pub line_no: Option<i32>,
    /// A component not on the order yet (an extra issue of something the bill does not list).
    pub component_id: Option<Uuid>,
    pub quantity: Decimal,
}

#[derive(Clone, Debug)]
pub struct IssueInput {
    pub date: Option<NaiveDate>,
    /// Empty: the kit, i.e. what is left of every kit component's requirement.
    pub lines: Vec<IssueLine>,
}

struct Books {
    wip: Uuid,
    digits: u32,
    base: String,
}

async fn books(tx: &TenantTx<'_>) -> AppResult<Books> {
    let m = mapping(tx).await?;
    let base = tenants::current(tx).await?.base_currency;
    Ok(Books { wip: mapped(&m, "work_in_progress")?, digits: minor_unit_digits(&base), base })
}

fn money(b: &Books, d: Decimal) -> Decimal {
    d.round_dp_with_strategy(b.digits, RoundingStrategy::MidpointAwayFromZero)
}

/// Posts the issues `(component index, quantity)` under one stock document of `kind`: each
/// consumes its reservation first, then leaves stock at the moving average into WIP.
#[allow(clippy::too_many_arguments)]
async fn issue_components(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    o: &mut ProductionOrder,
    cs: &mut [Component],
    picks: &[(usize, Decimal, String)],
    kind: &'static str,
    date: NaiveDate,
    b: &Books,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    if picks.is_empty() {
        return Ok(None);
    }
    for (i, q, _) in picks {
        let c = &mut cs[*i];
        if let Some(rid) = c.reservation_id
            && let Some(mut r) = stock_store::get_reservation(tx, rid).await?
            && r.status == "open"
        {
            let take = r.open_quantity.min(*q);
            release_in(tx, &mut r, Some(take), true, now).await?;
            if r.status != "open" {
                c.reservation_id = None;
            }
        }
    }
    let moves: Vec<Movement> = picks
        .iter()
        .map(|(i, q, field)| Movement {
            item_id: cs[*i].component_id,
            warehouse_id: o.warehouse_id,
            bin_id: None,
            batch_id: None,
            kind,
            quantity: -*q,
            value: None,
            counter_account_id: b.wip,
            line_no: Some(cs[*i].line_no),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: field.clone(),
        })
        .collect();
    let doc_id = Uuid::now_v7();
    let source = Source {
        document_id: doc_id,
        date,
        source_type: kind,
        memo: format!("{} for {}", if kind == "backflush" { "Backflush" } else { "Material issue" }, o.number),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("production_issue".into(), "MI")),
    };
    let doc = super::trade::open_stock_document(tx, doc_id, kind, date, &source.memo, source.created_by, now).await?;
    let posted = post_movements(tx, &source, &moves, now).await?;
    super::trade::close_stock_document(tx, doc, &posted).await?;
    for ((i, q, _), e) in picks.iter().zip(posted.movements.iter()) {
        let c = &mut cs[*i];
        let value = -e.value;
        c.issued += *q;
        c.cost += value;
        o.material_cost += value;
        store::save_component(tx, o.id, c).await?;
    }
    Ok(posted.number)
}

fn issuable(o: &ProductionOrder, action: &'static str) -> AppResult<()> {
    match o.status.as_str() {
        "released" | "in_progress" | "completed" => Ok(()),
        "planned" => Err(AppError::InvalidState { entity: ENTITY, state: o.status.clone(), action }),
        _ => Err(wrong_state(o, action)),
    }
}

/// Picks the components an issue names (or the kit), adding a line for an extra component.
async fn picks_for(
    tx: &TenantTx<'_>,
    o: &ProductionOrder,
    cs: &mut Vec<Component>,
    lines: &[IssueLine],
) -> AppResult<Vec<(usize, Decimal, String)>> {
    let mut picks = Vec::new();
    if lines.is_empty() {
        for (i, c) in cs.iter().enumerate() {
            let left = c.required - c.issued;
            if c.issue_method == IssueMethod::Kit && !c.byproduct && left > Decimal::ZERO {
                picks.push((i, left, format!("components[{i}]")));
            }
        }
        if picks.is_empty() {
            return Err(AppError::Conflict(format!("{}: every kit component is issued already", o.number)));
        }
        return Ok(picks);
    }
    let mut f = Fields::new();
    for (n, l) in lines.iter().enumerate() {
        let field = format!("lines[{n}].quantity");
        check_quantity(&mut f, &field, l.quantity);
        let index = match (l.line_no, l.component_id) {
            (Some(no), _) => cs.iter().position(|c| c.line_no == no),
            (None, Some(item)) => match cs.iter().position(|c| c.component_id == item && !c.byproduct) {
                Some(i) => Some(i),
                None => {
                    match stock_store::get_item(tx, item).await? {
                        Some(it) if it.is_active && is_stocked(&it.item_type) && it.id != o.item_id => {}
                        _ => {
                            f.push(format!("lines[{n}].component_id"), "no such stocked item");
                            continue;
                        }
                    }
                    let c = Component {
                        line_no: cs.iter().map(|c| c.line_no).max().unwrap_or(0) + 1,
                        component_id: item,
                        required: Decimal::ZERO,
                        issue_method: IssueMethod::Kit,
                        byproduct: false,
                        issued: Decimal::ZERO,
                        cost: Decimal::ZERO,
                        reservation_id: None,
                    };
                    store::add_component(tx, o.id, &c).await?;
                    cs.push(c);
                    Some(cs.len() - 1)
                }
            },
            (None, None) => {
                f.push(format!("lines[{n}].line_no"), "give line_no or component_id");
                continue;
            }
        };
        match index {
            Some(i) if cs[i].byproduct => f.push(format!("lines[{n}].line_no"), "a by-product comes out at completion"),
            Some(i) => picks.push((i, l.quantity, field)),
            None => f.push(format!("lines[{n}].line_no"), "no such component line"),
        }
    }
    f.finish()?;
    Ok(picks)
}

pub async fn issue(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    input: IssueInput,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut cs) = load(&tx, id).await?;
    issuable(&o, "issued to (release it first, or it is closed)")?;
    let before = order_json(&o, &cs);
    let date = input.date.unwrap_or_else(|| today(now));
    let picks = picks_for(&tx, &o, &mut cs, &input.lines).await?;
    let b = books(&tx).await?;
    issue_components(&tx, ctx, &mut o, &mut cs, &picks, "production_issue", date, &b, now).await?;
    if o.status == "released" {
        o.status = "in_progress".into();
    }
    finish(tx, ctx, o, cs, "production_order.issue", before, now).await
}

/// Puts issued components back into the order's warehouse at the average cost they left with.
pub async fn return_components(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    input: IssueInput,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut cs) = load(&tx, id).await?;
    if !matches!(o.status.as_str(), "released" | "in_progress" | "completed") {
        return Err(wrong_state(&o, "given components back"));
    }
    if input.lines.is_empty() {
        return Err(AppError::field("lines", "name the component lines and quantities to return"));
    }
    let before = order_json(&o, &cs);
    let date = input.date.unwrap_or_else(|| today(now));
    let b = books(&tx).await?;
    let mut f = Fields::new();
    let mut moves = Vec::new();
    let mut rows = Vec::new();
    for (n, l) in input.lines.iter().enumerate() {
        let field = format!("lines[{n}].quantity");
        check_quantity(&mut f, &field, l.quantity);
        let Some(i) = l.line_no.and_then(|no| cs.iter().position(|c| c.line_no == no && !c.byproduct)) else {
            f.push(format!("lines[{n}].line_no"), "no such component line");
            continue;
        };
        // Earlier lines of this return for the same component count against what was issued.
        let (earlier_q, earlier_v): (Decimal, Decimal) = rows
            .iter()
            .filter(|(j, _, _)| *j == i)
            .fold((Decimal::ZERO, Decimal::ZERO), |(q, v), (_, x, y)| (q + x, v + y));
        let c = &cs[i];
        let (issued, cost) = (c.issued - earlier_q, c.cost - earlier_v);
        if l.quantity > issued {
            f.push(field.clone(), format!("only {} issued", q4(issued)));
            continue;
        }
        let value = if l.quantity == issued { cost } else { money(&b, cost * l.quantity / issued) };
        moves.push(Movement {
            item_id: c.component_id,
            warehouse_id: o.warehouse_id,
            bin_id: None,
            batch_id: None,
            kind: "production_return",
            quantity: l.quantity,
            value: Some(value),
            counter_account_id: b.wip,
            line_no: Some(c.line_no),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field,
        });
        rows.push((i, l.quantity, value));
    }
    f.finish()?;
    let doc_id = Uuid::now_v7();
    let source = Source {
        document_id: doc_id,
        date,
        source_type: "production_return",
        memo: format!("Components back from {}", o.number),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("production_return".into(), "MR")),
    };
    let doc =
        super::trade::open_stock_document(&tx, doc_id, "production_return", date, &source.memo, source.created_by, now)
            .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    for (i, q, v) in rows {
        let c = &mut cs[i];
        c.issued -= q;
        c.cost -= v;
        o.material_cost -= v;
        store::save_component(&tx, o.id, c).await?;
    }
    finish(tx, ctx, o, cs, "production_order.return", before, now).await
}

// ================================================================ completion and close

/// Absorbs overhead: the per-unit amount for `units` plus the rate on the material cost that
/// came in since the last absorption. Posts WIP against overhead absorbed.
async fn absorb_overhead(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    o: &mut ProductionOrder,
    units: Decimal,
    date: NaiveDate,
    b: &Books,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let s = store::settings(tx).await?;
    let amount = money(
        b,
        s.overhead_per_unit * units + s.overhead_rate * (o.material_cost - o.overhead_base).max(Decimal::ZERO),
    );
    o.overhead_base = o.material_cost;
    if amount <= Decimal::ZERO {
        return Ok(());
    }
    let m = mapping(tx).await?;
    let absorbed = mapped(&m, "overhead_absorbed")?;
    let dims = Dimensions { item_id: Some(o.item_id), ..Dimensions::default() };
    let memo = format!("Overhead absorbed by {}", o.number);
    let lines = vec![
        EntryLine::base(b.wip, amount, Decimal::ZERO, memo.clone(), dims.clone()),
        EntryLine::base(absorbed, Decimal::ZERO, amount, memo.clone(), dims),
    ];
    let entry = document_entry(
        date,
        memo,
        &b.base,
        Decimal::ONE,
        &lines,
        "production_overhead",
        o.id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    post_document_entry(tx, entry, &lines, now).await?;
    o.overhead_cost += amount;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct CompleteInput {
    pub date: Option<NaiveDate>,
    pub quantity: Decimal,
}

pub async fn complete(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    input: CompleteInput,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut cs) = load(&tx, id).await?;
    if !matches!(o.status.as_str(), "released" | "in_progress") {
        return Err(wrong_state(&o, "completed (release it first, or it is finished)"));
    }
    let mut f = Fields::new();
    check_quantity(&mut f, "quantity", input.quantity);
    let left = o.quantity - o.completed;
    if input.quantity > left {
        f.push(
            "quantity",
            format!("only {} of {} left to complete ({} completed)", q4(left), q4(o.quantity), q4(o.completed)),
        );
    }
    f.finish()?;
    let before = order_json(&o, &cs);
    let date = input.date.unwrap_or_else(|| today(now));
    let b = books(&tx).await?;
    let q = input.quantity;
    let last = q == left;
    // Backflush by the bill for the quantity completed (the rest of the requirement at the end).
    let mut picks = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        if c.issue_method != IssueMethod::Backflush || c.byproduct {
            continue;
        }
        let open = (c.required - c.issued).max(Decimal::ZERO);
        let share = if last {
            open
        } else {
            (c.required * q / o.quantity).round_dp_with_strategy(4, RoundingStrategy::AwayFromZero).min(open)
        };
        if share > Decimal::ZERO {
            picks.push((i, share, "quantity".to_owned()));
        }
    }
    issue_components(&tx, ctx, &mut o, &mut cs, &picks, "backflush", date, &b, now).await?;
    absorb_overhead(&tx, ctx, &mut o, q, date, &b, now).await?;

    // By-products and the finished goods come in.
    let ids: Vec<Uuid> = cs.iter().filter(|c| c.byproduct).map(|c| c.component_id).chain([o.item_id]).collect();
    let items: HashMap<Uuid, Item> = stock_store::get_items(&tx, &ids).await?;
    let mut moves = Vec::new();
    let mut by = Vec::new();
    for (i, c) in cs.iter().enumerate().filter(|(_, c)| c.byproduct) {
        let share = if last {
            (c.required - c.issued).max(Decimal::ZERO)
        } else {
            (c.required * q / o.quantity).round_dp_with_strategy(4, RoundingStrategy::ToZero)
        };
        if share <= Decimal::ZERO {
            continue;
        }
        let value = money(&b, items.get(&c.component_id).map(|x| x.standard_cost).unwrap_or_default() * share);
        moves.push(Movement {
            item_id: c.component_id,
            warehouse_id: o.warehouse_id,
            bin_id: None,
            batch_id: None,
            kind: "byproduct",
            quantity: share,
            value: Some(value),
            counter_account_id: b.wip,
            line_no: Some(c.line_no),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: "quantity".into(),
        });
        by.push((i, share, value));
    }
    let wip_before_goods = o.wip() - by.iter().map(|(_, _, v)| *v).sum::<Decimal>();
    let standard = items.get(&o.item_id).map(|x| x.standard_cost).unwrap_or_default();
    let value = if standard > Decimal::ZERO {
        money(&b, standard * q)
    } else if last {
        wip_before_goods.max(Decimal::ZERO)
    } else {
        money(&b, (wip_before_goods * q / left).max(Decimal::ZERO))
    };
    moves.push(Movement {
        item_id: o.item_id,
        warehouse_id: o.warehouse_id,
        bin_id: None,
        batch_id: None,
        kind: "production_receipt",
        quantity: q,
        value: Some(value),
        counter_account_id: b.wip,
        line_no: None,
        pair_index: None,
        pair_entry_id: None,
        layer_entry_id: None,
        field: "quantity".into(),
    });
    let doc_id = Uuid::now_v7();
    let source = Source {
        document_id: doc_id,
        date,
        source_type: "production_receipt",
        memo: format!("Completion of {}", o.number),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("production_receipt".into(), "FG")),
    };
    let doc = super::trade::open_stock_document(
        &tx,
        doc_id,
        "production_receipt",
        date,
        &source.memo,
        source.created_by,
        now,
    )
    .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    for (i, share, v) in by {
        let c = &mut cs[i];
        c.issued += share;
        c.cost -= v;
        o.completed_value += v;
        store::save_component(&tx, o.id, c).await?;
    }
    o.completed_value += value;
    o.completed += q;
    o.status = if o.completed == o.quantity { "completed".into() } else { "in_progress".into() };
    if o.status == "completed" {
        // Nothing more will be issued by the kit: what is still held goes back to the pool.
        release_reservations(&tx, &o, &mut cs, now).await?;
    }
    finish(tx, ctx, o, cs, "production_order.complete", before, now).await
}

/// Closes a completed order (or one in progress, short): the rest of the overhead is absorbed,
/// what is left in WIP goes to the production variance account, reservations are released.
pub async fn close(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    date: Option<NaiveDate>,
) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut cs) = load(&tx, id).await?;
    if !matches!(o.status.as_str(), "completed" | "in_progress") {
        return Err(wrong_state(&o, "closed"));
    }
    refuse_pending_change(&tx, &o, "closed (decide or withdraw the change first)").await?;
    let before = order_json(&o, &cs);
    let date = date.unwrap_or_else(|| today(now));
    let b = books(&tx).await?;
    absorb_overhead(&tx, ctx, &mut o, Decimal::ZERO, date, &b, now).await?;
    let left = o.wip();
    if !left.is_zero() {
        let m = mapping(&tx).await?;
        let variance = mapped(&m, "production_variance")?;
        let dims = Dimensions { item_id: Some(o.item_id), ..Dimensions::default() };
        let memo = format!("Production variance of {}", o.number);
        let (dr, cr) = if left > Decimal::ZERO { (variance, b.wip) } else { (b.wip, variance) };
        let lines = vec![
            EntryLine::base(dr, left.abs(), Decimal::ZERO, memo.clone(), dims.clone()),
            EntryLine::base(cr, Decimal::ZERO, left.abs(), memo.clone(), dims),
        ];
        let entry = document_entry(
            date,
            memo,
            &b.base,
            Decimal::ONE,
            &lines,
            "production_variance",
            o.id,
            Some(ctx.principal.actor_uuid()),
            now,
        );
        post_document_entry(&tx, entry, &lines, now).await?;
        o.variance += left;
    }
    release_reservations(&tx, &o, &mut cs, now).await?;
    o.status = "closed".into();
    o.closed_at = Some(now);
    finish(tx, ctx, o, cs, "production_order.close", before, now).await
}

// ================================================================ reading

pub async fn get_order(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(ProductionOrder, Vec<Component>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let o = store::get_order(&tx, id, false).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    tx.commit().await?;
    Ok(o)
}

pub async fn list_orders(
    app: &AppState,
    tenant: TenantId,
    f: &OrderFilter,
    page: &Page,
) -> AppResult<Vec<ProductionOrder>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let o = store::list_orders(&tx, f, page).await?;
    tx.commit().await?;
    Ok(o)
}

// ================================================================ kit availability (齐套分析)

/// Where more of an item comes from next.
#[derive(Clone, Debug, PartialEq)]
pub struct NextSupply {
    pub kind: &'static str,
    pub number: String,
    pub date: NaiveDate,
    pub quantity: Decimal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct KitLine {
    pub line_no: i32,
    pub item_id: Uuid,
    pub sku: String,
    pub needed: Decimal,
    /// On hand and free in the warehouse, plus what is reserved for this order.
    pub available: Decimal,
    pub short: Decimal,
    pub next_supply: Option<NextSupply>,
    /// Components of a short made item (sales orders only).
    pub components: Vec<KitLine>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Kit {
    pub lines: Vec<KitLine>,
    /// The quantity that can be made now from what is issued and available (production orders).
    pub can_make_now: Option<Decimal>,
    pub can_start: bool,
}

/// Open supply per item, soonest first: purchase order lines, production orders, requests.
async fn supplies(
    tx: &TenantTx<'_>,
    items: &HashSet<Uuid>,
    except_order: Option<Uuid>,
) -> AppResult<HashMap<Uuid, Vec<NextSupply>>> {
    let mut out: HashMap<Uuid, Vec<NextSupply>> = HashMap::new();
    for l in store::open_order_lines(tx, "purchase").await? {
        if items.contains(&l.item_id) {
            out.entry(l.item_id).or_default().push(NextSupply {
                kind: "purchase_order",
                number: l.number,
                date: l.date,
                quantity: l.open,
            });
        }
    }
    for (o, _) in store::open_orders(tx).await? {
        if items.contains(&o.item_id) && Some(o.id) != except_order {
            out.entry(o.item_id).or_default().push(NextSupply {
                kind: "production_order",
                number: o.number.clone(),
                date: o.due_date,
                quantity: o.quantity - o.completed,
            });
        }
    }
    for (_, number, item, q, date) in store::open_requests(tx).await? {
        if items.contains(&item) {
            out.entry(item).or_default().push(NextSupply { kind: "purchase_request", number, date, quantity: q });
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| (a.date, &a.number).cmp(&(b.date, &b.number)));
    }
    Ok(out)
}

/// Free stock (on hand less reserved) per item in one warehouse.
async fn free_in(tx: &TenantTx<'_>, items: &[Uuid], warehouse: Uuid) -> AppResult<HashMap<Uuid, Decimal>> {
    Ok(stock_store::levels_of_items(tx, items)
        .await?
        .into_iter()
        .filter(|l| l.warehouse_id == warehouse)
        .map(|l| (l.item_id, (l.quantity - l.reserved).max(Decimal::ZERO)))
        .collect())
}

async fn reserved_open(tx: &TenantTx<'_>, id: Option<Uuid>) -> AppResult<Decimal> {
    Ok(match id {
        Some(r) => stock_store::get_reservation(tx, r)
            .await?
            .filter(|r| r.status == "open")
            .map(|r| r.open_quantity)
            .unwrap_or_default(),
        None => Decimal::ZERO,
    })
}

pub async fn order_kit(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(ProductionOrder, Kit)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (o, cs) = store::get_order(&tx, id, false).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    let kit = kit_of(&tx, &o, &cs).await?;
    tx.commit().await?;
    Ok((o, kit))
}

pub(crate) async fn kit_of(tx: &TenantTx<'_>, o: &ProductionOrder, cs: &[Component]) -> AppResult<Kit> {
    let wanted: HashSet<Uuid> = cs.iter().map(|c| c.component_id).collect();
    let next = supplies(tx, &wanted, Some(o.id)).await?;
    kit_with(tx, o, cs, &next).await
}

/// The kit of an order with the open supply already read (`next`, soonest first per item).
async fn kit_with(
    tx: &TenantTx<'_>,
    o: &ProductionOrder,
    cs: &[Component],
    next: &HashMap<Uuid, Vec<NextSupply>>,
) -> AppResult<Kit> {
    let ids: Vec<Uuid> = cs.iter().map(|c| c.component_id).collect();
    let items = stock_store::get_items(tx, &ids).await?;
    let free = free_in(tx, &ids, o.warehouse_id).await?;
    let mut lines = Vec::new();
    let mut can_make = o.quantity - o.completed;
    let finished = matches!(o.status.as_str(), "closed" | "cancelled");
    for c in cs.iter().filter(|c| !c.byproduct) {
        let needed = if finished { Decimal::ZERO } else { (c.required - c.issued).max(Decimal::ZERO) };
        let available =
            free.get(&c.component_id).copied().unwrap_or_default() + reserved_open(tx, c.reservation_id).await?;
        let short = (needed - available).max(Decimal::ZERO);
        if c.required > Decimal::ZERO {
            // Units the issued and available stock covers, of those not yet completed.
            let per_unit = c.required / o.quantity;
            let consumed_by_completed = (per_unit * o.completed).min(c.issued);
            let have = c.issued - consumed_by_completed + available;
            let units = (have / per_unit).round_dp_with_strategy(4, RoundingStrategy::ToZero);
            can_make = can_make.min(units);
        }
        lines.push(KitLine {
            line_no: c.line_no,
            item_id: c.component_id,
            sku: items.get(&c.component_id).map(|i| i.sku.clone()).unwrap_or_default(),
            needed,
            available,
            short,
            next_supply: if short > Decimal::ZERO {
                next.get(&c.component_id).and_then(|v| v.first().cloned())
            } else {
                None
            },
            components: Vec::new(),
        });
    }
    let can_start = !finished && lines.iter().all(|l| l.short.is_zero());
    Ok(Kit { lines, can_make_now: Some(can_make.max(Decimal::ZERO).normalize()), can_start })
}

/// Kit availability for a sales order: per open line, what is needed beyond its reservation,
/// what is available, what is short and when supply comes; a short item with a bill shows its
/// components for the shortfall.
pub async fn sales_order_kit(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Kit> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (o, ls) = trade_store::get_order(&tx, id)
        .await?
        .filter(|(o, _)| o.side == crate::domain::trade::TradeSide::Sales)
        .ok_or(AppError::NotFound { entity: "sales order" })?;
    let date = o.expected_date.unwrap_or(o.order_date);
    let bills = effective_bills(&tx, date).await?;
    let mut ids: Vec<Uuid> = ls.iter().map(|l| l.item_id).collect();
    for l in &ls {
        if let Some(b) = bills.get(&l.item_id) {
            ids.extend(b.lines.iter().map(|x| x.component));
        }
    }
    let items = stock_store::get_items(&tx, &ids).await?;
    let wanted: HashSet<Uuid> = ids.iter().copied().collect();
    let next = supplies(&tx, &wanted, None).await?;
    let mut lines = Vec::new();
    for l in ls.iter().filter(|l| items.get(&l.item_id).is_some_and(|i| is_stocked(&i.item_type))) {
        let Some(w) = l.warehouse_id else { continue };
        let open = if matches!(o.status.as_str(), "closed" | "cancelled") {
            Decimal::ZERO
        } else {
            (l.quantity - l.shipped).max(Decimal::ZERO)
        };
        let free = free_in(&tx, &[l.item_id], w).await?;
        let available =
            free.get(&l.item_id).copied().unwrap_or_default() + reserved_open(&tx, l.reservation_id).await?;
        let short = (open - available).max(Decimal::ZERO);
        let mut components = Vec::new();
        if short > Decimal::ZERO
            && let Some(b) = bills.get(&l.item_id)
        {
            let cs = components_for(b, &bills, short);
            let ids: Vec<Uuid> = cs.iter().map(|c| c.component_id).collect();
            let free = free_in(&tx, &ids, w).await?;
            for c in cs.iter().filter(|c| !c.byproduct) {
                let available = free.get(&c.component_id).copied().unwrap_or_default();
                let short = (c.required - available).max(Decimal::ZERO);
                components.push(KitLine {
                    line_no: c.line_no,
                    item_id: c.component_id,
                    sku: items.get(&c.component_id).map(|i| i.sku.clone()).unwrap_or_default(),
                    needed: c.required,
                    available,
                    short,
                    next_supply: if short > Decimal::ZERO {
                        next.get(&c.component_id).and_then(|v| v.first().cloned())
                    } else {
                        None
                    },
                    components: Vec::new(),
                });
            }
        }
        lines.push(KitLine {
            line_no: l.line_no,
            item_id: l.item_id,
            sku: items.get(&l.item_id).map(|i| i.sku.clone()).unwrap_or_default(),
            needed: open,
            available,
            short,
            next_supply: if short > Decimal::ZERO {
                next.get(&l.item_id).and_then(|v| v.first().cloned())
            } else {
                None
            },
            components,
        });
    }
    tx.commit().await?;
    let can_start = lines.iter().all(|l| l.short.is_zero());
    Ok(Kit { lines, can_make_now: None, can_start })
}

/// Open orders late against their due date, and released ones short of material.
pub async fn alerts(
    app: &AppState,
    tenant: TenantId,
    as_of: Option<NaiveDate>,
) -> AppResult<Vec<(ProductionOrder, Vec<&'static str>, Kit)>> {
    let now = app.now();
    let day = as_of.unwrap_or_else(|| today(now));
    let tx = app.store.begin(tenant, Access::Read).await?;
    let mut out = Vec::new();
    let open = store::open_orders(&tx).await?;
    let wanted: HashSet<Uuid> = open.iter().flat_map(|(_, cs)| cs.iter().map(|c| c.component_id)).collect();
    let all_next = supplies(&tx, &wanted, None).await?;
    for (o, cs) in open {
        let mut why = Vec::new();
        if o.due_date < day {
            why.push("late");
        }
        // The order's own supply (when it makes one of its components) is not its next supply.
        let next: HashMap<Uuid, Vec<NextSupply>> = all_next
            .iter()
            .map(|(k, v)| {
                (*k, v.iter().filter(|n| !(n.kind == "production_order" && n.number == o.number)).cloned().collect())
            })
            .collect();
        let kit = kit_with(&tx, &o, &cs, &next).await?;
        if o.status != "planned" && !kit.can_start {
            why.push("short_of_material");
        }
        if !why.is_empty() {
            out.push((o, why, kit));
        }
    }
    tx.commit().await?;
    Ok(out)
}
