//! Cached `COUNT(*)` results for offset pagination, invalidated when writes change them.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts per table and filter, e.g. `("books", "author_id=3")`.
#[derive(Debug, Default)]
pub struct CountCache {
    counts: Mutex<HashMap<(&'static str, String), u64>>,
}

impl CountCache {
    pub fn get(&self, table: &'static str, filter: &str) -> Option<u64> {
        self.lock().get(&(table, filter.to_owned())).copied()
    }

    pub fn put(&self, table: &'static str, filter: String, count: u64) {
        self.lock().insert((table, filter), count);
    }

    /// Forgets every count of `table` (after a create or delete, or an update that can move a
    /// row between filters).
    pub fn invalidate(&self, table: &'static str) {
        self.lock().retain(|(t, _), _| *t != table);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(&'static str, String), u64>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
