//! Hostile: built against a different major version of the WIT package (2.0.0). The host
//! refuses it at upload.
wit_bindgen::generate!({ path: "wit", world: "plugin" });

struct V2;

impl Guest for V2 {
    fn validate(_: Hook, _: Document) -> Result<(), Veto> {
        Ok(())
    }
    fn price_line(_: PriceRequest) -> Option<PriceAdjustment> {
        None
    }
    fn handle_events(_: Vec<Event>) -> Result<(), String> {
        Ok(())
    }
}

export!(V2);
