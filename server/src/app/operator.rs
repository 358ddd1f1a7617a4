//! What the platform operator does: list tenants, set a plan, extend a trial. Each change is
//! written to the tenant's own audit trail as done by the operator.

use chrono::{DateTime, Utc};

use super::tenant::{TenantView, view};
use super::{AppState, Ctx, record};
use crate::auth::{Actor, Principal};
use crate::domain::access::PermissionSet;
use crate::domain::ids::TenantId;
use crate::domain::subscription::Plan;
use crate::error::{AppError, AppResult};
use crate::store::{Access, Page, tenants};

pub async fn list(app: &AppState, page: &Page) -> AppResult<Vec<TenantView>> {
    let tx = app.store.begin_platform(Access::Read).await?;
    let list = tenants::list(&tx, page).await?;
    tx.commit().await?;
    Ok(list.into_iter().map(|t| view(app, t)).collect())
}

pub async fn get(app: &AppState, id: TenantId) -> AppResult<TenantView> {
    let tx = app.store.begin_platform(Access::Read).await?;
    let t = tenants::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "tenant" })?;
    tx.commit().await?;
    Ok(view(app, t))
}

pub enum Change {
    Plan(Option<Plan>),
    TrialEndsAt(DateTime<Utc>),
}

pub async fn change(app: &AppState, id: TenantId, change: Change, source_ip: Option<String>) -> AppResult<TenantView> {
    let now = app.now();
    if app.tenant(id).await.is_err() {
        return Err(AppError::NotFound { entity: "tenant" });
    }
    let tx = app.store.begin(id, Access::Write).await?;
    let before = tenants::current(&tx).await?;
    let mut after = before.clone();
    let action = match change {
        Change::Plan(plan) => {
            after.plan = plan;
            after.plan_started_at = plan.map(|_| now);
            "tenant.plan_set"
        }
        Change::TrialEndsAt(at) => {
            if at <= before.trial_ends_at {
                return Err(AppError::field("trial_ends_at", "an extension must end after the current trial end"));
            }
            after.trial_ends_at = at;
            "tenant.trial_extended"
        }
    };
    after.updated_at = now;
    after.version += 1;
    tenants::update_subscription(&tx, &after).await?;
    let ctx = Ctx {
        principal: Principal {
            tenant: id,
            actor: Actor::Operator,
            name: "platform operator".into(),
            permissions: PermissionSet::EMPTY,
        },
        source_ip,
        request_id: None,
    };
    let snap =
        |t: &tenants::Tenant| serde_json::json!({"plan": t.plan.map(|p| p.as_str()), "trial_ends_at": t.trial_ends_at});
    record(
        &tx,
        &ctx,
        now,
        super::Change::new(action, "tenant", Some(id.to_string()), Some(snap(&before)), Some(snap(&after))),
    )
    .await?;
    tx.commit().await?;
    app.forget_tenant(id);
    Ok(view(app, after))
}
