//! Expense claims: file, change while a draft, submit for approval, cancel, pay.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, ApprovalsRead, ApprovalsWrite, Authorized, FinanceWrite, IfMatch, etag, page, paginate};
use super::problem::Problem;
use super::views::ListResponse;
use crate::app::AppState;
use crate::app::expenses::{self as app, ClaimInput, LineInput, PaymentInput};
use crate::domain::decimal::Money;
use crate::error::AppError;
use crate::store::expenses::{Claim, ClaimFilter, ClaimLine, ClaimPayment};
use crate::store::retrying;

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClaimLineBody {
    /// travel | lodging | meals | transport | office | communication | training | entertainment | other
    pub category: String,
    pub description: String,
    pub expense_date: NaiveDate,
    /// What was paid, tax included (2 decimals).
    #[schema(value_type = String)]
    pub amount: Money,
    /// The deductible input VAT within the amount.
    #[schema(value_type = Option<String>)]
    pub tax: Option<Money>,
    /// An expense or cost account; default the `expense_claims` purpose.
    pub account_id: Option<Uuid>,
    /// The receipt or invoice (发票) number.
    pub receipt_ref: Option<String>,
    pub department: Option<String>,
    pub project: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// Default the caller; someone else's needs finance write.
    pub employee_id: Option<Uuid>,
    pub claim_date: NaiveDate,
    pub description: String,
    pub lines: Vec<ClaimLineBody>,
}

fn claim_input(b: ClaimBody) -> ClaimInput {
    ClaimInput {
        employee_id: b.employee_id,
        claim_date: b.claim_date,
        description: b.description,
        lines: b
            .lines
            .into_iter()
            .map(|l| LineInput {
                category: l.category,
                description: l.description,
                expense_date: l.expense_date,
                amount: l.amount.value(),
                tax: l.tax.map(Money::value),
                account_id: l.account_id,
                receipt_ref: l.receipt_ref,
                department: l.department,
                project: l.project,
            })
            .collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClaimLineView {
    pub line_no: i32,
    pub category: String,
    pub description: String,
    pub expense_date: NaiveDate,
    pub account_id: Uuid,
    pub amount: String,
    pub tax: String,
    /// Amount less tax: what the expense account is charged.
    pub net: String,
    pub receipt_ref: Option<String>,
    pub department: Option<String>,
    pub project: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimPaymentView {
    pub payment_date: NaiveDate,
    pub amount: String,
    pub account_id: Uuid,
    pub entry_id: Uuid,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimView {
    pub id: Uuid,
    pub number: String,
    pub employee_id: Uuid,
    /// draft | submitted (waiting for approval) | approved (posted, owed) | paid | cancelled
    pub status: String,
    pub claim_date: NaiveDate,
    pub description: String,
    pub total: String,
    pub tax_total: String,
    pub paid: String,
    /// What the company still owes the employee.
    pub outstanding: String,
    /// The entry that posted the expense and the payable.
    pub entry_id: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Detail only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<ClaimLineView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<Vec<ClaimPaymentView>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn m(d: rust_decimal::Decimal) -> String {
    format!("{d:.4}")
}

fn claim_view(c: Claim, lines: Option<Vec<ClaimLine>>, payments: Option<Vec<ClaimPayment>>) -> ClaimView {
    ClaimView {
        id: c.id,
        number: c.number,
        employee_id: c.employee_id,
        status: c.status,
        claim_date: c.claim_date,
        description: c.description,
        total: m(c.total),
        tax_total: m(c.tax_total),
        paid: m(c.paid),
        outstanding: m(if c.entry_id.is_some() { c.total - c.paid } else { rust_decimal::Decimal::ZERO }),
        entry_id: c.entry_id,
        approved_at: c.approved_at,
        lines: lines.map(|ls| {
            ls.into_iter()
                .map(|l| ClaimLineView {
                    line_no: l.line_no,
                    category: l.category,
                    description: l.description,
                    expense_date: l.expense_date,
                    account_id: l.account_id,
                    net: m(l.amount - l.tax),
                    amount: m(l.amount),
                    tax: m(l.tax),
                    receipt_ref: l.receipt_ref,
                    department: l.department,
                    project: l.project,
                })
                .collect()
        }),
        payments: payments.map(|ps| {
            ps.into_iter()
                .map(|p| ClaimPaymentView {
                    payment_date: p.payment_date,
                    amount: m(p.amount),
                    account_id: p.account_id,
                    entry_id: p.entry_id,
                    reference: p.reference,
                    created_at: p.created_at,
                })
                .collect()
        }),
        created_at: c.created_at,
        updated_at: c.updated_at,
        version: c.version,
    }
}

fn claim_response(status: StatusCode, c: Claim, lines: Vec<ClaimLine>, payments: Vec<ClaimPayment>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/expense-claims/{}", c.id)))
        .insert_header(etag(c.version))
        .json(claim_view(c, Some(lines), Some(payments)))
}

/// File an expense claim (a draft) for oneself, or with finance write for someone else.
#[utoipa::path(tag = "expenses", operation_id = "create_expense_claim", request_body = ClaimBody,
    responses((status = 201, body = ClaimView), (status = 422, body = Problem)))]
#[post("/expense-claims")]
pub async fn create_claim(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    body: ApiJson<ClaimBody>,
) -> Result<HttpResponse, AppError> {
    let input = claim_input(body.0);
    let ctx = auth.ctx();
    let (c, l) = retrying(|| app::create(&app, &ctx, input.clone())).await?;
    Ok(claim_response(StatusCode::CREATED, c, l, Vec::new()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClaimQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    /// With finance read; others see their own claims only.
    pub employee_id: Option<Uuid>,
}

/// Expense claims, the latest first: the caller's own, or with finance read everyone's.
#[utoipa::path(tag = "expenses", operation_id = "list_expense_claims", params(ClaimQuery),
    responses((status = 200, body = ListResponse<ClaimView>)))]
#[get("/expense-claims")]
pub async fn list_claims(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    q: web::Query<ClaimQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let rows =
        app::list(&app, &auth.ctx(), ClaimFilter { status: q.status, employee_id: q.employee_id }, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |c| c.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|c| claim_view(c, None, None)).collect(), next_cursor }))
}

#[utoipa::path(tag = "expenses", operation_id = "get_expense_claim", responses((status = 200, body = ClaimView)))]
#[get("/expense-claims/{id}")]
pub async fn get_claim(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (c, l, p) = app::get(&app, &auth.ctx(), *id).await?;
    Ok(claim_response(StatusCode::OK, c, l, p))
}

/// Replace a draft claim (If-Match). A submitted claim is frozen until decided.
#[utoipa::path(tag = "expenses", operation_id = "update_expense_claim", request_body = ClaimBody,
    responses((status = 200, body = ClaimView), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[put("/expense-claims/{id}")]
pub async fn update_claim(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ClaimBody>,
) -> Result<HttpResponse, AppError> {
    let (c, l) = app::update(&app, &auth.ctx(), *id, if_match.0, claim_input(body.0)).await?;
    Ok(claim_response(StatusCode::OK, c, l, Vec::new()))
}

/// Submit for approval: frozen until decided; approved at once under the flow's threshold, and
/// then posted (expense and input VAT against the payable to the employee).
#[utoipa::path(tag = "expenses", operation_id = "submit_expense_claim",
    responses((status = 200, body = ClaimView), (status = 409, body = Problem)))]
#[post("/expense-claims/{id}/submit")]
pub async fn submit_claim(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let (c, l) = retrying(|| app::submit(&app, &ctx, *id)).await?;
    Ok(claim_response(StatusCode::OK, c, l, Vec::new()))
}

/// Cancel a draft claim.
#[utoipa::path(tag = "expenses", operation_id = "cancel_expense_claim",
    responses((status = 200, body = ClaimView), (status = 409, body = Problem)))]
#[post("/expense-claims/{id}/cancel")]
pub async fn cancel_claim(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (c, l) = app::cancel(&app, &auth.ctx(), *id).await?;
    Ok(claim_response(StatusCode::OK, c, l, Vec::new()))
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClaimPaymentBody {
    pub payment_date: NaiveDate,
    /// Default: everything still owed.
    #[schema(value_type = Option<String>)]
    pub amount: Option<Money>,
    /// A bank or cash account; default the `bank` purpose.
    pub account_id: Option<Uuid>,
    pub reference: Option<String>,
}

/// Pay the employee (finance write), in part or in full: the payable against the bank.
#[utoipa::path(tag = "expenses", operation_id = "pay_expense_claim", request_body = ClaimPaymentBody,
    responses((status = 200, body = ClaimView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/expense-claims/{id}/payments")]
pub async fn pay_claim(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ClaimPaymentBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    retrying(|| {
        app::pay(
            &app,
            &ctx,
            *id,
            PaymentInput {
                payment_date: b.payment_date,
                amount: b.amount.map(Money::value),
                account_id: b.account_id,
                reference: b.reference.clone(),
            },
        )
    })
    .await?;
    let (c, l, p) = app::get(&app, &ctx, *id).await?;
    Ok(claim_response(StatusCode::OK, c, l, p))
}
