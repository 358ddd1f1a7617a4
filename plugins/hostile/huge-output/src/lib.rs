//! Hostile: answers with a 16 MiB veto message. The host refuses outputs past its cap.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Huge;

impl Plugin for Huge {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        Err(Veto::new("x".repeat(16 << 20)))
    }
}

meridian_plugin_sdk::plugin!(Huge);
