//! The runtime on its own: the example plugins answer as documented, and each hostile plugin
//! fails its own call with the problem it caused while the runtime keeps serving.

use std::collections::{BTreeSet, HashMap};

use meridian::plugins::runtime::{
    Budget, CallData, Capability, Document, DocumentLine, Failure, Hook, LoadError, Party, PriceRequest, StockLevel,
    WitDecimal, runtime,
};

use crate::plugin_build::component;

fn dec(units: i64, scale: u8) -> WitDecimal {
    WitDecimal { units, scale }
}

fn party(tags: &[&str]) -> Party {
    Party {
        id: "c-1".into(),
        code: "C001".into(),
        name: "Acme".into(),
        kind: "customer".into(),
        group: None,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        currency: "CNY".into(),
        credit_limit: None,
        active: true,
    }
}

fn order(total: WitDecimal, tags: &[&str]) -> Document {
    let line = DocumentLine {
        line_no: 1,
        item_id: Some("i-1".into()),
        sku: Some("CHAIR".into()),
        account: None,
        description: "Chair".into(),
        quantity: dec(1, 0),
        unit_price: total,
        discount: dec(0, 0),
        net: total,
    };
    Document {
        kind: "sales-order".into(),
        id: "o-1".into(),
        number: Some("SO-000001".into()),
        party: Some(party(tags)),
        currency: "CNY".into(),
        date: "2026-11-22".into(),
        memo: String::new(),
        net_total: total,
        tax_total: dec(0, 0),
        gross_total: total,
        lines: vec![line],
    }
}

fn grants(caps: &[Capability]) -> CallData {
    CallData { plugin: "test".into(), grants: caps.iter().copied().collect::<BTreeSet<_>>(), ..CallData::default() }
}

#[test]
fn the_example_plugins_answer_as_documented() {
    let rt = runtime().unwrap();
    let guard = rt.load(&component("credit-guard")).unwrap();
    let data = grants(&[Capability::Log]);
    let small = rt.validate(
        &guard,
        data.clone(),
        Budget::SYNC,
        Hook::BeforeSalesOrderConfirm,
        &order(dec(400000, 2), &["watch"]),
    );
    assert_eq!(small.result.unwrap(), Ok(()));
    let big = rt.validate(
        &guard,
        data.clone(),
        Budget::SYNC,
        Hook::BeforeSalesOrderConfirm,
        &order(dec(650000, 2), &["watch"]),
    );
    let veto = big.result.unwrap().unwrap_err();
    assert_eq!(
        veto.message,
        "customers tagged 'watch' need a manager's release for orders above 5000 CNY; this order is 6500.00"
    );
    assert_eq!(big.logs.len(), 1, "{:?}", big.logs);
    assert!(big.fuel_used > 0 && big.fuel_used < Budget::SYNC.fuel);
    let untagged =
        rt.validate(&guard, data.clone(), Budget::SYNC, Hook::BeforeSalesOrderConfirm, &order(dec(650000, 2), &[]));
    assert_eq!(untagged.result.unwrap(), Ok(()));
    let mut settings = data.clone();
    settings.settings = HashMap::from([("limit".into(), "10000".into()), ("tag".into(), "vip".into())]);
    let raised =
        rt.validate(&guard, settings, Budget::SYNC, Hook::BeforeSalesOrderConfirm, &order(dec(650000, 2), &["VIP"]));
    assert_eq!(raised.result.unwrap(), Ok(()));

    let pricing = rt.load(&component("tiered-pricing")).unwrap();
    let ask = |q: i64| PriceRequest {
        side: "sales".into(),
        party: None,
        item_id: "i-1".into(),
        sku: "CHAIR".into(),
        quantity: dec(q, 0),
        base_price: dec(20000, 2),
        currency: "CNY".into(),
        date: "2026-11-22".into(),
    };
    assert_eq!(rt.price_line(&pricing, grants(&[]), Budget::SYNC, &ask(5)).result.unwrap(), None);
    let fifty = rt.price_line(&pricing, grants(&[]), Budget::SYNC, &ask(50)).result.unwrap().unwrap();
    assert_eq!(
        (fifty.discount_percent.map(|d| (d.units, d.scale)), fifty.reason.as_str()),
        (Some((5, 0)), "tiered pricing: 5 % from 50 units")
    );

    let reorder = rt.load(&component("reorder-on-low-stock")).unwrap();
    let mut data = grants(&[Capability::ReadStock, Capability::CreatePurchaseRequests, Capability::Log]);
    data.settings.insert("cover".into(), "2".into());
    data.stock.insert(
        "i-1".into(),
        vec![StockLevel {
            item_id: "i-1".into(),
            sku: "CHAIR".into(),
            warehouse: "WH-1".into(),
            on_hand: dec(3, 0),
            reserved: dec(1, 0),
            available: dec(2, 0),
            safety_stock: dec(10, 0),
        }],
    );
    let event = meridian::plugins::runtime::Event {
        id: "e-1".into(),
        kind: "stock.below-safety".into(),
        subject_id: "i-1".into(),
        payload: "{}".into(),
    };
    let out = rt.handle_events(&reorder, data, Budget::EVENTS, &[event]);
    assert_eq!(out.result.unwrap(), Ok(()));
    assert_eq!(out.purchase_requests.len(), 1);
    assert_eq!(out.purchase_requests[0].quantity.to_string(), "18");
    assert_eq!(out.purchase_requests[0].reason, "CHAIR is at 2, below its safety stock of 10");

    let journal = rt.load(&component("journal-guard")).unwrap();
    let mut entry = order(dec(100, 0), &[]);
    entry.kind = "journal-entry".into();
    entry.memo = "fix".into();
    let short = rt.validate(&journal, grants(&[]), Budget::SYNC, Hook::BeforeJournalEntryPost, &entry);
    assert_eq!(short.result.unwrap().unwrap_err().field.as_deref(), Some("memo"));
}

#[test]
fn hostile_plugins_fail_their_own_call_and_the_runtime_keeps_serving() {
    let rt = runtime().unwrap();
    let guard = rt.load(&component("credit-guard")).unwrap();
    let doc = order(dec(100, 0), &[]);
    let healthy = || {
        let out = rt.validate(&guard, grants(&[Capability::Log]), Budget::SYNC, Hook::BeforeSalesOrderConfirm, &doc);
        assert_eq!(out.result.unwrap(), Ok(()));
    };
    let run = |name: &str, caps: &[Capability]| {
        let p = rt.load(&component(name)).unwrap();
        let out = rt.validate(&p, grants(caps), Budget::SYNC, Hook::BeforeSalesOrderConfirm, &doc);
        healthy();
        out
    };
    assert_eq!(run("hostile-spin", &[]).result.unwrap_err(), Failure::OutOfFuel(Budget::SYNC.fuel));
    assert_eq!(run("hostile-memory-bomb", &[]).result.unwrap_err(), Failure::Memory);
    assert!(matches!(run("hostile-panic", &[]).result.unwrap_err(), Failure::Trap(_)));
    assert_eq!(run("hostile-huge-output", &[]).result.unwrap_err(), Failure::OutputTooLarge(1 << 20));
    assert_eq!(
        run("hostile-ungranted", &[Capability::Log]).result.unwrap_err(),
        Failure::NotGranted { function: "read-customer", capability: "read-customers" }
    );
    let snoop = run("hostile-cross-tenant", &[Capability::ReadCustomers]).result.unwrap().unwrap_err();
    assert_eq!(snoop.message, "refused: no customer ");

    // A generous fuel budget leaves the wall clock to stop a loop.
    let spin = rt.load(&component("hostile-spin")).unwrap();
    let slow = Budget { fuel: u64::MAX / 2, time: std::time::Duration::from_millis(30) };
    assert_eq!(
        rt.validate(&spin, grants(&[]), slow, Hook::BeforeSalesOrderConfirm, &doc).result.unwrap_err(),
        Failure::Timeout(30)
    );

    assert!(matches!(rt.load(&component("hostile-sdk-v2")), Err(LoadError::WrongSdk { found }) if found == "2.0.0"));
    assert!(matches!(rt.load(b"\0asm not really"), Err(LoadError::Invalid(_))));
    healthy();
}

/// The demo tenant runs a prebuilt copy of credit-guard (`plugins/dist`), so that the README's
/// first command needs no wasm toolchain. It must answer as the source does today; if this
/// fails, rebuild it: `cargo build --release --target wasm32-wasip2 --manifest-path
/// plugins/Cargo.toml && cp plugins/target/wasm32-wasip2/release/credit_guard.wasm
/// plugins/dist/credit-guard.wasm`.
#[test]
fn the_demo_tenants_prebuilt_plugin_matches_its_source() {
    let rt = runtime().unwrap();
    let built = rt.load(&component("credit-guard")).unwrap();
    let shipped = rt.load(meridian::app::demo::DEMO_PLUGIN).unwrap();
    let data = grants(&[Capability::Log]);
    for (total, tags) in [(dec(650000, 2), &["watch"][..]), (dec(400000, 2), &["watch"]), (dec(650000, 2), &[])] {
        let doc = order(total, tags);
        let a = rt.validate(&built, data.clone(), Budget::SYNC, Hook::BeforeSalesOrderConfirm, &doc);
        let b = rt.validate(&shipped, data.clone(), Budget::SYNC, Hook::BeforeSalesOrderConfirm, &doc);
        assert_eq!((a.result, a.logs), (b.result, b.logs), "plugins/dist/credit-guard.wasm is stale");
    }
    let manifest: serde_json::Value = serde_json::from_str(meridian::app::demo::DEMO_PLUGIN_MANIFEST).unwrap();
    assert_eq!(manifest, crate::plugin_build::manifest("credit-guard"));
}
