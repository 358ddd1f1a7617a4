//! Configuration, read once from the environment at start-up. Nothing else reads env vars.

use std::net::SocketAddr;
use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name} is required when MERIDIAN_ENV=production")]
    RequiredInProduction { name: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Everything the server needs to start. Built by [`Config::from_env`] or by tests directly.
#[derive(Clone, Debug)]
pub struct Config {
    pub environment: Environment,
    pub bind: SocketAddr,
    /// Where the server keeps its files in development: the SQLite database, dev signing keys.
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Connection used to run migrations and grant the runtime role its rights; defaults to
    /// `database_url`.
    pub migration_database_url: Option<String>,
    /// PostgreSQL role the server runs as when `database_url` names a role that bypasses RLS.
    pub app_db_role: String,
    pub redis_url: Option<String>,
    /// PEM of the Ed25519 signing key; `None` in development means "generate and keep one in
    /// `data_dir`".
    pub signing_key_pem: Option<String>,
    pub signing_key_id: Option<String>,
    /// PEMs of retired public keys still accepted for verification, as `kid=path` pairs.
    pub token_issuer: String,
    pub token_audience: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// Bearer credential for `/operator/v1`; operator endpoints are closed when unset.
    pub operator_token: Option<String>,
    pub body_limit_bytes: usize,
    /// Requests per minute allowed to one API key or user, on top of the tenant's plan rate.
    pub principal_rate_per_minute: u32,
    pub seed_demo: bool,
    /// Run the event dispatcher on this node (plugin event handlers). Any number of nodes may.
    pub dispatch_events: bool,
    pub workers: Option<usize>,
    pub db_max_connections: u32,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let environment = match var("MERIDIAN_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "MERIDIAN_ENV",
                    reason: format!("expected development or production, got {other:?}"),
                });
            }
        };
        let data_dir = PathBuf::from(var("MERIDIAN_DATA_DIR").unwrap_or_else(|| "data".into()));
        let bind = parse("MERIDIAN_BIND", var("MERIDIAN_BIND").as_deref().unwrap_or("127.0.0.1:8080"))?;
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("meridian.db").display()));
        let signing_key_pem = match var("MERIDIAN_SIGNING_KEY_FILE") {
            Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: "MERIDIAN_SIGNING_KEY_FILE",
                reason: format!("cannot read {path}: {e}"),
            })?),
            None => var("MERIDIAN_SIGNING_KEY"),
        };
        let operator_token = var("MERIDIAN_OPERATOR_TOKEN");
        if environment == Environment::Production {
            if signing_key_pem.is_none() {
                return Err(ConfigError::RequiredInProduction { name: "MERIDIAN_SIGNING_KEY_FILE" });
            }
            if var("DATABASE_URL").is_none() {
                return Err(ConfigError::RequiredInProduction { name: "DATABASE_URL" });
            }
        }
        Ok(Self {
            environment,
            bind,
            data_dir,
            database_url,
            migration_database_url: var("MERIDIAN_MIGRATION_DATABASE_URL"),
            app_db_role: var("MERIDIAN_DB_APP_ROLE").unwrap_or_else(|| "meridian_app".into()),
            redis_url: var("REDIS_URL"),
            signing_key_pem,
            signing_key_id: var("MERIDIAN_SIGNING_KEY_ID"),
            token_issuer: var("MERIDIAN_TOKEN_ISSUER").unwrap_or_else(|| "meridian".into()),
            token_audience: var("MERIDIAN_TOKEN_AUDIENCE").unwrap_or_else(|| "meridian-api".into()),
            access_token_ttl_secs: parse_or("MERIDIAN_ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl_secs: parse_or("MERIDIAN_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            operator_token,
            body_limit_bytes: parse_or("MERIDIAN_BODY_LIMIT_BYTES", 1024 * 1024)?,
            principal_rate_per_minute: parse_or("MERIDIAN_PRINCIPAL_RATE_PER_MINUTE", 600_000)?,
            seed_demo: parse_or("MERIDIAN_SEED_DEMO", environment == Environment::Development)?,
            dispatch_events: parse_or("MERIDIAN_DISPATCH_EVENTS", true)?,
            workers: var("MERIDIAN_WORKERS").map(|w| parse("MERIDIAN_WORKERS", &w)).transpose()?,
            db_max_connections: parse_or("MERIDIAN_DB_MAX_CONNECTIONS", 16)?,
        })
    }

    /// A development configuration rooted at `data_dir`, for tests and tools.
    pub fn for_dev(data_dir: PathBuf, database_url: String) -> Self {
        Self {
            environment: Environment::Development,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url,
            migration_database_url: None,
            app_db_role: "meridian_app".into(),
            redis_url: None,
            signing_key_pem: None,
            signing_key_id: None,
            token_issuer: "meridian".into(),
            token_audience: "meridian-api".into(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            operator_token: None,
            body_limit_bytes: 1024 * 1024,
            principal_rate_per_minute: 600_000,
            seed_demo: false,
            dispatch_events: true,
            workers: None,
            db_max_connections: 16,
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() })
}

fn parse_or<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        Some(v) => parse(name, &v),
        None => Ok(default),
    }
}
