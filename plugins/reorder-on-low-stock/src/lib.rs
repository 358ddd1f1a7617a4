//! Reorder on low stock: when an item falls below its safety stock, asks for a purchase request
//! that brings it back to `cover` times its safety stock (setting, default 2).

use meridian_plugin_sdk::{Dec, Decimal, Event, Plugin, host, log, setting_decimal};

struct Reorder;

impl Plugin for Reorder {
    fn handle_events(events: Vec<Event>) -> Result<(), String> {
        let cover = setting_decimal("cover").unwrap_or(Dec::from(2));
        for e in events.iter().filter(|e| e.kind == "stock.below-safety") {
            let levels = host::read_stock(&e.subject_id)?;
            let available: Dec = levels.iter().map(|l| l.available.to_decimal()).sum();
            let safety: Dec = levels.iter().map(|l| l.safety_stock.to_decimal()).max().unwrap_or_default();
            let want = safety * cover - available;
            if want <= Dec::ZERO {
                continue;
            }
            let sku = levels.first().map(|l| l.sku.clone()).unwrap_or_default();
            let quantity = Decimal::from_decimal(want.normalize()).ok_or("quantity out of range")?;
            host::request_purchase(
                &e.subject_id,
                quantity,
                &format!("{sku} is at {available}, below its safety stock of {safety}"),
            )?;
            log::info(&format!("asked for {want} of {sku}"));
        }
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(Reorder);
