//! Procure to pay: purchase requests (by hand, from low stock, from MRP) are approved and
//! turned into purchase orders, one per supplier (proposed from the supplier price lists by
//! price and lead time); approved orders are received, partly or wholly, within the
//! over-receipt tolerance, into inventory against goods received not invoiced; supplier
//! invoices are matched three ways (order price, received quantity, invoice) and held with a
//! reason when they do not match; goods go back to suppliers; supplier performance is measured.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::approvals::{self, Document, Settled, Submission};
use super::ledger::currency_and_rate;
use super::plugins::Hook;
use super::receivables::{
    FixedBase, InvoiceInput, InvoiceLineInput, create_invoice_in, document_entry, mapped, mapping, next_number,
    post_document_entry, post_invoice_in,
};
use super::stock_posting::{Movement, Source, post_movements};
use super::trade::{
    OrderInput, OrderLineInput, active_party, book_billing, create_order_in, load_order, not_editable, order_json, qty,
    save_header, shipment_json,
};
use super::{AppState, Change, Ctx, record};
use crate::domain::approvals::Facts;
use crate::domain::ids::TenantId;
use crate::domain::ledger::{Dimensions, minor_unit_digits};
use crate::domain::receivables::{self as ar, Side};
use crate::domain::stock::{is_stocked, suggested_order};
use crate::domain::tax::round;
use crate::domain::trade::{self as rules, Offer, TradeSide};
use crate::error::{AppError, AppResult, Fields};
use crate::store::approvals::Request as ApprovalRequest;
use crate::store::receivables::{self as parties, Invoice, InvoiceLine, InvoiceStatus, LineLink};
use crate::store::stock::{self as stock_store};
use crate::store::trade::{
    self as store, Order, OrderLine, PriceList, PurchaseRequest, RequestFilter, Shipment, ShipmentLine,
};
use crate::store::{Access, Page, TenantTx, fx, tenants};

const PURCHASE: TradeSide = TradeSide::Purchase;

fn request_json(r: &PurchaseRequest) -> serde_json::Value {
    serde_json::json!({
        "number": r.number, "status": r.status, "source": r.source, "item_id": r.item_id,
        "warehouse_id": r.warehouse_id, "quantity": r.quantity.to_string(), "needed_by": r.needed_by,
        "supplier_id": r.supplier_id, "decision_note": r.decision_note, "order_id": r.order_id,
    })
}

// ================================================================ purchase requests

pub struct RequestInput {
    pub item_id: Uuid,
    pub warehouse_id: Option<Uuid>,
    pub quantity: Decimal,
    pub needed_by: NaiveDate,
    pub supplier_id: Option<Uuid>,
    pub memo: Option<String>,
}

/// Makes a request in the caller's transaction (other modules, MRP and plugins, call this).
pub(crate) async fn create_request_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    input: RequestInput,
    source: &str,
    status: &str,
    now: DateTime<Utc>,
) -> AppResult<PurchaseRequest> {
    let mut f = Fields::new();
    let item = stock_store::get_item(tx, input.item_id).await?;
    match &item {
        None => f.push("item_id", "no such item"),
        Some(i) if !i.is_active => f.push("item_id", format!("item {} is inactive", i.sku)),
        Some(_) => {}
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
    if input.quantity <= Decimal::ZERO {
        f.push("quantity", "must be positive");
    } else if input.quantity.normalize().scale() > 4 {
        f.push("quantity", "has more than 4 decimal places");
    }
    if let Some(s) = input.supplier_id {
        match parties::get_party(tx, Side::Payable, s).await? {
            None => f.push("supplier_id", "no such supplier"),
            Some(p) if !p.is_active => f.push("supplier_id", format!("supplier {} is inactive", p.code)),
            Some(_) => {}
        }
    }
    let memo = input.memo.map(|m| m.trim().to_owned()).unwrap_or_default();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    f.finish()?;
    let r = PurchaseRequest {
        id: Uuid::now_v7(),
        number: next_number(tx, "purchase_request", "PR").await?,
        status: status.into(),
        source: source.into(),
        item_id: input.item_id,
        warehouse_id: warehouse_id.ok_or_else(|| AppError::internal("warehouse"))?,
        quantity: input.quantity,
        needed_by: input.needed_by,
        supplier_id: input.supplier_id,
        memo,
        decided_by: None,
        decided_at: None,
        decision_note: None,
        order_id: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store::insert_request(tx, &r).await?;
    record(
        tx,
        ctx,
        now,
        Change::new(
            "purchase_request.create",
            "purchase_request",
            Some(r.id.to_string()),
            None,
            Some(request_json(&r)),
        ),
    )
    .await?;
    // Made by the system (low stock, MRP, a plugin), it goes straight to the tenant's flows.
    let mut r = r;
    if status == "submitted" {
        let doc = request_document(tx, ctx, &r).await?;
        if let Submission::AutoApproved(a) = approvals::submit_in(tx, ctx, doc, now).await? {
            r.status = "approved".into();
            r.decided_at = Some(now);
            r.decision_note = a.comment;
            r.version += 1;
            if !store::save_request(tx, &r).await? {
                return Err(AppError::StaleVersion { entity: "purchase request", current: r.version - 1 });
            }
        }
    }
    Ok(r)
}

pub async fn create_request(app: &AppState, ctx: &Ctx, input: RequestInput) -> AppResult<PurchaseRequest> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let r = create_request_in(&tx, ctx, input, "manual", "draft", now).await?;
    tx.commit().await?;
    Ok(r)
}

/// One item the low-stock run passed over, and why.
pub struct Skipped {
    pub item_id: Uuid,
    pub sku: String,
    pub reason: String,
}

/// Raises a submitted request for every item below its reorder point or safety stock that has
/// no request on its way, for the suggested quantity, into the item's default warehouse.
pub async fn requests_from_low_stock(
    app: &AppState,
    ctx: &Ctx,
    needed_by: NaiveDate,
) -> AppResult<(Vec<PurchaseRequest>, Vec<Skipped>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let open: Vec<Uuid> = store::items_with_open_requests(&tx).await?.into_iter().map(|(i, _)| i).collect();
    let mut made = Vec::new();
    let mut skipped = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = stock_store::low_stock(&tx, after.as_deref(), 500).await?;
        let done = rows.len() < 500;
        after = rows.last().map(|r| r.sku.clone());
        for r in rows {
            if open.contains(&r.item_id) {
                skipped.push(Skipped { item_id: r.item_id, sku: r.sku, reason: "a request is already open".into() });
                continue;
            }
            let available = r.on_hand - r.reserved;
            let q = suggested_order(available, r.safety_stock, r.reorder_point, r.reorder_quantity, r.max_stock);
            if q <= Decimal::ZERO {
                continue;
            }
            let item = stock_store::get_item(&tx, r.item_id).await?;
            let Some(wh) = item.and_then(|i| i.default_warehouse_id) else {
                skipped.push(Skipped { item_id: r.item_id, sku: r.sku, reason: "no default warehouse".into() });
                continue;
            };
            let input = RequestInput {
                item_id: r.item_id,
                warehouse_id: Some(wh),
                quantity: q,
                needed_by,
                supplier_id: None,
                memo: Some(format!("low stock: {} available, reorder point {}", qty(available), qty(r.reorder_point))),
            };
            made.push(create_request_in(&tx, ctx, input, "low_stock", "submitted", now).await?);
        }
        if done {
            break;
        }
    }
    tx.commit().await?;
    Ok((made, skipped))
}

/// `submit` (draft → submitted), `approve` / `reject` (submitted; not by the requester),
/// `cancel` (not yet ordered).
pub async fn request_action(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &'static str,
    note: Option<String>,
) -> AppResult<PurchaseRequest> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut r = store::get_requests(&tx, &[id], true)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { entity: "purchase request" })?;
    let before = request_json(&r);
    let ok = match action {
        // A rejected request may be changed by a new one, or resubmitted as it is.
        "submit" => r.status == "draft" || r.status == "rejected",
        "approve" | "reject" => r.status == "submitted",
        _ => matches!(r.status.as_str(), "draft" | "submitted" | "approved"),
    };
    if !ok {
        return Err(AppError::InvalidState {
            entity: "purchase request",
            state: format!("{} {}", r.number, r.status),
            action,
        });
    }
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(AppError::field("note", "must be at most 500 characters"));
    }
    if matches!(action, "approve" | "reject")
        && let Some(a) = approvals::pending(&tx, KIND_REQUEST, id).await?
    {
        return Err(AppError::Conflict(format!(
            "{} waits in approval request {}; decide it there (/approval-requests/{})",
            r.number, a.number, a.id
        )));
    }
    let mut status = match action {
        "submit" => "submitted",
        "approve" => "approved",
        "reject" => "rejected",
        _ => "cancelled",
    };
    if action == "submit" {
        let doc = request_document(&tx, ctx, &r).await?;
        match approvals::submit_in(&tx, ctx, doc, now).await? {
            Submission::AutoApproved(a) => {
                status = "approved";
                r.decided_by = None;
                r.decided_at = Some(now);
                r.decision_note = a.comment;
            }
            Submission::Pending(_) | Submission::NotRequired => {
                r.decided_by = None;
                r.decided_at = None;
                r.decision_note = None;
            }
        }
    }
    if matches!(action, "approve" | "reject") {
        if r.created_by == Some(ctx.principal.actor_uuid()) && r.source == "manual" {
            return Err(AppError::Forbidden(
                "someone other than the requester (no one approves their own request)".into(),
            ));
        }
        if action == "reject" && note.is_none() {
            return Err(AppError::field("note", "say why the request is rejected"));
        }
        r.decided_by = Some(ctx.principal.actor_uuid());
        r.decided_at = Some(now);
        r.decision_note = note;
    }
    if action == "cancel"
        && let Some(a) = approvals::pending(&tx, KIND_REQUEST, id).await?
    {
        return Err(AppError::Conflict(format!(
            "{} waits in approval request {}; withdraw it first",
            r.number, a.number
        )));
    }
    r.status = status.into();
    r.updated_at = now;
    r.version += 1;
    if !store::save_request(&tx, &r).await? {
        return Err(AppError::StaleVersion { entity: "purchase request", current: r.version - 1 });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("purchase_request.{action}"),
            "purchase_request",
            Some(id.to_string()),
            Some(before),
            Some(request_json(&r)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

const KIND_REQUEST: &str = "purchase_request";
const KIND_ORDER: &str = "purchase_order";

/// What the approval engine judges a request on: its value at the chosen supplier's price (or
/// the cheapest offer, or the item's standard cost) in base currency.
async fn request_document(tx: &TenantTx<'_>, ctx: &Ctx, r: &PurchaseRequest) -> AppResult<Document> {
    let base = tenants::current(tx).await?.base_currency;
    let lists = store::price_lists_for(tx, PURCHASE, &[r.item_id]).await?;
    let offers = offers_for(tx, &lists, r.item_id, r.quantity, r.needed_by, &base).await?;
    let price = offers
        .iter()
        .filter(|(o, _, _)| r.supplier_id.is_none_or(|s| s == o.supplier_id))
        .map(|(o, _, _)| o.unit_price_base)
        .min();
    let item = stock_store::get_item(tx, r.item_id).await?;
    let price = price.or(item.as_ref().map(|i| i.standard_cost)).unwrap_or_default();
    let sku = item.map(|i| i.sku).unwrap_or_default();
    let amount = round(price * r.quantity, 2);
    Ok(Document {
        kind: KIND_REQUEST,
        id: r.id,
        number: r.number.clone(),
        summary: format!("{} {sku} by {} (about {amount} {base})", qty(r.quantity), r.needed_by),
        facts: Facts {
            requester: ctx.principal.actor_uuid(),
            authors: r.created_by.into_iter().collect(),
            amount,
            department: None,
            supplier: r.supplier_id,
            discount: None,
        },
    })
}

/// A request's approval ended: approved, rejected (with the reason), or back to draft.
pub(crate) async fn request_settled(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut r = store::get_requests(tx, &[a.document_id], true)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound { entity: "purchase request" })?;
    let before = request_json(&r);
    r.status = match s {
        Settled::Approved => "approved",
        Settled::Rejected => "rejected",
        Settled::Returned | Settled::Withdrawn => "draft",
    }
    .into();
    r.decided_by = (s != Settled::Withdrawn).then(|| ctx.principal.actor_uuid());
    r.decided_at = (s != Settled::Withdrawn).then_some(now);
    r.decision_note = a.comment.clone();
    r.updated_at = now;
    r.version += 1;
    if !store::save_request(tx, &r).await? {
        return Err(AppError::StaleVersion { entity: "purchase request", current: r.version - 1 });
    }
    let action = format!("purchase_request.{}", s.verb());
    record(
        tx,
        ctx,
        now,
        Change::new(&action, "purchase_request", Some(r.id.to_string()), Some(before), Some(request_json(&r))),
    )
    .await
}

pub async fn get_request(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<PurchaseRequest> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::get_requests(&tx, &[id], false).await?.into_iter().next();
    tx.commit().await?;
    r.ok_or(AppError::NotFound { entity: "purchase request" })
}

pub async fn list_requests(
    app: &AppState,
    tenant: TenantId,
    f: &RequestFilter,
    page: &Page,
) -> AppResult<Vec<PurchaseRequest>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::list_requests(&tx, f, page).await?;
    tx.commit().await?;
    Ok(l)
}

/// The supplier offers for an item and quantity on a date: the supplier-specific purchase
/// lists valid then, with their best break, priced in base currency for comparison.
async fn offers_for(
    tx: &TenantTx<'_>,
    lists: &[PriceList],
    item: Uuid,
    quantity: Decimal,
    date: NaiveDate,
    base: &str,
) -> AppResult<Vec<(Offer, Uuid, String)>> {
    let mut out = Vec::new();
    for l in lists.iter().filter(|l| l.party_id.is_some() && l.terms().valid_on(date)) {
        let Some(supplier) = l.party_id else { continue };
        let Some(party) = parties::get_party(tx, Side::Payable, supplier).await? else { continue };
        if !party.is_active {
            continue;
        }
        // The best break the quantity (raised to the minimum order) reaches.
        let best = l
            .items
            .iter()
            .filter(|b| b.item_id == item)
            .filter(|b| b.min_quantity <= quantity.max(b.min_order_quantity.unwrap_or_default()))
            .max_by(|a, b| a.min_quantity.cmp(&b.min_quantity));
        let Some(b) = best else { continue };
        let net = b.unit_price * (Decimal::ONE - b.discount_percent);
        let price_base = if l.currency == base {
            net
        } else {
            match fx::rate_on(tx, &l.currency, date).await? {
                Some(r) => net * r,
                None => continue,
            }
        };
        out.push((
            Offer {
                supplier_id: supplier,
                supplier_code: party.code.clone(),
                price_list_code: l.code.clone(),
                unit_price_base: round(price_base, 4),
                lead_time_days: b.lead_time_days.unwrap_or(0),
                min_order_quantity: b.min_order_quantity,
            },
            l.id,
            l.currency.clone(),
        ));
    }
    Ok(out)
}

/// Turns approved requests into draft purchase orders: each request's supplier (its own, or
/// the one proposed from the price lists: the cheapest that arrives by the date needed, else
/// the quickest), quantities raised to the supplier's minimum, requests of the same supplier
/// and currency merged into one order.
pub async fn orders_from_requests(
    app: &AppState,
    ctx: &Ctx,
    ids: &[Uuid],
    order_date: NaiveDate,
) -> AppResult<Vec<(Order, Vec<OrderLine>)>> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    if ids.is_empty() {
        return Err(AppError::field("request_ids", "name at least one approved request"));
    }
    let mut requests = store::get_requests(&tx, ids, true).await?;
    let mut f = Fields::new();
    for (i, id) in ids.iter().enumerate() {
        match requests.iter().find(|r| r.id == *id) {
            None => f.push(format!("request_ids[{i}]"), "no such purchase request"),
            Some(r) if r.status != "approved" => f.push(
                format!("request_ids[{i}]"),
                format!("{} is {}; only approved requests are ordered", r.number, r.status),
            ),
            _ => {}
        }
    }
    f.finish()?;
    let base = tenants::current(&tx).await?.base_currency;
    let item_ids: Vec<Uuid> = requests.iter().map(|r| r.item_id).collect();
    let lists = store::price_lists_for(&tx, PURCHASE, &item_ids).await?;
    // (supplier, currency) -> lines
    let mut groups: BTreeMap<(Uuid, String), Vec<OrderLineInput>> = BTreeMap::new();
    let mut f = Fields::new();
    for (i, r) in requests.iter().enumerate() {
        let offers = offers_for(&tx, &lists, r.item_id, r.quantity, order_date, &base).await?;
        let chosen = match r.supplier_id {
            Some(s) => {
                let own = offers.iter().position(|(o, ..)| o.supplier_id == s);
                let currency = match own {
                    Some(k) => offers[k].2.clone(),
                    None => parties::get_party(&tx, Side::Payable, s)
                        .await?
                        .and_then(|p| p.currency)
                        .unwrap_or(base.clone()),
                };
                Some((s, currency, own.map(|k| offers[k].0.clone()), format!("supplier chosen on {}", r.number)))
            }
            None => {
                let plain: Vec<Offer> = offers.iter().map(|(o, ..)| o.clone()).collect();
                rules::propose(&plain, order_date, r.needed_by).map(|(k, why)| {
                    (
                        offers[k].0.supplier_id,
                        offers[k].2.clone(),
                        Some(offers[k].0.clone()),
                        format!("{}: {why}", r.number),
                    )
                })
            }
        };
        let Some((supplier, currency, offer, why)) = chosen else {
            let sku = stock_store::get_item(&tx, r.item_id).await?.map(|x| x.sku).unwrap_or_default();
            f.push(
                format!("request_ids[{i}]"),
                format!("{}: no supplier price list offers {sku}; choose a supplier on the request", r.number),
            );
            continue;
        };
        let moq = offer.as_ref().and_then(|o| o.min_order_quantity).unwrap_or_default();
        let quantity = r.quantity.max(moq);
        let mut why = why;
        if quantity > r.quantity {
            why.push_str(&format!("; raised to the supplier's minimum order of {}", qty(moq)));
        }
        let lead = offer.as_ref().map(|o| o.lead_time_days).unwrap_or(0);
        groups.entry((supplier, currency)).or_default().push(OrderLineInput {
            item_id: r.item_id,
            description: None,
            warehouse_id: Some(r.warehouse_id),
            quantity,
            unit_price: None,
            discount_percent: None,
            discount_amount: None,
            tax_code_id: None,
            expected_date: Some(order_date + Days::new(lead.max(0) as u64)),
            request_id: Some(r.id),
            price_rule: Some(why),
        });
    }
    f.finish()?;
    let mut out = Vec::new();
    for ((supplier, currency), lines) in groups {
        let expected = lines.iter().filter_map(|l| l.expected_date).max();
        let input = OrderInput {
            party_id: supplier,
            kind: "order".into(),
            order_date,
            expected_date: expected,
            valid_until: None,
            currency: Some(currency),
            exchange_rate: None,
            tax_inclusive: None,
            discount_percent: None,
            warehouse_id: None,
            reference: None,
            memo: Some("from purchase requests".into()),
            lines,
        };
        let (o, ls) = create_order_in(app, &tx, ctx, PURCHASE, input, None, now).await?;
        for l in &ls {
            if let Some(rid) = l.request_id
                && let Some(r) = requests.iter_mut().find(|r| r.id == rid)
            {
                let before = request_json(r);
                r.status = "ordered".into();
                r.order_id = Some(o.id);
                r.supplier_id = Some(o.party_id);
                r.updated_at = now;
                r.version += 1;
                if !store::save_request(&tx, r).await? {
                    return Err(AppError::StaleVersion { entity: "purchase request", current: r.version - 1 });
                }
                record(
                    &tx,
                    ctx,
                    now,
                    Change::new(
                        "purchase_request.order",
                        "purchase_request",
                        Some(rid.to_string()),
                        Some(before),
                        Some(request_json(r)),
                    ),
                )
                .await?;
            }
        }
        out.push((o, ls));
    }
    tx.commit().await?;
    Ok(out)
}

// ================================================================ purchase orders

/// `approve` (draft → confirmed: it can be received), `cancel` (nothing received or billed),
/// `close` (nothing more will come).
pub async fn order_action(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &'static str,
    reason: Option<String>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, lines) = load_order(&tx, PURCHASE, id, true).await?;
    let before = order_json(&o, &lines);
    match action {
        "approve" => {
            if o.status != "draft" {
                return Err(not_editable(&o, "approved"));
            }
            // Judged as its author would submit it.
            let author = o.created_by.unwrap_or(ctx.principal.actor_uuid());
            if approvals::needs_approval(&tx, KIND_ORDER, order_facts(author, &o)).await? {
                return Err(AppError::Conflict(format!(
                    "{} needs approval under the tenant's approval flows; submit it (POST /purchase-orders/{}/submit)",
                    o.number, o.id
                )));
            }
            confirm_order(app, &tx, ctx, &mut o, &lines, now).await?;
        }
        "submit" => {
            if o.status != "draft" {
                return Err(not_editable(&o, "submitted for approval"));
            }
            let doc = Document {
                kind: KIND_ORDER,
                id: o.id,
                number: o.number.clone(),
                summary: format!("{} {} {}", o.number, o.gross_total, o.currency),
                facts: order_facts(ctx.principal.actor_uuid(), &o),
            };
            match approvals::submit_in(&tx, ctx, doc, now).await? {
                Submission::NotRequired => {
                    return Err(AppError::Conflict(format!(
                        "no approval flow covers {}; approve it directly (POST /purchase-orders/{}/approve)",
                        o.number, o.id
                    )));
                }
                Submission::AutoApproved(_) => confirm_order(app, &tx, ctx, &mut o, &lines, now).await?,
                Submission::Pending(_) => o.status = "submitted".into(),
            }
        }
        "cancel" => {
            if o.status == "submitted" {
                return Err(not_editable(&o, "cancelled while it waits for approval (withdraw the request first)"));
            }
            if o.status != "draft" && o.status != "confirmed" {
                return Err(not_editable(&o, "cancelled"));
            }
            if lines.iter().any(|l| !l.shipped.is_zero() || !l.invoiced.is_zero()) {
                return Err(not_editable(&o, "cancelled: goods were received or billed (close it instead)"));
            }
            o.status = "cancelled".into();
            // Its requests may be ordered again.
            let rids: Vec<Uuid> = lines.iter().filter_map(|l| l.request_id).collect();
            for mut r in store::get_requests(&tx, &rids, true).await? {
                r.status = "approved".into();
                r.order_id = None;
                r.updated_at = now;
                r.version += 1;
                store::save_request(&tx, &r).await?;
            }
        }
        _ => {
            if o.status != "confirmed" {
                return Err(not_editable(&o, "closed (only approved orders are)"));
            }
            o.status = "closed".into();
        }
    }
    o.reason = reason.map(|r| r.trim().chars().take(500).collect::<String>()).filter(|r| !r.is_empty()).or(o.reason);
    save_header(&tx, &mut o, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("purchase_order.{action}"),
            "purchase_order",
            Some(id.to_string()),
            Some(before),
            Some(order_json(&o, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((o, lines))
}

fn order_facts(requester: Uuid, o: &Order) -> Facts {
    Facts {
        requester,
        authors: o.created_by.into_iter().collect(),
        amount: o.gross_base,
        department: None,
        supplier: Some(o.party_id),
        discount: None,
    }
}

/// Approves a purchase order: its plugins' say, then confirmed (it can be received).
async fn confirm_order(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    o: &mut Order,
    lines: &[OrderLine],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let party = active_party(tx, PURCHASE, o.party_id).await?;
    let doc = async || super::plugins::order_document(tx, o, lines, &party, None).await;
    super::plugins::before(app, tx, Hook::PurchaseOrderApprove, doc).await?;
    o.status = "confirmed".into();
    o.confirmed_at = Some(now);
    o.confirmed_by = Some(ctx.principal.actor_uuid());
    Ok(())
}

/// A purchase order's approval ended: confirmed when approved, else back to draft.
pub(crate) async fn order_settled(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let (mut o, lines) = load_order(tx, PURCHASE, a.document_id, true).await?;
    let before = order_json(&o, &lines);
    if s == Settled::Approved {
        confirm_order(app, tx, ctx, &mut o, &lines, now).await?;
    } else {
        o.status = "draft".into();
    }
    save_header(tx, &mut o, now).await?;
    let action = format!("purchase_order.{}", s.verb());
    record(
        tx,
        ctx,
        now,
        Change::new(&action, "purchase_order", Some(o.id.to_string()), Some(before), Some(order_json(&o, &lines))),
    )
    .await
}

// ================================================================ goods receipts

pub struct ReceiptLineInput {
    pub order_id: Uuid,
    pub line_no: i32,
    pub quantity: Decimal,
    pub warehouse_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
}

pub struct ReceiptInput {
    pub supplier_id: Uuid,
    pub date: NaiveDate,
    /// The supplier's delivery note.
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<ReceiptLineInput>,
}

/// The order-currency net of receiving `q` more of a line that has `before` received: its share
/// of the line's net, and beyond the ordered quantity the line's net unit price.
fn received_net(ol: &OrderLine, before: Decimal, q: Decimal, digits: u32) -> Decimal {
    let within = rules::share(ol.net, before.min(ol.quantity), (before + q).min(ol.quantity), ol.quantity, digits);
    let beyond = (before + q - ol.quantity.max(before)).max(Decimal::ZERO);
    within + round(ol.net * beyond / ol.quantity, digits)
}

/// Receives goods against approved purchase orders of one supplier: each line at its order
/// price (net of discounts, at the rate of the receipt date), into inventory against goods
/// received not invoiced. More than ordered is refused beyond the over-receipt tolerance.
pub async fn receive(app: &AppState, ctx: &Ctx, input: ReceiptInput) -> AppResult<(Shipment, Vec<ShipmentLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    if input.lines.is_empty() {
        f.push("lines", "a receipt needs at least one line");
    }
    if input.lines.len() > 500 {
        f.push("lines", "a receipt has at most 500 lines");
    }
    let reference = input.reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        f.push("reference", "must be at most 100 characters");
    }
    let memo = input.memo.map(|r| r.trim().to_owned()).unwrap_or_default();
    let party = parties::get_party(&tx, Side::Payable, input.supplier_id)
        .await?
        .ok_or_else(|| AppError::field("supplier_id", "no such supplier"))?;
    let settings = store::settings(&tx).await?;
    let order_ids: Vec<Uuid> = input.lines.iter().map(|l| l.order_id).collect();
    let mut orders = store::orders_with_lines(&tx, &order_ids, true).await?;
    let items = stock_store::get_items(
        &tx,
        &orders.iter().flat_map(|(_, ls)| ls.iter().map(|l| l.item_id)).collect::<Vec<_>>(),
    )
    .await?;
    let mut wanted: HashMap<(Uuid, i32), Decimal> = HashMap::new();
    for (i, l) in input.lines.iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        let Some((o, ols)) = orders.iter().find(|(o, _)| o.id == l.order_id && o.side == PURCHASE) else {
            f.push(at("order_id"), "no such purchase order");
            continue;
        };
        if o.party_id != party.id {
            f.push(at("order_id"), format!("{} is another supplier's order", o.number));
            continue;
        }
        if o.status != "confirmed" {
            return Err(AppError::InvalidState {
                entity: "purchase order",
                state: format!("{} {}", o.number, o.status),
                action: "received against (only approved, open orders are)",
            });
        }
        let Some(ol) = ols.iter().find(|x| x.line_no == l.line_no) else {
            f.push(at("line_no"), format!("{} has no line {}", o.number, l.line_no));
            continue;
        };
        let item = items.get(&ol.item_id);
        if item.is_some_and(|x| !is_stocked(&x.item_type)) {
            f.push(at("line_no"), format!("{} line {} is a service; it is billed, not received", o.number, l.line_no));
            continue;
        }
        if item.is_some_and(|x| x.batch_tracked) && l.batch_id.is_none() {
            f.push(at("batch_id"), "is required: the item is batch-tracked");
        }
        if l.quantity <= Decimal::ZERO {
            f.push(at("quantity"), "must be positive");
            continue;
        }
        if l.quantity.normalize().scale() > 4 {
            f.push(at("quantity"), "has more than 4 decimal places");
        }
        let total = wanted.entry((o.id, ol.line_no)).or_default();
        *total += l.quantity;
        let allowance = rules::receipt_allowance(ol.quantity, settings.over_receipt_tolerance);
        let kept = ol.shipped - ol.returned;
        if kept + *total > allowance {
            f.push(
                at("quantity"),
                format!(
                    "receiving {} would bring {} line {} to {} of {} ordered; the over-receipt tolerance ({}%) allows {}",
                    qty(*total),
                    o.number,
                    ol.line_no,
                    qty(kept + *total),
                    qty(ol.quantity),
                    (settings.over_receipt_tolerance * Decimal::ONE_HUNDRED).normalize(),
                    qty(allowance)
                ),
            );
        }
    }
    f.finish()?;
    let grni = mapped(&mapping(&tx).await?, "goods_received_not_invoiced")?;
    let base = tenants::current(&tx).await?.base_currency;
    let base_digits = minor_unit_digits(&base);
    let id = Uuid::now_v7();
    let mut moves = Vec::new();
    let mut rates: HashMap<String, Decimal> = HashMap::new();
    let mut running: HashMap<(Uuid, i32), Decimal> = HashMap::new();
    for (i, l) in input.lines.iter().enumerate() {
        let (o, ols) = orders.iter().find(|(o, _)| o.id == l.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        let rate = match rates.get(&o.currency) {
            Some(r) => *r,
            None => {
                let (_, r, _) = currency_and_rate(&tx, Some(o.currency.clone()), None, input.date).await?;
                rates.insert(o.currency.clone(), r);
                r
            }
        };
        let before = running.entry((o.id, ol.line_no)).or_insert(ol.shipped - ol.returned);
        let net = received_net(ol, *before, l.quantity, minor_unit_digits(&o.currency));
        *before += l.quantity;
        let value = ar::to_base(net, rate, base_digits);
        moves.push(Movement {
            item_id: ol.item_id,
            warehouse_id: l.warehouse_id.or(ol.warehouse_id).ok_or_else(|| AppError::internal("warehouse"))?,
            bin_id: None,
            batch_id: l.batch_id,
            kind: "purchase_receipt",
            quantity: l.quantity,
            value: Some(value),
            counter_account_id: grni,
            line_no: Some(i32::try_from(i + 1).map_err(AppError::internal)?),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: format!("lines[{i}].quantity"),
        });
    }
    let source = Source {
        document_id: id,
        date: input.date,
        source_type: "purchase_receipt",
        memo: format!("Goods received from {}", party.name),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("goods_receipt".into(), "GRN")),
    };
    let doc = super::trade::open_stock_document(
        &tx,
        id,
        "purchase_receipt",
        source.date,
        &source.memo,
        source.created_by,
        now,
    )
    .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    let mut slines = Vec::new();
    for (i, (l, e)) in input.lines.iter().zip(posted.movements.iter()).enumerate() {
        let (_, ols) =
            orders.iter_mut().find(|(o, _)| o.id == l.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter_mut().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        ol.shipped += l.quantity;
        ol.cost += e.value;
        slines.push(ShipmentLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            order_id: l.order_id,
            order_line_no: l.line_no,
            item_id: ol.item_id,
            warehouse_id: e.warehouse_id,
            batch_id: l.batch_id,
            quantity: l.quantity,
            value: e.value,
            returned: Decimal::ZERO,
            invoiced: Decimal::ZERO,
            return_of_line: None,
            stock_entry_id: Some(e.id),
        });
    }
    let s = Shipment {
        id,
        side: PURCHASE,
        kind: "delivery".into(),
        number: posted.number.clone().unwrap_or_default(),
        party_id: party.id,
        ship_date: input.date,
        return_of: None,
        reference,
        memo,
        value: slines.iter().map(|l| l.value).sum(),
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
    };
    store::insert_shipment(&tx, &s, &slines).await?;
    for (o, ols) in &mut orders {
        for ol in ols.iter() {
            if input.lines.iter().any(|l| l.order_id == o.id && l.line_no == ol.line_no) {
                store::save_order_line(&tx, o.id, ol).await?;
            }
        }
        save_header(&tx, o, now).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "goods_receipt.create",
            "goods_receipt",
            Some(id.to_string()),
            None,
            Some(shipment_json(&s, &slines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((s, slines))
}

// ================================================================ supplier invoices

pub struct MatchLineInput {
    pub receipt_id: Uuid,
    pub line_no: i32,
    pub quantity: Decimal,
    /// In the order's tax treatment; net of any discount.
    pub unit_price: Decimal,
    /// Default: the order line's.
    pub tax_code_id: Option<Uuid>,
    /// A credit note for returned goods clears GRNI at what the goods left stock at.
    pub fixed_base: Option<Decimal>,
}

pub struct MatchedInvoiceInput {
    pub supplier_id: Uuid,
    pub invoice_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    /// The supplier's invoice number.
    pub reference: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub memo: Option<String>,
    pub lines: Vec<MatchLineInput>,
}

/// The order line's effective unit price: its net (after discounts) per unit, in the order's
/// tax treatment.
fn order_price(ol: &OrderLine) -> Decimal {
    round((ol.quantity * ol.unit_price - ol.discount) / ol.quantity, 4)
}

/// Posts a supplier invoice for receipt lines: goods received not invoiced is cleared at what
/// the goods were received at, the difference (price or exchange rate) goes to the purchase
/// price variance account. The invoice is matched against the order price and what was
/// received and not yet invoiced; a difference beyond the tolerances holds it with the reasons.
pub async fn invoice_receipts(
    app: &AppState,
    ctx: &Ctx,
    input: MatchedInvoiceInput,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (inv, lines) = bill_receipts(&tx, ctx, input, false, now).await?;
    tx.commit().await?;
    Ok((inv, lines))
}

async fn bill_receipts(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    input: MatchedInvoiceInput,
    credit: bool,
    now: DateTime<Utc>,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let mut f = Fields::new();
    if input.lines.is_empty() {
        f.push("lines", "an invoice needs at least one line");
    }
    let receipt_ids: Vec<Uuid> = input.lines.iter().map(|l| l.receipt_id).collect();
    let first = store::get_shipments(tx, &receipt_ids).await?;
    let order_ids: Vec<Uuid> = first.iter().flat_map(|(_, ls)| ls.iter().map(|l| l.order_id)).collect();
    let orders = store::orders_with_lines(tx, &order_ids, true).await?;
    // Read again under the orders' locks: another invoice may have billed them meanwhile.
    let receipts = store::get_shipments(tx, &receipt_ids).await?;
    let settings = store::settings(tx).await?;
    let m = mapping(tx).await?;
    let grni = mapped(&m, "goods_received_not_invoiced")?;
    let variance = mapped(&m, "purchase_price_variance")?;
    let base_digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    let mut currency: Option<String> = None;
    let mut inclusive: Option<bool> = None;
    let mut reasons: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    // Units already taken per receipt line within this document.
    let mut taken: HashMap<(Uuid, i32), Decimal> = HashMap::new();
    for (i, l) in input.lines.iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        let Some((r, rlines)) = receipts.iter().find(|(s, _)| s.id == l.receipt_id) else {
            f.push(at("receipt_id"), "no such goods receipt");
            continue;
        };
        if r.side != PURCHASE || r.kind != "delivery" {
            f.push(at("receipt_id"), format!("{} is not a goods receipt", r.number));
            continue;
        }
        if r.party_id != input.supplier_id {
            f.push(at("receipt_id"), format!("{} is from another supplier", r.number));
            continue;
        }
        let Some(rl) = rlines.iter().find(|x| x.line_no == l.line_no) else {
            f.push(at("line_no"), format!("{} has no line {}", r.number, l.line_no));
            continue;
        };
        let Some((o, ols)) = orders.iter().find(|(o, _)| o.id == rl.order_id) else {
            return Err(AppError::internal("receipt's order missing"));
        };
        let Some(ol) = ols.iter().find(|x| x.line_no == rl.order_line_no) else {
            return Err(AppError::internal("receipt's order line missing"));
        };
        if currency.as_ref().is_some_and(|c| *c != o.currency) {
            f.push(at("receipt_id"), format!("{} is in {}; bill each currency apart", o.number, o.currency));
        }
        if inclusive.is_some_and(|x| x != o.tax_inclusive) {
            f.push(at("receipt_id"), format!("{} has the other tax treatment; bill it apart", o.number));
        }
        currency.get_or_insert(o.currency.clone());
        inclusive.get_or_insert(o.tax_inclusive);
        if l.quantity <= Decimal::ZERO {
            f.push(at("quantity"), "must be positive");
            continue;
        }
        if l.unit_price < Decimal::ZERO {
            f.push(at("unit_price"), "must not be negative");
            continue;
        }
        let used = taken.entry((r.id, rl.line_no)).or_insert(rl.returned + rl.invoiced);
        let label = format!("line {} ({} line {}, {} line {})", i + 1, r.number, rl.line_no, o.number, ol.line_no);
        let (fixed, open) = if let Some(b) = l.fixed_base.filter(|_| credit) {
            (b, l.quantity)
        } else {
            let open = (rl.quantity - *used).max(Decimal::ZERO);
            let b = rules::share(rl.value, *used, *used + l.quantity, rl.quantity, base_digits);
            *used += l.quantity;
            (b, open)
        };
        if !credit {
            reasons.extend(rules::match_line(
                &label,
                order_price(ol),
                l.unit_price,
                open,
                l.quantity,
                settings.price_tolerance,
                settings.quantity_tolerance,
            ));
        }
        lines.push(InvoiceLineInput {
            description: ol.description.clone(),
            account_id: Some(grni),
            item_id: Some(ol.item_id),
            quantity: l.quantity,
            unit_price: l.unit_price,
            tax_code_id: l.tax_code_id.or(ol.tax_code_id),
            discount: Decimal::ZERO,
            link: Some(LineLink { order_id: o.id, order_line_no: ol.line_no, shipment: Some((r.id, rl.line_no)) }),
            fixed_base: Some(FixedBase { base: fixed, variance_account: variance }),
        });
    }
    f.finish()?;
    let iinput = InvoiceInput {
        party_id: input.supplier_id,
        is_credit_note: credit,
        credit_note_of: None,
        invoice_date: input.invoice_date,
        due_date: input.due_date,
        currency,
        exchange_rate: input.exchange_rate,
        tax_inclusive: inclusive,
        reference: input.reference,
        memo: input.memo,
        lines,
        source: Some((
            if credit { "purchase_return" } else { "goods_receipt" }.into(),
            receipt_ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(","),
        )),
    };
    let (inv, ilines, fixed) = create_invoice_in(tx, ctx, Side::Payable, iinput, now).await?;
    let (mut inv, _) = post_invoice_in(tx, ctx, inv, &ilines, &fixed, now).await?;
    book_billing(tx, &inv, &ilines, Decimal::ONE, now).await?;
    if !reasons.is_empty() {
        let reason: String = reasons.join("; ").chars().take(2000).collect();
        inv.hold_reason = Some(reason.clone());
        inv.updated_at = now;
        inv.version += 1;
        if !parties::save_invoice(tx, &inv).await? {
            return Err(AppError::StaleVersion { entity: "supplier invoice", current: inv.version - 1 });
        }
        record(
            tx,
            ctx,
            now,
            Change::new(
                "supplier_invoice.hold",
                "supplier_invoice",
                Some(inv.id.to_string()),
                None,
                Some(serde_json::json!({"number": inv.number, "hold_reason": reason})),
            ),
        )
        .await?;
    }
    Ok((inv, ilines))
}

/// Releases a held supplier invoice for payment, with the approver's note.
pub async fn release_invoice(app: &AppState, ctx: &Ctx, id: Uuid, note: Option<String>) -> AppResult<Invoice> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut inv, _) =
        parties::get_invoice(&tx, Side::Payable, id).await?.ok_or(AppError::NotFound { entity: "supplier invoice" })?;
    let Some(held) = inv.hold_reason.clone() else {
        return Err(AppError::InvalidState {
            entity: "supplier invoice",
            state: format!("{} not held", inv.number.clone().unwrap_or_default()),
            action: "released",
        });
    };
    if inv.status != InvoiceStatus::Posted {
        return Err(AppError::InvalidState {
            entity: "supplier invoice",
            state: inv.status.as_str().into(),
            action: "released",
        });
    }
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    let Some(note) = note else {
        return Err(AppError::field("note", "say why the difference is accepted"));
    };
    inv.hold_reason = None;
    inv.updated_at = now;
    inv.version += 1;
    if !parties::save_invoice(&tx, &inv).await? {
        return Err(AppError::StaleVersion { entity: "supplier invoice", current: inv.version - 1 });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "supplier_invoice.release",
            "supplier_invoice",
            Some(id.to_string()),
            Some(serde_json::json!({"hold_reason": held})),
            Some(serde_json::json!({"hold_reason": null, "note": note})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(inv)
}

// ================================================================ returns to suppliers

pub struct SupplierReturnInput {
    pub date: NaiveDate,
    pub reason: Option<String>,
    pub lines: Vec<(i32, Decimal)>,
    /// When what goes back was already billed: the supplier's credit note number.
    pub credit_reference: Option<String>,
    pub exchange_rate: Option<Decimal>,
}

/// Sends goods of a receipt back: stock leaves at its valuation; goods received not invoiced
/// takes back what the goods were received at (the difference to the stock value goes to the
/// purchase price variance); what was already billed is credited on a supplier credit note at
/// the order price.
pub async fn return_receipt(
    app: &AppState,
    ctx: &Ctx,
    receipt_id: Uuid,
    input: SupplierReturnInput,
) -> AppResult<(Shipment, Vec<ShipmentLine>, Option<Invoice>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (r, first) = store::get_shipments(&tx, &[receipt_id])
        .await?
        .into_iter()
        .next()
        .filter(|(s, _)| s.side == PURCHASE && s.kind == "delivery")
        .ok_or(AppError::NotFound { entity: "goods receipt" })?;
    // Lock the orders first, then read the receipt's lines as they are now.
    let order_ids: Vec<Uuid> = first.iter().map(|l| l.order_id).collect();
    let mut orders = store::orders_with_lines(&tx, &order_ids, true).await?;
    let mut rlines =
        store::get_shipments(&tx, &[receipt_id]).await?.into_iter().next().map(|(_, l)| l).unwrap_or_default();
    let mut f = Fields::new();
    if input.lines.is_empty() {
        f.push("lines", "a return needs at least one line");
    }
    if input.date < r.ship_date {
        f.push("date", format!("must not be before the receipt ({})", r.ship_date));
    }
    let mut wanted: HashMap<i32, Decimal> = HashMap::new();
    for (i, (line_no, q)) in input.lines.iter().enumerate() {
        let Some(rl) = rlines.iter().find(|x| x.line_no == *line_no) else {
            f.push(format!("lines[{i}].line_no"), format!("{} has no line {line_no}", r.number));
            continue;
        };
        if *q <= Decimal::ZERO {
            f.push(format!("lines[{i}].quantity"), "must be positive");
            continue;
        }
        let total = wanted.entry(*line_no).or_default();
        *total += *q;
        if *total > rl.quantity - rl.returned {
            f.push(
                format!("lines[{i}].quantity"),
                format!(
                    "{} is more than the {} of {} line {line_no} not yet returned",
                    qty(*total),
                    qty(rl.quantity - rl.returned),
                    r.number
                ),
            );
        }
    }
    f.finish()?;
    let m = mapping(&tx).await?;
    let grni = mapped(&m, "goods_received_not_invoiced")?;
    let variance = mapped(&m, "purchase_price_variance")?;
    let base = tenants::current(&tx).await?.base_currency;
    let base_digits = minor_unit_digits(&base);
    let id = Uuid::now_v7();
    let party =
        parties::get_party(&tx, Side::Payable, r.party_id).await?.ok_or(AppError::NotFound { entity: "supplier" })?;
    let mut moves = Vec::new();
    // Per line: (unbilled part, its receipt value, billed part).
    let mut parts: Vec<(Decimal, Decimal, Decimal)> = Vec::new();
    for (i, (line_no, q)) in input.lines.iter().enumerate() {
        let rl = rlines.iter_mut().find(|x| x.line_no == *line_no).ok_or_else(|| AppError::internal("line"))?;
        // Units not yet billed go back first; the rest was billed and is credited.
        let used = rl.returned + rl.invoiced;
        let unbilled = (*q).min((rl.quantity - used).max(Decimal::ZERO));
        let value = rules::share(rl.value, used, used + unbilled, rl.quantity, base_digits);
        parts.push((unbilled, value, *q - unbilled));
        rl.returned += *q;
        moves.push(Movement {
            item_id: rl.item_id,
            warehouse_id: rl.warehouse_id,
            bin_id: None,
            batch_id: rl.batch_id,
            kind: "purchase_return",
            quantity: -*q,
            value: None,
            counter_account_id: grni,
            line_no: Some(i32::try_from(i + 1).map_err(AppError::internal)?),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: format!("lines[{i}].quantity"),
        });
    }
    let source = Source {
        document_id: id,
        date: input.date,
        source_type: "purchase_return",
        memo: format!("Return to {} of {}", party.name, r.number),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("purchase_return".into(), "RTV")),
    };
    let doc = super::trade::open_stock_document(
        &tx,
        id,
        "purchase_return",
        source.date,
        &source.memo,
        source.created_by,
        now,
    )
    .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    // The stock left at its valuation against goods received not invoiced. For the unbilled
    // part GRNI must take back what the goods were received at (the difference goes to
    // variance); for the billed part the supplier's credit note clears GRNI at the stock value.
    let mut diff = Decimal::ZERO;
    let mut credit_lines = Vec::new();
    let mut slines = Vec::new();
    for (i, (((line_no, q), e), (unbilled, receipt_value, billed))) in
        input.lines.iter().zip(posted.movements.iter()).zip(parts.iter()).enumerate()
    {
        let rl = rlines.iter().find(|x| x.line_no == *line_no).ok_or_else(|| AppError::internal("line"))?;
        let stock_value = -e.value;
        let stock_unbilled = round(stock_value * *unbilled / *q, base_digits);
        diff += *receipt_value - stock_unbilled;
        let (_, ols) =
            orders.iter_mut().find(|(o, _)| o.id == rl.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter_mut().find(|x| x.line_no == rl.order_line_no).ok_or_else(|| AppError::internal("line"))?;
        ol.returned += *q;
        ol.cost -= stock_value;
        if *billed > Decimal::ZERO {
            // Credited as it was billed: the price and tax of the latest invoice of the line.
            let (price, tax) =
                billed_terms(&tx, rl.order_id, r.id, *line_no).await?.unwrap_or((order_price(ol), ol.tax_code_id));
            credit_lines.push(MatchLineInput {
                receipt_id: r.id,
                line_no: *line_no,
                quantity: *billed,
                unit_price: price,
                tax_code_id: tax,
                fixed_base: Some(stock_value - stock_unbilled),
            });
        }
        slines.push(ShipmentLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            order_id: rl.order_id,
            order_line_no: rl.order_line_no,
            item_id: rl.item_id,
            warehouse_id: rl.warehouse_id,
            batch_id: rl.batch_id,
            quantity: *q,
            value: stock_value,
            returned: Decimal::ZERO,
            invoiced: Decimal::ZERO,
            return_of_line: Some(*line_no),
            stock_entry_id: Some(e.id),
        });
    }
    let s = Shipment {
        id,
        side: PURCHASE,
        kind: "return".into(),
        number: posted.number.clone().unwrap_or_default(),
        party_id: r.party_id,
        ship_date: input.date,
        return_of: Some(r.id),
        reference: input.credit_reference.clone(),
        memo: input.reason.clone().map(|x| x.trim().chars().take(500).collect()).unwrap_or_default(),
        value: slines.iter().map(|l| l.value).sum(),
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
    };
    store::insert_shipment(&tx, &s, &slines).await?;
    for rl in &rlines {
        store::save_shipment_line(&tx, r.id, rl).await?;
    }
    for (o, ols) in &mut orders {
        for ol in ols.iter() {
            store::save_order_line(&tx, o.id, ol).await?;
        }
        save_header(&tx, o, now).await?;
    }
    if !diff.is_zero() {
        // diff > 0: GRNI takes back more than the stock was worth.
        let (debit, credit) = if diff > Decimal::ZERO { (grni, variance) } else { (variance, grni) };
        let amount = diff.abs();
        let dims = Dimensions { supplier_id: Some(r.party_id), ..Dimensions::default() };
        let memo = format!("{} receipt value against stock value", s.number);
        let elines = vec![
            ar::line(debit, true, amount, amount, &memo, dims.clone()),
            ar::line(credit, false, amount, amount, &memo, dims),
        ];
        let entry = document_entry(
            input.date,
            memo,
            &base,
            Decimal::ONE,
            &elines,
            "purchase_return",
            id,
            Some(ctx.principal.actor_uuid()),
            now,
        );
        post_document_entry(&tx, entry, &elines, now).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "purchase_return.create",
            "purchase_return",
            Some(id.to_string()),
            None,
            Some(shipment_json(&s, &slines)),
        ),
    )
    .await?;
    let mut note = None;
    if !credit_lines.is_empty() {
        let (inv, _) = bill_receipts(
            &tx,
            ctx,
            MatchedInvoiceInput {
                supplier_id: r.party_id,
                invoice_date: input.date,
                due_date: None,
                reference: input.credit_reference,
                exchange_rate: input.exchange_rate,
                memo: Some(format!("Return {} of {}", s.number, r.number)),
                lines: credit_lines,
            },
            true,
            now,
        )
        .await?;
        note = Some(inv);
    }
    tx.commit().await?;
    Ok((s, slines, note))
}

/// The unit price and tax code the latest posted supplier invoice billed a receipt line at.
async fn billed_terms(
    tx: &TenantTx<'_>,
    order: Uuid,
    receipt: Uuid,
    line_no: i32,
) -> AppResult<Option<(Decimal, Option<Uuid>)>> {
    let mut found = None;
    for id in store::invoices_of_order(tx, order).await? {
        let Some((inv, lines)) = parties::get_invoice(tx, Side::Payable, id).await? else { continue };
        if inv.is_credit_note || inv.status != InvoiceStatus::Posted {
            continue;
        }
        if let Some(l) = lines.iter().find(|l| l.link.is_some_and(|k| k.shipment == Some((receipt, line_no)))) {
            found = Some((inv.invoice_date, inv.id, l.unit_price, l.tax_code_id));
        }
    }
    Ok(found.map(|(_, _, p, t)| (p, t)))
}

// ================================================================ supplier performance

pub struct SupplierPerformance {
    pub supplier_id: Uuid,
    pub supplier_code: String,
    pub supplier_name: String,
    pub orders: usize,
    /// Receipt lines with a promised date, and those received on or before it.
    pub receipts: usize,
    pub on_time: usize,
    pub on_time_rate: Option<Decimal>,
    /// Days from order to receipt, and from order to the promised date, on average.
    pub average_lead_days: Option<Decimal>,
    pub average_promised_days: Option<Decimal>,
    /// Invoiced less ordered price for what was billed (order currency summed per supplier),
    /// and that difference as a share of the ordered value.
    pub price_variance: Decimal,
    pub price_variance_rate: Option<Decimal>,
}

/// Orders, promised receipt lines, on time, lead days, promised days, price variance and
/// ordered value, per supplier.
type Tally = (usize, usize, usize, Vec<i64>, Vec<i64>, Decimal, Decimal);

/// Per supplier, for purchase orders dated in the period.
pub async fn supplier_performance(
    app: &AppState,
    tenant: TenantId,
    supplier: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<SupplierPerformance>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let orders = store::purchase_orders_between(&tx, supplier, from, to).await?;
    let mut by_supplier: BTreeMap<Uuid, Tally> = BTreeMap::new();
    for (o, lines) in &orders {
        let e = by_supplier.entry(o.party_id).or_default();
        e.0 += 1;
        for (s, slines) in store::shipments_of_order(&tx, o.id).await? {
            if s.kind != "delivery" {
                continue;
            }
            for sl in slines.iter().filter(|l| l.order_id == o.id) {
                let Some(ol) = lines.iter().find(|l| l.line_no == sl.order_line_no) else { continue };
                e.3.push((s.ship_date - o.order_date).num_days());
                if let Some(promised) = ol.expected_date.or(o.expected_date) {
                    e.1 += 1;
                    if s.ship_date <= promised {
                        e.2 += 1;
                    }
                    e.4.push((promised - o.order_date).num_days());
                }
            }
        }
        for inv_id in store::invoices_of_order(&tx, o.id).await? {
            let Some((inv, ilines)) = parties::get_invoice(&tx, Side::Payable, inv_id).await? else { continue };
            if inv.status != InvoiceStatus::Posted {
                continue;
            }
            let sign = if inv.is_credit_note { -Decimal::ONE } else { Decimal::ONE };
            for il in ilines.iter().filter(|l| l.link.is_some_and(|k| k.order_id == o.id)) {
                let Some(ol) = lines.iter().find(|l| il.link.is_some_and(|k| k.order_line_no == l.line_no)) else {
                    continue;
                };
                let digits = minor_unit_digits(&o.currency);
                let ordered = round(ol.net * il.quantity / ol.quantity, digits);
                e.5 += sign * (il.net - ordered);
                e.6 += sign * ordered;
            }
        }
    }
    let mut out = Vec::new();
    for (sid, (orders_n, receipts, on_time, leads, promised, variance, ordered)) in by_supplier {
        let p = parties::get_party(&tx, Side::Payable, sid).await?;
        let avg = |v: &[i64]| {
            (!v.is_empty()).then(|| round(Decimal::from(v.iter().sum::<i64>()) / Decimal::from(v.len()), 1))
        };
        out.push(SupplierPerformance {
            supplier_id: sid,
            supplier_code: p.as_ref().map(|p| p.code.clone()).unwrap_or_default(),
            supplier_name: p.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
            orders: orders_n,
            receipts,
            on_time,
            on_time_rate: (receipts > 0).then(|| round(Decimal::from(on_time) / Decimal::from(receipts), 4)),
            average_lead_days: avg(&leads),
            average_promised_days: avg(&promised),
            price_variance: variance,
            price_variance_rate: (!ordered.is_zero()).then(|| round(variance / ordered, 4)),
        });
    }
    tx.commit().await?;
    Ok(out)
}
