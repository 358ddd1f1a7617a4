//! Platform tables (tenants) and the tenant tables of identity, access and audit.

use sea_orm_migration::prelude::*;

use crate::{append_only, isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_platform"
    }
}

const TENANT_TABLES: &[&str] = &[
    "users",
    "roles",
    "user_roles",
    "api_keys",
    "api_key_roles",
    "refresh_tokens",
    "audit_events",
    "idempotency_keys",
    "document_sequences",
];

const UP: &str = r#"
CREATE TABLE tenants (
    id {uuid} NOT NULL PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    base_currency text NOT NULL,
    coa_template text NOT NULL,
    plan text,
    plan_started_at {ts},
    trial_ends_at {ts} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1
);
CREATE TABLE users (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    email text NOT NULL,
    display_name text NOT NULL,
    password_hash text NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);
CREATE TABLE roles (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    is_builtin {bool} NOT NULL,
    permissions {json} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE TABLE user_roles (
    tenant_id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    role_id {uuid} NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX user_roles_role ON user_roles (tenant_id, role_id);
CREATE TABLE api_keys (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    name text NOT NULL,
    secret_hash text NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    expires_at {ts},
    revoked_at {ts},
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
);
CREATE TABLE api_key_roles (
    tenant_id {uuid} NOT NULL,
    api_key_id {uuid} NOT NULL,
    role_id {uuid} NOT NULL,
    PRIMARY KEY (tenant_id, api_key_id, role_id),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX api_key_roles_role ON api_key_roles (tenant_id, role_id);
CREATE TABLE refresh_tokens (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    family_id {uuid} NOT NULL,
    user_id {uuid} NOT NULL,
    secret_hash text NOT NULL,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    used_at {ts},
    revoked_at {ts},
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
CREATE TABLE audit_events (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    occurred_at {ts} NOT NULL,
    actor_kind text NOT NULL,
    actor_id {uuid},
    actor_name text NOT NULL,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text,
    before_state {json},
    after_state {json},
    source_ip text,
    request_id text,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_entity ON audit_events (tenant_id, entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor_id);
CREATE TABLE idempotency_keys (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    principal text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash text NOT NULL,
    status_code integer,
    response_headers {json},
    response_body text,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, principal, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (tenant_id, created_at);
CREATE TABLE document_sequences (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    sequence_key text NOT NULL,
    next_value bigint NOT NULL CHECK (next_value > 0),
    PRIMARY KEY (tenant_id, sequence_key)
);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, UP).await?;
        isolate_tenant_tables(manager, TENANT_TABLES).await?;
        append_only(manager, "audit_events").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut sql = String::new();
        for table in TENANT_TABLES.iter().rev() {
            sql.push_str(&format!("DROP TABLE {table};\n"));
        }
        sql.push_str("DROP TABLE tenants;\n");
        run_ddl(manager, &sql).await
    }
}
