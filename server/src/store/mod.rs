//! The store: the only module with SQL. It hands out tenant-scoped transactions and nothing
//! else that can touch a tenant table; every repository function takes a [`TenantTx`], whose
//! tenant it filters on. On PostgreSQL each transaction also sets `app.tenant_id` with
//! `set_config(.., true)` (transaction-local) so that forced row-level security answers for
//! that tenant only, and the server runs as a role without BYPASSRLS.

pub mod api_keys;
pub mod approvals;
pub mod audit;
pub mod bank;
pub mod crm;
mod entities;
pub mod events;
pub mod expenses;
pub mod fx;
pub mod idempotency;
pub mod insight;
pub mod ledger;
pub mod plugins;
pub mod production;
pub mod receivables;
pub mod refresh_tokens;
pub mod roles;
pub mod scaled;
pub mod service;
pub mod stock;
pub mod tenants;
pub mod trade;
pub mod users;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use meridian_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseExecutor, DbBackend, DbErr,
    RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::OwnedMutexGuard;
use tracing::{info, warn};

use crate::config::{Config, Environment};
use crate::domain::ids::TenantId;
use crate::error::{AppError, AppResult};

/// Serialises migrations and grants across server nodes starting at once.
const MIGRATION_LOCK_ID: i64 = 0x4D45_5249_4449_414E; // "MERIDIAN"
const RETRY_ATTEMPTS_MAX: u32 = 5;

#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite has one writer at a time. Queuing writers here, in arrival order, replaces
    /// SQLite's busy handler, which sleeps and retries with growing pauses (p99 of hundreds of
    /// milliseconds under load).
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A transaction scoped to one tenant. Repository functions read `tenant()` for every filter
/// and every insert; the connection itself is visible only inside the store.
pub struct TenantTx<'s> {
    tx: DatabaseExecutor<'s>,
    tenant: TenantId,
    _writer: Option<OwnedMutexGuard<()>>,
    /// Work on rows that every poster shares (voucher sequences, period balances), kept for
    /// the moment before COMMIT so their row locks are held for as short a time as possible.
    at_commit: std::sync::Mutex<ledger::AtCommit>,
    /// Rows a use case reads several times and seldom writes (the tenant, the account
    /// mappings), kept for the transaction's life; the store functions that write them clear
    /// them.
    memo: std::sync::Mutex<TxMemo>,
}

#[derive(Default)]
pub(in crate::store) struct TxMemo {
    pub tenant: Option<tenants::Tenant>,
    pub mappings: Option<Vec<(String, uuid::Uuid)>>,
}

impl TenantTx<'_> {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub(in crate::store) fn conn(&self) -> &DatabaseExecutor<'_> {
        &self.tx
    }

    /// Runs a SQL script in this tenant's transaction. For benchmark fixtures only (bulk data
    /// that would take minutes through the use cases); never on a request path.
    pub async fn run_fixture_sql(&self, sql: &str) -> AppResult<()> {
        use sea_orm::ConnectionTrait;
        self.tx.execute_unprepared(sql).await?;
        Ok(())
    }

    /// Runs the work kept for the end (see [`ledger::AtCommit`]), then commits.
    pub async fn commit(self) -> AppResult<()> {
        let pending = std::mem::take(&mut *self.at_commit_work()?);
        ledger::flush_at_commit(&self, pending).await?;
        finish(self.tx).await
    }

    pub(in crate::store) fn memo(&self) -> AppResult<std::sync::MutexGuard<'_, TxMemo>> {
        self.memo.lock().map_err(|_| AppError::internal("transaction memo poisoned"))
    }

    pub(in crate::store) fn at_commit_work(&self) -> AppResult<std::sync::MutexGuard<'_, ledger::AtCommit>> {
        self.at_commit.lock().map_err(|_| AppError::internal("commit work poisoned"))
    }
}

async fn finish(exec: DatabaseExecutor<'_>) -> AppResult<()> {
    match exec {
        DatabaseExecutor::OwnedTransaction(tx) => Ok(tx.commit().await?),
        _ => Ok(()),
    }
}

/// A transaction over platform tables only (tenants), for sign-up lookups and the operator.
pub struct PlatformTx<'s> {
    tx: DatabaseExecutor<'s>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl PlatformTx<'_> {
    pub(in crate::store) fn conn(&self) -> &DatabaseExecutor<'_> {
        &self.tx
    }

    pub async fn commit(self) -> AppResult<()> {
        finish(self.tx).await
    }
}

impl Store {
    /// Connects, migrates and (on PostgreSQL) makes sure the server runs as a role that row-level
    /// security applies to.
    pub async fn connect(config: &Config) -> Result<Store, StoreError> {
        let url = &config.database_url;
        if url.starts_with("sqlite:") {
            prepare_sqlite_dir(url)?;
            let db = connect_pool(url, config.db_max_connections).await?;
            migrate(&db).await?;
            return Ok(Store { db, sqlite_writer: Arc::default() });
        }
        let owner_url = config.migration_database_url.as_deref().unwrap_or(url);
        let runtime_url = {
            let owner = connect_pool(owner_url, 1).await?;
            let locked = owner
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_lock($1)",
                    [MIGRATION_LOCK_ID.into()],
                ))
                .await;
            locked?;
            let result = prepare_postgres(&owner, config, owner_url).await;
            let _ = owner
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_unlock($1)",
                    [MIGRATION_LOCK_ID.into()],
                ))
                .await;
            let _ = owner.close().await;
            result?
        };
        let db = connect_pool(&runtime_url, config.db_max_connections).await?;
        let privileged = role_bypasses_rls(&db, None).await?;
        if privileged {
            return Err(StoreError::PrivilegedRole);
        }
        Ok(Store { db, sqlite_writer: Arc::default() })
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    pub async fn begin(&self, tenant: TenantId, access: Access) -> AppResult<TenantTx<'_>> {
        let writer = self.writer_turn(access).await;
        let tx = self.begin_raw(access).await?;
        if self.backend() == DbBackend::Postgres {
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant.0.to_string().into()],
            ))
            .await?;
        }
        Ok(TenantTx { tx, tenant, _writer: writer, at_commit: Default::default(), memo: Default::default() })
    }

    pub async fn begin_platform(&self, access: Access) -> AppResult<PlatformTx<'_>> {
        let writer = self.writer_turn(access).await;
        Ok(PlatformTx { tx: self.begin_raw(access).await?, _writer: writer })
    }

    async fn writer_turn(&self, access: Access) -> Option<OwnedMutexGuard<()>> {
        match (self.backend(), access) {
            (DbBackend::Sqlite, Access::Write) => Some(self.sqlite_writer.clone().lock_owned().await),
            _ => None,
        }
    }

    /// On SQLite a read runs on a pooled connection without BEGIN/COMMIT: every statement sees
    /// committed data, and a request saves two round trips to SQLite's worker thread. On
    /// PostgreSQL every scope is a transaction, because `app.tenant_id` is transaction-local.
    async fn begin_raw(&self, access: Access) -> Result<DatabaseExecutor<'_>, DbErr> {
        if (self.backend(), access) == (DbBackend::Sqlite, Access::Read) {
            return Ok(DatabaseExecutor::Connection(&self.db));
        }
        let options = match (self.backend(), access) {
            // A deferred SQLite transaction that reads and then writes fails with SQLITE_BUSY
            // despite busy_timeout, so writers take the lock up front.
            (DbBackend::Sqlite, Access::Write) => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            },
            (DbBackend::Postgres, Access::Read) => {
                TransactionOptions { access_mode: Some(AccessMode::ReadOnly), ..Default::default() }
            }
            _ => TransactionOptions::default(),
        };
        Ok(DatabaseExecutor::OwnedTransaction(self.db.begin_with_options(options).await?))
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> AppResult<()> {
        Ok(self.db.ping().await?)
    }

    /// Counts every row of `table` with no tenant filter in the SQL, through the server's own
    /// connection role, either outside any tenant scope or inside `tenant`'s. Only for tests
    /// that prove row-level security holds; the server never calls it.
    pub async fn count_rows_unfiltered(&self, tenant: Option<TenantId>, table: &str) -> AppResult<i64> {
        if !table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(AppError::internal("bad table name"));
        }
        let stmt = Statement::from_string(self.backend(), format!("SELECT COUNT(*) AS n FROM {table}"));
        let row = match tenant {
            Some(t) => {
                let tx = self.begin(t, Access::Read).await?;
                let row = tx.tx.query_one_raw(stmt).await?;
                tx.commit().await?;
                row
            }
            None => self.db.query_one_raw(stmt).await?,
        };
        Ok(row.ok_or_else(|| AppError::internal("no row"))?.try_get::<i64>("", "n")?)
    }

    /// Tries to rewrite the tenant's audit rows through the server's own role; the schema must
    /// refuse. Only for the test that proves it.
    pub async fn try_tamper_audit(&self, tenant: TenantId) -> AppResult<()> {
        let tx = self.begin(tenant, Access::Write).await?;
        tx.tx
            .execute_raw(Statement::from_string(self.backend(), "UPDATE audit_events SET action = 'tampered'"))
            .await?;
        tx.commit().await
    }

    /// Tables that carry `tenant_id` and what protects each, for the schema test.
    pub async fn tenant_table_report(&self) -> AppResult<Vec<TenantTableReport>> {
        schema_report(&self.db).await
    }
}

/// `UPDATE table SET .. FROM (VALUES ..) AS v WHERE table.tenant_id = $1 AND ..`: one
/// statement for many rows, on both backends (the columns of a VALUES list are named column1,
/// column2, .. on both). `values` holds the tenant, then any fixed parameters of `filter`
/// (written `{2}`, `{3}`, ..), then the rows, `width` values each. Returns the rows updated.
pub(in crate::store) async fn update_from_values(
    tx: &TenantTx<'_>,
    table: &str,
    set: &str,
    filter: &str,
    width: usize,
    values: Vec<sea_orm::Value>,
) -> AppResult<u64> {
    let backend = tx.conn().get_database_backend();
    let fixed = 1 + (2..).take_while(|n| filter.contains(&format!("{{{n}}}"))).count();
    let mut filter = filter.to_owned();
    for n in 2..=fixed {
        filter = filter.replace(&format!("{{{n}}}"), &ph(backend, n));
    }
    let rows = values.len().saturating_sub(fixed) / width;
    if rows == 0 {
        return Ok(0);
    }
    let list: Vec<String> = (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..width).map(|c| ph(backend, fixed + r * width + c + 1)).collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    let sql = format!(
        "UPDATE {table} SET {set} FROM (VALUES {}) AS v WHERE {table}.tenant_id = {} AND {filter}",
        list.join(", "),
        ph(backend, 1)
    );
    Ok(tx.conn().execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected())
}

/// Dates are stored as `YYYY-MM-DD` text on both backends (they sort and compare as text).
/// Positional placeholder `n` (1-based) for the backend, for raw SQL.
pub(crate) fn ph(backend: sea_orm::DbBackend, n: usize) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// The first instant of a day (UTC).
pub fn day_start(d: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The first instant after a day (None after the last day there is).
pub fn day_after(d: chrono::NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
    d.succ_opt().map(day_start)
}

pub(crate) fn date_str(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_date(s: &str) -> AppResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| AppError::internal(format!("stored date {s}: {e}")))
}

/// Retries a unit of work when PostgreSQL reports a serialization failure (40001) or a
/// deadlock (40P01). `work` must start its own transaction each time.
pub async fn retrying<T, F, Fut>(mut work: F) -> AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = AppResult<T>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match work().await {
            Err(AppError::Retryable(reason)) if attempt < RETRY_ATTEMPTS_MAX => {
                warn!(attempt, %reason, "retrying transaction");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
            }
            Err(AppError::Retryable(reason)) => return Err(AppError::Unavailable(reason)),
            other => return other,
        }
    }
}

/// The SQLSTATE (PostgreSQL) or extended code (SQLite) of a database error, if any.
pub(crate) fn db_code(e: &DbErr) -> Option<String> {
    let runtime = match e {
        DbErr::Exec(r) | DbErr::Query(r) | DbErr::Conn(r) => r,
        _ => return None,
    };
    match runtime {
        RuntimeErr::SqlxError(sqlx_err) => sqlx_err.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether a write failed on a unique constraint (PostgreSQL 23505, SQLite 2067/1555).
/// A unique key already taken (by a concurrent writer that passed the same check) as a 409.
pub(crate) fn conflict_on_unique<T>(r: Result<T, DbErr>, message: impl FnOnce() -> String) -> AppResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if is_unique_violation(&e) => Err(AppError::Conflict(message())),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(db_code(e).as_deref(), Some("23505" | "2067" | "1555"))
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("cannot prepare the SQLite directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad database URL: {0}")]
    Url(String),
    #[error(
        "the database role of DATABASE_URL bypasses row-level security; connect as a role \
         without SUPERUSER and BYPASSRLS (set MERIDIAN_MIGRATION_DATABASE_URL for migrations)"
    )]
    PrivilegedRole,
}

fn prepare_sqlite_dir(url: &str) -> Result<(), StoreError> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}

async fn connect_pool(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    Database::connect(opts).await
}

async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await?;
    info!("migrations applied");
    Ok(())
}

async fn prepare_postgres(owner: &DatabaseConnection, config: &Config, owner_url: &str) -> Result<String, StoreError> {
    migrate(owner).await?;
    let runtime_url = &config.database_url;
    let same_url = runtime_url == owner_url;
    let runtime_user = if same_url {
        current_user(owner).await?
    } else {
        url::Url::parse(runtime_url).map_err(|e| StoreError::Url(e.to_string()))?.username().to_owned()
    };
    let switch = role_bypasses_rls(owner, Some(&runtime_user)).await?;
    let (role, url) = if switch {
        if config.environment == Environment::Production {
            return Err(StoreError::PrivilegedRole);
        }
        let role = &config.app_db_role;
        warn!(
            from = %runtime_user, to = %role,
            "DATABASE_URL names a role that bypasses row-level security; the server runs as {role}"
        );
        create_app_role(owner, role).await?;
        let mut url = url::Url::parse(runtime_url).map_err(|e| StoreError::Url(e.to_string()))?;
        url.set_username(role).map_err(|_| StoreError::Url("cannot set user".into()))?;
        url.set_password(None).map_err(|_| StoreError::Url("cannot set password".into()))?;
        (role.clone(), url.to_string())
    } else {
        (runtime_user.clone(), runtime_url.clone())
    };
    if role != current_user(owner).await? {
        grant_runtime_rights(owner, &role).await?;
    }
    Ok(url)
}

async fn current_user(db: &DatabaseConnection) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT current_user::text AS u"))
        .await?
        .ok_or_else(|| DbErr::Custom("current_user returned nothing".into()))?;
    row.try_get("", "u")
}

async fn role_bypasses_rls(db: &DatabaseConnection, role: Option<&str>) -> Result<bool, DbErr> {
    let stmt = match role {
        Some(r) => Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT COALESCE(bool_or(rolsuper OR rolbypassrls), false) AS b FROM pg_roles WHERE rolname = $1",
            [r.into()],
        ),
        None => Statement::from_string(
            DbBackend::Postgres,
            "SELECT (rolsuper OR rolbypassrls) AS b FROM pg_roles WHERE rolname = current_user",
        ),
    };
    let row = db.query_one_raw(stmt).await?;
    Ok(match row {
        Some(r) => r.try_get::<bool>("", "b")?,
        None => false,
    })
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn create_app_role(db: &DatabaseConnection, role: &str) -> Result<(), DbErr> {
    let role = quote_ident(role);
    db.execute_unprepared(&format!(
        "DO $$ BEGIN
           CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$"
    ))
    .await?;
    Ok(())
}

/// What the runtime role may do: read and write rows, never change the schema, never update or
/// delete audit rows, never touch the migration bookkeeping.
async fn grant_runtime_rights(db: &DatabaseConnection, role: &str) -> Result<(), DbErr> {
    let role = quote_ident(role);
    db.execute_unprepared(&format!(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$;
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON stock_ledger FROM {role};
         REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON seaql_migrations FROM {role};"
    ))
    .await?;
    Ok(())
}

/// How one table that carries `tenant_id` is protected.
#[derive(Clone, Debug)]
pub struct TenantTableReport {
    pub table: String,
    pub tenant_id_first: bool,
    pub primary_key_starts_with_tenant: bool,
    /// Foreign keys that point at another tenant table without including `tenant_id`.
    pub foreign_keys_without_tenant: Vec<String>,
    /// PostgreSQL only: RLS enabled and forced, and at least one policy.
    pub rls_forced_with_policy: Option<bool>,
}

async fn schema_report(db: &DatabaseConnection) -> AppResult<Vec<TenantTableReport>> {
    let backend = db.get_database_backend();
    let tables: Vec<String> = match backend {
        DbBackend::Postgres => db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name::text AS t FROM information_schema.columns
                 WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY 1",
            ))
            .await?
            .iter()
            .map(|r| r.try_get::<String>("", "t"))
            .collect::<Result<_, _>>()?,
        _ => {
            let names: Vec<String> = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT name AS t FROM sqlite_master WHERE type = 'table' ORDER BY 1",
                ))
                .await?
                .iter()
                .map(|r| r.try_get::<String>("", "t"))
                .collect::<Result<_, _>>()?;
            let mut with_tenant = Vec::new();
            for n in names {
                let cols = sqlite_columns(db, &n).await?;
                if cols.iter().any(|c| c.0 == "tenant_id") {
                    with_tenant.push(n);
                }
            }
            with_tenant
        }
    };
    let mut out = Vec::new();
    for table in tables {
        out.push(match backend {
            DbBackend::Postgres => pg_table_report(db, &table).await?,
            _ => sqlite_table_report(db, &table).await?,
        });
    }
    Ok(out)
}

/// (name, position in the primary key: 0 when not part of it), in column order.
async fn sqlite_columns(db: &DatabaseConnection, table: &str) -> AppResult<Vec<(String, i64)>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid",
            [table.into()],
        ))
        .await?;
    rows.iter().map(|r| Ok((r.try_get::<String>("", "name")?, r.try_get::<i64>("", "pk")?))).collect()
}

async fn sqlite_table_report(db: &DatabaseConnection, table: &str) -> AppResult<TenantTableReport> {
    let cols = sqlite_columns(db, table).await?;
    let fks = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT id, \"table\" AS target, \"from\" AS col FROM pragma_foreign_key_list(?)",
            [table.into()],
        ))
        .await?;
    let mut groups: std::collections::BTreeMap<i64, (String, Vec<String>)> = Default::default();
    for r in &fks {
        let id: i64 = r.try_get("", "id")?;
        let target: String = r.try_get("", "target")?;
        let col: String = r.try_get("", "col")?;
        groups.entry(id).or_insert_with(|| (target, Vec::new())).1.push(col);
    }
    let foreign_keys_without_tenant = groups
        .into_values()
        .filter(|(target, cols)| target != "tenants" && !cols.iter().any(|c| c == "tenant_id"))
        .map(|(target, cols)| format!("({}) -> {target}", cols.join(", ")))
        .collect();
    Ok(TenantTableReport {
        table: table.to_owned(),
        tenant_id_first: cols.first().map(|c| c.0.as_str()) == Some("tenant_id"),
        primary_key_starts_with_tenant: cols.iter().any(|c| c.0 == "tenant_id" && c.1 == 1),
        foreign_keys_without_tenant,
        rls_forced_with_policy: None,
    })
}

async fn pg_table_report(db: &DatabaseConnection, table: &str) -> AppResult<TenantTableReport> {
    let one = |sql: &str| Statement::from_sql_and_values(DbBackend::Postgres, sql, [table.into()]);
    let first = db
        .query_one_raw(one("SELECT column_name::text AS c FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position LIMIT 1"))
        .await?
        .map(|r| r.try_get::<String>("", "c"))
        .transpose()?;
    let pk_first = db
        .query_one_raw(one("SELECT a.attname::text AS c FROM pg_index i
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE i.indrelid = ('public.' || $1)::regclass AND i.indisprimary"))
        .await?
        .map(|r| r.try_get::<String>("", "c"))
        .transpose()?;
    let fk_rows = db
        .query_all_raw(one("SELECT c.conname::text AS name, c.confrelid::regclass::text AS target,
                    EXISTS (SELECT 1 FROM unnest(c.conkey) k
                            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k
                            WHERE a.attname = 'tenant_id') AS has_tenant
             FROM pg_constraint c
             WHERE c.conrelid = ('public.' || $1)::regclass AND c.contype = 'f'"))
        .await?;
    let mut foreign_keys_without_tenant = Vec::new();
    for r in &fk_rows {
        let target: String = r.try_get("", "target")?;
        let has_tenant: bool = r.try_get("", "has_tenant")?;
        if target != "tenants" && !has_tenant {
            foreign_keys_without_tenant.push(format!("{} -> {target}", r.try_get::<String>("", "name")?));
        }
    }
    let rls = db
        .query_one_raw(one("SELECT (c.relrowsecurity AND c.relforcerowsecurity
                     AND EXISTS (SELECT 1 FROM pg_policies p
                                 WHERE p.schemaname = 'public' AND p.tablename = $1)) AS ok
             FROM pg_class c WHERE c.oid = ('public.' || $1)::regclass"))
        .await?
        .map(|r| r.try_get::<bool>("", "ok"))
        .transpose()?
        .unwrap_or(false);
    Ok(TenantTableReport {
        table: table.to_owned(),
        tenant_id_first: first.as_deref() == Some("tenant_id"),
        primary_key_starts_with_tenant: pk_first.as_deref() == Some("tenant_id"),
        foreign_keys_without_tenant,
        rls_forced_with_policy: Some(rls),
    })
}

/// One page of a keyset-paginated list: rows with ids after `after`, at most `limit`.
#[derive(Clone, Debug)]
pub struct Page {
    pub limit: u64,
    pub after: Option<uuid::Uuid>,
}

impl Page {
    /// One more row than asked for tells whether a next page exists.
    pub fn fetch_limit(&self) -> u64 {
        self.limit + 1
    }
}
