//! The transactional outbox: events written in the transaction that caused them
//! (`outbox_events`), fanned out after commit to the plugins that subscribe
//! (`plugin_deliveries`, with attempts, backoff and a dead-letter state), and the items whose
//! available stock is below their safety stock (`stock_alerts`), so that falling below raises
//! one event, not one per movement.
//!
//! The dispatcher claims work across tenants, so the two outbox tables admit, besides the
//! tenant's own transactions, a transaction that declares itself the dispatcher
//! (`app.dispatcher = 'on'`). It reads only ids there and does the work in tenant transactions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000009_events"
    }
}

const DISPATCHED_TABLES: &[&str] = &["outbox_events", "plugin_deliveries"];

const UP: &str = r#"
CREATE TABLE outbox_events (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    kind text NOT NULL,
    subject_id text NOT NULL,
    payload text NOT NULL,
    created_at {ts} NOT NULL,
    claimed_until {ts},
    dispatched_at {ts},
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX outbox_events_pending ON outbox_events (id) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_events_dispatched ON outbox_events (tenant_id, dispatched_at);
CREATE TABLE plugin_deliveries (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    event_id {uuid} NOT NULL,
    plugin text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at {ts} NOT NULL,
    claimed_until {ts},
    last_error text,
    created_at {ts} NOT NULL,
    finished_at {ts},
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES outbox_events (tenant_id, id)
);
CREATE INDEX plugin_deliveries_due ON plugin_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX plugin_deliveries_plugin ON plugin_deliveries (tenant_id, plugin, status, id);
CREATE TABLE stock_alerts (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    item_id {uuid} NOT NULL,
    since {ts} NOT NULL,
    PRIMARY KEY (tenant_id, item_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, UP).await?;
        isolate_tenant_tables(manager, &["stock_alerts"]).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let conn = manager.get_connection();
            for table in DISPATCHED_TABLES {
                conn.execute_unprepared(&format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                     CREATE POLICY tenant_isolation ON {table}
                       USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                              OR current_setting('app.dispatcher', true) = 'on')
                       WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid
                                   OR current_setting('app.dispatcher', true) = 'on');"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, "DROP TABLE stock_alerts;\nDROP TABLE plugin_deliveries;\nDROP TABLE outbox_events").await
    }
}
