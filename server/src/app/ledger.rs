//! The general ledger's use cases: the chart of accounts, periods, journal entries and the
//! posting engine that every module posts through, and the trial balance.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::approvals::{self, Document, Settled, Submission};
use super::{AppState, Change, Ctx, record};
use crate::domain::access::{Action, Module, Permission};
use crate::domain::approvals::Facts;
use crate::domain::charts;
use crate::domain::ids::TenantId;
use crate::domain::ledger::{self as rules, AccountType, BalanceColumns, EntryLine, PostingError};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::approvals::Request as ApprovalRequest;
use crate::store::ledger::{self as books, Account, AccountFilter, Entry, EntryFilter, FinanceSettings, Period};
use crate::store::{Access, Page, TenantTx, tenants};

/// Creates the chart from a template, the default account mapping and the finance settings,
/// inside the sign-up transaction.
pub async fn set_up_books(tx: &TenantTx<'_>, template: &str, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
    let accounts =
        charts::template(template).ok_or_else(|| AppError::field("accounting_template", "unknown template"))?;
    let mut ids: HashMap<&str, Uuid> = HashMap::new();
    let mut rows = Vec::with_capacity(accounts.len());
    for (code, parent, name, name_en, kind) in accounts {
        let id = Uuid::now_v7();
        ids.insert(code, id);
        rows.push(Account {
            id,
            code: (*code).to_owned(),
            name: (*name).to_owned(),
            name_en: Some((*name_en).to_owned()),
            parent_id: parent.and_then(|p| ids.get(p).copied()),
            account_type: *kind,
            is_postable: !accounts.iter().any(|a| a.1 == Some(*code)),
            is_active: true,
            created_at: now,
            updated_at: now,
            version: 1,
        });
    }
    books::insert_accounts(tx, &rows).await?;
    let mapping: Vec<(String, Uuid)> = charts::default_mapping(template)
        .into_iter()
        .filter_map(|(purpose, code)| ids.get(code).map(|id| (purpose.to_owned(), *id)))
        .collect();
    books::set_mappings(tx, &mapping).await?;
    crate::store::receivables::insert_tax_codes(tx, &super::receivables::default_tax_codes(template, now)).await?;
    books::insert_settings(
        tx,
        &FinanceSettings {
            hard_lock_date: None,
            approval_threshold: None,
            tax_rounding: crate::domain::tax::Rounding::Line,
            prices_include_tax: false,
            updated_at: now,
            version: 1,
        },
    )
    .await
}

fn not_found() -> AppError {
    AppError::NotFound { entity: "account" }
}

pub async fn list_accounts(
    app: &AppState,
    tenant: TenantId,
    limit: u64,
    after_code: Option<&str>,
    filter: &AccountFilter,
) -> AppResult<Vec<Account>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = books::list_accounts(&tx, limit, after_code, filter).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn get_account(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Account> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let a = books::get_account(&tx, id).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(a)
}

pub struct NewAccount {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub parent_id: Option<Uuid>,
    pub account_type: Option<String>,
}

fn account_code(raw: &str) -> Result<String, String> {
    let code = raw.trim();
    if code.is_empty() || code.len() > 20 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("must be 1-20 letters, digits, dots or dashes".into());
    }
    Ok(code.to_owned())
}

fn account_json(a: &Account) -> serde_json::Value {
    serde_json::json!({"code": a.code, "name": a.name, "name_en": a.name_en, "account_type": a.account_type.as_str(),
        "parent_id": a.parent_id, "is_postable": a.is_postable, "is_active": a.is_active})
}

/// Adds an account. A sub-account takes its parent's type; the parent stops being postable,
/// which is refused once the parent has journal lines.
pub async fn create_account(app: &AppState, ctx: &Ctx, input: NewAccount) -> AppResult<Account> {
    let mut f = Fields::new();
    let code = f.check("code", account_code(&input.code));
    let name = f.check("name", validate::name(&input.name, 200));
    let name_en = input.name_en.as_deref().and_then(|n| f.check("name_en", validate::name(n, 200)));
    let kind = input.account_type.as_deref().and_then(|t| f.check("account_type", AccountType::parse(t)));
    if input.parent_id.is_none() && input.account_type.is_none() {
        f.push("account_type", "a top-level account needs a type");
    }
    f.finish()?;
    let (Some(code), Some(name)) = (code, name) else { return Err(AppError::internal("validated fields missing")) };
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let parent = match input.parent_id {
        Some(p) => {
            Some(books::get_account(&tx, p).await?.ok_or_else(|| AppError::field("parent_id", "no such account"))?)
        }
        None => None,
    };
    let account_type = match (&parent, kind) {
        (Some(p), Some(k)) if k != p.account_type => {
            return Err(AppError::field(
                "account_type",
                format!("a sub-account of {} must be {}", p.code, p.account_type.as_str()),
            ));
        }
        (Some(p), _) => p.account_type,
        (None, Some(k)) => k,
        (None, None) => return Err(AppError::internal("type missing")),
    };
    if let Some(p) = &parent
        && p.is_postable
    {
        if books::account_has_lines(&tx, p.id).await? {
            return Err(AppError::Conflict(format!(
                "account {} already has journal lines; it cannot get sub-accounts",
                p.code
            )));
        }
        let parent_after = Account { is_postable: false, updated_at: now, version: p.version + 1, ..p.clone() };
        if !books::update_account(&tx, &parent_after).await? {
            return Err(AppError::StaleVersion { entity: "account", current: p.version });
        }
    }
    let account = Account {
        id: Uuid::now_v7(),
        code,
        name,
        name_en,
        parent_id: parent.as_ref().map(|p| p.id),
        account_type,
        is_postable: true,
        is_active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    books::insert_accounts(&tx, std::slice::from_ref(&account)).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("account.create", "account", Some(account.id.to_string()), None, Some(account_json(&account))),
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

#[derive(Default)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub name_en: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub account_type: Option<String>,
}

pub async fn update_account(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    patch: AccountPatch,
) -> AppResult<Account> {
    let mut f = Fields::new();
    let name = patch.name.as_deref().and_then(|n| f.check("name", validate::name(n, 200)));
    let kind = patch.account_type.as_deref().and_then(|t| f.check("account_type", AccountType::parse(t)));
    let name_en = match &patch.name_en {
        Some(Some(n)) => f.check("name_en", validate::name(n, 200)).map(Some),
        Some(None) => Some(None),
        None => None,
    };
    f.finish()?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = books::get_account(&tx, id).await?.ok_or_else(not_found)?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "account", current: before.version });
    }
    let mut after = before.clone();
    if let Some(n) = name {
        after.name = n;
    }
    if let Some(n) = name_en {
        after.name_en = n;
    }
    if let Some(k) = kind.filter(|k| *k != before.account_type) {
        if books::account_has_lines(&tx, id).await? {
            return Err(AppError::Conflict(format!(
                "account {} has journal lines; its type cannot change",
                before.code
            )));
        }
        if before.parent_id.is_some() || books::account_has_children(&tx, id).await? {
            return Err(AppError::Conflict(format!(
                "account {} is part of a hierarchy; sub-accounts share their parent's type",
                before.code
            )));
        }
        after.account_type = k;
    }
    if patch.is_active == Some(false)
        && before.is_active
        && let Some((purpose, _)) = books::mappings(&tx).await?.into_iter().find(|(_, a)| *a == id)
    {
        return Err(AppError::Conflict(format!(
            "account {} is mapped for {purpose}; map another account first",
            before.code
        )));
    }
    if let Some(active) = patch.is_active {
        after.is_active = active;
    }
    after.updated_at = now;
    after.version += 1;
    if !books::update_account(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "account", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "account.update",
            "account",
            Some(id.to_string()),
            Some(account_json(&before)),
            Some(account_json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes an unused account: no journal lines, no sub-accounts, not mapped.
pub async fn delete_account(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let account = books::get_account(&tx, id).await?.ok_or_else(not_found)?;
    if books::account_has_lines(&tx, id).await? {
        return Err(AppError::Conflict(format!("account {} has journal lines; deactivate it instead", account.code)));
    }
    if books::account_has_children(&tx, id).await? {
        return Err(AppError::Conflict(format!("account {} has sub-accounts", account.code)));
    }
    if let Some((purpose, _)) = books::mappings(&tx).await?.into_iter().find(|(_, a)| *a == id) {
        return Err(AppError::Conflict(format!("account {} is mapped for {purpose}", account.code)));
    }
    books::delete_account(&tx, id).await?;
    if let Some(parent_id) = account.parent_id
        && !books::account_has_children(&tx, parent_id).await?
        && let Some(parent) = books::get_account(&tx, parent_id).await?
    {
        let parent_after = Account { is_postable: true, updated_at: now, version: parent.version + 1, ..parent };
        books::update_account(&tx, &parent_after).await?;
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("account.delete", "account", Some(id.to_string()), Some(account_json(&account)), None),
    )
    .await?;
    tx.commit().await
}

pub async fn mappings(app: &AppState, tenant: TenantId) -> AppResult<Vec<(String, Account)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let pairs = books::mappings(&tx).await?;
    let accounts: HashMap<Uuid, Account> = books::all_accounts(&tx).await?.into_iter().map(|a| (a.id, a)).collect();
    tx.commit().await?;
    Ok(pairs.into_iter().filter_map(|(p, id)| accounts.get(&id).cloned().map(|a| (p, a))).collect())
}

pub async fn update_mappings(
    app: &AppState,
    ctx: &Ctx,
    changes: Vec<(String, Uuid)>,
) -> AppResult<Vec<(String, Account)>> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let known: Vec<&str> = charts::PURPOSES.iter().map(|p| p.0).collect();
    let facts = books::account_facts(&tx, &changes.iter().map(|c| c.1).collect::<Vec<_>>()).await?;
    let mut f = Fields::new();
    for (purpose, account) in &changes {
        if !known.contains(&purpose.as_str()) {
            f.push(purpose.clone(), "is not a posting purpose");
        }
        match facts.get(account) {
            None => f.push(purpose.clone(), "no such account"),
            Some(a) if !a.is_postable || !a.is_active => {
                f.push(purpose.clone(), format!("account {} is not postable", a.code))
            }
            Some(_) => {}
        }
    }
    f.finish()?;
    let before = books::mappings(&tx).await?;
    for (purpose, side) in [
        ("accounts_receivable", crate::domain::receivables::Side::Receivable),
        ("accounts_payable", crate::domain::receivables::Side::Payable),
    ] {
        let old = before.iter().find(|(p, _)| p == purpose).map(|(_, a)| *a);
        let new = changes.iter().find(|(p, _)| p == purpose).map(|(_, a)| *a);
        if new.is_some() && new != old && crate::store::receivables::has_open_items(&tx, side).await? {
            return Err(AppError::Conflict(format!(
                "{purpose} cannot move to another account while invoices or payments are open on it"
            )));
        }
    }
    for purpose in ["inventory", "goods_in_transit"] {
        let old = before.iter().find(|(p, _)| p == purpose).map(|(_, a)| *a);
        let new = changes.iter().find(|(p, _)| p == purpose).map(|(_, a)| *a);
        if new.is_some() && new != old && crate::store::stock::any_movements(&tx).await? {
            return Err(AppError::Conflict(format!(
                "{purpose} cannot move to another account once stock has moved: its balance is the stock ledger's value"
            )));
        }
    }
    books::set_mappings(&tx, &changes).await?;
    let as_json = |pairs: &[(String, Uuid)]| {
        serde_json::json!(pairs.iter().map(|(p, a)| (p.clone(), a.to_string())).collect::<HashMap<_, _>>())
    };
    record(
        &tx,
        ctx,
        app.now(),
        Change::new("account_mapping.update", "account_mapping", None, Some(as_json(&before)), Some(as_json(&changes))),
    )
    .await?;
    tx.commit().await?;
    mappings(app, ctx.principal.tenant).await
}

pub async fn settings(app: &AppState, tenant: TenantId) -> AppResult<FinanceSettings> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = books::settings(&tx).await?;
    tx.commit().await?;
    Ok(s)
}

pub struct SettingsPatch {
    pub hard_lock_date: Option<NaiveDate>,
    pub approval_threshold: Option<Option<Decimal>>,
    pub tax_rounding: Option<String>,
    pub prices_include_tax: Option<bool>,
}

/// The hard lock date only moves forward: periods whose returns are filed stay closed.
pub async fn update_settings(
    app: &AppState,
    ctx: &Ctx,
    if_match: i64,
    patch: SettingsPatch,
) -> AppResult<FinanceSettings> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = books::settings(&tx).await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "finance settings", current: before.version });
    }
    let mut after = before.clone();
    if let Some(lock) = patch.hard_lock_date {
        if before.hard_lock_date.is_some_and(|old| lock < old) {
            return Err(AppError::field("hard_lock_date", "the hard lock date cannot move back"));
        }
        if lock >= now.date_naive() {
            return Err(AppError::field("hard_lock_date", "must be in the past"));
        }
        after.hard_lock_date = Some(lock);
    }
    if let Some(t) = patch.approval_threshold {
        if t.is_some_and(|t| t.is_sign_negative()) {
            return Err(AppError::field("approval_threshold", "must not be negative"));
        }
        after.approval_threshold = t;
    }
    if let Some(r) = patch.tax_rounding {
        after.tax_rounding = crate::domain::tax::Rounding::parse(&r).map_err(|m| AppError::field("tax_rounding", m))?;
    }
    if let Some(p) = patch.prices_include_tax {
        after.prices_include_tax = p;
    }
    after.updated_at = now;
    after.version += 1;
    if !books::update_settings(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "finance settings", current: before.version });
    }
    let snap = |s: &FinanceSettings| {
        serde_json::json!({
            "hard_lock_date": s.hard_lock_date, "approval_threshold": s.approval_threshold.map(|d| d.to_string()),
            "tax_rounding": s.tax_rounding.as_str(), "prices_include_tax": s.prices_include_tax,
        })
    };
    record(
        &tx,
        ctx,
        now,
        Change::new("finance_settings.update", "finance_settings", None, Some(snap(&before)), Some(snap(&after))),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

fn period_or_virtual(id: i32, stored: Option<&Period>) -> AppResult<Period> {
    if let Some(p) = stored {
        return Ok(p.clone());
    }
    let (starts_on, ends_on) = rules::period_bounds(id).ok_or_else(|| AppError::field("period", "no such month"))?;
    Ok(Period { id, starts_on, ends_on, is_closed: false, closed_at: None, version: 0 })
}

/// The twelve periods of a calendar year, open unless closed.
pub async fn periods(app: &AppState, tenant: TenantId, year: i32) -> AppResult<Vec<Period>> {
    if !(1900..=9999).contains(&year) {
        return Err(AppError::field("year", "must be between 1900 and 9999"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let stored = books::list_periods(&tx, year * 100 + 1, year * 100 + 12).await?;
    tx.commit().await?;
    (1..=12).map(|m| period_or_virtual(year * 100 + m, stored.iter().find(|p| p.id == year * 100 + m))).collect()
}

pub(crate) fn parse_period(id: i32) -> AppResult<(NaiveDate, NaiveDate)> {
    rules::period_bounds(id).ok_or(AppError::NotFound { entity: "period" })
}

pub async fn set_period_closed(app: &AppState, ctx: &Ctx, id: i32, close: bool) -> AppResult<Period> {
    let (starts_on, ends_on) = parse_period(id)?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = books::ensure_period(&tx, id, starts_on, ends_on).await?;
    if before.is_closed == close {
        let state = if close { "closed" } else { "open" };
        return Err(AppError::InvalidState {
            entity: "period",
            state: state.into(),
            action: if close { "closed" } else { "reopened" },
        });
    }
    if !close {
        let lock = books::settings(&tx).await?.hard_lock_date;
        if let Some(lock) = lock.filter(|l| ends_on <= *l) {
            return Err(AppError::BooksLocked { lock_date: lock.to_string() });
        }
    }
    let after =
        Period { is_closed: close, closed_at: close.then_some(now), version: before.version + 1, ..before.clone() };
    if !books::set_period_closed(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "period", current: before.version });
    }
    let action = if close { "period.close" } else { "period.reopen" };
    let snap = |p: &Period| serde_json::json!({"status": if p.is_closed { "closed" } else { "open" }});
    record(&tx, ctx, now, Change::new(action, "period", Some(id.to_string()), Some(snap(&before)), Some(snap(&after))))
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// A journal entry as a client or another module describes it.
pub struct EntryInput {
    pub entry_date: NaiveDate,
    pub memo: String,
    /// The transaction currency (default: the base currency). In a foreign-currency entry the
    /// lines' amounts are in that currency and the base amounts are derived at the rate.
    pub currency: Option<String>,
    /// Base units per unit of `currency`; default: the tenant's rate on or before the date.
    pub exchange_rate: Option<Decimal>,
    pub lines: Vec<EntryLine>,
}

pub(crate) fn posting_error(e: PostingError) -> AppError {
    match e {
        PostingError::Fields(errors) => AppError::Validation(errors),
        PostingError::Unbalanced { debit, credit } => AppError::UnbalancedEntry {
            debit: debit.to_string(),
            credit: credit.to_string(),
            difference: (debit - credit).abs().to_string(),
        },
        PostingError::UnbalancedInCurrency { currency, debit, credit } => AppError::UnbalancedEntry {
            debit: format!("{debit} {currency}"),
            credit: format!("{credit} {currency}"),
            difference: format!("{} {currency}", (debit - credit).abs()),
        },
    }
}

/// Refuses manual lines on the control accounts: receivables and payables (their balances are
/// the sum of open invoices and payments) and inventory and goods in transit (their balances
/// are the stock ledger's value), which only those documents may change.
async fn refuse_control_accounts(tx: &TenantTx<'_>, lines: &[EntryLine]) -> AppResult<()> {
    let mapping: HashMap<String, Uuid> = books::mappings(tx).await?.into_iter().collect();
    let mut f = Fields::new();
    for (purpose, what) in [
        ("accounts_receivable", "sales invoices and receipts"),
        ("accounts_payable", "supplier invoices and payments"),
        ("inventory", "stock documents"),
        ("goods_in_transit", "stock transfers"),
    ] {
        let Some(control) = mapping.get(purpose) else { continue };
        for (i, l) in lines.iter().enumerate() {
            if l.account_id == *control {
                f.push(
                    format!("lines[{i}].account_id"),
                    format!("is the {purpose} control account; it moves only through {what}"),
                );
            }
        }
    }
    f.finish()
}

/// The entry's currency and rate: the base currency at 1, or a foreign one at the given rate
/// or the tenant's latest rate on or before the date.
pub(crate) async fn currency_and_rate(
    tx: &TenantTx<'_>,
    given: Option<String>,
    rate: Option<Decimal>,
    date: NaiveDate,
) -> AppResult<(String, Decimal, String)> {
    let base = tenants::current(tx).await?.base_currency;
    let currency = given.unwrap_or_else(|| base.clone());
    let currency = validate::currency(&currency).map_err(|m| AppError::field("currency", m))?;
    if currency == base {
        if rate.is_some_and(|r| r != Decimal::ONE) {
            return Err(AppError::field(
                "exchange_rate",
                format!("must be 1 (or absent) for the base currency {base}"),
            ));
        }
        return Ok((currency, Decimal::ONE, base));
    }
    let rate = match rate {
        Some(r) if r <= Decimal::ZERO => return Err(AppError::field("exchange_rate", "must be positive")),
        Some(r) => r,
        None => crate::store::fx::rate_on(tx, &currency, date).await?.ok_or_else(|| {
            AppError::field("exchange_rate", format!("no {currency} rate on or before {date}; give exchange_rate"))
        })?,
    };
    Ok((currency, rate, base))
}

/// Derives base amounts of a foreign-currency entry's lines at the rate. If rounding leaves
/// the base amounts unbalanced, the difference goes to the rounding account on its own line.
async fn convert_lines(
    tx: &TenantTx<'_>,
    lines: &mut Vec<EntryLine>,
    rate: Decimal,
    base_currency: &str,
) -> AppResult<()> {
    let digits = rules::minor_unit_digits(base_currency);
    for l in lines.iter_mut() {
        l.debit = crate::domain::tax::round(l.debit_fx * rate, digits);
        l.credit = crate::domain::tax::round(l.credit_fx * rate, digits);
    }
    let (dfx, cfx): (Decimal, Decimal) =
        lines.iter().fold(Default::default(), |(a, b), l| (a + l.debit_fx, b + l.credit_fx));
    let diff: Decimal = lines.iter().map(|l| l.debit - l.credit).sum();
    if dfx == cfx && !diff.is_zero() {
        let rounding = books::mappings(tx)
            .await?
            .into_iter()
            .find(|(p, _)| p == "rounding")
            .map(|(_, a)| a)
            .ok_or_else(|| AppError::Conflict("map the rounding purpose to an account first".into()))?;
        let (debit, credit) = if diff.is_sign_positive() { (Decimal::ZERO, diff) } else { (-diff, Decimal::ZERO) };
        lines.push(EntryLine {
            account_id: rounding,
            debit,
            credit,
            debit_fx: Decimal::ZERO,
            credit_fx: Decimal::ZERO,
            memo: "exchange rounding".into(),
            dimensions: Default::default(),
        });
    }
    Ok(())
}

/// Checks an entry against the chart; returns its total.
async fn check(tx: &TenantTx<'_>, input: &EntryInput, currency: &str, base: &str) -> AppResult<Decimal> {
    let mut f = Fields::new();
    if input.memo.chars().count() > 500 {
        f.push("memo", "must be at most 500 characters");
    }
    for (i, l) in input.lines.iter().enumerate() {
        if l.memo.chars().count() > 500 {
            f.push(format!("lines[{i}].memo"), "must be at most 500 characters");
        }
    }
    f.finish()?;
    let ids: Vec<Uuid> = input.lines.iter().map(|l| l.account_id).collect();
    let facts = books::account_facts(tx, &ids).await?;
    let total = rules::check_lines(&input.lines, currency, base, &facts).map_err(posting_error)?;
    refuse_control_accounts(tx, &input.lines).await?;
    Ok(total)
}

fn entry_json(e: &Entry, lines: &[EntryLine]) -> serde_json::Value {
    serde_json::json!({
        "number": e.number, "entry_date": e.entry_date, "memo": e.memo, "currency": e.currency,
        "status": if e.is_posted { "posted" } else { "draft" }, "total": e.total_debit.to_string(),
        "lines": lines.iter().map(|l| serde_json::json!({"account_id": l.account_id, "debit": l.debit.to_string(), "credit": l.credit.to_string()})).collect::<Vec<_>>(),
    })
}

/// Resolves the currency and rate and derives the base amounts of a client's entry.
async fn prepare(tx: &TenantTx<'_>, input: &mut EntryInput) -> AppResult<(String, Decimal, Decimal)> {
    let (currency, rate, base) =
        currency_and_rate(tx, input.currency.clone(), input.exchange_rate, input.entry_date).await?;
    if currency != base {
        convert_lines(tx, &mut input.lines, rate, &base).await?;
    }
    let total = check(tx, input, &currency, &base).await?;
    Ok((currency, rate, total))
}

pub async fn create_draft(app: &AppState, ctx: &Ctx, mut input: EntryInput) -> AppResult<(Entry, Vec<EntryLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (currency, exchange_rate, total) = prepare(&tx, &mut input).await?;
    let entry = Entry {
        id: Uuid::now_v7(),
        number: None,
        entry_date: input.entry_date,
        period_id: rules::period_of(input.entry_date),
        is_posted: false,
        memo: input.memo.trim().to_owned(),
        currency,
        exchange_rate,
        total_debit: total,
        source_type: "manual".into(),
        source_id: None,
        reversal_of: None,
        reversed_by: None,
        created_by: Some(ctx.principal.actor_uuid()),
        posted_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    books::insert_entry(&tx, &entry, &input.lines).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "journal_entry.create",
            "journal_entry",
            Some(entry.id.to_string()),
            None,
            Some(entry_json(&entry, &input.lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((entry, input.lines))
}

pub async fn get_entry(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(Entry, Vec<EntryLine>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let found = books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    tx.commit().await?;
    Ok(found)
}

pub async fn list_entries(
    app: &AppState,
    tenant: TenantId,
    page: &Page,
    filter: &EntryFilter,
) -> AppResult<Vec<Entry>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = books::list_entries(&tx, page, filter).await?;
    tx.commit().await?;
    Ok(list)
}

fn state_of(e: &Entry) -> String {
    if e.is_posted { "posted".into() } else { "draft".into() }
}

pub async fn update_draft(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    mut input: EntryInput,
) -> AppResult<(Entry, Vec<EntryLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (before, before_lines) =
        books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    if before.is_posted {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: state_of(&before),
            action: "edited (reverse it instead)",
        });
    }
    approvals::refuse_if_pending(&tx, KIND, id, "journal entry", "edited while it waits for approval").await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "journal entry", current: before.version });
    }
    let (currency, exchange_rate, total) = prepare(&tx, &mut input).await?;
    let after = Entry {
        entry_date: input.entry_date,
        period_id: rules::period_of(input.entry_date),
        memo: input.memo.trim().to_owned(),
        currency,
        exchange_rate,
        total_debit: total,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    if !books::replace_draft(&tx, &after, &input.lines).await? {
        return Err(AppError::StaleVersion { entity: "journal entry", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "journal_entry.update",
            "journal_entry",
            Some(id.to_string()),
            Some(entry_json(&before, &before_lines)),
            Some(entry_json(&after, &input.lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((after, input.lines))
}

pub async fn delete_draft(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (entry, lines) = books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    approvals::refuse_if_pending(&tx, KIND, id, "journal entry", "deleted while it waits for approval").await?;
    if entry.is_posted || !books::delete_draft(&tx, id).await? {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: state_of(&entry),
            action: "deleted (reverse it instead)",
        });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "journal_entry.delete",
            "journal_entry",
            Some(id.to_string()),
            Some(entry_json(&entry, &lines)),
            None,
        ),
    )
    .await?;
    tx.commit().await
}

/// The voucher number prefix of the tenant's template (记 for the Chinese chart).
pub(crate) async fn number_prefix(tx: &TenantTx<'_>) -> AppResult<&'static str> {
    Ok(if tenants::current(tx).await?.coa_template == "cn_small_business" { "记" } else { "JE" })
}

/// When a posted entry gets its voucher number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbering {
    /// Now, because the caller shows it (manual entries, reversals, closing entries).
    Now,
    /// Right before the transaction commits (documents' entries: deliveries, invoices,
    /// payments), so that posters do not queue on the period's sequence while the rest of
    /// their document is written. `entry.number` stays `None` in the caller.
    AtCommit,
}

/// The posting engine's last step, shared by every module: refuses locked dates and closed
/// periods, numbers the entry gaplessly in its period, and adds its lines to the period
/// balances — all inside the caller's transaction (balances as it commits).
pub async fn post_in(
    tx: &TenantTx<'_>,
    entry: &mut Entry,
    lines: &[EntryLine],
    now: chrono::DateTime<chrono::Utc>,
    numbering: Numbering,
) -> AppResult<()> {
    let settings = books::settings(tx).await?;
    if !rules::after_lock(entry.entry_date, settings.hard_lock_date) {
        let lock = settings.hard_lock_date.map(|d| d.to_string()).unwrap_or_default();
        return Err(AppError::BooksLocked { lock_date: lock });
    }
    let (starts_on, ends_on) = parse_period(entry.period_id)?;
    let period = books::ensure_period(tx, entry.period_id, starts_on, ends_on).await?;
    if period.is_closed {
        return Err(AppError::PeriodClosed {
            period: format!("{}-{:02}", entry.entry_date.year(), entry.entry_date.month()),
        });
    }
    let prefix = number_prefix(tx).await?;
    let key = format!("journal:{}", entry.period_id);
    let (year, month) = (entry.entry_date.year(), entry.entry_date.month());
    let format = move |n: i64| format!("{prefix}-{year}-{month:02}-{n:04}");
    match numbering {
        Numbering::Now => entry.number = Some(format(books::next_in_sequence(tx, &key).await?)),
        Numbering::AtCommit => books::number_entry_at_commit(tx, key, entry.id, Box::new(format))?,
    }
    entry.is_posted = true;
    entry.posted_at = Some(now);
    entry.updated_at = now;
    for l in lines {
        books::add_to_balance_at_commit(tx, l.account_id, entry.period_id, l.debit, l.credit)?;
    }
    Ok(())
}

/// The caller may post this entry: above the tenant's threshold it takes finance:approve.
fn check_approval(ctx: &Ctx, settings: &FinanceSettings, total: Decimal) -> AppResult<()> {
    let needs = Permission::new(Module::Finance, Action::Approve);
    match settings.approval_threshold {
        Some(limit) if total > limit && !ctx.principal.can(needs) => {
            Err(AppError::Forbidden(format!("{needs} (entries above {limit} need approval)")))
        }
        _ => Ok(()),
    }
}

pub async fn post_entry(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Entry, Vec<EntryLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (entry, lines) = books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    if entry.is_posted {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: state_of(&entry),
            action: "posted again",
        });
    }
    approvals::refuse_if_pending(&tx, KIND, id, "journal entry", "posted while it waits for approval").await?;
    let author = entry.created_by.unwrap_or(ctx.principal.actor_uuid());
    if approvals::needs_approval(&tx, KIND, entry_facts(author, &entry)).await? {
        return Err(AppError::Conflict(format!(
            "this entry needs approval under the tenant's approval flows; submit it \
             (POST /journal-entries/{id}/submit): it is posted when approved"
        )));
    }
    check_approval(ctx, &books::settings(&tx).await?, entry.total_debit)?;
    let r = post_checked(app, &tx, ctx, entry, lines, "journal_entry.post", now).await?;
    tx.commit().await?;
    Ok(r)
}

/// Re-checks a draft against the chart and its plugins and posts it, numbered now.
async fn post_checked(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    mut entry: Entry,
    lines: Vec<EntryLine>,
    action: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(Entry, Vec<EntryLine>)> {
    let id = entry.id;
    // Accounts may have been deactivated or split since the draft was saved.
    let input = EntryInput {
        entry_date: entry.entry_date,
        memo: entry.memo.clone(),
        currency: Some(entry.currency.clone()),
        exchange_rate: Some(entry.exchange_rate),
        lines,
    };
    let base = tenants::current(tx).await?.base_currency;
    check(tx, &input, &entry.currency, &base).await?;
    let doc = async || super::plugins::entry_document(tx, &entry, &input.lines).await;
    super::plugins::before(app, tx, super::plugins::Hook::JournalEntryPost, doc).await?;
    let before = entry.clone();
    post_in(tx, &mut entry, &input.lines, now, Numbering::Now).await?;
    entry.version += 1;
    if !books::mark_posted(tx, &entry).await? {
        return Err(AppError::StaleVersion { entity: "journal entry", current: before.version });
    }
    record(
        tx,
        ctx,
        now,
        Change::new(
            action,
            "journal_entry",
            Some(id.to_string()),
            Some(entry_json(&before, &input.lines)),
            Some(entry_json(&entry, &input.lines)),
        ),
    )
    .await?;
    Ok((entry, input.lines))
}

const KIND: &str = "journal_entry";

fn entry_facts(requester: Uuid, e: &Entry) -> Facts {
    Facts {
        requester,
        authors: e.created_by.into_iter().collect(),
        amount: e.total_debit,
        department: None,
        supplier: None,
        discount: None,
    }
}

/// Submits a manual draft entry for approval: frozen until decided and posted when approved
/// (at once under the flow's threshold). An entry no flow covers is posted directly instead.
pub async fn submit_entry(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Entry, Vec<EntryLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (entry, lines) = books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    if entry.is_posted {
        return Err(AppError::InvalidState { entity: "journal entry", state: state_of(&entry), action: "submitted" });
    }
    let base = tenants::current(&tx).await?.base_currency;
    let doc = Document {
        kind: KIND,
        id,
        number: format!("draft {} {}", entry.entry_date, entry.memo.chars().take(40).collect::<String>()),
        summary: format!("{} {base}: {}", entry.total_debit, entry.memo.chars().take(120).collect::<String>()),
        facts: entry_facts(ctx.principal.actor_uuid(), &entry),
    };
    // A new version: an edit that read the draft before this submission fails as stale.
    let entry = Entry { updated_at: now, version: entry.version + 1, ..entry };
    if !books::replace_draft(&tx, &entry, &lines).await? {
        return Err(AppError::StaleVersion { entity: "journal entry", current: entry.version - 1 });
    }
    let r = match approvals::submit_in(&tx, ctx, doc, now).await? {
        Submission::NotRequired => {
            return Err(AppError::Conflict(format!(
                "no approval flow covers this entry; post it directly (POST /journal-entries/{id}/post)"
            )));
        }
        Submission::AutoApproved(_) => {
            // The flow waives its own steps, not the finance approval the tenant requires above
            // its threshold.
            check_approval(ctx, &books::settings(&tx).await?, entry.total_debit)?;
            post_checked(app, &tx, ctx, entry, lines, "journal_entry.approve", now).await?
        }
        Submission::Pending(_) => (entry, lines),
    };
    tx.commit().await?;
    Ok(r)
}

/// A journal entry's approval ended: posted when approved; otherwise it stays a draft, free
/// to change again.
pub(crate) async fn entry_settled(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<()> {
    if s != Settled::Approved {
        return Ok(());
    }
    let (entry, lines) =
        books::get_entry(tx, a.document_id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    post_checked(app, tx, ctx, entry, lines, "journal_entry.approve", now).await?;
    Ok(())
}

pub struct ReversalInput {
    pub entry_date: Option<NaiveDate>,
    pub memo: Option<String>,
}

/// Posts the mirror of a posted entry, linked both ways. The original stays as it was.
pub async fn reverse_entry(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    input: ReversalInput,
) -> AppResult<(Entry, Vec<EntryLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (original, lines) = books::get_entry(&tx, id).await?.ok_or(AppError::NotFound { entity: "journal entry" })?;
    if !original.is_posted {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: state_of(&original),
            action: "reversed (delete the draft instead)",
        });
    }
    if original.reversed_by.is_some() {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: "reversed".into(),
            action: "reversed again",
        });
    }
    let date = input.entry_date.unwrap_or(original.entry_date);
    if date < original.entry_date {
        return Err(AppError::field("entry_date", "a reversal cannot be dated before the entry it reverses"));
    }
    if !matches!(original.source_type.as_str(), "manual" | books::YEAR_END_CLOSE) {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: format!("posted by {} {}", original.source_type, original.source_id.clone().unwrap_or_default()),
            action: "reversed here (cancel or credit the document that posted it)",
        });
    }
    let (reversal, mirrored) =
        reverse_in(&tx, &original, &lines, date, input.memo, Some(ctx.principal.actor_uuid()), now).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "journal_entry.reverse",
            "journal_entry",
            Some(id.to_string()),
            None,
            Some(entry_json(&reversal, &mirrored)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((reversal, mirrored))
}

/// Posts the mirror of a posted entry inside the caller's transaction and links both ways.
pub(crate) async fn reverse_in(
    tx: &TenantTx<'_>,
    original: &Entry,
    lines: &[EntryLine],
    date: NaiveDate,
    memo: Option<String>,
    created_by: Option<Uuid>,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<(Entry, Vec<EntryLine>)> {
    let mirrored = rules::reversal_lines(lines);
    let number = original.number.clone().unwrap_or_default();
    let mut reversal = Entry {
        id: Uuid::now_v7(),
        number: None,
        entry_date: date,
        period_id: rules::period_of(date),
        is_posted: false,
        memo: memo.unwrap_or_else(|| format!("Reversal of {number}")),
        currency: original.currency.clone(),
        exchange_rate: original.exchange_rate,
        total_debit: original.total_debit,
        source_type: "reversal".into(),
        source_id: Some(original.id.to_string()),
        reversal_of: Some(original.id),
        reversed_by: None,
        created_by,
        posted_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    post_in(tx, &mut reversal, &mirrored, now, Numbering::Now).await?;
    books::insert_entry(tx, &reversal, &mirrored).await?;
    if !books::mark_reversed(tx, original.id, reversal.id, now).await? {
        return Err(AppError::InvalidState {
            entity: "journal entry",
            state: "reversed".into(),
            action: "reversed again",
        });
    }
    Ok((reversal, mirrored))
}

/// One row of the trial balance.
#[derive(Clone, Debug)]
pub struct TrialBalanceRow {
    pub account: Account,
    pub level: usize,
    pub columns: BalanceColumns,
}

pub struct TrialBalance {
    pub rows: Vec<TrialBalanceRow>,
    /// Sums of postable accounts only: parents already include their sub-accounts.
    pub totals: BalanceColumns,
}

/// (debit, credit) per account over `from..=to`: whole months from the balance table, the
/// partial months at either end from the lines. Cost grows with accounts and months, not lines.
pub(crate) async fn range_sums(
    tx: &TenantTx<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<HashMap<Uuid, (Decimal, Decimal)>> {
    let mut out: HashMap<Uuid, (Decimal, Decimal)> = HashMap::new();
    let mut add = |rows: Vec<(Uuid, Decimal, Decimal)>| {
        for (a, d, c) in rows {
            let e = out.entry(a).or_default();
            e.0 += d;
            e.1 += c;
        }
    };
    if from > to {
        return Ok(out);
    }
    let (first_start, first_end) = parse_period(rules::period_of(from))?;
    let (last_start, last_end) = parse_period(rules::period_of(to))?;
    if rules::period_of(from) == rules::period_of(to) {
        if from == first_start && to == first_end {
            add(books::period_sums(tx, rules::period_of(from), rules::period_of(to)).await?);
        } else {
            add(books::line_sums(tx, from, to).await?);
        }
        return Ok(out);
    }
    let whole_from = if from == first_start {
        rules::period_of(from)
    } else {
        add(books::line_sums(tx, from, first_end).await?);
        rules::period_of(first_end.succ_opt().unwrap_or(first_end))
    };
    let whole_to = if to == last_end {
        rules::period_of(to)
    } else {
        add(books::line_sums(tx, last_start, to).await?);
        rules::period_of(last_start.pred_opt().unwrap_or(last_start))
    };
    if whole_from <= whole_to {
        add(books::period_sums(tx, whole_from, whole_to).await?);
    }
    Ok(out)
}

const EPOCH: (i32, u32, u32) = (1900, 1, 1);

pub(crate) fn epoch() -> AppResult<NaiveDate> {
    NaiveDate::from_ymd_opt(EPOCH.0, EPOCH.1, EPOCH.2).ok_or_else(|| AppError::internal("epoch"))
}

/// (debit, credit) per account of everything posted before `from`.
pub(crate) async fn sums_before(tx: &TenantTx<'_>, from: NaiveDate) -> AppResult<HashMap<Uuid, (Decimal, Decimal)>> {
    let epoch = epoch()?;
    match from.pred_opt() {
        Some(day) if day >= epoch => range_sums(tx, epoch, day).await,
        _ => Ok(HashMap::new()),
    }
}

/// Opening balance before `from`, movements within `from..=to`, closing; parents sum their
/// sub-accounts. Accounts with nothing in any column are left out.
pub async fn trial_balance(
    app: &AppState,
    tenant: TenantId,
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> AppResult<TrialBalance> {
    let from = from.unwrap_or(epoch()?);
    if from > to {
        return Err(AppError::field("from", "must not be after to"));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let accounts = books::all_accounts(&tx).await?;
    let before = sums_before(&tx, from).await?;
    let during = range_sums(&tx, from, to).await?;
    tx.commit().await?;
    let by_id: HashMap<Uuid, &Account> = accounts.iter().map(|a| (a.id, a)).collect();
    let mut totals: HashMap<Uuid, (Decimal, Decimal, Decimal)> = HashMap::new();
    for a in &accounts {
        let opening = before.get(&a.id).map(|(d, c)| d - c).unwrap_or_default();
        let (debit, credit) = during.get(&a.id).copied().unwrap_or_default();
        // Add to the account and every ancestor.
        let mut cursor = Some(a.id);
        let mut guard = 0;
        while let Some(id) = cursor {
            let t = totals.entry(id).or_default();
            t.0 += opening;
            t.1 += debit;
            t.2 += credit;
            cursor = by_id.get(&id).and_then(|x| x.parent_id);
            guard += 1;
            if guard > 32 {
                break;
            }
        }
    }
    let level = |a: &Account| {
        let mut n = 0;
        let mut p = a.parent_id;
        while let Some(id) = p {
            n += 1;
            p = by_id.get(&id).and_then(|x| x.parent_id);
            if n > 32 {
                break;
            }
        }
        n
    };
    let rows: Vec<TrialBalanceRow> = accounts
        .iter()
        .filter_map(|a| {
            let (opening, debit, credit) = totals.get(&a.id).copied().unwrap_or_default();
            if opening.is_zero() && debit.is_zero() && credit.is_zero() {
                return None;
            }
            Some(TrialBalanceRow {
                account: a.clone(),
                level: level(a),
                columns: BalanceColumns::new(opening, debit, credit),
            })
        })
        .collect();
    let mut sum = BalanceColumns::default();
    for r in rows.iter().filter(|r| r.account.is_postable) {
        sum.add(&r.columns);
    }
    Ok(TrialBalance { rows, totals: sum })
}

/// The general ledger of one account (and its sub-accounts): opening balance, each posted
/// line with the running balance, closing balance.
pub struct AccountLedger {
    pub account: Account,
    /// Balance before `from`.
    pub opening: Decimal,
    /// Balance before this page's first line.
    pub page_opening: Decimal,
    pub lines: Vec<(books::LedgerLine, Decimal)>,
    /// Balance after this page's last line.
    pub closing: Decimal,
    /// Where the next page starts, when there is one.
    pub next: Option<books::LineCursor>,
}

pub const GENERAL_LEDGER_LINES_MAX: u64 = 10_000;

pub async fn account_ledger(
    app: &AppState,
    tenant: TenantId,
    account: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    after: Option<books::LineCursor>,
    limit: u64,
) -> AppResult<AccountLedger> {
    if from > to {
        return Err(AppError::field("from", "must not be after to"));
    }
    if limit == 0 || limit > GENERAL_LEDGER_LINES_MAX {
        return Err(AppError::field("limit", format!("must be between 1 and {GENERAL_LEDGER_LINES_MAX}")));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let all = books::all_accounts(&tx).await?;
    let target = all.iter().find(|a| a.id == account).cloned().ok_or_else(not_found)?;
    // The account and every descendant.
    let mut subtree = vec![account];
    let mut i = 0;
    while i < subtree.len() {
        let parent = subtree[i];
        subtree.extend(all.iter().filter(|a| a.parent_id == Some(parent)).map(|a| a.id));
        i += 1;
    }
    let before = sums_before(&tx, from).await?;
    let opening: Decimal = subtree.iter().filter_map(|id| before.get(id)).map(|(d, c)| d - c).sum();
    let page_opening = match &after {
        Some(c) => {
            let (d, cr) = books::sums_through(&tx, &subtree, from, c).await?;
            opening + d - cr
        }
        None => opening,
    };
    let mut rows = books::account_lines(&tx, &subtree, from, to, after.as_ref(), limit + 1).await?;
    tx.commit().await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next = if more { rows.last().map(|l| (l.entry_date, l.entry_id, l.line_no)) } else { None };
    let mut running = page_opening;
    let lines = rows
        .into_iter()
        .map(|l| {
            running += l.debit - l.credit;
            (l, running)
        })
        .collect();
    Ok(AccountLedger { account: target, opening, page_opening, lines, closing: running, next })
}
