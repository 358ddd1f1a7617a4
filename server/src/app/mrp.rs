//! MRP runs: load a tenant's demand and supply, net them with `domain::mrp`, write the run and
//! its suggestions; accept suggestions into purchase requests and production orders.
//!
//! - Demand: open lines of confirmed sales orders, forecasts (less the sales orders of the same
//!   item due in the same month: forecast consumption), the open component needs of production
//!   orders (required less issued, dated at the order's start), and safety stock.
//! - Supply: stock on hand (less reservations for anything but sales and production orders,
//!   whose needs are counted as demand above), open purchase order lines, open production
//!   orders, and purchase requests not yet ordered, so that accepted suggestions are not
//!   proposed again.
//! - Make or buy: `manufactured` items are made; `both` items are made when they have an active
//!   bill, else bought; the rest are bought, from the cheapest supplier price list (then the
//!   shortest lead time). Lead time: the item's planning data, else the supplier's.
//! - The run is one transaction. It takes the run number first: the sequence row lock makes a
//!   second run of the tenant wait until the first commits. Its suggestions replace the open
//!   suggestions of earlier runs (of the items in scope), which are deleted; accepted ones stay.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::manufacturing::{OrderInput, create_order_in};
use super::production::{effective_bills, today};
use super::purchasing::{RequestInput, create_request_in};
use super::receivables::next_number;
use super::{AppState, Ctx};
use crate::domain::bom::Bill;
use crate::domain::ids::TenantId;
use crate::domain::mrp::{
    self as rules, Demand, Input, LotPolicy, LotSizing, Peg, PegKind, PlanItem, PlannedKind, Replenish, Supply,
    SupplyKind,
};
use crate::error::{AppError, AppResult, FieldError};
use crate::store::production::{self as store, Run, Suggestion, SuggestionFilter, SupplierOffer};
use crate::store::{Access, Page, TenantTx};

/// Accepting more at once is refused (one transaction makes every document).
pub const ACCEPT_MAX: usize = 1000;

pub struct RunInput {
    pub items: Option<Vec<Uuid>>,
    pub horizon: Option<NaiveDate>,
}

fn peg_json(p: &Peg, q: Decimal) -> serde_json::Value {
    serde_json::json!({"source": p.kind.as_str(), "id": p.id, "number": p.number, "line": p.line, "quantity": q.normalize().to_string()})
}

fn month(d: NaiveDate) -> (i32, u32) {
    (d.year(), d.month())
}

/// The items to plan: the ones asked for and every component their bills reach.
fn reach(asked: &[Uuid], bills: &HashMap<Uuid, Bill>) -> HashSet<Uuid> {
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut stack: Vec<Uuid> = asked.to_vec();
    while let Some(i) = stack.pop() {
        if seen.insert(i)
            && let Some(b) = bills.get(&i)
        {
            stack.extend(b.lines.iter().filter(|l| !l.byproduct).map(|l| l.component));
        }
    }
    seen
}

/// The offer to buy from: the cheapest valid on `day`, then the quickest.
fn best_offers(offers: Vec<SupplierOffer>, day: NaiveDate) -> HashMap<Uuid, SupplierOffer> {
    let mut out: HashMap<Uuid, SupplierOffer> = HashMap::new();
    for o in offers {
        if o.valid_from.is_some_and(|f| f > day) || o.valid_to.is_some_and(|t| t < day) {
            continue;
        }
        let better = match out.get(&o.item_id) {
            None => true,
            Some(b) => (o.unit_price, o.lead_time_days.unwrap_or(0)) < (b.unit_price, b.lead_time_days.unwrap_or(0)),
        };
        if better {
            out.insert(o.item_id, o);
        }
    }
    out
}

pub async fn run(app: &AppState, ctx: &Ctx, input: RunInput) -> AppResult<Run> {
    let started_at = app.now();
    let day = today(started_at);
    let horizon = input.horizon.unwrap_or(day + chrono::Days::new(180));
    if horizon < day {
        return Err(AppError::field("horizon", "must not be before today"));
    }
    let clock = Instant::now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    store::lock_planning(&tx).await?;
    let number = next_number(&tx, "mrp_run", "MRP").await?;

    // ---- load
    let items = store::planning_items(&tx).await?;
    let bills = effective_bills(&tx, day).await?;
    let planning = store::all_planning(&tx).await?;
    let stock = store::stock_for_planning(&tx).await?;
    let offers = best_offers(store::supplier_offers(&tx).await?, day);
    let sales = store::open_order_lines(&tx, "sales").await?;
    let purchases = store::open_order_lines(&tx, "purchase").await?;
    let production = store::open_orders(&tx).await?;
    let requests = store::open_requests(&tx).await?;
    let month_start = day.with_day(1).unwrap_or(day);
    let forecasts = store::forecasts(&tx, None, Some(month_start)).await?;
    let ordered = store::sales_ordered_since(&tx, month_start).await?;
    let settings = store::settings(&tx).await?;

    let scope: Option<HashSet<Uuid>> = match &input.items {
        Some(asked) if asked.is_empty() => {
            return Err(AppError::field("item_ids", "name at least one item, or leave it out"));
        }
        Some(asked) => {
            let known: HashSet<Uuid> = items.iter().map(|i| i.id).collect();
            if let Some((n, _)) = asked.iter().enumerate().find(|(_, i)| !known.contains(i)) {
                return Err(AppError::field(format!("item_ids[{n}]"), "no such active stocked item"));
            }
            Some(reach(asked, &bills))
        }
        None => None,
    };
    let wanted = |i: &Uuid| scope.as_ref().is_none_or(|s| s.contains(i));

    let mut plan_items: HashMap<Uuid, PlanItem> = HashMap::with_capacity(items.len());
    let mut warehouses: HashMap<Uuid, Option<Uuid>> = HashMap::with_capacity(items.len());
    for it in items.iter().filter(|i| wanted(&i.id)) {
        let p = planning.get(&it.id);
        let offer = offers.get(&it.id);
        let make = match it.item_type.as_str() {
            "manufactured" => true,
            "both" => bills.contains_key(&it.id),
            _ => false,
        };
        let lead = match p.map(|p| p.lead_time_days).filter(|d| *d > 0) {
            Some(d) => d,
            None if !make => offer.and_then(|o| o.lead_time_days).unwrap_or(0),
            None => 0,
        };
        let mut minimum = p.map(|p| p.lot_minimum).unwrap_or_default();
        if !make && let Some(moq) = offer.and_then(|o| o.min_order_quantity) {
            minimum = minimum.max(moq);
        }
        let policy = p
            .and_then(|p| LotPolicy::parse(&p.lot_policy, u32::try_from(p.lot_period_days).unwrap_or(0)))
            .unwrap_or(LotPolicy::LotForLot);
        let (on_hand, reserved) = stock.get(&it.id).copied().unwrap_or_default();
        plan_items.insert(
            it.id,
            PlanItem {
                id: it.id,
                sku: it.sku.clone(),
                on_hand: on_hand - reserved,
                safety_stock: it.safety_stock,
                lead_time_days: u32::try_from(lead).unwrap_or(0),
                lot: LotSizing { policy, minimum, multiple: p.map(|p| p.lot_multiple).unwrap_or_default() },
                replenish: if make { Replenish::Make } else { Replenish::Buy { has_supplier: offer.is_some() } },
            },
        );
        warehouses.insert(it.id, it.default_warehouse_id);
    }

    // ---- demand
    let mut demands: Vec<Demand> = Vec::with_capacity(sales.len() + forecasts.len());
    // What the month's sales orders ordered (shipped or not) consumes the month's forecasts.
    let mut sold: HashMap<(Uuid, (i32, u32)), Decimal> = HashMap::new();
    for (item, date, q) in &ordered {
        *sold.entry((*item, month(*date))).or_default() += *q;
    }
    for l in sales.iter().filter(|l| l.date > horizon) {
        // Beyond the horizon the line is not planned, but its reservation still holds stock.
        if let Some(p) = plan_items.get_mut(&l.item_id) {
            p.on_hand -= l.reserved;
        }
    }
    for l in sales.iter().filter(|l| plan_items.contains_key(&l.item_id) && l.date <= horizon) {
        demands.push(Demand {
            item: l.item_id,
            date: l.date,
            quantity: l.open,
            peg: Peg { kind: PegKind::SalesOrder, id: l.order_id, line: Some(l.line_no), number: l.number.clone() },
        });
    }
    for f in forecasts.iter().filter(|f| plan_items.contains_key(&f.item_id) && f.due_date <= horizon) {
        // Sales orders of the month consume the month's forecasts, earliest first.
        let consumed = sold.entry((f.item_id, month(f.due_date))).or_default();
        let take = (*consumed).min(f.quantity);
        *consumed -= take;
        let left = f.quantity - take;
        if left > Decimal::ZERO {
            demands.push(Demand {
                item: f.item_id,
                date: f.due_date,
                quantity: left,
                peg: Peg { kind: PegKind::Forecast, id: f.id, line: None, number: format!("forecast {}", f.due_date) },
            });
        }
    }
    let mut supplies: Vec<Supply> = Vec::with_capacity(purchases.len() + production.len() + requests.len());
    for (o, cs) in &production {
        for c in cs.iter().filter(|c| !c.byproduct && plan_items.contains_key(&c.component_id)) {
            let open = c.required - c.issued;
            if open > Decimal::ZERO && o.start_date <= horizon {
                demands.push(Demand {
                    item: c.component_id,
                    date: o.start_date,
                    quantity: open,
                    peg: Peg {
                        kind: PegKind::ProductionOrder,
                        id: o.id,
                        line: Some(c.line_no),
                        number: o.number.clone(),
                    },
                });
            }
        }
        let left = o.quantity - o.completed;
        if left > Decimal::ZERO && plan_items.contains_key(&o.item_id) {
            supplies.push(Supply {
                item: o.item_id,
                date: o.due_date,
                quantity: left,
                kind: SupplyKind::ProductionOrder,
                id: o.id,
                line: None,
                number: o.number.clone(),
            });
        }
    }

    // ---- supply
    for l in purchases.iter().filter(|l| plan_items.contains_key(&l.item_id)) {
        supplies.push(Supply {
            item: l.item_id,
            date: l.date,
            quantity: l.open,
            kind: SupplyKind::PurchaseOrder,
            id: l.order_id,
            line: Some(l.line_no),
            number: l.number.clone(),
        });
    }
    for (id, number, item, q, date) in requests.into_iter().filter(|r| plan_items.contains_key(&r.2)) {
        supplies.push(Supply { item, date, quantity: q, kind: SupplyKind::PurchaseRequest, id, line: None, number });
    }
    let (demand_count, supply_count) = (demands.len(), supplies.len());
    let load_ms = clock.elapsed().as_millis();

    // ---- compute
    let computed = Instant::now();
    let plan = rules::plan(Input {
        today: day,
        items: &plan_items,
        bills: &bills,
        demands,
        supplies,
        move_tolerance_days: u32::try_from(settings.move_tolerance_days).unwrap_or(0),
    });
    let compute_ms = computed.elapsed().as_millis();

    // ---- write
    let written = Instant::now();
    let scoped: Option<Vec<Uuid>> = scope.as_ref().map(|s| s.iter().copied().collect());
    let superseded = store::supersede_open(&tx, scoped.as_deref()).await?;
    let run_id = Uuid::now_v7();
    let suggestions: Vec<Suggestion> = plan
        .planned
        .iter()
        .map(|p| Suggestion {
            id: p.id,
            run_id,
            kind: p.kind.as_str().into(),
            item_id: p.item,
            warehouse_id: warehouses.get(&p.item).copied().flatten(),
            quantity: p.quantity,
            due_date: p.due,
            start_date: p.start,
            late: p.late,
            level: i32::try_from(p.level).unwrap_or(i32::MAX),
            supplier_id: if p.kind == PlannedKind::Purchase {
                offers.get(&p.item).map(|o| o.supplier_id)
            } else {
                None
            },
            bom_id: p.bill,
            pegging: serde_json::Value::Array(p.pegs.iter().map(|(peg, q)| peg_json(peg, *q)).collect()),
            status: "open".into(),
            document_id: None,
            decided_by: None,
            decided_at: None,
        })
        .collect();
    let sku = |i: &Uuid| plan_items.get(i).map(|p| p.sku.clone()).unwrap_or_default();
    let exceptions: Vec<serde_json::Value> = plan
        .exceptions
        .iter()
        .map(|e| {
            serde_json::json!({
                "kind": e.kind.as_str(), "item_id": e.item, "sku": sku(&e.item),
                "supply": e.supply.as_ref().map(|(k, id, line, number)| serde_json::json!({"kind": k.as_str(), "id": id, "line": line, "number": number})),
                "date": e.date, "quantity": e.quantity.map(|q| q.normalize().to_string()), "message": e.message,
            })
        })
        .collect();
    let purchases_n = suggestions.iter().filter(|s| s.kind == "purchase").count();
    let mut run = Run {
        id: run_id,
        number,
        run_by: Some(ctx.principal.actor_uuid()),
        parameters: serde_json::json!({"item_ids": input.items, "horizon": horizon, "today": day}),
        figures: serde_json::Value::Null,
        exceptions: serde_json::Value::Array(exceptions),
        started_at,
        finished_at: app.now(),
    };
    let figures = |write_ms: u128| {
        serde_json::json!({
            "items": plan_items.len(), "items_planned": plan.items_planned, "demands": demand_count, "supplies": supply_count,
            "suggestions": suggestions.len(), "purchase_suggestions": purchases_n,
            "production_suggestions": suggestions.len() - purchases_n, "exceptions": plan.exceptions.len(),
            "superseded": superseded, "load_ms": load_ms, "compute_ms": compute_ms, "write_ms": write_ms,
        })
    };
    run.figures = figures(0);
    store::insert_run(&tx, &run).await?;
    store::insert_suggestions(&tx, &suggestions).await?;
    super::record(
        &tx,
        ctx,
        run.finished_at,
        super::Change::new("mrp.run", "mrp_run", Some(run.id.to_string()), None, Some(run.figures.clone())),
    )
    .await?;
    tx.commit().await?;
    run.figures = figures(written.elapsed().as_millis());
    tracing::info!(run = %run.number, figures = %run.figures, "MRP run");
    Ok(run)
}

pub async fn get_run(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Run> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::get_run(&tx, id).await?.ok_or(AppError::NotFound { entity: "MRP run" })?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list_runs(app: &AppState, tenant: TenantId, page: &Page) -> AppResult<Vec<Run>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_runs(&tx, page).await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list_suggestions(
    app: &AppState,
    tenant: TenantId,
    f: &SuggestionFilter,
    page: &Page,
) -> AppResult<Vec<Suggestion>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_suggestions(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

/// The sales order a suggestion serves, directly or through the planned orders above it.
async fn sales_order_of(
    tx: &TenantTx<'_>,
    s: &Suggestion,
    batch: &HashMap<Uuid, Suggestion>,
) -> AppResult<Option<Uuid>> {
    let mut current = s.pegging.clone();
    for _ in 0..16 {
        let pegs = current.as_array().cloned().unwrap_or_default();
        let source = |p: &serde_json::Value, k: &str| p.get("source").and_then(|v| v.as_str()) == Some(k);
        let id_of = |p: &serde_json::Value| p.get("id").and_then(|v| v.as_str()).and_then(|v| v.parse::<Uuid>().ok());
        let orders: HashSet<Uuid> = pegs.iter().filter(|p| source(p, "sales_order")).filter_map(id_of).collect();
        if orders.len() == 1 {
            return Ok(orders.into_iter().next());
        }
        if !orders.is_empty() {
            return Ok(None);
        }
        let parents: HashSet<Uuid> = pegs.iter().filter(|p| source(p, "planned")).filter_map(id_of).collect();
        let Some(parent) = parents.iter().next().copied().filter(|_| parents.len() == 1) else { return Ok(None) };
        current = match batch.get(&parent) {
            Some(p) => p.pegging.clone(),
            None => match store::lock_suggestions(tx, &[parent]).await?.pop() {
                Some(p) => p.pegging,
                None => return Ok(None),
            },
        };
    }
    Ok(None)
}

fn prefixed(e: AppError, at: &str) -> AppError {
    match e {
        AppError::Validation(errors) => AppError::Validation(
            errors.into_iter().map(|f| FieldError::new(format!("{at}.{}", f.field), f.message)).collect(),
        ),
        other => other,
    }
}

/// Accepts open suggestions, all or nothing: purchase ones become submitted purchase requests
/// (source `mrp`), production ones planned production orders (linked to the sales order they
/// serve when there is exactly one). Returns (suggestion, document type, id, number).
pub async fn accept(app: &AppState, ctx: &Ctx, ids: &[Uuid]) -> AppResult<Vec<(Uuid, &'static str, Uuid, String)>> {
    if ids.is_empty() {
        return Err(AppError::field("ids", "name at least one suggestion"));
    }
    if ids.len() > ACCEPT_MAX {
        return Err(AppError::field("ids", format!("at most {ACCEPT_MAX} at a time")));
    }
    if let Some(n) = (1..ids.len()).find(|n| ids[..*n].contains(&ids[*n])) {
        return Err(AppError::field(format!("ids[{n}]"), "is named twice"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    // A run that read supply before these documents exist must not be racing this.
    store::lock_planning(&tx).await?;
    let found = store::lock_suggestions(&tx, ids).await?;
    let batch: HashMap<Uuid, Suggestion> = found.iter().map(|s| (s.id, s.clone())).collect();
    let mut out = Vec::with_capacity(ids.len());
    let mut bills = HashMap::new();
    for (n, id) in ids.iter().enumerate() {
        let at = format!("ids[{n}]");
        let mut s = batch.get(id).cloned().ok_or(AppError::NotFound { entity: "MRP suggestion" })?;
        if s.status != "open" {
            return Err(AppError::Conflict(format!(
                "suggestion {id} is {}, not open (run MRP again for fresh ones)",
                s.status
            )));
        }
        let (kind, doc, number) = if s.kind == "purchase" {
            let memo = format!("MRP: {}", pegs_text(&s.pegging));
            let r = create_request_in(
                &tx,
                ctx,
                RequestInput {
                    item_id: s.item_id,
                    warehouse_id: s.warehouse_id,
                    quantity: s.quantity,
                    needed_by: s.due_date,
                    supplier_id: s.supplier_id,
                    memo: Some(memo.chars().take(500).collect()),
                },
                "mrp",
                "submitted",
                now,
            )
            .await
            .map_err(|e| prefixed(e, &at))?;
            ("purchase_request", r.id, r.number)
        } else {
            let sales_order_id = sales_order_of(&tx, &s, &batch).await?;
            let (o, _) = create_order_in(
                &tx,
                ctx,
                OrderInput {
                    item_id: s.item_id,
                    bom_id: s.bom_id,
                    quantity: s.quantity,
                    warehouse_id: s.warehouse_id,
                    start_date: Some(s.start_date.min(s.due_date)),
                    due_date: s.due_date,
                    sales_order_id,
                    memo: Some(format!("MRP: {}", pegs_text(&s.pegging)).chars().take(500).collect()),
                },
                Some(s.id),
                &mut bills,
                now,
            )
            .await
            .map_err(|e| prefixed(e, &at))?;
            ("production_order", o.id, o.number)
        };
        s.status = "accepted".into();
        s.document_id = Some(doc);
        s.decided_by = Some(ctx.principal.actor_uuid());
        s.decided_at = Some(now);
        store::save_suggestion(&tx, &s).await?;
        out.push((s.id, kind, doc, number));
    }
    tx.commit().await?;
    Ok(out)
}

fn pegs_text(pegging: &serde_json::Value) -> String {
    pegging
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    format!(
                        "{} {}",
                        p.get("number").and_then(|v| v.as_str()).unwrap_or_default(),
                        p.get("quantity").and_then(|v| v.as_str()).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}
