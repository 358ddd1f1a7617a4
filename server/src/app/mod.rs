//! Use cases: load, decide (domain), persist in one transaction with its audit row. Each
//! function here is what one API operation does; handlers only parse and map.

pub mod access;
pub mod approvals;
pub mod audit;
pub mod bank;
pub mod crm;
pub mod demo;
pub mod events;
pub mod expenses;
pub mod insight;
pub mod inventory;
pub mod ledger;
pub mod manufacturing;
pub mod mrp;
pub mod operator;
pub mod plugins;
pub mod production;
pub mod purchasing;
pub mod receivables;
pub mod sales;
pub mod service;
pub mod sessions;
pub mod signup;
pub mod statements;
pub mod stock_posting;
pub mod tenant;
pub mod trade;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::auth::Principal;
use crate::auth::tokens::TokenKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::ids::{AuditEventId, TenantId};
use crate::error::{AppError, AppResult};
use crate::infra::metrics::Metrics;
use crate::infra::ratelimit::RateLimiter;
use crate::store::tenants::Tenant;
use crate::store::{Access, Store, audit as audit_store};

/// How long a node trusts its cached copy of a tenant's plan and trial.
const TENANT_CACHE_TTL: Duration = Duration::from_secs(10);
/// How long a node trusts a cached API key (revocation on another node takes at most this).
const API_KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// How long a verified access token is remembered (its own expiry still applies).
const VERIFIED_TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);

/// Everything a use case may need, shared by all workers.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub clock: SharedClock,
    pub tokens: TokenKeys,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    /// The node's plugin host: enabled plugins per tenant, call bounds, the invocation log.
    pub plugins: plugins::PluginHost,
    tenants: TtlCache<TenantId, Tenant>,
    pub(crate) api_keys: TtlCache<uuid::Uuid, access::CachedApiKey>,
    pub(crate) verified_tokens: TtlCache<String, crate::auth::tokens::VerifiedAccess>,
}

impl AppState {
    pub fn new(config: Config, store: Store, clock: SharedClock, tokens: TokenKeys, limiter: RateLimiter) -> Self {
        Self {
            config,
            store,
            clock,
            tokens,
            limiter,
            metrics: Metrics::new(),
            plugins: plugins::PluginHost::default(),
            tenants: TtlCache::new(TENANT_CACHE_TTL),
            api_keys: TtlCache::new(API_KEY_CACHE_TTL),
            verified_tokens: TtlCache::new(VERIFIED_TOKEN_CACHE_TTL),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The tenant's row, from a short-lived per-node cache.
    pub async fn tenant(&self, id: TenantId) -> AppResult<Tenant> {
        if let Some(t) = self.tenants.get(&id) {
            return Ok(t);
        }
        let tx = self.store.begin_platform(Access::Read).await?;
        let t = crate::store::tenants::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "tenant" })?;
        tx.commit().await?;
        self.tenants.put(id, t.clone());
        Ok(t)
    }

    pub fn forget_tenant(&self, id: TenantId) {
        self.tenants.remove(&id);
    }
}

/// Someone saved the record first: the version the caller holds is `current` no longer.
pub(crate) fn stale(entity: &'static str, current: i64) -> AppError {
    AppError::StaleVersion { entity, current }
}

/// Who asked and from where: what an audit row records besides the change itself.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub principal: Principal,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

/// One change for the audit trail: what was done to which entity, before and after.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl<'a> Change<'a> {
    pub fn new(
        action: &'a str,
        entity_type: &'a str,
        entity_id: Option<String>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        Self { action, entity_type, entity_id, before, after }
    }
}

/// Records one audit row inside the caller's transaction.
pub async fn record(
    tx: &crate::store::TenantTx<'_>,
    ctx: &Ctx,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> AppResult<()> {
    audit_store::insert(
        tx,
        &audit_store::AuditEvent {
            id: AuditEventId::new(),
            occurred_at: now,
            actor_kind: ctx.principal.actor_kind().to_owned(),
            actor_id: Some(ctx.principal.actor_uuid()),
            actor_name: ctx.principal.name.clone(),
            action: change.action.to_owned(),
            entity_type: change.entity_type.to_owned(),
            entity_id: change.entity_id,
            before: change.before,
            after: change.after,
            source_ip: ctx.source_ip.clone(),
            request_id: ctx.request_id.clone(),
        },
    )
    .await
}

/// A small map whose entries expire; enough for per-node caches of hot, rarely changed rows.
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    const ENTRIES_MAX: usize = 50_000;

    fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, k: &K) -> Option<V> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(k).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&self, k: K, v: V) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::ENTRIES_MAX {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        map.insert(k, (Instant::now(), v));
    }

    pub(crate) fn clear(&self) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn remove(&self, k: &K) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(k);
    }
}
