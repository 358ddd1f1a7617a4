//! Stock rules: unit conversion, valuation (moving average and FIFO) of one item in one
//! warehouse, the replay that revalues everything after a back-dated movement, landed-cost
//! shares, first-expiry-first-out batch picking and reorder suggestions.
//!
//! Values are rounded to the base currency's minor unit (`digits`) as they are taken, so the
//! stock ledger and the inventory accounts hold the same amounts to the cent. When a
//! balance's quantity reaches zero whatever value is left is drained in the same step.

use std::collections::VecDeque;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::tax::round;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    MovingAverage,
    Fifo,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::MovingAverage => "moving_average",
            Method::Fifo => "fifo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "moving_average" => Some(Method::MovingAverage),
            "fifo" => Some(Method::Fifo),
            _ => None,
        }
    }
}

pub const ITEM_TYPES: &[&str] = &["stocked", "service", "manufactured", "purchased", "both"];

/// Whether items of a type move through warehouses (services do not).
pub fn is_stocked(item_type: &str) -> bool {
    item_type != "service"
}

/// A quantity entered in `unit` converted to the base unit (`factor` base units per unit).
/// Errors when the result needs more than the 4 decimal places quantities keep.
pub fn to_base(quantity: Decimal, factor: Decimal) -> Result<Decimal, String> {
    let q = (quantity * factor).normalize();
    if q.scale() > 4 {
        return Err(format!("is {q} in the base unit, more than 4 decimal places"));
    }
    Ok(q)
}

/// A FIFO layer: what is left of one receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The stock ledger entry that brought it in.
    pub entry: Uuid,
    pub quantity: Decimal,
    pub value: Decimal,
}

/// One movement as valuation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Move {
    /// Quantity in at a given value (receipt, transfer in at the sending side's value, gain).
    In { entry: Uuid, quantity: Decimal, value: Decimal },
    /// Quantity out, valued by the method.
    Out { quantity: Decimal },
    /// Value without quantity (landed cost), onto one receipt's layer under FIFO.
    Value { value: Decimal, layer: Option<Uuid> },
}

/// What a movement did to value: `value` is its own signed amount (fixed for `In` and
/// `Value`, computed for `Out`), `drain` what had to leave with it because quantity reached
/// zero (or its layer was gone) with value left over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub value: Decimal,
    pub drain: Decimal,
}

/// The valuation state of one item in one warehouse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Valuation {
    pub method: Method,
    pub digits: u32,
    pub quantity: Decimal,
    pub value: Decimal,
    /// Cost per unit used when stock goes negative or is found at a count with none on hand.
    pub last_unit_cost: Decimal,
    pub layers: VecDeque<Layer>,
}

impl Valuation {
    pub fn new(method: Method, digits: u32) -> Self {
        Valuation {
            method,
            digits,
            quantity: Decimal::ZERO,
            value: Decimal::ZERO,
            last_unit_cost: Decimal::ZERO,
            layers: VecDeque::new(),
        }
    }

    /// The cost of one unit now: the average on hand, else the last known.
    pub fn unit_cost(&self) -> Decimal {
        if self.quantity > Decimal::ZERO { unit(self.value, self.quantity) } else { self.last_unit_cost }
    }

    /// The value `quantity` units would take out now, without taking them.
    pub fn peek_out(&self, quantity: Decimal) -> Decimal {
        self.clone().apply(&Move::Out { quantity }).value.abs()
    }

    pub fn apply(&mut self, mv: &Move) -> Applied {
        let mut applied = match mv {
            Move::In { entry, quantity, value } => {
                let before = self.quantity;
                self.quantity += quantity;
                self.value += value;
                if self.method == Method::Fifo {
                    if before >= Decimal::ZERO {
                        self.layers.push_back(Layer { entry: *entry, quantity: *quantity, value: *value });
                    } else if self.quantity > Decimal::ZERO {
                        // The part that covered negative stock makes no layer; what is left
                        // carries the whole remaining value.
                        self.layers.push_back(Layer { entry: *entry, quantity: self.quantity, value: self.value });
                    }
                }
                Applied { value: *value, drain: Decimal::ZERO }
            }
            Move::Out { quantity } => {
                let taken = match self.method {
                    Method::MovingAverage => self.average_out(*quantity),
                    Method::Fifo => self.fifo_out(*quantity),
                };
                self.quantity -= quantity;
                self.value -= taken;
                Applied { value: -taken, drain: Decimal::ZERO }
            }
            Move::Value { value, layer } => {
                let mut drain = Decimal::ZERO;
                self.value += value;
                if self.method == Method::Fifo {
                    match layer.and_then(|id| self.layers.iter_mut().find(|l| l.entry == id)) {
                        Some(l) => l.value += value,
                        None => {
                            // Its receipt is gone: nothing on hand to carry it.
                            self.value -= value;
                            drain = -value;
                        }
                    }
                }
                Applied { value: *value, drain }
            }
        };
        if self.quantity.is_zero() && !self.value.is_zero() {
            applied.drain -= self.value;
            self.value = Decimal::ZERO;
            self.layers.clear();
        }
        if self.quantity > Decimal::ZERO {
            self.last_unit_cost = match (self.method, self.layers.back()) {
                (Method::Fifo, Some(l)) => unit(l.value, l.quantity),
                _ => unit(self.value, self.quantity),
            };
        }
        applied
    }

    fn average_out(&self, q: Decimal) -> Decimal {
        if self.quantity <= Decimal::ZERO {
            return round(q * self.last_unit_cost, self.digits);
        }
        if q == self.quantity {
            self.value
        } else if q < self.quantity {
            round(self.value * q / self.quantity, self.digits)
        } else {
            self.value + round((q - self.quantity) * unit(self.value, self.quantity), self.digits)
        }
    }

    fn fifo_out(&mut self, q: Decimal) -> Decimal {
        let mut left = q;
        let mut taken = Decimal::ZERO;
        while left > Decimal::ZERO {
            let Some(front) = self.layers.front_mut() else { break };
            if front.quantity <= left {
                left -= front.quantity;
                taken += front.value;
                self.last_unit_cost = unit(front.value, front.quantity);
                self.layers.pop_front();
            } else {
                let part = round(front.value * left / front.quantity, self.digits);
                front.quantity -= left;
                front.value -= part;
                taken += part;
                left = Decimal::ZERO;
            }
        }
        if left > Decimal::ZERO {
            taken += round(left * self.last_unit_cost, self.digits);
        }
        taken
    }
}

fn unit(value: Decimal, quantity: Decimal) -> Decimal {
    if quantity.is_zero() {
        return Decimal::ZERO;
    }
    (value / quantity).round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// One stock ledger movement in date order, with what the ledger holds for it now.
#[derive(Clone, Debug)]
pub struct Step {
    pub entry: Uuid,
    pub date: NaiveDate,
    /// For `In` and `Value` the value it should carry (a transfer in carries the sending
    /// side's value as it stands now).
    pub mv: Move,
    /// Its own value plus its revaluations.
    pub carried: Decimal,
    /// The sum of its drains.
    pub drained: Decimal,
}

/// A revaluation (`revalue`) or drain (`drain`) that brings one entry to what the replay says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    pub entry: Uuid,
    pub date: NaiveDate,
    pub revalue: Decimal,
    pub drain: Decimal,
}

/// Quantity went below zero where that is not allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negative {
    pub date: NaiveDate,
    pub quantity: Decimal,
}

/// Values every step again in order from `start` and returns the final state with the
/// corrections that make the ledger agree. Steps dated on or after `check_from` must not take
/// quantity below zero unless `allow_negative`.
pub fn replay(
    start: Valuation,
    steps: &[Step],
    allow_negative: bool,
    check_from: NaiveDate,
) -> Result<(Valuation, Vec<Correction>), Negative> {
    let mut state = start;
    let mut corrections = Vec::new();
    for s in steps {
        let applied = state.apply(&s.mv);
        if !allow_negative && s.date >= check_from && state.quantity < Decimal::ZERO {
            return Err(Negative { date: s.date, quantity: state.quantity });
        }
        let revalue = applied.value - s.carried;
        let drain = applied.drain - s.drained;
        if !revalue.is_zero() || !drain.is_zero() {
            corrections.push(Correction { entry: s.entry, date: s.date, revalue, drain });
        }
    }
    Ok((state, corrections))
}

/// Picks batches first-expiry-first-out (no expiry last, then by lot) for `need`; `Err` holds
/// what all batches together have.
pub fn fefo<T: Clone>(
    batches: &[(T, Option<NaiveDate>, String, Decimal)],
    need: Decimal,
) -> Result<Vec<(T, Decimal)>, Decimal> {
    let mut order: Vec<&(T, Option<NaiveDate>, String, Decimal)> =
        batches.iter().filter(|b| b.3 > Decimal::ZERO).collect();
    order.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.2.cmp(&b.2)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.2.cmp(&b.2),
    });
    let mut left = need;
    let mut picks = Vec::new();
    for b in order {
        if left.is_zero() {
            break;
        }
        let take = b.3.min(left);
        picks.push((b.0.clone(), take));
        left -= take;
    }
    if left > Decimal::ZERO {
        return Err(need - left);
    }
    Ok(picks)
}

/// How much to order for an item whose available quantity fell below its reorder point or
/// safety stock: up to the maximum stock (or the higher of the two levels), in multiples of the
/// reorder quantity when one is set. Zero when nothing is needed.
pub fn suggested_order(
    available: Decimal,
    safety_stock: Decimal,
    reorder_point: Decimal,
    reorder_quantity: Decimal,
    max_stock: Option<Decimal>,
) -> Decimal {
    let trigger = reorder_point.max(safety_stock);
    if available >= trigger && !(trigger.is_zero() && available < Decimal::ZERO) {
        return Decimal::ZERO;
    }
    let target = max_stock.unwrap_or(trigger).max(trigger);
    let short = (target - available).max(Decimal::ZERO);
    if reorder_quantity > Decimal::ZERO {
        let lots = (short / reorder_quantity).ceil().max(Decimal::ONE);
        lots * reorder_quantity
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! dec {
        ($x:expr) => {
            stringify!($x).replace(' ', "").parse::<Decimal>().unwrap()
        };
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rin(v: &mut Valuation, q: Decimal, value: Decimal) -> Uuid {
        let id = Uuid::now_v7();
        v.apply(&Move::In { entry: id, quantity: q, value });
        id
    }

    #[test]
    fn moving_average_takes_the_average_and_drains_the_rest_at_zero() {
        let mut v = Valuation::new(Method::MovingAverage, 2);
        rin(&mut v, dec!(3), dec!(10.00));
        assert_eq!(v.apply(&Move::Out { quantity: dec!(1) }).value, dec!(-3.33));
        assert_eq!(v.apply(&Move::Out { quantity: dec!(1) }).value, dec!(-3.34));
        let last = v.apply(&Move::Out { quantity: dec!(1) });
        assert_eq!(last.value, dec!(-3.33), "the last unit takes exactly what is left");
        assert_eq!((v.quantity, v.value), (Decimal::ZERO, Decimal::ZERO));
    }

    #[test]
    fn fifo_takes_the_oldest_layers_first() {
        let mut v = Valuation::new(Method::Fifo, 2);
        rin(&mut v, dec!(10), dec!(100));
        rin(&mut v, dec!(10), dec!(120));
        assert_eq!(v.apply(&Move::Out { quantity: dec!(15) }).value, dec!(-160));
        assert_eq!(v.layers.len(), 1);
        assert_eq!((v.quantity, v.value), (dec!(5), dec!(60)));
        assert_eq!(v.apply(&Move::Out { quantity: dec!(5) }).value, dec!(-60));
        assert!(v.layers.is_empty());
    }

    #[test]
    fn negative_stock_is_valued_at_the_last_cost_and_a_receipt_to_zero_drains_the_difference() {
        for method in [Method::MovingAverage, Method::Fifo] {
            let mut v = Valuation::new(method, 2);
            rin(&mut v, dec!(1), dec!(10));
            assert_eq!(v.apply(&Move::Out { quantity: dec!(3) }).value, dec!(-30), "{method:?}");
            assert_eq!((v.quantity, v.value), (dec!(-2), dec!(-20)));
            let a = v.apply(&Move::In { entry: Uuid::now_v7(), quantity: dec!(2), value: dec!(24) });
            assert_eq!(a, Applied { value: dec!(24), drain: dec!(-4) }, "{method:?}");
            assert_eq!((v.quantity, v.value), (Decimal::ZERO, Decimal::ZERO));
        }
    }

    #[test]
    fn landed_cost_goes_onto_its_layer_or_drains_when_the_layer_is_gone() {
        let mut v = Valuation::new(Method::Fifo, 2);
        let first = rin(&mut v, dec!(2), dec!(20));
        let second = rin(&mut v, dec!(2), dec!(30));
        v.apply(&Move::Value { value: dec!(4), layer: Some(second) });
        assert_eq!(v.layers[1].value, dec!(34));
        v.apply(&Move::Out { quantity: dec!(2) });
        let a = v.apply(&Move::Value { value: dec!(5), layer: Some(first) });
        assert_eq!(a, Applied { value: dec!(5), drain: dec!(-5) });
        assert_eq!(v.value, dec!(34));
    }

    #[test]
    fn a_back_dated_receipt_revalues_later_issues() {
        let id = |n: u128| Uuid::from_u128(n);
        let (r1, i1, r0) = (id(1), id(2), id(3));
        let steps = |with_back_dated: bool| {
            let mut s = vec![Step {
                entry: r1,
                date: d(2026, 1, 1),
                mv: Move::In { entry: r1, quantity: dec!(10), value: dec!(100) },
                carried: dec!(100),
                drained: Decimal::ZERO,
            }];
            if with_back_dated {
                s.push(Step {
                    entry: r0,
                    date: d(2026, 1, 5),
                    mv: Move::In { entry: r0, quantity: dec!(10), value: dec!(200) },
                    carried: dec!(200),
                    drained: Decimal::ZERO,
                });
            }
            s.push(Step {
                entry: i1,
                date: d(2026, 1, 10),
                mv: Move::Out { quantity: dec!(10) },
                carried: dec!(-100),
                drained: Decimal::ZERO,
            });
            s
        };
        let (state, fixes) =
            replay(Valuation::new(Method::MovingAverage, 2), &steps(false), false, d(2026, 1, 1)).unwrap();
        assert!(fixes.is_empty(), "replaying what the ledger holds changes nothing");
        assert_eq!(state.quantity, Decimal::ZERO);
        let (state, fixes) =
            replay(Valuation::new(Method::MovingAverage, 2), &steps(true), false, d(2026, 1, 5)).unwrap();
        assert_eq!(
            fixes,
            vec![Correction { entry: i1, date: d(2026, 1, 10), revalue: dec!(-50), drain: Decimal::ZERO }]
        );
        assert_eq!((state.quantity, state.value), (dec!(10), dec!(150)));
        let (_, fifo) = replay(Valuation::new(Method::Fifo, 2), &steps(true), false, d(2026, 1, 5)).unwrap();
        assert!(fifo.is_empty(), "FIFO still takes the first receipt");
    }

    #[test]
    fn a_back_dated_issue_that_would_leave_later_stock_negative_is_refused() {
        let steps = vec![
            Step {
                entry: Uuid::from_u128(1),
                date: d(2026, 1, 1),
                mv: Move::In { entry: Uuid::from_u128(1), quantity: dec!(5), value: dec!(5) },
                carried: dec!(5),
                drained: Decimal::ZERO,
            },
            Step {
                entry: Uuid::from_u128(2),
                date: d(2026, 1, 2),
                mv: Move::Out { quantity: dec!(3) },
                carried: dec!(-3),
                drained: Decimal::ZERO,
            },
            Step {
                entry: Uuid::from_u128(3),
                date: d(2026, 1, 3),
                mv: Move::Out { quantity: dec!(3) },
                carried: dec!(-2),
                drained: Decimal::ZERO,
            },
        ];
        let e = replay(Valuation::new(Method::MovingAverage, 2), &steps, false, d(2026, 1, 2)).unwrap_err();
        assert_eq!(e, Negative { date: d(2026, 1, 3), quantity: dec!(-1) });
        assert!(replay(Valuation::new(Method::MovingAverage, 2), &steps, true, d(2026, 1, 2)).is_ok());
    }

    #[test]
    fn units_convert_exactly_or_not_at_all() {
        assert_eq!(to_base(dec!(2), dec!(12)).unwrap(), dec!(24));
        assert_eq!(to_base(dec!(1.5), dec!(0.001)).unwrap(), dec!(0.0015));
        assert!(to_base(dec!(0.05), dec!(0.001)).unwrap_err().contains("4 decimal places"));
    }

    #[test]
    fn fefo_picks_the_earliest_expiry_and_reports_what_there_is() {
        let b = vec![
            ("late", Some(d(2027, 1, 1)), "L2".to_string(), dec!(5)),
            ("none", None, "L0".to_string(), dec!(5)),
            ("early", Some(d(2026, 6, 1)), "L1".to_string(), dec!(3)),
        ];
        assert_eq!(fefo(&b, dec!(6)).unwrap(), vec![("early", dec!(3)), ("late", dec!(3))]);
        assert_eq!(fefo(&b, dec!(20)).unwrap_err(), dec!(13));
    }

    #[test]
    fn reorder_suggestions_fill_to_the_target_in_lots() {
        assert_eq!(suggested_order(dec!(3), dec!(5), dec!(10), Decimal::ZERO, None), dec!(7));
        assert_eq!(suggested_order(dec!(3), dec!(5), dec!(10), dec!(6), None), dec!(12));
        assert_eq!(suggested_order(dec!(3), dec!(5), dec!(10), Decimal::ZERO, Some(dec!(50))), dec!(47));
        assert_eq!(suggested_order(dec!(10), dec!(5), dec!(10), dec!(6), None), Decimal::ZERO);
    }
}
