//! The approval engine every module uses. A module submits a document with the facts it is
//! judged on (amount in base currency, the requester's department, supplier, discount); the
//! first of the tenant's active flows for that kind of document that applies plans its steps
//! and names their approvers (`domain::approvals::route`). Below the flow's threshold, or when
//! no step applies, the document is approved at once; otherwise a request is opened, the
//! document is frozen, and each approver of the current step gets a task in their inbox and an
//! `approval.requested` event. Decisions (approve, reject with a reason, return for changes)
//! are judged by `domain::approvals::decide`; the last approval, a rejection, a return or the
//! requester's withdrawal settles the request, and the module then does what the outcome means
//! for its document (`settle`), all in the deciding transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::{AppState, Change, Ctx, record, stale};
use crate::domain::approvals::{
    self as rules, Approver, Conditions, DOCUMENT_KINDS, DecideError, Decision, Delegation, Facts, FlowDef, Outcome,
    Quorum, Route, RouteError, StepDef,
};
use crate::domain::ids::{RoleId, TenantId, UserId};
use crate::domain::receivables::Side;
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::approvals::{self as store, Flow, Inbox, Position, Request, RequestFilter, StoredDelegation, Task};
use crate::store::{Access, Page, TenantTx};

const REQUEST: &str = "approval request";
const FLOW: &str = "approval flow";

/// An outbox event: a decision is due from an approver (one per approver and step).
pub const REQUESTED: &str = "approval.requested";
/// A request was settled: approved, rejected, returned or withdrawn.
pub const SETTLED: &str = "approval.settled";

// ================================================================ positions

pub async fn position(app: &AppState, tenant: TenantId, user: Uuid) -> AppResult<Position> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    crate::store::users::get(&tx, UserId(user)).await?.ok_or(AppError::NotFound { entity: "user" })?;
    let p = store::position(&tx, user).await?;
    tx.commit().await?;
    Ok(p.unwrap_or(Position { user_id: user, manager_id: None, department: None, updated_at: app.now(), version: 0 }))
}

/// Sets a user's manager and department. A manager must be an active user of the tenant and
/// not report, directly or not, to the user.
pub async fn put_position(
    app: &AppState,
    ctx: &Ctx,
    user: Uuid,
    manager: Option<Uuid>,
    department: Option<String>,
) -> AppResult<Position> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    crate::store::users::get(&tx, UserId(user)).await?.ok_or(AppError::NotFound { entity: "user" })?;
    let mut f = Fields::new();
    let department = super::receivables::optional(&mut f, "department", department, 100);
    if let Some(m) = manager {
        match crate::store::users::get(&tx, UserId(m)).await? {
            None => f.push("manager_id", "no such user"),
            Some(u) if !u.is_active => f.push("manager_id", format!("{} is deactivated", u.display_name)),
            Some(_) if m == user => f.push("manager_id", "no one is their own manager"),
            Some(u) => {
                let chain = store::managers(&tx).await?;
                let mut at = Some(m);
                let mut seen = 0;
                while let Some(x) = at {
                    if x == user {
                        f.push("manager_id", format!("{} reports to this user already", u.display_name));
                        break;
                    }
                    seen += 1;
                    if seen > chain.len() {
                        break;
                    }
                    at = chain.get(&x).copied();
                }
            }
        }
    }
    f.finish()?;
    let before = store::position(&tx, user).await?;
    let p = Position {
        user_id: user,
        manager_id: manager,
        department,
        updated_at: now,
        version: before.as_ref().map_or(1, |b| b.version + 1),
    };
    store::put_position(&tx, &p).await?;
    let json = |p: &Position| json!({"manager_id": p.manager_id, "department": p.department});
    record(
        &tx,
        ctx,
        now,
        Change::new("user.position", "user", Some(user.to_string()), before.as_ref().map(json), Some(json(&p))),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

// ================================================================ flows

#[derive(Clone, Debug)]
pub enum ApproverInput {
    Role(Uuid),
    User(Uuid),
    Manager,
}

#[derive(Clone, Debug)]
pub struct StepInput {
    pub name: String,
    pub quorum: Quorum,
    pub approvers: Vec<ApproverInput>,
    pub when: Conditions,
}

#[derive(Clone, Debug)]
pub struct FlowInput {
    pub document_kind: String,
    pub name: String,
    pub position: Option<i32>,
    pub is_active: bool,
    pub when: Conditions,
    pub auto_approve_below: Option<Decimal>,
    pub steps: Vec<StepInput>,
}

fn check_conditions(f: &mut Fields, at: &str, kind: &str, c: &Conditions) {
    for (k, v) in [("min_amount", c.min_amount), ("below_amount", c.below_amount)] {
        if v.is_some_and(|v| v < Decimal::ZERO) {
            f.push(format!("{at}.{k}"), "must not be negative");
        }
    }
    if let (Some(lo), Some(hi)) = (c.min_amount, c.below_amount)
        && lo >= hi
    {
        f.push(format!("{at}.below_amount"), "must be above min_amount");
    }
    if let Some(d) = c.discount_above {
        if kind != "sales_order" {
            f.push(format!("{at}.discount_above"), "only sales orders have a discount to judge");
        } else if d < Decimal::ZERO || d >= Decimal::ONE {
            f.push(format!("{at}.discount_above"), "must be a fraction from 0 up to (not including) 1");
        }
    }
    if !c.suppliers.is_empty() && !matches!(kind, "purchase_request" | "purchase_order") {
        f.push(format!("{at}.supplier_ids"), "only purchase requests and orders have a supplier");
    }
    if c.departments.iter().any(|d| d.trim().is_empty()) {
        f.push(format!("{at}.departments"), "must not hold an empty name");
    }
}

async fn build_flow(tx: &TenantTx<'_>, input: FlowInput, id: Uuid) -> AppResult<FlowDef> {
    let mut f = Fields::new();
    let kind = input.document_kind.as_str();
    if !DOCUMENT_KINDS.contains(&kind) {
        f.push("document_kind", format!("must be one of {}", DOCUMENT_KINDS.join(", ")));
    }
    check_conditions(&mut f, "when", kind, &input.when);
    if input.auto_approve_below.is_some_and(|a| a < Decimal::ZERO) {
        f.push("auto_approve_below", "must not be negative");
    }
    if input.steps.is_empty() || input.steps.len() > 10 {
        f.push("steps", "a flow has 1 to 10 steps");
    }
    let mut steps = Vec::with_capacity(input.steps.len());
    for (i, s) in input.steps.into_iter().enumerate() {
        let at = format!("steps[{i}]");
        let name = f.check(&format!("{at}.name"), validate::name(&s.name, 100)).unwrap_or_default();
        if steps.iter().any(|x: &StepDef| x.name == name) {
            f.push(format!("{at}.name"), "is used by another step");
        }
        check_conditions(&mut f, &format!("{at}.when"), kind, &s.when);
        if s.approvers.is_empty() || s.approvers.len() > 20 {
            f.push(format!("{at}.approvers"), "a step names 1 to 20 approvers");
        }
        let mut approvers = Vec::new();
        for (j, a) in s.approvers.into_iter().enumerate() {
            let at = format!("{at}.approvers[{j}]");
            approvers.push(match a {
                ApproverInput::Role(r) => {
                    if crate::store::roles::get(tx, RoleId(r)).await?.is_none() {
                        f.push(format!("{at}.role_id"), "no such role");
                    }
                    Approver::Role(r)
                }
                ApproverInput::User(u) => {
                    match crate::store::users::get(tx, UserId(u)).await? {
                        None => f.push(format!("{at}.user_id"), "no such user"),
                        Some(x) if !x.is_active => {
                            f.push(format!("{at}.user_id"), format!("{} is deactivated", x.display_name))
                        }
                        Some(_) => {}
                    }
                    Approver::User(u)
                }
                ApproverInput::Manager => Approver::Manager,
            });
        }
        steps.push(StepDef { name, approvers, quorum: s.quorum, when: s.when });
    }
    for (i, s) in input.when.suppliers.iter().enumerate() {
        if crate::store::receivables::get_party(tx, Side::Payable, *s).await?.is_none() {
            f.push(format!("when.supplier_ids[{i}]"), "no such supplier");
        }
    }
    f.finish()?;
    Ok(FlowDef { id, when: input.when, auto_approve_below: input.auto_approve_below, steps })
}

pub fn flow_json(f: &Flow) -> serde_json::Value {
    json!({"document_kind": f.document_kind, "name": f.name, "position": f.position, "is_active": f.is_active,
        "when": store::conditions_json(&f.def.when),
        "auto_approve_below": f.def.auto_approve_below.map(|d| d.to_string()),
        "steps": store::steps_json(&f.def.steps)})
}

fn flow_name(f: &mut Fields, raw: &str) -> String {
    f.check("name", validate::name(raw, 100)).unwrap_or_default()
}

pub async fn create_flow(app: &AppState, ctx: &Ctx, input: FlowInput) -> AppResult<Flow> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    let name = flow_name(&mut f, &input.name);
    f.finish()?;
    let (kind, is_active, position) = (input.document_kind.clone(), input.is_active, input.position);
    let def = build_flow(&tx, input, Uuid::now_v7()).await?;
    let position = match position {
        Some(p) => p,
        None => store::flows(&tx, Some(&kind), false).await?.iter().map(|f| f.position).max().unwrap_or(0) + 10,
    };
    let flow =
        Flow { document_kind: kind, name, position, is_active, def, created_at: now, updated_at: now, version: 1 };
    store::insert_flow(&tx, &flow).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "approval_flow.create",
            "approval_flow",
            Some(flow.def.id.to_string()),
            None,
            Some(flow_json(&flow)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(flow)
}

/// Replaces a flow's definition. Requests already submitted keep the steps they were given.
pub async fn update_flow(app: &AppState, ctx: &Ctx, id: Uuid, if_match: i64, input: FlowInput) -> AppResult<Flow> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::get_flow(&tx, id).await?.ok_or(AppError::NotFound { entity: FLOW })?;
    if before.version != if_match {
        return Err(stale(FLOW, before.version));
    }
    let mut f = Fields::new();
    let name = flow_name(&mut f, &input.name);
    if input.document_kind != before.document_kind {
        f.push("document_kind", format!("a flow stays with its kind ({}); make a new flow", before.document_kind));
    }
    f.finish()?;
    let (is_active, position) = (input.is_active, input.position.unwrap_or(before.position));
    let def = build_flow(&tx, input, id).await?;
    let after = Flow { name, position, is_active, def, updated_at: now, version: before.version + 1, ..before.clone() };
    if !store::save_flow(&tx, &after).await? {
        return Err(stale(FLOW, before.version));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "approval_flow.update",
            "approval_flow",
            Some(id.to_string()),
            Some(flow_json(&before)),
            Some(flow_json(&after)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_flow(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let flow = store::get_flow(&tx, id).await?.ok_or(AppError::NotFound { entity: FLOW })?;
    if !store::delete_flow(&tx, id).await? {
        return Err(AppError::Conflict(format!(
            "requests went through the flow {}; deactivate it instead (is_active: false)",
            flow.name
        )));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("approval_flow.delete", "approval_flow", Some(id.to_string()), Some(flow_json(&flow)), None),
    )
    .await?;
    tx.commit().await
}

pub async fn get_flow(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Flow> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let f = store::get_flow(&tx, id).await?;
    tx.commit().await?;
    f.ok_or(AppError::NotFound { entity: FLOW })
}

pub async fn list_flows(app: &AppState, tenant: TenantId, kind: Option<&str>) -> AppResult<Vec<Flow>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let f = store::flows(&tx, kind, false).await?;
    tx.commit().await?;
    Ok(f)
}

// ================================================================ delegations

pub struct DelegationInput {
    pub from_user_id: Option<Uuid>,
    pub to_user_id: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub reason: Option<String>,
}

fn delegation_json(s: &StoredDelegation) -> serde_json::Value {
    json!({"from_user_id": s.d.from, "to_user_id": s.d.to, "starts_on": s.d.starts, "ends_on": s.d.ends,
        "reason": s.reason})
}

/// Someone away lets another decide for them over whole days. One delegates for oneself;
/// admin write may set it up for anyone.
pub async fn create_delegation(app: &AppState, ctx: &Ctx, input: DelegationInput) -> AppResult<StoredDelegation> {
    let now = app.now();
    let me = ctx.principal.actor_uuid();
    let from = input.from_user_id.unwrap_or(me);
    if from != me && !ctx.principal.can(admin_write()) {
        return Err(AppError::Forbidden(format!("{} (to delegate on someone else's behalf)", admin_write())));
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut f = Fields::new();
    for (k, id) in [("from_user_id", from), ("to_user_id", input.to_user_id)] {
        match crate::store::users::get(&tx, UserId(id)).await? {
            None => f.push(k, "no such user"),
            Some(u) if !u.is_active => f.push(k, format!("{} is deactivated", u.display_name)),
            Some(_) => {}
        }
    }
    if from == input.to_user_id {
        f.push("to_user_id", "one does not delegate to oneself");
    }
    if input.ends_on < input.starts_on {
        f.push("ends_on", "must not be before starts_on");
    }
    if input.ends_on < now.date_naive() {
        f.push("ends_on", "is in the past");
    }
    if (input.ends_on - input.starts_on).num_days() > 366 {
        f.push("ends_on", "a delegation lasts at most a year");
    }
    let reason = super::receivables::optional(&mut f, "reason", input.reason, 500).unwrap_or_default();
    f.finish()?;
    let s = StoredDelegation {
        id: Uuid::now_v7(),
        d: Delegation { from, to: input.to_user_id, starts: input.starts_on, ends: input.ends_on },
        reason,
        created_by: Some(me),
        created_at: now,
    };
    store::insert_delegation(&tx, &s).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "approval_delegation.create",
            "approval_delegation",
            Some(s.id.to_string()),
            None,
            Some(delegation_json(&s)),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

fn admin_write() -> crate::domain::access::Permission {
    use crate::domain::access::{Action, Module, Permission};
    Permission::new(Module::Admin, Action::Write)
}

fn admin_read() -> crate::domain::access::Permission {
    use crate::domain::access::{Action, Module, Permission};
    Permission::new(Module::Admin, Action::Read)
}

pub async fn delete_delegation(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let s = store::get_delegation(&tx, id).await?.ok_or(AppError::NotFound { entity: "delegation" })?;
    let me = ctx.principal.actor_uuid();
    if s.d.from != me && s.d.to != me && !ctx.principal.can(admin_write()) {
        return Err(AppError::NotFound { entity: "delegation" });
    }
    store::delete_delegation(&tx, id).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "approval_delegation.delete",
            "approval_delegation",
            Some(id.to_string()),
            Some(delegation_json(&s)),
            None,
        ),
    )
    .await?;
    tx.commit().await
}

/// The caller's delegations (from or to them) not yet ended; everyone's with admin read.
pub async fn list_delegations(app: &AppState, ctx: &Ctx, everyone: bool) -> AppResult<Vec<StoredDelegation>> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let who = if everyone && ctx.principal.can(admin_read()) { None } else { Some(ctx.principal.actor_uuid()) };
    let l = store::delegations(&tx, who, app.now().date_naive()).await?;
    tx.commit().await?;
    Ok(l)
}

// ================================================================ submission

/// A document as the engine sees it.
pub struct Document {
    pub kind: &'static str,
    pub id: Uuid,
    pub number: String,
    /// One line for the inbox: who, what, how much.
    pub summary: String,
    pub facts: Facts,
}

#[derive(Debug)]
pub enum Submission {
    /// No active flow covers the document.
    NotRequired,
    /// Approved at once (below the flow's threshold, or no step applies); the request recorded.
    AutoApproved(Request),
    Pending(Request),
}

/// The facts with the requester's department filled in.
async fn complete_facts(tx: &TenantTx<'_>, mut facts: Facts) -> AppResult<Facts> {
    if facts.department.is_none() {
        facts.department = store::position(tx, facts.requester).await?.and_then(|p| p.department);
    }
    Ok(facts)
}

/// What the tenant's flows ask of a document like this one.
pub(crate) async fn route_in(tx: &TenantTx<'_>, kind: &str, facts: Facts) -> AppResult<(Route, Vec<Flow>)> {
    let flows = store::flows(tx, Some(kind), true).await?;
    if flows.is_empty() {
        // Nothing to route: spare the facts and the directory.
        return Ok((Route::NotRequired, flows));
    }
    let defs: Vec<FlowDef> = flows.iter().map(|f| f.def.clone()).collect();
    let facts = complete_facts(tx, facts).await?;
    let dir = store::directory(tx).await?;
    let route = rules::route(&defs, &facts, &dir).map_err(|RouteError::NobodyCanApprove { step }| {
        let flow = defs.iter().find(|f| f.when.hold(&facts)).and_then(|d| flows.iter().find(|f| f.def.id == d.id));
        AppError::Conflict(format!(
            "step {step} of the approval flow {} has no one but the requester to approve it (an inactive approver, \
             or a requester without a manager); fix the flow or the organisation first",
            flow.map(|f| f.name.as_str()).unwrap_or_default()
        ))
    })?;
    Ok((route, flows))
}

/// True when the document would wait for someone's approval (a step applies to it).
pub(crate) async fn needs_approval(tx: &TenantTx<'_>, kind: &str, facts: Facts) -> AppResult<bool> {
    Ok(matches!(route_in(tx, kind, facts).await?.0, Route::Steps { .. }))
}

/// The pending request of a document, if any.
pub(crate) async fn pending(tx: &TenantTx<'_>, kind: &str, document: Uuid) -> AppResult<Option<Request>> {
    Ok(store::requests_for(tx, kind, document).await?.into_iter().find(|r| r.status == "pending"))
}

/// Refuses to change a document that waits for approval.
pub(crate) async fn refuse_if_pending(
    tx: &TenantTx<'_>,
    kind: &str,
    document: Uuid,
    entity: &'static str,
    action: &'static str,
) -> AppResult<()> {
    if let Some(r) = pending(tx, kind, document).await? {
        return Err(AppError::InvalidState {
            entity,
            state: format!("{} waiting for approval ({})", r.document_number, r.number),
            action,
        });
    }
    Ok(())
}

fn request_json(r: &Request) -> serde_json::Value {
    json!({"number": r.number, "document_kind": r.document_kind, "document_id": r.document_id,
        "document_number": r.document_number, "amount": r.amount.to_string(), "status": r.status,
        "current_step": r.current_step, "steps": r.steps.iter().map(|s| json!({"name": s.name,
        "quorum": store::quorum_name(s.quorum), "approvers": s.approvers})).collect::<Vec<_>>(),
        "comment": r.comment})
}

async fn open_tasks(tx: &TenantTx<'_>, r: &Request, now: DateTime<Utc>) -> AppResult<()> {
    let Some(step) = r.steps.get(r.current_step as usize) else { return Ok(()) };
    let tasks: Vec<Task> = step
        .approvers
        .iter()
        .map(|a| Task {
            request_id: r.id,
            step: r.current_step,
            approver_id: *a,
            status: "pending".into(),
            decided_by: None,
            decided_at: None,
            comment: None,
            created_at: now,
        })
        .collect();
    store::insert_tasks(tx, &tasks).await?;
    for a in &step.approvers {
        super::events::emit(
            tx,
            REQUESTED,
            r.id,
            json!({"request_id": r.id, "request_number": r.number, "approver_id": a, "step": step.name,
                "document_kind": r.document_kind, "document_id": r.document_id, "document_number": r.document_number,
                "summary": r.summary, "amount": r.amount.to_string(), "requester_id": r.requester_id}),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Submits a document for approval in the caller's transaction (which has checked that the
/// document may be submitted and freezes it when the answer is `Pending`).
pub(crate) async fn submit_in(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    doc: Document,
    now: DateTime<Utc>,
) -> AppResult<Submission> {
    let amount = doc.facts.amount;
    let requester = doc.facts.requester;
    let mut parties = vec![requester];
    for a in &doc.facts.authors {
        if !parties.contains(a) {
            parties.push(*a);
        }
    }
    let (route, flows) = route_in(tx, doc.kind, doc.facts).await?;
    let (flow, steps, status) = match route {
        Route::NotRequired => return Ok(Submission::NotRequired),
        Route::AutoApproved { flow } => (flow, Vec::new(), "approved"),
        Route::Steps { flow, steps } => (flow, steps, "pending"),
    };
    let flow_name = flows.iter().find(|f| f.def.id == flow).map(|f| f.name.clone()).unwrap_or_default();
    let r = Request {
        id: Uuid::now_v7(),
        number: super::receivables::next_number(tx, "approval_request", "APV").await?,
        document_kind: doc.kind.to_owned(),
        document_id: doc.id,
        document_number: doc.number,
        summary: doc.summary,
        amount,
        requester_id: requester,
        parties,
        flow_id: Some(flow),
        status: status.to_owned(),
        current_step: 0,
        steps,
        comment: (status == "approved").then(|| format!("approved automatically by the flow {flow_name}")),
        submitted_at: now,
        decided_at: (status == "approved").then_some(now),
        updated_at: now,
        version: 1,
    };
    store::insert_request(tx, &r).await?;
    open_tasks(tx, &r, now).await?;
    record(
        tx,
        ctx,
        now,
        Change::new(
            "approval_request.submit",
            "approval_request",
            Some(r.id.to_string()),
            None,
            Some(request_json(&r)),
        ),
    )
    .await?;
    if status == "approved" {
        settled_event(tx, &r, now).await?;
        return Ok(Submission::AutoApproved(r));
    }
    Ok(Submission::Pending(r))
}

async fn settled_event(tx: &TenantTx<'_>, r: &Request, now: DateTime<Utc>) -> AppResult<()> {
    super::events::emit(
        tx,
        SETTLED,
        r.id,
        json!({"request_id": r.id, "request_number": r.number, "status": r.status, "comment": r.comment,
            "document_kind": r.document_kind, "document_id": r.document_id, "document_number": r.document_number,
            "requester_id": r.requester_id}),
        now,
    )
    .await
}

// ================================================================ decisions

/// How a request ended, for the module that owns its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Approved,
    Rejected,
    Returned,
    Withdrawn,
}

impl Settled {
    /// The audit verb of the document's change: `purchase_order.approve`, and so on.
    pub fn verb(self) -> &'static str {
        match self {
            Settled::Approved => "approve",
            Settled::Rejected => "reject",
            Settled::Returned => "return",
            Settled::Withdrawn => "withdraw",
        }
    }
}

/// What the end of a request means for its document, in the deciding transaction.
async fn settle(
    app: &AppState,
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    r: &Request,
    s: Settled,
    now: DateTime<Utc>,
) -> AppResult<()> {
    match r.document_kind.as_str() {
        "purchase_request" => super::purchasing::request_settled(tx, ctx, r, s, now).await,
        "purchase_order" => super::purchasing::order_settled(app, tx, ctx, r, s, now).await,
        "sales_order" => super::sales::order_settled(tx, ctx, r, s, now).await,
        "journal_entry" => super::ledger::entry_settled(app, tx, ctx, r, s, now).await,
        "production_change" => super::manufacturing::change_settled(tx, ctx, r, s, now).await,
        "expense_claim" => super::expenses::claim_settled(tx, ctx, r, s, now).await,
        other => Err(AppError::internal(format!("no module settles {other}"))),
    }
}

async fn load(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Request> {
    store::get_request(tx, id, true).await?.ok_or(AppError::NotFound { entity: REQUEST })
}

fn not_pending(r: &Request, action: &'static str) -> AppError {
    AppError::InvalidState { entity: REQUEST, state: format!("{} {}", r.number, r.status), action }
}

/// Approve, reject (a reason is required) or return for changes (likewise), for oneself or for
/// an approver away who delegated to the caller.
pub async fn decide(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    decision: Decision,
    comment: Option<String>,
) -> AppResult<(Request, Vec<Task>)> {
    let now = app.now();
    let mut f = Fields::new();
    let comment = super::receivables::optional(&mut f, "comment", comment, 1000);
    if decision != Decision::Approve && comment.is_none() {
        f.push("comment", if decision == Decision::Reject { "say why it is rejected" } else { "say what to change" });
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut r = load(&tx, id).await?;
    let verb = match decision {
        Decision::Approve => "approved",
        Decision::Reject => "rejected",
        Decision::Return => "returned",
    };
    if r.status != "pending" {
        return Err(not_pending(&r, verb));
    }
    let before = request_json(&r);
    let step = r.steps.get(r.current_step as usize).cloned().ok_or_else(|| AppError::internal("no current step"))?;
    let tasks = store::tasks_of(&tx, r.id).await?;
    let approved: Vec<Uuid> =
        tasks.iter().filter(|t| t.step == r.current_step && t.status == "approved").map(|t| t.approver_id).collect();
    let actor = ctx.principal.actor_uuid();
    let today = now.date_naive();
    let delegations = store::delegated_to(&tx, actor, today).await?;
    let (approver, outcome) = rules::decide(&step, &approved, &r.parties, actor, decision, &delegations, today)
        .map_err(|e| match e {
            DecideError::OwnRequest => AppError::Forbidden(
                "someone other than the requester or the document's author (no one decides on their own request)"
                    .into(),
            ),
            DecideError::NotAnApprover => AppError::Forbidden(format!(
                "an approver of step {} of {} (or someone they delegated to today)",
                step.name, r.number
            )),
            DecideError::AlreadyDecided { .. } => {
                AppError::Conflict(format!("step {} of {} has this approval already", step.name, r.number))
            }
        })?;
    let task = Task {
        request_id: r.id,
        step: r.current_step,
        approver_id: approver,
        status: verb.to_owned(),
        decided_by: Some(actor),
        decided_at: Some(now),
        comment: comment.clone(),
        created_at: now,
    };
    if !store::decide_task(&tx, &task).await? {
        return Err(AppError::Conflict(format!("step {} of {} was decided meanwhile", step.name, r.number)));
    }
    let settled = match outcome {
        Outcome::Waiting { .. } => None,
        Outcome::StepApproved if (r.current_step as usize) + 1 < r.steps.len() => {
            store::close_pending(&tx, r.id).await?;
            r.current_step += 1;
            open_tasks(&tx, &r, now).await?;
            None
        }
        Outcome::StepApproved => Some(Settled::Approved),
        Outcome::Rejected => Some(Settled::Rejected),
        Outcome::Returned => Some(Settled::Returned),
    };
    if let Some(s) = settled {
        store::close_pending(&tx, r.id).await?;
        r.status = verb.to_owned();
        r.decided_at = Some(now);
        if s != Settled::Approved {
            r.comment = comment.clone();
        }
    }
    r.updated_at = now;
    r.version += 1;
    if !store::save_request(&tx, &r).await? {
        return Err(stale(REQUEST, r.version - 1));
    }
    let mut after = request_json(&r);
    after["decision"] = json!({"step": step.name, "decision": verb, "approver_id": approver, "decided_by": actor,
        "comment": comment});
    let action = match decision {
        Decision::Approve => "approval_request.approve",
        Decision::Reject => "approval_request.reject",
        Decision::Return => "approval_request.return",
    };
    record(&tx, ctx, now, Change::new(action, "approval_request", Some(r.id.to_string()), Some(before), Some(after)))
        .await?;
    if let Some(s) = settled {
        settle(app, &tx, ctx, &r, s, now).await?;
        settled_event(&tx, &r, now).await?;
    }
    let tasks = store::tasks_of(&tx, r.id).await?;
    tx.commit().await?;
    Ok((r, tasks))
}

/// The requester takes a pending request back; the document is theirs to change again.
pub async fn withdraw(app: &AppState, ctx: &Ctx, id: Uuid, comment: Option<String>) -> AppResult<(Request, Vec<Task>)> {
    let now = app.now();
    let mut f = Fields::new();
    let comment = super::receivables::optional(&mut f, "comment", comment, 1000);
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let mut r = load(&tx, id).await?;
    if r.status != "pending" {
        return Err(not_pending(&r, "withdrawn"));
    }
    if r.requester_id != ctx.principal.actor_uuid() {
        return Err(AppError::Forbidden(format!("the requester of {} (only they withdraw it)", r.number)));
    }
    let before = request_json(&r);
    store::close_pending(&tx, r.id).await?;
    r.status = "withdrawn".into();
    r.comment = comment;
    r.decided_at = Some(now);
    r.updated_at = now;
    r.version += 1;
    if !store::save_request(&tx, &r).await? {
        return Err(stale(REQUEST, r.version - 1));
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "approval_request.withdraw",
            "approval_request",
            Some(r.id.to_string()),
            Some(before),
            Some(request_json(&r)),
        ),
    )
    .await?;
    settle(app, &tx, ctx, &r, Settled::Withdrawn, now).await?;
    settled_event(&tx, &r, now).await?;
    let tasks = store::tasks_of(&tx, r.id).await?;
    tx.commit().await?;
    Ok((r, tasks))
}

// ================================================================ reading

/// A request with its tasks and the names of everyone on it.
pub struct RequestView {
    pub request: Request,
    pub tasks: Vec<Task>,
    pub names: HashMap<Uuid, String>,
}

async fn view(tx: &TenantTx<'_>, r: Request) -> AppResult<RequestView> {
    let tasks = store::tasks_of(tx, r.id).await?;
    let mut ids: Vec<Uuid> = r.steps.iter().flat_map(|s| s.approvers.iter().copied()).collect();
    ids.push(r.requester_id);
    ids.extend(tasks.iter().filter_map(|t| t.decided_by));
    ids.sort();
    ids.dedup();
    let names = store::names(tx, &ids).await?;
    Ok(RequestView { request: r, tasks, names })
}

/// A request, to its requester, its approvers (and their delegates) and to approvals approve.
pub async fn get_request(app: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<RequestView> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let r = store::get_request(&tx, id, false).await?.ok_or(AppError::NotFound { entity: REQUEST })?;
    let v = view(&tx, r).await?;
    let me = ctx.principal.actor_uuid();
    // Oneself, and whoever delegated to one today: a deputy opens what their inbox lists.
    let mut who = vec![me];
    who.extend(store::delegated_to(&tx, me, app.now().date_naive()).await?.into_iter().map(|d| d.from));
    tx.commit().await?;
    let involved = v.request.parties.contains(&me)
        || v.request.steps.iter().any(|s| s.approvers.iter().any(|a| who.contains(a)))
        || v.tasks.iter().any(|t| t.decided_by == Some(me))
        || ctx.principal.can(approvals_approve());
    if !involved {
        return Err(AppError::NotFound { entity: REQUEST });
    }
    Ok(v)
}

fn approvals_approve() -> crate::domain::access::Permission {
    use crate::domain::access::{Action, Module, Permission};
    Permission::new(Module::Approvals, Action::Approve)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folder {
    Waiting,
    Submitted,
    Decided,
    All,
}

async fn inbox(tx: &TenantTx<'_>, ctx: &Ctx, b: Folder, today: NaiveDate) -> AppResult<Inbox> {
    let me = ctx.principal.actor_uuid();
    Ok(match b {
        Folder::Waiting => {
            let mut who = vec![me];
            who.extend(store::delegated_to(tx, me, today).await?.into_iter().map(|d| d.from));
            Inbox::Waiting(who)
        }
        Folder::Submitted => Inbox::Submitted(me),
        Folder::Decided => Inbox::Decided(me),
        Folder::All => {
            if !ctx.principal.can(approvals_approve()) {
                return Err(AppError::Forbidden(format!("{} (to see everyone's requests)", approvals_approve())));
            }
            Inbox::All
        }
    })
}

pub async fn list_requests(
    app: &AppState,
    ctx: &Ctx,
    b: Folder,
    f: &RequestFilter,
    page: &Page,
) -> AppResult<Vec<RequestView>> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let which = inbox(&tx, ctx, b, app.now().date_naive()).await?;
    let mut out = Vec::new();
    for r in store::list_requests(&tx, &which, f, page).await? {
        out.push(view(&tx, r).await?);
    }
    tx.commit().await?;
    Ok(out)
}

pub struct Counts {
    pub waiting: u64,
    pub submitted_pending: u64,
    pub decided: u64,
}

pub async fn counts(app: &AppState, ctx: &Ctx) -> AppResult<Counts> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let today = app.now().date_naive();
    let none = RequestFilter::default();
    let pending = RequestFilter { status: Some("pending".into()), ..RequestFilter::default() };
    let c = Counts {
        waiting: store::count_requests(&tx, &inbox(&tx, ctx, Folder::Waiting, today).await?, &none).await?,
        submitted_pending: store::count_requests(&tx, &inbox(&tx, ctx, Folder::Submitted, today).await?, &pending)
            .await?,
        decided: store::count_requests(&tx, &inbox(&tx, ctx, Folder::Decided, today).await?, &none).await?,
    };
    tx.commit().await?;
    Ok(c)
}
