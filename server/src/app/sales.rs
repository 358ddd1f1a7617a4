//! Order to cash: quotations become orders; confirming an order checks the customer's credit
//! (and overdue invoices), the stock, and reserves it; deliveries issue stock at its valuation
//! and post cost of goods sold; customer returns put it back and, when it was billed, credit
//! it; invoices bill deliveries (or an order's services); an order shows its progress, its
//! documents and its margin at any time.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::approvals::{self, Document, Settled, Submission};
use super::inventory::{Want, release_many_in, reserve_many_in};
use super::plugins::Hook;
use super::receivables::{InvoiceInput, InvoiceLineInput, create_invoice_in, mapped, mapping, post_invoice_in};
use super::stock_posting::{Movement, Source, post_movements};
use super::trade::{
    active_party, book_billing, create_order_in, load_order, not_editable, open_base, order_json, qty, save_header,
    shipment_json,
};
use super::{AppState, Change, Ctx, record};
use crate::domain::approvals::Facts;
use crate::domain::ledger::minor_unit_digits;
use crate::domain::receivables::Side;
use crate::domain::stock::is_stocked;
use crate::domain::trade::{self as rules, Exposure, TradeSide};
use crate::error::{AppError, AppResult, FieldError, Fields};
use crate::store::approvals::Request as ApprovalRequest;
use crate::store::receivables::{self as parties, Allocation, Invoice, InvoiceLine, InvoiceStatus, LineLink};
use crate::store::stock::{self as stock_store, Item, Reservation};
use crate::store::trade::{self as store, Order, OrderLine, Shipment, ShipmentLine};
use crate::store::{Access, TenantTx, tenants};

const SALES: TradeSide = TradeSide::Sales;

// ================================================================ quotations

/// Quotation actions: `send` (draft → sent), `lose` (with a reason), `cancel`.
pub async fn quotation_action(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &'static str,
    reason: Option<String>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut q, lines) = load_order(&tx, SALES, id, true).await?;
    if q.kind != "quotation" {
        return Err(AppError::NotFound { entity: "quotation" });
    }
    let before = order_json(&q, &lines);
    let allowed = match action {
        "send" => q.status == "draft",
        "lose" | "cancel" => q.status == "draft" || q.status == "sent",
        _ => false,
    };
    if !allowed {
        return Err(not_editable(&q, action));
    }
    if action == "lose" {
        let r = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        match r {
            None => return Err(AppError::field("reason", "say why the quotation was lost")),
            Some(r) if r.chars().count() > 500 => {
                return Err(AppError::field("reason", "must be at most 500 characters"));
            }
            Some(r) => q.reason = Some(r),
        }
    }
    q.status = match action {
        "send" => "sent",
        "lose" => "lost",
        _ => "cancelled",
    }
    .into();
    save_header(&tx, &mut q, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("quotation.{action}"),
            "quotation",
            Some(id.to_string()),
            Some(before),
            Some(order_json(&q, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((q, lines))
}

/// The customer accepted: the quotation becomes a draft sales order with the same lines and
/// prices (kept as quoted, whatever the lists say now).
pub async fn accept_quotation(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    order_date: Option<NaiveDate>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut q, qlines) = load_order(&tx, SALES, id, true).await?;
    if q.kind != "quotation" {
        return Err(AppError::NotFound { entity: "quotation" });
    }
    if q.status != "draft" && q.status != "sent" {
        return Err(not_editable(&q, "accepted"));
    }
    let date = order_date.unwrap_or(now.date_naive());
    if q.valid_until.is_some_and(|v| date > v) {
        return Err(AppError::InvalidState {
            entity: "quotation",
            state: format!("{} expired on {}", q.number, q.valid_until.unwrap_or(date)),
            action: "accepted (quote again)",
        });
    }
    let before = order_json(&q, &qlines);
    let input = super::trade::OrderInput {
        party_id: q.party_id,
        kind: "order".into(),
        order_date: date,
        expected_date: q.expected_date.filter(|d| *d >= date),
        valid_until: None,
        currency: Some(q.currency.clone()),
        exchange_rate: None,
        tax_inclusive: Some(q.tax_inclusive),
        discount_percent: Some(q.discount_percent),
        warehouse_id: q.warehouse_id,
        reference: q.reference.clone(),
        memo: Some(q.memo.clone()),
        lines: qlines
            .iter()
            .map(|l| super::trade::OrderLineInput {
                item_id: l.item_id,
                description: Some(l.description.clone()),
                warehouse_id: l.warehouse_id,
                quantity: l.quantity,
                unit_price: Some(l.unit_price),
                discount_percent: Some(l.discount_percent),
                discount_amount: Some(l.discount_amount),
                tax_code_id: l.tax_code_id,
                expected_date: l.expected_date.filter(|d| *d >= date),
                request_id: None,
                price_rule: Some(format!("as quoted on {}", q.number)),
            })
            .collect(),
    };
    let (order, lines) = create_order_in(app, &tx, ctx, SALES, input, Some(q.id), now).await?;
    q.status = "accepted".into();
    q.converted_to = Some(order.id);
    save_header(&tx, &mut q, now).await?;
    super::crm::quotation_accepted(&tx, ctx, q.id, &order, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("quotation.accept", "quotation", Some(id.to_string()), Some(before), Some(order_json(&q, &qlines))),
    )
    .await?;
    tx.commit().await?;
    Ok((order, lines))
}

// ================================================================ confirming

/// Confirms a draft sales order: overdue invoices and the credit limit first, then the
/// validators (plugins), then stock per line, which is reserved. With `backorder`, lines short
/// of stock reserve what there is and the rest waits; without it a shortage refuses.
pub async fn confirm(app: &AppState, ctx: &Ctx, id: Uuid, backorder: bool) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut lines) = load_order(&tx, SALES, id, true).await?;
    if o.kind != "order" {
        return Err(AppError::InvalidState {
            entity: "quotation",
            state: o.number.clone(),
            action: "confirmed (accept it to make an order)",
        });
    }
    if o.status != "draft" && o.status != "approved" {
        return Err(not_editable(&o, "confirmed again"));
    }
    let author = o.created_by.unwrap_or(ctx.principal.actor_uuid());
    if o.status == "draft" && approvals::needs_approval(&tx, KIND, order_facts(author, &o, &lines)).await? {
        return Err(AppError::Conflict(format!(
            "{} needs approval under the tenant's approval flows (its discount or amount); submit it \
             (POST /sales-orders/{}/submit) and confirm it once approved",
            o.number, o.id
        )));
    }
    let before = order_json(&o, &lines);
    let party = active_party(&tx, SALES, o.party_id).await?;
    let settings = store::settings(&tx).await?;
    let today = now.date_naive().max(o.order_date);
    if settings.overdue_block_days.is_some() {
        let oldest = store::oldest_open_invoice(&tx, party.id).await?;
        let digits = minor_unit_digits(&tenants::current(&tx).await?.base_currency);
        if let Some(why) = rules::overdue_block(
            oldest.as_ref().map(|(n, d, a)| (n.as_str(), *d, a.round_dp(digits))),
            today,
            settings.overdue_block_days,
        ) {
            return Err(AppError::CreditCheck {
                rule: "overdue",
                detail: format!("Customer {} cannot order: {why}", party.code),
            });
        }
    }
    if let Some(limit) = party.credit_limit {
        // Two orders of one customer confirmed at once must see each other's exposure.
        store::lock_party(&tx, party.id).await?;
        let (open_receivables, open_orders) = store::customer_exposure(&tx, party.id).await?;
        let e = Exposure { limit, open_receivables, open_orders, this_order: o.gross_base };
        if let Some((_, why)) = e.excess() {
            return Err(AppError::CreditCheck {
                rule: "credit_limit",
                detail: format!("Customer {} is over its credit limit: {why}", party.code),
            });
        }
    }
    let item_ids: Vec<Uuid> = lines.iter().map(|l| l.item_id).collect();
    let items = stock_store::get_items(&tx, &item_ids).await?;
    let doc = async || super::plugins::order_document(&tx, &o, &lines, &party, Some(&items)).await;
    super::plugins::before(app, &tx, Hook::SalesOrderConfirm, doc).await?;
    let pairs: Vec<(Uuid, Uuid)> = lines
        .iter()
        .filter(|l| items.get(&l.item_id).is_some_and(|i| is_stocked(&i.item_type)))
        .filter_map(|l| l.warehouse_id.map(|w| (l.item_id, w)))
        .collect();
    let mut levels = stock_store::lock_levels(&tx, &pairs).await?;
    let mut errors = Vec::new();
    let mut plan: Vec<(usize, Decimal)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(w) = l.warehouse_id else { continue };
        let Some(level) = levels.get_mut(&(l.item_id, w)) else { continue };
        let available = (level.quantity - level.reserved).max(Decimal::ZERO);
        let take = l.quantity.min(available);
        if take < l.quantity && !backorder {
            let sku = items.get(&l.item_id).map(|x| x.sku.clone()).unwrap_or_default();
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                format!(
                    "{} of {sku} available, {} ordered: short by {}",
                    qty(available),
                    qty(l.quantity),
                    qty(l.quantity - take)
                ),
            ));
        }
        level.reserved += take;
        plan.push((i, take));
    }
    if !errors.is_empty() {
        let detail = format!(
            "Not enough stock to confirm {}: {} (confirm with backorder to reserve what there is)",
            o.number,
            errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ")
        );
        return Err(AppError::InsufficientStock { detail, errors });
    }
    let plan: Vec<(usize, Decimal)> = plan.into_iter().filter(|(_, take)| !take.is_zero()).collect();
    let mut wants = Vec::with_capacity(plan.len());
    for (i, take) in &plan {
        let l = &lines[*i];
        wants.push(Want {
            item_id: l.item_id,
            warehouse_id: l.warehouse_id.ok_or_else(|| AppError::internal("stocked line without warehouse"))?,
            quantity: *take,
            source_id: format!("{}:{}", o.id, l.line_no),
            memo: format!("{} line {}", o.number, l.line_no),
        });
    }
    let reserved = reserve_many_in(&tx, &items, "sales_order", wants, now).await?;
    for ((i, _), r) in plan.iter().zip(&reserved) {
        lines[*i].reservation_id = Some(r.id);
    }
    let touched: Vec<&OrderLine> = plan.iter().map(|(i, _)| &lines[*i]).collect();
    store::save_order_lines(&tx, o.id, &touched).await?;
    o.status = "confirmed".into();
    o.confirmed_at = Some(now);
    o.confirmed_by = Some(ctx.principal.actor_uuid());
    o.open_base = open_base(&o, &lines, minor_unit_digits(&tenants::current(&tx).await?.base_currency));
    save_header(&tx, &mut o, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "sales_order.confirm",
            "sales_order",
            Some(id.to_string()),
            Some(before),
            Some(order_json(&o, &lines)),
        ),
    )
    .await?;
    let payload = serde_json::json!({
        "number": o.number,
        "customer_id": party.id,
        "customer_code": party.code,
        "order_date": o.order_date,
        "currency": o.currency,
        "gross_total": o.gross_total.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({
            "line_no": l.line_no,
            "item_id": l.item_id,
            "quantity": l.quantity.normalize().to_string(),
            "reserved": l.reservation_id.is_some(),
        })).collect::<Vec<_>>(),
    });
    super::events::emit(&tx, super::events::SALES_ORDER_CONFIRMED, o.id, payload, now).await?;
    tx.commit().await?;
    Ok((o, lines))
}

/// Releases what is still reserved for an order's lines.
async fn release_reservations(
    tx: &TenantTx<'_>,
    o: &Order,
    lines: &mut [OrderLine],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let ids: Vec<Uuid> = lines.iter().filter_map(|l| l.reservation_id).collect();
    let held: Vec<i32> = lines.iter().filter(|l| l.reservation_id.is_some()).map(|l| l.line_no).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut open: Vec<(Reservation, Decimal, bool)> = stock_store::get_reservations(tx, &ids)
        .await?
        .into_values()
        .filter(|r| r.status == "open")
        .map(|r| {
            let q = r.open_quantity;
            (r, q, false)
        })
        .collect();
    let pairs: Vec<(Uuid, Uuid)> = open.iter().map(|(r, _, _)| (r.item_id, r.warehouse_id)).collect();
    stock_store::lock_levels(tx, &pairs).await?;
    release_many_in(tx, &mut open, now).await?;
    for l in lines.iter_mut() {
        l.reservation_id = None;
    }
    let touched: Vec<&OrderLine> = lines.iter().filter(|l| held.contains(&l.line_no)).collect();
    store::save_order_lines(tx, o.id, &touched).await?;
    Ok(())
}

const KIND: &str = "sales_order";

/// What the approval engine judges a sales order on: its value in base currency and its
/// discount, as a fraction of what the lines were worth before their discounts.
fn order_facts(requester: Uuid, o: &Order, lines: &[OrderLine]) -> Facts {
    let discount: Decimal = lines.iter().map(|l| l.discount).sum();
    let before: Decimal = lines.iter().map(|l| l.net + l.discount).sum();
    Facts {
        requester,
        authors: o.created_by.into_iter().collect(),
        amount: o.gross_base,
        department: None,
        supplier: None,
        discount: (!before.is_zero()).then(|| (discount / before).round_dp(6)),
    }
}

/// Submits a draft sales order for approval: it is frozen until decided, approved at once
/// under the flow's threshold; an order no flow covers is confirmed directly instead.
pub async fn submit(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, lines) = load_order(&tx, SALES, id, true).await?;
    if o.kind != "order" {
        return Err(AppError::NotFound { entity: "sales order" });
    }
    if o.status != "draft" {
        return Err(not_editable(&o, "submitted for approval"));
    }
    let before = order_json(&o, &lines);
    let facts = order_facts(ctx.principal.actor_uuid(), &o, &lines);
    let pct = facts.discount.map(|d| (d * Decimal::ONE_HUNDRED).round_dp(2)).unwrap_or_default();
    let doc = Document {
        kind: KIND,
        id: o.id,
        number: o.number.clone(),
        summary: format!("{} {} {}, discount {pct} %", o.number, o.gross_total, o.currency),
        facts,
    };
    o.status = match approvals::submit_in(&tx, ctx, doc, now).await? {
        Submission::NotRequired => {
            return Err(AppError::Conflict(format!(
                "no approval flow covers {}; confirm it directly (POST /sales-orders/{}/confirm)",
                o.number, o.id
            )));
        }
        Submission::AutoApproved(_) => "approved".into(),
        Submission::Pending(_) => "submitted".into(),
    };
    save_header(&tx, &mut o, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "sales_order.submit",
            "sales_order",
            Some(id.to_string()),
            Some(before),
            Some(order_json(&o, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((o, lines))
}

/// A sales order's approval ended: approved (to be confirmed), else back to draft.
pub(crate) async fn order_settled(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let (mut o, lines) = load_order(tx, SALES, a.document_id, true).await?;
    let before = order_json(&o, &lines);
    o.status = if s == Settled::Approved { "approved" } else { "draft" }.into();
    save_header(tx, &mut o, now).await?;
    let action = format!("sales_order.{}", s.verb());
    record(
        tx,
        ctx,
        now,
        Change::new(&action, "sales_order", Some(o.id.to_string()), Some(before), Some(order_json(&o, &lines))),
    )
    .await
}

/// `cancel`: a confirmed order nothing was delivered or billed on (or a draft);
/// `close`: a confirmed order stops here, whatever is still to deliver is dropped.
/// Both release the reservations.
pub async fn order_action(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    action: &'static str,
    reason: Option<String>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut o, mut lines) = load_order(&tx, SALES, id, true).await?;
    if o.kind == "quotation" && action == "cancel" {
        drop(tx);
        return quotation_action(app, ctx, id, "cancel", reason).await;
    }
    if o.kind != "order" {
        return Err(AppError::NotFound { entity: "sales order" });
    }
    let before = order_json(&o, &lines);
    match action {
        "cancel" => {
            if o.status == "submitted" {
                return Err(not_editable(&o, "cancelled while it waits for approval (withdraw the request first)"));
            }
            if !matches!(o.status.as_str(), "draft" | "approved" | "confirmed") {
                return Err(not_editable(&o, "cancelled"));
            }
            if lines.iter().any(|l| !l.shipped.is_zero() || !l.invoiced.is_zero()) {
                return Err(not_editable(&o, "cancelled: goods were delivered or billed (close it instead)"));
            }
            o.status = "cancelled".into();
        }
        _ => {
            if o.status != "confirmed" {
                return Err(not_editable(&o, "closed (only confirmed orders are)"));
            }
            o.status = "closed".into();
        }
    }
    release_reservations(&tx, &o, &mut lines, now).await?;
    o.reason = reason.map(|r| r.trim().chars().take(500).collect::<String>()).filter(|r| !r.is_empty());
    o.open_base = Decimal::ZERO;
    save_header(&tx, &mut o, now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("sales_order.{action}"),
            "sales_order",
            Some(id.to_string()),
            Some(before),
            Some(order_json(&o, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((o, lines))
}

// ================================================================ deliveries

pub struct DeliveryLineInput {
    pub order_id: Uuid,
    pub line_no: i32,
    pub quantity: Decimal,
    /// Default: the order line's warehouse.
    pub warehouse_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
}

pub struct DeliveryInput {
    pub customer_id: Uuid,
    pub date: NaiveDate,
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<DeliveryLineInput>,
}

fn check_text(f: &mut Fields, field: &str, v: Option<String>, max: usize) -> Option<String> {
    let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())?;
    if v.chars().count() > max {
        f.push(field, format!("must be at most {max} characters"));
    }
    Some(v)
}

/// Delivers order lines (of one or more of the customer's confirmed orders): stock leaves at
/// its valuation against cost of goods sold, reservations are consumed.
pub async fn deliver(app: &AppState, ctx: &Ctx, input: DeliveryInput) -> AppResult<(Shipment, Vec<ShipmentLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    if input.lines.is_empty() {
        f.push("lines", "a delivery needs at least one line");
    }
    if input.lines.len() > 500 {
        f.push("lines", "a delivery has at most 500 lines");
    }
    let reference = check_text(&mut f, "reference", input.reference, 100);
    let memo = check_text(&mut f, "memo", input.memo, 500).unwrap_or_default();
    let party = super::receivables::check_customer(&tx, input.customer_id, "customer_id").await?;
    let order_ids: Vec<Uuid> = input.lines.iter().map(|l| l.order_id).collect();
    let mut orders = store::orders_with_lines(&tx, &order_ids, true).await?;
    let item_ids: Vec<Uuid> = orders.iter().flat_map(|(_, ls)| ls.iter().map(|l| l.item_id)).collect();
    let items: HashMap<Uuid, Item> = stock_store::get_items(&tx, &item_ids).await?;
    let mut wanted: HashMap<(Uuid, i32), Decimal> = HashMap::new();
    for (i, l) in input.lines.iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        let Some((o, ols)) = orders.iter().find(|(o, _)| o.id == l.order_id && o.side == SALES && o.kind == "order")
        else {
            f.push(at("order_id"), "no such sales order");
            continue;
        };
        if o.party_id != party.id {
            f.push(at("order_id"), format!("{} is another customer's order", o.number));
            continue;
        }
        if o.status != "confirmed" {
            f.push(at("order_id"), format!("{} is {}; only confirmed orders are delivered", o.number, o.status));
            continue;
        }
        if let Some((first, _)) = orders.iter().find(|(x, _)| input.lines.first().is_some_and(|l| l.order_id == x.id))
            && (first.currency != o.currency || first.tax_inclusive != o.tax_inclusive)
        {
            f.push(
                at("order_id"),
                format!("{} is in another currency or tax treatment than {}; deliver it apart", o.number, first.number),
            );
            continue;
        }
        let Some(ol) = ols.iter().find(|x| x.line_no == l.line_no) else {
            f.push(at("line_no"), format!("{} has no line {}", o.number, l.line_no));
            continue;
        };
        let item = items.get(&ol.item_id);
        if item.is_some_and(|x| !is_stocked(&x.item_type)) {
            f.push(at("line_no"), format!("{} line {} is a service; bill it from the order", o.number, l.line_no));
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
        let left = ol.quantity - ol.shipped;
        if *total > left {
            f.push(
                at("quantity"),
                format!(
                    "{} is more than the {} still to deliver on {} line {} ({} ordered, {} delivered)",
                    qty(*total),
                    qty(left.max(Decimal::ZERO)),
                    o.number,
                    ol.line_no,
                    qty(ol.quantity),
                    qty(ol.shipped)
                ),
            );
        }
    }
    f.finish()?;
    let cogs = mapped(&mapping(&tx).await?, "cost_of_goods_sold")?;
    let id = Uuid::now_v7();
    // Every level the delivery touches, locked once in sorted order (reservations included).
    let mut pairs = Vec::new();
    for l in &input.lines {
        if let Some((_, ols)) = orders.iter().find(|(o, _)| o.id == l.order_id)
            && let Some(ol) = ols.iter().find(|x| x.line_no == l.line_no)
        {
            pairs.extend(l.warehouse_id.or(ol.warehouse_id).map(|w| (ol.item_id, w)));
            pairs.extend(ol.warehouse_id.map(|w| (ol.item_id, w)));
        }
    }
    stock_store::lock_levels(&tx, &pairs).await?;
    // Reservations are consumed first, so the stock they held is free to leave.
    let held: Vec<Uuid> = orders.iter().flat_map(|(_, ols)| ols.iter().filter_map(|l| l.reservation_id)).collect();
    let mut reservations = stock_store::get_reservations(&tx, &held).await?;
    let mut releases: Vec<(Reservation, Decimal, bool)> = Vec::new();
    let mut moves = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let (_, ols) =
            orders.iter_mut().find(|(o, _)| o.id == l.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter_mut().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        let warehouse = l.warehouse_id.or(ol.warehouse_id).ok_or_else(|| AppError::internal("no warehouse"))?;
        if let Some(rid) = ol.reservation_id {
            // One line delivered twice in this delivery consumes what the first part left.
            let open = match releases.iter().position(|(r, _, _)| r.id == rid) {
                Some(k) => releases.get(k).map(|(r, q, _)| (r.status == "open", r.open_quantity - *q)),
                None => reservations.get(&rid).map(|r| (r.status == "open", r.open_quantity)),
            };
            if let Some((true, left)) = open
                && left > Decimal::ZERO
            {
                // Consumed where the goods leave from; released when they leave from elsewhere.
                let q = l.quantity.min(left);
                match releases.iter_mut().find(|(r, _, _)| r.id == rid) {
                    Some(entry) => {
                        entry.1 += q;
                        entry.2 = entry.0.warehouse_id == warehouse;
                    }
                    None => {
                        let r = reservations.remove(&rid).ok_or_else(|| AppError::internal("reservation"))?;
                        let here = r.warehouse_id == warehouse;
                        releases.push((r, q, here));
                    }
                }
            }
        }
        moves.push(Movement {
            item_id: ol.item_id,
            warehouse_id: warehouse,
            bin_id: None,
            batch_id: l.batch_id,
            kind: "delivery",
            quantity: -l.quantity,
            value: None,
            counter_account_id: cogs,
            line_no: Some(i32::try_from(i + 1).map_err(AppError::internal)?),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: format!("lines[{i}].quantity"),
        });
    }
    release_many_in(&tx, &mut releases, now).await?;
    let source = Source {
        document_id: id,
        date: input.date,
        source_type: "delivery",
        memo: format!("Delivery to {}", party.name),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("delivery".into(), "DN")),
    };
    let doc = super::trade::open_stock_document(&tx, id, "delivery", source.date, &source.memo, source.created_by, now)
        .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    let mut slines = Vec::with_capacity(input.lines.len());
    for (i, (l, e)) in input.lines.iter().zip(posted.movements.iter()).enumerate() {
        let (_, ols) =
            orders.iter_mut().find(|(o, _)| o.id == l.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter_mut().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        let value = -e.value;
        ol.shipped += l.quantity;
        ol.cost += value;
        slines.push(ShipmentLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            order_id: l.order_id,
            order_line_no: l.line_no,
            item_id: ol.item_id,
            warehouse_id: e.warehouse_id,
            batch_id: l.batch_id,
            quantity: l.quantity,
            value,
            returned: Decimal::ZERO,
            invoiced: Decimal::ZERO,
            return_of_line: None,
            stock_entry_id: Some(e.id),
        });
    }
    let s = Shipment {
        id,
        side: SALES,
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
        let touched: Vec<&OrderLine> =
            ols.iter().filter(|ol| input.lines.iter().any(|l| l.order_id == o.id && l.line_no == ol.line_no)).collect();
        store::save_order_lines(&tx, o.id, &touched).await?;
        save_header(&tx, o, now).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("delivery.create", "delivery", Some(id.to_string()), None, Some(shipment_json(&s, &slines))),
    )
    .await?;
    tx.commit().await?;
    Ok((s, slines))
}

// ================================================================ invoicing

/// The discount that makes billing `q` units (going from `before` to `after` of the line's
/// quantity billed) carry exactly its share of the line's amount, so that the parts of a line
/// billed in pieces add up to the line (rounding included, hence possibly negative).
fn discount_share(o: &Order, ol: &OrderLine, before: Decimal, after: Decimal, q: Decimal) -> Decimal {
    let digits = minor_unit_digits(&o.currency);
    let whole = crate::domain::tax::round(ol.quantity * ol.unit_price, digits) - ol.discount;
    let part = rules::share(whole, before, after, ol.quantity, digits);
    crate::domain::tax::round(q * ol.unit_price, digits) - part
}

/// What one invoice line bills of an order line: its quantity and its share of the discount.
fn bill_line(o: &Order, ol: &OrderLine, q: Decimal, revenue: Uuid, shipment: Option<(Uuid, i32)>) -> InvoiceLineInput {
    InvoiceLineInput {
        description: ol.description.clone(),
        account_id: Some(revenue),
        item_id: Some(ol.item_id),
        quantity: q,
        unit_price: ol.unit_price,
        tax_code_id: ol.tax_code_id,
        discount: discount_share(o, ol, ol.invoiced, ol.invoiced + q, q),
        link: Some(LineLink { order_id: o.id, order_line_no: ol.line_no, shipment }),
        fixed_base: None,
    }
}

/// Makes and posts one sales invoice (or credit note) for lines of the customer's orders,
/// then books what it billed on the orders and shipments.
#[allow(clippy::too_many_arguments)]
async fn issue(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    customer: Uuid,
    order: &Order,
    date: NaiveDate,
    exchange_rate: Option<Decimal>,
    due_date: Option<NaiveDate>,
    credit_note_of: Option<Uuid>,
    memo: String,
    lines: Vec<InvoiceLineInput>,
    source: (String, String),
    now: DateTime<Utc>,
) -> AppResult<(Invoice, Vec<InvoiceLine>, Vec<Allocation>)> {
    let input = InvoiceInput {
        party_id: customer,
        is_credit_note: credit_note_of.is_some() || source.0 == "sales_return",
        credit_note_of,
        invoice_date: date,
        due_date,
        currency: Some(order.currency.clone()),
        exchange_rate,
        tax_inclusive: Some(order.tax_inclusive),
        reference: Some(order.reference.clone().unwrap_or_else(|| order.number.clone())),
        memo: Some(memo),
        lines,
        source: Some(source),
    };
    let (inv, ilines, fixed) = create_invoice_in(tx, ctx, Side::Receivable, input, now).await?;
    // Booked on the orders before posting takes the invoice number (held until COMMIT).
    book_billing(tx, &inv, &ilines, Decimal::ONE, now).await?;
    let (inv, allocations) = post_invoice_in(tx, ctx, inv, &ilines, &fixed, now).await?;
    Ok((inv, ilines, allocations))
}

pub struct InvoiceDeliveriesInput {
    pub delivery_ids: Vec<Uuid>,
    pub invoice_date: NaiveDate,
    pub exchange_rate: Option<Decimal>,
    pub due_date: Option<NaiveDate>,
}

/// Bills what is left to bill on deliveries (delivered less returned less already invoiced),
/// at the order lines' prices and discounts, on one invoice. The deliveries must be the same
/// customer's, of orders in one currency.
pub async fn invoice_deliveries(
    app: &AppState,
    ctx: &Ctx,
    input: InvoiceDeliveriesInput,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    if input.delivery_ids.is_empty() {
        return Err(AppError::field("delivery_ids", "name at least one delivery"));
    }
    let shipments = store::get_shipments(&tx, &input.delivery_ids).await?;
    let mut f = Fields::new();
    for (i, id) in input.delivery_ids.iter().enumerate() {
        match shipments.iter().find(|(s, _)| s.id == *id) {
            None => f.push(format!("delivery_ids[{i}]"), "no such delivery"),
            Some((s, _)) if s.side != SALES || s.kind != "delivery" => {
                f.push(format!("delivery_ids[{i}]"), format!("{} is not a delivery to a customer", s.number))
            }
            _ => {}
        }
    }
    f.finish()?;
    let customer = shipments[0].0.party_id;
    if shipments.iter().any(|(s, _)| s.party_id != customer) {
        return Err(AppError::field("delivery_ids", "the deliveries are to different customers; bill them apart"));
    }
    let order_ids: Vec<Uuid> = shipments.iter().flat_map(|(_, ls)| ls.iter().map(|l| l.order_id)).collect();
    let mut orders = store::orders_with_lines(&tx, &order_ids, true).await?;
    // Read again under the orders' locks: another invoice may have billed them meanwhile.
    let shipments = store::get_shipments(&tx, &input.delivery_ids).await?;
    if orders.iter().any(|(o, _)| o.tax_inclusive != orders[0].0.tax_inclusive) {
        return Err(AppError::field(
            "delivery_ids",
            "the orders mix tax-inclusive and tax-exclusive prices; bill them on separate invoices",
        ));
    }
    let currencies: std::collections::BTreeSet<&str> = orders.iter().map(|(o, _)| o.currency.as_str()).collect();
    if currencies.len() > 1 {
        return Err(AppError::field(
            "delivery_ids",
            format!(
                "the orders are in {}; bill each currency on its own invoice",
                currencies.into_iter().collect::<Vec<_>>().join(" and ")
            ),
        ));
    }
    let revenue = mapped(&mapping(&tx).await?, "revenue")?;
    let mut lines = Vec::new();
    for (s, slines) in &shipments {
        for sl in slines {
            let billable = sl.quantity - sl.returned - sl.invoiced;
            if billable <= Decimal::ZERO {
                continue;
            }
            let (o, ols) =
                orders.iter_mut().find(|(o, _)| o.id == sl.order_id).ok_or_else(|| AppError::internal("order"))?;
            let ol =
                ols.iter_mut().find(|x| x.line_no == sl.order_line_no).ok_or_else(|| AppError::internal("line"))?;
            lines.push(bill_line(o, ol, billable, revenue, Some((s.id, sl.line_no))));
            // Later lines of the same order line take their discount share after this one.
            ol.invoiced += billable;
        }
    }
    if lines.is_empty() {
        let numbers: Vec<&str> = shipments.iter().map(|(s, _)| s.number.as_str()).collect();
        return Err(AppError::Conflict(format!(
            "nothing is left to invoice on {}: everything delivered is invoiced or returned",
            numbers.join(", ")
        )));
    }
    let first = orders[0].0.clone();
    let numbers: Vec<String> = shipments.iter().map(|(s, _)| s.number.clone()).collect();
    let (inv, ilines, _) = issue(
        &tx,
        ctx,
        customer,
        &first,
        input.invoice_date,
        input.exchange_rate,
        input.due_date,
        None,
        format!("Deliveries {}", numbers.join(", ")),
        lines,
        ("delivery".into(), numbers.join(",")),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((inv, ilines))
}

/// Bills an order's services (lines that do not ship) not yet billed.
pub async fn invoice_order(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    date: NaiveDate,
    exchange_rate: Option<Decimal>,
    due_date: Option<NaiveDate>,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (o, lines) = load_order(&tx, SALES, id, true).await?;
    if o.kind != "order" {
        return Err(not_editable(&o, "invoiced (accept the quotation and confirm the order first)"));
    }
    if o.status != "confirmed" && o.status != "closed" {
        return Err(not_editable(&o, "invoiced (only confirmed or closed orders are)"));
    }
    let items = stock_store::get_items(&tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
    let revenue = mapped(&mapping(&tx).await?, "revenue")?;
    let mut bill = Vec::new();
    for ol in &lines {
        if items.get(&ol.item_id).is_some_and(|i| is_stocked(&i.item_type)) {
            continue;
        }
        let left = ol.quantity - ol.invoiced;
        if left > Decimal::ZERO {
            bill.push(bill_line(&o, ol, left, revenue, None));
        }
    }
    if bill.is_empty() {
        return Err(AppError::Conflict(format!(
            "nothing on {} can be invoiced from the order: its services are billed and its goods are billed from their deliveries",
            o.number
        )));
    }
    let (inv, ilines, _) = issue(
        &tx,
        ctx,
        o.party_id,
        &o,
        date,
        exchange_rate,
        due_date,
        None,
        format!("Order {}", o.number),
        bill,
        ("sales_order".into(), o.number.clone()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((inv, ilines))
}

// ================================================================ returns

pub struct ReturnLineInput {
    /// The delivery line it returns.
    pub line_no: i32,
    pub quantity: Decimal,
}

pub struct ReturnInput {
    pub date: NaiveDate,
    pub reason: Option<String>,
    pub lines: Vec<ReturnLineInput>,
    pub exchange_rate: Option<Decimal>,
}

/// A customer sends goods of a delivery back: stock comes back at the cost it left with, cost
/// of goods sold is reversed, and what was already billed of it is credited on a credit note
/// (settled against the invoice when one invoice billed it all).
pub async fn return_delivery(
    app: &AppState,
    ctx: &Ctx,
    delivery_id: Uuid,
    input: ReturnInput,
) -> AppResult<(Shipment, Vec<ShipmentLine>, Option<Invoice>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (d, first) = store::get_shipments(&tx, &[delivery_id])
        .await?
        .into_iter()
        .next()
        .filter(|(s, _)| s.side == SALES && s.kind == "delivery")
        .ok_or(AppError::NotFound { entity: "delivery" })?;
    // Lock the orders first, then read the delivery's lines as they are now.
    let order_ids: Vec<Uuid> = first.iter().map(|l| l.order_id).collect();
    let mut orders = store::orders_with_lines(&tx, &order_ids, true).await?;
    let mut dlines =
        store::get_shipments(&tx, &[delivery_id]).await?.into_iter().next().map(|(_, l)| l).unwrap_or_default();
    let mut f = Fields::new();
    let reason = check_text(&mut f, "reason", input.reason, 500);
    if input.lines.is_empty() {
        f.push("lines", "a return needs at least one line");
    }
    if input.date < d.ship_date {
        f.push("date", format!("must not be before the delivery ({})", d.ship_date));
    }
    let mut wanted: HashMap<i32, Decimal> = HashMap::new();
    for (i, l) in input.lines.iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        let Some(dl) = dlines.iter().find(|x| x.line_no == l.line_no) else {
            f.push(at("line_no"), format!("{} has no line {}", d.number, l.line_no));
            continue;
        };
        if l.quantity <= Decimal::ZERO {
            f.push(at("quantity"), "must be positive");
            continue;
        }
        let total = wanted.entry(l.line_no).or_default();
        *total += l.quantity;
        if *total > dl.quantity - dl.returned {
            f.push(
                at("quantity"),
                format!(
                    "{} is more than the {} of {} line {} not yet returned",
                    qty(*total),
                    qty(dl.quantity - dl.returned),
                    d.number,
                    l.line_no
                ),
            );
        }
    }
    f.finish()?;
    let cogs = mapped(&mapping(&tx).await?, "cost_of_goods_sold")?;
    let digits = minor_unit_digits(&tenants::current(&tx).await?.base_currency);
    let id = Uuid::now_v7();
    let mut moves = Vec::new();
    let mut values = Vec::new();
    for (i, l) in input.lines.iter().enumerate() {
        let dl = dlines.iter_mut().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        let value = rules::share(dl.value, dl.returned, dl.returned + l.quantity, dl.quantity, digits);
        dl.returned += l.quantity;
        values.push(value);
        moves.push(Movement {
            item_id: dl.item_id,
            warehouse_id: dl.warehouse_id,
            bin_id: None,
            batch_id: dl.batch_id,
            kind: "sales_return",
            quantity: l.quantity,
            value: Some(value),
            counter_account_id: cogs,
            line_no: Some(i32::try_from(i + 1).map_err(AppError::internal)?),
            pair_index: None,
            pair_entry_id: None,
            layer_entry_id: None,
            field: format!("lines[{i}].quantity"),
        });
    }
    let party = parties::get_party(&tx, Side::Receivable, d.party_id)
        .await?
        .ok_or(AppError::NotFound { entity: "customer" })?;
    let source = Source {
        document_id: id,
        date: input.date,
        source_type: "sales_return",
        memo: format!("Return from {} of {}", party.name, d.number),
        created_by: Some(ctx.principal.actor_uuid()),
        numbering: Some(("sales_return".into(), "RMA")),
    };
    let doc =
        super::trade::open_stock_document(&tx, id, "sales_return", source.date, &source.memo, source.created_by, now)
            .await?;
    let posted = post_movements(&tx, &source, &moves, now).await?;
    super::trade::close_stock_document(&tx, doc, &posted).await?;
    let revenue = mapped(&mapping(&tx).await?, "revenue")?;
    let mut rlines = Vec::new();
    let mut credit: Vec<InvoiceLineInput> = Vec::new();
    for (i, ((l, e), value)) in input.lines.iter().zip(posted.movements.iter()).zip(values).enumerate() {
        let dl = dlines.iter_mut().find(|x| x.line_no == l.line_no).ok_or_else(|| AppError::internal("line"))?;
        let (o, ols) =
            orders.iter_mut().find(|(o, _)| o.id == dl.order_id).ok_or_else(|| AppError::internal("order"))?;
        let ol = ols.iter_mut().find(|x| x.line_no == dl.order_line_no).ok_or_else(|| AppError::internal("line"))?;
        ol.returned += l.quantity;
        ol.cost -= value;
        // Billed beyond what the customer keeps: credit the difference.
        let over = (dl.invoiced - (dl.quantity - dl.returned)).max(Decimal::ZERO);
        if over > Decimal::ZERO {
            credit.push(InvoiceLineInput {
                description: ol.description.clone(),
                account_id: Some(revenue),
                item_id: Some(ol.item_id),
                quantity: over,
                unit_price: ol.unit_price,
                tax_code_id: ol.tax_code_id,
                discount: discount_share(o, ol, ol.invoiced - over, ol.invoiced, over),
                link: Some(LineLink { order_id: o.id, order_line_no: ol.line_no, shipment: Some((d.id, dl.line_no)) }),
                fixed_base: None,
            });
            ol.invoiced -= over;
            dl.invoiced -= over;
        }
        rlines.push(ShipmentLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            order_id: dl.order_id,
            order_line_no: dl.order_line_no,
            item_id: dl.item_id,
            warehouse_id: dl.warehouse_id,
            batch_id: dl.batch_id,
            quantity: l.quantity,
            value,
            returned: Decimal::ZERO,
            invoiced: Decimal::ZERO,
            return_of_line: Some(dl.line_no),
            stock_entry_id: Some(e.id),
        });
    }
    let s = Shipment {
        id,
        side: SALES,
        kind: "return".into(),
        number: posted.number.clone().unwrap_or_default(),
        party_id: d.party_id,
        ship_date: input.date,
        return_of: Some(d.id),
        reference: None,
        memo: reason.unwrap_or_default(),
        value: rlines.iter().map(|l| l.value).sum(),
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
    };
    store::insert_shipment(&tx, &s, &rlines).await?;
    // The delivery's returned quantities; its invoiced ones move with the credit note below.
    for dl in &dlines {
        let mut saved = dl.clone();
        for c in credit.iter().filter(|c| c.link.is_some_and(|k| k.shipment == Some((d.id, dl.line_no)))) {
            saved.invoiced += c.quantity;
        }
        store::save_shipment_line(&tx, d.id, &saved).await?;
    }
    for (o, ols) in &mut orders {
        for ol in ols.iter() {
            let mut saved = ol.clone();
            for c in
                credit.iter().filter(|c| c.link.is_some_and(|k| k.order_id == o.id && k.order_line_no == ol.line_no))
            {
                saved.invoiced += c.quantity;
            }
            store::save_order_line(&tx, o.id, &saved).await?;
        }
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "sales_return.create",
            "sales_return",
            Some(id.to_string()),
            None,
            Some(shipment_json(&s, &rlines)),
        ),
    )
    .await?;
    let mut note = None;
    if !credit.is_empty() {
        // Settle against the invoice when a single posted invoice billed this delivery.
        let billed = invoices_billing_shipment(&tx, d.id).await?;
        let of = match billed.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let order = orders[0].0.clone();
        let (inv, _, _) = issue(
            &tx,
            ctx,
            d.party_id,
            &order,
            input.date,
            input.exchange_rate,
            None,
            of,
            format!("Return {} of {}", s.number, d.number),
            credit,
            ("sales_return".into(), s.number.clone()),
            now,
        )
        .await?;
        note = Some(inv);
    } else {
        for (o, _) in &mut orders {
            save_header(&tx, o, now).await?;
        }
    }
    tx.commit().await?;
    Ok((s, rlines, note))
}

/// Posted sales invoices (not credit notes) with lines billing a shipment.
async fn invoices_billing_shipment(tx: &TenantTx<'_>, shipment: Uuid) -> AppResult<Vec<Uuid>> {
    let order_ids: Vec<Uuid> = store::get_shipments(tx, &[shipment])
        .await?
        .into_iter()
        .flat_map(|(_, ls)| ls.into_iter().map(|l| l.order_id))
        .collect();
    let mut out = Vec::new();
    for o in order_ids {
        for id in store::invoices_of_order(tx, o).await? {
            if out.contains(&id) {
                continue;
            }
            if let Some((inv, lines)) = parties::get_invoice(tx, Side::Receivable, id).await?
                && !inv.is_credit_note
                && inv.status == InvoiceStatus::Posted
                && lines.iter().any(|l| l.link.is_some_and(|k| k.shipment.map(|s| s.0) == Some(shipment)))
            {
                out.push(id);
            }
        }
    }
    Ok(out)
}
