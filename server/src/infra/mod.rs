//! Shared infrastructure with in-process defaults and optional Redis: rate limits, metrics.

pub mod metrics;
pub mod ratelimit;
