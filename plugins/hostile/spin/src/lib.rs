//! Hostile: loops forever in a validator. The host stops it at its fuel budget.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Spin;

impl Plugin for Spin {
    fn validate(_: Hook, doc: Document) -> Result<(), Veto> {
        let mut n: u64 = doc.lines.len() as u64;
        loop {
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
            if n == 42 {
                return Ok(());
            }
        }
    }
}

meridian_plugin_sdk::plugin!(Spin);
