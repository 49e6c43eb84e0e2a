//! The transport-neutral view of a WebSocket: [`Frame`]s in and out.

use crate::hub::CloseReason;
use bytes::Bytes;

/// One WebSocket frame, independent of the WebSocket library that carried it.
///
/// An adapter maps its library's messages to and from these (see
/// [`Endpoint::serve`](super::Endpoint::serve)); control frames are handled by the connection
/// loop, data frames go to the router.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// # use pkg_router::transport::{Frame};
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{Hub, ResponseModel, Router};
/// use std::sync::Arc;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let endpoint = Arc::new(Endpoint::new(Router::builder().allow_empty().build()?, config));
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
///
/// client.send(Frame::Ping(bytes::Bytes::new())); // keepalive: not a request
/// client.send(Frame::Binary(bytes::Bytes::from_static(b"\x08\x01")));
/// // The first answer is the binary frame's: nothing answers a ping.
/// let answer: ResponseModel = serde_json::from_str(&client.recv_text().await)?;
/// let body = answer.error_body().unwrap();
/// assert_eq!(body.code, "invalid_envelope");
/// assert_eq!(body.msg, "wrong frame type for this connection's format");
/// drop(client);
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
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
///
/// An adapter reports its library's errors as one of these. Each decides the close frame the
/// peer gets (RFC 6455 section 7.4.1): [`TooBig`](Self::TooBig) 1009,
/// [`Protocol`](Self::Protocol) 1002, [`InvalidUtf8`](Self::InvalidUtf8) 1007;
/// [`Closed`](Self::Closed) just ends the connection.
///
/// # Examples
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// # use pkg_router::transport::{Frame, SocketError};
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{Hub, Router};
/// use pkg_router::hub::{close_code, CloseReason};
/// use std::sync::Arc;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let endpoint = Arc::new(Endpoint::new(Router::builder().allow_empty().build()?, config));
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
///
/// // The adapter's library refused a message over `max_message_size`.
/// client.fail(SocketError::TooBig);
/// let closed = CloseReason::new(close_code::TOO_BIG, "message too big");
/// assert_eq!(client.recv().await, Some(Frame::Close(Some(closed))));
/// connection.await.unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocketError {
    /// The peer sent a message larger than the configured maximum.
    #[error("message too big")]
    TooBig,
    /// The peer broke the WebSocket framing rules: a control frame over 125 bytes or
    /// fragmented, reserved bits or a reserved opcode, an unmasked client frame, a continuation
    /// without a start, a new message inside a fragmented one. The text says which.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A text message (or a close reason) that is not valid UTF-8.
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// The connection is closed or broken.
    #[error("connection closed: {0}")]
    Closed(String),
}
