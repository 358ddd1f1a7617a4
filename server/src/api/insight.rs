//! Dashboards: the sales summary and the trace of a sales order.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Authorized, SalesRead};
use super::ledger::amount;
use super::problem::Problem;
use super::trade::{DocumentRef, q4};
use crate::app::AppState;
use crate::app::insight::{self as app, Period, ProductFigures};
use crate::error::AppError;

/// margin ÷ revenue, 4 places; none without revenue.
fn share(part: Decimal, whole: Decimal) -> Option<String> {
    (!whole.is_zero()).then(|| format!("{:.4}", (part / whole).round_dp(4)))
}

#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Net of credit notes, base currency.
    pub revenue: String,
    /// Cost of goods delivered less returned, base currency.
    pub cost: String,
    pub margin: String,
    /// Invoices posted (credit notes not counted).
    pub invoices: usize,
}

#[derive(Serialize, ToSchema)]
pub struct DayView {
    pub day: u32,
    pub this_month: String,
    pub last_month: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProductView {
    pub item_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: String,
    pub revenue: String,
    pub cost: String,
    pub margin: String,
    /// margin ÷ revenue
    pub margin_percent: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SalesSummaryView {
    pub as_of: NaiveDate,
    pub currency: String,
    pub this_month: PeriodView,
    pub last_month: PeriodView,
    /// Last month up to the same day: what this month so far compares with.
    pub last_month_to_date: PeriodView,
    /// This month's revenue against last month's to date, as a fraction (0.25 = up 25 %).
    pub change_percent: Option<String>,
    pub daily: Vec<DayView>,
    pub top_by_revenue: Vec<ProductView>,
    pub top_by_margin: Vec<ProductView>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// The day "this month" runs to (default today).
    pub as_of: Option<NaiveDate>,
}

/// Sales this month to date against last month (whole and to the same day), revenue per day
/// of both months, and this month's top five products by revenue and by margin.
#[utoipa::path(tag = "sales", operation_id = "sales_summary", params(SummaryQuery),
    responses((status = 200, body = SalesSummaryView), (status = 403, body = Problem)))]
#[get("/reports/sales-summary")]
pub async fn sales_summary(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    q: web::Query<SummaryQuery>,
) -> Result<HttpResponse, AppError> {
    let s = app::sales_summary(&app, auth.tenant_id(), q.as_of).await?;
    let cur = s.currency.clone();
    let period = |p: &Period| PeriodView {
        from: p.from,
        to: p.to,
        revenue: amount(p.revenue, &cur),
        cost: amount(p.cost, &cur),
        margin: amount(p.margin(), &cur),
        invoices: p.invoices,
    };
    let product = |p: &ProductFigures| ProductView {
        item_id: p.item_id,
        sku: p.sku.clone(),
        name: p.name.clone(),
        quantity: q4(p.quantity),
        revenue: amount(p.revenue, &cur),
        cost: amount(p.cost, &cur),
        margin: amount(p.margin(), &cur),
        margin_percent: share(p.margin(), p.revenue),
    };
    let view = SalesSummaryView {
        as_of: s.as_of,
        this_month: period(&s.this_month),
        last_month: period(&s.last_month),
        last_month_to_date: period(&s.last_month_to_date),
        change_percent: share(s.this_month.revenue - s.last_month_to_date.revenue, s.last_month_to_date.revenue),
        daily: s
            .daily
            .iter()
            .map(|(day, this, last)| DayView {
                day: *day,
                this_month: amount(*this, &cur),
                last_month: amount(*last, &cur),
            })
            .collect(),
        top_by_revenue: s.top_by_revenue.iter().map(product).collect(),
        top_by_margin: s.top_by_margin.iter().map(product).collect(),
        currency: s.currency.clone(),
    };
    Ok(HttpResponse::Ok().json(view))
}

// ================================================================ trace

#[derive(Serialize, ToSchema)]
pub struct TraceOrder {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    /// confirmed, partly_delivered, delivered, invoiced, paid...
    pub progress: String,
    pub customer_id: Uuid,
    pub customer_name: String,
    pub order_date: NaiveDate,
    pub currency: String,
    pub gross_total: String,
}

#[derive(Serialize, ToSchema)]
pub struct TraceLine {
    pub line_no: i32,
    pub sku: String,
    pub name: String,
    pub quantity: String,
    pub shipped: String,
    pub returned: String,
    pub invoiced: String,
    /// Order currency.
    pub net: String,
    /// Cost of goods issued for the line, base currency.
    pub cost: String,
}

#[derive(Serialize, ToSchema)]
pub struct TracePayment {
    /// payment or credit_note
    pub kind: String,
    pub date: NaiveDate,
    pub invoice_id: Uuid,
    pub amount: String,
}

#[derive(Serialize, ToSchema)]
pub struct TraceProduction {
    pub id: Uuid,
    pub number: String,
    pub sku: String,
    pub quantity: String,
    pub completed: String,
    pub status: String,
    pub due_date: NaiveDate,
    /// Open and past its due date.
    pub late: bool,
    /// Material issued less returned, base currency.
    pub material_cost: String,
    pub overhead_cost: String,
}

#[derive(Serialize, ToSchema)]
pub struct TracePurchase {
    /// purchase_request or purchase_order
    pub kind: &'static str,
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub sku: Option<String>,
    pub quantity: Option<String>,
    /// Purchase orders: their gross total, in `currency`.
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub supplier: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TraceEvent {
    pub date: NaiveDate,
    pub what: String,
    pub document: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TraceView {
    pub order: TraceOrder,
    /// Base currency: revenue billed net of credit notes, cost of goods issued, margin.
    pub revenue: String,
    pub cost_of_goods: String,
    pub margin: String,
    pub margin_percent: Option<String>,
    pub lines: Vec<TraceLine>,
    pub deliveries: Vec<DocumentRef>,
    pub invoices: Vec<DocumentRef>,
    pub payments: Vec<TracePayment>,
    /// Null when the caller may not read production.
    pub production_orders: Option<Vec<TraceProduction>>,
    /// Null when the caller may not read purchasing.
    pub purchases: Option<Vec<TracePurchase>>,
    /// Everything above in date order.
    pub timeline: Vec<TraceEvent>,
}

/// One sales order followed through its deliveries, invoices, receipts, the production orders
/// made for it, the purchases raised for it, and its profit. Sections the caller may not read
/// are null.
#[utoipa::path(tag = "sales", operation_id = "trace_sales_order",
    responses((status = 200, body = TraceView), (status = 404, body = Problem)))]
#[get("/sales-orders/{id}/trace")]
pub async fn trace_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let t = app::trace(&app, auth.tenant_id(), auth.principal.permissions, *id).await?;
    let base = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(trace_view(t, &base)))
}

fn trace_view(t: app::Trace, base: &str) -> TraceView {
    let ov = t.overview;
    let o = &ov.order;
    let cur = o.currency.clone();
    let sku = |id: &Uuid| t.items.get(id).map(|i| i.sku.clone()).unwrap_or_default();
    let mut timeline =
        vec![TraceEvent { date: o.order_date, what: "ordered".into(), document: Some(o.number.clone()) }];
    if let Some(c) = o.confirmed_at {
        timeline.push(TraceEvent { date: c.date_naive(), what: "confirmed".into(), document: Some(o.number.clone()) });
    }
    let deliveries: Vec<DocumentRef> = ov
        .shipments
        .iter()
        .map(|s| DocumentRef {
            id: s.id,
            number: Some(s.number.clone()),
            kind: s.kind.clone(),
            date: s.ship_date,
            status: "posted".into(),
            amount: amount(s.value, base),
            open_amount: None,
        })
        .collect();
    for d in &deliveries {
        let what = if d.kind == "return" { "returned" } else { "delivered" };
        timeline.push(TraceEvent { date: d.date, what: what.into(), document: d.number.clone() });
    }
    let invoices: Vec<DocumentRef> = ov
        .invoices
        .iter()
        .map(|i| DocumentRef {
            id: i.id,
            number: i.number.clone(),
            kind: if i.is_credit_note { "credit_note".into() } else { "invoice".into() },
            date: i.invoice_date,
            status: i.status.as_str().into(),
            amount: amount(i.gross_total, &i.currency),
            open_amount: Some(amount(i.open_amount, &i.currency)),
        })
        .collect();
    for i in invoices.iter().filter(|i| i.status == "posted") {
        let what = if i.kind == "credit_note" { "credited" } else { "invoiced" };
        timeline.push(TraceEvent { date: i.date, what: what.into(), document: i.number.clone() });
    }
    let currency_of = |inv: Uuid| ov.invoices.iter().find(|i| i.id == inv).map_or(cur.clone(), |i| i.currency.clone());
    let payments: Vec<TracePayment> = ov
        .allocations
        .iter()
        .map(|a| TracePayment {
            kind: a.kind.as_str().into(),
            date: a.allocation_date,
            invoice_id: a.invoice_id,
            amount: amount(a.amount, &currency_of(a.invoice_id)),
        })
        .collect();
    for p in &payments {
        timeline.push(TraceEvent {
            date: p.date,
            what: format!("{} of {}", p.kind.replace('_', " "), p.amount),
            document: None,
        });
    }
    let production_orders = t.production.map(|ps| {
        ps.into_iter()
            .map(|p| {
                let o = p.order;
                timeline.push(TraceEvent {
                    date: o.start_date,
                    what: "production planned to start".into(),
                    document: Some(o.number.clone()),
                });
                TraceProduction {
                    id: o.id,
                    sku: sku(&o.item_id),
                    number: o.number,
                    quantity: q4(o.quantity),
                    completed: q4(o.completed),
                    status: o.status,
                    due_date: o.due_date,
                    late: p.late,
                    material_cost: amount(o.material_cost, base),
                    overhead_cost: amount(o.overhead_cost, base),
                }
            })
            .collect()
    });
    let purchases = t.purchases.map(|ps| {
        let mut out = Vec::new();
        for p in ps {
            let r = p.request;
            timeline.push(TraceEvent {
                date: r.created_at.date_naive(),
                what: "purchase requested".into(),
                document: Some(r.number.clone()),
            });
            out.push(TracePurchase {
                kind: "purchase_request",
                id: r.id,
                number: r.number.clone(),
                status: r.status.clone(),
                sku: Some(sku(&r.item_id)),
                quantity: Some(q4(r.quantity)),
                amount: None,
                currency: None,
                supplier: r.supplier_id.and_then(|s| t.supplier_names.get(&s).cloned()),
            });
            if let Some(po) = p.order {
                timeline.push(TraceEvent {
                    date: po.order_date,
                    what: "purchase ordered".into(),
                    document: Some(po.number.clone()),
                });
                out.push(TracePurchase {
                    kind: "purchase_order",
                    id: po.id,
                    number: po.number.clone(),
                    status: po.status.clone(),
                    sku: None,
                    quantity: None,
                    amount: Some(amount(po.gross_total, &po.currency)),
                    currency: Some(po.currency.clone()),
                    supplier: t.supplier_names.get(&po.party_id).cloned(),
                });
            }
        }
        out
    });
    timeline.sort_by_key(|e| e.date);
    TraceView {
        order: TraceOrder {
            id: o.id,
            number: o.number.clone(),
            status: o.status.clone(),
            progress: ov.progress.clone(),
            customer_id: o.party_id,
            customer_name: t.customer_name,
            order_date: o.order_date,
            gross_total: amount(o.gross_total, &cur),
            currency: cur.clone(),
        },
        revenue: amount(ov.revenue, base),
        cost_of_goods: amount(ov.cost, base),
        margin: amount(ov.margin, base),
        margin_percent: share(ov.margin, ov.revenue),
        lines: ov
            .lines
            .iter()
            .map(|l| TraceLine {
                line_no: l.line_no,
                sku: sku(&l.item_id),
                name: t.items.get(&l.item_id).map(|i| i.name.clone()).unwrap_or_else(|| l.description.clone()),
                quantity: q4(l.quantity),
                shipped: q4(l.shipped),
                returned: q4(l.returned),
                invoiced: q4(l.invoiced),
                net: amount(l.net, &cur),
                cost: amount(l.cost, base),
            })
            .collect(),
        deliveries,
        invoices,
        payments,
        production_orders,
        purchases,
        timeline,
    }
}
