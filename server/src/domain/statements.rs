//! Financial statements in a template's layout: the balance sheet (资产负债表) and the income
//! statement (利润表). Pure: account balances come in, report lines go out.
//!
//! Every postable account lands on exactly one line: the line whose code prefix is the longest
//! match, else its type's catch-all line. That is what keeps a statement balanced when a tenant
//! adds accounts of their own.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::ledger::AccountType::{self, *};

/// How a line gets its amount.
#[derive(Clone, Copy, Debug)]
pub enum LineRule {
    /// Accounts whose code starts with one of these prefixes, in the section's natural sign
    /// (assets and expenses debit-positive, the rest credit-positive) times `sign`.
    Accounts { prefixes: &'static [&'static str], sign: i8 },
    /// Where accounts of this type go when no prefix claims them.
    CatchAll { kind: AccountType, sign: i8 },
    /// Profit and loss not yet closed into retained earnings (balance sheet only).
    CurrentProfit,
    /// A sum of earlier lines, each with a sign.
    Total(&'static [(&'static str, i8)]),
}

#[derive(Clone, Copy, Debug)]
pub struct LineDef {
    pub key: &'static str,
    pub label: &'static str,
    pub label_en: &'static str,
    pub rule: LineRule,
}

const fn acc(
    key: &'static str,
    label: &'static str,
    label_en: &'static str,
    prefixes: &'static [&'static str],
) -> LineDef {
    LineDef { key, label, label_en, rule: LineRule::Accounts { prefixes, sign: 1 } }
}

const fn less(
    key: &'static str,
    label: &'static str,
    label_en: &'static str,
    prefixes: &'static [&'static str],
) -> LineDef {
    LineDef { key, label, label_en, rule: LineRule::Accounts { prefixes, sign: -1 } }
}

const fn rest(key: &'static str, label: &'static str, label_en: &'static str, kind: AccountType) -> LineDef {
    LineDef { key, label, label_en, rule: LineRule::CatchAll { kind, sign: 1 } }
}

const fn total(
    key: &'static str,
    label: &'static str,
    label_en: &'static str,
    parts: &'static [(&'static str, i8)],
) -> LineDef {
    LineDef { key, label, label_en, rule: LineRule::Total(parts) }
}

/// A statement layout: its lines in order and the keys a balanced statement equates.
pub struct Layout {
    pub title: &'static str,
    pub title_en: &'static str,
    pub lines: &'static [LineDef],
}

/// 资产负债表 (小企业会计准则 会小企01表).
pub const CN_BALANCE_SHEET: Layout = Layout {
    title: "资产负债表",
    title_en: "Balance sheet",
    lines: &[
        acc("cash", "货币资金", "Cash and cash equivalents", &["1001", "1002", "1012"]),
        acc("short_investments", "短期投资", "Short-term investments", &["1101"]),
        acc("notes_receivable", "应收票据", "Notes receivable", &["1121"]),
        acc("receivables", "应收账款", "Accounts receivable", &["1122"]),
        acc("prepayments", "预付账款", "Prepayments", &["1123"]),
        acc("dividends_receivable", "应收股利", "Dividends receivable", &["1131"]),
        acc("interest_receivable", "应收利息", "Interest receivable", &["1132"]),
        acc("other_receivables", "其他应收款", "Other receivables", &["1221"]),
        LineDef {
            key: "inventories",
            label: "存货",
            label_en: "Inventories",
            rule: LineRule::Accounts {
                prefixes: &["1401", "1402", "1403", "1404", "1405", "1408", "1411", "4001", "4101", "4301"],
                sign: 1,
            },
        },
        rest("other_current_assets", "其他流动资产", "Other current assets", Asset),
        total(
            "current_assets",
            "流动资产合计",
            "Total current assets",
            &[
                ("cash", 1),
                ("short_investments", 1),
                ("notes_receivable", 1),
                ("receivables", 1),
                ("prepayments", 1),
                ("dividends_receivable", 1),
                ("interest_receivable", 1),
                ("other_receivables", 1),
                ("inventories", 1),
                ("other_current_assets", 1),
            ],
        ),
        acc("long_bonds", "长期债券投资", "Long-term bond investments", &["1501"]),
        acc("long_equity", "长期股权投资", "Long-term equity investments", &["1511"]),
        acc("fixed_assets_cost", "固定资产原价", "Fixed assets at cost", &["1601"]),
        less("depreciation", "减：累计折旧", "Less: accumulated depreciation", &["1602"]),
        total(
            "fixed_assets",
            "固定资产账面价值",
            "Fixed assets, net",
            &[("fixed_assets_cost", 1), ("depreciation", -1)],
        ),
        acc("construction", "在建工程", "Construction in progress", &["1604"]),
        acc("disposals", "固定资产清理", "Fixed asset disposals", &["1606"]),
        acc("intangibles_cost", "无形资产", "Intangible assets", &["1701"]),
        less("amortisation", "减：累计摊销", "Less: accumulated amortisation", &["1702"]),
        acc("long_prepaid", "长期待摊费用", "Long-term prepaid expenses", &["1801"]),
        acc("other_noncurrent_assets", "其他非流动资产", "Other non-current assets", &["1901"]),
        total(
            "noncurrent_assets",
            "非流动资产合计",
            "Total non-current assets",
            &[
                ("long_bonds", 1),
                ("long_equity", 1),
                ("fixed_assets", 1),
                ("construction", 1),
                ("disposals", 1),
                ("intangibles_cost", 1),
                ("amortisation", -1),
                ("long_prepaid", 1),
                ("other_noncurrent_assets", 1),
            ],
        ),
        total("total_assets", "资产总计", "Total assets", &[("current_assets", 1), ("noncurrent_assets", 1)]),
        acc("short_loans", "短期借款", "Short-term loans", &["2001"]),
        acc("notes_payable", "应付票据", "Notes payable", &["2201"]),
        acc("payables", "应付账款", "Accounts payable", &["2202"]),
        acc("advances", "预收账款", "Advances from customers", &["2203"]),
        acc("payroll", "应付职工薪酬", "Payroll payable", &["2211"]),
        acc("taxes", "应交税费", "Taxes payable", &["2221"]),
        acc("interest_payable", "应付利息", "Interest payable", &["2231"]),
        acc("profit_payable", "应付利润", "Profit payable", &["2232"]),
        acc("other_payables", "其他应付款", "Other payables", &["2241"]),
        rest("other_current_liabilities", "其他流动负债", "Other current liabilities", Liability),
        total(
            "current_liabilities",
            "流动负债合计",
            "Total current liabilities",
            &[
                ("short_loans", 1),
                ("notes_payable", 1),
                ("payables", 1),
                ("advances", 1),
                ("payroll", 1),
                ("taxes", 1),
                ("interest_payable", 1),
                ("profit_payable", 1),
                ("other_payables", 1),
                ("other_current_liabilities", 1),
            ],
        ),
        acc("long_loans", "长期借款", "Long-term loans", &["2501"]),
        acc("long_payables", "长期应付款", "Long-term payables", &["2701"]),
        acc("deferred_income", "递延收益", "Deferred income", &["2401"]),
        total(
            "noncurrent_liabilities",
            "非流动负债合计",
            "Total non-current liabilities",
            &[("long_loans", 1), ("long_payables", 1), ("deferred_income", 1)],
        ),
        total(
            "total_liabilities",
            "负债合计",
            "Total liabilities",
            &[("current_liabilities", 1), ("noncurrent_liabilities", 1)],
        ),
        acc("paid_in_capital", "实收资本（或股本）", "Paid-in capital", &["3001"]),
        acc("capital_reserve", "资本公积", "Capital reserve", &["3002"]),
        acc("surplus_reserve", "盈余公积", "Surplus reserve", &["3101"]),
        rest("undistributed_profit_closed", "未分配利润（已结转）", "Retained earnings (closed)", Equity),
        LineDef {
            key: "current_profit",
            label: "未分配利润（本年未结转）",
            label_en: "Profit not yet closed",
            rule: LineRule::CurrentProfit,
        },
        total(
            "undistributed_profit",
            "未分配利润",
            "Retained earnings",
            &[("undistributed_profit_closed", 1), ("current_profit", 1)],
        ),
        total(
            "total_equity",
            "所有者权益（或股东权益）合计",
            "Total equity",
            &[("paid_in_capital", 1), ("capital_reserve", 1), ("surplus_reserve", 1), ("undistributed_profit", 1)],
        ),
        total(
            "total_liabilities_and_equity",
            "负债和所有者权益（或股东权益）总计",
            "Total liabilities and equity",
            &[("total_liabilities", 1), ("total_equity", 1)],
        ),
    ],
};

/// 利润表 (小企业会计准则 会小企02表).
pub const CN_INCOME_STATEMENT: Layout = Layout {
    title: "利润表",
    title_en: "Income statement",
    lines: &[
        acc("main_revenue", "主营业务收入", "Main business revenue", &["5001"]),
        rest("other_revenue", "其他业务收入", "Other business revenue", Revenue),
        total("revenue", "一、营业收入", "Operating revenue", &[("main_revenue", 1), ("other_revenue", 1)]),
        acc("cost_of_sales", "减：营业成本", "Less: cost of sales", &["5401", "5402"]),
        acc("taxes_and_surcharges", "税金及附加", "Taxes and surcharges", &["5403"]),
        acc("selling", "销售费用", "Selling expenses", &["5601"]),
        rest("administrative", "管理费用", "Administrative expenses", Expense),
        acc("financial", "财务费用", "Financial expenses", &["5603"]),
        acc("investment_income", "加：投资收益", "Add: investment income", &["5111"]),
        total(
            "operating_profit",
            "二、营业利润",
            "Operating profit",
            &[
                ("revenue", 1),
                ("cost_of_sales", -1),
                ("taxes_and_surcharges", -1),
                ("selling", -1),
                ("administrative", -1),
                ("financial", -1),
                ("investment_income", 1),
            ],
        ),
        acc("non_operating_income", "加：营业外收入", "Add: non-operating income", &["5301"]),
        acc("non_operating_expenses", "减：营业外支出", "Less: non-operating expenses", &["5711"]),
        total(
            "profit_before_tax",
            "三、利润总额",
            "Profit before tax",
            &[("operating_profit", 1), ("non_operating_income", 1), ("non_operating_expenses", -1)],
        ),
        acc("income_tax", "减：所得税费用", "Less: income tax expense", &["5801"]),
        total("net_profit", "四、净利润", "Net profit", &[("profit_before_tax", 1), ("income_tax", -1)]),
    ],
};

pub const GENERIC_BALANCE_SHEET: Layout = Layout {
    title: "Balance sheet",
    title_en: "Balance sheet",
    lines: &[
        acc("cash", "Cash and bank", "Cash and bank", &["1000", "1010"]),
        acc("receivables", "Accounts receivable", "Accounts receivable", &["1100"]),
        acc("vat_receivable", "VAT receivable", "VAT receivable", &["1150"]),
        acc("inventories", "Inventories", "Inventories", &["1200", "1230", "5100", "5110"]),
        rest("other_current_assets", "Other current assets", "Other current assets", Asset),
        total(
            "current_assets",
            "Total current assets",
            "Total current assets",
            &[("cash", 1), ("receivables", 1), ("vat_receivable", 1), ("inventories", 1), ("other_current_assets", 1)],
        ),
        acc("fixed_assets_cost", "Fixed assets at cost", "Fixed assets at cost", &["1500"]),
        less("depreciation", "Less: accumulated depreciation", "Less: accumulated depreciation", &["1510"]),
        total(
            "noncurrent_assets",
            "Total non-current assets",
            "Total non-current assets",
            &[("fixed_assets_cost", 1), ("depreciation", -1)],
        ),
        total("total_assets", "Total assets", "Total assets", &[("current_assets", 1), ("noncurrent_assets", 1)]),
        acc("payables", "Accounts payable", "Accounts payable", &["2000", "2010"]),
        acc("taxes", "VAT payable", "VAT payable", &["2100"]),
        acc("advances", "Customer advances", "Customer advances", &["2300"]),
        rest("other_current_liabilities", "Accrued and other liabilities", "Accrued and other liabilities", Liability),
        total(
            "current_liabilities",
            "Total current liabilities",
            "Total current liabilities",
            &[("payables", 1), ("taxes", 1), ("advances", 1), ("other_current_liabilities", 1)],
        ),
        acc("long_loans", "Loans", "Loans", &["2500"]),
        total(
            "total_liabilities",
            "Total liabilities",
            "Total liabilities",
            &[("current_liabilities", 1), ("long_loans", 1)],
        ),
        acc("paid_in_capital", "Share capital", "Share capital", &["3000"]),
        rest("undistributed_profit_closed", "Retained earnings (closed)", "Retained earnings (closed)", Equity),
        LineDef {
            key: "current_profit",
            label: "Profit not yet closed",
            label_en: "Profit not yet closed",
            rule: LineRule::CurrentProfit,
        },
        total(
            "total_equity",
            "Total equity",
            "Total equity",
            &[("paid_in_capital", 1), ("undistributed_profit_closed", 1), ("current_profit", 1)],
        ),
        total(
            "total_liabilities_and_equity",
            "Total liabilities and equity",
            "Total liabilities and equity",
            &[("total_liabilities", 1), ("total_equity", 1)],
        ),
    ],
};

pub const GENERIC_INCOME_STATEMENT: Layout = Layout {
    title: "Income statement",
    title_en: "Income statement",
    lines: &[
        acc("sales", "Sales revenue", "Sales revenue", &["4000"]),
        acc("cost_of_sales", "Cost of goods sold", "Cost of goods sold", &["5000"]),
        total("gross_profit", "Gross profit", "Gross profit", &[("sales", 1), ("cost_of_sales", -1)]),
        rest("other_income", "Other income", "Other income", Revenue),
        acc("selling", "Selling expenses", "Selling expenses", &["6000"]),
        rest("administrative", "Administrative and other expenses", "Administrative and other expenses", Expense),
        acc("financial", "Financial expenses", "Financial expenses", &["6200", "6210", "6220"]),
        total(
            "net_profit",
            "Net profit",
            "Net profit",
            &[("gross_profit", 1), ("other_income", 1), ("selling", -1), ("administrative", -1), ("financial", -1)],
        ),
    ],
};

pub fn balance_sheet_layout(template: &str) -> &'static Layout {
    if template == "cn_small_business" { &CN_BALANCE_SHEET } else { &GENERIC_BALANCE_SHEET }
}

pub fn income_statement_layout(template: &str) -> &'static Layout {
    if template == "cn_small_business" { &CN_INCOME_STATEMENT } else { &GENERIC_INCOME_STATEMENT }
}

/// A postable account's signed balance (debit positive) for a statement.
#[derive(Clone, Debug)]
pub struct AccountBalance {
    pub code: String,
    pub kind: AccountType,
    pub balance: Decimal,
}

/// Which statement an account belongs on.
fn on_balance_sheet(kind: AccountType) -> bool {
    !kind.is_profit_and_loss()
}

fn natural(kind: AccountType, balance: Decimal) -> Decimal {
    if kind.is_debit_normal() { balance } else { -balance }
}

/// The line an account lands on: the longest matching prefix, else its type's catch-all.
/// Accounts of the cost type land with assets; catch-alls are looked up by the section's type.
fn line_for(layout: &Layout, a: &AccountBalance) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, l) in layout.lines.iter().enumerate() {
        if let LineRule::Accounts { prefixes, .. } = l.rule {
            for p in prefixes {
                if a.code.starts_with(p) && best.is_none_or(|(_, len)| p.len() > len) {
                    best = Some((i, p.len()));
                }
            }
        }
    }
    if let Some((i, _)) = best {
        return Some(i);
    }
    let kind = if a.kind == Cost { Asset } else { a.kind };
    layout.lines.iter().position(|l| matches!(l.rule, LineRule::CatchAll { kind: k, .. } if k == kind))
}

/// One line of a computed statement.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementLine {
    pub key: &'static str,
    pub label: &'static str,
    pub label_en: &'static str,
    pub is_total: bool,
    pub amount: Decimal,
}

/// Computes a statement from postable-account balances. For a balance sheet the balances are
/// closing balances of every account (profit and loss accounts feed the current-profit line);
/// for an income statement, the movements of the period.
pub fn compute(layout: &Layout, balances: &[AccountBalance]) -> Vec<StatementLine> {
    let is_balance_sheet = layout.lines.iter().any(|l| matches!(l.rule, LineRule::CurrentProfit));
    let mut raw: HashMap<usize, Decimal> = HashMap::new();
    let mut current_profit = Decimal::ZERO;
    for a in balances {
        if is_balance_sheet != on_balance_sheet(a.kind) {
            if is_balance_sheet {
                // Revenue less expenses: credit balances are profit.
                current_profit -= a.balance;
            }
            continue;
        }
        if let Some(i) = line_for(layout, a) {
            *raw.entry(i).or_default() += natural(if a.kind == Cost { Asset } else { a.kind }, a.balance);
        }
    }
    let mut by_key: HashMap<&'static str, Decimal> = HashMap::new();
    let mut out = Vec::with_capacity(layout.lines.len());
    for (i, l) in layout.lines.iter().enumerate() {
        let amount = match l.rule {
            LineRule::Accounts { sign, .. } | LineRule::CatchAll { sign, .. } => {
                raw.get(&i).copied().unwrap_or_default() * Decimal::from(sign)
            }
            LineRule::CurrentProfit => current_profit,
            LineRule::Total(parts) => {
                parts.iter().map(|(k, s)| by_key.get(k).copied().unwrap_or_default() * Decimal::from(*s)).sum()
            }
        };
        by_key.insert(l.key, amount);
        out.push(StatementLine {
            key: l.key,
            label: l.label,
            label_en: l.label_en,
            is_total: matches!(l.rule, LineRule::Total(_)),
            amount,
        });
    }
    out
}

/// The amount on a line by key.
pub fn amount_of(lines: &[StatementLine], key: &str) -> Decimal {
    lines.iter().find(|l| l.key == key).map(|l| l.amount).unwrap_or_default()
}

/// The closing entry's lines of a year: every profit-and-loss account's balance moved out,
/// the net into retained earnings. `balances` are (account, signed balance); returns
/// (account, debit, credit) pairs and the net profit (positive = profit).
pub fn closing_lines<K: Copy + Eq + std::hash::Hash>(
    balances: &[(K, AccountType, Decimal)],
    current_year_profit: Option<K>,
    retained_earnings: K,
) -> (Vec<(K, Decimal, Decimal)>, Decimal) {
    let mut lines = Vec::new();
    let mut net_credit = Decimal::ZERO;
    for (account, kind, balance) in balances {
        let carried = kind.is_profit_and_loss() || Some(*account) == current_year_profit;
        if !carried || balance.is_zero() || *account == retained_earnings {
            continue;
        }
        // Zero the account: a debit balance is credited away and vice versa.
        if balance.is_sign_positive() {
            lines.push((*account, Decimal::ZERO, *balance));
        } else {
            lines.push((*account, -*balance, Decimal::ZERO));
        }
        net_credit -= balance;
    }
    if !net_credit.is_zero() {
        if net_credit.is_sign_positive() {
            lines.push((retained_earnings, Decimal::ZERO, net_credit));
        } else {
            lines.push((retained_earnings, -net_credit, Decimal::ZERO));
        }
    }
    (lines, net_credit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charts;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// Random balanced books over a template's leaves (plus one tenant-made account per type).
    fn books(template: &str, seed: u64) -> Vec<AccountBalance> {
        let accounts = charts::template(template).unwrap();
        let mut leaves: Vec<AccountBalance> = accounts
            .iter()
            .filter(|a| !accounts.iter().any(|b| b.1 == Some(a.0)))
            .map(|a| AccountBalance { code: a.0.into(), kind: a.4, balance: Decimal::ZERO })
            .collect();
        for (i, kind) in AccountType::ALL.into_iter().enumerate() {
            leaves.push(AccountBalance { code: format!("99{i}"), kind, balance: Decimal::ZERO });
        }
        let mut state = seed;
        let mut next = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let n = leaves.len();
        for _ in 0..300 {
            let amount = Decimal::new(next(10_000_000) as i64, 2);
            let (dr, cr) = (next(n), next(n));
            leaves[dr].balance += amount;
            leaves[cr].balance -= amount;
        }
        leaves
    }

    #[test]
    fn balance_sheets_balance_for_any_balanced_books_in_both_templates() {
        for template in ["cn_small_business", "generic"] {
            for seed in 1..20 {
                let b = books(template, seed);
                let bs = compute(balance_sheet_layout(template), &b);
                assert_eq!(
                    amount_of(&bs, "total_assets"),
                    amount_of(&bs, "total_liabilities_and_equity"),
                    "{template} seed {seed}"
                );
                // The income statement over the same balances gives the profit not yet closed.
                let is = compute(income_statement_layout(template), &b);
                assert_eq!(amount_of(&is, "net_profit"), amount_of(&bs, "current_profit"), "{template} seed {seed}");
            }
        }
    }

    #[test]
    fn totals_only_sum_lines_above_them_and_keys_are_unique() {
        for layout in [&CN_BALANCE_SHEET, &CN_INCOME_STATEMENT, &GENERIC_BALANCE_SHEET, &GENERIC_INCOME_STATEMENT] {
            for (i, l) in layout.lines.iter().enumerate() {
                assert!(!layout.lines[..i].iter().any(|x| x.key == l.key), "{} repeats {}", layout.title, l.key);
                if let LineRule::Total(parts) = l.rule {
                    for (k, _) in parts {
                        assert!(layout.lines[..i].iter().any(|x| x.key == *k), "{}: {} sums {k}", layout.title, l.key);
                    }
                }
            }
        }
    }

    #[test]
    fn lines_show_natural_signs_and_contra_accounts_subtract() {
        let b = vec![
            AccountBalance { code: "1002".into(), kind: Asset, balance: d("1000") },
            AccountBalance { code: "1601".into(), kind: Asset, balance: d("500") },
            AccountBalance { code: "1602".into(), kind: Asset, balance: d("-120") },
            AccountBalance { code: "3001".into(), kind: Equity, balance: d("-1200") },
            AccountBalance { code: "5001".into(), kind: Revenue, balance: d("-300") },
            AccountBalance { code: "5602".into(), kind: Expense, balance: d("120") },
        ];
        let bs = compute(&CN_BALANCE_SHEET, &b);
        assert_eq!(amount_of(&bs, "depreciation"), d("120"));
        assert_eq!(amount_of(&bs, "fixed_assets"), d("380"));
        assert_eq!(amount_of(&bs, "total_assets"), d("1380"));
        assert_eq!(amount_of(&bs, "current_profit"), d("180"));
        assert_eq!(amount_of(&bs, "total_liabilities_and_equity"), d("1380"));
        let is = compute(&CN_INCOME_STATEMENT, &b);
        assert_eq!((amount_of(&is, "revenue"), amount_of(&is, "administrative")), (d("300"), d("120")));
        assert_eq!(amount_of(&is, "net_profit"), d("180"));
    }

    #[test]
    fn closing_moves_profit_and_loss_into_retained_earnings() {
        let (sales, cogs, cyp, re, cash) = (1, 2, 3, 4, 5);
        let balances = [
            (sales, Revenue, d("-1000")),
            (cogs, Expense, d("600")),
            (cyp, Equity, d("-50")),
            (re, Equity, d("-10")),
            (cash, Asset, d("460")),
        ];
        let (lines, net) = closing_lines(&balances, Some(cyp), re);
        assert_eq!(net, d("450"));
        assert_eq!(
            lines,
            vec![(sales, d("1000"), d("0")), (cogs, d("0"), d("600")), (cyp, d("50"), d("0")), (re, d("0"), d("450"))]
        );
        let debits: Decimal = lines.iter().map(|l| l.1).sum();
        let credits: Decimal = lines.iter().map(|l| l.2).sum();
        assert_eq!(debits, credits);
    }
}
