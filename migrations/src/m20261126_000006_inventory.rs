//! Inventory: items with unit conversions, warehouses and bins, batches, stock documents, the
//! append-only stock ledger, and the balances derived from it (per item and warehouse with the
//! valuation state, per batch, FIFO layers), reservations and the stock closing date.

use sea_orm_migration::prelude::*;

use crate::{append_only, isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000006_inventory"
    }
}

const TENANT_TABLES: &[&str] = &[
    "warehouses",
    "bins",
    "items",
    "item_units",
    "batches",
    "stock_settings",
    "stock_documents",
    "stock_document_lines",
    "stock_ledger",
    "stock_levels",
    "stock_batch_levels",
    "stock_layers",
    "stock_reservations",
];

const UP: &str = r#"
CREATE TABLE warehouses (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    address text,
    allow_negative {bool} NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE TABLE bins (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, warehouse_id, code),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE TABLE items (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    sku text NOT NULL,
    name text NOT NULL,
    item_type text NOT NULL CHECK (item_type IN ('stocked', 'service', 'manufactured', 'purchased', 'both')),
    category text,
    base_unit text NOT NULL,
    barcode text,
    batch_tracked {bool} NOT NULL,
    shelf_life_days integer,
    safety_stock bigint NOT NULL CHECK (safety_stock >= 0),
    reorder_point bigint NOT NULL CHECK (reorder_point >= 0),
    reorder_quantity bigint NOT NULL CHECK (reorder_quantity >= 0),
    max_stock bigint CHECK (max_stock >= 0),
    default_warehouse_id {uuid},
    standard_cost bigint NOT NULL CHECK (standard_cost >= 0),
    valuation_method text NOT NULL CHECK (valuation_method IN ('moving_average', 'fifo')),
    purchase_unit text,
    sales_unit text,
    weight bigint CHECK (weight >= 0),
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, sku),
    UNIQUE (tenant_id, barcode),
    FOREIGN KEY (tenant_id, default_warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE TABLE item_units (
    tenant_id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    unit text NOT NULL,
    factor bigint NOT NULL CHECK (factor > 0),
    PRIMARY KEY (tenant_id, item_id, unit),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE TABLE batches (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    lot_number text NOT NULL,
    production_date text,
    expiry_date text,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, item_id, lot_number),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX batches_expiry ON batches (tenant_id, expiry_date);
CREATE TABLE stock_settings (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    closing_date text,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id)
);
CREATE TABLE stock_documents (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    kind text NOT NULL,
    number text,
    status text NOT NULL,
    doc_date text NOT NULL,
    warehouse_id {uuid},
    to_warehouse_id {uuid},
    purpose text,
    reason text,
    memo text NOT NULL,
    basis text,
    counter_account_id {uuid},
    shipped_date text,
    received_date text,
    frozen_at {ts},
    source_type text,
    source_id text,
    journal_entry_id {uuid},
    created_by {uuid},
    posted_at {ts},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id),
    FOREIGN KEY (tenant_id, to_warehouse_id) REFERENCES warehouses (tenant_id, id),
    FOREIGN KEY (tenant_id, counter_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, journal_entry_id) REFERENCES journal_entries (tenant_id, id)
);
CREATE INDEX stock_documents_kind ON stock_documents (tenant_id, kind, doc_date);
CREATE TABLE stock_document_lines (
    tenant_id {uuid} NOT NULL,
    document_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    item_id {uuid} NOT NULL,
    unit text NOT NULL,
    unit_quantity bigint NOT NULL,
    quantity bigint NOT NULL,
    unit_cost bigint,
    batch_id {uuid},
    lot_number text,
    production_date text,
    expiry_date text,
    bin_id {uuid},
    to_bin_id {uuid},
    book_quantity bigint,
    counted_quantity bigint,
    target_entry_id {uuid},
    amount bigint,
    PRIMARY KEY (tenant_id, document_id, line_no),
    FOREIGN KEY (tenant_id, document_id) REFERENCES stock_documents (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, batch_id) REFERENCES batches (tenant_id, id),
    FOREIGN KEY (tenant_id, bin_id) REFERENCES bins (tenant_id, id),
    FOREIGN KEY (tenant_id, to_bin_id) REFERENCES bins (tenant_id, id)
);
CREATE INDEX stock_document_lines_item ON stock_document_lines (tenant_id, item_id);
CREATE TABLE stock_ledger (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    entry_date text NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    bin_id {uuid},
    batch_id {uuid},
    kind text NOT NULL,
    quantity bigint NOT NULL,
    value bigint NOT NULL,
    counter_account_id {uuid} NOT NULL,
    document_id {uuid} NOT NULL,
    line_no integer,
    adjusts_entry_id {uuid},
    layer_entry_id {uuid},
    pair_entry_id {uuid},
    journal_entry_id {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id),
    FOREIGN KEY (tenant_id, bin_id) REFERENCES bins (tenant_id, id),
    FOREIGN KEY (tenant_id, batch_id) REFERENCES batches (tenant_id, id),
    FOREIGN KEY (tenant_id, counter_account_id) REFERENCES accounts (tenant_id, id),
    FOREIGN KEY (tenant_id, document_id) REFERENCES stock_documents (tenant_id, id),
    FOREIGN KEY (tenant_id, adjusts_entry_id) REFERENCES stock_ledger (tenant_id, id),
    FOREIGN KEY (tenant_id, journal_entry_id) REFERENCES journal_entries (tenant_id, id)
);
CREATE INDEX stock_ledger_item ON stock_ledger (tenant_id, item_id, warehouse_id, entry_date, id);
CREATE INDEX stock_ledger_document ON stock_ledger (tenant_id, document_id);
CREATE INDEX stock_ledger_date ON stock_ledger (tenant_id, entry_date, item_id);
CREATE TABLE stock_levels (
    tenant_id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    quantity bigint NOT NULL,
    value bigint NOT NULL,
    reserved bigint NOT NULL CHECK (reserved >= 0),
    last_unit_cost bigint NOT NULL,
    last_date text,
    PRIMARY KEY (tenant_id, item_id, warehouse_id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE TABLE stock_batch_levels (
    tenant_id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    batch_id {uuid} NOT NULL,
    quantity bigint NOT NULL,
    PRIMARY KEY (tenant_id, item_id, warehouse_id, batch_id),
    FOREIGN KEY (tenant_id, item_id, warehouse_id) REFERENCES stock_levels (tenant_id, item_id, warehouse_id),
    FOREIGN KEY (tenant_id, batch_id) REFERENCES batches (tenant_id, id)
);
CREATE TABLE stock_layers (
    tenant_id {uuid} NOT NULL,
    entry_id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    position bigint NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    value bigint NOT NULL,
    PRIMARY KEY (tenant_id, entry_id),
    FOREIGN KEY (tenant_id, item_id, warehouse_id) REFERENCES stock_levels (tenant_id, item_id, warehouse_id)
);
CREATE INDEX stock_layers_queue ON stock_layers (tenant_id, item_id, warehouse_id, position);
CREATE TABLE stock_reservations (
    tenant_id {uuid} NOT NULL,
    id {uuid} NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    open_quantity bigint NOT NULL CHECK (open_quantity >= 0),
    source_type text NOT NULL,
    source_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'released', 'consumed')),
    memo text NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id, warehouse_id) REFERENCES stock_levels (tenant_id, item_id, warehouse_id)
);
CREATE INDEX stock_reservations_source ON stock_reservations (tenant_id, source_type, source_id);
CREATE INDEX stock_reservations_item ON stock_reservations (tenant_id, item_id, status);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_ddl(manager, UP).await?;
        append_only(manager, "stock_ledger").await?;
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
