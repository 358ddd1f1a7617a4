//! The service desk's resolution clock stops while a ticket waits on the customer: a ticket
//! remembers since when it waits and how long it has waited in all, and its resolution target
//! is its creation plus the priority's minutes plus that wait. A ticket closed without being
//! resolved (a duplicate, spam) says why.

use sea_orm_migration::prelude::*;

use crate::run_ddl;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000013_ticket_clock"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "ALTER TABLE tickets ADD COLUMN waiting_since {ts};
ALTER TABLE tickets ADD COLUMN paused_seconds bigint NOT NULL DEFAULT 0 CHECK (paused_seconds >= 0);
ALTER TABLE tickets ADD COLUMN close_reason text;
CREATE INDEX surveys_customer ON surveys (tenant_id, customer_id, responded_at)",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "DROP INDEX surveys_customer;
ALTER TABLE tickets DROP COLUMN close_reason;
ALTER TABLE tickets DROP COLUMN paused_seconds;
ALTER TABLE tickets DROP COLUMN waiting_since",
        )
        .await
    }
}
