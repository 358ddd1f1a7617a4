//! Pure business rules: values in, values or typed errors out. Nothing here knows actix,
//! sea-orm, redis, wasmtime or the clock (callers pass `now`).

pub mod access;
pub mod approvals;
pub mod bank;
pub mod bom;
pub mod charts;
pub mod crm;
pub mod decimal;
pub mod ids;
pub mod ledger;
pub mod mrp;
pub mod numbering;
pub mod receivables;
pub mod service;
pub mod statements;
pub mod stock;
pub mod subscription;
pub mod tax;
pub mod trade;
pub mod validate;
