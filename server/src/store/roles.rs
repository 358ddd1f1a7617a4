//! Roles: the built-in ones and custom ones, each a set of permissions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entities::{api_key_roles, roles, user_roles};
use super::{Page, TenantTx, is_unique_violation};
use crate::domain::access::PermissionSet;
use crate::domain::ids::{RoleId, UserId};
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub is_builtin: bool,
    pub permissions: PermissionSet,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<roles::Model> for Role {
    type Error = AppError;
    fn try_from(m: roles::Model) -> AppResult<Self> {
        let list: Vec<String> = serde_json::from_value(m.permissions)
            .map_err(|e| AppError::internal(format!("role {} permissions: {e}", m.id)))?;
        let permissions = PermissionSet::parse_all(&list)
            .map_err(|e| AppError::internal(format!("role {} permissions: {e:?}", m.id)))?;
        Ok(Self {
            id: RoleId(m.id),
            name: m.name,
            description: m.description,
            is_builtin: m.is_builtin,
            permissions,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        })
    }
}

fn perms_json(p: PermissionSet) -> serde_json::Value {
    serde_json::Value::from(p.to_strings())
}

pub async fn insert(tx: &TenantTx<'_>, role: &Role) -> AppResult<()> {
    let am = roles::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(role.id.0),
        name: Set(role.name.clone()),
        description: Set(role.description.clone()),
        is_builtin: Set(role.is_builtin),
        permissions: Set(perms_json(role.permissions)),
        created_at: Set(role.created_at),
        updated_at: Set(role.updated_at),
        version: Set(role.version),
    };
    match roles::Entity::insert(am).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(AppError::field("name", "a role with this name already exists")),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(tx: &TenantTx<'_>, id: RoleId) -> AppResult<Option<Role>> {
    roles::Entity::find()
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Id.eq(id.0))
        .one(tx.conn())
        .await?
        .map(Role::try_from)
        .transpose()
}

pub async fn find_by_name(tx: &TenantTx<'_>, name: &str) -> AppResult<Option<Role>> {
    roles::Entity::find()
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Name.eq(name))
        .one(tx.conn())
        .await?
        .map(Role::try_from)
        .transpose()
}

pub async fn list(tx: &TenantTx<'_>, page: &Page) -> AppResult<Vec<Role>> {
    let mut q = roles::Entity::find().filter(roles::Column::TenantId.eq(tx.tenant().0));
    if let Some(after) = page.after {
        q = q.filter(roles::Column::Id.gt(after));
    }
    q.order_by_asc(roles::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Role::try_from)
        .collect()
}

/// The roles among `ids`, in id order; the caller compares the count to spot unknown ids.
pub async fn get_many(tx: &TenantTx<'_>, ids: &[RoleId]) -> AppResult<Vec<Role>> {
    roles::Entity::find()
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Id.is_in(ids.iter().map(|r| r.0)))
        .order_by_asc(roles::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Role::try_from)
        .collect()
}

/// The roles a user holds, in one statement.
pub async fn of_user(tx: &TenantTx<'_>, user: UserId) -> AppResult<Vec<Role>> {
    let held = Query::select()
        .column(user_roles::Column::RoleId)
        .from(user_roles::Entity)
        .and_where(user_roles::Column::TenantId.eq(tx.tenant().0))
        .and_where(user_roles::Column::UserId.eq(user.0))
        .to_owned();
    roles::Entity::find()
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Id.in_subquery(held))
        .order_by_asc(roles::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(Role::try_from)
        .collect()
}

/// The union of the permissions of the given roles.
pub async fn permissions_of(tx: &TenantTx<'_>, ids: &[RoleId]) -> AppResult<PermissionSet> {
    Ok(get_many(tx, ids).await?.into_iter().fold(PermissionSet::EMPTY, |acc, r| acc.union(r.permissions)))
}

pub async fn update(tx: &TenantTx<'_>, role: &Role) -> AppResult<bool> {
    let res = roles::Entity::update_many()
        .col_expr(roles::Column::Name, Expr::value(role.name.clone()))
        .col_expr(roles::Column::Description, Expr::value(role.description.clone()))
        .col_expr(roles::Column::Permissions, Expr::value(perms_json(role.permissions)))
        .col_expr(roles::Column::UpdatedAt, Expr::value(role.updated_at))
        .col_expr(roles::Column::Version, Expr::value(role.version))
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Id.eq(role.id.0))
        .filter(roles::Column::Version.eq(role.version - 1))
        .exec(tx.conn())
        .await;
    match res {
        Ok(r) => Ok(r.rows_affected == 1),
        Err(e) if is_unique_violation(&e) => Err(AppError::field("name", "a role with this name already exists")),
        Err(e) => Err(e.into()),
    }
}

/// How many users and API keys hold the role.
pub async fn usage(tx: &TenantTx<'_>, id: RoleId) -> AppResult<u64> {
    let users = user_roles::Entity::find()
        .filter(user_roles::Column::TenantId.eq(tx.tenant().0))
        .filter(user_roles::Column::RoleId.eq(id.0))
        .count(tx.conn())
        .await?;
    let keys = api_key_roles::Entity::find()
        .filter(api_key_roles::Column::TenantId.eq(tx.tenant().0))
        .filter(api_key_roles::Column::RoleId.eq(id.0))
        .count(tx.conn())
        .await?;
    Ok(users + keys)
}

pub async fn delete(tx: &TenantTx<'_>, id: RoleId) -> AppResult<()> {
    roles::Entity::delete_many()
        .filter(roles::Column::TenantId.eq(tx.tenant().0))
        .filter(roles::Column::Id.eq(id.0))
        .exec(tx.conn())
        .await?;
    Ok(())
}
