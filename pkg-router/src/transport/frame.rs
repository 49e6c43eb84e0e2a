//! The transport-neutral view of a WebSocket: [`Frame`]s in and out.

use crate::hub::CloseReason;
use bytes::Bytes;

/// One WebSocket frame, independent of the WebSocket library that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A text frame. The bytes are valid UTF-8 (adapters only build it from text).
    Text(Bytes),
    /// A binary frame.
    Binary(Bytes),
    /// A ping.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame.
    Close(Option<CloseReason>),
}

/// Why reading from or writing to a socket failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The peer sent a message larger than the configured maximum.
    #[error("message too big")]
    TooBig,
    /// The connection is closed or broken.
    #[error("connection closed: {0}")]
    Closed(String),
}
