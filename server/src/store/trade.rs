//! Sales and purchasing rows: trade settings, price lists with their breaks, orders (sales and
//! purchase, quotations too) with their lines and the quantities moved against them, shipments
//! (deliveries, goods receipts and their returns) with their lines, and purchase requests.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::entities::{
    invoices, payments, price_list_items, price_lists, purchase_requests, shipment_lines, shipments, trade_order_lines,
    trade_orders, trade_settings,
};
use super::scaled::{money_from_db, money_to_db, rate_from_db, rate_to_db};
use super::stock::{qty_from_db, qty_to_db};
use super::{Page, TenantTx, date_str, is_unique_violation, parse_date};
use crate::domain::trade::{PriceBreak, PriceListTerms, TradeSide};
use crate::error::{AppError, AppResult};

fn opt_date(s: Option<String>) -> AppResult<Option<NaiveDate>> {
    s.as_deref().map(parse_date).transpose()
}

fn side_of(s: &str) -> AppResult<TradeSide> {
    TradeSide::parse(s).ok_or_else(|| AppError::internal(format!("bad trade side {s}")))
}

// ---------------------------------------------------------------- settings

#[derive(Clone, Debug, PartialEq)]
pub struct TradeSettings {
    /// Orders of a customer with an invoice overdue by more than this many days are refused;
    /// `None`: overdue invoices do not block.
    pub overdue_block_days: Option<i32>,
    /// 0.05: up to 5 % more than ordered may be received.
    pub over_receipt_tolerance: Decimal,
    /// Three-way match: how far an invoice price may differ from the order price...
    pub price_tolerance: Decimal,
    /// ...and an invoiced quantity exceed what was received and not yet invoiced.
    pub quantity_tolerance: Decimal,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn settings(tx: &TenantTx<'_>) -> AppResult<TradeSettings> {
    let row = trade_settings::Entity::find()
        .filter(trade_settings::Column::TenantId.eq(tx.tenant().0))
        .one(tx.conn())
        .await?;
    Ok(match row {
        Some(m) => TradeSettings {
            overdue_block_days: m.overdue_block_days,
            over_receipt_tolerance: rate_from_db(m.over_receipt_tolerance),
            price_tolerance: rate_from_db(m.price_tolerance),
            quantity_tolerance: rate_from_db(m.quantity_tolerance),
            updated_at: m.updated_at,
            version: m.version,
        },
        None => TradeSettings {
            overdue_block_days: None,
            over_receipt_tolerance: Decimal::ZERO,
            price_tolerance: Decimal::ZERO,
            quantity_tolerance: Decimal::ZERO,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            version: 0,
        },
    })
}

/// Saves the settings if they are still at `s.version - 1` (0: never saved).
pub async fn save_settings(tx: &TenantTx<'_>, s: &TradeSettings) -> AppResult<bool> {
    use trade_settings::Column as C;
    if s.version == 1 {
        let am = trade_settings::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            overdue_block_days: Set(s.overdue_block_days),
            over_receipt_tolerance: Set(rate_to_db(s.over_receipt_tolerance)?),
            price_tolerance: Set(rate_to_db(s.price_tolerance)?),
            quantity_tolerance: Set(rate_to_db(s.quantity_tolerance)?),
            updated_at: Set(s.updated_at),
            version: Set(1),
        };
        let n = trade_settings::Entity::insert(am)
            .on_conflict(OnConflict::column(C::TenantId).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
        return Ok(n == 1);
    }
    let r = trade_settings::Entity::update_many()
        .col_expr(C::OverdueBlockDays, Expr::value(s.overdue_block_days))
        .col_expr(C::OverReceiptTolerance, Expr::value(rate_to_db(s.over_receipt_tolerance)?))
        .col_expr(C::PriceTolerance, Expr::value(rate_to_db(s.price_tolerance)?))
        .col_expr(C::QuantityTolerance, Expr::value(rate_to_db(s.quantity_tolerance)?))
        .col_expr(C::UpdatedAt, Expr::value(s.updated_at))
        .col_expr(C::Version, Expr::value(s.version))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Version.eq(s.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

// ---------------------------------------------------------------- price lists

#[derive(Clone, Debug, PartialEq)]
pub struct PriceList {
    pub id: Uuid,
    pub side: TradeSide,
    pub code: String,
    pub name: String,
    pub currency: String,
    pub tax_inclusive: bool,
    pub party_group: Option<String>,
    pub party_id: Option<Uuid>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub items: Vec<PriceBreak>,
}

impl PriceList {
    pub fn terms(&self) -> PriceListTerms {
        PriceListTerms {
            id: self.id,
            code: self.code.clone(),
            currency: self.currency.clone(),
            tax_inclusive: self.tax_inclusive,
            party_group: self.party_group.clone(),
            party_id: self.party_id,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            is_active: self.is_active,
            breaks: self.items.clone(),
        }
    }
}

fn list_from(m: price_lists::Model) -> AppResult<PriceList> {
    Ok(PriceList {
        id: m.id,
        side: side_of(&m.side)?,
        code: m.code,
        name: m.name,
        currency: m.currency,
        tax_inclusive: m.tax_inclusive,
        party_group: m.party_group,
        party_id: m.party_id,
        valid_from: opt_date(m.valid_from)?,
        valid_to: opt_date(m.valid_to)?,
        is_active: m.is_active,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
        items: Vec::new(),
    })
}

fn list_am(tx: &TenantTx<'_>, l: &PriceList) -> price_lists::ActiveModel {
    price_lists::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(l.id),
        side: Set(l.side.as_str().to_owned()),
        code: Set(l.code.clone()),
        name: Set(l.name.clone()),
        currency: Set(l.currency.clone()),
        tax_inclusive: Set(l.tax_inclusive),
        party_group: Set(l.party_group.clone()),
        party_id: Set(l.party_id),
        valid_from: Set(l.valid_from.map(date_str)),
        valid_to: Set(l.valid_to.map(date_str)),
        is_active: Set(l.is_active),
        created_at: Set(l.created_at),
        updated_at: Set(l.updated_at),
        version: Set(l.version),
    }
}

fn break_from(m: price_list_items::Model) -> PriceBreak {
    PriceBreak {
        item_id: m.item_id,
        min_quantity: qty_from_db(m.min_quantity),
        unit_price: money_from_db(m.unit_price),
        discount_percent: rate_from_db(m.discount_percent),
        lead_time_days: m.lead_time_days,
        min_order_quantity: m.min_order_quantity.map(qty_from_db),
    }
}

async fn insert_breaks(tx: &TenantTx<'_>, list: Uuid, items: &[PriceBreak]) -> AppResult<()> {
    let mut rows = Vec::with_capacity(items.len());
    for (n, b) in items.iter().enumerate() {
        rows.push(price_list_items::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            price_list_id: Set(list),
            line_no: Set(i32::try_from(n + 1).map_err(AppError::internal)?),
            item_id: Set(b.item_id),
            min_quantity: Set(qty_to_db(b.min_quantity)?),
            unit_price: Set(money_to_db(b.unit_price)?),
            discount_percent: Set(rate_to_db(b.discount_percent)?),
            lead_time_days: Set(b.lead_time_days),
            min_order_quantity: Set(b.min_order_quantity.map(qty_to_db).transpose()?),
        });
    }
    for chunk in rows.chunks(100) {
        price_list_items::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert_price_list(tx: &TenantTx<'_>, l: &PriceList) -> AppResult<()> {
    match price_lists::Entity::insert(list_am(tx, l)).exec_without_returning(tx.conn()).await {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!("a price list with code {} already exists", l.code)));
        }
        Err(e) => return Err(e.into()),
    }
    insert_breaks(tx, l.id, &l.items).await
}

/// Saves the list and replaces its breaks if it is still at `l.version - 1`.
pub async fn save_price_list(tx: &TenantTx<'_>, l: &PriceList) -> AppResult<bool> {
    let mut am = list_am(tx, l);
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = match price_lists::Entity::update_many()
        .set(am)
        .filter(price_lists::Column::TenantId.eq(tx.tenant().0))
        .filter(price_lists::Column::Id.eq(l.id))
        .filter(price_lists::Column::Version.eq(l.version - 1))
        .exec(tx.conn())
        .await
    {
        Ok(r) => r,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!("a price list with code {} already exists", l.code)));
        }
        Err(e) => return Err(e.into()),
    };
    if r.rows_affected != 1 {
        return Ok(false);
    }
    price_list_items::Entity::delete_many()
        .filter(price_list_items::Column::TenantId.eq(tx.tenant().0))
        .filter(price_list_items::Column::PriceListId.eq(l.id))
        .exec(tx.conn())
        .await?;
    insert_breaks(tx, l.id, &l.items).await?;
    Ok(true)
}

async fn breaks_of(tx: &TenantTx<'_>, lists: &[Uuid], items: Option<&[Uuid]>) -> AppResult<Vec<(Uuid, PriceBreak)>> {
    use price_list_items::Column as C;
    let mut q = price_list_items::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::PriceListId.is_in(lists.iter().copied()));
    if let Some(items) = items {
        q = q.filter(C::ItemId.is_in(items.iter().copied()));
    }
    Ok(q.order_by_asc(C::PriceListId)
        .order_by_asc(C::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.price_list_id, break_from(m)))
        .collect())
}

pub async fn get_price_list(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<PriceList>> {
    let Some(m) = price_lists::Entity::find()
        .filter(price_lists::Column::TenantId.eq(tx.tenant().0))
        .filter(price_lists::Column::Id.eq(id))
        .one(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let mut l = list_from(m)?;
    l.items = breaks_of(tx, &[id], None).await?.into_iter().map(|(_, b)| b).collect();
    Ok(Some(l))
}

/// A page of price lists (without their breaks), newest first.
pub async fn list_price_lists(tx: &TenantTx<'_>, side: Option<TradeSide>, page: &Page) -> AppResult<Vec<PriceList>> {
    use price_lists::Column as C;
    let mut q = price_lists::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = side {
        q = q.filter(C::Side.eq(s.as_str()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(list_from).collect()
}

/// The active lists of a side that have breaks for any of these items, with only those breaks.
pub async fn price_lists_for(tx: &TenantTx<'_>, side: TradeSide, items: &[Uuid]) -> AppResult<Vec<PriceList>> {
    use price_list_items::Column as C;
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Uuid> = price_list_items::Entity::find()
        .select_only()
        .column(C::PriceListId)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.is_in(items.iter().copied()))
        .into_tuple::<Uuid>()
        .all(tx.conn())
        .await?;
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lists: Vec<PriceList> = price_lists::Entity::find()
        .filter(price_lists::Column::TenantId.eq(tx.tenant().0))
        .filter(price_lists::Column::Id.is_in(ids.iter().copied()))
        .filter(price_lists::Column::Side.eq(side.as_str()))
        .filter(price_lists::Column::IsActive.eq(true))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(list_from)
        .collect::<AppResult<_>>()?;
    let ids: Vec<Uuid> = lists.iter().map(|l| l.id).collect();
    for (list, b) in breaks_of(tx, &ids, Some(items)).await? {
        if let Some(l) = lists.iter_mut().find(|l| l.id == list) {
            l.items.push(b);
        }
    }
    Ok(lists)
}

// ---------------------------------------------------------------- orders

#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub id: Uuid,
    pub side: TradeSide,
    /// quotation | order
    pub kind: String,
    pub number: String,
    pub party_id: Uuid,
    /// Quotation: draft | sent | accepted | lost | cancelled.
    /// Order: draft | confirmed | closed | cancelled (purchase orders confirm on approval).
    pub status: String,
    pub order_date: NaiveDate,
    /// Sales: the promised delivery date; purchase: the date the supplier promised.
    pub expected_date: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub currency: String,
    /// At the order date (or given); the credit check values the order in base with it.
    pub exchange_rate: Decimal,
    pub tax_inclusive: bool,
    /// A discount on the whole document, shared into each line's discount.
    pub discount_percent: Decimal,
    pub warehouse_id: Option<Uuid>,
    pub net_total: Decimal,
    pub tax_total: Decimal,
    pub gross_total: Decimal,
    pub gross_base: Decimal,
    /// Gross of the invoice lines billed against it, net of credit notes.
    pub invoiced_gross: Decimal,
    /// Confirmed sales orders: the base value not yet invoiced (credit exposure).
    pub open_base: Decimal,
    /// An order made from a quotation names it; a quotation names the order it became.
    pub source_id: Option<Uuid>,
    pub converted_to: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: String,
    /// Why a quotation was lost or an order closed short or cancelled.
    pub reason: Option<String>,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderLine {
    pub line_no: i32,
    pub item_id: Uuid,
    pub description: String,
    pub warehouse_id: Option<Uuid>,
    /// In the item's base unit.
    pub quantity: Decimal,
    pub unit_price: Decimal,
    /// The price the list gave, when the line's price was keyed over it.
    pub list_price: Option<Decimal>,
    pub discount_percent: Decimal,
    pub discount_amount: Decimal,
    /// Everything off `quantity × unit_price`: amount, percent and the document's share.
    pub discount: Decimal,
    pub tax_code_id: Option<Uuid>,
    pub net: Decimal,
    pub tax: Decimal,
    pub gross: Decimal,
    /// Which rule gave the price, in words.
    pub price_rule: String,
    pub expected_date: Option<NaiveDate>,
    /// Delivered (sales) or received (purchase), before returns.
    pub shipped: Decimal,
    pub returned: Decimal,
    /// Invoiced less credited.
    pub invoiced: Decimal,
    /// Sales: cost of goods issued less returned; purchase: value received less returned.
    pub cost: Decimal,
    pub reservation_id: Option<Uuid>,
    pub request_id: Option<Uuid>,
}

fn order_from(m: trade_orders::Model) -> AppResult<Order> {
    Ok(Order {
        id: m.id,
        side: side_of(&m.side)?,
        kind: m.kind,
        number: m.number,
        party_id: m.party_id,
        status: m.status,
        order_date: parse_date(&m.order_date)?,
        expected_date: opt_date(m.expected_date)?,
        valid_until: opt_date(m.valid_until)?,
        currency: m.currency,
        exchange_rate: rate_from_db(m.exchange_rate),
        tax_inclusive: m.tax_inclusive,
        discount_percent: rate_from_db(m.discount_percent),
        warehouse_id: m.warehouse_id,
        net_total: money_from_db(m.net_total),
        tax_total: money_from_db(m.tax_total),
        gross_total: money_from_db(m.gross_total),
        gross_base: money_from_db(m.gross_base),
        invoiced_gross: money_from_db(m.invoiced_gross),
        open_base: money_from_db(m.open_base),
        source_id: m.source_id,
        converted_to: m.converted_to,
        reference: m.reference,
        memo: m.memo,
        reason: m.reason,
        confirmed_by: m.confirmed_by,
        confirmed_at: m.confirmed_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn order_am(tx: &TenantTx<'_>, o: &Order) -> AppResult<trade_orders::ActiveModel> {
    Ok(trade_orders::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(o.id),
        side: Set(o.side.as_str().to_owned()),
        kind: Set(o.kind.clone()),
        number: Set(o.number.clone()),
        party_id: Set(o.party_id),
        status: Set(o.status.clone()),
        order_date: Set(date_str(o.order_date)),
        expected_date: Set(o.expected_date.map(date_str)),
        valid_until: Set(o.valid_until.map(date_str)),
        currency: Set(o.currency.clone()),
        exchange_rate: Set(rate_to_db(o.exchange_rate)?),
        tax_inclusive: Set(o.tax_inclusive),
        discount_percent: Set(rate_to_db(o.discount_percent)?),
        warehouse_id: Set(o.warehouse_id),
        net_total: Set(money_to_db(o.net_total)?),
        tax_total: Set(money_to_db(o.tax_total)?),
        gross_total: Set(money_to_db(o.gross_total)?),
        gross_base: Set(money_to_db(o.gross_base)?),
        invoiced_gross: Set(money_to_db(o.invoiced_gross)?),
        open_base: Set(money_to_db(o.open_base)?),
        source_id: Set(o.source_id),
        converted_to: Set(o.converted_to),
        reference: Set(o.reference.clone()),
        memo: Set(o.memo.clone()),
        reason: Set(o.reason.clone()),
        confirmed_by: Set(o.confirmed_by),
        confirmed_at: Set(o.confirmed_at),
        created_by: Set(o.created_by),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
        version: Set(o.version),
    })
}

fn order_line_from(m: trade_order_lines::Model) -> AppResult<OrderLine> {
    Ok(OrderLine {
        line_no: m.line_no,
        item_id: m.item_id,
        description: m.description,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        unit_price: money_from_db(m.unit_price),
        list_price: m.list_price.map(money_from_db),
        discount_percent: rate_from_db(m.discount_percent),
        discount_amount: money_from_db(m.discount_amount),
        discount: money_from_db(m.discount),
        tax_code_id: m.tax_code_id,
        net: money_from_db(m.net),
        tax: money_from_db(m.tax),
        gross: money_from_db(m.gross),
        price_rule: m.price_rule,
        expected_date: opt_date(m.expected_date)?,
        shipped: qty_from_db(m.shipped),
        returned: qty_from_db(m.returned),
        invoiced: qty_from_db(m.invoiced),
        cost: money_from_db(m.cost),
        reservation_id: m.reservation_id,
        request_id: m.request_id,
    })
}

async fn insert_order_lines(tx: &TenantTx<'_>, order: Uuid, lines: &[OrderLine]) -> AppResult<()> {
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        rows.push(trade_order_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            order_id: Set(order),
            line_no: Set(l.line_no),
            item_id: Set(l.item_id),
            description: Set(l.description.clone()),
            warehouse_id: Set(l.warehouse_id),
            quantity: Set(qty_to_db(l.quantity)?),
            unit_price: Set(money_to_db(l.unit_price)?),
            list_price: Set(l.list_price.map(money_to_db).transpose()?),
            discount_percent: Set(rate_to_db(l.discount_percent)?),
            discount_amount: Set(money_to_db(l.discount_amount)?),
            discount: Set(money_to_db(l.discount)?),
            tax_code_id: Set(l.tax_code_id),
            net: Set(money_to_db(l.net)?),
            tax: Set(money_to_db(l.tax)?),
            gross: Set(money_to_db(l.gross)?),
            price_rule: Set(l.price_rule.clone()),
            expected_date: Set(l.expected_date.map(date_str)),
            shipped: Set(qty_to_db(l.shipped)?),
            returned: Set(qty_to_db(l.returned)?),
            invoiced: Set(qty_to_db(l.invoiced)?),
            cost: Set(money_to_db(l.cost)?),
            reservation_id: Set(l.reservation_id),
            request_id: Set(l.request_id),
        });
    }
    for chunk in rows.chunks(50) {
        trade_order_lines::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

pub async fn insert_order(tx: &TenantTx<'_>, o: &Order, lines: &[OrderLine]) -> AppResult<()> {
    trade_orders::Entity::insert(order_am(tx, o)?).exec_without_returning(tx.conn()).await?;
    insert_order_lines(tx, o.id, lines).await
}

/// Saves the header if it is still at `o.version - 1`.
pub async fn save_order(tx: &TenantTx<'_>, o: &Order) -> AppResult<bool> {
    let mut am = order_am(tx, o)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = trade_orders::Entity::update_many()
        .set(am)
        .filter(trade_orders::Column::TenantId.eq(tx.tenant().0))
        .filter(trade_orders::Column::Id.eq(o.id))
        .filter(trade_orders::Column::Version.eq(o.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

/// Replaces a draft's lines.
pub async fn replace_order_lines(tx: &TenantTx<'_>, order: Uuid, lines: &[OrderLine]) -> AppResult<()> {
    trade_order_lines::Entity::delete_many()
        .filter(trade_order_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(trade_order_lines::Column::OrderId.eq(order))
        .exec(tx.conn())
        .await?;
    insert_order_lines(tx, order, lines).await
}

/// Saves what moved against a line: quantities, cost, reservation, request.
/// Saves the progress of several lines of one order (shipped, returned, invoiced, cost,
/// reservation, request) in one statement per 500 lines.
pub async fn save_order_lines(tx: &TenantTx<'_>, order: Uuid, lines: &[&OrderLine]) -> AppResult<()> {
    for chunk in lines.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), order.into()];
        for l in chunk {
            values.extend([
                l.line_no.into(),
                qty_to_db(l.shipped)?.into(),
                qty_to_db(l.returned)?.into(),
                qty_to_db(l.invoiced)?.into(),
                money_to_db(l.cost)?.into(),
                l.reservation_id.into(),
                l.request_id.into(),
            ]);
        }
        super::update_from_values(
            tx,
            "trade_order_lines",
            "shipped = v.column2, returned = v.column3, invoiced = v.column4, cost = v.column5, \
             reservation_id = v.column6, request_id = v.column7",
            "trade_order_lines.order_id = {2} AND trade_order_lines.line_no = v.column1",
            7,
            values,
        )
        .await?;
    }
    Ok(())
}

pub async fn save_order_line(tx: &TenantTx<'_>, order: Uuid, l: &OrderLine) -> AppResult<()> {
    save_order_lines(tx, order, &[l]).await
}

pub async fn delete_order(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    trade_order_lines::Entity::delete_many()
        .filter(trade_order_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(trade_order_lines::Column::OrderId.eq(id))
        .exec(tx.conn())
        .await?;
    trade_orders::Entity::delete_many()
        .filter(trade_orders::Column::TenantId.eq(tx.tenant().0))
        .filter(trade_orders::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

async fn lines_of(tx: &TenantTx<'_>, orders: &[Uuid]) -> AppResult<Vec<(Uuid, OrderLine)>> {
    use trade_order_lines::Column as C;
    trade_order_lines::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OrderId.is_in(orders.iter().copied()))
        .order_by_asc(C::OrderId)
        .order_by_asc(C::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| Ok((m.order_id, order_line_from(m)?)))
        .collect()
}

pub async fn get_order(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<(Order, Vec<OrderLine>)>> {
    Ok(orders_with_lines(tx, &[id], false).await?.into_iter().next())
}

/// Orders with their lines, in id order; `lock` takes their rows `FOR UPDATE` (PostgreSQL) in
/// that order, so two documents touching the same orders queue instead of deadlocking.
pub async fn orders_with_lines(tx: &TenantTx<'_>, ids: &[Uuid], lock: bool) -> AppResult<Vec<(Order, Vec<OrderLine>)>> {
    use trade_orders::Column as C;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = trade_orders::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.is_in(ids.iter().copied()))
        .order_by_asc(C::Id);
    if lock {
        q = q.lock_exclusive();
    }
    let orders: Vec<Order> = q.all(tx.conn()).await?.into_iter().map(order_from).collect::<AppResult<_>>()?;
    let mut lines = lines_of(tx, &ids).await?;
    Ok(orders
        .into_iter()
        .map(|o| {
            let mine: Vec<OrderLine> = lines.iter().filter(|(id, _)| *id == o.id).map(|(_, l)| l.clone()).collect();
            lines.retain(|(id, _)| *id != o.id);
            (o, mine)
        })
        .collect())
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub party_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A page of orders of a side, newest first.
pub async fn list_orders(tx: &TenantTx<'_>, side: TradeSide, f: &OrderFilter, page: &Page) -> AppResult<Vec<Order>> {
    use trade_orders::Column as C;
    let mut q = trade_orders::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Side.eq(side.as_str()));
    if let Some(k) = &f.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(p) = f.party_id {
        q = q.filter(C::PartyId.eq(p));
    }
    if let Some(d) = f.from {
        q = q.filter(C::OrderDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(C::OrderDate.lte(date_str(d)));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(order_from).collect()
}

/// Purchase orders of a supplier (or all) confirmed or closed whose order date is in a range,
/// with their lines: the supplier performance report's input.
pub async fn purchase_orders_between(
    tx: &TenantTx<'_>,
    supplier: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(Order, Vec<OrderLine>)>> {
    use trade_orders::Column as C;
    let mut q = trade_orders::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Side.eq(TradeSide::Purchase.as_str()))
        .filter(C::Kind.eq("order"))
        .filter(C::Status.is_in(["confirmed", "closed"]))
        .filter(C::OrderDate.gte(date_str(from)))
        .filter(C::OrderDate.lte(date_str(to)));
    if let Some(s) = supplier {
        q = q.filter(C::PartyId.eq(s));
    }
    let ids: Vec<Uuid> = q.into_tuple::<Uuid>().all(tx.conn()).await?;
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(orders_with_lines(tx, chunk, false).await?);
    }
    Ok(out)
}

async fn sum_i64(tx: &TenantTx<'_>, stmt: &sea_orm::sea_query::SelectStatement) -> AppResult<i64> {
    let row = tx.conn().query_one(stmt).await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<i64>>("", "s")?.unwrap_or(0),
        None => 0,
    })
}

/// The credit exposure of a customer in base currency: open invoices less open credit notes
/// and unapplied receipts, and confirmed sales orders not yet invoiced.
pub async fn customer_exposure(tx: &TenantTx<'_>, party: Uuid) -> AppResult<(Decimal, Decimal)> {
    let t = tx.tenant().0;
    let open = |credit: bool| {
        let mut s = Query::select();
        s.expr_as(Expr::col(invoices::Column::OpenBase).sum().cast_as("BIGINT"), "s")
            .from(invoices::Entity)
            .and_where(Expr::col(invoices::Column::TenantId).eq(t))
            .and_where(Expr::col(invoices::Column::PartyId).eq(party))
            .and_where(Expr::col(invoices::Column::Status).eq("posted"))
            .and_where(Expr::col(invoices::Column::Side).eq("receivable"))
            .and_where(Expr::col(invoices::Column::IsCreditNote).eq(credit));
        s
    };
    let invoiced = sum_i64(tx, &open(false)).await?;
    let credited = sum_i64(tx, &open(true)).await?;
    let mut unapplied = Query::select();
    unapplied
        .expr_as(Expr::col(payments::Column::UnallocatedBase).sum().cast_as("BIGINT"), "s")
        .from(payments::Entity)
        .and_where(Expr::col(payments::Column::TenantId).eq(t))
        .and_where(Expr::col(payments::Column::PartyId).eq(party))
        .and_where(Expr::col(payments::Column::Status).eq("posted"))
        .and_where(Expr::col(payments::Column::Side).eq("receivable"));
    let unapplied = sum_i64(tx, &unapplied).await?;
    let mut orders = Query::select();
    orders
        .expr_as(Expr::col(trade_orders::Column::OpenBase).sum().cast_as("BIGINT"), "s")
        .from(trade_orders::Entity)
        .and_where(Expr::col(trade_orders::Column::TenantId).eq(t))
        .and_where(Expr::col(trade_orders::Column::PartyId).eq(party))
        .and_where(Expr::col(trade_orders::Column::Status).eq("confirmed"))
        .and_where(Expr::col(trade_orders::Column::Side).eq("sales"))
        .and_where(Expr::col(trade_orders::Column::Kind).eq("order"));
    let orders = sum_i64(tx, &orders).await?;
    Ok((money_from_db(invoiced - credited - unapplied), money_from_db(orders)))
}

/// The customer's posted invoice with open amount and the earliest due date.
pub async fn oldest_open_invoice(tx: &TenantTx<'_>, party: Uuid) -> AppResult<Option<(String, NaiveDate, Decimal)>> {
    use invoices::Column as C;
    let m = invoices::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::PartyId.eq(party))
        .filter(C::Status.eq("posted"))
        .filter(C::Side.eq("receivable"))
        .filter(C::IsCreditNote.eq(false))
        .filter(C::OpenAmount.gt(0))
        .order_by_asc(C::DueDate)
        .one(tx.conn())
        .await?;
    m.map(|m| Ok((m.number.unwrap_or_default(), parse_date(&m.due_date)?, money_from_db(m.open_amount)))).transpose()
}

/// Locks a party's row (`FOR UPDATE`) for the rest of the transaction.
pub async fn lock_party(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    use super::entities::parties;
    parties::Entity::find()
        .filter(parties::Column::TenantId.eq(tx.tenant().0))
        .filter(parties::Column::Id.eq(id))
        .lock_exclusive()
        .one(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- shipments

#[derive(Clone, Debug, PartialEq)]
pub struct Shipment {
    pub id: Uuid,
    pub side: TradeSide,
    /// delivery (a delivery note or a goods receipt) | return
    pub kind: String,
    pub number: String,
    pub party_id: Uuid,
    pub ship_date: NaiveDate,
    /// A return names the shipment it returns.
    pub return_of: Option<Uuid>,
    pub reference: Option<String>,
    pub memo: String,
    /// Stock value moved, in base currency.
    pub value: Decimal,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ShipmentLine {
    pub line_no: i32,
    pub order_id: Uuid,
    pub order_line_no: i32,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub batch_id: Option<Uuid>,
    pub quantity: Decimal,
    /// Cost of goods issued (sales) or value received (purchase), in base currency.
    pub value: Decimal,
    /// How much of this line came back in returns.
    pub returned: Decimal,
    /// Invoiced less credited, against this line.
    pub invoiced: Decimal,
    pub return_of_line: Option<i32>,
    pub stock_entry_id: Option<Uuid>,
}

fn shipment_from(m: shipments::Model) -> AppResult<Shipment> {
    Ok(Shipment {
        id: m.id,
        side: side_of(&m.side)?,
        kind: m.kind,
        number: m.number,
        party_id: m.party_id,
        ship_date: parse_date(&m.ship_date)?,
        return_of: m.return_of,
        reference: m.reference,
        memo: m.memo,
        value: money_from_db(m.value),
        created_by: m.created_by,
        created_at: m.created_at,
    })
}

fn shipment_line_from(m: shipment_lines::Model) -> ShipmentLine {
    ShipmentLine {
        line_no: m.line_no,
        order_id: m.order_id,
        order_line_no: m.order_line_no,
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        batch_id: m.batch_id,
        quantity: qty_from_db(m.quantity),
        value: money_from_db(m.value),
        returned: qty_from_db(m.returned),
        invoiced: qty_from_db(m.invoiced),
        return_of_line: m.return_of_line,
        stock_entry_id: m.stock_entry_id,
    }
}

pub async fn insert_shipment(tx: &TenantTx<'_>, s: &Shipment, lines: &[ShipmentLine]) -> AppResult<()> {
    shipments::Entity::insert(shipments::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(s.id),
        side: Set(s.side.as_str().to_owned()),
        kind: Set(s.kind.clone()),
        number: Set(s.number.clone()),
        party_id: Set(s.party_id),
        ship_date: Set(date_str(s.ship_date)),
        return_of: Set(s.return_of),
        reference: Set(s.reference.clone()),
        memo: Set(s.memo.clone()),
        value: Set(money_to_db(s.value)?),
        created_by: Set(s.created_by),
        created_at: Set(s.created_at),
    })
    .exec_without_returning(tx.conn())
    .await?;
    let mut rows = Vec::with_capacity(lines.len());
    for l in lines {
        rows.push(shipment_lines::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            shipment_id: Set(s.id),
            line_no: Set(l.line_no),
            order_id: Set(l.order_id),
            order_line_no: Set(l.order_line_no),
            item_id: Set(l.item_id),
            warehouse_id: Set(l.warehouse_id),
            batch_id: Set(l.batch_id),
            quantity: Set(qty_to_db(l.quantity)?),
            value: Set(money_to_db(l.value)?),
            returned: Set(qty_to_db(l.returned)?),
            invoiced: Set(qty_to_db(l.invoiced)?),
            return_of_line: Set(l.return_of_line),
            stock_entry_id: Set(l.stock_entry_id),
        });
    }
    for chunk in rows.chunks(50) {
        shipment_lines::Entity::insert_many(chunk.to_vec()).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

/// Saves the returned and invoiced quantities of several lines of one shipment.
pub async fn save_shipment_lines(tx: &TenantTx<'_>, shipment: Uuid, lines: &[ShipmentLine]) -> AppResult<()> {
    for chunk in lines.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tx.tenant().0.into(), shipment.into()];
        for l in chunk {
            values.extend([l.line_no.into(), qty_to_db(l.returned)?.into(), qty_to_db(l.invoiced)?.into()]);
        }
        super::update_from_values(
            tx,
            "shipment_lines",
            "returned = v.column2, invoiced = v.column3",
            "shipment_lines.shipment_id = {2} AND shipment_lines.line_no = v.column1",
            3,
            values,
        )
        .await?;
    }
    Ok(())
}

/// Saves a line's returned and invoiced quantities.
pub async fn save_shipment_line(tx: &TenantTx<'_>, shipment: Uuid, l: &ShipmentLine) -> AppResult<()> {
    save_shipment_lines(tx, shipment, std::slice::from_ref(l)).await
}

pub async fn get_shipments(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<(Shipment, Vec<ShipmentLine>)>> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let heads: Vec<Shipment> = shipments::Entity::find()
        .filter(shipments::Column::TenantId.eq(tx.tenant().0))
        .filter(shipments::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(shipments::Column::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(shipment_from)
        .collect::<AppResult<_>>()?;
    let lines: Vec<(Uuid, ShipmentLine)> = shipment_lines::Entity::find()
        .filter(shipment_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(shipment_lines::Column::ShipmentId.is_in(ids.iter().copied()))
        .order_by_asc(shipment_lines::Column::ShipmentId)
        .order_by_asc(shipment_lines::Column::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.shipment_id, shipment_line_from(m)))
        .collect();
    Ok(heads
        .into_iter()
        .map(|h| {
            let mine = lines.iter().filter(|(s, _)| *s == h.id).map(|(_, l)| l.clone()).collect();
            (h, mine)
        })
        .collect())
}

/// The shipments that moved goods of an order, oldest first.
pub async fn shipments_of_order(tx: &TenantTx<'_>, order: Uuid) -> AppResult<Vec<(Shipment, Vec<ShipmentLine>)>> {
    let ids: Vec<Uuid> = shipment_lines::Entity::find()
        .select_only()
        .column(shipment_lines::Column::ShipmentId)
        .filter(shipment_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(shipment_lines::Column::OrderId.eq(order))
        .into_tuple::<Uuid>()
        .all(tx.conn())
        .await?;
    get_shipments(tx, &ids).await
}

#[derive(Clone, Debug, Default)]
pub struct ShipmentFilter {
    pub kind: Option<String>,
    pub party_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

pub async fn list_shipments(
    tx: &TenantTx<'_>,
    side: TradeSide,
    f: &ShipmentFilter,
    page: &Page,
) -> AppResult<Vec<Shipment>> {
    use shipments::Column as C;
    let mut q = shipments::Entity::find().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Side.eq(side.as_str()));
    if let Some(k) = &f.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    if let Some(p) = f.party_id {
        q = q.filter(C::PartyId.eq(p));
    }
    if let Some(d) = f.from {
        q = q.filter(C::ShipDate.gte(date_str(d)));
    }
    if let Some(d) = f.to {
        q = q.filter(C::ShipDate.lte(date_str(d)));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(shipment_from).collect()
}

/// Invoices (and credit notes) with lines billing an order, ids only.
pub async fn invoices_of_order(tx: &TenantTx<'_>, order: Uuid) -> AppResult<Vec<Uuid>> {
    use super::entities::invoice_lines::{Column as C, Entity};
    let mut ids: Vec<Uuid> = Entity::find()
        .select_only()
        .column(C::InvoiceId)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OrderId.eq(order))
        .into_tuple::<Uuid>()
        .all(tx.conn())
        .await?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

// ---------------------------------------------------------------- purchase requests

#[derive(Clone, Debug, PartialEq)]
pub struct PurchaseRequest {
    pub id: Uuid,
    pub number: String,
    /// draft | submitted | approved | rejected | ordered | cancelled
    pub status: String,
    /// manual | low_stock | mrp | plugin
    pub source: String,
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub needed_by: NaiveDate,
    /// Chosen by hand, or proposed when the order is made.
    pub supplier_id: Option<Uuid>,
    pub memo: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub order_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn request_from(m: purchase_requests::Model) -> AppResult<PurchaseRequest> {
    Ok(PurchaseRequest {
        id: m.id,
        number: m.number,
        status: m.status,
        source: m.source,
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        needed_by: parse_date(&m.needed_by)?,
        supplier_id: m.supplier_id,
        memo: m.memo,
        decided_by: m.decided_by,
        decided_at: m.decided_at,
        decision_note: m.decision_note,
        order_id: m.order_id,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn request_am(tx: &TenantTx<'_>, r: &PurchaseRequest) -> AppResult<purchase_requests::ActiveModel> {
    Ok(purchase_requests::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(r.id),
        number: Set(r.number.clone()),
        status: Set(r.status.clone()),
        source: Set(r.source.clone()),
        item_id: Set(r.item_id),
        warehouse_id: Set(r.warehouse_id),
        quantity: Set(qty_to_db(r.quantity)?),
        needed_by: Set(date_str(r.needed_by)),
        supplier_id: Set(r.supplier_id),
        memo: Set(r.memo.clone()),
        decided_by: Set(r.decided_by),
        decided_at: Set(r.decided_at),
        decision_note: Set(r.decision_note.clone()),
        order_id: Set(r.order_id),
        created_by: Set(r.created_by),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        version: Set(r.version),
    })
}

pub async fn insert_request(tx: &TenantTx<'_>, r: &PurchaseRequest) -> AppResult<()> {
    purchase_requests::Entity::insert(request_am(tx, r)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// Saves the request if it is still at `r.version - 1`.
pub async fn save_request(tx: &TenantTx<'_>, r: &PurchaseRequest) -> AppResult<bool> {
    let mut am = request_am(tx, r)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let res = purchase_requests::Entity::update_many()
        .set(am)
        .filter(purchase_requests::Column::TenantId.eq(tx.tenant().0))
        .filter(purchase_requests::Column::Id.eq(r.id))
        .filter(purchase_requests::Column::Version.eq(r.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn get_requests(tx: &TenantTx<'_>, ids: &[Uuid], lock: bool) -> AppResult<Vec<PurchaseRequest>> {
    use purchase_requests::Column as C;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    let mut q = purchase_requests::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.is_in(ids.iter().copied()))
        .order_by_asc(C::Id);
    if lock {
        q = q.lock_exclusive();
    }
    q.all(tx.conn()).await?.into_iter().map(request_from).collect()
}

#[derive(Clone, Debug, Default)]
pub struct RequestFilter {
    pub status: Option<String>,
    pub item_id: Option<Uuid>,
    pub source: Option<String>,
}

pub async fn list_requests(tx: &TenantTx<'_>, f: &RequestFilter, page: &Page) -> AppResult<Vec<PurchaseRequest>> {
    use purchase_requests::Column as C;
    let mut q = purchase_requests::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(s) = &f.source {
        q = q.filter(C::Source.eq(s.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(request_from).collect()
}

/// Items with a request still on its way (draft, submitted or approved), so that a low-stock
/// run does not ask twice.
pub async fn items_with_open_requests(tx: &TenantTx<'_>) -> AppResult<Vec<(Uuid, Uuid)>> {
    use purchase_requests::Column as C;
    Ok(purchase_requests::Entity::find()
        .select_only()
        .column(C::ItemId)
        .column(C::WarehouseId)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Status.is_in(["draft", "submitted", "approved"]))
        .into_tuple::<(Uuid, Uuid)>()
        .all(tx.conn())
        .await?)
}
