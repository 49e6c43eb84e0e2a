//! [`WsConfig`]: every limit of a WebSocket endpoint, with its default.

use super::auth::AuthMode;
use std::time::Duration;

/// Settings of a WebSocket endpoint. Every limit has a default; change fields on
/// `WsConfig::default()`.
///
/// | field | default | when exceeded |
/// |---|---|---|
/// | `auth` | `Required` | — |
/// | `auth_timeout` | 5 s | close 4002 |
/// | `allowed_origins` | `["*"]` (any) | HTTP 403 before the upgrade |
/// | `max_message_size` | 1 MiB | close 1009 |
/// | `max_connections` | 10 000 | HTTP 503 before the upgrade |
/// | `max_connections_per_principal` | 5 | close 1008 "Maximum concurrent connections exceeded" |
/// | `rate_limit` | 100 messages / 60 s per principal | `ERROR`/`rate_limited` with `details.retry_after_ms` |
/// | `max_in_flight` | 16 per connection (1 keeps strict order) | reading pauses |
/// | `handler_timeout` | 30 s | `ERROR`/`timeout` |
/// | `outbound_queue` | 256 frames per connection | close 1008 "slow consumer" |
/// | `ping_interval` / `pong_timeout` | 30 s / 10 s | connection dropped after a close attempt |
/// | `max_malformed` | 10 consecutive | close 1008 "too many malformed frames" |
/// | `shutdown_grace` | 10 s | in-flight requests abandoned, close 1001 |
/// | `read_buffer_size` / `write_buffer_size` | 4 KiB / 4 KiB | (memory per idle connection) |
///
/// # Examples
///
/// ```
/// use pkg_router::transport::{AuthMode, RateLimit, WsConfig};
/// use std::time::Duration;
///
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Optional;
/// config.max_in_flight = 1; // strict request order
/// config.rate_limit = Some(RateLimit::new(1_000, Duration::from_secs(60)));
/// config.allowed_origins = vec!["https://books.example".into()];
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WsConfig {
    /// Whether connections must authenticate with the first frame.
    pub auth: AuthMode,
    /// How long to wait for the auth frame.
    pub auth_timeout: Duration,
    /// Origins allowed to connect; `"*"` allows any. A request without an `Origin` header (a
    /// non-browser client) is always allowed.
    pub allowed_origins: Vec<String>,
    /// Largest message (and frame) accepted, in bytes.
    pub max_message_size: usize,
    /// Largest number of simultaneous connections.
    pub max_connections: usize,
    /// Largest number of simultaneous connections of one principal.
    pub max_connections_per_principal: usize,
    /// Messages allowed per principal (anonymous callers: per connection); `None` disables.
    pub rate_limit: Option<RateLimit>,
    /// Requests of one connection processed at once.
    pub max_in_flight: usize,
    /// Longest a request may take, on top of per-handler timeouts; `None` disables.
    pub handler_timeout: Option<Duration>,
    /// Frames queued for one connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long a pong may take after a ping.
    pub pong_timeout: Duration,
    /// Consecutive malformed frames tolerated before closing with 1008; `0` disables.
    pub max_malformed: u32,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// WebSocket read buffer per connection, in bytes.
    pub read_buffer_size: usize,
    /// WebSocket write buffer per connection, in bytes.
    pub write_buffer_size: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            auth: AuthMode::Required,
            auth_timeout: Duration::from_secs(5),
            allowed_origins: vec!["*".to_owned()],
            max_message_size: 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_principal: 5,
            rate_limit: Some(RateLimit::new(100, Duration::from_secs(60))),
            max_in_flight: 16,
            handler_timeout: Some(Duration::from_secs(30)),
            outbound_queue: 256,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            max_malformed: 10,
            shutdown_grace: Duration::from_secs(10),
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
        }
    }
}

impl WsConfig {
    /// Whether `origin` (the `Origin` header, if any) may connect.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => self
                .allowed_origins
                .iter()
                .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin)),
        }
    }
}

/// A message budget: `messages` per `period`, refilled continuously (a token bucket whose
/// burst is the whole budget).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages allowed per period (at least 1).
    pub messages: u32,
    /// The period.
    pub period: Duration,
}

impl RateLimit {
    /// `messages` per `period`.
    pub fn new(messages: u32, period: Duration) -> Self {
        Self {
            messages: messages.max(1),
            period,
        }
    }
}
