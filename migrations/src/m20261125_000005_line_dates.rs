//! A covering index for the partial months of date-range reports: summing a few weeks of
//! journal lines per account reads the index alone instead of the table.

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
        run_ddl(manager, "CREATE INDEX journal_lines_date ON journal_lines (tenant_id, entry_date, posted, account_id, debit, credit);").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, "DROP INDEX journal_lines_date;").await
    }
}
