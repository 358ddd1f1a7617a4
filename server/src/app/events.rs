//! Events after commit: a transition writes its event into the outbox in its own transaction
//! ([`emit`]); the dispatcher, a background task on every node, fans each event out to the
//! enabled plugins that subscribe to its kind and hands them their events in batches. A batch
//! that fails (the handler answered an error, trapped, ran out of budget, or its requests could
//! not be applied) is tried again with growing pauses, and after [`ATTEMPTS_MAX`] tries it goes
//! to the plugin's dead-letter list, from where an admin can send it again.
//!
//! Work is claimed with leases (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so any number of nodes
//! share it; a node that dies mid-batch leaves a lease that runs out and the batch is tried
//! again. A handler's requests (purchase requests) are applied in the same transaction that
//! marks its deliveries done, so a retry never applies them twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::plugins::{Active, LogItem, enabled, logs_json, wit_decimal};
use super::purchasing::{RequestInput, create_request_in};
use super::{AppState, Change, Ctx, record};
use crate::auth::{Actor, Principal};
use crate::domain::access::PermissionSet;
use crate::domain::ids::TenantId;
use crate::error::{AppError, AppResult};
use crate::plugins::runtime::{self, Budget, Capability};
use crate::store::events::{self as store, Delivery, Event};
use crate::store::plugins::{self as plugin_store, Invocation};
use crate::store::stock::{self as stock_store, Item};
use crate::store::{Access, TenantTx};

/// The kinds of event plugins may subscribe to.
pub const KINDS: [&str; 4] = [STOCK_BELOW_SAFETY, SALES_ORDER_CONFIRMED, APPROVAL_REQUESTED, APPROVAL_SETTLED];
/// A decision is due from an approver: one per approver of each step as it opens. Subject: the
/// approval request; the payload names the approver, the document and its amount.
pub const APPROVAL_REQUESTED: &str = super::approvals::REQUESTED;
/// An approval request ended (approved, rejected, returned or withdrawn). Subject: the request.
pub const APPROVAL_SETTLED: &str = super::approvals::SETTLED;
/// An item's available stock (on hand less reserved, all warehouses) fell below its safety
/// stock. Subject: the item. Raised again only after it has been back at or above.
pub const STOCK_BELOW_SAFETY: &str = "stock.below-safety";
/// A sales order was confirmed. Subject: the order.
pub const SALES_ORDER_CONFIRMED: &str = "sales-order.confirmed";

/// Tries of a batch before its deliveries go to the dead-letter list.
pub const ATTEMPTS_MAX: i32 = 5;
/// The pause after the first failed try; each further failure waits four times longer.
pub const RETRY_BASE: chrono::Duration = chrono::Duration::seconds(10);
/// Events handed to a plugin in one call.
const BATCH_MAX: usize = 50;
/// How often an idle dispatcher looks for work.
const POLL: Duration = Duration::from_millis(200);
/// How long a claim holds before another node may take the work over.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// Dispatched events no delivery needs are kept this long.
const KEEP_EVENTS: chrono::Duration = chrono::Duration::days(7);

/// Writes an event into the outbox in the caller's transaction: it exists if and only if the
/// transaction commits.
pub async fn emit(tx: &TenantTx<'_>, kind: &str, subject: Uuid, payload: Value, now: DateTime<Utc>) -> AppResult<()> {
    let e = Event {
        id: Uuid::now_v7(),
        kind: kind.to_owned(),
        subject_id: subject.to_string(),
        payload,
        created_at: now,
        dispatched_at: None,
    };
    store::insert_event(tx, &e).await
}

/// After stock of `items` moved or was reserved: an item whose available quantity is now below
/// its safety stock raises [`STOCK_BELOW_SAFETY`] (once, until it recovers); one at or above
/// it closes its alert. Items without a safety stock cost nothing.
pub async fn stock_watch(tx: &TenantTx<'_>, items: &HashMap<Uuid, Item>, now: DateTime<Utc>) -> AppResult<()> {
    let watched: Vec<&Item> = items.values().filter(|i| i.safety_stock > Decimal::ZERO).collect();
    if watched.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = watched.iter().map(|i| i.id).collect();
    let mut on_hand: HashMap<Uuid, (Decimal, Decimal)> = HashMap::new();
    for l in stock_store::levels_of_items(tx, &ids).await? {
        let e = on_hand.entry(l.item_id).or_default();
        e.0 += l.quantity;
        e.1 += l.reserved;
    }
    let mut recovered = Vec::new();
    for item in watched {
        let (quantity, reserved) = on_hand.get(&item.id).copied().unwrap_or_default();
        let available = quantity - reserved;
        if available >= item.safety_stock {
            recovered.push(item.id);
        } else if store::open_alert(tx, item.id, now).await? {
            let payload = json!({
                "sku": item.sku,
                "name": item.name,
                "on_hand": quantity.normalize().to_string(),
                "reserved": reserved.normalize().to_string(),
                "available": available.normalize().to_string(),
                "safety_stock": item.safety_stock.normalize().to_string(),
            });
            emit(tx, STOCK_BELOW_SAFETY, item.id, payload, now).await?;
        }
    }
    store::close_alerts(tx, &recovered).await
}

/// Starts the node's dispatcher.
pub fn start_dispatcher(app: Arc<AppState>) {
    tokio::spawn(async move {
        let dispatcher = Dispatcher::new(app);
        let mut ticker = tokio::time::interval(POLL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = dispatcher.tick().await {
                tracing::warn!(error = %e, "event dispatch failed; trying again");
            }
        }
    });
}

fn by_tenant(rows: Vec<(TenantId, Uuid)>) -> BTreeMap<TenantId, Vec<Uuid>> {
    let mut out: BTreeMap<TenantId, Vec<Uuid>> = BTreeMap::new();
    for (t, id) in rows {
        out.entry(t).or_default().push(id);
    }
    out
}

/// A node's dispatcher. Each tenant's deliveries run in a task of their own, one at a time per
/// tenant, so a tenant whose handler is slow delays only itself.
pub struct Dispatcher {
    app: Arc<AppState>,
    busy: Arc<std::sync::Mutex<HashSet<TenantId>>>,
}

impl Dispatcher {
    pub fn new(app: Arc<AppState>) -> Dispatcher {
        Dispatcher { app, busy: Arc::default() }
    }

    /// One round: fans out new events, then starts the deliveries that are due. Returns the
    /// deliveries started.
    pub async fn tick(&self) -> AppResult<usize> {
        let app = &self.app;
        let now = app.now();
        let claimed = store::claim_events(&app.store, now, now + LEASE, 500).await?;
        for (tenant, ids) in by_tenant(claimed) {
            fan_out(app, tenant, &ids, now).await?;
        }
        let now = app.now();
        let due = store::claim_deliveries(&app.store, now, now + LEASE, 500).await?;
        let mut started = 0;
        let mut give_back = Vec::new();
        for (tenant, ids) in by_tenant(due) {
            if !self.busy.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant) {
                // This tenant's earlier deliveries are still running here: theirs come first.
                give_back.extend(ids.into_iter().map(|id| (tenant, id)));
                continue;
            }
            started += ids.len();
            let (app, busy) = (app.clone(), self.busy.clone());
            tokio::spawn(async move {
                if let Err(e) = deliver_tenant(&app, tenant, &ids).await {
                    tracing::warn!(error = %e, %tenant, "event delivery failed; the lease runs out and it is tried again");
                }
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&tenant);
            });
        }
        store::release_deliveries(&app.store, &give_back).await?;
        Ok(started)
    }
}

async fn fan_out(app: &AppState, tenant: TenantId, ids: &[Uuid], now: DateTime<Utc>) -> AppResult<()> {
    let tx = app.store.begin(tenant, Access::Write).await?;
    let events = store::events(&tx, ids).await?;
    let plugins = enabled(app, &tx).await?;
    let mut rows = Vec::new();
    for e in events.iter().filter(|e| e.dispatched_at.is_none()) {
        for a in plugins.iter().filter(|a| a.subscribes(&e.kind)) {
            rows.push(Delivery {
                id: Uuid::now_v7(),
                event_id: e.id,
                plugin: a.name().to_owned(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
                finished_at: None,
            });
        }
    }
    store::insert_deliveries(&tx, &rows).await?;
    store::mark_dispatched(&tx, ids, now).await?;
    store::prune_events(&tx, now - KEEP_EVENTS).await?;
    tx.commit().await
}

async fn deliver_tenant(app: &AppState, tenant: TenantId, ids: &[Uuid]) -> AppResult<()> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let rows = store::deliveries(&tx, ids).await?;
    tx.commit().await?;
    let mut per_plugin: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
    for d in rows.into_iter().filter(|d| d.status == "pending") {
        per_plugin.entry(d.plugin.clone()).or_default().push(d);
    }
    for (plugin, rows) in per_plugin {
        for batch in rows.chunks(BATCH_MAX) {
            deliver(app, tenant, &plugin, batch).await?;
        }
    }
    Ok(())
}

/// The wait after the `attempts`-th failure.
pub fn backoff(attempts: i32) -> chrono::Duration {
    RETRY_BASE * 4_i32.pow(u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0))
}

/// What one batch's call came to.
enum BatchResult {
    Done(Vec<runtime::PurchaseIntent>),
    Failed(String),
}

async fn deliver(app: &AppState, tenant: TenantId, plugin: &str, batch: &[Delivery]) -> AppResult<()> {
    // Read what the call needs, then let go of the connection while guest code runs.
    let tx = app.store.begin(tenant, Access::Read).await?;
    let active: Option<Arc<Active>> = enabled(app, &tx).await?.iter().find(|a| a.name() == plugin).cloned();
    let event_ids: Vec<Uuid> = batch.iter().map(|d| d.event_id).collect();
    let events = store::events(&tx, &event_ids).await?;
    let prepared = match &active {
        Some(a) => Some((a.clone(), call_data(&tx, a, &events).await?)),
        None => None,
    };
    tx.commit().await?;
    let Some((active, data)) = prepared else {
        let why = "the plugin is not enabled; send it again from the dead-letter list once it is";
        return finish(app, tenant, batch, BatchResult::Failed(why.into()), true).await.map(|_| ());
    };
    let wit: Vec<runtime::Event> = events
        .iter()
        .map(|e| runtime::Event {
            id: e.id.to_string(),
            kind: e.kind.clone(),
            subject_id: e.subject_id.clone(),
            payload: e.payload.to_string(),
        })
        .collect();
    let started_at = Utc::now();
    let prepared = active.prepared();
    let outcome = app.plugins.run(tenant, move |rt| rt.handle_events(&prepared, data, Budget::EVENTS, &wit)).await?;
    let result = match outcome.result {
        Ok(Ok(())) => BatchResult::Done(outcome.purchase_requests),
        Ok(Err(message)) => BatchResult::Failed(format!("the handler answered: {message}")),
        Err(f) => BatchResult::Failed(f.to_string()),
    };
    let failure = match &result {
        BatchResult::Failed(m) => Some(m.clone()),
        BatchResult::Done(_) => None,
    };
    let error = finish(app, tenant, batch, result, false).await?.or(failure);
    app.plugins.log.send(LogItem {
        tenant,
        failed: error.is_some(),
        invocation: Invocation {
            id: Uuid::now_v7(),
            plugin: plugin.to_owned(),
            version: active.version().to_owned(),
            hook: "handle_events".into(),
            subject: Some(describe_batch(&events)),
            started_at,
            duration_us: super::plugins::micros(outcome.duration),
            fuel: i64::try_from(outcome.fuel_used).unwrap_or(i64::MAX),
            outcome: if error.is_some() { "failed" } else { "ok" }.into(),
            error,
            logs: logs_json(&outcome.logs),
        },
    });
    Ok(())
}

fn describe(fields: &AppError) -> String {
    match fields {
        AppError::Validation(f) => {
            f.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

fn describe_batch(events: &[Event]) -> String {
    match events {
        [one] => format!("{} {}", one.kind, one.subject_id),
        many => format!("{} events", many.len()),
    }
}

/// What a handler may read: the stock of the items its events name, the customers of the
/// orders they name, each only when granted.
async fn call_data(tx: &TenantTx<'_>, a: &Active, events: &[Event]) -> AppResult<runtime::CallData> {
    let mut data = a.base().clone();
    if data.grants.contains(&Capability::ReadStock) {
        let mut ids: HashSet<Uuid> = HashSet::new();
        for e in events {
            if e.kind.starts_with("stock.")
                && let Ok(id) = e.subject_id.parse()
            {
                ids.insert(id);
            }
            if let Some(lines) = e.payload.get("lines").and_then(Value::as_array) {
                ids.extend(lines.iter().filter_map(|l| l.get("item_id")?.as_str()?.parse::<Uuid>().ok()));
            }
        }
        let ids: Vec<Uuid> = ids.into_iter().collect();
        let items = stock_store::get_items(tx, &ids).await?;
        let warehouses: HashMap<Uuid, String> =
            stock_store::list_warehouses(tx).await?.into_iter().map(|w| (w.id, w.code)).collect();
        for item in items.values() {
            data.stock.insert(item.id.to_string(), Vec::new());
        }
        for l in stock_store::levels_of_items(tx, &ids).await? {
            let Some(item) = items.get(&l.item_id) else { continue };
            data.stock.entry(item.id.to_string()).or_default().push(runtime::StockLevel {
                item_id: item.id.to_string(),
                sku: item.sku.clone(),
                warehouse: warehouses.get(&l.warehouse_id).cloned().unwrap_or_default(),
                on_hand: wit_decimal(l.quantity)?,
                reserved: wit_decimal(l.reserved)?,
                available: wit_decimal(l.quantity - l.reserved)?,
                safety_stock: wit_decimal(item.safety_stock)?,
            });
        }
        // An item with no stock anywhere still answers, with its safety stock.
        for item in items.values() {
            let levels = data.stock.entry(item.id.to_string()).or_default();
            if levels.is_empty() {
                let zero = wit_decimal(Decimal::ZERO)?;
                levels.push(runtime::StockLevel {
                    item_id: item.id.to_string(),
                    sku: item.sku.clone(),
                    warehouse: String::new(),
                    on_hand: zero,
                    reserved: zero,
                    available: zero,
                    safety_stock: wit_decimal(item.safety_stock)?,
                });
            }
        }
    }
    if data.grants.contains(&Capability::ReadCustomers) {
        let ids: Vec<Uuid> = events
            .iter()
            .filter_map(|e| e.payload.get("customer_id")?.as_str()?.parse().ok())
            .collect::<HashSet<Uuid>>()
            .into_iter()
            .collect();
        for id in ids {
            if let Some(p) =
                crate::store::receivables::get_party(tx, crate::domain::receivables::Side::Receivable, id).await?
            {
                data.customers.insert(id.to_string(), super::plugins::party_record(&p)?);
            }
        }
    }
    Ok(data)
}

/// Records a batch's outcome; a success applies the handler's requests in the same
/// transaction. `dead_now` sends a failure straight to the dead-letter list. Returns why the
/// requests of a successful call could not be applied (the batch then counts as failed).
async fn finish(
    app: &AppState,
    tenant: TenantId,
    batch: &[Delivery],
    result: BatchResult,
    dead_now: bool,
) -> AppResult<Option<String>> {
    let now = app.now();
    match result {
        BatchResult::Done(intents) => {
            let tx = app.store.begin(tenant, Access::Write).await?;
            match apply(&tx, &batch[0].plugin, &intents, now).await {
                Ok(()) => {
                    for d in batch {
                        let done = Delivery {
                            status: "done".into(),
                            attempts: d.attempts + 1,
                            last_error: None,
                            finished_at: Some(now),
                            ..d.clone()
                        };
                        store::save_delivery(&tx, &done).await?;
                    }
                    tx.commit().await?;
                    Ok(None)
                }
                Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::NotFound { .. })) => {
                    drop(tx);
                    let message = format!("its requests could not be applied: {}", describe(&e));
                    fail(app, tenant, batch, &message, false, now).await?;
                    Ok(Some(message))
                }
                Err(e) => Err(e),
            }
        }
        BatchResult::Failed(message) => {
            fail(app, tenant, batch, &message, dead_now, now).await?;
            Ok(None)
        }
    }
}

async fn fail(
    app: &AppState,
    tenant: TenantId,
    batch: &[Delivery],
    message: &str,
    dead_now: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let tx = app.store.begin(tenant, Access::Write).await?;
    for d in batch {
        let attempts = d.attempts + 1;
        let dead = dead_now || attempts >= ATTEMPTS_MAX;
        let next = Delivery {
            status: if dead { "dead" } else { "pending" }.into(),
            attempts,
            next_attempt_at: if dead { d.next_attempt_at } else { now + backoff(attempts) },
            last_error: Some(message.to_owned()),
            finished_at: dead.then_some(now),
            ..d.clone()
        };
        store::save_delivery(&tx, &next).await?;
    }
    tx.commit().await
}

/// Raises the purchase requests a handler asked for, as the plugin, submitted for approval.
/// An item that already has an open request gets no second one.
async fn apply(
    tx: &TenantTx<'_>,
    plugin: &str,
    intents: &[runtime::PurchaseIntent],
    now: DateTime<Utc>,
) -> AppResult<()> {
    if intents.is_empty() {
        return Ok(());
    }
    let ctx = plugin_ctx(tx.tenant(), plugin);
    let mut open: HashSet<Uuid> =
        crate::store::trade::items_with_open_requests(tx).await?.into_iter().map(|(i, _)| i).collect();
    for intent in intents {
        let item_id: Uuid = intent
            .item_id
            .parse()
            .map_err(|_| AppError::field("item_id", format!("{} is not an item id", intent.item_id)))?;
        if !open.insert(item_id) {
            continue;
        }
        let input = RequestInput {
            item_id,
            warehouse_id: None,
            quantity: intent.quantity,
            needed_by: now.date_naive(),
            supplier_id: None,
            memo: Some(format!("{plugin}: {}", intent.reason).chars().take(500).collect()),
        };
        create_request_in(tx, &ctx, input, "plugin", "submitted", now).await?;
    }
    Ok(())
}

/// Who a plugin acts as: itself, with no permissions of its own (the host decides what it may
/// do), named in audit rows.
pub fn plugin_ctx(tenant: TenantId, plugin: &str) -> Ctx {
    Ctx {
        principal: Principal {
            tenant,
            actor: Actor::Plugin,
            name: format!("plugin {plugin}"),
            permissions: PermissionSet::EMPTY,
        },
        source_ip: None,
        request_id: None,
    }
}

// ---- The API's view -------------------------------------------------------------------------

fn delivery_json(d: &Delivery, e: Option<&Event>) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "kind": e.map(|e| e.kind.clone()),
        "subject_id": e.map(|e| e.subject_id.clone()),
        "payload": e.map(|e| e.payload.clone()),
        "occurred_at": e.map(|e| e.created_at),
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == "pending").then_some(d.next_attempt_at),
        "last_error": d.last_error,
        "finished_at": d.finished_at,
    })
}

/// A plugin's event deliveries, newest first: `pending` (waiting or retrying), `done`, or
/// `dead` (the dead-letter list). One page (and one row more, to tell a next page exists).
pub async fn deliveries(
    app: &AppState,
    ctx: &Ctx,
    plugin: &str,
    status: Option<&str>,
    page: &crate::store::Page,
) -> AppResult<Vec<Value>> {
    if let Some(s) = status.filter(|s| !["pending", "done", "dead"].contains(s)) {
        return Err(AppError::field("status", format!("{s} is not one of pending, done, dead")));
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    plugin_store::install(&tx, plugin).await?.ok_or(AppError::NotFound { entity: "plugin" })?;
    let rows = store::list_deliveries(&tx, plugin, status, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    Ok(rows.iter().map(|(d, e)| delivery_json(d, e.as_ref())).collect())
}

/// Sends a dead delivery again: it goes back to pending with its tries counted from zero.
pub async fn retry(app: &AppState, ctx: &Ctx, plugin: &str, id: Uuid) -> AppResult<Value> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    plugin_store::install(&tx, plugin).await?.ok_or(AppError::NotFound { entity: "plugin" })?;
    let d = store::delivery(&tx, plugin, id).await?.ok_or(AppError::NotFound { entity: "event delivery" })?;
    if d.status != "dead" {
        return Err(AppError::InvalidState {
            entity: "event delivery",
            state: d.status.clone(),
            action: "retried (only dead-letter deliveries are)",
        });
    }
    let after =
        Delivery { status: "pending".into(), attempts: 0, next_attempt_at: now, finished_at: None, ..d.clone() };
    store::save_delivery(&tx, &after).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "plugin.event.retry",
            "plugin_delivery",
            Some(id.to_string()),
            Some(json!({"status": d.status, "attempts": d.attempts, "last_error": d.last_error})),
            Some(json!({"status": "pending"})),
        ),
    )
    .await?;
    let event = store::events(&tx, &[d.event_id]).await?.into_iter().next();
    tx.commit().await?;
    Ok(delivery_json(&after, event.as_ref()))
}
