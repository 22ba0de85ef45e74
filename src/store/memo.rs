//! What a server process answers from memory instead of asking the database: live credentials
//! (API keys, access tokens with their person) and the active categories and tags.
//!
//! This module is a pure cache: it asks nothing of the database and calls nothing back.
//! Correctness rests on two counters in the `settings` table (named there), which every change
//! that could make a remembered answer wrong bumps in its own transaction: the kind of the
//! write transaction carries the bump (`store::tx`), so no write path can forget it. Each
//! serving process reads both every refresh interval (one indexed query,
//! `settings::spawn_refresh`) and hands them to [`Memo::observe`].
//! A process forgets what it remembered:
//! - at once when the change was made through the process itself (the store bumps the
//!   generation right after the commit);
//! - within one refresh interval when another process (a second server, the CLI) made it;
//! - and it stops answering from memory altogether when the counters could not be read for a
//!   few intervals (the database is unreachable), so a revocation is never missed for longer
//!   than that.
//!
//! Entries are tagged with the generation read *before* the database was asked, so an answer
//! read just before a change cannot be remembered as current after it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::catalog::{Catalog, CatalogEntry};
use crate::domain::people::{KeyScope, Person};

/// Above this many entries a map is emptied rather than grown (many distinct tokens in one
/// refresh interval is an attack or a very large desk; either way the database still answers).
const MAX_ENTRIES: usize = 100_000;

/// A person behind a live access token, when that token expires (micros), and the API key it
/// was signed in with (`None`: made on the command line, good with any key).
#[derive(Clone, Debug)]
pub struct LiveToken {
    pub person: Person,
    pub expires_at: i64,
    pub api_key_id: Option<i64>,
}

impl LiveToken {
    /// Whether the token may be presented with the key `key_id`.
    pub fn belongs_to(&self, key_id: i64) -> bool {
        self.api_key_id.is_none_or(|own| own == key_id)
    }
}

/// A live API key: its id and what it may reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveKey {
    pub id: i64,
    pub scope: KeyScope,
}

pub struct Memo {
    started: Instant,
    /// Milliseconds since `started` until which the counters count as fresh; 0: never read.
    fresh_until_ms: AtomicU64,
    auth_generation: AtomicU64,
    catalog_generation: AtomicU64,
    keys: Generational<String, LiveKey>,
    tokens: Generational<String, LiveToken>,
    categories: Generational<(), Arc<[CatalogEntry]>>,
    tags: Generational<(), Arc<[CatalogEntry]>>,
}

impl Default for Memo {
    fn default() -> Self {
        Self::new()
    }
}

impl Memo {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            fresh_until_ms: AtomicU64::new(0),
            auth_generation: AtomicU64::new(0),
            catalog_generation: AtomicU64::new(0),
            keys: Generational::default(),
            tokens: Generational::default(),
            categories: Generational::default(),
            tags: Generational::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The credentials generation, or `None` when memory may not be trusted now.
    pub fn auth_generation(&self) -> Option<u64> {
        self.fresh()
            .then(|| self.auth_generation.load(Ordering::Acquire))
    }

    /// The catalog generation, or `None` when memory may not be trusted now.
    pub fn catalog_generation(&self) -> Option<u64> {
        self.fresh()
            .then(|| self.catalog_generation.load(Ordering::Acquire))
    }

    fn fresh(&self) -> bool {
        self.now_ms() < self.fresh_until_ms.load(Ordering::Acquire)
    }

    /// Called after this process committed a change to credentials or people.
    pub fn auth_changed(&self) {
        self.auth_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Called after this process committed a change to categories or tags.
    pub fn catalog_changed(&self) {
        self.catalog_generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn key(&self, generation: Option<u64>, key_hash: &str) -> Option<LiveKey> {
        self.keys.get(generation?, key_hash)
    }

    pub fn remember_key(&self, generation: Option<u64>, key_hash: &str, key: LiveKey) {
        if let Some(generation) = generation {
            self.keys.put(generation, key_hash.to_owned(), key);
        }
    }

    /// The person of a live token presented with the key `key_id`; an expired token, or one
    /// signed in with another key, is not answered from memory.
    pub fn token(
        &self,
        generation: Option<u64>,
        token_hash: &str,
        key_id: i64,
        now: i64,
    ) -> Option<Person> {
        self.tokens
            .get(generation?, token_hash)
            .filter(|live| live.expires_at > now && live.belongs_to(key_id))
            .map(|live| live.person)
    }

    pub fn remember_token(&self, generation: Option<u64>, token_hash: &str, live: LiveToken) {
        if let Some(generation) = generation {
            self.tokens.put(generation, token_hash.to_owned(), live);
        }
    }

    fn list(&self, catalog: Catalog) -> &Generational<(), Arc<[CatalogEntry]>> {
        match catalog {
            Catalog::Categories => &self.categories,
            Catalog::Tags => &self.tags,
        }
    }

    /// The active entries of a list, when remembered for `generation`.
    pub fn catalog(
        &self,
        generation: Option<u64>,
        catalog: Catalog,
    ) -> Option<Arc<[CatalogEntry]>> {
        self.list(catalog).get(generation?, &())
    }

    pub fn remember_catalog(
        &self,
        generation: Option<u64>,
        catalog: Catalog,
        list: Arc<[CatalogEntry]>,
    ) {
        if let Some(generation) = generation {
            self.list(catalog).put(generation, (), list);
        }
    }

    /// Records the counters just read; a changed counter makes the generation move on.
    pub fn observe(
        &self,
        seen: &mut Seen,
        auth: Option<String>,
        catalog: Option<String>,
        fresh_for: Duration,
    ) {
        if seen.auth.as_ref() != Some(&auth) {
            if seen.auth.is_some() {
                self.auth_changed();
            }
            seen.auth = Some(auth);
        }
        if seen.catalog.as_ref() != Some(&catalog) {
            if seen.catalog.is_some() {
                self.catalog_changed();
            }
            seen.catalog = Some(catalog);
        }
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(fresh_for.as_millis()).unwrap_or(u64::MAX));
        self.fresh_until_ms.store(until, Ordering::Release);
    }
}

/// The counters as last read by the refresh task.
#[derive(Default)]
pub struct Seen {
    auth: Option<Option<String>>,
    catalog: Option<Option<String>>,
}

/// A map valid for one generation: entries from an older generation are never answered, and
/// the first write of a newer generation empties it.
struct Generational<K, V> {
    inner: RwLock<(u64, HashMap<K, V>)>,
}

impl<K, V> Default for Generational<K, V> {
    fn default() -> Self {
        Self {
            inner: RwLock::new((0, HashMap::new())),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Generational<K, V> {
    fn get<Q>(&self, generation: u64, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if inner.0 != generation {
            return None;
        }
        inner.1.get(key).cloned()
    }

    fn put(&self, generation: u64, key: K, value: V) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if generation < inner.0 {
            // Read before a change that is already known: not worth remembering.
            return;
        }
        if generation > inner.0 || inner.1.len() >= MAX_ENTRIES {
            inner.1.clear();
            inner.0 = generation;
        }
        inner.1.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_read_before_a_change_is_not_remembered_after_it() {
        let map: Generational<&str, i32> = Generational::default();
        map.put(1, "k", 1);
        assert_eq!(map.get(1, "k"), Some(1));
        // The generation moved on (a revocation): the old entry is not answered...
        assert_eq!(map.get(2, "k"), None);
        // ...and a write tagged with the old generation is dropped.
        map.put(1, "k", 1);
        assert_eq!(map.get(2, "k"), None);
        map.put(2, "k", 2);
        assert_eq!(map.get(2, "k"), Some(2));
    }

    #[test]
    fn memory_is_not_trusted_before_the_counters_were_read_or_after_they_went_stale() {
        let memo = Memo::new();
        assert_eq!(memo.auth_generation(), None);
        let mut seen = Seen::default();
        memo.observe(&mut seen, Some("1".into()), None, Duration::from_secs(60));
        let first = memo.auth_generation();
        assert!(first.is_some());
        // Another process bumped the counter: the generation moves.
        memo.observe(&mut seen, Some("2".into()), None, Duration::from_secs(60));
        assert_ne!(memo.auth_generation(), first);
        // A read that is already out of date trusts nothing.
        memo.observe(&mut seen, Some("2".into()), None, Duration::ZERO);
        assert_eq!(memo.auth_generation(), None);
    }
}
