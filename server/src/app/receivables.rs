//! Receivables and payables: tax codes, exchange rates, customers and suppliers, invoices and
//! credit notes, receipts and payments, allocation, write-off, open items, statements, aging.
//! Every posting goes through the ledger's posting engine inside the document's transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::ledger::{currency_and_rate, post_in, posting_error, reverse_in};
use super::{AppState, Change, Ctx, record};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{self as rules, EntryLine, minor_unit_digits};
use crate::domain::receivables::{self as ar, Counter, Open, Side};
use crate::domain::tax::{self, LineIn};
use crate::domain::trade::{self, TradeSide};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::ledger::{self as books, Entry};
use crate::store::receivables::{
    self as store, Allocation, AllocationKind, Contact, Invoice, InvoiceFilter, InvoiceLine, InvoiceStatus, LineLink,
    Party, Payment, PaymentFilter, TaxCode,
};
use crate::store::{Access, Page, TenantTx, fx, tenants};

pub const INVOICE_LINES_MAX: usize = 500;

/// The tax codes every tenant starts with (PRC VAT rates).
pub fn default_tax_codes(template: &str, now: DateTime<Utc>) -> Vec<TaxCode> {
    let cn = template == "cn_small_business";
    let list: [(&str, &str, &str, &str, bool); 6] = [
        ("VAT13", "增值税 13%", "VAT 13%", "0.13", false),
        ("VAT9", "增值税 9%", "VAT 9%", "0.09", false),
        ("VAT6", "增值税 6%", "VAT 6%", "0.06", false),
        ("VAT3", "增值税 3%（小规模）", "VAT 3% (small-scale)", "0.03", false),
        ("VAT0", "零税率", "Zero-rated", "0", false),
        ("EXEMPT", "免税", "Exempt", "0", true),
    ];
    list.iter()
        .map(|(code, zh, en, rate, exempt)| TaxCode {
            id: Uuid::now_v7(),
            code: (*code).into(),
            name: if cn { (*zh).into() } else { (*en).into() },
            rate: rate.parse().unwrap_or_default(),
            is_exempt: *exempt,
            is_active: true,
            created_at: now,
            updated_at: now,
            version: 1,
        })
        .collect()
}

fn party_json(p: &Party) -> serde_json::Value {
    serde_json::json!({
        "code": p.code, "name": p.name, "tax_id": p.tax_id, "currency": p.currency,
        "payment_terms_days": p.payment_terms_days, "credit_limit": p.credit_limit.map(|c| c.to_string()),
        "is_active": p.is_active, "group": p.group, "tags": p.tags, "due_rule": p.due_rule,
        "price_list_id": p.price_list_id, "contacts": p.contacts.len(), "owner_id": p.owner_id, "region": p.region,
    })
}

fn entity(side: Side) -> &'static str {
    match side {
        Side::Receivable => "customer",
        Side::Payable => "supplier",
    }
}

// ---------------------------------------------------------------------------------------------
// Tax codes and exchange rates

pub async fn tax_codes(app: &AppState, tenant: TenantId) -> AppResult<Vec<TaxCode>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::tax_codes(&tx).await?;
    tx.commit().await?;
    Ok(list)
}

pub struct NewTaxCode {
    pub code: String,
    pub name: String,
    pub rate: Decimal,
    pub is_exempt: bool,
}

pub async fn create_tax_code(app: &AppState, ctx: &Ctx, input: NewTaxCode) -> AppResult<TaxCode> {
    let mut f = Fields::new();
    let code = f.check("code", validate::name(&input.code, 20));
    let name = f.check("name", validate::name(&input.name, 100));
    if input.rate < Decimal::ZERO || input.rate >= Decimal::ONE {
        f.push("rate", "must be a fraction from 0 up to (not including) 1, e.g. 0.13 for 13%");
    }
    if input.is_exempt && !input.rate.is_zero() {
        f.push("rate", "an exempt code has rate 0");
    }
    f.finish()?;
    let (Some(code), Some(name)) = (code, name) else { return Err(AppError::internal("checked above")) };
    let now = app.now();
    let t = TaxCode {
        id: Uuid::now_v7(),
        code,
        name,
        rate: input.rate,
        is_exempt: input.is_exempt,
        is_active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    store::insert_tax_codes(&tx, std::slice::from_ref(&t)).await?;
    let after =
        serde_json::json!({"code": t.code, "name": t.name, "rate": t.rate.to_string(), "is_exempt": t.is_exempt});
    record(&tx, ctx, now, Change::new("tax_code.create", "tax_code", Some(t.id.to_string()), None, Some(after)))
        .await?;
    tx.commit().await?;
    Ok(t)
}

pub async fn update_tax_code(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    name: Option<String>,
    is_active: Option<bool>,
) -> AppResult<TaxCode> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::tax_codes(&tx)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound { entity: "tax code" })?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "tax code", current: before.version });
    }
    let mut after = before.clone();
    if let Some(n) = name {
        after.name = validate::name(&n, 100).map_err(|m| AppError::field("name", m))?;
    }
    if let Some(a) = is_active {
        after.is_active = a;
    }
    after.updated_at = now;
    after.version += 1;
    if !store::update_tax_code(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "tax code", current: before.version });
    }
    let snap = |t: &TaxCode| serde_json::json!({"name": t.name, "is_active": t.is_active});
    record(
        &tx,
        ctx,
        now,
        Change::new("tax_code.update", "tax_code", Some(id.to_string()), Some(snap(&before)), Some(snap(&after))),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn put_exchange_rate(
    app: &AppState,
    ctx: &Ctx,
    currency: &str,
    rate_date: NaiveDate,
    rate: Decimal,
) -> AppResult<fx::ExchangeRate> {
    let currency = validate::currency(currency).map_err(|m| AppError::field("currency", m))?;
    if rate <= Decimal::ZERO {
        return Err(AppError::field("rate", "must be positive"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    if tenants::current(&tx).await?.base_currency == currency {
        return Err(AppError::field("currency", "the base currency has no exchange rate"));
    }
    let r = fx::ExchangeRate { currency, rate_date, rate, created_at: now };
    fx::put(&tx, &r).await?;
    let after = serde_json::json!({"currency": r.currency, "rate_date": r.rate_date, "rate": r.rate.to_string()});
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "exchange_rate.set",
            "exchange_rate",
            Some(format!("{}:{}", r.currency, r.rate_date)),
            None,
            Some(after),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn exchange_rates(
    app: &AppState,
    tenant: TenantId,
    currency: Option<&str>,
) -> AppResult<Vec<fx::ExchangeRate>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = fx::list(&tx, currency, 500).await?;
    tx.commit().await?;
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Customers and suppliers

#[derive(Default)]
pub struct PartyInput {
    pub code: Option<String>,
    pub name: Option<String>,
    pub tax_id: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub currency: Option<Option<String>>,
    pub payment_terms_days: Option<i32>,
    pub credit_limit: Option<Option<Decimal>>,
    pub is_active: Option<bool>,
    pub group: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub contacts: Option<Vec<Contact>>,
    pub shipping_address: Option<Option<String>>,
    pub due_rule: Option<String>,
    pub price_list_id: Option<Option<Uuid>>,
    pub owner_id: Option<Option<Uuid>>,
    pub region: Option<Option<String>>,
}

/// Trimmed text, or None when empty; a field error when longer than `max` characters.
pub(crate) fn optional(f: &mut Fields, field: &str, v: Option<String>, max: usize) -> Option<String> {
    let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())?;
    if v.chars().count() > max {
        f.push(field.to_owned(), format!("must be at most {max} characters"));
    }
    Some(v)
}

/// Tags lower-cased and without repeats: 1 to 40 characters each, at most 20.
pub(crate) fn clean_tags(f: &mut Fields, field: &str, list: Vec<String>) -> Vec<String> {
    let mut clean: Vec<String> = Vec::new();
    for (i, t) in list.into_iter().enumerate() {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.chars().count() > 40 {
            f.push(format!("{field}[{i}]"), "must be 1 to 40 characters");
        } else if !clean.contains(&t) {
            clean.push(t);
        }
    }
    if clean.len() > 20 {
        f.push(field.to_owned(), "at most 20 tags");
    }
    clean
}

/// Applies an input to a party, checking every field; all problems are reported at once.
fn apply_party(p: &mut Party, input: PartyInput) -> AppResult<()> {
    let mut f = Fields::new();
    if let Some(c) = input.code
        && let Some(c) = f.check("code", validate::name(&c, 40))
    {
        p.code = c;
    }
    if let Some(n) = input.name
        && let Some(n) = f.check("name", validate::name(&n, 200))
    {
        p.name = n;
    }
    if let Some(v) = input.tax_id {
        p.tax_id = optional(&mut f, "tax_id", v, 40);
    }
    if let Some(v) = input.email {
        p.email = optional(&mut f, "email", v, 254);
    }
    if let Some(v) = input.phone {
        p.phone = optional(&mut f, "phone", v, 40);
    }
    if let Some(v) = input.address {
        p.address = optional(&mut f, "address", v, 500);
    }
    if let Some(c) = input.currency {
        p.currency = match c {
            None => None,
            Some(c) => f.check("currency", validate::currency(&c)),
        };
    }
    if let Some(d) = input.payment_terms_days {
        if !(0..=3650).contains(&d) {
            f.push("payment_terms_days", "must be between 0 and 3650");
        }
        p.payment_terms_days = d;
    }
    if let Some(l) = input.credit_limit {
        if l.is_some_and(|l| l < Decimal::ZERO) {
            f.push("credit_limit", "must not be negative");
        }
        p.credit_limit = l;
    }
    if let Some(a) = input.is_active {
        p.is_active = a;
    }
    if let Some(g) = input.group {
        p.group = optional(&mut f, "group", g, 40);
    }
    if let Some(tags) = input.tags {
        p.tags = clean_tags(&mut f, "tags", tags);
    }
    if let Some(contacts) = input.contacts {
        if contacts.len() > 50 {
            f.push("contacts", "at most 50 contacts");
        }
        let mut clean = Vec::with_capacity(contacts.len());
        for (i, c) in contacts.into_iter().enumerate() {
            let at = |x: &str| format!("contacts[{i}].{x}");
            let name = f.check(&at("name"), validate::name(&c.name, 200)).unwrap_or_default();
            clean.push(Contact {
                name,
                role: optional(&mut f, &at("role"), c.role, 100),
                email: optional(&mut f, &at("email"), c.email, 254),
                phone: optional(&mut f, &at("phone"), c.phone, 40),
            });
        }
        p.contacts = clean;
    }
    if let Some(v) = input.shipping_address {
        p.shipping_address = optional(&mut f, "shipping_address", v, 500);
    }
    if let Some(r) = input.due_rule {
        if !trade::DUE_RULES.contains(&r.as_str()) {
            f.push("due_rule", format!("must be one of {}", trade::DUE_RULES.join(", ")));
        }
        p.due_rule = r;
    }
    if let Some(l) = input.price_list_id {
        p.price_list_id = l;
    }
    if let Some(o) = input.owner_id {
        p.owner_id = o;
    }
    if let Some(r) = input.region {
        p.region = optional(&mut f, "region", r, 40);
    }
    f.finish()
}

/// An owner (of a customer, lead, opportunity or ticket) must be an active user of the tenant.
/// The customer a document names, which must be one of this tenant's (another tenant's is
/// invisible here, so it is "no such customer" too).
pub(crate) async fn check_customer(tx: &TenantTx<'_>, id: Uuid, field: &str) -> AppResult<Party> {
    crate::store::receivables::get_party(tx, Side::Receivable, id)
        .await?
        .ok_or_else(|| AppError::field(field, "no such customer"))
}

pub(crate) async fn check_owner(tx: &TenantTx<'_>, owner: Option<Uuid>, field: &str) -> AppResult<()> {
    let Some(id) = owner else { return Ok(()) };
    match crate::store::users::get(tx, crate::domain::ids::UserId(id)).await? {
        Some(u) if u.is_active => Ok(()),
        Some(_) => Err(AppError::field(field, "that user is deactivated")),
        None => Err(AppError::field(field, "no such user")),
    }
}

/// A party's default price list must exist and be for its side.
async fn check_price_list(tx: &TenantTx<'_>, p: &Party) -> AppResult<()> {
    let Some(id) = p.price_list_id else { return Ok(()) };
    let want = if p.side == Side::Receivable { TradeSide::Sales } else { TradeSide::Purchase };
    match crate::store::trade::get_price_list(tx, id).await? {
        Some(l) if l.side == want => Ok(()),
        Some(_) => Err(AppError::field("price_list_id", format!("is not a {} price list", want.as_str()))),
        None => Err(AppError::field("price_list_id", "no such price list")),
    }
}

pub async fn create_party(app: &AppState, ctx: &Ctx, side: Side, input: PartyInput) -> AppResult<Party> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let p = create_party_in(&tx, ctx, side, input, now).await?;
    tx.commit().await?;
    Ok(p)
}

/// Creates a customer or supplier in the caller's transaction (converting a lead makes one).
pub(crate) async fn create_party_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    side: Side,
    input: PartyInput,
    now: DateTime<Utc>,
) -> AppResult<Party> {
    let mut f = Fields::new();
    if input.code.is_none() {
        f.push("code", "is required");
    }
    if input.name.is_none() {
        f.push("name", "is required");
    }
    f.finish()?;
    let mut p = Party {
        id: Uuid::now_v7(),
        side,
        code: String::new(),
        name: String::new(),
        tax_id: None,
        email: None,
        phone: None,
        address: None,
        currency: None,
        payment_terms_days: 30,
        credit_limit: None,
        is_active: true,
        group: None,
        tags: Vec::new(),
        contacts: Vec::new(),
        shipping_address: None,
        due_rule: "net".into(),
        price_list_id: None,
        owner_id: None,
        region: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_party(&mut p, input)?;
    check_price_list(tx, &p).await?;
    check_owner(tx, p.owner_id, "owner_id").await?;
    store::insert_party(tx, &p).await?;
    record(
        tx,
        ctx,
        now,
        Change::new(
            &format!("{}.create", entity(side)),
            entity(side),
            Some(p.id.to_string()),
            None,
            Some(party_json(&p)),
        ),
    )
    .await?;
    Ok(p)
}

pub async fn update_party(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    if_match: i64,
    input: PartyInput,
) -> AppResult<Party> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let p = update_party_in(&tx, ctx, side, id, Some(if_match), input, now).await?;
    tx.commit().await?;
    Ok(p)
}

/// Edits a customer or supplier in the caller's transaction; `if_match` None skips the
/// version check (the caller holds what it read in this transaction).
pub(crate) async fn update_party_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    if_match: Option<i64>,
    input: PartyInput,
    now: DateTime<Utc>,
) -> AppResult<Party> {
    let before = store::get_party(tx, side, id).await?.ok_or(AppError::NotFound { entity: entity(side) })?;
    if if_match.is_some_and(|v| v != before.version) {
        return Err(AppError::StaleVersion { entity: entity(side), current: before.version });
    }
    let mut after = before.clone();
    apply_party(&mut after, input)?;
    if after.price_list_id != before.price_list_id {
        check_price_list(tx, &after).await?;
    }
    if after.owner_id != before.owner_id {
        check_owner(tx, after.owner_id, "owner_id").await?;
    }
    after.updated_at = now;
    after.version += 1;
    if !store::update_party(tx, &after).await? {
        return Err(AppError::StaleVersion { entity: entity(side), current: before.version });
    }
    record(
        tx,
        ctx,
        now,
        Change::new(
            &format!("{}.update", entity(side)),
            entity(side),
            Some(id.to_string()),
            Some(party_json(&before)),
            Some(party_json(&after)),
        ),
    )
    .await?;
    Ok(after)
}

pub async fn get_party(app: &AppState, tenant: TenantId, side: Side, id: Uuid) -> AppResult<Party> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let p = store::get_party(&tx, side, id).await?.ok_or(AppError::NotFound { entity: entity(side) })?;
    tx.commit().await?;
    Ok(p)
}

pub async fn list_parties(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    page: &Page,
    q: Option<&str>,
    active: Option<bool>,
    filter: &store::PartyFilter,
) -> AppResult<Vec<Party>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_parties(&tx, side, page, q, active, filter).await?;
    tx.commit().await?;
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Invoices and credit notes

pub struct InvoiceLineInput {
    pub description: String,
    pub account_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub tax_code_id: Option<Uuid>,
    /// An amount off `quantity × unit_price`; zero for lines keyed by hand.
    pub discount: Decimal,
    pub link: Option<LineLink>,
    /// The base amount this line's net must carry instead of its converted net (a goods
    /// receipt's value cleared from goods received not invoiced); the difference goes to
    /// `variance_account`.
    pub fixed_base: Option<FixedBase>,
}

/// A line whose net is booked at a given base amount, the rest to a variance account.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedBase {
    pub base: Decimal,
    pub variance_account: Uuid,
}

pub struct InvoiceInput {
    pub party_id: Uuid,
    pub is_credit_note: bool,
    /// For a credit note: the invoice it credits (it is settled against it when posted).
    pub credit_note_of: Option<Uuid>,
    pub invoice_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub currency: Option<String>,
    pub exchange_rate: Option<Decimal>,
    pub tax_inclusive: Option<bool>,
    pub reference: Option<String>,
    pub memo: Option<String>,
    pub lines: Vec<InvoiceLineInput>,
    /// The business document it comes from (a delivery, a goods receipt...), for other modules.
    pub source: Option<(String, String)>,
}

fn doc_name(side: Side, credit: bool) -> &'static str {
    match (side, credit) {
        (Side::Receivable, false) => "sales_invoice",
        (Side::Receivable, true) => "sales_credit_note",
        (Side::Payable, false) => "supplier_invoice",
        (Side::Payable, true) => "supplier_credit_note",
    }
}

fn doc_prefix(side: Side, credit: bool) -> &'static str {
    match (side, credit) {
        (Side::Receivable, false) => "SI",
        (Side::Receivable, true) => "SCN",
        (Side::Payable, false) => "PI",
        (Side::Payable, true) => "PCN",
    }
}

fn invoice_entity(side: Side) -> &'static str {
    match side {
        Side::Receivable => "sales invoice",
        Side::Payable => "supplier invoice",
    }
}

fn invoice_json(i: &Invoice, lines: &[InvoiceLine]) -> serde_json::Value {
    serde_json::json!({
        "number": i.number, "status": i.status.as_str(), "party_id": i.party_id, "is_credit_note": i.is_credit_note,
        "invoice_date": i.invoice_date, "due_date": i.due_date, "currency": i.currency,
        "exchange_rate": i.exchange_rate.to_string(), "gross_total": i.gross_total.to_string(),
        "open_amount": i.open_amount.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({
            "account_id": l.account_id, "quantity": l.quantity.to_string(), "unit_price": l.unit_price.to_string(),
            "tax_code_id": l.tax_code_id, "gross": l.gross.to_string()})).collect::<Vec<_>>(),
    })
}

pub(crate) async fn mapping(tx: &TenantTx<'_>) -> AppResult<HashMap<String, Uuid>> {
    Ok(books::mappings(tx).await?.into_iter().collect())
}

pub(crate) fn mapped(m: &HashMap<String, Uuid>, purpose: &str) -> AppResult<Uuid> {
    m.get(purpose).copied().ok_or_else(|| AppError::Conflict(format!("map the {purpose} purpose to an account first")))
}

fn control_purpose(side: Side) -> &'static str {
    match side {
        Side::Receivable => "accounts_receivable",
        Side::Payable => "accounts_payable",
    }
}

/// Validates an invoice input against the party, the chart and the tax codes and computes
/// its lines and totals. Returns the header (as a draft) and its lines.
async fn build_invoice(
    tx: &TenantTx<'_>,
    side: Side,
    input: InvoiceInput,
    id: Uuid,
    now: DateTime<Utc>,
    created_by: Option<Uuid>,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let party = store::get_party(tx, side, input.party_id)
        .await?
        .ok_or_else(|| AppError::field("party_id", format!("no such {}", entity(side))))?;
    if !party.is_active {
        return Err(AppError::field("party_id", format!("{} {} is inactive", entity(side), party.code)));
    }
    let settings = books::settings(tx).await?;
    let (currency, rate, base) = currency_and_rate(
        tx,
        input.currency.clone().or(party.currency.clone()),
        input.exchange_rate,
        input.invoice_date,
    )
    .await?;
    let m = mapping(tx).await?;
    let control = mapped(&m, control_purpose(side))?;
    // Inventory and goods in transit hold the stock ledger's value: only stock documents move them.
    let stock_accounts: Vec<Uuid> =
        ["inventory", "goods_in_transit"].iter().filter_map(|p| m.get(*p).copied()).collect();
    let codes: HashMap<Uuid, TaxCode> = store::tax_codes(tx).await?.into_iter().map(|t| (t.id, t)).collect();
    let mut f = Fields::new();
    if input.lines.is_empty() {
        f.push("lines", "an invoice needs at least one line");
    }
    if input.lines.len() > INVOICE_LINES_MAX {
        f.push("lines", format!("an invoice has at most {INVOICE_LINES_MAX} lines"));
    }
    let due_date = input
        .due_date
        .unwrap_or_else(|| trade::due_date(input.invoice_date, party.payment_terms_days, &party.due_rule));
    if due_date < input.invoice_date {
        f.push("due_date", "must not be before invoice_date");
    }
    let memo = input.memo.unwrap_or_default().trim().to_owned();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    let reference = input.reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        f.push("reference", "must be at most 100 characters");
    }
    if input.credit_note_of.is_some() && !input.is_credit_note {
        f.push("credit_note_of", "only a credit note credits another invoice");
    }
    if let Some(of) = input.credit_note_of {
        match store::get_invoice(tx, side, of).await? {
            None => f.push("credit_note_of", "no such invoice"),
            Some((o, _)) if o.is_credit_note || o.status != InvoiceStatus::Posted || o.party_id != party.id => {
                f.push("credit_note_of", "must be a posted invoice of the same party")
            }
            Some((o, _)) if o.currency != currency => {
                f.push("credit_note_of", format!("is in {}, this credit note in {currency}", o.currency))
            }
            Some(_) => {}
        }
    }
    let default_account = if side == Side::Receivable { m.get("revenue").copied() } else { None };
    let account_ids: Vec<Uuid> = input.lines.iter().filter_map(|l| l.account_id.or(default_account)).collect();
    let facts = books::account_facts(tx, &account_ids).await?;
    let digits = minor_unit_digits(&currency);
    let mut tax_in = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        if l.description.chars().count() > 500 {
            f.push(at("description"), "must be at most 500 characters");
        }
        if l.quantity <= Decimal::ZERO {
            f.push(at("quantity"), "must be positive");
        }
        if l.unit_price < Decimal::ZERO {
            f.push(at("unit_price"), "must not be negative (use a credit note)");
        }
        // Lines billing part of an order line may carry a negative rounding share.
        if l.discount < Decimal::ZERO && l.link.is_none() {
            f.push(at("discount"), "must not be negative");
        }
        match l.account_id.or(default_account) {
            None => {
                f.push(at("account_id"), "is required on supplier invoice lines (an expense, asset or GRNI account)")
            }
            Some(a) if a == control => f.push(at("account_id"), "is the control account of this invoice"),
            Some(a) if stock_accounts.contains(&a) => f.push(
                at("account_id"),
                "is an inventory account, which only stock documents move; book goods to goods received not invoiced",
            ),
            Some(a) => match facts.get(&a) {
                None => f.push(at("account_id"), "no such account"),
                Some(x) if !x.is_postable => f.push(at("account_id"), format!("account {} has sub-accounts", x.code)),
                Some(x) if !x.is_active => f.push(at("account_id"), format!("account {} is inactive", x.code)),
                Some(_) => {}
            },
        }
        let rate = match l.tax_code_id {
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
        tax_in.push(LineIn {
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount,
            tax_code: l.tax_code_id,
            rate,
        });
    }
    f.finish()?;
    let inclusive = input.tax_inclusive.unwrap_or(settings.prices_include_tax);
    let totals = tax::compute(&tax_in, inclusive, settings.tax_rounding, digits);
    if totals.gross <= Decimal::ZERO {
        return Err(AppError::field("lines", "the invoice total must be positive"));
    }
    let lines: Vec<InvoiceLine> = input
        .lines
        .into_iter()
        .zip(totals.lines.iter())
        .map(|(l, t)| InvoiceLine {
            description: l.description.trim().to_owned(),
            account_id: l.account_id.or(default_account).unwrap_or(control),
            item_id: l.item_id,
            quantity: l.quantity,
            unit_price: l.unit_price,
            tax_code_id: l.tax_code_id,
            net: t.net,
            tax: t.tax,
            gross: t.gross,
            discount: l.discount,
            link: l.link,
        })
        .collect();
    let gross_base = ar::to_base(totals.gross, rate, minor_unit_digits(&base));
    let (source_type, source_id) = input.source.map(|(t, i)| (Some(t), Some(i))).unwrap_or_default();
    Ok((
        Invoice {
            id,
            side,
            is_credit_note: input.is_credit_note,
            number: None,
            party_id: party.id,
            status: InvoiceStatus::Draft,
            invoice_date: input.invoice_date,
            due_date,
            currency,
            exchange_rate: rate,
            tax_inclusive: inclusive,
            reference,
            memo,
            net_total: totals.net,
            tax_total: totals.tax,
            gross_total: totals.gross,
            gross_base,
            open_amount: Decimal::ZERO,
            open_base: Decimal::ZERO,
            credit_note_of: input.credit_note_of,
            source_type,
            source_id,
            journal_entry_id: None,
            created_by,
            created_at: now,
            updated_at: now,
            version: 1,
            hold_reason: None,
        },
        lines,
    ))
}

pub async fn create_invoice(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    input: InvoiceInput,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (inv, lines) = build_invoice(&tx, side, input, Uuid::now_v7(), now, Some(ctx.principal.actor_uuid())).await?;
    store::insert_invoice(&tx, &inv, &lines).await?;
    let name = doc_name(side, inv.is_credit_note);
    record(
        &tx,
        ctx,
        now,
        Change::new(&format!("{name}.create"), name, Some(inv.id.to_string()), None, Some(invoice_json(&inv, &lines))),
    )
    .await?;
    tx.commit().await?;
    Ok((inv, lines))
}

fn not_draft(i: &Invoice, action: &'static str) -> AppError {
    AppError::InvalidState { entity: invoice_entity(i.side), state: i.status.as_str().into(), action }
}

pub async fn update_invoice(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    if_match: i64,
    input: InvoiceInput,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (before, before_lines) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    if before.status != InvoiceStatus::Draft {
        return Err(not_draft(&before, "edited (credit or cancel it instead)"));
    }
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: before.version });
    }
    let (mut after, lines) = build_invoice(&tx, side, input, id, now, before.created_by).await?;
    after.created_at = before.created_at;
    after.version = before.version + 1;
    if !store::replace_draft_invoice(&tx, &after, &lines).await? {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: before.version });
    }
    let name = doc_name(side, after.is_credit_note);
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{name}.update"),
            name,
            Some(id.to_string()),
            Some(invoice_json(&before, &before_lines)),
            Some(invoice_json(&after, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((after, lines))
}

pub async fn delete_invoice(app: &AppState, ctx: &Ctx, side: Side, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (inv, lines) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    if inv.status != InvoiceStatus::Draft || !store::delete_draft_invoice(&tx, id).await? {
        return Err(not_draft(&inv, "deleted (cancel it instead)"));
    }
    let name = doc_name(side, inv.is_credit_note);
    record(
        &tx,
        ctx,
        now,
        Change::new(&format!("{name}.delete"), name, Some(id.to_string()), Some(invoice_json(&inv, &lines)), None),
    )
    .await?;
    tx.commit().await
}

pub async fn get_invoice(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    id: Uuid,
) -> AppResult<(Invoice, Vec<InvoiceLine>, Vec<Allocation>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let (inv, lines) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    let allocations = store::allocations_of(&tx, id).await?;
    tx.commit().await?;
    Ok((inv, lines, allocations))
}

pub async fn list_invoices(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    page: &Page,
    filter: &InvoiceFilter,
) -> AppResult<Vec<Invoice>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_invoices(&tx, side, page, filter).await?;
    tx.commit().await?;
    Ok(list)
}

/// A new base-currency-or-foreign entry for a document, not yet posted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn document_entry(
    date: NaiveDate,
    memo: String,
    currency: &str,
    rate: Decimal,
    lines: &[EntryLine],
    source_type: &str,
    source_id: Uuid,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Entry {
    Entry {
        id: Uuid::now_v7(),
        number: None,
        entry_date: date,
        period_id: rules::period_of(date),
        is_posted: false,
        memo,
        currency: currency.to_owned(),
        exchange_rate: rate,
        total_debit: lines.iter().map(|l| l.debit).sum(),
        source_type: source_type.to_owned(),
        source_id: Some(source_id.to_string()),
        reversal_of: None,
        reversed_by: None,
        created_by,
        posted_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// Checks lines against the chart and posts them as one entry, all in the caller's transaction.
pub(crate) async fn post_document_entry(
    tx: &TenantTx<'_>,
    mut entry: Entry,
    lines: &[EntryLine],
    now: DateTime<Utc>,
) -> AppResult<Entry> {
    check_document_entry(tx, &mut entry, lines, now).await?;
    books::insert_entry(tx, &entry, lines).await?;
    Ok(entry)
}

/// [`post_document_entry`] without the insert: checks the lines against the chart and the
/// period, and marks the entry posted (numbered and added to the balances as the transaction
/// commits). The caller inserts it (`store::ledger::insert_entry`) before committing.
pub(crate) async fn check_document_entry(
    tx: &TenantTx<'_>,
    entry: &mut Entry,
    lines: &[EntryLine],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let base = tenants::current(tx).await?.base_currency;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.account_id).collect();
    let facts = books::account_facts(tx, &ids).await?;
    rules::check_lines(lines, &entry.currency, &base, &facts).map_err(posting_error)?;
    post_in(tx, entry, lines, now, super::ledger::Numbering::AtCommit).await
}

pub(crate) async fn next_number(tx: &TenantTx<'_>, key: &str, prefix: &str) -> AppResult<String> {
    let n = books::next_numbered(tx, key).await?;
    let padding = n.padding.unwrap_or(crate::domain::numbering::DEFAULT_PADDING);
    Ok(crate::domain::numbering::format(n.prefix.as_deref().unwrap_or(prefix), padding, n.value))
}

/// Posts a draft invoice or credit note: control account against revenue or expense lines and
/// the VAT account per tax code, in the invoice's currency and base. A credit note of an
/// invoice is then settled against it (the allocation is returned).
pub async fn post_invoice(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
) -> AppResult<(Invoice, Vec<InvoiceLine>, Vec<Allocation>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (inv, lines) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    let no_fixed = vec![None; lines.len()];
    let (inv, allocations) = post_invoice_in(&tx, ctx, inv, &lines, &no_fixed, now).await?;
    tx.commit().await?;
    Ok((inv, lines, allocations))
}

/// Builds and inserts an invoice in the caller's transaction (sales and purchasing make their
/// invoices this way), returning it as a draft with the fixed bases of its lines.
pub(crate) async fn create_invoice_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    side: Side,
    input: InvoiceInput,
    now: DateTime<Utc>,
) -> AppResult<(Invoice, Vec<InvoiceLine>, Vec<Option<FixedBase>>)> {
    let fixed: Vec<Option<FixedBase>> = input.lines.iter().map(|l| l.fixed_base).collect();
    let (inv, lines) = build_invoice(tx, side, input, Uuid::now_v7(), now, Some(ctx.principal.actor_uuid())).await?;
    store::insert_invoice(tx, &inv, &lines).await?;
    Ok((inv, lines, fixed))
}

/// Posts a draft invoice in the caller's transaction. `fixed` gives, per line, a base amount
/// to book its net at (the rest of its converted net goes to the variance account).
pub(crate) async fn post_invoice_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    mut inv: Invoice,
    lines: &[InvoiceLine],
    fixed: &[Option<FixedBase>],
    now: DateTime<Utc>,
) -> AppResult<(Invoice, Vec<Allocation>)> {
    let side = inv.side;
    let id = inv.id;
    if inv.status != InvoiceStatus::Draft {
        return Err(not_draft(&inv, "posted again"));
    }
    let before = inv.clone();
    let m = mapping(tx).await?;
    let control = mapped(&m, control_purpose(side))?;
    let vat = mapped(&m, if side == Side::Receivable { "vat_output" } else { "vat_input" })?;
    let base = tenants::current(tx).await?.base_currency;
    let digits = minor_unit_digits(&base);
    let name = doc_name(side, inv.is_credit_note);
    // Everything read before the number: the sequence row stays locked until COMMIT, so what
    // follows the number is kept short.
    let codes: HashMap<Uuid, TaxCode> = store::tax_codes(tx).await?.into_iter().map(|t| (t.id, t)).collect();
    let party = store::get_party(tx, side, inv.party_id).await?.ok_or(AppError::NotFound { entity: entity(side) })?;
    if !party.is_active {
        return Err(AppError::Conflict(format!("{} {} is inactive", entity(side), party.code)));
    }
    inv.number = Some(next_number(tx, name, doc_prefix(side, inv.is_credit_note)).await?);
    let number = inv.number.clone().unwrap_or_default();
    let mut counters: Vec<Counter> = Vec::with_capacity(lines.len() + 2);
    for (i, l) in lines.iter().enumerate() {
        let memo = if l.description.is_empty() { number.clone() } else { l.description.clone() };
        match fixed.get(i).copied().flatten() {
            None => counters.push(Counter { account: l.account_id, fx: l.net, base: None, memo, item: l.item_id }),
            Some(f) if inv.currency == base => {
                // A base-currency entry carries equal amounts in both: split the net itself.
                counters.push(Counter { account: l.account_id, fx: f.base, base: None, memo, item: l.item_id });
                let variance = l.net - f.base;
                if !variance.is_zero() {
                    counters.push(Counter {
                        account: f.variance_account,
                        fx: variance,
                        base: None,
                        memo: format!("{number} variance against the receipt value"),
                        item: l.item_id,
                    });
                }
            }
            Some(f) if f.base.is_zero() => {
                // Nothing received is left to clear: all of it is variance.
                counters.push(Counter { account: f.variance_account, fx: l.net, base: None, memo, item: l.item_id });
            }
            Some(f) => {
                let variance = ar::to_base(l.net, inv.exchange_rate, digits) - f.base;
                counters.push(Counter { account: l.account_id, fx: l.net, base: Some(f.base), memo, item: l.item_id });
                if !variance.is_zero() {
                    counters.push(Counter {
                        account: f.variance_account,
                        fx: Decimal::ZERO,
                        base: Some(variance),
                        memo: format!("{number} variance against the receipt value"),
                        item: l.item_id,
                    });
                }
            }
        }
    }
    let mut per_code: Vec<(Uuid, Decimal)> = Vec::new();
    for l in lines.iter().filter(|l| !l.tax.is_zero()) {
        let Some(code) = l.tax_code_id else { continue };
        match per_code.iter_mut().find(|(c, _)| *c == code) {
            Some(e) => e.1 += l.tax,
            None => per_code.push((code, l.tax)),
        }
    }
    for (code, amount) in per_code {
        let label = codes.get(&code).map(|c| c.name.clone()).unwrap_or_default();
        counters.push(Counter { account: vat, fx: amount, base: None, memo: format!("{number} {label}"), item: None });
    }
    let memo = format!("{number} {}", party.name);
    let (entry_lines, gross_base) =
        ar::invoice_lines(side, inv.is_credit_note, control, inv.party_id, &counters, inv.exchange_rate, digits, &memo);
    let entry = document_entry(
        inv.invoice_date,
        memo,
        &inv.currency,
        inv.exchange_rate,
        &entry_lines,
        name,
        inv.id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    let entry = post_document_entry(tx, entry, &entry_lines, now).await?;
    inv.status = InvoiceStatus::Posted;
    inv.gross_base = gross_base;
    inv.open_amount = inv.gross_total;
    inv.open_base = gross_base;
    inv.journal_entry_id = Some(entry.id);
    inv.updated_at = now;
    inv.version += 1;
    if !store::save_invoice(tx, &inv).await? {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: before.version });
    }
    let mut allocations = Vec::new();
    if let Some(of) = inv.credit_note_of {
        let (target, _) =
            store::get_invoice(tx, side, of).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
        let amount = target.open_amount.min(inv.open_amount);
        if amount > Decimal::ZERO {
            let date = inv.invoice_date.max(target.invoice_date);
            let mut source = Source::CreditNote(inv.clone());
            allocations.push(allocate_in(tx, ctx, side, &mut source, of, amount, date, now).await?);
            if let Source::CreditNote(updated) = source {
                inv = updated;
            }
        }
    }
    record(
        tx,
        ctx,
        now,
        Change::new(
            &format!("{name}.post"),
            name,
            Some(id.to_string()),
            Some(invoice_json(&before, lines)),
            Some(invoice_json(&inv, lines)),
        ),
    )
    .await?;
    Ok((inv, allocations))
}

/// Cancels a posted invoice or credit note that nothing has been settled against: its entry
/// is reversed (dated `date`, default the invoice date).
pub async fn cancel_invoice(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    date: Option<NaiveDate>,
) -> AppResult<(Invoice, Vec<InvoiceLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut inv, lines) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    if inv.status != InvoiceStatus::Posted {
        return Err(not_draft(&inv, "cancelled (only posted documents are; delete a draft)"));
    }
    if inv.open_amount != inv.gross_total {
        return Err(AppError::InvalidState {
            entity: invoice_entity(side),
            state: format!("settled {} of {}", inv.gross_total - inv.open_amount, inv.gross_total),
            action: "cancelled (issue a credit note instead)",
        });
    }
    let before = inv.clone();
    let entry_id = inv.journal_entry_id.ok_or_else(|| AppError::internal("posted invoice without entry"))?;
    let (entry, entry_lines) =
        books::get_entry(&tx, entry_id).await?.ok_or_else(|| AppError::internal("entry missing"))?;
    let date = date.unwrap_or(inv.invoice_date);
    if date < inv.invoice_date {
        return Err(AppError::field("date", "must not be before the invoice date"));
    }
    let memo = format!("Cancellation of {}", inv.number.clone().unwrap_or_default());
    let orders: Vec<Uuid> = lines.iter().filter_map(|l| l.link.map(|k| k.order_id)).collect();
    // Orders before the books, as every billing flow locks them.
    crate::store::trade::orders_with_lines(&tx, &orders, true).await?;
    reverse_in(&tx, &entry, &entry_lines, date, Some(memo), Some(ctx.principal.actor_uuid()), now).await?;
    if !orders.is_empty() {
        // What it billed of orders and shipments is open to bill again.
        super::trade::unbill_in(&tx, &inv, &lines, now).await?;
    }
    inv.status = InvoiceStatus::Cancelled;
    inv.open_amount = Decimal::ZERO;
    inv.open_base = Decimal::ZERO;
    inv.updated_at = now;
    inv.version += 1;
    if !store::save_invoice(&tx, &inv).await? {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: before.version });
    }
    let name = doc_name(side, inv.is_credit_note);
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{name}.cancel"),
            name,
            Some(id.to_string()),
            Some(invoice_json(&before, &lines)),
            Some(invoice_json(&inv, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((inv, lines))
}

/// Writes off what is left open on an invoice (or `amount` of it): bad debt for a customer,
/// forgiven debt for a supplier.
pub async fn write_off(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    amount: Option<Decimal>,
    date: NaiveDate,
    memo: Option<String>,
) -> AppResult<(Invoice, Allocation)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut inv, _) =
        store::get_invoice(&tx, side, id).await?.ok_or(AppError::NotFound { entity: invoice_entity(side) })?;
    if inv.status != InvoiceStatus::Posted || inv.is_credit_note || inv.open_amount.is_zero() {
        return Err(AppError::InvalidState {
            entity: invoice_entity(side),
            state: if inv.open_amount.is_zero() && inv.status == InvoiceStatus::Posted {
                "settled".into()
            } else {
                inv.status.as_str().into()
            },
            action: "written off (only open invoices are)",
        });
    }
    let amount = amount.unwrap_or(inv.open_amount);
    let mut f = Fields::new();
    if amount <= Decimal::ZERO {
        f.push("amount", "must be positive");
    }
    if amount > inv.open_amount {
        f.push("amount", format!("is more than the {} {} left open", inv.open_amount, inv.currency));
    }
    if amount.normalize().scale() > minor_unit_digits(&inv.currency) {
        f.push("amount", format!("has more decimals than {} allows", inv.currency));
    }
    if date < inv.invoice_date {
        f.push("date", "must not be before the invoice date");
    }
    f.finish()?;
    let m = mapping(&tx).await?;
    let control = mapped(&m, control_purpose(side))?;
    let account = mapped(&m, if side == Side::Receivable { "bad_debt" } else { "payable_write_off" })?;
    let base = tenants::current(&tx).await?.base_currency;
    let open = Open { fx: inv.open_amount, base: inv.open_base, rate: inv.exchange_rate };
    let amount_base = open.base_for(amount, minor_unit_digits(&base));
    let number = inv.number.clone().unwrap_or_default();
    let memo =
        memo.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).unwrap_or_else(|| format!("Write-off of {number}"));
    let lines = ar::write_off_lines(side, control, account, inv.party_id, amount, amount_base, &memo);
    let allocation_id = Uuid::now_v7();
    let entry = document_entry(
        date,
        memo.clone(),
        &inv.currency,
        inv.exchange_rate,
        &lines,
        "write_off",
        allocation_id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    let entry = post_document_entry(&tx, entry, &lines, now).await?;
    let before = inv.clone();
    inv.open_amount -= amount;
    inv.open_base -= amount_base;
    inv.updated_at = now;
    inv.version += 1;
    if !store::save_invoice(&tx, &inv).await? {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: before.version });
    }
    let a = Allocation {
        id: allocation_id,
        kind: AllocationKind::WriteOff,
        invoice_id: inv.id,
        payment_id: None,
        credit_note_id: None,
        allocation_date: date,
        amount,
        invoice_base: amount_base,
        source_base: amount_base,
        journal_entry_id: Some(entry.id),
        memo,
        created_at: now,
    };
    store::insert_allocation(&tx, &a).await?;
    let name = doc_name(side, false);
    record(
        &tx,
        ctx,
        now,
        Change::new(&format!("{name}.write_off"), name, Some(id.to_string()), None, Some(serde_json::json!({"amount": amount.to_string(), "base": amount_base.to_string(), "entry_id": entry.id}))),
    )
    .await?;
    tx.commit().await?;
    Ok((inv, a))
}

// ---------------------------------------------------------------------------------------------
// Receipts, payments and allocation

/// What settles an invoice.
enum Source {
    Payment(Payment),
    CreditNote(Invoice),
}

impl Source {
    fn id(&self) -> Uuid {
        match self {
            Source::Payment(p) => p.id,
            Source::CreditNote(c) => c.id,
        }
    }
    fn party(&self) -> Uuid {
        match self {
            Source::Payment(p) => p.party_id,
            Source::CreditNote(c) => c.party_id,
        }
    }
    fn currency(&self) -> &str {
        match self {
            Source::Payment(p) => &p.currency,
            Source::CreditNote(c) => &c.currency,
        }
    }
    fn date(&self) -> NaiveDate {
        match self {
            Source::Payment(p) => p.payment_date,
            Source::CreditNote(c) => c.invoice_date,
        }
    }
    fn open(&self) -> Open {
        match self {
            Source::Payment(p) => Open { fx: p.unallocated, base: p.unallocated_base, rate: p.exchange_rate },
            Source::CreditNote(c) => Open { fx: c.open_amount, base: c.open_base, rate: c.exchange_rate },
        }
    }
}

/// Settles `amount` of invoice `invoice_id` from a payment or credit note: both open amounts
/// go down, and a realized exchange difference is posted when their rates differ.
#[allow(clippy::too_many_arguments)]
async fn allocate_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    side: Side,
    source: &mut Source,
    invoice_id: Uuid,
    amount: Decimal,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> AppResult<Allocation> {
    let (mut inv, _) = store::get_invoice(tx, side, invoice_id)
        .await?
        .ok_or_else(|| AppError::field("invoice_id", format!("no such {}", invoice_entity(side))))?;
    let mut f = Fields::new();
    if inv.is_credit_note {
        f.push("invoice_id", "is a credit note; allocate it to an invoice instead");
    } else if inv.status != InvoiceStatus::Posted {
        f.push("invoice_id", format!("invoice is {}", inv.status.as_str()));
    } else if inv.open_amount.is_zero() {
        f.push("invoice_id", format!("invoice {} is already settled", inv.number.clone().unwrap_or_default()));
    }
    if let (Source::Payment(_), Some(hold)) = (&*source, &inv.hold_reason) {
        f.push(
            "invoice_id",
            format!("invoice {} is held ({hold}); release it before paying", inv.number.clone().unwrap_or_default()),
        );
    }
    if inv.party_id != source.party() {
        f.push("invoice_id", "belongs to another party");
    }
    if inv.currency != source.currency() {
        f.push("invoice_id", format!("is in {}, the payment in {}", inv.currency, source.currency()));
    }
    if amount <= Decimal::ZERO {
        f.push("amount", "must be positive");
    }
    if amount.normalize().scale() > minor_unit_digits(&inv.currency) {
        f.push("amount", format!("has more decimals than {} allows", inv.currency));
    }
    if inv.status == InvoiceStatus::Posted && amount > inv.open_amount {
        f.push("amount", format!("is more than the {} {} left open on the invoice", inv.open_amount, inv.currency));
    }
    if amount > source.open().fx {
        f.push("amount", format!("is more than the {} {} left to allocate", source.open().fx, source.currency()));
    }
    if date < inv.invoice_date || date < source.date() {
        f.push("date", "must not be before the invoice or the payment");
    }
    f.finish()?;
    let m = mapping(tx).await?;
    let control = mapped(&m, control_purpose(side))?;
    let fx_account = mapped(&m, "fx_gain_loss")?;
    let base = tenants::current(tx).await?.base_currency;
    let allocation_id = Uuid::now_v7();
    let memo = format!(
        "{} settles {}",
        match source {
            Source::Payment(p) => p.number.clone(),
            Source::CreditNote(c) => c.number.clone().unwrap_or_default(),
        },
        inv.number.clone().unwrap_or_default()
    );
    let invoice_open = Open { fx: inv.open_amount, base: inv.open_base, rate: inv.exchange_rate };
    let (invoice_base, source_base, fx_lines) = ar::settle(
        side,
        invoice_open,
        source.open(),
        amount,
        minor_unit_digits(&base),
        ar::SettleAccounts { control, fx_account, party: inv.party_id },
        &format!("{memo} (exchange difference)"),
    );
    let journal_entry_id = if fx_lines.is_empty() {
        None
    } else {
        let entry = document_entry(
            date,
            format!("{memo} (exchange difference)"),
            &inv.currency,
            source.open().rate,
            &fx_lines,
            "allocation",
            allocation_id,
            Some(ctx.principal.actor_uuid()),
            now,
        );
        Some(post_document_entry(tx, entry, &fx_lines, now).await?.id)
    };
    let inv_version = inv.version;
    inv.open_amount -= amount;
    inv.open_base -= invoice_base;
    inv.updated_at = now;
    inv.version += 1;
    if !store::save_invoice(tx, &inv).await? {
        return Err(AppError::StaleVersion { entity: invoice_entity(side), current: inv_version });
    }
    let (payment_id, credit_note_id, kind) = match source {
        Source::Payment(p) => {
            p.unallocated -= amount;
            p.unallocated_base -= source_base;
            p.updated_at = now;
            p.version += 1;
            if !store::save_payment(tx, p).await? {
                return Err(AppError::StaleVersion { entity: "payment", current: p.version - 1 });
            }
            (Some(p.id), None, AllocationKind::Payment)
        }
        Source::CreditNote(c) => {
            c.open_amount -= amount;
            c.open_base -= source_base;
            c.updated_at = now;
            c.version += 1;
            if !store::save_invoice(tx, c).await? {
                return Err(AppError::StaleVersion { entity: "credit note", current: c.version - 1 });
            }
            (None, Some(c.id), AllocationKind::CreditNote)
        }
    };
    let a = Allocation {
        id: allocation_id,
        kind,
        invoice_id,
        payment_id,
        credit_note_id,
        allocation_date: date,
        amount,
        invoice_base,
        source_base,
        journal_entry_id,
        memo,
        created_at: now,
    };
    store::insert_allocation(tx, &a).await?;
    Ok(a)
}

pub struct PaymentInput {
    pub party_id: Uuid,
    pub payment_date: NaiveDate,
    pub amount: Decimal,
    pub currency: Option<String>,
    pub exchange_rate: Option<Decimal>,
    /// The cash or bank account; default the mapped bank account.
    pub account_id: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: Option<String>,
    /// (invoice, amount in the invoice's currency).
    pub allocations: Vec<(Uuid, Decimal)>,
}

fn payment_entity(side: Side) -> &'static str {
    match side {
        Side::Receivable => "receipt",
        Side::Payable => "payment",
    }
}

fn payment_json(p: &Payment) -> serde_json::Value {
    serde_json::json!({
        "number": p.number, "party_id": p.party_id, "payment_date": p.payment_date, "currency": p.currency,
        "amount": p.amount.to_string(), "exchange_rate": p.exchange_rate.to_string(),
        "unallocated": p.unallocated.to_string(), "status": if p.is_cancelled { "cancelled" } else { "posted" },
    })
}

/// Records a receipt (customer) or payment (supplier): cash or bank against the control
/// account, posted at once, then allocated to the invoices named. What is not allocated stays
/// on account as the party's credit (an overpayment) for later invoices.
pub async fn create_payment(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    input: PaymentInput,
) -> AppResult<(Payment, Vec<Allocation>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let party = store::get_party(&tx, side, input.party_id)
        .await?
        .ok_or_else(|| AppError::field("party_id", format!("no such {}", entity(side))))?;
    if !party.is_active {
        return Err(AppError::field("party_id", format!("{} {} is inactive", entity(side), party.code)));
    }
    let (currency, rate, base) = currency_and_rate(
        &tx,
        input.currency.clone().or(party.currency.clone()),
        input.exchange_rate,
        input.payment_date,
    )
    .await?;
    let m = mapping(&tx).await?;
    let control = mapped(&m, control_purpose(side))?;
    let cash = match input.account_id {
        Some(a) => a,
        None => mapped(&m, "bank")?,
    };
    let mut f = Fields::new();
    if input.amount <= Decimal::ZERO {
        f.push("amount", "must be positive");
    }
    if input.amount.normalize().scale() > minor_unit_digits(&currency) {
        f.push("amount", format!("has more decimals than {currency} allows"));
    }
    let allocated: Decimal = input.allocations.iter().map(|a| a.1).sum();
    if allocated > input.amount {
        f.push("allocations", format!("allocate {allocated}, more than the {} received", input.amount));
    }
    let facts = books::account_facts(&tx, &[cash]).await?;
    match facts.get(&cash) {
        None => f.push("account_id", "no such account"),
        Some(_) if cash == control => f.push("account_id", "is the control account"),
        Some(a) if !a.is_postable || !a.is_active => {
            f.push("account_id", format!("account {} is not postable", a.code))
        }
        Some(_) => {}
    }
    let memo = input.memo.map(|m| m.trim().to_owned()).unwrap_or_default();
    if memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    f.finish()?;
    let id = Uuid::now_v7();
    let number = next_number(&tx, payment_entity(side), if side == Side::Receivable { "RC" } else { "PY" }).await?;
    let amount_base = ar::to_base(input.amount, rate, minor_unit_digits(&base));
    let entry_memo =
        format!("{number} {}{}", party.name, if memo.is_empty() { String::new() } else { format!(" {memo}") });
    let lines = ar::payment_lines(side, cash, control, party.id, input.amount, amount_base, &entry_memo);
    let entry = document_entry(
        input.payment_date,
        entry_memo,
        &currency,
        rate,
        &lines,
        payment_entity(side),
        id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    let entry = post_document_entry(&tx, entry, &lines, now).await?;
    let payment = Payment {
        id,
        side,
        number,
        party_id: party.id,
        is_cancelled: false,
        payment_date: input.payment_date,
        currency,
        exchange_rate: rate,
        amount: input.amount,
        amount_base,
        unallocated: input.amount,
        unallocated_base: amount_base,
        account_id: cash,
        reference: input.reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()),
        memo,
        journal_entry_id: entry.id,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store::insert_payment(&tx, &payment).await?;
    let mut source = Source::Payment(payment);
    let mut done = Vec::new();
    for (i, (invoice, amount)) in input.allocations.into_iter().enumerate() {
        let a = allocate_in(&tx, ctx, side, &mut source, invoice, amount, input.payment_date, now)
            .await
            .map_err(|e| prefix_fields(e, &format!("allocations[{i}].")))?;
        done.push(a);
    }
    let Source::Payment(payment) = source else { return Err(AppError::internal("source changed kind")) };
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{}.create", payment_entity(side)),
            payment_entity(side),
            Some(id.to_string()),
            None,
            Some(payment_json(&payment)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((payment, done))
}

/// Field errors of a nested item carry the item's path.
fn prefix_fields(e: AppError, prefix: &str) -> AppError {
    match e {
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|mut fe| {
                    fe.field = format!("{prefix}{}", fe.field);
                    fe
                })
                .collect(),
        ),
        other => other,
    }
}

/// Allocates what is left on a payment or credit note to invoices; returns the currency of the
/// amounts with the allocations.
pub async fn allocate(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    source_id: Uuid,
    is_credit_note: bool,
    allocations: Vec<(Uuid, Decimal)>,
    date: Option<NaiveDate>,
) -> AppResult<(String, Vec<Allocation>)> {
    if allocations.is_empty() {
        return Err(AppError::field("allocations", "name at least one invoice"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut source = if is_credit_note {
        let (c, _) =
            store::get_invoice(&tx, side, source_id).await?.ok_or(AppError::NotFound { entity: "credit note" })?;
        if !c.is_credit_note || c.status != InvoiceStatus::Posted {
            return Err(AppError::InvalidState {
                entity: "credit note",
                state: if c.is_credit_note { c.status.as_str().into() } else { "an invoice".into() },
                action: "allocated (only posted credit notes are)",
            });
        }
        Source::CreditNote(c)
    } else {
        let p = store::get_payment(&tx, side, source_id)
            .await?
            .ok_or(AppError::NotFound { entity: payment_entity(side) })?;
        if p.is_cancelled {
            return Err(AppError::InvalidState {
                entity: payment_entity(side),
                state: "cancelled".into(),
                action: "allocated",
            });
        }
        Source::Payment(p)
    };
    let mut done = Vec::new();
    for (i, (invoice, amount)) in allocations.into_iter().enumerate() {
        let d = date.unwrap_or(source.date());
        let a = allocate_in(&tx, ctx, side, &mut source, invoice, amount, d, now)
            .await
            .map_err(|e| prefix_fields(e, &format!("allocations[{i}].")))?;
        done.push(a);
    }
    let name = if is_credit_note { doc_name(side, true) } else { payment_entity(side) };
    let after: Vec<_> =
        done.iter().map(|a| serde_json::json!({"invoice_id": a.invoice_id, "amount": a.amount.to_string()})).collect();
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{name}.allocate"),
            name,
            Some(source.id().to_string()),
            None,
            Some(serde_json::json!(after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((source.currency().to_owned(), done))
}

/// Cancels a receipt or payment that is not allocated: its entry is reversed.
pub async fn cancel_payment(
    app: &AppState,
    ctx: &Ctx,
    side: Side,
    id: Uuid,
    date: Option<NaiveDate>,
) -> AppResult<Payment> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut p = store::get_payment(&tx, side, id).await?.ok_or(AppError::NotFound { entity: payment_entity(side) })?;
    if p.is_cancelled {
        return Err(AppError::InvalidState {
            entity: payment_entity(side),
            state: "cancelled".into(),
            action: "cancelled again",
        });
    }
    if p.unallocated != p.amount {
        return Err(AppError::InvalidState {
            entity: payment_entity(side),
            state: format!("allocated {} of {}", p.amount - p.unallocated, p.amount),
            action: "cancelled",
        });
    }
    let date = date.unwrap_or(p.payment_date);
    if date < p.payment_date {
        return Err(AppError::field("date", "must not be before the payment date"));
    }
    let before = p.clone();
    let (entry, lines) =
        books::get_entry(&tx, p.journal_entry_id).await?.ok_or_else(|| AppError::internal("entry missing"))?;
    reverse_in(
        &tx,
        &entry,
        &lines,
        date,
        Some(format!("Cancellation of {}", p.number)),
        Some(ctx.principal.actor_uuid()),
        now,
    )
    .await?;
    p.is_cancelled = true;
    p.unallocated = Decimal::ZERO;
    p.unallocated_base = Decimal::ZERO;
    p.updated_at = now;
    p.version += 1;
    if !store::save_payment(&tx, &p).await? {
        return Err(AppError::StaleVersion { entity: payment_entity(side), current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            &format!("{}.cancel", payment_entity(side)),
            payment_entity(side),
            Some(id.to_string()),
            Some(payment_json(&before)),
            Some(payment_json(&p)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

pub async fn get_payment(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    id: Uuid,
) -> AppResult<(Payment, Vec<Allocation>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let p = store::get_payment(&tx, side, id).await?.ok_or(AppError::NotFound { entity: payment_entity(side) })?;
    let a = store::allocations_of(&tx, id).await?;
    tx.commit().await?;
    Ok((p, a))
}

pub async fn list_payments(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    page: &Page,
    filter: &PaymentFilter,
) -> AppResult<Vec<Payment>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_payments(&tx, side, page, filter).await?;
    tx.commit().await?;
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Open items, statements, aging

/// Everything a party still has open: invoices and credit notes with an open amount, and
/// payments not fully allocated.
pub struct OpenItems {
    pub party: Party,
    pub invoices: Vec<Invoice>,
    pub payments: Vec<Payment>,
}

/// Pages through everything a list query matches (reports need it all).
async fn all_pages<T, Fut>(mut fetch: impl FnMut(Page) -> Fut, id: impl Fn(&T) -> Uuid) -> AppResult<Vec<T>>
where
    Fut: std::future::Future<Output = AppResult<Vec<T>>>,
{
    let mut out = Vec::new();
    let mut page = Page { limit: 200, after: None };
    loop {
        let batch = fetch(page.clone()).await?;
        let more = batch.len() as u64 > page.limit;
        out.extend(batch.into_iter().take(page.limit as usize));
        if !more {
            return Ok(out);
        }
        page.after = out.last().map(&id);
    }
}

async fn all_invoices(tx: &TenantTx<'_>, side: Side, f: &InvoiceFilter) -> AppResult<Vec<Invoice>> {
    all_pages(|page| async move { store::list_invoices(tx, side, &page, f).await }, |i: &Invoice| i.id).await
}

async fn all_payments(tx: &TenantTx<'_>, side: Side, f: &PaymentFilter) -> AppResult<Vec<Payment>> {
    all_pages(|page| async move { store::list_payments(tx, side, &page, f).await }, |p: &Payment| p.id).await
}

pub async fn open_items(app: &AppState, tenant: TenantId, side: Side, party_id: Uuid) -> AppResult<OpenItems> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let party = store::get_party(&tx, side, party_id).await?.ok_or(AppError::NotFound { entity: entity(side) })?;
    let mut invoices =
        all_invoices(&tx, side, &InvoiceFilter { party_id: Some(party_id), open: true, ..Default::default() }).await?;
    let mut payments =
        all_payments(&tx, side, &PaymentFilter { party_id: Some(party_id), open: true, ..Default::default() }).await?;
    tx.commit().await?;
    invoices.sort_by_key(|i| (i.due_date, i.id));
    payments.sort_by_key(|p| (p.payment_date, p.id));
    Ok(OpenItems { party, invoices, payments })
}

/// One line of a party statement, in the statement's currency.
pub struct StatementLine {
    pub date: NaiveDate,
    /// invoice, credit_note, receipt, payment, write_off
    pub kind: &'static str,
    pub number: String,
    pub document_id: Uuid,
    pub reference: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// Raises what the party owes (receivable) or is owed (payable).
    pub charge: Decimal,
    /// Lowers it.
    pub credit: Decimal,
    pub balance: Decimal,
}

pub struct PartyStatement {
    pub party: Party,
    pub currency: String,
    pub opening: Decimal,
    pub lines: Vec<StatementLine>,
    pub closing: Decimal,
}

/// The party's account in one currency between two dates: opening balance, each invoice,
/// credit note, payment and write-off, running balance. Cancelled documents are left out.
pub async fn statement(
    app: &AppState,
    tenant: TenantId,
    side: Side,
    party_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    currency: Option<String>,
) -> AppResult<PartyStatement> {
    if from > to {
        return Err(AppError::field("from", "must not be after to"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let party = store::get_party(&tx, side, party_id).await?.ok_or(AppError::NotFound { entity: entity(side) })?;
    let base = tenants::current(&tx).await?.base_currency;
    let currency = currency.or(party.currency.clone()).unwrap_or(base);
    let invoices = all_invoices(
        &tx,
        side,
        &InvoiceFilter {
            party_id: Some(party_id),
            status: Some(InvoiceStatus::Posted),
            to: Some(to),
            currency: Some(currency.clone()),
            ..Default::default()
        },
    )
    .await?;
    let payments = all_payments(
        &tx,
        side,
        &PaymentFilter {
            party_id: Some(party_id),
            to: Some(to),
            currency: Some(currency.clone()),
            ..Default::default()
        },
    )
    .await?;
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let write_offs: Vec<Allocation> = store::allocations_of_invoices(&tx, &ids)
        .await?
        .into_iter()
        .filter(|a| a.kind == AllocationKind::WriteOff && a.allocation_date <= to)
        .collect();
    tx.commit().await?;
    let numbers: HashMap<Uuid, String> =
        invoices.iter().map(|i| (i.id, i.number.clone().unwrap_or_default())).collect();
    let mut rows: Vec<StatementLine> = Vec::new();
    for i in &invoices {
        let (charge, credit) =
            if i.is_credit_note { (Decimal::ZERO, i.gross_total) } else { (i.gross_total, Decimal::ZERO) };
        rows.push(StatementLine {
            date: i.invoice_date,
            kind: if i.is_credit_note { "credit_note" } else { "invoice" },
            number: i.number.clone().unwrap_or_default(),
            document_id: i.id,
            reference: i.reference.clone(),
            due_date: (!i.is_credit_note).then_some(i.due_date),
            charge,
            credit,
            balance: Decimal::ZERO,
        });
    }
    for p in &payments {
        rows.push(StatementLine {
            date: p.payment_date,
            kind: payment_entity(side),
            number: p.number.clone(),
            document_id: p.id,
            reference: p.reference.clone(),
            due_date: None,
            charge: Decimal::ZERO,
            credit: p.amount,
            balance: Decimal::ZERO,
        });
    }
    for w in &write_offs {
        rows.push(StatementLine {
            date: w.allocation_date,
            kind: "write_off",
            number: numbers.get(&w.invoice_id).cloned().unwrap_or_default(),
            document_id: w.invoice_id,
            reference: Some(w.memo.clone()),
            due_date: None,
            charge: Decimal::ZERO,
            credit: w.amount,
            balance: Decimal::ZERO,
        });
    }
    rows.sort_by(|a, b| a.date.cmp(&b.date).then(a.number.cmp(&b.number)));
    let opening: Decimal = rows.iter().filter(|r| r.date < from).map(|r| r.charge - r.credit).sum();
    let mut running = opening;
    let mut lines = Vec::new();
    for mut r in rows.into_iter().filter(|r| r.date >= from) {
        running += r.charge - r.credit;
        r.balance = running;
        lines.push(r);
    }
    Ok(PartyStatement { party, currency, opening, lines, closing: running })
}

/// One party's row of the aging report, in the base currency.
pub struct AgingRow {
    pub party: Party,
    /// current, 1-30, 31-60, 61-90, over 90 days past due.
    pub buckets: [Decimal; 5],
    /// Credit notes and payments not yet allocated (shown positive, deducted from the total).
    pub unapplied: Decimal,
    pub total: Decimal,
}

pub struct Aging {
    pub rows: Vec<AgingRow>,
    pub totals: [Decimal; 5],
    pub unapplied: Decimal,
    pub total: Decimal,
}

/// Open amounts as they stood at the end of `as_of`, by days past due, per party, in base
/// currency (each document at its own rate; what is settled in full leaves nothing behind).
pub async fn aging(app: &AppState, tenant: TenantId, side: Side, as_of: NaiveDate) -> AppResult<Aging> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let base = tenants::current(&tx).await?.base_currency;
    let digits = minor_unit_digits(&base);
    let invoices = all_invoices(
        &tx,
        side,
        &InvoiceFilter { status: Some(InvoiceStatus::Posted), to: Some(as_of), ..Default::default() },
    )
    .await?;
    let payments = all_payments(&tx, side, &PaymentFilter { to: Some(as_of), ..Default::default() }).await?;
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.id).collect();
    let allocations: Vec<Allocation> =
        store::allocations_of_invoices(&tx, &ids).await?.into_iter().filter(|a| a.allocation_date <= as_of).collect();
    let party_ids: Vec<Uuid> = {
        let mut v: Vec<Uuid> = invoices.iter().map(|i| i.party_id).chain(payments.iter().map(|p| p.party_id)).collect();
        v.sort();
        v.dedup();
        v
    };
    let parties: HashMap<Uuid, Party> =
        store::parties_by_id(&tx, &party_ids).await?.into_iter().map(|p| (p.id, p)).collect();
    tx.commit().await?;
    // (settled fx, settled base) per document as of the date.
    let mut settled: HashMap<Uuid, (Decimal, Decimal)> = HashMap::new();
    for a in &allocations {
        let e = settled.entry(a.invoice_id).or_default();
        e.0 += a.amount;
        e.1 += a.invoice_base;
        if let Some(s) = a.payment_id.or(a.credit_note_id) {
            let e = settled.entry(s).or_default();
            e.0 += a.amount;
            e.1 += a.source_base;
        }
    }
    let open_base = |id: Uuid, gross: Decimal, gross_base: Decimal, rate: Decimal| -> Decimal {
        let (fx, b) = settled.get(&id).copied().unwrap_or_default();
        let left = gross - fx;
        if left.is_zero() {
            Decimal::ZERO
        } else if fx.is_zero() {
            gross_base
        } else {
            (gross_base - b).min(ar::to_base(left, rate, digits))
        }
    };
    let mut rows: HashMap<Uuid, AgingRow> = HashMap::new();
    for i in &invoices {
        let left = open_base(i.id, i.gross_total, i.gross_base, i.exchange_rate);
        if left.is_zero() {
            continue;
        }
        let Some(p) = parties.get(&i.party_id) else { continue };
        let r = rows.entry(i.party_id).or_insert_with(|| AgingRow {
            party: p.clone(),
            buckets: Default::default(),
            unapplied: Decimal::ZERO,
            total: Decimal::ZERO,
        });
        if i.is_credit_note {
            r.unapplied += left;
        } else if let Some(b) = r.buckets.get_mut(ar::bucket(i.due_date, as_of)) {
            *b += left;
        }
    }
    for p in &payments {
        let left = open_base(p.id, p.amount, p.amount_base, p.exchange_rate);
        if left.is_zero() {
            continue;
        }
        let Some(party) = parties.get(&p.party_id) else { continue };
        let r = rows.entry(p.party_id).or_insert_with(|| AgingRow {
            party: party.clone(),
            buckets: Default::default(),
            unapplied: Decimal::ZERO,
            total: Decimal::ZERO,
        });
        r.unapplied += left;
    }
    let mut rows: Vec<AgingRow> = rows.into_values().collect();
    rows.sort_by(|a, b| a.party.code.cmp(&b.party.code));
    let mut totals: [Decimal; 5] = Default::default();
    let mut unapplied = Decimal::ZERO;
    for r in rows.iter_mut() {
        r.total = r.buckets.iter().sum::<Decimal>() - r.unapplied;
        for (t, b) in totals.iter_mut().zip(r.buckets.iter()) {
            *t += *b;
        }
        unapplied += r.unapplied;
    }
    let total = totals.iter().sum::<Decimal>() - unapplied;
    Ok(Aging { rows, totals, unapplied, total })
}

/// AR and AP open items against their control accounts; each string names a mismatch.
pub async fn control_violations(tx: &TenantTx<'_>) -> AppResult<Vec<String>> {
    let m = mapping(tx).await?;
    let mut out = Vec::new();
    let epoch = super::ledger::epoch()?;
    let far = NaiveDate::from_ymd_opt(9999, 12, 31).ok_or_else(|| AppError::internal("date"))?;
    let sums = super::ledger::range_sums(tx, epoch, far).await?;
    for side in [Side::Receivable, Side::Payable] {
        let Some(control) = m.get(control_purpose(side)) else { continue };
        let (d, c) = sums.get(control).copied().unwrap_or_default();
        let ledger = if side == Side::Receivable { d - c } else { c - d };
        let items = store::open_base_total(tx, side).await?;
        if ledger != items {
            out.push(format!("{} control account holds {ledger}, open items sum to {items}", side.as_str()));
        }
    }
    Ok(out)
}
