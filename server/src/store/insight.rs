//! Read-only aggregates for the dashboards: what was billed and what it cost, by day and item.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use super::scaled::{money_from_db, rate_from_db};
use super::{TenantTx, date_str, parse_date, ph};
use crate::error::AppResult;

/// A posted sales invoice or credit note line, in the invoice's currency.
pub struct SalesLine {
    pub invoice_id: Uuid,
    pub date: NaiveDate,
    pub credit_note: bool,
    pub exchange_rate: Decimal,
    pub item_id: Option<Uuid>,
    pub quantity: Decimal,
    pub net: Decimal,
}

/// The lines of the sales invoices and credit notes posted with dates in `from..=to`.
pub async fn sales_lines(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<Vec<SalesLine>> {
    let backend = tx.conn().get_database_backend();
    let sql = format!(
        "SELECT i.id, i.invoice_date, i.is_credit_note, i.exchange_rate, l.item_id, l.quantity, l.net
         FROM invoices i JOIN invoice_lines l ON l.tenant_id = i.tenant_id AND l.invoice_id = i.id
         WHERE i.tenant_id = {} AND i.side = 'receivable' AND i.status = 'posted'
           AND i.invoice_date >= {} AND i.invoice_date <= {}",
        ph(backend, 1),
        ph(backend, 2),
        ph(backend, 3)
    );
    let values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), date_str(from).into(), date_str(to).into()];
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter()
        .map(|r| {
            Ok(SalesLine {
                invoice_id: r.try_get("", "id")?,
                date: parse_date(&r.try_get::<String>("", "invoice_date")?)?,
                credit_note: r.try_get("", "is_credit_note")?,
                exchange_rate: rate_from_db(r.try_get("", "exchange_rate")?),
                item_id: r.try_get("", "item_id")?,
                quantity: money_from_db(r.try_get("", "quantity")?),
                net: money_from_db(r.try_get("", "net")?),
            })
        })
        .collect()
}

/// Cost of goods sold per item with dates in `from..=to`, base currency: the value of
/// deliveries less the value customer returns put back, and the revaluations a back-dated
/// movement made to them (dated when they were booked, like the ledger's).
pub async fn cost_of_sales(tx: &TenantTx<'_>, from: NaiveDate, to: NaiveDate) -> AppResult<HashMap<Uuid, Decimal>> {
    let backend = tx.conn().get_database_backend();
    let sql = format!(
        "SELECT e.item_id, CAST(SUM(e.value) AS bigint) AS value FROM stock_ledger e
         LEFT JOIN stock_ledger a ON a.tenant_id = e.tenant_id AND a.id = e.adjusts_entry_id
         WHERE e.tenant_id = {} AND e.entry_date >= {} AND e.entry_date <= {}
           AND (e.kind IN ('delivery', 'sales_return')
                OR (e.kind = 'revaluation' AND a.kind IN ('delivery', 'sales_return')))
         GROUP BY e.item_id",
        ph(backend, 1),
        ph(backend, 2),
        ph(backend, 3)
    );
    let values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), date_str(from).into(), date_str(to).into()];
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter().map(|r| Ok((r.try_get("", "item_id")?, -money_from_db(r.try_get("", "value")?)))).collect()
}

/// The documents (purchase requests or production orders) made from MRP suggestions that
/// were pegged to `demand_id` (a sales order) and accepted.
pub async fn pegged_documents(tx: &TenantTx<'_>, demand_id: Uuid) -> AppResult<Vec<(String, Uuid)>> {
    let backend = tx.conn().get_database_backend();
    let sql = format!(
        "SELECT kind, document_id FROM mrp_suggestions
         WHERE tenant_id = {} AND status = 'accepted' AND document_id IS NOT NULL AND pegging LIKE {}",
        ph(backend, 1),
        ph(backend, 2)
    );
    let values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), format!("%{demand_id}%").into()];
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    rows.iter().map(|r| Ok((r.try_get("", "kind")?, r.try_get("", "document_id")?))).collect()
}
