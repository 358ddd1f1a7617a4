//! The general ledger: accounts, mappings, settings, periods, journal entries, trial balance.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    AdminWrite, ApiJson, Authorized, FinanceApprove, FinanceRead, FinanceWrite, IfMatch, etag, page, paginate,
};
use super::problem::Problem;
use super::views::{ListResponse, csv_field, csv_response, wants_csv};
use crate::app::{AppState, ledger};
use crate::domain::decimal::{Money, Rate};
use crate::domain::ledger::{AccountType, Dimensions, EntryLine, minor_unit_digits};
use crate::error::AppError;
use crate::store::ledger::{Account, AccountFilter, Entry, EntryFilter, FinanceSettings, Period};

/// An amount in the currency's minor unit, as a decimal string.
pub(crate) fn amount(d: Decimal, currency: &str) -> String {
    format!("{:.*}", minor_unit_digits(currency) as usize, d)
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub parent_id: Option<Uuid>,
    /// asset, liability, equity, revenue, expense or cost
    pub account_type: &'static str,
    /// false for accounts with sub-accounts: post to a leaf.
    pub is_postable: bool,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            code: a.code,
            name: a.name,
            name_en: a.name_en,
            parent_id: a.parent_id,
            account_type: a.account_type.as_str(),
            is_postable: a.is_postable,
            is_active: a.is_active,
            version: a.version,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// 1-200, default 50
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub account_type: Option<String>,
    pub is_postable: Option<bool>,
    /// Searches code and names.
    pub q: Option<String>,
}

/// The chart of accounts, in code order.
#[utoipa::path(tag = "ledger", operation_id = "list_accounts", params(AccountQuery),
    responses((status = 200, body = ListResponse<AccountView>)))]
#[get("/accounts")]
pub async fn list_accounts(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let limit = page(q.limit, None)?.limit;
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AppError::field("cursor", "is not a cursor this server gave"))?,
        ),
    };
    let account_type = q
        .account_type
        .as_deref()
        .map(AccountType::parse)
        .transpose()
        .map_err(|m| AppError::field("account_type", m))?;
    let filter = AccountFilter { account_type, is_postable: q.is_postable, q: q.q };
    let mut rows = ledger::list_accounts(&app, auth.tenant_id(), limit, after.as_deref(), &filter).await?;
    let next_cursor = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|a| URL_SAFE_NO_PAD.encode(a.code.as_bytes()))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(AccountView::from).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    #[schema(example = "100201")]
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    /// Makes this a sub-account; it takes the parent's type.
    pub parent_id: Option<Uuid>,
    /// Required for a top-level account.
    pub account_type: Option<String>,
}

/// Add an account or a sub-account.
#[utoipa::path(tag = "ledger", operation_id = "create_account", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/accounts")]
pub async fn create_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<CreateAccountRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = ledger::NewAccount {
        code: b.code,
        name: b.name,
        name_en: b.name_en,
        parent_id: b.parent_id,
        account_type: b.account_type,
    };
    let a = AccountView::from(ledger::create_account(&app, &auth.ctx(), input).await?);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/accounts/{}", a.id)))
        .insert_header(etag(a.version))
        .json(a))
}

/// Read one account.
#[utoipa::path(tag = "ledger", operation_id = "get_account", responses((status = 200, body = AccountView), (status = 404, body = Problem)))]
#[get("/accounts/{id}")]
pub async fn get_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let a = AccountView::from(ledger::get_account(&app, auth.tenant_id(), *id).await?);
    Ok(HttpResponse::Ok().insert_header(etag(a.version)).json(a))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name_en: Option<Option<String>>,
    pub is_active: Option<bool>,
    /// Refused once the account has journal lines.
    pub account_type: Option<String>,
}

pub(crate) fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Change an account (If-Match required).
#[utoipa::path(tag = "ledger", operation_id = "update_account", request_body = UpdateAccountRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = AccountView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[patch("/accounts/{id}")]
pub async fn update_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<UpdateAccountRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let patch =
        ledger::AccountPatch { name: b.name, name_en: b.name_en, is_active: b.is_active, account_type: b.account_type };
    let a = AccountView::from(ledger::update_account(&app, &auth.ctx(), *id, if_match.0, patch).await?);
    Ok(HttpResponse::Ok().insert_header(etag(a.version)).json(a))
}

/// Delete an account that was never used (no lines, no sub-accounts, not mapped).
#[utoipa::path(tag = "ledger", operation_id = "delete_account", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/accounts/{id}")]
pub async fn delete_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    ledger::delete_account(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct MappingView {
    /// e.g. revenue, accounts_receivable, vat_output
    pub purpose: String,
    pub account_id: Uuid,
    pub account_code: String,
    pub account_name: String,
}

fn mapping_views(pairs: Vec<(String, Account)>) -> Vec<MappingView> {
    pairs
        .into_iter()
        .map(|(purpose, a)| MappingView { purpose, account_id: a.id, account_code: a.code, account_name: a.name })
        .collect()
}

/// Which account the posting engine uses for each purpose.
#[utoipa::path(tag = "ledger", operation_id = "list_account_mappings", responses((status = 200, body = Vec<MappingView>)))]
#[get("/account-mappings")]
pub async fn list_account_mappings(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(mapping_views(ledger::mappings(&app, auth.tenant_id()).await?)))
}

/// Point purposes at other accounts: `{"revenue": "<account id>", ...}`. Purposes not named
/// keep their account.
#[utoipa::path(tag = "ledger", operation_id = "set_account_mappings", request_body = std::collections::BTreeMap<String, Uuid>,
    responses((status = 200, body = Vec<MappingView>), (status = 422, body = Problem)))]
#[put("/account-mappings")]
pub async fn set_account_mappings(
    app: web::Data<AppState>,
    auth: Authorized<FinanceApprove>,
    body: ApiJson<std::collections::BTreeMap<String, Uuid>>,
) -> Result<HttpResponse, AppError> {
    let changes = body.0.into_iter().collect();
    Ok(HttpResponse::Ok().json(mapping_views(ledger::update_mappings(&app, &auth.ctx(), changes).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct FinanceSettingsView {
    /// Nothing dated on or before this posts, and periods up to it never reopen.
    pub hard_lock_date: Option<NaiveDate>,
    /// Entries above this total need finance:approve to post.
    pub approval_threshold: Option<String>,
    /// line (each line's tax rounded) or document (rounded once per tax code).
    pub tax_rounding: &'static str,
    /// Default for new invoices: unit prices include tax.
    pub prices_include_tax: bool,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl FinanceSettingsView {
    fn new(s: FinanceSettings, currency: &str) -> Self {
        Self {
            hard_lock_date: s.hard_lock_date,
            approval_threshold: s.approval_threshold.map(|d| amount(d, currency)),
            tax_rounding: s.tax_rounding.as_str(),
            prices_include_tax: s.prices_include_tax,
            version: s.version,
            updated_at: s.updated_at,
        }
    }
}

/// The tenant's finance settings.
#[utoipa::path(tag = "ledger", operation_id = "get_finance_settings", responses((status = 200, body = FinanceSettingsView)))]
#[get("/finance-settings")]
pub async fn get_finance_settings(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
) -> Result<HttpResponse, AppError> {
    let s = FinanceSettingsView::new(ledger::settings(&app, auth.tenant_id()).await?, &auth.tenant.base_currency);
    Ok(HttpResponse::Ok().insert_header(etag(s.version)).json(s))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFinanceSettingsRequest {
    /// Moves forward only.
    pub hard_lock_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "50000.00")]
    pub approval_threshold: Option<Option<Money>>,
    /// line or document
    pub tax_rounding: Option<String>,
    pub prices_include_tax: Option<bool>,
}

/// Change the finance settings (If-Match required).
#[utoipa::path(tag = "ledger", operation_id = "update_finance_settings", request_body = UpdateFinanceSettingsRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = FinanceSettingsView), (status = 422, body = Problem)))]
#[patch("/finance-settings")]
pub async fn update_finance_settings(
    app: web::Data<AppState>,
    auth: Authorized<FinanceApprove>,
    if_match: IfMatch,
    body: ApiJson<UpdateFinanceSettingsRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let patch = ledger::SettingsPatch {
        hard_lock_date: b.hard_lock_date,
        approval_threshold: b.approval_threshold.map(|o| o.map(Money::value)),
        tax_rounding: b.tax_rounding,
        prices_include_tax: b.prices_include_tax,
    };
    let s = FinanceSettingsView::new(
        ledger::update_settings(&app, &auth.ctx(), if_match.0, patch).await?,
        &auth.tenant.base_currency,
    );
    Ok(HttpResponse::Ok().insert_header(etag(s.version)).json(s))
}

#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    /// yyyymm
    pub id: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// open or closed
    pub status: &'static str,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<Period> for PeriodView {
    fn from(p: Period) -> Self {
        Self {
            id: p.id,
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            status: if p.is_closed { "closed" } else { "open" },
            closed_at: p.closed_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    pub year: i32,
}

/// The twelve monthly periods of a year.
#[utoipa::path(tag = "ledger", operation_id = "list_fiscal_periods", params(PeriodQuery), responses((status = 200, body = Vec<PeriodView>)))]
#[get("/fiscal-periods")]
pub async fn list_fiscal_periods(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let list = ledger::periods(&app, auth.tenant_id(), q.year).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(PeriodView::from).collect::<Vec<_>>()))
}

/// Close a period (id `yyyymm`): postings dated in it are refused until it is reopened.
#[utoipa::path(tag = "ledger", operation_id = "close_fiscal_period", responses((status = 200, body = PeriodView), (status = 409, body = Problem)))]
#[post("/fiscal-periods/{id}/close")]
pub async fn close_fiscal_period(
    app: web::Data<AppState>,
    auth: Authorized<FinanceApprove>,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(PeriodView::from(ledger::set_period_closed(&app, &auth.ctx(), *id, true).await?)))
}

/// Reopen a closed period (an admin action, audited). Periods up to the hard lock date stay closed.
#[utoipa::path(tag = "ledger", operation_id = "reopen_fiscal_period", responses((status = 200, body = PeriodView), (status = 409, body = Problem)))]
#[post("/fiscal-periods/{id}/reopen")]
pub async fn reopen_fiscal_period(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(PeriodView::from(ledger::set_period_closed(&app, &auth.ctx(), *id, false).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryLineRequest {
    pub account_id: Uuid,
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub debit: Option<Money>,
    #[schema(value_type = Option<String>, example = "1000.00")]
    pub credit: Option<Money>,
    pub memo: Option<String>,
    pub department: Option<String>,
    pub project: Option<String>,
    pub customer_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    pub entry_date: NaiveDate,
    pub memo: String,
    /// The transaction currency; default the base currency. In another currency the lines'
    /// amounts are in it and the base amounts are derived at `exchange_rate` (a rounding
    /// difference goes to the rounding account).
    pub currency: Option<String>,
    /// Base units per unit of `currency`; default the tenant's rate on or before `entry_date`.
    #[schema(value_type = Option<String>, example = "7.123400")]
    pub exchange_rate: Option<Rate>,
    pub lines: Vec<EntryLineRequest>,
}

impl From<EntryRequest> for ledger::EntryInput {
    fn from(b: EntryRequest) -> Self {
        ledger::EntryInput {
            entry_date: b.entry_date,
            memo: b.memo,
            currency: b.currency,
            exchange_rate: b.exchange_rate.map(Rate::value),
            lines: b
                .lines
                .into_iter()
                .map(|l| {
                    EntryLine::base(
                        l.account_id,
                        l.debit.map(Money::value).unwrap_or_default(),
                        l.credit.map(Money::value).unwrap_or_default(),
                        l.memo.unwrap_or_default(),
                        Dimensions {
                            department: l.department,
                            project: l.project,
                            customer_id: l.customer_id,
                            supplier_id: l.supplier_id,
                            item_id: l.item_id,
                        },
                    )
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryLineView {
    pub line_no: usize,
    pub account_id: Uuid,
    /// In the base currency.
    pub debit: String,
    pub credit: String,
    /// In the entry's currency (the same as `debit`/`credit` for a base-currency entry; zero on
    /// a base-only line such as an exchange difference).
    pub debit_fx: String,
    pub credit_fx: String,
    pub memo: String,
    pub department: Option<String>,
    pub project: Option<String>,
    pub customer_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub id: Uuid,
    /// Given at posting, gapless per period, e.g. 记-2026-11-0001.
    pub number: Option<String>,
    pub entry_date: NaiveDate,
    /// draft, posted or reversed
    pub status: &'static str,
    pub memo: String,
    /// The transaction currency.
    pub currency: String,
    /// Base units per unit of `currency`.
    pub exchange_rate: String,
    /// Total debit in the base currency.
    pub total: String,
    /// manual, reversal, or the business document that posted it
    pub source_type: String,
    pub source_id: Option<String>,
    pub reversal_of: Option<Uuid>,
    pub reversed_by: Option<Uuid>,
    pub posted_at: Option<DateTime<Utc>>,
    pub lines: Vec<EntryLineView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn status(e: &Entry) -> &'static str {
    match (e.is_posted, e.reversed_by) {
        (false, _) => "draft",
        (true, None) => "posted",
        (true, Some(_)) => "reversed",
    }
}

impl EntryView {
    pub(crate) fn new(e: Entry, lines: Vec<EntryLine>, base: &str) -> Self {
        let cur = e.currency.clone();
        Self {
            id: e.id,
            number: e.number.clone(),
            entry_date: e.entry_date,
            status: status(&e),
            memo: e.memo,
            exchange_rate: e.exchange_rate.to_string(),
            total: amount(e.total_debit, base),
            source_type: e.source_type,
            source_id: e.source_id,
            reversal_of: e.reversal_of,
            reversed_by: e.reversed_by,
            posted_at: e.posted_at,
            lines: lines
                .into_iter()
                .enumerate()
                .map(|(i, l)| EntryLineView {
                    line_no: i + 1,
                    account_id: l.account_id,
                    debit: amount(l.debit, base),
                    credit: amount(l.credit, base),
                    debit_fx: amount(l.debit_fx, &cur),
                    credit_fx: amount(l.credit_fx, &cur),
                    memo: l.memo,
                    department: l.dimensions.department,
                    project: l.dimensions.project,
                    customer_id: l.dimensions.customer_id,
                    supplier_id: l.dimensions.supplier_id,
                    item_id: l.dimensions.item_id,
                })
                .collect(),
            currency: cur,
            version: e.version,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

fn entry_response(
    status: actix_web::http::StatusCode,
    (e, lines): (Entry, Vec<EntryLine>),
    base: &str,
) -> HttpResponse {
    let v = EntryView::new(e, lines, base);
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/journal-entries/{}", v.id)))
        .insert_header(etag(v.version))
        .json(v)
}

/// Save a journal entry as a draft. It must balance and use postable accounts.
#[utoipa::path(tag = "ledger", operation_id = "create_journal_entry", request_body = EntryRequest,
    responses((status = 201, body = EntryView), (status = 422, body = Problem)))]
#[post("/journal-entries")]
pub async fn create_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<EntryRequest>,
) -> Result<HttpResponse, AppError> {
    let created = ledger::create_draft(&app, &auth.ctx(), body.0.into()).await?;
    Ok(entry_response(actix_web::http::StatusCode::CREATED, created, &auth.tenant.base_currency))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntryQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// draft or posted
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    /// Searches number and memo.
    pub q: Option<String>,
}

/// Journal entries, oldest first.
#[utoipa::path(tag = "ledger", operation_id = "list_journal_entries", params(EntryQuery),
    responses((status = 200, body = ListResponse<EntryView>)))]
#[get("/journal-entries")]
pub async fn list_journal_entries(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<EntryQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let is_posted = match q.status.as_deref() {
        None => None,
        Some("draft") => Some(false),
        Some("posted") => Some(true),
        Some(_) => return Err(AppError::field("status", "must be draft or posted")),
    };
    let filter =
        EntryFilter { is_posted, from: q.from, to: q.to, source_type: q.source_type, source_id: q.source_id, q: q.q };
    let (rows, next_cursor) =
        paginate(ledger::list_entries(&app, auth.tenant_id(), &page, &filter).await?, &page, |e| e.id);
    Ok(HttpResponse::Ok().json(ListResponse {
        data: rows.into_iter().map(|e| EntryView::new(e, Vec::new(), &auth.tenant.base_currency)).collect(),
        next_cursor,
    }))
}

/// Read one journal entry with its lines.
#[utoipa::path(tag = "ledger", operation_id = "get_journal_entry", responses((status = 200, body = EntryView), (status = 404, body = Problem)))]
#[get("/journal-entries/{id}")]
pub async fn get_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (entry, lines) = ledger::get_entry(&app, auth.tenant_id(), *id).await?;
    let v = EntryView::new(entry, lines, &auth.tenant.base_currency);
    Ok(HttpResponse::Ok().insert_header(etag(v.version)).json(v))
}

/// Replace a draft (If-Match required). Posted entries are never edited.
#[utoipa::path(tag = "ledger", operation_id = "update_journal_entry", request_body = EntryRequest,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses((status = 200, body = EntryView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[patch("/journal-entries/{id}")]
pub async fn update_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<EntryRequest>,
) -> Result<HttpResponse, AppError> {
    let updated = ledger::update_draft(&app, &auth.ctx(), *id, if_match.0, body.0.into()).await?;
    Ok(entry_response(actix_web::http::StatusCode::OK, updated, &auth.tenant.base_currency))
}

/// Delete a draft.
#[utoipa::path(tag = "ledger", operation_id = "delete_journal_entry", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/journal-entries/{id}")]
pub async fn delete_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    ledger::delete_draft(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Post a draft: number it and add it to the ledger. Entries above the approval threshold
/// need finance:approve.
#[utoipa::path(tag = "ledger", operation_id = "post_journal_entry",
    responses((status = 200, body = EntryView), (status = 409, body = Problem)))]
#[post("/journal-entries/{id}/post")]
pub async fn post_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let posted = ledger::post_entry(&app, &auth.ctx(), *id).await?;
    Ok(entry_response(actix_web::http::StatusCode::OK, posted, &auth.tenant.base_currency))
}

/// Submit a draft to the tenant's journal-entry approval flows: frozen until decided, posted
/// when approved (at once under the flow's threshold).
#[utoipa::path(tag = "ledger", operation_id = "submit_journal_entry",
    responses((status = 200, body = EntryView), (status = 409, body = Problem)))]
#[post("/journal-entries/{id}/submit")]
pub async fn submit_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let e = crate::store::retrying(|| ledger::submit_entry(&app, &ctx, *id)).await?;
    Ok(entry_response(actix_web::http::StatusCode::OK, e, &auth.tenant.base_currency))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// Defaults to the original's date.
    pub entry_date: Option<NaiveDate>,
    pub memo: Option<String>,
}

/// Reverse a posted entry: a mirror entry is posted and linked both ways.
#[utoipa::path(tag = "ledger", operation_id = "reverse_journal_entry", request_body = ReverseRequest,
    responses((status = 201, body = EntryView), (status = 409, body = Problem)))]
#[post("/journal-entries/{id}/reverse")]
pub async fn reverse_journal_entry(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReverseRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let reversal =
        ledger::reverse_entry(&app, &auth.ctx(), *id, ledger::ReversalInput { entry_date: b.entry_date, memo: b.memo })
            .await?;
    Ok(entry_response(actix_web::http::StatusCode::CREATED, reversal, &auth.tenant.base_currency))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Start of the movement columns; opening balances are everything before it.
    pub from: Option<NaiveDate>,
    /// End of the report (default today).
    pub to: Option<NaiveDate>,
    /// Same as `to` with no `from`: balances as of a date.
    pub as_of: Option<NaiveDate>,
    /// json (default) or csv
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TrialBalanceLine {
    pub account_id: Uuid,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub account_type: &'static str,
    /// 0 for top-level accounts.
    pub level: usize,
    pub is_postable: bool,
    pub opening_debit: String,
    pub opening_credit: String,
    pub debit: String,
    pub credit: String,
    pub closing_debit: String,
    pub closing_credit: String,
}

#[derive(Serialize, ToSchema)]
pub struct TrialBalanceTotals {
    pub opening_debit: String,
    pub opening_credit: String,
    pub debit: String,
    pub credit: String,
    pub closing_debit: String,
    pub closing_credit: String,
    /// Debits equal credits in every column.
    pub balanced: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TrialBalanceView {
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
    pub currency: String,
    pub lines: Vec<TrialBalanceLine>,
    /// Sums of postable accounts (parents already include their sub-accounts).
    pub totals: TrialBalanceTotals,
}

/// Trial balance (科目余额表): opening, movement and closing per account, with CSV export.
#[utoipa::path(tag = "reports", operation_id = "trial_balance", params(ReportQuery),
    responses((status = 200, body = TrialBalanceView), (status = 422, body = Problem)))]
#[get("/reports/trial-balance")]
pub async fn trial_balance(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    if q.as_of.is_some() && (q.from.is_some() || q.to.is_some()) {
        return Err(AppError::field("as_of", "use as_of alone, or from and to"));
    }
    let to = q.as_of.or(q.to).unwrap_or_else(|| app.now().date_naive());
    let tb = ledger::trial_balance(&app, auth.tenant_id(), q.from, to).await?;
    let cur = auth.tenant.base_currency.clone();
    let lines: Vec<TrialBalanceLine> = tb
        .rows
        .into_iter()
        .map(|r| {
            let c = r.columns;
            TrialBalanceLine {
                account_id: r.account.id,
                code: r.account.code,
                name: r.account.name,
                name_en: r.account.name_en,
                account_type: r.account.account_type.as_str(),
                level: r.level,
                is_postable: r.account.is_postable,
                opening_debit: amount(c.opening_debit, &cur),
                opening_credit: amount(c.opening_credit, &cur),
                debit: amount(c.debit, &cur),
                credit: amount(c.credit, &cur),
                closing_debit: amount(c.closing_debit, &cur),
                closing_credit: amount(c.closing_credit, &cur),
            }
        })
        .collect();
    let t = tb.totals;
    let totals = TrialBalanceTotals {
        opening_debit: amount(t.opening_debit, &cur),
        opening_credit: amount(t.opening_credit, &cur),
        debit: amount(t.debit, &cur),
        credit: amount(t.credit, &cur),
        closing_debit: amount(t.closing_debit, &cur),
        closing_credit: amount(t.closing_credit, &cur),
        balanced: t.is_balanced(),
    };
    if wants_csv(q.format.as_deref())? {
        let mut csv = String::from(
            "code,name,name_en,type,level,opening_debit,opening_credit,debit,credit,closing_debit,closing_credit\n",
        );
        let field = csv_field;
        for l in &lines {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                field(&l.code),
                field(&l.name),
                field(l.name_en.as_deref().unwrap_or("")),
                l.account_type,
                l.level,
                l.opening_debit,
                l.opening_credit,
                l.debit,
                l.credit,
                l.closing_debit,
                l.closing_credit
            ));
        }
        csv.push_str(&format!(
            "TOTAL,,,,,{},{},{},{},{},{}\n",
            totals.opening_debit,
            totals.opening_credit,
            totals.debit,
            totals.credit,
            totals.closing_debit,
            totals.closing_credit
        ));
        return Ok(csv_response(&format!("trial-balance-{to}.csv"), csv));
    }
    Ok(HttpResponse::Ok().json(TrialBalanceView { from: q.from, to, currency: cur, lines, totals }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GeneralLedgerQuery {
    pub account_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Lines per page, 1-10000 (default 1000).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn ledger_cursor(c: &crate::store::ledger::LineCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}|{}", c.0, c.1, c.2))
}

fn parse_ledger_cursor(s: &str) -> Result<crate::store::ledger::LineCursor, AppError> {
    let bad = || AppError::field("cursor", "is not a cursor this server gave");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts = text.split('|');
    let (Some(d), Some(e), Some(n), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    Ok((d.parse().map_err(|_| bad())?, e.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?))
}

#[derive(Serialize, ToSchema)]
pub struct GeneralLedgerLine {
    pub entry_date: NaiveDate,
    pub number: Option<String>,
    pub entry_id: Uuid,
    pub account_id: Uuid,
    pub memo: String,
    pub debit: String,
    pub credit: String,
    /// Running balance, debit positive.
    pub balance: String,
}

#[derive(Serialize, ToSchema)]
pub struct GeneralLedgerView {
    pub account: AccountView,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Balance before `from`, debit positive.
    pub opening: String,
    /// Balance before this page's first line (equals `opening` on the first page).
    pub page_opening: String,
    pub lines: Vec<GeneralLedgerLine>,
    /// Balance after this page's last line (the closing balance on the last page).
    pub closing: String,
    /// Sums of this page's lines.
    pub total_debit: String,
    pub total_credit: String,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// General ledger detail (明细账) of an account and its sub-accounts.
#[utoipa::path(tag = "reports", operation_id = "general_ledger", params(GeneralLedgerQuery),
    responses((status = 200, body = GeneralLedgerView), (status = 404, body = Problem)))]
#[get("/reports/general-ledger")]
pub async fn general_ledger(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<GeneralLedgerQuery>,
) -> Result<HttpResponse, AppError> {
    let after = q.cursor.as_deref().filter(|c| !c.is_empty()).map(parse_ledger_cursor).transpose()?;
    let r = ledger::account_ledger(&app, auth.tenant_id(), q.account_id, q.from, q.to, after, q.limit.unwrap_or(1000))
        .await?;
    let cur = auth.tenant.base_currency.clone();
    let (mut debit, mut credit) = (Decimal::ZERO, Decimal::ZERO);
    let lines = r
        .lines
        .into_iter()
        .map(|(l, balance)| {
            debit += l.debit;
            credit += l.credit;
            GeneralLedgerLine {
                entry_date: l.entry_date,
                number: l.number,
                entry_id: l.entry_id,
                account_id: l.account_id,
                memo: l.memo,
                debit: amount(l.debit, &cur),
                credit: amount(l.credit, &cur),
                balance: amount(balance, &cur),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(GeneralLedgerView {
        account: AccountView::from(r.account),
        from: q.from,
        to: q.to,
        opening: amount(r.opening, &cur),
        page_opening: amount(r.page_opening, &cur),
        lines,
        closing: amount(r.closing, &cur),
        total_debit: amount(debit, &cur),
        total_credit: amount(credit, &cur),
        next_cursor: r.next.as_ref().map(ledger_cursor),
    }))
}
