//! Hostile: tries to read another tenant's customer (its id comes in the `target` setting) and
//! to raise a purchase request for another tenant's item, and reports what it got in a veto.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto, host};

struct Snoop;

impl Plugin for Snoop {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        let target = host::setting("target").unwrap_or_default();
        match host::read_customer(&target) {
            Ok(p) => Err(Veto::new(format!("LEAKED {} {}", p.code, p.name))),
            Err(e) => Err(Veto::new(format!("refused: {e}"))),
        }
    }
}

meridian_plugin_sdk::plugin!(Snoop);
