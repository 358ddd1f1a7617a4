//! Tax codes, customers and suppliers, invoices and credit notes, receipts and payments, and
//! the allocations between them.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entities::{allocations, invoice_lines, invoices, parties, payments, tax_codes};
use super::scaled::{money_from_db, money_to_db, rate_from_db, rate_to_db, to_scaled};
use super::{Page, TenantTx, date_str, is_unique_violation, parse_date};
use crate::domain::receivables::Side;
use crate::error::{AppError, AppResult};

fn side_of(s: &str) -> AppResult<Side> {
    Side::parse(s).ok_or_else(|| AppError::internal(format!("stored side {s}")))
}

fn qty_to_db(v: Decimal) -> AppResult<i64> {
    to_scaled(v, 4)
}

// ---------------------------------------------------------------------------------------------
// Tax codes

#[derive(Clone, Debug, PartialEq)]
pub struct TaxCode {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// 0.13 for 13 %.
    pub rate: Decimal,
    /// Exempt supplies (免税): no tax, reported apart from zero-rated ones.
    pub is_exempt: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<tax_codes::Model> for TaxCode {
    fn from(m: tax_codes::Model) -> Self {
        Self {
            id: m.id,
            code: m.code,
            name: m.name,
            rate: rate_from_db(m.rate),
            is_exempt: m.is_exempt,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

pub async fn insert_tax_codes(tx: &TenantTx<'_>, list: &[TaxCode]) -> AppResult<()> {
    for t in list {
        let am = tax_codes::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            id: Set(t.id),
            code: Set(t.code.clone()),
            name: Set(t.name.clone()),
            rate: Set(rate_to_db(t.rate)?),
            is_exempt: Set(t.is_exempt),
            is_active: Set(t.is_active),
            created_at: Set(t.created_at),
            updated_at: Set(t.updated_at),
            version: Set(t.version),
        };
        match tax_codes::Entity::insert(am).exec_without_returning(tx.conn()).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::Conflict(format!("tax code {} already exists", t.code)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn tax_codes(tx: &TenantTx<'_>) -> AppResult<Vec<TaxCode>> {
    Ok(tax_codes::Entity::find()
        .filter(tax_codes::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(tax_codes::Column::Code)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(TaxCode::from)
        .collect())
}

pub async fn update_tax_code(tx: &TenantTx<'_>, t: &TaxCode) -> AppResult<bool> {
    let res = tax_codes::Entity::update_many()
        .col_expr(tax_codes::Column::Name, Expr::value(t.name.clone()))
        .col_expr(tax_codes::Column::IsActive, Expr::value(t.is_active))
        .col_expr(tax_codes::Column::UpdatedAt, Expr::value(t.updated_at))
        .col_expr(tax_codes::Column::Version, Expr::value(t.version))
        .filter(tax_codes::Column::TenantId.eq(tx.tenant().0))
        .filter(tax_codes::Column::Id.eq(t.id))
        .filter(tax_codes::Column::Version.eq(t.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

// ---------------------------------------------------------------------------------------------
// Parties

#[derive(Clone, Debug, PartialEq)]
pub struct Party {
    pub id: Uuid,
    /// Receivable: a customer. Payable: a supplier.
    pub side: Side,
    pub code: String,
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Default currency of their documents; None: the base currency.
    pub currency: Option<String>,
    pub payment_terms_days: i32,
    pub credit_limit: Option<Decimal>,
    pub is_active: bool,
    /// Customer or supplier group (price lists can apply per group).
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub contacts: Vec<Contact>,
    pub shipping_address: Option<String>,
    /// `net` or `end_of_month` (domain::trade::due_date).
    pub due_rule: String,
    pub price_list_id: Option<Uuid>,
    /// The salesperson (or buyer) who looks after them.
    pub owner_id: Option<Uuid>,
    /// Sales region (lead assignment rules can match it).
    pub region: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A person at a customer or supplier.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

fn party_from(m: parties::Model) -> AppResult<Party> {
    Ok(Party {
        id: m.id,
        side: if m.kind == "customer" { Side::Receivable } else { Side::Payable },
        code: m.code,
        name: m.name,
        tax_id: m.tax_id,
        email: m.email,
        phone: m.phone,
        address: m.address,
        currency: m.currency,
        payment_terms_days: m.payment_terms_days,
        credit_limit: m.credit_limit.map(money_from_db),
        is_active: m.is_active,
        group: m.party_group,
        tags: serde_json::from_str(&m.tags).map_err(AppError::internal)?,
        contacts: serde_json::from_str(&m.contacts).map_err(AppError::internal)?,
        shipping_address: m.shipping_address,
        due_rule: m.due_rule,
        price_list_id: m.price_list_id,
        owner_id: m.owner_id,
        region: m.region,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn party_am(tx: &TenantTx<'_>, p: &Party) -> AppResult<parties::ActiveModel> {
    Ok(parties::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(p.id),
        kind: Set(p.side.party_kind().to_owned()),
        code: Set(p.code.clone()),
        name: Set(p.name.clone()),
        tax_id: Set(p.tax_id.clone()),
        email: Set(p.email.clone()),
        phone: Set(p.phone.clone()),
        address: Set(p.address.clone()),
        currency: Set(p.currency.clone()),
        payment_terms_days: Set(p.payment_terms_days),
        credit_limit: Set(p.credit_limit.map(money_to_db).transpose()?),
        is_active: Set(p.is_active),
        party_group: Set(p.group.clone()),
        tags: Set(serde_json::to_string(&p.tags).map_err(AppError::internal)?),
        contacts: Set(serde_json::to_string(&p.contacts).map_err(AppError::internal)?),
        shipping_address: Set(p.shipping_address.clone()),
        due_rule: Set(p.due_rule.clone()),
        price_list_id: Set(p.price_list_id),
        owner_id: Set(p.owner_id),
        region: Set(p.region.clone()),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
}

pub async fn insert_party(tx: &TenantTx<'_>, p: &Party) -> AppResult<()> {
    match parties::Entity::insert(party_am(tx, p)?).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict(format!("a {} with code {} already exists", p.side.party_kind(), p.code)))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn get_party(tx: &TenantTx<'_>, side: Side, id: Uuid) -> AppResult<Option<Party>> {
    parties::Entity::find()
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Kind.eq(side.party_kind()))
        .filter(parties::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(party_from)
        .transpose()
}

/// A customer whose email (compared lower-case) is this one, if any.
pub async fn customer_with_email(tx: &TenantTx<'_>, email_key: &str) -> AppResult<Option<Party>> {
    use sea_orm::sea_query::{Expr, Func};
    parties::Entity::find()
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Kind.eq("customer"))
        .filter(Expr::expr(Func::lower(Expr::col(parties::Column::Email))).eq(email_key))
        .one(tx.conn())
        .await?
        .map(party_from)
        .transpose()
}

pub async fn parties_by_id(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<Party>> {
    parties::Entity::find()
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(party_from)
        .collect()
}

/// Narrows a party list by group and tag.
#[derive(Clone, Debug, Default)]
pub struct PartyFilter {
    pub group: Option<String>,
    pub tag: Option<String>,
}

pub async fn list_parties(
    tx: &TenantTx<'_>,
    side: Side,
    page: &Page,
    q: Option<&str>,
    active: Option<bool>,
    filter: &PartyFilter,
) -> AppResult<Vec<Party>> {
    let mut query = parties::Entity::find()
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Kind.eq(side.party_kind()));
    if let Some(text) = q {
        let like = format!("%{text}%");
        query = query.filter(parties::Column::Code.like(like.clone()).or(parties::Column::Name.like(like)));
    }
    if let Some(a) = active {
        query = query.filter(parties::Column::IsActive.eq(a));
    }
    if let Some(g) = &filter.group {
        query = query.filter(parties::Column::PartyGroup.eq(g.clone()));
    }
    if let Some(t) = &filter.tag {
        // Tags are stored as a JSON array of lower-case strings.
        let quoted = serde_json::to_string(&t.trim().to_lowercase()).map_err(AppError::internal)?;
        query = query.filter(parties::Column::Tags.like(format!("%{quoted}%")));
    }
    if let Some(after) = page.after {
        query = query.filter(parties::Column::Id.gt(after));
    }
    query
        .order_by_asc(parties::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(party_from)
        .collect()
}

pub async fn update_party(tx: &TenantTx<'_>, p: &Party) -> AppResult<bool> {
    let mut am = party_am(tx, p)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.kind = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let res = parties::Entity::update_many()
        .set(am)
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Id.eq(p.id))
        .filter(parties::Column::Version.eq(p.version - 1))
        .exec(tx.conn())
        .await;
    match res {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict(format!("a {} with code {} already exists", p.side.party_kind(), p.code)))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Invoices and credit notes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceStatus {
    Draft,
    Posted,
    Cancelled,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Posted => "posted",
            InvoiceStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> AppResult<Self> {
        match s {
            "draft" => Ok(InvoiceStatus::Draft),
            "posted" => Ok(InvoiceStatus::Posted),
            "cancelled" => Ok(InvoiceStatus::Cancelled),
            _ => Err(AppError::internal(format!("stored invoice status {s}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Invoice {
    pub id: Uuid,
    pub side: Side,
    pub is_credit_note: bool,
    pub number: Option<String>,
    pub party_id: Uuid,
    pub status: InvoiceStatus,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub currency: String,
    pub exchange_rate: Decimal,
    pub tax_inclusive: bool,
    pub reference: Option<String>,
    pub memo: String,
    pub net_total: Decimal,
    pub tax_total: Decimal,
    pub gross_total: Decimal,
    pub gross_base: Decimal,
    pub open_amount: Decimal,
    pub open_base: Decimal,
    pub credit_note_of: Option<Uuid>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub journal_entry_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// A supplier invoice that failed its three-way match: why it may not be paid yet.
    pub hold_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceLine {
    pub description: String,
    pub account_id: Uuid,
    pub item_id: Option<Uuid>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub tax_code_id: Option<Uuid>,
    pub net: Decimal,
    pub tax: Decimal,
    pub gross: Decimal,
    /// An amount off `quantity × unit_price` (line and document discounts).
    pub discount: Decimal,
    /// The order line and shipment line it bills, when it comes from sales or purchasing.
    pub link: Option<LineLink>,
}

/// An invoice line's origin: an order line, and the shipment line when it bills goods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineLink {
    pub order_id: Uuid,
    pub order_line_no: i32,
    pub shipment: Option<(Uuid, i32)>,
}

fn invoice_from(m: invoices::Model) -> AppResult<Invoice> {
    Ok(Invoice {
        id: m.id,
        side: side_of(&m.side)?,
        is_credit_note: m.is_credit_note,
        number: m.number,
        party_id: m.party_id,
        status: InvoiceStatus::parse(&m.status)?,
        invoice_date: parse_date(&m.invoice_date)?,
        due_date: parse_date(&m.due_date)?,
        currency: m.currency,
        exchange_rate: rate_from_db(m.exchange_rate),
        tax_inclusive: m.tax_inclusive,
        reference: m.reference,
        memo: m.memo,
        net_total: money_from_db(m.net_total),
        tax_total: money_from_db(m.tax_total),
        gross_total: money_from_db(m.gross_total),
        gross_base: money_from_db(m.gross_base),
        open_amount: money_from_db(m.open_amount),
        open_base: money_from_db(m.open_base),
        credit_note_of: m.credit_note_of,
        source_type: m.source_type,
        source_id: m.source_id,
        journal_entry_id: m.journal_entry_id,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
        hold_reason: m.hold_reason,
    })
}

fn invoice_am(tx: &TenantTx<'_>, i: &Invoice) -> AppResult<invoices::ActiveModel> {
    Ok(invoices::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(i.id),
        side: Set(i.side.as_str().to_owned()),
        is_credit_note: Set(i.is_credit_note),
        number: Set(i.number.clone()),
        party_id: Set(i.party_id),
        status: Set(i.status.as_str().to_owned()),
        invoice_date: Set(date_str(i.invoice_date)),
        due_date: Set(date_str(i.due_date)),
        currency: Set(i.currency.clone()),
        exchange_rate: Set(rate_to_db(i.exchange_rate)?),
        tax_inclusive: Set(i.tax_inclusive),
        reference: Set(i.reference.clone()),
        memo: Set(i.memo.clone()),
        net_total: Set(money_to_db(i.net_total)?),
        tax_total: Set(money_to_db(i.tax_total)?),
        gross_total: Set(money_to_db(i.gross_total)?),
        gross_base: Set(money_to_db(i.gross_base)?),
        open_amount: Set(money_to_db(i.open_amount)?),
        open_base: Set(money_to_db(i.open_base)?),
        credit_note_of: Set(i.credit_note_of),
        source_type: Set(i.source_type.clone()),
        source_id: Set(i.source_id.clone()),
        journal_entry_id: Set(i.journal_entry_id),
        created_by: Set(i.created_by),
        created_at: Set(i.created_at),
        updated_at: Set(i.updated_at),
        version: Set(i.version),
        hold_reason: Set(i.hold_reason.clone()),
    })
}

async fn insert_invoice_lines(tx: &TenantTx<'_>, id: Uuid, lines: &[InvoiceLine]) -> AppResult<()> {
    let mut rows = Vec::with_capacity(lines.len());
    for (n, l) in lines.iter().enumerate() {
        rows.push(invoice_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            invoice_id: Set(id),
            line_no: Set(i32::try_from(n + 1).map_err(AppError::internal)?),
            description: Set(l.description.clone()),
            account_id: Set(l.account_id),
            item_id: Set(l.item_id),
            quantity: Set(qty_to_db(l.quantity)?),
            unit_price: Set(money_to_db(l.unit_price)?),
            tax_code_id: Set(l.tax_code_id),
            net: Set(money_to_db(l.net)?),
            tax: Set(money_to_db(l.tax)?),
            gross: Set(money_to_db(l.gross)?),
            discount: Set(money_to_db(l.discount)?),
            order_id: Set(l.link.map(|k| k.order_id)),
            order_line_no: Set(l.link.map(|k| k.order_line_no)),
            shipment_id: Set(l.link.and_then(|k| k.shipment.map(|s| s.0))),
            shipment_line_no: Set(l.link.and_then(|k| k.shipment.map(|s| s.1))),
        });
    }
    for chunk in rows.chunks(60) {
        invoice_lines::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert_invoice(tx: &TenantTx<'_>, i: &Invoice, lines: &[InvoiceLine]) -> AppResult<()> {
    invoices::Entity::insert(invoice_am(tx, i)?).exec_without_returning(tx.conn()).await?;
    insert_invoice_lines(tx, i.id, lines).await
}

/// Replaces a draft's header and lines if its version still matches.
pub async fn replace_draft_invoice(tx: &TenantTx<'_>, i: &Invoice, lines: &[InvoiceLine]) -> AppResult<bool> {
    if !save_invoice(tx, i).await? {
        return Ok(false);
    }
    invoice_lines::Entity::delete_many()
        .filter(invoice_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(invoice_lines::Column::InvoiceId.eq(i.id))
        .exec(tx.conn())
        .await?;
    insert_invoice_lines(tx, i.id, lines).await?;
    Ok(true)
}

/// Saves a changed header (status, number, open amounts...) if the version still matches
/// (`i.version` is the new version).
pub async fn save_invoice(tx: &TenantTx<'_>, i: &Invoice) -> AppResult<bool> {
    let mut am = invoice_am(tx, i)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let res = invoices::Entity::update_many()
        .set(am)
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Id.eq(i.id))
        .filter(invoices::Column::Version.eq(i.version - 1))
        .exec(tx.conn())
        .await;
    match res {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => Err(AppError::Conflict("the invoice number is taken".into())),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_draft_invoice(tx: &TenantTx<'_>, id: Uuid) -> AppResult<bool> {
    let res = invoices::Entity::delete_many()
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Id.eq(id))
        .filter(invoices::Column::Status.eq("draft"))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn get_invoice(tx: &TenantTx<'_>, side: Side, id: Uuid) -> AppResult<Option<(Invoice, Vec<InvoiceLine>)>> {
    let Some(m) = invoices::Entity::find()
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Side.eq(side.as_str()))
        .filter(invoices::Column::Id.eq(id))
        .one(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let lines = invoice_lines::Entity::find()
        .filter(invoice_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(invoice_lines::Column::InvoiceId.eq(id))
        .order_by_asc(invoice_lines::Column::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|l| InvoiceLine {
            description: l.description,
            account_id: l.account_id,
            item_id: l.item_id,
            quantity: money_from_db(l.quantity),
            unit_price: money_from_db(l.unit_price),
            tax_code_id: l.tax_code_id,
            net: money_from_db(l.net),
            tax: money_from_db(l.tax),
            gross: money_from_db(l.gross),
            discount: money_from_db(l.discount),
            link: l.order_id.zip(l.order_line_no).map(|(order_id, order_line_no)| LineLink {
                order_id,
                order_line_no,
                shipment: l.shipment_id.zip(l.shipment_line_no),
            }),
        })
        .collect();
    Ok(Some((invoice_from(m)?, lines)))
}

#[derive(Default)]
pub struct InvoiceFilter {
    pub party_id: Option<Uuid>,
    pub status: Option<InvoiceStatus>,
    pub is_credit_note: Option<bool>,
    /// Only documents with something left open.
    pub open: bool,
    pub to: Option<NaiveDate>,
    pub from: Option<NaiveDate>,
    pub currency: Option<String>,
    pub q: Option<String>,
}

pub async fn list_invoices(tx: &TenantTx<'_>, side: Side, page: &Page, f: &InvoiceFilter) -> AppResult<Vec<Invoice>> {
    let mut q = invoices::Entity::find()
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Side.eq(side.as_str()));
    if let Some(p) = f.party_id {
        q = q.filter(invoices::Column::PartyId.eq(p));
    }
    if let Some(s) = f.status {
        q = q.filter(invoices::Column::Status.eq(s.as_str()));
    }
    if let Some(c) = f.is_credit_note {
        q = q.filter(invoices::Column::IsCreditNote.eq(c));
    }
    if f.open {
        q = q.filter(invoices::Column::Status.eq("posted")).filter(invoices::Column::OpenAmount.gt(0));
    }
    if let Some(d) = f.from {
        q = q.filter(invoices::Column::InvoiceDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(invoices::Column::InvoiceDate.lte(date_str(d)));
    }
    if let Some(c) = &f.currency {
        q = q.filter(invoices::Column::Currency.eq(c.clone()));
    }
    if let Some(text) = &f.q {
        let like = format!("%{text}%");
        q = q.filter(
            invoices::Column::Number
                .like(like.clone())
                .or(invoices::Column::Reference.like(like.clone()))
                .or(invoices::Column::Memo.like(like)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(invoices::Column::Id.gt(after));
    }
    q.order_by_asc(invoices::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(invoice_from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Receipts and payments

#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub id: Uuid,
    pub side: Side,
    pub number: String,
    pub party_id: Uuid,
    pub is_cancelled: bool,
    pub payment_date: NaiveDate,
    pub currency: String,
    pub exchange_rate: Decimal,
    pub amount: Decimal,
    pub amount_base: Decimal,
    pub unallocated: Decimal,
    pub unallocated_base: Decimal,
    /// The cash or bank account it went through.
    pub account_id: Uuid,
    pub reference: Option<String>,
    pub memo: String,
    pub journal_entry_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn payment_from(m: payments::Model) -> AppResult<Payment> {
    Ok(Payment {
        id: m.id,
        side: side_of(&m.side)?,
        number: m.number,
        party_id: m.party_id,
        is_cancelled: m.status == "cancelled",
        payment_date: parse_date(&m.payment_date)?,
        currency: m.currency,
        exchange_rate: rate_from_db(m.exchange_rate),
        amount: money_from_db(m.amount),
        amount_base: money_from_db(m.amount_base),
        unallocated: money_from_db(m.unallocated),
        unallocated_base: money_from_db(m.unallocated_base),
        account_id: m.account_id,
        reference: m.reference,
        memo: m.memo,
        journal_entry_id: m.journal_entry_id,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn payment_am(tx: &TenantTx<'_>, p: &Payment) -> AppResult<payments::ActiveModel> {
    Ok(payments::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(p.id),
        side: Set(p.side.as_str().to_owned()),
        number: Set(p.number.clone()),
        party_id: Set(p.party_id),
        status: Set(if p.is_cancelled { "cancelled" } else { "posted" }.to_owned()),
        payment_date: Set(date_str(p.payment_date)),
        currency: Set(p.currency.clone()),
        exchange_rate: Set(rate_to_db(p.exchange_rate)?),
        amount: Set(money_to_db(p.amount)?),
        amount_base: Set(money_to_db(p.amount_base)?),
        unallocated: Set(money_to_db(p.unallocated)?),
        unallocated_base: Set(money_to_db(p.unallocated_base)?),
        account_id: Set(p.account_id),
        reference: Set(p.reference.clone()),
        memo: Set(p.memo.clone()),
        journal_entry_id: Set(p.journal_entry_id),
        created_by: Set(p.created_by),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
}

pub async fn insert_payment(tx: &TenantTx<'_>, p: &Payment) -> AppResult<()> {
    payments::Entity::insert(payment_am(tx, p)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Saves a changed payment if the version still matches (`p.version` is the new version).
pub async fn save_payment(tx: &TenantTx<'_>, p: &Payment) -> AppResult<bool> {
    let mut am = payment_am(tx, p)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let res = payments::Entity::update_many()
        .set(am)
        .filter(payments::Column::TenantId.eq(tx.tenant().0))
        .filter(payments::Column::Id.eq(p.id))
        .filter(payments::Column::Version.eq(p.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn get_payment(tx: &TenantTx<'_>, side: Side, id: Uuid) -> AppResult<Option<Payment>> {
    payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tx.tenant().0))
        .filter(payments::Column::Side.eq(side.as_str()))
        .filter(payments::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(payment_from)
        .transpose()
}

#[derive(Default)]
pub struct PaymentFilter {
    pub party_id: Option<Uuid>,
    pub open: bool,
    pub include_cancelled: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub currency: Option<String>,
}

pub async fn list_payments(tx: &TenantTx<'_>, side: Side, page: &Page, f: &PaymentFilter) -> AppResult<Vec<Payment>> {
    let mut q = payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tx.tenant().0))
        .filter(payments::Column::Side.eq(side.as_str()));
    if let Some(p) = f.party_id {
        q = q.filter(payments::Column::PartyId.eq(p));
    }
    if !f.include_cancelled {
        q = q.filter(payments::Column::Status.eq("posted"));
    }
    if f.open {
        q = q.filter(payments::Column::Unallocated.gt(0));
    }
    if let Some(d) = f.from {
        q = q.filter(payments::Column::PaymentDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(payments::Column::PaymentDate.lte(date_str(d)));
    }
    if let Some(c) = &f.currency {
        q = q.filter(payments::Column::Currency.eq(c.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(payments::Column::Id.gt(after));
    }
    q.order_by_asc(payments::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(payment_from)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Allocations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocationKind {
    Payment,
    CreditNote,
    WriteOff,
}

impl AllocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationKind::Payment => "payment",
            AllocationKind::CreditNote => "credit_note",
            AllocationKind::WriteOff => "write_off",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    pub id: Uuid,
    pub kind: AllocationKind,
    pub invoice_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub credit_note_id: Option<Uuid>,
    pub allocation_date: NaiveDate,
    /// In the invoice's currency.
    pub amount: Decimal,
    /// Base taken off the invoice.
    pub invoice_base: Decimal,
    /// Base taken off the payment or credit note.
    pub source_base: Decimal,
    /// The exchange-difference or write-off entry.
    pub journal_entry_id: Option<Uuid>,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

fn allocation_from(m: allocations::Model) -> AppResult<Allocation> {
    Ok(Allocation {
        id: m.id,
        kind: match m.kind.as_str() {
            "payment" => AllocationKind::Payment,
            "credit_note" => AllocationKind::CreditNote,
            "write_off" => AllocationKind::WriteOff,
            other => return Err(AppError::internal(format!("stored allocation kind {other}"))),
        },
        invoice_id: m.invoice_id,
        payment_id: m.payment_id,
        credit_note_id: m.credit_note_id,
        allocation_date: parse_date(&m.allocation_date)?,
        amount: money_from_db(m.amount),
        invoice_base: money_from_db(m.invoice_base),
        source_base: money_from_db(m.source_base),
        journal_entry_id: m.journal_entry_id,
        memo: m.memo,
        created_at: m.created_at,
    })
}

pub async fn insert_allocation(tx: &TenantTx<'_>, a: &Allocation) -> AppResult<()> {
    let am = allocations::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(a.id),
        kind: Set(a.kind.as_str().to_owned()),
        invoice_id: Set(a.invoice_id),
        payment_id: Set(a.payment_id),
        credit_note_id: Set(a.credit_note_id),
        allocation_date: Set(date_str(a.allocation_date)),
        amount: Set(money_to_db(a.amount)?),
        invoice_base: Set(money_to_db(a.invoice_base)?),
        source_base: Set(money_to_db(a.source_base)?),
        journal_entry_id: Set(a.journal_entry_id),
        memo: Set(a.memo.clone()),
        created_at: Set(a.created_at),
    };
    allocations::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Allocations touching a document: as the invoice settled, or as the payment or credit note
/// that settled.
pub async fn allocations_of(tx: &TenantTx<'_>, document: Uuid) -> AppResult<Vec<Allocation>> {
    allocations::Entity::find()
        .filter(allocations::Column::TenantId.eq(tx.tenant().0))
        .filter(
            allocations::Column::InvoiceId
                .eq(document)
                .or(allocations::Column::PaymentId.eq(document))
                .or(allocations::Column::CreditNoteId.eq(document)),
        )
        .order_by_asc(allocations::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(allocation_from)
        .collect()
}

/// Allocations of a set of invoices, for statements and aging.
pub async fn allocations_of_invoices(tx: &TenantTx<'_>, invoices: &[Uuid]) -> AppResult<Vec<Allocation>> {
    let mut out = Vec::new();
    for chunk in invoices.chunks(500) {
        let rows = allocations::Entity::find()
            .filter(allocations::Column::TenantId.eq(tx.tenant().0))
            .filter(allocations::Column::InvoiceId.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?;
        for m in rows {
            out.push(allocation_from(m)?);
        }
    }
    Ok(out)
}

/// Σ open base of posted invoices less credit notes less unallocated payments on a side: what
/// the control account must hold (receivable debit-positive, payable credit-positive).
pub async fn open_base_total(tx: &TenantTx<'_>, side: Side) -> AppResult<Decimal> {
    let docs = invoices::Entity::find()
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Side.eq(side.as_str()))
        .filter(invoices::Column::Status.eq("posted"))
        .all(tx.conn())
        .await?;
    let pays = payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tx.tenant().0))
        .filter(payments::Column::Side.eq(side.as_str()))
        .filter(payments::Column::Status.eq("posted"))
        .all(tx.conn())
        .await?;
    let mut total = 0i64;
    for d in docs {
        total += if d.is_credit_note { -d.open_base } else { d.open_base };
    }
    for p in pays {
        total -= p.unallocated_base;
    }
    Ok(money_from_db(total))
}

/// Whether anything is open on a side (the control account mapping may not change then).
pub async fn has_open_items(tx: &TenantTx<'_>, side: Side) -> AppResult<bool> {
    let inv = invoices::Entity::find()
        .filter(invoices::Column::TenantId.eq(tx.tenant().0))
        .filter(invoices::Column::Side.eq(side.as_str()))
        .filter(invoices::Column::Status.eq("posted"))
        .filter(invoices::Column::OpenAmount.gt(0))
        .one(tx.conn())
        .await?;
    let pay = payments::Entity::find()
        .filter(payments::Column::TenantId.eq(tx.tenant().0))
        .filter(payments::Column::Side.eq(side.as_str()))
        .filter(payments::Column::Status.eq("posted"))
        .filter(payments::Column::Unallocated.gt(0))
        .one(tx.conn())
        .await?;
    Ok(inv.is_some() || pay.is_some())
}
