//! The audit trail: append-only (the schema refuses updates and deletes).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entities::audit_events;
use super::{Page, TenantTx};
use crate::domain::ids::AuditEventId;
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<uuid::Uuid>,
    pub actor_name: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

impl From<audit_events::Model> for AuditEvent {
    fn from(m: audit_events::Model) -> Self {
        Self {
            id: AuditEventId(m.id),
            occurred_at: m.occurred_at,
            actor_kind: m.actor_kind,
            actor_id: m.actor_id,
            actor_name: m.actor_name,
            action: m.action,
            entity_type: m.entity_type,
            entity_id: m.entity_id,
            before: m.before_state,
            after: m.after_state,
            source_ip: m.source_ip,
            request_id: m.request_id,
        }
    }
}

pub async fn insert(tx: &TenantTx<'_>, e: &AuditEvent) -> AppResult<()> {
    let am = audit_events::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(e.id.0),
        occurred_at: Set(e.occurred_at),
        actor_kind: Set(e.actor_kind.clone()),
        actor_id: Set(e.actor_id),
        actor_name: Set(e.actor_name.clone()),
        action: Set(e.action.clone()),
        entity_type: Set(e.entity_type.clone()),
        entity_id: Set(e.entity_id.clone()),
        before_state: Set(e.before.clone()),
        after_state: Set(e.after.clone()),
        source_ip: Set(e.source_ip.clone()),
        request_id: Set(e.request_id.clone()),
    };
    audit_events::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

#[derive(Default, Debug)]
pub struct AuditFilter {
    pub actor_id: Option<uuid::Uuid>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Newest first: the cursor is the last id seen, and ids are time-ordered.
pub async fn list(tx: &TenantTx<'_>, page: &Page, f: &AuditFilter) -> AppResult<Vec<AuditEvent>> {
    let mut q = audit_events::Entity::find().filter(audit_events::Column::TenantId.eq(tx.tenant().0));
    if let Some(a) = f.actor_id {
        q = q.filter(audit_events::Column::ActorId.eq(a));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_events::Column::Action.eq(a.clone()));
    }
    if let Some(t) = &f.entity_type {
        q = q.filter(audit_events::Column::EntityType.eq(t.clone()));
    }
    if let Some(id) = &f.entity_id {
        q = q.filter(audit_events::Column::EntityId.eq(id.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_events::Column::OccurredAt.gte(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_events::Column::OccurredAt.lt(to));
    }
    if let Some(after) = page.after {
        q = q.filter(audit_events::Column::Id.lt(after));
    }
    Ok(q.order_by_desc(audit_events::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}
