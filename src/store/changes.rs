//! Changes announced across processes by PostgreSQL `LISTEN/NOTIFY`, so that a revocation or a
//! catalog edit made through one process (or the CLI) reaches every other within milliseconds
//! instead of a refresh interval. The counters in `settings` stay the truth: a notification
//! only wakes the refresh task to read them now, and when the listening connection is down (or
//! on SQLite, which has no NOTIFY) the periodic read is what remains.

use crate::store::Conn;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::Notify;

use super::StoreResult;

/// The channel every change is announced on.
pub const CHANNEL: &str = "supportdesk_changes";

/// Announces a change, in the caller's transaction: PostgreSQL delivers it when (and only if)
/// the transaction commits. Nothing on other backends.
pub async fn announce(conn: &mut Conn, what: &str) -> StoreResult<()> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(what)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Listens on [`CHANNEL`] until `stop` is set, waking `wake` for each notification (and after
/// each reconnection, for what was announced while it was away). A lost connection is retried
/// every second; the periodic refresh covers the gap.
pub fn spawn_listener(url: String, wake: Arc<Notify>, stop: impl Fn() -> bool + Send + 'static) {
    tokio::spawn(async move {
        let mut logged_down = false;
        while !stop() {
            let listener = async {
                let mut listener = PgListener::connect(&url).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            }
            .await;
            let mut listener = match listener {
                Ok(listener) => listener,
                Err(err) => {
                    if !logged_down {
                        logged_down = true;
                        tracing::warn!(error = %err, "cannot listen for changes; polling only until it can");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if logged_down {
                tracing::info!("listening for changes again");
                logged_down = false;
            }
            wake.notify_one();
            // `try_recv` answers `None` when the connection was lost (instead of reconnecting
            // quietly), so that the wake-up after a reconnection above is not skipped.
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => wake.notify_one(),
                    Ok(None) | Err(_) => break,
                }
                if stop() {
                    return;
                }
            }
        }
    });
}

/// The channel committed ticket events are announced on (the payload: the ticket's id), so
/// that every process's console pages hear of a change whichever process dispatched it.
pub const EVENTS_CHANNEL: &str = "supportdesk_ticket_events";

/// Announces that a ticket changed, in the caller's transaction (PostgreSQL only; delivered on
/// commit).
pub async fn announce_ticket(conn: &mut Conn, ticket_id: i64) -> StoreResult<()> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(ticket_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Listens on [`EVENTS_CHANNEL`] until `stop` is set, sending each announced ticket id to
/// `tickets`. A lost connection is retried every second (what changed meanwhile is shown at
/// the next change or reload: the pages themselves are always read from the database).
pub fn spawn_ticket_listener(
    url: String,
    tickets: tokio::sync::broadcast::Sender<i64>,
    stop: impl Fn() -> bool + Send + 'static,
) {
    let heard = move |payload: &str| {
        if let Ok(id) = payload.parse() {
            // Nobody watching is not an error.
            let _ = tickets.send(id);
        }
    };
    spawn_payload_listener(url, EVENTS_CHANNEL, heard, stop);
}

/// Announces `payload` on `channel` now (outside any transaction). PostgreSQL only; callers
/// check the backend.
pub async fn notify(db: &super::Db, channel: &str, payload: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Listens on `channel` until `stop` is set, handing each notification's payload to `heard`.
/// A lost connection is retried every second (what was announced meanwhile is repeated by its
/// sender's heartbeat).
pub fn spawn_payload_listener(
    url: String,
    channel: &'static str,
    heard: impl Fn(&str) + Send + 'static,
    stop: impl Fn() -> bool + Send + 'static,
) {
    tokio::spawn(async move {
        while !stop() {
            let listener = async {
                let mut listener = PgListener::connect(&url).await?;
                listener.listen(channel).await?;
                Ok::<_, sqlx::Error>(listener)
            }
            .await;
            let Ok(mut listener) = listener else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => heard(n.payload()),
                    Ok(None) | Err(_) => break,
                }
                if stop() {
                    return;
                }
            }
        }
    });
}
