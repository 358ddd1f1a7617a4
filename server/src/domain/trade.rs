//! Sales and purchasing rules: which price applies and why, line and document discounts and
//! their shares when an order is billed in parts, the credit check, an order's progress, the
//! over-receipt tolerance, three-way matching, supplier proposals and due-date rules. Pure.

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::Side;
use super::tax::round;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeSide {
    Sales,
    Purchase,
}

impl TradeSide {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeSide::Sales => "sales",
            TradeSide::Purchase => "purchase",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sales" => Some(TradeSide::Sales),
            "purchase" => Some(TradeSide::Purchase),
            _ => None,
        }
    }

    /// The receivables side its invoices are on.
    pub fn invoice_side(self) -> Side {
        match self {
            TradeSide::Sales => Side::Receivable,
            TradeSide::Purchase => Side::Payable,
        }
    }
}

// ---------------------------------------------------------------- prices

/// One entry of a price list: from `min_quantity` units on, this price less this discount.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceBreak {
    pub item_id: Uuid,
    pub min_quantity: Decimal,
    pub unit_price: Decimal,
    /// 0.05 for 5 %.
    pub discount_percent: Decimal,
    /// Supplier price lists: days from order to receipt, and the least quantity they take.
    pub lead_time_days: Option<i32>,
    pub min_order_quantity: Option<Decimal>,
}

/// What a price list needs for the choice of a price.
#[derive(Clone, Debug)]
pub struct PriceListTerms {
    pub id: Uuid,
    pub code: String,
    pub currency: String,
    pub tax_inclusive: bool,
    pub party_group: Option<String>,
    pub party_id: Option<Uuid>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub is_active: bool,
    pub breaks: Vec<PriceBreak>,
}

impl PriceListTerms {
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.is_active && self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }
}

/// Who is buying or selling: what decides which lists apply.
#[derive(Clone, Debug)]
pub struct Buyer<'a> {
    pub party_id: Uuid,
    pub party_group: Option<&'a str>,
    pub default_list: Option<Uuid>,
}

/// A price found on a list, with the rule that gave it in words.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPrice {
    pub price_list_id: Uuid,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub tax_inclusive: bool,
    pub lead_time_days: Option<i32>,
    pub min_order_quantity: Option<Decimal>,
    pub explanation: String,
}

/// How specifically a list applies to the buyer: lower ranks win.
fn rank(list: &PriceListTerms, buyer: &Buyer<'_>) -> Option<(u8, &'static str)> {
    if let Some(p) = list.party_id {
        return (p == buyer.party_id).then_some((0, "for this party"));
    }
    if buyer.default_list == Some(list.id) {
        return Some((1, "the party's default list"));
    }
    if let Some(g) = &list.party_group {
        return (Some(g.as_str()) == buyer.party_group).then_some((2, "for the party's group"));
    }
    Some((3, "for everyone"))
}

/// The price of `quantity` of an item for a buyer on a date in a currency: the most specific
/// list that is valid and has a break for the item (party, then the party's default list,
/// then its group, then general lists; among equals the lower code), and on it the highest
/// break the quantity reaches.
pub fn best_price(
    lists: &[PriceListTerms],
    buyer: &Buyer<'_>,
    item_id: Uuid,
    quantity: Decimal,
    date: NaiveDate,
    currency: &str,
) -> Option<ListPrice> {
    let mut candidates: Vec<(u8, &str, &PriceListTerms, &PriceBreak)> = Vec::new();
    for list in lists.iter().filter(|l| l.valid_on(date) && l.currency == currency) {
        let Some((r, why)) = rank(list, buyer) else { continue };
        let best = list
            .breaks
            .iter()
            .filter(|b| b.item_id == item_id && b.min_quantity <= quantity)
            .max_by(|a, b| a.min_quantity.cmp(&b.min_quantity));
        if let Some(b) = best {
            candidates.push((r, why, list, b));
        }
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.code.cmp(&b.2.code)));
    let (_, why, list, b) = candidates.into_iter().next()?;
    let mut explanation = format!("price list {} ({why})", list.code);
    if b.min_quantity > Decimal::ONE {
        explanation.push_str(&format!(", from {} units", b.min_quantity.normalize()));
    }
    explanation.push_str(&format!(": {}", b.unit_price.normalize()));
    if !b.discount_percent.is_zero() {
        explanation.push_str(&format!(" less {}%", (b.discount_percent * Decimal::ONE_HUNDRED).normalize()));
    }
    if list.tax_inclusive {
        explanation.push_str(" incl. tax");
    }
    Some(ListPrice {
        price_list_id: list.id,
        unit_price: b.unit_price,
        discount_percent: b.discount_percent,
        tax_inclusive: list.tax_inclusive,
        lead_time_days: b.lead_time_days,
        min_order_quantity: b.min_order_quantity,
        explanation,
    })
}

/// Converts a list price to the document's tax treatment (`rate` of the line's tax code),
/// rounded to 4 decimals, the precision prices are kept at.
pub fn convert_price(price: Decimal, list_inclusive: bool, doc_inclusive: bool, rate: Decimal) -> Decimal {
    match (list_inclusive, doc_inclusive) {
        (true, false) => round(price / (Decimal::ONE + rate), 4),
        (false, true) => round(price * (Decimal::ONE + rate), 4),
        _ => price,
    }
}

// ---------------------------------------------------------------- discounts

/// The whole discount of a line as an amount off `quantity × unit_price` (rounded): first the
/// line's amount, then its percentage of what is left, then the document's percentage of what
/// is left after that. Each step is rounded to the currency's minor unit.
pub fn line_discount(
    quantity: Decimal,
    unit_price: Decimal,
    percent: Decimal,
    amount: Decimal,
    document_percent: Decimal,
    digits: u32,
) -> Result<Decimal, String> {
    let gross = round(quantity * unit_price, digits);
    let after_amount = gross - amount;
    if after_amount < Decimal::ZERO {
        return Err(format!("discount {amount} is more than the line amount {gross}"));
    }
    let after_line = after_amount - round(after_amount * percent, digits);
    let after_doc = after_line - round(after_line * document_percent, digits);
    Ok(gross - after_doc)
}

/// The share of `total` that belongs to going from `before` to `after` of `whole` units,
/// rounded so that the shares of any sequence of steps from 0 to `whole` add up to `total`.
pub fn share(total: Decimal, before: Decimal, after: Decimal, whole: Decimal, digits: u32) -> Decimal {
    if whole.is_zero() {
        return Decimal::ZERO;
    }
    let at = |q: Decimal| if q >= whole { total } else { round(total * q / whole, digits) };
    at(after) - at(before)
}

// ---------------------------------------------------------------- credit

/// What the customer owes and has on order, in the base currency.
#[derive(Clone, Debug, PartialEq)]
pub struct Exposure {
    pub limit: Decimal,
    /// Open invoices less open credit notes and unapplied receipts.
    pub open_receivables: Decimal,
    /// Confirmed orders not yet invoiced.
    pub open_orders: Decimal,
    pub this_order: Decimal,
}

impl Exposure {
    pub fn total(&self) -> Decimal {
        self.open_receivables + self.open_orders + self.this_order
    }

    /// `None` when within the limit, else the excess and the sentence that explains it.
    pub fn excess(&self) -> Option<(Decimal, String)> {
        let total = self.total();
        (total > self.limit).then(|| {
            let by = total - self.limit;
            (
                by,
                format!(
                    "credit limit {} exceeded by {}: open receivables {} + open orders {} + this order {} = {}",
                    self.limit, by, self.open_receivables, self.open_orders, self.this_order, total
                ),
            )
        })
    }
}

/// An invoice overdue by more than `block_days` blocks new orders.
pub fn overdue_block(
    oldest: Option<(&str, NaiveDate, Decimal)>,
    today: NaiveDate,
    block_days: Option<i32>,
) -> Option<String> {
    let days = block_days?;
    let (number, due, open) = oldest?;
    let late = (today - due).num_days();
    (late > i64::from(days)).then(|| {
        format!("invoice {number} is {late} days overdue with {open} open; orders are blocked after {days} days")
    })
}

// ---------------------------------------------------------------- progress

/// One order line's quantities, for the order's progress.
#[derive(Clone, Copy, Debug)]
pub struct LineProgress {
    pub quantity: Decimal,
    /// Whether the line ships (stocked item) or is billed from the order (service).
    pub ships: bool,
    pub shipped: Decimal,
    pub returned: Decimal,
    /// Net of credit notes.
    pub invoiced: Decimal,
}

/// (delivery status, billing status) of an order's lines: `not_delivered | partly_delivered |
/// delivered` and `not_invoiced | partly_invoiced | invoiced`.
pub fn progress(lines: &[LineProgress]) -> (&'static str, &'static str) {
    let shipping: Vec<&LineProgress> = lines.iter().filter(|l| l.ships).collect();
    let delivery = if shipping.is_empty() || shipping.iter().all(|l| l.shipped >= l.quantity) {
        "delivered"
    } else if shipping.iter().any(|l| !l.shipped.is_zero()) {
        "partly_delivered"
    } else {
        "not_delivered"
    };
    // What should be billed in the end: what was kept of what shipped, or the ordered services.
    let billable = |l: &LineProgress| if l.ships { (l.quantity.max(l.shipped)) - l.returned } else { l.quantity };
    let billing = if lines.iter().all(|l| l.invoiced >= billable(l)) {
        "invoiced"
    } else if lines.iter().any(|l| !l.invoiced.is_zero()) {
        "partly_invoiced"
    } else {
        "not_invoiced"
    };
    (delivery, billing)
}

// ---------------------------------------------------------------- purchasing

/// The most that may be received on a line of `ordered` units with a tolerance (0.05 = 5 %).
pub fn receipt_allowance(ordered: Decimal, tolerance: Decimal) -> Decimal {
    (ordered * (Decimal::ONE + tolerance)).round_dp_with_strategy(4, rust_decimal::RoundingStrategy::ToZero)
}

/// Three-way match of one invoice line against its order price and what was received and not
/// yet invoiced. Returns the reason to hold the invoice, if any.
pub fn match_line(
    label: &str,
    order_price: Decimal,
    invoice_price: Decimal,
    open_received: Decimal,
    invoiced: Decimal,
    price_tolerance: Decimal,
    quantity_tolerance: Decimal,
) -> Vec<String> {
    let mut reasons = Vec::new();
    let allowed = open_received * (Decimal::ONE + quantity_tolerance);
    if invoiced > allowed {
        reasons.push(format!(
            "{label}: invoiced quantity {} is more than the {} received and not yet invoiced{}",
            invoiced.normalize(),
            open_received.normalize(),
            tolerance_words(quantity_tolerance)
        ));
    }
    let diff = invoice_price - order_price;
    let limit = order_price * price_tolerance;
    if diff.abs() > limit {
        let pct = if order_price.is_zero() {
            String::new()
        } else {
            format!(" ({}%)", round(diff / order_price * Decimal::ONE_HUNDRED, 2).normalize())
        };
        reasons.push(format!(
            "{label}: price {} is {} {} the order's {}{pct}{}",
            invoice_price.normalize(),
            diff.abs().normalize(),
            if diff > Decimal::ZERO { "above" } else { "below" },
            order_price.normalize(),
            tolerance_words(price_tolerance)
        ));
    }
    reasons
}

fn tolerance_words(t: Decimal) -> String {
    if t.is_zero() {
        " (no tolerance)".into()
    } else {
        format!(" (tolerance {}%)", (t * Decimal::ONE_HUNDRED).normalize())
    }
}

/// A supplier's offer for an item, prices in the base currency for comparison.
#[derive(Clone, Debug)]
pub struct Offer {
    pub supplier_id: Uuid,
    pub supplier_code: String,
    pub price_list_code: String,
    pub unit_price_base: Decimal,
    pub lead_time_days: i32,
    pub min_order_quantity: Option<Decimal>,
}

/// The offer to order from: among those that arrive by `needed_by` when ordered on
/// `order_date`, the cheapest (then the quickest, then the lower code); when none arrives in
/// time, the quickest. Returns the index and why.
pub fn propose(offers: &[Offer], order_date: NaiveDate, needed_by: NaiveDate) -> Option<(usize, String)> {
    let arrives = |o: &Offer| order_date + Days::new(o.lead_time_days.max(0) as u64);
    let in_time: Vec<usize> = (0..offers.len()).filter(|i| arrives(&offers[*i]) <= needed_by).collect();
    if !in_time.is_empty() {
        let best = in_time.into_iter().min_by(|a, b| {
            let (x, y) = (&offers[*a], &offers[*b]);
            x.unit_price_base
                .cmp(&y.unit_price_base)
                .then(x.lead_time_days.cmp(&y.lead_time_days))
                .then(x.supplier_code.cmp(&y.supplier_code))
        })?;
        let o = &offers[best];
        return Some((
            best,
            format!(
                "{} on {}: cheapest that arrives by {needed_by} ({} at {} days)",
                o.supplier_code,
                o.price_list_code,
                o.unit_price_base.normalize(),
                o.lead_time_days
            ),
        ));
    }
    let best = (0..offers.len()).min_by(|a, b| {
        let (x, y) = (&offers[*a], &offers[*b]);
        x.lead_time_days.cmp(&y.lead_time_days).then(x.unit_price_base.cmp(&y.unit_price_base))
    })?;
    let o = &offers[best];
    Some((
        best,
        format!(
            "{} on {}: none arrives by {needed_by}; quickest ({} days, arrives {})",
            o.supplier_code,
            o.price_list_code,
            o.lead_time_days,
            arrives(o)
        ),
    ))
}

// ---------------------------------------------------------------- due dates

/// `net`: the invoice date plus the party's days; `end_of_month`: the end of the invoice's
/// month plus the days (月结 30 天).
pub fn due_date(invoice_date: NaiveDate, days: i32, rule: &str) -> NaiveDate {
    let start = if rule == "end_of_month" {
        let first_next = if invoice_date.month() == 12 {
            NaiveDate::from_ymd_opt(invoice_date.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(invoice_date.year(), invoice_date.month() + 1, 1)
        };
        first_next.and_then(|d| d.pred_opt()).unwrap_or(invoice_date)
    } else {
        invoice_date
    };
    start + Days::new(days.max(0) as u64)
}

pub const DUE_RULES: &[&str] = &["net", "end_of_month"];

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn list(
        code: &str,
        group: Option<&str>,
        party: Option<Uuid>,
        item: Uuid,
        breaks: &[(&str, &str)],
    ) -> PriceListTerms {
        PriceListTerms {
            id: Uuid::now_v7(),
            code: code.into(),
            currency: "CNY".into(),
            tax_inclusive: false,
            party_group: group.map(str::to_owned),
            party_id: party,
            valid_from: Some(date("2026-01-01")),
            valid_to: Some(date("2026-12-31")),
            is_active: true,
            breaks: breaks
                .iter()
                .map(|(q, p)| PriceBreak {
                    item_id: item,
                    min_quantity: d(q),
                    unit_price: d(p),
                    discount_percent: Decimal::ZERO,
                    lead_time_days: None,
                    min_order_quantity: None,
                })
                .collect(),
        }
    }

    #[test]
    fn the_most_specific_valid_list_wins_and_the_highest_break_reached_applies() {
        let (item, party) = (Uuid::now_v7(), Uuid::now_v7());
        let general = list("RETAIL", None, None, item, &[("0", "100"), ("10", "95")]);
        let group = list("TRADE", Some("trade"), None, item, &[("0", "90"), ("50", "80")]);
        let other = list("VIP", None, Some(Uuid::now_v7()), item, &[("0", "1")]);
        let lists = vec![general.clone(), group.clone(), other];
        let trade = Buyer { party_id: party, party_group: Some("trade"), default_list: None };
        let p = best_price(&lists, &trade, item, d("60"), date("2026-06-01"), "CNY").unwrap();
        assert_eq!(p.unit_price, d("80"));
        assert_eq!(p.explanation, "price list TRADE (for the party's group), from 50 units: 80");
        let retail = Buyer { party_id: party, party_group: None, default_list: None };
        assert_eq!(best_price(&lists, &retail, item, d("12"), date("2026-06-01"), "CNY").unwrap().unit_price, d("95"));
        // Out of validity, in another currency, or for another item: nothing.
        assert!(best_price(&lists, &retail, item, d("1"), date("2027-01-01"), "CNY").is_none());
        assert!(best_price(&lists, &retail, item, d("1"), date("2026-06-01"), "USD").is_none());
        assert!(best_price(&lists, &retail, Uuid::now_v7(), d("1"), date("2026-06-01"), "CNY").is_none());
        // The party's default list beats its group's.
        let by_default = Buyer { party_id: party, party_group: Some("trade"), default_list: Some(general.id) };
        let p = best_price(&lists, &by_default, item, d("1"), date("2026-06-01"), "CNY").unwrap();
        assert_eq!((p.unit_price, p.price_list_id), (d("100"), general.id));
    }

    #[test]
    fn discounts_apply_in_order_and_partial_shares_add_up_to_the_whole() {
        // 3 x 33.33 = 99.99; less 9.99 = 90.00; less 10 % = 81.00; less 5 % = 76.95.
        let disc = line_discount(d("3"), d("33.33"), d("0.10"), d("9.99"), d("0.05"), 2).unwrap();
        assert_eq!(disc, d("23.04"));
        assert!(line_discount(d("1"), d("5"), Decimal::ZERO, d("6"), Decimal::ZERO, 2).is_err());
        // Billed 1, 1, 1 of 3: 7.68 each way, summing to 23.04 exactly.
        let steps = [(0, 1), (1, 2), (2, 3)].map(|(a, b)| share(disc, Decimal::from(a), Decimal::from(b), d("3"), 2));
        assert_eq!(steps.iter().sum::<Decimal>(), disc);
        assert_eq!(share(d("10"), d("0"), d("1"), d("3"), 2), d("3.33"));
        assert_eq!(share(d("10"), d("1"), d("3"), d("3"), 2), d("6.67"));
    }

    #[test]
    fn credit_and_overdue_rules_say_by_how_much() {
        let e = Exposure { limit: d("1000"), open_receivables: d("600"), open_orders: d("300"), this_order: d("150") };
        let (by, why) = e.excess().unwrap();
        assert_eq!(by, d("50"));
        assert!(why.contains("exceeded by 50") && why.contains("= 1050"), "{why}");
        assert!(Exposure { this_order: d("100"), ..e }.excess().is_none());
        let today = date("2026-06-30");
        let oldest = Some(("SI-000001", date("2026-05-01"), d("10")));
        assert!(overdue_block(oldest, today, Some(30)).unwrap().contains("60 days overdue"));
        assert!(overdue_block(oldest, today, Some(60)).is_none());
        assert!(overdue_block(oldest, today, None).is_none());
    }

    #[test]
    fn progress_follows_shipping_then_billing() {
        let l = |q: &str, s: &str, r: &str, i: &str| LineProgress {
            quantity: d(q),
            ships: true,
            shipped: d(s),
            returned: d(r),
            invoiced: d(i),
        };
        assert_eq!(progress(&[l("10", "0", "0", "0")]), ("not_delivered", "not_invoiced"));
        assert_eq!(progress(&[l("10", "4", "0", "4")]), ("partly_delivered", "partly_invoiced"));
        assert_eq!(progress(&[l("10", "10", "0", "4")]), ("delivered", "partly_invoiced"));
        // A return of 2 after billing 10 leaves 8 to keep billed: invoiced once credited.
        assert_eq!(progress(&[l("10", "10", "2", "8")]), ("delivered", "invoiced"));
        let service = LineProgress { ships: false, ..l("2", "0", "0", "2") };
        assert_eq!(progress(&[service]), ("delivered", "invoiced"));
    }

    #[test]
    fn matching_names_quantity_and_price_differences_beyond_tolerance() {
        assert!(match_line("line 1", d("10"), d("10.10"), d("5"), d("5"), d("0.02"), Decimal::ZERO).is_empty());
        let r = match_line("line 1", d("10"), d("10.50"), d("5"), d("6"), d("0.02"), Decimal::ZERO);
        assert_eq!(r.len(), 2);
        assert!(r[0].contains("invoiced quantity 6 is more than the 5 received"), "{}", r[0]);
        assert!(r[1].contains("price 10.5 is 0.5 above the order's 10 (5%) (tolerance 2%)"), "{}", r[1]);
        assert_eq!(receipt_allowance(d("10"), d("0.05")), d("10.5"));
    }

    #[test]
    fn proposals_take_the_cheapest_in_time_else_the_quickest() {
        let o = |code: &str, price: &str, days: i32| Offer {
            supplier_id: Uuid::now_v7(),
            supplier_code: code.into(),
            price_list_code: format!("PL-{code}"),
            unit_price_base: d(price),
            lead_time_days: days,
            min_order_quantity: None,
        };
        let offers = vec![o("S1", "10", 20), o("S2", "12", 5), o("S3", "11", 7)];
        let (i, why) = propose(&offers, date("2026-06-01"), date("2026-06-10")).unwrap();
        assert_eq!(offers[i].supplier_code, "S3");
        assert!(why.contains("cheapest that arrives by 2026-06-10"), "{why}");
        let (i, why) = propose(&offers, date("2026-06-01"), date("2026-06-03")).unwrap();
        assert_eq!(offers[i].supplier_code, "S2");
        assert!(why.contains("none arrives"), "{why}");
        assert!(propose(&[], date("2026-06-01"), date("2026-06-03")).is_none());
    }

    #[test]
    fn due_dates_follow_the_rule() {
        assert_eq!(due_date(date("2026-01-15"), 30, "net"), date("2026-02-14"));
        assert_eq!(due_date(date("2026-01-15"), 30, "end_of_month"), date("2026-03-02"));
        assert_eq!(due_date(date("2026-12-15"), 0, "end_of_month"), date("2026-12-31"));
    }
}
