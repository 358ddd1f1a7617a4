//! CRM: lead assignment rules, leads (create with de-duplication, edit, lose, convert),
//! pipeline stages, opportunities (move, win, lose, quote), activities and follow-ups.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, Authorized, CrmApprove, CrmRead, CrmWrite, IfMatch, etag, page, paginate};
use super::ledger::double_option;
use super::problem::Problem;
use super::receivables::PartyView;
use super::trade::{OrderRequest, OrderView, order_view};
use super::views::ListResponse;
use crate::app::{AppState, crm as app};
use crate::domain::decimal::{Money, Rate};
use crate::error::AppError;
use crate::store::crm::{
    Activity, ActivityFilter, Lead, LeadFilter, Opportunity, OpportunityFilter, PipelineStage, Rule, Visit,
};
use crate::store::{day_after, day_start, retrying};

// ================================================================ assignment rules

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// `round_robin` (every lead), `region` (the lead's region equals `match_value`) or `tag`
    /// (the lead carries the tag `match_value`).
    pub kind: String,
    pub match_value: Option<String>,
    /// The users who take turns.
    pub user_ids: Vec<Uuid>,
    /// Default true.
    pub is_active: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct RuleView {
    pub id: Uuid,
    pub position: i32,
    pub kind: String,
    pub match_value: Option<String>,
    pub user_ids: Vec<Uuid>,
    /// Whose turn is next, as a position in `user_ids`.
    pub next_index: i32,
    pub is_active: bool,
}

fn rule_view(r: Rule) -> RuleView {
    let n = r.user_ids.len().max(1) as i64;
    RuleView {
        id: r.id,
        position: r.position,
        kind: r.kind,
        match_value: r.match_value,
        next_index: i32::try_from(i64::from(r.next_index).rem_euclid(n)).unwrap_or(0),
        user_ids: r.user_ids,
        is_active: r.is_active,
    }
}

/// The rules that assign new leads without an owner, in the order they are tried.
#[utoipa::path(tag = "crm", operation_id = "get_lead_assignment_rules", responses((status = 200, body = ListResponse<RuleView>)))]
#[get("/lead-assignment-rules")]
pub async fn get_rules(app: web::Data<AppState>, auth: Authorized<CrmRead>) -> Result<HttpResponse, AppError> {
    let rows = app::assignment_rules(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(rule_view).collect(), next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    pub rules: Vec<RuleBody>,
}

/// Replace the assignment rules (a manager's job: crm approve). The first rule that matches a
/// new lead assigns it to the next of its users in turn.
#[utoipa::path(tag = "crm", operation_id = "put_lead_assignment_rules", request_body = RulesBody,
    responses((status = 200, body = ListResponse<RuleView>), (status = 422, body = Problem)))]
#[put("/lead-assignment-rules")]
pub async fn put_rules(
    app: web::Data<AppState>,
    auth: Authorized<CrmApprove>,
    body: ApiJson<RulesBody>,
) -> Result<HttpResponse, AppError> {
    let input = body
        .0
        .rules
        .into_iter()
        .map(|r| app::RuleInput {
            kind: r.kind,
            match_value: r.match_value,
            user_ids: r.user_ids,
            is_active: r.is_active,
        })
        .collect();
    let rows = app::put_assignment_rules(&app, &auth.ctx(), input).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(rule_view).collect(), next_cursor: None }))
}

// ================================================================ leads

#[derive(Serialize, ToSchema)]
pub struct LeadView {
    pub id: Uuid,
    pub number: String,
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// website | phone | referral | trade_show | import | other
    pub source: String,
    pub region: Option<String>,
    pub tags: Vec<String>,
    /// new | contacted | qualified | converted | lost
    pub status: String,
    pub owner_id: Option<Uuid>,
    pub lost_reason: Option<String>,
    pub memo: String,
    pub customer_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub converted_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Lead> for LeadView {
    fn from(l: Lead) -> Self {
        Self {
            id: l.id,
            number: l.number,
            name: l.name,
            company: l.company,
            email: l.email,
            phone: l.phone,
            source: l.source,
            region: l.region,
            tags: l.tags,
            status: l.status,
            owner_id: l.owner_id,
            lost_reason: l.lost_reason,
            memo: l.memo,
            customer_id: l.customer_id,
            opportunity_id: l.opportunity_id,
            converted_at: l.converted_at,
            version: l.version,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

fn lead_response(status: StatusCode, l: Lead) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/leads/{}", l.id)))
        .insert_header(etag(l.version))
        .json(LeadView::from(l))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadRequest {
    /// The person.
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// website | phone | referral | trade_show | import | other (default other)
    pub source: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Default: the assignment rules decide.
    pub owner_id: Option<Uuid>,
    pub memo: Option<String>,
    /// Keep it even if another lead or a customer has the same email or phone.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Add a lead. One whose email or phone (compared as digits, `+86` and `0086` ignored) another
/// open lead, or whose email a customer, already has is refused with 409 naming it, unless
/// `allow_duplicate`.
#[utoipa::path(tag = "crm", operation_id = "create_lead", request_body = LeadRequest,
    responses((status = 201, body = LeadView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/leads")]
pub async fn create_lead(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    body: ApiJson<LeadRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::LeadInput {
        name: Some(b.name),
        company: Some(b.company),
        email: Some(b.email),
        phone: Some(b.phone),
        source: b.source,
        region: Some(b.region),
        tags: Some(b.tags),
        owner_id: Some(b.owner_id),
        status: None,
        memo: b.memo,
    };
    let ctx = auth.ctx();
    let l = retrying(|| app::create_lead(&app, &ctx, input.clone(), b.allow_duplicate)).await?;
    Ok(lead_response(StatusCode::CREATED, l))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub source: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// new, contacted or qualified (convert or lose with their actions).
    pub status: Option<String>,
    pub memo: Option<String>,
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Edit an open lead (If-Match).
#[utoipa::path(tag = "crm", operation_id = "update_lead", request_body = LeadPatch,
    responses((status = 200, body = LeadView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/leads/{id}")]
pub async fn update_lead(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<LeadPatch>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::LeadInput {
        name: b.name,
        company: b.company,
        email: b.email,
        phone: b.phone,
        source: b.source,
        region: b.region,
        tags: b.tags,
        owner_id: b.owner_id,
        status: b.status,
        memo: b.memo,
    };
    let l = app::update_lead(&app, &auth.ctx(), *id, if_match.0, input, b.allow_duplicate).await?;
    Ok(lead_response(StatusCode::OK, l))
}

#[utoipa::path(tag = "crm", operation_id = "get_lead", responses((status = 200, body = LeadView), (status = 404, body = Problem)))]
#[get("/leads/{id}")]
pub async fn get_lead(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(lead_response(StatusCode::OK, app::get_lead(&app, auth.tenant_id(), *id).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LeadQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub owner_id: Option<Uuid>,
    pub source: Option<String>,
    /// Searches name, company, number, email and phone.
    pub q: Option<String>,
}

#[utoipa::path(tag = "crm", operation_id = "list_leads", params(LeadQuery), responses((status = 200, body = ListResponse<LeadView>)))]
#[get("/leads")]
pub async fn list_leads(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<LeadQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = LeadFilter {
        status: q.status,
        owner_id: q.owner_id,
        source: q.source,
        q: q.q.filter(|s| !s.trim().is_empty()),
    };
    let rows = app::list_leads(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |l| l.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(LeadView::from).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: Option<String>,
}

/// The lead went nowhere: say why.
#[utoipa::path(tag = "crm", operation_id = "lose_lead", request_body = ReasonBody,
    responses((status = 200, body = LeadView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/leads/{id}/lose")]
pub async fn lose_lead(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    Ok(lead_response(StatusCode::OK, app::lose_lead(&app, &auth.ctx(), *id, body.0.reason).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    /// An existing customer to attach the lead to; default: a new customer from the lead.
    pub customer_id: Option<Uuid>,
    /// The new customer's code (default: the lead's number).
    pub customer_code: Option<String>,
    pub opportunity: OpportunityRequest,
}

#[derive(Serialize, ToSchema)]
pub struct ConvertView {
    pub lead: LeadView,
    pub customer: PartyView,
    pub opportunity: OpportunityView,
}

/// Convert a lead in one step (needs customer write too): a customer (new, or the one named) with the lead's person as a
/// contact, an opportunity at the first stage, and the lead's activities carried over.
#[utoipa::path(tag = "crm", operation_id = "convert_lead", request_body = ConvertRequest,
    responses((status = 201, body = ConvertView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    _customers: Authorized<super::extract::CustomersWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ConvertRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::ConvertInput {
        customer_id: b.customer_id,
        customer_code: b.customer_code,
        opportunity: b.opportunity.into_input(),
    };
    let c = app::convert_lead(&app, &auth.ctx(), *id, input).await?;
    Ok(HttpResponse::Created().json(ConvertView {
        lead: c.lead.into(),
        customer: c.customer.into(),
        opportunity: opportunity_view(c.opportunity, Vec::new()),
    }))
}

// ================================================================ pipeline stages

#[derive(Serialize, ToSchema)]
pub struct StageView {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub position: i32,
    #[schema(example = "0.500000")]
    pub probability: String,
    /// open | won | lost
    pub kind: String,
    /// Retired stages stay for history.
    pub is_active: bool,
}

fn stage_view(s: PipelineStage) -> StageView {
    StageView {
        id: s.id,
        code: s.code,
        name: s.name,
        position: s.position,
        probability: format!("{:.6}", s.probability),
        kind: s.kind,
        is_active: s.is_active,
    }
}

/// The tenant's pipeline, in order (made from the defaults the first time).
#[utoipa::path(tag = "crm", operation_id = "list_pipeline_stages", responses((status = 200, body = ListResponse<StageView>)))]
#[get("/pipeline-stages")]
pub async fn list_stages(app: web::Data<AppState>, auth: Authorized<CrmRead>) -> Result<HttpResponse, AppError> {
    let rows = retrying(|| app::stages(&app, auth.tenant_id())).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(stage_view).collect(), next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageBody {
    pub code: String,
    pub name: String,
    #[schema(value_type = String, example = "0.5")]
    pub probability: Rate,
    /// open | won | lost
    pub kind: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StagesBody {
    pub stages: Vec<StageBody>,
}

/// Replace the pipeline (crm approve): the stages in order, matched to the existing ones by
/// code. One won and one lost stage, at least one open; a stage left out is retired and must
/// hold no open opportunity.
#[utoipa::path(tag = "crm", operation_id = "put_pipeline_stages", request_body = StagesBody,
    responses((status = 200, body = ListResponse<StageView>), (status = 422, body = Problem)))]
#[put("/pipeline-stages")]
pub async fn put_stages(
    app: web::Data<AppState>,
    auth: Authorized<CrmApprove>,
    body: ApiJson<StagesBody>,
) -> Result<HttpResponse, AppError> {
    let input = body
        .0
        .stages
        .into_iter()
        .map(|s| app::StageInput { code: s.code, name: s.name, probability: s.probability.value(), kind: s.kind })
        .collect();
    let rows = app::put_stages(&app, &auth.ctx(), input).await?;
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(stage_view).collect(), next_cursor: None }))
}

// ================================================================ opportunities

#[derive(Serialize, ToSchema)]
pub struct VisitView {
    pub stage_id: Uuid,
    pub entered_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
    pub moved_by: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct OpportunityView {
    pub id: Uuid,
    pub number: String,
    pub name: String,
    pub customer_id: Uuid,
    pub lead_id: Option<Uuid>,
    pub contact_name: Option<String>,
    pub owner_id: Option<Uuid>,
    pub source: Option<String>,
    pub stage_id: Uuid,
    /// open | won | lost
    pub status: String,
    pub probability: String,
    pub currency: String,
    pub expected_amount: String,
    /// In the base currency.
    pub expected_base: String,
    /// Expected amount × probability, in the base currency.
    pub weighted_base: String,
    pub close_date: NaiveDate,
    /// Why it was won or lost.
    pub reason: Option<String>,
    pub memo: String,
    pub stage_entered_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub quotation_id: Option<Uuid>,
    pub sales_order_id: Option<Uuid>,
    /// Every stage it passed through (on single reads).
    pub stage_history: Vec<VisitView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn opportunity_view(o: Opportunity, visits: Vec<Visit>) -> OpportunityView {
    OpportunityView {
        id: o.id,
        number: o.number,
        name: o.name,
        customer_id: o.customer_id,
        lead_id: o.lead_id,
        contact_name: o.contact_name,
        owner_id: o.owner_id,
        source: o.source,
        stage_id: o.stage_id,
        status: o.status,
        probability: format!("{:.6}", o.probability),
        currency: o.currency,
        expected_amount: format!("{:.4}", o.expected_amount),
        expected_base: format!("{:.4}", o.expected_base),
        weighted_base: format!("{:.4}", (o.expected_base * o.probability).round_dp(2)),
        close_date: o.close_date,
        reason: o.reason,
        memo: o.memo,
        stage_entered_at: o.stage_entered_at,
        closed_at: o.closed_at,
        quotation_id: o.quotation_id,
        sales_order_id: o.sales_order_id,
        stage_history: visits
            .into_iter()
            .map(|v| VisitView {
                stage_id: v.stage_id,
                entered_at: v.entered_at,
                left_at: v.left_at,
                moved_by: v.moved_by,
            })
            .collect(),
        version: o.version,
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

fn opportunity_response(status: StatusCode, o: Opportunity, visits: Vec<Visit>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/opportunities/{}", o.id)))
        .insert_header(etag(o.version))
        .json(opportunity_view(o, visits))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityRequest {
    /// Default on conversion: the customer and the lead's names.
    pub name: Option<String>,
    /// Required, except on conversion.
    pub customer_id: Option<Uuid>,
    pub contact_name: Option<String>,
    /// Default: the customer's owner, else whoever creates it.
    pub owner_id: Option<Uuid>,
    pub source: Option<String>,
    /// Default: the first open stage.
    pub stage_id: Option<Uuid>,
    /// Default: the customer's currency, else the base currency.
    pub currency: Option<String>,
    #[schema(value_type = String, example = "12000.00")]
    pub expected_amount: Money,
    pub close_date: NaiveDate,
    pub memo: Option<String>,
}

impl OpportunityRequest {
    fn into_input(self) -> app::OpportunityInput {
        app::OpportunityInput {
            name: self.name,
            customer_id: self.customer_id,
            contact_name: Some(self.contact_name),
            owner_id: self.owner_id.map(Some),
            source: self.source,
            stage_id: self.stage_id,
            currency: self.currency,
            expected_amount: Some(self.expected_amount.value()),
            close_date: Some(self.close_date),
            memo: self.memo,
        }
    }
}

#[utoipa::path(tag = "crm", operation_id = "create_opportunity", request_body = OpportunityRequest,
    responses((status = 201, body = OpportunityView), (status = 422, body = Problem)))]
#[post("/opportunities")]
pub async fn create_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    body: ApiJson<OpportunityRequest>,
) -> Result<HttpResponse, AppError> {
    let o = app::create_opportunity(&app, &auth.ctx(), body.0.into_input()).await?;
    Ok(opportunity_response(StatusCode::CREATED, o, Vec::new()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpportunityPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    pub source: Option<String>,
    pub currency: Option<String>,
    #[schema(value_type = Option<String>)]
    pub expected_amount: Option<Money>,
    pub close_date: Option<NaiveDate>,
    pub memo: Option<String>,
    /// Refused: an opportunity stays with its customer.
    pub customer_id: Option<Uuid>,
    /// Refused: use the move action.
    pub stage_id: Option<Uuid>,
}

/// Edit an open opportunity (If-Match); the stage changes with the move action.
#[utoipa::path(tag = "crm", operation_id = "update_opportunity", request_body = OpportunityPatch,
    responses((status = 200, body = OpportunityView), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[patch("/opportunities/{id}")]
pub async fn update_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<OpportunityPatch>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::OpportunityInput {
        name: b.name,
        customer_id: b.customer_id,
        contact_name: b.contact_name,
        owner_id: b.owner_id,
        source: b.source,
        stage_id: b.stage_id,
        currency: b.currency,
        expected_amount: b.expected_amount.map(Money::value),
        close_date: b.close_date,
        memo: b.memo,
    };
    let o = app::update_opportunity(&app, &auth.ctx(), *id, if_match.0, input).await?;
    Ok(opportunity_response(StatusCode::OK, o, Vec::new()))
}

#[utoipa::path(tag = "crm", operation_id = "get_opportunity", responses((status = 200, body = OpportunityView), (status = 404, body = Problem)))]
#[get("/opportunities/{id}")]
pub async fn get_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let (o, v) = app::get_opportunity(&app, auth.tenant_id(), *id).await?;
    Ok(opportunity_response(StatusCode::OK, o, v))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OpportunityQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub owner_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
}

#[utoipa::path(tag = "crm", operation_id = "list_opportunities", params(OpportunityQuery), responses((status = 200, body = ListResponse<OpportunityView>)))]
#[get("/opportunities")]
pub async fn list_opportunities(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<OpportunityQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f =
        OpportunityFilter { status: q.status, owner_id: q.owner_id, customer_id: q.customer_id, stage_id: q.stage_id };
    let rows = app::list_opportunities(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |o| o.id);
    Ok(HttpResponse::Ok()
        .json(ListResponse { data: rows.into_iter().map(|o| opportunity_view(o, Vec::new())).collect(), next_cursor }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    pub stage_id: Uuid,
}

/// Move an open opportunity to another open stage (forward or back); win and lose close it.
#[utoipa::path(tag = "crm", operation_id = "move_opportunity", request_body = MoveBody,
    responses((status = 200, body = OpportunityView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/opportunities/{id}/move")]
pub async fn move_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<MoveBody>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| app::move_opportunity(&app, &ctx, *id, body.0.stage_id)).await?;
    Ok(opportunity_response(StatusCode::OK, o, Vec::new()))
}

/// Won (a reason is welcome).
#[utoipa::path(tag = "crm", operation_id = "win_opportunity", request_body = ReasonBody,
    responses((status = 200, body = OpportunityView), (status = 409, body = Problem)))]
#[post("/opportunities/{id}/win")]
pub async fn win_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| app::close_opportunity(&app, &ctx, *id, true, body.0.reason.clone())).await?;
    Ok(opportunity_response(StatusCode::OK, o, Vec::new()))
}

/// Lost (say why).
#[utoipa::path(tag = "crm", operation_id = "lose_opportunity", request_body = ReasonBody,
    responses((status = 200, body = OpportunityView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/opportunities/{id}/lose")]
pub async fn lose_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let o = retrying(|| app::close_opportunity(&app, &ctx, *id, false, body.0.reason.clone())).await?;
    Ok(opportunity_response(StatusCode::OK, o, Vec::new()))
}

#[derive(Serialize, ToSchema)]
pub struct QuotedView {
    pub opportunity: OpportunityView,
    pub quotation: OrderView,
}

/// Quote an open opportunity: a sales quotation for its customer (the body of
/// `POST /sales-orders`; `kind` is quotation whatever it says). Accepting the quotation wins
/// the opportunity with the order it makes.
#[utoipa::path(tag = "crm", operation_id = "quote_opportunity", request_body = OrderRequest,
    responses((status = 201, body = QuotedView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/opportunities/{id}/quotation")]
pub async fn quote_opportunity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    _sales: Authorized<super::extract::SalesWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<OrderRequest>,
) -> Result<HttpResponse, AppError> {
    let ctx = auth.ctx();
    let (o, q, lines) = retrying(|| app::quote_opportunity(&app, &ctx, *id, body.0.clone().into_input())).await?;
    Ok(HttpResponse::Created().json(QuotedView {
        opportunity: opportunity_view(o, Vec::new()),
        quotation: order_view(q, lines, &auth.tenant.base_currency),
    }))
}

// ================================================================ activities

#[derive(Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    /// call | visit | email | meeting | note
    pub kind: String,
    pub subject: String,
    /// What was said and agreed (shown when the customer is opened).
    pub key_points: String,
    pub outcome: Option<String>,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub owner_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub next_follow_up: Option<NaiveDate>,
    pub follow_up_done: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Activity> for ActivityView {
    fn from(a: Activity) -> Self {
        Self {
            id: a.id,
            kind: a.kind,
            subject: a.subject,
            key_points: a.key_points,
            outcome: a.outcome,
            customer_id: a.customer_id,
            lead_id: a.lead_id,
            opportunity_id: a.opportunity_id,
            owner_id: a.owner_id,
            occurred_at: a.occurred_at,
            next_follow_up: a.next_follow_up,
            follow_up_done: a.follow_up_done,
            created_at: a.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityRequest {
    pub kind: String,
    pub subject: String,
    pub key_points: Option<String>,
    pub outcome: Option<String>,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    /// Default: whoever logs it.
    pub owner_id: Option<Uuid>,
    /// Default: now.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When to follow up next (a reminder for the owner).
    pub next_follow_up: Option<NaiveDate>,
}

/// Log an activity on a customer, lead or opportunity. It completes the earlier open
/// follow-ups on the same records; a new lead becomes contacted.
#[utoipa::path(tag = "crm", operation_id = "create_activity", request_body = ActivityRequest,
    responses((status = 201, body = ActivityView), (status = 422, body = Problem)))]
#[post("/activities")]
pub async fn create_activity(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    body: ApiJson<ActivityRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let input = app::ActivityInput {
        kind: b.kind,
        subject: b.subject,
        key_points: b.key_points,
        outcome: b.outcome,
        customer_id: b.customer_id,
        lead_id: b.lead_id,
        opportunity_id: b.opportunity_id,
        owner_id: b.owner_id,
        occurred_at: b.occurred_at,
        next_follow_up: b.next_follow_up,
    };
    let a = app::log_activity(&app, &auth.ctx(), input).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/activities/{}", a.id)))
        .json(ActivityView::from(a)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
}

/// Activities, the latest logged first.
#[utoipa::path(tag = "crm", operation_id = "list_activities", params(ActivityQuery), responses((status = 200, body = ListResponse<ActivityView>)))]
#[get("/activities")]
pub async fn list_activities(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<ActivityQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let page = page(q.limit, q.cursor.as_deref())?;
    let f = ActivityFilter {
        customer_id: q.customer_id,
        lead_id: q.lead_id,
        opportunity_id: q.opportunity_id,
        owner_id: q.owner_id,
    };
    let rows = app::list_activities(&app, auth.tenant_id(), &f, &page).await?;
    let (rows, next_cursor) = paginate(rows, &page, |a| a.id);
    Ok(HttpResponse::Ok().json(ListResponse { data: rows.into_iter().map(ActivityView::from).collect(), next_cursor }))
}

/// Mark an activity's follow-up done without logging another.
#[utoipa::path(tag = "crm", operation_id = "complete_follow_up", responses((status = 200, body = ActivityView), (status = 409, body = Problem)))]
#[post("/activities/{id}/done")]
pub async fn complete_follow_up(
    app: web::Data<AppState>,
    auth: Authorized<CrmWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let a = app::complete_follow_up(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::Ok().json(ActivityView::from(a)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FollowUpQuery {
    /// Default: the caller.
    pub owner_id: Option<Uuid>,
    /// Default: today (UTC).
    pub as_of: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct FollowUpsView {
    pub as_of: NaiveDate,
    pub due_today: Vec<ActivityView>,
    pub overdue: Vec<ActivityView>,
}

/// A user's reminders: follow-ups due today, and overdue ones (oldest first).
#[utoipa::path(tag = "crm", operation_id = "follow_ups", params(FollowUpQuery), responses((status = 200, body = FollowUpsView)))]
#[get("/follow-ups")]
pub async fn follow_ups(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<FollowUpQuery>,
) -> Result<HttpResponse, AppError> {
    let owner = q.owner_id.unwrap_or(auth.principal.actor_uuid());
    let (today, rows) = app::follow_ups(&app, auth.tenant_id(), owner, q.as_of).await?;
    let (due, over): (Vec<_>, Vec<_>) = rows.into_iter().partition(|a| a.next_follow_up == Some(today));
    Ok(HttpResponse::Ok().json(FollowUpsView {
        as_of: today,
        due_today: due.into_iter().map(ActivityView::from).collect(),
        overdue: over.into_iter().map(ActivityView::from).collect(),
    }))
}

// ================================================================ reports

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    /// Only this owner's opportunities.
    pub owner_id: Option<Uuid>,
    /// Only opportunities created on or after this day.
    pub from: Option<NaiveDate>,
    /// ...and on or before this day.
    pub to: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct FunnelStageView {
    pub stage_id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub probability: String,
    /// Open opportunities in the stage now, and their expected amount in the base currency.
    pub open_count: i64,
    pub open_amount: String,
    /// Open amount × probability.
    pub weighted_amount: String,
    /// Times an opportunity entered the stage, and went on from it to a later stage or a win.
    pub entered: i64,
    pub advanced: i64,
    /// advanced / entered, to 4 places (absent when nothing entered).
    pub conversion: Option<String>,
    /// Average days in the stage over finished stays.
    pub average_days: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FunnelView {
    pub stages: Vec<FunnelStageView>,
    pub open_count: i64,
    pub open_amount: String,
    pub weighted_amount: String,
}

/// The sales funnel per stage: open count and amount, weighted amount, stage-to-stage
/// conversion and average days in stage.
#[utoipa::path(tag = "crm", operation_id = "sales_funnel", params(FunnelQuery), responses((status = 200, body = FunnelView)))]
#[get("/reports/sales-funnel")]
pub async fn sales_funnel(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<FunnelQuery>,
) -> Result<HttpResponse, AppError> {
    let scope = crate::store::crm::ReportScope {
        owner_id: q.owner_id,
        from: q.from.map(day_start),
        to: q.to.and_then(day_after),
    };
    let rows = retrying(|| app::funnel(&app, auth.tenant_id(), scope.clone())).await?;
    let (mut n, mut amount, mut weighted) = (0, rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO);
    let stages = rows
        .into_iter()
        .map(|r| {
            n += r.totals.open_count;
            amount += r.totals.open_amount;
            weighted += r.weighted_amount;
            FunnelStageView {
                stage_id: r.stage.id,
                code: r.stage.code,
                name: r.stage.name,
                kind: r.stage.kind,
                probability: format!("{:.6}", r.stage.probability),
                open_count: r.totals.open_count,
                open_amount: format!("{:.2}", r.totals.open_amount),
                weighted_amount: format!("{:.2}", r.weighted_amount),
                entered: r.totals.entered,
                advanced: r.totals.advanced,
                conversion: r.totals.conversion().map(|c| format!("{c:.4}")),
                average_days: r.totals.average_days().map(|d| format!("{d:.2}")),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(FunnelView {
        stages,
        open_count: n,
        open_amount: format!("{amount:.2}"),
        weighted_amount: format!("{weighted:.2}"),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

#[derive(Serialize, ToSchema)]
pub struct WinRateView {
    /// The owner's user id, or the source (absent: none recorded).
    pub key: Option<String>,
    pub won: i64,
    pub lost: i64,
    pub win_rate: Option<String>,
    pub won_amount: String,
}

#[derive(Serialize, ToSchema)]
pub struct LeadRateView {
    pub source: String,
    pub leads: i64,
    pub converted: i64,
    pub lost: i64,
    pub conversion_rate: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PerformanceView {
    /// Opportunities closed in the period.
    pub by_owner: Vec<WinRateView>,
    pub by_source: Vec<WinRateView>,
    /// Leads created in the period.
    pub leads_by_source: Vec<LeadRateView>,
    pub leads: i64,
    pub leads_converted: i64,
    pub lead_conversion_rate: Option<String>,
}

/// Win rates by owner and by source, and lead conversion rates.
#[utoipa::path(tag = "crm", operation_id = "crm_performance", params(PeriodQuery), responses((status = 200, body = PerformanceView)))]
#[get("/reports/crm-performance")]
pub async fn crm_performance(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let p = app::performance(&app, auth.tenant_id(), q.from.map(day_start), q.to.and_then(day_after)).await?;
    let rate = |r: app::Rate| WinRateView {
        win_rate: r.rate().map(|x| format!("{x:.4}")),
        key: r.key,
        won: r.won,
        lost: r.lost,
        won_amount: format!("{:.2}", r.won_amount),
    };
    let leads: i64 = p.leads.iter().map(|l| l.leads).sum();
    let converted: i64 = p.leads.iter().map(|l| l.converted).sum();
    let total = app::LeadRate { source: String::new(), leads, converted, lost: 0 };
    Ok(HttpResponse::Ok().json(PerformanceView {
        by_owner: p.by_owner.into_iter().map(rate).collect(),
        by_source: p.by_source.into_iter().map(rate).collect(),
        leads_by_source: p
            .leads
            .into_iter()
            .map(|l| LeadRateView {
                conversion_rate: l.rate().map(|x| format!("{x:.4}")),
                source: l.source,
                leads: l.leads,
                converted: l.converted,
                lost: l.lost,
            })
            .collect(),
        leads,
        leads_converted: converted,
        lead_conversion_rate: total.rate().map(|x| format!("{x:.4}")),
    }))
}

// ================================================================ customer 360 and search

#[derive(Serialize, ToSchema)]
pub struct OrderBrief {
    pub id: Uuid,
    pub number: String,
    pub kind: String,
    pub status: String,
    pub order_date: NaiveDate,
    pub currency: String,
    pub gross_total: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatusCount {
    pub status: String,
    pub count: i64,
    pub gross_base: String,
}

#[derive(Serialize, ToSchema)]
pub struct Customer360View {
    pub customer: PartyView,
    /// Open invoices less credit notes and unapplied receipts, in the base currency.
    pub ar_balance: String,
    /// Open invoice amounts past their due date.
    pub overdue: String,
    pub open_invoices: i64,
    /// Confirmed orders not yet invoiced.
    pub unbilled_orders: String,
    /// Credit limit less AR and unbilled orders (absent without a limit).
    pub credit_available: Option<String>,
    pub orders_by_status: Vec<StatusCount>,
    pub first_purchase: Option<NaiveDate>,
    pub last_purchase: Option<NaiveDate>,
    /// Posted invoices less credit notes, tax included, in the base currency.
    pub lifetime_value: String,
    /// Share of the distinct items bought that were bought again in another order.
    pub repurchase_rate: Option<String>,
    /// The latest activity: what was said last time.
    pub last_activity: Option<ActivityView>,
    pub recent_activities: Vec<ActivityView>,
    pub open_follow_ups: Vec<ActivityView>,
    pub open_opportunities: Vec<OpportunityView>,
    pub open_quotations: Vec<OrderBrief>,
    pub recent_orders: Vec<OrderBrief>,
    /// Service tickets not yet resolved, oldest first (up to 20).
    pub open_tickets: Vec<super::service::TicketView>,
    /// Survey answers after deliveries and tickets, and their average score (2 places).
    pub survey_responses: i64,
    pub satisfaction: Option<String>,
}

fn brief(o: crate::store::trade::Order) -> OrderBrief {
    OrderBrief {
        id: o.id,
        number: o.number,
        kind: o.kind,
        status: o.status,
        order_date: o.order_date,
        currency: o.currency,
        gross_total: format!("{:.2}", o.gross_total),
    }
}

/// One customer as sales, CRM and finance see it: credit, AR, overdue, orders, quotations,
/// opportunities, activities and follow-ups, last purchase, repurchase rate, lifetime value.
#[utoipa::path(tag = "crm", operation_id = "customer_360", responses((status = 200, body = Customer360View), (status = 404, body = Problem)))]
#[get("/customers/{id}/360")]
pub async fn customer_360(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    _customers: Authorized<super::extract::CustomersRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let c = app::customer_360(&app, auth.tenant_id(), *id).await?;
    let now = app.now();
    let repurchase_rate = c.repurchase_rate().map(|r| format!("{r:.4}"));
    let credit_available = c.customer.credit_limit.map(|l| format!("{:.2}", l - c.ar_balance - c.unbilled_orders));
    Ok(HttpResponse::Ok().json(Customer360View {
        ar_balance: format!("{:.2}", c.ar_balance),
        overdue: format!("{:.2}", c.facts.overdue),
        open_invoices: c.facts.open_invoices,
        unbilled_orders: format!("{:.2}", c.unbilled_orders),
        credit_available,
        orders_by_status: c
            .facts
            .orders_by_status
            .into_iter()
            .map(|(status, count, g)| StatusCount { status, count, gross_base: format!("{g:.2}") })
            .collect(),
        first_purchase: c.facts.first_purchase,
        last_purchase: c.facts.last_purchase,
        lifetime_value: format!("{:.2}", c.facts.lifetime_value),
        repurchase_rate,
        last_activity: c.last_activity.map(ActivityView::from),
        recent_activities: c.recent_activities.into_iter().map(ActivityView::from).collect(),
        open_follow_ups: c.open_follow_ups.into_iter().map(ActivityView::from).collect(),
        open_opportunities: c.open_opportunities.into_iter().map(|o| opportunity_view(o, Vec::new())).collect(),
        open_quotations: c.open_quotations.into_iter().map(brief).collect(),
        recent_orders: c.recent_orders.into_iter().map(brief).collect(),
        open_tickets: c.open_tickets.into_iter().map(|t| super::service::ticket_view(t, None, now)).collect(),
        survey_responses: c.survey_responses,
        satisfaction: c.satisfaction.map(|s| format!("{s:.2}")),
        customer: c.customer.into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// At least 2 characters: a name, code, number, email, tag, or 4+ digits of a phone.
    pub q: String,
}

#[derive(Serialize, ToSchema)]
pub struct HitView {
    /// customer | contact | lead | opportunity (a contact's id is its customer's)
    pub kind: String,
    pub id: Uuid,
    pub title: String,
    pub detail: String,
}

/// Search customers, contacts, leads and opportunities.
#[utoipa::path(tag = "crm", operation_id = "crm_search", params(SearchQuery), responses((status = 200, body = ListResponse<HitView>), (status = 422, body = Problem)))]
#[get("/crm/search")]
pub async fn crm_search(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let hits = app::search(&app, auth.tenant_id(), &q.q).await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        data: hits
            .into_iter()
            .map(|h| HitView { kind: h.kind.into(), id: h.id, title: h.title, detail: h.detail })
            .collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SegmentQuery {
    /// Only invoices and orders from this day.
    pub from: Option<NaiveDate>,
    /// Up to this day (default today); recency is counted from it.
    pub as_of: Option<NaiveDate>,
    /// Only customers in this segment.
    pub segment: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentedView {
    pub customer_id: Uuid,
    pub code: String,
    pub name: String,
    pub last_purchase: NaiveDate,
    pub recency_days: i64,
    /// Invoices in the window.
    pub frequency: i64,
    /// Billed less credited, tax included, in the base currency.
    pub monetary: String,
    /// Scores 1 to 5 (5 best) by quintile.
    pub r: u8,
    pub f: u8,
    pub m: u8,
    /// champions | loyal | big_spenders | new | at_risk | lost | needs_attention
    pub segment: String,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentCount {
    pub segment: String,
    pub customers: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentsView {
    pub as_of: NaiveDate,
    /// Customers with an order in the window, those with more than one, and their share.
    pub buyers: i64,
    pub repeat_buyers: i64,
    pub repurchase_rate: Option<String>,
    pub segments: Vec<SegmentCount>,
    /// Largest spenders first, at most 200.
    pub customers: Vec<SegmentedView>,
}

/// Repurchase rate and RFM segments of the customers.
#[utoipa::path(tag = "crm", operation_id = "customer_segments", params(SegmentQuery), responses((status = 200, body = SegmentsView), (status = 422, body = Problem)))]
#[get("/reports/customer-segments")]
pub async fn customer_segments(
    app: web::Data<AppState>,
    auth: Authorized<CrmRead>,
    q: web::Query<SegmentQuery>,
) -> Result<HttpResponse, AppError> {
    let s = app::segments(&app, auth.tenant_id(), q.from, q.as_of).await?;
    let rate = s.repurchase_rate().map(|r| format!("{r:.4}"));
    let mut counts: Vec<SegmentCount> = Vec::new();
    for c in &s.customers {
        match counts.iter_mut().find(|x| x.segment == c.score.segment) {
            Some(x) => x.customers += 1,
            None => counts.push(SegmentCount { segment: c.score.segment.into(), customers: 1 }),
        }
    }
    counts.sort_by(|a, b| a.segment.cmp(&b.segment));
    let mut customers: Vec<_> =
        s.customers.into_iter().filter(|c| q.segment.as_deref().is_none_or(|w| w == c.score.segment)).collect();
    customers.sort_by(|a, b| b.purchases.amount.cmp(&a.purchases.amount).then(a.code.cmp(&b.code)));
    customers.truncate(200);
    Ok(HttpResponse::Ok().json(SegmentsView {
        as_of: s.as_of,
        buyers: s.buyers,
        repeat_buyers: s.repeat_buyers,
        repurchase_rate: rate,
        segments: counts,
        customers: customers
            .into_iter()
            .map(|c| SegmentedView {
                customer_id: c.id,
                code: c.code,
                name: c.name,
                last_purchase: c.last_purchase,
                recency_days: c.purchases.days_since_last,
                frequency: c.purchases.count,
                monetary: format!("{:.2}", c.purchases.amount),
                r: c.score.r,
                f: c.score.f,
                m: c.score.m,
                segment: c.score.segment.into(),
            })
            .collect(),
    }))
}
