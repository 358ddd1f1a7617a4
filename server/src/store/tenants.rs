//! Tenants: the platform table of companies, their trial and plan.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entities::tenants;
use super::{Page, PlatformTx, TenantTx, is_unique_violation};
use crate::domain::ids::TenantId;
use crate::domain::subscription::Plan;
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub base_currency: String,
    pub coa_template: String,
    pub plan: Option<Plan>,
    pub plan_started_at: Option<DateTime<Utc>>,
    pub trial_ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Self {
            id: TenantId(m.id),
            slug: m.slug,
            name: m.name,
            base_currency: m.base_currency,
            coa_template: m.coa_template,
            plan: m.plan.as_deref().and_then(Plan::parse),
            plan_started_at: m.plan_started_at,
            trial_ends_at: m.trial_ends_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

/// Creates the tenant row inside the new tenant's own first transaction. A taken slug answers
/// `Ok(false)`.
pub async fn insert(tx: &TenantTx<'_>, t: &Tenant) -> AppResult<bool> {
    tx.memo()?.tenant = None;
    if t.id != tx.tenant() {
        return Err(AppError::internal("tenant row must match the transaction's tenant"));
    }
    let am = tenants::ActiveModel {
        id: Set(t.id.0),
        slug: Set(t.slug.clone()),
        name: Set(t.name.clone()),
        base_currency: Set(t.base_currency.clone()),
        coa_template: Set(t.coa_template.clone()),
        plan: Set(t.plan.map(|p| p.as_str().to_owned())),
        plan_started_at: Set(t.plan_started_at),
        trial_ends_at: Set(t.trial_ends_at),
        created_at: Set(t.created_at),
        updated_at: Set(t.updated_at),
        version: Set(t.version),
    };
    match tenants::Entity::insert(am).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The tenant of the transaction.
pub async fn current(tx: &TenantTx<'_>) -> AppResult<Tenant> {
    if let Some(t) = &tx.memo()?.tenant {
        return Ok(t.clone());
    }
    let t = tenants::Entity::find_by_id(tx.tenant().0)
        .one(tx.conn())
        .await?
        .map(Tenant::from)
        .ok_or(AppError::NotFound { entity: "tenant" })?;
    tx.memo()?.tenant = Some(t.clone());
    Ok(t)
}

pub async fn get(tx: &PlatformTx<'_>, id: TenantId) -> AppResult<Option<Tenant>> {
    Ok(tenants::Entity::find_by_id(id.0).one(tx.conn()).await?.map(Tenant::from))
}

pub async fn find_by_slug(tx: &PlatformTx<'_>, slug: &str) -> AppResult<Option<Tenant>> {
    Ok(tenants::Entity::find().filter(tenants::Column::Slug.eq(slug)).one(tx.conn()).await?.map(Tenant::from))
}

pub async fn list(tx: &PlatformTx<'_>, page: &Page) -> AppResult<Vec<Tenant>> {
    let mut q = tenants::Entity::find();
    if let Some(after) = page.after {
        q = q.filter(tenants::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(tenants::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Tenant::from)
        .collect())
}

/// Saves plan and trial fields of the transaction's tenant.
pub async fn update_subscription(tx: &TenantTx<'_>, t: &Tenant) -> AppResult<()> {
    tx.memo()?.tenant = None;
    tenants::Entity::update_many()
        .col_expr(tenants::Column::Plan, Expr::value(t.plan.map(|p| p.as_str().to_owned())))
        .col_expr(tenants::Column::PlanStartedAt, Expr::value(t.plan_started_at))
        .col_expr(tenants::Column::TrialEndsAt, Expr::value(t.trial_ends_at))
        .col_expr(tenants::Column::UpdatedAt, Expr::value(t.updated_at))
        .col_expr(tenants::Column::Version, Expr::value(t.version))
        .filter(tenants::Column::Id.eq(tx.tenant().0))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Saves the settings a tenant edits itself (name) if the version still matches.
pub async fn update_settings(tx: &TenantTx<'_>, t: &Tenant) -> AppResult<bool> {
    tx.memo()?.tenant = None;
    let res = tenants::Entity::update_many()
        .col_expr(tenants::Column::Name, Expr::value(t.name.clone()))
        .col_expr(tenants::Column::UpdatedAt, Expr::value(t.updated_at))
        .col_expr(tenants::Column::Version, Expr::value(t.version))
        .filter(tenants::Column::Id.eq(tx.tenant().0))
        .filter(tenants::Column::Version.eq(t.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}
