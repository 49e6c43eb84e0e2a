#![doc = include_str!("../../docs/serving.md")]

mod auth;
mod codec;
mod config;
mod connection;
mod endpoint;
mod frame;
mod rate_limit;

pub use auth::{AuthError, AuthFuture, AuthMode, Authenticator};
pub use config::{RateLimit, WsConfig};
pub use endpoint::{Admission, ConnectionPermit, Endpoint, Format, Rejection};
pub use frame::{Frame, SocketError};
