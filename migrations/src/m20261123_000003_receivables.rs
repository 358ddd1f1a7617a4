//! Receivables and payables: tax codes, exchange rates, customers and suppliers, invoices and
//! credit notes with their lines, receipts and payments, and allocations between them. Journal
//! entries gain a transaction currency amount per line so that an entry balances in both.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_receivables"
    }
}

const TENANT_TABLES: &[&str] =
    &["tax_codes", "exchange_rates", "parties", "invoices", "invoice_lines", "payments", "allocations"];

const UP: &str = r#"
ALTER TABLE journal_entries ADD COLUMN exchange_rate bigint NOT NULL DEFAULT 1000000;
ALTER TABLE journal_lines ADD COLUMN debit_fx bigint NOT NULL DEFAULT 0;
ALTER TABLE journal_lines ADD COLUMN credit_fx bigint NOT NULL DEFAULT 0;
UPDATE journal_lines SET debit_fx = debit, credit_fx = credit;
ALTER TABLE finance_settings ADD COLUMN tax_rounding text NOT NULL DEFAULT 'line';
ALTER TABLE finance_settings ADD COLUMN prices_include_tax {bool} NOT NULL DEFAULT FALSE;
CREATE TABLE tax_codes (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    rate bigint NOT NULL CHECK (rate >= 0 AND rate < 1000000),
    is_exempt {bool} NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE TABLE exchange_rates (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    currency text NOT NULL,
    rate_date text NOT NULL,
    rate bigint NOT NULL CHECK (rate > 0),
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, currency, rate_date)
);
CREATE TABLE parties (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    kind text NOT NULL CHECK (kind IN ('customer', 'supplier')),
    code text NOT NULL,
    name text NOT NULL,
    tax_id text,
    email text,
    phone text,
    address text,
    currency text,
    payment_terms_days integer NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 3650),
    credit_limit bigint,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, kind, code)
);
CREATE TABLE invoices (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    side text NOT NULL CHECK (side IN ('receivable', 'payable')),
    is_credit_note {bool} NOT NULL,
    number text,
    party_id {uuid} NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'posted', 'cancelled')),
    invoice_date text NOT NULL,
    due_date text NOT NULL,
    currency text NOT NULL,
    exchange_rate bigint NOT NULL CHECK (exchange_rate > 0),
    tax_inclusive {bool} NOT NULL,
    reference text,
    memo text NOT NULL,
    net_total bigint NOT NULL,
    tax_total bigint NOT NULL,
    gross_total bigint NOT NULL,
    gross_base bigint NOT NULL,
    open_amount bigint NOT NULL,
    open_base bigint NOT NULL,
    credit_note_of {uuid},
    source_type text,
    source_id text,
    journal_entry_id {uuid},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, party_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, journal_entry_id) REFERENCES journal_entries (tenant_id, id),
    CHECK (open_amount >= 0 AND open_amount <= gross_total)
);
CREATE INDEX invoices_party ON invoices (tenant_id, party_id, status);
CREATE TABLE invoice_lines (
    tenant_id {uuid} NOT NULL,
    invoice_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    description text NOT NULL,
    account_id {uuid} NOT NULL,
    item_id {uuid},
    quantity bigint NOT NULL,
    unit_price bigint NOT NULL,
    tax_code_id {uuid},
    net bigint NOT NULL,
    tax bigint NOT NULL,
    gross bigint NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id, line_no),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, tax_code_id) REFERENCES tax_codes (tenant_id, id)
);
CREATE TABLE payments (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    side text NOT NULL CHECK (side IN ('receivable', 'payable')),
    number text NOT NULL,
    party_id {uuid} NOT NULL,
    status text NOT NULL CHECK (status IN ('posted', 'cancelled')),
    payment_date text NOT NULL,
    currency text NOT NULL,
    exchange_rate bigint NOT NULL CHECK (exchange_rate > 0),
    amount bigint NOT NULL CHECK (amount > 0),
    amount_base bigint NOT NULL,
    unallocated bigint NOT NULL,
    unallocated_base bigint NOT NULL,
    account_id {uuid} NOT NULL,
    reference text,
    memo text NOT NULL,
    journal_entry_id {uuid} NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, party_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, journal_entry_id) REFERENCES journal_entries (tenant_id, id),
    CHECK (unallocated >= 0 AND unallocated <= amount)
);
CREATE INDEX payments_party ON payments (tenant_id, party_id, status);
CREATE TABLE allocations (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    kind text NOT NULL CHECK (kind IN ('payment', 'credit_note', 'write_off')),
    invoice_id {uuid} NOT NULL,
    payment_id {uuid},
    credit_note_id {uuid},
    allocation_date text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    invoice_base bigint NOT NULL,
    source_base bigint NOT NULL,
    journal_entry_id {uuid},
    memo text NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
    FOREIGN KEY (tenant_id, credit_note_id) REFERENCES invoices (tenant_id, id),
    FOREIGN KEY (tenant_id, journal_entry_id) REFERENCES journal_entries (tenant_id, id)
);
CREATE INDEX allocations_invoice ON allocations (tenant_id, invoice_id);
CREATE INDEX allocations_payment ON allocations (tenant_id, payment_id);
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
