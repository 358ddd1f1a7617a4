//! Receivables and payables over HTTP: tax codes, exchange rates, customers and suppliers,
//! sales and supplier invoices (and credit notes), receipts and payments, allocation,
//! write-off, open items, statements and aging. Each side's handlers share one body.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    ApiJson, Authorized, CustomersRead, CustomersWrite, FinanceRead, FinanceWrite, IfMatch, Needs, SuppliersRead,
    SuppliersWrite, etag, page, paginate,
};
use super::ledger::{amount, double_option};
use super::problem::Problem;
use super::views::{ListResponse, csv_field, csv_response, wants_csv};
use crate::app::{AppState, receivables as app};
use crate::domain::decimal::{Money, Quantity, Rate};
use crate::domain::receivables::{BUCKETS, Side};
use crate::error::AppError;
use crate::store::fx::ExchangeRate;
use crate::store::receivables::{
    Allocation, Contact, Invoice, InvoiceFilter, InvoiceLine, InvoiceStatus, Party, Payment, PaymentFilter, TaxCode,
};

fn scale4(d: Decimal) -> String {
    format!("{d:.4}")
}

// ---------------------------------------------------------------------------------------------
// Tax codes

#[derive(Serialize, ToSchema)]
pub struct TaxCodeView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// A fraction: "0.130000" is 13 %.
    pub rate: String,
    pub is_exempt: bool,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TaxCode> for TaxCodeView {
    fn from(t: TaxCode) -> Self {
        Self {
            id: t.id,
            code: t.code,
            name: t.name,
            rate: format!("{:.6}", t.rate),
            is_exempt: t.is_exempt,
            is_active: t.is_active,
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// Tax codes (VAT 13 %, 9 %, 6 %, 3 %, zero-rated, exempt to start with).
#[utoipa::path(tag = "tax", operation_id = "list_tax_codes", responses((status = 200, body = Vec<TaxCodeView>)))]
#[get("/tax-codes")]
pub async fn list_tax_codes(app: web::Data<AppState>, auth: Authorized<FinanceRead>) -> Result<HttpResponse, AppError> {
    let list = app::tax_codes(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(TaxCodeView::from).collect::<Vec<_>>()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxCodeRequest {
    #[schema(example = "VAT5")]
    pub code: String,
    pub name: String,
    #[schema(value_type = String, example = "0.05")]
    pub rate: Rate,
    #[serde(default)]
    pub is_exempt: bool,
}

/// Add a tax code. Its rate never changes afterwards: add a new code for a new rate.
#[utoipa::path(tag = "tax", operation_id = "create_tax_code", request_body = TaxCodeRequest,
    responses((status = 201, body = TaxCodeView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/tax-codes")]
pub async fn create_tax_code(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<TaxCodeRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let t = app::create_tax_code(
        &app,
        &auth.ctx(),
        app::NewTaxCode { code: b.code, name: b.name, rate: b.rate.value(), is_exempt: b.is_exempt },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tax-codes/{}", t.id)))
        .insert_header(etag(t.version))
        .json(TaxCodeView::from(t)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxCodePatch {
    pub name: Option<String>,
    pub is_active: Option<bool>,
}

/// Rename or deactivate a tax code (If-Match required).
#[utoipa::path(tag = "tax", operation_id = "update_tax_code", request_body = TaxCodePatch,
    responses((status = 200, body = TaxCodeView), (status = 412, body = Problem)))]
#[patch("/tax-codes/{id}")]
pub async fn update_tax_code(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<TaxCodePatch>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let t = app::update_tax_code(&app, &auth.ctx(), *id, if_match.0, b.name, b.is_active).await?;
    Ok(HttpResponse::Ok().insert_header(etag(t.version)).json(TaxCodeView::from(t)))
}

// ---------------------------------------------------------------------------------------------
// Exchange rates

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRateBody {
    #[schema(example = "USD")]
    pub currency: String,
    pub rate_date: NaiveDate,
    /// Base-currency units per one unit of `currency`.
    #[schema(value_type = String, example = "7.123400")]
    pub rate: Rate,
}

impl From<ExchangeRate> for ExchangeRateBody {
    fn from(r: ExchangeRate) -> Self {
        Self {
            currency: r.currency,
            rate_date: r.rate_date,
            rate: Rate::parse(&r.rate.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RateQuery {
    pub currency: Option<String>,
}

/// Exchange rates, newest first (at most 500).
#[utoipa::path(tag = "tax", operation_id = "list_exchange_rates", params(RateQuery),
    responses((status = 200, body = Vec<ExchangeRateBody>)))]
#[get("/exchange-rates")]
pub async fn list_exchange_rates(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<RateQuery>,
) -> Result<HttpResponse, AppError> {
    let list = app::exchange_rates(&app, auth.tenant_id(), q.currency.as_deref()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(ExchangeRateBody::from).collect::<Vec<_>>()))
}

/// Set a currency's rate for a day (replaces that day's rate). Documents without an explicit
/// rate take the latest rate on or before their date.
#[utoipa::path(tag = "tax", operation_id = "set_exchange_rate", request_body = ExchangeRateBody,
    responses((status = 201, body = ExchangeRateBody), (status = 422, body = Problem)))]
#[post("/exchange-rates")]
pub async fn set_exchange_rate(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<ExchangeRateBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = app::put_exchange_rate(&app, &auth.ctx(), &b.currency, b.rate_date, b.rate.value()).await?;
    Ok(HttpResponse::Created().json(ExchangeRateBody::from(r)))
}

// ---------------------------------------------------------------------------------------------
// Customers and suppliers

#[derive(Serialize, ToSchema)]
pub struct PartyView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Default currency of their documents (absent: the base currency).
    pub currency: Option<String>,
    /// Invoices fall due this many days after their date unless they say otherwise.
    pub payment_terms_days: i32,
    pub credit_limit: Option<String>,
    pub is_active: bool,
    /// Customer or supplier group; price lists can apply per group.
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub contacts: Vec<Contact>,
    pub shipping_address: Option<String>,
    /// `net` (invoice date + days) or `end_of_month` (end of the invoice's month + days).
    pub due_rule: String,
    pub price_list_id: Option<Uuid>,
    /// The user who looks after them.
    pub owner_id: Option<Uuid>,
    /// Sales region (lead assignment rules can match it).
    pub region: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Party> for PartyView {
    fn from(p: Party) -> Self {
        Self {
            id: p.id,
            code: p.code,
            name: p.name,
            tax_id: p.tax_id,
            email: p.email,
            phone: p.phone,
            address: p.address,
            currency: p.currency,
            payment_terms_days: p.payment_terms_days,
            credit_limit: p.credit_limit.map(scale4),
            is_active: p.is_active,
            group: p.group,
            tags: p.tags,
            contacts: p.contacts,
            shipping_address: p.shipping_address,
            due_rule: p.due_rule,
            price_list_id: p.price_list_id,
            owner_id: p.owner_id,
            region: p.region,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyRequest {
    #[schema(example = "C-0001")]
    pub code: String,
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub currency: Option<String>,
    /// Default 30.
    pub payment_terms_days: Option<i32>,
    #[schema(value_type = Option<String>, example = "50000.00")]
    pub credit_limit: Option<Money>,
    pub group: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    pub shipping_address: Option<String>,
    /// `net` (default) or `end_of_month`.
    pub due_rule: Option<String>,
    /// The customer's (or supplier's) own price list, tried before group and general lists.
    pub price_list_id: Option<Uuid>,
    /// The user who looks after them.
    pub owner_id: Option<Uuid>,
    pub region: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub currency: Option<Option<String>>,
    pub payment_terms_days: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub credit_limit: Option<Option<Money>>,
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub group: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub contacts: Option<Vec<Contact>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub shipping_address: Option<Option<String>>,
    pub due_rule: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub price_list_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PartyQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// Searches code and name.
    pub q: Option<String>,
    pub is_active: Option<bool>,
    /// Only this customer or supplier group.
    pub group: Option<String>,
    /// Only parties with this tag.
    pub tag: Option<String>,
}

fn party_response(status: StatusCode, p: Party, path: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/{path}/{}", p.id)))
        .insert_header(etag(p.version))
        .json(PartyView::from(p))
}

fn party_path(side: Side) -> &'static str {
    if side == Side::Receivable { "customers" } else { "suppliers" }
}

async fn list_parties_for<P: Needs>(
    side: Side,
    app: web::Data<AppState>,
    auth: Authorized<P>,
    q: PartyQuery,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let filter = crate::store::receivables::PartyFilter { group: q.group.clone(), tag: q.tag.clone() };
    let rows = app::list_parties(&app, auth.tenant_id(), side, &page, q.q.as_deref(), q.is_active, &filter).await?;
    let (rows, next_cursor) = paginate(rows, &page, |p| p.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(PartyView::from).collect(), next_cursor }))
}

async fn create_party_for<P: Needs>(
    side: Side,
    app: web::Data<AppState>,
    auth: Authorized<P>,
    b: PartyRequest,
) -> Result<HttpResponse, AppError> {
    let input = app::PartyInput {
        code: Some(b.code),
        name: Some(b.name),
        tax_id: Some(b.tax_id),
        email: Some(b.email),
        phone: Some(b.phone),
        address: Some(b.address),
        currency: Some(b.currency),
        payment_terms_days: b.payment_terms_days,
        credit_limit: Some(b.credit_limit.map(Money::value)),
        is_active: None,
        group: Some(b.group),
        tags: Some(b.tags),
        contacts: Some(b.contacts),
        shipping_address: Some(b.shipping_address),
        due_rule: b.due_rule,
        price_list_id: Some(b.price_list_id),
        owner_id: Some(b.owner_id),
        region: Some(b.region),
    };
    let p = app::create_party(&app, &auth.ctx(), side, input).await?;
    Ok(party_response(StatusCode::CREATED, p, party_path(side)))
}

async fn update_party_for<P: Needs>(
    side: Side,
    app: web::Data<AppState>,
    auth: Authorized<P>,
    id: Uuid,
    if_match: IfMatch,
    b: PartyPatch,
) -> Result<HttpResponse, AppError> {
    let input = app::PartyInput {
        code: b.code,
        name: b.name,
        tax_id: b.tax_id,
        email: b.email,
        phone: b.phone,
        address: b.address,
        currency: b.currency,
        payment_terms_days: b.payment_terms_days,
        credit_limit: b.credit_limit.map(|c| c.map(Money::value)),
        is_active: b.is_active,
        group: b.group,
        tags: b.tags,
        contacts: b.contacts,
        shipping_address: b.shipping_address,
        due_rule: b.due_rule,
        price_list_id: b.price_list_id,
        owner_id: b.owner_id,
        region: b.region,
    };
    let p = app::update_party(&app, &auth.ctx(), side, id, if_match.0, input).await?;
    Ok(party_response(StatusCode::OK, p, party_path(side)))
}

/// Customers.
#[utoipa::path(tag = "receivables", operation_id = "list_customers", params(PartyQuery),
    responses((status = 200, body = ListResponse<PartyView>)))]
#[get("/customers")]
pub async fn list_customers(
    app: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    q: web::Query<PartyQuery>,
) -> Result<HttpResponse, AppError> {
    list_parties_for(Side::Receivable, app, auth, q.into_inner()).await
}

/// Add a customer (sales:write or finance:write).
#[utoipa::path(tag = "receivables", operation_id = "create_customer", request_body = PartyRequest,
    responses((status = 201, body = PartyView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/customers")]
pub async fn create_customer(
    app: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    body: ApiJson<PartyRequest>,
) -> Result<HttpResponse, AppError> {
    create_party_for(Side::Receivable, app, auth, body.0).await
}

#[utoipa::path(tag = "receivables", operation_id = "get_customer", responses((status = 200, body = PartyView), (status = 404, body = Problem)))]
#[get("/customers/{id}")]
pub async fn get_customer(
    app: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let p = app::get_party(&app, auth.tenant_id(), Side::Receivable, *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(p.version)).json(PartyView::from(p)))
}

/// Edit a customer (If-Match required); `null` clears an optional field.
#[utoipa::path(tag = "receivables", operation_id = "update_customer", request_body = PartyPatch,
    responses((status = 200, body = PartyView), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/customers/{id}")]
pub async fn update_customer(
    app: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PartyPatch>,
) -> Result<HttpResponse, AppError> {
    update_party_for(Side::Receivable, app, auth, *id, if_match, body.0).await
}

/// Suppliers.
#[utoipa::path(tag = "payables", operation_id = "list_suppliers", params(PartyQuery),
    responses((status = 200, body = ListResponse<PartyView>)))]
#[get("/suppliers")]
pub async fn list_suppliers(
    app: web::Data<AppState>,
    auth: Authorized<SuppliersRead>,
    q: web::Query<PartyQuery>,
) -> Result<HttpResponse, AppError> {
    list_parties_for(Side::Payable, app, auth, q.into_inner()).await
}

/// Add a supplier (purchasing:write or finance:write).
#[utoipa::path(tag = "payables", operation_id = "create_supplier", request_body = PartyRequest,
    responses((status = 201, body = PartyView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/suppliers")]
pub async fn create_supplier(
    app: web::Data<AppState>,
    auth: Authorized<SuppliersWrite>,
    body: ApiJson<PartyRequest>,
) -> Result<HttpResponse, AppError> {
    create_party_for(Side::Payable, app, auth, body.0).await
}

#[utoipa::path(tag = "payables", operation_id = "get_supplier", responses((status = 200, body = PartyView), (status = 404, body = Problem)))]
#[get("/suppliers/{id}")]
pub async fn get_supplier(
    app: web::Data<AppState>,
    auth: Authorized<SuppliersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let p = app::get_party(&app, auth.tenant_id(), Side::Payable, *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(p.version)).json(PartyView::from(p)))
}

/// Edit a supplier (If-Match required); `null` clears an optional field.
#[utoipa::path(tag = "payables", operation_id = "update_supplier", request_body = PartyPatch,
    responses((status = 200, body = PartyView), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/suppliers/{id}")]
pub async fn update_supplier(
    app: web::Data<AppState>,
    auth: Authorized<SuppliersWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<PartyPatch>,
) -> Result<HttpResponse, AppError> {
    update_party_for(Side::Payable, app, auth, *id, if_match, body.0).await
}

// ---------------------------------------------------------------------------------------------
// Invoices and credit notes

#[derive(Serialize, ToSchema)]
pub struct InvoiceLineView {
    pub line_no: usize,
    pub description: String,
    pub account_id: Uuid,
    pub item_id: Option<Uuid>,
    pub quantity: String,
    pub unit_price: String,
    pub tax_code_id: Option<Uuid>,
    /// Amount off quantity × unit price (line and document discounts).
    pub discount: String,
    pub net: String,
    pub tax: String,
    pub gross: String,
    /// The order line (and delivery or receipt line) this line bills.
    pub order_id: Option<Uuid>,
    pub order_line_no: Option<i32>,
    pub shipment_id: Option<Uuid>,
    pub shipment_line_no: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct AllocationView {
    pub id: Uuid,
    /// payment, credit_note or write_off
    pub kind: &'static str,
    pub invoice_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub credit_note_id: Option<Uuid>,
    pub allocation_date: NaiveDate,
    /// In the invoice's currency.
    pub amount: String,
    /// Base currency taken off the invoice and off the payment or credit note; they differ by
    /// the realized exchange difference.
    pub invoice_base: String,
    pub source_base: String,
    pub journal_entry_id: Option<Uuid>,
    pub memo: String,
}

fn allocation_view(a: Allocation, currency: &str, base: &str) -> AllocationView {
    AllocationView {
        id: a.id,
        kind: a.kind.as_str(),
        invoice_id: a.invoice_id,
        payment_id: a.payment_id,
        credit_note_id: a.credit_note_id,
        allocation_date: a.allocation_date,
        amount: amount(a.amount, currency),
        invoice_base: amount(a.invoice_base, base),
        source_base: amount(a.source_base, base),
        journal_entry_id: a.journal_entry_id,
        memo: a.memo,
    }
}

#[derive(Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: Uuid,
    pub is_credit_note: bool,
    /// Given at posting: SI-000001, SCN-…, PI-…, PCN-…
    pub number: Option<String>,
    /// draft, posted or cancelled
    pub status: &'static str,
    /// open, partly_settled or settled (posted documents only)
    pub settlement: Option<&'static str>,
    /// The customer or supplier.
    pub party_id: Uuid,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub currency: String,
    pub exchange_rate: String,
    pub tax_inclusive: bool,
    pub reference: Option<String>,
    pub memo: String,
    pub net_total: String,
    pub tax_total: String,
    pub gross_total: String,
    /// Gross in the base currency at the invoice's rate.
    pub gross_base: String,
    pub open_amount: String,
    pub open_base: String,
    pub credit_note_of: Option<Uuid>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub journal_entry_id: Option<Uuid>,
    /// A supplier invoice that failed its three-way match is held: it cannot be paid until
    /// released. Says why.
    pub hold_reason: Option<String>,
    pub lines: Vec<InvoiceLineView>,
    pub allocations: Vec<AllocationView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn invoice_view(
    i: Invoice,
    lines: Vec<InvoiceLine>,
    allocations: Vec<Allocation>,
    base: &str,
) -> InvoiceView {
    let cur = i.currency.clone();
    let settlement = (i.status == InvoiceStatus::Posted).then(|| {
        if i.open_amount.is_zero() {
            "settled"
        } else if i.open_amount == i.gross_total {
            "open"
        } else {
            "partly_settled"
        }
    });
    InvoiceView {
        id: i.id,
        is_credit_note: i.is_credit_note,
        number: i.number,
        status: i.status.as_str(),
        settlement,
        party_id: i.party_id,
        invoice_date: i.invoice_date,
        due_date: i.due_date,
        exchange_rate: format!("{:.6}", i.exchange_rate),
        tax_inclusive: i.tax_inclusive,
        reference: i.reference,
        memo: i.memo,
        net_total: amount(i.net_total, &cur),
        tax_total: amount(i.tax_total, &cur),
        gross_total: amount(i.gross_total, &cur),
        gross_base: amount(i.gross_base, base),
        open_amount: amount(i.open_amount, &cur),
        open_base: amount(i.open_base, base),
        credit_note_of: i.credit_note_of,
        source_type: i.source_type,
        source_id: i.source_id,
        journal_entry_id: i.journal_entry_id,
        hold_reason: i.hold_reason,
        lines: lines
            .into_iter()
            .enumerate()
            .map(|(n, l)| InvoiceLineView {
                line_no: n + 1,
                description: l.description,
                account_id: l.account_id,
                item_id: l.item_id,
                quantity: scale4(l.quantity),
                unit_price: scale4(l.unit_price),
                tax_code_id: l.tax_code_id,
                discount: amount(l.discount, &cur),
                net: amount(l.net, &cur),
                tax: amount(l.tax, &cur),
                gross: amount(l.gross, &cur),
                order_id: l.link.map(|k| k.order_id),
                order_line_no: l.link.map(|k| k.order_line_no),
                shipment_id: l.link.and_then(|k| k.shipment.map(|s| s.0)),
                shipment_line_no: l.link.and_then(|k| k.shipment.map(|s| s.1)),
            })
            .collect(),
        allocations: allocations.into_iter().map(|a| allocation_view(a, &cur, base)).collect(),
        currency: cur,
        version: i.version,
        created_at: i.created_at,
        updated_at: i.updated_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineRequest {
    #[serde(default)]
    pub description: String,
    /// Revenue (sales; default the mapped revenue account) or expense, asset or GRNI account
    /// (supplier invoices; required).
    pub account_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
    #[schema(value_type = String, example = "2")]
    pub quantity: Quantity,
    /// Before tax unless the invoice is tax-inclusive.
    #[schema(value_type = String, example = "100.00")]
    pub unit_price: Money,
    /// None: no tax on the line.
    pub tax_code_id: Option<Uuid>,
    /// An amount off quantity × unit price (default none).
    #[schema(value_type = Option<String>, example = "5.00")]
    pub discount: Option<Money>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceRequest {
    /// The customer (sales) or supplier (supplier invoices).
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Uuid,
    /// A credit note lowers what the party owes or is owed.
    #[serde(default)]
    pub is_credit_note: bool,
    /// For a credit note: the posted invoice it credits; it is settled against it on posting.
    pub credit_note_of: Option<Uuid>,
    pub invoice_date: NaiveDate,
    /// Default: invoice date plus the party's payment terms.
    pub due_date: Option<NaiveDate>,
    /// Default: the party's currency, else the base currency.
    pub currency: Option<String>,
    /// Default: the latest rate on or before the invoice date.
    #[schema(value_type = Option<String>, example = "7.123400")]
    pub exchange_rate: Option<Rate>,
    /// Default: the finance setting `prices_include_tax`.
    pub tax_inclusive: Option<bool>,
    /// The customer's order number or the supplier's invoice number.
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<InvoiceLineRequest>,
}

impl InvoiceRequest {
    fn into_input(self) -> app::InvoiceInput {
        app::InvoiceInput {
            party_id: self.party_id,
            is_credit_note: self.is_credit_note,
            credit_note_of: self.credit_note_of,
            invoice_date: self.invoice_date,
            due_date: self.due_date,
            currency: self.currency,
            exchange_rate: self.exchange_rate.map(Rate::value),
            tax_inclusive: self.tax_inclusive,
            reference: self.reference,
            memo: self.memo,
            lines: self
                .lines
                .into_iter()
                .map(|l| app::InvoiceLineInput {
                    description: l.description,
                    account_id: l.account_id,
                    item_id: l.item_id,
                    quantity: l.quantity.value(),
                    unit_price: l.unit_price.value(),
                    tax_code_id: l.tax_code_id,
                    discount: l.discount.map(Money::value).unwrap_or_default(),
                    link: None,
                    fixed_base: None,
                })
                .collect(),
            source: None,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Option<Uuid>,
    /// draft, posted or cancelled
    pub status: Option<String>,
    pub is_credit_note: Option<bool>,
    /// Only posted documents with something left open.
    #[serde(default)]
    pub open: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Searches number, reference and memo.
    pub q: Option<String>,
}

fn invoice_path(side: Side) -> &'static str {
    if side == Side::Receivable { "sales-invoices" } else { "supplier-invoices" }
}

fn invoice_response(
    status: StatusCode,
    side: Side,
    (i, lines): (Invoice, Vec<InvoiceLine>),
    allocations: Vec<Allocation>,
    base: &str,
) -> HttpResponse {
    let v = invoice_view(i, lines, allocations, base);
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/{}/{}", invoice_path(side), v.id)))
        .insert_header(etag(v.version))
        .json(v)
}

async fn list_invoices_for<P: Needs>(
    side: Side,
    app: web::Data<AppState>,
    auth: Authorized<P>,
    q: InvoiceQuery,
) -> Result<HttpResponse, AppError> {
    let page = page(q.limit, q.cursor.as_deref())?;
    let status = match q.status.as_deref() {
        None => None,
        Some("draft") => Some(InvoiceStatus::Draft),
        Some("posted") => Some(InvoiceStatus::Posted),
        Some("cancelled") => Some(InvoiceStatus::Cancelled),
        Some(_) => return Err(AppError::field("status", "must be draft, posted or cancelled")),
    };
    let filter = InvoiceFilter {
        party_id: q.party_id,
        status,
        is_credit_note: q.is_credit_note,
        open: q.open,
        from: q.from,
        to: q.to,
        currency: None,
        q: q.q,
    };
    let rows = app::list_invoices(&app, auth.tenant_id(), side, &page, &filter).await?;
    let (rows, next_cursor) = paginate(rows, &page, |i| i.id);
    let base = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(ListResponse {
        data: rows.into_iter().map(|i| invoice_view(i, Vec::new(), Vec::new(), &base)).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Date of the reversing entry; default the document's own date.
    pub date: Option<NaiveDate>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOffRequest {
    /// Default: everything left open.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Money>,
    pub date: NaiveDate,
    pub memo: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    pub invoice_id: Uuid,
    /// In the invoice's currency.
    #[schema(value_type = String, example = "500.00")]
    pub amount: Money,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateRequest {
    /// Default: the payment's or credit note's date.
    pub date: Option<NaiveDate>,
    pub allocations: Vec<AllocationRequest>,
}

fn pairs(list: Vec<AllocationRequest>) -> Vec<(Uuid, Decimal)> {
    list.into_iter().map(|a| (a.invoice_id, a.amount.value())).collect()
}

macro_rules! invoice_handlers {
    ($side:expr, $tag:literal, $path:literal, $path_id:literal, $path_post:literal, $path_cancel:literal,
     $path_write_off:literal, $path_allocate:literal, $read:ty, $write:ty,
     $list:ident, $create:ident, $get:ident, $update:ident, $delete:ident, $post_:ident, $cancel:ident,
     $write_off:ident, $allocate:ident) => {
        #[utoipa::path(tag = $tag, operation_id = stringify!($list), params(InvoiceQuery),
            responses((status = 200, body = ListResponse<InvoiceView>)))]
        #[get($path)]
        pub async fn $list(
            app: web::Data<AppState>,
            auth: Authorized<$read>,
            q: web::Query<InvoiceQuery>,
        ) -> Result<HttpResponse, AppError> {
            list_invoices_for($side, app, auth, q.into_inner()).await
        }

        /// Create a draft invoice or credit note; tax and totals are computed on the lines.
        #[utoipa::path(tag = $tag, operation_id = stringify!($create), request_body = InvoiceRequest,
            responses((status = 201, body = InvoiceView), (status = 422, body = Problem)))]
        #[post($path)]
        pub async fn $create(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            body: ApiJson<InvoiceRequest>,
        ) -> Result<HttpResponse, AppError> {
            let created = app::create_invoice(&app, &auth.ctx(), $side, body.0.into_input()).await?;
            Ok(invoice_response(StatusCode::CREATED, $side, created, Vec::new(), &auth.tenant.base_currency))
        }

        /// An invoice or credit note with its lines and allocations.
        #[utoipa::path(tag = $tag, operation_id = stringify!($get),
            responses((status = 200, body = InvoiceView), (status = 404, body = Problem)))]
        #[get($path_id)]
        pub async fn $get(
            app: web::Data<AppState>,
            auth: Authorized<$read>,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, AppError> {
            let (i, lines, allocations) = app::get_invoice(&app, auth.tenant_id(), $side, *id).await?;
            Ok(invoice_response(StatusCode::OK, $side, (i, lines), allocations, &auth.tenant.base_currency))
        }

        /// Replace a draft (If-Match required).
        #[utoipa::path(tag = $tag, operation_id = stringify!($update), request_body = InvoiceRequest,
            responses((status = 200, body = InvoiceView), (status = 409, body = Problem), (status = 412, body = Problem)))]
        #[patch($path_id)]
        pub async fn $update(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
            if_match: IfMatch,
            body: ApiJson<InvoiceRequest>,
        ) -> Result<HttpResponse, AppError> {
            let updated = app::update_invoice(&app, &auth.ctx(), $side, *id, if_match.0, body.0.into_input()).await?;
            Ok(invoice_response(StatusCode::OK, $side, updated, Vec::new(), &auth.tenant.base_currency))
        }

        /// Delete a draft.
        #[utoipa::path(tag = $tag, operation_id = stringify!($delete),
            responses((status = 204), (status = 409, body = Problem)))]
        #[delete($path_id)]
        pub async fn $delete(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, AppError> {
            app::delete_invoice(&app, &auth.ctx(), $side, *id).await?;
            Ok(HttpResponse::NoContent().finish())
        }

        /// Post a draft: number it and post its journal entry (control account, revenue or
        /// expense, VAT per tax code). A credit note of an invoice is settled against it.
        #[utoipa::path(tag = $tag, operation_id = stringify!($post_),
            responses((status = 200, body = InvoiceView), (status = 409, body = Problem), (status = 422, body = Problem)))]
        #[post($path_post)]
        pub async fn $post_(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, AppError> {
            let (i, lines, allocations) = app::post_invoice(&app, &auth.ctx(), $side, *id).await?;
            Ok(invoice_response(StatusCode::OK, $side, (i, lines), allocations, &auth.tenant.base_currency))
        }

        /// Cancel a posted document nothing has been settled against; its entry is reversed.
        #[utoipa::path(tag = $tag, operation_id = stringify!($cancel), request_body = CancelRequest,
            responses((status = 200, body = InvoiceView), (status = 409, body = Problem)))]
        #[post($path_cancel)]
        pub async fn $cancel(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
            body: ApiJson<CancelRequest>,
        ) -> Result<HttpResponse, AppError> {
            let cancelled = app::cancel_invoice(&app, &auth.ctx(), $side, *id, body.0.date).await?;
            Ok(invoice_response(StatusCode::OK, $side, cancelled, Vec::new(), &auth.tenant.base_currency))
        }

        /// Write off what is left open (or part of it).
        #[utoipa::path(tag = $tag, operation_id = stringify!($write_off), request_body = WriteOffRequest,
            responses((status = 201, body = AllocationView), (status = 409, body = Problem), (status = 422, body = Problem)))]
        #[post($path_write_off)]
        pub async fn $write_off(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
            body: ApiJson<WriteOffRequest>,
        ) -> Result<HttpResponse, AppError> {
            let b = body.0;
            let (i, a) = app::write_off(&app, &auth.ctx(), $side, *id, b.amount.map(Money::value), b.date, b.memo).await?;
            Ok(HttpResponse::Created().json(allocation_view(a, &i.currency, &auth.tenant.base_currency)))
        }

        /// Allocate a posted credit note to invoices of the same party.
        #[utoipa::path(tag = $tag, operation_id = stringify!($allocate), request_body = AllocateRequest,
            responses((status = 201, body = Vec<AllocationView>), (status = 409, body = Problem), (status = 422, body = Problem)))]
        #[post($path_allocate)]
        pub async fn $allocate(
            app: web::Data<AppState>,
            auth: Authorized<$write>,
            id: web::Path<Uuid>,
            body: ApiJson<AllocateRequest>,
        ) -> Result<HttpResponse, AppError> {
            let b = body.0;
            let (currency, done) = app::allocate(&app, &auth.ctx(), $side, *id, true, pairs(b.allocations), b.date).await?;
            let base = auth.tenant.base_currency.clone();
            Ok(HttpResponse::Created()
                .json(done.into_iter().map(|a| allocation_view(a, &currency, &base)).collect::<Vec<_>>()))
        }
    };
}

invoice_handlers!(
    Side::Receivable,
    "receivables",
    "/sales-invoices",
    "/sales-invoices/{id}",
    "/sales-invoices/{id}/post",
    "/sales-invoices/{id}/cancel",
    "/sales-invoices/{id}/write-off",
    "/sales-invoices/{id}/allocate",
    FinanceRead,
    FinanceWrite,
    list_sales_invoices,
    create_sales_invoice,
    get_sales_invoice,
    update_sales_invoice,
    delete_sales_invoice,
    post_sales_invoice,
    cancel_sales_invoice,
    write_off_sales_invoice,
    allocate_sales_credit_note
);

invoice_handlers!(
    Side::Payable,
    "payables",
    "/supplier-invoices",
    "/supplier-invoices/{id}",
    "/supplier-invoices/{id}/post",
    "/supplier-invoices/{id}/cancel",
    "/supplier-invoices/{id}/write-off",
    "/supplier-invoices/{id}/allocate",
    FinanceRead,
    FinanceWrite,
    list_supplier_invoices,
    create_supplier_invoice,
    get_supplier_invoice,
    update_supplier_invoice,
    delete_supplier_invoice,
    post_supplier_invoice,
    cancel_supplier_invoice,
    write_off_supplier_invoice,
    allocate_supplier_credit_note
);

// ---------------------------------------------------------------------------------------------
// Receipts and payments

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    pub id: Uuid,
    /// RC-000001 (receipts) or PY-000001 (payments).
    pub number: String,
    /// posted or cancelled
    pub status: &'static str,
    pub party_id: Uuid,
    pub payment_date: NaiveDate,
    pub currency: String,
    pub exchange_rate: String,
    pub amount: String,
    pub amount_base: String,
    /// Not yet allocated to invoices: the party's credit on account.
    pub unallocated: String,
    pub unallocated_base: String,
    /// The cash or bank account.
    pub account_id: Uuid,
    pub reference: Option<String>,
    pub memo: String,
    pub journal_entry_id: Uuid,
    pub allocations: Vec<AllocationView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn payment_view(p: Payment, allocations: Vec<Allocation>, base: &str) -> PaymentView {
    let cur = p.currency.clone();
    PaymentView {
        id: p.id,
        number: p.number,
        status: if p.is_cancelled { "cancelled" } else { "posted" },
        party_id: p.party_id,
        payment_date: p.payment_date,
        exchange_rate: format!("{:.6}", p.exchange_rate),
        amount: amount(p.amount, &cur),
        amount_base: amount(p.amount_base, base),
        unallocated: amount(p.unallocated, &cur),
        unallocated_base: amount(p.unallocated_base, base),
        account_id: p.account_id,
        reference: p.reference,
        memo: p.memo,
        journal_entry_id: p.journal_entry_id,
        allocations: allocations.into_iter().map(|a| allocation_view(a, &cur, base)).collect(),
        currency: cur,
        version: p.version,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Uuid,
    pub payment_date: NaiveDate,
    #[schema(value_type = String, example = "1130.00")]
    pub amount: Money,
    /// Default: the party's currency, else the base currency.
    pub currency: Option<String>,
    #[schema(value_type = Option<String>, example = "7.123400")]
    pub exchange_rate: Option<Rate>,
    /// The cash or bank account; default the mapped bank account.
    pub account_id: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: Option<String>,
    /// Invoices it settles; what is left stays on account.
    #[serde(default)]
    pub allocations: Vec<AllocationRequest>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    #[serde(alias = "customer_id", alias = "supplier_id")]
    pub party_id: Option<Uuid>,
    /// Only those with something not yet allocated.
    #[serde(default)]
    pub open: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn payment_path(side: Side) -> &'static str {
    if side == Side::Receivable { "receipts" } else { "payments" }
}

fn payment_response(
    status: StatusCode,
    side: Side,
    p: Payment,
    allocations: Vec<Allocation>,
    base: &str,
) -> HttpResponse {
    let v = payment_view(p, allocations, base);
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/{}/{}", payment_path(side), v.id)))
        .insert_header(etag(v.version))
        .json(v)
}

macro_rules! payment_handlers {
    ($side:expr, $tag:literal, $path:literal, $path_id:literal, $path_allocate:literal, $path_cancel:literal,
     $list:ident, $create:ident, $get:ident, $allocate:ident, $cancel:ident) => {
        #[utoipa::path(tag = $tag, operation_id = stringify!($list), params(PaymentQuery),
            responses((status = 200, body = ListResponse<PaymentView>)))]
        #[get($path)]
        pub async fn $list(
            app: web::Data<AppState>,
            auth: Authorized<FinanceRead>,
            q: web::Query<PaymentQuery>,
        ) -> Result<HttpResponse, AppError> {
            let q = q.into_inner();
            let page = page(q.limit, q.cursor.as_deref())?;
            let filter = PaymentFilter {
                party_id: q.party_id,
                open: q.open,
                include_cancelled: !q.open,
                from: q.from,
                to: q.to,
                currency: None,
            };
            let rows = app::list_payments(&app, auth.tenant_id(), $side, &page, &filter).await?;
            let (rows, next_cursor) = paginate(rows, &page, |p| p.id);
            let base = auth.tenant.base_currency.clone();
            Ok(HttpResponse::Ok().json(ListResponse {
                data: rows.into_iter().map(|p| payment_view(p, Vec::new(), &base)).collect(),
                next_cursor,
            }))
        }

        /// Record and post it (cash or bank against the control account), allocating it to
        /// the invoices named; the rest stays on account. A different rate from the invoice's
        /// posts the realized exchange difference.
        #[utoipa::path(tag = $tag, operation_id = stringify!($create), request_body = PaymentRequest,
            responses((status = 201, body = PaymentView), (status = 409, body = Problem), (status = 422, body = Problem)))]
        #[post($path)]
        pub async fn $create(
            app: web::Data<AppState>,
            auth: Authorized<FinanceWrite>,
            body: ApiJson<PaymentRequest>,
        ) -> Result<HttpResponse, AppError> {
            let b = body.0;
            let input = app::PaymentInput {
                party_id: b.party_id,
                payment_date: b.payment_date,
                amount: b.amount.value(),
                currency: b.currency,
                exchange_rate: b.exchange_rate.map(Rate::value),
                account_id: b.account_id,
                reference: b.reference,
                memo: b.memo,
                allocations: pairs(b.allocations),
            };
            let (p, allocations) = app::create_payment(&app, &auth.ctx(), $side, input).await?;
            Ok(payment_response(StatusCode::CREATED, $side, p, allocations, &auth.tenant.base_currency))
        }

        #[utoipa::path(tag = $tag, operation_id = stringify!($get),
            responses((status = 200, body = PaymentView), (status = 404, body = Problem)))]
        #[get($path_id)]
        pub async fn $get(
            app: web::Data<AppState>,
            auth: Authorized<FinanceRead>,
            id: web::Path<Uuid>,
        ) -> Result<HttpResponse, AppError> {
            let (p, allocations) = app::get_payment(&app, auth.tenant_id(), $side, *id).await?;
            Ok(payment_response(StatusCode::OK, $side, p, allocations, &auth.tenant.base_currency))
        }

        /// Allocate what is left on it to invoices.
        #[utoipa::path(tag = $tag, operation_id = stringify!($allocate), request_body = AllocateRequest,
            responses((status = 201, body = Vec<AllocationView>), (status = 409, body = Problem), (status = 422, body = Problem)))]
        #[post($path_allocate)]
        pub async fn $allocate(
            app: web::Data<AppState>,
            auth: Authorized<FinanceWrite>,
            id: web::Path<Uuid>,
            body: ApiJson<AllocateRequest>,
        ) -> Result<HttpResponse, AppError> {
            let b = body.0;
            let (currency, done) = app::allocate(&app, &auth.ctx(), $side, *id, false, pairs(b.allocations), b.date).await?;
            let base = auth.tenant.base_currency.clone();
            Ok(HttpResponse::Created()
                .json(done.into_iter().map(|a| allocation_view(a, &currency, &base)).collect::<Vec<_>>()))
        }

        /// Cancel one that is not allocated; its entry is reversed.
        #[utoipa::path(tag = $tag, operation_id = stringify!($cancel), request_body = CancelRequest,
            responses((status = 200, body = PaymentView), (status = 409, body = Problem)))]
        #[post($path_cancel)]
        pub async fn $cancel(
            app: web::Data<AppState>,
            auth: Authorized<FinanceWrite>,
            id: web::Path<Uuid>,
            body: ApiJson<CancelRequest>,
        ) -> Result<HttpResponse, AppError> {
            let p = app::cancel_payment(&app, &auth.ctx(), $side, *id, body.0.date).await?;
            Ok(payment_response(StatusCode::OK, $side, p, Vec::new(), &auth.tenant.base_currency))
        }
    };
}

payment_handlers!(
    Side::Receivable,
    "receivables",
    "/receipts",
    "/receipts/{id}",
    "/receipts/{id}/allocate",
    "/receipts/{id}/cancel",
    list_receipts,
    create_receipt,
    get_receipt,
    allocate_receipt,
    cancel_receipt
);
payment_handlers!(
    Side::Payable,
    "payables",
    "/payments",
    "/payments/{id}",
    "/payments/{id}/allocate",
    "/payments/{id}/cancel",
    list_payments,
    create_payment,
    get_payment,
    allocate_payment,
    cancel_payment
);

// ---------------------------------------------------------------------------------------------
// Open items, statements, aging

#[derive(Serialize, ToSchema)]
pub struct OpenItemsView {
    pub party: PartyView,
    pub invoices: Vec<InvoiceView>,
    pub payments: Vec<PaymentView>,
}

#[derive(Serialize, ToSchema)]
pub struct StatementLineView {
    pub date: NaiveDate,
    /// invoice, credit_note, receipt, payment or write_off
    pub kind: &'static str,
    pub number: String,
    pub document_id: Uuid,
    pub reference: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub charge: String,
    pub credit: String,
    pub balance: String,
}

#[derive(Serialize, ToSchema)]
pub struct PartyStatementView {
    pub party: PartyView,
    pub currency: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub opening: String,
    pub lines: Vec<StatementLineView>,
    pub closing: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    pub from: NaiveDate,
    /// Default today.
    pub to: Option<NaiveDate>,
    /// Default the party's currency.
    pub currency: Option<String>,
    /// json (default) or csv
    pub format: Option<String>,
}

async fn open_items_for(
    side: Side,
    app: &AppState,
    tenant: crate::domain::ids::TenantId,
    id: Uuid,
    base: &str,
) -> Result<HttpResponse, AppError> {
    let o = app::open_items(app, tenant, side, id).await?;
    Ok(HttpResponse::Ok().json(OpenItemsView {
        party: PartyView::from(o.party),
        invoices: o.invoices.into_iter().map(|i| invoice_view(i, Vec::new(), Vec::new(), base)).collect(),
        payments: o.payments.into_iter().map(|p| payment_view(p, Vec::new(), base)).collect(),
    }))
}

async fn statement_for(
    side: Side,
    app: &AppState,
    tenant: crate::domain::ids::TenantId,
    id: Uuid,
    q: StatementQuery,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let to = q.to.unwrap_or_else(|| app.now().date_naive());
    let s = app::statement(app, tenant, side, id, q.from, to, q.currency).await?;
    let cur = s.currency.clone();
    let lines: Vec<StatementLineView> = s
        .lines
        .into_iter()
        .map(|l| StatementLineView {
            date: l.date,
            kind: l.kind,
            number: l.number,
            document_id: l.document_id,
            reference: l.reference,
            due_date: l.due_date,
            charge: amount(l.charge, &cur),
            credit: amount(l.credit, &cur),
            balance: amount(l.balance, &cur),
        })
        .collect();
    if csv {
        let mut body = format!(
            "date,kind,number,reference,due_date,charge,credit,balance\n{},opening,,,,,,{}\n",
            q.from,
            amount(s.opening, &cur)
        );
        for l in &lines {
            body.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                l.date,
                l.kind,
                csv_field(&l.number),
                csv_field(l.reference.as_deref().unwrap_or("")),
                l.due_date.map(|d| d.to_string()).unwrap_or_default(),
                l.charge,
                l.credit,
                l.balance
            ));
        }
        return Ok(csv_response(&format!("statement-{}-{to}.csv", s.party.code), body));
    }
    Ok(HttpResponse::Ok().json(PartyStatementView {
        party: PartyView::from(s.party),
        currency: cur.clone(),
        from: q.from,
        to,
        opening: amount(s.opening, &cur),
        lines,
        closing: amount(s.closing, &cur),
    }))
}

/// A customer's open invoices, credit notes and unallocated receipts.
#[utoipa::path(tag = "receivables", operation_id = "customer_open_items",
    responses((status = 200, body = OpenItemsView), (status = 404, body = Problem)))]
#[get("/customers/{id}/open-items")]
pub async fn customer_open_items(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    open_items_for(Side::Receivable, &app, auth.tenant_id(), *id, &auth.tenant.base_currency).await
}

/// A customer's statement of account in one currency (CSV with `format=csv`).
#[utoipa::path(tag = "receivables", operation_id = "customer_statement", params(StatementQuery),
    responses((status = 200, body = PartyStatementView), (status = 404, body = Problem)))]
#[get("/customers/{id}/statement")]
pub async fn customer_statement(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
    q: web::Query<StatementQuery>,
) -> Result<HttpResponse, AppError> {
    statement_for(Side::Receivable, &app, auth.tenant_id(), *id, q.into_inner()).await
}

/// A supplier's open invoices, credit notes and unallocated payments.
#[utoipa::path(tag = "payables", operation_id = "supplier_open_items",
    responses((status = 200, body = OpenItemsView), (status = 404, body = Problem)))]
#[get("/suppliers/{id}/open-items")]
pub async fn supplier_open_items(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    open_items_for(Side::Payable, &app, auth.tenant_id(), *id, &auth.tenant.base_currency).await
}

/// A supplier's statement of account in one currency (CSV with `format=csv`).
#[utoipa::path(tag = "payables", operation_id = "supplier_statement", params(StatementQuery),
    responses((status = 200, body = PartyStatementView), (status = 404, body = Problem)))]
#[get("/suppliers/{id}/statement")]
pub async fn supplier_statement(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
    q: web::Query<StatementQuery>,
) -> Result<HttpResponse, AppError> {
    statement_for(Side::Payable, &app, auth.tenant_id(), *id, q.into_inner()).await
}

#[derive(Serialize, ToSchema)]
pub struct AgingRowView {
    pub party_id: Uuid,
    pub code: String,
    pub name: String,
    pub current: String,
    #[serde(rename = "1_30")]
    pub days_1_30: String,
    #[serde(rename = "31_60")]
    pub days_31_60: String,
    #[serde(rename = "61_90")]
    pub days_61_90: String,
    pub over_90: String,
    /// Credit notes and payments not yet allocated.
    pub unapplied: String,
    pub total: String,
}

#[derive(Serialize, ToSchema)]
pub struct AgingView {
    pub as_of: NaiveDate,
    pub currency: String,
    pub rows: Vec<AgingRowView>,
    pub totals: AgingRowView,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AgingQuery {
    /// Default today.
    pub as_of: Option<NaiveDate>,
    /// json (default) or csv
    pub format: Option<String>,
}

fn aging_row(
    id: Uuid,
    code: String,
    name: String,
    b: &[Decimal; 5],
    unapplied: Decimal,
    total: Decimal,
    cur: &str,
) -> AgingRowView {
    AgingRowView {
        party_id: id,
        code,
        name,
        current: amount(b[0], cur),
        days_1_30: amount(b[1], cur),
        days_31_60: amount(b[2], cur),
        days_61_90: amount(b[3], cur),
        over_90: amount(b[4], cur),
        unapplied: amount(unapplied, cur),
        total: amount(total, cur),
    }
}

async fn aging_for(
    side: Side,
    app: &AppState,
    tenant: crate::domain::ids::TenantId,
    base: &str,
    q: AgingQuery,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let as_of = q.as_of.unwrap_or_else(|| app.now().date_naive());
    let a = app::aging(app, tenant, side, as_of).await?;
    let rows: Vec<AgingRowView> = a
        .rows
        .into_iter()
        .map(|r| aging_row(r.party.id, r.party.code, r.party.name, &r.buckets, r.unapplied, r.total, base))
        .collect();
    let totals = aging_row(Uuid::nil(), "TOTAL".into(), String::new(), &a.totals, a.unapplied, a.total, base);
    if csv {
        let mut body = format!("code,name,{},unapplied,total\n", BUCKETS.join(","));
        for r in rows.iter().chain(std::iter::once(&totals)) {
            body.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                csv_field(&r.code),
                csv_field(&r.name),
                r.current,
                r.days_1_30,
                r.days_31_60,
                r.days_61_90,
                r.over_90,
                r.unapplied,
                r.total
            ));
        }
        let name = if side == Side::Receivable { "ar-aging" } else { "ap-aging" };
        return Ok(csv_response(&format!("{name}-{as_of}.csv"), body));
    }
    Ok(HttpResponse::Ok().json(AgingView { as_of, currency: base.to_owned(), rows, totals }))
}

/// Receivables aging: what each customer owes by days past due, in the base currency.
#[utoipa::path(tag = "reports", operation_id = "ar_aging", params(AgingQuery), responses((status = 200, body = AgingView)))]
#[get("/reports/ar-aging")]
pub async fn ar_aging(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<AgingQuery>,
) -> Result<HttpResponse, AppError> {
    aging_for(Side::Receivable, &app, auth.tenant_id(), &auth.tenant.base_currency.clone(), q.into_inner()).await
}

/// Payables aging: what is owed to each supplier by days past due, in the base currency.
#[utoipa::path(tag = "reports", operation_id = "ap_aging", params(AgingQuery), responses((status = 200, body = AgingView)))]
#[get("/reports/ap-aging")]
pub async fn ap_aging(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<AgingQuery>,
) -> Result<HttpResponse, AppError> {
    aging_for(Side::Payable, &app, auth.tenant_id(), &auth.tenant.base_currency.clone(), q.into_inner()).await
}
