//! Cached `COUNT(*)` results for offset pagination, invalidated when writes change them and
//! bounded in number and age: clients choose the filters, so each distinct one is an entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many counts are kept; a new one evicts the expired ones, else the oldest.
pub const MAX_ENTRIES: usize = 1024;
/// A count older than this is counted again (as in the Python design): a write by another
/// process on the same database file does not invalidate this cache.
pub const TTL: Duration = Duration::from_secs(300);

type Key = (&'static str, String);

/// Counts per table and filter, e.g. `("books", "author_id=3")`, with when they were counted.
#[derive(Debug)]
pub struct CountCache {
    counts: Mutex<HashMap<Key, (u64, Instant)>>,
    max_entries: usize,
    ttl: Duration,
}

impl Default for CountCache {
    fn default() -> Self {
        Self::new(MAX_ENTRIES, TTL)
    }
}

impl CountCache {
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self {
            counts: Mutex::default(),
            max_entries,
            ttl,
        }
    }

    pub fn get(&self, table: &'static str, filter: &str) -> Option<u64> {
        self.get_at(table, filter, Instant::now())
    }

    pub fn put(&self, table: &'static str, filter: String, count: u64) {
        self.put_at(table, filter, count, Instant::now());
    }

    /// Forgets every count of `table` (after a create or delete, or an update that can move a
    /// row between filters).
    pub fn invalidate(&self, table: &'static str) {
        self.lock().retain(|(t, _), _| *t != table);
    }

    /// Counts held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// [`get`](Self::get) at a given time (the tests pass the clock).
    fn get_at(&self, table: &'static str, filter: &str, now: Instant) -> Option<u64> {
        let mut counts = self.lock();
        let key = (table, filter.to_owned());
        let &(count, at) = counts.get(&key)?;
        if now.saturating_duration_since(at) < self.ttl {
            return Some(count);
        }
        counts.remove(&key);
        None
    }

    /// [`put`](Self::put) at a given time (the tests pass the clock).
    fn put_at(&self, table: &'static str, filter: String, count: u64, now: Instant) {
        if self.max_entries == 0 {
            return;
        }
        let mut counts = self.lock();
        let key = (table, filter);
        if counts.len() >= self.max_entries && !counts.contains_key(&key) {
            counts.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.ttl);
            if counts.len() >= self.max_entries {
                let oldest = counts
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(key, _)| key.clone());
                if let Some(oldest) = oldest {
                    counts.remove(&oldest);
                }
            }
        }
        counts.insert(key, (count, now));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u64, Instant)>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_count_expires_after_the_ttl() {
        let cache = CountCache::default();
        let t0 = Instant::now();
        cache.put_at("books", "all".into(), 4, t0);
        assert_eq!(cache.get_at("books", "all", t0 + TTL - SECOND), Some(4));
        assert_eq!(cache.get_at("books", "all", t0 + TTL), None);
        assert_eq!(cache.len(), 0, "an expired count is dropped when read");
    }

    #[test]
    fn a_full_cache_evicts_the_oldest_count() {
        let cache = CountCache::new(3, TTL);
        let t0 = Instant::now();
        for (i, filter) in (0..).zip(["a", "b", "c", "d"]) {
            cache.put_at("books", filter.into(), 1, t0 + SECOND * i);
        }
        assert_eq!(cache.len(), 3);
        let now = t0 + 4 * SECOND;
        assert_eq!(cache.get_at("books", "a", now), None, "the oldest went");
        for filter in ["b", "c", "d"] {
            assert_eq!(cache.get_at("books", filter, now), Some(1), "{filter}");
        }
        // Refreshing a count already held evicts nothing.
        cache.put_at("books", "b".into(), 2, now);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn a_full_cache_drops_every_expired_count_first() {
        let cache = CountCache::new(3, 10 * SECOND);
        let t0 = Instant::now();
        cache.put_at("books", "a".into(), 1, t0);
        cache.put_at("books", "b".into(), 1, t0 + SECOND);
        cache.put_at("books", "c".into(), 1, t0 + 8 * SECOND);
        cache.put_at("books", "d".into(), 1, t0 + 12 * SECOND);
        assert_eq!(cache.len(), 2, "a and b had expired");
    }
}
