//! The typed errors of every layer. `api::problem` is the one place that turns them into
//! HTTP; nothing else picks a status code.

use serde::Serialize;
use thiserror::Error;

/// One field at fault, addressed by its JSON path (`lines[0].quantity`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, Error)]
pub enum AppError {
    #[error("the request is malformed: {0}")]
    Malformed(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("email or password is wrong")]
    InvalidCredentials,
    #[error("this action needs the permission {0}")]
    Forbidden(String),
    #[error("the {0} module is not part of the tenant's plan")]
    ModuleNotInPlan(String),
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("{0}")]
    Conflict(String),
    #[error("the {entity} is {state}; it cannot be {action}")]
    InvalidState { entity: &'static str, state: String, action: &'static str },
    #[error("debits ({debit}) and credits ({credit}) differ by {difference}")]
    UnbalancedEntry { debit: String, credit: String, difference: String },
    #[error("period {period} is closed; reopen it or date the entry in an open period")]
    PeriodClosed { period: String },
    /// Not enough stock; `errors` names the document line when there is one.
    #[error("{detail}")]
    InsufficientStock { detail: String, errors: Vec<FieldError> },
    /// A sales order's credit check failed: which rule and by how much.
    #[error("{detail}")]
    CreditCheck { rule: &'static str, detail: String },
    /// A validator (a plugin) refused a document transition.
    #[error("refused by {by} at {hook}: {message}")]
    Vetoed { hook: &'static str, by: String, message: String },
    /// A plugin guarding a transition failed (trapped, ran out of budget, overstepped its
    /// grants); the transition is refused with why.
    #[error("the plugin {plugin} failed at {hook} and {detail}; nothing was changed")]
    PluginFailed { hook: &'static str, plugin: String, detail: String },
    #[error("stock is closed up to {closing_date}; nothing dated on or before it can move stock")]
    StockClosed { closing_date: String },
    #[error("the books are locked up to {lock_date}; nothing dated on or before it can be posted")]
    BooksLocked { lock_date: String },
    #[error("the {entity} was changed by someone else (now at version {current})")]
    StaleVersion { entity: &'static str, current: i64 },
    #[error("this request needs an If-Match header with the object's ETag")]
    PreconditionRequired,
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("the trial ended on {trial_ended_on} and no plan is active")]
    SubscriptionEnded { trial_ended_on: String },
    #[error("the plan allows {limit} {what}")]
    PlanLimit { what: &'static str, limit: u32 },
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyKeyInFlight,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A transient conflict between transactions (serialization failure, deadlock, busy);
    /// [`crate::store::retrying`] runs the work again.
    #[error("transient database conflict: {0}")]
    Retryable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        match crate::store::db_code(&e).as_deref() {
            Some("40001" | "40P01" | "5" | "517") => AppError::Retryable(e.to_string()),
            _ => AppError::Internal(format!("database: {e}")),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Collects field errors while parsing a request, so the client hears of all of them at once.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the message against `field`.
    pub fn check<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.0.push(FieldError::new(field, m));
                None
            }
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.0
    }

    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::Validation(self.0)) }
    }
}
