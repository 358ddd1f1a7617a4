//! API keys for machines: only the SHA-256 of the secret is kept.

use chrono::{DateTime, Utc};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entities::{api_key_roles, api_keys};
use super::{Page, TenantTx};
use crate::domain::ids::{ApiKeyId, RoleId, UserId};
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub secret_hash: String,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<api_keys::Model> for ApiKey {
    fn from(m: api_keys::Model) -> Self {
        Self {
            id: ApiKeyId(m.id),
            name: m.name,
            secret_hash: m.secret_hash,
            created_by: m.created_by.map(UserId),
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

pub async fn insert(tx: &TenantTx<'_>, key: &ApiKey, roles: &[RoleId]) -> AppResult<()> {
    let am = api_keys::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(key.id.0),
        name: Set(key.name.clone()),
        secret_hash: Set(key.secret_hash.clone()),
        created_by: Set(key.created_by.map(|u| u.0)),
        created_at: Set(key.created_at),
        expires_at: Set(key.expires_at),
        revoked_at: Set(key.revoked_at),
        updated_at: Set(key.updated_at),
        version: Set(key.version),
    };
    api_keys::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    if !roles.is_empty() {
        let rows = roles.iter().map(|r| api_key_roles::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            api_key_id: Set(key.id.0),
            role_id: Set(r.0),
        });
        api_key_roles::Entity::insert_many(rows).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn get(tx: &TenantTx<'_>, id: ApiKeyId) -> AppResult<Option<ApiKey>> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(api_keys::Column::Id.eq(id.0))
        .one(tx.conn())
        .await?
        .map(ApiKey::from))
}

pub async fn list(tx: &TenantTx<'_>, page: &Page) -> AppResult<Vec<ApiKey>> {
    let mut q = api_keys::Entity::find().filter(api_keys::Column::TenantId.eq(tx.tenant().0));
    if let Some(after) = page.after {
        q = q.filter(api_keys::Column::Id.gt(after));
    }
    Ok(q.order_by_asc(api_keys::Column::Id)
        .limit(page.fetch_limit())
        .all(tx.conn())
        .await?
        .into_iter()
        .map(ApiKey::from)
        .collect())
}

pub async fn role_ids(tx: &TenantTx<'_>, id: ApiKeyId) -> AppResult<Vec<RoleId>> {
    Ok(api_key_roles::Entity::find()
        .filter(api_key_roles::Column::TenantId.eq(tx.tenant().0))
        .filter(api_key_roles::Column::ApiKeyId.eq(id.0))
        .order_by_asc(api_key_roles::Column::RoleId)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| RoleId(m.role_id))
        .collect())
}

/// Marks the key revoked; false when it was already revoked.
pub async fn revoke(tx: &TenantTx<'_>, id: ApiKeyId, now: DateTime<Utc>) -> AppResult<bool> {
    let res = api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(Some(now)))
        .col_expr(api_keys::Column::UpdatedAt, Expr::value(now))
        .col_expr(api_keys::Column::Version, Expr::col(api_keys::Column::Version).add(1))
        .filter(api_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(api_keys::Column::Id.eq(id.0))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}
