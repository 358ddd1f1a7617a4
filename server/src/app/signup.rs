//! Sign-up: a company becomes a tenant on a 15-day trial of every module, with the built-in
//! roles and its owner, in one transaction.

use super::sessions::{Session, open_session};
use super::{AppState, Ctx};
use crate::auth::{Actor, Principal, passwords};
use crate::domain::access::{BUILTIN_ROLES, OWNER, PermissionSet};
use crate::domain::ids::{RoleId, TenantId};
use crate::domain::subscription::trial_end;
use crate::domain::validate::{self, Email, Password};
use crate::error::{AppError, AppResult, Fields};
use crate::infra::ratelimit::Decision;
use crate::store::roles::Role;
use crate::store::tenants::Tenant;
use crate::store::users::User;
use crate::store::{Access, roles, tenants, users};

/// Charts of accounts a tenant can start from.
pub const ACCOUNTING_TEMPLATES: &[&str] = &["cn_small_business", "generic"];

pub struct SignupInput {
    pub company_name: String,
    pub slug: Option<String>,
    pub admin_email: String,
    pub admin_name: Option<String>,
    pub admin_password: String,
    pub accounting_template: String,
    pub base_currency: String,
    pub source_ip: Option<String>,
}

/// Sign-ups allowed from one address per hour.
pub const SIGNUPS_PER_ADDRESS_MAX: u32 = 20;

pub async fn signup(app: &AppState, input: SignupInput) -> AppResult<Session> {
    if let Some(ip) = &input.source_ip {
        let key = format!("signup:ip:{ip}");
        if let Decision::Limited { retry_after_secs } =
            app.limiter.hit(&key, SIGNUPS_PER_ADDRESS_MAX, std::time::Duration::from_secs(3600)).await
        {
            return Err(AppError::RateLimited { retry_after_secs });
        }
    }
    let mut f = Fields::new();
    let name = f.check("company_name", validate::name(&input.company_name, 200));
    let slug = input.slug.as_deref().map(|s| f.check("slug", validate::slug(s)));
    let email = f.check("admin_email", Email::parse(&input.admin_email));
    let display = f.check("admin_name", validate::name(input.admin_name.as_deref().unwrap_or("Owner"), 200));
    let password = f.check("admin_password", Password::parse(&input.admin_password));
    let currency = f.check("base_currency", validate::currency(&input.base_currency));
    if !ACCOUNTING_TEMPLATES.contains(&input.accounting_template.as_str()) {
        f.push("accounting_template", format!("must be one of {}", ACCOUNTING_TEMPLATES.join(", ")));
    }
    f.finish()?;
    let (Some(name), Some(email), Some(display), Some(password), Some(currency)) =
        (name, email, display, password, currency)
    else {
        return Err(AppError::internal("validated fields missing"));
    };
    let password_hash = passwords::hash_blocking(password.expose().to_owned()).await?;
    let tenant_id = TenantId::new();
    let slug = match slug.flatten() {
        Some(s) => s,
        None => {
            let base = validate::slug_base(&name);
            let suffix = &tenant_id.0.simple().to_string()[24..];
            if base.is_empty() { format!("co-{suffix}") } else { format!("{base}-{suffix}") }
        }
    };
    let now = app.now();
    let tenant = Tenant {
        id: tenant_id,
        slug: slug.clone(),
        name,
        base_currency: currency,
        coa_template: input.accounting_template,
        plan: None,
        plan_started_at: None,
        trial_ends_at: trial_end(now),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = app.store.begin(tenant_id, Access::Write).await?;
    if !tenants::insert(&tx, &tenant).await? {
        return Err(AppError::field("slug", "this company handle is taken"));
    }
    let mut owner_role = None;
    for b in BUILTIN_ROLES {
        let role = Role {
            id: RoleId::new(),
            name: b.name.to_owned(),
            description: b.description.to_owned(),
            is_builtin: true,
            permissions: (b.permissions)(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        roles::insert(&tx, &role).await?;
        if b.name == OWNER {
            owner_role = Some(role.id);
        }
    }
    let owner_role = owner_role.ok_or_else(|| AppError::internal("no owner role"))?;
    super::ledger::set_up_books(&tx, &tenant.coa_template, now).await?;
    let user = User::new(&email, display, password_hash, now);
    users::insert(&tx, &user).await?;
    users::set_roles(&tx, user.id, &[owner_role]).await?;
    let ctx = Ctx {
        principal: Principal {
            tenant: tenant_id,
            actor: Actor::User(user.id),
            name: user.email.clone(),
            permissions: PermissionSet::EMPTY,
        },
        source_ip: input.source_ip,
        request_id: None,
    };
    let after = serde_json::json!({
        "slug": tenant.slug, "name": tenant.name, "base_currency": tenant.base_currency,
        "accounting_template": tenant.coa_template, "trial_ends_at": tenant.trial_ends_at,
        "owner": user.email,
    });
    super::record(
        &tx,
        &ctx,
        now,
        super::Change::new("tenant.signup", "tenant", Some(tenant_id.to_string()), None, Some(after)),
    )
    .await?;
    let session = open_session(app, &tx, &slug, &user, uuid::Uuid::now_v7(), now).await?;
    tx.commit().await?;
    Ok(session)
}
