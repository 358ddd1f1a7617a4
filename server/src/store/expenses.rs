//! Expense claims: an employee's lines (category, amount with its tax, receipt, cost
//! dimension) and the payments that clear what the company owes them.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{expense_claim_lines, expense_claim_payments, expense_claims};
use super::scaled::{money_from_db, money_to_db};
use super::{Page, TenantTx, date_str, parse_date};
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub id: Uuid,
    pub number: String,
    pub employee_id: Uuid,
    /// draft | submitted | approved | paid | cancelled
    pub status: String,
    pub claim_date: NaiveDate,
    pub description: String,
    /// Gross, tax included.
    pub total: Decimal,
    pub tax_total: Decimal,
    pub paid: Decimal,
    /// The entry that posted the expense and the payable, once approved.
    pub entry_id: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClaimLine {
    pub line_no: i32,
    pub category: String,
    pub description: String,
    pub expense_date: NaiveDate,
    pub account_id: Uuid,
    /// Gross, tax included.
    pub amount: Decimal,
    /// Deductible input VAT within the amount.
    pub tax: Decimal,
    pub receipt_ref: Option<String>,
    pub department: Option<String>,
    pub project: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClaimPayment {
    pub seq: i32,
    pub payment_date: NaiveDate,
    pub amount: Decimal,
    pub account_id: Uuid,
    pub entry_id: Uuid,
    pub reference: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn claim_from(m: expense_claims::Model) -> AppResult<Claim> {
    Ok(Claim {
        id: m.id,
        number: m.number,
        employee_id: m.employee_id,
        status: m.status,
        claim_date: parse_date(&m.claim_date)?,
        description: m.description,
        total: money_from_db(m.total),
        tax_total: money_from_db(m.tax_total),
        paid: money_from_db(m.paid),
        entry_id: m.entry_id,
        approved_at: m.approved_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn claim_am(tenant: Uuid, c: &Claim) -> AppResult<expense_claims::ActiveModel> {
    Ok(expense_claims::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(c.id),
        number: Set(c.number.clone()),
        employee_id: Set(c.employee_id),
        status: Set(c.status.clone()),
        claim_date: Set(date_str(c.claim_date)),
        description: Set(c.description.clone()),
        total: Set(money_to_db(c.total)?),
        tax_total: Set(money_to_db(c.tax_total)?),
        paid: Set(money_to_db(c.paid)?),
        entry_id: Set(c.entry_id),
        approved_at: Set(c.approved_at),
        created_by: Set(c.created_by),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
    })
}

async fn insert_lines(tx: &TenantTx<'_>, claim: Uuid, lines: &[ClaimLine]) -> AppResult<()> {
    let rows = lines
        .iter()
        .map(|l| {
            Ok(expense_claim_lines::ActiveModel {
                tenant_id: Set(tx.tenant().0),
                claim_id: Set(claim),
                line_no: Set(l.line_no),
                category: Set(l.category.clone()),
                description: Set(l.description.clone()),
                expense_date: Set(date_str(l.expense_date)),
                account_id: Set(l.account_id),
                amount: Set(money_to_db(l.amount)?),
                tax: Set(money_to_db(l.tax)?),
                receipt_ref: Set(l.receipt_ref.clone()),
                department: Set(l.department.clone()),
                project: Set(l.project.clone()),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    if !rows.is_empty() {
        expense_claim_lines::Entity::insert_many(rows).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert(tx: &TenantTx<'_>, c: &Claim, lines: &[ClaimLine]) -> AppResult<()> {
    expense_claims::Entity::insert(claim_am(tx.tenant().0, c)?).exec_without_returning(tx.conn()).await?;
    insert_lines(tx, c.id, lines).await
}

/// Saves a claim read at `version - 1` (and its lines when given); false when someone else
/// saved it meanwhile.
pub async fn save(tx: &TenantTx<'_>, c: &Claim, lines: Option<&[ClaimLine]>) -> AppResult<bool> {
    use expense_claims::Column as C;
    let r = expense_claims::Entity::update_many()
        .set(claim_am(tx.tenant().0, c)?)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(c.id))
        .filter(C::Version.eq(c.version - 1))
        .exec(tx.conn())
        .await?;
    if r.rows_affected != 1 {
        return Ok(false);
    }
    if let Some(lines) = lines {
        delete_lines(tx, c.id).await?;
        insert_lines(tx, c.id, lines).await?;
    }
    Ok(true)
}

async fn delete_lines(tx: &TenantTx<'_>, claim: Uuid) -> AppResult<()> {
    use expense_claim_lines::Column as L;
    expense_claim_lines::Entity::delete_many()
        .filter(L::TenantId.eq(tx.tenant().0))
        .filter(L::ClaimId.eq(claim))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn delete(tx: &TenantTx<'_>, claim: Uuid) -> AppResult<()> {
    delete_lines(tx, claim).await?;
    expense_claims::Entity::delete_by_id((tx.tenant().0, claim)).exec(tx.conn()).await?;
    Ok(())
}

pub async fn get(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<(Claim, Vec<ClaimLine>)>> {
    use expense_claims::Column as C;
    let mut q = expense_claims::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    let Some(m) = q.one(tx.conn()).await? else { return Ok(None) };
    let c = claim_from(m)?;
    use expense_claim_lines::Column as L;
    let lines = expense_claim_lines::Entity::find()
        .filter(L::TenantId.eq(tx.tenant().0))
        .filter(L::ClaimId.eq(id))
        .order_by_asc(L::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|l| {
            Ok(ClaimLine {
                line_no: l.line_no,
                category: l.category,
                description: l.description,
                expense_date: parse_date(&l.expense_date)?,
                account_id: l.account_id,
                amount: money_from_db(l.amount),
                tax: money_from_db(l.tax),
                receipt_ref: l.receipt_ref,
                department: l.department,
                project: l.project,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Some((c, lines)))
}

#[derive(Clone, Debug, Default)]
pub struct ClaimFilter {
    pub status: Option<String>,
    pub employee_id: Option<Uuid>,
}

pub async fn list(tx: &TenantTx<'_>, f: &ClaimFilter, page: &Page) -> AppResult<Vec<Claim>> {
    use expense_claims::Column as C;
    let mut q = expense_claims::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(e) = f.employee_id {
        q = q.filter(C::EmployeeId.eq(e));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(claim_from).collect()
}

pub async fn payments(tx: &TenantTx<'_>, claim: Uuid) -> AppResult<Vec<ClaimPayment>> {
    use expense_claim_payments::Column as P;
    expense_claim_payments::Entity::find()
        .filter(P::TenantId.eq(tx.tenant().0))
        .filter(P::ClaimId.eq(claim))
        .order_by_asc(P::Seq)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| {
            Ok(ClaimPayment {
                seq: m.seq,
                payment_date: parse_date(&m.payment_date)?,
                amount: money_from_db(m.amount),
                account_id: m.account_id,
                entry_id: m.entry_id,
                reference: m.reference,
                created_by: m.created_by,
                created_at: m.created_at,
            })
        })
        .collect()
}

pub async fn insert_payment(tx: &TenantTx<'_>, claim: Uuid, p: &ClaimPayment) -> AppResult<()> {
    expense_claim_payments::Entity::insert(expense_claim_payments::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        claim_id: Set(claim),
        seq: Set(p.seq),
        payment_date: Set(date_str(p.payment_date)),
        amount: Set(money_to_db(p.amount)?),
        account_id: Set(p.account_id),
        entry_id: Set(p.entry_id),
        reference: Set(p.reference.clone()),
        created_by: Set(p.created_by),
        created_at: Set(p.created_at),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}
