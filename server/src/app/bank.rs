//! Bank accounts, statement import with a saved column mapping, matching statement lines to
//! book entries (suggestions, manual match, automatic match and rules), reconciliation.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::post_document_entry;
use super::{AppState, Change, Ctx, record};
use crate::domain::bank::{self as rules, Candidate, ColumnMapping};
use crate::domain::ids::TenantId;
use crate::domain::ledger::{AccountType, Dimensions, EntryLine, minor_unit_digits, period_of};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::bank::{self as store, BankAccount, BankRule, BookItem, StatementLine};
use crate::store::ledger::{self as books, Entry};
use crate::store::{Access, TenantTx, tenants};

const BANK: &str = "bank account";

fn account_json(b: &BankAccount) -> serde_json::Value {
    serde_json::json!({"name": b.name, "account_id": b.account_id, "currency": b.currency,
        "opening_date": b.opening_date, "opening_balance": b.opening_balance.to_string(), "is_active": b.is_active,
        "statement_mapping": b.statement_mapping})
}

pub struct NewBankAccount {
    pub name: String,
    pub bank_name: Option<String>,
    pub account_number: Option<String>,
    pub account_id: Uuid,
    pub currency: Option<String>,
    pub opening_date: NaiveDate,
    pub opening_balance: Decimal,
}

pub async fn create_account(app: &AppState, ctx: &Ctx, input: NewBankAccount) -> AppResult<BankAccount> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let base = tenants::current(&tx).await?.base_currency;
    let mut f = Fields::new();
    let name = f.check("name", validate::name(&input.name, 100));
    let currency = input.currency.unwrap_or_else(|| base.clone());
    if currency != base {
        f.push("currency", format!("bank accounts are kept in the base currency {base} for now"));
    }
    if input.opening_balance.normalize().scale() > minor_unit_digits(&base) {
        f.push("opening_balance", format!("has more decimals than {base} allows"));
    }
    match books::get_account(&tx, input.account_id).await? {
        None => f.push("account_id", "no such account"),
        Some(a) if a.account_type != AccountType::Asset || !a.is_postable || !a.is_active => {
            f.push("account_id", format!("account {} must be an active postable asset account", a.code))
        }
        Some(_) => {}
    }
    f.finish()?;
    let b = BankAccount {
        id: Uuid::now_v7(),
        name: name.unwrap_or_default(),
        bank_name: input.bank_name.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        account_number: input.account_number.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        account_id: input.account_id,
        currency,
        opening_date: input.opening_date,
        opening_balance: input.opening_balance,
        statement_mapping: None,
        is_active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    store::insert_account(&tx, &b).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("bank_account.create", "bank_account", Some(b.id.to_string()), None, Some(account_json(&b))),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn accounts(app: &AppState, tenant: TenantId) -> AppResult<Vec<BankAccount>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::list_accounts(&tx).await?;
    tx.commit().await?;
    Ok(list)
}

async fn load(tx: &TenantTx<'_>, id: Uuid) -> AppResult<BankAccount> {
    store::get_account(tx, id).await?.ok_or(AppError::NotFound { entity: BANK })
}

pub async fn get_account(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<BankAccount> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let b = load(&tx, id).await?;
    tx.commit().await?;
    Ok(b)
}

/// Saves the CSV column mapping the account's statements use.
pub async fn set_mapping(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    mapping: ColumnMapping,
) -> AppResult<BankAccount> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load(&tx, id).await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: BANK, current: before.version });
    }
    if mapping.amount.is_none() && mapping.money_in.is_none() && mapping.money_out.is_none() {
        return Err(AppError::field("amount", "map amount, or money_in and/or money_out"));
    }
    let after = BankAccount {
        statement_mapping: Some(mapping),
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    if !store::save_account(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: BANK, current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bank_account.mapping",
            "bank_account",
            Some(id.to_string()),
            Some(account_json(&before)),
            Some(account_json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub struct Imported {
    pub import_id: Uuid,
    pub imported: Vec<StatementLine>,
    pub duplicates: usize,
}

/// Imports a CSV statement with the given mapping or the saved one. Every bad cell is
/// reported and nothing is imported; lines already imported (same fingerprint) are skipped.
pub async fn import_statement(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    csv: &str,
    mapping: Option<ColumnMapping>,
) -> AppResult<Imported> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let account = load(&tx, id).await?;
    if !account.is_active {
        return Err(AppError::InvalidState { entity: BANK, state: "inactive".into(), action: "given statements" });
    }
    let mapping = mapping
        .or(account.statement_mapping.clone())
        .ok_or_else(|| AppError::field("mapping", "give a column mapping or save one on the bank account"))?;
    let parsed =
        rules::parse_statement(csv, &mapping, minor_unit_digits(&account.currency)).map_err(AppError::Validation)?;
    let mut f = Fields::new();
    for (i, p) in parsed.iter().enumerate() {
        if p.date <= account.opening_date {
            f.push(
                format!("csv[line {}].date", i + 1),
                format!("{} is on or before the opening date {}", p.date, account.opening_date),
            );
        }
    }
    f.finish()?;
    let import_id = Uuid::now_v7();
    let lines: Vec<StatementLine> = parsed
        .into_iter()
        .map(|p| StatementLine {
            id: Uuid::now_v7(),
            bank_account_id: id,
            import_id,
            line_date: p.date,
            amount: p.amount,
            description: p.description,
            reference: p.reference,
            counterparty: p.counterparty,
            fingerprint: p.fingerprint,
            matched_entry_id: None,
            matched_at: None,
            created_at: now,
        })
        .collect();
    let inserted = store::insert_lines(&tx, &lines).await?;
    let duplicates = lines.len() - inserted.len();
    let imported: Vec<StatementLine> = lines.into_iter().filter(|l| inserted.contains(&l.id)).collect();
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bank_statement.import",
            "bank_account",
            Some(id.to_string()),
            None,
            Some(serde_json::json!({"import_id": import_id, "imported": imported.len(), "duplicates": duplicates})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Imported { import_id, imported, duplicates })
}

pub async fn statement_lines(
    app: &AppState,
    tenant: TenantId,
    id: Uuid,
    matched: Option<bool>,
) -> AppResult<Vec<StatementLine>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    load(&tx, id).await?;
    let list = store::lines(&tx, id, matched, None).await?;
    tx.commit().await?;
    Ok(list)
}

fn candidates_for<'a>(line: &StatementLine, items: &'a [BookItem]) -> Vec<(&'a BookItem, u32)> {
    let texts = [
        line.reference.as_deref().unwrap_or(""),
        line.description.as_str(),
        line.counterparty.as_deref().unwrap_or(""),
    ];
    let mut scored: Vec<(&BookItem, u32)> = items
        .iter()
        .filter(|i| !i.matched)
        .map(|i| {
            let c = Candidate { date: i.entry_date, amount: i.amount, texts: vec![i.number.as_str(), i.memo.as_str()] };
            (i, rules::score(line.amount, line.line_date, &texts, &c))
        })
        .filter(|(_, s)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.entry_date.cmp(&b.0.entry_date)));
    scored
}

/// Unmatched book entries on the account's ledger account with the line's amount, best first.
pub async fn suggestions(app: &AppState, tenant: TenantId, line_id: Uuid) -> AppResult<Vec<(BookItem, u32)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let line = store::get_line(&tx, line_id).await?.ok_or(AppError::NotFound { entity: "statement line" })?;
    let account = load(&tx, line.bank_account_id).await?;
    let items = store::book_items(
        &tx,
        account.account_id,
        account.opening_date.succ_opt().unwrap_or(account.opening_date),
        far_future()?,
    )
    .await?;
    tx.commit().await?;
    let out = candidates_for(&line, &items).into_iter().take(5).map(|(i, s)| (i.clone(), s)).collect();
    Ok(out)
}

fn far_future() -> AppResult<NaiveDate> {
    NaiveDate::from_ymd_opt(9999, 12, 31).ok_or_else(|| AppError::internal("date"))
}

/// Matches a statement line to a posted entry that moves the bank's ledger account by exactly
/// the line's amount.
pub async fn match_line(app: &AppState, ctx: &Ctx, line_id: Uuid, entry_id: Uuid) -> AppResult<StatementLine> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let line = store::get_line(&tx, line_id).await?.ok_or(AppError::NotFound { entity: "statement line" })?;
    if line.matched_entry_id.is_some() {
        return Err(AppError::InvalidState {
            entity: "statement line",
            state: "matched".into(),
            action: "matched again (unmatch it first)",
        });
    }
    let account = load(&tx, line.bank_account_id).await?;
    let (entry, lines) =
        books::get_entry(&tx, entry_id).await?.ok_or_else(|| AppError::field("entry_id", "no such journal entry"))?;
    let moved: Decimal = lines.iter().filter(|l| l.account_id == account.account_id).map(|l| l.debit - l.credit).sum();
    if !entry.is_posted {
        return Err(AppError::field("entry_id", "the entry is a draft"));
    }
    if moved != line.amount {
        return Err(AppError::field(
            "entry_id",
            format!("moves the bank account by {moved}, the statement line by {}", line.amount),
        ));
    }
    if !store::set_match(&tx, line_id, Some(entry_id), now).await? {
        return Err(AppError::Retryable("the statement line changed meanwhile".into()));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bank_statement_line.match",
            "bank_statement_line",
            Some(line_id.to_string()),
            None,
            Some(serde_json::json!({"entry_id": entry_id})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatementLine { matched_entry_id: Some(entry_id), matched_at: Some(now), ..line })
}

pub async fn unmatch_line(app: &AppState, ctx: &Ctx, line_id: Uuid) -> AppResult<StatementLine> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let line = store::get_line(&tx, line_id).await?.ok_or(AppError::NotFound { entity: "statement line" })?;
    if line.matched_entry_id.is_none() || !store::set_match(&tx, line_id, None, now).await? {
        return Err(AppError::InvalidState {
            entity: "statement line",
            state: "unmatched".into(),
            action: "unmatched",
        });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bank_statement_line.unmatch",
            "bank_statement_line",
            Some(line_id.to_string()),
            Some(serde_json::json!({"entry_id": line.matched_entry_id})),
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatementLine { matched_entry_id: None, matched_at: None, ..line })
}

pub struct NewRule {
    pub bank_account_id: Option<Uuid>,
    pub name: String,
    pub contains: String,
    pub direction: String,
    pub account_id: Uuid,
    pub memo: Option<String>,
}

pub async fn create_rule(app: &AppState, ctx: &Ctx, input: NewRule) -> AppResult<BankRule> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    let name = f.check("name", validate::name(&input.name, 100));
    let contains = f.check("contains", validate::name(&input.contains, 100));
    if !matches!(input.direction.as_str(), "in" | "out" | "any") {
        f.push("direction", "must be in, out or any");
    }
    if let Some(b) = input.bank_account_id
        && store::get_account(&tx, b).await?.is_none()
    {
        f.push("bank_account_id", "no such bank account");
    }
    match books::get_account(&tx, input.account_id).await? {
        None => f.push("account_id", "no such account"),
        Some(a) if !a.is_postable || !a.is_active => {
            f.push("account_id", format!("account {} is not postable", a.code))
        }
        Some(_) => {}
    }
    f.finish()?;
    let r = BankRule {
        id: Uuid::now_v7(),
        bank_account_id: input.bank_account_id,
        name: name.unwrap_or_default(),
        contains: contains.unwrap_or_default(),
        direction: input.direction,
        account_id: input.account_id,
        memo: input.memo.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).unwrap_or_default(),
        is_active: true,
        created_at: now,
    };
    store::insert_rule(&tx, &r).await?;
    record(&tx, ctx, now, Change::new("bank_rule.create", "bank_rule", Some(r.id.to_string()), None, Some(serde_json::json!({"name": r.name, "contains": r.contains, "direction": r.direction, "account_id": r.account_id}))))
        .await?;
    tx.commit().await?;
    Ok(r)
}

pub async fn rules_list(app: &AppState, tenant: TenantId) -> AppResult<Vec<BankRule>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = store::rules(&tx).await?;
    tx.commit().await?;
    Ok(list)
}

/// What automatic reconciliation did.
pub struct AutoResult {
    pub matched: usize,
    pub posted_by_rules: usize,
    pub left: usize,
}

/// A score from which a unique best candidate is matched without asking: amount, and the
/// reference or description naming the entry.
pub const AUTO_MATCH_SCORE: u32 = 80;

/// Matches every unmatched line whose best candidate is certain enough and unique; lines a
/// rule covers (bank charges, interest) are posted against the rule's account and matched.
pub async fn auto_reconcile(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<AutoResult> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let account = load(&tx, id).await?;
    let base = tenants::current(&tx).await?.base_currency;
    let lines = store::lines(&tx, id, Some(false), None).await?;
    let mut items = store::book_items(
        &tx,
        account.account_id,
        account.opening_date.succ_opt().unwrap_or(account.opening_date),
        far_future()?,
    )
    .await?;
    let rule_list: Vec<BankRule> = store::rules(&tx)
        .await?
        .into_iter()
        .filter(|r| r.is_active && r.bank_account_id.is_none_or(|b| b == id))
        .collect();
    let (mut matched, mut posted, mut left) = (0, 0, 0);
    for line in &lines {
        let best: Vec<(Uuid, u32)> =
            candidates_for(line, &items).into_iter().map(|(i, s)| (i.entry_id, s)).take(2).collect();
        let certain = match best.as_slice() {
            [(e, s)] if *s >= AUTO_MATCH_SCORE => Some(*e),
            [(e, s), (_, s2)] if *s >= AUTO_MATCH_SCORE && s > s2 => Some(*e),
            _ => None,
        };
        if let Some(entry) = certain {
            if store::set_match(&tx, line.id, Some(entry), now).await? {
                if let Some(i) = items.iter_mut().find(|i| i.entry_id == entry) {
                    i.matched = true;
                }
                matched += 1;
            }
            continue;
        }
        let rule = rule_list.iter().find(|r| {
            rules::rule_applies(&r.contains, &r.direction, line.amount, &line.description, line.counterparty.as_deref())
        });
        let Some(rule) = rule else {
            left += 1;
            continue;
        };
        let memo = if rule.memo.is_empty() { format!("{} {}", rule.name, line.description) } else { rule.memo.clone() };
        let amount = line.amount.abs();
        let (bank_debit, bank_credit) =
            if line.amount > Decimal::ZERO { (amount, Decimal::ZERO) } else { (Decimal::ZERO, amount) };
        let entry_lines = vec![
            EntryLine::base(account.account_id, bank_debit, bank_credit, memo.clone(), Dimensions::default()),
            EntryLine::base(rule.account_id, bank_credit, bank_debit, memo.clone(), Dimensions::default()),
        ];
        let entry = Entry {
            id: Uuid::now_v7(),
            number: None,
            entry_date: line.line_date,
            period_id: period_of(line.line_date),
            is_posted: false,
            memo,
            currency: base.clone(),
            exchange_rate: Decimal::ONE,
            total_debit: amount,
            source_type: "bank_rule".into(),
            source_id: Some(line.id.to_string()),
            reversal_of: None,
            reversed_by: None,
            created_by: Some(ctx.principal.actor_uuid()),
            posted_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let entry = post_document_entry(&tx, entry, &entry_lines, now).await?;
        if !store::set_match(&tx, line.id, Some(entry.id), now).await? {
            return Err(AppError::Retryable("a statement line changed meanwhile".into()));
        }
        posted += 1;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "bank_account.auto_reconcile",
            "bank_account",
            Some(id.to_string()),
            None,
            Some(serde_json::json!({"matched": matched, "posted_by_rules": posted, "left": left})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(AutoResult { matched, posted_by_rules: posted, left })
}

/// The bank reconciliation (银行存款余额调节表) at a date.
pub struct Reconciliation {
    pub account: BankAccount,
    pub as_of: NaiveDate,
    /// Opening balance plus every imported line up to the date.
    pub statement_balance: Decimal,
    /// The ledger account's balance at the date.
    pub ledger_balance: Decimal,
    /// In the books, not yet on the statement (cheques not cleared, deposits in transit).
    pub outstanding: Vec<BookItem>,
    /// On the statement, not yet in the books.
    pub unrecorded: Vec<StatementLine>,
    /// Ledger balance less outstanding plus unrecorded: equals the statement when reconciled.
    pub adjusted_ledger_balance: Decimal,
    pub difference: Decimal,
}

pub async fn reconciliation(app: &AppState, tenant: TenantId, id: Uuid, as_of: NaiveDate) -> AppResult<Reconciliation> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let account = load(&tx, id).await?;
    let all_lines = store::lines(&tx, id, None, Some(as_of)).await?;
    let after_opening = account.opening_date.succ_opt().unwrap_or(account.opening_date);
    let items = if as_of >= after_opening {
        store::book_items(&tx, account.account_id, after_opening, as_of).await?
    } else {
        Vec::new()
    };
    let day_after = as_of.succ_opt().ok_or_else(|| AppError::field("as_of", "is out of range"))?;
    let sums = super::ledger::sums_before(&tx, day_after).await?;
    tx.commit().await?;
    let ledger_balance = sums.get(&account.account_id).map(|(d, c)| d - c).unwrap_or_default();
    let statement_balance = account.opening_balance + all_lines.iter().map(|l| l.amount).sum::<Decimal>();
    let outstanding: Vec<BookItem> = items.into_iter().filter(|i| !i.matched).collect();
    let unrecorded: Vec<StatementLine> = all_lines.into_iter().filter(|l| l.matched_entry_id.is_none()).collect();
    let adjusted = ledger_balance - outstanding.iter().map(|i| i.amount).sum::<Decimal>()
        + unrecorded.iter().map(|l| l.amount).sum::<Decimal>();
    Ok(Reconciliation {
        difference: statement_balance - adjusted,
        account,
        as_of,
        statement_balance,
        ledger_balance,
        outstanding,
        unrecorded,
        adjusted_ledger_balance: adjusted,
    })
}
