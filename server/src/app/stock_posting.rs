//! The stock posting engine. Every module that moves stock (stock documents here; deliveries,
//! purchase receipts, material issues and completions elsewhere) hands its movements to
//! [`post_movements`] inside its own transaction. In that transaction the engine:
//!
//! 1. refuses dates on or before the stock closing date;
//! 2. locks the stock levels of every item and warehouse touched, in sorted order;
//! 3. values each movement (moving average or FIFO, `domain::stock`), from the current state,
//!    or, when the movement is dated before later movements of the same item and warehouse, by
//!    replaying that pair's ledger and appending revaluations to every later entry whose value
//!    changes (and to the receiving side of transfers whose sending side changed);
//! 4. refuses to take quantity below zero (or below what is reserved) where the warehouse does
//!    not allow negative stock;
//! 5. posts the value to the inventory account against each entry's counter account, one
//!    journal entry per date, through the finance posting engine;
//! 6. appends the stock ledger entries and updates levels, batch levels and FIFO layers.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::receivables::{check_document_entry, document_entry, mapped, mapping, next_number};
use crate::domain::ledger::{Dimensions, EntryLine, minor_unit_digits};
use crate::domain::stock::{self as rules, Move, Step, Valuation};
use crate::error::{AppError, AppResult, FieldError};
use crate::store::stock::{self as store, Item, LedgerEntry, Level, Warehouse};
use crate::store::{TenantTx, tenants};

/// Cascades through transfers stop here; a longer chain is a loop of transfers that keeps
/// changing value and is refused rather than followed.
const CASCADE_STEPS_MAX: usize = 200;

/// One movement handed to the engine.
#[derive(Clone, Debug)]
pub struct Movement {
    pub item_id: Uuid,
    pub warehouse_id: Uuid,
    pub bin_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
    pub kind: &'static str,
    /// In the base unit; positive in, negative out, zero for value only.
    pub quantity: Decimal,
    /// The value of an incoming or value-only movement; `None` for outgoing ones (valued by
    /// the item's method) and transfers in (valued as their sending side).
    pub value: Option<Decimal>,
    pub counter_account_id: Uuid,
    pub line_no: Option<i32>,
    /// A transfer in: the index of its transfer out in the same list...
    pub pair_index: Option<usize>,
    /// ...or the transfer-out entry posted earlier (goods in transit).
    pub pair_entry_id: Option<Uuid>,
    /// A landed cost: the receipt whose FIFO layer it lands on.
    pub layer_entry_id: Option<Uuid>,
    /// Where errors point, e.g. `lines[2].quantity`.
    pub field: String,
}

/// The document the movements belong to, as the ledgers record it.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    pub document_id: Uuid,
    pub date: NaiveDate,
    /// Journal entry source type, e.g. `stock_receipt`.
    pub source_type: &'a str,
    pub memo: String,
    pub created_by: Option<Uuid>,
    /// The document's gapless number is taken here, as late as the books allow: the sequence
    /// row stays locked until commit, so every posting of the kind waits for it.
    /// (sequence key, prefix)
    pub numbering: Option<(String, &'static str)>,
}

#[derive(Clone, Debug, Default)]
pub struct Posted {
    /// The number taken for the document, when `numbering` asked for one.
    pub number: Option<String>,
    /// The entries of the movements, in the order given.
    pub movements: Vec<LedgerEntry>,
    /// Revaluations and drains, of these movements or of later ones.
    pub adjustments: Vec<LedgerEntry>,
    pub journal_entry_ids: Vec<Uuid>,
}

struct Accounts {
    inventory: Uuid,
    gain: Uuid,
    loss: Uuid,
}

struct Context<'a> {
    items: HashMap<Uuid, Item>,
    warehouses: HashMap<Uuid, Warehouse>,
    base: String,
    digits: u32,
    accounts: Accounts,
    source: &'a Source<'a>,
    now: DateTime<Utc>,
    /// Entries made in this call, not yet in the database (they go in after the books).
    pending: Vec<LedgerEntry>,
}

impl Context<'_> {
    fn item(&self, id: Uuid) -> AppResult<&Item> {
        self.items.get(&id).ok_or(AppError::NotFound { entity: "item" })
    }

    fn warehouse(&self, id: Uuid) -> AppResult<&Warehouse> {
        self.warehouses.get(&id).ok_or(AppError::NotFound { entity: "warehouse" })
    }

    fn adjustment(&self, of: &LedgerEntry, kind: &'static str, value: Decimal, date: NaiveDate) -> LedgerEntry {
        let counter = match kind {
            "drain" if value > Decimal::ZERO => self.accounts.gain,
            "drain" => self.accounts.loss,
            _ => of.counter_account_id,
        };
        LedgerEntry {
            id: Uuid::now_v7(),
            entry_date: date,
            item_id: of.item_id,
            warehouse_id: of.warehouse_id,
            bin_id: of.bin_id,
            batch_id: of.batch_id,
            kind: kind.to_owned(),
            quantity: Decimal::ZERO,
            value,
            counter_account_id: counter,
            document_id: self.source.document_id,
            line_no: None,
            adjusts_entry_id: Some(of.id),
            layer_entry_id: None,
            pair_entry_id: None,
            journal_entry_id: None,
            created_at: self.now,
        }
    }
}

pub fn qty(d: Decimal) -> String {
    d.normalize().to_string()
}

fn short(
    ctx: &Context<'_>,
    item: &Item,
    wh: &Warehouse,
    available: Decimal,
    requested: Decimal,
    field: &str,
) -> AppError {
    let _ = ctx;
    AppError::InsufficientStock {
        detail: format!(
            "Item {} has {} {} available in {}, {} requested",
            item.sku,
            qty(available),
            item.base_unit,
            wh.code,
            qty(requested)
        ),
        errors: if field.is_empty() {
            Vec::new()
        } else {
            vec![FieldError::new(field, format!("only {} available", qty(available)))]
        },
    }
}

/// Posts the movements of one document. See the module documentation for what happens.
pub async fn post_movements(
    tx: &TenantTx<'_>,
    source: &Source<'_>,
    moves: &[Movement],
    now: DateTime<Utc>,
) -> AppResult<Posted> {
    let settings = store::settings(tx).await?;
    if let Some(closed) = settings.closing_date
        && source.date <= closed
    {
        return Err(AppError::StockClosed { closing_date: closed.to_string() });
    }
    if moves.is_empty() {
        let number = take_number(tx, source).await?;
        return Ok(Posted { number, ..Posted::default() });
    }
    let item_ids: Vec<Uuid> = moves.iter().map(|m| m.item_id).collect::<HashSet<_>>().into_iter().collect();
    let wh_ids: Vec<Uuid> = moves.iter().map(|m| m.warehouse_id).collect();
    let (items, warehouses) = store::share_lock_master_data(tx, &item_ids, &wh_ids).await?;
    let m = mapping(tx).await?;
    let base = tenants::current(tx).await?.base_currency;
    let mut ctx = Context {
        items,
        warehouses,
        digits: minor_unit_digits(&base),
        base: base.clone(),
        accounts: Accounts {
            inventory: mapped(&m, "inventory")?,
            gain: mapped(&m, "stock_adjustment_gain")?,
            loss: mapped(&m, "stock_adjustment_loss")?,
        },
        source,
        now,
        pending: Vec::new(),
    };
    let mut pairs: Vec<(Uuid, Uuid)> = moves.iter().map(|m| (m.item_id, m.warehouse_id)).collect();
    // A transfer received later takes the value its sending side has: lock that side too, so a
    // back-dated posting there cannot revalue it unseen while this one reads it.
    let sent: Vec<Uuid> = moves.iter().filter_map(|m| m.pair_entry_id).collect();
    pairs.extend(store::get_entries(tx, &sent).await?.values().map(|e| (e.item_id, e.warehouse_id)));
    let mut levels = store::lock_levels(tx, &pairs).await?;

    // Pairs whose transfers in take their value from a transfer out in this list go last.
    let mut order: Vec<(Uuid, Uuid)> =
        levels.keys().copied().filter(|p| moves.iter().any(|m| (m.item_id, m.warehouse_id) == *p)).collect();
    order.sort_by_key(|p| (moves.iter().any(|m| (m.item_id, m.warehouse_id) == *p && m.pair_index.is_some()), *p));

    let mut touched: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut own: Vec<Option<LedgerEntry>> = vec![None; moves.len()];
    let mut adjustments = Vec::new();
    let mut cascade: VecDeque<(Uuid, Uuid)> = VecDeque::new();
    for pair in order {
        let indexes: Vec<usize> =
            (0..moves.len()).filter(|i| (moves[*i].item_id, moves[*i].warehouse_id) == pair).collect();
        let level = levels.get_mut(&pair).ok_or_else(|| AppError::internal("level not locked"))?;
        touched.insert(pair);
        let mut fresh = Vec::new();
        for &i in &indexes {
            let mv = &moves[i];
            let value = match (mv.pair_index, mv.pair_entry_id) {
                (Some(p), _) => {
                    let out = own[p].as_ref().ok_or_else(|| AppError::internal("transfer out not posted first"))?;
                    Some(-out.value)
                }
                (None, Some(entry)) => Some(-effective_value(tx, &ctx.pending, entry).await?),
                _ => mv.value,
            };
            let mut entry = new_entry(&ctx, mv, value.unwrap_or_default());
            if let Some(p) = mv.pair_index {
                entry.pair_entry_id = own[p].as_ref().map(|o| o.id);
            }
            fresh.push((i, entry));
        }
        let outcome = value_pair(tx, &mut ctx, level, &fresh, moves).await?;
        for (i, e) in outcome.movements {
            ctx.pending.push(e.clone());
            own[i] = Some(e);
        }
        cascade.extend(outcome.cascade);
        ctx.pending.extend(outcome.adjustments.iter().cloned());
        adjustments.extend(outcome.adjustments);
    }

    let mut steps = 0;
    while let Some(pair) = cascade.pop_front() {
        steps += 1;
        if steps > CASCADE_STEPS_MAX {
            return Err(AppError::Conflict(
                "back-dating this movement revalues a loop of transfers; post it later".into(),
            ));
        }
        if !levels.contains_key(&pair) {
            levels.extend(store::lock_levels(tx, &[pair]).await?);
        }
        // A pair reached by the cascade may hold an item or lie in a warehouse the movements
        // do not name.
        if !ctx.items.contains_key(&pair.0)
            && let Some(item) = store::get_item(tx, pair.0).await?
        {
            ctx.items.insert(item.id, item);
        }
        if !ctx.warehouses.contains_key(&pair.1)
            && let Some(w) = store::get_warehouse(tx, pair.1).await?
        {
            ctx.warehouses.insert(w.id, w);
        }
        let level = levels.get_mut(&pair).ok_or_else(|| AppError::internal("level not locked"))?;
        touched.insert(pair);
        // Replaying a pair with nothing new: only corrections come out.
        let outcome = value_pair(tx, &mut ctx, level, &[], moves).await?;
        cascade.extend(outcome.cascade);
        ctx.pending.extend(outcome.adjustments.iter().cloned());
        adjustments.extend(outcome.adjustments);
    }

    // Every level valued above (each pair once: moves and cascade), saved in one statement.
    let mut valued: Vec<&Level> = levels.values().filter(|l| touched.contains(&(l.item_id, l.warehouse_id))).collect();
    valued.sort_by_key(|l| (l.item_id, l.warehouse_id));
    store::save_levels(tx, &valued).await?;
    let movements: Vec<LedgerEntry> =
        own.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| AppError::internal("a movement was not valued"))?;
    let mut all: Vec<LedgerEntry> = movements.iter().cloned().chain(adjustments.iter().cloned()).collect();
    let prepared = prepare_values(tx, &ctx, &all).await?;
    let number = take_number(tx, source).await?;
    let journal_entry_ids = book_values(tx, prepared, number.as_deref(), &mut all).await?;
    store::insert_entries(tx, &all).await?;
    for e in all.iter().filter(|e| e.batch_id.is_some() && !e.quantity.is_zero()) {
        store::add_batch_quantity(tx, e.item_id, e.warehouse_id, e.batch_id.unwrap_or_default(), e.quantity).await?;
    }
    super::events::stock_watch(tx, &ctx.items, now).await?;
    let n = movements.len();
    let (movements, adjustments) = (all[..n].to_vec(), all[n..].to_vec());
    Ok(Posted { number, movements, adjustments, journal_entry_ids })
}

async fn take_number(tx: &TenantTx<'_>, source: &Source<'_>) -> AppResult<Option<String>> {
    match &source.numbering {
        Some((key, prefix)) => Ok(Some(next_number(tx, key, prefix).await?)),
        None => Ok(None),
    }
}

fn new_entry(ctx: &Context<'_>, mv: &Movement, value: Decimal) -> LedgerEntry {
    LedgerEntry {
        id: Uuid::now_v7(),
        entry_date: ctx.source.date,
        item_id: mv.item_id,
        warehouse_id: mv.warehouse_id,
        bin_id: mv.bin_id,
        batch_id: mv.batch_id,
        kind: mv.kind.to_owned(),
        quantity: mv.quantity,
        value,
        counter_account_id: mv.counter_account_id,
        document_id: ctx.source.document_id,
        line_no: mv.line_no,
        adjusts_entry_id: None,
        layer_entry_id: mv.layer_entry_id,
        pair_entry_id: mv.pair_entry_id,
        journal_entry_id: None,
        created_at: ctx.now,
    }
}

/// An entry's value with its revaluations and drains, including those made in this call.
async fn effective_value(tx: &TenantTx<'_>, pending: &[LedgerEntry], entry: Uuid) -> AppResult<Decimal> {
    let e =
        store::get_entries(tx, &[entry]).await?.remove(&entry).ok_or(AppError::NotFound { entity: "stock entry" })?;
    let stored: Decimal = store::adjustments_of(tx, &[entry]).await?.iter().map(|a| a.value).sum();
    let new: Decimal = pending.iter().filter(|a| a.adjusts_entry_id == Some(entry)).map(|a| a.value).sum();
    Ok(e.value + stored + new)
}

struct PairOutcome {
    movements: Vec<(usize, LedgerEntry)>,
    adjustments: Vec<LedgerEntry>,
    cascade: Vec<(Uuid, Uuid)>,
}

fn to_move(e: &LedgerEntry, fixed: Decimal) -> Move {
    if e.quantity > Decimal::ZERO {
        Move::In { entry: e.id, quantity: e.quantity, value: fixed }
    } else if e.quantity < Decimal::ZERO {
        Move::Out { quantity: -e.quantity }
    } else {
        Move::Value { value: fixed, layer: e.layer_entry_id }
    }
}

/// Values the new entries of one pair (and, when back-dated, revalues what follows them),
/// checks stock, and saves the pair's level and layers.
async fn value_pair(
    tx: &TenantTx<'_>,
    ctx: &mut Context<'_>,
    level: &mut Level,
    fresh: &[(usize, LedgerEntry)],
    moves: &[Movement],
) -> AppResult<PairOutcome> {
    let item = ctx.item(level.item_id)?.clone();
    let wh = ctx.warehouse(level.warehouse_id)?.clone();
    let date = ctx.source.date;
    let back_dated = level.last_date.is_some_and(|d| d > date) || fresh.is_empty();
    let (start, mut steps, history) = if back_dated {
        let mut history = store::entries_of(tx, level.item_id, level.warehouse_id).await?;
        history.extend(
            ctx.pending.iter().filter(|e| (e.item_id, e.warehouse_id) == (level.item_id, level.warehouse_id)).cloned(),
        );
        history.sort_by_key(|e| (e.entry_date, e.id));
        let steps = history_steps(tx, &ctx.pending, &history).await?;
        (Valuation::new(item.valuation_method, ctx.digits), steps, history)
    } else {
        (store::valuation(tx, level, item.valuation_method, ctx.digits).await?, Vec::new(), Vec::new())
    };
    for (_, e) in fresh {
        // Outgoing entries carry a provisional zero, incoming ones their value.
        let step =
            Step { entry: e.id, date: e.entry_date, mv: to_move(e, e.value), carried: e.value, drained: Decimal::ZERO };
        // New entries go after everything dated on or before their date.
        let at = steps.iter().position(|s| s.date > e.entry_date).unwrap_or(steps.len());
        steps.insert(at, step);
    }
    let check_from = if fresh.is_empty() { NaiveDate::MAX } else { date };
    let (state, corrections) =
        rules::replay(start, &steps, wh.allow_negative, check_from).map_err(|n| AppError::InsufficientStock {
            detail: format!(
                "Item {} would fall to {} {} in {} on {}; stock there may not go negative",
                item.sku,
                qty(n.quantity),
                item.base_unit,
                wh.code,
                n.date
            ),
            errors: fresh
                .first()
                .map(|(i, _)| FieldError::new(&moves[*i].field, "not enough stock on that date"))
                .into_iter()
                .collect(),
        })?;

    // What was counted missing is gone whether or not it was promised: a count loss is not held
    // back by reservations (available may then fall below zero until they are released).
    let out_requested: Decimal = fresh
        .iter()
        .filter(|(_, e)| e.quantity < Decimal::ZERO && e.kind != "count_loss")
        .map(|(_, e)| -e.quantity)
        .sum();
    if !wh.allow_negative && out_requested > Decimal::ZERO && state.quantity < level.reserved {
        let field = fresh
            .iter()
            .find(|(_, e)| e.quantity < Decimal::ZERO)
            .map(|(i, _)| moves[*i].field.clone())
            .unwrap_or_default();
        return Err(short(ctx, &item, &wh, level.quantity - level.reserved, out_requested, &field));
    }
    if !wh.allow_negative {
        let mut per_batch: BTreeMap<Uuid, (Decimal, String)> = BTreeMap::new();
        for (i, e) in fresh.iter().filter(|(_, e)| e.quantity < Decimal::ZERO) {
            if let Some(b) = e.batch_id {
                let slot = per_batch.entry(b).or_insert((Decimal::ZERO, moves[*i].field.clone()));
                slot.0 -= e.quantity;
            }
        }
        if !per_batch.is_empty() {
            let have = store::batch_levels(tx, level.item_id, level.warehouse_id).await?;
            let ins: HashMap<Uuid, Decimal> =
                fresh.iter().filter(|(_, e)| e.quantity > Decimal::ZERO).fold(HashMap::new(), |mut m, (_, e)| {
                    if let Some(b) = e.batch_id {
                        *m.entry(b).or_default() += e.quantity;
                    }
                    m
                });
            for (b, (need, field)) in per_batch {
                let available = have.get(&b).copied().unwrap_or_default() + ins.get(&b).copied().unwrap_or_default();
                if available < need {
                    let lot = store::get_batches(tx, &[b]).await?.remove(&b).map(|b| b.lot_number).unwrap_or_default();
                    return Err(AppError::InsufficientStock {
                        detail: format!(
                            "Item {} lot {} has {} {} in {}, {} requested",
                            item.sku,
                            lot,
                            qty(available),
                            item.base_unit,
                            wh.code,
                            qty(need)
                        ),
                        errors: vec![FieldError::new(field, format!("only {} in lot {lot}", qty(available)))],
                    });
                }
            }
        }
    }

    let mut movements: Vec<(usize, LedgerEntry)> = fresh.to_vec();
    let mut adjustments = Vec::new();
    let mut revalued_outs = Vec::new();
    let by_id: HashMap<Uuid, &LedgerEntry> = history.iter().map(|e| (e.id, e)).collect();
    for c in corrections {
        if let Some((_, e)) = movements.iter_mut().find(|(_, e)| e.id == c.entry) {
            // A new entry takes its value as computed; a drain follows it.
            e.value += c.revalue;
            if !c.drain.is_zero() {
                let drain = ctx.adjustment(e, "drain", c.drain, c.date);
                adjustments.push(drain);
            }
            continue;
        }
        let Some(old) = by_id.get(&c.entry) else { return Err(AppError::internal("correction of an unknown entry")) };
        if !c.revalue.is_zero() {
            adjustments.push(ctx.adjustment(old, "revaluation", c.revalue, c.date));
            if old.kind == "transfer_out" {
                revalued_outs.push(old.id);
            }
        }
        if !c.drain.is_zero() {
            adjustments.push(ctx.adjustment(old, "drain", c.drain, c.date));
        }
    }
    let mut cascade: Vec<(Uuid, Uuid)> = store::paired_entries(tx, &revalued_outs)
        .await?
        .iter()
        .chain(ctx.pending.iter().filter(|e| e.pair_entry_id.is_some_and(|p| revalued_outs.contains(&p))))
        .map(|e| (e.item_id, e.warehouse_id))
        .collect();
    cascade.dedup();

    level.quantity = state.quantity;
    level.value = state.value;
    level.last_unit_cost = state.unit_cost();
    level.last_date = [level.last_date, history.last().map(|e| e.entry_date), Some(date).filter(|_| !fresh.is_empty())]
        .into_iter()
        .flatten()
        .max();
    if item.valuation_method == rules::Method::Fifo {
        store::save_layers(tx, level.item_id, level.warehouse_id, &state).await?;
    }
    Ok(PairOutcome { movements, adjustments, cascade })
}

/// The replay steps of a pair's history: movements with what they carry now.
async fn history_steps(tx: &TenantTx<'_>, pending: &[LedgerEntry], history: &[LedgerEntry]) -> AppResult<Vec<Step>> {
    let mut revalued: HashMap<Uuid, Decimal> = HashMap::new();
    let mut drained: HashMap<Uuid, Decimal> = HashMap::new();
    for a in history.iter().filter(|e| e.adjusts_entry_id.is_some()) {
        let target = a.adjusts_entry_id.unwrap_or_default();
        let slot = if a.kind == "drain" { drained.entry(target) } else { revalued.entry(target) };
        *slot.or_default() += a.value;
    }
    // Transfers in carry their sending side's value as it stands now.
    let outs: Vec<Uuid> = history.iter().filter_map(|e| e.pair_entry_id).collect();
    let mut pair_values: HashMap<Uuid, Decimal> =
        store::get_entries(tx, &outs).await?.into_values().map(|e| (e.id, e.value)).collect();
    for e in pending.iter().filter(|e| outs.contains(&e.id)) {
        pair_values.insert(e.id, e.value);
    }
    let stored = store::adjustments_of(tx, &outs).await?;
    for a in stored.iter().chain(pending.iter().filter(|a| a.adjusts_entry_id.is_some_and(|t| outs.contains(&t)))) {
        *pair_values.entry(a.adjusts_entry_id.unwrap_or_default()).or_default() += a.value;
    }
    Ok(history
        .iter()
        .filter(|e| e.adjusts_entry_id.is_none())
        .map(|e| {
            let carried = e.value + revalued.get(&e.id).copied().unwrap_or_default();
            let fixed = match e.pair_entry_id {
                Some(out) => -pair_values.get(&out).copied().unwrap_or_default(),
                None => carried,
            };
            let fixed = if e.quantity.is_zero() { e.value } else { fixed };
            Step {
                entry: e.id,
                date: e.entry_date,
                mv: to_move(e, fixed),
                carried,
                drained: drained.get(&e.id).copied().unwrap_or_default(),
            }
        })
        .collect())
}

/// The journal entries of the valued entries, one per date, checked against the chart and
/// the period and marked posted, not yet inserted. Runs before the document takes its number,
/// so that the number's sequence is held only for the inserts.
async fn prepare_values(
    tx: &TenantTx<'_>,
    ctx: &Context<'_>,
    entries: &[LedgerEntry],
) -> AppResult<Vec<(crate::store::ledger::Entry, Vec<EntryLine>)>> {
    let mut by_date: BTreeMap<NaiveDate, BTreeMap<(Uuid, Uuid, bool), Decimal>> = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.value.is_zero()) {
        let lines = by_date.entry(e.entry_date).or_default();
        let v = e.value.abs();
        let incoming = e.value > Decimal::ZERO;
        *lines.entry((ctx.accounts.inventory, e.item_id, incoming)).or_default() += v;
        *lines.entry((e.counter_account_id, e.item_id, !incoming)).or_default() += v;
    }
    let mut out = Vec::new();
    for (date, lines) in by_date {
        let lines: Vec<EntryLine> = lines
            .into_iter()
            .filter(|(_, v)| !v.is_zero())
            .map(|((account, item, debit), v)| {
                let sku = ctx.items.get(&item).map(|i| i.sku.clone()).unwrap_or_default();
                let dims = Dimensions { item_id: Some(item), ..Default::default() };
                let memo = format!("{} {sku}", ctx.source.memo);
                if debit {
                    EntryLine::base(account, v, Decimal::ZERO, memo, dims)
                } else {
                    EntryLine::base(account, Decimal::ZERO, v, memo, dims)
                }
            })
            .collect();
        let source_type = if date == ctx.source.date { ctx.source.source_type } else { "stock_revaluation" };
        let mut entry = document_entry(
            date,
            ctx.source.memo.clone(),
            &ctx.base,
            Decimal::ONE,
            &lines,
            source_type,
            ctx.source.document_id,
            ctx.source.created_by,
            ctx.now,
        );
        check_document_entry(tx, &mut entry, &lines, ctx.now).await?;
        out.push((entry, lines));
    }
    Ok(out)
}

/// Inserts the prepared journal entries, their memos led by the document's number, and links
/// the stock entries to them.
async fn book_values(
    tx: &TenantTx<'_>,
    prepared: Vec<(crate::store::ledger::Entry, Vec<EntryLine>)>,
    number: Option<&str>,
    entries: &mut [LedgerEntry],
) -> AppResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    for (mut entry, mut lines) in prepared {
        if let Some(n) = number {
            entry.memo = format!("{n} {}", entry.memo);
            for l in &mut lines {
                l.memo = format!("{n} {}", l.memo);
            }
        }
        crate::store::ledger::insert_entry(tx, &entry, &lines).await?;
        for e in entries.iter_mut().filter(|e| e.entry_date == entry.entry_date && !e.value.is_zero()) {
            e.journal_entry_id = Some(entry.id);
        }
        ids.push(entry.id);
    }
    Ok(ids)
}
