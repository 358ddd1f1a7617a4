//! Bills of material as a graph: cycle detection (with the cycle named), indented explosion
//! for an order quantity (scrap, phantoms, sub-assemblies with their own bills), where-used,
//! low-level codes for MRP, and the cost roll-up. Pure functions over the bills the caller
//! loaded; quantities keep 4 decimal places and round up, because a shortfall of a
//! ten-thousandth is still a shortfall.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

/// How a component reaches the production order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueMethod {
    /// Issued as a kit for the quantity released (配套领料).
    Kit,
    /// Consumed automatically at completion, by the bill (倒冲领料).
    Backflush,
}

impl IssueMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueMethod::Kit => "kit",
            IssueMethod::Backflush => "backflush",
        }
    }

    pub fn parse(s: &str) -> Option<IssueMethod> {
        match s {
            "kit" => Some(IssueMethod::Kit),
            "backflush" => Some(IssueMethod::Backflush),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub component: Uuid,
    /// Per `Bill::output` units of the parent.
    pub quantity: Decimal,
    /// Extra consumed as scrap, as a fraction (0.05 is 5 %).
    pub scrap: Decimal,
    pub issue: IssueMethod,
    /// A phantom is never stocked: its own bill's components are used in its place.
    pub phantom: bool,
    /// Comes out of production rather than going in.
    pub byproduct: bool,
}

/// One bill: what `output` units of `item` are made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Bill {
    pub id: Uuid,
    pub item: Uuid,
    pub output: Decimal,
    pub lines: Vec<Line>,
}

/// The quantity of a line for `parent_quantity` units of its parent, scrap included.
pub fn required(bill: &Bill, line: &Line, parent_quantity: Decimal) -> Decimal {
    let per_unit = line.quantity / bill.output;
    (parent_quantity * per_unit * (Decimal::ONE + line.scrap))
        .round_dp_with_strategy(4, RoundingStrategy::AwayFromZero)
        .normalize()
}

/// The first cycle that `parent` made of `components` would close, as the items along it
/// (starting and ending with `parent`), or `None`. `uses` gives each item's components in the
/// other bills.
pub fn find_cycle(uses: &HashMap<Uuid, Vec<Uuid>>, parent: Uuid, components: &[Uuid]) -> Option<Vec<Uuid>> {
    // Depth-first from each component, remembering the way back; an item seen once needs no
    // second visit.
    let mut seen: HashSet<Uuid> = HashSet::new();
    for &start in components {
        let mut stack: Vec<(Uuid, usize)> = vec![(start, 0)];
        let mut path: Vec<Uuid> = Vec::new();
        while let Some((item, depth)) = stack.pop() {
            path.truncate(depth);
            path.push(item);
            if item == parent {
                let mut cycle = vec![parent];
                cycle.extend(path);
                return Some(cycle);
            }
            if !seen.insert(item) {
                continue;
            }
            for &next in uses.get(&item).map(Vec::as_slice).unwrap_or_default() {
                stack.push((next, depth + 1));
            }
        }
    }
    None
}

/// One row of an indented explosion.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// 1 for the bill's own lines.
    pub level: u32,
    pub item: Uuid,
    /// The parent whose bill this line belongs to.
    pub parent: Uuid,
    pub per_parent: Decimal,
    pub scrap: Decimal,
    /// Needed for the order quantity, scrap included.
    pub quantity: Decimal,
    pub issue: IssueMethod,
    pub phantom: bool,
    pub byproduct: bool,
    /// The bill it explodes through, when it has one.
    pub bill: Option<Uuid>,
}

/// Explodes `root` for `quantity` units, depth first in line order. Components with a bill of
/// their own (`bill_of`) are exploded below their row. A cycle found on the way is an error
/// naming it (bills saved through [`find_cycle`] have none; this guards a bad read).
pub fn explode<'b>(
    bill_of: &impl Fn(Uuid) -> Option<&'b Bill>,
    root: &Bill,
    quantity: Decimal,
) -> Result<Vec<Row>, Vec<Uuid>> {
    let mut out = Vec::new();
    let mut trail = vec![root.item];
    walk(bill_of, root, quantity, 1, &mut trail, &mut out)?;
    Ok(out)
}

fn walk<'b>(
    bill_of: &impl Fn(Uuid) -> Option<&'b Bill>,
    bill: &Bill,
    quantity: Decimal,
    level: u32,
    trail: &mut Vec<Uuid>,
    out: &mut Vec<Row>,
) -> Result<(), Vec<Uuid>> {
    for line in &bill.lines {
        let needed = required(bill, line, quantity);
        let sub = if line.byproduct { None } else { bill_of(line.component) };
        out.push(Row {
            level,
            item: line.component,
            parent: bill.item,
            per_parent: line.quantity / bill.output,
            scrap: line.scrap,
            quantity: needed,
            issue: line.issue,
            phantom: line.phantom,
            byproduct: line.byproduct,
            bill: sub.map(|b| b.id),
        });
        if let Some(sub) = sub {
            if trail.contains(&line.component) {
                let mut cycle = trail.clone();
                cycle.push(line.component);
                return Err(cycle);
            }
            trail.push(line.component);
            walk(bill_of, sub, needed, level + 1, trail, out)?;
            trail.pop();
        }
    }
    Ok(())
}

/// Each item's low-level code: the deepest level at which it appears in any bill (0 for items
/// that are no one's component). MRP nets items in this order, so an item's whole demand is
/// known before it is netted.
pub fn low_level_codes(bills: &[Bill]) -> HashMap<Uuid, u32> {
    let uses: HashMap<Uuid, Vec<Uuid>> = bills
        .iter()
        .map(|b| (b.item, b.lines.iter().filter(|l| !l.byproduct).map(|l| l.component).collect()))
        .collect();
    let mut code: HashMap<Uuid, u32> = HashMap::new();
    // Kahn's order over parents → components: an item's code is settled once all its parents'
    // are.
    let mut parents_left: HashMap<Uuid, usize> = HashMap::new();
    for comps in uses.values() {
        for c in comps.iter().collect::<HashSet<_>>() {
            *parents_left.entry(*c).or_default() += 1;
        }
    }
    let mut ready: Vec<Uuid> = uses.keys().filter(|i| !parents_left.contains_key(i)).copied().collect();
    for r in &ready {
        code.insert(*r, 0);
    }
    while let Some(item) = ready.pop() {
        let level = code.get(&item).copied().unwrap_or(0);
        for c in uses.get(&item).map(Vec::as_slice).unwrap_or_default().iter().collect::<HashSet<_>>() {
            let e = code.entry(*c).or_insert(0);
            *e = (*e).max(level + 1);
            if let Some(left) = parents_left.get_mut(c) {
                *left -= 1;
                if *left == 0 {
                    ready.push(*c);
                }
            }
        }
    }
    code
}

/// Where an item is used: each bill that lists it, and (with `indirect`) the bills above those.
/// Returns (level, bill, parent item), level 1 for direct use.
pub fn where_used(bills: &[Bill], item: Uuid, indirect: bool) -> Vec<(u32, Uuid, Uuid)> {
    let mut by_component: BTreeMap<Uuid, Vec<&Bill>> = BTreeMap::new();
    for b in bills {
        for l in &b.lines {
            by_component.entry(l.component).or_default().push(b);
        }
    }
    let mut out = Vec::new();
    let mut seen: HashSet<(Uuid, u32)> = HashSet::new();
    let mut frontier = vec![(item, 1u32)];
    while let Some((it, level)) = frontier.pop() {
        for b in by_component.get(&it).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert((b.id, level)) {
                out.push((level, b.id, b.item));
                if indirect && level < 64 {
                    frontier.push((b.item, level + 1));
                }
            }
        }
    }
    out.sort_by_key(|(level, bill, _)| (*level, *bill));
    out
}

/// Overhead a bill's roll-up adds per unit made: a fraction of the material cost and a fixed
/// amount.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Overhead {
    pub rate: Decimal,
    pub per_unit: Decimal,
}

/// One unit's cost by the bill: material (components at `unit_cost`, or rolled up themselves
/// when they have a bill; by-products credited), overhead, and the total, all unrounded (the
/// caller rounds for display).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rolled {
    pub material: Decimal,
    pub overhead: Decimal,
    pub unit_cost: Decimal,
    /// Per line: (component, quantity per unit, its unit cost, extended).
    pub lines: Vec<(Uuid, Decimal, Decimal, Decimal)>,
}

pub fn roll_up<'b>(
    bill_of: &impl Fn(Uuid) -> Option<&'b Bill>,
    bill: &Bill,
    unit_cost: &impl Fn(Uuid) -> Decimal,
    overhead: Overhead,
    depth: u32,
) -> Rolled {
    let mut material = Decimal::ZERO;
    let mut lines = Vec::new();
    for l in &bill.lines {
        let per_unit = required(bill, l, Decimal::ONE);
        let cost = match bill_of(l.component).filter(|_| !l.byproduct && depth < 64) {
            // A phantom is never made on its own: its components pass through, with no
            // overhead of its own.
            Some(sub) if l.phantom => roll_up(bill_of, sub, unit_cost, overhead, depth + 1).material,
            Some(sub) => roll_up(bill_of, sub, unit_cost, overhead, depth + 1).unit_cost,
            None => unit_cost(l.component),
        };
        let extended = per_unit * cost;
        material += if l.byproduct { -extended } else { extended };
        lines.push((l.component, per_unit, cost, extended));
    }
    let overhead_cost = material.max(Decimal::ZERO) * overhead.rate + overhead.per_unit;
    Rolled { material, overhead: overhead_cost, unit_cost: material + overhead_cost, lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("a decimal")
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn line(component: u128, quantity: Decimal, scrap: Decimal) -> Line {
        Line { component: id(component), quantity, scrap, issue: IssueMethod::Kit, phantom: false, byproduct: false }
    }

    fn bill(n: u128, item: u128, output: Decimal, lines: Vec<Line>) -> Bill {
        Bill { id: id(1000 + n), item: id(item), output, lines }
    }

    /// A bike (1) of a frame (2), two wheels (3) and a kit phantom (6); a wheel of a rim (4)
    /// and 36 spokes (5) with 2.5 % scrap; the phantom of a bell (7).
    fn bikes() -> Vec<Bill> {
        vec![
            bill(
                1,
                1,
                d("1"),
                vec![
                    line(2, d("1"), d("0")),
                    line(3, d("2"), d("0")),
                    Line { phantom: true, ..line(6, d("1"), d("0")) },
                ],
            ),
            bill(2, 3, d("1"), vec![line(4, d("1"), d("0")), line(5, d("36"), d("0.025"))]),
            bill(3, 6, d("1"), vec![line(7, d("1"), d("0"))]),
        ]
    }

    fn index(bills: &[Bill]) -> HashMap<Uuid, &Bill> {
        bills.iter().map(|b| (b.item, b)).collect()
    }

    #[test]
    fn explosion_multiplies_down_the_levels_with_scrap() {
        let bills = bikes();
        let idx = index(&bills);
        let rows = explode(&|i| idx.get(&i).copied(), &bills[0], d("10")).unwrap();
        let got: Vec<(u32, Uuid, Decimal)> = rows.iter().map(|r| (r.level, r.item, r.quantity)).collect();
        assert_eq!(
            got,
            vec![
                (1, id(2), d("10")),
                (1, id(3), d("20")),
                (2, id(4), d("20")),
                // 20 wheels × 36 spokes × 1.025
                (2, id(5), d("738")),
                (1, id(6), d("10")),
                (2, id(7), d("10")),
            ]
        );
        assert!(rows[4].phantom && rows[4].bill == Some(id(1003)));
    }

    #[test]
    fn required_rounds_up_at_four_places_and_divides_by_the_bills_output() {
        let b = bill(9, 9, d("3"), vec![line(8, d("1"), d("0"))]);
        assert_eq!(required(&b, &b.lines[0], d("1")), d("0.3334"));
        assert_eq!(required(&b, &b.lines[0], d("3")), d("1"));
    }

    #[test]
    fn a_cycle_is_found_at_any_depth_and_named_in_order() {
        let bills = bikes();
        let uses: HashMap<Uuid, Vec<Uuid>> =
            bills.iter().map(|b| (b.item, b.lines.iter().map(|l| l.component).collect())).collect();
        // A spoke made of bikes: spoke → bike → wheel → spoke.
        assert_eq!(find_cycle(&uses, id(5), &[id(1)]), Some(vec![id(5), id(1), id(3), id(5)]));
        // Directly itself.
        assert_eq!(find_cycle(&uses, id(9), &[id(9)]), Some(vec![id(9), id(9)]));
        // A new bill for a rim of steel is fine.
        assert_eq!(find_cycle(&uses, id(4), &[id(8)]), None);
    }

    #[test]
    fn low_level_codes_take_the_deepest_use() {
        let mut bills = bikes();
        // The rim (4) is also a direct component of the bike: level 1 and 2, so code 2.
        bills[0].lines.push(line(4, d("1"), d("0")));
        let codes = low_level_codes(&bills);
        assert_eq!(codes[&id(1)], 0);
        assert_eq!((codes[&id(3)], codes[&id(4)], codes[&id(5)], codes[&id(7)]), (1, 2, 2, 2));
    }

    #[test]
    fn where_used_climbs_to_the_top() {
        let bills = bikes();
        let direct = where_used(&bills, id(5), false);
        assert_eq!(direct, vec![(1, id(1002), id(3))]);
        let all = where_used(&bills, id(5), true);
        assert_eq!(all, vec![(1, id(1002), id(3)), (2, id(1001), id(1))]);
    }

    #[test]
    fn the_roll_up_adds_components_scrap_and_overhead() {
        let bills = bikes();
        let idx = index(&bills);
        let cost = |i: Uuid| match i.as_u128() {
            2 => d("100"),
            4 => d("10"),
            5 => d("0.20"),
            7 => d("3"),
            _ => Decimal::ZERO,
        };
        let r = roll_up(&|i| idx.get(&i).copied(), &bills[0], &cost, Overhead { rate: d("0.1"), per_unit: d("5") }, 0);
        // A wheel: 10 + 36 × 1.025 × 0.20 = 17.38, plus 10 % and 5.00 = 24.118.
        // The bike: 100 + 2 × 24.118 + 3 = 151.236; plus 10 % and 5.00 = 171.3596.
        assert_eq!(r.material, d("151.236"));
        assert_eq!(r.unit_cost, d("171.3596"));
    }
}
