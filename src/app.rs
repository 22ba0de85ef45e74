//! Wiring: the state, the router and the server, from a configuration and a bound listener.
//! Tests bind port 0 and stop the server through the shutdown future.

use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::{ServeConfig, StoreConfig};
use crate::domain::events::Committed;
use crate::http::client_ip::TrustedProxies;
use crate::http::envelope::{ApiError, internal_error_response};
use crate::http::metrics::{self, Metrics};
use crate::http::path::normalize_request;
use crate::http::ratelimit::{self, RateLimits};
use crate::http::routes;
use crate::http::server::{self, ConnectionLimits};
use crate::http::uploads;
use crate::services::inbound::Inbound;
use crate::services::jwt::JwtVerifier;
use crate::services::notify::mail::worker::WorkerConfig;
use crate::services::notify::mail::{Mail, MailWorker};
use crate::services::notify::webhooks;
use crate::services::notify::{Dispatcher, DispatcherConfig};
use crate::services::redis::SharedCounts;
use crate::services::throttle::SignInThrottle;
use crate::store::Db;
use crate::store::files::{BlobStore, ensure_writable_dir};

/// What every handler can reach.
pub struct Shared {
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    /// Where uploads are streamed before they are stored.
    pub staging_dir: PathBuf,
    /// How long reading a request's body may take (`SUPPORTDESK_BODY_TIMEOUT`).
    pub body_timeout: Duration,
    pub open_ticket_limit: u32,
    pub token_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub registration: bool,
    /// Verifies host-platform JWTs, when configured.
    pub jwt: Option<JwtVerifier>,
    pub sign_in_throttle: SignInThrottle,
    /// Counts shared by every process, when `SUPPORTDESK_REDIS_URL` is set.
    pub redis: Option<Arc<SharedCounts>>,
    pub metrics: Metrics,
    /// Set once shutdown begins: `/readyz` answers 503 so balancers stop sending requests.
    pub draining: std::sync::atomic::AtomicBool,
    /// Committed ticket events, published by this process's dispatcher as it handles them.
    pub committed: tokio::sync::broadcast::Sender<Committed>,
    /// Email notifications, when `SUPPORTDESK_SMTP_URL` is set.
    pub mail: Option<Arc<Mail>>,
    /// The webhook settings in force (`SUPPORTDESK_WEBHOOK_*`).
    pub webhooks: webhooks::Settings,
    /// Email in (`SUPPORTDESK_INBOUND_*`, `SUPPORTDESK_IMAP_URL`).
    pub inbound: Arc<Inbound>,
    /// The console's session settings.
    pub console: crate::console::session::Settings,
    /// Ids of tickets that changed, from every process: what the console's live pages hear.
    pub live: tokio::sync::broadcast::Sender<i64>,
    /// Who is viewing or replying to which ticket, for the console's ticket pages.
    pub presence: Arc<crate::console::presence::Presence>,
}

impl Shared {
    pub fn open_ticket_limit(&self) -> i64 {
        i64::from(self.open_ticket_limit)
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(db: Db, store: &StoreConfig, serve: &ServeConfig) -> anyhow::Result<Self> {
        // The staging directory is written by every upload: found unwritable here, at start,
        // the error names the path and the cause instead of the first upload answering 500.
        let staging_dir = store.data_dir.join("tmp");
        if store.attachments.is_none() {
            ensure_writable_dir(&store.attachments_dir(), "attachment directory")?;
        }
        ensure_writable_dir(&staging_dir, "upload staging directory")?;
        let blobs =
            crate::store::objects::open(store.attachments.as_deref(), &store.attachments_dir())
                .context("cannot open the attachment store")?;
        // Refused here, before the listener is bound, rather than once it serves.
        serve
            .security
            .trusted_proxies
            .parse::<TrustedProxies>()
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_TRUSTED_PROXIES: {e}"))?;
        let redis = match &serve.security.redis_url {
            Some(url) => Some(
                SharedCounts::connect(&url.0, &serve.security.redis_prefix)
                    .context("SUPPORTDESK_REDIS_URL")?,
            ),
            None => None,
        };
        let inbound = Inbound::from_config(&serve.inbound)?;
        Ok(Self(Arc::new(Shared {
            db,
            blobs,
            staging_dir,
            body_timeout: Duration::from_secs(serve.security.body_timeout_secs.max(1)),
            open_ticket_limit: serve.open_ticket_limit,
            token_ttl_secs: serve.token_ttl_secs,
            refresh_ttl_secs: serve.security.refresh_ttl_secs,
            registration: serve.security.registration,
            jwt: JwtVerifier::from_config(&serve.jwt)?,
            sign_in_throttle: SignInThrottle {
                max_failures: serve.security.signin_max_failures,
                window_secs: serve.security.signin_window_secs,
                redis: redis.clone(),
            },
            redis,
            metrics: Metrics::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            committed: tokio::sync::broadcast::channel(1024).0,
            mail: Mail::from_config(&serve.mail, inbound.reply.clone())?,
            webhooks: webhooks::Settings::from_config(&serve.webhooks)?,
            inbound,
            console: crate::console::session::Settings::new(
                serve.console_idle_secs,
                serve.console_session_lifetime_secs,
                serve.mail.public_url.as_deref(),
            ),
            live: tokio::sync::broadcast::channel(1024).0,
            presence: Arc::default(),
        })))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The router with every route, the fallbacks and the per-request layers (request id, log
/// line, panic guard, time limit, security headers, CORS, rate limits), before path
/// normalisation.
pub fn router(state: AppState, serve: &ServeConfig) -> anyhow::Result<Router> {
    let timeout = Duration::from_secs(serve.request_timeout_secs.max(1));
    let layers = ServiceBuilder::new()
        .map_request(drop_unsafe_request_id)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings may carry personal data.
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %id
                    )
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .option_layer(cors(&serve.security.cors_origins)?)
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
        .layer(security_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .layer(security_header(header::CACHE_CONTROL, "no-store"))
        .layer(CatchPanicLayer::custom(|_| internal_error_response()))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            request_timeout(req, next, timeout)
        }))
        .layer(middleware::from_fn(uploads::run_to_completion));
    let limits = RateLimits::new(
        serve.security.rate_limit_per_key,
        serve.security.rate_limit_per_ip,
        state.redis.clone(),
    );
    let mut api = routes::api(&serve.api_base());
    if limits.enabled() {
        api = api.layer(middleware::from_fn_with_state(limits, ratelimit::limit));
    }
    let mut operational = routes::operational();
    if serve.metrics.trim() == "on" {
        operational = operational.route("/metrics", get(metrics::render));
    }
    Ok(api
        .merge(operational)
        .merge(crate::console::router())
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(layers)
        .with_state(state))
}

/// Longest client-sent request id kept.
const REQUEST_ID_MAX_LEN: usize = 64;

/// A client's `x-request-id` is kept (logged and sent back) only when it is a short token of
/// letters, digits and `-_.:`; anything else, which could forge fields in a log line, is
/// dropped, and the request gets a fresh UUID like one that sent none.
fn drop_unsafe_request_id(mut req: Request) -> Request {
    let safe = |value: &HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= REQUEST_ID_MAX_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    };
    let values = req.headers().get_all(REQUEST_ID);
    let keep = values.iter().count() == 1 && values.iter().all(safe);
    if !keep {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Checks the settings the router is built from (the CORS origins), so that `serve` can refuse
/// a bad one before it creates or prints anything.
pub fn check(serve: &ServeConfig) -> anyhow::Result<()> {
    webhooks::Settings::from_config(&serve.webhooks)?;
    crate::services::notify::dispatcher::parse_retention(&serve.notify_retention)?;
    cors(&serve.security.cors_origins).map(drop)
}

/// Sets a header on every answer that does not set its own (downloads set stricter ones).
fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// CORS for the configured browser origins only; credentials are never allowed, so no origin
/// is ever wildcarded with them.
fn cors(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| HeaderValue::from_str(o).with_context(|| format!("invalid CORS origin {o:?}")))
        .collect::<anyhow::Result<_>>()?;
    if origins.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                HeaderName::from_static("apikey"),
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
            ])
            .expose_headers([REQUEST_ID, header::RETRY_AFTER, header::CONTENT_DISPOSITION])
            .max_age(Duration::from_secs(600)),
    ))
}

/// Bounds how long any request may take, so a stuck dependency cannot pile up connections.
/// A request that carries files is the exception: cutting it off could orphan its files, and
/// answering 503 while it goes on would tell a client to retry what may yet succeed. Its body
/// is bounded by the body timeout, the rest by the database's acquire and statement timeouts.
async fn request_timeout(req: Request, next: Next, limit: Duration) -> Response {
    if uploads::carries_files(&req) {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("request timed out".to_owned()).into_response(),
    }
}

/// Starts this process's outbox dispatcher and, with email configured, its mail worker, in
/// `tasks` (stopped when serving ends).
fn spawn_dispatcher(
    state: &AppState,
    serve: &ServeConfig,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let config = DispatcherConfig {
        lease: Duration::from_millis(serve.outbox_lease_ms.max(1)),
        poll: Duration::from_millis(serve.outbox_poll_ms.max(1)),
        retention: crate::services::notify::dispatcher::parse_retention(&serve.notify_retention)?,
        ..DispatcherConfig::default()
    };
    for n in 0..notify_tasks(&state.db) {
        // One of them prunes.
        let config = if n == 0 {
            config
        } else {
            DispatcherConfig {
                retention: None,
                ..config
            }
        };
        let dispatcher = Dispatcher::new(state.db.clone(), config, state.committed.clone())
            .with_mail(state.mail.clone())
            .with_load(state.metrics.load());
        tasks.spawn(dispatcher.run());
    }
    match &serve.mail.smtp_url {
        // Masked: the URL may carry the SMTP password.
        Some(url) => tracing::info!(smtp = ?url, "email notifications on"),
        None => tracing::info!("email notifications off: no SUPPORTDESK_SMTP_URL"),
    }
    if let Some(mail) = &state.mail {
        let worker = MailWorker::new(
            state.db.clone(),
            Arc::clone(mail),
            WorkerConfig {
                lease: config.lease,
                poll: config.poll,
                // Small batches: a batch's mails are recorded together once all are tried, and
                // the slowest (a hanging server, up to the SMTP timeout) must not outlast the
                // lease.
                batch: 16,
            },
        )
        .with_load(state.metrics.load());
        tasks.spawn(worker.run());
    }
    Ok(())
}

/// Starts this process's webhook workers in `tasks`. It shares the outbox's
/// lease and poll settings, and wakes on every event the dispatcher commits.
fn spawn_webhook_worker(
    state: &AppState,
    serve: &ServeConfig,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let settings = &state.webhooks;
    let sender = Arc::new(
        webhooks::Sender::new(settings.allow_private).context("cannot build the webhook client")?,
    );
    let config = webhooks::WorkerConfig {
        lease: Duration::from_millis(serve.outbox_lease_ms.max(1)),
        poll: Duration::from_millis(serve.outbox_poll_ms.max(1)),
        batch: 200,
        concurrency: 64,
        schedule: settings.schedule.clone(),
        disable_after: settings.disable_after,
    };
    for _ in 0..notify_tasks(&state.db) {
        let worker = webhooks::Worker::new(state.db.clone(), Arc::clone(&sender), config.clone())
            .with_load(state.metrics.load());
        tasks.spawn(worker.run(state.committed.subscribe()));
    }
    Ok(())
}

/// Dispatchers and webhook workers per process. On PostgreSQL every statement is a round trip
/// and two of each overlap their waits (they share the rows as two processes do, through
/// `SKIP LOCKED`): bench/README.md measured the difference. On SQLite the single writer takes
/// one transaction at a time, so a second would only wait.
fn notify_tasks(db: &crate::store::Db) -> usize {
    match db.backend() {
        crate::store::Backend::Postgres => 2,
        crate::store::Backend::Sqlite => 1,
    }
}

/// Starts this process's inbound worker (it processes mail kept by any process, and by the raw
/// endpoint) and a reader per configured IMAP mailbox, in `tasks`.
fn spawn_inbound(state: &AppState, serve: &ServeConfig, tasks: &mut JoinSet<()>) {
    let ctx = crate::services::inbound::process::Context {
        db: state.db.clone(),
        blobs: Arc::clone(&state.blobs),
        staging_dir: state.staging_dir.clone(),
        open_ticket_limit: state.open_ticket_limit(),
        inbound: Arc::clone(&state.inbound),
        mail: state.mail.clone(),
    };
    let worker = crate::services::inbound::worker::Worker::new(
        ctx,
        Duration::from_millis(serve.outbox_lease_ms.max(1)),
        Duration::from_millis(serve.outbox_poll_ms.max(1)).max(Duration::from_secs(1)),
    );
    tasks.spawn(worker.run());
    crate::services::inbound::imap::spawn_all(
        &state.db,
        &state.inbound,
        Duration::from_millis(serve.inbound.test_imap_hold_ms),
        tasks,
    );
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    serve: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // On the signal, `/readyz` fails at once; the listener stays open for the grace period so
    // that a balancer polling `/readyz` sees it and moves on, then new connections stop and
    // in-flight requests get the drain timeout to finish.
    let grace = Duration::from_millis(serve.shutdown_grace_ms);
    let signalled = state.clone();
    let shutdown = async move {
        shutdown.await;
        signalled
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            grace_ms = grace.as_millis(),
            "shutting down: /readyz answers 503"
        );
        tokio::time::sleep(grace).await;
    };
    // The background loops stop when serving ends, before the caller closes the database (left
    // to the runtime's end, each logged the closed pool as a failure on every clean shutdown).
    let mut tasks = JoinSet::new();
    spawn_orphan_sweep(&state, serve, &mut tasks);
    spawn_dispatcher(&state, serve, &mut tasks)?;
    spawn_webhook_worker(&state, serve, &mut tasks)?;
    spawn_inbound(&state, serve, &mut tasks);
    // Normalising the path must happen before routing, so it wraps the router from outside.
    let service = ServiceBuilder::new()
        .map_request(normalize_request)
        .service(router(state, serve)?);
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(serve.security.header_timeout_secs.max(1)),
        max_header_bytes: 16 * 1024,
        max_connections: serve.security.max_connections,
        max_connections_per_ip: serve.security.max_connections_per_ip,
        trusted_proxies: Arc::new(
            serve
                .security
                .trusted_proxies
                .parse::<TrustedProxies>()
                .map_err(|e| anyhow::anyhow!("SUPPORTDESK_TRUSTED_PROXIES: {e}"))?,
        ),
        drain_timeout: Duration::from_secs(serve.drain_timeout_secs),
    };
    let served = server::serve(listener, service, limits, shutdown)
        .await
        .context("server error");
    tasks.shutdown().await;
    served
}

/// How much older than the start a leftover upload file must be before the start-up sweep
/// removes it, beyond the request timeout: room for requests of other processes sharing the
/// directories, which may be storing and recording files right now.
const SWEEP_MARGIN: Duration = Duration::from_secs(600);

/// Removes, in the background, the upload files a crash left behind (see
/// `store::files::sweep_orphans`): those last modified longer ago than the request timeout plus
/// [`SWEEP_MARGIN`] before this start.
fn spawn_orphan_sweep(state: &AppState, serve: &ServeConfig, tasks: &mut JoinSet<()>) {
    let age = Duration::from_secs(serve.request_timeout_secs.max(1)) + SWEEP_MARGIN;
    let Some(cutoff) = std::time::SystemTime::now().checked_sub(age) else {
        return;
    };
    let state = state.clone();
    tasks.spawn(async move {
        let swept = crate::store::files::sweep_orphans(
            &state.db,
            &state.staging_dir,
            state.blobs.as_ref(),
            cutoff,
        )
        .await;
        match swept {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "removed upload files a crash left behind"),
            Err(err) => tracing::warn!(error = %err, "could not sweep leftover upload files"),
        }
    });
}

/// Serves `/metrics` alone on a listener of its own (`SUPPORTDESK_METRICS=ADDRESS`), so it can
/// stay off the public address.
pub async fn serve_metrics(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/metrics", get(metrics::render))
        .with_state(state);
    axum::serve(listener, router)
        .await
        .context("metrics server error")
}

/// What every server does between connecting and serving: the migrations, the state (which
/// checks the data directories and the JWT keys), on an empty database the first
/// administrator and API key (for the caller to show once), and the refresh that keeps its
/// memory honest.
pub async fn prepare(
    db: &Db,
    store: &StoreConfig,
    config: &ServeConfig,
) -> anyhow::Result<(AppState, Option<crate::services::accounts::Bootstrap>)> {
    db.migrate().await?;
    let state = AppState::new(db.clone(), store, config)?;
    let on_postgres = db.backend() == crate::store::Backend::Postgres;
    crate::console::live::spawn_feed(&state, on_postgres.then(|| store.url()));
    crate::console::presence::spawn(&state, on_postgres.then(|| store.url()));
    let first_start = crate::services::accounts::bootstrap_if_empty(db).await?;
    // On PostgreSQL, changes announced by other processes wake the refresh at once.
    let wake = Arc::new(tokio::sync::Notify::new());
    if db.backend() == crate::store::Backend::Postgres && config.cache_refresh_ms > 0 {
        let pool = db.pool().clone();
        crate::store::changes::spawn_listener(store.url(), Arc::clone(&wake), move || {
            pool.is_closed()
        });
    }
    db.spawn_refresh(Duration::from_millis(config.cache_refresh_ms), wake);
    Ok((state, first_start))
}

/// A desk started in this process on a bound listener: the database it uses, what a first
/// start created, and the server task (which ends when the shutdown future completes).
pub struct Started {
    pub db: Db,
    pub first_start: Option<crate::services::accounts::Bootstrap>,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// What `serve` does, for a caller that brings its own listener and shutdown (the integration
/// suite runs the real router this way, in-process).
pub async fn start(
    store: &StoreConfig,
    config: &ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Started> {
    check(config)?;
    let db = Db::connect(store).await?;
    let (state, first_start) = prepare(&db, store, config).await?;
    let config = config.clone();
    let server = tokio::spawn(async move { serve(listener, state, &config, shutdown).await });
    Ok(Started {
        db,
        first_start,
        server,
    })
}
