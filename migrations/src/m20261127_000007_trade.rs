//! Sales and purchasing: party extensions (group, tags, contacts, due-date rule, default price
//! list), price lists with quantity breaks, the trade settings (credit and matching rules),
//! sales and purchase orders (quotations too) with their lines, shipments (deliveries, goods
//! receipts and the returns of both) with their lines, and purchase requests. Invoice lines
//! gain a discount and links to the order and shipment lines they bill; supplier invoices a
//! payment hold.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000007_trade"
    }
}

const TENANT_TABLES: &[&str] = &[
    "trade_settings",
    "price_lists",
    "price_list_items",
    "trade_orders",
    "trade_order_lines",
    "shipments",
    "shipment_lines",
    "purchase_requests",
];

const UP: &str = r#"
ALTER TABLE parties ADD COLUMN party_group text;
ALTER TABLE parties ADD COLUMN tags text NOT NULL DEFAULT '[]';
ALTER TABLE parties ADD COLUMN contacts text NOT NULL DEFAULT '[]';
ALTER TABLE parties ADD COLUMN shipping_address text;
ALTER TABLE parties ADD COLUMN due_rule text NOT NULL DEFAULT 'net';
ALTER TABLE parties ADD COLUMN price_list_id {uuid};
ALTER TABLE invoice_lines ADD COLUMN discount bigint NOT NULL DEFAULT 0;
ALTER TABLE invoice_lines ADD COLUMN order_id {uuid};
ALTER TABLE invoice_lines ADD COLUMN order_line_no integer;
ALTER TABLE invoice_lines ADD COLUMN shipment_id {uuid};
ALTER TABLE invoice_lines ADD COLUMN shipment_line_no integer;
CREATE INDEX invoice_lines_order ON invoice_lines (tenant_id, order_id);
ALTER TABLE invoices ADD COLUMN hold_reason text;
CREATE TABLE trade_settings (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    overdue_block_days integer CHECK (overdue_block_days >= 0),
    over_receipt_tolerance bigint NOT NULL DEFAULT 0 CHECK (over_receipt_tolerance >= 0),
    price_tolerance bigint NOT NULL DEFAULT 0 CHECK (price_tolerance >= 0),
    quantity_tolerance bigint NOT NULL DEFAULT 0 CHECK (quantity_tolerance >= 0),
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id)
);
CREATE TABLE price_lists (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    side text NOT NULL CHECK (side IN ('sales', 'purchase')),
    code text NOT NULL,
    name text NOT NULL,
    currency text NOT NULL,
    tax_inclusive {bool} NOT NULL,
    party_group text,
    party_id {uuid},
    valid_from text,
    valid_to text,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, party_id) REFERENCES parties (tenant_id, id)
);
CREATE TABLE price_list_items (
    tenant_id {uuid} NOT NULL,
    price_list_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    item_id {uuid} NOT NULL,
    min_quantity bigint NOT NULL CHECK (min_quantity >= 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    discount_percent bigint NOT NULL DEFAULT 0 CHECK (discount_percent >= 0 AND discount_percent <= 1000000),
    lead_time_days integer CHECK (lead_time_days >= 0),
    min_order_quantity bigint CHECK (min_order_quantity > 0),
    PRIMARY KEY (tenant_id, price_list_id, line_no),
    FOREIGN KEY (tenant_id, price_list_id) REFERENCES price_lists (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id)
);
CREATE INDEX price_list_items_item ON price_list_items (tenant_id, item_id);
CREATE TABLE trade_orders (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    side text NOT NULL CHECK (side IN ('sales', 'purchase')),
    kind text NOT NULL CHECK (kind IN ('quotation', 'order')),
    number text NOT NULL,
    party_id {uuid} NOT NULL,
    status text NOT NULL,
    order_date text NOT NULL,
    expected_date text,
    valid_until text,
    currency text NOT NULL,
    exchange_rate bigint NOT NULL CHECK (exchange_rate > 0),
    tax_inclusive {bool} NOT NULL,
    discount_percent bigint NOT NULL DEFAULT 0 CHECK (discount_percent >= 0 AND discount_percent <= 1000000),
    warehouse_id {uuid},
    net_total bigint NOT NULL,
    tax_total bigint NOT NULL,
    gross_total bigint NOT NULL,
    gross_base bigint NOT NULL,
    invoiced_gross bigint NOT NULL DEFAULT 0,
    open_base bigint NOT NULL DEFAULT 0,
    source_id {uuid},
    converted_to {uuid},
    reference text,
    memo text NOT NULL,
    reason text,
    confirmed_by {uuid},
    confirmed_at {ts},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, party_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE INDEX trade_orders_party ON trade_orders (tenant_id, party_id, status);
CREATE INDEX trade_orders_side ON trade_orders (tenant_id, side, kind, id);
CREATE TABLE trade_order_lines (
    tenant_id {uuid} NOT NULL,
    order_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    item_id {uuid} NOT NULL,
    description text NOT NULL,
    warehouse_id {uuid},
    quantity bigint NOT NULL CHECK (quantity > 0),
    unit_price bigint NOT NULL CHECK (unit_price >= 0),
    list_price bigint,
    discount_percent bigint NOT NULL DEFAULT 0,
    discount_amount bigint NOT NULL DEFAULT 0,
    discount bigint NOT NULL DEFAULT 0,
    tax_code_id {uuid},
    net bigint NOT NULL,
    tax bigint NOT NULL,
    gross bigint NOT NULL,
    price_rule text NOT NULL,
    expected_date text,
    shipped bigint NOT NULL DEFAULT 0,
    returned bigint NOT NULL DEFAULT 0,
    invoiced bigint NOT NULL DEFAULT 0,
    cost bigint NOT NULL DEFAULT 0,
    reservation_id {uuid},
    request_id {uuid},
    PRIMARY KEY (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, order_id) REFERENCES trade_orders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id),
    FOREIGN KEY (tenant_id, tax_code_id) REFERENCES tax_codes (tenant_id, id)
);
CREATE INDEX trade_order_lines_item ON trade_order_lines (tenant_id, item_id);
CREATE TABLE shipments (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    side text NOT NULL CHECK (side IN ('sales', 'purchase')),
    kind text NOT NULL CHECK (kind IN ('delivery', 'return')),
    number text NOT NULL,
    party_id {uuid} NOT NULL,
    ship_date text NOT NULL,
    return_of {uuid},
    reference text,
    memo text NOT NULL,
    value bigint NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, party_id) REFERENCES parties (tenant_id, id)
);
CREATE INDEX shipments_party ON shipments (tenant_id, party_id, ship_date);
CREATE TABLE shipment_lines (
    tenant_id {uuid} NOT NULL,
    shipment_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    order_id {uuid} NOT NULL,
    order_line_no integer NOT NULL,
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    batch_id {uuid},
    quantity bigint NOT NULL CHECK (quantity > 0),
    value bigint NOT NULL,
    returned bigint NOT NULL DEFAULT 0,
    invoiced bigint NOT NULL DEFAULT 0,
    return_of_line integer,
    stock_entry_id {uuid},
    PRIMARY KEY (tenant_id, shipment_id, line_no),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES shipments (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id, order_line_no) REFERENCES trade_order_lines (tenant_id, order_id, line_no),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id)
);
CREATE INDEX shipment_lines_order ON shipment_lines (tenant_id, order_id, order_line_no);
CREATE TABLE purchase_requests (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'rejected', 'ordered', 'cancelled')),
    source text NOT NULL CHECK (source IN ('manual', 'low_stock', 'mrp', 'plugin')),
    item_id {uuid} NOT NULL,
    warehouse_id {uuid} NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    needed_by text NOT NULL,
    supplier_id {uuid},
    memo text NOT NULL,
    decided_by {uuid},
    decided_at {ts},
    decision_note text,
    order_id {uuid},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, warehouse_id) REFERENCES warehouses (tenant_id, id),
    FOREIGN KEY (tenant_id, supplier_id) REFERENCES parties (tenant_id, id)
);
CREATE INDEX purchase_requests_status ON purchase_requests (tenant_id, status, item_id)
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
