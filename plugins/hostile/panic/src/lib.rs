//! Hostile: panics (a trap in the component).
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Panics;

impl Plugin for Panics {
    fn validate(_: Hook, doc: Document) -> Result<(), Veto> {
        let lines = std::hint::black_box(doc.lines);
        // Index past the end on purpose.
        let _ = std::hint::black_box(&lines[lines.len() + 3]);
        Ok(())
    }
}

meridian_plugin_sdk::plugin!(Panics);
