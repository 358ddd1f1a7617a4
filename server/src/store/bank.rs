//! Bank accounts, imported statement lines and bank rules.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entities::{bank_accounts, bank_rules, bank_statement_lines, journal_entries, journal_lines};
use super::scaled::{money_from_db, money_to_db};
use super::{TenantTx, date_str, is_unique_violation, parse_date};
use crate::domain::bank::ColumnMapping;
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq)]
pub struct BankAccount {
    pub id: Uuid,
    pub name: String,
    pub bank_name: Option<String>,
    pub account_number: Option<String>,
    /// The ledger account (银行存款 or a sub-account) its movements post to.
    pub account_id: Uuid,
    pub currency: String,
    /// Book lines up to this date count as reconciled; the statement starts from here.
    pub opening_date: NaiveDate,
    /// The statement's balance at the end of `opening_date`.
    pub opening_balance: Decimal,
    pub statement_mapping: Option<ColumnMapping>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn account_from(m: bank_accounts::Model) -> AppResult<BankAccount> {
    Ok(BankAccount {
        id: m.id,
        name: m.name,
        bank_name: m.bank_name,
        account_number: m.account_number,
        account_id: m.account_id,
        currency: m.currency,
        opening_date: parse_date(&m.opening_date)?,
        opening_balance: money_from_db(m.opening_balance),
        statement_mapping: m.statement_mapping.map(serde_json::from_value).transpose().map_err(AppError::internal)?,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn account_am(tx: &TenantTx<'_>, b: &BankAccount) -> AppResult<bank_accounts::ActiveModel> {
    Ok(bank_accounts::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(b.id),
        name: Set(b.name.clone()),
        bank_name: Set(b.bank_name.clone()),
        account_number: Set(b.account_number.clone()),
        account_id: Set(b.account_id),
        currency: Set(b.currency.clone()),
        opening_date: Set(date_str(b.opening_date)),
        opening_balance: Set(money_to_db(b.opening_balance)?),
        statement_mapping: Set(b
            .statement_mapping
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(AppError::internal)?),
        is_active: Set(b.is_active),
        created_at: Set(b.created_at),
        updated_at: Set(b.updated_at),
        version: Set(b.version),
    })
}

pub async fn insert_account(tx: &TenantTx<'_>, b: &BankAccount) -> AppResult<()> {
    match bank_accounts::Entity::insert(account_am(tx, b)?).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict("that ledger account already has a bank account".into()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn save_account(tx: &TenantTx<'_>, b: &BankAccount) -> AppResult<bool> {
    let mut am = account_am(tx, b)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = bank_accounts::Entity::update_many()
        .set(am)
        .filter(bank_accounts::Column::TenantId.eq(tx.tenant().0))
        .filter(bank_accounts::Column::Id.eq(b.id))
        .filter(bank_accounts::Column::Version.eq(b.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn get_account(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<BankAccount>> {
    bank_accounts::Entity::find()
        .filter(bank_accounts::Column::TenantId.eq(tx.tenant().0))
        .filter(bank_accounts::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(account_from)
        .transpose()
}

pub async fn list_accounts(tx: &TenantTx<'_>) -> AppResult<Vec<BankAccount>> {
    bank_accounts::Entity::find()
        .filter(bank_accounts::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(bank_accounts::Column::Name)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(account_from)
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatementLine {
    pub id: Uuid,
    pub bank_account_id: Uuid,
    pub import_id: Uuid,
    pub line_date: NaiveDate,
    pub amount: Decimal,
    pub description: String,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    pub fingerprint: String,
    pub matched_entry_id: Option<Uuid>,
    pub matched_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn line_from(m: bank_statement_lines::Model) -> AppResult<StatementLine> {
    Ok(StatementLine {
        id: m.id,
        bank_account_id: m.bank_account_id,
        import_id: m.import_id,
        line_date: parse_date(&m.line_date)?,
        amount: money_from_db(m.amount),
        description: m.description,
        reference: m.reference,
        counterparty: m.counterparty,
        fingerprint: m.fingerprint,
        matched_entry_id: m.matched_entry_id,
        matched_at: m.matched_at,
        created_at: m.created_at,
    })
}

/// Inserts lines whose fingerprint is new for the account; returns how many were new.
pub async fn insert_lines(tx: &TenantTx<'_>, lines: &[StatementLine]) -> AppResult<Vec<Uuid>> {
    use bank_statement_lines::Column as C;
    let mut inserted = Vec::new();
    for l in lines {
        let am = bank_statement_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            id: Set(l.id),
            bank_account_id: Set(l.bank_account_id),
            import_id: Set(l.import_id),
            line_date: Set(date_str(l.line_date)),
            amount: Set(money_to_db(l.amount)?),
            description: Set(l.description.clone()),
            reference: Set(l.reference.clone()),
            counterparty: Set(l.counterparty.clone()),
            fingerprint: Set(l.fingerprint.clone()),
            matched_entry_id: Set(None),
            matched_at: Set(None),
            created_at: Set(l.created_at),
        };
        let r = bank_statement_lines::Entity::insert(am)
            .on_conflict(OnConflict::columns([C::TenantId, C::BankAccountId, C::Fingerprint]).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
        if r == 1 {
            inserted.push(l.id);
        }
    }
    Ok(inserted)
}

pub async fn lines(
    tx: &TenantTx<'_>,
    bank_account: Uuid,
    matched: Option<bool>,
    to: Option<NaiveDate>,
) -> AppResult<Vec<StatementLine>> {
    let mut q = bank_statement_lines::Entity::find()
        .filter(bank_statement_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(bank_statement_lines::Column::BankAccountId.eq(bank_account));
    match matched {
        Some(true) => q = q.filter(bank_statement_lines::Column::MatchedEntryId.is_not_null()),
        Some(false) => q = q.filter(bank_statement_lines::Column::MatchedEntryId.is_null()),
        None => {}
    }
    if let Some(d) = to {
        q = q.filter(bank_statement_lines::Column::LineDate.lte(date_str(d)));
    }
    q.order_by_asc(bank_statement_lines::Column::LineDate)
        .order_by_asc(bank_statement_lines::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(line_from)
        .collect()
}

pub async fn get_line(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<StatementLine>> {
    bank_statement_lines::Entity::find()
        .filter(bank_statement_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(bank_statement_lines::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(line_from)
        .transpose()
}

/// Sets or clears a line's match; false if the line changed meanwhile or the entry is
/// already matched to another line.
pub async fn set_match(tx: &TenantTx<'_>, line: Uuid, entry: Option<Uuid>, now: DateTime<Utc>) -> AppResult<bool> {
    use bank_statement_lines::Column as C;
    let mut q = bank_statement_lines::Entity::update_many()
        .col_expr(C::MatchedEntryId, Expr::value(entry))
        .col_expr(C::MatchedAt, Expr::value(entry.map(|_| now)))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(line));
    q = if entry.is_some() { q.filter(C::MatchedEntryId.is_null()) } else { q.filter(C::MatchedEntryId.is_not_null()) };
    match q.exec(tx.conn()).await {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => {
            Err(AppError::Conflict("that entry is matched to another statement line".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A posted entry's movement on one ledger account, with what can identify it.
#[derive(Clone, Debug)]
pub struct BookItem {
    pub entry_id: Uuid,
    pub number: String,
    pub entry_date: NaiveDate,
    pub memo: String,
    pub source_type: String,
    pub source_id: Option<String>,
    /// Debit positive.
    pub amount: Decimal,
    /// Whether a statement line is matched to it.
    pub matched: bool,
}

/// Posted movements on a ledger account dated `from..=to`, one per entry.
pub async fn book_items(tx: &TenantTx<'_>, account: Uuid, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<BookItem>> {
    let lines = journal_lines::Entity::find()
        .filter(journal_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(journal_lines::Column::AccountId.eq(account))
        .filter(journal_lines::Column::Posted.eq(true))
        .filter(journal_lines::Column::EntryDate.between(date_str(from), date_str(to)))
        .all(tx.conn())
        .await?;
    let mut sums: std::collections::BTreeMap<Uuid, i64> = std::collections::BTreeMap::new();
    for l in &lines {
        *sums.entry(l.entry_id).or_default() += l.debit - l.credit;
    }
    let ids: Vec<Uuid> = sums.keys().copied().collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let entries = journal_entries::Entity::find()
            .filter(journal_entries::Column::TenantId.eq(tx.tenant().0))
            .filter(journal_entries::Column::Id.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?;
        let matched: std::collections::HashSet<Uuid> = bank_statement_lines::Entity::find()
            .filter(bank_statement_lines::Column::TenantId.eq(tx.tenant().0))
            .filter(bank_statement_lines::Column::MatchedEntryId.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?
            .into_iter()
            .filter_map(|l| l.matched_entry_id)
            .collect();
        for e in entries {
            let amount = sums.get(&e.id).copied().unwrap_or_default();
            if amount == 0 {
                continue;
            }
            out.push(BookItem {
                entry_id: e.id,
                number: e.number.unwrap_or_default(),
                entry_date: parse_date(&e.entry_date)?,
                memo: e.memo,
                source_type: e.source_type,
                source_id: e.source_id,
                amount: money_from_db(amount),
                matched: matched.contains(&e.id),
            });
        }
    }
    out.sort_by_key(|i| (i.entry_date, i.entry_id));
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
pub struct BankRule {
    pub id: Uuid,
    /// None: applies to every bank account.
    pub bank_account_id: Option<Uuid>,
    pub name: String,
    pub contains: String,
    /// in, out or any
    pub direction: String,
    /// What the bank line posts against (bank charges, interest...).
    pub account_id: Uuid,
    pub memo: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_rule(tx: &TenantTx<'_>, r: &BankRule) -> AppResult<()> {
    let am = bank_rules::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(r.id),
        bank_account_id: Set(r.bank_account_id),
        name: Set(r.name.clone()),
        contains: Set(r.contains.clone()),
        direction: Set(r.direction.clone()),
        account_id: Set(r.account_id),
        memo: Set(r.memo.clone()),
        is_active: Set(r.is_active),
        created_at: Set(r.created_at),
    };
    bank_rules::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn rules(tx: &TenantTx<'_>) -> AppResult<Vec<BankRule>> {
    Ok(bank_rules::Entity::find()
        .filter(bank_rules::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(bank_rules::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| BankRule {
            id: m.id,
            bank_account_id: m.bank_account_id,
            name: m.name,
            contains: m.contains,
            direction: m.direction,
            account_id: m.account_id,
            memo: m.memo,
            is_active: m.is_active,
            created_at: m.created_at,
        })
        .collect())
}
