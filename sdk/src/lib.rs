//! The Meridian plugin SDK: write a plugin as a Rust crate, build it for `wasm32-wasip2`,
//! upload the component with its manifest. See `sdk/README.md` for the walk-through.
//!
//! ```ignore
//! use meridian_plugin_sdk::{Document, Hook, Plugin, Veto, log};
//!
//! struct BigOrders;
//!
//! impl Plugin for BigOrders {
//!     fn validate(hook: Hook, doc: Document) -> Result<(), Veto> {
//!         if hook == Hook::BeforeSalesOrderConfirm && doc.gross_total.to_decimal() > 10_000.into() {
//!             log::info("refused a large order");
//!             return Err(Veto::new("orders above 10,000 need a deposit"));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! meridian_plugin_sdk::plugin!(BigOrders);
//! ```
//!
//! Every hook has a default that lets things pass, so a plugin implements only the hooks its
//! manifest lists. Money and quantities arrive as [`Decimal`] records, which convert exactly to
//! and from [`Dec`] (`rust_decimal`); nothing is ever a float.

/// The generated bindings of the `meridian:plugin@1.0.0` world. Plugins normally use the
/// re-exports at the crate root instead.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "meridian_plugin_sdk::bindings",
    });
}

pub use bindings::meridian::plugin::host;
pub use bindings::meridian::plugin::types::{
    Decimal, Document, DocumentLine, Event, Hook, Level, Party, PriceAdjustment, PriceRequest, StockLevel, Veto,
};
/// The exact decimal type plugins compute with.
pub use rust_decimal::Decimal as Dec;

/// The SDK's major version: the host refuses plugins built against another one.
pub const SDK_MAJOR: u32 = 1;

/// A plugin: implement the hooks your manifest lists; the others keep their defaults.
pub trait Plugin {
    /// Before a transition: `Err` refuses it with the veto's message.
    fn validate(_hook: Hook, _document: Document) -> Result<(), Veto> {
        Ok(())
    }

    /// A price or discount for one line; `None` keeps Meridian's.
    fn price_line(_request: PriceRequest) -> Option<PriceAdjustment> {
        None
    }

    /// Events after commit; `Err` sends the batch to retry, then to the dead-letter list.
    fn handle_events(_events: Vec<Event>) -> Result<(), String> {
        Ok(())
    }
}

/// Exports a type implementing [`Plugin`] as the component's hooks.
#[macro_export]
macro_rules! plugin {
    ($plugin:ident) => {
        #[doc(hidden)]
        pub struct __MeridianExports;

        impl $crate::bindings::Guest for __MeridianExports {
            fn validate(hook: $crate::Hook, document: $crate::Document) -> ::core::result::Result<(), $crate::Veto> {
                <$plugin as $crate::Plugin>::validate(hook, document)
            }
            fn price_line(request: $crate::PriceRequest) -> ::core::option::Option<$crate::PriceAdjustment> {
                <$plugin as $crate::Plugin>::price_line(request)
            }
            fn handle_events(events: ::std::vec::Vec<$crate::Event>) -> ::core::result::Result<(), ::std::string::String> {
                <$plugin as $crate::Plugin>::handle_events(events)
            }
        }

        $crate::bindings::export_world!(__MeridianExports with_types_in $crate::bindings);
    };
}

impl Decimal {
    /// The exact value as a [`Dec`].
    pub fn to_decimal(&self) -> Dec {
        Dec::new(self.units, u32::from(self.scale))
    }

    /// `units / 10^scale` exactly, when the value fits (at most 28 decimals and 18 digits).
    pub fn from_decimal(d: Dec) -> Option<Decimal> {
        let scale = u8::try_from(d.scale()).ok()?;
        let units = i64::try_from(d.mantissa()).ok()?;
        Some(Decimal { units, scale })
    }
}

impl From<Decimal> for Dec {
    fn from(d: Decimal) -> Dec {
        d.to_decimal()
    }
}

impl Veto {
    pub fn new(message: impl Into<String>) -> Veto {
        Veto { message: message.into(), field: None }
    }

    /// A veto about one field, e.g. `lines[2].quantity`.
    pub fn on_field(field: impl Into<String>, message: impl Into<String>) -> Veto {
        Veto { message: message.into(), field: Some(field.into()) }
    }
}

impl Party {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

/// The plugin's log, shown with its invocations (needs the `log` capability).
pub mod log {
    use crate::Level;
    use crate::host;

    pub fn debug(message: &str) {
        host::log(Level::Debug, message);
    }
    pub fn info(message: &str) {
        host::log(Level::Info, message);
    }
    pub fn warn(message: &str) {
        host::log(Level::Warn, message);
    }
    pub fn error(message: &str) {
        host::log(Level::Error, message);
    }
}

/// The tenant's value of a setting the manifest declares, parsed as a decimal.
pub fn setting_decimal(key: &str) -> Option<Dec> {
    host::setting(key).and_then(|v| v.parse().ok())
}
