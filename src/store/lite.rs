//! SQLite's write connection, driven in place (issue 16).
//!
//! sqlx-sqlite runs every statement on a worker thread of its connection and hands the answer
//! back through a channel: two context switches per statement. A write transaction held
//! SQLite's one write lock across those hand-offs and the async run queue, about 0.7 ms for
//! 0.1 ms of work, so the lock, not the disk, set the write rate. Here one connection of this
//! process writes, and each statement runs to completion on the task that holds it (a few
//! microseconds to a few hundred: SQLite's own work, nothing to wait for), so the lock is held
//! only for the work.
//!
//! The store's queries stay the same text on both backends: they reach this connection through
//! `Conn`'s implementation of sqlx's `Executor`, with sqlx's `Any` arguments and rows. This file
//! only translates: arguments into SQLite bindings, SQLite's values into `Any` values (by the
//! value's own type, as sqlx-sqlite does), SQLite's error codes into sqlx's database errors
//! (the extended code, as sqlx-sqlite reports it, so `StoreError` tells conflicts and busy
//! locks apart the same way).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{OpenFlags, ffi};
use sqlx_core::any::{
    AnyArguments, AnyColumn, AnyQueryResult, AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue,
    AnyValueKind,
};
use sqlx_core::ext::ustr::UStr;
use tokio::sync::{OwnedMutexGuard, watch};

/// Prepared statements kept per connection: the store has about a hundred distinct write
/// statements; the ones built for a number of values (`IN (…)` lists) vary, and the cache
/// evicts the least used.
const STATEMENT_CACHE: usize = 256;

/// What one statement produced.
pub struct Output {
    pub rows: Vec<AnyRow>,
    pub rows_affected: u64,
}

/// The most requests one commit makes durable, and the longest a batch stays open. A batch
/// grows while requests wait for the connection; the bounds keep its first member's wait for
/// the commit short.
const MAX_BATCH: usize = 64;
const MAX_BATCH_AGE: Duration = Duration::from_millis(4);

/// This process's write connection, shared by its writers.
pub struct Lite {
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// Writers waiting for the connection: while there are some, a finished transaction
    /// leaves its batch open for them instead of committing alone.
    waiting: AtomicUsize,
    next_batch: AtomicU64,
    busy_timeout: Duration,
    totals: Arc<Totals>,
}

/// Transactions kept (committed) and the commits that made them durable: their ratio is the
/// mean batch size.
#[derive(Default)]
struct Totals {
    kept: AtomicU64,
    commits: AtomicU64,
}

/// The write connection and the batch of transactions open on it.
pub struct Writer {
    conn: rusqlite::Connection,
    batch: Option<Batch>,
    totals: Arc<Totals>,
}

/// One SQLite transaction shared by the requests that ran while others waited (group commit):
/// each request runs in a savepoint of its own, so one request's failure undoes only its own
/// changes; one `COMMIT` (one fsync) makes them all durable, and each request answers only
/// after it.
struct Batch {
    id: u64,
    began: Instant,
    /// Members that released their savepoint and wait for the commit.
    kept: usize,
    outcome: watch::Sender<Option<Outcome>>,
}

/// How a batch ended, for each of its members: the commit's error, if it failed.
type Outcome = Result<(), (i32, String)>;

/// One request's transaction: its savepoint in the open batch, and the connection while the
/// request holds it.
pub struct LiteTx {
    writer: Option<OwnedMutexGuard<Writer>>,
    lite: Arc<Lite>,
}

/// Counts a writer as waiting while it waits (also if its request is cancelled meanwhile).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lite {
    /// Opens the database file the pool uses. The pool has created it and set WAL (a property
    /// of the file); `synchronous` and foreign keys are per connection. No busy timeout: SQLite
    /// would wait for another process's lock by sleeping on this thread, which is a runtime
    /// worker; `begin` waits asynchronously instead, up to `busy_timeout`.
    pub fn open(
        path: &Path,
        synchronous_full: bool,
        busy_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let totals = Arc::new(Totals::default());
        let writer = Writer::open(path, synchronous_full, Arc::clone(&totals))?;
        Ok(Self {
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            waiting: AtomicUsize::new(0),
            next_batch: AtomicU64::new(1),
            busy_timeout,
            totals,
        })
    }

    /// Write transactions committed, and the commits (fsyncs) that made them durable.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.totals.kept.load(Ordering::Relaxed),
            self.totals.commits.load(Ordering::Relaxed),
        )
    }

    /// Begins a request's transaction: joins the open batch, or begins one.
    pub async fn begin(self: &Arc<Self>) -> Result<LiteTx, sqlx::Error> {
        let mut writer = {
            let _waiting = Waiting::enter(&self.waiting);
            Arc::clone(&self.writer).lock_owned().await
        };
        if writer.batch.is_none() {
            writer.begin(self.busy_timeout).await?;
            let (outcome, _) = watch::channel(None);
            writer.batch = Some(Batch {
                id: self.next_batch.fetch_add(1, Ordering::Relaxed),
                began: Instant::now(),
                kept: 0,
                outcome,
            });
        }
        if let Err(err) = writer.conn.execute_batch("SAVEPOINT request") {
            let err = error(err);
            let _ = writer.end_batch(Err(&err));
            return Err(err);
        }
        Ok(LiteTx {
            writer: Some(writer),
            lite: Arc::clone(self),
        })
    }

    /// Ends batch `id` if it is still open once this task has the connection: the member that
    /// left it open for the writers then waiting is answered when they are done, or now.
    fn spawn_committer(self: &Arc<Self>, id: u64) {
        let lite = Arc::clone(self);
        let commit = async move {
            let mut writer = lite.writer.lock().await;
            if writer.batch.as_ref().is_some_and(|batch| batch.id == id) {
                let _ = writer.end_batch(Ok(()));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(commit);
            }
            // No runtime (the process is ending): nobody else will end it either.
            Err(_) => {
                if let Ok(mut writer) = self.writer.try_lock() {
                    let _ = writer.end_batch(Ok(()));
                }
            }
        }
    }
}

impl LiteTx {
    pub(super) fn writer(&mut self) -> Result<&mut Writer, sqlx::Error> {
        self.writer
            .as_deref_mut()
            .ok_or_else(|| protocol("the write transaction has ended".to_owned()))
    }

    /// Keeps this request's changes and answers once they are durable: at once when no other
    /// writer waits (or the batch is full), else when the batch commits.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let Some(mut writer) = self.writer.take() else {
            return Err(protocol("the write transaction has ended".to_owned()));
        };
        if let Err(err) = writer.conn.execute_batch("RELEASE request") {
            let err = error(err);
            let _ = writer.end_batch(Err(&err));
            return Err(err);
        }
        let Some(batch) = writer.batch.as_mut() else {
            return Err(protocol("the write transaction has ended".to_owned()));
        };
        batch.kept += 1;
        if self.lite.waiting.load(Ordering::SeqCst) == 0
            || batch.kept >= MAX_BATCH
            || batch.began.elapsed() >= MAX_BATCH_AGE
        {
            return writer.end_batch(Ok(())).map_err(rebuild);
        }
        let mut outcome = batch.outcome.subscribe();
        let id = batch.id;
        drop(writer);
        self.lite.spawn_committer(id);
        let ended = outcome.wait_for(Option::is_some).await;
        match ended.as_deref() {
            Ok(Some(outcome)) => outcome.clone().map_err(rebuild),
            _ => Err(protocol(
                "the write batch ended without an outcome".to_owned(),
            )),
        }
    }

    /// Undoes this request's changes, and only them.
    pub fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.abandon()
    }

    fn abandon(&mut self) -> Result<(), sqlx::Error> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        if let Err(err) = writer
            .conn
            .execute_batch("ROLLBACK TO request; RELEASE request")
        {
            let err = error(err);
            let _ = writer.end_batch(Err(&err));
            return Err(err);
        }
        let Some(batch) = writer.batch.as_ref() else {
            return Ok(());
        };
        if self.lite.waiting.load(Ordering::SeqCst) == 0 {
            writer.end_batch(Ok(())).map_err(rebuild)
        } else {
            // Writers wait: the next one continues the batch; the committer ends it should
            // none of them do.
            let id = batch.id;
            drop(writer);
            self.lite.spawn_committer(id);
            Ok(())
        }
    }
}

/// A transaction dropped without commit (an early `?`, a cancelled request) is undone before
/// the next writer gets the connection.
impl Drop for LiteTx {
    fn drop(&mut self) {
        if let Err(err) = self.abandon() {
            tracing::warn!(error = %err, "rolling back an abandoned write transaction failed");
        }
    }
}

impl Writer {
    fn open(path: &Path, synchronous_full: bool, totals: Arc<Totals>) -> Result<Self, sqlx::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 0;"
        ))
        .map_err(error)?;
        Ok(Self {
            conn,
            batch: None,
            totals,
        })
    }

    /// `BEGIN IMMEDIATE`: takes the write lock at once, so that a read-then-write cannot fail
    /// half-way. Another process holding the lock (the command line, a second server on the
    /// same file) is waited for without blocking the thread, until `timeout`.
    async fn begin(&mut self, timeout: Duration) -> Result<(), sqlx::Error> {
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_micros(500);
        loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => return Ok(()),
                Err(err) if is_busy(&err) && Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(err) => return Err(error(err)),
            }
        }
    }

    /// Ends the open batch: commits it (or, after `failed`, rolls it back) and tells every
    /// member that waits how it ended. A failed commit is rolled back, so the connection is
    /// clean for the next writer either way.
    fn end_batch(&mut self, failed: Result<(), &sqlx::Error>) -> Outcome {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let outcome = match failed {
            Ok(()) if batch.kept > 0 => self.conn.execute_batch("COMMIT").map_err(|err| {
                let err = error(err);
                (code_of(&err), err.to_string())
            }),
            Ok(()) => self.conn.execute_batch("ROLLBACK").map_err(|err| {
                let err = error(err);
                (code_of(&err), err.to_string())
            }),
            Err(err) => Err((code_of(err), err.to_string())),
        };
        if outcome.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if outcome.is_ok() && batch.kept > 0 {
            self.totals
                .kept
                .fetch_add(batch.kept as u64, Ordering::Relaxed);
            self.totals.commits.fetch_add(1, Ordering::Relaxed);
        }
        batch.outcome.send_replace(Some(outcome.clone()));
        outcome
    }

    /// Runs one statement of the open transaction.
    pub fn run(
        &mut self,
        sql: &str,
        arguments: Option<AnyArguments>,
        limit: Option<usize>,
    ) -> Result<Output, sqlx::Error> {
        run(&self.conn, sql, arguments, limit)
    }
}

/// Distinct statement texts whose parameter positions a thread keeps (texts built at run time,
/// a batch's `VALUES` list for one, each count as one); past it the map starts again.
const POSITIONS_KEPT: usize = 1024;

thread_local! {
    /// Each statement text's parameter positions, worked out once per thread (see `positions`).
    static POSITIONS: std::cell::RefCell<HashMap<Box<str>, Arc<[usize]>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// For each parameter of `statement`, in order, the number of the argument it takes: `$N`
/// names the N-th argument wherever it stands (and may stand twice); a bare `?` takes the
/// argument of its position. Kept per statement text because SQLite looks a parameter's name up
/// by walking the list of all of them (`sqlite3VListNumToName`): asked for every parameter of
/// every run, that is quadratic in the count: with the notification batches' inserts of
/// hundreds of arguments it was 2.9 % of the server's CPU (bench/README, "Notifications on").
fn positions(sql: &str, statement: &rusqlite::Statement<'_>) -> Result<Arc<[usize]>, sqlx::Error> {
    if let Some(found) = POSITIONS.with_borrow(|kept| kept.get(sql).cloned()) {
        return Ok(found);
    }
    let mut positions = Vec::with_capacity(statement.parameter_count());
    for index in 1..=statement.parameter_count() {
        positions.push(match statement.parameter_name(index) {
            Some(name) => name[1..]
                .parse::<usize>()
                .map_err(|_| protocol(format!("unsupported parameter {name}")))?,
            None => index,
        });
    }
    let positions: Arc<[usize]> = positions.into();
    POSITIONS.with_borrow_mut(|kept| {
        if kept.len() >= POSITIONS_KEPT {
            kept.clear();
        }
        kept.insert(sql.into(), Arc::clone(&positions));
    });
    Ok(positions)
}

/// Runs one statement (or, without arguments, a script of several) and returns its rows, at
/// most `limit` of them.
fn run(
    conn: &rusqlite::Connection,
    sql: &str,
    arguments: Option<AnyArguments>,
    limit: Option<usize>,
) -> Result<Output, sqlx::Error> {
    {
        let mut statement = match conn.prepare_cached(sql) {
            Ok(statement) => statement,
            Err(rusqlite::Error::MultipleStatement) if arguments.is_none() => {
                conn.execute_batch(sql).map_err(error)?;
                return Ok(Output {
                    rows: Vec::new(),
                    rows_affected: conn.changes(),
                });
            }
            Err(err) => return Err(error(err)),
        };
        let values = arguments.map(|a| a.values.0).unwrap_or_default();
        let positions = positions(sql, &statement)?;
        for (index, &position) in (1..).zip(positions.iter()) {
            let value = position
                .checked_sub(1)
                .and_then(|i| values.get(i))
                .ok_or_else(|| {
                    protocol(format!(
                        "parameter ${position} has no argument ({} given)",
                        values.len()
                    ))
                })?;
            statement
                .raw_bind_parameter(index, binding(value)?)
                .map_err(error)?;
        }
        let count = statement.column_count();
        let mut names = sqlx_core::HashMap::default();
        let mut columns = Vec::with_capacity(count);
        for ordinal in 0..count {
            let name = statement.column_name(ordinal).map_err(error)?;
            let name = UStr::new(name);
            names.insert(name.clone(), ordinal);
            columns.push(AnyColumn {
                ordinal,
                name,
                type_info: AnyTypeInfo {
                    kind: AnyTypeInfoKind::Null,
                },
            });
        }
        let names = Arc::new(names);
        let mut rows = Vec::new();
        let mut cursor = statement.raw_query();
        while limit.is_none_or(|limit| rows.len() < limit) {
            let Some(row) = cursor.next().map_err(error)? else {
                break;
            };
            let mut values = Vec::with_capacity(count);
            for ordinal in 0..count {
                values.push(AnyValue {
                    kind: value(row.get_ref(ordinal).map_err(error)?)?,
                });
            }
            let mut columns = columns.clone();
            for (column, value) in columns.iter_mut().zip(&values) {
                column.type_info = kind_of(&value.kind);
            }
            rows.push(AnyRow {
                column_names: Arc::clone(&names),
                columns,
                values,
            });
        }
        drop(cursor);
        Ok(Output {
            rows,
            rows_affected: if statement.readonly() {
                0
            } else {
                conn.changes()
            },
        })
    }
}

/// Connections for reads, each used by one task at a time, its statements run on that task
/// like the writer's (no hand-off to a worker thread per statement). WAL lets them read beside
/// the writer; each sees the last commit as of its statement's start.
pub struct Readers {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// A read connection while a task holds it; back to the idle list when dropped.
pub struct ReadConn {
    conn: Option<rusqlite::Connection>,
    readers: Arc<Readers>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Readers {
    /// At most `size` connections, opened as needed.
    pub fn new(path: &Path, size: usize) -> Self {
        Self {
            path: path.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(size.max(1))),
        }
    }

    pub async fn get(self: &Arc<Self>) -> Result<ReadConn, sqlx::Error> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        Ok(ReadConn {
            conn: Some(conn),
            readers: Arc::clone(self),
            _permit: permit,
        })
    }

    fn open(&self) -> Result<rusqlite::Connection, sqlx::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // `query_only`: a write through a reader would escape the writer's order and its
        // group commit; SQLite refuses it instead.
        conn.execute_batch("PRAGMA query_only = 1; PRAGMA busy_timeout = 1000;")
            .map_err(error)?;
        Ok(conn)
    }
}

impl ReadConn {
    pub fn run(
        &mut self,
        sql: &str,
        arguments: Option<AnyArguments>,
        limit: Option<usize>,
    ) -> Result<Output, sqlx::Error> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| protocol("the read connection is gone".to_owned()))?;
        run(conn, sql, arguments, limit)
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Ok(mut idle) = self.readers.idle.lock()
        {
            idle.push(conn);
        }
    }
}

impl Output {
    pub fn result(&self) -> AnyQueryResult {
        AnyQueryResult {
            rows_affected: self.rows_affected,
            last_insert_id: None,
        }
    }
}

/// At the end of the process, whatever is open is rolled back: nobody was answered for it.
impl Drop for Writer {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn binding(value: &AnyValueKind) -> Result<ToSqlOutput<'_>, sqlx::Error> {
    Ok(match value {
        AnyValueKind::Null(_) => ToSqlOutput::Owned(Value::Null),
        AnyValueKind::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
        AnyValueKind::SmallInt(i) => ToSqlOutput::Owned(Value::Integer(i64::from(*i))),
        AnyValueKind::Integer(i) => ToSqlOutput::Owned(Value::Integer(i64::from(*i))),
        AnyValueKind::BigInt(i) => ToSqlOutput::Owned(Value::Integer(*i)),
        AnyValueKind::Real(r) => ToSqlOutput::Owned(Value::Real(f64::from(*r))),
        AnyValueKind::Double(d) => ToSqlOutput::Owned(Value::Real(*d)),
        AnyValueKind::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        AnyValueKind::TextSlice(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
        AnyValueKind::Blob(blob) => ToSqlOutput::Borrowed(ValueRef::Blob(blob)),
        other => return Err(protocol(format!("unsupported argument {other:?}"))),
    })
}

/// A value by its own storage class, as sqlx-sqlite maps it (integers are `BigInt`).
fn value(value: ValueRef<'_>) -> Result<AnyValueKind, sqlx::Error> {
    Ok(match value {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(f) => AnyValueKind::Double(f),
        ValueRef::Text(text) => AnyValueKind::Text(Arc::new(
            std::str::from_utf8(text)
                .map_err(|err| sqlx::Error::Decode(err.into()))?
                .to_owned(),
        )),
        ValueRef::Blob(blob) => AnyValueKind::Blob(Arc::new(blob.to_vec())),
    })
}

fn kind_of(value: &AnyValueKind) -> AnyTypeInfo {
    AnyTypeInfo {
        kind: match value {
            AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
            AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
            AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
            AnyValueKind::Blob(_) => AnyTypeInfoKind::Blob,
            _ => AnyTypeInfoKind::Null,
        },
    }
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked)
    )
}

/// The code a failed batch reports to each member (SQLite's extended code where it had one).
fn code_of(err: &sqlx::Error) -> i32 {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse().ok())
            .unwrap_or(ffi::SQLITE_ERROR),
        _ => ffi::SQLITE_ERROR,
    }
}

/// A batch's failure as each member's error.
fn rebuild((code, message): (i32, String)) -> sqlx::Error {
    sqlx::Error::Database(Box::new(LiteError { code, message }))
}

fn protocol(message: String) -> sqlx::Error {
    sqlx::Error::AnyDriverError(message.into())
}

/// SQLite's failures as sqlx's database errors, with the extended code (what sqlx-sqlite
/// reports); everything else as a driver error.
fn error(err: rusqlite::Error) -> sqlx::Error {
    match err {
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(LiteError {
                code: failure.extended_code,
                message: message.unwrap_or_else(|| failure.to_string()),
            }))
        }
        other => sqlx::Error::AnyDriverError(Box::new(other)),
    }
}

#[derive(Debug)]
struct LiteError {
    code: i32,
    message: String,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Arguments, Row};

    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

    fn writer() -> TestResult<(tempfile::TempDir, Writer)> {
        let dir = tempfile::tempdir()?;
        let writer = Writer::open(&dir.path().join("w.db"), true, Arc::default())?;
        Ok((dir, writer))
    }

    fn args(values: &[&dyn Fn(&mut AnyArguments) -> TestResult]) -> TestResult<AnyArguments> {
        let mut a = AnyArguments::default();
        for add in values {
            add(&mut a)?;
        }
        Ok(a)
    }

    #[test]
    fn binds_by_number_and_reads_values_by_their_type() -> TestResult {
        let (_dir, mut w) = writer()?;
        w.run(
            "CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB)",
            None,
            None,
        )?;
        let out = w.run(
            "INSERT INTO t (b, a, c, d) VALUES ($2, $1, $3, $4) RETURNING a, b, c, d",
            Some(args(&[
                &|a| a.add(7_i64),
                &|a| a.add("x'y"),
                &|a| a.add(1.5_f64),
                &|a| a.add(vec![0_u8, 1]),
            ])?),
            None,
        )?;
        assert_eq!(out.rows.len(), 1);
        assert_eq!(out.rows_affected, 1);
        let row = &out.rows[0];
        assert_eq!(row.try_get::<i64, _>("a")?, 7);
        assert_eq!(row.try_get::<String, _>("b")?, "x'y");
        assert_eq!(row.try_get::<f64, _>("c")?, 1.5);
        assert_eq!(row.try_get::<Vec<u8>, _>("d")?, vec![0, 1]);
        let none = w.run(
            "SELECT a FROM t WHERE a = $1",
            Some(args(&[&|a| a.add(8_i64)])?),
            None,
        )?;
        assert!(none.rows.is_empty());
        assert_eq!(none.rows_affected, 0);
        let updated = w.run(
            "UPDATE t SET b = NULL WHERE a = $1",
            Some(args(&[&|a| a.add(7_i64)])?),
            None,
        )?;
        assert_eq!(updated.rows_affected, 1);
        let row = w.run("SELECT b FROM t", None, Some(1))?;
        assert_eq!(row.rows[0].try_get::<Option<String>, _>("b")?, None);
        // The same text again (its positions now kept): each run binds its own arguments, and
        // `$1` standing twice takes the first argument both times.
        for (a, b) in [(3_i64, "three"), (4, "four")] {
            let out = w.run(
                "SELECT $2 AS b, $1 AS a, $1 + $1 AS twice",
                Some(args(&[&move |x| x.add(a), &move |x| x.add(b)])?),
                None,
            )?;
            let row = &out.rows[0];
            assert_eq!(row.try_get::<String, _>("b")?, b);
            assert_eq!(row.try_get::<i64, _>("a")?, a);
            assert_eq!(row.try_get::<i64, _>("twice")?, 2 * a);
        }
        Ok(())
    }

    #[test]
    fn a_unique_violation_is_reported_as_sqlx_does() -> TestResult {
        let (_dir, mut w) = writer()?;
        w.run(
            "CREATE TABLE u (a INTEGER PRIMARY KEY, b TEXT UNIQUE)",
            None,
            None,
        )?;
        w.run("INSERT INTO u (b) VALUES ('x')", None, None)?;
        match w.run("INSERT INTO u (b) VALUES ('x')", None, None) {
            Err(sqlx::Error::Database(db)) => {
                assert!(db.is_unique_violation(), "{db}");
                assert_eq!(db.code().as_deref(), Some("2067"));
            }
            Err(other) => return Err(format!("unexpected {other:?}").into()),
            Ok(_) => return Err("no conflict".into()),
        }
        Ok(())
    }

    #[test]
    fn a_missing_argument_is_an_error_not_a_null() -> TestResult {
        let (_dir, mut w) = writer()?;
        let answer = w.run("SELECT $1, $2", Some(args(&[&|a| a.add(1_i64)])?), None);
        assert!(answer.is_err());
        Ok(())
    }

    #[test]
    fn a_reader_cannot_write() -> TestResult {
        let (dir, mut w) = writer()?;
        w.run("CREATE TABLE t (a INTEGER)", None, None)?;
        let readers = Readers::new(&dir.path().join("w.db"), 1);
        let conn = readers.open()?;
        assert!(run(&conn, "INSERT INTO t VALUES (1)", None, None).is_err());
        assert!(run(&conn, "SELECT count(*) FROM t", None, None).is_ok());
        Ok(())
    }

    /// Many writers at once: they share commits (fewer commits than transactions), each sees
    /// the ones kept before it, and one that gives up undoes only its own row.
    #[test]
    fn writers_that_wait_together_commit_together_and_fail_alone() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("g.db");
        let lite = Arc::new(Lite::open(&path, true, Duration::from_secs(5))?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async {
            let mut tx = lite.begin().await?;
            tx.writer()?.run(
                "CREATE TABLE t (n INTEGER PRIMARY KEY, seen INTEGER)",
                None,
                None,
            )?;
            tx.commit().await?;
            let mut tasks = Vec::new();
            for n in 0..200_i64 {
                let lite = Arc::clone(&lite);
                tasks.push(tokio::spawn(async move {
                    let mut tx = lite.begin().await?;
                    let mut a = AnyArguments::default();
                    a.add(n)?;
                    tx.writer()?.run(
                        "INSERT INTO t (n, seen) SELECT $1, count(*) FROM t",
                        Some(a),
                        None,
                    )?;
                    tokio::task::yield_now().await;
                    if n % 5 == 0 {
                        drop(tx);
                        Ok::<bool, Box<dyn std::error::Error + Send + Sync>>(false)
                    } else {
                        tx.commit().await?;
                        Ok(true)
                    }
                }));
            }
            let mut kept = 0;
            for task in tasks {
                if task.await?? {
                    kept += 1;
                }
            }
            assert_eq!(kept, 160);
            let mut tx = lite.begin().await?;
            let out = tx.writer()?.run(
                "SELECT count(*) AS c, sum(n % 5 = 0) AS dropped,
                        count(DISTINCT seen) AS seen FROM t",
                None,
                None,
            )?;
            assert_eq!(out.rows[0].try_get::<i64, _>("c")?, 160);
            assert_eq!(out.rows[0].try_get::<i64, _>("dropped")?, 0);
            // Every kept row saw a different number of rows before it: none ran beside another.
            assert_eq!(out.rows[0].try_get::<i64, _>("seen")?, 160);
            tx.rollback()?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })?;
        let (kept, commits) = lite.totals();
        assert_eq!(kept, 161);
        assert!(commits < kept, "{commits} commits for {kept} transactions");
        Ok(())
    }

    #[test]
    fn a_dropped_transaction_is_rolled_back() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("r.db");
        let lite = Arc::new(Lite::open(&path, true, Duration::from_secs(1))?);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        rt.block_on(async {
            let mut tx = lite.begin().await?;
            tx.writer()?.run("CREATE TABLE t (a INTEGER)", None, None)?;
            tx.commit().await?;
            let mut tx = lite.begin().await?;
            tx.writer()?.run("INSERT INTO t VALUES (1)", None, None)?;
            drop(tx);
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })?;
        let check = rusqlite::Connection::open(&path)?;
        let n: i64 = check.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 0);
        Ok(())
    }
}
