//! Approvals: each user's manager and department, the tenant's approval flows, delegations,
//! and the approval requests with the inbox (waiting for me, submitted by me, decided by me)
//! and the decisions on them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{
    AdminRead, AdminWrite, ApiJson, ApprovalsRead, ApprovalsWrite, Authorized, IfMatch, etag, page, paginate,
};
use super::problem::Problem;
use super::views::ListResponse;
use crate::app::AppState;
use crate::app::approvals::{self as app, ApproverInput, FlowInput, RequestView, StepInput};
use crate::domain::approvals::{Approver, Conditions, Decision, Quorum};
use crate::domain::decimal::{Money, Rate};
use crate::error::AppError;
use crate::store::approvals::{Flow, Position, RequestFilter, StoredDelegation};
use crate::store::retrying;

// ================================================================ positions

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionBody {
    /// Whom the user reports to: the approver of "the requester's manager" steps.
    pub manager_id: Option<Uuid>,
    /// Flows' department conditions match it.
    pub department: Option<String>,
}

fn position_view(p: Position) -> PositionBody {
    PositionBody { manager_id: p.manager_id, department: p.department }
}

/// A user's manager and department.
#[utoipa::path(tag = "approvals", operation_id = "get_user_position", responses((status = 200, body = PositionBody)))]
#[get("/users/{id}/position")]
pub async fn get_position(
    app: web::Data<AppState>,
    auth: Authorized<AdminRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let p = app::position(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().json(position_view(p)))
}

/// Set a user's manager and department (admin write). A manager cannot report to the user.
#[utoipa::path(tag = "approvals", operation_id = "put_user_position", request_body = PositionBody,
    responses((status = 200, body = PositionBody), (status = 422, body = Problem)))]
#[put("/users/{id}/position")]
pub async fn put_position(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<PositionBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    let p = retrying(|| app::put_position(&app, &ctx, *id, b.manager_id, b.department.clone())).await?;
    Ok(HttpResponse::Ok().json(position_view(p)))
}

// ================================================================ flows

#[derive(Serialize, Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConditionsBody {
    /// In the base currency: the amount is at least this.
    #[schema(value_type = Option<String>)]
    pub min_amount: Option<Money>,
    /// The amount is below this.
    #[schema(value_type = Option<String>)]
    pub below_amount: Option<Money>,
    /// The requester's department (or the claim's) is one of these.
    #[serde(default)]
    pub departments: Vec<String>,
    /// Purchase requests and orders: the supplier is one of these.
    #[serde(default)]
    pub supplier_ids: Vec<Uuid>,
    /// Sales orders: the discount, as a fraction ("0.10" for 10 %), is above this.
    #[schema(value_type = Option<String>)]
    pub discount_above: Option<Rate>,
}

impl ConditionsBody {
    fn into_domain(self) -> Conditions {
        Conditions {
            min_amount: self.min_amount.map(Money::value),
            below_amount: self.below_amount.map(Money::value),
            departments: self.departments.into_iter().map(|d| d.trim().to_owned()).collect(),
            suppliers: self.supplier_ids,
            discount_above: self.discount_above.map(Rate::value),
        }
    }

    fn of(c: &Conditions) -> ConditionsView {
        ConditionsView {
            min_amount: c.min_amount.map(|d| format!("{d:.4}")),
            below_amount: c.below_amount.map(|d| format!("{d:.4}")),
            departments: c.departments.clone(),
            supplier_ids: c.suppliers.clone(),
            discount_above: c.discount_above.map(|d| format!("{d:.6}")),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConditionsView {
    pub min_amount: Option<String>,
    pub below_amount: Option<String>,
    pub departments: Vec<String>,
    pub supplier_ids: Vec<Uuid>,
    pub discount_above: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ApproverBody {
    /// Every active member of the role.
    pub role_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// The requester's manager.
    #[serde(default)]
    pub manager: bool,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    pub name: String,
    /// any_of (one approval completes the step) | all_of (every approver must approve).
    pub quorum: String,
    pub approvers: Vec<ApproverBody>,
    /// The step is skipped when these do not hold.
    #[serde(default)]
    pub when: ConditionsBody,
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct FlowBody {
    /// purchase_request | purchase_order | sales_order | journal_entry | production_change | expense_claim
    pub document_kind: String,
    pub name: String,
    /// The order flows are tried in (the first whose conditions hold routes the document);
    /// default: after the others.
    pub position: Option<i32>,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// The flow applies when these hold.
    #[serde(default)]
    pub when: ConditionsBody,
    /// Below this amount (base currency) the document is approved at once.
    #[schema(value_type = Option<String>)]
    pub auto_approve_below: Option<Money>,
    pub steps: Vec<StepBody>,
}

fn yes() -> bool {
    true
}

fn flow_input(b: FlowBody) -> Result<FlowInput, AppError> {
    let mut errors = crate::error::Fields::new();
    let mut steps = Vec::with_capacity(b.steps.len());
    for (i, s) in b.steps.into_iter().enumerate() {
        let quorum = match s.quorum.as_str() {
            "any_of" => Quorum::AnyOf,
            "all_of" => Quorum::AllOf,
            _ => {
                errors.push(format!("steps[{i}].quorum"), "must be any_of or all_of");
                Quorum::AnyOf
            }
        };
        let mut approvers = Vec::new();
        for (j, a) in s.approvers.into_iter().enumerate() {
            match (a.role_id, a.user_id, a.manager) {
                (Some(r), None, false) => approvers.push(ApproverInput::Role(r)),
                (None, Some(u), false) => approvers.push(ApproverInput::User(u)),
                (None, None, true) => approvers.push(ApproverInput::Manager),
                _ => errors.push(
                    format!("steps[{i}].approvers[{j}]"),
                    "name exactly one of role_id, user_id or manager: true",
                ),
            }
        }
        steps.push(StepInput { name: s.name, quorum, approvers, when: s.when.into_domain() });
    }
    errors.finish()?;
    Ok(FlowInput {
        document_kind: b.document_kind,
        name: b.name,
        position: b.position,
        is_active: b.is_active,
        when: b.when.into_domain(),
        auto_approve_below: b.auto_approve_below.map(Money::value),
        steps,
    })
}

#[derive(Serialize, ToSchema)]
pub struct ApproverView {
    pub role_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub manager: bool,
}

#[derive(Serialize, ToSchema)]
pub struct StepView {
    pub name: String,
    pub quorum: String,
    pub approvers: Vec<ApproverView>,
    pub when: ConditionsView,
}

#[derive(Serialize, ToSchema)]
pub struct FlowView {
    pub id: Uuid,
    pub document_kind: String,
    pub name: String,
    pub position: i32,
    pub is_active: bool,
    pub when: ConditionsView,
    pub auto_approve_below: Option<String>,
    pub steps: Vec<StepView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn flow_view(f: Flow) -> FlowView {
    FlowView {
        id: f.def.id,
        document_kind: f.document_kind,
        name: f.name,
        position: f.position,
        is_active: f.is_active,
        when: ConditionsBody::of(&f.def.when),
        auto_approve_below: f.def.auto_approve_below.map(|d| format!("{d:.4}")),
        steps: f
            .def
            .steps
            .iter()
            .map(|s| StepView {
                name: s.name.clone(),
                quorum: crate::store::approvals::quorum_name(s.quorum).into(),
                approvers: s
                    .approvers
                    .iter()
                    .map(|a| match a {
                        Approver::Role(r) => ApproverView { role_id: Some(*r), user_id: None, manager: false },
                        Approver::User(u) => ApproverView { role_id: None, user_id: Some(*u), manager: false },
                        Approver::Manager => ApproverView { role_id: None, user_id: None, manager: true },
                    })
                    .collect(),
                when: ConditionsBody::of(&s.when),
            })
            .collect(),
        created_at: f.created_at,
        updated_at: f.updated_at,
        version: f.version,
    }
}

fn flow_response(status: StatusCode, f: Flow) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/approval-flows/{}", f.def.id)))
        .insert_header(etag(f.version))
        .json(flow_view(f))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FlowQuery {
    pub document_kind: Option<String>,
}

/// The tenant's approval flows, per document kind in the order they are tried.
#[utoipa::path(tag = "approvals", operation_id = "list_approval_flows", params(FlowQuery),
    responses((status = 200, body = ListResponse<FlowView>)))]
#[get("/approval-flows")]
pub async fn list_flows(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    q: web::Query<FlowQuery>,
) -> Result<HttpResponse, AppError> {
    let l = app::list_flows(&app, auth.tenant_id(), q.document_kind.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: l.into_iter().map(flow_view).collect(), next_cursor: None }))
}

/// Create a flow (admin write): conditions, automatic approval below a threshold, and steps in
/// sequence, each with its approvers (roles, named users, the requester's manager), any-of or
/// all-of, and its own conditions.
#[utoipa::path(tag = "approvals", operation_id = "create_approval_flow", request_body = FlowBody,
    responses((status = 201, body = FlowView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/approval-flows")]
pub async fn create_flow(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    body: ApiJson<FlowBody>,
) -> Result<HttpResponse, AppError> {
    let input = flow_input(body.0)?;
    let ctx = auth.ctx();
    let f = retrying(|| app::create_flow(&app, &ctx, input.clone())).await?;
    Ok(flow_response(StatusCode::CREATED, f))
}

#[utoipa::path(tag = "approvals", operation_id = "get_approval_flow", responses((status = 200, body = FlowView)))]
#[get("/approval-flows/{id}")]
pub async fn get_flow(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let f = app::get_flow(&app, auth.tenant_id(), *id).await?;
    Ok(flow_response(StatusCode::OK, f))
}

/// Replace a flow (admin write, If-Match). Requests submitted already keep their steps.
#[utoipa::path(tag = "approvals", operation_id = "update_approval_flow", request_body = FlowBody,
    responses((status = 200, body = FlowView), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/approval-flows/{id}")]
pub async fn update_flow(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<FlowBody>,
) -> Result<HttpResponse, AppError> {
    let input = flow_input(body.0)?;
    let f = app::update_flow(&app, &auth.ctx(), *id, if_match.0, input).await?;
    Ok(flow_response(StatusCode::OK, f))
}

/// Delete a flow no request went through (deactivate the others).
#[utoipa::path(tag = "approvals", operation_id = "delete_approval_flow", responses((status = 204), (status = 409, body = Problem)))]
#[delete("/approval-flows/{id}")]
pub async fn delete_flow(
    app: web::Data<AppState>,
    auth: Authorized<AdminWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_flow(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ================================================================ delegations

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationBody {
    /// The approver away; default the caller (someone else's needs admin write).
    pub from_user_id: Option<Uuid>,
    pub to_user_id: Uuid,
    pub starts_on: NaiveDate,
    /// Inclusive.
    pub ends_on: NaiveDate,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DelegationView {
    pub id: Uuid,
    pub from_user_id: Uuid,
    pub to_user_id: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

fn delegation_view(s: StoredDelegation) -> DelegationView {
    DelegationView {
        id: s.id,
        from_user_id: s.d.from,
        to_user_id: s.d.to,
        starts_on: s.d.starts,
        ends_on: s.d.ends,
        reason: s.reason,
        created_at: s.created_at,
    }
}

/// Let someone decide for an approver away, over whole days. The delegate decides in the
/// approver's name on steps the approver is on, never on their own requests.
#[utoipa::path(tag = "approvals", operation_id = "create_approval_delegation", request_body = DelegationBody,
    responses((status = 201, body = DelegationView), (status = 422, body = Problem)))]
#[post("/approval-delegations")]
pub async fn create_delegation(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    body: ApiJson<DelegationBody>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let ctx = auth.ctx();
    let s = app::create_delegation(
        &app,
        &ctx,
        app::DelegationInput {
            from_user_id: b.from_user_id,
            to_user_id: b.to_user_id,
            starts_on: b.starts_on,
            ends_on: b.ends_on,
            reason: b.reason,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(delegation_view(s)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DelegationQuery {
    /// Everyone's (admin read), not only the caller's.
    #[serde(default)]
    pub everyone: bool,
}

/// Delegations from or to the caller that have not ended.
#[utoipa::path(tag = "approvals", operation_id = "list_approval_delegations", params(DelegationQuery),
    responses((status = 200, body = ListResponse<DelegationView>)))]
#[get("/approval-delegations")]
pub async fn list_delegations(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    q: web::Query<DelegationQuery>,
) -> Result<HttpResponse, AppError> {
    let l = app::list_delegations(&app, &auth.ctx(), q.everyone).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: l.into_iter().map(delegation_view).collect(), next_cursor: None }))
}

/// End a delegation (its two users, or admin write).
#[utoipa::path(tag = "approvals", operation_id = "delete_approval_delegation", responses((status = 204)))]
#[delete("/approval-delegations/{id}")]
pub async fn delete_delegation(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::delete_delegation(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ================================================================ requests

#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub id: Uuid,
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskView {
    pub approver: PersonView,
    /// pending | approved | rejected | returned | closed (the step ended without them)
    pub status: String,
    /// Who decided: the approver, or a delegate in their name.
    pub decided_by: Option<PersonView>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestStepView {
    pub name: String,
    pub quorum: String,
    /// waiting (not reached) | pending | approved | rejected | returned | skipped (the request
    /// ended before it)
    pub status: String,
    pub tasks: Vec<TaskView>,
    /// Approvers named at submission.
    pub approvers: Vec<PersonView>,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalRequestView {
    pub id: Uuid,
    pub number: String,
    pub document_kind: String,
    pub document_id: Uuid,
    pub document_number: String,
    pub summary: String,
    /// In the base currency.
    pub amount: String,
    pub requester: PersonView,
    pub flow_id: Option<Uuid>,
    /// pending | approved | rejected | returned | withdrawn
    pub status: String,
    /// The step deciding now (pending requests).
    pub current_step: Option<String>,
    pub steps: Vec<RequestStepView>,
    /// Why it was rejected, returned or withdrawn (or that it was approved automatically).
    pub comment: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub version: i64,
}

fn request_view(v: RequestView) -> ApprovalRequestView {
    let RequestView { request: r, tasks, names } = v;
    let person = |id: Uuid| PersonView { id, name: names.get(&id).cloned() };
    let steps = r
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let ts: Vec<TaskView> = tasks
                .iter()
                .filter(|t| t.step == i)
                .map(|t| TaskView {
                    approver: person(t.approver_id),
                    status: t.status.clone(),
                    decided_by: t.decided_by.map(person),
                    decided_at: t.decided_at,
                    comment: t.comment.clone(),
                })
                .collect();
            let status = if i > r.current_step {
                if r.status == "pending" { "waiting" } else { "skipped" }
            } else if i < r.current_step {
                "approved"
            } else if r.status == "pending" {
                "pending"
            } else {
                r.status.as_str()
            };
            let status = if status == "withdrawn" { "skipped" } else { status };
            RequestStepView {
                name: s.name.clone(),
                quorum: crate::store::approvals::quorum_name(s.quorum).into(),
                status: status.into(),
                tasks: ts,
                approvers: s.approvers.iter().copied().map(person).collect(),
            }
        })
        .collect();
    ApprovalRequestView {
        id: r.id,
        number: r.number,
        document_kind: r.document_kind,
        document_id: r.document_id,
        document_number: r.document_number,
        summary: r.summary,
        amount: format!("{:.4}", r.amount),
        requester: person(r.requester_id),
        flow_id: r.flow_id,
        current_step: (r.status == "pending")
            .then(|| r.steps.get(r.current_step as usize).map(|s| s.name.clone()))
            .flatten(),
        status: r.status,
        steps,
        comment: r.comment,
        submitted_at: r.submitted_at,
        decided_at: r.decided_at,
        version: r.version,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// waiting (for a decision by me, or by someone who delegated to me today; the default) |
    /// submitted (by me) | decided (by me) | all (approvals approve)
    #[serde(rename = "box")]
    pub r#box: Option<String>,
    pub status: Option<String>,
    pub document_kind: Option<String>,
    /// One document's requests (its approval history).
    pub document_id: Option<Uuid>,
}

/// The caller's approval inbox.
#[utoipa::path(tag = "approvals", operation_id = "list_approval_requests", params(RequestQuery),
    responses((status = 200, body = ListResponse<ApprovalRequestView>), (status = 422, body = Problem)))]
#[get("/approval-requests")]
pub async fn list_requests(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    q: web::Query<RequestQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let b = match q.r#box.as_deref().unwrap_or("waiting") {
        "waiting" => app::Folder::Waiting,
        "submitted" => app::Folder::Submitted,
        "decided" => app::Folder::Decided,
        "all" => app::Folder::All,
        _ => return Err(AppError::field("box", "must be waiting, submitted, decided or all")),
    };
    let f = RequestFilter { status: q.status, document_kind: q.document_kind, document_id: q.document_id };
    let rows = app::list_requests(&app, &auth.ctx(), b, &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |v| v.request.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(request_view).collect(), next_cursor }))
}

#[derive(Serialize, ToSchema)]
pub struct InboxCounts {
    /// Requests waiting for the caller's decision (or a delegator's).
    pub waiting: u64,
    /// The caller's requests still pending.
    pub submitted_pending: u64,
    /// Requests the caller decided on.
    pub decided: u64,
}

/// How many requests wait in each box.
#[utoipa::path(tag = "approvals", operation_id = "approval_inbox_counts", responses((status = 200, body = InboxCounts)))]
#[get("/approval-inbox")]
pub async fn inbox_counts(app: web::Data<AppState>, auth: Authorized<ApprovalsRead>) -> Result<HttpResponse, AppError> {
    let c = app::counts(&app, &auth.ctx()).await?;
    Ok(HttpResponse::Ok().json(InboxCounts {
        waiting: c.waiting,
        submitted_pending: c.submitted_pending,
        decided: c.decided,
    }))
}

/// A request with its steps and every decision (its requester, its approvers and approvals
/// approve see it).
#[utoipa::path(tag = "approvals", operation_id = "get_approval_request", responses((status = 200, body = ApprovalRequestView)))]
#[get("/approval-requests/{id}")]
pub async fn get_request(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let v = app::get_request(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(v.request.version)).json(request_view(v)))
}

#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Required to reject or return.
    pub comment: Option<String>,
}

macro_rules! decision {
    ($name:ident, $path:literal, $op:literal, $decision:expr, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(tag = "approvals", operation_id = $op, request_body = DecisionBody,
            responses((status = 200, body = ApprovalRequestView), (status = 403, body = Problem), (status = 409, body = Problem),
                (status = 422, body = Problem)))]
        #[post($path)]
        pub async fn $name(
            app: web::Data<AppState>,
            auth: Authorized<ApprovalsWrite>,
            id: web::Path<Uuid>,
            body: Option<ApiJson<DecisionBody>>,
        ) -> Result<HttpResponse, AppError> {
            let comment = body.and_then(|b| b.0.comment);
            let ctx = auth.ctx();
            retrying(|| app::decide(&app, &ctx, *id, $decision, comment.clone())).await?;
            let v = app::get_request(&app, &ctx, *id).await?;
            Ok(HttpResponse::Ok().insert_header(etag(v.request.version)).json(request_view(v)))
        }
    };
}

decision!(
    approve_request,
    "/approval-requests/{id}/approve",
    "approve_approval_request",
    Decision::Approve,
    "Approve the current step for oneself (or for an approver who delegated to the caller today). \
     The last approval settles the request and the document goes on (a purchase order is \
     confirmed, a journal entry or expense claim posted, a production change applied)."
);
decision!(
    reject_request,
    "/approval-requests/{id}/reject",
    "reject_approval_request",
    Decision::Reject,
    "Reject, saying why: the request ends and the document goes back to its requester (a purchase \
     request becomes rejected)."
);
decision!(
    return_request,
    "/approval-requests/{id}/return",
    "return_approval_request",
    Decision::Return,
    "Return for changes, saying what to change: the document is a draft again, to resubmit."
);

/// The requester takes a pending request back; the document is a draft again.
#[utoipa::path(tag = "approvals", operation_id = "withdraw_approval_request", request_body = DecisionBody,
    responses((status = 200, body = ApprovalRequestView), (status = 403, body = Problem), (status = 409, body = Problem)))]
#[post("/approval-requests/{id}/withdraw")]
pub async fn withdraw_request(
    app: web::Data<AppState>,
    auth: Authorized<ApprovalsWrite>,
    id: web::Path<Uuid>,
    body: Option<ApiJson<DecisionBody>>,
) -> Result<HttpResponse, AppError> {
    let comment = body.and_then(|b| b.0.comment);
    let ctx = auth.ctx();
    retrying(|| app::withdraw(&app, &ctx, *id, comment.clone())).await?;
    let v = app::get_request(&app, &ctx, *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(v.request.version)).json(request_view(v)))
}
