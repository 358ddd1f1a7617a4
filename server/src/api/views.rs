//! What the API shows of each object. Plain data with OpenAPI schemas; built from store rows.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::sessions::Session;
use crate::app::tenant::TenantView as TenantState;
use crate::domain::subscription::SubscriptionState;
use crate::store::api_keys::ApiKey;
use crate::store::audit::AuditEvent;
use crate::store::roles::Role;
use crate::store::users::{RoleName, User};

/// A page of a list.
#[derive(Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub user_id: Uuid,
    pub token_type: &'static str,
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

impl SessionView {
    pub fn new(s: Session, now: DateTime<Utc>) -> Self {
        Self {
            tenant_id: s.tenant_id.0,
            tenant_slug: s.tenant_slug,
            user_id: s.user_id.0,
            token_type: "Bearer",
            access_token: s.access_token,
            expires_in: (s.access_token_expires_at - now).num_seconds(),
            access_token_expires_at: s.access_token_expires_at,
            refresh_token: s.refresh_token,
            refresh_token_expires_at: s.refresh_token_expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleRef {
    pub id: Uuid,
    pub name: String,
}

fn refs(roles: &[Role]) -> Vec<RoleRef> {
    roles.iter().map(|r| RoleRef { id: r.id.0, name: r.name.clone() }).collect()
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub is_active: bool,
    pub roles: Vec<RoleRef>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    pub fn new((u, roles): (User, Vec<RoleName>)) -> Self {
        Self {
            id: u.id.0,
            email: u.email,
            display_name: u.display_name,
            is_active: u.is_active,
            roles: roles.into_iter().map(|r| RoleRef { id: r.id.0, name: r.name }).collect(),
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub is_builtin: bool,
    /// `module:action` pairs, e.g. `sales:write`.
    pub permissions: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        Self {
            id: r.id.0,
            name: r.name,
            description: r.description,
            is_builtin: r.is_builtin,
            permissions: r.permissions.to_strings(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// active, revoked or expired
    pub status: &'static str,
    pub roles: Vec<RoleRef>,
    pub created_by: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApiKeyView {
    pub fn new((k, roles): (ApiKey, Vec<Role>), now: DateTime<Utc>) -> Self {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: k.id.0,
            name: k.name,
            status,
            roles: refs(&roles),
            created_by: k.created_by.map(|u| u.0),
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            version: k.version,
            created_at: k.created_at,
            updated_at: k.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The key itself. It is shown this once and cannot be recovered; store it now.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// user, api_key or operator
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    /// e.g. `user.create`, `role.update`
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id.0,
            occurred_at: e.occurred_at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id.filter(|id| !id.is_nil()),
            actor_name: e.actor_name,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            source_ip: e.source_ip,
            request_id: e.request_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    /// trial, active or expired (read-only)
    pub status: &'static str,
    pub plan: Option<&'static str>,
    pub plan_started_at: Option<DateTime<Utc>>,
    pub trial_ends_at: DateTime<Utc>,
    /// Whole days left in the trial, when in it.
    pub trial_days_left: Option<i64>,
    /// True in the last three days of the trial: show the banner.
    pub trial_ending_soon: bool,
    pub read_only: bool,
}

#[derive(Serialize, ToSchema)]
pub struct EntitlementsView {
    pub seats: u32,
    pub modules: Vec<&'static str>,
    pub plugin_slots: u32,
    pub api_rate_per_minute: u32,
}

#[derive(Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub base_currency: String,
    pub accounting_template: String,
    pub subscription: SubscriptionView,
    pub entitlements: EntitlementsView,
    /// What the entitlements are spent on (the tenant read; absent where the tenant is embedded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageView {
    /// Active users, against `entitlements.seats`.
    pub seats_used: u64,
    /// Enabled plugins, against `entitlements.plugin_slots`.
    pub plugins_enabled: u64,
}

impl SubscriptionView {
    pub fn new(v: &TenantState) -> Self {
        let (days_left, warn) = match v.state {
            SubscriptionState::Trial { days_left, warn } => (Some(days_left), warn),
            _ => (None, false),
        };
        Self {
            status: v.state.as_str(),
            plan: v.tenant.plan.map(|p| p.as_str()),
            plan_started_at: v.tenant.plan_started_at,
            trial_ends_at: v.tenant.trial_ends_at,
            trial_days_left: days_left,
            trial_ending_soon: warn,
            read_only: !v.state.allows_writes(),
        }
    }
}

impl From<TenantState> for TenantView {
    fn from(v: TenantState) -> Self {
        let subscription = SubscriptionView::new(&v);
        let t = v.tenant;
        Self {
            id: t.id.0,
            slug: t.slug,
            name: t.name,
            base_currency: t.base_currency,
            accounting_template: t.coa_template,
            subscription,
            entitlements: EntitlementsView {
                seats: v.entitlements.seats,
                modules: v.entitlements.modules.iter().map(|m| m.as_str()).collect(),
                plugin_slots: v.entitlements.plugin_slots,
                api_rate_per_minute: v.entitlements.api_rate_per_minute,
            },
            usage: v.usage.map(|u| UsageView { seats_used: u.seats_used, plugins_enabled: u.plugins_enabled }),
            version: t.version,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// One CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// A CSV download.
pub fn csv_response(filename: &str, body: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{filename}\"")))
        .body(body)
}

/// `format=json|csv` of a report; true for CSV.
pub fn wants_csv(format: Option<&str>) -> Result<bool, crate::error::AppError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(f) => Err(crate::error::AppError::field("format", format!("must be json or csv, not {f}"))),
    }
}
