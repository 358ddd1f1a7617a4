//! CRM rules that take values and return values: the keys leads are de-duplicated on, lead
//! assignment, lead and opportunity state moves, the funnel's figures from stage totals, and RFM
//! segments.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

const HALF_UP: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

pub const LEAD_SOURCES: [&str; 6] = ["website", "phone", "referral", "trade_show", "import", "other"];
pub const ACTIVITY_KINDS: [&str; 5] = ["call", "visit", "email", "meeting", "note"];

/// The key an email is matched on: trimmed and lower-cased; None when it holds no `@`.
pub fn email_key(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (e.contains('@') && e.len() > 2).then_some(e)
}

/// The key a phone number is matched on: its digits, without a `00` international prefix and
/// without China's country code in front of an eleven-digit mobile number, so that
/// `+86 138-0013-8000`, `0086 13800138000` and `13800138000` are one number. None below six
/// digits (an extension is not a phone number).
pub fn phone_key(phone: &str) -> Option<String> {
    let mut d: String = phone.chars().filter(char::is_ascii_digit).collect();
    if let Some(rest) = d.strip_prefix("00") {
        d = rest.to_owned();
    }
    if d.len() == 13 && d.starts_with("861") {
        d = d[2..].to_owned();
    }
    (d.len() >= 6).then_some(d)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleKind {
    RoundRobin,
    Region(String),
    Tag(String),
}

#[derive(Clone, Debug)]
pub struct AssignmentRule {
    pub id: Uuid,
    pub kind: RuleKind,
    pub users: Vec<Uuid>,
    /// The position in `users` of the next one to get a lead.
    pub next_index: i32,
}

/// Who gets a new lead: the first rule (in the order given) that matches its region or one of
/// its tags, or a round-robin rule, hands it to its next user in turn. Returns the rule (to
/// advance its turn) and the user; None when no rule matches.
pub fn assign(rules: &[AssignmentRule], region: Option<&str>, tags: &[String]) -> Option<(Uuid, Uuid)> {
    let region = region.map(str::to_lowercase);
    rules.iter().filter(|r| !r.users.is_empty()).find_map(|r| {
        let hit = match &r.kind {
            RuleKind::RoundRobin => true,
            RuleKind::Region(want) => region.as_deref() == Some(want.to_lowercase().as_str()),
            RuleKind::Tag(want) => tags.iter().any(|t| t.eq_ignore_ascii_case(want)),
        };
        let n = r.users.len() as i64;
        hit.then(|| (r.id, r.users[i64::from(r.next_index).rem_euclid(n) as usize]))
    })
}

/// Whether a lead may go from one status to another by hand (conversion and losing are actions
/// of their own).
pub fn lead_move_ok(from: &str, to: &str) -> Result<(), String> {
    const OPEN: [&str; 3] = ["new", "contacted", "qualified"];
    if !OPEN.contains(&to) {
        return Err(format!("status must be one of {} (convert or lose the lead with their actions)", OPEN.join(", ")));
    }
    if !OPEN.contains(&from) {
        return Err(format!("the lead is {from}"));
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub id: Uuid,
    pub code: String,
    pub position: i32,
    /// open | won | lost
    pub kind: String,
    pub is_active: bool,
}

/// Why an open opportunity cannot be moved from one stage to another, if it cannot.
pub fn stage_move_error(status: &str, from: &Stage, to: &Stage) -> Option<String> {
    if status != "open" {
        return Some(format!("the opportunity is {status}"));
    }
    if to.kind != "open" {
        return Some(format!("stage {} closes the opportunity: use win or lose, with a reason", to.code));
    }
    if !to.is_active {
        return Some(format!("stage {} is no longer in use", to.code));
    }
    if to.id == from.id {
        return Some(format!("the opportunity is already in stage {}", to.code));
    }
    None
}

/// `part / whole` to 4 places, half away from zero (a rate shown to people); 0 when `whole` is.
pub fn share(part: i64, whole: i64) -> Decimal {
    if whole == 0 {
        return Decimal::ZERO;
    }
    (Decimal::from(part) / Decimal::from(whole)).round_dp_with_strategy(4, HALF_UP)
}

/// One stage's running totals (kept with every move) and what the funnel shows for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageTotals {
    pub open_count: i64,
    pub open_amount: Decimal,
    /// Times an opportunity entered the stage.
    pub entered: i64,
    /// Times one left it for a later stage or was won from it.
    pub advanced: i64,
    /// Finished stays in the stage, and their total length.
    pub stays: i64,
    pub stay_seconds: i64,
}

impl StageTotals {
    /// Stage-to-stage conversion: the share of entries that went on, to 4 places.
    pub fn conversion(&self) -> Option<Decimal> {
        (self.entered > 0).then(|| share(self.advanced, self.entered))
    }

    /// Average days in the stage over finished stays, to 2 places.
    pub fn average_days(&self) -> Option<Decimal> {
        (self.stays > 0).then(|| {
            (Decimal::from(self.stay_seconds) / Decimal::from(self.stays * 86_400)).round_dp_with_strategy(2, HALF_UP)
        })
    }
}

/// What a customer bought, for RFM.
#[derive(Clone, Debug)]
pub struct Purchases {
    pub customer: Uuid,
    pub days_since_last: i64,
    pub count: i64,
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rfm {
    pub customer: Uuid,
    /// 1 to 5 each, 5 the best (most recent, most frequent, most spent).
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: &'static str,
}

/// Scores of 1 to 5 by quintile of rank (ties share the better score), then the segment:
/// champions (r, f, m all 4+), loyal (f 4+), big spenders (m 5), new (r 5, f 1), at risk
/// (r 2 or less with f 3+), lost (r 1), needs attention otherwise.
pub fn rfm(rows: &[Purchases]) -> Vec<Rfm> {
    let n = rows.len();
    if n == 0 {
        return Vec::new();
    }
    // Score of a value by how many rows it beats or ties: the top fifth scores 5.
    let score = |beaten_or_tied: usize| -> u8 { (1 + (beaten_or_tied * 5 - 1) / n).clamp(1, 5) as u8 };
    let mut days: Vec<i64> = rows.iter().map(|r| r.days_since_last).collect();
    let mut counts: Vec<i64> = rows.iter().map(|r| r.count).collect();
    let mut amounts: Vec<Decimal> = rows.iter().map(|r| r.amount).collect();
    days.sort_unstable();
    counts.sort_unstable();
    amounts.sort_unstable();
    rows.iter()
        .map(|p| {
            // Recency: fewer days is better, so count the rows with as many days or more.
            let r = score(n - days.partition_point(|d| *d < p.days_since_last));
            let f = score(counts.partition_point(|c| *c <= p.count));
            let m = score(amounts.partition_point(|a| *a <= p.amount));
            let segment = if r >= 4 && f >= 4 && m >= 4 {
                "champions"
            } else if r == 5 && p.count <= 1 {
                "new"
            } else if r <= 2 && f >= 3 {
                "at_risk"
            } else if r == 1 {
                "lost"
            } else if f >= 4 {
                "loyal"
            } else if m == 5 {
                "big_spenders"
            } else {
                "needs_attention"
            };
            Rfm { customer: p.customer, r, f, m, segment }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_written_differently_are_one_key() {
        let k = phone_key("13800138000");
        assert_eq!(phone_key("+86 138-0013-8000"), k);
        assert_eq!(phone_key("0086 138 0013 8000"), k);
        assert_eq!(phone_key("(138) 0013 8000"), k);
        assert_ne!(phone_key("+1 415 555 0100"), k);
        assert_eq!(phone_key("ext. 204"), None);
        assert_eq!(email_key(" Li.Wei@Example.COM "), Some("li.wei@example.com".into()));
        assert_eq!(email_key("not an email"), None);
    }

    fn rule(kind: RuleKind, users: &[u128], next: i32) -> AssignmentRule {
        AssignmentRule {
            id: Uuid::from_u128(users[0] * 100),
            kind,
            users: users.iter().map(|u| Uuid::from_u128(*u)).collect(),
            next_index: next,
        }
    }

    #[test]
    fn the_first_matching_rule_assigns_in_turn() {
        let rules = [
            rule(RuleKind::Region("East".into()), &[1, 2], 3),
            rule(RuleKind::Tag("vip".into()), &[5], 0),
            rule(RuleKind::RoundRobin, &[7, 8, 9], 4),
        ];
        assert_eq!(assign(&rules, Some("east"), &[]).map(|a| a.1), Some(Uuid::from_u128(2)));
        assert_eq!(assign(&rules, Some("west"), &["VIP".into()]).map(|a| a.1), Some(Uuid::from_u128(5)));
        assert_eq!(assign(&rules, None, &[]).map(|a| a.1), Some(Uuid::from_u128(8)));
        assert_eq!(assign(&rules[..2], None, &[]), None);
    }

    #[test]
    fn closed_opportunities_and_closing_stages_are_not_moves() {
        let st = |n: u128, kind: &str| Stage {
            id: Uuid::from_u128(n),
            code: format!("S{n}"),
            position: n as i32,
            kind: kind.into(),
            is_active: true,
        };
        let (a, b, won) = (st(1, "open"), st(2, "open"), st(9, "won"));
        assert_eq!(stage_move_error("open", &a, &b), None);
        assert_eq!(stage_move_error("open", &b, &a), None);
        assert!(stage_move_error("open", &a, &a).unwrap().contains("already"));
        assert!(stage_move_error("open", &a, &won).unwrap().contains("win or lose"));
        assert!(stage_move_error("won", &a, &b).unwrap().contains("won"));
        let retired = Stage { is_active: false, ..st(3, "open") };
        assert!(stage_move_error("open", &a, &retired).unwrap().contains("no longer"));
    }

    #[test]
    fn funnel_figures_come_from_the_totals() {
        let t =
            StageTotals { entered: 8, advanced: 3, stays: 4, stay_seconds: 4 * 86_400 + 43_200, ..Default::default() };
        assert_eq!(t.conversion(), Some("0.375".parse().unwrap()));
        assert_eq!(t.average_days(), Some("1.13".parse().unwrap()));
        assert_eq!(StageTotals::default().conversion(), None);
    }

    #[test]
    fn rfm_scores_by_quintile_and_names_segments() {
        let p = |n: u128, days: i64, count: i64, amount: i64| Purchases {
            customer: Uuid::from_u128(n),
            days_since_last: days,
            count,
            amount: Decimal::from(amount),
        };
        let rows = [p(1, 2, 20, 9000), p(2, 400, 12, 5000), p(3, 5, 1, 100), p(4, 90, 3, 800), p(5, 200, 2, 50)];
        let out = rfm(&rows);
        let seg: Vec<(u8, u8, u8, &str)> = out.iter().map(|r| (r.r, r.f, r.m, r.segment)).collect();
        assert_eq!(
            seg,
            vec![
                (5, 5, 5, "champions"),
                (1, 4, 4, "at_risk"),
                (4, 1, 2, "needs_attention"),
                (3, 3, 3, "needs_attention"),
                (2, 2, 1, "needs_attention"),
            ]
        );
        assert!(rfm(&[]).is_empty());
    }
}
