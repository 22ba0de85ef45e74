//! Database access. One set of queries serves both backends through sqlx's `Any` driver:
//! placeholders are `$N` (which SQLite accepts too), times are integer microseconds, flags are
//! integers. What must differ per backend (connection set-up, how a write transaction begins)
//! stays in this file.

pub mod accounts;
pub mod catalog;
pub mod changes;
mod conn;
pub mod console_sessions;
pub mod events;
pub mod files;
pub mod inbound;
mod lease;
mod lite;
pub mod mail;
pub mod memo;
pub mod objects;
pub mod outbox;
pub mod queue;
pub mod retention;
pub mod search;
pub mod seed;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod staff;
pub mod tickets;
mod tx;
pub mod webhook_deliveries;
pub mod webhooks;
mod writes;

pub use conn::Conn;
pub use tx::{CatalogChange, CredentialsChange, Invalidates, Tx};

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, SqlSafeStr};

use crate::config::StoreConfig;

/// Which database the URL chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
        }
    }

    /// An aggregate that turns the rows of a query into one JSON text, `[[a, b, …], …]`
    /// (`[]` for no rows): list reads then cost one row, not one per item. The items come in
    /// no promised order; callers sort them (an `ORDER BY` inside the aggregate made SQLite
    /// sort, in a temporary b-tree, rows its index had already returned in order).
    pub fn json_rows(self, columns: &str) -> String {
        match self {
            Self::Sqlite => format!("json_group_array(json_array({columns}))"),
            Self::Postgres => {
                format!("COALESCE(json_agg(json_build_array({columns})), '[]')::text")
            }
        }
    }
}

/// Reads what `Backend::json_rows` built.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|err| StoreError::Other(sqlx::Error::Decode(err.into())))
}

/// A yes/no column: both backends store flags as the integers 0 and 1 (one schema for both).
pub(crate) fn flag(row: &sqlx::any::AnyRow, column: &str) -> StoreResult<bool> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// A stored integer code as its domain enumeration (`Priority`, `Status`); a code the domain
/// does not know is a decoding error, never a silent default.
pub(crate) fn coded<T: TryFrom<i64, Error = String>>(code: i64) -> StoreResult<T> {
    T::try_from(code).map_err(|err| StoreError::Other(sqlx::Error::Decode(err.into())))
}

/// A pool on one of the two backends.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's write connection of this process (`lite`); `None` on PostgreSQL.
    writer: Option<std::sync::Arc<lite::Lite>>,
    /// SQLite's read connections of this process (`lite`); `None` on PostgreSQL.
    readers: Option<std::sync::Arc<lite::Readers>>,
    memo: std::sync::Arc<memo::Memo>,
}

/// Errors of the storage layer that callers must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached now (down, restarting, pool exhausted): worth a retry.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("unique constraint violated")]
    Conflict,
    #[error(transparent)]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            sqlx::Error::Database(db) if is_transient(db.code().as_deref()) => {
                Self::Unavailable(err)
            }
            _ => Self::Other(err),
        }
    }
}

/// Errors worth a retry by the client: PostgreSQL's SQLSTATE classes for a lost connection
/// (08), a server shutting down (57P), too many connections (53300) and a statement timeout
/// (57014); SQLite's busy and locked codes (a writer held the lock past the busy timeout).
fn is_transient(code: Option<&str>) -> bool {
    match code {
        Some(code) => {
            code.starts_with("08")
                || code.starts_with("57P")
                || code == "57014"
                || code == "53300"
                || code == "5"
                || code == "6"
                || code == "517"
        }
        None => false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The versioned migrations, the same versions with the same meaning on both backends.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "staff",
        include_str!("../../migrations/sqlite/0002_staff.sql"),
    ),
    (
        3,
        "identity",
        include_str!("../../migrations/sqlite/0003_identity.sql"),
    ),
    (
        4,
        "history layout",
        include_str!("../../migrations/sqlite/0004_history_layout.sql"),
    ),
    (
        5,
        "ticket counts",
        include_str!("../../migrations/sqlite/0005_ticket_counts.sql"),
    ),
    (
        6,
        "unique catalog names",
        include_str!("../../migrations/sqlite/0006_unique_catalog_names.sql"),
    ),
    (
        7,
        "sessions",
        include_str!("../../migrations/sqlite/0007_sessions.sql"),
    ),
    (
        8,
        "outbox",
        include_str!("../../migrations/sqlite/0008_outbox.sql"),
    ),
    (
        9,
        "webhooks",
        include_str!("../../migrations/sqlite/0009_webhooks.sql"),
    ),
    (
        10,
        "mail",
        include_str!("../../migrations/sqlite/0010_mail.sql"),
    ),
    (
        11,
        "search",
        include_str!("../../migrations/sqlite/0011_search.sql"),
    ),
    (
        12,
        "notify retention",
        include_str!("../../migrations/sqlite/0012_notify_retention.sql"),
    ),
    (
        13,
        "console_sessions",
        include_str!("../../migrations/sqlite/0013_console_sessions.sql"),
    ),
    (
        14,
        "inbound",
        include_str!("../../migrations/sqlite/0014_inbound.sql"),
    ),
    (
        15,
        "console_counts",
        include_str!("../../migrations/sqlite/0015_console_counts.sql"),
    ),
    (
        16,
        "queue_sorts",
        include_str!("../../migrations/sqlite/0016_queue_sorts.sql"),
    ),
    (
        17,
        "open_counts",
        include_str!("../../migrations/sqlite/0017_open_counts.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "staff",
        include_str!("../../migrations/postgres/0002_staff.sql"),
    ),
    (
        3,
        "identity",
        include_str!("../../migrations/postgres/0003_identity.sql"),
    ),
    (
        4,
        "history layout",
        include_str!("../../migrations/postgres/0004_history_layout.sql"),
    ),
    (
        5,
        "ticket counts",
        include_str!("../../migrations/postgres/0005_ticket_counts.sql"),
    ),
    (
        6,
        "unique catalog names",
        include_str!("../../migrations/postgres/0006_unique_catalog_names.sql"),
    ),
    (
        7,
        "sessions",
        include_str!("../../migrations/postgres/0007_sessions.sql"),
    ),
    (
        8,
        "outbox",
        include_str!("../../migrations/postgres/0008_outbox.sql"),
    ),
    (
        9,
        "webhooks",
        include_str!("../../migrations/postgres/0009_webhooks.sql"),
    ),
    (
        10,
        "mail",
        include_str!("../../migrations/postgres/0010_mail.sql"),
    ),
    (
        11,
        "search",
        include_str!("../../migrations/postgres/0011_search.sql"),
    ),
    (
        12,
        "notify retention",
        include_str!("../../migrations/postgres/0012_notify_retention.sql"),
    ),
    (
        13,
        "console_sessions",
        include_str!("../../migrations/postgres/0013_console_sessions.sql"),
    ),
    (
        14,
        "inbound",
        include_str!("../../migrations/postgres/0014_inbound.sql"),
    ),
    (
        15,
        "console_counts",
        include_str!("../../migrations/postgres/0015_console_counts.sql"),
    ),
    (
        16,
        "queue_sorts",
        include_str!("../../migrations/postgres/0016_queue_sorts.sql"),
    ),
    (
        17,
        "open_counts",
        include_str!("../../migrations/postgres/0017_open_counts.sql"),
    ),
];

impl Db {
    /// Opens a pool on the configured database, creating the SQLite file and its directory.
    pub async fn connect(config: &StoreConfig) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = config.url();
        let backend = Backend::from_url(&url)?;
        let mut url_for_options = url.clone();
        if backend == Backend::Sqlite {
            // SQLite writes beside its file (the WAL and shared-memory files); without this
            // check an unwritable directory surfaces as "unable to open database file".
            files::ensure_writable_dir(&config.data_dir, "data directory")?;
            if !url.contains("mode=") {
                url_for_options.push_str(if url.contains('?') { "&" } else { "?" });
                url_for_options.push_str("mode=rwc");
            }
        }
        let shown_url = crate::config::redact_url(&url);
        let options = AnyConnectOptions::from_str(&url_for_options)
            .with_context(|| format!("invalid database URL {shown_url}"))?;
        if backend == Backend::Postgres {
            // One plain connection first: the pool retries a refused connection until its
            // acquire timeout and then reports only "pool timed out"; this says "connection
            // refused" (or the server's own message) at once.
            let probe = tokio::time::timeout(
                config.acquire_timeout(),
                <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options),
            )
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot connect to database {shown_url}: no answer within {} s",
                    config.acquire_timeout().as_secs()
                )
            })?
            .with_context(|| format!("cannot connect to database {shown_url}"))?;
            // Closing is a courtesy to the server; the pool opens its own connections.
            let _ = sqlx::Connection::close(probe).await;
        }
        let statement_timeout = config.db_statement_timeout_ms.max(1);
        let sync_normal = config.sqlite_synchronous == "normal";
        let synchronous = if sync_normal {
            "PRAGMA synchronous = NORMAL"
        } else {
            "PRAGMA synchronous = FULL"
        };
        let pool = AnyPoolOptions::new()
            .max_connections(config.db_max_connections.max(1))
            .acquire_timeout(config.acquire_timeout())
            // A PostgreSQL connection broken by a server restart is found out and replaced. A
            // SQLite connection cannot break that way, and the test would cost every query
            // one more round trip to the connection's worker thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; FULL sync makes every
                        // answered write survive power loss; the busy timeout makes writers
                        // queue (also across processes) rather than fail.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute(synchronous).await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        let busy = format!("PRAGMA busy_timeout = {statement_timeout}");
                        conn.execute(sqlx::AssertSqlSafe(busy)).await?;
                    } else {
                        let timeout = format!("SET statement_timeout = {statement_timeout}");
                        conn.execute(sqlx::AssertSqlSafe(timeout)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to database {shown_url}"))?;
        let (writer, readers) = match backend {
            Backend::Sqlite => {
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&pool)
                        .await
                        .context("cannot read the SQLite database's file name")?;
                anyhow::ensure!(
                    !file.is_empty(),
                    "the SQLite database must be a file (an in-memory database is not shared \
                     between connections)"
                );
                // How long a writer waits for another process's write lock: as long as the
                // pool's connections do (their busy timeout).
                let busy_timeout = Duration::from_millis(statement_timeout);
                let path = std::path::Path::new(&file);
                let writer = lite::Lite::open(path, !sync_normal, busy_timeout)
                    .with_context(|| format!("cannot open {file} for writing"))?;
                let readers = lite::Readers::new(path, config.db_max_connections as usize);
                (
                    Some(std::sync::Arc::new(writer)),
                    Some(std::sync::Arc::new(readers)),
                )
            }
            Backend::Postgres => (None, None),
        };
        Ok(Self {
            pool,
            backend,
            writer,
            readers,
            memo: std::sync::Arc::new(memo::Memo::new()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// What this process answers from memory (see `memo`).
    pub fn memo(&self) -> &memo::Memo {
        &self.memo
    }

    /// Applies the versioned migrations of this backend that are not applied yet, then builds
    /// what the search index lacks (tickets written before it existed, or an interrupted
    /// build), before anything is served from it.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrate_schema().await?;
        if search::index::pending(self).await?.is_some() {
            tracing::info!("building the search index");
            search::index::run(self, |_| {}).await?;
        }
        Ok(())
    }

    /// Applies the versioned migrations only.
    pub async fn migrate_schema(&self) -> anyhow::Result<()> {
        let files = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = files
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&self.pool)
            .await
            .context("database migration failed")?;
        if self.backend == Backend::Sqlite {
            // SQLite's planner picks among indexes by their statistics; without them it took
            // the wide history index to count a customer's tickets instead of the narrow one.
            // Bounded sampling keeps this to milliseconds on a million tickets.
            let mut conn = self.pool.acquire().await?;
            conn.execute("PRAGMA analysis_limit = 1000").await?;
            conn.execute("PRAGMA optimize = 0x10002").await?;
            drop(conn);
            search::index::forget_statistics(self).await?;
        }
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a read-then-write cannot fail half-way with SQLITE_BUSY;
    /// PostgreSQL serialises through row locks taken by the statements themselves.
    pub async fn begin_write(&self) -> StoreResult<Tx> {
        self.begin().await
    }

    /// Begins a write to credentials or people (revocations, roles, activity, passwords): its
    /// commit bumps the credentials counter (see `tx`).
    pub async fn begin_credentials_change(&self) -> StoreResult<Tx<CredentialsChange>> {
        self.begin().await
    }

    /// Begins a write to categories or tags: its commit bumps the catalog counter.
    pub async fn begin_catalog_change(&self) -> StoreResult<Tx<CatalogChange>> {
        self.begin().await
    }

    async fn begin<K: Invalidates>(&self) -> StoreResult<Tx<K>> {
        let memo = std::sync::Arc::clone(&self.memo);
        match &self.writer {
            Some(lite) => Ok(Tx::new(Conn::Lite(lite.begin().await?), memo)),
            None => Ok(Tx::new(
                Conn::Tx(self.pool.begin_with("BEGIN").await?),
                memo,
            )),
        }
    }

    /// On SQLite: the write transactions committed by this process, and the commits that
    /// made them durable (group commit: fewer commits than transactions under load).
    pub fn write_totals(&self) -> Option<(u64, u64)> {
        self.writer.as_ref().map(|lite| lite.totals())
    }

    /// A connection for reads: on SQLite one of this process's own read connections, whose
    /// statements run on the calling task (see `lite`); on PostgreSQL one of the pool.
    pub async fn read(&self) -> StoreResult<Conn> {
        match &self.readers {
            Some(readers) => Ok(Conn::Read(readers.get().await?)),
            None => self.acquire().await,
        }
    }

    /// A connection of the pool, for the store's functions that take a `Conn`.
    pub async fn acquire(&self) -> StoreResult<Conn> {
        Ok(Conn::Pool(self.pool.acquire().await?))
    }

    /// `SELECT 1`: does the database answer?
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}
