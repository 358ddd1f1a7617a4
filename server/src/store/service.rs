//! Service-desk tables: SLA targets per priority, tickets with their notes, and satisfaction
//! surveys.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{surveys, ticket_notes, ticket_slas, tickets};
use super::{Page, TenantTx, day_after, day_start};
use crate::domain::service::Clock;
use crate::error::AppResult;

// ---------------------------------------------------------------- SLA targets

#[derive(Clone, Debug, PartialEq)]
pub struct Sla {
    pub priority: String,
    pub response_minutes: i32,
    pub resolution_minutes: i32,
    pub updated_at: DateTime<Utc>,
}

/// The targets the tenant set (none until it sets some).
pub async fn slas(tx: &TenantTx<'_>) -> AppResult<Vec<Sla>> {
    use ticket_slas::Column as C;
    Ok(ticket_slas::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| Sla {
            priority: m.priority,
            response_minutes: m.response_minutes,
            resolution_minutes: m.resolution_minutes,
            updated_at: m.updated_at,
        })
        .collect())
}

/// Replaces the tenant's targets (one replacement at a time per tenant).
pub async fn put_slas(tx: &TenantTx<'_>, rows: &[Sla]) -> AppResult<()> {
    super::ledger::next_in_sequence(tx, "ticket_sla_lock").await?;
    ticket_slas::Entity::delete_many().filter(ticket_slas::Column::TenantId.eq(tx.tenant().0)).exec(tx.conn()).await?;
    if rows.is_empty() {
        return Ok(());
    }
    ticket_slas::Entity::insert_many(rows.iter().map(|s| ticket_slas::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        priority: Set(s.priority.clone()),
        response_minutes: Set(s.response_minutes),
        resolution_minutes: Set(s.resolution_minutes),
        updated_at: Set(s.updated_at),
    }))
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- tickets

#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub order_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
    pub subject: String,
    pub description: String,
    /// low | normal | high | urgent
    pub priority: String,
    /// open | in_progress | waiting | resolved | closed
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub response_due_at: DateTime<Utc>,
    pub resolution_due_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    /// Seconds spent waiting on the customer, added to the resolution target.
    pub paused_seconds: i64,
    pub close_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Ticket {
    pub fn clock(&self) -> Clock {
        Clock {
            response_due_at: self.response_due_at,
            resolution_due_at: self.resolution_due_at,
            first_response_at: self.first_response_at,
            resolved_at: self.resolved_at,
            waiting_since: self.waiting_since,
        }
    }
}

fn ticket_from(m: tickets::Model) -> Ticket {
    Ticket {
        id: m.id,
        number: m.number,
        customer_id: m.customer_id,
        order_id: m.order_id,
        item_id: m.item_id,
        subject: m.subject,
        description: m.description,
        priority: m.priority,
        status: m.status,
        assignee_id: m.assignee_id,
        response_due_at: m.response_due_at,
        resolution_due_at: m.resolution_due_at,
        first_response_at: m.first_response_at,
        resolved_at: m.resolved_at,
        closed_at: m.closed_at,
        waiting_since: m.waiting_since,
        paused_seconds: m.paused_seconds,
        close_reason: m.close_reason,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    }
}

fn ticket_am(tenant: Uuid, t: &Ticket) -> tickets::ActiveModel {
    tickets::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(t.id),
        number: Set(t.number.clone()),
        customer_id: Set(t.customer_id),
        order_id: Set(t.order_id),
        item_id: Set(t.item_id),
        subject: Set(t.subject.clone()),
        description: Set(t.description.clone()),
        priority: Set(t.priority.clone()),
        status: Set(t.status.clone()),
        assignee_id: Set(t.assignee_id),
        response_due_at: Set(t.response_due_at),
        resolution_due_at: Set(t.resolution_due_at),
        first_response_at: Set(t.first_response_at),
        resolved_at: Set(t.resolved_at),
        closed_at: Set(t.closed_at),
        waiting_since: Set(t.waiting_since),
        paused_seconds: Set(t.paused_seconds),
        close_reason: Set(t.close_reason.clone()),
        created_by: Set(t.created_by),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
    }
}

pub async fn insert_ticket(tx: &TenantTx<'_>, t: &Ticket) -> AppResult<()> {
    tickets::Entity::insert(ticket_am(tx.tenant().0, t)).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Saves a ticket whose version the caller raised by one; false when someone else saved first.
pub async fn save_ticket(tx: &TenantTx<'_>, t: &Ticket) -> AppResult<bool> {
    let mut am = ticket_am(tx.tenant().0, t);
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.number = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = tickets::Entity::update_many()
        .set(am)
        .filter(tickets::Column::TenantId.eq(tx.tenant().0))
        .filter(tickets::Column::Id.eq(t.id))
        .filter(tickets::Column::Version.eq(t.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn get_ticket(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<Ticket>> {
    use tickets::Column as C;
    let mut q = tickets::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    Ok(q.one(tx.conn()).await?.map(ticket_from))
}

#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    /// One status, or `active` for every status before resolved.
    pub status: Option<String>,
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub unassigned: bool,
    pub priority: Option<String>,
    /// Only tickets with a target breached at `now` (met late or past due).
    pub breached: Option<DateTime<Utc>>,
    /// Number or subject contains.
    pub q: Option<String>,
}

const ACTIVE: [&str; 3] = ["open", "in_progress", "waiting"];

pub async fn list_tickets(tx: &TenantTx<'_>, f: &TicketFilter, page: &Page) -> AppResult<Vec<Ticket>> {
    use sea_orm::Condition;
    use sea_orm::sea_query::Expr;
    use tickets::Column as C;
    let mut q = tickets::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    match f.status.as_deref() {
        Some("active") => q = q.filter(C::Status.is_in(ACTIVE)),
        Some(s) => q = q.filter(C::Status.eq(s)),
        None => {}
    }
    if let Some(c) = f.customer_id {
        q = q.filter(C::CustomerId.eq(c));
    }
    if let Some(o) = f.order_id {
        q = q.filter(C::OrderId.eq(o));
    }
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(a) = f.assignee_id {
        q = q.filter(C::AssigneeId.eq(a));
    }
    if f.unassigned {
        q = q.filter(C::AssigneeId.is_null());
    }
    if let Some(p) = &f.priority {
        q = q.filter(C::Priority.eq(p.as_str()));
    }
    if let Some(now) = f.breached {
        // Mirrors domain::service::Clock: the response met late or still missing past due; the
        // resolution likewise, its clock stopped while the ticket waits on the customer.
        let response = Condition::any()
            .add(
                Condition::all()
                    .add(C::FirstResponseAt.is_null())
                    .add(C::ResolvedAt.is_null())
                    .add(C::ResponseDueAt.lt(now)),
            )
            .add(Expr::col(C::FirstResponseAt).gt(Expr::col(C::ResponseDueAt)))
            .add(
                Condition::all()
                    .add(C::FirstResponseAt.is_null())
                    .add(Expr::col(C::ResolvedAt).gt(Expr::col(C::ResponseDueAt))),
            );
        let resolution = Condition::any()
            .add(
                Condition::all()
                    .add(C::ResolvedAt.is_null())
                    .add(C::WaitingSince.is_null())
                    .add(C::ResolutionDueAt.lt(now)),
            )
            .add(
                Condition::all()
                    .add(C::ResolvedAt.is_null())
                    .add(Expr::col(C::WaitingSince).gt(Expr::col(C::ResolutionDueAt))),
            )
            .add(Expr::col(C::ResolvedAt).gt(Expr::col(C::ResolutionDueAt)));
        q = q.filter(Condition::any().add(response).add(resolution));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        use sea_orm::sea_query::Func;
        let like = super::crm::contains_pattern(text);
        let lower = |c: C| Expr::expr(Func::lower(Expr::col(c)));
        q = q.filter(Condition::any().add(lower(C::Number).like(like.clone())).add(lower(C::Subject).like(like)));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    Ok(q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(ticket_from).collect())
}

/// A customer's tickets not yet resolved, oldest first.
pub async fn active_tickets_of(tx: &TenantTx<'_>, customer: Uuid, limit: u64) -> AppResult<Vec<Ticket>> {
    use tickets::Column as C;
    Ok(tickets::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::CustomerId.eq(customer))
        .filter(C::Status.is_in(ACTIVE))
        .order_by_asc(C::CreatedAt)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(ticket_from)
        .collect())
}

/// Tickets opened, resolved or closed within `[from, to]` (whole days, UTC), and those still
/// unresolved now, for the service report.
pub async fn tickets_touched(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<Ticket>> {
    use sea_orm::Condition;
    use tickets::Column as C;
    let (start, end) = (day_start(from), day_after(to));
    let within = |c: C| {
        let mut w = Condition::all().add(c.gte(start));
        if let Some(end) = end {
            w = w.add(c.lt(end));
        }
        w
    };
    Ok(tickets::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(
            Condition::any()
                .add(within(C::CreatedAt))
                .add(within(C::ResolvedAt))
                .add(within(C::ClosedAt))
                .add(C::Status.is_in(ACTIVE)),
        )
        .order_by_asc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(ticket_from)
        .collect())
}

// ---------------------------------------------------------------- notes

#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub seq: i32,
    /// internal | customer
    pub visibility: String,
    pub body: String,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn notes(tx: &TenantTx<'_>, ticket: Uuid) -> AppResult<Vec<Note>> {
    use ticket_notes::Column as C;
    Ok(ticket_notes::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::TicketId.eq(ticket))
        .order_by_asc(C::Seq)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| Note {
            seq: m.seq,
            visibility: m.visibility,
            body: m.body,
            author_id: m.author_id,
            created_at: m.created_at,
        })
        .collect())
}

/// Adds a note after the last one (the caller holds the ticket's lock).
pub async fn insert_note(tx: &TenantTx<'_>, ticket: Uuid, n: &Note) -> AppResult<()> {
    ticket_notes::Entity::insert(ticket_notes::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        ticket_id: Set(ticket),
        seq: Set(n.seq),
        visibility: Set(n.visibility.clone()),
        body: Set(n.body.clone()),
        author_id: Set(n.author_id),
        created_at: Set(n.created_at),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

pub async fn last_note_seq(tx: &TenantTx<'_>, ticket: Uuid) -> AppResult<i32> {
    use ticket_notes::Column as C;
    Ok(ticket_notes::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::TicketId.eq(ticket))
        .order_by_desc(C::Seq)
        .one(tx.conn())
        .await?
        .map_or(0, |m| m.seq))
}

// ---------------------------------------------------------------- surveys

#[derive(Clone, Debug, PartialEq)]
pub struct Survey {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub shipment_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub score: i32,
    pub comment: String,
    pub responded_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

fn survey_from(m: surveys::Model) -> Survey {
    Survey {
        id: m.id,
        customer_id: m.customer_id,
        shipment_id: m.shipment_id,
        ticket_id: m.ticket_id,
        score: m.score,
        comment: m.comment,
        responded_at: m.responded_at,
        created_by: m.created_by,
    }
}

/// Adds a survey; one about the same delivery or ticket saved meanwhile is a 409.
pub async fn insert_survey(tx: &TenantTx<'_>, s: &Survey) -> AppResult<()> {
    let r = surveys::Entity::insert(surveys::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(s.id),
        customer_id: Set(s.customer_id),
        shipment_id: Set(s.shipment_id),
        ticket_id: Set(s.ticket_id),
        score: Set(s.score),
        comment: Set(s.comment.clone()),
        responded_at: Set(s.responded_at),
        created_by: Set(s.created_by),
    })
    .exec_without_returning(tx.conn())
    .await;
    super::conflict_on_unique(r, || "the customer already answered a survey about this".to_owned()).map(|_| ())
}

/// The survey already answered about this delivery or ticket.
pub async fn survey_about(
    tx: &TenantTx<'_>,
    shipment: Option<Uuid>,
    ticket: Option<Uuid>,
) -> AppResult<Option<Survey>> {
    use surveys::Column as C;
    let mut q = surveys::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    q = match (shipment, ticket) {
        (Some(s), _) => q.filter(C::ShipmentId.eq(s)),
        (None, Some(t)) => q.filter(C::TicketId.eq(t)),
        (None, None) => return Ok(None),
    };
    Ok(q.one(tx.conn()).await?.map(survey_from))
}

pub async fn get_survey(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Survey>> {
    use surveys::Column as C;
    Ok(surveys::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(survey_from))
}

#[derive(Clone, Debug, Default)]
pub struct SurveyFilter {
    pub customer_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn survey_query(tx: &TenantTx<'_>, f: &SurveyFilter) -> sea_orm::Select<surveys::Entity> {
    use surveys::Column as C;
    let mut q = surveys::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(c) = f.customer_id {
        q = q.filter(C::CustomerId.eq(c));
    }
    if let Some(d) = f.from {
        q = q.filter(C::RespondedAt.gte(day_start(d)));
    }
    if let Some(end) = f.to.and_then(day_after) {
        q = q.filter(C::RespondedAt.lt(end));
    }
    q
}

pub async fn list_surveys(tx: &TenantTx<'_>, f: &SurveyFilter, page: &Page) -> AppResult<Vec<Survey>> {
    use surveys::Column as C;
    let mut q = survey_query(tx, f);
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    Ok(q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(survey_from).collect())
}

/// Every survey matching the filter, for the satisfaction report.
pub async fn surveys_in(tx: &TenantTx<'_>, f: &SurveyFilter) -> AppResult<Vec<Survey>> {
    use surveys::Column as C;
    Ok(survey_query(tx, f).order_by_asc(C::RespondedAt).all(tx.conn()).await?.into_iter().map(survey_from).collect())
}

/// A customer's responses and the sum of their scores.
pub async fn survey_totals_of(tx: &TenantTx<'_>, customer: Uuid) -> AppResult<(i64, i64)> {
    use sea_orm::sea_query::Expr;
    use surveys::Column as C;
    let row: Option<(i64, Option<i64>)> = surveys::Entity::find()
        .select_only()
        .column_as(Expr::col(C::Id).count(), "n")
        .column_as(Expr::col(C::Score).sum(), "s")
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::CustomerId.eq(customer))
        .into_tuple()
        .one(tx.conn())
        .await?;
    Ok(row.map_or((0, 0), |(n, s)| (n, s.unwrap_or(0))))
}
