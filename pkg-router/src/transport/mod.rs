#![doc = include_str!("../../docs/serving.md")]
//!
//! # Examples
//!
//! A connection's whole life over an in-memory socket (a framework adapter provides the real
//! one): a request, a push from the hub, and the close at shutdown.
//!
//! ```
//! # use futures_util::{Sink, Stream};
//! # use pkg_router::transport::{Frame, SocketError};
//! # use std::pin::Pin;
//! # use std::task::{Context, Poll};
//! # use tokio::sync::mpsc;
//! # /// The server's end of an in-memory WebSocket.
//! # struct Pipe {
//! #     incoming: mpsc::UnboundedReceiver<Result<Frame, SocketError>>,
//! #     outgoing: mpsc::UnboundedSender<Frame>,
//! # }
//! # impl Stream for Pipe {
//! #     type Item = Result<Frame, SocketError>;
//! #     fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
//! #         self.incoming.poll_recv(cx)
//! #     }
//! # }
//! # impl Sink<Frame> for Pipe {
//! #     type Error = SocketError;
//! #     fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), SocketError> {
//! #         self.outgoing.send(frame).map_err(|_| SocketError::Closed("client gone".into()))
//! #     }
//! #     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! #     fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
//! #         Poll::Ready(Ok(()))
//! #     }
//! # }
//! # /// A connected pair: the server's socket, and the client's sender and receiver.
//! # fn pipe() -> (
//! #     Pipe,
//! #     mpsc::UnboundedSender<Result<Frame, SocketError>>,
//! #     mpsc::UnboundedReceiver<Frame>,
//! # ) {
//! #     let (to_server, incoming) = mpsc::unbounded_channel();
//! #     let (outgoing, from_server) = mpsc::unbounded_channel();
//! #     (Pipe { incoming, outgoing }, to_server, from_server)
//! # }
//! # /// A text frame.
//! # fn text(text: &str) -> Result<Frame, SocketError> {
//! #     Ok(Frame::Text(bytes::Bytes::from(text.to_owned())))
//! # }
//! # /// The text of a text frame.
//! # fn text_of(frame: Option<Frame>) -> String {
//! #     match frame {
//! #         Some(Frame::Text(bytes)) => String::from_utf8(bytes.to_vec()).unwrap(),
//! #         other => panic!("expected a text frame, got {other:?}"),
//! #     }
//! # }
//! use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
//! use pkg_router::{CloseReason, HandlerError, Hub, Router};
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
//! let (socket, client, mut from_server) = pipe();
//! let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
//!
//! client.send(text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#)).unwrap();
//! let response = text_of(from_server.recv().await);
//! assert!(response.ends_with(r#""status_code":0,"meta":null,"data":"pong"}"#));
//!
//! hub.broadcast(100u32, "hello everyone")?;
//! assert!(text_of(from_server.recv().await).ends_with(r#""data":"hello everyone"}"#));
//!
//! hub.shutdown().await; // every connection closes with 1001
//! assert_eq!(from_server.recv().await, Some(Frame::Close(Some(CloseReason::going_away()))));
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

pub use auth::{AuthError, AuthFuture, AuthMode, Authenticator};
pub use config::{RateLimit, WsConfig};
pub use endpoint::{Admission, ConnectionPermit, Endpoint, Format, Rejection};
pub use frame::{Frame, SocketError};
pub use lifecycle::ConnectionEvent;
