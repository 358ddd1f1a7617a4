//! Financial statements (balance sheet, income statement) and the year-end close.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::ledger::{epoch, parse_period, post_in, range_sums, sums_before};
use super::{AppState, Change, Ctx, record};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{self as rules, Dimensions, EntryLine};
use crate::domain::statements::{self, AccountBalance, Layout, StatementLine};
use crate::error::{AppError, AppResult};
use crate::store::ledger::{self as books, Account, Entry, YEAR_END_CLOSE};
use crate::store::{Access, TenantTx, tenants};

/// A statement with two amount columns per line.
pub struct Statement {
    pub layout: &'static Layout,
    /// (line, amount, comparison): the comparison is the balance at the start of the year on
    /// a balance sheet, the year to date on an income statement.
    pub lines: Vec<(StatementLine, Decimal)>,
    pub balanced: bool,
}

fn year_start(d: NaiveDate) -> AppResult<NaiveDate> {
    NaiveDate::from_ymd_opt(chrono::Datelike::year(&d), 1, 1).ok_or_else(|| AppError::internal("year start"))
}

fn balances(accounts: &[Account], sums: &HashMap<Uuid, (Decimal, Decimal)>) -> Vec<AccountBalance> {
    accounts
        .iter()
        .filter_map(|a| {
            let (d, c) = sums.get(&a.id)?;
            Some(AccountBalance { code: a.code.clone(), kind: a.account_type, balance: d - c })
        })
        .collect()
}

fn zip(current: Vec<StatementLine>, other: Vec<StatementLine>) -> Vec<(StatementLine, Decimal)> {
    current.into_iter().zip(other).map(|(a, b)| (a, b.amount)).collect()
}

/// The balance sheet at the end of `as_of`, with the balances at the start of its year.
pub async fn balance_sheet(app: &AppState, tenant: TenantId, as_of: NaiveDate) -> AppResult<Statement> {
    let day_after = as_of.succ_opt().ok_or_else(|| AppError::field("as_of", "is out of range"))?;
    if as_of < epoch()? {
        return Err(AppError::field("as_of", "must be after 1900-01-01"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let template = tenants::current(&tx).await?.coa_template;
    let accounts = books::all_accounts(&tx).await?;
    let closing = sums_before(&tx, day_after).await?;
    let opening = sums_before(&tx, year_start(as_of)?).await?;
    tx.commit().await?;
    let layout = statements::balance_sheet_layout(&template);
    let now = statements::compute(layout, &balances(&accounts, &closing));
    let then = statements::compute(layout, &balances(&accounts, &opening));
    let balanced =
        statements::amount_of(&now, "total_assets") == statements::amount_of(&now, "total_liabilities_and_equity");
    Ok(Statement { layout, lines: zip(now, then), balanced })
}

/// Movements of `from..=to` without year-end closing entries (which would zero a closed year).
async fn movements(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<HashMap<Uuid, (Decimal, Decimal)>> {
    let mut sums = range_sums(tx, from, to).await?;
    for (account, d, c) in books::closing_sums(tx, from, to).await? {
        let e = sums.entry(account).or_default();
        e.0 -= d;
        e.1 -= c;
    }
    Ok(sums)
}

/// The income statement for `from..=to`, with the year to date of `to`.
pub async fn income_statement(
    app: &AppState,
    tenant: TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Statement> {
    if from > to {
        return Err(AppError::field("from", "must not be after to"));
    }
    if from < epoch()? {
        return Err(AppError::field("from", "must be after 1900-01-01"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let template = tenants::current(&tx).await?.coa_template;
    let accounts = books::all_accounts(&tx).await?;
    let period = movements(&tx, from, to).await?;
    let ytd = movements(&tx, year_start(to)?, to).await?;
    tx.commit().await?;
    let layout = statements::income_statement_layout(&template);
    let now = statements::compute(layout, &balances(&accounts, &period));
    let then = statements::compute(layout, &balances(&accounts, &ytd));
    Ok(Statement { layout, lines: zip(now, then), balanced: true })
}

/// What closing a year did.
pub struct YearClose {
    pub year: i32,
    pub net_profit: Decimal,
    /// None when no profit-and-loss account had a balance.
    pub entry: Option<(Entry, Vec<EntryLine>)>,
    pub periods_closed: Vec<i32>,
}

/// Year-end close: one entry dated the last day of the year zeroes every revenue and expense
/// account (and the current-year profit account) into retained earnings; then every period of
/// the year is closed. To redo it, reopen December, reverse the closing entry, close again.
pub async fn close_year(app: &AppState, ctx: &Ctx, year: i32) -> AppResult<YearClose> {
    if !(1901..=9998).contains(&year) {
        return Err(AppError::field("year", "must be between 1901 and 9998"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    if let Some(existing) = books::standing_closing_entry(&tx, year).await? {
        return Err(AppError::InvalidState {
            entity: "fiscal year",
            state: format!("closed by {}", existing.number.unwrap_or_default()),
            action: "closed again (reverse the closing entry first)",
        });
    }
    let last_day = NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| AppError::field("year", "is out of range"))?;
    let next_year =
        NaiveDate::from_ymd_opt(year + 1, 1, 1).ok_or_else(|| AppError::field("year", "is out of range"))?;
    let accounts = books::all_accounts(&tx).await?;
    let sums = sums_before(&tx, next_year).await?;
    let mapping: HashMap<String, Uuid> = books::mappings(&tx).await?.into_iter().collect();
    let retained = *mapping
        .get("retained_earnings")
        .ok_or_else(|| AppError::Conflict("map the retained_earnings purpose to an account first".into()))?;
    let current = mapping.get("current_year_profit").copied();
    let input: Vec<(Uuid, rules::AccountType, Decimal)> =
        accounts.iter().filter_map(|a| sums.get(&a.id).map(|(d, c)| (a.id, a.account_type, d - c))).collect();
    let (lines, net_profit) = statements::closing_lines(&input, current, retained);
    let template = tenants::current(&tx).await?.coa_template;
    let memo = if template == "cn_small_business" {
        format!("{year}年度结转本年利润至利润分配")
    } else {
        format!("Year-end close {year}: profit and loss to retained earnings")
    };
    let entry_lines: Vec<EntryLine> = lines
        .into_iter()
        .map(|(account_id, debit, credit)| {
            EntryLine::base(account_id, debit, credit, memo.clone(), Dimensions::default())
        })
        .collect();
    let entry = if entry_lines.is_empty() {
        None
    } else {
        let mut e = Entry {
            id: Uuid::now_v7(),
            number: None,
            entry_date: last_day,
            period_id: rules::period_of(last_day),
            is_posted: false,
            memo: memo.clone(),
            currency: tenants::current(&tx).await?.base_currency,
            exchange_rate: Decimal::ONE,
            total_debit: entry_lines.iter().map(|l| l.debit).sum(),
            source_type: YEAR_END_CLOSE.into(),
            source_id: Some(year.to_string()),
            reversal_of: None,
            reversed_by: None,
            created_by: Some(ctx.principal.actor_uuid()),
            posted_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        post_in(&tx, &mut e, &entry_lines, now, super::ledger::Numbering::Now).await?;
        books::insert_entry(&tx, &e, &entry_lines).await?;
        Some((e, entry_lines))
    };
    let mut periods_closed = Vec::new();
    for month in 1..=12 {
        let id = year * 100 + month;
        let (starts_on, ends_on) = parse_period(id)?;
        let p = books::ensure_period(&tx, id, starts_on, ends_on).await?;
        if p.is_closed {
            continue;
        }
        let after = books::Period { is_closed: true, closed_at: Some(now), version: p.version + 1, ..p };
        if !books::set_period_closed(&tx, &after).await? {
            return Err(AppError::Retryable("a period changed while the year was being closed".into()));
        }
        periods_closed.push(id);
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "fiscal_year.close",
            "fiscal_year",
            Some(year.to_string()),
            None,
            Some(serde_json::json!({
                "net_profit": net_profit.to_string(),
                "closing_entry": entry.as_ref().map(|(e, _)| e.number.clone()),
                "periods_closed": periods_closed,
            })),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(YearClose { year, net_profit, entry, periods_closed })
}

/// One month of an account's balances.
pub struct PeriodBalance {
    pub period: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub opening: Decimal,
    pub debit: Decimal,
    pub credit: Decimal,
    pub closing: Decimal,
}

/// An account (with its sub-accounts) month by month over `from..=to`: opening, movement,
/// closing; the first and last months are cut at `from` and `to`.
pub async fn account_balances(
    app: &AppState,
    tenant: TenantId,
    account: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<(Account, Vec<PeriodBalance>)> {
    if from > to {
        return Err(AppError::field("from", "must not be after to"));
    }
    if from < epoch()? {
        return Err(AppError::field("from", "must be after 1900-01-01"));
    }
    if (to - from).num_days() > 3 * 366 {
        return Err(AppError::field("to", "at most three years at a time"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let all = books::all_accounts(&tx).await?;
    let target = all.iter().find(|a| a.id == account).cloned().ok_or(AppError::NotFound { entity: "account" })?;
    let mut subtree = vec![account];
    let mut i = 0;
    while let Some(parent) = subtree.get(i).copied() {
        subtree.extend(all.iter().filter(|a| a.parent_id == Some(parent)).map(|a| a.id));
        i += 1;
    }
    let net = |sums: &HashMap<Uuid, (Decimal, Decimal)>| -> (Decimal, Decimal) {
        subtree
            .iter()
            .filter_map(|id| sums.get(id))
            .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), (x, y)| (d + x, c + y))
    };
    let (d0, c0) = net(&sums_before(&tx, from).await?);
    let mut running = d0 - c0;
    let mut out = Vec::new();
    let mut month = rules::period_of(from);
    loop {
        let (start, end) = parse_period(month)?;
        let (a, b) = (start.max(from), end.min(to));
        let (debit, credit) = net(&range_sums(&tx, a, b).await?);
        let opening = running;
        running += debit - credit;
        out.push(PeriodBalance { period: month, from: a, to: b, opening, debit, credit, closing: running });
        if end >= to {
            break;
        }
        month = rules::period_of(end.succ_opt().ok_or_else(|| AppError::internal("date"))?);
    }
    tx.commit().await?;
    Ok((target, out))
}
