//! The service desk: tickets about a customer (and optionally one of its orders or an item)
//! with response and resolution targets per priority, assignment, status actions, internal and
//! customer-visible notes; satisfaction surveys after a delivery or a finished ticket; and the
//! reports over both, per day, week or month.
//!
//! The SLA clock: a ticket's first response is due `response_minutes` after it was opened and
//! is met by the first customer-visible note; its resolution is due `resolution_minutes` after
//! it was opened plus the time it spent waiting on the customer or resolved before a reopen,
//! and is met when it is resolved (or closed without resolving). Targets are read when the
//! ticket is opened or its priority changes; editing the targets does not move open tickets.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::{check_owner, next_number, optional as text};
use super::{AppState, Change, Ctx, record, stale};
use crate::domain::ids::TenantId;
use crate::domain::service::{self as rules, Action, Period};
use crate::domain::trade::TradeSide;
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::service::{self as store, Note, Sla, Survey, SurveyFilter, Ticket, TicketFilter};
use crate::store::{Access, Page, TenantTx};

// ================================================================ SLA targets

/// Every priority's targets: the tenant's, or the defaults for those it did not set.
async fn slas_in(tx: &TenantTx<'_>, now: DateTime<Utc>) -> AppResult<Vec<Sla>> {
    let set = store::slas(tx).await?;
    Ok(rules::DEFAULT_SLAS
        .iter()
        .map(|(p, response, resolution)| {
            set.iter().find(|s| s.priority == *p).cloned().unwrap_or(Sla {
                priority: (*p).to_owned(),
                response_minutes: *response,
                resolution_minutes: *resolution,
                updated_at: now,
            })
        })
        .collect())
}

pub async fn slas(app: &AppState, tenant: TenantId) -> AppResult<Vec<Sla>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = slas_in(&tx, app.now()).await?;
    tx.commit().await?;
    Ok(r)
}

#[derive(Clone)]
pub struct SlaInput {
    pub priority: String,
    pub response_minutes: i64,
    pub resolution_minutes: i64,
}

/// Replaces the targets: every priority exactly once, each first response due no later than
/// the resolution.
pub async fn put_slas(app: &AppState, ctx: &Ctx, input: Vec<SlaInput>) -> AppResult<Vec<Sla>> {
    let now = app.now();
    let mut f = Fields::new();
    let mut rows = Vec::with_capacity(input.len());
    for (i, s) in input.into_iter().enumerate() {
        let at = |k: &str| format!("targets[{i}].{k}");
        if !rules::PRIORITIES.contains(&s.priority.as_str()) {
            f.push(at("priority"), format!("must be one of {}", rules::PRIORITIES.join(", ")));
        } else if rows.iter().any(|r: &Sla| r.priority == s.priority) {
            f.push(at("priority"), "is named twice");
        }
        let minutes = |f: &mut Fields, k: &str, v: i64| match i32::try_from(v) {
            Ok(m) if (1..=rules::MAX_SLA_MINUTES).contains(&m) => m,
            _ => {
                f.push(at(k), format!("must be 1 to {} minutes", rules::MAX_SLA_MINUTES));
                1
            }
        };
        let response = minutes(&mut f, "response_minutes", s.response_minutes);
        let resolution = minutes(&mut f, "resolution_minutes", s.resolution_minutes);
        if response > resolution {
            f.push(at("response_minutes"), "must not be later than the resolution");
        }
        rows.push(Sla {
            priority: s.priority,
            response_minutes: response,
            resolution_minutes: resolution,
            updated_at: now,
        });
    }
    for p in rules::PRIORITIES {
        if !rows.iter().any(|r| r.priority == p) {
            f.push("targets", format!("give the targets of every priority; {p} is missing"));
        }
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = slas_in(&tx, now).await?;
    store::put_slas(&tx, &rows).await?;
    let json = |v: &[Sla]| {
        serde_json::Value::Array(
            v.iter()
                .map(|s| {
                    serde_json::json!({"priority": s.priority, "response_minutes": s.response_minutes,
                    "resolution_minutes": s.resolution_minutes})
                })
                .collect(),
        )
    };
    record(
        &tx,
        ctx,
        now,
        Change::new("ticket_sla.replace", "ticket_sla", None, Some(json(&before)), Some(json(&rows))),
    )
    .await?;
    let r = slas_in(&tx, now).await?;
    tx.commit().await?;
    Ok(r)
}

/// Sets a ticket's due times from its priority's targets, its creation and its pauses: the
/// targets not met yet (a target met, on time or late, stays as it was judged).
async fn set_targets(tx: &TenantTx<'_>, t: &mut Ticket, now: DateTime<Utc>) -> AppResult<()> {
    let slas = slas_in(tx, now).await?;
    let sla = slas
        .iter()
        .find(|s| s.priority == t.priority)
        .ok_or_else(|| AppError::field("priority", format!("must be one of {}", rules::PRIORITIES.join(", "))))?;
    if t.first_response_at.is_none() && t.resolved_at.is_none() {
        t.response_due_at = rules::due_at(t.created_at, sla.response_minutes, 0);
    }
    if t.resolved_at.is_none() {
        t.resolution_due_at = rules::due_at(t.created_at, sla.resolution_minutes, t.paused_seconds);
    }
    Ok(())
}

// ================================================================ tickets

#[derive(Clone, Default)]
pub struct TicketInput {
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Option<Uuid>>,
    pub item_id: Option<Option<Uuid>>,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub assignee_id: Option<Option<Uuid>>,
}

fn ticket_json(t: &Ticket) -> serde_json::Value {
    serde_json::json!({"number": t.number, "customer_id": t.customer_id, "order_id": t.order_id, "item_id": t.item_id,
        "subject": t.subject, "description": t.description, "priority": t.priority, "status": t.status,
        "assignee_id": t.assignee_id, "response_due_at": t.response_due_at, "resolution_due_at": t.resolution_due_at,
        "first_response_at": t.first_response_at, "resolved_at": t.resolved_at, "closed_at": t.closed_at,
        "waiting_since": t.waiting_since, "paused_seconds": t.paused_seconds, "close_reason": t.close_reason})
}

/// Applies the fields given; checks what needs no database.
fn apply_ticket(t: &mut Ticket, input: &TicketInput) -> AppResult<()> {
    let mut f = Fields::new();
    if let Some(s) = &input.subject
        && let Some(s) = f.check("subject", validate::name(s, 200))
    {
        t.subject = s;
    }
    if let Some(d) = &input.description {
        t.description = text(&mut f, "description", Some(d.clone()), 10_000).unwrap_or_default();
    }
    if let Some(p) = &input.priority {
        if rules::PRIORITIES.contains(&p.as_str()) {
            t.priority.clone_from(p);
        } else {
            f.push("priority", format!("must be one of {}", rules::PRIORITIES.join(", ")));
        }
    }
    if let Some(o) = input.order_id {
        t.order_id = o;
    }
    if let Some(i) = input.item_id {
        t.item_id = i;
    }
    if let Some(a) = input.assignee_id {
        t.assignee_id = a;
    }
    f.finish()
}

/// The customer, order and item a ticket names must exist in this tenant, and the order must
/// be the customer's sales order or quotation.
async fn check_links(tx: &TenantTx<'_>, t: &Ticket) -> AppResult<()> {
    super::receivables::check_customer(tx, t.customer_id, "customer_id").await?;
    if let Some(o) = t.order_id {
        match crate::store::trade::get_order(tx, o).await? {
            Some((o, _)) if o.side != TradeSide::Sales => {
                return Err(AppError::field("order_id", format!("{} is a purchase order", o.number)));
            }
            Some((o, _)) if o.party_id != t.customer_id => {
                return Err(AppError::field("order_id", format!("{} belongs to another customer", o.number)));
            }
            Some(_) => {}
            None => return Err(AppError::field("order_id", "no such sales order")),
        }
    }
    if let Some(i) = t.item_id
        && crate::store::stock::get_item(tx, i).await?.is_none()
    {
        return Err(AppError::field("item_id", "no such item"));
    }
    Ok(())
}

pub async fn create_ticket(app: &AppState, ctx: &Ctx, input: TicketInput) -> AppResult<Ticket> {
    let now = app.now();
    let mut f = Fields::new();
    if input.customer_id.is_none() {
        f.push("customer_id", "is required");
    }
    if input.subject.is_none() {
        f.push("subject", "is required");
    }
    f.finish()?;
    let mut t = Ticket {
        id: Uuid::now_v7(),
        number: String::new(),
        customer_id: input.customer_id.unwrap_or_default(),
        order_id: None,
        item_id: None,
        subject: String::new(),
        description: String::new(),
        priority: "normal".into(),
        status: "open".into(),
        assignee_id: None,
        response_due_at: now,
        resolution_due_at: now,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        waiting_since: None,
        paused_seconds: 0,
        close_reason: None,
        created_by: Some(ctx.principal.actor_uuid()),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_ticket(&mut t, &input)?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    check_links(&tx, &t).await?;
    check_owner(&tx, t.assignee_id, "assignee_id").await?;
    set_targets(&tx, &mut t, now).await?;
    t.number = next_number(&tx, "ticket", "TK").await?;
    store::insert_ticket(&tx, &t).await?;
    record(&tx, ctx, now, Change::new("ticket.create", "ticket", Some(t.id.to_string()), None, Some(ticket_json(&t))))
        .await?;
    tx.commit().await?;
    Ok(t)
}

/// Saves a ticket changed from `before` and records the change, with the note added if any.
async fn save(
    tx: &TenantTx<'_>,
    ctx: &Ctx,
    before: &Ticket,
    mut t: Ticket,
    action: &str,
    note: Option<&Note>,
    now: DateTime<Utc>,
) -> AppResult<Ticket> {
    t.updated_at = now;
    t.version = before.version + 1;
    if !store::save_ticket(tx, &t).await? {
        return Err(stale("ticket", before.version));
    }
    let mut after = ticket_json(&t);
    if let (Some(n), Some(o)) = (note, after.as_object_mut()) {
        o.insert("note".into(), serde_json::json!({"seq": n.seq, "visibility": n.visibility, "body": n.body}));
    }
    record(tx, ctx, now, Change::new(action, "ticket", Some(t.id.to_string()), Some(ticket_json(before)), Some(after)))
        .await?;
    Ok(t)
}

async fn load(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Ticket> {
    store::get_ticket(tx, id, true).await?.ok_or(AppError::NotFound { entity: "ticket" })
}

/// Edits a ticket not yet closed (If-Match): subject, description, priority (its targets are
/// set again from the priority's), assignee, order and item. It stays with its customer.
pub async fn update_ticket(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    if_match: i64,
    input: TicketInput,
) -> AppResult<Ticket> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load(&tx, id).await?;
    if before.version != if_match {
        return Err(stale("ticket", before.version));
    }
    if before.status == "closed" {
        return Err(AppError::InvalidState { entity: "ticket", state: before.status, action: "edited" });
    }
    if input.customer_id.is_some_and(|c| c != before.customer_id) {
        return Err(AppError::field("customer_id", "a ticket stays with its customer; open a new one"));
    }
    let mut t = before.clone();
    apply_ticket(&mut t, &input)?;
    if t.order_id != before.order_id || t.item_id != before.item_id {
        check_links(&tx, &t).await?;
    }
    if t.assignee_id != before.assignee_id {
        check_owner(&tx, t.assignee_id, "assignee_id").await?;
    }
    if t.priority != before.priority {
        set_targets(&tx, &mut t, now).await?;
    }
    let t = save(&tx, ctx, &before, t, "ticket.update", None, now).await?;
    tx.commit().await?;
    Ok(t)
}

/// Ends a pause (waiting on the customer, or resolved before a reopen): its length moves the
/// resolution target out.
fn resume(t: &mut Ticket, since: Option<DateTime<Utc>>, now: DateTime<Utc>) {
    if let Some(since) = since {
        // Whole seconds, rounded: stored times may be a fraction of a microsecond off `now`.
        let paused = ((now - since).num_milliseconds().max(0) + 500) / 1000;
        t.paused_seconds += paused;
        t.resolution_due_at += chrono::Duration::seconds(paused);
    }
}

fn next_note(t: &mut Ticket, seq: i32, visibility: &str, body: String, ctx: &Ctx, now: DateTime<Utc>) -> Note {
    if visibility == "customer" && t.first_response_at.is_none() {
        t.first_response_at = Some(now);
    }
    Note { seq, visibility: visibility.to_owned(), body, author_id: Some(ctx.principal.actor_uuid()), created_at: now }
}

/// A note's text: not empty, at most 10,000 characters, line breaks allowed.
fn note_body(f: &mut Fields, field: &str, body: &str) -> String {
    let body = text(f, field, Some(body.to_owned()), 10_000);
    if body.is_none() {
        f.push(field, "must not be empty");
    }
    body.unwrap_or_default()
}

/// Adds a note: internal (the team's) or customer-visible (an answer to the customer; the
/// first one meets the response target). A closed ticket takes no notes.
pub async fn add_note(
    app: &AppState,
    ctx: &Ctx,
    id: Uuid,
    visibility: &str,
    body: &str,
) -> AppResult<(Ticket, Vec<Note>)> {
    let now = app.now();
    let mut f = Fields::new();
    if !rules::VISIBILITIES.contains(&visibility) {
        f.push("visibility", format!("must be one of {}", rules::VISIBILITIES.join(", ")));
    }
    let body = note_body(&mut f, "body", body);
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load(&tx, id).await?;
    if before.status == "closed" {
        return Err(AppError::InvalidState { entity: "ticket", state: before.status, action: "given a note" });
    }
    let mut t = before.clone();
    let seq = store::last_note_seq(&tx, id).await? + 1;
    let note = next_note(&mut t, seq, visibility, body, ctx, now);
    store::insert_note(&tx, id, &note).await?;
    let action = if visibility == "customer" { "ticket.reply" } else { "ticket.note" };
    let t = save(&tx, ctx, &before, t, action, Some(&note), now).await?;
    let notes = store::notes(&tx, id).await?;
    tx.commit().await?;
    Ok((t, notes))
}

pub struct ActionInput {
    /// Resolve or wait: what the customer is told (a customer-visible note).
    pub note: Option<String>,
    /// Close before resolving: why (a duplicate, spam).
    pub reason: Option<String>,
}

/// Moves a ticket: start (taking it when nobody has), wait on the customer (the resolution
/// clock stops), resolve (telling the customer, unless they were answered already), close,
/// reopen (the time it stood resolved does not count against it).
pub async fn act(app: &AppState, ctx: &Ctx, id: Uuid, action: Action, input: ActionInput) -> AppResult<Ticket> {
    let now = app.now();
    let mut f = Fields::new();
    let note = input.note.as_deref().map(|n| note_body(&mut f, "note", n));
    if note.is_some() && !matches!(action, Action::Resolve | Action::Wait) {
        f.push("note", "tells the customer how it was resolved or what is awaited: add other notes as notes");
    }
    let reason = text(&mut f, "reason", input.reason, 500);
    if reason.is_some() && action != Action::Close {
        f.push("reason", "is for closing a ticket that was not resolved");
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = load(&tx, id).await?;
    let Some(status) = rules::next_status(&before.status, action) else {
        return Err(AppError::InvalidState { entity: "ticket", state: before.status, action: action.verb() });
    };
    if reason.is_some() && before.resolved_at.is_some() {
        return Err(AppError::field("reason", "the ticket was resolved: close it without a reason"));
    }
    let mut t = before.clone();
    if before.status == "waiting" {
        resume(&mut t, before.waiting_since, now);
        t.waiting_since = None;
    }
    match action {
        Action::Start => {
            // Whoever starts it takes it, if nobody has and the caller is a person.
            if let (None, crate::auth::Actor::User(u)) = (t.assignee_id, ctx.principal.actor) {
                t.assignee_id = Some(u.0);
                check_owner(&tx, t.assignee_id, "assignee_id").await?;
            }
        }
        Action::Wait => t.waiting_since = Some(now),
        Action::Resolve => {
            if note.is_none() && t.first_response_at.is_none() {
                return Err(AppError::field(
                    "note",
                    "the customer has had no answer yet: say how it was resolved (a customer-visible note)",
                ));
            }
            t.resolved_at = Some(now);
        }
        Action::Close => {
            if t.resolved_at.is_none() {
                if reason.is_none() {
                    return Err(AppError::field(
                        "reason",
                        "say why a ticket that was not resolved is closed (a duplicate, spam), or resolve it first",
                    ));
                }
                t.resolved_at = Some(now);
                t.close_reason = reason;
            }
            t.closed_at = Some(now);
        }
        Action::Reopen => {
            resume(&mut t, before.resolved_at, now);
            t.resolved_at = None;
        }
    }
    let mut added = None;
    if let Some(body) = note {
        let seq = store::last_note_seq(&tx, id).await? + 1;
        let n = next_note(&mut t, seq, "customer", body, ctx, now);
        store::insert_note(&tx, id, &n).await?;
        added = Some(n);
    }
    t.status = status.to_owned();
    let t = save(&tx, ctx, &before, t, &format!("ticket.{}", action.name()), added.as_ref(), now).await?;
    tx.commit().await?;
    Ok(t)
}

pub async fn get_ticket(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<(Ticket, Vec<Note>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let t = store::get_ticket(&tx, id, false).await?.ok_or(AppError::NotFound { entity: "ticket" })?;
    let notes = store::notes(&tx, id).await?;
    tx.commit().await?;
    Ok((t, notes))
}

pub async fn list_tickets(app: &AppState, tenant: TenantId, f: &TicketFilter, page: &Page) -> AppResult<Vec<Ticket>> {
    if let Some(s) = &f.status
        && s != "active"
        && !rules::STATUSES.contains(&s.as_str())
    {
        return Err(AppError::field("status", format!("must be active or one of {}", rules::STATUSES.join(", "))));
    }
    if let Some(p) = &f.priority
        && !rules::PRIORITIES.contains(&p.as_str())
    {
        return Err(AppError::field("priority", format!("must be one of {}", rules::PRIORITIES.join(", "))));
    }
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_tickets(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

// ================================================================ surveys

#[derive(Clone)]
pub struct SurveyInput {
    pub shipment_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub score: i64,
    pub comment: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
}

/// Records a customer's answer about one delivery or one resolved or closed ticket: a score
/// from 1 to 5 and a comment. One answer per delivery or ticket.
pub async fn create_survey(app: &AppState, ctx: &Ctx, input: SurveyInput) -> AppResult<Survey> {
    let now = app.now();
    let mut f = Fields::new();
    let score = match i32::try_from(input.score) {
        Ok(s) if (1..=5).contains(&s) => s,
        _ => {
            f.push("score", "must be a whole number from 1 to 5");
            0
        }
    };
    let comment = text(&mut f, "comment", input.comment, 4000).unwrap_or_default();
    match (input.shipment_id, input.ticket_id) {
        (Some(_), Some(_)) => f.push("ticket_id", "a survey is about one delivery or one ticket, not both"),
        (None, None) => f.push("shipment_id", "name the delivery (shipment_id) or the ticket (ticket_id) it is about"),
        _ => {}
    }
    let responded_at = input.responded_at.unwrap_or(now);
    if responded_at > now + chrono::Duration::minutes(5) {
        f.push("responded_at", "must not be in the future");
    }
    f.finish()?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let customer = if let Some(s) = input.shipment_id {
        let found = crate::store::trade::get_shipments(&tx, &[s]).await?;
        let Some((sh, _)) = found.into_iter().next() else {
            return Err(AppError::field("shipment_id", "no such delivery"));
        };
        if sh.side != TradeSide::Sales || sh.kind != "delivery" {
            return Err(AppError::field(
                "shipment_id",
                format!("{} is not a delivery to a customer (surveys follow deliveries)", sh.number),
            ));
        }
        if responded_at < sh.created_at {
            return Err(AppError::field("responded_at", format!("is before delivery {} was made", sh.number)));
        }
        sh.party_id
    } else {
        let id = input.ticket_id.unwrap_or_default();
        let t =
            store::get_ticket(&tx, id, false).await?.ok_or_else(|| AppError::field("ticket_id", "no such ticket"))?;
        if !matches!(t.status.as_str(), "resolved" | "closed") {
            return Err(AppError::InvalidState {
                entity: "ticket",
                state: t.status,
                action: "surveyed (resolve it first)",
            });
        }
        if let Some(why) = &t.close_reason {
            return Err(AppError::field(
                "ticket_id",
                format!("{} was closed without being resolved ({why}): there is no service to rate", t.number),
            ));
        }
        if t.resolved_at.is_some_and(|r| responded_at < r) {
            return Err(AppError::field("responded_at", format!("is before {} was resolved", t.number)));
        }
        t.customer_id
    };
    if let Some(s) = store::survey_about(&tx, input.shipment_id, input.ticket_id).await? {
        return Err(AppError::Conflict(format!(
            "the customer already answered a survey about this {} ({} of 5 on {})",
            if input.shipment_id.is_some() { "delivery" } else { "ticket" },
            s.score,
            s.responded_at.date_naive()
        )));
    }
    let s = Survey {
        id: Uuid::now_v7(),
        customer_id: customer,
        shipment_id: input.shipment_id,
        ticket_id: input.ticket_id,
        score,
        comment,
        responded_at,
        created_by: Some(ctx.principal.actor_uuid()),
    };
    store::insert_survey(&tx, &s).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "survey.create",
            "survey",
            Some(s.id.to_string()),
            None,
            Some(serde_json::json!({"customer_id": s.customer_id, "shipment_id": s.shipment_id,
                "ticket_id": s.ticket_id, "score": s.score})),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

pub async fn get_survey(app: &AppState, tenant: TenantId, id: Uuid) -> AppResult<Survey> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let s = store::get_survey(&tx, id).await?.ok_or(AppError::NotFound { entity: "survey" })?;
    tx.commit().await?;
    Ok(s)
}

pub async fn list_surveys(app: &AppState, tenant: TenantId, f: &SurveyFilter, page: &Page) -> AppResult<Vec<Survey>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = store::list_surveys(&tx, f, page).await?;
    tx.commit().await?;
    Ok(r)
}

// ================================================================ reports

/// A window of whole days grouped into periods: at most 400 of them.
pub struct Window {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub period: Period,
}

impl Window {
    /// Defaults: up to today, from the first day of the month five months before (six months).
    pub fn new(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        period: Option<&str>,
        today: NaiveDate,
    ) -> AppResult<Window> {
        let mut f = Fields::new();
        let period = match period {
            None => Period::Month,
            Some(p) => Period::parse(p).unwrap_or_else(|| {
                f.push("period", "must be day, week or month");
                Period::Month
            }),
        };
        let to = to.unwrap_or(today);
        let from =
            from.unwrap_or_else(|| Period::Month.start(to).checked_sub_months(chrono::Months::new(5)).unwrap_or(to));
        if from > to {
            f.push("from", "must not be after to");
        } else if period.count(from, to) > 400 {
            f.push("period", "more than 400 periods: choose a longer period or a shorter window");
        }
        f.finish()?;
        Ok(Window { from, to, period })
    }

    fn bucket(&self, at: DateTime<Utc>) -> Option<NaiveDate> {
        let d = at.date_naive();
        (self.from..=self.to).contains(&d).then(|| self.period.start(d))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Scores {
    pub responses: i64,
    pub total: i64,
    /// How many answered 1, 2, 3, 4 and 5.
    pub by_score: [i64; 5],
}

impl Scores {
    fn add(&mut self, score: i32) {
        self.responses += 1;
        self.total += i64::from(score);
        if let Some(n) = usize::try_from(score - 1).ok().and_then(|i| self.by_score.get_mut(i)) {
            *n += 1;
        }
    }

    pub fn average(&self) -> Option<Decimal> {
        rules::average(self.total, self.responses)
    }
}

#[derive(Clone, Debug, Default)]
pub struct SatisfactionPeriod {
    pub all: Scores,
    pub deliveries: Scores,
    pub tickets: Scores,
}

/// Survey scores per period (all, after deliveries, after tickets) and over the window.
pub async fn satisfaction(
    app: &AppState,
    tenant: TenantId,
    w: &Window,
    customer: Option<Uuid>,
) -> AppResult<(BTreeMap<NaiveDate, SatisfactionPeriod>, SatisfactionPeriod)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rows =
        store::surveys_in(&tx, &SurveyFilter { customer_id: customer, from: Some(w.from), to: Some(w.to) }).await?;
    tx.commit().await?;
    let mut periods: BTreeMap<NaiveDate, SatisfactionPeriod> =
        w.period.starts(w.from, w.to).into_iter().map(|d| (d, SatisfactionPeriod::default())).collect();
    let mut all = SatisfactionPeriod::default();
    for s in rows {
        let Some(p) = w.bucket(s.responded_at).and_then(|d| periods.get_mut(&d)) else { continue };
        for x in [p, &mut all] {
            x.all.add(s.score);
            if s.ticket_id.is_some() { x.tickets.add(s.score) } else { x.deliveries.add(s.score) }
        }
    }
    Ok((periods, all))
}

#[derive(Clone, Debug, Default)]
pub struct ServicePeriod {
    pub opened: i64,
    /// Resolved in the period (not counting those closed without resolving).
    pub resolved: i64,
    pub closed: i64,
    /// Of the tickets opened in the period: first response late or still missing past due.
    /// (Figures are as the tickets stand now: a reopened ticket no longer counts as resolved
    /// in the period it was first resolved in.)
    pub response_breached: i64,
    /// Of the tickets opened in the period: resolution late or still missing past due.
    pub resolution_breached: i64,
    first_response_seconds: i64,
    first_responses: i64,
    resolution_seconds: i64,
    pub survey: Scores,
}

impl ServicePeriod {
    /// Average minutes to the first response, over the tickets opened in the period that had one.
    pub fn average_first_response_minutes(&self) -> Option<Decimal> {
        rules::average(self.first_response_seconds, self.first_responses * 60)
    }

    /// Average minutes from opening to resolution, waits on the customer left out, over the
    /// tickets resolved in the period.
    pub fn average_resolution_minutes(&self) -> Option<Decimal> {
        rules::average(self.resolution_seconds, self.resolved * 60)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Backlog {
    /// Not yet resolved, per status and per priority.
    pub by_status: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub unassigned: i64,
    /// Not yet resolved with a target breached now.
    pub breached: i64,
}

/// The service desk per period (opened, resolved, closed, SLA breaches, average response and
/// resolution times, satisfaction after tickets) and the backlog now.
pub async fn service_report(
    app: &AppState,
    tenant: TenantId,
    w: &Window,
) -> AppResult<(BTreeMap<NaiveDate, ServicePeriod>, Backlog)> {
    let now = app.now();
    let tx = app.store.begin(tenant, Access::Read).await?;
    let tickets = store::tickets_touched(&tx, w.from, w.to).await?;
    let surveys =
        store::surveys_in(&tx, &SurveyFilter { customer_id: None, from: Some(w.from), to: Some(w.to) }).await?;
    tx.commit().await?;
    let mut periods: BTreeMap<NaiveDate, ServicePeriod> =
        w.period.starts(w.from, w.to).into_iter().map(|d| (d, ServicePeriod::default())).collect();
    let mut backlog = Backlog::default();
    for t in &tickets {
        let clock = t.clock();
        if let Some(p) = w.bucket(t.created_at).and_then(|d| periods.get_mut(&d)) {
            p.opened += 1;
            p.response_breached += i64::from(clock.response_breached(now));
            p.resolution_breached += i64::from(clock.resolution_breached(now));
            if let Some(r) = t.first_response_at {
                p.first_response_seconds += (r - t.created_at).num_seconds().max(0);
                p.first_responses += 1;
            }
        }
        if let Some(r) = t.resolved_at
            && t.close_reason.is_none()
            && let Some(p) = w.bucket(r).and_then(|d| periods.get_mut(&d))
        {
            p.resolved += 1;
            p.resolution_seconds += ((r - t.created_at).num_seconds() - t.paused_seconds).max(0);
        }
        if let Some(c) = t.closed_at
            && let Some(p) = w.bucket(c).and_then(|d| periods.get_mut(&d))
        {
            p.closed += 1;
        }
        if matches!(t.status.as_str(), "open" | "in_progress" | "waiting") {
            *backlog.by_status.entry(t.status.clone()).or_default() += 1;
            *backlog.by_priority.entry(t.priority.clone()).or_default() += 1;
            backlog.unassigned += i64::from(t.assignee_id.is_none());
            backlog.breached += i64::from(clock.response_breached(now) || clock.resolution_breached(now));
        }
    }
    for s in surveys.iter().filter(|s| s.ticket_id.is_some()) {
        if let Some(p) = w.bucket(s.responded_at).and_then(|d| periods.get_mut(&d)) {
            p.survey.add(s.score);
        }
    }
    Ok((periods, backlog))
}

/// What customer 360 shows of the service desk: tickets not yet resolved, and the customer's
/// satisfaction over all its answers.
pub(crate) async fn customer_service(
    tx: &TenantTx<'_>,
    customer: Uuid,
) -> AppResult<(Vec<Ticket>, i64, Option<Decimal>)> {
    let active = store::active_tickets_of(tx, customer, 20).await?;
    let (n, sum) = store::survey_totals_of(tx, customer).await?;
    Ok((active, n, rules::average(sum, n)))
}
