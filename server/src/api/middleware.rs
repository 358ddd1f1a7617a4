//! Middleware, outermost first: request context (request id, metrics, problem bodies carry
//! `instance` and `request_id`), authentication (principal, subscription and rate limits),
//! idempotency (replays of POSTs with the same `Idempotency-Key`).

use std::time::{Duration, Instant};

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};

use super::extract::{Authenticated, RequestMeta, payload_error};
use super::problem::{PROBLEM_JSON, Problem, problem_response};
use crate::app::{AppState, sessions};
use crate::auth::secrets::digest_hex;
use crate::domain::subscription::{self, entitlements};
use crate::error::AppError;
use crate::infra::metrics::RequestLabels;
use crate::infra::ratelimit::Decision;
use crate::store::{Access, idempotency};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);
/// An in-flight claim older than this is taken to belong to a request that died.
const IDEMPOTENCY_STALE: chrono::Duration = chrono::Duration::seconds(60);
const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Paths under `/api/v1` that need no credential.
const PUBLIC_PATHS: &[&str] = &["/api/v1/signup", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"];

fn state(req: &ServiceRequest) -> Result<web::Data<AppState>, actix_web::Error> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::internal("no app state").into())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let source_ip = req.peer_addr().map(|a| a.ip().to_string());
    req.extensions_mut().insert(RequestMeta { request_id: request_id.clone(), source_ip });
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let app = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let mut res = enrich_problem(res.map_into_boxed_body(), &path, &request_id).await;
    res.headers_mut().insert(REQUEST_ID, HeaderValue::from_str(&request_id).unwrap_or(HeaderValue::from_static("-")));
    let status = res.status().as_u16();
    if let Some(app) = app {
        let labels = RequestLabels { method, route, status };
        app.metrics.requests.get_or_create(&labels).inc();
        app.metrics.latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    }
    if status >= 500 {
        tracing::warn!(%request_id, %path, status, "request failed");
    } else {
        tracing::debug!(%request_id, %path, status, "request");
    }
    Ok(res)
}

/// Adds `instance` and `request_id` to error bodies, and turns errors that did not come from our
/// own table (actix's 404/405 and the like) into problems too.
async fn enrich_problem(res: ServiceResponse<BoxBody>, path: &str, request_id: &str) -> ServiceResponse<BoxBody> {
    if res.status().as_u16() < 400 {
        return res;
    }
    let problem = match res.response().error().and_then(|e| e.as_error::<AppError>()) {
        Some(e) => Some(e.to_problem()),
        None => {
            let is_problem = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(PROBLEM_JSON));
            if is_problem { None } else { Some(generic_problem(res.status())) }
        }
    };
    let Some(mut problem) = problem else {
        return res;
    };
    problem.instance = Some(path.to_owned());
    problem.request_id = Some(request_id.to_owned());
    let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let status = res.status();
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, problem_response(status, &problem, retry_after))
}

fn generic_problem(status: StatusCode) -> Problem {
    let e = match status {
        StatusCode::NOT_FOUND => AppError::NotFound { entity: "resource" },
        StatusCode::METHOD_NOT_ALLOWED => AppError::Malformed("this method is not allowed on this path".into()),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge { limit_bytes: 0 },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        s if s.is_server_error() => AppError::Internal(s.to_string()),
        s => AppError::Malformed(s.canonical_reason().unwrap_or("bad request").to_lowercase()),
    };
    let mut p = e.to_problem();
    p.status = status.as_u16();
    p
}

/// Accepts a bearer credential, refuses writes of read-only tenants (402), and applies the
/// tenant's plan rate and the per-caller rate.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if PUBLIC_PATHS.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let app = state(&req)?;
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .map(str::to_owned);
    let Some(bearer) = bearer else {
        return Err(AppError::Unauthenticated("send Authorization: Bearer <access token or API key>".into()).into());
    };
    let principal = sessions::authenticate(&app, &bearer).await?;
    let tenant = match app.tenant(principal.tenant).await {
        Ok(t) => t,
        Err(AppError::NotFound { .. }) => {
            return Err(AppError::Unauthenticated("the tenant no longer exists".into()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write && !subscription::state(tenant.plan, tenant.trial_ends_at, app.now()).allows_writes() {
        return Err(
            AppError::SubscriptionEnded { trial_ended_on: tenant.trial_ends_at.date_naive().to_string() }.into()
        );
    }
    let tenant_rate = entitlements(tenant.plan).api_rate_per_minute;
    for (key, limit) in [
        (format!("t:{}", tenant.id), tenant_rate),
        (format!("p:{}", principal.key()), app.config.principal_rate_per_minute),
    ] {
        if let Decision::Limited { retry_after_secs } = app.limiter.hit(&key, limit, RATE_WINDOW).await {
            app.metrics.rate_limited.inc();
            return Err(AppError::RateLimited { retry_after_secs }.into());
        }
    }
    req.extensions_mut().insert(Authenticated { principal, tenant });
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Same key and same body within 24 hours: the first answer again. Same key, other body: 422.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        Some(v) if req.method() == Method::POST => v.to_str().ok().map(str::to_owned),
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let Some(key) = key.filter(|k| !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_CHARS_MAX) else {
        return Err(AppError::field(
            "Idempotency-Key",
            format!("must be 1-{IDEMPOTENCY_KEY_CHARS_MAX} visible characters"),
        )
        .into());
    };
    let auth = req.extensions().get::<Authenticated>().cloned();
    let Some(auth) = auth else {
        // Public endpoints (sign-up, login) are not replayed: they carry secrets.
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let app = state(&req)?;
    let bytes = req.extract::<web::Bytes>().await.map_err(|e| payload_error(e, app.config.body_limit_bytes))?;
    let request_hash =
        digest_hex(&[req.method().as_str().as_bytes(), b" ", req.path().as_bytes(), b"\n", &bytes].concat());
    req.set_payload(actix_web::dev::Payload::from(bytes));
    let principal = auth.principal.key();
    let now = app.now();
    let tx = app.store.begin(auth.principal.tenant, Access::Write).await?;
    let claim = idempotency::claim(&tx, &principal, &key, &request_hash, now, now - IDEMPOTENCY_TTL).await?;
    tx.commit().await?;
    match claim {
        idempotency::Claim::Claimed => {}
        idempotency::Claim::Existing { request_hash: h, .. } if h != request_hash => {
            return Err(AppError::IdempotencyKeyReused.into());
        }
        idempotency::Claim::Existing { response: Some(stored), .. } => {
            let mut res = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
            for (name, value) in &stored.headers {
                res.insert_header((name.as_str(), value.as_str()));
            }
            res.insert_header(("idempotent-replayed", "true"));
            let (http_req, _) = req.into_parts();
            return Ok(ServiceResponse::new(http_req, res.body(stored.body)));
        }
        idempotency::Claim::Existing { response: None, created_at, .. } => {
            if now - created_at < IDEMPOTENCY_STALE {
                return Err(AppError::IdempotencyKeyInFlight.into());
            }
        }
    }
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let keep = status.is_success() || (status.is_client_error() && !matches!(status.as_u16(), 409 | 429));
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = body::to_bytes(body).await.map_err(|_| AppError::internal("cannot buffer the response"))?;
    let tx = app.store.begin(auth.principal.tenant, Access::Write).await?;
    if keep {
        let headers = [header::CONTENT_TYPE, header::LOCATION, header::ETAG]
            .iter()
            .filter_map(|h| head.headers().get(h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_owned())))
            .collect();
        let stored = idempotency::StoredResponse {
            status: status.as_u16(),
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        idempotency::complete(&tx, &principal, &key, &stored).await?;
    } else {
        idempotency::release(&tx, &principal, &key).await?;
    }
    tx.commit().await?;
    Ok(ServiceResponse::new(http_req, head.set_body(bytes).map_into_boxed_body()))
}
