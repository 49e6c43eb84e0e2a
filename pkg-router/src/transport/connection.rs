//! One connection's life: auth handshake, registration, reader, writer, close.

use super::codec::{Codec, JsonCodec};
use super::endpoint::{Admission, Endpoint, Format};
use super::frame::{Frame, SocketError};
use crate::envelope::ResponseModel;
use crate::hub::{CloseReason, ConnectionInfo, Outbound, close_code};
use crate::principal::Principal;
use crate::router::Session;
use crate::state::Extensions;
use crate::status::{RspCode, error_code};
use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// The longest a close frame (or the flush before it) may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Frames written per flush at most, so one busy connection cannot starve its keepalive.
const MAX_BATCH: usize = 64;
/// The most clock-skew leeway honoured on token expiry.
const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// The auth frame of PROTOCOL.md section 6.2.
#[derive(Deserialize)]
struct AuthFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
}

enum FirstFrame {
    /// Authenticated by the auth frame: `auth_ok` is due once the connection is registered.
    Authenticated(Principal),
    /// Anonymous with nothing to replay.
    Done(Principal),
    /// Anonymous, and this request frame must be processed.
    Replay(Principal, Frame),
}

impl Endpoint {
    /// Runs one connection until it closes. `socket` is the upgraded WebSocket seen as a stream
    /// and sink of [`Frame`]s; `admission` is what [`Endpoint::admit`] returned for it.
    ///
    /// This is all a framework adapter has to call: the handshake, limits, keepalive, pushes
    /// and the close frame are handled here. `peer` is logged and given to handlers as
    /// [`ConnectionInfo::peer`]. Spawn one task per connection.
    ///
    /// # Examples
    ///
    /// Serving an in-memory socket; an adapter for another WebSocket library wraps its socket
    /// the same way:
    ///
    /// ```
    /// use futures_util::{Sink, Stream};
    /// use pkg_router::transport::{Frame, SocketError};
    /// use std::pin::Pin;
    /// use std::task::{Context, Poll};
    /// use tokio::sync::mpsc;
    /// /// The server's end of an in-memory WebSocket.
    /// struct Pipe {
    ///     incoming: mpsc::UnboundedReceiver<Result<Frame, SocketError>>,
    ///     outgoing: mpsc::UnboundedSender<Frame>,
    /// }
    /// impl Stream for Pipe {
    ///     type Item = Result<Frame, SocketError>;
    ///     fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
    ///         self.incoming.poll_recv(cx)
    ///     }
    /// }
    /// impl Sink<Frame> for Pipe {
    ///     type Error = SocketError;
    ///     fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), SocketError> {
    ///         self.outgoing.send(frame).map_err(|_| SocketError::Closed("client gone".into()))
    ///     }
    ///     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
    ///         Poll::Ready(Ok(()))
    ///     }
    ///     fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), SocketError>> {
    ///         Poll::Ready(Ok(()))
    ///     }
    /// }
    /// /// A connected pair: the server's socket, and the client's sender and receiver.
    /// fn pipe() -> (
    ///     Pipe,
    ///     mpsc::UnboundedSender<Result<Frame, SocketError>>,
    ///     mpsc::UnboundedReceiver<Frame>,
    /// ) {
    ///     let (to_server, incoming) = mpsc::unbounded_channel();
    ///     let (outgoing, from_server) = mpsc::unbounded_channel();
    ///     (Pipe { incoming, outgoing }, to_server, from_server)
    /// }
    /// /// A text frame.
    /// fn text(text: &str) -> Result<Frame, SocketError> {
    ///     Ok(Frame::Text(bytes::Bytes::from(text.to_owned())))
    /// }
    /// /// The text of a text frame.
    /// fn text_of(frame: Option<Frame>) -> String {
    ///     match frame {
    ///         Some(Frame::Text(bytes)) => String::from_utf8(bytes.to_vec()).unwrap(),
    ///         other => panic!("expected a text frame, got {other:?}"),
    ///     }
    /// }
    ///
    /// use pkg_router::transport::{AuthError, AuthFuture, Authenticator, Endpoint, WsConfig};
    /// use pkg_router::{CloseReason, HandlerError, Hub, Principal, Router};
    /// use std::sync::Arc;
    ///
    /// /// Any token is a user of that name.
    /// struct Names;
    ///
    /// impl Authenticator for Names {
    ///     fn authenticate<'a>(&'a self, token: &'a str) -> AuthFuture<'a> {
    ///         Box::pin(async move { Ok::<_, AuthError>(Principal::new(token, token)) })
    ///     }
    /// }
    ///
    /// async fn whoami(me: Principal) -> Result<String, HandlerError> {
    ///     Ok(me.name)
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let router = Router::builder().handler(1, whoami).build()?;
    /// let endpoint = Arc::new(
    ///     Endpoint::new(router, Hub::new(), WsConfig::default()).with_authenticator(Names),
    /// );
    /// let admission = endpoint.admit(None, None)?;
    /// let (socket, client, mut from_server) = pipe();
    /// let connection = tokio::spawn(Arc::clone(&endpoint).serve(socket, admission, None));
    ///
    /// client.send(text(r#"{"type": "auth", "token": "Bearer ann"}"#)).unwrap();
    /// assert_eq!(text_of(from_server.recv().await), r#"{"type":"auth_ok"}"#);
    /// client.send(text(r#"{"pkg_id": 1, "req_id": "550e8400-e29b-41d4-a716-446655440000"}"#)).unwrap();
    /// assert!(text_of(from_server.recv().await).ends_with(r#""data":"ann"}"#));
    /// assert_eq!(endpoint.hub().connection_count(), 1);
    ///
    /// drop(client); // the peer goes away
    /// assert_eq!(from_server.recv().await, Some(Frame::Close(Some(CloseReason::new(1000, "")))));
    /// connection.await.unwrap();
    /// assert_eq!(endpoint.hub().connection_count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn serve<S>(
        self: Arc<Self>,
        socket: S,
        admission: Admission,
        peer: Option<SocketAddr>,
    ) where
        S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError>,
        S: Send + Unpin + 'static,
    {
        let span = tracing::info_span!(
            "ws_connection",
            peer = peer.map(tracing::field::display),
            connection = tracing::field::Empty,
            principal = tracing::field::Empty,
        );
        async move {
            let _permit = admission.permit;
            let admission_format = admission.format;
            let (mut sink, mut stream) = socket.split();
            let first = match self.handshake(&mut stream).await {
                Ok(first) => first,
                Err(Some(reason)) => {
                    count_connection("rejected");
                    tracing::info!(code = reason.code, reason = %reason.reason, "closing during handshake");
                    close(&mut sink, reason).await;
                    return;
                }
                Err(None) => return,
            };
            let (principal, replay, authenticated) = match first {
                FirstFrame::Authenticated(principal) => (principal, None, true),
                FirstFrame::Done(principal) => (principal, None, false),
                FirstFrame::Replay(principal, frame) => (principal, Some(frame), false),
            };
            let principal_id = (!principal.is_anonymous()).then(|| principal.id.clone());
            let (queue_tx, queue_rx) = mpsc::channel(self.config.outbound_queue.max(1));
            let (close_tx, close_rx) = watch::channel(None);
            let registration = match self.hub.register(
                principal_id.as_deref(),
                self.config.max_connections_per_principal,
                queue_tx.clone(),
                close_tx.clone(),
            ) {
                Ok(registration) => registration,
                Err(err) => {
                    count_connection("rejected");
                    tracing::info!(error = %err, "connection refused");
                    close(&mut sink, CloseReason::new(close_code::POLICY, err.to_string())).await;
                    return;
                }
            };
            // Only now: a client that got `auth_ok` is registered and receives every later push.
            if authenticated {
                let ok = Frame::Text(Bytes::from_static(br#"{"type":"auth_ok"}"#));
                if sink.send(ok).await.is_err() {
                    return;
                }
            }
            count_connection("accepted");
            let span = tracing::Span::current();
            span.record("connection", tracing::field::display(registration.id()));
            span.record("principal", principal.name.as_str());
            tracing::debug!("connection open");

            let expires_at = principal.expires_at;
            let limiter_key: Arc<str> = match &principal_id {
                Some(id) => Arc::from(id.as_str()),
                None => Arc::from(format!("anonymous:{}", registration.id())),
            };
            let info = ConnectionInfo {
                id: registration.id(),
                peer,
            };
            let session = Session::new(principal).with_extensions(
                Extensions::new().with(self.hub.clone()).with(info),
            );
            let started = Instant::now();
            let last_seen = Arc::new(AtomicU64::new(0));
            let codec = match admission_format {
                Format::Json => JsonCodec,
            };
            let writer = write_loop(
                codec,
                sink,
                queue_rx,
                close_tx.clone(),
                close_rx.clone(),
                Keepalive {
                    interval: self.config.ping_interval,
                    timeout: self.config.pong_timeout,
                    started,
                    last_seen: Arc::clone(&last_seen),
                },
            );
            let reader = Reader {
                codec,
                endpoint: &self,
                session: &session,
                limiter_key: &limiter_key,
                queue: &queue_tx,
                close: &close_tx,
                started,
                last_seen: &last_seen,
            };
            // Reader and writer are two futures of this one task, not two tasks: a response
            // reaches the socket without waking another worker thread, and a peer that does not
            // read still cannot stop the reader (the writer alone waits on the socket).
            let reading = reader.run(&mut stream, close_rx, replay, expiry_deadline(expires_at, &self));
            tokio::join!(reading, writer);
            drop(registration);
            if let Some(limiter) = &self.limiter {
                limiter.retain_recent();
            }
            tracing::debug!("connection closed");
        }
        .instrument(span)
        .await;
    }

    /// The first-message handshake. `Err(Some(reason))` closes with that reason; `Err(None)`
    /// means the peer went away.
    async fn handshake<R>(&self, stream: &mut R) -> Result<FirstFrame, Option<CloseReason>>
    where
        R: Stream<Item = Result<Frame, SocketError>> + Unpin,
    {
        use super::auth::AuthMode;
        let required = match self.config.auth {
            AuthMode::Disabled => return Ok(FirstFrame::Done(Principal::anonymous())),
            AuthMode::Required => true,
            AuthMode::Optional => false,
        };
        let first = match tokio::time::timeout(self.config.auth_timeout, next_message(stream)).await
        {
            Err(_) if required => {
                return Err(Some(CloseReason::new(
                    close_code::AUTH_TIMEOUT,
                    "authentication timeout",
                )));
            }
            Err(_) => return Ok(FirstFrame::Done(Principal::anonymous())),
            Ok(Err(err)) => return Err(too_big(&err)),
            Ok(Ok(None)) => return Err(None),
            Ok(Ok(Some(frame))) => frame,
        };
        let auth_frame = match &first {
            Frame::Text(text) => serde_json::from_slice::<AuthFrame>(text)
                .ok()
                .filter(|frame| frame.kind.as_deref() == Some("auth")),
            _ => None,
        };
        let Some(auth_frame) = auth_frame else {
            if required {
                return Err(Some(CloseReason::new(
                    close_code::AUTH_FAILED,
                    "expected an auth frame",
                )));
            }
            return Ok(match first {
                frame @ (Frame::Text(_) | Frame::Binary(_)) => {
                    FirstFrame::Replay(Principal::anonymous(), frame)
                }
                _ => FirstFrame::Done(Principal::anonymous()),
            });
        };
        let token = auth_frame
            .token
            .as_deref()
            .and_then(bearer)
            .ok_or_else(|| {
                Some(CloseReason::new(
                    close_code::AUTH_FAILED,
                    "token must be `Bearer <token>`",
                ))
            })?;
        let Some(authenticator) = &self.authenticator else {
            tracing::error!("auth frame received but the endpoint has no authenticator");
            return Err(Some(CloseReason::new(
                close_code::AUTH_FAILED,
                "authentication unavailable",
            )));
        };
        let principal = authenticator
            .authenticate(token)
            .await
            .map_err(|err| Some(CloseReason::new(close_code::AUTH_FAILED, err.to_string())))?;
        if expiry_deadline(principal.expires_at, self)
            .is_some_and(|at| at <= tokio::time::Instant::now())
        {
            return Err(Some(CloseReason::new(
                close_code::AUTH_FAILED,
                "token expired",
            )));
        }
        Ok(FirstFrame::Authenticated(principal))
    }
}

/// Everything the reader of one connection works with.
struct Reader<'a, C> {
    codec: C,
    endpoint: &'a Endpoint,
    session: &'a Session,
    limiter_key: &'a Arc<str>,
    queue: &'a mpsc::Sender<Outbound>,
    close: &'a watch::Sender<Option<CloseReason>>,
    started: Instant,
    last_seen: &'a AtomicU64,
}

impl<C: Codec> Reader<'_, C> {
    async fn run<R>(
        &self,
        stream: &mut R,
        mut close_rx: watch::Receiver<Option<CloseReason>>,
        replay: Option<Frame>,
        expiry: Option<tokio::time::Instant>,
    ) where
        R: Stream<Item = Result<Frame, SocketError>> + Unpin,
    {
        let config = &self.endpoint.config;
        let mut in_flight = FuturesUnordered::new();
        let mut malformed = 0_u32;
        let mut shutdown = self.endpoint.hub.shutdown_signal();
        let expired = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        if let Some(frame) = replay {
            in_flight.push(self.dispatch(frame));
        }
        // Both signals resolve once: pinned once, not re-registered on every iteration.
        let already_shutting_down = *shutdown.borrow_and_update();
        let closed = close_rx.changed();
        let shutdown_started = shutdown.changed();
        tokio::pin!(closed, shutdown_started);
        let shutting_down = already_shutting_down
            || loop {
                tokio::select! {
                    biased;
                    _ = &mut closed => break false,
                    _ = &mut shutdown_started => break true,
                    () = &mut expired => {
                        self.close.send_replace(Some(CloseReason::new(close_code::AUTH_FAILED, "token expired")));
                        break false;
                    }
                    Some((reply, was_malformed)) = in_flight.next(), if !in_flight.is_empty() => {
                        malformed = if was_malformed { malformed + 1 } else { 0 };
                        if !self.push(reply) {
                            break false;
                        }
                        if config.max_malformed > 0 && malformed >= config.max_malformed {
                            self.close.send_replace(Some(CloseReason::new(close_code::POLICY, "too many malformed frames")));
                            break false;
                        }
                    }
                    frame = stream.next(), if in_flight.len() < config.max_in_flight.max(1) => {
                        self.last_seen.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
                        match frame {
                            None => break false,
                            Some(Err(err)) => {
                                if let Some(reason) = too_big(&err) {
                                    self.close.send_replace(Some(reason));
                                }
                                break false;
                            }
                            Some(Ok(frame @ (Frame::Text(_) | Frame::Binary(_)))) => {
                                count_message_received();
                                in_flight.push(self.dispatch(frame));
                            }
                            Some(Ok(Frame::Close(_))) => break false,
                            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
                        }
                    }
                }
            };
        if shutting_down {
            // Stop reading; answer what is in flight (within the grace period), then 1001.
            let drain = async {
                while let Some((reply, _)) = in_flight.next().await {
                    self.push(reply);
                }
            };
            if tokio::time::timeout(config.shutdown_grace, drain)
                .await
                .is_err()
            {
                tracing::warn!("shutdown grace period over with requests still running");
            }
            self.close.send_replace(Some(CloseReason::going_away()));
        } else {
            // The peer left, or we are closing: make sure the writer stops too.
            self.close.send_if_modified(|reason| {
                if reason.is_none() {
                    *reason = Some(CloseReason::new(close_code::NORMAL, ""));
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Handles one data frame: rate limit, handler timeout, dispatch.
    async fn dispatch(&self, frame: Frame) -> (Outbound, bool) {
        if let Some(limiter) = &self.endpoint.limiter
            && let Err(wait) = limiter.check(self.limiter_key)
        {
            #[cfg(feature = "metrics")]
            metrics::counter!("rate_limit_hits_total").increment(1);
            let (pkg_id, req_id) = self.codec.ids(&frame);
            tracing::debug!(pkg_id, %req_id, retry_after_ms = wait.as_millis() as u64, "rate limited");
            let reply = ResponseModel::error(
                pkg_id,
                req_id,
                RspCode::Error,
                error_code::RATE_LIMITED,
                "Rate limit exceeded",
                Some(json!({ "retry_after_ms": wait.as_millis().max(1) as u64 })),
            );
            return (self.codec.encode(&reply), false);
        }
        let router = &self.endpoint.router;
        let Some(limit) = self.endpoint.config.handler_timeout else {
            return self.codec.handle(router, self.session, frame).await;
        };
        // A cheap copy (shared bytes), to read the ids only if the request times out.
        let copy = frame.clone();
        match tokio::time::timeout(limit, self.codec.handle(router, self.session, frame)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let (pkg_id, req_id) = self.codec.ids(&copy);
                tracing::warn!(pkg_id, %req_id, "request exceeded the transport's handler timeout");
                let reply = crate::router::timeout_response(pkg_id, req_id, limit);
                (self.codec.encode(&reply), false)
            }
        }
    }

    /// Queues a response; a full queue closes the connection as a slow consumer.
    fn push(&self, reply: Outbound) -> bool {
        match self.queue.try_send(reply) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("outbound queue full: closing slow consumer");
                self.close.send_replace(Some(CloseReason::slow_consumer()));
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

struct Keepalive {
    interval: Duration,
    timeout: Duration,
    started: Instant,
    last_seen: Arc<AtomicU64>,
}

/// Sends queued frames and pings until the close signal, then sends the close frame.
async fn write_loop<C: Codec, W>(
    codec: C,
    mut sink: W,
    mut queue: mpsc::Receiver<Outbound>,
    close_tx: watch::Sender<Option<CloseReason>>,
    mut close_rx: watch::Receiver<Option<CloseReason>>,
    keepalive: Keepalive,
) where
    W: Sink<Frame, Error = SocketError> + Unpin,
{
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + keepalive.interval,
        keepalive.interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    {
        // The close signal resolves once: one pinned future for the whole loop, rather than a new
        // waiter registered (and removed) on every iteration.
        let closing = close_rx.borrow_and_update().is_some();
        let closed = close_rx.changed();
        tokio::pin!(closed);
        if !closing {
            loop {
                tokio::select! {
                    biased;
                    _ = &mut closed => break,
                    message = queue.recv() => {
                        let Some(message) = message else { break };
                        // Everything already queued goes out with one flush: one write for a burst.
                        let batch = async {
                            sink.feed(into_frame(codec, message)).await?;
                            let mut sent = 1;
                            while sent < MAX_BATCH {
                                let Ok(next) = queue.try_recv() else { break };
                                sink.feed(into_frame(codec, next)).await?;
                                sent += 1;
                            }
                            sink.flush().await.map(|()| sent)
                        };
                        tokio::select! {
                            sent = batch => match sent {
                                Ok(sent) => (0..sent).for_each(|_| count_message_sent()),
                                Err(_) => {
                                    close_tx.send_replace(Some(CloseReason::new(close_code::NORMAL, "")));
                                    return;
                                }
                            },
                            // The peer does not read and we were told to close: give up on these frames.
                            _ = &mut closed => break,
                        }
                    }
                    _ = ticker.tick() => {
                        let idle = keepalive.started.elapsed().as_millis() as u64
                            - keepalive.last_seen.load(Ordering::Relaxed).min(keepalive.started.elapsed().as_millis() as u64);
                        if Duration::from_millis(idle) > keepalive.interval + keepalive.timeout {
                            tracing::info!(idle_ms = idle, "keepalive timeout");
                            close_tx.send_replace(Some(CloseReason::new(close_code::POLICY, "keepalive timeout")));
                            break;
                        }
                        if sink.send(Frame::Ping(Bytes::new())).await.is_err() {
                            close_tx.send_replace(Some(CloseReason::new(close_code::NORMAL, "")));
                            return;
                        }
                    }
                }
            }
        }
    }
    let reason = close_rx
        .borrow()
        .clone()
        .unwrap_or_else(|| CloseReason::new(close_code::NORMAL, ""));
    if reason != CloseReason::slow_consumer() {
        // Responses queued before a graceful close still go out.
        let flush = async {
            while let Ok(message) = queue.try_recv() {
                if sink.send(into_frame(codec, message)).await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, flush).await;
    }
    close(&mut sink, reason).await;
}

fn into_frame<C: Codec>(codec: C, message: Outbound) -> Frame {
    match message {
        Outbound::Text(bytes) => Frame::Text(bytes),
        Outbound::Binary(bytes) => Frame::Binary(bytes),
        Outbound::Push(push) => codec.push(&push),
    }
}

/// Sends a close frame, giving up after [`CLOSE_TIMEOUT`].
async fn close<W>(sink: &mut W, reason: CloseReason)
where
    W: Sink<Frame, Error = SocketError> + Unpin,
{
    let attempt = async {
        let _ = sink.send(Frame::Close(Some(reason))).await;
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, attempt).await;
}

/// The next text or binary frame, skipping control frames.
async fn next_message<R>(stream: &mut R) -> Result<Option<Frame>, SocketError>
where
    R: Stream<Item = Result<Frame, SocketError>> + Unpin,
{
    loop {
        match stream.next().await {
            None | Some(Ok(Frame::Close(_))) => return Ok(None),
            Some(Err(err)) => return Err(err),
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
            Some(Ok(frame)) => return Ok(Some(frame)),
        }
    }
}

fn too_big(err: &SocketError) -> Option<CloseReason> {
    matches!(err, SocketError::TooBig)
        .then(|| CloseReason::new(close_code::TOO_BIG, "message too big"))
}

/// `Bearer <token>`, scheme case-insensitive.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// When the connection must close because its token expired (expiry plus leeway, at most 60 s).
fn expiry_deadline(
    expires_at: Option<SystemTime>,
    endpoint: &Endpoint,
) -> Option<tokio::time::Instant> {
    let expires_at = expires_at?;
    let leeway = endpoint
        .authenticator
        .as_ref()
        .map_or(Duration::ZERO, |a| a.leeway().min(MAX_LEEWAY));
    let remaining = expires_at
        .checked_add(leeway)
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .unwrap_or(Duration::ZERO);
    Some(tokio::time::Instant::now() + remaining)
}

fn count_connection(status: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_connections_total", "status" => status).increment(1);
    let _ = status;
}

fn count_message_received() {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_messages_received_total").increment(1);
}

fn count_message_sent() {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_messages_sent_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("abc"), None);
    }
}
