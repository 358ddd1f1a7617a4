//! Approval rules that take values and return values: which of a tenant's flows a document
//! falls under, the steps that apply to it and who approves each (by role, by name, or the
//! requester's manager; never the requester), and what a decision does to a step (any-of or
//! all-of, on one's own behalf or for someone away who delegated to one).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The documents that go through approval.
pub const DOCUMENT_KINDS: [&str; 6] =
    ["purchase_request", "purchase_order", "sales_order", "journal_entry", "production_change", "expense_claim"];

/// Who approves a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approver {
    /// Every active user holding the role.
    Role(Uuid),
    User(Uuid),
    /// The requester's manager.
    Manager,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// One approval completes the step.
    AnyOf,
    /// Every approver must approve.
    AllOf,
}

/// What a document is judged on.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub requester: Uuid,
    /// Others who had a hand in the document (its author, the employee a claim is for): they
    /// never approve it either.
    pub authors: Vec<Uuid>,
    /// In the base currency.
    pub amount: Decimal,
    pub department: Option<String>,
    pub supplier: Option<Uuid>,
    /// As a fraction (0.15 for 15 %).
    pub discount: Option<Decimal>,
}

/// When a flow or a step applies: every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    /// Amount at least this.
    pub min_amount: Option<Decimal>,
    /// Amount below this.
    pub below_amount: Option<Decimal>,
    /// One of these departments.
    pub departments: Vec<String>,
    /// One of these suppliers.
    pub suppliers: Vec<Uuid>,
    /// Discount above this.
    pub discount_above: Option<Decimal>,
}

impl Conditions {
    pub fn hold(&self, f: &Facts) -> bool {
        self.min_amount.is_none_or(|m| f.amount >= m)
            && self.below_amount.is_none_or(|m| f.amount < m)
            && (self.departments.is_empty() || f.department.as_ref().is_some_and(|d| self.departments.contains(d)))
            && (self.suppliers.is_empty() || f.supplier.is_some_and(|s| self.suppliers.contains(&s)))
            && self.discount_above.is_none_or(|m| f.discount.is_some_and(|d| d > m))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepDef {
    pub name: String,
    pub approvers: Vec<Approver>,
    pub quorum: Quorum,
    /// The step is skipped when these do not hold.
    pub when: Conditions,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlowDef {
    pub id: Uuid,
    /// The flow applies when these hold; the first flow (in the tenant's order) that applies wins.
    pub when: Conditions,
    /// Below this amount the document is approved at once.
    pub auto_approve_below: Option<Decimal>,
    pub steps: Vec<StepDef>,
}

/// The users an approver spec can name, as the store read them.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub role_members: HashMap<Uuid, Vec<Uuid>>,
    pub managers: HashMap<Uuid, Uuid>,
    pub active: HashSet<Uuid>,
}

/// A step with its approvers named.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStep {
    pub name: String,
    pub quorum: Quorum,
    pub approvers: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// No flow covers the document: it needs no approval.
    NotRequired,
    /// Under the flow's threshold, or no step applies.
    AutoApproved {
        flow: Uuid,
    },
    Steps {
        flow: Uuid,
        steps: Vec<PlannedStep>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// Nobody but the requester (or nobody active) can approve this step.
    NobodyCanApprove { step: String },
}

/// The approval a document needs, from the tenant's flows in order.
pub fn route(flows: &[FlowDef], facts: &Facts, dir: &Directory) -> Result<Route, RouteError> {
    let Some(flow) = flows.iter().find(|f| f.when.hold(facts)) else { return Ok(Route::NotRequired) };
    if flow.auto_approve_below.is_some_and(|t| facts.amount < t) {
        return Ok(Route::AutoApproved { flow: flow.id });
    }
    let mut steps = Vec::new();
    for s in flow.steps.iter().filter(|s| s.when.hold(facts)) {
        let mut who: Vec<Uuid> = Vec::new();
        for a in &s.approvers {
            let named: Vec<Uuid> = match a {
                Approver::Role(r) => dir.role_members.get(r).cloned().unwrap_or_default(),
                Approver::User(u) => vec![*u],
                Approver::Manager => dir.managers.get(&facts.requester).copied().into_iter().collect(),
            };
            for u in named {
                if u != facts.requester && !facts.authors.contains(&u) && dir.active.contains(&u) && !who.contains(&u) {
                    who.push(u);
                }
            }
        }
        if who.is_empty() {
            return Err(RouteError::NobodyCanApprove { step: s.name.clone() });
        }
        steps.push(PlannedStep { name: s.name.clone(), quorum: s.quorum, approvers: who });
    }
    if steps.is_empty() {
        return Ok(Route::AutoApproved { flow: flow.id });
    }
    Ok(Route::Steps { flow: flow.id, steps })
}

/// An approver away who lets another decide for them, over whole days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    pub from: Uuid,
    pub to: Uuid,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    /// Back to the requester for changes.
    Return,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The step is complete; the next one (or the document) goes on.
    StepApproved,
    /// Recorded; these approvers have still to approve (all-of).
    Waiting {
        remaining: Vec<Uuid>,
    },
    Rejected,
    Returned,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecideError {
    /// The requester may not decide on their own request.
    OwnRequest,
    /// Neither an approver of the step nor standing in for one today.
    NotAnApprover,
    /// This approver has approved already.
    AlreadyDecided { approver: Uuid },
}

/// The approver `actor` decides for on this step today: themselves when they are one, else the
/// first approver not yet decided who delegated to them.
pub fn acting_for(
    actor: Uuid,
    step: &PlannedStep,
    approved: &[Uuid],
    delegations: &[Delegation],
    today: NaiveDate,
) -> Option<Uuid> {
    if step.approvers.contains(&actor) {
        return Some(actor);
    }
    step.approvers.iter().copied().find(|a| {
        !approved.contains(a)
            && delegations.iter().any(|d| d.from == *a && d.to == actor && d.starts <= today && today <= d.ends)
    })
}

/// What a decision by `actor` does to a step that `approved` (approvers) have approved so far.
/// Returns the approver it was made for and the outcome.
pub fn decide(
    step: &PlannedStep,
    approved: &[Uuid],
    parties: &[Uuid],
    actor: Uuid,
    decision: Decision,
    delegations: &[Delegation],
    today: NaiveDate,
) -> Result<(Uuid, Outcome), DecideError> {
    if parties.contains(&actor) {
        return Err(DecideError::OwnRequest);
    }
    let Some(approver) = acting_for(actor, step, approved, delegations, today) else {
        return Err(DecideError::NotAnApprover);
    };
    if approved.contains(&approver) {
        return Err(DecideError::AlreadyDecided { approver });
    }
    let outcome = match decision {
        Decision::Reject => Outcome::Rejected,
        Decision::Return => Outcome::Returned,
        Decision::Approve => {
            let remaining: Vec<Uuid> = match step.quorum {
                Quorum::AnyOf => Vec::new(),
                Quorum::AllOf => {
                    step.approvers.iter().copied().filter(|a| *a != approver && !approved.contains(a)).collect()
                }
            };
            if remaining.is_empty() { Outcome::StepApproved } else { Outcome::Waiting { remaining } }
        }
    };
    Ok((approver, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn facts(amount: &str) -> Facts {
        Facts {
            requester: u(1),
            authors: Vec::new(),
            amount: dec(amount),
            department: Some("sales".into()),
            supplier: None,
            discount: None,
        }
    }

    fn dir() -> Directory {
        Directory {
            // Role 100: the requester and two managers; role 200: a deactivated user only.
            role_members: HashMap::from([(u(100), vec![u(1), u(2), u(3)]), (u(200), vec![u(9)])]),
            managers: HashMap::from([(u(1), u(2))]),
            active: HashSet::from([u(1), u(2), u(3), u(4)]),
        }
    }

    fn step(name: &str, approvers: Vec<Approver>, quorum: Quorum, when: Conditions) -> StepDef {
        StepDef { name: name.into(), approvers, quorum, when }
    }

    #[test]
    fn the_first_flow_that_applies_routes_the_document_and_small_amounts_pass() {
        let big = FlowDef {
            id: u(50),
            when: Conditions { min_amount: Some(dec("10000")), ..Conditions::default() },
            auto_approve_below: None,
            steps: vec![
                step("manager", vec![Approver::Manager], Quorum::AnyOf, Conditions::default()),
                step(
                    "finance",
                    vec![Approver::Role(u(100)), Approver::User(u(4))],
                    Quorum::AllOf,
                    Conditions { min_amount: Some(dec("50000")), ..Conditions::default() },
                ),
            ],
        };
        let rest = FlowDef {
            id: u(51),
            when: Conditions::default(),
            auto_approve_below: Some(dec("500")),
            steps: vec![step("manager", vec![Approver::Manager], Quorum::AnyOf, Conditions::default())],
        };
        let flows = [big, rest];
        assert_eq!(route(&flows, &facts("499.99"), &dir()), Ok(Route::AutoApproved { flow: u(51) }));
        assert_eq!(
            route(&flows, &facts("500"), &dir()),
            Ok(Route::Steps {
                flow: u(51),
                steps: vec![PlannedStep { name: "manager".into(), quorum: Quorum::AnyOf, approvers: vec![u(2)] }]
            })
        );
        // 20,000: the big flow, its finance step skipped below 50,000.
        let Ok(Route::Steps { flow, steps }) = route(&flows, &facts("20000"), &dir()) else { panic!() };
        assert_eq!((flow, steps.len()), (u(50), 1));
        // 60,000: finance too; the requester is never among the approvers.
        let Ok(Route::Steps { steps, .. }) = route(&flows, &facts("60000"), &dir()) else { panic!() };
        assert_eq!(steps[1].approvers, vec![u(2), u(3), u(4)]);
        assert_eq!(route(&[], &facts("1"), &dir()), Ok(Route::NotRequired));
    }

    #[test]
    fn a_step_nobody_else_can_approve_is_refused_at_submission() {
        let flows = [FlowDef {
            id: u(50),
            when: Conditions::default(),
            auto_approve_below: None,
            steps: vec![step(
                "board",
                vec![Approver::Role(u(200)), Approver::User(u(1))],
                Quorum::AnyOf,
                Conditions::default(),
            )],
        }];
        assert_eq!(route(&flows, &facts("1"), &dir()), Err(RouteError::NobodyCanApprove { step: "board".into() }));
        let mut no_manager = facts("1");
        no_manager.requester = u(3);
        let flows = [FlowDef {
            steps: vec![step("manager", vec![Approver::Manager], Quorum::AnyOf, Conditions::default())],
            ..flows[0].clone()
        }];
        assert!(route(&flows, &no_manager, &dir()).is_err(), "a requester without a manager");
    }

    #[test]
    fn conditions_on_department_supplier_and_discount() {
        let c = Conditions {
            departments: vec!["sales".into()],
            suppliers: vec![u(7)],
            discount_above: Some(dec("0.10")),
            ..Conditions::default()
        };
        let mut f = facts("100");
        f.supplier = Some(u(7));
        f.discount = Some(dec("0.15"));
        assert!(c.hold(&f));
        assert!(!c.hold(&Facts { discount: Some(dec("0.10")), ..f.clone() }), "10 % is not above 10 %");
        assert!(!c.hold(&Facts { supplier: None, ..f.clone() }));
        assert!(!c.hold(&Facts { department: Some("ops".into()), ..f.clone() }));
        assert!(Conditions::default().hold(&f));
    }

    #[test]
    fn any_of_completes_on_one_approval_all_of_waits_for_everyone() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let any = PlannedStep { name: "m".into(), quorum: Quorum::AnyOf, approvers: vec![u(2), u(3)] };
        assert_eq!(decide(&any, &[], &[u(1)], u(3), Decision::Approve, &[], today), Ok((u(3), Outcome::StepApproved)));
        let all = PlannedStep { quorum: Quorum::AllOf, ..any.clone() };
        assert_eq!(
            decide(&all, &[], &[u(1)], u(2), Decision::Approve, &[], today),
            Ok((u(2), Outcome::Waiting { remaining: vec![u(3)] }))
        );
        assert_eq!(
            decide(&all, &[u(2)], &[u(1)], u(3), Decision::Approve, &[], today),
            Ok((u(3), Outcome::StepApproved))
        );
        assert_eq!(
            decide(&all, &[u(2)], &[u(1)], u(2), Decision::Approve, &[], today),
            Err(DecideError::AlreadyDecided { approver: u(2) })
        );
        assert_eq!(decide(&all, &[u(2)], &[u(1)], u(3), Decision::Reject, &[], today), Ok((u(3), Outcome::Rejected)));
        assert_eq!(decide(&all, &[], &[u(1)], u(2), Decision::Return, &[], today), Ok((u(2), Outcome::Returned)));
    }

    #[test]
    fn nobody_decides_their_own_request_or_someone_elses_step_but_a_delegate_may() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let s = PlannedStep { name: "m".into(), quorum: Quorum::AllOf, approvers: vec![u(2), u(3)] };
        assert_eq!(decide(&s, &[], &[u(2)], u(2), Decision::Approve, &[], today), Err(DecideError::OwnRequest));
        assert_eq!(decide(&s, &[], &[u(1)], u(4), Decision::Approve, &[], today), Err(DecideError::NotAnApprover));
        let away = Delegation { from: u(3), to: u(4), starts: today, ends: today };
        assert_eq!(
            decide(&s, &[], &[u(1)], u(4), Decision::Approve, std::slice::from_ref(&away), today),
            Ok((u(3), Outcome::Waiting { remaining: vec![u(2)] })),
            "the delegate approves for the one away"
        );
        let tomorrow = today.succ_opt().unwrap();
        assert_eq!(
            decide(&s, &[], &[u(1)], u(4), Decision::Approve, std::slice::from_ref(&away), tomorrow),
            Err(DecideError::NotAnApprover),
            "the delegation has ended"
        );
        // A delegate who is the requester still may not approve their own request.
        let to_requester = Delegation { from: u(3), to: u(1), starts: today, ends: today };
        assert_eq!(
            decide(&s, &[], &[u(1)], u(1), Decision::Approve, &[to_requester], today),
            Err(DecideError::OwnRequest)
        );
    }
}
