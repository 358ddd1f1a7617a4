//! Trials, plans and what they entitle a tenant to. A tenant whose trial has ended with no
//! active plan is read-only: its data stays, writes are refused until a plan is taken.

use chrono::{DateTime, Duration, Utc};

use super::access::Module;

pub const TRIAL_DAYS: i64 = 15;
/// How long before the trial ends the tenant is warned.
pub const TRIAL_WARNING_DAYS: i64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Starter,
    Business,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Starter, Plan::Business, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Business => "business",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entitlements {
    pub seats: u32,
    pub modules: Vec<Module>,
    pub plugin_slots: u32,
    /// Requests per minute for the whole tenant.
    pub api_rate_per_minute: u32,
    /// What one validator or calculator call may use: instructions (fuel) and wall-clock time.
    pub plugin_fuel: u64,
    pub plugin_millis: u64,
}

impl Entitlements {
    pub fn includes(&self, module: Module) -> bool {
        !Module::BUSINESS.contains(&module) || self.modules.contains(&module)
    }
}

/// What a trial (no plan yet) or a plan grants.
pub fn entitlements(plan: Option<Plan>) -> Entitlements {
    use Module::*;
    match plan {
        None => Entitlements {
            seats: 10,
            modules: Module::BUSINESS.to_vec(),
            plugin_slots: 3,
            api_rate_per_minute: 6_000,
            plugin_fuel: 10_000_000,
            plugin_millis: 50,
        },
        Some(Plan::Starter) => Entitlements {
            seats: 5,
            modules: vec![Finance, Inventory, Sales, Purchasing, Crm],
            plugin_slots: 1,
            api_rate_per_minute: 3_000,
            plugin_fuel: 10_000_000,
            plugin_millis: 50,
        },
        Some(Plan::Business) => Entitlements {
            seats: 50,
            modules: Module::BUSINESS.to_vec(),
            plugin_slots: 10,
            api_rate_per_minute: 30_000,
            plugin_fuel: 20_000_000,
            plugin_millis: 100,
        },
        Some(Plan::Enterprise) => Entitlements {
            seats: 1_000,
            modules: Module::BUSINESS.to_vec(),
            plugin_slots: 50,
            api_rate_per_minute: 1_200_000,
            plugin_fuel: 50_000_000,
            plugin_millis: 200,
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionState {
    /// In the trial; `warn` once fewer than [`TRIAL_WARNING_DAYS`] remain.
    Trial {
        days_left: i64,
        warn: bool,
    },
    Active(Plan),
    /// Trial over and no plan: reads only.
    Expired,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Trial { .. } => "trial",
            SubscriptionState::Active(_) => "active",
            SubscriptionState::Expired => "expired",
        }
    }

    pub fn allows_writes(self) -> bool {
        !matches!(self, SubscriptionState::Expired)
    }
}

pub fn trial_end(signed_up_at: DateTime<Utc>) -> DateTime<Utc> {
    signed_up_at + Duration::days(TRIAL_DAYS)
}

pub fn state(plan: Option<Plan>, trial_ends_at: DateTime<Utc>, now: DateTime<Utc>) -> SubscriptionState {
    if let Some(plan) = plan {
        return SubscriptionState::Active(plan);
    }
    if now >= trial_ends_at {
        return SubscriptionState::Expired;
    }
    let left = trial_ends_at - now;
    // Whole days remaining, rounded up: 14 days and 1 hour left reads "15 days left".
    let days_left = (left.num_seconds() + 86_399) / 86_400;
    SubscriptionState::Trial { days_left, warn: left <= Duration::days(TRIAL_WARNING_DAYS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_new_trial_has_fifteen_days_and_no_warning() {
        let end = trial_end(t0());
        assert_eq!(state(None, end, t0()), SubscriptionState::Trial { days_left: 15, warn: false });
    }

    #[test]
    fn the_warning_starts_three_days_before_the_end() {
        let end = trial_end(t0());
        let s = state(None, end, end - Duration::days(3));
        assert_eq!(s, SubscriptionState::Trial { days_left: 3, warn: true });
        assert!(matches!(
            state(None, end, end - Duration::days(3) - Duration::seconds(1)),
            SubscriptionState::Trial { warn: false, .. }
        ));
    }

    #[test]
    fn the_trial_ends_at_its_instant_and_a_plan_reopens_writes() {
        let end = trial_end(t0());
        assert!(state(None, end, end - Duration::seconds(1)).allows_writes());
        assert_eq!(state(None, end, end), SubscriptionState::Expired);
        assert!(!SubscriptionState::Expired.allows_writes());
        assert_eq!(
            state(Some(Plan::Starter), end, end + Duration::days(400)),
            SubscriptionState::Active(Plan::Starter)
        );
    }

    #[test]
    fn starter_does_not_sell_production_but_admin_is_always_there() {
        let e = entitlements(Some(Plan::Starter));
        assert!(!e.includes(Module::Production));
        assert!(e.includes(Module::Admin));
        assert!(entitlements(None).includes(Module::Production));
    }
}
