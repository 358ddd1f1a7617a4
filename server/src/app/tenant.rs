//! The tenant's own view of its account: settings, subscription and entitlements.

use super::{AppState, Change, Ctx, record};
use crate::domain::subscription::{self, Entitlements, SubscriptionState};
use crate::domain::validate;
use crate::error::{AppError, AppResult, Fields};
use crate::store::Access;
use crate::store::tenants::{self, Tenant};

pub struct TenantView {
    pub tenant: Tenant,
    pub state: SubscriptionState,
    pub entitlements: Entitlements,
}

pub fn view(app: &AppState, tenant: Tenant) -> TenantView {
    let state = subscription::state(tenant.plan, tenant.trial_ends_at, app.now());
    let entitlements = subscription::entitlements(tenant.plan);
    TenantView { tenant, state, entitlements }
}

pub async fn get(app: &AppState, ctx_tenant: crate::domain::ids::TenantId) -> AppResult<TenantView> {
    let tx = app.store.begin(ctx_tenant, Access::Read).await?;
    let t = tenants::current(&tx).await?;
    tx.commit().await?;
    Ok(view(app, t))
}

pub async fn update_settings(app: &AppState, ctx: &Ctx, if_match: i64, name: Option<String>) -> AppResult<TenantView> {
    let mut f = Fields::new();
    let name = name.map(|n| f.check("name", validate::name(&n, 200)));
    f.finish()?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = tenants::current(&tx).await?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "tenant", current: before.version });
    }
    let mut after = before.clone();
    if let Some(n) = name.flatten() {
        after.name = n;
    }
    after.updated_at = now;
    after.version += 1;
    if !tenants::update_settings(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "tenant", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "tenant.update",
            "tenant",
            Some(after.id.to_string()),
            Some(serde_json::json!({"name": before.name})),
            Some(serde_json::json!({"name": after.name})),
        ),
    )
    .await?;
    tx.commit().await?;
    app.forget_tenant(after.id);
    Ok(view(app, after))
}
