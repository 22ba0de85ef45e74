//! Live updates: `GET /console/live` is a server-sent event stream. Each committed ticket
//! event becomes `changed` (queue pages fetch themselves again) and `ticket-<id>` (that
//! ticket's page does). The events come from `AppState::live`, which this process's dispatcher
//! feeds (SQLite) or every process's PostgreSQL `LISTEN` feeds (whichever process dispatched
//! the event).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

use super::session::Agent;
use crate::app::AppState;

/// How often the stream looks whether the server is shutting down (an open stream would
/// otherwise hold the drain until its timeout).
const SHUTDOWN_CHECK: Duration = Duration::from_millis(500);

/// `GET /console/live`.
pub async fn stream(State(state): State<AppState>, _agent: Agent) -> Response {
    let receiver = state.live.subscribe();
    Sse::new(events(state, receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn events(
    state: AppState,
    receiver: broadcast::Receiver<i64>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(
        (state, receiver, Vec::<Event>::new()),
        |(state, mut receiver, mut pending)| async move {
            loop {
                if let Some(event) = pending.pop() {
                    return Some((Ok(event), (state, receiver, pending)));
                }
                if state.draining.load(Ordering::Relaxed) {
                    return None;
                }
                match tokio::time::timeout(SHUTDOWN_CHECK, receiver.recv()).await {
                    Err(_) => continue,
                    Ok(Ok(ticket)) => {
                        let id = ticket.to_string();
                        pending.push(Event::default().event("changed").data(id.clone()));
                        pending.push(Event::default().event(format!("ticket-{id}")).data(id));
                    }
                    // Fell behind: everything may have changed.
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                        pending.push(Event::default().event("changed").data("0"));
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                }
            }
        },
    )
}

/// Feeds `live` from this process's committed events (SQLite) or from PostgreSQL's
/// announcements of every process's (see `store::changes::spawn_ticket_listener`).
pub fn spawn_feed(state: &AppState, database_url: Option<String>) {
    let live = state.live.clone();
    match database_url {
        Some(url) => {
            let pool = state.db.pool().clone();
            crate::store::changes::spawn_ticket_listener(url, live, move || pool.is_closed());
        }
        None => {
            let mut committed = state.committed.subscribe();
            tokio::spawn(async move {
                loop {
                    match committed.recv().await {
                        Ok(event) => {
                            let _ = live.send(event.ticket_id);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let _ = live.send(0);
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
    }
}
