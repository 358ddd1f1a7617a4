//! Tiered pricing: a discount by quantity on sales lines. Setting `tiers` lists
//! `quantity:percent` pairs, default `10:2,50:5,100:10` (2 % from 10 units, 5 % from 50...).

use meridian_plugin_sdk::{Dec, Decimal, Plugin, PriceAdjustment, PriceRequest, host};

struct TieredPricing;

fn tiers() -> Vec<(Dec, Dec)> {
    let text = host::setting("tiers").unwrap_or_else(|| "10:2,50:5,100:10".into());
    let mut tiers: Vec<(Dec, Dec)> = text
        .split(',')
        .filter_map(|t| {
            let (q, p) = t.split_once(':')?;
            Some((q.trim().parse().ok()?, p.trim().parse().ok()?))
        })
        .collect();
    tiers.sort();
    tiers
}

impl Plugin for TieredPricing {
    fn price_line(request: PriceRequest) -> Option<PriceAdjustment> {
        if request.side != "sales" {
            return None;
        }
        let quantity = request.quantity.to_decimal();
        let (from, percent) = tiers().into_iter().rev().find(|(from, _)| quantity >= *from)?;
        Some(PriceAdjustment {
            unit_price: None,
            discount_percent: Decimal::from_decimal(percent),
            reason: format!("tiered pricing: {percent} % from {from} units"),
        })
    }
}

meridian_plugin_sdk::plugin!(TieredPricing);
