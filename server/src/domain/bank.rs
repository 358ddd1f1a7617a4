//! Bank statements: parsing a CSV export with the tenant's saved column mapping, fingerprints
//! that make re-imports harmless, and how well a book entry matches a statement line. Pure.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{FieldError, Fields};

pub const STATEMENT_LINES_MAX: usize = 10_000;

/// Which CSV columns hold what, by header name. Either `amount` (signed, money in positive)
/// or `money_in` and/or `money_out` (unsigned) must be given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    #[schema(example = "交易日期")]
    pub date: String,
    /// chrono format of the date column; default `%Y-%m-%d`.
    #[serde(default = "default_date_format")]
    pub date_format: String,
    pub amount: Option<String>,
    pub money_in: Option<String>,
    pub money_out: Option<String>,
    pub description: Option<String>,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    /// Lines before the header row (bank exports often start with a title block).
    #[serde(default)]
    pub skip_rows: usize,
    /// Default `,`.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
}

fn default_date_format() -> String {
    "%Y-%m-%d".into()
}

fn default_delimiter() -> char {
    ','
}

/// One parsed statement line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedLine {
    pub date: NaiveDate,
    /// Money in positive, money out negative.
    pub amount: Decimal,
    pub description: String,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    pub fingerprint: String,
}

/// Parses an amount as banks print it: thousands separators, currency signs, a trailing minus
/// or parentheses for negatives.
pub fn parse_amount(raw: &str) -> Option<Decimal> {
    let mut s: String =
        raw.chars().filter(|c| !matches!(c, ',' | ' ' | '¥' | '￥' | '$' | '€' | '£' | '\u{a0}')).collect();
    if s.is_empty() {
        return Some(Decimal::ZERO);
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].to_owned();
    }
    if let Some(stripped) = s.strip_suffix('-') {
        negative = true;
        s = stripped.to_owned();
    }
    let d: Decimal = s.parse().ok()?;
    Some(if negative { -d } else { d })
}

/// Parses a statement; every bad cell is reported (as `csv[row N].column`), and nothing is
/// returned unless all rows are good. `digits` is the account currency's minor unit.
pub fn parse_statement(text: &str, m: &ColumnMapping, digits: u32) -> Result<Vec<ParsedLine>, Vec<FieldError>> {
    let mut f = Fields::new();
    if m.amount.is_none() && m.money_in.is_none() && m.money_out.is_none() {
        f.push("mapping.amount", "map amount, or money_in and/or money_out");
        return Err(f.into_errors());
    }
    let body: String = text.trim_start_matches('\u{feff}').lines().skip(m.skip_rows).collect::<Vec<_>>().join("\n");
    let delimiter = u8::try_from(u32::from(m.delimiter)).unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(body.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_owned()).collect(),
        Err(e) => {
            f.push("csv", format!("cannot read the header row: {e}"));
            return Err(f.into_errors());
        }
    };
    let col = |f: &mut Fields, field: &str, name: &Option<String>| -> Option<usize> {
        let name = name.as_ref()?;
        let i = headers.iter().position(|h| h == name);
        if i.is_none() {
            f.push(format!("mapping.{field}"), format!("no column named {name:?}; the header has {headers:?}"));
        }
        i
    };
    let date_col = col(&mut f, "date", &Some(m.date.clone()));
    let amount_col = col(&mut f, "amount", &m.amount);
    let in_col = col(&mut f, "money_in", &m.money_in);
    let out_col = col(&mut f, "money_out", &m.money_out);
    let desc_col = col(&mut f, "description", &m.description);
    let ref_col = col(&mut f, "reference", &m.reference);
    let party_col = col(&mut f, "counterparty", &m.counterparty);
    let errors = f.into_errors();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut f = Fields::new();
    let mut out: Vec<ParsedLine> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let row = n + 1 + m.skip_rows + 1;
        let at = |c: &str| format!("csv[row {row}].{c}");
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                f.push(format!("csv[row {row}]"), e.to_string());
                continue;
            }
        };
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).map(|s| s.trim().to_owned()).unwrap_or_default();
        let date_raw = cell(date_col);
        let date = match NaiveDate::parse_from_str(&date_raw, &m.date_format) {
            Ok(d) => Some(d),
            Err(_) => {
                f.push(at("date"), format!("{date_raw:?} is not a date in the format {}", m.date_format));
                None
            }
        };
        let mut amount = Decimal::ZERO;
        for (i, sign, name) in [(amount_col, 1, "amount"), (in_col, 1, "money_in"), (out_col, -1, "money_out")] {
            if i.is_none() {
                continue;
            }
            let raw = cell(i);
            match parse_amount(&raw) {
                Some(v) if v.normalize().scale() > digits => {
                    f.push(at(name), format!("{raw:?} has more than {digits} decimals"))
                }
                Some(v) => amount += v * Decimal::from(sign),
                None => f.push(at(name), format!("{raw:?} is not an amount")),
            }
        }
        let description = cell(desc_col);
        let reference = Some(cell(ref_col)).filter(|s| !s.is_empty());
        let counterparty = Some(cell(party_col)).filter(|s| !s.is_empty());
        if description.chars().count() > 500 {
            f.push(at("description"), "must be at most 500 characters");
        }
        let Some(date) = date else { continue };
        if amount.is_zero() {
            continue;
        }
        let key = format!("{date}|{amount}|{}|{description}", reference.clone().unwrap_or_default());
        let occurrence = seen.entry(key.clone()).or_default();
        *occurrence += 1;
        let fingerprint = hex::encode(Sha256::digest(format!("{key}|{occurrence}").as_bytes()));
        out.push(ParsedLine { date, amount, description, reference, counterparty, fingerprint });
    }
    if out.len() > STATEMENT_LINES_MAX {
        f.push("csv", format!("at most {STATEMENT_LINES_MAX} lines per import"));
    }
    let errors = f.into_errors();
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A book entry a statement line might be: its movement on the bank's ledger account and the
/// texts that could name the same thing.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub date: NaiveDate,
    pub amount: Decimal,
    /// Entry number, memo, payment number and reference, party name.
    pub texts: Vec<&'a str>,
}

/// Scores a candidate for a line: 0 when the amounts differ (they must agree to the cent);
/// otherwise 50, plus 30 when the line's reference or description names it, plus 10 when the
/// counterparty appears, plus up to 10 for closeness in date.
pub fn score(line_amount: Decimal, date: NaiveDate, line_texts: &[&str], c: &Candidate<'_>) -> u32 {
    if line_amount != c.amount {
        return 0;
    }
    let mut s = 50;
    let hay: Vec<String> = c.texts.iter().map(|t| t.to_lowercase()).collect();
    let named = |needle: &str| {
        let n = needle.trim().to_lowercase();
        n.chars().count() >= 3
            && hay.iter().any(|h| h.contains(&n) || (h.chars().count() >= 3 && n.contains(h.as_str())))
    };
    if line_texts.first().is_some_and(|r| named(r)) || line_texts.get(1).is_some_and(|d| named(d)) {
        s += 30;
    }
    if line_texts.get(2).is_some_and(|p| named(p)) {
        s += 10;
    }
    let days = (date - c.date).num_days().unsigned_abs();
    s += 10u32.saturating_sub(u32::try_from(days).unwrap_or(u32::MAX));
    s
}

/// Whether a rule (text contained in the description or counterparty, direction) applies.
pub fn rule_applies(
    contains: &str,
    direction: &str,
    amount: Decimal,
    description: &str,
    counterparty: Option<&str>,
) -> bool {
    let needle = contains.to_lowercase();
    let dir_ok = match direction {
        "in" => amount > Decimal::ZERO,
        "out" => amount < Decimal::ZERO,
        _ => true,
    };
    dir_ok
        && (description.to_lowercase().contains(&needle)
            || counterparty.is_some_and(|c| c.to_lowercase().contains(&needle)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn mapping() -> ColumnMapping {
        ColumnMapping {
            date: "交易日期".into(),
            date_format: "%Y/%m/%d".into(),
            amount: None,
            money_in: Some("收入".into()),
            money_out: Some("支出".into()),
            description: Some("摘要".into()),
            reference: Some("流水号".into()),
            counterparty: Some("对方户名".into()),
            skip_rows: 2,
            delimiter: ',',
        }
    }

    const CSV: &str = "\u{feff}招商银行 账户明细\n账号: 6225****1234\n交易日期,收入,支出,摘要,流水号,对方户名\n2026/03/20,\"1,130.00\",,货款,RC-000001,杭州零售\n2026/03/21,,35.50,手续费,,\n2026/03/21,,35.50,手续费,,\n,,,,,\n";

    #[test]
    fn a_chinese_bank_export_parses_with_a_saved_mapping() {
        let lines = parse_statement(CSV, &mapping(), 2).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].amount, lines[0].reference.as_deref()), (d("1130.00"), Some("RC-000001")));
        assert_eq!(lines[1].amount, d("-35.50"));
        assert_ne!(lines[1].fingerprint, lines[2].fingerprint, "identical rows stay two lines");
        assert_eq!(
            parse_statement(CSV, &mapping(), 2).unwrap()[2].fingerprint,
            lines[2].fingerprint,
            "and re-import the same"
        );
    }

    #[test]
    fn every_bad_cell_is_named_and_nothing_is_returned() {
        let bad = "交易日期,收入,支出,摘要,流水号,对方户名\n2026-03-20,abc,,x,,\n2026/03/21,1.005,,y,,\n";
        let mut m = mapping();
        m.skip_rows = 0;
        let errors = parse_statement(bad, &m, 2).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["csv[row 2].date", "csv[row 2].money_in", "csv[row 3].money_in"]);
        m.money_in = Some("Credit".into());
        let errors = parse_statement(bad, &m, 2).unwrap_err();
        assert_eq!(errors[0].field, "mapping.money_in");
    }

    #[test]
    fn amounts_read_as_banks_print_them() {
        assert_eq!(parse_amount("(1,234.50)"), Some(d("-1234.50")));
        assert_eq!(parse_amount("¥88.00-"), Some(d("-88.00")));
        assert_eq!(parse_amount(""), Some(Decimal::ZERO));
        assert_eq!(parse_amount("12a"), None);
    }

    #[test]
    fn the_same_amount_with_the_reference_scores_highest() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 20).unwrap();
        let hit = Candidate { date: day, amount: d("1130"), texts: vec!["RC-000001 杭州零售"] };
        let other = Candidate { date: day - chrono::Days::new(3), amount: d("1130"), texts: vec!["记-2026-03-0007"] };
        let wrong = Candidate { date: day, amount: d("1130.01"), texts: vec!["RC-000001"] };
        let texts = ["RC-000001", "货款", "杭州零售"];
        assert_eq!(score(d("1130"), day, &texts, &hit), 100);
        assert_eq!(score(d("1130"), day, &texts, &other), 57);
        assert_eq!(score(d("1130"), day, &texts, &wrong), 0);
        assert!(rule_applies("手续费", "out", d("-35.5"), "手续费", None));
        assert!(!rule_applies("手续费", "in", d("-35.5"), "手续费", None));
    }
}
