//! What sales and purchasing share: the trade settings, price lists, and orders (sales orders,
//! quotations and purchase orders) from input to priced lines, with the bookkeeping of what was
//! billed against them. The flows of each side are in `sales` and `purchasing`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::ledger::currency_and_rate;
use super::{AppState, Change, Ctx, record};
use crate::domain::ids::TenantId;
use crate::domain::ledger::minor_unit_digits;
use crate::domain::receivables::{self as ar, Side};
use crate::domain::stock::is_stocked;
use crate::domain::tax::{self, LineIn};
use crate::domain::trade::{self as rules, Buyer, LineProgress, PriceBreak, TradeSide};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::ledger as books;
use crate::store::receivables::{self as parties, Allocation, Invoice, InvoiceLine, InvoiceStatus, Party, TaxCode};
use crate::store::stock::{self as stock_store, Item};
use crate::store::trade::{
    self as store, Order, OrderFilter, OrderLine, PriceList, Shipment, ShipmentFilter, ShipmentLine, TradeSettings,
};
use crate::store::{Access, Page, TenantTx, tenants};

pub const ORDER_LINES_MAX: usize = 200;
pub const PRICE_BREAKS_MAX: usize = 2000;

pub(crate) fn qty(d: Decimal) -> String {
    d.normalize().to_string()
}

pub(crate) fn side_entity(side: TradeSide, kind: &str) -> &'static str {
    match (side, kind) {
        (TradeSide::Sales, "quotation") => "quotation",
        (TradeSide::Sales, _) => "sales order",
        (TradeSide::Purchase, _) => "purchase order",
    }
}

fn audit_name(side: TradeSide, kind: &str) -> &'static str {
    match (side, kind) {
        (TradeSide::Sales, "quotation") => "quotation",
        (TradeSide::Sales, _) => "sales_order",
        (TradeSide::Purchase, _) => "purchase_order",
    }
}

pub(crate) fn party_side(side: TradeSide) -> Side {
    side.invoice_side()
}

// ================================================================ settings

pub async fn settings(app: &AppState, tenant: TenantId) -> AppResult<TradeSettings> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = store::settings(&tx).await?;
    tx.commit().await?;
    Ok(s)
}

pub struct SettingsInput {
    pub overdue_block_days: Option<i32>,
    pub over_receipt_tolerance: Decimal,
    pub price_tolerance: Decimal,
    pub quantity_tolerance: Decimal,
}

fn settings_json(s: &TradeSettings) -> serde_json::Value {
    serde_json::json!({
        "overdue_block_days": s.overdue_block_days,
        "over_receipt_tolerance": s.over_receipt_tolerance.to_string(),
        "price_tolerance": s.price_tolerance.to_string(),
        "quantity_tolerance": s.quantity_tolerance.to_string(),
    })
}

pub async fn put_settings(app: &AppState, ctx: &Ctx, if_match: i64, input: SettingsInput) -> AppResult<TradeSettings> {
    let mut f = Fields::new();
    if input.overdue_block_days.is_some_and(|d| !(0..=3650).contains(&d)) {
        f.push("overdue_block_days", "must be between 0 and 3650");
    }
    for (name, v) in [
        ("over_receipt_tolerance", input.over_receipt_tolerance),
        ("price_tolerance", input.price_tolerance),
        ("quantity_tolerance", input.quantity_tolerance),
    ] {
        if v < Decimal::ZERO || v > Decimal::ONE {
            f.push(name, "must be between 0 and 1 (0.05 is 5 %)");
        }
    }
    f.finish()?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::settings(&tx).await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "trade settings", current: before.version });
    }
    let after = TradeSettings {
        overdue_block_days: input.overdue_block_days,
        over_receipt_tolerance: input.over_receipt_tolerance,
        price_tolerance: input.price_tolerance,
        quantity_tolerance: input.quantity_tolerance,
        updated_at: now,
        version: before.version + 1,
    };
    if !store::save_settings(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "trade settings", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "trade_settings.update",
            "trade_settings",
            None,
            Some(settings_json(&before)),
            Some(settings_json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ================================================================ price lists

pub struct PriceListInput {
    pub side: TradeSide,
    pub code: String,
    pub name: String,
    pub currency: Option<String>,
    pub tax_inclusive: bool,
    pub party_group: Option<String>,
    pub party_id: Option<Uuid>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub is_active: bool,
    pub items: Vec<PriceBreak>,
}

fn price_list_json(l: &PriceList) -> serde_json::Value {
    serde_json::json!({
        "side": l.side.as_str(), "code": l.code, "name": l.name, "currency": l.currency,
        "tax_inclusive": l.tax_inclusive, "party_group": l.party_group, "party_id": l.party_id,
        "valid_from": l.valid_from, "valid_to": l.valid_to, "is_active": l.is_active, "items": l.items.len(),
    })
}

async fn build_price_list(
    tx: &TenantTx<'_>,
    input: PriceListInput,
    id: Uuid,
    now: DateTime<Utc>,
) -> AppResult<PriceList> {
    let mut f = Fields::new();
    let code = f.check("code", validate::name(&input.code, 40)).unwrap_or_default();
    let name = f.check("name", validate::name(&input.name, 200)).unwrap_or_default();
    let base = tenants::current(tx).await?.base_currency;
    let currency = f.check("currency", validate::currency(input.currency.as_deref().unwrap_or(&base))).unwrap_or(base);
    if let (Some(a), Some(b)) = (input.valid_from, input.valid_to)
        && b < a
    {
        f.push("valid_to", "must not be before valid_from");
    }
    if input.party_id.is_some() && input.party_group.is_some() {
        f.push("party_group", "a list is for one party or for a group, not both");
    }
    if let Some(p) = input.party_id
        && parties::get_party(tx, party_side(input.side), p).await?.is_none()
    {
        f.push("party_id", format!("no such {}", if input.side == TradeSide::Sales { "customer" } else { "supplier" }));
    }
    let group = input.party_group.map(|g| g.trim().to_owned()).filter(|g| !g.is_empty());
    if input.items.len() > PRICE_BREAKS_MAX {
        f.push("items", format!("a price list has at most {PRICE_BREAKS_MAX} entries"));
    }
    let item_ids: Vec<Uuid> = input.items.iter().map(|b| b.item_id).collect();
    let items = stock_store::get_items(tx, &item_ids).await?;
    let mut seen: Vec<(Uuid, Decimal)> = Vec::new();
    for (i, b) in input.items.iter().enumerate() {
        let at = |x: &str| format!("items[{i}].{x}");
        if !items.contains_key(&b.item_id) {
            f.push(at("item_id"), "no such item");
        }
        if b.min_quantity < Decimal::ZERO {
            f.push(at("min_quantity"), "must not be negative");
        }
        if b.unit_price < Decimal::ZERO {
            f.push(at("unit_price"), "must not be negative");
        }
        if b.discount_percent < Decimal::ZERO || b.discount_percent > Decimal::ONE {
            f.push(at("discount_percent"), "must be between 0 and 1 (0.05 is 5 %)");
        }
        if b.lead_time_days.is_some_and(|d| !(0..=3650).contains(&d)) {
            f.push(at("lead_time_days"), "must be between 0 and 3650");
        }
        if b.min_order_quantity.is_some_and(|q| q <= Decimal::ZERO) {
            f.push(at("min_order_quantity"), "must be positive");
        }
        if input.side == TradeSide::Sales && (b.lead_time_days.is_some() || b.min_order_quantity.is_some()) {
            f.push(at("lead_time_days"), "lead times and minimum order quantities are for supplier price lists");
        }
        if seen.contains(&(b.item_id, b.min_quantity)) {
            f.push(at("min_quantity"), "the list already has a break at this quantity for this item");
        }
        seen.push((b.item_id, b.min_quantity));
    }
    f.finish()?;
    Ok(PriceList {
        id,
        side: input.side,
        code,
        name,
        currency,
        tax_inclusive: input.tax_inclusive,
        party_group: group,
        party_id: input.party_id,
        valid_from: input.valid_from,
        valid_to: input.valid_to,
        is_active: input.is_active,
        created_at: now,
        updated_at: now,
        version: 1,
        items: input.items,
    })
}

pub async fn create_price_list(app: &AppState, ctx: &Ctx, input: PriceListInput) -> AppResult<PriceList> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let l = build_price_list(&tx, input, Uuid::now_v7(), now).await?;
    store::insert_price_list(&tx, &l).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("price_list.create", "price_list", Some(l.id.to_string()), None, Some(price_list_json(&l))),
    )
    .await?;
    tx.commit().await?;
    Ok(l)
}

/// Replaces a price list (its entries too).
pub async fn replace_price_list(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    input: PriceListInput,
) -> AppResult<PriceList> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::get_price_list(&tx, id).await?.ok_or(AppError::NotFound { entity: "price list" })?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "price list", current: before.version });
    }
    if input.side != before.side {
        return Err(AppError::field("side", "cannot change; make a new list"));
    }
    let mut after = build_price_list(&tx, input, id, now).await?;
    after.created_at = before.created_at;
    after.version = before.version + 1;
    if !store::save_price_list(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "price list", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "price_list.update",
            "price_list",
            Some(id.to_string()),
            Some(price_list_json(&before)),
            Some(price_list_json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn get_price_list(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<PriceList> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::get_price_list(&tx, id).await?.ok_or(AppError::NotFound { entity: "price list" })?;
    tx.commit().await?;
    Ok(l)
}

pub async fn list_price_lists(
    app: &AppState,
    tenant: TenantId,
    side: Option<TradeSide>,
    page: &Page,
) -> AppResult<Vec<PriceList>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::list_price_lists(&tx, side, page).await?;
    tx.commit().await?;
    Ok(l)
}

/// The price a party would get for a quantity of an item on a date, and why.
#[allow(clippy::too_many_arguments)]
pub async fn quote_price(
    app: &AppState,
    tenant: TenantId,
    side: TradeSide,
    party_id: Uuid,
    item_id: Uuid,
    quantity: Decimal,
    date: NaiveDate,
    currency: Option<String>,
) -> AppResult<rules::ListPrice> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let party = parties::get_party(&tx, party_side(side), party_id)
        .await?
        .ok_or_else(|| AppError::field("party_id", "no such party"))?;
    let base = tenants::current(&tx).await?.base_currency;
    let currency = currency.or(party.currency.clone()).unwrap_or(base);
    let lists: Vec<_> = store::price_lists_for(&tx, side, &[item_id]).await?.iter().map(PriceList::terms).collect();
    tx.commit().await?;
    let buyer = Buyer { party_id, party_group: party.group.as_deref(), default_list: party.price_list_id };
    rules::best_price(&lists, &buyer, item_id, quantity, date, &currency)
        .ok_or(AppError::NotFound { entity: "price for this party, item, quantity, date and currency" })
}

// ================================================================ orders

#[derive(Clone, Debug)]
pub struct OrderLineInput {
    pub item_id: Uuid,
    pub description: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub quantity: Decimal,
    /// None: from the price lists.
    pub unit_price: Option<Decimal>,
    /// None: the list's discount, if any.
    pub discount_percent: Option<Decimal>,
    pub discount_amount: Option<Decimal>,
    pub tax_code_id: Option<Uuid>,
    pub expected_date: Option<NaiveDate>,
    /// The purchase request the line comes from.
    pub request_id: Option<Uuid>,
    /// Set by the caller (e.g. why a supplier was chosen); otherwise the pricing rule.
    pub price_rule: Option<String>,
}

#[derive(Clone, Debug)]
pub struct OrderInput {
    pub party_id: Uuid,
    pub kind: String,
    pub order_date: NaiveDate,
    pub expected_date: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub currency: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub tax_inclusive: Option<bool>,
    pub discount_percent: Option<Decimal>,
    pub warehouse_id: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<OrderLineInput>,
}

pub(crate) fn order_json(o: &Order, lines: &[OrderLine]) -> serde_json::Value {
    serde_json::json!({
        "number": o.number, "kind": o.kind, "status": o.status, "party_id": o.party_id,
        "order_date": o.order_date, "currency": o.currency, "gross_total": o.gross_total.to_string(),
        "discount_percent": o.discount_percent.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({
            "item_id": l.item_id, "quantity": l.quantity.to_string(), "unit_price": l.unit_price.to_string(),
            "discount": l.discount.to_string(), "gross": l.gross.to_string(), "price_rule": l.price_rule,
            "shipped": l.shipped.to_string(), "returned": l.returned.to_string(), "invoiced": l.invoiced.to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// Validates an order input against the party, items, warehouses, price lists and tax codes,
/// and prices and totals its lines. Everything wrong is reported at once.
#[allow(clippy::too_many_arguments)]
async fn build_order(
    app: &AppState,
    tx: &TenantTx<'_>,
    side: TradeSide,
    input: OrderInput,
    id: Uuid,
    number: String,
    now: DateTime<Utc>,
    created_by: Option<Uuid>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let mut f = Fields::new();
    let party_word = if side == TradeSide::Sales { "customer" } else { "supplier" };
    let party = parties::get_party(tx, party_side(side), input.party_id)
        .await?
        .ok_or_else(|| AppError::field("party_id", format!("no such {party_word}")))?;
    if !party.is_active {
        f.push("party_id", format!("{party_word} {} is inactive", party.code));
    }
    if !(input.kind == "order" || (input.kind == "quotation" && side == TradeSide::Sales)) {
        f.push("kind", if side == TradeSide::Sales { "must be order or quotation" } else { "must be order" });
    }
    let (currency, rate, _base) =
        currency_and_rate(tx, input.currency.clone().or(party.currency.clone()), input.exchange_rate, input.order_date)
            .await?;
    let digits = minor_unit_digits(&currency);
    let base_digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    if input.lines.is_empty() {
        f.push("lines", "an order needs at least one line");
    }
    if input.lines.len() > ORDER_LINES_MAX {
        f.push("lines", format!("an order has at most {ORDER_LINES_MAX} lines"));
    }
    let doc_pct = input.discount_percent.unwrap_or_default();
    if doc_pct < Decimal::ZERO || doc_pct >= Decimal::ONE {
        f.push("discount_percent", "must be at least 0 and below 1 (0.05 is 5 %)");
    }
    if input.expected_date.is_some_and(|d| d < input.order_date) {
        f.push("expected_date", "must not be before order_date");
    }
    if input.valid_until.is_some_and(|d| d < input.order_date) {
        f.push("valid_until", "must not be before order_date");
    }
    if input.valid_until.is_some() && input.kind != "quotation" {
        f.push("valid_until", "only quotations have a validity date");
    }
    let memo = input.memo.unwrap_or_default().trim().to_owned();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    let reference = input.reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        f.push("reference", "must be at most 100 characters");
    }
    let item_ids: Vec<Uuid> = input.lines.iter().map(|l| l.item_id).collect();
    let items: HashMap<Uuid, Item> = stock_store::get_items(tx, &item_ids).await?;
    let mut wh_ids: Vec<Uuid> = input.lines.iter().filter_map(|l| l.warehouse_id).collect();
    wh_ids.extend(input.warehouse_id);
    wh_ids.extend(items.values().filter_map(|i| i.default_warehouse_id));
    let mut warehouses = HashMap::new();
    for w in wh_ids {
        if let std::collections::hash_map::Entry::Vacant(e) = warehouses.entry(w)
            && let Some(found) = stock_store::get_warehouse(tx, w).await?
        {
            e.insert(found);
        }
    }
    if let Some(w) = input.warehouse_id {
        match warehouses.get(&w) {
            None => f.push("warehouse_id", "no such warehouse"),
            Some(x) if !x.is_active => f.push("warehouse_id", format!("warehouse {} is inactive", x.code)),
            Some(_) => {}
        }
    }
    let lists: Vec<_> = store::price_lists_for(tx, side, &item_ids).await?.iter().map(PriceList::terms).collect();
    let list_inclusive = party.price_list_id.and_then(|id| lists.iter().find(|l| l.id == id)).map(|l| l.tax_inclusive);
    let settings = books::settings(tx).await?;
    let inclusive = input.tax_inclusive.or(list_inclusive).unwrap_or(settings.prices_include_tax);
    let codes: HashMap<Uuid, TaxCode> = parties::tax_codes(tx).await?.into_iter().map(|t| (t.id, t)).collect();
    let buyer = Buyer { party_id: party.id, party_group: party.group.as_deref(), default_list: party.price_list_id };
    // Lines priced from the lists (no price or discount by hand) go past the tenant's price
    // calculators (plugins) first.
    let mut eligible: Vec<usize> = Vec::new();
    let mut asks: Vec<super::plugins::PriceLine> = Vec::new();
    for (i, l) in input.lines.iter().enumerate() {
        if l.unit_price.is_some() || l.discount_percent.is_some() || l.quantity <= Decimal::ZERO {
            continue;
        }
        let Some(item) = items.get(&l.item_id) else { continue };
        let Some(found) = rules::best_price(&lists, &buyer, item.id, l.quantity, input.order_date, &currency) else {
            continue;
        };
        let rate = l.tax_code_id.and_then(|t| codes.get(&t)).map_or(Decimal::ZERO, |c| c.rate);
        eligible.push(i);
        asks.push(super::plugins::PriceLine {
            item_id: item.id,
            sku: item.sku.clone(),
            quantity: l.quantity,
            base_price: rules::convert_price(found.unit_price, found.tax_inclusive, inclusive, rate),
        });
    }
    let priced = super::plugins::price_lines(app, tx, side, &party, &currency, input.order_date, &asks).await?;
    let calculated: HashMap<usize, super::plugins::Priced> =
        eligible.into_iter().zip(priced).filter(|(_, p)| !p.notes.is_empty()).collect();
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut tax_in = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let at = |x: &str| format!("lines[{i}].{x}");
        let Some(item) = items.get(&l.item_id) else {
            f.push(at("item_id"), "no such item");
            continue;
        };
        if !item.is_active {
            f.push(at("item_id"), format!("item {} is inactive", item.sku));
        }
        if side == TradeSide::Purchase && !is_stocked(&item.item_type) {
            f.push(
                at("item_id"),
                format!(
                    "{} is a service: purchase orders are for goods; book services on a supplier invoice",
                    item.sku
                ),
            );
        }
        if l.quantity <= Decimal::ZERO {
            f.push(at("quantity"), "must be positive");
        } else if l.quantity.normalize().scale() > 4 {
            f.push(at("quantity"), "has more than 4 decimal places");
        }
        let warehouse_id = l.warehouse_id.or(input.warehouse_id).or(item.default_warehouse_id);
        if is_stocked(&item.item_type) {
            match warehouse_id.map(|w| (w, warehouses.get(&w))) {
                None => f.push(
                    at("warehouse_id"),
                    format!("is required: item {} is stocked and has no default warehouse", item.sku),
                ),
                Some((_, None)) => f.push(at("warehouse_id"), "no such warehouse"),
                Some((_, Some(w))) if !w.is_active => {
                    f.push(at("warehouse_id"), format!("warehouse {} is inactive", w.code))
                }
                _ => {}
            }
        }
        let rate_of_code = match l.tax_code_id {
            None => Decimal::ZERO,
            Some(t) => match codes.get(&t) {
                None => {
                    f.push(at("tax_code_id"), "no such tax code");
                    Decimal::ZERO
                }
                Some(c) if !c.is_active => {
                    f.push(at("tax_code_id"), format!("tax code {} is inactive", c.code));
                    c.rate
                }
                Some(c) => c.rate,
            },
        };
        let found = rules::best_price(&lists, &buyer, item.id, l.quantity, input.order_date, &currency);
        let listed = found.as_ref().map(|p| {
            (rules::convert_price(p.unit_price, p.tax_inclusive, inclusive, rate_of_code), p.discount_percent)
        });
        let (unit_price, list_price, mut rule) = match (l.unit_price, &found, listed) {
            (Some(p), Some(found), Some((lp, _))) if p != lp => {
                (p, Some(lp), format!("entered by hand ({} gives {})", found.explanation, lp.normalize()))
            }
            (Some(p), Some(found), _) => (p, None, found.explanation.clone()),
            (Some(p), None, _) => (p, None, "entered by hand (no price list applies)".to_owned()),
            (None, Some(found), Some((lp, _))) => (lp, None, found.explanation.clone()),
            _ => {
                f.push(
                    at("unit_price"),
                    format!(
                        "no {} price list gives a price for {} on {} in {currency}; give unit_price",
                        side.as_str(),
                        item.sku,
                        input.order_date
                    ),
                );
                (Decimal::ZERO, None, String::new())
            }
        };
        if let Some(r) = &l.price_rule {
            rule = format!("{r}; {rule}");
        }
        let calc = calculated.get(&i);
        let unit_price = calc.map_or(unit_price, |c| c.unit_price);
        for note in calc.map(|c| c.notes.as_slice()).unwrap_or_default() {
            rule.push_str(&format!("; {note}"));
        }
        let calc_pct = calc.and_then(|c| c.discount_percent);
        if unit_price < Decimal::ZERO {
            f.push(at("unit_price"), "must not be negative");
        }
        if unit_price.normalize().scale() > 4 {
            f.push(at("unit_price"), "has more than 4 decimal places");
        }
        let pct = l.discount_percent.or(calc_pct).or(listed.map(|x| x.1)).unwrap_or_default();
        if pct < Decimal::ZERO || pct > Decimal::ONE {
            f.push(at("discount_percent"), "must be between 0 and 1 (0.05 is 5 %)");
        }
        let amount = l.discount_amount.unwrap_or_default();
        if amount < Decimal::ZERO {
            f.push(at("discount_amount"), "must not be negative");
        }
        if amount.normalize().scale() > digits {
            f.push(at("discount_amount"), format!("has more decimals than {currency} allows"));
        }
        let discount = match rules::line_discount(l.quantity, unit_price, pct, amount, doc_pct, digits) {
            Ok(d) => d,
            Err(m) => {
                f.push(at("discount_amount"), m);
                Decimal::ZERO
            }
        };
        if !discount.is_zero() && !pct.is_zero() && l.discount_percent.is_none() && calc_pct.is_none() {
            rule.push_str(&format!("; list discount {}%", (pct * Decimal::ONE_HUNDRED).normalize()));
        }
        let description = l.description.clone().map(|d| d.trim().to_owned()).unwrap_or_else(|| item.name.clone());
        if description.chars().count() > 500 {
            f.push(at("description"), "must be at most 500 characters");
        }
        if l.expected_date.is_some_and(|d| d < input.order_date) {
            f.push(at("expected_date"), "must not be before order_date");
        }
        tax_in.push(LineIn { quantity: l.quantity, unit_price, discount, tax_code: l.tax_code_id, rate: rate_of_code });
        lines.push(OrderLine {
            line_no: i32::try_from(i + 1).map_err(AppError::internal)?,
            item_id: item.id,
            description,
            warehouse_id: if is_stocked(&item.item_type) { warehouse_id } else { None },
            quantity: l.quantity,
            unit_price,
            list_price,
            discount_percent: pct,
            discount_amount: amount,
            discount,
            tax_code_id: l.tax_code_id,
            net: Decimal::ZERO,
            tax: Decimal::ZERO,
            gross: Decimal::ZERO,
            price_rule: rule,
            expected_date: l.expected_date.or(input.expected_date),
            shipped: Decimal::ZERO,
            returned: Decimal::ZERO,
            invoiced: Decimal::ZERO,
            cost: Decimal::ZERO,
            reservation_id: None,
            request_id: l.request_id,
        });
    }
    f.finish()?;
    let totals = tax::compute(&tax_in, inclusive, settings.tax_rounding, digits);
    for (l, t) in lines.iter_mut().zip(totals.lines.iter()) {
        l.net = t.net;
        l.tax = t.tax;
        l.gross = t.gross;
    }
    if totals.gross < Decimal::ZERO {
        return Err(AppError::field("lines", "the order total must not be negative"));
    }
    let gross_base = ar::to_base(totals.gross, rate, base_digits);
    Ok((
        Order {
            id,
            side,
            kind: input.kind,
            number,
            party_id: party.id,
            status: "draft".into(),
            order_date: input.order_date,
            expected_date: input.expected_date,
            valid_until: input.valid_until,
            currency,
            exchange_rate: rate,
            tax_inclusive: inclusive,
            discount_percent: doc_pct,
            warehouse_id: input.warehouse_id,
            net_total: totals.net,
            tax_total: totals.tax,
            gross_total: totals.gross,
            gross_base,
            invoiced_gross: Decimal::ZERO,
            open_base: Decimal::ZERO,
            source_id: None,
            converted_to: None,
            reference,
            memo,
            reason: None,
            confirmed_by: None,
            confirmed_at: None,
            created_by,
            created_at: now,
            updated_at: now,
            version: 1,
        },
        lines,
    ))
}

fn prefix(side: TradeSide, kind: &str) -> (&'static str, &'static str) {
    match (side, kind) {
        (TradeSide::Sales, "quotation") => ("quotation", "SQ"),
        (TradeSide::Sales, _) => ("sales_order", "SO"),
        (TradeSide::Purchase, _) => ("purchase_order", "PO"),
    }
}

/// Creates an order (or quotation) as a draft in the caller's transaction.
pub(crate) async fn create_order_in(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    side: TradeSide,
    input: OrderInput,
    source_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let kind = input.kind.clone();
    // Validate before taking a number, so that bad input leaves no gap.
    let (mut o, lines) =
        build_order(app, tx, side, input, Uuid::now_v7(), String::new(), now, Some(ctx.principal.actor_uuid())).await?;
    let (key, pfx) = prefix(side, &kind);
    o.number = super::receivables::next_number(tx, key, pfx).await?;
    o.source_id = source_id;
    store::insert_order(tx, &o, &lines).await?;
    let name = audit_name(side, &o.kind);
    record(
        tx,
        ctx,
        now,
        Change::new(&format!("{name}.create"), name, Some(o.id.to_string()), None, Some(order_json(&o, &lines))),
    )
    .await?;
    Ok((o, lines))
}

pub async fn create_order(
    app: &AppState,
    ctx: &Ctx,
    side: TradeSide,
    input: OrderInput,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let out = create_order_in(app, &tx, ctx, side, input, None, now).await?;
    tx.commit().await?;
    Ok(out)
}

pub(crate) fn not_editable(o: &Order, action: &'static str) -> AppError {
    AppError::InvalidState { entity: side_entity(o.side, &o.kind), state: format!("{} {}", o.number, o.status), action }
}

pub(crate) async fn load_order(
    tx: &TenantTx<'_>,
    side: TradeSide,
    id: Uuid,
    lock: bool,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let found = store::orders_with_lines(tx, &[id], lock).await?.into_iter().next();
    match found {
        Some((o, l)) if o.side == side => Ok((o, l)),
        _ => Err(AppError::NotFound {
            entity: if side == TradeSide::Sales { "sales order or quotation" } else { "purchase order" },
        }),
    }
}

/// Edits a draft (its lines are replaced and priced again).
pub async fn update_order(
    app: &AppState,
    ctx: &Ctx,
    side: TradeSide,
    id: Uuid,
    if_match: i64,
    input: OrderInput,
) -> AppResult<(Order, Vec<OrderLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (before, before_lines) = load_order(&tx, side, id, true).await?;
    if before.status != "draft" && !(before.kind == "quotation" && before.status == "sent") {
        return Err(not_editable(&before, "edited (its lines are fixed once confirmed; cancel or close it instead)"));
    }
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: side_entity(side, &before.kind), current: before.version });
    }
    if input.kind != before.kind {
        return Err(AppError::field("kind", format!("is {}; it cannot change", before.kind)));
    }
    if before_lines.iter().any(|l| l.request_id.is_some()) {
        return Err(not_editable(
            &before,
            "edited: it was made from purchase requests (cancel it and order the requests again)",
        ));
    }
    let (mut after, lines) =
        build_order(app, &tx, side, input, id, before.number.clone(), now, before.created_by).await?;
    after.created_at = before.created_at;
    after.source_id = before.source_id;
    after.status = before.status.clone();
    after.version = before.version + 1;
    if !store::save_order(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: side_entity(side, &before.kind), current: before.version });
    }
    store::replace_order_lines(&tx, id, &lines).await?;
    let name = audit_name(side, &after.kind);
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{name}.update"),
            name,
            Some(id.to_string()),
            Some(order_json(&before, &before_lines)),
            Some(order_json(&after, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((after, lines))
}

pub async fn delete_order(app: &AppState, ctx: &Ctx, side: TradeSide, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (o, lines) = load_order(&tx, side, id, true).await?;
    if o.status != "draft" {
        return Err(not_editable(&o, "deleted (cancel it instead)"));
    }
    if lines.iter().any(|l| l.request_id.is_some()) {
        return Err(not_editable(&o, "deleted: it was made from purchase requests (cancel it instead)"));
    }
    store::delete_order(&tx, id).await?;
    // An order made from a quotation gives the quotation back, open again.
    if let Some(q) = o.source_id
        && let Some((mut quote, _)) = store::orders_with_lines(&tx, &[q], true).await?.into_iter().next()
        && quote.converted_to == Some(id)
    {
        quote.status = "sent".into();
        quote.converted_to = None;
        save_header(&tx, &mut quote, now).await?;
        super::crm::order_deleted(&tx, ctx, id, now).await?;
    }
    let name = audit_name(side, &o.kind);
    record(
        &tx,
        ctx,
        now,
        Change::new(&format!("{name}.delete"), name, Some(id.to_string()), Some(order_json(&o, &lines)), None),
    )
    .await?;
    tx.commit().await
}

pub async fn list_orders(
    app: &AppState,
    tenant: TenantId,
    side: TradeSide,
    f: &OrderFilter,
    page: &Page,
) -> AppResult<Vec<Order>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::list_orders(&tx, side, f, page).await?;
    tx.commit().await?;
    Ok(l)
}

/// Saves an order header after an action (version + 1), or reports it stale.
pub(crate) async fn save_header(tx: &TenantTx<'_>, o: &mut Order, now: DateTime<Utc>) -> AppResult<()> {
    o.updated_at = now;
    o.version += 1;
    if !store::save_order(tx, o).await? {
        return Err(AppError::StaleVersion { entity: side_entity(o.side, &o.kind), current: o.version - 1 });
    }
    Ok(())
}

/// The base value of a confirmed sales order not yet invoiced: its credit exposure.
pub(crate) fn open_base(o: &Order, lines: &[OrderLine], base_digits: u32) -> Decimal {
    if o.status != "confirmed" || o.side != TradeSide::Sales || o.gross_total.is_zero() {
        return Decimal::ZERO;
    }
    // What is still to bill per line: ordered (or more, if more shipped), less what came back
    // and what was billed. Returned goods are never billed again.
    let left: Decimal = lines
        .iter()
        .filter(|l| !l.quantity.is_zero())
        .map(|l| {
            let to_bill = (l.quantity.max(l.shipped) - l.returned - l.invoiced).max(Decimal::ZERO);
            l.gross * to_bill / l.quantity
        })
        .sum();
    tax::round(o.gross_base * left / o.gross_total, base_digits).min(o.gross_base)
}

/// A shipment as the audit trail records it.
pub(crate) fn shipment_json(s: &Shipment, lines: &[ShipmentLine]) -> serde_json::Value {
    serde_json::json!({
        "number": s.number, "kind": s.kind, "party_id": s.party_id, "ship_date": s.ship_date,
        "return_of": s.return_of, "value": s.value.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({
            "order_id": l.order_id, "order_line_no": l.order_line_no, "item_id": l.item_id,
            "warehouse_id": l.warehouse_id, "quantity": l.quantity.to_string(), "value": l.value.to_string(),
        })).collect::<Vec<_>>(),
    })
}

// ================================================================ billing bookkeeping

/// Records that invoice lines billed (or, for a credit note, credited) order and shipment
/// lines: the invoiced quantities and the order's invoiced gross move. `sign` is 1 when the
/// document takes effect and -1 when it is cancelled.
pub(crate) async fn book_billing(
    tx: &TenantTx<'_>,
    inv: &Invoice,
    lines: &[InvoiceLine],
    sign: Decimal,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let direction = if inv.is_credit_note { -sign } else { sign };
    let order_ids: Vec<Uuid> = lines.iter().filter_map(|l| l.link.map(|k| k.order_id)).collect();
    if order_ids.is_empty() {
        return Ok(());
    }
    let base_digits = minor_unit_digits(&tenants::current(tx).await?.base_currency);
    let mut orders = store::orders_with_lines(tx, &order_ids, true).await?;
    let shipment_ids: Vec<Uuid> = lines.iter().filter_map(|l| l.link.and_then(|k| k.shipment.map(|s| s.0))).collect();
    let mut shipments = store::get_shipments(tx, &shipment_ids).await?;
    for l in lines {
        let Some(link) = l.link else { continue };
        let Some((o, ols)) = orders.iter_mut().find(|(o, _)| o.id == link.order_id) else {
            return Err(AppError::internal("billed order missing"));
        };
        if let Some(ol) = ols.iter_mut().find(|x| x.line_no == link.order_line_no) {
            ol.invoiced += direction * l.quantity;
        }
        o.invoiced_gross += direction * l.gross;
        if let Some((sid, sline)) = link.shipment
            && let Some((_, slines)) = shipments.iter_mut().find(|(s, _)| s.id == sid)
            && let Some(sl) = slines.iter_mut().find(|x| x.line_no == sline)
        {
            sl.invoiced += direction * l.quantity;
        }
    }
    for (o, ols) in &mut orders {
        let touched: Vec<&OrderLine> = ols
            .iter()
            .filter(|ol| {
                lines.iter().any(|l| l.link.is_some_and(|k| k.order_id == o.id && k.order_line_no == ol.line_no))
            })
            .collect();
        store::save_order_lines(tx, o.id, &touched).await?;
        o.open_base = open_base(o, ols, base_digits);
        save_header(tx, o, now).await?;
    }
    for (s, slines) in &shipments {
        store::save_shipment_lines(tx, s.id, slines).await?;
    }
    Ok(())
}

/// A cancelled invoice's lines are open to bill again.
pub(crate) async fn unbill_in(
    tx: &TenantTx<'_>,
    inv: &Invoice,
    lines: &[InvoiceLine],
    now: DateTime<Utc>,
) -> AppResult<()> {
    book_billing(tx, inv, lines, -Decimal::ONE, now).await
}

/// The party of an order side, checked active.
pub(crate) async fn active_party(tx: &TenantTx<'_>, side: TradeSide, id: Uuid) -> AppResult<Party> {
    let p = parties::get_party(tx, party_side(side), id)
        .await?
        .ok_or(AppError::NotFound { entity: if side == TradeSide::Sales { "customer" } else { "supplier" } })?;
    if !p.is_active {
        return Err(AppError::Conflict(format!(
            "{} {} is inactive",
            if side == TradeSide::Sales { "customer" } else { "supplier" },
            p.code
        )));
    }
    Ok(p)
}

// ================================================================ stock documents of shipments

/// The stock document a delivery, receipt or return posts its movements under (the stock
/// ledger names its document): same id as the shipment, posted, numbered after posting.
pub(crate) async fn open_stock_document(
    tx: &TenantTx<'_>,
    id: Uuid,
    kind: &str,
    date: NaiveDate,
    memo: &str,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<stock_store::StockDocument> {
    let d = stock_store::StockDocument {
        id,
        kind: kind.to_owned(),
        number: None,
        status: "posted".into(),
        doc_date: date,
        warehouse_id: None,
        to_warehouse_id: None,
        purpose: None,
        reason: None,
        memo: memo.to_owned(),
        basis: None,
        counter_account_id: None,
        shipped_date: None,
        received_date: None,
        frozen_at: None,
        source_type: Some(kind.to_owned()),
        source_id: Some(id.to_string()),
        journal_entry_id: None,
        created_by,
        posted_at: Some(now),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    stock_store::insert_document(tx, &d, &[]).await?;
    Ok(d)
}

/// Gives the shipment's stock document the number and first journal entry of its posting.
pub(crate) async fn close_stock_document(
    tx: &TenantTx<'_>,
    mut d: stock_store::StockDocument,
    posted: &super::stock_posting::Posted,
) -> AppResult<()> {
    d.number = posted.number.clone();
    d.journal_entry_id = posted.journal_entry_ids.first().copied();
    d.version += 1;
    if !stock_store::save_document(tx, &d).await? {
        return Err(AppError::internal("shipment stock document changed under its posting"));
    }
    Ok(())
}

// ================================================================ reading (both sides)

pub async fn get_shipment(
    app: &AppState,
    tenant: TenantId,
    side: TradeSide,
    id: Uuid,
) -> AppResult<(Shipment, Vec<ShipmentLine>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = store::get_shipments(&tx, &[id]).await?.into_iter().next().filter(|(s, _)| s.side == side);
    tx.commit().await?;
    s.ok_or(AppError::NotFound { entity: if side == TradeSide::Sales { "delivery" } else { "goods receipt" } })
}

pub async fn list_shipments(
    app: &AppState,
    tenant: TenantId,
    side: TradeSide,
    f: &ShipmentFilter,
    page: &Page,
) -> AppResult<Vec<Shipment>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let l = store::list_shipments(&tx, side, f, page).await?;
    tx.commit().await?;
    Ok(l)
}

/// An order with everything that happened to it.
pub struct OrderOverview {
    pub order: Order,
    pub lines: Vec<OrderLine>,
    /// draft | confirmed | partly_delivered | delivered | invoiced | paid | closed | cancelled
    /// (quotations: their own status).
    pub progress: String,
    pub delivery_status: &'static str,
    pub billing_status: &'static str,
    pub shipments: Vec<Shipment>,
    pub invoices: Vec<Invoice>,
    pub allocations: Vec<Allocation>,
    /// Base currency: revenue billed (net of credit notes), cost of goods issued (net of
    /// returns), and the difference.
    pub revenue: Decimal,
    pub cost: Decimal,
    pub margin: Decimal,
}

pub async fn overview(app: &AppState, tenant: TenantId, side: TradeSide, id: Uuid) -> AppResult<OrderOverview> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (order, lines) = load_order(&tx, side, id, false).await?;
    let items = stock_store::get_items(&tx, &lines.iter().map(|l| l.item_id).collect::<Vec<_>>()).await?;
    let shipments = store::shipments_of_order(&tx, id).await?.into_iter().map(|(s, _)| s).collect::<Vec<_>>();
    let invoice_side = side.invoice_side();
    let mut invoices = Vec::new();
    let mut revenue = Decimal::ZERO;
    let base_digits = minor_unit_digits(&tenants::current(&tx).await?.base_currency);
    for inv_id in store::invoices_of_order(&tx, id).await? {
        let Some((inv, ilines)) = parties::get_invoice(&tx, invoice_side, inv_id).await? else { continue };
        if inv.status == InvoiceStatus::Posted {
            let net: Decimal = ilines.iter().filter(|l| l.link.is_some_and(|k| k.order_id == id)).map(|l| l.net).sum();
            let base = ar::to_base(net, inv.exchange_rate, base_digits);
            revenue += if inv.is_credit_note { -base } else { base };
        }
        invoices.push(inv);
    }
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let allocations = parties::allocations_of_invoices(&tx, &ids).await?;
    tx.commit().await?;
    let cost: Decimal = lines.iter().map(|l| l.cost).sum();
    let progress_lines: Vec<LineProgress> = lines
        .iter()
        .map(|l| LineProgress {
            quantity: if order.status == "closed" { l.shipped.min(l.quantity) } else { l.quantity },
            ships: items.get(&l.item_id).is_some_and(|i| is_stocked(&i.item_type)),
            shipped: l.shipped,
            returned: l.returned,
            invoiced: l.invoiced,
        })
        .collect();
    let (delivery_status, billing_status) = rules::progress(&progress_lines);
    let paid = invoices
        .iter()
        .filter(|i| i.status == InvoiceStatus::Posted && !i.is_credit_note)
        .all(|i| i.open_amount.is_zero())
        && !invoices.is_empty();
    let progress = match order.status.as_str() {
        "confirmed" | "closed" if billing_status == "invoiced" && paid => "paid",
        "confirmed" if billing_status == "invoiced" => "invoiced",
        "confirmed" if delivery_status == "delivered" => "delivered",
        "confirmed" if delivery_status == "partly_delivered" => "partly_delivered",
        other => other,
    }
    .to_owned();
    Ok(OrderOverview {
        order,
        lines,
        progress,
        delivery_status,
        billing_status,
        shipments,
        invoices,
        allocations,
        revenue,
        cost,
        margin: revenue - cost,
    })
}
