//! [`MemorySocket`]: an in-memory WebSocket for driving [`Endpoint::serve`] without a network.
//!
//! [`Endpoint::serve`]: crate::transport::Endpoint::serve

use crate::hub::CloseReason;
use crate::transport::{Frame, SocketError};
use bytes::Bytes;
use futures_util::{Sink, Stream};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// The server's end of an in-memory WebSocket: a stream and sink of [`Frame`]s, the shape
/// [`Endpoint::serve`](crate::transport::Endpoint::serve) takes from a framework adapter.
/// [`MemorySocket::pair`] also returns the [`MemoryClient`] that plays the peer.
///
/// # Examples
///
/// A connection's whole life: a request, a push from the hub, and the close at shutdown.
///
/// ```
/// use pkg_router::testing::MemorySocket;
/// use pkg_router::transport::{AuthMode, Endpoint, Frame, WsConfig};
/// use pkg_router::{HandlerError, Router};
/// use pkg_router::hub::CloseReason;
/// use std::sync::Arc;
///
/// async fn ping() -> Result<&'static str, HandlerError> {
///     Ok("pong")
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let endpoint = Arc::new(Endpoint::new(Router::builder().handler(1, ping).build()?, config));
///
/// let (socket, mut client) = MemorySocket::pair();
/// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
///
/// client.send_text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#);
/// assert!(client.recv_text().await.ends_with(r#""status_code":0,"meta":null,"data":"pong"}"#));
///
/// endpoint.hub().broadcast(100u32, "hello everyone")?;
/// assert!(client.recv_text().await.ends_with(r#""data":"hello everyone"}"#));
///
/// let shutdown = tokio::spawn({
///     let hub = endpoint.hub().clone();
///     async move { hub.shutdown().await }
/// });
/// assert_eq!(client.recv().await, Some(Frame::Close(Some(CloseReason::going_away()))));
/// client.send(Frame::Close(None)); // the client's half of the close handshake
/// connection.await?;
/// shutdown.await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemorySocket {
    incoming: mpsc::UnboundedReceiver<Result<Frame, SocketError>>,
    outgoing: mpsc::UnboundedSender<Frame>,
}

/// The client's end of a [`MemorySocket`]. Dropping it is the peer going away.
#[derive(Debug)]
pub struct MemoryClient {
    to_server: mpsc::UnboundedSender<Result<Frame, SocketError>>,
    from_server: mpsc::UnboundedReceiver<Frame>,
}

impl MemorySocket {
    /// A connected pair: the server's socket and the client.
    ///
    /// # Examples
    ///
    /// See [`MemorySocket`].
    pub fn pair() -> (MemorySocket, MemoryClient) {
        let (to_server, incoming) = mpsc::unbounded_channel();
        let (outgoing, from_server) = mpsc::unbounded_channel();
        (
            MemorySocket { incoming, outgoing },
            MemoryClient {
                to_server,
                from_server,
            },
        )
    }
}

impl Stream for MemorySocket {
    type Item = Result<Frame, SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<Frame> for MemorySocket {
    type Error = SocketError;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), SocketError> {
        self.outgoing
            .send(frame)
            .map_err(|_| SocketError::Closed("the client is gone".into()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Poll::Ready(Ok(()))
    }
}

impl MemoryClient {
    /// Sends a frame to the server (ignored once the server's socket is gone).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::MemorySocket;
    /// use pkg_router::transport::Frame;
    ///
    /// let (_socket, client) = MemorySocket::pair();
    /// client.send(Frame::Ping(bytes::Bytes::new()));
    /// ```
    pub fn send(&self, frame: Frame) {
        let _ = self.to_server.send(Ok(frame));
    }

    /// Sends a text frame.
    ///
    /// # Examples
    ///
    /// See [`MemorySocket`].
    pub fn send_text(&self, text: &str) {
        self.send(Frame::Text(Bytes::from(text.to_owned())));
    }

    /// Makes the server's next read fail with `error`, as an adapter reports its library's
    /// errors (a message over the size limit, a protocol violation).
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::MemorySocket;
    /// use pkg_router::transport::{AuthMode, Endpoint, Frame, SocketError, WsConfig};
    /// use pkg_router::Router;
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
    /// client.fail(SocketError::TooBig);
    /// let closed = CloseReason::new(close_code::TOO_BIG, "message too big");
    /// assert_eq!(client.recv().await, Some(Frame::Close(Some(closed))));
    /// drop(client);
    /// connection.await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn fail(&self, error: SocketError) {
        let _ = self.to_server.send(Err(error));
    }

    /// The next frame from the server; `None` once the server's socket is gone.
    ///
    /// # Examples
    ///
    /// See [`MemorySocket`].
    pub async fn recv(&mut self) -> Option<Frame> {
        self.from_server.recv().await
    }

    /// The next frame, which must be a text frame.
    ///
    /// # Panics
    ///
    /// On anything else, or when nothing arrives within 10 s (a test helper: a hung test
    /// should fail, not hang).
    ///
    /// # Examples
    ///
    /// See [`MemorySocket`].
    pub async fn recv_text(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(10), self.recv()).await {
            Ok(Some(Frame::Text(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(other) => panic!("expected a text frame, got {other:?}"),
            Err(_) => panic!("no frame from the server within 10 s"),
        }
    }

    /// The close frame's reason, skipping anything before it; `None` if the socket ended
    /// without one.
    ///
    /// # Examples
    ///
    /// ```
    /// use pkg_router::testing::MemorySocket;
    /// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
    /// use pkg_router::Router;
    /// use pkg_router::hub::close_code;
    /// use std::sync::Arc;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let endpoint = Arc::new(Endpoint::new(Router::builder().allow_empty().build()?, WsConfig::default()));
    /// let (socket, mut client) = MemorySocket::pair();
    /// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, endpoint.admit(None, None)?, None));
    /// client.send_text(r#"{"pkg_id": 1}"#); // not the auth frame
    /// assert_eq!(client.recv_close().await.map(|r| r.code), Some(close_code::AUTH_FAILED));
    /// drop(client);
    /// connection.await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_close(&mut self) -> Option<CloseReason> {
        while let Some(frame) = self.recv().await {
            if let Frame::Close(reason) = frame {
                return reason;
            }
        }
        None
    }
}
