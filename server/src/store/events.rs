//! The outbox: events, their deliveries to plugins, and stock alerts.
//!
//! Claims are the only cross-tenant statements in the store: they run as the dispatcher (see
//! the migration), read ids and leases only, and everything else happens in tenant
//! transactions.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::entities::{outbox_events, plugin_deliveries, stock_alerts};
use super::{Access, PlatformTx, Store, TenantTx, is_unique_violation};
use crate::domain::ids::TenantId;
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub kind: String,
    pub subject_id: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub dispatched_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub plugin: String,
    /// pending, done or dead
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn event_from(m: outbox_events::Model) -> Event {
    Event {
        id: m.id,
        kind: m.kind,
        subject_id: m.subject_id,
        payload: serde_json::from_str(&m.payload).unwrap_or_default(),
        created_at: m.created_at,
        dispatched_at: m.dispatched_at,
    }
}

fn delivery_from(m: plugin_deliveries::Model) -> Delivery {
    Delivery {
        id: m.id,
        event_id: m.event_id,
        plugin: m.plugin,
        status: m.status,
        attempts: m.attempts,
        next_attempt_at: m.next_attempt_at,
        last_error: m.last_error,
        created_at: m.created_at,
        finished_at: m.finished_at,
    }
}

pub async fn insert_event(tx: &TenantTx<'_>, e: &Event) -> AppResult<()> {
    let am = outbox_events::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(e.id),
        kind: Set(e.kind.clone()),
        subject_id: Set(e.subject_id.clone()),
        payload: Set(e.payload.to_string()),
        created_at: Set(e.created_at),
        claimed_until: Set(None),
        dispatched_at: Set(None),
    };
    outbox_events::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Events by id, oldest first.
pub async fn events(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<Event>> {
    use outbox_events::Column as C;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = outbox_events::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::Id.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?;
        out.extend(rows.into_iter().map(event_from));
    }
    out.sort_by_key(|e| e.id);
    Ok(out)
}

/// Marks events as fanned out (they leave the pending index).
pub async fn mark_dispatched(tx: &TenantTx<'_>, ids: &[Uuid], now: DateTime<Utc>) -> AppResult<()> {
    use outbox_events::Column as C;
    for chunk in ids.chunks(500) {
        outbox_events::Entity::update_many()
            .col_expr(C::DispatchedAt, sea_orm::sea_query::Expr::value(now))
            .col_expr(C::ClaimedUntil, sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None))
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::Id.is_in(chunk.iter().copied()))
            .exec(tx.conn())
            .await?;
    }
    Ok(())
}

/// Forgets dispatched events older than `before` that no delivery points at.
pub async fn prune_events(tx: &TenantTx<'_>, before: DateTime<Utc>) -> AppResult<u64> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    let sql = format!(
        "DELETE FROM outbox_events WHERE tenant_id = {p1} AND dispatched_at < {p2}
           AND NOT EXISTS (SELECT 1 FROM plugin_deliveries d
                           WHERE d.tenant_id = outbox_events.tenant_id AND d.event_id = outbox_events.id)"
    );
    let res = tx
        .conn()
        .execute_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), before.into()]))
        .await?;
    Ok(res.rows_affected())
}

pub async fn insert_deliveries(tx: &TenantTx<'_>, rows: &[Delivery]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.iter().map(|d| plugin_deliveries::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(d.id),
        event_id: Set(d.event_id),
        plugin: Set(d.plugin.clone()),
        status: Set(d.status.clone()),
        attempts: Set(d.attempts),
        next_attempt_at: Set(d.next_attempt_at),
        claimed_until: Set(None),
        last_error: Set(d.last_error.clone()),
        created_at: Set(d.created_at),
        finished_at: Set(d.finished_at),
    });
    plugin_deliveries::Entity::insert_many(models).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn deliveries(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<Delivery>> {
    use plugin_deliveries::Column as C;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows = plugin_deliveries::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::Id.is_in(chunk.iter().copied()))
            .all(tx.conn())
            .await?;
        out.extend(rows.into_iter().map(delivery_from));
    }
    out.sort_by_key(|d| d.id);
    Ok(out)
}

/// Saves a delivery's state after an attempt (and lets go of its lease).
pub async fn save_delivery(tx: &TenantTx<'_>, d: &Delivery) -> AppResult<()> {
    use plugin_deliveries::Column as C;
    use sea_orm::sea_query::Expr;
    plugin_deliveries::Entity::update_many()
        .col_expr(C::Status, Expr::value(d.status.clone()))
        .col_expr(C::Attempts, Expr::value(d.attempts))
        .col_expr(C::NextAttemptAt, Expr::value(d.next_attempt_at))
        .col_expr(C::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(C::LastError, Expr::value(d.last_error.clone()))
        .col_expr(C::FinishedAt, Expr::value(d.finished_at))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(d.id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// A plugin's deliveries (optionally in one state), newest first from before `before`, with
/// their events.
pub async fn list_deliveries(
    tx: &TenantTx<'_>,
    plugin: &str,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<(Delivery, Option<Event>)>> {
    use plugin_deliveries::Column as C;
    let mut q = plugin_deliveries::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Plugin.eq(plugin));
    if let Some(s) = status {
        q = q.filter(C::Status.eq(s));
    }
    if let Some(b) = before {
        q = q.filter(C::Id.lt(b));
    }
    let rows: Vec<Delivery> =
        q.order_by_desc(C::Id).limit(limit).all(tx.conn()).await?.into_iter().map(delivery_from).collect();
    let ids: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect::<HashSet<_>>().into_iter().collect();
    let events: HashMap<Uuid, Event> = events(tx, &ids).await?.into_iter().map(|e| (e.id, e)).collect();
    Ok(rows.into_iter().map(|d| (d.clone(), events.get(&d.event_id).cloned())).collect())
}

pub async fn delivery(tx: &TenantTx<'_>, plugin: &str, id: Uuid) -> AppResult<Option<Delivery>> {
    use plugin_deliveries::Column as C;
    Ok(plugin_deliveries::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Plugin.eq(plugin))
        .filter(C::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(delivery_from))
}

/// Counts of a plugin's deliveries per state.
pub async fn delivery_counts(tx: &TenantTx<'_>, plugin: &str) -> AppResult<HashMap<String, i64>> {
    use plugin_deliveries::Column as C;
    let rows: Vec<(String, i64)> = plugin_deliveries::Entity::find()
        .select_only()
        .column(C::Status)
        .column_as(C::Id.count(), "n")
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Plugin.eq(plugin))
        .group_by(C::Status)
        .into_tuple()
        .all(tx.conn())
        .await?;
    Ok(rows.into_iter().collect())
}

// ---- Claims (across tenants, as the dispatcher) ------------------------------------------

async fn as_dispatcher(tx: &PlatformTx<'_>) -> AppResult<()> {
    if tx.conn().get_database_backend() == DbBackend::Postgres {
        tx.conn()
            .execute_raw(Statement::from_string(DbBackend::Postgres, "SELECT set_config('app.dispatcher', 'on', true)"))
            .await?;
    }
    Ok(())
}

fn tenant_ids(rows: &[sea_orm::QueryResult]) -> AppResult<Vec<(TenantId, Uuid)>> {
    rows.iter().map(|r| Ok((TenantId(r.try_get("", "tenant_id")?), r.try_get("", "id")?))).collect()
}

/// Leases up to `limit` due rows of `table` (the filter `due` picks them) until `until`, skipping
/// rows another node holds. A cheap read first, so an idle outbox costs no write.
async fn claim(
    store: &Store,
    table: &str,
    due: &str,
    order: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<(TenantId, Uuid)>> {
    let backend = store.backend();
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    let due = due.replace("{now}", p1);
    let peek = store.begin_platform(Access::Read).await?;
    as_dispatcher(&peek).await?;
    let any = peek
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!("SELECT id FROM {table} WHERE {due} LIMIT 1"),
            [now.into()],
        ))
        .await?
        .is_some();
    peek.commit().await?;
    if !any {
        return Ok(Vec::new());
    }
    let tx = store.begin_platform(Access::Write).await?;
    as_dispatcher(&tx).await?;
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE {table} SET claimed_until = {p2}
         WHERE (tenant_id, id) IN (SELECT tenant_id, id FROM {table} WHERE {due}
                                   ORDER BY {order} LIMIT {limit} {lock})
         RETURNING tenant_id, id"
    );
    let rows =
        tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [now.into(), until.into()])).await?;
    tx.commit().await?;
    tenant_ids(&rows)
}

/// Leases events not yet fanned out.
pub async fn claim_events(
    store: &Store,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<(TenantId, Uuid)>> {
    claim(
        store,
        "outbox_events",
        "dispatched_at IS NULL AND (claimed_until IS NULL OR claimed_until < {now})",
        "id",
        now,
        until,
        limit,
    )
    .await
}

/// Leases deliveries whose next attempt is due.
pub async fn claim_deliveries(
    store: &Store,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<(TenantId, Uuid)>> {
    claim(
        store,
        "plugin_deliveries",
        "status = 'pending' AND next_attempt_at <= {now} AND (claimed_until IS NULL OR claimed_until < {now})",
        "next_attempt_at",
        now,
        until,
        limit,
    )
    .await
}

/// Lets go of claimed deliveries before their lease runs out (the claiming node will not run
/// them now).
pub async fn release_deliveries(store: &Store, rows: &[(TenantId, Uuid)]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let backend = store.backend();
    let tx = store.begin_platform(Access::Write).await?;
    as_dispatcher(&tx).await?;
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?1", "?2"),
    };
    for (tenant, id) in rows {
        tx.conn()
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!("UPDATE plugin_deliveries SET claimed_until = NULL WHERE tenant_id = {p1} AND id = {p2}"),
                [tenant.0.into(), (*id).into()],
            ))
            .await?;
    }
    tx.commit().await
}

// ---- Stock alerts -------------------------------------------------------------------------

/// Of `items`, those with an open alert.
pub async fn alerted(tx: &TenantTx<'_>, items: &[Uuid]) -> AppResult<HashSet<Uuid>> {
    use stock_alerts::Column as C;
    Ok(stock_alerts::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.is_in(items.iter().copied()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| m.item_id)
        .collect())
}

/// Opens an alert; `false` when one is open already (another transaction raised it).
pub async fn open_alert(tx: &TenantTx<'_>, item: Uuid, now: DateTime<Utc>) -> AppResult<bool> {
    let am = stock_alerts::ActiveModel { tenant_id: Set(tx.tenant().0), item_id: Set(item), since: Set(now) };
    let keep = sea_orm::sea_query::OnConflict::columns([stock_alerts::Column::TenantId, stock_alerts::Column::ItemId])
        .do_nothing()
        .to_owned();
    match stock_alerts::Entity::insert(am).on_conflict(keep).exec_without_returning(tx.conn()).await {
        Ok(n) => Ok(n == 1),
        Err(sea_orm::DbErr::RecordNotInserted) => Ok(false),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub async fn close_alerts(tx: &TenantTx<'_>, items: &[Uuid]) -> AppResult<()> {
    use stock_alerts::Column as C;
    if items.is_empty() {
        return Ok(());
    }
    stock_alerts::Entity::delete_many()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.is_in(items.iter().copied()))
        .exec(tx.conn())
        .await?;
    Ok(())
}
