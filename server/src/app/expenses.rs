//! Expense claims (费用报销): an employee claims what they spent for the company, line by line
//! (category, amount with its deductible VAT, receipt reference, department and project). The
//! claim goes through the tenant's expense-claim approval flows; once approved it posts the
//! expense (net, to the line's account or the `expense_claims` purpose), the input VAT, and
//! the payable to the employee (the `employee_payable` purpose), on the approval date. Payments
//! from a bank or cash account clear the payable, in part or in full.
//!
//! Everyone sees and files their own claims; finance read sees everyone's, finance write files
//! for someone else and pays.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::approvals::{self, Document, Settled, Submission};
use super::receivables::{document_entry, mapped, mapping, next_number, optional, post_document_entry};
use super::{AppState, Change, Ctx, record, stale};
use crate::domain::access::{Action, Module, Permission};
use crate::domain::approvals::Facts;
use crate::domain::ids::UserId;
use crate::domain::ledger::{AccountType, Dimensions, EntryLine};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::approvals::Request as ApprovalRequest;
use crate::store::expenses::{self as store, Claim, ClaimFilter, ClaimLine, ClaimPayment};
use crate::store::ledger as books;
use crate::store::{Access, Page, TenantTx, tenants};

const ENTITY: &str = "expense claim";
const KIND: &str = "expense_claim";

pub const CATEGORIES: [&str; 9] =
    ["travel", "lodging", "meals", "transport", "office", "communication", "training", "entertainment", "other"];

fn finance(a: Action) -> Permission {
    Permission::new(Module::Finance, a)
}

#[derive(Clone)]
pub struct LineInput {
    pub category: String,
    pub description: String,
    pub expense_date: NaiveDate,
    pub amount: Decimal,
    pub tax: Option<Decimal>,
    pub account_id: Option<Uuid>,
    pub receipt_ref: Option<String>,
    pub department: Option<String>,
    pub project: Option<String>,
}

#[derive(Clone)]
pub struct ClaimInput {
    pub employee_id: Option<Uuid>,
    pub claim_date: NaiveDate,
    pub description: String,
    pub lines: Vec<LineInput>,
}

fn claim_json(c: &Claim, lines: &[ClaimLine]) -> serde_json::Value {
    json!({"number": c.number, "employee_id": c.employee_id, "status": c.status, "claim_date": c.claim_date,
        "description": c.description, "total": c.total.to_string(), "tax_total": c.tax_total.to_string(),
        "paid": c.paid.to_string(), "entry_id": c.entry_id,
        "lines": lines.iter().map(|l| json!({"category": l.category, "description": l.description,
            "expense_date": l.expense_date, "account_id": l.account_id, "amount": l.amount.to_string(),
            "tax": l.tax.to_string(), "receipt_ref": l.receipt_ref, "department": l.department,
            "project": l.project})).collect::<Vec<_>>()})
}

/// Checks the input against the chart and the people; returns the employee, the lines and
/// the totals.
async fn build(tx: &TenantTx<'_>, ctx: &Ctx, input: ClaimInput) -> AppResult<(Uuid, String, Vec<ClaimLine>)> {
    let me = ctx.principal.actor_uuid();
    let employee = input.employee_id.unwrap_or(me);
    if employee != me && !ctx.principal.can(finance(Action::Write)) {
        return Err(AppError::Forbidden(format!("{} (to file a claim for someone else)", finance(Action::Write))));
    }
    let mut f = Fields::new();
    match crate::store::users::get(tx, UserId(employee)).await? {
        None => f.push("employee_id", "no such user (a claim is an employee's; API keys file for one)"),
        Some(u) if !u.is_active => f.push("employee_id", format!("{} is deactivated", u.display_name)),
        Some(_) => {}
    }
    let description = f.check("description", validate::name(&input.description, 500)).unwrap_or_default();
    if input.lines.is_empty() || input.lines.len() > 100 {
        f.push("lines", "a claim has 1 to 100 lines");
    }
    let default_account = mapping(tx).await?.get("expense_claims").copied();
    let mut lines = Vec::with_capacity(input.lines.len());
    for (i, l) in input.lines.into_iter().enumerate() {
        let at = |k: &str| format!("lines[{i}].{k}");
        if !CATEGORIES.contains(&l.category.as_str()) {
            f.push(at("category"), format!("must be one of {}", CATEGORIES.join(", ")));
        }
        let description = f.check(&at("description"), validate::name(&l.description, 200)).unwrap_or_default();
        if l.expense_date > input.claim_date {
            f.push(at("expense_date"), "must not be after the claim date");
        }
        if l.amount <= Decimal::ZERO {
            f.push(at("amount"), "must be positive");
        }
        if l.amount.round_dp(2) != l.amount {
            f.push(at("amount"), "has at most 2 decimals");
        }
        let tax = l.tax.unwrap_or_default();
        if tax < Decimal::ZERO || (tax >= l.amount && l.amount > Decimal::ZERO) {
            f.push(at("tax"), "must be at least 0 and below the amount (the amount includes it)");
        }
        if tax.round_dp(2) != tax {
            f.push(at("tax"), "has at most 2 decimals");
        }
        let account_id = match l.account_id.or(default_account) {
            None => {
                f.push(at("account_id"), "is required (map the expense_claims purpose to have a default)");
                Uuid::nil()
            }
            Some(a) => {
                match books::get_account(tx, a).await? {
                    None => f.push(at("account_id"), "no such account"),
                    Some(x) if !x.is_active || !x.is_postable => {
                        f.push(at("account_id"), format!("account {} does not take postings", x.code))
                    }
                    Some(x) if !matches!(x.account_type, AccountType::Expense | AccountType::Cost) => {
                        f.push(at("account_id"), format!("account {} is not an expense or cost account", x.code))
                    }
                    Some(_) => {}
                }
                a
            }
        };
        lines.push(ClaimLine {
            line_no: i32::try_from(i + 1).unwrap_or(i32::MAX),
            category: l.category,
            description,
            expense_date: l.expense_date,
            account_id,
            amount: l.amount,
            tax,
            receipt_ref: optional(&mut f, &at("receipt_ref"), l.receipt_ref, 100),
            department: optional(&mut f, &at("department"), l.department, 100),
            project: optional(&mut f, &at("project"), l.project, 100),
        });
    }
    f.finish()?;
    Ok((employee, description, lines))
}

fn totals(c: &mut Claim, lines: &[ClaimLine]) {
    c.total = lines.iter().map(|l| l.amount).sum();
    c.tax_total = lines.iter().map(|l| l.tax).sum();
}

pub async fn create(app: &AppState, ctx: &Ctx, input: ClaimInput) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let claim_date = input.claim_date;
    let (employee, description, lines) = build(&tx, ctx, input).await?;
    let mut c = Claim {
        id: Uuid::now_v7(),
        number: next_number(&tx, "expense_claim", "EC").await?,
        employee_id: employee,
        status: "draft".into(),
        claim_date,
        description,
        total: Decimal::ZERO,
        tax_total: Decimal::ZERO,
        paid: Decimal::ZERO,
        entry_id: None,
        approved_at: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    totals(&mut c, &lines);
    store::insert(&tx, &c, &lines).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "expense_claim.create",
            "expense_claim",
            Some(c.id.to_string()),
            None,
            Some(claim_json(&c, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((c, lines))
}

/// The claim, when the caller may see it: their own, or anyone's with finance read.
async fn visible(tx: &TenantTx<'_>, ctx: &Ctx, id: Uuid, lock: bool) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let (c, lines) = store::get(tx, id, lock).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    let me = ctx.principal.actor_uuid();
    if c.employee_id != me && c.created_by != Some(me) && !ctx.principal.can(finance(Action::Read)) {
        return Err(AppError::NotFound { entity: ENTITY });
    }
    Ok((c, lines))
}

/// The claim, when the caller may change it: their own (as employee or filer), or anyone's
/// with finance write.
async fn editable(tx: &TenantTx<'_>, ctx: &Ctx, id: Uuid) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let (c, lines) = visible(tx, ctx, id, true).await?;
    let me = ctx.principal.actor_uuid();
    if c.employee_id != me && c.created_by != Some(me) && !ctx.principal.can(finance(Action::Write)) {
        return Err(AppError::Forbidden(format!("{} (to change someone else's claim)", finance(Action::Write))));
    }
    Ok((c, lines))
}

fn frozen(c: &Claim, action: &'static str) -> AppError {
    let state = if c.status == "submitted" {
        format!("{} waiting for approval", c.number)
    } else {
        format!("{} {}", c.number, c.status)
    };
    AppError::InvalidState { entity: ENTITY, state, action }
}

/// Replaces a draft claim's header and lines.
pub async fn update(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    input: ClaimInput,
) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (before, before_lines) = editable(&tx, ctx, id).await?;
    if before.status != "draft" {
        return Err(frozen(&before, "edited (only drafts are)"));
    }
    if before.version != if_match {
        return Err(stale(ENTITY, before.version));
    }
    let claim_date = input.claim_date;
    // A claim stays its employee's unless the change names another.
    let input = ClaimInput { employee_id: input.employee_id.or(Some(before.employee_id)), ..input };
    let (employee, description, lines) = build(&tx, ctx, input).await?;
    let mut c = Claim {
        employee_id: employee,
        claim_date,
        description,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    totals(&mut c, &lines);
    if !store::save(&tx, &c, Some(&lines)).await? {
        return Err(stale(ENTITY, before.version));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "expense_claim.update",
            "expense_claim",
            Some(id.to_string()),
            Some(claim_json(&before, &before_lines)),
            Some(claim_json(&c, &lines)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((c, lines))
}

async fn save(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    c: &mut Claim,
    lines: &[ClaimLine],
    before: serde_json::Value,
    action: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    c.updated_at = now;
    c.version += 1;
    if !store::save(tx, c, None).await? {
        return Err(stale(ENTITY, c.version - 1));
    }
    record(
        tx,
        ctx,
        now,
        Change::new(action, "expense_claim", Some(c.id.to_string()), Some(before), Some(claim_json(c, lines))),
    )
    .await
}

/// Submits a draft for approval. No flow covering it is a refusal: a claim is always someone's
/// yes away from being paid.
pub async fn submit(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut c, lines) = editable(&tx, ctx, id).await?;
    if c.status != "draft" {
        return Err(frozen(&c, "submitted"));
    }
    let before = claim_json(&c, &lines);
    let employee =
        crate::store::users::get(&tx, UserId(c.employee_id)).await?.map(|u| u.display_name).unwrap_or_default();
    let base = tenants::current(&tx).await?.base_currency;
    let doc = Document {
        kind: KIND,
        id: c.id,
        number: c.number.clone(),
        summary: format!("{employee}: {} {base}, {}", c.total, c.description.chars().take(100).collect::<String>()),
        // Routed on the employee's department in the organisation, not on what the lines say.
        facts: Facts {
            requester: c.employee_id,
            authors: c.created_by.into_iter().chain([ctx.principal.actor_uuid()]).collect(),
            amount: c.total,
            department: None,
            supplier: None,
            discount: None,
        },
    };
    match approvals::submit_in(&tx, ctx, doc, now).await? {
        Submission::NotRequired => {
            return Err(AppError::Conflict(
                "no approval flow covers this claim; the tenant's admin sets one up (POST /approval-flows, \
                 document_kind expense_claim)"
                    .into(),
            ));
        }
        Submission::AutoApproved(_) => approve(&tx, ctx, &mut c, &lines, now).await?,
        Submission::Pending(_) => c.status = "submitted".into(),
    }
    save(&tx, ctx, &mut c, &lines, before, "expense_claim.submit", now).await?;
    tx.commit().await?;
    Ok((c, lines))
}

/// Posts an approved claim on the approval date: each line's net to its account (with its
/// department and project), the VAT to input VAT, the total owed to the employee.
async fn approve(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    c: &mut Claim,
    lines: &[ClaimLine],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let m = mapping(tx).await?;
    let payable = mapped(&m, "employee_payable")?;
    let employee =
        crate::store::users::get(tx, UserId(c.employee_id)).await?.map(|u| u.display_name).unwrap_or_default();
    let mut entry_lines: Vec<EntryLine> = lines
        .iter()
        .map(|l| {
            EntryLine::base(
                l.account_id,
                l.amount - l.tax,
                Decimal::ZERO,
                format!("{} {}: {}", c.number, l.category, l.description),
                Dimensions { department: l.department.clone(), project: l.project.clone(), ..Dimensions::default() },
            )
        })
        .collect();
    if c.tax_total > Decimal::ZERO {
        entry_lines.push(EntryLine::base(
            mapped(&m, "vat_input")?,
            c.tax_total,
            Decimal::ZERO,
            format!("{} input VAT", c.number),
            Dimensions::default(),
        ));
    }
    entry_lines.push(EntryLine::base(
        payable,
        Decimal::ZERO,
        c.total,
        format!("{} owed to {employee}", c.number),
        Dimensions::default(),
    ));
    let base = tenants::current(tx).await?.base_currency;
    let entry = document_entry(
        now.date_naive(),
        format!("Expense claim {} ({employee})", c.number),
        &base,
        Decimal::ONE,
        &entry_lines,
        "expense_claim",
        c.id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    let entry = post_document_entry(tx, entry, &entry_lines, now).await?;
    c.entry_id = Some(entry.id);
    c.status = "approved".into();
    c.approved_at = Some(now);
    Ok(())
}

/// A claim's approval ended: posted when approved, else back to draft.
pub(crate) async fn claim_settled(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    a: &ApprovalRequest,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let (mut c, lines) = store::get(tx, a.document_id, true).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    let before = claim_json(&c, &lines);
    if s == Settled::Approved {
        approve(tx, ctx, &mut c, &lines, now).await?;
    } else {
        c.status = "draft".into();
    }
    let action = format!("expense_claim.{}", s.verb());
    save(tx, ctx, &mut c, &lines, before, &action, now).await
}

/// Cancels a draft claim (kept, numbered, for the record).
pub async fn cancel(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Claim, Vec<ClaimLine>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut c, lines) = editable(&tx, ctx, id).await?;
    if c.status != "draft" {
        return Err(frozen(&c, "cancelled (only drafts are; a posted claim is settled by paying it)"));
    }
    let before = claim_json(&c, &lines);
    c.status = "cancelled".into();
    save(&tx, ctx, &mut c, &lines, before, "expense_claim.cancel", now).await?;
    tx.commit().await?;
    Ok((c, lines))
}

pub struct PaymentInput {
    pub payment_date: NaiveDate,
    /// Default: what is still owed.
    pub amount: Option<Decimal>,
    /// A bank or cash account; default the `bank` purpose.
    pub account_id: Option<Uuid>,
    pub reference: Option<String>,
}

/// Pays the employee what an approved claim owes them, in part or in full: the payable
/// against the bank or cash account.
pub async fn pay(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    input: PaymentInput,
) -> AppResult<(Claim, Vec<ClaimLine>, ClaimPayment)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let (mut c, lines) = store::get(&tx, id, true).await?.ok_or(AppError::NotFound { entity: ENTITY })?;
    if c.status != "approved" {
        return Err(frozen(&c, "paid (only approved claims with something owed are)"));
    }
    let owed = c.total - c.paid;
    let amount = input.amount.unwrap_or(owed);
    let mut f = Fields::new();
    if amount <= Decimal::ZERO {
        f.push("amount", "must be positive");
    } else if amount > owed {
        f.push("amount", format!("is more than the {owed} still owed on {}", c.number));
    }
    if amount.round_dp(2) != amount {
        f.push("amount", "has at most 2 decimals");
    }
    if input.payment_date < c.claim_date {
        f.push("payment_date", "must not be before the claim date");
    }
    let reference = optional(&mut f, "reference", input.reference, 100);
    let m = mapping(&tx).await?;
    // The bank or cash account, or one under them.
    let money: Vec<Uuid> = ["bank", "cash"].iter().filter_map(|p| m.get(*p).copied()).collect();
    let account = match input.account_id {
        Some(a) => {
            match books::get_account(&tx, a).await? {
                None => f.push("account_id", "no such account"),
                Some(x)
                    if !x.is_active
                        || !x.is_postable
                        || !(money.contains(&x.id) || x.parent_id.is_some_and(|p| money.contains(&p))) =>
                {
                    f.push("account_id", format!("account {} is not an active bank or cash account", x.code))
                }
                Some(_) => {}
            }
            a
        }
        None => mapped(&m, "bank")?,
    };
    f.finish()?;
    let before = claim_json(&c, &lines);
    let payable = mapped(&m, "employee_payable")?;
    let employee =
        crate::store::users::get(&tx, UserId(c.employee_id)).await?.map(|u| u.display_name).unwrap_or_default();
    let entry_lines = vec![
        EntryLine::base(
            payable,
            amount,
            Decimal::ZERO,
            format!("{} paid to {employee}", c.number),
            Dimensions::default(),
        ),
        EntryLine::base(
            account,
            Decimal::ZERO,
            amount,
            format!("{} paid to {employee}", c.number),
            Dimensions::default(),
        ),
    ];
    let base = tenants::current(&tx).await?.base_currency;
    let entry = document_entry(
        input.payment_date,
        format!("Expense claim {} paid ({employee})", c.number),
        &base,
        Decimal::ONE,
        &entry_lines,
        "expense_claim_payment",
        c.id,
        Some(ctx.principal.actor_uuid()),
        now,
    );
    let entry = post_document_entry(&tx, entry, &entry_lines, now).await?;
    let seq = store::payments(&tx, c.id).await?.len() as i32 + 1;
    let p = ClaimPayment {
        seq,
        payment_date: input.payment_date,
        amount,
        account_id: account,
        entry_id: entry.id,
        reference,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
    };
    store::insert_payment(&tx, c.id, &p).await?;
    c.paid += amount;
    if c.paid == c.total {
        c.status = "paid".into();
    }
    save(&tx, ctx, &mut c, &lines, before, "expense_claim.pay", now).await?;
    tx.commit().await?;
    Ok((c, lines, p))
}

pub async fn get(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<(Claim, Vec<ClaimLine>, Vec<ClaimPayment>)> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let (c, lines) = visible(&tx, ctx, id, false).await?;
    let p = store::payments(&tx, id).await?;
    tx.commit().await?;
    Ok((c, lines, p))
}

/// The caller's claims, or with finance read anyone's (optionally one employee's).
pub async fn list(app: &AppState, ctx: &Ctx, mut f: ClaimFilter, page: &Page) -> AppResult<Vec<Claim>> {
    if !ctx.principal.can(finance(Action::Read)) {
        f.employee_id = Some(ctx.principal.actor_uuid());
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let l = store::list(&tx, &f, page).await?;
    tx.commit().await?;
    Ok(l)
}
