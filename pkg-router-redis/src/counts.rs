//! [`SharedCounts`]: a count cache (pagination totals) every node shares.

use crate::cluster::Shared;
use redis::Script;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Reads the scope's generation and the count stored under it, in one round trip.
///
/// `KEYS[1]` the scope's generation; `ARGV` the scope's count-key prefix, the count's key.
static LOOKUP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. ':' .. generation .. ':' .. ARGV[2])}
",
    )
});

/// Cached `COUNT(*)` results (the `total` of offset pagination) shared by every node, so a
/// write on one node is seen in the totals of all of them: made by
/// [`RedisCluster::counts`](crate::RedisCluster::counts).
///
/// Counts live under a *generation* of their scope (a table, say):
/// [`invalidate`](Self::invalidate) starts a new generation, so every count of the scope is
/// forgotten at once, on every node. A count computed while a write happened is stored under
/// the generation read *before* counting ([`lookup`](Self::lookup)), which the write made old:
/// it is never served, so no total goes stale because of that race.
///
/// Every call is bounded by [`RedisConfig::command_timeout`](crate::RedisConfig::command_timeout)
/// and reports a failure as [`CountsError`]: count from the database then, as without a cache.
///
/// # Examples
///
/// ```no_run
/// use pkg_router_redis::{CountLookup, RedisCluster, RedisConfig};
/// use std::time::Duration;
///
/// # async fn count_books() -> u64 { 4 }
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = RedisCluster::new(RedisConfig::new("redis://127.0.0.1/")?)?;
/// let counts = cluster.counts();
/// let total = match counts.lookup("books", "author_id=3").await? {
///     CountLookup::Hit(total) => total,
///     CountLookup::Miss(generation) => {
///         let total = count_books().await;
///         counts.store("books", "author_id=3", generation, total, Duration::from_secs(300)).await?;
///         total
///     }
/// };
/// // After a write to books, on any node:
/// counts.invalidate("books").await?;
/// # let _ = total;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SharedCounts {
    pub(crate) shared: Arc<Shared>,
}

/// What [`SharedCounts::lookup`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountLookup {
    /// The cached count.
    Hit(u64),
    /// None cached: count, then [`store`](SharedCounts::store) it under this generation.
    Miss(CountGeneration),
}

/// The generation of a scope a count was looked up in (see [`SharedCounts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountGeneration(u64);

/// A [`SharedCounts`] call that failed: Redis is unreachable or too slow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("shared count cache unavailable: {reason}")]
pub struct CountsError {
    reason: String,
}

impl CountsError {
    fn new(reason: impl fmt::Display) -> Self {
        Self {
            reason: reason.to_string(),
        }
    }
}

impl SharedCounts {
    fn generation_key(&self, scope: &str) -> String {
        format!("{}:countgen:{scope}", self.shared.config.prefix)
    }

    fn count_prefix(&self, scope: &str) -> String {
        format!("{}:count:{scope}", self.shared.config.prefix)
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CountsError> {
        match tokio::time::timeout(self.shared.config.command_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(CountsError::new(err)),
            Err(_) => Err(CountsError::new("timed out")),
        }
    }

    /// The count of `key` in `scope`, or the generation to store it under.
    ///
    /// # Errors
    ///
    /// [`CountsError`] when Redis does not answer in time.
    pub async fn lookup(&self, scope: &str, key: &str) -> Result<CountLookup, CountsError> {
        let mut commands = self.shared.commands.clone();
        let mut call = LOOKUP.prepare_invoke();
        call.key(self.generation_key(scope))
            .arg(self.count_prefix(scope))
            .arg(key);
        let (generation, count): (u64, Option<u64>) =
            self.bounded(call.invoke_async(&mut commands)).await?;
        Ok(match count {
            Some(count) => CountLookup::Hit(count),
            None => CountLookup::Miss(CountGeneration(generation)),
        })
    }

    /// Caches `count` for `key` in `scope` for `ttl`, under the generation
    /// [`lookup`](Self::lookup) returned (a count of an older generation is never served).
    ///
    /// # Errors
    ///
    /// [`CountsError`] when Redis does not answer in time.
    pub async fn store(
        &self,
        scope: &str,
        key: &str,
        generation: CountGeneration,
        count: u64,
        ttl: Duration,
    ) -> Result<(), CountsError> {
        let mut commands = self.shared.commands.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut set = redis::cmd("SET");
        set.arg(format!(
            "{}:{}:{key}",
            self.count_prefix(scope),
            generation.0
        ))
        .arg(count)
        .arg("PX")
        .arg(ttl_ms);
        self.bounded(set.query_async::<()>(&mut commands)).await
    }

    /// Forgets every count of `scope`, on every node (a new generation).
    ///
    /// # Errors
    ///
    /// [`CountsError`] when Redis does not answer in time; other nodes may then serve the old
    /// counts until they expire.
    pub async fn invalidate(&self, scope: &str) -> Result<(), CountsError> {
        let mut commands = self.shared.commands.clone();
        let mut incr = redis::cmd("INCR");
        incr.arg(self.generation_key(scope));
        self.bounded(incr.query_async::<u64>(&mut commands))
            .await
            .map(|_| ())
    }
}

impl fmt::Debug for SharedCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCounts")
            .field("prefix", &self.shared.config.prefix)
            .finish_non_exhaustive()
    }
}
