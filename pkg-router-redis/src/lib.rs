//! Several [pkg-router](pkg_router) nodes behind a load balancer, joined by Redis: pushes and
//! kicks reach every node's connections, and the per-principal connection limit (and, opt-in,
//! the rate limit) holds across the cluster. Handlers do not change.
//!
//! # Quick start
//!
//! ```no_run
//! use pkg_router::transport::{Endpoint, WsConfig};
//! use pkg_router::{Hub, Router};
//! use pkg_router_redis::{RedisCluster, RedisConfig};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = RedisConfig::new("redis://127.0.0.1:6379/")?.prefix("books");
//!     let cluster = RedisCluster::new(config)?; // connects in the background
//!
//!     let hub = Hub::with_backend(cluster.backend()); // pushes reach every node
//!     let router = Router::builder().hub(hub.clone()).with_registered().build()?;
//!     let endpoint = Endpoint::new(router, WsConfig::default())
//!         .with_shared_limits(cluster.limits()); // limits count across nodes
//!     let health = cluster.clone();
//!     let app = axum::Router::new()
//!         .route("/web", pkg_router::axum::ws(endpoint))
//!         .route("/health", axum::routing::get(move || async move {
//!             health.health().state.as_str() // "up", "down" or "connecting"
//!         }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     pkg_router::axum::serve(listener, app, hub).await?;
//!     Ok(())
//! }
//! ```
//!
//! Run the same program on several machines (or ports) with the same Redis: a handler's
//! `hub.to_room("book-12").push(..)` on one node reaches the room's members on all of them.
//! The workspace's books example does so with `--redis URL` (its README shows two nodes).
//!
//! # Design
//!
//! - **One channel.** Every node publishes to and subscribes to `{prefix}:push`. A message is
//!   the hub's event: its [`Target`](pkg_router::hub::Target) (all, principal, roles, room)
//!   and the push's JSON frame, serialized once by the node that made it and forwarded
//!   unchanged; or a close (kick) with its code and reason. Each node resolves the target
//!   against its own connections, so rooms and roles are never Redis channels or keys.
//! - **Exactly once, no echo.** The hub delivers an event to its own connections directly;
//!   the message carries the node's id and the node skips its own messages when they come back.
//!   Every other node has one subscription, so it delivers each message once.
//! - **Order.** One publisher task per node sends its events in the order they were made
//!   (pipelined batches on one connection), and Redis delivers a channel's messages in order:
//!   pushes from one node arrive everywhere in the order that node sent them. There is **no
//!   global order**: pushes of two nodes may interleave differently on different nodes.
//! - **Never blocking.** [`BroadcastBackend::publish`](pkg_router::hub::BroadcastBackend::publish)
//!   encodes and queues (bounded, [`RedisConfig::publish_queue`]) and returns: a handler never
//!   waits on Redis, even a stalled one.
//! - **Connection leases.** A principal's connection slots are members of a sorted set scored
//!   by expiry ([`RedisConfig::lease_ttl`]), taken with one Lua script (drop the expired ones,
//!   count, add) and refreshed by the owning node. A node that dies stops refreshing, so its
//!   slots expire: no counter stays stuck after a crash.
//! - **Rate limit** (opt-in, [`RedisConfig::share_rate_limit`]). One Lua script per request
//!   runs the local limiter's GCRA (the `governor` semantics: a bucket of `messages` tokens
//!   refilled continuously over `period`) on Redis's clock. It costs one round trip per request
//!   of an authenticated principal (measured in BENCHMARKS.md).
//!
//! - **Count cache.** [`SharedCounts`] keeps pagination totals in Redis under a generation per
//!   scope: a write on any node starts a new generation, so no node serves a stale total.
//!
//! Commands (PUBLISH, scripts) go through the `redis` crate's connection manager, which
//! reconnects when a command finds the connection broken. The subscription has its own
//! connection and loop: the connection manager's resubscription only reacts when a command
//! fails, while a subscription can also go silent (a restarted or stalled server, a dropped
//! NAT entry). Each node therefore publishes a heartbeat on the channel
//! ([`RedisConfig::heartbeat`]) and expects its own heartbeat back: the whole path, publish to
//! delivery, is checked; three missed heartbeats reopen the subscription.
//!
//! # When Redis fails
//!
//! Every behaviour below is tested against a real `redis-server` (killed, restarted, paused
//! with SIGSTOP) in `tests/redis.rs` and `tests/cluster.rs`.
//!
//! | what happens | local delivery | pushes to other nodes | shared limits (fail open, default) | shared limits (fail closed) | count cache ([`SharedCounts`]) | health |
//! |---|---|---|---|---|---|---|
//! | Redis down at start | works | dropped and counted (`down`); the link connects when Redis comes | per-node limits, after at most [`RedisConfig::limit_timeout`] | connections closed 1013, requests `rate_limited` | every call fails ([`CountsError`]): count from the database | `connecting`, then `down` |
//! | Redis killed / connection lost | works | dropped and counted while down (`down`, `redis_error`); the subscription is reopened (backoff 50 ms doubling to [`RedisConfig::reconnect_max_delay`], never giving up) and delivery resumes; nothing is replayed | per-node limits | refused while down | calls fail: count from the database; an invalidation that failed leaves other nodes' totals as they were until they expire | `down`, `resubscribes` grows |
//! | Redis stalled (SIGSTOP, overload) | works; no handler, login or broadcast waits | the queue fills and further pushes are dropped (`queue_full`); a batch is given up after [`RedisConfig::command_timeout`] (`timeout`); a push older than [`RedisConfig::max_publish_delay`] is dropped by the sender (`stale`) and, if Redis delivers it later anyway, by the receivers (`late`) | each call given up after [`RedisConfig::limit_timeout`], then per-node | refused after that timeout | calls given up after [`RedisConfig::command_timeout`] | `down` once three heartbeats are missed |
//! | subscription silent (no own heartbeat for 3 × [`RedisConfig::heartbeat`]) | works | the watchdog reopens it | — | — | — | `down` until reopened, `resubscribes` |
//! | Redis restarted empty | works | resumes after resubscription; `missed` counts other nodes' pushes lost in between | live slots are re-added by the next refresh (every third of [`RedisConfig::lease_ttl`]); the rate limit starts afresh | same | every count is gone: counted again | back to `up` |
//! | a node dies (SIGKILL) | its clients reconnect elsewhere | — | its slots expire within [`RedisConfig::lease_ttl`] | same | — | — |
//!
//! Pushes made during an outage are never replayed: a client that must not miss an update
//! re-reads the state after a reconnect, exactly as after its own reconnect. The receivers'
//! `late` check compares the sender's clock with theirs: node clocks must agree to well within
//! [`RedisConfig::max_publish_delay`] (NTP does).
//!
//! # Health and metrics
//!
//! [`RedisCluster::health`] returns the link's [`BackendState`] and counters (the books example
//! serves them on `/health`). With the `metrics` feature the same are recorded through the
//! `metrics` facade: `redis_backend_up` (gauge), `redis_backend_published_total`,
//! `redis_backend_dropped_total{reason}` (`down`, `outage`, `queue_full`, `stale`, `late`,
//! `timeout`, `redis_error`, `unsupported`, `closed`), `redis_backend_received_total`, `redis_backend_missed_total`,
//! `redis_backend_resubscribes_total`; the transport adds
//! `shared_limit_unavailable_total{limit, mode}` when a shared limit falls back or refuses.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `tls` | `rediss://` URLs (rustls, the platform's roots) |
//! | `metrics` | the metrics above, through the `metrics` facade |
//! | `test-server` | [`test_server::RedisServer`]: a throwaway `redis-server` for tests |
//!
//! No `redis` crate type appears in this crate's API, so its major versions can change
//! underneath without breaking you. MSRV: as pkg-router's.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod cluster;
mod config;
mod connection;
mod counts;
mod health;
mod limits;
#[cfg(feature = "test-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-server")))]
pub mod test_server;
mod wire;

pub use backend::RedisBackend;
pub use cluster::{RedisCluster, StartError};
pub use config::{ConfigError, RedisConfig};
pub use counts::{CountGeneration, CountLookup, CountsError, SharedCounts};
pub use health::{BackendState, Health};
pub use limits::RedisLimits;
