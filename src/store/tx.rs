//! Write transactions, typed by what they change. A write to credentials or people, or to the
//! catalog, must make every server process forget what it remembers (`memo`); the kind of the
//! transaction carries that duty, so it cannot be forgotten: `Tx<CredentialsChange>` and
//! `Tx<CatalogChange>` commit only together with a bump of their counter (named in
//! `settings`), and this process forgets at once after the commit. The helpers that revoke or
//! change credentials take `&mut Tx<CredentialsChange>`, so they cannot run in a plain one.

use std::marker::PhantomData;
use std::sync::Arc;

use super::conn::Conn;
use super::memo::Memo;
use super::{StoreResult, settings};

/// What committing a kind of write invalidates.
pub trait Invalidates {
    /// The counter the commit bumps, in the same transaction.
    const COUNTER: Option<&'static str>;
    /// Makes this process forget at once, after the commit.
    fn forget(memo: &Memo);
}

/// A write nothing remembered depends on (tickets, conversations, settings).
pub struct Plain;
/// A write to credentials or people: keys, tokens, roles, activity, passwords.
pub struct CredentialsChange;
/// A write to categories or tags.
pub struct CatalogChange;

impl Invalidates for Plain {
    const COUNTER: Option<&'static str> = None;
    fn forget(_: &Memo) {}
}

impl Invalidates for CredentialsChange {
    const COUNTER: Option<&'static str> = Some(settings::AUTH_EPOCH);
    fn forget(memo: &Memo) {
        memo.auth_changed();
    }
}

impl Invalidates for CatalogChange {
    const COUNTER: Option<&'static str> = Some(settings::CATALOG_VERSION);
    fn forget(memo: &Memo) {
        memo.catalog_changed();
    }
}

/// A write transaction. On SQLite it holds this process's write connection (`lite`): the
/// process's writers queue for it in order in memory instead of spinning in SQLite's busy
/// handler, and each statement runs on the task that holds it. Other processes on the same
/// file meet at `BEGIN IMMEDIATE`.
pub struct Tx<K = Plain> {
    conn: Conn,
    memo: Arc<Memo>,
    kind: PhantomData<K>,
}

impl<K: Invalidates> Tx<K> {
    pub(super) fn new(conn: Conn, memo: Arc<Memo>) -> Self {
        Self {
            conn,
            memo,
            kind: PhantomData,
        }
    }

    /// Commits, with the bump of the kind's counter in the same transaction.
    pub async fn commit(mut self) -> StoreResult<()> {
        if let Some(counter) = K::COUNTER {
            settings::bump(&mut self.conn, counter).await?;
        }
        let Self { conn, memo, .. } = self;
        conn.commit().await?;
        K::forget(&memo);
        Ok(())
    }
}

impl<K> Tx<K> {
    /// Rolls back now (dropping also rolls back: at once on SQLite, and on PostgreSQL when the
    /// connection is next used).
    pub async fn rollback(self) -> StoreResult<()> {
        self.conn.rollback().await?;
        Ok(())
    }
}

impl Tx<Plain> {
    /// The same transaction, now also changing credentials: it will commit with their bump.
    pub fn into_credentials_change(self) -> Tx<CredentialsChange> {
        let Self { conn, memo, .. } = self;
        Tx::new(conn, memo)
    }
}

impl<K> std::ops::Deref for Tx<K> {
    type Target = Conn;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<K> std::ops::DerefMut for Tx<K> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}
