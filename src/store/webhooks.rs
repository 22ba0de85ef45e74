//! Webhook endpoints (what administrators register) and what fan-out reads inside the
//! dispatcher's transaction: the endpoints subscribed to an event, and the event's context
//! for the payload. Deliveries and their attempts are in `webhook_deliveries`.

use crate::store::Conn;
use sqlx::Row;
use sqlx::any::AnyRow;

use std::collections::HashMap;

use super::sql::Conditions;
use super::tickets::{TICKET_COLUMNS, TicketRow, ticket_from_row};
use super::{Db, StoreResult, Tx, flag, now_micros};
use crate::domain::events::TicketEvent;

/// Which events an endpoint receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// `["*"]`: every event, those added later included.
    All,
    /// These, in the order of `TicketEvent::ALL`, without repeats.
    Only(Vec<TicketEvent>),
}

impl Subscription {
    /// The stored form: `*`, or the names comma-separated.
    pub fn stored(&self) -> String {
        match self {
            Self::All => "*".to_owned(),
            Self::Only(events) => events
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Reads the stored form; names this build does not know are kept out.
    pub fn from_stored(text: &str) -> Self {
        if text.trim() == "*" {
            return Self::All;
        }
        let names: Vec<&str> = text.split(',').map(str::trim).collect();
        Self::Only(
            TicketEvent::ALL
                .into_iter()
                .filter(|e| names.contains(&e.name()))
                .collect(),
        )
    }

    /// From event names as an administrator gives them (the API, the command line): `*`
    /// (alone or among others) for every event; repeats dropped; blanks ignored.
    pub fn from_names(names: &[String]) -> Result<Self, String> {
        let names: Vec<&str> = names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(crate::domain::fields::EMPTY_LIST.to_owned());
        }
        if names.contains(&"*") {
            return Ok(Self::All);
        }
        let mut chosen = Vec::new();
        for name in names {
            let event = TicketEvent::from_name(name)
                .ok_or_else(|| crate::domain::fields::invalid_choice(name))?;
            if !chosen.contains(&event) {
                chosen.push(event);
            }
        }
        chosen.sort_by_key(|e| TicketEvent::ALL.iter().position(|x| x == e));
        Ok(Self::Only(chosen))
    }

    /// The names as the API shows them: `["*"]` or the event names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_owned()],
            Self::Only(events) => events.iter().map(|e| e.name().to_owned()).collect(),
        }
    }
}

/// An endpoint, without its secret.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Subscription,
    pub description: String,
    pub enabled: bool,
    /// Why it was disabled (automatically, or "Disabled by an administrator.").
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    /// Failing every attempt since then (microseconds), if failing.
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, url, events, description, enabled, disabled_reason, \
     disabled_at, failing_since, created_at, updated_at";

fn endpoint_from_row(row: &AnyRow) -> StoreResult<Endpoint> {
    Ok(Endpoint {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        events: Subscription::from_stored(&row.try_get::<String, _>("events")?),
        description: row.try_get("description")?,
        enabled: flag(row, "enabled")?,
        disabled_reason: row.try_get("disabled_reason")?,
        disabled_at: row.try_get("disabled_at")?,
        failing_since: row.try_get("failing_since")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Registers an endpoint, enabled; answers it.
pub async fn create(
    db: &Db,
    url: &str,
    events: &Subscription,
    description: &str,
    secret: &str,
) -> StoreResult<Endpoint> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "INSERT INTO webhook_endpoints (url, events, description, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {ENDPOINT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(url)
        .bind(events.stored())
        .bind(description)
        .bind(secret)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
    let endpoint = endpoint_from_row(&row)?;
    tx.commit().await?;
    Ok(endpoint)
}

/// Every endpoint, oldest first.
pub async fn list(db: &Db) -> StoreResult<Vec<Endpoint>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.read().await?)
        .await?;
    rows.iter().map(endpoint_from_row).collect()
}

pub async fn get(db: &Db, id: i64) -> StoreResult<Option<Endpoint>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut db.read().await?)
        .await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

/// What `PATCH` may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub url: Option<String>,
    pub events: Option<Subscription>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Applies `changes`; answers false when there is no such endpoint. Enabling an endpoint
/// forgets why it was disabled and how long it had been failing, and makes its pending
/// deliveries due at once.
pub async fn update(db: &Db, id: i64, changes: &Changes) -> StoreResult<bool> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let found = sqlx::query(
        "UPDATE webhook_endpoints SET url = COALESCE($1, url), events = COALESCE($2, events),
                description = COALESCE($3, description), updated_at = $4
         WHERE id = $5",
    )
    .bind(changes.url.clone())
    .bind(changes.events.as_ref().map(Subscription::stored))
    .bind(changes.description.clone())
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !found {
        return Ok(false);
    }
    match changes.enabled {
        Some(true) => {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL,
                        disabled_at = NULL, failing_since = NULL
                 WHERE id = $1 AND enabled = 0",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET available_at = $1
                 WHERE endpoint_id = $2 AND state = 'pending' AND available_at > $1",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Some(false) => {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = 0,
                        disabled_reason = 'Disabled by an administrator.', disabled_at = $1
                 WHERE id = $2 AND enabled = 1",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        None => {}
    }
    tx.commit().await?;
    Ok(true)
}

/// Removes an endpoint with its deliveries and their attempts.
pub async fn delete(db: &Db, id: i64) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    // Explicit rather than trusting ON DELETE CASCADE alone: SQLite applies it only on
    // connections with foreign keys on, which a hand-opened `sqlite3` shell does not have.
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
           (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    tx.commit().await?;
    Ok(gone)
}

/// Replaces an endpoint's signing secret; the next attempt of every delivery signs with it.
pub async fn set_secret(db: &Db, id: i64, secret: &str) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let found =
        sqlx::query("UPDATE webhook_endpoints SET secret = $1, updated_at = $2 WHERE id = $3")
            .bind(secret)
            .bind(now_micros())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    tx.commit().await?;
    Ok(found)
}

/// Where and how to send: an endpoint's URL and signing secret.
#[derive(Clone)]
pub struct Target {
    pub id: i64,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The targets of these endpoints (those that still exist).
pub async fn targets(db: &Db, ids: &[i64]) -> StoreResult<Vec<Target>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT id, url, secret FROM webhook_endpoints WHERE id IN ({})",
        marks.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&mut db.read().await?).await?;
    rows.iter()
        .map(|r| {
            Ok(Target {
                id: r.try_get("id")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
            })
        })
        .collect()
}

/// The enabled endpoints subscribed to `event`, inside the dispatcher's transaction.
pub async fn subscribed(tx: &mut Tx, event: TicketEvent) -> StoreResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM webhook_endpoints
         WHERE enabled = 1 AND (events = '*' OR ',' || events || ',' LIKE $1)
         ORDER BY id",
    )
    .bind(format!("%,{},%", event.name()))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// One delivery per endpoint of `endpoints`, all with the same body, in one statement. A
/// delivery already there (another process fanned this row out before its lease ran out) is
/// left alone.
pub async fn add_deliveries(
    tx: &mut Tx,
    outbox_id: i64,
    event_id: i64,
    event: TicketEvent,
    payload: &str,
    endpoints: &[i64],
) -> StoreResult<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    // $1..$5 are shared; each endpoint adds its own id.
    let rows: Vec<String> = (0..endpoints.len())
        .map(|n| format!("(${}, $1, $2, $3, $4, $5, $5)", n + 6))
        .collect();
    let sql = format!(
        "INSERT INTO webhook_deliveries
           (endpoint_id, outbox_id, event_id, event_type, payload, created_at, available_at)
         VALUES {}
         ON CONFLICT (outbox_id, endpoint_id) DO NOTHING",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(outbox_id)
        .bind(event_id)
        .bind(event.name())
        .bind(payload)
        .bind(now_micros());
    for endpoint in endpoints {
        query = query.bind(*endpoint);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Who made a change.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: i64,
    pub email: String,
    pub role: String,
}

/// A conversation message an event is about.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: i64,
    pub comment: String,
    pub author: String,
    pub internal: bool,
    pub created_at: i64,
}

/// Everything a payload tells about one event.
#[derive(Clone, Debug)]
pub struct EventContext {
    pub event_id: i64,
    /// The audit trail's kind (`status`, `tags`, …).
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: i64,
    pub actor: Actor,
    pub ticket: TicketRow,
    pub tags: Vec<i64>,
    /// For a comment, reply or note.
    pub message: Option<Message>,
}

/// Reads an event's context in the caller's transaction; `None` if the event or its ticket is
/// gone.
pub async fn event_context(conn: &mut Conn, event_id: i64) -> StoreResult<Option<EventContext>> {
    Ok(event_contexts(conn, &[event_id]).await?.remove(&event_id))
}

/// The contexts of several events, by event id, in four queries whatever their number (the
/// dispatcher reads a whole batch's at once: one round trip per row per table was most of its
/// time on PostgreSQL). An event whose ticket is gone is left out.
pub async fn event_contexts(
    conn: &mut Conn,
    event_ids: &[i64],
) -> StoreResult<HashMap<i64, EventContext>> {
    let mut found = HashMap::new();
    if event_ids.is_empty() {
        return Ok(found);
    }
    let mut which = Conditions::default();
    which.and_in("e.id", event_ids);
    let sql = format!(
        "SELECT e.id, e.ticket_id, e.kind, e.old_value, e.new_value, e.created_at,
                u.id AS actor_id, u.email, u.role
         FROM ticket_events e JOIN users u ON u.id = e.actor_id WHERE {}",
        which.sql()
    );
    let events = which
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut *conn)
        .await?;
    if events.is_empty() {
        return Ok(found);
    }
    let mut ticket_ids = Vec::with_capacity(events.len());
    // Comments, replies and notes record the message's id as the event's new value.
    let mut message_ids = Vec::new();
    for row in &events {
        ticket_ids.push(row.try_get::<i64, _>("ticket_id")?);
        let kind: String = row.try_get("kind")?;
        let to: Option<String> = row.try_get("new_value")?;
        if let ("comment" | "reply" | "note", Some(id)) = (
            kind.as_str(),
            to.as_deref().and_then(|v| v.parse::<i64>().ok()),
        ) {
            message_ids.push(id);
        }
    }
    ticket_ids.sort_unstable();
    ticket_ids.dedup();
    let tickets = load_tickets(conn, &ticket_ids).await?;
    let tags = tag_ids_of(conn, &ticket_ids).await?;
    let messages = messages(conn, &message_ids).await?;

    for row in &events {
        let event_id: i64 = row.try_get("id")?;
        let ticket_id: i64 = row.try_get("ticket_id")?;
        let Some(ticket) = tickets.get(&ticket_id) else {
            continue;
        };
        let kind: String = row.try_get("kind")?;
        let to: Option<String> = row.try_get("new_value")?;
        let message = match (
            kind.as_str(),
            to.as_deref().and_then(|v| v.parse::<i64>().ok()),
        ) {
            ("comment" | "reply" | "note", Some(id)) => messages
                .get(&id)
                .filter(|(of, _)| *of == ticket_id)
                .map(|(_, m)| m.clone()),
            _ => None,
        };
        found.insert(
            event_id,
            EventContext {
                event_id,
                kind,
                from: row.try_get("old_value")?,
                to,
                at: row.try_get("created_at")?,
                actor: Actor {
                    id: row.try_get("actor_id")?,
                    email: row.try_get("email")?,
                    role: row.try_get("role")?,
                },
                ticket: ticket.clone(),
                tags: tags.get(&ticket_id).cloned().unwrap_or_default(),
                message,
            },
        );
    }
    Ok(found)
}

/// The tickets of `ids`, by id.
async fn load_tickets(conn: &mut Conn, ids: &[i64]) -> StoreResult<HashMap<i64, TicketRow>> {
    let mut which = Conditions::default();
    which.and_in("t.id", ids);
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN categories c ON c.id = t.category_id
         WHERE {}",
        which.sql()
    );
    let rows = which
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| ticket_from_row(row).map(|t| (t.id, t)))
        .collect()
}

/// The tag ids of each ticket of `ids`, in id order.
async fn tag_ids_of(conn: &mut Conn, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<i64>>> {
    let mut which = Conditions::default();
    which.and_in("ticket_id", ids);
    let sql = format!(
        "SELECT ticket_id, tag_id FROM ticket_tags WHERE {} ORDER BY ticket_id, tag_id",
        which.sql()
    );
    let rows = which
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut *conn)
        .await?;
    let mut tags: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in &rows {
        tags.entry(row.try_get("ticket_id")?)
            .or_default()
            .push(row.try_get("tag_id")?);
    }
    Ok(tags)
}

/// The messages of `ids`, by id, each with its ticket's id.
async fn messages(conn: &mut Conn, ids: &[i64]) -> StoreResult<HashMap<i64, (i64, Message)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut which = Conditions::default();
    which.and_in("v.id", ids);
    let sql = format!(
        "SELECT v.id, v.ticket_id, v.comment, u.email, v.internal, v.created_at
         FROM conversations v JOIN users u ON u.id = v.author_id WHERE {}",
        which.sql()
    );
    let rows = which
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|m| {
            let id: i64 = m.try_get("id")?;
            Ok((
                id,
                (
                    m.try_get("ticket_id")?,
                    Message {
                        id,
                        comment: m.try_get("comment")?,
                        author: m.try_get("email")?,
                        internal: flag(m, "internal")?,
                        created_at: m.try_get("created_at")?,
                    },
                ),
            ))
        })
        .collect()
}
