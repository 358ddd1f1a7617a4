//! CRM tables: lead assignment rules, leads, pipeline stages with their running totals,
//! opportunities with their stage visits, and activities.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement};
use uuid::Uuid;

use super::entities::{
    activities, lead_assignment_rules, leads, opportunities, opportunity_stage_visits, pipeline_stages,
};
use super::scaled::{money_from_db, money_to_db, rate_from_db, rate_to_db};
use super::{Page, TenantTx, date_str, parse_date, ph};
use crate::domain::crm::{AssignmentRule, RuleKind, Stage, StageTotals};
use crate::error::{AppError, AppResult};

fn json_list(s: &str) -> AppResult<Vec<String>> {
    serde_json::from_str(s).map_err(AppError::internal)
}

fn list_json(v: &[String]) -> AppResult<String> {
    serde_json::to_string(v).map_err(AppError::internal)
}

// ---------------------------------------------------------------- assignment rules

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: Uuid,
    pub position: i32,
    /// round_robin | region | tag
    pub kind: String,
    pub match_value: Option<String>,
    pub user_ids: Vec<Uuid>,
    pub next_index: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Rule {
    pub fn to_domain(&self) -> AssignmentRule {
        let m = self.match_value.clone().unwrap_or_default();
        AssignmentRule {
            id: self.id,
            kind: match self.kind.as_str() {
                "region" => RuleKind::Region(m),
                "tag" => RuleKind::Tag(m),
                _ => RuleKind::RoundRobin,
            },
            users: self.user_ids.clone(),
            next_index: self.next_index,
        }
    }
}

fn rule_from(m: lead_assignment_rules::Model) -> AppResult<Rule> {
    Ok(Rule {
        id: m.id,
        position: m.position,
        kind: m.kind,
        match_value: m.match_value,
        user_ids: serde_json::from_str(&m.user_ids).map_err(AppError::internal)?,
        next_index: m.next_index,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The rules in the order they are tried; `lock` takes them for update (assigning advances a
/// rule's turn).
pub async fn rules(tx: &TenantTx<'_>, lock: bool) -> AppResult<Vec<Rule>> {
    use lead_assignment_rules::Column as C;
    let mut q = lead_assignment_rules::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if lock {
        q = q.lock_exclusive();
    }
    q.order_by_asc(C::Position).order_by_asc(C::Id).all(tx.conn()).await?.into_iter().map(rule_from).collect()
}

/// Replaces every rule (the list is edited as a whole).
pub async fn replace_rules(tx: &TenantTx<'_>, rules: &[Rule]) -> AppResult<()> {
    use lead_assignment_rules::Column as C;
    lead_assignment_rules::Entity::delete_many().filter(C::TenantId.eq(tx.tenant().0)).exec(tx.conn()).await?;
    for r in rules {
        lead_assignment_rules::Entity::insert(lead_assignment_rules::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            id: Set(r.id),
            position: Set(r.position),
            kind: Set(r.kind.clone()),
            match_value: Set(r.match_value.clone()),
            user_ids: Set(serde_json::to_string(&r.user_ids).map_err(AppError::internal)?),
            next_index: Set(r.next_index),
            is_active: Set(r.is_active),
            created_at: Set(r.created_at),
            updated_at: Set(r.updated_at),
            version: Set(r.version),
        })
        .exec_without_returning(tx.conn())
        .await?;
    }
    Ok(())
}

/// Moves a rule's turn on by one.
pub async fn advance_rule(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    use lead_assignment_rules::Column as C;
    lead_assignment_rules::Entity::update_many()
        .col_expr(C::NextIndex, sea_orm::sea_query::Expr::col(C::NextIndex).add(1))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- leads

#[derive(Clone, Debug, PartialEq)]
pub struct Lead {
    pub id: Uuid,
    pub number: String,
    pub name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
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
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn lead_from(m: leads::Model) -> AppResult<Lead> {
    Ok(Lead {
        id: m.id,
        number: m.number,
        name: m.name,
        company: m.company,
        email: m.email,
        phone: m.phone,
        source: m.source,
        region: m.region,
        tags: json_list(&m.tags)?,
        status: m.status,
        owner_id: m.owner_id,
        lost_reason: m.lost_reason,
        memo: m.memo,
        customer_id: m.customer_id,
        opportunity_id: m.opportunity_id,
        converted_at: m.converted_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn lead_am(tx: &TenantTx<'_>, l: &Lead) -> AppResult<leads::ActiveModel> {
    use crate::domain::crm::{email_key, phone_key};
    Ok(leads::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(l.id),
        number: Set(l.number.clone()),
        name: Set(l.name.clone()),
        company: Set(l.company.clone()),
        email: Set(l.email.clone()),
        email_key: Set(l.email.as_deref().and_then(email_key)),
        phone: Set(l.phone.clone()),
        phone_key: Set(l.phone.as_deref().and_then(phone_key)),
        source: Set(l.source.clone()),
        region: Set(l.region.clone()),
        tags: Set(list_json(&l.tags)?),
        status: Set(l.status.clone()),
        owner_id: Set(l.owner_id),
        lost_reason: Set(l.lost_reason.clone()),
        memo: Set(l.memo.clone()),
        customer_id: Set(l.customer_id),
        opportunity_id: Set(l.opportunity_id),
        converted_at: Set(l.converted_at),
        created_by: Set(l.created_by),
        created_at: Set(l.created_at),
        updated_at: Set(l.updated_at),
        version: Set(l.version),
    })
}

pub async fn insert_lead(tx: &TenantTx<'_>, l: &Lead) -> AppResult<()> {
    leads::Entity::insert(lead_am(tx, l)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Saves a lead whose version was raised by one; false when someone else saved it first.
pub async fn save_lead(tx: &TenantTx<'_>, l: &Lead) -> AppResult<bool> {
    let mut am = lead_am(tx, l)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = leads::Entity::update_many()
        .set(am)
        .filter(leads::Column::TenantId.eq(tx.tenant().0))
        .filter(leads::Column::Id.eq(l.id))
        .filter(leads::Column::Version.eq(l.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn get_lead(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<Lead>> {
    let mut q =
        leads::Entity::find().filter(leads::Column::TenantId.eq(tx.tenant().0)).filter(leads::Column::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(tx.conn()).await?.map(lead_from).transpose()
}

/// Leads (not lost ones) with this email or phone key, other than `except`.
pub async fn lead_duplicates(
    tx: &TenantTx<'_>,
    email_key: Option<&str>,
    phone_key: Option<&str>,
    except: Option<Uuid>,
) -> AppResult<Vec<Lead>> {
    use leads::Column as C;
    let mut any = sea_orm::Condition::any();
    if let Some(e) = email_key {
        any = any.add(C::EmailKey.eq(e));
    }
    if let Some(p) = phone_key {
        any = any.add(C::PhoneKey.eq(p));
    }
    if email_key.is_none() && phone_key.is_none() {
        return Ok(Vec::new());
    }
    let mut q = leads::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(any).filter(C::Status.ne("lost"));
    if let Some(x) = except {
        q = q.filter(C::Id.ne(x));
    }
    q.order_by_asc(C::Id).limit(10).all(tx.conn()).await?.into_iter().map(lead_from).collect()
}

#[derive(Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub owner_id: Option<Uuid>,
    pub source: Option<String>,
    pub q: Option<String>,
}

pub async fn list_leads(tx: &TenantTx<'_>, f: &LeadFilter, page: &Page) -> AppResult<Vec<Lead>> {
    use leads::Column as C;
    let mut q = leads::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(o) = f.owner_id {
        q = q.filter(C::OwnerId.eq(o));
    }
    if let Some(s) = &f.source {
        q = q.filter(C::Source.eq(s.clone()));
    }
    if let Some(text) = &f.q {
        let like = format!("%{}%", text.to_lowercase());
        q = q.filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(
                        C::Name,
                    )))
                    .like(&like),
                )
                .add(
                    sea_orm::sea_query::Expr::expr(sea_orm::sea_query::Func::lower(sea_orm::sea_query::Expr::col(
                        C::Company,
                    )))
                    .like(&like),
                )
                .add(C::Number.like(like.to_uppercase()))
                .add(C::EmailKey.like(&like))
                .add(C::PhoneKey.like(&like)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(lead_from).collect()
}

// ---------------------------------------------------------------- pipeline stages

#[derive(Clone, Debug, PartialEq)]
pub struct PipelineStage {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub position: i32,
    /// 0 to 1.
    pub probability: Decimal,
    /// open | won | lost
    pub kind: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PipelineStage {
    pub fn to_domain(&self) -> Stage {
        Stage {
            id: self.id,
            code: self.code.clone(),
            position: self.position,
            kind: self.kind.clone(),
            is_active: self.is_active,
        }
    }
}

fn stage_from(m: pipeline_stages::Model) -> PipelineStage {
    PipelineStage {
        id: m.id,
        code: m.code,
        name: m.name,
        position: m.position,
        probability: rate_from_db(m.probability),
        kind: m.kind,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// The stages in pipeline order.
pub async fn stages(tx: &TenantTx<'_>) -> AppResult<Vec<PipelineStage>> {
    use pipeline_stages::Column as C;
    Ok(pipeline_stages::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .order_by_asc(C::Position)
        .order_by_asc(C::Code)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(stage_from)
        .collect())
}

fn stage_am(tx: &TenantTx<'_>, s: &PipelineStage) -> AppResult<pipeline_stages::ActiveModel> {
    Ok(pipeline_stages::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(s.id),
        code: Set(s.code.clone()),
        name: Set(s.name.clone()),
        position: Set(s.position),
        probability: Set(rate_to_db(s.probability)?),
        kind: Set(s.kind.clone()),
        is_active: Set(s.is_active),
        created_at: Set(s.created_at),
        updated_at: Set(s.updated_at),
    })
}

/// Inserts a stage with zero totals.
pub async fn insert_stage(tx: &TenantTx<'_>, s: &PipelineStage) -> AppResult<()> {
    pipeline_stages::Entity::insert(stage_am(tx, s)?).exec_without_returning(tx.conn()).await?;
    let backend = tx.conn().get_database_backend();
    let sql = format!(
        "INSERT INTO pipeline_stage_totals (tenant_id, stage_id, open_count, open_amount, entered, advanced, stays, stay_seconds)
         VALUES ({}, {}, 0, 0, 0, 0, 0, 0)",
        ph(backend, 1),
        ph(backend, 2)
    );
    tx.conn().execute_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), s.id.into()])).await?;
    Ok(())
}

pub async fn update_stage(tx: &TenantTx<'_>, s: &PipelineStage) -> AppResult<()> {
    let mut am = stage_am(tx, s)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    pipeline_stages::Entity::update_many()
        .set(am)
        .filter(pipeline_stages::Column::TenantId.eq(tx.tenant().0))
        .filter(pipeline_stages::Column::Id.eq(s.id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Serializes edits of a tenant's pipeline (a per-tenant row lock held to commit).
pub async fn lock_pipeline(tx: &TenantTx<'_>) -> AppResult<()> {
    super::ledger::next_in_sequence(tx, "crm_pipeline_lock").await?;
    Ok(())
}

/// The running totals of every stage.
pub async fn stage_totals(tx: &TenantTx<'_>) -> AppResult<HashMap<Uuid, StageTotals>> {
    let backend = tx.conn().get_database_backend();
    let sql = format!(
        "SELECT stage_id, open_count, open_amount, entered, advanced, stays, stay_seconds
         FROM pipeline_stage_totals WHERE tenant_id = {}",
        ph(backend, 1)
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into()])).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<Uuid>("", "stage_id")?,
                StageTotals {
                    open_count: r.try_get("", "open_count")?,
                    open_amount: money_from_db(r.try_get("", "open_amount")?),
                    entered: r.try_get("", "entered")?,
                    advanced: r.try_get("", "advanced")?,
                    stays: r.try_get("", "stays")?,
                    stay_seconds: r.try_get("", "stay_seconds")?,
                },
            ))
        })
        .collect()
}

/// Adds to a stage's running totals (negative amounts subtract).
pub async fn add_to_totals(tx: &TenantTx<'_>, stage: Uuid, d: &StageTotals) -> AppResult<()> {
    let backend = tx.conn().get_database_backend();
    let p = |n| ph(backend, n);
    let sql = format!(
        "UPDATE pipeline_stage_totals SET open_count = open_count + {}, open_amount = open_amount + {},
             entered = entered + {}, advanced = advanced + {}, stays = stays + {}, stay_seconds = stay_seconds + {}
         WHERE tenant_id = {} AND stage_id = {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8)
    );
    tx.conn()
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                d.open_count.into(),
                money_to_db(d.open_amount)?.into(),
                d.entered.into(),
                d.advanced.into(),
                d.stays.into(),
                d.stay_seconds.into(),
                tx.tenant().0.into(),
                stage.into(),
            ],
        ))
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- opportunities

#[derive(Clone, Debug, PartialEq)]
pub struct Opportunity {
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
    pub probability: Decimal,
    pub currency: String,
    pub expected_amount: Decimal,
    /// The expected amount in the base currency (the funnel adds these up).
    pub expected_base: Decimal,
    pub close_date: NaiveDate,
    pub reason: Option<String>,
    pub memo: String,
    pub stage_entered_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub quotation_id: Option<Uuid>,
    pub sales_order_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn opportunity_from(m: opportunities::Model) -> AppResult<Opportunity> {
    Ok(Opportunity {
        id: m.id,
        number: m.number,
        name: m.name,
        customer_id: m.customer_id,
        lead_id: m.lead_id,
        contact_name: m.contact_name,
        owner_id: m.owner_id,
        source: m.source,
        stage_id: m.stage_id,
        status: m.status,
        probability: rate_from_db(m.probability),
        currency: m.currency,
        expected_amount: money_from_db(m.expected_amount),
        expected_base: money_from_db(m.expected_base),
        close_date: parse_date(&m.close_date)?,
        reason: m.reason,
        memo: m.memo,
        stage_entered_at: m.stage_entered_at,
        closed_at: m.closed_at,
        quotation_id: m.quotation_id,
        sales_order_id: m.sales_order_id,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn opportunity_am(tx: &TenantTx<'_>, o: &Opportunity) -> AppResult<opportunities::ActiveModel> {
    Ok(opportunities::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(o.id),
        number: Set(o.number.clone()),
        name: Set(o.name.clone()),
        customer_id: Set(o.customer_id),
        lead_id: Set(o.lead_id),
        contact_name: Set(o.contact_name.clone()),
        owner_id: Set(o.owner_id),
        source: Set(o.source.clone()),
        stage_id: Set(o.stage_id),
        status: Set(o.status.clone()),
        probability: Set(rate_to_db(o.probability)?),
        currency: Set(o.currency.clone()),
        expected_amount: Set(money_to_db(o.expected_amount)?),
        expected_base: Set(money_to_db(o.expected_base)?),
        close_date: Set(date_str(o.close_date)),
        reason: Set(o.reason.clone()),
        memo: Set(o.memo.clone()),
        stage_entered_at: Set(o.stage_entered_at),
        closed_at: Set(o.closed_at),
        quotation_id: Set(o.quotation_id),
        sales_order_id: Set(o.sales_order_id),
        created_by: Set(o.created_by),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
        version: Set(o.version),
    })
}

pub async fn insert_opportunity(tx: &TenantTx<'_>, o: &Opportunity) -> AppResult<()> {
    opportunities::Entity::insert(opportunity_am(tx, o)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn save_opportunity(tx: &TenantTx<'_>, o: &Opportunity) -> AppResult<bool> {
    let mut am = opportunity_am(tx, o)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = opportunities::Entity::update_many()
        .set(am)
        .filter(opportunities::Column::TenantId.eq(tx.tenant().0))
        .filter(opportunities::Column::Id.eq(o.id))
        .filter(opportunities::Column::Version.eq(o.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn get_opportunity(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<Opportunity>> {
    use opportunities::Column as C;
    let mut q = opportunities::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(tx.conn()).await?.map(opportunity_from).transpose()
}

/// The open opportunity a quotation was made from, locked.
pub async fn opportunity_of_quotation(tx: &TenantTx<'_>, quotation: Uuid) -> AppResult<Option<Opportunity>> {
    use opportunities::Column as C;
    opportunities::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::QuotationId.eq(quotation))
        .lock_exclusive()
        .one(tx.conn())
        .await?
        .map(opportunity_from)
        .transpose()
}

#[derive(Default)]
pub struct OpportunityFilter {
    pub status: Option<String>,
    pub owner_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub stage_id: Option<Uuid>,
}

pub async fn list_opportunities(tx: &TenantTx<'_>, f: &OpportunityFilter, page: &Page) -> AppResult<Vec<Opportunity>> {
    use opportunities::Column as C;
    let mut q = opportunities::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(o) = f.owner_id {
        q = q.filter(C::OwnerId.eq(o));
    }
    if let Some(c) = f.customer_id {
        q = q.filter(C::CustomerId.eq(c));
    }
    if let Some(s) = f.stage_id {
        q = q.filter(C::StageId.eq(s));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(opportunity_from).collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    pub seq: i32,
    pub stage_id: Uuid,
    pub entered_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
    pub moved_by: Option<Uuid>,
}

pub async fn visits(tx: &TenantTx<'_>, opportunity: Uuid) -> AppResult<Vec<Visit>> {
    use opportunity_stage_visits::Column as C;
    Ok(opportunity_stage_visits::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OpportunityId.eq(opportunity))
        .order_by_asc(C::Seq)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| Visit {
            seq: m.seq,
            stage_id: m.stage_id,
            entered_at: m.entered_at,
            left_at: m.left_at,
            moved_by: m.moved_by,
        })
        .collect())
}

pub async fn insert_visit(tx: &TenantTx<'_>, opportunity: Uuid, v: &Visit) -> AppResult<()> {
    opportunity_stage_visits::Entity::insert(opportunity_stage_visits::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        opportunity_id: Set(opportunity),
        seq: Set(v.seq),
        stage_id: Set(v.stage_id),
        entered_at: Set(v.entered_at),
        left_at: Set(v.left_at),
        moved_by: Set(v.moved_by),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

pub async fn close_visit(tx: &TenantTx<'_>, opportunity: Uuid, seq: i32, at: DateTime<Utc>) -> AppResult<()> {
    use opportunity_stage_visits::Column as C;
    opportunity_stage_visits::Entity::update_many()
        .col_expr(C::LeftAt, sea_orm::sea_query::Expr::value(at))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OpportunityId.eq(opportunity))
        .filter(C::Seq.eq(seq))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Whether any opportunity is, or ever was, in a stage.
pub async fn stage_used(tx: &TenantTx<'_>, stage: Uuid) -> AppResult<bool> {
    use opportunity_stage_visits::Column as C;
    Ok(opportunity_stage_visits::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::StageId.eq(stage))
        .one(tx.conn())
        .await?
        .is_some())
}

// ---------------------------------------------------------------- activities

#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    pub id: Uuid,
    /// call | visit | email | meeting | note
    pub kind: String,
    pub subject: String,
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

fn activity_from(m: activities::Model) -> AppResult<Activity> {
    Ok(Activity {
        id: m.id,
        kind: m.kind,
        subject: m.subject,
        key_points: m.key_points,
        outcome: m.outcome,
        customer_id: m.customer_id,
        lead_id: m.lead_id,
        opportunity_id: m.opportunity_id,
        owner_id: m.owner_id,
        occurred_at: m.occurred_at,
        next_follow_up: m.next_follow_up.as_deref().map(parse_date).transpose()?,
        follow_up_done: m.follow_up_done,
        created_at: m.created_at,
    })
}

pub async fn insert_activity(tx: &TenantTx<'_>, a: &Activity) -> AppResult<()> {
    activities::Entity::insert(activities::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(a.id),
        kind: Set(a.kind.clone()),
        subject: Set(a.subject.clone()),
        key_points: Set(a.key_points.clone()),
        outcome: Set(a.outcome.clone()),
        customer_id: Set(a.customer_id),
        lead_id: Set(a.lead_id),
        opportunity_id: Set(a.opportunity_id),
        owner_id: Set(a.owner_id),
        occurred_at: Set(a.occurred_at),
        next_follow_up: Set(a.next_follow_up.map(date_str)),
        follow_up_done: Set(a.follow_up_done),
        created_at: Set(a.created_at),
    })
    .exec_without_returning(tx.conn())
    .await?;
    Ok(())
}

pub async fn get_activity(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<Activity>> {
    use activities::Column as C;
    let mut q = activities::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(tx.conn()).await?.map(activity_from).transpose()
}

/// Marks follow-ups done: one activity's, or (`same_as`) every open follow-up on the same
/// customer, lead or opportunity logged before `before`. Returns how many.
pub async fn complete_follow_ups(tx: &TenantTx<'_>, id: Option<Uuid>, same_as: Option<&Activity>) -> AppResult<u64> {
    use activities::Column as C;
    let mut q = activities::Entity::update_many()
        .col_expr(C::FollowUpDone, sea_orm::sea_query::Expr::value(true))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::FollowUpDone.eq(false))
        .filter(C::NextFollowUp.is_not_null());
    if let Some(id) = id {
        q = q.filter(C::Id.eq(id));
    }
    if let Some(a) = same_as {
        // The owner's own follow-ups on the same opportunity, or on the same customer or lead
        // but no opportunity in particular (another opportunity's follow-up stays open).
        let mut general = sea_orm::Condition::any();
        if let Some(c) = a.customer_id {
            general = general.add(C::CustomerId.eq(c));
        }
        if let Some(l) = a.lead_id {
            general = general.add(C::LeadId.eq(l));
        }
        let mut on =
            sea_orm::Condition::any().add(sea_orm::Condition::all().add(C::OpportunityId.is_null()).add(general));
        if let Some(o) = a.opportunity_id {
            on = on.add(C::OpportunityId.eq(o));
        }
        q = q.filter(on);
        q = q.filter(C::OwnerId.eq(a.owner_id)).filter(C::Id.ne(a.id)).filter(C::OccurredAt.lte(a.occurred_at));
    }
    Ok(q.exec(tx.conn()).await?.rows_affected)
}

#[derive(Default)]
pub struct ActivityFilter {
    pub customer_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub owner_id: Option<Uuid>,
}

/// Activities, the latest logged first.
pub async fn list_activities(tx: &TenantTx<'_>, f: &ActivityFilter, page: &Page) -> AppResult<Vec<Activity>> {
    use activities::Column as C;
    let mut q = activities::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(c) = f.customer_id {
        q = q.filter(C::CustomerId.eq(c));
    }
    if let Some(l) = f.lead_id {
        q = q.filter(C::LeadId.eq(l));
    }
    if let Some(o) = f.opportunity_id {
        q = q.filter(C::OpportunityId.eq(o));
    }
    if let Some(o) = f.owner_id {
        q = q.filter(C::OwnerId.eq(o));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(activity_from).collect()
}

/// A user's open follow-ups due on or before `until`, soonest first.
pub async fn follow_ups_due(tx: &TenantTx<'_>, owner: Uuid, until: NaiveDate) -> AppResult<Vec<Activity>> {
    use activities::Column as C;
    activities::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OwnerId.eq(owner))
        .filter(C::FollowUpDone.eq(false))
        .filter(C::NextFollowUp.lte(date_str(until)))
        .order_by_asc(C::NextFollowUp)
        .order_by_asc(C::Id)
        .limit(500)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(activity_from)
        .collect()
}

/// Points a converted lead's activities at its customer too.
pub async fn carry_activities(tx: &TenantTx<'_>, lead: Uuid, customer: Uuid) -> AppResult<()> {
    use activities::Column as C;
    activities::Entity::update_many()
        .col_expr(C::CustomerId, sea_orm::sea_query::Expr::value(customer))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::LeadId.eq(lead))
        .filter(C::CustomerId.is_null())
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// A new lead someone has talked to is contacted.
pub async fn mark_contacted(tx: &TenantTx<'_>, lead: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    use leads::Column as C;
    leads::Entity::update_many()
        .col_expr(C::Status, sea_orm::sea_query::Expr::value("contacted"))
        .col_expr(C::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .col_expr(C::Version, sea_orm::sea_query::Expr::col(C::Version).add(1))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(lead))
        .filter(C::Status.eq("new"))
        .exec(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- reports

/// Which opportunities a report counts: one owner's, and created in a window.
#[derive(Clone, Default)]
pub struct ReportScope {
    pub owner_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl ReportScope {
    pub fn is_all(&self) -> bool {
        self.owner_id.is_none() && self.from.is_none() && self.to.is_none()
    }

    /// The WHERE clause on `opportunities o` and its values, parameters from `$2`.
    fn clause(&self, backend: sea_orm::DbBackend, tenant: Uuid) -> (String, Vec<sea_orm::Value>) {
        let mut sql = format!("o.tenant_id = {}", ph(backend, 1));
        let mut values: Vec<sea_orm::Value> = vec![tenant.into()];
        if let Some(o) = self.owner_id {
            values.push(o.into());
            sql.push_str(&format!(" AND o.owner_id = {}", ph(backend, values.len())));
        }
        if let Some(f) = self.from {
            values.push(f.into());
            sql.push_str(&format!(" AND o.created_at >= {}", ph(backend, values.len())));
        }
        if let Some(t) = self.to {
            values.push(t.into());
            sql.push_str(&format!(" AND o.created_at < {}", ph(backend, values.len())));
        }
        (sql, values)
    }
}

/// Stage totals computed from the opportunities in scope and their visits (the running totals
/// answer for the whole tenant; this answers for a part of it).
pub async fn stage_totals_for(
    tx: &TenantTx<'_>,
    scope: &ReportScope,
    positions: &HashMap<Uuid, (i32, String)>,
) -> AppResult<HashMap<Uuid, StageTotals>> {
    let backend = tx.conn().get_database_backend();
    let (clause, values) = scope.clause(backend, tx.tenant().0);
    let mut out: HashMap<Uuid, StageTotals> = HashMap::new();
    let sql = format!(
        "SELECT o.stage_id, COUNT(*) AS n, CAST(COALESCE(SUM(o.expected_base), 0) AS BIGINT) AS amount
         FROM opportunities o WHERE {clause} AND o.status = 'open' GROUP BY o.stage_id"
    );
    for r in tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values.clone())).await? {
        let t = out.entry(r.try_get("", "stage_id")?).or_default();
        t.open_count = r.try_get("", "n")?;
        t.open_amount = money_from_db(r.try_get("", "amount")?);
    }
    // Each visit with the stage that came next, grouped by (stage, next stage): a few dozen
    // rows however many opportunities, summed here as the running totals count them.
    let seconds = if backend == sea_orm::DbBackend::Postgres {
        "GREATEST(FLOOR(EXTRACT(EPOCH FROM (x.left_at - x.entered_at))), 0)"
    } else {
        // julianday is a double (about 50 µs here): the nudge keeps a whole second whole.
        "MAX(CAST((julianday(x.left_at) - julianday(x.entered_at)) * 86400 + 0.001 AS INTEGER), 0)"
    };
    let sql = format!(
        "SELECT x.stage_id, x.next_stage, COUNT(*) AS n,
             SUM(CASE WHEN x.next_stage IS NOT NULL AND x.left_at IS NOT NULL THEN 1 ELSE 0 END) AS stays,
             CAST(COALESCE(SUM(CASE WHEN x.next_stage IS NOT NULL AND x.left_at IS NOT NULL THEN {seconds} ELSE 0 END), 0)
                 AS BIGINT) AS seconds
         FROM (SELECT v.stage_id, v.entered_at, v.left_at,
                   LEAD(v.stage_id) OVER (PARTITION BY v.opportunity_id ORDER BY v.seq) AS next_stage
               FROM opportunity_stage_visits v JOIN opportunities o ON o.tenant_id = v.tenant_id AND o.id = v.opportunity_id
               WHERE {clause}) x
         GROUP BY x.stage_id, x.next_stage"
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let position = |s: &Uuid| positions.get(s).map_or(0, |p| p.0);
    let is_won = |s: &Uuid| positions.get(s).is_some_and(|p| p.1 == "won");
    let is_lost = |s: &Uuid| positions.get(s).is_some_and(|p| p.1 == "lost");
    for r in rows {
        let stage: Uuid = r.try_get("", "stage_id")?;
        let next: Option<Uuid> = r.try_get("", "next_stage")?;
        let t = out.entry(stage).or_default();
        let n: i64 = r.try_get("", "n")?;
        t.entered += n;
        // As the running totals count it: on to a later open stage, or won.
        if next.is_some_and(|x| is_won(&x) || (!is_lost(&x) && position(&x) > position(&stage))) {
            t.advanced += n;
        }
        t.stays += r.try_get::<Option<i64>>("", "stays")?.unwrap_or(0);
        t.stay_seconds += r.try_get::<i64>("", "seconds")?;
    }
    Ok(out)
}

/// Closed opportunities per owner and per source, closed in the window: (key, won, lost,
/// won amount in base).
pub async fn win_rates(
    tx: &TenantTx<'_>,
    by: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> AppResult<Vec<(Option<String>, i64, i64, Decimal)>> {
    let backend = tx.conn().get_database_backend();
    let col = if by == "owner" { "owner_id" } else { "source" };
    let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into()];
    let mut sql = format!(
        "SELECT {col} AS k, SUM(CASE WHEN status = 'won' THEN 1 ELSE 0 END) AS won,
             SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END) AS lost,
             CAST(COALESCE(SUM(CASE WHEN status = 'won' THEN expected_base ELSE 0 END), 0) AS BIGINT) AS amount
         FROM opportunities WHERE tenant_id = {} AND status IN ('won', 'lost')",
        ph(backend, 1)
    );
    if let Some(f) = from {
        values.push(f.into());
        sql.push_str(&format!(" AND closed_at >= {}", ph(backend, values.len())));
    }
    if let Some(t) = to {
        values.push(t.into());
        sql.push_str(&format!(" AND closed_at < {}", ph(backend, values.len())));
    }
    sql.push_str(" GROUP BY k ORDER BY k");
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter()
        .map(|r| {
            let key = if by == "owner" {
                r.try_get::<Option<Uuid>>("", "k")?.map(|u| u.to_string())
            } else {
                r.try_get::<Option<String>>("", "k")?
            };
            Ok((
                key,
                r.try_get::<i64>("", "won")?,
                r.try_get::<i64>("", "lost")?,
                money_from_db(r.try_get("", "amount")?),
            ))
        })
        .collect()
}

/// Leads created in the window per source: (source, total, converted, lost).
pub async fn lead_conversion(
    tx: &TenantTx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> AppResult<Vec<(String, i64, i64, i64)>> {
    let backend = tx.conn().get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into()];
    let mut sql = format!(
        "SELECT source, COUNT(*) AS n, SUM(CASE WHEN status = 'converted' THEN 1 ELSE 0 END) AS converted,
             SUM(CASE WHEN status = 'lost' THEN 1 ELSE 0 END) AS lost
         FROM leads WHERE tenant_id = {}",
        ph(backend, 1)
    );
    if let Some(f) = from {
        values.push(f.into());
        sql.push_str(&format!(" AND created_at >= {}", ph(backend, values.len())));
    }
    if let Some(t) = to {
        values.push(t.into());
        sql.push_str(&format!(" AND created_at < {}", ph(backend, values.len())));
    }
    sql.push_str(" GROUP BY source ORDER BY source");
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get("", "source")?, r.try_get("", "n")?, r.try_get("", "converted")?, r.try_get("", "lost")?))
        })
        .collect()
}

// ---------------------------------------------------------------- customer 360

/// What a customer bought and owes, from the sales and finance documents.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerFacts {
    /// Sales orders by status: (status, count, gross in base).
    pub orders_by_status: Vec<(String, i64, Decimal)>,
    pub first_purchase: Option<NaiveDate>,
    pub last_purchase: Option<NaiveDate>,
    /// Posted invoices less credit notes, gross, in base.
    pub lifetime_value: Decimal,
    pub open_invoices: i64,
    /// Open amount of posted invoices past their due date, in base.
    pub overdue: Decimal,
    /// Distinct items ordered, and how many of them in more than one order.
    pub items_bought: i64,
    pub items_rebought: i64,
}

pub async fn customer_facts(tx: &TenantTx<'_>, party: Uuid, today: NaiveDate) -> AppResult<CustomerFacts> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2, p3) = (ph(backend, 1), ph(backend, 2), ph(backend, 3));
    let base: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), party.into()];
    let query = |sql: String, values: Vec<sea_orm::Value>| {
        tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values))
    };
    let mut f = CustomerFacts::default();
    let rows = query(
        format!(
            "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(gross_base), 0) AS BIGINT) AS gross,
                 MIN(order_date) AS first, MAX(order_date) AS last
             FROM trade_orders WHERE tenant_id = {p1} AND party_id = {p2} AND side = 'sales' AND kind = 'order'
             GROUP BY status ORDER BY status"
        ),
        base.clone(),
    )
    .await?;
    for r in rows {
        let status: String = r.try_get("", "status")?;
        if status == "confirmed" || status == "closed" {
            let first = parse_date(&r.try_get::<String>("", "first")?)?;
            let last = parse_date(&r.try_get::<String>("", "last")?)?;
            f.first_purchase = Some(f.first_purchase.map_or(first, |d| std::cmp::Ord::min(d, first)));
            f.last_purchase = Some(f.last_purchase.map_or(last, |d| std::cmp::Ord::max(d, last)));
        }
        f.orders_by_status.push((status, r.try_get("", "n")?, money_from_db(r.try_get("", "gross")?)));
    }
    let rows = query(
        format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN is_credit_note THEN -gross_base ELSE gross_base END), 0) AS BIGINT) AS ltv,
                 SUM(CASE WHEN NOT is_credit_note AND open_amount <> 0 THEN 1 ELSE 0 END) AS open_n,
                 CAST(COALESCE(SUM(CASE WHEN NOT is_credit_note AND due_date < {p3} THEN open_base ELSE 0 END), 0) AS BIGINT) AS overdue
             FROM invoices WHERE tenant_id = {p1} AND party_id = {p2} AND side = 'receivable' AND status = 'posted'"
        ),
        vec![tx.tenant().0.into(), party.into(), date_str(today).into()],
    )
    .await?;
    if let Some(r) = rows.first() {
        f.lifetime_value = money_from_db(r.try_get("", "ltv")?);
        f.open_invoices = r.try_get::<Option<i64>>("", "open_n")?.unwrap_or(0);
        f.overdue = money_from_db(r.try_get("", "overdue")?);
    }
    let rows = query(
        format!(
            "SELECT COUNT(*) AS items, SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS again FROM (
                 SELECT l.item_id, COUNT(DISTINCT o.id) AS n
                 FROM trade_orders o JOIN trade_order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
                 WHERE o.tenant_id = {p1} AND o.party_id = {p2} AND o.side = 'sales' AND o.kind = 'order'
                   AND o.status IN ('confirmed', 'closed')
                 GROUP BY l.item_id) x"
        ),
        base,
    )
    .await?;
    if let Some(r) = rows.first() {
        f.items_bought = r.try_get("", "items")?;
        f.items_rebought = r.try_get::<Option<i64>>("", "again")?.unwrap_or(0);
    }
    Ok(f)
}

/// A customer's follow-ups not yet done, soonest first.
pub async fn open_follow_ups_of(tx: &TenantTx<'_>, customer: Uuid) -> AppResult<Vec<Activity>> {
    use activities::Column as C;
    activities::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::CustomerId.eq(customer))
        .filter(C::FollowUpDone.eq(false))
        .filter(C::NextFollowUp.is_not_null())
        .order_by_asc(C::NextFollowUp)
        .limit(20)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(activity_from)
        .collect()
}

/// A column's text without the usual phone separators (spaces, dashes, dots, brackets, plus).
fn digits_only(c: impl sea_orm::sea_query::IntoColumnRef) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Func};
    let mut e = Expr::col(c);
    for sep in [" ", "-", ".", "(", ")", "+"] {
        e = Expr::expr(Func::cust("REPLACE").arg(e).arg(sep).arg(""));
    }
    e
}

/// A LIKE pattern for text containing `q`, lower-cased, with `%`, `_` and `\\` in it matched
/// literally (compare it with a lower-cased column).
pub(crate) fn contains_pattern(q: &str) -> sea_orm::sea_query::LikeExpr {
    let like = format!("%{}%", q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    sea_orm::sea_query::LikeExpr::new(like).escape('\\')
}

/// Search hits: (kind, id, title, detail). Matching is case-insensitive on names, codes,
/// numbers, emails and tags, and on the digits of phone numbers.
pub async fn search(tx: &TenantTx<'_>, q: &str, limit: u64) -> AppResult<Vec<(&'static str, Uuid, String, String)>> {
    use sea_orm::sea_query::{Expr, Func};
    let like = contains_pattern(q);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let digits_like = (digits.len() >= 4).then(|| format!("%{digits}%"));
    let lower = |c: sea_orm::sea_query::SimpleExpr| Expr::expr(Func::lower(c));
    let mut out = Vec::new();

    use super::entities::parties::{Column as P, Entity as Parties};
    let mut cond = sea_orm::Condition::any()
        .add(lower(Expr::col(P::Name)).like(like.clone()))
        .add(lower(Expr::col(P::Code)).like(like.clone()))
        .add(lower(Expr::col(P::Email)).like(like.clone()))
        .add(lower(Expr::col(P::Tags)).like(like.clone()))
        .add(lower(Expr::col(P::Contacts)).like(like.clone()));
    if let Some(d) = &digits_like {
        cond = cond.add(digits_only(P::Phone).like(d)).add(digits_only(P::Contacts).like(d));
    }
    let parties = Parties::find()
        .filter(P::TenantId.eq(tx.tenant().0))
        .filter(P::Kind.eq("customer"))
        .filter(cond)
        .order_by_asc(P::Code)
        .limit(limit)
        .all(tx.conn())
        .await?;
    let needle = q.to_lowercase();
    for p in parties {
        let contacts: Vec<super::receivables::Contact> =
            serde_json::from_str(&p.contacts).map_err(AppError::internal)?;
        for c in &contacts {
            let text =
                format!("{} {} {}", c.name, c.email.clone().unwrap_or_default(), c.role.clone().unwrap_or_default())
                    .to_lowercase();
            let phone: String = c.phone.clone().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
            if text.contains(&needle) || (digits.len() >= 4 && phone.contains(&digits)) {
                out.push(("contact", p.id, c.name.clone(), format!("{} {}", p.code, p.name)));
            }
        }
        let own = format!("{} {} {} {}", p.code, p.name, p.email.clone().unwrap_or_default(), p.tags).to_lowercase();
        let phone: String = p.phone.clone().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
        // A match only in the contacts' JSON keys is no match.
        if own.contains(&needle) || (digits.len() >= 4 && phone.contains(&digits)) {
            out.push(("customer", p.id, p.name.clone(), p.code.clone()));
        }
    }

    use leads::Column as L;
    let mut cond = sea_orm::Condition::any()
        .add(lower(Expr::col(L::Name)).like(like.clone()))
        .add(lower(Expr::col(L::Company)).like(like.clone()))
        .add(lower(Expr::col(L::Number)).like(like.clone()))
        .add(L::EmailKey.like(like.clone()))
        .add(lower(Expr::col(L::Tags)).like(like.clone()));
    if let Some(d) = &digits_like {
        cond = cond.add(L::PhoneKey.like(d.as_str()));
    }
    for l in leads::Entity::find()
        .filter(L::TenantId.eq(tx.tenant().0))
        .filter(cond)
        .order_by_desc(L::Id)
        .limit(limit)
        .all(tx.conn())
        .await?
    {
        out.push(("lead", l.id, l.name, format!("{} {}", l.number, l.status)));
    }

    use opportunities::Column as O;
    for o in opportunities::Entity::find()
        .filter(O::TenantId.eq(tx.tenant().0))
        .filter(
            sea_orm::Condition::any()
                .add(lower(Expr::col(O::Name)).like(like.clone()))
                .add(lower(Expr::col(O::Number)).like(like.clone()))
                .add(lower(Expr::col(O::ContactName)).like(like.clone())),
        )
        .order_by_desc(O::Id)
        .limit(limit)
        .all(tx.conn())
        .await?
    {
        out.push(("opportunity", o.id, o.name, format!("{} {}", o.number, o.status)));
    }
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
}

/// Serializes the creation of a tenant's leads (the duplicate check must see the one before).
pub async fn lock_leads(tx: &TenantTx<'_>) -> AppResult<()> {
    super::ledger::next_in_sequence(tx, "crm_lead_lock").await?;
    Ok(())
}

/// A stage about to receive an opportunity, read for share (a pipeline edit waits, or this
/// sees its result).
pub async fn stage_for_use(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<PipelineStage>> {
    use pipeline_stages::Column as C;
    Ok(pipeline_stages::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(id))
        .lock_shared()
        .one(tx.conn())
        .await?
        .map(stage_from))
}

/// The opportunity a sales order won, locked.
pub async fn opportunity_of_order(tx: &TenantTx<'_>, order: Uuid) -> AppResult<Option<Opportunity>> {
    use opportunities::Column as C;
    opportunities::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::SalesOrderId.eq(order))
        .lock_exclusive()
        .one(tx.conn())
        .await?
        .map(opportunity_from)
        .transpose()
}

pub async fn delete_visit(tx: &TenantTx<'_>, opportunity: Uuid, seq: i32) -> AppResult<()> {
    use opportunity_stage_visits::Column as C;
    opportunity_stage_visits::Entity::delete_many()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OpportunityId.eq(opportunity))
        .filter(C::Seq.eq(seq))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn reopen_visit(tx: &TenantTx<'_>, opportunity: Uuid, seq: i32) -> AppResult<()> {
    use opportunity_stage_visits::Column as C;
    opportunity_stage_visits::Entity::update_many()
        .col_expr(C::LeftAt, sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OpportunityId.eq(opportunity))
        .filter(C::Seq.eq(seq))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// A customer's latest activity by when it happened (a call logged late still counts when it
/// was made).
pub async fn last_activity(tx: &TenantTx<'_>, customer: Uuid) -> AppResult<Option<Activity>> {
    use activities::Column as C;
    activities::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::CustomerId.eq(customer))
        .order_by_desc(C::OccurredAt)
        .order_by_desc(C::Id)
        .one(tx.conn())
        .await?
        .map(activity_from)
        .transpose()
}

// ---------------------------------------------------------------- segments

/// Per customer billed in the window up to `to`: (id, code, name, last invoice date, invoices,
/// billed less credited in base).
pub async fn purchases_by_customer(
    tx: &TenantTx<'_>,
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> AppResult<Vec<(Uuid, String, String, NaiveDate, i64, Decimal)>> {
    let backend = tx.conn().get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), date_str(to).into()];
    let mut sql = format!(
        "SELECT i.party_id, p.code, p.name, MAX(CASE WHEN NOT i.is_credit_note THEN i.invoice_date END) AS last,
             SUM(CASE WHEN i.is_credit_note THEN 0 ELSE 1 END) AS n,
             CAST(SUM(CASE WHEN i.is_credit_note THEN -i.gross_base ELSE i.gross_base END) AS BIGINT) AS amount
         FROM invoices i JOIN parties p ON p.tenant_id = i.tenant_id AND p.id = i.party_id
         WHERE i.tenant_id = {} AND i.side = 'receivable' AND i.status = 'posted' AND i.invoice_date <= {}",
        ph(backend, 1),
        ph(backend, 2)
    );
    if let Some(f) = from {
        values.push(date_str(f).into());
        sql.push_str(&format!(" AND i.invoice_date >= {}", ph(backend, 3)));
    }
    sql.push_str(" GROUP BY i.party_id, p.code, p.name");
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let n: i64 = r.try_get::<Option<i64>>("", "n")?.unwrap_or(0);
        let Some(last) = r.try_get::<Option<String>>("", "last")? else { continue };
        if n == 0 {
            continue;
        }
        out.push((
            r.try_get("", "party_id")?,
            r.try_get("", "code")?,
            r.try_get("", "name")?,
            parse_date(&last)?,
            n,
            money_from_db(r.try_get::<Option<i64>>("", "amount")?.unwrap_or(0)),
        ));
    }
    Ok(out)
}

/// Customers with a confirmed or closed sales order dated in the window, and how many of them
/// ordered more than once.
pub async fn repurchase(tx: &TenantTx<'_>, from: Option<NaiveDate>, to: NaiveDate) -> AppResult<(i64, i64)> {
    let backend = tx.conn().get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), date_str(to).into()];
    let mut window = format!("order_date <= {}", ph(backend, 2));
    if let Some(f) = from {
        values.push(date_str(f).into());
        window.push_str(&format!(" AND order_date >= {}", ph(backend, 3)));
    }
    let sql = format!(
        "SELECT COUNT(*) AS buyers, SUM(CASE WHEN n > 1 THEN 1 ELSE 0 END) AS again FROM (
             SELECT party_id, COUNT(*) AS n FROM trade_orders
             WHERE tenant_id = {} AND side = 'sales' AND kind = 'order' AND status IN ('confirmed', 'closed') AND {window}
             GROUP BY party_id) x",
        ph(backend, 1)
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    let Some(r) = rows.first() else { return Ok((0, 0)) };
    Ok((r.try_get("", "buyers")?, r.try_get::<Option<i64>>("", "again")?.unwrap_or(0)))
}
