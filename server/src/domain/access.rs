//! Permissions per module and action, the built-in roles, and the set arithmetic on them.
//! A permission set is a bitmask so that it travels in an access token and checks in O(1).

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Module {
    Admin,
    Audit,
    Finance,
    Inventory,
    Sales,
    Purchasing,
    Crm,
    Production,
    Approvals,
    Plugins,
}

impl Module {
    pub const ALL: [Module; 10] = [
        Module::Admin,
        Module::Audit,
        Module::Finance,
        Module::Inventory,
        Module::Sales,
        Module::Purchasing,
        Module::Crm,
        Module::Production,
        Module::Approvals,
        Module::Plugins,
    ];
    /// The modules a subscription plan sells; the others come with every plan.
    pub const BUSINESS: [Module; 7] = [
        Module::Finance,
        Module::Inventory,
        Module::Sales,
        Module::Purchasing,
        Module::Crm,
        Module::Production,
        Module::Approvals,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Module::Admin => "admin",
            Module::Audit => "audit",
            Module::Finance => "finance",
            Module::Inventory => "inventory",
            Module::Sales => "sales",
            Module::Purchasing => "purchasing",
            Module::Crm => "crm",
            Module::Production => "production",
            Module::Approvals => "approvals",
            Module::Plugins => "plugins",
        }
    }

    fn index(self) -> u32 {
        self as u32
    }
}

impl FromStr for Module {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Module::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| format!("unknown module {s:?}"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Write,
    Approve,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Read, Action::Write, Action::Approve];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Approve => "approve",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    pub module: Module,
    pub action: Action,
}

impl Permission {
    pub const fn new(module: Module, action: Action) -> Self {
        Self { module, action }
    }

    fn bit(self) -> u64 {
        1u64 << (self.module.index() * 3 + self.action as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module.as_str(), self.action.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (module, action) = s.split_once(':').ok_or_else(|| format!("expected module:action, got {s:?}"))?;
        let module = module.parse()?;
        let action = Action::ALL
            .into_iter()
            .find(|a| a.as_str() == action)
            .ok_or_else(|| format!("unknown action {action:?} (read, write or approve)"))?;
        Ok(Self { module, action })
    }
}

/// A set of permissions as a bitmask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Self::of(Module::ALL.into_iter().flat_map(|m| Action::ALL.map(|a| Permission::new(m, a))))
    }

    pub fn of(perms: impl IntoIterator<Item = Permission>) -> Self {
        Self(perms.into_iter().fold(0, |acc, p| acc | p.bit()))
    }

    pub fn from_bits(bits: u64) -> Self {
        Self(bits & Self::all().0)
    }

    pub fn bits(self) -> u64 {
        self.0
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Module::ALL
            .into_iter()
            .flat_map(|m| Action::ALL.map(|a| Permission::new(m, a)))
            .filter(move |p| self.contains(*p))
    }

    pub fn to_strings(self) -> Vec<String> {
        self.iter().map(|p| p.to_string()).collect()
    }

    /// Parses a list like `["sales:read", "sales:write"]`, naming every bad entry.
    pub fn parse_all<S: AsRef<str>>(items: &[S]) -> Result<Self, Vec<(usize, String)>> {
        let mut errors = Vec::new();
        let mut set = Self::EMPTY;
        for (i, item) in items.iter().enumerate() {
            match item.as_ref().parse::<Permission>() {
                Ok(p) => set = set.union(Self::of([p])),
                Err(e) => errors.push((i, e)),
            }
        }
        if errors.is_empty() { Ok(set) } else { Err(errors) }
    }
}

/// A role that every tenant has from sign-up; it cannot be edited or deleted.
pub struct BuiltinRole {
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: fn() -> PermissionSet,
}

fn rw(modules: &[Module]) -> Vec<Permission> {
    modules.iter().flat_map(|&m| [Permission::new(m, Action::Read), Permission::new(m, Action::Write)]).collect()
}

fn read(modules: &[Module]) -> Vec<Permission> {
    modules.iter().map(|&m| Permission::new(m, Action::Read)).collect()
}

pub const OWNER: &str = "owner";

pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: OWNER,
        description: "Owns the company's account: every permission, and the only role that can grant ownership",
        permissions: PermissionSet::all,
    },
    BuiltinRole {
        name: "admin",
        description: "Runs the account: users, roles, keys, plugins, settings, and every module",
        permissions: PermissionSet::all,
    },
    BuiltinRole {
        name: "accountant",
        description: "Keeps the books: finance in full, reads of every other module and the audit trail",
        permissions: || {
            use Module::*;
            let mut p = rw(&[Finance, Approvals]);
            p.push(Permission::new(Finance, Action::Approve));
            p.extend(read(&[Audit, Inventory, Sales, Purchasing, Crm, Production]));
            PermissionSet::of(p)
        },
    },
    BuiltinRole {
        name: "sales",
        description: "Sells: quotations, sales orders, customers and CRM; reads stock",
        permissions: || {
            use Module::*;
            let mut p = rw(&[Sales, Crm, Approvals]);
            p.extend(read(&[Inventory]));
            PermissionSet::of(p)
        },
    },
    BuiltinRole {
        name: "purchasing",
        description: "Buys: purchase orders, suppliers; reads stock and sales demand",
        permissions: || {
            use Module::*;
            let mut p = rw(&[Purchasing, Approvals]);
            p.extend(read(&[Inventory, Sales, Production]));
            PermissionSet::of(p)
        },
    },
    BuiltinRole {
        name: "warehouse",
        description: "Moves stock: receipts, deliveries, transfers, stocktakes",
        permissions: || {
            use Module::*;
            let mut p = rw(&[Inventory]);
            p.extend(read(&[Sales, Purchasing, Production]));
            PermissionSet::of(p)
        },
    },
    BuiltinRole {
        name: "production",
        description: "Plans and makes: BOMs, production orders, MRP, material issues",
        permissions: || {
            use Module::*;
            let mut p = rw(&[Production, Inventory, Approvals]);
            p.extend(read(&[Sales, Purchasing]));
            PermissionSet::of(p)
        },
    },
    BuiltinRole {
        name: "viewer",
        description: "Reads every business module, writes nothing",
        permissions: || PermissionSet::of(read(&Module::BUSINESS)),
    },
];

pub fn builtin_role(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_round_trips_through_its_string() {
        for p in PermissionSet::all().iter() {
            assert_eq!(p.to_string().parse::<Permission>(), Ok(p));
        }
        assert_eq!(PermissionSet::all().iter().count(), 30);
    }

    #[test]
    fn bad_permissions_are_named_by_position() {
        let err = PermissionSet::parse_all(&["sales:read", "sales:fly", "moon:read"]).unwrap_err();
        assert_eq!(err.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn viewer_cannot_write_and_owner_can_do_everything() {
        let viewer = (builtin_role("viewer").unwrap().permissions)();
        assert!(viewer.contains(Permission::new(Module::Sales, Action::Read)));
        assert!(!viewer.contains(Permission::new(Module::Sales, Action::Write)));
        assert!(!viewer.contains(Permission::new(Module::Admin, Action::Read)));
        let owner = (builtin_role(OWNER).unwrap().permissions)();
        assert!(viewer.is_subset_of(owner));
        assert_eq!(PermissionSet::from_bits(owner.bits()), owner);
    }
}
