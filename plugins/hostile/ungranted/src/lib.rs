//! Hostile: reads a customer without the `read-customers` capability.
use meridian_plugin_sdk::{Document, Hook, Plugin, Veto, host};

struct Ungranted;

impl Plugin for Ungranted {
    fn validate(_: Hook, doc: Document) -> Result<(), Veto> {
        let id = doc.party.map(|p| p.id).unwrap_or_default();
        match host::read_customer(&id) {
            Ok(p) => Err(Veto::new(format!("read {}", p.name))),
            Err(e) => Err(Veto::new(format!("could not read: {e}"))),
        }
    }
}

meridian_plugin_sdk::plugin!(Ungranted);
