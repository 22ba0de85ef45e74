//! Presence on a ticket page: "<name> is viewing" and "<name> is replying", for the other
//! staff on the same ticket, live.
//!
//! Viewing lasts as long as the page's event stream (`/console/live?ticket=N`) is open: the
//! stream starts it and its end (page closed, navigated away, connection lost) ends it.
//! Replying is said by the page while someone types a reply or note (at most every few
//! seconds) and lasts [`REPLYING_TTL`] unless said again; the page says it stopped when the
//! message is sent or the page is left.
//!
//! Kept in this process's memory; on PostgreSQL every change is also announced on
//! [`CHANNEL`] (`NOTIFY`), and every process keeps the others' entries for [`REMOTE_TTL`],
//! renewed by a heartbeat every [`HEARTBEAT`], so that a process that dies without saying
//! goodbye is forgotten within seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::store::Db;

/// The PostgreSQL channel presence is announced on.
pub const CHANNEL: &str = "supportdesk_presence";
/// How long "is replying" lasts after the last keystroke's report.
pub const REPLYING_TTL: Duration = Duration::from_secs(15);
/// How long another process's entry lasts without a heartbeat.
pub const REMOTE_TTL: Duration = Duration::from_secs(30);
/// How often this process repeats its entries to the others.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Whose entry: a process and a console session in it (one person may have several).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Key {
    process: String,
    session: i64,
}

#[derive(Clone, Debug)]
struct Entry {
    person: i64,
    name: String,
    /// Open event streams of this session on the ticket (local entries).
    viewers: u32,
    /// A remote entry: whether it views.
    viewing: bool,
    replying_until: Option<Instant>,
    /// Remote entries: forgotten after this, unless renewed.
    expires: Option<Instant>,
}

impl Entry {
    fn viewing(&self) -> bool {
        self.viewers > 0 || self.viewing
    }

    fn replying(&self, now: Instant) -> bool {
        self.replying_until.is_some_and(|t| t > now)
    }
}

/// What a process announces of one session on one ticket.
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    process: String,
    session: i64,
    ticket: i64,
    person: i64,
    name: String,
    viewing: bool,
    replying: bool,
}

/// Who is on which ticket, and a channel that says which ticket's presence changed.
pub struct Presence {
    process: String,
    tickets: Mutex<HashMap<i64, HashMap<Key, Entry>>>,
    changed: broadcast::Sender<i64>,
    /// The database to announce through (PostgreSQL only).
    announce_to: Mutex<Option<Db>>,
}

impl Default for Presence {
    fn default() -> Self {
        Self {
            process: hex::encode(rand::random::<[u8; 8]>()),
            tickets: Mutex::new(HashMap::new()),
            changed: broadcast::channel(256).0,
            announce_to: Mutex::new(None),
        }
    }
}

/// One person on a ticket, as a page shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct Someone {
    pub name: String,
    pub replying: bool,
}

impl Presence {
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.changed.subscribe()
    }

    fn with<T>(&self, work: impl FnOnce(&mut HashMap<i64, HashMap<Key, Entry>>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere while holding it; the map is still
        // usable (every change to it is a single insert or remove).
        let mut guard = self
            .tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut guard)
    }

    fn key(&self, session: i64) -> Key {
        Key {
            process: self.process.clone(),
            session,
        }
    }

    /// The others on a ticket (not `me`), viewing or replying, by name.
    pub fn others(&self, ticket: i64, me: i64) -> Vec<Someone> {
        let now = Instant::now();
        let mut found: HashMap<i64, Someone> = HashMap::new();
        self.with(|tickets| {
            for entry in tickets.get(&ticket).into_iter().flat_map(|m| m.values()) {
                if entry.person == me || entry.expires.is_some_and(|t| t <= now) {
                    continue;
                }
                let replying = entry.replying(now);
                if !replying && !entry.viewing() {
                    continue;
                }
                let one = found.entry(entry.person).or_insert_with(|| Someone {
                    name: entry.name.clone(),
                    replying: false,
                });
                one.replying |= replying;
            }
        });
        let mut list: Vec<Someone> = found.into_values().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// The local entry changed: tell this process's pages, and the others.
    fn publish(&self, ticket: i64, session: i64) {
        let _ = self.changed.send(ticket);
        let key = self.key(session);
        let now = Instant::now();
        let announcement = self.with(|tickets| {
            let entry = tickets.get(&ticket).and_then(|m| m.get(&key));
            Announcement {
                process: self.process.clone(),
                session,
                ticket,
                person: entry.map_or(0, |e| e.person),
                name: entry.map(|e| e.name.clone()).unwrap_or_default(),
                viewing: entry.is_some_and(Entry::viewing),
                replying: entry.is_some_and(|e| e.replying(now)),
            }
        });
        self.announce(vec![announcement]);
    }

    fn announce(&self, announcements: Vec<Announcement>) {
        let db = self
            .announce_to
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let Some(db) = db else { return };
        if announcements.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for a in announcements {
                let Ok(payload) = serde_json::to_string(&a) else {
                    continue;
                };
                // Presence is a courtesy: a lost announcement is renewed by the heartbeat.
                if let Err(err) = crate::store::changes::notify(&db, CHANNEL, &payload).await {
                    tracing::debug!(error = %err, "presence: cannot announce");
                }
            }
        });
    }

    /// A page of `ticket` opened its event stream.
    pub fn view_start(&self, ticket: i64, session: i64, person: i64, name: &str) {
        let key = self.key(session);
        self.with(|tickets| {
            let entry = tickets
                .entry(ticket)
                .or_default()
                .entry(key)
                .or_insert_with(|| Entry {
                    person,
                    name: name.to_owned(),
                    viewers: 0,
                    viewing: false,
                    replying_until: None,
                    expires: None,
                });
            entry.viewers += 1;
        });
        self.publish(ticket, session);
    }

    /// That page's stream ended.
    pub fn view_end(&self, ticket: i64, session: i64) {
        let key = self.key(session);
        let now = Instant::now();
        self.with(|tickets| {
            if let Some(map) = tickets.get_mut(&ticket) {
                if let Some(entry) = map.get_mut(&key) {
                    entry.viewers = entry.viewers.saturating_sub(1);
                    if entry.viewers == 0 && !entry.replying(now) {
                        map.remove(&key);
                    }
                }
                if map.is_empty() {
                    tickets.remove(&ticket);
                }
            }
        });
        self.publish(ticket, session);
    }

    /// Someone types a reply (`true`), or stopped: sent it or left (`false`).
    pub fn replying(&self, ticket: i64, session: i64, person: i64, name: &str, on: bool) {
        let key = self.key(session);
        self.with(|tickets| {
            let map = tickets.entry(ticket).or_default();
            if on {
                let entry = map.entry(key).or_insert_with(|| Entry {
                    person,
                    name: name.to_owned(),
                    viewers: 0,
                    viewing: false,
                    replying_until: None,
                    expires: None,
                });
                entry.replying_until = Some(Instant::now() + REPLYING_TTL);
            } else if let Some(entry) = map.get_mut(&key) {
                entry.replying_until = None;
                if entry.viewers == 0 {
                    map.remove(&key);
                }
            }
            if map.is_empty() {
                tickets.remove(&ticket);
            }
        });
        self.publish(ticket, session);
    }

    /// Another process's announcement (ours are ignored: we know them already).
    pub fn heard(&self, payload: &str) {
        let Ok(a) = serde_json::from_str::<Announcement>(payload) else {
            return;
        };
        if a.process == self.process {
            return;
        }
        let key = Key {
            process: a.process,
            session: a.session,
        };
        let now = Instant::now();
        self.with(|tickets| {
            let map = tickets.entry(a.ticket).or_default();
            if a.viewing || a.replying {
                map.insert(
                    key,
                    Entry {
                        person: a.person,
                        name: a.name,
                        viewers: 0,
                        viewing: a.viewing,
                        replying_until: a.replying.then(|| now + REPLYING_TTL),
                        expires: Some(now + REMOTE_TTL),
                    },
                );
            } else {
                map.remove(&key);
            }
            if map.is_empty() {
                tickets.remove(&a.ticket);
            }
        });
        let _ = self.changed.send(a.ticket);
    }

    /// Forgets what expired (telling the pages), and repeats this process's entries to the
    /// others. Called every second.
    fn sweep(&self, heartbeat: bool) {
        let now = Instant::now();
        let mut changed = Vec::new();
        let mut ours = Vec::new();
        self.with(|tickets| {
            for (ticket, map) in tickets.iter_mut() {
                let before = map.len();
                let mut lapsed = false;
                map.retain(|key, entry| {
                    if entry.expires.is_some_and(|t| t <= now) {
                        return false;
                    }
                    if entry.replying_until.is_some_and(|t| t <= now) {
                        entry.replying_until = None;
                        lapsed = true;
                    }
                    if key.process == self.process && heartbeat {
                        ours.push(Announcement {
                            process: key.process.clone(),
                            session: key.session,
                            ticket: *ticket,
                            person: entry.person,
                            name: entry.name.clone(),
                            viewing: entry.viewing(),
                            replying: entry.replying(now),
                        });
                    }
                    entry.viewing() || entry.replying_until.is_some()
                });
                if lapsed || map.len() != before {
                    changed.push(*ticket);
                }
            }
            tickets.retain(|_, map| !map.is_empty());
        });
        for ticket in changed {
            let _ = self.changed.send(ticket);
        }
        self.announce(ours);
    }
}

/// Starts the sweeper, and on PostgreSQL the announcements both ways.
pub fn spawn(state: &crate::app::AppState, database_url: Option<String>) {
    let presence = state.presence.clone();
    if let Some(url) = database_url {
        *presence
            .announce_to
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(state.db.clone());
        let pool = state.db.pool().clone();
        let hearer = presence.clone();
        crate::store::changes::spawn_payload_listener(
            url,
            CHANNEL,
            move |payload| hearer.heard(payload),
            move || pool.is_closed(),
        );
    }
    let pool = state.db.pool().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut n: u64 = 0;
        while !pool.is_closed() {
            tick.tick().await;
            n += 1;
            presence.sweep(n.is_multiple_of(HEARTBEAT.as_secs()));
        }
    });
}

/// The presence line when nobody else is there.
pub const NOBODY: &str = "<!-- nobody else -->";

/// The presence line of a ticket page, as HTML (names escaped).
pub fn line(others: &[Someone]) -> String {
    others
        .iter()
        .map(|o| {
            format!(
                "<span class=\"who-else\">{} is {}</span>",
                escape(&o.name),
                if o.replying { "replying" } else { "viewing" }
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn others_see_viewing_and_replying_never_themselves_and_names_are_escaped() {
        let p = Presence::default();
        p.with(|t| t.clear());
        let _ = p.subscribe();
        p.view_start(7, 1, 10, "ann@example.com");
        p.view_start(7, 2, 20, "<b>bo</b>@example.com");
        assert_eq!(
            p.others(7, 10),
            vec![Someone {
                name: "<b>bo</b>@example.com".to_owned(),
                replying: false
            }]
        );
        p.replying(7, 2, 20, "<b>bo</b>@example.com", true);
        let seen = p.others(7, 10);
        assert!(seen[0].replying);
        assert_eq!(
            line(&seen),
            "<span class=\"who-else\">&lt;b&gt;bo&lt;/b&gt;@example.com is replying</span>"
        );
        p.replying(7, 2, 20, "", false);
        p.view_end(7, 2);
        assert!(p.others(7, 10).is_empty());
        p.view_end(7, 1);
        assert!(p.with(|t| t.is_empty()));
    }
}
