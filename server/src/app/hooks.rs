//! Hook points: where a document transition asks registered validators whether it may go on.
//! The plugin host (issue 8) registers its validators here; until then the list is empty and
//! every transition passes. Validators run inside the transition's transaction, after the
//! built-in rules, and see the document as JSON.

use std::sync::{Arc, RwLock};

use crate::domain::ids::TenantId;
use crate::error::{AppError, AppResult};

/// A transition that validators may veto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    SalesOrderConfirm,
    PurchaseOrderApprove,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::SalesOrderConfirm => "before_sales_order_confirm",
            Hook::PurchaseOrderApprove => "before_purchase_order_approve",
        }
    }
}

/// Something that may veto a transition, with a message shown to the user.
pub trait Validator: Send + Sync {
    fn name(&self) -> String;
    fn validate(&self, tenant: TenantId, hook: Hook, document: &serde_json::Value) -> Result<(), String>;
}

#[derive(Default)]
pub struct Hooks {
    validators: RwLock<Vec<Arc<dyn Validator>>>,
}

impl Hooks {
    pub fn register(&self, v: Arc<dyn Validator>) {
        self.validators.write().unwrap_or_else(|e| e.into_inner()).push(v);
    }

    /// Runs every validator; the first veto refuses the transition.
    pub fn before(&self, tenant: TenantId, hook: Hook, document: &serde_json::Value) -> AppResult<()> {
        let validators = self.validators.read().unwrap_or_else(|e| e.into_inner()).clone();
        for v in validators {
            if let Err(message) = v.validate(tenant, hook, document) {
                return Err(AppError::Vetoed { hook: hook.as_str(), by: v.name(), message });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Over(i64);

    impl Validator for Over {
        fn name(&self) -> String {
            "credit-guard".into()
        }
        fn validate(&self, _: TenantId, _: Hook, doc: &serde_json::Value) -> Result<(), String> {
            let total: i64 = doc["gross_total"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            if total > self.0 { Err(format!("orders above {} need a deposit", self.0)) } else { Ok(()) }
        }
    }

    #[test]
    fn a_registered_validator_vetoes_with_its_message() {
        let hooks = Hooks::default();
        let t = TenantId::new();
        let doc = serde_json::json!({"gross_total": "500"});
        assert!(hooks.before(t, Hook::SalesOrderConfirm, &doc).is_ok());
        hooks.register(Arc::new(Over(100)));
        match hooks.before(t, Hook::SalesOrderConfirm, &doc) {
            Err(AppError::Vetoed { hook, by, message }) => {
                assert_eq!((hook, by.as_str()), ("before_sales_order_confirm", "credit-guard"));
                assert_eq!(message, "orders above 100 need a deposit");
            }
            other => panic!("{other:?}"),
        }
    }
}
