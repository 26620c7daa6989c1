//! Wiring: database, schema, router, and a server that shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::get;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::events::InProcessBus;
use kernel::events_pg::PgBus;
use kernel::mailer::{SendEmailHandler, mailer_from_url};
use kernel::outbox::{OutboxConfig, OutboxWorker};
use kernel::{Deps, PeriodicTask};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::{Config, EventBusKind};
use crate::domains::Domains;
use crate::embedded_pg::{EmbeddedPostgres, RunningPostgres};
use crate::explorer;
use crate::http::{self, AppState};
use crate::{rest, schema, ws};

/// Name of the application database inside the private cluster.
pub const EMBEDDED_DATABASE: &str = "fluxorae";

/// The database to use, and the private server when this process started one.
pub struct Database {
    /// Connection URL.
    pub url: String,
    /// The private cluster, when `DATABASE_URL` was not given.
    pub embedded: Option<RunningPostgres>,
}

/// Uses `DATABASE_URL`, or starts (or reuses) the private cluster under `DATA_DIR`.
pub async fn resolve_database(config: &Config) -> anyhow::Result<Database> {
    if let Some(url) = &config.database_url {
        return Ok(Database {
            url: url.clone(),
            embedded: None,
        });
    }
    let cluster = EmbeddedPostgres::new(config.data_dir.join("postgres"));
    let running = tokio::task::spawn_blocking(move || cluster.ensure_running())
        .await
        .context("starting the private PostgreSQL")??;
    if running.started_here() {
        tracing::info!(port = running.port(), "started the private PostgreSQL");
    } else {
        tracing::info!(
            port = running.port(),
            "reusing the running private PostgreSQL"
        );
    }
    create_database_if_missing(&running.url("postgres"), EMBEDDED_DATABASE).await?;
    Ok(Database {
        url: running.url(EMBEDDED_DATABASE),
        embedded: Some(running),
    })
}

/// Creates `name` on the server behind `admin_url` unless it exists.
pub async fn create_database_if_missing(admin_url: &str, name: &str) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut conn = AsyncPgConnection::establish(admin_url).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        // Identifiers cannot be bound; `name` is ours, not user input.
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// Applies pending migrations; returns the versions applied.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<String>> {
    let conn = AsyncPgConnection::establish(database_url)
        .await
        .context("connecting to the database")?;
    kernel::db::run_migrations(conn)
        .await
        .map_err(|error| anyhow::anyhow!("running migrations: {error}"))
}

/// Installs the process-wide TLS provider (rustls on ring) used by outbound
/// HTTPS and SMTP; idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds everything a server needs from configuration and a database URL.
pub async fn build_state(config: Config, database_url: &str) -> anyhow::Result<AppState> {
    install_tls_provider();
    auth::tokens::install_crypto_provider();
    if config.run_migrations {
        let applied = migrate(database_url).await?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }
    }
    let queries = kernel::db::QueryCounter::default();
    let db = kernel::db::connect_counted_pool(database_url, config.db_pool_size, queries.clone())?;
    let deps = Deps {
        db: db.clone(),
        bus: match config.event_bus {
            EventBusKind::Memory => Arc::new(InProcessBus::new(1024)),
            EventBusKind::Postgres => {
                Arc::new(PgBus::start(database_url.to_string(), db.clone(), 1024))
            }
        },
        max_page_size: config.limits.max_page_size,
    };
    let domains = Arc::new(
        Domains::build(&deps, &config.domains)
            .map_err(|error| anyhow::anyhow!("building the domains: {error}"))?,
    );
    let schema = schema::build(&config.limits, &deps, &domains);
    let mailer = mailer_from_url(&config.mail_url, &config.mail_from)
        .map_err(|error| anyhow::anyhow!("MAIL_URL: {error}"))?;
    let mut handlers: Vec<Arc<dyn kernel::outbox::JobHandler>> =
        vec![Arc::new(SendEmailHandler(mailer))];
    handlers.extend(domains.jobs());
    let outbox = OutboxWorker::new(
        db.clone(),
        handlers,
        OutboxConfig {
            poll_interval: config.outbox_poll,
            ..OutboxConfig::default()
        },
    );
    let migration_versions = kernel::db::embedded_versions()
        .map_err(|error| anyhow::anyhow!("reading embedded migrations: {error}"))?;
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let manifest =
        match &config.persisted_queries_manifest {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("reading PERSISTED_QUERIES_MANIFEST {}", path.display())
            })?),
            None => None,
        };
    let persisted =
        crate::persisted::PersistedDocuments::new(config.persisted_queries, manifest.as_deref())
            .map_err(|error| anyhow::anyhow!("PERSISTED_QUERIES_MANIFEST: {error}"))?;
    Ok(AppState {
        schema,
        config: Arc::new(config),
        db,
        outbox,
        queries,
        bus: deps.bus.clone(),
        domains,
        migration_versions: Arc::new(migration_versions),
        persisted: Arc::new(persisted),
        shutdown,
    })
}

/// The `x-request-id` a client sent, kept for the log only.
#[derive(Debug, Clone)]
pub struct ClientRequestId(pub String);

/// Longest client request id written to the log.
const CLIENT_REQUEST_ID_MAX: usize = 128;

/// Removes the client's `x-request-id` so that every request gets an id of
/// ours (a client-chosen id could collide with, or impersonate, another
/// request in logs, audit entries and support conversations); the client's
/// value is logged beside ours as `client_request_id`.
async fn set_aside_client_request_id(
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    if let Some(value) = request.headers_mut().remove("x-request-id") {
        let text: String = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .take(CLIENT_REQUEST_ID_MAX)
            .collect();
        request.extensions_mut().insert(ClientRequestId(text));
    }
    request
}

/// The `Strict-Transport-Security` value, when configured (browsers heed it
/// only over HTTPS, so an HTTPS deployment turns it on).
fn strict_transport_security(config: &Config) -> Option<HeaderValue> {
    if config.hsts_max_age_secs == 0 {
        return None;
    }
    let subdomains = if config.hsts_include_subdomains {
        "; includeSubDomains"
    } else {
        ""
    };
    HeaderValue::from_str(&format!("max-age={}{subdomains}", config.hsts_max_age_secs)).ok()
}

/// Every route with its middleware.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    let request_id = HeaderName::from_static("x-request-id");
    let middleware = ServiceBuilder::new()
        .layer(axum::middleware::map_request(set_aside_client_request_id))
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    let client_request_id = request
                        .extensions()
                        .get::<ClientRequestId>()
                        .map(|id| id.0.as_str());
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                        client_request_id,
                        // Filled in by the GraphQL handlers once known.
                        operation = tracing::field::Empty,
                        user_id = tracing::field::Empty,
                        error_codes = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        // Pages that need more (the explorer) send their own policy.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .option_layer(strict_transport_security(&state.config).map(|value| {
            SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, value)
        }));
    let cors = cors_layer(&state.config);
    let api = Router::new()
        .route("/graphql", get(http::graphql_get).post(http::graphql_post))
        .route("/graphql/ws", get(ws::graphql_ws))
        .route(explorer::ASSET_ROUTE, get(explorer::asset))
        .route("/healthz", get(http::healthz))
        .merge(rest::routes())
        .route("/readyz", get(http::readyz))
        .with_state(state.clone())
        .layer(RequestBodyLimitLayer::new(body_limit))
        // Answers carry tokens (login, refresh, verifyMfa) and personal
        // data: no browser or proxy may keep them (RFC 6749 section 5.1).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    // Domain routes (webhooks, signed storage URLs) enforce their own limits.
    api.merge(state.domains.routes())
        .layer(cors)
        .layer(middleware)
}

/// Cross-origin access for the browser apps of `ALLOWED_ORIGINS`: with
/// credentials (the cookie endpoints under /auth), the headers clients send
/// and read, and a preflight cached for ten minutes. Other origins get no
/// CORS headers, so browsers keep their pages out.
fn cors_layer(config: &Config) -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::HEAD])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("traceparent"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for up
/// to the configured grace period and closes websocket connections.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = state.config.shutdown_grace;
    let notify = state.shutdown.clone();
    let worker = state
        .config
        .outbox_enabled
        .then(|| tokio::spawn(state.outbox.clone().run(state.shutdown.subscribe())));
    let housekeeping = state
        .config
        .job_retention
        .map(|retention| kernel::outbox::pruning_task(state.db.clone(), retention));
    let periodic: Vec<_> = state
        .domains
        .periodic()
        .into_iter()
        .chain(housekeeping)
        .map(|task| tokio::spawn(run_periodically(task, state.shutdown.subscribe())))
        .collect();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = notify.send(true);
        let _ = started_tx.send(());
    };
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let deadline = async move {
        if started_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server.into_future() => result.context("serving HTTP")?,
        () = deadline => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
    for task in periodic {
        task.abort();
    }
    if let Some(worker) = worker {
        // The worker stops at its next poll; jobs in flight keep their lease
        // and are retried by the next process if cut short.
        let _ = tokio::time::timeout(grace, worker).await;
    }
    Ok(())
}

/// Runs a periodic task (a domain's, or the outbox's pruning) every
/// `task.every`, the first run at start, until shutdown; a failed run is
/// logged and the next one comes at its time.
async fn run_periodically(task: PeriodicTask, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(task.every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(error) = (task.run)().await {
                    tracing::warn!(task = task.name, "periodic task failed");
                    error.log_if_internal();
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn termination_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `fluxorae serve`: database, migrations, HTTP, and a clean stop.
pub async fn run_server(config: Config) -> anyhow::Result<()> {
    let database = resolve_database(&config).await?;
    let bind = config.bind_addr;
    let state = build_state(config, &database.url).await?;
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    tracing::info!(
        "serving GraphQL at http://{}/graphql",
        listener.local_addr()?
    );
    let result = serve(listener, state, termination_signal()).await;
    if let Some(embedded) = database.embedded.filter(RunningPostgres::started_here) {
        match tokio::task::spawn_blocking(move || embedded.stop()).await {
            Ok(Ok(())) => tracing::info!("stopped the private PostgreSQL"),
            Ok(Err(error)) => tracing::error!(%error, "stopping the private PostgreSQL failed"),
            Err(error) => tracing::error!(%error, "stopping the private PostgreSQL failed"),
        }
    }
    result
}
