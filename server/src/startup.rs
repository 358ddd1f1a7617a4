//! Wiring: configuration, store, keys, limiter and routes into a running server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{self, extract, middleware};
use crate::app::AppState;
use crate::auth::tokens::TokenKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::error::AppError;
use crate::infra::ratelimit::RateLimiter;
use crate::store::Store;

pub struct Application {
    pub port: u16,
    pub state: web::Data<AppState>,
    server: Server,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("REDIS_URL is set but Redis cannot be reached: {0}")]
    Redis(redis::RedisError),
}

impl Application {
    pub async fn build(config: Config, clock: SharedClock) -> Result<Self, StartError> {
        let store = Store::connect(&config).await?;
        let tokens = TokenKeys::load(&config)?;
        let limiter = match &config.redis_url {
            Some(url) => RateLimiter::with_redis(url).await.map_err(StartError::Redis)?,
            None => RateLimiter::in_process(),
        };
        let listener = TcpListener::bind(config.bind)
            .map_err(|source| StartError::Bind { addr: config.bind.to_string(), source })?;
        let port =
            listener.local_addr().map_err(|source| StartError::Bind { addr: config.bind.to_string(), source })?.port();
        let workers = config.workers;
        let body_limit = config.body_limit_bytes;
        let state = web::Data::new(AppState::new(config, store, clock, tokens, limiter));
        crate::app::plugins::start(state.clone().into_inner());
        if state.config.seed_demo && crate::app::demo::seed(&state).await? {
            tracing::info!("seeded the demo tenant");
        }
        let server_state = state.clone();
        let mut server = HttpServer::new(move || {
            let (app, doc) = App::new()
                .into_utoipa_app()
                .openapi(api::openapi_base())
                .app_data(server_state.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::QueryConfig::default().error_handler(extract::query_error))
                .app_data(web::PathConfig::default().error_handler(extract::path_error))
                .service(
                    scope::scope("/api/v1")
                        .wrap(from_fn(middleware::idempotency))
                        .wrap(from_fn(middleware::authenticate))
                        .configure(api::api_v1),
                )
                .service(scope::scope("/operator/v1").configure(api::operator_v1))
                .configure(api::root)
                .split_for_parts();
            app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
                .service(web::redirect("/docs", "/docs/"))
                .configure(api::portal::routes)
                .default_service(web::to(not_found))
                .wrap(from_fn(middleware::request_context))
        })
        .listen(listener)
        .map_err(|source| StartError::Bind { addr: "listener".into(), source })?
        .shutdown_timeout(10);
        if let Some(w) = workers {
            server = server.workers(w);
        }
        Ok(Self { port, state, server: server.run() })
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Runs the server in the background (tests, benchmarks); stops when the runtime ends.
    pub fn spawn(self) -> (u16, web::Data<AppState>) {
        let (port, state) = (self.port, self.state.clone());
        tokio::spawn(self.server);
        (port, state)
    }
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound { entity: "resource" })
}

pub fn system_clock() -> SharedClock {
    Arc::new(crate::clock::SystemClock)
}
