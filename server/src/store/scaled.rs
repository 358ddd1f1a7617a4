//! Decimal <-> scaled 64-bit integer at the store boundary (design.md: money and quantities at
//! scale 4, rates at scale 6). Conversions are checked: excess precision or overflow is an
//! error, never a silent rounding.

use rust_decimal::Decimal;

use crate::error::{AppError, AppResult};

pub const MONEY_SCALE: u32 = 4;

pub fn to_scaled(value: Decimal, scale: u32) -> AppResult<i64> {
    let factor = Decimal::from(10i64.pow(scale));
    let scaled = value.checked_mul(factor).ok_or_else(|| AppError::internal(format!("{value} overflows")))?;
    if scaled.fract() != Decimal::ZERO {
        return Err(AppError::internal(format!("{value} has more than {scale} decimal places")));
    }
    i64::try_from(scaled.trunc()).map_err(|_| AppError::internal(format!("{value} does not fit the store")))
}

pub fn from_scaled(value: i64, scale: u32) -> Decimal {
    Decimal::new(value, scale)
}

pub fn money_to_db(value: Decimal) -> AppResult<i64> {
    to_scaled(value, MONEY_SCALE)
}

pub fn money_from_db(value: i64) -> Decimal {
    from_scaled(value, MONEY_SCALE)
}

pub const RATE_SCALE: u32 = 6;

pub fn rate_to_db(value: Decimal) -> AppResult<i64> {
    to_scaled(value, RATE_SCALE)
}

pub fn rate_from_db(value: i64) -> Decimal {
    from_scaled(value, RATE_SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_and_refuse_what_they_cannot_hold() {
        let d: Decimal = "1234.5678".parse().unwrap();
        assert_eq!(money_to_db(d).unwrap(), 12_345_678);
        assert_eq!(money_from_db(12_345_678), d);
        assert!(money_to_db("0.00001".parse().unwrap()).is_err());
        assert!(money_to_db(Decimal::MAX).is_err());
        assert_eq!(money_from_db(money_to_db("-0.01".parse().unwrap()).unwrap()).to_string(), "-0.0100");
    }
}
