//! Receivables and payables: the posting rules of invoices, credit notes, receipts, payments,
//! allocations and write-offs, the foreign-exchange arithmetic, and aging. Pure.
//!
//! Sign conventions: a receivable invoice debits the control account (应收账款) and a payable
//! one credits it (应付账款); credit notes and payments go the other way. Amounts in the
//! document's currency are `fx`; amounts in the tenant's base currency are `base`.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::ledger::{Dimensions, EntryLine};
use super::tax::round;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Customers: sales invoices, receipts.
    Receivable,
    /// Suppliers: supplier invoices, payments.
    Payable,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Receivable => "receivable",
            Side::Payable => "payable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "receivable" => Some(Side::Receivable),
            "payable" => Some(Side::Payable),
            _ => None,
        }
    }

    /// The party kind on this side.
    pub fn party_kind(self) -> &'static str {
        match self {
            Side::Receivable => "customer",
            Side::Payable => "supplier",
        }
    }

    /// Dimensions naming the party on a line.
    pub fn party_dims(self, party: Uuid) -> Dimensions {
        match self {
            Side::Receivable => Dimensions { customer_id: Some(party), ..Dimensions::default() },
            Side::Payable => Dimensions { supplier_id: Some(party), ..Dimensions::default() },
        }
    }
}

/// A base-currency line with its transaction-currency amount, on the debit side when `debit`.
pub fn line(account: Uuid, debit: bool, base: Decimal, fx: Decimal, memo: &str, dims: Dimensions) -> EntryLine {
    let (d, c) = if debit { (base, Decimal::ZERO) } else { (Decimal::ZERO, base) };
    let (dfx, cfx) = if debit { (fx, Decimal::ZERO) } else { (Decimal::ZERO, fx) };
    EntryLine {
        account_id: account,
        debit: d,
        credit: c,
        debit_fx: dfx,
        credit_fx: cfx,
        memo: memo.to_owned(),
        dimensions: dims,
    }
}

/// Base amount of a foreign amount at a rate (base units per foreign unit).
pub fn to_base(fx: Decimal, rate: Decimal, base_digits: u32) -> Decimal {
    round(fx * rate, base_digits)
}

/// One counter-line of an invoice: revenue or expense per invoice line, tax per tax code.
#[derive(Clone, Debug)]
pub struct Counter {
    pub account: Uuid,
    pub fx: Decimal,
    /// The base amount when it is not `fx` converted (a receipt's value cleared at what it was
    /// booked at; a variance line with no transaction amount). A negative amount (a variance in
    /// the other direction) puts the line on the control account's side.
    pub base: Option<Decimal>,
    pub memo: String,
    pub item: Option<Uuid>,
}

/// The journal lines of an invoice or credit note, and its gross in base currency. Each
/// counter-line is converted on its own; the control line takes their sum, so the entry
/// balances in both currencies without a rounding line.
#[allow(clippy::too_many_arguments)]
pub fn invoice_lines(
    side: Side,
    is_credit_note: bool,
    control: Uuid,
    party: Uuid,
    counters: &[Counter],
    rate: Decimal,
    base_digits: u32,
    memo: &str,
) -> (Vec<EntryLine>, Decimal) {
    // Receivable invoice: control debit, counters credit. Payable or credit note: flipped.
    let control_debit = (side == Side::Receivable) != is_credit_note;
    let mut lines = Vec::with_capacity(counters.len() + 1);
    let (mut gross_fx, mut gross_base) = (Decimal::ZERO, Decimal::ZERO);
    for c in counters.iter().filter(|c| !c.fx.is_zero() || c.base.is_some_and(|b| !b.is_zero())) {
        let base = c.base.unwrap_or_else(|| to_base(c.fx, rate, base_digits));
        gross_fx += c.fx;
        gross_base += base;
        let dims = Dimensions { item_id: c.item, ..side.party_dims(party) };
        if base < Decimal::ZERO {
            lines.push(line(c.account, control_debit, -base, -c.fx, &c.memo, dims));
        } else {
            lines.push(line(c.account, !control_debit, base, c.fx, &c.memo, dims));
        }
    }
    lines.insert(0, line(control, control_debit, gross_base, gross_fx, memo, side.party_dims(party)));
    (lines, gross_base)
}

/// The lines of a receipt (receivable) or payment (payable): cash against the control account.
pub fn payment_lines(
    side: Side,
    cash: Uuid,
    control: Uuid,
    party: Uuid,
    fx: Decimal,
    base: Decimal,
    memo: &str,
) -> Vec<EntryLine> {
    let receipt = side == Side::Receivable;
    vec![
        line(cash, receipt, base, fx, memo, side.party_dims(party)),
        line(control, !receipt, base, fx, memo, side.party_dims(party)),
    ]
}

/// An open item's remaining amounts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Open {
    pub fx: Decimal,
    pub base: Decimal,
    pub rate: Decimal,
}

impl Open {
    /// The base amount that settling `fx` of this item takes off it: at its own rate, except
    /// that settling all of it takes exactly what is left, so no residue stays behind.
    pub fn base_for(&self, fx: Decimal, base_digits: u32) -> Decimal {
        if fx == self.fx { self.base } else { to_base(fx, self.rate, base_digits).min(self.base) }
    }
}

/// The accounts a settlement posts to.
#[derive(Clone, Copy, Debug)]
pub struct SettleAccounts {
    pub control: Uuid,
    pub fx_account: Uuid,
    pub party: Uuid,
}

/// Settling `amount` of an invoice from a payment or credit note: (invoice base, source base,
/// realized exchange difference lines). The difference is the base the source brought less
/// the base the invoice carried; it is gain or loss depending on the side.
pub fn settle(
    side: Side,
    invoice: Open,
    source: Open,
    amount: Decimal,
    base_digits: u32,
    to: SettleAccounts,
    memo: &str,
) -> (Decimal, Decimal, Vec<EntryLine>) {
    let SettleAccounts { control, fx_account, party } = to;
    let invoice_base = invoice.base_for(amount, base_digits);
    let source_base = source.base_for(amount, base_digits);
    let diff = source_base - invoice_base;
    if diff.is_zero() {
        return (invoice_base, source_base, Vec::new());
    }
    // Receivable: the receipt credited more to the control account than the invoice debited,
    // so the control account is debited back and the gain credited. Payable: mirrored.
    let control_debit = (side == Side::Receivable) == diff.is_sign_positive();
    let amount_base = diff.abs();
    let lines = vec![
        line(control, control_debit, amount_base, Decimal::ZERO, memo, side.party_dims(party)),
        line(fx_account, !control_debit, amount_base, Decimal::ZERO, memo, Dimensions::default()),
    ];
    (invoice_base, source_base, lines)
}

/// A write-off: the invoice's control balance against the write-off account.
pub fn write_off_lines(
    side: Side,
    control: Uuid,
    write_off_account: Uuid,
    party: Uuid,
    fx: Decimal,
    base: Decimal,
    memo: &str,
) -> Vec<EntryLine> {
    let control_debit = side == Side::Payable;
    vec![
        line(write_off_account, !control_debit, base, fx, memo, Dimensions::default()),
        line(control, control_debit, base, fx, memo, side.party_dims(party)),
    ]
}

/// Aging buckets by days past due: current, 1-30, 31-60, 61-90, over 90.
pub const BUCKETS: [&str; 5] = ["current", "1_30", "31_60", "61_90", "over_90"];

pub fn bucket(due: NaiveDate, as_of: NaiveDate) -> usize {
    match (as_of - due).num_days() {
        ..=0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn sums(lines: &[EntryLine]) -> (Decimal, Decimal, Decimal, Decimal) {
        lines
            .iter()
            .fold(Default::default(), |(a, b, c, e), l| (a + l.debit, b + l.credit, c + l.debit_fx, e + l.credit_fx))
    }

    #[test]
    fn a_foreign_invoice_balances_in_both_currencies_without_a_rounding_line() {
        let (ar, sales, vat, cust) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let counters = [
            Counter { account: sales, fx: d("33.33"), base: None, memo: "a".into(), item: None },
            Counter { account: sales, fx: d("33.33"), base: None, memo: "b".into(), item: None },
            Counter { account: vat, fx: d("8.67"), base: None, memo: "VAT".into(), item: None },
        ];
        let (lines, gross_base) = invoice_lines(Side::Receivable, false, ar, cust, &counters, d("7.123456"), 2, "INV");
        let (dr, cr, dfx, cfx) = sums(&lines);
        assert_eq!((dr, dfx), (cr, cfx));
        assert_eq!(dfx, d("75.33"));
        // 33.33 * 7.123456 = 237.4248 -> 237.42 twice, 8.67 * 7.123456 = 61.7604 -> 61.76
        assert_eq!(gross_base, d("536.60"));
        assert_eq!(lines[0].account_id, ar);
        assert_eq!(lines[0].dimensions.customer_id, Some(cust));
        let (credit_note, _) = invoice_lines(Side::Receivable, true, ar, cust, &counters, d("1"), 2, "CN");
        assert_eq!(credit_note[0].credit, d("75.33"), "a credit note credits the receivable");
        let (bill, _) = invoice_lines(Side::Payable, false, ar, cust, &counters, d("1"), 2, "PI");
        assert_eq!(bill[0].credit, d("75.33"));
        assert_eq!(bill[0].dimensions.supplier_id, Some(cust));
    }

    #[test]
    fn settling_at_a_better_rate_is_a_gain_for_receivables_and_a_loss_for_payables() {
        let (ctl, fx, p) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let to = SettleAccounts { control: ctl, fx_account: fx, party: p };
        let invoice = Open { fx: d("100"), base: d("700.00"), rate: d("7") };
        let receipt = Open { fx: d("100"), base: d("720.00"), rate: d("7.2") };
        let (ib, sb, lines) = settle(Side::Receivable, invoice, receipt, d("100"), 2, to, "fx");
        assert_eq!((ib, sb), (d("700.00"), d("720.00")));
        assert_eq!((lines[0].account_id, lines[0].debit), (ctl, d("20.00")));
        assert_eq!((lines[1].account_id, lines[1].credit), (fx, d("20.00")));
        let (_, _, pay) = settle(Side::Payable, invoice, receipt, d("100"), 2, to, "fx");
        assert_eq!((pay[0].account_id, pay[0].credit), (ctl, d("20.00")));
        assert_eq!((pay[1].account_id, pay[1].debit), (fx, d("20.00")));
        // Partial: 40 at 7 = 280 against 40 at 7.2 = 288.
        let (ib, sb, part) = settle(Side::Receivable, invoice, receipt, d("40"), 2, to, "fx");
        assert_eq!((ib, sb, part[0].debit), (d("280.00"), d("288.00"), d("8.00")));
        let (_, _, none) = settle(Side::Receivable, invoice, invoice, d("40"), 2, to, "fx");
        assert!(none.is_empty());
    }

    #[test]
    fn settling_the_rest_drains_the_base_exactly() {
        let open = Open { fx: d("0.03"), base: d("0.22"), rate: d("7.123456") };
        assert_eq!(open.base_for(d("0.03"), 2), d("0.22"));
        assert_eq!(open.base_for(d("0.01"), 2), d("0.07"));
    }

    #[test]
    fn aging_buckets_count_days_past_due() {
        let due = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let at = |m, d| bucket(due, NaiveDate::from_ymd_opt(2026, m, d).unwrap());
        assert_eq!([at(1, 31), at(2, 1), at(3, 2), at(3, 3), at(5, 1), at(5, 2)], [0, 1, 1, 2, 3, 4]);
    }
}
