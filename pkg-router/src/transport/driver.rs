//! The loop of an open connection: read frames, run requests, write answers and pushes, ping,
//! and stop on a close signal, a shutdown, an expired token or a gone peer.
//!
//! It is one hand-polled future that owns the socket, rather than a reader and a writer joined
//! together: an answer is written in the same poll that produced it (no channel hop, no wake of
//! the task by itself), the socket is not split behind a lock, and the close and shutdown
//! signals are polled once per wake instead of once per frame.

use super::codec::Codec;
use super::endpoint::Endpoint;
use super::frame::{Frame, SocketError};
use super::in_flight::InFlight;
use crate::envelope::ResponseModel;
use crate::hub::{CloseReason, Outbound, close_code};
use crate::router::Session;
use crate::status::{RspCode, error_code};
use bytes::Bytes;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use serde_json::json;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Interval, Sleep};

/// The longest the last frames and the close frame may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// At shutdown, how long the socket must stay without a new frame before reading stops. Not
/// zero: a frame can sit in the kernel before the runtime's reactor reports it readable.
const READ_OUT_QUIET: Duration = Duration::from_millis(20);
/// Frames handed to the socket per flush at most: one write for a burst, yet bounded.
const MAX_BATCH: usize = 64;
/// Frames written in one wake at most before yielding to the other tasks of the thread.
const MAX_WRITES_PER_POLL: usize = 4 * MAX_BATCH;

/// What runs one request: the parts of a connection that requests borrow.
pub(super) struct Dispatcher<'a, C> {
    pub(super) codec: C,
    pub(super) endpoint: &'a Endpoint,
    pub(super) session: &'a Session,
    pub(super) limiter_key: Arc<str>,
}

impl<C: Codec> Dispatcher<'_, C> {
    /// Handles one data frame: rate limit, transport timeout, dispatch. The flag tells whether
    /// the frame was malformed.
    pub(super) async fn dispatch(&self, frame: Frame) -> (Outbound, bool) {
        if let Some(limiter) = &self.endpoint.limiter
            && let Err(wait) = limiter.check(&self.limiter_key)
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
        let handling = self.codec.handle(router, self.session, frame);
        let mut handling = std::pin::pin!(handling);
        // Most requests finish in their first poll: they need no timer (nor a clock read). The
        // limit then counts from the first time the request waits.
        if let Some(outcome) = handling.as_mut().now_or_never() {
            return outcome;
        }
        match tokio::time::timeout(limit, handling).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let (pkg_id, req_id) = self.codec.ids(&copy);
                tracing::warn!(pkg_id, %req_id, "request exceeded the transport's handler timeout");
                let reply = crate::router::timeout_response(pkg_id, req_id, limit);
                (self.codec.encode(&reply), false)
            }
        }
    }
}

/// Why the loop stopped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// Close with the reason now in the close signal (ours, the hub's, or normal when the peer
    /// left).
    Close,
    /// The server shuts down: [`Driver::finish`] answers what arrived, then closes with 1001.
    Shutdown,
    /// All in-flight requests are answered (only once reading is [`Reading::Closed`]).
    Drained,
    /// Writing failed: the socket is unusable, nothing more can be sent.
    SocketGone,
}

/// Whether the loop takes new requests from the socket.
///
/// Shutdown moves it `Open` -> `UntilIdle` -> `Closed`: a request is either read, run and
/// answered before the close frame, or never read at all (and then never run). A client can
/// therefore resend every request left unanswered at a 1001 close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reading {
    /// Read and run requests until a stop.
    Open,
    /// Shutting down: read what has already arrived, until the socket has had no complete
    /// frame for [`READ_OUT_QUIET`], then turn `Closed`.
    UntilIdle,
    /// Read nothing more; the loop ends with [`Stop::Drained`] once every request is answered.
    Closed,
}

/// The state of one open connection's loop.
pub(super) struct Driver<'d, C, S, D, F> {
    codec: C,
    socket: S,
    /// Requests being handled, and how to start one.
    in_flight: InFlight<F>,
    dispatch: D,
    /// Pushes from the hub (broadcasts, messages to this principal).
    pushes: mpsc::Receiver<Outbound>,
    /// Frames waiting for the socket ahead of `pushes`: answers (with the pushes queued before
    /// them, to keep their order), pings.
    outbox: VecDeque<Frame>,
    /// Frames handed to the socket since its last flush.
    unflushed: usize,
    /// The close signal: set by us, by the hub, or by whoever kicks the connection.
    close: &'d watch::Sender<Option<CloseReason>>,
    closed: Pin<Box<dyn Future<Output = ()> + Send + 'd>>,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send + 'd>>,
    expiry: Option<Pin<Box<Sleep>>>,
    ticker: Interval,
    /// When a frame was last seen, to the tick; `seen`: a frame came since the last tick.
    last_seen: Instant,
    seen: bool,
    limits: Limits,
    malformed: u32,
    reading: Reading,
    /// While `UntilIdle`: runs from the read that found the socket empty.
    quiet: Option<Pin<Box<Sleep>>>,
    /// The peer sent its close frame (or ended the stream): nothing to linger for.
    peer_closed: bool,
}

/// The numbers the loop works with (from [`WsConfig`](super::WsConfig)).
pub(super) struct Limits {
    pub(super) max_in_flight: usize,
    pub(super) outbound_queue: usize,
    pub(super) max_malformed: u32,
    pub(super) ping_interval: Duration,
    pub(super) pong_timeout: Duration,
    pub(super) close_linger: Duration,
}

/// The signals that end the loop from outside.
pub(super) struct Signals<'d> {
    pub(super) close: &'d watch::Sender<Option<CloseReason>>,
    pub(super) close_rx: watch::Receiver<Option<CloseReason>>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) expiry: Option<Instant>,
}

impl<'d, C, S, D, F> Driver<'d, C, S, D, F>
where
    C: Codec,
    S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin,
    D: Fn(Frame) -> F,
    F: Future<Output = (Outbound, bool)>,
{
    pub(super) fn new(
        codec: C,
        socket: S,
        dispatch: D,
        pushes: mpsc::Receiver<Outbound>,
        signals: Signals<'d>,
        limits: Limits,
    ) -> Self {
        let Signals {
            close,
            mut close_rx,
            mut shutdown,
            expiry,
        } = signals;
        // A signal already given when the loop starts counts at once.
        let closing = close_rx.borrow_and_update().is_some();
        let shutting_down = *shutdown.borrow_and_update();
        let closed: Pin<Box<dyn Future<Output = ()> + Send>> = if closing {
            Box::pin(std::future::ready(()))
        } else {
            Box::pin(async move {
                // Resolves when the signal is set, or when every sender is gone.
                let _ = close_rx.changed().await;
            })
        };
        let shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = if shutting_down {
            Box::pin(std::future::ready(()))
        } else {
            Box::pin(async move {
                // The hub outlives its connections; its end dropping means no shutdown comes.
                if shutdown.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
        };
        let mut ticker =
            tokio::time::interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            codec,
            socket,
            in_flight: InFlight::new(),
            dispatch,
            pushes,
            outbox: VecDeque::new(),
            unflushed: 0,
            close,
            closed,
            shutdown,
            expiry: expiry.map(|at| Box::pin(tokio::time::sleep_until(at))),
            ticker,
            last_seen: Instant::now(),
            seen: false,
            limits,
            malformed: 0,
            reading: Reading::Open,
            quiet: None,
            peer_closed: false,
        }
    }

    /// Starts handling `frame` (the request that came with an anonymous first frame).
    pub(super) fn start(&mut self, frame: Frame) {
        self.in_flight.push((self.dispatch)(frame));
    }

    /// Runs until a stop. Cancel-safe: every piece of state lives in `self`, so a run cut short
    /// by a timeout can be resumed by another.
    pub(super) async fn run(&mut self) -> Stop {
        std::future::poll_fn(|cx| self.poll_step(cx)).await
    }

    /// After [`Stop::Shutdown`]: runs and answers every request that had arrived, within
    /// `grace`, then sets the close reason to 1001 and returns [`Stop::Close`] (or
    /// [`Stop::SocketGone`], or another close the peer or a limit caused meanwhile).
    ///
    /// Reading what arrived may take at most half of `grace`, so that a peer that keeps
    /// sending cannot leave the requests already read without their answers.
    pub(super) async fn finish(&mut self, grace: Duration) -> Stop {
        let start = Instant::now();
        self.reading = Reading::UntilIdle;
        let stop = match tokio::time::timeout_at(start + grace / 2, self.run()).await {
            Ok(stop) => stop,
            Err(_) => {
                self.reading = Reading::Closed;
                match tokio::time::timeout_at(start + grace, self.run()).await {
                    Ok(stop) => stop,
                    Err(_) => {
                        tracing::warn!(
                            abandoned = self.in_flight.len(),
                            "shutdown grace period over with requests still running"
                        );
                        Stop::Drained
                    }
                }
            }
        };
        if stop == Stop::Drained {
            self.close.send_replace(Some(CloseReason::going_away()));
            return Stop::Close;
        }
        stop
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Stop> {
        // The signals registered their wakers; polling them once per wake is enough.
        if self.closed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Stop::Close);
        }
        if self.reading == Reading::Open && self.shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Stop::Shutdown);
        }
        if let Some(expiry) = &mut self.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(self.stop(close_code::AUTH_FAILED, "token expired"));
        }
        // Until `Pending`: that poll registers the wake-up for the next tick.
        while let Poll::Ready(tick) = self.ticker.poll_tick(cx) {
            // Frames since the last tick count as seen now: no clock read per frame, at the
            // price of dropping a silent peer up to one interval later.
            if std::mem::take(&mut self.seen) {
                self.last_seen = tick;
            }
            let idle = tick.saturating_duration_since(self.last_seen);
            if idle > self.limits.ping_interval + self.limits.pong_timeout {
                tracing::info!(idle_ms = idle.as_millis() as u64, "keepalive timeout");
                return Poll::Ready(self.stop(close_code::POLICY, "keepalive timeout"));
            }
            self.outbox.push_back(Frame::Ping(Bytes::new()));
        }
        // Whether the socket may hold more frames: false once a read returned `Pending`, which
        // registered the wake-up for the next one.
        let mut may_read = true;
        // The same for pushes: once `poll_recv` returned `Pending`, `try_recv` is enough.
        let mut may_recv = true;
        let mut written = 0;
        loop {
            let mut progress = false;
            // Answers first: they free in-flight slots and go out with this flush.
            while let Poll::Ready(Some((reply, was_malformed))) = self.in_flight.poll_next_unpin(cx)
            {
                progress = true;
                self.malformed = if was_malformed { self.malformed + 1 } else { 0 };
                // Pushes queued while the request ran go out before its answer, as queued.
                while let Ok(push) = self.pushes.try_recv() {
                    self.outbox.push_back(into_frame(self.codec, push));
                }
                if self.outbox.len() >= self.limits.outbound_queue {
                    tracing::warn!("outbound queue full: closing slow consumer");
                    self.close.send_replace(Some(CloseReason::slow_consumer()));
                    return Poll::Ready(Stop::Close);
                }
                self.outbox.push_back(into_frame(self.codec, reply));
                if self.limits.max_malformed > 0 && self.malformed >= self.limits.max_malformed {
                    return Poll::Ready(self.stop(close_code::POLICY, "too many malformed frames"));
                }
            }
            if self.reading == Reading::Closed
                && self.in_flight.is_empty()
                && self.outbox.is_empty()
            {
                return Poll::Ready(Stop::Drained);
            }
            match self.poll_write(cx, &mut may_recv) {
                Poll::Ready(Err(())) => return Poll::Ready(Stop::SocketGone),
                Poll::Ready(Ok(sent)) => {
                    written += sent;
                    progress |= sent > 0;
                }
                Poll::Pending => {}
            }
            if written >= MAX_WRITES_PER_POLL {
                // A long burst of pushes: let the other connections of this thread run first.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            // A peer that does not read cannot stop us reading: only the outbox limit does.
            if self.reading != Reading::Closed
                && may_read
                && self.in_flight.len() < self.limits.max_in_flight.max(1)
            {
                match self.socket.poll_next_unpin(cx) {
                    Poll::Pending => {
                        may_read = false;
                        if self.reading == Reading::UntilIdle {
                            let quiet = self.quiet.get_or_insert_with(|| {
                                Box::pin(tokio::time::sleep(READ_OUT_QUIET))
                            });
                            if quiet.as_mut().poll(cx).is_ready() {
                                // Everything that arrived before the shutdown is read.
                                self.reading = Reading::Closed;
                                progress = true;
                            }
                        }
                    }
                    Poll::Ready(frame) => {
                        self.quiet = None;
                        self.seen = true;
                        progress = true;
                        match frame {
                            None | Some(Ok(Frame::Close(_))) => {
                                self.peer_closed = true;
                                return Poll::Ready(self.stop(close_code::NORMAL, ""));
                            }
                            Some(Err(err)) => {
                                if let Some(reason) = close_reason_for(&err) {
                                    tracing::debug!(error = %err, code = reason.code, "read failed");
                                    self.close.send_replace(Some(reason));
                                }
                                return Poll::Ready(self.stop(close_code::NORMAL, ""));
                            }
                            Some(Ok(frame @ (Frame::Text(_) | Frame::Binary(_)))) => {
                                count_message_received();
                                self.in_flight.push((self.dispatch)(frame));
                            }
                            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
                        }
                    }
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Hands queued frames to the socket (the outbox, then pushes) and flushes. `Ok(n)`: `n`
    /// frames went out; `Pending` while the socket cannot take more.
    ///
    /// Pushes stay in their channel until the socket takes them: a peer that does not read
    /// fills it, and the hub closes the connection as a slow consumer.
    fn poll_write(&mut self, cx: &mut Context<'_>, may_recv: &mut bool) -> Poll<Result<usize, ()>> {
        let mut sent = 0;
        while sent < MAX_BATCH {
            match self.socket.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Err(())),
                Poll::Pending => break,
            }
            let frame = match self.outbox.pop_front() {
                Some(frame) => frame,
                // `try_recv` first: it skips the task budget and waker bookkeeping of
                // `poll_recv`, which is only needed once per wake, to register for the next push.
                None => match self.pushes.try_recv() {
                    Ok(push) => into_frame(self.codec, push),
                    Err(_) if !*may_recv => break,
                    Err(_) => match self.pushes.poll_recv(cx) {
                        Poll::Ready(Some(push)) => into_frame(self.codec, push),
                        Poll::Ready(None) | Poll::Pending => {
                            *may_recv = false;
                            break;
                        }
                    },
                },
            };
            if !matches!(frame, Frame::Ping(_)) {
                count_message_sent();
            }
            if self.socket.start_send_unpin(frame).is_err() {
                return Poll::Ready(Err(()));
            }
            sent += 1;
        }
        self.unflushed += sent;
        if self.unflushed == 0 {
            return Poll::Ready(Ok(0));
        }
        match self.socket.poll_flush_unpin(cx) {
            Poll::Ready(Ok(())) => {
                self.unflushed = 0;
                Poll::Ready(Ok(sent))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(())),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sets the close reason unless one is set already, and stops.
    fn stop(&self, code: u16, reason: &'static str) -> Stop {
        self.close.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(CloseReason::new(code, reason));
                true
            } else {
                false
            }
        });
        Stop::Close
    }

    /// Everything after the loop: the last frames (unless we are dropping a slow consumer),
    /// then the close handshake ([`close_socket`]).
    pub(super) async fn close(&mut self, reason: CloseReason) {
        if reason != CloseReason::slow_consumer() {
            let flush = async {
                while let Ok(push) = self.pushes.try_recv() {
                    self.outbox.push_back(into_frame(self.codec, push));
                }
                while let Some(frame) = self.outbox.pop_front() {
                    self.socket.feed(frame).await?;
                }
                self.socket.flush().await
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, flush).await;
        }
        let linger = if self.peer_closed {
            Duration::ZERO
        } else {
            self.limits.close_linger
        };
        close_socket(&mut self.socket, reason, linger).await;
    }
}

fn into_frame<C: Codec>(codec: C, message: Outbound) -> Frame {
    match message {
        Outbound::Text(bytes) => Frame::Text(bytes),
        Outbound::Binary(bytes) => Frame::Binary(bytes),
        Outbound::Push(push) => codec.push(&push),
    }
}

/// The close frame a read error calls for (RFC 6455 section 7.4.1); `None` when the socket is
/// simply gone.
pub(super) fn close_reason_for(err: &SocketError) -> Option<CloseReason> {
    match err {
        SocketError::TooBig => Some(CloseReason::new(close_code::TOO_BIG, "message too big")),
        // `CloseReason::new` cuts the library's text to what a close frame holds.
        SocketError::Protocol(what) => {
            Some(CloseReason::new(close_code::PROTOCOL_ERROR, what.clone()))
        }
        SocketError::InvalidUtf8 => Some(CloseReason::new(
            close_code::INVALID_PAYLOAD,
            "invalid UTF-8 in a text message",
        )),
        SocketError::Closed(_) => None,
    }
}

/// The server's side of the close handshake: sends the close frame (within [`CLOSE_TIMEOUT`]),
/// then reads and discards until the peer's close frame, the end of the stream, or `linger`.
///
/// Reading on is what makes the close reach the peer: a socket dropped with unread bytes in
/// its receive buffer is reset by the kernel, and a reset discards the answers and the close
/// frame the peer has not read yet. What arrives meanwhile is not run (RFC 6455: nothing but
/// the close frame follows a close frame).
pub(super) async fn close_socket<S>(socket: &mut S, reason: CloseReason, linger: Duration)
where
    S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin,
{
    let send = async {
        socket.send(Frame::Close(Some(reason))).await?;
        socket.close().await
    };
    if !matches!(tokio::time::timeout(CLOSE_TIMEOUT, send).await, Ok(Ok(()))) {
        return;
    }
    let discard = async {
        while let Some(Ok(frame)) = socket.next().await {
            if matches!(frame, Frame::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(linger, discard).await;
}

fn count_message_received() {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_messages_received_total").increment(1);
}

fn count_message_sent() {
    #[cfg(feature = "metrics")]
    metrics::counter!("ws_messages_sent_total").increment(1);
}
