//! `supportdesk serve`.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app;
use crate::config::{ServeConfig, StoreConfig};
use crate::store::Db;

/// Where `/metrics` is served, from `--metrics`.
enum MetricsAt {
    /// On the main address (`on`) or nowhere (`off`).
    Main,
    Own(String),
}

fn parse_metrics(value: &str) -> anyhow::Result<MetricsAt> {
    match value.trim() {
        "on" | "off" => Ok(MetricsAt::Main),
        address
            if address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()) =>
        {
            Ok(MetricsAt::Own(address.to_owned()))
        }
        other => anyhow::bail!(
            "invalid --metrics (SUPPORTDESK_METRICS) value {other:?}: \
             `on`, `off` or an address such as 127.0.0.1:9100"
        ),
    }
}

/// Starts the service. Everything that can fail on a configuration or an occupied port is done
/// before the first start creates the administrator and API key, because those secrets are
/// printed once: a start that failed after printing them would leave them spent, with a rerun
/// that never shows them again.
pub async fn run(store: &StoreConfig, config: &ServeConfig) -> anyhow::Result<()> {
    let metrics_at = parse_metrics(&config.metrics)?;
    crate::app::check(config)?;
    let db = Db::connect(store).await?;
    let listener = TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr()?;
    let metrics_listener = match &metrics_at {
        MetricsAt::Main => None,
        MetricsAt::Own(at) => Some(
            TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen for metrics on {at}"))?,
        ),
    };
    // Migrations, the state (which checks the data directories and the JWT keys), then the
    // first start's credentials.
    let (state, first_start) = app::prepare(&db, store, config).await?;
    if let Some(first) = first_start {
        // Printed to the terminal only, never logged: these are secrets.
        println!("First start: created administrator {}", first.admin_email);
        println!("  password: {}", first.admin_password);
        println!("First start: created API key \"default\"");
        println!("  apikey: {}", first.api_key);
    }
    let metrics = match metrics_listener {
        Some(listener) => {
            tracing::info!(address = %listener.local_addr()?, "serving /metrics");
            Some(tokio::spawn(app::serve_metrics(listener, state.clone())))
        }
        None => None,
    };
    println!("listening on http://{address}");
    tracing::info!(%address, backend = ?db.backend(), api = %config.api_base(), "serving");
    app::serve(listener, state, config, shutdown_signal()).await?;
    if let Some(task) = metrics {
        task.abort();
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
