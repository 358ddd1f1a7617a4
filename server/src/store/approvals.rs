//! Approval tables: each user's manager and department, the tenant's flows (their definition
//! stored as JSON and read whole), approval requests with the steps planned at submission, one
//! task per approver of the current step (the inbox), and delegations.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::entities::{approval_delegations, approval_flows, approval_requests, approval_tasks, org_positions, users};
use super::scaled::{money_from_db, money_to_db};
use super::{Page, TenantTx};
use crate::domain::approvals::{Approver, Conditions, Delegation, Directory, FlowDef, PlannedStep, Quorum, StepDef};
use crate::error::{AppError, AppResult};

// ---------------------------------------------------------------- positions

#[derive(Clone, Debug, PartialEq)]
pub struct Position {
    pub user_id: Uuid,
    pub manager_id: Option<Uuid>,
    pub department: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn position(tx: &TenantTx<'_>, user: Uuid) -> AppResult<Option<Position>> {
    Ok(org_positions::Entity::find_by_id((tx.tenant().0, user)).one(tx.conn()).await?.map(|m| Position {
        user_id: m.user_id,
        manager_id: m.manager_id,
        department: m.department,
        updated_at: m.updated_at,
        version: m.version,
    }))
}

/// Every user's manager, to walk the chain.
pub async fn managers(tx: &TenantTx<'_>) -> AppResult<HashMap<Uuid, Uuid>> {
    use org_positions::Column as C;
    Ok(org_positions::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ManagerId.is_not_null())
        .all(tx.conn())
        .await?
        .into_iter()
        .filter_map(|m| m.manager_id.map(|x| (m.user_id, x)))
        .collect())
}

pub async fn put_position(tx: &TenantTx<'_>, p: &Position) -> AppResult<()> {
    use org_positions::Column as C;
    org_positions::Entity::delete_many()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::UserId.eq(p.user_id))
        .exec(tx.conn())
        .await?;
    org_positions::Entity::insert(org_positions::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        user_id: Set(p.user_id),
        manager_id: Set(p.manager_id),
        department: Set(p.department.clone()),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

/// The people a flow can name: members of roles, managers, who is active.
pub async fn directory(tx: &TenantTx<'_>) -> AppResult<Directory> {
    use super::entities::user_roles;
    let t = tx.tenant().0;
    let mut role_members: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for m in user_roles::Entity::find()
        .filter(user_roles::Column::TenantId.eq(t))
        .order_by_asc(user_roles::Column::UserId)
        .all(tx.conn())
        .await?
    {
        role_members.entry(m.role_id).or_default().push(m.user_id);
    }
    let active: HashSet<Uuid> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::TenantId.eq(t))
        .filter(users::Column::IsActive.eq(true))
        .into_tuple::<Uuid>()
        .all(tx.conn())
        .await?
        .into_iter()
        .collect();
    Ok(Directory { role_members, managers: managers(tx).await?, active })
}

/// Display names of these users.
pub async fn names(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tx.tenant().0))
        .filter(users::Column::Id.is_in(ids.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

// ---------------------------------------------------------------- flow definitions as JSON

fn money(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_string()))
}

pub fn conditions_json(c: &Conditions) -> Value {
    json!({"min_amount": money(c.min_amount), "below_amount": money(c.below_amount), "departments": c.departments,
        "supplier_ids": c.suppliers, "discount_above": money(c.discount_above)})
}

pub fn steps_json(steps: &[StepDef]) -> Value {
    Value::Array(
        steps
            .iter()
            .map(|s| {
                json!({"name": s.name, "quorum": quorum_name(s.quorum), "when": conditions_json(&s.when),
                    "approvers": s.approvers.iter().map(|a| match a {
                        Approver::Role(r) => json!({"role_id": r}),
                        Approver::User(u) => json!({"user_id": u}),
                        Approver::Manager => json!({"manager": true}),
                    }).collect::<Vec<_>>()})
            })
            .collect(),
    )
}

pub fn quorum_name(q: Quorum) -> &'static str {
    match q {
        Quorum::AnyOf => "any_of",
        Quorum::AllOf => "all_of",
    }
}

fn corrupt(what: &str) -> AppError {
    AppError::internal(format!("stored approval {what} unreadable"))
}

fn dec_of(v: &Value) -> AppResult<Option<Decimal>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => s.parse().map(Some).map_err(|_| corrupt("amount")),
        _ => Err(corrupt("amount")),
    }
}

fn uuids_of(v: &Value) -> AppResult<Vec<Uuid>> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| corrupt("id"))).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn conditions_of(v: &Value) -> AppResult<Conditions> {
    Ok(Conditions {
        min_amount: dec_of(&v["min_amount"])?,
        below_amount: dec_of(&v["below_amount"])?,
        departments: v["departments"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        suppliers: uuids_of(&v["supplier_ids"])?,
        discount_above: dec_of(&v["discount_above"])?,
    })
}

fn quorum_of(v: &Value) -> AppResult<Quorum> {
    match v.as_str() {
        Some("any_of") => Ok(Quorum::AnyOf),
        Some("all_of") => Ok(Quorum::AllOf),
        _ => Err(corrupt("quorum")),
    }
}

fn steps_of(v: &Value) -> AppResult<Vec<StepDef>> {
    let Some(a) = v.as_array() else { return Err(corrupt("steps")) };
    a.iter()
        .map(|s| {
            let approvers = s["approvers"]
                .as_array()
                .ok_or_else(|| corrupt("approvers"))?
                .iter()
                .map(|a| {
                    let id = |k: &str| a[k].as_str().and_then(|s| s.parse().ok());
                    if let Some(r) = id("role_id") {
                        Ok(Approver::Role(r))
                    } else if let Some(u) = id("user_id") {
                        Ok(Approver::User(u))
                    } else if a["manager"] == Value::Bool(true) {
                        Ok(Approver::Manager)
                    } else {
                        Err(corrupt("approver"))
                    }
                })
                .collect::<AppResult<Vec<_>>>()?;
            Ok(StepDef {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                approvers,
                quorum: quorum_of(&s["quorum"])?,
                when: conditions_of(&s["when"])?,
            })
        })
        .collect()
}

pub fn planned_json(steps: &[PlannedStep]) -> String {
    Value::Array(
        steps
            .iter()
            .map(|s| json!({"name": s.name, "quorum": quorum_name(s.quorum), "approvers": s.approvers}))
            .collect(),
    )
    .to_string()
}

fn planned_of(text: &str) -> AppResult<Vec<PlannedStep>> {
    let v: Value = serde_json::from_str(text).map_err(|_| corrupt("plan"))?;
    let Some(a) = v.as_array() else { return Err(corrupt("plan")) };
    a.iter()
        .map(|s| {
            Ok(PlannedStep {
                name: s["name"].as_str().unwrap_or_default().to_owned(),
                quorum: quorum_of(&s["quorum"])?,
                approvers: uuids_of(&s["approvers"])?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- flows

#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub document_kind: String,
    pub name: String,
    pub position: i32,
    pub is_active: bool,
    /// `def.id` is the flow's id.
    pub def: FlowDef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn flow_from(m: approval_flows::Model) -> AppResult<Flow> {
    let d: Value = serde_json::from_str(&m.definition).map_err(|_| corrupt("flow"))?;
    Ok(Flow {
        document_kind: m.document_kind,
        name: m.name,
        position: m.position,
        is_active: m.is_active,
        def: FlowDef {
            id: m.id,
            when: conditions_of(&d["when"])?,
            auto_approve_below: dec_of(&d["auto_approve_below"])?,
            steps: steps_of(&d["steps"])?,
        },
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn flow_am(tenant: Uuid, f: &Flow) -> approval_flows::ActiveModel {
    let definition = json!({"when": conditions_json(&f.def.when), "auto_approve_below": money(f.def.auto_approve_below),
        "steps": steps_json(&f.def.steps)});
    approval_flows::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(f.def.id),
        document_kind: Set(f.document_kind.clone()),
        name: Set(f.name.clone()),
        position: Set(f.position),
        is_active: Set(f.is_active),
        definition: Set(definition.to_string()),
        created_at: Set(f.created_at),
        updated_at: Set(f.updated_at),
        version: Set(f.version),
    }
}

/// The tenant's flows, of one kind or all, in the order they are tried.
pub async fn flows(tx: &TenantTx<'_>, kind: Option<&str>, active_only: bool) -> AppResult<Vec<Flow>> {
    use approval_flows::Column as C;
    let mut q = approval_flows::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(k) = kind {
        q = q.filter(C::DocumentKind.eq(k));
    }
    if active_only {
        q = q.filter(C::IsActive.eq(true));
    }
    q.order_by_asc(C::DocumentKind)
        .order_by_asc(C::Position)
        .order_by_asc(C::Name)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(flow_from)
        .collect()
}

pub async fn get_flow(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Flow>> {
    approval_flows::Entity::find_by_id((tx.tenant().0, id)).one(tx.conn()).await?.map(flow_from).transpose()
}

pub async fn insert_flow(tx: &TenantTx<'_>, f: &Flow) -> AppResult<()> {
    let r = approval_flows::Entity::insert(flow_am(tx.tenant().0, f)).exec_without_returning(tx.conn()).await;
    super::conflict_on_unique(r, || format!("a {} flow named {} exists", f.document_kind, f.name))?;
    Ok(())
}

/// Saves a flow read at `version - 1`; false when someone else saved it meanwhile.
pub async fn save_flow(tx: &TenantTx<'_>, f: &Flow) -> AppResult<bool> {
    use approval_flows::Column as C;
    let r = approval_flows::Entity::update_many()
        .set(flow_am(tx.tenant().0, f))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(f.def.id))
        .filter(C::Version.eq(f.version - 1))
        .exec(tx.conn())
        .await;
    let r = super::conflict_on_unique(r, || format!("a {} flow named {} exists", f.document_kind, f.name))?;
    Ok(r.rows_affected == 1)
}

/// Deletes a flow no request went through.
pub async fn delete_flow(tx: &TenantTx<'_>, id: Uuid) -> AppResult<bool> {
    use approval_requests::Column as R;
    let used = approval_requests::Entity::find()
        .filter(R::TenantId.eq(tx.tenant().0))
        .filter(R::FlowId.eq(id))
        .count(tx.conn())
        .await?;
    if used > 0 {
        return Ok(false);
    }
    approval_flows::Entity::delete_by_id((tx.tenant().0, id)).exec(tx.conn()).await?;
    Ok(true)
}

// ---------------------------------------------------------------- requests

#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub id: Uuid,
    pub number: String,
    pub document_kind: String,
    pub document_id: Uuid,
    pub document_number: String,
    pub summary: String,
    /// In the base currency.
    pub amount: Decimal,
    pub requester_id: Uuid,
    /// The requester and the document's authors: none of them decides on it.
    pub parties: Vec<Uuid>,
    pub flow_id: Option<Uuid>,
    /// pending | approved | rejected | returned | withdrawn
    pub status: String,
    /// Index into `steps` of the step deciding now.
    pub current_step: i32,
    pub steps: Vec<PlannedStep>,
    /// The reason of a rejection or return, or the withdrawal's.
    pub comment: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn request_from(m: approval_requests::Model) -> AppResult<Request> {
    Ok(Request {
        id: m.id,
        number: m.number,
        document_kind: m.document_kind,
        document_id: m.document_id,
        document_number: m.document_number,
        summary: m.summary,
        amount: money_from_db(m.amount),
        requester_id: m.requester_id,
        parties: serde_json::from_str::<Value>(&m.parties)
            .map_err(|_| corrupt("parties"))
            .and_then(|v| uuids_of(&v))?,
        flow_id: m.flow_id,
        status: m.status,
        current_step: m.current_step,
        steps: planned_of(&m.steps)?,
        comment: m.comment,
        submitted_at: m.submitted_at,
        decided_at: m.decided_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn request_am(tenant: Uuid, r: &Request) -> AppResult<approval_requests::ActiveModel> {
    Ok(approval_requests::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(r.id),
        number: Set(r.number.clone()),
        document_kind: Set(r.document_kind.clone()),
        document_id: Set(r.document_id),
        document_number: Set(r.document_number.clone()),
        summary: Set(r.summary.clone()),
        amount: Set(money_to_db(r.amount)?),
        requester_id: Set(r.requester_id),
        parties: Set(json!(r.parties).to_string()),
        flow_id: Set(r.flow_id),
        status: Set(r.status.clone()),
        current_step: Set(r.current_step),
        steps: Set(planned_json(&r.steps)),
        comment: Set(r.comment.clone()),
        submitted_at: Set(r.submitted_at),
        decided_at: Set(r.decided_at),
        updated_at: Set(r.updated_at),
        version: Set(r.version),
    })
}

pub async fn insert_request(tx: &TenantTx<'_>, r: &Request) -> AppResult<()> {
    let res = approval_requests::Entity::insert(request_am(tx.tenant().0, r)?).exec_without_returning(tx.conn()).await;
    super::conflict_on_unique(res, || format!("{} is already waiting for approval", r.document_number))?;
    Ok(())
}

pub async fn save_request(tx: &TenantTx<'_>, r: &Request) -> AppResult<bool> {
    use approval_requests::Column as C;
    let res = approval_requests::Entity::update_many()
        .set(request_am(tx.tenant().0, r)?)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(r.id))
        .filter(C::Version.eq(r.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn get_request(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<Request>> {
    use approval_requests::Column as C;
    let mut q = approval_requests::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(tx.conn()).await?.map(request_from).transpose()
}

/// A document's requests, newest first.
pub async fn requests_for(tx: &TenantTx<'_>, kind: &str, document: Uuid) -> AppResult<Vec<Request>> {
    use approval_requests::Column as C;
    approval_requests::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::DocumentId.eq(document))
        .filter(C::DocumentKind.eq(kind))
        .order_by_desc(C::SubmittedAt)
        .order_by_desc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(request_from)
        .collect()
}

/// Which requests a list shows.
#[derive(Clone, Debug)]
pub enum Inbox {
    /// Waiting for a decision by one of these approvers (the caller and whoever delegated to
    /// them today).
    Waiting(Vec<Uuid>),
    /// Submitted by this user.
    Submitted(Uuid),
    /// Decided by this user (in their own name or for someone away).
    Decided(Uuid),
    /// Everyone's (approvals read), optionally of one status.
    All,
}

#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub status: Option<String>,
    pub document_kind: Option<String>,
    pub document_id: Option<Uuid>,
}

fn request_ids_for(b: &Inbox) -> Option<sea_orm::sea_query::SelectStatement> {
    use approval_tasks::Column as T;
    use sea_orm::sea_query::Query;
    match b {
        Inbox::Waiting(who) => Some(
            Query::select()
                .column(T::RequestId)
                .from(approval_tasks::Entity)
                .and_where(Expr::col(T::ApproverId).is_in(who.iter().copied()))
                .and_where(Expr::col(T::Status).eq("pending"))
                .to_owned(),
        ),
        Inbox::Decided(who) => Some(
            Query::select()
                .column(T::RequestId)
                .from(approval_tasks::Entity)
                .and_where(Expr::col(T::DecidedBy).eq(*who))
                .to_owned(),
        ),
        _ => None,
    }
}

fn boxed(tx: &TenantTx<'_>, b: &Inbox, f: &RequestFilter) -> sea_orm::Select<approval_requests::Entity> {
    use approval_requests::Column as C;
    let t = tx.tenant().0;
    let mut q = approval_requests::Entity::find().filter(C::TenantId.eq(t));
    if let Some(sub) = request_ids_for(b) {
        let mut sub = sub;
        sub.and_where(Expr::col(approval_tasks::Column::TenantId).eq(t));
        q = q.filter(Condition::all().add(C::Id.in_subquery(sub)));
    }
    match b {
        Inbox::Waiting(_) => q = q.filter(C::Status.eq("pending")),
        Inbox::Submitted(who) => q = q.filter(C::RequesterId.eq(*who)),
        _ => {}
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.as_str()));
    }
    if let Some(k) = &f.document_kind {
        q = q.filter(C::DocumentKind.eq(k.as_str()));
    }
    if let Some(d) = f.document_id {
        q = q.filter(C::DocumentId.eq(d));
    }
    q
}

pub async fn list_requests(tx: &TenantTx<'_>, b: &Inbox, f: &RequestFilter, page: &Page) -> AppResult<Vec<Request>> {
    use approval_requests::Column as C;
    let mut q = boxed(tx, b, f);
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(request_from).collect()
}

pub async fn count_requests(tx: &TenantTx<'_>, b: &Inbox, f: &RequestFilter) -> AppResult<u64> {
    Ok(boxed(tx, b, f).count(tx.conn()).await?)
}

// ---------------------------------------------------------------- tasks

#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub request_id: Uuid,
    pub step: i32,
    pub approver_id: Uuid,
    /// pending | approved | rejected | returned | closed (the step ended without them)
    pub status: String,
    /// Who decided: the approver, or whoever stood in for them.
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_tasks(tx: &TenantTx<'_>, tasks: &[Task]) -> AppResult<()> {
    if tasks.is_empty() {
        return Ok(());
    }
    approval_tasks::Entity::insert_many(tasks.iter().map(|t| approval_tasks::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        request_id: Set(t.request_id),
        step: Set(t.step),
        approver_id: Set(t.approver_id),
        status: Set(t.status.clone()),
        decided_by: Set(t.decided_by),
        decided_at: Set(t.decided_at),
        comment: Set(t.comment.clone()),
        created_at: Set(t.created_at),
    }))
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

/// A request's tasks, by step and approver.
pub async fn tasks_of(tx: &TenantTx<'_>, request: Uuid) -> AppResult<Vec<Task>> {
    use approval_tasks::Column as C;
    Ok(approval_tasks::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::RequestId.eq(request))
        .order_by_asc(C::Step)
        .order_by_asc(C::CreatedAt)
        .order_by_asc(C::ApproverId)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| Task {
            request_id: m.request_id,
            step: m.step,
            approver_id: m.approver_id,
            status: m.status,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
            comment: m.comment,
            created_at: m.created_at,
        })
        .collect())
}

/// Records a decision on a pending task; false when it was no longer pending.
pub async fn decide_task(tx: &TenantTx<'_>, t: &Task) -> AppResult<bool> {
    use approval_tasks::Column as C;
    let r = approval_tasks::Entity::update_many()
        .col_expr(C::Status, Expr::value(t.status.clone()))
        .col_expr(C::DecidedBy, Expr::value(t.decided_by))
        .col_expr(C::DecidedAt, Expr::value(t.decided_at))
        .col_expr(C::Comment, Expr::value(t.comment.clone()))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::RequestId.eq(t.request_id))
        .filter(C::Step.eq(t.step))
        .filter(C::ApproverId.eq(t.approver_id))
        .filter(C::Status.eq("pending"))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

/// Closes what is still pending of a request (the step or the request ended without them).
pub async fn close_pending(tx: &TenantTx<'_>, request: Uuid) -> AppResult<()> {
    use approval_tasks::Column as C;
    approval_tasks::Entity::update_many()
        .col_expr(C::Status, Expr::value("closed"))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::RequestId.eq(request))
        .filter(C::Status.eq("pending"))
        .exec(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- delegations

#[derive(Clone, Debug, PartialEq)]
pub struct StoredDelegation {
    pub id: Uuid,
    pub d: Delegation,
    pub reason: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn day(s: &str) -> AppResult<NaiveDate> {
    s.parse().map_err(|_| corrupt("date"))
}

fn delegation_from(m: approval_delegations::Model) -> AppResult<StoredDelegation> {
    Ok(StoredDelegation {
        id: m.id,
        d: Delegation { from: m.from_user_id, to: m.to_user_id, starts: day(&m.starts_on)?, ends: day(&m.ends_on)? },
        reason: m.reason,
        created_by: m.created_by,
        created_at: m.created_at,
    })
}

pub async fn insert_delegation(tx: &TenantTx<'_>, s: &StoredDelegation) -> AppResult<()> {
    approval_delegations::Entity::insert(approval_delegations::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(s.id),
        from_user_id: Set(s.d.from),
        to_user_id: Set(s.d.to),
        starts_on: Set(s.d.starts.to_string()),
        ends_on: Set(s.d.ends.to_string()),
        reason: Set(s.reason.clone()),
        created_by: Set(s.created_by),
        created_at: Set(s.created_at),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

pub async fn get_delegation(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<StoredDelegation>> {
    approval_delegations::Entity::find_by_id((tx.tenant().0, id)).one(tx.conn()).await?.map(delegation_from).transpose()
}

pub async fn delete_delegation(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    approval_delegations::Entity::delete_by_id((tx.tenant().0, id)).exec(tx.conn()).await?;
    Ok(())
}

/// Delegations from or to a user (or all), not ended before `since`, by start.
pub async fn delegations(tx: &TenantTx<'_>, user: Option<Uuid>, since: NaiveDate) -> AppResult<Vec<StoredDelegation>> {
    use approval_delegations::Column as C;
    let mut q = approval_delegations::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::EndsOn.gte(since.to_string()));
    if let Some(u) = user {
        q = q.filter(Condition::any().add(C::FromUserId.eq(u)).add(C::ToUserId.eq(u)));
    }
    q.order_by_asc(C::StartsOn).order_by_asc(C::Id).all(tx.conn()).await?.into_iter().map(delegation_from).collect()
}

/// Delegations in force on `today` to this user.
pub async fn delegated_to(tx: &TenantTx<'_>, user: Uuid, today: NaiveDate) -> AppResult<Vec<Delegation>> {
    use approval_delegations::Column as C;
    let d = today.to_string();
    approval_delegations::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ToUserId.eq(user))
        .filter(C::StartsOn.lte(d.clone()))
        .filter(C::EndsOn.gte(d))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| delegation_from(m).map(|s| s.d))
        .collect()
}
