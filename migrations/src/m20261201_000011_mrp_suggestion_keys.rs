//! MRP suggestions lose their foreign keys to runs and items. A run writes hundreds of
//! thousands of suggestions in one statement, and PostgreSQL checks a foreign key with a
//! trigger per row: the two checks cost more than the insert itself (about 5 s of a 9 s write
//! for 277,000 rows on the benchmark machine). What the keys guarded stays guarded: a run
//! writes its suggestions in the transaction that inserts the run, from the items it read in
//! that transaction under row-level security, while holding the tenant's planning lock; and an
//! item is deleted only under that same lock and only when no suggestion names it.
//! (SQLite rebuilds the table, as it cannot drop a constraint.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::run_ddl;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000011_mrp_suggestion_keys"
    }
}

const SQLITE_UP: &str = r#"
CREATE TABLE mrp_suggestions_new (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    run_id {uuid} NOT NULL,
    kind text NOT NULL CHECK (kind IN ('purchase', 'production')),
    item_id {uuid} NOT NULL,
    warehouse_id {uuid},
    quantity bigint NOT NULL CHECK (quantity > 0),
    due_date text NOT NULL,
    start_date text NOT NULL,
    late {bool} NOT NULL,
    level integer NOT NULL,
    supplier_id {uuid},
    bom_id {uuid},
    pegging text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'accepted', 'superseded')),
    document_id {uuid},
    decided_by {uuid},
    decided_at {ts},
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO mrp_suggestions_new SELECT * FROM mrp_suggestions;
DROP TABLE mrp_suggestions;
ALTER TABLE mrp_suggestions_new RENAME TO mrp_suggestions;
CREATE INDEX mrp_suggestions_run ON mrp_suggestions (tenant_id, run_id, id);
CREATE INDEX mrp_suggestions_open ON mrp_suggestions (tenant_id, status)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the rebuild's statements must run on one connection, in
    /// order (on a pool they can land on connections that still see the old table).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_ddl(
                manager,
                "ALTER TABLE mrp_suggestions DROP CONSTRAINT mrp_suggestions_tenant_id_run_id_fkey;
ALTER TABLE mrp_suggestions DROP CONSTRAINT mrp_suggestions_tenant_id_item_id_fkey",
            )
            .await
        } else {
            run_ddl(manager, SQLITE_UP).await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            run_ddl(
                manager,
                "ALTER TABLE mrp_suggestions ADD FOREIGN KEY (tenant_id, run_id) REFERENCES mrp_runs (tenant_id, id);
ALTER TABLE mrp_suggestions ADD FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)",
            )
            .await
        } else {
            Ok(())
        }
    }
}
