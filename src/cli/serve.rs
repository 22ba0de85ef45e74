//! `supportdesk serve`.

use anyhow::Context;
use tokio::net::TcpListener;

use crate::app::{self, AppState};
use crate::config::{ServeConfig, StoreConfig};
use crate::services::accounts::bootstrap_if_empty;
use crate::store::Db;

pub async fn run(store: &StoreConfig, config: &ServeConfig) -> anyhow::Result<()> {
    let db = Db::connect(store).await?;
    db.migrate().await?;
    if let Some(first) = bootstrap_if_empty(&db).await? {
        // Printed to the terminal only, never logged: these are secrets.
        println!("First start: created administrator {}", first.admin_email);
        println!("  password: {}", first.admin_password);
        println!("First start: created API key \"default\"");
        println!("  apikey: {}", first.api_key);
    }
    db.spawn_refresh(std::time::Duration::from_millis(config.cache_refresh_ms));
    let state = AppState::new(db.clone(), store, config)?;
    let listener = TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let address = listener.local_addr()?;
    let metrics = match config.metrics.trim() {
        "on" | "off" => None,
        address => {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen for metrics on {address}"))?;
            tracing::info!(address = %listener.local_addr()?, "serving /metrics");
            Some(tokio::spawn(app::serve_metrics(listener, state.clone())))
        }
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
