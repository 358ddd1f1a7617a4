//! Production rows: settings, item planning data, bills of material with their lines,
//! forecasts, MRP runs and suggestions, production orders with their component lines; and the
//! wide reads MRP needs (every open demand and supply of a tenant in a few queries).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::entities::{
    bom_lines, boms, forecasts, item_planning, mrp_runs, mrp_suggestions, production_changes,
    production_order_components, production_orders, production_settings,
};
use super::scaled::{money_from_db, money_to_db, rate_from_db, rate_to_db};
use super::stock::{qty_from_db, qty_to_db};
use super::{Page, TenantTx, date_str, is_unique_violation, parse_date, ph};
use crate::domain::bom::IssueMethod;
use crate::error::{AppError, AppResult};

fn opt_date(s: Option<String>) -> AppResult<Option<NaiveDate>> {
    s.as_deref().map(parse_date).transpose()
}

// ---------------------------------------------------------------- settings

#[derive(Clone, Debug, PartialEq)]
pub struct ProductionSettings {
    /// Overhead absorbed as a fraction of the material cost issued (0.1 is 10 %)...
    pub overhead_rate: Decimal,
    /// ...plus this much per unit completed.
    pub overhead_per_unit: Decimal,
    /// MRP proposes moving a supply out when it is first needed more than this many days after
    /// it arrives.
    pub move_tolerance_days: i32,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

pub async fn settings(tx: &TenantTx<'_>) -> AppResult<ProductionSettings> {
    let row = production_settings::Entity::find()
        .filter(production_settings::Column::TenantId.eq(tx.tenant().0))
        .one(tx.conn())
        .await?;
    Ok(match row {
        Some(m) => ProductionSettings {
            overhead_rate: rate_from_db(m.overhead_rate),
            overhead_per_unit: money_from_db(m.overhead_per_unit),
            move_tolerance_days: m.move_tolerance_days,
            updated_at: m.updated_at,
            version: m.version,
        },
        None => ProductionSettings {
            overhead_rate: Decimal::ZERO,
            overhead_per_unit: Decimal::ZERO,
            move_tolerance_days: 7,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            version: 0,
        },
    })
}

/// Saves the settings if they are still at `s.version - 1` (0: never saved).
pub async fn save_settings(tx: &TenantTx<'_>, s: &ProductionSettings) -> AppResult<bool> {
    use production_settings::Column as C;
    if s.version == 1 {
        let am = production_settings::ActiveModel {
            tenant_id: Set(tx.tenant().0),
            overhead_rate: Set(rate_to_db(s.overhead_rate)?),
            overhead_per_unit: Set(money_to_db(s.overhead_per_unit)?),
            move_tolerance_days: Set(s.move_tolerance_days),
            updated_at: Set(s.updated_at),
            version: Set(1),
        };
        let n = production_settings::Entity::insert(am)
            .on_conflict(OnConflict::column(C::TenantId).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
        return Ok(n == 1);
    }
    let r = production_settings::Entity::update_many()
        .col_expr(C::OverheadRate, Expr::value(rate_to_db(s.overhead_rate)?))
        .col_expr(C::OverheadPerUnit, Expr::value(money_to_db(s.overhead_per_unit)?))
        .col_expr(C::MoveToleranceDays, Expr::value(s.move_tolerance_days))
        .col_expr(C::UpdatedAt, Expr::value(s.updated_at))
        .col_expr(C::Version, Expr::value(s.version))
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Version.eq(s.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

// ---------------------------------------------------------------- item planning

#[derive(Clone, Debug, PartialEq)]
pub struct Planning {
    pub item_id: Uuid,
    pub lead_time_days: i32,
    /// lot_for_lot | fixed_period
    pub lot_policy: String,
    pub lot_period_days: i32,
    pub lot_minimum: Decimal,
    pub lot_multiple: Decimal,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Planning {
    pub fn default_for(item_id: Uuid) -> Planning {
        Planning {
            item_id,
            lead_time_days: 0,
            lot_policy: "lot_for_lot".into(),
            lot_period_days: 0,
            lot_minimum: Decimal::ZERO,
            lot_multiple: Decimal::ZERO,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            version: 0,
        }
    }
}

fn planning_from(m: item_planning::Model) -> Planning {
    Planning {
        item_id: m.item_id,
        lead_time_days: m.lead_time_days,
        lot_policy: m.lot_policy,
        lot_period_days: m.lot_period_days,
        lot_minimum: qty_from_db(m.lot_minimum),
        lot_multiple: qty_from_db(m.lot_multiple),
        updated_at: m.updated_at,
        version: m.version,
    }
}

pub async fn get_planning(tx: &TenantTx<'_>, item: Uuid) -> AppResult<Planning> {
    use item_planning::Column as C;
    let row = item_planning::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(item))
        .one(tx.conn())
        .await?;
    Ok(row.map(planning_from).unwrap_or_else(|| Planning::default_for(item)))
}

pub async fn all_planning(tx: &TenantTx<'_>) -> AppResult<HashMap<Uuid, Planning>> {
    let rows =
        item_planning::Entity::find().filter(item_planning::Column::TenantId.eq(tx.tenant().0)).all(tx.conn()).await?;
    Ok(rows.into_iter().map(|m| (m.item_id, planning_from(m))).collect())
}

/// Saves the planning data if still at `p.version - 1` (0: never saved).
pub async fn save_planning(tx: &TenantTx<'_>, p: &Planning) -> AppResult<bool> {
    use item_planning::Column as C;
    let am = item_planning::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        item_id: Set(p.item_id),
        lead_time_days: Set(p.lead_time_days),
        lot_policy: Set(p.lot_policy.clone()),
        lot_period_days: Set(p.lot_period_days),
        lot_minimum: Set(qty_to_db(p.lot_minimum)?),
        lot_multiple: Set(qty_to_db(p.lot_multiple)?),
        updated_at: Set(p.updated_at),
        version: Set(p.version),
    };
    if p.version == 1 {
        let n = item_planning::Entity::insert(am)
            .on_conflict(OnConflict::columns([C::TenantId, C::ItemId]).do_nothing().to_owned())
            .exec_without_returning(tx.conn())
            .await?;
        return Ok(n == 1);
    }
    let mut am = am;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.item_id = sea_orm::ActiveValue::NotSet;
    let r = item_planning::Entity::update_many()
        .set(am)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::ItemId.eq(p.item_id))
        .filter(C::Version.eq(p.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

// ---------------------------------------------------------------- bills of material

#[derive(Clone, Debug, PartialEq)]
pub struct Bom {
    pub id: Uuid,
    pub item_id: Uuid,
    pub revision: String,
    /// draft | active | archived
    pub status: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub output_quantity: Decimal,
    pub memo: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl Bom {
    /// Whether the bill may be used on `date`.
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= date) && self.valid_to.is_none_or(|t| date <= t)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BomLine {
    pub line_no: i32,
    pub component_id: Uuid,
    pub quantity: Decimal,
    pub scrap: Decimal,
    pub issue_method: IssueMethod,
    pub phantom: bool,
    pub byproduct: bool,
}

fn bom_from(m: boms::Model) -> AppResult<Bom> {
    Ok(Bom {
        id: m.id,
        item_id: m.item_id,
        revision: m.revision,
        status: m.status,
        valid_from: opt_date(m.valid_from)?,
        valid_to: opt_date(m.valid_to)?,
        output_quantity: qty_from_db(m.output_quantity),
        memo: m.memo,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn bom_am(tx: &TenantTx<'_>, b: &Bom) -> AppResult<boms::ActiveModel> {
    Ok(boms::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(b.id),
        item_id: Set(b.item_id),
        revision: Set(b.revision.clone()),
        status: Set(b.status.clone()),
        valid_from: Set(b.valid_from.map(date_str)),
        valid_to: Set(b.valid_to.map(date_str)),
        output_quantity: Set(qty_to_db(b.output_quantity)?),
        memo: Set(b.memo.clone()),
        created_by: Set(b.created_by),
        created_at: Set(b.created_at),
        updated_at: Set(b.updated_at),
        version: Set(b.version),
    })
}

fn line_from(m: bom_lines::Model) -> AppResult<(Uuid, BomLine)> {
    Ok((
        m.bom_id,
        BomLine {
            line_no: m.line_no,
            component_id: m.component_id,
            quantity: qty_from_db(m.quantity),
            scrap: rate_from_db(m.scrap),
            issue_method: IssueMethod::parse(&m.issue_method)
                .ok_or_else(|| AppError::internal(format!("bad issue method {}", m.issue_method)))?,
            phantom: m.phantom,
            byproduct: m.byproduct,
        },
    ))
}

fn revision_taken(b: &Bom) -> AppError {
    AppError::Conflict(format!("the item already has a bill with revision {}", b.revision))
}

pub async fn insert_bom(tx: &TenantTx<'_>, b: &Bom, lines: &[BomLine]) -> AppResult<()> {
    match boms::Entity::insert(bom_am(tx, b)?).exec_without_returning(tx.conn()).await {
        Err(e) if is_unique_violation(&e) => return Err(revision_taken(b)),
        r => r?,
    };
    insert_bom_lines(tx, b.id, lines).await
}

async fn insert_bom_lines(tx: &TenantTx<'_>, bom: Uuid, lines: &[BomLine]) -> AppResult<()> {
    for chunk in lines.chunks(500) {
        let rows = chunk
            .iter()
            .map(|l| {
                Ok(bom_lines::ActiveModel {
                    tenant_id: Set(tx.tenant().0),
                    bom_id: Set(bom),
                    line_no: Set(l.line_no),
                    component_id: Set(l.component_id),
                    quantity: Set(qty_to_db(l.quantity)?),
                    scrap: Set(rate_to_db(l.scrap)?),
                    issue_method: Set(l.issue_method.as_str().to_owned()),
                    phantom: Set(l.phantom),
                    byproduct: Set(l.byproduct),
                })
            })
            .collect::<AppResult<Vec<_>>>()?;
        if !rows.is_empty() {
            bom_lines::Entity::insert_many(rows).exec_without_returning(tx.conn()).await?;
        }
    }
    Ok(())
}

/// Saves the header if it is still at `b.version - 1`.
pub async fn save_bom(tx: &TenantTx<'_>, b: &Bom) -> AppResult<bool> {
    let mut am = bom_am(tx, b)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = boms::Entity::update_many()
        .set(am)
        .filter(boms::Column::TenantId.eq(tx.tenant().0))
        .filter(boms::Column::Id.eq(b.id))
        .filter(boms::Column::Version.eq(b.version - 1))
        .exec(tx.conn())
        .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(revision_taken(b)),
        r => Ok(r?.rows_affected == 1),
    }
}

pub async fn replace_bom_lines(tx: &TenantTx<'_>, bom: Uuid, lines: &[BomLine]) -> AppResult<()> {
    bom_lines::Entity::delete_many()
        .filter(bom_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(bom_lines::Column::BomId.eq(bom))
        .exec(tx.conn())
        .await?;
    insert_bom_lines(tx, bom, lines).await
}

pub async fn delete_bom(tx: &TenantTx<'_>, bom: Uuid) -> AppResult<()> {
    replace_bom_lines(tx, bom, &[]).await?;
    boms::Entity::delete_many()
        .filter(boms::Column::TenantId.eq(tx.tenant().0))
        .filter(boms::Column::Id.eq(bom))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn get_bom(tx: &TenantTx<'_>, id: Uuid, lock: bool) -> AppResult<Option<(Bom, Vec<BomLine>)>> {
    let mut q = boms::Entity::find().filter(boms::Column::TenantId.eq(tx.tenant().0)).filter(boms::Column::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    let Some(b) = q.one(tx.conn()).await? else { return Ok(None) };
    let lines = bom_lines::Entity::find()
        .filter(bom_lines::Column::TenantId.eq(tx.tenant().0))
        .filter(bom_lines::Column::BomId.eq(id))
        .order_by_asc(bom_lines::Column::LineNo)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| line_from(m).map(|(_, l)| l))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Some((bom_from(b)?, lines)))
}

#[derive(Clone, Debug, Default)]
pub struct BomFilter {
    pub item_id: Option<Uuid>,
    pub status: Option<String>,
}

pub async fn list_boms(tx: &TenantTx<'_>, f: &BomFilter, page: &Page) -> AppResult<Vec<Bom>> {
    use boms::Column as C;
    let mut q = boms::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(bom_from).collect()
}

/// Every bill in the given states with its lines (the graph cycle checks, explosions and MRP
/// walk), ordered by item and revision.
pub async fn bills(tx: &TenantTx<'_>, statuses: &[&str]) -> AppResult<Vec<(Bom, Vec<BomLine>)>> {
    let headers = boms::Entity::find()
        .filter(boms::Column::TenantId.eq(tx.tenant().0))
        .filter(boms::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(boms::Column::ItemId)
        .order_by_asc(boms::Column::Revision)
        .all(tx.conn())
        .await?;
    let backend = tx.conn().get_database_backend();
    let p1 = ph(backend, 1);
    let wanted = statuses.iter().map(|s| format!("'{}'", s.replace('\'', ""))).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT l.bom_id, l.line_no, l.component_id, l.quantity, l.scrap, l.issue_method, l.phantom, l.byproduct
         FROM bom_lines l JOIN boms b ON b.tenant_id = l.tenant_id AND b.id = l.bom_id
         WHERE l.tenant_id = {p1} AND b.status IN ({wanted})
         ORDER BY l.bom_id, l.line_no"
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into()])).await?;
    let mut lines: HashMap<Uuid, Vec<BomLine>> = HashMap::new();
    for r in rows {
        let m = bom_lines::Model {
            tenant_id: tx.tenant().0,
            bom_id: r.try_get("", "bom_id")?,
            line_no: r.try_get("", "line_no")?,
            component_id: r.try_get("", "component_id")?,
            quantity: r.try_get("", "quantity")?,
            scrap: r.try_get("", "scrap")?,
            issue_method: r.try_get("", "issue_method")?,
            phantom: r.try_get("", "phantom")?,
            byproduct: r.try_get("", "byproduct")?,
        };
        let (bom, l) = line_from(m)?;
        lines.entry(bom).or_default().push(l);
    }
    headers
        .into_iter()
        .map(|h| {
            let ls = lines.remove(&h.id).unwrap_or_default();
            Ok((bom_from(h)?, ls))
        })
        .collect()
}

// ---------------------------------------------------------------- forecasts

#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    pub id: Uuid,
    pub item_id: Uuid,
    pub due_date: NaiveDate,
    pub quantity: Decimal,
    pub memo: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

fn forecast_from(m: forecasts::Model) -> AppResult<Forecast> {
    Ok(Forecast {
        id: m.id,
        item_id: m.item_id,
        due_date: parse_date(&m.due_date)?,
        quantity: qty_from_db(m.quantity),
        memo: m.memo,
        created_by: m.created_by,
        created_at: m.created_at,
    })
}

pub async fn insert_forecast(tx: &TenantTx<'_>, f: &Forecast) -> AppResult<()> {
    let am = forecasts::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(f.id),
        item_id: Set(f.item_id),
        due_date: Set(date_str(f.due_date)),
        quantity: Set(qty_to_db(f.quantity)?),
        memo: Set(f.memo.clone()),
        created_by: Set(f.created_by),
        created_at: Set(f.created_at),
    };
    forecasts::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn get_forecast(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Forecast>> {
    forecasts::Entity::find()
        .filter(forecasts::Column::TenantId.eq(tx.tenant().0))
        .filter(forecasts::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(forecast_from)
        .transpose()
}

pub async fn delete_forecast(tx: &TenantTx<'_>, id: Uuid) -> AppResult<()> {
    forecasts::Entity::delete_many()
        .filter(forecasts::Column::TenantId.eq(tx.tenant().0))
        .filter(forecasts::Column::Id.eq(id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// Forecasts of one item (or all), from a date on, in date order.
pub async fn forecasts(tx: &TenantTx<'_>, item: Option<Uuid>, from: Option<NaiveDate>) -> AppResult<Vec<Forecast>> {
    use forecasts::Column as C;
    let mut q = forecasts::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(i) = item {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(d) = from {
        q = q.filter(C::DueDate.gte(date_str(d)));
    }
    q.order_by_asc(C::DueDate).order_by_asc(C::Id).all(tx.conn()).await?.into_iter().map(forecast_from).collect()
}

// ---------------------------------------------------------------- MRP runs and suggestions

#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: Uuid,
    pub number: String,
    pub run_by: Option<Uuid>,
    pub parameters: serde_json::Value,
    pub figures: serde_json::Value,
    pub exceptions: serde_json::Value,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

fn run_from(m: mrp_runs::Model) -> AppResult<Run> {
    let json = |s: &str| serde_json::from_str(s).map_err(AppError::internal);
    Ok(Run {
        id: m.id,
        number: m.number,
        run_by: m.run_by,
        parameters: json(&m.parameters)?,
        figures: json(&m.figures)?,
        exceptions: json(&m.exceptions)?,
        started_at: m.started_at,
        finished_at: m.finished_at,
    })
}

pub async fn insert_run(tx: &TenantTx<'_>, r: &Run) -> AppResult<()> {
    let am = mrp_runs::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(r.id),
        number: Set(r.number.clone()),
        run_by: Set(r.run_by),
        parameters: Set(r.parameters.to_string()),
        figures: Set(r.figures.to_string()),
        exceptions: Set(r.exceptions.to_string()),
        started_at: Set(r.started_at),
        finished_at: Set(r.finished_at),
    };
    mrp_runs::Entity::insert(am).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn get_run(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<Run>> {
    mrp_runs::Entity::find()
        .filter(mrp_runs::Column::TenantId.eq(tx.tenant().0))
        .filter(mrp_runs::Column::Id.eq(id))
        .one(tx.conn())
        .await?
        .map(run_from)
        .transpose()
}

pub async fn list_runs(tx: &TenantTx<'_>, page: &Page) -> AppResult<Vec<Run>> {
    use mrp_runs::Column as C;
    let mut q = mrp_runs::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(run_from).collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub id: Uuid,
    pub run_id: Uuid,
    /// purchase | production
    pub kind: String,
    pub item_id: Uuid,
    pub warehouse_id: Option<Uuid>,
    pub quantity: Decimal,
    pub due_date: NaiveDate,
    pub start_date: NaiveDate,
    pub late: bool,
    pub level: i32,
    pub supplier_id: Option<Uuid>,
    pub bom_id: Option<Uuid>,
    pub pegging: serde_json::Value,
    /// open | accepted | superseded
    pub status: String,
    pub document_id: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
}

fn suggestion_from(m: mrp_suggestions::Model) -> AppResult<Suggestion> {
    Ok(Suggestion {
        id: m.id,
        run_id: m.run_id,
        kind: m.kind,
        item_id: m.item_id,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        due_date: parse_date(&m.due_date)?,
        start_date: parse_date(&m.start_date)?,
        late: m.late,
        level: m.level,
        supplier_id: m.supplier_id,
        bom_id: m.bom_id,
        pegging: serde_json::from_str(&m.pegging).map_err(AppError::internal)?,
        status: m.status,
        document_id: m.document_id,
        decided_by: m.decided_by,
        decided_at: m.decided_at,
    })
}

fn suggestion_am(tx: &TenantTx<'_>, s: &Suggestion) -> AppResult<mrp_suggestions::ActiveModel> {
    Ok(mrp_suggestions::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(s.id),
        run_id: Set(s.run_id),
        kind: Set(s.kind.clone()),
        item_id: Set(s.item_id),
        warehouse_id: Set(s.warehouse_id),
        quantity: Set(qty_to_db(s.quantity)?),
        due_date: Set(date_str(s.due_date)),
        start_date: Set(date_str(s.start_date)),
        late: Set(s.late),
        level: Set(s.level),
        supplier_id: Set(s.supplier_id),
        bom_id: Set(s.bom_id),
        pegging: Set(s.pegging.to_string()),
        status: Set(s.status.clone()),
        document_id: Set(s.document_id),
        decided_by: Set(s.decided_by),
        decided_at: Set(s.decided_at),
    })
}

/// Inserts new suggestions in bulk (a run can propose hundreds of thousands). On PostgreSQL
/// each column goes as one binary array parameter, expanded by `unnest`, per 50,000 rows:
/// nothing is parsed from text (a JSON or text-array parameter spends seconds in parsing at
/// this size). Absent ids travel as the nil UUID and land as NULL. Elsewhere in multi-row
/// statements.
pub async fn insert_suggestions(tx: &TenantTx<'_>, rows: &[Suggestion]) -> AppResult<()> {
    let backend = tx.conn().get_database_backend();
    if backend == DbBackend::Postgres {
        const SQL: &str = "INSERT INTO mrp_suggestions (tenant_id, id, run_id, kind, item_id, warehouse_id, quantity, \
            due_date, start_date, late, level, supplier_id, bom_id, pegging, status, document_id, decided_by, decided_at) \
            SELECT $1, u.id, u.run_id, u.kind, u.item_id, NULLIF(u.warehouse_id, $2), u.quantity, u.due_date, \
            u.start_date, u.late, u.level, NULLIF(u.supplier_id, $2), NULLIF(u.bom_id, $2), u.pegging, u.status, \
            NULLIF(u.document_id, $2), NULLIF(u.decided_by, $2), NULL \
            FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::uuid[], $8::int8[], $9::text[], \
            $10::text[], $11::bool[], $12::int4[], $13::uuid[], $14::uuid[], $15::text[], $16::text[], $17::uuid[], \
            $18::uuid[]) AS u(id, run_id, kind, item_id, warehouse_id, quantity, due_date, start_date, late, level, \
            supplier_id, bom_id, pegging, status, document_id, decided_by)";
        if rows.iter().any(|s| s.decided_at.is_some()) {
            return Err(AppError::internal("insert_suggestions writes new, undecided suggestions"));
        }
        let nil = Uuid::nil();
        let or_nil = |u: Option<Uuid>| u.unwrap_or(nil);
        for chunk in rows.chunks(50_000) {
            let ids =
                |f: &dyn Fn(&Suggestion) -> Uuid| -> sea_orm::Value { chunk.iter().map(f).collect::<Vec<_>>().into() };
            let texts = |f: &dyn Fn(&Suggestion) -> String| -> sea_orm::Value {
                chunk.iter().map(f).collect::<Vec<_>>().into()
            };
            let quantities = chunk.iter().map(|s| qty_to_db(s.quantity)).collect::<AppResult<Vec<i64>>>()?;
            let values: Vec<sea_orm::Value> = vec![
                tx.tenant().0.into(),
                nil.into(),
                ids(&|s| s.id),
                ids(&|s| s.run_id),
                texts(&|s| s.kind.clone()),
                ids(&|s| s.item_id),
                ids(&|s| or_nil(s.warehouse_id)),
                quantities.into(),
                texts(&|s| date_str(s.due_date)),
                texts(&|s| date_str(s.start_date)),
                chunk.iter().map(|s| s.late).collect::<Vec<bool>>().into(),
                chunk.iter().map(|s| s.level).collect::<Vec<i32>>().into(),
                ids(&|s| or_nil(s.supplier_id)),
                ids(&|s| or_nil(s.bom_id)),
                texts(&|s| s.pegging.to_string()),
                texts(&|s| s.status.clone()),
                ids(&|s| or_nil(s.document_id)),
                ids(&|s| or_nil(s.decided_by)),
            ];
            tx.conn().execute_raw(Statement::from_sql_and_values(backend, SQL, values)).await?;
        }
        return Ok(());
    }
    // 18 columns a row; keep well inside the parameter limits.
    for chunk in rows.chunks(1000) {
        let ams = chunk.iter().map(|s| suggestion_am(tx, s)).collect::<AppResult<Vec<_>>>()?;
        mrp_suggestions::Entity::insert_many(ams).exec_without_returning(tx.conn()).await?;
    }
    Ok(())
}

/// Removes the open suggestions (a new run replaces them), of every item or of the items
/// given; returns how many. Accepted ones stay, with the documents they made. (Deleting
/// rather than marking them: a run can replace hundreds of thousands, and an update writes a
/// new version of every row and of every index entry.)
pub async fn supersede_open(tx: &TenantTx<'_>, items: Option<&[Uuid]>) -> AppResult<u64> {
    use mrp_suggestions::Column as C;
    let update =
        || mrp_suggestions::Entity::delete_many().filter(C::TenantId.eq(tx.tenant().0)).filter(C::Status.eq("open"));
    let Some(items) = items else {
        return Ok(update().exec(tx.conn()).await?.rows_affected);
    };
    let mut n = 0;
    for chunk in items.chunks(1000) {
        n += update().filter(C::ItemId.is_in(chunk.iter().copied())).exec(tx.conn()).await?.rows_affected;
    }
    Ok(n)
}

/// Serializes a tenant's MRP runs, acceptances and bill activations: a per-tenant row lock held
/// to commit (the row of a sequence nobody numbers with).
pub async fn lock_planning(tx: &TenantTx<'_>) -> AppResult<()> {
    super::ledger::next_in_sequence(tx, "production_planning_lock").await?;
    Ok(())
}

pub async fn save_suggestion(tx: &TenantTx<'_>, s: &Suggestion) -> AppResult<()> {
    let mut am = suggestion_am(tx, s)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    mrp_suggestions::Entity::update_many()
        .set(am)
        .filter(mrp_suggestions::Column::TenantId.eq(tx.tenant().0))
        .filter(mrp_suggestions::Column::Id.eq(s.id))
        .exec(tx.conn())
        .await?;
    Ok(())
}

/// The suggestions with these ids, locked, in id order.
pub async fn lock_suggestions(tx: &TenantTx<'_>, ids: &[Uuid]) -> AppResult<Vec<Suggestion>> {
    use mrp_suggestions::Column as C;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    mrp_suggestions::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.is_in(ids))
        .order_by_asc(C::Id)
        .lock_exclusive()
        .all(tx.conn())
        .await?
        .into_iter()
        .map(suggestion_from)
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct SuggestionFilter {
    pub run_id: Option<Uuid>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub item_id: Option<Uuid>,
}

/// Suggestions in id order (the order a run made them: level by level).
pub async fn list_suggestions(tx: &TenantTx<'_>, f: &SuggestionFilter, page: &Page) -> AppResult<Vec<Suggestion>> {
    use mrp_suggestions::Column as C;
    let mut q = mrp_suggestions::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(r) = f.run_id {
        q = q.filter(C::RunId.eq(r));
    }
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(C::Kind.eq(k.clone()));
    }
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.gt(after));
    }
    q.order_by_asc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(suggestion_from).collect()
}

// ---------------------------------------------------------------- production orders

#[derive(Clone, Debug, PartialEq)]
pub struct ProductionOrder {
    pub id: Uuid,
    pub number: String,
    pub item_id: Uuid,
    pub bom_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity: Decimal,
    pub completed: Decimal,
    /// planned | released | in_progress | completed | closed | cancelled
    pub status: String,
    pub start_date: NaiveDate,
    pub due_date: NaiveDate,
    pub sales_order_id: Option<Uuid>,
    pub suggestion_id: Option<Uuid>,
    /// Material issued less returned, at the value that left stock.
    pub material_cost: Decimal,
    pub overhead_cost: Decimal,
    /// The material cost overhead was last absorbed on (the rate applies to what came after).
    pub overhead_base: Decimal,
    /// What completions took out of WIP into finished goods.
    pub completed_value: Decimal,
    /// What closing posted to the production variance account (debit positive).
    pub variance: Decimal,
    pub memo: String,
    pub released_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl ProductionOrder {
    /// What is left in WIP for this order.
    pub fn wip(&self) -> Decimal {
        self.material_cost + self.overhead_cost - self.completed_value - self.variance
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    pub line_no: i32,
    pub component_id: Uuid,
    /// For the whole order quantity, scrap included.
    pub required: Decimal,
    pub issue_method: IssueMethod,
    /// Comes out at completion (received at standard cost) rather than going in.
    pub byproduct: bool,
    /// Issued less returned (received, for a by-product).
    pub issued: Decimal,
    /// The value of what was issued less returned.
    pub cost: Decimal,
    pub reservation_id: Option<Uuid>,
}

fn order_from(m: production_orders::Model) -> AppResult<ProductionOrder> {
    Ok(ProductionOrder {
        id: m.id,
        number: m.number,
        item_id: m.item_id,
        bom_id: m.bom_id,
        warehouse_id: m.warehouse_id,
        quantity: qty_from_db(m.quantity),
        completed: qty_from_db(m.completed),
        status: m.status,
        start_date: parse_date(&m.start_date)?,
        due_date: parse_date(&m.due_date)?,
        sales_order_id: m.sales_order_id,
        suggestion_id: m.suggestion_id,
        material_cost: money_from_db(m.material_cost),
        overhead_cost: money_from_db(m.overhead_cost),
        overhead_base: money_from_db(m.overhead_base),
        completed_value: money_from_db(m.completed_value),
        variance: money_from_db(m.variance),
        memo: m.memo,
        released_at: m.released_at,
        closed_at: m.closed_at,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn order_am(tx: &TenantTx<'_>, o: &ProductionOrder) -> AppResult<production_orders::ActiveModel> {
    Ok(production_orders::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        id: Set(o.id),
        number: Set(o.number.clone()),
        item_id: Set(o.item_id),
        bom_id: Set(o.bom_id),
        warehouse_id: Set(o.warehouse_id),
        quantity: Set(qty_to_db(o.quantity)?),
        completed: Set(qty_to_db(o.completed)?),
        status: Set(o.status.clone()),
        start_date: Set(date_str(o.start_date)),
        due_date: Set(date_str(o.due_date)),
        sales_order_id: Set(o.sales_order_id),
        suggestion_id: Set(o.suggestion_id),
        material_cost: Set(money_to_db(o.material_cost)?),
        overhead_cost: Set(money_to_db(o.overhead_cost)?),
        overhead_base: Set(money_to_db(o.overhead_base)?),
        completed_value: Set(money_to_db(o.completed_value)?),
        variance: Set(money_to_db(o.variance)?),
        memo: Set(o.memo.clone()),
        released_at: Set(o.released_at),
        closed_at: Set(o.closed_at),
        created_by: Set(o.created_by),
        created_at: Set(o.created_at),
        updated_at: Set(o.updated_at),
        version: Set(o.version),
    })
}

fn component_am(tx: &TenantTx<'_>, order: Uuid, c: &Component) -> AppResult<production_order_components::ActiveModel> {
    Ok(production_order_components::ActiveModel {
        tenant_id: Set(tx.tenant().0),
        order_id: Set(order),
        line_no: Set(c.line_no),
        component_id: Set(c.component_id),
        required: Set(qty_to_db(c.required)?),
        issue_method: Set(c.issue_method.as_str().to_owned()),
        byproduct: Set(c.byproduct),
        issued: Set(qty_to_db(c.issued)?),
        cost: Set(money_to_db(c.cost)?),
        reservation_id: Set(c.reservation_id),
    })
}

fn component_from(m: production_order_components::Model) -> AppResult<(Uuid, Component)> {
    Ok((
        m.order_id,
        Component {
            line_no: m.line_no,
            component_id: m.component_id,
            required: qty_from_db(m.required),
            issue_method: IssueMethod::parse(&m.issue_method)
                .ok_or_else(|| AppError::internal(format!("bad issue method {}", m.issue_method)))?,
            byproduct: m.byproduct,
            issued: qty_from_db(m.issued),
            cost: money_from_db(m.cost),
            reservation_id: m.reservation_id,
        },
    ))
}

pub async fn insert_order(tx: &TenantTx<'_>, o: &ProductionOrder, components: &[Component]) -> AppResult<()> {
    production_orders::Entity::insert(order_am(tx, o)?).exec_without_returning(tx.conn()).await?;
    for chunk in components.chunks(500) {
        let rows = chunk.iter().map(|c| component_am(tx, o.id, c)).collect::<AppResult<Vec<_>>>()?;
        if !rows.is_empty() {
            production_order_components::Entity::insert_many(rows).exec_without_returning(tx.conn()).await?;
        }
    }
    Ok(())
}

/// Saves the header if it is still at `o.version - 1`.
pub async fn save_order(tx: &TenantTx<'_>, o: &ProductionOrder) -> AppResult<bool> {
    let mut am = order_am(tx, o)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.id = sea_orm::ActiveValue::NotSet;
    am.created_at = sea_orm::ActiveValue::NotSet;
    let r = production_orders::Entity::update_many()
        .set(am)
        .filter(production_orders::Column::TenantId.eq(tx.tenant().0))
        .filter(production_orders::Column::Id.eq(o.id))
        .filter(production_orders::Column::Version.eq(o.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn save_component(tx: &TenantTx<'_>, order: Uuid, c: &Component) -> AppResult<()> {
    let mut am = component_am(tx, order, c)?;
    am.tenant_id = sea_orm::ActiveValue::NotSet;
    am.order_id = sea_orm::ActiveValue::NotSet;
    am.line_no = sea_orm::ActiveValue::NotSet;
    production_order_components::Entity::update_many()
        .set(am)
        .filter(production_order_components::Column::TenantId.eq(tx.tenant().0))
        .filter(production_order_components::Column::OrderId.eq(order))
        .filter(production_order_components::Column::LineNo.eq(c.line_no))
        .exec(tx.conn())
        .await?;
    Ok(())
}

pub async fn add_component(tx: &TenantTx<'_>, order: Uuid, c: &Component) -> AppResult<()> {
    production_order_components::Entity::insert(component_am(tx, order, c)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

/// An order with its components; `lock` takes the order row for update.
pub async fn get_order(
    tx: &TenantTx<'_>,
    id: Uuid,
    lock: bool,
) -> AppResult<Option<(ProductionOrder, Vec<Component>)>> {
    let mut q = production_orders::Entity::find()
        .filter(production_orders::Column::TenantId.eq(tx.tenant().0))
        .filter(production_orders::Column::Id.eq(id));
    if lock {
        q = q.lock_exclusive();
    }
    let Some(o) = q.one(tx.conn()).await? else { return Ok(None) };
    let cs = components_of(tx, &[id]).await?.remove(&id).unwrap_or_default();
    Ok(Some((order_from(o)?, cs)))
}

pub async fn components_of(tx: &TenantTx<'_>, orders: &[Uuid]) -> AppResult<HashMap<Uuid, Vec<Component>>> {
    use production_order_components::Column as C;
    let mut out: HashMap<Uuid, Vec<Component>> = HashMap::new();
    for chunk in orders.chunks(1000) {
        let rows = production_order_components::Entity::find()
            .filter(C::TenantId.eq(tx.tenant().0))
            .filter(C::OrderId.is_in(chunk.iter().copied()))
            .order_by_asc(C::OrderId)
            .order_by_asc(C::LineNo)
            .all(tx.conn())
            .await?;
        for m in rows {
            let (o, c) = component_from(m)?;
            out.entry(o).or_default().push(c);
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub item_id: Option<Uuid>,
    pub sales_order_id: Option<Uuid>,
    /// Only orders not yet finished (planned, released, in progress).
    pub open: bool,
}

pub async fn list_orders(tx: &TenantTx<'_>, f: &OrderFilter, page: &Page) -> AppResult<Vec<ProductionOrder>> {
    use production_orders::Column as C;
    let mut q = production_orders::Entity::find().filter(C::TenantId.eq(tx.tenant().0));
    if let Some(s) = &f.status {
        q = q.filter(C::Status.eq(s.clone()));
    }
    if f.open {
        q = q.filter(C::Status.is_in(["planned", "released", "in_progress"]));
    }
    if let Some(i) = f.item_id {
        q = q.filter(C::ItemId.eq(i));
    }
    if let Some(s) = f.sales_order_id {
        q = q.filter(C::SalesOrderId.eq(s));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id).limit(page.fetch_limit()).all(tx.conn()).await?.into_iter().map(order_from).collect()
}

/// Every open order (planned, released, in progress) with its components: supply of their
/// items and demand of their components for MRP, and the alert list.
pub async fn open_orders(tx: &TenantTx<'_>) -> AppResult<Vec<(ProductionOrder, Vec<Component>)>> {
    use production_orders::Column as C;
    let orders: Vec<ProductionOrder> = production_orders::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Status.is_in(["planned", "released", "in_progress"]))
        .order_by_asc(C::DueDate)
        .order_by_asc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(order_from)
        .collect::<AppResult<_>>()?;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let mut cs = components_of(tx, &ids).await?;
    Ok(orders
        .into_iter()
        .map(|o| {
            let c = cs.remove(&o.id).unwrap_or_default();
            (o, c)
        })
        .collect())
}

// ---------------------------------------------------------------- what MRP reads

/// One open line of a confirmed order: what is left to deliver (sales) or receive (purchase).
#[derive(Clone, Debug, PartialEq)]
pub struct OpenLine {
    pub order_id: Uuid,
    pub number: String,
    pub line_no: i32,
    pub item_id: Uuid,
    pub open: Decimal,
    pub date: NaiveDate,
    /// What the line's stock reservation still holds (sales).
    pub reserved: Decimal,
}

/// Open lines of confirmed orders of one side (`sales` or `purchase`).
pub async fn open_order_lines(tx: &TenantTx<'_>, side: &str) -> AppResult<Vec<OpenLine>> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2) = (ph(backend, 1), ph(backend, 2));
    let sql = format!(
        "SELECT l.order_id, o.number, l.line_no, l.item_id, l.quantity - l.shipped AS open,
                COALESCE(l.expected_date, o.expected_date, o.order_date) AS due,
                COALESCE(r.open_quantity, 0) AS reserved
         FROM trade_order_lines l JOIN trade_orders o ON o.tenant_id = l.tenant_id AND o.id = l.order_id
         LEFT JOIN stock_reservations r ON r.tenant_id = l.tenant_id AND r.id = l.reservation_id AND r.status = 'open'
         WHERE o.tenant_id = {p1} AND o.side = {p2} AND o.kind = 'order' AND o.status = 'confirmed'
           AND l.quantity > l.shipped
         ORDER BY l.order_id, l.line_no"
    );
    let rows = tx
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), side.to_owned().into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OpenLine {
                order_id: r.try_get("", "order_id")?,
                number: r.try_get("", "number")?,
                line_no: r.try_get("", "line_no")?,
                item_id: r.try_get("", "item_id")?,
                open: qty_from_db(r.try_get("", "open")?),
                date: parse_date(&r.try_get::<String>("", "due")?)?,
                reserved: qty_from_db(r.try_get("", "reserved")?),
            })
        })
        .collect()
}

/// What was ordered per item and line date on confirmed or closed sales orders dated from
/// `from` on, shipped or not (what consumes forecasts).
pub async fn sales_ordered_since(tx: &TenantTx<'_>, from: NaiveDate) -> AppResult<Vec<(Uuid, NaiveDate, Decimal)>> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2) = (ph(backend, 1), ph(backend, 2));
    let sql = format!(
        "SELECT l.item_id, COALESCE(l.expected_date, o.expected_date, o.order_date) AS due, l.quantity
         FROM trade_order_lines l JOIN trade_orders o ON o.tenant_id = l.tenant_id AND o.id = l.order_id
         WHERE o.tenant_id = {p1} AND o.side = 'sales' AND o.kind = 'order' AND o.status IN ('confirmed', 'closed')
           AND COALESCE(l.expected_date, o.expected_date, o.order_date) >= {p2}"
    );
    let rows = tx
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), date_str(from).into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("", "item_id")?,
                parse_date(&r.try_get::<String>("", "due")?)?,
                qty_from_db(r.try_get("", "quantity")?),
            ))
        })
        .collect()
}

/// Stock per item across warehouses: (on hand, reserved by sources other than the orders MRP
/// counts as demand itself).
pub async fn stock_for_planning(tx: &TenantTx<'_>) -> AppResult<HashMap<Uuid, (Decimal, Decimal)>> {
    let backend = tx.conn().get_database_backend();
    let p1 = ph(backend, 1);
    let sql = format!(
        "SELECT item_id, CAST(SUM(quantity) AS BIGINT) AS on_hand FROM stock_levels WHERE tenant_id = {p1} GROUP BY item_id"
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into()])).await?;
    let mut out: HashMap<Uuid, (Decimal, Decimal)> = HashMap::new();
    for r in rows {
        let item: Uuid = r.try_get("", "item_id")?;
        out.insert(item, (qty_from_db(r.try_get("", "on_hand")?), Decimal::ZERO));
    }
    let sql = format!(
        "SELECT item_id, CAST(SUM(open_quantity) AS BIGINT) AS reserved FROM stock_reservations
         WHERE tenant_id = {p1} AND status = 'open' AND source_type NOT IN ('sales_order', 'production_order')
         GROUP BY item_id"
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into()])).await?;
    for r in rows {
        let item: Uuid = r.try_get("", "item_id")?;
        out.entry(item).or_default().1 = qty_from_db(r.try_get("", "reserved")?);
    }
    Ok(out)
}

/// Open purchase requests (draft, submitted, approved): supply MRP must not propose again.
pub async fn open_requests(tx: &TenantTx<'_>) -> AppResult<Vec<(Uuid, String, Uuid, Decimal, NaiveDate)>> {
    let backend = tx.conn().get_database_backend();
    let p1 = ph(backend, 1);
    let sql = format!(
        "SELECT id, number, item_id, quantity, needed_by FROM purchase_requests
         WHERE tenant_id = {p1} AND status IN ('draft', 'submitted', 'approved') ORDER BY id"
    );
    let rows = tx.conn().query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into()])).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("", "id")?,
                r.try_get("", "number")?,
                r.try_get("", "item_id")?,
                qty_from_db(r.try_get("", "quantity")?),
                parse_date(&r.try_get::<String>("", "needed_by")?)?,
            ))
        })
        .collect()
}

/// What MRP needs of an active stocked item.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanningItem {
    pub id: Uuid,
    pub sku: String,
    pub item_type: String,
    pub safety_stock: Decimal,
    pub default_warehouse_id: Option<Uuid>,
}

pub async fn planning_items(tx: &TenantTx<'_>) -> AppResult<Vec<PlanningItem>> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2) = (ph(backend, 1), ph(backend, 2));
    let sql = format!(
        "SELECT id, sku, item_type, safety_stock, default_warehouse_id FROM items
         WHERE tenant_id = {p1} AND is_active = {p2} AND item_type <> 'service'"
    );
    let rows = tx
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), true.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(PlanningItem {
                id: r.try_get("", "id")?,
                sku: r.try_get("", "sku")?,
                item_type: r.try_get("", "item_type")?,
                safety_stock: qty_from_db(r.try_get("", "safety_stock")?),
                default_warehouse_id: r.try_get("", "default_warehouse_id")?,
            })
        })
        .collect()
}

/// A supplier's price for an item on an active purchase price list of that supplier.
#[derive(Clone, Debug, PartialEq)]
pub struct SupplierOffer {
    pub item_id: Uuid,
    pub supplier_id: Uuid,
    pub unit_price: Decimal,
    pub lead_time_days: Option<i32>,
    pub min_order_quantity: Option<Decimal>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

pub async fn supplier_offers(tx: &TenantTx<'_>) -> AppResult<Vec<SupplierOffer>> {
    let backend = tx.conn().get_database_backend();
    let (p1, p2) = (ph(backend, 1), ph(backend, 2));
    let sql = format!(
        "SELECT i.item_id, l.party_id, i.unit_price, i.lead_time_days, i.min_order_quantity, l.valid_from, l.valid_to
         FROM price_list_items i JOIN price_lists l ON l.tenant_id = i.tenant_id AND l.id = i.price_list_id
         WHERE i.tenant_id = {p1} AND l.side = 'purchase' AND l.is_active = {p2} AND l.party_id IS NOT NULL
         ORDER BY i.item_id, i.unit_price, l.party_id"
    );
    let rows = tx
        .conn()
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), true.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SupplierOffer {
                item_id: r.try_get("", "item_id")?,
                supplier_id: r.try_get("", "party_id")?,
                unit_price: money_from_db(r.try_get("", "unit_price")?),
                lead_time_days: r.try_get("", "lead_time_days")?,
                min_order_quantity: r.try_get::<Option<i64>>("", "min_order_quantity")?.map(qty_from_db),
                valid_from: opt_date(r.try_get("", "valid_from")?)?,
                valid_to: opt_date(r.try_get("", "valid_to")?)?,
            })
        })
        .collect()
}

async fn any(tx: &TenantTx<'_>, sql: &str, id: Uuid) -> AppResult<bool> {
    let backend = tx.conn().get_database_backend();
    let sql = sql.replace("{p1}", &ph(backend, 1)).replace("{p2}", &ph(backend, 2));
    let row = tx
        .conn()
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [tx.tenant().0.into(), id.into()]))
        .await?;
    Ok(row.is_some())
}

/// What in production still refers to an item, if anything.
pub async fn item_in_use(tx: &TenantTx<'_>, item: Uuid) -> AppResult<Option<&'static str>> {
    let checks: [(&str, &'static str); 5] = [
        ("SELECT 1 FROM boms WHERE tenant_id = {p1} AND item_id = {p2} LIMIT 1", "it has bills of material"),
        ("SELECT 1 FROM bom_lines WHERE tenant_id = {p1} AND component_id = {p2} LIMIT 1", "bills of material use it"),
        (
            "SELECT 1 FROM production_orders WHERE tenant_id = {p1} AND item_id = {p2} LIMIT 1",
            "production orders make it",
        ),
        (
            "SELECT 1 FROM production_order_components WHERE tenant_id = {p1} AND component_id = {p2} LIMIT 1",
            "production orders use it",
        ),
        ("SELECT 1 FROM forecasts WHERE tenant_id = {p1} AND item_id = {p2} LIMIT 1", "forecasts name it"),
    ];
    for (sql, why) in checks {
        if any(tx, sql, item).await? {
            return Ok(Some(why));
        }
    }
    if any(tx, "SELECT 1 FROM mrp_suggestions WHERE tenant_id = {p1} AND item_id = {p2} LIMIT 1", item).await? {
        return Ok(Some("MRP suggestions name it"));
    }
    Ok(None)
}

/// What in production still refers to a warehouse, if anything.
pub async fn warehouse_in_use(tx: &TenantTx<'_>, wh: Uuid) -> AppResult<Option<&'static str>> {
    if any(tx, "SELECT 1 FROM production_orders WHERE tenant_id = {p1} AND warehouse_id = {p2} LIMIT 1", wh).await? {
        return Ok(Some("production orders use it"));
    }
    Ok(None)
}

/// Removes an item's planning data (the item is being deleted).
pub async fn forget_item(tx: &TenantTx<'_>, item: Uuid) -> AppResult<()> {
    item_planning::Entity::delete_many()
        .filter(item_planning::Column::TenantId.eq(tx.tenant().0))
        .filter(item_planning::Column::ItemId.eq(item))
        .exec(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- changes after release

/// A change to an open production order's quantity or due date, applied once approved.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductionChange {
    pub id: Uuid,
    pub number: String,
    pub order_id: Uuid,
    pub quantity: Option<Decimal>,
    pub due_date: Option<NaiveDate>,
    pub reason: String,
    /// pending | applied | rejected | returned | withdrawn
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

fn change_from(m: production_changes::Model) -> AppResult<ProductionChange> {
    Ok(ProductionChange {
        id: m.id,
        number: m.number,
        order_id: m.order_id,
        quantity: m.quantity.map(qty_from_db),
        due_date: m.due_date.as_deref().map(parse_date).transpose()?,
        reason: m.reason,
        status: m.status,
        requested_by: m.requested_by,
        created_at: m.created_at,
        decided_at: m.decided_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn change_am(tenant: Uuid, c: &ProductionChange) -> AppResult<production_changes::ActiveModel> {
    Ok(production_changes::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(c.id),
        number: Set(c.number.clone()),
        order_id: Set(c.order_id),
        quantity: Set(c.quantity.map(qty_to_db).transpose()?),
        due_date: Set(c.due_date.map(date_str)),
        reason: Set(c.reason.clone()),
        status: Set(c.status.clone()),
        requested_by: Set(c.requested_by),
        created_at: Set(c.created_at),
        decided_at: Set(c.decided_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
    })
}

pub async fn insert_change(tx: &TenantTx<'_>, c: &ProductionChange) -> AppResult<()> {
    production_changes::Entity::insert(change_am(tx.tenant().0, c)?).exec_without_returning(tx.conn()).await?;
    Ok(())
}

pub async fn save_change(tx: &TenantTx<'_>, c: &ProductionChange) -> AppResult<bool> {
    use production_changes::Column as C;
    let r = production_changes::Entity::update_many()
        .set(change_am(tx.tenant().0, c)?)
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(c.id))
        .filter(C::Version.eq(c.version - 1))
        .exec(tx.conn())
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn get_change(tx: &TenantTx<'_>, id: Uuid) -> AppResult<Option<ProductionChange>> {
    use production_changes::Column as C;
    production_changes::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::Id.eq(id))
        .lock_exclusive()
        .one(tx.conn())
        .await?
        .map(change_from)
        .transpose()
}

/// An order's changes, newest first.
pub async fn changes_of(tx: &TenantTx<'_>, order: Uuid) -> AppResult<Vec<ProductionChange>> {
    use production_changes::Column as C;
    production_changes::Entity::find()
        .filter(C::TenantId.eq(tx.tenant().0))
        .filter(C::OrderId.eq(order))
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(change_from)
        .collect()
}
