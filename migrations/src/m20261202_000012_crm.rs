//! CRM on the parties that sales and finance already use: an owner and a region on customers,
//! leads with their de-duplication keys and assignment rules, pipeline stages per tenant,
//! opportunities with the history of every stage they passed through and a running total per
//! stage (the funnel reads a handful of rows, not every opportunity), activities with their
//! follow-up dates, service tickets with SLA targets per priority and their notes, and
//! satisfaction surveys after a delivery or a closed ticket.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000012_crm"
    }
}

const TABLES: &[&str] = &[
    "lead_assignment_rules",
    "leads",
    "pipeline_stages",
    "opportunities",
    "opportunity_stage_visits",
    "pipeline_stage_totals",
    "activities",
    "ticket_slas",
    "tickets",
    "ticket_notes",
    "surveys",
];

const UP: &str = r#"
ALTER TABLE parties ADD COLUMN owner_id {uuid};
ALTER TABLE parties ADD COLUMN region text;
CREATE TABLE lead_assignment_rules (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    position integer NOT NULL,
    kind text NOT NULL CHECK (kind IN ('round_robin', 'region', 'tag')),
    match_value text,
    user_ids text NOT NULL,
    next_index integer NOT NULL DEFAULT 0,
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id)
);
CREATE TABLE leads (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    name text NOT NULL,
    company text,
    email text,
    email_key text,
    phone text,
    phone_key text,
    source text NOT NULL CHECK (source IN ('website', 'phone', 'referral', 'trade_show', 'import', 'other')),
    region text,
    tags text NOT NULL,
    status text NOT NULL CHECK (status IN ('new', 'contacted', 'qualified', 'converted', 'lost')),
    owner_id {uuid},
    lost_reason text,
    memo text NOT NULL,
    customer_id {uuid},
    opportunity_id {uuid},
    converted_at {ts},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES parties (tenant_id, id)
);
CREATE INDEX leads_email ON leads (tenant_id, email_key);
CREATE INDEX leads_phone ON leads (tenant_id, phone_key);
CREATE INDEX leads_status ON leads (tenant_id, status, created_at);
CREATE TABLE pipeline_stages (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    position integer NOT NULL,
    probability bigint NOT NULL CHECK (probability BETWEEN 0 AND 1000000),
    kind text NOT NULL CHECK (kind IN ('open', 'won', 'lost')),
    is_active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE TABLE opportunities (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    name text NOT NULL,
    customer_id {uuid} NOT NULL,
    lead_id {uuid},
    contact_name text,
    owner_id {uuid},
    source text,
    stage_id {uuid} NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    probability bigint NOT NULL CHECK (probability BETWEEN 0 AND 1000000),
    currency text NOT NULL,
    expected_amount bigint NOT NULL CHECK (expected_amount >= 0),
    expected_base bigint NOT NULL CHECK (expected_base >= 0),
    close_date text NOT NULL,
    reason text,
    memo text NOT NULL,
    stage_entered_at {ts} NOT NULL,
    closed_at {ts},
    quotation_id {uuid},
    sales_order_id {uuid},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, stage_id) REFERENCES pipeline_stages (tenant_id, id)
);
CREATE INDEX opportunities_customer ON opportunities (tenant_id, customer_id, status);
CREATE INDEX opportunities_owner ON opportunities (tenant_id, owner_id, status);
CREATE INDEX opportunities_stage ON opportunities (tenant_id, stage_id, status);
CREATE INDEX opportunities_quotation ON opportunities (tenant_id, quotation_id);
CREATE INDEX opportunities_order ON opportunities (tenant_id, sales_order_id);
CREATE TABLE opportunity_stage_visits (
    tenant_id {uuid} NOT NULL,
    opportunity_id {uuid} NOT NULL,
    seq integer NOT NULL,
    stage_id {uuid} NOT NULL,
    entered_at {ts} NOT NULL,
    left_at {ts},
    moved_by {uuid},
    PRIMARY KEY (tenant_id, opportunity_id, seq),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, id),
    FOREIGN KEY (tenant_id, stage_id) REFERENCES pipeline_stages (tenant_id, id)
);
CREATE TABLE pipeline_stage_totals (
    tenant_id {uuid} NOT NULL,
    stage_id {uuid} NOT NULL,
    open_count bigint NOT NULL CHECK (open_count >= 0),
    open_amount bigint NOT NULL CHECK (open_amount >= 0),
    entered bigint NOT NULL CHECK (entered >= 0),
    advanced bigint NOT NULL CHECK (advanced >= 0),
    stays bigint NOT NULL CHECK (stays >= 0),
    stay_seconds bigint NOT NULL CHECK (stay_seconds >= 0),
    PRIMARY KEY (tenant_id, stage_id),
    FOREIGN KEY (tenant_id, stage_id) REFERENCES pipeline_stages (tenant_id, id)
);
CREATE TABLE activities (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    kind text NOT NULL CHECK (kind IN ('call', 'visit', 'email', 'meeting', 'note')),
    subject text NOT NULL,
    key_points text NOT NULL,
    outcome text,
    customer_id {uuid},
    lead_id {uuid},
    opportunity_id {uuid},
    owner_id {uuid} NOT NULL,
    occurred_at {ts} NOT NULL,
    next_follow_up text,
    follow_up_done {bool} NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, lead_id) REFERENCES leads (tenant_id, id),
    FOREIGN KEY (tenant_id, opportunity_id) REFERENCES opportunities (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX activities_customer ON activities (tenant_id, customer_id, occurred_at);
CREATE INDEX activities_lead ON activities (tenant_id, lead_id, occurred_at);
CREATE INDEX activities_opportunity ON activities (tenant_id, opportunity_id, occurred_at);
CREATE INDEX activities_follow_up ON activities (tenant_id, owner_id, follow_up_done, next_follow_up);
CREATE TABLE ticket_slas (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    priority text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    response_minutes integer NOT NULL CHECK (response_minutes > 0),
    resolution_minutes integer NOT NULL CHECK (resolution_minutes > 0),
    updated_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, priority)
);
CREATE TABLE tickets (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    customer_id {uuid} NOT NULL,
    order_id {uuid},
    item_id {uuid},
    subject text NOT NULL,
    description text NOT NULL,
    priority text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status text NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting', 'resolved', 'closed')),
    assignee_id {uuid},
    response_due_at {ts} NOT NULL,
    resolution_due_at {ts} NOT NULL,
    first_response_at {ts},
    resolved_at {ts},
    closed_at {ts},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, order_id) REFERENCES trade_orders (tenant_id, id),
    FOREIGN KEY (tenant_id, item_id) REFERENCES items (tenant_id, id),
    FOREIGN KEY (tenant_id, assignee_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX tickets_customer ON tickets (tenant_id, customer_id, created_at);
CREATE INDEX tickets_status ON tickets (tenant_id, status, assignee_id);
CREATE TABLE ticket_notes (
    tenant_id {uuid} NOT NULL,
    ticket_id {uuid} NOT NULL,
    seq integer NOT NULL,
    visibility text NOT NULL CHECK (visibility IN ('internal', 'customer')),
    body text NOT NULL,
    author_id {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, ticket_id, seq),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE TABLE surveys (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    customer_id {uuid} NOT NULL,
    shipment_id {uuid},
    ticket_id {uuid},
    score integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment text NOT NULL,
    responded_at {ts} NOT NULL,
    created_by {uuid},
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, shipment_id),
    UNIQUE (tenant_id, ticket_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES parties (tenant_id, id),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES shipments (tenant_id, id),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id)
);
CREATE INDEX surveys_date ON surveys (tenant_id, responded_at);
CREATE INDEX trade_orders_party_date ON trade_orders (tenant_id, party_id, order_date)
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
            "DROP INDEX trade_orders_party_date;
DROP TABLE surveys;
DROP TABLE ticket_notes;
DROP TABLE tickets;
DROP TABLE ticket_slas;
DROP TABLE activities;
DROP TABLE pipeline_stage_totals;
DROP TABLE opportunity_stage_visits;
DROP TABLE opportunities;
DROP TABLE pipeline_stages;
DROP TABLE leads;
DROP TABLE lead_assignment_rules;
ALTER TABLE parties DROP COLUMN region;
ALTER TABLE parties DROP COLUMN owner_id",
        )
        .await
    }
}
