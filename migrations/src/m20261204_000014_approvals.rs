//! One approval engine for every module: each user's place in the organisation (manager and
//! department), the tenant's approval flows per document kind (conditions, auto-approval and
//! steps, as a JSON definition read whole), approval requests with the steps planned at
//! submission, one task per approver and step (the inbox), delegations while an approver is
//! away; and the two documents that exist for approval's sake: changes to a released
//! production order, and expense claims (lines, payments) that post the expense and the payable
//! to the employee. Existing tenants get the `employee_payable` and `expense_claims` purposes.

use sea_orm_migration::prelude::*;

use crate::{isolate_tenant_tables, run_ddl};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000014_approvals"
    }
}

const TABLES: &[&str] = &[
    "org_positions",
    "approval_flows",
    "approval_requests",
    "approval_tasks",
    "approval_delegations",
    "production_changes",
    "expense_claims",
    "expense_claim_lines",
    "expense_claim_payments",
];

const UP: &str = r#"
CREATE TABLE org_positions (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    user_id {uuid} NOT NULL,
    manager_id {uuid},
    department text,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, manager_id) REFERENCES users (tenant_id, id),
    CHECK (manager_id IS NULL OR manager_id <> user_id)
);
CREATE TABLE approval_flows (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    document_kind text NOT NULL CHECK (document_kind IN ('purchase_request', 'purchase_order', 'sales_order',
        'journal_entry', 'production_change', 'expense_claim')),
    name text NOT NULL,
    position integer NOT NULL,
    is_active {bool} NOT NULL,
    definition text NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, document_kind, name)
);
CREATE TABLE approval_requests (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    document_kind text NOT NULL,
    document_id {uuid} NOT NULL,
    document_number text NOT NULL,
    summary text NOT NULL,
    amount bigint NOT NULL,
    requester_id {uuid} NOT NULL,
    parties text NOT NULL,
    flow_id {uuid},
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'returned', 'withdrawn')),
    current_step integer NOT NULL,
    steps text NOT NULL,
    comment text,
    submitted_at {ts} NOT NULL,
    decided_at {ts},
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, flow_id) REFERENCES approval_flows (tenant_id, id)
);
CREATE UNIQUE INDEX approval_requests_open ON approval_requests (tenant_id, document_kind, document_id)
    WHERE status = 'pending';
CREATE INDEX approval_requests_document ON approval_requests (tenant_id, document_id, submitted_at);
CREATE INDEX approval_requests_requester ON approval_requests (tenant_id, requester_id, submitted_at);
CREATE TABLE approval_tasks (
    tenant_id {uuid} NOT NULL,
    request_id {uuid} NOT NULL,
    step integer NOT NULL,
    approver_id {uuid} NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'returned', 'closed')),
    decided_by {uuid},
    decided_at {ts},
    comment text,
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, request_id, step, approver_id),
    FOREIGN KEY (tenant_id, request_id) REFERENCES approval_requests (tenant_id, id),
    FOREIGN KEY (tenant_id, approver_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX approval_tasks_approver ON approval_tasks (tenant_id, approver_id, status);
CREATE INDEX approval_tasks_decider ON approval_tasks (tenant_id, decided_by);
CREATE TABLE approval_delegations (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    from_user_id {uuid} NOT NULL,
    to_user_id {uuid} NOT NULL,
    starts_on text NOT NULL,
    ends_on text NOT NULL,
    reason text NOT NULL,
    created_by {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, from_user_id) REFERENCES users (tenant_id, id),
    FOREIGN KEY (tenant_id, to_user_id) REFERENCES users (tenant_id, id),
    CHECK (from_user_id <> to_user_id),
    CHECK (starts_on <= ends_on)
);
CREATE INDEX approval_delegations_to ON approval_delegations (tenant_id, to_user_id);
CREATE TABLE production_changes (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    order_id {uuid} NOT NULL,
    quantity bigint CHECK (quantity > 0),
    due_date text,
    reason text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'returned', 'withdrawn')),
    requested_by {uuid},
    created_at {ts} NOT NULL,
    decided_at {ts},
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, order_id) REFERENCES production_orders (tenant_id, id)
);
CREATE INDEX production_changes_order ON production_changes (tenant_id, order_id, created_at);
CREATE TABLE expense_claims (
    tenant_id {uuid} NOT NULL REFERENCES tenants (id),
    id {uuid} NOT NULL,
    number text NOT NULL,
    employee_id {uuid} NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'paid', 'cancelled')),
    claim_date text NOT NULL,
    description text NOT NULL,
    total bigint NOT NULL CHECK (total > 0),
    tax_total bigint NOT NULL CHECK (tax_total >= 0),
    paid bigint NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= total),
    entry_id {uuid},
    approved_at {ts},
    created_by {uuid},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, number),
    FOREIGN KEY (tenant_id, employee_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX expense_claims_employee ON expense_claims (tenant_id, employee_id, status);
CREATE TABLE expense_claim_lines (
    tenant_id {uuid} NOT NULL,
    claim_id {uuid} NOT NULL,
    line_no integer NOT NULL,
    category text NOT NULL CHECK (category IN ('travel', 'lodging', 'meals', 'transport', 'office', 'communication',
        'training', 'entertainment', 'other')),
    description text NOT NULL,
    expense_date text NOT NULL,
    account_id {uuid} NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    tax bigint NOT NULL CHECK (tax >= 0 AND tax < amount),
    receipt_ref text,
    department text,
    project text,
    PRIMARY KEY (tenant_id, claim_id, line_no),
    FOREIGN KEY (tenant_id, claim_id) REFERENCES expense_claims (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
CREATE TABLE expense_claim_payments (
    tenant_id {uuid} NOT NULL,
    claim_id {uuid} NOT NULL,
    seq integer NOT NULL,
    payment_date text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    account_id {uuid} NOT NULL,
    entry_id {uuid} NOT NULL,
    reference text,
    created_by {uuid},
    created_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, claim_id, seq),
    FOREIGN KEY (tenant_id, claim_id) REFERENCES expense_claims (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id)
);
INSERT INTO account_mappings (tenant_id, purpose, account_id)
    SELECT tenant_id, 'expense_claims', account_id FROM account_mappings WHERE purpose = 'stock_issue_expense';
INSERT INTO account_mappings (tenant_id, purpose, account_id)
    SELECT a.tenant_id, 'employee_payable', a.id FROM accounts a JOIN tenants t ON t.id = a.tenant_id
    WHERE (t.coa_template = 'cn_small_business' AND a.code = '2241') OR (t.coa_template = 'generic' AND a.code = '2200')
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
            "DELETE FROM account_mappings WHERE purpose IN ('expense_claims', 'employee_payable');
DROP TABLE expense_claim_payments;
DROP TABLE expense_claim_lines;
DROP TABLE expense_claims;
DROP TABLE production_changes;
DROP TABLE approval_delegations;
DROP TABLE approval_tasks;
DROP TABLE approval_requests;
DROP TABLE approval_flows;
DROP TABLE org_positions",
        )
        .await
    }
}
