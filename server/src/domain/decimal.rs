//! Exact decimals for money, quantities and rates. In JSON they are strings (`"1299.50"`),
//! never numbers: a JSON number has already passed through a binary float in many clients.
//! Each kind has a fixed maximum scale, matching the scaled integers the store keeps.

use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! decimal_kind {
    ($(#[$doc:meta])* $name:ident, scale = $scale:expr, example = $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(Decimal);

        impl $name {
            /// Digits allowed after the decimal point.
            pub const SCALE_MAX: u32 = $scale;

            pub fn parse(s: &str) -> Result<Self, String> {
                let d: Decimal = s.trim().parse().map_err(|_| {
                    format!("must be a decimal string like \"{}\"", $example)
                })?;
                if d.scale() > Self::SCALE_MAX && d.normalize().scale() > Self::SCALE_MAX {
                    return Err(format!("has more than {} decimal places", Self::SCALE_MAX));
                }
                // The store keeps scaled 64-bit integers; stay well inside them.
                if d.abs() >= Decimal::from(100_000_000_000_000i64 / 10i64.pow(Self::SCALE_MAX.saturating_sub(4))) {
                    return Err("is too large".into());
                }
                Ok(Self(d))
            }

            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:.*}", Self::SCALE_MAX as usize, self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a decimal string like \"{}\"", $example)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::parse(v).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<$name, E> {
                        Err(E::custom(concat!("must be a decimal string like \"", $example, "\", not a JSON number")))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        self.visit_f64(v as f64)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        self.visit_f64(v as f64)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

decimal_kind!(
    /// An amount of money (scale 4: unit prices and costs; ledger amounts are rounded to the
    /// currency's minor unit when posted).
    Money, scale = 4, example = "1299.50"
);
decimal_kind!(
    /// A quantity of an item (scale 4).
    Quantity, scale = 4, example = "12.5"
);
decimal_kind!(
    /// A rate or percentage (scale 6), e.g. a tax rate or an exchange rate.
    Rate, scale = 6, example = "0.13"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_parse_exactly_and_print_at_their_scale() {
        let m: Money = serde_json::from_str("\"0.1\"").unwrap();
        let n: Money = serde_json::from_str("\"0.2\"").unwrap();
        assert_eq!((m.value() + n.value()).to_string(), "0.3");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"0.1000\"");
        assert_eq!(Rate::parse("0.130000").unwrap().to_string(), "0.130000");
        assert!(Money::parse("1.25000").is_ok(), "trailing zeros are not precision");
    }

    #[test]
    fn numbers_and_excess_precision_are_refused() {
        for bad in ["12.5", "12", "1e3"] {
            let e = serde_json::from_str::<Money>(bad).unwrap_err().to_string();
            assert!(e.contains("not a JSON number") || e.contains("decimal string"), "{bad}: {e}");
        }
        assert!(Money::parse("0.00001").unwrap_err().contains("4 decimal places"));
        assert!(Quantity::parse("abc").is_err());
    }
}
