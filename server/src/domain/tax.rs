//! Tax on document lines: price-exclusive or -inclusive, rounded per line or per document.
//! Pure; amounts come out in the currency's minor unit and always add up:
//! per line `net + tax = gross`, and the document's totals are the sums of its lines.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

/// Where tax is rounded to the currency's minor unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Each line's tax is rounded; the document's tax is their sum.
    Line,
    /// Tax is computed once per tax code on the document's lines and rounded once; it is then
    /// shared out to the lines (largest remainder) so lines still add up.
    Document,
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::Line => "line",
            Rounding::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "line" => Ok(Rounding::Line),
            "document" => Ok(Rounding::Document),
            _ => Err("must be line or document".into()),
        }
    }
}

/// Commercial rounding (四舍五入): halves away from zero.
pub fn round(value: Decimal, digits: u32) -> Decimal {
    value.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero)
}

#[derive(Clone, Debug)]
pub struct LineIn {
    pub quantity: Decimal,
    pub unit_price: Decimal,
    /// An amount off `quantity × unit_price` (rounded), in the same treatment (net or gross).
    pub discount: Decimal,
    /// None: no tax on this line.
    pub tax_code: Option<Uuid>,
    /// 0.13 for 13 %.
    pub rate: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct LineOut {
    pub net: Decimal,
    pub tax: Decimal,
    pub gross: Decimal,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Totals {
    pub lines: Vec<LineOut>,
    /// (tax code, net, tax) per code, in first-seen order.
    pub per_code: Vec<(Uuid, Decimal, Decimal)>,
    pub net: Decimal,
    pub tax: Decimal,
    pub gross: Decimal,
}

/// Tax contained in a tax-inclusive amount.
fn inclusive_tax(gross: Decimal, rate: Decimal) -> Decimal {
    gross * rate / (Decimal::ONE + rate)
}

/// Shares `total` (in minor units of `digits`) out over `weights` in proportion, so that the
/// shares sum to `total` exactly: floor shares, then the largest remainders get one unit more.
pub fn share_out(total: Decimal, weights: &[Decimal], digits: u32) -> Vec<Decimal> {
    let sum: Decimal = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum.is_zero() {
        let mut out = vec![Decimal::ZERO; weights.len()];
        out[0] = total;
        return out;
    }
    let unit = Decimal::new(1, digits);
    let exact: Vec<Decimal> = weights.iter().map(|w| total * w / sum).collect();
    let mut shares: Vec<Decimal> =
        exact.iter().map(|e| e.round_dp_with_strategy(digits, RoundingStrategy::ToZero)).collect();
    let mut left = total - shares.iter().sum::<Decimal>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| (exact[*b] - shares[*b]).abs().cmp(&(exact[*a] - shares[*a]).abs()).then(a.cmp(b)));
    let step = if left.is_sign_negative() { -unit } else { unit };
    let mut i = 0;
    while !left.is_zero() && !order.is_empty() {
        shares[order[i % order.len()]] += step;
        left -= step;
        i += 1;
    }
    shares
}

/// Computes every line's net, tax and gross, and the document's totals.
pub fn compute(lines: &[LineIn], inclusive: bool, rounding: Rounding, digits: u32) -> Totals {
    // The line amount as entered: net when exclusive, gross when inclusive.
    let amounts: Vec<Decimal> = lines.iter().map(|l| round(l.quantity * l.unit_price, digits) - l.discount).collect();
    let mut taxes: Vec<Decimal> = vec![Decimal::ZERO; lines.len()];
    match rounding {
        Rounding::Line => {
            for (i, l) in lines.iter().enumerate() {
                if l.tax_code.is_some() {
                    let t = if inclusive { inclusive_tax(amounts[i], l.rate) } else { amounts[i] * l.rate };
                    taxes[i] = round(t, digits);
                }
            }
        }
        Rounding::Document => {
            let mut codes: Vec<Uuid> = Vec::new();
            for l in lines {
                if let Some(c) = l.tax_code.filter(|c| !codes.contains(c)) {
                    codes.push(c);
                }
            }
            for code in codes {
                let idx: Vec<usize> = (0..lines.len()).filter(|i| lines[*i].tax_code == Some(code)).collect();
                let base: Decimal = idx.iter().map(|i| amounts[*i]).sum();
                let rate = idx.first().map(|i| lines[*i].rate).unwrap_or_default();
                let total = round(if inclusive { inclusive_tax(base, rate) } else { base * rate }, digits);
                let weights: Vec<Decimal> = idx.iter().map(|i| amounts[*i]).collect();
                for (k, share) in share_out(total, &weights, digits).into_iter().enumerate() {
                    if let Some(i) = idx.get(k) {
                        taxes[*i] = share;
                    }
                }
            }
        }
    }
    let mut out = Totals::default();
    for (i, l) in lines.iter().enumerate() {
        let (net, tax, gross) = if inclusive {
            (amounts[i] - taxes[i], taxes[i], amounts[i])
        } else {
            (amounts[i], taxes[i], amounts[i] + taxes[i])
        };
        out.lines.push(LineOut { net, tax, gross });
        out.net += net;
        out.tax += tax;
        out.gross += gross;
        if let Some(code) = l.tax_code {
            match out.per_code.iter_mut().find(|(c, ..)| *c == code) {
                Some(entry) => {
                    entry.1 += net;
                    entry.2 += tax;
                }
                None => out.per_code.push((code, net, tax)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn line(q: &str, p: &str, code: Uuid, rate: &str) -> LineIn {
        LineIn { quantity: d(q), unit_price: d(p), discount: Decimal::ZERO, tax_code: Some(code), rate: d(rate) }
    }

    #[test]
    fn exclusive_prices_add_tax_per_line() {
        let vat13 = Uuid::now_v7();
        let t =
            compute(&[line("3", "33.33", vat13, "0.13"), line("1", "0.10", vat13, "0.13")], false, Rounding::Line, 2);
        // 99.99 * 0.13 = 12.9987 -> 13.00 ; 0.10 * 0.13 = 0.013 -> 0.01
        assert_eq!(t.lines[0], LineOut { net: d("99.99"), tax: d("13.00"), gross: d("112.99") });
        assert_eq!(t.lines[1].tax, d("0.01"));
        assert_eq!((t.net, t.tax, t.gross), (d("100.09"), d("13.01"), d("113.10")));
        assert_eq!(t.per_code, vec![(vat13, d("100.09"), d("13.01"))]);
    }

    #[test]
    fn document_rounding_rounds_once_per_code_and_lines_still_add_up() {
        let vat13 = Uuid::now_v7();
        let lines: Vec<LineIn> = (0..3).map(|_| line("1", "0.10", vat13, "0.13")).collect();
        // Per line: 0.013 -> 0.01 each = 0.03. Per document: 0.30 * 0.13 = 0.039 -> 0.04.
        assert_eq!(compute(&lines, false, Rounding::Line, 2).tax, d("0.03"));
        let doc = compute(&lines, false, Rounding::Document, 2);
        assert_eq!(doc.tax, d("0.04"));
        assert_eq!(doc.lines.iter().map(|l| l.tax).sum::<Decimal>(), d("0.04"));
        for l in &doc.lines {
            assert_eq!(l.net + l.tax, l.gross);
        }
    }

    #[test]
    fn inclusive_prices_take_the_tax_out_of_the_gross() {
        let vat9 = Uuid::now_v7();
        let t = compute(&[line("1", "109.00", vat9, "0.09")], true, Rounding::Line, 2);
        assert_eq!(t.lines[0], LineOut { net: d("100.00"), tax: d("9.00"), gross: d("109.00") });
        let odd = compute(&[line("1", "100.00", vat9, "0.09")], true, Rounding::Document, 2);
        // 100 * 0.09 / 1.09 = 8.2568... -> 8.26
        assert_eq!(odd.lines[0], LineOut { net: d("91.74"), tax: d("8.26"), gross: d("100.00") });
    }

    #[test]
    fn exempt_and_zero_rated_lines_carry_no_tax_and_mixed_codes_are_kept_apart() {
        let (vat13, vat6) = (Uuid::now_v7(), Uuid::now_v7());
        let free = LineIn {
            quantity: d("2"),
            unit_price: d("5"),
            discount: Decimal::ZERO,
            tax_code: None,
            rate: Decimal::ZERO,
        };
        let t = compute(
            &[line("1", "100", vat13, "0.13"), line("1", "50", vat6, "0.06"), free],
            false,
            Rounding::Document,
            2,
        );
        assert_eq!(t.per_code, vec![(vat13, d("100"), d("13.00")), (vat6, d("50"), d("3.00"))]);
        assert_eq!(t.lines[2], LineOut { net: d("10"), tax: d("0"), gross: d("10") });
        assert_eq!(t.gross, d("176.00"));
    }

    #[test]
    fn shares_always_sum_to_the_total() {
        assert_eq!(share_out(d("0.04"), &[d("1"), d("1"), d("1")], 2), vec![d("0.02"), d("0.01"), d("0.01")]);
        assert_eq!(share_out(d("10"), &[d("0"), d("0")], 2), vec![d("10"), d("0")]);
        let s = share_out(d("-1.00"), &[d("1"), d("2"), d("3")], 2);
        assert_eq!(s.iter().sum::<Decimal>(), d("-1.00"));
    }
}
