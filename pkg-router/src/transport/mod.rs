#![doc = include_str!("../../docs/serving.md")]
//!
//! # Examples
//!
//! A connection's whole life over an in-memory socket (a framework adapter provides the real
//! one): a request, a push from the hub, and the close at shutdown.
//!
//! ```
//! use pkg_router::testing::MemorySocket;
//! # use pkg_router::transport::{Frame};
//! use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
//! use pkg_router::{HandlerError, Hub, Router};
//! use pkg_router::hub::CloseReason;
//! use std::sync::Arc;
//!
//! async fn ping() -> Result<&'static str, HandlerError> {
//!     Ok("pong")
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut config = WsConfig::default();
//! config.auth = AuthMode::Disabled;
//! let hub = Hub::new();
//! let router = Router::builder().hub(hub.clone()).handler(1, ping).build()?;
//! let endpoint = Arc::new(Endpoint::new(router, config));
//!
//! // The adapter checks the upgrade, then serves the socket.
//! let admission = endpoint.admit(Some("json"), None)?;
//! let (socket, mut client) = MemorySocket::pair();
//! let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
//!
//! client.send_text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#);
//! let response = client.recv_text().await;
//! assert!(response.ends_with(r#""status_code":0,"meta":null,"data":"pong"}"#));
//!
//! hub.broadcast(100u32, "hello everyone")?;
//! assert!(client.recv_text().await.ends_with(r#""data":"hello everyone"}"#));
//!
//! hub.shutdown().await; // every connection closes with 1001
//! assert_eq!(client.recv().await, Some(Frame::Close(Some(CloseReason::going_away()))));
//! connection.await.unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod auth;
mod codec;
mod config;
mod connection;
mod driver;
mod endpoint;
mod frame;
mod in_flight;
mod lifecycle;
mod rate_limit;
mod shared_limits;

pub use auth::{AuthError, AuthFuture, AuthMode, Authenticator};
pub use codec::Codec;
pub use config::{RateLimit, WsConfig};
pub use endpoint::{Admission, ConnectionPermit, Endpoint, Format, Rejection};
pub use frame::{Frame, SocketError};
pub use lifecycle::ConnectionEvent;
pub use shared_limits::{
    ConnectionLease, DEFAULT_SHARED_LIMIT_TIMEOUT, FailMode, LimitFuture, LocalLimits, RateCheck,
    SharedLimitError, SharedLimits,
};
