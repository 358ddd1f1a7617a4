//! The general ledger's rows: accounts, mappings, settings, periods, journal entries with their
//! lines, and per-account per-period balances kept in the posting transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::entities::{
    account_mappings, account_period_balances, accounts, finance_settings, fiscal_periods, journal_entries,
    journal_lines,
};
use super::scaled::{money_from_db, money_to_db, rate_from_db, rate_to_db};
use super::{Page, TenantTx, date_str, is_unique_violation, parse_date};
use crate::domain::ledger::{AccountFacts, AccountType, Dimensions, EntryLine};
use crate::domain::tax::Rounding;
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub parent_id: Option<Uuid>,
    pub account_type: AccountType,
    pub is_postable: bool,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<accounts::Model> for Account {
    type Error = AppError;
    fn try_from(m: accounts::Model) -> AppResult<Self> {
        Ok(Self {
            id: m.id,
            code: m.code,
            name: m.name,
            name_en: m.name_en,
            parent_id: m.parent_id,
            account_type: AccountType::parse(&m.account_type).map_err(AppError::internal)?,
            is_postable: m.is_postable,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        })
    }
}

fn account_am(tx: &TenantTx<'_>, a: &Account) -> accounts::ActiveModel {
    accounts::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(a.id),
        code: Set(a.code.clone()),
        name: Set(a.name.clone()),
        name_en: Set(a.name_en.clone()),
        parent_id: Set(a.parent_id),
        account_type: Set(a.account_type.as_str().to_owned()),
        is_postable: Set(a.is_postable),
        is_active: Set(a.is_active),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
        version: Set(a.version),
    }
}

/// Inserts accounts in order (parents before children); a taken code is a field error.
pub async fn insert_accounts(tx: &TenantTx<'_>, list: &[Account]) -> AppResult<()> {
    for a in list {
        match accounts::Entity::insert(account_am(tx, a)).exec_without_returning(tx.conn()).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::field("code", format!("account code {} is taken", a.code)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn accounts_of(tx: &TenantTx<'_>) -> sea_orm::Select<accounts::Entity> {
    accounts::Entity::find().filter(accounts::Column::TenantId.eq(tx.tenant().0))
}

pub async fn get_account(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Account>> {
    accounts_of(tx).filter(accounts::Column::Id.eq(id)).one(tx.conn()).await?.map(Account::try_from).transpose()
}

/// Every account of the tenant in code order (a chart holds hundreds, not millions).
pub async fn all_accounts(tx: &TenantTx<'_>) -> AppResult<Vec<Account>> {
    accounts_of(tx)
        .order_by_asc(accounts::Column::Code)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Account::try_from)
        .collect()
}

#[derive(Default)]
pub struct AccountFilter {
    pub account_type: Option<AccountType>,
    pub is_postable: Option<bool>,
    pub q: Option<String>,
}

/// Accounts in code order; the cursor is the last code seen.
pub async fn list_accounts(
    tx: &TenantTx<'_>,
    limit: u64,
    after_code: Option<&str>,
    f: &AccountFilter,
) -> AppResult<Vec<Account>> {
    let mut q = accounts_of(tx);
    if let Some(t) = f.account_type {
        q = q.filter(accounts::Column::AccountType.eq(t.as_str()));
    }
    if let Some(p) = f.is_postable {
        q = q.filter(accounts::Column::IsPostable.eq(p));
    }
    if let Some(text) = &f.q {
        let like = format!("%{text}%");
        q = q.filter(
            accounts::Column::Code
                .like(like.clone())
                .or(accounts::Column::Name.like(like.clone()))
                .or(accounts::Column::NameEn.like(like)),
        );
    }
    if let Some(after) = after_code {
        q = q.filter(accounts::Column::Code.gt(after));
    }
    q.order_by_asc(accounts::Column::Code)
        .limit(limit + 1)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Account::try_from)
        .collect()
}

pub async fn account_facts(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, AccountFacts>> {
    Ok(accounts_of(tx)
        .filter(accounts::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.id, AccountFacts { code: m.code, is_postable: m.is_postable, is_active: m.is_active }))
        .collect())
}

pub async fn update_account(tx: &TenantTx<'_>, a: &Account) -> AppResult<bool> {
    let res = accounts::Entity::update_many()
        .col_expr(accounts::Column::Name, Expr::value(a.name.clone()))
        .col_expr(accounts::Column::NameEn, Expr::value(a.name_en.clone()))
        .col_expr(accounts::Column::AccountType, Expr::value(a.account_type.as_str()))
        .col_expr(accounts::Column::IsPostable, Expr::value(a.is_postable))
        .col_expr(accounts::Column::IsActive, Expr::value(a.is_active))
        .col_expr(accounts::Column::UpdatedAt, Expr::value(a.updated_at))
        .col_expr(accounts::Column::Version, Expr::value(a.version))
        .filter(accounts::Column::TenantId.eq(tx.tenant().0))
        .filter(accounts::Column::Id.eq(a.id))
        .filter(accounts::Column::Version.eq(a.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn delete_account(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    accounts::Entity::delete_many()
        .filter(accounts::Column::TenantId.eq(tx.tenant().0))
        .filter(accounts::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Whether any journal line (draft or posted) uses the account.
pub async fn account_has_lines(tx: &TenantTx<'_>, id: Uuid) -> AppResult<bool> {
    Ok(journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::AccountId.eq(id))
        .limit(1)
        .count(tx.conn())
        .await?
        > 0)
}

pub async fn account_has_children(tx: &TenantTx<'_>, id: Uuid) -> AppResult<bool> {
    Ok(accounts_of(tx).filter(accounts::Column::ParentId.eq(id)).limit(1).count(tx.conn()).await? > 0)
}

pub async fn set_mappings(tx: &TenantTx<'_>, pairs: &[(String, Uuid)]) -> AppResult<()> {
    tx.memo()?.mappings = None;
    for (purpose, account) in pairs {
        let am = account_mappings::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            purpose: Set(purpose.clone()),
            account_id: Set(*account),
        };
        account_mappings::Entity::insert(am)
            .on_conflict(
                OnConflict::columns([account_mappings::Column::TenantId, account_mappings::Column::Purpose])
                    .update_column(account_mappings::Column::AccountId)
                    .to_owned(),
            )
            .exec_without_returning(tx.conn())
            .await?;
    }
    Ok(())
}

/// purpose -> account id.
pub async fn mappings(tx: &TenantTx<'_>) -> AppResult<Vec<(String, Uuid)>> {
    if let Some(m) = &tx.memo()?.mappings {
        return Ok(m.clone());
    }
    let m: Vec<(String, Uuid)> = account_mappings::Entity::find()
        .filter(account_mappings::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(account_mappings::Column::Purpose)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.purpose, m.account_id))
        .collect();
    tx.memo()?.mappings = Some(m.clone());
    Ok(m)
}

#[derive(Clone, Debug, PartialEq)]
pub struct FinanceSettings {
    pub hard_lock_date: Option<NaiveDate>,
    /// Entries whose total exceeds this need finance:approve to post.
    pub approval_threshold: Option<Decimal>,
    pub tax_rounding: Rounding,
    /// Default for new invoices: unit prices include tax.
    pub prices_include_tax: bool,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn settings(tx: &TenantTx<'_>) -> AppResult<FinanceSettings> {
    let m = finance_settings::Entity::find()
        .filter(finance_settings::Column::TenantId.eq(tx.tenant().0))
        .one(tx.conn())
        .await?
        .ok_or(AppError::NotFound { entity: "finance settings" })?;
    Ok(FinanceSettings {
        hard_lock_date: m.hard_lock_date.as_deref().map(parse_date).transpose()?,
        approval_threshold: m.approval_threshold.map(money_from_db),
        tax_rounding: Rounding::parse(&m.tax_rounding).map_err(AppError::internal)?,
        prices_include_tax: m.prices_include_tax,
        updated_at: m.updated_at,
        version: m.version,
    })
}

pub async fn insert_settings(tx: &TenantTx<'_>, s: &FinanceSettings) -> AppResult<()> {
    let am = finance_settings::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        hard_lock_date: Set(s.hard_lock_date.map(date_str)),
        approval_threshold: Set(s.approval_threshold.map(money_to_db).transpose()?),
        tax_rounding: Set(s.tax_rounding.as_str().to_owned()),
        prices_include_tax: Set(s.prices_include_tax),
        updated_at: Set(s.updated_at),
        version: Set(s.version),
    };
    finance_settings::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn update_settings(tx: &TenantTx<'_>, s: &FinanceSettings) -> AppResult<bool> {
    let res = finance_settings::Entity::update_many()
        .col_expr(finance_settings::Column::HardLockDate, Expr::value(s.hard_lock_date.map(date_str)))
        .col_expr(
            finance_settings::Column::ApprovalThreshold,
            Expr::value(s.approval_threshold.map(money_to_db).transpose()?),
        )
        .col_expr(finance_settings::Column::TaxRounding, Expr::value(s.tax_rounding.as_str()))
        .col_expr(finance_settings::Column::PricesIncludeTax, Expr::value(s.prices_include_tax))
        .col_expr(finance_settings::Column::UpdatedAt, Expr::value(s.updated_at))
        .col_expr(finance_settings::Column::Version, Expr::value(s.version))
        .filter(finance_settings::Column::TenantId.eq(tx.tenant().0))
        .filter(finance_settings::Column::Version.eq(s.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    pub id: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub is_closed: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
}

impl TryFrom<fiscal_periods::Model> for Period {
    type Error = AppError;
    fn try_from(m: fiscal_periods::Model) -> AppResult<Self> {
        Ok(Self {
            id: m.id,
            starts_on: parse_date(&m.starts_on)?,
            ends_on: parse_date(&m.ends_on)?,
            is_closed: m.status == "closed",
            closed_at: m.closed_at,
            version: m.version,
        })
    }
}

/// The period row, created open if it does not exist yet.
pub async fn ensure_period(tx: &TenantTx<'_>, id: i32, starts_on: NaiveDate, ends_on: NaiveDate) -> AppResult<Period> {
    // Nearly always there already: one read, and the insert only for a period's first posting.
    if let Some(p) = get_period(tx, id).await? {
        return Ok(p);
    }
    let am = fiscal_periods::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(id),
        starts_on: Set(date_str(starts_on)),
        ends_on: Set(date_str(ends_on)),
        status: Set("open".into()),
        closed_at: Set(None),
        version: Set(1),
    };
    fiscal_periods::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([fiscal_periods::Column::TenantId, fiscal_periods::Column::Id]).do_nothing().to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    get_period(tx, id).await?.ok_or_else(|| AppError::internal("period vanished"))
}

pub async fn get_period(tx: &TenantTx<'_>, id: i32) -> AppResult<Option<Period>> {
    fiscal_periods::Entity::find()
        .filter(fiscal_periods::Column::TenantId.eq(tx.tenant().0))
        .filter(fiscal_periods::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(Period::try_from)
        .transpose()
}

pub async fn list_periods(tx: &TenantTx<'_>, from: i32, to: i32) -> AppResult<Vec<Period>> {
    fiscal_periods::Entity::find()
        .filter(fiscal_periods::Column::TenantId.eq(tx.tenant().0))
        .filter(fiscal_periods::Column::Id.between(from, to))
        .order_by_asc(fiscal_periods::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Period::try_from)
        .collect()
}

pub async fn set_period_closed(tx: &TenantTx<'_>, p: &Period) -> AppResult<bool> {
    let res = fiscal_periods::Entity::update_many()
        .col_expr(fiscal_periods::Column::Status, Expr::value(if p.is_closed { "closed" } else { "open" }))
        .col_expr(fiscal_periods::Column::ClosedAt, Expr::value(p.closed_at))
        .col_expr(fiscal_periods::Column::Version, Expr::value(p.version))
        .filter(fiscal_periods::Column::TenantId.eq(tx.tenant().0))
        .filter(fiscal_periods::Column::Id.eq(p.id))
        .filter(fiscal_periods::Column::Version.eq(p.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: Uuid,
    pub number: Option<String>,
    pub entry_date: NaiveDate,
    pub period_id: i32,
    pub is_posted: bool,
    pub memo: String,
    pub currency: String,
    /// Base units per unit of `currency` (1 for the base currency).
    pub exchange_rate: Decimal,
    /// In the base currency.
    pub total_debit: Decimal,
    pub source_type: String,
    pub source_id: Option<String>,
    pub reversal_of: Option<Uuid>,
    pub reversed_by: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub posted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<journal_entries::Model> for Entry {
    type Error = AppError;
    fn try_from(m: journal_entries::Model) -> AppResult<Self> {
        Ok(Self {
            id: m.id,
            number: m.number,
            entry_date: parse_date(&m.entry_date)?,
            period_id: m.period_id,
            is_posted: m.status == "posted",
            memo: m.memo,
            currency: m.currency,
            exchange_rate: rate_from_db(m.exchange_rate),
            total_debit: money_from_db(m.total_debit),
            source_type: m.source_type,
            source_id: m.source_id,
            reversal_of: m.reversal_of,
            reversed_by: m.reversed_by,
            created_by: m.created_by,
            posted_at: m.posted_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        })
    }
}

fn line_from(m: journal_lines::Model) -> EntryLine {
    EntryLine {
        account_id: m.account_id,
        debit: money_from_db(m.debit),
        credit: money_from_db(m.credit),
        debit_fx: money_from_db(m.debit_fx),
        credit_fx: money_from_db(m.credit_fx),
        memo: m.memo,
        dimensions: Dimensions {
            department: m.department,
            project: m.project,
            customer_id: m.customer_id,
            supplier_id: m.supplier_id,
            item_id: m.item_id,
        },
    }
}

fn entry_am(tx: &TenantTx<'_>, e: &Entry) -> AppResult<journal_entries::ActiveModel> {
    Ok(journal_entries::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(e.id),
        number: Set(e.number.clone()),
        entry_date: Set(date_str(e.entry_date)),
        period_id: Set(e.period_id),
        status: Set(if e.is_posted { "posted" } else { "draft" }.into()),
        memo: Set(e.memo.clone()),
        currency: Set(e.currency.clone()),
        exchange_rate: Set(rate_to_db(e.exchange_rate)?),
        total_debit: Set(money_to_db(e.total_debit)?),
        source_type: Set(e.source_type.clone()),
        source_id: Set(e.source_id.clone()),
        reversal_of: Set(e.reversal_of),
        reversed_by: Set(e.reversed_by),
        created_by: Set(e.created_by),
        posted_at: Set(e.posted_at),
        created_at: Set(e.created_at),
        updated_at: Set(e.updated_at),
        version: Set(e.version),
    })
}

async fn insert_lines(tx: &TenantTx<'_>, e: &Entry, lines: &[EntryLine]) -> AppResult<()> {
    let mut rows = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        rows.push(journal_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            entry_id: Set(e.id),
            line_no: Set(i32::try_from(i + 1).map_err(AppError::internal)?),
            account_id: Set(l.account_id),
            entry_date: Set(date_str(e.entry_date)),
            posted: Set(e.is_posted),
            debit: Set(money_to_db(l.debit)?),
            credit: Set(money_to_db(l.credit)?),
            debit_fx: Set(money_to_db(l.debit_fx)?),
            credit_fx: Set(money_to_db(l.credit_fx)?),
            memo: Set(l.memo.clone()),
            department: Set(l.dimensions.department.clone()),
            project: Set(l.dimensions.project.clone()),
            customer_id: Set(l.dimensions.customer_id),
            supplier_id: Set(l.dimensions.supplier_id),
            item_id: Set(l.dimensions.item_id),
        });
    }
    // SQLite caps bound parameters per statement; 16 columns x 60 rows stays well under it.
    for chunk in rows.chunks(60) {
        journal_lines::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert_entry(tx: &TenantTx<'_>, e: &Entry, lines: &[EntryLine]) -> AppResult<()> {
    match journal_entries::Entity::insert(entry_am(tx, e)?).exec_without_returning(tx.conn()).await {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => return Err(AppError::Conflict("the entry number is taken".into())),
        Err(err) => return Err(err.into()),
    }
    insert_lines(tx, e, lines).await
}

pub async fn get_entry(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<(Entry, Vec<EntryLine>)>> {
    let Some(m) = journal_entries::Entity::find()
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.eq(id))
        .one(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let lines = journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::EntryId.eq(id))
        .order_by_asc(journal_lines::Column::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(line_from)
        .collect();
    Ok(Some((Entry::try_from(m)?, lines)))
}

#[derive(Default)]
pub struct EntryFilter {
    pub is_posted: Option<bool>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source_type: Option<String>,
    pub source_id: Option<String>,
    pub q: Option<String>,
}

pub async fn list_entries(tx: &TenantTx<'_>, page: &Page, f: &EntryFilter) -> AppResult<Vec<Entry>> {
    let mut q = journal_entries::Entity::find().filter(journal_entries::Column::TenantId.eq(tx.tenant().0));
    if let Some(p) = f.is_posted {
        q = q.filter(journal_entries::Column::Status.eq(if p { "posted" } else { "draft" }));
    }
    if let Some(d) = f.from {
        q = q.filter(journal_entries::Column::EntryDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(journal_entries::Column::EntryDate.lte(date_str(d)));
    }
    if let Some(s) = &f.source_type {
        q = q.filter(journal_entries::Column::SourceType.eq(s.clone()));
    }
    if let Some(s) = &f.source_id {
        q = q.filter(journal_entries::Column::SourceId.eq(s.clone()));
    }
    if let Some(text) = &f.q {
        let like = format!("%{text}%");
        q = q.filter(journal_entries::Column::Number.like(like.clone()).or(journal_entries::Column::Memo.like(like)));
    }
    if let Some(after) = page.after {
        q = q.filter(journal_entries::Column::Id.gt(after));
    }
    q.order_by_asc(journal_entries::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Entry::try_from)
        .collect()
}

/// Replaces a draft's header and lines if its version still matches.
pub async fn replace_draft(tx: &TenantTx<'_>, e: &Entry, lines: &[EntryLine]) -> AppResult<bool> {
    let res = journal_entries::Entity::update_many()
        .col_expr(journal_entries::Column::EntryDate, Expr::value(date_str(e.entry_date)))
        .col_expr(journal_entries::Column::PeriodId, Expr::value(e.period_id))
        .col_expr(journal_entries::Column::Memo, Expr::value(e.memo.clone()))
        .col_expr(journal_entries::Column::Currency, Expr::value(e.currency.clone()))
        .col_expr(journal_entries::Column::ExchangeRate, Expr::value(rate_to_db(e.exchange_rate)?))
        .col_expr(journal_entries::Column::TotalDebit, Expr::value(money_to_db(e.total_debit)?))
        .col_expr(journal_entries::Column::UpdatedAt, Expr::value(e.updated_at))
        .col_expr(journal_entries::Column::Version, Expr::value(e.version))
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.eq(e.id))
        .filter(journal_entries::Column::Status.eq("draft"))
        .filter(journal_entries::Column::Version.eq(e.version - 1))
        .exec(tx.conn())
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    delete_lines(tx, e.id).await?;
    insert_lines(tx, e, lines).await?;
    Ok(true)
}

async fn delete_lines(tx: &TenantTx<'_>, entry: Uuid) -> AppResult<()> {
    journal_lines::Entity::delete_many()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::EntryId.eq(entry))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn delete_draft(tx: &TenantTx<'_>, id: Uuid) -> AppResult<bool> {
    delete_lines(tx, id).await?;
    let res = journal_entries::Entity::delete_many()
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.eq(id))
        .filter(journal_entries::Column::Status.eq("draft"))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Turns a draft into a posted entry (number, time); false if it was no longer a draft at
/// the expected version.
pub async fn mark_posted(tx: &TenantTx<'_>, e: &Entry) -> AppResult<bool> {
    let res = journal_entries::Entity::update_many()
        .col_expr(journal_entries::Column::Status, Expr::value("posted"))
        .col_expr(journal_entries::Column::Number, Expr::value(e.number.clone()))
        .col_expr(journal_entries::Column::PostedAt, Expr::value(e.posted_at))
        .col_expr(journal_entries::Column::UpdatedAt, Expr::value(e.updated_at))
        .col_expr(journal_entries::Column::Version, Expr::value(e.version))
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.eq(e.id))
        .filter(journal_entries::Column::Status.eq("draft"))
        .filter(journal_entries::Column::Version.eq(e.version - 1))
        .exec(tx.conn())
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    journal_lines::Entity::update_many()
        .col_expr(journal_lines::Column::Posted, Expr::value(true))
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::EntryId.eq(e.id))
        .exec(tx.conn())
        .await?;
    Ok(true)
}

/// Links a posted entry to its reversal; false if it was already reversed.
pub async fn mark_reversed(tx: &TenantTx<'_>, id: Uuid, by: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
    let res = journal_entries::Entity::update_many()
        .col_expr(journal_entries::Column::ReversedBy, Expr::value(Some(by)))
        .col_expr(journal_entries::Column::UpdatedAt, Expr::value(now))
        .col_expr(journal_entries::Column::Version, Expr::col(journal_entries::Column::Version).add(1))
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.eq(id))
        .filter(journal_entries::Column::ReversedBy.is_null())
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Work on hot rows kept for the end of a transaction. Every posting adds to a handful of
/// shared balance rows (inventory, receivables, revenue, VAT, bank) and takes the period's
/// voucher number; done where the posting happens, those row locks would be held through the
/// rest of the use case and posters of every kind would queue behind each other. Kept here,
/// they are taken in one short burst right before COMMIT, in a fixed order (sequences by key,
/// then balances by account and period) so concurrent posters cannot deadlock.
#[derive(Default)]
pub struct AtCommit {
    numbers: std::collections::BTreeMap<String, Vec<(Uuid, NumberFormat)>>,
    balances: std::collections::BTreeMap<(Uuid, i32), (Decimal, Decimal)>,
}

/// Turns a sequence value into the entry's number.
pub type NumberFormat = Box<dyn Fn(i64) -> String + Send>;

/// Numbers a posted journal entry from the gapless sequence `key` when the transaction commits.
pub fn number_entry_at_commit(tx: &TenantTx<'_>, key: String, entry: Uuid, format: NumberFormat) -> AppResult<()> {
    tx.at_commit_work()?.numbers.entry(key).or_default().push((entry, format));
    Ok(())
}

/// Adds posted amounts to the account's balance for the period when the transaction commits.
pub fn add_to_balance_at_commit(
    tx: &TenantTx<'_>,
    account: Uuid,
    period: i32,
    debit: Decimal,
    credit: Decimal,
) -> AppResult<()> {
    let mut work = tx.at_commit_work()?;
    let cell = work.balances.entry((account, period)).or_default();
    cell.0 += debit;
    cell.1 += credit;
    Ok(())
}

pub(super) async fn flush_at_commit(tx: &TenantTx<'_>, work: AtCommit) -> AppResult<()> {
    for (key, entries) in work.numbers {
        let count = i64::try_from(entries.len()).map_err(AppError::internal)?;
        let first = take_from_sequence(tx, &key, count).await?;
        for ((id, format), n) in entries.into_iter().zip(first..) {
            journal_entries::Entity::update_many()
                .col_expr(journal_entries::Column::Number, Expr::value(Some(format(n))))
                .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
                .filter(journal_entries::Column::Id.eq(id))
                .exec(tx.conn())
                .await?;
        }
    }
    let cells: Vec<_> = work.balances.into_iter().map(|((a, p), (d, c))| (a, p, d, c)).collect();
    add_to_balances(tx, &cells).await
}

/// Adds (account, period, debit, credit) cells to the balance table in one upsert. The cells
/// must name each (account, period) once; their order is the order the rows are locked in.
async fn add_to_balances(tx: &TenantTx<'_>, cells: &[(Uuid, i32, Decimal, Decimal)]) -> AppResult<()> {
    if cells.is_empty() {
        return Ok(());
    }
    let rows = cells
        .iter()
        .map(|&(account, period, debit, credit)| {
            Ok(account_period_balances::ActiveModel {
                tenant_id: Set(tx.tenant().0),
                account_id: Set(account),
                period_id: Set(period),
                debit: Set(money_to_db(debit)?),
                credit: Set(money_to_db(credit)?),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    use account_period_balances::Column as C;
    for chunk in rows.chunks(500) {
        account_period_balances::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([C::TenantId, C::AccountId, C::PeriodId])
                    .value(
                        C::Debit,
                        Expr::col((account_period_balances::Entity, C::Debit)).add(Expr::cust("excluded.debit")),
                    )
                    .value(
                        C::Credit,
                        Expr::col((account_period_balances::Entity, C::Credit)).add(Expr::cust("excluded.credit")),
                    )
                    .to_owned(),
            )
            .exec_without_returning(tx.conn())
            .await?;
    }
    Ok(())
}

/// (account, debit, credit) summed over whole periods `from..=to`, from the balance table.
pub async fn period_sums(tx: &TenantTx<'_>, from: i32, to: i32) -> AppResult<Vec<(Uuid, Decimal, Decimal)>> {
    use account_period_balances::Column as C;
    let stmt = Query::select()
        .column(C::AccountId)
        .expr_as(Expr::col(C::Debit).sum().cast_as("BIGINT"), "debit")
        .expr_as(Expr::col(C::Credit).sum().cast_as("BIGINT"), "credit")
        .from(account_period_balances::Entity)
        .and_where(Expr::col(C::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(C::PeriodId).between(from, to))
        .group_by_col(C::AccountId)
        .to_owned();
    sums(tx, &stmt).await
}

/// (account, debit, credit) summed over posted lines dated `from..=to` (for partial periods).
pub async fn line_sums(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<(Uuid, Decimal, Decimal)>> {
    use journal_lines::Column as C;
    let stmt = Query::select()
        .column(C::AccountId)
        .expr_as(Expr::col(C::Debit).sum().cast_as("BIGINT"), "debit")
        .expr_as(Expr::col(C::Credit).sum().cast_as("BIGINT"), "credit")
        .from(journal_lines::Entity)
        .and_where(Expr::col(C::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(C::Posted).eq(true))
        .and_where(Expr::col(C::EntryDate).between(date_str(from), date_str(to)))
        .group_by_col(C::AccountId)
        .to_owned();
    sums(tx, &stmt).await
}

async fn sums(
    tx: &TenantTx<'_>,
    stmt: &sea_orm::sea_query::SelectStatement,
) -> AppResult<Vec<(Uuid, Decimal, Decimal)>> {
    let rows = tx.conn().query_all(stmt).await?;
    rows.iter()
        .map(|r| {
            // The SQL casts the sums to BIGINT (PostgreSQL's SUM of bigint is numeric); a sum
            // that does not fit fails the query instead of being clipped.
            Ok((
                r.try_get::<Uuid>("", "account_id")?,
                money_from_db(r.try_get::<i64>("", "debit")?),
                money_from_db(r.try_get::<i64>("", "credit")?),
            ))
        })
        .collect()
}

/// A posted line with its entry, for the general ledger detail.
#[derive(Clone, Debug)]
pub struct LedgerLine {
    pub account_id: Uuid,
    pub entry_id: Uuid,
    pub number: Option<String>,
    pub entry_date: NaiveDate,
    pub line_no: i32,
    pub memo: String,
    pub debit: Decimal,
    pub credit: Decimal,
}

/// Where a page of the general ledger ends: (date, entry, line) of its last line.
pub type LineCursor = (NaiveDate, Uuid, i32);

/// Lines strictly after a cursor, in (date, entry, line) order.
fn after_cursor(c: &LineCursor) -> sea_orm::Condition {
    use journal_lines::Column as C;
    let (d, e, n) = (date_str(c.0), c.1, c.2);
    sea_orm::Condition::any()
        .add(C::EntryDate.gt(d.clone()))
        .add(sea_orm::Condition::all().add(C::EntryDate.eq(d.clone())).add(C::EntryId.gt(e)))
        .add(sea_orm::Condition::all().add(C::EntryDate.eq(d)).add(C::EntryId.eq(e)).add(C::LineNo.gt(n)))
}

/// (debit, credit) of the posted lines of the given accounts from `from` up to and including
/// the cursor: what comes before a page of the general ledger.
pub async fn sums_through(
    tx: &TenantTx<'_>,
    accounts: &[Uuid],
    from: NaiveDate,
    cursor: &LineCursor,
) -> AppResult<(Decimal, Decimal)> {
    let lines = journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::AccountId.is_in(accounts.iter().copied()))
        .filter(journal_lines::Column::Posted.eq(true))
        .filter(journal_lines::Column::EntryDate.between(date_str(from), date_str(cursor.0)))
        .filter(after_cursor(cursor).not())
        .all(tx.conn())
        .await?;
    Ok(lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + money_from_db(l.debit), c + money_from_db(l.credit))))
}

/// Posted lines of the given accounts dated `from..=to` (after the cursor, when given), in
/// date, entry and line order.
pub async fn account_lines(
    tx: &TenantTx<'_>,
    accounts: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
    after: Option<&LineCursor>,
    limit: u64,
) -> AppResult<Vec<LedgerLine>> {
    let mut q = journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::AccountId.is_in(accounts.iter().copied()))
        .filter(journal_lines::Column::Posted.eq(true))
        .filter(journal_lines::Column::EntryDate.between(date_str(from), date_str(to)));
    if let Some(c) = after {
        q = q.filter(after_cursor(c));
    }
    let lines = q
        .order_by_asc(journal_lines::Column::EntryDate)
        .order_by_asc(journal_lines::Column::EntryId)
        .order_by_asc(journal_lines::Column::LineNo)
        .limit(limit)
        .all(tx.conn())
        .await?;
    let ids: Vec<Uuid> = lines.iter().map(|l| l.entry_id).collect();
    let numbers: HashMap<Uuid, Option<String>> = journal_entries::Entity::find()
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Id.is_in(ids))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|e| (e.id, e.number))
        .collect();
    lines
        .into_iter()
        .map(|l| {
            Ok(LedgerLine {
                account_id: l.account_id,
                number: numbers.get(&l.entry_id).cloned().flatten(),
                entry_id: l.entry_id,
                entry_date: parse_date(&l.entry_date)?,
                line_no: l.line_no,
                memo: l.memo,
                debit: money_from_db(l.debit),
                credit: money_from_db(l.credit),
            })
        })
        .collect()
}

/// The next number of a gapless per-tenant sequence, taken inside the caller's transaction:
/// the row is created if missing or incremented under its row lock, so concurrent posters queue
/// and no number is skipped or repeated.
pub async fn next_in_sequence(tx: &TenantTx<'_>, key: &str) -> AppResult<i64> {
    take_from_sequence(tx, key, 1).await
}

/// A number taken from a sequence, with the tenant's own prefix and digit count when set.
pub struct Numbered {
    pub value: i64,
    pub prefix: Option<String>,
    pub padding: Option<i32>,
}

/// The next number of a document sequence and how the tenant writes it.
pub async fn next_numbered(tx: &TenantTx<'_>, key: &str) -> AppResult<Numbered> {
    let row = sequence_upsert(tx, key, 1).await?;
    Ok(Numbered {
        value: row.try_get::<i64>("", "next_value")? - 1,
        prefix: row.try_get::<Option<String>>("", "prefix")?,
        padding: row.try_get::<Option<i32>>("", "padding")?,
    })
}

/// Every sequence row of the tenant: key, next value, prefix, padding.
pub async fn sequences(tx: &TenantTx<'_>) -> AppResult<Vec<super::entities::document_sequences::Model>> {
    use super::entities::document_sequences::{Column as C, Entity};
    Ok(Entity::find().filter(C::TenantId.eq(tx.tenant().0)).all(tx.conn()).await?)
}

/// Locks a sequence row (creating it at 1) and returns it, so a change to its numbering
/// cannot interleave with a number being taken.
pub async fn lock_sequence(tx: &TenantTx<'_>, key: &str) -> AppResult<(i64, Option<String>, Option<i32>)> {
    let row = sequence_upsert(tx, key, 0).await?;
    Ok((
        row.try_get::<i64>("", "next_value")?,
        row.try_get::<Option<String>>("", "prefix")?,
        row.try_get::<Option<i32>>("", "padding")?,
    ))
}

/// A sequence's numbering as the tenant set it.
pub struct SequenceSetting {
    pub next_value: i64,
    pub prefix: Option<String>,
    pub padding: Option<i32>,
    pub former_prefixes: Vec<String>,
}

/// Sets a locked sequence's numbering.
pub async fn set_sequence(tx: &TenantTx<'_>, key: &str, s: &SequenceSetting) -> AppResult<()> {
    use super::entities::document_sequences::{Column as C, Entity};
    let former = (!s.former_prefixes.is_empty()).then(|| s.former_prefixes.join(","));
    Entity::update_many()
        .col_expr(C::NextValue, Expr::value(s.next_value))
        .col_expr(C::Prefix, Expr::value(s.prefix.clone()))
        .col_expr(C::Padding, Expr::value(s.padding))
        .col_expr(C::FormerPrefixes, Expr::value(former))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::SequenceKey.eq(key))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Takes `count` consecutive numbers from a gapless sequence; returns the first.
async fn take_from_sequence(tx: &TenantTx<'_>, key: &str, count: i64) -> AppResult<i64> {
    let row = sequence_upsert(tx, key, count).await?;
    Ok(row.try_get::<i64>("", "next_value")? - count)
}

async fn sequence_upsert(tx: &TenantTx<'_>, key: &str, count: i64) -> AppResult<sea_orm::QueryResult> {
    use super::entities::document_sequences::{Column as C, Entity};
    // One statement: create the row at count + 1 (handing out 1..=count) or add count under its
    // row lock. Posters of the same kind queue once, not once for the insert and again for the
    // update.
    let stmt = Query::insert()
        .into_table(Entity)
        .columns([C::TenantId, C::SequenceKey, C::NextValue])
        .values([tx.tenant().0.into(), key.into(), (count + 1).into()])
        .map_err(AppError::internal)?
        .on_conflict(
            OnConflict::columns([C::TenantId, C::SequenceKey])
                .value(C::NextValue, Expr::col((Entity, C::NextValue)).add(count))
                .to_owned(),
        )
        .returning(Query::returning().columns([C::NextValue, C::Prefix, C::Padding]))
        .to_owned();
    tx.conn().query_one(&stmt).await?.ok_or_else(|| AppError::internal("sequence row missing"))
}

/// Ledger invariants that must hold after any sequence of operations; each returned string
/// names a violation. Used by the property tests (and cheap enough for an operator check).
pub async fn invariant_violations(tx: &TenantTx<'_>) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    // Every posted entry balances.
    let entries = journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::Posted.eq(true))
        .all(tx.conn())
        .await?;
    let mut per_entry: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut per_cell: HashMap<(Uuid, i32), (i64, i64)> = HashMap::new();
    for l in &entries {
        let e = per_entry.entry(l.entry_id).or_default();
        e.0 += l.debit;
        e.1 += l.credit;
        let date = parse_date(&l.entry_date)?;
        let c = per_cell.entry((l.account_id, crate::domain::ledger::period_of(date))).or_default();
        c.0 += l.debit;
        c.1 += l.credit;
    }
    for (id, (d, c)) in &per_entry {
        if d != c {
            out.push(format!("entry {id} debits {d} credits {c}"));
        }
    }
    // The period balances equal a recomputation from the lines.
    let stored = account_period_balances::Entity::find()
        .filter(account_period_balances::Column::TenantId.eq(tx.tenant().0))
        .all(tx.conn())
        .await?;
    for b in &stored {
        let expected = per_cell.remove(&(b.account_id, b.period_id)).unwrap_or_default();
        if expected != (b.debit, b.credit) {
            out.push(format!(
                "balance {} {} is {:?}, lines say {expected:?}",
                b.account_id,
                b.period_id,
                (b.debit, b.credit)
            ));
        }
    }
    for ((account, period), sums) in per_cell {
        out.push(format!("lines of {account} in {period} sum to {sums:?} with no balance row"));
    }
    // Posted entries are numbered 1, 2, 3... in each period, none skipped or repeated.
    let posted = journal_entries::Entity::find()
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::Status.eq("posted"))
        .all(tx.conn())
        .await?;
    let mut per_period: HashMap<i32, Vec<i64>> = HashMap::new();
    for e in &posted {
        let n = e.number.as_deref().and_then(|n| n.rsplit('-').next()).and_then(|n| n.parse().ok());
        match n {
            Some(n) => per_period.entry(e.period_id).or_default().push(n),
            None => out.push(format!("posted entry {} has no number ({:?})", e.id, e.number)),
        }
    }
    for (period, mut numbers) in per_period {
        numbers.sort_unstable();
        if numbers.iter().zip(1..).any(|(n, expected)| *n != expected) {
            out.push(format!("entry numbers of {period} are not 1..={}: {numbers:?}", numbers.len()));
        }
    }
    Ok(out)
}

/// Source type of the year-end closing entry; its `source_id` is the year.
pub const YEAR_END_CLOSE: &str = "year_end_close";

/// (account, debit, credit) of year-end closing entries dated `from..=to` and of their
/// reversals: the income statement leaves them out so a closed year still shows its profit.
pub async fn closing_sums(
    tx: &TenantTx<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(Uuid, Decimal, Decimal)>> {
    use journal_lines::Column as L;
    let closing = Query::select()
        .column(journal_entries::Column::Id)
        .from(journal_entries::Entity)
        .and_where(Expr::col(journal_entries::Column::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(journal_entries::Column::SourceType).eq(YEAR_END_CLOSE))
        .to_owned();
    let reversals = Query::select()
        .column(journal_entries::Column::Id)
        .from(journal_entries::Entity)
        .and_where(Expr::col(journal_entries::Column::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(journal_entries::Column::ReversalOf).in_subquery(closing.clone()))
        .to_owned();
    let stmt = Query::select()
        .column(L::AccountId)
        .expr_as(Expr::col(L::Debit).sum().cast_as("BIGINT"), "debit")
        .expr_as(Expr::col(L::Credit).sum().cast_as("BIGINT"), "credit")
        .from(journal_lines::Entity)
        .and_where(Expr::col(L::TenantId).eq(tx.tenant().0))
        .and_where(Expr::col(L::Posted).eq(true))
        .and_where(Expr::col(L::EntryDate).between(date_str(from), date_str(to)))
        .and_where(Expr::col(L::EntryId).in_subquery(closing).or(Expr::col(L::EntryId).in_subquery(reversals)))
        .group_by_col(L::AccountId)
        .to_owned();
    sums(tx, &stmt).await
}

/// The year's closing entry that has not been reversed, if any.
pub async fn standing_closing_entry(tx: &TenantTx<'_>, year: i32) -> AppResult<Option<Entry>> {
    journal_entries::Entity::find()
        .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_entries::Column::SourceType.eq(YEAR_END_CLOSE))
        .filter(journal_entries::Column::SourceId.eq(year.to_string()))
        .filter(journal_entries::Column::ReversedBy.is_null())
        .one(tx.conn())
        .await?
        .map(Entry::try_from)
        .transpose()
}
