//! The HTTP surface: the only module that knows actix, JSON, headers and utoipa. Handlers
//! extract, call one use case, and map the result.

pub mod access;
pub mod account;
pub mod auth;
pub mod bank;
pub mod extract;
pub mod health;
pub mod ledger;
pub mod middleware;
pub mod operator;
pub mod plugins;
pub mod problem;
pub mod production;
pub mod receivables;
pub mod statements;
pub mod stock;
pub mod trade;
pub mod views;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};
use utoipa_actix_web::service_config::ServiceConfig;

/// Routes under `/api/v1`.
pub fn api_v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::signup)
        .service(auth::login)
        .service(auth::refresh_session)
        .service(auth::logout)
        .service(account::get_tenant)
        .service(account::update_tenant)
        .service(account::list_audit_events)
        .service(access::get_me)
        .service(access::change_my_password)
        .service(access::list_users)
        .service(access::create_user)
        .service(access::get_user)
        .service(access::update_user)
        .service(access::list_roles)
        .service(access::create_role)
        .service(access::get_role)
        .service(access::update_role)
        .service(access::delete_role)
        .service(access::list_api_keys)
        .service(access::create_api_key)
        .service(access::get_api_key)
        .service(access::revoke_api_key)
        .service(ledger::list_accounts)
        .service(ledger::create_account)
        .service(ledger::get_account)
        .service(ledger::update_account)
        .service(ledger::delete_account)
        .service(ledger::list_account_mappings)
        .service(ledger::set_account_mappings)
        .service(ledger::get_finance_settings)
        .service(ledger::update_finance_settings)
        .service(ledger::list_fiscal_periods)
        .service(ledger::close_fiscal_period)
        .service(ledger::reopen_fiscal_period)
        .service(ledger::create_journal_entry)
        .service(ledger::list_journal_entries)
        .service(ledger::get_journal_entry)
        .service(ledger::update_journal_entry)
        .service(ledger::delete_journal_entry)
        .service(ledger::post_journal_entry)
        .service(ledger::reverse_journal_entry)
        .service(ledger::trial_balance)
        .service(ledger::general_ledger)
        .service(statements::balance_sheet)
        .service(statements::income_statement)
        .service(statements::account_balances)
        .service(statements::close_fiscal_year)
        .service(receivables::list_tax_codes)
        .service(receivables::create_tax_code)
        .service(receivables::update_tax_code)
        .service(receivables::list_exchange_rates)
        .service(receivables::set_exchange_rate)
        .service(receivables::list_customers)
        .service(receivables::create_customer)
        .service(receivables::customer_open_items)
        .service(receivables::customer_statement)
        .service(receivables::get_customer)
        .service(receivables::update_customer)
        .service(receivables::list_suppliers)
        .service(receivables::create_supplier)
        .service(receivables::supplier_open_items)
        .service(receivables::supplier_statement)
        .service(receivables::get_supplier)
        .service(receivables::update_supplier)
        .service(receivables::list_sales_invoices)
        .service(receivables::create_sales_invoice)
        .service(receivables::get_sales_invoice)
        .service(receivables::update_sales_invoice)
        .service(receivables::delete_sales_invoice)
        .service(receivables::post_sales_invoice)
        .service(receivables::cancel_sales_invoice)
        .service(receivables::write_off_sales_invoice)
        .service(receivables::allocate_sales_credit_note)
        .service(receivables::list_supplier_invoices)
        .service(receivables::create_supplier_invoice)
        .service(receivables::get_supplier_invoice)
        .service(receivables::update_supplier_invoice)
        .service(receivables::delete_supplier_invoice)
        .service(receivables::post_supplier_invoice)
        .service(receivables::cancel_supplier_invoice)
        .service(receivables::write_off_supplier_invoice)
        .service(receivables::allocate_supplier_credit_note)
        .service(receivables::list_receipts)
        .service(receivables::create_receipt)
        .service(receivables::get_receipt)
        .service(receivables::allocate_receipt)
        .service(receivables::cancel_receipt)
        .service(receivables::list_payments)
        .service(receivables::create_payment)
        .service(receivables::get_payment)
        .service(receivables::allocate_payment)
        .service(receivables::cancel_payment)
        .service(receivables::ar_aging)
        .service(receivables::ap_aging)
        .service(bank::list_bank_accounts)
        .service(bank::create_bank_account)
        .service(bank::get_bank_account)
        .service(bank::set_statement_mapping)
        .service(bank::import_statement)
        .service(bank::list_statement_lines)
        .service(bank::auto_reconcile)
        .service(bank::suggestions)
        .service(bank::match_statement_line)
        .service(bank::unmatch_statement_line)
        .service(bank::list_bank_rules)
        .service(bank::create_bank_rule)
        .service(bank::bank_reconciliation)
        .service(stock::list_warehouses)
        .service(stock::create_warehouse)
        .service(stock::get_warehouse)
        .service(stock::update_warehouse)
        .service(stock::delete_warehouse)
        .service(stock::list_bins)
        .service(stock::create_bin)
        .service(stock::list_items)
        .service(stock::create_item)
        .service(stock::import_items)
        .service(stock::get_item)
        .service(stock::update_item)
        .service(stock::delete_item)
        .service(stock::list_item_batches)
        .service(stock::get_stock_settings)
        .service(stock::set_stock_settings)
        .service(stock::list_stock_documents)
        .service(stock::create_stock_document)
        .service(stock::get_stock_document)
        .service(stock::update_stock_document)
        .service(stock::delete_stock_document)
        .service(stock::post_stock_document)
        .service(stock::ship_transfer)
        .service(stock::receive_transfer)
        .service(stock::record_counts)
        .service(stock::document_entries)
        .service(stock::stock_ledger)
        .service(stock::list_reservations)
        .service(stock::create_reservation)
        .service(stock::release_reservation)
        .service(stock::stock_levels)
        .service(stock::stock_valuation)
        .service(stock::low_stock)
        .service(stock::overstock)
        .service(stock::expiring_batches)
        .service(trade::get_trade_settings)
        .service(trade::set_trade_settings)
        .service(trade::list_price_lists)
        .service(trade::create_price_list)
        .service(trade::get_price_list)
        .service(trade::replace_price_list)
        .service(trade::price_quote)
        .service(trade::list_sales_orders)
        .service(trade::create_sales_order)
        .service(trade::get_sales_order)
        .service(trade::update_sales_order)
        .service(trade::delete_sales_order)
        .service(trade::confirm_sales_order)
        .service(trade::cancel_sales_order)
        .service(trade::close_sales_order)
        .service(trade::send_quotation)
        .service(trade::lose_quotation)
        .service(trade::accept_quotation)
        .service(trade::invoice_sales_order)
        .service(trade::list_deliveries)
        .service(trade::create_delivery)
        .service(trade::get_delivery)
        .service(trade::return_delivery)
        .service(trade::invoice_deliveries)
        .service(trade::list_purchase_requests)
        .service(trade::create_purchase_request)
        .service(trade::purchase_requests_from_low_stock)
        .service(trade::get_purchase_request)
        .service(trade::submit_purchase_request)
        .service(trade::approve_purchase_request)
        .service(trade::reject_purchase_request)
        .service(trade::cancel_purchase_request)
        .service(trade::purchase_orders_from_requests)
        .service(trade::list_purchase_orders)
        .service(trade::create_purchase_order)
        .service(trade::get_purchase_order)
        .service(trade::update_purchase_order)
        .service(trade::delete_purchase_order)
        .service(trade::approve_purchase_order)
        .service(trade::cancel_purchase_order)
        .service(trade::close_purchase_order)
        .service(trade::list_goods_receipts)
        .service(trade::create_goods_receipt)
        .service(trade::get_goods_receipt)
        .service(trade::return_goods_receipt)
        .service(trade::invoice_receipts)
        .service(trade::release_supplier_invoice)
        .service(trade::supplier_performance)
        .service(plugins::upload_plugin)
        .service(plugins::list_plugins)
        .service(plugins::get_plugin)
        .service(plugins::enable_plugin)
        .service(plugins::disable_plugin)
        .service(plugins::rollback_plugin)
        .service(plugins::set_plugin_settings)
        .service(plugins::plugin_invocations)
        .service(plugins::plugin_events)
        .service(plugins::retry_plugin_event)
        .service(production::get_production_settings)
        .service(production::set_production_settings)
        .service(production::get_item_planning)
        .service(production::set_item_planning)
        .service(production::list_boms)
        .service(production::create_bom)
        .service(production::get_bom)
        .service(production::update_bom)
        .service(production::delete_bom)
        .service(production::activate_bom)
        .service(production::archive_bom)
        .service(production::explode_bom)
        .service(production::bom_cost_rollup)
        .service(production::item_where_used)
        .service(production::create_forecast)
        .service(production::list_forecasts)
        .service(production::delete_forecast)
        .service(production::list_production_orders)
        .service(production::create_production_order)
        .service(production::get_production_order)
        .service(production::release_production_order)
        .service(production::cancel_production_order)
        .service(production::issue_production_order)
        .service(production::return_production_components)
        .service(production::complete_production_order)
        .service(production::close_production_order)
        .service(production::production_order_kit)
        .service(production::sales_order_kit)
        .service(production::production_alerts)
        .service(production::run_mrp)
        .service(production::list_mrp_runs)
        .service(production::get_mrp_run)
        .service(production::list_mrp_suggestions)
        .service(production::accept_mrp_suggestions)
        .service(production::accept_mrp_suggestion);
}

/// Routes under `/operator/v1`.
pub fn operator_v1(cfg: &mut ServiceConfig) {
    cfg.service(operator::list_tenants)
        .service(operator::get_operator_tenant)
        .service(operator::set_tenant_plan)
        .service(operator::extend_tenant_trial);
}

/// Routes at the root.
pub fn root(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz).service(health::readyz).service(health::metrics);
}

/// The document's fixed parts; paths and schemas are collected from the registered services.
pub fn openapi_base() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Meridian API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The integrated business core: finance, inventory, purchase, sales, CRM and \
                     production. Money and quantities are decimal strings. Errors are RFC 9457 \
                     problems (application/problem+json). Authenticate with \
                     `Authorization: Bearer <access token or API key>`.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    doc
}

/// The complete OpenAPI document, as `meridian openapi` prints it and `/openapi.json` serves it.
pub fn openapi() -> OpenApi {
    use utoipa_actix_web::{AppExt, scope};
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(openapi_base())
        .service(scope::scope("/api/v1").configure(api_v1))
        .service(scope::scope("/operator/v1").configure(operator_v1))
        .configure(root)
        .split_for_parts();
    doc
}
