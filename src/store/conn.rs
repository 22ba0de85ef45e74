//! One connection type for the store's functions, whatever runs the statements: a connection of
//! sqlx's pool, a sqlx transaction (PostgreSQL), or SQLite's write connection in this process
//! (`lite`). Every `&mut Conn` is a sqlx `Executor` of the `Any` driver, so a query is written
//! once and runs on any of them.

use super::lite::{LiteTx, Output, ReadConn};
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};
use sqlx::any::{AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Either, Execute, Executor, Transaction};
use sqlx_core::sql_str::SqlStr;

pub enum Conn {
    /// A connection of the pool: reads, and writes that need no transaction.
    Pool(PoolConnection<Any>),
    /// A transaction through sqlx (PostgreSQL).
    Tx(Transaction<'static, Any>),
    /// SQLite's write connection, held by this task, with a transaction open on it.
    Lite(LiteTx),
    /// One of SQLite's read connections of this process, held by this task.
    Read(ReadConn),
}

impl Conn {
    /// The backend's name, as sqlx's `AnyConnection::backend_name` gives it.
    pub fn backend_name(&self) -> &str {
        match self {
            Self::Pool(conn) => conn.backend_name(),
            Self::Tx(tx) => tx.backend_name(),
            Self::Lite(_) | Self::Read(_) => "SQLite",
        }
    }

    /// Commits the transaction, if this is one.
    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Pool(_) | Self::Read(_) => Ok(()),
            Self::Tx(tx) => tx.commit().await,
            Self::Lite(lite) => lite.commit().await,
        }
    }

    /// Rolls the transaction back, if this is one.
    pub(super) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Pool(_) | Self::Read(_) => Ok(()),
            Self::Tx(tx) => tx.rollback().await,
            Self::Lite(lite) => lite.rollback(),
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pool(_) => "Conn::Pool",
            Self::Tx(_) => "Conn::Tx",
            Self::Lite(_) => "Conn::Lite",
            Self::Read(_) => "Conn::Read",
        })
    }
}

/// Runs a query on one of SQLite's connections of this process, now: the statement is
/// SQLite's work alone, with nothing to wait for, so it runs on this task instead of a worker
/// thread.
fn run<'q, E: Execute<'q, Any>>(
    conn: &mut Conn,
    mut query: E,
    limit: Option<usize>,
) -> Result<Output, sqlx::Error> {
    let arguments = query.take_arguments().map_err(sqlx::Error::Encode)?;
    let sql = query.sql();
    match conn {
        Conn::Lite(lite) => lite.writer()?.run(sql.as_str(), arguments, limit),
        Conn::Read(read) => read.run(sql.as_str(), arguments, limit),
        Conn::Pool(_) | Conn::Tx(_) => Err(sqlx::Error::AnyDriverError(
            "not one of SQLite's own connections".into(),
        )),
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Conn::Pool(conn) => (&mut **conn).fetch_many(query),
            Conn::Tx(tx) => (&mut **tx).fetch_many(query),
            lite @ (Conn::Lite(_) | Conn::Read(_)) => match run(lite, query, None) {
                Ok(output) => {
                    let result = output.result();
                    let rows = output.rows.into_iter().map(|row| Ok(Either::Right(row)));
                    futures_util::stream::iter(rows.chain([Ok(Either::Left(result))])).boxed()
                }
                Err(err) => futures_util::stream::once(async move { Err(err) }).boxed(),
            },
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self {
            Conn::Pool(conn) => (&mut **conn).fetch_optional(query),
            Conn::Tx(tx) => (&mut **tx).fetch_optional(query),
            lite @ (Conn::Lite(_) | Conn::Read(_)) => {
                let row = run(lite, query, Some(1)).map(|o| o.rows.into_iter().next());
                futures_util::future::ready(row).boxed()
            }
        }
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        match self {
            Conn::Pool(conn) => (&mut **conn).prepare_with(sql, parameters),
            Conn::Tx(tx) => (&mut **tx).prepare_with(sql, parameters),
            // Nothing in the store prepares explicitly; the write connection caches its
            // statements itself.
            Conn::Lite(_) | Conn::Read(_) => {
                futures_util::future::ready(Err(sqlx::Error::AnyDriverError(
                    "explicit statements are not supported on SQLite's write connection".into(),
                )))
                .boxed()
            }
        }
    }
}
