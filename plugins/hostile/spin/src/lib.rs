//! Hostile: loops forever in a validator. The host stops it at its fuel budget.
use meridian_plugin_sdk::{Document, Event, Hook, Plugin, PriceAdjustment, PriceRequest, Veto};

struct Spin;

fn spin(seed: u64) -> u64 {
    let mut n = seed;
    loop {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        if n == 42 {
            return n;
        }
    }
}

impl Plugin for Spin {
    fn validate(_: Hook, doc: Document) -> Result<(), Veto> {
        spin(doc.lines.len() as u64);
        Ok(())
    }

    fn price_line(request: PriceRequest) -> Option<PriceAdjustment> {
        spin(request.sku.len() as u64);
        None
    }

    fn handle_events(events: Vec<Event>) -> Result<(), String> {
        spin(events.len() as u64);
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(Spin);
