//! Chart-of-accounts templates a tenant starts from, and the default account for each posting
//! purpose. Codes of sub-accounts extend their parent's code.

use super::ledger::AccountType::{self, *};

/// (code, parent code, name, English name, type). Accounts with children are not postable.
pub type TemplateAccount = (&'static str, Option<&'static str>, &'static str, &'static str, AccountType);

/// 小企业会计准则 (Accounting Standards for Small Business Enterprises), with English aliases.
pub const CN_SMALL_BUSINESS: &[TemplateAccount] = &[
    ("1001", None, "库存现金", "Cash on hand", Asset),
    ("1002", None, "银行存款", "Bank deposits", Asset),
    ("1012", None, "其他货币资金", "Other monetary funds", Asset),
    ("1101", None, "短期投资", "Short-term investments", Asset),
    ("1121", None, "应收票据", "Notes receivable", Asset),
    ("1122", None, "应收账款", "Accounts receivable", Asset),
    ("1123", None, "预付账款", "Prepayments", Asset),
    ("1131", None, "应收股利", "Dividends receivable", Asset),
    ("1132", None, "应收利息", "Interest receivable", Asset),
    ("1221", None, "其他应收款", "Other receivables", Asset),
    ("1401", None, "材料采购", "Materials purchasing", Asset),
    ("1402", None, "在途物资", "Goods in transit", Asset),
    ("1403", None, "原材料", "Raw materials", Asset),
    ("1404", None, "材料成本差异", "Material cost variance", Asset),
    ("1405", None, "库存商品", "Finished goods and merchandise", Asset),
    ("1408", None, "委托加工物资", "Materials for outsourced processing", Asset),
    ("1411", None, "周转材料", "Turnover materials", Asset),
    ("1501", None, "长期债券投资", "Long-term bond investments", Asset),
    ("1511", None, "长期股权投资", "Long-term equity investments", Asset),
    ("1601", None, "固定资产", "Fixed assets", Asset),
    ("1602", None, "累计折旧", "Accumulated depreciation", Asset),
    ("1604", None, "在建工程", "Construction in progress", Asset),
    ("1606", None, "固定资产清理", "Fixed asset disposals", Asset),
    ("1701", None, "无形资产", "Intangible assets", Asset),
    ("1702", None, "累计摊销", "Accumulated amortisation", Asset),
    ("1801", None, "长期待摊费用", "Long-term prepaid expenses", Asset),
    ("1901", None, "待处理财产损溢", "Unsettled property gains and losses", Asset),
    ("2001", None, "短期借款", "Short-term loans", Liability),
    ("2201", None, "应付票据", "Notes payable", Liability),
    ("2202", None, "应付账款", "Accounts payable", Liability),
    ("220201", Some("2202"), "应付账款-供应商", "Accounts payable - suppliers", Liability),
    ("220202", Some("2202"), "应付账款-暂估", "Goods received not invoiced", Liability),
    ("2203", None, "预收账款", "Advances from customers", Liability),
    ("2211", None, "应付职工薪酬", "Payroll payable", Liability),
    ("2221", None, "应交税费", "Taxes payable", Liability),
    ("222101", Some("2221"), "应交增值税", "VAT payable", Liability),
    ("22210101", Some("222101"), "进项税额", "Input VAT", Liability),
    ("22210102", Some("222101"), "销项税额", "Output VAT", Liability),
    ("222102", Some("2221"), "未交增值税", "VAT unpaid", Liability),
    ("222103", Some("2221"), "应交所得税", "Income tax payable", Liability),
    ("2231", None, "应付利息", "Interest payable", Liability),
    ("2232", None, "应付利润", "Profit payable", Liability),
    ("2241", None, "其他应付款", "Other payables", Liability),
    ("2401", None, "递延收益", "Deferred income", Liability),
    ("2501", None, "长期借款", "Long-term loans", Liability),
    ("2701", None, "长期应付款", "Long-term payables", Liability),
    ("3001", None, "实收资本", "Paid-in capital", Equity),
    ("3002", None, "资本公积", "Capital reserve", Equity),
    ("3101", None, "盈余公积", "Surplus reserve", Equity),
    ("3103", None, "本年利润", "Current-year profit", Equity),
    ("3104", None, "利润分配", "Profit distribution (retained earnings)", Equity),
    ("4001", None, "生产成本", "Production cost (work in progress)", Cost),
    ("4101", None, "制造费用", "Manufacturing overhead", Cost),
    ("4301", None, "研发支出", "Research and development", Cost),
    ("5001", None, "主营业务收入", "Main business revenue", Revenue),
    ("5051", None, "其他业务收入", "Other business revenue", Revenue),
    ("5111", None, "投资收益", "Investment income", Revenue),
    ("5301", None, "营业外收入", "Non-operating income", Revenue),
    ("5401", None, "主营业务成本", "Main business cost", Expense),
    ("5402", None, "其他业务成本", "Other business cost", Expense),
    ("5403", None, "税金及附加", "Taxes and surcharges", Expense),
    ("5601", None, "销售费用", "Selling expenses", Expense),
    ("5602", None, "管理费用", "Administrative expenses", Expense),
    ("5603", None, "财务费用", "Financial expenses", Expense),
    ("5711", None, "营业外支出", "Non-operating expenses", Expense),
    ("5801", None, "所得税费用", "Income tax expense", Expense),
];

/// A plain English chart.
pub const GENERIC: &[TemplateAccount] = &[
    ("1000", None, "Cash", "Cash", Asset),
    ("1010", None, "Bank", "Bank", Asset),
    ("1100", None, "Accounts receivable", "Accounts receivable", Asset),
    ("1150", None, "VAT receivable (input)", "VAT receivable (input)", Asset),
    ("1200", None, "Inventory", "Inventory", Asset),
    ("120010", Some("1200"), "Inventory - goods", "Inventory - goods", Asset),
    ("120020", Some("1200"), "Inventory - raw materials", "Inventory - raw materials", Asset),
    ("1230", None, "Work in progress", "Work in progress", Asset),
    ("1240", None, "Goods in transit", "Goods in transit", Asset),
    ("1500", None, "Fixed assets", "Fixed assets", Asset),
    ("1510", None, "Accumulated depreciation", "Accumulated depreciation", Asset),
    ("2000", None, "Accounts payable", "Accounts payable", Liability),
    ("2010", None, "Goods received not invoiced", "Goods received not invoiced", Liability),
    ("2100", None, "VAT payable (output)", "VAT payable (output)", Liability),
    ("2200", None, "Accrued liabilities", "Accrued liabilities", Liability),
    ("2300", None, "Customer advances", "Customer advances", Liability),
    ("2500", None, "Loans", "Loans", Liability),
    ("3000", None, "Share capital", "Share capital", Equity),
    ("3100", None, "Retained earnings", "Retained earnings", Equity),
    ("4000", None, "Sales revenue", "Sales revenue", Revenue),
    ("4100", None, "Other income", "Other income", Revenue),
    ("4200", None, "Stock adjustment gains", "Stock adjustment gains", Revenue),
    ("5000", None, "Cost of goods sold", "Cost of goods sold", Expense),
    ("5050", None, "Purchase price variance", "Purchase price variance", Expense),
    ("5100", None, "Manufacturing overhead", "Manufacturing overhead", Cost),
    ("5110", None, "Overhead absorbed", "Overhead absorbed", Cost),
    ("5200", None, "Stock adjustment losses", "Stock adjustment losses", Expense),
    ("6000", None, "Selling expenses", "Selling expenses", Expense),
    ("6100", None, "Administrative expenses", "Administrative expenses", Expense),
    ("6200", None, "Financial expenses", "Financial expenses", Expense),
    ("6210", None, "Exchange differences", "Exchange differences", Expense),
    ("6220", None, "Rounding differences", "Rounding differences", Expense),
];

/// What the posting engine looks up by purpose, and the template defaults.
pub const PURPOSES: &[(&str, &str, &str)] = &[
    // (purpose, cn_small_business code, generic code)
    ("cash", "1001", "1000"),
    ("bank", "1002", "1010"),
    ("accounts_receivable", "1122", "1100"),
    ("accounts_payable", "220201", "2000"),
    ("goods_received_not_invoiced", "220202", "2010"),
    ("vat_input", "22210101", "1150"),
    ("vat_output", "22210102", "2100"),
    ("revenue", "5001", "4000"),
    ("cost_of_goods_sold", "5401", "5000"),
    ("inventory", "1405", "120010"),
    ("inventory_raw_materials", "1403", "120020"),
    ("work_in_progress", "4001", "1230"),
    ("overhead", "4101", "5100"),
    ("overhead_absorbed", "4101", "5110"),
    ("stock_adjustment_gain", "5301", "4200"),
    ("stock_adjustment_loss", "5711", "5200"),
    ("rounding", "5603", "6220"),
    ("fx_gain_loss", "5603", "6210"),
    ("retained_earnings", "3104", "3100"),
    ("current_year_profit", "3103", "3100"),
    ("customer_advances", "2203", "2300"),
    ("bad_debt", "5711", "6100"),
    ("payable_write_off", "5301", "4100"),
    ("goods_in_transit", "1402", "1240"),
    ("opening_balance", "3104", "3100"),
    ("stock_issue_expense", "5602", "6100"),
    ("landed_cost_clearing", "220202", "2010"),
    ("purchase_price_variance", "5401", "5050"),
    ("production_variance", "5401", "5000"),
    ("expense_claims", "5602", "6100"),
    ("employee_payable", "2241", "2200"),
];

pub fn template(name: &str) -> Option<&'static [TemplateAccount]> {
    match name {
        "cn_small_business" => Some(CN_SMALL_BUSINESS),
        "generic" => Some(GENERIC),
        _ => None,
    }
}

/// The default account code for each purpose in a template.
pub fn default_mapping(name: &str) -> Vec<(&'static str, &'static str)> {
    PURPOSES
        .iter()
        .map(|(purpose, cn, generic)| (*purpose, if name == "cn_small_business" { *cn } else { *generic }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_tree_whose_mapped_accounts_are_leaves() {
        for name in ["cn_small_business", "generic"] {
            let accounts = template(name).unwrap();
            for (code, parent, ..) in accounts {
                if let Some(p) = parent {
                    assert!(accounts.iter().any(|a| a.0 == *p), "{name} {code}: parent {p} missing");
                    assert!(code.starts_with(p), "{name} {code} extends {p}");
                }
            }
            for (purpose, code) in default_mapping(name) {
                assert!(accounts.iter().any(|a| a.0 == code), "{name} {purpose} -> {code} missing");
                assert!(!accounts.iter().any(|a| a.1 == Some(code)), "{name} {purpose} -> {code} is a parent");
            }
        }
    }
}
