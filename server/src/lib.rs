//! Meridian: the integrated business core. See ARCHITECTURE.md for the map.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod infra;
pub mod plugins;
pub mod startup;
pub mod store;
pub mod telemetry;
