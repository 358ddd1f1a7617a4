//! sea-orm entities, one module per table. Only the store layer sees these.

pub mod tenants {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub slug: String,
        pub name: String,
        pub base_currency: String,
        pub coa_template: String,
        pub plan: Option<String>,
        pub plan_started_at: Option<DateTimeUtc>,
        pub trial_ends_at: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod users {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub email: String,
        pub display_name: String,
        pub password_hash: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod roles {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub description: String,
        pub is_builtin: bool,
        pub permissions: Json,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_roles {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: Uuid,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_keys {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub secret_hash: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_key_roles {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_key_roles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub api_key_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role_id: Uuid,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_tokens {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub family_id: Uuid,
        pub user_id: Uuid,
        pub secret_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_events {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub occurred_at: DateTimeUtc,
        pub actor_kind: String,
        pub actor_id: Option<Uuid>,
        pub actor_name: String,
        pub action: String,
        pub entity_type: String,
        pub entity_id: Option<String>,
        pub before_state: Option<Json>,
        pub after_state: Option<Json>,
        pub source_ip: Option<String>,
        pub request_id: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_keys {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub principal: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idempotency_key: String,
        pub request_hash: String,
        pub status_code: Option<i32>,
        pub response_headers: Option<Json>,
        pub response_body: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod accounts {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        pub name_en: Option<String>,
        pub parent_id: Option<Uuid>,
        pub account_type: String,
        pub is_postable: bool,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account_mappings {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_mappings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub purpose: String,
        pub account_id: Uuid,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod finance_settings {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "finance_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        pub hard_lock_date: Option<String>,
        pub approval_threshold: Option<i64>,
        pub tax_rounding: String,
        pub prices_include_tax: bool,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod fiscal_periods {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "fiscal_periods")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub starts_on: String,
        pub ends_on: String,
        pub status: String,
        pub closed_at: Option<DateTimeUtc>,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod journal_entries {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journal_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: Option<String>,
        pub entry_date: String,
        pub period_id: i32,
        pub status: String,
        pub memo: String,
        pub currency: String,
        pub exchange_rate: i64,
        pub total_debit: i64,
        pub source_type: String,
        pub source_id: Option<String>,
        pub reversal_of: Option<Uuid>,
        pub reversed_by: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub posted_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod journal_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "journal_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub account_id: Uuid,
        pub entry_date: String,
        pub posted: bool,
        pub debit: i64,
        pub credit: i64,
        pub debit_fx: i64,
        pub credit_fx: i64,
        pub memo: String,
        pub department: Option<String>,
        pub project: Option<String>,
        pub customer_id: Option<Uuid>,
        pub supplier_id: Option<Uuid>,
        pub item_id: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account_period_balances {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "account_period_balances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub account_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub period_id: i32,
        pub debit: i64,
        pub credit: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod document_sequences {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "document_sequences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence_key: String,
        pub next_value: i64,
        pub prefix: Option<String>,
        pub padding: Option<i32>,
        /// Prefixes this sequence used before, comma-separated.
        pub former_prefixes: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod exchange_rates {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "exchange_rates")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub currency: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub rate_date: String,
        pub rate: i64,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tax_codes {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tax_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        pub rate: i64,
        pub is_exempt: bool,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod parties {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "parties")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub code: String,
        pub name: String,
        pub tax_id: Option<String>,
        pub email: Option<String>,
        pub phone: Option<String>,
        pub address: Option<String>,
        pub currency: Option<String>,
        pub payment_terms_days: i32,
        pub credit_limit: Option<i64>,
        pub is_active: bool,
        pub party_group: Option<String>,
        pub tags: String,
        pub contacts: String,
        pub shipping_address: Option<String>,
        pub due_rule: String,
        pub price_list_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
        pub owner_id: Option<Uuid>,
        pub region: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoices {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub side: String,
        pub is_credit_note: bool,
        pub number: Option<String>,
        pub party_id: Uuid,
        pub status: String,
        pub invoice_date: String,
        pub due_date: String,
        pub currency: String,
        pub exchange_rate: i64,
        pub tax_inclusive: bool,
        pub reference: Option<String>,
        pub memo: String,
        pub net_total: i64,
        pub tax_total: i64,
        pub gross_total: i64,
        pub gross_base: i64,
        pub open_amount: i64,
        pub open_base: i64,
        pub credit_note_of: Option<Uuid>,
        pub source_type: Option<String>,
        pub source_id: Option<String>,
        pub journal_entry_id: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
        pub hold_reason: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoice_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub invoice_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub description: String,
        pub account_id: Uuid,
        pub item_id: Option<Uuid>,
        pub quantity: i64,
        pub unit_price: i64,
        pub tax_code_id: Option<Uuid>,
        pub net: i64,
        pub tax: i64,
        pub gross: i64,
        pub discount: i64,
        pub order_id: Option<Uuid>,
        pub order_line_no: Option<i32>,
        pub shipment_id: Option<Uuid>,
        pub shipment_line_no: Option<i32>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payments {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub side: String,
        pub number: String,
        pub party_id: Uuid,
        pub status: String,
        pub payment_date: String,
        pub currency: String,
        pub exchange_rate: i64,
        pub amount: i64,
        pub amount_base: i64,
        pub unallocated: i64,
        pub unallocated_base: i64,
        pub account_id: Uuid,
        pub reference: Option<String>,
        pub memo: String,
        pub journal_entry_id: Uuid,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod allocations {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "allocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub invoice_id: Uuid,
        pub payment_id: Option<Uuid>,
        pub credit_note_id: Option<Uuid>,
        pub allocation_date: String,
        pub amount: i64,
        pub invoice_base: i64,
        pub source_base: i64,
        pub journal_entry_id: Option<Uuid>,
        pub memo: String,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bank_accounts {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub bank_name: Option<String>,
        pub account_number: Option<String>,
        pub account_id: Uuid,
        pub currency: String,
        pub opening_date: String,
        pub opening_balance: i64,
        pub statement_mapping: Option<Json>,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bank_statement_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank_statement_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub bank_account_id: Uuid,
        pub import_id: Uuid,
        pub line_date: String,
        pub amount: i64,
        pub description: String,
        pub reference: Option<String>,
        pub counterparty: Option<String>,
        pub fingerprint: String,
        pub matched_entry_id: Option<Uuid>,
        pub matched_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bank_rules {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub bank_account_id: Option<Uuid>,
        pub name: String,
        pub contains: String,
        pub direction: String,
        pub account_id: Uuid,
        pub memo: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod warehouses {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "warehouses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        pub address: Option<String>,
        pub allow_negative: bool,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bins {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub warehouse_id: Uuid,
        pub code: String,
        pub name: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod items {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub sku: String,
        pub name: String,
        pub item_type: String,
        pub category: Option<String>,
        pub base_unit: String,
        pub barcode: Option<String>,
        pub batch_tracked: bool,
        pub shelf_life_days: Option<i32>,
        pub safety_stock: i64,
        pub reorder_point: i64,
        pub reorder_quantity: i64,
        pub max_stock: Option<i64>,
        pub default_warehouse_id: Option<Uuid>,
        pub standard_cost: i64,
        pub valuation_method: String,
        pub purchase_unit: Option<String>,
        pub sales_unit: Option<String>,
        pub weight: Option<i64>,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod item_units {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "item_units")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit: String,
        pub factor: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod batches {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "batches")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub item_id: Uuid,
        pub lot_number: String,
        pub production_date: Option<String>,
        pub expiry_date: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_settings {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        pub closing_date: Option<String>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_documents {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub number: Option<String>,
        pub status: String,
        pub doc_date: String,
        pub warehouse_id: Option<Uuid>,
        pub to_warehouse_id: Option<Uuid>,
        pub purpose: Option<String>,
        pub reason: Option<String>,
        pub memo: String,
        pub basis: Option<String>,
        pub counter_account_id: Option<Uuid>,
        pub shipped_date: Option<String>,
        pub received_date: Option<String>,
        pub frozen_at: Option<DateTimeUtc>,
        pub source_type: Option<String>,
        pub source_id: Option<String>,
        pub journal_entry_id: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub posted_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_document_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_document_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub document_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub item_id: Uuid,
        pub unit: String,
        pub unit_quantity: i64,
        pub quantity: i64,
        pub unit_cost: Option<i64>,
        pub batch_id: Option<Uuid>,
        pub lot_number: Option<String>,
        pub production_date: Option<String>,
        pub expiry_date: Option<String>,
        pub bin_id: Option<Uuid>,
        pub to_bin_id: Option<Uuid>,
        pub book_quantity: Option<i64>,
        pub counted_quantity: Option<i64>,
        pub target_entry_id: Option<Uuid>,
        pub amount: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_ledger {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_ledger")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub entry_date: String,
        pub item_id: Uuid,
        pub warehouse_id: Uuid,
        pub bin_id: Option<Uuid>,
        pub batch_id: Option<Uuid>,
        pub kind: String,
        pub quantity: i64,
        pub value: i64,
        pub counter_account_id: Uuid,
        pub document_id: Uuid,
        pub line_no: Option<i32>,
        pub adjusts_entry_id: Option<Uuid>,
        pub layer_entry_id: Option<Uuid>,
        pub pair_entry_id: Option<Uuid>,
        pub journal_entry_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_levels {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_levels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub warehouse_id: Uuid,
        pub quantity: i64,
        pub value: i64,
        pub reserved: i64,
        pub last_unit_cost: i64,
        pub last_date: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_batch_levels {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_batch_levels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub warehouse_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub batch_id: Uuid,
        pub quantity: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_layers {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_layers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: Uuid,
        pub item_id: Uuid,
        pub warehouse_id: Uuid,
        pub position: i64,
        pub quantity: i64,
        pub value: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_reservations {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_reservations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub item_id: Uuid,
        pub warehouse_id: Uuid,
        pub quantity: i64,
        pub open_quantity: i64,
        pub source_type: String,
        pub source_id: String,
        pub status: String,
        pub memo: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trade_settings {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        pub overdue_block_days: Option<i32>,
        pub over_receipt_tolerance: i64,
        pub price_tolerance: i64,
        pub quantity_tolerance: i64,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod price_lists {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "price_lists")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub side: String,
        pub code: String,
        pub name: String,
        pub currency: String,
        pub tax_inclusive: bool,
        pub party_group: Option<String>,
        pub party_id: Option<Uuid>,
        pub valid_from: Option<String>,
        pub valid_to: Option<String>,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod price_list_items {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "price_list_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub price_list_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub item_id: Uuid,
        pub min_quantity: i64,
        pub unit_price: i64,
        pub discount_percent: i64,
        pub lead_time_days: Option<i32>,
        pub min_order_quantity: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trade_orders {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub side: String,
        pub kind: String,
        pub number: String,
        pub party_id: Uuid,
        pub status: String,
        pub order_date: String,
        pub expected_date: Option<String>,
        pub valid_until: Option<String>,
        pub currency: String,
        pub exchange_rate: i64,
        pub tax_inclusive: bool,
        pub discount_percent: i64,
        pub warehouse_id: Option<Uuid>,
        pub net_total: i64,
        pub tax_total: i64,
        pub gross_total: i64,
        pub gross_base: i64,
        pub invoiced_gross: i64,
        pub open_base: i64,
        pub source_id: Option<Uuid>,
        pub converted_to: Option<Uuid>,
        pub reference: Option<String>,
        pub memo: String,
        pub reason: Option<String>,
        pub confirmed_by: Option<Uuid>,
        pub confirmed_at: Option<DateTimeUtc>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod trade_order_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "trade_order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub item_id: Uuid,
        pub description: String,
        pub warehouse_id: Option<Uuid>,
        pub quantity: i64,
        pub unit_price: i64,
        pub list_price: Option<i64>,
        pub discount_percent: i64,
        pub discount_amount: i64,
        pub discount: i64,
        pub tax_code_id: Option<Uuid>,
        pub net: i64,
        pub tax: i64,
        pub gross: i64,
        pub price_rule: String,
        pub expected_date: Option<String>,
        pub shipped: i64,
        pub returned: i64,
        pub invoiced: i64,
        pub cost: i64,
        pub reservation_id: Option<Uuid>,
        pub request_id: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipments {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub side: String,
        pub kind: String,
        pub number: String,
        pub party_id: Uuid,
        pub ship_date: String,
        pub return_of: Option<Uuid>,
        pub reference: Option<String>,
        pub memo: String,
        pub value: i64,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod shipment_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "shipment_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub shipment_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub order_id: Uuid,
        pub order_line_no: i32,
        pub item_id: Uuid,
        pub warehouse_id: Uuid,
        pub batch_id: Option<Uuid>,
        pub quantity: i64,
        pub value: i64,
        pub returned: i64,
        pub invoiced: i64,
        pub return_of_line: Option<i32>,
        pub stock_entry_id: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod purchase_requests {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "purchase_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub status: String,
        pub source: String,
        pub item_id: Uuid,
        pub warehouse_id: Uuid,
        pub quantity: i64,
        pub needed_by: String,
        pub supplier_id: Option<Uuid>,
        pub memo: String,
        pub decided_by: Option<Uuid>,
        pub decided_at: Option<DateTimeUtc>,
        pub decision_note: Option<String>,
        pub order_id: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod plugin_versions {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_versions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub plugin: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: String,
        pub sha256: String,
        pub manifest: String,
        pub component: Vec<u8>,
        pub size_bytes: i64,
        pub uploaded_by: Option<Uuid>,
        pub uploaded_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod plugin_installs {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_installs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub plugin: String,
        pub active_version: String,
        pub previous_version: Option<String>,
        pub enabled: bool,
        pub granted: String,
        pub settings: String,
        pub failures: i32,
        pub disabled_reason: Option<String>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod plugin_invocations {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_invocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub plugin: String,
        pub version: String,
        pub hook: String,
        pub subject: Option<String>,
        pub started_at: DateTimeUtc,
        pub duration_us: i64,
        pub fuel: i64,
        pub outcome: String,
        pub error: Option<String>,
        pub logs: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox_events {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub subject_id: String,
        pub payload: String,
        pub created_at: DateTimeUtc,
        pub claimed_until: Option<DateTimeUtc>,
        pub dispatched_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod plugin_deliveries {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "plugin_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub event_id: Uuid,
        pub plugin: String,
        pub status: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub claimed_until: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod stock_alerts {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stock_alerts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        pub since: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_settings {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        pub overhead_rate: i64,
        pub overhead_per_unit: i64,
        pub move_tolerance_days: i32,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod item_planning {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "item_planning")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub item_id: Uuid,
        pub lead_time_days: i32,
        pub lot_policy: String,
        pub lot_period_days: i32,
        pub lot_minimum: i64,
        pub lot_multiple: i64,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod boms {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "boms")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub item_id: Uuid,
        pub revision: String,
        pub status: String,
        pub valid_from: Option<String>,
        pub valid_to: Option<String>,
        pub output_quantity: i64,
        pub memo: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod bom_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bom_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub bom_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub component_id: Uuid,
        pub quantity: i64,
        pub scrap: i64,
        pub issue_method: String,
        pub phantom: bool,
        pub byproduct: bool,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod forecasts {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "forecasts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub item_id: Uuid,
        pub due_date: String,
        pub quantity: i64,
        pub memo: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod mrp_runs {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "mrp_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub run_by: Option<Uuid>,
        pub parameters: String,
        pub figures: String,
        pub exceptions: String,
        pub started_at: DateTimeUtc,
        pub finished_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod mrp_suggestions {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "mrp_suggestions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub run_id: Uuid,
        pub kind: String,
        pub item_id: Uuid,
        pub warehouse_id: Option<Uuid>,
        pub quantity: i64,
        pub due_date: String,
        pub start_date: String,
        pub late: bool,
        pub level: i32,
        pub supplier_id: Option<Uuid>,
        pub bom_id: Option<Uuid>,
        pub pegging: String,
        pub status: String,
        pub document_id: Option<Uuid>,
        pub decided_by: Option<Uuid>,
        pub decided_at: Option<DateTimeUtc>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_orders {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub item_id: Uuid,
        pub bom_id: Uuid,
        pub warehouse_id: Uuid,
        pub quantity: i64,
        pub completed: i64,
        pub status: String,
        pub start_date: String,
        pub due_date: String,
        pub sales_order_id: Option<Uuid>,
        pub suggestion_id: Option<Uuid>,
        pub material_cost: i64,
        pub overhead_cost: i64,
        pub overhead_base: i64,
        pub completed_value: i64,
        pub variance: i64,
        pub memo: String,
        pub released_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_order_components {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_order_components")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub component_id: Uuid,
        pub required: i64,
        pub issue_method: String,
        pub byproduct: bool,
        pub issued: i64,
        pub cost: i64,
        pub reservation_id: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod lead_assignment_rules {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "lead_assignment_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub position: i32,
        pub kind: String,
        pub match_value: Option<String>,
        pub user_ids: String,
        pub next_index: i32,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod leads {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "leads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub name: String,
        pub company: Option<String>,
        pub email: Option<String>,
        pub email_key: Option<String>,
        pub phone: Option<String>,
        pub phone_key: Option<String>,
        pub source: String,
        pub region: Option<String>,
        pub tags: String,
        pub status: String,
        pub owner_id: Option<Uuid>,
        pub lost_reason: Option<String>,
        pub memo: String,
        pub customer_id: Option<Uuid>,
        pub opportunity_id: Option<Uuid>,
        pub converted_at: Option<DateTimeUtc>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod pipeline_stages {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "pipeline_stages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub code: String,
        pub name: String,
        pub position: i32,
        pub probability: i64,
        pub kind: String,
        pub is_active: bool,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod opportunities {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "opportunities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub name: String,
        pub customer_id: Uuid,
        pub lead_id: Option<Uuid>,
        pub contact_name: Option<String>,
        pub owner_id: Option<Uuid>,
        pub source: Option<String>,
        pub stage_id: Uuid,
        pub status: String,
        pub probability: i64,
        pub currency: String,
        pub expected_amount: i64,
        pub expected_base: i64,
        pub close_date: String,
        pub reason: Option<String>,
        pub memo: String,
        pub stage_entered_at: DateTimeUtc,
        pub closed_at: Option<DateTimeUtc>,
        pub quotation_id: Option<Uuid>,
        pub sales_order_id: Option<Uuid>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod opportunity_stage_visits {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "opportunity_stage_visits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub opportunity_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i32,
        pub stage_id: Uuid,
        pub entered_at: DateTimeUtc,
        pub left_at: Option<DateTimeUtc>,
        pub moved_by: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod activities {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "activities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub subject: String,
        pub key_points: String,
        pub outcome: Option<String>,
        pub customer_id: Option<Uuid>,
        pub lead_id: Option<Uuid>,
        pub opportunity_id: Option<Uuid>,
        pub owner_id: Uuid,
        pub occurred_at: DateTimeUtc,
        pub next_follow_up: Option<String>,
        pub follow_up_done: bool,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ticket_slas {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_slas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub priority: String,
        pub response_minutes: i32,
        pub resolution_minutes: i32,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tickets {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub customer_id: Uuid,
        pub order_id: Option<Uuid>,
        pub item_id: Option<Uuid>,
        pub subject: String,
        pub description: String,
        pub priority: String,
        pub status: String,
        pub assignee_id: Option<Uuid>,
        pub response_due_at: DateTimeUtc,
        pub resolution_due_at: DateTimeUtc,
        pub first_response_at: Option<DateTimeUtc>,
        pub resolved_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub waiting_since: Option<DateTimeUtc>,
        pub paused_seconds: i64,
        pub close_reason: Option<String>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ticket_notes {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i32,
        pub visibility: String,
        pub body: String,
        pub author_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod surveys {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "surveys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub customer_id: Uuid,
        pub shipment_id: Option<Uuid>,
        pub ticket_id: Option<Uuid>,
        pub score: i32,
        pub comment: String,
        pub responded_at: DateTimeUtc,
        pub created_by: Option<Uuid>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod org_positions {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "org_positions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: Uuid,
        pub manager_id: Option<Uuid>,
        pub department: Option<String>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_flows {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_flows")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub document_kind: String,
        pub name: String,
        pub position: i32,
        pub is_active: bool,
        pub definition: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_requests {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub document_kind: String,
        pub document_id: Uuid,
        pub document_number: String,
        pub summary: String,
        pub amount: i64,
        pub requester_id: Uuid,
        pub parties: String,
        pub flow_id: Option<Uuid>,
        pub status: String,
        pub current_step: i32,
        pub steps: String,
        pub comment: Option<String>,
        pub submitted_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_tasks {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_tasks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub step: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub approver_id: Uuid,
        pub status: String,
        pub decided_by: Option<Uuid>,
        pub decided_at: Option<DateTimeUtc>,
        pub comment: Option<String>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod approval_delegations {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approval_delegations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub from_user_id: Uuid,
        pub to_user_id: Uuid,
        pub starts_on: String,
        pub ends_on: String,
        pub reason: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod production_changes {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "production_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub order_id: Uuid,
        pub quantity: Option<i64>,
        pub due_date: Option<String>,
        pub reason: String,
        pub status: String,
        pub requested_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub decided_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod expense_claims {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "expense_claims")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub employee_id: Uuid,
        pub status: String,
        pub claim_date: String,
        pub description: String,
        pub total: i64,
        pub tax_total: i64,
        pub paid: i64,
        pub entry_id: Option<Uuid>,
        pub approved_at: Option<DateTimeUtc>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod expense_claim_lines {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "expense_claim_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub claim_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_no: i32,
        pub category: String,
        pub description: String,
        pub expense_date: String,
        pub account_id: Uuid,
        pub amount: i64,
        pub tax: i64,
        pub receipt_ref: Option<String>,
        pub department: Option<String>,
        pub project: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod expense_claim_payments {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "expense_claim_payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub claim_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i32,
        pub payment_date: String,
        pub amount: i64,
        pub account_id: Uuid,
        pub entry_id: Uuid,
        pub reference: Option<String>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
