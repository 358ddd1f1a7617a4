//! Sales and purchasing: trade settings, price lists and price quotes, sales orders and
//! quotations, deliveries and customer returns, invoicing from deliveries, purchase requests,
//! purchase orders, goods receipts and returns to suppliers, three-way matched supplier
//! invoices, supplier performance.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    ApiJson, Authorized, BillingWrite, HoldRelease, IfMatch, PayablesWrite, PriceListsRead, PriceListsWrite,
    PurchasingApprove, PurchasingRead, PurchasingWrite, SalesRead, SalesWrite, TradeRead, TradeSettingsWrite, etag,
    page, paginate,
};
use super::ledger::amount;
use super::problem::Problem;
use super::receivables::{InvoiceView, invoice_view};
use super::views::ListResponse;
use crate::app::{AppState, purchasing, sales, trade as app};
use crate::domain::decimal::{Money, Quantity, Rate};
use crate::domain::trade::{PriceBreak, TradeSide};
use crate::error::AppError;
use crate::store::retrying;
use crate::store::trade::{
    Order, OrderFilter, OrderLine, PriceList, PurchaseRequest, RequestFilter, Shipment, ShipmentFilter, ShipmentLine,
    TradeSettings,
};

/// A quantity (or unit price) with its four decimals.
pub(crate) fn q4(d: Decimal) -> String {
    format!("{d:.4}")
}

fn rate(d: Decimal) -> String {
    format!("{d:.6}")
}

fn side_path(side: TradeSide) -> &'static str {
    if side == TradeSide::Sales { "sales-orders" } else { "purchase-orders" }
}

// ================================================================ settings

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradeSettingsBody {
    /// A customer with an invoice overdue by more than this many days cannot have orders
    /// confirmed; null: overdue invoices do not block.
    pub overdue_block_days: Option<i32>,
    /// How much more than ordered may be received, 0.05 = 5 %.
    #[schema(value_type = String, example = "0.050000")]
    pub over_receipt_tolerance: Rate,
    /// Three-way match: how far a supplier invoice price may be from the order price.
    #[schema(value_type = String, example = "0.020000")]
    pub price_tolerance: Rate,
    /// ...and how far an invoiced quantity may exceed what was received and not invoiced.
    #[schema(value_type = String, example = "0.000000")]
    pub quantity_tolerance: Rate,
}

fn settings_response(s: TradeSettings) -> HttpResponse {
    let body = serde_json::json!({
        "overdue_block_days": s.overdue_block_days,
        "over_receipt_tolerance": rate(s.over_receipt_tolerance),
        "price_tolerance": rate(s.price_tolerance),
        "quantity_tolerance": rate(s.quantity_tolerance),
        "version": s.version,
    });
    HttpResponse::Ok().insert_header(etag(s.version)).json(body)
}

/// Credit and matching rules of sales and purchasing.
#[utoipa::path(tag = "sales", operation_id = "get_trade_settings", responses((status = 200, body = TradeSettingsBody)))]
#[get("/trade-settings")]
pub async fn get_trade_settings(
    app: web::Data<AppState>,
    auth: Authorized<TradeRead>,
) -> Result<HttpResponse, AppError> {
    Ok(settings_response(app::settings(&app, auth.tenant_id()).await?))
}

/// Set the credit and matching rules (sales:approve or purchasing:approve; If-Match, "0" the
/// first time).
#[utoipa::path(tag = "sales", operation_id = "set_trade_settings", request_body = TradeSettingsBody,
    responses((status = 200, body = TradeSettingsBody), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/trade-settings")]
pub async fn set_trade_settings(
    app: web::Data<AppState>,
    auth: Authorized<TradeSettingsWrite>,
    if_match: IfMatch,
    body: ApiJson<TradeSettingsBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let s = app::put_settings(
        &app,
        &auth.ctx(),
        if_match.0,
        app::SettingsInput {
            overdue_block_days: b.overdue_block_days,
            over_receipt_tolerance: b.over_receipt_tolerance.value(),
            price_tolerance: b.price_tolerance.value(),
            quantity_tolerance: b.quantity_tolerance.value(),
        },
    )
    .await?;
    Ok(settings_response(s))
}

// ================================================================ price lists

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBreakBody {
    pub item_id: Uuid,
    /// From this quantity on (base unit); 0 for any quantity.
    #[serde(default = "zero_quantity")]
    #[schema(value_type = String, example = "10")]
    pub min_quantity: Quantity,
    #[schema(value_type = String, example = "95.00")]
    pub unit_price: Money,
    /// 0.05 for 5 %.
    #[schema(value_type = Option<String>, example = "0.050000")]
    pub discount_percent: Option<Rate>,
    /// Supplier lists: days from order to receipt.
    pub lead_time_days: Option<i32>,
    /// Supplier lists: the least they take.
    #[schema(value_type = Option<String>)]
    pub min_order_quantity: Option<Quantity>,
}

fn zero_quantity() -> Quantity {
    Quantity::parse("0").unwrap_or_else(|_| unreachable!())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceListRequest {
    /// sales or purchase
    #[schema(example = "sales")]
    pub side: String,
    pub code: String,
    pub name: String,
    /// Default: the base currency.
    pub currency: Option<String>,
    #[serde(default)]
    pub tax_inclusive: bool,
    /// For one customer group (or supplier group)...
    pub party_group: Option<String>,
    /// ...or for one customer or supplier (supplier lists must name one to offer).
    pub party_id: Option<Uuid>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub is_active: Option<bool>,
    #[serde(default)]
    pub items: Vec<PriceBreakBody>,
}

#[derive(Serialize, ToSchema)]
pub struct PriceListView {
    pub id: Uuid,
    pub side: &'static str,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub tax_inclusive: bool,
    pub party_group: Option<String>,
    pub party_id: Option<Uuid>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub is_active: bool,
    pub items: Vec<serde_json::Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PriceList> for PriceListView {
    fn from(l: PriceList) -> Self {
        Self {
            id: l.id,
            side: l.side.as_str(),
            code: l.code,
            name: l.name,
            currency: l.currency.clone(),
            tax_inclusive: l.tax_inclusive,
            party_group: l.party_group,
            party_id: l.party_id,
            valid_from: l.valid_from,
            valid_to: l.valid_to,
            is_active: l.is_active,
            items: l
                .items
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "item_id": b.item_id, "min_quantity": q4(b.min_quantity),
                        "unit_price": q4(b.unit_price), "discount_percent": rate(b.discount_percent),
                        "lead_time_days": b.lead_time_days, "min_order_quantity": b.min_order_quantity.map(q4),
                    })
                })
                .collect(),
            version: l.version,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

fn price_list_input(b: PriceListRequest) -> Result<app::PriceListInput, AppError> {
    let side = TradeSide::parse(&b.side).ok_or_else(|| AppError::field("side", "must be sales or purchase"))?;
    Ok(app::PriceListInput {
        side,
        code: b.code,
        name: b.name,
        currency: b.currency,
        tax_inclusive: b.tax_inclusive,
        party_group: b.party_group,
        party_id: b.party_id,
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        is_active: b.is_active.unwrap_or(true),
        items: b
            .items
            .into_iter()
            .map(|i| PriceBreak {
                item_id: i.item_id,
                min_quantity: i.min_quantity.value(),
                unit_price: i.unit_price.value(),
                discount_percent: i.discount_percent.map(Rate::value).unwrap_or_default(),
                lead_time_days: i.lead_time_days,
                min_order_quantity: i.min_order_quantity.map(Quantity::value),
            })
            .collect(),
    })
}

fn price_list_response(status: StatusCode, l: PriceList) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/price-lists/{}", l.id)))
        .insert_header(etag(l.version))
        .json(PriceListView::from(l))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PriceListQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// sales or purchase
    pub side: Option<String>,
}

#[utoipa::path(tag = "sales", operation_id = "list_price_lists", params(PriceListQuery),
    responses((status = 200, body = ListResponse<PriceListView>)))]
#[get("/price-lists")]
pub async fn list_price_lists(
    app: web::Data<AppState>,
    auth: Authorized<PriceListsRead>,
    q: web::Query<PriceListQuery>,
) -> Result<HttpResponse, AppError> {
    let side = match q.side.as_deref() {
        None => None,
        Some(s) => Some(TradeSide::parse(s).ok_or_else(|| AppError::field("side", "must be sales or purchase"))?),
    };
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows = app::list_price_lists(&app, auth.tenant_id(), side, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |l| l.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(PriceListView::from).collect(), next_cursor }))
}

/// Add a price list with its entries (quantity breaks).
#[utoipa::path(tag = "sales", operation_id = "create_price_list", request_body = PriceListRequest,
    responses((status = 201, body = PriceListView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/price-lists")]
pub async fn create_price_list(
    app: web::Data<AppState>,
    auth: Authorized<PriceListsWrite>,
    body: ApiJson<PriceListRequest>,
) -> Result<HttpResponse, AppError> {
    let l = app::create_price_list(&app, &auth.ctx(), price_list_input(body.0)?).await?;
    Ok(price_list_response(StatusCode::CREATED, l))
}

#[utoipa::path(tag = "sales", operation_id = "get_price_list", responses((status = 200, body = PriceListView), (status = 404, body = Problem)))]
#[get("/price-lists/{id}")]
pub async fn get_price_list(
    app: web::Data<AppState>,
    auth: Authorized<PriceListsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(price_list_response(StatusCode::OK, app::get_price_list(&app, auth.tenant_id(), *id).await?))
}

/// Replace a price list and its entries (If-Match).
#[utoipa::path(tag = "sales", operation_id = "replace_price_list", request_body = PriceListRequest,
    responses((status = 200, body = PriceListView), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/price-lists/{id}")]
pub async fn replace_price_list(
    app: web::Data<AppState>,
    auth: Authorized<PriceListsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PriceListRequest>,
) -> Result<HttpResponse, AppError> {
    let l = app::replace_price_list(&app, &auth.ctx(), *id, if_match.0, price_list_input(body.0)?).await?;
    Ok(price_list_response(StatusCode::OK, l))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PriceQuoteQuery {
    /// sales (a customer) or purchase (a supplier)
    pub side: String,
    pub party_id: Uuid,
    pub item_id: Uuid,
    pub quantity: String,
    pub date: NaiveDate,
    pub currency: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PriceQuoteView {
    pub price_list_id: Uuid,
    pub unit_price: String,
    pub discount_percent: String,
    pub tax_inclusive: bool,
    pub lead_time_days: Option<i32>,
    pub min_order_quantity: Option<String>,
    /// Which rule gave the price, in words.
    pub explanation: String,
}

/// The price a customer (or supplier) gets for a quantity of an item on a date, and why.
#[utoipa::path(tag = "sales", operation_id = "price_quote", params(PriceQuoteQuery),
    responses((status = 200, body = PriceQuoteView), (status = 404, body = Problem)))]
#[get("/price-quote")]
pub async fn price_quote(
    app: web::Data<AppState>,
    auth: Authorized<PriceListsRead>,
    q: web::Query<PriceQuoteQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let side = TradeSide::parse(&q.side).ok_or_else(|| AppError::field("side", "must be sales or purchase"))?;
    let quantity = Quantity::parse(&q.quantity).map_err(|m| AppError::field("quantity", m))?.value();
    let p = app::quote_price(&app, auth.tenant_id(), side, q.party_id, q.item_id, quantity, q.date, q.currency).await?;
    Ok(HttpResponse::Ok().json(PriceQuoteView {
        price_list_id: p.price_list_id,
        unit_price: q4(p.unit_price),
        discount_percent: rate(p.discount_percent),
        tax_inclusive: p.tax_inclusive,
        lead_time_days: p.lead_time_days,
        min_order_quantity: p.min_order_quantity.map(q4),
        explanation: p.explanation,
    }))
}

// ================================================================ orders

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    pub item_id: Uuid,
    pub description: Option<String>,
    /// Default: the order's, else the item's default warehouse.
    pub warehouse_id: Option<Uuid>,
    /// In the item's base unit.
    #[schema(value_type = String, example = "10")]
    pub quantity: Quantity,
    /// Absent: from the price lists (the line says which rule gave it).
    #[schema(value_type = Option<String>, example = "100.00")]
    pub unit_price: Option<Money>,
    /// 0.05 for 5 %; absent: the price list's discount.
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Rate>,
    /// An amount off the line.
    #[schema(value_type = Option<String>)]
    pub discount_amount: Option<Money>,
    pub tax_code_id: Option<Uuid>,
    /// Promised date of the line (default: the order's).
    pub expected_date: Option<NaiveDate>,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The customer (sales) or supplier (purchase).
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Uuid,
    /// Sales: `order` (default) or `quotation`.
    pub kind: Option<String>,
    pub order_date: NaiveDate,
    pub expected_date: Option<NaiveDate>,
    /// Quotations: the last day the customer may accept.
    pub valid_until: Option<NaiveDate>,
    /// Default: the party's currency, else the base currency.
    pub currency: Option<String>,
    #[schema(value_type = Option<String>)]
    pub exchange_rate: Option<Rate>,
    /// Default: the party's price list's treatment, else the tenant's.
    pub tax_inclusive: Option<bool>,
    /// A discount on the whole document, 0.05 for 5 %.
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Rate>,
    pub warehouse_id: Option<Uuid>,
    /// The customer's order number, or our reference for the supplier.
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<OrderLineRequest>,
}

impl OrderRequest {
    pub(crate) fn into_input(self) -> app::OrderInput {
        app::OrderInput {
            party_id: self.party_id,
            kind: self.kind.unwrap_or_else(|| "order".into()),
            order_date: self.order_date,
            expected_date: self.expected_date,
            valid_until: self.valid_until,
            currency: self.currency,
            exchange_rate: self.exchange_rate.map(Rate::value),
            tax_inclusive: self.tax_inclusive,
            discount_percent: self.discount_percent.map(Rate::value),
            warehouse_id: self.warehouse_id,
            reference: self.reference,
            memo: self.memo,
            lines: self
                .lines
                .into_iter()
                .map(|l| app::OrderLineInput {
                    item_id: l.item_id,
                    description: l.description,
                    warehouse_id: l.warehouse_id,
                    quantity: l.quantity.value(),
                    unit_price: l.unit_price.map(Money::value),
                    discount_percent: l.discount_percent.map(Rate::value),
                    discount_amount: l.discount_amount.map(Money::value),
                    tax_code_id: l.tax_code_id,
                    expected_date: l.expected_date,
                    request_id: None,
                    price_rule: None,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderLineView {
    pub line_no: i32,
    pub item_id: Uuid,
    pub description: String,
    pub warehouse_id: Option<Uuid>,
    pub quantity: String,
    pub unit_price: String,
    /// The list's price when the line's was keyed over it.
    pub list_price: Option<String>,
    pub discount_percent: String,
    pub discount_amount: String,
    /// Everything off quantity × unit price, the document discount's share included.
    pub discount: String,
    pub tax_code_id: Option<Uuid>,
    pub net: String,
    pub tax: String,
    pub gross: String,
    /// Which rule gave the price.
    pub price_rule: String,
    pub expected_date: Option<NaiveDate>,
    /// Delivered (sales) or received (purchase).
    pub shipped: String,
    pub returned: String,
    pub invoiced: String,
    /// Still to deliver or receive.
    pub backorder: String,
    /// Sales: cost of goods issued less returned; purchase: value received less returned.
    pub cost: String,
    pub reservation_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentRef {
    pub id: Uuid,
    pub number: Option<String>,
    pub kind: String,
    pub date: NaiveDate,
    pub status: String,
    pub amount: String,
    pub open_amount: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    /// SO-…, SQ-… (quotations), PO-…
    pub number: String,
    pub kind: String,
    /// Orders: draft, confirmed, closed, cancelled. Quotations: draft, sent, accepted, lost,
    /// cancelled.
    pub status: String,
    /// The whole picture: draft, confirmed, partly_delivered, delivered, invoiced, paid,
    /// closed, cancelled (only on a single order).
    pub progress: Option<String>,
    pub delivery_status: Option<&'static str>,
    pub billing_status: Option<&'static str>,
    pub party_id: Uuid,
    pub order_date: NaiveDate,
    pub expected_date: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub currency: String,
    pub exchange_rate: String,
    pub tax_inclusive: bool,
    pub discount_percent: String,
    pub warehouse_id: Option<Uuid>,
    pub net_total: String,
    pub tax_total: String,
    pub gross_total: String,
    pub gross_base: String,
    pub invoiced_gross: String,
    /// Confirmed sales orders: what still counts against the customer's credit limit.
    pub open_base: String,
    pub source_id: Option<Uuid>,
    pub converted_to: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: String,
    pub reason: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub lines: Vec<OrderLineView>,
    /// Single order: its deliveries or receipts (and returns), invoices and credit notes, and
    /// the receipts or payments settled against them.
    pub shipments: Option<Vec<DocumentRef>>,
    pub invoices: Option<Vec<DocumentRef>>,
    pub payments: Option<Vec<serde_json::Value>>,
    /// Single sales order, base currency: revenue billed, cost of goods issued, margin.
    pub revenue: Option<String>,
    pub cost_of_goods: Option<String>,
    pub margin: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn order_view(o: Order, lines: Vec<OrderLine>, base: &str) -> OrderView {
    let cur = o.currency.clone();
    OrderView {
        id: o.id,
        number: o.number,
        kind: o.kind,
        status: o.status,
        progress: None,
        delivery_status: None,
        billing_status: None,
        party_id: o.party_id,
        order_date: o.order_date,
        expected_date: o.expected_date,
        valid_until: o.valid_until,
        exchange_rate: rate(o.exchange_rate),
        tax_inclusive: o.tax_inclusive,
        discount_percent: rate(o.discount_percent),
        warehouse_id: o.warehouse_id,
        net_total: amount(o.net_total, &cur),
        tax_total: amount(o.tax_total, &cur),
        gross_total: amount(o.gross_total, &cur),
        gross_base: amount(o.gross_base, base),
        invoiced_gross: amount(o.invoiced_gross, &cur),
        open_base: amount(o.open_base, base),
        source_id: o.source_id,
        converted_to: o.converted_to,
        reference: o.reference,
        memo: o.memo,
        reason: o.reason,
        confirmed_at: o.confirmed_at,
        lines: lines
            .into_iter()
            .map(|l| OrderLineView {
                line_no: l.line_no,
                item_id: l.item_id,
                description: l.description,
                warehouse_id: l.warehouse_id,
                quantity: q4(l.quantity),
                unit_price: q4(l.unit_price),
                list_price: l.list_price.map(q4),
                discount_percent: rate(l.discount_percent),
                discount_amount: amount(l.discount_amount, &cur),
                discount: amount(l.discount, &cur),
                tax_code_id: l.tax_code_id,
                net: amount(l.net, &cur),
                tax: amount(l.tax, &cur),
                gross: amount(l.gross, &cur),
                price_rule: l.price_rule,
                expected_date: l.expected_date,
                shipped: q4(l.shipped),
                returned: q4(l.returned),
                invoiced: q4(l.invoiced),
                backorder: q4((l.quantity - l.shipped).max(Decimal::ZERO)),
                cost: amount(l.cost, base),
                reservation_id: l.reservation_id,
                request_id: l.request_id,
            })
            .collect(),
        currency: cur,
        shipments: None,
        invoices: None,
        payments: None,
        revenue: None,
        cost_of_goods: None,
        margin: None,
        version: o.version,
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

fn order_response(status: StatusCode, (o, lines): (Order, Vec<OrderLine>), base: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/{}/{}", side_path(o.side), o.id)))
        .insert_header(etag(o.version))
        .json(order_view(o, lines, base))
}

async fn overview_response(
    app: &AppState,
    auth_tenant: crate::domain::ids::TenantId,
    side: TradeSide,
    id: Uuid,
    base: &str,
) -> Result<HttpResponse, AppError> {
    let ov = app::overview(app, auth_tenant, side, id).await?;
    let version = ov.order.version;
    let is_sales = side == TradeSide::Sales;
    let mut v = order_view(ov.order, ov.lines, base);
    v.progress = Some(ov.progress);
    v.delivery_status = Some(ov.delivery_status);
    v.billing_status = Some(ov.billing_status);
    v.shipments = Some(
        ov.shipments
            .into_iter()
            .map(|s| DocumentRef {
                id: s.id,
                number: Some(s.number),
                kind: s.kind,
                date: s.ship_date,
                status: "posted".into(),
                amount: amount(s.value, base),
                open_amount: None,
            })
            .collect(),
    );
    v.payments = Some(
        ov.allocations
            .iter()
            .map(|a| {
                serde_json::json!({
                    "kind": a.kind.as_str(), "invoice_id": a.invoice_id, "payment_id": a.payment_id,
                    "credit_note_id": a.credit_note_id, "date": a.allocation_date, "amount": q4(a.amount),
                })
            })
            .collect(),
    );
    v.invoices = Some(
        ov.invoices
            .into_iter()
            .map(|i| DocumentRef {
                id: i.id,
                number: i.number.clone(),
                kind: if i.is_credit_note { "credit_note".into() } else { "invoice".into() },
                date: i.invoice_date,
                status: i.status.as_str().into(),
                amount: amount(i.gross_total, &i.currency),
                open_amount: Some(amount(i.open_amount, &i.currency)),
            })
            .collect(),
    );
    if is_sales {
        v.revenue = Some(amount(ov.revenue, base));
        v.cost_of_goods = Some(amount(ov.cost, base));
        v.margin = Some(amount(ov.margin, base));
    }
    Ok(HttpResponse::Ok().insert_header(etag(version)).json(v))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// order or quotation
    pub kind: Option<String>,
    pub status: Option<String>,
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

async fn list_orders_for(
    side: TradeSide,
    app: &AppState,
    tenant: crate::domain::ids::TenantId,
    base: &str,
    q: OrderQuery,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = OrderFilter { kind: q.kind, status: q.status, party_id: q.party_id, from: q.from, to: q.to };
    let rows = app::list_orders(app, tenant, side, &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |o| o.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|o| order_view(o, Vec::new(), base)).collect(), next_cursor }))
}

/// Sales orders and quotations, newest first (lines on the single order).
#[utoipa::path(tag = "sales", operation_id = "list_sales_orders", params(OrderQuery),
    responses((status = 200, body = ListResponse<OrderView>)))]
#[get("/sales-orders")]
pub async fn list_sales_orders(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    q: web::Query<OrderQuery>,
) -> Result<HttpResponse, AppError> {
    list_orders_for(TradeSide::Sales, &app, auth.tenant_id(), &auth.tenant.base_currency, q.into_inner()).await
}

/// Add a sales order or quotation (a draft). Prices come from the price lists unless given;
/// each line says which rule gave its price.
#[utoipa::path(tag = "sales", operation_id = "create_sales_order", request_body = OrderRequest,
    responses((status = 201, body = OrderView), (status = 422, body = Problem)))]
#[post("/sales-orders")]
pub async fn create_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    body: ApiJson<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    let o = app::create_order(&app, &auth.ctx(), TradeSide::Sales, body.0.into_input()).await?;
    Ok(order_response(StatusCode::CREATED, o, &auth.tenant.base_currency))
}

/// A sales order with its progress, deliveries, invoices, payments and margin.
#[utoipa::path(tag = "sales", operation_id = "get_sales_order", responses((status = 200, body = OrderView), (status = 404, body = Problem)))]
#[get("/sales-orders/{id}")]
pub async fn get_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    overview_response(&app, auth.tenant_id(), TradeSide::Sales, *id, &auth.tenant.base_currency).await
}

/// Edit a draft order or an open quotation (If-Match): its lines are replaced and priced again.
#[utoipa::path(tag = "sales", operation_id = "update_sales_order", request_body = OrderRequest,
    responses((status = 200, body = OrderView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/sales-orders/{id}")]
pub async fn update_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    let o = app::update_order(&app, &auth.ctx(), TradeSide::Sales, *id, if_match.0, body.0.into_input()).await?;
    Ok(order_response(StatusCode::OK, o, &auth.tenant.base_currency))
}

/// Delete a draft.
#[utoipa::path(tag = "sales", operation_id = "delete_sales_order", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/sales-orders/{id}")]
pub async fn delete_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_order(&app, &auth.ctx(), TradeSide::Sales, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// Reserve what is available and leave the rest on backorder instead of refusing.
    #[serde(default)]
    pub backorder: bool,
}

/// Confirm a draft order: overdue invoices and the credit limit (409 credit-check-failed
/// naming the rule and by how much), validators, stock per line (409 insufficient-stock), and
/// reservation.
#[utoipa::path(tag = "sales", operation_id = "confirm_sales_order", request_body = ConfirmRequest,
    responses((status = 200, body = OrderView), (status = 409, body = Problem)))]
#[post("/sales-orders/{id}/confirm")]
pub async fn confirm_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
    body: Option<ApiJson<ConfirmRequest>>,
) -> Result<HttpResponse, AppError> {
    let backorder = body.map(|b| b.0.backorder).unwrap_or(false);
    let ctx = auth.ctx();
    let o = retrying(|| sales::confirm(&app, &ctx, *id, backorder)).await?;
    Ok(order_response(StatusCode::OK, o, &auth.tenant.base_currency))
}

/// Submit a draft order to the tenant's approval flows (a discount above the flow's threshold,
/// say): it is frozen until decided, then `approved` and ready to confirm.
#[utoipa::path(tag = "sales", operation_id = "submit_sales_order",
    responses((status = 200, body = OrderView), (status = 409, body = Problem)))]
#[post("/sales-orders/{id}/submit")]
pub async fn submit_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| sales::submit(&app, &ctx, *id)).await?;
    Ok(order_response(StatusCode::OK, o, &auth.tenant.base_currency))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: Option<String>,
}

macro_rules! order_action {
    ($name:ident, $path:literal, $op:literal, $action:literal, $need:ty, $call:path, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "sales", operation_id = $op, request_body = ReasonRequest,
                                    responses((status = 200, body = OrderView), (status = 409, body = Problem)))]
        #[post($path)]
        pub async fn $name(
            app: web::Data<AppState>,
            auth: Authorized<$need>,
            id: web::Path<Uuid>,
            body: Option<ApiJson<ReasonRequest>>,
        ) -> Result<HttpResponse, AppError> {
            let reason = body.and_then(|b| b.0.reason);
            let o = $call(&app, &auth.ctx(), *id, $action, reason).await?;
            Ok(order_response(StatusCode::OK, o, &auth.tenant.base_currency))
        }
    };
}

order_action!(
    cancel_sales_order,
    "/sales-orders/{id}/cancel",
    "cancel_sales_order",
    "cancel",
    SalesWrite,
    sales::order_action,
    "Cancel an order nothing was delivered or billed on; reservations are released."
);
order_action!(
    close_sales_order,
    "/sales-orders/{id}/close",
    "close_sales_order",
    "close",
    SalesWrite,
    sales::order_action,
    "Close a confirmed order: what is still to deliver is dropped, reservations are released."
);
order_action!(
    send_quotation,
    "/sales-orders/{id}/send",
    "send_quotation",
    "send",
    SalesWrite,
    sales::quotation_action,
    "Mark a quotation sent."
);
order_action!(
    lose_quotation,
    "/sales-orders/{id}/lose",
    "lose_quotation",
    "lose",
    SalesWrite,
    sales::quotation_action,
    "Mark a quotation lost, with the reason."
);

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// Default: today.
    pub order_date: Option<NaiveDate>,
}

/// The customer accepted a quotation: it becomes a draft sales order at the quoted prices.
#[utoipa::path(tag = "sales", operation_id = "accept_quotation", request_body = AcceptRequest,
    responses((status = 201, body = OrderView), (status = 409, body = Problem)))]
#[post("/sales-orders/{id}/accept")]
pub async fn accept_quotation(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
    body: Option<ApiJson<AcceptRequest>>,
) -> Result<HttpResponse, AppError> {
    let date = body.and_then(|b| b.0.order_date);
    let o = sales::accept_quotation(&app, &auth.ctx(), *id, date).await?;
    Ok(order_response(StatusCode::CREATED, o, &auth.tenant.base_currency))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    pub invoice_date: NaiveDate,
    #[schema(value_type = Option<String>)]
    pub exchange_rate: Option<Rate>,
    pub due_date: Option<NaiveDate>,
}

/// Invoice an order's services (lines that do not ship) not yet billed; goods are billed from
/// their deliveries.
#[utoipa::path(tag = "sales", operation_id = "invoice_sales_order", request_body = BillRequest,
    responses((status = 201, body = InvoiceView), (status = 409, body = Problem)))]
#[post("/sales-orders/{id}/invoice")]
pub async fn invoice_sales_order(
    app: web::Data<AppState>,
    auth: Authorized<BillingWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<BillRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let (inv, lines) =
        sales::invoice_order(&app, &auth.ctx(), *id, b.invoice_date, b.exchange_rate.map(Rate::value), b.due_date)
            .await?;
    Ok(invoice_created(inv, lines, &auth.tenant.base_currency))
}

fn invoice_created(
    inv: crate::store::receivables::Invoice,
    lines: Vec<crate::store::receivables::InvoiceLine>,
    base: &str,
) -> HttpResponse {
    let path = if inv.side == crate::domain::receivables::Side::Receivable {
        if inv.is_credit_note { "sales-credit-notes" } else { "sales-invoices" }
    } else if inv.is_credit_note {
        "supplier-credit-notes"
    } else {
        "supplier-invoices"
    };
    HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/{path}/{}", inv.id)))
        .insert_header(etag(inv.version))
        .json(invoice_view(inv, lines, Vec::new(), base))
}

// ================================================================ deliveries and receipts

#[derive(Serialize, ToSchema)]
pub struct ShipmentLineView {
    pub line_no: i32,
    pub order_id: Uuid,
    pub order_line_no: i32,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub batch_id: Option<Uuid>,
    pub quantity: String,
    /// Cost of goods issued (deliveries), value received (receipts), in base currency.
    pub value: String,
    pub returned: String,
    pub invoiced: String,
    pub return_of_line: Option<i32>,
    pub stock_entry_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ShipmentView {
    pub id: Uuid,
    /// DN-… (deliveries), RMA-… (customer returns), GRN-… (goods receipts), RTV-… (returns
    /// to suppliers).
    pub number: String,
    /// delivery (a delivery or a goods receipt) or return
    pub kind: String,
    pub party_id: Uuid,
    pub date: NaiveDate,
    pub return_of: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: String,
    pub value: String,
    pub lines: Vec<ShipmentLineView>,
    /// A return that credited what was billed: the credit note.
    pub credit_note: Option<InvoiceView>,
    pub created_at: DateTime<Utc>,
}

fn shipment_view(s: Shipment, lines: Vec<ShipmentLine>, base: &str) -> ShipmentView {
    ShipmentView {
        id: s.id,
        number: s.number,
        kind: s.kind,
        party_id: s.party_id,
        date: s.ship_date,
        return_of: s.return_of,
        reference: s.reference,
        memo: s.memo,
        value: amount(s.value, base),
        lines: lines
            .into_iter()
            .map(|l| ShipmentLineView {
                line_no: l.line_no,
                order_id: l.order_id,
                order_line_no: l.order_line_no,
                item_id: l.item_id,
                warehouse_id: l.warehouse_id,
                batch_id: l.batch_id,
                quantity: q4(l.quantity),
                value: amount(l.value, base),
                returned: q4(l.returned),
                invoiced: q4(l.invoiced),
                return_of_line: l.return_of_line,
                stock_entry_id: l.stock_entry_id,
            })
            .collect(),
        credit_note: None,
        created_at: s.created_at,
    }
}

fn shipment_response(path: &str, (s, lines): (Shipment, Vec<ShipmentLine>), base: &str) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/{path}/{}", s.id)))
        .json(shipment_view(s, lines, base))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLineRequest {
    pub order_id: Uuid,
    pub line_no: i32,
    #[schema(value_type = String, example = "4")]
    pub quantity: Quantity,
    /// Default: the order line's warehouse.
    pub warehouse_id: Option<Uuid>,
    /// Batch-tracked items: which batch.
    pub batch_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    pub customer_id: Uuid,
    pub date: NaiveDate,
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<ShipmentLineRequest>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ShipmentQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// delivery or return
    pub kind: Option<String>,
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

async fn list_shipments_for(
    side: TradeSide,
    app: &AppState,
    tenant: crate::domain::ids::TenantId,
    base: &str,
    q: ShipmentQuery,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = ShipmentFilter { kind: q.kind, party_id: q.party_id, from: q.from, to: q.to };
    let rows = app::list_shipments(app, tenant, side, &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |s| s.id);
    Ok(HttpResponse::Ok().json(ListResponse {
        data: rows.into_iter().map(|s| shipment_view(s, Vec::new(), base)).collect(),
        next_cursor,
    }))
}

/// Deliveries and customer returns, newest first.
#[utoipa::path(tag = "sales", operation_id = "list_deliveries", params(ShipmentQuery),
    responses((status = 200, body = ListResponse<ShipmentView>)))]
#[get("/deliveries")]
pub async fn list_deliveries(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    q: web::Query<ShipmentQuery>,
) -> Result<HttpResponse, AppError> {
    list_shipments_for(TradeSide::Sales, &app, auth.tenant_id(), &auth.tenant.base_currency, q.into_inner()).await
}

/// Deliver lines of one or more of a customer's confirmed orders, partly or wholly: stock
/// leaves at its valuation against cost of goods sold; what is left stays on backorder.
#[utoipa::path(tag = "sales", operation_id = "create_delivery", request_body = DeliveryRequest,
    responses((status = 201, body = ShipmentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/deliveries")]
pub async fn create_delivery(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    body: ApiJson<DeliveryRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let b = body.0;
    let s = retrying(|| {
        sales::deliver(
            &app,
            &ctx,
            sales::DeliveryInput {
                customer_id: b.customer_id,
                date: b.date,
                reference: b.reference.clone(),
                memo: b.memo.clone(),
                lines: b
                    .lines
                    .iter()
                    .map(|l| sales::DeliveryLineInput {
                        order_id: l.order_id,
                        line_no: l.line_no,
                        quantity: l.quantity.value(),
                        warehouse_id: l.warehouse_id,
                        batch_id: l.batch_id,
                    })
                    .collect(),
            },
        )
    })
    .await?;
    Ok(shipment_response("deliveries", s, &auth.tenant.base_currency))
}

#[utoipa::path(tag = "sales", operation_id = "get_delivery", responses((status = 200, body = ShipmentView), (status = 404, body = Problem)))]
#[get("/deliveries/{id}")]
pub async fn get_delivery(
    app: web::Data<AppState>,
    auth: Authorized<SalesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (s, l) = app::get_shipment(&app, auth.tenant_id(), TradeSide::Sales, *id).await?;
    Ok(HttpResponse::Ok().json(shipment_view(s, l, &auth.tenant.base_currency)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineRequest {
    /// The line of the delivery (or receipt) that comes back.
    pub line_no: i32,
    #[schema(value_type = String, example = "1")]
    pub quantity: Quantity,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    pub date: NaiveDate,
    pub reason: Option<String>,
    pub lines: Vec<ReturnLineRequest>,
    /// For the credit note, when what comes back was billed in a foreign currency.
    #[schema(value_type = Option<String>)]
    pub exchange_rate: Option<Rate>,
    /// Returns to suppliers: the supplier's credit note number.
    pub credit_reference: Option<String>,
}

/// A customer returns goods of a delivery: stock comes back at the cost it left with; what
/// was billed of it is credited (the credit note is settled against the invoice).
#[utoipa::path(tag = "sales", operation_id = "return_delivery", request_body = ReturnRequest,
    responses((status = 201, body = ShipmentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/deliveries/{id}/returns")]
pub async fn return_delivery(
    app: web::Data<AppState>,
    auth: Authorized<SalesWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReturnRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = sales::ReturnInput {
        date: b.date,
        reason: b.reason,
        lines: b
            .lines
            .iter()
            .map(|l| sales::ReturnLineInput { line_no: l.line_no, quantity: l.quantity.value() })
            .collect(),
        exchange_rate: b.exchange_rate.map(Rate::value),
    };
    let (s, lines, note) = sales::return_delivery(&app, &auth.ctx(), *id, input).await?;
    let base = auth.tenant.base_currency.clone();
    let mut v = shipment_view(s, lines, &base);
    v.credit_note = note.map(|n| invoice_view(n, Vec::new(), Vec::new(), &base));
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/deliveries/{}", v.id))).json(v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceDeliveriesRequest {
    pub delivery_ids: Vec<Uuid>,
    pub invoice_date: NaiveDate,
    #[schema(value_type = Option<String>)]
    pub exchange_rate: Option<Rate>,
    pub due_date: Option<NaiveDate>,
}

/// Invoice what is left to bill on deliveries (delivered less returned less invoiced) at the
/// order lines' prices and discounts; posted at once.
#[utoipa::path(tag = "sales", operation_id = "invoice_deliveries", request_body = InvoiceDeliveriesRequest,
    responses((status = 201, body = InvoiceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/sales-invoices/from-deliveries")]
pub async fn invoice_deliveries(
    app: web::Data<AppState>,
    auth: Authorized<BillingWrite>,
    body: ApiJson<InvoiceDeliveriesRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    let (inv, lines) = retrying(|| {
        sales::invoice_deliveries(
            &app,
            &ctx,
            sales::InvoiceDeliveriesInput {
                delivery_ids: b.delivery_ids.clone(),
                invoice_date: b.invoice_date,
                exchange_rate: b.exchange_rate.map(Rate::value),
                due_date: b.due_date,
            },
        )
    })
    .await?;
    Ok(invoice_created(inv, lines, &auth.tenant.base_currency))
}

// ================================================================ purchase requests

#[derive(Serialize, ToSchema)]
pub struct PurchaseRequestView {
    pub id: Uuid,
    pub number: String,
    /// draft, submitted, approved, rejected, ordered, cancelled
    pub status: String,
    /// manual, low_stock, mrp, plugin
    pub source: String,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: String,
    pub needed_by: NaiveDate,
    pub supplier_id: Option<Uuid>,
    pub memo: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub order_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<PurchaseRequest> for PurchaseRequestView {
    fn from(r: PurchaseRequest) -> Self {
        Self {
            id: r.id,
            number: r.number,
            status: r.status,
            source: r.source,
            item_id: r.item_id,
            warehouse_id: r.warehouse_id,
            quantity: q4(r.quantity),
            needed_by: r.needed_by,
            supplier_id: r.supplier_id,
            memo: r.memo,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            order_id: r.order_id,
            created_by: r.created_by,
            version: r.version,
            created_at: r.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequestBody {
    pub item_id: Uuid,
    /// Default: the item's default warehouse.
    pub warehouse_id: Option<Uuid>,
    #[schema(value_type = String, example = "50")]
    pub quantity: Quantity,
    pub needed_by: NaiveDate,
    /// Leave out to have one proposed from the supplier price lists.
    pub supplier_id: Option<Uuid>,
    pub memo: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub item_id: Option<Uuid>,
    pub source: Option<String>,
}

#[utoipa::path(tag = "purchasing", operation_id = "list_purchase_requests", params(RequestQuery),
    responses((status = 200, body = ListResponse<PurchaseRequestView>)))]
#[get("/purchase-requests")]
pub async fn list_purchase_requests(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    q: web::Query<RequestQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = RequestFilter { status: q.status, item_id: q.item_id, source: q.source };
    let rows = purchasing::list_requests(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |r| r.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(PurchaseRequestView::from).collect(), next_cursor }))
}

/// Ask for an item to be bought (a draft; submit it for approval).
#[utoipa::path(tag = "purchasing", operation_id = "create_purchase_request", request_body = PurchaseRequestBody,
    responses((status = 201, body = PurchaseRequestView), (status = 422, body = Problem)))]
#[post("/purchase-requests")]
pub async fn create_purchase_request(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    body: ApiJson<PurchaseRequestBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = purchasing::create_request(
        &app,
        &auth.ctx(),
        purchasing::RequestInput {
            item_id: b.item_id,
            warehouse_id: b.warehouse_id,
            quantity: b.quantity.value(),
            needed_by: b.needed_by,
            supplier_id: b.supplier_id,
            memo: b.memo,
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/purchase-requests/{}", r.id)))
        .json(PurchaseRequestView::from(r)))
}

#[utoipa::path(tag = "purchasing", operation_id = "get_purchase_request", responses((status = 200, body = PurchaseRequestView), (status = 404, body = Problem)))]
#[get("/purchase-requests/{id}")]
pub async fn get_purchase_request(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let r = purchasing::get_request(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(r.version)).json(PurchaseRequestView::from(r)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub note: Option<String>,
}

macro_rules! request_action {
    ($name:ident, $path:literal, $op:literal, $action:literal, $need:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "purchasing", operation_id = $op, request_body = NoteRequest,
            responses((status = 200, body = PurchaseRequestView), (status = 403, body = Problem), (status = 409, body = Problem)))]
        #[post($path)]
        pub async fn $name(
            app: web::Data<AppState>,
            auth: Authorized<$need>,
            id: web::Path<Uuid>,
            body: Option<ApiJson<NoteRequest>>,
        ) -> Result<HttpResponse, AppError> {
            let note = body.and_then(|b| b.0.note);
            let r = purchasing::request_action(&app, &auth.ctx(), *id, $action, note).await?;
            Ok(HttpResponse::Ok().insert_header(etag(r.version)).json(PurchaseRequestView::from(r)))
        }
    };
}

request_action!(
    submit_purchase_request,
    "/purchase-requests/{id}/submit",
    "submit_purchase_request",
    "submit",
    PurchasingWrite,
    "Submit a draft request for approval."
);
request_action!(
    approve_purchase_request,
    "/purchase-requests/{id}/approve",
    "approve_purchase_request",
    "approve",
    PurchasingApprove,
    "Approve a submitted request (purchasing:approve; never your own)."
);
request_action!(
    reject_purchase_request,
    "/purchase-requests/{id}/reject",
    "reject_purchase_request",
    "reject",
    PurchasingApprove,
    "Reject a submitted request, with the reason (`note`)."
);
request_action!(
    cancel_purchase_request,
    "/purchase-requests/{id}/cancel",
    "cancel_purchase_request",
    "cancel",
    PurchasingWrite,
    "Cancel a request not yet ordered."
);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowStockRequest {
    pub needed_by: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct LowStockRequestsView {
    pub created: Vec<PurchaseRequestView>,
    /// Items below their levels that got no request, and why.
    pub skipped: Vec<serde_json::Value>,
}

/// Raise a submitted request for every item below its reorder point or safety stock that has
/// none on its way.
#[utoipa::path(tag = "purchasing", operation_id = "purchase_requests_from_low_stock", request_body = LowStockRequest,
    responses((status = 201, body = LowStockRequestsView)))]
#[post("/purchase-requests/from-low-stock")]
pub async fn purchase_requests_from_low_stock(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    body: ApiJson<LowStockRequest>,
) -> Result<HttpResponse, AppError> {
    let (made, skipped) = purchasing::requests_from_low_stock(&app, &auth.ctx(), body.0.needed_by).await?;
    Ok(HttpResponse::Created().json(LowStockRequestsView {
        created: made.into_iter().map(PurchaseRequestView::from).collect(),
        skipped: skipped
            .into_iter()
            .map(|s| serde_json::json!({"item_id": s.item_id, "sku": s.sku, "reason": s.reason}))
            .collect(),
    }))
}

// ================================================================ purchase orders

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromRequestsRequest {
    pub request_ids: Vec<Uuid>,
    pub order_date: NaiveDate,
}

/// Turn approved requests into draft purchase orders, one per supplier and currency; the
/// supplier is proposed from the price lists (cheapest in time, else quickest) unless the
/// request names one. Each line says why.
#[utoipa::path(tag = "purchasing", operation_id = "purchase_orders_from_requests", request_body = FromRequestsRequest,
    responses((status = 201, body = Vec<OrderView>), (status = 422, body = Problem)))]
#[post("/purchase-orders/from-requests")]
pub async fn purchase_orders_from_requests(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    body: ApiJson<FromRequestsRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let out = purchasing::orders_from_requests(&app, &auth.ctx(), &b.request_ids, b.order_date).await?;
    let base = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Created().json(out.into_iter().map(|(o, l)| order_view(o, l, &base)).collect::<Vec<_>>()))
}

#[utoipa::path(tag = "purchasing", operation_id = "list_purchase_orders", params(OrderQuery),
    responses((status = 200, body = ListResponse<OrderView>)))]
#[get("/purchase-orders")]
pub async fn list_purchase_orders(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    q: web::Query<OrderQuery>,
) -> Result<HttpResponse, AppError> {
    list_orders_for(TradeSide::Purchase, &app, auth.tenant_id(), &auth.tenant.base_currency, q.into_inner()).await
}

/// Add a purchase order by hand (a draft; prices from the supplier's price lists unless given).
#[utoipa::path(tag = "purchasing", operation_id = "create_purchase_order", request_body = OrderRequest,
    responses((status = 201, body = OrderView), (status = 422, body = Problem)))]
#[post("/purchase-orders")]
pub async fn create_purchase_order(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    body: ApiJson<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    let o = app::create_order(&app, &auth.ctx(), TradeSide::Purchase, body.0.into_input()).await?;
    Ok(order_response(StatusCode::CREATED, o, &auth.tenant.base_currency))
}

/// A purchase order with its receipts, invoices and payments.
#[utoipa::path(tag = "purchasing", operation_id = "get_purchase_order", responses((status = 200, body = OrderView), (status = 404, body = Problem)))]
#[get("/purchase-orders/{id}")]
pub async fn get_purchase_order(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    overview_response(&app, auth.tenant_id(), TradeSide::Purchase, *id, &auth.tenant.base_currency).await
}

#[utoipa::path(tag = "purchasing", operation_id = "update_purchase_order", request_body = OrderRequest,
    responses((status = 200, body = OrderView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[patch("/purchase-orders/{id}")]
pub async fn update_purchase_order(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    let o = app::update_order(&app, &auth.ctx(), TradeSide::Purchase, *id, if_match.0, body.0.into_input()).await?;
    Ok(order_response(StatusCode::OK, o, &auth.tenant.base_currency))
}

#[utoipa::path(tag = "purchasing", operation_id = "delete_purchase_order", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/purchase-orders/{id}")]
pub async fn delete_purchase_order(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_order(&app, &auth.ctx(), TradeSide::Purchase, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

order_action!(
    approve_purchase_order,
    "/purchase-orders/{id}/approve",
    "approve_purchase_order",
    "approve",
    PurchasingApprove,
    purchasing::order_action,
    "Approve a draft purchase order (purchasing:approve): it can be received against."
);
order_action!(
    submit_purchase_order,
    "/purchase-orders/{id}/submit",
    "submit_purchase_order",
    "submit",
    PurchasingWrite,
    purchasing::order_action,
    "Submit a draft purchase order to the tenant's approval flows: it is frozen until decided and \
     confirmed when approved (at once under the flow's threshold)."
);
order_action!(
    cancel_purchase_order,
    "/purchase-orders/{id}/cancel",
    "cancel_purchase_order",
    "cancel",
    PurchasingWrite,
    purchasing::order_action,
    "Cancel a purchase order nothing was received or billed on; its requests may be ordered again."
);
order_action!(
    close_purchase_order,
    "/purchase-orders/{id}/close",
    "close_purchase_order",
    "close",
    PurchasingWrite,
    purchasing::order_action,
    "Close an approved purchase order: nothing more will be received."
);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    pub supplier_id: Uuid,
    pub date: NaiveDate,
    /// The supplier's delivery note.
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<ShipmentLineRequest>,
}

#[utoipa::path(tag = "purchasing", operation_id = "list_goods_receipts", params(ShipmentQuery),
    responses((status = 200, body = ListResponse<ShipmentView>)))]
#[get("/goods-receipts")]
pub async fn list_goods_receipts(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    q: web::Query<ShipmentQuery>,
) -> Result<HttpResponse, AppError> {
    list_shipments_for(TradeSide::Purchase, &app, auth.tenant_id(), &auth.tenant.base_currency, q.into_inner()).await
}

/// Receive goods against a supplier's approved orders, partly or wholly, within the
/// over-receipt tolerance: inventory against goods received not invoiced, at the order price.
#[utoipa::path(tag = "purchasing", operation_id = "create_goods_receipt", request_body = ReceiptRequest,
    responses((status = 201, body = ShipmentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/goods-receipts")]
pub async fn create_goods_receipt(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    body: ApiJson<ReceiptRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let b = body.0;
    let s = retrying(|| {
        purchasing::receive(
            &app,
            &ctx,
            purchasing::ReceiptInput {
                supplier_id: b.supplier_id,
                date: b.date,
                reference: b.reference.clone(),
                memo: b.memo.clone(),
                lines: b
                    .lines
                    .iter()
                    .map(|l| purchasing::ReceiptLineInput {
                        order_id: l.order_id,
                        line_no: l.line_no,
                        quantity: l.quantity.value(),
                        warehouse_id: l.warehouse_id,
                        batch_id: l.batch_id,
                    })
                    .collect(),
            },
        )
    })
    .await?;
    Ok(shipment_response("goods-receipts", s, &auth.tenant.base_currency))
}

#[utoipa::path(tag = "purchasing", operation_id = "get_goods_receipt", responses((status = 200, body = ShipmentView), (status = 404, body = Problem)))]
#[get("/goods-receipts/{id}")]
pub async fn get_goods_receipt(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (s, l) = app::get_shipment(&app, auth.tenant_id(), TradeSide::Purchase, *id).await?;
    Ok(HttpResponse::Ok().json(shipment_view(s, l, &auth.tenant.base_currency)))
}

/// Send goods of a receipt back to the supplier; what was billed is credited on a supplier
/// credit note (`credit_reference`: theirs).
#[utoipa::path(tag = "purchasing", operation_id = "return_goods_receipt", request_body = ReturnRequest,
    responses((status = 201, body = ShipmentView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/goods-receipts/{id}/returns")]
pub async fn return_goods_receipt(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReturnRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = purchasing::SupplierReturnInput {
        date: b.date,
        reason: b.reason,
        lines: b.lines.iter().map(|l| (l.line_no, l.quantity.value())).collect(),
        credit_reference: b.credit_reference,
        exchange_rate: b.exchange_rate.map(Rate::value),
    };
    let (s, lines, note) = purchasing::return_receipt(&app, &auth.ctx(), *id, input).await?;
    let base = auth.tenant.base_currency.clone();
    let mut v = shipment_view(s, lines, &base);
    v.credit_note = note.map(|n| invoice_view(n, Vec::new(), Vec::new(), &base));
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/v1/goods-receipts/{}", v.id))).json(v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchLineRequest {
    pub receipt_id: Uuid,
    pub line_no: i32,
    #[schema(value_type = String)]
    pub quantity: Quantity,
    /// The supplier's price, in the order's tax treatment, net of discounts.
    #[schema(value_type = String)]
    pub unit_price: Money,
    pub tax_code_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchedInvoiceRequest {
    pub supplier_id: Uuid,
    pub invoice_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    /// The supplier's invoice number.
    pub reference: Option<String>,
    #[schema(value_type = Option<String>)]
    pub exchange_rate: Option<Rate>,
    pub memo: Option<String>,
    pub lines: Vec<MatchLineRequest>,
}

/// Post a supplier invoice for goods receipts, matched three ways: a price or quantity outside
/// the tolerances holds it (`hold_reason`) until released; GRNI is cleared at what the goods
/// were received at, differences go to purchase price variance.
#[utoipa::path(tag = "payables", operation_id = "invoice_receipts", request_body = MatchedInvoiceRequest,
    responses((status = 201, body = InvoiceView), (status = 422, body = Problem)))]
#[post("/supplier-invoices/from-receipts")]
pub async fn invoice_receipts(
    app: web::Data<AppState>,
    auth: Authorized<PayablesWrite>,
    body: ApiJson<MatchedInvoiceRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    let (inv, lines) = retrying(|| {
        purchasing::invoice_receipts(
            &app,
            &ctx,
            purchasing::MatchedInvoiceInput {
                supplier_id: b.supplier_id,
                invoice_date: b.invoice_date,
                due_date: b.due_date,
                reference: b.reference.clone(),
                exchange_rate: b.exchange_rate.map(Rate::value),
                memo: b.memo.clone(),
                lines: b
                    .lines
                    .iter()
                    .map(|l| purchasing::MatchLineInput {
                        receipt_id: l.receipt_id,
                        line_no: l.line_no,
                        quantity: l.quantity.value(),
                        unit_price: l.unit_price.value(),
                        tax_code_id: l.tax_code_id,
                        fixed_base: None,
                    })
                    .collect(),
            },
        )
    })
    .await?;
    Ok(invoice_created(inv, lines, &auth.tenant.base_currency))
}

/// Release a held supplier invoice for payment (purchasing:approve or finance:approve), with
/// the reason the difference is accepted (`note`).
#[utoipa::path(tag = "payables", operation_id = "release_supplier_invoice", request_body = NoteRequest,
    responses((status = 200, body = InvoiceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/supplier-invoices/{id}/release")]
pub async fn release_supplier_invoice(
    app: web::Data<AppState>,
    auth: Authorized<HoldRelease>,
    id: web::Path<Uuid>,
    body: ApiJson<NoteRequest>,
) -> Result<HttpResponse, AppError> {
    let inv = purchasing::release_invoice(&app, &auth.ctx(), *id, body.0.note).await?;
    Ok(HttpResponse::Ok().insert_header(etag(inv.version)).json(invoice_view(
        inv,
        Vec::new(),
        Vec::new(),
        &auth.tenant.base_currency,
    )))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PerformanceQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub supplier_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct SupplierPerformanceView {
    pub supplier_id: Uuid,
    pub supplier_code: String,
    pub supplier_name: String,
    pub orders: usize,
    /// Receipt lines with a promised date, and how many came on or before it.
    pub receipts: usize,
    pub on_time: usize,
    pub on_time_rate: Option<String>,
    /// Days from order to receipt, and promised, on average.
    pub average_lead_days: Option<String>,
    pub average_promised_days: Option<String>,
    /// Billed less ordered price for what was billed, and as a share of the ordered value.
    pub price_variance: String,
    pub price_variance_rate: Option<String>,
}

/// On-time delivery, lead time against promised, and price variance per supplier, for
/// purchase orders dated in the period.
#[utoipa::path(tag = "purchasing", operation_id = "supplier_performance", params(PerformanceQuery),
    responses((status = 200, body = Vec<SupplierPerformanceView>)))]
#[get("/reports/supplier-performance")]
pub async fn supplier_performance(
    app: web::Data<AppState>,
    auth: Authorized<PurchasingRead>,
    q: web::Query<PerformanceQuery>,
) -> Result<HttpResponse, AppError> {
    if q.to < q.from {
        return Err(AppError::field("to", "must not be before from"));
    }
    let rows = purchasing::supplier_performance(&app, auth.tenant_id(), q.supplier_id, q.from, q.to).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(|r| SupplierPerformanceView {
                supplier_id: r.supplier_id,
                supplier_code: r.supplier_code,
                supplier_name: r.supplier_name,
                orders: r.orders,
                receipts: r.receipts,
                on_time: r.on_time,
                on_time_rate: r.on_time_rate.map(|d| format!("{d:.4}")),
                average_lead_days: r.average_lead_days.map(|d| format!("{d:.1}")),
                average_promised_days: r.average_promised_days.map(|d| format!("{d:.1}")),
                price_variance: format!("{:.2}", r.price_variance),
                price_variance_rate: r.price_variance_rate.map(|d| format!("{d:.4}")),
            })
            .collect::<Vec<_>>(),
    ))
}
