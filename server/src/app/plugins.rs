//! Plugins in the business: a tenant's admin uploads versions (component and manifest),
//! enables one with the capabilities it grants, sets its settings, rolls back, and reads its
//! invocations. Document transitions ask the enabled validators (`before`) inside their own
//! transaction; a veto or a failing plugin refuses the transition. Invocations are logged by a
//! background writer (a vetoed transition rolls back, its log line must not), which also
//! disables a plugin after repeated failures.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

use super::{AppState, Change, Ctx, TtlCache, record};
use crate::domain::ids::TenantId;
use crate::domain::subscription::entitlements;
use crate::error::{AppError, AppResult, FieldError};
use crate::plugins::runtime::{self, Budget, CallData, Capability, Failure, Prepared, from_decimal};
use crate::store::plugins::{self as store, Install, Invocation, Version};
use crate::store::{Access, TenantTx, tenants};

/// A transition that validators may veto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    SalesOrderConfirm,
    PurchaseOrderApprove,
    JournalEntryPost,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::SalesOrderConfirm => "before_sales_order_confirm",
            Hook::PurchaseOrderApprove => "before_purchase_order_approve",
            Hook::JournalEntryPost => "before_journal_entry_post",
        }
    }

    fn wit(self) -> runtime::Hook {
        match self {
            Hook::SalesOrderConfirm => runtime::Hook::BeforeSalesOrderConfirm,
            Hook::PurchaseOrderApprove => runtime::Hook::BeforePurchaseOrderApprove,
            Hook::JournalEntryPost => runtime::Hook::BeforeJournalEntryPost,
        }
    }
}

/// The hooks a manifest may list.
pub const HOOKS: [&str; 5] = [
    "before_sales_order_confirm",
    "before_purchase_order_approve",
    "before_journal_entry_post",
    "price_line",
    "handle_events",
];

/// A plugin's consecutive failures before it is disabled.
pub const FAILURES_BEFORE_DISABLE: i32 = 5;

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SettingSpec {
    pub key: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: Option<String>,
    /// The value must be a decimal number.
    #[serde(default)]
    pub decimal: bool,
}

/// What a plugin says of itself (manifest.json).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub sdk: String,
    #[serde(default)]
    pub description: String,
    pub hooks: Vec<String>,
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub settings: Vec<SettingSpec>,
}

fn is_semver(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Manifest {
    /// Every problem of the manifest as field errors (`manifest.hooks[1]`...).
    pub fn check(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        let name_ok = (2..=64).contains(&self.name.len())
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.name.starts_with('-');
        if !name_ok {
            e.push(FieldError::new("manifest.name", "2 to 64 lowercase letters, digits or hyphens"));
        }
        if !is_semver(&self.version) {
            e.push(FieldError::new("manifest.version", "a version like 1.2.0"));
        }
        match self.sdk.split('.').next().and_then(|m| m.parse::<u64>().ok()) {
            Some(runtime::SDK_MAJOR) => {}
            _ => e.push(FieldError::new(
                "manifest.sdk",
                format!("built against SDK {}; this server runs SDK {}.x", self.sdk, runtime::SDK_MAJOR),
            )),
        }
        if self.hooks.is_empty() {
            e.push(FieldError::new("manifest.hooks", format!("list at least one of {}", HOOKS.join(", "))));
        }
        for (i, h) in self.hooks.iter().enumerate() {
            if !HOOKS.contains(&h.as_str()) {
                e.push(FieldError::new(
                    format!("manifest.hooks[{i}]"),
                    format!("unknown hook {h}; known: {}", HOOKS.join(", ")),
                ));
            }
        }
        for (i, c) in self.capabilities.iter().enumerate() {
            if Capability::parse(c).is_none() {
                e.push(FieldError::new(
                    format!("manifest.capabilities[{i}]"),
                    format!("unknown capability {c}; known: log, read-customers, read-stock, create-purchase-requests"),
                ));
            }
        }
        let handles = self.implements("handle_events");
        if handles && self.events.is_empty() {
            e.push(FieldError::new(
                "manifest.events",
                format!("a handle_events plugin lists the events it wants, of: {}", super::events::KINDS.join(", ")),
            ));
        }
        if !handles && !self.events.is_empty() {
            e.push(FieldError::new("manifest.events", "only a plugin with the handle_events hook receives events"));
        }
        for (i, k) in self.events.iter().enumerate() {
            if !super::events::KINDS.contains(&k.as_str()) {
                e.push(FieldError::new(
                    format!("manifest.events[{i}]"),
                    format!("unknown event {k}; known: {}", super::events::KINDS.join(", ")),
                ));
            }
        }
        let mut keys = BTreeSet::new();
        for (i, s) in self.settings.iter().enumerate() {
            if s.key.is_empty() || s.key.len() > 64 || !keys.insert(s.key.as_str()) {
                e.push(FieldError::new(format!("manifest.settings[{i}].key"), "a unique key of 1 to 64 characters"));
            }
            if let Some(d) =
                s.default.as_deref().filter(|d| s.decimal && !d.is_empty() && d.parse::<Decimal>().is_err())
            {
                e.push(FieldError::new(
                    format!("manifest.settings[{i}].default"),
                    format!("{d} is not a decimal number"),
                ));
            }
        }
        e
    }

    fn implements(&self, hook: &str) -> bool {
        self.hooks.iter().any(|h| h == hook)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    pub manifest: Value,
    /// The component, base64-encoded.
    pub component: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableInput {
    /// The capabilities granted: each must be one the manifest asks for.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackInput {
    /// The version to go back to; the previous active one when absent.
    #[serde(default)]
    pub version: Option<String>,
}

fn not_found() -> AppError {
    AppError::NotFound { entity: "plugin" }
}

fn manifest_of(v: &Version) -> AppResult<Manifest> {
    serde_json::from_value(v.manifest.clone()).map_err(AppError::internal)
}

/// The view of one plugin: its install and its versions.
pub fn plugin_json(install: &Install, versions: &[Version]) -> Value {
    let active = versions.iter().find(|v| v.version == install.active_version);
    json!({
        "name": install.plugin,
        "enabled": install.enabled,
        "active_version": install.active_version,
        "previous_version": install.previous_version,
        "description": active.and_then(|v| v.manifest.get("description").cloned()),
        "hooks": active.and_then(|v| v.manifest.get("hooks").cloned()),
        "requested_capabilities": active.and_then(|v| v.manifest.get("capabilities").cloned()),
        "granted_capabilities": install.granted,
        "settings": install.settings,
        "declared_settings": active.and_then(|v| v.manifest.get("settings").cloned()),
        "consecutive_failures": install.failures,
        "disabled_reason": install.disabled_reason,
        "updated_at": install.updated_at,
        "version": install.version,
        "versions": versions.iter().map(|v| json!({
            "version": v.version,
            "sha256": v.sha256,
            "size_bytes": v.size_bytes,
            "sdk": v.manifest.get("sdk"),
            "uploaded_at": v.uploaded_at,
        })).collect::<Vec<_>>(),
    })
}

async fn view(tx: &TenantTx<'_>, name: &str) -> AppResult<Value> {
    let install = store::install(tx, name).await?.ok_or_else(not_found)?;
    let versions = store::versions(tx, Some(name)).await?;
    Ok(plugin_json(&install, &versions))
}

fn rt() -> AppResult<&'static runtime::Runtime> {
    runtime::runtime().map_err(AppError::internal)
}

/// Compiles off the async workers.
async fn load(bytes: Vec<u8>) -> AppResult<Result<Arc<Prepared>, runtime::LoadError>> {
    let rt = rt()?;
    tokio::task::spawn_blocking(move || rt.load(&bytes)).await.map_err(AppError::internal)
}

/// Uploads a version: checks the manifest and the component (it must compile, import only
/// what Meridian provides, at SDK 1.x, and export the plugin world), stores both, and makes it
/// the active version (a new plugin starts disabled).
pub async fn upload(app: &AppState, ctx: &Ctx, input: UploadInput) -> AppResult<Value> {
    let manifest: Manifest = serde_json::from_value(input.manifest.clone())
        .map_err(|e| AppError::field("manifest", format!("not a plugin manifest: {e}")))?;
    let mut errors = manifest.check();
    let bytes = base64::engine::general_purpose::STANDARD.decode(input.component.trim()).map_err(|e| {
        errors.push(FieldError::new("component", format!("not base64: {e}")));
    });
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let bytes = bytes.unwrap_or_default();
    let prepared = load(bytes.clone()).await?.map_err(|e| AppError::field("component", e.to_string()))?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let version = Version {
        plugin: manifest.name.clone(),
        version: manifest.version.clone(),
        sha256: prepared.sha256.clone(),
        manifest: input.manifest,
        size_bytes: i64::try_from(bytes.len()).map_err(AppError::internal)?,
        uploaded_by: Some(ctx.principal.actor_uuid()),
        uploaded_at: now,
    };
    if !store::insert_version(&tx, &version, &bytes).await? {
        return Err(AppError::Conflict(format!(
            "{} {} is already uploaded; give the new build a new version number",
            manifest.name, manifest.version
        )));
    }
    let before = store::install(&tx, &manifest.name).await?;
    let after = match &before {
        None => {
            let i = Install {
                plugin: manifest.name.clone(),
                active_version: manifest.version.clone(),
                previous_version: None,
                enabled: false,
                granted: Vec::new(),
                settings: serde_json::Map::new(),
                failures: 0,
                disabled_reason: None,
                updated_at: now,
                version: 1,
            };
            store::insert_install(&tx, &i).await?;
            i
        }
        Some(b) => {
            // Grants the new version does not ask for fall away; new asks wait for the admin.
            let asked: BTreeSet<&str> = manifest.capabilities.iter().map(String::as_str).collect();
            let i = Install {
                active_version: manifest.version.clone(),
                previous_version: Some(b.active_version.clone()),
                granted: b.granted.iter().filter(|g| asked.contains(g.as_str())).cloned().collect(),
                failures: 0,
                updated_at: now,
                version: b.version + 1,
                ..b.clone()
            };
            if !store::save_install(&tx, &i).await? {
                return Err(AppError::Retryable("the plugin changed meanwhile".into()));
            }
            i
        }
    };
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "plugin.upload",
            "plugin",
            Some(manifest.name.clone()),
            before.as_ref().map(|b| json!({"active_version": b.active_version})),
            Some(json!({"version": manifest.version, "sha256": prepared.sha256, "enabled": after.enabled})),
        ),
    )
    .await?;
    let out = view(&tx, &manifest.name).await?;
    tx.commit().await?;
    app.plugins.forget(ctx.principal.tenant);
    Ok(out)
}

pub async fn list(app: &AppState, ctx: &Ctx) -> AppResult<Vec<Value>> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let installs = store::installs(&tx).await?;
    let versions = store::versions(&tx, None).await?;
    tx.commit().await?;
    Ok(installs
        .iter()
        .map(|i| {
            let own: Vec<Version> = versions.iter().filter(|v| v.plugin == i.plugin).cloned().collect();
            plugin_json(i, &own)
        })
        .collect())
}

pub async fn get(app: &AppState, ctx: &Ctx, name: &str) -> AppResult<Value> {
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let out = view(&tx, name).await?;
    tx.commit().await?;
    Ok(out)
}

async fn change(
    app: &AppState,
    ctx: &Ctx,
    name: &str,
    action: &str,
    edit: impl FnOnce(&Install, &Manifest, &[Version]) -> AppResult<Install>,
    check_slots: bool,
) -> AppResult<Value> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = store::install(&tx, name).await?.ok_or_else(not_found)?;
    let versions = store::versions(&tx, Some(name)).await?;
    let active = versions.iter().find(|v| v.version == before.active_version).ok_or_else(not_found)?;
    let manifest = manifest_of(active)?;
    let mut after = edit(&before, &manifest, &versions)?;
    after.updated_at = now;
    after.version = before.version + 1;
    if check_slots && after.enabled && !before.enabled {
        let slots = entitlements(tenants::current(&tx).await?.plan).plugin_slots;
        let used = store::installs(&tx).await?.iter().filter(|i| i.enabled).count();
        if used >= usize::try_from(slots).unwrap_or(usize::MAX) {
            return Err(AppError::PlanLimit { what: "enabled plugins", limit: slots });
        }
    }
    if !store::save_install(&tx, &after).await? {
        return Err(AppError::Retryable("the plugin changed meanwhile".into()));
    }
    let snapshot = |i: &Install| json!({"enabled": i.enabled, "active_version": i.active_version, "granted": i.granted, "settings": i.settings});
    record(
        &tx,
        ctx,
        now,
        Change::new(action, "plugin", Some(name.to_owned()), Some(snapshot(&before)), Some(snapshot(&after))),
    )
    .await?;
    let out = view(&tx, name).await?;
    tx.commit().await?;
    app.plugins.forget(ctx.principal.tenant);
    Ok(out)
}

/// Enables the active version with the capabilities granted (each one the manifest asks for).
pub async fn enable(app: &AppState, ctx: &Ctx, name: &str, input: EnableInput) -> AppResult<Value> {
    change(
        app,
        ctx,
        name,
        "plugin.enable",
        |b, m, _| {
            let mut errors = Vec::new();
            for (i, c) in input.capabilities.iter().enumerate() {
                if !m.capabilities.contains(c) {
                    errors.push(FieldError::new(
                        format!("capabilities[{i}]"),
                        format!(
                            "{name} {} does not ask for {c}; it asks for: {}",
                            m.version,
                            m.capabilities.join(", ")
                        ),
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            let granted: BTreeSet<String> = input.capabilities.iter().cloned().collect();
            Ok(Install {
                enabled: true,
                granted: granted.into_iter().collect(),
                failures: 0,
                disabled_reason: None,
                ..b.clone()
            })
        },
        true,
    )
    .await
}

pub async fn disable(app: &AppState, ctx: &Ctx, name: &str) -> AppResult<Value> {
    change(
        app,
        ctx,
        name,
        "plugin.disable",
        |b, _, _| Ok(Install { enabled: false, disabled_reason: Some("disabled by the tenant".into()), ..b.clone() }),
        false,
    )
    .await
}

/// Makes an earlier version active again (the previous one unless named).
pub async fn rollback(app: &AppState, ctx: &Ctx, name: &str, input: RollbackInput) -> AppResult<Value> {
    change(
        app,
        ctx,
        name,
        "plugin.rollback",
        |b, _, versions| {
            let target = input
                .version
                .clone()
                .or_else(|| b.previous_version.clone())
                .ok_or_else(|| AppError::Conflict(format!("{name} has no earlier version to go back to")))?;
            if target == b.active_version {
                return Err(AppError::field("version", format!("{target} is already the active version")));
            }
            let v = versions
                .iter()
                .find(|v| v.version == target)
                .ok_or_else(|| AppError::field("version", format!("{name} has no version {target}")))?;
            let asked: Vec<String> = manifest_of(v)?.capabilities;
            Ok(Install {
                active_version: target,
                previous_version: Some(b.active_version.clone()),
                granted: b.granted.iter().filter(|g| asked.contains(g)).cloned().collect(),
                failures: 0,
                ..b.clone()
            })
        },
        false,
    )
    .await
}

/// Replaces the plugin's settings: only keys the manifest declares, decimals where it says so.
pub async fn set_settings(
    app: &AppState,
    ctx: &Ctx,
    name: &str,
    settings: serde_json::Map<String, Value>,
) -> AppResult<Value> {
    change(
        app,
        ctx,
        name,
        "plugin.settings",
        |b, m, _| {
            let mut errors = Vec::new();
            for (k, v) in &settings {
                let Some(spec) = m.settings.iter().find(|s| &s.key == k) else {
                    let known: Vec<&str> = m.settings.iter().map(|s| s.key.as_str()).collect();
                    errors.push(FieldError::new(
                        k.clone(),
                        format!("{name} declares no setting {k}; it has: {}", known.join(", ")),
                    ));
                    continue;
                };
                match v.as_str() {
                    None => errors.push(FieldError::new(k.clone(), "a setting is a string")),
                    Some(s) if s.len() > 1000 => errors.push(FieldError::new(k.clone(), "at most 1000 characters")),
                    Some(s) if spec.decimal && s.parse::<Decimal>().is_err() => {
                        errors.push(FieldError::new(k.clone(), format!("{s} is not a decimal number")));
                    }
                    Some(_) => {}
                }
            }
            if !errors.is_empty() {
                return Err(AppError::Validation(errors));
            }
            Ok(Install { settings: settings.clone(), ..b.clone() })
        },
        false,
    )
    .await
}

pub fn invocation_json(i: &Invocation) -> Value {
    json!({
        "id": i.id,
        "plugin": i.plugin,
        "version": i.version,
        "hook": i.hook,
        "subject": i.subject,
        "started_at": i.started_at,
        "duration_us": i.duration_us,
        "fuel": i.fuel,
        "outcome": i.outcome,
        "error": i.error,
        "logs": i.logs,
    })
}

/// A plugin's invocations, newest first: one page (and one row more, to tell a next page
/// exists).
pub async fn invocations(
    app: &AppState,
    ctx: &Ctx,
    name: &str,
    outcome: Option<&str>,
    page: &crate::store::Page,
) -> AppResult<Vec<Value>> {
    if let Some(o) = outcome.filter(|o| !["ok", "vetoed", "failed"].contains(o)) {
        return Err(AppError::field("outcome", format!("{o} is not one of ok, vetoed, failed")));
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    store::install(&tx, name).await?.ok_or_else(not_found)?;
    let rows = store::recent_invocations(&tx, Some(name), outcome, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    Ok(rows.iter().map(invocation_json).collect())
}

// ---- Calling plugins ----------------------------------------------------------------------

/// An enabled plugin ready to call: its install, manifest, compiled component, and the call
/// data every call starts from (its grants and settings).
pub(crate) struct Active {
    install: Install,
    manifest: Manifest,
    prepared: Arc<Prepared>,
    base: CallData,
}

impl Active {
    pub(crate) fn name(&self) -> &str {
        &self.install.plugin
    }

    pub(crate) fn version(&self) -> &str {
        &self.install.active_version
    }

    pub(crate) fn prepared(&self) -> Arc<Prepared> {
        self.prepared.clone()
    }

    pub(crate) fn base(&self) -> &CallData {
        &self.base
    }

    pub(crate) fn subscribes(&self, event: &str) -> bool {
        self.manifest.implements("handle_events") && self.manifest.events.iter().any(|e| e == event)
    }
}

/// How long a node trusts its list of a tenant's enabled plugins. Changes made on this node
/// take effect at once; on other nodes within this time.
const ENABLED_CACHE_TTL: Duration = Duration::from_secs(10);
/// Plugin calls one tenant may run at once on a node; the rest wait their turn.
const CALLS_PER_TENANT: usize = 2;

/// The node's plugin host: the cache of each tenant's enabled plugins, the bound on concurrent
/// calls (per tenant and overall), and the invocation log.
pub struct PluginHost {
    pub log: PluginLog,
    generation: AtomicU64,
    enabled: TtlCache<TenantId, Arc<Vec<Arc<Active>>>>,
    calls: Arc<Semaphore>,
    tenant_calls: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

impl Default for PluginHost {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        PluginHost {
            log: PluginLog::default(),
            generation: AtomicU64::new(0),
            enabled: TtlCache::new(ENABLED_CACHE_TTL),
            calls: Arc::new(Semaphore::new((cores * 4).max(8))),
            tenant_calls: Mutex::default(),
        }
    }
}

impl PluginHost {
    /// Drops a tenant's cached plugins (after a change to them commits).
    pub fn forget(&self, tenant: TenantId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.enabled.remove(&tenant);
    }

    fn tenant_gate(&self, tenant: TenantId) -> Arc<Semaphore> {
        let mut map = self.tenant_calls.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        map.entry(tenant).or_insert_with(|| Arc::new(Semaphore::new(CALLS_PER_TENANT))).clone()
    }

    /// Runs plugin code off the async workers, within the tenant's and the node's bounds.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        tenant: TenantId,
        work: impl FnOnce(&'static runtime::Runtime) -> T + Send + 'static,
    ) -> AppResult<T> {
        let rt = rt()?;
        let _tenant = self.tenant_gate(tenant).acquire_owned().await.map_err(AppError::internal)?;
        let _node = self.calls.clone().acquire_owned().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || work(rt)).await.map_err(AppError::internal)
    }
}

/// The tenant's enabled plugins, from the node's cache or loaded (and compiled, the first time
/// on this node) in the caller's transaction.
pub(crate) async fn enabled(app: &AppState, tx: &TenantTx<'_>) -> AppResult<Arc<Vec<Arc<Active>>>> {
    let host = &app.plugins;
    if let Some(found) = host.enabled.get(&tx.tenant()) {
        return Ok(found);
    }
    let generation = host.generation.load(Ordering::SeqCst);
    let mut out = Vec::new();
    let installs: Vec<Install> = store::installs(tx).await?.into_iter().filter(|i| i.enabled).collect();
    let versions = if installs.is_empty() { Vec::new() } else { store::versions(tx, None).await? };
    for install in installs {
        let Some(v) = versions.iter().find(|v| v.plugin == install.plugin && v.version == install.active_version)
        else {
            continue;
        };
        let manifest = manifest_of(v)?;
        let prepared = match rt()?.cached(&v.sha256) {
            Some(p) => p,
            None => {
                let bytes = store::component(tx, &install.plugin, &install.active_version).await?;
                load(bytes).await?.map_err(|e| AppError::internal(format!("stored plugin {}: {e}", install.plugin)))?
            }
        };
        let base = call_data(&install, &manifest);
        out.push(Arc::new(Active { install, manifest, prepared, base }));
    }
    let out = Arc::new(out);
    // A change that committed while this was read must not be hidden by it.
    if host.generation.load(Ordering::SeqCst) == generation {
        host.enabled.put(tx.tenant(), out.clone());
    }
    Ok(out)
}

async fn active_for(app: &AppState, tx: &TenantTx<'_>, hook: &str) -> AppResult<Vec<Arc<Active>>> {
    Ok(enabled(app, tx).await?.iter().filter(|a| a.manifest.implements(hook)).cloned().collect())
}

fn call_data(install: &Install, manifest: &Manifest) -> CallData {
    let mut settings: HashMap<String, String> =
        manifest.settings.iter().filter_map(|s| s.default.clone().map(|d| (s.key.clone(), d))).collect();
    for (k, v) in &install.settings {
        if let Some(v) = v.as_str() {
            settings.insert(k.clone(), v.to_owned());
        }
    }
    CallData {
        plugin: install.plugin.clone(),
        grants: install.granted.iter().filter_map(|g| Capability::parse(g)).collect(),
        settings,
        ..CallData::default()
    }
}

pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Asks every enabled validator of `hook`, in name order, inside the transition's transaction.
/// The first veto refuses the transition with the plugin's message; a plugin that fails
/// refuses it too (validators fail closed), naming what the plugin did. `document` builds what
/// they see, only when there is a validator to ask.
pub async fn before(
    app: &AppState,
    tx: &TenantTx<'_>,
    hook: Hook,
    document: impl AsyncFnOnce() -> AppResult<runtime::Document>,
) -> AppResult<()> {
    let active = active_for(app, tx, hook.as_str()).await?;
    if active.is_empty() {
        return Ok(());
    }
    let doc = Arc::new(document().await?);
    let budget = budget_for(app, tx.tenant()).await?;
    for a in active {
        let mut data = a.base.clone();
        if data.grants.contains(&Capability::ReadCustomers)
            && let Some(p) = &doc.party
        {
            data.customers.insert(p.id.clone(), p.clone());
        }
        let (prepared, d) = (a.prepared.clone(), doc.clone());
        let started_at = Utc::now();
        let outcome =
            app.plugins.run(tx.tenant(), move |rt| rt.validate(&prepared, data, budget, hook.wit(), &d)).await?;
        let (kind, error) = match &outcome.result {
            Ok(Ok(())) => ("ok", None),
            Ok(Err(v)) => ("vetoed", Some(v.message.clone())),
            Err(f) => ("failed", Some(f.to_string())),
        };
        app.plugins.log.send(LogItem {
            tenant: tx.tenant(),
            failed: kind == "failed",
            invocation: Invocation {
                id: Uuid::now_v7(),
                plugin: a.install.plugin.clone(),
                version: a.install.active_version.clone(),
                hook: hook.as_str().into(),
                subject: Some(format!("{} {}", doc.kind, doc.number.clone().unwrap_or_else(|| doc.id.clone()))),
                started_at,
                duration_us: micros(outcome.duration),
                fuel: i64::try_from(outcome.fuel_used).unwrap_or(i64::MAX),
                outcome: kind.into(),
                error,
                logs: logs_json(&outcome.logs),
            },
        });
        match outcome.result {
            Ok(Ok(())) => {}
            Ok(Err(v)) => {
                let message = match v.field {
                    Some(f) => format!("{} ({f})", v.message),
                    None => v.message,
                };
                return Err(AppError::Vetoed { hook: hook.as_str(), by: a.install.plugin.clone(), message });
            }
            Err(f) => return Err(plugin_failed(hook, &a.install.plugin, &f)),
        }
    }
    Ok(())
}

/// A line the price calculators are asked about: the price Meridian's price lists give it.
pub(crate) struct PriceLine {
    pub item_id: Uuid,
    pub sku: String,
    pub quantity: Decimal,
    pub base_price: Decimal,
}

/// What the calculators made of a line: a unit price, a discount (a fraction, 0.05 is 5 %)
/// when one set it, and why, one note per plugin that answered or failed.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Priced {
    pub unit_price: Decimal,
    pub discount_percent: Option<Decimal>,
    pub notes: Vec<String>,
}

/// Asks the enabled price calculators, in name order, about each line; each sees the price the
/// previous one left. A calculator that fails (or answers something out of range) leaves the
/// price as it was, and the line's note says so: pricing falls back, it never blocks the order.
pub(crate) async fn price_lines(
    app: &AppState,
    tx: &TenantTx<'_>,
    side: crate::domain::trade::TradeSide,
    party: &crate::store::receivables::Party,
    currency: &str,
    date: chrono::NaiveDate,
    lines: &[PriceLine],
) -> AppResult<Vec<Priced>> {
    let mut out: Vec<Priced> = lines.iter().map(|l| Priced { unit_price: l.base_price, ..Priced::default() }).collect();
    if lines.is_empty() {
        return Ok(out);
    }
    let active = active_for(app, tx, "price_line").await?;
    if active.is_empty() {
        return Ok(out);
    }
    let budget = budget_for(app, tx.tenant()).await?;
    let party = party_record(party)?;
    let side = if side == crate::domain::trade::TradeSide::Sales { "sales" } else { "purchase" };
    for a in active {
        let requests = lines
            .iter()
            .zip(&out)
            .map(|(l, p)| {
                Ok(runtime::PriceRequest {
                    side: side.into(),
                    party: Some(party.clone()),
                    item_id: l.item_id.to_string(),
                    sku: l.sku.clone(),
                    quantity: wit_decimal(l.quantity)?,
                    base_price: wit_decimal(p.unit_price)?,
                    currency: currency.to_owned(),
                    date: date.to_string(),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        let mut data = a.base.clone();
        if data.grants.contains(&Capability::ReadCustomers) {
            data.customers.insert(party.id.clone(), party.clone());
        }
        let prepared = a.prepared.clone();
        let started_at = Utc::now();
        let outcomes = app
            .plugins
            .run(tx.tenant(), move |rt| {
                requests.iter().map(|r| rt.price_line(&prepared, data.clone(), budget, r)).collect::<Vec<_>>()
            })
            .await?;
        let (mut duration, mut fuel, mut logs, mut first_error) = (0, 0, Vec::new(), None);
        for ((outcome, priced), line) in outcomes.into_iter().zip(out.iter_mut()).zip(lines) {
            duration += micros(outcome.duration);
            fuel += i64::try_from(outcome.fuel_used).unwrap_or(i64::MAX);
            logs.extend(outcome.logs);
            let answer = outcome.result.map_err(|f| f.to_string()).and_then(|r| r.map(checked_adjustment).transpose());
            match answer {
                Ok(None) => {}
                Ok(Some((price, pct, reason))) => {
                    if let Some(p) = price {
                        priced.unit_price = p;
                    }
                    if pct.is_some() {
                        priced.discount_percent = pct;
                    }
                    priced.notes.push(format!("{}: {reason}", a.install.plugin));
                }
                Err(e) => {
                    priced.notes.push(format!("{} failed ({e}); price kept", a.install.plugin));
                    first_error.get_or_insert(format!("{}: {e}", line.sku));
                }
            }
        }
        app.plugins.log.send(LogItem {
            tenant: tx.tenant(),
            failed: first_error.is_some(),
            invocation: Invocation {
                id: Uuid::now_v7(),
                plugin: a.install.plugin.clone(),
                version: a.install.active_version.clone(),
                hook: "price_line".into(),
                subject: Some(format!("{side} order, {} lines", lines.len())),
                started_at,
                duration_us: duration,
                fuel,
                outcome: if first_error.is_some() { "failed" } else { "ok" }.into(),
                error: first_error,
                logs: logs_json(&logs),
            },
        });
    }
    Ok(out)
}

/// A calculator's answer in Meridian's terms (a discount percent of 5 is the fraction 0.05),
/// or why it cannot be used.
fn checked_adjustment(a: runtime::PriceAdjustment) -> Result<(Option<Decimal>, Option<Decimal>, String), String> {
    let price = match a.unit_price {
        None => None,
        Some(p) => match runtime::to_decimal(p) {
            Some(p) if p >= Decimal::ZERO && p.normalize().scale() <= 4 => Some(p),
            _ => return Err("answered a unit price that is negative or has more than 4 decimal places".into()),
        },
    };
    let pct = match a.discount_percent {
        None => None,
        Some(p) => match runtime::to_decimal(p) {
            Some(p) if p >= Decimal::ZERO && p <= Decimal::ONE_HUNDRED && p.normalize().scale() <= 4 => {
                Some((p / Decimal::ONE_HUNDRED).normalize())
            }
            _ => return Err("answered a discount outside 0 to 100 % or with more than 4 decimal places".into()),
        },
    };
    let reason = a.reason.trim().to_owned();
    Ok((price, pct, if reason.is_empty() { "adjusted the price".into() } else { reason }))
}

fn plugin_failed(hook: Hook, plugin: &str, f: &Failure) -> AppError {
    AppError::PluginFailed { hook: hook.as_str(), plugin: plugin.to_owned(), detail: f.to_string() }
}

pub(crate) fn logs_json(logs: &[(runtime::Level, String)]) -> Value {
    let name = |l: &runtime::Level| match l {
        runtime::Level::Debug => "debug",
        runtime::Level::Info => "info",
        runtime::Level::Warn => "warn",
        runtime::Level::Error => "error",
    };
    Value::Array(logs.iter().map(|(l, m)| json!({"level": name(l), "message": m})).collect())
}

/// The budget a tenant's plan gives synchronous hooks.
async fn budget_for(app: &AppState, tenant: TenantId) -> AppResult<Budget> {
    let e = entitlements(app.tenant(tenant).await?.plan);
    Ok(Budget { fuel: e.plugin_fuel, time: std::time::Duration::from_millis(e.plugin_millis) })
}

/// A WIT decimal for the document records (values beyond 18 digits are refused as internal).
/// Quantities and prices go without trailing zeros (12, 99.5).
pub fn wit_decimal(d: Decimal) -> AppResult<runtime::WitDecimal> {
    from_decimal(d.normalize()).ok_or_else(|| AppError::internal(format!("{d} does not fit a plugin decimal")))
}

/// An amount in `currency`, at its minor unit (1200.00 CNY, 1200 JPY).
fn wit_money(d: Decimal, currency: &str) -> AppResult<runtime::WitDecimal> {
    let mut d = d.round_dp(crate::domain::ledger::minor_unit_digits(currency));
    d.rescale(crate::domain::ledger::minor_unit_digits(currency));
    from_decimal(d).ok_or_else(|| AppError::internal(format!("{d} does not fit a plugin decimal")))
}

// ---- The invocation log -----------------------------------------------------------------

pub struct LogItem {
    pub tenant: TenantId,
    pub invocation: Invocation,
    pub failed: bool,
}

/// The background writer of invocation rows; it counts consecutive failures and disables a
/// plugin that reaches [`FAILURES_BEFORE_DISABLE`].
pub struct PluginLog {
    sender: mpsc::UnboundedSender<LogItem>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<LogItem>>>,
}

impl Default for PluginLog {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        PluginLog { sender, receiver: Mutex::new(Some(receiver)) }
    }
}

impl PluginLog {
    pub fn send(&self, item: LogItem) {
        // The writer lives as long as the server; a closed channel means shutdown.
        let _ = self.sender.send(item);
    }
}

/// Starts the node's background plugin work (once): the invocation log writer and the event
/// dispatcher.
pub fn start(app: Arc<AppState>) {
    let Some(mut rx) = app.plugins.log.receiver.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
    let writer = app.clone();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            if let Err(e) = write_log(&writer, batch).await {
                tracing::warn!(error = %e, "could not write plugin invocations");
            }
        }
    });
    if app.config.dispatch_events {
        super::events::start_dispatcher(app);
    }
}

async fn write_log(app: &AppState, batch: Vec<LogItem>) -> AppResult<()> {
    let mut per_tenant: HashMap<TenantId, Vec<LogItem>> = HashMap::new();
    for item in batch {
        per_tenant.entry(item.tenant).or_default().push(item);
    }
    for (tenant, items) in per_tenant {
        let tx = app.store.begin(tenant, Access::Write).await?;
        let rows: Vec<Invocation> = items.iter().map(|i| i.invocation.clone()).collect();
        store::insert_invocations(&tx, &rows).await?;
        // Per plugin, the failures at the end of the batch: added to the count when the whole
        // batch failed, replacing it when a success came before them.
        let mut tails: HashMap<&str, (i32, bool, Option<&str>)> = HashMap::new();
        for item in &items {
            let t = tails.entry(item.invocation.plugin.as_str()).or_insert((0, false, None));
            if item.failed {
                t.0 += 1;
                t.2 = item.invocation.error.as_deref();
            } else {
                *t = (0, true, None);
            }
        }
        let mut disabled = false;
        for (plugin, (tail, reset, last_error)) in tails {
            let failures = store::count_failures(&tx, plugin, tail, reset).await?;
            if tail > 0
                && failures >= FAILURES_BEFORE_DISABLE
                && let Some(mut i) = store::install(&tx, plugin).await?.filter(|i| i.enabled)
            {
                i.enabled = false;
                i.disabled_reason = Some(format!(
                    "disabled after {failures} failures in a row; the last: {}",
                    last_error.unwrap_or_default()
                ));
                i.version += 1;
                i.updated_at = Utc::now();
                store::save_install(&tx, &i).await?;
                disabled = true;
                tracing::warn!(plugin = %i.plugin, %tenant, "plugin disabled after repeated failures");
            }
        }
        tx.commit().await?;
        if disabled {
            app.plugins.forget(tenant);
        }
    }
    Ok(())
}

// ---- Documents as plugins see them ------------------------------------------------------

/// A party as plugins see it.
pub fn party_record(p: &crate::store::receivables::Party) -> AppResult<runtime::Party> {
    Ok(runtime::Party {
        id: p.id.to_string(),
        code: p.code.clone(),
        name: p.name.clone(),
        kind: if p.side == crate::domain::receivables::Side::Receivable { "customer" } else { "supplier" }.into(),
        group: p.group.clone(),
        tags: p.tags.clone(),
        currency: p.currency.clone().unwrap_or_default(),
        credit_limit: p.credit_limit.map(wit_decimal).transpose()?,
        active: p.is_active,
    })
}

/// A sales or purchase order as validators see it.
pub async fn order_document(
    tx: &TenantTx<'_>,
    o: &crate::store::trade::Order,
    lines: &[crate::store::trade::OrderLine],
    party: &crate::store::receivables::Party,
    items: Option<&HashMap<Uuid, crate::store::stock::Item>>,
) -> AppResult<runtime::Document> {
    let read;
    let items = match items {
        Some(i) => i,
        None => {
            let ids: Vec<Uuid> = lines.iter().map(|l| l.item_id).collect();
            read = crate::store::stock::get_items(tx, &ids).await?;
            &read
        }
    };
    let lines = lines
        .iter()
        .map(|l| {
            Ok(runtime::DocumentLine {
                line_no: u32::try_from(l.line_no).map_err(AppError::internal)?,
                item_id: Some(l.item_id.to_string()),
                sku: items.get(&l.item_id).map(|i| i.sku.clone()),
                account: None,
                description: l.description.clone(),
                quantity: wit_decimal(l.quantity)?,
                unit_price: wit_decimal(l.unit_price)?,
                discount: wit_money(l.discount, &o.currency)?,
                net: wit_money(l.net, &o.currency)?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(runtime::Document {
        kind: if o.side == crate::domain::trade::TradeSide::Sales { "sales-order" } else { "purchase-order" }.into(),
        id: o.id.to_string(),
        number: Some(o.number.clone()),
        party: Some(party_record(party)?),
        currency: o.currency.clone(),
        date: o.order_date.to_string(),
        memo: o.memo.clone(),
        net_total: wit_money(o.net_total, &o.currency)?,
        tax_total: wit_money(o.tax_total, &o.currency)?,
        gross_total: wit_money(o.gross_total, &o.currency)?,
        lines,
    })
}

/// A journal entry about to be posted, as validators see it (line nets are debit − credit
/// in base currency; lines name their account code).
pub async fn entry_document(
    tx: &TenantTx<'_>,
    e: &crate::store::ledger::Entry,
    lines: &[crate::domain::ledger::EntryLine],
) -> AppResult<runtime::Document> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.account_id).collect();
    let facts = crate::store::ledger::account_facts(tx, &ids).await?;
    let zero = wit_decimal(Decimal::ZERO)?;
    let doc_lines = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(runtime::DocumentLine {
                line_no: u32::try_from(i + 1).map_err(AppError::internal)?,
                item_id: None,
                sku: None,
                account: facts.get(&l.account_id).map(|f| f.code.clone()),
                description: l.memo.clone(),
                quantity: zero,
                unit_price: zero,
                discount: zero,
                net: wit_money(l.debit - l.credit, &e.currency)?,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let total = wit_money(e.total_debit, &e.currency)?;
    Ok(runtime::Document {
        kind: "journal-entry".into(),
        id: e.id.to_string(),
        number: e.number.clone(),
        party: None,
        currency: e.currency.clone(),
        date: e.entry_date.to_string(),
        memo: e.memo.clone(),
        net_total: total,
        tax_total: zero,
        gross_total: total,
        lines: doc_lines,
    })
}
