//! Hostile: answers with a 1 MiB veto message. The host refuses outputs past its cap.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto};

struct Huge;

impl Plugin for Huge {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        Err(Veto::new("x".repeat(1 << 20)))
    }
}

meridian_plugin_sdk::plugin!(Huge);
