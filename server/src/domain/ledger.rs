//! Posting rules of the general ledger: what makes a journal entry valid, how a reversal
//! mirrors an entry, which period a date falls in. Pure: accounts and settings come in as
//! values.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{FieldError, Fields};

pub const ENTRY_LINES_MAX: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountType {
    Asset,
    Liability,
    Equity,
    Revenue,
    Expense,
    /// Production cost accumulation (生产成本, 制造费用).
    Cost,
}

impl AccountType {
    pub const ALL: [AccountType; 6] = [
        AccountType::Asset,
        AccountType::Liability,
        AccountType::Equity,
        AccountType::Revenue,
        AccountType::Expense,
        AccountType::Cost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Asset => "asset",
            AccountType::Liability => "liability",
            AccountType::Equity => "equity",
            AccountType::Revenue => "revenue",
            AccountType::Expense => "expense",
            AccountType::Cost => "cost",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| "must be asset, liability, equity, revenue, expense or cost".to_owned())
    }

    /// Debit-normal accounts grow with debits.
    pub fn is_debit_normal(self) -> bool {
        matches!(self, AccountType::Asset | AccountType::Expense | AccountType::Cost)
    }

    /// Revenue and expense close into retained earnings at year end.
    pub fn is_profit_and_loss(self) -> bool {
        matches!(self, AccountType::Revenue | AccountType::Expense)
    }
}

/// Digits after the decimal point in the currency's minor unit (ISO 4217).
pub fn minor_unit_digits(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// The period a date falls in: `yyyymm`.
pub fn period_of(date: NaiveDate) -> i32 {
    date.year() * 100 + date.month() as i32
}

pub fn period_bounds(period: i32) -> Option<(NaiveDate, NaiveDate)> {
    let (year, month) = (period / 100, (period % 100) as u32);
    let start = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((start, next.pred_opt()?))
}

/// What posting needs to know of an account.
#[derive(Clone, Debug)]
pub struct AccountFacts {
    pub code: String,
    pub is_postable: bool,
    pub is_active: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dimensions {
    pub department: Option<String>,
    pub project: Option<String>,
    pub customer_id: Option<Uuid>,
    pub supplier_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
}

/// A journal line: `debit`/`credit` in the base currency, `debit_fx`/`credit_fx` in the
/// entry's transaction currency (equal to the base amounts when that is the base currency;
/// zero on a base-only line such as a realized exchange difference).
#[derive(Clone, Debug, PartialEq)]
pub struct EntryLine {
    pub account_id: Uuid,
    pub debit: Decimal,
    pub credit: Decimal,
    pub debit_fx: Decimal,
    pub credit_fx: Decimal,
    pub memo: String,
    pub dimensions: Dimensions,
}

impl EntryLine {
    /// A line in the base currency.
    pub fn base(account_id: Uuid, debit: Decimal, credit: Decimal, memo: String, dimensions: Dimensions) -> Self {
        Self { account_id, debit, credit, debit_fx: debit, credit_fx: credit, memo, dimensions }
    }
}

/// Why an entry cannot be posted, with the facts.
#[derive(Clone, Debug, PartialEq)]
pub enum PostingError {
    Fields(Vec<FieldError>),
    Unbalanced {
        debit: Decimal,
        credit: Decimal,
    },
    /// Base amounts balance but the transaction-currency amounts do not.
    UnbalancedInCurrency {
        currency: String,
        debit: Decimal,
        credit: Decimal,
    },
}

/// Checks lines against the accounts and the currencies: each line one-sided and positive, no
/// more decimals than each currency has, postable active accounts, debits equal credits in the
/// base currency and in the transaction currency. Returns the total base debit.
pub fn check_lines(
    lines: &[EntryLine],
    currency: &str,
    base_currency: &str,
    accounts: &HashMap<Uuid, AccountFacts>,
) -> Result<Decimal, PostingError> {
    let mut f = Fields::new();
    if lines.len() < 2 {
        f.push("lines", "an entry needs at least two lines");
    }
    if lines.len() > ENTRY_LINES_MAX {
        f.push("lines", format!("an entry has at most {ENTRY_LINES_MAX} lines"));
    }
    let (digits, base_digits) = (minor_unit_digits(currency), minor_unit_digits(base_currency));
    let foreign = currency != base_currency;
    let (mut debit, mut credit, mut debit_fx, mut credit_fx) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (i, line) in lines.iter().enumerate() {
        let at = |field: &str| format!("lines[{i}].{field}");
        // In a foreign-currency entry the client's figures are the transaction amounts; the base
        // amounts are derived, so a base problem is reported against `*_base`.
        let checks = [
            (if foreign { "debit_base" } else { "debit" }, line.debit, base_digits, base_currency),
            (if foreign { "credit_base" } else { "credit" }, line.credit, base_digits, base_currency),
            ("debit", line.debit_fx, digits, currency),
            ("credit", line.credit_fx, digits, currency),
        ];
        for (name, v, places, cur) in checks.into_iter().skip(if foreign { 0 } else { 2 }) {
            if v.is_sign_negative() && !v.is_zero() {
                f.push(at(name), "must not be negative");
            }
            if v.normalize().scale() > places {
                f.push(at(name), format!("has more than {places} decimal places for {cur}"));
            }
        }
        if !foreign && (line.debit != line.debit_fx || line.credit != line.credit_fx) {
            f.push(at("debit"), "base and transaction amounts differ in a base-currency entry");
        }
        if line.debit.is_zero() == line.credit.is_zero() {
            f.push(at("debit"), "exactly one of debit and credit must be non-zero");
        }
        if (!line.debit_fx.is_zero() && line.debit.is_zero()) || (!line.credit_fx.is_zero() && line.credit.is_zero()) {
            f.push(at("debit"), format!("rounds to zero in {base_currency}"));
        }
        match accounts.get(&line.account_id) {
            None => f.push(at("account_id"), "no such account"),
            Some(a) if !a.is_postable => {
                f.push(at("account_id"), format!("account {} has sub-accounts; post to one of them", a.code))
            }
            Some(a) if !a.is_active => f.push(at("account_id"), format!("account {} is inactive", a.code)),
            Some(_) => {}
        }
        debit += line.debit;
        credit += line.credit;
        debit_fx += line.debit_fx;
        credit_fx += line.credit_fx;
    }
    let errors = f.into_errors();
    if !errors.is_empty() {
        return Err(PostingError::Fields(errors));
    }
    if debit_fx != credit_fx {
        return Err(if foreign {
            PostingError::UnbalancedInCurrency { currency: currency.to_owned(), debit: debit_fx, credit: credit_fx }
        } else {
            PostingError::Unbalanced { debit, credit }
        });
    }
    if debit != credit {
        return Err(PostingError::Unbalanced { debit, credit });
    }
    Ok(debit)
}

/// The lines of a reversal: every debit becomes a credit and back, dimensions kept.
pub fn reversal_lines(lines: &[EntryLine]) -> Vec<EntryLine> {
    lines
        .iter()
        .map(|l| EntryLine {
            debit: l.credit,
            credit: l.debit,
            debit_fx: l.credit_fx,
            credit_fx: l.debit_fx,
            ..l.clone()
        })
        .collect()
}

/// Whether a posting dated `date` is allowed by the hard lock date.
pub fn after_lock(date: NaiveDate, hard_lock_date: Option<NaiveDate>) -> bool {
    hard_lock_date.is_none_or(|lock| date > lock)
}

/// A trial-balance row's six columns: a signed balance shows on its debit or credit side.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BalanceColumns {
    pub opening_debit: Decimal,
    pub opening_credit: Decimal,
    pub debit: Decimal,
    pub credit: Decimal,
    pub closing_debit: Decimal,
    pub closing_credit: Decimal,
}

fn sides(signed: Decimal) -> (Decimal, Decimal) {
    if signed.is_sign_negative() { (Decimal::ZERO, -signed) } else { (signed, Decimal::ZERO) }
}

impl BalanceColumns {
    /// From a signed opening balance (debit positive) and the movements.
    pub fn new(opening: Decimal, debit: Decimal, credit: Decimal) -> Self {
        let (opening_debit, opening_credit) = sides(opening);
        let (closing_debit, closing_credit) = sides(opening + debit - credit);
        Self { opening_debit, opening_credit, debit, credit, closing_debit, closing_credit }
    }

    pub fn add(&mut self, o: &Self) {
        self.opening_debit += o.opening_debit;
        self.opening_credit += o.opening_credit;
        self.debit += o.debit;
        self.credit += o.credit;
        self.closing_debit += o.closing_debit;
        self.closing_credit += o.closing_credit;
    }

    /// Debits equal credits in every column (true of the totals of a sound ledger).
    pub fn is_balanced(&self) -> bool {
        self.opening_debit == self.opening_credit
            && self.debit == self.credit
            && self.closing_debit == self.closing_credit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(postable: bool) -> AccountFacts {
        AccountFacts { code: "1001".into(), is_postable: postable, is_active: true }
    }

    fn line(account: Uuid, debit: &str, credit: &str) -> EntryLine {
        EntryLine::base(account, debit.parse().unwrap(), credit.parse().unwrap(), String::new(), Dimensions::default())
    }

    #[test]
    fn a_balanced_entry_passes_and_reports_its_total() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let accounts = HashMap::from([(a, acct(true)), (b, acct(true))]);
        let total = check_lines(&[line(a, "100.10", "0"), line(b, "0", "100.10")], "CNY", "CNY", &accounts).unwrap();
        assert_eq!(total.to_string(), "100.10");
    }

    #[test]
    fn unbalanced_entries_are_refused_with_both_sums() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let accounts = HashMap::from([(a, acct(true)), (b, acct(true))]);
        let err = check_lines(&[line(a, "100", "0"), line(b, "0", "99.99")], "CNY", "CNY", &accounts).unwrap_err();
        assert_eq!(err, PostingError::Unbalanced { debit: "100".parse().unwrap(), credit: "99.99".parse().unwrap() });
    }

    #[test]
    fn parent_accounts_excess_decimals_and_two_sided_lines_are_field_errors() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let accounts = HashMap::from([(a, acct(false)), (b, acct(true))]);
        let PostingError::Fields(errors) =
            check_lines(&[line(a, "1.005", "0"), line(b, "1", "1")], "CNY", "CNY", &accounts).unwrap_err()
        else {
            panic!("expected field errors")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].debit", "lines[0].account_id", "lines[1].debit"]);
        assert!(check_lines(&[line(b, "1", "0"), line(b, "0", "1")], "JPY", "JPY", &accounts).is_ok());
        assert!(check_lines(&[line(b, "1.5", "0"), line(b, "0", "1.5")], "JPY", "JPY", &accounts).is_err());
    }

    #[test]
    fn a_reversal_mirrors_every_line() {
        let a = Uuid::now_v7();
        let r = reversal_lines(&[line(a, "5", "0")]);
        assert_eq!((r[0].debit.to_string(), r[0].credit.to_string()), ("0".into(), "5".into()));
    }

    #[test]
    fn balances_show_on_their_side_and_totals_balance() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let cash = BalanceColumns::new(d("100"), d("20"), d("150"));
        assert_eq!((cash.opening_debit, cash.closing_debit, cash.closing_credit), (d("100"), d("0"), d("30")));
        let mut total = cash;
        total.add(&BalanceColumns::new(d("-100"), d("150"), d("20")));
        assert!(total.is_balanced());
        assert!(!cash.is_balanced());
    }

    #[test]
    fn periods_are_months() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(period_of(d), 202612);
        let (s, e) = period_bounds(202602).unwrap();
        assert_eq!((s.to_string(), e.to_string()), ("2026-02-01".into(), "2026-02-28".into()));
        assert!(!after_lock(d, Some(d)));
        assert!(after_lock(d, None));
    }
}
