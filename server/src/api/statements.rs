//! Financial statements and the year-end close.

use actix_web::{HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Authorized, FinanceApprove, FinanceRead};
use super::ledger::{AccountView, EntryView, amount};
use super::problem::Problem;
use super::views::{csv_field, csv_response, wants_csv};
use crate::app::{AppState, statements};
use crate::error::AppError;

#[derive(Serialize, ToSchema)]
pub struct StatementLineView {
    /// Stable key of the line (`total_assets`, `net_profit`, ...).
    pub key: &'static str,
    pub label: &'static str,
    pub label_en: &'static str,
    pub is_total: bool,
    pub amount: String,
    /// Balance sheet: at the start of the year (年初余额). Income statement: year to date (本年累计).
    pub comparison: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatementView {
    pub title: &'static str,
    pub title_en: &'static str,
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
    pub currency: String,
    pub lines: Vec<StatementLineView>,
    /// Balance sheet: total assets equal total liabilities and equity.
    pub balanced: bool,
}

fn view(
    s: statements::Statement,
    from: Option<NaiveDate>,
    to: NaiveDate,
    currency: String,
    csv: bool,
    name: &str,
) -> HttpResponse {
    let lines: Vec<StatementLineView> = s
        .lines
        .into_iter()
        .map(|(l, comparison)| StatementLineView {
            key: l.key,
            label: l.label,
            label_en: l.label_en,
            is_total: l.is_total,
            amount: amount(l.amount, &currency),
            comparison: amount(comparison, &currency),
        })
        .collect();
    if csv {
        let mut body = String::from("key,label,label_en,amount,comparison\n");
        for l in &lines {
            body.push_str(&format!(
                "{},{},{},{},{}\n",
                l.key,
                csv_field(l.label),
                csv_field(l.label_en),
                l.amount,
                l.comparison
            ));
        }
        return csv_response(&format!("{name}-{to}.csv"), body);
    }
    HttpResponse::Ok().json(StatementView {
        title: s.layout.title,
        title_en: s.layout.title_en,
        from,
        to,
        currency,
        lines,
        balanced: s.balanced,
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BalanceSheetQuery {
    /// Balances at the end of this day (default today).
    pub as_of: Option<NaiveDate>,
    /// json (default) or csv
    pub format: Option<String>,
}

/// Balance sheet (资产负债表) in the chart template's layout, with the start-of-year column.
#[utoipa::path(tag = "reports", operation_id = "balance_sheet", params(BalanceSheetQuery),
    responses((status = 200, body = StatementView), (status = 422, body = Problem)))]
#[get("/reports/balance-sheet")]
pub async fn balance_sheet(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<BalanceSheetQuery>,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let as_of = q.as_of.unwrap_or_else(|| app.now().date_naive());
    let s = statements::balance_sheet(&app, auth.tenant_id(), as_of).await?;
    Ok(view(s, None, as_of, auth.tenant.base_currency.clone(), csv, "balance-sheet"))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IncomeStatementQuery {
    /// Default: the first day of `to`'s month.
    pub from: Option<NaiveDate>,
    /// Default: today.
    pub to: Option<NaiveDate>,
    /// json (default) or csv
    pub format: Option<String>,
}

/// Income statement (利润表) in the chart template's layout, with the year-to-date column.
/// Year-end closing entries are left out, so a closed year still shows its profit.
#[utoipa::path(tag = "reports", operation_id = "income_statement", params(IncomeStatementQuery),
    responses((status = 200, body = StatementView), (status = 422, body = Problem)))]
#[get("/reports/income-statement")]
pub async fn income_statement(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<IncomeStatementQuery>,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let to = q.to.unwrap_or_else(|| app.now().date_naive());
    let from = match q.from {
        Some(f) => f,
        None => NaiveDate::from_ymd_opt(chrono::Datelike::year(&to), chrono::Datelike::month(&to), 1)
            .ok_or_else(|| AppError::field("to", "is out of range"))?,
    };
    let s = statements::income_statement(&app, auth.tenant_id(), from, to).await?;
    Ok(view(s, Some(from), to, auth.tenant.base_currency.clone(), csv, "income-statement"))
}

#[derive(Serialize, ToSchema)]
pub struct YearCloseView {
    pub year: i32,
    /// Profit carried into retained earnings (negative for a loss).
    pub net_profit: String,
    /// The closing entry; absent when no revenue or expense account had a balance.
    pub closing_entry: Option<EntryView>,
    /// Periods (`yyyymm`) this close closed.
    pub periods_closed: Vec<i32>,
}

/// Year-end close: carries profit and loss into retained earnings with a closing entry dated
/// 31 December and closes every period of the year. 409 if the year is already closed.
#[utoipa::path(tag = "ledger", operation_id = "close_fiscal_year",
    params(("year" = i32, Path, description = "Calendar year, e.g. 2026")),
    responses((status = 200, body = YearCloseView), (status = 409, body = Problem)))]
#[post("/fiscal-years/{year}/close")]
pub async fn close_fiscal_year(
    app: web::Data<AppState>,
    auth: Authorized<FinanceApprove>,
    year: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let r = statements::close_year(&app, &auth.ctx(), *year).await?;
    let currency = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(YearCloseView {
        year: r.year,
        net_profit: amount(r.net_profit, &currency),
        closing_entry: r.entry.map(|(e, l)| EntryView::new(e, l, &currency)),
        periods_closed: r.periods_closed,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountBalancesQuery {
    pub account_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// json (default) or csv
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PeriodBalanceView {
    /// yyyymm
    pub period: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Signed, debit positive.
    pub opening: String,
    pub debit: String,
    pub credit: String,
    pub closing: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountBalancesView {
    pub account: AccountView,
    pub currency: String,
    pub periods: Vec<PeriodBalanceView>,
}

/// An account's balances month by month (with its sub-accounts): opening, debits, credits,
/// closing. The first and last months are cut at `from` and `to`.
#[utoipa::path(tag = "reports", operation_id = "account_balances", params(AccountBalancesQuery),
    responses((status = 200, body = AccountBalancesView), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[get("/reports/account-balances")]
pub async fn account_balances(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<AccountBalancesQuery>,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let (account, periods) = statements::account_balances(&app, auth.tenant_id(), q.account_id, q.from, q.to).await?;
    let cur = auth.tenant.base_currency.clone();
    let periods: Vec<PeriodBalanceView> = periods
        .into_iter()
        .map(|p| PeriodBalanceView {
            period: p.period,
            from: p.from,
            to: p.to,
            opening: amount(p.opening, &cur),
            debit: amount(p.debit, &cur),
            credit: amount(p.credit, &cur),
            closing: amount(p.closing, &cur),
        })
        .collect();
    if csv {
        let mut body = String::from("period,from,to,opening,debit,credit,closing\n");
        for p in &periods {
            body.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                p.period, p.from, p.to, p.opening, p.debit, p.credit, p.closing
            ));
        }
        return Ok(csv_response(&format!("account-balances-{}-{}.csv", account.code, q.to), body));
    }
    Ok(HttpResponse::Ok().json(AccountBalancesView { account: AccountView::from(account), currency: cur, periods }))
}
