//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
    /// ok, down, or not_configured
    pub redis: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "health", operation_id = "healthz", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database answers (and Redis, when configured, is reported). Only the database decides
/// readiness: the server degrades without Redis.
#[utoipa::path(tag = "health", operation_id = "readyz", responses((status = 200, body = Health), (status = 503, body = Health)))]
#[get("/readyz")]
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let db_ok = app.store.ping().await.is_ok();
    let redis = match app.limiter.ping_redis().await {
        None => "not_configured",
        Some(true) => "ok",
        Some(false) => "down",
    };
    let body = Health {
        status: if db_ok { "ready" } else { "not_ready" },
        database: if db_ok { "ok" } else { "down" },
        redis,
    };
    if db_ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus text exposition.
#[utoipa::path(tag = "health", operation_id = "metrics", responses((status = 200, description = "Prometheus text")))]
#[get("/metrics")]
pub async fn metrics(app: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(app.metrics.render())
}
