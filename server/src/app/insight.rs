//! What a manager opens in the morning: sales this month against last, the products that
//! sell and earn most, and one sales order followed through everything it set moving.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::AppState;
use super::trade::{OrderOverview, load_order, overview};
use crate::domain::access::{Action, Module, Permission, PermissionSet};
use crate::domain::ids::TenantId;
use crate::domain::ledger::minor_unit_digits;
use crate::domain::receivables::{Side, to_base};
use crate::domain::subscription;
use crate::domain::trade::TradeSide;
use crate::error::{AppError, AppResult};
use crate::store::production::{self as production_store, OrderFilter, ProductionOrder};
use crate::store::receivables as parties;
use crate::store::stock::{self as stock_store, Item};
use crate::store::trade::{self as trade_store, Order, PurchaseRequest};
use crate::store::{Access, Page, insight, tenants};

/// Revenue (net of credit notes), cost of goods sold and margin over some dates, base currency.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub revenue: Decimal,
    pub cost: Decimal,
    pub invoices: usize,
}

impl Period {
    pub fn margin(&self) -> Decimal {
        self.revenue - self.cost
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProductFigures {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: Decimal,
    pub revenue: Decimal,
    pub cost: Decimal,
}

impl ProductFigures {
    pub fn margin(&self) -> Decimal {
        self.revenue - self.cost
    }
}

pub struct SalesSummary {
    pub as_of: NaiveDate,
    pub currency: String,
    pub this_month: Period,
    pub last_month: Period,
    /// Last month up to the same day of the month: the fair comparison early in a month.
    pub last_month_to_date: Period,
    /// Revenue per day of the month: (day, this month, last month).
    pub daily: Vec<(u32, Decimal, Decimal)>,
    pub top_by_revenue: Vec<ProductFigures>,
    pub top_by_margin: Vec<ProductFigures>,
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// Sales this month to `as_of` against last month, and this month's top five products by
/// revenue and by margin (revenue billed less the cost of what was delivered).
pub async fn sales_summary(app: &AppState, tenant: TenantId, as_of: Option<NaiveDate>) -> AppResult<SalesSummary> {
    let as_of = as_of.unwrap_or_else(|| app.now().date_naive());
    let this_from = first_of_month(as_of);
    let last_to = this_from.pred_opt().ok_or_else(|| AppError::field("as_of", "is too early a date"))?;
    let last_from = first_of_month(last_to);
    let last_to_date = last_from.with_day(as_of.day()).unwrap_or(last_to);
    let tx = app.store.begin(tenant, Access::Read).await?;
    let currency = tenants::current(&tx).await?.base_currency;
    let digits = minor_unit_digits(&currency);
    let lines = insight::sales_lines(&tx, last_from, as_of).await?;
    let cost_this = insight::cost_of_sales(&tx, this_from, as_of).await?;
    let cost_last = insight::cost_of_sales(&tx, last_from, last_to).await?;
    let cost_last_to_date = insight::cost_of_sales(&tx, last_from, last_to_date).await?;

    let mut daily: BTreeMap<u32, (Decimal, Decimal)> = BTreeMap::new();
    let mut per_item: HashMap<Uuid, (Decimal, Decimal)> = HashMap::new();
    let mut invoices: [HashSet<Uuid>; 3] = Default::default();
    let mut revenue = [Decimal::ZERO; 3];
    for l in &lines {
        let base = to_base(l.net, l.exchange_rate, digits);
        let signed = if l.credit_note { -base } else { base };
        let this = l.date >= this_from;
        let day = daily.entry(l.date.day()).or_default();
        if this {
            day.0 += signed;
            revenue[0] += signed;
            if let Some(item) = l.item_id {
                let e = per_item.entry(item).or_default();
                e.0 += if l.credit_note { -l.quantity } else { l.quantity };
                e.1 += signed;
            }
        } else {
            day.1 += signed;
            revenue[1] += signed;
            if l.date <= last_to_date {
                revenue[2] += signed;
            }
        }
        let slot = if this { 0 } else { 1 };
        if !l.credit_note {
            invoices[slot].insert(l.invoice_id);
            if !this && l.date <= last_to_date {
                invoices[2].insert(l.invoice_id);
            }
        }
    }
    let days = last_to.day().max(as_of.day());
    let daily = (1..=days)
        .map(|d| {
            let (this, last) = daily.get(&d).copied().unwrap_or_default();
            (d, this, last)
        })
        .collect();
    let sum = |m: &HashMap<Uuid, Decimal>| m.values().copied().sum::<Decimal>();
    let period = |from, to, revenue, cost, invoices: &HashSet<Uuid>| Period {
        from,
        to,
        revenue,
        cost,
        invoices: invoices.len(),
    };

    let ids: Vec<Uuid> = per_item.keys().copied().collect();
    let items = stock_store::get_items(&tx, &ids).await?;
    tx.commit().await?;
    let products: Vec<ProductFigures> = per_item
        .into_iter()
        .filter_map(|(id, (quantity, revenue))| {
            let item = items.get(&id)?;
            let cost = cost_this.get(&id).copied().unwrap_or_default();
            Some(ProductFigures {
                item_id: id,
                sku: item.sku.clone(),
                name: item.name.clone(),
                quantity,
                revenue,
                cost,
            })
        })
        .collect();
    Ok(SalesSummary {
        as_of,
        this_month: period(this_from, as_of, revenue[0], sum(&cost_this), &invoices[0]),
        last_month: period(last_from, last_to, revenue[1], sum(&cost_last), &invoices[1]),
        last_month_to_date: period(last_from, last_to_date, revenue[2], sum(&cost_last_to_date), &invoices[2]),
        daily,
        top_by_revenue: top(&products, |p| p.revenue),
        top_by_margin: top(&products, ProductFigures::margin),
        currency,
    })
}

/// The five largest by `key`, ties by sku so the list is stable.
fn top(products: &[ProductFigures], key: impl Fn(&ProductFigures) -> Decimal) -> Vec<ProductFigures> {
    let mut v = products.to_vec();
    v.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.sku.cmp(&b.sku)));
    v.truncate(5);
    v
}

// ================================================================ trace of a sales order

pub struct TracedProduction {
    pub order: ProductionOrder,
    pub late: bool,
}

/// A purchase request and, the first time it is met, the purchase order it went into.
pub struct TracedPurchase {
    pub request: PurchaseRequest,
    pub order: Option<Order>,
}

pub struct Trace {
    pub overview: OrderOverview,
    pub customer_name: String,
    pub items: HashMap<Uuid, Item>,
    /// None: the caller may not read production.
    pub production: Option<Vec<TracedProduction>>,
    /// None: the caller may not read purchasing.
    pub purchases: Option<Vec<TracedPurchase>>,
    pub supplier_names: HashMap<Uuid, String>,
}

/// One sales order and what it set moving: its deliveries, invoices and receipts, the
/// production orders made for it (by hand or from MRP suggestions pegged to it), the
/// purchase requests raised for it (from its lines or pegged suggestions) and the purchase
/// orders they became; its revenue, cost and margin.
pub async fn trace(app: &AppState, tenant: TenantId, permissions: PermissionSet, id: Uuid) -> AppResult<Trace> {
    let overview = overview(app, tenant, TradeSide::Sales, id).await?;
    let today = app.now().date_naive();
    let tx = app.store.begin(tenant, Access::Read).await?;
    // What the caller may read and the plan includes, as every other endpoint decides.
    let plan = subscription::entitlements(tenants::current(&tx).await?.plan);
    let may = |m| permissions.contains(Permission::new(m, Action::Read)) && plan.includes(m);
    let customer_name =
        parties::get_party(&tx, Side::Receivable, overview.order.party_id).await?.map(|p| p.name).unwrap_or_default();
    let pegged = insight::pegged_documents(&tx, id).await?;
    let production: Option<Vec<TracedProduction>> = if may(Module::Production) {
        let f = OrderFilter { sales_order_id: Some(id), ..OrderFilter::default() };
        let mut orders = production_store::list_orders(&tx, &f, &Page { limit: 200, after: None }).await?;
        for (_, doc) in pegged.iter().filter(|(k, _)| k == "production") {
            if !orders.iter().any(|o| o.id == *doc)
                && let Some((o, _)) = production_store::get_order(&tx, *doc, false).await?
            {
                orders.push(o);
            }
        }
        orders.sort_by(|a, b| a.number.cmp(&b.number));
        let open = |o: &ProductionOrder| matches!(o.status.as_str(), "planned" | "released" | "in_progress");
        Some(orders.into_iter().map(|o| TracedProduction { late: open(&o) && o.due_date < today, order: o }).collect())
    } else {
        None
    };
    let mut supplier_names = HashMap::new();
    let purchases = if may(Module::Purchasing) {
        let mut request_ids: Vec<Uuid> = overview.lines.iter().filter_map(|l| l.request_id).collect();
        request_ids.extend(pegged.iter().filter(|(k, _)| k == "purchase").map(|(_, d)| *d));
        let mut requests = trade_store::get_requests(&tx, &request_ids, false).await?;
        requests.sort_by(|a, b| a.number.cmp(&b.number));
        let mut out = Vec::new();
        let mut seen_orders = HashSet::new();
        for r in requests {
            let order = match r.order_id {
                Some(po) if seen_orders.insert(po) => Some(load_order(&tx, TradeSide::Purchase, po, false).await?.0),
                _ => None,
            };
            for s in order.as_ref().map(|o| o.party_id).into_iter().chain(r.supplier_id) {
                if let std::collections::hash_map::Entry::Vacant(e) = supplier_names.entry(s) {
                    let name = parties::get_party(&tx, Side::Payable, s).await?.map(|p| p.name).unwrap_or_default();
                    e.insert(name);
                }
            }
            out.push(TracedPurchase { request: r, order });
        }
        Some(out)
    } else {
        None
    };
    let mut item_ids: Vec<Uuid> = overview.lines.iter().map(|l| l.item_id).collect();
    item_ids.extend(production.iter().flatten().map(|p| p.order.item_id));
    item_ids.extend(purchases.iter().flatten().map(|p| p.request.item_id));
    let items = stock_store::get_items(&tx, &item_ids).await?;
    tx.commit().await?;
    Ok(Trace { overview, customer_name, items, production, purchases, supplier_names })
}
