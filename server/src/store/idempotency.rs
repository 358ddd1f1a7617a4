//! Stored answers to POSTs that carried an `Idempotency-Key`, kept for 24 hours.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use super::TenantTx;
use super::entities::idempotency_keys;
use crate::error::AppResult;
use sea_orm::sea_query::OnConflict;

#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Clone, Debug)]
pub enum Claim {
    /// This request owns the key now; run it and then [`complete`] or [`release`].
    Claimed,
    /// The key was seen before with this request hash (and maybe a finished answer).
    Existing { request_hash: String, response: Option<StoredResponse>, created_at: DateTime<Utc> },
}

fn key_filter(tx: &TenantTx<'_>, principal: &str, key: &str) -> sea_orm::Select<idempotency_keys::Entity> {
    idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(idempotency_keys::Column::Principal.eq(principal))
        .filter(idempotency_keys::Column::IdempotencyKey.eq(key))
}

/// Inserts the key as in-flight, or returns what is stored under it. Entries older than
/// `expired_before` are replaced.
pub async fn claim(
    tx: &TenantTx<'_>,
    principal: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
) -> AppResult<Claim> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(idempotency_keys::Column::Principal.eq(principal))
        .filter(idempotency_keys::Column::IdempotencyKey.eq(key))
        .filter(idempotency_keys::Column::CreatedAt.lt(expired_before))
        .exec(tx.conn())
        .await?;
    let am = idempotency_keys::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        principal: Set(principal.to_owned()),
        idempotency_key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        status_code: Set(None),
        response_headers: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    };
    // ON CONFLICT DO NOTHING rather than catching the violation: on PostgreSQL a failed
    // statement aborts the whole transaction.
    let inserted = idempotency_keys::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([
                idempotency_keys::Column::TenantId,
                idempotency_keys::Column::Principal,
                idempotency_keys::Column::IdempotencyKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    if inserted == 1 {
        return Ok(Claim::Claimed);
    }
    let row = key_filter(tx, principal, key).one(tx.conn()).await?;
    Ok(match row {
        Some(m) => Claim::Existing {
            request_hash: m.request_hash,
            created_at: m.created_at,
            response: match (m.status_code, m.response_body) {
                (Some(status), Some(body)) => Some(StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    headers: m.response_headers.and_then(|h| serde_json::from_value(h).ok()).unwrap_or_default(),
                    body,
                }),
                _ => None,
            },
        },
        None => Claim::Claimed,
    })
}

pub async fn complete(tx: &TenantTx<'_>, principal: &str, key: &str, response: &StoredResponse) -> AppResult<()> {
    idempotency_keys::Entity::update_many()
        .col_expr(idempotency_keys::Column::StatusCode, Expr::value(Some(i32::from(response.status))))
        .col_expr(
            idempotency_keys::Column::ResponseHeaders,
            Expr::value(Some(serde_json::to_value(&response.headers).unwrap_or_default())),
        )
        .col_expr(idempotency_keys::Column::ResponseBody, Expr::value(Some(response.body.clone())))
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(idempotency_keys::Column::Principal.eq(principal))
        .filter(idempotency_keys::Column::IdempotencyKey.eq(key))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Forgets an in-flight key whose request failed on the server's side, so it can be retried.
pub async fn release(tx: &TenantTx<'_>, principal: &str, key: &str) -> AppResult<()> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::TenantId.eq(tx.tenant().0))
        .filter(idempotency_keys::Column::Principal.eq(principal))
        .filter(idempotency_keys::Column::IdempotencyKey.eq(key))
        .filter(idempotency_keys::Column::StatusCode.is_null())
        .exec(tx.conn())
        .await?;
    Ok(())
}
