//! Refresh tokens: opaque, stored as a SHA-256 of the secret, grouped in families. A token is
//! used once; using it again revokes its whole family.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::TenantTx;
use super::entities::refresh_tokens;
use crate::domain::ids::{RefreshTokenId, UserId};
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct RefreshToken {
    pub id: RefreshTokenId,
    pub family_id: uuid::Uuid,
    pub user_id: UserId,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<refresh_tokens::Model> for RefreshToken {
    fn from(m: refresh_tokens::Model) -> Self {
        Self {
            id: RefreshTokenId(m.id),
            family_id: m.family_id,
            user_id: UserId(m.user_id),
            secret_hash: m.secret_hash,
            created_at: m.created_at,
            expires_at: m.expires_at,
            used_at: m.used_at,
            revoked_at: m.revoked_at,
        }
    }
}

pub async fn insert(tx: &TenantTx<'_>, t: &RefreshToken) -> AppResult<()> {
    let am = refresh_tokens::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(t.id.0),
        family_id: Set(t.family_id),
        user_id: Set(t.user_id.0),
        secret_hash: Set(t.secret_hash.clone()),
        created_at: Set(t.created_at),
        expires_at: Set(t.expires_at),
        used_at: Set(t.used_at),
        revoked_at: Set(t.revoked_at),
    };
    refresh_tokens::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn get(tx: &TenantTx<'_>, id: RefreshTokenId) -> AppResult<Option<RefreshToken>> {
    Ok(refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TenantId.eq(tx.tenant().0))
        .filter(refresh_tokens::Column::Id.eq(id.0))
        .one(tx.conn())
        .await?
        .map(RefreshToken::from))
}

/// Marks the token used if nobody has used or revoked it yet; false means it was replayed.
pub async fn mark_used(tx: &TenantTx<'_>, id: RefreshTokenId, now: DateTime<Utc>) -> AppResult<bool> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::TenantId.eq(tx.tenant().0))
        .filter(refresh_tokens::Column::Id.eq(id.0))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every token of a family; returns how many were still live.
pub async fn revoke_family(tx: &TenantTx<'_>, family: uuid::Uuid, now: DateTime<Utc>) -> AppResult<u64> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::TenantId.eq(tx.tenant().0))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected)
}

/// Revokes every live token of a user (on deactivation or password change).
pub async fn revoke_user(tx: &TenantTx<'_>, user: UserId, now: DateTime<Utc>) -> AppResult<u64> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::TenantId.eq(tx.tenant().0))
        .filter(refresh_tokens::Column::UserId.eq(user.0))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected)
}
