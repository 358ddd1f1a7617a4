//! Indexes found by the ledger benchmark: a covering index for the partial months of
//! date-range reports (summing a few weeks of lines per account reads the index alone), and
//! indexes behind foreign keys that deletes of drafts check (without them PostgreSQL scans
//! every journal entry to delete one draft).

use sea_orm_migration::prelude::*;

use crate::run_ddl;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000005_line_dates"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "CREATE INDEX journal_lines_date ON journal_lines (tenant_id, entry_date, posted, account_id, debit, credit);
             CREATE INDEX journal_entries_reversal_of ON journal_entries (tenant_id, reversal_of);
             CREATE INDEX allocations_credit_note ON allocations (tenant_id, credit_note_id);
             CREATE INDEX invoice_lines_tax_code ON invoice_lines (tenant_id, tax_code_id);",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "DROP INDEX invoice_lines_tax_code;
             DROP INDEX allocations_credit_note;
             DROP INDEX journal_entries_reversal_of;
             DROP INDEX journal_lines_date;",
        )
        .await
    }
}
