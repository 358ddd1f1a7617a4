//! The one table from typed errors to RFC 9457 `application/problem+json`. A new error is a new
//! row here (and a snapshot of its body in the tests).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, FieldError};

pub const PROBLEM_BASE: &str = "https://meridian.dev/problems/";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Which rule refused (credit checks: `credit_limit` or `overdue`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
}

/// (slug, title, status) of each error.
fn row(e: &AppError) -> (&'static str, &'static str, StatusCode) {
    use AppError::*;
    match e {
        Malformed(_) => ("malformed-request", "Malformed request", StatusCode::BAD_REQUEST),
        Validation(_) => ("validation-failed", "Validation failed", StatusCode::UNPROCESSABLE_ENTITY),
        Unauthenticated(_) => ("unauthenticated", "Authentication required", StatusCode::UNAUTHORIZED),
        InvalidCredentials => ("invalid-credentials", "Invalid credentials", StatusCode::UNAUTHORIZED),
        Forbidden(_) => ("forbidden", "Permission denied", StatusCode::FORBIDDEN),
        ModuleNotInPlan(_) => ("module-not-in-plan", "Module not in plan", StatusCode::FORBIDDEN),
        NotFound { .. } => ("not-found", "Not found", StatusCode::NOT_FOUND),
        Conflict(_) => ("conflict", "Conflict", StatusCode::CONFLICT),
        InvalidState { .. } => ("invalid-state", "Action not allowed in this state", StatusCode::CONFLICT),
        UnbalancedEntry { .. } => ("unbalanced-entry", "Unbalanced entry", StatusCode::UNPROCESSABLE_ENTITY),
        PeriodClosed { .. } => ("period-closed", "Period closed", StatusCode::CONFLICT),
        BooksLocked { .. } => ("books-locked", "Books locked", StatusCode::CONFLICT),
        InsufficientStock { .. } => ("insufficient-stock", "Insufficient stock", StatusCode::CONFLICT),
        StockClosed { .. } => ("stock-closed", "Stock period closed", StatusCode::CONFLICT),
        CreditCheck { .. } => ("credit-check-failed", "Credit check failed", StatusCode::CONFLICT),
        Vetoed { .. } => ("vetoed", "Refused by a validator", StatusCode::CONFLICT),
        PluginFailed { .. } => ("plugin-failed", "A plugin failed", StatusCode::CONFLICT),
        StaleVersion { .. } => ("stale-version", "Stale version", StatusCode::PRECONDITION_FAILED),
        PreconditionRequired => ("if-match-required", "If-Match required", StatusCode::PRECONDITION_REQUIRED),
        PayloadTooLarge { .. } => ("payload-too-large", "Payload too large", StatusCode::PAYLOAD_TOO_LARGE),
        UnsupportedMediaType => {
            ("unsupported-media-type", "Unsupported media type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        SubscriptionEnded { .. } => ("subscription-ended", "Subscription ended", StatusCode::PAYMENT_REQUIRED),
        PlanLimit { .. } => ("plan-limit-reached", "Plan limit reached", StatusCode::PAYMENT_REQUIRED),
        RateLimited { .. } => ("rate-limited", "Too many requests", StatusCode::TOO_MANY_REQUESTS),
        IdempotencyKeyReused => ("idempotency-key-reused", "Idempotency key reused", StatusCode::UNPROCESSABLE_ENTITY),
        IdempotencyKeyInFlight => ("idempotency-key-in-flight", "Request in progress", StatusCode::CONFLICT),
        Unavailable(_) | Retryable(_) => ("unavailable", "Service unavailable", StatusCode::SERVICE_UNAVAILABLE),
        Internal(_) => ("internal", "Internal error", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn detail(e: &AppError) -> String {
    match e {
        // Never leak internals; the log has them, keyed by request id.
        AppError::Internal(_) => "Something went wrong on our side. Quote the request id when reporting it.".into(),
        AppError::Retryable(_) => "The database was busy. Try again.".into(),
        AppError::SubscriptionEnded { trial_ended_on } => format!(
            "The free trial ended on {trial_ended_on} and no plan is active, so the account is read-only. \
             Reads and exports keep working and no data is lost. To continue, choose a plan \
             (ask your account owner or contact Meridian); everything made in the trial is kept."
        ),
        AppError::PlanLimit { what, limit } => {
            format!("The current plan allows {limit} {what}. Choose a larger plan to add more.")
        }
        AppError::Validation(errors) => match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        },
        other => {
            let s = other.to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => s,
            }
        }
    }
}

impl AppError {
    pub fn to_problem(&self) -> Problem {
        let (slug, title, status) = row(self);
        Problem {
            type_: format!("{PROBLEM_BASE}{slug}"),
            title,
            status: status.as_u16(),
            detail: detail(self),
            instance: None,
            request_id: None,
            errors: match self {
                AppError::Validation(errors) | AppError::InsufficientStock { errors, .. } => errors.clone(),
                _ => Vec::new(),
            },
            rule: match self {
                AppError::CreditCheck { rule, .. } => Some(rule),
                _ => None,
            },
        }
    }
}

pub fn problem_response(status: StatusCode, problem: &Problem, retry_after: Option<u64>) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
    if let Some(secs) = retry_after {
        res.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    res.body(serde_json::to_string(problem).unwrap_or_default())
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        row(self).2
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(msg) = self {
            tracing::error!(error = %msg, "internal error");
        }
        let retry_after = match self {
            AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            AppError::Retryable(_) => Some(1),
            _ => None,
        };
        problem_response(self.status_code(), &self.to_problem(), retry_after)
    }
}

/// Every problem type the API can answer, for the docs and the snapshot test.
pub fn catalogue() -> Vec<AppError> {
    use AppError::*;
    vec![
        Malformed("x".into()),
        Validation(vec![]),
        Unauthenticated("x".into()),
        InvalidCredentials,
        Forbidden("x".into()),
        ModuleNotInPlan("x".into()),
        NotFound { entity: "x" },
        Conflict("x".into()),
        InvalidState { entity: "x", state: "x".into(), action: "x" },
        UnbalancedEntry { debit: "1".into(), credit: "2".into(), difference: "1".into() },
        PeriodClosed { period: "x".into() },
        BooksLocked { lock_date: "x".into() },
        InsufficientStock { detail: "x".into(), errors: vec![] },
        StockClosed { closing_date: "x".into() },
        CreditCheck { rule: "x", detail: "x".into() },
        Vetoed { hook: "x", by: "x".into(), message: "x".into() },
        PluginFailed { hook: "x", plugin: "x".into(), detail: "x".into() },
        StaleVersion { entity: "x", current: 1 },
        PreconditionRequired,
        PayloadTooLarge { limit_bytes: 1 },
        UnsupportedMediaType,
        SubscriptionEnded { trial_ended_on: "x".into() },
        PlanLimit { what: "x", limit: 1 },
        RateLimited { retry_after_secs: 1 },
        IdempotencyKeyReused,
        IdempotencyKeyInFlight,
        Unavailable("x".into()),
        Internal("x".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_types_are_unique_per_status_and_stable() {
        let rows: Vec<_> = catalogue().iter().map(|e| (row(e).0, row(e).2.as_u16())).collect();
        let expected = [
            ("malformed-request", 400),
            ("validation-failed", 422),
            ("unauthenticated", 401),
            ("invalid-credentials", 401),
            ("forbidden", 403),
            ("module-not-in-plan", 403),
            ("not-found", 404),
            ("conflict", 409),
            ("invalid-state", 409),
            ("unbalanced-entry", 422),
            ("period-closed", 409),
            ("books-locked", 409),
            ("insufficient-stock", 409),
            ("stock-closed", 409),
            ("credit-check-failed", 409),
            ("vetoed", 409),
            ("plugin-failed", 409),
            ("stale-version", 412),
            ("if-match-required", 428),
            ("payload-too-large", 413),
            ("unsupported-media-type", 415),
            ("subscription-ended", 402),
            ("plan-limit-reached", 402),
            ("rate-limited", 429),
            ("idempotency-key-reused", 422),
            ("idempotency-key-in-flight", 409),
            ("unavailable", 503),
            ("internal", 500),
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let p = AppError::Internal("password column missing".into()).to_problem();
        assert!(!p.detail.contains("password"));
        let body = serde_json::to_value(&p).unwrap();
        assert_eq!(body["type"], "https://meridian.dev/problems/internal");
        assert!(body.get("errors").is_none());
    }

    #[test]
    fn a_validation_problem_lists_the_fields() {
        let p = AppError::Validation(vec![FieldError::new("lines[0].quantity", "must be positive")]).to_problem();
        let body = serde_json::to_value(&p).unwrap();
        assert_eq!(body["errors"][0]["field"], "lines[0].quantity");
        assert_eq!(body["detail"], "lines[0].quantity: must be positive");
        assert_eq!(body["status"], 422);
    }
}
