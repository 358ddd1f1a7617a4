//! Reading the audit trail.

use super::AppState;
use crate::domain::ids::TenantId;
use crate::error::AppResult;
use crate::store::audit::{self, AuditEvent, AuditFilter};
use crate::store::{Access, Page};

pub async fn list(app: &AppState, tenant: TenantId, page: &Page, filter: &AuditFilter) -> AppResult<Vec<AuditEvent>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let events = audit::list(&tx, page, filter).await?;
    tx.commit().await?;
    Ok(events)
}
