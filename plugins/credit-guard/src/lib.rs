//! Credit guard: refuses to confirm sales orders above a limit for customers with a given tag
//! (settings `tag`, default `watch`, and `limit`, default 5000, in the order's currency).

use meridian_plugin_sdk::{Dec, Document, Hook, Plugin, Veto, host, log, setting_decimal};

struct CreditGuard;

impl Plugin for CreditGuard {
    fn validate(hook: Hook, order: Document) -> Result<(), Veto> {
        if hook != Hook::BeforeSalesOrderConfirm {
            return Ok(());
        }
        let tag = host::setting("tag").unwrap_or_else(|| "watch".into());
        let limit = setting_decimal("limit").unwrap_or(Dec::from(5000));
        let Some(customer) = &order.party else { return Ok(()) };
        let total = order.gross_total.to_decimal();
        if customer.has_tag(&tag) && total > limit {
            log::info(&format!("refused {} for {}: {total} over {limit}", order.id, customer.code));
            return Err(Veto::new(format!(
                "customers tagged '{tag}' need a manager's release for orders above {limit} {}; this order is {total}",
                order.currency
            )));
        }
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(CreditGuard);
