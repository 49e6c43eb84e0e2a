//! The loop of an open connection: read frames, run requests, write answers and pushes, ping,
//! and stop on a close signal, a shutdown, an expired token or a gone peer.
//!
//! It is one hand-polled future that owns the socket, rather than a reader and a writer joined
//! together: an answer is written in the same poll that produced it (no channel hop, no wake of
//! the task by itself), the socket is not split behind a lock, and the close and shutdown
//! signals are polled once per wake instead of once per frame.
//!
//! # Invariants
//!
//! What a change here must keep (each has a test in `tests/driver.rs`, `tests/ws.rs` or
//! `tests/ws_closing.rs`):
//!
//! - **One owner.** The driver is the only reader and writer of its socket; a `Driver` is
//!   polled by one task, and [`Driver::run`] is cancel-safe (all state lives in the driver).
//! - **Wakers.** The task is woken only by sources that returned `Pending` in the last wake:
//!   each wake polls the signals and the ticker once, then loops over answers, writes and
//!   reads until none moves ([`Wake`] remembers what already returned `Pending`). Reading is
//!   skipped while the in-flight slots are full; an answer frees a slot and wakes the task.
//!   The only self-wake is the write budget ([`MAX_WRITES_PER_POLL`]).
//! - **Order.** Frames leave in outbox order, the outbox before the hub's channel. A request's
//!   pushes (queued while it ran) precede its answer; answers leave in completion order (in
//!   request order with `max_in_flight = 1`); the close frame is last.
//! - **Bounds.** At most `max_in_flight` requests run; the hub's channel holds at most
//!   `outbound_queue` pushes and the outbox reaching `outbound_queue` frames closes the
//!   connection as a slow consumer: a peer that does not read costs bounded memory.
//! - **Shutdown.** Reading goes `Open -> UntilIdle -> Closed` ([`Reading`]): a request is read,
//!   run and answered before the 1001 close frame, or never read. After any close frame the
//!   socket is read and discarded until the peer's close frame or the linger
//!   ([`close_socket`]), so no reset destroys what was sent.

use super::codec::{Answer, WireCodec};
use super::endpoint::Endpoint;
use super::frame::{Frame, SocketError};
use super::in_flight::InFlight;
use super::shared_limits::{RateCheck, Verdict, ask};
use crate::envelope::ResponseModel;
use crate::hub::queue;
use crate::hub::signal::ConnectionSignal;
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

impl<C: WireCodec> Dispatcher<'_, C> {
    /// Handles one data frame: rate limit, transport timeout, dispatch. The flag tells whether
    /// the frame was malformed.
    pub(super) async fn dispatch(&self, frame: Frame) -> Answer {
        let (wait, msg) = match self.rate().await {
            Rate::Allowed => (None, ""),
            Rate::Limited(wait) => (Some(wait), "Rate limit exceeded"),
            // Fail-closed while the shared store is away: the client retries in a second.
            Rate::Unavailable => (Some(Duration::from_secs(1)), "Rate limit unavailable"),
        };
        if let Some(wait) = wait {
            #[cfg(feature = "metrics")]
            metrics::counter!("rate_limit_hits_total").increment(1);
            let (pkg_id, req_id) = self.codec.ids(&frame);
            tracing::debug!(pkg_id, %req_id, retry_after_ms = wait.as_millis() as u64, "rate limited");
            let reply = ResponseModel::error(
                pkg_id,
                req_id,
                RspCode::Error,
                error_code::RATE_LIMITED,
                msg,
                Some(json!({ "retry_after_ms": wait.as_millis().max(1) as u64 })),
            );
            return Answer {
                frame: self.codec.encode(&reply),
                malformed: false,
            };
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
                Answer {
                    frame: self.codec.encode(&reply),
                    malformed: false,
                }
            }
        }
    }
}

/// The rate limit's answer for one request.
enum Rate {
    Allowed,
    Limited(Duration),
    /// The shared store is away and fails closed.
    Unavailable,
}

impl<C> Dispatcher<'_, C> {
    /// Checks the rate limit: the shared one for an authenticated principal when the endpoint
    /// has [`SharedLimits`](super::SharedLimits) that share it (falling back to the local one
    /// when its store is away and fails open), else the local one.
    async fn rate(&self) -> Rate {
        let endpoint = self.endpoint;
        if let (Some(limits), Some(limit)) = (&endpoint.shared_limits, endpoint.config.rate_limit)
            && limits.shares_rate_limit()
            && !self.session.principal().is_anonymous()
        {
            match ask(
                &**limits,
                "rate",
                limits.check_rate(&self.limiter_key, limit),
            )
            .await
            {
                Verdict::Answer(RateCheck::Limited { retry_after }) => {
                    return Rate::Limited(retry_after);
                }
                Verdict::Answer(_) => return Rate::Allowed,
                Verdict::Refuse => return Rate::Unavailable,
                Verdict::FallBack => {}
            }
        }
        match &endpoint.limiter {
            Some(limiter) => match limiter.check(&self.limiter_key) {
                Ok(()) => Rate::Allowed,
                Err(wait) => Rate::Limited(wait),
            },
            None => Rate::Allowed,
        }
    }
}

/// What one wake of the loop learned about its sources: once a poll returned `Pending` (and
/// so registered the wake-up), polling again in the same wake is wasted work.
struct Wake {
    /// The socket may hold more frames.
    may_read: bool,
    /// The hub's channel may hold more pushes (`try_recv` is enough once `poll_recv` was
    /// `Pending`).
    may_recv: bool,
}

impl Default for Wake {
    fn default() -> Self {
        Self {
            may_read: true,
            may_recv: true,
        }
    }
}

/// Writing to the socket failed: nothing more can be sent.
#[derive(Debug)]
struct SocketGone;

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
    pushes: queue::Receiver,
    /// Frames waiting for the socket ahead of `pushes`: answers (with the pushes queued before
    /// them, to keep their order), pings.
    outbox: VecDeque<Frame>,
    /// Frames handed to the socket since its last flush.
    unflushed: usize,
    /// The close signal: set by us, by the hub, or by whoever kicks the connection.
    close: &'d ConnectionSignal,
    expiry: Option<Pin<Box<Sleep>>>,
    ticker: Interval,
    /// When a frame was last seen, to the tick; `seen`: a frame came since the last tick.
    last_seen: Instant,
    seen: bool,
    /// A request started since the last tick (the in-flight slot is released after a quiet
    /// interval).
    requested: bool,
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
    /// Close and shutdown, from the hub or from this loop.
    pub(super) signal: &'d ConnectionSignal,
    pub(super) expiry: Option<Instant>,
}

impl<'d, C, S, D, F> Driver<'d, C, S, D, F>
where
    C: WireCodec,
    S: Stream<Item = Result<Frame, SocketError>> + Sink<Frame, Error = SocketError> + Unpin,
    D: Fn(Frame) -> F,
    F: Future<Output = Answer>,
{
    pub(super) fn new(
        codec: C,
        socket: S,
        dispatch: D,
        pushes: queue::Receiver,
        signals: Signals<'d>,
        limits: Limits,
    ) -> Self {
        // A signal already given when the loop starts counts at once: the flags are read
        // at every wake, the first one included.
        let Signals {
            signal: close,
            expiry,
        } = signals;
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
            expiry: expiry.map(|at| Box::pin(tokio::time::sleep_until(at))),
            ticker,
            last_seen: Instant::now(),
            seen: false,
            requested: false,
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
            self.close.close(CloseReason::going_away());
            return Stop::Close;
        }
        stop
    }

    /// One wake of the loop. The steps, in order:
    ///
    /// 1. [`poll_signals`](Self::poll_signals): close, shutdown, token expiry;
    /// 2. [`poll_keepalive`](Self::poll_keepalive): pings, and the idle limit;
    /// 3. until nothing moves: [`collect_answers`](Self::collect_answers) (finished
    ///    requests, with the pushes queued while they ran), [`poll_write`](Self::poll_write)
    ///    (outbox, then pushes, one flush), [`read_requests`](Self::read_requests) (new
    ///    requests, while in-flight slots are free).
    ///
    /// Waker rule: the task is woken only by what returned `Pending` in this wake, so every
    /// source that can make progress is polled until it returns `Pending` (or is deliberately
    /// skipped: reading while the in-flight slots are full, which an answer wakes). The one
    /// exception is the write budget ([`MAX_WRITES_PER_POLL`]): the task wakes itself and
    /// yields, so a long burst does not starve the other connections of its thread.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Stop> {
        if let Some(stop) = self.poll_signals(cx) {
            return Poll::Ready(stop);
        }
        if let Some(stop) = self.poll_keepalive(cx) {
            return Poll::Ready(stop);
        }
        let mut wake = Wake::default();
        let mut written = 0;
        loop {
            let mut progress = match self.collect_answers(cx) {
                Ok(progress) => progress,
                Err(stop) => return Poll::Ready(stop),
            };
            if self.reading == Reading::Closed
                && self.in_flight.is_empty()
                && self.outbox.is_empty()
            {
                return Poll::Ready(Stop::Drained);
            }
            match self.poll_write(cx, &mut wake) {
                Poll::Ready(Err(SocketGone)) => return Poll::Ready(Stop::SocketGone),
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
            match self.read_requests(cx, &mut wake) {
                Ok(read) => progress |= read,
                Err(stop) => return Poll::Ready(stop),
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Step 1: the close signal, the shutdown signal (only while reading is open) and the
    /// token's expiry. They registered their wakers; polling them once per wake is enough.
    fn poll_signals(&mut self, cx: &mut Context<'_>) -> Option<Stop> {
        self.close.register(cx.waker());
        if self.close.is_closing() {
            return Some(Stop::Close);
        }
        if self.reading == Reading::Open && self.close.is_shutting_down() {
            return Some(Stop::Shutdown);
        }
        if let Some(expiry) = &mut self.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            return Some(self.stop(close_code::AUTH_FAILED, "token expired"));
        }
        None
    }

    /// Step 2: queues a ping at each tick, and stops a peer silent for longer than the ping
    /// interval plus the pong timeout.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> Option<Stop> {
        // Until `Pending`: that poll registers the wake-up for the next tick.
        while let Poll::Ready(tick) = self.ticker.poll_tick(cx) {
            // While every in-flight slot is taken we do not read, so the peer's pongs wait
            // unread: its silence is ours, not a sign of a dead peer.
            let paused = self.in_flight.len() >= self.limits.max_in_flight.max(1);
            // Frames since the last tick count as seen now: no clock read per frame, at the
            // price of dropping a silent peer up to one interval later.
            if std::mem::take(&mut self.seen) || paused {
                self.last_seen = tick;
            }
            let idle = tick.saturating_duration_since(self.last_seen);
            if idle > self.limits.ping_interval + self.limits.pong_timeout {
                tracing::info!(idle_ms = idle.as_millis() as u64, "keepalive timeout");
                return Some(self.stop(close_code::POLICY, "keepalive timeout"));
            }
            self.outbox.push_back(Frame::Ping(Bytes::new()));
            // A whole interval without a request: give back the request slot (over a
            // kilobyte) until the next one; busy connections keep reusing it.
            if !std::mem::take(&mut self.requested) {
                self.in_flight.release_if_idle();
            }
        }
        None
    }

    /// Step 3a: moves every finished request's answer to the outbox. `Ok(true)` if any did.
    ///
    /// Ordering guarantee: the pushes a request queued while it ran go out before its answer,
    /// as queued (a client that sees the answer has seen the request's pushes).
    fn collect_answers(&mut self, cx: &mut Context<'_>) -> Result<bool, Stop> {
        let mut progress = false;
        // Answers first: they free in-flight slots and go out with this flush.
        while let Poll::Ready(Some(answer)) = self.in_flight.poll_next_unpin(cx) {
            progress = true;
            self.malformed = if answer.malformed {
                self.malformed + 1
            } else {
                0
            };
            while let Some(push) = self.pushes.try_recv() {
                self.outbox.push_back(into_frame(&self.codec, push));
            }
            if self.outbox.len() >= self.limits.outbound_queue {
                tracing::warn!("outbound queue full: closing slow consumer");
                self.close.close(CloseReason::slow_consumer());
                return Err(Stop::Close);
            }
            self.outbox.push_back(into_frame(&self.codec, answer.frame));
            if self.limits.max_malformed > 0 && self.malformed >= self.limits.max_malformed {
                return Err(self.stop(close_code::POLICY, "too many malformed frames"));
            }
        }
        Ok(progress)
    }

    /// Step 3c: reads one frame and starts its request, unless reading is closed, the socket
    /// was found empty in this wake, or every in-flight slot is taken (a peer that does not
    /// read cannot stop us reading: only the outbox limit does). `Ok(true)` if it read.
    fn read_requests(&mut self, cx: &mut Context<'_>, wake: &mut Wake) -> Result<bool, Stop> {
        if self.reading == Reading::Closed
            || !wake.may_read
            || self.in_flight.len() >= self.limits.max_in_flight.max(1)
        {
            return Ok(false);
        }
        let frame = match self.socket.poll_next_unpin(cx) {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                wake.may_read = false;
                return Ok(self.reading == Reading::UntilIdle && self.poll_quiet(cx));
            }
        };
        self.quiet = None;
        self.seen = true;
        match frame {
            None | Some(Ok(Frame::Close(_))) => {
                self.peer_closed = true;
                Err(self.stop(close_code::NORMAL, ""))
            }
            Some(Err(err)) => {
                if let Some(reason) = close_reason_for(&err) {
                    tracing::debug!(error = %err, code = reason.code, "read failed");
                    self.close.close(reason);
                }
                Err(self.stop(close_code::NORMAL, ""))
            }
            Some(Ok(frame @ (Frame::Text(_) | Frame::Binary(_)))) => {
                count_message_received();
                self.in_flight.push((self.dispatch)(frame));
                self.requested = true;
                Ok(true)
            }
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => Ok(true),
        }
    }

    /// While shutting down (`UntilIdle`), after a read found the socket empty: whether it has
    /// stayed empty for [`READ_OUT_QUIET`], which closes reading.
    fn poll_quiet(&mut self, cx: &mut Context<'_>) -> bool {
        let quiet = self
            .quiet
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(READ_OUT_QUIET)));
        if quiet.as_mut().poll(cx).is_ready() {
            // Everything that arrived before the shutdown is read.
            self.reading = Reading::Closed;
            return true;
        }
        false
    }

    /// Hands queued frames to the socket (the outbox, then pushes) and flushes. `Ok(n)`: `n`
    /// frames went out; `Pending` while the socket cannot take more.
    ///
    /// Pushes stay in their channel until the socket takes them: a peer that does not read
    /// fills it, and the hub closes the connection as a slow consumer.
    ///
    /// Ordering guarantee: frames leave in the order they entered the outbox, and the outbox
    /// (answers, with the pushes queued before them; pings) goes before the hub's channel.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        wake: &mut Wake,
    ) -> Poll<Result<usize, SocketGone>> {
        let mut sent = 0;
        while sent < MAX_BATCH {
            match self.socket.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Err(SocketGone)),
                Poll::Pending => break,
            }
            let frame = match self.outbox.pop_front() {
                Some(frame) => frame,
                // `try_recv` first: it skips the task budget and waker bookkeeping of
                // `poll_recv`, which is only needed once per wake, to register for the next push.
                None => match self.pushes.try_recv() {
                    Some(push) => into_frame(&self.codec, push),
                    None if !wake.may_recv => break,
                    None => match self.pushes.poll_recv(cx) {
                        Poll::Ready(Some(push)) => into_frame(&self.codec, push),
                        Poll::Ready(None) | Poll::Pending => {
                            wake.may_recv = false;
                            break;
                        }
                    },
                },
            };
            if !matches!(frame, Frame::Ping(_)) {
                count_message_sent();
            }
            if self.socket.start_send_unpin(frame).is_err() {
                return Poll::Ready(Err(SocketGone));
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
            Poll::Ready(Err(_)) => Poll::Ready(Err(SocketGone)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sets the close reason unless one is set already, and stops.
    fn stop(&self, code: u16, reason: &'static str) -> Stop {
        self.close.close_if_open(CloseReason::new(code, reason));
        Stop::Close
    }

    /// Everything after the loop: the last frames (unless we are dropping a slow consumer),
    /// then the close handshake ([`close_socket`]).
    pub(super) async fn close(&mut self, reason: CloseReason) {
        if reason != CloseReason::slow_consumer() {
            let flush = async {
                while let Some(push) = self.pushes.try_recv() {
                    self.outbox.push_back(into_frame(&self.codec, push));
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

fn into_frame<C: WireCodec>(codec: &C, message: Outbound) -> Frame {
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
