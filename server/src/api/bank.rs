//! Bank accounts, statement import, matching, rules and the reconciliation report.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{ApiJson, Authorized, FinanceRead, FinanceWrite, IfMatch, etag};
use super::ledger::amount;
use super::problem::Problem;
use super::views::{csv_field, csv_response, wants_csv};
use crate::app::{AppState, bank};
use crate::domain::bank::ColumnMapping;
use crate::domain::decimal::Money;
use crate::error::AppError;
use crate::store::bank::{BankAccount, BankRule, BookItem, StatementLine};

#[derive(Serialize, ToSchema)]
pub struct BankAccountView {
    pub id: Uuid,
    pub name: String,
    pub bank_name: Option<String>,
    pub account_number: Option<String>,
    /// The ledger account its movements post to.
    pub account_id: Uuid,
    pub currency: String,
    pub opening_date: NaiveDate,
    pub opening_balance: String,
    /// The saved CSV column mapping of its statements.
    pub statement_mapping: Option<ColumnMapping>,
    pub is_active: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<BankAccount> for BankAccountView {
    fn from(b: BankAccount) -> Self {
        Self {
            id: b.id,
            name: b.name,
            bank_name: b.bank_name,
            account_number: b.account_number,
            account_id: b.account_id,
            opening_balance: amount(b.opening_balance, &b.currency),
            currency: b.currency,
            opening_date: b.opening_date,
            statement_mapping: b.statement_mapping,
            is_active: b.is_active,
            version: b.version,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

fn account_response(status: actix_web::http::StatusCode, b: BankAccount) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Location", format!("/api/v1/bank-accounts/{}", b.id)))
        .insert_header(etag(b.version))
        .json(BankAccountView::from(b))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankAccountRequest {
    #[schema(example = "招商银行 基本户")]
    pub name: String,
    pub bank_name: Option<String>,
    pub account_number: Option<String>,
    /// A postable asset account (银行存款 or a sub-account of it).
    pub account_id: Uuid,
    /// The base currency (the only one supported so far).
    pub currency: Option<String>,
    /// Statements start after this day; book entries up to it count as reconciled.
    pub opening_date: NaiveDate,
    /// The statement's balance at the end of `opening_date`.
    #[schema(value_type = String, example = "100000.00")]
    pub opening_balance: Money,
}

/// Bank accounts.
#[utoipa::path(tag = "bank", operation_id = "list_bank_accounts", responses((status = 200, body = Vec<BankAccountView>)))]
#[get("/bank-accounts")]
pub async fn list_bank_accounts(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
) -> Result<HttpResponse, AppError> {
    let list = bank::accounts(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(BankAccountView::from).collect::<Vec<_>>()))
}

/// Add a bank account over a ledger account.
#[utoipa::path(tag = "bank", operation_id = "create_bank_account", request_body = BankAccountRequest,
    responses((status = 201, body = BankAccountView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/bank-accounts")]
pub async fn create_bank_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<BankAccountRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let created = bank::create_account(
        &app,
        &auth.ctx(),
        bank::NewBankAccount {
            name: b.name,
            bank_name: b.bank_name,
            account_number: b.account_number,
            account_id: b.account_id,
            currency: b.currency,
            opening_date: b.opening_date,
            opening_balance: b.opening_balance.value(),
        },
    )
    .await?;
    Ok(account_response(actix_web::http::StatusCode::CREATED, created))
}

#[utoipa::path(tag = "bank", operation_id = "get_bank_account", responses((status = 200, body = BankAccountView), (status = 404, body = Problem)))]
#[get("/bank-accounts/{id}")]
pub async fn get_bank_account(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    Ok(account_response(actix_web::http::StatusCode::OK, bank::get_account(&app, auth.tenant_id(), *id).await?))
}

/// Save the CSV column mapping of this account's statements (If-Match required).
#[utoipa::path(tag = "bank", operation_id = "set_statement_mapping", request_body = ColumnMapping,
    responses((status = 200, body = BankAccountView), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[put("/bank-accounts/{id}/statement-mapping")]
pub async fn set_statement_mapping(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ApiJson<ColumnMapping>,
) -> Result<HttpResponse, AppError> {
    let b = bank::set_mapping(&app, &auth.ctx(), *id, if_match.0, body.0).await?;
    Ok(account_response(actix_web::http::StatusCode::OK, b))
}

#[derive(Serialize, ToSchema)]
pub struct StatementLineView {
    pub id: Uuid,
    pub bank_account_id: Uuid,
    pub import_id: Uuid,
    pub line_date: NaiveDate,
    /// Money in positive, money out negative.
    pub amount: String,
    pub description: String,
    pub reference: Option<String>,
    pub counterparty: Option<String>,
    /// The journal entry it is matched to.
    pub matched_entry_id: Option<Uuid>,
    pub matched_at: Option<DateTime<Utc>>,
}

fn line_view(l: StatementLine, currency: &str) -> StatementLineView {
    StatementLineView {
        id: l.id,
        bank_account_id: l.bank_account_id,
        import_id: l.import_id,
        line_date: l.line_date,
        amount: amount(l.amount, currency),
        description: l.description,
        reference: l.reference,
        counterparty: l.counterparty,
        matched_entry_id: l.matched_entry_id,
        matched_at: l.matched_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The statement as the bank exported it (CSV text).
    pub csv: String,
    /// Default: the mapping saved on the bank account.
    pub mapping: Option<ColumnMapping>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportView {
    pub import_id: Uuid,
    pub imported: usize,
    /// Lines already imported before (same date, amount, reference, description), skipped.
    pub duplicates: usize,
    pub lines: Vec<StatementLineView>,
}

/// Import a CSV statement. A bad cell fails the whole import with every problem named
/// (`csv[row 7].amount`); lines imported before are skipped.
#[utoipa::path(tag = "bank", operation_id = "import_statement", request_body = ImportRequest,
    responses((status = 201, body = ImportView), (status = 422, body = Problem)))]
#[post("/bank-accounts/{id}/statements")]
pub async fn import_statement(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<ImportRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = bank::import_statement(&app, &auth.ctx(), *id, &b.csv, b.mapping).await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Created().json(ImportView {
        import_id: r.import_id,
        imported: r.imported.len(),
        duplicates: r.duplicates,
        lines: r.imported.into_iter().map(|l| line_view(l, &cur)).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LinesQuery {
    /// true: matched only; false: unmatched only.
    pub matched: Option<bool>,
}

/// Imported statement lines in date order.
#[utoipa::path(tag = "bank", operation_id = "list_statement_lines", params(LinesQuery),
    responses((status = 200, body = Vec<StatementLineView>)))]
#[get("/bank-accounts/{id}/statement-lines")]
pub async fn list_statement_lines(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
    q: web::Query<LinesQuery>,
) -> Result<HttpResponse, AppError> {
    let list = bank::statement_lines(&app, auth.tenant_id(), *id, q.matched).await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(list.into_iter().map(|l| line_view(l, &cur)).collect::<Vec<_>>()))
}

#[derive(Serialize, ToSchema)]
pub struct BookItemView {
    pub entry_id: Uuid,
    pub number: String,
    pub entry_date: NaiveDate,
    pub memo: String,
    /// What posted it: receipt, payment, manual, bank_rule...
    pub source_type: String,
    pub source_id: Option<String>,
    /// Its movement on the bank's ledger account, debit (money in) positive.
    pub amount: String,
}

fn item_view(i: BookItem, currency: &str) -> BookItemView {
    BookItemView {
        entry_id: i.entry_id,
        number: i.number,
        entry_date: i.entry_date,
        memo: i.memo,
        source_type: i.source_type,
        source_id: i.source_id,
        amount: amount(i.amount, currency),
    }
}

#[derive(Serialize, ToSchema)]
pub struct SuggestionView {
    #[serde(flatten)]
    pub item: BookItemView,
    /// 50 for the amount, +30 when the reference or description names it, +10 for the
    /// counterparty, up to +10 for closeness in date.
    pub score: u32,
}

/// Unmatched book entries with the line's amount, best first (at most 5).
#[utoipa::path(tag = "bank", operation_id = "statement_line_suggestions",
    responses((status = 200, body = Vec<SuggestionView>), (status = 404, body = Problem)))]
#[get("/bank-statement-lines/{id}/suggestions")]
pub async fn suggestions(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let list = bank::suggestions(&app, auth.tenant_id(), *id).await?;
    let cur = auth.tenant.base_currency.clone();
    Ok(HttpResponse::Ok().json(
        list.into_iter().map(|(i, score)| SuggestionView { item: item_view(i, &cur), score }).collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// A posted entry that moves the bank's ledger account by exactly the line's amount.
    pub entry_id: Uuid,
}

/// Match a statement line to a journal entry (a receipt's, a payment's, or any other).
#[utoipa::path(tag = "bank", operation_id = "match_statement_line", request_body = MatchRequest,
    responses((status = 200, body = StatementLineView), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/bank-statement-lines/{id}/match")]
pub async fn match_statement_line(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
    body: ApiJson<MatchRequest>,
) -> Result<HttpResponse, AppError> {
    let l = bank::match_line(&app, &auth.ctx(), *id, body.0.entry_id).await?;
    Ok(HttpResponse::Ok().json(line_view(l, &auth.tenant.base_currency)))
}

/// Undo a match.
#[utoipa::path(tag = "bank", operation_id = "unmatch_statement_line",
    responses((status = 200, body = StatementLineView), (status = 409, body = Problem)))]
#[post("/bank-statement-lines/{id}/unmatch")]
pub async fn unmatch_statement_line(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let l = bank::unmatch_line(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::Ok().json(line_view(l, &auth.tenant.base_currency)))
}

#[derive(Serialize, ToSchema)]
pub struct AutoReconcileView {
    /// Lines matched to an entry the reference or description named, with the amount.
    pub matched: usize,
    /// Lines a rule posted and matched.
    pub posted_by_rules: usize,
    /// Lines still unmatched.
    pub left: usize,
}

/// Match what is certain and post what a rule covers.
#[utoipa::path(tag = "bank", operation_id = "auto_reconcile", responses((status = 200, body = AutoReconcileView)))]
#[post("/bank-accounts/{id}/auto-reconcile")]
pub async fn auto_reconcile(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let r = bank::auto_reconcile(&app, &auth.ctx(), *id).await?;
    Ok(HttpResponse::Ok().json(AutoReconcileView {
        matched: r.matched,
        posted_by_rules: r.posted_by_rules,
        left: r.left,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct BankRuleView {
    pub id: Uuid,
    pub bank_account_id: Option<Uuid>,
    pub name: String,
    pub contains: String,
    pub direction: String,
    pub account_id: Uuid,
    pub memo: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<BankRule> for BankRuleView {
    fn from(r: BankRule) -> Self {
        Self {
            id: r.id,
            bank_account_id: r.bank_account_id,
            name: r.name,
            contains: r.contains,
            direction: r.direction,
            account_id: r.account_id,
            memo: r.memo,
            is_active: r.is_active,
            created_at: r.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankRuleRequest {
    /// Default: every bank account.
    pub bank_account_id: Option<Uuid>,
    #[schema(example = "Bank charges")]
    pub name: String,
    /// Text in the description or counterparty (case-insensitive).
    #[schema(example = "手续费")]
    pub contains: String,
    /// in, out or any
    pub direction: String,
    /// What the line posts against (5603 财务费用 for charges).
    pub account_id: Uuid,
    pub memo: Option<String>,
}

/// Reconciliation rules.
#[utoipa::path(tag = "bank", operation_id = "list_bank_rules", responses((status = 200, body = Vec<BankRuleView>)))]
#[get("/bank-rules")]
pub async fn list_bank_rules(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
) -> Result<HttpResponse, AppError> {
    let list = bank::rules_list(&app, auth.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(BankRuleView::from).collect::<Vec<_>>()))
}

/// Add a rule: unmatched lines it covers are posted against its account by auto-reconcile.
#[utoipa::path(tag = "bank", operation_id = "create_bank_rule", request_body = BankRuleRequest,
    responses((status = 201, body = BankRuleView), (status = 422, body = Problem)))]
#[post("/bank-rules")]
pub async fn create_bank_rule(
    app: web::Data<AppState>,
    auth: Authorized<FinanceWrite>,
    body: ApiJson<BankRuleRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let r = bank::create_rule(
        &app,
        &auth.ctx(),
        bank::NewRule {
            bank_account_id: b.bank_account_id,
            name: b.name,
            contains: b.contains,
            direction: b.direction,
            account_id: b.account_id,
            memo: b.memo,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(BankRuleView::from(r)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    pub bank_account_id: Uuid,
    /// Default today.
    pub as_of: Option<NaiveDate>,
    /// json (default) or csv
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReconciliationView {
    pub bank_account: BankAccountView,
    pub as_of: NaiveDate,
    pub statement_balance: String,
    pub ledger_balance: String,
    /// In the books, not on the statement yet.
    pub outstanding: Vec<BookItemView>,
    /// On the statement, not in the books yet.
    pub unrecorded: Vec<StatementLineView>,
    /// Ledger balance less outstanding plus unrecorded.
    pub adjusted_ledger_balance: String,
    /// Statement balance less the adjusted ledger balance: zero when reconciled.
    pub difference: String,
    pub reconciled: bool,
}

/// Bank reconciliation (银行存款余额调节表) of one account at a date.
#[utoipa::path(tag = "reports", operation_id = "bank_reconciliation", params(ReconciliationQuery),
    responses((status = 200, body = ReconciliationView), (status = 404, body = Problem)))]
#[get("/reports/bank-reconciliation")]
pub async fn bank_reconciliation(
    app: web::Data<AppState>,
    auth: Authorized<FinanceRead>,
    q: web::Query<ReconciliationQuery>,
) -> Result<HttpResponse, AppError> {
    let csv = wants_csv(q.format.as_deref())?;
    let as_of = q.as_of.unwrap_or_else(|| app.now().date_naive());
    let r = bank::reconciliation(&app, auth.tenant_id(), q.bank_account_id, as_of).await?;
    let cur = r.account.currency.clone();
    let view = ReconciliationView {
        as_of,
        statement_balance: amount(r.statement_balance, &cur),
        ledger_balance: amount(r.ledger_balance, &cur),
        outstanding: r.outstanding.into_iter().map(|i| item_view(i, &cur)).collect(),
        unrecorded: r.unrecorded.into_iter().map(|l| line_view(l, &cur)).collect(),
        adjusted_ledger_balance: amount(r.adjusted_ledger_balance, &cur),
        difference: amount(r.difference, &cur),
        reconciled: r.difference.is_zero(),
        bank_account: BankAccountView::from(r.account),
    };
    if csv {
        let mut body =
            format!("section,date,number,description,amount\nstatement_balance,{as_of},,,{}\n", view.statement_balance);
        body.push_str(&format!("ledger_balance,{as_of},,,{}\n", view.ledger_balance));
        for i in &view.outstanding {
            body.push_str(&format!(
                "outstanding,{},{},{},{}\n",
                i.entry_date,
                csv_field(&i.number),
                csv_field(&i.memo),
                i.amount
            ));
        }
        for l in &view.unrecorded {
            body.push_str(&format!(
                "unrecorded,{},{},{},{}\n",
                l.line_date,
                csv_field(l.reference.as_deref().unwrap_or("")),
                csv_field(&l.description),
                l.amount
            ));
        }
        body.push_str(&format!(
            "adjusted_ledger_balance,{as_of},,,{}\ndifference,{as_of},,,{}\n",
            view.adjusted_ledger_balance, view.difference
        ));
        return Ok(csv_response(&format!("bank-reconciliation-{as_of}.csv"), body));
    }
    Ok(HttpResponse::Ok().json(view))
}
