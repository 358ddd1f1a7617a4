//! Plugin versions, installs and invocations.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{plugin_installs, plugin_invocations, plugin_versions};
use super::{TenantTx, is_unique_violation};
use crate::error::{AppError, AppResult};

/// An uploaded version, without its component bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    pub plugin: String,
    pub version: String,
    pub sha256: String,
    pub manifest: serde_json::Value,
    pub size_bytes: i64,
    pub uploaded_by: Option<Uuid>,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Install {
    pub plugin: String,
    pub active_version: String,
    pub previous_version: Option<String>,
    pub enabled: bool,
    pub granted: Vec<String>,
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub failures: i32,
    pub disabled_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub id: Uuid,
    pub plugin: String,
    pub version: String,
    pub hook: String,
    pub subject: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_us: i64,
    pub fuel: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub logs: serde_json::Value,
}

fn version_from(m: plugin_versions::Model) -> Version {
    Version {
        plugin: m.plugin,
        version: m.version,
        sha256: m.sha256,
        manifest: serde_json::from_str(&m.manifest).unwrap_or_default(),
        size_bytes: m.size_bytes,
        uploaded_by: m.uploaded_by,
        uploaded_at: m.uploaded_at,
    }
}

fn install_from(m: plugin_installs::Model) -> Install {
    Install {
        plugin: m.plugin,
        active_version: m.active_version,
        previous_version: m.previous_version,
        enabled: m.enabled,
        granted: serde_json::from_str(&m.granted).unwrap_or_default(),
        settings: serde_json::from_str(&m.settings).unwrap_or_default(),
        failures: m.failures,
        disabled_reason: m.disabled_reason,
        updated_at: m.updated_at,
        version: m.version,
    }
}

/// Stores a new version; `false` when this plugin already has that version number.
pub async fn insert_version(tx: &TenantTx<'_>, v: &Version, component: &[u8]) -> AppResult<bool> {
    let am = plugin_versions::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        plugin: Set(v.plugin.clone()),
        version: Set(v.version.clone()),
        sha256: Set(v.sha256.clone()),
        manifest: Set(v.manifest.to_string()),
        component: Set(component.to_vec()),
        size_bytes: Set(v.size_bytes),
        uploaded_by: Set(v.uploaded_by),
        uploaded_at: Set(v.uploaded_at),
    };
    match plugin_versions::Entity::insert(am).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The versions of one plugin (or of all), newest upload first, without component bytes.
pub async fn versions(tx: &TenantTx<'_>, plugin: Option<&str>) -> AppResult<Vec<Version>> {
    use plugin_versions::Column as C;
    let mut q = plugin_versions::Entity::find()
        .select_only()
        .columns([
            C::TenantId,
            C::Plugin,
            C::Version,
            C::Sha256,
            C::Manifest,
            C::SizeBytes,
            C::UploadedBy,
            C::UploadedAt,
        ])
        .column_as(Expr::val(Vec::<u8>::new()), "component")
        .filter(C::TenantId.eq(tx.tenant().0));
    if let Some(p) = plugin {
        q = q.filter(C::Plugin.eq(p));
    }
    let rows = q
        .order_by_desc(C::UploadedAt)
        .order_by_asc(C::Plugin)
        .into_model::<plugin_versions::Model>()
        .all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(version_from).collect())
}

pub async fn version(tx: &TenantTx<'_>, plugin: &str, version: &str) -> AppResult<Option<Version>> {
    Ok(versions(tx, Some(plugin)).await?.into_iter().find(|v| v.version == version))
}

/// A version's component bytes.
pub async fn component(tx: &TenantTx<'_>, plugin: &str, version: &str) -> AppResult<Vec<u8>> {
    let row = plugin_versions::Entity::find_by_id((tx.tenant().0, plugin.to_owned(), version.to_owned()))
        .one(tx.conn())
        .await?
        .ok_or_else(|| AppError::internal("plugin version missing"))?;
    Ok(row.component)
}

pub async fn installs(tx: &TenantTx<'_>) -> AppResult<Vec<Install>> {
    let rows = plugin_installs::Entity::find()
        .filter(plugin_installs::Column::TenantId.eq(tx.tenant().0))
        .order_by_asc(plugin_installs::Column::Plugin)
        .all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(install_from).collect())
}

pub async fn install(tx: &TenantTx<'_>, plugin: &str) -> AppResult<Option<Install>> {
    let row = plugin_installs::Entity::find_by_id((tx.tenant().0, plugin.to_owned())).one(tx.conn()).await?;
    Ok(row.map(install_from))
}

fn install_model(tx: &TenantTx<'_>, i: &Install) -> AppResult<plugin_installs::ActiveModel> {
    Ok(plugin_installs::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        plugin: Set(i.plugin.clone()),
        active_version: Set(i.active_version.clone()),
        previous_version: Set(i.previous_version.clone()),
        enabled: Set(i.enabled),
        granted: Set(serde_json::to_string(&i.granted).map_err(AppError::internal)?),
        settings: Set(serde_json::Value::Object(i.settings.clone()).to_string()),
        failures: Set(i.failures),
        disabled_reason: Set(i.disabled_reason.clone()),
        updated_at: Set(i.updated_at),
        version: Set(i.version),
    })
}

pub async fn insert_install(tx: &TenantTx<'_>, i: &Install) -> AppResult<()> {
    plugin_installs::Entity::insert(install_model(tx, i)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Saves an install if it is still at `i.version - 1`; `false` when someone changed it meanwhile.
pub async fn save_install(tx: &TenantTx<'_>, i: &Install) -> AppResult<bool> {
    use plugin_installs::Column as C;
    let mut am = install_model(tx, i)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.plugin = sea_orm::ActiveValue::NotSet;
    let res = plugin_installs::Entity::update_many()
        .set(am)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Plugin.eq(i.plugin.clone()))
        .filter(C::Version.eq(i.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Adds `failed` failures in a row to the plugin's count (after setting it to zero when
/// `reset`: a success came first), without a version check: many calls end at once. Returns
/// the count after.
pub async fn count_failures(tx: &TenantTx<'_>, plugin: &str, failed: i32, reset: bool) -> AppResult<i32> {
    use plugin_installs::Column as C;
    let value = if reset { Expr::val(failed) } else { Expr::col(C::Failures).add(failed) };
    if !reset && failed == 0 {
        return Ok(0);
    }
    let mut q = plugin_installs::Entity::update_many()
        .col_expr(C::Failures, value)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Plugin.eq(plugin));
    if reset {
        // A healthy plugin's count is already zero: nothing to write.
        q = q.filter(C::Failures.ne(failed));
    }
    q.exec(tx.conn()).await?;
    if failed == 0 {
        return Ok(0);
    }
    Ok(install(tx, plugin).await?.map_or(0, |i| i.failures))
}

pub async fn insert_invocations(tx: &TenantTx<'_>, rows: &[Invocation]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.iter().map(|r| plugin_invocations::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(r.id),
        plugin: Set(r.plugin.clone()),
        version: Set(r.version.clone()),
        hook: Set(r.hook.clone()),
        subject: Set(r.subject.clone()),
        started_at: Set(r.started_at),
        duration_us: Set(r.duration_us),
        fuel: Set(r.fuel),
        outcome: Set(r.outcome.clone()),
        error: Set(r.error.clone()),
        logs: Set(r.logs.to_string()),
    });
    plugin_invocations::Entity::insert_many(models).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// The most recent invocations, newest first (ids before `before`), of one plugin or of all,
/// optionally of one outcome.
pub async fn recent_invocations(
    tx: &TenantTx<'_>,
    plugin: Option<&str>,
    outcome: Option<&str>,
    before: Option<Uuid>,
    limit: u64,
) -> AppResult<Vec<Invocation>> {
    use plugin_invocations::Column as C;
    let mut q = plugin_invocations::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(p) = plugin {
        q = q.filter(C::Plugin.eq(p));
    }
    if let Some(o) = outcome {
        q = q.filter(C::Outcome.eq(o));
    }
    if let Some(b) = before {
        q = q.filter(C::Id.lt(b));
    }
    let rows = q.order_by_desc(C::Id).limit(limit).all(tx.conn()).await?;
    Ok(rows
        .into_iter()
        .map(|m| Invocation {
            id: m.id,
            plugin: m.plugin,
            version: m.version,
            hook: m.hook,
            subject: m.subject,
            started_at: m.started_at,
            duration_us: m.duration_us,
            fuel: m.fuel,
            outcome: m.outcome,
            error: m.error,
            logs: serde_json::from_str(&m.logs).unwrap_or_default(),
        })
        .collect())
}
