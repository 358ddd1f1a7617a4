//! Document numbers: every kind of document the tenant numbers, its built-in prefix, and the
//! rules a tenant's own prefix and digit count follow. Numbers read `PREFIX-000042`.

/// A numbered kind: the sequence key, what people call it, and its built-in prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub key: &'static str,
    pub label: &'static str,
    pub prefix: &'static str,
}

const fn kind(key: &'static str, label: &'static str, prefix: &'static str) -> Kind {
    Kind { key, label, prefix }
}

/// Every sequence a document number is taken from. Journal entries are not here: their numbers
/// carry their period (`JV-2026-11-0001`) and their prefix is a finance setting.
pub const KINDS: &[Kind] = &[
    kind("quotation", "Sales quotations", "SQ"),
    kind("sales_order", "Sales orders", "SO"),
    kind("delivery", "Deliveries", "DN"),
    kind("sales_return", "Customer returns", "RMA"),
    kind("sales_invoice", "Sales invoices", "SI"),
    kind("sales_credit_note", "Sales credit notes", "SCN"),
    kind("receipt", "Customer receipts", "RC"),
    kind("purchase_request", "Purchase requests", "PR"),
    kind("purchase_order", "Purchase orders", "PO"),
    kind("goods_receipt", "Goods receipts", "GRN"),
    kind("purchase_return", "Returns to suppliers", "RTV"),
    kind("supplier_invoice", "Supplier invoices", "PI"),
    kind("supplier_credit_note", "Supplier credit notes", "PCN"),
    kind("payment", "Supplier payments", "PY"),
    kind("stock_receipt", "Stock receipts", "GR"),
    kind("stock_issue", "Stock issues", "GI"),
    kind("stock_transfer", "Stock transfers", "TR"),
    kind("stock_stocktake", "Stocktakes", "ST"),
    kind("stock_landed_cost", "Landed costs", "LC"),
    kind("production_order", "Production orders", "MO"),
    kind("production_change", "Production order changes", "MOC"),
    kind("production_issue", "Material issues", "MI"),
    kind("production_return", "Material returns", "MR"),
    kind("production_receipt", "Finished goods receipts", "FG"),
    kind("mrp_run", "MRP runs", "MRP"),
    kind("lead", "Leads", "LD"),
    kind("opportunity", "Opportunities", "OP"),
    kind("ticket", "Service tickets", "TK"),
    kind("approval_request", "Approval requests", "APV"),
    kind("expense_claim", "Expense claims", "EC"),
];

pub const DEFAULT_PADDING: i32 = 6;

pub fn find(key: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.key == key)
}

/// `SO-000042`.
pub fn format(prefix: &str, padding: i32, n: i64) -> String {
    let width = usize::try_from(padding).unwrap_or(6);
    format!("{prefix}-{n:0width$}")
}

/// A tenant's prefix: 1 to 10 capital letters or digits, starting with a letter. The dash
/// stays the separator, so a prefix never makes one kind's number look like another's.
pub fn check_prefix(p: &str) -> Result<(), &'static str> {
    let mut chars = p.chars();
    match chars.next() {
        None => Err("must not be empty"),
        Some(c) if !c.is_ascii_uppercase() => Err("must start with a capital letter (A-Z)"),
        _ if p.len() > 10 => Err("must be at most 10 characters"),
        _ if !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) => {
            Err("may hold only capital letters (A-Z) and digits")
        }
        _ => Ok(()),
    }
}

pub fn check_padding(p: i32) -> Result<(), &'static str> {
    if (1..=12).contains(&p) { Ok(()) } else { Err("must be between 1 and 12 digits") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_prefix_dash_padded_value() {
        assert_eq!(format("SO", 6, 42), "SO-000042");
        assert_eq!(format("XS2026", 3, 7), "XS2026-007");
        assert_eq!(format("SO", 2, 1234), "SO-1234");
    }

    #[test]
    fn prefixes_are_short_capitals_and_digits() {
        assert!(check_prefix("XS").is_ok());
        assert!(check_prefix("FP2026").is_ok());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("so").is_err());
        assert!(check_prefix("2026").is_err());
        assert!(check_prefix("SO-A").is_err());
        assert!(check_prefix("ABCDEFGHIJK").is_err());
        assert!(check_padding(0).is_err() && check_padding(13).is_err() && check_padding(4).is_ok());
    }

    #[test]
    fn built_in_prefixes_are_distinct_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for k in KINDS {
            assert!(check_prefix(k.prefix).is_ok(), "{}", k.key);
            assert!(seen.insert(k.prefix), "{} repeats a prefix", k.key);
        }
    }
}
