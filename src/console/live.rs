//! Live updates: `GET /console/live` is a server-sent event stream. Each committed ticket
//! event becomes `changed` (queue pages fetch themselves again) and `ticket-<id>` (that
//! ticket's page does). The events come from `AppState::live`, which this process's dispatcher
//! feeds (SQLite) or every process's PostgreSQL `LISTEN` feeds (whichever process dispatched
//! the event).
//!
//! A ticket page opens `GET /console/live?ticket=<id>`: while that stream is open its session
//! is "viewing" the ticket (`presence`), and the stream also carries `presence` events (the
//! line of who else is there). The stream ends once its session has ended (signed out, signed
//! out everywhere, expired, the person deactivated), with a last `signed-out` event; the
//! browser's reconnection then finds no session and is refused.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast;

use super::presence;
use super::session::{Agent, COOKIE, cookie};
use crate::app::AppState;
use crate::domain::secrets::hash_secret;
use crate::store::{console_sessions, tickets};

/// How often the stream looks whether the server is shutting down (an open stream would
/// otherwise hold the drain until its timeout).
const SHUTDOWN_CHECK: Duration = Duration::from_millis(500);
/// How often (in shutdown checks) the stream looks whether its session still lives: 2 s.
const SESSION_CHECK_EVERY: u32 = 4;

/// A ticket page's stream: its session views the ticket until the stream is dropped.
struct Viewing {
    state: AppState,
    ticket: i64,
    session: i64,
    person: i64,
}

impl Drop for Viewing {
    fn drop(&mut self) {
        self.state.presence.view_end(self.ticket, self.session);
    }
}

struct Live {
    state: AppState,
    receiver: broadcast::Receiver<i64>,
    presence: broadcast::Receiver<i64>,
    pending: Vec<Event>,
    viewing: Option<Viewing>,
    token_hash: String,
    ticks: u32,
    ended: bool,
}

/// `GET /console/live[?ticket=<id>]`.
pub async fn stream(
    State(state): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let q = crate::domain::fields::Fields::from_query(query.as_deref());
    let receiver = state.live.subscribe();
    let presence_rx = state.presence.subscribe();
    let mut pending = Vec::new();
    // Only a ticket that exists is viewed; anything else is a plain stream.
    let ticket = q
        .text("ticket")
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|id| *id > 0);
    let ticket = match ticket {
        Some(id) => match tickets::find_ticket(&state.db, id).await {
            Ok(found) => found.map(|t| t.id),
            Err(err) => return super::pages::failure(err.into()),
        },
        None => None,
    };
    let viewing = ticket.map(|ticket| {
        state.presence.view_start(
            ticket,
            agent.session_id,
            agent.person.id,
            &agent.person.email,
        );
        // Who is already there, at once.
        pending.push(presence_event(&state, ticket, agent.person.id));
        Viewing {
            state: state.clone(),
            ticket,
            session: agent.session_id,
            person: agent.person.id,
        }
    });
    let token_hash = cookie(&headers, COOKIE)
        .map(hash_secret)
        .unwrap_or_default();
    let live = Live {
        state,
        receiver,
        presence: presence_rx,
        pending,
        viewing,
        token_hash,
        ticks: 0,
        ended: false,
    };
    Sse::new(events(live))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

fn presence_event(state: &AppState, ticket: i64, me: i64) -> Event {
    let line = presence::line(&state.presence.others(ticket, me));
    // An event without data is never delivered by browsers; a comment swaps in as "nobody"
    // (the line stays `:empty`).
    let data = if line.is_empty() {
        presence::NOBODY.to_owned()
    } else {
        line
    };
    Event::default().event("presence").data(data)
}

/// Whether the stream's session still lives (a failed look counts as alive: the next one
/// decides).
async fn session_lives(live: &Live) -> bool {
    match console_sessions::find(
        &live.state.db,
        &live.token_hash,
        live.state.console.lifetimes,
    )
    .await
    {
        Ok(found) => found.is_some_and(|f| f.active && f.person.role.is_staff()),
        Err(_) => true,
    }
}

fn events(live: Live) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(live, |mut live| async move {
        loop {
            if let Some(event) = live.pending.pop() {
                return Some((Ok(event), live));
            }
            if live.ended || live.state.draining.load(Ordering::Relaxed) {
                return None;
            }
            live.ticks = live.ticks.wrapping_add(1);
            if live.ticks.is_multiple_of(SESSION_CHECK_EVERY) && !session_lives(&live).await {
                live.ended = true;
                // Seen as a stranger from now on: no longer on the ticket.
                live.viewing = None;
                live.pending.push(
                    Event::default()
                        .event("signed-out")
                        .data("/console/sign-in"),
                );
                continue;
            }
            tokio::select! {
                got = live.receiver.recv() => match got {
                    Ok(ticket) => {
                        let id = ticket.to_string();
                        live.pending.push(Event::default().event("changed").data(id.clone()));
                        live.pending.push(Event::default().event(format!("ticket-{id}")).data(id));
                    }
                    // Fell behind: everything may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        live.pending.push(Event::default().event("changed").data("0"));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                got = live.presence.recv() => {
                    if let Some(v) = &live.viewing {
                        let mine = match got {
                            Ok(ticket) => ticket == v.ticket,
                            Err(broadcast::error::RecvError::Lagged(_)) => true,
                            Err(broadcast::error::RecvError::Closed) => false,
                        };
                        if mine {
                            let event = presence_event(&live.state, v.ticket, v.person);
                            live.pending.push(event);
                        }
                    }
                }
                () = tokio::time::sleep(SHUTDOWN_CHECK) => {}
            }
        }
    })
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
