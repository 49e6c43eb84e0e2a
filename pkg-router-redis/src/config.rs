//! [`RedisConfig`]: where Redis is, the names used in it, and every timeout.

use pkg_router::transport::FailMode;
use std::fmt;
use std::time::Duration;

/// How to reach Redis and how to behave when it is away. Every setting has a default; change
/// them with the builder methods.
///
/// | setting | default | what it bounds |
/// |---|---|---|
/// | [`prefix`](Self::prefix) | `pkg-router` | every key and the channel `{prefix}:push` |
/// | [`command_timeout`](Self::command_timeout) | 1 s | one PUBLISH batch, one lease or refresh call |
/// | [`connect_timeout`](Self::connect_timeout) | 1 s | one connection attempt (and the subscription) |
/// | [`reconnect_max_delay`](Self::reconnect_max_delay) | 2 s | the longest pause between reconnection attempts (never given up) |
/// | [`publish_queue`](Self::publish_queue) | 4 096 events | pushes waiting for Redis; more are dropped and counted |
/// | [`max_publish_delay`](Self::max_publish_delay) | 1 s | a push older than this is dropped (by the sender, or by a receiver when Redis delivered it late), never delivered late |
/// | [`heartbeat`](Self::heartbeat) | 1 s | the watchdog: a subscription that has not seen this node's own heartbeat for 3 of these is reopened |
/// | [`lease_ttl`](Self::lease_ttl) | 15 s | how long a dead node's connection slots stay taken (refreshed every third of it) |
/// | [`limit_timeout`](Self::limit_timeout) | 250 ms | the longest a connection or a request waits for a shared limit |
/// | [`fail_mode`](Self::fail_mode) | [`FailMode::Open`] | shared limits while Redis is away: per node (open) or refuse (closed) |
/// | [`share_rate_limit`](Self::share_rate_limit) | `false` | the rate limit counted in Redis (a round trip per request) |
///
/// The URL is `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS, with the crate's
/// `tls` feature) or `redis+unix:///path/to/socket` / `unix:///path/to/socket`.
///
/// # Examples
///
/// ```
/// use pkg_router_redis::RedisConfig;
/// use std::time::Duration;
///
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")?
///     .prefix("books")
///     .lease_ttl(Duration::from_secs(10))
///     .share_rate_limit(true);
/// assert_eq!(config.channel(), "books:push");
/// assert!(RedisConfig::new("http://example.invalid").is_err());
/// # Ok::<(), pkg_router_redis::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) prefix: String,
    pub(crate) command_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_max_delay: Duration,
    pub(crate) publish_queue: usize,
    pub(crate) max_publish_delay: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) lease_ttl: Duration,
    pub(crate) limit_timeout: Duration,
    pub(crate) fail_mode: FailMode,
    pub(crate) share_rate_limit: bool,
}

/// A [`RedisConfig`] that cannot work.
///
/// # Examples
///
/// ```
/// use pkg_router_redis::{ConfigError, RedisConfig};
///
/// let err = RedisConfig::new("http://example.invalid").unwrap_err();
/// assert!(matches!(err, ConfigError::Url { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not a Redis URL this build can use.
    #[error("invalid Redis URL `{url}`: {reason}")]
    Url {
        /// The URL, without its password.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A Redis key prefix must be non-empty and free of spaces and control characters.
    #[error("invalid key prefix `{0}`: use letters, digits and punctuation, no spaces")]
    Prefix(String),
}

impl RedisConfig {
    /// The settings for the Redis server at `url`, every other one at its default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Url`] when `url` is not a Redis URL (or is `rediss://` without the `tls`
    /// feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router_redis::RedisConfig;
    ///
    /// assert!(RedisConfig::new("redis://127.0.0.1/").is_ok());
    /// assert!(RedisConfig::new("unix:///run/redis/redis.sock").is_ok());
    /// assert!(RedisConfig::new("not a url").is_err());
    /// ```
    pub fn new(url: impl Into<String>) -> Result<Self, ConfigError> {
        let url = url.into();
        crate::connection::client(&url)?;
        Ok(Self {
            url,
            prefix: "pkg-router".to_owned(),
            command_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(2),
            publish_queue: 4096,
            max_publish_delay: Duration::from_secs(1),
            heartbeat: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(15),
            limit_timeout: Duration::from_millis(250),
            fail_mode: FailMode::Open,
            share_rate_limit: false,
        })
    }

    /// Names every key and the channel: `{prefix}:push`, `{prefix}:conn:{principal}`,
    /// `{prefix}:rate:{principal}`. Give each application sharing a Redis its own.
    ///
    /// # Panics
    ///
    /// Never; an unusable prefix is kept and reported by
    /// [`RedisCluster::new`](crate::RedisCluster::new) ([`ConfigError::Prefix`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router_redis::RedisConfig;
    ///
    /// let config = RedisConfig::new("redis://127.0.0.1/")?.prefix("books");
    /// assert_eq!(config.channel(), "books:push");
    /// # Ok::<(), pkg_router_redis::ConfigError>(())
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one command (a PUBLISH batch, a lease) may take before it counts as failed.
    #[must_use]
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The longest one connection attempt (including the subscription) may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest pause between two reconnection attempts (they start at 50 ms and double).
    /// Attempts never stop. At least 50 ms: no attempt loop spins on a server that is down.
    #[must_use]
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay.max(crate::connection::Backoff::FIRST);
        self
    }

    /// How many events may wait to be published; when full, new ones are dropped and counted.
    #[must_use]
    pub fn publish_queue(mut self, events: usize) -> Self {
        self.publish_queue = events.max(1);
        self
    }

    /// An event older than this when Redis can take it is dropped (and counted) rather than
    /// delivered late to the other nodes; a receiver drops one that Redis delivers later than
    /// this after it was made (a batch that sat in a stalled server), by the sender's clock.
    #[must_use]
    pub fn max_publish_delay(mut self, delay: Duration) -> Self {
        self.max_publish_delay = delay;
        self
    }

    /// How often this node publishes a heartbeat; a subscription that saw none of its own for
    /// three of these is considered silent and reopened.
    #[must_use]
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How long a connection slot lives in Redis without a refresh: a node that dies frees its
    /// principals' slots within this time. Live slots are refreshed every third of it.
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(30));
        self
    }

    /// The longest a new connection or a request waits for a shared limit before
    /// [`fail_mode`](Self::fail_mode) applies.
    #[must_use]
    pub fn limit_timeout(mut self, timeout: Duration) -> Self {
        self.limit_timeout = timeout;
        self
    }

    /// What shared limits do while Redis is unreachable: [`FailMode::Open`] (the default)
    /// falls back to per-node limits, [`FailMode::Closed`] refuses connections (1013) and
    /// requests (`rate_limited`).
    #[must_use]
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// Whether the rate limit is counted in Redis too (one round trip per request of an
    /// authenticated principal), rather than per node.
    #[must_use]
    pub fn share_rate_limit(mut self, share: bool) -> Self {
        self.share_rate_limit = share;
        self
    }

    /// The pub/sub channel every node publishes to and listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router_redis::RedisConfig;
    ///
    /// assert_eq!(RedisConfig::new("redis://127.0.0.1/")?.channel(), "pkg-router:push");
    /// # Ok::<(), pkg_router_redis::ConfigError>(())
    /// ```
    pub fn channel(&self) -> String {
        format!("{}:push", self.prefix)
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let bad = self.prefix.is_empty()
            || self
                .prefix
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if bad {
            return Err(ConfigError::Prefix(self.prefix.clone()));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &crate::connection::redact(&self.url))
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("reconnect_max_delay", &self.reconnect_max_delay)
            .field("publish_queue", &self.publish_queue)
            .field("max_publish_delay", &self.max_publish_delay)
            .field("heartbeat", &self.heartbeat)
            .field("lease_ttl", &self.lease_ttl)
            .field("limit_timeout", &self.limit_timeout)
            .field("fail_mode", &self.fail_mode)
            .field("share_rate_limit", &self.share_rate_limit)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let config = RedisConfig::new("redis://app:s3cret@127.0.0.1:6379/0").unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("127.0.0.1:6379"), "{shown}");
    }

    #[test]
    fn a_prefix_with_spaces_is_refused() {
        let config = RedisConfig::new("redis://127.0.0.1/").unwrap();
        assert!(config.clone().prefix("books").check().is_ok());
        assert_eq!(
            config.clone().prefix("my app").check(),
            Err(ConfigError::Prefix("my app".into()))
        );
        assert!(config.prefix("").check().is_err());
    }

    #[test]
    fn a_zero_reconnect_delay_cannot_make_a_spinning_loop() {
        let config = RedisConfig::new("redis://127.0.0.1/")
            .unwrap()
            .reconnect_max_delay(Duration::ZERO);
        assert_eq!(config.reconnect_max_delay, Duration::from_millis(50));
    }
}
