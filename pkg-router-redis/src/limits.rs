//! [`RedisLimits`]: the per-principal connection limit as leases in Redis, and the rate limit
//! as one Lua script.

use crate::cluster::Shared;
use crate::config::RedisConfig;
use crate::health::Stats;
use pkg_router::transport::{
    ConnectionLease, FailMode, LimitFuture, RateCheck, RateLimit, SharedLimitError, SharedLimits,
};
use redis::Script;
use redis::aio::ConnectionManager;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Takes a slot: drops the expired leases of the principal, then adds ours if fewer than the
/// maximum are left. The clock is Redis's own, so the nodes' clocks do not matter.
///
/// `KEYS[1]` the principal's lease set; `ARGV` member, maximum, lease time (ms).
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
",
    )
});

/// Extends this node's live leases (re-adding them after a Redis restart lost them).
///
/// `KEYS` the lease sets; `ARGV[1]` lease time (ms), then one member per key.
static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
",
    )
});

/// The local limiter's GCRA (`governor`), in microseconds of Redis's clock: a message is
/// allowed when `now >= tat - tau`, and moves the theoretical arrival time `tat` to
/// `max(tat, now) + t`. Returns 0 when allowed, else the wait in microseconds.
///
/// `KEYS[1]` the principal's state; `ARGV` emission interval `t`, burst tolerance `tau`.
static RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local earliest = tat - tau
if now < earliest then
  return earliest - now
end
local next = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
return 0
",
    )
});

/// The per-principal limits across the cluster, on Redis; made by
/// [`RedisCluster::limits`](crate::RedisCluster::limits) for
/// [`Endpoint::with_shared_limits`](pkg_router::transport::Endpoint::with_shared_limits).
///
/// - **Connections.** A slot is a member of the sorted set `{prefix}:conn:{principal}`, scored
///   by its expiry ([`RedisConfig::lease_ttl`]). This node refreshes its live slots every third
///   of the lease time and removes a slot when its connection closes; a node that dies stops
///   refreshing, and its slots expire: no counter is left stuck after a crash.
/// - **Rate** (with [`RedisConfig::share_rate_limit`]). One Lua script per request keeps the
///   local limiter's GCRA state in `{prefix}:rate:{principal}`, with Redis's clock.
///
/// Timeouts and the failure mode come from the [`RedisConfig`]; see the
/// [crate docs](crate#when-redis-fails).
#[derive(Clone)]
pub struct RedisLimits {
    pub(crate) shared: Arc<Shared>,
}

/// This node's live leases (key, member), refreshed by the keeper.
#[derive(Debug)]
pub(crate) struct LeaseTable {
    live: Mutex<HashSet<(String, String)>>,
    next: AtomicU64,
    release: mpsc::UnboundedSender<(String, String)>,
}

impl LeaseTable {
    pub(crate) fn new(release: mpsc::UnboundedSender<(String, String)>) -> Self {
        Self {
            live: Mutex::default(),
            next: AtomicU64::new(1),
            release,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn unavailable(stats: &Stats, err: &redis::RedisError) -> SharedLimitError {
    stats.limit_errors.fetch_add(1, Ordering::Relaxed);
    SharedLimitError::unavailable(err)
}

impl SharedLimits for RedisLimits {
    fn acquire_connection<'a>(
        &'a self,
        principal_id: &'a str,
        max: usize,
    ) -> LimitFuture<'a, Result<Option<ConnectionLease>, SharedLimitError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let key = format!("{}:conn:{principal_id}", shared.config.prefix);
            let n = shared.leases.next.fetch_add(1, Ordering::Relaxed);
            let member = format!("{}:{n}", shared.node);
            let ttl_ms = millis(shared.config.lease_ttl);
            let mut commands = shared.commands.clone();
            let granted: i64 = ACQUIRE
                .key(&key)
                .arg(&member)
                .arg(max)
                .arg(ttl_ms)
                .invoke_async(&mut commands)
                .await
                .map_err(|err| unavailable(&shared.stats, &err))?;
            if granted != 1 {
                return Ok(None);
            }
            let entry = (key, member);
            shared.leases.lock().insert(entry.clone());
            let leases = Arc::clone(&shared.leases);
            Ok(Some(ConnectionLease::new(move || {
                leases.lock().remove(&entry);
                // The keeper removes it from Redis; if Redis is away, it expires.
                let _ = leases.release.send(entry);
            })))
        })
    }

    fn check_rate<'a>(
        &'a self,
        key: &'a str,
        limit: RateLimit,
    ) -> LimitFuture<'a, Result<RateCheck, SharedLimitError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let (interval, tau) = gcra(limit);
            let mut commands = shared.commands.clone();
            let wait_us: i64 = RATE
                .key(format!("{}:rate:{key}", shared.config.prefix))
                .arg(interval)
                .arg(tau)
                .invoke_async(&mut commands)
                .await
                .map_err(|err| unavailable(&shared.stats, &err))?;
            Ok(if wait_us <= 0 {
                RateCheck::Allowed
            } else {
                RateCheck::Limited {
                    retry_after: Duration::from_micros(wait_us.unsigned_abs()),
                }
            })
        })
    }

    fn shares_rate_limit(&self) -> bool {
        self.shared.config.share_rate_limit
    }

    fn timeout(&self) -> Duration {
        self.shared.config.limit_timeout
    }

    fn on_unavailable(&self) -> FailMode {
        self.shared.config.fail_mode
    }
}

impl fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimits")
            .field("node", &self.shared.node)
            .field("share_rate_limit", &self.shared.config.share_rate_limit)
            .field("fail_mode", &self.shared.config.fail_mode)
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The GCRA parameters of `limit` in microseconds, as the local limiter derives them: one
/// message every `period / messages`, a burst of `messages`.
fn gcra(limit: RateLimit) -> (u64, u64) {
    let messages = limit.messages.max(1);
    let interval = u64::try_from((limit.period / messages).as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    (interval, interval.saturating_mul(u64::from(messages - 1)))
}

/// Refreshes this node's leases every third of the lease time and removes released ones.
/// Ends when every handle is gone.
pub(crate) async fn lease_keeper(
    leases: Arc<LeaseTable>,
    mut released: mpsc::UnboundedReceiver<(String, String)>,
    mut commands: ConnectionManager,
    stats: Arc<Stats>,
    config: RedisConfig,
    mut closed: watch::Receiver<()>,
) {
    let ttl_ms = millis(config.lease_ttl);
    let mut refresh = tokio::time::interval(config.lease_ttl / 3);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gone = Vec::new();
    loop {
        tokio::select! {
            _ = refresh.tick() => {
                let live: Vec<(String, String)> = leases.lock().iter().cloned().collect();
                if live.is_empty() {
                    continue;
                }
                let mut call = REFRESH.prepare_invoke();
                call.arg(ttl_ms);
                for (key, member) in &live {
                    call.key(key).arg(member);
                }
                let done = tokio::time::timeout(config.command_timeout, call.invoke_async::<i64>(&mut commands)).await;
                if !matches!(done, Ok(Ok(_))) {
                    stats.limit_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(leases = live.len(), "cannot refresh connection leases in redis (they expire unless redis comes back in time)");
                }
            }
            count = released.recv_many(&mut gone, 256) => {
                if count == 0 {
                    return;
                }
                let mut pipe = redis::pipe();
                for (key, member) in gone.drain(..) {
                    pipe.cmd("ZREM").arg(key).arg(member).ignore();
                }
                let done = tokio::time::timeout(config.command_timeout, pipe.query_async::<()>(&mut commands)).await;
                if !matches!(done, Ok(Ok(()))) {
                    stats.limit_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("cannot release connection leases in redis: they expire");
                }
            }
            _ = closed.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_parameters_match_the_local_limiter() {
        // 100 per minute: one every 600 ms, 99 more in a burst.
        assert_eq!(
            gcra(RateLimit::new(100, Duration::from_secs(60))),
            (600_000, 59_400_000)
        );
        assert_eq!(
            gcra(RateLimit::new(1, Duration::from_secs(1))),
            (1_000_000, 0)
        );
        assert_eq!(gcra(RateLimit::new(10, Duration::ZERO)).0, 1, "never zero");
    }
}
