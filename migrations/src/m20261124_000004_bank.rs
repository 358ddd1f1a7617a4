//! Bank: bank accounts over ledger accounts with a saved statement column mapping, imported
//! statement lines matched to journal entries, and rules that post recurring items.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000004_bank"
    }
}

const TENANT_TABLES: &[&str] = &["bank_accounts", "bank_statement_lines", "bank_rules"];

const UP: &str = r#"
CREATE TABLE bank_accounts (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    name text NOT NULL,
    bank_name text,
    account_number text,
    account_id {uuid} NOT NULL,
    currency text NOT NULL,
    opening_date text NOT NULL,
    opening_balance bigint NOT NULL,
    statement_mapping {json},
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, account_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE TABLE bank_statement_lines (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    bank_account_id {uuid} NOT NULL,
    import_id {uuid} NOT NULL,
    line_date text NOT NULL,
    amount bigint NOT NULL CHECK (amount <> 0),
    description text NOT NULL,
    reference text,
    counterparty text,
    fingerprint text NOT NULL,
    matched_entry_id {uuid},
    matched_at {ts},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, bank_account_id, fingerprint),
    UNIQUE (tenant_id, matched_entry_id),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, matched_entry_id) REFERENCES journal_entries (tenant_id, id)
);
CREATE INDEX bank_statement_lines_account ON bank_statement_lines (tenant_id, bank_account_id, line_date);
CREATE TABLE bank_rules (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    bank_account_id {uuid},
    name text NOT NULL,
    contains text NOT NULL,
    direction text NOT NULL CHECK (direction IN ('in', 'out', 'any')),
    account_id {uuid} NOT NULL,
    memo text NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, bank_account_id) REFERENCES bank_accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, UP).await?;
        isolate_tenant_tables(manager, TENANT_TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut sql = String::new();
        for table in TENANT_TABLES.iter().rev() {
            sql.push_str(&format!("DROP TABLE {table};\n"));
        }
        run_ddl(manager, &sql).await
    }
}
