//! Hostile: panics (a trap in the component).
use meridian_plugin_sdk::{Document, Event, Hook, Plugin, PriceAdjustment, PriceRequest, Veto};

struct Panics;

impl Plugin for Panics {
    fn validate(_: Hook, doc: Document) -> Result<(), Veto> {
        let lines = std::hint::black_box(doc.lines);
        // Index past the end on purpose.
        let _ = std::hint::black_box(&lines[lines.len() + 3]);
        Ok(())
    }

    fn price_line(request: PriceRequest) -> Option<PriceAdjustment> {
        let sku = std::hint::black_box(request.sku.into_bytes());
        let _ = std::hint::black_box(sku[sku.len() + 1]);
        None
    }

    fn handle_events(events: Vec<Event>) -> Result<(), String> {
        let events = std::hint::black_box(events);
        let _ = std::hint::black_box(&events[events.len() + 1]);
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(Panics);
