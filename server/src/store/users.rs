//! Users of a tenant and their role assignments.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Condition, Expr, Func, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use super::entities::{roles, user_roles, users};
use super::{Page, TenantTx, is_unique_violation};
use crate::domain::ids::{RoleId, UserId};
use crate::domain::validate::Email;
use crate::error::{AppError, AppResult};

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl User {
    /// A new active user at version 1.
    pub fn new(email: &Email, display_name: String, password_hash: String, now: DateTime<Utc>) -> Self {
        Self {
            id: UserId::new(),
            email: email.as_str().to_owned(),
            display_name,
            password_hash,
            is_active: true,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: UserId(m.id),
            email: m.email,
            display_name: m.display_name,
            password_hash: m.password_hash,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

/// A role as a user's listing names it.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleName {
    pub id: RoleId,
    pub name: String,
}

/// A user and the names of their roles, in one statement (the hot path of reading a user).
pub async fn get_with_roles(tx: &TenantTx<'_>, id: UserId) -> AppResult<Option<(User, Vec<RoleName>)>> {
    let stmt = Query::select()
        .columns(
            [
                users::Column::TenantId,
                users::Column::Id,
                users::Column::Email,
                users::Column::DisplayName,
                users::Column::PasswordHash,
                users::Column::IsActive,
                users::Column::CreatedAt,
                users::Column::UpdatedAt,
                users::Column::Version,
            ]
            .map(|c| (users::Entity, c)),
        )
        .expr_as(Expr::col((roles::Entity, roles::Column::Id)), "role_id")
        .expr_as(Expr::col((roles::Entity, roles::Column::Name)), "role_name")
        .from(users::Entity)
        .left_join(
            user_roles::Entity,
            Condition::all()
                .add(
                    Expr::col((user_roles::Entity, user_roles::Column::TenantId))
                        .equals((users::Entity, users::Column::TenantId)),
                )
                .add(
                    Expr::col((user_roles::Entity, user_roles::Column::UserId))
                        .equals((users::Entity, users::Column::Id)),
                ),
        )
        .left_join(
            roles::Entity,
            Condition::all()
                .add(
                    Expr::col((roles::Entity, roles::Column::TenantId))
                        .equals((user_roles::Entity, user_roles::Column::TenantId)),
                )
                .add(
                    Expr::col((roles::Entity, roles::Column::Id))
                        .equals((user_roles::Entity, user_roles::Column::RoleId)),
                ),
        )
        .and_where(Expr::col((users::Entity, users::Column::TenantId)).eq(tx.tenant().0))
        .and_where(Expr::col((users::Entity, users::Column::Id)).eq(id.0))
        .order_by((roles::Entity, roles::Column::Id), Order::Asc)
        .to_owned();
    let rows = tx.conn().query_all(&stmt).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let user = User::from(users::Model::from_query_result(first, "")?);
    let mut names = Vec::new();
    for row in &rows {
        let role_id: Option<uuid::Uuid> = row.try_get("", "role_id")?;
        let role_name: Option<String> = row.try_get("", "role_name")?;
        if let (Some(id), Some(name)) = (role_id, role_name) {
            names.push(RoleName { id: RoleId(id), name });
        }
    }
    Ok(Some((user, names)))
}

/// Inserts a user; a taken email is a field error on `email`.
pub async fn insert(tx: &TenantTx<'_>, user: &User) -> AppResult<()> {
    let am = users::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(user.id.0),
        email: Set(user.email.clone()),
        display_name: Set(user.display_name.clone()),
        password_hash: Set(user.password_hash.clone()),
        is_active: Set(user.is_active),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
        version: Set(user.version),
    };
    match users::Entity::insert(am).exec_without_returning(tx.conn()).await {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(AppError::field("email", "a user with this email already exists")),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(tx: &TenantTx<'_>, id: UserId) -> AppResult<Option<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tx.tenant().0))
        .filter(users::Column::Id.eq(id.0))
        .one(tx.conn())
        .await?
        .map(User::from))
}

pub async fn find_by_email(tx: &TenantTx<'_>, email: &str) -> AppResult<Option<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tx.tenant().0))
        .filter(users::Column::Email.eq(email))
        .one(tx.conn())
        .await?
        .map(User::from))
}

#[derive(Default)]
pub struct UserFilter {
    pub is_active: Option<bool>,
    pub q: Option<String>,
    pub role_id: Option<RoleId>,
}

pub async fn list(tx: &TenantTx<'_>, page: &Page, filter: &UserFilter) -> AppResult<Vec<User>> {
    let mut q = users::Entity::find().filter(users::Column::TenantId.eq(tx.tenant().0));
    if let Some(active) = filter.is_active {
        q = q.filter(users::Column::IsActive.eq(active));
    }
    if let Some(text) = &filter.q {
        let like = format!("%{}%", text.to_lowercase());
        // Emails are stored lower-case; names are compared lower-cased, since LIKE is
        // case-sensitive on PostgreSQL and not on SQLite.
        let name = Expr::expr(Func::lower(Expr::col((users::Entity, users::Column::DisplayName))));
        q = q.filter(users::Column::Email.like(like.clone()).or(name.like(like)));
    }
    if let Some(role) = filter.role_id {
        let ids: Vec<Uuid> = user_roles::Entity::find()
            .filter(user_roles::Column::TenantId.eq(tx.tenant().0))
            .filter(user_roles::Column::RoleId.eq(role.0))
            .all(tx.conn())
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        q = q.filter(users::Column::Id.is_in(ids));
    }
    if let Some(after) = page.after {
        q = q.filter(users::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(users::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

pub async fn count_active(tx: &TenantTx<'_>) -> AppResult<u64> {
    Ok(users::Entity::find()
        .filter(users::Column::TenantId.eq(tx.tenant().0))
        .filter(users::Column::IsActive.eq(true))
        .count(tx.conn())
        .await?)
}

/// Writes the edited fields if the stored version is still `user.version - 1`.
pub async fn update(tx: &TenantTx<'_>, user: &User) -> AppResult<bool> {
    let res = users::Entity::update_many()
        .col_expr(users::Column::DisplayName, Expr::value(user.display_name.clone()))
        .col_expr(users::Column::PasswordHash, Expr::value(user.password_hash.clone()))
        .col_expr(users::Column::IsActive, Expr::value(user.is_active))
        .col_expr(users::Column::UpdatedAt, Expr::value(user.updated_at))
        .col_expr(users::Column::Version, Expr::value(user.version))
        .filter(users::Column::TenantId.eq(tx.tenant().0))
        .filter(users::Column::Id.eq(user.id.0))
        .filter(users::Column::Version.eq(user.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn role_ids(tx: &TenantTx<'_>, user: UserId) -> AppResult<Vec<RoleId>> {
    Ok(user_roles::Entity::find()
        .filter(user_roles::Column::TenantId.eq(tx.tenant().0))
        .filter(user_roles::Column::UserId.eq(user.0))
        .order_by_asc(user_roles::Column::RoleId)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| RoleId(m.role_id))
        .collect())
}

pub async fn set_roles(tx: &TenantTx<'_>, user: UserId, roles: &[RoleId]) -> AppResult<()> {
    user_roles::Entity::delete_many()
        .filter(user_roles::Column::TenantId.eq(tx.tenant().0))
        .filter(user_roles::Column::UserId.eq(user.0))
        .exec(tx.conn())
        .await?;
    if roles.is_empty() {
        return Ok(());
    }
    let rows = roles.iter().map(|r| user_roles::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        user_id: Set(user.0),
        role_id: Set(r.0),
    });
    user_roles::Entity::insert_many(rows).exec_without_returning(tx.conn()).await?;
    Ok(())
}
