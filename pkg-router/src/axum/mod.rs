//! Serving a router over WebSocket with [axum](https://docs.rs/axum).
//!
//! [`ws`] turns an [`Endpoint`] into an axum route handler; mount it wherever you like, next to
//! your other routes. [`serve`] runs the app: it shuts down on SIGTERM or SIGINT without losing
//! an answer, and drops clients that never finish their HTTP upgrade.
//!
//! ```no_run
//! use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
//! use pkg_router::{Hub, Router};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new();
//! let router = Router::builder().hub(hub.clone()).with_registered().build()?;
//! let mut config = WsConfig::default();
//! config.auth = AuthMode::Disabled;
//! let app = axum::Router::new()
//!     .route("/web", pkg_router::axum::ws(Endpoint::new(router, config)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! // Until SIGTERM or Ctrl-C; then every request already received is answered, and every
//! // connection closed with 1001.
//! pkg_router::axum::serve(listener, app, hub).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The endpoint's connections register in the router's hub; give `serve` the same hub.
//!
//! With `axum::serve` instead, pass `into_make_service_with_connect_info::<SocketAddr>()` (for
//! the peer address) and call [`Hub::shutdown`](crate::Hub::shutdown) from its graceful-shutdown
//! future; it has no header-read timeout, though.

mod serve;

pub use serve::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_PENDING_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT, Serve,
    serve, shutdown_signal,
};

use crate::hub::CloseReason;
use crate::transport::{Endpoint, Frame, SocketError};
use ::axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use ::axum::extract::{ConnectInfo, FromRequestParts, RawQuery};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, StatusCode, header};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{MethodRouter, get};
use bytes::Bytes;
use futures_util::{Sink, Stream};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

/// An axum `GET` route that upgrades to WebSocket and serves `endpoint`
/// ([protocol](crate::protocol) §1 and §6): `?format=` checked (400), `Origin` checked (403),
/// connection limit and shutdown checked (503), then the connection runs with the configured
/// message size and buffer sizes.
///
/// The peer address is logged and available to handlers ([`ConnectionInfo`](crate::ConnectionInfo))
/// when the app is served with `into_make_service_with_connect_info::<SocketAddr>()`.
///
/// # Examples
///
/// A real server on a free port, and a client:
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use pkg_router::transport::{AuthMode, Endpoint, WsConfig};
/// use pkg_router::{HandlerError, Hub, Router};
/// use tokio_tungstenite::tungstenite::{Error, Message};
///
/// async fn ping() -> Result<&'static str, HandlerError> {
///     Ok("pong")
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut config = WsConfig::default();
/// config.auth = AuthMode::Disabled;
/// let endpoint = Endpoint::new(Router::builder().handler(1, ping).build()?, config);
/// let app = axum::Router::new().route("/web", pkg_router::axum::ws(endpoint));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// tokio::spawn(async move { axum::serve(listener, app).await });
///
/// let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/web")).await?;
/// client.send(Message::text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#)).await?;
/// let reply = client.next().await.unwrap()?;
/// assert!(reply.to_text()?.ends_with(r#""status_code":0,"meta":null,"data":"pong"}"#));
///
/// // Refused before the upgrade, with a plain HTTP status.
/// let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/web?format=xml")).await;
/// assert!(matches!(refused, Err(Error::Http(response)) if response.status() == 400));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn ws<S>(endpoint: Endpoint) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let endpoint = Arc::new(endpoint);
    get(
        move |upgrade: WebSocketUpgrade,
              RawQuery(query): RawQuery,
              headers: HeaderMap,
              Peer(peer): Peer| {
            let endpoint = Arc::clone(&endpoint);
            async move { upgrade_connection(endpoint, upgrade, query, &headers, peer) }
        },
    )
}

fn upgrade_connection(
    endpoint: Arc<Endpoint>,
    upgrade: WebSocketUpgrade,
    query: Option<String>,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Response {
    let format = query.as_deref().and_then(format_param);
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let admission = match endpoint.admit(format, origin) {
        Ok(admission) => admission,
        Err(rejection) => {
            // Debug-escaped: the text quotes the query string.
            tracing::debug!(rejection = ?rejection.to_string(), ?peer, "upgrade refused");
            let status =
                StatusCode::from_u16(rejection.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, rejection.to_string()).into_response();
        }
    };
    let config = endpoint.config();
    let max = config.max_message_size;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(config.write_buffer_size)
        // No `async` block around `serve`: it would hold the socket a second time.
        .on_upgrade(move |socket| endpoint.serve(AxumSocket(socket), admission, peer))
}

/// The value of `format` in a query string.
fn format_param(query: &str) -> Option<&str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == "format")
        .map(|(_, value)| value)
}

/// The peer address, when the app records it.
struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

/// An axum WebSocket seen as a stream and sink of transport-neutral frames.
struct AxumSocket(WebSocket);

impl Stream for AxumSocket {
    type Item = Result<Frame, SocketError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let message = ready!(Pin::new(&mut self.0).poll_next(cx));
        Poll::Ready(message.map(|message| match message {
            Ok(Message::Text(text)) => Ok(Frame::Text(Bytes::from(text))),
            Ok(Message::Binary(bytes)) => Ok(Frame::Binary(bytes)),
            Ok(Message::Ping(bytes)) => Ok(Frame::Ping(bytes)),
            Ok(Message::Pong(bytes)) => Ok(Frame::Pong(bytes)),
            Ok(Message::Close(frame)) => {
                Ok(Frame::Close(frame.map(|f| {
                    CloseReason::new(f.code, f.reason.as_str().to_owned())
                })))
            }
            Err(err) => Err(socket_error(err)),
        }))
    }
}

impl Sink<Frame> for AxumSocket {
    type Error = SocketError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Pin::new(&mut self.0).poll_ready(cx).map_err(socket_error)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Frame) -> Result<(), SocketError> {
        let message = match frame {
            Frame::Text(bytes) => Message::Text(
                Utf8Bytes::try_from(bytes).map_err(|e| SocketError::Closed(e.to_string()))?,
            ),
            Frame::Binary(bytes) => Message::Binary(bytes),
            Frame::Ping(bytes) => Message::Ping(bytes),
            Frame::Pong(bytes) => Message::Pong(bytes),
            Frame::Close(reason) => Message::Close(reason.map(|r| CloseFrame {
                code: r.code,
                reason: Utf8Bytes::from(r.reason.as_ref()),
            })),
        };
        Pin::new(&mut self.0)
            .start_send(message)
            .map_err(socket_error)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Pin::new(&mut self.0).poll_flush(cx).map_err(socket_error)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
        Pin::new(&mut self.0).poll_close(cx).map_err(socket_error)
    }
}

fn socket_error(err: ::axum::Error) -> SocketError {
    let inner = err.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => SocketError::TooBig,
        Some(tungstenite::Error::Utf8(_)) => SocketError::InvalidUtf8,
        // A peer that vanished without a close frame broke no framing rule worth answering.
        Some(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        )) => SocketError::Closed(inner.to_string()),
        Some(tungstenite::Error::Protocol(violation)) => {
            SocketError::Protocol(violation.to_string())
        }
        _ => SocketError::Closed(inner.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::format_param;

    #[test]
    fn format_is_read_from_the_query() {
        assert_eq!(format_param("format=json"), Some("json"));
        assert_eq!(format_param("a=1&format=PROTOBUF&b"), Some("PROTOBUF"));
        assert_eq!(format_param("formats=json"), None);
        assert_eq!(format_param("format"), Some(""));
    }
}
