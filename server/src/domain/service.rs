//! Service-desk rules that take values and return values: ticket priorities and their default
//! SLA targets, the moves between ticket statuses, the SLA clock (which stops while a ticket
//! waits on the customer) and its breach flags, and survey scores.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
pub const STATUSES: [&str; 5] = ["open", "in_progress", "waiting", "resolved", "closed"];
pub const VISIBILITIES: [&str; 2] = ["internal", "customer"];

/// Minutes to the first response and to resolution per priority, for a tenant that set none.
pub const DEFAULT_SLAS: [(&str, i32, i32); 4] =
    [("urgent", 60, 480), ("high", 240, 1_440), ("normal", 480, 2_880), ("low", 1_440, 7_200)];

/// Response and resolution targets at most 90 days.
pub const MAX_SLA_MINUTES: i32 = 90 * 24 * 60;

/// What a person does to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Someone works on it.
    Start,
    /// It waits on the customer; the resolution clock stops.
    Wait,
    Resolve,
    /// Done: after resolving, or straight away with a reason (a duplicate, spam).
    Close,
    /// The customer says it is not solved after all.
    Reopen,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Start => "started",
            Action::Wait => "put to wait on the customer",
            Action::Resolve => "resolved",
            Action::Close => "closed",
            Action::Reopen => "reopened",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Wait => "wait",
            Action::Resolve => "resolve",
            Action::Close => "close",
            Action::Reopen => "reopen",
        }
    }
}

/// The status an action leads to from `status`, or None when it does not apply there. A closed
/// ticket is final.
pub fn next_status(status: &str, action: Action) -> Option<&'static str> {
    let open = matches!(status, "open" | "in_progress" | "waiting");
    match action {
        Action::Start => matches!(status, "open" | "waiting").then_some("in_progress"),
        Action::Wait => matches!(status, "open" | "in_progress").then_some("waiting"),
        Action::Resolve => open.then_some("resolved"),
        Action::Close => (open || status == "resolved").then_some("closed"),
        Action::Reopen => (status == "resolved").then_some("open"),
    }
}

/// When a target falls: `minutes` after creation, plus the time the ticket has spent waiting
/// on the customer.
pub fn due_at(created: DateTime<Utc>, minutes: i32, paused_seconds: i64) -> DateTime<Utc> {
    created + Duration::minutes(i64::from(minutes)) + Duration::seconds(paused_seconds)
}

/// A target is breached when it was met late, or is still unmet and past due at `now`.
pub fn breached(due: DateTime<Utc>, met: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    met.unwrap_or(now) > due
}

/// The SLA clock of one ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub response_due_at: DateTime<Utc>,
    pub resolution_due_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Set while the ticket waits on the customer: the resolution clock stands still from then.
    pub waiting_since: Option<DateTime<Utc>>,
}

impl Clock {
    /// The first response is due whatever the ticket's status (a ticket put to wait without an
    /// answer to the customer has not been answered); its clock stops only at the first answer
    /// or when the ticket is done with (resolved, or closed without resolving).
    pub fn response_breached(&self, now: DateTime<Utc>) -> bool {
        breached(self.response_due_at, self.first_response_at.or(self.resolved_at), now)
    }

    pub fn resolution_breached(&self, now: DateTime<Utc>) -> bool {
        breached(self.resolution_due_at, self.resolved_at, self.waiting_since.map_or(now, |w| w.min(now)))
    }
}

/// How a report groups days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO weeks, Monday first.
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The first day of the period holding `d`.
    pub fn start(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d.checked_sub_days(Days::new(u64::from(d.weekday().num_days_from_monday()))).unwrap_or(d),
            Period::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// How many periods `from..=to` touches, without listing them.
    pub fn count(self, from: NaiveDate, to: NaiveDate) -> i64 {
        if from > to {
            return 0;
        }
        match self {
            Period::Day => (to - from).num_days() + 1,
            Period::Week => (self.start(to) - self.start(from)).num_days() / 7 + 1,
            Period::Month => {
                i64::from(to.year() - from.year()) * 12 + i64::from(to.month0()) - i64::from(from.month0()) + 1
            }
        }
    }

    /// The first days of every period from the one holding `from` to the one holding `to`.
    pub fn starts(self, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut d = self.start(from);
        while d <= to {
            out.push(d);
            let next = match self {
                Period::Day => d.succ_opt(),
                Period::Week => d.checked_add_days(Days::new(7)),
                Period::Month => d.checked_add_months(Months::new(1)),
            };
            let Some(next) = next else { break };
            d = next;
        }
        out
    }
}

/// The average of some scores, to 2 places (None without any).
pub fn average(sum: i64, count: i64) -> Option<Decimal> {
    (count > 0).then(|| {
        (Decimal::from(sum) / Decimal::from(count)).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(h * 3600, 0).unwrap()
    }

    #[test]
    fn a_target_is_breached_when_met_late_or_still_open_past_due() {
        assert!(!breached(t(4), Some(t(3)), t(10)));
        assert!(breached(t(4), Some(t(5)), t(5)));
        assert!(breached(t(4), None, t(5)));
        assert!(!breached(t(4), None, t(3)));
        assert!(!breached(t(4), Some(t(4)), t(9)), "met on the minute is met");
    }

    #[test]
    fn the_resolution_clock_stands_still_while_waiting_on_the_customer() {
        let c = Clock {
            response_due_at: t(1),
            resolution_due_at: t(8),
            first_response_at: Some(t(0)),
            resolved_at: None,
            waiting_since: Some(t(6)),
        };
        assert!(!c.resolution_breached(t(100)), "waiting since before the due time");
        assert!(!c.response_breached(t(100)));
        let unanswered = Clock { first_response_at: None, resolved_at: Some(t(0)), ..c };
        assert!(!unanswered.response_breached(t(100)), "closed before the response was due");
        assert!(Clock { first_response_at: None, ..c }.response_breached(t(2)));
        let late = Clock { waiting_since: Some(t(9)), ..c };
        assert!(late.resolution_breached(t(100)), "was already late when it began to wait");
        let running = Clock { waiting_since: None, ..c };
        assert!(running.resolution_breached(t(9)));
        // The wait is added to the target when the ticket goes on.
        assert_eq!(due_at(t(0), 480, 3 * 3600), t(11));
        assert_eq!(due_at(t(0), 60, 0), t(1));
    }

    #[test]
    fn tickets_move_between_statuses_and_closed_is_final() {
        assert_eq!(next_status("open", Action::Start), Some("in_progress"));
        assert_eq!(next_status("waiting", Action::Start), Some("in_progress"));
        assert_eq!(next_status("in_progress", Action::Start), None);
        assert_eq!(next_status("in_progress", Action::Wait), Some("waiting"));
        assert_eq!(next_status("waiting", Action::Wait), None);
        assert_eq!(next_status("waiting", Action::Resolve), Some("resolved"));
        assert_eq!(next_status("resolved", Action::Resolve), None);
        assert_eq!(next_status("resolved", Action::Close), Some("closed"));
        assert_eq!(next_status("open", Action::Close), Some("closed"));
        assert_eq!(next_status("resolved", Action::Reopen), Some("open"));
        assert_eq!(next_status("open", Action::Reopen), None);
        for a in [Action::Start, Action::Wait, Action::Resolve, Action::Close, Action::Reopen] {
            assert_eq!(next_status("closed", a), None, "{a:?} on a closed ticket");
        }
    }

    #[test]
    fn periods_start_on_the_first_day_monday_or_the_day() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(Period::Month.start(d(2026, 11, 22)), d(2026, 11, 1));
        assert_eq!(Period::Week.start(d(2026, 11, 22)), d(2026, 11, 16), "a Sunday belongs to the week from Monday");
        assert_eq!(Period::Day.start(d(2026, 11, 22)), d(2026, 11, 22));
        assert_eq!(
            Period::Month.starts(d(2026, 11, 30), d(2027, 1, 1)),
            vec![d(2026, 11, 1), d(2026, 12, 1), d(2027, 1, 1)]
        );
        assert_eq!(Period::Week.starts(d(2026, 11, 22), d(2026, 11, 23)), vec![d(2026, 11, 16), d(2026, 11, 23)]);
        assert_eq!(Period::parse("quarter"), None);
        assert_eq!(Period::Month.count(d(2026, 11, 30), d(2027, 1, 1)), 3);
        assert_eq!(Period::Week.count(d(2026, 11, 22), d(2026, 11, 23)), 2);
        assert_eq!(Period::Day.count(d(2026, 11, 22), d(2026, 11, 22)), 1);
        assert_eq!(Period::Day.count(NaiveDate::MIN, NaiveDate::MAX), (NaiveDate::MAX - NaiveDate::MIN).num_days() + 1);
        assert_eq!(Period::Month.starts(NaiveDate::MAX, NaiveDate::MAX).len(), 1, "the last month ends the list");
        assert_eq!(Period::Week.starts(NaiveDate::MIN, NaiveDate::MIN).len(), 1);
    }

    #[test]
    fn averages_round_half_up_to_two_places() {
        assert_eq!(average(0, 0), None);
        assert_eq!(average(9, 2), Some(Decimal::new(450, 2)));
        assert_eq!(average(14, 3), Some(Decimal::new(467, 2)));
        assert_eq!(average(5, 8), Some(Decimal::new(63, 2)), "0.625 rounds up");
    }
}
