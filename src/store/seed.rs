//! Bulk loading of a realistic desk for the benchmark (`supportdesk bench-seed`): the same
//! schema, folding and attachment store as the service, with multi-row inserts in large
//! transactions so that a million tickets load in minutes.

use sqlx::Row;

use super::files::{BlobStore, StagedFile, new_key};
use super::{Db, StoreResult, Tx};
use crate::domain::ticket::fold_subject;

/// Rows per INSERT statement: well under SQLite's 32,766 bound parameters.
const BATCH: usize = 200;

/// A deterministic pseudo-random sequence (xorshift), so every run seeds the same desk.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// In `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Inserts rows of `columns` values each, `BATCH` rows per statement, inside `tx`.
async fn insert_rows<K>(
    tx: &mut Tx<K>,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Value>],
) -> StoreResult<()> {
    for chunk in rows.chunks(BATCH) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..columns.len() {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for value in row {
                query = match value {
                    Value::Int(v) => query.bind(*v),
                    Value::Text(v) => query.bind(v.clone()),
                    Value::Null => query.bind(None::<i64>),
                };
            }
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// One value of a seeded row.
#[derive(Clone, Debug)]
pub enum Value {
    Int(i64),
    Text(String),
    Null,
}

/// The shape of the desk to seed.
pub struct SeedPlan {
    pub categories: i64,
    pub tags: i64,
    pub customers: i64,
    pub tickets: i64,
    pub conversations: i64,
    pub attachments: i64,
    pub password_hash: String,
}

/// What the benchmark needs to know about the seeded desk.
pub struct Seeded {
    pub first_customer_id: i64,
    pub first_attachment_id: i64,
}

/// Seeds categories, tags, customers, tickets (skewed: most customers have a few, the first
/// ones thousands), conversations, tags on tickets, and small attachments.
pub async fn seed(
    db: &Db,
    blobs: &dyn BlobStore,
    staging: &std::path::Path,
    plan: &SeedPlan,
) -> StoreResult<Seeded> {
    let mut rng = Rng::new(20261127);
    let now = super::now_micros();
    let two_years: i64 = 2 * 365 * 86_400 * 1_000_000;
    let start = now - two_years;

    // Categories and tags: a catalog change, so a running server's lists learn of it.
    let mut tx = db.begin_catalog_change().await?;
    let rows: Vec<Vec<Value>> = (1..=plan.categories)
        .map(|i| {
            vec![
                Value::Text(format!("Category {i}")),
                Value::Text(format!("About topic {i}")),
                Value::Int(1),
                Value::Int(start),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "categories",
        &["name", "description", "active", "created_at"],
        &rows,
    )
    .await?;
    let rows: Vec<Vec<Value>> = (1..=plan.tags)
        .map(|i| {
            vec![
                Value::Text(format!("Tag {i}")),
                Value::Text(format!("tag{i}")),
                Value::Int(1),
                Value::Int(start),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "tags",
        &["name", "keyword", "active", "created_at"],
        &rows,
    )
    .await?;
    let first_category: i64 = sqlx::query("SELECT MIN(id) AS id FROM categories")
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    let first_tag: i64 = sqlx::query("SELECT MIN(id) AS id FROM tags")
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;

    let rows: Vec<Vec<Value>> = (0..plan.customers)
        .map(|i| {
            vec![
                Value::Text(format!("customer{i}@bench.example")),
                Value::Text(plan.password_hash.clone()),
                Value::Text("customer".to_owned()),
                Value::Int(1),
                Value::Int(start),
            ]
        })
        .collect();
    insert_rows(
        &mut tx,
        "users",
        &["email", "password_hash", "role", "active", "created_at"],
        &rows,
    )
    .await?;
    let first_customer_id: i64 = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind("customer0@bench.example")
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    tx.commit().await?;

    // Tickets in time order, their authors skewed towards the first customers.
    let subjects = [
        "Invoice is wrong",
        "Cannot log in",
        "Refund request",
        "App crashes on start",
        "Change of address",
        "Delivery is late",
        "Question about pricing",
        "Password reset fails",
    ];
    let step = (two_years / plan.tickets.max(1)).max(1);
    let mut first_ticket_id = None;
    let mut ticket = 0;
    while ticket < plan.tickets {
        let mut tx = db.begin_write().await?;
        let batch_end = (ticket + 20_000).min(plan.tickets);
        let mut rows = Vec::with_capacity((batch_end - ticket) as usize);
        for t in ticket..batch_end {
            let customer = ((plan.customers as f64) * rng.unit().powi(3)) as i64;
            let subject = format!(
                "{} #{t}",
                subjects[rng.below(subjects.len() as u64) as usize]
            );
            let created = start + t * step;
            // Old tickets are mostly closed; the newest are open or in progress.
            let status = if t + 5 * plan.customers > plan.tickets {
                1 + rng.below(3) as i64
            } else {
                3
            };
            rows.push(vec![
                Value::Int(first_customer_id + customer),
                Value::Text(fold_subject(&subject)),
                Value::Text(subject),
                Value::Int(1 + rng.below(3) as i64),
                Value::Int(first_category + rng.below(plan.categories as u64) as i64),
                Value::Text(
                    "Hello, something is not right with my account. Details follow.".to_owned(),
                ),
                Value::Int(status),
                Value::Int(created),
                Value::Int(created),
            ]);
        }
        insert_rows(
            &mut tx,
            "tickets",
            &[
                "author_id",
                "subject_folded",
                "subject",
                "priority",
                "category_id",
                "comment",
                "status",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        if first_ticket_id.is_none() {
            first_ticket_id = Some(
                sqlx::query("SELECT MIN(id) AS id FROM tickets")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get::<i64, _>("id")?,
            );
        }
        tx.commit().await?;
        ticket = batch_end;
    }
    let first_ticket_id = first_ticket_id.unwrap_or(1);
    // The bulk load bypasses the create transaction, which keeps these counters.
    sqlx::query(
        "UPDATE users SET
             ticket_count = (SELECT COUNT(*) FROM tickets WHERE tickets.author_id = users.id),
             open_count = (SELECT COUNT(*) FROM tickets
                           WHERE tickets.author_id = users.id AND tickets.status IN (1, 2))",
    )
    .execute(db.pool())
    .await?;

    // Conversations spread over the tickets, by their authors; tags on a third of the tickets.
    let authors: Vec<i64> = {
        let rows = sqlx::query("SELECT author_id FROM tickets ORDER BY id")
            .fetch_all(&mut db.read().await?)
            .await?;
        rows.iter()
            .map(|r| r.try_get("author_id"))
            .collect::<Result<_, _>>()?
    };
    let mut done = 0;
    while done < plan.conversations {
        let mut tx = db.begin_write().await?;
        let batch_end = (done + 20_000).min(plan.conversations);
        let mut rows = Vec::with_capacity((batch_end - done) as usize);
        for _ in done..batch_end {
            let index = rng.below(plan.tickets as u64) as usize;
            let author = authors.get(index).copied().unwrap_or(first_customer_id);
            rows.push(vec![
                Value::Int(first_ticket_id + index as i64),
                Value::Int(author),
                Value::Text(
                    "Any news on this? Here is more detail about what happened.".to_owned(),
                ),
                Value::Int(0),
                Value::Int(now - rng.below(two_years as u64) as i64),
            ]);
        }
        insert_rows(
            &mut tx,
            "conversations",
            &[
                "ticket_id",
                "author_id",
                "comment",
                "internal",
                "created_at",
            ],
            &rows,
        )
        .await?;
        tx.commit().await?;
        done = batch_end;
    }
    let mut tx = db.begin_write().await?;
    let mut rows = Vec::new();
    for t in (0..plan.tickets).step_by(3) {
        rows.push(vec![
            Value::Int(first_ticket_id + t),
            Value::Int(first_tag + rng.below(plan.tags as u64) as i64),
        ]);
    }
    insert_rows(&mut tx, "ticket_tags", &["ticket_id", "tag_id"], &rows).await?;
    tx.commit().await?;

    // Small attachments, through the attachment store.
    let mut rows = Vec::new();
    for a in 0..plan.attachments {
        let index = if a == 0 {
            0
        } else {
            rng.below(plan.tickets as u64) as i64
        };
        let (mut staged, mut file) = StagedFile::create(staging)
            .await
            .map_err(|e| super::StoreError::Other(sqlx::Error::Io(e)))?;
        let body = format!("log line {a}\n").repeat(40);
        tokio::io::AsyncWriteExt::write_all(&mut file, body.as_bytes())
            .await
            .map_err(|e| super::StoreError::Other(sqlx::Error::Io(e)))?;
        drop(file);
        let key = new_key();
        blobs
            .put(&key, &mut staged)
            .await
            .map_err(|e| super::StoreError::Other(sqlx::Error::Io(e)))?;
        rows.push(vec![
            Value::Int(first_ticket_id + index),
            Value::Null,
            Value::Text(format!("log-{a}.txt")),
            Value::Text("text/plain".to_owned()),
            Value::Int(body.len() as i64),
            Value::Text(key),
            Value::Int(now),
        ]);
    }
    let mut tx = db.begin_write().await?;
    insert_rows(
        &mut tx,
        "attachments",
        &[
            "ticket_id",
            "conversation_id",
            "filename",
            "content_type",
            "size",
            "storage_key",
            "created_at",
        ],
        &rows,
    )
    .await?;
    let first_attachment_id: i64 =
        sqlx::query("SELECT COALESCE(MIN(id), 0) AS id FROM attachments")
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
    tx.commit().await?;
    // Statistics for the planners; on PostgreSQL also the visibility map, without which its
    // index-only scans visit the heap and autovacuum would do this during the measurements.
    let analyze = match db.backend() {
        super::Backend::Sqlite => "ANALYZE",
        super::Backend::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(db.pool()).await?;
    if db.backend() == super::Backend::Sqlite {
        super::search::index::forget_statistics(db).await?;
    }
    Ok(Seeded {
        first_customer_id,
        first_attachment_id,
    })
}
