//! The only place the schema is defined. Every tenant table has `tenant_id` first, a primary
//! key that starts with it, foreign keys that include it, and on PostgreSQL forced row-level
//! security keyed on the transaction-local setting `app.tenant_id`.
//!
//! DDL is written once with a few type placeholders (`{uuid}`, `{ts}`, `{json}`, `{bool}`)
//! that [`ddl`] expands per backend, so both backends get the same tables from one text.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

mod m20261121_000001_platform;
mod m20261122_000002_ledger;
mod m20261123_000003_receivables;
mod m20261124_000004_bank;
mod m20261125_000005_line_dates;
mod m20261126_000006_inventory;
mod m20261127_000007_trade;
mod m20261128_000008_plugins;
mod m20261129_000009_events;
mod m20261130_000010_production;
mod m20261201_000011_mrp_suggestion_keys;
mod m20261202_000012_crm;
mod m20261203_000013_ticket_clock;
mod m20261204_000014_approvals;
mod m20261205_000015_numbering;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_platform::Migration),
            Box::new(m20261122_000002_ledger::Migration),
            Box::new(m20261123_000003_receivables::Migration),
            Box::new(m20261124_000004_bank::Migration),
            Box::new(m20261125_000005_line_dates::Migration),
            Box::new(m20261126_000006_inventory::Migration),
            Box::new(m20261127_000007_trade::Migration),
            Box::new(m20261128_000008_plugins::Migration),
            Box::new(m20261129_000009_events::Migration),
            Box::new(m20261130_000010_production::Migration),
            Box::new(m20261201_000011_mrp_suggestion_keys::Migration),
            Box::new(m20261202_000012_crm::Migration),
            Box::new(m20261203_000013_ticket_clock::Migration),
            Box::new(m20261204_000014_approvals::Migration),
            Box::new(m20261205_000015_numbering::Migration),
        ]
    }
}

/// Expands the backend-specific type placeholders of a DDL text.
pub fn ddl(backend: DbBackend, sql: &str) -> String {
    let (uuid, ts, json, boolean, bytes) = match backend {
        DbBackend::Postgres => ("uuid", "timestamptz", "jsonb", "boolean", "bytea"),
        _ => ("blob", "text", "text", "integer", "blob"),
    };
    sql.replace("{uuid}", uuid)
        .replace("{ts}", ts)
        .replace("{json}", json)
        .replace("{bool}", boolean)
        .replace("{bytes}", bytes)
}

/// Runs every statement of a `;`-separated DDL text after placeholder expansion.
pub(crate) async fn run_ddl(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let conn = manager.get_connection();
    for stmt in ddl(backend, sql).split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        conn.execute_unprepared(stmt).await?;
    }
    Ok(())
}

/// Turns on forced row-level security with the tenant policy for each named table (PostgreSQL
/// only; SQLite is single-process and relies on the store's scoped transactions).
pub(crate) async fn isolate_tenant_tables(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let conn = manager.get_connection();
    for table in tables {
        conn.execute_unprepared(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON {table}
               USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
               WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);"
        ))
        .await?;
    }
    Ok(())
}

/// Makes a table append-only for everyone, owner included: updates and deletes raise.
pub(crate) async fn append_only(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Postgres => {
            conn.execute_unprepared(&format!(
                "CREATE OR REPLACE FUNCTION meridian_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME; END $$;
                 CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                   FOR EACH ROW EXECUTE FUNCTION meridian_append_only();
                 CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                   FOR EACH STATEMENT EXECUTE FUNCTION meridian_append_only();"
            ))
            .await?;
        }
        _ => {
            for op in ["UPDATE", "DELETE"] {
                conn.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_no_{op} BEFORE {op} ON {table}
                     BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                ))
                .await?;
            }
        }
    }
    Ok(())
}
