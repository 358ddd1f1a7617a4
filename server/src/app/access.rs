//! Users, roles and API keys of a tenant. Nobody can hand out more than they hold: the roles
//! given to a user or key must be within the caller's own permissions, and only an owner
//! makes another owner.

use chrono::{DateTime, Utc};

use super::{AppState, Change, Ctx, record};
use crate::auth::secrets::{self, API_KEY_PREFIX};
use crate::auth::{Actor, passwords};
use crate::domain::access::{OWNER, PermissionSet};
use crate::domain::ids::{ApiKeyId, RoleId, TenantId, UserId};
use crate::domain::subscription::entitlements;
use crate::domain::validate::{self, Email, Password};
use crate::error::{AppError, AppResult, Fields};
use crate::store::api_keys::{self, ApiKey};
use crate::store::roles::{self, Role};
use crate::store::users::{self, RoleName, User, UserFilter};
use crate::store::{Access, Page, TenantTx, refresh_tokens};

#[derive(Clone, Debug)]
pub(crate) struct CachedApiKey {
    pub tenant: TenantId,
    pub key: ApiKey,
    pub permissions: PermissionSet,
}

/// Checks that `role_ids` exist and that the caller may grant them; returns them sorted.
async fn grantable_roles(tx: &TenantTx<'_>, ctx: &Ctx, field: &str, role_ids: &[RoleId]) -> AppResult<Vec<Role>> {
    let found = roles::get_many(tx, role_ids).await?;
    let mut f = Fields::new();
    for (i, id) in role_ids.iter().enumerate() {
        match found.iter().find(|r| r.id == *id) {
            None => f.push(format!("{field}[{i}]"), "no such role"),
            Some(r) if !r.permissions.is_subset_of(ctx.principal.permissions) => f.push(
                format!("{field}[{i}]"),
                format!("you cannot grant the role {} (it holds permissions you do not)", r.name),
            ),
            Some(r) if r.name == OWNER && !caller_is_owner(tx, ctx).await? => {
                f.push(format!("{field}[{i}]"), "only an owner can make another owner")
            }
            Some(_) => {}
        }
    }
    f.finish()?;
    Ok(found)
}

async fn caller_is_owner(tx: &TenantTx<'_>, ctx: &Ctx) -> AppResult<bool> {
    let Actor::User(me) = ctx.principal.actor else {
        return Ok(false);
    };
    let Some(owner) = roles::find_by_name(tx, OWNER).await? else {
        return Ok(false);
    };
    Ok(users::role_ids(tx, me).await?.contains(&owner.id))
}

fn dedup(ids: &[RoleId]) -> Vec<RoleId> {
    let mut v = ids.to_vec();
    v.sort();
    v.dedup();
    v
}

fn user_json(u: &User, roles: &[Role]) -> serde_json::Value {
    serde_json::json!({
        "email": u.email, "display_name": u.display_name, "is_active": u.is_active,
        "roles": roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(), "version": u.version,
    })
}

pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password: String,
    pub role_ids: Vec<RoleId>,
}

pub async fn create_user(app: &AppState, ctx: &Ctx, input: NewUser) -> AppResult<(User, Vec<RoleName>)> {
    let mut f = Fields::new();
    let email = f.check("email", Email::parse(&input.email));
    let display_name = f.check("display_name", validate::name(&input.display_name, 200));
    let password = f.check("password", Password::parse(&input.password));
    f.finish()?;
    let (Some(email), Some(display_name), Some(password)) = (email, display_name, password) else {
        return Err(AppError::internal("validated fields missing"));
    };
    let tenant = app.tenant(ctx.principal.tenant).await?;
    let password_hash = passwords::hash_blocking(password.expose().to_owned()).await?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let role_ids = dedup(&input.role_ids);
    let granted = grantable_roles(&tx, ctx, "role_ids", &role_ids).await?;
    let seats = entitlements(tenant.plan).seats;
    if users::count_active(&tx).await? >= u64::from(seats) {
        return Err(AppError::PlanLimit { what: "active users", limit: seats });
    }
    let user = User::new(&email, display_name, password_hash, now);
    users::insert(&tx, &user).await?;
    users::set_roles(&tx, user.id, &role_ids).await?;
    record(
        &tx,
        ctx,
        now,
        Change::new("user.create", "user", Some(user.id.to_string()), None, Some(user_json(&user, &granted))),
    )
    .await?;
    tx.commit().await?;
    Ok((user, names(&granted)))
}

pub async fn get_user(app: &AppState, tenant: TenantId, id: UserId) -> AppResult<(User, Vec<RoleName>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let found = users::get_with_roles(&tx, id).await?.ok_or(AppError::NotFound { entity: "user" })?;
    tx.commit().await?;
    Ok(found)
}

fn names(roles: &[Role]) -> Vec<RoleName> {
    roles.iter().map(|r| RoleName { id: r.id, name: r.name.clone() }).collect()
}

pub async fn list_users(
    app: &AppState,
    tenant: TenantId,
    page: &Page,
    filter: &UserFilter,
) -> AppResult<Vec<(User, Vec<RoleName>)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = users::list(&tx, page, filter).await?;
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        let r = roles::of_user(&tx, u.id).await?;
        out.push((u, names(&r)));
    }
    tx.commit().await?;
    Ok(out)
}

#[derive(Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub is_active: Option<bool>,
    pub password: Option<String>,
    pub role_ids: Option<Vec<RoleId>>,
}

pub async fn update_user(
    app: &AppState,
    ctx: &Ctx,
    id: UserId,
    if_match: i64,
    patch: UserPatch,
) -> AppResult<(User, Vec<RoleName>)> {
    let mut f = Fields::new();
    let display_name = patch.display_name.as_deref().map(|n| f.check("display_name", validate::name(n, 200)));
    let password = patch.password.as_deref().map(|p| f.check("password", Password::parse(p)));
    f.finish()?;
    let password_hash = match password.flatten() {
        Some(p) => Some(passwords::hash_blocking(p.expose().to_owned()).await?),
        None => None,
    };
    let tenant = app.tenant(ctx.principal.tenant).await?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = users::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "user" })?;
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "user", current: before.version });
    }
    let before_roles = roles::of_user(&tx, id).await?;
    let mut after = before.clone();
    if let Some(n) = display_name.flatten() {
        after.display_name = n;
    }
    if let Some(h) = &password_hash {
        after.password_hash = h.clone();
    }
    if let Some(active) = patch.is_active {
        if !active && ctx.principal.actor == Actor::User(id) {
            return Err(AppError::field("is_active", "you cannot deactivate yourself"));
        }
        if active && !before.is_active {
            let seats = entitlements(tenant.plan).seats;
            if users::count_active(&tx).await? >= u64::from(seats) {
                return Err(AppError::PlanLimit { what: "active users", limit: seats });
            }
        }
        after.is_active = active;
    }
    let after_roles = match &patch.role_ids {
        Some(ids) => {
            let ids = dedup(ids);
            let granted = grantable_roles(&tx, ctx, "role_ids", &ids).await?;
            let was_owner = before_roles.iter().any(|r| r.name == OWNER);
            let stays_owner = granted.iter().any(|r| r.name == OWNER);
            if was_owner && !stays_owner && !caller_is_owner(&tx, ctx).await? {
                return Err(AppError::field("role_ids", "only an owner can remove ownership"));
            }
            users::set_roles(&tx, id, &ids).await?;
            granted
        }
        None => before_roles.clone(),
    };
    let loses_ownership = before_roles.iter().any(|r| r.name == OWNER)
        && (!after.is_active || !after_roles.iter().any(|r| r.name == OWNER));
    if loses_ownership && active_owner_count(&tx).await? == 0 {
        return Err(AppError::Conflict("the tenant must keep at least one active owner".into()));
    }
    after.updated_at = now;
    after.version = before.version + 1;
    if !users::update(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "user", current: before.version });
    }
    if !after.is_active || password_hash.is_some() {
        refresh_tokens::revoke_user(&tx, id, now).await?;
    }
    let mut before_json = user_json(&before, &before_roles);
    let mut after_json = user_json(&after, &after_roles);
    if password_hash.is_some() {
        before_json["password"] = "(set)".into();
        after_json["password"] = "(changed)".into();
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("user.update", "user", Some(id.to_string()), Some(before_json), Some(after_json)),
    )
    .await?;
    tx.commit().await?;
    Ok((after, names(&after_roles)))
}

/// Active users holding the owner role, counted inside the transaction after its changes.
async fn active_owner_count(tx: &TenantTx<'_>) -> AppResult<usize> {
    let Some(owner) = roles::find_by_name(tx, OWNER).await? else {
        return Ok(0);
    };
    let filter = UserFilter { is_active: Some(true), role_id: Some(owner.id), q: None };
    Ok(users::list(tx, &Page { limit: 1, after: None }, &filter).await?.len())
}

pub struct RoleInput {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

fn parse_role(input: &RoleInput) -> AppResult<(String, String, PermissionSet)> {
    let mut f = Fields::new();
    let name = f.check("name", validate::name(&input.name, 100));
    let description = match input.description.as_deref() {
        Some(d) if d.chars().count() > 500 => {
            f.push("description", "must be at most 500 characters");
            None
        }
        d => Some(d.unwrap_or("").trim().to_owned()),
    };
    let perms = match PermissionSet::parse_all(&input.permissions) {
        Ok(p) => Some(p),
        Err(errs) => {
            for (i, m) in errs {
                f.push(format!("permissions[{i}]"), m);
            }
            None
        }
    };
    f.finish()?;
    match (name, description, perms) {
        (Some(n), Some(d), Some(p)) => Ok((n, d, p)),
        _ => Err(AppError::internal("validated fields missing")),
    }
}

fn role_json(r: &Role) -> serde_json::Value {
    serde_json::json!({"name": r.name, "description": r.description, "permissions": r.permissions.to_strings(), "version": r.version})
}

pub async fn create_role(app: &AppState, ctx: &Ctx, input: RoleInput) -> AppResult<Role> {
    let (name, description, permissions) = parse_role(&input)?;
    if !permissions.is_subset_of(ctx.principal.permissions) {
        return Err(AppError::field("permissions", "a role cannot hold permissions you do not have"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let role = Role {
        id: RoleId::new(),
        name,
        description,
        is_builtin: false,
        permissions,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    roles::insert(&tx, &role).await?;
    record(&tx, ctx, now, Change::new("role.create", "role", Some(role.id.to_string()), None, Some(role_json(&role))))
        .await?;
    tx.commit().await?;
    Ok(role)
}

pub async fn get_role(app: &AppState, tenant: TenantId, id: RoleId) -> AppResult<Role> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let r = roles::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "role" })?;
    tx.commit().await?;
    Ok(r)
}

pub async fn list_roles(app: &AppState, tenant: TenantId, page: &Page) -> AppResult<Vec<Role>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let list = roles::list(&tx, page).await?;
    tx.commit().await?;
    Ok(list)
}

pub async fn update_role(app: &AppState, ctx: &Ctx, id: RoleId, if_match: i64, input: RoleInput) -> AppResult<Role> {
    let (name, description, permissions) = parse_role(&input)?;
    if !permissions.is_subset_of(ctx.principal.permissions) {
        return Err(AppError::field("permissions", "a role cannot hold permissions you do not have"));
    }
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let before = roles::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "role" })?;
    if before.is_builtin {
        return Err(AppError::InvalidState { entity: "role", state: "built-in".into(), action: "changed" });
    }
    if before.version != if_match {
        return Err(AppError::StaleVersion { entity: "role", current: before.version });
    }
    let after = Role { name, description, permissions, updated_at: now, version: before.version + 1, ..before.clone() };
    if !roles::update(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "role", current: before.version });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new("role.update", "role", Some(id.to_string()), Some(role_json(&before)), Some(role_json(&after))),
    )
    .await?;
    tx.commit().await?;
    app.api_keys_changed();
    Ok(after)
}

pub async fn delete_role(app: &AppState, ctx: &Ctx, id: RoleId) -> AppResult<()> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let role = roles::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "role" })?;
    if role.is_builtin {
        return Err(AppError::InvalidState { entity: "role", state: "built-in".into(), action: "deleted" });
    }
    let used = roles::usage(&tx, id).await?;
    if used > 0 {
        return Err(AppError::Conflict(format!(
            "the role {} is held by {used} users or API keys; take it away first",
            role.name
        )));
    }
    roles::delete(&tx, id).await?;
    record(&tx, ctx, now, Change::new("role.delete", "role", Some(id.to_string()), Some(role_json(&role)), None))
        .await?;
    tx.commit().await
}

pub struct NewApiKey {
    pub name: String,
    pub role_ids: Vec<RoleId>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Creates a key; the returned string is the only time its secret is seen.
pub async fn create_api_key(app: &AppState, ctx: &Ctx, input: NewApiKey) -> AppResult<(ApiKey, Vec<Role>, String)> {
    let mut f = Fields::new();
    let name = f.check("name", validate::name(&input.name, 100));
    let now = app.now();
    if input.expires_at.is_some_and(|e| e <= now) {
        f.push("expires_at", "must be in the future");
    }
    if input.role_ids.is_empty() {
        f.push("role_ids", "a key needs at least one role");
    }
    f.finish()?;
    let name = name.ok_or_else(|| AppError::internal("validated fields missing"))?;
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let role_ids = dedup(&input.role_ids);
    let granted = grantable_roles(&tx, ctx, "role_ids", &role_ids).await?;
    let id = ApiKeyId::new();
    let minted = secrets::mint(API_KEY_PREFIX, ctx.principal.tenant, id.0);
    let key = ApiKey {
        id,
        name,
        secret_hash: minted.secret_hash,
        created_by: match ctx.principal.actor {
            Actor::User(u) => Some(u),
            Actor::ApiKey(_) | Actor::Operator | Actor::Plugin => None,
        },
        created_at: now,
        expires_at: input.expires_at,
        revoked_at: None,
        updated_at: now,
        version: 1,
    };
    api_keys::insert(&tx, &key, &role_ids).await?;
    let after = serde_json::json!({"name": key.name, "roles": granted.iter().map(|r| r.name.clone()).collect::<Vec<_>>(), "expires_at": key.expires_at});
    record(&tx, ctx, now, Change::new("api_key.create", "api_key", Some(id.to_string()), None, Some(after))).await?;
    tx.commit().await?;
    Ok((key, granted, minted.token))
}

pub async fn get_api_key(app: &AppState, tenant: TenantId, id: ApiKeyId) -> AppResult<(ApiKey, Vec<Role>)> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let key = api_keys::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "API key" })?;
    let roles = roles::get_many(&tx, &api_keys::role_ids(&tx, id).await?).await?;
    tx.commit().await?;
    Ok((key, roles))
}

pub async fn list_api_keys(app: &AppState, tenant: TenantId, page: &Page) -> AppResult<Vec<(ApiKey, Vec<Role>)>> {
    let tx = app.store.begin(tenant, Access::Read).await?;
    let keys = api_keys::list(&tx, page).await?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let r = roles::get_many(&tx, &api_keys::role_ids(&tx, k.id).await?).await?;
        out.push((k, r));
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn revoke_api_key(app: &AppState, ctx: &Ctx, id: ApiKeyId) -> AppResult<(ApiKey, Vec<Role>)> {
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let key = api_keys::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "API key" })?;
    if !api_keys::revoke(&tx, id, now).await? {
        return Err(AppError::InvalidState { entity: "API key", state: "revoked".into(), action: "revoked again" });
    }
    record(
        &tx,
        ctx,
        now,
        Change::new(
            "api_key.revoke",
            "api_key",
            Some(id.to_string()),
            Some(serde_json::json!({"revoked_at": null})),
            Some(serde_json::json!({"revoked_at": now})),
        ),
    )
    .await?;
    let roles = roles::get_many(&tx, &api_keys::role_ids(&tx, id).await?).await?;
    tx.commit().await?;
    app.api_keys.remove(&id.0);
    let key = ApiKey { revoked_at: Some(now), updated_at: now, version: key.version + 1, ..key };
    Ok((key, roles))
}

impl AppState {
    /// Role permissions changed: cached API keys may hold stale permission sets.
    pub(crate) fn api_keys_changed(&self) {
        self.api_keys.clear();
    }
}

/// The calling user's own profile; API keys have none.
pub async fn me(app: &AppState, ctx: &Ctx) -> AppResult<(User, Vec<RoleName>)> {
    let Actor::User(id) = ctx.principal.actor else {
        return Err(AppError::NotFound { entity: "user profile (API keys have none)" });
    };
    get_user(app, ctx.principal.tenant, id).await
}

/// A user changes their own password, proving the current one. Other sessions end.
pub async fn change_own_password(app: &AppState, ctx: &Ctx, current: String, new: String) -> AppResult<()> {
    let Actor::User(id) = ctx.principal.actor else {
        return Err(AppError::NotFound { entity: "user profile (API keys have none)" });
    };
    let new = Password::parse(&new).map_err(|m| AppError::field("new_password", m))?;
    if current == new.expose() {
        return Err(AppError::field("new_password", "must differ from the current password"));
    }
    let tx = app.store.begin(ctx.principal.tenant, Access::Read).await?;
    let user = users::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "user" })?;
    tx.commit().await?;
    let stored = user.password_hash.clone();
    let ok =
        tokio::task::spawn_blocking(move || passwords::verify(&current, &stored)).await.map_err(AppError::internal)?;
    if !ok {
        return Err(AppError::field("current_password", "is not your current password"));
    }
    let hash = passwords::hash_blocking(new.expose().to_owned()).await?;
    let now = app.now();
    let tx = app.store.begin(ctx.principal.tenant, Access::Write).await?;
    let current_row = users::get(&tx, id).await?.ok_or(AppError::NotFound { entity: "user" })?;
    let after = User { password_hash: hash, updated_at: now, version: current_row.version + 1, ..current_row.clone() };
    if !users::update(&tx, &after).await? {
        return Err(AppError::StaleVersion { entity: "user", current: current_row.version });
    }
    refresh_tokens::revoke_user(&tx, id, now).await?;
    let change = Change::new(
        "user.password_change",
        "user",
        Some(id.to_string()),
        None,
        Some(serde_json::json!({"password": "(changed)"})),
    );
    record(&tx, ctx, now, change).await?;
    tx.commit().await
}
