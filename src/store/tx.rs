//! Write transactions, typed by what they change. A write to credentials or people, or to the
//! catalog, must make every server process forget what it remembers (`memo`); the kind of the
//! transaction carries that duty, so it cannot be forgotten: `Tx<CredentialsChange>` and
//! `Tx<CatalogChange>` commit only together with a bump of their counter (named in
//! `settings`), and this process forgets at once after the commit. The helpers that revoke or
//! change credentials take `&mut Tx<CredentialsChange>`, so they cannot run in a plain one.

use std::marker::PhantomData;
use std::sync::Arc;

use sqlx::Transaction;

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

/// A write transaction. On SQLite it also holds this process's write gate, so that the
/// process's writers queue in order in memory instead of spinning in SQLite's busy handler
/// (whose back-off sleeps are what made write latency's tail long). Other processes on the same
/// file still meet at `BEGIN IMMEDIATE` and the busy timeout.
pub struct Tx<K = Plain> {
    // Field order matters: the transaction ends (commit or rollback) before the gate opens.
    tx: Transaction<'static, sqlx::Any>,
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    memo: Arc<Memo>,
    kind: PhantomData<K>,
}

impl<K: Invalidates> Tx<K> {
    pub(super) fn new(
        tx: Transaction<'static, sqlx::Any>,
        gate: Option<tokio::sync::OwnedMutexGuard<()>>,
        memo: Arc<Memo>,
    ) -> Self {
        Self {
            tx,
            gate,
            memo,
            kind: PhantomData,
        }
    }

    /// Commits, with the bump of the kind's counter in the same transaction.
    pub async fn commit(mut self) -> StoreResult<()> {
        if let Some(counter) = K::COUNTER {
            settings::bump(&mut self.tx, counter).await?;
        }
        let Self { tx, gate, memo, .. } = self;
        tx.commit().await?;
        drop(gate);
        K::forget(&memo);
        Ok(())
    }
}

impl<K> Tx<K> {
    /// Rolls back now, before the write gate opens (dropping also rolls back, but only when
    /// the connection is next used; a writer waiting for the gate would meet the lock).
    pub async fn rollback(self) -> StoreResult<()> {
        let Self { tx, gate, .. } = self;
        tx.rollback().await?;
        drop(gate);
        Ok(())
    }
}

impl Tx<Plain> {
    /// The same transaction, now also changing credentials: it will commit with their bump.
    pub fn into_credentials_change(self) -> Tx<CredentialsChange> {
        let Self { tx, gate, memo, .. } = self;
        Tx::new(tx, gate, memo)
    }
}

impl<K> std::ops::Deref for Tx<K> {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<K> std::ops::DerefMut for Tx<K> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
