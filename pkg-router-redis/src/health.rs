//! [`Health`]: the backend's state and counters, for a health endpoint and dashboards.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Whether the cluster link works.
///
/// # Examples
///
/// ```
/// use pkg_router_redis::BackendState;
///
/// assert_eq!(BackendState::Up.as_str(), "up");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendState {
    /// Not connected yet (just started).
    Connecting,
    /// Subscribed, and this node's own heartbeat came back through Redis recently: pushes
    /// reach the other nodes.
    Up,
    /// Redis is unreachable, stalled, or the subscription is silent: pushes reach this node's
    /// connections only (and are counted as dropped); reconnection is under way.
    Down,
}

impl BackendState {
    /// `connecting`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// A snapshot of the backend: its state and what it has done since it started.
///
/// Every counter is also a metric (feature `metrics`), named in the crate docs.
///
/// # Examples
///
/// ```no_run
/// use pkg_router_redis::{BackendState, RedisCluster, RedisConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = RedisCluster::new(RedisConfig::new("redis://127.0.0.1/")?)?;
/// let health = cluster.health();
/// if health.state != BackendState::Up {
///     eprintln!("cluster link {}: {} pushes dropped", health.state.as_str(), health.dropped);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The link's state.
    pub state: BackendState,
    /// How long it has been in that state.
    pub since: Duration,
    /// Events sent to Redis.
    pub published: u64,
    /// Events not sent (the queue was full, Redis failed or was too slow:
    /// [`RedisConfig::max_publish_delay`](crate::RedisConfig::max_publish_delay)), and events
    /// of other nodes that Redis delivered later than that (dropped on receipt).
    pub dropped: u64,
    /// Events received from other nodes and delivered here.
    pub received: u64,
    /// Events of other nodes known to be missed (gaps in their sequence numbers).
    pub missed: u64,
    /// Times the subscription was reopened (after a failure or a silent watchdog).
    pub resubscribes: u64,
    /// Shared-limit calls that failed (the transport then fell back or refused).
    pub limit_errors: u64,
}

/// The live counters behind [`Health`].
#[derive(Debug)]
pub(crate) struct Stats {
    state: Mutex<(BackendState, Instant)>,
    /// Set by the subscriber: subscribed and its heartbeats come back.
    pub(crate) subscribed: AtomicBool,
    /// Set by the publisher: its last batch went through.
    pub(crate) publishing: AtomicBool,
    /// The state is [`BackendState::Up`] (read on every publish).
    pub(crate) up: AtomicBool,
    pub(crate) published: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) missed: AtomicU64,
    pub(crate) resubscribes: AtomicU64,
    pub(crate) limit_errors: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            state: Mutex::new((BackendState::Connecting, Instant::now())),
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(true),
            up: AtomicBool::new(false),
            published: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            resubscribes: AtomicU64::new(0),
            limit_errors: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Recomputes the state from the subscriber's and publisher's flags; logs a change.
    pub(crate) fn update(&self) {
        let up = self.subscribed.load(Ordering::Relaxed) && self.publishing.load(Ordering::Relaxed);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = if up {
            BackendState::Up
        } else if state.0 == BackendState::Connecting && !self.subscribed.load(Ordering::Relaxed) {
            BackendState::Connecting
        } else {
            BackendState::Down
        };
        self.up.store(up, Ordering::Relaxed);
        if next != state.0 {
            match next {
                BackendState::Up => tracing::info!("redis backend up"),
                _ => tracing::warn!(
                    state = next.as_str(),
                    "redis backend down: pushes reach this node only"
                ),
            }
            *state = (next, Instant::now());
            #[cfg(feature = "metrics")]
            metrics::gauge!("redis_backend_up").set(f64::from(u8::from(up)));
        }
    }

    pub(crate) fn drop_events(&self, count: u64, reason: &'static str) {
        if count == 0 {
            return;
        }
        self.dropped.fetch_add(count, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("redis_backend_dropped_total", "reason" => reason).increment(count);
        let _ = reason;
    }

    pub(crate) fn snapshot(&self) -> Health {
        let (state, since) = *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Health {
            state,
            since: since.elapsed(),
            published: self.published.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            missed: self.missed.load(Ordering::Relaxed),
            resubscribes: self.resubscribes.load(Ordering::Relaxed),
            limit_errors: self.limit_errors.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_both_halves_of_the_link() {
        let stats = Stats::default();
        stats.update();
        assert_eq!(stats.snapshot().state, BackendState::Connecting);
        stats.subscribed.store(true, Ordering::Relaxed);
        stats.update();
        assert_eq!(stats.snapshot().state, BackendState::Up);
        stats.publishing.store(false, Ordering::Relaxed);
        stats.update();
        assert_eq!(stats.snapshot().state, BackendState::Down);
        stats.publishing.store(true, Ordering::Relaxed);
        stats.subscribed.store(false, Ordering::Relaxed);
        stats.update();
        assert_eq!(
            stats.snapshot().state,
            BackendState::Down,
            "not connecting again"
        );
    }
}
