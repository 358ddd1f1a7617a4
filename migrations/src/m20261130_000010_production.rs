//! Production and MRP: bills of material (revisions with validity dates and an optimistic
//! version, lines with scrap, issue method, phantoms and by-products), item planning data
//! (lead time and lot sizing), forecasts, MRP runs with their suggestions and exceptions,
//! production orders with their component lines, and the per-tenant production settings
//! (overhead rates). Also maps the new `production_variance` purpose for existing tenants to
//! the account their cost of goods sold uses.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000010_production"
    }
}

const TABLES: &[&str] = &[
    "production_settings",
    "item_planning",
    "boms",
    "bom_lines",
    "forecasts",
    "mrp_runs",
    "mrp_suggestions",
    "production_orders",
    "production_order_components",
];

const UP: &str = r#"
CREATE TABLE production_settings (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    overhead_rate bigint NOT NULL DEFAULT 0 CHECK (overhead_rate >= 0),
    overhead_per_unit bigint NOT NULL DEFAULT 0 CHECK (overhead_per_unit >= 0),
    move_tolerance_days integer NOT NULL DEFAULT 7 CHECK (move_tolerance_days >= 0),
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id)
);
CREATE TABLE item_planning (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    item_id {uuid} NOT NULL,
    lead_time_days integer NOT NULL CHECK (lead_time_days >= 0),
    lot_policy text NOT NULL CHECK (lot_policy IN ('lot_for_lot', 'fixed_period')),
    lot_period_days integer NOT NULL CHECK (lot_period_days >= 0),
    lot_minimum bigint NOT NULL CHECK (lot_minimum >= 0),
    lot_multiple bigint NOT NULL CHECK (lot_multiple >= 0),
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, item_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE TABLE boms (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    revision text NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    valid_from text,
    valid_to text,
    output_quantity bigint NOT NULL CHECK (output_quantity > 0),
    memo text NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, item_id, revision),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX boms_status ON boms (tenant_id, status, item_id);
CREATE TABLE bom_lines (
    tenant_id {uuid} NOT NULL,
    bom_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    component_id {uuid} NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    scrap bigint NOT NULL CHECK (scrap >= 0),
    issue_method text NOT NULL CHECK (issue_method IN ('kit', 'backflush')),
    phantom {bool} NOT NULL,
    byproduct {bool} NOT NULL,
    PRIMARY KEY (tenant_id, bom_id, line_no),
    FOREIGN KEY (tenant_id, bom_id) REFERENCES boms (tenant_id, id),
    FOREIGN KEY (tenant_id, component_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX bom_lines_component ON bom_lines (tenant_id, component_id);
CREATE TABLE forecasts (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    due_date text NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    memo text NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE TABLE mrp_runs (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    run_by {uuid},
    parameters text NOT NULL,
    figures text NOT NULL,
    exceptions text NOT NULL,
    started_at {ts} NOT NULL,
    finished_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE mrp_suggestions (
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
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES mrp_runs (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX mrp_suggestions_run ON mrp_suggestions (tenant_id, run_id, id);
CREATE INDEX mrp_suggestions_open ON mrp_suggestions (tenant_id, status);
CREATE TABLE production_orders (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    item_id {uuid} NOT NULL,
    bom_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    completed bigint NOT NULL DEFAULT 0 CHECK (completed >= 0),
    status text NOT NULL CHECK (status IN ('planned', 'released', 'in_progress', 'completed', 'closed', 'cancelled')),
    start_date text NOT NULL,
    due_date text NOT NULL,
    sales_order_id {uuid},
    suggestion_id {uuid},
    material_cost bigint NOT NULL DEFAULT 0,
    overhead_cost bigint NOT NULL DEFAULT 0,
    overhead_base bigint NOT NULL DEFAULT 0,
    completed_value bigint NOT NULL DEFAULT 0,
    variance bigint NOT NULL DEFAULT 0,
    memo text NOT NULL,
    released_at {ts},
    closed_at {ts},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, bom_id) REFERENCES boms (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE INDEX production_orders_status ON production_orders (tenant_id, status, due_date);
CREATE TABLE production_order_components (
    tenant_id {uuid} NOT NULL,
    order_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    component_id {uuid} NOT NULL,
    required bigint NOT NULL CHECK (required >= 0),
    issue_method text NOT NULL CHECK (issue_method IN ('kit', 'backflush')),
    byproduct {bool} NOT NULL,
    issued bigint NOT NULL DEFAULT 0,
    cost bigint NOT NULL DEFAULT 0,
    reservation_id {uuid},
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES production_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, component_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX production_order_components_item ON production_order_components (tenant_id, component_id);
INSERT INTO account_mappings (tenant_id, purpose, account_id)
    SELECT tenant_id, 'production_variance', account_id FROM account_mappings WHERE purpose = 'cost_of_goods_sold'
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, UP).await?;
        isolate_tenant_tables(manager, TABLES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(
            manager,
            "DELETE FROM account_mappings WHERE purpose = 'production_variance';
DROP TABLE production_order_components;
DROP TABLE production_orders;
DROP TABLE mrp_suggestions;
DROP TABLE mrp_runs;
DROP TABLE forecasts;
DROP TABLE bom_lines;
DROP TABLE boms;
DROP TABLE item_planning;
DROP TABLE production_settings",
        )
        .await
    }
}
