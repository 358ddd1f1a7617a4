//! Plugins: the versions a tenant uploaded (component bytes, SHA-256, manifest), what it
//! installed (the active version, enabled or not, the capabilities it granted, its settings,
//! consecutive failures), and the log of invocations (hook, duration, fuel, outcome, error).

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000008_plugins"
    }
}

const TENANT_TABLES: &[&str] = &["plugin_versions", "plugin_installs", "plugin_invocations"];

const UP: &str = r#"
CREATE TABLE plugin_versions (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    plugin text NOT NULL,
    version text NOT NULL,
    sha256 text NOT NULL,
    manifest text NOT NULL,
    component {bytes} NOT NULL,
    size_bytes bigint NOT NULL,
    uploaded_by {uuid},
    uploaded_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, plugin, version)
);
CREATE TABLE plugin_installs (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    plugin text NOT NULL,
    active_version text NOT NULL,
    previous_version text,
    enabled {bool} NOT NULL,
    granted text NOT NULL DEFAULT '[]',
    settings text NOT NULL DEFAULT '{}',
    failures integer NOT NULL DEFAULT 0,
    disabled_reason text,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, plugin),
    FOREIGN KEY (tenant_id, plugin, active_version) REFERENCES plugin_versions (tenant_id, plugin, version)
);
CREATE TABLE plugin_invocations (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    plugin text NOT NULL,
    version text NOT NULL,
    hook text NOT NULL,
    subject text,
    started_at {ts} NOT NULL,
    duration_us bigint NOT NULL,
    fuel bigint NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'vetoed', 'failed')),
    error text,
    logs text NOT NULL DEFAULT '[]',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX plugin_invocations_recent ON plugin_invocations (tenant_id, plugin, started_at)
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
