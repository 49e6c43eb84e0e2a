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
/// | `close_linger` | 2 s | the socket is dropped without the peer's close frame |
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
///
/// assert!(config.origin_allowed(Some("https://books.example")));
/// assert!(!config.origin_allowed(Some("https://evil.example")));
/// assert_eq!(WsConfig::default().max_message_size, 1024 * 1024);
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
    /// How long shutdown may take to run and answer the requests that had arrived.
    pub shutdown_grace: Duration,
    /// How long the server keeps reading (and discarding) after its close frame, waiting for
    /// the peer's: dropping a socket with unread data would reset it and lose the last answers
    /// and the close frame.
    pub close_linger: Duration,
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
            close_linger: Duration::from_secs(2),
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
        }
    }
}

impl WsConfig {
    /// Whether `origin` (the `Origin` header, if any) may connect.
    ///
    /// Origins compare case-insensitively and exactly (scheme, host and port); `"*"` in
    /// [`allowed_origins`](Self::allowed_origins) allows any, and a missing header (a
    /// non-browser client) is always allowed. [`Endpoint::admit`](super::Endpoint::admit)
    /// applies it before the upgrade.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::WsConfig;
    ///
    /// let mut config = WsConfig::default();
    /// assert!(config.origin_allowed(Some("https://anything.example"))); // "*" by default
    ///
    /// config.allowed_origins = vec!["https://books.example".into()];
    /// assert!(config.origin_allowed(Some("HTTPS://BOOKS.EXAMPLE")));
    /// assert!(!config.origin_allowed(Some("https://books.example:8443")));
    /// assert!(config.origin_allowed(None));
    /// ```
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
///
/// A principal's connections share one budget; anonymous callers get one per connection. A
/// request over budget is answered `ERROR`/`rate_limited` with `details.retry_after_ms`; the
/// connection stays open.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// use pkg_router::transport::{AuthMode, Endpoint, RateLimit, WsConfig};
/// use pkg_router::{HandlerError, Hub, Router};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// async fn ping() -> Result<(), HandlerError> {
///     Ok(())
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// config.rate_limit = Some(RateLimit::new(2, Duration::from_secs(60)));
/// let endpoint = Arc::new(Endpoint::new(Router::builder().handler(1, ping).build()?, config));
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
///
/// for n in 0..3 {
///     let frame = format!(r#"{{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-44665544000{n}"}}"#);
///     client.send_text(&frame);
/// }
/// let mut limited = 0;
/// for _ in 0..3 {
///     if client.recv_text().await.contains(r#""code":"rate_limited""#) {
///         limited += 1;
///     }
/// }
/// assert_eq!(limited, 1); // the third message is over budget
/// drop(client);
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Messages allowed per period (at least 1).
    pub messages: u32,
    /// The period.
    pub period: Duration,
}

impl RateLimit {
    /// `messages` per `period`; `messages` is raised to at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::transport::RateLimit;
    /// use std::time::Duration;
    ///
    /// let limit = RateLimit::new(100, Duration::from_secs(60));
    /// assert_eq!((limit.messages, limit.period), (100, Duration::from_secs(60)));
    /// assert_eq!(RateLimit::new(0, Duration::from_secs(1)).messages, 1);
    /// ```
    pub fn new(messages: u32, period: Duration) -> Self {
        Self {
            messages: messages.max(1),
            period,
        }
    }
}
