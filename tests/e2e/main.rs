//! End-to-end tests: the real server on a free port, driven over HTTP. Every test that touches
//! storage runs on SQLite and, when `MERIDIAN_TEST_DATABASE_URL` is set, on PostgreSQL too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod harness;

mod access;
mod approvals;
mod auth;
mod bank;
mod browser;
mod crm;
mod ledger;
mod ledger_properties;
mod platform;
mod plugin_build;
mod plugin_runtime;
mod plugins;
mod portal;
mod production;
mod receivables;
mod service;
mod statements;
mod stock;
mod stock_properties;
mod subscription;
mod tenancy;
mod trade;
