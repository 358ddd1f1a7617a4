//! Exchange rates: base units per unit of a foreign currency, by date.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::exchange_rates;
use super::scaled::{rate_from_db, rate_to_db};
use super::{TenantTx, date_str};
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeRate {
    pub currency: String,
    pub rate_date: NaiveDate,
    pub rate: Decimal,
    pub created_at: DateTime<Utc>,
}

fn from_model(m: exchange_rates::Model) -> AppResult<ExchangeRate> {
    Ok(ExchangeRate {
        currency: m.currency,
        rate_date: super::parse_date(&m.rate_date)?,
        rate: rate_from_db(m.rate),
        created_at: m.created_at,
    })
}

/// The latest rate of `currency` on or before `date`.
pub async fn rate_on(tx: &TenantTx<'_>, currency: &str, date: NaiveDate) -> AppResult<Option<Decimal>> {
    Ok(exchange_rates::Entity::find()
        .filter(exchange_rates::Column::TenantId.eq(tx.tenant().0))
        .filter(exchange_rates::Column::Currency.eq(currency))
        .filter(exchange_rates::Column::RateDate.lte(date_str(date)))
        .order_by_desc(exchange_rates::Column::RateDate)
        .limit(1)
        .one(tx.conn())
        .await?
        .map(|m| rate_from_db(m.rate)))
}

/// Sets the rate of a currency on a date (replacing that day's rate).
pub async fn put(tx: &TenantTx<'_>, r: &ExchangeRate) -> AppResult<()> {
    use exchange_rates::Column as C;
    let am = exchange_rates::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        currency: Set(r.currency.clone()),
        rate_date: Set(date_str(r.rate_date)),
        rate: Set(rate_to_db(r.rate)?),
        created_at: Set(r.created_at),
    };
    exchange_rates::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([C::TenantId, C::Currency, C::RateDate])
                .update_columns([C::Rate, C::CreatedAt])
                .to_owned(),
        )
        .exec_without_returning(tx.conn())
        .await?;
    Ok(())
}

/// Rates of one currency (or all), newest first.
pub async fn list(tx: &TenantTx<'_>, currency: Option<&str>, limit: u64) -> AppResult<Vec<ExchangeRate>> {
    let mut q = exchange_rates::Entity::find().filter(exchange_rates::Column::TenantId.eq(tx.tenant().0));
    if let Some(c) = currency {
        q = q.filter(exchange_rates::Column::Currency.eq(c));
    }
    q.order_by_desc(exchange_rates::Column::RateDate)
        .order_by_asc(exchange_rates::Column::Currency)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}
