//! Serving a [`Router`](crate::Router) over WebSocket, independent of the web framework.
//!
//! [`Endpoint`] holds the router, the [`Hub`](crate::Hub), the [`WsConfig`] and the
//! [`Authenticator`]; a framework adapter (see [`crate::axum`]) checks the HTTP upgrade with
//! [`Endpoint::admit`], then hands the socket, as a stream and sink of [`Frame`]s, to
//! [`Endpoint::serve`], which runs the protocol of PROTOCOL.md sections 4 and 6: the auth
//! handshake, limits, concurrent dispatch, broadcasts, keepalive, token expiry and graceful
//! shutdown.

mod auth;
mod config;
mod connection;
mod endpoint;
mod frame;
mod rate_limit;

pub use auth::{AuthError, AuthFuture, AuthMode, Authenticator};
pub use config::{RateLimit, WsConfig};
pub use endpoint::{Admission, ConnectionPermit, Endpoint, Format, Rejection};
pub use frame::{Frame, SocketError};
