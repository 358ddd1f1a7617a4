//! The service desk: SLA targets, tickets (notes and status actions), satisfaction surveys,
//! and the service-desk and satisfaction reports.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, Authorized, CrmApprove, CrmRead, CrmWrite, IfMatch, etag, page, paginate};
use super::ledger::double_option;
use super::problem::Problem;
use super::views::ListResponse;
use crate::app::{AppState, service as app};
use crate::domain::service::Action;
use crate::error::AppError;
use crate::store::retrying;
use crate::store::service::{Note, Sla, Survey, SurveyFilter, Ticket, TicketFilter};

// ================================================================ SLA targets

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    /// low | normal | high | urgent
    pub priority: String,
    /// Minutes from opening to the first customer-visible answer.
    pub response_minutes: i64,
    /// Minutes from opening to resolution (time waiting on the customer not counted).
    pub resolution_minutes: i64,
}

fn sla_view(s: Sla) -> SlaTarget {
    SlaTarget {
        priority: s.priority,
        response_minutes: i64::from(s.response_minutes),
        resolution_minutes: i64::from(s.resolution_minutes),
    }
}

/// The response and resolution targets per priority (defaults until the tenant sets its own).
#[utoipa::path(tag = "service", operation_id = "get_ticket_slas", responses((status = 200, body = ListResponse<SlaTarget>)))]
#[get("/ticket-slas")]
pub async fn get_slas(app: web::Data<AppState>, auth: Authorized<CrmRead>) -> Result<HttpResponse, AppError> {
    let rows = app::slas(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(sla_view).collect(), next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlasBody {
    /// Every priority exactly once.
    pub targets: Vec<SlaTarget>,
}

/// Replace the targets (crm approve). They apply to tickets opened, or given another priority,
/// from now on.
#[utoipa::path(tag = "service", operation_id = "put_ticket_slas", request_body = SlasBody,
    responses((status = 200, body = ListResponse<SlaTarget>), (status = 422, body = Problem)))]
#[put("/ticket-slas")]
pub async fn put_slas(
    app: web::Data<AppState>,
    auth: Authorized<CrmApprove>,
    body: ApiJson<SlasBody>,
) -> Result<HttpResponse, AppError> {
    let input: Vec<app::SlaInput> = body
        .0
        .targets
        .into_iter()
        .map(|t| app::SlaInput {
            priority: t.priority,
            response_minutes: t.response_minutes,
            resolution_minutes: t.resolution_minutes,
        })
        .collect();
    let ctx = auth.ctx();
    let rows = retrying(|| app::put_slas(&app, &ctx, input.clone())).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(sla_view).collect(), next_cursor: None }))
}

// ================================================================ tickets

#[derive(Serialize, ToSchema)]
pub struct NoteView {
    pub seq: i32,
    /// internal (the team's) | customer (an answer the customer sees)
    pub visibility: String,
    pub body: String,
    pub author_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        Self { seq: n.seq, visibility: n.visibility, body: n.body, author_id: n.author_id, created_at: n.created_at }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TicketView {
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
    /// Opening plus the resolution target plus the time spent waiting on the customer.
    pub resolution_due_at: DateTime<Utc>,
    /// The first customer-visible note.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When the work ended (resolved, or closed without resolving).
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// While waiting on the customer: since when (the resolution clock stands still).
    pub waiting_since: Option<DateTime<Utc>>,
    /// Why it was closed without being resolved.
    pub close_reason: Option<String>,
    /// The first response was late, or is missing past its due time, now.
    pub response_breached: bool,
    /// The resolution was late, or is missing past its due time, now.
    pub resolution_breached: bool,
    /// On a single ticket: its notes, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<NoteView>>,
    pub version: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn ticket_view(t: Ticket, notes: Option<Vec<Note>>, now: DateTime<Utc>) -> TicketView {
    let clock = t.clock();
    TicketView {
        id: t.id,
        number: t.number,
        customer_id: t.customer_id,
        order_id: t.order_id,
        item_id: t.item_id,
        subject: t.subject,
        description: t.description,
        priority: t.priority,
        status: t.status,
        assignee_id: t.assignee_id,
        response_due_at: t.response_due_at,
        resolution_due_at: t.resolution_due_at,
        first_response_at: t.first_response_at,
        resolved_at: t.resolved_at,
        closed_at: t.closed_at,
        waiting_since: t.waiting_since,
        close_reason: t.close_reason,
        response_breached: clock.response_breached(now),
        resolution_breached: clock.resolution_breached(now),
        notes: notes.map(|n| n.into_iter().map(NoteView::from).collect()),
        version: t.version,
        created_by: t.created_by,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

fn ticket_response(app: &AppState, status: StatusCode, t: Ticket, notes: Option<Vec<Note>>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/tickets/{}", t.id)))
        .insert_header(etag(t.version))
        .json(ticket_view(t, notes, app.now()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    pub customer_id: Uuid,
    /// One of the customer's sales orders (or quotations) it is about.
    pub order_id: Option<Uuid>,
    /// The item it is about.
    pub item_id: Option<Uuid>,
    pub subject: String,
    pub description: Option<String>,
    /// low | normal | high | urgent (default normal)
    pub priority: Option<String>,
    pub assignee_id: Option<Uuid>,
}

/// Open a ticket for a customer. Its response and resolution due times come from the
/// priority's targets.
#[utoipa::path(tag = "service", operation_id = "create_ticket", request_body = TicketRequest,
    responses((status = 201, body = TicketView), (status = 422, body = Problem)))]
#[post("/tickets")]
pub async fn create_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    body: ApiJson<TicketRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::TicketInput {
        customer_id: Some(b.customer_id),
        order_id: Some(b.order_id),
        item_id: Some(b.item_id),
        subject: Some(b.subject),
        description: b.description,
        priority: b.priority,
        assignee_id: Some(b.assignee_id),
    };
    let ctx = auth.ctx();
    let t = retrying(|| app::create_ticket(&app, &ctx, input.clone())).await?;
    Ok(ticket_response(&app, StatusCode::CREATED, t, Some(Vec::new())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub description: Option<String>,
    /// Sets the due times again from this priority's targets.
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub order_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub item_id: Option<Option<Uuid>>,
    /// Refused: a ticket stays with its customer.
    pub customer_id: Option<Uuid>,
}

/// Edit or assign a ticket that is not closed (If-Match); its status changes by actions.
#[utoipa::path(tag = "service", operation_id = "update_ticket", request_body = TicketPatch,
    responses((status = 200, body = TicketView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/tickets/{id}")]
pub async fn update_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<TicketPatch>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::TicketInput {
        customer_id: b.customer_id,
        order_id: b.order_id,
        item_id: b.item_id,
        subject: b.subject,
        description: b.description,
        priority: b.priority,
        assignee_id: b.assignee_id,
    };
    let ctx = auth.ctx();
    let t = retrying(|| app::update_ticket(&app, &ctx, *id, if_match.0, input.clone())).await?;
    Ok(ticket_response(&app, StatusCode::OK, t, None))
}

/// One ticket with its notes and SLA flags.
#[utoipa::path(tag = "service", operation_id = "get_ticket", responses((status = 200, body = TicketView), (status = 404, body = Problem)))]
#[get("/tickets/{id}")]
pub async fn get_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (t, notes) = app::get_ticket(&app, auth.tenant_id(), *id).await?;
    Ok(ticket_response(&app, StatusCode::OK, t, Some(notes)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// A status, or `active` for open, in progress and waiting.
    pub status: Option<String>,
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub item_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    /// Only tickets nobody is assigned to.
    #[serde(default)]
    pub unassigned: bool,
    pub priority: Option<String>,
    /// Only tickets with a target breached now.
    #[serde(default)]
    pub breached: bool,
    /// Number or subject contains.
    pub q: Option<String>,
}

/// Tickets, the latest opened first.
#[utoipa::path(tag = "service", operation_id = "list_tickets", params(TicketQuery),
    responses((status = 200, body = ListResponse<TicketView>), (status = 422, body = Problem)))]
#[get("/tickets")]
pub async fn list_tickets(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<TicketQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let now = app.now();
    let f = TicketFilter {
        status: q.status,
        customer_id: q.customer_id,
        order_id: q.order_id,
        item_id: q.item_id,
        assignee_id: q.assignee_id,
        unassigned: q.unassigned,
        priority: q.priority,
        breached: q.breached.then_some(now),
        q: q.q,
    };
    let rows = app::list_tickets(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |t| t.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|t| ticket_view(t, None, now)).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// internal | customer
    pub visibility: String,
    pub body: String,
}

/// Add a note. A customer-visible note is an answer to the customer: the first one meets the
/// response target.
#[utoipa::path(tag = "service", operation_id = "add_ticket_note", request_body = NoteBody,
    responses((status = 201, body = TicketView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/tickets/{id}/notes")]
pub async fn add_note(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<NoteBody>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let (t, notes) = retrying(|| app::add_note(&app, &ctx, *id, &body.0.visibility, &body.0.body)).await?;
    Ok(ticket_response(&app, StatusCode::CREATED, t, Some(notes)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TicketActionBody {
    /// Resolve or wait: what the customer is told, added as a customer-visible note (on
    /// resolve, required when the customer has had no answer yet). Refused on other actions.
    pub note: Option<String>,
    /// Close before resolving: why (a duplicate, spam). Refused on other actions.
    pub reason: Option<String>,
}

async fn act(
    app: &AppState,
    auth: &Authorized<CrmWrite>,
    id: Uuid,
    action: Action,
    body: TicketActionBody,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let t = retrying(|| {
        app::act(app, &ctx, id, action, app::ActionInput { note: body.note.clone(), reason: body.reason.clone() })
    })
    .await?;
    Ok(ticket_response(app, StatusCode::OK, t, None))
}

/// Start work on a ticket (open or waiting); whoever starts it takes it if nobody has.
#[utoipa::path(tag = "service", operation_id = "start_ticket", request_body = TicketActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem)))]
#[post("/tickets/{id}/start")]
pub async fn start_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TicketActionBody>,
) -> Result<HttpResponse, AppError> {
    act(&app, &auth, *id, Action::Start, body.0).await
}

/// Wait on the customer: the resolution clock stops until work goes on.
#[utoipa::path(tag = "service", operation_id = "wait_ticket", request_body = TicketActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem)))]
#[post("/tickets/{id}/wait")]
pub async fn wait_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TicketActionBody>,
) -> Result<HttpResponse, AppError> {
    act(&app, &auth, *id, Action::Wait, body.0).await
}

/// Resolved: meets the resolution target; `note` tells the customer how.
#[utoipa::path(tag = "service", operation_id = "resolve_ticket", request_body = TicketActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/tickets/{id}/resolve")]
pub async fn resolve_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TicketActionBody>,
) -> Result<HttpResponse, AppError> {
    act(&app, &auth, *id, Action::Resolve, body.0).await
}

/// Close: a resolved ticket, or one that needs no work with a `reason`. Closed is final.
#[utoipa::path(tag = "service", operation_id = "close_ticket", request_body = TicketActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/tickets/{id}/close")]
pub async fn close_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TicketActionBody>,
) -> Result<HttpResponse, AppError> {
    act(&app, &auth, *id, Action::Close, body.0).await
}

/// Reopen a resolved ticket; the time it stood resolved is added to its resolution target.
#[utoipa::path(tag = "service", operation_id = "reopen_ticket", request_body = TicketActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem)))]
#[post("/tickets/{id}/reopen")]
pub async fn reopen_ticket(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<TicketActionBody>,
) -> Result<HttpResponse, AppError> {
    act(&app, &auth, *id, Action::Reopen, body.0).await
}

// ================================================================ surveys

#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The delivery it is about...
    pub shipment_id: Option<Uuid>,
    /// ...or the ticket.
    pub ticket_id: Option<Uuid>,
    /// 1 (very unhappy) to 5 (very happy).
    pub score: i32,
    pub comment: String,
    pub responded_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<Survey> for SurveyView {
    fn from(s: Survey) -> Self {
        Self {
            id: s.id,
            customer_id: s.customer_id,
            shipment_id: s.shipment_id,
            ticket_id: s.ticket_id,
            score: s.score,
            comment: s.comment,
            responded_at: s.responded_at,
            created_by: s.created_by,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveyRequest {
    /// A delivery to the customer...
    pub shipment_id: Option<Uuid>,
    /// ...or a resolved or closed ticket.
    pub ticket_id: Option<Uuid>,
    /// A whole number from 1 to 5.
    pub score: i64,
    pub comment: Option<String>,
    /// Default: now.
    pub responded_at: Option<DateTime<Utc>>,
}

/// Record a customer's satisfaction with one delivery or one finished ticket (one answer each).
#[utoipa::path(tag = "service", operation_id = "create_survey", request_body = SurveyRequest,
    responses((status = 201, body = SurveyView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/surveys")]
pub async fn create_survey(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    body: ApiJson<SurveyRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::SurveyInput {
        shipment_id: b.shipment_id,
        ticket_id: b.ticket_id,
        score: b.score,
        comment: b.comment,
        responded_at: b.responded_at,
    };
    let ctx = auth.ctx();
    let s = retrying(|| app::create_survey(&app, &ctx, input.clone())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/surveys/{}", s.id)))
        .json(SurveyView::from(s)))
}

#[utoipa::path(tag = "service", operation_id = "get_survey", responses((status = 200, body = SurveyView), (status = 404, body = Problem)))]
#[get("/surveys/{id}")]
pub async fn get_survey(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let s = app::get_survey(&app, auth.tenant_id(), *id).await?;
    Ok(HttpResponse::Ok().json(SurveyView::from(s)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SurveyQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub customer_id: Option<Uuid>,
    /// Answered on or after this day.
    pub from: Option<NaiveDate>,
    /// ...and on or before this day.
    pub to: Option<NaiveDate>,
}

/// Survey answers, the latest recorded first.
#[utoipa::path(tag = "service", operation_id = "list_surveys", params(SurveyQuery), responses((status = 200, body = ListResponse<SurveyView>)))]
#[get("/surveys")]
pub async fn list_surveys(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<SurveyQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = SurveyFilter { customer_id: q.customer_id, from: q.from, to: q.to };
    let rows = app::list_surveys(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |s| s.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(SurveyView::from).collect(), next_cursor }))
}

// ================================================================ reports

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day (default: the first of the month five months before `to`).
    pub from: Option<NaiveDate>,
    /// Last day (default: today, UTC).
    pub to: Option<NaiveDate>,
    /// day | week (Monday first) | month (default)
    pub period: Option<String>,
    /// Satisfaction only: one customer's answers.
    pub customer_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct ScoresView {
    pub responses: i64,
    /// To 2 places (absent without answers).
    pub average: Option<String>,
    /// How many answered 1, 2, 3, 4 and 5.
    pub by_score: [i64; 5],
}

fn scores(s: &app::Scores) -> ScoresView {
    ScoresView { responses: s.responses, average: s.average().map(|a| format!("{a:.2}")), by_score: s.by_score }
}

#[derive(Serialize, ToSchema)]
pub struct SatisfactionPeriodView {
    /// The period's first day.
    pub period_start: NaiveDate,
    pub all: ScoresView,
    pub after_deliveries: ScoresView,
    pub after_tickets: ScoresView,
}

#[derive(Serialize, ToSchema)]
pub struct SatisfactionView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub period: String,
    pub periods: Vec<SatisfactionPeriodView>,
    /// Over the whole window.
    pub total: SatisfactionPeriodView,
}

fn window(app: &AppState, q: &PeriodQuery) -> Result<app::Window, AppError> {
    app::Window::new(q.from, q.to, q.period.as_deref(), app.now().date_naive())
}

/// Customer satisfaction per period: answers and average score, after deliveries and after
/// tickets.
#[utoipa::path(tag = "service", operation_id = "satisfaction_report", params(PeriodQuery),
    responses((status = 200, body = SatisfactionView), (status = 422, body = Problem)))]
#[get("/reports/satisfaction")]
pub async fn satisfaction(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let w = window(&app, &q)?;
    let (periods, total) = app::satisfaction(&app, auth.tenant_id(), &w, q.customer_id).await?;
    let view = |d: NaiveDate, p: &app::SatisfactionPeriod| SatisfactionPeriodView {
        period_start: d,
        all: scores(&p.all),
        after_deliveries: scores(&p.deliveries),
        after_tickets: scores(&p.tickets),
    };
    Ok(HttpResponse::Ok().json(SatisfactionView {
        from: w.from,
        to: w.to,
        period: q.period.clone().unwrap_or_else(|| "month".into()),
        periods: periods.iter().map(|(d, p)| view(*d, p)).collect(),
        total: view(w.from, &total),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ServicePeriodView {
    pub period_start: NaiveDate,
    pub opened: i64,
    /// Resolved in the period (those closed without resolving count only as closed).
    pub resolved: i64,
    pub closed: i64,
    /// Of the tickets opened in the period, those whose first response was late or is missing
    /// past due.
    pub response_breached: i64,
    /// Of the tickets opened in the period, those whose resolution was late or is missing past
    /// due.
    pub resolution_breached: i64,
    /// Over tickets opened in the period that were answered, to 2 places.
    pub average_first_response_minutes: Option<String>,
    /// Over tickets resolved in the period, time waiting on the customer left out.
    pub average_resolution_minutes: Option<String>,
    /// Survey answers after tickets, given in the period.
    pub satisfaction: ScoresView,
}

#[derive(Serialize, ToSchema)]
pub struct CountView {
    pub key: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BacklogView {
    /// Tickets not yet resolved.
    pub active: i64,
    pub by_status: Vec<CountView>,
    pub by_priority: Vec<CountView>,
    pub unassigned: i64,
    /// Not yet resolved with a target breached now.
    pub breached: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceDeskView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub period: String,
    pub periods: Vec<ServicePeriodView>,
    /// Now, whatever the window.
    pub backlog: BacklogView,
}

/// The service desk per period: tickets opened, resolved and closed, SLA breaches, average
/// first response and resolution times, satisfaction after tickets; and the backlog now.
#[utoipa::path(tag = "service", operation_id = "service_desk_report", params(PeriodQuery),
    responses((status = 200, body = ServiceDeskView), (status = 422, body = Problem)))]
#[get("/reports/service-desk")]
pub async fn service_desk(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    if q.customer_id.is_some() {
        return Err(AppError::field("customer_id", "filters the satisfaction report only"));
    }
    let w = window(&app, &q)?;
    let (periods, b) = app::service_report(&app, auth.tenant_id(), &w).await?;
    let counts = |m: std::collections::BTreeMap<String, i64>| {
        m.into_iter().map(|(key, count)| CountView { key, count }).collect()
    };
    Ok(HttpResponse::Ok().json(ServiceDeskView {
        from: w.from,
        to: w.to,
        period: q.period.clone().unwrap_or_else(|| "month".into()),
        periods: periods
            .into_iter()
            .map(|(d, p)| ServicePeriodView {
                period_start: d,
                opened: p.opened,
                resolved: p.resolved,
                closed: p.closed,
                response_breached: p.response_breached,
                resolution_breached: p.resolution_breached,
                average_first_response_minutes: p.average_first_response_minutes().map(|m| format!("{m:.2}")),
                average_resolution_minutes: p.average_resolution_minutes().map(|m| format!("{m:.2}")),
                satisfaction: scores(&p.survey),
            })
            .collect(),
        backlog: BacklogView {
            active: b.by_status.values().sum(),
            by_status: counts(b.by_status),
            by_priority: counts(b.by_priority),
            unassigned: b.unassigned,
            breached: b.breached,
        },
    }))
}
