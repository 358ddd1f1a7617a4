//! The general ledger: chart of accounts, fiscal periods, journal entries and their lines,
//! per-account per-period balances, and the tenant's finance settings and account mapping.
//! Amounts are scaled 64-bit integers (money at scale 4); see design.md.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000002_ledger"
    }
}

const TENANT_TABLES: &[&str] = &[
    "accounts",
    "account_mappings",
    "finance_settings",
    "fiscal_periods",
    "journal_entries",
    "journal_lines",
    "account_period_balances",
];

const UP: &str = r#"
CREATE TABLE accounts (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    name_en text,
    parent_id {uuid},
    account_type text NOT NULL CHECK (account_type IN ('asset', 'liability', 'equity', 'revenue', 'expense', 'cost')),
    is_postable {bool} NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, parent_id) REFERENCES accounts (tenant_id, id)
);
CREATE INDEX accounts_parent ON accounts (tenant_id, parent_id);
CREATE TABLE account_mappings (
    tenant_id {uuid} NOT NULL,
    purpose text NOT NULL,
    account_id {uuid} NOT NULL,
    PRIMARY KEY (tenant_id, purpose),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE TABLE finance_settings (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    hard_lock_date text,
    approval_threshold bigint,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id)
);
CREATE TABLE fiscal_periods (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id integer NOT NULL CHECK (id BETWEEN 190001 AND 999912),
    starts_on text NOT NULL,
    ends_on text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at {ts},
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE journal_entries (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text,
    entry_date text NOT NULL,
    period_id integer NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'posted')),
    memo text NOT NULL,
    currency text NOT NULL,
    total_debit bigint NOT NULL,
    source_type text NOT NULL,
    source_id text,
    reversal_of {uuid},
    reversed_by {uuid},
    created_by {uuid},
    posted_at {ts},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, reversal_of) REFERENCES journal_entries (tenant_id, id)
);
CREATE INDEX journal_entries_date ON journal_entries (tenant_id, entry_date);
CREATE INDEX journal_entries_source ON journal_entries (tenant_id, source_type, source_id);
CREATE TABLE journal_lines (
    tenant_id {uuid} NOT NULL,
    entry_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    account_id {uuid} NOT NULL,
    entry_date text NOT NULL,
    posted {bool} NOT NULL,
    debit bigint NOT NULL CHECK (debit >= 0),
    credit bigint NOT NULL CHECK (credit >= 0),
    memo text NOT NULL,
    department text,
    project text,
    customer_id {uuid},
    supplier_id {uuid},
    item_id {uuid},
    PRIMARY KEY (tenant_id, entry_id, line_no),
    FOREIGN KEY (tenant_id, entry_id) REFERENCES journal_entries (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    CHECK ((debit = 0) <> (credit = 0))
);
CREATE INDEX journal_lines_account ON journal_lines (tenant_id, account_id, entry_date);
CREATE TABLE account_period_balances (
    tenant_id {uuid} NOT NULL,
    account_id {uuid} NOT NULL,
    period_id integer NOT NULL,
    debit bigint NOT NULL,
    credit bigint NOT NULL,
    PRIMARY KEY (tenant_id, account_id, period_id),
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
