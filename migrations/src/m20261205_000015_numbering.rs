//! Document numbering is the tenant's: a sequence may carry its own prefix and digit count
//! (null keeps the built-in ones, e.g. `SO-000001`), and remembers the prefixes it had, which
//! no other kind may take (its numbers are out there under them).

use sea_orm_migration::prelude::*;

use crate::run_ddl;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000015_numbering"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "ALTER TABLE document_sequences ADD COLUMN prefix text;
ALTER TABLE document_sequences ADD COLUMN padding integer CHECK (padding BETWEEN 1 AND 12);
ALTER TABLE document_sequences ADD COLUMN former_prefixes text",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "ALTER TABLE document_sequences DROP COLUMN former_prefixes;
ALTER TABLE document_sequences DROP COLUMN padding;
ALTER TABLE document_sequences DROP COLUMN prefix",
        )
        .await
    }
}
